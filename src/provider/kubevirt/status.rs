//! Status rows: what a VMI's guest agent says (OS, every interface's addresses) and the
//! newest Events of an instance's objects.

use std::collections::HashMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Event as KubeEvent;
use serde_json::Value;

use super::provider::{event_key, event_line};
use crate::model::{GuestOs, InstanceStatus, NetInterface, StatusEvent};

/// The guest OS a VMI's guest agent reports (`status.guestOSInfo`); `None` without a guest
/// agent, where KubeVirt leaves the field an empty object.
pub(crate) fn guest_os(vmi: &Value) -> Option<GuestOs> {
    let info = vmi.pointer("/status/guestOSInfo")?;
    let s = |key: &str| {
        info.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let os = GuestOs {
        id: s("id"),
        name: s("name"),
        pretty_name: s("prettyName"),
        version: s("version"),
        version_id: s("versionId"),
        kernel_release: s("kernelRelease"),
        kernel_version: s("kernelVersion"),
        machine: s("machine"),
    };
    (!os.is_empty()).then_some(os)
}

/// A VMI's interfaces as it reports them (`status.interfaces`), every address kept.
pub(crate) fn interfaces(vmi: &Value) -> Vec<NetInterface> {
    let Some(list) = vmi.pointer("/status/interfaces").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .map(|i| {
            let s = |key: &str| {
                i.get(key)
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            };
            let mut ips: Vec<String> = i
                .get("ipAddresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|ip| !ip.is_empty())
                .map(str::to_string)
                .collect();
            // `ipAddress` is the first of `ipAddresses` (KubeVirt's API); a status written by
            // something older may carry only it.
            if let Some(ip) = s("ipAddress")
                && !ips.contains(&ip)
            {
                ips.insert(0, ip);
            }
            NetInterface {
                name: s("name"),
                interface_name: s("interfaceName"),
                mac: s("mac"),
                ip_addresses: ips,
                info_source: s("infoSource"),
            }
        })
        .collect()
}

/// Every address of `interfaces` someone could reach, in order and once: without prefix
/// lengths, link-local addresses (IPv6 `fe80::/10`, IPv4 `169.254/16`) left out.
pub(crate) fn usable_addresses(interfaces: &[NetInterface]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for ip in interfaces.iter().flat_map(|i| &i.ip_addresses) {
        let ip = ip.split('/').next().unwrap_or(ip).trim();
        if ip.is_empty() || is_link_local(ip) || out.iter().any(|o| o == ip) {
            continue;
        }
        out.push(ip.to_string());
    }
    out
}

fn is_link_local(ip: &str) -> bool {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_link_local(),
        Ok(IpAddr::V6(v6)) => v6.segments()[0] & 0xffc0 == 0xfe80,
        Err(_) => ip.to_ascii_lowercase().starts_with("fe80"),
    }
}

/// Fills in what a VMI says: its node, its addresses and interfaces, the guest OS.
pub(crate) fn describe_vmi(row: &mut InstanceStatus, vmi: &Value) {
    row.placement = vmi
        .pointer("/status/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let ifaces = interfaces(vmi);
    row.ips = usable_addresses(&ifaces);
    row.ip = row.ips.first().cloned();
    row.extra.interfaces = ifaces;
    row.extra.guest_os = guest_os(vmi);
}

/// The Pod name KubeVirt gives an instance's virt-launcher: `virt-launcher-<vmi>-` and five
/// generated characters (the pod's `generateName`).
const LAUNCHER: &str = "virt-launcher-";

/// Where an Event is filed in [`EventIndex`]: by (kind, name), a launcher pod's Events by
/// its VMI's name under the kind `virt-launcher` (its own name has a generated suffix).
fn filed_under(e: &KubeEvent) -> Option<(&str, &str)> {
    let io = &e.involved_object;
    let (kind, name) = (io.kind.as_deref()?, io.name.as_deref()?);
    if kind == "Pod"
        && let Some(rest) = name.strip_prefix(LAUNCHER)
        && let Some((vmi, suffix)) = rest.rsplit_once('-')
        && suffix.len() == 5
        && suffix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Some(("virt-launcher", vmi));
    }
    Some((kind, name))
}

/// The namespace's Events by the object they are about, so that each instance finds its
/// own without looking at every other's.
pub(crate) struct EventIndex<'a> {
    by_object: HashMap<(&'a str, &'a str), Vec<&'a KubeEvent>>,
}

