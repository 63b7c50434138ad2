//! Images: the platform image catalog, filtered by OS, version and shape.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::Uri;

use super::paging::{filter_eq, page};
use super::{Res, compartment, query};
use crate::sim::oci::Sim;
use crate::sim::oci::catalog;
use crate::sim::oci::error::not_found;

pub(super) async fn list_images(State(sim): State<Arc<Sim>>, uri: Uri) -> Res {
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
}

/// GetImage (`GET /images/{id}`): a platform image by OCID; any other OCID is 404
/// `NotAuthorizedOrNotFound`, as for every unknown OCID.
pub(super) async fn get_image(Path(id): Path<String>) -> Res {
    let img = catalog::images()
        .into_iter()
        .find(|i| i.id == id)
        .ok_or_else(not_found)?;
    Ok(Json(catalog::image_json(&img)).into_response())
}
