//! The top-level error of a run and its exit code.

use crate::config::ConfigErrors;
use crate::model::ProviderError;
use crate::ops::lock::LockError;

/// Exit codes: 0 all good, 1 some resource failed, 2 bad usage or config, 3 locked, 130 interrupted.
pub(crate) mod exit {
    /// Everything succeeded or was skipped.
    pub(crate) const OK: u8 = 0;
    /// At least one resource failed.
    pub(crate) const FAILED: u8 = 1;
    /// Bad usage or bad configuration.
    pub(crate) const USAGE: u8 = 2;
    /// Another run holds the lock.
    pub(crate) const LOCKED: u8 = 3;
    /// Interrupted by a signal.
    pub(crate) const INTERRUPTED: u8 = 130;
    /// stdout was a pipe whose reader closed it (`| head`): 128 + SIGPIPE, as a shell reports
    /// for tools that SIGPIPE ends.
    pub(crate) const BROKEN_PIPE: u8 = 141;
}

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The command line is wrong.
    #[error("{0}")]
    Usage(String),
    /// One or more configuration problems.
    #[error("{0}")]
    Config(ConfigErrors),
    /// Another run holds the lock.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// The backend refused or failed as a whole (listing, connecting).
    #[error("{0}")]
    Provider(#[from] ProviderError),
    /// Ctrl-C or SIGTERM.
    #[error("interrupted")]
    Interrupted,
    /// Anything else (I/O on local files).
    #[error("{0}")]
    Other(String),
}

impl From<ConfigErrors> for Error {
    fn from(e: ConfigErrors) -> Self {
        Error::Config(e)
    }
}

impl From<crate::config::ConfigError> for Error {
    fn from(e: crate::config::ConfigError) -> Self {
        Error::Config(e.into())
    }
}

impl Error {
    /// The process exit code for this error.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Config(_) => exit::USAGE,
            Error::Locked(LockError::Held { .. }) => exit::LOCKED,
            Error::Interrupted => exit::INTERRUPTED,
            Error::Locked(_) | Error::Provider(_) | Error::Other(_) => exit::FAILED,
        }
    }

    /// The lines `main` prints: `error: …` then `caused by: …` / hints.
    pub(crate) fn lines(&self) -> Vec<String> {
        match self {
            Error::Config(errs) => errs.0.iter().map(|e| format!("error: {e}")).collect(),
            Error::Locked(LockError::Held { path, .. }) => {
                let daemon = path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("daemon-"));
                let hint = if daemon {
                    "hint: one `vauto daemon` per state directory runs every schedule; stop the other one first"
                } else {
                    "hint: wait for it to finish, or pass --wait-lock to queue behind it"
                };
                vec![format!("error: {self}"), hint.into()]
            }
            Error::Provider(p) => vec![format!("error: {} ({})", p.message, p.class)],
            _ => {
                let mut v = vec![format!("error: {self}")];
                let mut src = std::error::Error::source(self);
                while let Some(s) = src {
                    v.push(format!("caused by: {s}"));
                    src = s.source();
                }
                v
            }
        }
    }
}
