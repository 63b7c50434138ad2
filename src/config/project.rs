//! `projects/<name>.yaml`: where and how — provider, credentials, network, retry, notifications.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

pub(super) use super::kubevirt::KubevirtProject;
pub(super) use super::oci::OciProject;
use super::values::{CronExpr, Dur, Secret, Text, TimeZone};
pub(crate) use crate::model::ProviderKind;

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

/// A project file as written, read by serde (both providers' sections; checked later).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProjectFile {
    #[serde(default)]
    pub name: Text,
    pub provider: ProviderKind,
    #[serde(default)]
    pub sim: bool,
    #[serde(default)]
    pub kubevirt: Option<KubevirtProject>,
    #[serde(default)]
    pub oci: Option<OciProject>,
    #[serde(default)]
    pub network: NetworkFile,
    #[serde(default)]
    pub labels: BTreeMap<String, Text>,
    #[serde(default)]
    pub retry: Retry,
    #[serde(default)]
    pub notify: Notify,
    #[serde(default)]
    pub logs: Logs,
}

/// `network:` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NetworkFile {
    pub ipam: Option<IpamFile>,
    pub bridge: Option<Text>,
}

/// `network.ipam` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IpamFile {
    pub range: Text,
    pub gateway: Option<Text>,
    #[serde(default)]
    pub dns: Vec<Text>,
}

/// A loaded, checked project.
#[derive(Debug, Clone)]
pub(crate) struct Project {
    /// Project name; defaults to the file stem.
    pub name: Text,
    /// The backend and its connection settings.
    pub provider: ProviderConfig,
    /// Talk to the built-in simulator instead of a real backend.
    pub sim: bool,
    /// Static addressing; `None` for DHCP.
    pub ipam: Option<Ipam>,
    /// Extra labels (Kubernetes) / freeform tags (OCI) on every resource.
    pub labels: BTreeMap<String, Text>,
    /// Capacity-retry policy.
    pub retry: Retry,
    /// Notification receivers.
    pub notify: Notify,
    /// Daily log files.
    pub logs: Logs,
    /// The file this came from.
    pub file: PathBuf,
    /// Its text and field positions, kept so later checks can point at a line.
    pub source: Option<std::sync::Arc<super::Source>>,
}

/// The backend a project deploys to, with its own settings.
#[derive(Debug, Clone)]
pub(crate) enum ProviderConfig {
    /// KubeVirt / OpenShift Virtualization.
    Kubevirt(KubevirtProject),
    /// OCI Compute.
    Oci(OciProject),
}

impl ProviderConfig {
    /// Which backend.
    pub(crate) fn kind(&self) -> ProviderKind {
        match self {
            ProviderConfig::Kubevirt(_) => ProviderKind::Kubevirt,
            ProviderConfig::Oci(_) => ProviderKind::Oci,
        }
    }
}

impl Project {
    /// An OCI project that launches instances needs `oci.subnet`; the error points at the
    /// project file (a project whose specs only `select:` needs none).
    pub(crate) fn need_subnet(&self) -> Result<(), super::ConfigError> {
        let Some(oci) = self.oci() else {
            return Ok(());
        };
        if oci.subnet.as_ref().is_some_and(|s| !s.is_empty()) {
            return Ok(());
        }
        let message = "is required to launch instances on `oci`: a subnet display name or OCID";
        Err(match &self.source {
            Some(src) => src.error("oci.subnet", message),
            None => super::ConfigError {
                file: self.file.clone(),
                line: None,
                column: None,
                field: "oci.subnet".into(),
                message: message.into(),
            },
        })
    }

    /// Which backend.
    pub(crate) fn kind(&self) -> ProviderKind {
        self.provider.kind()
    }

    /// The `kubevirt:` settings, when this is a KubeVirt project.
    pub(crate) fn kubevirt(&self) -> Option<&KubevirtProject> {
        match &self.provider {
            ProviderConfig::Kubevirt(k) => Some(k),
            ProviderConfig::Oci(_) => None,
        }
    }

    /// The `oci:` settings, when this is an OCI project.
    pub(crate) fn oci(&self) -> Option<&OciProject> {
        match &self.provider {
            ProviderConfig::Oci(o) => Some(o),
            ProviderConfig::Kubevirt(_) => None,
        }
    }
}

/// `network.ipam`: static addresses from a range, parsed once.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ipam {
    /// The IPv4 network, e.g. `192.168.10.0/24` (no host bits).
    pub range: Ipv4Net,
    /// Default gateway inside the range.
    pub gateway: Option<Ipv4Addr>,
    /// DNS servers.
    pub dns: Vec<IpAddr>,
}

/// `retry:` section: the capacity-retry policy.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Retry {
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
pub(crate) struct Notify {
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
    /// Which notes are sent; the default keeps a `*/5` cron hunt from posting every run.
    pub events: Vec<NotifyEvent>,
}

/// One kind of note `notify.events` can select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NotifyEvent {
    /// A run started (sent once the run has something to do).
    RunStarted,
    /// Every `every_n_attempts` failed attempts of a capacity hunt.
    Attempts,
    /// An instance launched or is running; a start/stop is done.
    Success,
    /// A run failed for a reason retrying cannot fix (not a capacity miss).
    Failed,
    /// A scheduled action ran, was skipped or was missed.
    Scheduled,
    /// The daily report.
    DailyReport,
}

impl NotifyEvent {
    /// What is sent without `notify.events`.
    pub(crate) const DEFAULT: [NotifyEvent; 4] = [
        NotifyEvent::Success,
        NotifyEvent::Failed,
        NotifyEvent::Scheduled,
        NotifyEvent::DailyReport,
    ];

    /// The word used in `notify.events` and in the webhook's `event` field.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::RunStarted => "run_started",
            NotifyEvent::Attempts => "attempts",
            NotifyEvent::Success => "success",
            NotifyEvent::Failed => "failed",
            NotifyEvent::Scheduled => "scheduled",
            NotifyEvent::DailyReport => "daily_report",
        }
    }
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
            events: NotifyEvent::DEFAULT.to_vec(),
        }
    }
}

/// `notify.telegram`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Telegram {
    /// Bot token.
    pub token: Secret,
    /// Chat id.
    pub chat_id: Option<Text>,
}

/// `logs:` section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Logs {
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
