//! A table of bad configurations: each must exit 2 naming the file, line and problem, and never panic.

use crate::harness::Test;

const KV_PROJECT: &str = "provider: kubevirt
network:
  ipam:
    range: 192.168.10.0/24
    gateway: 192.168.10.1
  bridge: br1
";

const KV_SPEC: &str = "cpu: 2
memory: 4Gi
disk:
  size: 30Gi
  source: {registry: \"docker://registry.local/rhel9:9.4\"}
";

const OCI_PROJECT: &str = "provider: oci
oci:
  subnet: main
";

const OCI_SPEC: &str = "shape: VM.Standard.A1.Flex
ocpus: 1
memory_gb: 6
image: {os: Canonical Ubuntu, os_version: \"22.04\"}
";

struct Case {
    name: &'static str,
    project: String,
    spec: String,
    template: Option<&'static str>,
    command: &'static str,
    /// Substrings stderr must contain (the first one is the location).
    expect: &'static [&'static str],
    /// A known wrong message: kept out of the snapshot (which shows correct output only) and
    /// pinned by an ignored test instead.
    bug: Option<&'static str>,
}

fn kv(project_extra: &str, spec_extra: &str) -> (String, String) {
    (
        format!("{KV_PROJECT}{project_extra}"),
        format!("{KV_SPEC}{spec_extra}"),
    )
}

fn oci(project_extra: &str, spec_extra: &str) -> (String, String) {
    (
        format!("{OCI_PROJECT}{project_extra}"),
        format!("{OCI_SPEC}{spec_extra}"),
    )
}

fn case(
    name: &'static str,
    (project, spec): (String, String),
    expect: &'static [&'static str],
) -> Case {
    Case {
        name,
        project,
        spec,
        template: None,
        command: "p s plan",
        expect,
        bug: None,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "malformed yaml",
            (
                "provider: kubevirt\nnetwork: {bridge: br1\nsim: false\n".into(),
                KV_SPEC.into(),
            ),
            &["projects/p.yaml:3:4: did not find expected"],
        ),
        case(
            "unknown project key",
            (format!("provder: kubevirt\n{KV_PROJECT}"), KV_SPEC.into()),
            &["projects/p.yaml:1:1", "unknown field `provder`"],
        ),
        case(
            "wrong type",
            kv("sim: sometimes\n", ""),
            &[
                "projects/p.yaml:7:1",
                "`sim`",
                "invalid type: string \"sometimes\", expected a boolean",
            ],
        ),
        case(
            "missing provider",
            ("sim: false\n".into(), KV_SPEC.into()),
            &["projects/p.yaml", "missing field `provider`"],
        ),
        case(
            "unknown provider",
            ("provider: vmware\n".into(), KV_SPEC.into()),
            &[
                "projects/p.yaml:1:1",
                "unknown provider `vmware`: expected `kubevirt` or `oci`",
            ],
        ),
        case(
            "invalid cidr",
            (
                KV_PROJECT.replace("192.168.10.0/24", "192.168.10.0/33"),
                KV_SPEC.into(),
            ),
            &[
                "projects/p.yaml:4:5",
                "`network.ipam.range`",
                "not an IPv4 network",
            ],
        ),
        case(
            "host bits",
            (
                KV_PROJECT.replace("192.168.10.0/24", "192.168.10.7/24"),
                KV_SPEC.into(),
            ),
            &["projects/p.yaml:4:5", "host bits set"],
        ),
        case(
            "gateway outside",
            (
                KV_PROJECT.replace("gateway: 192.168.10.1", "gateway: 10.0.0.1"),
                KV_SPEC.into(),
            ),
            &["projects/p.yaml:5:5", "`network.ipam.gateway`", "outside"],
        ),
        case(
            "replicas overflow the range",
            (KV_PROJECT.replace("/24", "/26"), KV_SPEC.into()),
            &["projects/p.yaml:4:5", "s-01", "outside 192.168.10.0/26"],
        ),
        case(
            "replicas hit the broadcast",
            (KV_PROJECT.to_string(), format!("{KV_SPEC}replicas: 155\n")),
            &["projects/p.yaml:4:5", "broadcast"],
        ),
        case(
            "invalid name prefix",
            kv("", "name_prefix: Web_Server\n"),
            &["specs/s.yaml:6:1", "`name_prefix`", "not a valid name"],
        ),
        case(
            "name does not match file",
            kv("name: other\n", ""),
            &["projects/p.yaml:7:1", "does not match the file name"],
        ),
        case(
            "unset variable",
            (
                KV_PROJECT.replace("bridge: br1", "bridge: ${VAUTO_TEST_UNSET_VAR}"),
                KV_SPEC.into(),
            ),
            &[
                "projects/p.yaml:6:3",
                "`network.bridge`",
                "`VAUTO_TEST_UNSET_VAR` is not set",
            ],
        ),
        case(
            "missing template",
            kv("", "cloud_init: {template: nope.yaml.j2}\n"),
            &["specs/s.yaml:6:14", "template `nope.yaml.j2` not found"],
        ),
        Case {
            template: Some("#cloud-config\nhostname: {{ hostnmae }}\n"),
            ..case(
                "undefined template variable",
                kv("", "cloud_init: {template: t.yaml.j2}\n"),
                &[
                    "templates/t.yaml.j2:2:14",
                    "`hostnmae` is undefined (did you mean `hostname`?)",
                ],
            )
        },
        Case {
            template: Some("#cloud-config\n{% if static_ip %}\nx: 1\n"),
            ..case(
                "template syntax error",
                kv("", "cloud_init: {template: t.yaml.j2}\n"),
                &["templates/t.yaml.j2", "syntax error"],
            )
        },
        case(
            "unknown spec key",
            kv("", "replica: 2\n"),
            &["specs/s.yaml:6:1", "unknown field `replica`"],
        ),
        case(
            "oci field in a kubevirt spec",
            kv("", "shape: VM.Standard.A1.Flex\n"),
            &["specs/s.yaml:6:1", "`shape`", "applies to provider `oci`"],
        ),
        case(
            "kubevirt field in an oci spec",
            oci("", "placement: {node_selector: {zone: a}}\n"),
            &[
                "specs/s.yaml:5:13",
                "`placement.node_selector`",
                "applies to provider `kubevirt`",
            ],
        ),
        case(
            "bad duration",
            kv("retry: {interval: soon}\n", ""),
            &[
                "projects/p.yaml:7:9",
                "`retry.interval`",
                "invalid duration `soon`",
            ],
        ),
        case(
            "interval under 30s",
            kv("retry: {interval: 5s}\n", ""),
            &["projects/p.yaml:7:9", "under 30s", "allow_fast"],
        ),
        case(
            "bad cron",
            kv("", "schedules: [{cron: \"61 * * * *\", action: stop}]\n"),
            &[
                "specs/s.yaml:6:14",
                "`schedules[0].cron`",
                "invalid cron expression `61 * * * *`",
            ],
        ),
        case(
            "bad time zone",
            kv(
                "",
                "schedules: [{cron: \"0 8 * * 1-5\", action: start, timezone: Mars/Base}]\n",
            ),
            &["specs/s.yaml:6", "unknown time zone `Mars/Base`"],
        ),
        case(
            "unknown schedule action",
            kv("", "schedules: [{cron: \"0 8 * * *\", action: reboot}]\n"),
            &["specs/s.yaml:6", "unknown variant `reboot`"],
        ),
        case(
            "webhook not a url",
            kv("notify: {webhook: \"ops.example/hook\"}\n", ""),
            &[
                "projects/p.yaml:7:10",
                "`notify.webhook`",
                "not an http(s) URL",
            ],
        ),
        case(
            "telegram without chat id",
            kv("notify: {telegram: {token: \"123:abc\"}}\n", ""),
            &[
                "projects/p.yaml:7",
                "`notify.telegram.chat_id`",
                "is required",
            ],
        ),
        case(
            "memory not a quantity",
            (KV_PROJECT.into(), KV_SPEC.replace("4Gi", "4GB")),
            &["specs/s.yaml:2:1", "`4GB` is not a Kubernetes quantity"],
        ),
        case(
            "registry without docker scheme",
            (KV_PROJECT.into(), KV_SPEC.replace("docker://", "")),
            &[
                "specs/s.yaml:5:12",
                "`disk.source.registry`",
                "must start with `docker://`",
            ],
        ),
        case(
            "oci without subnet",
            ("provider: oci\n".into(), OCI_SPEC.into()),
            &["projects/p.yaml", "`oci.subnet`", "is required"],
        ),
        case(
            "invalid label value",
            kv("labels: {team: \"a b\"}\n", ""),
            &[
                "projects/p.yaml:7:10",
                "`labels.team`",
                "not a valid label value",
            ],
        ),
        case(
            "image id not an ocid",
            oci("", "")
                .clone_with_spec(OCI_SPEC.replace("image: {os:", "image: {id: ami-0abc, os:")),
            &[
                "specs/s.yaml:4:9",
                "`image.id`",
                "`ami-0abc` is not an image OCID",
            ],
        ),
        case(
            "image compartment not an ocid",
            oci("", "")
                .clone_with_spec(OCI_SPEC.replace("image: {os:", "image: {compartment: root, os:")),
            &[
                "specs/s.yaml:4:9",
                "`image.compartment`",
                "`root` is not a compartment OCID",
            ],
        ),
        case(
            "image id empty without a filter",
            oci("", "").clone_with_spec(OCI_SPEC.replace(
                "image: {os: Canonical Ubuntu, os_version: \"22.04\"}",
                "image: {id: \"${IMAGE_OCID:-}\"}",
            )),
            &["specs/s.yaml:4:1", "`image.os`", "when `id` is empty"],
        ),
        case(
            "flex shape without ocpus",
            (OCI_PROJECT.into(), OCI_SPEC.replace("ocpus: 1\n", "")),
            &["specs/s.yaml", "`ocpus`", "required for the flex shape"],
        ),
        case(
            "empty file",
            (String::new(), KV_SPEC.into()),
            &["projects/p.yaml", "file is empty"],
        ),
        case(
            "bridge on oci",
            oci("network: {bridge: br1}\n", ""),
            &[
                "projects/p.yaml:4:11",
                "`network.bridge`",
                "applies to provider `kubevirt`",
            ],
        ),
        case(
            "duplicate key",
            kv("sim: true\nsim: false\n", ""),
            &[
                "projects/p.yaml:8:1",
                "`sim`: given twice in the same mapping (first on line 7)",
            ],
        ),
        case(
            "duplicate label",
            kv("labels:\n  team: a\n  owner: b\n  team: c\n", ""),
            &["projects/p.yaml:10:3", "`labels.team`", "first on line 8"],
        ),
        Case {
            template: Some("#cloud-config\n{% include \"t.yaml.j2\" %}\n"),
            ..case(
                "template includes itself",
                kv("", "cloud_init: {template: t.yaml.j2}\n"),
                &[
                    "templates/t.yaml.j2:2:4",
                    "`t.yaml.j2` includes itself (t.yaml.j2 → t.yaml.j2)",
                ],
            )
        },
        case(
            "ssh key without its type",
            kv(
                "",
                "ssh: {authorized_keys: [\"AAAAC3NzaC1lZDI1NTE5AAAAIK me@host\"]}\n",
            ),
            &[
                "specs/s.yaml:6:25",
                "`ssh.authorized_keys[0]`",
                "`AAAAC3NzaC1lZDI1NTE5AAAA…` is not a public key line: the key type",
            ],
        ),
        case(
            "ssh key without its key",
            kv("", "ssh: {authorized_keys: [\"ssh-ed25519 me@host\"]}\n"),
            &[
                "specs/s.yaml:6:25",
                "the base64 key after `ssh-ed25519` is missing or malformed",
            ],
        ),
        case(
            "ssh key line cut in two",
            kv("", "ssh: {authorized_keys: [\"me@host laptop\"]}\n"),
            &[
                "specs/s.yaml:6:25",
                "`me@host laptop` is neither a public key line nor an existing file",
            ],
        ),
        Case {
            command: "p wbe plan",
            ..case("unknown spec", kv("", ""), &["unknown spec `wbe`"])
        },
        Case {
            command: "q s plan",
            ..case("unknown project", kv("", ""), &["unknown project `q`"])
        },
    ]
}

