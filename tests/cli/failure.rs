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
deploy: 1 instance: 1 failed in [T]
",
        )
        .stderr_unchecked()
        .run();
    let sent = posts.load(Ordering::SeqCst);
    assert!(sent < 5, "{sent} POSTs for one instance");
}

/// Serves `app` on 127.0.0.1 in `rt`; writes a kubeconfig for it and a project `p` on it.
fn kube_stand_in(rt: &tokio::runtime::Runtime, app: Router) -> Test {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    let kubeconfig = format!(
        "apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: \"http://{addr}\"}}}}]
users: [{{name: u, user: {{token: t0ken}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u, namespace: lab}}}}]
current-context: x
"
    );
    let t = Test::new()
        .file("kubeconfig", &kubeconfig)
        .file("specs/s.yaml", SPEC);
    let project = format!(
        "provider: kubevirt\nkubevirt: {{kubeconfig: {}, namespace: lab}}\n",
        t.path().join("kubeconfig").display()
    );
    t.put("projects/p.yaml", &project);
    t
}

/// A server that accepts the connection and never answers: the run ends by `--deadline`
/// with a clear message and exit 1, having sent a bounded number of requests.
#[test]
fn a_server_that_hangs_ends_by_the_deadline() {
    let rt = crate::harness::sim_runtime();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let app = Router::new().fallback(move || {
        let seen = counter.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
            StatusCode::OK
        }
    });
    let t = kube_stand_in(&rt, app);
    let started = std::time::Instant::now();
    t.cmd("p s deploy --deadline 3s")
        .status(1)
        .stderr(
            "error: deadline of 3s reached while the server had not answered; run again to go on (nothing is duplicated)\n",
        )
        .run();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        seen.load(Ordering::SeqCst) <= 4,
        "{} requests",
        seen.load(Ordering::SeqCst)
    );
}

/// A server that answers garbage: the error names it and the run ends at once, exit 1.
#[test]
fn a_server_that_answers_garbage_fails_at_once() {
    let rt = crate::harness::sim_runtime();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let app = Router::new().fallback(move || {
        let seen = counter.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            (StatusCode::OK, "<html>captive portal</html>")
        }
    });
    let t = kube_stand_in(&rt, app);
    let run = t
        .cmd("p s deploy --deadline 30s")
        .status(1)
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    assert!(
        run.stderr.contains("unexpected data") || run.stdout.contains("unexpected data"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(
        seen.load(Ordering::SeqCst) <= 4,
        "{} requests",
        seen.load(Ordering::SeqCst)
    );
}

/// `--replicas` has the spec's limit: a typo cannot make vauto allocate for ten million
/// instances (it aborted on a 900 MB allocation).
#[test]
fn replicas_on_the_command_line_are_bounded() {
    Test::new()
        .file("projects/p.yaml", "provider: oci\noci: {subnet: s}\n")
        .file(
            "specs/s.yaml",
            "shape: VM.Standard.E2.1.Micro\nimage: {id: ocid1.image.oc1..x}\n",
        )
        .args("p s plan --replicas 10000000")
        .status(2)
        .stderr("error: --replicas 10000000 is too many: at most 999\n")
        .run();
}
