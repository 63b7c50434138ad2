//! Notifications to Slack, Discord, Telegram and a generic JSON webhook, sent in the background.
//!
//! A run never waits for a receiver: messages go into a bounded queue served by one
//! background task; each request has a timeout and a bounded retry, a failing receiver is
//! logged (without its URL or token) and the run goes on. At exit a run flushes the queue
//! for at most [`FLUSH_TIMEOUT`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::config::{Notify, NotifyEvent, Project, ProviderSpec, Secret, Spec};
use crate::model::{ErrorClass, Event, Observer, Outcome};

/// How long one request may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a run waits at exit for queued notifications.
pub(crate) const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries per message and receiver (the first one included).
const TRIES: u32 = 3;
/// The longest `Retry-After` honoured; a receiver asking for more loses the message.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);
/// Messages waiting to be sent; beyond this new ones are dropped with a warning.
const QUEUE: usize = 256;
/// Overrides the Telegram Bot API base URL (tests, proxies).
pub(crate) const TELEGRAM_API_ENV: &str = "VAUTO_TELEGRAM_API";

/// One notification, as the generic webhook receives it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Note {
    /// `run_started`, `attempts`, `success`, `failed`, `scheduled`, `daily_report`.
    pub event: String,
    /// Project name.
    pub project: String,
    /// Spec name, when the note is about one.
    pub spec: Option<String>,
    /// Instance name, when the note is about one.
    pub instance: Option<String>,
    /// One human sentence.
    pub message: String,
    /// Machine-readable facts (instance id, IPs, ssh command, attempt number).
    pub details: BTreeMap<String, String>,
    /// When it happened (RFC 3339, UTC).
    pub time: DateTime<Utc>,
    /// The run talks to a built-in simulator.
    pub simulated: bool,
}

impl Note {
    /// The one-line text chat receivers show.
    pub(crate) fn text(&self) -> String {
        let mut s = String::new();
        if self.simulated {
            s.push_str("[SIMULATED] ");
        }
        s.push_str("vauto ");
        s.push_str(&self.project);
        if let Some(spec) = &self.spec {
            s.push('/');
            s.push_str(spec);
        }
        s.push_str(": ");
        s.push_str(&self.message);
        for key in ["id", "public_ip", "private_ip", "ip", "ssh"] {
            if let Some(v) = self.details.get(key) {
                s.push_str(&format!("\n{key}: {v}"));
            }
        }
        s
    }
}

/// Where notes go.
#[derive(Debug, Clone)]
enum Receiver {
    Slack(Secret),
    Discord(Secret),
    Webhook(Secret),
    Telegram {
        token: Secret,
        chat_id: String,
        api: String,
    },
}

impl Receiver {
    /// The name used in log lines (never the URL).
    fn name(&self) -> &'static str {
        match self {
            Receiver::Slack(_) => "slack",
            Receiver::Discord(_) => "discord",
            Receiver::Webhook(_) => "webhook",
            Receiver::Telegram { .. } => "telegram",
        }
    }

    /// The URL (secret) and the JSON body for `note`.
    fn request(&self, note: &Note) -> (String, serde_json::Value) {
        match self {
            Receiver::Slack(url) => (
                url.expose().to_string(),
                serde_json::json!({ "text": note.text() }),
            ),
            Receiver::Discord(url) => (
                url.expose().to_string(),
                serde_json::json!({ "content": note.text() }),
            ),
            Receiver::Webhook(url) => (
                url.expose().to_string(),
                serde_json::to_value(note).unwrap_or_default(),
            ),
            Receiver::Telegram {
                token,
                chat_id,
                api,
            } => (
                format!(
                    "{}/bot{}/sendMessage",
                    api.trim_end_matches('/'),
                    token.expose()
                ),
                serde_json::json!({ "chat_id": chat_id, "text": note.text() }),
            ),
        }
    }
}

