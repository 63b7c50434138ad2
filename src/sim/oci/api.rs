//! The REST handlers: Compute (instances, VNICs, images, subnets) and Identity (availability domains).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use serde_json::{Map, Value, json};

use super::catalog::{self, PUBLIC_NET, SUBNET_ID, SUBNET_NET, TENANCY_OCID};
use super::state::{Instance, Phase, RetryRecord, Store};
use super::{Sim, reset_response};

type Res = Result<Response, ApiError>;
type Q = BTreeMap<String, String>;

const NOT_FOUND_MSG: &str = "Authorization failed or requested resource not found.";

/// Every route the sim serves.
pub(crate) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route(
            "/20160918/instances",
            get(list_instances).post(launch_instance),
        )
        .route(
            "/20160918/instances/{id}",
            get(get_instance)
                .delete(terminate_instance)
                .post(instance_action),
        )
        .route("/20160918/vnicAttachments", get(list_vnic_attachments))
        .route("/20160918/vnics/{id}", get(get_vnic))
        .route("/20160918/images", get(list_images))
        .route("/20160918/subnets", get(list_subnets))
        .route("/20160918/subnets/{id}", get(get_subnet))
        .route(
            "/20160918/availabilityDomains",
            get(list_availability_domains),
        )
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "NotAuthorizedOrNotFound",
                NOT_FOUND_MSG,
            )
        })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "The method is not allowed for this resource.",
            )
        })
}

/// A failed call: an OCI error body, or a connection dropped on purpose.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// Answered as `{"code": .., "message": ..}` with `status`.
    Oci {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// No answer at all (fault injection).
    Reset,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Oci {
                status,
                code,
                message,
            } => (status, Json(json!({"code": code, "message": message}))).into_response(),
            ApiError::Reset => reset_response(),
        }
    }
}

/// An OCI error: `{"code": .., "message": ..}` with `status`.
pub(crate) fn error(status: StatusCode, code: &'static str, message: &str) -> ApiError {
    ApiError::Oci {
        status,
        code,
        message: message.to_string(),
    }
}

fn invalid(message: &str) -> ApiError {
    error(StatusCode::BAD_REQUEST, "InvalidParameter", message)
}

fn not_found() -> ApiError {
    error(
        StatusCode::NOT_FOUND,
        "NotAuthorizedOrNotFound",
        NOT_FOUND_MSG,
    )
}

fn unwrap(r: Res) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

fn query(uri: &Uri) -> Result<Q, ApiError> {
    Query::<Q>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|_| invalid("The query string could not be parsed."))
}

fn required<'a>(q: &'a Q, name: &str) -> Result<&'a str, ApiError> {
    q.get(name)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(&format!("Missing required query parameter {name}.")))
}

/// The compartment must be the sim tenancy or any compartment OCID (all compartments exist).
fn compartment(q: &Q) -> Result<String, ApiError> {
    let c = required(q, "compartmentId")?;
    if c == TENANCY_OCID || c.starts_with("ocid1.compartment.") {
        Ok(c.to_string())
    } else {
        Err(not_found())
    }
}

fn save(sim: &Sim, store: &mut Store, now: DateTime<Utc>) -> Result<(), ApiError> {
    store.save(now, sim.delays).map_err(|e| {
        tracing::warn!(error = %e, "oci simulator cannot save its state");
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "The simulator state could not be saved.",
        )
    })
}

/// Sorts and pages `items` (pairs of sort keys and JSON), honouring `limit`, `page`, `sortBy`, `sortOrder`.
fn page(sim: &Sim, q: &Q, mut items: Vec<(DateTime<Utc>, String, Value)>, sortable: bool) -> Res {
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
    let mut resp = Json(body).into_response();
    if more && let Ok(v) = HeaderValue::from_str(&format!("simpage-{end}")) {
        resp.headers_mut().insert("opc-next-page", v);
    }
    Ok(resp)
}

