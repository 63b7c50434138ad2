//! `specs/<name>.yaml`: what an instance looks like, how many, where, and when.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

pub(super) use super::kubevirt::KubevirtSpec;
pub(super) use super::oci::OciSpec;
use super::values::{CronExpr, Text, TimeZone, Value};
use crate::model::Action;

/// A spec file as written: both providers' fields side by side, read by serde and checked
/// for the provider of the project it is used with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SpecFile {
    #[serde(default)]
    pub name: Text,
    /// Defaults to the number of `names`, else 1.
    pub replicas: Option<u32>,
    pub name_prefix: Option<Text>,
    /// Exact instance names, one per replica, instead of `<name_prefix>-NN`.
    #[serde(default)]
    pub names: Vec<Text>,
    pub cpu: Option<u32>,
    pub memory: Option<Text>,
    pub disk: Option<Disk>,
    pub run_strategy: Option<super::kubevirt::RunStrategy>,
    pub shape: Option<Text>,
    pub ocpus: Option<f64>,
    pub memory_gb: Option<f64>,
    pub boot_volume_gb: Option<u32>,
    pub image: Option<Image>,
    #[serde(default)]
    pub fallback: Vec<FallbackSize>,
    #[serde(default)]
    pub placement: PlacementSpec,
    pub cloud_init: Option<CloudInit>,
    #[serde(default)]
    pub ssh: Ssh,
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    #[serde(default)]
    pub hunt: bool,
    /// Existing resources to act on instead of instances to create.
    pub select: Option<super::select::SelectFile>,
}

/// A loaded, checked spec: what every provider reads, and the provider's own part.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// Spec name; defaults to the file stem.
    pub name: Text,
    /// How many instances.
    pub replicas: u32,
    /// Instance names are `<name_prefix>-NN`; default the spec name.
    pub name_prefix: Option<Text>,
    /// Exact instance names (`names:`), one per replica; empty: `<name_prefix>-NN`.
    pub names: Vec<String>,
    /// The provider's part: size, image or disk, placement.
    pub provider: ProviderSpec,
    /// Cloud-init template and its variables.
    pub cloud_init: Option<CloudInit>,
    /// SSH keys.
    pub ssh: Ssh,
    /// Scheduled actions run by `vauto daemon`.
    pub schedules: Vec<Schedule>,
    /// `vauto daemon` keeps deploying until the replicas exist.
    pub hunt: bool,
    /// `select:`: existing resources this spec starts, stops and reports; it creates and
    /// deletes nothing.
    pub select: Option<crate::model::Select>,
    /// The file this came from.
    pub file: PathBuf,
    /// Its text and field positions, kept so later checks can point at a line.
    pub source: Option<std::sync::Arc<super::Source>>,
}

/// The provider's part of a spec.
#[derive(Debug, Clone)]
pub(crate) enum ProviderSpec {
    /// A KubeVirt VM.
    Kubevirt(KubevirtSpec),
    /// An OCI instance.
    Oci(OciSpec),
    /// Loaded without a project (`validate`, the daemon's first look) and with no field of
    /// either provider: it fits whichever project checks it.
    Unbound,
}

impl Spec {
    /// Whether a new instance runs once created, so that `deploy --wait` waits for it to run
    /// and starts it when it is stopped: all but KubeVirt's `Halted` and `Manual`.
    pub(crate) fn starts_on_create(&self) -> bool {
        self.kubevirt()
            .is_none_or(|k| k.run_strategy.starts_on_create())
    }

    /// The KubeVirt part, when the spec was loaded for KubeVirt.
    pub(crate) fn kubevirt(&self) -> Option<&KubevirtSpec> {
        match &self.provider {
            ProviderSpec::Kubevirt(k) => Some(k),
            _ => None,
        }
    }

    /// The OCI part, when the spec was loaded for OCI.
    pub(crate) fn oci(&self) -> Option<&OciSpec> {
        match &self.provider {
            ProviderSpec::Oci(o) => Some(o),
            _ => None,
        }
    }
}

/// `disk:` (KubeVirt).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Disk {
    /// Size as a Kubernetes quantity (`30Gi`).
    pub size: Text,
    /// Storage class; default the cluster's default class.
    pub storage_class: Option<Text>,
    /// Where the disk image comes from.
    // serde_yaml 0.9 reads enums from `!tag`s only; the documented form is `{registry: URL}`.
    #[serde(with = "serde_yaml::with::singleton_map")]
    pub source: DiskSource,
}

