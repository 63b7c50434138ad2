//! Reads: get one object, list with selectors and limit/continue pagination.

use std::ops::Bound;

use axum::response::Response;
use base64::Engine;
use http::StatusCode;
use serde_json::{Value, json};

use super::error::{ApiError, json_response};
use super::request::Req;
use crate::sim::kube::select;
use crate::sim::kube::store::{Entry, ResourceDef, Store, key, launcher_pod_name};

pub(super) fn get(
    store: &Store,
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> Result<Response, ApiError> {
    match store.objects.get(&key(def.plural, ns, name)) {
        Some(e) => Ok(json_response(StatusCode::OK, &e.object)),
        None => Err(ApiError::not_found(def, name)),
    }
}

/// The JSON inside a continue token (shaped like the API server's own).
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: u64,
    start: String,
    iat: i64,
}

fn expired() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
    )
}

fn decode_continue(
    token: &str,
    store: &Store,
    prefix: &str,
    req: &Req<'_>,
) -> Result<String, ApiError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| expired())?;
    let t: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| expired())?;
    let ttl = i64::try_from(req.sh.opts.continue_ttl.as_millis()).unwrap_or(i64::MAX);
    let start = t.start.trim_end_matches('\u{0}').to_string();
    if t.v != "meta.k8s.io/v1"
        || t.rv > store.resource_version
        || req.now.saturating_sub(t.iat) > ttl
        || !start.starts_with(prefix)
    {
        return Err(expired());
    }
    Ok(start)
}

pub(super) fn selectors(
    req: &Req<'_>,
    def: &ResourceDef,
) -> Result<(Vec<select::Requirement>, Vec<select::FieldReq>), ApiError> {
    let labels = match req.query.get("labelSelector") {
        Some(s) => select::parse_labels(s).map_err(ApiError::bad_request)?,
        None => Vec::new(),
    };
    let fields = match req.query.get("fieldSelector") {
        Some(s) => select::parse_fields(s, def.plural).map_err(ApiError::bad_request)?,
        None => Vec::new(),
    };
    Ok((labels, fields))
}

pub(super) fn list(
    store: &Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: Option<&str>,
) -> Result<Response, ApiError> {
    let prefix = match ns {
        Some(ns) => format!("{}/{ns}/", def.plural),
        None => format!("{}/", def.plural),
    };
    let (labels, fields) = selectors(req, def)?;
    let start = match req.query.get("continue") {
        Some(t) => Some(decode_continue(t, store, &prefix, req)?),
        None => None,
    };
    let limit = match req.query.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        None => 0,
    };
    // A page reads from where the last one stopped, and no further than one item past
    // its end (which says whether there is more), as an API server reads etcd.
    let from = match &start {
        Some(s) => Bound::Excluded(s.clone()),
        None => Bound::Included(prefix.clone()),
    };
    let in_range = || {
        store
            .objects
            .range((from.clone(), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&prefix))
    };
    let matched: Vec<(&String, &Entry)> = in_range()
        .filter(|(_, e)| select::labels_match(&labels, &e.object))
        .filter(|(_, e)| select::fields_match(&fields, &e.object))
        .take(if limit > 0 { limit + 1 } else { usize::MAX })
        .collect();
    let mut meta = json!({"resourceVersion": store.resource_version.to_string()});
    let items: Vec<&Value> = if limit > 0 && matched.len() > limit {
        let last = matched[limit - 1].0.clone();
        let token = ContinueToken {
            v: "meta.k8s.io/v1".into(),
            rv: store.resource_version,
            start: format!("{last}\u{0}"),
            iat: req.now,
        };
        let raw = serde_json::to_vec(&token).map_err(|e| ApiError::internal(e.to_string()))?;
        if let Some(m) = meta.as_object_mut() {
            m.insert(
                "continue".into(),
                json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)),
            );
            // As the API server: no count when a selector makes it expensive.
            if labels.is_empty() && fields.is_empty() {
                m.insert(
                    "remainingItemCount".into(),
                    json!(in_range().count() - limit),
                );
            }
        }
        matched[..limit].iter().map(|(_, e)| &e.object).collect()
    } else {
        matched.iter().map(|(_, e)| &e.object).collect()
    };
    let body = ListBody {
        kind: format!("{}List", def.kind),
        api_version: def.api_version(),
        metadata: meta,
        items,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// A list answer, written straight from the stored objects (a page of 500 VMs is a
/// megabyte: no copy of it is made first).
#[derive(serde::Serialize)]
struct ListBody<'a> {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
    metadata: Value,
    items: Vec<&'a Value>,
}

