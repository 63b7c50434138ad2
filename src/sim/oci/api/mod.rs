//! The REST API of the simulator: routes, and the query and response helpers its handlers share.

mod identity;
mod images;
mod instances;
mod launch;
mod launch_request;
mod network;
mod others;
mod paging;
mod shapes;
mod work_requests;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::Sim;
use super::catalog::TENANCY_OCID;
use super::error::{ApiError, error, internal, invalid, not_found};
use super::state::{Delays, Instance, Store};

/// What every handler answers.
type Res = Result<Response, ApiError>;
/// Query parameters by name.
type Q = BTreeMap<String, String>;

/// Every route the sim serves.
pub(crate) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route(
            "/20160918/instances",
            get(instances::list_instances).post(launch::launch_instance),
        )
        .route(
            "/20160918/instances/{id}",
            get(instances::get_instance)
                .delete(instances::terminate_instance)
                .post(instances::instance_action)
                .put(instances::update_instance),
        )
        .route(
            "/20160918/vnicAttachments",
            get(network::list_vnic_attachments),
        )
        .route(
            "/20160918/vnicAttachments/{id}",
            get(network::get_vnic_attachment),
        )
        .route("/20160918/vnics/{id}", get(network::get_vnic))
        .route("/20160918/images", get(images::list_images))
        .route("/20160918/images/{id}", get(images::get_image))
        .route("/20160918/shapes", get(shapes::list_shapes))
        .route(
            "/20160918/workRequests",
            get(work_requests::list_work_requests),
        )
        .route(
            "/20160918/workRequests/{id}",
            get(work_requests::get_work_request),
        )
        .route(
            "/20160918/workRequests/{id}/errors",
            get(work_requests::list_errors),
        )
        .route(
            "/20160918/workRequests/{id}/logs",
            get(work_requests::list_logs),
        )
        .route(
            "/20160918/instancePools",
            get(others::list_instance_pools).post(others::create_instance_pool),
        )
        .route(
            "/20160918/instancePools/{id}",
            get(others::get_instance_pool),
        )
        .route(
            "/20160918/instancePools/{id}/actions/{action}",
            post(others::instance_pool_action),
        )
        .route(
            "/20160918/autonomousDatabases",
            get(others::list_autonomous_databases).post(others::create_autonomous_database),
        )
        .route(
            "/20160918/autonomousDatabases/{id}",
            get(others::get_autonomous_database).put(others::update_autonomous_database),
        )
        .route(
            "/20160918/autonomousDatabases/{id}/actions/{action}",
            post(others::autonomous_database_action),
        )
        .route(
            "/20210415/containerInstances",
            get(others::list_container_instance_collection)
                .post(others::create_container_instance),
        )
        .route(
            "/20210415/containerInstances/{id}",
            get(others::get_container_instance),
        )
        .route(
            "/20210415/containerInstances/{id}/actions/{action}",
            post(others::container_instance_action),
        )
        .route("/20160918/subnets", get(network::list_subnets))
        .route("/20160918/subnets/{id}", get(network::get_subnet))
        .route(
            "/20160918/availabilityDomains",
            get(identity::list_availability_domains),
        )
        // OCI answers a path/method pair no operation serves with 404 `NotFound` ("There is no
        // operation supported at the URI path and HTTP method you specified in the request",
        // docs.oracle.com/iaas/Content/API/References/apierrors.htm); `NotAuthorizedOrNotFound`
        // means a missing or hidden resource on a real route, and would send a user hunting for
        // a missing IAM policy.
        .fallback(|method: http::Method, uri: Uri| async move {
            error(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!(
                    "There is no operation supported at the URI path and HTTP method you specified in the request: {method} {} is not served by the vauto OCI simulator.",
                    uri.path()
                ),
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

pub(super) fn query(uri: &Uri) -> Result<Q, ApiError> {
    Query::<Q>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|_| invalid("The query string could not be parsed."))
}

/// A required query parameter; absent or empty is 400 `MissingParameter` ("A required
/// parameter is missing", OCI API Errors table).
pub(super) fn required<'a>(q: &'a Q, name: &str) -> Result<&'a str, ApiError> {
    q.get(name)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "MissingParameter",
                &format!("Missing required query parameter {name}."),
            )
        })
}

/// The compartment must be the sim tenancy or any compartment OCID (all compartments exist).
pub(super) fn compartment(q: &Q) -> Result<String, ApiError> {
    let c = required(q, "compartmentId")?;
    if c == TENANCY_OCID || c.starts_with("ocid1.compartment.") {
        Ok(c.to_string())
    } else {
        Err(not_found())
    }
}

pub(super) fn save(sim: &Sim, store: &mut Store, now: DateTime<Utc>) -> Result<(), ApiError> {
    store.save(now, sim.delays).map_err(|e| {
        tracing::warn!(error = %e, "oci simulator cannot save its state");
        internal("The simulator state could not be saved.")
    })
}

/// The etag of a resource body: a digest of its JSON, so it changes with every field and with
/// every lifecycle state (OCI: "ETags for Optimistic Concurrency Control" in the API
/// conventions — the etag changes whenever the resource does).
pub(super) fn etag_of(body: &Value) -> String {
    let digest = Sha256::digest(body.to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The instance as JSON at `now`, with its etag header.
pub(super) fn instance_response(inst: &Instance, now: DateTime<Utc>, d: Delays) -> Response {
    let body = inst.to_json(now, d);
    let etag = etag_of(&body);
    let mut resp = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert("etag", v);
    }
    resp
}

/// `If-Match`: a value other than the resource's current etag is 412 `NoEtagMatch` ("The ETag
/// specified in the request does not match the ETag for the resource", OCI API Errors table);
/// the change is not made.
pub(super) fn check_if_match(headers: &HeaderMap, current: &str) -> Result<(), ApiError> {
    let Some(given) = headers.get("if-match") else {
        return Ok(());
    };
    let given = given.to_str().unwrap_or_default().trim();
    if given == current {
        return Ok(());
    }
    Err(error(
        StatusCode::PRECONDITION_FAILED,
        "NoEtagMatch",
        &format!("The ETag {given} does not match the current ETag of the resource."),
    ))
}
