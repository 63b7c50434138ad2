//! Update: PUT and PATCH (JSON patch, merge patch, strategic merge on core kinds, server-side
//! apply) over a stored object.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::admission::{admit, check_type, decode_fields, string_data_to_data};
use super::create::create_object;
use super::error::{ApiError, json_response, with_warnings};
use super::request::{Req, check_body_type, media_type, parse_body, unsupported_media_type};
use super::subresources::vm_run_transition;
use crate::sim::kube::controller::desired_running;
use crate::sim::kube::store::{Entry, ResourceDef, Store, VMS, key, rfc3339};

/// Keeps server-owned fields, bumps generation on spec changes, validates and stores.
fn finish_update(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    old: &Entry,
    mut obj: Value,
) -> Result<Response, ApiError> {
    check_type(def, &obj)?;
    let dry_run = req.query.dry_run()?;
    let warnings = decode_fields(req.sh, def, &mut obj, req.query.field_validation()?)?;
    string_data_to_data(def, &mut obj);
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
    // A stale resourceVersion is optimistic-concurrency failure: 409 with the text of
    // apiserver/pkg/registry/generic/registry/store.go (OptimisticLockErrorMsg).
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
    if dry_run {
        return Ok(with_warnings(
            json_response(StatusCode::OK, &obj),
            &warnings,
        ));
    }
    let mut entry = old.clone();
    entry.object = obj;
    if *def == VMS {
        let was_running = desired_running(&old.object, old.sim.requested_run);
        let strategy = |o: &Value| o.pointer("/spec/runStrategy").cloned();
        if strategy(&entry.object) != strategy(&old.object) {
            // A new run strategy starts from what runs now: `Manual` keeps the VMI as it
            // is, `RerunOnFailure` runs one (KubeVirt's `syncRunStrategy`).
            entry.sim.requested_run = Some(was_running).filter(|_| {
                strategy(&entry.object).as_ref().and_then(Value::as_str) == Some("Manual")
            });
        }
        vm_run_transition(store, &mut entry, was_running, req.now);
    }
    let k = store.put(entry);
    let stored = store
        .objects
        .get(&k)
        .map(|e| e.object.clone())
        .unwrap_or_default();
    Ok(with_warnings(
        json_response(StatusCode::OK, &stored),
        &warnings,
    ))
}

pub(super) fn replace(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> Result<Response, ApiError> {
    check_body_type(req, !def.group.is_empty())?;
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

/// An RFC 6901 pointer split into unescaped tokens; `None` unless it starts with `/`.
fn tokens(path: &str) -> Option<Vec<String>> {
    if path.is_empty() {
        return Some(Vec::new());
    }
    let rest = path.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// A JSON patch that does not apply: apiserver handlers/patch.go answers 422 through
/// errors.NewGenericServerResponse, whose message is fixed and whose cause carries the
/// json-patch library's text.
fn json_patch_error(msg: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid",
        "the server rejected our request due to an error in our request",
    )
    .details(json!({"causes": [{"reason": "UnexpectedServerResponse", "message": msg.into()}]}))
}

/// The json-patch library's error for a path that is not there.
fn missing_path(op: &str, path: &str) -> ApiError {
    json_patch_error(format!(
        "{op} operation does not apply: doc is missing path: {path:?}"
    ))
}

/// The value holding the last token of `path` and that token; `None` for the whole
/// document (an empty path).
fn locate<'a>(
    doc: &'a mut Value,
    path: &str,
    op: &str,
) -> Result<Option<(&'a mut Value, String)>, ApiError> {
    let mut toks =
        tokens(path).ok_or_else(|| json_patch_error(format!("invalid path {path:?}")))?;
    let Some(last) = toks.pop() else {
        return Ok(None);
    };
    let mut cur = doc;
    for t in &toks {
        cur = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| missing_path(op, path))?;
    }
    Ok(Some((cur, last)))
}

/// Removes the value at `path` and returns it.
fn pointer_remove(doc: &mut Value, path: &str) -> Result<Value, ApiError> {
    let missing = || missing_path("remove", path);
    let Some((cur, last)) = locate(doc, path, "remove")? else {
        return Err(json_patch_error("cannot remove the whole document"));
    };
    match cur {
        Value::Object(m) => m.remove(&last).ok_or_else(missing),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(missing()),
        },
        _ => Err(missing()),
    }
}

