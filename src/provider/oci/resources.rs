//! Pure translation of a planned instance into OCI request bodies, placements and plan output.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::client::Image;
use crate::config::{AdChoice, OciAuth, OciProject, OciSpec};
use crate::model::{PlacementInfo, short_zone};
use crate::plan::{DesiredInstance, Plan, PlannedObject, oci_metadata};
use crate::provider::Placement;

/// The kind shown in plan output and reports for a launch body.
pub(crate) const KIND_LAUNCH: &str = "LaunchInstanceDetails";
/// The OCI API limit for `opc-retry-token`.
pub(crate) const RETRY_TOKEN_MAX: usize = 64;

/// The ids that can only be known online, resolved once per run by the provider.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Resolved {
    /// Compartment OCID.
    pub compartment_id: String,
    /// Subnet OCID.
    pub subnet_id: String,
    /// Whether the subnet has a DNS label: only then may a VNIC carry a `hostnameLabel`.
    pub subnet_dns: bool,
    /// Image OCID.
    pub image_id: String,
}

/// Whether `shape` is a flex shape (takes `shapeConfig`).
pub(crate) fn is_flex(shape: &str) -> bool {
    shape.ends_with(".Flex")
}

/// The sizes one round tries, in order: the main size, then each `fallback` entry.
/// `(None, None)` for fixed shapes.
pub(crate) fn sizes(spec: &OciSpec) -> Vec<(Option<f64>, Option<f64>)> {
    let mut out = vec![(spec.ocpus, spec.memory_gb)];
    out.extend(
        spec.fallback
            .iter()
            .map(|f| (Some(f.ocpus), Some(f.memory_gb))),
    );
    out
}

/// Where one launch attempt goes: an availability domain and a size.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OciPlacement {
    /// The availability domain (full name); `None` only in offline plans and tests.
    pub availability_domain: Option<String>,
    /// Index into the spec's sizes: 0 is the main size, 1.. the `fallback` entries.
    pub size_index: usize,
    /// OCPUs for this attempt (flex shapes).
    pub ocpus: Option<f64>,
    /// Memory in GB for this attempt (flex shapes).
    pub memory_gb: Option<f64>,
}

impl Placement for OciPlacement {
    /// `AD-1 2 OCPU/12 GB`; the availability domain is the zone the engine may drop.
    fn info(&self) -> PlacementInfo {
        let mut parts = Vec::new();
        if let Some(ad) = &self.availability_domain {
            parts.push(short_zone(ad).to_string());
        }
        if let (Some(o), Some(m)) = (self.ocpus, self.memory_gb) {
            parts.push(format!("{o} OCPU/{m} GB"));
        }
        PlacementInfo {
            label: if parts.is_empty() {
                "-".to_string()
            } else {
                parts.join(" ")
            },
            zone: self.availability_domain.clone(),
        }
    }
}

/// Placements AD-major within each size: every AD at the main size, then every AD at
/// fallback 1, and so on, because a smaller size anywhere is worse than the asked size elsewhere.
pub(crate) fn placements(
    ads: &[String],
    sizes: &[(Option<f64>, Option<f64>)],
) -> Vec<OciPlacement> {
    let mut out = Vec::with_capacity(ads.len() * sizes.len());
    for (size_index, (ocpus, memory_gb)) in sizes.iter().enumerate() {
        for ad in ads {
            out.push(OciPlacement {
                availability_domain: Some(ad.clone()),
                size_index,
                ocpus: *ocpus,
                memory_gb: *memory_gb,
            });
        }
    }
    out
}

/// The availability domains to try, as full names in the configured order.
///
/// `available` is the region's list (ListAvailabilityDomains order). A configured entry
/// matches a full name exactly or its suffix after `-` (`AD-1` matches `Uocm:US-ASHBURN-AD-1`),
/// ignoring case.
pub(crate) fn select_ads(
    available: &[String],
    choice: Option<&AdChoice>,
) -> Result<Vec<String>, String> {
    if available.is_empty() {
        return Err("the region lists no availability domains".to_string());
    }
    let wanted = match choice {
        None | Some(AdChoice::All) => return Ok(available.to_vec()),
        Some(AdChoice::List(l)) => l,
    };
    let mut out: Vec<String> = Vec::new();
    for w in wanted {
        let wl = w.to_ascii_lowercase();
        let found = available.iter().find(|a| {
            let al = a.to_ascii_lowercase();
            al == wl || al.ends_with(&format!("-{wl}")) || al.ends_with(&format!(":{wl}"))
        });
        match found {
            Some(a) if !out.contains(a) => out.push(a.clone()),
            Some(_) => {}
            None => {
                return Err(format!(
                    "availability domain `{w}` is not in this region (available: {})",
                    available.join(", ")
                ));
            }
        }
    }
    Ok(out)
}

