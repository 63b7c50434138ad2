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
pub enum ReportError {
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
pub struct Filter {
    /// Only this project.
    pub project: Option<String>,
    /// Only this spec.
    pub spec: Option<String>,
    /// Only lines at or after this time.
    pub since: DateTime<Utc>,
}

/// Reads `--since`: a duration back from `now` (`24h`, `7d`, `90m`) or a date (`2026-11-01`,
/// meaning that day 00:00 UTC) or an RFC 3339 time.
pub fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ReportError> {
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
pub struct Counts {
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
pub struct TimeToSuccess {
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
pub struct SpecStats {
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
pub struct AdStats {
    /// The AD (full name) or node.
    pub ad: String,
    /// Attempt counts.
    #[serde(flatten)]
    pub counts: Counts,
}

/// Capacity outcomes in one hour of the day (UTC) for one AD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourCell {
    /// Capacity errors.
    pub capacity: u64,
    /// Successful launches.
    pub successes: u64,
}

/// One hour of the day with its per-AD cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourRow {
    /// Hour of day, UTC (0–23).
    pub hour: u8,
    /// AD -> outcomes.
    pub ads: BTreeMap<String, HourCell>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
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

#[derive(Default)]
struct AdAcc {
    counts: Counts,
    hours: [HourCell; 24],
}

/// Streams journal lines into totals; feed it with [`Aggregator::feed`].
pub struct Aggregator {
    filter: Filter,
    since: String,
    lines: u64,
    malformed: u64,
    specs: HashMap<String, HashMap<String, SpecAcc>>,
    ads: HashMap<String, AdAcc>,
}

impl Aggregator {
    /// An empty aggregation for `filter`.
    pub fn new(filter: Filter) -> Aggregator {
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
    pub fn feed<R: BufRead>(&mut self, mut r: R) -> std::io::Result<()> {
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
        if *ts < *self.since {
            return;
        }
        if self
            .filter
            .project
            .as_deref()
            .is_some_and(|p| p != l.project)
            || self.filter.spec.as_deref().is_some_and(|s| s != l.spec)
        {
            return;
        }
        // Look up by &str first: allocating the key for every line would dominate the cost.
        if !self.specs.contains_key(&*l.project) {
            self.specs.insert(l.project.to_string(), HashMap::new());
        }
        let Some(spec) = self.specs.get_mut(&*l.project) else {
            return;
        };
        if !spec.contains_key(&*l.spec) {
            spec.insert(l.spec.to_string(), SpecAcc::default());
        }
        let Some(acc) = spec.get_mut(&*l.spec) else {
            return;
        };
        match l.event {
            EntryKind::Result => {
                if l.outcome == "failed" {
                    acc.failed_results += 1;
                }
            }
            EntryKind::Attempt => {
                acc.counts.add(&l.outcome);
                if acc.first_attempt.is_none() {
                    acc.first_attempt = Some(ts.to_string());
                }
                let end = epoch_ms(&ts);
                let start = end.map(|e| e - i64::try_from(l.duration_ms).unwrap_or(0));
                if l.outcome == "success" {
                    acc.last_success = Some(ts.to_string());
                    let first = acc.hunting.remove(&*l.instance).or(start);
                    if let (Some(f), Some(e)) = (first, end) {
                        acc.tts
                            .push(u64::try_from((e - f).max(0) / 1000).unwrap_or(0));
                    }
                } else if let Some(s) = start
                    && !acc.hunting.contains_key(&*l.instance)
                {
                    acc.hunting.insert(l.instance.to_string(), s);
                }
                let Some(where_) = l.ad.as_deref().or(l.node.as_deref()) else {
                    return;
                };
                if !self.ads.contains_key(where_) {
                    self.ads.insert(where_.to_string(), AdAcc::default());
                }
                let Some(ad) = self.ads.get_mut(where_) else {
                    return;
                };
                ad.counts.add(&l.outcome);
                let hour = ts
                    .get(11..13)
                    .and_then(|h| h.parse::<usize>().ok())
                    .filter(|h| *h < 24);
                if let Some(h) = hour {
                    match &*l.outcome {
                        "capacity" => ad.hours[h].capacity += 1,
                        "success" => ad.hours[h].successes += 1,
                        _ => {}
                    }
                }
            }
        }
    }

    /// The finished report.
    pub fn finish(self, now: DateTime<Utc>) -> Report {
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
pub fn aggregate(state_dir: &Path, filter: Filter) -> Result<Report, ReportError> {
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

fn short(ad: &str) -> &str {
    ad.rsplit(':').next().unwrap_or(ad)
}

/// `1h 12m`, `45s`, `3d 4h`: two units at most.
pub fn human_secs(s: u64) -> String {
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}

/// The report as tables: per project/spec, per AD, and hour of day × AD.
pub fn render_table(r: &Report) -> String {
    let minute = |ts: &str| format!("{} UTC", ts.get(..16).unwrap_or(ts).replace('T', " "));
    let mut out = format!(
        "journal report from {} to {}\n",
        minute(&r.since),
        minute(&r.until)
    );
    if r.malformed_lines > 0 {
        out.push_str(&format!(
            "skipped {} malformed line(s) of {}\n",
            r.malformed_lines, r.lines_read
        ));
    }
    if r.specs.is_empty() {
        out.push_str("no attempts or results in this window\n");
        return out;
    }
    let mut t = table(&[
        "PROJECT/SPEC",
        "ATTEMPTS",
        "CAPACITY",
        "THROTTLED",
        "OTHER ERRORS",
        "LAUNCHED",
        "FAILED",
        "TIME TO SUCCESS (MEDIAN)",
    ]);
    for s in &r.specs {
        t.add_row(vec![
            format!("{}/{}", s.project, s.spec),
            s.counts.attempts.to_string(),
            s.counts.capacity.to_string(),
            s.counts.throttled.to_string(),
            s.counts.other_errors.to_string(),
            s.counts.successes.to_string(),
            s.failed_results.to_string(),
            s.time_to_success
                .map(|t| match t.launches {
                    1 => human_secs(t.median_secs),
                    n => format!(
                        "{} ({n} launches, {}–{})",
                        human_secs(t.median_secs),
                        human_secs(t.min_secs),
                        human_secs(t.max_secs)
                    ),
                })
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    out.push_str(&format!("{t}\n"));
    if !r.ads.is_empty() {
        let mut t = table(&[
            "AD / NODE",
            "ATTEMPTS",
            "CAPACITY",
            "THROTTLED",
            "OTHER ERRORS",
            "LAUNCHED",
        ]);
        for a in &r.ads {
            t.add_row(vec![
                short(&a.ad).to_string(),
                a.counts.attempts.to_string(),
                a.counts.capacity.to_string(),
                a.counts.throttled.to_string(),
                a.counts.other_errors.to_string(),
                a.counts.successes.to_string(),
            ]);
        }
        out.push_str(&format!("{t}\n"));
    }
    if !r.hours.is_empty() {
        let names: Vec<&str> = r.ads.iter().map(|a| a.ad.as_str()).collect();
        let mut header = vec!["HOUR (UTC)".to_string()];
        header.extend(names.iter().map(|n| short(n).to_string()));
        let mut t = table(&[]);
        t.set_header(header);
        for h in &r.hours {
            let mut row = vec![format!("{:02}:00", h.hour)];
            for n in &names {
                row.push(match h.ads.get(*n) {
                    Some(c) => format!("{} / {}", c.capacity, c.successes),
                    None => "-".into(),
                });
            }
            t.add_row(row);
        }
        out.push_str("capacity errors / launches by hour of day:\n");
        out.push_str(&format!("{t}\n"));
    }
    out
}

/// A short plain-text summary of the last `since` (for the daemon's daily chat message).
pub fn daily_summary(state_dir: &Path, since: Duration) -> Result<String, ReportError> {
    let now = Utc::now();
    let start = chrono::Duration::from_std(since)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| ReportError::Since(humantime::format_duration(since).to_string()))?;
    let r = aggregate(
        state_dir,
        Filter {
            project: None,
            spec: None,
            since: start,
        },
    )?;
    Ok(summary_text(&r, since))
}

/// The text of [`daily_summary`] for a report already made.
pub fn summary_text(r: &Report, window: Duration) -> String {
    let w = humantime::format_duration(window);
    let t = &r.total;
    let mut out = format!(
        "vauto, last {w}: {} attempts, {} capacity errors, {} throttled, {} other errors, {} launched",
        t.attempts, t.capacity, t.throttled, t.other_errors, t.successes
    );
    for s in &r.specs {
        out.push_str(&format!(
            "\n- {}/{}: {} attempts, {} launched",
            s.project, s.spec, s.counts.attempts, s.counts.successes
        ));
        if let Some(tts) = s.time_to_success {
            out.push_str(&format!(
                " (median {} from first attempt)",
                human_secs(tts.median_secs)
            ));
        }
        if s.failed_results > 0 {
            out.push_str(&format!(", {} failed", s.failed_results));
        }
    }
    let mut best: Vec<(u8, &str, u64)> = r
        .hours
        .iter()
        .flat_map(|h| {
            h.ads
                .iter()
                .filter(|(_, c)| c.successes > 0)
                .map(move |(ad, c)| (h.hour, ad.as_str(), c.successes))
        })
        .collect();
    best.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    if !best.is_empty() {
        let list: Vec<String> = best
            .iter()
            .take(3)
            .map(|(h, ad, n)| format!("{h:02}:00 UTC in {} ({n})", short(ad)))
            .collect();
        out.push_str(&format!("\nlaunches landed at {}", list.join(", ")));
    }
    if r.malformed_lines > 0 {
        out.push_str(&format!(
            "\n({} malformed journal lines skipped)",
            r.malformed_lines
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(ts: &str, spec: &str, inst: &str, ad: &str, outcome: &str, ms: u64) -> String {
        format!(
            r#"{{"ts":"{ts}","event":"attempt","project":"lab","spec":"{spec}","instance":"{inst}","provider":"oci","action":"deploy","attempt":1,"ad":"Uocm:PHX-{ad}","outcome":"{outcome}","message":"m","duration_ms":{ms}}}"#
        )
    }

    fn result(ts: &str, outcome: &str) -> String {
        format!(
            r#"{{"ts":"{ts}","event":"result","project":"lab","spec":"a1","instance":"a1-01","provider":"oci","action":"deploy","outcome":"{outcome}","kind":"Instance","message":"m","duration_ms":0}}"#
        )
    }

    fn since(s: &str) -> Filter {
        Filter {
            project: None,
            spec: None,
            since: parse_since(s, Utc::now()).unwrap(),
        }
    }

    fn report(lines: &[String], f: Filter) -> Report {
        let mut a = Aggregator::new(f);
        a.feed(lines.join("\n").as_bytes()).unwrap();
        a.finish(Utc::now())
    }

    fn journal() -> Vec<String> {
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
    fn hour_by_ad_table_counts_capacity_and_launches() {
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
                        .map(|(k, c)| (short(k), c.capacity, c.successes))
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
        let text = render_table(&r);
        assert!(text.contains("03:00"), "{text}");
        assert!(text.contains("0 / 1"), "{text}");
        assert!(text.contains("skipped 2 malformed line(s) of 9"), "{text}");
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
    fn summary_names_specs_and_landing_hours() {
        let r = report(&journal(), since("2026-10-01"));
        let s = summary_text(&r, Duration::from_secs(86_400));
        assert!(
            s.starts_with("vauto, last 1day: 6 attempts, 3 capacity errors"),
            "{s}"
        );
        assert!(
            s.contains("- lab/a1: 5 attempts, 1 launched (median 1h 30m"),
            "{s}"
        );
        assert!(
            s.contains("launches landed at 04:00 UTC in PHX-AD-2 (1)"),
            "{s}"
        );
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
