//! OpenAPI v2 (`/openapi/v2`) and v3 (`/openapi/v3`, `/openapi/v3/<api|apis/group>/<version>`)
//! built from the embedded schemas, as an API server publishes a CRD's `openAPIV3Schema`
//! (apiextensions-apiserver/pkg/controller/openapi{,v3}/builder). `kubectl explain` and
//! kubectl's field-validation probe read v3 as JSON (client-go openapi
//! `GroupVersion.Schema(runtime.ContentTypeJSON)`; kubectl resource.QueryParamVerifierV3
//! looks for a PATCH operation with the GVK extension and a `fieldValidation` parameter).
//! kubectl before 1.29 reads v2 only as protobuf (`explain`, client-side validation of
//! `apply`, `diff`): `/openapi/v2` negotiates JSON or gnostic's `openapi.v2.Document`
//! (encoded in [`super::openapi_pb`]) as kube-openapi `pkg/handler` does. v3 is JSON only.

use std::sync::OnceLock;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha512};

use super::error::{ApiError, json_response};
use super::openapi_pb;
use crate::sim::kube::schemas;
use crate::sim::kube::store::{RESOURCES, ResourceDef};

/// `kubevirt.io` -> `io.kubevirt`: the reversed-domain prefix of OpenAPI definition names.
fn definition_name(def: &ResourceDef) -> String {
    if def.group.is_empty() {
        return format!("io.k8s.api.core.{}.{}", def.version, def.kind);
    }
    let reversed: Vec<&str> = def.group.split('.').rev().collect();
    format!("{}.{}.{}", reversed.join("."), def.version, def.kind)
}

/// The schema of one kind with its `x-kubernetes-group-version-kind`, `$schema`/`$id` dropped.
fn definition(def: &ResourceDef) -> Result<Value, String> {
    let mut schema = schemas::document(def.schema)?.clone();
    if let Some(m) = schema.as_object_mut() {
        m.remove("$schema");
        m.remove("$id");
        m.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": def.group, "version": def.version, "kind": def.kind}]),
        );
    }
    Ok(schema)
}

/// A string query parameter as the API server documents it (a v2 non-body parameter has a
/// `type`: gnostic's NonBodyParameter requires `in`, `name` and `type`).
fn query_param(v3: bool, name: &str, desc: &str) -> Value {
    if v3 {
        json!({"name": name, "in": "query", "description": desc, "schema": {"type": "string", "uniqueItems": true}})
    } else {
        json!({"name": name, "in": "query", "description": desc, "type": "string", "uniqueItems": true})
    }
}

fn dry_run_param(v3: bool) -> Value {
    query_param(
        v3,
        "dryRun",
        "When present, indicates that modifications should not be persisted.",
    )
}

/// The query parameters the API server documents on a write (only those kubectl probes).
fn write_params(v3: bool) -> Value {
    let param = |name: &str, desc: &str| query_param(v3, name, desc);
    json!([
        dry_run_param(v3),
        param(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes."
        ),
        param(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn (the default) and Strict."
        ),
    ])
}

