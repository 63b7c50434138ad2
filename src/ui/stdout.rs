//! Writing to stdout without panicking when the reader has gone (`vauto … | head`).
//!
//! `print!` panics on a write error. A closed pipe is the reader saying "enough", so vauto
//! ends at once and quietly with 141 (128 + SIGPIPE), what a shell reports for `kubectl` or
//! `seq` killed by SIGPIPE in the same pipe; restoring SIGPIPE itself would need `unsafe`.

use std::io::{ErrorKind, Write};

use crate::error::exit;

/// Writes `text` to stdout and flushes it; on a closed pipe the process ends (exit 141).
pub(crate) fn write(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        failed(&e);
    }
}

/// What to do when stdout cannot be written: quiet on a closed pipe, an error otherwise
/// (a full disk must not look like success).
fn failed(e: &std::io::Error) -> ! {
    if e.kind() == ErrorKind::BrokenPipe {
        std::process::exit(i32::from(exit::BROKEN_PIPE));
    }
    // stderr may be gone too; nothing more can be said then.
    let _ = writeln!(std::io::stderr(), "error: cannot write to stdout: {e}");
    std::process::exit(i32::from(exit::FAILED));
}

/// Ends the process quietly when a `print!`/`eprint!` elsewhere panics on a closed pipe, so
/// no output path shows a backtrace for `| head`; every other panic goes to the usual hook.
pub(crate) fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        // std's words: "failed printing to stdout: Broken pipe (os error 32)".
        if msg.starts_with("failed printing to std") && msg.contains("Broken pipe") {
            std::process::exit(i32::from(exit::BROKEN_PIPE));
        }
        default(info);
    }));
}
