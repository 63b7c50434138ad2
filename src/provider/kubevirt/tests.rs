//! Provider behaviour against an in-process mock of the Kubernetes API (a tower service, no sockets).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::client::Body;
use serde_json::{Value, json};

use super::KubevirtProvider;
use super::client::{Kind, KubeClient};
use crate::config::{Project, ProviderKind, Spec};
use crate::model::{
    DeleteOptions, ErrorClass, Event, Outcome, Power, Recorder, Scope, Silent, StatusOptions,
};
use crate::plan::{DesiredInstance, Plan, ownership_labels, static_ip};
use crate::provider::Provider;

/// Objects by (plural, name), plus knobs to make the mock misbehave.
#[derive(Default)]
struct State {
    objects: BTreeMap<(String, String), Value>,
    /// Answer list calls with every object, as if the selector were ignored.
    ignore_selector: bool,
    /// (method, plural) → (status code, reason, message) answered instead of the real thing.
    fail: BTreeMap<(String, String), (u16, String, String)>,
    /// Every request as `METHOD path`.
    log: Vec<String>,
    next_uid: u64,
    /// How long each request is held before it is answered, so that requests a caller
    /// sends together overlap (zero: answered at once).
    hold: Duration,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: usize,
    max_in_flight: usize,
}

type Shared = Arc<Mutex<State>>;

fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
        "code": code, "reason": reason, "message": message});
    reply(code, &body)
}

fn reply(code: u16, body: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string().into_bytes()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap();
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        "application/json".parse().unwrap(),
    );
    r
}

fn matches(labels: &Value, selector: &str) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        let (k, v) = term.split_once('=').unwrap();
        labels.get(k).and_then(Value::as_str) == Some(v)
    })
}

