//! Built-in simulators: fake OCI and Kubernetes APIs served on 127.0.0.1.

pub mod kube;
pub mod oci;