/// Adds `value` at `path` (an object member, an array index, or `-` for the end).
fn pointer_add(doc: &mut Value, path: &str, value: Value) -> Result<(), ApiError> {
    let missing = || missing_path("add", path);
    let Some((cur, last)) = locate(doc, path, "add")? else {
        *doc = value;
        return Ok(());
    };
    match cur {
        Value::Object(m) => {
            m.insert(last, value);
            Ok(())
        }
        Value::Array(a) if last == "-" => {
            a.push(value);
            Ok(())
        }
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i <= a.len() => {
                a.insert(i, value);
                Ok(())
            }
            _ => Err(missing()),
        },
        _ => Err(missing()),
    }
}

/// RFC 6902 JSON patch: add, remove, replace, move, copy, test.
fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), ApiError> {
    let Some(ops) = ops.as_array() else {
        return Err(ApiError::bad_request(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
        ));
    };
    for op in ops {
        let name = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let from = op.get("from").and_then(Value::as_str).unwrap_or("");
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| json_patch_error(format!("{name} operation has no value")))
        };
        match name {
            "add" => pointer_add(doc, path, value()?)?,
            "remove" => {
                pointer_remove(doc, path)?;
            }
            "replace" => {
                pointer_remove(doc, path).map_err(|_| {
                    json_patch_error(format!(
                        "replace operation does not apply: doc is missing key: {path}"
                    ))
                })?;
                pointer_add(doc, path, value()?)?;
            }
            "move" => {
                let v = pointer_remove(doc, from)?;
                pointer_add(doc, path, v)?;
            }
            "copy" => {
                let v = doc.pointer(from).cloned().ok_or_else(|| {
                    json_patch_error(format!(
                        "copy operation does not apply: doc is missing from path: {from}"
                    ))
                })?;
                pointer_add(doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value()?) {
                    return Err(json_patch_error(format!(
                        "testing value {path} failed: test failed"
                    )));
                }
            }
            other => {
                return Err(json_patch_error(format!("Unexpected kind: {other}")));
            }
        }
    }
    Ok(())
}

/// The `fieldsV1` set of an applied configuration: every member path (`f:<name>`), lists
/// and scalars as leaves. A simplified form of structured-merge-diff's field sets.
fn fields_v1(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(format!("f:{k}"), fields_v1(v));
            }
            Value::Object(out)
        }
        _ => json!({}),
    }
}

/// Member paths of a `fieldsV1` set whose value is a leaf.
fn leaf_paths(set: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Some(m) = set.as_object() {
        if m.is_empty() && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for (k, v) in m {
            if let Some(name) = k.strip_prefix("f:") {
                prefix.push(name.to_string());
                leaf_paths(v, prefix, out);
                prefix.pop();
            }
        }
    }
}

/// Server-side apply as a field-owning merge: the applied configuration is merged in, the
/// manager's entry in `managedFields` records what it set, and fields it set last time but
/// left out now are removed (kubernetes.io/docs/reference/using-api/server-side-apply/).
/// Conflicts with other managers are not detected.
fn apply(old: &Value, applied: &Value, manager: &str, api_version: &str, now: i64) -> Value {
    let mut obj = old.clone();
    let managed: Vec<Value> = old
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let previous = managed.iter().find(|m| {
        m.get("manager").and_then(Value::as_str) == Some(manager)
            && m.get("operation").and_then(Value::as_str) == Some("Apply")
    });
    let new_set = fields_v1(applied);
    if let Some(prev) = previous.and_then(|p| p.get("fieldsV1")) {
        let mut gone = Vec::new();
        leaf_paths(prev, &mut Vec::new(), &mut gone);
        for path in gone {
            let still = path
                .iter()
                .try_fold(&new_set, |s, seg| s.get(format!("f:{seg}")))
                .is_some();
            if !still && path.first().map(String::as_str) != Some("metadata") {
                let pointer: String = path
                    .iter()
                    .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
                    .collect();
                let _ = pointer_remove(&mut obj, &pointer);
            }
        }
    }
    let mut patch = applied.clone();
    if let Some(meta) = patch.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        meta.remove("resourceVersion");
    }
    merge_patch(&mut obj, &patch);
    let mut entries: Vec<Value> = managed
        .into_iter()
        .filter(|m| {
            !(m.get("manager").and_then(Value::as_str) == Some(manager)
                && m.get("operation").and_then(Value::as_str) == Some("Apply"))
        })
        .collect();
    entries.push(json!({
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": rfc3339(now),
        "fieldsType": "FieldsV1",
        "fieldsV1": new_set,
    }));
    if let Some(map) = obj.as_object_mut()
        && let Some(meta) = map
            .entry("metadata")
            .or_insert_with(|| json!({}))
            .as_object_mut()
    {
        meta.insert("managedFields".into(), Value::Array(entries));
    }
    obj
}

