//! End to end through the binary against the OCI simulator on 127.0.0.1 (real HTTP, real signing).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use vauto::sim::oci::{self, AdCapacity, CapacityModel, Faults, OciSim, OciSimOptions, RateLimit};

use crate::harness::Test;

/// The spec every OCI end-to-end test deploys (also used by `daemon.rs` and `report.rs`).
pub(crate) const SPEC: &str = "replicas: 1
shape: VM.Standard.A1.Flex
ocpus: 2
memory_gb: 12
image: {os: Canonical Ubuntu, os_version: \"22.04\", name_contains: [aarch64]}
placement: {availability_domains: all}
ssh: {authorized_keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk0Qp3ZxXb5dYk2mQy6c0r3Wm6TqzV2H0ZsO0xJcXbY t\"]}
";

/// What every deploy notes on stderr: the image the filter picked from the simulator's catalog.
pub(crate) const IMAGE_NOTE: &str = "note: image `Canonical-Ubuntu-22.04-aarch64-2025.03.28-0` (ocid1.image.oc1.sim-region-1.aaaaaaaa04canonicalubuntu2204aarch64202503280)\n";

/// A simulator in its own runtime, and a config folder whose project `p` (spec `s`) points at it.
pub(crate) struct Env {
    pub(crate) t: Test,
    sim: Option<OciSim>,
    rt: tokio::runtime::Runtime,
}

impl Env {
    pub(crate) fn new(tune: impl FnOnce(&mut OciSimOptions)) -> Env {
        Env::with(tune, "")
    }

    /// Like [`Env::new`], with `project_extra` appended to the project file (e.g. `notify:`).
    pub(crate) fn with(tune: impl FnOnce(&mut OciSimOptions), project_extra: &str) -> Env {
        let rt = crate::harness::sim_runtime();
        let t = Test::new();
        let mut opts = OciSimOptions {
            state_dir: t.path().join("simstate"),
            provision_delay: Duration::from_millis(300),
            transition_delay: Duration::from_millis(300),
            seed: 7,
            ..OciSimOptions::default()
        };
        tune(&mut opts);
        let sim = rt.block_on(oci::start(opts)).unwrap();
        let project = format!(
            "provider: oci
oci:
  config_file: {}
  endpoint: {}
  subnet: \"public subnet-main-vcn\"
retry: {{interval: 1s, allow_fast: true, jitter: 0s, throttle_base: 1s, throttle_max: 2s}}
{project_extra}",
            sim.config_file().display(),
            sim.base_url()
        );
        let t = t
            .file("projects/p.yaml", &project)
            .file("specs/s.yaml", SPEC)
            // The simulator draws an instance OCID's last 40 letters from its seeded generator,
            // which every request (and so the number of polls, a matter of timing) advances.
            // The launch counter before them (`an000001`) is kept.
            .normalize(
                r"(ocid1\.instance\.oc1\.[a-z0-9-]+\.an\d{6})[a-z]{40}",
                "$1[RANDOM]",
            )
            // A deleted instance's launch result is set aside under the time of the delete.
            .normalize(
                r"(launch/deleted/[a-z0-9-]+)-\d{8}T\d{6}Z\.json",
                "$1-[TIME].json",
            );
        Env {
            t,
            sim: Some(sim),
            rt,
        }
    }

    /// The simulator, for requests made as another client would (`OciSim::request`).
    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let sim = self.sim.as_ref().unwrap();
        self.rt.block_on(sim.request(method, path, body)).unwrap()
    }

    /// Live (not terminated) instances per display name, straight from the simulator's state.
    pub(crate) fn live(&self) -> BTreeMap<String, usize> {
        let path = self.t.path().join("simstate/sim/oci/state.json");
        if !path.exists() {
            return BTreeMap::new();
        }
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut out = BTreeMap::new();
        for i in v["instances"].as_array().unwrap() {
            let phase = i["phase"].as_str().unwrap_or_default().to_ascii_uppercase();
            if !phase.contains("TERMINAT") {
                *out.entry(i["display_name"].as_str().unwrap().to_string())
                    .or_default() += 1;
            }
        }
        out
    }

    /// Every instance's stored phase in the simulator's state, oldest first (terminated ones
    /// too); a transition whose delay has passed is resolved only when the API reads it.
    fn states(&self) -> Vec<String> {
        let path = self.t.path().join("simstate/sim/oci/state.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["phase"].as_str().unwrap_or_default().to_ascii_uppercase())
            .collect()
    }

    /// Each instance's display name and the VNIC hostname it was launched with.
    fn hostnames(&self) -> BTreeMap<String, Option<String>> {
        let path = self.t.path().join("simstate/sim/oci/state.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["display_name"].as_str().unwrap().to_string(),
                    i["hostname_label"].as_str().map(str::to_string),
                )
            })
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            self.rt.block_on(sim.shutdown());
        }
    }
}

