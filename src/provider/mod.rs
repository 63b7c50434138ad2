//! The provider trait every backend implements: the user's operations, and what each
//! backend can do.

pub(crate) mod kubevirt;
pub(crate) mod oci;
pub(crate) mod poll;

use std::future::Future;
use std::time::Duration;

use crate::model::{
    Action, DeleteOptions, Existing, InstanceStatus, Observer, PlacementInfo, Power, ProviderError,
    ProviderKind, ResourceReport, Scope, StatusOptions,
};
use crate::plan::{DesiredInstance, Plan};

/// Where one create attempt goes, as the provider chose it; opaque to the engine, which
/// only reads what [`PlacementInfo`] says of it.
pub(crate) trait Placement: Clone + Send + Sync + std::fmt::Debug {
    /// A label for people and the zone the engine drops when the backend answers that
    /// what was asked is not offered there.
    fn info(&self) -> PlacementInfo;
}

/// The outcome of one create attempt: what got done, and the error that stopped it, if any.
#[derive(Debug, Default)]
pub(crate) struct Attempt {
    /// One report per resource handled before success or the error.
    pub reports: Vec<ResourceReport>,
    /// The error that ended the attempt early.
    pub error: Option<ProviderError>,
    /// The resource the error is about (kind, name), when it is not the instance itself.
    pub resource: Option<(String, String)>,
}

/// What a backend can do; the engine and the commands consult this instead of matching on
/// the backend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Capability {
    /// The actions this backend performs on instances (deploy, delete, status, start, stop).
    pub actions: &'static [Action],
    /// A round of attempts goes through several placements (zones, sizes) worth rotating;
    /// without them, "not offered here" leaves nothing else to try.
    pub rotates_placements: bool,
    /// Create attempts can meet `Capacity` errors and are worth the capacity-retry loop;
    /// without it, a `Capacity` answer fails the instance.
    pub capacity_retry: bool,
    /// `delete` can keep the instance's boot disk (`--keep-boot-volume`).
    pub keeps_boot_volume: bool,
    /// The backend keeps events about an instance's resources (`status --events`).
    pub events: bool,
}

/// What the backend of `kind` can do, known before connecting (to check options early).
pub(crate) fn capability(kind: ProviderKind) -> Capability {
    match kind {
        ProviderKind::Kubevirt => kubevirt::KubevirtProvider::CAPABILITY,
        ProviderKind::Oci => oci::OciProvider::CAPABILITY,
    }
}

impl Capability {
    /// Whether `action` is one this backend performs.
    pub(crate) fn supports(&self, action: Action) -> bool {
        self.actions.contains(&action)
    }
}

/// Where a provider connects; filled by the command layer (which also starts simulators).
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectOptions {
    /// The state directory (`.vauto/`): launch results, retry-token generations, sim state.
    pub state_dir: std::path::PathBuf,
    /// Use this kubeconfig instead of the project's (the simulator's generated one).
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Use this OCI config file instead of the project's (the simulator's generated one).
    pub oci_config_file: Option<std::path::PathBuf>,
    /// Use this base URL for every OCI service.
    pub oci_endpoint: Option<String>,
    /// Use this instance metadata service (`.../opc/v2`) for `oci.auth: instance_principal`
    /// instead of `OCI_METADATA_BASE_URL` or 169.254.169.254 (the simulator's).
    pub oci_metadata_base: Option<String>,
    /// Talking to a built-in simulator: every output line is marked SIMULATED.
    pub simulated: bool,
    /// Per-request timeout.
    pub timeout: Option<Duration>,
    /// How one call's independent requests go out (`--parallel 1`: one after another).
    pub pace: Pace,
}

/// How a provider sends the independent requests of one call: an instance's Secret, NAD
/// and DataVolumes, the preflight's reference checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Pace {
    /// All at once: the slowest, not their sum, sets the time (the default).
    #[default]
    AtOnce,
    /// One after another, in order, so that a run has one request in flight at a time:
    /// `--parallel 1`, for a fragile or strictly rate-limited API server and for reading
    /// a `-v` log in the order things happened.
    OneByOne,
}

impl Pace {
    /// The pace of an action run with `--parallel parallel`.
    pub(crate) fn of_parallel(parallel: usize) -> Pace {
        if parallel <= 1 {
            Pace::OneByOne
        } else {
            Pace::AtOnce
        }
    }