fn query(q: &str, key: &str) -> Option<String> {
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

async fn handle(state: Shared, req: Request<Body>) -> Response<Body> {
    let hold = {
        let mut st = state.lock().unwrap();
        st.in_flight += 1;
        st.max_in_flight = st.max_in_flight.max(st.in_flight);
        st.hold
    };
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    let reply = answer(&state, req).await;
    state.lock().unwrap().in_flight -= 1;
    reply
}

async fn answer(state: &Shared, req: Request<Body>) -> Response<Body> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let q = req.uri().query().unwrap_or_default().to_string();
    let bytes = req.into_body().collect().await.unwrap().to_bytes();
    let mut st = state.lock().unwrap();
    st.log.push(format!("{method} {path}"));
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // /api/v1/namespaces/ns/plural[/name[/sub]] or /apis/g/v/namespaces/ns/plural[/name[/sub]];
    // cluster-scoped: /api/v1/plural[/name] or /apis/g/v/plural[/name].
    let version_end = if segs[0] == "api" { 2 } else { 3 };
    let rest = if segs.get(version_end) == Some(&"namespaces") {
        &segs[version_end + 2..]
    } else {
        &segs[version_end..]
    };
    let plural = rest[0].to_string();
    if plural == "selfsubjectaccessreviews" {
        // The preflight's clone access review: this user may do anything.
        let mut review: Value = serde_json::from_slice(&bytes).unwrap();
        review["status"] = json!({"allowed": true});
        return reply(201, &review);
    }
    let name = rest.get(1).map(|s| s.to_string());
    if let Some((code, reason, msg)) = st.fail.get(&(method.clone(), plural.clone())).cloned() {
        return status(code, &reason, &msg);
    }
    if rest.len() == 3 {
        // VM power subresource: running ↔ stopped.
        let key = (plural.clone(), name.clone().unwrap());
        let Some(vm) = st.objects.get_mut(&key) else {
            return status(404, "NotFound", "not found");
        };
        let state = vm["status"]["printableStatus"]
            .as_str()
            .unwrap_or("Stopped")
            .to_string();
        return match (rest[2], state.as_str()) {
            ("start", "Running") => status(409, "Conflict", "VM is already running"),
            ("stop", "Stopped") => status(409, "Conflict", "VM is not running"),
            ("start", _) => {
                vm["status"] = json!({"printableStatus": "Running"});
                reply(202, &json!({}))
            }
            _ => {
                vm["status"] = json!({"printableStatus": "Stopped"});
                reply(202, &json!({}))
            }
        };
    }
    match (method.as_str(), name) {
        ("POST", None) => {
            let mut body: Value = serde_json::from_slice(&bytes).unwrap();
            let name = body["metadata"]["name"].as_str().unwrap().to_string();
            let key = (plural.clone(), name.clone());
            if st.objects.contains_key(&key) {
                return status(
                    409,
                    "AlreadyExists",
                    &format!("{plural} \"{name}\" already exists"),
                );
            }
            st.next_uid += 1;
            body["metadata"]["uid"] = json!(format!("uid-{}", st.next_uid));
            body["metadata"]["creationTimestamp"] = json!("2026-01-01T10:00:00Z");
            st.objects.insert(key, body.clone());
            reply(201, &body)
        }
        ("GET", Some(name)) => match st.objects.get(&(plural.clone(), name.clone())) {
            Some(o) => reply(200, o),
            None => status(404, "NotFound", &format!("{plural} \"{name}\" not found")),
        },
        ("GET", None) => {
            let sel = query(&q, "labelSelector").unwrap_or_default();
            // The one field selector vauto sends: `involvedObject.kind=KIND` on Events.
            let kind = query(&q, "fieldSelector")
                .map(|f| f.trim_start_matches("involvedObject.kind=").to_string());
            let limit: usize = query(&q, "limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(usize::MAX);
            let start: usize = query(&q, "continue")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let all: Vec<Value> = st
                .objects
                .iter()
                .filter(|((p, _), o)| {
                    *p == plural
                        && (st.ignore_selector || matches(&o["metadata"]["labels"], &sel))
                        && kind
                            .as_deref()
                            .is_none_or(|k| o["involvedObject"]["kind"] == k)
                })
                .map(|(_, o)| o.clone())
                .collect();
            let page: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
            let cont = if start + page.len() < all.len() {
                json!((start + page.len()).to_string())
            } else {
                json!("")
            };
            reply(
                200,
                &json!({"apiVersion": "v1", "kind": "List", "metadata": {"continue": cont}, "items": page}),
            )
        }
        ("DELETE", Some(name)) => match st.objects.remove(&(plural.clone(), name.clone())) {
            Some(_) => reply(
                200,
                &json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
            ),
            None => status(404, "NotFound", &format!("{plural} \"{name}\" not found")),
        },
        _ => status(405, "MethodNotAllowed", "unsupported"),
    }
}

fn mock() -> (kube::Client, Shared) {
    let state: Shared = Arc::default();
    let s = state.clone();
    let svc = tower::service_fn(move |req: Request<Body>| {
        let s = s.clone();
        async move { Ok::<_, Infallible>(handle(s, req).await) }
    });
    (kube::Client::new(svc, "lab-vms"), state)
}

fn provider() -> (KubevirtProvider, Shared) {
    let (client, state) = mock();
    let p = KubevirtProvider::from_client(client, "lab-vms", "lab")
        .with_poll_interval(Duration::from_millis(5));
    (p, state)
}

fn plan(ipam: bool) -> Plan {
    let mut project =
        String::from("name: lab\nprovider: kubevirt\nkubevirt: {namespace: lab-vms}\n");
    if ipam {
        project.push_str(
            "network: {ipam: {range: 192.168.10.0/24, gateway: 192.168.10.1}, bridge: br1}\n",
        );
    }
    let project: Project = crate::config::testing::project(&project);
    let spec: Spec = crate::config::testing::spec(
        "name: web\ncpu: 2\nmemory: 4Gi\ndisk: {size: 30Gi, source: {registry: \"docker://r/rhel9\"}}\n",
        ProviderKind::Kubevirt,
    );
    let ip = project.ipam.as_ref().map(|i| static_ip(i, 0).unwrap());
    let inst = DesiredInstance {
        name: "web-01".into(),
        index: 0,
        project: "lab".into(),
        spec: "web".into(),
        labels: ownership_labels("lab", "web", "web-01"),
        network_data: ip.as_ref().map(|_| "version: 2\n".to_string()),
        static_ip: ip,
        user_data: "#cloud-config\n".into(),
        ssh_authorized_keys: vec![],
    };
    Plan {
        project,
        spec,
        instances: vec![inst],
        notes: vec![],
        target: None,
    }
}

fn scope() -> Scope {
    Scope {
        spec: Some("web".into()),
        target: None,
        select: None,
    }
}

fn outcomes(reports: &[crate::provider::ResourceReport]) -> Vec<(String, String, Outcome)> {
    reports
        .iter()
        .map(|r| (r.kind.clone(), r.name.clone(), r.outcome))
        .collect()
}

fn insert(state: &Shared, plural: &str, name: &str, labels: Value) {
    let obj = json!({"metadata": {"name": name, "namespace": "lab-vms", "labels": labels, "uid": format!("foreign-{name}")}});
    state
        .lock()
        .unwrap()
        .objects
        .insert((plural.into(), name.into()), obj);
}

#[tokio::test]
async fn create_makes_four_objects_in_order_then_skips_them() {
    let (p, state) = provider();
    let plan = plan(true);
    let inst = &plan.instances[0];
    let a = p.create(&plan, inst, &Default::default(), &Silent).await;
    assert!(a.error.is_none(), "{:?}", a.error);
    let expected = [
        ("Secret", "web-01-cloudinit"),
        ("NetworkAttachmentDefinition", "web-01-net"),
        ("DataVolume", "web-01-disk"),
        ("VirtualMachine", "web-01"),
    ];
    let got = outcomes(&a.reports);
    for (i, (k, n)) in expected.iter().enumerate() {
        assert_eq!(got[i], (k.to_string(), n.to_string(), Outcome::Success));
        assert_eq!(a.reports[i].reason, "created");
    }
    let posts: Vec<String> = state
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|l| l.starts_with("POST"))
        .cloned()
        .collect();
    assert_eq!(
        posts,
        [
            "POST /api/v1/namespaces/lab-vms/secrets",
            "POST /apis/k8s.cni.cncf.io/v1/namespaces/lab-vms/network-attachment-definitions",
            "POST /apis/cdi.kubevirt.io/v1beta1/namespaces/lab-vms/datavolumes",
            "POST /apis/kubevirt.io/v1/namespaces/lab-vms/virtualmachines",
        ]
    );

    let again = p.create(&plan, inst, &Default::default(), &Silent).await;
    assert!(again.error.is_none());
    assert_eq!(again.reports.len(), 4);
    assert!(
        again
            .reports
            .iter()
            .all(|r| r.outcome == Outcome::Skipped && r.reason == "exists")
    );
}

