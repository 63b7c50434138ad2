//! OCI errors: the one error type every handler returns with `?`, rendered as `{code, message}`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde_json::json;

use super::reset_response;

/// The message OCI gives for a missing resource and for one the caller may not see.
const NOT_FOUND_MSG: &str = "Authorization failed or requested resource not found.";

/// A failed call: an OCI error body, or a connection dropped on purpose.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// Answered as `{"code": .., "message": ..}` with `status`.
    Oci {
        status: StatusCode,
        code: &'static str,
        message: String,
        /// Sent as `retry-after` (seconds) with a 429.
        retry_after: Option<u64>,
    },
    /// No answer at all (fault injection).
    Reset,
}

impl ApiError {
    /// Sends `retry-after: secs` with the answer.
    pub(crate) fn retry_after(self, secs: u64) -> Self {
        match self {
            ApiError::Oci {
                status,
                code,
                message,
                ..
            } => ApiError::Oci {
                status,
                code,
                message,
                retry_after: Some(secs),
            },
            ApiError::Reset => ApiError::Reset,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Oci {
                status,
                code,
                message,
                retry_after,
            } => {
                let mut r =
                    (status, Json(json!({"code": code, "message": message}))).into_response();
                if let Some(secs) = retry_after {
                    r.headers_mut()
                        .insert("retry-after", HeaderValue::from(secs));
                }
                r
            }
            ApiError::Reset => reset_response(),
        }
    }
}

/// An OCI error: `{"code": .., "message": ..}` with `status`.
pub(crate) fn error(status: StatusCode, code: &'static str, message: &str) -> ApiError {
    ApiError::Oci {
        status,
        code,
        message: message.to_string(),
        retry_after: None,
    }
}

/// 400 `InvalidParameter`.
pub(crate) fn invalid(message: &str) -> ApiError {
    error(StatusCode::BAD_REQUEST, "InvalidParameter", message)
}

/// 404 `NotAuthorizedOrNotFound`, OCI's answer for anything missing or hidden.
pub(crate) fn not_found() -> ApiError {
    error(
        StatusCode::NOT_FOUND,
        "NotAuthorizedOrNotFound",
        NOT_FOUND_MSG,
    )
}

/// 500 `InternalError` with `message`.
pub(crate) fn internal(message: &str) -> ApiError {
    error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
}
