//! End to end through the binary and a kubeconfig against the Kubernetes simulator on 127.0.0.1.

use std::collections::BTreeMap;
use std::time::Duration;

use vauto::sim::kube::{self, KubeSim, KubeSimOptions};

use crate::harness::Test;

const SPEC: &str = "replicas: 2
cpu: 1
memory: 1Gi
disk: {size: 10Gi, source: {registry: \"docker://registry.local/rhel9:9.4\"}}
ssh: {authorized_keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk0Qp3ZxXb5dYk2mQy6c0r3Wm6TqzV2H0ZsO0xJcXbY t\"]}
";

const KINDS: [(&str, &str); 4] = [
    ("/api/v1", "secrets"),
    ("/apis/k8s.cni.cncf.io/v1", "network-attachment-definitions"),
    ("/apis/cdi.kubevirt.io/v1beta1", "datavolumes"),
    ("/apis/kubevirt.io/v1", "virtualmachines"),
];

struct Env {
    t: Test,
    sim: Option<KubeSim>,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Env {
    fn new(tune: impl FnOnce(&mut KubeSimOptions)) -> Env {
        vauto::tls::install_crypto_provider();
        let rt = crate::harness::sim_runtime();
        let t = Test::new();
        let mut opts = KubeSimOptions {
            state_dir: t.path().join("simstate"),
            import_duration: Duration::from_millis(600),
            boot_duration: Duration::from_millis(300),
            seed: 11,
            ..KubeSimOptions::default()
        };
        tune(&mut opts);
        let sim = rt.block_on(kube::start(opts)).unwrap();
        let sim_ca = sim.ca_pem().to_string();
        vauto::tls::install_crypto_provider();
        let project = format!(
            "provider: kubevirt
kubevirt: {{kubeconfig: {}, namespace: default}}
network:
  ipam: {{range: 10.10.0.0/24, gateway: 10.10.0.1, dns: [10.10.0.1]}}
  bridge: br1
",
            sim.kubeconfig().display()
        );
        let t = t
            .file("projects/p.yaml", &project)
            .file("specs/s.yaml", SPEC)
            // Object UIDs (in event messages) come from the simulator's seeded generator, which
            // the controller's ticks advance as timing allows; same width, so tables keep shape.
            .normalize(
                r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
                "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
            );
        Env {
            t,
            sim: Some(sim),
            rt,
            http: reqwest::Client::builder()
                .add_root_certificate(reqwest::Certificate::from_pem(sim_ca.as_bytes()).unwrap())
                .build()
                .unwrap(),
        }
    }

    fn url(&self, group: &str, plural: &str) -> String {
        format!(
            "{}{group}/namespaces/default/{plural}",
            self.sim.as_ref().unwrap().base_url()
        )
    }

    /// A field of a VirtualMachine, straight from the API.
    fn vm_field(&self, name: &str, pointer: &str) -> Option<String> {
        field(
            self,
            "/apis/kubevirt.io/v1",
            "virtualmachines",
            name,
            pointer,
        )
        .as_str()
        .map(str::to_string)
    }

    /// Names of every object of every kind vauto creates, straight from the API.
    fn objects(&self) -> BTreeMap<String, Vec<String>> {
        self.rt.block_on(async {
            let mut out = BTreeMap::new();
            for (group, plural) in KINDS {
                let v: serde_json::Value = self
                    .http
                    .get(self.url(group, plural))
                    .bearer_auth("vauto-sim-token")
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let mut names: Vec<String> = v["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
                    .collect();
                names.sort();
                out.insert(plural.to_string(), names);
            }
            out
        })
    }

    /// How many vauto-kind objects the simulator has stored (read from its state files, no latency).
    fn stored_count(&self) -> usize {
        let kinds = [
            "Secret",
            "NetworkAttachmentDefinition",
            "DataVolume",
            "VirtualMachine",
        ];
        kube::stored_objects(&self.t.path().join("simstate"))
            .unwrap_or_default()
            .iter()
            .filter(|o| kinds.iter().any(|k| o["kind"] == *k))
            .count()
    }

    fn create(&self, group: &str, plural: &str, body: serde_json::Value) {
        self.rt.block_on(async {
            let r = self
                .http
                .post(self.url(group, plural))
                .bearer_auth("vauto-sim-token")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        });
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            self.rt.block_on(sim.shutdown());
        }
    }
}

fn full(n: usize) -> BTreeMap<String, Vec<String>> {
    let names = |suffix: &str| {
        (1..=n)
            .map(|i| format!("s-{i:02}{suffix}"))
            .collect::<Vec<_>>()
    };
    BTreeMap::from([
        ("secrets".to_string(), names("-cloudinit")),
        ("network-attachment-definitions".to_string(), names("-net")),
        ("datavolumes".to_string(), names("-disk")),
        ("virtualmachines".to_string(), names("")),
    ])
}

/// The status table's AGE cell ("0s", "12s"; `age` in src/ui/table.rs) varies with timing.
/// The column is as wide as its header while ages stay under 100s, so `[A]` keeps the table's
/// shape.
const AGE: (&str, &str) = (r"┆ \d{1,2}s +┆", "┆ [A] ┆");

#[test]
fn deploy_status_redeploy_power_delete() {
    let env = Env::new(|_| {});
    // One instance at a time, so that the lines come in a fixed order.
    let run = env
        .t
        .cmd("p s deploy --wait --parallel 1")
        .stdout_unchecked()
        .run();
    insta::assert_snapshot!("kubevirt_deploy", run.stdout);
    assert_eq!(env.objects(), full(2));

    let st = env
        .t
        .cmd("p s status")
        .normalize(AGE.0, AGE.1)
        .stdout_unchecked()
        .run();
    insta::assert_snapshot!("kubevirt_status", st.stdout);
    let rows = env.t.cmd("p status -o json").stdout_unchecked().run();
    let rows: serde_json::Value = serde_json::from_str(&rows.raw_stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[0]["ip"], "10.10.0.101");

    // A second deploy finds everything and creates nothing.
    env.t
        .cmd("p s deploy --parallel 1")
        .stdout(
            "[SKIPPED] Secret s-01-cloudinit: already exists
[SKIPPED] NetworkAttachmentDefinition s-01-net: already exists
[SKIPPED] DataVolume s-01-disk: already exists
[SKIPPED] VirtualMachine s-01: already exists
[SKIPPED] Secret s-02-cloudinit: already exists
[SKIPPED] NetworkAttachmentDefinition s-02-net: already exists
[SKIPPED] DataVolume s-02-disk: already exists
[SKIPPED] VirtualMachine s-02: already exists
deploy: 2 instances: 2 skipped; 8 objects: 8 skipped in [T]
",
        )
        .run();

    env.t
        .cmd("p s stop --wait --parallel 1")
        .stdout(
            "[SUCCESS] VirtualMachine s-01: stopped
[SUCCESS] VirtualMachine s-02: stopped
stop: 2 instances: 2 stopped in [T]
",
        )
        .run();
    env.t
        .cmd("p s stop --parallel 1")
        .stdout(
            "[SKIPPED] VirtualMachine s-01: vm is not running
[SKIPPED] VirtualMachine s-02: vm is not running
stop: 2 instances: 2 skipped in [T]
",
        )
        .run();
    env.t
        .cmd("p s status")
        .normalize(AGE.0, AGE.1)
        .stdout(
            "\
┌──────┬─────────┬──────┬────┬───────────┬─────┬─────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────┐
│ NAME ┆ STATUS  ┆ NODE ┆ IP ┆ DISK      ┆ AGE ┆ LAST EVENT                                                                                                                  │
╞══════╪═════════╪══════╪════╪═══════════╪═════╪═════════════════════════════════════════════════════════════════════════════════════════════════════════════════════════════╡
│ s-01 ┆ Stopped ┆ -    ┆ -  ┆ Succeeded ┆ [A] ┆ SuccessfulDelete: Stopped the virtual machine by deleting the virtual machine instance xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx │
│ s-02 ┆ Stopped ┆ -    ┆ -  ┆ Succeeded ┆ [A] ┆ SuccessfulDelete: Stopped the virtual machine by deleting the virtual machine instance xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx │
└──────┴─────────┴──────┴────┴───────────┴─────┴─────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────────┘
status: 2 instances: 2 Stopped
",
        )
        .run();
    env.t
        .cmd("p s start --wait --target s-02")
        .stdout("[SUCCESS] VirtualMachine s-02: started\nstart: 1 instance: 1 started in [T]\n")
        .run();

    let del = env
        .t
        .cmd("p s delete --yes --parallel 1")
        .stdout_unchecked()
        .run();
    // Reverse dependency order within an instance: the VM goes before its disk, NAD and Secret.
    let order: Vec<&str> = del
        .stdout
        .lines()
        .filter(|l| l.contains("s-01"))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "VirtualMachine",
            "DataVolume",
            "NetworkAttachmentDefinition",
            "Secret"
        ]
    );
    insta::assert_snapshot!("kubevirt_delete", del.stdout);
    assert_eq!(env.objects(), full(0));
    env.t
        .cmd("p s status")
        .stdout("no managed instances match v-auto/managed=true,v-auto/project=p,v-auto/spec=s\n")
        .run();
}

#[test]
fn delete_without_yes_and_without_a_terminal_is_refused_and_touches_nothing() {
    let env = Env::new(|_| {});
    env.t
        .cmd("p s deploy --replicas 3 --parallel 1")
        .stdout_unchecked()
        .run();
    assert_eq!(env.objects(), full(3));
    let refusal = "error: refusing to delete 3 instance(s) (s-01, s-02, s-03) without confirmation: stdin is not a terminal; pass --yes\n";
    // stdin is empty and not a terminal (the harness gives it /dev/null).
    env.t.cmd("p s delete").status(2).stderr(refusal).run();
    // A "y" piped in is no confirmation either: only a terminal can answer.
    env.t
        .cmd("p s delete")
        .stdin("y\n")
        .status(2)
        .stderr(refusal)
        .run();
    // The same for every spec of the project, and for one instance.
    env.t.cmd("p delete").status(2).stderr(refusal).run();
    env.t
        .cmd("p s delete --target s-02")
        .status(2)
        .stderr("error: refusing to delete 1 instance(s) (s-02) without confirmation: stdin is not a terminal; pass --yes\n")
        .run();
    // Nothing was touched: every object is there and status lists every instance.
    assert_eq!(env.objects(), full(3));
    let st = env.t.cmd("p s status -o json").stdout_unchecked().run();
    let rows: serde_json::Value = serde_json::from_str(&st.raw_stdout).unwrap();
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["s-01", "s-02", "s-03"]);
}

#[test]
fn server_errors_do_not_stop_convergence_or_make_duplicates() {
    let env = Env::new(|o| {
        o.error_rate = 0.1;
        o.throttle_rate = 0.05;
        o.retry_after = Duration::from_secs(1);
    });
    let t = &env.t;
    t.put(
        "projects/p.yaml",
        &std::fs::read_to_string(t.path().join("projects/p.yaml"))
            .unwrap()
            .replace(
                "bridge: br1",
                "bridge: br1\nretry: {throttle_base: 1s, throttle_max: 2s, jitter: 0s}",
            ),
    );
    // Injected errors make the retry lines vary; what must hold is exit 0 and the objects.
    let run = t
        .cmd("p s deploy --replicas 3")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    assert_eq!(env.objects(), full(3), "{}\n{}", run.stdout, run.stderr);
    // Each object is reported once, with its final outcome: one that an attempt created is
    // not reported again as `[SKIPPED]` by the attempt that retried past a server error.
    let mut lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines.pop(),
        Some("deploy: 3 instances: 3 created; 12 objects: 12 created in [T]"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(lines.len(), 12, "{}\n{}", run.stdout, run.stderr);
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("[SUCCESS] ") && l.ends_with(": created")),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    // One delete run converges under the same errors (it used to take many runs): every
    // object is retried past the 5xx and 429s, none is reported twice.
    let run = t
        .cmd("p s delete --yes")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    assert!(
        !run.stdout.contains("[FAILED]"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(
        run.stdout.matches("[DELETED]").count(),
        12,
        "{}",
        run.stdout
    );
    assert_eq!(env.stored_count(), 0, "{}\n{}", run.stdout, run.stderr);
}

#[test]
fn a_deploy_killed_midway_is_completed_by_the_next_run() {
    let env = Env::new(|o| o.latency = Duration::from_millis(120));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vauto"))
        .current_dir(env.t.path())
        .env("HOME", env.t.path())
        .args(["p", "s", "deploy", "--replicas", "3", "--parallel", "3"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as some, but not all, objects exist.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while env.stored_count() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let partial = env.objects();
    assert_ne!(partial, full(3), "the first run was meant to be cut short");
    // Where the first run stopped varies; the rerun skips what exists and creates the rest.
    env.t
        .cmd("p s deploy --replicas 3")
        .stdout_unchecked()
        .run()
        .stdout_has("[SKIPPED]")
        .stdout_has("[SUCCESS]");
    assert_eq!(env.objects(), full(3));
}

#[test]
fn an_unlabelled_look_alike_is_never_touched() {
    let env = Env::new(|_| {});
    // Someone else's Secret with the name vauto would use, and one with our labels but another project.
    env.create(
        "/api/v1",
        "secrets",
        serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s-01-cloudinit", "labels": {"app": "theirs"}},
            "stringData": {"userdata": "mine"}
        }),
    );
    env.create("/api/v1", "secrets", serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "other-cloudinit", "labels": {"v-auto/managed": "true", "v-auto/project": "other", "v-auto/spec": "s", "v-auto/name": "s-09"}},
        "stringData": {"userdata": "x"}
    }));
    // s-01 fails on the look-alike; s-02 is unaffected.
    env.t
        .cmd("p s deploy --parallel 1")
        .status(1)
        .stdout(
            "[FAILED] Secret s-01-cloudinit: exists and is not managed by vauto
[SUCCESS] NetworkAttachmentDefinition s-01-net: created
[SUCCESS] DataVolume s-01-disk: created
[SUCCESS] Secret s-02-cloudinit: created
[SUCCESS] NetworkAttachmentDefinition s-02-net: created
[SUCCESS] DataVolume s-02-disk: created
[SUCCESS] VirtualMachine s-02: created
deploy: 2 instances: 1 created, 1 failed; 7 objects: 6 created, 1 failed in [T]
",
        )
        .stderr("s-01: attempt 1 in - failed (already_exists): `Secret` `s-01-cloudinit` exists and is not managed by vauto\n")
        .run();
    // Only vauto's objects are deleted (s-01's NAD and disk, made beside the foreign
    // Secret, and s-02's); the look-alikes are not even listed.
    env.t
        .cmd("p s delete --yes --parallel 1")
        .stdout(
            "[DELETED] DataVolume s-01-disk: deleted
[DELETED] NetworkAttachmentDefinition s-01-net: deleted
[DELETED] VirtualMachine s-02: deleted
[DELETED] DataVolume s-02-disk: deleted
[DELETED] NetworkAttachmentDefinition s-02-net: deleted
[DELETED] Secret s-02-cloudinit: deleted
delete: 2 instances: 2 deleted; 6 objects: 6 deleted in [T]
",
        )
        .run();
    env.t
        .cmd("p delete --yes")
        .stdout(
            "nothing to delete: no managed instances match v-auto/managed=true,v-auto/project=p
delete: 0 instances in [T]
",
        )
        .run();
    let left = env.objects();
    assert_eq!(left["secrets"], ["other-cloudinit", "s-01-cloudinit"]);
    assert!(left["virtualmachines"].is_empty());
}

