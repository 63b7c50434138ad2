//! Loading and checking projects, specs and templates (no network, no side effects).

mod env;
mod error;
mod names;
mod project;
mod source;
mod spec;
mod values;

use std::path::{Path, PathBuf};

pub use env::Env;
pub use error::{ConfigError, ConfigErrors};
pub use names::{
    dns_label_problem, instance_name, is_quantity, label_key_problem, label_value_problem,
};
pub use project::{
    Ipam, KubevirtProject, Logs, Network, Notify, OciProject, Project, ProviderKind, Retry,
    Telegram,
};
pub use source::Source;
pub use spec::{
    AdChoice, CloudInit, Disk, DiskSource, FallbackSize, Image, PlacementSpec, PvcRef, Schedule,
    Spec, Ssh,
};
pub use values::{CronExpr, Dur, Secret, Text, TimeZone, Value};

/// The configuration directory: `projects/`, `specs/`, `templates/`.
#[derive(Debug, Clone)]
pub struct ConfigDir {
    /// The directory itself.
    pub root: PathBuf,
    /// Variables for `${VAR}` (environment plus `.env`).
    pub env: Env,
}

impl ConfigDir {
    /// Opens `root`, reading its `.env` if present.
    pub fn open(root: &Path) -> Result<ConfigDir, ConfigError> {
        Ok(ConfigDir {
            root: root.to_path_buf(),
            env: Env::load(root)?,
        })
    }

    /// `templates/` under the root.
    pub fn templates(&self) -> PathBuf {
        self.root.join("templates")
    }

    /// Names (file stems) of every `*.yaml`/`*.yml` in `projects/` or `specs/`, sorted.
    pub fn names(&self, folder: &str) -> Vec<String> {
        let mut out: Vec<String> = yaml_files(&self.root.join(folder))
            .iter()
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The file of project or spec `name` in `folder`, or an error with "did you mean".
    pub fn find(&self, folder: &str, name: &str) -> Result<PathBuf, ConfigError> {
        let dir = self.root.join(folder);
        for ext in ["yaml", "yml"] {
            let p = dir.join(format!("{name}.{ext}"));
            if p.is_file() {
                return Ok(p);
            }
        }
        let what = folder.trim_end_matches('s');
        let known = self.names(folder);
        let mut msg = format!("unknown {what} `{name}`: no {folder}/{name}.yaml");
        if let Some(best) = did_you_mean(name, &known) {
            msg.push_str(&format!(" (did you mean `{best}`?)"));
        } else if known.is_empty() {
            msg.push_str(&format!(
                " and no {folder} at all in {}",
                self.root.display()
            ));
        } else {
            msg.push_str(&format!("; known: {}", known.join(", ")));
        }
        Err(ConfigError::file(&dir, msg))
    }

    /// Loads and checks project `name`.
    pub fn project(&self, name: &str) -> Result<Project, ConfigErrors> {
        let path = self.find("projects", name)?;
        self.load_project(&path)
    }

    /// Loads and checks the project file at `path`.
    pub fn load_project(&self, path: &Path) -> Result<Project, ConfigErrors> {
        let src = Source::read(path)?;
        let mut p: Project = src.parse(&self.env)?;
        p.file = path.to_path_buf();
        let stem = stem(path);
        let mut errs = Vec::new();
        if p.name.is_empty() {
            p.name = Text(stem.clone());
        } else if *p.name != stem {
            errs.push(src.error(
                "name",
                format!(
                    "`{}` does not match the file name: expected `{stem}`",
                    p.name
                ),
            ));
        }
        check_name(&src, "name", &p.name, &mut errs);
        check_project(&src, &p, &mut errs);
        if errs.is_empty() {
            p.source = Some(std::sync::Arc::new(src));
            Ok(p)
        } else {
            Err(ConfigErrors(errs))
        }
    }

    /// Loads spec `name` and checks it for `provider`.
    pub fn spec(&self, name: &str, provider: ProviderKind) -> Result<Spec, ConfigErrors> {
        let path = self.find("specs", name)?;
        self.load_spec(&path, Some(provider))
    }

    /// Loads the spec at `path`; with `provider`, fields of the other provider are errors.
    pub fn load_spec(
        &self,
        path: &Path,
        provider: Option<ProviderKind>,
    ) -> Result<Spec, ConfigErrors> {
        let src = Source::read(path)?;
        let mut s: Spec = src.parse(&self.env)?;
        s.file = path.to_path_buf();
        let stem = stem(path);
        let mut errs = Vec::new();
        if s.name.is_empty() {
            s.name = Text(stem.clone());
        } else if *s.name != stem {
            errs.push(src.error(
                "name",
                format!(
                    "`{}` does not match the file name: expected `{stem}`",
                    s.name
                ),
            ));
        }
        check_name(&src, "name", &s.name, &mut errs);
        let provider = match provider {
            Some(p) => Some(p),
            None => infer_provider(&src, &s, &mut errs),
        };
        check_spec(self, &src, &s, provider, &mut errs);
        if errs.is_empty() {
            s.source = Some(std::sync::Arc::new(src));
            Ok(s)
        } else {
            Err(ConfigErrors(errs))
        }
    }
}

/// Every `*.yaml` / `*.yml` file directly in `dir`, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The closest of `known` to `name`, if it is close enough to suggest.
pub fn did_you_mean<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    // Transpositions and one-letter slips (`wbe`, `lba`) count as close, as do shared prefixes.
    let allowed = (name.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(name, k),
                -strsim::jaro_winkler(name, k),
                k,
            )
        })
        .filter(|(d, jw, _)| *d <= allowed || -*jw > 0.85)
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .map(|(_, _, k)| k.as_str())
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Expands a leading `~/` to the home directory.
pub fn expand_tilde(p: &str) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    PathBuf::from(p)
}

