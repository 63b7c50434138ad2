//! What each backend accepts of an instance's cloud-init, checked while planning, so that
//! `validate`, `plan` and `deploy` find an oversized template before contacting anything.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use super::DesiredInstance;
use crate::config::ProviderKind;

/// OCI's limit on an instance's metadata. The API reference, LaunchInstanceDetails `metadata`:
/// "The combined size of the `metadata` and `extendedMetadata` objects can be a maximum of
/// 32,000 bytes" (also docs.oracle.com/iaas/Content/Compute/Tasks/updatinginstancemetada.htm).
pub(crate) const OCI_METADATA_MAX: usize = 32_000;

/// Kubernetes' limit on a Secret: `MaxSecretSize = 1 * 1024 * 1024` (k8s.io/api core/v1
/// types.go); `ValidateSecret` (pkg/apis/core/validation) refuses a Secret whose `data`
/// values, decoded, add up to more (keys are not counted; `stringData` is merged into `data`).
pub(crate) const KUBE_SECRET_MAX: usize = 1024 * 1024;

/// The `metadata` object of OCI's LaunchInstanceDetails for `inst`: the one builder, used by
/// `provider/oci/resources.rs` `launch_details` and by the size check, so they cannot differ.
pub(crate) fn oci_metadata(inst: &DesiredInstance) -> Map<String, Value> {
    let mut metadata = Map::new();
    if !inst.ssh_authorized_keys.is_empty() {
        metadata.insert(
            "ssh_authorized_keys".into(),
            json!(inst.ssh_authorized_keys.join("\n")),
        );
    }
    if !inst.user_data.is_empty() {
        metadata.insert(
            "user_data".into(),
            json!(B64.encode(inst.user_data.as_bytes())),
        );
    }
    metadata
}

/// Why `inst`'s cloud-init would be refused by the `kind` backend, with the fix; `None` if it fits.
pub(super) fn cloud_init_problem(kind: ProviderKind, inst: &DesiredInstance) -> Option<String> {
    match kind {
        ProviderKind::Oci => oci_problem(inst),
        ProviderKind::Kubevirt => kubevirt_problem(inst),
    }
}

fn oci_problem(inst: &DesiredInstance) -> Option<String> {
    let metadata = oci_metadata(inst);
    // OCI does not say how it measures "the size of the object"; the object as it goes on the
    // wire (JSON: keys, quotes, escapes, with user_data in base64) is the most any reading can
    // count, so what passes here passes there. vauto sends no `extendedMetadata`.
    let size = serde_json::to_string(&metadata).map_or(usize::MAX, |s| s.len());
    if size <= OCI_METADATA_MAX {
        return None;
    }
    let user_data = inst.user_data.len();
    let encoded = metadata
        .get("user_data")
        .and_then(Value::as_str)
        .map_or(0, str::len);
    let keys = metadata
        .get("ssh_authorized_keys")
        .and_then(Value::as_str)
        .map_or(0, str::len);
    Some(format!(
        "`{}`: the instance metadata OCI would receive is {size} bytes (user_data: {user_data} bytes of rendered cloud-init, {encoded} in base64; ssh_authorized_keys: {keys} bytes), over OCI's limit of {OCI_METADATA_MAX} bytes (LaunchInstanceDetails.metadata): make the template smaller, e.g. have cloud-init download large files at boot instead of writing them inline",
        inst.name
    ))
}

fn kubevirt_problem(inst: &DesiredInstance) -> Option<String> {
    // The `<name>-cloudinit` Secret of `provider/kubevirt/resources.rs` `secret`: `userdata`,
    // and `networkdata` with ipam.
    let user_data = inst.user_data.len();
    let network_data = inst.network_data.as_ref().map_or(0, String::len);
    let size = user_data + network_data;
    if size <= KUBE_SECRET_MAX {
        return None;
    }
    Some(format!(
        "`{}`: the cloud-init Secret would hold {size} bytes (userdata: {user_data}, networkdata: {network_data}), over Kubernetes' limit of {KUBE_SECRET_MAX} bytes (1 MiB) per Secret: make the template smaller, e.g. have cloud-init download large files at boot instead of writing them inline",
        inst.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(user_data: &str, keys: &[&str]) -> DesiredInstance {
        DesiredInstance {
            name: "web-01".into(),
            index: 0,
            project: "lab".into(),
            spec: "web".into(),
            labels: Default::default(),
            static_ip: None,
            user_data: user_data.into(),
            network_data: None,
            ssh_authorized_keys: keys.iter().map(|k| k.to_string()).collect(),
        }
    }

    const KEY: &str = "ssh-ed25519 AAAA kk";

    /// The size the check counts, for `n` bytes of user data and [`KEY`].
    fn oci_size(n: usize) -> usize {
        serde_json::to_string(&oci_metadata(&inst(&"x".repeat(n), &[KEY])))
            .unwrap()
            .len()
    }

    #[test]
    fn oci_counts_the_metadata_object_as_sent_with_user_data_in_base64() {
        // {"ssh_authorized_keys":"ssh-ed25519 AAAA kk","user_data":"<base64>"}: 60 bytes + base64.
        assert_eq!(oci_size(3), 60 + 4);
        // 23,955 bytes of user data are 31,940 in base64: exactly 32,000 with the rest.
        assert_eq!(oci_size(23_955), OCI_METADATA_MAX);
        let ok = inst(&"x".repeat(23_955), &[KEY]);
        assert_eq!(cloud_init_problem(ProviderKind::Oci, &ok), None);
        let big = inst(&"x".repeat(23_956), &[KEY]);
        let msg = cloud_init_problem(ProviderKind::Oci, &big).unwrap();
        assert!(msg.contains("is 32004 bytes (user_data: 23956 bytes of rendered cloud-init, 31944 in base64; ssh_authorized_keys: 19 bytes)"), "{msg}");
        assert!(msg.contains("over OCI's limit of 32000 bytes"), "{msg}");
        // The same user data is far from the KubeVirt limit.
        assert_eq!(cloud_init_problem(ProviderKind::Kubevirt, &big), None);
    }

    #[test]
    fn kubevirt_counts_userdata_and_networkdata() {
        let mut i = inst(&"x".repeat(KUBE_SECRET_MAX - 10), &[]);
        i.network_data = Some("y".repeat(10));
        assert_eq!(cloud_init_problem(ProviderKind::Kubevirt, &i), None);
        i.network_data = Some("y".repeat(11));
        let msg = cloud_init_problem(ProviderKind::Kubevirt, &i).unwrap();
        assert!(msg.contains("would hold 1048577 bytes"), "{msg}");
    }
}
