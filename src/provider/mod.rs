//! The provider trait every backend implements, and the error classes the engine decides on.

pub mod kubevirt;
pub mod oci;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use crate::engine::observer::Observer;
use crate::plan::{DesiredInstance, Plan};

/// What kind of failure a backend reported; the engine decides what to do from this alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The backend has no room for the instance right now (OCI "Out of host capacity").
    Capacity,
    /// The backend asked us to slow down (HTTP 429).
    Throttled,
    /// Worth retrying soon with the same request: 5xx, timeouts, connection resets.
    Transient,
    /// The object already exists.
    AlreadyExists,
    /// The object (or, for OCI, the shape in one availability domain) does not exist.
    NotFound,
    /// Credentials are missing, wrong or not allowed.
    Auth,
    /// The request was rejected as malformed; retrying cannot help.
    Invalid,
    /// A service limit or quota is exhausted.
    Quota,
}

impl ErrorClass {
    /// The lowercase name used in journals, JSON output and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Capacity => "capacity",
            ErrorClass::Throttled => "throttled",
            ErrorClass::Transient => "transient",
            ErrorClass::AlreadyExists => "already_exists",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Auth => "auth",
            ErrorClass::Invalid => "invalid",
            ErrorClass::Quota => "quota",
        }
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from a backend, classified once at the provider's edge.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    /// What the engine should make of it.
    pub class: ErrorClass,
    /// Human-readable message (lowercase, no trailing period); never contains secrets.
    pub message: String,
    /// Server-requested wait before the next try (HTTP Retry-After).
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    /// A new error of `class` with `message`.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        ProviderError {
            class,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error with a server-requested retry delay.
    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }
}

/// How one resource came out of an action; printed as `[SUCCESS]` and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    /// Created, started or stopped as asked.
    Success,
    /// Nothing to do: already there, already in that state.
    Skipped,
    /// Could not be done; the reason says why.
    Failed,
    /// Deleted.
    Deleted,
}

impl Outcome {
    /// The bracketed tag printed at the start of the line.
    pub fn tag(self) -> &'static str {
        match self {
            Outcome::Success => "[SUCCESS]",
            Outcome::Skipped => "[SKIPPED]",
            Outcome::Failed => "[FAILED]",
            Outcome::Deleted => "[DELETED]",
        }
    }
}

/// One line of output: a resource, what happened to it and why.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceReport {
    /// The instance this resource belongs to.
    pub instance: String,
    /// Resource kind as the backend names it (`VirtualMachine`, `Instance`, ...).
    pub kind: String,
    /// Resource name (or OCID-less display name).
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
    /// Short reason, lowercase.
    pub reason: String,
    /// Extra machine-readable facts (instance id, IPs, ssh command).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

impl ResourceReport {
    /// A report line with no details.
    pub fn new(
        instance: &str,
        kind: &str,
        name: &str,
        outcome: Outcome,
        reason: impl Into<String>,
    ) -> Self {
        ResourceReport {
            instance: instance.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            outcome,
            reason: reason.into(),
            details: BTreeMap::new(),
        }
    }

    /// Adds a detail (builder style).
    pub fn detail(mut self, key: &str, value: impl Into<String>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }
}

/// Where one launch attempt goes: an OCI availability domain and size, or nothing special.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Placement {
    /// OCI availability domain (full name); `None` for backends without domains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_domain: Option<String>,
    /// Index into the spec's sizes: 0 is the main size, 1.. the `fallback` entries.
    pub size_index: usize,
    /// OCPUs for this attempt (OCI flex shapes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocpus: Option<f64>,
    /// Memory in GB for this attempt (OCI flex shapes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_gb: Option<f64>,
}

impl Placement {
    /// A short label for progress lines: `AD-1 2 OCPU/12 GB`.
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if let Some(ad) = &self.availability_domain {
            parts.push(ad.rsplit(':').next().unwrap_or(ad).to_string());
        }
        if let (Some(o), Some(m)) = (self.ocpus, self.memory_gb) {
            parts.push(format!("{o} OCPU/{m} GB"));
        }
        if parts.is_empty() {
            "-".to_string()
        } else {
            parts.join(" ")
        }
    }
}

/// The outcome of one create attempt: what got done, and the error that stopped it, if any.
#[derive(Debug, Default)]
pub struct Attempt {
    /// One report per resource handled before success or the error.
    pub reports: Vec<ResourceReport>,
    /// The error that ended the attempt early.
    pub error: Option<ProviderError>,
}

/// A managed instance found on the backend (by ownership labels).
#[derive(Debug, Clone, Serialize)]
pub struct Existing {
    /// Instance name (`v-auto/name`).
    pub name: String,
    /// Spec it belongs to (`v-auto/spec`).
    pub spec: String,
    /// The backend id (OCI OCID or Kubernetes uid).
    pub id: String,
    /// Whether every resource of the instance exists (false after an interrupted deploy).
    pub complete: bool,
    /// Every resource of this instance, in creation order: (kind, name).
    pub resources: Vec<(String, String)>,
}

