//! A stateful fake Kubernetes API (KubeVirt, CDI, Multus) that the real kube-rs client talks to.
//!
//! The simulator serves exactly the resources vauto uses on `127.0.0.1`, keeps its
//! objects in `<state_dir>/sim/kube/` (a `state.json` snapshot plus a `state.log`
//! journal) so that separate vauto processes see the same cluster, and writes a kubeconfig pointing at itself. The "controllers"
//! (CDI import, KubeVirt VM -> VMI, scheduling) are computed lazily from stored
//! timestamps whenever a request arrives, so no background task has to outlive a
//! short-lived command.

mod api;
mod catalog;

pub use catalog::SimStorageClass;
mod controller;
mod guest;
mod persist;
mod schemas;
mod select;
mod store;
mod tls;
mod validate;

#[cfg(test)]
mod strict_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A fake cluster node the simulated scheduler can place VMIs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimNode {
    /// Node name, reported as the VMI's `status.nodeName`.
    pub name: String,
    /// Node labels matched against `spec.template.spec.nodeSelector`.
    pub labels: BTreeMap<String, String>,
}

impl SimNode {
    /// A schedulable amd64 Linux worker in the given zone.
    pub fn worker(name: &str, zone: &str) -> Self {
        let labels = [
            ("kubernetes.io/hostname", name),
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
            ("node-role.kubernetes.io/worker", ""),
            ("topology.kubernetes.io/zone", zone),
            ("kubevirt.io/schedulable", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Self {
            name: name.to_string(),
            labels,
        }
    }
}

/// How to run the Kubernetes simulator.
#[derive(Clone)]
pub struct KubeSimOptions {
    /// The vauto state directory; the simulator keeps its files under `<state_dir>/sim/kube/`.
    pub state_dir: PathBuf,
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The bearer token every request must carry (written into the generated kubeconfig).
    pub token: String,
    /// Tokens that may read but get 403 Forbidden on every write.
    pub read_only_tokens: Vec<String>,
    /// Namespaces that exist from the start, besides `default`, `kube-system`,
    /// `kube-public` and [`Self::namespace`]; a create anywhere else is 404.
    pub namespaces: Vec<String>,
    /// Added to every request before it is answered.
    pub latency: Duration,
    /// Share of requests answered with 500 InternalError or 503 ServiceUnavailable.
    pub error_rate: f64,
    /// Share of requests answered with 429 TooManyRequests and `Retry-After`.
    pub throttle_rate: f64,
    /// The `Retry-After` sent with a 429 (whole seconds, at least 1).
    pub retry_after: Duration,
    /// Seed for the fault-injection random numbers, so a run can be repeated.
    pub seed: u64,
    /// How long a DataVolume import takes from creation to `Succeeded`.
    pub import_duration: Duration,
    /// How long a VMI takes from creation to `Running`.
    pub boot_duration: Duration,
    /// How long a list `continue` token stays valid before it answers 410 Expired.
    pub continue_ttl: Duration,
    /// The fake nodes the scheduler picks from.
    pub nodes: Vec<SimNode>,
    /// The kubeconfig's context name (default `vauto-sim`): a real project's
    /// `kubevirt.context`, so that adding `sim: true` is all a rehearsal needs.
    pub context: Option<String>,
    /// The context's namespace (default `default`).
    pub namespace: Option<String>,
    /// The cluster's storage classes (read-only; default [`SimStorageClass::defaults`]).
    pub storage_classes: Vec<SimStorageClass>,
    /// Guests run a guest agent (default): VMIs report `status.guestOSInfo` (the OS their
    /// disk image names) and the addresses seen inside the guest; off, as for an image
    /// without qemu-guest-agent, `guestOSInfo` is `{}` and a bridged interface has no address.
    pub guest_agent: bool,
    /// Namespaces whose `datavolumes/source` the token's user may not `create`: a
    /// DataVolume (or a VM's `dataVolumeTemplates` entry) cloning a PVC or DataSource from
    /// one is refused as CDI's and KubeVirt's webhooks refuse it, and a
    /// SelfSubjectAccessReview for it answers `allowed: false` (default: none; the token is
    /// the cluster's admin).
    pub clone_denied: Vec<String>,
}

impl Default for KubeSimOptions {
    fn default() -> Self {
        Self {
            state_dir: PathBuf::from(".vauto"),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: "vauto-sim-token".to_string(),
            read_only_tokens: Vec::new(),
            namespaces: Vec::new(),
            latency: Duration::ZERO,
            error_rate: 0.0,
            throttle_rate: 0.0,
            retry_after: Duration::from_secs(1),
            seed: 0,
            import_duration: Duration::from_secs(20),
            boot_duration: Duration::from_secs(8),
            continue_ttl: Duration::from_secs(300),
            nodes: vec![
                SimNode::worker("worker-0", "zone-a"),
                SimNode::worker("worker-1", "zone-b"),
                SimNode::worker("worker-2", "zone-c"),
            ],
            context: None,
            namespace: None,
            storage_classes: SimStorageClass::defaults(),
            guest_agent: true,
            clone_denied: Vec::new(),
        }
    }
}

// Hand-written so tokens never reach logs.
impl fmt::Debug for KubeSimOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeSimOptions")
            .field("state_dir", &self.state_dir)
            .field("listen", &self.listen)
            .field("token", &"<redacted>")
            .field("read_only_tokens", &self.read_only_tokens.len())
            .field("namespaces", &self.namespaces)
            .field("latency", &self.latency)
            .field("error_rate", &self.error_rate)
            .field("throttle_rate", &self.throttle_rate)
            .field("retry_after", &self.retry_after)
            .field("seed", &self.seed)
            .field("import_duration", &self.import_duration)
            .field("boot_duration", &self.boot_duration)
            .field("continue_ttl", &self.continue_ttl)
            .field("nodes", &self.nodes)
            .field("guest_agent", &self.guest_agent)
            .field("clone_denied", &self.clone_denied)
            .finish()
    }
}