fn receivers(n: &Notify) -> Vec<Receiver> {
    let mut out = Vec::new();
    if let Some(s) = &n.slack {
        out.push(Receiver::Slack(s.clone()));
    }
    if let Some(s) = &n.discord {
        out.push(Receiver::Discord(s.clone()));
    }
    if let Some(s) = &n.webhook {
        out.push(Receiver::Webhook(s.clone()));
    }
    if let Some(t) = &n.telegram {
        match &t.chat_id {
            Some(chat) => out.push(Receiver::Telegram {
                token: t.token.clone(),
                chat_id: chat.0.clone(),
                api: std::env::var(TELEGRAM_API_ENV)
                    .ok()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "https://api.telegram.org".into()),
            }),
            // The config layer rejects this; stay quiet rather than fail if it ever slips by.
            None => tracing::warn!("notify.telegram has no chat_id: telegram notifications off"),
        }
    }
    out
}

enum Job {
    Send(Box<Note>),
    Flush(oneshot::Sender<()>),
}

/// A project's notification channel; cheap to clone, one background sender per project.
#[derive(Clone)]
pub(crate) struct Notifier {
    tx: Option<mpsc::Sender<Job>>,
    project: String,
    spec: Option<String>,
    action: Option<String>,
    simulated: bool,
    every_n: u64,
    /// Instances whose `launched` note went out, so `--wait` does not announce twice.
    announced: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    /// `[FAILED]` lines of this run that retrying cannot fix, for the closing notice.
    failed: Arc<std::sync::Mutex<Vec<String>>>,
    /// The events `notify.events` selects.
    events: Arc<Vec<NotifyEvent>>,
    /// The class of each instance's last failed attempt: a give-up after capacity misses
    /// is the hunt going on, not a failure worth a message.
    last_class: Arc<std::sync::Mutex<BTreeMap<String, ErrorClass>>>,
    /// The start notice, held back until the run does something (a run with nothing to do
    /// sends nothing).
    pending_start: Arc<std::sync::Mutex<Option<String>>>,
    /// Instances a start/stop changed, for the closing "done" note.
    done: Arc<std::sync::Mutex<Vec<String>>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("project", &self.project)
            .field("active", &self.tx.is_some())
            .finish()
    }
}

impl Notifier {
    /// A notifier for `project`'s `notify:` receivers; starts its sender task when there is
    /// at least one receiver (call inside a tokio runtime).
    pub(crate) fn new(project: &Project, simulated: bool) -> Notifier {
        let list = receivers(&project.notify);
        let tx = if list.is_empty() {
            None
        } else {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(worker(list, rx));
            Some(tx)
        };
        Notifier {
            tx,
            project: project.name.0.clone(),
            spec: None,
            action: None,
            simulated,
            every_n: project.notify.every_n_attempts.max(1),
            announced: Arc::default(),
            failed: Arc::default(),
            events: Arc::new(project.notify.events.clone()),
            last_class: Arc::default(),
            pending_start: Arc::default(),
            done: Arc::default(),
        }
    }

    #[cfg(test)]
    /// A notifier with no receivers.
    pub(crate) fn off(project: &str) -> Notifier {
        Notifier {
            tx: None,
            project: project.to_string(),
            spec: None,
            action: None,
            simulated: false,
            every_n: 10,
            announced: Arc::default(),
            failed: Arc::default(),
            events: Arc::new(NotifyEvent::DEFAULT.to_vec()),
            last_class: Arc::default(),
            pending_start: Arc::default(),
            done: Arc::default(),
        }
    }

    /// The same channel, for a run of `action` on `spec`.
    pub(crate) fn for_run(&self, spec: Option<&str>, action: &str) -> Notifier {
        Notifier {
            spec: spec.map(str::to_string),
            action: Some(action.to_string()),
            announced: Arc::default(),
            failed: Arc::default(),
            last_class: Arc::default(),
            pending_start: Arc::default(),
            done: Arc::default(),
            // The channel and the chosen events are shared.
            ..self.clone()
        }
    }

