//! HTTP layer of the Kubernetes simulator: routing, auth, faults, verbs and `Status` errors.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use super::KubeSimOptions;
use super::controller::{self, Ctx, desired_running};
use super::persist::Disk;
use super::select;
use super::store::{
    DVS, Entry, RESOURCES, ResourceDef, SimMeta, Store, VMIS, VMS, find_resource, key, new_uid,
    now_ms, stamp_new,
};
use super::validate::{self, Cause, Schemas};

/// Largest request body accepted.
const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// The user name reported in 403 messages for read-only tokens.
const READ_ONLY_USER: &str = "vauto-sim-readonly";
/// The KubeVirt subresource API group.
const SUBRESOURCES_GROUP: &str = "subresources.kubevirt.io";

/// State shared by all requests.
pub(crate) struct Shared {
    pub opts: KubeSimOptions,
    pub store: Mutex<Store>,
    pub disk: Disk,
    pub schemas: Option<Schemas>,
    pub fault_rng: Mutex<fastrand::Rng>,
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves a consistent-enough map; keep serving.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Builds the router: one fallback handler that parses Kubernetes paths itself.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

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
    fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    fn details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    fn not_found(def: &ResourceDef, name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} \"{name}\" not found", def.qualified_plural()),
        )
        .details(json!({"name": name, "group": def.group, "kind": def.plural}))
    }

    fn no_route() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        )
        .details(json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}))
    }

    fn conflict(def: &ResourceDef, name: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
            .details(json!({"name": name, "group": def.group, "kind": def.plural}))
    }

    fn invalid(def: &ResourceDef, name: &str, causes: &[Cause]) -> Self {
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

    fn internal(message: impl Into<String>) -> Self {
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

fn json_response(code: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// What a path names.
enum Route {
    Version,
    Healthz,
    ApiVersions,
    ApiGroups,
    ResourceList(String, String),
    Collection(ResourceDef, Option<String>),
    Object(ResourceDef, String, String),
    VmAction(String, String, String),
}

fn route(path: &str) -> Result<Route, ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Ok(Route::Version),
        ["healthz" | "readyz" | "livez"] => return Ok(Route::Healthz),
        ["api"] => return Ok(Route::ApiVersions),
        ["apis"] => return Ok(Route::ApiGroups),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::no_route()),
    };
    if group == SUBRESOURCES_GROUP && version == "v1" {
        return match rest {
            [] => Ok(Route::ResourceList(group.into(), version.into())),
            [
                "namespaces",
                ns,
                "virtualmachines",
                name,
                action @ ("start" | "stop" | "restart"),
            ] => Ok(Route::VmAction(
                ns.to_string(),
                name.to_string(),
                action.to_string(),
            )),
            _ => Err(ApiError::no_route()),
        };
    }
    if !RESOURCES
        .iter()
        .any(|r| r.group == group && r.version == version)
    {
        return Err(ApiError::no_route());
    }
    let def = |plural: &str| find_resource(group, version, plural).ok_or_else(ApiError::no_route);
    match rest {
        [] => Ok(Route::ResourceList(group.into(), version.into())),
        [plural] => Ok(Route::Collection(def(plural)?, None)),
        ["namespaces", ns, plural] => Ok(Route::Collection(def(plural)?, Some(ns.to_string()))),
        ["namespaces", ns, plural, name] => Ok(Route::Object(
            def(plural)?,
            ns.to_string(),
            name.to_string(),
        )),
        _ => Err(ApiError::no_route()),
    }
}

/// The RBAC verb of a request, for 403 messages and the read-only check.
fn verb(method: &Method, route: &Route) -> Result<&'static str, ApiError> {
    let not_allowed = || {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    };
    Ok(match (route, method.as_str()) {
        (Route::Collection(..), "GET") => "list",
        (Route::Collection(_, Some(_)), "POST") => "create",
        (Route::Collection(_, Some(_)), "DELETE") => "deletecollection",
        (Route::Object(..), "GET") => "get",
        (Route::Object(..), "PUT") => "update",
        (Route::Object(..), "PATCH") => "patch",
        (Route::Object(..), "DELETE") => "delete",
        (Route::VmAction(..), "PUT") => "update",
        (Route::Version | Route::Healthz | Route::ApiVersions | Route::ApiGroups, "GET") => "get",
        (Route::ResourceList(..), "GET") => "get",
        _ => return Err(not_allowed()),
    })
}

