//! HTTP layer of the Kubernetes simulator: the router and the pipeline every request goes through.

mod admission;
mod auth;
mod create;
mod delete;
mod discovery;
mod error;
mod faults;
mod namespaces;
mod openapi;
mod openapi_pb;
mod protobuf;
mod read;
mod request;
mod route;
mod subresources;
mod table;
mod update;
mod watch;

pub(crate) use read::{fake_uid, launcher_pod_uid};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::request::Parts;
use http::{StatusCode, header};

use super::KubeSimOptions;
use super::controller::{self, Ctx};
use super::persist::Disk;
use super::store::{NAMESPACES, Store, now_ms};
use super::validate::Schemas;

use error::{ApiError, json_response};
use request::{Query, Req, parse_query};
use route::Route;

/// Largest request body accepted: the API server's default `--max-resource-write-bytes`
/// (3 MiB, apiserver/pkg/server/config.go MaxRequestBodyBytes).
const BODY_LIMIT: usize = 3 * 1024 * 1024;
/// The KubeVirt subresource API group.
const SUBRESOURCES_GROUP: &str = "subresources.kubevirt.io";

/// State shared by all requests.
pub(crate) struct Shared {
    pub opts: KubeSimOptions,
    pub store: Mutex<Store>,
    pub disk: Disk,
    pub schemas: &'static Schemas,
    pub fault_rng: Mutex<fastrand::Rng>,
    /// Becomes `true` when the simulator shuts down, so open watches end.
    pub closing: tokio::sync::watch::Receiver<bool>,
    /// The resourceVersion the store had when this process started: a watch from an
    /// older one cannot be served (its changes were never seen here) and gets 410 Gone.
    pub watch_floor: u64,
    /// The resourceVersion at which the controllers last found the store settled
    /// (`controller::settled`), `u64::MAX` for none: until a write, nothing is due.
    pub settled_at: AtomicU64,
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves a consistent-enough map; keep serving.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Makes the built-in and configured namespaces exist (see `namespaces`).
pub(crate) fn seed_namespaces(store: &mut Store, extra: &[String]) -> bool {
    namespaces::seed(store, extra, &mut fastrand::Rng::new())
}

/// Builds the router: one fallback handler that parses Kubernetes paths itself.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

async fn handle(State(sh): State<Arc<Shared>>, req: Request) -> Result<Response, ApiError> {
    if !sh.opts.latency.is_zero() {
        tokio::time::sleep(sh.opts.latency).await;
    }
    serve(&sh, req).await
}

/// The resource a GET reads, for Table answers and watches.
fn read_plural(route: &Route) -> Option<&'static str> {
    match route {
        Route::Collection(def, _) | Route::Object(def, _, _) => Some(def.plural),
        Route::Builtin(plural, _, _) => Some(plural),
        Route::Namespaces | Route::Namespace(_) => Some("namespaces"),
        _ => None,
    }
}

/// Route, authenticate, authorise, inject faults, read the body; then run the verb.
async fn serve(sh: &Arc<Shared>, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let route = route::route(parts.uri.path())?;
    let read_only = authorize(sh, &parts, &route)?;
    faults::inject_fault(sh)?;
    // apiserver handlers/rest.go limitedReadBody: errors.NewRequestEntityTooLargeError.
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {BODY_LIMIT}"),
        )
    })?;
    let query = Query(parse_query(parts.uri.query()));
    let is_get = parts.method == http::Method::GET;
    let table = match read_plural(&route) {
        Some(plural) if is_get && table::wants_table(&parts.headers) => {
            Some((plural, table::Include::parse(query.get("includeObject"))?))
        }
        _ => None,
    };
    if is_get && query.get("watch").is_some_and(|w| w != "false" && w != "0") {
        return watch::watch(sh, &route, &query, table.map(|t| t.1));
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let if_none_match = parts
        .headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let req = Req {
        sh,
        query: &query,
        body: &bytes,
        content_type,
        accept,
        if_none_match,
        read_only,
        now: now_ms(),
    };
    // Everything from here on is synchronous: the locks are never held while
    // sleeping for latency or waiting on the client.
    let resp = run_locked(&req, &route, parts.method.as_str())?;
    match table {
        Some((plural, include)) => table::convert(resp, plural, include, req.now).await,
        None => Ok(resp),
    }
}

/// Checks the token (public routes need none) and refuses writes to read-only tokens;
/// `Ok(true)` for a read-only caller.
fn authorize(sh: &Shared, parts: &Parts, route: &Route) -> Result<bool, ApiError> {
    let public = matches!(route, Route::Version | Route::Healthz);
    let read_only = if public {
        false
    } else {
        auth::authenticate(&sh.opts, &parts.headers)?
    };
    let verb = route::verb(&parts.method, route)?;
    // Every authenticated user may ask what it may do (RBAC's system:basic-user role).
    if read_only && !matches!(verb, "get" | "list") && !matches!(route, Route::AccessReview) {
        return Err(auth::forbidden(route, verb));
    }
    Ok(read_only)
}

