//! How the engine tells the UI (and the journal) what is happening, without printing itself.

use std::time::Duration;

use crate::provider::{ErrorClass, Placement, ResourceReport};

/// Something that happened during a run.
#[derive(Debug, Clone)]
pub enum Event {
    /// A resource reached its final outcome for this run.
    Report(ResourceReport),
    /// A create attempt is about to be made.
    AttemptStarted {
        /// Instance name.
        instance: String,
        /// 1-based attempt number for this instance.
        attempt: u64,
        /// Where the attempt goes.
        placement: Placement,
    },
    /// A create attempt failed and will (or will not) be retried.
    AttemptFailed {
        /// Instance name.
        instance: String,
        /// 1-based attempt number.
        attempt: u64,
        /// Where the attempt went.
        placement: Placement,
        /// The failure class.
        class: ErrorClass,
        /// The backend's message.
        message: String,
        /// Wait before the next try; `None` when the next try is immediate or there is none.
        next_try_in: Option<Duration>,
    },
    /// Progress of a long step (disk import, waiting for RUNNING).
    Progress {
        /// Instance name.
        instance: String,
        /// What is happening (`importing disk`, `PROVISIONING`).
        phase: String,
        /// Percent done, when known.
        percent: Option<f32>,
    },
    /// A remark for the operator (`dropping AD-2 for this run: shape not available`).
    Note {
        /// Instance the note is about, if any.
        instance: Option<String>,
        /// The remark.
        message: String,
    },
}

/// Receives events; implementations must be cheap and never fail the run.
pub trait Observer: Send + Sync {
    /// Called for every event, possibly from several tasks at once.
    fn event(&self, event: Event);
}

/// An observer that drops everything (tests, quiet runs).
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _: Event) {}
}

/// An observer that keeps every event (tests).
#[derive(Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<Event>>);

impl Observer for Recorder {
    fn event(&self, event: Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(event);
        }
    }
}

impl Recorder {
    /// A copy of the events so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Sends every event to several observers.
pub struct Fanout<'a>(pub Vec<&'a dyn Observer>);

impl Observer for Fanout<'_> {
    fn event(&self, event: Event) {
        for o in &self.0 {
            o.event(event.clone());
        }
    }
}
