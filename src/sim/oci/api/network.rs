//! Networking: VNIC attachments, VNICs and the one simulated subnet.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use http::Uri;

use super::paging::{filter_eq, page};
use super::{Res, compartment, query};
use crate::sim::oci::Sim;
use crate::sim::oci::catalog::{self, SUBNET_ID, TENANCY_OCID};
use crate::sim::oci::error::not_found;

pub(super) async fn list_vnic_attachments(State(sim): State<Arc<Sim>>, uri: Uri) -> Res {
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
}

/// GetVnicAttachment (`GET /vnicAttachments/{id}`): the primary VNIC attachment of an instance.
pub(super) async fn get_vnic_attachment(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Res {
    let store = sim.store()?;
    let inst = store
        .data
        .instances
        .iter()
        .find(|i| i.vnic_attachment_id == id)
        .ok_or_else(not_found)?;
    Ok(Json(inst.attachment_json(Utc::now(), sim.delays)).into_response())
}

pub(super) async fn get_vnic(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Res {
    let store = sim.store()?;
    let inst = store
        .data
        .instances
        .iter()
        .find(|i| i.vnic_id == id)
        .ok_or_else(not_found)?;
    Ok(Json(inst.vnic_json(Utc::now(), sim.delays)).into_response())
}

pub(super) async fn list_subnets(State(sim): State<Arc<Sim>>, uri: Uri) -> Res {
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
}

pub(super) async fn get_subnet(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Res {
    if id != SUBNET_ID {
        return Err(not_found());
    }
    Ok(Json(catalog::subnet_json(TENANCY_OCID, sim.opts.subnet_dns)).into_response())
}
