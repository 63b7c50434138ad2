//! End-to-end tests of the provider against a tiny OCI stub on 127.0.0.1 that verifies
//! every signature; the full simulator lives in `sim/`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::generations::read_generations;
use super::provider::OciProvider;
use crate::config::Project;
use crate::model::Recorder;
use crate::model::{DeleteOptions, ErrorClass, ErrorCode, Event, Outcome, Power, Scope};
use crate::plan::ownership_labels;
use crate::plan::{DesiredInstance, Plan};
use crate::provider::Placement;
use crate::provider::oci::resources::retry_token;
use crate::provider::oci::signer::signing_string;
use crate::provider::{ConnectOptions, Provider};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::{HeaderMap, Method, StatusCode, Uri};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex as StdMutex};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/oci-signing");

#[derive(Default)]
struct Stub {
    instances: Vec<Value>,
    tokens: Vec<String>,
    launches: usize,
    actions: Vec<String>,
    invalidate_next: bool,
    /// The `instanceId` of each ListVnicAttachments page asked for (`None`: the compartment).
    attachment_lists: Vec<Option<String>>,
}

type Shared = Arc<StdMutex<Stub>>;

fn verify(method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
    let pem =
        std::fs::read_to_string(format!("{VECTORS}/TEST-ONLY-oci-api-key_public.pem")).unwrap();
    let public = RsaPublicKey::from_public_key_pem(&pem).unwrap();
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let Ok((string, _)) = signing_string(method, target, headers) else {
        return false;
    };
    let Some(auth) = headers.get("authorization").and_then(|a| a.to_str().ok()) else {
        return false;
    };
    let Some(sig) = auth
        .split("signature=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
    else {
        return false;
    };
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(sig) else {
        return false;
    };
    public
        .verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(string.as_bytes()),
            &sig,
        )
        .is_ok()
}

fn query(uri: &Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.replace('+', " ").replace("%3A", ":").replace("%2F", "/"),
            )
        })
        .collect()
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

