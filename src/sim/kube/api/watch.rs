//! Watches: `GET ...?watch=1` streams `{"type": ..., "object": ...}` lines as objects change.
//!
//! As the API server does (Kubernetes API concepts, "Efficient detection of changes"):
//! without `resourceVersion` (or with `0`) the stream starts with a synthetic `ADDED` for
//! every object that exists; with `resourceVersion=N` it carries only changes after `N`.
//! `timeoutSeconds` ends the stream; `allowWatchBookmarks=true` adds `BOOKMARK` events
//! carrying just the current resourceVersion. The controllers of this simulator run
//! lazily (on each request), so the watch polls the store every 200 ms, which also runs
//! them and makes their transitions visible; each poll is diffed against the last one.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::error::ApiError;
use super::request::Query;
use super::route::Route;
use super::table::{self, Include};
use super::{Shared, read, with_store};
use crate::sim::kube::select;
use crate::sim::kube::store::{ResourceDef, now_ms};

/// How often the store is looked at while a watch is open.
const POLL: Duration = Duration::from_millis(200);
/// How often a bookmark is sent when the client allows them.
const BOOKMARK_EVERY: Duration = Duration::from_secs(2);
/// A watch without `timeoutSeconds` ends after this long (the API server picks a random
/// time between its `--min-request-timeout`, 1800 s, and twice that).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// What one watch looks at.
struct Target {
    plural: &'static str,
    kind: String,
    api_version: String,
    /// `None` for the read-only core resources, computed instead of stored.
    def: Option<ResourceDef>,
    ns: Option<String>,
    name: Option<String>,
    labels: Vec<select::Requirement>,
    fields: Vec<select::FieldReq>,
}

/// Objects a watch can see, by `namespace/name`.
type Snapshot = BTreeMap<String, Value>;

fn rv_of(obj: &Value) -> u64 {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The objects of `t` as of now (running the controllers first), and the store's resourceVersion.
fn snapshot(sh: &Shared, t: &Target) -> Result<(Snapshot, u64), ApiError> {
    with_store(sh, now_ms(), |store, _| {
        let objects: Vec<Value> = match &t.def {
            Some(def) => {
                let prefix = match &t.ns {
                    Some(ns) => format!("{}/{ns}/", def.plural),
                    None => format!("{}/", def.plural),
                };
                store
                    .objects
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, e)| e.object.clone())
                    .collect()
            }
            None => read::builtin_objects(store, sh, t.plural),
        };
        let s = |o: &Value, p: &str| {
            o.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let snap = objects
            .into_iter()
            .filter(|o| {
                t.ns.as_ref()
                    .is_none_or(|ns| s(o, "/metadata/namespace") == *ns)
                    && t.name.as_ref().is_none_or(|n| s(o, "/metadata/name") == *n)
                    && select::labels_match(&t.labels, o)
                    && select::fields_match(&t.fields, o)
            })
            .map(|o| {
                (
                    format!(
                        "{}/{}",
                        s(&o, "/metadata/namespace"),
                        s(&o, "/metadata/name")
                    ),
                    o,
                )
            })
            .collect();
        Ok((snap, store.resource_version))
    })
}

/// Starts a watch: checks the request, then streams events until the timeout, the client
/// going away, or the simulator shutting down.
pub(super) fn watch(
    sh: &Arc<Shared>,
    route: &Route,
    query: &Query,
    table: Option<Include>,
) -> Result<Response, ApiError> {
    let (plural, def, ns, name) = match route {
        Route::Collection(def, ns) => (def.plural, Some(*def), ns.clone(), None),
        Route::Object(def, ns, name) => {
            (def.plural, Some(*def), Some(ns.clone()), Some(name.clone()))
        }
        Route::Builtin(plural, ns, name) => (*plural, None, ns.clone(), name.clone()),
        _ => {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            ));
        }
    };
    let (kind, api_version) = match &def {
        Some(d) => (d.kind.to_string(), d.api_version()),
        None => super::discovery::find_builtin(plural)
            .map_or((String::new(), "v1".to_string()), |b| {
                (b.kind.to_string(), b.api_version())
            }),
    };
    let labels = match query.get("labelSelector") {
        Some(s) => select::parse_labels(s).map_err(ApiError::bad_request)?,
        None => Vec::new(),
    };
    let fields = match query.get("fieldSelector") {
        Some(s) => select::parse_fields(s, plural).map_err(ApiError::bad_request)?,
        None => Vec::new(),
    };
    let since = match query.get("resourceVersion") {
        None | Some("0") => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            // apimachinery's storage layer: `strconv.ParseUint` failure.
            ApiError::bad_request(format!("invalid resource version: \"{v}\""))
        })?),
    };
    let timeout = match query.get("timeoutSeconds") {
        Some(t) => Duration::from_secs(t.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("invalid value for timeoutSeconds: \"{t}\""))
        })?),
        None => DEFAULT_TIMEOUT,
    };
    let bookmarks = query.get("allowWatchBookmarks") == Some("true");
    let target = Target {
        plural,
        kind,
        api_version,
        def,
        ns,
        name,
        labels,
        fields,
    };
    let (first, _) = snapshot(sh, &target)?;
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let sh = Arc::clone(sh);
    tokio::spawn(async move {
        let mut stream = Stream {
            tx,
            target,
            table,
            headers_sent: false,
        };
        stream.run(&sh, first, since, timeout, bookmarks).await;
    });
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    }));
    let mut resp = Response::new(body);
    let ct = if table.is_some() {
        "application/json;as=Table;v=v1;g=meta.k8s.io"
    } else {
        "application/json"
    };
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    Ok(resp)
}

