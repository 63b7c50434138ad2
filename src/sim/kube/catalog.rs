//! What an OpenShift Virtualization cluster provides before anyone deploys: storage
//! classes, the golden-image DataSources in `openshift-virtualization-os-images`, and the
//! common instance types and preferences. The simulator serves them read-only (a user of a
//! real cluster rarely writes them either), from [`KubeSimOptions`](super::KubeSimOptions).

use serde_json::{Value, json};

/// The namespace OpenShift Virtualization keeps its golden images in.
pub(crate) const GOLDEN_IMAGES_NAMESPACE: &str = "openshift-virtualization-os-images";

/// A storage class of the simulated cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimStorageClass {
    /// Its name.
    pub name: String,
    /// `Immediate` or `WaitForFirstConsumer`.
    pub binding_mode: String,
    /// Whether it is the default class (annotation `storageclass.kubernetes.io/is-default-class`).
    pub default: bool,
}

impl SimStorageClass {
    /// The simulator's classes: an Immediate default (ODF's Ceph RBD, as on most OpenShift
    /// clusters) and a WaitForFirstConsumer one (LVM Storage, node-local disks).
    pub fn defaults() -> Vec<SimStorageClass> {
        vec![
            SimStorageClass {
                name: "ocs-storagecluster-ceph-rbd".into(),
                binding_mode: "Immediate".into(),
                default: true,
            },
            SimStorageClass {
                name: "lvms-vg1".into(),
                binding_mode: "WaitForFirstConsumer".into(),
                default: false,
            },
        ]
    }
}

/// The golden images OpenShift Virtualization 4.1x imports by default (DataImportCrons of
/// the HCO's `dataImportCronTemplates`), each a DataSource naming a PVC of the same name.
pub(crate) const GOLDEN_IMAGES: [&str; 4] = ["rhel8", "rhel9", "fedora", "centos-stream9"];

/// kubevirt/common-instancetypes' `u1` (universal) series: name, vCPUs, memory.
const INSTANCETYPES: [(&str, u32, &str); 8] = [
    ("u1.nano", 1, "512Mi"),
    ("u1.micro", 1, "1Gi"),
    ("u1.small", 1, "2Gi"),
    ("u1.medium", 1, "4Gi"),
    ("u1.2xmedium", 2, "4Gi"),
    ("u1.large", 2, "8Gi"),
    ("u1.xlarge", 4, "16Gi"),
    ("u1.2xlarge", 8, "32Gi"),
];

/// kubevirt/common-instancetypes' preferences most clusters use.
const PREFERENCES: [&str; 6] = [
    "rhel.8",
    "rhel.9",
    "fedora",
    "centos.stream9",
    "ubuntu",
    "windows.2k22",
];

/// When the simulated cluster's catalogue was "created".
const BORN: &str = "2024-01-01T00:00:00Z";

fn meta(name: &str, namespace: Option<&str>) -> Value {
    let mut m = json!({"name": name, "uid": super::api::fake_uid(&format!("catalog/{name}")),
                       "resourceVersion": "1", "creationTimestamp": BORN});
    if let (Some(ns), Some(o)) = (namespace, m.as_object_mut()) {
        o.insert("namespace".into(), json!(ns));
    }
    m
}

/// Every object of a catalogue resource, by plural, in the order a list returns them: by
/// namespace and name, the order of the API server's storage keys (etcd3 ranges over
/// `/registry/<resource>/<namespace>/<name>`).
pub(crate) fn objects(plural: &str, classes: &[SimStorageClass]) -> Vec<Value> {
    let mut out = unordered(plural, classes);
    let at = |o: &Value, p: &str| {
        o.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    out.sort_by_cached_key(|o| (at(o, "/metadata/namespace"), at(o, "/metadata/name")));
    out
}

fn unordered(plural: &str, classes: &[SimStorageClass]) -> Vec<Value> {
    match plural {
        "storageclasses" => classes
            .iter()
            .map(|c| {
                let mut m = meta(&c.name, None);
                if c.default
                    && let Some(o) = m.as_object_mut()
                {
                    o.insert(
                        "annotations".into(),
                        json!({"storageclass.kubernetes.io/is-default-class": "true"}),
                    );
                }
                json!({"kind": "StorageClass", "apiVersion": "storage.k8s.io/v1", "metadata": m,
                       "provisioner": if c.binding_mode == "WaitForFirstConsumer" { "topolvm.io" } else { "openshift-storage.rbd.csi.ceph.com" },
                       "reclaimPolicy": "Delete", "volumeBindingMode": c.binding_mode,
                       "allowVolumeExpansion": true})
            })
            .collect(),
        "datasources" => GOLDEN_IMAGES
            .iter()
            .map(|name| {
                let source = json!({"pvc": {"name": name, "namespace": GOLDEN_IMAGES_NAMESPACE}});
                json!({"kind": "DataSource", "apiVersion": "cdi.kubevirt.io/v1beta1",
                       "metadata": meta(name, Some(GOLDEN_IMAGES_NAMESPACE)),
                       "spec": {"source": source},
                       "status": {"source": source, "conditions": [
                           {"type": "Ready", "status": "True", "reason": "Ready", "message": "",
                            "lastTransitionTime": BORN, "lastHeartbeatTime": BORN}]}})
            })
            .collect(),
        "virtualmachineclusterinstancetypes" => INSTANCETYPES
            .iter()
            .map(|(name, cpu, mem)| {
                json!({"kind": "VirtualMachineClusterInstancetype",
                       "apiVersion": "instancetype.kubevirt.io/v1beta1", "metadata": meta(name, None),
                       "spec": {"cpu": {"guest": cpu}, "memory": {"guest": mem}}})
            })
            .collect(),
        "virtualmachineclusterpreferences" => PREFERENCES
            .iter()
            .map(|name| {
                json!({"kind": "VirtualMachineClusterPreference",
                       "apiVersion": "instancetype.kubevirt.io/v1beta1", "metadata": meta(name, None),
                       "spec": {"devices": {"preferredDiskBus": "virtio", "preferredInterfaceModel": "virtio"}}})
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The `(cores, memory)` of instance type `name` of kind `kind`, if the cluster has it.
pub(crate) fn instancetype(kind: &str, name: &str) -> Option<(u64, String)> {
    if kind != "VirtualMachineClusterInstancetype" {
        return None;
    }
    INSTANCETYPES
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, cpu, mem)| (u64::from(*cpu), (*mem).to_string()))
}

/// Whether preference `name` of kind `kind` exists.
pub(crate) fn preference(kind: &str, name: &str) -> bool {
    kind == "VirtualMachineClusterPreference" && PREFERENCES.contains(&name)
}

/// Whether DataSource `namespace/name` exists and is ready.
pub(crate) fn data_source(namespace: &str, name: &str) -> bool {
    namespace == GOLDEN_IMAGES_NAMESPACE && GOLDEN_IMAGES.contains(&name)
}

/// The binding mode of storage class `class` (or of the default class when `None`).
pub(crate) fn binding_mode<'a>(
    classes: &'a [SimStorageClass],
    class: Option<&str>,
) -> Option<&'a str> {
    classes
        .iter()
        .find(|c| match class {
            Some(n) => c.name == n,
            None => c.default,
        })
        .map(|c| c.binding_mode.as_str())
}
