//! A small builder in the style of just's tests: a temporary config folder, the binary, and
//! expectations stated before the run and compared exactly after it.
//!
//! ```ignore
//! Test::new()
//!     .file("projects/p.yaml", "...")
//!     .args("p s plan")
//!     .stderr("error: ...\n")
//!     .status(2)
//!     .run();
//! ```
//!
//! A [`Cmd`] expects exit 0, an empty stdout and an empty stderr unless told otherwise, so any
//! unexpected output fails the test. [`Cmd::run`] panics with a line diff of every stream that
//! differs. A test that must look at a stream itself (parse JSON, take a snapshot, check a
//! line that legitimately varies) says so with [`Cmd::stdout_unchecked`] or
//! [`Cmd::stderr_unchecked`], then reads it from the returned [`Run`].
//!
//! # Normalisation
//!
//! Before comparing, both streams go through [`Normalizer`]. By default it replaces only:
//!
//! - the test's config directory (as given and canonicalised) with `[DIR]`;
//! - the elapsed time of a run summary, `in 1.2s` (digits, a dot, one digit, `s`), with
//!   `in [T]`.
//!
//! Nothing else is rewritten by default: pids, IPs, names and counts stay as printed. A test
//! whose output holds something else that varies from run to run adds a narrow rule of its own,
//! documented where it is defined: for one command with [`Cmd::normalize`] (the AGE column of a
//! status table, the clock in `report`), for every command of a test with [`Test::normalize`]
//! (the random part of the instance OCIDs the OCI simulator draws, in `oci.rs`).

use std::borrow::Cow;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::Output;

use regex::Regex;

/// A runtime for a simulator that tests run beside the `vauto` processes they start.
pub(crate) fn sim_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A temporary config directory, and the environment every command in it runs with.
pub(crate) struct Test {
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    rules: Vec<(Regex, String)>,
}

/// One `vauto` command line in a [`Test`]'s directory, with what it must print.
#[must_use = "a Cmd does nothing until .run()"]
pub(crate) struct Cmd<'a> {
    test: Home<'a>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
    status: i32,
    stdout: Option<String>,
    stderr: Option<String>,
    rules: Vec<(Regex, String)>,
}

/// The test a command runs in: its own (`Test::args`) or borrowed (`Test::cmd`).
enum Home<'a> {
    Owned(Box<Test>),
    Borrowed(&'a Test),
}

impl Deref for Home<'_> {
    type Target = Test;
    fn deref(&self) -> &Test {
        match self {
            Home::Owned(t) => t,
            Home::Borrowed(t) => t,
        }
    }
}

/// What the binary did.
pub(crate) struct Run {
    pub code: i32,
    /// stdout after normalisation (what the expectation was compared with).
    pub stdout: String,
    /// stderr after normalisation.
    pub stderr: String,
    /// stdout exactly as printed.
    pub raw_stdout: String,
    /// stderr exactly as printed.
    pub raw_stderr: String,
}

impl Test {
    /// An empty config directory.
    pub(crate) fn new() -> Test {
        Test {
            dir: tempfile::tempdir().expect("tempdir"),
            env: Vec::new(),
            rules: Vec::new(),
        }
    }

    /// A config directory holding a copy of the repository's projects/, specs/ and templates/.
    pub(crate) fn with_examples() -> Test {
        let t = Test::new();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for d in ["projects", "specs", "templates"] {
            copy_dir(&root.join(d), &t.dir.path().join(d));
        }
        t
    }

    /// Writes `text` to `rel` under the config directory.
    pub(crate) fn file(self, rel: &str, text: &str) -> Test {
        self.put(rel, text);
        self
    }

    /// Writes `text` to `rel` without consuming the test (for later steps).
    pub(crate) fn put(&self, rel: &str, text: &str) {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }

