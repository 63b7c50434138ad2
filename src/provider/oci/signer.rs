//! OCI HTTP Signature request signing (rsa-sha256), byte for byte as the official SDKs do it.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::Method;
use http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, DATE, HOST, HeaderMap, HeaderName, HeaderValue,
};
use std::sync::{Arc, RwLock};

use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rsa::Pkcs1v15Sign;
use rsa::pkcs8::EncodePrivateKey as _;
use sha2::{Digest, Sha256};

use super::auth::{CredentialSource, Credentials, EXPIRY_JITTER_SECS};
use super::config::{ApiKey, OciConnection};
use super::instance_principal::InstancePrincipal;
use crate::model::{ErrorClass, ProviderError};

/// The body hash header OCI signs on POST/PUT/PATCH.
pub(crate) const X_CONTENT_SHA256: &str = "x-content-sha256";

/// Headers signed on GET, HEAD and DELETE, in signing order.
const SIGNED_NO_BODY: &[&str] = &["date", "(request-target)", "host"];
/// Headers signed on POST, PUT and PATCH, in signing order.
const SIGNED_WITH_BODY: &[&str] = &[
    "date",
    "(request-target)",
    "host",
    "content-length",
    "content-type",
    "x-content-sha256",
];

fn invalid(msg: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::Invalid, msg)
}

/// The headers OCI signs for `method`, in order; `None` for verbs the SDK refuses to sign.
pub(crate) fn signed_headers(method: &Method) -> Option<&'static [&'static str]> {
    match method.as_str() {
        "GET" | "HEAD" | "DELETE" => Some(SIGNED_NO_BODY),
        "POST" | "PUT" | "PATCH" => Some(SIGNED_WITH_BODY),
        _ => None,
    }
}

/// `date` in IMF-fixdate form: `Wed, 15 Jan 2025 12:00:00 GMT`.
pub(crate) fn http_date(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Base64 SHA-256 of `body`, the `x-content-sha256` value.
pub(crate) fn content_sha256(body: &[u8]) -> String {
    B64.encode(Sha256::digest(body))
}

/// The authority (`host` or `host:port`, port only when the URL names one) and the
/// path-plus-query of `url`, both exactly as written in it.
pub(crate) fn split_url(url: &str) -> Result<(&str, String), ProviderError> {
    let rest = url
        .split_once("://")
        .map(|(_, r)| r)
        .ok_or_else(|| invalid(format!("`{url}` is not an absolute URL")))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    // Credentials in a URL are not part of the host the server sees.
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() {
        return Err(invalid(format!("`{url}` has no host")));
    }
    let tail = &rest[end..];
    let tail = tail.split_once('#').map_or(tail, |(t, _)| t);
    let target = if tail.starts_with('/') {
        tail.to_string()
    } else {
        format!("/{tail}")
    };
    Ok((host, target))
}

/// Builds the signing string from the final request headers.
///
/// `path_and_query` is the request target exactly as it goes on the wire; `headers` must
/// already hold every signed header (`host` included). Returns the string and the
/// signed header names.
pub(crate) fn signing_string(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
) -> Result<(String, &'static [&'static str]), ProviderError> {
    let names = signed_headers(method)
        .ok_or_else(|| invalid(format!("cannot sign an HTTP `{method}` request: OCI signs GET, HEAD, DELETE, POST, PUT and PATCH only")))?;
    let mut lines = Vec::with_capacity(names.len());
    for name in names {
        if *name == "(request-target)" {
            lines.push(format!(
                "(request-target): {} {}",
                method.as_str().to_ascii_lowercase(),
                path_and_query
            ));
            continue;
        }
        let value = headers.get(*name).ok_or_else(|| {
            invalid(format!(
                "cannot sign the request: header `{name}` is missing"
            ))
        })?;
        let value = value.to_str().map_err(|_| {
            invalid(format!(
                "cannot sign the request: header `{name}` is not ASCII"
            ))
        })?;
        lines.push(format!("{name}: {value}"));
    }
    Ok((lines.join("\n"), names))
}

/// One key and its `keyId`, ready to sign.
struct Signing {
    key_id: String,
    key: ApiKey,
    /// The same key in ring, whose RSA signing is several times faster than the `rsa` crate's
    /// (a 1000-instance `status` signs 2000 requests); `None` for keys ring refuses (under
    /// 2048 bits), which are then signed by `rsa`. PKCS#1 v1.5 is deterministic, so both give
    /// the same bytes.
    fast: Option<Arc<RsaKeyPair>>,
    /// When a session token's `exp` passes (epoch seconds); `None` for an API key.
    exp: Option<i64>,
}