/// PATCH. The accepted media types are those of apiserver's api_installer (core kinds) and
/// apiextensions-apiserver's customresource_handler (custom resources: no strategic merge,
/// since a CRD has no patch strategy); anything else is 415 (handlers/patch.go).
pub(super) fn patch(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
    rng: &mut fastrand::Rng,
) -> Result<Response, ApiError> {
    const JSON: &str = "application/json-patch+json";
    const MERGE: &str = "application/merge-patch+json";
    const STRATEGIC: &str = "application/strategic-merge-patch+json";
    const APPLY: &str = "application/apply-patch+yaml";
    let accepted: &[&str] = if def.group.is_empty() {
        &[JSON, MERGE, STRATEGIC, APPLY]
    } else {
        &[JSON, MERGE, APPLY]
    };
    let ct = media_type(req.content_type);
    if !accepted.contains(&ct) {
        return Err(unsupported_media_type(accepted));
    }
    let manager = req.query.get("fieldManager").unwrap_or("");
    if ct == APPLY && manager.is_empty() {
        // apimachinery/pkg/apis/meta/v1/validation ValidatePatchOptions.
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    }
    let body: Value = if ct == JSON {
        serde_json::from_slice(req.body).map_err(|e| ApiError::bad_request(format!("json: {e}")))?
    } else {
        parse_body(req)?
    };
    let Some(old) = store.objects.get(&key(def.plural, ns, name)).cloned() else {
        if ct == APPLY {
            let mut obj = body.clone();
            let managed = apply(&json!({}), &body, manager, &def.api_version(), req.now)
                .pointer("/metadata/managedFields")
                .cloned();
            if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("managedFields");
            }
            return create_object(store, req, def, ns, &mut obj, rng, managed);
        }
        return Err(ApiError::not_found(def, name));
    };
    let obj = match ct {
        JSON => {
            let mut obj = old.object.clone();
            json_patch(&mut obj, &body)?;
            obj
        }
        APPLY => apply(&old.object, &body, manager, &def.api_version(), req.now),
        // Strategic merge on the core kinds served (Secret, Namespace) is a merge patch:
        // their maps have no list merge keys.
        _ => {
            let mut obj = old.object.clone();
            merge_patch(&mut obj, &body);
            obj
        }
    };
    finish_update(store, req, def, &old, obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_patch_follows_rfc_6902() {
        let mut doc = json!({"a": {"b": [1, 2]}, "c": "x"});
        let ops = json!([
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "replace", "path": "/c", "value": "y"},
            {"op": "copy", "from": "/c", "path": "/d"},
            {"op": "move", "from": "/d", "path": "/e"},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "test", "path": "/e", "value": "y"},
        ]);
        json_patch(&mut doc, &ops).unwrap();
        assert_eq!(doc, json!({"a": {"b": [2, 3]}, "c": "y", "e": "y"}));
        let err = json_patch(&mut doc, &json!([{"op": "remove", "path": "/nope"}])).unwrap_err();
        assert!(
            format!("{err:?}").contains("doc is missing path: \\\"/nope\\\""),
            "{err:?}"
        );
    }

    #[test]
    fn apply_removes_only_what_the_manager_stopped_setting() {
        let first = apply(
            &json!({"spec": {"keep": 1}}),
            &json!({"spec": {"a": 1, "b": 2}}),
            "me",
            "v1",
            0,
        );
        assert_eq!(first["spec"], json!({"keep": 1, "a": 1, "b": 2}));
        let second = apply(&first, &json!({"spec": {"a": 5}}), "me", "v1", 0);
        assert_eq!(second["spec"], json!({"keep": 1, "a": 5}));
        let mf = second["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(mf.len(), 1);
        assert_eq!(mf[0]["fieldsV1"], json!({"f:spec": {"f:a": {}}}));
    }
}