    /// Writes raw bytes to `rel`.
    pub(crate) fn bytes(self, rel: &str, data: &[u8]) -> Test {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, data).expect("write");
        self
    }

    /// Sets an environment variable for every command of this test.
    pub(crate) fn env(mut self, k: &str, v: &str) -> Test {
        self.env.push((k.into(), v.into()));
        self
    }

    /// A normalisation rule for every command of this test (see [`Cmd::normalize`]).
    pub(crate) fn normalize(mut self, pattern: &str, replacement: &str) -> Test {
        self.rules.push((regex(pattern), replacement.into()));
        self
    }

    /// Puts an executable `bin/<name>` running `script` (a `/bin/sh` body) under the test
    /// directory, and returns a `PATH` that finds it before the real one.
    #[cfg(unix)]
    pub(crate) fn stand_in(&self, name: &str, script: &str) -> String {
        use std::os::unix::fs::PermissionsExt as _;
        let rel = format!("bin/{name}");
        self.put(&rel, &format!("#!/bin/sh\n{script}"));
        let path = self.dir.path().join(&rel);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// The config directory.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The one command of a single-command test (`line` is split on whitespace).
    pub(crate) fn args(self, line: &str) -> Cmd<'static> {
        Cmd::new(Home::Owned(Box::new(self)), line)
    }

    /// A command in this test's directory; a test may run any number of them.
    pub(crate) fn cmd(&self, line: &str) -> Cmd<'_> {
        Cmd::new(Home::Borrowed(self), line)
    }
}

impl<'a> Cmd<'a> {
    fn new(test: Home<'a>, line: &str) -> Cmd<'a> {
        Cmd {
            test,
            args: line.split_whitespace().map(String::from).collect(),
            env: Vec::new(),
            stdin: None,
            status: 0,
            stdout: Some(String::new()),
            stderr: Some(String::new()),
            rules: Vec::new(),
        }
    }

    /// Sets an environment variable for this command only.
    pub(crate) fn env(mut self, k: &str, v: &str) -> Cmd<'a> {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Feeds `text` on stdin (otherwise stdin is empty and not a terminal).
    pub(crate) fn stdin(mut self, text: &str) -> Cmd<'a> {
        self.stdin = Some(text.into());
        self
    }

    /// The exit code the command must end with (default 0).
    pub(crate) fn status(mut self, code: i32) -> Cmd<'a> {
        self.status = code;
        self
    }

    /// The whole stdout, after normalisation (default: empty).
    pub(crate) fn stdout(mut self, text: impl Into<String>) -> Cmd<'a> {
        self.stdout = Some(text.into());
        self
    }

    /// The whole stderr, after normalisation (default: empty).
    pub(crate) fn stderr(mut self, text: impl Into<String>) -> Cmd<'a> {
        self.stderr = Some(text.into());
        self
    }

    /// stdout is not compared here: the test inspects `Run::stdout` itself.
    pub(crate) fn stdout_unchecked(mut self) -> Cmd<'a> {
        self.stdout = None;
        self
    }

    /// stderr is not compared here: the test inspects `Run::stderr` itself.
    pub(crate) fn stderr_unchecked(mut self) -> Cmd<'a> {
        self.stderr = None;
        self
    }

    /// One more normalisation rule for this command: every match of `pattern` becomes
    /// `replacement` (regex syntax, `$1` refers to a group). Keep patterns narrow.
    pub(crate) fn normalize(mut self, pattern: &str, replacement: &str) -> Cmd<'a> {
        self.rules.push((regex(pattern), replacement.into()));
        self
    }

    /// Runs the command and compares everything expected; panics with a diff otherwise.
    pub(crate) fn run(self) -> Run {
        let mut child = self.start();
        let out = collect(&mut child, self.stdin.as_deref());
        self.check(out)
    }

    /// Starts the command and returns at once, for a test that acts while it runs; the
    /// expectations are checked by [`Running::finish`].
    pub(crate) fn spawn(self) -> Running<'a> {
        let child = self.start();
        Running { cmd: self, child }
    }

    fn start(&self) -> std::process::Child {
        use std::process::Stdio;
        let dir = self.test.dir.path();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vauto"));
        cmd.current_dir(dir)
            .args(&self.args)
            .env("HOME", dir)
            .env_remove("KUBECONFIG")
            .env_remove("RUST_LOG")
            .env_remove("VAUTO_STATE_DIR")
            .env_remove("VAUTO_CONFIG_DIR")
            // Help text wraps at COLUMNS; colours could be forced on.
            .env_remove("COLUMNS")
            .env_remove("CLICOLOR_FORCE")
            // stdin is never a terminal: empty unless the test feeds it.
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in self.test.env.iter().chain(&self.env) {
            cmd.env(k, v);
        }
        cmd.spawn().expect("run vauto")
    }

    fn check(&self, out: Output) -> Run {
        let rules: Vec<_> = self.test.rules.iter().chain(&self.rules).cloned().collect();
        let norm = Normalizer::new(self.test.dir.path(), &rules);
        let raw_stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let raw_stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: norm.apply(&raw_stdout),
            stderr: norm.apply(&raw_stderr),
            raw_stdout,
            raw_stderr,
        };
        let mut problems = Vec::new();
        if run.code != self.status {
            problems.push(format!(
                "exit status: expected {}, got {}",
                self.status, run.code
            ));
        }
        for (name, want, got) in [
            ("stdout", &self.stdout, &run.stdout),
            ("stderr", &self.stderr, &run.stderr),
        ] {
            if let Some(want) = want
                && want != got
            {
                problems.push(format!("{name} differs:\n{}", diff(want, got)));
            }
        }
        if !problems.is_empty() {
            panic!(
                "`vauto {}` did not do what was expected\n\n{}\n\n--- stdout (normalised)\n{}\n--- stderr (normalised)\n{}",
                self.args.join(" "),
                problems.join("\n"),
                run.stdout,
                run.stderr
            );
        }
        run
    }
}

