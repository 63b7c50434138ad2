//! Oracle Cloud Infrastructure Compute through its signed REST API.

pub mod config;
pub mod signer;
