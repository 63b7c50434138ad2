//! Tests driving the simulator with the real kube-rs client, as vauto does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};

use super::{KubeSim, KubeSimOptions, start};

/// The real schemas, kept in the repository (data/schemas/README.md): always there.
fn schema_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/schemas"))
}

fn opts(dir: &Path) -> KubeSimOptions {
    KubeSimOptions {
        state_dir: dir.to_path_buf(),
        import_duration: Duration::from_millis(600),
        boot_duration: Duration::from_millis(450),
        ..KubeSimOptions::default()
    }
}

async fn client_from(path: &Path) -> Client {
    crate::tls::install_crypto_provider();
    let kc = Kubeconfig::read_from(path).unwrap();
    let mut cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    // kube-rs retries 429/503 itself (honouring Retry-After); the fault tests want to see them.
    cfg.default_retry = false;
    assert_eq!(cfg.default_namespace, "default");
    Client::try_from(cfg).unwrap()
}

/// A plain HTTPS client trusting the simulator's CA, for requests kube-rs does not make.
fn raw_client(sim: &KubeSim) -> reqwest::Client {
    crate::tls::install_crypto_provider();
    let ca = reqwest::Certificate::from_pem(sim.ca_pem().as_bytes()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap()
}

async fn client(sim: &KubeSim) -> Client {
    client_from(&sim.kubeconfig()).await
}

/// A client whose kubeconfig carries another token.
async fn client_with_token(sim: &KubeSim, dir: &Path, token: &str) -> Client {
    let text = std::fs::read_to_string(sim.kubeconfig()).unwrap();
    let text = text.replace("\"vauto-sim-token\"", &format!("\"{token}\""));
    let path = dir.join("other-kubeconfig");
    std::fs::write(&path, text).unwrap();
    client_from(&path).await
}

fn api(
    client: &Client,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let ar =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    Api::namespaced_with(client.clone(), "default", &ar)
}

fn secrets(c: &Client) -> Api<DynamicObject> {
    api(c, "", "v1", "Secret", "secrets")
}
fn vms(c: &Client) -> Api<DynamicObject> {
    api(c, "kubevirt.io", "v1", "VirtualMachine", "virtualmachines")
}
fn vmis(c: &Client) -> Api<DynamicObject> {
    api(
        c,
        "kubevirt.io",
        "v1",
        "VirtualMachineInstance",
        "virtualmachineinstances",
    )
}
fn dvs(c: &Client) -> Api<DynamicObject> {
    api(c, "cdi.kubevirt.io", "v1beta1", "DataVolume", "datavolumes")
}
fn nads(c: &Client) -> Api<DynamicObject> {
    api(
        c,
        "k8s.cni.cncf.io",
        "v1",
        "NetworkAttachmentDefinition",
        "network-attachment-definitions",
    )
}
fn events(c: &Client) -> Api<DynamicObject> {
    api(c, "", "v1", "Event", "events")
}

fn obj(v: Value) -> DynamicObject {
    serde_json::from_value(v).unwrap()
}

fn secret(name: &str, app: &str) -> DynamicObject {
    obj(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "labels": {"app": app, "vauto.io/managed": "true"}},
        "type": "Opaque",
        "stringData": {"userdata": "#cloud-config\n"},
    }))
}

fn nad(name: &str, address: &str) -> DynamicObject {
    let config = json!({
        "cniVersion": "0.3.1", "name": name, "type": "bridge", "bridge": "br1",
        "ipam": {"type": "static", "addresses": [{"address": address, "gateway": "192.168.50.1"}]},
    });
    obj(json!({
        "apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": name},
        "spec": {"config": config.to_string()},
    }))
}

fn datavolume(name: &str) -> DynamicObject {
    obj(json!({
        "apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
        "metadata": {"name": name},
        "spec": {
            "source": {"http": {"url": "http://images.example/fedora.qcow2"}},
            "storage": {"resources": {"requests": {"storage": "10Gi"}}},
        },
    }))
}

fn vm(name: &str, extra_spec: Value) -> Value {
    let mut v = json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "labels": {"vauto.io/project": "demo"}},
        "spec": {
            "runStrategy": "Always",
            "template": {
                "metadata": {"labels": {"vauto.io/instance": name}},
                "spec": {
                    "nodeSelector": {"topology.kubernetes.io/zone": "zone-b"},
                    "domain": {
                        "cpu": {"cores": 1},
                        "memory": {"guest": "1Gi"},
                        "devices": {
                            "disks": [
                                {"name": "root", "disk": {"bus": "virtio"}},
                                {"name": "cloudinit", "disk": {"bus": "virtio"}},
                            ],
                            "interfaces": [{"name": "net1", "bridge": {}}],
                        },
                    },
                    "networks": [{"name": "net1", "multus": {"networkName": format!("{name}-net")}}],
                    "volumes": [
                        {"name": "root", "dataVolume": {"name": format!("{name}-disk")}},
                        {"name": "cloudinit", "cloudInitNoCloud": {
                            "secretRef": {"name": format!("{name}-cloudinit")},
                            "networkDataSecretRef": {"name": format!("{name}-cloudinit")},
                        }},
                    ],
                },
            },
        },
    });
    if let (Some(spec), Some(extra)) = (
        v.pointer_mut("/spec").and_then(Value::as_object_mut),
        extra_spec.as_object(),
    ) {
        for (k, x) in extra {
            spec.insert(k.clone(), x.clone());
        }
    }
    v
}

fn api_err(e: kube::Error) -> (u16, String, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an api error, got {other:?}"),
    }
}

fn field<'a>(o: &'a DynamicObject, pointer: &str) -> Option<&'a Value> {
    o.data.pointer(pointer)
}