/// A plan whose spec names an instance type, a preference and a golden image, so that the
/// preflight has several references to check and a clone to ask about.
fn golden_plan() -> Plan {
    let mut plan = plan(true);
    plan.spec = crate::config::testing::spec(
        "name: web\ninstancetype: {name: u1.medium}\npreference: {name: rhel.9}\n\
         disk: {size: 30Gi, source: {data_source: {name: rhel9}}}\n",
        ProviderKind::Kubevirt,
    );
    plan
}

fn golden_provider() -> (KubevirtProvider, Shared) {
    let (p, state) = provider();
    insert(
        &state,
        "virtualmachineclusterinstancetypes",
        "u1.medium",
        json!({}),
    );
    insert(
        &state,
        "virtualmachineclusterpreferences",
        "rhel.9",
        json!({}),
    );
    insert(&state, "datasources", "rhel9", json!({}));
    state.lock().unwrap().hold = Duration::from_millis(20);
    (p, state)
}

#[tokio::test]
async fn independent_requests_go_at_once_and_the_vm_after_them() {
    // No references: the Secret, the NAD and the DataVolume together, then the VM.
    let (p, state) = provider();
    state.lock().unwrap().hold = Duration::from_millis(20);
    let plan = plan(true);
    let a = p
        .create(&plan, &plan.instances[0], &Default::default(), &Silent)
        .await;
    assert!(a.error.is_none(), "{:?}", a.error);
    {
        let st = state.lock().unwrap();
        assert_eq!(st.max_in_flight, 3, "{:#?}", st.log);
        assert_eq!(
            st.log.last().map(String::as_str),
            Some("POST /apis/kubevirt.io/v1/namespaces/lab-vms/virtualmachines")
        );
    }

    // The preflight's three reference GETs and its clone access review together.
    let (p, state) = golden_provider();
    let plan = golden_plan();
    let a = p
        .create(&plan, &plan.instances[0], &Default::default(), &Silent)
        .await;
    assert!(a.error.is_none(), "{:?}", a.error);
    let st = state.lock().unwrap();
    assert_eq!(st.max_in_flight, 4, "{:#?}", st.log);
    assert_eq!(st.log.len(), 8, "{:#?}", st.log);
}