trait CloneWithSpec {
    fn clone_with_spec(self, spec: String) -> (String, String);
}

impl CloneWithSpec for (String, String) {
    fn clone_with_spec(self, spec: String) -> (String, String) {
        (self.0, spec)
    }
}

/// Runs `f`, turning a failed expectation (a panic, already printed) into `Err`.
fn attempt<T>(f: impl FnOnce() -> T) -> Result<T, ()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| ())
}

#[test]
fn every_bad_config_exits_2_with_file_line_and_message() {
    let cases = cases();
    assert!(
        cases.len() >= 25,
        "the table must cover at least 25 bad configs"
    );
    let mut failures = Vec::new();
    // Every case's messages, in table order, for one snapshot that reviews as a list.
    let mut all = String::new();
    for c in &cases {
        let mut t = Test::new()
            .file("projects/p.yaml", &c.project)
            .file("specs/s.yaml", &c.spec);
        if let Some(tmpl) = c.template {
            t = t.file("templates/t.yaml.j2", tmpl);
        }
        // Exit 2, nothing on stdout; stderr goes to the snapshot.
        let Ok(run) = attempt(|| t.cmd(c.command).status(2).stderr_unchecked().run()) else {
            failures.push(format!("{}: `{}` (see the panic above)", c.name, c.command));
            continue;
        };
        let shown = |stderr: &str| match c.bug {
            Some(b) => format!("(not snapshotted, a known bug: {b})\n"),
            None => stderr.to_string(),
        };
        all.push_str(&format!(
            "### {}\n$ vauto {}\n{}",
            c.name,
            c.command,
            shown(&run.stderr)
        ));
        let mut problems = Vec::new();
        for e in c.expect {
            if !run.stderr.contains(e) {
                problems.push(format!("stderr lacks {e:?}"));
            }
        }
        if run.stderr.contains("panicked") {
            problems.push("panicked".into());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n  stderr: {}",
                c.name,
                problems.join("; "),
                run.stderr.trim()
            ));
        }
        // validate must find the same problem (except for command-line names).
        if !c.command.contains("wbe") && !c.command.starts_with("q ") {
            let Ok(v) = attempt(|| t.cmd("validate").status(2).stderr_unchecked().run()) else {
                failures.push(format!("{} (validate): see the panic above", c.name));
                continue;
            };
            all.push_str(&format!("$ vauto validate\n{}", shown(&v.stderr)));
            let file = c.expect[0].split(':').next().unwrap_or_default();
            if !v.stderr.contains(file) {
                failures.push(format!(
                    "{} (validate): stderr lacks {file:?}\n  stderr: {}",
                    c.name,
                    v.stderr.trim()
                ));
            }
        }
        all.push('\n');
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    insta::assert_snapshot!("bad_config_errors", all);
}

