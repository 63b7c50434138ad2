//! The LaunchInstance request body, typed as OCI sends it, and the checks that need no other instance.

use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::sim::oci::catalog::{self, Image, SUBNET_ID, Shape, TENANCY_OCID};
use crate::sim::oci::error::{ApiError, error, invalid, not_found};
use crate::sim::oci::{AdCapacity, Sim};

/// A JSON object, as the sim keeps metadata and tags.
type Object = Map<String, Value>;

/// One field judged as OCI judges it: absent (or null), of the expected type, or of another type.
///
/// Deserialising never fails, so each wrong field gets its own OCI message instead of serde's.
#[derive(Debug, Default)]
pub(super) enum Field<T> {
    #[default]
    Absent,
    Given(T),
    WrongType,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(if v.is_null() {
            Field::Absent
        } else {
            serde_json::from_value(v).map_or(Field::WrongType, Field::Given)
        })
    }
}

/// The JSON type a field must have, as named in OCI's message.
pub(super) trait Expected {
    const WHAT: &'static str;
}

impl Expected for String {
    const WHAT: &'static str = "a string";
}

impl Expected for f64 {
    const WHAT: &'static str = "a number";
}

impl Expected for bool {
    const WHAT: &'static str = "a boolean";
}

impl Expected for Object {
    const WHAT: &'static str = "an object";
}

impl<T: Expected> Field<T> {
    /// The value if given; another type is a 400 "`name` must be ...".
    fn get(&self, name: &str) -> Result<Option<&T>, ApiError> {
        match self {
            Field::Absent => Ok(None),
            Field::Given(t) => Ok(Some(t)),
            Field::WrongType => Err(invalid(&format!("{name} must be {}.", T::WHAT))),
        }
    }
}

impl Field<String> {
    fn opt(&self, name: &str) -> Result<Option<&str>, ApiError> {
        Ok(self.get(name)?.map(String::as_str))
    }

    /// A string that must be present and not empty.
    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.opt(name)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid(&format!("{name} must not be null.")))
    }
}

impl Field<Object> {
    fn object(&self, name: &str) -> Result<Object, ApiError> {
        Ok(self.get(name)?.cloned().unwrap_or_default())
    }
}

/// A nested object; any other JSON value reads as an object with no fields.
#[derive(Debug, Default)]
pub(super) struct Nested<T>(T);

impl<'de, T: DeserializeOwned + Default> Deserialize<'de> for Nested<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        if !v.is_object() {
            return Ok(Nested(T::default()));
        }
        serde_json::from_value(v)
            .map(Nested)
            .map_err(serde::de::Error::custom)
    }
}

/// `LaunchInstanceDetails`: the fields the sim reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct LaunchDetails {
    compartment_id: Field<String>,
    availability_domain: Field<String>,
    shape: Field<String>,
    source_details: Nested<SourceDetails>,
    /// Deprecated top-level form of `sourceDetails.imageId`, still sent by oci-cli.
    image_id: Field<String>,
    create_vnic_details: Nested<VnicDetails>,
    /// Deprecated top-level form of `createVnicDetails.subnetId`.
    subnet_id: Field<String>,
    /// Any non-null value counts as given (a fixed shape refuses even `{}`).
    shape_config: Option<Nested<ShapeConfig>>,
    metadata: Field<Object>,
    freeform_tags: Field<Object>,
    defined_tags: Field<Object>,
    extended_metadata: Field<Object>,
    display_name: Field<String>,
    fault_domain: Field<String>,
}

/// `InstanceSourceViaImageDetails`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct SourceDetails {
    source_type: Field<String>,
    image_id: Field<String>,
    #[serde(rename = "bootVolumeSizeInGBs")]
    boot_volume_size_in_gbs: Field<u64>,
}

/// `CreateVnicDetails`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct VnicDetails {
    subnet_id: Field<String>,
    hostname_label: Field<String>,
    assign_public_ip: Field<bool>,
    private_ip: Field<String>,
}

/// `LaunchInstanceShapeConfigDetails`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ShapeConfig {
    ocpus: Field<f64>,
    #[serde(rename = "memoryInGBs")]
    memory_in_gbs: Field<f64>,
}