#[tokio::test]
async fn one_by_one_sends_one_request_at_a_time_in_dependency_order() {
    /// Writes each "creating ..." progress line into the mock's request log, so the log
    /// shows whether it is said as its request goes out.
    struct Said(Shared);
    impl crate::model::Observer for Said {
        fn event(&self, event: Event) {
            if let Event::Progress { phase, .. } = event {
                self.0.lock().unwrap().log.push(phase);
            }
        }
    }
    let (p, state) = golden_provider();
    let p = p.with_pace(crate::provider::Pace::OneByOne);
    let plan = golden_plan();
    let said = Said(state.clone());
    let a = p
        .create(&plan, &plan.instances[0], &Default::default(), &said)
        .await;
    assert!(a.error.is_none(), "{:?}", a.error);
    let st = state.lock().unwrap();
    assert_eq!(st.max_in_flight, 1, "{:#?}", st.log);
    assert_eq!(
        st.log,
        [
            "GET /apis/instancetype.kubevirt.io/v1beta1/virtualmachineclusterinstancetypes/u1.medium",
            "GET /apis/instancetype.kubevirt.io/v1beta1/virtualmachineclusterpreferences/rhel.9",
            "GET /apis/cdi.kubevirt.io/v1beta1/namespaces/openshift-virtualization-os-images/datasources/rhel9",
            "POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            "creating Secret web-01-cloudinit",
            "POST /api/v1/namespaces/lab-vms/secrets",
            "creating NetworkAttachmentDefinition web-01-net",
            "POST /apis/k8s.cni.cncf.io/v1/namespaces/lab-vms/network-attachment-definitions",
            "creating DataVolume web-01-disk",
            "POST /apis/cdi.kubevirt.io/v1beta1/namespaces/lab-vms/datavolumes",
            "creating VirtualMachine web-01",
            "POST /apis/kubevirt.io/v1/namespaces/lab-vms/virtualmachines",
        ]
    );
}

#[tokio::test]
async fn a_foreign_object_with_our_name_stops_the_create() {
    let (p, state) = provider();
    insert(
        &state,
        "datavolumes",
        "web-01-disk",
        json!({"app": "someone-else"}),
    );
    let plan = plan(false);
    let a = p
        .create(&plan, &plan.instances[0], &Default::default(), &Silent)
        .await;
    let err = a.error.expect("must stop");
    assert_eq!(err.class, ErrorClass::AlreadyExists);
    assert!(
        err.message.contains("not managed by vauto"),
        "{}",
        err.message
    );
    let got = outcomes(&a.reports);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].2, Outcome::Success);
    assert_eq!(
        got[1],
        ("DataVolume".into(), "web-01-disk".into(), Outcome::Failed)
    );
    assert_eq!(a.reports[1].reason, "exists and is not managed by vauto");
    // The VM was never attempted, and the foreign disk is untouched.
    let st = state.lock().unwrap();
    assert!(
        !st.objects
            .contains_key(&("virtualmachines".into(), "web-01".into()))
    );
    assert_eq!(
        st.objects[&("datavolumes".into(), "web-01-disk".into())]["metadata"]["labels"]["app"],
        "someone-else"
    );
}

#[tokio::test]
async fn create_stops_at_the_first_error_and_classifies_it() {
    let (p, state) = provider();
    let msg = r#"virtualmachines.kubevirt.io is forbidden: User "bob" cannot create resource "virtualmachines" in API group "kubevirt.io" in the namespace "lab-vms""#;
    state.lock().unwrap().fail.insert(
        ("POST".into(), "virtualmachines".into()),
        (403, "Forbidden".into(), msg.into()),
    );
    let plan = plan(false);
    let a = p
        .create(&plan, &plan.instances[0], &Default::default(), &Silent)
        .await;
    let err = a.error.expect("must fail");
    assert_eq!(err.class, ErrorClass::Auth);
    assert!(
        err.message
            .contains("`create` on `virtualmachines.kubevirt.io`"),
        "{}",
        err.message
    );
    assert_eq!(
        a.reports.len(),
        2,
        "secret and disk were created before the error"
    );
}

