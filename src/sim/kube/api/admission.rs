//! Admission: the type check and the builtin and schema validation of a written object.

use base64::Engine;
use serde_json::{Value, json};

use super::Shared;
use super::error::ApiError;
use super::request::FieldValidation;
use crate::sim::kube::store::{ResourceDef, SECRETS};
use crate::sim::kube::validate;

/// What decoding does with fields the schema does not know: Strict fails with 400 and the
/// decoder's text, Warn and Ignore drop them (a CRD's structural pruning, or the typed
/// decoder for core kinds), Warn naming each in a warning.
/// Source: kubernetes.io/docs/reference/using-api/api-concepts/#field-validation and
/// apimachinery/pkg/runtime/serializer/json (`strict decoding error: unknown field "spec.foo"`).
pub(super) fn decode_fields(
    sh: &Shared,
    def: &ResourceDef,
    obj: &mut Value,
    fv: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    let mut pruned = obj.clone();
    let unknown = sh.schemas.prune(def.kind, &mut pruned);
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let texts: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    match fv {
        // Wrapped as handlers/create.go's transformDecodeError words a decode failure.
        FieldValidation::Strict => Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
            texts.join(", "),
            kind = def.kind,
            version = def.version,
        ))),
        FieldValidation::Warn => {
            *obj = pruned;
            Ok(texts)
        }
        FieldValidation::Ignore => {
            *obj = pruned;
            Ok(Vec::new())
        }
    }
}

/// A Secret's `stringData` is merged into `data` (base64), its keys winning, and is not
/// stored: kubernetes pkg/apis/core/v1/conversion.go (Convert_v1_Secret_To_core_Secret).
pub(super) fn string_data_to_data(def: &ResourceDef, obj: &mut Value) {
    if *def != SECRETS {
        return;
    }
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = map.remove("stringData") else {
        return;
    };
    let data = map.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    if let Some(data) = data.as_object_mut() {
        for (k, v) in string_data {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            data.insert(
                k,
                json!(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
}

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
    let mut judged = obj.clone();
    if def.status_subresource
        && let Some(m) = judged.as_object_mut()
    {
        m.remove("status");
    }
    causes.extend(sh.schemas.check(def.kind, &judged));
    if causes.is_empty() {
        Ok(())
    } else {
        causes.truncate(10);
        Err(ApiError::invalid(def, name, &causes))
    }
}
