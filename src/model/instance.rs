//! Instances as the engine sees them on a backend: found and selected.

use serde::Serialize;

/// A managed instance found on the backend (by ownership labels).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Existing {
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
    /// The backend's state as it spells it (OCI `STOPPED`, KubeVirt `Stopped`), when known.
    pub state: Option<String>,
    /// Created by vauto (carries the ownership labels). `false` for what a `select:` spec
    /// picks: such a resource gets power actions only, never a delete or a retag.
    pub owned: bool,
}

impl Existing {
    /// The backend says the instance is stopped (a deploy with `--wait` starts it).
    pub(crate) fn stopped(&self) -> bool {
        self.state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("stopped"))
    }

    /// The backend says the instance runs, or does not say.
    pub(crate) fn running(&self) -> bool {
        self.state
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("running"))
    }
}

/// Which managed instances an action looks at.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// Spec name; `None` means every spec of the project.
    pub spec: Option<String>,
    /// One instance name (`--target`).
    pub target: Option<String>,
    /// The spec's `select:`: look at these existing resources instead of the managed ones.
    pub select: Option<super::Select>,
}

/// Options for `delete`.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOptions {
    /// Keep the instance's boot disk (only where the provider's capability says it can).
    pub keep_boot_volume: bool,
}