/// The paths of one resource: its namespaced collection and object, each operation tagged
/// with the GVK as the API server tags them.
fn paths_of(def: &ResourceDef, v3: bool, out: &mut Map<String, Value>) {
    let prefix = if def.group.is_empty() {
        format!("/api/{}", def.version)
    } else {
        format!("/apis/{}/{}", def.group, def.version)
    };
    let gvk = json!({"group": def.group, "version": def.version, "kind": def.kind});
    let reference = if v3 {
        json!({"$ref": format!("#/components/schemas/{}", definition_name(def))})
    } else {
        json!({"$ref": format!("#/definitions/{}", definition_name(def))})
    };
    let response = if v3 {
        json!({"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}})
    } else {
        json!({"200": {"description": "OK", "schema": reference}})
    };
    let op = |action: &str, id: &str, params: Value| {
        json!({
            "operationId": format!("{id}{}", def.kind),
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
            "parameters": params,
            "responses": response,
        })
    };
    out.insert(
        format!("{prefix}/namespaces/{{namespace}}/{}", def.plural),
        json!({
            "get": op("list", "list", json!([])),
            "post": op("post", "create", write_params(v3)),
        }),
    );
    out.insert(
        format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", def.plural),
        json!({
            "get": op("get", "read", json!([])),
            "put": op("put", "replace", write_params(v3)),
            "patch": op("patch", "patch", write_params(v3)),
            "delete": op("delete", "delete", json!([dry_run_param(v3)])),
        }),
    );
}

/// True unless the client accepts only media types other than JSON (e.g. protobuf).
fn wants_json(accept: &str) -> bool {
    accept.trim().is_empty()
        || accept.split(',').any(|a| {
            let t = a.split(';').next().unwrap_or("").trim();
            matches!(t, "application/json" | "*/*" | "application/*")
        })
}

fn not_acceptable_v3() -> ApiError {
    // apimachinery negotiation.NewNotAcceptableError.
    ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "NotAcceptable",
        "only the following media types are accepted: application/json, application/com.github.proto-openapi.spec.v3@v1.0+protobuf",
    )
}

/// The v2 form of a definition, as the API server publishes a CRD's schema in OpenAPI v2
/// (apiextensions-apiserver controller/openapi/v2 `ToStructuralOpenAPIV2`): junctors
/// (`allOf`/`oneOf`/`anyOf`/`not`) dropped; a `nullable` schema loses its type, items and
/// properties, and leaves its parent's `required`; `x-kubernetes-preserve-unknown-fields`
/// loses items and properties; an array without items loses its type. Besides, what the
/// embedded JSON Schemas add to the published schemas goes: the `"null"` of
/// `type: [T, "null"]` (kubeconform's nullable built-ins: the API server publishes `T`) and
/// `additionalProperties: false` (never published: a structural schema may not set it).
/// kubectl's v2 parser (kube-openapi pkg/util/proto) refuses a definition with several
/// types or an array without items, so this is what makes the document usable.
fn to_v2(schema: &mut Value) {
    let Some(m) = schema.as_object_mut() else {
        return;
    };
    for junctor in ["allOf", "oneOf", "anyOf", "not"] {
        m.remove(junctor);
    }
    if let Some(Value::Array(types)) = m.get("type") {
        let kept: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        match kept.as_slice() {
            [one] => {
                m.insert("type".into(), one.clone());
            }
            _ => {
                m.remove("type");
            }
        }
    }
    let is_nullable = |v: &Value| v.get("nullable") == Some(&Value::Bool(true));
    let nullable_fields: Vec<String> = m
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .filter(|(_, v)| is_nullable(v))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut drop_required = m.get("additionalProperties").is_some_and(is_nullable);
    if let Some(Value::Array(required)) = m.get_mut("required") {
        required.retain(|r| {
            !r.as_str()
                .is_some_and(|r| nullable_fields.iter().any(|f| f == r))
        });
        drop_required |= required.is_empty();
    }
    if drop_required {
        m.remove("required");
    }
    if m.remove("nullable") == Some(Value::Bool(true)) {
        m.remove("type");
        m.remove("items");
        m.remove("properties");
    }
    if m.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        m.remove("items");
        m.remove("properties");
    }
    if !m.contains_key("items") && m.get("type").and_then(Value::as_str) == Some("array") {
        m.remove("type");
    }
    if m.get("additionalProperties") == Some(&Value::Bool(false)) {
        m.remove("additionalProperties");
    }
    if let Some(Value::Object(props)) = m.get_mut("properties") {
        props.values_mut().for_each(to_v2);
    }
    match m.get_mut("items") {
        Some(Value::Array(items)) => items.iter_mut().for_each(to_v2),
        Some(items) => to_v2(items),
        None => {}
    }
    if let Some(extra) = m.get_mut("additionalProperties") {
        to_v2(extra);
    }
}