/// A running simulator; dropping it stops the server.
pub struct KubeSim {
    addr: SocketAddr,
    kubeconfig: PathBuf,
    ca_pem: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for KubeSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeSim")
            .field("addr", &self.addr)
            .field("kubeconfig", &self.kubeconfig)
            .finish()
    }
}

impl KubeSim {
    /// The API server URL, e.g. `https://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The PEM certificate of the CA that signed the server's certificate (also in the
    /// kubeconfig's `certificate-authority-data`), for clients that do not read the kubeconfig.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The socket address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The generated kubeconfig (`<state_dir>/sim/kube/kubeconfig`, context `vauto-sim`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.kubeconfig.clone()
    }

    /// Stops the server and waits until it has finished answering in-flight requests.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            // Graceful shutdown waits for open connections; do not hang on a stuck client.
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for KubeSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The simulator's folder inside a vauto state directory.
pub fn sim_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("sim").join("kube")
}

/// Every object stored in a simulator state folder, as clients would read it (no latency,
/// no controllers run); for tests that watch a simulator another process is driving.
pub fn stored_objects(state_dir: &Path) -> Result<Vec<serde_json::Value>, String> {
    let dir = sim_dir(state_dir);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let disk = persist::Disk::open(&dir)?;
    let held = disk.lock()?;
    let store = disk.load(&held)?;
    Ok(store.objects.into_values().map(|e| e.object).collect())
}

