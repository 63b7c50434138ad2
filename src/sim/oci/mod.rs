//! A stateful fake of the OCI Compute and Identity REST API (version `20160918`) on 127.0.0.1.
//!
//! Every request must carry a valid OCI HTTP signature made with the key the sim generates under
//! `<state_dir>/sim/oci/`; [`OciSim::config_file`] is an OCI config file the real client loads
//! unchanged. Instances live in `<state_dir>/sim/oci/state.json`, so separate `vauto` commands that
//! each start the sim in-process see the same tenancy.
//!
//! ```no_run
//! # async fn demo() -> Result<(), String> {
//! use vauto::sim::oci::{OciSimOptions, start};
//! let sim = start(OciSimOptions { state_dir: ".vauto".into(), ..OciSimOptions::default() }).await?;
//! // Load the profile in `sim.config_file()` and use `sim.base_url()` as the endpoint for
//! // both compute and identity; then call `/20160918/...` as against real OCI.
//! println!("{} {}", sim.base_url(), sim.config_file().display());
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod auth;
pub mod catalog;
mod console;
mod error;
mod gate;
mod others;
mod principals;
mod sessions;
mod state;
mod tenancy;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use state::{Delays, Store};

/// Capacity of one availability domain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdCapacity {
    /// Launch attempts in this AD answered "Out of host capacity." before one succeeds.
    pub free_after_attempts: u64,
    /// At most this many live (not terminating/terminated) instances fit in the AD.
    pub max_instances: Option<u32>,
    /// Shapes offered in this AD; `None` offers every shape the sim knows.
    pub shapes: Option<Vec<String>>,
    /// Starts of a stopped instance in this AD answered "Out of host capacity." before one
    /// succeeds: OCI gives a stopped instance's host away (Always Free A1 reclamation), and
    /// a start then needs new capacity like a launch.
    pub start_refusals: u64,
}

/// Capacity per availability domain, keyed by the AD suffix (`AD-1`, `AD-2`, `AD-3`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapacityModel {
    /// Per-AD settings; an AD not listed uses `default`.
    pub per_ad: BTreeMap<String, AdCapacity>,
    /// Settings for ADs not in `per_ad`.
    pub default: AdCapacity,
    /// Service limit on the OCPUs of all live instances; beyond it launches get 400 `LimitExceeded`.
    pub ocpu_limit: Option<f64>,
}

impl CapacityModel {
    /// The settings for the AD with suffix `suffix`.
    pub fn for_ad(&self, suffix: &str) -> &AdCapacity {
        self.per_ad.get(suffix).unwrap_or(&self.default)
    }
}

/// Injected failures; all random choices come from the seeded RNG.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Fraction (0..=1) of authenticated requests answered 500 `InternalError` or 503 before any effect.
    pub error_rate: f64,
    /// Fraction of authenticated requests whose connection is closed without a response, before any effect.
    pub reset_rate: f64,
    /// Delay added to every response.
    pub latency: Duration,
    /// Extra random delay, uniform in `0..=latency_jitter`.
    pub latency_jitter: Duration,
    /// Fraction of successful launches whose instance is created but whose response is lost.
    pub lost_launch_rate: f64,
    /// Lose such a response by closing the connection (`true`) or by answering 500 (`false`).
    pub lost_launch_reset: bool,
    /// Fraction of authenticated requests answered 429 `TooManyRequests` (with `retry-after`)
    /// before any effect, whatever the token bucket of [`RateLimit`] says.
    pub throttle_rate: f64,
    /// Fraction of requests answered 401 `NotAuthenticated` although their signature is good,
    /// as when OCI's identity service briefly fails to check a key.
    pub auth_failure_rate: f64,
}

/// Token bucket per tenancy: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Bucket size.
    pub burst: u32,
    /// Refill rate in requests per second.
    pub per_second: f64,
}

/// How to run the simulator.
#[derive(Debug, Clone)]
pub struct OciSimOptions {
    /// The vauto state directory; the sim keeps its files in `<state_dir>/sim/oci/`.
    pub state_dir: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Which launches find capacity.
    pub capacity: CapacityModel,
    /// Injected failures.
    pub faults: Faults,
    /// 429 throttling; `None` never throttles.
    pub rate_limit: Option<RateLimit>,
    /// Most items per page of a list call (a larger `limit` is capped, as OCI caps it).
    pub page_size: usize,
    /// Seed of the RNG behind faults and generated OCIDs.
    pub seed: u64,
    /// PROVISIONING lasts this long.
    pub provision_delay: Duration,
    /// STOPPING, STARTING and TERMINATING last this long.
    pub transition_delay: Duration,
    /// Requests whose `date` is further off than this are rejected (OCI allows 5 minutes).
    pub max_clock_skew: Duration,
    /// Whether the simulated subnet was created with a DNS label; without one, a launch that
    /// asks for a `hostnameLabel` is refused, as OCI refuses it.
    pub subnet_dns: bool,
    /// When set, every request that passes the signature check is appended here as
    /// `METHOD /path?query`, so a test can see what a client sent.
    pub request_log: Option<Arc<Mutex<Vec<String>>>>,
    /// Whether the metadata service answers `/opc/v1` (OCI lets a tenancy disable it: 404).
    pub imds_v1: bool,
    /// Whether it answers `/opc/v2` (images without IMDSv2 support: 404).
    pub imds_v2: bool,
    /// Guests ignore the ACPI shutdown of a SOFTSTOP: the instance stays STOPPING until OCI
    /// powers it off after 15 minutes, or a STOP.
    pub guest_ignores_softstop: bool,
    /// How long the session tokens of the auth service's `/v1/x509` are good for.
    pub session_ttl: Duration,
}

