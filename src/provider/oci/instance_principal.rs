//! `instance_principal`: the instance's own identity, as oracle/oci-go-sdk
//! `common/auth/instance_principal_key_provider.go` and `federation_client.go` (and
//! oracle/oci-python-sdk `instance_principals_security_token_signer.py`) obtain it:
//!
//! 1. From the metadata service (`http://169.254.169.254/opc/v2`, or `OCI_METADATA_BASE_URL`;
//!    every request carries `Authorization: Bearer Oracle`; Python falls back to `/opc/v1` when
//!    v2 answers 404): `/instance/region`, `/identity/cert.pem`, `/identity/key.pem`,
//!    `/identity/intermediate.pem`.
//! 2. The tenancy is the leaf certificate's subject attribute `opc-tenant:<ocid>` (Go
//!    `extractTenancyIDFromCertificate`; `opc-identity:` is read too, as the Python SDK does).
//! 3. A fresh RSA-2048 session key; `POST <auth>/v1/x509` with `certificate`, `publicKey`
//!    (PEM armour and newlines removed, `sanitizeCertificateString`), `intermediateCertificates`
//!    and `fingerprintAlgorithm: "SHA256"`, signed with the leaf key as
//!    `<tenancy>/fed-x509-sha256/<SHA-256 of the leaf DER, lowercase colon hex>` over
//!    `date (request-target) content-length content-type x-content-sha256` (no `host`).
//! 4. The returned `token` signs every call as `ST$<token>` with the session key; it is renewed
//!    before its `exp` and once after a 401.
//!
//! The auth endpoint is `OCI_SDK_AUTH_CLIENT_REGION_URL` (Go), else `oci.endpoint`, else
//! `https://auth.<region>.oraclecloud.com`.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, HeaderValue};
use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey as _, LineEnding};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::der::{DecodePem as _, Encode as _};

use super::auth::{Credentials, SessionToken};
use super::config::{ApiKey, parse_private_key};
use super::signer::{content_sha256, http_date, split_url};
use crate::model::{ErrorClass, ProviderError};

/// Overrides the metadata service's base URL (both SDKs).
pub(crate) const METADATA_BASE_ENV: &str = "OCI_METADATA_BASE_URL";
/// The metadata service on an OCI instance.
pub(crate) const DEFAULT_METADATA_BASE: &str = "http://169.254.169.254/opc/v2";
/// Overrides the auth service's base URL (Go SDK `newAuthClient`).
pub(crate) const AUTH_URL_ENV: &str = "OCI_SDK_AUTH_CLIENT_REGION_URL";

fn auth(msg: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::Auth, msg)
}

/// The tenancy OCID in a certificate subject: `opc-tenant:<ocid>` or `opc-identity:<ocid>`.
pub(crate) fn tenancy_of(cert: &Certificate) -> Option<String> {
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            let Ok(s) = atv
                .value
                .decode_as::<x509_cert::der::asn1::Utf8StringRef<'_>>()
                .map(|s| s.as_str().to_string())
                .or_else(|_| {
                    atv.value
                        .decode_as::<x509_cert::der::asn1::PrintableStringRef<'_>>()
                        .map(|s| s.as_str().to_string())
                })
            else {
                continue;
            };
            for prefix in ["opc-tenant:", "opc-identity:"] {
                if let Some(t) = s.strip_prefix(prefix).filter(|t| !t.is_empty()) {
                    return Some(t.to_string());
                }
            }
        }
    }
    None
}

/// SHA-256 of the certificate's DER as lowercase colon-separated hex (Go `fingerprint`).
pub(crate) fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// PEM without its armour lines and newlines (Go `sanitizeCertificateString`).
pub(crate) fn sanitize(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect()
}

/// What the metadata service says about this instance.
struct Metadata {
    region: String,
    leaf_pem: String,
    leaf_key: ApiKey,
    intermediate_pem: String,
}

