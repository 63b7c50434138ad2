//! Attempt statistics from the journal: per project/spec, per AD, and hour of day × AD.
//!
//! The journal is streamed line by line (never loaded whole); malformed lines are counted
//! and skipped. Timestamps are compared as strings: the journal writes a fixed-width UTC
//! format that sorts like time.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::journal::{self, EntryKind};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReportError {
    /// `--since` is neither a duration nor a date.
    #[error(
        "invalid --since `{0}`: expected a duration like `24h` or `7d`, or a date like `2026-11-01`"
    )]
    Since(String),
    /// A journal file could not be read.
    #[error("cannot read the journal `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Which lines count.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    /// Only this project.
    pub project: Option<String>,
    /// Only this spec.
    pub spec: Option<String>,
    /// Only lines at or after this time.
    pub since: DateTime<Utc>,
    /// The zone of the hour-of-day table (the project's `notify.timezone`, else UTC).
    pub tz: chrono_tz::Tz,
}

/// Reads `--since`: a duration back from `now` (`24h`, `7d`, `90m`) or a date (`2026-11-01`,
/// meaning that day 00:00 UTC) or an RFC 3339 time.
pub(crate) fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ReportError> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| ReportError::Since(s.into()));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d: crate::config::Dur = s.parse().map_err(|_| ReportError::Since(s.into()))?;
    chrono::Duration::from_std(d.0)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| ReportError::Since(s.into()))
}

/// Launch-attempt counts (from attempt lines).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counts {
    /// Attempts that ended (any outcome).
    pub attempts: u64,
    /// "Out of host capacity" and friends.
    pub capacity: u64,
    /// HTTP 429.
    pub throttled: u64,
    /// Any other error class (transient, auth, quota, …).
    pub other_errors: u64,
    /// Attempts that launched the instance.
    pub successes: u64,
}

impl Counts {
    fn add(&mut self, outcome: &str) {
        self.attempts += 1;
        match outcome {
            "capacity" => self.capacity += 1,
            "throttled" => self.throttled += 1,
            "success" => self.successes += 1,
            _ => self.other_errors += 1,
        }
    }
}

/// Time from an instance's first attempt to its successful launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TimeToSuccess {
    /// Launches measured.
    pub launches: u64,
    /// Fastest, seconds.
    pub min_secs: u64,
    /// Median, seconds.
    pub median_secs: u64,
    /// Slowest, seconds.
    pub max_secs: u64,
}

/// Statistics of one project/spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SpecStats {
    /// Project name.
    pub project: String,
    /// Spec name.
    pub spec: String,
    /// Attempt counts.
    #[serde(flatten)]
    pub counts: Counts,
    /// Resources that ended `[FAILED]`.
    pub failed_results: u64,
    /// First attempt seen in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_attempt: Option<String>,
    /// Last successful launch in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<String>,
    /// First attempt to launch, when any launch happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_success: Option<TimeToSuccess>,
}

/// Statistics of one availability domain (or Kubernetes node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AdStats {
    /// The AD (full name) or node.
    pub ad: String,
    /// Attempt counts.
    #[serde(flatten)]
    pub counts: Counts,
}

/// Capacity outcomes in one hour of the day (UTC) for one AD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HourCell {
    /// Capacity errors.
    pub capacity: u64,
    /// Successful launches.
    pub successes: u64,
}

/// One hour of the day with its per-AD cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct HourRow {
    /// Hour of day, UTC (0–23).
    pub hour: u8,
    /// AD -> outcomes.
    pub ads: BTreeMap<String, HourCell>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Report {
    /// Window start (UTC).
    pub since: String,
    /// When the report was made (UTC).
    pub until: String,
    /// Journal lines read (all files).
    pub lines_read: u64,
    /// Lines that were not valid journal entries (skipped).
    pub malformed_lines: u64,
    /// Totals over every project/spec.
    pub total: Counts,
    /// Per project/spec, sorted by name.
    pub specs: Vec<SpecStats>,
    /// Per AD or node, sorted by name.
    pub ads: Vec<AdStats>,
    /// Hours of day (UTC) that saw capacity errors or launches.
    pub hours: Vec<HourRow>,
    /// The zone `hours` (and the table's times) are in, e.g. `Europe/Berlin`.
    pub timezone: String,
}

