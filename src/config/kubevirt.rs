//! The KubeVirt part of the configuration: the project's `kubevirt:` section and the spec
//! fields that size and place a VirtualMachine, checked and typed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::names::{
    dns_label_problem, dns_subdomain_problem, is_quantity, label_key_problem, label_value_problem,
};
use super::spec::{Credentials, DataDisk, Disk, DiskSource, Import, SpecFile, TypeRef};
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

/// What a spec says of a KubeVirt VM: size, disks, placement.
#[derive(Debug, Clone)]
pub(crate) struct KubevirtSpec {
    /// How the VM is sized: cores and memory, or an instance type.
    pub size: Sizing,
    /// `preference:`: the VirtualMachine(Cluster)Preference, with its kind.
    pub preference: Option<KindRef>,
    /// The root disk.
    pub disk: Disk,
    /// Data disks, in the order the spec lists them.
    pub disks: Vec<DataDisk>,
    /// The PEM text of every distinct `ca_file` of the disks, joined: the `ca.crt` of the
    /// spec's ConfigMap; `None` when no import names a CA.
    pub ca_bundle: Option<String>,
    /// The user name and password of the imports' `credentials: {username, password}`
    /// (one pair per spec): the spec's credentials Secret.
    pub credentials: Option<(super::Secret, super::Secret)>,
    /// Node labels that must all match.
    pub node_selector: BTreeMap<String, Text>,
    /// Kubernetes affinity, passed through.
    pub affinity: Option<Value>,
    /// Kubernetes tolerations, passed through.
    pub tolerations: Vec<Value>,
    /// `spec.runStrategy` of the VM.
    pub run_strategy: RunStrategy,
}

/// How a VM is sized.
#[derive(Debug, Clone)]
pub(crate) enum Sizing {
    /// `cpu` (default 1) and `memory` in the VM's domain.
    Explicit {
        /// Virtual CPU cores.
        cpu: u32,
        /// Memory as a Kubernetes quantity (`4Gi`).
        memory: Text,
    },
    /// `instancetype:`: KubeVirt fills in cores and memory from it.
    Instancetype(KindRef),
}

/// An instance type or preference with its kind resolved (the cluster-wide kind by default,
/// as KubeVirt defaults `spec.instancetype.kind`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KindRef {
    /// `u1.medium`, `rhel.9`, ...
    pub name: String,
    /// `VirtualMachineClusterInstancetype`, `VirtualMachinePreference`, ...
    pub kind: &'static str,
}

/// The kinds `instancetype.kind` accepts: cluster-wide first (the default).
pub(crate) const INSTANCETYPE_KINDS: [&str; 2] = [
    "VirtualMachineClusterInstancetype",
    "VirtualMachineInstancetype",
];
/// The kinds `preference.kind` accepts: cluster-wide first (the default).
pub(crate) const PREFERENCE_KINDS: [&str; 2] = [
    "VirtualMachineClusterPreference",
    "VirtualMachinePreference",
];

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
        ("disks", !s.disks.is_empty()),
        ("instancetype", s.instancetype.is_some()),
        ("preference", s.preference.is_some()),
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
/// problems are in `errs`). `root` is the config directory `ca_file`s are relative to.
pub(super) fn spec(
    src: &Source,
    s: &SpecFile,
    root: &Path,
    errs: &mut Vec<ConfigError>,
) -> Option<KubevirtSpec> {
    let before = errs.len();
    check(src, s, errs);
    let imports = imports(s);
    let ca_bundle = ca_bundle(src, &imports, root, errs);
    let credentials = credentials(src, &imports, errs);
    let size = sizing(src, s, errs);
    let preference = s
        .preference
        .as_ref()
        .and_then(|p| kind_ref(src, "preference", p, &PREFERENCE_KINDS, errs));
    if errs.len() > before {
        return None;
    }
    Some(KubevirtSpec {
        size: size?,
        preference,
        disk: s.disk.clone()?,
        disks: s.disks.clone(),
        ca_bundle,
        credentials,
        node_selector: s.placement.node_selector.clone(),
        affinity: s.placement.affinity.clone(),
        tolerations: s.placement.tolerations.clone(),
        run_strategy: s.run_strategy.unwrap_or_default(),
    })
}

/// Every import of the spec's disks with its field path: `disk.source.registry`,
/// `disks[0].source.http`, ...
fn imports(s: &SpecFile) -> Vec<(String, &Import)> {
    let root = s.disk.as_ref().map(|d| ("disk".to_string(), &d.source));
    let data = s
        .disks
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.source.as_ref().map(|src| (format!("disks[{i}]"), src)));
    root.into_iter()
        .chain(data)
        .filter_map(|(at, source)| match source {
            DiskSource::Registry(i) => Some((format!("{at}.source.registry"), i)),
            DiskSource::Http(i) => Some((format!("{at}.source.http"), i)),
            _ => None,
        })
        .collect()
}

