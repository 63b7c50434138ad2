//! Integration tests: drive the real `vauto` binary against config folders and simulators.

mod bad_config;
mod daemon;
mod examples;
mod harness;
mod kubevirt;
mod oci;
mod report;
mod usage;
