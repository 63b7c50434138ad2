//! KubeVirt / OpenShift Virtualization through the Kubernetes API.

pub(crate) mod client;
pub(crate) mod config;
pub(crate) mod provider;
pub(crate) mod resources;
pub(crate) mod status;
pub(crate) mod terminal;

pub(crate) use provider::KubevirtProvider;

#[cfg(test)]
mod tests;