    /// Runs `futures` at this pace; the outputs come in the order of `futures`.
    ///
    /// A `Vec`, not any iterator: an iterator's closure held across the awaits would make
    /// the callers' futures too general to be `Send`.
    pub(crate) async fn all<F: Future>(self, futures: Vec<F>) -> Vec<F::Output> {
        match self {
            Pace::AtOnce => futures::future::join_all(futures).await,
            Pace::OneByOne => {
                let mut out = Vec::new();
                for f in futures {
                    out.push(f.await);
                }
                out
            }
        }
    }

    /// Runs `a` and `b` at this pace (`a` first when one by one).
    pub(crate) async fn both<A: Future, B: Future>(self, a: A, b: B) -> (A::Output, B::Output) {
        match self {
            Pace::AtOnce => futures::future::join(a, b).await,
            Pace::OneByOne => {
                let a = a.await;
                (a, b.await)
            }
        }
    }
}

/// A backend vauto can deploy to. Methods are named after the user's operations.
pub(crate) trait Provider: Send + Sync {
    /// Where one create attempt goes.
    type Placement: Placement;

    /// Which backend this is.
    fn kind(&self) -> ProviderKind;

    /// What this backend supports.
    const CAPABILITY: Capability;

    /// What this backend supports.
    fn capability(&self) -> Capability {
        Self::CAPABILITY
    }

    /// Lists managed instances in `scope`.
    ///
    /// # Behavior
    /// Selects only by the ownership labels (`v-auto/managed=true`, project, spec);
    /// instances being terminated or already terminated are left out.
    fn list(
        &self,
        scope: &Scope,
    ) -> impl Future<Output = Result<Vec<Existing>, ProviderError>> + Send;

    /// Makes what a spec's instances share before any instance is created, and brings it up
    /// to date when it exists (KubeVirt: checks that what the manifests name exists, then
    /// the spec's CA ConfigMap and credentials Secret).
    ///
    /// # Behavior
    /// Default: nothing. The reports are the shared objects'; an error ends the deploy
    /// before any instance is touched.
    fn prepare(&self, _plan: &Plan) -> impl Future<Output = Attempt> + Send {
        async { Attempt::default() }
    }

    /// The placements one round of attempts goes through for `instance`, in order.
    ///
    /// # Behavior
    /// At least one element. OCI: availability domains × sizes; KubeVirt: one default placement.
    fn placements(
        &self,
        plan: &Plan,
        instance: &DesiredInstance,
    ) -> impl Future<Output = Result<Vec<Self::Placement>, ProviderError>> + Send;

    /// Creates every missing resource of `instance` at `placement`, in dependency order.
    ///
    /// # Behavior
    /// Idempotent: an object that already exists and is ours is reported `Skipped`;
    /// one that exists but is not ours is reported `Failed`. Stops at the first error.
    fn create(
        &self,
        plan: &Plan,
        instance: &DesiredInstance,
        placement: &Self::Placement,
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
    /// Deletes only objects carrying the ownership labels; NotFound counts as done. Stops at
    /// the first error (an object under one that could not be deleted stays), which it
    /// returns classified with the resource it is about, so the engine can retry the whole
    /// call: a second call reports what the first deleted as already gone.
    fn delete(
        &self,
        existing: &Existing,
        options: &DeleteOptions,
    ) -> impl Future<Output = Attempt> + Send;

    /// Status rows of the managed instances in `scope`.
    ///
    /// # Behavior
    /// Reads only. `options.events` is how many of each instance's newest events to put in
    /// its row (a backend without events leaves `events` empty); 0 reads none.
    fn status(
        &self,
        scope: &Scope,
        options: &StatusOptions,
    ) -> impl Future<Output = Result<Vec<InstanceStatus>, ProviderError>> + Send;

    /// Puts the ownership labels of `plan`'s spec on the existing instance `id`, which vauto
    /// did not create, so that it is managed from now on (`adopt`).
    ///
    /// # Behavior
    /// Its name must be one of the plan's instance names and no managed instance may have it;
    /// an instance that is vauto's already is `Skipped`, one another spec or project owns is
    /// an error. Only the labels change.
    fn adopt(
        &self,
        plan: &Plan,
        id: &str,
    ) -> impl Future<Output = Result<ResourceReport, ProviderError>> + Send;

    /// Starts or stops one managed instance.
    ///
    /// # Behavior
    /// Already in the requested state → `Skipped`. An error (classified: a blip, capacity,
    /// a resource that is not ours) is returned for the engine to retry or report; a retried
    /// call must be safe, so the provider looks at the current state before acting.
    /// With `wait`, waits at most that long for the requested state.
    fn power(
        &self,
        existing: &Existing,
        action: Power,
        wait: Option<Duration>,
    ) -> impl Future<Output = Result<ResourceReport, ProviderError>> + Send;
}
