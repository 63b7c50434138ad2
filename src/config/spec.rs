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
    #[serde(default)]
    pub disks: Vec<DataDisk>,
    pub instancetype: Option<TypeRef>,
    pub preference: Option<TypeRef>,
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
// A run holds one spec: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
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

/// `disk:` (KubeVirt): the root disk.
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
    /// A standalone DataVolume, or one that lives and dies with the VM.
    #[serde(default)]
    pub lifecycle: DiskLifecycle,
}

/// One of `disks:` (KubeVirt): a data disk attached to the VM besides the root disk.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DataDisk {
    /// The disk's name in the VM; its DataVolume is `<instance>-<name>`.
    pub name: Text,
    /// Size as a Kubernetes quantity (`100Gi`).
    pub size: Text,
    /// Storage class; default the cluster's default class.
    pub storage_class: Option<Text>,
    /// Where its content comes from; none: a blank disk.
    #[serde(default, with = "serde_yaml::with::singleton_map")]
    pub source: Option<DiskSource>,
    /// A standalone DataVolume, or one that lives and dies with the VM.
    #[serde(default)]
    pub lifecycle: DiskLifecycle,
}

/// `disk.lifecycle`: whether the disk is its own object or part of the VM.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DiskLifecycle {
    /// A DataVolume of its own, deleted by `vauto delete` after the VM.
    #[default]
    Standalone,
    /// A `dataVolumeTemplates` entry of the VM: KubeVirt creates it and it goes with the VM.
    WithVm,
}

/// `disk.source`: exactly one of registry, http, pvc, data_source.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum DiskSource {
    /// Container disk image: `docker://registry.local/rhel9:9.4`, or a mapping with a CA,
    /// credentials and the pull method.
    Registry(Import),
    /// HTTP(S) URL of a disk image, or a mapping with a CA and credentials.
    Http(Import),
    /// Clone of an existing PVC.
    Pvc(PvcRef),
    /// Clone of a CDI DataSource (OpenShift's golden images).
    DataSource(DataSourceRef),
}

/// `disk.source.registry` / `disk.source.http`: a URL, or `{url, ca_file, credentials,
/// pull_method}`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Import {
    /// `docker://...` or `http(s)://...`.
    pub url: Text,
    /// A PEM file of the CA(s) that signed the server's certificate.
    pub ca_file: Option<Text>,
    /// How the importer authenticates.
    pub credentials: Option<Credentials>,
    /// `pod` (CDI's importer pulls) or `node` (the node's container runtime pulls, with
    /// its mirrors and pull secrets); registry only.
    pub pull_method: Option<PullMethod>,
}

/// The mapping form of [`Import`], as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportFields {
    url: Text,
    ca_file: Option<Text>,
    credentials: Option<Credentials>,
    pull_method: Option<PullMethod>,
}

impl<'de> Deserialize<'de> for Import {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Import;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a URL, or a mapping with `url` and optionally `ca_file`, `credentials`, `pull_method`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Import, E> {
                let url = Text::deserialize(de::value::StrDeserializer::<E>::new(v))?;
                Ok(Import {
                    url,
                    ca_file: None,
                    credentials: None,
                    pull_method: None,
                })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Import, A::Error> {
                let f = ImportFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Import {
                    url: f.url,
                    ca_file: f.ca_file,
                    credentials: f.credentials,
                    pull_method: f.pull_method,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `credentials:` of an import: an existing Secret with CDI's keys, or a user name and
/// password (from `${VAR}`s) vauto puts in a Secret of its own.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Credentials {
    /// A Secret in the namespace with keys `accessKeyId` and `secretKey`.
    pub secret: Option<Text>,
    /// User name (CDI's `accessKeyId`).
    pub username: Option<super::values::Secret>,
    /// Password or token (CDI's `secretKey`).
    pub password: Option<super::values::Secret>,
}

/// `pull_method:` of a registry import (CDI's `pullMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PullMethod {
    /// CDI's importer pod pulls the image (the default).
    Pod,
    /// The node's container runtime pulls it, with the node's mirrors and pull secrets.
    Node,
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

/// The namespace OpenShift Virtualization keeps its golden images in.
pub(crate) const GOLDEN_IMAGES_NAMESPACE: &str = "openshift-virtualization-os-images";

/// `disk.source.data_source`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DataSourceRef {
    /// Name of the DataSource (`rhel9`, `fedora`, ...).
    pub name: Text,
    /// Its namespace; default `openshift-virtualization-os-images`.
    pub namespace: Option<Text>,
}

impl DataSourceRef {
    /// The namespace, with OpenShift's default.
    pub(crate) fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or(GOLDEN_IMAGES_NAMESPACE)
    }
}

/// `instancetype:` / `preference:` (KubeVirt): a name and, optionally, its kind.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TypeRef {
    /// `u1.medium`, `rhel.9`, ...
    pub name: Text,
    /// The cluster-wide kind (default) or the namespaced one.
    pub kind: Option<Text>,
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
