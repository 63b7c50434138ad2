//! The simulator answers as strictly as a real API server: each test states the exact status
//! and message a client gets (sources are named next to the behaviour in `api/`).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::{KubeSim, KubeSimOptions, start};

const TOKEN: &str = "vauto-sim-token";
const READ_ONLY: &str = "read-only-token";

fn opts(dir: &Path) -> KubeSimOptions {
    KubeSimOptions {
        state_dir: dir.to_path_buf(),
        read_only_tokens: vec![READ_ONLY.into()],
        namespaces: vec!["team-a".into()],
        namespace: Some("ctx-ns".into()),
        import_duration: Duration::from_millis(600),
        boot_duration: Duration::from_millis(450),
        ..KubeSimOptions::default()
    }
}

/// One answer: status, `Warning` headers, body (JSON, or a string when not JSON).
#[derive(Debug)]
struct Answer {
    status: u16,
    warnings: Vec<String>,
    body: Value,
}

impl Answer {
    /// `(code, reason, message)` of a Status body.
    fn status(&self) -> (u16, &str, &str) {
        (
            self.status,
            self.body["reason"].as_str().unwrap_or(""),
            self.body["message"].as_str().unwrap_or(""),
        )
    }
}

struct Sim {
    sim: KubeSim,
    http: reqwest::Client,
}

impl Sim {
    async fn new(dir: &Path) -> Sim {
        Sim::with(opts(dir)).await
    }

    async fn with(opts: KubeSimOptions) -> Sim {
        crate::tls::install_crypto_provider();
        let sim = start(opts).await.unwrap();
        let ca = reqwest::Certificate::from_pem(sim.ca_pem().as_bytes()).unwrap();
        let http = reqwest::Client::builder()
            .add_root_certificate(ca)
            .build()
            .unwrap();
        Sim { sim, http }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
        token: &str,
        accept: &str,
    ) -> Answer {
        let url = format!("{}{path}", self.sim.base_url());
        let mut r = self
            .http
            .request(method.parse().unwrap(), url)
            .bearer_auth(token)
            .body(body.into());
        if !content_type.is_empty() {
            r = r.header("content-type", content_type);
        }
        if !accept.is_empty() {
            r = r.header("accept", accept);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let warnings = resp
            .headers()
            .get_all("warning")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let bytes = resp.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer {
            status,
            warnings,
            body,
        }
    }

    async fn send(&self, method: &str, path: &str, ct: &str, body: &Value) -> Answer {
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(body).unwrap()
        };
        self.call(method, path, ct, bytes, TOKEN, "").await
    }

    async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, "", &Value::Null).await
    }

    async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send("POST", path, "application/json", body).await
    }
}

const VMS: &str = "/apis/kubevirt.io/v1/namespaces/default/virtualmachines";
const SECRETS: &str = "/api/v1/namespaces/default/secrets";
const DVS: &str = "/apis/cdi.kubevirt.io/v1beta1/namespaces/default/datavolumes";

fn vm(name: &str) -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": name},
        "spec": {
            "runStrategy": "Halted",
            "dataVolumeTemplates": [{
                "metadata": {"name": format!("{name}-disk")},
                "spec": {"source": {"blank": {}}, "storage": {"resources": {"requests": {"storage": "1Gi"}}}},
            }],
            "template": {"spec": {"domain": {"devices": {}}}},
        },
    })
}

fn secret(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": {"a": "YQ=="}})
}

