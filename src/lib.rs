//! vauto: deploy, delete and report virtual machines on KubeVirt/OpenShift and OCI from YAML.

pub mod config;
pub mod engine;
pub mod ops;
pub mod plan;
pub mod provider;
#[cfg(feature = "sim")]
pub mod sim;
pub mod ui;
