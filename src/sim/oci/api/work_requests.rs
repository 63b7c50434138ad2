//! Work requests of the Core Services (`GET /20160918/workRequests/{id}`, `/errors`, `/logs`).
//!
//! The Python SDK's `oci.work_requests.WorkRequestClient` and the CLI's `--wait-for-state
//! SUCCEEDED` on `compute instance terminate` call these on the same `iaas` endpoint as
//! Compute (base path `/20160918`); `terminate_instance_and_wait_for_work_request` polls
//! `GET /workRequests/{id}` until `status` is SUCCEEDED, FAILED or CANCELED.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use http::Uri;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::paging::page;
use super::{Res, compartment, query};
use crate::sim::oci::Sim;
use crate::sim::oci::catalog::{self, ts};
use crate::sim::oci::error::{ApiError, not_found};
use crate::sim::oci::state::{Instance, Store, WorkKind, WorkRequest};

/// Records a new work request for `inst` that finishes at `done`; returns its OCID.
///
/// A launch's OCID draws from the seeded RNG right after the instance's (as it always has);
/// a terminate's is a digest of the instance and the time, so terminating does not shift
/// the OCIDs later launches get from a seed.
pub(super) fn new_work_request(
    sim: &Sim,
    store: &mut Store,
    kind: WorkKind,
    inst: &Instance,
    now: DateTime<Utc>,
    done: DateTime<Utc>,
) -> String {
    let suffix: String = match kind {
        WorkKind::LaunchInstance => {
            let seq = store.data.next_seq;
            let r: String = sim.rng(|r| (0..40).map(|_| r.lowercase()).collect());
            format!("ab{seq:06}{r}")
        }
        WorkKind::TerminateInstance => {
            let d = Sha256::digest(format!("{} {}", inst.id, now.timestamp_micros()).as_bytes());
            let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
            format!("at{}", &hex[..46])
        }
    };
    let id = format!(
        "ocid1.coreservicesworkrequest.oc1.{}.{suffix}",
        catalog::REGION
    );
    store.data.work_requests.insert(
        id.clone(),
        WorkRequest {
            id: id.clone(),
            kind,
            compartment_id: inst.compartment_id.clone(),
            instance_id: inst.id.clone(),
            time_accepted: now,
            time_done: done.max(now),
            failed: None,
        },
    );
    id
}

/// Fails the unfinished work requests of `instance_id` (a terminate cut a launch short).
pub(super) fn fail_open_requests(
    store: &mut Store,
    instance_id: &str,
    now: DateTime<Utc>,
    why: &str,
) {
    for w in store.data.work_requests.values_mut() {
        if w.instance_id == instance_id && w.failed.is_none() && w.time_done > now {
            w.failed = Some((now, why.to_string()));
        }
    }
}

fn find<'a>(store: &'a Store, id: &str) -> Result<&'a WorkRequest, ApiError> {
    // An unknown work request OCID is 404 NotAuthorizedOrNotFound, like any unknown OCID on a
    // served route (the route exists; only the resource is missing).
    store.data.work_requests.get(id).ok_or_else(not_found)
}

pub(super) async fn get_work_request(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Res {
    let store = sim.store()?;
    let wr = find(&store, &id)?;
    Ok(Json(wr.to_json(Utc::now())).into_response())
}

/// `GET /workRequests/{id}/errors`: `WorkRequestError` items (`code`, `message`, `timestamp`),
/// empty unless the request failed.
pub(super) async fn list_errors(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Res {
    let q = query(&uri)?;
    let store = sim.store()?;
    let wr = find(&store, &id)?;
    let now = Utc::now();
    let items = match &wr.failed {
        Some((at, why)) if *at <= now => vec![(
            *at,
            String::new(),
            json!({"code": "IncorrectState", "message": why, "timestamp": ts(*at)}),
        )],
        _ => Vec::new(),
    };
    page(&sim, &q, items, false)
}

/// `GET /workRequests/{id}/logs`: `WorkRequestLogEntry` items (`message`, `timestamp`).
pub(super) async fn list_logs(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Res {
    let q = query(&uri)?;
    let store = sim.store()?;
    let wr = find(&store, &id)?;
    let now = Utc::now();
    let (status, _, finished) = wr.status_at(now);
    let entry =
        |t: DateTime<Utc>, m: &str| (t, String::new(), json!({"message": m, "timestamp": ts(t)}));
    let mut items: Vec<(DateTime<Utc>, String, Value)> =
        vec![entry(wr.time_accepted, "Work request accepted.")];
    if let Some(t) = finished {
        items.push(entry(
            t,
            if status == "SUCCEEDED" {
                "Work request succeeded."
            } else {
                "Work request failed."
            },
        ));
    }
    page(&sim, &q, items, false)
}

/// ListWorkRequests (`GET /workRequests?compartmentId=...[&resourceId=...]`):
/// `WorkRequestSummary` items (a work request without its `resources`), newest first, paged.
pub(super) async fn list_work_requests(State(sim): State<Arc<Sim>>, uri: Uri) -> Res {
    let q = query(&uri)?;
    let comp = compartment(&q)?;
    let now = Utc::now();
    let store = sim.store()?;
    let mut items: Vec<(DateTime<Utc>, String, Value)> = store
        .data
        .work_requests
        .values()
        .filter(|w| w.compartment_id == comp)
        .filter(|w| q.get("resourceId").is_none_or(|r| *r == w.instance_id))
        .map(|w| {
            let mut v = w.to_json(now);
            if let Some(o) = v.as_object_mut() {
                o.remove("resources");
            }
            (w.time_accepted, w.id.clone(), v)
        })
        .collect();
    items.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    page(&sim, &q, items, false)
}
