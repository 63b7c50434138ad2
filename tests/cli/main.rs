//! Integration tests: drive the real `vauto` binary against config folders and simulators.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_config;
mod daemon;
mod examples;
mod failure;
mod harness;
mod kubevirt;
mod lights;
mod oci;
mod oci_auth;
mod report;
mod sim_serve;
mod streams;
mod usage;