fn err(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

async fn handle(
    State(st): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !verify(&method, &uri, &headers) {
        return err(
            StatusCode::UNAUTHORIZED,
            "NotAuthenticated",
            "bad signature",
        );
    }
    let q = query(&uri);
    let path = uri.path().trim_start_matches("/20160918").to_string();
    let mut st = st.lock().unwrap();
    match (method.as_str(), path.as_str()) {
        ("GET", "/availabilityDomains") => {
            ok(json!([{"name": "Xy:AP-TEST-1-AD-1"}, {"name": "Xy:AP-TEST-1-AD-2"}]))
        }
        ("GET", "/subnets") => ok(json!([
            {"id": "ocid1.subnet.oc1..other", "displayName": "private"},
            {"id": "ocid1.subnet.oc1..s", "displayName": "public subnet-main-vcn"}
        ])),
        ("GET", "/images") => {
            assert_eq!(q["operatingSystem"], "Canonical Ubuntu");
            assert_eq!(q["sortBy"], "TIMECREATED");
            // The version is matched client-side: OCI's filter is exact and Minimal
            // builds carry versions like `22.04 Minimal aarch64`.
            assert!(!q.contains_key("operatingSystemVersion"));
            ok(json!([
                {"id": "ocid1.image.oc1..new", "displayName": "Canonical-Ubuntu-22.04-Minimal-aarch64-2025.01.01-0",
                 "operatingSystem": "Canonical Ubuntu", "operatingSystemVersion": "22.04 Minimal aarch64", "timeCreated": "2025-01-01T00:00:00Z"},
                {"id": "ocid1.image.oc1..x86", "displayName": "Canonical-Ubuntu-22.04-2025.02.01-0",
                 "operatingSystem": "Canonical Ubuntu", "operatingSystemVersion": "22.04", "timeCreated": "2025-02-01T00:00:00Z"},
                {"id": "ocid1.image.oc1..old", "displayName": "Canonical-Ubuntu-20.04-aarch64-2025.03.01-0",
                 "operatingSystem": "Canonical Ubuntu", "operatingSystemVersion": "20.04", "timeCreated": "2025-03-01T00:00:00Z"}
            ]))
        }
        ("POST", "/instances") => {
            let token = headers
                .get("opc-retry-token")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            let details: Value = serde_json::from_slice(&body).unwrap();
            if details["availabilityDomain"] == "Xy:AP-TEST-1-AD-1" {
                return err(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "Out of host capacity.",
                );
            }
            if std::mem::take(&mut st.invalidate_next) {
                return err(
                    StatusCode::CONFLICT,
                    "InvalidatedRetryToken",
                    "retry token was used with different details",
                );
            }
            st.tokens.push(token);
            st.launches += 1;
            let id = format!("ocid1.instance.oc1..{}", st.launches);
            let inst = json!({
                "id": id, "displayName": details["displayName"], "lifecycleState": "PROVISIONING",
                "availabilityDomain": details["availabilityDomain"], "shape": details["shape"],
                "shapeConfig": details["shapeConfig"], "freeformTags": details["freeformTags"],
                "compartmentId": details["compartmentId"], "timeCreated": "2026-01-01T00:00:00Z"
            });
            st.instances.push(inst.clone());
            ok(inst)
        }
        ("GET", "/instances") => {
            // One instance per page, so paging is exercised.
            let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
            let items: Vec<&Value> = st
                .instances
                .iter()
                .filter(|i| {
                    q.get("displayName")
                        .is_none_or(|n| i["displayName"] == n.as_str())
                })
                .collect();
            let mut resp = ok(json!(
                items
                    .get(page)
                    .map(|v| vec![(*v).clone()])
                    .unwrap_or_default()
            ));
            if page + 1 < items.len() {
                resp.headers_mut()
                    .insert("opc-next-page", (page + 1).to_string().parse().unwrap());
            }
            resp
        }
        ("GET", "/vnicAttachments") => {
            st.attachment_lists.push(q.get("instanceId").cloned());
            // Per instance: a detached old VNIC (never looked up) and the attached one; an
            // unmanaged instance's attachment too. One instance per page, so paging is
            // exercised.
            let mut ids: Vec<String> = st
                .instances
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_string))
                .collect();
            ids.push("ocid1.instance.oc1..unmanaged".into());
            ids.retain(|id| q.get("instanceId").is_none_or(|want| want == id));
            let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
            let items = ids.get(page).map(|id| json!([
                {"id": "va-old", "instanceId": id, "vnicId": "ocid1.vnic.oc1..gone", "lifecycleState": "DETACHED"},
                {"id": "va", "instanceId": id, "vnicId": "ocid1.vnic.oc1..v", "lifecycleState": "ATTACHED"}
            ]));
            let mut resp = ok(items.unwrap_or_else(|| json!([])));
            if page + 1 < ids.len() {
                resp.headers_mut()
                    .insert("opc-next-page", (page + 1).to_string().parse().unwrap());
            }
            resp
        }
        ("GET", "/vnics/ocid1.vnic.oc1..v") => ok(
            json!({"id": "v", "privateIp": "10.0.0.5", "publicIp": "203.0.113.7", "isPrimary": true}),
        ),
        (m, p) if p.starts_with("/instances/") => {
            let id = p.trim_start_matches("/instances/").to_string();
            let Some(inst) = st.instances.iter_mut().find(|i| i["id"] == id.as_str()) else {
                return err(
                    StatusCode::NOT_FOUND,
                    "NotAuthorizedOrNotFound",
                    "not found",
                );
            };
            match m {
                "GET" => {
                    // Each look moves a new instance one step towards RUNNING.
                    if inst["lifecycleState"] == "PROVISIONING" {
                        inst["lifecycleState"] = json!("STARTING");
                    } else if inst["lifecycleState"] == "STARTING" {
                        inst["lifecycleState"] = json!("RUNNING");
                    }
                    ok(inst.clone())
                }
                "DELETE" => {
                    assert_eq!(q["preserveBootVolume"], "false");
                    inst["lifecycleState"] = json!("TERMINATED");
                    StatusCode::NO_CONTENT.into_response()
                }
                "POST" => {
                    assert!(body.is_empty());
                    let action = q["action"].clone();
                    inst["lifecycleState"] = json!(if action == "STOP" {
                        "STOPPED"
                    } else {
                        "RUNNING"
                    });
                    let out = inst.clone();
                    st.actions.push(action);
                    ok(out)
                }
                _ => err(StatusCode::BAD_REQUEST, "InvalidParameter", "verb"),
            }
        }
        _ => err(StatusCode::NOT_FOUND, "NotFound", "no route"),
    }
}

