//! Instance pools, Autonomous Databases and Container Instances: create, list, get, update
//! (databases) and the power actions, on the paths the official SDKs call.
//!
//! - Compute Management `CreateInstancePool` / `ListInstancePools` / `GetInstancePool` and
//!   `POST /20160918/instancePools/{id}/actions/start|stop|softstop|reset|softreset`
//!   (answer: the InstancePool);
//! - Database `CreateAutonomousDatabase` / `ListAutonomousDatabases` / `GetAutonomousDatabase`
//!   / `UpdateAutonomousDatabase` (which puts it in UPDATING) and
//!   `POST /20160918/autonomousDatabases/{id}/actions/start|stop` (answer: the database);
//! - Container Instances `CreateContainerInstance` / `ListContainerInstances` (a
//!   `ContainerInstanceCollection`, `{"items": [...]}`) / `GetContainerInstance` and
//!   `POST /20210415/containerInstances/{id}/actions/start|stop` (202, no body,
//!   `opc-work-request-id`).
//!
//! An action in a state it does not apply to is 409 `IncorrectState`, as for instances.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use serde_json::{Map, Value};

use super::paging::{filter_eq, page_as};
use super::{Res, check_if_match, compartment, etag_of, query, save};
use crate::sim::oci::Sim;
use crate::sim::oci::catalog;
use crate::sim::oci::error::{ApiError, error, invalid, not_found};
use crate::sim::oci::others::{Other, OtherKind};

/// The JSON object of a create or update body.
fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "CannotParseRequest",
            "Incorrectly formatted request. Please refer to the documentation and try again.",
        )),
    }
}

/// A required field of a create body; absent is 400 `InvalidParameter` naming it.
fn need<'a>(m: &'a Map<String, Value>, field: &str) -> Result<&'a Value, ApiError> {
    m.get(field)
        .filter(|v| !v.is_null())
        .ok_or_else(|| invalid(&format!("{field} is required.")))
}

/// A required non-empty list whose items each have the string `key`; else 400 `why`.
fn need_list<'a>(
    m: &'a Map<String, Value>,
    field: &str,
    key: &str,
    why: &str,
) -> Result<&'a Vec<Value>, ApiError> {
    need(m, field)?
        .as_array()
        .filter(|a| {
            !a.is_empty()
                && a.iter()
                    .all(|x| x.get(key).and_then(Value::as_str).is_some())
        })
        .ok_or_else(|| invalid(why))
}

fn tags(m: &Map<String, Value>, field: &str) -> Result<Map<String, Value>, ApiError> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(t)) => Ok(t.clone()),
        Some(_) => Err(invalid(&format!("{field} must be an object."))),
    }
}

/// The checked fields of each kind's create body (its required ones as the API reference
/// lists them), kept as the resource's own fields.
fn fields(kind: OtherKind, m: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    let mut keep = |k: &str, v: &Value| {
        out.insert(k.to_string(), v.clone());
    };
    match kind {
        OtherKind::InstancePool => {
            let cfg = need(m, "instanceConfigurationId")?;
            if !cfg
                .as_str()
                .is_some_and(|s| s.starts_with("ocid1.instanceconfiguration."))
            {
                return Err(invalid(
                    "instanceConfigurationId is not an instance configuration OCID.",
                ));
            }
            let placements = need(m, "placementConfigurations")?;
            if placements.as_array().is_none_or(Vec::is_empty) {
                return Err(invalid(
                    "placementConfigurations must list at least one placement.",
                ));
            }
            let size = need(m, "size")?;
            if size.as_u64().is_none() {
                return Err(invalid("size must be a whole number."));
            }
            keep("instanceConfigurationId", cfg);
            keep("placementConfigurations", placements);
            keep("size", size);
        }
        OtherKind::AutonomousDatabase => {
            let db = need(m, "dbName")?;
            let ok = db.as_str().is_some_and(|s| {
                (1..=30).contains(&s.len())
                    && s.starts_with(|c: char| c.is_ascii_alphabetic())
                    && s.chars().all(|c| c.is_ascii_alphanumeric())
            });
            if !ok {
                return Err(invalid(
                    "dbName must begin with a letter and contain only letters and digits, at most 30.",
                ));
            }
            keep("dbName", db);
            for k in [
                "cpuCoreCount",
                "computeCount",
                "dataStorageSizeInTBs",
                "isFreeTier",
                "dbWorkload",
            ] {
                if let Some(v) = m.get(k) {
                    keep(k, v);
                }
            }
        }
        OtherKind::ContainerInstance => {
            let ad = need(m, "availabilityDomain")?;
            if !ad
                .as_str()
                .is_some_and(|a| catalog::availability_domains().iter().any(|x| x == a))
            {
                return Err(invalid(
                    "availabilityDomain is not an availability domain of this region.",
                ));
            }
            let shape = need(m, "shape")?;
            let cfg = need(m, "shapeConfig")?;
            if cfg
                .get("ocpus")
                .and_then(Value::as_f64)
                .is_none_or(|o| o <= 0.0)
            {
                return Err(invalid("shapeConfig.ocpus is required."));
            }
            let containers = need_list(
                m,
                "containers",
                "imageUrl",
                "containers must list at least one container, each with an imageUrl.",
            )?;
            need_list(
                m,
                "vnics",
                "subnetId",
                "vnics must list at least one VNIC, each with a subnetId.",
            )?;
            keep("availabilityDomain", ad);
            keep("shape", shape);
            keep("shapeConfig", cfg);
            keep("containerCount", &Value::from(containers.len()));
        }
    }
    Ok(out)
}

