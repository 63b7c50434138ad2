//! Terminal conditions: states of a VM or its disk that no amount of waiting will change, and
//! the Event that says why.
//!
//! The rules follow KubeVirt's own: a VM's `printableStatus` names what blocks it
//! (`ErrorUnschedulable`, `ErrImagePull`, ...), and KubeVirt's VM controller reports
//! `DataVolumeError` when a DataVolume is in phase `Failed` or its `Running` condition is
//! `False` with reason `Error` or `ImagePullFailed` (`HasDataVolumeErrors`,
//! kubevirt/kubevirt `pkg/storage/types/dv.go`). CDI itself never moves an import that
//! keeps failing to `Failed`: the importer pod restarts and the DataVolume stays
//! `ImportInProgress` with that condition (containerized-data-importer
//! `tests/datavolume_test.go`, "fail creating import dv due to invalid DNS entry").

use k8s_openapi::api::core::v1::Event as KubeEvent;
use serde_json::Value;

use super::provider::{event_line, newest};

/// `printableStatus` values that mean the VM cannot start until someone changes something.
const STUCK_VM_STATES: [&str; 5] = [
    "ErrorUnschedulable",
    "ErrImagePull",
    "ImagePullBackOff",
    "CrashLoopBackOff",
    "DataVolumeError",
];

/// `Running` condition reasons with which KubeVirt calls a DataVolume failed.
const DV_ERROR_REASONS: [&str; 2] = ["Error", "ImagePullFailed"];

/// Why a VM will not run: its state and, when known, the status's own explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stuck {
    /// `ErrorUnschedulable`, or `disk Failed` / `disk ImportInProgress` for a failing disk.
    pub(crate) state: String,
    /// The condition message, used when no Event says more.
    pub(crate) detail: Option<String>,
}

/// Whether a VM whose `printableStatus` is `state` cannot run without a change.
pub(crate) fn is_stuck_state(state: &str) -> bool {
    STUCK_VM_STATES.contains(&state)
}

/// A failed DataVolume: phase `Failed`, or an import KubeVirt counts as failed.
pub(crate) fn dv_failure(dv: &Value) -> Option<Stuck> {
    let phase = dv.pointer("/status/phase").and_then(Value::as_str)?;
    let running = condition(dv, "Running");
    let message = running
        .and_then(|c| c.get("message"))
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    if phase == "Failed" {
        return Some(Stuck {
            state: "disk Failed".into(),
            detail: message,
        });
    }
    let running = running?;
    let status = running.get("status").and_then(Value::as_str);
    let reason = running.get("reason").and_then(Value::as_str).unwrap_or("");
    (status == Some("False") && DV_ERROR_REASONS.contains(&reason)).then(|| Stuck {
        state: format!("disk {phase}"),
        detail: message,
    })
}

/// Why the VM `vm` (with its VMI and DataVolume, when they exist) will not run, if it will not.
pub(crate) fn stuck(vm: &Value, vmi: Option<&Value>, dv: Option<&Value>) -> Option<Stuck> {
    // The disk first: its condition says more than the VM's `DataVolumeError`.
    if let Some(s) = dv.and_then(dv_failure) {
        return Some(s);
    }
    let state = vm
        .pointer("/status/printableStatus")
        .and_then(Value::as_str)?;
    is_stuck_state(state).then(|| Stuck {
        state: state.to_string(),
        detail: vmi.and_then(unschedulable_message),
    })
}

