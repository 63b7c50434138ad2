//! The per-project/spec run lock: a second run exits at once (code 3) or waits.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use backon::{ConstantBuilder, Retryable};

/// A held lock; released when dropped (and by the OS if the process dies).
#[derive(Debug)]
pub(crate) struct RunLock {
    file: File,
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    /// Another process holds it.
    #[error("another vauto run holds `{}` (pid {})", path.display(), pid.map_or("unknown".to_string(), |p| p.to_string()))]
    Held {
        /// The lock file.
        path: PathBuf,
        /// The holder's pid, as it wrote it.
        pid: Option<u32>,
    },
    /// The lock file could not be created.
    #[error("cannot create lock file `{}`: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl RunLock {
    /// Takes `<state>/lock/<project>-<spec>.lock` now, or says who holds it.
    pub(crate) fn acquire(
        state_dir: &Path,
        project: &str,
        spec: &str,
    ) -> Result<RunLock, LockError> {
        let dir = state_dir.join("lock");
        let path = dir.join(format!("{project}-{spec}.lock"));
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut s = String::new();
                let _ = file.read_to_string(&mut s);
                return Err(LockError::Held {
                    path,
                    pid: s.trim().parse().ok(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        // Record the holder so a second run can name it.
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(RunLock { file })
    }

    /// [`acquire`](Self::acquire), queueing behind the holder (`--wait-lock`): looks again
    /// every 200 ms without blocking the runtime, for as long as the holder keeps it.
    pub(crate) async fn acquire_waiting(
        state_dir: &Path,
        project: &str,
        spec: &str,
    ) -> Result<RunLock, LockError> {
        let poll = ConstantBuilder::default()
            .with_delay(Duration::from_millis(200))
            .without_max_times();
        (|| async { RunLock::acquire(state_dir, project, spec) })
            .retry(poll)
            .sleep(tokio::time::sleep)
            .when(|e| matches!(e, LockError::Held { .. }))
            .await
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_pid_then_succeeds_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let a = RunLock::acquire(dir.path(), "lab", "web").unwrap();
        match RunLock::acquire(dir.path(), "lab", "web") {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Held, got {other:?}"),
        }
        // Another spec is independent.
        let _b = RunLock::acquire(dir.path(), "lab", "db").unwrap();
        drop(a);
        assert!(RunLock::acquire(dir.path(), "lab", "web").is_ok());
    }
}