impl Default for OciSimOptions {
    fn default() -> Self {
        OciSimOptions {
            state_dir: PathBuf::from(".vauto"),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            capacity: CapacityModel::default(),
            faults: Faults::default(),
            rate_limit: None,
            page_size: 50,
            seed: 0,
            provision_delay: Duration::from_secs(2),
            transition_delay: Duration::from_secs(2),
            max_clock_skew: Duration::from_secs(300),
            subnet_dns: true,
            request_log: None,
            imds_v1: true,
            imds_v2: true,
            guest_ignores_softstop: false,
            session_ttl: Duration::from_secs(20 * 60),
        }
    }
}

/// Token bucket state.
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Shared server state.
pub(crate) struct Sim {
    opts: OciSimOptions,
    delays: Delays,
    key_id: String,
    public_key: rsa::RsaPublicKey,
    store: Mutex<Store>,
    rng: Mutex<fastrand::Rng>,
    bucket: Mutex<Option<Bucket>>,
    /// The instance principal's certificate and key, made on first use.
    identity: tokio::sync::OnceCell<Arc<principals::Identity>>,
}

impl Sim {
    fn rng<T>(&self, f: impl FnOnce(&mut fastrand::Rng) -> T) -> T {
        f(&mut self.rng.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Takes a token; on an empty bucket returns the seconds until one is available.
    fn throttle(&self) -> Option<u64> {
        let limit = self.opts.rate_limit?;
        let mut guard = self.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let b = guard.get_or_insert(Bucket {
            tokens: f64::from(limit.burst),
            last: now,
        });
        let per_second = limit.per_second.max(1e-6);
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * per_second)
            .min(f64::from(limit.burst));
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            None
        } else {
            Some(((1.0 - b.tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

/// Marks a response whose connection must be closed without answering.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("simulated connection reset")
    }
}

impl std::error::Error for ResetConnection {}

/// A response that makes the server drop the connection.
pub(crate) fn reset_response() -> Response {
    let mut r = Response::new(Body::empty());
    r.extensions_mut().insert(ResetConnection);
    r
}

/// A running simulator; dropping it stops the server.
pub struct OciSim {
    addr: SocketAddr,
    config_file: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl OciSim {
    /// `http://127.0.0.1:<port>`: use it as the OCI endpoint for both compute and identity.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OCI config file (`[DEFAULT]` profile) for the simulated tenancy.
    pub fn config_file(&self) -> PathBuf {
        self.config_file.clone()
    }

    /// Stops accepting connections, drops open ones and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for OciSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Directory of the sim's files inside the state dir.
pub fn sim_dir(state_dir: &std::path::Path) -> PathBuf {
    state_dir.join("sim").join("oci")
}

pub use principals::{INSTANCE_OCID, LEAF_KEY_FILE};
pub use sessions::issue_session_token;

/// Prepares the tenancy and state, binds the listener and serves in a background task.
pub async fn start(opts: OciSimOptions) -> Result<OciSim, String> {
    crate::tls::install_crypto_provider();
    let dir = sim_dir(&opts.state_dir);
    let tenancy = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || tenancy::ensure(&dir)
    })
    .await
    .map_err(|e| format!("the sim setup task failed: {e}"))??;
    let store = Store::open(dir.join("state.json"))?;
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|e| format!("cannot listen on `{}`: {e}", opts.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listen address: {e}"))?;
    let sim = Arc::new(Sim {
        delays: Delays {
            provision: opts.provision_delay,
            transition: opts.transition_delay,
        },
        rng: Mutex::new(fastrand::Rng::with_seed(opts.seed)),
        key_id: tenancy.key_id,
        public_key: tenancy.public_key,
        store: Mutex::new(store),
        bucket: Mutex::new(None),
        identity: tokio::sync::OnceCell::new(),
        opts,
    });
    let app = router(sim);
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(serve(listener, app, stopped));
    tracing::debug!(%addr, "oci simulator listening");
    Ok(OciSim {
        addr,
        config_file: tenancy.config_file,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Runs the simulator until Ctrl-C (for benchmarks and manual use).
pub async fn serve_forever(opts: OciSimOptions) -> Result<(), String> {
    let sim = start(opts).await?;
    tracing::info!(url = %sim.base_url(), config = %sim.config_file().display(), "oci simulator running");
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for ctrl-c: {e}"))?;
    sim.shutdown().await;
    Ok(())
}

/// Accept loop: hyper directly (not `axum::serve`) so a handler can drop a connection unanswered.
async fn serve(listener: TcpListener, app: Router, mut stopped: oneshot::Receiver<()>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let app = app.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let app = app.clone();
                        async move {
                            let resp = tower::ServiceExt::oneshot(app, req.map(Body::new))
                                .await
                                .unwrap_or_else(|e: Infallible| match e {});
                            if resp.extensions().get::<ResetConnection>().is_some() {
                                // hyper closes the connection without writing a response.
                                return Err(ResetConnection);
                            }
                            Ok(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}

fn router(sim: Arc<Sim>) -> Router {
    api::routes()
        .route(
            "/opc/{version}/{a}/{b}",
            axum::routing::get(principals::metadata),
        )
        .route("/v1/x509", axum::routing::post(principals::federate))
        .layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            gate::gate,
        ))
        .with_state(sim)
}

impl Sim {
    /// Locks the store after picking up changes made by another process.
    fn store(&self) -> Result<std::sync::MutexGuard<'_, Store>, error::ApiError> {
        let mut s = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = s.refresh() {
            tracing::warn!(error = %e, "oci simulator cannot reload its state");
            return Err(error::internal("The simulator state could not be read."));
        }
        Ok(s)
    }
}
