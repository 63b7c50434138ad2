//! KubeVirt subresources: the start / stop / restart actions on a VirtualMachine.

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::error::ApiError;
use super::request::Req;
use crate::sim::kube::controller::desired_running;
use crate::sim::kube::store::{Entry, Store, VMIS, VMS, key};

/// KubeVirt's start / stop / restart subresources (202 Accepted with an empty body).
pub(super) fn vm_action(
    store: &mut Store,
    req: &Req<'_>,
    ns: &str,
    name: &str,
    action: &str,
) -> Result<Response, ApiError> {
    let k = key(VMS.plural, ns, name);
    let Some(mut entry) = store.objects.get(&k).cloned() else {
        return Err(ApiError::not_found(&VMS, name));
    };
    let running = desired_running(&entry.object, entry.sim.requested_run);
    let strategy = entry
        .object
        .pointer("/spec/runStrategy")
        .and_then(Value::as_str)
        .map(str::to_string);
    // What each action does with each run strategy, as KubeVirt's virt-api does it
    // (kubevirt/kubevirt pkg/virt-api/rest/lifecycle.go, Start/StopVMRequestHandler):
    // start on Halted sets `Always`; stop on Always (or Once) sets `Halted`; on Manual and
    // RerunOnFailure both are requests to the controller and the strategy stays.
    // A running VMI answers "already running" whatever the strategy; `Always` and `Once`
    // without one refuse a manual start (lifecycle.go and its tests: "Always without VMI" →
    // 409 "Always does not support manual start requests").
    let vmi_exists = store.objects.contains_key(&key(VMIS.plural, ns, name));
    let change = match (action, strategy.as_deref()) {
        ("start", _) if running && vmi_exists => {
            return Err(ApiError::conflict(&VMS, name, "VM is already running"));
        }
        ("start", Some(rs @ ("Always" | "Once"))) => {
            return Err(ApiError::conflict(
                &VMS,
                name,
                format!("{rs} does not support manual start requests"),
            ));
        }
        ("start", Some("Manual" | "RerunOnFailure")) if running => {
            return Err(ApiError::conflict(&VMS, name, "VM is already running"));
        }
        ("start", Some("Manual" | "RerunOnFailure")) => Change::Request(true),
        ("start", _) if running => {
            return Err(ApiError::conflict(&VMS, name, "VM is already running"));
        }
        ("start", _) => Change::Spec(true),
        ("stop" | "restart", _) if !running => {
            return Err(ApiError::conflict(&VMS, name, "VM is not running"));
        }
        ("stop", Some("Manual" | "RerunOnFailure")) => Change::Request(false),
        ("restart", _) => Change::Restart,
        _ => Change::Spec(false),
    };
    if req.query.dry_run()? {
        return Ok(accepted());
    }
    let want = match change {
        Change::Restart => {
            // A restart is a stop and an immediate start: the new VMI boots from scratch.
            store.remove_cascade(&key(VMIS.plural, ns, name));
            entry.sim.run_since_ms = Some(req.now);
            entry.sim.stop_since_ms = None;
            store.objects.insert(k.clone(), entry);
            store.bump(&k);
            return Ok(accepted());
        }
        Change::Request(want) => {
            // A status-only change: the spec and its generation stay.
            entry.sim.requested_run = Some(want);
            vm_run_transition(store, &mut entry, running, req.now);
            store.objects.insert(k.clone(), entry);
            store.bump(&k);
            return Ok(accepted());
        }
        Change::Spec(want) => want,
    };
    let uses_running = entry.object.pointer("/spec/runStrategy").is_none()
        && entry.object.pointer("/spec/running").is_some();
    if let Some(spec) = entry.object.get_mut("spec").and_then(Value::as_object_mut) {
        if uses_running {
            spec.insert("running".into(), json!(want));
        } else {
            spec.insert(
                "runStrategy".into(),
                json!(if want { "Always" } else { "Halted" }),
            );
        }
    }
    if let Some(meta) = entry
        .object
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
    {
        let g = meta.get("generation").and_then(Value::as_i64).unwrap_or(1);
        meta.insert("generation".into(), json!(g + 1));
    }
    vm_run_transition(store, &mut entry, running, req.now);
    store.objects.insert(k.clone(), entry);
    store.bump(&k);
    Ok(accepted())
}

/// What a start, stop or restart changes.
enum Change {
    /// `spec.runStrategy` (or `spec.running`) to run (`true`) or halt.
    Spec(bool),
    /// A start (`true`) or stop request to the controller; the spec stays.
    Request(bool),
    /// The running VMI is replaced.
    Restart,
}

fn accepted() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::ACCEPTED;
    r
}

/// Records when a VM was asked to run or stop; a new run replaces any stopping VMI.
pub(super) fn vm_run_transition(store: &mut Store, entry: &mut Entry, was_running: bool, now: i64) {
    let running = desired_running(&entry.object, entry.sim.requested_run);
    if running && !was_running {
        entry.sim.run_since_ms = Some(now);
        entry.sim.stop_since_ms = None;
        store.remove_cascade(&key(VMIS.plural, &entry.namespace, &entry.name));
    } else if !running && was_running {
        entry.sim.stop_since_ms = Some(now);
    }
}
