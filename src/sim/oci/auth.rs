//! Server-side verification of OCI request signatures, written independently of the client signer.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier as _;
use sha2::{Digest as _, Sha256};

/// The parameters of an `Authorization: Signature ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignatureHeader {
    pub key_id: String,
    pub algorithm: Option<String>,
    pub headers: Vec<String>,
    pub signature: String,
    pub version: Option<String>,
}

/// Parses `Signature algorithm="..",headers="..",keyId="..",signature="..",version="1"`.
pub(crate) fn parse_authorization(value: &str) -> Result<SignatureHeader, String> {
    let rest = value
        .strip_prefix("Signature ")
        .ok_or_else(|| "the Authorization header is not an HTTP signature".to_string())?;
    let mut key_id = None;
    let mut algorithm = None;
    let mut headers = None;
    let mut signature = None;
    let mut version = None;
    let mut s = rest.trim_start();
    while !s.is_empty() {
        let eq = s
            .find('=')
            .ok_or_else(|| "malformed Authorization header".to_string())?;
        let name = s[..eq].trim();
        let after = &s[eq + 1..];
        let after = after
            .strip_prefix('"')
            .ok_or_else(|| format!("Authorization parameter {name} is not quoted"))?;
        let end = after
            .find('"')
            .ok_or_else(|| format!("Authorization parameter {name} is not terminated"))?;
        let val = after[..end].to_string();
        match name {
            "keyId" => key_id = Some(val),
            "algorithm" => algorithm = Some(val),
            "headers" => headers = Some(val),
            "signature" => signature = Some(val),
            "version" => version = Some(val),
            // Unknown parameters are ignored, as the draft-cavage scheme allows.
            _ => {}
        }
        s = after[end + 1..].trim_start();
        s = s.strip_prefix(',').unwrap_or(s).trim_start();
    }
    Ok(SignatureHeader {
        key_id: key_id.ok_or_else(|| "the signature has no keyId".to_string())?,
        algorithm,
        // The draft says a missing list means only `date` is signed.
        headers: headers
            .unwrap_or_else(|| "date".to_string())
            .split(' ')
            .filter(|h| !h.is_empty())
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        signature: signature.ok_or_else(|| "the signature has no signature value".to_string())?,
        version,
    })
}

/// Whether the method carries a body whose hash OCI requires to be signed.
fn has_body(method: &str) -> bool {
    matches!(
        method.to_ascii_uppercase().as_str(),
        "POST" | "PUT" | "PATCH"
    )
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| format!("header {name} is not ASCII")),
    }
}

/// Rebuilds the signing string for `parsed.headers` from the request as received.
pub(crate) fn signing_string(
    method: &str,
    target: &str,
    headers: &HeaderMap,
    parsed: &SignatureHeader,
) -> Result<String, String> {
    let mut lines = Vec::with_capacity(parsed.headers.len());
    for name in &parsed.headers {
        if name == "(request-target)" {
            lines.push(format!(
                "(request-target): {} {target}",
                method.to_ascii_lowercase()
            ));
        } else {
            let value = header_str(headers, name)?
                .ok_or_else(|| format!("signed header {name} is missing from the request"))?;
            lines.push(format!("{name}: {value}"));
        }
    }
    Ok(lines.join("\n"))
}

/// What a verification needs besides the request itself.
pub(crate) struct VerifyContext<'a> {
    /// The keyId (`tenancy/user/fingerprint`) the sim's tenancy accepts.
    pub key_id: &'a str,
    /// The public key registered for that keyId.
    pub public_key: &'a RsaPublicKey,
    /// The server clock and the allowed skew; `None` skips the date check (fixed-date vectors).
    pub clock: Option<(DateTime<Utc>, chrono::Duration)>,
    /// Whether `host` must be signed: every API call; not the auth service's `/v1/x509`,
    /// which the SDKs sign without it (oracle/oci-go-sdk `federation_client.go`).
    pub host_signed: bool,
}