/// Fetches and renews the instance principal's session token.
#[derive(Debug)]
pub(crate) struct InstancePrincipal {
    http: reqwest::Client,
    metadata_base: String,
    /// The auth service base URL when set by `OCI_SDK_AUTH_CLIENT_REGION_URL` or `oci.endpoint`.
    auth_base: Option<String>,
}

/// A federated identity: region, tenancy and the credentials to sign with.
pub(crate) struct Federated {
    /// The instance's region.
    pub region: String,
    /// The tenancy of the leaf certificate.
    pub tenancy: String,
    /// `ST$<token>` and the session key.
    pub creds: Credentials,
}

impl InstancePrincipal {
    /// Reads `OCI_METADATA_BASE_URL` and `OCI_SDK_AUTH_CLIENT_REGION_URL` through `var`;
    /// `endpoint` is `oci.endpoint`.
    pub(crate) fn new(
        var: &dyn Fn(&str) -> Option<String>,
        endpoint: Option<&str>,
        timeout: Duration,
    ) -> Result<InstancePrincipal, ProviderError> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| auth(format!("cannot build the HTTP client: {e}")))?;
        let metadata_base = var(METADATA_BASE_ENV)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_METADATA_BASE.to_string())
            .trim_end_matches('/')
            .to_string();
        let auth_base = var(AUTH_URL_ENV)
            .filter(|v| !v.is_empty())
            .or_else(|| endpoint.map(str::to_string))
            .map(|e| e.trim_end_matches('/').to_string());
        Ok(InstancePrincipal {
            http,
            metadata_base,
            auth_base,
        })
    }

    async fn get(&self, base: &str, path: &str) -> Result<(u16, String), ProviderError> {
        let url = format!("{base}{path}");
        let resp = self
            .http
            .get(&url)
            .header("authorization", "Bearer Oracle")
            .send()
            .await
            .map_err(|e| {
                auth(format!(
                    "oci.auth is instance_principal but the instance metadata service at `{url}` does not answer ({e}): instance principals work only on an OCI compute instance (set {METADATA_BASE_ENV} to use another metadata service)"
                ))
            })?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| auth(format!("cannot read `{url}`: {e}")))?;
        Ok((status, text))
    }

    async fn need(&self, base: &str, path: &str) -> Result<String, ProviderError> {
        match self.get(base, path).await? {
            (200, text) => Ok(text),
            (status, _) => Err(auth(format!(
                "the instance metadata service answered {status} for `{base}{path}`"
            ))),
        }
    }

    async fn metadata(&self) -> Result<Metadata, ProviderError> {
        let mut base = self.metadata_base.clone();
        let mut leaf = self.get(&base, "/identity/cert.pem").await?;
        // The Python SDK falls back to /opc/v1 when /opc/v2 answers 404.
        if leaf.0 == 404 && base.ends_with("/opc/v2") {
            base = format!("{}/opc/v1", base.trim_end_matches("/opc/v2"));
            leaf = self.get(&base, "/identity/cert.pem").await?;
        }
        if leaf.0 != 200 {
            return Err(auth(format!(
                "the instance metadata service answered {} for `{base}/identity/cert.pem`",
                leaf.0
            )));
        }
        let key_pem = self.need(&base, "/identity/key.pem").await?;
        let leaf_key = parse_private_key(&key_pem, None, "the instance's leaf certificate key")?;
        let intermediate_pem = self.need(&base, "/identity/intermediate.pem").await?;
        let region = self
            .need(&base, "/instance/region")
            .await?
            .trim()
            .to_ascii_lowercase();
        Ok(Metadata {
            region,
            leaf_pem: leaf.1,
            leaf_key,
            intermediate_pem,
        })
    }

    /// Reads the metadata service, makes a fresh session key and exchanges the leaf
    /// certificate for a session token. `region_override` is `oci.region`.
    pub(crate) async fn federate(
        &self,
        region_override: Option<&str>,
    ) -> Result<Federated, ProviderError> {
        let md = self.metadata().await?;
        let cert = Certificate::from_pem(md.leaf_pem.trim().as_bytes())
            .map_err(|_| auth("the instance's leaf certificate from the metadata service is not a PEM X.509 certificate"))?;
        let der = cert
            .to_der()
            .map_err(|_| auth("cannot encode the instance's leaf certificate"))?;
        let tenancy = tenancy_of(&cert).ok_or_else(|| {
            auth("the instance's leaf certificate names no tenancy (no `opc-tenant:` or `opc-identity:` in its subject)")
        })?;
        let region = region_override.map_or(md.region.clone(), str::to_string);
        let session =
            tokio::task::spawn_blocking(|| RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048))
                .await
                .map_err(|_| auth("the session key task failed"))?
                .map_err(|_| auth("cannot make a session key"))?;
        let public_pem = session
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|_| auth("cannot encode the session public key"))?;
        let body = federation_body(&md.leaf_pem, &public_pem, &md.intermediate_pem);
        let base = self
            .auth_base
            .clone()
            .unwrap_or_else(|| format!("https://auth.{region}.oraclecloud.com"));
        let url = format!("{base}/v1/x509");
        let key_id = federation_key_id(&tenancy, &der);
        let headers = federation_headers(
            &url,
            body.as_bytes(),
            &key_id,
            &md.leaf_key,
            chrono::Utc::now(),
        )?;
        let resp = self
            .http
            .post(&url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                ProviderError::new(
                    ErrorClass::Transient,
                    format!("the auth service at `{url}` does not answer: {e}"),
                )
            })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        if status != 200 {
            let msg = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or_default();
            // Busy or failing is not a refusal: the engine waits and tries again.
            let class = match status {
                429 => ErrorClass::Throttled,
                500..=599 => ErrorClass::Transient,
                _ => ErrorClass::Auth,
            };
            if class != ErrorClass::Auth {
                return Err(ProviderError::new(
                    class,
                    format!("the auth service at `{url}` answered {status}: {msg}"),
                ));
            }
            return Err(auth(format!(
                "the auth service refused the instance principal ({status} at `{url}`: {msg}): check the dynamic group and its policy"
            )));
        }
        let token = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["token"].as_str().map(str::to_string))
            .ok_or_else(|| {
                auth(format!(
                    "the auth service at `{url}` answered without a token"
                ))
            })?;
        let token = SessionToken::parse(&token, "the instance principal session token")?;
        let key = ApiKey::from_key(session)?;
        Ok(Federated {
            region,
            tenancy,
            creds: Credentials {
                user_key_id: None,
                token: Some(token),
                key,
            },
        })
    }
}