fn forbidden(route: &Route, verb: &str) -> ApiError {
    let (qualified, resource, group, ns, name) = match route {
        Route::Collection(def, ns) => (
            def.qualified_plural(),
            def.plural.to_string(),
            def.group,
            ns.clone(),
            None,
        ),
        Route::Object(def, ns, name) => (
            def.qualified_plural(),
            def.plural.to_string(),
            def.group,
            Some(ns.clone()),
            Some(name.clone()),
        ),
        Route::VmAction(ns, name, action) => (
            format!("virtualmachines.{SUBRESOURCES_GROUP}"),
            format!("virtualmachines/{action}"),
            SUBRESOURCES_GROUP,
            Some(ns.clone()),
            Some(name.clone()),
        ),
        _ => (String::new(), String::new(), "", None, None),
    };
    let subject = match &name {
        Some(n) => format!("{qualified} \"{n}\""),
        None => qualified,
    };
    let scope = match ns {
        Some(ns) => format!(" in the namespace \"{ns}\""),
        None => " at the cluster scope".to_string(),
    };
    ApiError::new(
        StatusCode::FORBIDDEN,
        "Forbidden",
        format!(
            "{subject} is forbidden: User \"{READ_ONLY_USER}\" cannot {verb} resource \"{resource}\" in API group \"{group}\"{scope}"
        ),
    )
    .details(json!({"name": name.unwrap_or_default(), "group": group, "kind": resource}))
}

/// Checks the bearer token; `Ok(true)` for a read-only token.
fn authenticate(opts: &KubeSimOptions, headers: &HeaderMap) -> Result<bool, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token {
        Some(t) if !opts.token.is_empty() && t == opts.token => Ok(false),
        Some(t) if opts.read_only_tokens.iter().any(|r| r == t) => Ok(true),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized",
        )),
    }
}

