//! The simulator's object store: resource table, metadata stamping and change tracking.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One served resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResourceDef {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    /// Schema file under `jsonschema/`.
    pub schema: &'static str,
    /// CRD schemas carry no `$schema` and are Draft 7; the core ones say 2020-12.
    pub draft7: bool,
    /// Custom resources with a status subresource: clients cannot write `status`.
    pub status_subresource: bool,
}

impl ResourceDef {
    /// `v1` or `group/version`.
    pub(super) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `virtualmachines.kubevirt.io` or `secrets`, as the API server names resources in errors.
    pub(super) fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `VirtualMachine.kubevirt.io` or `Secret`, as used in 422 messages.
    pub(super) fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

pub(crate) const SECRETS: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    plural: "secrets",
    kind: "Secret",
    schema: "secret-v1.json",
    draft7: false,
    status_subresource: false,
};
pub(crate) const CONFIGMAPS: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    plural: "configmaps",
    kind: "ConfigMap",
    schema: "configmap-v1.json",
    draft7: false,
    status_subresource: false,
};
pub(crate) const EVENTS: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    plural: "events",
    kind: "Event",
    schema: "event-v1.json",
    draft7: false,
    status_subresource: false,
};
pub(crate) const VMS: ResourceDef = ResourceDef {
    group: "kubevirt.io",
    version: "v1",
    plural: "virtualmachines",
    kind: "VirtualMachine",
    schema: "kubevirt.io_virtualmachine_v1.json",
    draft7: true,
    status_subresource: true,
};
pub(crate) const VMIS: ResourceDef = ResourceDef {
    group: "kubevirt.io",
    version: "v1",
    plural: "virtualmachineinstances",
    kind: "VirtualMachineInstance",
    schema: "kubevirt.io_virtualmachineinstance_v1.json",
    draft7: true,
    status_subresource: true,
};
pub(crate) const DVS: ResourceDef = ResourceDef {
    group: "cdi.kubevirt.io",
    version: "v1beta1",
    plural: "datavolumes",
    kind: "DataVolume",
    schema: "cdi.kubevirt.io_datavolume_v1beta1.json",
    draft7: true,
    status_subresource: true,
};
pub(crate) const NADS: ResourceDef = ResourceDef {
    group: "k8s.cni.cncf.io",
    version: "v1",
    plural: "network-attachment-definitions",
    kind: "NetworkAttachmentDefinition",
    schema: "k8s.cni.cncf.io_networkattachmentdefinition_v1.json",
    draft7: true,
    status_subresource: false,
};

/// Namespaces: cluster-scoped, stored under `namespaces//<name>`, served outside
/// [`RESOURCES`] (no schema; their own routes and delete).
pub(crate) const NAMESPACES: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    plural: "namespaces",
    kind: "Namespace",
    schema: "",
    draft7: false,
    status_subresource: false,
};

/// Every namespaced resource the simulator serves.
pub(crate) const RESOURCES: [ResourceDef; 7] = [SECRETS, CONFIGMAPS, EVENTS, VMS, VMIS, DVS, NADS];

/// Finds a resource by group, version and plural.
pub(crate) fn find_resource(group: &str, version: &str, plural: &str) -> Option<ResourceDef> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
        .copied()
}

/// Simulator bookkeeping kept next to an object (never shown to clients).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct SimMeta {
    /// Creation time in milliseconds (the visible timestamp has only seconds).
    #[serde(default)]
    pub created_ms: i64,
    /// DataVolume: import length fixed at creation, so later processes agree.
    #[serde(default)]
    pub import_ms: u64,
    /// VMI: boot length fixed at creation.
    #[serde(default)]
    pub boot_ms: u64,
    /// VM: when it last became wanted running (create with Always, or start).
    #[serde(default)]
    pub run_since_ms: Option<i64>,
    /// VM: when it was last asked to stop.
    #[serde(default)]
    pub stop_since_ms: Option<i64>,
    /// VM with `Manual` or `RerunOnFailure`: the last start (`true`) or stop (`false`)
    /// request, which KubeVirt keeps in `status.stateChangeRequests` until its controller
    /// acts on it; `None`: none since the run strategy was set.
    #[serde(default)]
    pub requested_run: Option<bool>,
    /// VMI: the node picked by the scheduler (`None` when no node fits).
    #[serde(default)]
    pub node: Option<String>,
    /// Transitions already announced with an Event, so each is announced once.
    #[serde(default)]
    pub emitted: BTreeSet<String>,
}