#[tokio::test]
async fn create_conflict_get_list_page_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let c = client(&sim).await;
    let api = secrets(&c);
    let pp = PostParams::default();
    for i in 0..5 {
        let app = if i < 3 { "a" } else { "b" };
        let created = api
            .create(&pp, &secret(&format!("s{i}"), app))
            .await
            .unwrap();
        assert!(created.metadata.uid.is_some());
        assert!(created.metadata.creation_timestamp.is_some());
        assert_eq!(created.metadata.namespace.as_deref(), Some("default"));
    }
    let (code, reason, msg) = api_err(api.create(&pp, &secret("s0", "a")).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(msg, "secrets \"s0\" already exists");

    let got = api.get("s3").await.unwrap();
    assert_eq!(got.metadata.labels.unwrap()["app"], "b");

    let a = api
        .list(&ListParams::default().labels("app=a"))
        .await
        .unwrap();
    assert_eq!(a.items.len(), 3);
    let not_a = api
        .list(&ListParams::default().labels("app!=a,vauto.io/managed"))
        .await
        .unwrap();
    assert_eq!(not_a.items.len(), 2);

    let page1 = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(page1.items.len(), 2);
    let token = page1.metadata.continue_.clone().unwrap();
    let page2 = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    let page3_token = page2.metadata.continue_.clone().unwrap();
    let page3 = api
        .list(&ListParams::default().limit(2).continue_token(&page3_token))
        .await
        .unwrap();
    assert_eq!(page3.items.len(), 1);
    assert!(page3.metadata.continue_.as_deref().unwrap_or("").is_empty());
    let mut names: Vec<String> = [page1, page2, page3]
        .iter()
        .flat_map(|p| p.items.iter().map(|o| o.metadata.name.clone().unwrap()))
        .collect();
    names.dedup();
    assert_eq!(names, ["s0", "s1", "s2", "s3", "s4"]);

    let (code, reason, _) = api_err(
        api.list(
            &ListParams::default()
                .limit(2)
                .continue_token("bm90LWEtdG9rZW4"),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (410, "Expired"));

    api.delete("s1", &DeleteParams::default()).await.unwrap();
    let (code, reason, msg) = api_err(api.get("s1").await.unwrap_err());
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
    assert_eq!(msg, "secrets \"s1\" not found");
    let (code, _, _) = api_err(
        api.delete("s1", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 404);
}

#[tokio::test]
async fn bad_token_is_401_and_read_only_token_is_403() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.read_only_tokens = vec!["viewer-token".into()];
    let sim = start(o).await.unwrap();

    let bad = client_with_token(&sim, dir.path(), "wrong").await;
    let (code, reason, _) = api_err(
        secrets(&bad)
            .list(&ListParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (401, "Unauthorized"));

    let viewer = client_with_token(&sim, dir.path(), "viewer-token").await;
    assert!(
        vms(&viewer)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let (code, reason, msg) = api_err(
        vms(&viewer)
            .create(&PostParams::default(), &obj(vm("vm1", json!({}))))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert!(
        msg.contains("cannot create resource \"virtualmachines\" in API group \"kubevirt.io\" in the namespace \"default\""),
        "{msg}"
    );
    // The refused write left nothing behind.
    let admin = client(&sim).await;
    assert!(
        vms(&admin)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn schema_and_cni_config_errors_are_422() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let c = client(&sim).await;
    let pp = PostParams::default();

    // A wrong type is a schema violation (an unknown field is pruned instead: strict_tests).
    let mut wrong = vm("vm1", json!({}));
    if let Some(spec) = wrong.pointer_mut("/spec").and_then(Value::as_object_mut) {
        spec.insert("runStrategy".into(), json!(5));
    }
    let (code, reason, msg) = api_err(vms(&c).create(&pp, &obj(wrong)).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert!(
        msg.starts_with("VirtualMachine.kubevirt.io \"vm1\" is invalid"),
        "{msg}"
    );
    assert!(msg.contains("spec.runStrategy"), "{msg}");
    assert!(vms(&c).get_opt("vm1").await.unwrap().is_none());

    let (code, _, msg) = api_err(
        nads(&c)
            .create(&pp, &nad("vm1-net", "192.168.50.10"))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 422);
    assert!(msg.contains("is not a CIDR"), "{msg}");

    // The valid shapes vauto generates pass.
    nads(&c)
        .create(&pp, &nad("vm1-net", "192.168.50.10/24"))
        .await
        .unwrap();
    dvs(&c).create(&pp, &datavolume("vm1-disk")).await.unwrap();
    secrets(&c)
        .create(&pp, &secret("vm1-cloudinit", "a"))
        .await
        .unwrap();
    vms(&c)
        .create(&pp, &obj(vm("vm1", json!({}))))
        .await
        .unwrap();
}

async fn wait_for<F>(api: &Api<DynamicObject>, name: &str, what: &str, pred: F) -> DynamicObject
where
    F: Fn(&DynamicObject) -> bool,
{
    for _ in 0..100 {
        if let Some(o) = api.get_opt(name).await.unwrap()
            && pred(&o)
        {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {name} to be {what}");
}

fn printable(o: &DynamicObject) -> &str {
    field(o, "/status/printableStatus")
        .and_then(Value::as_str)
        .unwrap_or("")
}

async fn put_action(c: &Client, name: &str, action: &str) -> Result<String, kube::Error> {
    let path = format!(
        "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachines/{name}/{action}"
    );
    let req = http::Request::put(path).body(Vec::new()).unwrap();
    c.request_text(req).await
}

fn validate_against(schema_file: &str, value: &Value) {
    let dir = schema_dir();
    let text = std::fs::read_to_string(dir.join("jsonschema").join(schema_file)).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let v = if schema.get("$schema").is_some() {
        jsonschema::validator_for(&schema).unwrap()
    } else {
        jsonschema::draft7::new(&schema).unwrap()
    };
    let errors: Vec<String> = v
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{schema_file}: {errors:?}\n{value:#}");
}

#[tokio::test]
async fn controller_imports_boots_with_nad_address_and_start_stop_work() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let c = client(&sim).await;
    let pp = PostParams::default();
    secrets(&c)
        .create(&pp, &secret("vm1-cloudinit", "a"))
        .await
        .unwrap();
    nads(&c)
        .create(&pp, &nad("vm1-net", "192.168.50.10/24"))
        .await
        .unwrap();
    dvs(&c).create(&pp, &datavolume("vm1-disk")).await.unwrap();
    vms(&c)
        .create(&pp, &obj(vm("vm1", json!({}))))
        .await
        .unwrap();

    let first = vms(&c).get("vm1").await.unwrap();
    assert_eq!(printable(&first), "Provisioning");
    let dv = dvs(&c).get("vm1-disk").await.unwrap();
    assert_ne!(field(&dv, "/status/phase").unwrap(), "Succeeded");

    let running = wait_for(&vms(&c), "vm1", "Running", |o| printable(o) == "Running").await;
    assert_eq!(field(&running, "/status/ready"), Some(&json!(true)));
    let dv = dvs(&c).get("vm1-disk").await.unwrap();
    assert_eq!(field(&dv, "/status/phase").unwrap(), "Succeeded");
    assert_eq!(field(&dv, "/status/progress").unwrap(), "100.00%");
    let vmi = vmis(&c).get("vm1").await.unwrap();
    assert_eq!(field(&vmi, "/status/phase").unwrap(), "Running");
    assert_eq!(
        field(&vmi, "/status/interfaces/0/ipAddress").unwrap(),
        "192.168.50.10"
    );
    // The nodeSelector asks for zone-b, which only worker-1 has.
    assert_eq!(field(&vmi, "/status/nodeName").unwrap(), "worker-1");
    for (file, v) in [
        ("kubevirt.io_virtualmachine_v1.json", &running),
        ("kubevirt.io_virtualmachineinstance_v1.json", &vmi),
        ("cdi.kubevirt.io_datavolume_v1beta1.json", &dv),
    ] {
        validate_against(file, &serde_json::to_value(v).unwrap());
    }

    let evs = events(&c).list(&ListParams::default()).await.unwrap();
    let reasons: Vec<(String, String)> = evs
        .items
        .iter()
        .map(|e| {
            validate_against("event-v1.json", &serde_json::to_value(e).unwrap());
            (
                field(e, "/involvedObject/kind")
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_string(),
                field(e, "/reason")
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    for want in [
        ("DataVolume", "ImportSucceeded"),
        ("VirtualMachineInstance", "Started"),
        ("VirtualMachine", "SuccessfulCreate"),
    ] {
        assert!(
            reasons
                .iter()
                .any(|(k, r)| (k.as_str(), r.as_str()) == want),
            "{want:?} not in {reasons:?}"
        );
    }
    let for_dv = events(&c)
        .list(
            &ListParams::default()
                .fields("involvedObject.kind=DataVolume,involvedObject.name=vm1-disk"),
        )
        .await
        .unwrap();
    assert_eq!(for_dv.items.len(), 3);
    assert!(
        evs.items
            .iter()
            .all(|e| field(e, "/count") == Some(&json!(1))),
        "each transition is announced once"
    );
    assert_eq!(
        kube::ResourceExt::labels(&vmi)
            .get("kubevirt.io/nodeName")
            .map(String::as_str),
        Some("worker-1")
    );
    // A settled cluster stays put: reads do not bump resourceVersions or add events.
    let rv = |o: &DynamicObject| o.metadata.resource_version.clone().unwrap();
    let again = (
        vms(&c).get("vm1").await.unwrap(),
        vmis(&c).get("vm1").await.unwrap(),
        dvs(&c).get("vm1-disk").await.unwrap(),
    );
    assert_eq!(
        (rv(&again.0), rv(&again.1), rv(&again.2)),
        (rv(&running), rv(&vmi), rv(&dv))
    );
    assert_eq!(
        events(&c)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        evs.items.len()
    );

    let (code, reason, msg) = api_err(put_action(&c, "vm1", "start").await.unwrap_err());
    assert_eq!(
        (code, reason.as_str(), msg.as_str()),
        (409, "Conflict", "VM is already running")
    );
    put_action(&c, "vm1", "stop").await.unwrap();
    let (code, _, msg) = api_err(put_action(&c, "vm1", "stop").await.unwrap_err());
    assert_eq!((code, msg.as_str()), (409, "VM is not running"));
    let stopped = wait_for(&vms(&c), "vm1", "Stopped", |o| printable(o) == "Stopped").await;
    assert_eq!(field(&stopped, "/spec/runStrategy").unwrap(), "Halted");
    assert!(vmis(&c).get_opt("vm1").await.unwrap().is_none());

    put_action(&c, "vm1", "start").await.unwrap();
    assert_eq!(printable(&vms(&c).get("vm1").await.unwrap()), "Starting");
    wait_for(&vms(&c), "vm1", "Running again", |o| {
        printable(o) == "Running"
    })
    .await;

    vms(&c)
        .delete("vm1", &DeleteParams::default())
        .await
        .unwrap();
    assert!(
        vmis(&c).get_opt("vm1").await.unwrap().is_none(),
        "deleting the VM deletes its VMI"
    );
}

#[tokio::test]
async fn state_survives_restart_and_faults_leave_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let c = client(&sim).await;
    let created = secrets(&c)
        .create(&PostParams::default(), &secret("keep", "a"))
        .await
        .unwrap();
    sim.shutdown().await;

    // Every request fails: nothing may change.
    let mut faulty = opts(dir.path());
    faulty.error_rate = 1.0;
    let sim = start(faulty).await.unwrap();
    let c = client(&sim).await;
    let (code, _, _) = api_err(
        secrets(&c)
            .create(&PostParams::default(), &secret("ghost", "a"))
            .await
            .unwrap_err(),
    );
    assert!(code == 500 || code == 503, "{code}");
    sim.shutdown().await;

    let mut throttled = opts(dir.path());
    throttled.throttle_rate = 1.0;
    throttled.retry_after = Duration::from_secs(7);
    let sim = start(throttled).await.unwrap();
    let c = client(&sim).await;
    let (code, reason, _) = api_err(
        secrets(&c)
            .delete("keep", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (429, "TooManyRequests"));
    let raw = raw_client(&sim)
        .get(format!(
            "{}/api/v1/namespaces/default/secrets",
            sim.base_url()
        ))
        .bearer_auth("vauto-sim-token")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 429);
    assert_eq!(raw.headers()["retry-after"], "7");
    sim.shutdown().await;

    let sim = start(opts(dir.path())).await.unwrap();
    let c = client(&sim).await;
    let again = secrets(&c).get("keep").await.unwrap();
    assert_eq!(again.metadata.uid, created.metadata.uid);
    assert!(secrets(&c).get_opt("ghost").await.unwrap().is_none());
    let next = secrets(&c)
        .create(&PostParams::default(), &secret("later", "a"))
        .await
        .unwrap();
    let rv = |o: &DynamicObject| {
        o.metadata
            .resource_version
            .clone()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(
        rv(&next) > rv(&again),
        "resourceVersion keeps counting across restarts"
    );
}

/// A VM booting from a container disk on the pod network (no DataVolume, no NAD).
fn pod_network_vm(name: &str, run_strategy: &str, zone: &str) -> DynamicObject {
    let mut v = vm(name, json!({"runStrategy": run_strategy}));
    let spec = v.pointer_mut("/spec/template/spec").unwrap();
    spec["volumes"][0] =
        json!({"name": "root", "containerDisk": {"image": "quay.io/containerdisks/fedora:40"}});
    spec["networks"] = json!([{"name": "net1", "pod": {}}]);
    spec["domain"]["devices"]["interfaces"] = json!([{"name": "net1", "masquerade": {}}]);
    spec["nodeSelector"] = json!({"topology.kubernetes.io/zone": zone});
    obj(v)
}

#[tokio::test]
async fn run_strategy_patch_pod_network_and_unschedulable_vms() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let c = client(&sim).await;
    let pp = PostParams::default();
    vms(&c)
        .create(&pp, &pod_network_vm("halted", "Halted", "zone-a"))
        .await
        .unwrap();
    assert_eq!(printable(&vms(&c).get("halted").await.unwrap()), "Stopped");
    assert!(vmis(&c).get_opt("halted").await.unwrap().is_none());

    let patch = kube::api::Patch::Merge(json!({"spec": {"runStrategy": "Always"}}));
    let patched = vms(&c)
        .patch("halted", &kube::api::PatchParams::default(), &patch)
        .await
        .unwrap();
    assert_eq!(patched.metadata.generation, Some(2));
    wait_for(&vms(&c), "halted", "Running", |o| printable(o) == "Running").await;
    let vmi = vmis(&c).get("halted").await.unwrap();
    let ip = field(&vmi, "/status/interfaces/0/ipAddress")
        .and_then(Value::as_str)
        .unwrap();
    assert!(ip.starts_with("10.128."), "{ip}");
    assert_eq!(field(&vmi, "/status/nodeName").unwrap(), "worker-0");

    vms(&c)
        .create(&pp, &pod_network_vm("nowhere", "Always", "zone-z"))
        .await
        .unwrap();
    wait_for(&vms(&c), "nowhere", "ErrorUnschedulable", |o| {
        printable(o) == "ErrorUnschedulable"
    })
    .await;
    // The scheduler's Warning is about the launcher pod, as kube-scheduler records it.
    let warnings = events(&c)
        .list(&ListParams::default().fields("involvedObject.kind=Pod,type=Warning"))
        .await
        .unwrap();
    assert_eq!(warnings.items.len(), 1);
    assert_eq!(
        field(&warnings.items[0], "/reason").unwrap(),
        "FailedScheduling"
    );
    let pod = field(&warnings.items[0], "/involvedObject/name")
        .and_then(Value::as_str)
        .unwrap();
    assert!(pod.starts_with("virt-launcher-nowhere-"), "{pod}");
    assert_eq!(pod.len(), "virt-launcher-nowhere-".len() + 5, "{pod}");
    // That pod is listed, Pending on no node, with the scheduler's condition.
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::default_namespaced(c.clone());
    let listed = pods.get(pod).await.unwrap();
    let status = listed.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert_eq!(listed.spec.unwrap().node_name, None);
    let cond = &status.conditions.unwrap()[0];
    assert_eq!(
        (
            cond.type_.as_str(),
            cond.status.as_str(),
            cond.reason.as_deref()
        ),
        ("PodScheduled", "False", Some("Unschedulable"))
    );
    assert_eq!(
        cond.message.as_deref(),
        field(&warnings.items[0], "/message").and_then(Value::as_str)
    );
    // `kubectl get po` prints it as kube-apiserver's printers.go does: 0/1 Pending.
    let table = "application/json;as=Table;v=v1;g=meta.k8s.io";
    let (_, t) = get_json(
        &raw_client(&sim),
        &sim,
        &format!("/api/v1/namespaces/default/pods/{pod}"),
        table,
    )
    .await;
    let cells = t["rows"][0]["cells"].as_array().unwrap();
    assert_eq!(cells[1..4], [json!("0/1"), json!("Pending"), json!("0")]);
}

#[tokio::test]
async fn two_simulators_on_one_state_dir_see_each_others_writes() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(opts(dir.path())).await.unwrap();
    let c1 = client(&first).await;
    let c1_secrets = secrets(&c1);
    c1_secrets
        .create(&PostParams::default(), &secret("from-first", "a"))
        .await
        .unwrap();
    // A second vauto process starts its own simulator on the same state folder.
    let second = start(opts(dir.path())).await.unwrap();
    let c2 = client(&second).await;
    assert!(secrets(&c2).get_opt("from-first").await.unwrap().is_some());
    secrets(&c2)
        .create(&PostParams::default(), &secret("from-second", "a"))
        .await
        .unwrap();
    assert!(c1_secrets.get_opt("from-second").await.unwrap().is_some());
    assert_eq!(
        c1_secrets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

#[tokio::test]
async fn an_import_from_an_unreachable_host_keeps_failing_as_cdi_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let c = client(&sim).await;
    let pp = PostParams::default();
    let mut dv = datavolume("bad-disk");
    dv.data["spec"]["source"]["http"]["url"] = json!("http://images.invalid/fedora.qcow2");
    dvs(&c).create(&pp, &dv).await.unwrap();
    nads(&c)
        .create(&pp, &nad("bad-net", "192.168.50.10/24"))
        .await
        .unwrap();
    let mut v = vm("bad", json!({}));
    v["spec"]["template"]["spec"]["volumes"][0]["dataVolume"]["name"] = json!("bad-disk");
    vms(&c).create(&pp, &obj(v)).await.unwrap();
    let message = "Unable to connect to http data source: HTTP request errored: Get \"http://images.invalid/fedora.qcow2\": dial tcp: lookup images.invalid: no such host";
    let dv = wait_for(&dvs(&c), "bad-disk", "failing", |o| {
        field(o, "/status/conditions/2/reason").and_then(Value::as_str) == Some("Error")
    })
    .await;
    // CDI leaves it ImportInProgress (never Succeeded, never Failed) while the pod restarts.
    assert_eq!(field(&dv, "/status/phase").unwrap(), "ImportInProgress");
    assert_eq!(field(&dv, "/status/conditions/2/type").unwrap(), "Running");
    assert_eq!(field(&dv, "/status/conditions/2/status").unwrap(), "False");
    assert_eq!(field(&dv, "/status/conditions/2/message").unwrap(), message);
    // KubeVirt calls the VM's state DataVolumeError and never starts it.
    wait_for(&vms(&c), "bad", "DataVolumeError", |o| {
        printable(o) == "DataVolumeError"
    })
    .await;
    // Longer than the import would have taken: still failing. The disk is a standalone
    // DataVolume, so KubeVirt made the VMI at once and holds it Pending without a launcher
    // pod (vm.go `startVMI` waits for dataVolumeTemplates only; vmi.go `sync` delays the pod).
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        printable(&vms(&c).get("bad").await.unwrap()),
        "DataVolumeError"
    );
    let vmi = vmis(&c).get("bad").await.unwrap();
    assert_eq!(field(&vmi, "/status/phase").unwrap(), "Pending");
    assert_eq!(
        field(&vmi, "/status/conditions/0/reason").unwrap(),
        "PodNotExists"
    );
    assert_eq!(field(&vmi, "/status/nodeName"), None);
    let warnings = events(&c)
        .list(&ListParams::default().fields("involvedObject.name=bad-disk,type=Warning"))
        .await
        .unwrap();
    assert_eq!(warnings.items.len(), 1);
    assert_eq!(field(&warnings.items[0], "/reason").unwrap(), "Error");
    assert_eq!(field(&warnings.items[0], "/message").unwrap(), message);
}

/// A VM with only a pod network, which the simulator boots without disks or NADs.
fn plain_vm(name: &str) -> Value {
    json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
           "metadata": {"name": name},
           "spec": {"runStrategy": "Always", "template": {"spec": {"domain": {
               "devices": {}, "resources": {"requests": {"memory": "1Gi"}}}}}}})
}

async fn get_json(http: &reqwest::Client, sim: &KubeSim, path: &str, accept: &str) -> (u16, Value) {
    let resp = http
        .get(format!("{}{path}", sim.base_url()))
        .bearer_auth("vauto-sim-token")
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    let code = resp.status().as_u16();
    (code, resp.json().await.unwrap())
}

#[tokio::test]
async fn kubeconfig_is_https_with_the_ca_and_the_certificates_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let text = std::fs::read_to_string(sim.kubeconfig()).unwrap();
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(sim.ca_pem());
    assert!(text.contains(&format!(
        "    server: {}\n    certificate-authority-data: {ca}\n",
        sim.base_url()
    )));
    let first_ca = sim.ca_pem().to_string();
    sim.shutdown().await;
    let sim = start(opts(dir.path())).await.unwrap();
    assert_eq!(sim.ca_pem(), first_ca);
    // kube-rs trusts it from the kubeconfig alone.
    secrets(&client(&sim).await)
        .list(&ListParams::default())
        .await
        .unwrap();
    // A client that does not trust the CA cannot connect.
    crate::tls::install_crypto_provider();
    let untrusting = reqwest::Client::new()
        .get(format!("{}/version", sim.base_url()))
        .send()
        .await;
    assert!(untrusting.is_err());
}

#[tokio::test]
async fn discovery_names_the_resources_as_kubevirt_cdi_and_the_core_api_do() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let http = raw_client(&sim);
    let (code, list) = get_json(&http, &sim, "/apis/kubevirt.io/v1", "application/json").await;
    assert_eq!(code, 200);
    let all = [
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ];
    assert_eq!(
        list["resources"],
        json!([
            {"name": "virtualmachines", "singularName": "virtualmachine", "namespaced": true,
             "kind": "VirtualMachine", "verbs": all, "shortNames": ["vm", "vms"], "categories": ["all"]},
            {"name": "virtualmachineinstances", "singularName": "virtualmachineinstance", "namespaced": true,
             "kind": "VirtualMachineInstance", "verbs": all, "shortNames": ["vmi", "vmis"], "categories": ["all"]},
        ])
    );
    let (_, core) = get_json(&http, &sim, "/api/v1", "application/json").await;
    let short: Vec<(String, Value)> = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r.get("shortNames").cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    assert_eq!(
        short,
        [
            ("secrets".to_string(), Value::Null),
            ("configmaps".to_string(), json!(["cm"])),
            ("events".to_string(), json!(["ev"])),
            ("namespaces".to_string(), json!(["ns"])),
            ("nodes".to_string(), json!(["no"])),
            ("pods".to_string(), json!(["po"])),
        ]
    );
    let (_, nads) = get_json(&http, &sim, "/apis/k8s.cni.cncf.io/v1", "application/json").await;
    assert_eq!(
        nads["resources"][0]["shortNames"],
        json!(["net-attach-def"])
    );
    // kubectl 1.30+ asks for aggregated discovery first; a plain APIGroupList (with
    // Content-Type application/json) makes client-go fall back to the legacy documents.
    let (code, groups) = get_json(
        &http,
        &sim,
        "/apis",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
    )
    .await;
    assert_eq!((code, groups["kind"].as_str()), (200, Some("APIGroupList")));
}

#[tokio::test]
async fn nodes_namespaces_and_a_launcher_pod_per_running_vmi_are_served_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let http = raw_client(&sim);
    let j = "application/json";
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, nodes) = get_json(&http, &sim, "/api/v1/nodes", j).await;
    assert_eq!(names(&nodes), ["worker-0", "worker-1", "worker-2"]);
    assert_eq!(nodes["kind"], "NodeList");
    let (code, missing) = get_json(&http, &sim, "/api/v1/nodes/worker-9", j).await;
    assert_eq!(
        (code, missing["message"].as_str()),
        (404, Some("nodes \"worker-9\" not found"))
    );
    let (_, ns) = get_json(&http, &sim, "/api/v1/namespaces", j).await;
    assert_eq!(
        names(&ns),
        [
            "default",
            "kube-public",
            "kube-system",
            "openshift-virtualization-os-images"
        ]
    );
    let (code, def) = get_json(&http, &sim, "/api/v1/namespaces/default", j).await;
    assert_eq!((code, &def["status"]), (200, &json!({"phase": "Active"})));
    let c = client(&sim).await;
    vms(&c)
        .create(&PostParams::default(), &obj(plain_vm("p1")))
        .await
        .unwrap();
    wait_for(&vmis(&c), "p1", "Running", |o| {
        field(o, "/status/phase") == Some(&json!("Running"))
    })
    .await;
    let (_, pods) = get_json(&http, &sim, "/api/v1/namespaces/default/pods", j).await;
    let pod = &pods["items"][0];
    assert!(
        pod["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("virt-launcher-p1-")
    );
    assert_eq!(pod["status"]["phase"], "Running");
    assert!(
        pod["spec"]["nodeName"]
            .as_str()
            .unwrap()
            .starts_with("worker-")
    );
    let resp = http
        .delete(format!("{}/api/v1/nodes/worker-0", sim.base_url()))
        .bearer_auth("vauto-sim-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
}

/// The names of a Table answer's columns, in order.
fn column_names(table: &Value) -> Vec<&str> {
    table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn tables_carry_kubevirts_printer_columns() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let http = raw_client(&sim);
    let c = client(&sim).await;
    vms(&c)
        .create(&PostParams::default(), &obj(plain_vm("t1")))
        .await
        .unwrap();
    wait_for(&vms(&c), "t1", "Running", |o| printable(o) == "Running").await;
    let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let (code, t) = get_json(
        &http,
        &sim,
        "/apis/kubevirt.io/v1/namespaces/default/virtualmachines",
        table,
    )
    .await;
    assert_eq!((code, t["kind"].as_str()), (200, Some("Table")));
    assert_eq!(column_names(&t), ["Name", "Age", "Status", "Ready"]);
    let cells = &t["rows"][0]["cells"];
    assert_eq!(
        (&cells[0], &cells[2], &cells[3]),
        (&json!("t1"), &json!("Running"), &json!("True"))
    );
    assert!(cells[1].as_str().unwrap().ends_with('s'));
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let (_, one) = get_json(
        &http,
        &sim,
        "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/t1",
        table,
    )
    .await;
    assert_eq!(
        column_names(&one),
        [
            "Name",
            "Age",
            "Phase",
            "IP",
            "NodeName",
            "Ready",
            "Live-Migratable",
            "Paused"
        ]
    );
    assert_eq!(one["rows"][0]["cells"][2], "Running");
    let (code, missing) = get_json(
        &http,
        &sim,
        "/apis/kubevirt.io/v1/namespaces/default/virtualmachines/nope",
        table,
    )
    .await;
    assert_eq!((code, missing["kind"].as_str()), (404, Some("Status")));
}

#[tokio::test]
async fn tables_of_storage_classes_secrets_and_config_maps_carry_the_api_servers_columns() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let http = raw_client(&sim);
    let c = client(&sim).await;
    secrets(&c)
        .create(&PostParams::default(), &secret("s1", "t"))
        .await
        .unwrap();
    api(&c, "", "v1", "ConfigMap", "configmaps")
        .create(
            &PostParams::default(),
            &obj(json!({
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1"},
                "data": {"ca.crt": "x", "b": "y"}, "binaryData": {"c": "AAE="},
            })),
        )
        .await
        .unwrap();
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    // The column names, and each row's cells but the age (the last, checked to be one).
    let rows = |t: &Value| -> (Vec<String>, Vec<String>) {
        let cols = column_names(t).into_iter().map(String::from).collect();
        let rows = t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let cells = r["cells"].as_array().unwrap();
                let (age, rest) = cells.split_last().unwrap();
                assert!(
                    age.as_str().unwrap().ends_with(['s', 'm', 'h', 'd', 'y']),
                    "{age}"
                );
                rest.iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect();
        (cols, rows)
    };
    let (_, t) = get_json(
        &http,
        &sim,
        "/apis/storage.k8s.io/v1/storageclasses",
        accept,
    )
    .await;
    assert_eq!(
        rows(&t),
        (
            [
                "Name",
                "Provisioner",
                "ReclaimPolicy",
                "VolumeBindingMode",
                "AllowVolumeExpansion",
                "Age"
            ]
            .map(String::from)
            .to_vec(),
            [
                "lvms-vg1 | topolvm.io | Delete | WaitForFirstConsumer | true",
                "ocs-storagecluster-ceph-rbd (default) | openshift-storage.rbd.csi.ceph.com | Delete | Immediate | true",
            ]
            .map(String::from)
            .to_vec()
        )
    );
    let (_, t) = get_json(&http, &sim, "/api/v1/namespaces/default/secrets", accept).await;
    assert_eq!(
        rows(&t),
        (
            ["Name", "Type", "Data", "Age"].map(String::from).to_vec(),
            vec!["s1 | Opaque | 1".to_string()]
        )
    );
    let (_, t) = get_json(
        &http,
        &sim,
        "/api/v1/namespaces/default/configmaps/cm1",
        accept,
    )
    .await;
    assert_eq!(
        rows(&t),
        (
            ["Name", "Data", "Age"].map(String::from).to_vec(),
            vec!["cm1 | 3".to_string()]
        )
    );
}

/// Reads a watch stream to its end (the server closes it at `timeoutSeconds`).
async fn watch_lines(http: &reqwest::Client, sim: &KubeSim, path: &str) -> Vec<Value> {
    let text = http
        .get(format!("{}{path}", sim.base_url()))
        .bearer_auth("vauto-sim-token")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn watch_streams_added_modified_deleted_and_bookmarks_until_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let http = raw_client(&sim);
    let c = client(&sim).await;
    let api = secrets(&c);
    let first = api
        .create(&PostParams::default(), &secret("before", "a"))
        .await
        .unwrap();
    let rv = first.metadata.resource_version.clone().unwrap();
    let path =
        "/api/v1/namespaces/default/secrets?watch=1&timeoutSeconds=3&allowWatchBookmarks=true";
    let started = std::time::Instant::now();
    let watcher = {
        let http = http.clone();
        let url = path.to_string();
        let sim_url = sim.base_url();
        tokio::spawn(async move {
            let text = http
                .get(format!("{sim_url}{url}"))
                .bearer_auth("vauto-sim-token")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    api.create(&PostParams::default(), &secret("during", "a"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    api.delete("before", &DeleteParams::default())
        .await
        .unwrap();
    let events = watcher.await.unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(3) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    let summary: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["object"]["metadata"]["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("ADDED", "before"),
            ("ADDED", "during"),
            ("DELETED", "before"),
            ("BOOKMARK", "")
        ]
    );
    assert_eq!(events[3]["object"]["kind"], "Secret");
    // From a resourceVersion: only what changed after it.
    let since = watch_lines(
        &http,
        &sim,
        &format!(
            "/api/v1/namespaces/default/secrets?watch=true&timeoutSeconds=1&resourceVersion={rv}"
        ),
    )
    .await;
    let names: Vec<(&str, &str)> = since
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["object"]["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("MODIFIED", "during")]);
    // A field selector narrows the watch to one object, as `kubectl wait` uses it.
    let one = watch_lines(&http, &sim, "/api/v1/namespaces/default/secrets?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dnone").await;
    assert!(one.is_empty());
    let resp = http
        .get(format!(
            "{}/api/v1/namespaces/default/secrets?watch=1&resourceVersion=abc",
            sim.base_url()
        ))
        .bearer_auth("vauto-sim-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn a_watch_sees_the_controllers_transitions_and_ends_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let http = raw_client(&sim);
    let c = client(&sim).await;
    let url = format!(
        "{}/apis/kubevirt.io/v1/namespaces/default/virtualmachines?watch=1",
        sim.base_url()
    );
    let mut resp = http
        .get(url)
        .bearer_auth("vauto-sim-token")
        .send()
        .await
        .unwrap();
    vms(&c)
        .create(&PostParams::default(), &obj(plain_vm("w1")))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = String::new();
    while !seen.iter().any(|s: &String| s == "Running") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(i) = buf.find('\n') {
            let line: Value = serde_json::from_str(&buf[..i]).unwrap();
            buf.drain(..=i);
            seen.push(
                line["object"]["status"]["printableStatus"]
                    .as_str()
                    .unwrap_or("-")
                    .to_string(),
            );
        }
    }
    assert!(
        seen.contains(&"Starting".to_string()) || seen.len() >= 2,
        "{seen:?}"
    );
    let started = std::time::Instant::now();
    sim.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_watch_from_before_this_process_started_is_410_expired() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let c = client(&sim).await;
    secrets(&c)
        .create(&PostParams::default(), &secret("a", "x"))
        .await
        .unwrap();
    secrets(&c)
        .create(&PostParams::default(), &secret("b", "x"))
        .await
        .unwrap();
    sim.shutdown().await;
    let sim = start(opts(dir.path())).await.unwrap();
    let http = raw_client(&sim);
    let events = watch_lines(
        &http,
        &sim,
        "/api/v1/namespaces/default/secrets?watch=1&resourceVersion=1&timeoutSeconds=5",
    )
    .await;
    assert_eq!(
        events,
        [
            json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "reason": "Expired", "code": 410,
            "message": "too old resource version: 1 (6)"}})
        ]
    );
    let fresh = watch_lines(
        &http,
        &sim,
        "/api/v1/namespaces/default/secrets?watch=1&resourceVersion=6&timeoutSeconds=1",
    )
    .await;
    assert!(fresh.is_empty());
}

/// Start and stop with each run strategy, as KubeVirt's virt-api answers them
/// (pkg/virt-api/rest/lifecycle.go): `Halted` starts by becoming `Always`, `Manual` and
/// `RerunOnFailure` take start/stop requests and keep their strategy, `Always` without a VMI
/// refuses a manual start.
#[tokio::test]
async fn start_and_stop_follow_each_run_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let c = client(&sim).await;
    let pp = PostParams::default();
    for (name, strategy) in [
        ("halted", "Halted"),
        ("manual", "Manual"),
        ("rerun", "RerunOnFailure"),
        ("always", "Always"),
    ] {
        secrets(&c)
            .create(&pp, &secret(&format!("{name}-cloudinit"), "a"))
            .await
            .unwrap();
        nads(&c)
            .create(&pp, &nad(&format!("{name}-net"), "192.168.50.10/24"))
            .await
            .unwrap();
        let mut extra = json!({"runStrategy": strategy});
        if name == "always" {
            // Its disk a dataVolumeTemplates entry: KubeVirt makes no VMI until it is imported.
            let dv = datavolume("always-disk").data;
            extra["dataVolumeTemplates"] =
                json!([{"metadata": {"name": "always-disk"}, "spec": dv["spec"]}]);
        } else {
            dvs(&c)
                .create(&pp, &datavolume(&format!("{name}-disk")))
                .await
                .unwrap();
        }
        vms(&c).create(&pp, &obj(vm(name, extra))).await.unwrap();
    }
    // `Always` whose VMI does not exist yet (its disk imports).
    let (code, _, msg) = api_err(put_action(&c, "always", "start").await.unwrap_err());
    assert_eq!(
        (code, msg.as_str()),
        (409, "Always does not support manual start requests")
    );
    wait_for(&vms(&c), "rerun", "Running", |o| printable(o) == "Running").await;
    wait_for(&vms(&c), "always", "Running", |o| printable(o) == "Running").await;
    // Created stopped, and still stopped once the disk is in.
    for name in ["halted", "manual"] {
        let v = vms(&c).get(name).await.unwrap();
        assert_eq!(printable(&v), "Stopped", "{name}");
        assert!(vmis(&c).get_opt(name).await.unwrap().is_none(), "{name}");
        let (code, _, msg) = api_err(put_action(&c, name, "stop").await.unwrap_err());
        assert_eq!((code, msg.as_str()), (409, "VM is not running"), "{name}");
    }

    for name in ["halted", "manual"] {
        put_action(&c, name, "start").await.unwrap();
        wait_for(&vms(&c), name, "Running", |o| printable(o) == "Running").await;
        let (code, _, msg) = api_err(put_action(&c, name, "start").await.unwrap_err());
        assert_eq!(
            (code, msg.as_str()),
            (409, "VM is already running"),
            "{name}"
        );
    }
    let strategy = |o: &DynamicObject| field(o, "/spec/runStrategy").cloned().unwrap();
    assert_eq!(strategy(&vms(&c).get("halted").await.unwrap()), "Always");
    assert_eq!(strategy(&vms(&c).get("manual").await.unwrap()), "Manual");

    for (name, after) in [
        ("manual", "Manual"),
        ("rerun", "RerunOnFailure"),
        ("always", "Halted"),
    ] {
        put_action(&c, name, "stop").await.unwrap();
        let v = wait_for(&vms(&c), name, "Stopped", |o| printable(o) == "Stopped").await;
        assert_eq!(strategy(&v), after, "{name}");
    }
    // A stopped RerunOnFailure VM stays stopped until it is asked to start.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(printable(&vms(&c).get("rerun").await.unwrap()), "Stopped");
    put_action(&c, "rerun", "start").await.unwrap();
    wait_for(&vms(&c), "rerun", "Running", |o| printable(o) == "Running").await;
}

#[tokio::test]
async fn a_guest_agent_reports_the_os_of_the_image_and_every_address() {
    for agent in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let sim = start(KubeSimOptions {
            guest_agent: agent,
            ..opts(dir.path())
        })
        .await
        .unwrap();
        let c = client(&sim).await;
        let pp = PostParams::default();
        // A bridged multus interface and the pod network, booting Fedora 40.
        let mut v = pod_network_vm("two", "Always", "zone-a");
        v.data["spec"]["template"]["spec"]["networks"] = json!([
            {"name": "net1", "multus": {"networkName": "two-net"}},
            {"name": "default", "pod": {}},
        ]);
        v.data["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"] = json!([
            {"name": "net1", "bridge": {}}, {"name": "default", "masquerade": {}},
        ]);
        nads(&c)
            .create(&pp, &nad("two-net", "192.168.50.7/24"))
            .await
            .unwrap();
        vms(&c).create(&pp, &v).await.unwrap();
        wait_for(&vms(&c), "two", "Running", |o| printable(o) == "Running").await;
        let vmi = vmis(&c).get("two").await.unwrap();
        validate_against("kubevirt.io_virtualmachineinstance_v1.json", &vmi.data);
        let ips = |i: usize| field(&vmi, &format!("/status/interfaces/{i}/ipAddresses")).cloned();
        let agent_connected = field(&vmi, "/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| c.iter().any(|c| c["type"] == "AgentConnected"));
        let pod_ip = field(&vmi, "/status/interfaces/1/ipAddress")
            .cloned()
            .unwrap();
        if agent {
            let os = field(&vmi, "/status/guestOSInfo").unwrap();
            assert_eq!(os["prettyName"], "Fedora Linux 40", "{os}");
            assert_eq!(os["id"], "fedora");
            let bridged = ips(0).unwrap();
            assert_eq!(bridged[0], "192.168.50.7");
            assert!(
                bridged[1].as_str().unwrap().starts_with("fe80::"),
                "{bridged}"
            );
            assert_eq!(ips(1).unwrap()[0], pod_ip);
            assert_eq!(
                field(&vmi, "/status/interfaces/0/infoSource").unwrap(),
                "domain, guest-agent, multus-status"
            );
            assert!(agent_connected);
        } else {
            // As KubeVirt serialises it without an agent: an empty struct.
            assert_eq!(field(&vmi, "/status/guestOSInfo").unwrap(), &json!({}));
            assert_eq!(
                ips(0),
                None,
                "a bridged address is known only inside the guest"
            );
            assert_eq!(ips(1).unwrap(), json!([pod_ip]));
            assert_eq!(
                field(&vmi, "/status/interfaces/1/infoSource").unwrap(),
                "domain"
            );
            assert!(!agent_connected);
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn events_are_selected_by_exactly_the_fields_an_api_server_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(opts(dir.path())).await.unwrap();
    let c = client(&sim).await;
    vms(&c)
        .create(
            &PostParams::default(),
            &pod_network_vm("ev", "Always", "zone-a"),
        )
        .await
        .unwrap();
    wait_for(&vms(&c), "ev", "Running", |o| printable(o) == "Running").await;
    let list = |f: &str| {
        let api = events(&c);
        let lp = ListParams::default().fields(f);
        async move { api.list(&lp).await }
    };
    let about_vm = list("involvedObject.kind=VirtualMachine").await.unwrap();
    assert!(!about_vm.items.is_empty());
    assert!(
        about_vm
            .items
            .iter()
            .all(|e| e.data["involvedObject"]["kind"] == "VirtualMachine")
    );
    let all = list("").await.unwrap();
    assert!(all.items.len() > about_vm.items.len());
    assert!(
        list("source=virt-handler,reportingComponent=virt-handler")
            .await
            .is_ok()
    );
    for bad in ["involvedObject.labels=x", "message=started", "count=1"] {
        let (code, reason, message) = api_err(list(bad).await.unwrap_err());
        let name = bad.split('=').next().unwrap_or_default();
        assert_eq!(
            (code, reason.as_str(), message),
            (
                400,
                "BadRequest",
                format!("field label not supported: {name}")
            )
        );
    }
}