#[tokio::test]
async fn namespaces_exist_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sim::new(dir.path()).await;
    let list = s.get("/api/v1/namespaces").await;
    assert_eq!(list.status, 200);
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap())
        .collect();
    // The built-in ones, the configured ones and the kubeconfig context's namespace.
    assert_eq!(
        names,
        [
            "ctx-ns",
            "default",
            "kube-public",
            "kube-system",
            "openshift-virtualization-os-images",
            "team-a"
        ]
    );

    // A create in a missing namespace: 404 from the NamespaceLifecycle admission plugin.
    let a = s
        .post("/api/v1/namespaces/nope/secrets", &secret("s1"))
        .await;
    assert_eq!(
        a.status(),
        (404, "NotFound", "namespaces \"nope\" not found")
    );
    assert_eq!(
        a.body["details"],
        json!({"name": "nope", "group": "", "kind": "namespaces"})
    );

    // `kubectl create ns nope`, then the create works.
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "nope"}});
    let a = s.post("/api/v1/namespaces", &ns).await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(a.body["status"], json!({"phase": "Active"}));
    assert_eq!(
        a.body["metadata"]["labels"],
        json!({"kubernetes.io/metadata.name": "nope"})
    );
    let a = s.post("/api/v1/namespaces", &ns).await;
    assert_eq!(
        a.status(),
        (409, "AlreadyExists", "namespaces \"nope\" already exists")
    );
    let a = s
        .post("/api/v1/namespaces/nope/secrets", &secret("s1"))
        .await;
    assert_eq!(a.status, 201);
    assert_eq!(s.get("/api/v1/namespaces/nope").await.status, 200);

    // Deleting a namespace answers it Terminating and takes its objects with it.
    let a = s
        .send("DELETE", "/api/v1/namespaces/nope", "", &Value::Null)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["status"], json!({"phase": "Terminating"}));
    let a = s.get("/api/v1/namespaces/nope").await;
    assert_eq!(
        a.status(),
        (404, "NotFound", "namespaces \"nope\" not found")
    );
    let a = s.get("/api/v1/namespaces/nope/secrets/s1").await;
    assert_eq!(a.status(), (404, "NotFound", "secrets \"s1\" not found"));

    let a = s
        .send("DELETE", "/api/v1/namespaces/default", "", &Value::Null)
        .await;
    assert_eq!(
        a.status(),
        (
            403,
            "Forbidden",
            "namespaces \"default\" is forbidden: this namespace may not be deleted"
        )
    );
    let bad = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Bad_NS"}});
    let a = s.post("/api/v1/namespaces", &bad).await;
    assert_eq!(a.status, 422);
    assert!(
        a.status().2.starts_with("Namespace \"Bad_NS\" is invalid: metadata.name: Invalid value: \"Bad_NS\": a lowercase RFC 1123 label"),
        "{:?}",
        a.body
    );
}

#[tokio::test]
async fn string_data_becomes_base64_data_and_wins() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sim::new(dir.path()).await;
    let body = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "data": {"a": "b2xk", "keep": "eA=="},
        "stringData": {"a": "new", "userdata": "#cloud-config\n"},
    });
    let a = s.post(SECRETS, &body).await;
    assert_eq!(a.status, 201);
    assert_eq!(
        a.body["data"],
        json!({"a": "bmV3", "keep": "eA==", "userdata": "I2Nsb3VkLWNvbmZpZwo="})
    );
    assert!(a.body.get("stringData").is_none());
    let got = s.get(&format!("{SECRETS}/s")).await;
    assert_eq!(got.body["data"], a.body["data"]);
    assert!(got.body.get("stringData").is_none());

    // A deleted Secret is answered with a Success Status, not the object.
    let uid = got.body["metadata"]["uid"].clone();
    let a = s
        .send("DELETE", &format!("{SECRETS}/s"), "", &Value::Null)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
               "details": {"name": "s", "kind": "secrets", "uid": uid}})
    );
}