fn filter_eq(q: &Q, name: &str, value: &str) -> bool {
    q.get(name).is_none_or(|want| want == value)
}

fn with_etag(mut resp: Response, inst: &Instance) -> Response {
    let etag = format!(
        "{:x}",
        inst.phase_since.timestamp_millis() ^ inst.time_created.timestamp_millis()
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert("etag", v);
    }
    resp
}

async fn list_instances(State(sim): State<Arc<Sim>>, uri: Uri) -> Response {
    unwrap((|| {
        let q = query(&uri)?;
        let comp = compartment(&q)?;
        let now = Utc::now();
        let store = sim.store()?;
        let items = store
            .data
            .instances
            .iter()
            .filter(|i| i.compartment_id == comp)
            .filter(|i| filter_eq(&q, "availabilityDomain", &i.availability_domain))
            .filter(|i| filter_eq(&q, "displayName", &i.display_name))
            .filter(|i| filter_eq(&q, "lifecycleState", i.phase_at(now, sim.delays).as_str()))
            .map(|i| {
                (
                    i.time_created,
                    i.display_name.clone(),
                    i.to_json(now, sim.delays),
                )
            })
            .collect();
        page(&sim, &q, items, true)
    })())
}

async fn get_instance(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    unwrap((|| {
        let store = sim.store()?;
        let inst = store
            .data
            .instances
            .iter()
            .find(|i| i.id == id)
            .ok_or_else(not_found)?;
        Ok(with_etag(
            Json(inst.to_json(Utc::now(), sim.delays)).into_response(),
            inst,
        ))
    })())
}