#[test]
fn undefined_template_variable_is_named_in_one_sentence() {
    let (project, spec) = kv("", "cloud_init: {template: t.yaml.j2}\n");
    Test::new()
        .file("projects/p.yaml", &project)
        .file("specs/s.yaml", &spec)
        .file("templates/t.yaml.j2", "#cloud-config\nhostname: {{ hostnmae }}\n")
        .args("p s plan")
        .status(2)
        .stderr("error: [DIR]/templates/t.yaml.j2:2:14: `hostnmae` is undefined (did you mean `hostname`?): the variables are name, index, replica, hostname, static_ip, prefix_len, netmask, gateway, dns, project, spec, ssh_authorized_keys, and vars.NAME for each key of `cloud_init.vars` (rendering spec `s`, [DIR]/specs/s.yaml)\n")
        .run();
}

#[test]
fn unreadable_file_is_a_clear_error() {
    Test::new()
        .bytes("projects/p.yaml", b"provider: kubevirt\n\xff\xfe\n")
        .file("specs/s.yaml", KV_SPEC)
        .args("p s plan")
        .status(2)
        .stderr(
            "error: [DIR]/projects/p.yaml: cannot read file: stream did not contain valid UTF-8\n",
        )
        .run();
}

#[test]
fn a_byte_order_mark_is_refused_with_the_fix_in_a_project_a_spec_a_template_and_env() {
    // "UTF-8 with BOM" from Windows editors: serde_yaml reads it as a second document, and
    // cloud-init would not see `#cloud-config` after it. Refused at 1:1 with the fix, before
    // anything is contacted.
    let (project, spec) = kv("", "cloud_init: {template: t.yaml.j2}\n");
    let bom = |s: &str| format!("\u{feff}{s}");
    let template = "#cloud-config\nhostname: {{ name }}\n";
    let fix = |file: &str| {
        format!(
            "error: [DIR]/{file}:1:1: the file starts with a UTF-8 byte order mark (BOM); save it as UTF-8 without BOM (e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//' [DIR]/{file}`)\n"
        )
    };
    for (p, s, t, file) in [
        (
            bom(&project),
            spec.clone(),
            template.to_string(),
            "projects/p.yaml",
        ),
        (
            project.clone(),
            bom(&spec),
            template.to_string(),
            "specs/s.yaml",
        ),
        (
            project.clone(),
            spec.clone(),
            bom(template),
            "templates/t.yaml.j2",
        ),
    ] {
        Test::new()
            .file("projects/p.yaml", &p)
            .file("specs/s.yaml", &s)
            .file("templates/t.yaml.j2", &t)
            .args("p s plan")
            .status(2)
            .stderr(fix(file))
            .run();
    }
    Test::new()
        .file("projects/p.yaml", &project)
        .file("specs/s.yaml", &spec)
        .file("templates/t.yaml.j2", template)
        .file(".env", &bom("A=1\n"))
        .args("p s plan")
        .status(2)
        .stderr(fix(".env"))
        .run();
}

