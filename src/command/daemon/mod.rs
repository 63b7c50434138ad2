//! `vauto daemon`: runs every spec's schedules, capacity hunts and the daily report until stopped.
//!
//! A spec's `schedules:` and `hunt:` apply to every project whose provider the spec fits;
//! `vauto daemon --project P [--spec S]` restricts the daemon to one project (and spec).
//! Actions run through the same code as the command line (see [`invoke`]), so the run lock
//! keeps a schedule, a hunt and a manual run off the same spec at once.
//!
//! The rooms: [`setup`] loads projects and specs into jobs, [`scheduler`] decides when
//! they run, [`job`] runs one schedule or daily report, [`hunt`] keeps deploying until
//! capacity turns up, [`invoke`] starts an action, [`metrics`] counts, [`server`] serves
//! `/healthz` and `/metrics`.

mod hunt;
mod invoke;
mod job;
mod metrics;
mod scheduler;
mod server;
mod setup;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Invocation, RunOptions, Settings};
use crate::error::Error;
use crate::ops::lock::RunLock;
use crate::ui::output::Format;

pub(crate) use metrics::Metrics;

/// Whose daily report it is: the project it goes to, and the zone its hours are told in.
#[derive(Clone, Copy)]
pub(crate) struct DailyScope<'a> {
    /// The project (each project's receivers get its own numbers only).
    pub project: &'a str,
    /// The project's `notify.timezone` (else UTC).
    pub tz: chrono_tz::Tz,
}

/// The text of the daily report, given the state directory and the start of the period.
/// The journal's summary plugs in here; [`Metrics`] is the built-in fallback.
pub(crate) trait DailySummary: Send + Sync {
    /// The report text.
    fn summary(
        &self,
        state_dir: &Path,
        since: DateTime<Utc>,
        scope: DailyScope<'_>,
    ) -> Result<String, String>;
}

impl<F> DailySummary for F
where
    F: Fn(&Path, DateTime<Utc>, DailyScope<'_>) -> Result<String, String> + Send + Sync,
{
    fn summary(
        &self,
        state_dir: &Path,
        since: DateTime<Utc>,
        scope: DailyScope<'_>,
    ) -> Result<String, String> {
        self(state_dir, since, scope)
    }
}

/// What the daemon runs from: the settings of its scheduled actions and its own options.
struct Ctx {
    /// Settings for the scheduled actions (always table output).
    settings: Settings,
    /// `--project`: only this project.
    project: Option<String>,
    /// `--spec`: only this spec.
    spec: Option<String>,
    /// `--once`: run what is due, then exit.
    once: bool,
    /// `--listen`: serve /healthz and /metrics.
    listen: Option<String>,
    /// Options every scheduled action runs with.
    options: RunOptions,
}

/// Runs the daemon `invocation` describes; `summary` supplies the daily report text
/// (default: the daemon's counters).
pub(crate) async fn run_with(
    settings: &Settings,
    invocation: &Invocation,
    summary: Option<&dyn DailySummary>,
) -> Result<u8, Error> {
    let Invocation::Daemon {
        project,
        spec,
        once,
        listen,
        options,
    } = invocation
    else {
        return Err(Error::Usage(format!(
            "`{}` is not `daemon`",
            invocation.action()
        )));
    };
    let ctx = &Ctx {
        settings: Settings {
            output: Format::Table,
            ..settings.clone()
        },
        project: project.clone(),
        spec: spec.clone(),
        once: *once,
        listen: listen.clone(),
        options: options.clone(),
    };
    let setup = setup::load(ctx)?;
    // Open the log file before the first look at the schedules, so a missed run is in it
    // (otherwise it opens only when the first action runs).
    super::open_logs(&ctx.settings, setup.projects.first().map(|p| &p.project));
    // One daemon per state directory (and project filter): two would run each schedule twice.
    let _daemon_lock = RunLock::acquire(
        &ctx.settings.state_dir,
        "daemon",
        ctx.project.as_deref().unwrap_or("all"),
    )?;
    let metrics = Arc::new(Metrics::new());
    let summary: &dyn DailySummary = match summary {
        Some(s) => s,
        None => &*metrics,
    };
    if let Some(addr) = &ctx.listen {
        server::serve(addr, metrics.clone()).await?;
        say(&format!("serving /healthz and /metrics on http://{addr}"));
    }
    let daemon = scheduler::Daemon {
        ctx,
        setup: &setup,
        metrics: &metrics,
        summary,
    };
    daemon.run().await
}

/// One line on stdout (the daemon's activity log) and in the log file.
fn say(msg: &str) {
    println!(
        "{} {msg}",
        Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    tracing::info!("{msg}");
}
