//! Loading and checking projects, specs and templates (no network, no side effects).

mod dotenv;
mod env;
mod error;
mod expand;
mod kubevirt;
mod names;
mod oci;
mod project;
mod select;
mod source;
mod spec;
mod values;

use std::path::{Path, PathBuf};

pub(crate) use env::Env;
pub(crate) use error::{ConfigError, ConfigErrors};
pub(crate) use kubevirt::{KindRef, KubevirtProject, KubevirtSpec, Sizing};
pub(crate) use names::{dns_label_problem, instance_name, label_key_problem, label_value_problem};
pub(crate) use oci::{OciAuth, OciProject, OciSpec};
pub(crate) use project::{Ipam, Notify, NotifyEvent, Project, ProviderConfig, ProviderKind, Retry};
pub(crate) use source::{ReadError, Source, read_limited};
pub(crate) use spec::{
    AdChoice, DiskLifecycle, DiskSource, Import, ProviderSpec, PullMethod, Spec,
};
pub(crate) use values::{CronExpr, Dur, Secret, Text};

use project::{IpamFile, ProjectFile};
use spec::SpecFile;

/// The most instances one spec may ask for (in the file or with `--replicas`).
pub(crate) const MAX_REPLICAS: u32 = 999;

/// The configuration directory: `projects/`, `specs/`, `templates/`.
#[derive(Debug, Clone)]
pub(crate) struct ConfigDir {
    /// The directory itself.
    pub root: PathBuf,
    /// Variables for `${VAR}` (environment plus `.env`).
    pub env: Env,
}

impl ConfigDir {
    /// Opens `root`, reading its `.env` if present.
    pub(crate) fn open(root: &Path) -> Result<ConfigDir, ConfigError> {
        Ok(ConfigDir {
            root: root.to_path_buf(),
            env: Env::load(root)?,
        })
    }

    /// `templates/` under the root.
    pub(crate) fn templates(&self) -> PathBuf {
        self.root.join("templates")
    }

