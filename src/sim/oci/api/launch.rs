//! LaunchInstance: retry tokens, addresses, service limits, host capacity and the new instance.

use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::launch_request::{LaunchDetails, LaunchPlan};
use super::work_requests::new_work_request;
use super::{Res, instance_response, save};
use crate::sim::oci::Sim;
use crate::sim::oci::catalog::{self, PUBLIC_NET, SUBNET_NET};
use crate::sim::oci::error::{ApiError, error, internal, invalid, not_found};
use crate::sim::oci::state::{Instance, Phase, RETRY_TOKEN_TTL, RetryRecord, Store, WorkKind};

pub(super) async fn launch_instance(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Res {
    launch(&sim, &headers, &body)
}

fn launch(sim: &Sim, headers: &HeaderMap, body: &[u8]) -> Res {
    let (raw, details) = parse(body)?;
    let token = retry_token(headers)?;
    let now = Utc::now();
    let mut store = sim.store()?;
    if let Some(t) = &token
        && let Some(resp) = replay(sim, &store, t, &raw, now)?
    {
        return Ok(resp);
    }
    let plan = details.plan(sim, now)?;
    let (private_ip, public_ip) = place(sim, &mut store, &plan, now)?;
    store.data.next_seq += 1;
    let seq = store.data.next_seq;
    let inst = new_instance(sim, &plan, seq, private_ip, public_ip, now);
    store.data.instances.push(inst.clone());
    // LaunchInstance answers `opc-work-request-id` (LaunchInstanceResponse.OpcWorkRequestId in
    // the SDKs); the request succeeds when PROVISIONING ends.
    let done = now + chrono::Duration::from_std(sim.delays.provision).unwrap_or_default();
    let wr = new_work_request(sim, &mut store, WorkKind::LaunchInstance, &inst, now, done);
    if let Some(t) = token {
        store.data.retry_tokens.insert(
            t,
            RetryRecord {
                body: raw,
                instance_id: inst.id.clone(),
                time: now,
                work_request_id: Some(wr.clone()),
            },
        );
    }
    save(sim, &mut store, now)?;
    drop(store);
    lose_response(sim, &inst)?;
    Ok(respond(sim, &inst, &wr, now))
}

/// The body as JSON (kept whole to compare retried requests) and as typed details.
fn parse(body: &[u8]) -> Result<(Value, LaunchDetails), ApiError> {
    let unparsable = || {
        error(
            StatusCode::BAD_REQUEST,
            "CannotParseRequest",
            "Incorrectly formatted request. Please refer to the documentation and try again.",
        )
    };
    let raw: Value = serde_json::from_slice(body).map_err(|_| unparsable())?;
    if !raw.is_object() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "CannotParseRequest",
            "The request body must be a JSON object.",
        ));
    }
    let details = LaunchDetails::deserialize(&raw).map_err(|_| unparsable())?;
    Ok((raw, details))
}

/// The `opc-retry-token` header, if any.
fn retry_token(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let token = headers
        .get("opc-retry-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // The API spec limits the token to 1..=64 characters; a longer one is refused, not truncated.
    if let Some(t) = &token
        && (t.is_empty() || t.len() > 64)
    {
        return Err(invalid(
            "opc-retry-token must be between 1 and 64 characters long.",
        ));
    }
    Ok(token)
}

/// A token seen within its lifetime answers with the instance it launched, if the body matches.
fn replay(
    sim: &Sim,
    store: &Store,
    token: &str,
    raw: &Value,
    now: DateTime<Utc>,
) -> Result<Option<Response>, ApiError> {
    let Some(rec) = store.data.retry_tokens.get(token) else {
        return Ok(None);
    };
    if now - rec.time >= RETRY_TOKEN_TTL {
        return Ok(None);
    }
    if rec.body != *raw {
        return Err(error(
            StatusCode::CONFLICT,
            "InvalidatedRetryToken",
            "The retry token was already used with a different request body.",
        ));
    }
    let inst = store
        .data
        .instances
        .iter()
        .find(|i| i.id == rec.instance_id)
        .ok_or_else(not_found)?;
    // The replay names the same work request as the first answer did.
    let mut resp = instance_response(inst, now, sim.delays);
    if let Some(wr) = &rec.work_request_id
        && let Ok(v) = HeaderValue::from_str(wr)
    {
        resp.headers_mut().insert("opc-work-request-id", v);
    }
    Ok(Some(resp))
}

/// Addresses, the OCPU service limit and host capacity: where the instance would go.
///
/// Counts the attempt in its AD (and saves the count) before answering "Out of host capacity".
fn place(
    sim: &Sim,
    store: &mut Store,
    plan: &LaunchPlan<'_>,
    now: DateTime<Utc>,
) -> Result<(String, Option<String>), ApiError> {
    // Addresses are held until the instance is TERMINATED, as in OCI.
    let live: Vec<&Instance> = store
        .data
        .instances
        .iter()
        .filter(|i| i.phase_at(now, sim.delays) != Phase::Terminated)
        .collect();
    let private_ip = private_ip(plan.private_ip, &live)?;
    let public_ip = if plan.assign_public_ip {
        Some(public_ip(&live)?)
    } else {
        None
    };
    check_ocpu_limit(sim, plan, &live, now)?;
    let live_in_ad = live
        .iter()
        .filter(|i| {
            i.availability_domain == plan.availability_domain
                && !i.phase_at(now, sim.delays).is_dead()
        })
        .count();
    let attempts = {
        let n = store
            .data
            .launch_attempts
            .entry(plan.ad_suffix.clone())
            .or_insert(0);
        *n += 1;
        *n
    };
    let cap = &plan.capacity;
    let full = cap
        .max_instances
        .is_some_and(|max| live_in_ad >= usize::try_from(max).unwrap_or(usize::MAX));
    if attempts <= cap.free_after_attempts || full {
        save(sim, store, now)?;
        return Err(internal("Out of host capacity."));
    }
    Ok((private_ip, public_ip))
}

/// The requested private IP if usable and free, else the first free one in the subnet.
fn private_ip(requested: Option<&str>, live: &[&Instance]) -> Result<String, ApiError> {
    let Some(ip) = requested else {
        return (2..=254u8)
            .map(|n| format!("{SUBNET_NET}.{n}"))
            .find(|ip| !live.iter().any(|i| &i.private_ip == ip))
            .ok_or_else(|| invalid("No private IP addresses are available in the subnet."));
    };
    let parsed: Ipv4Addr = ip
        .parse()
        .map_err(|_| invalid(&format!("Invalid privateIp {ip}.")))?;
    let o = parsed.octets();
    if format!("{}.{}.{}", o[0], o[1], o[2]) != SUBNET_NET || !(2..=254).contains(&o[3]) {
        return Err(invalid(&format!(
            "Private IP {ip} is not a usable address in subnet CIDR {}.",
            catalog::SUBNET_CIDR
        )));
    }
    if live.iter().any(|i| i.private_ip == ip) {
        return Err(invalid(&format!(
            "Private IP {ip} is already assigned in the subnet."
        )));
    }
    Ok(ip.to_string())
}

/// The first free public IP of the simulated pool.
fn public_ip(live: &[&Instance]) -> Result<String, ApiError> {
    (2..=254u8)
        .map(|n| format!("{PUBLIC_NET}.{n}"))
        .find(|ip| !live.iter().any(|i| i.public_ip.as_deref() == Some(ip)))
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "LimitExceeded",
                "The public IP address limit has been reached.",
            )
        })
}

