//! Lights out: `select:` specs start, stop and report resources vauto did not create (OCI
//! instances, instance pools, Autonomous Databases, Container Instances), and never
//! create, delete or retag them.

use std::time::Duration;

use serde_json::{Value, json};
use vauto::sim::oci::catalog;

use crate::oci::Env;

/// Every OCID the simulator makes ends in 40 letters drawn from its seeded generator.
const OCID: (&str, &str) = (
    r"(ocid1\.[a-z]+\.oc1\.[a-z0-9-]+\.an\d{6})[a-z]{40}",
    "$1[RANDOM]",
);

const IMAGE: &str = "ocid1.image.oc1.sim-region-1.aaaaaaaa04canonicalubuntu2204aarch64202503280";

fn ad() -> String {
    catalog::availability_domains()[0].clone()
}

/// Makes an instance, a pool, a database and a container instance tagged `env: dev`, and an
/// instance tagged `env: prod`, as another tool would; their OCIDs by display name.
fn seed(env: &Env) -> Vec<(String, String)> {
    let tenancy = catalog::TENANCY_OCID;
    let instance = |name: &str, tier: &str| {
        json!({
            "compartmentId": tenancy,
            "availabilityDomain": ad(),
            "displayName": name,
            "shape": "VM.Standard.A1.Flex",
            "shapeConfig": {"ocpus": 1, "memoryInGBs": 6},
            "sourceDetails": {"sourceType": "image", "imageId": IMAGE},
            "createVnicDetails": {"subnetId": catalog::SUBNET_ID},
            "freeformTags": {"env": tier},
        })
    };
    let made = [
        ("/20160918/instances", instance("dev-web", "dev")),
        ("/20160918/instances", instance("prod-web", "prod")),
        (
            "/20160918/instancePools",
            json!({
                "compartmentId": tenancy,
                "displayName": "dev-pool",
                "instanceConfigurationId": "ocid1.instanceconfiguration.oc1..aaaatest",
                "placementConfigurations": [{"availabilityDomain": ad(), "primarySubnetId": catalog::SUBNET_ID}],
                "size": 2,
                "freeformTags": {"env": "dev"},
            }),
        ),
        (
            "/20160918/autonomousDatabases",
            json!({
                "compartmentId": tenancy,
                "displayName": "devdb",
                "dbName": "devdb",
                "computeCount": 2,
                "definedTags": {"Ops": {"env": "dev"}},
                "freeformTags": {"env": "dev"},
            }),
        ),
        (
            "/20210415/containerInstances",
            json!({
                "compartmentId": tenancy,
                "displayName": "dev-ci",
                "availabilityDomain": ad(),
                "shape": "CI.Standard.E4.Flex",
                "shapeConfig": {"ocpus": 1, "memoryInGBs": 4},
                "containers": [{"imageUrl": "registry.local/app:1"}],
                "vnics": [{"subnetId": catalog::SUBNET_ID}],
                "freeformTags": {"env": "dev"},
            }),
        ),
    ];
    let mut ids = Vec::new();
    for (path, body) in made {
        let (status, v) = env.request("POST", path, Some(body));
        assert_eq!(status, 200, "{path}: {v}");
        ids.push((
            v["displayName"].as_str().unwrap().to_string(),
            v["id"].as_str().unwrap().to_string(),
        ));
    }
    // Past PROVISIONING / CREATING.
    std::thread::sleep(Duration::from_millis(700));
    ids
}

fn id_of<'a>(ids: &'a [(String, String)], name: &str) -> &'a str {
    &ids.iter().find(|(n, _)| n == name).unwrap().1
}

/// The lifecycle state and tags of one resource, read back as another client would.
fn look(env: &Env, path: &str) -> (String, Value) {
    let (status, v) = env.request("GET", path, None);
    assert_eq!(status, 200, "{path}: {v}");
    (
        v["lifecycleState"].as_str().unwrap().to_string(),
        v["freeformTags"].clone(),
    )
}

const LIGHTS: &str = "select:
  tags: {env: dev}
  kinds: [instance, instance_pool, autonomous_database, container_instance]
