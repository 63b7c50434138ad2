//! Admission checks: the real CRD JSON Schemas plus the checks the API server and Multus make.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

use base64::Engine;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::schemas;
use super::store::{NADS, RESOURCES, ResourceDef, SECRETS};

/// One reason an object was rejected (a `StatusCause`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cause {
    /// Dotted field path, e.g. `spec.template`.
    pub field: String,
    pub message: String,
}

/// At most this many causes are reported, like the API server's truncation.
const MAX_CAUSES: usize = 10;

/// The members of `ObjectMeta` (apimachinery/pkg/apis/meta/v1/types.go).
const OBJECT_META: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Compiled validators, one per kind.
pub(crate) struct Schemas {
    by_kind: HashMap<&'static str, jsonschema::Validator>,
}

impl Schemas {
    /// The validators of the embedded schemas, compiled once per process.
    pub(crate) fn embedded() -> Result<&'static Self, String> {
        static COMPILED: OnceLock<Result<Schemas, String>> = OnceLock::new();
        COMPILED
            .get_or_init(Self::compile)
            .as_ref()
            .map_err(Clone::clone)
    }

    fn compile() -> Result<Self, String> {
        let mut by_kind = HashMap::new();
        for def in RESOURCES {
            let schema = schemas::document(def.schema)?;
            let validator = if def.draft7 {
                jsonschema::draft7::new(schema)
            } else {
                jsonschema::validator_for(schema)
            }
            .map_err(|e| format!("schema `{}` does not compile: {e}", def.schema))?;
            by_kind.insert(def.kind, validator);
        }
        Ok(Self { by_kind })
    }

    /// Schema violations of `obj` as `kind`, unknown fields aside (see [`Self::prune`]).
    pub(super) fn check(&self, kind: &str, obj: &Value) -> Vec<Cause> {
        let Some(v) = self.by_kind.get(kind) else {
            return Vec::new();
        };
        v.iter_errors(obj)
            .filter(|e| !matches!(e.kind(), ValidationErrorKind::AdditionalProperties { .. }))
            .take(MAX_CAUSES)
            .map(|e| Cause {
                field: dotted(&e.instance_path().to_string()),
                message: e.to_string(),
            })
            .collect()
    }

    /// Removes the fields the schema does not know (`additionalProperties: false`) and names
    /// them as the API server does (`spec.template.spec.foo`, `spec.volumes[0].bar`): the
    /// structural pruning of a CRD, or the decoder dropping unknown JSON fields of a core kind.
    /// Source: kubernetes.io/docs/reference/using-api/api-concepts/#field-validation and
    /// apiextensions-apiserver/pkg/apiserver/schema/pruning.
    pub(super) fn prune(&self, kind: &str, obj: &mut Value) -> Vec<String> {
        let Some(v) = self.by_kind.get(kind) else {
            return Vec::new();
        };
        let mut unknown = Vec::new();
        // A removed field may hide another below it only in theory; a few passes are plenty.
        for _ in 0..4 {
            let found: Vec<(String, Vec<String>)> = v
                .iter_errors(obj)
                .filter_map(|e| match e.kind() {
                    ValidationErrorKind::AdditionalProperties { unexpected } => {
                        Some((e.instance_path().to_string(), unexpected.clone()))
                    }
                    _ => None,
                })
                .collect();
            if found.is_empty() {
                break;
            }
            for (pointer, names) in found {
                if let Some(map) = obj.pointer_mut(&pointer).and_then(Value::as_object_mut) {
                    for n in names {
                        if map.remove(&n).is_some() {
                            unknown.push(field_path(&pointer, &n));
                        }
                    }
                }
            }
        }
        // A CRD schema says only `metadata: {type: object}`; the server still decodes it as
        // ObjectMeta (apimachinery/pkg/apis/meta/v1/types.go), so unknown members go too.
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            let extra: Vec<String> = meta
                .keys()
                .filter(|k| !OBJECT_META.contains(&k.as_str()))
                .cloned()
                .collect();
            for k in extra {
                meta.remove(&k);
                unknown.push(format!("metadata.{k}"));
            }
        }
        // Sorted, so the answer does not depend on the order the schema is evaluated in.
        unknown.sort();
        unknown
    }
}