/// The borrowed view of a line the aggregation needs (the message is skipped).
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    ts: std::borrow::Cow<'a, str>,
    event: EntryKind,
    #[serde(borrow)]
    project: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    spec: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    instance: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    ad: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    node: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    outcome: std::borrow::Cow<'a, str>,
    #[serde(default)]
    duration_ms: u64,
}

#[derive(Default)]
struct SpecAcc {
    counts: Counts,
    failed_results: u64,
    first_attempt: Option<String>,
    last_success: Option<String>,
    tts: Vec<u64>,
    /// Instance -> start of its first attempt since its last launch (epoch ms).
    hunting: HashMap<String, i64>,
}

impl SpecAcc {
    /// Counts an attempt line (at normalized time `ts`) and times the hunt it ends.
    fn attempt(&mut self, l: &Line<'_>, ts: &str) {
        self.counts.add(&l.outcome);
        if self.first_attempt.is_none() {
            self.first_attempt = Some(ts.to_string());
        }
        let end = epoch_ms(ts);
        let start = end.map(|e| e - i64::try_from(l.duration_ms).unwrap_or(0));
        if l.outcome == "success" {
            self.last_success = Some(ts.to_string());
            let first = self.hunting.remove(&*l.instance).or(start);
            if let (Some(f), Some(e)) = (first, end) {
                self.tts
                    .push(u64::try_from((e - f).max(0) / 1000).unwrap_or(0));
            }
        } else if let Some(s) = start
            && !self.hunting.contains_key(&*l.instance)
        {
            self.hunting.insert(l.instance.to_string(), s);
        }
    }
}

#[derive(Default)]
struct AdAcc {
    counts: Counts,
    hours: [HourCell; 24],
}

impl AdAcc {
    /// Counts an attempt with `outcome` at `hour` of the day (in the report's zone).
    fn attempt(&mut self, outcome: &str, hour: Option<usize>) {
        self.counts.add(outcome);
        if let Some(cell) = hour.and_then(|h| self.hours.get_mut(h)) {
            match outcome {
                "capacity" => cell.capacity += 1,
                "success" => cell.successes += 1,
                _ => {}
            }
        }
    }
}

/// The accumulator under `key`, made on first use.
///
/// Looks up by `&str` first: allocating the key for every line would dominate the cost.
fn entry<'m, V: Default>(map: &'m mut HashMap<String, V>, key: &str) -> Option<&'m mut V> {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key)
}

/// Streams journal lines into totals; feed it with [`Aggregator::feed`].
pub(crate) struct Aggregator {
    filter: Filter,
    since: String,
    lines: u64,
    malformed: u64,
    specs: HashMap<String, HashMap<String, SpecAcc>>,
    ads: HashMap<String, AdAcc>,
}

impl Aggregator {
    /// An empty aggregation for `filter`.
    pub(crate) fn new(filter: Filter) -> Aggregator {
        Aggregator {
            since: journal::timestamp(filter.since),
            filter,
            lines: 0,
            malformed: 0,
            specs: HashMap::new(),
            ads: HashMap::new(),
        }
    }