#[test]
fn unknown_names_suggest_the_closest() {
    Test::with_examples()
        .args("lab wbe plan")
        .status(2)
        .stderr("error: [DIR]/specs: unknown spec `wbe`: no specs/wbe.yaml (did you mean `web`?)\n")
        .run();
    Test::with_examples()
        .args("lba web plan")
        .status(2)
        .stderr("error: [DIR]/projects: unknown project `lba`: no projects/lba.yaml (did you mean `lab`?)\n")
        .run();
}

#[test]
fn validate_lists_every_problem_at_once() {
    Test::new()
        .file(
            "projects/p.yaml",
            &format!("{KV_PROJECT}retry: {{interval: 5s}}\nlabels: {{team: \"a b\"}}\n"),
        )
        .file("specs/s.yaml", &format!("{KV_SPEC}replica: 2\n"))
        .args("validate")
        .status(2)
        .stderr(
            "error: [DIR]/projects/p.yaml:8:10: `labels.team`: `a b` is not a valid label value: it may contain only letters, digits, `-`, `_` and `.`
error: [DIR]/projects/p.yaml:7:9: `retry.interval`: 5s is under 30s: polling that often gets accounts throttled or banned (set `retry.allow_fast: true` to insist)
error: [DIR]/specs/s.yaml:6:1: `replica`: unknown field `replica`, expected one of `name`, `replicas`, `name_prefix`, `names`, `cpu`, `memory`, `disk`, `disks`, `instancetype`, `preference`, `run_strategy`, `shape`, `ocpus`, `memory_gb`, `boot_volume_gb`, `image`, `fallback`, `placement`, `cloud_init`, `ssh`, `schedules`, `hunt`, `select`
",
        )
        .run();
}

