//! The daemon's HTTP endpoint: `/healthz` and Prometheus `/metrics`, served with axum.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::any;

use super::metrics::Metrics;
use crate::error::Error;

/// The Prometheus text format 0.0.4, as the hand-written server answered.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// The routes; any method answers, as before the move to axum.
fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", any(healthz))
        .route("/metrics", any(render_metrics))
        .fallback(not_found)
        .with_state(metrics)
}

/// Serves `/healthz` and `/metrics` on `addr` in the background; fails if `addr` cannot be bound.
pub(super) async fn serve(addr: &str, metrics: Arc<Metrics>) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Usage(format!("cannot listen on `{addr}`: {e}")))?;
    let app = router(metrics);
    tokio::spawn(async move {
        // axum retries failed accepts itself; an error here means the listener is gone.
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!("the /metrics server stopped: {e}");
        }
    });
    Ok(())
}

async fn healthz() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain")], "ok\n")
}

async fn render_metrics(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], m.render())
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain")],
        "not found\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get(path: &str) -> (StatusCode, String, String) {
        let app = router(Arc::new(Metrics::new()));
        let resp = app
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let ctype = resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, ctype, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn healthz_metrics_and_anything_else() {
        assert_eq!(
            get("/healthz").await,
            (StatusCode::OK, "text/plain".into(), "ok\n".into())
        );
        let (status, ctype, body) = get("/metrics").await;
        assert_eq!(
            (status, ctype.as_str()),
            (StatusCode::OK, METRICS_CONTENT_TYPE)
        );
        assert!(body.contains("vauto_up 1\n"), "{body}");
        assert_eq!(
            get("/nope").await,
            (
                StatusCode::NOT_FOUND,
                "text/plain".into(),
                "not found\n".into()
            )
        );
    }

    #[tokio::test]
    async fn serves_on_a_real_socket_and_refuses_a_bad_address() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        serve(&addr, Arc::new(Metrics::new())).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
        sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        sock.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nok\n"), "{answer}");
        let e = serve("nonsense", Arc::new(Metrics::new()))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("cannot listen on `nonsense`"), "{e}");
    }
}
