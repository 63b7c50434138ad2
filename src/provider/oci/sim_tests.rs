//! End-to-end test of the provider against the built-in OCI simulator on 127.0.0.1, which
//! checks every signature: deploy, wait, status, power and delete, and the retry tokens.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::client::ImageQuery;
use super::generations::read_generations;
use super::provider::OciProvider;
use super::resources::{OciPlacement, Resolved, launch_details, retry_token};
use crate::config::Project;
use crate::model::{
    DeleteOptions, ErrorClass, ErrorCode, Event, Outcome, Power, Recorder, Scope, StatusOptions,
};
use crate::plan::{DesiredInstance, Plan, ownership_labels};
use crate::provider::{ConnectOptions, Placement, Provider};
use crate::sim::oci::{AdCapacity, CapacityModel, OciSim, OciSimOptions, sim_dir, start};

const VECTOR_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/oci-signing/TEST-ONLY-oci-api-key.pem"
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
    let project: Project = crate::config::testing::project(&format!(
        "name: lab\nprovider: oci\noci:\n  config_file: {}\n  subnet: public subnet-main-vcn\n",
        config_file.display()
    ));
    let spec = crate::config::testing::spec(
        "name: a1\nshape: VM.Standard.A1.Flex\nocpus: 2\nmemory_gb: 12\nimage: {os: \"Canonical Ubuntu\", os_version: \"22.04\", name_contains: [aarch64]}\nfallback: [{ocpus: 1, memory_gb: 6}]\n",
        crate::config::ProviderKind::Oci,
    );
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

/// One provider against one simulator, and what the round trip checks.
struct World {
    simstate: tempfile::TempDir,
    state: tempfile::TempDir,
    log: Arc<Mutex<Vec<String>>>,
    sim: OciSim,
    p: OciProvider,
    plan: Plan,
    inst: DesiredInstance,
    placements: Vec<OciPlacement>,
    rec: Recorder,
    scope: Scope,
}

const LAUNCH: &str = "POST /20160918/instances";

impl World {
    async fn new() -> World {
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
        let placements = p.placements(&plan, &inst).await.unwrap();
        let scope = Scope {
            spec: Some("a1".into()),
            target: None,
            select: None,
        };
        World {
            simstate,
            state,
            log,
            sim,
            p,
            plan,
            inst,
            placements,
            rec: Recorder::default(),
            scope,
        }
    }

    /// Launch details of our instance at AD-2, as the provider would send them.
    async fn our_launch_body(&self) -> Value {
        let compartment = self.p.connection().compartment_id().to_string();
        let images = self
            .p
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
        launch_details(
            self.plan.spec.oci().unwrap(),
            &self.inst,
            &self.placements[1],
            &ids,
        )
    }

    /// Another project's instance with the same name (an untagged one would stop the
    /// deploy: `lights::a_look_alike_is_not_launched_twice...`), and a terminated one of
    /// ours; answers the foreign launch body.
    async fn seed(&self) -> Value {
        let ours = self.our_launch_body().await;
        let mut foreign = ours.clone();
        foreign["freeformTags"] = json!({"v-auto/managed": "true", "v-auto/project": "other", "v-auto/spec": "a1", "v-auto/name": "a1-01"});
        let client = self.p.client();
        client.launch_instance(&foreign, "foreign").await.unwrap();
        let (dead, _) = client.launch_instance(&ours, "dead").await.unwrap();
        client.terminate_instance(&dead.id, false).await.unwrap();
        assert!(self.p.list(&self.scope).await.unwrap().is_empty());
        self.log.lock().unwrap().clear();
        foreign
    }

    async fn create(&self, placement: usize) -> crate::provider::Attempt {
        self.p
            .create(
                &self.plan,
                &self.inst,
                &self.placements[placement],
                &self.rec,
            )
            .await
    }

