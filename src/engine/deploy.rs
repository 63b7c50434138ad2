//! `deploy`: create every missing resource, retrying by error class, in parallel with a bound.

use std::collections::{BTreeMap, BTreeSet};
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
pub(crate) struct DeployOptions {
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
    /// Started by the daemon (a capacity hunt pass or a scheduled deploy): an instance that
    /// runs out of attempts or time with nothing but capacity misses is
    /// [`Outcome::NoCapacity`], not failed.
    pub hunt: bool,
    /// Attempts already made per instance by earlier runs (from the journal): attempt
    /// numbers go on from there.
    pub attempt_base: BTreeMap<String, u64>,
}

/// Deploys `plan` on `provider`; returns every report (also sent to `observer`).
///
/// Fails as a whole only when the existing instances cannot be listed.
pub(crate) async fn deploy<P: Provider>(
    provider: &P,
    plan: &Plan,
    opts: &DeployOptions,
    observer: &dyn Observer,
) -> Result<Vec<ResourceReport>, ProviderError> {
    // `--deadline` bounds the run from its start, not each instance's first attempt.
    let run_started = tokio::time::Instant::now();
    let scope = Scope {
        spec: Some(plan.spec.name.0.clone()),
        target: None,
        select: None,
    };
    let existing = super::retry::retry_reads(&opts.policy, || provider.list(&scope)).await?;
    let wanted: BTreeSet<&str> = plan.instances.iter().map(|i| i.name.as_str()).collect();
    if plan.target.is_none() {
        for e in existing
            .iter()
            .filter(|e| !wanted.contains(e.name.as_str()))
        {
            observer.event(Event::Note {
                message: format!(
                    "instance `{}` exists beyond the {} requested replicas: left alone (delete it with --target {})",
                    e.name,
                    plan.instances.len(),
                    e.name
                ),
            });
        }
    }
    let prepared = provider.prepare(plan).await;
    for r in &prepared.reports {
        observer.event(Event::Report(Box::new(r.clone())));
    }
    if let Some(e) = prepared.error {
        return Err(e);
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
                    (opts.seed.wrapping_add(i as u64), run_started),
                    observer,
                )
            })
            .buffer_unordered(parallel)
            .collect()
            .await;
    Ok(prepared
        .reports
        .into_iter()
        .chain(results.into_iter().flatten())
        .collect())
}

/// Records `r` as the outcome of its object so far: each object is reported once per run.
///
/// A later attempt finds what an earlier one created (`Skipped`, "already exists"): the
/// object stays `created`. Any other later outcome is the object's final one and replaces
/// the earlier, in the earlier's place.
fn record(out: &mut Vec<ResourceReport>, r: ResourceReport) {
    match out
        .iter_mut()
        .find(|o| o.kind == r.kind && o.name == r.name)
    {
        Some(old) if old.outcome == Outcome::Success && r.outcome == Outcome::Skipped => {}
        Some(old) => *old = r,
        None => out.push(r),
    }
}

/// The provider's `ssh <user>@<ip>` made a command that works: with `-i` and the private key
/// when vauto knows it; none when no key was authorised.
fn ssh_hint(plan: &Plan, inst: &DesiredInstance, hint: Option<String>) -> Option<String> {
    let hint = hint.filter(|_| !inst.ssh_authorized_keys.is_empty())?;
    Some(
        match (
            crate::plan::private_key(plan, inst),
            hint.strip_prefix("ssh "),
        ) {
            (Some(key), Some(rest)) => format!("ssh -i {} {rest}", key.display()),
            _ => hint,
        },
    )
}

/// Folds the wait's report into the created object's: one line says it was created and
/// runs (or does not), with the addresses the wait found.
fn record_wait(out: &mut Vec<ResourceReport>, waited: ResourceReport) {
    let Some(old) = out
        .iter_mut()
        .find(|o| o.kind == waited.kind && o.name == waited.name)
    else {
        out.push(waited);
        return;
    };
    let mut details = waited.details;
    let before = std::mem::take(&mut old.details);
    for (slot, earlier) in [
        (&mut details.availability_domain, before.availability_domain),
        (&mut details.id, before.id),
        (&mut details.launch_result, before.launch_result),
        (&mut details.private_key, before.private_key),
        (&mut details.shape, before.shape),
        (&mut details.size, before.size),
        (&mut details.warning, before.warning),
    ] {
        if slot.is_none() {
            *slot = earlier;
        }
    }
    old.details = details;
    old.reason = match (old.reason.is_empty(), waited.reason.is_empty()) {
        (true, _) => waited.reason,
        (false, true) => std::mem::take(&mut old.reason),
        (false, false) => format!("{}, {}", old.reason, waited.reason),
    };
    if waited.outcome == Outcome::Failed {
        old.outcome = Outcome::Failed;
    }
}