/// The Swagger 2.0 document of every served kind, as `/openapi/v2` publishes it.
pub(super) fn v2_document() -> Result<Value, String> {
    let mut definitions = Map::new();
    let mut paths = Map::new();
    for def in &RESOURCES {
        let mut schema = definition(def)?;
        to_v2(&mut schema);
        definitions.insert(definition_name(def), schema);
        paths_of(def, false, &mut paths);
    }
    Ok(json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.31.0"},
        "paths": paths,
        "definitions": definitions,
    }))
}

/// The v2 document in both encodings and its ETag, built once: the schemas are embedded.
struct V2 {
    json: Vec<u8>,
    protobuf: Vec<u8>,
    /// kube-openapi handler `computeETag`: the upper-case hex SHA-512 of the JSON bytes,
    /// the same for both encodings, quoted.
    etag: String,
}

fn v2_cached() -> Result<&'static V2, ApiError> {
    static V2_DOC: OnceLock<Result<V2, String>> = OnceLock::new();
    V2_DOC
        .get_or_init(|| {
            let doc = v2_document()?;
            let json = serde_json::to_vec(&doc).map_err(|e| e.to_string())?;
            let hash: String = Sha512::digest(&json)
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect();
            Ok(V2 {
                protobuf: openapi_pb::document(&doc),
                json,
                etag: format!("\"{hash}\""),
            })
        })
        .as_ref()
        .map_err(|e| ApiError::internal(e.clone()))
}

/// The media types `/openapi/v2` serves, in kube-openapi handler order:
/// (type, subtype, Content-Type answered, protobuf?).
const V2_TYPES: [(&str, &str, &str, bool); 3] = [
    ("application", "json", "application/json", false),
    (
        "application",
        "com.github.proto-openapi.spec.v2@v1.0+protobuf",
        V2_PROTOBUF,
        true,
    ),
    (
        "application",
        "com.github.proto-openapi.spec.v2.v1.0+protobuf",
        V2_PROTOBUF,
        true,
    ),
];

/// The Content-Type of the protobuf answer, also for the deprecated `@v1.0` request type.
const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Which of [`V2_TYPES`] an `Accept` header gets: goautoneg `ParseAccept` (clauses ordered
/// by its `Less`: higher q first, then specific types before `*`), then the first clause
/// that one of the served types matches (`*` matches any). An empty header is `*/*`.
fn negotiate_v2(accept: &str) -> Option<usize> {
    let accept = if accept.trim().is_empty() {
        "*/*"
    } else {
        accept
    };
    struct Clause<'a> {
        ty: &'a str,
        sub: &'a str,
        q: f64,
    }
    let mut clauses: Vec<Clause<'_>> = Vec::new();
    for part in accept.split(',') {
        let mut params = part.trim_matches(' ').split(';');
        let range = params.next().unwrap_or("");
        let mut sp = range.split('/');
        let ty = sp.next().unwrap_or("").trim_matches(' ');
        let sub = match (sp.next(), sp.next()) {
            (None, _) if ty == "*" => "*",
            (Some(sub), None) => sub.trim_matches(' '),
            _ => continue,
        };
        let mut q = 1.0;
        for p in params {
            if let Some((k, v)) = p.split_once('=')
                && k.trim_matches(' ') == "q"
            {
                // strconv.ParseFloat failing leaves 0.
                q = v.parse().unwrap_or(0.0);
            }
        }
        clauses.push(Clause { ty, sub, q });
    }
    // sort.Sort on a short slice is an insertion sort with this Less.
    let less = |a: &Clause<'_>, b: &Clause<'_>| {
        a.q > b.q || (a.ty != "*" && b.ty == "*") || (a.sub != "*" && b.sub == "*")
    };
    for i in 1..clauses.len() {
        let mut j = i;
        while j > 0 && less(&clauses[j], &clauses[j - 1]) {
            clauses.swap(j, j - 1);
            j -= 1;
        }
    }
    clauses.iter().find_map(|c| {
        V2_TYPES.iter().position(|(ty, sub, _, _)| {
            (c.ty == *ty || c.ty == "*") && (c.sub == *sub || c.sub == "*")
        })
    })
}