/// `/spec/volumes/0` + `bar` -> `spec.volumes[0].bar`.
fn field_path(pointer: &str, name: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str(name);
    out
}

/// `/spec/template` -> `spec.template`; the root is `<root>`.
fn dotted(pointer: &str) -> String {
    let p = pointer.trim_start_matches('/').replace('/', ".");
    if p.is_empty() { "<root>".into() } else { p }
}

fn cause(field: &str, message: impl Into<String>) -> Cause {
    Cause {
        field: field.to_string(),
        message: message.into(),
    }
}

/// RFC 1123 subdomain (names of most objects).
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// A label value: at most 63 characters, alphanumeric at both ends, `-_.` inside.
fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// A label key: optional DNS-subdomain prefix and `/`, then a name like a label value.
fn is_label_key(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

/// The checks every API server makes on metadata, plus per-kind checks.
pub(crate) fn builtin(def: &ResourceDef, obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !is_dns_subdomain(name) {
        out.push(cause(
            "metadata.name",
            format!(
                "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            ),
        ));
    }
    if let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if !is_label_key(k) {
                out.push(cause("metadata.labels", format!("Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.'")));
            }
            match v.as_str() {
                Some(s) if is_label_value(s) => {}
                _ => out.push(cause(
                    "metadata.labels",
                    format!("Invalid value: {v}: a valid label must be an empty string or consist of at most 63 alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
                )),
            }
        }
    }
    if def.kind == SECRETS.kind {
        out.extend(secret(obj));
    }
    if def.kind == NADS.kind {
        out.extend(nad(obj));
    }
    out.truncate(MAX_CAUSES);
    out
}

fn secret(obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    let mut total = 0usize;
    if let Some(data) = obj.get("data").and_then(Value::as_object) {
        for (k, v) in data {
            match v
                .as_str()
                .map(|s| base64::engine::general_purpose::STANDARD.decode(s))
            {
                Some(Ok(bytes)) => total += bytes.len(),
                _ => out.push(cause(
                    &format!("data[{k}]"),
                    "Invalid value: illegal base64 data",
                )),
            }
        }
    }
    if let Some(data) = obj.get("stringData").and_then(Value::as_object) {
        total += data
            .values()
            .filter_map(Value::as_str)
            .map(str::len)
            .sum::<usize>();
    }
    if total > 1024 * 1024 {
        out.push(cause("data", "Too long: must have at most 1048576 bytes"));
    }
    out
}

/// Multus parses `spec.config` as CNI JSON; a broken one fails only at pod start on a
/// real cluster, so the simulator rejects it up front to surface the bug.
pub(crate) fn nad(obj: &Value) -> Vec<Cause> {
    let field = "spec.config";
    let Some(text) = obj.pointer("/spec/config").and_then(Value::as_str) else {
        return Vec::new();
    };
    let conf: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return vec![cause(field, format!("Invalid value: not json: {e}"))],
    };
    let mut out = Vec::new();
    if conf.get("cniVersion").and_then(Value::as_str).is_none() {
        out.push(cause(field, "Required value: `cniVersion` is missing"));
    }
    // A plain config has `type`; a conflist has `plugins[].type`.
    let plugins: Vec<&Value> = match conf.get("plugins").and_then(Value::as_array) {
        Some(list) => list.iter().collect(),
        None => vec![&conf],
    };
    for p in plugins {
        if p.get("type").and_then(Value::as_str).is_none() {
            out.push(cause(field, "Required value: `type` is missing"));
        }
        if let Some(ipam) = p.get("ipam").filter(|i| !i.is_null()) {
            out.extend(ipam_causes(ipam));
        }
    }
    out
}

