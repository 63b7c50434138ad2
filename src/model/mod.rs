//! The shared vocabulary: actions, outcomes, reports, events, error classes and instances.
//!
//! A leaf: it imports nothing else of vauto, so the engine, the providers, the operations
//! layer and the UI all speak it without importing each other.

mod action;
mod error;
mod event;
mod instance;
mod report;

pub use action::{Action, Power, ProviderKind};
pub use error::{ErrorClass, ErrorCode, ProviderError};
pub use event::{Event, Fanout, Observer, PlacementInfo, Recorder, Silent, short_zone};
pub use instance::{DeleteOptions, Existing, InstanceStatus, Scope, StatusExtra};
pub use report::{Details, Outcome, ResourceReport, Summary};