    /// Reads every line of `r`.
    pub(crate) fn feed<R: BufRead>(&mut self, mut r: R) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(512);
        loop {
            buf.clear();
            if r.read_until(b'\n', &mut buf)? == 0 {
                return Ok(());
            }
            let line = buf.trim_ascii();
            if line.is_empty() {
                continue;
            }
            self.lines += 1;
            self.line(line);
        }
    }

    fn line(&mut self, raw: &[u8]) {
        let Ok(l) = serde_json::from_slice::<Line>(raw) else {
            self.malformed += 1;
            return;
        };
        let Some(ts) = normalize_ts(&l.ts) else {
            self.malformed += 1;
            return;
        };
        if *ts < *self.since || !self.wanted(&l) {
            return;
        }
        let Some(spec) = entry(&mut self.specs, &l.project) else {
            return;
        };
        let Some(acc) = entry(spec, &l.spec) else {
            return;
        };
        match l.event {
            EntryKind::Result => {
                if l.outcome == "failed" {
                    acc.failed_results += 1;
                }
            }
            EntryKind::Attempt => {
                acc.attempt(&l, &ts);
                let Some(where_) = l.ad.as_deref().or(l.node.as_deref()) else {
                    return;
                };
                let hour = hour_of(&ts, self.filter.tz);
                if let Some(ad) = entry(&mut self.ads, where_) {
                    ad.attempt(&l.outcome, hour);
                }
            }
        }
    }

    /// Whether the line is about the filter's project and spec.
    fn wanted(&self, l: &Line<'_>) -> bool {
        let other_project = self
            .filter
            .project
            .as_deref()
            .is_some_and(|p| p != l.project);
        let other_spec = self.filter.spec.as_deref().is_some_and(|s| s != l.spec);
        !(other_project || other_spec)
    }

    /// The finished report.
    pub(crate) fn finish(self, now: DateTime<Utc>) -> Report {
        let mut total = Counts::default();
        let mut specs = Vec::new();
        for (project, m) in self.specs {
            for (spec, mut a) in m {
                total.attempts += a.counts.attempts;
                total.capacity += a.counts.capacity;
                total.throttled += a.counts.throttled;
                total.other_errors += a.counts.other_errors;
                total.successes += a.counts.successes;
                a.tts.sort_unstable();
                let time_to_success = (!a.tts.is_empty()).then(|| TimeToSuccess {
                    launches: a.tts.len() as u64,
                    min_secs: a.tts[0],
                    median_secs: a.tts[a.tts.len() / 2],
                    max_secs: a.tts[a.tts.len() - 1],
                });
                specs.push(SpecStats {
                    project: project.clone(),
                    spec,
                    counts: a.counts,
                    failed_results: a.failed_results,
                    first_attempt: a.first_attempt,
                    last_success: a.last_success,
                    time_to_success,
                });
            }
        }
        specs.sort_by(|a, b| (&a.project, &a.spec).cmp(&(&b.project, &b.spec)));
        let mut ads: Vec<AdStats> = Vec::new();
        let mut hours: Vec<HourRow> = (0..24u8)
            .map(|hour| HourRow {
                hour,
                ads: BTreeMap::new(),
            })
            .collect();
        for (name, a) in self.ads {
            for (h, cell) in a.hours.iter().enumerate() {
                if cell.capacity + cell.successes > 0 {
                    hours[h].ads.insert(name.clone(), *cell);
                }
            }
            ads.push(AdStats {
                ad: name,
                counts: a.counts,
            });
        }
        ads.sort_by(|a, b| a.ad.cmp(&b.ad));
        hours.retain(|h| !h.ads.is_empty());
        Report {
            timezone: self.filter.tz.name().to_string(),
            since: self.since,
            until: journal::timestamp(now),
            lines_read: self.lines,
            malformed_lines: self.malformed,
            total,
            specs,
            ads,
            hours,
        }
    }
}

/// The hour of day of normalized time `ts` in `tz`; UTC reads it off the string (the fast
/// path every journal line takes without a `notify.timezone`).
fn hour_of(ts: &str, tz: chrono_tz::Tz) -> Option<usize> {
    if tz == chrono_tz::UTC {
        return ts.get(11..13).and_then(|h| h.parse::<usize>().ok());
    }
    use chrono::Timelike;
    let t = DateTime::parse_from_rfc3339(ts).ok()?;
    usize::try_from(t.with_timezone(&tz).hour()).ok()
}

/// The journal's format is fixed-width; other RFC 3339 spellings are converted (slow path).
fn normalize_ts(ts: &str) -> Option<std::borrow::Cow<'_, str>> {
    let b = ts.as_bytes();
    if b.len() == 24 && b[10] == b'T' && b[23] == b'Z' && b[4] == b'-' && b[13] == b':' {
        return Some(std::borrow::Cow::Borrowed(ts));
    }
    DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| std::borrow::Cow::Owned(journal::timestamp(t.with_timezone(&Utc))))
}

