//! `projects/<name>.yaml`: where and how — provider, credentials, network, retry, notifications.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::values::{CronExpr, Dur, Secret, Text, TimeZone};
pub use crate::model::ProviderKind;

// The backend's name is part of the shared vocabulary; reading it from YAML is config's job.
impl<'de> Deserialize<'de> for ProviderKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = Text::deserialize(d)?;
        match t.as_str() {
            "kubevirt" => Ok(ProviderKind::Kubevirt),
            "oci" => Ok(ProviderKind::Oci),
            other => Err(serde::de::Error::custom(format!(
                "unknown provider `{other}`: expected `kubevirt` or `oci`"
            ))),
        }
    }
}

/// A loaded project file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Project name; defaults to the file stem.
    #[serde(default)]
    pub name: Text,
    /// The backend.
    pub provider: ProviderKind,
    /// Talk to the built-in simulator instead of a real backend.
    #[serde(default)]
    pub sim: bool,
    /// KubeVirt connection settings.
    #[serde(default)]
    pub kubevirt: Option<KubevirtProject>,
    /// OCI connection settings.
    #[serde(default)]
    pub oci: Option<OciProject>,
    /// Addressing and bridging.
    #[serde(default)]
    pub network: Network,
    /// Extra labels (Kubernetes) / freeform tags (OCI) on every resource.
    #[serde(default)]
    pub labels: BTreeMap<String, Text>,
    /// Capacity-retry policy.
    #[serde(default)]
    pub retry: Retry,
    /// Notification receivers.
    #[serde(default)]
    pub notify: Notify,
    /// Daily log files.
    #[serde(default)]
    pub logs: Logs,
    /// The file this came from.
    #[serde(skip)]
    pub file: PathBuf,
    /// Its text and field positions, kept so later checks can point at a line.
    #[serde(skip)]
    pub source: Option<std::sync::Arc<super::Source>>,
}

/// `kubevirt:` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KubevirtProject {
    /// Path to the kubeconfig; default `$KUBECONFIG`, then `~/.kube/config`, then in-cluster.
    pub kubeconfig: Option<Text>,
    /// Context name; default the current context.
    pub context: Option<Text>,
    /// Namespace; default the context's namespace, else `default`.
    pub namespace: Option<Text>,
}

/// `oci:` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OciProject {
    /// Path to the OCI config file; default `~/.oci/config`.
    pub config_file: Option<Text>,
    /// Profile in the config file; default `DEFAULT`.
    pub profile: Option<Text>,
    /// Region; default the profile's region.
    pub region: Option<Text>,
    /// Compartment OCID; default the tenancy.
    pub compartment: Option<Text>,
    /// Subnet display name or OCID (required).
    pub subnet: Option<Text>,
    /// One base URL for every OCI service (proxies, tests).
    pub endpoint: Option<Text>,
}

/// `network:` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Static addressing; omit for DHCP.
    pub ipam: Option<Ipam>,
    /// KubeVirt: the node bridge the NetworkAttachmentDefinition attaches to.
    pub bridge: Option<Text>,
}

/// `network.ipam`: static addresses from a range.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Ipam {
    /// The IPv4 network, e.g. `192.168.10.0/24`.
    pub range: Text,
    /// Default gateway inside the range.
    pub gateway: Option<Text>,
    /// DNS servers.
    #[serde(default)]
    pub dns: Vec<Text>,
}

impl Ipam {
    /// The parsed range (validated at load time).
    pub fn network(&self) -> Option<ipnet::Ipv4Net> {
        self.range.parse().ok()
    }

    /// The parsed gateway (validated at load time).
    pub fn gateway_addr(&self) -> Option<Ipv4Addr> {
        self.gateway.as_ref().and_then(|g| g.parse().ok())
    }
}

/// `retry:` section: the capacity-retry policy.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retry {
    /// Wait between full rounds of capacity attempts.
    pub interval: Dur,
    /// Launch attempts before giving up; 0 = forever.
    pub max_attempts: u64,
    /// First wait after a 429.
    pub throttle_base: Dur,
    /// Longest wait after repeated 429s.
    pub throttle_max: Dur,
    /// Random extra wait, up to this much, added to throttle waits.
    pub jitter: Dur,
    /// Permit an `interval` under 30s.
    pub allow_fast: bool,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            interval: Dur::secs(60),
            max_attempts: 0,
            throttle_base: Dur::secs(900),
            throttle_max: Dur::secs(3600),
            jitter: Dur::secs(120),
            allow_fast: false,
        }
    }
}

/// `notify:` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Notify {
    /// Slack incoming-webhook URL.
    pub slack: Option<Secret>,
    /// Discord webhook URL.
    pub discord: Option<Secret>,
    /// Generic JSON webhook URL.
    pub webhook: Option<Secret>,
    /// Telegram bot.
    pub telegram: Option<Telegram>,
    /// Notify every N attempts of a capacity hunt.
    pub every_n_attempts: u64,
    /// When to send the daily report (cron).
    pub daily_report: Option<CronExpr>,
    /// Time zone for schedules and the daily report.
    pub timezone: Option<TimeZone>,
}

impl Default for Notify {
    fn default() -> Self {
        Notify {
            slack: None,
            discord: None,
            webhook: None,
            telegram: None,
            every_n_attempts: 10,
            daily_report: None,
            timezone: None,
        }
    }
}

/// `notify.telegram`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Telegram {
    /// Bot token.
    pub token: Secret,
    /// Chat id.
    pub chat_id: Option<Text>,
}

/// `logs:` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logs {
    /// Directory for `YYYY-MM-DD.log` files, relative to the config directory.
    pub dir: Text,
    /// Days to keep old log files.
    pub keep_days: u32,
}

impl Default for Logs {
    fn default() -> Self {
        Logs {
            dir: Text("logs".into()),
            keep_days: 30,
        }
    }
}