async fn deploy_one<P: Provider>(
    provider: &P,
    plan: &Plan,
    inst: &DesiredInstance,
    found: Option<&Existing>,
    opts: &DeployOptions,
    (seed, run_started): (u64, tokio::time::Instant),
    observer: &dyn Observer,
) -> Vec<ResourceReport> {
    let mut run = InstanceRun {
        provider,
        plan,
        inst,
        opts,
        observer,
        state: RetryState::new(opts.policy.clone(), seed),
        base: opts.attempt_base.get(&inst.name).copied().unwrap_or(0),
        started: run_started,
        out: Vec::new(),
    };
    if let Some(e) = found.filter(|e| e.complete) {
        run.skip_existing(e);
        // An instance that exists but is stopped is not deployed until it runs: with `--wait`
        // it is started (a capacity hunt, when it comes to that, is a start, not a success).
        // Not one whose spec keeps it stopped (KubeVirt `run_strategy: Halted` or `Manual`).
        if opts.wait && e.stopped() && plan.spec.starts_on_create() {
            run.start_stopped(e).await;
        }
    } else if let Some(placements) = run.placements().await {
        run.attempt_rounds(&placements).await;
    }
    // Told once the instance is done, so that a retried object shows only its final outcome.
    for r in &run.out {
        observer.event(Event::Report(Box::new(r.clone())));
    }
    run.out
}

/// What one pass over a round's placements ended with.
enum RoundEnd {
    /// The instance is done (created, or failed for good).
    Done,
    /// Start the next round (after a wait, or with a zone dropped).
    Again,
}

/// One instance's way through the attempts: its retry state and the reports so far.
struct InstanceRun<'a, P: Provider> {
    provider: &'a P,
    plan: &'a Plan,
    inst: &'a DesiredInstance,
    opts: &'a DeployOptions,
    observer: &'a dyn Observer,
    state: RetryState,
    /// Attempts made by earlier runs: this run's attempt 1 is said as `base + 1`.
    base: u64,
    /// The run's start: `--deadline` counts from here.
    started: tokio::time::Instant,
    out: Vec<ResourceReport>,
}