#[test]
fn rbac_and_login_errors_say_what_to_do() {
    let env = Env::new(|o| o.read_only_tokens = vec!["viewer".into()]);
    let cfg = env.t.path().join("simstate/sim/kube/kubeconfig");
    let text = std::fs::read_to_string(&cfg).unwrap();
    env.t
        .put("ro-kubeconfig", &text.replace("vauto-sim-token", "viewer"));
    env.t.put(
        "bad-kubeconfig",
        &text.replace("vauto-sim-token", "expired"),
    );
    let project = std::fs::read_to_string(env.t.path().join("projects/p.yaml")).unwrap();
    env.t.put(
        "projects/ro.yaml",
        &project.replace(
            &cfg.display().to_string(),
            &env.t.path().join("ro-kubeconfig").display().to_string(),
        ),
    );
    env.t.put(
        "projects/bad.yaml",
        &project.replace(
            &cfg.display().to_string(),
            &env.t.path().join("bad-kubeconfig").display().to_string(),
        ),
    );
    let forbidden = "forbidden: RBAC does not allow `create` on `secrets`: secrets is forbidden: User \"vauto-sim-readonly\" cannot create resource \"secrets\" in API group \"\" in the namespace \"default\"";
    env.t
        .cmd("ro s deploy --parallel 1")
        .status(1)
        .stdout(format!(
            "[FAILED] Instance s-01: {forbidden}\n[FAILED] Instance s-02: {forbidden}\ndeploy: 2 instances: 2 failed in [T]\n"
        ))
        .stderr(format!(
            "s-01: attempt 1 in - failed (auth): {forbidden}\ns-02: attempt 1 in - failed (auth): {forbidden}\n"
        ))
        .run();
    let bad = env
        .t
        .cmd("bad s status")
        .status(1)
        .stderr("error: unauthorized: the credentials were rejected; log in again (`oc login`) (auth)\n")
        .run();
    assert!(
        !bad.raw_stderr.contains("expired"),
        "the token must not be printed: {}",
        bad.stderr
    );
}

