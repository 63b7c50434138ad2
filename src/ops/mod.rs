//! Operations around actions: run lock, journal, notifications, schedules.

pub mod lock;
pub mod logging;
pub mod notify;
pub mod schedule;
