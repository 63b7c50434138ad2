//! The guest inside a simulated VMI: what its guest agent (qemu-guest-agent) reports.
//!
//! KubeVirt learns a guest's OS and the addresses seen inside it only from the guest agent
//! (virt-handler's `guest-get-osinfo` and `guest-network-get-interfaces` calls). With an
//! agent a VMI's `status.guestOSInfo` holds the OS and its interfaces carry every address the
//! guest has (IPv6 link-local included) with `infoSource` naming `guest-agent`; without one
//! `guestOSInfo` is the empty object KubeVirt serialises (`VirtualMachineInstanceGuestOSInfo`
//! is no pointer) and a bridged secondary interface has no address at all, while the pod
//! network's still shows the pod's (kubevirt/kubevirt `pkg/network/netstat`).
//!
//! The simulated guest runs the OS its disk image names (`docker://registry.local/rhel9:9.4`
//! is RHEL 9.4, `.../ubuntu:22.04` Ubuntu 22.04), and has an agent unless the simulator was
//! started with [`super::KubeSimOptions::guest_agent`] off.

use serde_json::{Value, json};

use super::store::{DVS, Entry, Store, Walk, key};

/// The disk image a VMI boots: its first volume's container disk, or the source of the
/// DataVolume it names (registry or http URL, cloned PVC or DataSource name).
fn image_of(store: &Store, vmi: &Entry) -> Option<String> {
    let volumes = vmi.object.at("/spec/volumes")?.as_array()?;
    volumes.iter().find_map(|v| {
        if let Some(image) = v.at("/containerDisk/image").and_then(Value::as_str) {
            return Some(image.to_string());
        }
        let dv = v.at("/dataVolume/name").and_then(Value::as_str)?;
        let dv = store.objects.get(&key(DVS.plural, &vmi.namespace, dv))?;
        let at = |p: &str| dv.object.at(p).and_then(Value::as_str);
        at("/spec/source/registry/url")
            .or_else(|| at("/spec/source/http/url"))
            .or_else(|| at("/spec/source/pvc/name"))
            .or_else(|| at("/spec/sourceRef/name"))
            .map(str::to_string)
    })
}

/// A distribution the simulator recognises in an image name.
struct Distro {
    /// What the image name contains.
    marker: &'static str,
    id: &'static str,
    name: &'static str,
    /// The version when the image names none.
    version: &'static str,
    kernel: &'static str,
}

const DISTROS: [Distro; 6] = [
    Distro {
        marker: "rhel",
        id: "rhel",
        name: "Red Hat Enterprise Linux",
        version: "9.4",
        kernel: "5.14.0-427.13.1.el9_4.x86_64",
    },
    Distro {
        marker: "centos",
        id: "centos",
        name: "CentOS Stream",
        version: "9",
        kernel: "5.14.0-452.el9.x86_64",
    },
    Distro {
        marker: "fedora",
        id: "fedora",
        name: "Fedora Linux",
        version: "40",
        kernel: "6.8.5-301.fc40.x86_64",
    },
    Distro {
        marker: "ubuntu",
        id: "ubuntu",
        name: "Ubuntu",
        version: "22.04",
        kernel: "5.15.0-105-generic",
    },
    Distro {
        marker: "debian",
        id: "debian",
        name: "Debian GNU/Linux",
        version: "12",
        kernel: "6.1.0-21-cloud-amd64",
    },
    Distro {
        marker: "win",
        id: "mswindows",
        name: "Microsoft Windows",
        version: "2022",
        kernel: "20348",
    },
];

/// The version an image names: its tag when it starts with a digit (`rhel9:9.4`), else the
/// digits and dots its name ends with (`rhel9.qcow2`, `fedora40`).
fn version_in(image: &str) -> Option<String> {
    let last = image.rsplit('/').next().unwrap_or(image);
    let (name, tag) = last.split_once(':').unwrap_or((last, ""));
    let tag = tag.split(['-', '_']).next().unwrap_or(tag);
    if tag.starts_with(|c: char| c.is_ascii_digit()) {
        return Some(tag.to_string());
    }
    let stem = name.split('.').next().unwrap_or(name);
    let digits: String = stem
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    (!digits.is_empty()).then_some(digits)
}