#[test]
fn validate_lists_every_problem_in_one_file() {
    let t = Test::new()
        .file(
            "projects/p.yaml",
            &format!("{KV_PROJECT}sim: maybe\nretries: 3\n"),
        )
        .file(
            "specs/s.yaml",
            &format!("{KV_SPEC}replica: 2\ncloud_int: {{template: t.j2}}\nhunt: often\n"),
        );
    t.cmd("validate")
        .status(2)
        .stderr(
            "error: [DIR]/projects/p.yaml:7:1: `sim`: invalid type: string \"maybe\", expected a boolean
error: [DIR]/projects/p.yaml:8:1: `retries`: unknown field `retries`, expected one of `name`, `provider`, `sim`, `kubevirt`, `oci`, `network`, `labels`, `retry`, `notify`, `logs`
error: [DIR]/specs/s.yaml:6:1: `replica`: unknown field `replica`, expected one of `name`, `replicas`, `name_prefix`, `names`, `cpu`, `memory`, `disk`, `disks`, `instancetype`, `preference`, `run_strategy`, `shape`, `ocpus`, `memory_gb`, `boot_volume_gb`, `image`, `fallback`, `placement`, `cloud_init`, `ssh`, `schedules`, `hunt`, `select`
error: [DIR]/specs/s.yaml:7:1: `cloud_int`: unknown field `cloud_int`, expected one of `name`, `replicas`, `name_prefix`, `names`, `cpu`, `memory`, `disk`, `disks`, `instancetype`, `preference`, `run_strategy`, `shape`, `ocpus`, `memory_gb`, `boot_volume_gb`, `image`, `fallback`, `placement`, `cloud_init`, `ssh`, `schedules`, `hunt`, `select`
error: [DIR]/specs/s.yaml:8:1: `hunt`: invalid type: string \"often\", expected a boolean
",
        )
        .run();
}

#[test]
fn validate_finds_a_spec_no_project_can_use_and_its_schedules() {
    let t = Test::new().file("projects/p.yaml", KV_PROJECT).file(
        "specs/s.yaml",
        &format!("{OCI_SPEC}schedules: [{{cron: \"0 8 * * 1-5\", action: start}}]\n"),
    );
    t.cmd("validate")
        .status(2)
        .stderr("error: [DIR]/specs/s.yaml: no project can use this spec (so its schedules and hunt would never run): `p` (kubevirt): line 1: `shape`: applies to provider `oci`, but this spec is used with `kubevirt`; fix the spec or add a project for it\n")
        .run();
}

#[test]
fn cron_errors_name_the_real_range() {
    for (cron, says) in [
        ("0 24 * * *", "hour must be 0-23, not `24`"),
        ("60 8 * * *", "minute must be 0-59, not `60`"),
        ("0 8 32 * *", "day of month must be 1-31, not `32`"),
        ("0 8 * 0 *", "month must be 1-12, not `0`"),
    ] {
        let (project, spec) = kv(
            "",
            &format!("schedules: [{{cron: \"{cron}\", action: stop}}]\n"),
        );
        Test::new()
            .file("projects/p.yaml", &project)
            .file("specs/s.yaml", &spec)
            .args("validate")
            .status(2)
            .stderr(format!("error: [DIR]/specs/s.yaml:6:14: `schedules[0].cron`: invalid cron expression `{cron}`: {says}\n"))
            .run();
    }
}

