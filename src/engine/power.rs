//! `start` / `stop`: power actions on existing managed instances, retried like a deploy.
//!
//! A start can meet "Out of host capacity" (an Always Free A1 instance reclaimed by Oracle
//! often does): it hunts capacity with the same policy, journal lines and notifications as
//! deploy. Stops, and starts, ride out transient errors and throttling.

use futures::StreamExt;
use tokio::time::Instant;

use super::retry::RetryPolicy;
use super::step::{StepRetry, Visibility};
use crate::model::{Event, Existing, Observer, Outcome, Power, ResourceReport};
use crate::provider::Provider;

/// How long a `--wait` lasts without `--deadline`.
const DEFAULT_WAIT: std::time::Duration = std::time::Duration::from_secs(1800);

/// How a power run goes.
#[derive(Debug, Clone)]
pub(crate) struct PowerOptions {
    /// Start or stop.
    pub(crate) action: Power,
    /// Wait until each instance is in the requested state.
    pub(crate) wait: bool,
    /// Instances worked on at once.
    pub(crate) parallel: usize,
    /// The retry policy (its deadline counts from the run's start).
    pub(crate) policy: RetryPolicy,
    /// Started by the daemon: a start that ran out of attempts or time while every error
    /// was a capacity miss is [`Outcome::NoCapacity`] (the hunt goes on), not failed.
    pub(crate) hunt: bool,
}

/// Starts or stops each of `instances`.
pub(crate) async fn power<P: Provider>(
    provider: &P,
    instances: &[Existing],
    opts: &PowerOptions,
    observer: &dyn Observer,
) -> Vec<ResourceReport> {
    let run_started = Instant::now();
    futures::stream::iter(instances)
        .map(|e| async move {
            let r = power_one(provider, e, opts, run_started, observer).await;
            observer.event(Event::Report(Box::new(r.clone())));
            r
        })
        .buffer_unordered(opts.parallel.max(1))
        .collect()
        .await
}

/// One instance's power action, retried by the policy (a start hunts capacity).
pub(super) async fn power_one<P: Provider>(
    provider: &P,
    e: &Existing,
    opts: &PowerOptions,
    run_started: Instant,
    observer: &dyn Observer,
) -> ResourceReport {
    let (what, visibility) = match opts.action {
        Power::Start => ("start", Visibility::Attempts),
        Power::Stop | Power::SoftStop { .. } => ("stop", Visibility::Notes),
    };
    let mut retry = StepRetry::new(
        &opts.policy,
        run_started,
        (&e.name, what),
        visibility,
        observer,
    );
    loop {
        retry.start();
        // A wait obeys what is left of `--deadline` (30 min without one).
        let wait = opts.wait.then(|| match opts.policy.deadline {
            Some(d) => d.saturating_sub(run_started.elapsed()),
            None => DEFAULT_WAIT,
        });
        let err = match provider.power(e, opts.action, wait).await {
            Ok(mut r) => {
                r.started = opts.action == Power::Start && r.outcome == Outcome::Success;
                return r;
            }
            Err(err) => err,
        };
        if let Err(reason) = retry.after(&err).await {
            // The instance's main resource (the VM, the OCI instance) is the one powered.
            let (kind, name) = e
                .resources
                .last()
                .map_or(("Instance", e.name.as_str()), |(k, n)| {
                    (k.as_str(), n.as_str())
                });
            if opts.hunt && opts.action == Power::Start && retry.out_of_time_without_capacity() {
                let why = format!(
                    "no capacity yet to start (attempt {}); the hunt goes on",
                    retry.attempts()
                );
                return ResourceReport::new(&e.name, kind, name, Outcome::NoCapacity, why);
            }
            return ResourceReport::new(&e.name, kind, name, Outcome::Failed, reason);
        }
    }
}
