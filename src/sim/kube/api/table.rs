//! `meta.k8s.io/v1 Table` answers: what `kubectl get` prints.
//!
//! kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints the
//! server's columns. The custom resources use their CRDs' `additionalPrinterColumns`
//! (KubeVirt: kubevirt/kubevirt `pkg/virt-operator/resource/generate/components/crds.go`;
//! CDI: containerized-data-importer `pkg/apis/core/v1beta1/types.go` kubebuilder
//! printcolumn markers), rendered as the apiextensions-apiserver's table convertor does
//! (`tableconvertor.go`: a `Name` column first, `date` cells as an age). The core
//! resources get the columns of the kube-apiserver's printers
//! (`pkg/printers/internalversion/printers.go`), trimmed to what the simulator knows.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use super::error::ApiError;

/// Whether the client asked for a Table (any `as=Table` entry of `Accept`).
pub(super) fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|entry| {
            let params: Vec<&str> = entry.split(';').map(str::trim).collect();
            params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
        })
}

/// How a cell is computed from the object.
#[derive(Clone, Copy)]
enum Cell {
    /// A string at a JSON pointer (`null` when absent, as the convertor leaves it).
    Str(&'static str),
    /// An integer at a JSON pointer.
    Int(&'static str),
    /// A timestamp at a JSON pointer shown as an age.
    Age(&'static str),
    /// `status` of the condition of this type.
    Condition(&'static str),
    /// Pod READY: ready containers / containers.
    PodReady,
    /// Pod RESTARTS: the sum of the containers' restart counts.
    PodRestarts,
    /// Node ROLES from the `node-role.kubernetes.io/*` labels.
    NodeRoles,
    /// Node STATUS: `Ready` or `NotReady`.
    NodeStatus,
    /// A string at a JSON pointer, or the API's default when the field is unset.
    StrOr(&'static str, &'static str),
    /// A boolean at a JSON pointer, `false` when unset.
    BoolOr(&'static str),
    /// How many keys the maps at these pointers hold together (Secret and ConfigMap DATA).
    Keys(&'static [&'static str]),
}

/// One column: name, type, priority (1 = only with `-o wide`), description, cell.
type Column = (&'static str, &'static str, u32, &'static str, Cell);

const AGE: Column = (
    "Age",
    "date",
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
    Cell::Age("/metadata/creationTimestamp"),
);

fn columns(plural: &str) -> Vec<Column> {
    match plural {
        // KubeVirt NewVirtualMachineCrd.
        "virtualmachines" => vec![
            AGE,
            (
                "Status",
                "string",
                0,
                "Human Readable Status",
                Cell::Str("/status/printableStatus"),
            ),
            ("Ready", "string", 0, "", Cell::Condition("Ready")),
        ],
        // KubeVirt NewVirtualMachineInstanceCrd.
        "virtualmachineinstances" => vec![
            AGE,
            ("Phase", "string", 0, "", Cell::Str("/status/phase")),
            (
                "IP",
                "string",
                0,
                "",
                Cell::Str("/status/interfaces/0/ipAddress"),
            ),
            ("NodeName", "string", 0, "", Cell::Str("/status/nodeName")),
            ("Ready", "string", 0, "", Cell::Condition("Ready")),
            (
                "Live-Migratable",
                "string",
                1,
                "",
                Cell::Condition("LiveMigratable"),
            ),
            ("Paused", "string", 1, "", Cell::Condition("Paused")),
        ],
        // CDI DataVolume: +kubebuilder:printcolumn Phase, Progress, Restarts, Age.
        "datavolumes" => vec![
            (
                "Phase",
                "string",
                0,
                "The phase the data volume is in",
                Cell::Str("/status/phase"),
            ),
            (
                "Progress",
                "string",
                0,
                "Transfer progress in percentage if known, N/A otherwise",
                Cell::Str("/status/progress"),
            ),
            (
                "Restarts",
                "integer",
                0,
                "The number of times the transfer has been restarted.",
                Cell::Int("/status/restartCount"),
            ),
            AGE,
        ],
        "nodes" => vec![
            (
                "Status",
                "string",
                0,
                "The status of the node",
                Cell::NodeStatus,
            ),
            (
                "Roles",
                "string",
                0,
                "The roles of the node",
                Cell::NodeRoles,
            ),
            AGE,
            (
                "Version",
                "string",
                0,
                "Kubelet Version reported by the node.",
                Cell::Str("/status/nodeInfo/kubeletVersion"),
            ),
        ],
        "pods" => vec![
            (
                "Ready",
                "string",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
                Cell::PodReady,
            ),
            (
                "Status",
                "string",
                0,
                "The aggregate status of the containers in this pod.",
                Cell::Str("/status/phase"),
            ),
            (
                "Restarts",
                "string",
                0,
                "The number of times the containers in this pod have been restarted.",
                Cell::PodRestarts,
            ),
            AGE,
            (
                "IP",
                "string",
                1,
                "The IP address assigned to the pod.",
                Cell::Str("/status/podIP"),
            ),
            (
                "Node",
                "string",
                1,
                "The name of the node assigned to the pod.",
                Cell::Str("/spec/nodeName"),
            ),
        ],
        // printers.go storageClassColumnDefinitions / printStorageClass: the unset fields
        // show the API's defaults.
        "storageclasses" => vec![
            (
                "Provisioner",
                "string",
                0,
                "provisioner indicates the type of the provisioner.",
                Cell::Str("/provisioner"),
            ),
            (
                "ReclaimPolicy",
                "string",
                0,
                "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.",
                Cell::StrOr("/reclaimPolicy", "Delete"),
            ),
            (
                "VolumeBindingMode",
                "string",
                0,
                "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.",
                Cell::StrOr("/volumeBindingMode", "Immediate"),
            ),
            (
                "AllowVolumeExpansion",
                "string",
                0,
                "allowVolumeExpansion shows whether the storage class allow volume expand.",
                Cell::BoolOr("/allowVolumeExpansion"),
            ),
            AGE,
        ],
        // printers.go secretColumnDefinitions / printSecret.
        "secrets" => vec![
            (
                "Type",
                "string",
                0,
                "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
                Cell::StrOr("/type", "Opaque"),
            ),
            (
                "Data",
                "string",
                0,
                "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
                Cell::Keys(&["/data"]),
            ),
            AGE,
        ],
        // printers.go configMapColumnDefinitions / printConfigMap: data and binaryData keys.
        "configmaps" => vec![
            (
                "Data",
                "string",
                0,
                "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
                Cell::Keys(&["/data", "/binaryData"]),
            ),
            AGE,
        ],
        "namespaces" => vec![
            (
                "Status",
                "string",
                0,
                "The status of the namespace",
                Cell::Str("/status/phase"),
            ),
            AGE,
        ],
        _ => vec![AGE],
    }
}

/// `duration.HumanDuration` of k8s.io/apimachinery (what `kubectl get` shows as AGE).
pub(super) fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn cell(c: Cell, obj: &Value, now_ms: i64) -> Value {
    let at = |p: &str| obj.pointer(p);
    match c {
        Cell::Str(p) => at(p).cloned().unwrap_or(Value::Null),
        Cell::Int(p) => at(p).cloned().unwrap_or(Value::Null),
        Cell::Age(p) => at(p)
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map_or(Value::Null, |t| {
                let secs = (now_ms - t.timestamp_millis()).div_euclid(1000);
                Value::String(human_duration(secs))
            }),
        Cell::Condition(ty) => at("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
            })
            .and_then(|c| c.get("status"))
            .cloned()
            .unwrap_or(Value::Null),
        Cell::PodReady => {
            let cs = at("/status/containerStatuses")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            let ready = cs
                .iter()
                .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                .count();
            // printers.go printPod: the total is the spec's containers (an unscheduled pod
            // has no container statuses yet and shows 0/1).
            let total = at("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            json!(format!("{ready}/{total}"))
        }
        Cell::PodRestarts => {
            let n: u64 = at("/status/containerStatuses")
                .and_then(Value::as_array)
                .map_or(0, |cs| {
                    cs.iter()
                        .filter_map(|c| c.get("restartCount").and_then(Value::as_u64))
                        .sum()
                });
            json!(n.to_string())
        }
        Cell::NodeRoles => {
            let roles: Vec<&str> = at("/metadata/labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.keys()
                        .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                        .collect()
                })
                .unwrap_or_default();
            json!(if roles.is_empty() {
                "<none>".to_string()
            } else {
                roles.join(",")
            })
        }
        Cell::StrOr(p, default) => at(p).cloned().unwrap_or_else(|| json!(default)),
        Cell::BoolOr(p) => json!(at(p).and_then(Value::as_bool).unwrap_or(false)),
        Cell::Keys(ps) => json!(
            ps.iter()
                .filter_map(|p| at(p).and_then(Value::as_object))
                .map(|m| m.len())
                .sum::<usize>()
        ),
        Cell::NodeStatus => {
            let ready = cell(Cell::Condition("Ready"), obj, now_ms);
            json!(if ready == json!("True") {
                "Ready"
            } else {
                "NotReady"
            })
        }
    }
}

/// What `includeObject` asks to carry in each row (default `Metadata`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub(super) fn parse(v: Option<&str>) -> Result<Self, ApiError> {
        match v {
            None | Some("Metadata") => Ok(Self::Metadata),
            Some("None") => Ok(Self::None),
            Some("Object") => Ok(Self::Object),
            Some(other) => Err(ApiError::bad_request(format!(
                "includeObject: Unsupported value: \"{other}\": supported values: \"Metadata\", \"None\", \"Object\""
            ))),
        }
    }
}

fn row(plural: &str, obj: &Value, include: Include, now_ms: i64) -> Value {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str);
    // printStorageClass marks the default class (`storageutil.IsDefaultAnnotation`: the GA
    // or the beta annotation set to "true").
    let default_class = plural == "storageclasses"
        && [
            "storageclass.kubernetes.io/is-default-class",
            "storageclass.beta.kubernetes.io/is-default-class",
        ]
        .iter()
        .any(|a| {
            obj.pointer("/metadata/annotations")
                .and_then(|m| m.get(*a))
                .and_then(Value::as_str)
                == Some("true")
        });
    let mut cells = vec![match name {
        Some(n) if default_class => json!(format!("{n} (default)")),
        Some(n) => json!(n),
        None => Value::Null,
    }];
    cells.extend(columns(plural).iter().map(|c| cell(c.4, obj, now_ms)));
    let mut r = json!({"cells": cells});
    let object = match include {
        Include::None => None,
        Include::Metadata => Some(json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        })),
        Include::Object => Some(obj.clone()),
    };
    if let (Some(o), Some(m)) = (object, r.as_object_mut()) {
        m.insert("object".into(), o);
    }
    r
}