#[tokio::test]
async fn delete_honours_dry_run_propagation_and_preconditions() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sim::new(dir.path()).await;
    assert_eq!(s.post(VMS, &vm("a")).await.status, 201);
    assert_eq!(s.get(&format!("{DVS}/a-disk")).await.status, 200);

    // dryRun in the body (kubectl delete --dry-run=server) and in the query: nothing goes.
    let body = json!({"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]});
    let a = s
        .send("DELETE", &format!("{VMS}/a"), "application/json", &body)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["metadata"]["name"], "a");
    let a = s
        .send("DELETE", &format!("{VMS}/a?dryRun=All"), "", &Value::Null)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(s.get(&format!("{VMS}/a")).await.status, 200);

    // Preconditions that do not match: 409 with the storage layer's text.
    let uid = s.get(&format!("{VMS}/a")).await.body["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"preconditions": {"uid": "other"}});
    let a = s
        .send("DELETE", &format!("{VMS}/a"), "application/json", &body)
        .await;
    assert_eq!(
        a.status(),
        (
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on virtualmachines.kubevirt.io \"a\": StorageError: invalid object, Code: 4, Key: /registry/kubevirt.io/virtualmachines/default/a, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: other, UID in object meta: {uid}").as_str()
        )
    );
    let rv = s.get(&format!("{VMS}/a")).await.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"preconditions": {"resourceVersion": "1"}});
    let a = s
        .send("DELETE", &format!("{VMS}/a"), "application/json", &body)
        .await;
    assert_eq!(a.status, 409);
    assert!(
        a.status().2.ends_with(&format!("AdditionalErrorMsg: Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: {rv}")),
        "{:?}",
        a.body
    );

    // Orphan: the VM goes, its DataVolume stays without the owner reference.
    let body = json!({"propagationPolicy": "Orphan", "preconditions": {"uid": uid}});
    let a = s
        .send("DELETE", &format!("{VMS}/a"), "application/json", &body)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(s.get(&format!("{VMS}/a")).await.status, 404);
    let dv = s.get(&format!("{DVS}/a-disk")).await;
    assert_eq!(dv.status, 200);
    assert!(
        dv.body["metadata"].get("ownerReferences").is_none(),
        "{:?}",
        dv.body
    );

    // Background (the default): the dependents go too.
    assert_eq!(s.post(VMS, &vm("b")).await.status, 201);
    let a = s
        .send("DELETE", &format!("{VMS}/b"), "", &Value::Null)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(s.get(&format!("{DVS}/b-disk")).await.status, 404);

    let body = json!({"propagationPolicy": "Sometimes"});
    let a = s
        .send(
            "DELETE",
            &format!("{DVS}/a-disk"),
            "application/json",
            &body,
        )
        .await;
    assert_eq!(
        a.status(),
        (
            400,
            "BadRequest",
            "propagationPolicy: Unsupported value: \"Sometimes\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
        )
    );

    // dryRun on create: answered 201, nothing stored.
    let a = s.post(&format!("{VMS}?dryRun=All"), &vm("c")).await;
    assert_eq!(a.status, 201);
    assert_eq!(s.get(&format!("{VMS}/c")).await.status, 404);
}

