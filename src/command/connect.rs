//! Connecting to the project's backend, starting the built-in simulator for `sim: true`.

use crate::config::{Project, ProviderKind};
use crate::error::Error;
use crate::provider::ConnectOptions;

/// Keeps an in-process simulator alive for the length of the run.
pub enum SimGuard {
    /// No simulator.
    None,
    /// The fake Kubernetes API.
    #[cfg(any())]
    Kube(crate::sim::kube::KubeSim),
    /// The fake OCI API.
    #[cfg(any())]
    Oci(crate::sim::oci::OciSim),
}

/// Connection options for `project`, starting its simulator when `sim: true`.
pub async fn connect_options(project: &Project, state_dir: &std::path::Path) -> Result<(ConnectOptions, SimGuard), Error> {
    let mut opts = ConnectOptions {
        state_dir: state_dir.to_path_buf(),
        ..ConnectOptions::default()
    };
    if !project.sim {
        return Ok((opts, SimGuard::None));
    }
    #[cfg(any())]
    {
        opts.simulated = true;
        match project.provider {
            ProviderKind::Kubevirt => {
                let sim = crate::sim::kube::start(crate::sim::kube::KubeSimOptions::in_process(state_dir))
                    .await
                    .map_err(|e| Error::Other(format!("cannot start the kubernetes simulator: {e}")))?;
                opts.kubeconfig = Some(sim.kubeconfig());
                Ok((opts, SimGuard::Kube(sim)))
            }
            ProviderKind::Oci => {
                let sim = crate::sim::oci::start(crate::sim::oci::OciSimOptions::in_process(state_dir))
                    .await
                    .map_err(|e| Error::Other(format!("cannot start the oci simulator: {e}")))?;
                opts.oci_config_file = Some(sim.config_file());
                opts.oci_endpoint = Some(sim.base_url());
                Ok((opts, SimGuard::Oci(sim)))
            }
        }
    }
    #[cfg(all())]
    {
        let _ = &mut opts;
        Err(Error::Usage(format!(
            "project `{}` sets `sim: true`, but this build has no simulator (built without the `sim` feature)",
            project.name
        )))
    }
}

/// Runs `$body` with `$p` bound to the project's connected provider.
macro_rules! with_provider {
    ($project:expr, $opts:expr, |$p:ident| $body:expr) => {
        match $project.provider {
            $crate::config::ProviderKind::Kubevirt => {
                let $p = $crate::provider::kubevirt::KubevirtProvider::connect(&$project, &$opts).await?;
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
