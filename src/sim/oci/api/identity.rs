//! Identity: the availability domains of the simulated region.

use axum::Json;
use axum::response::IntoResponse;
use http::Uri;
use serde_json::{Value, json};

use super::{Res, compartment, query};
use crate::sim::oci::catalog;

pub(super) async fn list_availability_domains(uri: Uri) -> Res {
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
}