    /// Whether `notify.events` selects `event`.
    fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| e.as_str() == event)
    }

    /// Whether any receiver is configured.
    pub(crate) fn active(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues a note about this run; never blocks, drops the note when the queue is full.
    pub(crate) fn send(
        &self,
        event: &str,
        instance: Option<&str>,
        message: impl Into<String>,
        details: BTreeMap<String, String>,
    ) {
        let Some(tx) = &self.tx else { return };
        if !self.wants(event) {
            return;
        }
        let note = Note {
            event: event.to_string(),
            project: self.project.clone(),
            spec: self.spec.clone(),
            instance: instance.map(str::to_string),
            message: message.into(),
            details,
            time: Utc::now(),
            simulated: self.simulated,
        };
        if tx.try_send(Job::Send(Box::new(note))).is_err() {
            tracing::warn!("notification queue full: dropped a `{event}` notification");
        }
    }

    /// Announces the start of a run (`deploy started: 2 x VM.Standard.A1.Flex ...`) once it
    /// does something: a run that finds everything in place stays quiet.
    pub(crate) fn run_started(&self, what: &str) {
        let action = self.action.as_deref().unwrap_or("run");
        if let Ok(mut p) = self.pending_start.lock() {
            *p = Some(format!("{action} started: {what}"));
        }
    }

    /// Sends the held-back start notice, the first time the run acts.
    fn acting(&self) {
        let msg = self.pending_start.lock().ok().and_then(|mut p| p.take());
        if let Some(msg) = msg {
            self.send("run_started", None, msg, BTreeMap::new());
        }
    }

    /// Closes a run: `failed` when it hit a fatal `error` or a resource failed for a reason
    /// retrying cannot fix; a "done" note when a start/stop changed something.
    pub(crate) fn run_finished(&self, error: Option<&str>) {
        if let Ok(mut p) = self.pending_start.lock() {
            p.take();
        }
        if let Some(e) = error {
            self.run_failed(e);
            return;
        }
        let lines = self.failed.lock().map(|v| v.clone()).unwrap_or_default();
        if lines.is_empty() {
            self.power_done();
            return;
        }
        let mut msg = format!("{} resource(s) failed: ", lines.len());
        msg.push_str(&lines.iter().take(5).cloned().collect::<Vec<_>>().join("; "));
        if lines.len() > 5 {
            msg.push_str("; ...");
        }
        self.run_failed(&msg);
    }

    /// The "done" note of a start or stop that changed at least one instance.
    fn power_done(&self) {
        let action = self.action.as_deref().unwrap_or("run");
        if !matches!(action, "start" | "stop") {
            return;
        }
        let done = self.done.lock().map(|v| v.clone()).unwrap_or_default();
        if done.is_empty() {
            return;
        }
        let word = if action == "start" {
            "started"
        } else {
            "stopped"
        };
        self.send(
            "success",
            None,
            format!("{action} done: {} {word}", done.join(", ")),
            BTreeMap::new(),
        );
    }

    /// Reports a run that ended badly: `failed` resources or a fatal error.
    pub(crate) fn run_failed(&self, message: &str) {
        let action = self.action.as_deref().unwrap_or("run");
        self.send(
            "failed",
            None,
            format!("{action} failed: {message}"),
            BTreeMap::new(),
        );
    }

    /// Waits until every queued note was tried, at most `max`.
    pub(crate) async fn flush(&self, max: Duration) {
        let Some(tx) = &self.tx else { return };
        let (done, wait) = oneshot::channel();
        let fut = async {
            if tx.send(Job::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        };
        if tokio::time::timeout(max, fut).await.is_err() {
            tracing::warn!(
                "notifications still pending after {}s: not waiting longer",
                max.as_secs()
            );
        }
    }
}

/// What a run is about, for the start notice: count, shape and size, and where.
pub(crate) fn describe_target(project: &Project, spec: &Spec) -> String {
    let mut s = format!("{} x ", spec.replicas);
    match &spec.provider {
        ProviderSpec::Oci(o) => {
            s.push_str(&o.shape);
            if let (Some(c), Some(m)) = (o.ocpus, o.memory_gb) {
                s.push_str(&format!(" {c} OCPU/{m} GB"));
            }
        }
        ProviderSpec::Kubevirt(k) => match &k.size {
            crate::config::Sizing::Explicit { cpu, memory } => {
                s.push_str(&format!("{cpu} vCPU/{memory}"));
            }
            crate::config::Sizing::Instancetype(t) => s.push_str(&t.name),
        },
        ProviderSpec::Unbound => s.push_str("instances"),
    }
    if let Some(oci) = project.oci() {
        let region = oci.region.as_deref().unwrap_or("the profile's region");
        s.push_str(&format!(" in {region}"));
    } else if let Some(k) = project.kubevirt() {
        let ctx = k.context.as_deref().unwrap_or("the current context");
        let ns = k.namespace.as_deref().unwrap_or("its namespace");
        s.push_str(&format!(" on {ctx} ({ns})"));
    }
    s
}

impl Observer for Notifier {
    fn event(&self, event: Event) {
        if self.tx.is_none() {
            return;
        }
        match event {
            Event::AttemptStarted { .. } => self.acting(),
            Event::AttemptFailed {
                instance,
                attempt,
                placement,
                class,
                message,
                next_try_in,
            } => {
                if let Ok(mut m) = self.last_class.lock() {
                    m.insert(instance.clone(), class);
                }
                if attempt % self.every_n != 0 {
                    return;
                }
                let mut d = BTreeMap::new();
                d.insert("attempt".into(), attempt.to_string());
                d.insert("class".into(), class.as_str().to_string());
                d.insert("placement".into(), placement.label.clone());
                let next = next_try_in
                    .map(|w| format!("; next try in {}s", w.as_secs()))
                    .unwrap_or_default();
                self.send(
                    "attempts",
                    Some(&instance),
                    format!(
                        "still trying `{instance}`: attempt {attempt} failed ({}, {}: {message}){next}",
                        class.as_str(),
                        placement.label
                    ),
                    d,
                );
            }
            Event::Report(r) => self.report(&r),
            _ => {}
        }
    }
}

impl Notifier {
    /// One resource's result: remembers fatal failures and power changes, announces launches.
    fn report(&self, r: &crate::model::ResourceReport) {
        if r.outcome != Outcome::Skipped {
            self.acting();
        }
        match r.outcome {
            Outcome::Failed => {
                let class = self
                    .last_class
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&r.instance).copied());
                // Capacity (and a server that kept failing) end a pass, not the hunt.
                let miss = matches!(
                    class,
                    Some(ErrorClass::Capacity | ErrorClass::Throttled | ErrorClass::Transient)
                );
                if !miss && let Ok(mut v) = self.failed.lock() {
                    v.push(format!("{} {}: {}", r.kind, r.name, r.reason));
                }
            }
            Outcome::Success if matches!(self.action.as_deref(), Some("start" | "stop")) => {
                if let Ok(mut v) = self.done.lock()
                    && !v.contains(&r.instance)
                {
                    v.push(r.instance.clone());
                }
            }
            Outcome::Success
                if self.action.as_deref() == Some("deploy") && !r.details.is_empty() =>
            {
                self.launched(r);
            }
            _ => {}
        }
    }

    /// The `success` note of a launched (or running) instance, once per state.
    fn launched(&self, r: &crate::model::ResourceReport) {
        let running = r.details.has_address();
        let first = self
            .announced
            .lock()
            .map(|mut s| s.insert(format!("{}:{running}", r.instance)))
            .unwrap_or(true);
        if first {
            let what = if running { "is running" } else { "launched" };
            self.send(
                "success",
                Some(&r.instance),
                format!("`{}` {what}", r.instance),
                r.details
                    .pairs()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            );
        }
    }
}