/// Whether an `If-None-Match` header matches the ETag (net/http `checkIfNoneMatch`: a list
/// of entity tags or `*`, compared weakly).
fn none_match(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').any(|t| {
        let t = t.trim();
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag
    })
}

/// `GET /openapi/v2`: one Swagger 2.0 document for every served kind, as JSON or as
/// protobuf (kube-openapi pkg/handler `RegisterOpenAPIVersionedService`: `Vary: Accept`,
/// the ETag of the JSON bytes, `http.ServeContent` answering 304 to a matching
/// `If-None-Match`, and a bare 406 when no served type is acceptable).
pub(super) fn v2(accept: &str, if_none_match: &str) -> Result<Response, ApiError> {
    let mut resp = Response::new(Body::empty());
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    let Some(choice) = negotiate_v2(accept) else {
        *resp.status_mut() = StatusCode::NOT_ACCEPTABLE;
        return Ok(resp);
    };
    let (_, _, content_type, protobuf) = V2_TYPES[choice];
    let doc = v2_cached()?;
    if let Ok(v) = HeaderValue::from_str(&doc.etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if none_match(if_none_match, &doc.etag) {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(resp);
    }
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let body = if protobuf { &doc.protobuf } else { &doc.json };
    *resp.body_mut() = Body::from(body.clone());
    Ok(resp)
}

/// The `api/v1` or `apis/<group>/<version>` keys of the v3 discovery document.
fn group_versions() -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for def in &RESOURCES {
        let path = if def.group.is_empty() {
            format!("api/{}", def.version)
        } else {
            format!("apis/{}/{}", def.group, def.version)
        };
        if !out.iter().any(|(p, _, _)| *p == path) {
            out.push((path, def.group.to_string(), def.version.to_string()));
        }
    }
    out
}

/// The OpenAPI v3 document of one group-version.
fn v3_document(group: &str, version: &str) -> Result<Option<Value>, ApiError> {
    let defs: Vec<&ResourceDef> = RESOURCES
        .iter()
        .filter(|d| d.group == group && d.version == version)
        .collect();
    if defs.is_empty() {
        return Ok(None);
    }
    let mut components = Map::new();
    let mut paths = Map::new();
    for def in defs {
        components.insert(
            definition_name(def),
            definition(def).map_err(ApiError::internal)?,
        );
        paths_of(def, true, &mut paths);
    }
    Ok(Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.31.0"},
        "paths": paths,
        "components": {"schemas": components},
    })))
}

