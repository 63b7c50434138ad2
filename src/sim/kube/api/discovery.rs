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
    groups.push((SUBRESOURCES_GROUP, "v1"));
    groups.dedup();
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
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
        RESOURCES
            .iter()
            .filter(|r| r.group == group && r.version == version)
            .map(|r| {
                json!({"name": r.plural, "singularName": r.kind.to_lowercase(), "namespaced": true, "kind": r.kind,
                       "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update"]})
            })
            .collect()
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}