async fn worker(list: Vec<Receiver>, mut rx: mpsc::Receiver<Job>) {
    let client = match reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("vauto/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(
                "notifications off: cannot build the http client: {}",
                e.without_url()
            );
            // Keep answering flushes so nobody waits for a sender that will never send.
            while let Some(job) = rx.recv().await {
                if let Job::Flush(done) = job {
                    let _ = done.send(());
                }
            }
            return;
        }
    };
    while let Some(job) = rx.recv().await {
        match job {
            Job::Flush(done) => {
                let _ = done.send(());
            }
            Job::Send(note) => {
                futures::future::join_all(list.iter().map(|r| deliver(&client, r, &note))).await;
            }
        }
    }
}

/// Why one delivery attempt did not get through.
enum Miss {
    /// Worth another try: a 5xx, a reset, or a 429 (with the receiver's Retry-After).
    Retry(Option<Duration>),
    /// Not worth another try; the warning says why.
    Final(String),
}

/// Sends one note to one receiver with bounded retries; logs (never returns) failures.
async fn deliver(client: &reqwest::Client, r: &Receiver, note: &Note) {
    let (url, body) = r.request(note);
    let name = r.name();
    // Waits of 1 s then 2 s between the tries (or the receiver's Retry-After).
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_factor(2.0)
        .with_max_times(TRIES as usize - 1);
    let sent = (|| post_once(client, &url, &body, name, &note.event))
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|m| matches!(m, Miss::Retry(_)))
        .adjust(|m, wait| match m {
            Miss::Retry(Some(after)) => Some(*after),
            _ => wait,
        })
        .await;
    match sent {
        Ok(()) => tracing::debug!("{name} notification `{}` sent", note.event),
        Err(Miss::Final(why)) => tracing::warn!("{name} notification `{}` {why}", note.event),
        Err(Miss::Retry(_)) => tracing::warn!(
            "{name} notification `{}` failed after {TRIES} tries",
            note.event
        ),
    }
}

