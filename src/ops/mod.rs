//! Operations around actions: run lock, journal, notifications, schedules.

pub(crate) mod journal;
pub(crate) mod lock;
pub(crate) mod logging;
pub(crate) mod notify;
pub(crate) mod report;
pub(crate) mod schedule;
