//! Orchestration tests with a scripted test double of the provider trait.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::config::{Project, Spec};
use crate::model::{
    Action, DeleteOptions, ErrorClass, InstanceStatus, PlacementInfo, Power, ProviderError,
    ProviderKind, Recorder, StatusOptions,
};
use crate::provider::{Attempt, Capability};

/// The double's placement: an availability-domain-like zone, or none.
#[derive(Debug, Clone, Default)]
struct Zone(Option<String>);

impl Placement for Zone {
    fn info(&self) -> PlacementInfo {
        PlacementInfo {
            label: self.0.clone().unwrap_or_else(|| "-".into()),
            zone: self.0.clone(),
        }
    }
}

/// A provider whose create results are scripted per instance; it records every call.
#[derive(Default)]
struct Fake {
    existing: Vec<Existing>,
    script: Mutex<BTreeMap<String, VecDeque<Result<(), ProviderError>>>>,
    calls: Mutex<Vec<(String, Option<String>)>>,
    /// Errors the next deletes meet after deleting the VM (before the disk).
    delete_errors: Mutex<VecDeque<ProviderError>>,
    /// Instances whose VM a delete already removed.
    deleted: Mutex<std::collections::BTreeSet<String>>,
    /// When each create was sent (the test clock).
    sent_at: Mutex<Vec<(Option<String>, tokio::time::Instant)>>,
    ads: Vec<&'static str>,
    in_flight: Mutex<(usize, usize)>,
}

