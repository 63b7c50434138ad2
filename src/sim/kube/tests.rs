//! Tests driving the simulator with the real kube-rs client.