#[tokio::test]
async fn patch_types_follow_the_resource_kind() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sim::new(dir.path()).await;
    assert_eq!(s.post(VMS, &vm("a")).await.status, 201);
    let path = format!("{VMS}/a");

    let ops = json!([{"op": "replace", "path": "/spec/runStrategy", "value": "Always"},
                     {"op": "add", "path": "/metadata/labels", "value": {"x": "1"}}]);
    let a = s
        .send("PATCH", &path, "application/json-patch+json", &ops)
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["spec"]["runStrategy"], "Always");
    assert_eq!(a.body["metadata"]["labels"], json!({"x": "1"}));

    let merge = json!({"metadata": {"labels": {"x": null, "y": "2"}}});
    let a = s
        .send("PATCH", &path, "application/merge-patch+json", &merge)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["metadata"]["labels"], json!({"y": "2"}));

    // Custom resources have no strategic merge patch.
    let a = s
        .send(
            "PATCH",
            &path,
            "application/strategic-merge-patch+json",
            &merge,
        )
        .await;
    assert_eq!(
        a.status(),
        (
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        )
    );
    // Core kinds do.
    assert_eq!(s.post(SECRETS, &secret("s")).await.status, 201);
    let a = s
        .send(
            "PATCH",
            &format!("{SECRETS}/s"),
            "application/strategic-merge-patch+json",
            &json!({"data": {"b": "Yg=="}}),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["data"], json!({"a": "YQ==", "b": "Yg=="}));
    let a = s
        .send("PATCH", &format!("{SECRETS}/s"), "text/plain", &json!({}))
        .await;
    assert_eq!(
        a.status(),
        (
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
        )
    );

    // A JSON patch that does not apply: 422.
    let bad = json!([{"op": "remove", "path": "/spec/nope"}]);
    let a = s
        .send("PATCH", &path, "application/json-patch+json", &bad)
        .await;
    assert_eq!(
        a.status(),
        (
            422,
            "Invalid",
            "the server rejected our request due to an error in our request"
        )
    );
    assert_eq!(
        a.body["details"]["causes"][0]["message"],
        "remove operation does not apply: doc is missing path: \"/spec/nope\""
    );

    // Server-side apply: needs a field manager, then merges and records ownership.
    let applied = "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: a\n  labels:\n    z: \"3\"\n";
    let a = s
        .call(
            "PATCH",
            &path,
            "application/apply-patch+yaml",
            applied,
            TOKEN,
            "",
        )
        .await;
    assert_eq!(
        a.status(),
        (
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
        )
    );
    let a = s
        .call(
            "PATCH",
            &format!("{path}?fieldManager=rehearsal"),
            "application/apply-patch+yaml",
            applied,
            TOKEN,
            "",
        )
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["metadata"]["labels"], json!({"y": "2", "z": "3"}));
    assert_eq!(
        a.body["metadata"]["managedFields"][0]["manager"],
        "rehearsal"
    );
    assert_eq!(a.body["metadata"]["managedFields"][0]["operation"], "Apply");

    // A stale resourceVersion on update: 409.
    let mut stale = a.body.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    let a = s.send("PUT", &path, "application/json", &stale).await;
    assert_eq!(
        a.status(),
        (
            409,
            "Conflict",
            "Operation cannot be fulfilled on virtualmachines.kubevirt.io \"a\": the object has been modified; please apply your changes to the latest version and try again"
        )
    );
}