async fn terminate_instance(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    unwrap((|| {
        let q = query(&uri)?;
        if let Some(p) = q.get("preserveBootVolume")
            && p != "true"
            && p != "false"
        {
            return Err(invalid(&format!("Invalid preserveBootVolume {p}.")));
        }
        let now = Utc::now();
        let mut store = sim.store()?;
        let inst = store
            .data
            .instances
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or_else(not_found)?;
        inst.settle(now, sim.delays);
        // Terminating an instance that is already going is accepted again, as a retried DELETE must be.
        if !inst.phase.is_dead() {
            inst.set_phase(Phase::Terminating, now);
            save(&sim, &mut store, now)?;
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })())
}

async fn instance_action(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    unwrap((|| {
        let q = query(&uri)?;
        let action = required(&q, "action")?.to_string();
        let now = Utc::now();
        let mut store = sim.store()?;
        let inst = store
            .data
            .instances
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or_else(not_found)?;
        inst.settle(now, sim.delays);
        let from = inst.phase;
        let incorrect = || {
            error(
                StatusCode::CONFLICT,
                "IncorrectState",
                &format!(
                    "Unable to process {action} on instance {id} in lifecycle state {}.",
                    from.as_str()
                ),
            )
        };
        let to = match (action.as_str(), from) {
            (_, Phase::Provisioning | Phase::Terminating | Phase::Terminated) => {
                return Err(incorrect());
            }
            ("START", Phase::Stopped) => Some(Phase::Starting),
            ("START", Phase::Running | Phase::Starting) => None,
            ("STOP" | "SOFTSTOP", Phase::Running) => Some(Phase::Stopping),
            ("STOP" | "SOFTSTOP", Phase::Stopped | Phase::Stopping) => None,
            ("RESET" | "SOFTRESET", Phase::Running) => Some(Phase::Starting),
            ("START" | "STOP" | "SOFTSTOP" | "RESET" | "SOFTRESET", _) => {
                return Err(incorrect());
            }
            (other, _) => return Err(invalid(&format!("Invalid action {other}."))),
        };
        if let Some(to) = to {
            inst.set_phase(to, now);
        }
        let inst = inst.clone();
        if to.is_some() {
            save(&sim, &mut store, now)?;
        }
        Ok(with_etag(
            Json(inst.to_json(now, sim.delays)).into_response(),
            &inst,
        ))
    })())
}

async fn list_vnic_attachments(State(sim): State<Arc<Sim>>, uri: Uri) -> Response {
    unwrap((|| {
        let q = query(&uri)?;
        let comp = compartment(&q)?;
        let now = Utc::now();
        let store = sim.store()?;
        let items = store
            .data
            .instances
            .iter()
            .filter(|i| i.compartment_id == comp)
            .filter(|i| filter_eq(&q, "instanceId", &i.id))
            .filter(|i| filter_eq(&q, "availabilityDomain", &i.availability_domain))
            .filter(|i| filter_eq(&q, "vnicId", &i.vnic_id))
            .map(|i| {
                (
                    i.time_created,
                    String::new(),
                    i.attachment_json(now, sim.delays),
                )
            })
            .collect();
        page(&sim, &q, items, false)
    })())
}

async fn get_vnic(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    unwrap((|| {
        let store = sim.store()?;
        let inst = store
            .data
            .instances
            .iter()
            .find(|i| i.vnic_id == id)
            .ok_or_else(not_found)?;
        Ok(Json(inst.vnic_json(Utc::now(), sim.delays)).into_response())
    })())
}

async fn list_images(State(sim): State<Arc<Sim>>, uri: Uri) -> Response {
    unwrap((|| {
        let q = query(&uri)?;
        compartment(&q)?;
        let shape = match q.get("shape") {
            None => None,
            Some(s) => match catalog::shape(s) {
                Some(shape) => Some(shape),
                // An unknown shape matches no image.
                None => return page(&sim, &q, Vec::new(), true),
            },
        };
        let items = catalog::images()
            .into_iter()
            .filter(|i| filter_eq(&q, "operatingSystem", i.os))
            .filter(|i| filter_eq(&q, "operatingSystemVersion", i.os_version))
            .filter(|i| filter_eq(&q, "displayName", &i.display_name))
            .filter(|_| filter_eq(&q, "lifecycleState", "AVAILABLE"))
            .filter(|i| shape.is_none_or(|s| catalog::compatible(s, i)))
            .map(|i| {
                (
                    i.time_created,
                    i.display_name.clone(),
                    catalog::image_json(&i),
                )
            })
            .collect();
        page(&sim, &q, items, true)
    })())
}

async fn list_subnets(State(sim): State<Arc<Sim>>, uri: Uri) -> Response {
    unwrap((|| {
        let q = query(&uri)?;
        let comp = compartment(&q)?;
        let subnet = catalog::subnet_json(&comp, sim.opts.subnet_dns);
        let keep = filter_eq(&q, "displayName", catalog::SUBNET_NAME)
            && q.get("vcnId")
                .is_none_or(|v| Some(v.as_str()) == subnet["vcnId"].as_str());
        let items = if keep {
            vec![(
                DateTime::<Utc>::UNIX_EPOCH,
                catalog::SUBNET_NAME.to_string(),
                subnet,
            )]
        } else {
            Vec::new()
        };
        page(&sim, &q, items, true)
    })())
}

async fn get_subnet(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    if id != SUBNET_ID {
        return unwrap(Err(not_found()));
    }
    Json(catalog::subnet_json(TENANCY_OCID, sim.opts.subnet_dns)).into_response()
}

async fn list_availability_domains(uri: Uri) -> Response {
    unwrap((|| {
        let q = query(&uri)?;
        let comp = compartment(&q)?;
        let ads: Vec<Value> = catalog::availability_domains()
            .iter()
            .enumerate()
            .map(|(i, name)| {
                json!({
                    "compartmentId": comp,
                    "id": format!("ocid1.availabilitydomain.oc1..aaaaaaaasimad{}", i + 1),
                    "name": name
                })
            })
            .collect();
        Ok(Json(ads).into_response())
    })())
}

/// Reads an optional string field; a non-string value is a 400.
fn opt_str<'a>(v: &'a Value, path: &str, name: &str) -> Result<Option<&'a str>, ApiError> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(&format!("{path}{name} must be a string."))),
    }
}