/// When the simulated cluster's nodes and system namespaces were "created".
const CLUSTER_BORN: &str = "2024-01-01T00:00:00Z";

/// Every object of a read-only core resource (`discovery::BUILTIN`), sorted by namespace
/// and name, computed from the simulator's state: Nodes from the configured `SimNode`s,
/// Namespaces from `default`, the system ones and every namespace holding an object,
/// and one `virt-launcher-<vmi>-xxxxx` Pod per VMI past `Pending`, as KubeVirt runs each
/// VMI in a launcher pod (kubevirt.io user guide, "VirtualMachineInstance" architecture).
pub(super) fn builtin_objects(store: &Store, req_sh: &super::Shared, plural: &str) -> Vec<Value> {
    match plural {
        "nodes" => req_sh
            .opts
            .nodes
            .iter()
            .map(|n| {
                json!({
                    "kind": "Node", "apiVersion": "v1",
                    "metadata": {"name": n.name, "uid": fake_uid(&format!("node/{}", n.name)),
                                 "resourceVersion": "1", "creationTimestamp": CLUSTER_BORN,
                                 "labels": n.labels},
                    "spec": {},
                    "status": {
                        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                        "message": "kubelet is posting ready status",
                                        "lastHeartbeatTime": CLUSTER_BORN, "lastTransitionTime": CLUSTER_BORN}],
                        "addresses": [{"type": "Hostname", "address": n.name}],
                        "nodeInfo": {"kubeletVersion": "v1.31.0+vauto-sim", "architecture": "amd64",
                                     "operatingSystem": "linux", "containerRuntimeVersion": "cri-o://1.31.0",
                                     "kernelVersion": "5.14.0", "osImage": "vauto simulator",
                                     "kubeProxyVersion": "v1.31.0+vauto-sim", "machineID": "", "systemUUID": "",
                                     "bootID": ""},
                    },
                })
            })
            .collect(),
        "storageclasses"
        | "datasources"
        | "virtualmachineclusterinstancetypes"
        | "virtualmachineclusterpreferences" => {
            crate::sim::kube::catalog::objects(plural, &req_sh.opts.storage_classes)
        }
        "pods" => store
            .objects
            .range("virtualmachineinstances/".to_string()..)
            .take_while(|(k, _)| k.starts_with("virtualmachineinstances/"))
            .filter_map(|(_, e)| launcher_pod(&e.object))
            .collect(),
        _ => Vec::new(),
    }
}

/// The virt-launcher pod of a VMI once KubeVirt has made it: when the VMI leaves `Pending`
/// (its disks imported). Until the scheduler places it, it is `Pending` with no node and
/// `PodScheduled` False, as an unschedulable VMI's pod stays (the VMI copies that condition).
fn launcher_pod(vmi: &Value) -> Option<Value> {
    let s = |p: &str| vmi.pointer(p).and_then(Value::as_str);
    let vmi_phase = s("/status/phase")?;
    if vmi_phase == "Pending" {
        return None;
    }
    let node = s("/status/nodeName");
    let name = s("/metadata/name")?;
    let ns = s("/metadata/namespace").unwrap_or("default");
    let uid = s("/metadata/uid").unwrap_or("");
    let phase = match vmi_phase {
        "Running" => "Running",
        "Succeeded" => "Succeeded",
        "Failed" => "Failed",
        _ => "Pending",
    };
    // Made when the VMI left Pending: the VMI's `Scheduling` stamp.
    let created = vmi
        .pointer("/status/phaseTransitionTimestamps")
        .and_then(Value::as_array)
        .and_then(|stamps| {
            stamps
                .iter()
                .find(|t| t.get("phase").and_then(Value::as_str) == Some("Scheduling"))
        })
        .and_then(|t| t.get("phaseTransitionTimestamp").and_then(Value::as_str))
        .or_else(|| s("/metadata/creationTimestamp"))
        .unwrap_or(CLUSTER_BORN);
    let mut status = match node {
        // kube-scheduler's condition on a pod no node fits.
        None => json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                            "message": vmi_condition_message(vmi, "PodScheduled")}],
            "qosClass": "Burstable",
        }),
        Some(_) => {
            let ready = if phase == "Running" { "True" } else { "False" };
            json!({
                "phase": phase,
                "conditions": [{"type": "Ready", "status": ready}],
                "hostIP": "",
                "startTime": created,
                "containerStatuses": [{"name": "compute", "ready": phase == "Running", "restartCount": 0,
                                       "image": "quay.io/kubevirt/virt-launcher:v1.4.0",
                                       "imageID": "", "started": phase == "Running",
                                       "state": if phase == "Running" { json!({"running": {"startedAt": created}}) } else { json!({"waiting": {"reason": "ContainerCreating"}}) }}],
            })
        }
    };
    if let Some(ip) = s("/status/interfaces/0/ipAddress")
        && let Some(m) = status.as_object_mut()
    {
        m.insert("podIP".into(), json!(ip));
        m.insert("podIPs".into(), json!([{"ip": ip}]));
    }
    let mut spec = json!({"containers": [{"name": "compute", "image": "quay.io/kubevirt/virt-launcher:v1.4.0"}]});
    if let (Some(node), Some(m)) = (node, spec.as_object_mut()) {
        m.insert("nodeName".into(), json!(node));
    }
    Some(json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {
            "name": launcher_pod_name(name, uid),
            "generateName": format!("virt-launcher-{name}-"),
            "namespace": ns,
            "uid": launcher_pod_uid(uid),
            "resourceVersion": s("/metadata/resourceVersion").unwrap_or("1"),
            "creationTimestamp": created,
            "labels": {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": uid,
                       "vm.kubevirt.io/name": name},
            "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                                 "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": spec,
        "status": status,
    }))
}