#[tokio::test]
async fn unknown_fields_follow_field_validation() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sim::new(dir.path()).await;
    let mut body = vm("a");
    body["spec"]["foo"] = json!(1);
    body["spec"]["template"]["spec"]["domain"]["bar"] = json!(true);
    body["metadata"]["lables"] = json!({"a": "b"});

    let a = s
        .post(&format!("{VMS}?fieldValidation=Strict"), &body)
        .await;
    assert_eq!(
        a.status(),
        (
            400,
            "BadRequest",
            "VirtualMachine in version \"v1\" cannot be handled as a VirtualMachine: strict decoding error: unknown field \"metadata.lables\", unknown field \"spec.foo\", unknown field \"spec.template.spec.domain.bar\""
        )
    );
    assert_eq!(s.get(&format!("{VMS}/a")).await.status, 404);

    // Warn is the default: created, the fields dropped, one warning each.
    let a = s.post(VMS, &body).await;
    assert_eq!(a.status, 201);
    assert_eq!(
        a.warnings,
        [
            "299 - \"unknown field \\\"metadata.lables\\\"\"",
            "299 - \"unknown field \\\"spec.foo\\\"\"",
            "299 - \"unknown field \\\"spec.template.spec.domain.bar\\\"\""
        ]
    );
    assert!(a.body["spec"].get("foo").is_none());
    assert!(a.body["metadata"].get("lables").is_none());
    assert!(
        a.body["spec"]["template"]["spec"]["domain"]
            .get("bar")
            .is_none()
    );

    body["metadata"]["name"] = json!("b");
    let a = s
        .post(&format!("{VMS}?fieldValidation=Ignore"), &body)
        .await;
    assert_eq!(a.status, 201);
    assert!(a.warnings.is_empty());
    assert!(a.body["spec"].get("foo").is_none());

    let a = s.post(&format!("{VMS}?fieldValidation=Loose"), &body).await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn bad_requests_get_the_api_servers_status() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sim::new(dir.path()).await;
    let a = s.get(&format!("{VMS}/nope")).await;
    assert_eq!(
        a.status(),
        (
            404,
            "NotFound",
            "virtualmachines.kubevirt.io \"nope\" not found"
        )
    );
    assert_eq!(a.body["kind"], "Status");

    assert_eq!(s.post(VMS, &vm("a")).await.status, 201);
    let a = s.post(VMS, &vm("a")).await;
    assert_eq!(
        a.status(),
        (
            409,
            "AlreadyExists",
            "virtualmachines.kubevirt.io \"a\" already exists"
        )
    );

    let big = vec![b' '; 3 * 1024 * 1024 + 1];
    let a = s
        .call("POST", SECRETS, "application/json", big, TOKEN, "")
        .await;
    assert_eq!(
        a.status(),
        (
            413,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728"
        )
    );

    let a = s
        .call("POST", SECRETS, "application/json", "{not json", TOKEN, "")
        .await;
    assert_eq!(a.status().0, 400);
    assert_eq!(a.status().1, "BadRequest");
    assert!(
        a.status()
            .2
            .starts_with("couldn't get version/kind; json parse error: "),
        "{:?}",
        a.body
    );

    let a = s.call("POST", VMS, "text/plain", "x", TOKEN, "").await;
    assert_eq!(
        a.status(),
        (
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
        )
    );

    let a = s
        .get("/apis/kubevirt.io/v1/namespaces/default/widgets")
        .await;
    assert_eq!(
        a.status(),
        (
            404,
            "NotFound",
            "the server could not find the requested resource"
        )
    );
}

#[tokio::test]
async fn access_reviews_answer_from_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sim::new(dir.path()).await;
    let review = |verb: &str| {
        json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": "default", "verb": verb, "group": "kubevirt.io", "resource": "virtualmachines"}},
        })
    };
    let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    for (token, verb, allowed) in [
        (TOKEN, "create", true),
        (TOKEN, "delete", true),
        (READ_ONLY, "get", true),
        (READ_ONLY, "watch", true),
        (READ_ONLY, "create", false),
        (READ_ONLY, "delete", false),
    ] {
        let body = serde_json::to_vec(&review(verb)).unwrap();
        let a = s
            .call("POST", path, "application/json", body, token, "")
            .await;
        assert_eq!(a.status, 201, "{:?}", a.body);
        assert_eq!(a.body["status"]["allowed"], allowed, "{token} {verb}");
    }
}

