//! The exact Kubernetes manifests of one desired instance (pure: no network, no clock).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::config::{DiskLifecycle, DiskSource, Import, KubevirtSpec, PullMethod, Sizing};
use crate::plan::{DesiredInstance, LABEL_NAME, Plan, PlannedObject, StaticIp};

/// `v1 Secret`.
pub(crate) const KIND_SECRET: &str = "Secret";
/// `v1 ConfigMap`.
pub(crate) const KIND_CONFIG_MAP: &str = "ConfigMap";
/// `k8s.cni.cncf.io/v1 NetworkAttachmentDefinition`.
pub(crate) const KIND_NAD: &str = "NetworkAttachmentDefinition";
/// `cdi.kubevirt.io/v1beta1 DataVolume`.
pub(crate) const KIND_DATA_VOLUME: &str = "DataVolume";
/// `kubevirt.io/v1 VirtualMachine`.
pub(crate) const KIND_VM: &str = "VirtualMachine";

/// apiVersion of the NetworkAttachmentDefinition.
pub(crate) const NAD_API_VERSION: &str = "k8s.cni.cncf.io/v1";
/// apiVersion of the DataVolume.
pub(crate) const DV_API_VERSION: &str = "cdi.kubevirt.io/v1beta1";
/// apiVersion of VirtualMachine and VirtualMachineInstance.
pub(crate) const VM_API_VERSION: &str = "kubevirt.io/v1";

/// The Secret key KubeVirt reads user data from (`cloudInitNoCloud.secretRef`).
pub(crate) const USERDATA_KEY: &str = "userdata";
/// The Secret key KubeVirt reads network data from (`cloudInitNoCloud.networkDataSecretRef`).
pub(crate) const NETWORKDATA_KEY: &str = "networkdata";

/// The ConfigMap key CDI reads the CA bundle from (any key ending in `.crt`; CDI's
/// `certConfigMap` documentation, doc/image-from-registry.md).
pub(crate) const CA_KEY: &str = "ca.crt";
/// The Secret keys CDI reads import credentials from (`secretRef`; CDI's
/// doc/datavolumes.md, "Import from HTTP or S3 / registry with credentials").
pub(crate) const ACCESS_KEY_ID: &str = "accessKeyId";
/// See [`ACCESS_KEY_ID`].
pub(crate) const SECRET_KEY: &str = "secretKey";
/// What `plan` shows instead of a credential (deploy sends the value).
pub(crate) const REDACTED: &str = "<redacted>";

/// The label KubeVirt uses to tie a VMI (and its pod) to its domain name.
const DOMAIN_LABEL: &str = "kubevirt.io/domain";

/// Name of the cloud-init Secret of instance `name`.
pub(crate) fn secret_name(name: &str) -> String {
    format!("{name}-cloudinit")
}

/// Name of the NetworkAttachmentDefinition of instance `name`.
pub(crate) fn nad_name(name: &str) -> String {
    format!("{name}-net")
}

/// Name of the DataVolume (root disk) of instance `name`.
pub(crate) fn disk_name(name: &str) -> String {
    format!("{name}-disk")
}

/// Name of the DataVolume of data disk `disk` of instance `name`.
pub(crate) fn data_disk_name(name: &str, disk: &str) -> String {
    format!("{name}-{disk}")
}

/// Name of a spec's CA ConfigMap (`ca_file`), shared by its instances.
pub(crate) fn ca_config_map_name(spec: &str) -> String {
    format!("{spec}-ca")
}

/// Name of a spec's import credentials Secret (`credentials: {username, password}`).
pub(crate) fn credentials_secret_name(spec: &str) -> String {
    format!("{spec}-registry-credentials")
}

/// Whether a manifest belongs to the whole spec (no instance name label): the CA
/// ConfigMap and the credentials Secret, created once and deleted with the last instance.
pub(crate) fn is_shared(body: &Value) -> bool {
    body.pointer("/metadata/labels")
        .and_then(|l| l.get(LABEL_NAME))
        .is_none()
}

#[cfg(test)]
/// The (kind, name) pairs of an instance's objects, in creation order.
///
/// `with_nad` is whether the project uses static addressing (`network.ipam`).
pub(crate) fn object_names(name: &str, with_nad: bool) -> Vec<(&'static str, String)> {
    let mut v = vec![(KIND_SECRET, secret_name(name))];
    if with_nad {
        v.push((KIND_NAD, nad_name(name)));
    }
    v.push((KIND_DATA_VOLUME, disk_name(name)));
    v.push((KIND_VM, name.to_string()));
    v
}

/// The manifests `deploy` sends for `inst`, in creation order, in the project's namespace.
///
/// Without `kubevirt.namespace` in the project the manifests carry no namespace, so
/// `vauto plan -o yaml | oc apply -f -` uses the current context's namespace.
pub(crate) fn planned_objects(plan: &Plan, inst: &DesiredInstance) -> Vec<PlannedObject> {
    let ns = plan
        .project
        .kubevirt()
        .and_then(|k| k.namespace.as_ref())
        .map(|n| n.as_str());
    manifests(plan, inst, ns)
}

/// The manifests for `inst` in `namespace` (or none), in creation order: the spec's
/// shared objects first, then the instance's own.
pub(crate) fn manifests(
    plan: &Plan,
    inst: &DesiredInstance,
    namespace: Option<&str>,
) -> Vec<PlannedObject> {
    // A spec is loaded for its project's provider, so a KubeVirt plan has a KubeVirt part.
    let Some(spec) = plan.spec.kubevirt() else {
        return Vec::new();
    };
    let mut shared = inst.labels.clone();
    shared.remove(LABEL_NAME);
    let mut out = Vec::new();
    if let Some(pem) = &spec.ca_bundle {
        out.push(ca_config_map(&inst.spec, pem, namespace, &shared));
    }
    if spec.credentials.is_some() {
        out.push(credentials_secret(&inst.spec, namespace, &shared));
    }
    out.push(secret(inst, namespace));
    if let Some(ip) = &inst.static_ip {
        out.push(nad(plan, inst, ip, namespace));
    }
    for d in disks(spec, inst) {
        if d.lifecycle == DiskLifecycle::Standalone {
            let name = d.name.clone();
            let body = json!({
                "apiVersion": DV_API_VERSION,
                "kind": KIND_DATA_VOLUME,
                "metadata": metadata(&name, namespace, &inst.labels),
                "spec": data_volume_spec(&d, &inst.spec),
            });
            out.push(object(KIND_DATA_VOLUME, name, body));
        }
    }
    out.push(virtual_machine(spec, inst, namespace));
    out
}

