//! `vauto sim serve kubevirt|oci`: a built-in simulator as a standalone server, until Ctrl-C.
//!
//! The server keeps its state where a `sim: true` project keeps it (`<state_dir>/sim/<kind>/`),
//! holds `serve.lock` there while it runs and writes `serve.json` (its URL and config file),
//! so a `sim: true` project with the same state directory talks to it instead of starting
//! a simulator of its own: vauto, kubectl and the OCI CLI then see the same state at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::ProviderKind;
use crate::error::Error;

/// The address a simulator listens on unless `--listen` says otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:0";

/// Faults a served simulator injects (`--faults throttle=0.1,error=0.05,latency=20ms`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SimFaults {
    /// Share of requests answered 429 with `Retry-After`.
    pub throttle: f64,
    /// Share of requests answered 500/503.
    pub error: f64,
    /// Added to every response.
    pub latency: Duration,
    /// OCI: share of launches that create the instance but lose the answer.
    pub lost_launch: f64,
    /// OCI: share of requests answered 401 NotAuthenticated.
    pub auth: f64,
}

/// The keys `--faults` takes for `kind`, for messages.
fn fault_keys(kind: ProviderKind) -> &'static [&'static str] {
    match kind {
        ProviderKind::Kubevirt => &["throttle", "error", "latency"],
        ProviderKind::Oci => &["throttle", "error", "latency", "lost_launch", "auth"],
    }
}

impl SimFaults {
    /// Parses `key=value[,key=value...]`; rates are shares from 0 to 1, latency a duration.
    pub(crate) fn parse(text: &str, kind: ProviderKind) -> Result<SimFaults, String> {
        let keys = fault_keys(kind);
        let mut faults = SimFaults::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(format!(
                    "--faults: `{item}` is not KEY=VALUE (keys for {kind}: {})",
                    keys.join(", ")
                ));
            };
            let (key, value) = (key.trim(), value.trim());
            if !keys.contains(&key) {
                let known: Vec<String> = keys.iter().map(|k| (*k).to_string()).collect();
                let hint = crate::config::did_you_mean(key, &known)
                    .map(|b| format!(" (did you mean `{b}`?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "--faults: unknown key `{key}` for the {kind} simulator{hint}; keys: {}",
                    keys.join(", ")
                ));
            }
            if key == "latency" {
                faults.latency = humantime::parse_duration(value).map_err(|_| {
                    format!("--faults: latency `{value}` is not a duration such as 20ms or 1s")
                })?;
                continue;
            }
            let rate: f64 = value
                .parse()
                .ok()
                .filter(|r: &f64| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    format!("--faults: {key} `{value}` must be a share from 0 to 1, e.g. 0.05")
                })?;
            match key {
                "throttle" => faults.throttle = rate,
                "error" => faults.error = rate,
                "lost_launch" => faults.lost_launch = rate,
                _ => faults.auth = rate,
            }
        }
        Ok(faults)
    }
}

/// Checks the words and options of `sim serve KIND` (stage 2).
pub(crate) fn parse_serve(
    rest: &[String],
    listen: Option<&str>,
    faults: Option<&str>,
) -> Result<(ProviderKind, SocketAddr, SimFaults), String> {
    let kind = match rest.get(1).map(String::as_str) {
        Some("kubevirt") => ProviderKind::Kubevirt,
        Some("oci") => ProviderKind::Oci,
        Some(other) => {
            return Err(format!(
                "unknown simulator `{other}`: expected kubevirt or oci"
            ));
        }
        None => return Err(crate::cli::SIM_USAGE.into()),
    };
    let text = listen.unwrap_or(DEFAULT_LISTEN);
    let addr: SocketAddr = text.parse().map_err(|_| {
        format!("--listen `{text}` is not an address with a port, e.g. 127.0.0.1:8443")
    })?;
    let faults = match faults {
        Some(f) => SimFaults::parse(f, kind)?,
        None => SimFaults::default(),
    };
    Ok((kind, addr, faults))
}

/// What a running `sim serve` writes into `serve.json` for other vauto processes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Served {
    /// The server's base URL.
    pub url: String,
    /// The kubeconfig or OCI config file clients load.
    pub config: PathBuf,
}