#[tokio::test]
async fn openapi_v3_and_v2_serve_the_embedded_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sim::new(dir.path()).await;
    let d = s.get("/openapi/v3").await;
    assert_eq!(d.status, 200);
    let mut keys: Vec<&String> = d.body["paths"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "api/v1",
            "apis/cdi.kubevirt.io/v1beta1",
            "apis/k8s.cni.cncf.io/v1",
            "apis/kubevirt.io/v1"
        ]
    );
    let url = d.body["paths"]["apis/kubevirt.io/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap();
    assert!(
        url.starts_with("/openapi/v3/apis/kubevirt.io/v1?hash="),
        "{url}"
    );
    let doc = s.call("GET", url, "", "", TOKEN, "application/json").await;
    assert_eq!(doc.status, 200);
    let vm = &doc.body["components"]["schemas"]["io.kubevirt.v1.VirtualMachine"];
    assert_eq!(
        vm["x-kubernetes-group-version-kind"],
        json!([{"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachine"}])
    );
    assert!(vm["properties"]["spec"]["properties"]["runStrategy"].is_object());
    // kubectl's probe: a PATCH with the GVK extension and a fieldValidation parameter.
    let patch = &doc.body["paths"]["/apis/kubevirt.io/v1/namespaces/{namespace}/virtualmachines/{name}"]
        ["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"]["kind"],
        "VirtualMachine"
    );
    assert!(
        patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation")
    );

    let v2 = s
        .call("GET", "/openapi/v2", "", "", TOKEN, "application/json")
        .await;
    assert_eq!(v2.status, 200);
    assert_eq!(v2.body["swagger"], "2.0");
    assert!(v2.body["definitions"]["io.kubevirt.cdi.v1beta1.DataVolume"].is_object());
    // kubectl before 1.29 asks for protobuf (kube-openapi pkg/handler): gnostic's
    // openapi.v2.Document under the non-deprecated media type, the ETag of the JSON bytes
    // (SHA-512, upper-case hex), 304 on If-None-Match, a bare 406 for other types.
    let get = |accept: &str, if_none_match: &str| {
        let mut r = s
            .http
            .get(format!("{}/openapi/v2", s.sim.base_url()))
            .bearer_auth(TOKEN)
            .header("accept", accept);
        if !if_none_match.is_empty() {
            r = r.header("if-none-match", if_none_match);
        }
        r.send()
    };
    let header = |r: &reqwest::Response, h: &str| {
        r.headers()
            .get(h)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let pb = get(
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        "",
    )
    .await
    .unwrap();
    assert_eq!(pb.status(), 200);
    assert_eq!(
        header(&pb, "content-type"),
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    );
    assert_eq!(header(&pb, "vary"), "Accept");
    let etag = header(&pb, "etag");
    let json = get("application/json", "").await.unwrap();
    assert_eq!(header(&json, "etag"), etag);
    assert_eq!(header(&json, "content-type"), "application/json");
    let json_bytes = json.bytes().await.unwrap();
    let hash: String = <sha2::Sha512 as sha2::Digest>::digest(&json_bytes)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(etag, format!("\"{hash}\""));
    let pb_bytes = pb.bytes().await.unwrap();
    // Document.swagger (field 1) = "2.0", then Document.info (field 2).
    assert_eq!(pb_bytes[..7], *b"\x0a\x032.0\x12\x15");
    let again = get(
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
        &etag,
    )
    .await
    .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag"), etag);
    assert!(again.bytes().await.unwrap().is_empty());
    let html = get("text/html", "").await.unwrap();
    assert_eq!(html.status(), 406);
    assert!(html.bytes().await.unwrap().is_empty());
}

fn vm_of(name: &str, spec_extra: Value) -> Value {
    let mut spec = json!({
        "runStrategy": "Always",
        "template": {"spec": {"domain": {"devices": {}}}},
    });
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
        s.extend(extra.clone());
    }
    json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
           "metadata": {"name": name}, "spec": spec})
}

fn dv_of(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
           "metadata": {"name": name}, "spec": spec})
}

