//! Progress for a log (stderr not a terminal): a line per instance at most every 30 s while
//! one step lasts, and on every phase change once such a line was printed.
//!
//! A step that ends within 30 s prints nothing, so short runs keep their output exact; a wait
//! that drags on says so every 30 s, and from then on also says each new phase. The clock is
//! the caller's: every call is given `now`, so the rules are tested without sleeping.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The longest a log stays silent about an instance that is still waiting.
pub(crate) const EVERY: Duration = Duration::from_secs(30);

/// What to do with one progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Beat {
    /// Print the progress line; the step has lasted this long.
    Print(Duration),
    /// The text changed, but no line is due (printed only with `--verbose`).
    Changed,
    /// Nothing new.
    Same,
}

struct Track {
    since: Instant,
    printed: Option<Instant>,
    phase: String,
    text: String,
}

/// Per-instance timing of progress lines.
#[derive(Default)]
pub(crate) struct Heartbeat {
    tracks: Mutex<HashMap<String, Track>>,
}

impl Heartbeat {
    /// `instance` is at `phase` (shown as `text`, which may add a percentage) at `now`.
    pub(crate) fn progress(&self, instance: &str, phase: &str, text: &str, now: Instant) -> Beat {
        let Ok(mut tracks) = self.tracks.lock() else {
            return Beat::Same;
        };
        let Some(t) = tracks.get_mut(instance) else {
            tracks.insert(
                instance.to_string(),
                Track {
                    since: now,
                    printed: None,
                    phase: phase.to_string(),
                    text: text.to_string(),
                },
            );
            return Beat::Changed;
        };
        let new_phase = t.phase != phase;
        let new_text = t.text != text;
        t.phase = phase.to_string();
        t.text = text.to_string();
        let due = match t.printed {
            None => now.duration_since(t.since) >= EVERY,
            Some(at) => new_phase || now.duration_since(at) >= EVERY,
        };
        if due {
            t.printed = Some(now);
            Beat::Print(now.duration_since(t.since))
        } else if new_text {
            Beat::Changed
        } else {
            Beat::Same
        }
    }

    /// A result line for `instance` ends its step: the next one is timed afresh.
    pub(crate) fn reset(&self, instance: &str) {
        if let Ok(mut tracks) = self.tracks.lock() {
            tracks.remove(instance);
        }
    }
}

/// `waiting for web-01: ErrorUnschedulable 1m 30s`.
pub(crate) fn line(instance: &str, text: &str, elapsed: Duration) -> String {
    let secs = Duration::from_secs(elapsed.as_secs());
    format!(
        "waiting for {instance}: {text} {}",
        humantime::format_duration(secs)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_for_30s_then_every_30s_and_on_each_phase_change() {
        let hb = Heartbeat::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(
            hb.progress("a", "disk ImportInProgress", "x 1%", at(0)),
            Beat::Changed
        );
        assert_eq!(
            hb.progress("a", "disk ImportInProgress", "x 1%", at(2)),
            Beat::Same
        );
        // A new phase inside the first 30 s is no reason to print yet.
        assert_eq!(
            hb.progress("a", "Starting", "Starting", at(4)),
            Beat::Changed
        );
        assert_eq!(hb.progress("a", "Starting", "Starting", at(29)), Beat::Same);
        assert_eq!(
            hb.progress("a", "Starting", "Starting", at(30)),
            Beat::Print(Duration::from_secs(30))
        );
        assert_eq!(hb.progress("a", "Starting", "Starting", at(59)), Beat::Same);
        assert_eq!(
            hb.progress("a", "Starting", "Starting", at(60)),
            Beat::Print(Duration::from_secs(60))
        );
        // Once the wait is long, every phase change is said at once.
        assert_eq!(
            hb.progress("a", "ErrorUnschedulable", "ErrorUnschedulable", at(61)),
            Beat::Print(Duration::from_secs(61))
        );
        // Instances are timed apart, and a result line starts the clock again.
        assert_eq!(
            hb.progress("b", "Pending", "Pending", at(61)),
            Beat::Changed
        );
        hb.reset("a");
        assert_eq!(
            hb.progress("a", "Starting", "Starting", at(62)),
            Beat::Changed
        );
        assert_eq!(hb.progress("a", "Starting", "Starting", at(91)), Beat::Same);
    }

    #[test]
    fn the_line_names_instance_phase_and_whole_seconds() {
        assert_eq!(
            line(
                "web-01",
                "ErrorUnschedulable",
                Duration::from_millis(90_400)
            ),
            "waiting for web-01: ErrorUnschedulable 1m 30s"
        );
    }
}
