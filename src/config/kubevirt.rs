//! The KubeVirt part of the configuration: the project's `kubevirt:` section and the spec
//! fields that size and place a VirtualMachine, checked and typed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::names::{dns_label_problem, is_quantity, label_key_problem, label_value_problem};
use super::spec::{Disk, DiskSource, SpecFile};
use super::values::{Text, Value};
use super::{ConfigError, Source};

/// `kubevirt:` section of a project.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KubevirtProject {
    /// Path to the kubeconfig; default `$KUBECONFIG`, then `~/.kube/config`, then in-cluster.
    pub kubeconfig: Option<Text>,
    /// Context name; default the current context.
    pub context: Option<Text>,
    /// Namespace; default the context's namespace, else `default`.
    pub namespace: Option<Text>,
    /// `network.bridge`: the node bridge the static-IP network attaches to.
    #[serde(skip)]
    pub bridge: Option<Text>,
}

/// What a spec says of a KubeVirt VM: size, root disk, placement.
#[derive(Debug, Clone)]
pub(crate) struct KubevirtSpec {
    /// Virtual CPU cores.
    pub cpu: Option<u32>,
    /// Memory as a Kubernetes quantity (`4Gi`).
    pub memory: Text,
    /// The root disk.
    pub disk: Disk,
    /// Node labels that must all match.
    pub node_selector: BTreeMap<String, Text>,
    /// Kubernetes affinity, passed through.
    pub affinity: Option<Value>,
    /// Kubernetes tolerations, passed through.
    pub tolerations: Vec<Value>,
    /// `spec.runStrategy` of the VM.
    pub run_strategy: RunStrategy,
}

/// `run_strategy`: KubeVirt's `spec.runStrategy`, spelled as KubeVirt spells it
/// (kubevirt.io/user-guide "Run Strategies"; `Once` is left out: a VM that runs once and is
/// never started again is not something vauto deploys).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub(crate) enum RunStrategy {
    /// A VMI runs at all times; a stop sets `Halted`.
    #[default]
    Always,
    /// Created stopped; a start sets `Always`.
    Halted,
    /// Restarted when the guest fails, not when it shuts down; start/stop are requests.
    RerunOnFailure,
    /// Runs only when started; start/stop are requests and the strategy stays.
    Manual,
}

impl RunStrategy {
    /// The value of `spec.runStrategy`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RunStrategy::Always => "Always",
            RunStrategy::Halted => "Halted",
            RunStrategy::RerunOnFailure => "RerunOnFailure",
            RunStrategy::Manual => "Manual",
        }
    }

    /// Whether KubeVirt starts the VM when it is created (not `Halted` or `Manual`).
    pub(crate) fn starts_on_create(self) -> bool {
        matches!(self, RunStrategy::Always | RunStrategy::RerunOnFailure)
    }
}

/// The KubeVirt fields a spec file sets, by their names in the file.
pub(super) fn fields_set(s: &SpecFile) -> Vec<&'static str> {
    [
        ("cpu", s.cpu.is_some()),
        ("memory", s.memory.is_some()),
        ("disk", s.disk.is_some()),
        (
            "placement.node_selector",
            !s.placement.node_selector.is_empty(),
        ),
        ("placement.affinity", s.placement.affinity.is_some()),
        ("placement.tolerations", !s.placement.tolerations.is_empty()),
        ("run_strategy", s.run_strategy.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, set)| set.then_some(f))
    .chain(super::select::fields_set(
        s,
        crate::model::ProviderKind::Kubevirt,
    ))
    .collect()
}

/// Checks the KubeVirt fields of `s` and types them; `None` when something is wrong (the
/// problems are in `errs`).
pub(super) fn spec(
    src: &Source,
    s: &SpecFile,
    errs: &mut Vec<ConfigError>,
) -> Option<KubevirtSpec> {
    let before = errs.len();
    check(src, s, errs);
    if errs.len() > before {
        return None;
    }
    Some(KubevirtSpec {
        cpu: s.cpu,
        memory: s.memory.clone()?,
        disk: s.disk.clone()?,
        node_selector: s.placement.node_selector.clone(),
        affinity: s.placement.affinity.clone(),
        tolerations: s.placement.tolerations.clone(),
        run_strategy: s.run_strategy.unwrap_or_default(),
    })
}

fn check(src: &Source, s: &SpecFile, errs: &mut Vec<ConfigError>) {
    match &s.memory {
        None => errs.push(src.error("memory", "is required for kubevirt: a quantity like `4Gi`")),
        Some(m) if !is_quantity(m) => errs.push(src.error(
            "memory",
            format!("`{m}` is not a Kubernetes quantity: expected something like `4Gi` or `512Mi`"),
        )),
        _ => {}
    }
    if s.cpu == Some(0) {
        errs.push(src.error("cpu", "must be at least 1"));
    }
    match &s.disk {
        None => errs.push(src.error(
            "disk",
            "is required for kubevirt: size and source of the root disk",
        )),
        Some(d) => {
            if !is_quantity(&d.size) {
                errs.push(src.error(
                    "disk.size",
                    format!(
                        "`{}` is not a Kubernetes quantity: expected something like `30Gi`",
                        d.size
                    ),
                ));
            }
            match &d.source {
                DiskSource::Registry(u) if !(u.starts_with("docker://") || u.starts_with("oci-archive://")) => {
                    errs.push(src.error(
                        "disk.source.registry",
                        format!("`{u}` must start with `docker://` (e.g. `docker://registry.local/rhel9:9.4`)"),
                    ))
                }
                DiskSource::Http(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                    errs.push(src.error("disk.source.http", format!("`{u}` is not an http(s) URL")))
                }
                DiskSource::Pvc(p) => {
                    for (f, v) in [("namespace", &p.namespace), ("name", &p.name)] {
                        if let Some(prob) = dns_label_problem(v) {
                            errs.push(src.error(&format!("disk.source.pvc.{f}"), format!("`{v}` {prob}")));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    for (k, v) in &s.placement.node_selector {
        let field = format!("placement.node_selector.{k}");
        if let Some(p) = label_key_problem(k) {
            errs.push(src.error(&field, format!("`{k}` is not a valid label key: it {p}")));
        }
        if let Some(p) = label_value_problem(v) {
            errs.push(src.error(&field, format!("`{v}` is not a valid label value: it {p}")));
        }
    }
    if let Some(a) = &s.placement.affinity
        && !a.0.is_object()
    {
        errs.push(src.error(
            "placement.affinity",
            "must be a mapping (Kubernetes Affinity)",
        ));
    }
    for (i, t) in s.placement.tolerations.iter().enumerate() {
        if !t.0.is_object() {
            errs.push(src.error(
                &format!("placement.tolerations[{i}]"),
                "must be a mapping (Kubernetes Toleration)",
            ));
        }
    }
}