impl Provider for Fake {
    type Placement = Zone;
    fn kind(&self) -> ProviderKind {
        ProviderKind::Oci
    }
    const CAPABILITY: Capability = Capability {
        actions: &[Action::Deploy],
        rotates_placements: true,
        capacity_retry: true,
        keeps_boot_volume: false,
        events: false,
    };
    fn capability(&self) -> Capability {
        Capability {
            rotates_placements: !self.ads.is_empty(),
            ..Self::CAPABILITY
        }
    }
    async fn list(&self, scope: &Scope) -> Result<Vec<Existing>, ProviderError> {
        Ok(self
            .existing
            .iter()
            .filter(|e| scope.target.as_ref().is_none_or(|t| *t == e.name))
            .cloned()
            .collect())
    }
    async fn placements(&self, _: &Plan, _: &DesiredInstance) -> Result<Vec<Zone>, ProviderError> {
        if self.ads.is_empty() {
            return Ok(vec![Zone(None)]);
        }
        Ok(self
            .ads
            .iter()
            .map(|ad| Zone(Some(ad.to_string())))
            .collect())
    }
    async fn create(
        &self,
        _: &Plan,
        inst: &DesiredInstance,
        p: &Zone,
        _: &dyn Observer,
    ) -> Attempt {
        {
            let mut f = self.in_flight.lock().unwrap();
            f.0 += 1;
            f.1 = f.1.max(f.0);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        self.in_flight.lock().unwrap().0 -= 1;
        self.calls
            .lock()
            .unwrap()
            .push((inst.name.clone(), p.0.clone()));
        self.sent_at
            .lock()
            .unwrap()
            .push((p.0.clone(), tokio::time::Instant::now()));
        let next = self
            .script
            .lock()
            .unwrap()
            .get_mut(&inst.name)
            .and_then(|q| q.pop_front());
        match next {
            Some(Err(e)) => Attempt {
                error: Some(e),
                ..Attempt::default()
            },
            _ => Attempt {
                reports: vec![ResourceReport::new(
                    &inst.name,
                    "Instance",
                    &inst.name,
                    Outcome::Success,
                    "created",
                )],
                ..Attempt::default()
            },
        }
    }
    async fn wait_running(
        &self,
        name: &str,
        _: Duration,
        _: &dyn Observer,
    ) -> Result<ResourceReport, ProviderError> {
        Ok(ResourceReport::new(
            name,
            "Instance",
            name,
            Outcome::Success,
            "running",
        ))
    }
    async fn delete(&self, e: &Existing, _: &DeleteOptions) -> Attempt {
        let first = self.deleted.lock().unwrap().insert(e.name.clone());
        let why = if first { "deleted" } else { "already gone" };
        let vm = ResourceReport::new(&e.name, "VirtualMachine", &e.name, Outcome::Deleted, why);
        let disk = format!("{}-disk", e.name);
        match self.delete_errors.lock().unwrap().pop_front() {
            Some(err) => Attempt {
                reports: vec![vm],
                error: Some(err),
                resource: Some(("DataVolume".into(), disk)),
            },
            None => Attempt {
                reports: vec![
                    vm,
                    ResourceReport::new(&e.name, "DataVolume", &disk, Outcome::Deleted, "deleted"),
                ],
                ..Attempt::default()
            },
        }
    }
    async fn status(
        &self,
        _: &Scope,
        _: &StatusOptions,
    ) -> Result<Vec<InstanceStatus>, ProviderError> {
        Ok(vec![])
    }
    async fn adopt(&self, _plan: &Plan, _id: &str) -> Result<ResourceReport, ProviderError> {
        Err(ProviderError::new(ErrorClass::Invalid, "not in this fake"))
    }

    async fn power(
        &self,
        e: &Existing,
        _: Power,
        _: Option<Duration>,
    ) -> Result<ResourceReport, ProviderError> {
        let next = self
            .script
            .lock()
            .unwrap()
            .get_mut(&e.name)
            .and_then(|q| q.pop_front());
        self.sent_at
            .lock()
            .unwrap()
            .push((None, tokio::time::Instant::now()));
        match next {
            Some(Err(err)) => Err(err),
            _ => Ok(ResourceReport::new(
                &e.name,
                "Instance",
                &e.name,
                Outcome::Success,
                "started",
            )),
        }
    }
}

fn plan(replicas: u32) -> Plan {
    let project: Project = crate::config::testing::project("provider: oci\noci: {subnet: s}\n");
    let mut spec: Spec = crate::config::testing::spec(
        "shape: VM.Standard.E2.1.Micro\nimage: {id: ocid1.image.oc1..x}\n",
        ProviderKind::Oci,
    );
    spec.replicas = replicas;
    let instances = (0..replicas)
        .map(|i| DesiredInstance {
            name: format!("web-{:02}", i + 1),
            index: i,
            project: "lab".into(),
            spec: "web".into(),
            labels: crate::plan::ownership_labels("lab", "web", &format!("web-{:02}", i + 1)),
            static_ip: None,
            user_data: String::new(),
            network_data: None,
            ssh_authorized_keys: vec![],
        })
        .collect();
    Plan {
        project,
        spec,
        instances,
        notes: vec![],
        target: None,
    }
}

fn opts() -> DeployOptions {
    let mut policy = RetryPolicy::from_config(&crate::config::Retry::default());
    policy.jitter = Duration::ZERO;
    DeployOptions {
        parallel: 8,
        wait: false,
        wait_timeout: Duration::from_secs(60),
        policy,
        seed: 1,
        hunt: false,
        attempt_base: BTreeMap::new(),
    }
}

fn existing(name: &str) -> Existing {
    Existing {
        name: name.into(),
        spec: "web".into(),
        id: format!("id-{name}"),
        complete: true,
        resources: vec![("Instance".into(), name.into())],
        state: None,
        owned: true,
    }
}

fn outcomes(r: &[ResourceReport]) -> Vec<(String, Outcome)> {
    let mut v: Vec<_> = r.iter().map(|r| (r.name.clone(), r.outcome)).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[tokio::test(start_paused = true)]
async fn existing_instances_are_skipped_and_missing_ones_created() {
    let fake = Fake {
        existing: vec![existing("web-01")],
        ..Fake::default()
    };
    let rec = Recorder::default();
    let reports = deploy(&fake, &plan(2), &opts(), &rec).await.unwrap();
    assert_eq!(
        outcomes(&reports),
        vec![
            ("web-01".into(), Outcome::Skipped),
            ("web-02".into(), Outcome::Success)
        ]
    );
    assert_eq!(
        fake.calls.lock().unwrap().len(),
        1,
        "web-01 must not be created again"
    );
}

#[tokio::test(start_paused = true)]
async fn capacity_rotates_domains_then_waits_a_round() {
    let cap = || {
        Err(ProviderError::new(
            ErrorClass::Capacity,
            "Out of host capacity.",
        ))
    };
    let fake = Fake {
        ads: vec!["AD-1", "AD-2", "AD-3"],
        ..Fake::default()
    };
    fake.script.lock().unwrap().insert(
        "web-01".into(),
        VecDeque::from([cap(), cap(), cap(), cap(), Ok(())]),
    );
    let rec = Recorder::default();
    let start = tokio::time::Instant::now();
    let reports = deploy(&fake, &plan(1), &opts(), &rec).await.unwrap();
    assert_eq!(
        outcomes(&reports),
        vec![("web-01".into(), Outcome::Success)]
    );
    let ads: Vec<_> = fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.1.clone().unwrap())
        .collect();
    assert_eq!(ads, ["AD-1", "AD-2", "AD-3", "AD-1", "AD-2"]);
    // One full round failed: exactly one interval (60s, no jitter) was waited (plus 10ms per call).
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(60) && waited < Duration::from_secs(61),
        "{waited:?}"
    );
    let failed_attempts = rec
        .events()
        .iter()
        .filter(|e| matches!(e, Event::AttemptFailed { .. }))
        .count();
    assert_eq!(failed_attempts, 4);
}

