//! Namespaces: they exist or not. `default`, `kube-system`, `kube-public` and the configured
//! ones exist from the start; `kubectl create ns` adds one; a create in a missing namespace
//! is 404 `namespaces "x" not found`, as the NamespaceLifecycle admission plugin answers
//! (kubernetes plugin/pkg/admission/namespace/lifecycle/admission.go).

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::delete::{DeleteOpts, check_preconditions};
use super::error::{ApiError, json_response};
use super::request::{Req, check_body_type, parse_body};
use crate::sim::kube::store::{Entry, NAMESPACES, SimMeta, Store, key, new_uid, now_ms, rfc3339};
use crate::sim::kube::validate::Cause;

/// The namespaces every cluster has; the lifecycle plugin refuses to delete them.
pub(crate) const IMMORTAL: [&str; 4] = [
    "default",
    "kube-system",
    "kube-public",
    // OpenShift Virtualization's golden images (`catalog`) live here.
    crate::sim::kube::catalog::GOLDEN_IMAGES_NAMESPACE,
];

/// Does namespace `ns` exist?
pub(super) fn exists(store: &Store, ns: &str) -> bool {
    store.objects.contains_key(&key(NAMESPACES.plural, "", ns))
}

/// 404 unless namespace `ns` exists.
pub(super) fn require(store: &Store, ns: &str) -> Result<(), ApiError> {
    if exists(store, ns) {
        Ok(())
    } else {
        Err(ApiError::not_found(&NAMESPACES, ns))
    }
}

/// A new Namespace object as the API server stores it (the `kubernetes` finalizer, phase
/// Active and the `kubernetes.io/metadata.name` label the server adds).
fn namespace_object(name: &str, labels: Option<&Value>, uid: String, now: i64) -> Value {
    let mut labels = labels.cloned().unwrap_or_else(|| json!({}));
    if let Some(m) = labels.as_object_mut() {
        m.insert("kubernetes.io/metadata.name".into(), json!(name));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "uid": uid,
            "creationTimestamp": rfc3339(now),
            "labels": labels,
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    })
}

fn put_namespace(store: &mut Store, obj: Value, name: &str, now: i64) -> String {
    store.put(Entry {
        plural: NAMESPACES.plural.into(),
        namespace: String::new(),
        name: name.into(),
        object: obj,
        sim: SimMeta {
            created_ms: now,
            ..SimMeta::default()
        },
    })
}

/// Makes the built-in namespaces, `extra`, and the namespaces of objects stored by an older
/// simulator exist; returns whether anything was added.
pub(crate) fn seed(store: &mut Store, extra: &[String], rng: &mut fastrand::Rng) -> bool {
    let mut wanted: Vec<String> = IMMORTAL.iter().map(|s| s.to_string()).collect();
    wanted.extend(extra.iter().filter(|n| !n.is_empty()).cloned());
    wanted.extend(
        store
            .objects
            .values()
            .filter(|e| e.plural != NAMESPACES.plural && !e.namespace.is_empty())
            .map(|e| e.namespace.clone()),
    );
    let now = now_ms();
    let mut added = false;
    for name in wanted {
        if !exists(store, &name) {
            let obj = namespace_object(&name, None, new_uid(rng), now);
            put_namespace(store, obj, &name, now);
            added = true;
        }
    }
    added
}

/// A namespace name is an RFC 1123 label (apimachinery ValidateNamespaceName).
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// POST /api/v1/namespaces.
pub(super) fn create(
    store: &mut Store,
    req: &Req<'_>,
    rng: &mut fastrand::Rng,
) -> Result<Response, ApiError> {
    check_body_type(req, false)?;
    let body = parse_body(req)?;
    super::admission::check_type(&NAMESPACES, &body)?;
    let name = body
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !is_dns_label(&name) {
        let message = if name.is_empty() {
            "Required value: name or generateName is required".to_string()
        } else {
            format!(
                "Invalid value: {name:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            )
        };
        let causes = [Cause {
            field: "metadata.name".into(),
            message,
        }];
        return Err(ApiError::invalid(&NAMESPACES, &name, &causes));
    }
    if exists(store, &name) {
        return Err(ApiError::already_exists(&NAMESPACES, &name));
    }
    let mut obj = namespace_object(
        &name,
        body.pointer("/metadata/labels"),
        new_uid(rng),
        req.now,
    );
    if let (Some(a), Some(meta)) = (
        body.pointer("/metadata/annotations"),
        obj.get_mut("metadata").and_then(Value::as_object_mut),
    ) {
        meta.insert("annotations".into(), a.clone());
    }
    if req.query.dry_run()? {
        return Ok(json_response(StatusCode::CREATED, &obj));
    }
    let k = put_namespace(store, obj, &name, req.now);
    let stored = store
        .objects
        .get(&k)
        .map(|e| e.object.clone())
        .unwrap_or_default();
    Ok(json_response(StatusCode::CREATED, &stored))
}

/// DELETE /api/v1/namespaces/NAME: the answer is the namespace in phase Terminating, as a
/// real server gives while its namespace controller empties it; the simulator empties it at
/// once. `default`, `kube-system` and `kube-public` may not be deleted (403, lifecycle plugin).
pub(super) fn delete(store: &mut Store, req: &Req<'_>, name: &str) -> Result<Response, ApiError> {
    let opts = DeleteOpts::parse(req)?;
    let k = key(NAMESPACES.plural, "", name);
    let Some(entry) = store.objects.get(&k).cloned() else {
        return Err(ApiError::not_found(&NAMESPACES, name));
    };
    if IMMORTAL.contains(&name) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted"),
        )
        .details(json!({"name": name, "kind": "namespaces"})));
    }
    check_preconditions(&NAMESPACES, &entry.object, &opts)?;
    let mut answer = entry.object.clone();
    if let Some(meta) = answer.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("deletionTimestamp".into(), json!(rfc3339(req.now)));
    }
    if let Some(m) = answer.as_object_mut() {
        m.insert("status".into(), json!({"phase": "Terminating"}));
    }
    if !opts.dry_run {
        let inside: Vec<String> = store
            .objects
            .iter()
            .filter(|(_, e)| e.plural != NAMESPACES.plural && e.namespace == name)
            .map(|(k, _)| k.clone())
            .collect();
        for k in inside {
            store.remove_cascade(&k);
        }
        store.remove_cascade(&k);
    }
    Ok(json_response(StatusCode::OK, &answer))
}