/// The ConfigMap holding the spec's CA bundle under `ca.crt` (CDI's `certConfigMap`).
fn ca_config_map(
    spec: &str,
    pem: &str,
    namespace: Option<&str>,
    labels: &BTreeMap<String, String>,
) -> PlannedObject {
    let name = ca_config_map_name(spec);
    let body = json!({
        "apiVersion": "v1",
        "kind": KIND_CONFIG_MAP,
        "metadata": metadata(&name, namespace, labels),
        "data": {CA_KEY: pem},
    });
    object(KIND_CONFIG_MAP, name, body)
}

/// The Secret with the imports' user name and password under CDI's keys (CDI's
/// `secretRef`). The values are `<redacted>` here: `plan` prints this body, and
/// [`with_credentials`] puts the real ones in just before deploy sends it.
fn credentials_secret(
    spec: &str,
    namespace: Option<&str>,
    labels: &BTreeMap<String, String>,
) -> PlannedObject {
    let name = credentials_secret_name(spec);
    let body = json!({
        "apiVersion": "v1",
        "kind": KIND_SECRET,
        "metadata": metadata(&name, namespace, labels),
        "type": "Opaque",
        "stringData": {ACCESS_KEY_ID: REDACTED, SECRET_KEY: REDACTED},
    });
    object(KIND_SECRET, name, body)
}

/// The credentials Secret's body with the spec's real user name and password, for the
/// one request that creates it; any other body is returned unchanged.
pub(crate) fn with_credentials(spec: &KubevirtSpec, obj: &PlannedObject) -> Value {
    let mut body = obj.body.clone();
    if let Some((user, password)) = &spec.credentials
        && obj.kind == KIND_SECRET
        && is_shared(&obj.body)
        && let Some(data) = body.get_mut("stringData").and_then(Value::as_object_mut)
    {
        data.insert(
            ACCESS_KEY_ID.into(),
            Value::String(user.expose().to_string()),
        );
        data.insert(
            SECRET_KEY.into(),
            Value::String(password.expose().to_string()),
        );
    }
    body
}

/// The merge patch that gives an existing shared object `existing` the content of `body`
/// (a ConfigMap's `data`, a Secret's `stringData` against its base64 `data`); `None` when
/// they already match.
pub(crate) fn content_patch(existing: &Value, body: &Value) -> Option<Value> {
    use base64::Engine as _;
    let (key, want) = match body.get("stringData") {
        Some(w) => ("stringData", w.as_object()?),
        None => ("data", body.get("data")?.as_object()?),
    };
    let have = existing.get("data").and_then(Value::as_object);
    let same = want.iter().all(|(k, v)| {
        let got = have.and_then(|h| h.get(k)).and_then(Value::as_str);
        let got = if key == "stringData" {
            got.and_then(|g| base64::engine::general_purpose::STANDARD.decode(g).ok())
                .and_then(|b| String::from_utf8(b).ok())
        } else {
            got.map(str::to_string)
        };
        got.as_deref() == v.as_str()
    });
    (!same).then(|| json!({ key: want }))
}

/// An object a manifest names, by API path parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    /// `None` for a cluster-scoped object.
    pub namespace: Option<String>,
    pub name: String,
}

/// Something a spec's manifests need and do not create, with what to tell the user when it
/// is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    pub target: Target,
    pub missing: String,
}

/// What the spec names and does not create: its instance type and preference, its
/// DataSources, and the Secrets of `credentials: {secret: NAME}`, each once.
pub(crate) fn references(spec: &KubevirtSpec, namespace: &str) -> Vec<Reference> {
    const ITG: &str = "instancetype.kubevirt.io";
    let mut out: Vec<Reference> = Vec::new();
    let mut push = |r: Reference| {
        if !out.iter().any(|o| o.target == r.target) {
            out.push(r);
        }
    };
    let typed = |t: &crate::config::KindRef, what: &str| {
        let (plural, cluster) = match t.kind {
            "VirtualMachineClusterInstancetype" => ("virtualmachineclusterinstancetypes", true),
            "VirtualMachineInstancetype" => ("virtualmachineinstancetypes", false),
            "VirtualMachineClusterPreference" => ("virtualmachineclusterpreferences", true),
            _ => ("virtualmachinepreferences", false),
        };
        let list = if cluster {
            format!("oc get {plural}")
        } else {
            format!("oc get {plural} -n {namespace}")
        };
        Reference {
            target: Target {
                group: ITG,
                version: "v1beta1",
                plural,
                kind: t.kind,
                namespace: (!cluster).then(|| namespace.to_string()),
                name: t.name.clone(),
            },
            missing: format!(
                "the {what} `{}` ({}) does not exist: KubeVirt would refuse the VM; `{list}` lists the ones there are",
                t.name, t.kind
            ),
        }
    };
    if let Sizing::Instancetype(t) = &spec.size {
        push(typed(t, "instance type"));
    }
    if let Some(p) = &spec.preference {
        push(typed(p, "preference"));
    }
    let sources = std::iter::once(Some(&spec.disk.source))
        .chain(spec.disks.iter().map(|d| d.source.as_ref()))
        .flatten();
    for source in sources {
        match source {
            DiskSource::DataSource(d) => push(Reference {
                target: Target {
                    group: "cdi.kubevirt.io",
                    version: "v1beta1",
                    plural: "datasources",
                    kind: "DataSource",
                    namespace: Some(d.namespace().to_string()),
                    name: d.name.0.clone(),
                },
                missing: format!(
                    "the DataSource `{}` does not exist in namespace `{}`: `oc get datasources -n {}` lists the boot sources there are",
                    d.name,
                    d.namespace(),
                    d.namespace()
                ),
            }),
            DiskSource::Registry(i) | DiskSource::Http(i) => {
                if let Some(name) = i.credentials.as_ref().and_then(|c| c.secret.as_ref()) {
                    push(Reference {
                        target: Target {
                            group: "",
                            version: "v1",
                            plural: "secrets",
                            kind: KIND_SECRET,
                            namespace: Some(namespace.to_string()),
                            name: name.0.clone(),
                        },
                        missing: format!(
                            "the import credentials Secret `{name}` does not exist in namespace `{namespace}`: create it with CDI's keys, `oc create secret generic {name} -n {namespace} --from-literal=accessKeyId=USER --from-literal=secretKey=PASSWORD`, or give `credentials: {{username, password}}`"
                        ),
                    });
                }
            }
            DiskSource::Pvc(_) => {}
        }
    }
    out
}

