//! Status rows: one `InstanceStatus` per OCI instance, with its size and addresses.

use std::collections::HashMap;

use super::addresses::addresses_of;
use super::client::{Instance, OciClient, VnicAttachment};
use crate::model::{InstanceStatus, ProviderError};
use crate::plan::{LABEL_NAME, LABEL_SPEC};

/// One status row; `attachments` are the compartment's VNIC attachments by instance (or why
/// they could not be listed), so each row costs one GetVnic instead of a list and a get.
pub(crate) async fn status_row(
    client: &OciClient,
    inst: Instance,
    attachments: &Result<HashMap<String, Vec<VnicAttachment>>, ProviderError>,
) -> InstanceStatus {
    let mut row = InstanceStatus {
        name: inst
            .freeform_tags
            .get(LABEL_NAME)
            .cloned()
            .unwrap_or_else(|| inst.display_name.clone()),
        spec: inst
            .freeform_tags
            .get(LABEL_SPEC)
            .cloned()
            .unwrap_or_default(),
        state: inst.lifecycle_state.clone(),
        placement: Some(inst.availability_domain.clone()).filter(|a| !a.is_empty()),
        created: inst.time_created.clone(),
        id: inst.id.clone(),
        ..InstanceStatus::default()
    };
    let mut size = inst.shape.clone();
    if let Some(cfg) = &inst.shape_config
        && let (Some(o), Some(m)) = (cfg.ocpus, cfg.memory_in_gbs)
    {
        size.push_str(&format!(" {o} OCPU/{m} GB"));
        row.extra.ocpus = Some(o.to_string());
        row.extra.memory_gb = Some(m.to_string());
    }
    row.size = Some(size);
    row.extra.fault_domain.clone_from(&inst.fault_domain);
    let addresses = match attachments {
        Ok(by_instance) => {
            let mine: Vec<&VnicAttachment> = by_instance
                .get(&inst.id)
                .map(|v| v.iter().collect())
                .unwrap_or_default();
            addresses_of(client, &mine).await
        }
        Err(e) => Err(e.clone()),
    };
    match addresses {
        Ok((private, public)) => {
            row.ip = private;
            row.public_ip = public;
        }
        Err(e) => row.last_event = Some(format!("addresses unavailable: {}", e.message)),
    }
    row
}