#[tokio::test]
async fn list_finds_interrupted_deploys_as_incomplete() {
    let (p, state) = provider();
    let plan = plan(true);
    let labels = serde_json::to_value(&plan.instances[0].labels).unwrap();
    insert(&state, "secrets", "web-01-cloudinit", labels.clone());
    insert(
        &state,
        "secrets",
        "web-09-cloudinit",
        json!({"v-auto/managed": "true", "v-auto/project": "other"}),
    );
    let found = p.list(&scope()).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "web-01");
    assert!(!found[0].complete);
    assert_eq!(
        found[0].resources,
        [("Secret".to_string(), "web-01-cloudinit".to_string())]
    );

    state.lock().unwrap().objects.clear();
    p.create(&plan, &plan.instances[0], &Default::default(), &Silent)
        .await;
    let found = p.list(&scope()).await.unwrap();
    assert!(found[0].complete);
    assert_eq!(found[0].resources.len(), 4);
    assert_eq!(found[0].resources[3].0, "VirtualMachine");

    // Without the NAD, a VM on a multus network is incomplete.
    state
        .lock()
        .unwrap()
        .objects
        .remove(&("network-attachment-definitions".into(), "web-01-net".into()));
    assert!(!p.list(&scope()).await.unwrap()[0].complete);
}

#[tokio::test]
async fn delete_goes_in_reverse_order_and_never_touches_look_alikes() {
    let (p, state) = provider();
    let plan = plan(true);
    p.create(&plan, &plan.instances[0], &Default::default(), &Silent)
        .await;
    // Same name pattern, no ownership labels, and a server that ignores label selectors.
    insert(
        &state,
        "secrets",
        "web-01-cloudinit-copy",
        json!({"v-auto/name": "web-01"}),
    );
    insert(&state, "datavolumes", "web-01-disk-old", json!({}));
    state.lock().unwrap().ignore_selector = true;
    let existing = p.list(&scope()).await.unwrap().remove(0);
    let reports = p.delete(&existing, &DeleteOptions::default()).await.reports;
    let got: Vec<(String, Outcome)> = reports
        .iter()
        .map(|r| (r.kind.clone(), r.outcome))
        .collect();
    assert_eq!(
        got,
        [
            ("VirtualMachine".into(), Outcome::Deleted),
            ("DataVolume".into(), Outcome::Deleted),
            ("NetworkAttachmentDefinition".into(), Outcome::Deleted),
            ("Secret".into(), Outcome::Deleted),
        ]
    );
    let st = state.lock().unwrap();
    let left: Vec<&str> = st.objects.keys().map(|(_, n)| n.as_str()).collect();
    assert_eq!(left, ["web-01-disk-old", "web-01-cloudinit-copy"]);
}

#[tokio::test]
async fn delete_counts_not_found_as_done() {
    let (p, state) = provider();
    let plan = plan(false);
    p.create(&plan, &plan.instances[0], &Default::default(), &Silent)
        .await;
    let existing = p.list(&scope()).await.unwrap().remove(0);
    // Someone deletes the VM between our list and our delete.
    state.lock().unwrap().fail.insert(
        ("DELETE".into(), "virtualmachines".into()),
        (404, "NotFound".into(), "gone".into()),
    );
    let reports = p.delete(&existing, &DeleteOptions::default()).await.reports;
    assert_eq!(reports.len(), 3);
    assert!(reports.iter().all(|r| r.outcome == Outcome::Deleted));
    assert_eq!(reports[0].reason, "already gone");
}