#[tokio::test(start_paused = true)]
async fn fatal_error_fails_only_that_instance() {
    let fake = Fake::default();
    fake.script.lock().unwrap().insert(
        "web-02".into(),
        VecDeque::from([Err(ProviderError::new(
            ErrorClass::Auth,
            "not authenticated: check the key",
        ))]),
    );
    let reports = deploy(&fake, &plan(3), &opts(), &Recorder::default())
        .await
        .unwrap();
    assert_eq!(
        outcomes(&reports),
        vec![
            ("web-01".into(), Outcome::Success),
            ("web-02".into(), Outcome::Failed),
            ("web-03".into(), Outcome::Success)
        ]
    );
    assert!(reports.iter().any(|r| r.reason.contains("check the key")));
}

#[tokio::test(start_paused = true)]
async fn quota_checks_for_a_landed_launch_before_failing() {
    let fake = Fake {
        existing: vec![Existing {
            complete: false,
            ..existing("web-01")
        }],
        ..Fake::default()
    };
    fake.script.lock().unwrap().insert(
        "web-01".into(),
        VecDeque::from([Err(ProviderError::new(
            ErrorClass::Quota,
            "LimitExceeded: standard-a1-core-count",
        ))]),
    );
    let reports = deploy(&fake, &plan(1), &opts(), &Recorder::default())
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].outcome, Outcome::Success);
    assert!(reports[0].reason.contains("earlier attempt landed"));
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded_by_parallel() {
    let fake = Fake::default();
    let mut o = opts();
    o.parallel = 3;
    let reports = deploy(&fake, &plan(10), &o, &Recorder::default())
        .await
        .unwrap();
    assert_eq!(reports.len(), 10);
    let max = fake.in_flight.lock().unwrap().1;
    assert_eq!(max, 3, "at most --parallel creates at once, and it is used");
}

#[tokio::test(start_paused = true)]
async fn extras_beyond_replicas_are_reported_not_touched() {
    let fake = Fake {
        existing: vec![existing("web-01"), existing("web-05")],
        ..Fake::default()
    };
    let rec = Recorder::default();
    let reports = deploy(&fake, &plan(1), &opts(), &rec).await.unwrap();
    assert_eq!(
        outcomes(&reports),
        vec![("web-01".into(), Outcome::Skipped)]
    );
    assert!(rec.events().iter().any(|e| matches!(e, Event::Note { message, .. } if message.contains("web-05") && message.contains("left alone"))));
}

