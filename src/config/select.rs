//! `select:` in a spec: existing resources to start, stop and report, checked and typed.
//!
//! A select spec describes no instance: every field that would create one is an error at its
//! line, and its schedules may only start and stop.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::spec::SpecFile;
use super::values::Text;
use super::{ConfigError, Source, label_key_problem, label_value_problem};
use crate::model::{Action, ProviderKind, Select, SelectKind};

/// `select:` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SelectFile {
    /// OCI: exact OCIDs.
    #[serde(default)]
    pub ids: Vec<Text>,
    /// OCI: freeform (`key: value`) and defined (`Namespace.key: value`) tags.
    #[serde(default)]
    pub tags: BTreeMap<String, Text>,
    /// OCI: the compartment to look in; default the project's.
    pub compartment: Option<Text>,
    /// OCI: the kinds to look at; default `[instance]`.
    pub kinds: Option<Vec<SelectKind>>,
    /// KubeVirt: labels every selected VirtualMachine carries.
    #[serde(default)]
    pub labels: BTreeMap<String, Text>,
}

/// The `select` fields of each provider that a spec file sets, by their names in the file.
pub(super) fn fields_set(s: &SpecFile, provider: ProviderKind) -> Vec<&'static str> {
    let Some(sel) = &s.select else {
        return Vec::new();
    };
    let fields: &[(&'static str, bool)] = match provider {
        ProviderKind::Oci => &[
            ("select.ids", !sel.ids.is_empty()),
            ("select.tags", !sel.tags.is_empty()),
            ("select.compartment", sel.compartment.is_some()),
            ("select.kinds", sel.kinds.is_some()),
        ],
        ProviderKind::Kubevirt => &[("select.labels", !sel.labels.is_empty())],
    };
    fields
        .iter()
        .filter_map(|(f, set)| set.then_some(*f))
        .collect()
}

