//! Delete: one object, or every object a selector matches in a namespace, with the
//! `DeleteOptions` a real API server honours (body or query): `dryRun`, `propagationPolicy`
//! and `preconditions`.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::error::{ApiError, json_response};
use super::read::selectors;
use super::request::Req;
use crate::sim::kube::select;
use crate::sim::kube::store::{ResourceDef, Store, key, uid_of};

/// How dependents (objects whose `ownerReferences` name the deleted one) are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Propagation {
    /// The dependents stay, with the owner reference removed (the orphan finalizer).
    Orphan,
    /// The garbage collector deletes the dependents after the owner (the default for
    /// custom resources and most core kinds).
    Background,
    /// The dependents go first, then the owner; the simulator does both at once.
    Foreground,
}

/// `meta.k8s.io/v1 DeleteOptions`, from the body and the query (the query wins, as
/// apiserver/pkg/endpoints/handlers/delete.go decodes the body and then the parameters).
#[derive(Debug, Clone)]
pub(super) struct DeleteOpts {
    pub dry_run: bool,
    pub propagation: Propagation,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

impl DeleteOpts {
    pub(super) fn parse(req: &Req<'_>) -> Result<Self, ApiError> {
        let body: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(req.body).map_err(|e| {
                ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
            })?
        };
        let body_dry_run = match body.get("dryRun") {
            None | Some(Value::Null) => false,
            Some(Value::Array(a)) if a.is_empty() => false,
            Some(Value::Array(a)) if a.len() == 1 && a[0] == "All" => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "dryRun: Unsupported value: {other}: supported values: \"All\""
                )));
            }
        };
        let dry_run = req.query.dry_run()? || body_dry_run;
        let orphan_dependents = req
            .query
            .get("orphanDependents")
            .map(|v| v == "true")
            .or_else(|| body.get("orphanDependents").and_then(Value::as_bool));
        let policy = req
            .query
            .get("propagationPolicy")
            .map(str::to_string)
            .or_else(|| {
                body.get("propagationPolicy")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        let propagation = match (policy.as_deref(), orphan_dependents) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "propagationPolicy: Invalid value: \"\": orphanDependents and deletionPropagation cannot be both set",
                ));
            }
            (Some("Orphan"), None) | (None, Some(true)) => Propagation::Orphan,
            (Some("Foreground"), None) => Propagation::Foreground,
            (Some("Background"), None) | (None, _) => Propagation::Background,
            (Some(other), None) => {
                return Err(ApiError::bad_request(format!(
                    "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                )));
            }
        };
        let pre = |f: &str| {
            body.pointer(&format!("/preconditions/{f}"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Ok(Self {
            dry_run,
            propagation,
            uid: pre("uid"),
            resource_version: pre("resourceVersion"),
        })
    }
}

/// The etcd key the API server names in a precondition failure.
fn storage_key(def: &ResourceDef, obj: &Value) -> String {
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut k = String::from("/registry/");
    if !def.group.is_empty() {
        k.push_str(def.group);
        k.push('/');
    }
    k.push_str(def.plural);
    if !ns.is_empty() {
        k.push('/');
        k.push_str(ns);
    }
    k.push('/');
    k.push_str(name);
    k
}

/// 409 when `preconditions.uid` or `.resourceVersion` does not match, with the text of
/// apiserver/pkg/storage/interfaces.go (Preconditions.Check) wrapped by
/// InterpretDeleteError into a Conflict.
pub(super) fn check_preconditions(
    def: &ResourceDef,
    obj: &Value,
    opts: &DeleteOpts,
) -> Result<(), ApiError> {
    let field = |f: &str| {
        obj.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let name = field("name");
    let failed = if let Some(uid) = opts.uid.as_deref().filter(|u| *u != field("uid")) {
        Some(format!(
            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
            field("uid")
        ))
    } else {
        opts.resource_version
            .as_deref()
            .filter(|r| *r != field("resourceVersion"))
            .map(|rv| {
                format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    field("resourceVersion")
                )
            })
    };
    match failed {
        None => Ok(()),
        Some(msg) => Err(ApiError::conflict(
            def,
            &name,
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": StorageError: invalid object, Code: 4, Key: {}, ResourceVersion: 0, AdditionalErrorMsg: {msg}",
                def.qualified_plural(),
                storage_key(def, obj)
            ),
        )),
    }
}

/// Removes one object and treats its dependents as `propagation` says.
fn remove(store: &mut Store, k: &str, propagation: Propagation) {
    match propagation {
        Propagation::Orphan => {
            store.remove_orphaning(k);
        }
        Propagation::Background | Propagation::Foreground => {
            store.remove_cascade(k);
        }
    }
}

pub(super) fn delete(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> Result<Response, ApiError> {
    let opts = DeleteOpts::parse(req)?;
    let k = key(def.plural, ns, name);
    let Some(entry) = store.objects.get(&k).cloned() else {
        return Err(ApiError::not_found(def, name));
    };
    check_preconditions(def, &entry.object, &opts)?;
    // dryRun: the same answer, nothing deleted
    // (kubernetes.io/docs/reference/using-api/api-concepts/#dry-run).
    if !opts.dry_run {
        remove(store, &k, opts.propagation);
    }
    // Custom resources answer with the deleted object (apiextensions-apiserver
    // registry/customresource/etcd.go: ReturnDeletedObject); Secrets and Events with a
    // Success Status naming it (generic registry store.go, ReturnDeletedObject unset).
    if def.group.is_empty() {
        let status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "kind": def.plural, "uid": uid_of(&entry.object)},
        });
        return Ok(json_response(StatusCode::OK, &status));
    }
    Ok(json_response(StatusCode::OK, &entry.object))
}

pub(super) fn delete_collection(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
) -> Result<Response, ApiError> {
    let opts = DeleteOpts::parse(req)?;
    let (labels, fields) = selectors(req, def)?;
    let prefix = format!("{}/{ns}/", def.plural);
    let doomed: Vec<(String, Value)> = store
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(_, e)| select::labels_match(&labels, &e.object))
        .filter(|(_, e)| select::fields_match(&fields, &e.object))
        .map(|(k, e)| (k.clone(), e.object.clone()))
        .collect();
    if !opts.dry_run {
        for (k, _) in &doomed {
            remove(store, k, opts.propagation);
        }
    }
    let body = json!({
        "kind": format!("{}List", def.kind),
        "apiVersion": def.api_version(),
        "metadata": {"resourceVersion": store.resource_version.to_string()},
        "items": doomed.into_iter().map(|(_, o)| o).collect::<Vec<_>>(),
    });
    Ok(json_response(StatusCode::OK, &body))
}
