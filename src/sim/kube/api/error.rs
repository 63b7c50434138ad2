//! `meta.k8s.io/v1 Status` errors: the one error type every handler returns with `?`.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::sim::kube::store::ResourceDef;
use crate::sim::kube::validate::Cause;

/// A failed request, answered as a `meta.k8s.io/v1 Status`.
#[derive(Debug)]
pub(crate) struct ApiError {
    code: StatusCode,
    reason: &'static str,
    message: String,
    details: Option<Box<Value>>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(super) fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub(super) fn details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// Sends `Retry-After: secs` with the answer.
    pub(super) fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub(super) fn not_found(def: &ResourceDef, name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} \"{name}\" not found", def.qualified_plural()),
        )
        .details(json!({"name": name, "group": def.group, "kind": def.plural}))
    }

    /// 409 AlreadyExists, as apimachinery's errors.NewAlreadyExists words it.
    pub(super) fn already_exists(def: &ResourceDef, name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", def.qualified_plural()),
        )
        .details(json!({"name": name, "group": def.group, "kind": def.plural}))
    }

    pub(super) fn no_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        )
        .details(json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}))
    }

    pub(super) fn conflict(def: &ResourceDef, name: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
            .details(json!({"name": name, "group": def.group, "kind": def.plural}))
    }

    pub(super) fn invalid(def: &ResourceDef, name: &str, causes: &[Cause]) -> Self {
        let parts: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let joined = if parts.len() == 1 {
            parts.join("")
        } else {
            format!("[{}]", parts.join(", "))
        };
        let causes: Vec<Value> = causes
            .iter()
            .map(|c| json!({"reason": "FieldValueInvalid", "message": c.message, "field": c.field}))
            .collect();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!("{} \"{name}\" is invalid: {joined}", def.qualified_kind()),
        )
        .details(json!({"name": name, "group": def.group, "kind": def.kind, "causes": causes}))
    }

    /// A validating admission webhook's denial, as the API server relays it
    /// (apiserver `pkg/admission/plugin/webhook/errors.ToStatusErr`: `admission webhook
    /// "NAME" denied the request: MESSAGE`) with the webhook's own 422 status and causes.
    pub(super) fn webhook_denied(webhook: &str, field: &str, message: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!("admission webhook \"{webhook}\" denied the request: {message}"),
        )
        .details(json!({"causes": [{"reason": "FieldValueNotFound", "message": message, "field": field}]}))
    }

    pub(super) fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code.as_u16(),
        });
        if let (Some(d), Some(map)) = (self.details, body.as_object_mut()) {
            map.insert("details".into(), *d);
        }
        let mut resp = json_response(self.code, &body);
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Adds one `Warning: 299 - "<text>"` header per warning, as the API server sends them
/// (apiserver/pkg/endpoints/handlers/responsewriters warnings; RFC 7234 warn-text quoting).
pub(super) fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let quoted = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{quoted}\"")) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

pub(super) fn json_response(code: StatusCode, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
