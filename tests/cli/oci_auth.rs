//! `oci.auth` end to end through the binary against the OCI simulator on 127.0.0.1: session
//! tokens (`security_token`) and resource principal session tokens (`resource_principal`)
//! signing as `ST$<token>`, expired tokens, missing variables, and a bad `oci.auth` value.

use std::path::PathBuf;
use std::time::Duration;

use vauto::sim::oci::{self, OciSim, OciSimOptions, catalog, issue_session_token, sim_dir};

use crate::harness::Test;
use crate::oci::{IMAGE_NOTE, SPEC};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/oci-signing");

/// The session key: the test-only key pair of the signing vectors.
fn session_key() -> (PathBuf, String) {
    let dir = PathBuf::from(DATA);
    let public = std::fs::read_to_string(dir.join("TEST-ONLY-oci-api-key_public.pem")).unwrap();
    (dir.join("TEST-ONLY-oci-api-key.pem"), public)
}

struct Env {
    t: Test,
    sim: Option<OciSim>,
    rt: tokio::runtime::Runtime,
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            self.rt.block_on(sim.shutdown());
        }
    }
}

impl Env {
    /// A simulator and a project `q` whose `oci:` section is `oci` (`{DIR}` is the config
    /// folder) plus the sim's endpoint.
    fn new(oci: &str) -> Env {
        let rt = crate::harness::sim_runtime();
        let t = Test::new();
        // A key already in place spares the sim generating one (slow in a debug build).
        let keys = sim_dir(&t.path().join("simstate"));
        std::fs::create_dir_all(&keys).unwrap();
        std::fs::copy(session_key().0, keys.join("oci_api_key.pem")).unwrap();
        let sim = rt
            .block_on(oci::start(OciSimOptions {
                state_dir: t.path().join("simstate"),
                provision_delay: Duration::from_millis(300),
                transition_delay: Duration::from_millis(300),
                seed: 7,
                ..OciSimOptions::default()
            }))
            .unwrap();
        let oci = oci.replace("{DIR}", &t.path().display().to_string());
        let project = format!(
            "provider: oci
oci:
{oci}  endpoint: {}
  subnet: \"public subnet-main-vcn\"
retry: {{interval: 1s, allow_fast: true, jitter: 0s, throttle_base: 1s, throttle_max: 2s}}
",
            sim.base_url()
        );
        let t = t
            .file("projects/q.yaml", &project)
            .file("specs/s.yaml", SPEC)
            .normalize(
                r"(ocid1\.instance\.oc1\.[a-z0-9-]+\.an\d{6})[a-z]{40}",
                "$1[RANDOM]",
            );
        Env {
            t,
            sim: Some(sim),
            rt,
        }
    }

    /// A session token from the simulator for the session key, good for `ttl` seconds.
    fn token(&self, ttl: i64, claims: serde_json::Value) -> String {
        issue_session_token(
            &self.t.path().join("simstate"),
            &session_key().1,
            chrono::Utc::now().timestamp() + ttl,
            &claims,
        )
        .unwrap()
    }
}

const DEPLOYED: &str = "[SUCCESS] Instance s-01: launched  id=ocid1.instance.oc1.sim-region-1.an000001[RANDOM]  availability_domain=Kyqh:SIM-REGION-1-AD-1  launch_result=[DIR]/.vauto/launch/s-01.json
deploy: 1 instance: 1 created in [T]
";

/// A profile as `oci session authenticate` writes it: no `user`, a `security_token_file`.
fn session_profile(env: &Env, token: &str) {
    env.t.put("oci/token", token);
    env.t.put(
        "oci/config",
        &format!(
            "[SESS]\nfingerprint=a4:3f:7f:d6:f3:ce:8a:ce:4a:a5:c4:66:a5:3e:e5:47\nkey_file={}\ntenancy={}\nregion={}\nsecurity_token_file=token\n",
            session_key().0.display(),
            catalog::TENANCY_OCID,
            catalog::REGION
        ),
    );
}

fn session_env() -> Env {
    Env::new("  auth: security_token\n  config_file: {DIR}/oci/config\n  profile: SESS\n")
}