/// The body of the federation request: the leaf certificate, the session public key and the
/// intermediate certificate, sanitised, and `fingerprintAlgorithm: "SHA256"` (Go SDK
/// `X509FederationDetails`; the Python SDK sends the first three only, in this order).
pub(crate) fn federation_body(leaf_pem: &str, public_pem: &str, intermediate_pem: &str) -> String {
    serde_json::json!({
        "certificate": sanitize(leaf_pem),
        "publicKey": sanitize(public_pem),
        "intermediateCertificates": [sanitize(intermediate_pem)],
        "fingerprintAlgorithm": "SHA256",
    })
    .to_string()
}

/// The keyId of the federation request: `<tenancy>/fed-x509-sha256/<SHA-256 of the leaf DER>`
/// (Go SDK; the Python SDK uses `<tenancy>/fed-x509/<SHA-1, upper-case colon hex>` and no
/// `fingerprintAlgorithm`, and the auth service takes either).
pub(crate) fn federation_key_id(tenancy: &str, leaf_der: &[u8]) -> String {
    format!("{tenancy}/fed-x509-sha256/{}", fingerprint(leaf_der))
}

/// The headers of the federation request, signed with the leaf key over
/// `date (request-target) content-length content-type x-content-sha256`.
pub(crate) fn federation_headers(
    url: &str,
    body: &[u8],
    key_id: &str,
    leaf_key: &ApiKey,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HeaderMap, ProviderError> {
    let (_, target) = split_url(url)?;
    let date = http_date(now);
    let sha = content_sha256(body);
    let len = body.len().to_string();
    let string = format!(
        "date: {date}\n(request-target): post {target}\ncontent-length: {len}\ncontent-type: application/json\nx-content-sha256: {sha}"
    );
    let digest = Sha256::digest(string.as_bytes());
    let sig = leaf_key
        .private_key()
        .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
        .map_err(|_| auth("cannot sign the federation request with the leaf key"))?;
    // The parameters in the order of every other signed request (and the Python SDK's).
    let authorization = format!(
        "Signature algorithm=\"rsa-sha256\",headers=\"date (request-target) content-length content-type x-content-sha256\",keyId=\"{key_id}\",signature=\"{}\",version=\"1\"",
        B64.encode(sig)
    );
    let mut h = HeaderMap::new();
    let v =
        |s: &str| HeaderValue::from_str(s).map_err(|_| auth("a federation header is not valid"));
    h.insert("date", v(&date)?);
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert("content-length", v(&len)?);
    h.insert("x-content-sha256", v(&sha)?);
    h.insert("authorization", v(&authorization)?);
    Ok(h)
}

#[cfg(test)]
#[cfg(feature = "sim")]
mod tests {
    use super::*;

    fn cert_with(ous: &[&str]) -> Certificate {
        let mut p = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "ocid1.instance.oc1..x");
        if let Some(ou) = ous.first() {
            dn.push(rcgen::DnType::OrganizationalUnitName, *ou);
        }
        if let Some(ou) = ous.get(1) {
            dn.push(rcgen::DnType::CustomDnType(vec![2, 5, 4, 11]), *ou);
        }
        p.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let pem = p.self_signed(&key).unwrap().pem();
        Certificate::from_pem(pem.as_bytes()).unwrap()
    }

    #[test]
    fn the_tenancy_is_the_opc_tenant_or_opc_identity_of_the_subject_or_none() {
        let c = cert_with(&[
            "opc-instance:ocid1.instance.oc1..x",
            "opc-tenant:ocid1.tenancy.oc1..t",
        ]);
        assert_eq!(tenancy_of(&c).as_deref(), Some("ocid1.tenancy.oc1..t"));
        let c = cert_with(&["opc-identity:ocid1.tenancy.oc1..i"]);
        assert_eq!(tenancy_of(&c).as_deref(), Some("ocid1.tenancy.oc1..i"));
        assert_eq!(tenancy_of(&cert_with(&["opc-instance:x"])), None);
        assert_eq!(tenancy_of(&cert_with(&["opc-tenant:"])), None);
        assert_eq!(tenancy_of(&cert_with(&[])), None);
    }

    #[test]
    fn fingerprints_and_sanitised_pem_are_as_the_go_sdk_makes_them() {
        assert_eq!(
            fingerprint(b"abc"),
            "ba:78:16:bf:8f:01:cf:ea:41:41:40:de:5d:ae:22:23:b0:03:61:a3:96:17:7a:9c:b4:10:ff:61:f2:00:15:ad"
        );
        assert_eq!(
            sanitize("-----BEGIN CERTIFICATE-----\nAAA\r\nBBB\n-----END CERTIFICATE-----\n"),
            "AAABBB"
        );
    }

    /// The federation request of the official Python SDK's `InstancePrincipalsSecurityTokenSigner`
    /// (tests/data/oci-signing/x509/make_vectors.py): `sdk` is its own request, keyId
    /// `<tenancy>/fed-x509/<SHA-1>` and no `fingerprintAlgorithm`; `sha256_key_id_variant` is the
    /// same SDK path with the Go SDK's keyId and `fingerprintAlgorithm`, which vauto sends.
    #[test]
    fn federation_requests_are_signed_as_the_official_sdk_signs_them() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/oci-signing/x509");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/vectors.json")).unwrap())
                .unwrap();
        let s = |k: &str| v[k].as_str().unwrap();
        let (sdk, go) = (&v["sdk"], &v["sha256_key_id_variant"]);
        let leaf = Certificate::from_pem(s("leaf_certificate_pem").trim().as_bytes()).unwrap();
        let der = leaf.to_der().unwrap();

        // (1) The keyId: the tenancy of the leaf's subject and its fingerprint.
        let tenancy = tenancy_of(&leaf).unwrap();
        assert_eq!(tenancy, s("tenancy"));
        assert_eq!(fingerprint(&der), s("leaf_fingerprint_sha256"));
        assert_eq!(
            federation_key_id(&tenancy, &der),
            go["key_id"].as_str().unwrap()
        );
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
        let sha1: Vec<_> = sha1.as_ref().iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(sha1.join(":"), s("leaf_fingerprint_sha1"));
        assert_eq!(
            sdk["key_id"].as_str().unwrap(),
            format!("{tenancy}/fed-x509/{}", sha1.join(":"))
        );

        // (2) The body: the same sanitised PEMs; vauto adds `fingerprintAlgorithm`.
        let (leaf_pem, public_pem, intermediate_pem) = (
            s("leaf_certificate_pem"),
            s("session_public_key_pem"),
            s("intermediate_certificate_pem"),
        );
        let body = |vec: &serde_json::Value| {
            let b = B64.decode(vec["body_base64"].as_str().unwrap()).unwrap();
            let json: serde_json::Value = serde_json::from_slice(&b).unwrap();
            (b, json)
        };
        let (_, sdk_json) = body(sdk);
        assert_eq!(sdk_json["certificate"], sanitize(leaf_pem));
        assert_eq!(sdk_json["publicKey"], sanitize(public_pem));
        assert_eq!(
            sdk_json["intermediateCertificates"],
            serde_json::json!([sanitize(intermediate_pem)])
        );
        let ours: serde_json::Value =
            serde_json::from_str(&federation_body(leaf_pem, public_pem, intermediate_pem)).unwrap();
        let keys =
            |j: &serde_json::Value| j.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(&sdk_json),
            ["certificate", "publicKey", "intermediateCertificates"]
        );
        assert_eq!(keys(&ours), keys(&body(go).1));
        assert_eq!(ours, body(go).1);

        // (3) The signed headers, byte for byte, for both keyIds.
        let leaf_key =
            parse_private_key(s("leaf_key_pem"), None, "the TEST-ONLY leaf key").unwrap();
        let date = chrono::DateTime::parse_from_rfc2822(s("date"))
            .unwrap()
            .with_timezone(&chrono::Utc);
        for vec in [sdk, go] {
            let (bytes, _) = body(vec);
            let h = federation_headers(
                vec["url"].as_str().unwrap(),
                &bytes,
                vec["key_id"].as_str().unwrap(),
                &leaf_key,
                date,
            )
            .unwrap();
            let want = &vec["headers_after_signing"];
            for k in [
                "authorization",
                "x-content-sha256",
                "content-length",
                "content-type",
                "date",
            ] {
                assert_eq!(h[k].to_str().unwrap(), want[k].as_str().unwrap(), "{k}");
            }
            assert_eq!(h.len(), 5, "vauto sets no other header");
        }
    }

    #[test]
    fn the_metadata_and_auth_urls_follow_the_overrides() {
        let env = |k: &str| match k {
            METADATA_BASE_ENV => Some("http://127.0.0.1:1/opc/v2/".to_string()),
            _ => None,
        };
        let ip = InstancePrincipal::new(&env, Some("http://127.0.0.1:2/"), Duration::from_secs(1))
            .unwrap();
        assert_eq!(ip.metadata_base, "http://127.0.0.1:1/opc/v2");
        assert_eq!(ip.auth_base.as_deref(), Some("http://127.0.0.1:2"));
        let env = |k: &str| match k {
            AUTH_URL_ENV => Some("https://auth.example".to_string()),
            _ => None,
        };
        let ip = InstancePrincipal::new(&env, Some("http://127.0.0.1:2"), Duration::from_secs(1))
            .unwrap();
        assert_eq!(ip.metadata_base, DEFAULT_METADATA_BASE);
        assert_eq!(ip.auth_base.as_deref(), Some("https://auth.example"));
    }
}
