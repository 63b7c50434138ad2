//! Schedule arithmetic for `vauto daemon`: next fire times in a time zone, what is due or
//! missed, the remembered last runs, and the per-tenancy gate that spaces capacity hunts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::CronExpr;

/// How far back the search for the next local fire time starts, so that fire times moved by
/// a daylight-saving change (at most an hour or two) are still seen.
const DST_SLACK: chrono::Duration = chrono::Duration::hours(2);
/// Candidates looked at before giving up (a per-second cron over two hours is 7 200).
const SEARCH_LIMIT: usize = 100_000;

/// The first fire time of `cron` strictly after `after`, reading the cron fields as wall-clock
/// time in `tz`, the way crontab does:
/// - a time that does not exist (spring forward) fires once, when the clock jumps past it;
/// - a time that exists twice (fall back) fires once, at its first occurrence.
pub(crate) fn next_fire(cron: &CronExpr, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = after.with_timezone(&tz).naive_local() - DST_SLACK;
    // The cron crate iterates in a zone; UTC has no gaps, so it walks naive wall-clock times.
    let start = Utc.from_utc_datetime(&local);
    cron.schedule
        .after(&start)
        .take(SEARCH_LIMIT)
        .filter_map(|naive| to_instant(tz, naive.naive_utc()))
        .find(|t| *t > after)
}

/// The instant a wall-clock time in `tz` happens (see [`next_fire`] for gaps and repeats).
fn to_instant(tz: Tz, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    use chrono::LocalResult;
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        // In a gap: the first minute that exists is when the clock jumped.
        LocalResult::None => (1..=180).find_map(|m| {
            tz.from_local_datetime(&(naive + chrono::Duration::minutes(m)))
                .earliest()
                .map(|t| {
                    let t = t.with_timezone(&Utc);
                    // Back to the exact jump: the minute before did not exist.
                    t - chrono::Duration::seconds(i64::from(chrono::Timelike::second(
                        &t.with_timezone(&tz),
                    )))
                })
        }),
    }
}

/// What to do about a schedule at `now`, given the last time it was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Nothing fired in between.
    No,
    /// It fired recently (within the grace period): run it now.
    Run(DateTime<Utc>),
    /// It fired while nobody was watching, longer than the grace period ago.
    Missed(DateTime<Utc>),
}

/// Whether `cron` fired in `(since, now]`: `Run` when a fire time is at most `grace` old,
/// `Missed` (with the first missed time) when all are older.
pub(crate) fn due(
    cron: &CronExpr,
    tz: Tz,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Due {
    let Some(first) = next_fire(cron, tz, since).filter(|t| *t <= now) else {
        return Due::No;
    };
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::zero());
    let recent_from = (now - grace).max(since);
    match next_fire(cron, tz, recent_from - chrono::Duration::nanoseconds(1)) {
        Some(t) if t <= now && t >= recent_from => Due::Run(t),
        _ => Due::Missed(first),
    }
}

/// The last time each schedule ran (or was looked at), kept in `<state>/daemon/last-runs.json`.
#[derive(Debug, Default)]
pub(crate) struct LastRuns {
    path: PathBuf,
    runs: BTreeMap<String, DateTime<Utc>>,
}

impl LastRuns {
    /// Reads the file; a missing or unreadable one starts empty (with a warning when corrupt).
    pub(crate) fn load(state_dir: &Path) -> LastRuns {
        let path = state_dir.join("daemon").join("last-runs.json");
        let runs = match std::fs::read_to_string(&path) {
            Ok(s) => serde_json::from_str(&s).unwrap_or_else(|e| {
                tracing::warn!(
                    "ignoring `{}`: {e}; missed runs cannot be detected this time",
                    path.display()
                );
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        LastRuns { path, runs }
    }

    /// The recorded time for `key`.
    pub(crate) fn get(&self, key: &str) -> Option<DateTime<Utc>> {
        self.runs.get(key).copied()
    }

    /// Records `key` at `t` and writes the file atomically (temp file + rename).
    pub(crate) fn set(&mut self, key: &str, t: DateTime<Utc>) -> std::io::Result<()> {
        self.runs.insert(key.to_string(), t);
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let text = serde_json::to_string_pretty(&self.runs).map_err(std::io::Error::other)?;
        crate::files::write_atomic(&self.path, text.as_bytes(), None)?;
        Ok(())
    }
}

/// One request budget per tenancy: capacity hunts take turns, one at a time, and a turn
/// starts no sooner than `spacing` after the previous one ended, so several hunts together
/// never poll faster than one run with the project's retry policy would.
#[derive(Debug)]
pub(crate) struct TenancyGate {
    last_end: tokio::sync::Mutex<Option<tokio::time::Instant>>,
    spacing: Duration,
}

/// A hunt's turn; the next one may start `spacing` after this is dropped.
pub(crate) struct Turn<'a>(tokio::sync::MutexGuard<'a, Option<tokio::time::Instant>>);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0 = Some(tokio::time::Instant::now());
    }
}

