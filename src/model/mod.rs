//! The shared vocabulary: actions, outcomes, reports, events, error classes and instances.
//!
//! A leaf: it imports nothing else of vauto, so the engine, the providers, the operations
//! layer and the UI all speak it without importing each other.

mod action;
mod error;
mod event;
mod instance;
mod report;
mod select;
mod status;

pub(crate) use action::{Action, Power, ProviderKind};
pub(crate) use error::{ErrorClass, ErrorCode, ProviderError};
#[cfg(test)]
pub(crate) use event::Recorder;
#[cfg(test)]
pub(crate) use event::Silent;
pub(crate) use event::{Event, Fanout, Observer, PlacementInfo, short_zone};
pub(crate) use instance::{DeleteOptions, Existing, Scope};
pub(crate) use report::{Outcome, ResourceReport, Summary};
pub(crate) use select::{Select, SelectKind};
pub(crate) use status::{
    GuestOs, InstanceStatus, NetInterface, StatusEvent, StatusExtra, StatusOptions,
};