#[tokio::test(start_paused = true)]
async fn not_found_drops_the_domain_for_the_run() {
    let fake = Fake {
        ads: vec!["AD-1", "AD-2"],
        ..Fake::default()
    };
    fake.script.lock().unwrap().insert(
        "web-01".into(),
        VecDeque::from([
            Err(ProviderError::new(
                ErrorClass::NotFound,
                "shape VM.Standard.A1.Flex not found",
            )),
            Err(ProviderError::new(
                ErrorClass::Capacity,
                "Out of host capacity.",
            )),
            Ok(()),
        ]),
    );
    let reports = deploy(&fake, &plan(1), &opts(), &Recorder::default())
        .await
        .unwrap();
    assert_eq!(reports[0].outcome, Outcome::Success);
    let ads: Vec<_> = fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.1.clone().unwrap())
        .collect();
    assert_eq!(ads, ["AD-1", "AD-2", "AD-2"]);
}

/// A backend without zones (KubeVirt) that answers "not found" has nothing else to try:
/// the instance fails after one request instead of retrying at once forever.
#[tokio::test(start_paused = true)]
async fn not_found_without_a_zone_fails_at_once() {
    let fake = Fake::default();
    let missing = || {
        Err(ProviderError::new(
            ErrorClass::NotFound,
            "namespaces \"typo\" not found",
        ))
    };
    fake.script
        .lock()
        .unwrap()
        .insert("web-01".into(), VecDeque::from(vec![missing(); 50]));
    let reports = deploy(&fake, &plan(1), &opts(), &Recorder::default())
        .await
        .unwrap();
    assert_eq!(outcomes(&reports), vec![("web-01".into(), Outcome::Failed)]);
    assert_eq!(reports[0].reason, "namespaces \"typo\" not found");
    assert_eq!(fake.calls.lock().unwrap().len(), 1);
}

/// When every zone has been dropped, the instance fails with a reason, not a loop.
#[tokio::test(start_paused = true)]
async fn every_zone_dropped_fails_the_instance() {
    let fake = Fake {
        ads: vec!["AD-1", "AD-2"],
        ..Fake::default()
    };
    let missing = || Err(ProviderError::new(ErrorClass::NotFound, "shape not found"));
    fake.script
        .lock()
        .unwrap()
        .insert("web-01".into(), VecDeque::from(vec![missing(); 10]));
    let reports = deploy(&fake, &plan(1), &opts(), &Recorder::default())
        .await
        .unwrap();
    assert_eq!(reports[0].outcome, Outcome::Failed);
    assert_eq!(
        reports[0].reason,
        "not offered at any placement: every one was dropped for this run"
    );
    assert_eq!(fake.calls.lock().unwrap().len(), 2);
}

/// A zone dropped at the end of a round does not let the next round start at once: the
/// placement that was out of capacity is asked again only after the round wait.
#[tokio::test(start_paused = true)]
async fn a_dropped_last_zone_still_waits_before_the_next_round() {
    let fake = Fake {
        ads: vec!["AD-1", "AD-2"],
        ..Fake::default()
    };
    fake.script.lock().unwrap().insert(
        "web-01".into(),
        VecDeque::from([
            Err(ProviderError::new(
                ErrorClass::Capacity,
                "Out of host capacity.",
            )),
            Err(ProviderError::new(ErrorClass::NotFound, "shape not found")),
            Ok(()),
        ]),
    );
    let start = tokio::time::Instant::now();
    let reports = deploy(&fake, &plan(1), &opts(), &Recorder::default())
        .await
        .unwrap();
    assert_eq!(reports[0].outcome, Outcome::Success);
    let zones: Vec<_> = fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.1.clone().unwrap())
        .collect();
    assert_eq!(zones, ["AD-1", "AD-2", "AD-1"]);
    assert!(
        start.elapsed() >= Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
}