/// The tenancy's OCPU service limit, over every instance not terminating.
fn check_ocpu_limit(
    sim: &Sim,
    plan: &LaunchPlan<'_>,
    live: &[&Instance],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(limit) = sim.opts.capacity.ocpu_limit else {
        return Ok(());
    };
    let used: f64 = live
        .iter()
        .filter(|i| !i.phase_at(now, sim.delays).is_dead())
        .map(|i| i.ocpus)
        .sum();
    if used + plan.ocpus > limit {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "LimitExceeded",
            &format!(
                "You have reached your service limit of {limit} OCPUs in this region for {}.",
                plan.shape
            ),
        ));
    }
    Ok(())
}

fn random_suffix(sim: &Sim, n: usize) -> String {
    sim.rng(|r| (0..n).map(|_| r.lowercase()).collect())
}

/// The new instance, PROVISIONING from `now`.
fn new_instance(
    sim: &Sim,
    plan: &LaunchPlan<'_>,
    seq: u64,
    private_ip: String,
    public_ip: Option<String>,
    now: DateTime<Utc>,
) -> Instance {
    let region = catalog::REGION;
    // The OCIDs draw from the seeded RNG in this order: instance, VNIC, attachment.
    let id = format!(
        "ocid1.instance.oc1.{region}.an{seq:06}{}",
        random_suffix(sim, 40)
    );
    let vnic_id = format!(
        "ocid1.vnic.oc1.{region}.ab{seq:06}{}",
        random_suffix(sim, 40)
    );
    let vnic_attachment_id = format!(
        "ocid1.vnicattachment.oc1.{region}.an{seq:06}{}",
        random_suffix(sim, 40)
    );
    Instance {
        id,
        compartment_id: plan.compartment_id.to_string(),
        availability_domain: plan.availability_domain.to_string(),
        fault_domain: plan.fault_domain.clone(),
        display_name: plan.display_name.clone(),
        shape: plan.shape.to_string(),
        ocpus: plan.ocpus,
        memory_gbs: plan.memory_gbs,
        image_id: plan.image_id.to_string(),
        boot_volume_size_gbs: plan.boot_volume_size_gbs,
        subnet_id: plan.subnet_id.to_string(),
        private_ip,
        public_ip,
        hostname_label: plan.hostname_label.clone(),
        vnic_id,
        vnic_attachment_id,
        freeform_tags: plan.freeform_tags.clone(),
        defined_tags: plan.defined_tags.clone(),
        metadata: plan.metadata.clone(),
        extended_metadata: plan.extended_metadata.clone(),
        time_created: now,
        phase: Phase::Provisioning,
        phase_since: now,
        soft_stopping: false,
    }
}

/// Fault injection: the instance exists, but its launch response is lost.
fn lose_response(sim: &Sim, inst: &Instance) -> Result<(), ApiError> {
    let f = &sim.opts.faults;
    if f.lost_launch_rate > 0.0 && sim.rng(|r| r.f64()) < f.lost_launch_rate {
        tracing::debug!(id = %inst.id, "oci simulator lost a launch response on purpose");
        return Err(if f.lost_launch_reset {
            ApiError::Reset
        } else {
            internal("Internal error occurred.")
        });
    }
    Ok(())
}

/// The instance with its etag and the id of the work request that launches it.
fn respond(sim: &Sim, inst: &Instance, work_request: &str, now: DateTime<Utc>) -> Response {
    let mut resp = instance_response(inst, now, sim.delays);
    if let Ok(v) = HeaderValue::from_str(work_request) {
        resp.headers_mut().insert("opc-work-request-id", v);
    }
    resp
}