impl<'a> EventIndex<'a> {
    /// Files every event.
    pub(crate) fn new(events: &'a [KubeEvent]) -> EventIndex<'a> {
        let mut by_object: HashMap<(&str, &str), Vec<&KubeEvent>> = HashMap::new();
        for e in events {
            if let Some(key) = filed_under(e) {
                by_object.entry(key).or_default().push(e);
            }
        }
        EventIndex { by_object }
    }

    /// The newest `n` Events about instance `name`'s VM and VMI, its disks `disks` (the
    /// DataVolumes, the PVCs of the same names and CDI's `importer-<disk>` pods) and its
    /// virt-launcher pod, oldest first.
    pub(crate) fn newest(&self, name: &str, disks: &[String], n: usize) -> Vec<&'a KubeEvent> {
        let importers: Vec<String> = disks.iter().map(|d| format!("importer-{d}")).collect();
        let mut keys: Vec<(&str, &str)> = vec![
            ("VirtualMachine", name),
            ("VirtualMachineInstance", name),
            ("virt-launcher", name),
        ];
        for d in disks {
            keys.push(("DataVolume", d));
            keys.push(("PersistentVolumeClaim", d));
        }
        keys.extend(importers.iter().map(|p| ("Pod", p.as_str())));
        // A VM may name one disk twice (a DataVolume and its PVC); each event counts once.
        keys.sort_unstable();
        keys.dedup();
        let mut mine: Vec<&KubeEvent> = keys
            .iter()
            .filter_map(|k| self.by_object.get(k))
            .flatten()
            .copied()
            .collect();
        mine.sort_by_key(|e| event_key(e));
        let skip = mine.len().saturating_sub(n);
        mine.split_off(skip)
    }
}

/// An Event as a status row shows it.
pub(crate) fn status_event(e: &KubeEvent) -> StatusEvent {
    let io = &e.involved_object;
    StatusEvent {
        time: event_key(e).0.map(|t| t.to_string()),
        type_: e.type_.clone().unwrap_or_else(|| "Normal".to_string()),
        reason: e.reason.clone().unwrap_or_default(),
        kind: io.kind.clone().unwrap_or_default(),
        name: io.name.clone().unwrap_or_default(),
        message: e.message.as_deref().unwrap_or_default().trim().to_string(),
        count: e
            .count
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(1)
            .max(1),
    }
}

