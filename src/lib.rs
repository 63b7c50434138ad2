//! vauto: deploy, delete and report virtual machines on KubeVirt/OpenShift and OCI from YAML.

pub mod cli;
pub mod command;
pub mod config;
pub mod engine;
pub mod error;
pub mod files;
pub mod model;
pub mod ops;
pub mod plan;
pub mod provider;
#[cfg(feature = "sim")]
pub mod sim;
pub mod tls;
pub mod ui;

/// `vauto --version`: VERSION, target triple and git commit.
pub const VERSION_LINE: &str = concat!(
    env!("VAUTO_VERSION"),
    " (",
    env!("VAUTO_TARGET"),
    ", commit ",
    env!("VAUTO_COMMIT"),
    ")"
);

pub use command::main_entry;
