//! The scheduler loop: decides which timed jobs are due, runs them and the hunts until stopped.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::super::shutdown_signal;
use super::Ctx;
use super::metrics::Metrics;
use super::setup::{Kind, Setup, Timed};
use super::{DailySummary, hunt, job, say};
use crate::error::{Error, exit};
use crate::ops::notify::FLUSH_TIMEOUT;
use crate::ops::schedule::{Due, LastRuns, due, next_fire};

/// A fire time older than this when the daemon looks is "missed", not run.
const GRACE: Duration = Duration::from_secs(300);
/// The daemon re-reads the clock at least this often (suspend, clock changes).
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// A timed job in flight; `false` when it failed.
type Job<'a> = Pin<Box<dyn Future<Output = bool> + 'a>>;
/// A capacity hunt (runs until the daemon stops).
type Task<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// What the scheduler works with.
pub(super) struct Daemon<'a> {
    pub ctx: &'a Ctx,
    pub setup: &'a Setup,
    pub metrics: &'a Metrics,
    pub summary: &'a dyn DailySummary,
}

impl<'a> Daemon<'a> {
    /// Runs what is due, then (without `--once`) every schedule and hunt until a signal.
    pub(super) async fn run(&self) -> Result<u8, Error> {
        let mut last = LastRuns::load(&self.ctx.settings.state_dir);
        let once = self.ctx.once;
        let (cursors, first) = self.first_due(&mut last, once);
        if once {
            return Ok(self.run_once(first).await);
        }
        self.announce(&cursors);
        self.run_forever(first, cursors, last).await
    }

