//! Operations around actions: run lock, journal, notifications, schedules.