#[test]
fn names_give_exact_instance_names_and_target_takes_them() {
    let t = Test::new()
        .file("projects/p.yaml", KV_PROJECT)
        .file("specs/s.yaml", &format!("{KV_SPEC}names: [a1-main]\n"));
    t.cmd("p s plan --target a1-main -o yaml")
        .stdout_unchecked()
        .run()
        .stdout_has("  name: a1-main\n");
    t.cmd("p s plan --target s-01")
        .status(2)
        .stderr("error: [DIR]/specs/s.yaml: --target `s-01` is not an instance of spec `s` with 1 replicas (`a1-main` … `a1-main`)\n")
        .run();
    t.put(
        "specs/s.yaml",
        &format!("{KV_SPEC}replicas: 2\nnames: [a1-main]\n"),
    );
    t.cmd("validate")
        .status(2)
        .stderr("error: [DIR]/specs/s.yaml:7:1: `names`: lists 1 names but `replicas` is 2: give one name per replica (or drop `replicas`)\n")
        .run();
    t.put(
        "specs/s.yaml",
        &format!("{KV_SPEC}names: [a1-main, A1_Main, a1-main]\nname_prefix: a1\n"),
    );
    t.cmd("validate")
        .status(2)
        .stderr("error: [DIR]/specs/s.yaml:6:1: `names`: `names` and `name_prefix` both name the instances: keep one
error: [DIR]/specs/s.yaml:6:18: `names[1]`: `A1_Main` is not a valid name: it may contain only lowercase letters, digits and `-`
error: [DIR]/specs/s.yaml:6:27: `names[2]`: `a1-main` is listed twice: each instance needs its own name
")
        .run();
}

#[test]
fn an_empty_image_id_falls_back_to_the_filter() {
    let spec = OCI_SPEC.replace("image: {os:", "image: {id: \"${IMAGE_OCID:-}\", os:");
    let t = Test::new()
        .file("projects/p.yaml", OCI_PROJECT)
        .file("specs/s.yaml", &spec);
    t.cmd("validate")
        .stdout("ok: 1 projects, 1 specs, 0 templates, 1 project/spec plans\n")
        .run();
    t.cmd("p s plan -o yaml")
        .env("IMAGE_OCID", "ocid1.image.oc1..pinned")
        .stdout_unchecked()
        .run()
        .stdout_has("imageId: ocid1.image.oc1..pinned");
}

#[test]
fn secrets_from_the_environment_never_show_in_errors() {
    let run = Test::new()
        .file(
            "projects/p.yaml",
            &format!("{KV_PROJECT}notify: {{slack: \"${{HOOK}}\"}}\n"),
        )
        .file("specs/s.yaml", KV_SPEC)
        .env("HOOK", "not-a-url-but-SECRET-TOKEN")
        .args("p s plan")
        .status(2)
        .stderr("error: [DIR]/projects/p.yaml:7:10: `notify.slack`: is not an http(s) URL: expected `https://host/path`\n")
        .run();
    assert!(!run.raw_stderr.contains("SECRET-TOKEN"), "{}", run.stderr);
}

#[test]
fn dotenv_beside_the_config_fills_variables() {
    Test::new()
        .file(
            "projects/p.yaml",
            &KV_PROJECT.replace("bridge: br1", "bridge: ${BRIDGE}"),
        )
        .file("specs/s.yaml", KV_SPEC)
        .file(".env", "BRIDGE=br-lab\n")
        .args("p s plan -o yaml")
        .stdout_unchecked()
        .run()
        .stdout_has("\"bridge\":\"br-lab\"");
}

#[test]
fn dotenv_reads_what_python_dotenv_reads_and_fills_numbers() {
    let run = Test::new()
        .file(
            "projects/p.yaml",
            &KV_PROJECT.replace("bridge: br1", "bridge: ${BRIDGE}"),
        )
        .file(
            "specs/s.yaml",
            &format!(
                "{}ssh: {{authorized_keys: [\"${{SSH_PUBLIC_KEY}}\"]}}\nreplicas: ${{N:-1}}\n",
                KV_SPEC.replace("cpu: 2", "cpu: ${CPUS}")
            ),
        )
        .file(
            ".env",
            "# lab settings\nexport BRIDGE=\"br-lab\"  # the lab bridge\n\
             SSH_PUBLIC_KEY=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI me@host\nCPUS = '3'\n",
        )
        .args("p s plan -o yaml")
        .stdout_unchecked()
        .run();
    run.stdout_has("\"bridge\":\"br-lab\"")
        .stdout_has("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI me@host")
        .stdout_has("cores: 3");
}

#[test]
fn dotenv_and_variable_errors_name_the_line() {
    let t = Test::new()
        .file("projects/p.yaml", KV_PROJECT)
        .file("specs/s.yaml", &KV_SPEC.replace("cpu: 2", "cpu: ${CPUS}"))
        .file(".env", "CPUS=two\nNAME=\"web\n");
    let error = "error: [DIR]/.env:2:6: the value of `NAME` opens a \" quote that is never closed: close it (a quoted value may span lines)\n";
    t.cmd("p s plan").status(2).stderr(error).run();
    t.cmd("validate").status(2).stderr(error).run();
    t.put(".env", "CPUS=two\n");
    t.cmd("p s plan")
        .status(2)
        .stderr("error: [DIR]/specs/s.yaml:1:1: `cpu`: `${CPUS}` is `two`, not a whole number (a `${VAR}` here must hold a whole number)\n")
        .run();
}

/// A template that renders to `#cloud-config`, a file holding `n` bytes, and nothing else.
fn big_template(n: usize) -> String {
    format!(
        "#cloud-config\nwrite_files:\n- path: /etc/big\n  content: {}\n",
        "x".repeat(n)
    )
}

#[test]
fn cloud_init_over_the_oci_metadata_limit_is_found_by_validate_and_plan() {
    let (project, spec) = oci("", "cloud_init: {template: t.yaml.j2}\n");
    let t = Test::new()
        .file("projects/p.yaml", &project)
        .file("specs/s.yaml", &spec)
        .file("templates/t.yaml.j2", &big_template(24_000));
    let error = "error: [DIR]/specs/s.yaml:5:14: `cloud_init.template`: `s-01`: the instance metadata OCI would receive is 32092 bytes (user_data: 24056 bytes of rendered cloud-init, 32076 in base64; ssh_authorized_keys: 0 bytes), over OCI's limit of 32000 bytes (LaunchInstanceDetails.metadata): make the template smaller, e.g. have cloud-init download large files at boot instead of writing them inline\n";
    t.cmd("p s plan").status(2).stderr(error).run();
    t.cmd("validate").status(2).stderr(error).run();
    // A little smaller fits.
    t.put("templates/t.yaml.j2", &big_template(23_900));
    t.cmd("validate")
        .stdout("ok: 1 projects, 1 specs, 1 templates, 1 project/spec plans\n")
        .run();
}

#[test]
fn cloud_init_over_the_kubernetes_secret_limit_is_found_by_validate_and_plan() {
    let (project, spec) = kv("", "cloud_init: {template: t.yaml.j2}\n");
    // 20,000 lines of 53 bytes: a small template that renders to over 1 MiB.
    let template = "#cloud-config\nruncmd:\n{% for i in range(20000) %}\n- echo {{ \"%045d\" | format(i) }}\n{% endfor %}\n";
    let t = Test::new()
        .file("projects/p.yaml", &project)
        .file("specs/s.yaml", &spec)
        .file("templates/t.yaml.j2", template);
    // userdata: 22 bytes of header and 20,000 × 53; networkdata: the ipam network-config.
    let error = "error: [DIR]/specs/s.yaml:6:14: `cloud_init.template`: `s-01`: the cloud-init Secret would hold 1060182 bytes (userdata: 1060022, networkdata: 160), over Kubernetes' limit of 1048576 bytes (1 MiB) per Secret: make the template smaller, e.g. have cloud-init download large files at boot instead of writing them inline\n";
    t.cmd("p s plan").status(2).stderr(error).run();
    t.cmd("validate").status(2).stderr(error).run();
}

#[test]
fn files_over_one_mib_are_refused_with_their_size_before_being_read() {
    let padding = format!("# {}\n", "x".repeat(1024 * 1024));
    let size = KV_SPEC.len() + padding.len();
    let t = Test::new()
        .file("projects/p.yaml", KV_PROJECT)
        .file("specs/s.yaml", &format!("{KV_SPEC}{padding}"));
    let error = format!(
        "error: [DIR]/specs/s.yaml: file is {size} bytes, over the limit of 1048576 bytes (1 MiB) for projects, specs, .env and templates: is it the file you meant? Keep large data out of the configuration (a template can have cloud-init fetch it at boot)\n"
    );
    t.cmd("p s plan").status(2).stderr(error.clone()).run();
    t.cmd("validate").status(2).stderr(error).run();
    // The same limit for .env and templates.
    t.put(
        "specs/s.yaml",
        &format!("{KV_SPEC}cloud_init: {{template: t.yaml.j2}}\n"),
    );
    t.put("templates/t.yaml.j2", &big_template(1024 * 1024));
    let template = big_template(1024 * 1024).len();
    t.cmd("p s plan")
        .status(2)
        .stderr(format!("error: [DIR]/templates/t.yaml.j2: template error: `[DIR]/templates/t.yaml.j2`: file is {template} bytes, over the limit of 1048576 bytes (1 MiB) for projects, specs, .env and templates: is it the file you meant? Keep large data out of the configuration (a template can have cloud-init fetch it at boot)\n"))
        .run();
    t.put("templates/t.yaml.j2", "#cloud-config\n");
    t.put(".env", &format!("A=1\n{padding}"));
    t.cmd("p s plan")
        .status(2)
        .stderr(format!("error: [DIR]/.env: file is {} bytes, over the limit of 1048576 bytes (1 MiB) for projects, specs, .env and templates: is it the file you meant? Keep large data out of the configuration (a template can have cloud-init fetch it at boot)\n", padding.len() + 4))
        .run();
}

#[test]
fn an_unknown_run_strategy_lists_the_four_and_oci_refuses_the_key() {
    Test::new()
        .file("projects/p.yaml", KV_PROJECT)
        .file(
            "specs/s.yaml",
            &format!("{KV_SPEC}run_strategy: Sometimes\n"),
        )
        .args("p s plan")
        .status(2)
        .stderr("error: [DIR]/specs/s.yaml:6:1: `run_strategy`: unknown variant `Sometimes`, expected one of `Always`, `Halted`, `RerunOnFailure`, `Manual`\n")
        .run();
    Test::new()
        .file("projects/p.yaml", OCI_PROJECT)
        .file("specs/s.yaml", &format!("{OCI_SPEC}run_strategy: Halted\n"))
        .args("p s plan")
        .status(2)
        .stderr("error: [DIR]/specs/s.yaml:5:1: `run_strategy`: applies to provider `kubevirt`, but this spec is used with `oci`\n")
        .run();
}

#[test]
fn a_select_spec_names_every_wrong_field_at_its_line() {
    // Instance fields beside `select:`, a deploy schedule, an OCID of a kind not listed, a
    // defined tag with two dots, a compartment that is not one.
    Test::new()
        .file("projects/p.yaml", OCI_PROJECT)
        .file(
            "specs/s.yaml",
            "shape: VM.Standard.A1.Flex
select:
  ids: [ocid1.autonomousdatabase.oc1..x, ocid1.volume.oc1..y]
  tags: {a.b.c: x}
  compartment: main
schedules:
  - {cron: \"0 8 * * *\", action: deploy}
",
        )
        .args("p s status")
        .status(2)
        .stderr(
            "error: [DIR]/specs/s.yaml:1:1: `shape`: describes instances to create, but this spec has `select:`: it acts on existing resources only (start, stop, status); remove one of the two
error: [DIR]/specs/s.yaml:7:25: `schedules[0].action`: `deploy` cannot run on a `select:` spec: vauto only starts and stops what it selects (use `start` or `stop`)
error: [DIR]/specs/s.yaml:3:9: `select.ids[0]`: `ocid1.autonomousdatabase.oc1..x` is the OCID of an autonomous database, but `select.kinds` does not list `autonomous_database`: add it
error: [DIR]/specs/s.yaml:3:42: `select.ids[1]`: `ocid1.volume.oc1..y` is not the OCID of an instance, instance pool, autonomous database or container instance
error: [DIR]/specs/s.yaml:4:10: `select.tags.a.b.c`: `a.b.c` has more than one `.`: a defined tag is `Namespace.key`
error: [DIR]/specs/s.yaml:5:3: `select.compartment`: `main` is not a compartment OCID (`ocid1.compartment.…`, or `ocid1.tenancy.…` for the root)
",
        )
        .run();
    // KubeVirt: labels only, and valid ones.
    Test::new()
        .file("projects/p.yaml", KV_PROJECT)
        .file(
            "specs/s.yaml",
            "select:\n  labels: {\"-bad\": dev}\n  tags: {env: dev}\n",
        )
        .args("p s status")
        .status(2)
        .stderr_unchecked()
        .run()
        .stderr_has(
            "`select.tags`: applies to provider `oci`, but this spec is used with `kubevirt`",
        )
        .stderr_has("`select.labels.-bad`: `-bad` is not a label key: it");
    Test::new()
        .file("projects/p.yaml", OCI_PROJECT)
        .file("specs/s.yaml", "select: {}\n")
        .args("p s status")
        .status(2)
        .stderr("error: [DIR]/specs/s.yaml:1:1: `select`: selects nothing: give `ids`, `tags` or `compartment` (OCI) or `labels` (KubeVirt)\n")
        .run();
}

#[test]
fn an_air_gapped_spec_names_every_wrong_field_at_its_line() {
    // A DataSource name that is no DNS name, a CA file that is missing and one that is not
    // PEM, credentials of neither form, `pull_method` on an HTTP import, an instance type
    // beside `cpu`, a preference of an unknown kind, a data disk named like vauto's own.
    Test::new()
        .file("projects/p.yaml", KV_PROJECT)
        .file("ca/not-pem.crt", "just text\n")
        .file(
            "specs/s.yaml",
            "cpu: 2
instancetype: {name: u1.medium}
preference: {name: rhel.9, kind: ClusterPreference}
disk:
  size: 30Gi
  source: {data_source: {name: RHEL_9}}
disks:
  - name: rootdisk
    size: 1Gi
    source:
      registry: {url: \"docker://mirror.lab/x:1\", ca_file: ca/missing.crt, credentials: {secret: s, username: u}}
  - name: logs
    size: 1Gi
    source:
      http: {url: \"https://mirror.lab/x.img\", ca_file: ca/not-pem.crt, pull_method: node}
",
        )
        .args("p s plan")
        .status(2)
        .stderr(
            "error: [DIR]/specs/s.yaml:6:26: `disk.source.data_source.name`: `RHEL_9` is not a DataSource name: it is not a DNS subdomain (lowercase letters, digits, `-` and `.`): a part may contain only lowercase letters, digits and `-`
error: [DIR]/specs/s.yaml:8:5: `disks[0].name`: `rootdisk` is the name of a disk vauto attaches itself: pick another
error: [DIR]/specs/s.yaml:15:72: `disks[1].source.http.pull_method`: applies to registry imports only: an HTTP import is always made by CDI's importer pod
error: [DIR]/specs/s.yaml:11:50: `disks[0].source.registry.ca_file`: cannot read `[DIR]/ca/missing.crt`: No such file or directory (os error 2); give the PEM file of the CA that signed the server's certificate (relative paths start at the config directory)
error: [DIR]/specs/s.yaml:15:47: `disks[1].source.http.ca_file`: `[DIR]/ca/not-pem.crt` holds no PEM certificate (`-----BEGIN CERTIFICATE-----`): convert a DER file with `openssl x509 -inform der -in CA.der -out ca.crt`
error: [DIR]/specs/s.yaml:11:75: `disks[0].source.registry.credentials`: must be `{secret: NAME}` (a Secret with keys `accessKeyId` and `secretKey`) or `{username: ${USER_VAR}, password: ${PASSWORD_VAR}}`
error: [DIR]/specs/s.yaml:1:1: `cpu`: cannot be set together with `instancetype`: the instance type sizes the VM (KubeVirt refuses a VM whose domain conflicts with it); remove one of them
error: [DIR]/specs/s.yaml:3:28: `preference.kind`: `ClusterPreference` is not a preference kind: expected `VirtualMachineClusterPreference` (the default) or `VirtualMachinePreference`
",
        )
        .run();
    // Without `memory` and without an instance type there is nothing to size the VM with.
    Test::new()
        .file("projects/p.yaml", KV_PROJECT)
        .file("specs/s.yaml", "disk: {size: 1Gi, source: {data_source: {name: rhel9}}}\n")
        .args("p s plan")
        .status(2)
        .stderr("error: [DIR]/specs/s.yaml: `memory`: is required for kubevirt: a quantity like `4Gi` (or size the VM with `instancetype: {name: u1.medium}`)\n")
        .run();
}
