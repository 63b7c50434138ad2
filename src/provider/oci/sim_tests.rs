//! End-to-end test of the provider against the built-in OCI simulator on 127.0.0.1, which
//! checks every signature: deploy, wait, status, power and delete, and the retry tokens.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::client::ImageQuery;
use super::generations::read_generations;
use super::provider::OciProvider;
use super::resources::{Resolved, launch_details, retry_token};
use crate::config::Project;
use crate::model::{DeleteOptions, ErrorClass, ErrorCode, Event, Outcome, Power, Recorder, Scope};
use crate::plan::{DesiredInstance, Plan, ownership_labels};
use crate::provider::{ConnectOptions, Placement, Provider};
use crate::sim::oci::{AdCapacity, CapacityModel, OciSim, OciSimOptions, sim_dir, start};

const VECTOR_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/vectors/oci-signing/TEST-ONLY-oci-api-key.pem"
);

/// A simulator whose AD-1 is always full and whose lists answer one item per page, logging
/// every signed request into `log`.
async fn simulator(dir: &Path, log: Arc<Mutex<Vec<String>>>) -> OciSim {
    // A key already in place spares the sim generating one (slow in a debug build).
    let keys = sim_dir(dir);
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(VECTOR_KEY, keys.join("oci_api_key.pem")).unwrap();
    let mut capacity = CapacityModel::default();
    capacity.per_ad.insert(
        "AD-1".into(),
        AdCapacity {
            free_after_attempts: u64::MAX,
            ..AdCapacity::default()
        },
    );
    start(OciSimOptions {
        state_dir: dir.to_path_buf(),
        capacity,
        page_size: 1,
        provision_delay: Duration::from_millis(1500),
        transition_delay: Duration::from_millis(300),
        request_log: Some(log),
        ..OciSimOptions::default()
    })
    .await
    .unwrap()
}