impl Signing {
    fn new(key_id: String, key: ApiKey, exp: Option<i64>) -> Signing {
        let fast = key
            .private_key()
            .to_pkcs8_der()
            .ok()
            .and_then(|der| RsaKeyPair::from_pkcs8(der.as_bytes()).ok())
            .map(Arc::new);
        Signing {
            key_id,
            key,
            fast,
            exp,
        }
    }
}

/// Signs OCI API requests: with an API key (`keyId` `tenancy/user/fingerprint`) or with a
/// session token and its key (`keyId` `ST$<token>`), reloaded from its source before the token
/// expires and once after a 401.
#[derive(Clone)]
pub(crate) struct Signer {
    current: Arc<RwLock<Arc<Signing>>>,
    source: Option<Arc<dyn CredentialSource>>,
    /// Instance principal: renewed by a call to the auth service (async, see [`Signer::renew`]).
    federation: Option<Arc<(InstancePrincipal, Option<String>)>>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cur = self.snapshot();
        let key_id = if cur.key_id.starts_with("ST$") {
            "ST$<redacted>"
        } else {
            &cur.key_id
        };
        f.debug_struct("Signer")
            .field("key_id", &key_id)
            .field("key", &"<redacted>")
            .field("source", &self.source)
            .field("instance_principal", &self.federation.is_some())
            .finish()
    }
}

impl Signer {
    /// A signer for `key_id` (`tenancy/user/fingerprint`) with `key`.
    pub(crate) fn new(key_id: impl Into<String>, key: ApiKey) -> Signer {
        Signer {
            current: Arc::new(RwLock::new(Arc::new(Signing::new(
                key_id.into(),
                key,
                None,
            )))),
            source: None,
            federation: None,
        }
    }

    /// A signer for already loaded `creds` that reloads them from `source` when their token nears
    /// its `exp` and when [`Signer::reload`] is called (after a 401).
    pub(crate) fn with_source(creds: Credentials, source: Arc<dyn CredentialSource>) -> Signer {
        let exp = creds.exp();
        Signer {
            current: Arc::new(RwLock::new(Arc::new(Signing::new(
                creds.key_id(),
                creds.key,
                exp,
            )))),
            source: Some(source),
            federation: None,
        }
    }

    /// A signer for an instance principal's first session token; renewed through `ip` (with
    /// `region`, the `oci.region` override) before `exp` and after a 401.
    pub(crate) fn with_federation(
        creds: Credentials,
        ip: InstancePrincipal,
        region: Option<String>,
    ) -> Signer {
        let exp = creds.exp();
        Signer {
            current: Arc::new(RwLock::new(Arc::new(Signing::new(
                creds.key_id(),
                creds.key,
                exp,
            )))),
            source: None,
            federation: Some(Arc::new((ip, region))),
        }
    }

