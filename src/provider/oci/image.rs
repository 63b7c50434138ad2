//! Image resolution: a spec's `image` (an OCID, or OS, version and name filters) to one image
//! OCID, cached per query for the length of the run.

use std::collections::HashMap;

use tokio::sync::Mutex;

use super::client::{Image, ImageQuery, OciClient};
use super::resources::pick_image;
use crate::config::OciSpec;
use crate::model::{ErrorClass, Event, Observer, ProviderError};

/// An image resolved for a spec: its OCID and operating system (for the ssh user).
#[derive(Debug, Clone)]
pub(crate) struct ResolvedImage {
    pub(crate) id: String,
    pub(crate) os: String,
}

/// Resolved images by query, so that the instances of one spec ask ListImages once.
#[derive(Debug, Default)]
pub(crate) struct Images {
    cache: Mutex<HashMap<String, ResolvedImage>>,
}

impl Images {
    /// The image `spec` asks for; a note says which image was picked.
    pub(crate) async fn resolve(
        &self,
        client: &OciClient,
        compartment: &str,
        spec: &OciSpec,
        observer: &dyn Observer,
    ) -> Result<ResolvedImage, ProviderError> {
        let image = &spec.image;
        let os = image.os.as_ref().map(|o| o.0.clone()).unwrap_or_default();
        if let Some(id) = image.id.as_ref().filter(|i| !i.is_empty()) {
            return Ok(ResolvedImage {
                id: id.0.clone(),
                os,
            });
        }
        let query = ImageQuery {
            operating_system: image.os.as_ref().map(|o| o.0.clone()),
            operating_system_version: image.os_version.as_ref().map(|o| o.0.clone()),
            shape: Some(spec.shape.0.clone()),
        };
        let names: Vec<String> = image.name_contains.iter().map(|n| n.0.clone()).collect();
        // Platform images may live elsewhere (`image.compartment`, e.g. the tenancy's root).
        let compartment = image.compartment.as_deref().unwrap_or(compartment);
        let key = format!("{compartment}{query:?}{names:?}");
        let mut cache = self.cache.lock().await;
        if let Some(hit) = cache.get(&key) {
            return Ok(hit.clone());
        }
        let images = candidates(client, compartment, &query).await?;
        let Some(found) = pick_image(&images, &names) else {
            return Err(no_image(&query, &names, images.len()));
        };
        observer.event(Event::Note {
            message: format!("image `{}` ({})", found.display_name, found.id),
        });
        let resolved = ResolvedImage {
            id: found.id.clone(),
            os: if found.operating_system.is_empty() {
                os
            } else {
                found.operating_system.clone()
            },
        };
        cache.insert(key, resolved.clone());
        Ok(resolved)
    }
}

/// The images of `query`'s OS and shape whose version is the asked one.
async fn candidates(
    client: &OciClient,
    compartment: &str,
    query: &ImageQuery,
) -> Result<Vec<Image>, ProviderError> {
    // OCI's version filter is an exact match, and Minimal/aarch64 builds carry versions
    // like `22.04 Minimal`: ask for the OS and shape, then match the version here.
    let api_query = ImageQuery {
        operating_system_version: None,
        ..query.clone()
    };
    let mut images = client.list_images(compartment, &api_query).await?;
    if let Some(v) = &query.operating_system_version {
        images.retain(|i| {
            i.operating_system_version == *v
                || i.operating_system_version.starts_with(&format!("{v} "))
        });
    }
    Ok(images)
}

fn no_image(query: &ImageQuery, names: &[String], candidates: usize) -> ProviderError {
    ProviderError::new(
        ErrorClass::Invalid,
        format!(
            "no image matches os `{}` version `{}` names [{}] for shape `{}` ({candidates} candidates)",
            query.operating_system.as_deref().unwrap_or("any"),
            query.operating_system_version.as_deref().unwrap_or("any"),
            names.join(", "),
            query.shape.as_deref().unwrap_or("any"),
        ),
    )
}
