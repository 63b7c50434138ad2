//! Admission: the type check and the builtin and schema validation of a written object.

use serde_json::Value;

use super::Shared;
use super::error::ApiError;
use crate::sim::kube::store::ResourceDef;
use crate::sim::kube::validate;

pub(super) fn check_type(def: &ResourceDef, obj: &Value) -> Result<(), ApiError> {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind.is_empty() {
        return Err(ApiError::bad_request(
            "Object 'Kind' is missing in the request body",
        ));
    }
    if av != def.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            def.api_version()
        )));
    }
    if kind != def.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            def.kind
        )));
    }
    Ok(())
}

/// Builtin and schema checks; the object is judged without its server-owned `status`.
pub(super) fn admit(sh: &Shared, def: &ResourceDef, obj: &Value) -> Result<(), ApiError> {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut causes = validate::builtin(def, obj);
    if let Some(schemas) = &sh.schemas {
        let mut judged = obj.clone();
        if def.status_subresource
            && let Some(m) = judged.as_object_mut()
        {
            m.remove("status");
        }
        causes.extend(schemas.check(def.kind, &judged));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        causes.truncate(10);
        Err(ApiError::invalid(def, name, &causes))
    }
}
