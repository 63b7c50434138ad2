//! Instances: list, get, terminate and the power actions (launch has its own file).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use chrono::Utc;
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use serde_json::{Map, Value};

use super::paging::{filter_eq, page};
use super::work_requests::{fail_open_requests, new_work_request};
use super::{Res, check_if_match, compartment, etag_of, instance_response, query, required, save};
use crate::sim::oci::Sim;
use crate::sim::oci::catalog;
use crate::sim::oci::error::{ApiError, error, invalid, not_found};
use crate::sim::oci::state::{Instance, Phase, WorkKind};

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
    Ok(instance_response(inst, Utc::now(), sim.delays))
}

/// The current etag of `inst` at `now`.
fn etag(sim: &Sim, inst: &Instance, now: chrono::DateTime<Utc>) -> String {
    etag_of(&inst.to_json(now, sim.delays))
}

/// TerminateInstance: 204 with `opc-work-request-id` (the CLI's `terminate --wait-for-state
/// SUCCEEDED` and the SDK's `terminate_instance_and_wait_for_work_request` poll that work
/// request); `If-Match` guards it like every DELETE.
pub(super) async fn terminate_instance(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
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
    check_if_match(&headers, &etag(&sim, inst, now))?;
    // Terminating an instance that is already going is accepted again, as a retried DELETE
    // must be; its work request ends when the instance is TERMINATED.
    let transition = chrono::Duration::from_std(sim.delays.transition).unwrap_or_default();
    let done = match inst.phase {
        Phase::Terminated => now,
        Phase::Terminating => inst.phase_since + transition,
        _ => {
            inst.set_phase(Phase::Terminating, now);
            now + transition
        }
    };
    let inst = inst.clone();
    fail_open_requests(
        &mut store,
        &id,
        now,
        "The instance was terminated before the operation completed.",
    );
    let wr = new_work_request(
        &sim,
        &mut store,
        WorkKind::TerminateInstance,
        &inst,
        now,
        done,
    );
    save(&sim, &mut store, now)?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&wr) {
        resp.headers_mut().insert("opc-work-request-id", v);
    }
    Ok(resp)
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