fn check_name(src: &Source, field: &str, name: &str, errs: &mut Vec<ConfigError>) {
    // A name becomes part of instance names (`<name>-NN`) and label values.
    if let Some(p) = dns_label_problem(name) {
        errs.push(src.error(field, format!("`{name}` is not a valid name: it {p}")));
    } else if name.len() > 59 {
        errs.push(src.error(
            field,
            format!("`{name}` is too long: with `-NN` appended it must fit in 63 characters"),
        ));
    } else if crate::model::Action::parse(name).is_some() {
        errs.push(src.error(
            field,
            format!("`{name}` is an action word and cannot be a name"),
        ));
    }
}

fn check_url(src: &Source, field: &str, url: &str, errs: &mut Vec<ConfigError>) {
    match url.split_once("://") {
        Some(("http" | "https", rest)) if !rest.is_empty() && !rest.starts_with('/') => {}
        // Never echo the value: webhook URLs are secrets.
        _ => errs.push(src.error(field, "is not an http(s) URL: expected `https://host/path`")),
    }
}

fn check_project(src: &Source, p: &Project, errs: &mut Vec<ConfigError>) {
    let this = p.provider.as_str();
    match p.provider {
        ProviderKind::Kubevirt => {
            if p.oci.is_some() {
                errs.push(src.error(
                    "oci",
                    format!("applies to provider `oci`, but this project uses `{this}`"),
                ));
            }
        }
        ProviderKind::Oci => {
            if p.kubevirt.is_some() {
                errs.push(src.error(
                    "kubevirt",
                    format!("applies to provider `kubevirt`, but this project uses `{this}`"),
                ));
            }
            if p.network.bridge.is_some() {
                errs.push(src.error(
                    "network.bridge",
                    format!("applies to provider `kubevirt`, but this project uses `{this}`"),
                ));
            }
            match p.oci.as_ref().and_then(|o| o.subnet.as_ref()) {
                Some(s) if !s.is_empty() => {}
                _ => errs.push(src.error(
                    "oci.subnet",
                    "is required for provider `oci`: a subnet display name or OCID",
                )),
            }
            if let Some(ep) = p.oci.as_ref().and_then(|o| o.endpoint.as_ref()) {
                check_url(src, "oci.endpoint", ep, errs);
            }
        }
    }
    if let Some(ipam) = &p.network.ipam {
        check_ipam(src, ipam, errs);
        if p.provider == ProviderKind::Kubevirt && p.network.bridge.is_none() {
            errs.push(src.error(
                "network.bridge",
                "is required with `network.ipam` on kubevirt: the node bridge the static-IP network attaches to",
            ));
        }
    }
    for (k, v) in &p.labels {
        let field = format!("labels.{k}");
        if let Some(prob) = label_key_problem(k) {
            errs.push(src.error(&field, format!("`{k}` is not a valid label key: it {prob}")));
        } else if k.starts_with("v-auto/") {
            errs.push(src.error(
                &field,
                "keys under `v-auto/` are reserved for vauto's ownership labels",
            ));
        }
        if let Some(prob) = label_value_problem(v) {
            errs.push(src.error(
                &field,
                format!("`{v}` is not a valid label value: it {prob}"),
            ));
        }
    }
    let r = &p.retry;
    if r.interval.0 < std::time::Duration::from_secs(30) && !r.allow_fast {
        errs.push(src.error(
            "retry.interval",
            format!(
                "{} is under 30s: polling that often gets accounts throttled or banned (set `retry.allow_fast: true` to insist)",
                r.interval
            ),
        ));
    }
    if r.throttle_base > r.throttle_max {
        errs.push(src.error(
            "retry.throttle_base",
            "must not be larger than `retry.throttle_max`",
        ));
    }
    let n = &p.notify;
    for (field, url) in [
        ("notify.slack", &n.slack),
        ("notify.discord", &n.discord),
        ("notify.webhook", &n.webhook),
    ] {
        if let Some(u) = url {
            check_url(src, field, u.expose(), errs);
        }
    }
    if let Some(t) = &n.telegram {
        if t.token.expose().is_empty() {
            errs.push(src.error("notify.telegram.token", "is empty: expected the bot token"));
        }
        if t.chat_id.as_ref().is_none_or(|c| c.is_empty()) {
            errs.push(src.error(
                "notify.telegram.chat_id",
                "is required with a telegram token: the chat to send to",
            ));
        }
    }
    if n.every_n_attempts == 0 {
        errs.push(src.error("notify.every_n_attempts", "must be at least 1"));
    }
}