#[tokio::test]
async fn power_start_and_stop_skip_when_already_there() {
    let (p, state) = provider();
    let plan = plan(false);
    p.create(&plan, &plan.instances[0], &Default::default(), &Silent)
        .await;
    let existing = p.list(&scope()).await.unwrap().remove(0);
    let r = p
        .power(&existing, Power::Start, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(
        (r.outcome, r.reason.as_str()),
        (Outcome::Success, "started")
    );
    let r = p.power(&existing, Power::Start, None).await.unwrap();
    assert_eq!(
        (r.outcome, r.reason.as_str()),
        (Outcome::Skipped, "vm is already running")
    );
    let r = p
        .power(&existing, Power::Stop, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(
        (r.outcome, r.reason.as_str()),
        (Outcome::Success, "stopped")
    );
    let r = p.power(&existing, Power::Stop, None).await.unwrap();
    assert_eq!(r.outcome, Outcome::Skipped);
    assert!(
        state.lock().unwrap().log.contains(
            &"PUT /apis/subresources.kubevirt.io/v1/namespaces/lab-vms/virtualmachines/web-01/stop"
                .to_string()
        )
    );
}

#[tokio::test]
async fn wait_running_reports_disk_progress_then_ip_and_node() {
    let (p, state) = provider();
    let plan = plan(true);
    p.create(&plan, &plan.instances[0], &Default::default(), &Silent)
        .await;
    {
        let mut st = state.lock().unwrap();
        st.objects
            .get_mut(&("datavolumes".into(), "web-01-disk".into()))
            .unwrap()["status"] = json!({"phase": "ImportInProgress", "progress": "45.20%"});
    }
    // Finish the import and start the VMI a little later.
    let s2 = state.clone();
    let later = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut st = s2.lock().unwrap();
        st.objects
            .get_mut(&("datavolumes".into(), "web-01-disk".into()))
            .unwrap()["status"] = json!({"phase": "Succeeded", "progress": "100.0%"});
        st.objects
            .get_mut(&("virtualmachines".into(), "web-01".into()))
            .unwrap()["status"] = json!({"printableStatus": "Running"});
        st.objects.insert(
            ("virtualmachineinstances".into(), "web-01".into()),
            json!({"metadata": {"name": "web-01", "labels": ownership_labels("lab", "web", "web-01")},
                   "status": {"phase": "Running", "nodeName": "worker-2",
                              "interfaces": [{"name": "net0", "ipAddress": "192.168.10.101"}]}}),
        );
    });
    let rec = Recorder::default();
    let r = p
        .wait_running("web-01", Duration::from_secs(10), &rec)
        .await
        .unwrap();
    later.await.unwrap();
    assert_eq!(r.details.ip.as_deref(), Some("192.168.10.101"));
    assert_eq!(r.details.node.as_deref(), Some("worker-2"));
    let progress: Vec<(String, Option<f32>)> = rec
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Progress { phase, percent, .. } => Some((phase, percent)),
            _ => None,
        })
        .collect();
    assert_eq!(
        progress[0],
        ("disk ImportInProgress".to_string(), Some(45.2))
    );

    let rows = p.status(&scope(), &StatusOptions::default()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, "Running");
    assert_eq!(rows[0].ip.as_deref(), Some("192.168.10.101"));
    assert_eq!(rows[0].placement.as_deref(), Some("worker-2"));
    assert_eq!(rows[0].disk.as_deref(), Some("Succeeded"));
    assert_eq!(rows[0].size.as_deref(), Some("2 cpu/4Gi"));
    assert_eq!(rows[0].created.as_deref(), Some("2026-01-01T10:00:00Z"));
}

#[tokio::test]
async fn wait_running_times_out_with_the_last_state() {
    let (p, _state) = provider();
    let plan = plan(false);
    p.create(&plan, &plan.instances[0], &Default::default(), &Silent)
        .await;
    let e = p
        .wait_running("web-01", Duration::from_millis(30), &Silent)
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert!(e.message.contains("was not running"), "{}", e.message);
    assert!(e.message.contains("(last: Pending)"), "{}", e.message);
}

#[tokio::test]
async fn list_pages_through_continue_tokens() {
    let (client, state) = mock();
    // Two pages of 500 (kubectl's chunk size).
    for i in 0..510 {
        insert(
            &state,
            "secrets",
            &format!("s-{i:03}"),
            json!({"v-auto/managed": "true"}),
        );
    }
    let kc = KubeClient::new(client, "lab-vms");
    let all = kc
        .list(Kind::Secret, "v-auto/managed=true")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(all.len(), 510);
    let lists = state
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|l| l.starts_with("GET"))
        .count();
    assert_eq!(lists, 2);
}

