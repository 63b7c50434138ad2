//! Session tokens the simulator issues and accepts as `keyId="ST$<token>"`, as OCI accepts the
//! UPST of `oci session authenticate` and a resource principal's RPST (oracle/oci-python-sdk
//! `src/oci/auth/signers/security_token_signer.py`: `SECURITY_TOKEN_FORMAT_STRING = 'ST${}'`).
//!
//! A token is JWT-shaped: `exp`, `iat`, the tenancy (`tenant`, or `res_tenant` for a resource
//! principal) and `jwk`, the session public key the request must be signed with (OCI's UPST
//! carries the session key the same way; the SDKs read `exp` and the `res_*` claims without
//! verifying, `security_token_container.py`). The simulator signs its tokens with HMAC-SHA256
//! under a secret kept in its state directory, so it accepts only the tokens it issued.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ring::hmac;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::traits::PublicKeyParts as _;
use rsa::{BigUint, RsaPublicKey};

use super::catalog::TENANCY_OCID;

/// File of the token-signing secret inside `<state_dir>/sim/oci/`.
const SECRET_FILE: &str = "session-token-secret";

fn secret(dir: &Path) -> Result<hmac::Key, String> {
    let path = dir.join(SECRET_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) if b.len() >= 32 => b,
        _ => {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
            let mut b = [0u8; 32];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
                .map_err(|_| "cannot draw a random secret".to_string())?;
            super::tenancy::write_atomic(&path, &b)?;
            b.to_vec()
        }
    };
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
}

/// Issues a session token for the simulated tenancy, bound to the session key `public_pem`
/// (SPKI PEM) and good until `exp` (epoch seconds). `claims` adds or overrides claims, e.g.
/// `{"res_tenant": …, "res_compartment": …}` for a resource principal token.
pub fn issue_session_token(
    state_dir: &Path,
    public_pem: &str,
    exp: i64,
    claims: &serde_json::Value,
) -> Result<String, String> {
    let key = RsaPublicKey::from_public_key_pem(public_pem.trim())
        .map_err(|_| "the session public key is not an SPKI PEM RSA key".to_string())?;
    let jwk = serde_json::json!({
        "kty": "RSA",
        "n": B64URL.encode(key.n().to_bytes_be()),
        "e": B64URL.encode(key.e().to_bytes_be()),
    });
    let mut payload = serde_json::json!({
        "iss": "authService.oracle.com",
        "sub": "ocid1.user.oc1..aaaaaaaasimsession",
        "tenant": TENANCY_OCID,
        "iat": chrono::Utc::now().timestamp(),
        "exp": exp,
        // OCI's UPST carries the JWK as a JSON string.
        "jwk": jwk.to_string(),
    });
    if let (Some(p), Some(extra)) = (payload.as_object_mut(), claims.as_object()) {
        for (k, v) in extra {
            p.insert(k.clone(), v.clone());
        }
    }
    let head = B64URL.encode(br#"{"alg":"HS256","typ":"JWT","kid":"vauto-sim"}"#);
    let body = B64URL.encode(payload.to_string());
    let signed = format!("{head}.{body}");
    let tag = hmac::sign(&secret(&super::sim_dir(state_dir))?, signed.as_bytes());
    Ok(format!("{signed}.{}", B64URL.encode(tag.as_ref())))
}

/// Checks a token from `keyId="ST$<token>"` against the simulator's secret in `dir`, its `exp`
/// at `now` and its tenancy; returns the session public key the request must be signed with.
/// The error goes into a 401 body and never repeats the token.
pub(crate) fn verify_token(dir: &Path, token: &str, now: i64) -> Result<RsaPublicKey, String> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the security token is not a JWT".into());
    };
    let tag = B64URL
        .decode(s)
        .map_err(|_| "the security token signature is not base64url".to_string())?;
    hmac::verify(&secret(dir)?, format!("{h}.{p}").as_bytes(), &tag)
        .map_err(|_| "the security token was not issued by this service".to_string())?;
    let claims: serde_json::Value = B64URL
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| "the security token payload is not JSON".to_string())?;
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if now >= exp {
        return Err("the security token has expired".into());
    }
    let tenant = claims["res_tenant"]
        .as_str()
        .or_else(|| claims["tenant"].as_str());
    if tenant != Some(TENANCY_OCID) {
        return Err("the security token is for another tenancy".into());
    }
    let jwk: serde_json::Value = claims["jwk"]
        .as_str()
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| "the security token has no session key".to_string())?;
    let part = |name: &str| {
        jwk[name]
            .as_str()
            .and_then(|v| B64URL.decode(v).ok())
            .map(|b| BigUint::from_bytes_be(&b))
            .ok_or_else(|| "the security token's session key is malformed".to_string())
    };
    RsaPublicKey::new(part("n")?, part("e")?)
        .map_err(|_| "the security token's session key is not a valid RSA key".to_string())
}

/// For a request whose `keyId` is `ST$<token>`: the keyId and the session key to verify it
/// with, or why the token is refused; `None` for any other keyId.
pub(crate) fn session_key(
    sim: &super::Sim,
    headers: &http::HeaderMap,
) -> Option<Result<(String, RsaPublicKey), String>> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let parsed = super::auth::parse_authorization(auth).ok()?;
    let token = parsed.key_id.strip_prefix("ST$")?;
    let dir = super::sim_dir(&sim.opts.state_dir);
    Some(
        verify_token(&dir, token, chrono::Utc::now().timestamp())
            .map(|k| (parsed.key_id.clone(), k)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/oci-signing/TEST-ONLY-oci-api-key_public.pem"
    ));

    #[test]
    fn issued_tokens_verify_until_exp_and_forgeries_do_not() {
        let state = tempfile::tempdir().unwrap();
        let dir = super::super::sim_dir(state.path());
        let t = issue_session_token(state.path(), PUBLIC, 2000, &serde_json::json!({})).unwrap();
        let key = verify_token(&dir, &t, 1999).unwrap();
        assert_eq!(key, RsaPublicKey::from_public_key_pem(PUBLIC).unwrap());
        assert_eq!(
            verify_token(&dir, &t, 2000).unwrap_err(),
            "the security token has expired"
        );
        let mut forged = t.clone();
        forged.push('A');
        assert_eq!(
            verify_token(&dir, &forged, 0).unwrap_err(),
            "the security token was not issued by this service"
        );
        let other = issue_session_token(
            state.path(),
            PUBLIC,
            2000,
            &serde_json::json!({"res_tenant": "ocid1.tenancy.oc1..x"}),
        )
        .unwrap();
        assert_eq!(
            verify_token(&dir, &other, 0).unwrap_err(),
            "the security token is for another tenancy"
        );
    }
}
