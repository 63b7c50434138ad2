//! How the engine tells the UI, the journal and the notifier what is happening, without
//! printing itself.

use std::time::Duration;

use serde::Serialize;

use super::{ErrorClass, ResourceReport};

/// Where one attempt went, as observers see it: a label for people and the zone, if the
/// backend has zones (OCI availability domains; KubeVirt none).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct PlacementInfo {
    /// Short label for progress lines: `AD-1 2 OCPU/12 GB`, or `-`.
    pub label: String,
    /// The zone the attempt went to (full name), when the backend has zones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

/// A zone's name as people say it: without the account prefix OCI puts before an
/// availability domain (`Uocm:PHX-AD-1` → `PHX-AD-1`).
pub(crate) fn short_zone(zone: &str) -> &str {
    zone.rsplit(':').next().unwrap_or(zone)
}

/// Something that happened during a run.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// A resource reached its final outcome for this run (boxed: the other events are small).
    Report(Box<ResourceReport>),
    /// A create attempt is about to be made.
    AttemptStarted {
        /// Instance name.
        instance: String,
        /// 1-based attempt number for this instance.
        attempt: u64,
        /// Where the attempt goes.
        placement: PlacementInfo,
    },
    /// A create attempt failed and will (or will not) be retried.
    AttemptFailed {
        /// Instance name.
        instance: String,
        /// 1-based attempt number.
        attempt: u64,
        /// Where the attempt went.
        placement: PlacementInfo,
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
        /// The remark.
        message: String,
    },
}

/// Receives events; implementations must be cheap and never fail the run.
pub(crate) trait Observer: Send + Sync {
    /// Called for every event, possibly from several tasks at once.
    fn event(&self, event: Event);
}

/// An observer that drops everything (tests, quiet runs).
#[cfg(test)]
pub(crate) struct Silent;

#[cfg(test)]
impl Observer for Silent {
    fn event(&self, _: Event) {}
}

/// An observer that keeps every event (tests).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Recorder(pub std::sync::Mutex<Vec<Event>>);

#[cfg(test)]
impl Observer for Recorder {
    fn event(&self, event: Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(event);
        }
    }
}

#[cfg(test)]
impl Recorder {
    /// A copy of the events so far.
    pub(crate) fn events(&self) -> Vec<Event> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Sends every event to several observers.
pub(crate) struct Fanout<'a>(pub Vec<&'a dyn Observer>);

impl Observer for Fanout<'_> {
    fn event(&self, event: Event) {
        for o in &self.0 {
            o.event(event.clone());
        }
    }
}