/// The message of a VMI's `PodScheduled=False` condition (copied from the launcher pod).
fn unschedulable_message(vmi: &Value) -> Option<String> {
    let c = condition(vmi, "PodScheduled")?;
    (c.get("status").and_then(Value::as_str) == Some("False"))
        .then(|| c.get("message").and_then(Value::as_str))
        .flatten()
        .filter(|m| !m.is_empty())
        .map(str::to_string)
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

/// The error text for `instance`, stuck as `stuck`: the newest Warning Event about its VM,
/// VMI, DataVolume or launcher pod (the scheduler reports `FailedScheduling` on the pod,
/// image pulls too), else the status's own message.
pub(crate) fn explain(instance: &str, stuck: &Stuck, events: &[KubeEvent]) -> String {
    let disk = super::resources::disk_name(instance);
    let launcher = format!("virt-launcher-{instance}-");
    let about = |e: &&KubeEvent| {
        let io = &e.involved_object;
        let (kind, name) = (io.kind.as_deref(), io.name.as_deref().unwrap_or(""));
        match kind {
            Some("VirtualMachine" | "VirtualMachineInstance") => name == instance,
            Some("DataVolume") => name == disk,
            Some("Pod") => name.starts_with(&launcher),
            _ => false,
        }
    };
    let warning = newest(
        events
            .iter()
            .filter(about)
            .filter(|e| e.type_.as_deref() == Some("Warning")),
    );
    let why = warning
        .map(event_line)
        .or_else(|| stuck.detail.clone())
        .unwrap_or_else(|| "waiting will not change it; see `vauto status`".to_string());
    format!("{} is {}: {why}", instance, stuck.state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, name: &str, reason: &str, warning: bool, at: &str) -> KubeEvent {
        serde_json::from_value(json!({
            "metadata": {"name": format!("{name}.{reason}")},
            "involvedObject": {"kind": kind, "name": name},
            "reason": reason,
            "message": format!("{reason} happened"),
            "type": if warning { "Warning" } else { "Normal" },
            "lastTimestamp": at,
        }))
        .unwrap()
    }

    #[test]
    fn stuck_vm_states_end_the_wait() {
        for s in [
            "ErrorUnschedulable",
            "ErrImagePull",
            "ImagePullBackOff",
            "CrashLoopBackOff",
        ] {
            let vm = json!({"status": {"printableStatus": s}});
            assert_eq!(stuck(&vm, None, None).map(|s| s.state), Some(s.to_string()));
        }
        for s in [
            "Provisioning",
            "Starting",
            "Running",
            "Stopped",
            "WaitingForVolumeBinding",
        ] {
            let vm = json!({"status": {"printableStatus": s}});
            assert_eq!(stuck(&vm, None, None), None, "{s}");
        }
        assert_eq!(stuck(&json!({}), None, None), None);
    }

    #[test]
    fn an_unschedulable_vmi_explains_itself_without_events() {
        let vm = json!({"status": {"printableStatus": "ErrorUnschedulable"}});
        let vmi = json!({"status": {"conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/3 nodes are available"}]}});
        let s = stuck(&vm, Some(&vmi), None).unwrap();
        assert_eq!(
            explain("web-01", &s, &[]),
            "web-01 is ErrorUnschedulable: 0/3 nodes are available"
        );
    }

    #[test]
    fn a_failing_import_is_terminal_as_kubevirt_counts_it() {
        let dv = |phase: &str, status: &str, reason: &str| {
            json!({"status": {"phase": phase, "conditions": [
                {"type": "Running", "status": status, "reason": reason, "message": "Unable to connect to http data source: boom"}
            ]}})
        };
        let s = dv_failure(&dv("ImportInProgress", "False", "Error")).unwrap();
        assert_eq!(s.state, "disk ImportInProgress");
        assert_eq!(
            s.detail.as_deref(),
            Some("Unable to connect to http data source: boom")
        );
        assert!(dv_failure(&dv("ImportInProgress", "False", "ImagePullFailed")).is_some());
        assert_eq!(
            dv_failure(&dv("Failed", "False", "")).unwrap().state,
            "disk Failed"
        );
        // Still running, or finished: nothing wrong.
        assert_eq!(
            dv_failure(&dv("ImportInProgress", "True", "Pod is running")),
            None
        );
        assert_eq!(dv_failure(&dv("Succeeded", "False", "Completed")), None);
        // The disk's reason wins over the VM's `DataVolumeError`.
        let vm = json!({"status": {"printableStatus": "DataVolumeError"}});
        let failing = dv("ImportInProgress", "False", "Error");
        assert_eq!(
            stuck(&vm, None, Some(&failing)).unwrap().state,
            "disk ImportInProgress"
        );
    }

    #[test]
    fn the_newest_warning_about_the_instance_is_the_reason() {
        let s = Stuck {
            state: "ErrorUnschedulable".into(),
            detail: Some("from the condition".into()),
        };
        let events = vec![
            event(
                "VirtualMachineInstance",
                "web-01",
                "SuccessfulCreate",
                false,
                "2026-01-01T10:00:09Z",
            ),
            event(
                "Pod",
                "virt-launcher-web-01-abcde",
                "FailedScheduling",
                true,
                "2026-01-01T10:00:08Z",
            ),
            event(
                "VirtualMachine",
                "web-01",
                "Older",
                true,
                "2026-01-01T10:00:01Z",
            ),
            // Newer warnings about other objects do not count.
            event(
                "Pod",
                "virt-launcher-web-010-xyz",
                "Other",
                true,
                "2026-01-01T10:00:10Z",
            ),
            event(
                "VirtualMachine",
                "web-02",
                "Other",
                true,
                "2026-01-01T10:00:10Z",
            ),
        ];
        assert_eq!(
            explain("web-01", &s, &events),
            "web-01 is ErrorUnschedulable: FailedScheduling: FailedScheduling happened"
        );
        assert_eq!(
            explain("web-01", &s, &events[..1]),
            "web-01 is ErrorUnschedulable: from the condition"
        );
    }
}