/// KubeVirt's and CDI's validating webhooks: an instance type, preference or DataSource
/// that does not exist is refused at creation, with the webhook's words.
#[tokio::test]
async fn the_webhooks_refuse_what_names_a_missing_instancetype_preference_or_data_source() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sim::new(dir.path()).await;
    let a = s
        .post(
            VMS,
            &vm_of("a", json!({"instancetype": {"name": "u1.huge"}})),
        )
        .await;
    assert_eq!(
        a.status(),
        (
            422,
            "Invalid",
            "admission webhook \"virtualmachine-validator.kubevirt.io\" denied the request: Failure to find instancetype: virtualmachineclusterinstancetypes.instancetype.kubevirt.io \"u1.huge\" not found"
        )
    );
    assert_eq!(a.body["details"]["causes"][0]["field"], "spec.instancetype");
    let a = s
        .post(
            VMS,
            &vm_of(
                "a",
                json!({"preference": {"kind": "VirtualMachinePreference", "name": "mine"}}),
            ),
        )
        .await;
    assert_eq!(
        a.status().2,
        "admission webhook \"virtualmachine-validator.kubevirt.io\" denied the request: Failure to find preference: virtualmachinepreferences.instancetype.kubevirt.io \"mine\" not found"
    );
    let ok = s
        .post(
            VMS,
            &vm_of(
                "b",
                json!({"instancetype": {"name": "u1.small"}, "preference": {"name": "fedora"}}),
            ),
        )
        .await;
    assert_eq!(ok.status, 201, "{:?}", ok.body);
    let storage = json!({"resources": {"requests": {"storage": "1Gi"}}});
    let a = s
        .post(
            DVS,
            &dv_of(
                "d",
                json!({"sourceRef": {"kind": "DataSource", "name": "rhel10",
            "namespace": "openshift-virtualization-os-images"}, "storage": storage}),
            ),
        )
        .await;
    assert_eq!(
        a.status(),
        (
            422,
            "Invalid",
            "admission webhook \"datavolume-validate.cdi.kubevirt.io\" denied the request: SourceRef DataSource/openshift-virtualization-os-images/rhel10 not found"
        )
    );
    // Nothing of either refusal was stored.
    assert_eq!(s.get(&format!("{VMS}/a")).await.status, 404);
    assert_eq!(s.get(&format!("{DVS}/d")).await.status, 404);
    s.sim.shutdown().await;
}

/// Cloning out of a namespace whose `datavolumes/source` the user lacks is refused by CDI's
/// webhook for a DataVolume and by KubeVirt's for a VM's `dataVolumeTemplates`, and an
/// access review says so beforehand; an import or a clone from an allowed namespace is not.
#[tokio::test]
async fn a_clone_from_a_namespace_the_user_may_not_clone_from_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sim::with(KubeSimOptions {
        clone_denied: vec!["golden".into()],
        ..opts(dir.path())
    })
    .await;
    let storage = json!({"resources": {"requests": {"storage": "1Gi"}}});
    let pvc = |ns: &str| json!({"source": {"pvc": {"namespace": ns, "name": "rhel9-base"}}, "storage": storage});
    let a = s.post(DVS, &dv_of("d", pvc("golden"))).await;
    assert_eq!(
        a.status(),
        (
            422,
            "Invalid",
            "admission webhook \"datavolume-validate.cdi.kubevirt.io\" denied the request: User vauto-sim has insufficient permissions in clone source namespace golden"
        )
    );
    let template = json!({"dataVolumeTemplates": [
        {"metadata": {"name": "v-disk"}, "spec": pvc("golden")}]});
    let a = s.post(VMS, &vm_of("v", template)).await;
    assert_eq!(
        a.status(),
        (
            422,
            "Invalid",
            "admission webhook \"virtualmachine-validator.kubevirt.io\" denied the request: Authorization failed, message is: User vauto-sim has insufficient permissions in clone source namespace golden"
        )
    );
    assert_eq!(s.get(&format!("{VMS}/v")).await.status, 404);
    assert_eq!(s.get(&format!("{DVS}/d")).await.status, 404);
    // Another namespace, and the golden images' own, may be cloned from.
    let ok = s.post(DVS, &dv_of("e", pvc("team-a"))).await;
    assert_eq!(ok.status, 201, "{:?}", ok.body);
    let review = |ns: &str| {
        json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": ns, "verb": "create", "group": "cdi.kubevirt.io",
                "resource": "datavolumes", "subresource": "source", "name": "rhel9-base"}},
        })
    };
    let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    for (ns, allowed) in [("golden", false), ("team-a", true)] {
        let a = s.post(path, &review(ns)).await;
        assert_eq!(a.status, 201, "{:?}", a.body);
        assert_eq!(a.body["status"], json!({"allowed": allowed}), "{ns}");
    }
    s.sim.shutdown().await;
}

