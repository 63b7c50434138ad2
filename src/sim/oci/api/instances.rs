//! Instances: list, get, terminate and the power actions (launch has its own file).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use chrono::Utc;
use http::{StatusCode, Uri};

use super::paging::{filter_eq, page};
use super::{Res, compartment, query, required, save, with_etag};
use crate::sim::oci::Sim;
use crate::sim::oci::error::{error, invalid, not_found};
use crate::sim::oci::state::Phase;

pub(super) async fn list_instances(State(sim): State<Arc<Sim>>, uri: Uri) -> Res {
    let q = query(&uri)?;
    let comp = compartment(&q)?;
    let now = Utc::now();
    let store = sim.store()?;
    let items = store
        .data
        .instances
        .iter()
        .filter(|i| i.compartment_id == comp)
        .filter(|i| filter_eq(&q, "availabilityDomain", &i.availability_domain))
        .filter(|i| filter_eq(&q, "displayName", &i.display_name))
        .filter(|i| filter_eq(&q, "lifecycleState", i.phase_at(now, sim.delays).as_str()))
        .map(|i| {
            (
                i.time_created,
                i.display_name.clone(),
                i.to_json(now, sim.delays),
            )
        })
        .collect();
    page(&sim, &q, items, true)
}

pub(super) async fn get_instance(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Res {
    let store = sim.store()?;
    let inst = store
        .data
        .instances
        .iter()
        .find(|i| i.id == id)
        .ok_or_else(not_found)?;
    Ok(with_etag(
        Json(inst.to_json(Utc::now(), sim.delays)).into_response(),
        inst,
    ))
}

pub(super) async fn terminate_instance(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Res {
    let q = query(&uri)?;
    if let Some(p) = q.get("preserveBootVolume")
        && p != "true"
        && p != "false"
    {
        return Err(invalid(&format!("Invalid preserveBootVolume {p}.")));
    }
    let now = Utc::now();
    let mut store = sim.store()?;
    let inst = store
        .data
        .instances
        .iter_mut()
        .find(|i| i.id == id)
        .ok_or_else(not_found)?;
    inst.settle(now, sim.delays);
    // Terminating an instance that is already going is accepted again, as a retried DELETE must be.
    if !inst.phase.is_dead() {
        inst.set_phase(Phase::Terminating, now);
        save(&sim, &mut store, now)?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A start needs host capacity in the instance's AD, as a launch does: the first
/// `start_refusals` starts there answer 500 "Out of host capacity." (what OCI answers when a
/// stopped instance's shape has no room, as A1 users see after idle reclamation).
fn start_capacity(
    sim: &Sim,
    store: &mut crate::sim::oci::state::Store,
    ad: &str,
    now: chrono::DateTime<Utc>,
) -> Result<(), crate::sim::oci::error::ApiError> {
    let suffix = crate::sim::oci::catalog::ad_suffix(ad).unwrap_or_default();
    let refusals = sim.opts.capacity.for_ad(&suffix).start_refusals;
    if refusals == 0 {
        return Ok(());
    }
    let n = store.data.start_attempts.entry(suffix).or_insert(0);
    *n += 1;
    if *n <= refusals {
        save(sim, store, now)?;
        return Err(crate::sim::oci::error::internal("Out of host capacity."));
    }
    Ok(())
}

pub(super) async fn instance_action(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Res {
    let q = query(&uri)?;
    let action = required(&q, "action")?.to_string();
    let now = Utc::now();
    let mut store = sim.store()?;
    let inst = store
        .data
        .instances
        .iter_mut()
        .find(|i| i.id == id)
        .ok_or_else(not_found)?;
    inst.settle(now, sim.delays);
    let from = inst.phase;
    let incorrect = || {
        error(
            StatusCode::CONFLICT,
            "IncorrectState",
            &format!(
                "Unable to process {action} on instance {id} in lifecycle state {}.",
                from.as_str()
            ),
        )
    };
    let to = match (action.as_str(), from) {
        (_, Phase::Provisioning | Phase::Terminating | Phase::Terminated) => {
            return Err(incorrect());
        }
        ("START", Phase::Stopped) => Some(Phase::Starting),
        ("START", Phase::Running | Phase::Starting) => None,
        ("STOP" | "SOFTSTOP", Phase::Running) => Some(Phase::Stopping),
        ("STOP" | "SOFTSTOP", Phase::Stopped | Phase::Stopping) => None,
        ("RESET" | "SOFTRESET", Phase::Running) => Some(Phase::Starting),
        ("START" | "STOP" | "SOFTSTOP" | "RESET" | "SOFTRESET", _) => {
            return Err(incorrect());
        }
        (other, _) => return Err(invalid(&format!("Invalid action {other}."))),
    };
    let ad = inst.availability_domain.clone();
    if action == "START" && to.is_some() {
        start_capacity(&sim, &mut store, &ad, now)?;
    }
    let Some(inst) = store.data.instances.iter_mut().find(|i| i.id == id) else {
        return Err(not_found());
    };
    if let Some(to) = to {
        inst.set_phase(to, now);
    }
    let inst = inst.clone();
    if to.is_some() {
        save(&sim, &mut store, now)?;
    }
    Ok(with_etag(
        Json(inst.to_json(now, sim.delays)).into_response(),
        &inst,
    ))
}