/// The column definitions, `Name` first as every convertor does.
fn column_definitions(plural: &str) -> Vec<Value> {
    let mut defs = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    })];
    defs.extend(columns(plural).iter().map(|(name, ty, priority, desc, _)| {
        json!({"name": name, "type": ty, "format": "", "priority": priority, "description": desc})
    }));
    defs
}

/// A Table of one object or of a list's items.
pub(super) fn to_table(plural: &str, body: &Value, include: Include, now_ms: i64) -> Value {
    let (items, meta): (Vec<&Value>, Value) = match body.get("items").and_then(Value::as_array) {
        Some(items) => (
            items.iter().collect(),
            body.get("metadata").cloned().unwrap_or_else(|| json!({})),
        ),
        None => (
            vec![body],
            json!({"resourceVersion": body.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""))}),
        ),
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": column_definitions(plural),
        "rows": items.iter().map(|o| row(plural, o, include, now_ms)).collect::<Vec<_>>(),
    })
}

/// Rewrites a successful JSON answer as a Table; errors pass through unchanged.
pub(super) async fn convert(
    resp: Response,
    plural: &str,
    include: Include,
    now_ms: i64,
) -> Result<Response, ApiError> {
    if resp.status() != StatusCode::OK {
        return Ok(resp);
    }
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let body: Value =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::internal(e.to_string()))?;
    let table = to_table(plural, &body, include, now_ms);
    let mut out = Response::new(Body::from(table.to_string()));
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;as=Table;v=v1;g=meta.k8s.io"),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60 * 5, "3h5m"),
            (30 * 3600, "30h"),
            (50 * 3600, "2d2h"),
            (10 * 86400, "10d"),
            (800 * 86400, "2y70d"),
            (3000 * 86400, "8y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
    }

    #[test]
    fn accept_table_is_recognised_only_with_the_meta_group() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
            ),
        );
        assert!(wants_table(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_table(&h));
    }

    #[test]
    fn a_vm_row_has_kubevirts_columns() {
        let vm = json!({"metadata": {"name": "web-1", "creationTimestamp": "2026-01-01T00:00:00Z"},
                        "status": {"printableStatus": "Running",
                                   "conditions": [{"type": "Ready", "status": "True"}]}});
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:05:00Z")
            .unwrap()
            .timestamp_millis();
        let t = to_table(
            "virtualmachines",
            &json!({"metadata": {"resourceVersion": "7"}, "items": [vm]}),
            Include::None,
            now,
        );
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Name", "Age", "Status", "Ready"]);
        assert_eq!(
            t["rows"],
            json!([{"cells": ["web-1", "5m", "Running", "True"]}])
        );
        assert_eq!(t["metadata"], json!({"resourceVersion": "7"}));
    }
}
