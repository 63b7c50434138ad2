//! A small builder: a temporary config folder, the binary, and assertions on its output.

use std::path::{Path, PathBuf};
use std::process::Output;

/// A runtime for a simulator that tests run beside the `vauto` processes they start.
pub fn sim_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A temporary config directory and a `vauto` command line to run in it.
pub struct Test {
    pub dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
}

/// What the binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Test {
    /// An empty config directory.
    pub fn new() -> Test {
        Test {
            dir: tempfile::tempdir().expect("tempdir"),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
        }
    }

    /// A config directory holding a copy of the repository's projects/, specs/ and templates/.
    pub fn with_examples() -> Test {
        let t = Test::new();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for d in ["projects", "specs", "templates"] {
            copy_dir(&root.join(d), &t.dir.path().join(d));
        }
        t
    }

    /// Writes `text` to `rel` under the config directory.
    pub fn file(self, rel: &str, text: &str) -> Test {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
        self
    }

    /// Writes `text` to `rel` without consuming the test (for later steps).
    pub fn put(&self, rel: &str, text: &str) {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }

    /// Writes raw bytes to `rel`.
    pub fn bytes(self, rel: &str, data: &[u8]) -> Test {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, data).expect("write");
        self
    }

    /// The command line (split on whitespace).
    pub fn args(mut self, line: &str) -> Test {
        self.args = line.split_whitespace().map(String::from).collect();
        self
    }

    /// Runs `line` (another command in the same config directory).
    pub fn cmd(&self, line: &str) -> Run {
        self.cmd_env(line, &[])
    }

    /// Runs `line` with extra environment variables.
    pub fn cmd_env(&self, line: &str, vars: &[(&str, &str)]) -> Run {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        self.run_with(&args, vars)
    }

    /// Sets an environment variable for the run.
    pub fn env(mut self, k: &str, v: &str) -> Test {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Feeds `text` on stdin.
    #[allow(dead_code)]
    pub fn stdin(mut self, text: &str) -> Test {
        self.stdin = Some(text.into());
        self
    }

    /// The config directory.
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Runs the binary in the config directory.
    pub fn run(&self) -> Run {
        self.run_with(&self.args, &[])
    }

    fn run_with(&self, args: &[String], vars: &[(&str, &str)]) -> Run {
        let mut cmd = assert_cmd::Command::cargo_bin("vauto").expect("binary");
        cmd.current_dir(self.dir.path())
            .args(args)
            .env("HOME", self.dir.path())
            .env_remove("KUBECONFIG")
            .env_remove("RUST_LOG")
            .env_remove("VAUTO_STATE_DIR")
            .env_remove("VAUTO_CONFIG_DIR");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
        if let Some(s) = &self.stdin {
            cmd.write_stdin(s.clone());
        }
        let out: Output = cmd.output().expect("run vauto");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    pub fn code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code, expected,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts stderr contains `s`.
    pub fn stderr_has(&self, s: &str) -> &Run {
        assert!(
            self.stderr.contains(s),
            "stderr lacks {s:?}:\n{}",
            self.stderr
        );
        self
    }

    /// Asserts stdout contains `s`.
    pub fn stdout_has(&self, s: &str) -> &Run {
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
