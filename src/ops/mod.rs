//! Operations around actions: run lock, journal, notifications, schedules.

pub mod journal;
pub mod lock;
pub mod logging;
pub mod notify;
pub mod report;
pub mod schedule;
