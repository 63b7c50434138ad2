//! The REST API of the simulator: routes, and the query and response helpers its handlers share.

mod identity;
mod images;
mod instances;
mod launch;
mod launch_request;
mod network;
mod paging;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::Query;
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Utc};
use http::{HeaderValue, StatusCode, Uri};

use super::Sim;
use super::catalog::TENANCY_OCID;
use super::error::{ApiError, error, internal, invalid, not_found};
use super::state::{Instance, Store};

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
                .post(instances::instance_action),
        )
        .route(
            "/20160918/vnicAttachments",
            get(network::list_vnic_attachments),
        )
        .route("/20160918/vnics/{id}", get(network::get_vnic))
        .route("/20160918/images", get(images::list_images))
        .route("/20160918/subnets", get(network::list_subnets))
        .route("/20160918/subnets/{id}", get(network::get_subnet))
        .route(
            "/20160918/availabilityDomains",
            get(identity::list_availability_domains),
        )
        .fallback(|| async { not_found() })
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

pub(super) fn required<'a>(q: &'a Q, name: &str) -> Result<&'a str, ApiError> {
    q.get(name)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(&format!("Missing required query parameter {name}.")))
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

pub(super) fn with_etag(mut resp: Response, inst: &Instance) -> Response {
    let etag = format!(
        "{:x}",
        inst.phase_since.timestamp_millis() ^ inst.time_created.timestamp_millis()
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert("etag", v);
    }
    resp
}