fn req_str<'a>(v: &'a Value, path: &str, name: &str) -> Result<&'a str, ApiError> {
    opt_str(v, path, name)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(&format!("{path}{name} must not be null.")))
}

fn opt_map(v: &Value, name: &str) -> Result<Map<String, Value>, ApiError> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(invalid(&format!("{name} must be an object."))),
    }
}

fn opt_num(v: &Value, name: &str) -> Result<Option<f64>, ApiError> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(invalid(&format!("shapeConfig.{name} must be a number."))),
    }
}

fn random_suffix(sim: &Sim, n: usize) -> String {
    sim.rng(|r| (0..n).map(|_| r.lowercase()).collect())
}

async fn launch_instance(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    unwrap(launch(&sim, &headers, &body))
}

fn launch(sim: &Sim, headers: &HeaderMap, body: &[u8]) -> Res {
    let req: Value = serde_json::from_slice(body).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "CannotParseRequest",
            "Incorrectly formatted request. Please refer to the documentation and try again.",
        )
    })?;
    if !req.is_object() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "CannotParseRequest",
            "The request body must be a JSON object.",
        ));
    }
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
    let now = Utc::now();
    let mut store = sim.store()?;

    if let Some(t) = &token
        && let Some(rec) = store.data.retry_tokens.get(t)
        && now - rec.time < super::state::RETRY_TOKEN_TTL
    {
        if rec.body != req {
            return Err(error(
                StatusCode::CONFLICT,
                "InvalidatedRetryToken",
                "The retry token was already used with a different request body.",
            ));
        }
        let id = rec.instance_id.clone();
        let inst = store
            .data
            .instances
            .iter()
            .find(|i| i.id == id)
            .ok_or_else(not_found)?;
        return Ok(with_etag(
            Json(inst.to_json(now, sim.delays)).into_response(),
            inst,
        ));
    }

    let comp = req_str(&req, "", "compartmentId")?;
    let ad = req_str(&req, "", "availabilityDomain")?;
    let shape_name = req_str(&req, "", "shape")?;
    let source = req.get("sourceDetails").cloned().unwrap_or(Value::Null);
    if let Some(t) = opt_str(&source, "sourceDetails.", "sourceType")?
        && t != "image"
    {
        return Err(invalid(&format!(
            "sourceDetails.sourceType {t} is not supported by the simulator."
        )));
    }
    // The deprecated top-level imageId (still sent by oci-cli) is accepted like OCI does.
    let image_id = match opt_str(&source, "sourceDetails.", "imageId")? {
        Some(i) => i,
        None => req_str(&req, "sourceDetails.", "imageId")
            .map_err(|_| invalid("sourceDetails.imageId must not be null."))?,
    };
    let vnic = req.get("createVnicDetails").cloned().unwrap_or(Value::Null);
    let subnet = match opt_str(&vnic, "createVnicDetails.", "subnetId")? {
        Some(s) => s,
        None => req_str(&req, "createVnicDetails.", "subnetId")
            .map_err(|_| invalid("createVnicDetails.subnetId must not be null."))?,
    };
    if comp != TENANCY_OCID && !comp.starts_with("ocid1.compartment.") {
        return Err(not_found());
    }
    let Some(suffix) = catalog::ad_suffix(ad) else {
        return Err(invalid(&format!("Invalid availabilityDomain {ad}.")));
    };
    if subnet != SUBNET_ID {
        return Err(not_found());
    }
    let Some(image) = catalog::images().into_iter().find(|i| i.id == image_id) else {
        return Err(not_found());
    };
    let cap = sim.opts.capacity.for_ad(&suffix).clone();
    let shape = catalog::shape(shape_name)
        .filter(|_| {
            cap.shapes
                .as_ref()
                .is_none_or(|s| s.iter().any(|x| x == shape_name))
        })
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("Shape {shape_name} not found."),
            )
        })?;
    let shape_config = req.get("shapeConfig").filter(|v| !v.is_null());
    let (ocpus, memory) = match (shape.flex, shape_config) {
        (true, None) => {
            return Err(invalid(&format!(
                "Shape {shape_name} is a flexible shape and requires shapeConfig."
            )));
        }
        (true, Some(cfg)) => {
            let ocpus = opt_num(cfg, "ocpus")?
                .ok_or_else(|| invalid("shapeConfig.ocpus must not be null."))?;
            if !(1.0..=shape.ocpus).contains(&ocpus) {
                return Err(invalid(&format!(
                    "shapeConfig.ocpus {ocpus} is out of range 1 to {} for {shape_name}.",
                    shape.ocpus
                )));
            }
            let mem = opt_num(cfg, "memoryInGBs")?.unwrap_or(ocpus * shape.memory_gbs);
            if mem < ocpus || mem > ocpus * 64.0 {
                return Err(invalid(&format!(
                    "shapeConfig.memoryInGBs {mem} must be between 1 and 64 GB per OCPU for {shape_name}."
                )));
            }
            (ocpus, mem)
        }
        (false, Some(_)) => {
            return Err(invalid(&format!(
                "shapeConfig is only supported for flexible shapes, not {shape_name}."
            )));
        }
        (false, None) => (shape.ocpus, shape.memory_gbs),
    };
    if !catalog::compatible(shape, &image) {
        return Err(invalid(&format!(
            "Shape {shape_name} is not valid for image {image_id}."
        )));
    }
    let boot_size = match source.get("bootVolumeSizeInGBs") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if (50..=32768).contains(&n) => Some(n),
            _ => {
                return Err(invalid(
                    "sourceDetails.bootVolumeSizeInGBs must be between 50 and 32768.",
                ));
            }
        },
    };
    let metadata = opt_map(&req, "metadata")?;
    if metadata.values().any(|v| !v.is_string()) {
        return Err(invalid("metadata values must be strings."));
    }
    let meta_size: usize = metadata
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if meta_size > 32_000 {
        return Err(invalid("metadata exceeds the maximum size of 32000 bytes."));
    }
    let freeform_tags = opt_map(&req, "freeformTags")?;
    // OCI tag limits: string values, keys up to 100 and values up to 256 characters.
    if freeform_tags
        .iter()
        .any(|(k, v)| k.is_empty() || k.len() > 100 || v.as_str().is_none_or(|v| v.len() > 256))
    {
        return Err(invalid(
            "freeformTags keys must be 1 to 100 characters and values strings of at most 256 characters.",
        ));
    }
    let defined_tags = opt_map(&req, "definedTags")?;
    let extended_metadata = opt_map(&req, "extendedMetadata")?;
    let display_name = match opt_str(&req, "", "displayName")? {
        Some(n) => n.to_string(),
        None => format!("instance-{}", now.format("%Y%m%d-%H%M")),
    };
    let fault_domain = opt_str(&req, "", "faultDomain")?
        .unwrap_or("FAULT-DOMAIN-1")
        .to_string();
    let hostname_label = opt_str(&vnic, "createVnicDetails.", "hostnameLabel")?.map(str::to_string);
    if hostname_label.is_some() && !sim.opts.subnet_dns {
        return Err(invalid(
            "createVnicDetails.hostnameLabel cannot be set: DNS is not enabled on the subnet (it has no dnsLabel).",
        ));
    }
    let assign_public = match vnic.get("assignPublicIp") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(invalid(
                "createVnicDetails.assignPublicIp must be a boolean.",
            ));
        }
    };

    // Addresses are held until the instance is TERMINATED, as in OCI.
    let live: Vec<&Instance> = store
        .data
        .instances
        .iter()
        .filter(|i| i.phase_at(now, sim.delays) != Phase::Terminated)
        .collect();
    let private_ip = match opt_str(&vnic, "createVnicDetails.", "privateIp")? {
        Some(ip) => {
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
            ip.to_string()
        }
        None => (2..=254u8)
            .map(|n| format!("{SUBNET_NET}.{n}"))
            .find(|ip| !live.iter().any(|i| &i.private_ip == ip))
            .ok_or_else(|| invalid("No private IP addresses are available in the subnet."))?,
    };
    let public_ip = if assign_public {
        Some(
            (2..=254u8)
                .map(|n| format!("{PUBLIC_NET}.{n}"))
                .find(|ip| !live.iter().any(|i| i.public_ip.as_deref() == Some(ip)))
                .ok_or_else(|| {
                    error(
                        StatusCode::BAD_REQUEST,
                        "LimitExceeded",
                        "The public IP address limit has been reached.",
                    )
                })?,
        )
    } else {
        None
    };
    if let Some(limit) = sim.opts.capacity.ocpu_limit {
        let used: f64 = live
            .iter()
            .filter(|i| !i.phase_at(now, sim.delays).is_dead())
            .map(|i| i.ocpus)
            .sum();
        if used + ocpus > limit {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "LimitExceeded",
                &format!(
                    "You have reached your service limit of {limit} OCPUs in this region for {shape_name}."
                ),
            ));
        }
    }
    let live_in_ad = live
        .iter()
        .filter(|i| i.availability_domain == ad && !i.phase_at(now, sim.delays).is_dead())
        .count();

    let attempts = {
        let n = store
            .data
            .launch_attempts
            .entry(suffix.clone())
            .or_insert(0);
        *n += 1;
        *n
    };
    let full = cap
        .max_instances
        .is_some_and(|max| live_in_ad >= usize::try_from(max).unwrap_or(usize::MAX));
    if attempts <= cap.free_after_attempts || full {
        save(sim, &mut store, now)?;
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "Out of host capacity.",
        ));
    }

    store.data.next_seq += 1;
    let seq = store.data.next_seq;
    let region = catalog::REGION;
    let inst = Instance {
        id: format!(
            "ocid1.instance.oc1.{region}.an{seq:06}{}",
            random_suffix(sim, 40)
        ),
        compartment_id: comp.to_string(),
        availability_domain: ad.to_string(),
        fault_domain,
        display_name,
        shape: shape_name.to_string(),
        ocpus,
        memory_gbs: memory,
        image_id: image_id.to_string(),
        boot_volume_size_gbs: boot_size,
        subnet_id: subnet.to_string(),
        private_ip,
        public_ip,
        hostname_label,
        vnic_id: format!(
            "ocid1.vnic.oc1.{region}.ab{seq:06}{}",
            random_suffix(sim, 40)
        ),
        vnic_attachment_id: format!(
            "ocid1.vnicattachment.oc1.{region}.an{seq:06}{}",
            random_suffix(sim, 40)
        ),
        freeform_tags,
        defined_tags,
        metadata,
        extended_metadata,
        time_created: now,
        phase: Phase::Provisioning,
        phase_since: now,
    };
    if let Some(t) = token {
        store.data.retry_tokens.insert(
            t,
            RetryRecord {
                body: req.clone(),
                instance_id: inst.id.clone(),
                time: now,
            },
        );
    }
    store.data.instances.push(inst.clone());
    save(sim, &mut store, now)?;
    drop(store);

    let f = &sim.opts.faults;
    if f.lost_launch_rate > 0.0 && sim.rng(|r| r.f64()) < f.lost_launch_rate {
        tracing::debug!(id = %inst.id, "oci simulator lost a launch response on purpose");
        return Err(if f.lost_launch_reset {
            ApiError::Reset
        } else {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "Internal error occurred.",
            )
        });
    }
    let mut resp = with_etag(Json(inst.to_json(now, sim.delays)).into_response(), &inst);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "ocid1.coreservicesworkrequest.oc1.{region}.ab{seq:06}{}",
        random_suffix(sim, 40)
    )) {
        resp.headers_mut().insert("opc-work-request-id", v);
    }
    Ok(resp)
}
