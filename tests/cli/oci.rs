//! End to end through the binary against the OCI simulator on 127.0.0.1 (real HTTP, real signing).

use std::collections::BTreeMap;
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

/// A simulator in its own runtime, and a config folder whose project `p` (spec `s`) points at it.
pub(crate) struct Env {
    pub(crate) t: Test,
    sim: Option<OciSim>,
    rt: tokio::runtime::Runtime,
}

impl Env {
    fn new(tune: impl FnOnce(&mut OciSimOptions)) -> Env {
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
            .file("specs/s.yaml", SPEC);
        Env {
            t,
            sim: Some(sim),
            rt,
        }
    }

    /// Live (not terminated) instances per display name, straight from the simulator's state.
    fn live(&self) -> BTreeMap<String, usize> {
        let path = self.t.path().join("simstate/sim/oci/state.json");
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
    let run = env.t.cmd("p s deploy");
    run.code(0).stdout_has("[SUCCESS] Instance s-01: launched");
    // Two full rounds over three ADs answer "Out of host capacity", the third round lands in AD-1.
    assert_eq!(
        run.stderr.matches("failed (capacity)").count(),
        6,
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("next try in"), "{}", run.stderr);
    assert!(run.stdout.contains("AD-1"), "{}", run.stdout);
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
    let run = env.t.cmd("p s deploy");
    run.code(0);
    assert!(
        run.stderr.contains("AD-2 2 OCPU/12 GB failed (capacity)"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("launched"), "{}", run.stdout);
    assert!(
        !run.stderr.contains("next try in"),
        "the fallback size was tried before any wait: {}",
        run.stderr
    );
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
    let run = env.t.cmd("p s deploy --replicas 4 --parallel 4");
    run.code(0);
    let expected: BTreeMap<String, usize> = (1..=4).map(|i| (format!("s-{i:02}"), 1)).collect();
    assert_eq!(
        env.live(),
        expected,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    // Re-running converges: everything is skipped, nothing new is launched.
    let again = env.t.cmd("p s deploy --replicas 4");
    again.code(0).stdout_has("4 skipped");
    assert_eq!(env.live(), expected);
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
    let rerun = env.t.cmd("p s deploy --replicas 4");
    rerun.code(0);
    let expected: BTreeMap<String, usize> = (1..=4).map(|i| (format!("s-{i:02}"), 1)).collect();
    assert_eq!(env.live(), expected, "{}", rerun.stdout);
}

#[test]
fn deploy_status_power_delete_round_trip() {
    let env = Env::new(|_| {});
    env.t
        .cmd("p s deploy --replicas 2 --wait")
        .code(0)
        .stdout_has("ssh ubuntu@");
    let st = env.t.cmd("p s status -o json");
    st.code(0);
    let rows: serde_json::Value = serde_json::from_str(&st.stdout).unwrap();
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
    env.t
        .cmd("p s status")
        .code(0)
        .stdout_has("PUBLIC IP")
        .stdout_has("RUNNING");
    env.t
        .cmd("p s stop --target s-02 --wait")
        .code(0)
        .stdout_has("[SUCCESS] Instance s-02: stopped");
    env.t
        .cmd("p s stop --target s-02")
        .code(0)
        .stdout_has("[SKIPPED] Instance s-02");
    env.t
        .cmd("p s start --target s-02 --wait")
        .code(0)
        .stdout_has("[SUCCESS] Instance s-02");
    // Without a terminal and without --yes, delete refuses and touches nothing.
    env.t.cmd("p s delete").code(2).stderr_has("pass --yes");
    assert_eq!(env.live().len(), 2);
    env.t
        .cmd("p s delete --yes")
        .code(0)
        .stdout_has("2 deleted");
    env.t
        .cmd("p s status")
        .code(0)
        .stdout_has("no managed instances");
    // After a delete, a new deploy launches a new instance (the retry token moved on).
    env.t
        .cmd("p s deploy")
        .code(0)
        .stdout_has("[SUCCESS] Instance s-01");
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
    let second = env.t.cmd("p s deploy");
    let _ = hunt.kill();
    let _ = hunt.wait();
    second.code(3).stderr_has(&format!("pid {}", hunt.id()));
}

#[test]
fn bad_credentials_fail_with_what_to_check() {
    let env = Env::new(|_| {});
    // Point the profile at another key: the simulator rejects the signature like OCI does.
    let cfg = std::fs::read_to_string(env.t.path().join("simstate/sim/oci/config")).unwrap();
    let other = env.t.path().join("other.pem");
    let key = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/vectors/oci-signing/TEST-ONLY-oci-api-key.pem"
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
    let run = env.t.cmd("q s deploy");
    run.code(1);
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
    let next = env.t.cmd("p s deploy --max-attempts 1");
    next.code(1).stdout_has("gave up after 1 attempt,");
}

#[test]
fn a_subnet_without_dns_gets_no_hostname_label() {
    // OCI refuses a hostnameLabel in a subnet created without a DNS label (so does the
    // simulator); vauto reads the subnet and leaves the hostname out there.
    let env = Env::new(|o| o.subnet_dns = false);
    env.t
        .cmd("p s deploy")
        .code(0)
        .stdout_has("[SUCCESS] Instance s-01");
    // The same through GetSubnet, with the subnet configured by OCID.
    let project = env.t.path().join("projects/p.yaml");
    let text = std::fs::read_to_string(&project)
        .unwrap()
        .replace("\"public subnet-main-vcn\"", oci::catalog::SUBNET_ID);
    std::fs::write(&project, text).unwrap();
    env.t
        .cmd("p s deploy --replicas 2")
        .code(0)
        .stdout_has("[SUCCESS] Instance s-02");
    let hostnames = env.hostnames();
    assert_eq!(
        hostnames,
        BTreeMap::from([("s-01".to_string(), None), ("s-02".to_string(), None)])
    );
}
