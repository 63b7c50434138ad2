//! Tables for `status` and `plan` (comfy-table).

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use crate::model::{InstanceStatus, ProviderKind};
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

/// The `status` table; columns depend on the provider.
pub(crate) fn status_table(provider: ProviderKind, rows: &[InstanceStatus]) -> String {
    let now = chrono::Utc::now();
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
        table(&["NAME", "STATUS", "NODE", "IP", "DISK", "AGE", "LAST EVENT"])
    };
    for r in rows {
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
            t.add_row(vec![
                r.name.clone(),
                r.state.clone(),
                dash(&r.placement),
                dash(&r.ip),
                dash(&r.disk),
                age(r.created.as_deref(), now),
                dash(&r.last_event),
            ]);
        }
    }
    t.to_string()
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
}