/// `disk.source`: exactly one of registry, http, pvc.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub(crate) enum DiskSource {
    /// Container disk image: `docker://registry.local/rhel9:9.4`.
    Registry(Text),
    /// HTTP(S) URL of a disk image.
    Http(Text),
    /// Clone of an existing PVC.
    Pvc(PvcRef),
}

/// `disk.source.pvc`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PvcRef {
    /// Namespace of the PVC.
    pub namespace: Text,
    /// Name of the PVC.
    pub name: Text,
}

/// `image:` (OCI): an OCID, or a filter resolved online to the newest match.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Image {
    /// Image OCID.
    pub id: Option<Text>,
    /// Operating system, e.g. `Canonical Ubuntu`.
    pub os: Option<Text>,
    /// Operating system version, e.g. `22.04`.
    pub os_version: Option<Text>,
    /// Every string must occur in the image's display name.
    #[serde(default)]
    pub name_contains: Vec<Text>,
    /// The compartment whose images the filter lists (default: the project's).
    pub compartment: Option<Text>,
}

/// One `fallback:` entry (OCI flex sizes).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FallbackSize {
    /// OCPUs.
    pub ocpus: f64,
    /// Memory in GB.
    pub memory_gb: f64,
}

/// `placement:`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlacementSpec {
    /// OCI: `all` or a list of AD names or suffixes, tried in order.
    pub availability_domains: Option<AdChoice>,
    /// OCI fault domain.
    pub fault_domain: Option<Text>,
    /// KubeVirt: node labels that must all match.
    #[serde(default)]
    pub node_selector: BTreeMap<String, Text>,
    /// KubeVirt: Kubernetes affinity, passed through.
    pub affinity: Option<Value>,
    /// KubeVirt: Kubernetes tolerations, passed through.
    #[serde(default)]
    pub tolerations: Vec<Value>,
}

/// `placement.availability_domains`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum AdChoice {
    /// Every AD of the region, in the region's order.
    #[serde(serialize_with = "ser_all")]
    All,
    /// These ADs (full names or suffixes like `AD-1`), in this order.
    List(Vec<String>),
}

fn ser_all<S: serde::Serializer>(s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("all")
}

impl<'de> Deserialize<'de> for AdChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AdChoice;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`all` or a list of availability domains like [AD-1, AD-3]")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AdChoice, E> {
                if v == "all" {
                    Ok(AdChoice::All)
                } else {
                    Err(E::custom(format!(
                        "expected `all` or a list like [AD-1, AD-3], found `{v}`"
                    )))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AdChoice, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<Text>()? {
                    v.push(s.0);
                }
                Ok(AdChoice::List(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// `cloud_init:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CloudInit {
    /// Template path under `templates/`.
    pub template: Text,
    /// Variables available as `vars.NAME`.
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
}

/// `ssh:`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ssh {
    /// Public key files (`~` allowed) or literal `ssh-ed25519 AAAA...` lines.
    #[serde(default)]
    pub authorized_keys: Vec<Text>,
    /// Create this key pair if missing and use its public key.
    pub generate: Option<Text>,
    /// The login user `vauto P S ssh` uses; default from the image (`ubuntu` on Ubuntu,
    /// `opc` on Oracle Linux, `fedora` on Fedora, `cloud-user` on RHEL and the rest).
    pub user: Option<Text>,
}

/// A schedule's `action:`: one of [`Action::SCHEDULED`], read as serde reads an enum.
fn scheduled_action<'de, D: Deserializer<'de>>(d: D) -> Result<Action, D::Error> {
    let word = Text::deserialize(d)?;
    Action::SCHEDULED
        .into_iter()
        .find(|a| a.as_str() == word.as_str())
        .ok_or_else(|| {
            let expected: Vec<String> = Action::SCHEDULED
                .iter()
                .map(|a| format!("`{}`", a.as_str()))
                .collect();
            de::Error::custom(format!(
                "unknown variant `{}`, expected one of {}",
                word.as_str(),
                expected.join(", ")
            ))
        })
}

/// One `schedules:` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Schedule {
    /// When (crontab syntax).
    pub cron: CronExpr,
    /// What.
    #[serde(deserialize_with = "scheduled_action")]
    pub action: Action,
    /// Time zone of `cron`; default the project's `notify.timezone`, else UTC.
    pub timezone: Option<TimeZone>,
    /// Run once after downtime if a run was missed.
    #[serde(default)]
    pub catch_up: bool,
}
