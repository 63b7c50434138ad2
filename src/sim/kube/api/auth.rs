//! Bearer-token authentication and the 403 answer for read-only tokens.

use http::{HeaderMap, StatusCode, header};
use serde_json::json;

use super::SUBRESOURCES_GROUP;
use super::error::ApiError;
use super::route::Route;
use crate::sim::kube::KubeSimOptions;

/// The user name reported in 403 messages for read-only tokens.
const READ_ONLY_USER: &str = "vauto-sim-readonly";

/// The user name of the read-write token, as CDI's and KubeVirt's clone refusals name it.
pub(super) const USER: &str = "vauto-sim";

/// Whether the read-write user may clone a PVC out of namespace `ns` (`create` on
/// `datavolumes/source` there, the permission CDI checks with a SubjectAccessReview:
/// CDI `pkg/apiserver/webhooks/util.go` / `pkg/controller/clone` "insufficient permissions
/// in clone source namespace").
pub(super) fn may_clone_from(opts: &KubeSimOptions, ns: &str) -> bool {
    !opts.clone_denied.iter().any(|d| d == ns)
}

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
        Route::Namespaces => ("namespaces".into(), "namespaces".into(), "", None, None),
        Route::Namespace(name) => (
            "namespaces".into(),
            "namespaces".into(),
            "",
            None,
            Some(name.clone()),
        ),
        _ => (String::new(), String::new(), "", None, None),
    };
    let subject = match &name {
        Some(n) => format!("{qualified} \"{n}\""),
        None => qualified,
    };
    let scope = match ns.filter(|n| !n.is_empty()) {
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

/// `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`: may the caller do this?
/// The full token may do anything; a read-only token may get, list and watch only. The
/// answer is the review with `status.allowed`, 201 Created, as the API server's
/// registry/authorization/selfsubjectaccessreview REST answers (`kubectl auth can-i`).
pub(super) fn self_subject_access_review(
    req: &super::request::Req<'_>,
) -> Result<axum::response::Response, ApiError> {
    let mut review =
        if super::request::media_type(req.content_type) == "application/vnd.kubernetes.protobuf" {
            super::protobuf::self_subject_access_review(req.body).map_err(ApiError::bad_request)?
        } else {
            super::request::parse_body(req)?
        };
    let kind = review.get("kind").and_then(serde_json::Value::as_str);
    if kind != Some("SelfSubjectAccessReview") {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({}) does not match the expected kind (SelfSubjectAccessReview)",
            kind.unwrap_or("")
        )));
    }
    let attrs = review
        .pointer("/spec/resourceAttributes")
        .or_else(|| review.pointer("/spec/nonResourceAttributes"));
    let Some(verb) = attrs
        .and_then(|a| a.get("verb"))
        .and_then(serde_json::Value::as_str)
    else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ));
    };
    let attr = |k: &str| {
        review
            .pointer(&format!("/spec/resourceAttributes/{k}"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
    };
    let clone_source = attr("group") == "cdi.kubevirt.io"
        && attr("resource") == "datavolumes"
        && attr("subresource") == "source";
    let allowed = if req.read_only {
        matches!(verb, "get" | "list" | "watch")
    } else {
        !(clone_source && matches!(verb, "create" | "*"))
            || may_clone_from(&req.sh.opts, attr("namespace"))
    };
    // RBAC never denies, it only does not allow: `denied` stays unset, as a real API
    // server answers for a verb no role grants.
    let status = json!({"allowed": allowed});
    if let Some(m) = review.as_object_mut() {
        m.insert("status".into(), status);
        m.entry("metadata").or_insert_with(|| json!({}));
    }
    Ok(super::error::json_response(StatusCode::CREATED, &review))
}