/// One stored object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub plural: String,
    pub namespace: String,
    pub name: String,
    pub object: Value,
    #[serde(default)]
    pub sim: SimMeta,
}

/// The whole simulated cluster.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Store {
    /// Global resourceVersion counter, as etcd's revision.
    pub resource_version: u64,
    /// Objects keyed by `plural/namespace/name` (sorted, which gives stable list order).
    pub objects: BTreeMap<String, Entry>,
    /// Keys written or removed since the last save; each becomes one journal line.
    #[serde(skip)]
    pub changed: BTreeSet<String>,
    /// What of the files on disk this store already reflects (see `persist`).
    #[serde(skip)]
    pub(crate) seen: super::persist::Seen,
}

/// The store key of an object.
pub(crate) fn key(plural: &str, namespace: &str, name: &str) -> String {
    format!("{plural}/{namespace}/{name}")
}

impl Store {
    /// Marks an object as changed without a new resourceVersion (simulator bookkeeping only).
    pub(super) fn touch(&mut self, key: &str) {
        self.changed.insert(key.to_string());
    }

    /// Advances the global resourceVersion and stamps it on the object under `key`.
    pub(super) fn bump(&mut self, key: &str) {
        self.resource_version += 1;
        let rv = self.resource_version.to_string();
        if let Some(entry) = self.objects.get_mut(key)
            && let Some(meta) = entry
                .object
                .get_mut("metadata")
                .and_then(Value::as_object_mut)
        {
            meta.insert("resourceVersion".into(), Value::String(rv));
        }
        self.changed.insert(key.to_string());
    }

    /// Inserts (or replaces) an entry and gives it a fresh resourceVersion.
    pub(super) fn put(&mut self, entry: Entry) -> String {
        let k = key(&entry.plural, &entry.namespace, &entry.name);
        self.objects.insert(k.clone(), entry);
        self.bump(&k);
        k
    }

    /// Removes an object and, like the garbage collector, everything it owns.
    pub(super) fn remove_cascade(&mut self, key: &str) -> Option<Entry> {
        let entry = self.objects.remove(key)?;
        self.changed.insert(key.to_string());
        self.resource_version += 1;
        let uid = uid_of(&entry.object).to_string();
        let owned: Vec<String> = self
            .objects
            .iter()
            .filter(|(_, e)| {
                e.namespace == entry.namespace
                    && e.object
                        .at("/metadata/ownerReferences")
                        .and_then(Value::as_array)
                        .is_some_and(|refs| {
                            refs.iter()
                                .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid.as_str()))
                        })
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in owned {
            self.remove_cascade(&k);
        }
        Some(entry)
    }
}

impl Store {
    /// Removes an object and takes its owner reference off every dependent, which stays
    /// (`propagationPolicy: Orphan`).
    pub(super) fn remove_orphaning(&mut self, key: &str) -> Option<Entry> {
        let entry = self.objects.remove(key)?;
        self.changed.insert(key.to_string());
        self.resource_version += 1;
        let uid = uid_of(&entry.object).to_string();
        let mut orphans = Vec::new();
        for (k, e) in &mut self.objects {
            if e.namespace != entry.namespace {
                continue;
            }
            let Some(refs) = e
                .object
                .pointer_mut("/metadata/ownerReferences")
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            let before = refs.len();
            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()));
            if refs.len() != before {
                let empty = refs.is_empty();
                if empty
                    && let Some(meta) = e.object.get_mut("metadata").and_then(Value::as_object_mut)
                {
                    meta.remove("ownerReferences");
                }
                orphans.push(k.clone());
            }
        }
        for k in orphans {
            self.bump(&k);
        }
        Some(entry)
    }
}