fn hash_of(doc: &Value) -> String {
    let bytes = serde_json::to_vec(doc).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// `GET /openapi/v3`: where each group-version's document is
/// (kube-openapi handler3 OpenAPIV3Discovery).
pub(super) fn v3_discovery() -> Result<Response, ApiError> {
    let mut paths = Map::new();
    for (path, group, version) in group_versions() {
        if let Some(doc) = v3_document(&group, &version)? {
            paths.insert(
                path.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", hash_of(&doc))}),
            );
        }
    }
    Ok(json_response(StatusCode::OK, &json!({"paths": paths})))
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`.
pub(super) fn v3(group: &str, version: &str, accept: &str) -> Result<Response, ApiError> {
    if !wants_json(accept) {
        return Err(not_acceptable_v3());
    }
    let doc = v3_document(group, version)?.ok_or_else(ApiError::no_route)?;
    let etag = format!("\"{}\"", hash_of(&doc));
    let mut resp = json_response(StatusCode::OK, &doc);
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_named_as_the_api_server_names_them() {
        let names: Vec<String> = RESOURCES.iter().map(definition_name).collect();
        assert_eq!(
            names,
            [
                "io.k8s.api.core.v1.Secret",
                "io.k8s.api.core.v1.ConfigMap",
                "io.k8s.api.core.v1.Event",
                "io.kubevirt.v1.VirtualMachine",
                "io.kubevirt.v1.VirtualMachineInstance",
                "io.kubevirt.cdi.v1beta1.DataVolume",
                "io.cncf.cni.k8s.v1.NetworkAttachmentDefinition",
            ]
        );
        assert!(wants_json("application/json, */*"));
        assert!(wants_json(""));
        assert!(!wants_json(
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
        ));
    }

    #[test]
    fn v2_media_types_are_negotiated_as_kube_openapi_does() {
        let pb_deprecated = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
        let pb = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
        // kubectl 1.27/1.28 (client-go openAPIV2mimePb) and newer clients.
        assert_eq!(negotiate_v2(pb_deprecated), Some(1));
        assert_eq!(negotiate_v2(pb), Some(2));
        assert_eq!(V2_TYPES[1].2, pb);
        for json in [
            "",
            "*/*",
            "application/*",
            "application/json",
            "application/json, */*",
        ] {
            assert_eq!(negotiate_v2(json), Some(0), "{json}");
        }
        // Higher q first; at equal q the clause order stands.
        assert_eq!(
            negotiate_v2(&format!("application/json;q=0.5, {pb}")),
            Some(2)
        );
        assert_eq!(negotiate_v2(&format!("{pb}, application/json")), Some(2));
        assert_eq!(
            negotiate_v2(&format!("*/*;q=0.9, {pb_deprecated};q=0.8")),
            Some(1)
        );
        // Nothing served: 406.
        assert_eq!(negotiate_v2("text/html"), None);
        assert_eq!(negotiate_v2("application/yaml"), None);
        assert_eq!(negotiate_v2("garbage"), None);

        let etag = "\"AB\"";
        assert!(none_match("\"AB\"", etag));
        assert!(none_match("W/\"AB\"", etag));
        assert!(none_match("\"XX\", \"AB\"", etag));
        assert!(none_match("*", etag));
        assert!(!none_match("", etag));
        assert!(!none_match("\"XX\"", etag));
    }

    #[test]
    fn v2_schemas_are_published_as_the_api_server_publishes_crds_in_v2() {
        let mut s = json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["a", "n", "p"],
            "properties": {
                "a": {"type": ["string", "null"], "enum": ["x"]},
                "n": {"type": "object", "nullable": true, "properties": {"x": {"type": "string"}}},
                "p": {"type": "array", "x-kubernetes-preserve-unknown-fields": true, "items": {"type": "string"}},
                "i": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "l": {"type": "array", "items": {"type": ["object", "null"], "additionalProperties": {"type": "string", "nullable": true}, "required": ["k"]}},
            },
        });
        to_v2(&mut s);
        assert_eq!(
            s,
            json!({
                "type": "object",
                "required": ["a", "p"],
                "properties": {
                    "a": {"type": "string", "enum": ["x"]},
                    "n": {},
                    "p": {"x-kubernetes-preserve-unknown-fields": true},
                    "i": {"x-kubernetes-int-or-string": true},
                    "l": {"type": "array", "items": {"type": "object", "additionalProperties": {}}},
                },
            })
        );
        // The whole document: one type per schema, no junctors, no nullable.
        let doc = v2_document().unwrap();
        let text = serde_json::to_string(&doc).unwrap();
        for gone in [
            "\"null\"",
            "\"nullable\"",
            "\"anyOf\"",
            "\"additionalProperties\":false",
        ] {
            assert!(!text.contains(gone), "{gone}");
        }
    }
}