/// `SPEC` as one replica, with `extra` YAML appended and `disk` in place of its disk.
fn one_replica(disk: Option<&str>, extra: &str) -> String {
    let mut spec = SPEC.replace("replicas: 2", "replicas: 1");
    if let Some(disk) = disk {
        spec = spec.replace(
            "disk: {size: 10Gi, source: {registry: \"docker://registry.local/rhel9:9.4\"}}",
            disk,
        );
    }
    spec + extra
}

#[test]
fn a_vm_that_can_never_schedule_fails_the_wait_at_once_with_the_scheduler_message() {
    let env = Env::new(|_| {});
    env.t.put(
        "specs/u.yaml",
        &one_replica(
            None,
            "placement: {node_selector: {topology.kubernetes.io/zone: zone-z}}\n",
        ),
    );
    let started = std::time::Instant::now();
    env.t
        .cmd("p u deploy --wait --deadline 20s")
        .status(1)
        .stdout(
            "[SUCCESS] Secret u-01-cloudinit: created
[SUCCESS] NetworkAttachmentDefinition u-01-net: created
[SUCCESS] DataVolume u-01-disk: created
[FAILED] VirtualMachine u-01: created, not running: u-01 is ErrorUnschedulable: FailedScheduling: 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.
deploy: 1 instance: 1 failed; 4 objects: 3 created, 1 failed in [T]
",
        )
        .run();
    // The simulator's import and boot take about a second and vauto looks every 2 s.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_disk_import_that_cannot_reach_its_source_fails_the_wait_with_the_import_error() {
    let env = Env::new(|_| {});
    env.t.put(
        "specs/f.yaml",
        &one_replica(
            Some("disk: {size: 10Gi, source: {http: \"http://images.invalid/rhel9.qcow2\"}}"),
            "",
        ),
    );
    let started = std::time::Instant::now();
    env.t
        .cmd("p f deploy --wait --deadline 20s")
        .status(1)
        .stdout(
            "[SUCCESS] Secret f-01-cloudinit: created
[SUCCESS] NetworkAttachmentDefinition f-01-net: created
[SUCCESS] DataVolume f-01-disk: created
[FAILED] VirtualMachine f-01: created, not running: f-01 is disk ImportInProgress: Error: Unable to connect to http data source: HTTP request errored: Get \"http://images.invalid/rhel9.qcow2\": dial tcp: lookup images.invalid: no such host
deploy: 1 instance: 1 failed; 4 objects: 3 created, 1 failed in [T]
",
        )
        .run();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // `status` shows the same: the VM is DataVolumeError and the import error is the last event.
    let st = env.t.cmd("p f status -o json").stdout_unchecked().run();
    let rows: serde_json::Value = serde_json::from_str(&st.raw_stdout).unwrap();
    assert_eq!(rows[0]["state"], "DataVolumeError");
    assert!(
        rows[0]["last_event"]
            .as_str()
            .unwrap()
            .starts_with("Error: Unable to connect to http data source"),
        "{}",
        rows[0]
    );
}