/// The status table's AGE cell ("0s", "12s"; `age` in src/ui/table.rs) varies with timing.
/// The column is as wide as its header while ages stay under 100s, so `[A]` keeps the table's
/// shape.
const AGE: (&str, &str) = (r"┆ \d{1,2}s +│", "┆ [A] │");

fn busy(n: u64) -> AdCapacity {
    AdCapacity {
        free_after_attempts: n,
        ..AdCapacity::default()
    }
}

#[test]
fn capacity_exhausted_in_three_domains_then_success() {
    let env = Env::new(|o| {
        o.capacity = CapacityModel {
            per_ad: BTreeMap::from([
                ("AD-1".into(), busy(2)),
                ("AD-2".into(), busy(2)),
                ("AD-3".into(), busy(2)),
            ]),
            ..CapacityModel::default()
        };
    });
    // Two full rounds over three ADs answer "Out of host capacity", with a wait after each
    // round; the third round lands in AD-1.
    let capacity = |n: u32, ad: u32| {
        format!(
            "s-01: attempt {n} in SIM-REGION-1-AD-{ad} 2 OCPU/12 GB failed (capacity): out of capacity (500 `InternalError`: Out of host capacity)"
        )
    };
    env.t
        .cmd("p s deploy")
        .stdout(
            "[SUCCESS] Instance s-01: launched  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]  availability_domain=Kyqh:SIM-REGION-1-AD-1  launch_result=[DIR]/.vauto/launch/s-01.json
deploy: 1 instance: 1 created in [T]
",
        )
        .stderr(format!(
            "{IMAGE_NOTE}{}\n{}\n{}; next try in 1s\n{}\n{}\n{}; next try in 1s\n",
            capacity(1, 1),
            capacity(2, 2),
            capacity(3, 3),
            capacity(4, 1),
            capacity(5, 2),
            capacity(6, 3),
        ))
        .run();
    assert_eq!(env.live(), BTreeMap::from([("s-01".to_string(), 1)]));
    // The launch result is saved.
    assert!(env.t.path().join(".vauto/launch/s-01.json").is_file());
}

#[test]
fn fallback_size_is_tried_before_waiting() {
    let env = Env::new(|o| {
        o.capacity = CapacityModel {
            ocpu_limit: None,
            default: busy(1),
            ..CapacityModel::default()
        };
    });
    env.t.put("specs/s.yaml", &format!("{SPEC}fallback: [{{ocpus: 1, memory_gb: 6}}]\nplacement: {{availability_domains: [AD-2]}}\n").replace("placement: {availability_domains: all}\n", ""));
    // The fallback size lands in the same AD right away: no "next try in" wait.
    env.t
        .cmd("p s deploy")
        .stdout(
            "[SUCCESS] Instance s-01: launched  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]  availability_domain=Kyqh:SIM-REGION-1-AD-2  launch_result=[DIR]/.vauto/launch/s-01.json
deploy: 1 instance: 1 created in [T]
",
        )
        .stderr(format!("{IMAGE_NOTE}s-01: attempt 1 in SIM-REGION-1-AD-2 2 OCPU/12 GB failed (capacity): out of capacity (500 `InternalError`: Out of host capacity)\n"))
        .run();
}

