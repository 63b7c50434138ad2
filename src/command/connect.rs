//! Connecting to the project's backend, starting the built-in simulator for `sim: true`.

use crate::config::Project;
#[cfg(feature = "sim")]
use crate::config::ProviderKind;
use crate::error::Error;
use crate::provider::ConnectOptions;

/// Keeps an in-process simulator alive for the length of the run.
// The handles are never read: holding them keeps the servers up until they drop.
#[allow(dead_code)]
pub(super) enum SimGuard {
    /// No simulator.
    None,
    /// The fake Kubernetes API.
    #[cfg(feature = "sim")]
    Kube(crate::sim::kube::KubeSim),
    /// The fake OCI API.
    #[cfg(feature = "sim")]
    Oci(crate::sim::oci::OciSim),
}

/// Connection options for `project`, starting its simulator when `sim: true`.
pub(super) async fn connect_options(
    project: &Project,
    state_dir: &std::path::Path,
) -> Result<(ConnectOptions, SimGuard), Error> {
    let mut opts = ConnectOptions {
        state_dir: state_dir.to_path_buf(),
        ..ConnectOptions::default()
    };
    if !project.sim {
        return Ok((opts, SimGuard::None));
    }
    #[cfg(feature = "sim")]
    {
        opts.simulated = true;
        // A `vauto sim serve` on this state directory: talk to it, so that vauto, kubectl
        // and the OCI CLI see one state (two servers on one state would each keep their own).
        if let Some(served) = super::sim::running(state_dir, project.kind()) {
            tracing::debug!(url = %served.url, "using the running `vauto sim serve`");
            match project.kind() {
                ProviderKind::Kubevirt => {
                    opts.kubeconfig = Some(project_kubeconfig(state_dir, project, &served)?);
                }
                ProviderKind::Oci => {
                    opts.oci_config_file = Some(served.config);
                    opts.oci_metadata_base = Some(format!("{}/opc/v2", served.url));
                    opts.oci_endpoint = Some(served.url);
                }
            }
            return Ok((opts, SimGuard::None));
        }
        match project.kind() {
            ProviderKind::Kubevirt => {
                let sim = start_kube_sim(state_dir, project).await?;
                opts.kubeconfig = Some(sim.kubeconfig());
                Ok((opts, SimGuard::Kube(sim)))
            }
            ProviderKind::Oci => {
                let sim = crate::sim::oci::start(oci_sim_options(state_dir))
                    .await
                    .map_err(|e| Error::Other(format!("cannot start the oci simulator: {e}")))?;
                opts.oci_config_file = Some(sim.config_file());
                opts.oci_endpoint = Some(sim.base_url());
                opts.oci_metadata_base = Some(format!("{}/opc/v2", sim.base_url()));
                Ok((opts, SimGuard::Oci(sim)))
            }
        }
    }
    #[cfg(not(feature = "sim"))]
    {
        let _ = &mut opts;
        Err(Error::Usage(format!(
            "project `{}` sets `sim: true`, but this build has no simulator (built without the `sim` feature)",
            project.name
        )))
    }
}

/// The in-process OCI simulator: a region where capacity is scarce at first, as it is for
/// A1 shapes — AD-1 and AD-2 stay full, AD-3 frees up after two attempts — so a first
/// deploy shows AD rotation, the fallback size, a round wait, and then success.
#[cfg(feature = "sim")]
fn oci_sim_options(state_dir: &std::path::Path) -> crate::sim::oci::OciSimOptions {
    use crate::sim::oci::{AdCapacity, CapacityModel, OciSimOptions};
    let full = AdCapacity {
        free_after_attempts: u64::MAX,
        ..AdCapacity::default()
    };
    let mut capacity = CapacityModel::default();
    capacity.per_ad.insert("AD-1".into(), full.clone());
    capacity.per_ad.insert("AD-2".into(), full);
    capacity.per_ad.insert(
        "AD-3".into(),
        AdCapacity {
            free_after_attempts: 2,
            ..AdCapacity::default()
        },
    );
    OciSimOptions {
        state_dir: state_dir.to_path_buf(),
        capacity,
        seed: fastrand::u64(..),
        ..OciSimOptions::default()
    }
}

