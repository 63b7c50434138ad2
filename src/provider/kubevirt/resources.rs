//! The exact Kubernetes manifests of one desired instance (pure: no network, no clock).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::config::{DiskSource, KubevirtSpec};
use crate::plan::{DesiredInstance, Plan, PlannedObject, StaticIp};

/// `v1 Secret`.
pub(crate) const KIND_SECRET: &str = "Secret";
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

/// The manifests for `inst` in `namespace` (or none), in creation order.
pub(crate) fn manifests(
    plan: &Plan,
    inst: &DesiredInstance,
    namespace: Option<&str>,
) -> Vec<PlannedObject> {
    // A spec is loaded for its project's provider, so a KubeVirt plan has a KubeVirt part.
    let Some(spec) = plan.spec.kubevirt() else {
        return Vec::new();
    };
    let mut out = vec![secret(inst, namespace)];
    if let Some(ip) = &inst.static_ip {
        out.push(nad(plan, inst, ip, namespace));
    }
    out.push(data_volume(spec, inst, namespace));
    out.push(virtual_machine(spec, inst, namespace));
    out
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

/// (3) The root disk as a standalone DataVolume.
///
/// A standalone DataVolume rather than a `dataVolumeTemplates` entry in the VM because:
/// it is a separately visible and deletable object with its own ownership labels (so an
/// interrupted deploy that got as far as the disk is found and cleaned up by labels);
/// its import progress is visible before the VM exists; and it matches the design's
/// one-report-line-per-resource model (Secret, NAD, DataVolume, VirtualMachine).
fn data_volume(
    spec: &KubevirtSpec,
    inst: &DesiredInstance,
    namespace: Option<&str>,
) -> PlannedObject {
    let disk = &spec.disk;
    let name = disk_name(&inst.name);
    let source = match &disk.source {
        DiskSource::Registry(url) => json!({"registry": {"url": url.as_str()}}),
        DiskSource::Http(url) => json!({"http": {"url": url.as_str()}}),
        DiskSource::Pvc(p) => {
            json!({"pvc": {"namespace": p.namespace.as_str(), "name": p.name.as_str()}})
        }
    };
    let mut storage = Map::new();
    storage.insert(
        "resources".into(),
        json!({"requests": {"storage": disk.size.as_str()}}),
    );
    if let Some(class) = &disk.storage_class {
        storage.insert("storageClassName".into(), Value::String(class.0.clone()));
    }
    let body = json!({
        "apiVersion": DV_API_VERSION,
        "kind": KIND_DATA_VOLUME,
        "metadata": metadata(&name, namespace, &inst.labels),
        "spec": {"source": source, "storage": storage},
    });
    object(KIND_DATA_VOLUME, name, body)
}

/// (4) The VirtualMachine.
fn virtual_machine(
    spec: &KubevirtSpec,
    inst: &DesiredInstance,
    namespace: Option<&str>,
) -> PlannedObject {
    let name = inst.name.clone();
    let mut template_labels = inst.labels.clone();
    template_labels.insert(DOMAIN_LABEL.to_string(), name.clone());
    let (interfaces, networks) = network(inst);
    // serde_json keeps insertion order: the keys go in the order the manifest shows them.
    let mut tspec = Map::new();
    tspec.insert("domain".into(), domain(spec, interfaces));
    tspec.insert("hostname".into(), Value::String(name.clone()));
    tspec.insert("networks".into(), networks);
    tspec.insert("volumes".into(), volumes(inst));
    insert_placement(spec, &mut tspec);
    let body = json!({
        "apiVersion": VM_API_VERSION,
        "kind": KIND_VM,
        "metadata": metadata(&name, namespace, &inst.labels),
        "spec": {
            "runStrategy": spec.run_strategy.as_str(),
            "template": {
                "metadata": {"labels": labels_json(&template_labels)},
                "spec": tspec,
            },
        },
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

/// The VM template's `domain`: size, the two disks and the network `interfaces`.
fn domain(spec: &KubevirtSpec, interfaces: Value) -> Value {
    let mut domain = Map::new();
    domain.insert("cpu".into(), json!({"cores": spec.cpu.unwrap_or(1)}));
    // `memory.guest` alone: KubeVirt derives the pod's memory request from it.
    domain.insert("memory".into(), json!({"guest": spec.memory.as_str()}));
    domain.insert(
        "devices".into(),
        json!({
            "disks": [
                {"name": "rootdisk", "disk": {"bus": "virtio"}},
                {"name": "cloudinitdisk", "disk": {"bus": "virtio"}},
            ],
            "interfaces": interfaces,
        }),
    );
    Value::Object(domain)
}

/// The VM template's `volumes`: the DataVolume and the cloud-init Secret.
fn volumes(inst: &DesiredInstance) -> Value {
    // User data always goes through the Secret: KubeVirt caps inline cloud-init at 2048 bytes.
    let mut cloud_init = Map::new();
    cloud_init.insert("secretRef".into(), json!({"name": secret_name(&inst.name)}));
    if inst.network_data.is_some() {
        cloud_init.insert(
            "networkDataSecretRef".into(),
            json!({"name": secret_name(&inst.name)}),
        );
    }
    json!([
        {"name": "rootdisk", "dataVolume": {"name": disk_name(&inst.name)}},
        {"name": "cloudinitdisk", "cloudInitNoCloud": cloud_init},
    ])
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
        ]
    }

    #[test]
    fn every_manifest_validates_against_the_real_schemas() {
        for p in all_plans() {
            let objs = planned_objects(&p, &p.instances[0]);
            assert!(objs.len() >= 3);
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