/// Decides, before anything changes, whether this request fails on purpose.
fn inject_fault(sh: &Shared) -> Result<(), ApiError> {
    let opts = &sh.opts;
    if opts.throttle_rate <= 0.0 && opts.error_rate <= 0.0 {
        return Ok(());
    }
    let mut rng = sh.fault_rng.lock().unwrap_or_else(|e| e.into_inner());
    let r = rng.f64();
    if r < opts.throttle_rate {
        let secs = opts.retry_after.as_secs().max(1);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        )
        .details(json!({"retryAfterSeconds": secs}));
        e.retry_after = Some(secs);
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

fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// Query parameters of one request.
struct Query(Vec<(String, String)>);

impl Query {
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn dry_run(&self) -> bool {
        self.get("dryRun") == Some("All")
    }
}

async fn handle(State(sh): State<Arc<Shared>>, req: Request) -> Response {
    if !sh.opts.latency.is_zero() {
        tokio::time::sleep(sh.opts.latency).await;
    }
    match serve(&sh, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn serve(sh: &Shared, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let route = route(parts.uri.path())?;
    let public = matches!(route, Route::Version | Route::Healthz);
    let read_only = if public {
        false
    } else {
        authenticate(&sh.opts, &parts.headers)?
    };
    let verb = verb(&parts.method, &route)?;
    if read_only && !matches!(verb, "get" | "list") {
        return Err(forbidden(&route, verb));
    }
    inject_fault(sh)?;
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "the request body is too large",
        )
    })?;
    let query = Query(parse_query(parts.uri.query()));
    if query.get("watch").is_some_and(|w| w != "false") {
        return Err(ApiError::bad_request(
            "watch is not supported by the simulator",
        ));
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();

    let now = now_ms();
    // Everything from here to the end is synchronous: the locks are never held while
    // sleeping for latency or waiting on the client.
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
        boot_ms: millis(sh.opts.boot_duration),
        stop_ms: millis(sh.opts.boot_duration) / 4,
        now,
    };
    let mut rng = fastrand::Rng::new();
    controller::reconcile(&mut store, &ctx, &mut rng);
    let req = Req {
        sh,
        query: &query,
        body: &bytes,
        content_type: &content_type,
        now,
    };
    let result = match (&route, parts.method.as_str()) {
        (Route::Version, _) => Ok(json_response(StatusCode::OK, &version())),
        (Route::Healthz, _) => Ok(Response::new(Body::from("ok"))),
        (Route::ApiVersions, _) => Ok(json_response(StatusCode::OK, &api_versions())),
        (Route::ApiGroups, _) => Ok(json_response(StatusCode::OK, &api_groups())),
        (Route::ResourceList(g, v), _) => Ok(json_response(StatusCode::OK, &resource_list(g, v))),
        (Route::Collection(def, ns), "GET") => list(&store, &req, def, ns.as_deref()),
        (Route::Collection(def, Some(ns)), "POST") => create(&mut store, &req, def, ns, &mut rng),
        (Route::Collection(def, Some(ns)), "DELETE") => {
            delete_collection(&mut store, &req, def, ns)
        }
        (Route::Object(def, ns, name), "GET") => get(&store, def, ns, name),
        (Route::Object(def, ns, name), "PUT") => replace(&mut store, &req, def, ns, name),
        (Route::Object(def, ns, name), "PATCH") => patch(&mut store, &req, def, ns, name, &mut rng),
        (Route::Object(def, ns, name), "DELETE") => delete(&mut store, &req, def, ns, name),
        (Route::VmAction(ns, name, action), _) => vm_action(&mut store, &req, ns, name, action),
        _ => Err(ApiError::no_route()),
    };
    // A mutation may already have happened; persist it even when the answer is an error.
    if let Err(e) = sh.disk.save(&mut store, &held) {
        tracing::warn!("kubernetes simulator: {e}");
        return Err(ApiError::internal("cannot save simulator state"));
    }
    result
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The parts of a request the verb handlers need.
struct Req<'a> {
    sh: &'a Shared,
    query: &'a Query,
    body: &'a [u8],
    content_type: &'a str,
    now: i64,
}

fn version() -> Value {
    json!({
        "major": "1", "minor": "31", "gitVersion": "v1.31.0+vauto-sim",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2024-08-13T00:00:00Z", "goVersion": "go1.22.5", "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn api_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
}

fn api_groups() -> Value {
    let mut groups: Vec<(&str, &str)> = RESOURCES
        .iter()
        .filter(|r| !r.group.is_empty())
        .map(|r| (r.group, r.version))
        .collect();
    groups.push((SUBRESOURCES_GROUP, "v1"));
    groups.dedup();
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(group: &str, version: &str) -> Value {
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = if group == SUBRESOURCES_GROUP {
        ["start", "stop", "restart"]
            .iter()
            .map(|a| json!({"name": format!("virtualmachines/{a}"), "singularName": "", "namespaced": true, "kind": "VirtualMachine", "verbs": ["update"]}))
            .collect()
    } else {
        RESOURCES
            .iter()
            .filter(|r| r.group == group && r.version == version)
            .map(|r| {
                json!({"name": r.plural, "singularName": r.kind.to_lowercase(), "namespaced": true, "kind": r.kind,
                       "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update"]})
            })
            .collect()
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

fn get(store: &Store, def: &ResourceDef, ns: &str, name: &str) -> Result<Response, ApiError> {
    match store.objects.get(&key(def.plural, ns, name)) {
        Some(e) => Ok(json_response(StatusCode::OK, &e.object)),
        None => Err(ApiError::not_found(def, name)),
    }
}

/// The JSON inside a continue token (shaped like the API server's own).
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: u64,
    start: String,
    iat: i64,
}

fn expired() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
    )
}

fn decode_continue(
    token: &str,
    store: &Store,
    prefix: &str,
    req: &Req<'_>,
) -> Result<String, ApiError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| expired())?;
    let t: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| expired())?;
    let ttl = i64::try_from(req.sh.opts.continue_ttl.as_millis()).unwrap_or(i64::MAX);
    let start = t.start.trim_end_matches('\u{0}').to_string();
    if t.v != "meta.k8s.io/v1"
        || t.rv > store.resource_version
        || req.now.saturating_sub(t.iat) > ttl
        || !start.starts_with(prefix)
    {
        return Err(expired());
    }
    Ok(start)
}