schedules:
  - {cron: \"0 20 * * 1-5\", action: stop}
  - {cron: \"0 8 * * 1-5\", action: start}
";

#[test]
fn a_lights_out_day_stops_and_starts_every_selected_kind_and_changes_nothing_else() {
    let env = Env::new(|_| {});
    let ids = seed(&env);
    std::fs::write(env.t.path().join("specs/lights.yaml"), LIGHTS).unwrap();
    env.t
        .cmd("p lights plan")
        .normalize(OCID.0, OCID.1)
        .stdout(
            "`start`, `stop` and `status` act on 4 resources selected by spec `lights` (vauto never creates, deletes or retags them; it only read):
  Instance           dev-web   RUNNING     ocid1.instance.oc1.sim-region-1.an000001[RANDOM]
  InstancePool       dev-pool  RUNNING     ocid1.instancepool.oc1.sim-region-1.an000003[RANDOM]
  AutonomousDatabase devdb     AVAILABLE   ocid1.autonomousdatabase.oc1.sim-region-1.an000004[RANDOM]
  ContainerInstance  dev-ci    ACTIVE      ocid1.computecontainerinstance.oc1.sim-region-1.an000005[RANDOM]
",
        )
        .run();
    // Evening: a soft stop, one at a time so the lines come in order.
    env.t
        .cmd("p lights stop --soft --wait --parallel 1")
        .normalize(OCID.0, OCID.1)
        .stdout(
            "[SUCCESS] Instance dev-web: stopped (soft stop: the guest shut down)  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]
[SUCCESS] InstancePool dev-pool: stopped (soft stop: the guest shut down)  id=ocid1.instancepool.oc1.sim-region-1.an000003[RANDOM]
[SUCCESS] AutonomousDatabase devdb: stopped  id=ocid1.autonomousdatabase.oc1.sim-region-1.an000004[RANDOM]
[SUCCESS] ContainerInstance dev-ci: stopped  id=ocid1.computecontainerinstance.oc1.sim-region-1.an000005[RANDOM]
stop: 4 resources: 4 stopped in [T]
",
        )
        .run();
    let rows = env
        .t
        .cmd("p lights status -o json")
        .stdout_unchecked()
        .run();
    let rows: Value = serde_json::from_str(&rows.raw_stdout).unwrap();
    let states: Vec<(&str, &str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap(),
                r["name"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("Instance", "dev-web", "STOPPED"),
            ("InstancePool", "dev-pool", "STOPPED"),
            ("AutonomousDatabase", "devdb", "STOPPED"),
            ("ContainerInstance", "dev-ci", "INACTIVE"),
        ]
    );
    // Running it again changes nothing.
    env.t
        .cmd("p lights stop --parallel 1")
        .normalize(OCID.0, OCID.1)
        .stdout(
            "[SKIPPED] Instance dev-web: already stopped  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]
[SKIPPED] InstancePool dev-pool: already stopped  id=ocid1.instancepool.oc1.sim-region-1.an000003[RANDOM]
[SKIPPED] AutonomousDatabase devdb: already stopped  id=ocid1.autonomousdatabase.oc1.sim-region-1.an000004[RANDOM]
[SKIPPED] ContainerInstance dev-ci: already inactive  id=ocid1.computecontainerinstance.oc1.sim-region-1.an000005[RANDOM]
stop: 4 resources: 4 skipped in [T]
",
        )
        .run();
    // Morning.
    env.t
        .cmd("p lights start --wait --parallel 1")
        .normalize(OCID.0, OCID.1)
        .stdout(
            "[SUCCESS] Instance dev-web: started  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]
[SUCCESS] InstancePool dev-pool: started  id=ocid1.instancepool.oc1.sim-region-1.an000003[RANDOM]
[SUCCESS] AutonomousDatabase devdb: started  id=ocid1.autonomousdatabase.oc1.sim-region-1.an000004[RANDOM]
[SUCCESS] ContainerInstance dev-ci: started  id=ocid1.computecontainerinstance.oc1.sim-region-1.an000005[RANDOM]
start: 4 resources: 4 started in [T]
",
        )
        .run();
    // Never deleted, never deployed over, never retagged; what was not selected was not touched.
    for action in ["delete --yes", "deploy"] {
        let word = action.split(' ').next().unwrap();
        env.t
            .cmd(&format!("p lights {action}"))
            .status(2)
            .stderr(format!("error: `{word}` is refused for spec `lights`: it selects existing resources (`select:`), which vauto never creates, deletes or retags; it runs `start`, `stop`, `status` and `plan` (a spec without `select:` describes instances to deploy)\n"))
            .run();
    }
    let paths = [
        format!("/20160918/instances/{}", id_of(&ids, "dev-web")),
        format!("/20160918/instancePools/{}", id_of(&ids, "dev-pool")),
        format!("/20160918/autonomousDatabases/{}", id_of(&ids, "devdb")),
        format!("/20210415/containerInstances/{}", id_of(&ids, "dev-ci")),
    ];
    for path in &paths {
        let (state, tags) = look(&env, path);
        assert!(
            ["RUNNING", "AVAILABLE", "ACTIVE"].contains(&state.as_str()),
            "{path}: {state}"
        );
        assert_eq!(tags, json!({"env": "dev"}), "{path}");
    }
    let (state, tags) = look(
        &env,
        &format!("/20160918/instances/{}", id_of(&ids, "prod-web")),
    );
    assert_eq!((state.as_str(), tags), ("RUNNING", json!({"env": "prod"})));
}

#[test]
fn a_soft_stop_the_guest_ignores_ends_in_stop_and_a_busy_database_is_waited_for() {
    let env = Env::new(|o| o.guest_ignores_softstop = true);
    let ids = seed(&env);
    let spec = format!(
        "select:\n  ids: [{}, {}]\n  kinds: [instance, autonomous_database]\n",
        id_of(&ids, "dev-web"),
        id_of(&ids, "devdb")
    );
    std::fs::write(env.t.path().join("specs/two.yaml"), spec).unwrap();
    // The database is being updated (a scaling, a setting): OCI refuses a stop meanwhile.
    let (status, _) = env.request(
        "PUT",
        &format!("/20160918/autonomousDatabases/{}", id_of(&ids, "devdb")),
        Some(json!({"displayName": "devdb"})),
    );
    assert_eq!(status, 200);
    let (state, _) = look(
        &env,
        &format!("/20160918/autonomousDatabases/{}", id_of(&ids, "devdb")),
    );
    assert_eq!(state, "UPDATING");
    env.t
        .cmd("p two stop --soft --soft-timeout 1s --wait --parallel 1")
        .normalize(OCID.0, OCID.1)
        .stdout(
            "[SUCCESS] Instance dev-web: stopped: the guest did not shut down within 1s of a soft stop; powered off (STOP)  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]
[SUCCESS] AutonomousDatabase devdb: stopped  id=ocid1.autonomousdatabase.oc1.sim-region-1.an000004[RANDOM]
stop: 2 resources: 2 stopped in [T]
",
        )
        .run();
    // `--target` picks one by name or OCID, as for managed instances.
    env.t
        .cmd("p two start --target devdb --wait")
        .normalize(OCID.0, OCID.1)
        .stdout(
            "[SUCCESS] AutonomousDatabase devdb: started  id=ocid1.autonomousdatabase.oc1.sim-region-1.an000004[RANDOM]
start: 1 resource: 1 started in [T]
",
        )
        .run();
}

#[test]
fn a_selection_that_matches_nothing_fails_naming_its_filter() {
    let env = Env::new(|_| {});
    std::fs::write(
        env.t.path().join("specs/none.yaml"),
        "select: {tags: {env: nope}}\n",
    )
    .unwrap();
    for action in ["status", "stop", "plan"] {
        env.t
            .cmd(&format!("p none {action}"))
            .status(1)
            .stderr("error: spec `none` selects nothing: no resource matches tags env=nope; kinds instance in the project's compartment; check the filter with `vauto p none plan`\n")
            .run();
    }
    env.t
        .cmd("p none stop --soft-timeout 1m")
        .status(2)
        .stderr("error: --soft-timeout goes with `stop --soft`\n")
        .run();
    env.t
        .cmd("p none start --soft")
        .status(2)
        .stderr("error: --soft goes with `stop`, not `start`\n")
        .run();
}

#[test]
fn a_look_alike_is_not_launched_twice_and_adopt_makes_it_the_specs() {
    let env = Env::new(|_| {});
    let launch = |name: &str| {
        let (status, v) = env.request(
            "POST",
            "/20160918/instances",
            Some(json!({
                "compartmentId": catalog::TENANCY_OCID,
                "availabilityDomain": ad(),
                "displayName": name,
                "shape": "VM.Standard.A1.Flex",
                "shapeConfig": {"ocpus": 1, "memoryInGBs": 6},
                "sourceDetails": {"sourceType": "image", "imageId": IMAGE},
                "createVnicDetails": {"subnetId": catalog::SUBNET_ID},
                "freeformTags": {"owner": "a1-script"},
            })),
        );
        assert_eq!(status, 200, "{v}");
        v["id"].as_str().unwrap().to_string()
    };
    // The instance the old A1 script made, named as vauto would name it.
    let id = launch("s-01");
    let other = launch("web");
    std::thread::sleep(Duration::from_millis(700));
    env.t
        .cmd("p s deploy")
        .normalize(OCID.0, OCID.1)
        .status(1)
        .stdout("[FAILED] Instance s-01: an instance named `s-01` that vauto did not create exists (ocid1.instance.oc1.sim-region-1.an000001[RANDOM]): not launching a second; `vauto p s adopt --target ocid1.instance.oc1.sim-region-1.an000001[RANDOM]` makes it this spec's\ndeploy: 1 instance: 1 failed in [T]\n")
        .stderr("s-01: attempt 1 in SIM-REGION-1-AD-1 2 OCPU/12 GB failed (already_exists): an instance named `s-01` that vauto did not create exists (ocid1.instance.oc1.sim-region-1.an000001[RANDOM]): not launching a second; `vauto p s adopt --target ocid1.instance.oc1.sim-region-1.an000001[RANDOM]` makes it this spec's\n")
        .run();
    assert_eq!(
        env.live(),
        [("s-01".to_string(), 1), ("web".to_string(), 1)].into()
    );
    let adopt = format!("p s adopt --target {id}");
    env.t
        .cmd(&adopt)
        .status(2)
        .stderr(
            "error: refusing to adopt without confirmation: stdin is not a terminal; pass --yes\n",
        )
        .run();
    env.t
        .cmd(&format!("{adopt} --yes"))
        .normalize(OCID.0, OCID.1)
        .stdout(
            "[SUCCESS] Instance s-01: adopted: ownership tags set  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]
adopt: 1 instance: 1 adopted in [T]
",
        )
        .run();
    let (_, tags) = look(&env, &format!("/20160918/instances/{id}"));
    assert_eq!(
        tags,
        json!({"owner": "a1-script", "v-auto/managed": "true", "v-auto/project": "p", "v-auto/spec": "s", "v-auto/name": "s-01"})
    );
    env.t
        .cmd(&format!("{adopt} --yes"))
        .normalize(OCID.0, OCID.1)
        .stdout(
            "[SKIPPED] Instance s-01: already vauto's  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]
adopt: 1 instance: 1 skipped in [T]
",
        )
        .run();
    env.t
        .cmd("p s deploy")
        .normalize(OCID.0, OCID.1)
        .stdout(
            "[SKIPPED] Instance s-01: already exists
deploy: 1 instance: 1 skipped in [T]
",
        )
        .run();
    env.t
        .cmd(&format!("p s adopt --target {other} --yes"))
        .normalize(OCID.0, OCID.1)
        .status(1)
        .stdout("[FAILED] Instance ocid1.instance.oc1.sim-region-1.an000002[RANDOM]: instance `web` is not named like an instance of spec `s` (s-01): rename it (`oci compute instance update --display-name`) or list it in the spec's `names:`
adopt: 1 instance: 1 failed in [T]
")
        .run();
    env.t
        .cmd("p s adopt --target web")
        .status(2)
        .stderr("error: usage: vauto PROJECT SPEC adopt --target OCID (the instance's OCID, `ocid1.instance.…`)\n")
        .run();
}
