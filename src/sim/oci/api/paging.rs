//! List answers: sorting, `limit` and `page` tokens, and the equality filters of list calls.

use axum::Json;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use http::HeaderValue;
use serde_json::Value;

use super::{Q, Res};
use crate::sim::oci::Sim;
use crate::sim::oci::error::invalid;

/// Sorts and pages `items` (pairs of sort keys and JSON), honouring `limit`, `page`, `sortBy`, `sortOrder`.
pub(super) fn page(
    sim: &Sim,
    q: &Q,
    items: Vec<(DateTime<Utc>, String, Value)>,
    sortable: bool,
) -> Res {
    page_as(sim, q, items, sortable, |body| Json(body).into_response())
}

/// [`page`], with the page's items shaped by `answer` (a bare array, or a collection object
/// such as `{"items": [...]}`); `opc-next-page` is set on what it makes.
pub(super) fn page_as(
    sim: &Sim,
    q: &Q,
    mut items: Vec<(DateTime<Utc>, String, Value)>,
    sortable: bool,
    answer: impl FnOnce(Vec<Value>) -> axum::response::Response,
) -> Res {
    if sortable {
        let by = q.get("sortBy").map_or("TIMECREATED", String::as_str);
        let default_desc = by == "TIMECREATED";
        let desc = match q.get("sortOrder").map(String::as_str) {
            None => default_desc,
            Some("ASC") => false,
            Some("DESC") => true,
            Some(o) => return Err(invalid(&format!("Invalid sortOrder {o}."))),
        };
        match by {
            "TIMECREATED" => items.sort_by_key(|a| a.0),
            "DISPLAYNAME" => items.sort_by(|a, b| a.1.cmp(&b.1)),
            o => return Err(invalid(&format!("Invalid sortBy {o}."))),
        }
        if desc {
            items.reverse();
        }
    }
    let limit = match q.get("limit") {
        None => sim.opts.page_size,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(sim.opts.page_size),
            _ => return Err(invalid(&format!("Invalid limit {l}."))),
        },
    }
    .max(1);
    let start = match q.get("page") {
        None => 0,
        Some(p) => p
            .strip_prefix("simpage-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| invalid("Invalid page token."))?,
    };
    let total = items.len();
    let end = (start + limit).min(total);
    let body: Vec<Value> = items.drain(start..end).map(|(_, _, v)| v).collect();
    let more = end < total;
    let mut resp = answer(body);
    if more && let Ok(v) = HeaderValue::from_str(&format!("simpage-{end}")) {
        resp.headers_mut().insert("opc-next-page", v);
    }
    Ok(resp)
}

pub(super) fn filter_eq(q: &Q, name: &str, value: &str) -> bool {
    q.get(name).is_none_or(|want| want == value)
}
