//! Update: PUT and PATCH (merge, strategic merge, server-side apply) over a stored object.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::admission::{admit, check_type};
use super::create::create_object;
use super::error::{ApiError, json_response};
use super::request::{Req, parse_body};
use super::subresources::vm_run_transition;
use crate::sim::kube::controller::desired_running;
use crate::sim::kube::store::{Entry, ResourceDef, Store, VMS, key};

/// Keeps server-owned fields, bumps generation on spec changes, validates and stores.
fn finish_update(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    old: &Entry,
    mut obj: Value,
) -> Result<Response, ApiError> {
    check_type(def, &obj)?;
    let body_name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or(&old.name);
    if body_name != old.name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            old.name
        )));
    }
    let current_rv = old
        .object
        .pointer("/metadata/resourceVersion")
        .cloned()
        .unwrap_or_default();
    if let Some(rv) = obj.pointer("/metadata/resourceVersion")
        && !rv.is_null()
        && *rv != current_rv
    {
        return Err(ApiError::conflict(
            def,
            &old.name,
            format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                def.qualified_plural(),
                old.name
            ),
        ));
    }
    keep_server_fields(def, old, &mut obj);
    admit(req.sh, def, &obj)?;
    if req.query.dry_run() {
        return Ok(json_response(StatusCode::OK, &obj));
    }
    let mut entry = old.clone();
    entry.object = obj;
    if *def == VMS {
        vm_run_transition(store, &mut entry, desired_running(&old.object), req.now);
    }
    let k = store.put(entry);
    let stored = store
        .objects
        .get(&k)
        .map(|e| e.object.clone())
        .unwrap_or_default();
    Ok(json_response(StatusCode::OK, &stored))
}

pub(super) fn replace(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> Result<Response, ApiError> {
    let obj = parse_body(req)?;
    let old = store
        .objects
        .get(&key(def.plural, ns, name))
        .cloned()
        .ok_or_else(|| ApiError::not_found(def, name))?;
    finish_update(store, req, def, &old, obj)
}

/// Puts back what a client may not change (identity, generation, `status`); bumps the
/// generation when the spec of a custom resource changes.
fn keep_server_fields(def: &ResourceDef, old: &Entry, obj: &mut Value) {
    let old_meta = old.object.get("metadata").cloned().unwrap_or_default();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
        ] {
            if let Some(v) = old_meta.get(f) {
                meta.insert(f.into(), v.clone());
            }
        }
    }
    if def.status_subresource
        && let Some(m) = obj.as_object_mut()
    {
        match old.object.get("status") {
            Some(s) => m.insert("status".into(), s.clone()),
            None => m.remove("status"),
        };
    }
    if obj.get("spec") != old.object.get("spec")
        && !def.group.is_empty()
        && let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut)
    {
        let g = meta.get("generation").and_then(Value::as_i64).unwrap_or(1);
        meta.insert("generation".into(), json!(g + 1));
    }
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            if let Some(t) = target.as_object_mut() {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

pub(super) fn patch(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
    rng: &mut fastrand::Rng,
) -> Result<Response, ApiError> {
    let ct = req.content_type;
    let apply = ct.starts_with("application/apply-patch");
    if !(apply
        || ct.starts_with("application/merge-patch+json")
        || ct.starts_with("application/strategic-merge-patch+json"))
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {ct:?})"
            ),
        ));
    }
    let body = parse_body(req)?;
    let Some(old) = store.objects.get(&key(def.plural, ns, name)).cloned() else {
        if apply {
            let mut obj = body;
            return create_object(store, req, def, ns, &mut obj, rng);
        }
        return Err(ApiError::not_found(def, name));
    };
    let mut obj = old.object.clone();
    merge_patch(&mut obj, &body);
    finish_update(store, req, def, &old, obj)
}