fn check_ipam(src: &Source, ipam: &Ipam, errs: &mut Vec<ConfigError>) {
    let net: ipnet::Ipv4Net = match ipam.range.parse() {
        Ok(n) => n,
        Err(_) => {
            errs.push(src.error(
                "network.ipam.range",
                format!(
                    "`{}` is not an IPv4 network: expected CIDR like `192.168.10.0/24`",
                    ipam.range
                ),
            ));
            return;
        }
    };
    if net.network() != net.addr() {
        errs.push(src.error(
            "network.ipam.range",
            format!(
                "`{}` has host bits set: did you mean `{}`?",
                ipam.range,
                net.trunc()
            ),
        ));
    }
    if let Some(gw) = &ipam.gateway {
        match gw.parse::<std::net::Ipv4Addr>() {
            Err(_) => errs.push(src.error(
                "network.ipam.gateway",
                format!("`{gw}` is not an IPv4 address"),
            )),
            Ok(a) if !net.contains(&a) => errs.push(src.error(
                "network.ipam.gateway",
                format!("`{a}` is outside `network.ipam.range` {net}"),
            )),
            Ok(a) if a == net.network() || a == net.broadcast() => errs.push(src.error(
                "network.ipam.gateway",
                format!("`{a}` is the network or broadcast address of {net}"),
            )),
            Ok(_) => {}
        }
    }
    for (i, d) in ipam.dns.iter().enumerate() {
        if d.parse::<std::net::IpAddr>().is_err() {
            errs.push(src.error(
                &format!("network.ipam.dns[{i}]"),
                format!("`{d}` is not an IP address"),
            ));
        }
    }
}

const KUBEVIRT_ONLY: &[&str] = &[
    "cpu",
    "memory",
    "disk",
    "placement.node_selector",
    "placement.affinity",
    "placement.tolerations",
];
const OCI_ONLY: &[&str] = &[
    "shape",
    "ocpus",
    "memory_gb",
    "boot_volume_gb",
    "image",
    "fallback",
    "placement.availability_domains",
    "placement.fault_domain",
];

/// A spec loaded without a project: its fields say which provider it is for.
fn infer_provider(src: &Source, _s: &Spec, errs: &mut Vec<ConfigError>) -> Option<ProviderKind> {
    let kv = KUBEVIRT_ONLY.iter().find(|f| src.has(f));
    let oci = OCI_ONLY.iter().find(|f| src.has(f));
    match (kv, oci) {
        (Some(k), Some(o)) => {
            errs.push(src.error(
                o,
                format!("mixes provider fields: `{k}` is for kubevirt, `{o}` is for oci"),
            ));
            None
        }
        (Some(_), None) => Some(ProviderKind::Kubevirt),
        (None, Some(_)) => Some(ProviderKind::Oci),
        (None, None) => None,
    }
}