/// The Kubernetes simulator's options, for `sim: true` and `vauto sim serve`: three workers,
/// two of them labelled like the core high-memory nodes of the shipped `web` spec, short
/// import and boot times; `context` and `namespace` named as the project names them.
/// `namespaces` exist in it besides `default` (the project's, and CDI's
/// `openshift-virtualization-os-images`, where OpenShift keeps the DataSources of its boot
/// images); a create anywhere else is 404, as on a real cluster.
#[cfg(feature = "sim")]
pub(super) fn kube_sim_options(
    state_dir: &std::path::Path,
    context: Option<String>,
    namespace: Option<String>,
    extra_namespaces: Vec<String>,
) -> crate::sim::kube::KubeSimOptions {
    use crate::sim::kube::{KubeSimOptions, SimNode};
    let mut nodes = vec![
        SimNode::worker("worker-0", "zone-a"),
        SimNode::worker("worker-1", "zone-b"),
        SimNode::worker("worker-2", "zone-c"),
    ];
    for n in nodes.iter_mut().take(2) {
        n.labels.insert("zone".into(), "core".into());
        n.labels.insert("hw-type".into(), "high-mem".into());
    }
    KubeSimOptions {
        state_dir: state_dir.to_path_buf(),
        namespaces: namespace
            .iter()
            .cloned()
            .chain(extra_namespaces)
            .chain(["openshift-virtualization-os-images".to_string()])
            .collect(),
        import_duration: std::time::Duration::from_secs(6),
        boot_duration: std::time::Duration::from_secs(3),
        seed: fastrand::u64(..),
        nodes,
        context,
        namespace,
        ..KubeSimOptions::default()
    }
}

/// The project's context and namespace names, as it gives them.
#[cfg(feature = "sim")]
fn kube_names(project: &Project) -> (Option<String>, Option<String>) {
    let k = project.kubevirt();
    (
        k.and_then(|k| k.context.as_ref()).map(|c| c.0.clone()),
        k.and_then(|k| k.namespace.as_ref()).map(|n| n.0.clone()),
    )
}

/// The in-process Kubernetes simulator for a `sim: true` project, with the project's names
/// as they are: a real project rehearses with `sim: true` alone.
#[cfg(feature = "sim")]
async fn start_kube_sim(
    state_dir: &std::path::Path,
    project: &Project,
) -> Result<crate::sim::kube::KubeSim, Error> {
    let (context, namespace) = kube_names(project);
    crate::sim::kube::start(kube_sim_options(state_dir, context, namespace, Vec::new()))
        .await
        .map_err(|e| Error::Other(format!("cannot start the kubernetes simulator: {e}")))
}

/// A kubeconfig for `project` pointing at a served simulator: the server's own, with its
/// context renamed to the project's (`kubevirt.context`) and its namespace set, written
/// beside it (owner-only, it holds the token).
#[cfg(feature = "sim")]
fn project_kubeconfig(
    state_dir: &std::path::Path,
    project: &Project,
    served: &super::sim::Served,
) -> Result<std::path::PathBuf, Error> {
    use serde_yaml::Value;
    let (context, namespace) = kube_names(project);
    if context.is_none() && namespace.is_none() {
        return Ok(served.config.clone());
    }
    let fail = |why: String| {
        Error::Other(format!(
            "cannot use the running simulator's kubeconfig `{}`: {why}",
            served.config.display()
        ))
    };
    let text = std::fs::read_to_string(&served.config).map_err(|e| fail(e.to_string()))?;
    let mut doc: Value = serde_yaml::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let current = doc
        .get("current-context")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| fail("it has no current-context".into()))?;
    let name = context.unwrap_or_else(|| current.clone());
    if let Some(Value::Sequence(contexts)) = doc.get_mut("contexts") {
        for c in contexts.iter_mut() {
            if c.get("name").and_then(Value::as_str) != Some(current.as_str()) {
                continue;
            }
            c["name"] = Value::String(name.clone());
            if let Some(ns) = &namespace {
                c["context"]["namespace"] = Value::String(ns.clone());
            }
        }
    }
    doc["current-context"] = Value::String(name);
    let out = serde_yaml::to_string(&doc).map_err(|e| fail(e.to_string()))?;
    let path = crate::sim::kube::sim_dir(state_dir).join(format!("kubeconfig.{}", project.name));
    crate::files::write_atomic(&path, out.as_bytes(), Some(0o600))
        .map_err(|e| fail(format!("cannot write `{}`: {e}", path.display())))?;
    Ok(path)
}

/// Runs `$body` with `$p` bound to the project's connected provider.
macro_rules! with_provider {
    ($project:expr, $opts:expr, |$p:ident| $body:expr) => {
        match $project.kind() {
            $crate::config::ProviderKind::Kubevirt => {
                let $p = $crate::provider::kubevirt::KubevirtProvider::connect(&$project, &$opts)
                    .await?;
                $body
            }
            $crate::config::ProviderKind::Oci => {
                let $p = $crate::provider::oci::OciProvider::connect(&$project, &$opts).await?;
                $body
            }
        }
    };
}
pub(crate) use with_provider;
