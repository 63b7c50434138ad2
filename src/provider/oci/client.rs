//! Async OCI REST client (Compute and Identity), every request signed, every error classified.

use std::collections::BTreeMap;
use std::time::Duration;

use http::Method;
use http::header::{ACCEPT, HOST, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::config::OciConnection;
use super::signer::Signer;
use crate::model::{ErrorClass, ErrorCode, ProviderError};

/// API version prefix of every Compute and Identity path.
pub(crate) const API_VERSION: &str = "/20160918";
/// Message prefix of the error for 409 `InvalidatedRetryToken`.
pub(crate) const INVALIDATED_RETRY_TOKEN: &str = "the retry token was invalidated";
/// Default per-request timeout.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Upper bound on pages followed in one list call, so a misbehaving server cannot loop us forever.
const MAX_PAGES: usize = 1000;

/// Characters Python's `quote_plus` leaves alone: letters, digits and `_.-~`.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');
/// Path parameters as `urllib.parse.quote` (default `safe='/'`) encodes them.
const PATH: &AsciiSet = &FORM.remove(b'/');

/// Form-style query encoding as the OCI SDK does it (`urlencode`): space → `+`,
/// `:` → `%3A`, `/` → `%2F`, parameters in the given order.
pub(crate) fn encode_query(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", form(k), form(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn form(s: &str) -> String {
    utf8_percent_encode(s, FORM).to_string().replace("%20", "+")
}

/// One path parameter (an OCID), encoded as the SDK does.
pub(crate) fn encode_path(s: &str) -> String {
    utf8_percent_encode(s, PATH).to_string()
}

/// Maps an OCI error response to the engine's error class (DESIGN 4.3), once, here.
///
/// `code` and `message` come from the JSON error body; `retry_after` from the header.
pub(crate) fn classify(
    status: u16,
    code: &str,
    message: &str,
    retry_after: Option<Duration>,
) -> ProviderError {
    let server = message.trim().trim_end_matches('.');
    let lower = server.to_ascii_lowercase();
    let detail = if code.is_empty() {
        format!("{status}: {server}")
    } else {
        format!("{status} `{code}`: {server}")
    };
    let code_of = match (status, code) {
        (409, "InvalidatedRetryToken") => ErrorCode::RetryTokenInvalidated,
        (404, "NotAuthorizedOrNotFound") => ErrorCode::NotAuthorizedOrNotFound,
        _ => ErrorCode::Unspecified,
    };
    let (class, text) = match (status, code) {
        (500, _) if lower.contains("out of host capacity") || lower.contains("out of capacity") => {
            (ErrorClass::Capacity, format!("out of capacity ({detail})"))
        }
        (429, _) => (
            ErrorClass::Throttled,
            format!("throttled by OCI ({detail})"),
        ),
        (409, "InvalidatedRetryToken") => (
            ErrorClass::Transient,
            format!("{INVALIDATED_RETRY_TOKEN}, a new one will be used ({detail})"),
        ),
        (409, "IncorrectState" | "Conflict") => (
            ErrorClass::Transient,
            format!("the resource is busy ({detail})"),
        ),
        (409, "AlreadyExists") => (
            ErrorClass::AlreadyExists,
            format!("already exists ({detail})"),
        ),
        (401, _) => (
            ErrorClass::Auth,
            format!("not authenticated: {API_KEY_401_HINT} ({detail})"),
        ),
        (403, _) => (
            ErrorClass::Auth,
            format!("not allowed: check the policy for this user and compartment ({detail})"),
        ),
        (404, _) if lower.contains("shape") && lower.contains("not found") => (
            ErrorClass::NotFound,
            format!("shape not available here ({detail})"),
        ),
        (404, "NotAuthorizedOrNotFound") => (
            ErrorClass::Auth,
            format!(
                "not found or not authorized: check the compartment OCID and the policy that lets this user manage instances there ({detail})"
            ),
        ),
        (404, _) => (ErrorClass::NotFound, format!("not found ({detail})")),
        (400, "LimitExceeded" | "QuotaExceeded") => (
            ErrorClass::Quota,
            format!("service limit reached ({detail})"),
        ),
        (400 | 413 | 412 | 422, _) => (ErrorClass::Invalid, format!("rejected by OCI ({detail})")),
        (s, _) if s >= 500 => (
            ErrorClass::Transient,
            format!("OCI server error ({detail})"),
        ),
        _ => (
            ErrorClass::Invalid,
            format!("unexpected answer from OCI ({detail})"),
        ),
    };
    let retry_after = if class == ErrorClass::Throttled || class == ErrorClass::Transient {
        retry_after
    } else {
        None
    };
    ProviderError::new(class, text)
        .with_code(code_of)
        .with_retry_after(retry_after)
}

/// What a 401 advises for an API key; other `oci.auth` modes replace it with their own.
const API_KEY_401_HINT: &str = "check the key, fingerprint and the clock";

/// A transport failure (no HTTP answer): timeouts, refused or reset connections are `Transient`.
fn classify_transport(e: &reqwest::Error, what: &str) -> ProviderError {
    let why = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed in transit"
    };
    // The error's own text can carry the URL but never credentials; keep only its kind.
    ProviderError::new(ErrorClass::Transient, format!("{what} {why}"))
}