#[test]
fn a_real_project_rehearses_on_the_simulator_by_adding_sim_true() {
    // A production project names its context and namespace; `sim: true` alone must do.
    let t = Test::new()
        .file(
            "projects/p.yaml",
            "provider: kubevirt\nsim: true\nkubevirt: {context: ocp-prod, namespace: vms-prod}\nnetwork: {bridge: br1}\n",
        )
        .file(
            "specs/s.yaml",
            "cpu: 1\nmemory: 1Gi\ndisk: {size: 5Gi, source: {registry: \"docker://r.local/x:1\"}}\n",
        );
    t.cmd("p s status")
        .stdout("no managed instances match v-auto/managed=true,v-auto/project=p,v-auto/spec=s\n[SIMULATED] 0 instances on the built-in kubevirt simulator\n")
        .run();
    let kubeconfig =
        std::fs::read_to_string(t.path().join(".vauto/sim/kube/kubeconfig")).unwrap_or_default();
    assert!(
        kubeconfig.contains("current-context: \"ocp-prod\"")
            && kubeconfig.contains("namespace: \"vms-prod\""),
        "{kubeconfig}"
    );
}

#[test]
fn the_private_key_is_said_after_a_launch_without_wait() {
    let env = Env::new(|_| {});
    let spec = SPEC.replace("replicas: 2", "replicas: 1").replace(
        "ssh: {authorized_keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk0Qp3ZxXb5dYk2mQy6c0r3Wm6TqzV2H0ZsO0xJcXbY t\"]}",
        "ssh: {generate: keys/lab}",
    );
    env.t.put("specs/s.yaml", &spec);
    env.t
        .cmd("p s deploy")
        .stdout(
            "[SUCCESS] Secret s-01-cloudinit: created
[SUCCESS] NetworkAttachmentDefinition s-01-net: created
[SUCCESS] DataVolume s-01-disk: created
[SUCCESS] VirtualMachine s-01: created  private_key=[DIR]/keys/lab
deploy: 1 instance: 1 created; 4 objects: 4 created in [T]
",
        )
        .stderr_unchecked()
        .run();
}

#[test]
fn delete_dry_run_lists_the_instances_and_objects_and_changes_nothing() {
    let env = Env::new(|_| {});
    env.t
        .cmd("p s deploy --parallel 1")
        .stdout_unchecked()
        .run();
    env.t
        .cmd("p s delete --dry-run --target s-02")
        .stdout(
            "dry run: `delete` would delete 1 instance and 4 objects (it only read; nothing is changed):
s-02: VirtualMachine s-02, DataVolume s-02-disk, NetworkAttachmentDefinition s-02-net, Secret s-02-cloudinit  id=xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
",
        )
        .run();
    assert_eq!(env.objects(), full(2));
}

#[test]
fn a_missing_namespace_fails_once_with_the_fix_as_on_a_real_cluster() {
    // The simulator answers 404 `namespaces "lab-vmz" not found` like the NamespaceLifecycle
    // admission plugin; vauto stops at once with the fix instead of retrying.
    let env = Env::new(|_| {});
    let project = format!(
        "provider: kubevirt\nkubevirt: {{kubeconfig: {}, namespace: lab-vmz}}\nnetwork: {{bridge: br1}}\n",
        env.sim.as_ref().unwrap().kubeconfig().display()
    );
    env.t.put("projects/q.yaml", &project);
    env.t
        .cmd("q s deploy --parallel 1 --target s-01")
        .status(1)
        .stdout(
            "[FAILED] Instance s-01: namespace `lab-vmz` does not exist: create it (`oc new-project lab-vmz`) or fix `kubevirt.namespace`
deploy: 1 instance: 1 failed in [T]
",
        )
        .stderr_unchecked()
        .run();
    assert_eq!(env.stored_count(), 0);
}

#[test]
fn run_strategy_halted_is_created_stopped_and_started_on_request() {
    let env = Env::new(|_| {});
    env.t
        .put("specs/h.yaml", &one_replica(None, "run_strategy: Halted\n"));
    let plan = env.t.cmd("p h plan -o yaml").stdout_unchecked().run();
    assert!(
        plan.stdout.contains("  runStrategy: Halted\n"),
        "{}",
        plan.stdout
    );
    // `--wait` waits for the disk, not for a run that KubeVirt will not begin.
    env.t
        .cmd("p h deploy --wait --deadline 30s")
        .stdout(
            "[SUCCESS] Secret h-01-cloudinit: created
[SUCCESS] NetworkAttachmentDefinition h-01-net: created
[SUCCESS] DataVolume h-01-disk: created
[SUCCESS] VirtualMachine h-01: created, ready, not started (runStrategy Halted: `start` runs it)
deploy: 1 instance: 1 created; 4 objects: 4 created in [T]
",
        )
        .stderr_unchecked()
        .run();
    // A second `deploy --wait` leaves it stopped: the spec wants it so.
    env.t
        .cmd("p h deploy --wait")
        .stdout(
            "[SKIPPED] Secret h-01-cloudinit: already exists
[SKIPPED] NetworkAttachmentDefinition h-01-net: already exists
[SKIPPED] DataVolume h-01-disk: already exists
[SKIPPED] VirtualMachine h-01: exists (Stopped)
deploy: 1 instance: 1 skipped; 4 objects: 4 skipped in [T]
",
        )
        .stderr_unchecked()
        .run();
    env.t
        .cmd("p h start --wait")
        .stdout("[SUCCESS] VirtualMachine h-01: started\nstart: 1 instance: 1 started in [T]\n")
        .run();
    env.t
        .cmd("p h stop --wait")
        .stdout("[SUCCESS] VirtualMachine h-01: stopped\nstop: 1 instance: 1 stopped in [T]\n")
        .run();
}

#[test]
fn run_strategy_manual_and_rerun_on_failure_start_and_stop_by_request() {
    let env = Env::new(|_| {});
    env.t
        .put("specs/m.yaml", &one_replica(None, "run_strategy: Manual\n"));
    env.t.put(
        "specs/r.yaml",
        &one_replica(None, "run_strategy: RerunOnFailure\n"),
    );
    env.t
        .cmd("p m deploy --wait --deadline 30s")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    env.t
        .cmd("p r deploy --wait --deadline 30s")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    for spec in ["m", "r"] {
        let first = if spec == "m" { "start" } else { "stop" };
        let second = if spec == "m" { "stop" } else { "start" };
        for verb in [first, second] {
            let done = if verb == "start" {
                "started"
            } else {
                "stopped"
            };
            env.t
                .cmd(&format!("p {spec} {verb} --wait"))
                .stdout(format!(
                    "[SUCCESS] VirtualMachine {spec}-01: {done}\n{verb}: 1 instance: 1 {done} in [T]\n"
                ))
                .run();
        }
    }
    // Both kept their strategy: start and stop were requests, not spec changes.
    for (vm, strategy) in [("m-01", "Manual"), ("r-01", "RerunOnFailure")] {
        let got = env.vm_field(vm, "/spec/runStrategy");
        assert_eq!(got.as_deref(), Some(strategy), "{vm}");
    }
}

