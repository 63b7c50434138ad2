//! `delete`: remove the managed resources of instances, in reverse dependency order, riding
//! out transient errors and throttling so that one run converges.

use std::collections::BTreeMap;

use futures::StreamExt;
use tokio::time::Instant;

use super::retry::RetryPolicy;
use super::step::{StepRetry, Visibility};
use crate::model::{DeleteOptions, Event, Existing, Observer, Outcome, ResourceReport};
use crate::provider::Provider;

/// Deletes `instances` (already listed by ownership labels and confirmed by the caller).
pub(crate) async fn delete<P: Provider>(
    provider: &P,
    instances: &[Existing],
    options: &DeleteOptions,
    (parallel, policy): (usize, &RetryPolicy),
    observer: &dyn Observer,
) -> Vec<ResourceReport> {
    let run_started = Instant::now();
    let results: Vec<Vec<ResourceReport>> = futures::stream::iter(instances)
        .map(|e| async move {
            let reports = delete_one(provider, e, options, policy, run_started, observer).await;
            for r in &reports {
                observer.event(Event::Report(Box::new(r.clone())));
            }
            reports
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    results.into_iter().flatten().collect()
}

/// One instance: each resource is reported once, with its final outcome, however many tries
/// the instance took (an object deleted by the first try stays `deleted`, not `already gone`).
async fn delete_one<P: Provider>(
    provider: &P,
    e: &Existing,
    options: &DeleteOptions,
    policy: &RetryPolicy,
    run_started: Instant,
    observer: &dyn Observer,
) -> Vec<ResourceReport> {
    // What a `select:` spec picked is not vauto's: it is never deleted, whoever asks.
    if !e.owned {
        let (kind, name) = e
            .resources
            .last()
            .cloned()
            .unwrap_or_else(|| ("Instance".to_string(), e.name.clone()));
        return vec![ResourceReport::new(
            &e.name,
            &kind,
            &name,
            Outcome::Failed,
            "selected, not created by vauto: it is never deleted",
        )];
    }
    let mut retry = StepRetry::new(
        policy,
        run_started,
        (&e.name, "delete"),
        Visibility::Notes,
        observer,
    );
    let mut done: BTreeMap<(String, String), ResourceReport> = BTreeMap::new();
    let mut order: Vec<(String, String)> = Vec::new();
    loop {
        retry.start();
        let attempt = provider.delete(e, options).await;
        for r in attempt.reports {
            let key = (r.kind.clone(), r.name.clone());
            if let std::collections::btree_map::Entry::Vacant(slot) = done.entry(key.clone()) {
                order.push(key);
                slot.insert(r);
            }
        }
        let Some(err) = attempt.error else {
            break;
        };
        if let Err(reason) = retry.after(&err).await {
            let (kind, name) = attempt
                .resource
                .unwrap_or_else(|| ("Instance".to_string(), e.name.clone()));
            let key = (kind.clone(), name.clone());
            order.push(key.clone());
            done.insert(
                key,
                ResourceReport::new(&e.name, &kind, &name, Outcome::Failed, reason),
            );
            break;
        }
    }
    order.into_iter().filter_map(|k| done.remove(&k)).collect()
}
