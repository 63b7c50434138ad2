//! Oracle Cloud Infrastructure Compute through its signed REST API.

mod addresses;
pub(crate) mod auth;
pub(crate) mod client;
pub(crate) mod config;
mod generations;
mod image;
pub(crate) mod instance_principal;
pub(crate) mod provider;
pub(crate) mod resources;
mod selected;
pub(crate) mod signer;
mod status;
mod wait;

#[cfg(test)]
#[cfg(feature = "sim")]
mod sim_tests;

#[cfg(test)]
#[cfg(feature = "sim")]
mod auth_sim_tests;

pub(crate) use provider::OciProvider;