/// Whatever a backend answers, the engine never asks the same placement again at once, and
/// an instance sends a bounded number of requests per minute (design §4.3).
#[tokio::test(start_paused = true)]
async fn no_error_class_makes_the_engine_hammer_the_api() {
    let classes = [
        ErrorClass::Capacity,
        ErrorClass::Throttled,
        ErrorClass::Transient,
        ErrorClass::AlreadyExists,
        ErrorClass::NotFound,
        ErrorClass::Auth,
        ErrorClass::Invalid,
        ErrorClass::Quota,
    ];
    for class in classes {
        for ads in [vec![], vec!["AD-1", "AD-2", "AD-3"]] {
            let fake = Fake {
                ads,
                ..Fake::default()
            };
            let errors: VecDeque<_> = (0..200)
                .map(|_| Err(ProviderError::new(class, "boom")))
                .collect();
            fake.script.lock().unwrap().insert("web-01".into(), errors);
            let mut o = opts();
            o.policy.deadline = Some(Duration::from_secs(3600));
            deploy(&fake, &plan(1), &o, &Recorder::default())
                .await
                .unwrap();
            let sent = fake.sent_at.lock().unwrap().clone();
            for (i, (zone, at)) in sent.iter().enumerate() {
                if let Some((_, before)) = sent[..i].iter().rev().find(|(z, _)| z == zone) {
                    assert!(
                        *at - *before >= Duration::from_secs(1),
                        "{class:?}: the same placement was asked again after {:?}",
                        *at - *before
                    );
                }
                let minute = sent
                    .iter()
                    .filter(|(_, t)| *t >= *at && *t - *at < Duration::from_secs(60));
                assert!(
                    minute.count() <= 12,
                    "{class:?}: more than 12 requests in a minute"
                );
            }
        }
    }
}

/// `start` hunts capacity like a deploy: "Out of host capacity" waits a round and tries
/// again; a transient error waits its backoff; a fatal one fails at once.
#[tokio::test(start_paused = true)]
async fn start_waits_out_capacity_and_blips_then_fails_only_on_fatal_errors() {
    let fake = Fake::default();
    fake.script.lock().unwrap().insert(
        "web-01".into(),
        VecDeque::from([
            Err(ProviderError::new(
                ErrorClass::Capacity,
                "Out of host capacity.",
            )),
            Err(ProviderError::new(
                ErrorClass::Transient,
                "server error 503",
            )),
            Ok(()),
        ]),
    );
    fake.script.lock().unwrap().insert(
        "web-02".into(),
        VecDeque::from([Err(ProviderError::new(ErrorClass::Auth, "not allowed"))]),
    );
    let mut policy = opts().policy;
    policy.deadline = Some(Duration::from_secs(600));
    let opts = crate::engine::PowerOptions {
        action: Power::Start,
        wait: false,
        parallel: 1,
        policy,
        hunt: false,
    };
    let rec = Recorder::default();
    let start = tokio::time::Instant::now();
    let mut reports = crate::engine::power(
        &fake,
        &[existing("web-01"), existing("web-02")],
        &opts,
        &rec,
    )
    .await;
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        outcomes(&reports),
        vec![
            ("web-01".into(), Outcome::Success),
            ("web-02".into(), Outcome::Failed)
        ]
    );
    assert_eq!(reports[1].reason, "not allowed");
    // One round wait (60 s, no jitter) and one transient backoff (1-1.25 s).
    assert!(
        start.elapsed() >= Duration::from_secs(61),
        "{:?}",
        start.elapsed()
    );
    let attempts = rec
        .events()
        .iter()
        .filter(|e| matches!(e, Event::AttemptStarted { .. }))
        .count();
    assert_eq!(attempts, 4, "web-01 three tries, web-02 one");
}

/// A daemon-started `start` that runs out of attempts while every error was a capacity miss
/// found no capacity yet (the hunt goes on); the same start typed by hand failed; a start
/// that met a fatal error failed in both.
#[tokio::test(start_paused = true)]
async fn a_hunting_start_without_capacity_is_no_capacity_yet_not_failed() {
    let capacity = || {
        Err(ProviderError::new(
            ErrorClass::Capacity,
            "Out of host capacity.",
        ))
    };
    for (hunt, want) in [(true, Outcome::NoCapacity), (false, Outcome::Failed)] {
        let fake = Fake::default();
        fake.script
            .lock()
            .unwrap()
            .insert("web-01".into(), VecDeque::from([capacity(), capacity()]));
        fake.script.lock().unwrap().insert(
            "web-02".into(),
            VecDeque::from([Err(ProviderError::new(ErrorClass::Auth, "not allowed"))]),
        );
        let mut policy = opts().policy;
        policy.max_attempts = 2;
        let opts = crate::engine::PowerOptions {
            action: Power::Start,
            wait: false,
            parallel: 1,
            policy,
            hunt,
        };
        let mut reports = crate::engine::power(
            &fake,
            &[existing("web-01"), existing("web-02")],
            &opts,
            &Recorder::default(),
        )
        .await;
        reports.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            outcomes(&reports),
            vec![("web-01".into(), want), ("web-02".into(), Outcome::Failed)],
            "hunt: {hunt}"
        );
        if hunt {
            assert_eq!(
                reports[0].reason,
                "no capacity yet to start (attempt 2); the hunt goes on"
            );
        }
    }
}