#[tokio::test]
async fn a_cluster_without_kubevirt_or_multus_is_named_not_listed_as_empty() {
    let (p, state) = provider();
    let plan = plan(false);
    p.create(&plan, &plan.instances[0], &Default::default(), &Silent)
        .await;
    let unserved = |plural: &str| {
        (
            ("GET".to_string(), plural.to_string()),
            (
                404,
                "NotFound".to_string(),
                "the server could not find the requested resource".to_string(),
            ),
        )
    };
    // No Multus: NADs are simply absent, everything else is listed.
    let (k, v) = unserved("network-attachment-definitions");
    state.lock().unwrap().fail.insert(k, v);
    let found = p.list(&scope()).await.unwrap();
    assert_eq!(found.len(), 1);
    // No KubeVirt: say so instead of reporting "no managed instances".
    let (k, v) = unserved("virtualmachines");
    state.lock().unwrap().fail.insert(k, v);
    let err = p.list(&scope()).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::NotFound);
    assert!(
        err.message.contains("is KubeVirt installed"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn status_shows_the_guest_os_every_address_and_the_newest_events() {
    let (p, state) = provider();
    let plan = plan(true);
    p.create(&plan, &plan.instances[0], &Default::default(), &Silent)
        .await;
    {
        let mut st = state.lock().unwrap();
        st.objects
            .get_mut(&("virtualmachines".into(), "web-01".into()))
            .unwrap()["status"] = json!({"printableStatus": "Running"});
        let vmi = json!({
            "metadata": {"name": "web-01", "labels": ownership_labels("lab", "web", "web-01")},
            "status": {"phase": "Running", "nodeName": "worker-1",
                "guestOSInfo": {"id": "ubuntu", "name": "Ubuntu", "prettyName": "Ubuntu 22.04.4 LTS",
                                "versionId": "22.04", "kernelRelease": "5.15.0-105-generic"},
                "interfaces": [
                    {"name": "net0", "ipAddress": "192.168.10.101", "ipAddresses": ["192.168.10.101", "fe80::1"]},
                    {"name": "default", "ipAddress": "10.128.0.9", "ipAddresses": ["10.128.0.9", "fd00::9"]},
                ]},
        });
        st.objects
            .insert(("virtualmachineinstances".into(), "web-01".into()), vmi);
        for (i, (kind, name, reason)) in [
            ("VirtualMachine", "web-01", "SuccessfulCreate"),
            ("DataVolume", "web-01-disk", "ImportSucceeded"),
            ("Pod", "virt-launcher-web-01-abcde", "Pulled"),
            ("VirtualMachineInstance", "web-01", "Started"),
            ("VirtualMachine", "web-02", "SuccessfulCreate"),
            ("Secret", "web-01-cloudinit", "Unrelated"),
        ]
        .into_iter()
        .enumerate()
        {
            let event = json!({
                "metadata": {"name": format!("e{i}"), "resourceVersion": (i + 1).to_string()},
                "involvedObject": {"kind": kind, "name": name},
                "reason": reason, "message": format!("{reason} {name}"), "type": "Normal",
                "lastTimestamp": format!("2026-01-01T10:0{i}:00Z"),
            });
            st.objects.insert(("events".into(), format!("e{i}")), event);
        }
        st.log.clear();
    }
    let rows = p
        .status(&scope(), &StatusOptions { events: 2 })
        .await
        .unwrap();
    let r = &rows[0];
    assert_eq!(r.ip.as_deref(), Some("192.168.10.101"));
    assert_eq!(r.ips, ["192.168.10.101", "10.128.0.9", "fd00::9"]);
    assert_eq!(r.placement.as_deref(), Some("worker-1"));
    assert_eq!(
        r.extra.guest_os.as_ref().and_then(|o| o.label()).as_deref(),
        Some("Ubuntu 22.04")
    );
    let events: Vec<(&str, &str)> = r
        .events
        .iter()
        .flatten()
        .map(|e| (e.kind.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        events,
        [("Pod", "Pulled"), ("VirtualMachineInstance", "Started")]
    );
    assert_eq!(r.last_event.as_deref(), Some("Started: Started web-01"));
    // One list per kind of object and one per kind of Event, never the namespace's every Event.
    let gets = |state: &Shared| {
        let mut gets: Vec<String> = state
            .lock()
            .unwrap()
            .log
            .drain(..)
            .filter(|l| l.starts_with("GET"))
            .collect();
        gets.sort();
        gets
    };
    let lists = gets(&state);
    assert_eq!(
        lists.iter().filter(|l| l.ends_with("/events")).count(),
        5,
        "{lists:?}"
    );
    assert_eq!(lists.len(), 10, "{lists:?}");
    // `--events 0` reads no Events at all.
    let rows = p
        .status(&scope(), &StatusOptions { events: 0 })
        .await
        .unwrap();
    assert_eq!(
        (rows[0].events.as_ref(), rows[0].last_event.as_ref()),
        (None, None)
    );
    assert!(gets(&state).iter().all(|l| !l.ends_with("/events")));
}