/// Which API a request goes to.
#[derive(Debug, Clone, Copy)]
pub(super) enum Service {
    /// Compute (instances, instance pools, networking, images): `/20160918`.
    Iaas,
    /// Identity (availability domains): `/20160918`.
    Identity,
    /// Database (Autonomous Databases): `/20160918`.
    Database,
    /// Container Instances: `/20210415`.
    Containers,
}

impl Service {
    /// The API version path every request of this service starts with.
    fn version(self) -> &'static str {
        match self {
            Service::Containers => "/20210415",
            _ => API_VERSION,
        }
    }
}

/// An HTTP answer that was a success.
pub(super) struct Answer {
    /// Response headers (`opc-next-page`, `etag`, `opc-work-request-id` ...).
    pub(super) headers: HeaderMap,
    /// Response body.
    pub(super) body: Vec<u8>,
}

/// `shapeConfig` of an instance.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShapeConfig {
    /// OCPUs.
    pub ocpus: Option<f64>,
    /// Memory in GB.
    #[serde(rename = "memoryInGBs")]
    pub memory_in_gbs: Option<f64>,
}

/// The fields of an OCI `Instance` vauto uses.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Instance {
    /// OCID.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// `PROVISIONING`, `RUNNING`, `STOPPED`, `TERMINATED` ...
    #[serde(default)]
    pub lifecycle_state: String,
    /// Full availability domain name.
    #[serde(default)]
    pub availability_domain: String,
    /// Fault domain.
    pub fault_domain: Option<String>,
    /// Shape name.
    #[serde(default)]
    pub shape: String,
    /// Flex shape size.
    pub shape_config: Option<ShapeConfig>,
    /// Freeform tags (vauto's ownership labels).
    #[serde(default)]
    pub freeform_tags: BTreeMap<String, String>,
    /// Defined tags: namespace → key → value (what a `select.tags` `Namespace.key` matches).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub defined_tags: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Creation time (RFC 3339).
    pub time_created: Option<String>,
    /// Compartment OCID.
    #[serde(default)]
    pub compartment_id: String,
    /// Image OCID (deprecated top-level field, still filled by the API).
    pub image_id: Option<String>,
}

impl Instance {
    /// Whether OCI is removing or has removed it (listed for hours afterwards).
    pub(crate) fn is_gone(&self) -> bool {
        matches!(self.lifecycle_state.as_str(), "TERMINATED" | "TERMINATING")
    }
}

/// A VNIC attachment (instance ↔ VNIC).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VnicAttachment {
    /// Attachment OCID.
    #[serde(default)]
    pub id: String,
    /// The instance.
    #[serde(default)]
    pub instance_id: String,
    /// The VNIC, once attached.
    pub vnic_id: Option<String>,
    /// `ATTACHING`, `ATTACHED` ...
    #[serde(default)]
    pub lifecycle_state: String,
}

/// A VNIC's addresses.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Vnic {
    /// OCID.
    #[serde(default)]
    pub id: String,
    /// Private IPv4 address.
    pub private_ip: Option<String>,
    /// Public IPv4 address.
    pub public_ip: Option<String>,
    /// Whether this is the instance's primary VNIC.
    pub is_primary: Option<bool>,
}

/// An image (platform or custom).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Image {
    /// OCID.
    pub id: String,
    /// Display name, e.g. `Canonical-Ubuntu-22.04-Minimal-aarch64-2025.01.31-0`.
    #[serde(default)]
    pub display_name: String,
    /// Operating system, e.g. `Canonical Ubuntu`.
    #[serde(default)]
    pub operating_system: String,
    /// Operating system version, e.g. `22.04`.
    #[serde(default)]
    pub operating_system_version: String,
    /// Creation time (RFC 3339).
    pub time_created: Option<String>,
}

