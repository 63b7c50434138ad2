//! Delete: one object, or every object a selector matches in a namespace.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::error::{ApiError, json_response};
use super::read::selectors;
use super::request::Req;
use crate::sim::kube::select;
use crate::sim::kube::store::{ResourceDef, Store, key};

pub(super) fn delete(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> Result<Response, ApiError> {
    let k = key(def.plural, ns, name);
    let Some(entry) = store.objects.get(&k).cloned() else {
        return Err(ApiError::not_found(def, name));
    };
    if !req.query.dry_run() {
        store.remove_cascade(&k);
    }
    Ok(json_response(StatusCode::OK, &entry.object))
}

pub(super) fn delete_collection(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
) -> Result<Response, ApiError> {
    let (labels, fields) = selectors(req, def)?;
    let prefix = format!("{}/{ns}/", def.plural);
    let doomed: Vec<(String, Value)> = store
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(_, e)| select::labels_match(&labels, &e.object))
        .filter(|(_, e)| select::fields_match(&fields, &e.object))
        .map(|(k, e)| (k.clone(), e.object.clone()))
        .collect();
    if !req.query.dry_run() {
        for (k, _) in &doomed {
            store.remove_cascade(k);
        }
    }
    let body = json!({
        "kind": format!("{}List", def.kind),
        "apiVersion": def.api_version(),
        "metadata": {"resourceVersion": store.resource_version.to_string()},
        "items": doomed.into_iter().map(|(_, o)| o).collect::<Vec<_>>(),
    });
    Ok(json_response(StatusCode::OK, &body))
}