impl<P: Provider> InstanceRun<'_, P> {
    fn emit(&mut self, r: ResourceReport) {
        record(&mut self.out, r);
    }

    fn fail(&mut self, reason: String) {
        let name = &self.inst.name;
        if self.opts.hunt && self.state.out_of_time_without_capacity() {
            let r = ResourceReport::new(
                name,
                "Instance",
                name,
                Outcome::NoCapacity,
                format!(
                    "no capacity yet (attempt {}); the hunt goes on",
                    self.base + self.state.attempts()
                ),
            );
            self.emit(r);
            return;
        }
        let r = ResourceReport::new(name, "Instance", name, Outcome::Failed, reason);
        self.emit(r);
    }

    /// Every resource of a complete instance is `[SKIPPED]`; the instance's own line says
    /// its state when it is not running (`exists (STOPPED)`).
    fn skip_existing(&mut self, e: &Existing) {
        let name = self.inst.name.clone();
        let state = e.state.as_deref().filter(|_| !e.running());
        for (kind, rname) in &e.resources {
            let reason = match state {
                Some(s) if *rname == name => format!("exists ({s})"),
                _ => "already exists".to_string(),
            };
            self.emit(ResourceReport::new(
                &name,
                kind,
                rname,
                Outcome::Skipped,
                reason,
            ));
        }
        if e.resources.is_empty() {
            self.emit(ResourceReport::new(
                &name,
                "Instance",
                &name,
                Outcome::Skipped,
                "already exists",
            ));
        }
    }

    /// Starts a stopped instance and waits for it, retried like `start`; its line replaces
    /// the `[SKIPPED]` one.
    async fn start_stopped(&mut self, e: &Existing) {
        let opts = super::PowerOptions {
            action: crate::model::Power::Start,
            wait: true,
            parallel: 1,
            policy: self.opts.policy.clone(),
            hunt: self.opts.hunt,
        };
        let r = super::power::power_one(self.provider, e, &opts, self.started, self.observer).await;
        self.emit(r);
    }

    /// The placements to go through, or `None` when the instance failed getting them.
    async fn placements(&mut self) -> Option<Vec<P::Placement>> {
        loop {
            match self.provider.placements(self.plan, self.inst).await {
                Ok(p) if !p.is_empty() => return Some(p),
                Ok(_) => {
                    self.fail("no placement to try".into());
                    return None;
                }
                Err(e) => match self.state.on_error(&e, false, self.started.elapsed()) {
                    Decision::RetrySame(w) => tokio::time::sleep(w).await,
                    _ => {
                        self.fail(e.message);
                        return None;
                    }
                },
            }
        }
    }

    /// Rounds over the placements whose zone was not dropped, until done.
    async fn attempt_rounds(&mut self, placements: &[P::Placement]) {
        let mut dropped: BTreeSet<String> = BTreeSet::new();
        loop {
            let round: Vec<(&P::Placement, PlacementInfo)> = placements
                .iter()
                .map(|p| (p, p.info()))
                .filter(|(_, info)| info.zone.as_ref().is_none_or(|z| !dropped.contains(z)))
                .collect();
            if round.is_empty() {
                self.fail(
                    "not offered at any placement: every one was dropped for this run".into(),
                );
                return;
            }
            match self.round(&round, &mut dropped).await {
                RoundEnd::Done => return,
                RoundEnd::Again => {}
            }
        }
    }

    /// One round: each placement in turn until one succeeds or a decision ends the round.
    async fn round(
        &mut self,
        round: &[(&P::Placement, PlacementInfo)],
        dropped: &mut BTreeSet<String>,
    ) -> RoundEnd {
        let mut last_error = None;
        for (idx, (placement, info)) in round.iter().enumerate() {
            if info.zone.as_ref().is_some_and(|z| dropped.contains(z)) {
                continue;
            }
            loop {
                let Some((err, failure_reported)) = self.attempt(placement, info).await else {
                    return RoundEnd::Done;
                };
                let last_in_round = idx + 1 == round.len();
                match self.decide(&err, info, last_in_round) {
                    Decision::NextPlacement => {}
                    Decision::RetrySame(w) => {
                        tokio::time::sleep(w).await;
                        continue;
                    }
                    Decision::NextRound(w) => {
                        tokio::time::sleep(w).await;
                        return RoundEnd::Again;
                    }
                    Decision::NotHere => {
                        if !self.not_here(&err, info, failure_reported, dropped) {
                            return RoundEnd::Done;
                        }
                    }
                    Decision::GiveUp(reason) => {
                        if !failure_reported {
                            self.fail(reason);
                        }
                        return RoundEnd::Done;
                    }
                    Decision::CheckThenFail(reason) => {
                        self.check_then_fail(reason).await;
                        return RoundEnd::Done;
                    }
                }
                last_error = Some(err);
                break;
            }
        }
        self.between_rounds(round, dropped, last_error).await
    }

    /// A round whose last placements were dropped ends without a wait of its own; the next
    /// one (if any placement is left) still waits, so no placement is asked again at once.
    async fn between_rounds(
        &mut self,
        round: &[(&P::Placement, PlacementInfo)],
        dropped: &BTreeSet<String>,
        last_error: Option<ProviderError>,
    ) -> RoundEnd {
        let left = round
            .iter()
            .any(|(_, i)| i.zone.as_ref().is_none_or(|z| !dropped.contains(z)));
        let Some(err) = last_error.filter(|_| left) else {
            return RoundEnd::Again;
        };
        match self.state.round_over(&err, self.started.elapsed()) {
            Decision::NextRound(w) => {
                tokio::time::sleep(w).await;
                RoundEnd::Again
            }
            Decision::GiveUp(reason) => {
                self.fail(reason);
                RoundEnd::Done
            }
            _ => RoundEnd::Again,
        }
    }

    /// One create attempt; `None` when it succeeded (and was waited for, if asked), else the
    /// error and whether a resource line already reported the failure.
    async fn attempt(
        &mut self,
        placement: &P::Placement,
        info: &PlacementInfo,
    ) -> Option<(ProviderError, bool)> {
        let attempt_no = self.base + self.state.start_attempt();
        self.observer.event(Event::AttemptStarted {
            instance: self.inst.name.clone(),
            attempt: attempt_no,
            placement: info.clone(),
        });
        let attempt = self
            .provider
            .create(self.plan, self.inst, placement, self.observer)
            .await;
        // A resource the provider already reported as failed (say, a look-alike that is not
        // ours) needs no second line for the instance.
        let failure_reported = attempt.reports.iter().any(|r| r.outcome == Outcome::Failed);
        for r in attempt.reports {
            self.emit(r);
        }
        match attempt.error {
            None => {
                // Said after every launch, with or without `--wait`.
                let key =
                    crate::plan::private_key(self.plan, self.inst).map(|k| k.display().to_string());
                if let Some(main) = self.out.iter_mut().find(|r| {
                    r.name == self.inst.name && r.outcome == Outcome::Success && !r.started
                }) {
                    main.details.private_key = key;
                }
                self.wait_running().await;
                None
            }
            Some(err) => Some((err, failure_reported)),
        }
    }

    /// With `--wait`, waits for the created instance to run: for `wait_timeout`, or what is
    /// left of `--deadline` when one is set.
    async fn wait_running(&mut self) {
        if !self.opts.wait || self.out.iter().any(|r| r.outcome == Outcome::Failed) {
            return;
        }
        let timeout = match self.opts.policy.deadline {
            Some(d) => d.saturating_sub(self.started.elapsed()),
            None => self.opts.wait_timeout,
        };
        let name = &self.inst.name;
        let waited = self
            .provider
            .wait_running(name, timeout, self.observer)
            .await;
        let r = match waited {
            Ok(r) => r,
            Err(e) => {
                // The object the wait was about: the last one created (the VM, the instance).
                let (kind, rname) = self
                    .out
                    .last()
                    .map_or(("Instance".to_string(), name.clone()), |o| {
                        (o.kind.clone(), o.name.clone())
                    });
                ResourceReport::new(
                    name,
                    &kind,
                    &rname,
                    Outcome::Failed,
                    format!("not running: {}", e.message),
                )
            }
        };
        let r = r.with(|d| d.ssh = ssh_hint(self.plan, self.inst, d.ssh.take()));
        record_wait(&mut self.out, r);
    }

    /// What follows a failed attempt; the observers hear of the failure and the wait.
    fn decide(&mut self, err: &ProviderError, info: &PlacementInfo, last: bool) -> Decision {
        let capability = self.provider.capability();
        let decision = if err.class == ErrorClass::Capacity && !capability.capacity_retry {
            Decision::GiveUp(err.message.clone())
        } else {
            self.state.on_error(err, last, self.started.elapsed())
        };
        let wait = match &decision {
            Decision::RetrySame(w) | Decision::NextRound(w) => Some(*w),
            _ => None,
        };
        self.observer.event(Event::AttemptFailed {
            instance: self.inst.name.clone(),
            attempt: self.base + self.state.attempts(),
            placement: info.clone(),
            class: err.class,
            message: err.message.clone(),
            next_try_in: wait,
        });
        decision
    }

    /// "Not offered here": drop the zone and go on (`true`), or fail the instance when
    /// there is no zone to drop (`false`).
    fn not_here(
        &mut self,
        err: &ProviderError,
        info: &PlacementInfo,
        failure_reported: bool,
        dropped: &mut BTreeSet<String>,
    ) -> bool {
        // Only a zone can be dropped: without one (or without placements to rotate) nothing
        // else is left to try, and trying again at once would hammer the API.
        let rotates = self.provider.capability().rotates_placements;
        match info.zone.as_ref().filter(|_| rotates) {
            Some(zone) => {
                self.observer.event(Event::Note {
                    message: format!("dropping `{zone}` for this run: {}", err.message),
                });
                dropped.insert(zone.clone());
                true
            }
            None => {
                if !failure_reported {
                    self.fail(err.message.clone());
                }
                false
            }
        }
    }

    /// A quota is exhausted: a launch that timed out earlier may have landed before the
    /// limit hit, so look before failing.
    async fn check_then_fail(&mut self, reason: String) {
        let inst = self.inst;
        let scope = Scope {
            spec: Some(inst.spec.clone()),
            target: Some(inst.name.clone()),
            select: None,
        };
        if let Ok(found) =
            super::retry::retry_reads(&self.opts.policy, || self.provider.list(&scope)).await
            && let Some(e) = found.iter().find(|e| e.name == inst.name)
        {
            let kind = e
                .resources
                .first()
                .map(|r| r.0.as_str())
                .unwrap_or("Instance");
            self.emit(ResourceReport::new(
                &inst.name,
                kind,
                &inst.name,
                Outcome::Success,
                "created (an earlier attempt landed)",
            ));
            return;
        }
        self.fail(format!("limit reached: {reason}"));
    }
}

#[cfg(test)]
#[path = "deploy_tests.rs"]
mod tests;
