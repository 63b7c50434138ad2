//! KubeVirt / OpenShift Virtualization through the Kubernetes API.

pub mod client;
pub mod config;
pub mod resources;

pub use resources::planned_objects;