/// InstanceAction (`POST /instances/{id}?action=...`): the eight power actions of the API
/// (`InstanceAction` in the Core API reference: STOP, START, SOFTRESET, RESET, SOFTSTOP,
/// SENDDIAGNOSTICINTERRUPT, DIAGNOSTICREBOOT, REBOOTMIGRATE). The response is the instance
/// with its etag and no work request (InstanceActionResponse has only `etag` and
/// `opc-request-id`; the CLI's `instance action --wait-for-state` polls GetInstance).
pub(super) async fn instance_action(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Res {
    let q = query(&uri)?;
    let action = required(&q, "action")?.to_string();
    // The optional body is InstancePowerActionDetails (`actionType` plus per-action options);
    // when present it must be a JSON object.
    if !body.is_empty() && !matches!(serde_json::from_slice::<Value>(&body), Ok(Value::Object(_))) {
        return Err(cannot_parse());
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
    // Preconditions come before the state check: a stale etag is 412 whatever the state.
    check_if_match(&headers, &etag(&sim, inst, now))?;
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
    // Which state each action needs and leads to. A STOP of a stopped instance or a START of
    // a running one is accepted and changes nothing, so retries are safe. RESET, SOFTRESET,
    // DIAGNOSTICREBOOT and REBOOTMIGRATE power the instance off and on again (STARTING, then
    // RUNNING); SENDDIAGNOSTICINTERRUPT crashes and reboots the guest OS while the instance
    // stays RUNNING; REBOOTMIGRATE of a stopped instance moves it and leaves it STOPPED.
    let to = match (action.as_str(), from) {
        (
            "START"
            | "STOP"
            | "SOFTSTOP"
            | "RESET"
            | "SOFTRESET"
            | "SENDDIAGNOSTICINTERRUPT"
            | "DIAGNOSTICREBOOT"
            | "REBOOTMIGRATE",
            Phase::Provisioning | Phase::Terminating | Phase::Terminated,
        ) => return Err(incorrect()),
        ("START", Phase::Stopped) => Some(Phase::Starting),
        ("START", Phase::Running | Phase::Starting) => None,
        ("STOP" | "SOFTSTOP", Phase::Running) => Some(Phase::Stopping),
        // A STOP cuts short a soft stop the guest ignores (OCI powers it off).
        ("STOP", Phase::Stopping) if inst.soft_stopping => Some(Phase::Stopping),
        ("STOP" | "SOFTSTOP", Phase::Stopped | Phase::Stopping) => None,
        ("RESET" | "SOFTRESET" | "DIAGNOSTICREBOOT" | "REBOOTMIGRATE", Phase::Running) => {
            Some(Phase::Starting)
        }
        ("SENDDIAGNOSTICINTERRUPT", Phase::Running) | ("REBOOTMIGRATE", Phase::Stopped) => None,
        (
            "START"
            | "STOP"
            | "SOFTSTOP"
            | "RESET"
            | "SOFTRESET"
            | "SENDDIAGNOSTICINTERRUPT"
            | "DIAGNOSTICREBOOT"
            | "REBOOTMIGRATE",
            _,
        ) => {
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
        inst.soft_stopping = action == "SOFTSTOP" && sim.opts.guest_ignores_softstop;
    }
    let inst = inst.clone();
    if to.is_some() {
        save(&sim, &mut store, now)?;
    }
    Ok(instance_response(&inst, now, sim.delays))
}

/// 400 `CannotParseRequest`, OCI's answer to a body that is not the JSON it expects.
fn cannot_parse() -> ApiError {
    error(
        StatusCode::BAD_REQUEST,
        "CannotParseRequest",
        "Incorrectly formatted request. Please refer to the documentation and try again.",
    )
}

/// UpdateInstance (`PUT /instances/{id}`, UpdateInstanceDetails): `displayName`, `freeformTags`,
/// `definedTags`, `metadata`, `extendedMetadata` and `shapeConfig` (`ocpus`, `memoryInGBs`)
/// of a flexible shape. Fields the sim does not model are accepted and ignored. Resizing a
/// RUNNING instance reboots it ("If the instance is running, it will be rebooted", Compute
/// docs: Changing the Shape of an Instance), so it goes STARTING and back to RUNNING.
pub(super) async fn update_instance(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    let Ok(Value::Object(details)) = serde_json::from_slice::<Value>(&body) else {
        return Err(cannot_parse());
    };
    let now = Utc::now();
    let mut store = sim.store()?;
    let inst = store
        .data
        .instances
        .iter_mut()
        .find(|i| i.id == id)
        .ok_or_else(not_found)?;
    inst.settle(now, sim.delays);
    check_if_match(&headers, &etag(&sim, inst, now))?;
    if inst.phase.is_dead() {
        return Err(error(
            StatusCode::CONFLICT,
            "IncorrectState",
            &format!(
                "Unable to update instance {id} in lifecycle state {}.",
                inst.phase.as_str()
            ),
        ));
    }
    let mut next = inst.clone();
    apply_update(&mut next, &details)?;
    let resized = next.ocpus != inst.ocpus || next.memory_gbs != inst.memory_gbs;
    if resized {
        if !matches!(next.phase, Phase::Running | Phase::Stopped) {
            return Err(error(
                StatusCode::CONFLICT,
                "IncorrectState",
                &format!(
                    "Unable to change the shape of instance {id} in lifecycle state {}.",
                    next.phase.as_str()
                ),
            ));
        }
        if next.phase == Phase::Running {
            next.set_phase(Phase::Starting, now);
        }
    }
    *inst = next.clone();
    save(&sim, &mut store, now)?;
    Ok(instance_response(&next, now, sim.delays))
}

/// Applies the UpdateInstanceDetails fields the sim models, with OCI's 400s for wrong types.
fn apply_update(inst: &mut Instance, d: &Map<String, Value>) -> Result<(), ApiError> {
    let object = |name: &str| -> Result<Option<Map<String, Value>>, ApiError> {
        match d.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(_) => Err(invalid(&format!("{name} must be an object."))),
        }
    };
    match d.get("displayName") {
        None | Some(Value::Null) => {}
        Some(Value::String(n)) if !n.is_empty() && n.chars().count() <= 255 => {
            inst.display_name.clone_from(n);
        }
        Some(Value::String(_)) => {
            return Err(invalid("displayName must be 1 to 255 characters long."));
        }
        Some(_) => return Err(invalid("displayName must be a string.")),
    }
    if let Some(t) = object("freeformTags")? {
        inst.freeform_tags = t;
    }
    if let Some(t) = object("definedTags")? {
        inst.defined_tags = t;
    }
    if let Some(m) = object("metadata")? {
        inst.metadata = m;
    }
    if let Some(m) = object("extendedMetadata")? {
        inst.extended_metadata = m;
    }
    let Some(cfg) = object("shapeConfig")? else {
        return Ok(());
    };
    let shape = catalog::shape(&inst.shape).ok_or_else(|| invalid("Unknown shape."))?;
    if !shape.flex {
        return Err(invalid(&format!(
            "shapeConfig is only allowed for flexible shapes; {} is not one.",
            shape.name
        )));
    }
    let number = |name: &str| -> Result<Option<f64>, ApiError> {
        match cfg.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(invalid(&format!("shapeConfig.{name} must be a number."))),
        }
    };
    let ocpus = number("ocpus")?.unwrap_or(inst.ocpus);
    let mem = number("memoryInGBs")?.unwrap_or(inst.memory_gbs);
    // The same bounds LaunchInstance enforces for the shape.
    if !(1.0..=shape.ocpus).contains(&ocpus) {
        return Err(invalid(&format!(
            "shapeConfig.ocpus {ocpus} is out of range 1 to {} for {}.",
            shape.ocpus, shape.name
        )));
    }
    if mem < ocpus || mem > ocpus * 64.0 {
        return Err(invalid(&format!(
            "shapeConfig.memoryInGBs {mem} must be between 1 and 64 GB per OCPU for {}.",
            shape.name
        )));
    }
    inst.ocpus = ocpus;
    inst.memory_gbs = mem;
    Ok(())
}