impl TenancyGate {
    /// A gate spacing turns by `spacing` (the project's `retry.interval`).
    pub(crate) fn new(spacing: Duration) -> TenancyGate {
        TenancyGate {
            last_end: tokio::sync::Mutex::new(None),
            spacing,
        }
    }

    /// Waits for this hunt's turn (first come, first served).
    pub(crate) async fn turn(&self) -> Turn<'_> {
        let guard = self.last_end.lock().await;
        if let Some(end) = *guard {
            tokio::time::sleep_until(end + self.spacing).await;
        }
        Turn(guard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(s: &str) -> CronExpr {
        s.parse().unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn seoul_weekday_mornings_are_utc_the_evening_before() {
        let c = cron("0 8 * * 1-5");
        // Friday 2026-11-20 09:00 KST: next is Monday 08:00 KST = Sunday 23:00 UTC.
        let t = next_fire(&c, chrono_tz::Asia::Seoul, utc("2026-11-20T00:00:00Z")).unwrap();
        assert_eq!(t, utc("2026-11-22T23:00:00Z"));
    }

    #[test]
    fn berlin_spring_forward_runs_a_missing_time_once_at_the_jump() {
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 does not exist.
        let c = cron("30 2 * * *");
        let berlin = chrono_tz::Europe::Berlin;
        let t = next_fire(&c, berlin, utc("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(t, utc("2026-03-29T01:00:00Z"));
        // And the day after it is back to 02:30 CEST = 00:30 UTC.
        let t2 = next_fire(&c, berlin, t).unwrap();
        assert_eq!(t2, utc("2026-03-30T00:30:00Z"));
        // A time outside the gap only moves by the offset: 08:00 CET then 08:00 CEST.
        let m = cron("0 8 * * *");
        assert_eq!(
            next_fire(&m, berlin, utc("2026-03-28T00:00:00Z")).unwrap(),
            utc("2026-03-28T07:00:00Z")
        );
        assert_eq!(
            next_fire(&m, berlin, utc("2026-03-28T08:00:00Z")).unwrap(),
            utc("2026-03-29T06:00:00Z")
        );
    }

    #[test]
    fn berlin_fall_back_runs_a_repeated_time_once() {
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
        let c = cron("30 2 * * *");
        let berlin = chrono_tz::Europe::Berlin;
        let first = next_fire(&c, berlin, utc("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(first, utc("2026-10-25T00:30:00Z")); // 02:30 CEST
        let next = next_fire(&c, berlin, first).unwrap();
        assert_eq!(next, utc("2026-10-26T01:30:00Z")); // 02:30 CET the next day, not 01:30 UTC
    }

    #[test]
    fn recent_fire_runs_old_fire_is_missed_and_quiet_windows_are_not_due() {
        let c = cron("0 7 * * *");
        let z = chrono_tz::UTC;
        let g = Duration::from_secs(300);
        assert_eq!(
            due(
                &c,
                z,
                utc("2026-11-22T06:00:00Z"),
                utc("2026-11-22T07:01:00Z"),
                g
            ),
            Due::Run(utc("2026-11-22T07:00:00Z"))
        );
        assert_eq!(
            due(
                &c,
                z,
                utc("2026-11-22T06:00:00Z"),
                utc("2026-11-22T09:00:00Z"),
                g
            ),
            Due::Missed(utc("2026-11-22T07:00:00Z"))
        );
        assert_eq!(
            due(
                &c,
                z,
                utc("2026-11-22T07:00:00Z"),
                utc("2026-11-22T07:04:00Z"),
                g
            ),
            Due::No
        );
    }

    #[test]
    fn last_runs_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = LastRuns::load(dir.path());
        assert_eq!(r.get("k"), None);
        r.set("k", utc("2026-11-22T07:00:00Z")).unwrap();
        let again = LastRuns::load(dir.path());
        assert_eq!(again.get("k"), Some(utc("2026-11-22T07:00:00Z")));
    }

    #[tokio::test(start_paused = true)]
    async fn hunts_in_one_tenancy_take_turns_spaced_by_the_interval() {
        let gate = TenancyGate::new(Duration::from_secs(60));
        let t0 = tokio::time::Instant::now();
        drop(gate.turn().await);
        let second = gate.turn().await;
        assert!(tokio::time::Instant::now() - t0 >= Duration::from_secs(60));
        // While one hunt holds its turn, another cannot start.
        assert!(
            tokio::time::timeout(Duration::from_secs(600), gate.turn())
                .await
                .is_err()
        );
        drop(second);
    }
}
