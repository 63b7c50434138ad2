//! Runs one built-in simulator (OCI or Kubernetes) as a standalone process for the benchmarks.
//!
//! ```sh
//! cargo build --release --bench simserver      # then run target/release/deps/simserver-<hash>
//! simserver oci  --state-dir /tmp/s --latency 20ms
//! simserver kube --state-dir /tmp/s --latency 20ms
//! ```
//!
//! Once listening it prints `url <base url>` and `config <path>` (the OCI config file or the
//! kubeconfig), one per line, and serves until SIGINT/SIGTERM or `--max-time` (default 15m),
//! so a benchmark whose script died never leaves a server behind for long.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use vauto::sim::{kube, oci};

/// The command line: which simulator, and its knobs.
#[derive(Parser, Debug)]
#[command(name = "simserver", about = "Serve a vauto simulator on 127.0.0.1")]
struct Cli {
    #[command(subcommand)]
    sim: Option<Sim>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true, global = true)]
    bench: bool,
}

/// The simulator to run.
#[derive(Subcommand, Debug)]
enum Sim {
    /// The OCI Compute/Identity simulator.
    Oci {
        #[command(flatten)]
        common: Common,
        /// How long PROVISIONING lasts.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "2s")]
        provision_delay: Duration,
        /// How long STOPPING, STARTING and TERMINATING last.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "2s")]
        transition_delay: Duration,
        /// Most items per page of a list call.
        #[arg(long, default_value_t = 50)]
        page_size: usize,
    },
    /// The Kubernetes (KubeVirt, CDI, Multus) simulator.
    Kube {
        #[command(flatten)]
        common: Common,
        /// How long a DataVolume import takes.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "20s")]
        import_duration: Duration,
        /// How long a VMI takes to boot.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "8s")]
        boot_duration: Duration,
    },
}

/// Options both simulators take.
#[derive(Args, Debug)]
struct Common {
    /// The vauto state directory the simulator keeps its files in (`<dir>/sim/...`).
    #[arg(long)]
    state_dir: PathBuf,
    /// Delay added to every response, e.g. `20ms`.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    latency: Duration,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Stop by itself after this long.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "15m")]
    max_time: Duration,
}

impl Common {
    fn listen(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let Some(sim) = cli.sim else {
        // `cargo bench` runs every bench target: this one is a server, not a measurement.
        eprintln!("simserver: nothing to measure here; see benches/providers.sh");
        return std::process::ExitCode::SUCCESS;
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("simserver: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(sim)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("simserver: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Starts the simulator, prints where it is, and serves until a signal or the time limit.
async fn run(sim: Sim) -> Result<(), String> {
    match sim {
        Sim::Oci {
            common,
            provision_delay,
            transition_delay,
            page_size,
        } => {
            let opts = oci::OciSimOptions {
                state_dir: common.state_dir.clone(),
                listen: common.listen(),
                faults: oci::Faults {
                    latency: common.latency,
                    ..oci::Faults::default()
                },
                page_size,
                provision_delay,
                transition_delay,
                ..oci::OciSimOptions::default()
            };
            let server = oci::start(opts).await?;
            announce(&server.base_url(), &server.config_file());
            wait(common.max_time).await;
            server.shutdown().await;
        }
        Sim::Kube {
            common,
            import_duration,
            boot_duration,
        } => {
            let opts = kube::KubeSimOptions {
                state_dir: common.state_dir.clone(),
                listen: common.listen(),
                latency: common.latency,
                import_duration,
                boot_duration,
                ..kube::KubeSimOptions::default()
            };
            let server = kube::start(opts).await?;
            announce(&server.base_url(), &server.kubeconfig());
            wait(common.max_time).await;
            server.shutdown().await;
        }
    }
    Ok(())
}

/// Prints the two lines the bench script waits for.
fn announce(url: &str, config: &std::path::Path) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    // The script polls for these lines in a file, so flush them at once.
    let _ = writeln!(out, "url {url}\nconfig {}", config.display());
    let _ = out.flush();
}

/// Returns on SIGINT, SIGTERM or after `limit`.
async fn wait(limit: Duration) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
        () = tokio::time::sleep(limit) => eprintln!("simserver: --max-time reached, stopping"),
    }
}
