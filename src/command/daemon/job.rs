//! Runs one timed job: a scheduled action (waiting for a held lock) or the daily report.

use std::collections::BTreeMap;
use std::time::Duration;

use backon::{ConstantBuilder, Retryable};
use chrono::Utc;

use super::super::actions::Ended;
use super::Ctx;
use super::invoke::{Call, Deadline};
use super::metrics::Metrics;
use super::setup::{Kind, ProjectRt, Timed};
use super::{DailySummary, say};
use crate::error::Error;
use crate::model::Action;
use crate::ops::lock::LockError;

/// How long a scheduled action waits for another run's lock before it is skipped.
const LOCK_WAIT: Duration = Duration::from_secs(900);
/// How often a scheduled action looks again at a lock another run holds.
const LOCK_POLL: Duration = Duration::from_secs(2);
/// Without `--deadline`, how long one scheduled deploy keeps trying for capacity.
const SCHEDULED_DEPLOY_DEADLINE: Duration = Duration::from_secs(3600);

/// Runs one schedule or daily report; `false` when it failed.
pub(super) async fn run(
    ctx: &Ctx,
    pr: &ProjectRt,
    job: &Timed,
    metrics: &Metrics,
    summary: &dyn DailySummary,
) -> bool {
    match &job.kind {
        Kind::Daily => daily(ctx, pr, summary),
        Kind::Action { spec, action, .. } => scheduled(ctx, pr, job, spec, *action, metrics).await,
    }
}

/// Builds the daily report and sends it.
fn daily(ctx: &Ctx, pr: &ProjectRt, summary: &dyn DailySummary) -> bool {
    let pname = pr.project.name.0.as_str();
    let since = Utc::now() - chrono::Duration::hours(24);
    let scope = super::DailyScope {
        project: pname,
        tz: pr.project.notify.timezone.map_or(chrono_tz::UTC, |t| t.0),
    };
    match summary.summary(&ctx.settings.state_dir, since, scope) {
        Ok(text) => {
            pr.notifier
                .send("daily_report", None, text.clone(), BTreeMap::new());
            say(&format!("{pname}: daily report\n{text}"));
            true
        }
        Err(e) => {
            tracing::warn!("{pname}: cannot build the daily report: {e}");
            false
        }
    }
}

/// Runs a scheduled action, logs, counts and notifies its result.
async fn scheduled(
    ctx: &Ctx,
    pr: &ProjectRt,
    job: &Timed,
    spec: &str,
    action: Action,
    metrics: &Metrics,
) -> bool {
    let pname = pr.project.name.0.as_str();
    let word = action.as_str();
    say(&format!(
        "{pname}/{spec}: scheduled {word} (cron `{}`, {})",
        job.cron.text,
        job.tz.name()
    ));
    let deadline = match action {
        Action::Deploy => Deadline::Default(SCHEDULED_DEPLOY_DEADLINE),
        _ => Deadline::Inherit,
    };
    let call = Call::new(
        ctx,
        (&pr.project, spec),
        action,
        deadline,
        (metrics, &pr.notifier),
    );
    let result = run_waiting(&call, pname, spec).await;
    let (label, outcome) = describe(&result);
    metrics.schedule_run(pname, spec, word, label);
    say(&format!("{pname}/{spec}: scheduled {word} {outcome}"));
    let mut details = BTreeMap::new();
    details.insert("action".to_string(), word.to_string());
    details.insert("cron".to_string(), job.cron.text.clone());
    details.insert("timezone".to_string(), job.tz.name().to_string());
    details.insert("result".to_string(), label.to_string());
    pr.notifier.for_run(Some(spec), word).send(
        "scheduled",
        None,
        format!(
            "scheduled {word} {outcome} (cron `{}`, {})",
            job.cron.text,
            job.tz.name()
        ),
        details,
    );
    // No capacity yet is not a failure: `daemon --once` exits 0 for it.
    matches!(label, "ok" | "no_capacity")
}

/// Runs `call`, trying again every [`LOCK_POLL`] for up to [`LOCK_WAIT`] while another run
/// holds the spec's lock.
async fn run_waiting(call: &Call<'_>, pname: &str, spec: &str) -> Result<Ended, Error> {
    let told = std::sync::atomic::AtomicBool::new(false);
    let tries = (LOCK_WAIT.as_secs() / LOCK_POLL.as_secs()).max(1) as usize;
    let poll = ConstantBuilder::default()
        .with_delay(LOCK_POLL)
        .with_max_times(tries);
    (|| call.run())
        .retry(poll)
        .sleep(tokio::time::sleep)
        .when(|e| matches!(e, Error::Locked(LockError::Held { .. })))
        .notify(|e, _| {
            if let Error::Locked(LockError::Held { pid, .. }) = e
                && !told.swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                say(&format!(
                    "{pname}/{spec}: waiting for another run (pid {}) to release the lock",
                    pid.map_or("unknown".into(), |p| p.to_string())
                ));
            }
        })
        .await
}

/// The result label (`ok`, `failed`, `no_capacity`, `skipped`) and the words for the log
/// and the notification.
fn describe(result: &Result<Ended, Error>) -> (&'static str, String) {
    match result {
        Ok(Ended::Done) => ("ok", "done".to_string()),
        Ok(Ended::Failed) => ("failed", "finished with failures".to_string()),
        // A scheduled deploy that found no capacity yet has not failed: the next one goes on.
        Ok(Ended::NoCapacity) => (
            "no_capacity",
            "found no capacity yet; the next run goes on".to_string(),
        ),
        Err(Error::Locked(LockError::Held { .. })) => (
            "skipped",
            format!(
                "skipped: another run held the lock for {}m",
                LOCK_WAIT.as_secs() / 60
            ),
        ),
        Err(e) => ("failed", format!("failed: {e}")),
    }
}