    /// AD-1 is full, AD-2 takes it; answers the instance id.
    async fn deploy(&self) -> String {
        let a = self.create(0).await;
        assert_eq!(
            a.error.as_ref().map(|e| e.class),
            Some(ErrorClass::Capacity),
            "{a:?}"
        );
        let a = self.create(1).await;
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
            sim_state(self.simstate.path())["retry_tokens"][&token0]["instance_id"],
            id.as_str()
        );
        let saved: Value = serde_json::from_slice(
            &std::fs::read(self.state.path().join("launch/a1-01.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(saved["id"], id.as_str());
        // OCI's version filter is exact and Minimal builds carry versions like `22.04 Minimal
        // aarch64`, so the version is matched client-side.
        let image_queries = logged(&self.log, "GET /20160918/images?");
        assert!(!image_queries.is_empty());
        for q in &image_queries {
            assert!(q.contains("operatingSystem=Canonical") && q.contains("sortBy=TIMECREATED"));
            assert!(!q.contains("operatingSystemVersion"), "{q}");
        }

        // A second deploy finds it by its tags and launches nothing.
        let again = self.create(1).await;
        assert_eq!(again.reports[0].outcome, Outcome::Skipped, "{again:?}");
        assert_eq!(logged(&self.log, LAUNCH).len(), 2);
        id
    }

    /// Waits for RUNNING and the addresses of the instance the sim gave.
    async fn wait(&self, id: &str) {
        let up = self
            .p
            .wait_running("a1-01", Duration::from_secs(20), &self.rec)
            .await
            .unwrap();
        let vnic = sim_instance(self.simstate.path(), id);
        let public = vnic["public_ip"].as_str().unwrap();
        assert_eq!(
            up.details.ssh.as_deref().unwrap_or_default(),
            format!("ssh ubuntu@{public}")
        );
        assert_eq!(
            up.details.private_ip.as_deref().unwrap_or_default(),
            vnic["private_ip"].as_str().unwrap()
        );
        let mut phases: Vec<String> = self
            .rec
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Progress { phase, .. } => Some(phase),
                _ => None,
            })
            .collect();
        // The wait reports the state on every look; the changes are what matter here.
        phases.dedup();
        assert_eq!(phases, ["PROVISIONING", "RUNNING"]);
    }

    async fn status(&self, id: &str) {
        let vnic = sim_instance(self.simstate.path(), id);
        self.log.lock().unwrap().clear();
        let rows = self
            .p
            .status(&self.scope, &StatusOptions::default())
            .await
            .unwrap();
        // Status lists the compartment's attachments (every page) instead of once per instance.
        let lists = logged(&self.log, "GET /20160918/vnicAttachments");
        let pages = sim_state(self.simstate.path())["instances"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(lists.len(), pages, "{lists:?}");
        assert!(lists.iter().all(|l| !l.contains("instanceId")), "{lists:?}");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].ip.as_deref(), vnic["private_ip"].as_str());
        assert_eq!(rows[0].state, "RUNNING");
        assert_eq!(rows[0].public_ip.as_deref(), vnic["public_ip"].as_str());
        assert_eq!(
            rows[0].size.as_deref(),
            Some("VM.Standard.A1.Flex 2 OCPU/12 GB")
        );
    }

    async fn power_and_delete(&self, id: &str) {
        let existing = self.p.list(&self.scope).await.unwrap();
        assert_eq!(existing.len(), 1);
        assert_eq!(existing[0].id, id);
        assert_eq!(
            self.p
                .power(&existing[0], Power::Stop, Some(Duration::from_secs(60)))
                .await
                .unwrap()
                .outcome,
            Outcome::Success
        );
        assert_eq!(
            self.p
                .power(&existing[0], Power::Stop, None)
                .await
                .unwrap()
                .outcome,
            Outcome::Skipped
        );
        let actions = logged(&self.log, &format!("POST /20160918/instances/{id}"));
        assert_eq!(
            actions,
            [format!("POST /20160918/instances/{id}?action=STOP")]
        );

        let del = self
            .p
            .delete(&existing[0], &DeleteOptions::default())
            .await
            .reports;
        assert_eq!(del[0].outcome, Outcome::Deleted, "{del:?}");
        assert_eq!(
            logged(&self.log, "DELETE "),
            [format!(
                "DELETE /20160918/instances/{id}?preserveBootVolume=false"
            )]
        );
        assert!(self.p.list(&self.scope).await.unwrap().is_empty());
    }

    /// After the delete a fresh token; one already used with other details (409
    /// InvalidatedRetryToken) moves it on once more.
    async fn redeploy(&self, foreign: &Value) {
        let token1 = retry_token("lab", "a1", "a1-01", 1);
        self.p
            .client()
            .launch_instance(foreign, &token1)
            .await
            .unwrap();
        let refused = self.create(1).await;
        let e = refused.error.expect("409 InvalidatedRetryToken");
        assert_eq!(e.class, ErrorClass::Transient);
        assert_eq!(e.code, ErrorCode::RetryTokenInvalidated, "{}", e.message);
        let redeploy = self.create(1).await;
        assert!(redeploy.error.is_none(), "{redeploy:?}");
        let token2 = retry_token("lab", "a1", "a1-01", 2);
        assert_eq!(
            sim_state(self.simstate.path())["retry_tokens"][&token2]["instance_id"],
            redeploy.reports[0].details.id.as_deref().unwrap()
        );
        let gens = read_generations(&self.state.path().join("oci/generations.json"));
        assert_eq!(gens["lab/a1/a1-01"], 2);
    }
}