/// A command started with [`Cmd::spawn`].
pub(crate) struct Running<'a> {
    cmd: Cmd<'a>,
    child: std::process::Child,
}

impl Running<'_> {
    /// Whether it is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits for it to end and checks the expectations, like [`Cmd::run`].
    pub(crate) fn finish(mut self) -> Run {
        let out = collect(&mut self.child, self.cmd.stdin.as_deref());
        self.cmd.check(out)
    }
}

/// Writes `stdin` (if any) to `child` and closes it, then waits and collects both streams.
fn collect(child: &mut std::process::Child, stdin: Option<&str>) -> Output {
    use std::io::Write;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A vauto that exits without reading closes the pipe: not the test's error.
        let _ = pipe.write_all(text.as_bytes());
    }
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // Read both pipes at once so that neither fills up and blocks the child.
    let err = std::thread::spawn(move || read_all(stderr));
    let out = read_all(stdout);
    let err = err.join().expect("stderr reader");
    let status = child.wait().expect("wait");
    Output {
        status,
        stdout: out,
        stderr: err,
    }
}

fn read_all(pipe: Option<impl std::io::Read>) -> Vec<u8> {
    let mut v = Vec::new();
    if let Some(mut p) = pipe {
        let _ = p.read_to_end(&mut v);
    }
    v
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("bad pattern {pattern:?}: {e}"))
}

/// Rewrites the parts of an output that legitimately differ between runs (see the module doc).
pub(crate) struct Normalizer {
    dirs: Vec<String>,
    rules: Vec<(Regex, String)>,
}

impl Normalizer {
    /// The default rules for config directory `dir`, then `extra`.
    pub(crate) fn new(dir: &Path, extra: &[(Regex, String)]) -> Normalizer {
        let mut dirs = vec![dir.display().to_string()];
        if let Ok(c) = dir.canonicalize() {
            dirs.push(c.display().to_string());
        }
        // The longer first, so that a path and its prefix both become `[DIR]`.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.len()));
        dirs.dedup();
        let mut rules = vec![(
            Regex::new(r"\bin \d+\.\ds\b").expect("regex"),
            "in [T]".to_string(),
        )];
        rules.extend(extra.iter().cloned());
        Normalizer { dirs, rules }
    }

    /// `text` with every rule applied, in order.
    pub(crate) fn apply(&self, text: &str) -> String {
        let mut s = text.to_string();
        for d in &self.dirs {
            s = s.replace(d.as_str(), "[DIR]");
        }
        for (re, to) in &self.rules {
            if let Cow::Owned(o) = re.replace_all(&s, to.as_str()) {
                s = o;
            }
        }
        s
    }
}

/// A unified line diff of `want` against `got`, with invisible line-end differences shown.
fn diff(want: &str, got: &str) -> String {
    let d = similar::TextDiff::from_lines(want, got);
    let mut s = d
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string();
    if want.ends_with('\n') != got.ends_with('\n') {
        s.push_str("(the two differ in the final newline)\n");
    }
    s
}

impl Run {
    /// Asserts (normalised) stderr contains `s`; for a stream the test left unchecked.
    pub(crate) fn stderr_has(&self, s: &str) -> &Run {
        assert!(
            self.stderr.contains(s),
            "stderr lacks {s:?}:\n{}",
            self.stderr
        );
        self
    }

    /// Asserts (normalised) stdout contains `s`; for a stream the test left unchecked.
    pub(crate) fn stdout_has(&self, s: &str) -> &Run {
        assert!(
            self.stdout.contains(s),
            "stdout lacks {s:?}:\n{}",
            self.stdout
        );
        self
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}