async fn stub() -> (String, Shared) {
    let st: Shared = Arc::default();
    {
        let mut s = st.lock().unwrap();
        // Someone else's instance with the same name, and a terminated one of ours.
        s.instances.push(json!({"id": "ocid1.instance.oc1..foreign", "displayName": "a1-01", "lifecycleState": "RUNNING", "freeformTags": {}}));
        let tags = ownership_labels("lab", "a1", "a1-01");
        s.instances.push(json!({"id": "ocid1.instance.oc1..dead", "displayName": "a1-01", "lifecycleState": "TERMINATED", "freeformTags": tags}));
    }
    let app = axum::Router::new().fallback(handle).with_state(st.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), st)
}

fn plan_and_instance() -> (Plan, DesiredInstance) {
    let project: Project = serde_yaml::from_str(&format!(
        "name: lab\nprovider: oci\noci:\n  config_file: {VECTORS}/config\n  subnet: public subnet-main-vcn\n"
    ))
    .unwrap();
    let spec: crate::config::Spec = serde_yaml::from_str(
        "name: a1\nshape: VM.Standard.A1.Flex\nocpus: 2\nmemory_gb: 12\nimage: {os: \"Canonical Ubuntu\", os_version: \"22.04\", name_contains: [aarch64]}\nfallback: [{ocpus: 1, memory_gb: 6}]\n",
    )
    .unwrap();
    let inst = DesiredInstance {
        name: "a1-01".into(),
        index: 0,
        project: "lab".into(),
        spec: "a1".into(),
        labels: ownership_labels("lab", "a1", "a1-01"),
        static_ip: None,
        user_data: "#cloud-config\n".into(),
        network_data: None,
        ssh_authorized_keys: vec!["ssh-ed25519 AAAA k".into()],
    };
    (
        Plan {
            project,
            spec,
            instances: vec![inst.clone()],
            notes: vec![],
            target: None,
        },
        inst,
    )
}