/// The simulator folder of `kind` in `state_dir`.
fn sim_folder(state_dir: &Path, kind: ProviderKind) -> PathBuf {
    state_dir.join("sim").join(match kind {
        ProviderKind::Kubevirt => "kube",
        ProviderKind::Oci => "oci",
    })
}

/// The running `sim serve` of `kind` on `state_dir`, if there is one: its `serve.lock` is
/// held (a server that died released it with its process) and `serve.json` names it.
pub(crate) fn running(state_dir: &Path, kind: ProviderKind) -> Option<Served> {
    let dir = sim_folder(state_dir, kind);
    let lock = std::fs::File::open(dir.join("serve.lock")).ok()?;
    match lock.try_lock_shared() {
        // Nobody holds it: no server runs (a stale serve.json is ignored).
        Ok(()) => {
            let _ = lock.unlock();
            None
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let text = std::fs::read_to_string(dir.join("serve.json")).ok()?;
            serde_json::from_str(&text).ok()
        }
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

/// Runs `vauto sim serve KIND` until Ctrl-C or SIGTERM.
#[cfg(feature = "sim")]
pub(crate) async fn serve(
    state_dir: &Path,
    kind: ProviderKind,
    listen: SocketAddr,
    faults: &SimFaults,
    namespaces: Vec<String>,
) -> Result<u8, Error> {
    let dir = sim_folder(state_dir, kind);
    std::fs::create_dir_all(&dir).map_err(|e| {
        Error::Other(format!(
            "cannot create the simulator folder `{}`: {e}",
            dir.display()
        ))
    })?;
    let lock_path = dir.join("serve.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::Other(format!("cannot open `{}`: {e}", lock_path.display())))?;
    if lock.try_lock().is_err() {
        let url = running(state_dir, kind)
            .map(|s| format!(" at {}", s.url))
            .unwrap_or_default();
        return Err(Error::Other(format!(
            "the {kind} simulator is already serving `{}`{url}; stop it first, or give this one its own --state-dir",
            state_dir.display()
        )));
    }
    let served = match kind {
        ProviderKind::Kubevirt => {
            Server::Kube(start_kube(state_dir, listen, faults, namespaces).await?)
        }
        ProviderKind::Oci => Server::Oci(start_oci(state_dir, listen, faults).await?),
    };
    let info = served.info();
    let json = serde_json::to_vec_pretty(&info)
        .map_err(|e| Error::Other(format!("cannot encode serve.json: {e}")))?;
    crate::files::write_atomic(&dir.join("serve.json"), &json, None)
        .map_err(|e| Error::Other(format!("cannot write serve.json: {e}")))?;
    announce(kind, &info);
    super::shutdown_signal().await;
    let _ = std::fs::remove_file(dir.join("serve.json"));
    served.shutdown().await;
    drop(lock);
    Ok(crate::error::exit::OK)
}

/// Without the `sim` feature there is nothing to serve.
#[cfg(not(feature = "sim"))]
pub(crate) async fn serve(
    _state_dir: &Path,
    _kind: ProviderKind,
    _listen: SocketAddr,
    _faults: &SimFaults,
    _namespaces: Vec<String>,
) -> Result<u8, Error> {
    Err(Error::Usage(
        "this build has no simulator (built without the `sim` feature)".into(),
    ))
}

/// Prints how to use the server: the lines scripts parse, then a hint.
fn announce(kind: ProviderKind, info: &Served) {
    use std::io::Write as _;
    let config = info.config.display();
    let text = match kind {
        ProviderKind::Kubevirt => format!(
            "url: {}\nkubeconfig: {config}\nexport KUBECONFIG={config}\nServing until Ctrl-C.\n",
            info.url
        ),
        ProviderKind::Oci => format!(
            "url: {}\nconfig: {config}\nprofile: DEFAULT\nexport OCI_CLI_CONFIG_FILE={config}\nServing until Ctrl-C.\n",
            info.url
        ),
    };
    let mut out = std::io::stdout().lock();
    // Scripts wait for these lines: flush at once.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// A running simulator of either kind.
#[cfg(feature = "sim")]
enum Server {
    /// The Kubernetes simulator.
    Kube(crate::sim::kube::KubeSim),
    /// The OCI simulator.
    Oci(crate::sim::oci::OciSim),
}

#[cfg(feature = "sim")]
impl Server {
    /// Where it is and what clients load.
    fn info(&self) -> Served {
        match self {
            Server::Kube(s) => Served {
                url: s.base_url(),
                config: s.kubeconfig(),
            },
            Server::Oci(s) => Served {
                url: s.base_url(),
                config: s.config_file(),
            },
        }
    }

    /// Stops serving.
    async fn shutdown(self) {
        match self {
            Server::Kube(s) => s.shutdown().await,
            Server::Oci(s) => s.shutdown().await,
        }
    }
}

/// The served Kubernetes simulator: the nodes and timings of the in-process one.
#[cfg(feature = "sim")]
async fn start_kube(
    state_dir: &Path,
    listen: SocketAddr,
    faults: &SimFaults,
    namespaces: Vec<String>,
) -> Result<crate::sim::kube::KubeSim, Error> {
    let mut opts = super::connect::kube_sim_options(state_dir, None, None, namespaces);
    opts.listen = listen;
    opts.latency = faults.latency;
    opts.error_rate = faults.error;
    opts.throttle_rate = faults.throttle;
    // `kubectl --context vauto-sim-readonly` reads but is denied every write (RBAC rehearsal).
    opts.read_only_tokens = vec!["vauto-sim-readonly-token".to_string()];
    crate::sim::kube::start(opts)
        .await
        .map_err(|e| Error::Other(format!("cannot start the kubernetes simulator: {e}")))
}

/// The served OCI simulator: every availability domain has capacity (rehearse the change,
/// not the hunt; `--faults` adds trouble).
#[cfg(feature = "sim")]
async fn start_oci(
    state_dir: &Path,
    listen: SocketAddr,
    faults: &SimFaults,
) -> Result<crate::sim::oci::OciSim, Error> {
    use crate::sim::oci::{Faults, OciSimOptions};
    let opts = OciSimOptions {
        state_dir: state_dir.to_path_buf(),
        listen,
        faults: Faults {
            error_rate: faults.error,
            latency: faults.latency,
            lost_launch_rate: faults.lost_launch,
            throttle_rate: faults.throttle,
            auth_failure_rate: faults.auth,
            ..Faults::default()
        },
        seed: fastrand::u64(..),
        ..OciSimOptions::default()
    };
    crate::sim::oci::start(opts)
        .await
        .map_err(|e| Error::Other(format!("cannot start the oci simulator: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_rates_and_latency_and_name_what_is_wrong() {
        let f = SimFaults::parse(
            "throttle=0.1, error=0.05,latency=20ms",
            ProviderKind::Kubevirt,
        )
        .unwrap();
        assert_eq!(
            f,
            SimFaults {
                throttle: 0.1,
                error: 0.05,
                latency: Duration::from_millis(20),
                ..SimFaults::default()
            }
        );
        assert_eq!(
            SimFaults::parse("lost_launch=0.5", ProviderKind::Kubevirt).unwrap_err(),
            "--faults: unknown key `lost_launch` for the kubevirt simulator; keys: throttle, error, latency"
        );
        assert_eq!(
            SimFaults::parse("errror=0.1", ProviderKind::Oci).unwrap_err(),
            "--faults: unknown key `errror` for the oci simulator (did you mean `error`?); keys: throttle, error, latency, lost_launch, auth"
        );
        assert_eq!(
            SimFaults::parse("error=2", ProviderKind::Oci).unwrap_err(),
            "--faults: error `2` must be a share from 0 to 1, e.g. 0.05"
        );
        assert_eq!(
            SimFaults::parse("latency", ProviderKind::Oci).unwrap_err(),
            "--faults: `latency` is not KEY=VALUE (keys for oci: throttle, error, latency, lost_launch, auth)"
        );
    }

    #[test]
    fn serve_words_name_the_simulator() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_serve(&words(&["serve", "vmware"]), None, None).unwrap_err(),
            "unknown simulator `vmware`: expected kubevirt or oci"
        );
        assert_eq!(
            parse_serve(&words(&["serve", "oci"]), Some("localhost"), None).unwrap_err(),
            "--listen `localhost` is not an address with a port, e.g. 127.0.0.1:8443"
        );
        let (kind, addr, _) = parse_serve(&words(&["serve", "kubevirt"]), None, None).unwrap();
        assert_eq!(
            (kind, addr.to_string()),
            (ProviderKind::Kubevirt, "127.0.0.1:0".into())
        );
    }
}
