//! The instance principal's two services: the instance metadata service (IMDS) that hands an
//! instance its identity certificate, and the auth service's `POST /v1/x509` that exchanges
//! that certificate for a session token.
//!
//! - IMDS (OCI "Getting Instance Metadata", docs.oracle.com/iaas/Content/Compute/Tasks/
//!   gettingmetadata.htm): `/opc/v2/...` requires `Authorization: Bearer Oracle` and rejects
//!   requests without it and forwarded requests (`Forwarded`, `X-Forwarded-For`,
//!   `X-Forwarded-Host`); `/opc/v1/...` needs no header and answers 404 once v1 is disabled.
//!   The identity files are `identity/cert.pem` (the leaf certificate, subject
//!   `OU=opc-tenant:<tenancy>` among others), `identity/key.pem` (its RSA key) and
//!   `identity/intermediate.pem`; `instance/region` is the region name.
//! - Federation (oracle/oci-go-sdk `common/auth/federation_client.go`
//!   `x509FederationClient.getSecurityToken`, oracle/oci-python-sdk
//!   `src/oci/auth/federation_client.py`): a JSON body `{certificate, publicKey,
//!   intermediateCertificates, fingerprintAlgorithm}` (base64 DER without PEM armour), signed
//!   with the leaf key as `keyId="<tenancy>/fed-x509-sha256/<SHA-256 of the leaf>"` over
//!   `date (request-target) content-length content-type x-content-sha256`; the answer is
//!   `{"token": "<JWT>"}` bound to `publicKey`. The simulator accepts only its own leaf
//!   certificate and issues its own session tokens (see `sessions.rs`).
//!
//! These routes sit outside the API-key signature check of `gate.rs`: IMDS is unauthenticated
//! but for its header, and the federation request carries its own signature.

use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, StatusCode};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, LineEnding};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest as _, Sha256};

use super::Sim;
use super::auth::{VerifyContext, verify_request};
use super::catalog::{REGION, TENANCY_OCID};
use super::error::{ApiError, error};

/// The leaf certificate's RSA key (generated once; a test may put a key there first).
pub const LEAF_KEY_FILE: &str = "instance-identity-key.pem";
const LEAF_CERT_FILE: &str = "instance-identity-cert.pem";
const INTERMEDIATE_FILE: &str = "instance-identity-intermediate.pem";
/// The simulated instance whose identity the metadata service hands out.
pub const INSTANCE_OCID: &str =
    "ocid1.instance.oc1.sim-region-1.anprincipal0000000000000000000000000000000000000000";

/// The instance identity: certificate, key and intermediate, as PEM, and what the auth
/// service checks a federation request against.
pub(crate) struct Identity {
    leaf_pem: String,
    key_pem: String,
    intermediate_pem: String,
    leaf_b64: String,
    leaf_public: RsaPublicKey,
    key_id: String,
}

/// SHA-256 of DER as lowercase colon-separated hex (Go SDK `fingerprint`).
fn sha256_fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Loads or makes the instance identity in `dir` (the sim's folder). Blocking: it may
/// generate an RSA key.
pub(crate) fn ensure(dir: &Path) -> Result<Identity, String> {
    let key_path = dir.join(LEAF_KEY_FILE);
    let key = match std::fs::read_to_string(&key_path) {
        Ok(pem) => RsaPrivateKey::from_pkcs8_pem(pem.trim())
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem.trim()))
            .map_err(|_| format!("`{}` is not an RSA PEM key", key_path.display()))?,
        Err(_) => {
            let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
                .map_err(|e| format!("cannot generate the instance key: {e}"))?;
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|_| "cannot encode the instance key".to_string())?;
            super::tenancy::write_atomic(&key_path, pem.as_bytes())?;
            key
        }
    };
    let key_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| "cannot encode the instance key".to_string())?
        .to_string();
    let (leaf_pem, intermediate_pem) = match (
        std::fs::read_to_string(dir.join(LEAF_CERT_FILE)),
        std::fs::read_to_string(dir.join(INTERMEDIATE_FILE)),
    ) {
        (Ok(l), Ok(i)) if leaf_matches(&l, &key) => (l, i),
        _ => {
            let (l, i) = certificates(&key_pem)?;
            super::tenancy::write_atomic(&dir.join(LEAF_CERT_FILE), l.as_bytes())?;
            super::tenancy::write_atomic(&dir.join(INTERMEDIATE_FILE), i.as_bytes())?;
            (l, i)
        }
    };
    let der = pem_der(&leaf_pem).ok_or("the instance certificate is not PEM")?;
    Ok(Identity {
        leaf_b64: B64.encode(&der),
        key_id: format!(
            "{TENANCY_OCID}/fed-x509-sha256/{}",
            sha256_fingerprint(&der)
        ),
        leaf_public: RsaPublicKey::from(&key),
        leaf_pem,
        key_pem,
        intermediate_pem,
    })
}

