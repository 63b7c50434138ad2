//! Diagnostic logging to stderr with `RUST_LOG`-style filters.

use tracing_subscriber::EnvFilter;

/// Installs the stderr logger: `RUST_LOG` wins, else `-v` raises and `-q` lowers the level.
pub fn init(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info,vauto=debug",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
