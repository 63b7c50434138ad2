//! `specs/<name>.yaml`: what an instance looks like, how many, where, and when.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::values::{CronExpr, Text, TimeZone, Value};
use crate::model::Action;

/// A loaded spec file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Spec name; defaults to the file stem.
    #[serde(default)]
    pub name: Text,
    /// How many instances.
    #[serde(default = "one")]
    pub replicas: u32,
    /// Instance names are `<name_prefix>-NN`; default the spec name.
    pub name_prefix: Option<Text>,
    /// KubeVirt: virtual CPU cores.
    pub cpu: Option<u32>,
    /// KubeVirt: memory as a Kubernetes quantity (`4Gi`).
    pub memory: Option<Text>,
    /// KubeVirt: the root disk.
    pub disk: Option<Disk>,
    /// OCI: shape name.
    pub shape: Option<Text>,
    /// OCI: OCPUs of a flex shape.
    pub ocpus: Option<f64>,
    /// OCI: memory in GB of a flex shape.
    pub memory_gb: Option<f64>,
    /// OCI: boot volume size in GB.
    pub boot_volume_gb: Option<u32>,
    /// OCI: the image, by id or by filter.
    pub image: Option<Image>,
    /// OCI: smaller sizes to try when out of capacity.
    #[serde(default)]
    pub fallback: Vec<FallbackSize>,
    /// Where instances may run.
    #[serde(default)]
    pub placement: PlacementSpec,
    /// Cloud-init template and its variables.
    pub cloud_init: Option<CloudInit>,
    /// SSH keys.
    #[serde(default)]
    pub ssh: Ssh,
    /// Scheduled actions run by `vauto daemon`.
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    /// `vauto daemon` keeps deploying until the replicas exist.
    #[serde(default)]
    pub hunt: bool,
    /// The file this came from.
    #[serde(skip)]
    pub file: PathBuf,
    /// Its text and field positions, kept so later checks can point at a line.
    #[serde(skip)]
    pub source: Option<std::sync::Arc<super::Source>>,
}

fn one() -> u32 {
    1
}

/// `disk:` (KubeVirt).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
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
pub enum DiskSource {
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
pub struct PvcRef {
    /// Namespace of the PVC.
    pub namespace: Text,
    /// Name of the PVC.
    pub name: Text,
}

/// `image:` (OCI): an OCID, or a filter resolved online to the newest match.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Image OCID.
    pub id: Option<Text>,
    /// Operating system, e.g. `Canonical Ubuntu`.
    pub os: Option<Text>,
    /// Operating system version, e.g. `22.04`.
    pub os_version: Option<Text>,
    /// Every string must occur in the image's display name.
    #[serde(default)]
    pub name_contains: Vec<Text>,
}

/// One `fallback:` entry (OCI flex sizes).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackSize {
    /// OCPUs.
    pub ocpus: f64,
    /// Memory in GB.
    pub memory_gb: f64,
}

/// `placement:`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementSpec {
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
pub enum AdChoice {
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
pub struct CloudInit {
    /// Template path under `templates/`.
    pub template: Text,
    /// Variables available as `vars.NAME`.
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
}

/// `ssh:`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Ssh {
    /// Public key files (`~` allowed) or literal `ssh-ed25519 AAAA...` lines.
    #[serde(default)]
    pub authorized_keys: Vec<Text>,
    /// Create this key pair if missing and use its public key.
    pub generate: Option<Text>,
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
pub struct Schedule {
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
