//! Every shipped project and spec loads and plans; plan output is exact (snapshots).

use crate::harness::Test;

#[test]
fn shipped_examples_validate() {
    Test::with_examples()
        .args("validate")
        .stdout("ok: 4 projects, 3 specs, 1 templates, 6 project/spec plans\n")
        .run();
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
        // Table and YAML carry their notes on stdout; stderr stays empty.
        for fmt in ["table", "yaml"] {
            let r = t
                .cmd(&format!("{p} {s} plan -o {fmt}"))
                .stdout_unchecked()
                .run();
            assert!(!r.stdout.is_empty(), "{p} {s} {fmt}");
        }
        // With -o json stdout is JSON and nothing else; the notes go to stderr.
        let json = t
            .cmd(&format!("{p} {s} plan -o json"))
            .stdout_unchecked()
            .stderr_unchecked()
            .run();
        let v: serde_json::Value =
            serde_json::from_str(&json.raw_stdout).expect("plan -o json is JSON");
        assert!(v.as_array().is_some_and(|a| !a.is_empty()));
        assert!(
            json.stderr.lines().all(|l| l.starts_with("note: ")),
            "{p} {s}: only notes on stderr:\n{}",
            json.stderr
        );
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

#[test]
fn kubevirt_plan_yaml_is_an_apply_able_stream() {
    let t = examples_with_keys();
    let r = t
        .cmd("lab web plan -o yaml --replicas 1")
        .stdout_unchecked()
        .run();
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
    insta::assert_snapshot!("lab_web_plan_yaml", r.stdout);
}

#[test]
fn oci_plan_json_is_kind_name_body_with_placeholders() {
    let t = examples_with_keys();
    // The notes go to stderr with -o json; stdout is the JSON alone.
    let r = t
        .cmd("a1-hunt a1 plan -o json")
        .stdout_unchecked()
        .stderr(
            "note: compartmentId: no `oci.compartment`, the tenancy (root compartment) of the OCI profile is used
note: createVnicDetails.subnetId: looked up by display name \"public subnet-main-vcn\" with ListSubnets
note: sourceDetails.imageId: the newest image \"Canonical Ubuntu\" 22.04 matching [Minimal, aarch64] for VM.Standard.A1.Flex, found with ListImages
note: availabilityDomain: `availability_domains: all`, every AD of the region from ListAvailabilityDomains, tried in order
note: shapeConfig: out of capacity in every AD, the next sizes tried are 1 OCPU/6 GB
",
        )
        .run();
    insta::assert_snapshot!("a1_hunt_a1_plan_json", r.stdout);
}

#[test]
fn target_and_replicas_narrow_the_plan() {
    let t = Test::with_examples();
    let r = t
        .cmd("lab web plan -o json --replicas 3 --target web-03")
        .stdout_unchecked()
        .stderr("note: ssh key pair [DIR]/.vauto/keys/web does not exist yet: deploy creates it (ed25519, 0600/0644)\n")
        .run();
    let v: serde_json::Value = serde_json::from_str(&r.raw_stdout).unwrap();
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
        .status(2)
        .stderr("error: [DIR]/specs/web.yaml: --target `web-09` is not an instance of spec `web` with 2 replicas (`web-01` … `web-02`)\n")
        .run();
}

/// The `configMap` items of a manifest, wherever they sit: (key, path).
fn config_items(v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(items) = m
                .get("configMap")
                .and_then(|c| c.get("items"))
                .and_then(|i| i.as_array())
            {
                for i in items {
                    out.push((
                        i["key"].as_str().unwrap().to_string(),
                        i["path"].as_str().unwrap().to_string(),
                    ));
                }
            }
            m.values().for_each(|x| config_items(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| config_items(x, out)),
        _ => {}
    }
}

/// The shipped Deployment and CronJob mount a ConfigMap made with `kubectl create configmap
/// --from-file=...` (one key per file, named after it) and put each key back at its path:
/// the tree they make inside the pod must pass `validate`, templates included.
#[test]
fn the_kubernetes_manifests_mount_every_file_validate_needs() {
    use serde::Deserialize as _;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for manifest in ["deployment.yaml", "cronjob.yaml"] {
        let text = std::fs::read_to_string(root.join("deploy/kubernetes").join(manifest)).unwrap();
        let mut items = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v = serde_json::Value::deserialize(doc).unwrap();
            config_items(&v, &mut items);
        }
        assert!(!items.is_empty(), "{manifest}: no configMap items");
        let t = Test::new();
        for (key, path) in &items {
            // `--from-file=specs/web.yaml` makes the key `web.yaml`.
            let source = ["projects", "specs", "templates/cloud-init"]
                .iter()
                .map(|d| root.join(d).join(key))
                .find(|p| p.is_file())
                .unwrap_or_else(|| panic!("{manifest}: no shipped file for key {key}"));
            t.put(path, &std::fs::read_to_string(source).unwrap());
        }
        t.cmd("validate")
            .stdout("ok: 1 projects, 1 specs, 1 templates, 1 project/spec plans\n")
            .run();
    }
}
