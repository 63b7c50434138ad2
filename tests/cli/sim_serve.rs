//! `vauto sim serve`: a standalone simulator that `sim: true` projects (and real clients) share.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::harness::Test;

/// A `vauto sim serve` child and the lines it printed before serving.
struct Serve {
    child: Child,
    lines: Vec<String>,
}

impl Serve {
    /// Starts `vauto sim serve KIND` in the test's folder and reads its announcement.
    fn start(t: &Test, kind: &str) -> Serve {
        Serve::start_with(t, kind, &[])
    }

    /// [`Serve::start`] with more options.
    fn start_with(t: &Test, kind: &str, extra: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vauto"))
            .args(["sim", "serve", kind])
            .args(extra)
            .current_dir(t.path())
            .env("HOME", t.path())
            .env_remove("RUST_LOG")
            .env_remove("VAUTO_STATE_DIR")
            .env_remove("VAUTO_CONFIG_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start vauto sim serve");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).expect("read") == 0 {
                panic!("sim serve ended early after {lines:?}");
            }
            let line = line.trim_end().to_string();
            let last = line == "Serving until Ctrl-C.";
            lines.push(line);
            if last {
                break;
            }
        }
        Serve { child, lines }
    }

    /// The value of the `key: value` line.
    fn value(&self, key: &str) -> String {
        let prefix = format!("{key}: ");
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no `{key}:` line in {:?}", self.lines))
            .to_string()
    }

    /// Sends SIGTERM and returns the exit code.
    fn stop(mut self) -> i32 {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("wait").code().unwrap_or(-1)
    }
}

impl Drop for Serve {
    /// A failed test must not leave a server behind (it would hold the test's files and
    /// anything the test runner's file descriptors lock).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_oci_project_with_sim_true_uses_the_running_server_and_a_second_server_is_refused() {
    let t = Test::with_examples();
    let serve = Serve::start(&t, "oci");
    let dir = t.path().display().to_string();
    let url = serve.value("url");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let config = format!("{dir}/.vauto/sim/oci/config");
    assert_eq!(
        serve.lines[1..],
        [
            format!("config: {config}"),
            "profile: DEFAULT".to_string(),
            format!("export OCI_CLI_CONFIG_FILE={config}"),
            "Serving until Ctrl-C.".to_string(),
        ]
    );
    t.cmd("sim serve oci")
        .status(1)
        .stderr(format!(
            "error: the oci simulator is already serving `[DIR]/.vauto` at {url}; stop it first, or give this one its own --state-dir\n"
        ))
        .run();
    // The served simulator has capacity everywhere: the launch lands in AD-1 at once (the
    // in-process one of `sim: true` keeps AD-1 and AD-2 full), so this proves which served it.
    t.cmd("demo-oci a1 deploy")
        .stdout_unchecked()
        .stderr_unchecked()
        .run()
        .stdout_has("availability_domain=Kyqh:SIM-REGION-1-AD-1")
        .stdout_has("deploy: 1 instance: 1 created");
    let state = std::fs::read_to_string(t.path().join(".vauto/sim/oci/state.json")).unwrap();
    assert!(state.contains("\"a1-01\""), "{state}");
    assert_eq!(serve.stop(), 0, "SIGTERM ends sim serve cleanly");
    assert!(!t.path().join(".vauto/sim/oci/serve.json").exists());
    // With the server gone, `sim: true` starts its own simulator on the same state.
    t.cmd("demo-oci a1 status")
        .stdout_unchecked()
        .stderr_unchecked()
        .run()
        .stdout_has("a1-01");
}

#[test]
fn a_kubevirt_project_rehearses_against_the_served_cluster_under_its_own_names() {
    let t = Test::with_examples().file(
        "projects/prod.yaml",
        "provider: kubevirt\nsim: true\nkubevirt:\n  context: ocp-prod\n  namespace: vms\n",
    );
    let serve = Serve::start(&t, "kubevirt");
    let dir = t.path().display().to_string();
    let kubeconfig = format!("{dir}/.vauto/sim/kube/kubeconfig");
    assert_eq!(
        serve.lines[1..],
        [
            format!("kubeconfig: {kubeconfig}"),
            format!("export KUBECONFIG={kubeconfig}"),
            "Serving until Ctrl-C.".to_string(),
        ]
    );
    t.put(
        "specs/one.yaml",
        "replicas: 1\ncpu: 1\nmemory: 1Gi\ndisk:\n  size: 10Gi\n  source:\n    registry: \"docker://quay.io/containerdisks/fedora:40\"\n",
    );
    t.cmd("prod one deploy")
        .stdout_unchecked()
        .stderr_unchecked()
        .run()
        .stdout_has("[SUCCESS] VirtualMachine one-01: created")
        .stdout_has("deploy: 1 instance: 1 created");
    // The project's context and namespace, in a kubeconfig of its own beside the server's.
    let own = std::fs::read_to_string(t.path().join(".vauto/sim/kube/kubeconfig.prod")).unwrap();
    assert!(own.contains("current-context: ocp-prod"), "{own}");
    assert!(own.contains("namespace: vms"), "{own}");
    t.cmd("prod one status")
        .stdout_unchecked()
        .stderr_unchecked()
        .run()
        .stdout_has("one-01");
    assert_eq!(serve.stop(), 0);
}

#[test]
fn faults_given_to_sim_serve_reach_its_clients() {
    let t = Test::with_examples();
    let serve = Serve::start_with(&t, "oci", &["--faults", "auth=1"]);
    // Every request is answered 401 NotAuthenticated: vauto says so and fails.
    let run = t
        .cmd("demo-oci a1 status")
        .status(1)
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    assert!(
        run.stderr.contains("NotAuthenticated") || run.stdout.contains("NotAuthenticated"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(serve.stop(), 0);
}
