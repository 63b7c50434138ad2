//! Fault injection: 429 throttling and 5xx answers decided before a request has any effect.

use http::StatusCode;
use serde_json::json;

use super::Shared;
use super::error::ApiError;

/// Decides, before anything changes, whether this request fails on purpose.
pub(super) fn inject_fault(sh: &Shared) -> Result<(), ApiError> {
    let opts = &sh.opts;
    if opts.throttle_rate <= 0.0 && opts.error_rate <= 0.0 {
        return Ok(());
    }
    let mut rng = sh.fault_rng.lock().unwrap_or_else(|e| e.into_inner());
    let r = rng.f64();
    if r < opts.throttle_rate {
        let secs = opts.retry_after.as_secs().max(1);
        let e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        )
        .details(json!({"retryAfterSeconds": secs}))
        .retry_after(secs);
        return Err(e);
    }
    if r < opts.throttle_rate + opts.error_rate {
        return Err(if rng.bool() {
            ApiError::internal("simulated fault")
        } else {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            )
        });
    }
    Ok(())
}
