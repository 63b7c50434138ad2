//! Path routing: what a Kubernetes URL names, and the RBAC verb of a method on it.

use http::{Method, StatusCode};

use super::SUBRESOURCES_GROUP;
use super::error::ApiError;
use crate::sim::kube::store::{RESOURCES, ResourceDef, find_resource};

/// What a path names.
pub(super) enum Route {
    Version,
    Healthz,
    ApiVersions,
    ApiGroups,
    ResourceList(String, String),
    Collection(ResourceDef, Option<String>),
    Object(ResourceDef, String, String),
    VmAction(String, String, String),
    /// `/api/v1/namespaces`.
    Namespaces,
    /// `/api/v1/namespaces/NAME`.
    Namespace(String),
    /// `/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`.
    AccessReview,
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/openapi/v3`.
    OpenApiV3Discovery,
    /// `/openapi/v3/api/v1` (group "") or `/openapi/v3/apis/GROUP/VERSION`.
    OpenApiV3(String, String),
    /// A read-only core resource (`discovery::BUILTIN`): plural, namespace, name.
    Builtin(&'static str, Option<String>, Option<String>),
}

pub(super) fn route(path: &str) -> Result<Route, ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Ok(Route::Version),
        ["healthz" | "readyz" | "livez"] => return Ok(Route::Healthz),
        ["api"] => return Ok(Route::ApiVersions),
        ["apis"] => return Ok(Route::ApiGroups),
        ["openapi", "v2"] => return Ok(Route::OpenApiV2),
        ["openapi", "v3"] => return Ok(Route::OpenApiV3Discovery),
        ["openapi", "v3", "api", v] => return Ok(Route::OpenApiV3(String::new(), v.to_string())),
        ["openapi", "v3", "apis", g, v] => {
            return Ok(Route::OpenApiV3(g.to_string(), v.to_string()));
        }
        ["api", "v1", "namespaces"] => return Ok(Route::Namespaces),
        ["api", "v1", "namespaces", name] => return Ok(Route::Namespace(name.to_string())),
        [
            "apis",
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
        ] => {
            return Ok(Route::AccessReview);
        }
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::no_route()),
    };
    if let Some(r) = builtin(group, version, rest) {
        return Ok(r);
    }
    if group == SUBRESOURCES_GROUP && version == "v1" {
        return match rest {
            [] => Ok(Route::ResourceList(group.into(), version.into())),
            [
                "namespaces",
                ns,
                "virtualmachines",
                name,
                action @ ("start" | "stop" | "restart"),
            ] => Ok(Route::VmAction(
                ns.to_string(),
                name.to_string(),
                action.to_string(),
            )),
            _ => Err(ApiError::no_route()),
        };
    }
    let builtin_only = super::discovery::BUILTIN
        .iter()
        .any(|b| b.group == group && b.version == version);
    if !RESOURCES
        .iter()
        .any(|r| r.group == group && r.version == version)
    {
        return match rest {
            [] if builtin_only => Ok(Route::ResourceList(group.into(), version.into())),
            _ => Err(ApiError::no_route()),
        };
    }
    let def = |plural: &str| find_resource(group, version, plural).ok_or_else(ApiError::no_route);
    match rest {
        [] => Ok(Route::ResourceList(group.into(), version.into())),
        [plural] => Ok(Route::Collection(def(plural)?, None)),
        ["namespaces", ns, plural] => Ok(Route::Collection(def(plural)?, Some(ns.to_string()))),
        ["namespaces", ns, plural, name] => Ok(Route::Object(
            def(plural)?,
            ns.to_string(),
            name.to_string(),
        )),
        _ => Err(ApiError::no_route()),
    }
}

/// Paths of the read-only resources (`discovery::BUILTIN`): cluster-scoped ones by name,
/// namespaced ones within a namespace or across all.
fn builtin(group: &str, version: &str, rest: &[&str]) -> Option<Route> {
    let plural = |p: &str| {
        super::discovery::BUILTIN
            .iter()
            .find(|b| b.group == group && b.version == version && b.plural == p)
            .map(|b| (b.plural, b.namespaced))
    };
    let s = |x: &str| Some(x.to_string());
    match rest {
        [p] => plural(p).map(|(p, _)| Route::Builtin(p, None, None)),
        [p, name] => match plural(p) {
            Some((p, false)) => Some(Route::Builtin(p, None, s(name))),
            _ => None,
        },
        ["namespaces", ns, p] => match plural(p) {
            Some((p, true)) => Some(Route::Builtin(p, s(ns), None)),
            _ => None,
        },
        ["namespaces", ns, p, name] => match plural(p) {
            Some((p, true)) => Some(Route::Builtin(p, s(ns), s(name))),
            _ => None,
        },
        _ => None,
    }
}

/// The RBAC verb of a request, for 403 messages and the read-only check.
pub(super) fn verb(method: &Method, route: &Route) -> Result<&'static str, ApiError> {
    let not_allowed = || {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    };
    Ok(match (route, method.as_str()) {
        (Route::Collection(..), "GET") => "list",
        (Route::Collection(_, Some(_)), "POST") => "create",
        (Route::Collection(_, Some(_)), "DELETE") => "deletecollection",
        (Route::Object(..), "GET") => "get",
        (Route::Object(..), "PUT") => "update",
        (Route::Object(..), "PATCH") => "patch",
        (Route::Object(..), "DELETE") => "delete",
        (Route::VmAction(..), "PUT") => "update",
        (Route::Namespaces, "GET") => "list",
        (Route::Namespaces, "POST") => "create",
        (Route::Namespace(_), "GET") => "get",
        (Route::Namespace(_), "PUT") => "update",
        (Route::Namespace(_), "PATCH") => "patch",
        (Route::Namespace(_), "DELETE") => "delete",
        (Route::AccessReview, "POST") => "create",
        (Route::OpenApiV2 | Route::OpenApiV3Discovery | Route::OpenApiV3(..), "GET") => "get",
        (Route::Builtin(_, _, None), "GET") => "list",
        (Route::Builtin(_, _, Some(_)), "GET") => "get",
        (Route::Version | Route::Healthz | Route::ApiVersions | Route::ApiGroups, "GET") => "get",
        (Route::ResourceList(..), "GET") => "get",
        _ => return Err(not_allowed()),
    })
}