fn selectors(
    req: &Req<'_>,
    def: &ResourceDef,
) -> Result<(Vec<select::Requirement>, Vec<select::FieldReq>), ApiError> {
    let labels = match req.query.get("labelSelector") {
        Some(s) => select::parse_labels(s).map_err(ApiError::bad_request)?,
        None => Vec::new(),
    };
    let fields = match req.query.get("fieldSelector") {
        Some(s) => select::parse_fields(s, def.plural).map_err(ApiError::bad_request)?,
        None => Vec::new(),
    };
    Ok((labels, fields))
}

fn list(
    store: &Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: Option<&str>,
) -> Result<Response, ApiError> {
    let prefix = match ns {
        Some(ns) => format!("{}/{ns}/", def.plural),
        None => format!("{}/", def.plural),
    };
    let (labels, fields) = selectors(req, def)?;
    let start = match req.query.get("continue") {
        Some(t) => Some(decode_continue(t, store, &prefix, req)?),
        None => None,
    };
    let limit = match req.query.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        None => 0,
    };
    let matched: Vec<(&String, &Entry)> = store
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| start.as_ref().is_none_or(|s| k.as_str() > s.as_str()))
        .filter(|(_, e)| select::labels_match(&labels, &e.object))
        .filter(|(_, e)| select::fields_match(&fields, &e.object))
        .collect();
    let mut meta = json!({"resourceVersion": store.resource_version.to_string()});
    let items: Vec<Value> = if limit > 0 && matched.len() > limit {
        let last = matched[limit - 1].0.clone();
        let token = ContinueToken {
            v: "meta.k8s.io/v1".into(),
            rv: store.resource_version,
            start: format!("{last}\u{0}"),
            iat: req.now,
        };
        let raw = serde_json::to_vec(&token).map_err(|e| ApiError::internal(e.to_string()))?;
        if let Some(m) = meta.as_object_mut() {
            m.insert(
                "continue".into(),
                json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)),
            );
            // As the API server: no count when a selector makes it expensive.
            if labels.is_empty() && fields.is_empty() {
                m.insert("remainingItemCount".into(), json!(matched.len() - limit));
            }
        }
        matched[..limit]
            .iter()
            .map(|(_, e)| e.object.clone())
            .collect()
    } else {
        matched.iter().map(|(_, e)| e.object.clone()).collect()
    };
    let body = json!({
        "kind": format!("{}List", def.kind),
        "apiVersion": def.api_version(),
        "metadata": meta,
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// Parses a request body as JSON, or YAML for server-side apply.
fn parse_body(req: &Req<'_>) -> Result<Value, ApiError> {
    let v: Value = match serde_json::from_slice(req.body) {
        Ok(v) => v,
        Err(e) if req.content_type.contains("yaml") => {
            serde_yaml::from_slice(req.body).map_err(|y| {
                ApiError::bad_request(format!("error decoding yaml body: {y} (json: {e})"))
            })?
        }
        Err(e) => {
            return Err(ApiError::bad_request(format!(
                "error decoding json body: {e}"
            )));
        }
    };
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a json object",
        ));
    }
    Ok(v)
}

fn check_type(def: &ResourceDef, obj: &Value) -> Result<(), ApiError> {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind.is_empty() {
        return Err(ApiError::bad_request(
            "Object 'Kind' is missing in the request body",
        ));
    }
    if av != def.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            def.api_version()
        )));
    }
    if kind != def.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            def.kind
        )));
    }
    Ok(())
}

