//! Session-token signing against the built-in OCI simulator on 127.0.0.1: a 401 reloads the
//! token file once (a token renewed meanwhile is used), and a refusal that persists says what to
//! run.

use std::path::Path;
use std::time::Duration;

use super::client::OciClient;
use super::config::resolve;
use crate::model::ErrorClass;
use crate::provider::ConnectOptions;
use crate::sim::oci::{OciSimOptions, catalog, issue_session_token, sim_dir, start};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/oci-signing");

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[tokio::test]
async fn a_401_rereads_the_token_file_once_and_then_names_oci_session_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let simstate = dir.path().join("simstate");
    std::fs::create_dir_all(sim_dir(&simstate)).unwrap();
    std::fs::copy(
        format!("{DATA}/TEST-ONLY-oci-api-key.pem"),
        sim_dir(&simstate).join("oci_api_key.pem"),
    )
    .unwrap();
    let sim = start(OciSimOptions {
        state_dir: simstate.clone(),
        provision_delay: Duration::from_millis(10),
        ..OciSimOptions::default()
    })
    .await
    .unwrap();
    let public =
        std::fs::read_to_string(format!("{DATA}/TEST-ONLY-oci-api-key_public.pem")).unwrap();
    let exp = chrono::Utc::now().timestamp() + 3600;
    let good = issue_session_token(&simstate, &public, exp, &serde_json::json!({})).unwrap();
    // Same claims, but not signed by the simulator: the client cannot tell, the server refuses.
    let forged = {
        let (head, _) = good.rsplit_once('.').unwrap();
        format!("{head}.Zm9yZ2Vk")
    };
    write(dir.path(), "token", &forged);
    write(
        dir.path(),
        "config",
        &format!(
            "[SESS]\nkey_file={DATA}/TEST-ONLY-oci-api-key.pem\ntenancy={}\nregion={}\nsecurity_token_file=token\n",
            catalog::TENANCY_OCID,
            catalog::REGION
        ),
    );
    let project = crate::config::testing::project(&format!(
        "provider: oci\noci:\n  auth: security_token\n  config_file: {}/config\n  profile: SESS\n  subnet: s\n  endpoint: {}\n",
        dir.path().display(),
        sim.base_url()
    ));
    let conn = resolve(&project, &ConnectOptions::default()).unwrap();
    assert_eq!(
        conn.origin,
        format!("profile `SESS` in `{}/config`", dir.path().display())
    );
    let dbg = format!("{conn:?}");
    assert!(
        !dbg.contains(&forged) && dbg.contains("ST$<redacted>"),
        "{dbg}"
    );
    let client = OciClient::new(&conn, None).unwrap();

    // Renewed on disk (as `oci session refresh` does) after vauto loaded the old one.
    write(dir.path(), "token", &good);
    let ads = client
        .list_availability_domains(&conn.tenancy)
        .await
        .unwrap();
    assert!(!ads.is_empty());
    assert_eq!(conn.signer.key_id(), format!("ST${good}"));

    // Refused again after the reload: the error says what to run, and never shows the token.
    write(dir.path(), "token", &forged);
    conn.signer.reload().unwrap();
    let e = client
        .list_availability_domains(&conn.tenancy)
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Auth);
    assert!(
        e.message.starts_with("not authenticated: the session of profile `SESS` may have ended: run `oci session refresh --profile SESS`, and check the clock (401 `NotAuthenticated`:"),
        "{}",
        e.message
    );
    assert!(!e.message.contains(&forged[..40]));
    sim.shutdown().await;
}

/// A simulator whose instance identity key is the test-only key (no key generation) and
/// whose requests are logged; `ttl` is the life of its session tokens.
async fn principal_sim(
    simstate: &Path,
    ttl: Duration,
    log: &std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) -> crate::sim::oci::OciSim {
    std::fs::create_dir_all(sim_dir(simstate)).unwrap();
    for f in ["oci_api_key.pem", crate::sim::oci::LEAF_KEY_FILE] {
        std::fs::copy(
            format!("{DATA}/TEST-ONLY-oci-api-key.pem"),
            sim_dir(simstate).join(f),
        )
        .unwrap();
    }
    start(OciSimOptions {
        state_dir: simstate.to_path_buf(),
        provision_delay: Duration::from_millis(10),
        session_ttl: ttl,
        request_log: Some(log.clone()),
        ..OciSimOptions::default()
    })
    .await
    .unwrap()
}

