//! Backend errors, classified once at the provider's edge; the engine decides from the class.

use std::time::Duration;

use serde::Serialize;

/// What kind of failure a backend reported; the engine decides what to do from this alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErrorClass {
    /// The backend has no room for the instance right now (OCI "Out of host capacity").
    Capacity,
    /// The backend asked us to slow down (HTTP 429).
    Throttled,
    /// Worth retrying soon with the same request: 5xx, timeouts, connection resets.
    Transient,
    /// The object already exists.
    AlreadyExists,
    /// The object does not exist, or what was asked is not offered at this placement
    /// (OCI: the shape in one availability domain).
    NotFound,
    /// Credentials are missing, wrong or not allowed.
    Auth,
    /// The request was rejected as malformed; retrying cannot help.
    Invalid,
    /// A service limit or quota is exhausted.
    Quota,
}

impl ErrorClass {
    /// The lowercase name used in journals, JSON output and messages.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Capacity => "capacity",
            ErrorClass::Throttled => "throttled",
            ErrorClass::Transient => "transient",
            ErrorClass::AlreadyExists => "already_exists",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Auth => "auth",
            ErrorClass::Invalid => "invalid",
            ErrorClass::Quota => "quota",
        }
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The backend's own reason, for the few places that act on more than the class.
///
/// Set by the provider's `classify` from the structured error body (OCI `code`, Kubernetes
/// `Status.reason`), so no caller ever matches message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ErrorCode {
    /// Nothing more specific than the class.
    #[default]
    Unspecified,
    /// OCI 409 `InvalidatedRetryToken`: the retry token belongs to an instance that was
    /// deleted; a new generation is needed.
    RetryTokenInvalidated,
    /// OCI 404 `NotAuthorizedOrNotFound`: missing, or hidden by policy.
    NotAuthorizedOrNotFound,
    /// A wait ran out of time: the wait is over, trying the action again would start a new
    /// one past the deadline.
    WaitTimedOut,
}

/// An error from a backend, classified once at the provider's edge.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub(crate) struct ProviderError {
    /// What the engine should make of it.
    pub class: ErrorClass,
    /// The backend's own reason, when a caller needs it.
    pub code: ErrorCode,
    /// Human-readable message (lowercase, no trailing period); never contains secrets.
    pub message: String,
    /// Server-requested wait before the next try (HTTP Retry-After).
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    /// A new error of `class` with `message`.
    pub(crate) fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        ProviderError {
            class,
            code: ErrorCode::Unspecified,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error with the backend's reason.
    pub(crate) fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }

    /// The same error with a server-requested retry delay.
    pub(crate) fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }
}