/// A resource a `select:` spec picked (not owned) is never handed to the provider's delete.
#[tokio::test(start_paused = true)]
async fn delete_never_reaches_the_provider_for_a_selected_resource() {
    let fake = Fake::default();
    let selected = Existing {
        owned: false,
        resources: vec![("AutonomousDatabase".into(), "devdb".into())],
        ..existing("devdb")
    };
    let reports = crate::engine::delete(
        &fake,
        &[selected],
        &DeleteOptions::default(),
        (1, &opts().policy),
        &Recorder::default(),
    )
    .await;
    let got: Vec<_> = reports
        .iter()
        .map(|r| {
            (
                r.kind.as_str(),
                r.name.as_str(),
                r.outcome,
                r.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [(
            "AutonomousDatabase",
            "devdb",
            Outcome::Failed,
            "selected, not created by vauto: it is never deleted"
        )]
    );
    assert!(fake.deleted.lock().unwrap().is_empty());
}

/// A delete that meets a blip tries again, and reports each resource once with its final
/// outcome (the VM deleted by the first try stays `deleted`); a fatal error stops it.
#[tokio::test(start_paused = true)]
async fn delete_retries_blips_and_reports_each_resource_once() {
    let fake = Fake::default();
    fake.delete_errors.lock().unwrap().extend([
        ProviderError::new(ErrorClass::Transient, "connection reset"),
        ProviderError::new(ErrorClass::Throttled, "throttled"),
    ]);
    let reports = crate::engine::delete(
        &fake,
        &[existing("web-01")],
        &DeleteOptions::default(),
        (1, &opts().policy),
        &Recorder::default(),
    )
    .await;
    let got: Vec<_> = reports
        .iter()
        .map(|r| (r.kind.as_str(), r.outcome, r.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("VirtualMachine", Outcome::Deleted, "deleted"),
            ("DataVolume", Outcome::Deleted, "deleted")
        ]
    );
    fake.delete_errors
        .lock()
        .unwrap()
        .push_back(ProviderError::new(ErrorClass::Auth, "forbidden: RBAC"));
    let reports = crate::engine::delete(
        &fake,
        &[existing("web-02")],
        &DeleteOptions::default(),
        (1, &opts().policy),
        &Recorder::default(),
    )
    .await;
    let got: Vec<_> = reports
        .iter()
        .map(|r| (r.kind.as_str(), r.name.as_str(), r.outcome))
        .collect();
    assert_eq!(
        got,
        [
            ("VirtualMachine", "web-02", Outcome::Deleted),
            ("DataVolume", "web-02-disk", Outcome::Failed)
        ]
    );
}

/// `--deadline` bounds the whole run: instances that start late (here one at a time) do not
/// get a fresh deadline each (a 50-replica deploy with `--deadline 8m` ran past 9 minutes).
#[tokio::test(start_paused = true)]
async fn the_deadline_counts_from_the_start_of_the_run() {
    let fake = Fake {
        ads: vec!["AD-1"],
        ..Fake::default()
    };
    for name in ["web-01", "web-02", "web-03"] {
        let errors: VecDeque<_> = (0..100)
            .map(|_| {
                Err(ProviderError::new(
                    ErrorClass::Capacity,
                    "Out of host capacity.",
                ))
            })
            .collect();
        fake.script.lock().unwrap().insert(name.into(), errors);
    }
    let mut o = opts();
    o.parallel = 1;
    o.policy.deadline = Some(Duration::from_secs(150));
    let start = tokio::time::Instant::now();
    let reports = deploy(&fake, &plan(3), &o, &Recorder::default())
        .await
        .unwrap();
    assert!(reports.iter().all(|r| r.outcome == Outcome::Failed));
    assert!(
        start.elapsed() <= Duration::from_secs(150),
        "the run took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_retried_object_is_reported_once_with_its_final_outcome() {
    let r = |kind: &str, name: &str, outcome, reason: &str| {
        ResourceReport::new("web-01", kind, name, outcome, reason)
    };
    let mut out = Vec::new();
    // Attempt 1 creates the Secret, then the VM fails; attempt 2 finds the Secret.
    record(
        &mut out,
        r("Secret", "web-01-ci", Outcome::Success, "created"),
    );
    record(
        &mut out,
        r("VirtualMachine", "web-01", Outcome::Failed, "boom"),
    );
    record(
        &mut out,
        r("Secret", "web-01-ci", Outcome::Skipped, "already exists"),
    );
    record(
        &mut out,
        r("VirtualMachine", "web-01", Outcome::Success, "created"),
    );
    record_wait(
        &mut out,
        r("VirtualMachine", "web-01", Outcome::Success, "running")
            .with(|d| d.ip = Some("10.0.0.9".into())),
    );
    let got: Vec<(&str, Outcome, &str)> = out
        .iter()
        .map(|o| (o.kind.as_str(), o.outcome, o.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Secret", Outcome::Success, "created"),
            ("VirtualMachine", Outcome::Success, "created, running"),
        ]
    );
    assert_eq!(out[1].details.ip.as_deref(), Some("10.0.0.9"));
}

/// A daemon hunt pass that runs out of attempts with nothing but capacity misses found no
/// capacity yet: not failed; its attempt numbers go on from the earlier passes.
#[tokio::test(start_paused = true)]
async fn a_hunt_pass_without_capacity_is_no_capacity_yet_not_failed() {
    let cap = || {
        Err(ProviderError::new(
            ErrorClass::Capacity,
            "Out of host capacity.",
        ))
    };
    for (hunt, extra, want) in [
        (true, None, Outcome::NoCapacity),
        (false, None, Outcome::Failed),
        // A 429 waited out on the way does not make it a failure.
        (
            true,
            Some(ProviderError::new(ErrorClass::Throttled, "too many")),
            Outcome::NoCapacity,
        ),
        // Another kind of trouble on the way: the pass failed, a person should look.
        (
            true,
            Some(ProviderError::new(ErrorClass::NotFound, "shape not found")),
            Outcome::Failed,
        ),
    ] {
        let fake = Fake {
            ads: vec!["AD-1", "AD-2"],
            ..Fake::default()
        };
        let mut script: VecDeque<_> = VecDeque::from([cap(), cap(), cap()]);
        if let Some(e) = extra {
            script.push_front(Err(e));
        }
        fake.script.lock().unwrap().insert("web-01".into(), script);
        let mut o = opts();
        o.policy.max_attempts = 3;
        o.hunt = hunt;
        o.attempt_base = [("web-01".to_string(), 9)].into_iter().collect();
        let rec = Recorder::default();
        let reports = deploy(&fake, &plan(1), &o, &rec).await.unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].outcome, want, "hunt {hunt}");
        if want == Outcome::NoCapacity {
            assert_eq!(
                reports[0].reason,
                format!("no capacity yet (attempt {}); the hunt goes on", 9 + 3)
            );
            let summary = crate::model::Summary::of(&reports);
            assert!(!summary.failed() && summary.no_capacity());
            assert_eq!(summary.text("created"), "1 instance: 1 no capacity yet");
        }
        let numbers: Vec<u64> = rec
            .events()
            .iter()
            .filter_map(|e| match e {
                Event::AttemptStarted { attempt, .. } => Some(*attempt),
                _ => None,
            })
            .collect();
        assert_eq!(numbers.first(), Some(&10), "numbers go on from the journal");
    }
}