#[tokio::test]
async fn deploy_wait_status_power_delete_against_a_signature_checking_stub() {
    let (endpoint, st) = stub().await;
    let state = tempfile::tempdir().unwrap();
    let (plan, inst) = plan_and_instance();
    let opts = ConnectOptions {
        state_dir: state.path().to_path_buf(),
        oci_endpoint: Some(endpoint),
        simulated: true,
        ..ConnectOptions::default()
    };
    let p = OciProvider::connect(&plan.project, &opts).await.unwrap();
    let rec = Recorder::default();
    let scope = Scope {
        project: "lab".into(),
        spec: Some("a1".into()),
        target: None,
    };

    // Only the terminated and the foreign instance exist: nothing of ours.
    assert!(p.list(&scope).await.unwrap().is_empty());

    let placements = p.placements(&plan, &inst).await.unwrap();
    let labels: Vec<String> = placements.iter().map(|p| p.info().label).collect();
    assert_eq!(
        labels,
        [
            "AP-TEST-1-AD-1 2 OCPU/12 GB",
            "AP-TEST-1-AD-2 2 OCPU/12 GB",
            "AP-TEST-1-AD-1 1 OCPU/6 GB",
            "AP-TEST-1-AD-2 1 OCPU/6 GB"
        ]
    );

    let a = p.create(&plan, &inst, &placements[0], &rec).await;
    assert_eq!(
        a.error.as_ref().map(|e| e.class),
        Some(ErrorClass::Capacity),
        "{a:?}"
    );
    let a = p.create(&plan, &inst, &placements[1], &rec).await;
    assert!(a.error.is_none(), "{a:?}");
    assert_eq!(a.reports[0].outcome, Outcome::Success);
    assert_eq!(
        a.reports[0]
            .details
            .availability_domain
            .as_deref()
            .unwrap_or_default(),
        "Xy:AP-TEST-1-AD-2"
    );
    assert_eq!(
        st.lock().unwrap().tokens,
        vec![retry_token("lab", "a1", "a1-01", 0)]
    );
    let saved: Value =
        serde_json::from_slice(&std::fs::read(state.path().join("launch/a1-01.json")).unwrap())
            .unwrap();
    assert_eq!(saved["id"], "ocid1.instance.oc1..1");

    // A second deploy finds it by its tags and launches nothing.
    let again = p.create(&plan, &inst, &placements[1], &rec).await;
    assert_eq!(again.reports[0].outcome, Outcome::Skipped, "{again:?}");
    assert_eq!(st.lock().unwrap().launches, 1);

    let up = p
        .wait_running("a1-01", Duration::from_secs(20), &rec)
        .await
        .unwrap();
    assert_eq!(
        up.details.ssh.as_deref().unwrap_or_default(),
        "ssh ubuntu@203.0.113.7"
    );
    assert_eq!(
        up.details.private_ip.as_deref().unwrap_or_default(),
        "10.0.0.5"
    );
    let phases: Vec<String> = rec
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Progress { phase, .. } => Some(phase),
            _ => None,
        })
        .collect();
    assert_eq!(phases, ["STARTING", "RUNNING"]);

    st.lock().unwrap().attachment_lists.clear();
    let rows = p.status(&scope).await.unwrap();
    // Status lists the compartment's attachments (every page) instead of once per instance.
    let lists = st.lock().unwrap().attachment_lists.clone();
    let pages = st.lock().unwrap().instances.len() + 1;
    assert_eq!(lists, vec![None; pages]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].ip.as_deref(), Some("10.0.0.5"));
    assert_eq!(rows[0].state, "RUNNING");
    assert_eq!(rows[0].public_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(
        rows[0].size.as_deref(),
        Some("VM.Standard.A1.Flex 2 OCPU/12 GB")
    );

    let existing = p.list(&scope).await.unwrap();
    assert_eq!(existing.len(), 1);
    assert_eq!(existing[0].id, "ocid1.instance.oc1..1");
    assert_eq!(
        p.power(&existing[0], Power::Stop, true).await.outcome,
        Outcome::Success
    );
    assert_eq!(
        p.power(&existing[0], Power::Stop, false).await.outcome,
        Outcome::Skipped
    );
    assert_eq!(st.lock().unwrap().actions, ["STOP"]);

    let del = p.delete(&existing[0], &DeleteOptions::default()).await;
    assert_eq!(del[0].outcome, Outcome::Deleted, "{del:?}");
    assert!(p.list(&scope).await.unwrap().is_empty());
    // The next deploy uses a fresh token, so OCI cannot hand back the deleted instance;
    // an invalidated token moves it on once more.
    st.lock().unwrap().invalidate_next = true;
    let refused = p.create(&plan, &inst, &placements[1], &rec).await;
    let e = refused.error.expect("409 InvalidatedRetryToken");
    assert_eq!(e.class, ErrorClass::Transient);
    assert_eq!(e.code, ErrorCode::RetryTokenInvalidated, "{}", e.message);
    let redeploy = p.create(&plan, &inst, &placements[1], &rec).await;
    assert!(redeploy.error.is_none(), "{redeploy:?}");
    assert_eq!(
        st.lock().unwrap().tokens[1],
        retry_token("lab", "a1", "a1-01", 2)
    );
    let gens = read_generations(&state.path().join("oci/generations.json"));
    assert_eq!(gens["lab/a1/a1-01"], 2);
}
