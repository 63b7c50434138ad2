//! ListShapes (`GET /shapes`): the shapes the catalog knows, filtered by AD and image, paged.

use std::sync::Arc;

use axum::extract::State;
use chrono::{DateTime, Utc};
use http::Uri;
use serde_json::{Value, json};

use super::paging::page;
use super::{Res, compartment, query};
use crate::sim::oci::Sim;
use crate::sim::oci::catalog::{self, Shape};
use crate::sim::oci::error::invalid;

/// ListShapes takes `compartmentId` (required), `availabilityDomain`, `imageId`, `limit` and
/// `page` (Core API reference, ListShapes). With an AD, only the shapes the capacity model
/// offers there are listed; with an image, only the shapes that can boot it. Items come in
/// catalog order, paged like every list call.
pub(super) async fn list_shapes(State(sim): State<Arc<Sim>>, uri: Uri) -> Res {
    let q = query(&uri)?;
    compartment(&q)?;
    let offered: Option<Vec<String>> = match q.get("availabilityDomain") {
        None => None,
        Some(ad) => {
            let suffix = catalog::ad_suffix(ad)
                .ok_or_else(|| invalid(&format!("Invalid availabilityDomain {ad}.")))?;
            sim.opts.capacity.for_ad(&suffix).shapes.clone()
        }
    };
    let image = match q.get("imageId") {
        None => None,
        Some(id) => match catalog::images().into_iter().find(|i| &i.id == id) {
            Some(img) => Some(img),
            // An image the caller cannot see fits no shape.
            None => return page(&sim, &q, Vec::new(), false),
        },
    };
    let items = catalog::SHAPES
        .iter()
        .filter(|s| {
            offered
                .as_ref()
                .is_none_or(|o| o.iter().any(|n| n == s.name))
        })
        .filter(|s| image.as_ref().is_none_or(|i| catalog::compatible(s, i)))
        .map(|s| {
            (
                DateTime::<Utc>::UNIX_EPOCH,
                s.name.to_string(),
                shape_json(s),
            )
        })
        .collect();
    page(&sim, &q, items, false)
}

/// The Shape JSON (`oci.core.models.Shape`): a flexible shape lists its default size with its
/// OCPU and memory ranges (1 to 64 GB per OCPU, as LaunchInstance enforces).
fn shape_json(s: &Shape) -> Value {
    let mut v = json!({
        "shape": s.name,
        "isFlexible": s.flex,
        "processorDescription": s.processor,
        "ocpus": if s.flex { 1.0 } else { s.ocpus },
        "memoryInGBs": s.memory_gbs,
        "networkingBandwidthInGbps": 1.0,
        "maxVnicAttachments": 2,
        "gpus": 0,
        "localDisks": 0,
        "isLiveMigrationSupported": true,
        "billingType": if s.name == "VM.Standard.E2.1.Micro" || s.name == "VM.Standard.A1.Flex" { "LIMITED_FREE" } else { "PAID" }
    });
    if s.flex {
        v["ocpuOptions"] = json!({"min": 1.0, "max": s.ocpus});
        v["memoryOptions"] = json!({
            "minInGBs": 1.0,
            "maxInGBs": s.ocpus * 64.0,
            "defaultPerOcpuInGBs": s.memory_gbs,
            "minPerOcpuInGBs": 1.0,
            "maxPerOcpuInGBs": 64.0
        });
    }
    v
}
