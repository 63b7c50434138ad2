//! `deploy`: create every missing resource, retrying by error class, in parallel with a bound.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;

use super::retry::{Decision, RetryPolicy, RetryState};
use crate::model::{
    ErrorClass, Event, Existing, Observer, Outcome, PlacementInfo, ProviderError, ResourceReport,
    Scope,
};
use crate::plan::{DesiredInstance, Plan};
use crate::provider::{Placement, Provider};

/// Options of one deploy run.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Instances worked on at once.
    pub parallel: usize,
    /// Wait until each instance runs.
    pub wait: bool,
    /// How long `wait` may take per instance.
    pub wait_timeout: Duration,
    /// The retry policy.
    pub policy: RetryPolicy,
    /// Seed for jitter (tests make it reproducible).
    pub seed: u64,
}

/// Deploys `plan` on `provider`; returns every report (also sent to `observer`).
///
/// Fails as a whole only when the existing instances cannot be listed.
pub async fn deploy<P: Provider>(
    provider: &P,
    plan: &Plan,
    opts: &DeployOptions,
    observer: &dyn Observer,
) -> Result<Vec<ResourceReport>, ProviderError> {
    let scope = Scope {
        project: plan.project.name.0.clone(),
        spec: Some(plan.spec.name.0.clone()),
        target: None,
    };
    let existing = super::retry::retry_reads(&opts.policy, || provider.list(&scope)).await?;
    let wanted: BTreeSet<&str> = plan.instances.iter().map(|i| i.name.as_str()).collect();
    if plan.target.is_none() {
        for e in existing
            .iter()
            .filter(|e| !wanted.contains(e.name.as_str()))
        {
            observer.event(Event::Note {
                instance: Some(e.name.clone()),
                message: format!(
                    "instance `{}` exists beyond the {} requested replicas: left alone (delete it with --target {})",
                    e.name,
                    plan.instances.len(),
                    e.name
                ),
            });
        }
    }
    let parallel = opts.parallel.max(1);
    let results: Vec<Vec<ResourceReport>> =
        futures::stream::iter(plan.instances.iter().enumerate())
            .map(|(i, inst)| {
                let found = existing.iter().find(|e| e.name == inst.name);
                deploy_one(
                    provider,
                    plan,
                    inst,
                    found,
                    opts,
                    opts.seed.wrapping_add(i as u64),
                    observer,
                )
            })
            .buffer_unordered(parallel)
            .collect()
            .await;
    Ok(results.into_iter().flatten().collect())
}

fn emit(observer: &dyn Observer, out: &mut Vec<ResourceReport>, r: ResourceReport) {
    observer.event(Event::Report(Box::new(r.clone())));
    out.push(r);
}

