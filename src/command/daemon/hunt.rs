//! Capacity hunts: keep deploying a spec until its replicas exist, taking turns per tenancy.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Ctx;
use super::invoke::{Call, Deadline};
use super::metrics::Metrics;
use super::say;
use super::setup::{Hunt, Setup};
use crate::error::{Error, exit};
use crate::model::Action;
use crate::ops::journal;
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
            // Attempt numbers in notes go on from the earlier passes instead of restarting.
            let base = journal::attempts_since_success(&ctx.settings.state_dir, pname, &h.spec);
            let pass_notifier = pr.notifier.with_attempt_base(base);
            Call::new(
                ctx,
                (&pr.project, &h.spec),
                Action::Deploy,
                Deadline::Exactly(pass),
                (metrics, &pass_notifier),
            )
            .run()
            .await
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
            // The pass ran out of time without capacity: the hunt goes on, nothing failed.
            Ok(_) => {
                errors = 0;
                say(&format!(
                    "{pname}/{}: still hunting: this pass ended without every replica; next pass in turn",
                    h.spec
                ));
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