#[test]
#[cfg(unix)]
fn ssh_uses_the_bridge_address_or_prints_the_virtctl_commands() {
    let env = Env::new(|_| {});
    env.t
        .cmd("p s deploy --wait --target s-01")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    let path = env.t.stand_in("ssh", "echo \"ssh $*\"\n");
    // With `network.ipam` the VM has a bridge address: ssh goes there as the RHEL image's
    // `cloud-user`; the key is a literal line, so no `-i`.
    env.t
        .cmd("p s ssh s-01 -- hostname")
        .env("PATH", &path)
        .stdout("ssh cloud-user@10.10.0.101 hostname\n")
        .run();
    // On the pod network: the way in is through the API server.
    let project = format!(
        "provider: kubevirt\nkubevirt: {{kubeconfig: {}, namespace: default}}\n",
        env.sim.as_ref().unwrap().kubeconfig().display()
    );
    env.t.put("projects/q.yaml", &project);
    env.t.put("specs/t.yaml", SPEC);
    env.t
        .cmd("q t deploy --wait --target t-01")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    env.t
        .cmd("q t ssh t-01")
        .env("PATH", &path)
        .stdout("`t-01` has no address reachable from here (it is on the pod network; `network.ipam` gives VMs a bridge address). Get in through the API server:
  virtctl ssh --local-ssh cloud-user@vm/t-01 -n default
  virtctl console t-01 -n default
")
        .run();
}

#[test]
fn a_select_spec_powers_labelled_vms_it_did_not_create_and_never_deletes_them() {
    let env = Env::new(|_| {});
    // Two VMs made with `oc`/`virtctl`, not by vauto: one labelled env=dev, one env=prod.
    for (name, tier) in [("dev-a", "dev"), ("prod-a", "prod")] {
        env.create(
            "/apis/kubevirt.io/v1",
            "virtualmachines",
            serde_json::json!({
                "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                "metadata": {"name": name, "labels": {"env": tier}},
                "spec": {"runStrategy": "Always", "template": {"spec": {
                    "domain": {"devices": {}, "resources": {"requests": {"memory": "1Gi"}}}
                }}}
            }),
        );
    }
    std::fs::write(
        env.t.path().join("specs/dev.yaml"),
        "select: {labels: {env: dev}}\nschedules: [{cron: \"0 20 * * *\", action: stop}]\n",
    )
    .unwrap();
    env.t
        .cmd("p dev stop --wait")
        .stdout(
            "[SUCCESS] VirtualMachine dev-a: stopped
stop: 1 instance: 1 stopped in [T]
",
        )
        .run();
    assert_eq!(
        env.vm_field("dev-a", "/spec/runStrategy").as_deref(),
        Some("Halted")
    );
    assert_eq!(
        env.vm_field("prod-a", "/spec/runStrategy").as_deref(),
        Some("Always")
    );
    env.t
        .cmd("p dev start --wait")
        .stdout(
            "[SUCCESS] VirtualMachine dev-a: started
start: 1 instance: 1 started in [T]
",
        )
        .run();
    // prod-a carries env=prod: not selected.
    env.t
        .cmd("p dev plan")
        .stdout(
            "`start`, `stop` and `status` act on 1 resource selected by spec `dev` (vauto never creates, deletes or retags them; it only read):
  VirtualMachine     dev-a  Running     xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
",
        )
        .run();
    env.t
        .cmd("p dev delete --yes")
        .status(2)
        .stderr("error: `delete` is refused for spec `dev`: it selects existing resources (`select:`), which vauto never creates, deletes or retags; it runs `start`, `stop`, `status` and `plan` (a spec without `select:` describes instances to deploy)\n")
        .run();
    env.t
        .cmd("p dev stop --soft")
        .status(2)
        .stderr("error: --soft applies to OCI; `kubevirt` stop is already a guest shutdown within the VM's terminationGracePeriodSeconds\n")
        .run();
    assert_eq!(env.objects()["virtualmachines"], ["dev-a", "prod-a"]);
}

/// A mirrored registry with an internal CA and pull credentials, sized by an instance type,
/// with a standalone data disk and a scratch disk that lives and dies with the VM.
const AIRGAP: &str = "replicas: 2
instancetype: {name: u1.medium}
preference: {name: rhel.9}
disk:
  size: 30Gi
  source:
    registry:
      url: docker://mirror.lab:5000/rhel9/rhel-guest-image:9.4
      ca_file: ca/mirror.crt
      credentials: {username: \"${MIRROR_USER}\", password: \"${MIRROR_PASSWORD}\"}
      pull_method: node
disks:
  - {name: data, size: 50Gi}
  - {name: scratch, size: 5Gi, lifecycle: with_vm}
";

/// A field of any object in the default namespace, straight from the API.
fn field(env: &Env, group: &str, plural: &str, name: &str, pointer: &str) -> serde_json::Value {
    env.rt.block_on(async {
        let v: serde_json::Value = env
            .http
            .get(format!("{}/{name}", env.url(group, plural)))
            .bearer_auth("vauto-sim-token")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v.pointer(pointer).cloned().unwrap_or_default()
    })
}

#[test]
fn an_air_gapped_spec_deploys_from_a_mirror_with_its_ca_and_credentials() {
    let env = Env::new(|_| {});
    env.t.put("specs/a.yaml", AIRGAP);
    env.t
        .put("ca/mirror.crt", include_str!("../data/registry-ca/ca.crt"));
    env.t.put(
        ".env",
        "MIRROR_USER=mirror-bot\nMIRROR_PASSWORD=hunter2-mirror\n",
    );
    let plan = env.t.cmd("p a plan -o yaml").stdout_unchecked().run();
    assert!(!plan.stdout.contains("hunter2"), "{}", plan.stdout);
    assert_eq!(
        plan.stdout.matches("name: a-ca\n").count(),
        1,
        "the CA is planned once"
    );
    env.t
        .cmd("p a deploy --wait --parallel 1")
        .stdout(
            "[SUCCESS] ConfigMap a-ca: created
[SUCCESS] Secret a-registry-credentials: created
[SUCCESS] Secret a-01-cloudinit: created
[SUCCESS] NetworkAttachmentDefinition a-01-net: created
[SUCCESS] DataVolume a-01-disk: created
[SUCCESS] DataVolume a-01-data: created
[SUCCESS] VirtualMachine a-01: created, running  ip=10.10.0.101  node=[NODE]
[SUCCESS] Secret a-02-cloudinit: created
[SUCCESS] NetworkAttachmentDefinition a-02-net: created
[SUCCESS] DataVolume a-02-disk: created
[SUCCESS] DataVolume a-02-data: created
[SUCCESS] VirtualMachine a-02: created, running  ip=10.10.0.102  node=[NODE]
deploy: 2 instances: 2 created; 12 objects: 12 created in [T]
",
        )
        .normalize(r"node=worker-\d", "node=[NODE]")
        .stderr_unchecked()
        .run();
    let pem = include_str!("../data/registry-ca/ca.crt");
    assert_eq!(
        field(&env, "/api/v1", "configmaps", "a-ca", "/data"),
        serde_json::json!({"ca.crt": pem})
    );
    // CDI's keys, base64 as the API server stores them.
    assert_eq!(
        field(
            &env,
            "/api/v1",
            "secrets",
            "a-registry-credentials",
            "/data"
        ),
        serde_json::json!({"accessKeyId": "bWlycm9yLWJvdA==", "secretKey": "aHVudGVyMi1taXJyb3I="})
    );
    assert_eq!(
        field(
            &env,
            "/apis/cdi.kubevirt.io/v1beta1",
            "datavolumes",
            "a-01-disk",
            "/spec/source"
        ),
        serde_json::json!({"registry": {"url": "docker://mirror.lab:5000/rhel9/rhel-guest-image:9.4",
            "certConfigMap": "a-ca", "secretRef": "a-registry-credentials", "pullMethod": "node"}})
    );
    // KubeVirt made the scratch disk from the VM's template, owned by the VM.
    assert_eq!(
        field(
            &env,
            "/apis/cdi.kubevirt.io/v1beta1",
            "datavolumes",
            "a-01-scratch",
            "/metadata/ownerReferences/0/kind"
        ),
        serde_json::json!("VirtualMachine")
    );
    // The instance type sized the running VMI.
    assert_eq!(
        field(
            &env,
            "/apis/kubevirt.io/v1",
            "virtualmachineinstances",
            "a-01",
            "/spec/domain/memory"
        ),
        serde_json::json!({"guest": "4Gi"})
    );
    let rows = env
        .t
        .cmd("p a status --events 100 -o json")
        .stdout_unchecked()
        .run();
    let rows: serde_json::Value = serde_json::from_str(&rows.raw_stdout).unwrap();
    assert_eq!(rows[0]["size"], "u1.medium");
    // The root disk's phase, and the events of every disk the VM names.
    assert_eq!(rows[0]["disk"], "Succeeded");
    let mut about: Vec<String> = rows[0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap();
            // The launcher pod's generated suffix.
            let name = match name.strip_prefix("virt-launcher-a-01-") {
                Some(suffix) if suffix.len() == 5 => "virt-launcher-a-01-[POD]",
                _ => name,
            };
            format!("{} {name}", e["kind"].as_str().unwrap())
        })
        .collect();
    about.sort();
    about.dedup();
    assert_eq!(
        about,
        [
            "DataVolume a-01-data",
            "DataVolume a-01-disk",
            "DataVolume a-01-scratch",
            "Pod virt-launcher-a-01-[POD]",
            "VirtualMachine a-01",
            "VirtualMachineInstance a-01"
        ]
    );

    // A new password reaches the cluster on the next deploy; the rest is left.
    env.t.put(
        ".env",
        "MIRROR_USER=mirror-bot\nMIRROR_PASSWORD=rotated-pass\n",
    );
    env.t
        .cmd("p a deploy --parallel 1 --target a-01")
        .stdout(
            "[SKIPPED] ConfigMap a-ca: already exists
[SUCCESS] Secret a-registry-credentials: updated
[SKIPPED] Secret a-01-cloudinit: already exists
[SKIPPED] NetworkAttachmentDefinition a-01-net: already exists
[SKIPPED] DataVolume a-01-data: already exists
[SKIPPED] DataVolume a-01-disk: already exists
[SKIPPED] DataVolume a-01-scratch: already exists
[SKIPPED] VirtualMachine a-01: already exists
deploy: 1 instance: 1 skipped; 8 objects: 1 updated, 7 skipped in [T]
",
        )
        .stderr_unchecked()
        .run();
    assert_eq!(
        field(
            &env,
            "/api/v1",
            "secrets",
            "a-registry-credentials",
            "/data/secretKey"
        ),
        serde_json::json!("cm90YXRlZC1wYXNz")
    );

    // The scratch disks go with their VMs (a real cluster's garbage collector may still
    // list one: it is then reported "goes with its VM"); the spec's CA and credentials go
    // with its last instance.
    env.t
        .cmd("p a delete --yes --parallel 1")
        .stdout(
            "[DELETED] VirtualMachine a-01: deleted
[DELETED] DataVolume a-01-data: deleted
[DELETED] DataVolume a-01-disk: deleted
[DELETED] NetworkAttachmentDefinition a-01-net: deleted
[DELETED] Secret a-01-cloudinit: deleted
[DELETED] VirtualMachine a-02: deleted
[DELETED] DataVolume a-02-data: deleted
[DELETED] DataVolume a-02-disk: deleted
[DELETED] NetworkAttachmentDefinition a-02-net: deleted
[DELETED] Secret a-02-cloudinit: deleted
[DELETED] ConfigMap a-ca: deleted (the spec's last instance is gone)
[DELETED] Secret a-registry-credentials: deleted (the spec's last instance is gone)
delete: 2 instances: 2 deleted; 12 objects: 12 deleted in [T]
",
        )
        .stderr_unchecked()
        .run();
    // The simulator's garbage collector took the scratch disks with their VMs at once.
    assert_eq!(env.stored_count(), 0);
    assert_eq!(
        field(&env, "/api/v1", "configmaps", "a-ca", "/kind"),
        serde_json::json!("Status")
    );
}

#[test]
fn a_golden_image_on_a_wait_for_first_consumer_class_imports_when_the_vm_starts() {
    let env = Env::new(|_| {});
    env.t.put(
        "specs/g.yaml",
        "cpu: 1
memory: 2Gi
run_strategy: Halted
disk:
  size: 30Gi
  storage_class: lvms-vg1
  lifecycle: with_vm
  source: {data_source: {name: rhel9}}
",
    );
    // Halted: KubeVirt does not start it, so its disk waits for a consumer; the wait says
    // so instead of waiting for an import that cannot begin.
    env.t
        .cmd("p g deploy --wait --deadline 30s")
        .stdout(
            "[SUCCESS] Secret g-01-cloudinit: created
[SUCCESS] NetworkAttachmentDefinition g-01-net: created
[SUCCESS] VirtualMachine g-01: created, ready, not started (runStrategy Halted: `start` runs it; its disk is imported then (WaitForFirstConsumer))
deploy: 1 instance: 1 created; 3 objects: 3 created in [T]
",
        )
        .stderr_unchecked()
        .run();
    let dv = "/apis/cdi.kubevirt.io/v1beta1";
    assert_eq!(
        field(&env, dv, "datavolumes", "g-01-disk", "/status/phase"),
        serde_json::json!("PendingPopulation")
    );
    assert_eq!(
        field(&env, dv, "datavolumes", "g-01-disk", "/spec/sourceRef"),
        serde_json::json!({"kind": "DataSource", "namespace": "openshift-virtualization-os-images", "name": "rhel9"})
    );
    env.t
        .cmd("p g start --wait")
        .stdout("[SUCCESS] VirtualMachine g-01: started\nstart: 1 instance: 1 started in [T]\n")
        .run();
    // Cloned from the golden image once the VM's pod consumed it.
    assert_eq!(
        field(&env, dv, "datavolumes", "g-01-disk", "/status/phase"),
        serde_json::json!("Succeeded")
    );
}

#[test]
fn what_a_spec_names_and_does_not_create_is_checked_before_anything_is_created() {
    let env = Env::new(|_| {});
    let spec =
        |sizing: &str, source: &str| format!("{sizing}\ndisk: {{size: 10Gi, source: {source}}}\n");
    for (sizing, source, (kind, name), error) in [
        (
            "instancetype: {name: u1.huge}",
            "{data_source: {name: rhel9}}",
            ("VirtualMachineClusterInstancetype", "u1.huge"),
            "the instance type `u1.huge` (VirtualMachineClusterInstancetype) does not exist: KubeVirt would refuse the VM; `oc get virtualmachineclusterinstancetypes` lists the ones there are",
        ),
        (
            "memory: 1Gi\npreference: {name: rhel.10}",
            "{data_source: {name: rhel9}}",
            ("VirtualMachineClusterPreference", "rhel.10"),
            "the preference `rhel.10` (VirtualMachineClusterPreference) does not exist: KubeVirt would refuse the VM; `oc get virtualmachineclusterpreferences` lists the ones there are",
        ),
        (
            "memory: 1Gi",
            "{data_source: {name: rhel10}}",
            ("DataSource", "rhel10"),
            "the DataSource `rhel10` does not exist in namespace `openshift-virtualization-os-images`: `oc get datasources -n openshift-virtualization-os-images` lists the boot sources there are",
        ),
        (
            "memory: 1Gi",
            "{registry: {url: \"docker://mirror.lab/rhel9:9.4\", credentials: {secret: pull}}}",
            ("Secret", "pull"),
            "the import credentials Secret `pull` does not exist in namespace `default`: create it with CDI's keys, `oc create secret generic pull -n default --from-literal=accessKeyId=USER --from-literal=secretKey=PASSWORD`, or give `credentials: {username, password}`",
        ),
    ] {
        env.t.put("specs/x.yaml", &spec(sizing, source));
        env.t
            .cmd("p x deploy --wait")
            .status(1)
            .stdout(format!("[FAILED] {kind} {name}: does not exist\n"))
            .stderr(format!("error: {error} (invalid)\n"))
            .run();
        assert_eq!(env.stored_count(), 0, "{sizing} {source}");
    }
}

#[test]
fn a_clone_from_a_namespace_rbac_keeps_closed_is_refused_before_anything_is_created() {
    let env = Env::new(|o| o.clone_denied = vec!["golden".into()]);
    env.t.put(
        "specs/c.yaml",
        "memory: 1Gi\ndisk: {size: 10Gi, lifecycle: with_vm, source: {pvc: {namespace: golden, name: rhel9-base}}}\n",
    );
    env.t
        .cmd("p c deploy --wait")
        .status(1)
        .stdout("[FAILED] PersistentVolumeClaim golden/rhel9-base: may not be cloned by this user\n")
        .stderr("error: you may not clone the PersistentVolumeClaim `golden/rhel9-base`: CDI needs `create` on `datavolumes/source` (cdi.kubevirt.io) in namespace `golden` and would refuse the disk; an admin grants it with `oc create clusterrole datavolume-cloner --verb=create --resource=datavolumes.cdi.kubevirt.io/source` (once) and `oc create rolebinding datavolume-cloner -n golden --clusterrole=datavolume-cloner --user=YOU` (or `--serviceaccount=NS:NAME`); `oc auth can-i create datavolumes.cdi.kubevirt.io --subresource=source -n golden` checks it (invalid)\n")
        .run();
    assert_eq!(env.stored_count(), 0);
    // The same clone from a namespace the user may clone from goes ahead.
    env.t.put(
        "specs/c.yaml",
        "memory: 1Gi\ndisk: {size: 10Gi, lifecycle: with_vm, source: {pvc: {namespace: golden-ok, name: rhel9-base}}}\n",
    );
    env.t
        .cmd("p c deploy")
        .stdout(
            "[SUCCESS] Secret c-01-cloudinit: created
[SUCCESS] NetworkAttachmentDefinition c-01-net: created
[SUCCESS] VirtualMachine c-01: created
deploy: 1 instance: 1 created; 3 objects: 3 created in [T]
",
        )
        .stderr_unchecked()
        .run();
}

/// [`AGE`] when it is the table's last column (no LAST EVENT column).
const AGE_LAST: (&str, &str) = (r"┆ \d{1,2}s +│", "┆ [A] │");

/// The LAST SEEN cell of an events list ("3s", "12s"), padded to its column of 9 plus 3.
const SEEN: (&str, &str) = (
    r"(?m)^(s-\d\d +)\d{1,2}s +(Normal|Warning)",
    "${1}[S]         $2",
);

/// RFC 3339 times in `-o json` (creation, events).
const TIME: (&str, &str) = (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]");

/// MACs and the link-local addresses made of them follow the VMI's uid (see `Env::new`).
const MAC: (&str, &str) = (r#""([0-9a-f]{2}:){5}[0-9a-f]{2}""#, r#""[MAC]""#);
const LINK_LOCAL: (&str, &str) = (r#""fe80::[0-9a-f:]+""#, r#""[LINK-LOCAL]""#);

#[test]
fn status_shows_the_guest_os_every_address_and_the_newest_events() {
    let env = Env::new(|_| {});
    env.t
        .cmd("p s deploy --wait --parallel 1")
        .stdout_unchecked()
        .run();
    env.t
        .cmd("p s status --events 2")
        .normalize(AGE_LAST.0, AGE_LAST.1)
        .normalize(SEEN.0, SEEN.1)
        .stdout(
            "\
┌──────┬─────────┬──────────┬─────────────┬──────────────────────────────┬───────────┬─────┐
│ NAME ┆ STATUS  ┆ NODE     ┆ IP          ┆ OS                           ┆ DISK      ┆ AGE │
╞══════╪═════════╪══════════╪═════════════╪══════════════════════════════╪═══════════╪═════╡
│ s-01 ┆ Running ┆ worker-1 ┆ 10.10.0.101 ┆ Red Hat Enterprise Linux 9.4 ┆ Succeeded ┆ [A] │
│ s-02 ┆ Running ┆ worker-1 ┆ 10.10.0.102 ┆ Red Hat Enterprise Linux 9.4 ┆ Succeeded ┆ [A] │
└──────┴─────────┴──────────┴─────────────┴──────────────────────────────┴───────────┴─────┘

INSTANCE   LAST SEEN   TYPE     REASON    OBJECT                        MESSAGE
s-01       [S]         Normal   Created   virtualmachineinstance/s-01   VirtualMachineInstance defined.
s-01       [S]         Normal   Started   virtualmachineinstance/s-01   VirtualMachineInstance started.
s-02       [S]         Normal   Created   virtualmachineinstance/s-02   VirtualMachineInstance defined.
s-02       [S]         Normal   Started   virtualmachineinstance/s-02   VirtualMachineInstance started.

status: 2 instances: 2 Running
",
        )
        .run();
    // Older events are about the VM and its disk.
    env.t
        .cmd("p s status --events 6 --target s-02")
        .normalize(AGE_LAST.0, AGE_LAST.1)
        .normalize(SEEN.0, SEEN.1)
        .normalize(r"virt-launcher-s-02-[bcdfghjklmnpqrstvwxz2456789]{5}\b", "virt-launcher-s-02-[POD]")
        .stdout(
            "\
┌──────┬─────────┬──────────┬─────────────┬──────────────────────────────┬───────────┬─────┐
│ NAME ┆ STATUS  ┆ NODE     ┆ IP          ┆ OS                           ┆ DISK      ┆ AGE │
╞══════╪═════════╪══════════╪═════════════╪══════════════════════════════╪═══════════╪═════╡
│ s-02 ┆ Running ┆ worker-1 ┆ 10.10.0.102 ┆ Red Hat Enterprise Linux 9.4 ┆ Succeeded ┆ [A] │
└──────┴─────────┴──────────┴─────────────┴──────────────────────────────┴───────────┴─────┘

INSTANCE   LAST SEEN   TYPE     REASON             OBJECT                         MESSAGE
s-02       [S]         Normal   ImportInProgress   datavolume/s-02-disk           Import into s-02-disk in progress
s-02       [S]         Normal   ImportSucceeded    datavolume/s-02-disk           Successfully imported into PVC s-02-disk
s-02       [S]         Normal   SuccessfulCreate   virtualmachineinstance/s-02    Created virtual machine pod virt-launcher-s-02-[POD]
s-02       [S]         Normal   Scheduled          pod/virt-launcher-s-02-[POD]   Successfully assigned default/virt-launcher-s-02-[POD] to worker-1
s-02       [S]         Normal   Created            virtualmachineinstance/s-02    VirtualMachineInstance defined.
s-02       [S]         Normal   Started            virtualmachineinstance/s-02    VirtualMachineInstance started.

status: 1 instance: 1 Running
",
        )
        .run();
    env.t
        .cmd("p s status --events 2 -o json --target s-01")
        .normalize(TIME.0, TIME.1)
        .normalize(MAC.0, MAC.1)
        .normalize(LINK_LOCAL.0, LINK_LOCAL.1)
        .stdout(
            "[
  {
    \"name\": \"s-01\",
    \"spec\": \"s\",
    \"state\": \"Running\",
    \"ip\": \"10.10.0.101\",
    \"ips\": [
      \"10.10.0.101\"
    ],
    \"public_ip\": null,
    \"placement\": \"worker-1\",
    \"size\": \"1 cpu/1Gi\",
    \"disk\": \"Succeeded\",
    \"created\": \"[TIME]\",
    \"last_event\": \"Started: VirtualMachineInstance started.\",
    \"events\": [
      {
        \"time\": \"[TIME]\",
        \"type\": \"Normal\",
        \"reason\": \"Created\",
        \"kind\": \"VirtualMachineInstance\",
        \"name\": \"s-01\",
        \"message\": \"VirtualMachineInstance defined.\",
        \"count\": 1
      },
      {
        \"time\": \"[TIME]\",
        \"type\": \"Normal\",
        \"reason\": \"Started\",
        \"kind\": \"VirtualMachineInstance\",
        \"name\": \"s-01\",
        \"message\": \"VirtualMachineInstance started.\",
        \"count\": 1
      }
    ],
    \"id\": \"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\",
    \"extra\": {
      \"guest_os\": {
        \"id\": \"rhel\",
        \"name\": \"Red Hat Enterprise Linux\",
        \"pretty_name\": \"Red Hat Enterprise Linux 9.4\",
        \"version\": \"9.4\",
        \"version_id\": \"9.4\",
        \"kernel_release\": \"5.14.0-427.13.1.el9_4.x86_64\",
        \"kernel_version\": \"#1 SMP PREEMPT_DYNAMIC\",
        \"machine\": \"x86_64\"
      },
      \"interfaces\": [
        {
          \"name\": \"net0\",
          \"interface_name\": \"eth0\",
          \"mac\": \"[MAC]\",
          \"ip_addresses\": [
            \"10.10.0.101\",
            \"[LINK-LOCAL]\"
          ],
          \"info_source\": \"domain, guest-agent, multus-status\"
        }
      ],
      \"namespace\": \"default\"
    }
  }
]
",
        )
        .run();
    // `--events 0`: no LAST EVENT column, and no events read.
    env.t
        .cmd("p s status --events 0")
        .normalize(AGE_LAST.0, AGE_LAST.1)
        .stdout(
            "\
┌──────┬─────────┬──────────┬─────────────┬──────────────────────────────┬───────────┬─────┐
│ NAME ┆ STATUS  ┆ NODE     ┆ IP          ┆ OS                           ┆ DISK      ┆ AGE │
╞══════╪═════════╪══════════╪═════════════╪══════════════════════════════╪═══════════╪═════╡
│ s-01 ┆ Running ┆ worker-1 ┆ 10.10.0.101 ┆ Red Hat Enterprise Linux 9.4 ┆ Succeeded ┆ [A] │
│ s-02 ┆ Running ┆ worker-1 ┆ 10.10.0.102 ┆ Red Hat Enterprise Linux 9.4 ┆ Succeeded ┆ [A] │
└──────┴─────────┴──────────┴─────────────┴──────────────────────────────┴───────────┴─────┘
status: 2 instances: 2 Running
",
        )
        .run();
}

