//! Deploy, delete, status and power actions over any provider, with bounded concurrency and retry.

mod delete;
mod deploy;
mod power;
pub mod retry;

pub use delete::delete;
pub use deploy::{DeployOptions, deploy};
pub use power::power;