#[tokio::test]
async fn deploy_wait_status_power_delete_against_the_simulator() {
    let w = World::new().await;
    let labels: Vec<String> = w.placements.iter().map(|p| p.info().label).collect();
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
    let foreign = w.seed().await;
    let id = w.deploy().await;
    w.wait(&id).await;
    w.status(&id).await;
    w.power_and_delete(&id).await;
    w.redeploy(&foreign).await;
    w.sim.shutdown().await;
}

#[tokio::test]
async fn an_instance_terminated_while_waiting_for_running_fails_the_wait_at_once() {
    let w = World::new().await;
    let a = w.create(1).await;
    let id = a.reports[0].details.id.clone().unwrap();
    w.p.client().terminate_instance(&id, false).await.unwrap();
    let started = std::time::Instant::now();
    let e =
        w.p.wait_running("a1-01", Duration::from_secs(20), &w.rec)
            .await
            .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.class, ErrorClass::Invalid);
    assert_eq!(
        e.message,
        "instance `a1-01` is TERMINATING while waiting for RUNNING"
    );
    w.sim.shutdown().await;
}

/// `image.compartment` sends ListImages to that compartment, not the project's (the request
/// the simulator saw is the proof: it lists platform images in any compartment, as OCI does).
#[tokio::test]
async fn image_compartment_sends_list_images_to_that_compartment() {
    let w = World::new().await;
    let spec = crate::config::testing::spec(
        "name: a1\nshape: VM.Standard.A1.Flex\nocpus: 2\nmemory_gb: 12\nimage: {compartment: ocid1.compartment.oc1..images, os: \"Canonical Ubuntu\", os_version: \"22.04\", name_contains: [aarch64]}\n",
        crate::config::ProviderKind::Oci,
    );
    let project_compartment = w.p.connection().compartment_id().to_string();
    w.log.lock().unwrap().clear();
    let image = super::image::Images::default()
        .resolve(
            w.p.client(),
            &project_compartment,
            spec.oci().unwrap(),
            &w.rec,
        )
        .await
        .unwrap();
    assert!(image.id.starts_with("ocid1.image."), "{image:?}");
    let queries = logged(&w.log, "GET /20160918/images?");
    assert!(!queries.is_empty());
    for q in &queries {
        assert!(
            q.contains("compartmentId=ocid1.compartment.oc1..images"),
            "{q}"
        );
        assert!(!q.contains(&project_compartment), "{q}");
    }
}