/// Builtin and schema checks; the object is judged without its server-owned `status`.
fn admit(sh: &Shared, def: &ResourceDef, obj: &Value) -> Result<(), ApiError> {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut causes = validate::builtin(def, obj);
    if let Some(schemas) = &sh.schemas {
        let mut judged = obj.clone();
        if def.status_subresource
            && let Some(m) = judged.as_object_mut()
        {
            m.remove("status");
        }
        causes.extend(schemas.check(def.kind, &judged));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        causes.truncate(10);
        Err(ApiError::invalid(def, name, &causes))
    }
}

fn create(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
    rng: &mut fastrand::Rng,
) -> Result<Response, ApiError> {
    let mut obj = parse_body(req)?;
    create_object(store, req, def, ns, &mut obj, rng)
}

fn create_object(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
    obj: &mut Value,
    rng: &mut fastrand::Rng,
) -> Result<Response, ApiError> {
    check_type(def, obj)?;
    if let Some(obj_ns) = obj.pointer("/metadata/namespace").and_then(Value::as_str)
        && obj_ns != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let has_name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !has_name {
        let generate = obj
            .pointer("/metadata/generateName")
            .and_then(Value::as_str)
            .map(str::to_string);
        match (
            generate,
            obj.pointer_mut("/metadata").and_then(Value::as_object_mut),
        ) {
            (Some(g), Some(meta)) => {
                let suffix: String = (0..5).map(|_| rng.lowercase()).collect();
                meta.insert("name".into(), json!(format!("{g}{suffix}")));
            }
            _ => {
                let causes = [Cause {
                    field: "metadata.name".into(),
                    message: "Required value: name or generateName is required".into(),
                }];
                return Err(ApiError::invalid(def, "", &causes));
            }
        }
    }
    if def.status_subresource
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }
    admit(req.sh, def, obj)?;
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let k = key(def.plural, ns, &name);
    if store.objects.contains_key(&k) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", def.qualified_plural()),
        )
        .details(json!({"name": name, "group": def.group, "kind": def.plural})));
    }
    stamp_new(obj, def, ns, new_uid(rng), req.now);
    let mut entry = Entry {
        plural: def.plural.into(),
        namespace: ns.into(),
        name: name.clone(),
        object: obj.clone(),
        sim: SimMeta {
            created_ms: req.now,
            ..SimMeta::default()
        },
    };
    if *def == DVS {
        entry.sim.import_ms = millis(req.sh.opts.import_duration);
    }
    if *def == VMS && desired_running(obj) {
        entry.sim.run_since_ms = Some(req.now);
    }
    if req.query.dry_run() {
        return Ok(json_response(StatusCode::CREATED, &entry.object));
    }
    let k = store.put(entry);
    if *def == VMS {
        create_template_volumes(store, req, ns, &k, rng);
    }
    let created = store
        .objects
        .get(&k)
        .map(|e| e.object.clone())
        .unwrap_or_default();
    Ok(json_response(StatusCode::CREATED, &created))
}

