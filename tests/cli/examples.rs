//! Every shipped project and spec loads and plans; plan output is exact (snapshots).

use crate::harness::Test;

#[test]
fn shipped_examples_validate() {
    Test::with_examples()
        .args("validate")
        .run()
        .code(0)
        .stdout_has("ok: 4 projects, 2 specs");
}

#[test]
fn every_project_spec_pair_plans_in_every_format() {
    let t = Test::with_examples();
    for (p, s) in [
        ("lab", "web"),
        ("demo-kubevirt", "web"),
        ("a1-hunt", "a1"),
        ("demo-oci", "a1"),
    ] {
        for fmt in ["table", "json", "yaml"] {
            let r = t.cmd(&format!("{p} {s} plan -o {fmt}"));
            r.code(0);
            assert!(!r.stdout.is_empty(), "{p} {s} {fmt}");
        }
        let json = t.cmd(&format!("{p} {s} plan -o json"));
        let v: serde_json::Value =
            serde_json::from_str(&json.stdout).expect("plan -o json is JSON");
        assert!(v.as_array().is_some_and(|a| !a.is_empty()));
    }
}

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk0Qp3ZxXb5dYk2mQy6c0r3Wm6TqzV2H0ZsO0xJcXbY vauto-test\n";

/// Examples with fixed generated keys, so snapshots do not depend on random keys.
fn examples_with_keys() -> Test {
    Test::with_examples()
        .file(".vauto/keys/a1.pub", KEY)
        .file(".vauto/keys/web.pub", KEY)
}

/// Replaces the temporary directory in output so snapshots are stable.
fn stable(t: &Test, s: &str) -> String {
    s.replace(&t.path().display().to_string(), "[CONFIG]")
}

#[test]
fn kubevirt_plan_yaml_is_an_apply_able_stream() {
    let t = examples_with_keys();
    let r = t.cmd("lab web plan -o yaml --replicas 1");
    r.code(0);
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&r.stdout)
        .map(|d| serde::Deserialize::deserialize(d).expect("yaml doc"))
        .collect();
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "Secret",
            "NetworkAttachmentDefinition",
            "DataVolume",
            "VirtualMachine"
        ]
    );
    insta::assert_snapshot!("lab_web_plan_yaml", stable(&t, &r.stdout));
}

#[test]
fn oci_plan_json_is_kind_name_body_with_placeholders() {
    let t = examples_with_keys();
    let r = t.cmd("a1-hunt a1 plan -o json");
    r.code(0);
    insta::assert_snapshot!("a1_hunt_a1_plan_json", stable(&t, &r.stdout));
    assert!(
        r.stderr.contains("note: "),
        "notes go to stderr with -o json"
    );
}

#[test]
fn target_and_replicas_narrow_the_plan() {
    let t = Test::with_examples();
    let r = t.cmd("lab web plan -o json --replicas 3 --target web-03");
    r.code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["web-03-cloudinit", "web-03-net", "web-03-disk", "web-03"]
    );
    assert!(r.stdout.contains("192.168.10.103/24"));
    t.cmd("lab web plan --target web-09")
        .code(2)
        .stderr_has("not an instance of spec `web`");
}
