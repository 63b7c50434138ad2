//! Diagnostic logging: stderr plus daily `logs/YYYY-MM-DD.log` files, with `RUST_LOG`-style filters.
//!
//! The stderr layer is installed before anything is loaded; the file layer writes nowhere
//! until [`open_log_dir`] names a directory (once the project, and so `logs.dir`, is known).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The current daily file, once a log directory is known; replaceable (the daemon may open another).
fn slot() -> &'static Mutex<Option<(PathBuf, RollingFileAppender)>> {
    static SLOT: OnceLock<Mutex<Option<(PathBuf, RollingFileAppender)>>> = OnceLock::new();
    SLOT.get_or_init(|| Mutex::new(None))
}

/// Writes to the daily file when one is open, else discards.
#[derive(Clone, Copy)]
struct FileSink;

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match slot().lock() {
            Ok(mut g) => match g.as_mut() {
                // One write per formatted event: lines from threads do not interleave.
                Some((_, f)) => f.write_all(buf).map(|()| buf.len()),
                None => Ok(buf.len()),
            },
            Err(_) => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match slot().lock() {
            Ok(mut g) => g.as_mut().map_or(Ok(()), |(_, f)| f.flush()),
            Err(_) => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for FileSink {
    type Writer = FileSink;
    fn make_writer(&'a self) -> FileSink {
        *self
    }
}

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
}

/// Whether to colour a stream: only a terminal, and not when `NO_COLOR` is set to anything
/// but the empty string (<https://no-color.org>). Redirected stderr, `journalctl` and log
/// files get plain text.
fn color(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Installs the loggers: `RUST_LOG` wins for both; else `-v` raises and `-q` lowers the
/// stderr level, and the files get `info` (every attempt and result) or `debug` with `-v`.
pub(crate) fn init(verbose: u8, quiet: bool) {
    let stderr_default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info,vauto=debug",
        (false, _) => "debug",
    };
    let file_default = if verbose > 0 {
        "info,vauto=debug"
    } else {
        "warn,vauto=info"
    };
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(color(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR"),
        ))
        .with_target(false)
        .with_filter(filter(stderr_default));
    let file = tracing_subscriber::fmt::layer()
        .with_writer(FileSink)
        .with_ansi(false)
        .with_target(false)
        .with_filter(filter(file_default));
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
}

/// Starts writing the daily files to `dir` (created if missing) and deletes
/// `YYYY-MM-DD.log` files older than `keep_days` (0 keeps them all).
///
/// Opening the same directory again only prunes; another directory replaces the first.
pub(crate) fn open_log_dir(dir: &Path, keep_days: u32) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    prune(dir, keep_days, chrono::Utc::now().date_naive())?;
    if let Ok(g) = slot().lock()
        && g.as_ref().is_some_and(|(d, _)| d == dir)
    {
        return Ok(());
    }
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_suffix("log")
        .build(dir)
        .map_err(std::io::Error::other)?;
    if let Ok(mut g) = slot().lock() {
        *g = Some((dir.to_path_buf(), appender));
    }
    Ok(())
}

/// Deletes `YYYY-MM-DD.log` files in `dir` dated more than `keep_days` before `today`.
pub(crate) fn prune(
    dir: &Path,
    keep_days: u32,
    today: chrono::NaiveDate,
) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    if keep_days == 0 {
        return Ok(removed);
    }
    let Some(oldest) = today.checked_sub_days(chrono::Days::new(u64::from(keep_days))) else {
        return Ok(removed);
    };
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name();
        let Some(date) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        else {
            continue;
        };
        if date < oldest && e.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::remove_file(e.path())?;
            removed.push(e.path());
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(color(true, None));
        assert!(color(true, Some("".into())));
        assert!(!color(true, Some("1".into())));
        assert!(!color(false, None));
    }

    #[test]
    fn prune_deletes_only_dated_logs_older_than_keep_days() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "2026-11-01.log",
            "2026-11-14.log",
            "2026-11-15.log",
            "2026-11-22.log",
            "notes.log",
            "2026-01-01.txt",
        ] {
            std::fs::write(dir.path().join(f), "x\n").unwrap();
        }
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let mut removed: Vec<String> = prune(dir.path(), 7, today)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        removed.sort();
        assert_eq!(removed, ["2026-11-01.log", "2026-11-14.log"]);
        assert!(dir.path().join("2026-11-15.log").exists());
        assert!(dir.path().join("notes.log").exists());
        assert!(dir.path().join("2026-01-01.txt").exists());
        assert!(prune(dir.path(), 0, today).unwrap().is_empty());
    }
}