#[test]
fn without_a_guest_agent_status_shows_no_os_and_the_static_address() {
    let env = Env::new(|o| o.guest_agent = false);
    env.t
        .cmd("p s deploy --wait --parallel 1 --target s-01")
        .stdout_unchecked()
        .run();
    env.t
        .cmd("p s status")
        .normalize(AGE.0, AGE.1)
        .stdout(
            "\
┌──────┬─────────┬──────────┬─────────────┬───────────┬─────┬──────────────────────────────────────────┐
│ NAME ┆ STATUS  ┆ NODE     ┆ IP          ┆ DISK      ┆ AGE ┆ LAST EVENT                               │
╞══════╪═════════╪══════════╪═════════════╪═══════════╪═════╪══════════════════════════════════════════╡
│ s-01 ┆ Running ┆ worker-1 ┆ 10.10.0.101 ┆ Succeeded ┆ [A] ┆ Started: VirtualMachineInstance started. │
└──────┴─────────┴──────────┴─────────────┴───────────┴─────┴──────────────────────────────────────────┘
status: 1 instance: 1 Running
",
        )
        .run();
    // What KubeVirt shows of a guest without an agent: no OS, a bridged interface without
    // addresses (the row's address is the NAD's static one).
    let st = env.t.cmd("p s status -o json").stdout_unchecked().run();
    let rows: serde_json::Value = serde_json::from_str(&st.raw_stdout).unwrap();
    assert_eq!(rows[0]["extra"].get("guest_os"), None, "{}", rows[0]);
    assert_eq!(
        rows[0]["extra"]["interfaces"][0]["ip_addresses"],
        serde_json::json!([])
    );
    assert_eq!(
        rows[0]["extra"]["interfaces"][0]["info_source"],
        "domain, multus-status"
    );
    assert_eq!(rows[0]["ips"], serde_json::json!(["10.10.0.101"]));
}