    /// Names (file stems) of every `*.yaml`/`*.yml` in `projects/` or `specs/`, sorted.
    pub(crate) fn names(&self, folder: &str) -> Vec<String> {
        let mut out: Vec<String> = yaml_files(&self.root.join(folder))
            .iter()
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The file of project or spec `name` in `folder`, or an error with "did you mean".
    pub(crate) fn find(&self, folder: &str, name: &str) -> Result<PathBuf, ConfigError> {
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
    pub(crate) fn project(&self, name: &str) -> Result<Project, ConfigErrors> {
        let path = self.find("projects", name)?;
        self.load_project(&path)
    }

    /// Loads and checks the project file at `path`.
    pub(crate) fn load_project(&self, path: &Path) -> Result<Project, ConfigErrors> {
        self.project_from(Source::read(path)?)
    }

    /// Checks a project held in memory as if read from its path.
    pub(crate) fn project_from(&self, src: Source) -> Result<Project, ConfigErrors> {
        let path = src.path.clone();
        let path = path.as_path();
        let mut p: ProjectFile = src.parse(&self.env)?;
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
        let (provider, ipam) = check_project(&src, &p, &mut errs);
        if !errs.is_empty() {
            return Err(ConfigErrors(errs));
        }
        Ok(Project {
            name: p.name,
            provider,
            sim: p.sim,
            ipam,
            labels: p.labels,
            retry: p.retry,
            notify: p.notify,
            logs: p.logs,
            file: path.to_path_buf(),
            source: Some(std::sync::Arc::new(src)),
        })
    }

    /// Loads spec `name` and checks it for `provider`.
    pub(crate) fn spec(&self, name: &str, provider: ProviderKind) -> Result<Spec, ConfigErrors> {
        let path = self.find("specs", name)?;
        self.load_spec(&path, Some(provider))
    }

    /// Loads the spec at `path`; with `provider`, fields of the other provider are errors.
    pub(crate) fn load_spec(
        &self,
        path: &Path,
        provider: Option<ProviderKind>,
    ) -> Result<Spec, ConfigErrors> {
        self.spec_from(Source::read(path)?, provider)
    }

    /// Checks a spec held in memory as if read from its path.
    pub(crate) fn spec_from(
        &self,
        src: Source,
        provider: Option<ProviderKind>,
    ) -> Result<Spec, ConfigErrors> {
        let path = src.path.clone();
        let path = path.as_path();
        let mut s: SpecFile = src.parse(&self.env)?;
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
        let select = select::check(&src, &s, provider, &mut errs);
        let typed = match provider {
            // A select spec sizes and places nothing: it has no provider part.
            _ if s.select.is_some() => Some(ProviderSpec::Unbound),
            Some(ProviderKind::Kubevirt) => {
                kubevirt::spec(&src, &s, &self.root, &mut errs).map(ProviderSpec::Kubevirt)
            }
            Some(ProviderKind::Oci) => oci::spec(&src, &s, &mut errs).map(ProviderSpec::Oci),
            None => Some(ProviderSpec::Unbound),
        };
        let replicas = replicas_of(&s);
        match typed {
            Some(provider) if errs.is_empty() => Ok(Spec {
                name: s.name,
                replicas,
                names: s.names.iter().map(|n| n.0.clone()).collect(),
                name_prefix: s.name_prefix,
                provider,
                cloud_init: s.cloud_init,
                ssh: s.ssh,
                schedules: s.schedules,
                hunt: s.hunt,
                select,
                file: path.to_path_buf(),
                source: Some(std::sync::Arc::new(src)),
            }),
            _ => Err(ConfigErrors(errs)),
        }
    }
}

/// Every `*.yaml` / `*.yml` file directly in `dir`, sorted.
pub(crate) fn yaml_files(dir: &Path) -> Vec<PathBuf> {
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
pub(crate) fn did_you_mean<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
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
pub(crate) fn expand_tilde(p: &str) -> PathBuf {
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

/// Checks a project file; returns its provider's settings and its addressing, typed.
fn check_project(
    src: &Source,
    p: &ProjectFile,
    errs: &mut Vec<ConfigError>,
) -> (ProviderConfig, Option<Ipam>) {
    let this = p.provider.as_str();
    let foreign = |field: &str, other: &str| {
        src.error(
            field,
            format!("applies to provider `{other}`, but this project uses `{this}`"),
        )
    };
    let provider = match p.provider {
        ProviderKind::Kubevirt => {
            if p.oci.is_some() {
                errs.push(foreign("oci", "oci"));
            }
            ProviderConfig::Kubevirt(KubevirtProject {
                bridge: p.network.bridge.clone(),
                ..p.kubevirt.clone().unwrap_or_default()
            })
        }
        ProviderKind::Oci => {
            if p.kubevirt.is_some() {
                errs.push(foreign("kubevirt", "kubevirt"));
            }
            if p.network.bridge.is_some() {
                errs.push(foreign("network.bridge", "kubevirt"));
            }
            // `oci.subnet` is checked when something is launched (`Project::need_subnet`): a
            // project whose specs only select existing resources needs none.
            if let Some(ep) = p.oci.as_ref().and_then(|o| o.endpoint.as_ref()) {
                check_url(src, "oci.endpoint", ep, errs);
            }
            ProviderConfig::Oci(p.oci.clone().unwrap_or_default())
        }
    };
    let mut ipam = None;
    if let Some(file) = &p.network.ipam {
        ipam = check_ipam(src, file, errs);
        if p.provider == ProviderKind::Kubevirt && p.network.bridge.is_none() {
            errs.push(src.error(
                "network.bridge",
                "is required with `network.ipam` on kubevirt: the node bridge the static-IP network attaches to",
            ));
        }
    }
    check_common(src, p, errs);
    (provider, ipam)
}

/// Labels, retry and notify: the same for every provider.
fn check_common(src: &Source, p: &ProjectFile, errs: &mut Vec<ConfigError>) {
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
    if n.events.is_empty()
        && (n.slack.is_some() || n.discord.is_some() || n.webhook.is_some() || n.telegram.is_some())
    {
        errs.push(src.error(
            "notify.events",
            "is empty: no note would ever be sent (remove the receivers, or list events)",
        ));
    }
}

/// Checks `network.ipam` and parses it once into addresses.
fn check_ipam(src: &Source, ipam: &IpamFile, errs: &mut Vec<ConfigError>) -> Option<Ipam> {
    let before = errs.len();
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
            return None;
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
    let mut gateway = None;
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
            Ok(a) => gateway = Some(a),
        }
    }
    let mut dns = Vec::new();
    for (i, d) in ipam.dns.iter().enumerate() {
        match d.parse::<std::net::IpAddr>() {
            Ok(a) => dns.push(a),
            Err(_) => errs.push(src.error(
                &format!("network.ipam.dns[{i}]"),
                format!("`{d}` is not an IP address"),
            )),
        }
    }
    (errs.len() == before).then_some(Ipam {
        range: net,
        gateway,
        dns,
    })
}

/// A spec loaded without a project: its fields say which provider it is for.
fn infer_provider(src: &Source, s: &SpecFile, errs: &mut Vec<ConfigError>) -> Option<ProviderKind> {
    let kv = kubevirt::fields_set(s).first().copied();
    let oci = oci::fields_set(s).first().copied();
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

/// `replicas`, or as many as `names` lists, or 1.
fn replicas_of(s: &SpecFile) -> u32 {
    s.replicas
        .unwrap_or_else(|| u32::try_from(s.names.len()).unwrap_or(u32::MAX).max(1))
}

/// `names:` holds one valid, distinct name per replica, and replaces `name_prefix`.
fn check_names(src: &Source, s: &SpecFile, errs: &mut Vec<ConfigError>) {
    if s.names.is_empty() {
        return;
    }
    if s.name_prefix.is_some() {
        errs.push(src.error(
            "names",
            "`names` and `name_prefix` both name the instances: keep one",
        ));
    }
    let replicas = replicas_of(s);
    if s.names.len() != replicas as usize {
        errs.push(src.error(
            "names",
            format!(
                "lists {} names but `replicas` is {replicas}: give one name per replica (or drop `replicas`)",
                s.names.len()
            ),
        ));
    }
    for (i, n) in s.names.iter().enumerate() {
        let field = format!("names[{i}]");
        if let Some(p) = dns_label_problem(n) {
            errs.push(src.error(&field, format!("`{n}` is not a valid name: it {p}")));
        } else if s.names[..i].contains(n) {
            errs.push(src.error(
                &field,
                format!("`{n}` is listed twice: each instance needs its own name"),
            ));
        }
    }
}

fn check_spec(
    dir: &ConfigDir,
    src: &Source,
    s: &SpecFile,
    provider: Option<ProviderKind>,
    errs: &mut Vec<ConfigError>,
) {
    if replicas_of(s) > MAX_REPLICAS {
        errs.push(src.error(
            "replicas",
            format!("{} is too many: at most {MAX_REPLICAS}", replicas_of(s)),
        ));
    }
    check_names(src, s, errs);
    if let Some(prefix) = &s.name_prefix {
        check_name(src, "name_prefix", prefix, errs);
    }
    if let Some(p) = provider {
        let (foreign, other) = match p {
            ProviderKind::Kubevirt => (oci::fields_set(s), "oci"),
            ProviderKind::Oci => (kubevirt::fields_set(s), "kubevirt"),
        };
        for f in foreign {
            errs.push(src.error(
                f,
                format!(
                    "applies to provider `{other}`, but this spec is used with `{}`",
                    p.as_str()
                ),
            ));
        }
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
}

#[cfg(test)]
pub(crate) mod testing;
