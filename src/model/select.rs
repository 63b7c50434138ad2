//! `select:` specs: existing resources vauto did not create, picked for power actions,
//! status and schedules only.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The kinds of OCI resource a `select:` spec can pick (`select.kinds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SelectKind {
    /// A Compute instance.
    Instance,
    /// A Compute instance pool (its instances start and stop together).
    InstancePool,
    /// An Autonomous Database.
    AutonomousDatabase,
    /// A Container Instance.
    ContainerInstance,
}

impl SelectKind {
    /// Every kind, in the order `status` lists them.
    pub(crate) const ALL: [SelectKind; 4] = [
        SelectKind::Instance,
        SelectKind::InstancePool,
        SelectKind::AutonomousDatabase,
        SelectKind::ContainerInstance,
    ];

    /// The word in `select.kinds`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SelectKind::Instance => "instance",
            SelectKind::InstancePool => "instance_pool",
            SelectKind::AutonomousDatabase => "autonomous_database",
            SelectKind::ContainerInstance => "container_instance",
        }
    }

    /// The resource kind in report lines and status rows.
    pub(crate) fn report_kind(self) -> &'static str {
        match self {
            SelectKind::Instance => "Instance",
            SelectKind::InstancePool => "InstancePool",
            SelectKind::AutonomousDatabase => "AutonomousDatabase",
            SelectKind::ContainerInstance => "ContainerInstance",
        }
    }

    /// The kind a report kind names.
    pub(crate) fn of_report_kind(kind: &str) -> Option<SelectKind> {
        SelectKind::ALL
            .into_iter()
            .find(|k| k.report_kind() == kind)
    }

    /// The OCID prefix of this kind (`ocid1.instance.`), as OCI's documentation of each
    /// resource's OCID shows it.
    pub(crate) fn ocid_prefix(self) -> &'static str {
        match self {
            SelectKind::Instance => "ocid1.instance.",
            SelectKind::InstancePool => "ocid1.instancepool.",
            SelectKind::AutonomousDatabase => "ocid1.autonomousdatabase.",
            SelectKind::ContainerInstance => "ocid1.computecontainerinstance.",
        }
    }

    /// The kind whose OCIDs start like `id`, if any.
    pub(crate) fn of_ocid(id: &str) -> Option<SelectKind> {
        SelectKind::ALL
            .into_iter()
            .find(|k| id.starts_with(k.ocid_prefix()))
    }
}

impl std::fmt::Display for SelectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A checked `select:`: which existing resources a spec acts on. Every filter given must
/// match (ids, tags, labels); the compartment and kinds bound where OCI looks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Select {
    /// Exact OCIDs (OCI).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// Freeform tags (`key: value`) and defined tags (`Namespace.key: value`) that must all
    /// be set (OCI).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The compartment to look in (OCI); `None`: the project's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compartment: Option<String>,
    /// The kinds of resource to look at (OCI); never empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<SelectKind>,
    /// Labels a VirtualMachine must all carry (KubeVirt).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Select {
    /// The filter as people read it in messages: `tags env=dev, kinds instance`.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.ids.is_empty() {
            parts.push(format!("ids {}", self.ids.join(", ")));
        }
        let pairs = |m: &BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        if !self.tags.is_empty() {
            parts.push(format!("tags {}", pairs(&self.tags)));
        }
        if !self.labels.is_empty() {
            parts.push(format!("labels {}", pairs(&self.labels)));
        }
        if let Some(c) = &self.compartment {
            parts.push(format!("compartment {c}"));
        }
        if !self.kinds.is_empty() {
            let kinds: Vec<&str> = self.kinds.iter().map(|k| k.as_str()).collect();
            parts.push(format!("kinds {}", kinds.join(",")));
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_know_their_words_and_ocids() {
        for k in SelectKind::ALL {
            assert_eq!(SelectKind::of_report_kind(k.report_kind()), Some(k));
            assert_eq!(
                SelectKind::of_ocid(&format!("{}oc1..x", k.ocid_prefix())),
                Some(k)
            );
        }
        assert_eq!(SelectKind::of_ocid("ocid1.volume.oc1..x"), None);
        let s = Select {
            tags: [("env".to_string(), "dev".to_string())].into(),
            kinds: vec![SelectKind::Instance, SelectKind::AutonomousDatabase],
            ..Select::default()
        };
        assert_eq!(
            s.describe(),
            "tags env=dev; kinds instance,autonomous_database"
        );
    }
}
