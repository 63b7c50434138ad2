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

/// The report as tables: per project/spec, per AD, and hour of day × AD.
pub(crate) fn render_table(r: &Report) -> String {
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
    let mut header = vec!["HOUR (UTC)".to_string()];
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

/// A short plain-text summary of a report over the last `window` (the daemon's daily chat
/// message).
pub(crate) fn summary_text(r: &Report, window: Duration) -> String {
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
            .map(|(h, ad, n)| format!("{h:02}:00 UTC in {} ({n})", short_zone(ad)))
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
    fn durations_use_two_units_at_most() {
        assert_eq!(human_secs(45), "45s");
        assert_eq!(human_secs(75), "1m 15s");
        assert_eq!(human_secs(5401), "1h 30m");
        assert_eq!(human_secs(90_000), "1d 1h");
    }
}