    /// Timed job `i`, ready to run.
    fn job(&self, i: usize) -> Job<'a> {
        let (ctx, setup, metrics, summary) = (self.ctx, self.setup, self.metrics, self.summary);
        let t = &setup.timed[i];
        Box::pin(job::run(
            ctx,
            &setup.projects[t.project],
            t,
            metrics,
            summary,
        ))
    }

    /// The jobs due since their last recorded run (or missed, and said so), and the cursor
    /// (the time looked up to) of every job.
    fn first_due(&self, last: &mut LastRuns, once: bool) -> (Vec<DateTime<Utc>>, Vec<usize>) {
        let now = Utc::now();
        let mut cursors = Vec::with_capacity(self.setup.timed.len());
        let mut first: Vec<usize> = Vec::new();
        for (i, j) in self.setup.timed.iter().enumerate() {
            let since = match last.get(&j.key) {
                Some(t) => t,
                // A first `--once` from cron looks back one minute, so a job due this minute runs.
                None if once => now - chrono::Duration::seconds(60),
                None => now,
            };
            let catch_up = matches!(j.kind, Kind::Action { catch_up: true, .. });
            match due(&j.cron, j.tz, since, now, GRACE) {
                Due::No => {}
                Due::Run(_) => first.push(i),
                Due::Missed(t) if catch_up => {
                    say(&format!(
                        "{}: catching up the run missed at {t} (catch_up: true)",
                        j.what(&self.setup.projects)
                    ));
                    first.push(i);
                }
                Due::Missed(t) => self.missed(
                    j,
                    t,
                    "while vauto was not running; not replayed (set `catch_up: true` to run missed runs)",
                ),
            }
            cursors.push(now);
            record(last, &j.key, now);
        }
        (cursors, first)
    }

    /// A missed run, told to the log (stdout and file) and to the project's receivers: a
    /// schedule that silently did not happen is what an operator most needs to hear of.
    fn missed(&self, j: &Timed, t: DateTime<Utc>, why: &str) {
        let what = j.what(&self.setup.projects);
        let at = t
            .with_timezone(&j.tz)
            .to_rfc3339_opts(SecondsFormat::Secs, false);
        say(&format!("{what}: missed the run at {at} {why}"));
        let pr = &self.setup.projects[j.project];
        let (spec, word) = match &j.kind {
            Kind::Action { spec, action, .. } => (Some(spec.as_str()), action.as_str()),
            Kind::Daily => (None, "daily report"),
        };
        let mut details = BTreeMap::new();
        details.insert("cron".to_string(), j.cron.text.clone());
        details.insert("timezone".to_string(), j.tz.name().to_string());
        details.insert("result".to_string(), "missed".to_string());
        pr.notifier.for_run(spec, word).send(
            "scheduled",
            None,
            format!(
                "scheduled {word} missed at {at} (cron `{}`, {}): not run",
                j.cron.text,
                j.tz.name()
            ),
            details,
        );
    }

    /// `--once`: runs the due jobs and returns the exit code.
    async fn run_once(&self, first: Vec<usize>) -> u8 {
        let mut ok = true;
        let mut jobs: FuturesUnordered<Job<'a>> = first.into_iter().map(|i| self.job(i)).collect();
        if jobs.is_empty() {
            say("nothing due");
        }
        while let Some(r) = jobs.next().await {
            ok &= r;
        }
        if !self.setup.hunts.is_empty() {
            say("capacity hunts run only in the long-running daemon (without --once)");
        }
        flush_all(self.setup).await;
        if ok { exit::OK } else { exit::FAILED }
    }

    /// The start line and every job's next fire time.
    fn announce(&self, cursors: &[DateTime<Utc>]) {
        let setup = self.setup;
        say(&format!(
            "daemon started: {} schedule(s), {} hunt(s), {} project(s)",
            setup.timed.len(),
            setup.hunts.len(),
            setup.projects.len()
        ));
        for (j, c) in setup.timed.iter().zip(cursors) {
            if let Some(t) = next_fire(&j.cron, j.tz, *c) {
                say(&format!(
                    "{}: next at {} ({})",
                    j.what(&setup.projects),
                    t.with_timezone(&j.tz)
                        .to_rfc3339_opts(SecondsFormat::Secs, false),
                    j.tz.name()
                ));
            }
        }
    }

    /// The long-running loop: sleeps until the next fire time, runs what is due, and stops on
    /// a signal.
    async fn run_forever(
        &self,
        first: Vec<usize>,
        mut cursors: Vec<DateTime<Utc>>,
        mut last: LastRuns,
    ) -> Result<u8, Error> {
        let mut actions: FuturesUnordered<Job<'a>> =
            first.into_iter().map(|i| self.job(i)).collect();
        let mut hunts: FuturesUnordered<Task<'a>> = self
            .setup
            .hunts
            .iter()
            .map(|h| Box::pin(hunt::hunt(self.ctx, self.setup, h, self.metrics)) as Task<'a>)
            .collect();
        let stop = shutdown_signal();
        tokio::pin!(stop);
        loop {
            let nap = self.nap(&cursors);
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(nap) => self.fire(&mut cursors, &mut last, &mut actions),
                Some(_) = actions.next(), if !actions.is_empty() => {}
                Some(()) = hunts.next(), if !hunts.is_empty() => {}
            }
        }
        // Hunts stop where they are (like Ctrl-C on a deploy); scheduled actions finish.
        drop(hunts);
        self.wind_down(actions).await
    }

    /// How long to sleep before the next fire time (at most [`MAX_SLEEP`]).
    fn nap(&self, cursors: &[DateTime<Utc>]) -> Duration {
        let now = Utc::now();
        let next = self
            .setup
            .timed
            .iter()
            .zip(cursors)
            .filter_map(|(j, c)| next_fire(&j.cron, j.tz, *c))
            .min();
        next.map(|t| (t - now).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP)
            // The wall clock and the timer clock differ by a hair: wake just after the fire time.
            + Duration::from_millis(5)
    }

    /// Starts every job due since its cursor; a fire time long past is missed, not run.
    fn fire(
        &self,
        cursors: &mut [DateTime<Utc>],
        last: &mut LastRuns,
        actions: &mut FuturesUnordered<Job<'a>>,
    ) {
        let now = Utc::now();
        for (i, j) in self.setup.timed.iter().enumerate() {
            match due(&j.cron, j.tz, cursors[i], now, GRACE) {
                Due::No => continue,
                Due::Run(_) => actions.push(self.job(i)),
                Due::Missed(t) => self.missed(
                    j,
                    t,
                    "(the machine slept or the clock jumped); not replayed",
                ),
            }
            cursors[i] = now;
            record(last, &j.key, now);
        }
    }

    /// After a stop signal: lets the actions in flight finish (a second signal aborts them).
    async fn wind_down(&self, mut actions: FuturesUnordered<Job<'a>>) -> Result<u8, Error> {
        if !actions.is_empty() {
            say(&format!(
                "stopping: finishing {} action(s) in flight (signal again to abort)",
                actions.len()
            ));
            tokio::select! {
                _ = async { while actions.next().await.is_some() {} } => {}
                _ = shutdown_signal() => return Err(Error::Interrupted),
            }
        }
        flush_all(self.setup).await;
        say("daemon stopped");
        Ok(exit::OK)
    }
}

fn record(last: &mut LastRuns, key: &str, t: DateTime<Utc>) {
    if let Err(e) = last.set(key, t) {
        tracing::warn!("cannot record the last run of a schedule: {e}");
    }
}

async fn flush_all(setup: &Setup) {
    futures::future::join_all(
        setup
            .projects
            .iter()
            .map(|p| p.notifier.flush(FLUSH_TIMEOUT)),
    )
    .await;
}
