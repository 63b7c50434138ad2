//! Deploy, delete, status and power actions over any provider, with bounded concurrency and retry.

mod delete;
mod deploy;
mod power;
pub(crate) mod retry;
mod step;

pub(crate) use delete::delete;
pub(crate) use deploy::{DeployOptions, deploy};
pub(crate) use power::{PowerOptions, power};
