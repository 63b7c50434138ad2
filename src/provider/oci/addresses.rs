//! IP addresses of instances: VNIC attachments and the primary VNIC's private and public IP.

use std::collections::HashMap;

use super::client::{OciClient, VnicAttachment};
use crate::model::ProviderError;

/// Private and public IP of an instance; either may be missing.
pub(crate) type Addresses = (Option<String>, Option<String>);

/// Private and public IP of the primary VNIC of `instance_id`.
pub(crate) async fn addresses(
    client: &OciClient,
    compartment: &str,
    instance_id: &str,
) -> Result<Addresses, ProviderError> {
    let attachments = client
        .list_vnic_attachments(compartment, Some(instance_id))
        .await?;
    let attachments: Vec<&VnicAttachment> = attachments.iter().collect();
    addresses_of(client, &attachments).await
}

/// Private and public IP of the primary VNIC among one instance's `attachments` (the first
/// attached VNIC when none says it is primary).
pub(crate) async fn addresses_of(
    client: &OciClient,
    attachments: &[&VnicAttachment],
) -> Result<Addresses, ProviderError> {
    let mut first = (None, None);
    for a in attachments
        .iter()
        .filter(|a| a.lifecycle_state == "ATTACHED" || a.lifecycle_state.is_empty())
    {
        let Some(vnic_id) = &a.vnic_id else { continue };
        let vnic = client.get_vnic(vnic_id).await?;
        let ips = (vnic.private_ip.clone(), vnic.public_ip.clone());
        if vnic.is_primary != Some(false) {
            return Ok(ips);
        }
        if first.0.is_none() {
            first = ips;
        }
    }
    Ok(first)
}

/// A compartment's VNIC attachments grouped by instance id.
pub(crate) fn by_instance(list: Vec<VnicAttachment>) -> HashMap<String, Vec<VnicAttachment>> {
    let mut by_instance: HashMap<String, Vec<VnicAttachment>> = HashMap::new();
    for a in list {
        by_instance
            .entry(a.instance_id.clone())
            .or_default()
            .push(a);
    }
    by_instance
}