/// `opc-retry-token` for one instance: hex SHA-256 of `project/spec/name/generation`, at most
/// 64 characters, so a retried launch of the same instance can never create a second one.
pub(crate) fn retry_token(project: &str, spec: &str, name: &str, generation: u64) -> String {
    let digest = Sha256::digest(format!("{project}/{spec}/{name}/{generation}").as_bytes());
    let mut hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(RETRY_TOKEN_MAX);
    hex
}

/// The newest image whose display name contains every `name_contains` string.
/// `images` come from ListImages already filtered by OS, version and shape.
pub(crate) fn pick_image<'a>(images: &'a [Image], name_contains: &[String]) -> Option<&'a Image> {
    images
        .iter()
        .filter(|i| {
            name_contains
                .iter()
                .all(|n| i.display_name.contains(n.as_str()))
        })
        .max_by(|a, b| a.time_created.cmp(&b.time_created))
}

/// The login user of an image: `ubuntu` on Canonical images, `opc` on Oracle's.
pub(crate) fn ssh_user(operating_system: &str) -> &'static str {
    if operating_system.contains("Ubuntu") {
        "ubuntu"
    } else {
        "opc"
    }
}

/// The LaunchInstanceDetails body for `inst` of `spec` at `placement`.
pub(crate) fn launch_details(
    spec: &OciSpec,
    inst: &DesiredInstance,
    placement: &OciPlacement,
    ids: &Resolved,
) -> Value {
    let shape = spec.shape.as_str();
    let mut body = Map::new();
    if let Some(ad) = &placement.availability_domain {
        body.insert("availabilityDomain".into(), json!(ad));
    }
    body.insert("compartmentId".into(), json!(ids.compartment_id));
    body.insert("displayName".into(), json!(inst.name));
    if let Some(fd) = &spec.fault_domain {
        body.insert("faultDomain".into(), json!(fd.as_str()));
    }
    body.insert("shape".into(), json!(shape));
    if is_flex(shape) {
        let mut cfg = Map::new();
        if let Some(o) = placement.ocpus.or(spec.ocpus) {
            cfg.insert("ocpus".into(), json!(o));
        }
        if let Some(m) = placement.memory_gb.or(spec.memory_gb) {
            cfg.insert("memoryInGBs".into(), json!(m));
        }
        if !cfg.is_empty() {
            body.insert("shapeConfig".into(), Value::Object(cfg));
        }
    }
    let mut source = Map::new();
    source.insert("sourceType".into(), json!("image"));
    source.insert("imageId".into(), json!(ids.image_id));
    if let Some(gb) = spec.boot_volume_gb {
        source.insert("bootVolumeSizeInGBs".into(), json!(gb));
    }
    body.insert("sourceDetails".into(), Value::Object(source));
    let mut vnic = Map::new();
    vnic.insert("subnetId".into(), json!(ids.subnet_id));
    vnic.insert("assignPublicIp".into(), json!(true));
    if let Some(ip) = &inst.static_ip {
        vnic.insert("privateIp".into(), json!(ip.address.to_string()));
    }
    // OCI rejects a hostname in a subnet created without DNS; there the instance simply
    // has no DNS name (its display name is still the instance name).
    if ids.subnet_dns {
        vnic.insert("hostnameLabel".into(), json!(inst.name));
    }
    body.insert("createVnicDetails".into(), Value::Object(vnic));
    // The same object `plan` checks against OCI's 32,000-byte metadata limit.
    body.insert("metadata".into(), Value::Object(oci_metadata(inst)));
    body.insert("freeformTags".into(), json!(inst.labels));
    Value::Object(body)
}

fn placeholder(what: &str) -> String {
    format!("<resolved at deploy: {what}>")
}

fn quoted_list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// A readable description of the configured image filter, or `None` when the image is an OCID.
fn image_filter(spec: &OciSpec) -> Option<String> {
    let image = &spec.image;
    if image.id.as_ref().is_some_and(|i| !i.is_empty()) {
        return None;
    }
    let mut s = String::from("newest image");
    if let Some(os) = &image.os {
        s.push_str(&format!(" \"{os}\""));
    }
    if let Some(v) = &image.os_version {
        s.push_str(&format!(" {v}"));
    }
    if !image.name_contains.is_empty() {
        let names: Vec<String> = image.name_contains.iter().map(|n| n.0.clone()).collect();
        s.push_str(&format!(" matching {}", quoted_list(&names)));
    }
    if !spec.shape.is_empty() {
        s.push_str(&format!(" for {}", spec.shape));
    }
    Some(s)
}