fn ipam_causes(ipam: &Value) -> Vec<Cause> {
    let field = "spec.config";
    let mut out = Vec::new();
    let Some(kind) = ipam.get("type").and_then(Value::as_str) else {
        return vec![cause(field, "Required value: `ipam.type` is missing")];
    };
    if kind != "static" {
        return out;
    }
    match ipam.get("addresses").and_then(Value::as_array) {
        Some(addrs) if !addrs.is_empty() => {
            for a in addrs {
                let addr = a.get("address").and_then(Value::as_str).unwrap_or("");
                if addr.parse::<ipnet::IpNet>().is_err() {
                    out.push(cause(
                        field,
                        format!("Invalid value: static ipam address {addr:?} is not a CIDR (like `10.0.0.5/24`)"),
                    ));
                }
                if let Some(gw) = a.get("gateway").and_then(Value::as_str)
                    && gw.parse::<IpAddr>().is_err()
                {
                    out.push(cause(
                        field,
                        format!("Invalid value: gateway {gw:?} is not an IP address"),
                    ));
                }
            }
        }
        _ => out.push(cause(
            field,
            "Required value: static ipam needs `addresses[].address`",
        )),
    }
    if let Some(routes) = ipam.get("routes").and_then(Value::as_array) {
        for r in routes {
            let dst = r.get("dst").and_then(Value::as_str).unwrap_or("");
            if dst.parse::<ipnet::IpNet>().is_err() {
                out.push(cause(
                    field,
                    format!("Invalid value: route dst {dst:?} is not a CIDR"),
                ));
            }
        }
    }
    out
}

/// The first static IPAM address (without prefix) of a NAD, if any.
pub(crate) fn nad_static_ip(nad: &Value) -> Option<String> {
    let text = nad.pointer("/spec/config").and_then(Value::as_str)?;
    let conf: Value = serde_json::from_str(text).ok()?;
    let plugins: Vec<&Value> = match conf.get("plugins").and_then(Value::as_array) {
        Some(list) => list.iter().collect(),
        None => vec![&conf],
    };
    plugins.into_iter().find_map(|p| {
        let ipam = p.get("ipam")?;
        if ipam.get("type").and_then(Value::as_str) != Some("static") {
            return None;
        }
        let addr = ipam
            .pointer("/addresses/0/address")
            .and_then(Value::as_str)?;
        let net: ipnet::IpNet = addr.parse().ok()?;
        Some(net.addr().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nad_with(config: &str) -> Value {
        json!({"metadata": {"name": "n"}, "spec": {"config": config}})
    }

    #[test]
    fn nad_config_must_be_cni_json_with_cidr_static_addresses() {
        let good = r#"{"cniVersion":"0.3.1","type":"bridge","bridge":"br1","ipam":{"type":"static","addresses":[{"address":"10.0.0.5/24","gateway":"10.0.0.1"}]}}"#;
        assert!(nad(&nad_with(good)).is_empty());
        assert_eq!(nad_static_ip(&nad_with(good)).as_deref(), Some("10.0.0.5"));
        assert!(!nad(&nad_with("{not json")).is_empty());
        assert!(!nad(&nad_with(r#"{"type":"bridge"}"#)).is_empty());
        let no_prefix = r#"{"cniVersion":"0.3.1","type":"bridge","ipam":{"type":"static","addresses":[{"address":"10.0.0.5"}]}}"#;
        let causes = nad(&nad_with(no_prefix));
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert!(causes[0].message.contains("10.0.0.5"));
    }

    #[test]
    fn metadata_names_and_labels_follow_kubernetes_rules() {
        let obj = json!({"metadata": {"name": "Bad_Name", "labels": {"ok": "x", "bad": "-x-"}}});
        let causes = builtin(&SECRETS, &obj);
        assert_eq!(causes.len(), 2, "{causes:?}");
        let obj = json!({"metadata": {"name": "vm-1.a", "labels": {"vauto.io/project": "demo"}}});
        assert!(builtin(&SECRETS, &obj).is_empty());
    }
}