/// Creates the DataVolumes of a VM's `dataVolumeTemplates`, owned by the VM.
fn create_template_volumes(
    store: &mut Store,
    req: &Req<'_>,
    ns: &str,
    vm_key: &str,
    rng: &mut fastrand::Rng,
) {
    let Some(vm) = store.objects.get(vm_key).map(|e| e.object.clone()) else {
        return;
    };
    let templates = vm
        .pointer("/spec/dataVolumeTemplates")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for t in templates {
        let Some(name) = t.pointer("/metadata/name").and_then(Value::as_str) else {
            continue;
        };
        let k = key(DVS.plural, ns, name);
        if store.objects.contains_key(&k) {
            continue;
        }
        let mut obj = json!({
            "apiVersion": DVS.api_version(),
            "kind": DVS.kind,
            "metadata": {
                "name": name,
                "labels": t.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({})),
                "ownerReferences": [{
                    "apiVersion": VMS.api_version(), "kind": VMS.kind,
                    "name": vm.pointer("/metadata/name").cloned().unwrap_or_default(),
                    "uid": super::store::uid_of(&vm), "controller": true, "blockOwnerDeletion": true,
                }],
            },
            "spec": t.get("spec").cloned().unwrap_or_else(|| json!({})),
        });
        stamp_new(&mut obj, &DVS, ns, new_uid(rng), req.now);
        store.put(Entry {
            plural: DVS.plural.into(),
            namespace: ns.into(),
            name: name.into(),
            object: obj,
            sim: SimMeta {
                created_ms: req.now,
                import_ms: millis(req.sh.opts.import_duration),
                ..SimMeta::default()
            },
        });
    }
}

/// Keeps server-owned fields, bumps generation on spec changes, validates and stores.
fn finish_update(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    old: &Entry,
    mut obj: Value,
) -> Result<Response, ApiError> {
    check_type(def, &obj)?;
    let body_name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or(&old.name);
    if body_name != old.name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            old.name
        )));
    }
    let current_rv = old
        .object
        .pointer("/metadata/resourceVersion")
        .cloned()
        .unwrap_or_default();
    if let Some(rv) = obj.pointer("/metadata/resourceVersion")
        && !rv.is_null()
        && *rv != current_rv
    {
        return Err(ApiError::conflict(
            def,
            &old.name,
            format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                def.qualified_plural(),
                old.name
            ),
        ));
    }
    let old_meta = old.object.get("metadata").cloned().unwrap_or_default();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
        ] {
            if let Some(v) = old_meta.get(f) {
                meta.insert(f.into(), v.clone());
            }
        }
    }
    if def.status_subresource
        && let Some(m) = obj.as_object_mut()
    {
        match old.object.get("status") {
            Some(s) => m.insert("status".into(), s.clone()),
            None => m.remove("status"),
        };
    }
    if obj.get("spec") != old.object.get("spec")
        && !def.group.is_empty()
        && let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut)
    {
        let g = meta.get("generation").and_then(Value::as_i64).unwrap_or(1);
        meta.insert("generation".into(), json!(g + 1));
    }
    admit(req.sh, def, &obj)?;
    if req.query.dry_run() {
        return Ok(json_response(StatusCode::OK, &obj));
    }
    let mut entry = old.clone();
    entry.object = obj;
    if *def == VMS {
        vm_run_transition(store, &mut entry, desired_running(&old.object), req.now);
    }
    let k = store.put(entry);
    let stored = store
        .objects
        .get(&k)
        .map(|e| e.object.clone())
        .unwrap_or_default();
    Ok(json_response(StatusCode::OK, &stored))
}

/// Records when a VM was asked to run or stop; a new run replaces any stopping VMI.
fn vm_run_transition(store: &mut Store, entry: &mut Entry, was_running: bool, now: i64) {
    let running = desired_running(&entry.object);
    if running && !was_running {
        entry.sim.run_since_ms = Some(now);
        entry.sim.stop_since_ms = None;
        store.remove_cascade(&key(VMIS.plural, &entry.namespace, &entry.name));
    } else if !running && was_running {
        entry.sim.stop_since_ms = Some(now);
    }
}

fn replace(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> Result<Response, ApiError> {
    let obj = parse_body(req)?;
    let old = store
        .objects
        .get(&key(def.plural, ns, name))
        .cloned()
        .ok_or_else(|| ApiError::not_found(def, name))?;
    finish_update(store, req, def, &old, obj)
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            if let Some(t) = target.as_object_mut() {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn patch(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
    rng: &mut fastrand::Rng,
) -> Result<Response, ApiError> {
    let ct = req.content_type;
    let apply = ct.starts_with("application/apply-patch");
    if !(apply
        || ct.starts_with("application/merge-patch+json")
        || ct.starts_with("application/strategic-merge-patch+json"))
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {ct:?})"
            ),
        ));
    }
    let body = parse_body(req)?;
    let Some(old) = store.objects.get(&key(def.plural, ns, name)).cloned() else {
        if apply {
            let mut obj = body;
            return create_object(store, req, def, ns, &mut obj, rng);
        }
        return Err(ApiError::not_found(def, name));
    };
    let mut obj = old.object.clone();
    merge_patch(&mut obj, &body);
    finish_update(store, req, def, &old, obj)
}