#[test]
fn transient_faults_and_throttling_still_give_exactly_the_replicas() {
    let env = Env::new(|o| {
        o.faults = Faults {
            error_rate: 0.2,
            reset_rate: 0.03,
            lost_launch_rate: 0.3,
            lost_launch_reset: true,
            ..Faults::default()
        };
        o.rate_limit = Some(RateLimit {
            burst: 6,
            per_second: 8.0,
        });
    });
    // Injected faults make the retry lines vary; what must hold is exit 0 and the instances.
    let run = env
        .t
        .cmd("p s deploy --replicas 4 --parallel 4")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    let expected: BTreeMap<String, usize> = (1..=4).map(|i| (format!("s-{i:02}"), 1)).collect();
    assert_eq!(
        env.live(),
        expected,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    // Re-running converges: everything is skipped, nothing new is launched (an instance may
    // still be in the simulator's 300 ms of PROVISIONING: that is a skip too).
    env.t
        .cmd("p s deploy --replicas 4 --parallel 1")
        .normalize(r"exists \(PROVISIONING\)", "already exists")
        .stdout(
            "[SKIPPED] Instance s-01: already exists
[SKIPPED] Instance s-02: already exists
[SKIPPED] Instance s-03: already exists
[SKIPPED] Instance s-04: already exists
deploy: 4 instances: 4 skipped in [T]
",
        )
        .run();
    assert_eq!(env.live(), expected);
    // Under the same faults one stop run and one delete run converge: every action and
    // every terminate rides out the resets, 5xx and 429s (they used to fail 13-15 of 50).
    for action in ["stop --wait", "delete --yes"] {
        let run = env
            .t
            .cmd(&format!("p s {action} --parallel 4"))
            .stdout_unchecked()
            .stderr_unchecked()
            .run();
        assert!(
            !run.stdout.contains("[FAILED]"),
            "{action}:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
    assert_eq!(env.live(), BTreeMap::new());
}

#[test]
fn a_deploy_killed_midway_and_rerun_creates_no_duplicates() {
    let env = Env::new(|o| {
        o.faults = Faults {
            latency: Duration::from_millis(150),
            ..Faults::default()
        };
    });
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vauto"))
        .current_dir(env.t.path())
        .env("HOME", env.t.path())
        .args(["p", "s", "deploy", "--replicas", "4", "--parallel", "4"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Long enough for the launches to be in flight (signed, sent, delayed by the latency).
    std::thread::sleep(Duration::from_millis(700));
    let _ = child.kill();
    let _ = child.wait();
    // Where the first run stopped varies, and so does what the rerun prints.
    let rerun = env
        .t
        .cmd("p s deploy --replicas 4")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    let expected: BTreeMap<String, usize> = (1..=4).map(|i| (format!("s-{i:02}"), 1)).collect();
    assert_eq!(env.live(), expected, "{}", rerun.stdout);
}

#[test]
fn deploy_status_power_delete_round_trip() {
    let env = Env::new(|_| {});
    // One instance at a time, so that the lines come in a fixed order.
    let run = env
        .t
        .cmd("p s deploy --replicas 2 --wait --parallel 1")
        .stdout_unchecked()
        .stderr(IMAGE_NOTE)
        .run();
    insta::assert_snapshot!("oci_deploy", run.stdout);
    let st = env.t.cmd("p s status -o json").stdout_unchecked().run();
    let rows: serde_json::Value = serde_json::from_str(&st.raw_stdout).unwrap();
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["s-01", "s-02"]);
    // The simulated subnet has DNS, so each VNIC gets the instance name as its hostname.
    assert_eq!(env.hostnames().get("s-02"), Some(&Some("s-02".to_string())));
    assert!(
        rows[0]["public_ip"]
            .as_str()
            .is_some_and(|ip| !ip.is_empty())
    );
    let st = env
        .t
        .cmd("p s status")
        .normalize(AGE.0, AGE.1)
        .stdout_unchecked()
        .run();
    insta::assert_snapshot!("oci_status", st.stdout);
    env.t
        .cmd("p s stop --target s-02 --wait")
        .stdout(
            "[SUCCESS] Instance s-02: stopped  id=ocid1.instance.oc1.sim-region-1.an000002[RANDOM]
stop: 1 instance: 1 stopped in [T]
",
        )
        .run();
    env.t
        .cmd("p s stop --target s-02")
        .stdout(
            "[SKIPPED] Instance s-02: already stopped  id=ocid1.instance.oc1.sim-region-1.an000002[RANDOM]
stop: 1 instance: 1 skipped in [T]
",
        )
        .run();
    env.t
        .cmd("p s start --target s-02 --wait")
        .stdout(
            "[SUCCESS] Instance s-02: started  id=ocid1.instance.oc1.sim-region-1.an000002[RANDOM]
start: 1 instance: 1 started in [T]
",
        )
        .run();
    // Without a terminal and without --yes, delete refuses and touches nothing. The names come
    // in ListInstances order (newest first).
    env.t
        .cmd("p s delete")
        .status(2)
        .stderr("error: refusing to delete 2 instance(s) (s-02, s-01) without confirmation: stdin is not a terminal; pass --yes\n")
        .run();
    assert_eq!(env.live().len(), 2);
    let del = env
        .t
        .cmd("p s delete --yes --parallel 1")
        .stdout_unchecked()
        .run();
    insta::assert_snapshot!("oci_delete", del.stdout);
    assert_eq!(env.live().len(), 0);
    env.t
        .cmd("p s status")
        .stdout("no managed instances match v-auto/managed=true,v-auto/project=p,v-auto/spec=s\n")
        .run();
    // After a delete, a new deploy launches a new instance (the retry token moved on).
    env.t
        .cmd("p s deploy")
        .stdout(
            "[SUCCESS] Instance s-01: launched  id=ocid1.instance.oc1.sim-region-1.an000003[RANDOM]  availability_domain=Kyqh:SIM-REGION-1-AD-1  launch_result=[DIR]/.vauto/launch/s-01.json
deploy: 1 instance: 1 created in [T]
",
        )
        .stderr(IMAGE_NOTE)
        .run();
    assert_eq!(env.live(), BTreeMap::from([("s-01".to_string(), 1)]));
}

#[test]
fn a_second_run_on_the_same_spec_exits_3_naming_the_holder() {
    let env = Env::new(|o| {
        o.capacity = CapacityModel {
            default: busy(u64::MAX),
            ..CapacityModel::default()
        };
    });
    let mut hunt = std::process::Command::new(env!("CARGO_BIN_EXE_vauto"))
        .current_dir(env.t.path())
        .env("HOME", env.t.path())
        .args(["p", "s", "deploy"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    env.t
        .cmd("p s deploy")
        .status(3)
        .stderr(format!(
            "error: another vauto run holds `[DIR]/.vauto/lock/p-s.lock` (pid {})\n\
             hint: wait for it to finish, or pass --wait-lock to queue behind it\n",
            hunt.id()
        ))
        .run();
    let _ = hunt.kill();
    let _ = hunt.wait();
}

#[test]
fn wait_lock_queues_behind_the_holder_and_runs_once_it_lets_go() {
    let env = Env::new(|_| {});
    // Hold the run lock the way a vauto run does (src/ops/lock.rs): an flock on
    // `.vauto/lock/<project>-<spec>.lock`, with the holder's pid written inside.
    let dir = env.t.path().join(".vauto/lock");
    std::fs::create_dir_all(&dir).unwrap();
    let mut lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("p-s.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    writeln!(lock, "{}", std::process::id()).unwrap();
    lock.flush().unwrap();

    // Without --wait-lock: exit 3 at once, naming the holder.
    env.t
        .cmd("p s deploy")
        .status(3)
        .stderr(format!(
            "error: another vauto run holds `[DIR]/.vauto/lock/p-s.lock` (pid {})\n\
             hint: wait for it to finish, or pass --wait-lock to queue behind it\n",
            std::process::id()
        ))
        .run();

    // With --wait-lock: it waits, launching nothing, for as long as the lock is held...
    let mut queued = env
        .t
        .cmd("p s deploy --wait-lock")
        .stdout(
            "[SUCCESS] Instance s-01: launched  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]  availability_domain=Kyqh:SIM-REGION-1-AD-1  launch_result=[DIR]/.vauto/launch/s-01.json
deploy: 1 instance: 1 created in [T]
",
        )
        .stderr(IMAGE_NOTE)
        .spawn();
    std::thread::sleep(Duration::from_millis(2000));
    assert!(
        queued.is_running(),
        "--wait-lock returned while the lock was held"
    );
    assert_eq!(
        env.live(),
        BTreeMap::new(),
        "launched while the lock was held"
    );
    // ...then runs to the end once the holder lets go.
    drop(lock);
    queued.finish();
    assert_eq!(env.live(), BTreeMap::from([("s-01".to_string(), 1)]));
}

#[test]
fn bad_credentials_fail_with_what_to_check() {
    let env = Env::new(|_| {});
    // Point the profile at another key: the simulator rejects the signature like OCI does.
    let cfg = std::fs::read_to_string(env.t.path().join("simstate/sim/oci/config")).unwrap();
    let other = env.t.path().join("other.pem");
    let key = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/oci-signing/TEST-ONLY-oci-api-key.pem"
    ))
    .unwrap();
    std::fs::write(&other, key).unwrap();
    let fp = "a4:3f:7f:d6:f3:ce:8a:ce:4a:a5:c4:66:a5:3e:e5:47";
    let bad: String = cfg
        .lines()
        .map(|l| {
            if l.starts_with("key_file") {
                format!("key_file={}", other.display())
            } else if l.starts_with("fingerprint") {
                format!("fingerprint={fp}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(env.t.path().join("bad-config"), bad).unwrap();
    let project = std::fs::read_to_string(env.t.path().join("projects/p.yaml"))
        .unwrap()
        .replace(
            &env.t
                .path()
                .join("simstate/sim/oci/config")
                .display()
                .to_string(),
            &env.t.path().join("bad-config").display().to_string(),
        );
    env.t.put("projects/q.yaml", &project);
    let run = env
        .t
        .cmd("q s deploy")
        .status(1)
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    assert!(
        run.stderr.contains("key") || run.stdout.contains("key"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(!run.stderr.contains("BEGIN"), "no key material in errors");
}

#[test]
fn interrupt_exits_130_and_releases_the_lock() {
    let env = Env::new(|o| {
        o.capacity = CapacityModel {
            default: busy(u64::MAX),
            ..CapacityModel::default()
        };
    });
    let hunt = std::process::Command::new(env!("CARGO_BIN_EXE_vauto"))
        .current_dir(env.t.path())
        .env("HOME", env.t.path())
        .args(["p", "s", "deploy"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let pid = hunt.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let out = hunt.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    // The lock is free again: the next run gets past it (and fails on capacity, not on the lock).
    env.t
        .cmd("p s deploy --max-attempts 1")
        .status(1)
        .stdout(
            "[FAILED] Instance s-01: gave up after 1 attempt, last: out of capacity (500 `InternalError`: Out of host capacity)
deploy: 1 instance: 1 failed in [T]
",
        )
        .stderr(format!("{IMAGE_NOTE}s-01: attempt 1 in SIM-REGION-1-AD-1 2 OCPU/12 GB failed (capacity): out of capacity (500 `InternalError`: Out of host capacity)\n"))
        .run();
}

#[test]
fn a_subnet_without_dns_gets_no_hostname_label() {
    // OCI refuses a hostnameLabel in a subnet created without a DNS label (so does the
    // simulator); vauto reads the subnet and leaves the hostname out there.
    let env = Env::new(|o| o.subnet_dns = false);
    env.t
        .cmd("p s deploy")
        .stdout(
            "[SUCCESS] Instance s-01: launched  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]  availability_domain=Kyqh:SIM-REGION-1-AD-1  launch_result=[DIR]/.vauto/launch/s-01.json
deploy: 1 instance: 1 created in [T]
",
        )
        .stderr(IMAGE_NOTE)
        .run();
    // The same through GetSubnet, with the subnet configured by OCID.
    let project = env.t.path().join("projects/p.yaml");
    let text = std::fs::read_to_string(&project)
        .unwrap()
        .replace("\"public subnet-main-vcn\"", oci::catalog::SUBNET_ID);
    std::fs::write(&project, text).unwrap();
    // The simulator's 300 ms of PROVISIONING may or may not be over by now: either is a skip.
    env.t
        .cmd("p s deploy --replicas 2 --parallel 1")
        .normalize(r"exists \(PROVISIONING\)", "already exists")
        .stdout(
            "[SKIPPED] Instance s-01: already exists
[SUCCESS] Instance s-02: launched  id=ocid1.instance.oc1.sim-region-1.an000002[RANDOM]  availability_domain=Kyqh:SIM-REGION-1-AD-1  launch_result=[DIR]/.vauto/launch/s-02.json
deploy: 2 instances: 1 created, 1 skipped in [T]
",
        )
        .stderr(IMAGE_NOTE)
        .run();
    let hostnames = env.hostnames();
    assert_eq!(
        hostnames,
        BTreeMap::from([("s-01".to_string(), None), ("s-02".to_string(), None)])
    );
}

/// An instance whose host was given away while it was stopped (Always Free A1 reclamation):
/// `start` hunts capacity with the retry policy instead of giving up at once, and a start
/// issued while the instance is still STOPPING waits for STOPPED instead of failing with 409.
#[test]
fn start_survives_capacity_and_waits_through_stopping() {
    let env = Env::new(|o| {
        o.capacity.default.start_refusals = 2;
    });
    env.t
        .cmd("p s deploy --wait")
        .stdout_unchecked()
        .stderr(IMAGE_NOTE)
        .run();
    // `--wait` saw RUNNING: the saved launch answer (PROVISIONING, no addresses) is updated.
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.t.path().join(".vauto/launch/s-01.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["lifecycleState"], "RUNNING", "{saved}");
    assert!(saved["vauto"]["privateIp"].is_string(), "{saved}");
    // No --wait: the start below finds the instance STOPPING.
    env.t.cmd("p s stop").stdout_unchecked().run();
    let run = env
        .t
        .cmd("p s start --wait")
        .stdout(
            "[SUCCESS] Instance s-01: started  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]
start: 1 instance: 1 started in [T]
",
        )
        .stderr_unchecked()
        .run();
    // Two capacity misses, each followed by the round wait, then the start.
    assert_eq!(
        run.stderr.matches("out of capacity").count(),
        2,
        "{}",
        run.stderr
    );
    env.t
        .cmd("p s status -o json")
        .stdout_unchecked()
        .run()
        .stdout_has("\"state\": \"RUNNING\"");
}

#[test]
fn a_replayed_retry_token_of_a_terminated_instance_launches_a_new_generation() {
    // Terminations complete at once, so the replayed instance is TERMINATED whatever the timing.
    let env = Env::new(|o| o.transition_delay = Duration::ZERO);
    let launched = |n: u32| {
        format!(
            "[SUCCESS] Instance s-01: launched  id=ocid1.instance.oc1.sim-region-1.an00000{n}[RANDOM]  availability_domain=Kyqh:SIM-REGION-1-AD-1  launch_result=[DIR]/.vauto/launch/s-01.json
deploy: 1 instance: 1 created in [T]
"
        )
    };
    env.t
        .cmd("p s deploy")
        .stdout(launched(1))
        .stderr(IMAGE_NOTE)
        .run();
    env.t
        .cmd("p s delete --yes")
        .stdout(
            "[DELETED] Instance s-01: terminating  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]  launch_result=[DIR]/.vauto/launch/deleted/s-01-[TIME].json
delete: 1 instance: 1 deleted in [T]
",
        )
        .run();
    // The generations are lost (or another host deploys with a fresh state directory): the
    // next launch sends generation 0's token again, and OCI answers with the terminated
    // instance. That is a new generation and a new launch, never a "launched" onto nothing.
    std::fs::remove_file(env.t.path().join(".vauto/oci/generations.json")).unwrap();
    env.t
        .cmd("p s deploy")
        .stdout(launched(2))
        .stderr(format!(
            "{IMAGE_NOTE}note: s-01: retry token of generation 0 belongs to a terminated instance (ocid1.instance.oc1.sim-region-1.an000001[RANDOM], terminated): launching with generation 1 (at most 3 generations per attempt)\n"
        ))
        .run();
    let states = env.states();
    assert_eq!(states.len(), 2, "{states:?}");
    // The state file keeps the phase last stored (TERMINATING); the API resolved it to
    // TERMINATED, as the note says.
    assert!(states[0].starts_with("TERMINAT"), "{states:?}");
    assert!(!states[1].contains("TERMINAT"), "{states:?}");
    assert_eq!(env.live(), BTreeMap::from([("s-01".to_string(), 1)]));
    // The new generation was saved: a re-run skips the live instance.
    // The simulator's 300 ms of PROVISIONING may or may not be over by now: either is a skip.
    env.t
        .cmd("p s deploy")
        .normalize(r"exists \(PROVISIONING\)", "already exists")
        .stdout("[SKIPPED] Instance s-01: already exists\ndeploy: 1 instance: 1 skipped in [T]\n")
        .run();
    assert_eq!(env.states().len(), 2);
}

#[test]
fn terminated_answers_move_at_most_three_generations_per_attempt() {
    let env = Env::new(|o| o.transition_delay = Duration::ZERO);
    // Three launches and deletes use generations 0, 1 and 2; then the generations are lost.
    for _ in 0..3 {
        env.t
            .cmd("p s deploy")
            .stdout_unchecked()
            .stderr_unchecked()
            .run();
        env.t.cmd("p s delete --yes").stdout_unchecked().run();
    }
    std::fs::remove_file(env.t.path().join(".vauto/oci/generations.json")).unwrap();
    let note = |g: u32, n: u32| {
        format!(
            "note: s-01: retry token of generation {g} belongs to a terminated instance (ocid1.instance.oc1.sim-region-1.an00000{n}[RANDOM], terminated): launching with generation {} (at most 3 generations per attempt)\n",
            g + 1
        )
    };
    // The first attempt goes through generations 0 to 2, all terminated, and stops; after the
    // engine's wait the next one launches with generation 3.
    env.t
        .cmd("p s deploy")
        .stdout(
            "[SUCCESS] Instance s-01: launched  id=ocid1.instance.oc1.sim-region-1.an000004[RANDOM]  availability_domain=Kyqh:SIM-REGION-1-AD-1  launch_result=[DIR]/.vauto/launch/s-01.json
deploy: 1 instance: 1 created in [T]
",
        )
        .stderr(format!(
            "{IMAGE_NOTE}{}{}{}s-01: attempt 1 in SIM-REGION-1-AD-1 2 OCPU/12 GB failed (transient): retry tokens of generations 0 to 2 all belong to terminated instances; the next attempt goes on with generation 3; next try in 1s\n",
            note(0, 1),
            note(1, 2),
            note(2, 3),
        ))
        .run();
    assert_eq!(env.live(), BTreeMap::from([("s-01".to_string(), 1)]));
}

/// `--deadline` bounds the run from its start: three instances hunted one after another do
/// not get a fresh deadline each (a 50-replica deploy with `--deadline 8m` ran past 9 min).
#[test]
fn the_deadline_bounds_the_whole_run() {
    let env = Env::new(|o| {
        o.capacity.default = AdCapacity {
            free_after_attempts: u64::MAX,
            ..AdCapacity::default()
        };
    });
    let started = std::time::Instant::now();
    let run = env
        .t
        .cmd("p s deploy --replicas 3 --parallel 1 --deadline 4s")
        .status(1)
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    assert_eq!(
        run.stdout.matches("[FAILED] Instance").count(),
        3,
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("deadline reached"), "{}", run.stdout);
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn target_takes_a_name_an_ocid_or_a_glob_and_a_miss_names_what_exists() {
    let env = Env::new(|_| {});
    env.t
        .cmd("p s deploy --replicas 3 --parallel 1 --wait")
        .stdout_unchecked()
        .stderr(IMAGE_NOTE)
        .run();
    // A typo fails (cron notices) and says what exists.
    for action in ["status", "start", "stop --wait", "delete --yes"] {
        env.t
            .cmd(&format!("p s {action} --target s-1"))
            .status(1)
            .stderr(
                "error: no instance `s-1` in p/s; known: s-01, s-02, s-03; did you mean `s-01`?\n",
            )
            .run();
    }
    env.t
        .cmd("p status --target x-0*")
        .status(1)
        .stderr("error: no instance `x-0*` in p; known: s-01, s-02, s-03\n")
        .run();
    // A glob.
    let st = env
        .t
        .cmd("p s status -o json --target s-0*")
        .stdout_unchecked()
        .run();
    let rows: serde_json::Value = serde_json::from_str(&st.raw_stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3);
    let ocid = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "s-02")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // An OCID.
    env.t
        .cmd(&format!("p s stop --wait --target {ocid}"))
        .stdout(
            "[SUCCESS] Instance s-02: stopped  id=ocid1.instance.oc1.sim-region-1.an000002[RANDOM]
stop: 1 instance: 1 stopped in [T]
",
        )
        .run();
    // A dry run lists what a delete would remove, reading only.
    env.t
        .cmd("p s delete --dry-run --target *-0?")
        .stdout(
            "dry run: `delete` would delete 3 instances and 3 objects (it only read; nothing is changed):
s-03: Instance s-03  id=ocid1.instance.oc1.sim-region-1.an000003[RANDOM]
s-02: Instance s-02  id=ocid1.instance.oc1.sim-region-1.an000002[RANDOM]
s-01: Instance s-01  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]
",
        )
        .run();
    assert_eq!(env.live().len(), 3);
    // Only `*` and `?` are wildcards: a bracket is a literal character.
    env.t
        .cmd("p s delete --yes --target s-0[13]")
        .status(1)
        .stderr(
            "error: no instance `s-0[13]` in p/s; known: s-01, s-02, s-03; did you mean `s-01`?\n",
        )
        .run();
    env.t
        .cmd("p s delete --yes --parallel 1 --target s-0*")
        .stdout_unchecked()
        .run();
    assert_eq!(env.live().len(), 0);
}

#[test]
fn a_stopped_instance_says_so_and_deploy_wait_starts_it() {
    let env = Env::new(|_| {});
    env.t
        .cmd("p s deploy --wait")
        .stdout_unchecked()
        .stderr(IMAGE_NOTE)
        .run();
    env.t.cmd("p s stop --wait").stdout_unchecked().run();
    env.t
        .cmd("p s deploy")
        .stdout(
            "[SKIPPED] Instance s-01: exists (STOPPED)
deploy: 1 instance: 1 skipped in [T]
",
        )
        .run();
    env.t
        .cmd("p s deploy --wait")
        .stdout(
            "[SUCCESS] Instance s-01: started  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]
deploy: 1 instance: 1 started in [T]
",
        )
        .run();
    env.t
        .cmd("p s deploy --wait")
        .stdout(
            "[SKIPPED] Instance s-01: already exists
deploy: 1 instance: 1 skipped in [T]
",
        )
        .run();
}

/// `SPEC` with a key pair vauto generates (`keys/lab`) instead of a literal key.
fn keyed_spec() -> String {
    SPEC.replace(
        "ssh: {authorized_keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk0Qp3ZxXb5dYk2mQy6c0r3Wm6TqzV2H0ZsO0xJcXbY t\"]}",
        "ssh: {generate: keys/lab}",
    )
}

#[test]
fn the_ssh_hint_is_a_command_that_works_or_none() {
    let env = Env::new(|_| {});
    let keyed = keyed_spec();
    env.t.put("specs/s.yaml", &keyed);
    env.t
        .cmd("p s deploy --wait")
        .stdout(
            "[SUCCESS] Instance s-01: launched, running  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]  private_ip=10.0.0.2  public_ip=203.0.113.2  availability_domain=Kyqh:SIM-REGION-1-AD-1  ssh=ssh -i [DIR]/keys/lab ubuntu@203.0.113.2  launch_result=[DIR]/.vauto/launch/s-01.json
deploy: 1 instance: 1 created in [T]
",
        )
        .stderr_unchecked()
        .run();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.t.path().join("keys"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    // Without --wait the launch line names the private key (and the launch JSON).
    env.t.put("specs/u.yaml", &keyed);
    env.t
        .cmd("p u deploy")
        .stdout(
            "[SUCCESS] Instance u-01: launched  id=ocid1.instance.oc1.sim-region-1.an000002[RANDOM]  availability_domain=Kyqh:SIM-REGION-1-AD-1  private_key=[DIR]/keys/lab  launch_result=[DIR]/.vauto/launch/u-01.json
deploy: 1 instance: 1 created in [T]
",
        )
        .stderr_unchecked()
        .run();
    // Without an authorised key nobody can log in: no hint.
    let keyless = SPEC.replace(
        "ssh: {authorized_keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk0Qp3ZxXb5dYk2mQy6c0r3Wm6TqzV2H0ZsO0xJcXbY t\"]}\n",
        "",
    );
    env.t.put("specs/t.yaml", &keyless);
    env.t
        .cmd("p t deploy --wait")
        .stdout(
            "[SUCCESS] Instance t-01: launched, running  id=ocid1.instance.oc1.sim-region-1.an000003[RANDOM]  private_ip=10.0.0.4  public_ip=203.0.113.4  availability_domain=Kyqh:SIM-REGION-1-AD-1  launch_result=[DIR]/.vauto/launch/t-01.json
deploy: 1 instance: 1 created in [T]
",
        )
        .stderr_unchecked()
        .run();
}

#[test]
fn image_compartment_lists_the_images_of_that_compartment() {
    let env = Env::new(|_| {});
    let elsewhere = |c: &str| {
        SPEC.replace(
            "image: {os: Canonical Ubuntu,",
            &format!("image: {{compartment: \"{c}\", os: Canonical Ubuntu,"),
        )
    };
    // The simulator, like OCI, lists the platform images in any compartment of the tenancy
    // ("ListImages: ... including platform images", OCI API reference)...
    env.t
        .put("specs/s.yaml", &elsewhere("ocid1.compartment.oc1..images"));
    env.t
        .cmd("p s deploy")
        .stdout(
            "[SUCCESS] Instance s-01: launched  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]  availability_domain=Kyqh:SIM-REGION-1-AD-1  launch_result=[DIR]/.vauto/launch/s-01.json
deploy: 1 instance: 1 created in [T]
",
        )
        .stderr(IMAGE_NOTE)
        .run();
    // ...and something that is not a compartment OCID is bad input: exit 2, nothing contacted.
    env.t
        .put("specs/t.yaml", &elsewhere("ocid1.bucket.oc1..nope"));
    env.t
        .cmd("p t deploy")
        .status(2)
        .stderr("error: [DIR]/specs/t.yaml:5:9: `image.compartment`: `ocid1.bucket.oc1..nope` is not a compartment OCID (`ocid1.compartment.…`, or `ocid1.tenancy.…` for the root)\n")
        .run();
}

#[test]
#[cfg(unix)]
fn ssh_runs_the_client_with_the_key_the_image_user_and_the_public_ip() {
    let env = Env::new(|_| {});
    let keyed = keyed_spec();
    env.t.put("specs/s.yaml", &keyed);
    env.t
        .cmd("p s deploy --wait")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    // A stand-in `ssh` first on PATH: prints what it was given, exits 3.
    let path = env.t.stand_in("ssh", "echo \"ssh $*\"\nexit 3\n");
    env.t
        .cmd("p s ssh s-01 -- uptime -p")
        .env("PATH", &path)
        .status(3)
        .stdout("ssh -i [DIR]/keys/lab -o IdentitiesOnly=yes ubuntu@203.0.113.2 uptime -p\n")
        .run();
    // `ssh.user` wins over the image's user.
    env.t.put(
        "specs/s.yaml",
        &keyed.replace(
            "ssh: {generate: keys/lab}",
            "ssh: {generate: keys/lab, user: admin}",
        ),
    );
    env.t
        .cmd("p s ssh s-01")
        .env("PATH", &path)
        .status(3)
        .stdout("ssh -i [DIR]/keys/lab -o IdentitiesOnly=yes admin@203.0.113.2\n")
        .run();
    env.t
        .cmd("p s ssh s-1")
        .env("PATH", &path)
        .status(1)
        .stderr("error: no instance `s-1` in p/s; known: s-01 (did you mean `s-01`?)\n")
        .run();
    env.t
        .cmd("p s ssh")
        .status(2)
        .stderr("error: usage: vauto PROJECT SPEC ssh NAME [-- COMMAND...] (NAME: an instance of the spec)\n")
        .run();
    env.t
        .cmd("p s stop --wait")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    env.t
        .cmd("p s ssh s-01")
        .env("PATH", &path)
        .status(1)
        .stderr("error: `s-01` is STOPPED, not running: start it first (`vauto p s start --target s-01 --wait`)\n")
        .run();
}
