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
    let running = desired_running(&entry.object);
    if req.query.dry_run()? {
        return match (action, running) {
            ("start", true) => Err(ApiError::conflict(&VMS, name, "VM is already running")),
            ("stop" | "restart", false) => Err(ApiError::conflict(&VMS, name, "VM is not running")),
            _ => Ok(accepted()),
        };
    }
    let want = match (action, running) {
        ("start", true) => return Err(ApiError::conflict(&VMS, name, "VM is already running")),
        ("stop" | "restart", false) => {
            return Err(ApiError::conflict(&VMS, name, "VM is not running"));
        }
        ("start", false) => true,
        ("restart", true) => {
            // A restart is a stop and an immediate start: the new VMI boots from scratch.
            store.remove_cascade(&key(VMIS.plural, ns, name));
            entry.sim.run_since_ms = Some(req.now);
            entry.sim.stop_since_ms = None;
            store.objects.insert(k.clone(), entry);
            store.bump(&k);
            return Ok(accepted());
        }
        _ => false,
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

fn accepted() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::ACCEPTED;
    r
}

/// Records when a VM was asked to run or stop; a new run replaces any stopping VMI.
pub(super) fn vm_run_transition(store: &mut Store, entry: &mut Entry, was_running: bool, now: i64) {
    let running = desired_running(&entry.object);
    if running && !was_running {
        entry.sim.run_since_ms = Some(now);
        entry.sim.stop_since_ms = None;
        store.remove_cascade(&key(VMIS.plural, &entry.namespace, &entry.name));
    } else if !running && was_running {
        entry.sim.stop_since_ms = Some(now);
    }
}