/// The name of the virt-launcher pod of the VMI `vmi` with uid `uid`, as the pod list and the
/// Events both give it: `virt-launcher-<vmi>-` and a generateName suffix, 5 characters of
/// [bcdfghjklmnpqrstvwxz2456789] (apimachinery's `rand.String`), here from the uid's hash.
pub(crate) fn launcher_pod_name(vmi: &str, uid: &str) -> String {
    let alphabet = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in uid.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    let suffix: String = (0..5)
        .map(|i| {
            let n = usize::try_from((h >> (i * 8)) & 0xff).unwrap_or(0);
            char::from(alphabet[n % alphabet.len()])
        })
        .collect();
    format!("virt-launcher-{vmi}-{suffix}")
}

/// `metadata.uid` of an object, or "".
pub(crate) fn uid_of(obj: &Value) -> &str {
    obj.at("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// A random RFC 4122 version 4 UID.
pub(crate) fn new_uid(rng: &mut fastrand::Rng) -> String {
    let mut b = [0u8; 16];
    for x in &mut b {
        *x = rng.u8(..);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The current wall-clock time in milliseconds; wall time so separate processes agree.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A metav1.Time string (RFC 3339, whole seconds, UTC).
pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Sets the server-owned metadata of a newly created object.
pub(crate) fn stamp_new(
    obj: &mut Value,
    def: &ResourceDef,
    namespace: &str,
    uid: String,
    now: i64,
) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if let Some(meta) = meta.as_object_mut() {
        meta.insert("namespace".into(), Value::String(namespace.to_string()));
        meta.insert("uid".into(), Value::String(uid));
        meta.insert("creationTimestamp".into(), Value::String(rfc3339(now)));
        if !def.group.is_empty() {
            meta.insert("generation".into(), json!(1));
        }
        meta.remove("resourceVersion");
        meta.remove("deletionTimestamp");
        meta.remove("managedFields");
    }
    if def.status_subresource {
        map.remove("status");
    }
}

/// Writes a file through a temporary file in the same folder and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<(), String> {
    crate::files::write_atomic(path, bytes, private.then_some(0o600))
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

/// `Value::pointer` without its allocations: serde_json unescapes every segment (`~1`, `~0`)
/// into a new `String`, which the lazy controllers paid for on every object at every request
/// (`perf`: over half of a deploy's simulator CPU). The same answers, escapes included.
pub(crate) trait Walk {
    fn at(&self, pointer: &str) -> Option<&Value>;
}

impl Walk for Value {
    fn at(&self, pointer: &str) -> Option<&Value> {
        if pointer.is_empty() {
            return Some(self);
        }
        if pointer.contains('~') || !pointer.starts_with('/') {
            return self.pointer(pointer);
        }
        pointer
            .split('/')
            .skip(1)
            .try_fold(self, |cur, seg| match cur {
                Value::Object(m) => m.get(seg),
                Value::Array(a) => index(seg).and_then(|i| a.get(i)),
                _ => None,
            })
    }
}

/// An array index as RFC 6901 (and serde_json) reads it: no sign, no leading zero.
fn index(seg: &str) -> Option<usize> {
    if seg.starts_with('+') || (seg.starts_with('0') && seg.len() != 1) {
        return None;
    }
    seg.parse().ok()
}

#[cfg(test)]
mod walk_tests {
    use super::Walk;
    use serde_json::json;

    #[test]
    fn walk_answers_as_pointer_does() {
        let v = json!({"a": {"b/c": 1, "m~n": 2, "list": [10, 20]}, "": {"x": 3}});
        for p in [
            "",
            "/a",
            "/a/list/1",
            "/a/list/01",
            "/a/list/+1",
            "/a/list/2",
            "/a/b~1c",
            "/a/m~0n",
            "/a/missing",
            "a",
            "/",
            "//x",
            "/a/list/x",
            "/a/list/0/deeper",
        ] {
            assert_eq!(v.at(p), v.pointer(p), "{p}");
        }
    }
}
