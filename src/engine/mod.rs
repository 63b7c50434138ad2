//! Deploy, delete, status and power actions over any provider, with bounded concurrency and retry.

mod delete;
mod deploy;
pub mod observer;
mod power;
pub mod retry;

pub use delete::delete;
pub use deploy::{DeployOptions, deploy};
pub use power::power;

use serde::Serialize;

use crate::provider::{Outcome, ResourceReport};

/// Counts of each outcome, printed at the end of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// `[SUCCESS]` lines.
    pub success: usize,
    /// `[SKIPPED]` lines.
    pub skipped: usize,
    /// `[FAILED]` lines.
    pub failed: usize,
    /// `[DELETED]` lines.
    pub deleted: usize,
}

impl Summary {
    /// Counts the outcomes of `reports`.
    pub fn of(reports: &[ResourceReport]) -> Summary {
        let mut s = Summary::default();
        for r in reports {
            match r.outcome {
                Outcome::Success => s.success += 1,
                Outcome::Skipped => s.skipped += 1,
                Outcome::Failed => s.failed += 1,
                Outcome::Deleted => s.deleted += 1,
            }
        }
        s
    }
}
