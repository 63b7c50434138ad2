//! Oracle Cloud Infrastructure Compute through its signed REST API.

mod addresses;
pub mod client;
pub mod config;
mod generations;
mod image;
pub mod provider;
pub mod resources;
pub mod signer;
mod status;
mod wait;

#[cfg(all(test, feature = "sim"))]
mod sim_tests;

pub use provider::OciProvider;