fn epoch_ms(ts: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Aggregates every journal file of `state_dir` (rotated ones first) over `filter`.
pub(crate) fn aggregate(state_dir: &Path, filter: Filter) -> Result<Report, ReportError> {
    let since = std::time::SystemTime::from(filter.since);
    let mut agg = Aggregator::new(filter);
    for path in journal::files_oldest_first(state_dir) {
        let io = |source| ReportError::Io {
            path: path.clone(),
            source,
        };
        let file = std::fs::File::open(&path).map_err(io)?;
        // A rotated file last written before the window holds nothing in it.
        if let Ok(m) = file.metadata().and_then(|m| m.modified())
            && m < since
        {
            continue;
        }
        agg.feed(std::io::BufReader::with_capacity(256 * 1024, file))
            .map_err(io)?;
    }
    Ok(agg.finish(Utc::now()))
}

/// Aggregates every journal file of `state_dir` over the last `window`, for `project` (all
/// when `None`), hours in `tz`.
pub(crate) fn aggregate_last(
    state_dir: &Path,
    window: Duration,
    project: Option<&str>,
    tz: chrono_tz::Tz,
) -> Result<Report, ReportError> {
    let now = Utc::now();
    let start = chrono::Duration::from_std(window)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| ReportError::Since(humantime::format_duration(window).to_string()))?;
    aggregate(
        state_dir,
        Filter {
            project: project.map(str::to_string),
            spec: None,
            since: start,
            tz,
        },
    )
}