#[test]
fn security_token_deploys_and_reports_signing_with_the_session_token() {
    let env = session_env();
    let token = env.token(3600, serde_json::json!({}));
    session_profile(&env, &token);
    let run = env
        .t
        .cmd("q s deploy")
        .stdout(DEPLOYED)
        .stderr(IMAGE_NOTE)
        .run();
    assert!(!run.raw_stdout.contains(&token) && !run.raw_stderr.contains(&token));
    // Every log line, down to the HTTP stack's traces: never the token.
    let st = env
        .t
        .cmd("q s status -o json")
        .env("RUST_LOG", "trace")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    let rows: serde_json::Value = serde_json::from_str(&st.raw_stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert!(st.raw_stderr.contains("oci request"), "{}", st.raw_stderr);
    let payload = token.split('.').nth(1).unwrap();
    assert!(!st.raw_stderr.contains(payload), "the token is in the log");
    for f in std::fs::read_dir(env.t.path().join("logs"))
        .into_iter()
        .flatten()
    {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        assert!(!text.contains(payload), "the token is in a log file");
    }
    // The plan says which credentials a deploy would use.
    let plan = env.t.cmd("q s plan").stdout_unchecked().run();
    assert!(
        plan.stdout.contains(
            "note: oci.auth: security_token (profile `SESS` in `[DIR]/oci/config`, its security_token_file)\n"
        ),
        "{}",
        plan.stdout
    );
}

#[test]
fn an_expired_session_token_fails_before_any_request_naming_oci_session_refresh() {
    let env = session_env();
    let token = env.token(-10, serde_json::json!({}));
    session_profile(&env, &token);
    let run = env
        .t
        .cmd("q s deploy")
        .status(1)
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    assert!(
        run.stderr.contains(
            "the session token `[DIR]/oci/token` (security_token_file of profile `SESS`) expired at "
        ) && run
            .stderr
            .contains(": run `oci session refresh --profile SESS`"),
        "{}",
        run.stderr
    );
    assert!(!run.raw_stderr.contains(&token));
}

fn rp_env(env: &Env, rpst: &str) -> Vec<(&'static str, String)> {
    env.t.put("rp/rpst", rpst);
    vec![
        ("OCI_RESOURCE_PRINCIPAL_VERSION", "2.2".into()),
        (
            "OCI_RESOURCE_PRINCIPAL_RPST",
            env.t.path().join("rp/rpst").display().to_string(),
        ),
        (
            "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM",
            session_key().0.display().to_string(),
        ),
        ("OCI_RESOURCE_PRINCIPAL_REGION", catalog::REGION.into()),
    ]
}

#[test]
fn resource_principal_deploys_with_the_variables_and_the_token_claims() {
    let env = Env::new("  auth: resource_principal\n");
    let token = env.token(
        3600,
        serde_json::json!({"res_tenant": catalog::TENANCY_OCID, "res_compartment": catalog::TENANCY_OCID}),
    );
    let mut cmd = env.t.cmd("q s deploy").stdout(DEPLOYED).stderr(IMAGE_NOTE);
    for (k, v) in rp_env(&env, &token) {
        cmd = cmd.env(k, &v);
    }
    cmd.run();
    let plan = env.t.cmd("q s plan").stdout_unchecked().run();
    assert!(
        plan.stdout
            .contains("note: oci.auth: resource_principal (the OCI_RESOURCE_PRINCIPAL_* variables)\n")
            && plan.stdout.contains("note: compartmentId: no `oci.compartment`, the resource principal's compartment (the `res_compartment` claim of its session token) is used\n"),
        "{}",
        plan.stdout
    );
}

#[test]
fn resource_principal_without_its_variables_names_each_one() {
    let env = Env::new("  auth: resource_principal\n");
    let run = env
        .t
        .cmd("q s status")
        .env("OCI_RESOURCE_PRINCIPAL_VERSION", "2.2")
        .status(1)
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    assert!(
        run.stderr.contains("oci.auth is resource_principal but OCI_RESOURCE_PRINCIPAL_RPST, OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM, OCI_RESOURCE_PRINCIPAL_REGION are not set"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unknown_auth_mode_is_a_config_error_listing_the_modes() {
    Test::new()
        .file(
            "projects/q.yaml",
            "provider: oci\noci:\n  auth: password\n  subnet: x\n",
        )
        .file("specs/s.yaml", SPEC)
        .args("q s plan")
        .status(2)
        .stderr("error: [DIR]/projects/q.yaml:3:3: `oci.auth`: unknown variant `password`, expected one of `api_key`, `security_token`, `instance_principal`, `resource_principal`\n")
        .run();
}

/// An instance principal project on the simulator, whose metadata service it uses through
/// `OCI_METADATA_BASE_URL` (never 169.254.169.254 in tests).
fn principal_env() -> Env {
    let env = Env::new("  auth: instance_principal\n");
    // The instance's identity key: the test-only key (spares a key generation).
    std::fs::copy(
        session_key().0,
        sim_dir(&env.t.path().join("simstate")).join(oci::LEAF_KEY_FILE),
    )
    .unwrap();
    env
}

impl Env {
    fn metadata(&self) -> String {
        format!("{}/opc/v2", self.sim.as_ref().unwrap().base_url())
    }
}

#[test]
fn instance_principal_deploys_with_the_metadata_service_certificate_and_a_session_token() {
    let env = principal_env();
    let run = env
        .t
        .cmd("q s deploy")
        .env("OCI_METADATA_BASE_URL", &env.metadata())
        .stdout(DEPLOYED)
        .stderr(IMAGE_NOTE)
        .run();
    let st = env
        .t
        .cmd("q s status -o json")
        .env("OCI_METADATA_BASE_URL", &env.metadata())
        .env("RUST_LOG", "trace")
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    let rows: serde_json::Value = serde_json::from_str(&st.raw_stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    // No token (a JWT starts `eyJ`) and no line of the instance's key, in output or logs.
    let key = std::fs::read_to_string(session_key().0).unwrap();
    let key_line = key.lines().nth(3).unwrap();
    for text in [&run.raw_stdout, &run.raw_stderr, &st.raw_stderr] {
        assert!(!text.contains("eyJ") && !text.contains(key_line), "{text}");
    }
    let plan = env.t.cmd("q s plan").stdout_unchecked().run();
    assert!(
        plan.stdout
            .contains("note: oci.auth: instance_principal (the instance metadata service)\n"),
        "{}",
        plan.stdout
    );
}

#[test]
fn instance_principal_falls_back_to_imds_v1_when_v2_is_not_served() {
    let rt = crate::harness::sim_runtime();
    let env = principal_env();
    // A second simulator on the same state, whose metadata service has no v2 (an image
    // without IMDSv2 support answers 404 there).
    let v1_only = rt
        .block_on(oci::start(OciSimOptions {
            state_dir: env.t.path().join("simstate"),
            imds_v2: false,
            ..OciSimOptions::default()
        }))
        .unwrap();
    env.t
        .cmd("q s deploy")
        .env(
            "OCI_METADATA_BASE_URL",
            &format!("{}/opc/v2", v1_only.base_url()),
        )
        .stdout(DEPLOYED)
        .stderr(IMAGE_NOTE)
        .run();
    rt.block_on(v1_only.shutdown());
}

#[test]
fn instance_principal_off_oci_says_the_metadata_service_does_not_answer() {
    let env = principal_env();
    let run = env
        .t
        .cmd("q s status")
        .env("OCI_METADATA_BASE_URL", "http://127.0.0.1:9/opc/v2")
        .status(1)
        .stdout_unchecked()
        .stderr_unchecked()
        .run();
    assert!(
        run.stderr.contains(
            "oci.auth is instance_principal but the instance metadata service at `http://127.0.0.1:9/opc/v2/identity/cert.pem` does not answer ("
        ) && run.stderr.contains(
            "): instance principals work only on an OCI compute instance (set OCI_METADATA_BASE_URL to use another metadata service)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_sim_true_project_rehearses_instance_principal_with_the_simulators_metadata_service() {
    let t = Test::new()
        .file(
            "projects/q.yaml",
            "provider: oci\nsim: true\noci:\n  auth: instance_principal\n  subnet: \"public subnet-main-vcn\"\n",
        )
        .file("specs/s.yaml", SPEC);
    let keys = sim_dir(&t.path().join(".vauto"));
    std::fs::create_dir_all(&keys).unwrap();
    for f in ["oci_api_key.pem", oci::LEAF_KEY_FILE] {
        std::fs::copy(session_key().0, keys.join(f)).unwrap();
    }
    // No OCI_METADATA_BASE_URL: the simulator's own metadata service is used, never
    // 169.254.169.254.
    t.cmd("q s status")
        .env("OCI_METADATA_BASE_URL", "http://127.0.0.1:9/opc/v2")
        .stdout("no managed instances match v-auto/managed=true,v-auto/project=q,v-auto/spec=s\n[SIMULATED] 0 instances on the built-in oci simulator\n")
        .run();
}
