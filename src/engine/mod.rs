//! Deploy, delete, status and power actions over any provider, with bounded concurrency and retry.

pub mod observer;
