//! vauto: deploy, delete and report virtual machines on KubeVirt/OpenShift and OCI from YAML.

pub(crate) mod cli;
pub(crate) mod command;
pub(crate) mod config;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod files;
pub(crate) mod model;
pub(crate) mod ops;
pub(crate) mod plan;
pub(crate) mod provider;
#[cfg(feature = "sim")]
pub mod sim;
pub mod tls;
pub(crate) mod ui;

/// `vauto --version`: VERSION, target triple and git commit.
pub(crate) const VERSION_LINE: &str = concat!(
    env!("VAUTO_VERSION"),
    " (",
    env!("VAUTO_TARGET"),
    ", commit ",
    env!("VAUTO_COMMIT"),
    ")"
);

pub use command::main_entry;
