//! Discovery documents: `/version`, `/api`, `/apis` and the per-group resource lists.

use serde_json::{Value, json};

use super::SUBRESOURCES_GROUP;
use crate::sim::kube::store::RESOURCES;

pub(super) fn version() -> Value {
    json!({
        "major": "1", "minor": "31", "gitVersion": "v1.31.0+vauto-sim",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2024-08-13T00:00:00Z", "goVersion": "go1.22.5", "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub(super) fn api_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
}

pub(super) fn api_groups() -> Value {
    let mut groups: Vec<(&str, &str)> = RESOURCES
        .iter()
        .filter(|r| !r.group.is_empty())
        .map(|r| (r.group, r.version))
        .collect();
    groups.extend(
        BUILTIN
            .iter()
            .filter(|b| !b.group.is_empty())
            .map(|b| (b.group, b.version)),
    );
    groups.push((SUBRESOURCES_GROUP, "v1"));
    let mut seen = Vec::new();
    groups.retain(|g| {
        let new = !seen.contains(g);
        seen.push(*g);
        new
    });
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// The names clients resolve to a resource: singular, short names, categories.
///
/// As the real CRDs declare them: KubeVirt's in
/// kubevirt/kubevirt `pkg/virt-operator/resource/generate/components/crds.go`
/// (`vm`/`vms`, `vmi`/`vmis`, category `all`), CDI's `datavolume_types.go`
/// kubebuilder markers (`dv`/`dvs`, category `all`), Multus' CRD
/// (`net-attach-def`), and the core API's short names (`ns`, `no`, `po`, `ev`;
/// `kubectl api-resources` on any cluster).
pub(super) fn names(
    plural: &str,
) -> (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
) {
    match plural {
        "virtualmachines" => ("virtualmachine", &["vm", "vms"], &["all"]),
        "virtualmachineinstances" => ("virtualmachineinstance", &["vmi", "vmis"], &["all"]),
        "datavolumes" => ("datavolume", &["dv", "dvs"], &["all"]),
        "network-attachment-definitions" => {
            ("network-attachment-definition", &["net-attach-def"], &[])
        }
        "secrets" => ("secret", &[], &[]),
        "configmaps" => ("configmap", &["cm"], &[]),
        "storageclasses" => ("storageclass", &["sc"], &[]),
        "datasources" => ("datasource", &["das"], &[]),
        "virtualmachineclusterinstancetypes" => (
            "virtualmachineclusterinstancetype",
            &[
                "vmcf",
                "vmcfs",
                "vmclusterinstancetype",
                "vmclusterinstancetypes",
            ],
            &[],
        ),
        "virtualmachineclusterpreferences" => (
            "virtualmachineclusterpreference",
            &["vmcp", "vmcps", "vmclusterpref", "vmclusterprefs"],
            &[],
        ),
        "virtualmachineinstancetypes" => (
            "virtualmachineinstancetype",
            &["vmf", "vmfs", "vminstancetype", "vminstancetypes"],
            &[],
        ),
        "virtualmachinepreferences" => (
            "virtualmachinepreference",
            &["vmpref", "vmprefs", "vmp", "vmps"],
            &[],
        ),
        "events" => ("event", &["ev"], &[]),
        "namespaces" => ("namespace", &["ns"], &[]),
        "nodes" => ("node", &["no"], &[]),
        "pods" => ("pod", &["po"], &["all"]),
        _ => ("", &[], &[]),
    }
}

/// A read-only resource served from the simulator's own state (not stored).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Builtin {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
}

impl Builtin {
    /// `v1` or `group/version`.
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

const fn builtin(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> Builtin {
    Builtin {
        group,
        version,
        plural,
        kind,
        namespaced,
    }
}

/// The group of KubeVirt's instance types and preferences.
const INSTANCETYPE_GROUP: &str = "instancetype.kubevirt.io";

/// The read-only resources: core Nodes and launcher Pods, and the cluster's catalogue
/// (`catalog`): storage classes, golden-image DataSources, instance types and preferences.
pub(crate) const BUILTIN: [Builtin; 8] = [
    builtin("", "v1", "nodes", "Node", false),
    builtin("", "v1", "pods", "Pod", true),
    builtin(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "StorageClass",
        false,
    ),
    builtin(
        "cdi.kubevirt.io",
        "v1beta1",
        "datasources",
        "DataSource",
        true,
    ),
    builtin(
        INSTANCETYPE_GROUP,
        "v1beta1",
        "virtualmachineclusterinstancetypes",
        "VirtualMachineClusterInstancetype",
        false,
    ),
    builtin(
        INSTANCETYPE_GROUP,
        "v1beta1",
        "virtualmachineclusterpreferences",
        "VirtualMachineClusterPreference",
        false,
    ),
    builtin(
        INSTANCETYPE_GROUP,
        "v1beta1",
        "virtualmachineinstancetypes",
        "VirtualMachineInstancetype",
        true,
    ),
    builtin(
        INSTANCETYPE_GROUP,
        "v1beta1",
        "virtualmachinepreferences",
        "VirtualMachinePreference",
        true,
    ),
];

/// The builtin resource named `plural`.
pub(crate) fn find_builtin(plural: &str) -> Option<&'static Builtin> {
    BUILTIN.iter().find(|b| b.plural == plural)
}

fn entry(plural: &str, kind: &str, namespaced: bool, verbs: &[&str]) -> Value {
    let (singular, short, categories) = names(plural);
    let mut r = json!({"name": plural, "singularName": singular, "namespaced": namespaced,
                       "kind": kind, "verbs": verbs});
    if let Some(m) = r.as_object_mut() {
        if !short.is_empty() {
            m.insert("shortNames".into(), json!(short));
        }
        if !categories.is_empty() {
            m.insert("categories".into(), json!(categories));
        }
    }
    r
}

pub(super) fn resource_list(group: &str, version: &str) -> Value {
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = if group == SUBRESOURCES_GROUP {
        ["start", "stop", "restart"]
            .iter()
            .map(|a| json!({"name": format!("virtualmachines/{a}"), "singularName": "", "namespaced": true, "kind": "VirtualMachine", "verbs": ["update"]}))
            .collect()
    } else {
        let mut list: Vec<Value> = RESOURCES
            .iter()
            .filter(|r| r.group == group && r.version == version)
            .map(|r| {
                entry(
                    r.plural,
                    r.kind,
                    true,
                    &[
                        "create",
                        "delete",
                        "deletecollection",
                        "get",
                        "list",
                        "patch",
                        "update",
                        "watch",
                    ],
                )
            })
            .collect();
        if group.is_empty() {
            // Namespaces are stored and writable (`kubectl create ns`); watch is not served.
            list.push(entry(
                "namespaces",
                "Namespace",
                false,
                &["create", "delete", "get", "list", "patch", "update"],
            ));
        }
        list.extend(
            BUILTIN
                .iter()
                .filter(|b| b.group == group && b.version == version)
                .map(|b| entry(b.plural, b.kind, b.namespaced, &["get", "list", "watch"])),
        );
        list
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}