/// One POST of a note, classified for the retry above.
async fn post_once(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    name: &str,
    event: &str,
) -> Result<(), Miss> {
    match client.post(url).json(body).send().await {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) if resp.status().as_u16() == 429 => {
            let after = retry_after(resp.headers()).unwrap_or(Duration::from_secs(1));
            if after > RETRY_AFTER_CAP {
                return Err(Miss::Final(format!(
                    "dropped: receiver asks to wait {}s",
                    after.as_secs()
                )));
            }
            Err(Miss::Retry(Some(after)))
        }
        Ok(resp) if resp.status().is_server_error() => Err(Miss::Retry(None)),
        Ok(resp) => Err(Miss::Final(format!("refused: http {}", resp.status()))),
        // A receiver that hangs stays slow; do not spend more time on it.
        Err(e) if e.is_timeout() => Err(Miss::Final(format!(
            "failed: no answer within {}s",
            REQUEST_TIMEOUT.as_secs()
        ))),
        Err(e) => {
            // `without_url`: the URL carries the webhook secret or the bot token.
            let e = e.without_url();
            tracing::debug!("{name} notification `{event}`: {e}");
            Err(Miss::Retry(None))
        }
    }
}

fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [NotifyEvent; 6] = [
        NotifyEvent::RunStarted,
        NotifyEvent::Attempts,
        NotifyEvent::Success,
        NotifyEvent::Failed,
        NotifyEvent::Scheduled,
        NotifyEvent::DailyReport,
    ];

    fn note() -> Note {
        let mut details = BTreeMap::new();
        details.insert("public_ip".into(), "203.0.113.7".into());
        details.insert("ssh".into(), "ssh ubuntu@203.0.113.7".into());
        Note {
            event: "success".into(),
            project: "p".into(),
            spec: Some("a1".into()),
            instance: Some("a1-01".into()),
            message: "`a1-01` is running".into(),
            details,
            time: Utc::now(),
            simulated: true,
        }
    }

    #[test]
    fn chat_text_names_the_run_and_carries_the_ssh_command() {
        let t = note().text();
        assert!(t.starts_with("[SIMULATED] vauto p/a1: `a1-01` is running"));
        assert!(t.contains("ssh: ssh ubuntu@203.0.113.7"));
    }

    #[test]
    fn each_service_gets_its_own_shape_and_the_token_only_in_the_url() {
        let n = note();
        let (_, slack) = Receiver::Slack(Secret::new("http://x/s")).request(&n);
        assert!(slack["text"].as_str().unwrap().contains("a1-01"));
        let (_, discord) = Receiver::Discord(Secret::new("http://x/d")).request(&n);
        assert!(discord["content"].is_string());
        let (url, tg) = Receiver::Telegram {
            token: Secret::new("123:ABC"),
            chat_id: "42".into(),
            api: "http://127.0.0.1:1/".into(),
        }
        .request(&n);
        assert_eq!(url, "http://127.0.0.1:1/bot123:ABC/sendMessage");
        assert_eq!(tg["chat_id"], "42");
        assert!(!tg.to_string().contains("ABC"));
        let (_, hook) = Receiver::Webhook(Secret::new("http://x/w")).request(&n);
        for k in [
            "event",
            "project",
            "spec",
            "instance",
            "message",
            "details",
            "time",
            "simulated",
        ] {
            assert!(hook.get(k).is_some(), "webhook payload lacks `{k}`");
        }
    }

    #[test]
    fn a_notifier_without_receivers_does_nothing_and_debug_shows_no_secret() {
        let n = Notifier::off("p");
        assert!(!n.active());
        n.send("x", None, "m", BTreeMap::new());
        assert!(!format!("{n:?}").contains("http"));
    }

    /// A notifier for a `deploy` run whose notes land in the returned queue.
    fn recording(events: &[NotifyEvent], action: &str) -> (Notifier, mpsc::Receiver<Job>) {
        let (tx, rx) = mpsc::channel(64);
        let mut n = Notifier::off("p");
        n.tx = Some(tx);
        n.events = Arc::new(events.to_vec());
        (n.for_run(Some("a1"), action), rx)
    }

    fn sent(rx: &mut mpsc::Receiver<Job>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while let Ok(job) = rx.try_recv() {
            if let Job::Send(n) = job {
                out.push((n.event.clone(), n.message.clone()));
            }
        }
        out
    }

    fn failed_attempt(instance: &str, attempt: u64, class: ErrorClass) -> Event {
        Event::AttemptFailed {
            instance: instance.into(),
            attempt,
            placement: crate::model::PlacementInfo {
                label: "AD-1".into(),
                zone: None,
            },
            class,
            message: "Out of host capacity.".into(),
            next_try_in: None,
        }
    }

    fn result(instance: &str, outcome: Outcome) -> Event {
        Event::Report(Box::new(crate::model::ResourceReport::new(
            instance, "Instance", instance, outcome, "why",
        )))
    }

    #[test]
    fn default_events_leave_out_start_and_attempt_notes() {
        let (n, mut rx) = recording(&NotifyEvent::DEFAULT, "deploy");
        n.run_started("1 x VM.Standard.A1.Flex");
        n.event(Event::AttemptStarted {
            instance: "a1-01".into(),
            attempt: 1,
            placement: crate::model::PlacementInfo {
                label: "AD-1".into(),
                zone: None,
            },
        });
        n.event(failed_attempt("a1-01", 10, ErrorClass::Capacity));
        n.run_finished(None);
        assert_eq!(sent(&mut rx), vec![]);
    }

    #[test]
    fn a_run_with_nothing_to_do_sends_no_start_note() {
        let (n, mut rx) = recording(&ALL, "deploy");
        n.run_started("1 x shape");
        n.event(result("a1-01", Outcome::Skipped));
        n.run_finished(None);
        assert_eq!(sent(&mut rx), vec![]);
        let (n, mut rx) = recording(&ALL, "deploy");
        n.run_started("1 x shape");
        n.event(failed_attempt("a1-01", 1, ErrorClass::Capacity));
        n.event(result("a1-01", Outcome::Failed));
        n.run_finished(None);
        assert_eq!(
            sent(&mut rx),
            vec![("run_started".into(), "deploy started: 1 x shape".into())]
        );
    }

    #[test]
    fn a_capacity_miss_is_not_failed_but_a_fatal_class_is() {
        let (n, mut rx) = recording(&NotifyEvent::DEFAULT, "deploy");
        n.event(failed_attempt("a1-01", 3, ErrorClass::Capacity));
        n.event(result("a1-01", Outcome::Failed));
        n.event(failed_attempt("a1-02", 1, ErrorClass::Auth));
        n.event(result("a1-02", Outcome::Failed));
        n.run_finished(None);
        assert_eq!(
            sent(&mut rx),
            vec![(
                "failed".into(),
                "deploy failed: 1 resource(s) failed: Instance a1-02: why".into()
            )]
        );
    }

    #[test]
    fn a_manual_start_sends_a_done_note() {
        let (n, mut rx) = recording(&NotifyEvent::DEFAULT, "start");
        n.run_started("every spec of the project");
        n.event(result("web-01", Outcome::Success));
        n.event(result("web-02", Outcome::Success));
        n.event(result("web-03", Outcome::Skipped));
        n.run_finished(None);
        assert_eq!(
            sent(&mut rx),
            vec![(
                "success".into(),
                "start done: web-01, web-02 started".into()
            )]
        );
    }
}