/// Puts `events` (oldest first) in `row`: all of them, and the newest as `last_event`.
pub(crate) fn attach_events(row: &mut InstanceStatus, events: &[&KubeEvent]) {
    row.last_event = events.last().map(|e| event_line(e));
    row.events = Some(events.iter().map(|e| status_event(e)).collect());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn guest_os_comes_from_the_guest_agent_only() {
        let vmi = json!({"status": {"guestOSInfo": {
            "id": "rhel", "name": "Red Hat Enterprise Linux", "prettyName": "Red Hat Enterprise Linux 9.4 (Plow)",
            "version": "9.4 (Plow)", "versionId": "9.4", "kernelRelease": "5.14.0-427.13.1.el9_4.x86_64",
            "kernelVersion": "#1 SMP PREEMPT_DYNAMIC Wed Apr 10 10:29:16 EDT 2024", "machine": "x86_64"
        }}});
        let os = guest_os(&vmi);
        assert_eq!(
            os,
            Some(GuestOs {
                id: Some("rhel".into()),
                name: Some("Red Hat Enterprise Linux".into()),
                pretty_name: Some("Red Hat Enterprise Linux 9.4 (Plow)".into()),
                version: Some("9.4 (Plow)".into()),
                version_id: Some("9.4".into()),
                kernel_release: Some("5.14.0-427.13.1.el9_4.x86_64".into()),
                kernel_version: Some("#1 SMP PREEMPT_DYNAMIC Wed Apr 10 10:29:16 EDT 2024".into()),
                machine: Some("x86_64".into()),
            })
        );
        assert_eq!(
            os.and_then(|o| o.label()).as_deref(),
            Some("Red Hat Enterprise Linux 9.4")
        );
        // Without a guest agent KubeVirt serialises the empty struct.
        assert_eq!(guest_os(&json!({"status": {"guestOSInfo": {}}})), None);
        assert_eq!(guest_os(&json!({"status": {}})), None);
        // Windows names its edition in the pretty name only.
        let win = json!({"status": {"guestOSInfo": {"id": "mswindows", "name": "Microsoft Windows",
            "prettyName": "Windows Server 2022 Datacenter", "versionId": "2022"}}});
        assert_eq!(
            guest_os(&win).and_then(|o| o.label()).as_deref(),
            Some("Windows Server 2022 Datacenter")
        );
    }

    #[test]
    fn every_address_of_every_interface_counts_but_link_local() {
        let vmi = json!({"status": {"interfaces": [
            {"name": "net0", "interfaceName": "eth0", "mac": "02:00:00:00:00:01", "infoSource": "domain, guest-agent",
             "ipAddress": "192.168.10.101", "ipAddresses": ["192.168.10.101", "192.168.10.150/24", "fe80::1"]},
            {"name": "default", "interfaceName": "eth1", "ipAddress": "10.128.2.17",
             "ipAddresses": ["10.128.2.17", "fd10:128::17", "FE80::2", "169.254.1.1"]},
            {"interfaceName": "docker0", "infoSource": "guest-agent", "ipAddresses": ["172.17.0.1"]},
            {"name": "net1", "mac": "02:00:00:00:00:02", "infoSource": "domain"},
        ]}});
        let ifaces = interfaces(&vmi);
        assert_eq!(
            ifaces[0],
            NetInterface {
                name: Some("net0".into()),
                interface_name: Some("eth0".into()),
                mac: Some("02:00:00:00:00:01".into()),
                ip_addresses: vec![
                    "192.168.10.101".into(),
                    "192.168.10.150/24".into(),
                    "fe80::1".into()
                ],
                info_source: Some("domain, guest-agent".into()),
            }
        );
        assert_eq!(ifaces[3].ip_addresses, Vec::<String>::new());
        assert_eq!(
            usable_addresses(&ifaces),
            [
                "192.168.10.101",
                "192.168.10.150",
                "10.128.2.17",
                "fd10:128::17",
                "172.17.0.1"
            ]
        );
        let mut row = InstanceStatus::default();
        describe_vmi(&mut row, &vmi);
        assert_eq!(row.ip.as_deref(), Some("192.168.10.101"));
        assert_eq!(row.ips.len(), 5);
        assert_eq!(row.extra.interfaces.len(), 4);
        assert_eq!(row.extra.guest_os, None);
        // Only `ipAddress` (an older status): still an address.
        let old = json!({"status": {"interfaces": [{"name": "default", "ipAddress": "10.0.0.5"}]}});
        assert_eq!(usable_addresses(&interfaces(&old)), ["10.0.0.5"]);
    }

    fn event(kind: &str, name: &str, reason: &str, at: &str, rv: &str) -> KubeEvent {
        serde_json::from_value(json!({
            "metadata": {"name": format!("{name}.{reason}"), "resourceVersion": rv},
            "involvedObject": {"kind": kind, "name": name},
            "reason": reason,
            "message": format!("{reason} of {name} "),
            "type": if reason == "FailedScheduling" { "Warning" } else { "Normal" },
            "count": 2,
            "lastTimestamp": at,
        }))
        .unwrap_or_default()
    }

    #[test]
    fn an_instances_newest_events_come_from_all_its_objects_oldest_first() {
        let events = vec![
            event(
                "VirtualMachine",
                "web-01",
                "SuccessfulCreate",
                "2026-01-01T10:00:00Z",
                "1",
            ),
            event(
                "DataVolume",
                "web-01-disk",
                "ImportSucceeded",
                "2026-01-01T10:02:00Z",
                "2",
            ),
            event(
                "PersistentVolumeClaim",
                "web-01-disk",
                "Provisioning",
                "2026-01-01T10:01:00Z",
                "3",
            ),
            event(
                "Pod",
                "importer-web-01-disk",
                "Pulled",
                "2026-01-01T10:01:30Z",
                "4",
            ),
            event(
                "Pod",
                "virt-launcher-web-01-x7k2p",
                "FailedScheduling",
                "2026-01-01T10:03:00Z",
                "5",
            ),
            event(
                "VirtualMachineInstance",
                "web-01",
                "Created",
                "2026-01-01T10:04:00Z",
                "6",
            ),
            event(
                "VirtualMachineInstance",
                "web-01",
                "Started",
                "2026-01-01T10:04:00Z",
                "7",
            ),
            // Another instance's, whose names share a prefix.
            event(
                "VirtualMachine",
                "web-011",
                "SuccessfulCreate",
                "2026-01-01T11:00:00Z",
                "8",
            ),
            event(
                "Pod",
                "virt-launcher-web-011-abcde",
                "Pulled",
                "2026-01-01T11:00:00Z",
                "9",
            ),
            event(
                "Pod",
                "virt-launcher-web-01-toolong",
                "Pulled",
                "2026-01-01T11:00:00Z",
                "10",
            ),
        ];
        let index = EventIndex::new(&events);
        let disks = vec!["web-01-disk".to_string()];
        let reasons = |n| {
            index
                .newest("web-01", &disks, n)
                .iter()
                .map(|e| e.reason.clone().unwrap_or_default())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            reasons(10),
            [
                "SuccessfulCreate",
                "Provisioning",
                "Pulled",
                "ImportSucceeded",
                "FailedScheduling",
                "Created",
                "Started"
            ]
        );
        // Same second: the later write (resourceVersion) is the newer.
        assert_eq!(reasons(2), ["Created", "Started"]);
        assert!(reasons(0).is_empty());
        let mut row = InstanceStatus::default();
        attach_events(&mut row, &index.newest("web-01", &disks, 2));
        assert_eq!(
            row.last_event.as_deref(),
            Some("Started: Started of web-01")
        );
        assert_eq!(
            row.events.as_ref().and_then(|e| e.first()),
            Some(&StatusEvent {
                time: Some("2026-01-01T10:04:00Z".into()),
                type_: "Normal".into(),
                reason: "Created".into(),
                kind: "VirtualMachineInstance".into(),
                name: "web-01".into(),
                message: "Created of web-01".into(),
                count: 2,
            })
        );
    }
}