/// Starts the simulator: loads its state, binds the port and writes the kubeconfig.
pub async fn start(opts: KubeSimOptions) -> Result<KubeSim, String> {
    let dir = sim_dir(&opts.state_dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create simulator folder `{}`: {e}", dir.display()))?;
    let disk = persist::Disk::open(&dir)?;
    let store = {
        let held = disk.lock()?;
        let mut store = disk.load(&held)?;
        // The kubeconfig context's namespace exists too: kubectl and vauto default to it.
        let mut namespaces = opts.namespaces.clone();
        namespaces.extend(opts.namespace.clone());
        api::seed_namespaces(&mut store, &namespaces);
        // Start each process from a fresh snapshot so the journal stays short.
        disk.compact(&mut store, &held)?;
        store
    };
    // Every write is validated against the schemas embedded in the binary.
    let schemas = validate::Schemas::embedded()?;
    let certs = tls::load_or_create(&dir)?;
    let tls_config = tls::server_config(&certs)?;
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| format!("cannot listen on `{}`: {e}", opts.listen))?;
    let listener = tls::TlsListener::new(listener, tls_config)
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let addr = axum::serve::Listener::local_addr(&listener)
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let kubeconfig = dir.join("kubeconfig");
    write_kubeconfig(&kubeconfig, addr, &certs.ca_pem, &opts)?;

    let (closing_tx, closing) = tokio::sync::watch::channel(false);
    let shared = Arc::new(api::Shared {
        closing,
        watch_floor: store.resource_version,
        fault_rng: Mutex::new(fastrand::Rng::with_seed(opts.seed)),
        opts,
        store: Mutex::new(store),
        disk,
        schemas,
        settled_at: std::sync::atomic::AtomicU64::new(u64::MAX),
    });
    let app = api::router(shared);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
                // End open watches, or the graceful shutdown would wait for them.
                let _ = closing_tx.send(true);
            })
            .await;
        if let Err(e) = served {
            tracing::warn!("kubernetes simulator stopped: {e}");
        }
    });
    tracing::debug!("kubernetes simulator listening on https://{addr}");
    Ok(KubeSim {
        addr,
        kubeconfig,
        ca_pem: certs.ca_pem,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// Runs the simulator until Ctrl-C (for benchmarks and manual poking with `kubectl`).
pub async fn serve_forever(opts: KubeSimOptions) -> Result<(), String> {
    let sim = start(opts).await?;
    tracing::info!(
        "kubernetes simulator at {} (kubeconfig `{}`)",
        sim.base_url(),
        sim.kubeconfig().display()
    );
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for ctrl-c: {e}"))?;
    sim.shutdown().await;
    Ok(())
}

/// Writes a kubeconfig for `https://addr` trusting the simulator's CA, with the bearer
/// token, readable only by the owner.
fn write_kubeconfig(
    path: &Path,
    addr: SocketAddr,
    ca_pem: &str,
    opts: &KubeSimOptions,
) -> Result<(), String> {
    use base64::Engine;
    // JSON strings are valid YAML double-quoted scalars, so this quotes any name safely.
    let json = |s: &str| serde_json::to_string(s).map_err(|e| format!("cannot encode: {e}"));
    let quoted = json(&opts.token)?;
    let context = json(opts.context.as_deref().unwrap_or("vauto-sim"))?;
    let namespace = json(opts.namespace.as_deref().unwrap_or("default"))?;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let mut users = format!("- name: vauto-sim\n  user:\n    token: {quoted}\n");
    let mut contexts = format!(
        "- name: {context}\n  context:\n    cluster: vauto-sim\n    user: vauto-sim\n    namespace: {namespace}\n"
    );
    // A context whose token may only read, for rehearsing RBAC (`--context vauto-sim-readonly`).
    if let Some(ro) = opts.read_only_tokens.first() {
        let ro = json(ro)?;
        users.push_str(&format!(
            "- name: vauto-sim-readonly\n  user:\n    token: {ro}\n"
        ));
        contexts.push_str(&format!(
            "- name: vauto-sim-readonly\n  context:\n    cluster: vauto-sim\n    user: vauto-sim-readonly\n    namespace: {namespace}\n"
        ));
    }
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: vauto-sim\n  cluster:\n    server: https://{addr}\n    certificate-authority-data: {ca}\n\
         users:\n{users}contexts:\n{contexts}current-context: {context}\npreferences: {{}}\n"
    );
    store::write_atomic(path, text.as_bytes(), true)
}