/// The message of the VMI's condition of type `kind` (KubeVirt copies the launcher pod's
/// `PodScheduled` into it), or "".
fn vmi_condition_message<'a>(vmi: &'a Value, kind: &str) -> &'a str {
    vmi.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        })
        .and_then(|c| c.get("message").and_then(Value::as_str))
        .unwrap_or("")
}

/// The uid of the virt-launcher pod of the VMI with uid `vmi_uid` (the pod list's and the
/// scheduler Events' `involvedObject.uid`).
pub(crate) fn launcher_pod_uid(vmi_uid: &str) -> String {
    fake_uid(&format!("pod/{vmi_uid}"))
}

/// A stable UUID-shaped id derived from a name (the builtin objects are not stored).
pub(crate) fn fake_uid(seed: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(seed.as_bytes());
    let h: String = d.iter().take(16).map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// `plural` or `plural.group`, as the API server names a resource in errors.
fn qualified(plural: &str) -> String {
    match super::discovery::find_builtin(plural) {
        Some(b) if !b.group.is_empty() => format!("{plural}.{}", b.group),
        _ => plural.to_string(),
    }
}

/// GET of a read-only core resource: one object or a list, with label and field selectors.
pub(super) fn builtin(
    store: &Store,
    req: &Req<'_>,
    plural: &str,
    ns: Option<&str>,
    name: Option<&str>,
) -> Result<Response, ApiError> {
    let all = builtin_objects(store, req.sh, plural);
    let in_ns = |o: &&Value| {
        ns.is_none_or(|ns| o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns))
    };
    if let Some(name) = name {
        return match all
            .iter()
            .filter(in_ns)
            .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
        {
            Some(o) => Ok(json_response(StatusCode::OK, o)),
            // As the API server words it: `nodes "worker-9" not found`,
            // `storageclasses.storage.k8s.io "fast" not found`.
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("{} \"{name}\" not found", qualified(plural)),
            )
            .details(json!({"name": name, "kind": plural}))),
        };
    }
    let labels = match req.query.get("labelSelector") {
        Some(s) => select::parse_labels(s).map_err(ApiError::bad_request)?,
        None => Vec::new(),
    };
    let fields = match req.query.get("fieldSelector") {
        Some(s) => select::parse_fields(s, plural).map_err(ApiError::bad_request)?,
        None => Vec::new(),
    };
    let items: Vec<&Value> = all
        .iter()
        .filter(in_ns)
        .filter(|o| select::labels_match(&labels, o))
        .filter(|o| select::fields_match(&fields, o))
        .collect();
    let body = json!({
        "kind": format!("{}List", super::discovery::find_builtin(plural).map_or("", |b| b.kind)),
        "apiVersion": super::discovery::find_builtin(plural).map_or("v1".to_string(), |b| b.api_version()),
        "metadata": {"resourceVersion": store.resource_version.to_string()},
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &body))
}
