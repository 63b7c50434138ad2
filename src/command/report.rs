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
        tz: project.map_or(chrono_tz::UTC, |p| project_tz(settings, p)),
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

/// The project's `notify.timezone`; UTC when it has none (or cannot be loaded: the journal
/// still names the project, and the report is worth printing).
fn project_tz(settings: &Settings, project: &str) -> chrono_tz::Tz {
    match settings.dir.project(project) {
        Ok(p) => p.notify.timezone.map_or(chrono_tz::UTC, |t| t.0),
        Err(e) => {
            tracing::debug!("report in UTC: cannot load project `{project}`: {e}");
            chrono_tz::UTC
        }
    }
}

/// A short plain-text summary of `project`'s last `window`, hours in `tz` (for the daemon's
/// daily chat message).
pub(super) fn daily_summary(
    state_dir: &Path,
    window: Duration,
    project: &str,
    tz: chrono_tz::Tz,
) -> Result<String, ReportError> {
    let r = report::aggregate_last(state_dir, window, Some(project), tz)?;
    Ok(summary_text(&r, window))
}