fn check_spec(
    dir: &ConfigDir,
    src: &Source,
    s: &Spec,
    provider: Option<ProviderKind>,
    errs: &mut Vec<ConfigError>,
) {
    if s.replicas > 999 {
        errs.push(src.error(
            "replicas",
            format!("{} is too many: at most 999", s.replicas),
        ));
    }
    if let Some(prefix) = &s.name_prefix {
        check_name(src, "name_prefix", prefix, errs);
    }
    if let Some(p) = provider {
        let (foreign, other) = match p {
            ProviderKind::Kubevirt => (OCI_ONLY, "oci"),
            ProviderKind::Oci => (KUBEVIRT_ONLY, "kubevirt"),
        };
        for f in foreign {
            if src.has(f) {
                errs.push(src.error(
                    f,
                    format!(
                        "applies to provider `{other}`, but this spec is used with `{}`",
                        p.as_str()
                    ),
                ));
            }
        }
    }
    match provider {
        Some(ProviderKind::Kubevirt) => check_kubevirt_spec(src, s, errs),
        Some(ProviderKind::Oci) => check_oci_spec(src, s, errs),
        None => {}
    }
    if let Some(ci) = &s.cloud_init {
        let t = dir.templates().join(ci.template.as_str());
        if ci.template.starts_with('/') || ci.template.split('/').any(|c| c == "..") {
            errs.push(src.error(
                "cloud_init.template",
                "must be a relative path under templates/",
            ));
        } else if !t.is_file() {
            errs.push(src.error(
                "cloud_init.template",
                format!(
                    "template `{}` not found under {}",
                    ci.template,
                    dir.templates().display()
                ),
            ));
        }
    }
    for (i, sch) in s.schedules.iter().enumerate() {
        if sch.action == crate::model::Action::Deploy && s.hunt {
            let _ = i; // deploy schedules and hunts may coexist; the lock serialises them
        }
    }
}

fn check_kubevirt_spec(src: &Source, s: &Spec, errs: &mut Vec<ConfigError>) {
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

fn check_oci_spec(src: &Source, s: &Spec, errs: &mut Vec<ConfigError>) {
    let shape = match &s.shape {
        None => {
            errs.push(src.error("shape", "is required for oci: e.g. `VM.Standard.A1.Flex`"));
            String::new()
        }
        Some(sh) => sh.0.clone(),
    };
    let flex = shape.ends_with(".Flex");
    for (f, v) in [("ocpus", s.ocpus), ("memory_gb", s.memory_gb)] {
        match v {
            Some(x) if !(x > 0.0 && x.is_finite()) => {
                errs.push(src.error(f, "must be a positive number"))
            }
            None if flex => {
                errs.push(src.error(f, format!("is required for the flex shape `{shape}`")))
            }
            _ => {}
        }
    }
    if !s.fallback.is_empty() && !flex && !shape.is_empty() {
        errs.push(src.error(
            "fallback",
            format!("sizes only apply to flex shapes, not `{shape}`"),
        ));
    }
    for (i, fb) in s.fallback.iter().enumerate() {
        if !(fb.ocpus > 0.0 && fb.memory_gb > 0.0) {
            errs.push(src.error(
                &format!("fallback[{i}]"),
                "ocpus and memory_gb must be positive",
            ));
        }
    }
    if let Some(b) = s.boot_volume_gb
        && b < 50
    {
        errs.push(src.error(
            "boot_volume_gb",
            format!("{b} is below OCI's minimum boot volume of 50 GB"),
        ));
    }
    match &s.image {
        None => errs.push(src.error(
            "image",
            "is required for oci: `{id: ocid1.image...}` or `{os, os_version}`",
        )),
        Some(img) => match (&img.id, &img.os) {
            (Some(id), None) if img.os_version.is_none() && img.name_contains.is_empty() => {
                if !id.starts_with("ocid1.image.") {
                    errs.push(src.error(
                        "image.id",
                        format!("`{id}` is not an image OCID (`ocid1.image.…`)"),
                    ));
                }
            }
            (Some(_), _) => errs.push(src.error(
                "image",
                "give either `id` or a filter (`os`, `os_version`, `name_contains`), not both",
            )),
            (None, None) => errs.push(src.error(
                "image.os",
                "is required for an image filter, e.g. `Canonical Ubuntu`",
            )),
            (None, Some(_)) => {}
        },
    }
    if let Some(AdChoice::List(l)) = &s.placement.availability_domains
        && l.is_empty()
    {
        errs.push(src.error(
            "placement.availability_domains",
            "is empty: list at least one AD, or write `all`",
        ));
    }
}
