//! Failure behaviour against stand-in servers that answer the way a real API server does where
//! the built-in simulators are lenient (issue: no retry storms, waits that end).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;

use crate::harness::Test;

const SPEC: &str = "replicas: 1
cpu: 1
memory: 1Gi
disk: {size: 10Gi, source: {registry: \"docker://registry.local/rhel9:9.4\"}}
";

/// A Kubernetes API server whose namespace `lab-vmz` does not exist: lists are empty, every
/// create answers the real 404 Status (`namespaces "lab-vmz" not found`).
fn missing_namespace_server(posts: Arc<AtomicUsize>) -> Router {
    Router::new().fallback(move |method: Method| {
        let posts = posts.clone();
        async move {
            if method == Method::POST {
                posts.fetch_add(1, Ordering::SeqCst);
                let status = serde_json::json!({
                    "kind": "Status", "apiVersion": "v1", "metadata": {},
                    "status": "Failure", "message": "namespaces \"lab-vmz\" not found",
                    "reason": "NotFound", "details": {"name": "lab-vmz", "kind": "namespaces"},
                    "code": 404
                });
                (StatusCode::NOT_FOUND, axum::Json(status)).into_response()
            } else {
                let list = serde_json::json!({
                    "kind": "List", "apiVersion": "v1",
                    "metadata": {"resourceVersion": "1"}, "items": []
                });
                (StatusCode::OK, axum::Json(list)).into_response()
            }
        }
    })
}

/// A typo in the namespace is fatal at once with the fix, not a storm of POSTs (was ~1,600
/// per second, forever).
#[test]
fn a_missing_namespace_fails_at_once_with_the_fix() {
    let rt = crate::harness::sim_runtime();
    let posts = Arc::new(AtomicUsize::new(0));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = missing_namespace_server(posts.clone());
    rt.spawn(async move { axum::serve(listener, app).await });
    let kubeconfig = format!(
        "apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: \"http://{addr}\"}}}}]
users: [{{name: u, user: {{token: t0ken}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u, namespace: lab-vmz}}}}]
current-context: x
"
    );
    let t = Test::new()
        .file("kubeconfig", &kubeconfig)
        .file("specs/s.yaml", SPEC);
    let project = format!(
        "provider: kubevirt\nkubevirt: {{kubeconfig: {}, namespace: lab-vmz}}\n",
        t.path().join("kubeconfig").display()
    );
    t.put("projects/p.yaml", &project);
    t.cmd("p s deploy --parallel 1")
        .status(1)
        .stdout(
            "[FAILED] Instance s-01: namespace `lab-vmz` does not exist: create it (`oc new-project lab-vmz`) or fix `kubevirt.namespace`
deploy: 1 failed in [T]
",
        )
        .stderr_unchecked()
        .run();
    let sent = posts.load(Ordering::SeqCst);
    assert!(sent < 5, "{sent} POSTs for one instance");
}
