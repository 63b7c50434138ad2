//! The fixed world of the simulated tenancy: region, availability domains, subnet, shapes and images.

use chrono::{DateTime, TimeZone as _, Utc};
use serde_json::{Value, json};

/// The region written to the generated config.
pub const REGION: &str = "sim-region-1";
/// The tenancy OCID of the simulated account (also usable as the compartment).
pub const TENANCY_OCID: &str =
    "ocid1.tenancy.oc1..aaaaaaaasimtenancy0000000000000000000000000000000000";
/// The user OCID the generated API key belongs to.
pub const USER_OCID: &str = "ocid1.user.oc1..aaaaaaaasimuser00000000000000000000000000000000000000";
/// The tenancy-specific prefix of availability domain names, as in `Uocm:US-ASHBURN-AD-1`.
pub const AD_PREFIX: &str = "Kyqh";
/// Display name of the one subnet, as the OCI console names a wizard-made VCN's public subnet.
pub const SUBNET_NAME: &str = "public subnet-main-vcn";
/// OCID of that subnet.
pub const SUBNET_ID: &str =
    "ocid1.subnet.oc1.sim-region-1.aaaaaaaasimpublicsubnetmainvcn0000000000000000000000";
/// CIDR of that subnet; `.0`, `.1` (gateway) and `.255` are reserved as in OCI.
pub const SUBNET_CIDR: &str = "10.0.0.0/24";
/// First three octets of the subnet.
pub(crate) const SUBNET_NET: &str = "10.0.0";
/// Public addresses come from TEST-NET-3 so they can never reach a real host.
pub(crate) const PUBLIC_NET: &str = "203.0.113";

/// Full names of the three availability domains.
pub fn availability_domains() -> Vec<String> {
    (1..=3)
        .map(|i| format!("{AD_PREFIX}:SIM-REGION-1-AD-{i}"))
        .collect()
}

/// The `AD-n` suffix used as the key of the capacity model, for a full AD name.
pub fn ad_suffix(ad: &str) -> Option<String> {
    let (_, rest) = ad.split_once(':')?;
    let n = rest.strip_prefix("SIM-REGION-1-")?;
    availability_domains()
        .iter()
        .any(|a| a == ad)
        .then(|| n.to_string())
}

/// CPU architecture, which decides which images a shape can boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arch {
    X86,
    Arm,
}

/// A compute shape the sim knows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub name: &'static str,
    pub flex: bool,
    pub arch: Arch,
    /// Fixed size (fixed shapes) or the maximum OCPUs (flex shapes).
    pub ocpus: f64,
    /// Fixed memory (fixed shapes) or the default memory per OCPU (flex shapes).
    pub memory_gbs: f64,
    pub vcpus_per_ocpu: f64,
    pub processor: &'static str,
}

/// Every shape the sim offers; the capacity model may hide some per AD.
pub(crate) const SHAPES: &[Shape] = &[
    Shape {
        name: "VM.Standard.A1.Flex",
        flex: true,
        arch: Arch::Arm,
        ocpus: 80.0,
        memory_gbs: 6.0,
        vcpus_per_ocpu: 1.0,
        processor: "3.0 GHz Ampere® Altra™",
    },
    Shape {
        name: "VM.Standard.E2.1.Micro",
        flex: false,
        arch: Arch::X86,
        ocpus: 1.0,
        memory_gbs: 1.0,
        vcpus_per_ocpu: 2.0,
        processor: "2.0 GHz AMD EPYC™ 7551 (Naples)",
    },
    Shape {
        name: "VM.Standard.E4.Flex",
        flex: true,
        arch: Arch::X86,
        ocpus: 64.0,
        memory_gbs: 16.0,
        vcpus_per_ocpu: 2.0,
        processor: "2.55 GHz AMD EPYC™ 7J13 (Milan)",
    },
    Shape {
        name: "VM.Standard.E5.Flex",
        flex: true,
        arch: Arch::X86,
        ocpus: 94.0,
        memory_gbs: 12.0,
        vcpus_per_ocpu: 2.0,
        processor: "2.4 GHz AMD EPYC™ 9J14 (Genoa)",
    },
    Shape {
        name: "VM.Standard3.Flex",
        flex: true,
        arch: Arch::X86,
        ocpus: 32.0,
        memory_gbs: 16.0,
        vcpus_per_ocpu: 2.0,
        processor: "2.0 GHz Intel® Xeon® Platinum 8358 (Ice Lake)",
    },
];