/// Journal lines and reports for the tests of the aggregation and of its rendering.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub(crate) fn line(
        ts: &str,
        spec: &str,
        inst: &str,
        ad: &str,
        outcome: &str,
        ms: u64,
    ) -> String {
        format!(
            r#"{{"ts":"{ts}","event":"attempt","project":"lab","spec":"{spec}","instance":"{inst}","provider":"oci","action":"deploy","attempt":1,"ad":"Uocm:PHX-{ad}","outcome":"{outcome}","message":"m","duration_ms":{ms}}}"#
        )
    }

    pub(crate) fn result(ts: &str, outcome: &str) -> String {
        format!(
            r#"{{"ts":"{ts}","event":"result","project":"lab","spec":"a1","instance":"a1-01","provider":"oci","action":"deploy","outcome":"{outcome}","kind":"Instance","message":"m","duration_ms":0}}"#
        )
    }

    pub(crate) fn since(s: &str) -> Filter {
        Filter {
            project: None,
            spec: None,
            since: parse_since(s, Utc::now()).unwrap(),
            tz: chrono_tz::UTC,
        }
    }

    pub(crate) fn report(lines: &[String], f: Filter) -> Report {
        let mut a = Aggregator::new(f);
        a.feed(lines.join("\n").as_bytes()).unwrap();
        a.finish(Utc::now())
    }

    pub(crate) fn journal() -> Vec<String> {
        vec![
            line("2026-11-01T03:00:00.000Z", "a1", "a1-01", "AD-1", "capacity", 1000),
            line("2026-11-01T03:00:02.000Z", "a1", "a1-01", "AD-2", "capacity", 1000),
            line("2026-11-01T03:01:00.000Z", "a1", "a1-01", "AD-1", "throttled", 1000),
            line("2026-11-01T04:30:00.000Z", "a1", "a1-01", "AD-2", "success", 1000),
            result("2026-11-01T04:30:00.500Z", "success"),
            line("2026-11-01T04:31:00.000Z", "a1", "a1-02", "AD-2", "transient", 500),
            "{not json".to_string(),
            r#"{"ts":"yesterday","event":"attempt","project":"lab","instance":"x","outcome":"capacity"}"#
                .to_string(),
            line("2026-11-02T05:00:00.000Z", "e2", "e2-01", "AD-3", "capacity", 100),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn counts_per_spec_and_ad_and_time_to_success() {
        let r = report(&journal(), since("2026-10-01"));
        assert_eq!(r.malformed_lines, 2);
        assert_eq!(r.lines_read, 9);
        assert_eq!(
            r.total,
            Counts {
                attempts: 6,
                capacity: 3,
                throttled: 1,
                other_errors: 1,
                successes: 1
            }
        );
        let a1 = &r.specs[0];
        assert_eq!((a1.project.as_str(), a1.spec.as_str()), ("lab", "a1"));
        assert_eq!(a1.counts.attempts, 5);
        // First attempt started at 02:59:59, launch ended at 04:30:00.
        assert_eq!(
            a1.time_to_success,
            Some(TimeToSuccess {
                launches: 1,
                min_secs: 5401,
                median_secs: 5401,
                max_secs: 5401
            })
        );
        assert_eq!(a1.last_success.as_deref(), Some("2026-11-01T04:30:00.000Z"));
        let ads: Vec<(&str, u64, u64)> = r
            .ads
            .iter()
            .map(|a| (a.ad.as_str(), a.counts.capacity, a.counts.successes))
            .collect();
        assert_eq!(
            ads,
            [
                ("Uocm:PHX-AD-1", 1, 0),
                ("Uocm:PHX-AD-2", 1, 1),
                ("Uocm:PHX-AD-3", 1, 0)
            ]
        );
    }

    #[test]
    fn hour_by_ad_cells_count_capacity_and_launches() {
        let r = report(&journal(), since("2026-10-01"));
        type Cells<'a> = Vec<(&'a str, u64, u64)>;
        let hours: Vec<(u8, Cells)> = r
            .hours
            .iter()
            .map(|h| {
                (
                    h.hour,
                    h.ads
                        .iter()
                        .map(|(k, c)| (k.trim_start_matches("Uocm:"), c.capacity, c.successes))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            hours,
            [
                (3, vec![("PHX-AD-1", 1, 0), ("PHX-AD-2", 1, 0)]),
                (4, vec![("PHX-AD-2", 0, 1)]),
                (5, vec![("PHX-AD-3", 1, 0)]),
            ]
        );
    }

    #[test]
    fn since_and_filters_drop_lines() {
        let r = report(&journal(), since("2026-11-02"));
        assert_eq!(r.total.attempts, 1);
        assert_eq!(r.specs[0].spec, "e2");
        let mut f = since("2026-10-01");
        f.spec = Some("a1".into());
        let r = report(&journal(), f);
        assert_eq!(r.specs.len(), 1);
        assert_eq!(r.total.attempts, 5);
        let mut f = since("2026-10-01");
        f.project = Some("other".into());
        assert!(report(&journal(), f).specs.is_empty());
    }

    #[test]
    fn since_parses_durations_dates_and_rejects_junk() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_since("24h", now).unwrap().to_rfc3339(),
            "2026-11-21T12:00:00+00:00"
        );
        assert_eq!(
            parse_since("7d", now).unwrap().to_rfc3339(),
            "2026-11-15T12:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-11-01", now).unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        let e = parse_since("last week", now).unwrap_err().to_string();
        assert!(e.starts_with("invalid --since `last week`"), "{e}");
    }

    #[test]
    fn results_count_failures_but_not_attempts() {
        let lines = vec![result("2026-11-01T00:00:00.000Z", "failed")];
        let r = report(&lines, since("2026-10-01"));
        assert_eq!(r.specs[0].failed_results, 1);
        assert_eq!(r.total.attempts, 0);
    }

    #[test]
    fn rotated_files_are_read_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let ts = |mins: i64| journal::timestamp(now - chrono::Duration::minutes(mins));
        std::fs::write(
            dir.path().join("journal.jsonl.1"),
            line(&ts(30), "a1", "a1-01", "AD-1", "capacity", 1000) + "\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("journal.jsonl"),
            line(&ts(10), "a1", "a1-01", "AD-1", "success", 1000) + "\n",
        )
        .unwrap();
        let r = aggregate(dir.path(), since("1h")).unwrap();
        assert_eq!(r.total.attempts, 2);
        let tts = r.specs[0].time_to_success.unwrap();
        assert!((1200..1202).contains(&tts.median_secs), "{tts:?}");
    }
}