/// What the guest agent of a guest booted from `image` reports as `guestOSInfo`.
pub(crate) fn os_info(image: &str) -> Value {
    let lower = image.to_ascii_lowercase();
    let last = lower.rsplit('/').next().unwrap_or(&lower);
    let Some(d) = DISTROS.iter().find(|d| last.contains(d.marker)) else {
        return json!({"id": "linux", "name": "Linux", "prettyName": "Linux",
                      "kernelRelease": "6.1.0", "machine": "x86_64"});
    };
    let version = version_in(image).unwrap_or_else(|| d.version.to_string());
    if d.id == "mswindows" {
        return json!({
            "id": d.id, "name": d.name, "version": format!("Microsoft Windows Server {version}"),
            "versionId": version, "prettyName": format!("Windows Server {version} Datacenter"),
            "kernelRelease": d.kernel, "kernelVersion": "10.0", "machine": "x86_64",
        });
    }
    json!({
        "id": d.id,
        "name": d.name,
        "version": version,
        "versionId": version,
        "prettyName": format!("{} {version}", d.name),
        "kernelRelease": d.kernel,
        "kernelVersion": "#1 SMP PREEMPT_DYNAMIC",
        "machine": "x86_64",
    })
}

/// The VMI's `status.guestOSInfo`: the OS of its image with an agent, `{}` without.
pub(crate) fn guest_os_info(store: &Store, vmi: &Entry, agent: bool) -> Value {
    match (agent, image_of(store, vmi)) {
        (true, Some(image)) => os_info(&image),
        (true, None) => os_info(""),
        (false, _) => json!({}),
    }
}

/// The IPv6 link-local address a guest derives from its MAC (modified EUI-64, RFC 4291).
pub(crate) fn link_local(mac: &str) -> Option<String> {
    let b: Vec<u8> = mac
        .split(':')
        .map(|h| u8::from_str_radix(h, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    let [b0, b1, b2, b3, b4, b5] = <[u8; 6]>::try_from(b).ok()?;
    let addr = std::net::Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        u16::from_be_bytes([b0 ^ 0x02, b1]),
        u16::from_be_bytes([b2, 0xff]),
        u16::from_be_bytes([0xfe, b3]),
        u16::from_be_bytes([b4, b5]),
    );
    Some(addr.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guest_runs_what_its_image_names() {
        let os = os_info("docker://registry.local/rhel9:9.4");
        assert_eq!(os["prettyName"], "Red Hat Enterprise Linux 9.4");
        assert_eq!(os["versionId"], "9.4");
        assert_eq!(os["id"], "rhel");
        assert_eq!(
            os_info("docker://quay.io/containerdisks/ubuntu:22.04")["prettyName"],
            "Ubuntu 22.04"
        );
        assert_eq!(
            os_info("https://images.example/rhel9.qcow2")["versionId"],
            "9"
        );
        assert_eq!(
            os_info(
                "https://download.fedoraproject.org/Fedora-Cloud-Base-Generic.x86_64-40-1.14.qcow2"
            )["id"],
            "fedora"
        );
        assert_eq!(
            os_info("docker://r/windows2022:latest")["prettyName"],
            "Windows Server 2022 Datacenter"
        );
        assert_eq!(os_info("docker://r/cirros:0.6")["name"], "Linux");
    }

    #[test]
    fn link_local_follows_the_mac() {
        assert_eq!(
            link_local("02:42:ac:11:00:02").as_deref(),
            Some("fe80::42:acff:fe11:2")
        );
        assert_eq!(link_local("not a mac"), None);
    }
}