/// Looks a shape up by its exact name.
pub(crate) fn shape(name: &str) -> Option<&'static Shape> {
    SHAPES.iter().find(|s| s.name == name)
}

/// A platform image.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub id: String,
    pub display_name: String,
    pub os: &'static str,
    pub os_version: &'static str,
    pub arch: Arch,
    pub time_created: DateTime<Utc>,
}

/// (display name, operating system, version, arch, y, m, d): two builds of most images so "newest" matters.
const IMAGES: &[(&str, &str, &str, Arch, i32, u32, u32)] = &[
    (
        "Canonical-Ubuntu-22.04-2025.01.31-0",
        "Canonical Ubuntu",
        "22.04",
        Arch::X86,
        2025,
        2,
        3,
    ),
    (
        "Canonical-Ubuntu-22.04-2025.03.28-0",
        "Canonical Ubuntu",
        "22.04",
        Arch::X86,
        2025,
        4,
        1,
    ),
    (
        "Canonical-Ubuntu-22.04-Minimal-2025.03.28-0",
        "Canonical Ubuntu",
        "22.04 Minimal",
        Arch::X86,
        2025,
        4,
        1,
    ),
    (
        "Canonical-Ubuntu-22.04-aarch64-2025.01.31-0",
        "Canonical Ubuntu",
        "22.04",
        Arch::Arm,
        2025,
        2,
        3,
    ),
    (
        "Canonical-Ubuntu-22.04-aarch64-2025.03.28-0",
        "Canonical Ubuntu",
        "22.04",
        Arch::Arm,
        2025,
        4,
        1,
    ),
    (
        "Canonical-Ubuntu-22.04-Minimal-aarch64-2025.03.28-0",
        "Canonical Ubuntu",
        "22.04 Minimal aarch64",
        Arch::Arm,
        2025,
        4,
        1,
    ),
    (
        "Canonical-Ubuntu-24.04-2025.02.14-0",
        "Canonical Ubuntu",
        "24.04",
        Arch::X86,
        2025,
        2,
        18,
    ),
    (
        "Canonical-Ubuntu-24.04-2025.04.10-0",
        "Canonical Ubuntu",
        "24.04",
        Arch::X86,
        2025,
        4,
        14,
    ),
    (
        "Canonical-Ubuntu-24.04-Minimal-2025.04.10-0",
        "Canonical Ubuntu",
        "24.04 Minimal",
        Arch::X86,
        2025,
        4,
        14,
    ),
    (
        "Canonical-Ubuntu-24.04-Minimal-aarch64-2025.04.10-0",
        "Canonical Ubuntu",
        "24.04 Minimal",
        Arch::Arm,
        2025,
        4,
        14,
    ),
    (
        "Canonical-Ubuntu-24.04-aarch64-2025.02.14-0",
        "Canonical Ubuntu",
        "24.04",
        Arch::Arm,
        2025,
        2,
        18,
    ),
    (
        "Canonical-Ubuntu-24.04-aarch64-2025.04.10-0",
        "Canonical Ubuntu",
        "24.04",
        Arch::Arm,
        2025,
        4,
        14,
    ),
    (
        "Oracle-Linux-8.10-2025.03.18-0",
        "Oracle Linux",
        "8",
        Arch::X86,
        2025,
        3,
        20,
    ),
    (
        "Oracle-Linux-8.10-aarch64-2025.03.18-0",
        "Oracle Linux",
        "8",
        Arch::Arm,
        2025,
        3,
        20,
    ),
    (
        "Oracle-Linux-9.4-2024.11.30-0",
        "Oracle Linux",
        "9",
        Arch::X86,
        2024,
        12,
        3,
    ),
    (
        "Oracle-Linux-9.5-2025.03.18-0",
        "Oracle Linux",
        "9",
        Arch::X86,
        2025,
        3,
        20,
    ),
    (
        "Oracle-Linux-9.5-aarch64-2025.03.18-0",
        "Oracle Linux",
        "9",
        Arch::Arm,
        2025,
        3,
        20,
    ),
];