fn respond(sim: &Sim, o: &Other, now: DateTime<Utc>, status: StatusCode) -> Response {
    let body = o.to_json(now, sim.delays);
    let etag = etag_of(&body);
    let mut resp = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert("etag", v);
    }
    resp
}

fn work_request_header(resp: &mut Response, sim: &Sim) {
    let id = format!(
        "ocid1.coreservicesworkrequest.oc1.{}.{}",
        catalog::REGION,
        sim.rng(|r| (0..40).map(|_| r.lowercase()).collect::<String>())
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("opc-work-request-id", v);
    }
}

async fn create(sim: Arc<Sim>, kind: OtherKind, body: Bytes) -> Res {
    let m = object(&body)?;
    let comp = need(&m, "compartmentId")?
        .as_str()
        .filter(|c| *c == catalog::TENANCY_OCID || c.starts_with("ocid1.compartment."))
        .ok_or_else(|| invalid("compartmentId is not a compartment OCID."))?
        .to_string();
    let fields = fields(kind, &m)?;
    let now = Utc::now();
    let mut store = sim.store()?;
    store.data.next_seq += 1;
    let seq = store.data.next_seq;
    let id = format!(
        "ocid1.{}.oc1.{}.an{seq:06}{}",
        kind.ocid_word(),
        catalog::REGION,
        sim.rng(|r| (0..40).map(|_| r.lowercase()).collect::<String>())
    );
    let display_name = m
        .get("displayName")
        .and_then(Value::as_str)
        .map_or_else(|| format!("{}{seq}", kind.ocid_word()), str::to_string);
    let mut o = Other {
        kind,
        id,
        compartment_id: comp,
        display_name,
        freeform_tags: tags(&m, "freeformTags")?,
        defined_tags: tags(&m, "definedTags")?,
        time_created: now,
        state: String::new(),
        next: None,
        since: now,
        fields,
    };
    o.go(kind.creating(), kind.running(), now);
    store.data.others.push(o.clone());
    save(&sim, &mut store, now)?;
    let mut resp = respond(&sim, &o, now, StatusCode::OK);
    if kind != OtherKind::InstancePool {
        work_request_header(&mut resp, &sim);
    }
    Ok(resp)
}

/// Lists one kind in a compartment, each page shaped by `answer`.
fn list(sim: &Sim, kind: OtherKind, uri: &Uri, answer: impl FnOnce(Vec<Value>) -> Response) -> Res {
    let q = query(uri)?;
    let comp = compartment(&q)?;
    let now = Utc::now();
    let store = sim.store()?;
    let items = store
        .data
        .others
        .iter()
        .filter(|o| o.kind == kind && o.compartment_id == comp)
        .filter(|o| filter_eq(&q, "displayName", &o.display_name))
        .filter(|o| filter_eq(&q, "lifecycleState", o.state_at(now, sim.delays)))
        .map(|o| {
            (
                o.time_created,
                o.display_name.clone(),
                o.to_json(now, sim.delays),
            )
        })
        .collect();
    page_as(sim, &q, items, true, answer)
}

/// A bare JSON array, as ListInstancePools and ListAutonomousDatabases answer.
fn array(items: Vec<Value>) -> Response {
    Json(items).into_response()
}

fn get(sim: &Sim, kind: OtherKind, id: &str) -> Res {
    let store = sim.store()?;
    let o = store
        .data
        .others
        .iter()
        .find(|o| o.kind == kind && o.id == id)
        .ok_or_else(not_found)?;
    Ok(respond(sim, o, Utc::now(), StatusCode::OK))
}

