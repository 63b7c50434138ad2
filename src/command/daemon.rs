//! `vauto daemon`: runs every spec's schedules, capacity hunts and the daily report until stopped.
//!
//! A spec's `schedules:` and `hunt:` apply to every project whose provider the spec fits;
//! `vauto daemon --project P [--spec S]` restricts the daemon to one project (and spec).
//! Actions run through the same code as the command line ([`super::actions::run_with`]),
//! so the run lock keeps a schedule, a hunt and a manual run off the same spec at once.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::Ctx;
use super::actions::{Hooks, run_with as run_action};
use crate::cli::{Action, Command, Format};
use crate::config::{ConfigErrors, CronExpr, Dur, Project, ScheduleAction};
use crate::error::{Error, exit};
use crate::model::{Event, Observer, Outcome};
use crate::ops::lock::{LockError, RunLock};
use crate::ops::notify::{FLUSH_TIMEOUT, Notifier, describe_target};
use crate::ops::schedule::{Due, LastRuns, TenancyGate, due, next_fire};

/// A fire time older than this when the daemon looks is "missed", not run.
const GRACE: Duration = Duration::from_secs(300);
/// How long a scheduled action waits for another run's lock before it is skipped.
const LOCK_WAIT: Duration = Duration::from_secs(900);
/// The daemon re-reads the clock at least this often (suspend, clock changes).
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// After a hunt found every replica, how long until it checks again.
const HUNT_RECHECK: Duration = Duration::from_secs(3600);
/// Without `--deadline`, how long one scheduled deploy keeps trying for capacity.
const SCHEDULED_DEPLOY_DEADLINE: Duration = Duration::from_secs(3600);

/// The text of the daily report, given the state directory and the start of the period.
/// The journal's summary plugs in here; [`Metrics`] is the built-in fallback.
pub trait DailySummary: Send + Sync {
    /// The report text.
    fn summary(&self, state_dir: &Path, since: DateTime<Utc>) -> Result<String, String>;
}

impl<F> DailySummary for F
where
    F: Fn(&Path, DateTime<Utc>) -> Result<String, String> + Send + Sync,
{
    fn summary(&self, state_dir: &Path, since: DateTime<Utc>) -> Result<String, String> {
        self(state_dir, since)
    }
}

/// Runs the daemon with the built-in daily summary.
pub async fn run(ctx: &Ctx) -> Result<u8, Error> {
    run_with(ctx, None).await
}

struct ProjectRt {
    project: Project,
    notifier: Notifier,
}

enum Kind {
    Action {
        spec: String,
        action: ScheduleAction,
        catch_up: bool,
    },
    Daily,
}

struct Timed {
    project: usize,
    kind: Kind,
    cron: CronExpr,
    tz: Tz,
    key: String,
}

impl Timed {
    fn what(&self, projects: &[ProjectRt]) -> String {
        let p = &projects[self.project].project.name;
        match &self.kind {
            Kind::Action { spec, action, .. } => format!("{p}/{spec} {}", action_word(*action)),
            Kind::Daily => format!("{p} daily report"),
        }
    }
}

struct Hunt {
    project: usize,
    spec: String,
    gate: Arc<TenancyGate>,
}

struct Setup {
    projects: Vec<ProjectRt>,
    timed: Vec<Timed>,
    hunts: Vec<Hunt>,
}

fn action_word(a: ScheduleAction) -> &'static str {
    match a {
        ScheduleAction::Start => "start",
        ScheduleAction::Stop => "stop",
        ScheduleAction::Deploy => "deploy",
        ScheduleAction::Delete => "delete",
    }
}

fn cli_action(a: ScheduleAction) -> Action {
    match a {
        ScheduleAction::Start => Action::Start,
        ScheduleAction::Stop => Action::Stop,
        ScheduleAction::Deploy => Action::Deploy,
        ScheduleAction::Delete => Action::Delete,
    }
}