/// An instance principal project on `sim`, connected through its metadata service.
async fn principal_connection(sim: &crate::sim::oci::OciSim) -> super::config::OciConnection {
    let project = crate::config::testing::project(&format!(
        "provider: oci\noci:\n  auth: instance_principal\n  subnet: s\n  endpoint: {}\n",
        sim.base_url()
    ));
    let opts = ConnectOptions {
        oci_metadata_base: Some(format!("{}/opc/v2", sim.base_url())),
        ..ConnectOptions::default()
    };
    let fed = super::config::instance_principal(&project, &opts)
        .await
        .unwrap();
    super::config::resolve_with(&project, &opts, Some(fed)).unwrap()
}

fn federations(log: &std::sync::Mutex<Vec<String>>) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|l| *l == "POST /v1/x509")
        .count()
}

#[tokio::test]
async fn an_instance_principal_federates_once_renews_after_a_401_and_before_exp() {
    let dir = tempfile::tempdir().unwrap();
    let simstate = dir.path().join("simstate");
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sim = principal_sim(&simstate, Duration::from_secs(3600), &log).await;
    let conn = principal_connection(&sim).await;
    assert_eq!(conn.tenancy, catalog::TENANCY_OCID);
    assert_eq!(conn.origin, "the instance metadata service");
    let dbg = format!("{conn:?}");
    assert!(!dbg.contains("eyJ"), "a token in Debug: {dbg}");
    let client = OciClient::new(&conn, None).unwrap();
    // Every metadata read carried `Authorization: Bearer Oracle` (v2 refuses others).
    assert_eq!(
        log.lock().unwrap().clone(),
        [
            "GET /opc/v2/identity/cert.pem",
            "GET /opc/v2/identity/key.pem",
            "GET /opc/v2/identity/intermediate.pem",
            "GET /opc/v2/instance/region",
            "POST /v1/x509",
        ]
    );
    client
        .list_availability_domains(&conn.tenancy)
        .await
        .unwrap();
    client
        .list_availability_domains(&conn.tenancy)
        .await
        .unwrap();
    assert_eq!(federations(&log), 1, "a good token is reused");
    let first = conn.signer.key_id();
    assert!(first.starts_with("ST$"));

    // The service stops accepting the token (its signing secret rotates): the 401 renews the
    // token once and the call succeeds.
    std::fs::remove_file(sim_dir(&simstate).join("session-token-secret")).unwrap();
    client
        .list_availability_domains(&conn.tenancy)
        .await
        .unwrap();
    assert_eq!(federations(&log), 2);
    assert_ne!(conn.signer.key_id(), first);
    sim.shutdown().await;

    // Tokens good for less than the renewal margin (60 s) are renewed before each call.
    let simstate = dir.path().join("simstate2");
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sim = principal_sim(&simstate, Duration::from_secs(30), &log).await;
    let conn = principal_connection(&sim).await;
    let client = OciClient::new(&conn, None).unwrap();
    client
        .list_availability_domains(&conn.tenancy)
        .await
        .unwrap();
    assert_eq!(federations(&log), 2, "renewed before the call");
    sim.shutdown().await;
}

/// Answers one HTTP request with `status` and an OCI error body, after reading it whole.
async fn answer_once(listener: tokio::net::TcpListener, status: u16) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (mut s, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.unwrap();
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break;
            }
        }
        if n == 0 {
            break;
        }
    }
    let body = r#"{"code":"X","message":"from the stand-in"}"#;
    let resp = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(resp.as_bytes()).await.unwrap();
}

#[tokio::test]
async fn a_busy_auth_service_is_retried_later_and_a_refusal_is_an_auth_error() {
    use super::instance_principal::{AUTH_URL_ENV, InstancePrincipal, METADATA_BASE_ENV};
    let dir = tempfile::tempdir().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sim = principal_sim(
        &dir.path().join("simstate"),
        Duration::from_secs(3600),
        &log,
    )
    .await;
    let metadata = format!("{}/opc/v2", sim.base_url());
    for (status, class) in [
        (503, ErrorClass::Transient),
        (429, ErrorClass::Throttled),
        (401, ErrorClass::Auth),
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let auth_url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(answer_once(listener, status));
        let var = |k: &str| match k {
            METADATA_BASE_ENV => Some(metadata.clone()),
            AUTH_URL_ENV => Some(auth_url.clone()),
            _ => None,
        };
        let ip = InstancePrincipal::new(&var, None, Duration::from_secs(10)).unwrap();
        let e = match ip.federate(None).await {
            Err(e) => e,
            Ok(_) => panic!("{status}: the stand-in never issues a token"),
        };
        assert_eq!(e.class, class, "{status}: {}", e.message);
        assert!(e.message.contains("from the stand-in"), "{}", e.message);
        server.await.unwrap();
    }
    sim.shutdown().await;
}