async fn deploy_one<P: Provider>(
    provider: &P,
    plan: &Plan,
    inst: &DesiredInstance,
    found: Option<&Existing>,
    opts: &DeployOptions,
    seed: u64,
    observer: &dyn Observer,
) -> Vec<ResourceReport> {
    let mut out = Vec::new();
    if let Some(e) = found.filter(|e| e.complete) {
        for (kind, name) in &e.resources {
            emit(
                observer,
                &mut out,
                ResourceReport::new(&inst.name, kind, name, Outcome::Skipped, "already exists"),
            );
        }
        if e.resources.is_empty() {
            emit(
                observer,
                &mut out,
                ResourceReport::new(
                    &inst.name,
                    "Instance",
                    &inst.name,
                    Outcome::Skipped,
                    "already exists",
                ),
            );
        }
        return out;
    }
    let started = tokio::time::Instant::now();
    let mut state = RetryState::new(opts.policy.clone(), seed);
    let mut dropped: BTreeSet<String> = BTreeSet::new();
    let fail = |reason: String| {
        ResourceReport::new(&inst.name, "Instance", &inst.name, Outcome::Failed, reason)
    };

    let capability = provider.capability();
    let placements = loop {
        match provider.placements(plan, inst).await {
            Ok(p) if !p.is_empty() => break p,
            Ok(_) => {
                emit(observer, &mut out, fail("no placement to try".into()));
                return out;
            }
            Err(e) => match state.on_error(&e, false, started.elapsed()) {
                Decision::RetrySame(w) => tokio::time::sleep(w).await,
                _ => {
                    emit(observer, &mut out, fail(e.message));
                    return out;
                }
            },
        }
    };

    'rounds: loop {
        let round: Vec<(&P::Placement, PlacementInfo)> = placements
            .iter()
            .map(|p| (p, p.info()))
            .filter(|(_, info)| info.zone.as_ref().is_none_or(|z| !dropped.contains(z)))
            .collect();
        if round.is_empty() {
            emit(
                observer,
                &mut out,
                fail("not offered at any placement: every one was dropped for this run".into()),
            );
            return out;
        }
        let mut idx = 0;
        while idx < round.len() {
            let (placement, info) = &round[idx];
            let attempt_no = state.start_attempt();
            observer.event(Event::AttemptStarted {
                instance: inst.name.clone(),
                attempt: attempt_no,
                placement: info.clone(),
            });
            let attempt = provider.create(plan, inst, placement, observer).await;
            // A resource the provider already reported as failed (say, a look-alike that
            // is not ours) needs no second line for the instance.
            let failure_reported = attempt.reports.iter().any(|r| r.outcome == Outcome::Failed);
            for r in attempt.reports {
                emit(observer, &mut out, r);
            }
            let Some(err) = attempt.error else {
                if opts.wait && !out.iter().any(|r| r.outcome == Outcome::Failed) {
                    match provider
                        .wait_running(&inst.name, opts.wait_timeout, observer)
                        .await
                    {
                        Ok(r) => emit(observer, &mut out, r),
                        Err(e) => emit(
                            observer,
                            &mut out,
                            ResourceReport::new(
                                &inst.name,
                                "Instance",
                                &inst.name,
                                Outcome::Failed,
                                format!("not running: {}", e.message),
                            ),
                        ),
                    }
                }
                return out;
            };
            let last_in_round = idx + 1 == round.len();
            let decision = if err.class == ErrorClass::Capacity && !capability.capacity_retry {
                Decision::GiveUp(err.message.clone())
            } else {
                state.on_error(&err, last_in_round, started.elapsed())
            };
            let wait = match &decision {
                Decision::RetrySame(w) | Decision::NextRound(w) => Some(*w),
                _ => None,
            };
            observer.event(Event::AttemptFailed {
                instance: inst.name.clone(),
                attempt: attempt_no,
                placement: info.clone(),
                class: err.class,
                message: err.message.clone(),
                next_try_in: wait,
            });
            match decision {
                Decision::NextPlacement => idx += 1,
                Decision::RetrySame(w) => tokio::time::sleep(w).await,
                Decision::NextRound(w) => {
                    tokio::time::sleep(w).await;
                    continue 'rounds;
                }
                Decision::NotHere => {
                    // Only a zone can be dropped: without one (or without placements to rotate)
                    // nothing else is left to try, and trying again at once would hammer the API.
                    match info.zone.as_ref().filter(|_| capability.rotates_placements) {
                        Some(zone) => {
                            observer.event(Event::Note {
                                instance: Some(inst.name.clone()),
                                message: format!("dropping `{zone}` for this run: {}", err.message),
                            });
                            dropped.insert(zone.clone());
                        }
                        None => {
                            if !failure_reported {
                                emit(observer, &mut out, fail(err.message));
                            }
                            return out;
                        }
                    }
                    continue 'rounds;
                }
                Decision::GiveUp(reason) => {
                    if !failure_reported {
                        emit(observer, &mut out, fail(reason));
                    }
                    return out;
                }
                Decision::CheckThenFail(reason) => {
                    // A launch that timed out earlier may have landed before the limit hit.
                    let scope = Scope {
                        project: inst.project.clone(),
                        spec: Some(inst.spec.clone()),
                        target: Some(inst.name.clone()),
                    };
                    if let Ok(found) =
                        super::retry::retry_reads(&opts.policy, || provider.list(&scope)).await
                        && let Some(e) = found.iter().find(|e| e.name == inst.name)
                    {
                        let kind = e
                            .resources
                            .first()
                            .map(|r| r.0.as_str())
                            .unwrap_or("Instance");
                        emit(
                            observer,
                            &mut out,
                            ResourceReport::new(
                                &inst.name,
                                kind,
                                &inst.name,
                                Outcome::Success,
                                "created (an earlier attempt landed)",
                            ),
                        );
                        return out;
                    }
                    emit(observer, &mut out, fail(format!("limit reached: {reason}")));
                    return out;
                }
            }
        }
        // Every placement answered NextPlacement but the loop ended: start the next round.
    }
}

#[cfg(test)]
#[path = "deploy_tests.rs"]
mod tests;