/// Reads every `ca_file`: it must exist and hold PEM certificates. The distinct files'
/// texts are joined into one bundle (CDI reads every certificate of the ConfigMap's key).
fn ca_bundle(
    src: &Source,
    imports: &[(String, &Import)],
    root: &Path,
    errs: &mut Vec<ConfigError>,
) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut bundle = String::new();
    for (at, import) in imports {
        let Some(file) = &import.ca_file else {
            continue;
        };
        let field = format!("{at}.ca_file");
        let mut path = super::expand_tilde(file);
        if path.is_relative() {
            path = root.join(path);
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                errs.push(src.error(
                    &field,
                    format!(
                        "cannot read `{}`: {e}; give the PEM file of the CA that signed the server's certificate (relative paths start at the config directory)",
                        path.display()
                    ),
                ));
                continue;
            }
        };
        if !text.contains("-----BEGIN CERTIFICATE-----") {
            errs.push(src.error(
                &field,
                format!(
                    "`{}` holds no PEM certificate (`-----BEGIN CERTIFICATE-----`): convert a DER file with `openssl x509 -inform der -in CA.der -out ca.crt`",
                    path.display()
                ),
            ));
            continue;
        }
        if !seen.contains(&text) {
            if !bundle.is_empty() && !bundle.ends_with('\n') {
                bundle.push('\n');
            }
            bundle.push_str(&text);
            seen.push(text);
        }
    }
    (!bundle.is_empty()).then_some(bundle)
}

/// Checks every `credentials:` and returns the one inline user name and password.
fn credentials(
    src: &Source,
    imports: &[(String, &Import)],
    errs: &mut Vec<ConfigError>,
) -> Option<(super::Secret, super::Secret)> {
    let mut inline: Option<&Credentials> = None;
    for (at, import) in imports {
        let Some(c) = &import.credentials else {
            continue;
        };
        let field = format!("{at}.credentials");
        match (&c.secret, &c.username, &c.password) {
            (Some(name), None, None) => {
                if let Some(p) = dns_subdomain_problem(name) {
                    errs.push(src.error(
                        &format!("{field}.secret"),
                        format!("`{name}` is not a Secret name: it {p}"),
                    ));
                }
            }
            (None, Some(u), Some(p)) if !u.expose().is_empty() && !p.expose().is_empty() => {
                match inline {
                    Some(first) if first != c => errs.push(src.error(
                        &field,
                        "differs from the credentials of another disk: a spec has one inline user name and password (its `<spec>-registry-credentials` Secret); name a Secret with `{secret: NAME}` for the others",
                    )),
                    _ => inline = Some(c),
                }
            }
            (None, Some(_), Some(_)) => errs.push(src.error(
                &field,
                "has an empty `username` or `password`: is the `${VAR}` they come from set?",
            )),
            _ => errs.push(src.error(
                &field,
                "must be `{secret: NAME}` (a Secret with keys `accessKeyId` and `secretKey`) or `{username: ${USER_VAR}, password: ${PASSWORD_VAR}}`",
            )),
        }
    }
    inline.and_then(|c| Some((c.username.clone()?, c.password.clone()?)))
}

/// `cpu`/`memory` or `instancetype`, never both.
fn sizing(src: &Source, s: &SpecFile, errs: &mut Vec<ConfigError>) -> Option<Sizing> {
    match (&s.instancetype, s.cpu.is_some(), &s.memory) {
        (Some(t), false, None) => {
            kind_ref(src, "instancetype", t, &INSTANCETYPE_KINDS, errs).map(Sizing::Instancetype)
        }
        (Some(_), cpu, memory) => {
            for (f, set) in [("cpu", cpu), ("memory", memory.is_some())] {
                if set {
                    errs.push(src.error(
                        f,
                        "cannot be set together with `instancetype`: the instance type sizes the VM (KubeVirt refuses a VM whose domain conflicts with it); remove one of them",
                    ));
                }
            }
            None
        }
        (None, _, None) => {
            errs.push(src.error(
                "memory",
                "is required for kubevirt: a quantity like `4Gi` (or size the VM with `instancetype: {name: u1.medium}`)",
            ));
            None
        }
        (None, _, Some(m)) => Some(Sizing::Explicit {
            cpu: s.cpu.unwrap_or(1),
            memory: m.clone(),
        }),
    }
}

