//! `vauto report` and the daily summary as text: tables and the short chat message.

use std::time::Duration;

use crate::model::short_zone;
use crate::ops::report::Report;

/// `1h 12m`, `45s`, `3d 4h`: two units at most.
pub(crate) fn human_secs(s: u64) -> String {
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

/// A journal time (UTC) as `2026-11-01 04:30 Europe/Berlin`, in the report's zone.
fn minute(r: &Report, ts: &str) -> String {
    let utc = || format!("{} UTC", ts.get(..16).unwrap_or(ts).replace('T', " "));
    let Ok(tz) = r.timezone.parse::<chrono_tz::Tz>() else {
        return utc();
    };
    if tz == chrono_tz::UTC {
        return utc();
    }
    match chrono::DateTime::parse_from_rfc3339(ts) {
        Ok(t) => format!(
            "{} {}",
            t.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
            tz.name()
        ),
        Err(_) => utc(),
    }
}

/// The zone the report's hours are in, as a label.
fn zone(r: &Report) -> &str {
    if r.timezone.is_empty() {
        "UTC"
    } else {
        &r.timezone
    }
}

/// A period as people say it: `24 h`, `1 h 30 min`, `45 min` (whole minutes; the daemon's
/// period is a hair over a day and must not read `1day 1us 252ns`).
pub(crate) fn period_words(window: Duration) -> String {
    let mins = (window.as_secs() + 30) / 60;
    match (mins / 60, mins % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// The report as tables: per project/spec, per AD, and hour of day × AD.
pub(crate) fn render_table(r: &Report) -> String {
    let minute = |ts: &str| minute(r, ts);
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
    out.push_str(&format!("{}\n", spec_table(r)));
    if !r.ads.is_empty() {
        out.push_str(&format!("{}\n", ad_table(r)));
    }
    if !r.hours.is_empty() {
        out.push_str("capacity errors / launches by hour of day:\n");
        out.push_str(&format!("{}\n", hour_table(r)));
    }
    out
}

/// One row per project/spec.
fn spec_table(r: &Report) -> comfy_table::Table {
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
    t
}

/// One row per AD or node.
fn ad_table(r: &Report) -> comfy_table::Table {
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
            short_zone(&a.ad).to_string(),
            a.counts.attempts.to_string(),
            a.counts.capacity.to_string(),
            a.counts.throttled.to_string(),
            a.counts.other_errors.to_string(),
            a.counts.successes.to_string(),
        ]);
    }
    t
}

/// Hour of day × AD: `capacity errors / launches` per cell.
fn hour_table(r: &Report) -> comfy_table::Table {
    let names: Vec<&str> = r.ads.iter().map(|a| a.ad.as_str()).collect();
    let mut header = vec![format!("HOUR ({})", zone(r))];
    header.extend(names.iter().map(|n| short_zone(n).to_string()));
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
    t
}

/// `1 attempt`, `2 attempts`.
fn counted(k: u64, one: &str, many: &str) -> String {
    format!("{k} {}", if k == 1 { one } else { many })
}

/// A short plain-text summary of a report over the last `window` (the daemon's daily chat
/// message).
pub(crate) fn summary_text(r: &Report, window: Duration) -> String {
    let w = period_words(window);
    let t = &r.total;
    let mut out = format!(
        "vauto, last {w}: {}, {}, {} throttled, {}, {} launched",
        counted(t.attempts, "attempt", "attempts"),
        counted(t.capacity, "capacity error", "capacity errors"),
        t.throttled,
        counted(t.other_errors, "other error", "other errors"),
        t.successes
    );
    for s in &r.specs {
        out.push_str(&format!(
            "\n- {}/{}: {}, {} launched",
            s.project,
            s.spec,
            counted(s.counts.attempts, "attempt", "attempts"),
            s.counts.successes
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
            .map(|(h, ad, n)| format!("{h:02}:00 {} in {} ({n})", zone(r), short_zone(ad)))
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
    use crate::ops::report::fixtures::{journal, report, since};

    #[test]
    fn hour_by_ad_table_shows_capacity_and_launches() {
        let r = report(&journal(), since("2026-10-01"));
        let text = render_table(&r);
        assert!(text.contains("03:00"), "{text}");
        assert!(text.contains("0 / 1"), "{text}");
        assert!(text.contains("skipped 2 malformed line(s) of 9"), "{text}");
    }

    #[test]
    fn summary_names_specs_and_landing_hours() {
        let r = report(&journal(), since("2026-10-01"));
        let s = summary_text(&r, Duration::from_secs(86_400));
        assert!(
            s.starts_with("vauto, last 24 h: 6 attempts, 3 capacity errors"),
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
    fn the_daily_period_reads_24_h_not_1day_1us() {
        let day = Duration::from_secs(86_400) + Duration::from_nanos(1_252);
        assert_eq!(period_words(day), "24 h");
        assert_eq!(period_words(Duration::from_secs(5_400)), "1 h 30 min");
        assert_eq!(period_words(Duration::from_secs(600)), "10 min");
    }

    #[test]
    fn hours_are_told_in_the_project_zone_and_labelled() {
        let mut f = since("2026-10-01");
        f.tz = "Europe/Berlin".parse().unwrap();
        let r = report(&journal(), f);
        let s = summary_text(&r, Duration::from_secs(86_400));
        // 04:30 UTC on 1 November is 05:30 in Berlin (CET, UTC+1).
        assert!(
            s.contains("launches landed at 05:00 Europe/Berlin in PHX-AD-2 (1)"),
            "{s}"
        );
        let t = render_table(&r);
        assert!(t.contains("HOUR (Europe/Berlin)"), "{t}");
        assert!(t.contains("05:00"), "{t}");
        assert!(t.contains(" Europe/Berlin\n"), "{t}");
    }

    #[test]
    fn durations_use_two_units_at_most() {
        assert_eq!(human_secs(45), "45s");
        assert_eq!(human_secs(75), "1m 15s");
        assert_eq!(human_secs(5401), "1h 30m");
        assert_eq!(human_secs(90_000), "1d 1h");
    }
}