/// The spec fields that describe instances to create, with whether `s` sets each.
fn instance_fields(s: &SpecFile) -> [(&'static str, bool); 19] {
    [
        ("replicas", s.replicas.is_some()),
        ("name_prefix", s.name_prefix.is_some()),
        ("names", !s.names.is_empty()),
        ("cpu", s.cpu.is_some()),
        ("memory", s.memory.is_some()),
        ("disk", s.disk.is_some()),
        ("run_strategy", s.run_strategy.is_some()),
        ("shape", s.shape.is_some()),
        ("ocpus", s.ocpus.is_some()),
        ("memory_gb", s.memory_gb.is_some()),
        ("boot_volume_gb", s.boot_volume_gb.is_some()),
        ("image", s.image.is_some()),
        ("fallback", !s.fallback.is_empty()),
        (
            "placement",
            s.placement.availability_domains.is_some()
                || s.placement.fault_domain.is_some()
                || !s.placement.node_selector.is_empty()
                || s.placement.affinity.is_some()
                || !s.placement.tolerations.is_empty(),
        ),
        ("cloud_init", s.cloud_init.is_some()),
        ("ssh.authorized_keys", !s.ssh.authorized_keys.is_empty()),
        ("ssh.generate", s.ssh.generate.is_some()),
        ("ssh.user", s.ssh.user.is_some()),
        ("hunt", s.hunt),
    ]
}

/// Checks `select:` of `s` for `provider` (when known) and types it; `None` when the spec
/// has no `select:` or something is wrong (the problems are in `errs`).
pub(super) fn check(
    src: &Source,
    s: &SpecFile,
    provider: Option<ProviderKind>,
    errs: &mut Vec<ConfigError>,
) -> Option<Select> {
    let sel = s.select.as_ref()?;
    let before = errs.len();
    for (field, set) in instance_fields(s) {
        if set {
            errs.push(src.error(
                field,
                "describes instances to create, but this spec has `select:`: it acts on existing resources only (start, stop, status); remove one of the two",
            ));
        }
    }
    for (i, sch) in s.schedules.iter().enumerate() {
        if !matches!(sch.action, Action::Start | Action::Stop) {
            errs.push(src.error(
                &format!("schedules[{i}].action"),
                format!(
                    "`{}` cannot run on a `select:` spec: vauto only starts and stops what it selects (use `start` or `stop`)",
                    sch.action
                ),
            ));
        }
    }
    let oci_set = !fields_set(s, ProviderKind::Oci).is_empty();
    let kv_set = !fields_set(s, ProviderKind::Kubevirt).is_empty();
    if !oci_set && !kv_set {
        errs.push(src.error(
            "select",
            "selects nothing: give `ids`, `tags` or `compartment` (OCI) or `labels` (KubeVirt)",
        ));
    }
    let oci = provider == Some(ProviderKind::Oci) || (provider.is_none() && oci_set);
    if oci {
        check_oci(src, sel, errs);
    }
    let kubevirt = provider == Some(ProviderKind::Kubevirt) || (provider.is_none() && kv_set);
    // OCI filters in a KubeVirt spec are named one by one by the foreign-field check.
    if kubevirt && (kv_set || !oci_set) {
        check_labels(src, sel, errs);
    }
    if errs.len() > before {
        return None;
    }
    let text = |m: &BTreeMap<String, Text>| {
        m.iter()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    Some(Select {
        ids: sel.ids.iter().map(|i| i.0.clone()).collect(),
        tags: text(&sel.tags),
        compartment: sel.compartment.as_ref().map(|c| c.0.clone()),
        kinds: if oci {
            sel.kinds
                .clone()
                .unwrap_or_else(|| vec![SelectKind::Instance])
        } else {
            Vec::new()
        },
        labels: text(&sel.labels),
    })
}

fn check_oci(src: &Source, sel: &SelectFile, errs: &mut Vec<ConfigError>) {
    let kinds = sel
        .kinds
        .clone()
        .unwrap_or_else(|| vec![SelectKind::Instance]);
    if kinds.is_empty() {
        let all: Vec<&str> = SelectKind::ALL.iter().map(|k| k.as_str()).collect();
        errs.push(src.error(
            "select.kinds",
            format!("is empty: list at least one of {}", all.join(", ")),
        ));
    }
    for (i, k) in kinds.iter().enumerate() {
        if kinds[..i].contains(k) {
            errs.push(src.error(
                &format!("select.kinds[{i}]"),
                format!("`{k}` is listed twice"),
            ));
        }
    }
    for (i, id) in sel.ids.iter().enumerate() {
        let field = format!("select.ids[{i}]");
        match SelectKind::of_ocid(id) {
            None => errs.push(src.error(
                &field,
                format!(
                    "`{id}` is not the OCID of an instance, instance pool, autonomous database or container instance"
                ),
            )),
            Some(k) if !kinds.contains(&k) => errs.push(src.error(
                &field,
                format!("`{id}` is the OCID of {}, but `select.kinds` does not list `{k}`: add it", match k {
                    SelectKind::Instance => "an instance",
                    SelectKind::InstancePool => "an instance pool",
                    SelectKind::AutonomousDatabase => "an autonomous database",
                    SelectKind::ContainerInstance => "a container instance",
                }),
            )),
            Some(_) if sel.ids[..i].contains(id) => {
                errs.push(src.error(&field, format!("`{id}` is listed twice")))
            }
            Some(_) => {}
        }
    }
    for (k, v) in &sel.tags {
        let field = format!("select.tags.{k}");
        if k.is_empty() || k.len() > 100 || k.chars().any(|c| c.is_whitespace()) {
            errs.push(src.error(
                &field,
                format!("`{k}` is not a tag key: 1 to 100 characters, no spaces"),
            ));
        } else if k.matches('.').count() > 1 {
            errs.push(src.error(
                &field,
                format!("`{k}` has more than one `.`: a defined tag is `Namespace.key`"),
            ));
        }
        if v.len() > 256 {
            errs.push(src.error(
                &field,
                "is longer than OCI's 256 characters for a tag value",
            ));
        }
    }
    if let Some(c) = &sel.compartment
        && !(c.starts_with("ocid1.compartment.") || c.starts_with("ocid1.tenancy."))
    {
        errs.push(src.error(
            "select.compartment",
            format!("`{c}` is not a compartment OCID (`ocid1.compartment.…`, or `ocid1.tenancy.…` for the root)"),
        ));
    }
}

/// Label keys and values as Kubernetes accepts them in a label selector.
fn check_labels(src: &Source, sel: &SelectFile, errs: &mut Vec<ConfigError>) {
    if sel.labels.is_empty() {
        errs.push(src.error(
            "select.labels",
            "is required for kubevirt: the labels every selected VirtualMachine carries, e.g. `{env: dev}`",
        ));
    }
    for (k, v) in &sel.labels {
        let field = format!("select.labels.{k}");
        if let Some(p) = label_key_problem(k) {
            errs.push(src.error(&field, format!("`{k}` is not a label key: it {p}")));
        }
        if let Some(p) = label_value_problem(v) {
            errs.push(src.error(&field, format!("`{v}` is not a label value: it {p}")));
        }
    }
}
