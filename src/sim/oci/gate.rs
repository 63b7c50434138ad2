//! The gate in front of every handler: request id, latency, signature check, throttling, faults.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::request::Parts;
use http::{HeaderValue, StatusCode};

use super::error::{ApiError, error, internal};
use super::{Sim, auth};

/// Largest request body accepted (OCI rejects far smaller bodies; user_data is capped at 32 KB).
const MAX_BODY: usize = 2 * 1024 * 1024;

/// Runs before every handler: request id, latency, signature check, throttling, faults.
pub(super) async fn gate(State(sim): State<Arc<Sim>>, req: Request, next: Next) -> Response {
    let request_id = {
        let server: String = sim.rng(|r| {
            (0..32)
                .map(|_| {
                    r.choice(b"0123456789ABCDEF".iter())
                        .map_or('0', |c| *c as char)
                })
                .collect()
        });
        match req
            .headers()
            .get("opc-request-id")
            .and_then(|v| v.to_str().ok())
        {
            Some(client) => format!("{client}/{server}"),
            None => server,
        }
    };
    let mut resp = gated(&sim, req, next)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("opc-request-id", v);
    }
    resp
}

async fn gated(sim: &Sim, req: Request, next: Next) -> Result<Response, ApiError> {
    let f = &sim.opts.faults;
    let delay = f.latency
        + if f.latency_jitter.is_zero() {
            Duration::ZERO
        } else {
            let max = u64::try_from(f.latency_jitter.as_millis()).unwrap_or(u64::MAX);
            Duration::from_millis(sim.rng(|r| r.u64(0..=max)))
        };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "CannotParseRequest",
            "The request body could not be read or is too large.",
        )
    })?;
    // The metadata service and the auth service's federation endpoint check their own
    // credentials (`principals.rs`) and are not the throttled API.
    let path = parts.uri.path();
    let own_auth = path.starts_with("/opc/") || path == "/v1/x509";
    if !own_auth {
        verify(sim, &parts, &bytes)?;
    }
    if let Some(log) = &sim.opts.request_log {
        let target = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string());
        log.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(format!("{} {target}", parts.method));
    }
    // OCI has no 415 (API Errors: "400 CannotParseRequest: the request is incorrectly
    // formatted"): a body that is not `application/json` cannot be parsed.
    if !own_auth && !bytes.is_empty() {
        let media = parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        if media.as_deref() != Some("application/json") {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "CannotParseRequest",
                "Incorrectly formatted request. Please refer to the documentation and try again.",
            ));
        }
    }
    if own_auth {
        return Ok(next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await);
    }
    if let Some(secs) = sim.throttle() {
        return Err(too_many().retry_after(secs));
    }
    inject_fault(sim)?;
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

/// 429 `TooManyRequests`: "You have issued too many requests to the Oracle Cloud
/// Infrastructure APIs in too short of a time period" (OCI API Errors table; retry with backoff).
fn too_many() -> ApiError {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Too many requests for the tenancy.",
    )
}

/// 401 `NotAuthenticated` with OCI's message, `why` appended.
fn not_authenticated(why: &str) -> ApiError {
    error(
        StatusCode::UNAUTHORIZED,
        "NotAuthenticated",
        &format!(
            "The required information to complete authentication was not provided or was incorrect{why}"
        ),
    )
}

/// Checks the OCI HTTP signature and the clock skew of its `date`.
fn verify(sim: &Sim, parts: &Parts, body: &[u8]) -> Result<(), ApiError> {
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string());
    let skew = chrono::Duration::from_std(sim.opts.max_clock_skew)
        .unwrap_or_else(|_| chrono::Duration::minutes(5));
    // `keyId="ST$<token>"`: a session token this simulator issued, signed with its session key.
    let session = super::sessions::session_key(sim, &parts.headers);
    let checked = match &session {
        Some(Err(why)) => Err(why.clone()),
        Some(Ok((key_id, key))) => {
            let ctx = auth::VerifyContext {
                key_id,
                public_key: key,
                clock: Some((Utc::now(), skew)),
                host_signed: true,
            };
            auth::verify_request(parts.method.as_str(), &target, &parts.headers, body, &ctx)
        }
        None => {
            let ctx = auth::VerifyContext {
                key_id: &sim.key_id,
                public_key: &sim.public_key,
                clock: Some((Utc::now(), skew)),
                host_signed: true,
            };
            auth::verify_request(parts.method.as_str(), &target, &parts.headers, body, &ctx)
        }
    };
    checked.map_err(|why| {
        tracing::debug!(%why, "oci simulator rejected a signature");
        not_authenticated(&format!(": {why}"))
    })
}

/// Decides, before the handler runs, whether this request fails on purpose.
fn inject_fault(sim: &Sim) -> Result<(), ApiError> {
    let f = &sim.opts.faults;
    let (reset, fail, which) =
        sim.rng(|r| (r.f64() < f.reset_rate, r.f64() < f.error_rate, r.bool()));
    // Drawn only when set, so the sequence of the other faults stays what it was for a seed.
    let throttled = f.throttle_rate > 0.0 && sim.rng(|r| r.f64()) < f.throttle_rate;
    let unauthenticated = f.auth_failure_rate > 0.0 && sim.rng(|r| r.f64()) < f.auth_failure_rate;
    if unauthenticated {
        return Err(not_authenticated("."));
    }
    if throttled {
        return Err(too_many().retry_after(1));
    }
    if reset {
        return Err(ApiError::Reset);
    }
    if fail {
        return Err(if which {
            internal("Internal error occurred.")
        } else {
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The service is currently unavailable.",
            )
        });
    }
    Ok(())
}