/// A PVC or DataSource in another namespace that a spec's disks clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CloneSource {
    /// `PersistentVolumeClaim` or `DataSource`.
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

impl CloneSource {
    /// Why the clone would be refused and how an admin allows it (CDI checks `create` on
    /// `datavolumes/source` in the source's namespace).
    pub(crate) fn refused(&self) -> String {
        let ns = &self.namespace;
        format!(
            "you may not clone the {} `{ns}/{}`: CDI needs `create` on `datavolumes/source` (cdi.kubevirt.io) in namespace `{ns}` and would refuse the disk; an admin grants it with `oc create clusterrole datavolume-cloner --verb=create --resource=datavolumes.cdi.kubevirt.io/source` (once) and `oc create rolebinding datavolume-cloner -n {ns} --clusterrole=datavolume-cloner --user=YOU` (or `--serviceaccount=NS:NAME`); `oc auth can-i create datavolumes.cdi.kubevirt.io --subresource=source -n {ns}` checks it",
            self.kind, self.name
        )
    }
}

/// The PVCs and DataSources outside `namespace` that the spec's disks clone, each once.
pub(crate) fn clone_sources(spec: &KubevirtSpec, namespace: &str) -> Vec<CloneSource> {
    let mut out: Vec<CloneSource> = Vec::new();
    let sources = std::iter::once(Some(&spec.disk.source))
        .chain(spec.disks.iter().map(|d| d.source.as_ref()))
        .flatten();
    for source in sources {
        let found = match source {
            DiskSource::Pvc(p) => CloneSource {
                kind: "PersistentVolumeClaim",
                namespace: p.namespace.as_str().to_string(),
                name: p.name.as_str().to_string(),
            },
            DiskSource::DataSource(d) => CloneSource {
                kind: "DataSource",
                namespace: d.namespace().to_string(),
                name: d.name.0.clone(),
            },
            DiskSource::Registry(_) | DiskSource::Http(_) => continue,
        };
        if found.namespace != namespace && !out.contains(&found) {
            out.push(found);
        }
    }
    out
}

/// One disk of an instance as its DataVolume is made: name, VM volume name, size, class,
/// source and lifecycle.
pub(crate) struct PlannedDisk<'a> {
    /// The DataVolume's name.
    pub name: String,
    /// The volume and disk name in the VM.
    pub volume: String,
    size: &'a str,
    storage_class: Option<&'a str>,
    source: Option<&'a DiskSource>,
    /// Standalone or a `dataVolumeTemplates` entry.
    pub lifecycle: DiskLifecycle,
}

/// The instance's disks, root first.
pub(crate) fn disks<'a>(spec: &'a KubevirtSpec, inst: &DesiredInstance) -> Vec<PlannedDisk<'a>> {
    let root = PlannedDisk {
        name: disk_name(&inst.name),
        volume: "rootdisk".to_string(),
        size: spec.disk.size.as_str(),
        storage_class: spec.disk.storage_class.as_deref(),
        source: Some(&spec.disk.source),
        lifecycle: spec.disk.lifecycle,
    };
    let data = spec.disks.iter().map(|d| PlannedDisk {
        name: data_disk_name(&inst.name, &d.name),
        volume: d.name.0.clone(),
        size: d.size.as_str(),
        storage_class: d.storage_class.as_deref(),
        source: d.source.as_ref(),
        lifecycle: d.lifecycle,
    });
    std::iter::once(root).chain(data).collect()
}

/// A DataVolume's `spec`: `source` (or `sourceRef` for a DataSource) and `storage`.
fn data_volume_spec(d: &PlannedDisk<'_>, spec_name: &str) -> Value {
    let mut storage = Map::new();
    storage.insert("resources".into(), json!({"requests": {"storage": d.size}}));
    if let Some(class) = d.storage_class {
        storage.insert("storageClassName".into(), Value::String(class.to_string()));
    }
    let mut out = Map::new();
    match d.source {
        Some(DiskSource::DataSource(ds)) => {
            out.insert(
                "sourceRef".into(),
                json!({"kind": "DataSource", "namespace": ds.namespace(), "name": ds.name.as_str()}),
            );
        }
        Some(DiskSource::Registry(i)) => {
            out.insert(
                "source".into(),
                json!({"registry": import(i, spec_name, true)}),
            );
        }
        Some(DiskSource::Http(i)) => {
            out.insert(
                "source".into(),
                json!({"http": import(i, spec_name, false)}),
            );
        }
        Some(DiskSource::Pvc(p)) => {
            out.insert(
                "source".into(),
                json!({"pvc": {"namespace": p.namespace.as_str(), "name": p.name.as_str()}}),
            );
        }
        None => {
            out.insert("source".into(), json!({"blank": {}}));
        }
    }
    out.insert("storage".into(), Value::Object(storage));
    Value::Object(out)
}