/// Verifies the request signature the way OCI does; the error text goes into a 401 body.
pub(crate) fn verify_request(
    method: &str,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
    ctx: &VerifyContext<'_>,
) -> Result<(), String> {
    let auth = header_str(headers, "authorization")?
        .ok_or_else(|| "the request has no Authorization header".to_string())?;
    let parsed = parse_authorization(auth)?;
    if let Some(alg) = &parsed.algorithm
        && alg != "rsa-sha256"
    {
        return Err(format!("signature algorithm {alg} is not supported"));
    }
    if let Some(v) = &parsed.version
        && v != "1"
    {
        return Err(format!("signature version {v} is not supported"));
    }
    if parsed.key_id != ctx.key_id {
        return Err(format!(
            "the keyId {} is not known (check tenancy, user and fingerprint)",
            parsed.key_id
        ));
    }
    let signed = |h: &str| parsed.headers.iter().any(|x| x == h);
    let mut required = vec!["(request-target)"];
    if ctx.host_signed {
        required.push("host");
    }
    if has_body(method) {
        required.extend(["content-length", "content-type", "x-content-sha256"]);
    }
    for h in required {
        if !signed(h) {
            return Err(format!("header {h} must be signed"));
        }
    }
    if !signed("date") && !signed("x-date") {
        return Err("header date must be signed".to_string());
    }
    let string = signing_string(method, target, headers, &parsed)?;
    let sig_bytes = B64
        .decode(parsed.signature.as_bytes())
        .map_err(|_| "the signature is not valid base64".to_string())?;
    let sig = Signature::try_from(sig_bytes.as_slice())
        .map_err(|_| "the signature is malformed".to_string())?;
    VerifyingKey::<Sha256>::new(ctx.public_key.clone())
        .verify(string.as_bytes(), &sig)
        .map_err(|_| "the signature does not match the request".to_string())?;
    if let Some((now, skew)) = ctx.clock {
        let date = match header_str(headers, "x-date")? {
            Some(d) if signed("x-date") => d,
            _ => header_str(headers, "date")?.unwrap_or_default(),
        };
        let when = DateTime::parse_from_rfc2822(date)
            .map_err(|_| format!("the date header {date} is not an HTTP date"))?
            .with_timezone(&Utc);
        if (now - when).abs() > skew {
            return Err(format!(
                "the date header {date} is more than {} minutes off the server clock",
                skew.num_minutes()
            ));
        }
    }
    if has_body(method) {
        let want = B64.encode(Sha256::digest(body));
        if header_str(headers, "x-content-sha256")? != Some(want.as_str()) {
            return Err("x-content-sha256 does not match the request body".to_string());
        }
        let len = header_str(headers, "content-length")?.unwrap_or_default();
        if len.trim() != body.len().to_string() {
            return Err("content-length does not match the request body".to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePublicKey as _;
    use serde_json::Value;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/oci-signing");
    const KEY_ID: &str = "ocid1.tenancy.oc1..aaaatest/ocid1.user.oc1..aaaatest/a4:3f:7f:d6:f3:ce:8a:ce:4a:a5:c4:66:a5:3e:e5:47";

    fn public_key() -> RsaPublicKey {
        let pem =
            std::fs::read_to_string(format!("{DIR}/TEST-ONLY-oci-api-key_public.pem")).unwrap();
        RsaPublicKey::from_public_key_pem(&pem).unwrap()
    }

    /// (name, method, target, headers, body) for every vector file and captured CLI request.
    fn cases() -> Vec<(String, String, String, HeaderMap, Vec<u8>)> {
        let mut out = Vec::new();
        for f in [
            "a_list_instances",
            "b_launch_instance",
            "c_terminate_instance",
            "d_instance_action_stop",
            "e_list_availability_domains",
            "f_list_instances_encoded_query",
            "g_update_instance_utf8_body",
        ] {
            let v: Value =
                serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/{f}.json")).unwrap())
                    .unwrap();
            let rt = v["request_target"].as_str().unwrap();
            let (_, target) = rt.split_once(' ').unwrap();
            let mut headers = HeaderMap::new();
            for (k, val) in v["headers_after_signing"].as_object().unwrap() {
                headers.insert(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    val.as_str().unwrap().parse().unwrap(),
                );
            }
            let body = B64.decode(v["body_base64"].as_str().unwrap()).unwrap();
            out.push((
                f.to_string(),
                v["method"].as_str().unwrap().to_string(),
                target.to_string(),
                headers,
                body,
            ));
        }
        let lines =
            std::fs::read_to_string(format!("{DIR}/oci-cli-captured-requests.jsonl")).unwrap();
        for (i, line) in lines.lines().enumerate() {
            let v: Value = serde_json::from_str(line).unwrap();
            let mut headers = HeaderMap::new();
            for (k, val) in v["headers_received"].as_object().unwrap() {
                headers.insert(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    val.as_str().unwrap().parse().unwrap(),
                );
            }
            out.push((
                format!("cli line {i}"),
                v["method"].as_str().unwrap().to_string(),
                v["request_target_path"].as_str().unwrap().to_string(),
                headers,
                v["body"].as_str().unwrap().as_bytes().to_vec(),
            ));
        }
        out
    }

    fn ctx(key: &RsaPublicKey) -> VerifyContext<'_> {
        VerifyContext {
            key_id: KEY_ID,
            public_key: key,
            clock: None,
            host_signed: true,
        }
    }

    #[test]
    fn every_sdk_vector_and_cli_request_verifies() {
        let key = public_key();
        let cases = cases();
        assert_eq!(cases.len(), 12);
        for (name, method, target, headers, body) in &cases {
            verify_request(method, target, headers, body, &ctx(&key))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn signing_string_matches_the_vector_bytes() {
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{DIR}/b_launch_instance.json")).unwrap(),
        )
        .unwrap();
        let (name, method, target, headers, _) = cases().remove(1);
        assert_eq!(name, "b_launch_instance");
        let parsed = parse_authorization(headers["authorization"].to_str().unwrap()).unwrap();
        assert_eq!(parsed.key_id, KEY_ID);
        assert_eq!(
            signing_string(&method, &target, &headers, &parsed).unwrap(),
            v["signing_string"].as_str().unwrap()
        );
    }

    #[test]
    fn one_changed_byte_of_path_or_body_fails() {
        let key = public_key();
        for (name, method, target, headers, body) in cases() {
            let mut bad_target = target.clone().into_bytes();
            let last = bad_target.len() - 1;
            bad_target[last] ^= 0x01;
            let bad_target = String::from_utf8(bad_target).unwrap();
            assert!(
                verify_request(&method, &bad_target, &headers, &body, &ctx(&key)).is_err(),
                "{name}: changed path accepted"
            );
            if !body.is_empty() {
                let mut bad_body = body.clone();
                bad_body[0] ^= 0x01;
                let err =
                    verify_request(&method, &target, &headers, &bad_body, &ctx(&key)).unwrap_err();
                assert!(err.contains("x-content-sha256"), "{name}: {err}");
            }
        }
    }

    #[test]
    fn wrong_key_id_and_stale_date_are_rejected() {
        let key = public_key();
        let (_, method, target, headers, body) = cases().remove(0);
        let other = VerifyContext {
            key_id: "ocid1.tenancy.oc1..other/ocid1.user.oc1..aaaatest/a4:3f",
            ..ctx(&key)
        };
        assert!(
            verify_request(&method, &target, &headers, &body, &other)
                .unwrap_err()
                .contains("keyId")
        );
        // The vectors are dated 2025-01-15 12:00 GMT.
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let five = chrono::Duration::minutes(5);
        let fresh = VerifyContext {
            clock: Some((at("2025-01-15T12:04:00Z"), five)),
            ..ctx(&key)
        };
        verify_request(&method, &target, &headers, &body, &fresh).unwrap();
        let stale = VerifyContext {
            clock: Some((at("2025-01-15T12:06:00Z"), five)),
            ..ctx(&key)
        };
        assert!(
            verify_request(&method, &target, &headers, &body, &stale)
                .unwrap_err()
                .contains("minutes off")
        );
    }

    #[test]
    fn post_without_body_headers_signed_is_rejected() {
        let key = public_key();
        let (_, _, target, headers, body) = cases().remove(0);
        // A GET-style signature (date, target, host) is not enough for a POST.
        let err = verify_request("POST", &target, &headers, &body, &ctx(&key)).unwrap_err();
        assert!(err.contains("must be signed"), "{err}");
    }
}
