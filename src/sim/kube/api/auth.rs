//! Bearer-token authentication and the 403 answer for read-only tokens.

use http::{HeaderMap, StatusCode, header};
use serde_json::json;

use super::SUBRESOURCES_GROUP;
use super::error::ApiError;
use super::route::Route;
use crate::sim::kube::KubeSimOptions;

/// The user name reported in 403 messages for read-only tokens.
const READ_ONLY_USER: &str = "vauto-sim-readonly";

/// Checks the bearer token; `Ok(true)` for a read-only token.
pub(super) fn authenticate(opts: &KubeSimOptions, headers: &HeaderMap) -> Result<bool, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token {
        Some(t) if !opts.token.is_empty() && t == opts.token => Ok(false),
        Some(t) if opts.read_only_tokens.iter().any(|r| r == t) => Ok(true),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized",
        )),
    }
}

pub(super) fn forbidden(route: &Route, verb: &str) -> ApiError {
    let (qualified, resource, group, ns, name) = match route {
        Route::Collection(def, ns) => (
            def.qualified_plural(),
            def.plural.to_string(),
            def.group,
            ns.clone(),
            None,
        ),
        Route::Object(def, ns, name) => (
            def.qualified_plural(),
            def.plural.to_string(),
            def.group,
            Some(ns.clone()),
            Some(name.clone()),
        ),
        Route::VmAction(ns, name, action) => (
            format!("virtualmachines.{SUBRESOURCES_GROUP}"),
            format!("virtualmachines/{action}"),
            SUBRESOURCES_GROUP,
            Some(ns.clone()),
            Some(name.clone()),
        ),
        _ => (String::new(), String::new(), "", None, None),
    };
    let subject = match &name {
        Some(n) => format!("{qualified} \"{n}\""),
        None => qualified,
    };
    let scope = match ns {
        Some(ns) => format!(" in the namespace \"{ns}\""),
        None => " at the cluster scope".to_string(),
    };
    ApiError::new(
        StatusCode::FORBIDDEN,
        "Forbidden",
        format!(
            "{subject} is forbidden: User \"{READ_ONLY_USER}\" cannot {verb} resource \"{resource}\" in API group \"{group}\"{scope}"
        ),
    )
    .details(json!({"name": name.unwrap_or_default(), "group": group, "kind": resource}))
}
