//! The OCI part of the configuration: the project's `oci:` section and the spec fields that
//! size, image and place an instance, checked and typed.

use serde::{Deserialize, Serialize};

use super::spec::{AdChoice, FallbackSize, Image, SpecFile};
use super::values::Text;
use super::{ConfigError, Source};

/// `oci:` section of a project.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OciProject {
    /// How requests are authenticated; default `api_key`.
    pub auth: Option<OciAuth>,
    /// Path to the OCI config file; default `~/.oci/config`.
    pub config_file: Option<Text>,
    /// Profile in the config file; default `DEFAULT`.
    pub profile: Option<Text>,
    /// Region; default the profile's region.
    pub region: Option<Text>,
    /// Compartment OCID; default the tenancy.
    pub compartment: Option<Text>,
    /// Subnet display name or OCID (required).
    pub subnet: Option<Text>,
    /// One base URL for every OCI service (proxies, tests).
    pub endpoint: Option<Text>,
}

/// `oci.auth`: how vauto authenticates to OCI, one of the ways the official SDKs do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OciAuth {
    /// An API key of a user: `user`, `fingerprint`, `key_file` of a config file profile.
    #[default]
    ApiKey,
    /// A session token from `oci session authenticate`: the profile's `security_token_file`,
    /// signed with its `key_file`.
    SecurityToken,
    /// The instance's own identity, from the instance metadata service.
    InstancePrincipal,
    /// A resource's identity (Functions, containers): the `OCI_RESOURCE_PRINCIPAL_*` variables.
    ResourcePrincipal,
}

impl OciAuth {
    /// The word used in `oci.auth`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OciAuth::ApiKey => "api_key",
            OciAuth::SecurityToken => "security_token",
            OciAuth::InstancePrincipal => "instance_principal",
            OciAuth::ResourcePrincipal => "resource_principal",
        }
    }
}

impl std::fmt::Display for OciAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a spec says of an OCI instance: shape, sizes, image, placement.
#[derive(Debug, Clone)]
pub(crate) struct OciSpec {
    /// Shape name.
    pub shape: Text,
    /// OCPUs of a flex shape.
    pub ocpus: Option<f64>,
    /// Memory in GB of a flex shape.
    pub memory_gb: Option<f64>,
    /// Boot volume size in GB.
    pub boot_volume_gb: Option<u32>,
    /// The image, by id or by filter.
    pub image: Image,
    /// Smaller sizes to try when out of capacity.
    pub fallback: Vec<FallbackSize>,
    /// `all` or AD names or suffixes, tried in order.
    pub availability_domains: Option<AdChoice>,
    /// Fault domain.
    pub fault_domain: Option<Text>,
}

/// `image`: an OCID, a filter, or both, the OCID winning when it is not empty, so
/// `id: "${IMAGE_OCID:-}"` beside a filter uses the filter until the variable is set.
fn check_image(src: &Source, img: &Image, errs: &mut Vec<ConfigError>) {
    let id = img.id.as_ref().filter(|i| !i.is_empty());
    if let Some(id) = id
        && !id.starts_with("ocid1.image.")
    {
        errs.push(src.error(
            "image.id",
            format!("`{id}` is not an image OCID (`ocid1.image.…`)"),
        ));
    }
    let filter =
        img.os_version.is_some() || !img.name_contains.is_empty() || img.compartment.is_some();
    if id.is_none() && img.os.is_none() {
        let why = if img.id.is_some() || filter {
            "is required for an image filter when `id` is empty, e.g. `Canonical Ubuntu`"
        } else {
            "is required for an image filter, e.g. `Canonical Ubuntu`"
        };
        errs.push(src.error("image.os", why));
    }
    if let Some(c) = &img.compartment
        && !(c.starts_with("ocid1.compartment.") || c.starts_with("ocid1.tenancy."))
    {
        errs.push(src.error(
            "image.compartment",
            format!("`{c}` is not a compartment OCID (`ocid1.compartment.…`, or `ocid1.tenancy.…` for the root)"),
        ));
    }
}

/// The OCI fields a spec file sets, by their names in the file.
pub(super) fn fields_set(s: &SpecFile) -> Vec<&'static str> {
    [
        ("shape", s.shape.is_some()),
        ("ocpus", s.ocpus.is_some()),
        ("memory_gb", s.memory_gb.is_some()),
        ("boot_volume_gb", s.boot_volume_gb.is_some()),
        ("image", s.image.is_some()),
        ("fallback", !s.fallback.is_empty()),
        (
            "placement.availability_domains",
            s.placement.availability_domains.is_some(),
        ),
        ("placement.fault_domain", s.placement.fault_domain.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, set)| set.then_some(f))
    .chain(super::select::fields_set(
        s,
        crate::model::ProviderKind::Oci,
    ))
    .collect()
}

/// Checks the OCI fields of `s` and types them; `None` when something is wrong (the
/// problems are in `errs`).
pub(super) fn spec(src: &Source, s: &SpecFile, errs: &mut Vec<ConfigError>) -> Option<OciSpec> {
    let before = errs.len();
    check(src, s, errs);
    if errs.len() > before {
        return None;
    }
    Some(OciSpec {
        shape: s.shape.clone()?,
        ocpus: s.ocpus,
        memory_gb: s.memory_gb,
        boot_volume_gb: s.boot_volume_gb,
        image: s.image.clone()?,
        fallback: s.fallback.clone(),
        availability_domains: s.placement.availability_domains.clone(),
        fault_domain: s.placement.fault_domain.clone(),
    })
}

fn check(src: &Source, s: &SpecFile, errs: &mut Vec<ConfigError>) {
    let shape = match &s.shape {
        None => {
            errs.push(src.error("shape", "is required for oci: e.g. `VM.Standard.A1.Flex`"));
            String::new()
        }
        Some(sh) => sh.0.clone(),
    };
    let flex = shape.ends_with(".Flex");
    for (f, v) in [("ocpus", s.ocpus), ("memory_gb", s.memory_gb)] {
        match v {
            Some(x) if !(x > 0.0 && x.is_finite()) => {
                errs.push(src.error(f, "must be a positive number"))
            }
            None if flex => {
                errs.push(src.error(f, format!("is required for the flex shape `{shape}`")))
            }
            _ => {}
        }
    }
    if !s.fallback.is_empty() && !flex && !shape.is_empty() {
        errs.push(src.error(
            "fallback",
            format!("sizes only apply to flex shapes, not `{shape}`"),
        ));
    }
    for (i, fb) in s.fallback.iter().enumerate() {
        if !(fb.ocpus > 0.0 && fb.memory_gb > 0.0) {
            errs.push(src.error(
                &format!("fallback[{i}]"),
                "ocpus and memory_gb must be positive",
            ));
        }
    }
    if let Some(b) = s.boot_volume_gb
        && b < 50
    {
        errs.push(src.error(
            "boot_volume_gb",
            format!("{b} is below OCI's minimum boot volume of 50 GB"),
        ));
    }
    match &s.image {
        None => errs.push(src.error(
            "image",
            "is required for oci: `{id: ocid1.image...}` or `{os, os_version}`",
        )),
        Some(img) => check_image(src, img, errs),
    }
    if let Some(AdChoice::List(l)) = &s.placement.availability_domains
        && l.is_empty()
    {
        errs.push(src.error(
            "placement.availability_domains",
            "is empty: list at least one AD, or write `all`",
        ));
    }
}