/// The image catalogue with stable OCIDs.
pub(crate) fn images() -> Vec<Image> {
    IMAGES
        .iter()
        .enumerate()
        .filter_map(|(i, (name, os, ver, arch, y, m, d))| {
            let slug: String = name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .collect();
            Some(Image {
                id: format!("ocid1.image.oc1.sim-region-1.aaaaaaaa{i:02}{slug}"),
                display_name: (*name).to_string(),
                os,
                os_version: ver,
                arch: *arch,
                time_created: Utc.with_ymd_and_hms(*y, *m, *d, 18, 30, 0).single()?,
            })
        })
        .collect()
}

/// Whether `shape` can boot `image` (A1 boots only aarch64 images and vice versa).
pub(crate) fn compatible(shape: &Shape, image: &Image) -> bool {
    shape.arch == image.arch
}

/// OCI timestamps: RFC 3339 with milliseconds and `Z`.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The Image JSON as ListImages returns it.
pub(crate) fn image_json(img: &Image) -> Value {
    json!({
        "agentFeatures": null,
        "baseImageId": null,
        "billableSizeInGBs": 3,
        "compartmentId": null,
        "createImageAllowed": true,
        "definedTags": {},
        "displayName": img.display_name,
        "freeformTags": {},
        "id": img.id,
        "launchMode": "NATIVE",
        "launchOptions": {
            "bootVolumeType": "PARAVIRTUALIZED",
            "firmware": "UEFI_64",
            "isConsistentVolumeNamingEnabled": true,
            "isPvEncryptionInTransitEnabled": true,
            "networkType": "PARAVIRTUALIZED",
            "remoteDataVolumeType": "PARAVIRTUALIZED"
        },
        "lifecycleState": "AVAILABLE",
        "listingType": "NONE",
        "operatingSystem": img.os,
        "operatingSystemVersion": img.os_version,
        "sizeInMBs": 47694,
        "timeCreated": ts(img.time_created)
    })
}

/// The Subnet JSON as ListSubnets and GetSubnet return it, in `compartment`; `dns`: whether
/// it was created with a DNS label.
pub(crate) fn subnet_json(compartment: &str, dns: bool) -> Value {
    let (dns_label, domain) = if dns {
        (
            json!("subnetmain"),
            json!("subnetmain.mainvcn.oraclevcn.com"),
        )
    } else {
        (Value::Null, Value::Null)
    };
    json!({
        "availabilityDomain": null,
        "cidrBlock": SUBNET_CIDR,
        "compartmentId": compartment,
        "definedTags": {},
        "dhcpOptionsId": "ocid1.dhcpoptions.oc1.sim-region-1.aaaaaaaasimdhcp",
        "displayName": SUBNET_NAME,
        "dnsLabel": dns_label,
        "freeformTags": {},
        "id": SUBNET_ID,
        "ipv6CidrBlocks": [],
        "lifecycleState": "AVAILABLE",
        "prohibitInternetIngress": false,
        "prohibitPublicIpOnVnic": false,
        "routeTableId": "ocid1.routetable.oc1.sim-region-1.aaaaaaaasimroutes",
        "securityListIds": ["ocid1.securitylist.oc1.sim-region-1.aaaaaaaasimseclist"],
        "subnetDomainName": domain,
        "timeCreated": "2025-01-10T09:00:00.000Z",
        "vcnId": "ocid1.vcn.oc1.sim-region-1.aaaaaaaasimmainvcn",
        "virtualRouterIp": "10.0.0.1",
        "virtualRouterMac": "00:00:17:AA:BB:01"
    })
}