/// A launch request that passed every check that needs no other instance.
pub(super) struct LaunchPlan<'a> {
    pub compartment_id: &'a str,
    pub availability_domain: &'a str,
    /// `AD-1`, `AD-2`, ...: the key of the capacity model and the attempt counters.
    pub ad_suffix: String,
    pub capacity: AdCapacity,
    pub shape: &'a str,
    pub ocpus: f64,
    pub memory_gbs: f64,
    pub image_id: &'a str,
    pub boot_volume_size_gbs: Option<u64>,
    pub subnet_id: &'a str,
    pub metadata: Object,
    pub freeform_tags: Object,
    pub defined_tags: Object,
    pub extended_metadata: Object,
    pub display_name: String,
    pub fault_domain: String,
    pub hostname_label: Option<String>,
    pub assign_public_ip: bool,
    pub private_ip: Option<&'a str>,
}

/// The identifiers a launch names, as given (checked for presence and type only).
struct Names<'a> {
    compartment_id: &'a str,
    availability_domain: &'a str,
    shape: &'a str,
    image_id: &'a str,
    subnet_id: &'a str,
}

impl LaunchDetails {
    /// Runs the checks in OCI's order; the first failure is the answer.
    pub(super) fn plan(&self, sim: &Sim, now: DateTime<Utc>) -> Result<LaunchPlan<'_>, ApiError> {
        let names = self.names()?;
        let (ad_suffix, capacity, image, shape) = resolve(sim, &names)?;
        let (ocpus, memory_gbs) = self.resources(shape, names.shape)?;
        if !catalog::compatible(shape, &image) {
            return Err(invalid(&format!(
                "Shape {} is not valid for image {}.",
                names.shape, names.image_id
            )));
        }
        let boot_volume_size_gbs = self.boot_volume_size()?;
        let (metadata, freeform_tags) = self.metadata_and_tags()?;
        let defined_tags = self.defined_tags.object("definedTags")?;
        let extended_metadata = self.extended_metadata.object("extendedMetadata")?;
        let display_name = match self.display_name.opt("displayName")? {
            Some(n) => n.to_string(),
            None => format!("instance-{}", now.format("%Y%m%d-%H%M")),
        };
        let fault_domain = self
            .fault_domain
            .opt("faultDomain")?
            .unwrap_or("FAULT-DOMAIN-1")
            .to_string();
        let vnic = &self.create_vnic_details.0;
        let hostname_label = vnic
            .hostname_label
            .opt("createVnicDetails.hostnameLabel")?
            .map(str::to_string);
        if hostname_label.is_some() && !sim.opts.subnet_dns {
            return Err(invalid(
                "createVnicDetails.hostnameLabel cannot be set: DNS is not enabled on the subnet (it has no dnsLabel).",
            ));
        }
        let assign_public_ip = vnic
            .assign_public_ip
            .get("createVnicDetails.assignPublicIp")?
            .is_none_or(|b| *b);
        Ok(LaunchPlan {
            compartment_id: names.compartment_id,
            availability_domain: names.availability_domain,
            ad_suffix,
            capacity,
            shape: names.shape,
            ocpus,
            memory_gbs,
            image_id: names.image_id,
            boot_volume_size_gbs,
            subnet_id: names.subnet_id,
            metadata,
            freeform_tags,
            defined_tags,
            extended_metadata,
            display_name,
            fault_domain,
            hostname_label,
            assign_public_ip,
            private_ip: vnic.private_ip.opt("createVnicDetails.privateIp")?,
        })
    }

    fn names(&self) -> Result<Names<'_>, ApiError> {
        let compartment_id = self.compartment_id.required("compartmentId")?;
        let availability_domain = self.availability_domain.required("availabilityDomain")?;
        let shape = self.shape.required("shape")?;
        let source = &self.source_details.0;
        if let Some(t) = source.source_type.opt("sourceDetails.sourceType")?
            && t != "image"
        {
            return Err(invalid(&format!(
                "sourceDetails.sourceType {t} is not supported by the simulator."
            )));
        }
        // The deprecated top-level imageId (still sent by oci-cli) is accepted like OCI does.
        let image_id = match source.image_id.opt("sourceDetails.imageId")? {
            Some(i) => i,
            None => self
                .image_id
                .required("sourceDetails.imageId")
                .map_err(|_| invalid("sourceDetails.imageId must not be null."))?,
        };
        let vnic = &self.create_vnic_details.0;
        let subnet_id = match vnic.subnet_id.opt("createVnicDetails.subnetId")? {
            Some(s) => s,
            None => self
                .subnet_id
                .required("createVnicDetails.subnetId")
                .map_err(|_| invalid("createVnicDetails.subnetId must not be null."))?,
        };
        Ok(Names {
            compartment_id,
            availability_domain,
            shape,
            image_id,
            subnet_id,
        })
    }

    /// OCPUs and memory: from `shapeConfig` for a flexible shape, fixed otherwise.
    fn resources(&self, shape: &Shape, name: &str) -> Result<(f64, f64), ApiError> {
        let cfg = match (shape.flex, &self.shape_config) {
            (true, None) => {
                return Err(invalid(&format!(
                    "Shape {name} is a flexible shape and requires shapeConfig."
                )));
            }
            (true, Some(cfg)) => &cfg.0,
            (false, Some(_)) => {
                return Err(invalid(&format!(
                    "shapeConfig is only supported for flexible shapes, not {name}."
                )));
            }
            (false, None) => return Ok((shape.ocpus, shape.memory_gbs)),
        };
        let ocpus = *cfg
            .ocpus
            .get("shapeConfig.ocpus")?
            .ok_or_else(|| invalid("shapeConfig.ocpus must not be null."))?;
        if !(1.0..=shape.ocpus).contains(&ocpus) {
            return Err(invalid(&format!(
                "shapeConfig.ocpus {ocpus} is out of range 1 to {} for {name}.",
                shape.ocpus
            )));
        }
        let mem = cfg
            .memory_in_gbs
            .get("shapeConfig.memoryInGBs")?
            .copied()
            .unwrap_or(ocpus * shape.memory_gbs);
        if mem < ocpus || mem > ocpus * 64.0 {
            return Err(invalid(&format!(
                "shapeConfig.memoryInGBs {mem} must be between 1 and 64 GB per OCPU for {name}."
            )));
        }
        Ok((ocpus, mem))
    }

    fn boot_volume_size(&self) -> Result<Option<u64>, ApiError> {
        match self.source_details.0.boot_volume_size_in_gbs {
            Field::Absent => Ok(None),
            Field::Given(n) if (50..=32768).contains(&n) => Ok(Some(n)),
            Field::Given(_) | Field::WrongType => Err(invalid(
                "sourceDetails.bootVolumeSizeInGBs must be between 50 and 32768.",
            )),
        }
    }

    /// `metadata` (string values, 32 000 bytes at most) and `freeformTags` (OCI's tag limits).
    fn metadata_and_tags(&self) -> Result<(Object, Object), ApiError> {
        let metadata = self.metadata.object("metadata")?;
        if metadata.values().any(|v| !v.is_string()) {
            return Err(invalid("metadata values must be strings."));
        }
        let meta_size: usize = metadata
            .iter()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum();
        if meta_size > 32_000 {
            return Err(invalid("metadata exceeds the maximum size of 32000 bytes."));
        }
        let freeform_tags = self.freeform_tags.object("freeformTags")?;
        // OCI tag limits: string values, keys up to 100 and values up to 256 characters.
        if freeform_tags
            .iter()
            .any(|(k, v)| k.is_empty() || k.len() > 100 || v.as_str().is_none_or(|v| v.len() > 256))
        {
            return Err(invalid(
                "freeformTags keys must be 1 to 100 characters and values strings of at most 256 characters.",
            ));
        }
        Ok((metadata, freeform_tags))
    }
}

/// Looks up what the names point at: compartment, AD (and its capacity), subnet, image, shape.
fn resolve(
    sim: &Sim,
    names: &Names<'_>,
) -> Result<(String, AdCapacity, Image, &'static Shape), ApiError> {
    let comp = names.compartment_id;
    if comp != TENANCY_OCID && !comp.starts_with("ocid1.compartment.") {
        return Err(not_found());
    }
    let ad = names.availability_domain;
    let Some(suffix) = catalog::ad_suffix(ad) else {
        return Err(invalid(&format!("Invalid availabilityDomain {ad}.")));
    };
    if names.subnet_id != SUBNET_ID {
        return Err(not_found());
    }
    let Some(image) = catalog::images()
        .into_iter()
        .find(|i| i.id == names.image_id)
    else {
        return Err(not_found());
    };
    let cap = sim.opts.capacity.for_ad(&suffix).clone();
    let name = names.shape;
    let shape = catalog::shape(name)
        .filter(|_| {
            cap.shapes
                .as_ref()
                .is_none_or(|s| s.iter().any(|x| x == name))
        })
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("Shape {name} not found."),
            )
        })?;
    Ok((suffix, cap, image, shape))
}