/// The cluster's catalogue is served read-only, as `kubectl get sc`/`datasources`/`vmcf`
/// read it, with the API server's not-found words.
#[tokio::test]
async fn storage_classes_golden_images_and_instance_types_are_served_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sim::new(dir.path()).await;
    let sc = s.get("/apis/storage.k8s.io/v1/storageclasses").await;
    let modes: Vec<(&str, &str)> = sc.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["metadata"]["name"].as_str().unwrap(),
                c["volumeBindingMode"].as_str().unwrap(),
            )
        })
        .collect();
    // In name order, as the API server lists from etcd.
    assert_eq!(
        modes,
        [
            ("lvms-vg1", "WaitForFirstConsumer"),
            ("ocs-storagecluster-ceph-rbd", "Immediate")
        ]
    );
    assert_eq!(sc.body["kind"], "StorageClassList");
    assert_eq!(sc.body["apiVersion"], "storage.k8s.io/v1");
    assert_eq!(
        s.get("/apis/storage.k8s.io/v1/storageclasses/fast")
            .await
            .status(),
        (
            404,
            "NotFound",
            "storageclasses.storage.k8s.io \"fast\" not found"
        )
    );
    let ds = s
        .get("/apis/cdi.kubevirt.io/v1beta1/namespaces/openshift-virtualization-os-images/datasources/rhel9")
        .await;
    assert_eq!(ds.body["spec"]["source"]["pvc"]["name"], "rhel9");
    let it = s
        .get("/apis/instancetype.kubevirt.io/v1beta1/virtualmachineclusterinstancetypes/u1.medium")
        .await;
    assert_eq!(
        it.body["spec"],
        json!({"cpu": {"guest": 1}, "memory": {"guest": "4Gi"}})
    );
    let write = s
        .post(
            "/apis/storage.k8s.io/v1/storageclasses",
            &json!({"kind": "StorageClass"}),
        )
        .await;
    assert_eq!(write.status, 405);
    s.sim.shutdown().await;
}

/// An import whose `certConfigMap` does not exist never starts: the importer pod cannot
/// mount it (kubelet's FailedMount), and the DataVolume waits in `ImportScheduled` until
/// the ConfigMap appears. A ConfigMap is validated against its schema like any write.
#[tokio::test]
async fn an_import_waits_for_its_cert_config_map_with_the_kubelets_failed_mount() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sim::new(dir.path()).await;
    let storage = json!({"resources": {"requests": {"storage": "1Gi"}}});
    let dv = dv_of(
        "d",
        json!({"source": {"registry": {"url": "docker://mirror.lab/x:1",
        "certConfigMap": "mirror-ca"}}, "storage": storage}),
    );
    assert_eq!(s.post(DVS, &dv).await.status, 201);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let got = s.get(&format!("{DVS}/d")).await;
    assert_eq!(got.body["status"]["phase"], "ImportScheduled");
    let events = s.get("/api/v1/namespaces/default/events").await;
    let mount: Vec<(&str, &str, &str)> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "FailedMount")
        .map(|e| {
            (
                e["involvedObject"]["kind"].as_str().unwrap(),
                e["involvedObject"]["name"].as_str().unwrap(),
                e["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        mount,
        [(
            "Pod",
            "importer-d",
            "MountVolume.SetUp failed for volume \"cdi-cert-vol\" : configmap \"mirror-ca\" not found"
        )]
    );
    let cms = "/api/v1/namespaces/default/configmaps";
    let typo = s
        .send(
            "POST",
            &format!("{cms}?fieldValidation=Strict"),
            "application/json",
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mirror-ca"},
                    "dta": {"ca.crt": "x"}}),
        )
        .await;
    assert_eq!(typo.status, 400, "{:?}", typo.body);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mirror-ca"},
                    "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n"}});
    assert_eq!(s.post(cms, &cm).await.status, 201);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let got = s.get(&format!("{DVS}/d")).await;
    assert_ne!(got.body["status"]["phase"], "ImportScheduled");
    s.sim.shutdown().await;
}