fn delete(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> Result<Response, ApiError> {
    let k = key(def.plural, ns, name);
    let Some(entry) = store.objects.get(&k).cloned() else {
        return Err(ApiError::not_found(def, name));
    };
    if !req.query.dry_run() {
        store.remove_cascade(&k);
    }
    Ok(json_response(StatusCode::OK, &entry.object))
}

fn delete_collection(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
) -> Result<Response, ApiError> {
    let (labels, fields) = selectors(req, def)?;
    let prefix = format!("{}/{ns}/", def.plural);
    let doomed: Vec<(String, Value)> = store
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(_, e)| select::labels_match(&labels, &e.object))
        .filter(|(_, e)| select::fields_match(&fields, &e.object))
        .map(|(k, e)| (k.clone(), e.object.clone()))
        .collect();
    if !req.query.dry_run() {
        for (k, _) in &doomed {
            store.remove_cascade(k);
        }
    }
    let body = json!({
        "kind": format!("{}List", def.kind),
        "apiVersion": def.api_version(),
        "metadata": {"resourceVersion": store.resource_version.to_string()},
        "items": doomed.into_iter().map(|(_, o)| o).collect::<Vec<_>>(),
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// KubeVirt's start / stop / restart subresources (202 Accepted with an empty body).
fn vm_action(
    store: &mut Store,
    req: &Req<'_>,
    ns: &str,
    name: &str,
    action: &str,
) -> Result<Response, ApiError> {
    let k = key(VMS.plural, ns, name);
    let Some(mut entry) = store.objects.get(&k).cloned() else {
        return Err(ApiError::not_found(&VMS, name));
    };
    let running = desired_running(&entry.object);
    if req.query.dry_run() {
        return match (action, running) {
            ("start", true) => Err(ApiError::conflict(&VMS, name, "VM is already running")),
            ("stop" | "restart", false) => Err(ApiError::conflict(&VMS, name, "VM is not running")),
            _ => Ok(accepted()),
        };
    }
    let want = match (action, running) {
        ("start", true) => return Err(ApiError::conflict(&VMS, name, "VM is already running")),
        ("stop" | "restart", false) => {
            return Err(ApiError::conflict(&VMS, name, "VM is not running"));
        }
        ("start", false) => true,
        ("restart", true) => {
            // A restart is a stop and an immediate start: the new VMI boots from scratch.
            store.remove_cascade(&key(VMIS.plural, ns, name));
            entry.sim.run_since_ms = Some(req.now);
            entry.sim.stop_since_ms = None;
            store.objects.insert(k.clone(), entry);
            store.bump(&k);
            return Ok(accepted());
        }
        _ => false,
    };
    let uses_running = entry.object.pointer("/spec/runStrategy").is_none()
        && entry.object.pointer("/spec/running").is_some();
    if let Some(spec) = entry.object.get_mut("spec").and_then(Value::as_object_mut) {
        if uses_running {
            spec.insert("running".into(), json!(want));
        } else {
            spec.insert(
                "runStrategy".into(),
                json!(if want { "Always" } else { "Halted" }),
            );
        }
    }
    if let Some(meta) = entry
        .object
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
    {
        let g = meta.get("generation").and_then(Value::as_i64).unwrap_or(1);
        meta.insert("generation".into(), json!(g + 1));
    }
    vm_run_transition(store, &mut entry, running, req.now);
    store.objects.insert(k.clone(), entry);
    store.bump(&k);
    Ok(accepted())
}

fn accepted() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::ACCEPTED;
    r
}
