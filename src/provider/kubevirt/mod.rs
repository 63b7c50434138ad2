//! KubeVirt / OpenShift Virtualization through the Kubernetes API.

pub mod resources;

pub use resources::planned_objects;
