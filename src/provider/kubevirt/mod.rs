//! KubeVirt / OpenShift Virtualization through the Kubernetes API.