/// Which managed instances an action looks at.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Project name (always set).
    pub project: String,
    /// Spec name; `None` means every spec of the project.
    pub spec: Option<String>,
    /// One instance name (`--target`).
    pub target: Option<String>,
}

/// Power actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Power {
    /// Start a stopped instance.
    Start,
    /// Stop a running instance.
    Stop,
}

/// Options for `delete`.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// OCI: keep the boot volume when terminating.
    pub keep_boot_volume: bool,
}

/// One row of `status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InstanceStatus {
    /// Instance name.
    pub name: String,
    /// Spec name.
    pub spec: String,
    /// Backend state (`Running`, `Stopped`, `PROVISIONING` ...).
    pub state: String,
    /// Private / primary IP address.
    pub ip: Option<String>,
    /// Public IP address (OCI).
    pub public_ip: Option<String>,
    /// Kubernetes node or OCI availability domain.
    pub placement: Option<String>,
    /// OCI shape, or cpu/memory for KubeVirt.
    pub size: Option<String>,
    /// Disk import progress (KubeVirt DataVolume phase and progress).
    pub disk: Option<String>,
    /// Creation time (RFC 3339).
    pub created: Option<String>,
    /// Last event or lifecycle message.
    pub last_event: Option<String>,
    /// Backend id.
    pub id: String,
    /// Backend-specific extra columns.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// What a backend can do; the engine consults this instead of matching on the backend.
#[derive(Debug, Clone, Copy)]
pub struct Capability {
    /// Create attempts can meet `Capacity` errors and are worth the capacity-retry loop.
    pub capacity_retry: bool,
    /// `delete` honours `keep_boot_volume`.
    pub keep_boot_volume: bool,
}

/// Where a provider connects; filled by the command layer (which also starts simulators).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// The state directory (`.vauto/`): launch results, retry-token generations, sim state.
    pub state_dir: std::path::PathBuf,
    /// Use this kubeconfig instead of the project's (the simulator's generated one).
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Use this OCI config file instead of the project's (the simulator's generated one).
    pub oci_config_file: Option<std::path::PathBuf>,
    /// Use this base URL for every OCI service.
    pub oci_endpoint: Option<String>,
    /// Talking to a built-in simulator: every output line is marked SIMULATED.
    pub simulated: bool,
    /// Per-request timeout.
    pub timeout: Option<Duration>,
}

/// A backend vauto can deploy to. Methods are named after the user's operations.
pub trait Provider: Send + Sync {
    /// `kubevirt` or `oci`.
    fn kind(&self) -> &'static str;

    /// What this backend supports.
    fn capability(&self) -> Capability;

    /// Lists managed instances in `scope`.
    ///
    /// # Behavior
    /// Selects only by the ownership labels (`v-auto/managed=true`, project, spec);
    /// instances being terminated or already terminated are left out.
    fn list(
        &self,
        scope: &Scope,
    ) -> impl Future<Output = Result<Vec<Existing>, ProviderError>> + Send;

    /// The placements one round of attempts goes through for `instance`, in order.
    ///
    /// # Behavior
    /// At least one element. OCI: availability domains × sizes; KubeVirt: one default placement.
    fn placements(
        &self,
        plan: &Plan,
        instance: &DesiredInstance,
    ) -> impl Future<Output = Result<Vec<Placement>, ProviderError>> + Send;

    /// Creates every missing resource of `instance` at `placement`, in dependency order.
    ///
    /// # Behavior
    /// Idempotent: an object that already exists and is ours is reported `Skipped`;
    /// one that exists but is not ours is reported `Failed`. Stops at the first error.
    fn create(
        &self,
        plan: &Plan,
        instance: &DesiredInstance,
        placement: &Placement,
        observer: &dyn Observer,
    ) -> impl Future<Output = Attempt> + Send;

    /// Waits until `instance` is running; returns a report with its addresses.
    fn wait_running(
        &self,
        instance: &str,
        timeout: Duration,
        observer: &dyn Observer,
    ) -> impl Future<Output = Result<ResourceReport, ProviderError>> + Send;

    /// Deletes the resources of one managed instance, in reverse dependency order.
    ///
    /// # Behavior
    /// Deletes only objects carrying the ownership labels; NotFound counts as done.
    fn delete(
        &self,
        existing: &Existing,
        options: &DeleteOptions,
    ) -> impl Future<Output = Vec<ResourceReport>> + Send;

    /// Status rows of the managed instances in `scope`.
    fn status(
        &self,
        scope: &Scope,
    ) -> impl Future<Output = Result<Vec<InstanceStatus>, ProviderError>> + Send;

    /// Starts or stops one managed instance.
    ///
    /// # Behavior
    /// Already in the requested state → `Skipped`.
    fn power(
        &self,
        existing: &Existing,
        action: Power,
        wait: bool,
    ) -> impl Future<Output = ResourceReport> + Send;
}