/// The DER inside one PEM block.
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    B64.decode(b64).ok()
}

/// Whether the stored leaf certificate carries `key`'s public key (a key put in place by a
/// test replaces a certificate made for another key).
fn leaf_matches(leaf_pem: &str, key: &RsaPrivateKey) -> bool {
    use rsa::pkcs8::EncodePublicKey as _;
    let (Some(der), Ok(spki)) = (
        pem_der(leaf_pem),
        RsaPublicKey::from(key).to_public_key_der(),
    ) else {
        return false;
    };
    der.windows(spki.as_bytes().len())
        .any(|w| w == spki.as_bytes())
}

/// An intermediate CA and a leaf certificate for the key, with the subject an OCI instance
/// certificate has: `CN=<instance>`, `OU=opc-instance:<ocid>`, `OU=opc-tenant:<tenancy>`.
fn certificates(key_pem: &str) -> Result<(String, String), String> {
    use chrono::Datelike;
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa,
        KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256, date_time_ymd,
    };
    let err = |e: rcgen::Error| format!("cannot make the instance certificate: {e}");
    let from = chrono::Utc::now().date_naive() - chrono::Days::new(1);
    let small = |d: u32| u8::try_from(d).unwrap_or(1);
    let not_before = date_time_ymd(from.year(), small(from.month()), small(from.day()));
    let not_after = date_time_ymd(from.year() + 1, small(from.month()), 1);

    let mut ca = CertificateParams::default();
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name.push(
        DnType::CommonName,
        "PKISVC Identity Intermediate sim-region-1",
    );
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let issuer =
        CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(err)?).map_err(err)?;

    let mut leaf = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, INSTANCE_OCID);
    // rcgen keeps one value per attribute type; `CustomDnType` with OU's OID (2.5.4.11) is
    // a second key that encodes as OU too, so the subject has two OUs (a real one has four:
    // opc-certtype, opc-instance, opc-compartment, opc-tenant; clients read opc-tenant).
    dn.push(
        DnType::OrganizationalUnitName,
        format!("opc-instance:{INSTANCE_OCID}"),
    );
    dn.push(
        DnType::CustomDnType(vec![2, 5, 4, 11]),
        format!("opc-tenant:{TENANCY_OCID}"),
    );
    leaf.distinguished_name = dn;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.use_authority_key_identifier_extension = true;
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let leaf_key = KeyPair::from_pkcs8_pem_and_sign_algo(key_pem, &PKCS_RSA_SHA256).map_err(err)?;
    let cert = leaf.signed_by(&leaf_key, &issuer).map_err(err)?;
    Ok((cert.pem(), issuer.pem()))
}

/// The identity, made on first use.
async fn identity(sim: &Sim) -> Result<Arc<Identity>, ApiError> {
    let dir = super::sim_dir(&sim.opts.state_dir);
    sim.identity
        .get_or_try_init(|| async move {
            tokio::task::spawn_blocking(move || ensure(&dir))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r)
                .map(Arc::new)
        })
        .await
        .cloned()
        .map_err(|e| {
            tracing::warn!(error = %e, "oci simulator cannot make the instance identity");
            super::error::internal("The instance identity could not be made.")
        })
}