/// Checks an `instancetype:` or `preference:` and resolves its kind.
fn kind_ref(
    src: &Source,
    field: &str,
    t: &TypeRef,
    kinds: &[&'static str; 2],
    errs: &mut Vec<ConfigError>,
) -> Option<KindRef> {
    let mut ok = true;
    if let Some(p) = dns_subdomain_problem(&t.name) {
        errs.push(src.error(
            &format!("{field}.name"),
            format!("`{}` is not a valid name: it {p}", t.name),
        ));
        ok = false;
    }
    let kind = match &t.kind {
        None => kinds[0],
        Some(k) => match kinds.iter().find(|x| **x == k.as_str()) {
            Some(x) => x,
            None => {
                errs.push(src.error(
                    &format!("{field}.kind"),
                    format!(
                        "`{k}` is not a {field} kind: expected `{}` (the default) or `{}`",
                        kinds[0], kinds[1]
                    ),
                ));
                return None;
            }
        },
    };
    ok.then(|| KindRef {
        name: t.name.0.clone(),
        kind,
    })
}

fn check(src: &Source, s: &SpecFile, errs: &mut Vec<ConfigError>) {
    if let Some(m) = &s.memory
        && !is_quantity(m)
    {
        errs.push(src.error(
            "memory",
            format!("`{m}` is not a Kubernetes quantity: expected something like `4Gi` or `512Mi`"),
        ));
    }
    if s.cpu == Some(0) {
        errs.push(src.error("cpu", "must be at least 1"));
    }
    match &s.disk {
        None => errs.push(src.error(
            "disk",
            "is required for kubevirt: size and source of the root disk",
        )),
        Some(d) => check_disk(src, "disk", &d.size, Some(&d.source), errs),
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, d) in s.disks.iter().enumerate() {
        let at = format!("disks[{i}]");
        check_disk(src, &at, &d.size, d.source.as_ref(), errs);
        let field = format!("{at}.name");
        if let Some(p) = dns_label_problem(&d.name) {
            errs.push(src.error(
                &field,
                format!("`{}` is not a valid disk name: it {p}", d.name),
            ));
        } else if RESERVED_DISKS.contains(&d.name.as_str()) {
            errs.push(src.error(
                &field,
                format!(
                    "`{}` is the name of a disk vauto attaches itself: pick another",
                    d.name
                ),
            ));
        } else if names.contains(&d.name.as_str()) {
            errs.push(src.error(
                &field,
                format!("`{}` names two disks: names must be unique", d.name),
            ));
        }
        names.push(&d.name);
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

/// Volume names vauto gives the root disk and the cloud-init disk.
const RESERVED_DISKS: [&str; 2] = ["rootdisk", "cloudinitdisk"];

/// Checks one disk's size and source; `at` is `disk` or `disks[N]`.
fn check_disk(
    src: &Source,
    at: &str,
    size: &str,
    source: Option<&DiskSource>,
    errs: &mut Vec<ConfigError>,
) {
    if !is_quantity(size) {
        errs.push(src.error(
            &format!("{at}.size"),
            format!("`{size}` is not a Kubernetes quantity: expected something like `30Gi`"),
        ));
    }
    let field = |f: &str| format!("{at}.source.{f}");
    match source {
        Some(DiskSource::Registry(i))
            if !(i.url.starts_with("docker://") || i.url.starts_with("oci-archive://")) =>
        {
            errs.push(src.error(
                &registry_url_field(at, i),
                format!(
                    "`{}` must start with `docker://` (e.g. `docker://registry.local/rhel9:9.4`)",
                    i.url
                ),
            ));
        }
        Some(DiskSource::Registry(_)) => {}
        Some(DiskSource::Http(i)) => {
            if !(i.url.starts_with("http://") || i.url.starts_with("https://")) {
                errs.push(src.error(
                    &http_url_field(at, i),
                    format!("`{}` is not an http(s) URL", i.url),
                ));
            }
            if i.pull_method.is_some() {
                errs.push(src.error(
                    &field("http.pull_method"),
                    "applies to registry imports only: an HTTP import is always made by CDI's importer pod",
                ));
            }
        }
        Some(DiskSource::Pvc(p)) => {
            for (f, v) in [("namespace", &p.namespace), ("name", &p.name)] {
                if let Some(prob) = dns_label_problem(v) {
                    errs.push(src.error(&field(&format!("pvc.{f}")), format!("`{v}` {prob}")));
                }
            }
        }
        Some(DiskSource::DataSource(d)) => {
            if let Some(p) = dns_subdomain_problem(&d.name) {
                errs.push(src.error(
                    &field("data_source.name"),
                    format!("`{}` is not a DataSource name: it {p}", d.name),
                ));
            }
            if let Some(ns) = &d.namespace
                && let Some(p) = dns_label_problem(ns)
            {
                errs.push(src.error(
                    &field("data_source.namespace"),
                    format!("`{ns}` is not a namespace name: it {p}"),
                ));
            }
        }
        None => {}
    }
}

/// Where a registry URL was written: the source itself (string form) or its `url` key.
fn registry_url_field(at: &str, i: &Import) -> String {
    url_field(at, "registry", i)
}

fn http_url_field(at: &str, i: &Import) -> String {
    url_field(at, "http", i)
}

fn url_field(at: &str, kind: &str, i: &Import) -> String {
    if i.ca_file.is_none() && i.credentials.is_none() && i.pull_method.is_none() {
        format!("{at}.source.{kind}")
    } else {
        format!("{at}.source.{kind}.url")
    }
}
