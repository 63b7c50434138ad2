//! `status`: one row per instance, what it says about the guest, and the instance's events.

use serde::Serialize;

/// How much `status` reads besides the instances themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusOptions {
    /// The newest events to keep per instance (`--events N`); 0 reads no events at all.
    pub events: usize,
}

impl Default for StatusOptions {
    /// One event per instance: the `LAST EVENT` column.
    fn default() -> Self {
        StatusOptions { events: 1 }
    }
}

/// One row of `status`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct InstanceStatus {
    /// Instance name.
    pub name: String,
    /// Spec name.
    pub spec: String,
    /// The resource kind, for rows of a `select:` spec (`Instance`, `AutonomousDatabase` ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Backend state (`Running`, `Stopped`, `PROVISIONING` ...).
    pub state: String,
    /// Private / primary IP address.
    pub ip: Option<String>,
    /// Every usable address of the instance, `ip` first (KubeVirt: of every interface,
    /// IPv6 link-local left out); empty where the backend reports only `ip`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
    /// Public IP address (OCI).
    pub public_ip: Option<String>,
    /// Kubernetes node or OCI availability domain.
    pub placement: Option<String>,
    /// OCI shape, or cpu/memory for KubeVirt.
    pub size: Option<String>,
    /// Disk import progress (KubeVirt DataVolume phase and progress).
    pub disk: Option<String>,
    /// Creation time (RFC 3339).
    pub created: Option<String>,
    /// Last event or lifecycle message.
    pub last_event: Option<String>,
    /// The newest events about the instance's objects, oldest first (`--events N`); `None`
    /// where the backend keeps no events or none were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<StatusEvent>>,
    /// Backend id.
    pub id: String,
    /// Sizing and placement facts some backends have (`-o json` key `extra`).
    #[serde(skip_serializing_if = "StatusExtra::is_empty")]
    pub extra: StatusExtra,
}

impl InstanceStatus {
    /// The addresses to show: every one in `ips`, else `ip`.
    pub(crate) fn addresses(&self) -> Vec<&str> {
        if self.ips.is_empty() {
            self.ip.as_deref().into_iter().collect()
        } else {
            self.ips.iter().map(String::as_str).collect()
        }
    }
}

/// The facts of a status row that only some backends report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct StatusExtra {
    /// Fault domain within the availability domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_domain: Option<String>,
    /// The guest's operating system as its guest agent reports it (KubeVirt VMI
    /// `status.guestOSInfo`); `None` without a guest agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_os: Option<GuestOs>,
    /// The network interfaces as the backend reports them (KubeVirt VMI `status.interfaces`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<NetInterface>,
    /// Memory of a flex shape, in GB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_gb: Option<String>,
    /// Kubernetes namespace of the VM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// OCPUs of a flex shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocpus: Option<String>,
}

impl StatusExtra {
    /// No fact is set.
    pub(crate) fn is_empty(&self) -> bool {
        *self == StatusExtra::default()
    }
}

/// A guest's operating system, as a guest agent reports it (the fields of KubeVirt's
/// `VirtualMachineInstanceGuestOSInfo`, which come from qemu-guest-agent's
/// `guest-get-osinfo`, i.e. the guest's `/etc/os-release` and `uname`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct GuestOs {
    /// `rhel`, `ubuntu`, `mswindows` ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `Red Hat Enterprise Linux`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Red Hat Enterprise Linux 9.4 (Plow)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// `9.4 (Plow)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `9.4`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `5.14.0-427.13.1.el9_4.x86_64`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<String>,
    /// `#1 SMP PREEMPT_DYNAMIC Wed Apr 10 10:29:16 EDT 2024`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_version: Option<String>,
    /// `x86_64`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
}

impl GuestOs {
    /// Nothing is known (a VMI without a guest agent reports `guestOSInfo: {}`).
    pub(crate) fn is_empty(&self) -> bool {
        *self == GuestOs::default()
    }

    /// The OS in a few words: name and version (`Red Hat Enterprise Linux 9.4`,
    /// `Ubuntu 22.04`). Windows names itself only in its pretty name (`Windows Server 2022
    /// Datacenter`; its `name` is `Microsoft Windows`).
    pub(crate) fn label(&self) -> Option<String> {
        let windows = self.id.as_deref() == Some("mswindows");
        match (&self.name, &self.version_id) {
            (Some(name), Some(v)) if !windows => Some(format!("{name} {v}")),
            _ => self
                .pretty_name
                .clone()
                .or_else(|| self.name.clone())
                .or_else(|| self.id.clone()),
        }
    }
}

/// One network interface of an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct NetInterface {
    /// The network it is attached to (`default`, the multus network's name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The interface's name inside the guest (`eth0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_name: Option<String>,
    /// Hardware address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Every address as reported, link-local included.
    pub ip_addresses: Vec<String>,
    /// Where the facts come from: `domain`, `guest-agent`, `multus-status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_source: Option<String>,
}

/// One event about one of an instance's objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct StatusEvent {
    /// When it was last seen (RFC 3339).
    pub time: Option<String>,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `Started`, `FailedScheduling` ...
    pub reason: String,
    /// The kind of the object it is about (`VirtualMachineInstance`).
    pub kind: String,
    /// The name of that object.
    pub name: String,
    /// What happened.
    pub message: String,
    /// How many times it happened (the server folds repeats into one event).
    pub count: u32,
}