/// One open watch.
struct Stream {
    tx: mpsc::Sender<Bytes>,
    target: Target,
    table: Option<Include>,
    headers_sent: bool,
}

impl Stream {
    async fn run(
        &mut self,
        sh: &Shared,
        first: Snapshot,
        since: Option<u64>,
        timeout: Duration,
        bookmarks: bool,
    ) {
        // As the API server's watch cache: a resourceVersion older than its window is
        // answered with one ERROR event carrying 410 Expired, and the client relists
        // (Kubernetes API concepts, "410 Gone responses"; the watch cache's
        // `errors.NewResourceExpired("too old resource version: X (Y)")`).
        if let Some(rv) = since
            && rv < sh.watch_floor
        {
            let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "reason": "Expired", "code": 410,
                "message": format!("too old resource version: {rv} ({})", sh.watch_floor)});
            let _ = self.send_raw("ERROR", status).await;
            return;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut closing = sh.closing.clone();
        for obj in first.values() {
            let ty = match since {
                None => "ADDED",
                Some(rv) if rv_of(obj) > rv => "MODIFIED",
                Some(_) => continue,
            };
            if !self.send(ty, obj).await {
                return;
            }
        }
        let mut seen = first;
        let mut last_bookmark = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = tokio::time::sleep_until(deadline) => return,
                () = self.tx.closed() => return,
                _ = closing.changed() => return,
            }
            let (now, rv) = match snapshot(sh, &self.target) {
                Ok(s) => s,
                Err(_) => {
                    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Failure", "reason": "InternalError", "code": 500,
                        "message": "Internal error occurred: cannot read simulator state"});
                    let _ = self.send_raw("ERROR", status).await;
                    return;
                }
            };
            for (k, obj) in &now {
                let ty = match seen.get(k) {
                    None => "ADDED",
                    Some(old) if old != obj => "MODIFIED",
                    Some(_) => continue,
                };
                if !self.send(ty, obj).await {
                    return;
                }
            }
            for (k, obj) in &seen {
                if !now.contains_key(k) {
                    // The deleted object as last seen, at the resourceVersion of its deletion.
                    let mut gone = obj.clone();
                    if let Some(m) = gone.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.insert("resourceVersion".into(), json!(rv.to_string()));
                    }
                    if !self.send("DELETED", &gone).await {
                        return;
                    }
                }
            }
            seen = now;
            if bookmarks && last_bookmark.elapsed() >= BOOKMARK_EVERY {
                last_bookmark = tokio::time::Instant::now();
                let mark = json!({"kind": self.target.kind, "apiVersion": self.target.api_version,
                                  "metadata": {"resourceVersion": rv.to_string()}});
                if !self.send_raw("BOOKMARK", mark).await {
                    return;
                }
            }
        }
    }

    /// Sends one event for `obj`, as a one-row Table when the client asked for tables.
    async fn send(&mut self, ty: &str, obj: &Value) -> bool {
        let object = match self.table {
            Some(include) => {
                let mut t = table::to_table(self.target.plural, obj, include, now_ms());
                // As the API server: column definitions only with the first event.
                if self.headers_sent
                    && let Some(m) = t.as_object_mut()
                {
                    m.insert("columnDefinitions".into(), json!([]));
                }
                self.headers_sent = true;
                t
            }
            None => obj.clone(),
        };
        self.send_raw(ty, object).await
    }

    async fn send_raw(&self, ty: &str, object: Value) -> bool {
        let mut line = json!({"type": ty, "object": object}).to_string();
        line.push('\n');
        self.tx.send(Bytes::from(line)).await.is_ok()
    }
}