    fn set(&self, creds: Credentials) {
        let exp = creds.exp();
        let next = Arc::new(Signing::new(creds.key_id(), creds.key, exp));
        match self.current.write() {
            Ok(mut g) => *g = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    /// Instance principal: asks the auth service for a new token and session key when `force`
    /// (after a 401) or when the token is within a minute of its `exp`. Other modes: nothing.
    pub(crate) async fn renew(&self, force: bool) -> Result<(), ProviderError> {
        let Some(fed) = &self.federation else {
            return Ok(());
        };
        let due = self
            .snapshot()
            .exp
            .is_none_or(|exp| chrono::Utc::now().timestamp() > exp - EXPIRY_JITTER_SECS);
        if force || due {
            let f = fed.0.federate(fed.1.as_deref()).await?;
            self.set(f.creds);
        }
        Ok(())
    }

    /// A signer for a resolved connection.
    pub(crate) fn for_connection(conn: &OciConnection) -> Signer {
        conn.signer.clone()
    }

    fn snapshot(&self) -> Arc<Signing> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Loads the credentials again from their source (token and key files are re-read); `false`
    /// when there is no source (an API key).
    pub(crate) fn reload(&self) -> Result<bool, ProviderError> {
        let Some(source) = &self.source else {
            return Ok(false);
        };
        self.set(source.load()?);
        Ok(true)
    }

    /// What to tell the user when OCI answers 401; `None` for an API key (the generic advice).
    pub(crate) fn hint_401(&self) -> Option<String> {
        if self.federation.is_some() {
            return Some("the instance principal's session token was refused: check the dynamic group that matches this instance, its policy, and the clock".into());
        }
        self.source.as_ref().map(|s| s.hint_401())
    }

    #[cfg(test)]
    /// The `keyId` put in every Authorization header.
    pub(crate) fn key_id(&self) -> String {
        self.snapshot().key_id.clone()
    }

    /// Adds the OCI headers to a request and signs it, as the SDK's signer does.
    ///
    /// # Behavior
    /// - `date` is added (now) only when absent; a caller's date is kept.
    /// - `host` is set to the URL's authority (with `:port` only when the URL names one),
    ///   replacing any caller value, because that is what gets signed.
    /// - `content-type` defaults to `application/json` for every verb.
    /// - POST/PUT/PATCH: `content-length` (bytes) and `x-content-sha256` are added unless
    ///   already present; DELETE gets an unsigned `content-length` as the SDK's stack sends it.
    /// - `authorization` is set last.
    pub(crate) fn sign(
        &self,
        method: &Method,
        url: &str,
        headers: &mut HeaderMap,
        body: &[u8],
    ) -> Result<(), ProviderError> {
        self.sign_at(method, url, headers, body, chrono::Utc::now())
    }

    /// [`Signer::sign`] with an explicit clock (tests, reproducible vectors).
    pub(crate) fn sign_at(
        &self,
        method: &Method,
        url: &str,
        headers: &mut HeaderMap,
        body: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ProviderError> {
        let names = signed_headers(method)
            .ok_or_else(|| invalid(format!("cannot sign an HTTP `{method}` request: OCI signs GET, HEAD, DELETE, POST, PUT and PATCH only")))?;
        let (host, target) = split_url(url)?;
        // A session token is reloaded a minute before its `exp`, as the SDKs'
        // `valid_with_jitter` does; the source says clearly when it cannot be renewed.
        let mut signing = self.snapshot();
        if signing
            .exp
            .is_some_and(|exp| now.timestamp() > exp - EXPIRY_JITTER_SECS)
            && self.reload()?
        {
            signing = self.snapshot();
        }
        if !headers.contains_key(DATE) {
            headers.insert(DATE, header_value(&http_date(now))?);
        }
        headers.insert(HOST, header_value(host)?);
        if !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let with_body = names.len() == SIGNED_WITH_BODY.len();
        if (with_body || *method == Method::DELETE) && !headers.contains_key(CONTENT_LENGTH) {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        if with_body {
            let name = HeaderName::from_static(X_CONTENT_SHA256);
            if !headers.contains_key(&name) {
                headers.insert(name, header_value(&content_sha256(body))?);
            }
        }
        let (string, names) = signing_string(method, &target, headers)?;
        let signature = signing.signature(&string)?;
        let authorization = format!(
            "Signature algorithm=\"rsa-sha256\",headers=\"{}\",keyId=\"{}\",signature=\"{}\",version=\"1\"",
            names.join(" "),
            signing.key_id,
            signature
        );
        headers.insert(AUTHORIZATION, header_value(&authorization)?);
        Ok(())
    }

    /// Base64 RSASSA-PKCS1-v1_5 SHA-256 signature of `signing_string`.
    #[cfg(test)]
    pub(crate) fn signature(&self, signing_string: &str) -> Result<String, ProviderError> {
        self.snapshot().signature(signing_string)
    }
}

impl Signing {
    fn signature(&self, signing_string: &str) -> Result<String, ProviderError> {
        if let Some(pair) = &self.fast {
            let mut sig = vec![0; pair.public().modulus_len()];
            pair.sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_string.as_bytes(),
                &mut sig,
            )
            .map_err(|_| invalid("cannot sign the request with the API key"))?;
            return Ok(B64.encode(sig));
        }
        let digest = Sha256::digest(signing_string.as_bytes());
        let sig = self
            .key
            .private_key()
            .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
            .map_err(|_| invalid("cannot sign the request with the API key"))?;
        Ok(B64.encode(sig))
    }
}

fn header_value(v: &str) -> Result<HeaderValue, ProviderError> {
    HeaderValue::from_str(v)
        .map_err(|_| invalid("cannot sign the request: a header value is not valid"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::oci::config::{load_api_key, load_profile, parse_private_key};
    use rsa::RsaPublicKey;
    use rsa::pkcs8::DecodePublicKey;
    use std::path::PathBuf;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/oci-signing");

    fn signer() -> Signer {
        let p = load_profile(&PathBuf::from(VECTORS).join("config"), "DEFAULT").unwrap();
        let key = load_api_key(&p).unwrap();
        Signer::new(format!("{}/{}/{}", p.tenancy, p.user, p.fingerprint), key)
    }

    fn public_key() -> RsaPublicKey {
        let pem = std::fs::read_to_string(
            PathBuf::from(VECTORS).join("TEST-ONLY-oci-api-key_public.pem"),
        )
        .unwrap();
        RsaPublicKey::from_public_key_pem(&pem).unwrap()
    }

    fn fixed_now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc2822("Wed, 15 Jan 2025 12:00:00 GMT")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn every_sdk_vector_is_reproduced_byte_for_byte() {
        let s = signer();
        let mut files: Vec<PathBuf> = std::fs::read_dir(VECTORS)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        assert!(
            files.len() >= 7,
            "expected the a_ … g_ vectors, found {files:?}"
        );
        for f in &files {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
            let name = f.file_name().unwrap().to_string_lossy();
            let method = Method::from_bytes(v["method"].as_str().unwrap().as_bytes()).unwrap();
            let url = v["url_as_sent"].as_str().unwrap();
            let body = B64.decode(v["body_base64"].as_str().unwrap()).unwrap();
            let mut headers = HeaderMap::new();
            for (k, val) in v["headers_given"].as_object().unwrap() {
                headers.insert(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(val.as_str().unwrap()).unwrap(),
                );
            }
            // A different clock proves a supplied date is kept.
            s.sign_at(&method, url, &mut headers, &body, chrono::Utc::now())
                .unwrap();

            let (_, target) = split_url(url).unwrap();
            let expected_target = v["request_target"].as_str().unwrap();
            assert_eq!(
                format!("{} {target}", method.as_str().to_lowercase()),
                expected_target,
                "{name}"
            );
            let (string, names) = signing_string(&method, &target, &headers).unwrap();
            assert_eq!(
                string,
                v["signing_string"].as_str().unwrap(),
                "{name}: signing string"
            );
            let want_names: Vec<&str> = v["signed_headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect();
            assert_eq!(names, want_names.as_slice(), "{name}: signed headers");
            assert_eq!(
                s.signature(&string).unwrap(),
                v["signature"].as_str().unwrap(),
                "{name}: signature"
            );
            for (k, want) in v["expected"].as_object().unwrap() {
                let got = headers
                    .get(k.as_str())
                    .map(|h| h.to_str().unwrap().to_string());
                assert_eq!(
                    got.as_deref(),
                    Some(want.as_str().unwrap()),
                    "{name}: header `{k}`"
                );
            }
            // Headers the SDK does not set must not appear either (GET has no content-length).
            for h in ["content-length", X_CONTENT_SHA256] {
                if v["expected"].get(h).is_none() {
                    assert!(headers.get(h).is_none(), "{name}: unexpected `{h}`");
                }
            }
        }
    }

    #[test]
    fn captured_cli_requests_verify_through_our_signing_string() {
        let public = public_key();
        let text =
            std::fs::read_to_string(PathBuf::from(VECTORS).join("oci-cli-captured-requests.jsonl"))
                .unwrap();
        let mut n = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let method = Method::from_bytes(v["method"].as_str().unwrap().as_bytes()).unwrap();
            let mut headers = HeaderMap::new();
            for (k, val) in v["headers_received"].as_object().unwrap() {
                headers.insert(
                    HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).unwrap(),
                    HeaderValue::from_str(val.as_str().unwrap()).unwrap(),
                );
            }
            let (string, names) = signing_string(
                &method,
                v["request_target_path"].as_str().unwrap(),
                &headers,
            )
            .unwrap();
            let auth = headers["authorization"].to_str().unwrap();
            assert!(
                auth.contains(&format!("headers=\"{}\"", names.join(" "))),
                "{auth}"
            );
            let sig_b64 = auth
                .split("signature=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let sig = B64.decode(sig_b64).unwrap();
            public
                .verify(
                    Pkcs1v15Sign::new::<Sha256>(),
                    &Sha256::digest(string.as_bytes()),
                    &sig,
                )
                .unwrap_or_else(|_| panic!("signature does not verify for {}", v["cli_command"]));
            if let Some(body) = v["body"].as_str().filter(|b| !b.is_empty()) {
                assert_eq!(
                    headers[X_CONTENT_SHA256].to_str().unwrap(),
                    content_sha256(body.as_bytes())
                );
            }
            n += 1;
        }
        assert_eq!(n, 5);
    }

    #[test]
    fn date_added_when_missing_and_host_keeps_an_explicit_port() {
        let s = signer();
        let mut h = HeaderMap::new();
        s.sign_at(
            &Method::GET,
            "https://h.example:443/20160918/x?a=b",
            &mut h,
            b"",
            fixed_now(),
        )
        .unwrap();
        assert_eq!(h["date"], "Wed, 15 Jan 2025 12:00:00 GMT");
        assert_eq!(h["host"], "h.example:443");
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_static("evil.example"));
        s.sign_at(
            &Method::GET,
            "http://127.0.0.1:18080/20160918/instances",
            &mut h,
            b"",
            fixed_now(),
        )
        .unwrap();
        assert_eq!(h["host"], "127.0.0.1:18080");
        let (string, _) = signing_string(&Method::GET, "/20160918/instances", &h).unwrap();
        assert!(string.ends_with("\nhost: 127.0.0.1:18080"));
        let sig = B64
            .decode(
                h["authorization"]
                    .to_str()
                    .unwrap()
                    .split("signature=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap(),
            )
            .unwrap();
        public_key()
            .verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(string.as_bytes()),
                &sig,
            )
            .unwrap();
    }

    #[test]
    fn unsupported_verbs_are_refused_and_debug_hides_the_key() {
        let s = signer();
        let e = s
            .sign(&Method::OPTIONS, "https://h/x", &mut HeaderMap::new(), b"")
            .unwrap_err();
        assert!(e.message.contains("`OPTIONS`"), "{}", e.message);
        let dbg = format!("{s:?}");
        assert!(
            dbg.contains("<redacted>") && !dbg.contains("RsaPrivateKey"),
            "{dbg}"
        );
        // The same key loaded from PKCS#1 signs identically (PKCS#1 v1.5 is deterministic).
        let pkcs1 =
            std::fs::read_to_string(PathBuf::from(VECTORS).join("TEST-ONLY-oci-api-key.pkcs1.pem"))
                .unwrap();
        let other = Signer::new(s.key_id(), parse_private_key(&pkcs1, None, "k").unwrap());
        assert_eq!(s.signature("x").unwrap(), other.signature("x").unwrap());
    }

    /// Hands out a token good until `exp` and counts the loads.
    #[derive(Debug)]
    struct Fresh(std::sync::atomic::AtomicI64);

    impl CredentialSource for Fresh {
        fn load(&self) -> Result<Credentials, ProviderError> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let raw = crate::provider::oci::auth::tests::token(
                &serde_json::json!({"exp": 1_736_942_400 + 3600 * n}),
            );
            Ok(Credentials {
                user_key_id: None,
                token: Some(crate::provider::oci::auth::SessionToken::parse(&raw, "t")?),
                key: signer().snapshot().key.clone(),
            })
        }
        fn hint_401(&self) -> String {
            "renew it".into()
        }
    }

    #[test]
    fn a_token_is_reloaded_a_minute_before_its_exp_and_never_shown() {
        let src = Arc::new(Fresh(std::sync::atomic::AtomicI64::new(-1)));
        // The first token expires at `fixed_now()`: signing 30 s before loads the next one.
        let first = src.load().unwrap();
        let s = Signer::with_source(first.clone(), src.clone());
        let mut h = HeaderMap::new();
        let before = fixed_now() - chrono::Duration::seconds(30);
        s.sign_at(&Method::GET, "https://h/x", &mut h, b"", before)
            .unwrap();
        let auth = h["authorization"].to_str().unwrap().to_string();
        assert_ne!(s.key_id(), first.key_id());
        assert!(
            auth.contains(&format!("keyId=\"{}\"", s.key_id())),
            "{auth}"
        );
        // Good for another hour: no reload.
        let id = s.key_id();
        s.sign_at(
            &Method::GET,
            "https://h/x",
            &mut HeaderMap::new(),
            b"",
            before,
        )
        .unwrap();
        assert_eq!(s.key_id(), id);
        assert_eq!(s.hint_401().as_deref(), Some("renew it"));
        let dbg = format!("{s:?}");
        assert!(
            dbg.contains("ST$<redacted>") && !dbg.contains(&id[3..]),
            "{dbg}"
        );
    }
}
