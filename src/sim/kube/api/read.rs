//! Reads: get one object, list with selectors and limit/continue pagination.

use axum::response::Response;
use base64::Engine;
use http::StatusCode;
use serde_json::{Value, json};

use super::error::{ApiError, json_response};
use super::request::Req;
use crate::sim::kube::select;
use crate::sim::kube::store::{Entry, ResourceDef, Store, key};

pub(super) fn get(
    store: &Store,
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> Result<Response, ApiError> {
    match store.objects.get(&key(def.plural, ns, name)) {
        Some(e) => Ok(json_response(StatusCode::OK, &e.object)),
        None => Err(ApiError::not_found(def, name)),
    }
}

/// The JSON inside a continue token (shaped like the API server's own).
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: u64,
    start: String,
    iat: i64,
}

fn expired() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
    )
}

fn decode_continue(
    token: &str,
    store: &Store,
    prefix: &str,
    req: &Req<'_>,
) -> Result<String, ApiError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| expired())?;
    let t: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| expired())?;
    let ttl = i64::try_from(req.sh.opts.continue_ttl.as_millis()).unwrap_or(i64::MAX);
    let start = t.start.trim_end_matches('\u{0}').to_string();
    if t.v != "meta.k8s.io/v1"
        || t.rv > store.resource_version
        || req.now.saturating_sub(t.iat) > ttl
        || !start.starts_with(prefix)
    {
        return Err(expired());
    }
    Ok(start)
}

pub(super) fn selectors(
    req: &Req<'_>,
    def: &ResourceDef,
) -> Result<(Vec<select::Requirement>, Vec<select::FieldReq>), ApiError> {
    let labels = match req.query.get("labelSelector") {
        Some(s) => select::parse_labels(s).map_err(ApiError::bad_request)?,
        None => Vec::new(),
    };
    let fields = match req.query.get("fieldSelector") {
        Some(s) => select::parse_fields(s, def.plural).map_err(ApiError::bad_request)?,
        None => Vec::new(),
    };
    Ok((labels, fields))
}

pub(super) fn list(
    store: &Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: Option<&str>,
) -> Result<Response, ApiError> {
    let prefix = match ns {
        Some(ns) => format!("{}/{ns}/", def.plural),
        None => format!("{}/", def.plural),
    };
    let (labels, fields) = selectors(req, def)?;
    let start = match req.query.get("continue") {
        Some(t) => Some(decode_continue(t, store, &prefix, req)?),
        None => None,
    };
    let limit = match req.query.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        None => 0,
    };
    let matched: Vec<(&String, &Entry)> = store
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| start.as_ref().is_none_or(|s| k.as_str() > s.as_str()))
        .filter(|(_, e)| select::labels_match(&labels, &e.object))
        .filter(|(_, e)| select::fields_match(&fields, &e.object))
        .collect();
    let mut meta = json!({"resourceVersion": store.resource_version.to_string()});
    let items: Vec<Value> = if limit > 0 && matched.len() > limit {
        let last = matched[limit - 1].0.clone();
        let token = ContinueToken {
            v: "meta.k8s.io/v1".into(),
            rv: store.resource_version,
            start: format!("{last}\u{0}"),
            iat: req.now,
        };
        let raw = serde_json::to_vec(&token).map_err(|e| ApiError::internal(e.to_string()))?;
        if let Some(m) = meta.as_object_mut() {
            m.insert(
                "continue".into(),
                json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)),
            );
            // As the API server: no count when a selector makes it expensive.
            if labels.is_empty() && fields.is_empty() {
                m.insert("remainingItemCount".into(), json!(matched.len() - limit));
            }
        }
        matched[..limit]
            .iter()
            .map(|(_, e)| e.object.clone())
            .collect()
    } else {
        matched.iter().map(|(_, e)| e.object.clone()).collect()
    };
    let body = json!({
        "kind": format!("{}List", def.kind),
        "apiVersion": def.api_version(),
        "metadata": meta,
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &body))
}
