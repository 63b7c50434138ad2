//! Oracle Cloud Infrastructure Compute through its signed REST API.

pub mod client;
pub mod config;
pub mod provider;
pub mod resources;
pub mod signer;

pub use provider::OciProvider;
