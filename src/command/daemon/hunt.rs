//! Capacity hunts: keep deploying a spec until its replicas exist, taking turns per tenancy.

use std::collections::BTreeMap;
use std::time::Duration;

use super::super::actions::Ended;
use super::Ctx;
use super::invoke::{Call, Deadline};
use super::metrics::Metrics;
use super::say;
use super::setup::{Hunt, Setup};
use crate::error::Error;
use crate::model::Action;
use crate::ops::notify::describe_target;

/// After a hunt found every replica, how long until it checks again.
const HUNT_RECHECK: Duration = Duration::from_secs(3600);

/// Keeps deploying `h.spec` until its replicas exist, one pass per turn of the tenancy gate.
pub(super) async fn hunt(ctx: &Ctx, setup: &Setup, h: &Hunt, metrics: &Metrics) {
    let pr = &setup.projects[h.project];
    let pname = pr.project.name.0.as_str();
    let interval = pr.project.retry.interval.0.max(Duration::from_secs(1));
    // A pass ends after ten rounds so other hunts of the tenancy get their turn.
    let pass = (interval * 10).max(Duration::from_secs(60));
    let notifier = pr.notifier.for_run(Some(&h.spec), "deploy");
    if let Ok(spec) = ctx.settings.dir.spec(&h.spec, pr.project.kind()) {
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
            // Attempt numbers go on from the earlier passes (the deploy reads the journal).
            Call::new(
                ctx,
                (&pr.project, &h.spec),
                Action::Deploy,
                Deadline::Exactly(pass),
                (metrics, &pr.notifier),
            )
            .run()
            .await
        };
        match result {
            Ok(Ended::Done) => {
                errors = 0;
                say(&format!(
                    "{pname}/{}: every replica exists; checking again in {}m",
                    h.spec,
                    HUNT_RECHECK.as_secs() / 60
                ));
                tokio::time::sleep(HUNT_RECHECK).await;
            }
            // The pass ran out of time without capacity: the hunt goes on, nothing failed.
            Ok(Ended::NoCapacity) => {
                errors = 0;
                say(&format!(
                    "{pname}/{}: still hunting: no capacity yet; next pass in turn",
                    h.spec
                ));
                // A pass cut short (`--max-attempts`) must not make the next ask at once.
                tokio::time::sleep(interval).await;
            }
            // Something else went wrong (the lines above say what): told once, tried again
            // later, less often while it keeps failing.
            Ok(Ended::Failed) => {
                errors += 1;
                if errors == 1 {
                    notifier.run_failed(
                        "capacity hunt: a pass failed for another reason than capacity (see the daemon's log)",
                    );
                }
                let wait = interval * errors.min(10);
                say(&format!(
                    "{pname}/{}: hunt pass failed; next pass in {}s at the earliest",
                    h.spec,
                    wait.as_secs()
                ));
                tokio::time::sleep(wait).await;
            }
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