/// A power action: the state it needs and the transition it starts; the stable state it
/// leads to is accepted again and changes nothing (a retried request is safe).
fn act(sim: &Sim, kind: OtherKind, id: &str, action: &str, headers: &HeaderMap) -> Res {
    let now = Utc::now();
    let mut store = sim.store()?;
    let o = store
        .data
        .others
        .iter_mut()
        .find(|o| o.kind == kind && o.id == id)
        .ok_or_else(not_found)?;
    o.settle(now, sim.delays);
    check_if_match(headers, &etag_of(&o.to_json(now, sim.delays)))?;
    let allowed: &[&str] = match kind {
        OtherKind::InstancePool => &["start", "stop", "softstop", "reset", "softreset"],
        _ => &["start", "stop"],
    };
    if !allowed.contains(&action) {
        return Err(error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!(
                "There is no operation supported at the URI path and HTTP method you specified in the request: POST .../actions/{action}"
            ),
        ));
    }
    let state = o.state.clone();
    let (running, stopped) = (kind.running(), kind.stopped());
    let change = match action {
        "start" if state == stopped => Some((kind.starting(), running)),
        "start" if state == running => None,
        "stop" | "softstop" if state == running => Some((kind.stopping(), stopped)),
        "stop" | "softstop" if state == stopped => None,
        "reset" | "softreset" if state == running => Some((kind.starting(), running)),
        _ => {
            return Err(error(
                StatusCode::CONFLICT,
                "IncorrectState",
                &format!("Unable to process {action} on resource {id} in lifecycle state {state}."),
            ));
        }
    };
    if let Some((via, to)) = change {
        o.go(via, to, now);
    }
    let o = o.clone();
    if change.is_some() {
        save(sim, &mut store, now)?;
    }
    Ok(match kind {
        OtherKind::ContainerInstance => {
            let mut resp = StatusCode::ACCEPTED.into_response();
            work_request_header(&mut resp, sim);
            resp
        }
        _ => respond(sim, &o, now, StatusCode::OK),
    })
}

/// UpdateAutonomousDatabase: takes `displayName`, the tags and what the sim does not model,
/// and puts an AVAILABLE or STOPPED database in UPDATING for one transition (the state a
/// scaling or a setting change shows), after which it is as before.
pub(super) async fn update_autonomous_database(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    let m = object(&body)?;
    let now = Utc::now();
    let mut store = sim.store()?;
    let o = store
        .data
        .others
        .iter_mut()
        .find(|o| o.kind == OtherKind::AutonomousDatabase && o.id == id)
        .ok_or_else(not_found)?;
    o.settle(now, sim.delays);
    check_if_match(&headers, &etag_of(&o.to_json(now, sim.delays)))?;
    let state = o.state.clone();
    if state != "AVAILABLE" && state != "STOPPED" {
        return Err(error(
            StatusCode::CONFLICT,
            "IncorrectState",
            &format!("Unable to update autonomous database {id} in lifecycle state {state}."),
        ));
    }
    if let Some(n) = m.get("displayName").and_then(Value::as_str) {
        o.display_name = n.to_string();
    }
    if m.contains_key("freeformTags") {
        o.freeform_tags = tags(&m, "freeformTags")?;
    }
    if m.contains_key("definedTags") {
        o.defined_tags = tags(&m, "definedTags")?;
    }
    o.go("UPDATING", &state, now);
    let o = o.clone();
    save(&sim, &mut store, now)?;
    let mut resp = respond(&sim, &o, now, StatusCode::OK);
    work_request_header(&mut resp, &sim);
    Ok(resp)
}

macro_rules! handlers {
    ($kind:expr, $create:ident, $get:ident, $action:ident) => {
        pub(super) async fn $create(State(sim): State<Arc<Sim>>, body: Bytes) -> Res {
            create(sim, $kind, body).await
        }
        pub(super) async fn $get(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Res {
            get(&sim, $kind, &id)
        }
        pub(super) async fn $action(
            State(sim): State<Arc<Sim>>,
            Path((id, action)): Path<(String, String)>,
            headers: HeaderMap,
        ) -> Res {
            act(&sim, $kind, &id, &action, &headers)
        }
    };
}

handlers!(
    OtherKind::InstancePool,
    create_instance_pool,
    get_instance_pool,
    instance_pool_action
);
handlers!(
    OtherKind::AutonomousDatabase,
    create_autonomous_database,
    get_autonomous_database,
    autonomous_database_action
);
handlers!(
    OtherKind::ContainerInstance,
    create_container_instance,
    get_container_instance,
    container_instance_action
);

/// ListInstancePools: a bare array, paged.
pub(super) async fn list_instance_pools(State(sim): State<Arc<Sim>>, uri: Uri) -> Res {
    list(&sim, OtherKind::InstancePool, &uri, array)
}

/// ListAutonomousDatabases: a bare array, paged.
pub(super) async fn list_autonomous_databases(State(sim): State<Arc<Sim>>, uri: Uri) -> Res {
    list(&sim, OtherKind::AutonomousDatabase, &uri, array)
}

/// ListContainerInstances answers a `ContainerInstanceCollection`: `{"items": [...]}`.
pub(super) async fn list_container_instance_collection(
    State(sim): State<Arc<Sim>>,
    uri: Uri,
) -> Res {
    list(&sim, OtherKind::ContainerInstance, &uri, |items| {
        Json(serde_json::json!({ "items": items })).into_response()
    })
}