/// Whether `s` is an OCID (as opposed to a display name).
pub(crate) fn is_ocid(s: &str) -> bool {
    s.starts_with("ocid1.")
}

/// The ids as the offline plan shows them: configured OCIDs verbatim, everything else a
/// readable placeholder.
fn offline_ids(plan: &Plan, spec: &OciSpec) -> Resolved {
    let oci = plan.project.oci().cloned().unwrap_or_default();
    let compartment_id = match oci.compartment.as_ref().filter(|c| !c.is_empty()) {
        Some(c) => c.0.clone(),
        None => placeholder(&match oci.auth.unwrap_or_default() {
            OciAuth::ApiKey => format!(
                "the tenancy of profile {} in {}",
                oci.profile.as_deref().unwrap_or("DEFAULT"),
                oci.config_file.as_deref().unwrap_or("~/.oci/config")
            ),
            OciAuth::SecurityToken => format!(
                "the tenancy of profile {} in {} (security_token)",
                oci.profile.as_deref().unwrap_or("DEFAULT"),
                oci.config_file.as_deref().unwrap_or("~/.oci/config")
            ),
            OciAuth::ResourcePrincipal => {
                "the res_compartment of the resource principal session token".to_string()
            }
            OciAuth::InstancePrincipal => "the tenancy of the instance principal".to_string(),
        }),
    };
    let subnet = oci.subnet.as_ref().map(|s| s.0.clone()).unwrap_or_default();
    let subnet_id = if is_ocid(&subnet) {
        subnet
    } else {
        placeholder(&format!("subnet with display name \"{subnet}\""))
    };
    let image_id = match spec.image.id.as_ref().filter(|i| !i.is_empty()) {
        Some(id) => id.0.clone(),
        None => placeholder(&image_filter(spec).unwrap_or_else(|| "no image configured".into())),
    };
    Resolved {
        compartment_id,
        subnet_id,
        // Unknown offline; the plan shows what is sent to a subnet with DNS (OCI's default).
        subnet_dns: true,
        image_id,
    }
}

fn offline_ad(spec: &OciSpec) -> String {
    match &spec.availability_domains {
        None | Some(AdChoice::All) => {
            placeholder("availability_domains: all, every AD of the region in order")
        }
        Some(AdChoice::List(l)) => match l.first() {
            Some(first) if first.contains(':') && l.len() == 1 => first.clone(),
            _ => placeholder(&format!(
                "availability domains {} tried in this order",
                quoted_list(l)
            )),
        },
    }
}

/// The bodies `deploy` would send for `inst`, for offline `plan` output (no network):
/// one LaunchInstanceDetails at the main size, online-only values as placeholders.
pub(crate) fn planned_objects(plan: &Plan, inst: &DesiredInstance) -> Vec<PlannedObject> {
    // A spec is loaded for its project's provider, so an OCI plan has an OCI part.
    let Some(spec) = plan.spec.oci() else {
        return Vec::new();
    };
    let placement = OciPlacement {
        availability_domain: Some(offline_ad(spec)),
        size_index: 0,
        ocpus: spec.ocpus,
        memory_gb: spec.memory_gb,
    };
    let body = launch_details(spec, inst, &placement, &offline_ids(plan, spec));
    vec![PlannedObject {
        kind: KIND_LAUNCH.to_string(),
        name: inst.name.clone(),
        body,
    }]
}

/// `oci.auth` and where its credentials come from, as the plan names them.
pub(crate) fn auth_origin(oci: &OciProject) -> String {
    let auth = oci.auth.unwrap_or_default();
    let profile = || {
        format!(
            "profile `{}` in `{}`",
            oci.profile.as_deref().unwrap_or("DEFAULT"),
            oci.config_file.as_deref().unwrap_or("~/.oci/config")
        )
    };
    match auth {
        OciAuth::ApiKey => format!("api_key ({})", profile()),
        OciAuth::SecurityToken => {
            format!("security_token ({}, its security_token_file)", profile())
        }
        OciAuth::ResourcePrincipal => {
            "resource_principal (the OCI_RESOURCE_PRINCIPAL_* variables)".to_string()
        }
        OciAuth::InstancePrincipal => {
            "instance_principal (the instance metadata service)".to_string()
        }
    }
}