/// A registry or http import source: `url`, and `certConfigMap`, `secretRef`, `pullMethod`
/// when the spec sets them.
fn import(i: &Import, spec_name: &str, registry: bool) -> Value {
    let mut m = Map::new();
    m.insert("url".into(), Value::String(i.url.0.clone()));
    if i.ca_file.is_some() {
        m.insert(
            "certConfigMap".into(),
            Value::String(ca_config_map_name(spec_name)),
        );
    }
    if let Some(c) = &i.credentials {
        let name = match &c.secret {
            Some(s) => s.0.clone(),
            None => credentials_secret_name(spec_name),
        };
        m.insert("secretRef".into(), Value::String(name));
    }
    if registry && let Some(pm) = i.pull_method {
        let v = match pm {
            PullMethod::Pod => "pod",
            PullMethod::Node => "node",
        };
        m.insert("pullMethod".into(), Value::String(v.to_string()));
    }
    Value::Object(m)
}

/// `metadata` with name, namespace (if any) and the instance's labels.
fn metadata(name: &str, namespace: Option<&str>, labels: &BTreeMap<String, String>) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), Value::String(name.to_string()));
    if let Some(ns) = namespace {
        m.insert("namespace".into(), Value::String(ns.to_string()));
    }
    m.insert("labels".into(), labels_json(labels));
    Value::Object(m)
}

fn labels_json(labels: &BTreeMap<String, String>) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn object(kind: &str, name: String, body: Value) -> PlannedObject {
    PlannedObject {
        kind: kind.to_string(),
        name,
        body,
    }
}

/// (1) The cloud-init Secret: `userdata`, plus `networkdata` with static addressing.
fn secret(inst: &DesiredInstance, namespace: Option<&str>) -> PlannedObject {
    let name = secret_name(&inst.name);
    let mut data = Map::new();
    data.insert(USERDATA_KEY.into(), Value::String(inst.user_data.clone()));
    if let Some(nd) = &inst.network_data {
        data.insert(NETWORKDATA_KEY.into(), Value::String(nd.clone()));
    }
    // `stringData` keeps `plan -o yaml` readable; the API server stores it base64 in `data`.
    let body = json!({
        "apiVersion": "v1",
        "kind": KIND_SECRET,
        "metadata": metadata(&name, namespace, &inst.labels),
        "type": "Opaque",
        "stringData": data,
    });
    object(KIND_SECRET, name, body)
}

/// The CNI configuration (a JSON string) of the instance's bridge network with static IPAM.
pub(crate) fn cni_config(name: &str, bridge: &str, ip: &StaticIp) -> String {
    let mut address = Map::new();
    address.insert("address".into(), Value::String(ip.cidr()));
    if let Some(gw) = ip.gateway {
        address.insert("gateway".into(), Value::String(gw.to_string()));
    }
    let mut ipam = Map::new();
    ipam.insert("type".into(), json!("static"));
    ipam.insert("addresses".into(), json!([address]));
    if let Some(gw) = ip.gateway {
        ipam.insert(
            "routes".into(),
            json!([{"dst": "0.0.0.0/0", "gw": gw.to_string()}]),
        );
    }
    if !ip.dns.is_empty() {
        ipam.insert("dns".into(), json!({"nameservers": ip.dns}));
    }
    json!({
        "cniVersion": "0.3.1",
        "name": nad_name(name),
        "type": "bridge",
        "bridge": bridge,
        "ipam": ipam,
    })
    .to_string()
}

/// (2) The NetworkAttachmentDefinition: a CNI bridge on `network.bridge` with this instance's address.
fn nad(
    plan: &Plan,
    inst: &DesiredInstance,
    ip: &StaticIp,
    namespace: Option<&str>,
) -> PlannedObject {
    let name = nad_name(&inst.name);
    // `network.bridge` is required with `network.ipam` on kubevirt (checked at load time).
    let bridge = plan
        .project
        .kubevirt()
        .and_then(|k| k.bridge.as_ref())
        .map(|b| b.as_str())
        .unwrap_or_default();
    let body = json!({
        "apiVersion": NAD_API_VERSION,
        "kind": KIND_NAD,
        "metadata": metadata(&name, namespace, &inst.labels),
        "spec": {"config": cni_config(&inst.name, bridge, ip)},
    });
    object(KIND_NAD, name, body)
}

/// The VirtualMachine: `instancetype`/`preference` when the spec names them,
/// `dataVolumeTemplates` for the disks that live and die with it, and the template.
fn virtual_machine(
    spec: &KubevirtSpec,
    inst: &DesiredInstance,
    namespace: Option<&str>,
) -> PlannedObject {
    let name = inst.name.clone();
    let mut template_labels = inst.labels.clone();
    template_labels.insert(DOMAIN_LABEL.to_string(), name.clone());
    let (interfaces, networks) = network(inst);
    let disks = disks(spec, inst);
    // serde_json keeps insertion order: the keys go in the order the manifest shows them.
    let mut tspec = Map::new();
    tspec.insert("domain".into(), domain(spec, &disks, interfaces));
    tspec.insert("hostname".into(), Value::String(name.clone()));
    tspec.insert("networks".into(), networks);
    tspec.insert("volumes".into(), volumes(inst, &disks));
    insert_placement(spec, &mut tspec);
    let mut vm = Map::new();
    if let Sizing::Instancetype(t) = &spec.size {
        vm.insert(
            "instancetype".into(),
            json!({"kind": t.kind, "name": t.name}),
        );
    }
    if let Some(p) = &spec.preference {
        vm.insert("preference".into(), json!({"kind": p.kind, "name": p.name}));
    }
    vm.insert(
        "runStrategy".into(),
        Value::String(spec.run_strategy.as_str().to_string()),
    );
    let templates: Vec<Value> = disks
        .iter()
        .filter(|d| d.lifecycle == DiskLifecycle::WithVm)
        .map(|d| {
            // KubeVirt creates the DataVolume with these labels and an owner reference to
            // the VM: vauto finds it by its labels, and it goes when the VM goes.
            json!({
                "metadata": {"name": d.name, "labels": labels_json(&inst.labels)},
                "spec": data_volume_spec(d, &inst.spec),
            })
        })
        .collect();
    if !templates.is_empty() {
        vm.insert("dataVolumeTemplates".into(), Value::Array(templates));
    }
    vm.insert(
        "template".into(),
        json!({
            "metadata": {"labels": labels_json(&template_labels)},
            "spec": tspec,
        }),
    );
    let body = json!({
        "apiVersion": VM_API_VERSION,
        "kind": KIND_VM,
        "metadata": metadata(&name, namespace, &inst.labels),
        "spec": vm,
    });
    object(KIND_VM, name, body)
}

