//! `vauto report [PROJECT [SPEC]]` and the daemon's daily summary: attempt statistics from
//! the journal.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Settings;
use crate::error::{Error, exit};
use crate::ops::report::{self, Filter, ReportError};
use crate::ui::output::Format;
use crate::ui::report::{render_table, summary_text};

/// Aggregates the journal over `--since` (default 24h) and prints tables, JSON or YAML.
pub(super) fn report(
    settings: &Settings,
    project: Option<&str>,
    spec: Option<&str>,
    since: DateTime<Utc>,
) -> Result<u8, Error> {
    let filter = Filter {
        project: project.map(String::from),
        spec: spec.map(String::from),
        since,
    };
    let r = report::aggregate(&settings.state_dir, filter).map_err(|e| match e {
        ReportError::Since(_) => Error::Usage(e.to_string()),
        ReportError::Io { .. } => Error::Other(e.to_string()),
    })?;
    match settings.output {
        Format::Table => crate::ui::stdout::write(&render_table(&r)),
        f => crate::ui::output::print_doc(f, &r),
    }
    Ok(exit::OK)
}

/// A short plain-text summary of the last `window` (for the daemon's daily chat message).
pub(super) fn daily_summary(state_dir: &Path, window: Duration) -> Result<String, ReportError> {
    let r = report::aggregate_last(state_dir, window)?;
    Ok(summary_text(&r, window))
}