/// One line on stdout (the daemon's activity log) and in the log file.
fn say(msg: &str) {
    println!(
        "{} {msg}",
        Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    tracing::info!("{msg}");
}

/// Which requests share one rate budget: the same OCI account and endpoint, or one cluster.
fn tenancy_key(p: &Project) -> String {
    match &p.oci {
        Some(o) => format!(
            "oci|{}|{}|{}",
            o.config_file.as_deref().unwrap_or("~/.oci/config"),
            o.profile.as_deref().unwrap_or("DEFAULT"),
            o.endpoint.as_deref().unwrap_or("")
        ),
        None => format!("project|{}", p.name),
    }
}

fn load(ctx: &Ctx) -> Result<Setup, Error> {
    let names = match &ctx.cmd.project {
        Some(p) => vec![p.clone()],
        None => ctx.dir.names("projects"),
    };
    let mut projects = Vec::new();
    for n in &names {
        let project = ctx.dir.project(n)?;
        let notifier = Notifier::new(&project, project.sim);
        projects.push(ProjectRt { project, notifier });
    }
    let spec_names = match &ctx.cmd.spec {
        Some(s) => vec![s.clone()],
        None => ctx.dir.names("specs"),
    };
    let mut timed = Vec::new();
    let mut hunts = Vec::new();
    let mut gates: BTreeMap<String, Arc<TenancyGate>> = BTreeMap::new();
    for (pi, pr) in projects.iter().enumerate() {
        let p = &pr.project;
        let tz = p.notify.timezone.map(|t| t.0).unwrap_or(chrono_tz::UTC);
        if let Some(cron) = &p.notify.daily_report {
            timed.push(Timed {
                project: pi,
                kind: Kind::Daily,
                cron: cron.clone(),
                tz,
                key: format!("{}/daily-report/{}", p.name, cron.text),
            });
        }
    }
    for s in &spec_names {
        let path = ctx.dir.find("specs", s).map_err(ConfigErrors::from)?;
        // Loading without a provider checks the spec as such; a broken spec stops the daemon.
        let neutral = ctx.dir.load_spec(&path, None)?;
        if neutral.schedules.is_empty() && !neutral.hunt {
            continue;
        }
        let mut fits = 0;
        for (pi, pr) in projects.iter().enumerate() {
            let p = &pr.project;
            // A spec with the other provider's fields does not fit this project: not an error.
            let Ok(spec) = ctx.dir.spec(s, p.provider) else {
                continue;
            };
            fits += 1;
            for (i, sch) in spec.schedules.iter().enumerate() {
                let tz = sch
                    .timezone
                    .or(p.notify.timezone)
                    .map(|t| t.0)
                    .unwrap_or(chrono_tz::UTC);
                timed.push(Timed {
                    project: pi,
                    kind: Kind::Action {
                        spec: spec.name.0.clone(),
                        action: sch.action,
                        catch_up: sch.catch_up,
                    },
                    cron: sch.cron.clone(),
                    tz,
                    key: format!(
                        "{}/{}/{i}/{}/{}",
                        p.name,
                        spec.name,
                        action_word(sch.action),
                        sch.cron.text
                    ),
                });
            }
            if spec.hunt {
                let gate = gates
                    .entry(tenancy_key(p))
                    .or_insert_with(|| Arc::new(TenancyGate::new(p.retry.interval.0)))
                    .clone();
                hunts.push(Hunt {
                    project: pi,
                    spec: spec.name.0.clone(),
                    gate,
                });
            }
        }
        if fits == 0 {
            tracing::warn!("spec `{s}` has schedules or a hunt but fits no loaded project");
            say(&format!(
                "spec `{s}`: schedules ignored, no project with a fitting provider"
            ));
        }
    }
    Ok(Setup {
        projects,
        timed,
        hunts,
    })
}

/// A context for one action of the daemon, as if typed on the command line.
fn sub_ctx(ctx: &Ctx, project: &str, spec: &str, action: Action) -> Ctx {
    let mut args = ctx.args.clone();
    args.words.clear();
    args.project = None;
    args.spec = None;
    args.target = None;
    args.replicas = None;
    args.dry_run = false;
    // Nobody is there to answer a prompt; the schedule is the confirmation.
    args.yes = true;
    // The daemon waits for locks itself, without blocking a runtime thread.
    args.wait_lock = false;
    args.output = Format::Table;
    Ctx {
        args,
        cmd: Command {
            project: Some(project.to_string()),
            spec: Some(spec.to_string()),
            action,
            rest: Vec::new(),
        },
        dir: ctx.dir.clone(),
        state_dir: ctx.state_dir.clone(),
    }
}

fn record(last: &mut LastRuns, key: &str, t: DateTime<Utc>) {
    if let Err(e) = last.set(key, t) {
        tracing::warn!("cannot record the last run of a schedule: {e}");
    }
}

type Job<'a> = Pin<Box<dyn Future<Output = bool> + 'a>>;

/// Runs the daemon; `summary` supplies the daily report text (default: the daemon's counters).
pub async fn run_with(ctx: &Ctx, summary: Option<&dyn DailySummary>) -> Result<u8, Error> {
    let setup = load(ctx)?;
    // One daemon per state directory (and project filter): two would run each schedule twice.
    let _daemon_lock = RunLock::acquire(
        &ctx.state_dir,
        "daemon",
        ctx.cmd.project.as_deref().unwrap_or("all"),
        false,
    )?;
    let metrics = Arc::new(Metrics::new());
    let summary: &dyn DailySummary = match summary {
        Some(s) => s,
        None => &*metrics,
    };
    if let Some(addr) = &ctx.args.listen {
        serve(addr, metrics.clone()).await?;
        say(&format!("serving /healthz and /metrics on http://{addr}"));
    }
    let mut last = LastRuns::load(&ctx.state_dir);
    let now = Utc::now();
    let once = ctx.args.once;
    let mut cursors = Vec::with_capacity(setup.timed.len());
    let mut first: Vec<usize> = Vec::new();
    for (i, j) in setup.timed.iter().enumerate() {
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
                    j.what(&setup.projects)
                ));
                first.push(i);
            }
            Due::Missed(t) => say(&format!(
                "{}: missed the run at {t} while vauto was not running; not replayed (set `catch_up: true` to run missed runs)",
                j.what(&setup.projects)
            )),
        }
        cursors.push(now);
        record(&mut last, &j.key, now);
    }
    let run_job = |i: usize| -> Job<'_> {
        Box::pin(run_timed(ctx, &setup, &setup.timed[i], &metrics, summary))
    };

    if once {
        let mut ok = true;
        let mut jobs: FuturesUnordered<Job<'_>> = first.into_iter().map(run_job).collect();
        if jobs.is_empty() {
            say("nothing due");
        }
        while let Some(r) = jobs.next().await {
            ok &= r;
        }
        if !setup.hunts.is_empty() {
            say("capacity hunts run only in the long-running daemon (without --once)");
        }
        flush_all(&setup).await;
        return Ok(if ok { exit::OK } else { exit::FAILED });
    }

    say(&format!(
        "daemon started: {} schedule(s), {} hunt(s), {} project(s)",
        setup.timed.len(),
        setup.hunts.len(),
        setup.projects.len()
    ));
    for (j, c) in setup.timed.iter().zip(&cursors) {
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
    let mut actions: FuturesUnordered<Job<'_>> = first.into_iter().map(run_job).collect();
    let mut hunts: FuturesUnordered<Pin<Box<dyn Future<Output = ()> + '_>>> = setup
        .hunts
        .iter()
        .map(|h| Box::pin(hunt(ctx, &setup, h, &metrics)) as Pin<Box<dyn Future<Output = ()> + '_>>)
        .collect();
    let stop = super::shutdown_signal();
    tokio::pin!(stop);
    loop {
        let now = Utc::now();
        let next = setup
            .timed
            .iter()
            .zip(&cursors)
            .filter_map(|(j, c)| next_fire(&j.cron, j.tz, *c))
            .min();
        let nap = next
            .map(|t| (t - now).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP)
            // The wall clock and the timer clock differ by a hair: wake just after the fire time.
            + Duration::from_millis(5);
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(nap) => {
                let now = Utc::now();
                for (i, j) in setup.timed.iter().enumerate() {
                    match due(&j.cron, j.tz, cursors[i], now, GRACE) {
                        Due::No => continue,
                        Due::Run(_) => actions.push(run_job(i)),
                        Due::Missed(t) => say(&format!(
                            "{}: missed the run at {t} (the machine slept or the clock jumped); not replayed",
                            j.what(&setup.projects)
                        )),
                    }
                    cursors[i] = now;
                    record(&mut last, &j.key, now);
                }
            }
            Some(_) = actions.next(), if !actions.is_empty() => {}
            Some(()) = hunts.next(), if !hunts.is_empty() => {}
        }
    }
    // Hunts stop where they are (like Ctrl-C on a deploy); scheduled actions finish.
    drop(hunts);
    if !actions.is_empty() {
        say(&format!(
            "stopping: finishing {} action(s) in flight (signal again to abort)",
            actions.len()
        ));
        tokio::select! {
            _ = async { while actions.next().await.is_some() {} } => {}
            _ = super::shutdown_signal() => return Err(Error::Interrupted),
        }
    }
    flush_all(&setup).await;
    say("daemon stopped");
    Ok(exit::OK)
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

/// Runs one schedule or daily report; `false` when it failed.
async fn run_timed(
    ctx: &Ctx,
    setup: &Setup,
    job: &Timed,
    metrics: &Metrics,
    summary: &dyn DailySummary,
) -> bool {
    let pr = &setup.projects[job.project];
    let pname = pr.project.name.0.as_str();
    let (spec, action) = match &job.kind {
        Kind::Daily => {
            let since = Utc::now() - chrono::Duration::hours(24);
            return match summary.summary(&ctx.state_dir, since) {
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
            };
        }
        Kind::Action { spec, action, .. } => (spec.as_str(), *action),
    };
    let word = action_word(action);
    say(&format!(
        "{pname}/{spec}: scheduled {word} (cron `{}`, {})",
        job.cron.text,
        job.tz.name()
    ));
    let mut sub = sub_ctx(ctx, pname, spec, cli_action(action));
    if action == ScheduleAction::Deploy && sub.args.deadline.is_none() {
        sub.args.deadline = Some(Dur(SCHEDULED_DEPLOY_DEADLINE));
    }
    let hooks = Hooks {
        observer: Some(metrics),
        notifier: Some(&pr.notifier),
        announce: false,
    };
    let started = tokio::time::Instant::now();
    let mut told = false;
    let result = loop {
        match run_action(&sub, hooks).await {
            Err(Error::Locked(LockError::Held { pid, .. })) if started.elapsed() < LOCK_WAIT => {
                if !told {
                    say(&format!(
                        "{pname}/{spec}: waiting for another run (pid {}) to release the lock",
                        pid.map_or("unknown".into(), |p| p.to_string())
                    ));
                    told = true;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            r => break r,
        }
    };
    let (label, outcome) = match &result {
        Ok(code) if *code == exit::OK => ("ok", "done".to_string()),
        Ok(_) => ("failed", "finished with failures".to_string()),
        Err(Error::Locked(LockError::Held { .. })) => (
            "skipped",
            format!(
                "skipped: another run held the lock for {}m",
                LOCK_WAIT.as_secs() / 60
            ),
        ),
        Err(e) => ("failed", format!("failed: {e}")),
    };
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
    label == "ok"
}

/// Keeps deploying `h.spec` until its replicas exist, one pass per turn of the tenancy gate.
async fn hunt(ctx: &Ctx, setup: &Setup, h: &Hunt, metrics: &Metrics) {
    let pr = &setup.projects[h.project];
    let pname = pr.project.name.0.as_str();
    let interval = pr.project.retry.interval.0.max(Duration::from_secs(1));
    // A pass ends after ten rounds so other hunts of the tenancy get their turn.
    let pass = (interval * 10).max(Duration::from_secs(60));
    let notifier = pr.notifier.for_run(Some(&h.spec), "deploy");
    if let Ok(spec) = ctx.dir.spec(&h.spec, pr.project.provider) {
        let what = describe_target(&pr.project, &spec);
        notifier.send(
            "run_started",
            None,
            format!("capacity hunt started: {what}"),
            BTreeMap::new(),
        );
        say(&format!(
            "{pname}/{}: capacity hunt started: {what}",
            h.spec
        ));
    }
    let mut errors = 0u32;
    loop {
        let result = {
            let _turn = h.gate.turn().await;
            let mut sub = sub_ctx(ctx, pname, &h.spec, Action::Deploy);
            sub.args.deadline = Some(Dur(pass));
            let hooks = Hooks {
                observer: Some(metrics),
                notifier: Some(&pr.notifier),
                announce: false,
            };
            run_action(&sub, hooks).await
        };
        match result {
            Ok(code) if code == exit::OK => {
                errors = 0;
                say(&format!(
                    "{pname}/{}: every replica exists; checking again in {}m",
                    h.spec,
                    HUNT_RECHECK.as_secs() / 60
                ));
                tokio::time::sleep(HUNT_RECHECK).await;
            }
            // The pass ran out of time or attempts without capacity: next turn.
            Ok(_) => errors = 0,
            Err(Error::Locked(_)) => {
                tracing::debug!("{pname}/{}: spec busy, hunt waits", h.spec);
                tokio::time::sleep(interval).await;
            }
            Err(e) => {
                errors += 1;
                tracing::warn!("{pname}/{}: hunt pass failed: {e}", h.spec);
                if errors == 1 {
                    notifier.run_failed(&format!("capacity hunt: {e}"));
                }
                tokio::time::sleep(interval * errors.min(10)).await;
            }
        }
    }
}

/// Counters for `/metrics` and the built-in daily summary.
pub struct Metrics {
    started: DateTime<Utc>,
    inner: Mutex<Counters>,
}

#[derive(Default)]
struct Counters {
    /// (class, availability domain) -> attempts.
    attempts: BTreeMap<(String, String), u64>,
    /// Instance -> AD of its attempt in flight.
    pending: BTreeMap<String, String>,
    launched: u64,
    last_success: Option<DateTime<Utc>>,
    /// (project, spec, action, result) -> runs.
    schedule_runs: BTreeMap<(String, String, String, String), u64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty counters, starting now.
    pub fn new() -> Metrics {
        Metrics {
            started: Utc::now(),
            inner: Mutex::default(),
        }
    }

    fn schedule_run(&self, project: &str, spec: &str, action: &str, result: &str) {
        if let Ok(mut c) = self.inner.lock() {
            *c.schedule_runs
                .entry((project.into(), spec.into(), action.into(), result.into()))
                .or_default() += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let Ok(c) = self.inner.lock() else {
            return String::new();
        };
        let mut s = String::from(
            "# HELP vauto_up The daemon is running.\n# TYPE vauto_up gauge\nvauto_up 1\n",
        );
        s.push_str("# HELP vauto_attempts_total Launch attempts by outcome class and availability domain.\n# TYPE vauto_attempts_total counter\n");
        for ((class, ad), n) in &c.attempts {
            s.push_str(&format!(
                "vauto_attempts_total{{class=\"{}\",ad=\"{}\"}} {n}\n",
                esc(class),
                esc(ad)
            ));
        }
        s.push_str("# HELP vauto_instances_launched_total Instances launched by this daemon.\n# TYPE vauto_instances_launched_total counter\n");
        s.push_str(&format!("vauto_instances_launched_total {}\n", c.launched));
        s.push_str("# HELP vauto_last_success_timestamp_seconds When an instance was last launched or found running (0: never).\n# TYPE vauto_last_success_timestamp_seconds gauge\n");
        s.push_str(&format!(
            "vauto_last_success_timestamp_seconds {}\n",
            c.last_success.map_or(0, |t| t.timestamp())
        ));
        s.push_str("# HELP vauto_schedule_runs_total Scheduled actions run, by result (ok, failed, skipped).\n# TYPE vauto_schedule_runs_total counter\n");
        for ((p, sp, a, r), n) in &c.schedule_runs {
            s.push_str(&format!(
                "vauto_schedule_runs_total{{project=\"{}\",spec=\"{}\",action=\"{}\",result=\"{}\"}} {n}\n",
                esc(p),
                esc(sp),
                esc(a),
                esc(r)
            ));
        }
        s
    }
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn short_ad(ad: Option<&String>) -> String {
    ad.map(|a| a.rsplit(':').next().unwrap_or(a).to_string())
        .unwrap_or_else(|| "-".into())
}

impl Observer for Metrics {
    fn event(&self, event: Event) {
        let Ok(mut c) = self.inner.lock() else { return };
        match event {
            Event::AttemptStarted {
                instance,
                placement,
                ..
            } => {
                c.pending
                    .insert(instance, short_ad(placement.zone.as_ref()));
            }
            Event::AttemptFailed {
                instance,
                placement,
                class,
                ..
            } => {
                c.pending.remove(&instance);
                let ad = short_ad(placement.zone.as_ref());
                *c.attempts
                    .entry((class.as_str().to_string(), ad))
                    .or_default() += 1;
            }
            Event::Report(r) if r.outcome == Outcome::Success && !r.details.is_empty() => {
                let launched = c.pending.remove(&r.instance);
                let running = r.details.has_address();
                if let Some(ad) = &launched {
                    *c.attempts
                        .entry(("success".into(), ad.clone()))
                        .or_default() += 1;
                    c.launched += 1;
                }
                // Power actions report success too; only launches and running instances count.
                if launched.is_some() || running {
                    c.last_success = Some(Utc::now());
                }
            }
            _ => {}
        }
    }
}

impl DailySummary for Metrics {
    fn summary(&self, _: &Path, _: DateTime<Utc>) -> Result<String, String> {
        let c = self
            .inner
            .lock()
            .map_err(|_| "the daemon's counters are unavailable".to_string())?;
        let mut by_class: BTreeMap<&str, u64> = BTreeMap::new();
        for ((class, _), n) in &c.attempts {
            *by_class.entry(class).or_default() += n;
        }
        let total: u64 = by_class.values().sum();
        let classes: Vec<String> = by_class.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let runs: u64 = c.schedule_runs.values().sum();
        let failed: u64 = c
            .schedule_runs
            .iter()
            .filter(|(k, _)| k.3 != "ok")
            .map(|(_, v)| v)
            .sum();
        Ok(format!(
            "since the daemon started ({}): {total} launch attempt(s){}, {} instance(s) launched, {runs} scheduled run(s) ({failed} not ok)",
            self.started.to_rfc3339_opts(SecondsFormat::Secs, true),
            if classes.is_empty() {
                String::new()
            } else {
                format!(" ({})", classes.join(", "))
            },
            c.launched
        ))
    }
}

/// Serves `/healthz` and `/metrics` on `addr` in the background (a tiny HTTP/1.1 responder:
/// two read-only pages do not need a web framework in the binary).
async fn serve(addr: &str, metrics: Arc<Metrics>) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Usage(format!("cannot listen on `{addr}`: {e}")))?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((sock, _)) => {
                    let m = metrics.clone();
                    tokio::spawn(async move {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(5), answer(sock, &m)).await;
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    Ok(())
}

async fn answer(mut sock: tokio::net::TcpStream, m: &Metrics) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    while n < buf.len() {
        let r = sock.read(&mut buf[n..]).await?;
        n += r;
        if r == 0 || buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..n]);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let (status, ctype, body) = match path {
        "/healthz" => ("200 OK", "text/plain", "ok\n".to_string()),
        "/metrics" => ("200 OK", "text/plain; version=0.0.4", m.render()),
        _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(resp.as_bytes()).await?;
    sock.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ErrorClass, PlacementInfo, ResourceReport};

    #[test]
    fn metrics_count_attempts_by_class_and_ad_and_the_last_success() {
        let m = Metrics::new();
        let at = |ad: &str| PlacementInfo {
            label: ad.to_string(),
            zone: Some(format!("Uocm:AP-SEOUL-1-{ad}")),
        };
        m.event(Event::AttemptStarted {
            instance: "a1-01".into(),
            attempt: 1,
            placement: at("AD-1"),
        });
        m.event(Event::AttemptFailed {
            instance: "a1-01".into(),
            attempt: 1,
            placement: at("AD-1"),
            class: ErrorClass::Capacity,
            message: "Out of host capacity.".into(),
            next_try_in: None,
        });
        m.event(Event::AttemptStarted {
            instance: "a1-01".into(),
            attempt: 2,
            placement: at("AD-2"),
        });
        m.event(Event::Report(Box::new(
            ResourceReport::new("a1-01", "Instance", "a1-01", Outcome::Success, "launched")
                .with(|d| d.id = Some("ocid1.instance.x".into())),
        )));
        m.schedule_run("p", "a1", "stop", "ok");
        let text = m.render();
        assert!(text.contains("vauto_attempts_total{class=\"capacity\",ad=\"AP-SEOUL-1-AD-1\"} 1"));
        assert!(text.contains("vauto_attempts_total{class=\"success\",ad=\"AP-SEOUL-1-AD-2\"} 1"));
        assert!(text.contains("vauto_instances_launched_total 1"));
        assert!(!text.contains("vauto_last_success_timestamp_seconds 0\n"));
        assert!(text.contains(
            "vauto_schedule_runs_total{project=\"p\",spec=\"a1\",action=\"stop\",result=\"ok\"} 1"
        ));
        let summary = m.summary(Path::new("."), Utc::now()).unwrap();
        assert!(summary.contains("2 launch attempt(s) (capacity 1, success 1)"));
    }
}