fn text(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "text/plain")], body).into_response()
}

/// `GET /opc/{version}/{a}/{b}`: the metadata the instance principal reads.
pub(crate) async fn metadata(
    State(sim): State<Arc<Sim>>,
    UrlPath((version, a, b)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let not_found = || Ok(text(StatusCode::NOT_FOUND, "Not Found".into()));
    match version.as_str() {
        "v1" if sim.opts.imds_v1 => {}
        "v2" if sim.opts.imds_v2 => {
            if ["forwarded", "x-forwarded-for", "x-forwarded-host"]
                .iter()
                .any(|h| headers.contains_key(*h))
            {
                return Ok(text(StatusCode::FORBIDDEN, "Forbidden".into()));
            }
            let bearer = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == "Bearer Oracle");
            if !bearer {
                return Ok(text(StatusCode::UNAUTHORIZED, "Unauthorized".into()));
            }
        }
        _ => return not_found(),
    }
    let body = match (a.as_str(), b.as_str()) {
        ("instance", "region") => REGION.to_string(),
        ("instance", "id") => INSTANCE_OCID.to_string(),
        ("identity", "cert.pem") => identity(&sim).await?.leaf_pem.clone(),
        ("identity", "key.pem") => identity(&sim).await?.key_pem.clone(),
        ("identity", "intermediate.pem") => identity(&sim).await?.intermediate_pem.clone(),
        _ => return not_found(),
    };
    Ok(text(StatusCode::OK, body))
}

fn refused(why: &str) -> ApiError {
    error(
        StatusCode::UNAUTHORIZED,
        "NotAuthenticated",
        &format!(
            "The required information to complete authentication was not provided or was incorrect: {why}"
        ),
    )
}

/// `POST /v1/x509`: a session token for the instance's leaf certificate.
pub(crate) async fn federate(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = identity(&sim).await?;
    let skew = chrono::Duration::from_std(sim.opts.max_clock_skew)
        .unwrap_or_else(|_| chrono::Duration::minutes(5));
    let ctx = VerifyContext {
        key_id: &id.key_id,
        public_key: &id.leaf_public,
        clock: Some((chrono::Utc::now(), skew)),
        host_signed: false,
    };
    verify_request("POST", "/v1/x509", &headers, &body, &ctx).map_err(|why| refused(&why))?;
    let req: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "The request body is not valid JSON.",
        )
    })?;
    let field = |k: &str| req[k].as_str().unwrap_or_default();
    if field("fingerprintAlgorithm") != "SHA256" {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "fingerprintAlgorithm must be SHA256.",
        ));
    }
    if field("certificate") != id.leaf_b64 {
        return Err(refused("the certificate is not the one this keyId names"));
    }
    let public = B64
        .decode(field("publicKey"))
        .ok()
        .and_then(|der| RsaPublicKey::from_public_key_der(&der).ok())
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
                "publicKey is not a base64 DER RSA public key.",
            )
        })?;
    let public_pem = {
        use rsa::pkcs8::EncodePublicKey as _;
        public
            .to_public_key_pem(LineEnding::LF)
            .map_err(|_| super::error::internal("The session key could not be encoded."))?
    };
    let ttl = i64::try_from(sim.opts.session_ttl.as_secs()).unwrap_or(1200);
    let token = super::sessions::issue_session_token(
        &sim.opts.state_dir,
        &public_pem,
        chrono::Utc::now().timestamp() + ttl,
        &serde_json::json!({"ptype": "instance", "sub": INSTANCE_OCID, "opc-instance": INSTANCE_OCID}),
    )
    .map_err(|e| {
        tracing::warn!(error = %e, "oci simulator cannot issue a session token");
        super::error::internal("The session token could not be issued.")
    })?;
    Ok(Json(serde_json::json!({"token": token})).into_response())
}