fn plan_and_instance(config_file: &Path) -> (Plan, DesiredInstance) {
    let project: Project = serde_yaml::from_str(&format!(
        "name: lab\nprovider: oci\noci:\n  config_file: {}\n  subnet: public subnet-main-vcn\n",
        config_file.display()
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

/// The simulator's saved state (instances and retry tokens).
fn sim_state(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(sim_dir(dir).join("state.json")).unwrap()).unwrap()
}

/// The instance `id` in the simulator's state.
fn sim_instance(dir: &Path, id: &str) -> Value {
    sim_state(dir)["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .cloned()
        .unwrap()
}

/// The logged requests that start with `prefix`.
fn logged(log: &Mutex<Vec<String>>, prefix: &str) -> Vec<String> {
    let log = log.lock().unwrap();
    log.iter()
        .filter(|r| r.starts_with(prefix))
        .cloned()
        .collect()
}

#[tokio::test]
async fn deploy_wait_status_power_delete_against_the_simulator() {
    let simstate = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sim = simulator(simstate.path(), log.clone()).await;
    let (plan, inst) = plan_and_instance(&sim.config_file());
    let opts = ConnectOptions {
        state_dir: state.path().to_path_buf(),
        oci_endpoint: Some(sim.base_url()),
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
    const LAUNCH: &str = "POST /20160918/instances";

    let placements = p.placements(&plan, &inst).await.unwrap();
    let labels: Vec<String> = placements.iter().map(|p| p.info().label).collect();
    assert_eq!(
        labels,
        [
            "SIM-REGION-1-AD-1 2 OCPU/12 GB",
            "SIM-REGION-1-AD-2 2 OCPU/12 GB",
            "SIM-REGION-1-AD-3 2 OCPU/12 GB",
            "SIM-REGION-1-AD-1 1 OCPU/6 GB",
            "SIM-REGION-1-AD-2 1 OCPU/6 GB",
            "SIM-REGION-1-AD-3 1 OCPU/6 GB"
        ]
    );

    // Someone else's instance with the same name, and a terminated one of ours.
    let compartment = p.connection().compartment_id().to_string();
    let images = p
        .client()
        .list_images(
            &compartment,
            &ImageQuery {
                operating_system: Some("Canonical Ubuntu".into()),
                operating_system_version: Some("22.04".into()),
                shape: Some("VM.Standard.A1.Flex".into()),
            },
        )
        .await
        .unwrap();
    let ids = Resolved {
        compartment_id: compartment,
        subnet_id: crate::sim::oci::catalog::SUBNET_ID.into(),
        subnet_dns: true,
        image_id: images[0].id.clone(),
    };
    let ours = launch_details(&plan, &inst, &placements[1], &ids);
    let mut foreign = ours.clone();
    foreign["freeformTags"] = json!({});
    p.client()
        .launch_instance(&foreign, "foreign")
        .await
        .unwrap();
    let (dead, _) = p.client().launch_instance(&ours, "dead").await.unwrap();
    p.client()
        .terminate_instance(&dead.id, false)
        .await
        .unwrap();
    assert!(p.list(&scope).await.unwrap().is_empty());
    log.lock().unwrap().clear();

    let a = p.create(&plan, &inst, &placements[0], &rec).await;
    assert_eq!(
        a.error.as_ref().map(|e| e.class),
        Some(ErrorClass::Capacity),
        "{a:?}"
    );
    let a = p.create(&plan, &inst, &placements[1], &rec).await;
    assert!(a.error.is_none(), "{a:?}");
    assert_eq!(a.reports[0].outcome, Outcome::Success);
    let details = &a.reports[0].details;
    assert_eq!(
        details.availability_domain.as_deref().unwrap_or_default(),
        "Kyqh:SIM-REGION-1-AD-2"
    );
    let id = details.id.clone().unwrap();
    // The launch that landed carried the generation-0 token.
    let token0 = retry_token("lab", "a1", "a1-01", 0);
    assert_eq!(
        sim_state(simstate.path())["retry_tokens"][&token0]["instance_id"],
        id.as_str()
    );
    let saved: Value =
        serde_json::from_slice(&std::fs::read(state.path().join("launch/a1-01.json")).unwrap())
            .unwrap();
    assert_eq!(saved["id"], id.as_str());
    // OCI's version filter is exact and Minimal builds carry versions like `22.04 Minimal
    // aarch64`, so the version is matched client-side.
    let image_queries = logged(&log, "GET /20160918/images?");
    assert!(!image_queries.is_empty());
    for q in &image_queries {
        assert!(q.contains("operatingSystem=Canonical") && q.contains("sortBy=TIMECREATED"));
        assert!(!q.contains("operatingSystemVersion"), "{q}");
    }

    // A second deploy finds it by its tags and launches nothing.
    let again = p.create(&plan, &inst, &placements[1], &rec).await;
    assert_eq!(again.reports[0].outcome, Outcome::Skipped, "{again:?}");
    assert_eq!(logged(&log, LAUNCH).len(), 2);

    let up = p
        .wait_running("a1-01", Duration::from_secs(20), &rec)
        .await
        .unwrap();
    let vnic = sim_instance(simstate.path(), &id);
    let public = vnic["public_ip"].as_str().unwrap();
    assert_eq!(
        up.details.ssh.as_deref().unwrap_or_default(),
        format!("ssh ubuntu@{public}")
    );
    assert_eq!(
        up.details.private_ip.as_deref().unwrap_or_default(),
        vnic["private_ip"].as_str().unwrap()
    );
    let phases: Vec<String> = rec
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Progress { phase, .. } => Some(phase),
            _ => None,
        })
        .collect();
    assert_eq!(phases, ["PROVISIONING", "RUNNING"]);

    log.lock().unwrap().clear();
    let rows = p.status(&scope).await.unwrap();
    // Status lists the compartment's attachments (every page) instead of once per instance.
    let lists = logged(&log, "GET /20160918/vnicAttachments");
    let pages = sim_state(simstate.path())["instances"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(lists.len(), pages, "{lists:?}");
    assert!(lists.iter().all(|l| !l.contains("instanceId")), "{lists:?}");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].ip, up.details.private_ip);
    assert_eq!(rows[0].state, "RUNNING");
    assert_eq!(rows[0].public_ip.as_deref(), Some(public));
    assert_eq!(
        rows[0].size.as_deref(),
        Some("VM.Standard.A1.Flex 2 OCPU/12 GB")
    );

    let existing = p.list(&scope).await.unwrap();
    assert_eq!(existing.len(), 1);
    assert_eq!(existing[0].id, id);
    assert_eq!(
        p.power(&existing[0], Power::Stop, true).await.outcome,
        Outcome::Success
    );
    assert_eq!(
        p.power(&existing[0], Power::Stop, false).await.outcome,
        Outcome::Skipped
    );
    let actions = logged(&log, &format!("POST /20160918/instances/{id}"));
    assert_eq!(
        actions,
        [format!("POST /20160918/instances/{id}?action=STOP")]
    );

    let del = p.delete(&existing[0], &DeleteOptions::default()).await;
    assert_eq!(del[0].outcome, Outcome::Deleted, "{del:?}");
    assert_eq!(
        logged(&log, "DELETE "),
        [format!(
            "DELETE /20160918/instances/{id}?preserveBootVolume=false"
        )]
    );
    assert!(p.list(&scope).await.unwrap().is_empty());
    // The next deploy uses a fresh token, so OCI cannot hand back the deleted instance; a
    // token already used with other details (409 InvalidatedRetryToken) moves it on once more.
    let token1 = retry_token("lab", "a1", "a1-01", 1);
    p.client().launch_instance(&foreign, &token1).await.unwrap();
    let refused = p.create(&plan, &inst, &placements[1], &rec).await;
    let e = refused.error.expect("409 InvalidatedRetryToken");
    assert_eq!(e.class, ErrorClass::Transient);
    assert_eq!(e.code, ErrorCode::RetryTokenInvalidated, "{}", e.message);
    let redeploy = p.create(&plan, &inst, &placements[1], &rec).await;
    assert!(redeploy.error.is_none(), "{redeploy:?}");
    let token2 = retry_token("lab", "a1", "a1-01", 2);
    assert_eq!(
        sim_state(simstate.path())["retry_tokens"][&token2]["instance_id"],
        redeploy.reports[0].details.id.as_deref().unwrap()
    );
    let gens = read_generations(&state.path().join("oci/generations.json"));
    assert_eq!(gens["lab/a1/a1-01"], 2);
    sim.shutdown().await;
}
