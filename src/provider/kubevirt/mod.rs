//! KubeVirt / OpenShift Virtualization through the Kubernetes API.

pub mod client;
pub mod config;
pub mod provider;
pub mod resources;

pub use provider::KubevirtProvider;
pub use resources::planned_objects;

#[cfg(test)]
mod tests;