/// What the offline plan could not resolve, said plainly (one note per value).
pub(crate) fn plan_notes(plan: &Plan) -> Vec<String> {
    let mut notes = Vec::new();
    let Some(spec) = plan.spec.oci() else {
        return notes;
    };
    let oci = plan.project.oci().cloned().unwrap_or_default();
    let auth = oci.auth.unwrap_or_default();
    if auth != OciAuth::ApiKey {
        notes.push(format!("oci.auth: {}", auth_origin(&oci)));
    }
    if oci.compartment.as_ref().is_none_or(|c| c.is_empty()) {
        notes.push(match auth {
            OciAuth::ApiKey | OciAuth::SecurityToken => "compartmentId: no `oci.compartment`, the tenancy (root compartment) of the OCI profile is used".to_string(),
            OciAuth::ResourcePrincipal => "compartmentId: no `oci.compartment`, the resource principal's compartment (the `res_compartment` claim of its session token) is used".to_string(),
            OciAuth::InstancePrincipal => "compartmentId: no `oci.compartment`, the tenancy (root compartment) of the instance principal is used".to_string(),
        });
    }
    if let Some(s) = oci.subnet.as_ref().filter(|s| !is_ocid(s)) {
        notes.push(format!(
            "createVnicDetails.subnetId: looked up by display name \"{s}\" with ListSubnets"
        ));
    }
    if let Some(f) = image_filter(spec) {
        notes.push(format!(
            "sourceDetails.imageId: the {f}, found with ListImages"
        ));
    }
    match &spec.availability_domains {
        None | Some(AdChoice::All) => notes.push(
            "availabilityDomain: `availability_domains: all`, every AD of the region from ListAvailabilityDomains, tried in order".to_string(),
        ),
        Some(AdChoice::List(l)) if l.len() > 1 || l.iter().any(|a| !a.contains(':')) => notes.push(format!(
            "availabilityDomain: {} matched to the region's full AD names, tried in this order",
            quoted_list(l)
        )),
        Some(AdChoice::List(_)) => {}
    }
    if !spec.fallback.is_empty() {
        let sizes: Vec<String> = spec
            .fallback
            .iter()
            .map(|f| format!("{} OCPU/{} GB", f.ocpus, f.memory_gb))
            .collect();
        notes.push(format!(
            "shapeConfig: out of capacity in every AD, the next sizes tried are {}",
            sizes.join(", then ")
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Project, ProviderKind, Spec};
    use crate::plan::ownership_labels;

    fn plan(project_yaml: &str, spec_yaml: &str) -> Plan {
        let project: Project = crate::config::testing::project(project_yaml);
        let spec: Spec = crate::config::testing::spec(spec_yaml, ProviderKind::Oci);
        Plan {
            project,
            spec,
            instances: vec![],
            notes: vec![],
            target: None,
        }
    }

    fn inst(static_ip: bool) -> DesiredInstance {
        let mut labels = ownership_labels("lab", "a1", "a1-01");
        labels.insert("team".into(), "ops".into());
        DesiredInstance {
            name: "a1-01".into(),
            index: 0,
            project: "lab".into(),
            spec: "a1".into(),
            labels,
            static_ip: static_ip.then(|| crate::plan::StaticIp {
                address: "10.0.0.101".parse().unwrap(),
                prefix_len: 24,
                netmask: "255.255.255.0".parse().unwrap(),
                gateway: None,
                dns: vec![],
            }),
            user_data: "#cloud-config\n".into(),
            network_data: None,
            ssh_authorized_keys: vec!["ssh-ed25519 AAAA a".into(), "ssh-ed25519 BBBB b".into()],
        }
    }

    const PROJECT: &str = "provider: oci\noci:\n  subnet: public subnet-main-vcn\n";
    const SPEC: &str = "shape: VM.Standard.A1.Flex\nocpus: 2\nmemory_gb: 12\nboot_volume_gb: 50\nimage: {os: \"Canonical Ubuntu\", os_version: \"22.04\", name_contains: [Minimal, aarch64]}\nfallback: [{ocpus: 1, memory_gb: 6}]\nplacement: {fault_domain: FAULT-DOMAIN-1}\n";

    #[test]
    fn launch_body_carries_everything_the_instance_needs() {
        let p = plan(PROJECT, SPEC);
        let placement = OciPlacement {
            availability_domain: Some("Uocm:AP-CHUNCHEON-1-AD-1".into()),
            size_index: 1,
            ocpus: Some(1.0),
            memory_gb: Some(6.0),
        };
        let ids = Resolved {
            compartment_id: "ocid1.compartment.oc1..c".into(),
            subnet_id: "ocid1.subnet.oc1..s".into(),
            subnet_dns: true,
            image_id: "ocid1.image.oc1..i".into(),
        };
        let b = launch_details(p.spec.oci().unwrap(), &inst(true), &placement, &ids);
        assert_eq!(b["availabilityDomain"], "Uocm:AP-CHUNCHEON-1-AD-1");
        assert_eq!(b["compartmentId"], "ocid1.compartment.oc1..c");
        assert_eq!(b["displayName"], "a1-01");
        assert_eq!(b["faultDomain"], "FAULT-DOMAIN-1");
        assert_eq!(b["shape"], "VM.Standard.A1.Flex");
        assert_eq!(b["shapeConfig"], json!({"ocpus": 1.0, "memoryInGBs": 6.0}));
        assert_eq!(
            b["sourceDetails"],
            json!({"sourceType": "image", "imageId": "ocid1.image.oc1..i", "bootVolumeSizeInGBs": 50})
        );
        assert_eq!(
            b["createVnicDetails"],
            json!({"subnetId": "ocid1.subnet.oc1..s", "assignPublicIp": true, "privateIp": "10.0.0.101", "hostnameLabel": "a1-01"})
        );
        assert_eq!(
            b["metadata"]["ssh_authorized_keys"],
            "ssh-ed25519 AAAA a\nssh-ed25519 BBBB b"
        );
        // base64 of "#cloud-config\n".
        assert_eq!(b["metadata"]["user_data"], "I2Nsb3VkLWNvbmZpZwo=");
        assert_eq!(b["freeformTags"]["v-auto/managed"], "true");
        assert_eq!(b["freeformTags"]["v-auto/name"], "a1-01");
        assert_eq!(b["freeformTags"]["team"], "ops");
        let no_ip = launch_details(p.spec.oci().unwrap(), &inst(false), &placement, &ids);
        assert!(no_ip["createVnicDetails"].get("privateIp").is_none());
        let no_dns = Resolved {
            subnet_dns: false,
            ..ids
        };
        let b = launch_details(p.spec.oci().unwrap(), &inst(true), &placement, &no_dns);
        assert_eq!(
            b["createVnicDetails"],
            json!({"subnetId": "ocid1.subnet.oc1..s", "assignPublicIp": true, "privateIp": "10.0.0.101"}),
            "a subnet without DNS gets no hostnameLabel"
        );
    }

    #[test]
    fn fixed_shapes_get_no_shape_config() {
        let p = plan(
            PROJECT,
            "shape: VM.Standard2.1\nimage: {id: ocid1.image.oc1..i}\n",
        );
        let b = launch_details(
            p.spec.oci().unwrap(),
            &inst(false),
            &OciPlacement::default(),
            &Resolved::default(),
        );
        assert!(b.get("shapeConfig").is_none());
        assert!(b.get("availabilityDomain").is_none());
        assert!(b["sourceDetails"].get("bootVolumeSizeInGBs").is_none());
    }

    #[test]
    fn placements_are_ad_major_within_each_size() {
        let p = plan(PROJECT, SPEC);
        let ads = vec!["X:AD-1".to_string(), "X:AD-2".to_string()];
        let got: Vec<(String, usize, Option<f64>)> =
            placements(&ads, &sizes(p.spec.oci().unwrap()))
                .into_iter()
                .map(|p| (p.availability_domain.unwrap(), p.size_index, p.ocpus))
                .collect();
        assert_eq!(
            got,
            vec![
                ("X:AD-1".into(), 0, Some(2.0)),
                ("X:AD-2".into(), 0, Some(2.0)),
                ("X:AD-1".into(), 1, Some(1.0)),
                ("X:AD-2".into(), 1, Some(1.0)),
            ]
        );
    }

    #[test]
    fn ad_suffixes_match_full_names_in_the_configured_order() {
        let all: Vec<String> = [
            "Uocm:US-ASHBURN-AD-1",
            "Uocm:US-ASHBURN-AD-2",
            "Uocm:US-ASHBURN-AD-3",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(select_ads(&all, Some(&AdChoice::All)).unwrap(), all);
        assert_eq!(select_ads(&all, None).unwrap(), all);
        let l = AdChoice::List(vec!["AD-3".into(), "uocm:us-ashburn-ad-1".into()]);
        assert_eq!(
            select_ads(&all, Some(&l)).unwrap(),
            vec![all[2].clone(), all[0].clone()]
        );
        let bad = AdChoice::List(vec!["AD-4".into()]);
        let e = select_ads(&all, Some(&bad)).unwrap_err();
        assert!(
            e.contains("`AD-4`") && e.contains("Uocm:US-ASHBURN-AD-2"),
            "{e}"
        );
    }

    #[test]
    fn retry_token_is_stable_per_generation_and_fits_the_header() {
        let a = retry_token("lab", "a1", "a1-01", 0);
        assert_eq!(a, retry_token("lab", "a1", "a1-01", 0));
        assert_ne!(a, retry_token("lab", "a1", "a1-01", 1));
        assert_ne!(a, retry_token("lab", "a1", "a1-02", 0));
        assert!(a.len() <= 64 && a.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn newest_image_matching_every_name_filter_wins() {
        let img = |id: &str, name: &str, t: &str| Image {
            id: id.into(),
            display_name: name.into(),
            time_created: Some(t.into()),
            ..Image::default()
        };
        let images = vec![
            img(
                "old",
                "Canonical-Ubuntu-22.04-Minimal-aarch64-2024.01.01-0",
                "2024-01-01T00:00:00Z",
            ),
            img(
                "new",
                "Canonical-Ubuntu-22.04-Minimal-aarch64-2025.01.01-0",
                "2025-01-01T00:00:00Z",
            ),
            img(
                "x86",
                "Canonical-Ubuntu-22.04-Minimal-2025.02.01-0",
                "2025-02-01T00:00:00Z",
            ),
        ];
        let want = vec!["Minimal".to_string(), "aarch64".to_string()];
        assert_eq!(pick_image(&images, &want).unwrap().id, "new");
        assert!(pick_image(&images, &["Oracle".to_string()]).is_none());
        assert_eq!(ssh_user("Canonical Ubuntu"), "ubuntu");
        assert_eq!(ssh_user("Oracle Linux"), "opc");
    }

    #[test]
    fn offline_plan_shows_readable_placeholders_and_notes() {
        let p = plan(PROJECT, SPEC);
        let objs = planned_objects(&p, &inst(false));
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].kind, "LaunchInstanceDetails");
        assert_eq!(objs[0].name, "a1-01");
        let b = &objs[0].body;
        assert_eq!(
            b["sourceDetails"]["imageId"],
            "<resolved at deploy: newest image \"Canonical Ubuntu\" 22.04 matching [Minimal, aarch64] for VM.Standard.A1.Flex>"
        );
        assert_eq!(
            b["createVnicDetails"]["subnetId"],
            "<resolved at deploy: subnet with display name \"public subnet-main-vcn\">"
        );
        assert!(
            b["compartmentId"]
                .as_str()
                .unwrap()
                .starts_with("<resolved at deploy: the tenancy")
        );
        assert!(
            b["availabilityDomain"]
                .as_str()
                .unwrap()
                .contains("availability_domains: all")
        );
        assert_eq!(b["shapeConfig"], json!({"ocpus": 2.0, "memoryInGBs": 12.0}));
        let notes = plan_notes(&p);
        assert_eq!(notes.len(), 5, "{notes:#?}");
        assert!(notes.iter().any(|n| n.contains("1 OCPU/6 GB")));

        let resolved = plan(
            "provider: oci\noci:\n  compartment: ocid1.compartment.oc1..c\n  subnet: ocid1.subnet.oc1..s\n",
            "shape: VM.Standard.A1.Flex\nocpus: 2\nmemory_gb: 12\nimage: {id: ocid1.image.oc1..i}\nplacement: {availability_domains: [\"Uocm:AP-1-AD-1\"]}\n",
        );
        let b = &planned_objects(&resolved, &inst(false))[0].body;
        assert_eq!(b["compartmentId"], "ocid1.compartment.oc1..c");
        assert_eq!(b["createVnicDetails"]["subnetId"], "ocid1.subnet.oc1..s");
        assert_eq!(b["sourceDetails"]["imageId"], "ocid1.image.oc1..i");
        assert_eq!(b["availabilityDomain"], "Uocm:AP-1-AD-1");
        assert!(
            plan_notes(&resolved).is_empty(),
            "{:?}",
            plan_notes(&resolved)
        );
    }
}
