//! Tables for `status` and `plan` (comfy-table).

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use crate::model::{InstanceStatus, ProviderKind, SelectKind};
use crate::plan::{Plan, PlannedObject};

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}

/// Age like kubectl: `45s`, `12m`, `3h`, `5d`.
pub(crate) fn age(created: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> String {
    let Some(t) = created.and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok()) else {
        return "-".into();
    };
    let secs = (now - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn dash(v: &Option<String>) -> String {
    v.clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".into())
}

/// The `status` table; columns depend on the provider and on what the rows have: KubeVirt's
/// OS column appears when some guest agent reports its OS, the LAST EVENT column when
/// `last_event` (one event per instance, the default of `--events`).
pub(crate) fn status_table(
    provider: ProviderKind,
    rows: &[InstanceStatus],
    last_event: bool,
) -> String {
    let now = chrono::Utc::now();
    let os: Vec<Option<String>> = rows
        .iter()
        .map(|r| r.extra.guest_os.as_ref().and_then(|o| o.label()))
        .collect();
    let os_column = os.iter().any(Option::is_some);
    // Rows of a `select:` spec on OCI carry their kind (instance, pool, database ...).
    let kinds = provider == ProviderKind::Oci && rows.iter().any(|r| r.kind.is_some());
    let mut t = if provider == ProviderKind::Oci {
        let mut head = vec![
            "NAME",
            "STATE",
            "SHAPE",
            "OCPU/MEM",
            "AD",
            "PRIVATE IP",
            "PUBLIC IP",
            "AGE",
        ];
        if kinds {
            head.insert(1, "KIND");
            head[3] = "SHAPE/SIZE";
        }
        table(&head)
    } else {
        let mut head = vec!["NAME", "STATUS", "NODE", "IP", "DISK", "AGE"];
        if os_column {
            head.insert(4, "OS");
        }
        if last_event {
            head.push("LAST EVENT");
        }
        table(&head)
    };
    for (r, os) in rows.iter().zip(os) {
        if provider == ProviderKind::Oci {
            let instance = r.kind.as_deref().is_none_or(|k| k == "Instance");
            let mut row = vec![
                r.name.clone(),
                r.state.clone(),
                r.size
                    .as_ref()
                    .and_then(|s| {
                        if instance {
                            s.split_whitespace().next().map(String::from)
                        } else {
                            Some(s.clone())
                        }
                    })
                    .unwrap_or_else(|| "-".into()),
                match (&r.extra.ocpus, &r.extra.memory_gb) {
                    (Some(o), Some(m)) => format!("{o}/{m} GB"),
                    _ => "-".into(),
                },
                dash(&r.placement),
                dash(&r.ip),
                dash(&r.public_ip),
                age(r.created.as_deref(), now),
            ];
            if kinds {
                row.insert(1, dash(&r.kind));
            }
            t.add_row(row);
        } else {
            let ips = r.addresses().join(", ");
            let mut row = vec![
                r.name.clone(),
                r.state.clone(),
                dash(&r.placement),
                dash(&Some(ips)),
                dash(&r.disk),
                age(r.created.as_deref(), now),
            ];
            if os_column {
                row.insert(4, dash(&os));
            }
            if last_event {
                row.push(dash(&r.last_event));
            }
            t.add_row(row);
        }
    }
    t.to_string()
}

/// Each instance's events, after the status table: one line per event, oldest first, like
/// `kubectl get events` sorted by time.
pub(crate) fn events_table(rows: &[InstanceStatus]) -> String {
    let now = chrono::Utc::now();
    let mut lines = vec![vec![
        "INSTANCE".to_string(),
        "LAST SEEN".to_string(),
        "TYPE".to_string(),
        "REASON".to_string(),
        "OBJECT".to_string(),
        "MESSAGE".to_string(),
    ]];
    for r in rows {
        for e in r.events.iter().flatten() {
            let seen = age(e.time.as_deref(), now);
            lines.push(vec![
                r.name.clone(),
                if e.count > 1 {
                    format!("{seen} (x{})", e.count)
                } else {
                    seen
                },
                e.type_.clone(),
                e.reason.clone(),
                format!("{}/{}", e.kind.to_lowercase(), e.name),
                e.message.clone(),
            ]);
        }
    }
    if lines.len() == 1 {
        return "no events about these instances\n".to_string();
    }
    columns(&lines)
}

/// Left-aligned columns three spaces apart (kubectl's), the last one unpadded.
fn columns(lines: &[Vec<String>]) -> String {
    let n = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            lines
                .iter()
                .filter_map(|l| l.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let last = line.len().saturating_sub(1);
        for (i, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 3;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// The line that closes `status`: how many instances, by state, most common first:
/// `status: 3 instances: 2 Running, 1 Stopped` (rows of other kinds make it `resources`).
pub(crate) fn status_summary(rows: &[InstanceStatus]) -> String {
    let mut by_state: Vec<(&str, usize)> = Vec::new();
    for r in rows {
        match by_state.iter_mut().find(|(s, _)| *s == r.state) {
            Some((_, n)) => *n += 1,
            None => by_state.push((&r.state, 1)),
        }
    }
    by_state.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let resources = rows.iter().any(|r| {
        r.kind
            .as_deref()
            .and_then(SelectKind::of_report_kind)
            .is_some_and(|k| k != SelectKind::Instance)
    });
    let noun = match (resources, rows.len()) {
        (true, 1) => "resource",
        (true, _) => "resources",
        (false, 1) => "instance",
        (false, _) => "instances",
    };
    let states: Vec<String> = by_state.iter().map(|(s, n)| format!("{n} {s}")).collect();
    format!("status: {} {noun}: {}", rows.len(), states.join(", "))
}

/// The default `plan` output: one row per object, then the notes.
pub(crate) fn plan_table(plan: &Plan, objects: &[(String, PlannedObject)]) -> String {
    let mut t = table(&["INSTANCE", "KIND", "NAME", "ADDRESS"]);
    for (instance, o) in objects {
        let ip = plan
            .instances
            .iter()
            .find(|i| i.name == *instance)
            .and_then(|i| i.static_ip.as_ref())
            .map(|ip| ip.cidr())
            .unwrap_or_else(|| "dhcp".into());
        t.add_row(vec![instance.clone(), o.kind.clone(), o.name.clone(), ip]);
    }
    let mut s = t.to_string();
    s.push('\n');
    for n in &plan.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(age(Some("2026-11-22T11:59:15Z"), now), "45s");
        assert_eq!(age(Some("2026-11-22T11:48:00Z"), now), "12m");
        assert_eq!(age(Some("2026-11-22T09:00:00Z"), now), "3h");
        assert_eq!(age(Some("2026-11-17T12:00:00Z"), now), "5d");
        assert_eq!(age(None, now), "-");
    }

    fn row(name: &str, state: &str, kind: Option<&str>) -> InstanceStatus {
        InstanceStatus {
            name: name.into(),
            state: state.into(),
            kind: kind.map(String::from),
            ..InstanceStatus::default()
        }
    }

    #[test]
    fn the_summary_counts_states_most_common_first() {
        let rows = [
            row("a", "Stopped", None),
            row("b", "Running", None),
            row("c", "Running", None),
            row("d", "ErrorUnschedulable", None),
        ];
        assert_eq!(
            status_summary(&rows),
            "status: 4 instances: 2 Running, 1 ErrorUnschedulable, 1 Stopped"
        );
        assert_eq!(status_summary(&rows[..1]), "status: 1 instance: 1 Stopped");
        let rows = [
            row("i", "RUNNING", Some("Instance")),
            row("db", "STOPPED", Some("AutonomousDatabase")),
        ];
        assert_eq!(
            status_summary(&rows),
            "status: 2 resources: 1 RUNNING, 1 STOPPED"
        );
    }

    #[test]
    fn events_line_up_like_kubectl_get_events() {
        let mut r = row("web-01", "Running", None);
        let at = (chrono::Utc::now() - chrono::Duration::seconds(90)).to_rfc3339();
        let event = |reason: &str, kind: &str, name: &str, count: u32, message: &str| {
            crate::model::StatusEvent {
                time: Some(at.clone()),
                type_: "Normal".into(),
                reason: reason.into(),
                kind: kind.into(),
                name: name.into(),
                message: message.into(),
                count,
            }
        };
        r.events = Some(vec![
            event(
                "ImportSucceeded",
                "DataVolume",
                "web-01-disk",
                1,
                "Successfully imported",
            ),
            event(
                "Started",
                "VirtualMachineInstance",
                "web-01",
                3,
                "VirtualMachineInstance started.",
            ),
        ]);
        let none = row("web-02", "Stopped", None);
        assert_eq!(
            events_table(&[r, none.clone()]),
            "\
INSTANCE   LAST SEEN   TYPE     REASON            OBJECT                          MESSAGE
web-01     90s         Normal   ImportSucceeded   datavolume/web-01-disk          Successfully imported
web-01     90s (x3)    Normal   Started           virtualmachineinstance/web-01   VirtualMachineInstance started.
"
        );
        assert_eq!(events_table(&[none]), "no events about these instances\n");
    }
}