/// Under the store and disk locks: reload, reconcile, run the verb, persist.
fn run_locked(req: &Req<'_>, route: &Route, method: &str) -> Result<Response, ApiError> {
    with_store(req.sh, req.now, |store, rng| {
        dispatch(store, req, route, method, rng)
    })
}

/// Runs `f` on the up-to-date store under the store and disk locks: reload what other
/// processes wrote, run the lazy controllers as of `now`, then persist any change.
pub(super) fn with_store<T>(
    sh: &Shared,
    now: i64,
    f: impl FnOnce(&mut Store, &mut fastrand::Rng) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut store = sh.store();
    let held = sh.disk.lock().map_err(|e| {
        tracing::warn!("kubernetes simulator: {e}");
        ApiError::internal("cannot lock simulator state")
    })?;
    if let Err(e) = sh.disk.refresh(&mut store, &held) {
        tracing::warn!("kubernetes simulator: {e}");
        return Err(ApiError::internal("cannot read simulator state"));
    }
    let ctx = Ctx {
        nodes: &sh.opts.nodes,
        storage_classes: &sh.opts.storage_classes,
        boot_ms: millis(sh.opts.boot_duration),
        stop_ms: millis(sh.opts.boot_duration) / 4,
        guest_agent: sh.opts.guest_agent,
        now,
    };
    let mut rng = fastrand::Rng::new();
    // Every write bumps the resourceVersion (another process's too, once refreshed): a store
    // settled at this one has nothing due, whatever the time.
    if sh.settled_at.load(Ordering::Relaxed) != store.resource_version {
        controller::reconcile(&mut store, &ctx, &mut rng);
        let settled = controller::settled(&store).then_some(store.resource_version);
        sh.settled_at
            .store(settled.unwrap_or(u64::MAX), Ordering::Relaxed);
    }
    let result = f(&mut store, &mut rng);
    // A mutation may already have happened; persist it even when the answer is an error.
    if let Err(e) = sh.disk.save(&mut store, &held) {
        tracing::warn!("kubernetes simulator: {e}");
        return Err(ApiError::internal("cannot save simulator state"));
    }
    result
}

/// The handler of each route and method.
fn dispatch(
    store: &mut Store,
    req: &Req<'_>,
    route: &Route,
    method: &str,
    rng: &mut fastrand::Rng,
) -> Result<Response, ApiError> {
    match (route, method) {
        (Route::Version, _) => Ok(json_response(StatusCode::OK, &discovery::version())),
        (Route::Healthz, _) => Ok(Response::new(Body::from("ok"))),
        (Route::ApiVersions, _) => Ok(json_response(StatusCode::OK, &discovery::api_versions())),
        (Route::ApiGroups, _) => Ok(json_response(StatusCode::OK, &discovery::api_groups())),
        (Route::ResourceList(g, v), _) => Ok(json_response(
            StatusCode::OK,
            &discovery::resource_list(g, v),
        )),
        (Route::Collection(def, ns), "GET") => read::list(store, req, def, ns.as_deref()),
        (Route::OpenApiV2, _) => openapi::v2(req.accept, req.if_none_match),
        (Route::OpenApiV3Discovery, _) => openapi::v3_discovery(),
        (Route::OpenApiV3(g, v), _) => openapi::v3(g, v, req.accept),
        (Route::AccessReview, _) => auth::self_subject_access_review(req),
        (Route::Namespaces, "GET") => read::list(store, req, &NAMESPACES, None),
        (Route::Namespaces, "POST") => namespaces::create(store, req, rng),
        (Route::Namespace(name), "GET") => read::get(store, &NAMESPACES, "", name),
        (Route::Namespace(name), "PUT") => update::replace(store, req, &NAMESPACES, "", name),
        (Route::Namespace(name), "PATCH") => update::patch(store, req, &NAMESPACES, "", name, rng),
        (Route::Namespace(name), "DELETE") => namespaces::delete(store, req, name),
        (Route::Collection(def, Some(ns)), "POST") => create::create(store, req, def, ns, rng),
        (Route::Collection(def, Some(ns)), "DELETE") => {
            delete::delete_collection(store, req, def, ns)
        }
        (Route::Object(def, ns, name), "GET") => read::get(store, def, ns, name),
        (Route::Object(def, ns, name), "PUT") => update::replace(store, req, def, ns, name),
        (Route::Object(def, ns, name), "PATCH") => update::patch(store, req, def, ns, name, rng),
        (Route::Object(def, ns, name), "DELETE") => delete::delete(store, req, def, ns, name),
        (Route::Builtin(plural, ns, name), "GET") => {
            read::builtin(store, req, plural, ns.as_deref(), name.as_deref())
        }
        (Route::VmAction(ns, name, action), _) => {
            subresources::vm_action(store, req, ns, name, action)
        }
        _ => Err(ApiError::no_route()),
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
