//! OpenAPI v2 (`/openapi/v2`) and v3 (`/openapi/v3`, `/openapi/v3/<api|apis/group>/<version>`)
//! built from the embedded schemas, as an API server publishes a CRD's `openAPIV3Schema`
//! (apiextensions-apiserver/pkg/controller/openapi{,v3}/builder). `kubectl explain` and
//! kubectl's field-validation probe read v3 as JSON (client-go openapi
//! `GroupVersion.Schema(runtime.ContentTypeJSON)`; kubectl resource.QueryParamVerifierV3
//! looks for a PATCH operation with the GVK extension and a `fieldValidation` parameter).
//! Protobuf is not served: a request that accepts only protobuf is 406, which client-go's
//! v2 `OpenAPISchema()` treats as "no OpenAPI v2" (kubectl uses v3 first since 1.27).

use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::error::{ApiError, json_response};
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
fn definition(def: &ResourceDef) -> Result<Value, ApiError> {
    let mut schema = schemas::document(def.schema)
        .map_err(ApiError::internal)?
        .clone();
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

/// The query parameters the API server documents on a write (only those kubectl probes).
fn write_params(v3: bool) -> Value {
    let param = |name: &str, desc: &str| {
        if v3 {
            json!({"name": name, "in": "query", "description": desc, "schema": {"type": "string", "uniqueItems": true}})
        } else {
            json!({"name": name, "in": "query", "description": desc, "type": "string", "uniqueItems": true})
        }
    };
    json!([
        param(
            "dryRun",
            "When present, indicates that modifications should not be persisted."
        ),
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
            "delete": op("delete", "delete", json!([{"name": "dryRun", "in": "query"}])),
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

fn not_acceptable(v3: bool) -> ApiError {
    let pb = if v3 {
        "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
    } else {
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    };
    // apimachinery negotiation.NewNotAcceptableError.
    ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "NotAcceptable",
        format!("only the following media types are accepted: application/json, {pb}"),
    )
}

/// `GET /openapi/v2`: one Swagger 2.0 document for every served kind.
pub(super) fn v2(accept: &str) -> Result<Response, ApiError> {
    if !wants_json(accept) {
        return Err(not_acceptable(false));
    }
    let mut definitions = Map::new();
    let mut paths = Map::new();
    for def in &RESOURCES {
        definitions.insert(definition_name(def), definition(def)?);
        paths_of(def, false, &mut paths);
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.31.0"},
            "paths": paths,
            "definitions": definitions,
        }),
    ))
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
        components.insert(definition_name(def), definition(def)?);
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
        return Err(not_acceptable(true));
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
}