/// The VM's `(interfaces, networks)`: a bridge on the instance's NAD with static
/// addressing, else the pod network behind masquerade.
fn network(inst: &DesiredInstance) -> (Value, Value) {
    if inst.static_ip.is_some() {
        (
            json!([{"name": "net0", "bridge": {}}]),
            json!([{"name": "net0", "multus": {"networkName": nad_name(&inst.name)}}]),
        )
    } else {
        (
            json!([{"name": "default", "masquerade": {}}]),
            json!([{"name": "default", "pod": {}}]),
        )
    }
}

/// The VM template's `domain`: size (unless an instance type gives it), the disks and the
/// network `interfaces`.
fn domain(spec: &KubevirtSpec, disks: &[PlannedDisk<'_>], interfaces: Value) -> Value {
    let mut domain = Map::new();
    if let Sizing::Explicit { cpu, memory } = &spec.size {
        domain.insert("cpu".into(), json!({"cores": cpu}));
        // `memory.guest` alone: KubeVirt derives the pod's memory request from it.
        domain.insert("memory".into(), json!({"guest": memory.as_str()}));
    }
    let mut devices: Vec<Value> = disks
        .iter()
        .map(|d| json!({"name": d.volume, "disk": {"bus": "virtio"}}))
        .collect();
    devices.insert(
        1.min(devices.len()),
        json!({"name": "cloudinitdisk", "disk": {"bus": "virtio"}}),
    );
    domain.insert(
        "devices".into(),
        json!({"disks": devices, "interfaces": interfaces}),
    );
    Value::Object(domain)
}

/// The VM template's `volumes`: the root DataVolume, the cloud-init Secret, the data disks.
fn volumes(inst: &DesiredInstance, disks: &[PlannedDisk<'_>]) -> Value {
    // User data always goes through the Secret: KubeVirt caps inline cloud-init at 2048 bytes.
    let mut cloud_init = Map::new();
    cloud_init.insert("secretRef".into(), json!({"name": secret_name(&inst.name)}));
    if inst.network_data.is_some() {
        cloud_init.insert(
            "networkDataSecretRef".into(),
            json!({"name": secret_name(&inst.name)}),
        );
    }
    let mut out: Vec<Value> = disks
        .iter()
        .map(|d| json!({"name": d.volume, "dataVolume": {"name": d.name}}))
        .collect();
    out.insert(
        1.min(out.len()),
        json!({"name": "cloudinitdisk", "cloudInitNoCloud": cloud_init}),
    );
    Value::Array(out)
}

/// Adds the spec's `nodeSelector`, `affinity` and `tolerations` to the template spec,
/// each only when set.
fn insert_placement(spec: &KubevirtSpec, tspec: &mut Map<String, Value>) {
    if !spec.node_selector.is_empty() {
        let sel: Map<String, Value> = spec
            .node_selector
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.0.clone())))
            .collect();
        tspec.insert("nodeSelector".into(), Value::Object(sel));
    }
    if let Some(aff) = &spec.affinity {
        // An empty `affinity: {}` in the spec means "none"; leave it out of the manifest.
        if !(aff.0.is_null() || aff.0.as_object().is_some_and(Map::is_empty)) {
            tspec.insert("affinity".into(), aff.0.clone());
        }
    }
    if !spec.tolerations.is_empty() {
        let t: Vec<Value> = spec.tolerations.iter().map(|t| t.0.clone()).collect();
        tspec.insert("tolerations".into(), Value::Array(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Project, ProviderKind, Spec};
    use crate::plan::{ownership_labels, static_ip};

    const PROJECT_IPAM: &str = r#"
name: lab
provider: kubevirt
kubevirt: {namespace: lab-vms}
network:
  ipam: {range: 192.168.10.0/24, gateway: 192.168.10.1, dns: [192.168.10.1, 1.1.1.1]}
  bridge: br1
labels: {team: ops}
"#;

    const PROJECT_DHCP: &str = "name: lab\nprovider: kubevirt\n";

    const SPEC: &str = r#"
name: web
cpu: 2
memory: 4Gi
disk:
  size: 30Gi
  storage_class: ocs-storagecluster-ceph-rbd
  source: {registry: "docker://registry.local/rhel9:9.4"}
placement:
  node_selector: {zone: core}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          - matchExpressions: [{key: hw-type, operator: In, values: [high-mem]}]
  tolerations: [{key: dedicated, operator: Equal, value: vms, effect: NoSchedule}]
"#;

    fn plan(project: &str, spec: &str) -> Plan {
        let project: Project = crate::config::testing::project(project);
        let spec: Spec = crate::config::testing::spec(spec, ProviderKind::Kubevirt);
        let name = "web-01".to_string();
        let mut labels = ownership_labels(&project.name, &spec.name, &name);
        for (k, v) in &project.labels {
            labels.insert(k.clone(), v.0.clone());
        }
        let ip = project.ipam.as_ref().map(|i| static_ip(i, 0).unwrap());
        let inst = DesiredInstance {
            name,
            index: 0,
            project: project.name.0.clone(),
            spec: spec.name.0.clone(),
            labels,
            network_data: ip
                .as_ref()
                .map(|_| "version: 2\nethernets: {}\n".to_string()),
            static_ip: ip,
            user_data: "#cloud-config\nhostname: web-01\n".to_string(),
            ssh_authorized_keys: vec![],
        };
        Plan {
            project,
            spec,
            instances: vec![inst],
            notes: vec![],
            target: None,
        }
    }

    fn schema(file: &str) -> Value {
        let path = format!(
            "{}/data/schemas/jsonschema/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// A validator for `kind`: Draft 7 for the CRD schemas (no `$schema`), the declared draft for Secret.
    fn validator(kind: &str) -> jsonschema::Validator {
        match kind {
            KIND_SECRET => jsonschema::validator_for(&schema("secret-v1.json")).unwrap(),
            KIND_CONFIG_MAP => jsonschema::validator_for(&schema("configmap-v1.json")).unwrap(),
            KIND_NAD => jsonschema::draft7::new(&schema(
                "k8s.cni.cncf.io_networkattachmentdefinition_v1.json",
            ))
            .unwrap(),
            KIND_DATA_VOLUME => {
                jsonschema::draft7::new(&schema("cdi.kubevirt.io_datavolume_v1beta1.json")).unwrap()
            }
            KIND_VM => {
                jsonschema::draft7::new(&schema("kubevirt.io_virtualmachine_v1.json")).unwrap()
            }
            other => panic!("no schema for {other}"),
        }
    }

    fn errors(kind: &str, body: &Value) -> Vec<String> {
        validator(kind)
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    fn all_plans() -> Vec<Plan> {
        let http = SPEC.replace(
            r#"{registry: "docker://registry.local/rhel9:9.4"}"#,
            r#"{http: "https://img.local/rhel9.qcow2"}"#,
        );
        let pvc = SPEC.replace(
            r#"{registry: "docker://registry.local/rhel9:9.4"}"#,
            "{pvc: {namespace: golden, name: rhel9-base}}",
        );
        let minimal =
            "name: web\nmemory: 1Gi\ndisk: {size: 10Gi, source: {http: \"http://x/y.img\"}}\n";
        vec![
            plan(PROJECT_IPAM, SPEC),
            plan(PROJECT_DHCP, SPEC),
            plan(PROJECT_IPAM, &http),
            plan(PROJECT_DHCP, &pvc),
            plan(PROJECT_DHCP, minimal),
            plan(PROJECT_IPAM, AIRGAP),
            plan(PROJECT_DHCP, GOLDEN),
        ]
    }

    /// A mirrored registry with an internal CA, pull credentials, the node's pull, an
    /// instance type and preference, and two data disks (one imported, one blank).
    const AIRGAP: &str = r#"
name: web
instancetype: {name: u1.medium}
preference: {name: rhel.9}
disk:
  size: 30Gi
  source:
    registry:
      url: docker://mirror.lab:5000/rhel9/rhel-guest-image:9.4
      ca_file: tests/data/registry-ca/ca.crt
      credentials: {username: mirror-user, password: s3cret-pass}
      pull_method: node
disks:
  - name: data
    size: 100Gi
    storage_class: lvms-vg1
  - name: tools
    size: 5Gi
    lifecycle: with_vm
    source:
      http: {url: "https://mirror.lab/tools.qcow2", ca_file: tests/data/registry-ca/ca.crt, credentials: {secret: mirror-http}}
"#;

    /// OpenShift's golden image, the disk living and dying with the VM.
    const GOLDEN: &str = r#"
name: web
cpu: 2
memory: 4Gi
run_strategy: Halted
disk:
  size: 30Gi
  lifecycle: with_vm
  source: {data_source: {name: rhel9}}
"#;

    #[test]
    fn an_air_gapped_spec_makes_the_ca_credentials_disks_and_instancetype() {
        let p = plan(PROJECT_IPAM, AIRGAP);
        let objs = planned_objects(&p, &p.instances[0]);
        let kinds: Vec<_> = objs
            .iter()
            .map(|o| (o.kind.as_str(), o.name.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (KIND_CONFIG_MAP, "web-ca"),
                (KIND_SECRET, "web-registry-credentials"),
                (KIND_SECRET, "web-01-cloudinit"),
                (KIND_NAD, "web-01-net"),
                (KIND_DATA_VOLUME, "web-01-disk"),
                (KIND_DATA_VOLUME, "web-01-data"),
                (KIND_VM, "web-01"),
            ]
        );
        let pem = std::fs::read_to_string(format!(
            "{}/tests/data/registry-ca/ca.crt",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert_eq!(objs[0].body["data"], json!({"ca.crt": pem}));
        // Shared objects carry the project and spec labels, not an instance's name.
        assert!(is_shared(&objs[0].body) && is_shared(&objs[1].body));
        assert!(!is_shared(&objs[2].body));
        // `plan` never shows the credentials; deploy's body has them.
        assert_eq!(
            objs[1].body["stringData"],
            json!({"accessKeyId": "<redacted>", "secretKey": "<redacted>"})
        );
        let spec = p.spec.kubevirt().unwrap();
        assert_eq!(
            with_credentials(spec, &objs[1])["stringData"],
            json!({"accessKeyId": "mirror-user", "secretKey": "s3cret-pass"})
        );
        assert_eq!(with_credentials(spec, &objs[2]), objs[2].body);
        assert!(!format!("{spec:?}").contains("s3cret-pass"));
        assert_eq!(
            objs[4].body["spec"]["source"],
            json!({"registry": {"url": "docker://mirror.lab:5000/rhel9/rhel-guest-image:9.4",
                                "certConfigMap": "web-ca", "secretRef": "web-registry-credentials",
                                "pullMethod": "node"}})
        );
        assert_eq!(
            objs[5].body["spec"],
            json!({"source": {"blank": {}},
                   "storage": {"resources": {"requests": {"storage": "100Gi"}}, "storageClassName": "lvms-vg1"}})
        );
        let vm = &objs[6].body["spec"];
        assert_eq!(
            vm["instancetype"],
            json!({"kind": "VirtualMachineClusterInstancetype", "name": "u1.medium"})
        );
        assert_eq!(
            vm["preference"],
            json!({"kind": "VirtualMachineClusterPreference", "name": "rhel.9"})
        );
        let domain = &vm["template"]["spec"]["domain"];
        assert!(domain.get("cpu").is_none() && domain.get("memory").is_none());
        assert_eq!(
            domain["devices"]["disks"],
            json!([{"name": "rootdisk", "disk": {"bus": "virtio"}},
                   {"name": "cloudinitdisk", "disk": {"bus": "virtio"}},
                   {"name": "data", "disk": {"bus": "virtio"}},
                   {"name": "tools", "disk": {"bus": "virtio"}}])
        );
        let volumes = &vm["template"]["spec"]["volumes"];
        assert_eq!(
            volumes[2],
            json!({"name": "data", "dataVolume": {"name": "web-01-data"}})
        );
        assert_eq!(
            volumes[3],
            json!({"name": "tools", "dataVolume": {"name": "web-01-tools"}})
        );
        assert_eq!(
            vm["dataVolumeTemplates"],
            json!([{"metadata": {"name": "web-01-tools", "labels": objs[6].body["metadata"]["labels"]},
                    "spec": {"source": {"http": {"url": "https://mirror.lab/tools.qcow2",
                                                  "certConfigMap": "web-ca", "secretRef": "mirror-http"}},
                             "storage": {"resources": {"requests": {"storage": "5Gi"}}}}}])
        );
        let refs = references(spec, "lab-vms");
        let refs: Vec<(&str, Option<&str>, &str)> = refs
            .iter()
            .map(|r| {
                (
                    r.target.kind,
                    r.target.namespace.as_deref(),
                    r.target.name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            refs,
            [
                ("VirtualMachineClusterInstancetype", None, "u1.medium"),
                ("VirtualMachineClusterPreference", None, "rhel.9"),
                ("Secret", Some("lab-vms"), "mirror-http"),
            ]
        );
    }

    #[test]
    fn a_golden_image_is_a_source_ref_in_the_vms_data_volume_templates() {
        let p = plan(PROJECT_DHCP, GOLDEN);
        let objs = planned_objects(&p, &p.instances[0]);
        assert!(objs.iter().all(|o| o.kind != KIND_DATA_VOLUME));
        let vm = &objs.last().unwrap().body["spec"];
        assert_eq!(vm["runStrategy"], json!("Halted"));
        assert_eq!(
            vm["dataVolumeTemplates"][0]["spec"],
            json!({"sourceRef": {"kind": "DataSource", "namespace": "openshift-virtualization-os-images", "name": "rhel9"},
                   "storage": {"resources": {"requests": {"storage": "30Gi"}}}})
        );
        assert_eq!(vm["template"]["spec"]["domain"]["cpu"], json!({"cores": 2}));
    }

    #[test]
    fn a_changed_ca_or_password_is_patched_and_an_unchanged_one_left() {
        let cm = json!({"data": {"ca.crt": "A"}});
        assert_eq!(content_patch(&cm, &json!({"data": {"ca.crt": "A"}})), None);
        assert_eq!(
            content_patch(&cm, &json!({"data": {"ca.crt": "B"}})),
            Some(json!({"data": {"ca.crt": "B"}}))
        );
        // A Secret as stored: base64 `data`.
        let secret = json!({"data": {"accessKeyId": "dQ==", "secretKey": "cA=="}});
        let want = json!({"stringData": {"accessKeyId": "u", "secretKey": "p"}});
        assert_eq!(content_patch(&secret, &want), None);
        let new = json!({"stringData": {"accessKeyId": "u", "secretKey": "q"}});
        assert_eq!(content_patch(&secret, &new), Some(new.clone()));
    }

    #[test]
    fn every_manifest_validates_against_the_real_schemas() {
        for p in all_plans() {
            let objs = planned_objects(&p, &p.instances[0]);
            assert!(objs.len() >= 2);
            for o in &objs {
                let errs = errors(&o.kind, &o.body);
                assert!(
                    errs.is_empty(),
                    "{} {} is invalid: {errs:#?}",
                    o.kind,
                    o.name
                );
            }
        }
    }

    #[test]
    fn the_validator_rejects_typos() {
        let p = plan(PROJECT_IPAM, SPEC);
        let objs = planned_objects(&p, &p.instances[0]);
        let find = |k: &str| objs.iter().find(|o| o.kind == k).unwrap().body.clone();

        let mut vm = find(KIND_VM);
        vm["spec"]["template"]["spec"]["domain"]["devices"]["disks"][0]["disk"] =
            json!({"buss": "virtio"});
        assert!(!errors(KIND_VM, &vm).is_empty());
        let mut vm = find(KIND_VM);
        vm["spec"]["runStrategy"] = json!(true);
        assert!(!errors(KIND_VM, &vm).is_empty());

        let mut dv = find(KIND_DATA_VOLUME);
        dv["spec"]["source"] = json!({"htp": {"url": "http://x"}});
        assert!(!errors(KIND_DATA_VOLUME, &dv).is_empty());

        let mut secret = find(KIND_SECRET);
        let meta = secret["metadata"].clone();
        secret["metadata"] = json!({"name": meta["name"], "lables": meta["labels"]});
        assert!(!errors(KIND_SECRET, &secret).is_empty());

        let mut nad = find(KIND_NAD);
        nad["spec"]["config"] = json!({"cniVersion": "0.3.1"});
        assert!(!errors(KIND_NAD, &nad).is_empty());
    }

    #[test]
    fn objects_come_in_creation_order_with_ownership_labels() {
        let p = plan(PROJECT_IPAM, SPEC);
        let inst = &p.instances[0];
        let objs = planned_objects(&p, inst);
        let kinds: Vec<_> = objs
            .iter()
            .map(|o| (o.kind.as_str(), o.name.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (KIND_SECRET, "web-01-cloudinit"),
                (KIND_NAD, "web-01-net"),
                (KIND_DATA_VOLUME, "web-01-disk"),
                (KIND_VM, "web-01"),
            ]
        );
        let names: Vec<_> = object_names("web-01", true)
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect();
        let got: Vec<_> = objs
            .iter()
            .map(|o| (o.kind.clone(), o.name.clone()))
            .collect();
        assert_eq!(names, got);
        for o in &objs {
            assert_eq!(o.body["kind"], json!(o.kind));
            assert_eq!(o.body["metadata"]["name"], json!(o.name));
            assert_eq!(o.body["metadata"]["namespace"], json!("lab-vms"));
            let labels = &o.body["metadata"]["labels"];
            assert_eq!(labels["v-auto/managed"], json!("true"));
            assert_eq!(labels["v-auto/project"], json!("lab"));
            assert_eq!(labels["v-auto/spec"], json!("web"));
            assert_eq!(labels["v-auto/name"], json!("web-01"));
            assert_eq!(labels["team"], json!("ops"));
        }
        let tl = &objs[3].body["spec"]["template"]["metadata"]["labels"];
        assert_eq!(tl["v-auto/name"], json!("web-01"));
        assert_eq!(tl["kubevirt.io/domain"], json!("web-01"));
    }

    #[test]
    fn without_ipam_there_is_no_nad_and_the_pod_network_is_used() {
        let p = plan(PROJECT_DHCP, SPEC);
        let objs = planned_objects(&p, &p.instances[0]);
        assert!(objs.iter().all(|o| o.kind != KIND_NAD));
        assert!(
            objs.iter()
                .all(|o| o.body["metadata"].get("namespace").is_none())
        );
        let secret = &objs[0].body;
        assert!(secret["stringData"].get(NETWORKDATA_KEY).is_none());
        assert_eq!(
            secret["stringData"][USERDATA_KEY],
            json!(p.instances[0].user_data)
        );
        let vm = &objs.last().unwrap().body["spec"]["template"]["spec"];
        assert_eq!(vm["networks"], json!([{"name": "default", "pod": {}}]));
        assert_eq!(
            vm["domain"]["devices"]["interfaces"],
            json!([{"name": "default", "masquerade": {}}])
        );
        let ci = &vm["volumes"][1]["cloudInitNoCloud"];
        assert_eq!(ci, &json!({"secretRef": {"name": "web-01-cloudinit"}}));
    }

    #[test]
    fn user_data_is_never_inline_even_when_large() {
        let mut p = plan(PROJECT_IPAM, SPEC);
        p.instances[0].user_data = format!("#cloud-config\n# {}\n", "x".repeat(5000));
        let objs = planned_objects(&p, &p.instances[0]);
        let vm = serde_json::to_string(&objs.last().unwrap().body).unwrap();
        assert!(!vm.contains("xxxx"));
        assert!(!vm.contains("userData"));
        let ci = &objs.last().unwrap().body["spec"]["template"]["spec"]["volumes"][1]["cloudInitNoCloud"];
        assert_eq!(
            ci["networkDataSecretRef"],
            json!({"name": "web-01-cloudinit"})
        );
        assert!(
            objs[0].body["stringData"][USERDATA_KEY]
                .as_str()
                .unwrap()
                .contains("xxxx")
        );
    }

    #[test]
    fn nad_config_is_static_bridge_ipam() {
        let p = plan(PROJECT_IPAM, SPEC);
        let objs = planned_objects(&p, &p.instances[0]);
        let config = objs[1].body["spec"]["config"].as_str().unwrap();
        let cni: Value = serde_json::from_str(config).unwrap();
        assert_eq!(
            cni,
            json!({
                "cniVersion": "0.3.1",
                "name": "web-01-net",
                "type": "bridge",
                "bridge": "br1",
                "ipam": {
                    "type": "static",
                    "addresses": [{"address": "192.168.10.101/24", "gateway": "192.168.10.1"}],
                    "routes": [{"dst": "0.0.0.0/0", "gw": "192.168.10.1"}],
                    "dns": {"nameservers": ["192.168.10.1", "1.1.1.1"]}
                }
            })
        );
        let vm = &objs[3].body["spec"]["template"]["spec"];
        assert_eq!(
            vm["networks"],
            json!([{"name": "net0", "multus": {"networkName": "web-01-net"}}])
        );
        assert_eq!(
            vm["domain"]["devices"]["interfaces"],
            json!([{"name": "net0", "bridge": {}}])
        );
    }

    #[test]
    fn disk_sources_map_to_data_volume_sources() {
        let plans = all_plans();
        let source = |p: &Plan| {
            let objs = planned_objects(p, &p.instances[0]);
            objs.iter()
                .find(|o| o.kind == KIND_DATA_VOLUME)
                .unwrap()
                .body["spec"]
                .clone()
        };
        assert_eq!(
            source(&plans[0])["source"],
            json!({"registry": {"url": "docker://registry.local/rhel9:9.4"}})
        );
        assert_eq!(
            source(&plans[0])["storage"],
            json!({"resources": {"requests": {"storage": "30Gi"}}, "storageClassName": "ocs-storagecluster-ceph-rbd"})
        );
        assert_eq!(
            source(&plans[2])["source"],
            json!({"http": {"url": "https://img.local/rhel9.qcow2"}})
        );
        assert_eq!(
            source(&plans[3])["source"],
            json!({"pvc": {"namespace": "golden", "name": "rhel9-base"}})
        );
        // No storage class: the cluster default applies.
        assert_eq!(
            source(&plans[4])["storage"],
            json!({"resources": {"requests": {"storage": "10Gi"}}})
        );
    }

    #[test]
    fn snapshot_of_a_realistic_instance() {
        let p = plan(PROJECT_IPAM, SPEC);
        let bodies: Vec<Value> = planned_objects(&p, &p.instances[0])
            .into_iter()
            .map(|o| o.body)
            .collect();
        insta::assert_yaml_snapshot!("secret", bodies[0]);
        insta::assert_yaml_snapshot!("network_attachment_definition", bodies[1]);
        insta::assert_yaml_snapshot!("data_volume", bodies[2]);
        insta::assert_yaml_snapshot!("virtual_machine", bodies[3]);
    }
}
