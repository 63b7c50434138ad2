//! stdout and stderr as pipes and files see them: no colour codes, no panic when the reader
//! of a pipe has gone.

use crate::harness::Test;

/// Runs `vauto ARGS` in `t` with stdout a pipe whose read end is already closed, as after
/// `| head` has read its lines; returns (exit code, stderr).
fn into_closed_pipe(t: &Test, args: &str) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vauto"))
        .current_dir(t.path())
        .args(args.split(' '))
        .env("HOME", t.path())
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_pipe_ends_vauto_quietly_with_141() {
    let t = Test::with_examples();
    // Each way vauto writes stdout: a plan document, a table, `validate`, completions, and an
    // action's `println!` (caught by the panic hook).
    for args in [
        "lab web plan -o yaml",
        "lab web plan",
        "lab web plan -o json",
        "validate",
        "completions bash",
        // `stop --dry-run` contacts nothing (a `delete --dry-run` reads the cluster).
        "lab web stop --dry-run",
    ] {
        let (code, stderr) = into_closed_pipe(&t, args);
        assert_eq!((code, stderr.as_str()), (Some(141), ""), "vauto {args}");
    }
}

#[test]
fn warnings_on_redirected_stderr_have_no_colour_codes() {
    let t = Test::with_examples().file("afile", "");
    let run = t
        .cmd("lab web plan --log-dir afile/logs")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    let line = run.raw_stderr.lines().next().unwrap_or_default();
    // `2026-12-01T16:18:26.347225Z  WARN cannot …`: plain text, whatever the time.
    let (_, rest) = line.split_once("Z  ").unwrap_or_default();
    assert_eq!(
        rest, "WARN cannot write log files to `afile/logs`: Not a directory (os error 20)",
        "{:?}",
        run.raw_stderr
    );
    assert!(!run.raw_stderr.contains('\x1b'), "{:?}", run.raw_stderr);
}