/// A subnet.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Subnet {
    /// OCID.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// CIDR block.
    pub cidr_block: Option<String>,
    /// `AVAILABLE` ...
    #[serde(default)]
    pub lifecycle_state: String,
    /// The subnet's DNS label; `None` when the subnet was created without DNS, in which
    /// case OCI refuses a `hostnameLabel` on its VNICs.
    #[serde(default)]
    pub dns_label: Option<String>,
}

/// An availability domain.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AvailabilityDomain {
    /// Full name, e.g. `Uocm:US-ASHBURN-AD-1`.
    pub name: String,
    /// OCID.
    pub id: Option<String>,
}

/// ListImages filters.
#[derive(Debug, Clone, Default)]
pub(crate) struct ImageQuery {
    /// `operatingSystem`.
    pub operating_system: Option<String>,
    /// `operatingSystemVersion`.
    pub operating_system_version: Option<String>,
    /// `shape`: only images compatible with it.
    pub shape: Option<String>,
}

/// Signed REST calls to OCI Compute and Identity.
#[derive(Debug, Clone)]
pub(crate) struct OciClient {
    http: reqwest::Client,
    signer: Signer,
    iaas: String,
    identity: String,
    database: String,
    containers: String,
}

impl OciClient {
    /// A client for a resolved connection; `timeout` bounds each request (default 60s).
    pub(crate) fn new(
        conn: &OciConnection,
        timeout: Option<Duration>,
    ) -> Result<OciClient, ProviderError> {
        crate::tls::install_crypto_provider();
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(15)));
        if !is_https(&conn.iaas_endpoint) && !is_https(&conn.identity_endpoint) {
            // Plain-HTTP endpoints (simulators, proxies): skip loading and parsing the
            // system's root certificates, which costs more memory than the whole status.
            builder = builder.tls_certs_only([]);
        }
        let http = builder.build().map_err(|e| {
            ProviderError::new(
                ErrorClass::Invalid,
                format!("cannot build the HTTP client: {e}"),
            )
        })?;
        Ok(OciClient {
            http,
            signer: Signer::for_connection(conn),
            iaas: conn.iaas_endpoint.clone(),
            identity: conn.identity_endpoint.clone(),
            database: conn.database_endpoint.clone(),
            containers: conn.containers_endpoint.clone(),
        })
    }

    /// One signed call; a 401 with a session token reloads the token (files are re-read, as
    /// the SDKs do on a 401) and tries once more.
    pub(super) async fn call(
        &self,
        method: Method,
        service: Service,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
        extra: &[(&'static str, String)],
    ) -> Result<Answer, ProviderError> {
        self.signer.renew(false).await?;
        let first = self
            .call_once(method.clone(), service, path, query, body.clone(), extra)
            .await;
        let e = match first {
            Err(e)
                if e.class == ErrorClass::Auth && e.message.starts_with("not authenticated:") =>
            {
                e
            }
            other => return other,
        };
        let Some(hint) = self.signer.hint_401() else {
            return Err(e);
        };
        let e = ProviderError::new(
            ErrorClass::Auth,
            e.message.replacen(API_KEY_401_HINT, &hint, 1),
        )
        .with_code(e.code);
        self.signer.reload()?;
        self.signer.renew(true).await?;
        match self
            .call_once(method, service, path, query, body, extra)
            .await
        {
            Err(again)
                if again.class == ErrorClass::Auth
                    && again.message.starts_with("not authenticated:") =>
            {
                Err(e)
            }
            other => other,
        }
    }

    async fn call_once(
        &self,
        method: Method,
        service: Service,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
        extra: &[(&'static str, String)],
    ) -> Result<Answer, ProviderError> {
        let url = self.url(service, path, query)?;
        let what = format!("{method} {}", url.path());
        let (mut headers, request_id) = request_headers(extra)?;
        let body = body.unwrap_or_default();
        // The signer sees the URL exactly as reqwest will put it on the wire.
        self.signer
            .sign(&method, url.as_str(), &mut headers, &body)?;
        // reqwest derives Host from the same URL; an explicit one breaks HTTP/2.
        headers.remove(HOST);
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .headers(headers);
        if !body.is_empty()
            || method == Method::POST
            || method == Method::PUT
            || method == Method::PATCH
        {
            req = req.body(body);
        }
        tracing::debug!(%method, url = %url, opc_request_id = %request_id, "oci request");
        let resp = req
            .send()
            .await
            .map_err(|e| classify_transport(&e, &what))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let server_id = header(&headers, "opc-request-id").unwrap_or_default();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| classify_transport(&e, &what))?;
        tracing::debug!(%method, url = %url, status = status.as_u16(), opc_request_id = %server_id, "oci response");
        if status.is_success() {
            return Ok(Answer {
                headers,
                body: bytes.to_vec(),
            });
        }
        let e = failure(status, &headers, &bytes);
        tracing::debug!(opc_request_id = %server_id, class = %e.class, "oci error: {}", e.message);
        Err(e)
    }

    /// The full URL of `path` on `service`, with the query encoded as the SDK does.
    fn url(
        &self,
        service: Service,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<reqwest::Url, ProviderError> {
        let base = match service {
            Service::Iaas => &self.iaas,
            Service::Identity => &self.identity,
            Service::Database => &self.database,
            Service::Containers => &self.containers,
        };
        let mut url = format!("{base}{}{path}", service.version());
        if !query.is_empty() {
            url.push('?');
            url.push_str(&encode_query(query));
        }
        reqwest::Url::parse(&url).map_err(|_| {
            ProviderError::new(ErrorClass::Invalid, format!("`{url}` is not a valid URL"))
        })
    }

    pub(super) fn json<T: DeserializeOwned>(
        &self,
        answer: Answer,
        what: &str,
    ) -> Result<T, ProviderError> {
        serde_json::from_slice(&answer.body).map_err(|e| {
            ProviderError::new(
                ErrorClass::Transient,
                format!("unexpected answer to {what}: {e}"),
            )
        })
    }

    pub(super) async fn list_all<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, ProviderError> {
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut q: Vec<(&str, &str)> = query.to_vec();
            if let Some(p) = &page {
                q.push(("page", p.as_str()));
            }
            let answer = self.call(Method::GET, service, path, &q, None, &[]).await?;
            let next = header(&answer.headers, "opc-next-page").filter(|p| !p.is_empty());
            let items: Vec<T> = self.json(answer, path)?;
            out.extend(items);
            match next {
                Some(n) => page = Some(n),
                None => return Ok(out),
            }
        }
        Ok(out)
    }

    /// LaunchInstance: POST `/instances` with `details` and `opc-retry-token`.
    /// Returns the instance and the raw JSON answer (saved as the launch result).
    pub(crate) async fn launch_instance(
        &self,
        details: &serde_json::Value,
        retry_token: &str,
    ) -> Result<(Instance, serde_json::Value), ProviderError> {
        let body = serde_json::to_vec(details).map_err(|e| {
            ProviderError::new(
                ErrorClass::Invalid,
                format!("cannot encode the launch details: {e}"),
            )
        })?;
        let answer = self
            .call(
                Method::POST,
                Service::Iaas,
                "/instances",
                &[],
                Some(body),
                &[("opc-retry-token", retry_token.to_string())],
            )
            .await?;
        let raw: serde_json::Value = self.json(answer, "LaunchInstance")?;
        let inst: Instance = serde_json::from_value(raw.clone()).map_err(|e| {
            ProviderError::new(
                ErrorClass::Transient,
                format!("unexpected answer to LaunchInstance: {e}"),
            )
        })?;
        Ok((inst, raw))
    }

    /// ListInstances in `compartment` (every page), optionally by display name.
    pub(crate) async fn list_instances(
        &self,
        compartment: &str,
        display_name: Option<&str>,
    ) -> Result<Vec<Instance>, ProviderError> {
        let mut q = vec![("compartmentId", compartment)];
        if let Some(n) = display_name {
            q.push(("displayName", n));
        }
        self.list_all(Service::Iaas, "/instances", &q).await
    }

    /// GetInstance.
    pub(crate) async fn get_instance(&self, id: &str) -> Result<Instance, ProviderError> {
        let path = format!("/instances/{}", encode_path(id));
        let answer = self
            .call(Method::GET, Service::Iaas, &path, &[], None, &[])
            .await?;
        self.json(answer, "GetInstance")
    }

    /// TerminateInstance; `preserve_boot_volume` keeps the boot volume.
    pub(crate) async fn terminate_instance(
        &self,
        id: &str,
        preserve_boot_volume: bool,
    ) -> Result<(), ProviderError> {
        let path = format!("/instances/{}", encode_path(id));
        let preserve = if preserve_boot_volume {
            "true"
        } else {
            "false"
        };
        self.call(
            Method::DELETE,
            Service::Iaas,
            &path,
            &[("preserveBootVolume", preserve)],
            None,
            &[],
        )
        .await?;
        Ok(())
    }

    /// InstanceAction (`START`, `STOP`, `SOFTSTOP`, ...), sent with no body as the SDK does.
    pub(crate) async fn instance_action(
        &self,
        id: &str,
        action: &str,
    ) -> Result<Instance, ProviderError> {
        let path = format!("/instances/{}", encode_path(id));
        let answer = self
            .call(
                Method::POST,
                Service::Iaas,
                &path,
                &[("action", action)],
                None,
                &[],
            )
            .await?;
        self.json(answer, "InstanceAction")
    }

    /// ListVnicAttachments of one instance, or of the whole compartment when `instance_id` is
    /// `None` (every page; status uses that to need one GET per instance instead of two).
    pub(crate) async fn list_vnic_attachments(
        &self,
        compartment: &str,
        instance_id: Option<&str>,
    ) -> Result<Vec<VnicAttachment>, ProviderError> {
        let mut query = vec![("compartmentId", compartment)];
        if let Some(id) = instance_id {
            query.push(("instanceId", id));
        }
        self.list_all(Service::Iaas, "/vnicAttachments", &query)
            .await
    }

    /// GetVnic.
    pub(crate) async fn get_vnic(&self, id: &str) -> Result<Vnic, ProviderError> {
        let path = format!("/vnics/{}", encode_path(id));
        let answer = self
            .call(Method::GET, Service::Iaas, &path, &[], None, &[])
            .await?;
        self.json(answer, "GetVnic")
    }

    /// ListImages, newest first.
    pub(crate) async fn list_images(
        &self,
        compartment: &str,
        query: &ImageQuery,
    ) -> Result<Vec<Image>, ProviderError> {
        let mut q = vec![("compartmentId", compartment)];
        if let Some(os) = &query.operating_system {
            q.push(("operatingSystem", os));
        }
        if let Some(v) = &query.operating_system_version {
            q.push(("operatingSystemVersion", v));
        }
        if let Some(s) = &query.shape {
            q.push(("shape", s));
        }
        q.push(("sortBy", "TIMECREATED"));
        q.push(("sortOrder", "DESC"));
        self.list_all(Service::Iaas, "/images", &q).await
    }

    /// GetSubnet (a subnet configured by OCID, possibly in another compartment).
    pub(crate) async fn get_subnet(&self, id: &str) -> Result<Subnet, ProviderError> {
        let path = format!("/subnets/{}", encode_path(id));
        let answer = self
            .call(Method::GET, Service::Iaas, &path, &[], None, &[])
            .await?;
        self.json(answer, "GetSubnet")
    }

    /// ListSubnets in `compartment`.
    pub(crate) async fn list_subnets(
        &self,
        compartment: &str,
    ) -> Result<Vec<Subnet>, ProviderError> {
        self.list_all(Service::Iaas, "/subnets", &[("compartmentId", compartment)])
            .await
    }

    /// ListAvailabilityDomains (Identity) of the tenancy, in the region's order.
    pub(crate) async fn list_availability_domains(
        &self,
        tenancy: &str,
    ) -> Result<Vec<AvailabilityDomain>, ProviderError> {
        self.list_all(
            Service::Identity,
            "/availabilityDomains",
            &[("compartmentId", tenancy)],
        )
        .await
    }
}

/// The unsigned headers of a request and its `opc-request-id` (for the logs).
fn request_headers(extra: &[(&'static str, String)]) -> Result<(HeaderMap, String), ProviderError> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("vauto/", env!("CARGO_PKG_VERSION"))),
    );
    let request_id = format!("{:032X}", fastrand::u128(..));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static("opc-request-id"), v);
    }
    for (k, v) in extra {
        let v = HeaderValue::from_str(v).map_err(|_| {
            ProviderError::new(ErrorClass::Invalid, format!("header `{k}` is not valid"))
        })?;
        headers.insert(HeaderName::from_static(k), v);
    }
    Ok((headers, request_id))
}

/// The classified error of a non-success answer; a body that is not OCI's JSON error
/// still yields the status's reason.
fn failure(status: http::StatusCode, headers: &HeaderMap, body: &[u8]) -> ProviderError {
    let err: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let retry_after = header(headers, "retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let message = if err.message.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        err.message
    };
    classify(status.as_u16(), &err.code, &message, retry_after)
}

/// Whether `url` is an HTTPS URL (and so needs the system's root certificates).
fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

pub(super) fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// OCI's JSON error body.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_encoded_like_the_sdk() {
        assert_eq!(
            encode_query(&[
                ("compartmentId", "ocid1.compartment.oc1..aaaatest"),
                ("displayName", "web 01:a/b")
            ]),
            "compartmentId=ocid1.compartment.oc1..aaaatest&displayName=web+01%3Aa%2Fb"
        );
        assert_eq!(
            encode_query(&[("operatingSystem", "Canonical Ubuntu")]),
            "operatingSystem=Canonical+Ubuntu"
        );
        assert_eq!(
            encode_path("ocid1.instance.oc1..x"),
            "ocid1.instance.oc1..x"
        );
        assert_eq!(encode_path("a b/c"), "a%20b/c");
    }

    #[test]
    fn only_https_endpoints_need_root_certificates() {
        assert!(is_https("https://iaas.eu-frankfurt-1.oraclecloud.com"));
        assert!(is_https("HTTPS://iaas.example"));
        assert!(!is_https("http://127.0.0.1:8080"));
        assert!(!is_https("http"));
    }

    #[test]
    fn classification_table() {
        use ErrorClass::*;
        let ra = Some(Duration::from_secs(30));
        let cases: &[(u16, &str, &str, ErrorClass, &str)] = &[
            (
                500,
                "InternalError",
                "Out of host capacity.",
                Capacity,
                "out of capacity",
            ),
            (
                500,
                "InternalError",
                "Out of capacity for shape VM.Standard.A1.Flex in AD-1.",
                Capacity,
                "out of capacity",
            ),
            (
                500,
                "InternalError",
                "Internal error",
                Transient,
                "server error",
            ),
            (502, "", "Bad Gateway", Transient, "server error"),
            (503, "ServiceUnavailable", "busy", Transient, "server error"),
            (
                429,
                "TooManyRequests",
                "Too many requests",
                Throttled,
                "throttled",
            ),
            (
                409,
                "IncorrectState",
                "instance is stopping",
                Transient,
                "busy",
            ),
            (
                409,
                "InvalidatedRetryToken",
                "token reused",
                Transient,
                INVALIDATED_RETRY_TOKEN,
            ),
            (
                404,
                "NotAuthorizedOrNotFound",
                "Authorization failed or requested resource not found",
                Auth,
                "check the compartment OCID and the policy",
            ),
            (
                404,
                "NotAuthorizedOrNotFound",
                "Shape VM.Standard.A1.Flex not found",
                NotFound,
                "shape not available",
            ),
            (404, "NotFound", "instance not found", NotFound, "not found"),
            (
                401,
                "NotAuthenticated",
                "The required information to complete authentication was not provided",
                Auth,
                "check the key, fingerprint and the clock",
            ),
            (
                400,
                "LimitExceeded",
                "standard-a1-core-count limit exceeded",
                Quota,
                "limit",
            ),
            (400, "QuotaExceeded", "quota exceeded", Quota, "limit"),
            (
                400,
                "InvalidParameter",
                "shapeConfig.ocpus must be > 0",
                Invalid,
                "ocpus must be > 0",
            ),
            (400, "CannotParseRequest", "bad json", Invalid, "bad json"),
        ];
        for (status, code, msg, class, needle) in cases {
            let e = classify(*status, code, msg, ra);
            assert_eq!(e.class, *class, "{status} {code} {msg}");
            assert!(e.message.contains(needle), "{status} {code}: {}", e.message);
            assert!(!e.message.ends_with('.'), "{}", e.message);
        }
        assert_eq!(classify(429, "TooManyRequests", "x", ra).retry_after, ra);
        assert_eq!(classify(400, "InvalidParameter", "x", ra).retry_after, None);
        assert_eq!(
            classify(409, "InvalidatedRetryToken", "x", None).code,
            ErrorCode::RetryTokenInvalidated
        );
        assert_eq!(
            classify(409, "IncorrectState", "x", None).code,
            ErrorCode::Unspecified
        );
    }
}
