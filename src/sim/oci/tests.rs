//! End-to-end tests of the OCI simulator over real HTTP with requests signed in the test.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::catalog::{SUBNET_ID, TENANCY_OCID, availability_domains};
use super::*;

const VECTOR_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/oci-signing/TEST-ONLY-oci-api-key.pem"
);

/// A minimal OCI client: reads the sim's config file and signs like the SDK does.
struct Client {
    http: reqwest::Client,
    base: String,
    host: String,
    key: SigningKey<Sha256>,
    key_id: String,
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn http_date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

impl Client {
    fn new(sim: &OciSim) -> Client {
        let config = std::fs::read_to_string(sim.config_file()).unwrap();
        let get = |k: &str| {
            config
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap()
                .to_string()
        };
        let pem = std::fs::read_to_string(get("key_file")).unwrap();
        let key = RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
        Client {
            http: reqwest::Client::new(),
            base: sim.base_url(),
            host: sim.addr().to_string(),
            key: SigningKey::new(key),
            key_id: format!("{}/{}/{}", get("tenancy"), get("user"), get("fingerprint")),
        }
    }

    /// Signed headers for a request; `tamper` edits the signing string before signing.
    fn sign(
        &self,
        method: &str,
        target: &str,
        date: &str,
        body: Option<&[u8]>,
        tamper: &dyn Fn(String) -> String,
    ) -> Vec<(String, String)> {
        let mut headers = vec![
            ("date".to_string(), date.to_string()),
            ("host".to_string(), self.host.clone()),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        let mut names = vec!["date", "(request-target)", "host"];
        if let Some(b) = body {
            headers.push(("content-length".to_string(), b.len().to_string()));
            headers.push((
                "x-content-sha256".to_string(),
                B64.encode(Sha256::digest(b)),
            ));
            names.extend(["content-length", "content-type", "x-content-sha256"]);
        }
        let string = names
            .iter()
            .map(|n| {
                if *n == "(request-target)" {
                    format!("(request-target): {} {target}", method.to_lowercase())
                } else {
                    let v = &headers.iter().find(|(k, _)| k == n).unwrap().1;
                    format!("{n}: {v}")
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let sig = self.key.sign(tamper(string).as_bytes());
        headers.push((
            "authorization".to_string(),
            format!(
                "Signature algorithm=\"rsa-sha256\",headers=\"{}\",keyId=\"{}\",signature=\"{}\",version=\"1\"",
                names.join(" "),
                self.key_id,
                B64.encode(sig.to_bytes())
            ),
        ));
        headers
    }

    async fn raw(
        &self,
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, reqwest::Error> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.http.request(m, format!("{}{target}", self.base));
        for (k, v) in headers {
            // reqwest sets host from the URL; content-length is passed on because hyper
            // omits `content-length: 0` for an empty POST body, which OCI requires signed.
            if k != "host" {
                rb = rb.header(k, v);
            }
        }
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let resp = rb.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        Ok(Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        })
    }

    async fn call_with(
        &self,
        method: &str,
        target: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> Result<Reply, reqwest::Error> {
        let body = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .or_else(|| (method == "POST" || method == "PUT").then(Vec::new));
        let mut headers = self.sign(
            method,
            target,
            &http_date(chrono::Utc::now()),
            body.as_deref(),
            &|s| s,
        );
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.raw(method, target, headers, body).await
    }

    async fn call(&self, method: &str, target: &str, body: Option<&Value>) -> Reply {
        self.call_with(method, target, body, &[]).await.unwrap()
    }

    async fn launch(&self, body: &Value, token: Option<&str>) -> Result<Reply, reqwest::Error> {
        let extra: Vec<(&str, &str)> = token.map(|t| ("opc-retry-token", t)).into_iter().collect();
        self.call_with("POST", "/20160918/instances", Some(body), &extra)
            .await
    }
}

/// Options for a test sim whose state dir already holds the vector key (skips slow key generation).
fn options(dir: &Path) -> OciSimOptions {
    let sim_dir = sim_dir(dir);
    std::fs::create_dir_all(&sim_dir).unwrap();
    std::fs::copy(VECTOR_KEY, sim_dir.join(tenancy::KEY_FILE)).unwrap();
    OciSimOptions {
        state_dir: dir.to_path_buf(),
        provision_delay: Duration::from_millis(500),
        transition_delay: Duration::from_millis(500),
        ..OciSimOptions::default()
    }
}

fn image_id(name: &str) -> String {
    catalog::images()
        .into_iter()
        .find(|i| i.display_name == name)
        .unwrap()
        .id
}

fn launch_body(name: &str, ad: usize) -> Value {
    json!({
        "availabilityDomain": availability_domains()[ad - 1],
        "compartmentId": TENANCY_OCID,
        "createVnicDetails": {"assignPublicIp": true, "subnetId": SUBNET_ID},
        "displayName": name,
        "freeformTags": {"vauto-project": "lab", "vauto-name": name},
        "metadata": {"ssh_authorized_keys": "ssh-ed25519 AAAA test", "user_data": "I2Nsb3VkLWNvbmZpZw=="},
        "shape": "VM.Standard.A1.Flex",
        "shapeConfig": {"ocpus": 1.0, "memoryInGBs": 6.0},
        "sourceDetails": {"sourceType": "image", "imageId": image_id("Canonical-Ubuntu-22.04-aarch64-2025.03.28-0")}
    })
}

fn list_path(extra: &str) -> String {
    format!("/20160918/instances?compartmentId={TENANCY_OCID}{extra}")
}

/// Follows `opc-next-page` and returns every item and the number of pages.
async fn list_all(c: &Client, path: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut next: Option<String> = None;
    loop {
        let p = match &next {
            Some(tok) => format!("{path}&page={tok}"),
            None => path.to_string(),
        };
        let r = c.call("GET", &p, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        pages += 1;
        items.extend(r.body.as_array().unwrap().iter().cloned());
        match r.header("opc-next-page") {
            Some(t) => next = Some(t.to_string()),
            None => return (items, pages),
        }
    }
}

#[tokio::test]
async fn bad_or_missing_signatures_get_401_not_authenticated() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(options(dir.path())).await.unwrap();
    let c = Client::new(&sim);
    let target = list_path("");
    let now = http_date(chrono::Utc::now());

    let ok = c.call("GET", &target, None).await;
    assert_eq!(ok.status, 200, "{}", ok.body);

    let missing = c.raw("GET", &target, vec![], None).await.unwrap();
    assert_eq!((missing.status, missing.code()), (401, "NotAuthenticated"));
    assert!(missing.header("opc-request-id").is_some());

    let tampered = c.sign("GET", &target, &now, None, &|s| {
        s.replace("instances", "instancez")
    });
    let r = c.raw("GET", &target, tampered, None).await.unwrap();
    assert_eq!((r.status, r.code()), (401, "NotAuthenticated"));

    let stale_date = http_date(chrono::Utc::now() - chrono::Duration::minutes(6));
    let stale = c.sign("GET", &target, &stale_date, None, &|s| s);
    let r = c.raw("GET", &target, stale, None).await.unwrap();
    assert_eq!((r.status, r.code()), (401, "NotAuthenticated"));

    let mut other = c.sign("GET", &target, &now, None, &|s| s);
    let auth = other
        .iter_mut()
        .find(|(k, _)| k == "authorization")
        .unwrap();
    auth.1 = auth.1.replace("ocid1.user.oc1..", "ocid1.user.oc1..x");
    let r = c.raw("GET", &target, other, None).await.unwrap();
    assert_eq!((r.status, r.code()), (401, "NotAuthenticated"));

    // A body that differs from the signed hash is rejected and launches nothing.
    let body = serde_json::to_vec(&launch_body("web-01", 1)).unwrap();
    let signed = c.sign("POST", "/20160918/instances", &now, Some(&body), &|s| s);
    let mut altered = body.clone();
    altered[10] ^= 0x01;
    let r = c
        .raw("POST", "/20160918/instances", signed, Some(altered))
        .await
        .unwrap();
    assert_eq!((r.status, r.code()), (401, "NotAuthenticated"));
    let (items, _) = list_all(&c, &target).await;
    assert!(items.is_empty());
}

#[tokio::test]
async fn launch_get_list_with_paging_and_terminate() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(OciSimOptions {
        page_size: 2,
        ..options(dir.path())
    })
    .await
    .unwrap();
    let c = Client::new(&sim);
    let mut ids = Vec::new();
    for i in 1..=5 {
        let mut body = launch_body(&format!("web-{i:02}"), 1);
        if i == 3 {
            body["createVnicDetails"]["privateIp"] = json!("10.0.0.50");
            body["displayName"] = json!("web 01:a/b");
        }
        let r = c.launch(&body, None).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["lifecycleState"], "PROVISIONING");
        assert_eq!(r.body["freeformTags"]["vauto-project"], "lab");
        assert_eq!(r.body["metadata"]["user_data"], "I2Nsb3VkLWNvbmZpZw==");
        assert_eq!(r.body["shapeConfig"]["ocpus"], 1.0);
        assert!(r.header("opc-request-id").is_some());
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }

    // The attachment is ATTACHING, without a VNIC, while the instance provisions.
    let att = c
        .call(
            "GET",
            &format!(
                "/20160918/vnicAttachments?compartmentId={TENANCY_OCID}&instanceId={}",
                ids[4]
            ),
            None,
        )
        .await;
    assert_eq!(att.body[0]["lifecycleState"], "ATTACHING");
    assert!(att.body[0]["vnicId"].is_null());

    let (items, pages) = list_all(&c, &list_path("")).await;
    assert_eq!(pages, 3);
    let mut listed: Vec<String> = items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    // Default order is newest first.
    assert_eq!(listed[0], ids[4]);
    listed.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(listed, want);

    // The SDK's form encoding of the display name filter.
    let (named, _) = list_all(&c, &list_path("&displayName=web+01%3Aa%2Fb")).await;
    assert_eq!(named.len(), 1);
    assert_eq!(named[0]["id"], ids[2].as_str());

    tokio::time::sleep(Duration::from_millis(550)).await;
    let got = c
        .call("GET", &format!("/20160918/instances/{}", ids[2]), None)
        .await;
    assert_eq!(got.body["lifecycleState"], "RUNNING");
    let att_path = format!(
        "/20160918/vnicAttachments?compartmentId={TENANCY_OCID}&instanceId={}",
        ids[2]
    );
    let att = c.call("GET", &att_path, None).await;
    assert_eq!(att.body[0]["lifecycleState"], "ATTACHED");
    let vnic_id = att.body[0]["vnicId"].as_str().unwrap();
    let vnic = c
        .call("GET", &format!("/20160918/vnics/{vnic_id}"), None)
        .await;
    assert_eq!(vnic.body["privateIp"], "10.0.0.50");
    assert!(
        vnic.body["publicIp"]
            .as_str()
            .unwrap()
            .starts_with("203.0.113.")
    );
    let missing = c
        .call("GET", "/20160918/vnics/ocid1.vnic.oc1..nope", None)
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (404, "NotAuthorizedOrNotFound")
    );

    // A second instance asking for the same private IP is refused.
    let mut dup = launch_body("dup", 2);
    dup["createVnicDetails"]["privateIp"] = json!("10.0.0.50");
    let r = c.launch(&dup, None).await.unwrap();
    assert_eq!((r.status, r.code()), (400, "InvalidParameter"));

    let del = c
        .call(
            "DELETE",
            &format!("/20160918/instances/{}?preserveBootVolume=false", ids[0]),
            None,
        )
        .await;
    assert_eq!(del.status, 204);
    let got = c
        .call("GET", &format!("/20160918/instances/{}", ids[0]), None)
        .await;
    assert_eq!(got.body["lifecycleState"], "TERMINATING");
    tokio::time::sleep(Duration::from_millis(550)).await;
    let (gone, _) = list_all(&c, &list_path("&lifecycleState=TERMINATED")).await;
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0]["id"], ids[0].as_str());
    let (all, _) = list_all(&c, &list_path("")).await;
    assert_eq!(all.len(), 5, "terminated instances stay listed");

    let unknown = c
        .call("GET", "/20160918/instances/ocid1.instance.oc1..nope", None)
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "NotAuthorizedOrNotFound")
    );
}

#[tokio::test]
async fn instance_actions_follow_the_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(options(dir.path())).await.unwrap();
    let c = Client::new(&sim);
    let id = c.launch(&launch_body("a", 1), None).await.unwrap().body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let act = |a: &str| format!("/20160918/instances/{id}?action={a}");
    let r = c.call("POST", &act("STOP"), None).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "IncorrectState"),
        "stop while provisioning: {}",
        r.body
    );
    tokio::time::sleep(Duration::from_millis(550)).await;
    let r = c.call("POST", &act("STOP"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lifecycleState"], "STOPPING");
    let r = c.call("POST", &act("START"), None).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "IncorrectState"),
        "start while stopping"
    );
    tokio::time::sleep(Duration::from_millis(550)).await;
    let got = c
        .call("GET", &format!("/20160918/instances/{id}"), None)
        .await;
    assert_eq!(got.body["lifecycleState"], "STOPPED");
    let r = c.call("POST", &act("START"), None).await;
    assert_eq!(r.body["lifecycleState"], "STARTING");
    let r = c.call("POST", &act("REBOOT"), None).await;
    assert_eq!((r.status, r.code()), (400, "InvalidParameter"));
    tokio::time::sleep(Duration::from_millis(550)).await;
    let got = c
        .call("GET", &format!("/20160918/instances/{id}"), None)
        .await;
    assert_eq!(got.body["lifecycleState"], "RUNNING");
}

#[tokio::test]
async fn retry_token_returns_the_same_instance_and_rejects_a_changed_body() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(OciSimOptions {
        faults: Faults {
            lost_launch_rate: 1.0,
            lost_launch_reset: true,
            ..Faults::default()
        },
        ..options(dir.path())
    })
    .await
    .unwrap();
    let c = Client::new(&sim);
    let body = launch_body("web-01", 1);
    // The launch lands but the connection is dropped before the answer.
    let lost = c.launch(&body, Some("tok-web-01")).await;
    let err = lost
        .err()
        .expect("expected a dropped connection, got a response");
    // No status line at all: the connection closed before any response bytes.
    assert!(
        err.status().is_none() && !err.is_body() && !err.is_decode(),
        "{err:?}"
    );
    let again = c.launch(&body, Some("tok-web-01")).await.unwrap();
    assert_eq!(again.status, 200, "{}", again.body);
    let third = c.launch(&body, Some("tok-web-01")).await.unwrap();
    assert_eq!(third.body["id"], again.body["id"]);
    // Each replay names the launch's one work request, which the store knows.
    let wr = again.header("opc-work-request-id").unwrap();
    assert_eq!(third.header("opc-work-request-id"), Some(wr));
    let w = c
        .call("GET", &format!("/20160918/workRequests/{wr}"), None)
        .await;
    assert_eq!(w.body["resources"][0]["identifier"], again.body["id"]);
    let (items, _) = list_all(&c, &list_path("")).await;
    assert_eq!(items.len(), 1, "one instance for one token");

    let mut changed = body.clone();
    changed["displayName"] = json!("web-02");
    let r = c.launch(&changed, Some("tok-web-01")).await.unwrap();
    assert_eq!((r.status, r.code()), (409, "InvalidatedRetryToken"));
}

#[tokio::test]
async fn capacity_model_answers_out_of_host_capacity_then_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let busy = AdCapacity {
        free_after_attempts: 2,
        ..AdCapacity::default()
    };
    let mut per_ad = BTreeMap::new();
    per_ad.insert("AD-1".to_string(), busy.clone());
    per_ad.insert("AD-2".to_string(), busy);
    per_ad.insert(
        "AD-3".to_string(),
        AdCapacity {
            shapes: Some(vec!["VM.Standard.E2.1.Micro".to_string()]),
            max_instances: Some(1),
            ..AdCapacity::default()
        },
    );
    let opts = OciSimOptions {
        capacity: CapacityModel {
            per_ad,
            ..CapacityModel::default()
        },
        ..options(dir.path())
    };
    let sim = start(opts.clone()).await.unwrap();
    let c = Client::new(&sim);
    let mut seen = Vec::new();
    for ad in [1, 2, 1, 2, 1] {
        let r = c
            .launch(
                &launch_body("web-01", ad),
                Some(&format!("t{}", seen.len())),
            )
            .await
            .unwrap();
        seen.push((
            ad,
            r.status,
            r.body["message"].as_str().unwrap_or("").to_string(),
        ));
    }
    let cap = "Out of host capacity.".to_string();
    assert_eq!(
        seen,
        vec![
            (1, 500, cap.clone()),
            (2, 500, cap.clone()),
            (1, 500, cap.clone()),
            (2, 500, cap),
            (1, 200, String::new()),
        ]
    );
    let r = c.launch(&launch_body("arm", 3), None).await.unwrap();
    assert_eq!((r.status, r.code()), (404, "NotFound"));
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("VM.Standard.A1.Flex not found")
    );

    let mut micro = launch_body("micro", 3);
    micro["shape"] = json!("VM.Standard.E2.1.Micro");
    micro.as_object_mut().unwrap().remove("shapeConfig");
    micro["sourceDetails"]["imageId"] = json!(image_id("Oracle-Linux-9.5-2025.03.18-0"));
    assert_eq!(c.launch(&micro, None).await.unwrap().status, 200);
    let r = c.launch(&micro, None).await.unwrap();
    assert_eq!(
        (r.status, r.body["message"].as_str()),
        (500, Some("Out of host capacity."))
    );

    // The counters persist: after a restart AD-2 has used up its failures too.
    sim.shutdown().await;
    let sim = start(opts).await.unwrap();
    let c = Client::new(&sim);
    let r = c.launch(&launch_body("web-02", 2), None).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn launch_validation_matches_oci_errors() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(options(dir.path())).await.unwrap();
    let c = Client::new(&sim);
    let check = async |edit: &dyn Fn(&mut Value), status: u16, code: &str| {
        let mut b = launch_body("v", 1);
        edit(&mut b);
        let r = c.launch(&b, None).await.unwrap();
        assert_eq!((r.status, r.code()), (status, code), "{}", r.body);
    };
    check(
        &|b| {
            b.as_object_mut().unwrap().remove("compartmentId");
        },
        400,
        "InvalidParameter",
    )
    .await;
    check(
        &|b| {
            b.as_object_mut().unwrap().remove("shapeConfig");
        },
        400,
        "InvalidParameter",
    )
    .await;
    check(
        &|b| b["sourceDetails"]["imageId"] = json!("ocid1.image.oc1..nope"),
        404,
        "NotAuthorizedOrNotFound",
    )
    .await;
    check(
        &|b| b["createVnicDetails"]["subnetId"] = json!("ocid1.subnet.oc1..nope"),
        404,
        "NotAuthorizedOrNotFound",
    )
    .await;
    check(
        &|b| b["availabilityDomain"] = json!("Kyqh:SIM-REGION-1-AD-9"),
        400,
        "InvalidParameter",
    )
    .await;
    check(
        &|b| b["sourceDetails"]["imageId"] = json!(image_id("Oracle-Linux-9.5-2025.03.18-0")),
        400,
        "InvalidParameter",
    )
    .await;
    check(&|b| b["shape"] = json!("VM.Nope.Flex"), 404, "NotFound").await;
    check(
        &|b| b["freeformTags"]["n"] = json!(1),
        400,
        "InvalidParameter",
    )
    .await;
    let long = "t".repeat(65);
    let r = c.launch(&launch_body("v", 1), Some(&long)).await.unwrap();
    assert_eq!(
        (r.status, r.code()),
        (400, "InvalidParameter"),
        "retry token over 64 chars"
    );
    let r = c
        .call_with("POST", "/20160918/instances", None, &[])
        .await
        .unwrap();
    assert_eq!((r.status, r.code()), (400, "CannotParseRequest"));
    let (items, _) = list_all(&c, &list_path("")).await;
    assert!(items.is_empty(), "no failed launch leaves an instance");
}

#[tokio::test]
async fn images_subnets_and_availability_domains() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(options(dir.path())).await.unwrap();
    let c = Client::new(&sim);
    let r = c
        .call(
            "GET",
            &format!("/20160918/images?compartmentId={TENANCY_OCID}&operatingSystem=Canonical+Ubuntu&operatingSystemVersion=22.04&shape=VM.Standard.A1.Flex&sortBy=TIMECREATED&sortOrder=DESC"),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let names: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Canonical-Ubuntu-22.04-aarch64-2025.03.28-0",
            "Canonical-Ubuntu-22.04-aarch64-2025.01.31-0"
        ]
    );
    let r = c
        .call(
            "GET",
            &format!("/20160918/subnets?compartmentId={TENANCY_OCID}"),
            None,
        )
        .await;
    assert_eq!(r.body[0]["displayName"], "public subnet-main-vcn");
    assert_eq!(r.body[0]["cidrBlock"], "10.0.0.0/24");
    assert_eq!(r.body[0]["id"], SUBNET_ID);
    let r = c
        .call(
            "GET",
            &format!("/20160918/availabilityDomains?compartmentId={TENANCY_OCID}"),
            None,
        )
        .await;
    let ads: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        ads,
        [
            "Kyqh:SIM-REGION-1-AD-1",
            "Kyqh:SIM-REGION-1-AD-2",
            "Kyqh:SIM-REGION-1-AD-3"
        ]
    );
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(OciSimOptions {
        rate_limit: Some(RateLimit {
            burst: 2,
            per_second: 0.5,
        }),
        ..options(dir.path())
    })
    .await
    .unwrap();
    let c = Client::new(&sim);
    let path = list_path("");
    assert_eq!(c.call("GET", &path, None).await.status, 200);
    assert_eq!(c.call("GET", &path, None).await.status, 200);
    let r = c.call("GET", &path, None).await;
    assert_eq!((r.status, r.code()), (429, "TooManyRequests"));
    let after: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&after), "retry-after {after}");
}

#[tokio::test]
async fn faults_are_repeatable_and_never_launch() {
    let outcomes = async |seed: u64| {
        let dir = tempfile::tempdir().unwrap();
        let sim = start(OciSimOptions {
            seed,
            faults: Faults {
                error_rate: 0.4,
                reset_rate: 0.2,
                ..Faults::default()
            },
            ..options(dir.path())
        })
        .await
        .unwrap();
        let c = Client::new(&sim);
        let mut out = Vec::new();
        for i in 0..12 {
            let r = c.launch(&launch_body(&format!("f{i}"), 1), None).await;
            out.push(r.map(|r| r.status).unwrap_or(0));
        }
        sim.shutdown().await;
        // Count what landed with the faults switched off.
        let sim = start(options(dir.path())).await.unwrap();
        let (items, _) = list_all(&Client::new(&sim), &list_path("")).await;
        (out, items.len())
    };
    let (a, landed) = outcomes(7).await;
    let (b, _) = outcomes(7).await;
    assert_eq!(a, b, "same seed, same faults");
    assert!(
        a.contains(&0) && a.iter().any(|s| *s >= 500) && a.contains(&200),
        "{a:?}"
    );
    assert_eq!(landed, a.iter().filter(|s| **s == 200).count());
}

#[tokio::test]
async fn generated_tenancy_and_state_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let opts = OciSimOptions {
        state_dir: dir.path().to_path_buf(),
        ..OciSimOptions::default()
    };
    let sim = start(opts.clone()).await.unwrap();
    let config = std::fs::read_to_string(sim.config_file()).unwrap();
    assert!(config.starts_with("[DEFAULT]\n"));
    let key_file = sim_dir(dir.path()).join(tenancy::KEY_FILE);
    assert!(config.contains(&format!(
        "key_file={}",
        key_file.canonicalize().unwrap().display()
    )));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The fingerprint is MD5 over the DER SubjectPublicKeyInfo, computed here independently.
    let pem = std::fs::read_to_string(&key_file).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let public = rsa::RsaPublicKey::from(&RsaPrivateKey::from_pkcs8_pem(&pem).unwrap());
    let der = rsa::pkcs8::EncodePublicKey::to_public_key_der(&public).unwrap();
    let fp: Vec<String> = md5::Md5::digest(der.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(config.contains(&format!("fingerprint={}\n", fp.join(":"))));

    let c = Client::new(&sim);
    let r = c
        .launch(&launch_body("keep", 1), Some("keep-token"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["id"].clone();
    sim.shutdown().await;

    let sim = start(opts).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(sim.config_file()).unwrap(),
        config,
        "key generated once"
    );
    let c = Client::new(&sim);
    let got = c
        .call(
            "GET",
            &format!("/20160918/instances/{}", id.as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(got.body["displayName"], "keep");
    let again = c
        .launch(&launch_body("keep", 1), Some("keep-token"))
        .await
        .unwrap();
    assert_eq!(again.body["id"], id, "retry tokens persist");
}

#[tokio::test]
async fn latency_fault_delays_every_answer() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(OciSimOptions {
        faults: Faults {
            latency: Duration::from_millis(250),
            ..Faults::default()
        },
        ..options(dir.path())
    })
    .await
    .unwrap();
    let c = Client::new(&sim);
    let t = std::time::Instant::now();
    let r = c.call("GET", &list_path(""), None).await;
    assert_eq!(r.status, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
}

/// A change to a launch body.
type Edit = fn(&mut Value);

/// Removes the field at `path`.
fn remove(b: &mut Value, path: &[&str]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut v = b;
    for p in parents {
        v = &mut v[*p];
    }
    if let Some(m) = v.as_object_mut() {
        m.remove(*last);
    }
}

#[tokio::test]
async fn launch_messages_name_the_field_at_fault() {
    // Each edit of a good body, and the 400 InvalidParameter message it gets.
    let cases: &[(Edit, &str)] = &[
        (
            |b| b["compartmentId"] = json!(5),
            "compartmentId must be a string.",
        ),
        (
            |b| b["compartmentId"] = json!(""),
            "compartmentId must not be null.",
        ),
        (|b| b["shape"] = Value::Null, "shape must not be null."),
        (
            |b| b["sourceDetails"]["sourceType"] = json!(1),
            "sourceDetails.sourceType must be a string.",
        ),
        (
            |b| b["sourceDetails"]["sourceType"] = json!("bootVolume"),
            "sourceDetails.sourceType bootVolume is not supported by the simulator.",
        ),
        (
            |b| b["sourceDetails"]["imageId"] = json!(7),
            "sourceDetails.imageId must be a string.",
        ),
        // A sourceDetails that is not an object has no imageId; the top-level one is missing too.
        (
            |b| b["sourceDetails"] = json!("image"),
            "sourceDetails.imageId must not be null.",
        ),
        (
            |b| {
                remove(b, &["sourceDetails", "imageId"]);
                b["imageId"] = json!(7);
            },
            "sourceDetails.imageId must not be null.",
        ),
        (
            |b| remove(b, &["createVnicDetails", "subnetId"]),
            "createVnicDetails.subnetId must not be null.",
        ),
        (
            |b| b["createVnicDetails"]["subnetId"] = json!(3),
            "createVnicDetails.subnetId must be a string.",
        ),
        (
            |b| b["shapeConfig"] = json!("big"),
            "shapeConfig.ocpus must not be null.",
        ),
        (
            |b| b["shapeConfig"] = Value::Null,
            "Shape VM.Standard.A1.Flex is a flexible shape and requires shapeConfig.",
        ),
        (
            |b| b["shapeConfig"]["ocpus"] = json!("2"),
            "shapeConfig.ocpus must be a number.",
        ),
        (
            |b| b["shapeConfig"]["memoryInGBs"] = json!(true),
            "shapeConfig.memoryInGBs must be a number.",
        ),
        (
            |b| b["sourceDetails"]["bootVolumeSizeInGBs"] = json!(49),
            "sourceDetails.bootVolumeSizeInGBs must be between 50 and 32768.",
        ),
        (
            |b| b["sourceDetails"]["bootVolumeSizeInGBs"] = json!(60.5),
            "sourceDetails.bootVolumeSizeInGBs must be between 50 and 32768.",
        ),
        (
            |b| b["sourceDetails"]["bootVolumeSizeInGBs"] = json!("100"),
            "sourceDetails.bootVolumeSizeInGBs must be between 50 and 32768.",
        ),
        (
            |b| b["sourceDetails"]["bootVolumeSizeInGBs"] = json!(-1),
            "sourceDetails.bootVolumeSizeInGBs must be between 50 and 32768.",
        ),
        (|b| b["metadata"] = json!([]), "metadata must be an object."),
        (
            |b| b["metadata"]["a"] = json!(1),
            "metadata values must be strings.",
        ),
        (
            |b| b["freeformTags"] = json!("t"),
            "freeformTags must be an object.",
        ),
        (
            |b| b["definedTags"] = json!("x"),
            "definedTags must be an object.",
        ),
        (
            |b| b["extendedMetadata"] = json!(1),
            "extendedMetadata must be an object.",
        ),
        (
            |b| b["displayName"] = json!(1),
            "displayName must be a string.",
        ),
        (
            |b| b["faultDomain"] = json!(false),
            "faultDomain must be a string.",
        ),
        (
            |b| b["createVnicDetails"]["hostnameLabel"] = json!(1),
            "createVnicDetails.hostnameLabel must be a string.",
        ),
        (
            |b| b["createVnicDetails"]["assignPublicIp"] = json!("yes"),
            "createVnicDetails.assignPublicIp must be a boolean.",
        ),
        (
            |b| b["createVnicDetails"]["privateIp"] = json!(10),
            "createVnicDetails.privateIp must be a string.",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let sim = start(options(dir.path())).await.unwrap();
    let c = Client::new(&sim);
    for (edit, message) in cases {
        let mut b = launch_body("m", 1);
        edit(&mut b);
        let r = c.launch(&b, None).await.unwrap();
        assert_eq!(
            (r.status, r.code(), r.body["message"].as_str()),
            (400, "InvalidParameter", Some(*message)),
            "{}",
            r.body
        );
    }
    let r = c.launch(&json!([]), None).await.unwrap();
    assert_eq!(
        (r.status, r.code(), r.body["message"].as_str()),
        (
            400,
            "CannotParseRequest",
            Some("The request body must be a JSON object.")
        )
    );
    let (items, _) = list_all(&c, &list_path("")).await;
    assert!(items.is_empty(), "no failed launch leaves an instance");

    // The deprecated top-level imageId and subnetId still launch; null boot size is no size.
    let mut b = launch_body("top", 1);
    let image = b["sourceDetails"]["imageId"].clone();
    remove(&mut b, &["sourceDetails", "imageId"]);
    remove(&mut b, &["createVnicDetails", "subnetId"]);
    b["imageId"] = image;
    b["subnetId"] = json!(SUBNET_ID);
    b["sourceDetails"]["bootVolumeSizeInGBs"] = Value::Null;
    let r = c.launch(&b, None).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn request_log_records_signed_requests_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sim = start(OciSimOptions {
        request_log: Some(log.clone()),
        ..options(dir.path())
    })
    .await
    .unwrap();
    let c = Client::new(&sim);
    let target = list_path("&displayName=web-01");
    assert_eq!(c.call("GET", &target, None).await.status, 200);
    let unsigned = c.raw("GET", &target, vec![], None).await.unwrap();
    assert_eq!(unsigned.status, 401);
    assert_eq!(
        c.launch(&launch_body("web-01", 1), Some("t"))
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        *log.lock().unwrap(),
        [
            format!("GET {target}"),
            "POST /20160918/instances".to_string()
        ]
    );
}

/// Launches one instance and waits until it is RUNNING; returns its OCID.
async fn running_instance(c: &Client) -> String {
    let r = c.launch(&launch_body("w", 1), None).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    tokio::time::sleep(Duration::from_millis(550)).await;
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn launch_and_terminate_work_requests_track_the_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough that a loaded machine still sees each state before the next step.
    let sim = start(OciSimOptions {
        provision_delay: Duration::from_millis(1500),
        transition_delay: Duration::from_millis(1500),
        ..options(dir.path())
    })
    .await
    .unwrap();
    let c = Client::new(&sim);
    let r = c.launch(&launch_body("w", 1), None).await.unwrap();
    let id = r.body["id"].as_str().unwrap().to_string();
    let launch_wr = r.header("opc-work-request-id").unwrap().to_string();
    assert!(
        launch_wr.starts_with("ocid1.coreservicesworkrequest.oc1.sim-region-1."),
        "{launch_wr}"
    );
    let wr_path = format!("/20160918/workRequests/{launch_wr}");
    let w = c.call("GET", &wr_path, None).await;
    assert_eq!(w.status, 200, "{}", w.body);
    assert!(
        w.body["status"] == "IN_PROGRESS" || w.body["status"] == "ACCEPTED",
        "{}",
        w.body
    );
    assert_eq!(w.body["operationType"], "LaunchInstance");
    assert_eq!(w.body["compartmentId"], TENANCY_OCID);
    assert_eq!(w.body["timeFinished"], Value::Null);
    assert_eq!(
        w.body["resources"],
        json!([{
            "actionType": "IN_PROGRESS",
            "entityType": "instance",
            "entityUri": format!("/20160918/instances/{id}"),
            "identifier": id
        }])
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let w = c.call("GET", &wr_path, None).await;
    assert_eq!(
        (
            w.body["status"].as_str(),
            w.body["percentComplete"].as_f64()
        ),
        (Some("SUCCEEDED"), Some(100.0))
    );
    assert_eq!(w.body["resources"][0]["actionType"], "CREATED");
    assert!(w.body["timeFinished"].is_string());

    let t = c
        .call("DELETE", &format!("/20160918/instances/{id}"), None)
        .await;
    assert_eq!(t.status, 204);
    let term_wr = t.header("opc-work-request-id").unwrap().to_string();
    let w = c
        .call("GET", &format!("/20160918/workRequests/{term_wr}"), None)
        .await;
    assert_eq!(w.body["operationType"], "TerminateInstance");
    assert_ne!(w.body["status"], "SUCCEEDED");
    let got = c
        .call("GET", &format!("/20160918/instances/{id}"), None)
        .await;
    assert_eq!(got.body["lifecycleState"], "TERMINATING");
    // The work request succeeds exactly when the instance is TERMINATED.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let w = c
        .call("GET", &format!("/20160918/workRequests/{term_wr}"), None)
        .await;
    assert_eq!(w.body["status"], "SUCCEEDED");
    assert_eq!(w.body["resources"][0]["actionType"], "DELETED");
    let got = c
        .call("GET", &format!("/20160918/instances/{id}"), None)
        .await;
    assert_eq!(got.body["lifecycleState"], "TERMINATED");
    let errors = c
        .call(
            "GET",
            &format!("/20160918/workRequests/{term_wr}/errors"),
            None,
        )
        .await;
    assert_eq!((errors.status, errors.body.clone()), (200, json!([])));
    // ListWorkRequests: both, newest first, without `resources`; filtered by resource.
    let list = c
        .call(
            "GET",
            &format!("/20160918/workRequests?compartmentId={TENANCY_OCID}&resourceId={id}"),
            None,
        )
        .await;
    let ids: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [term_wr.as_str(), launch_wr.as_str()]);
    assert_eq!(list.body[0].get("resources"), None);
    let none = c
        .call(
            "GET",
            &format!("/20160918/workRequests?compartmentId={TENANCY_OCID}&resourceId=ocid1.instance.oc1..other"),
            None,
        )
        .await;
    assert_eq!(none.body, json!([]));
    let logs = c
        .call(
            "GET",
            &format!("/20160918/workRequests/{term_wr}/logs"),
            None,
        )
        .await;
    let messages: Vec<&str> = logs
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        ["Work request accepted.", "Work request succeeded."]
    );
}

#[tokio::test]
async fn terminate_during_provisioning_fails_the_launch_work_request() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(options(dir.path())).await.unwrap();
    let c = Client::new(&sim);
    let r = c.launch(&launch_body("w", 1), None).await.unwrap();
    let id = r.body["id"].as_str().unwrap().to_string();
    let wr = r.header("opc-work-request-id").unwrap().to_string();
    c.call("DELETE", &format!("/20160918/instances/{id}"), None)
        .await;
    let w = c
        .call("GET", &format!("/20160918/workRequests/{wr}"), None)
        .await;
    assert_eq!(w.body["status"], "FAILED");
    assert_eq!(w.body["resources"][0]["actionType"], "RELATED");
    let errors = c
        .call("GET", &format!("/20160918/workRequests/{wr}/errors"), None)
        .await;
    assert_eq!(errors.body[0]["code"], "IncorrectState");
    assert_eq!(
        errors.body[0]["message"],
        "The instance was terminated before the operation completed."
    );
}

#[tokio::test]
async fn unknown_work_request_is_404_not_authorized_or_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(options(dir.path())).await.unwrap();
    let c = Client::new(&sim);
    for suffix in ["", "/errors", "/logs"] {
        let r = c
            .call(
                "GET",
                &format!("/20160918/workRequests/ocid1.coreservicesworkrequest.oc1..nope{suffix}"),
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.body.clone()),
            (
                404,
                json!({"code": "NotAuthorizedOrNotFound", "message": "Authorization failed or requested resource not found."})
            ),
            "{suffix}"
        );
    }
}

#[tokio::test]
async fn etag_changes_with_state_and_a_stale_if_match_is_412() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(options(dir.path())).await.unwrap();
    let c = Client::new(&sim);
    let r = c.launch(&launch_body("e", 1), None).await.unwrap();
    let id = r.body["id"].as_str().unwrap().to_string();
    let provisioning = r.header("etag").unwrap().to_string();
    let path = format!("/20160918/instances/{id}");
    let again = c.call("GET", &path, None).await;
    assert_eq!(
        again.header("etag"),
        Some(provisioning.as_str()),
        "no change, same etag"
    );
    tokio::time::sleep(Duration::from_millis(550)).await;
    let running = c.call("GET", &path, None).await;
    let running_etag = running.header("etag").unwrap().to_string();
    assert_ne!(
        running_etag, provisioning,
        "PROVISIONING -> RUNNING changes the etag"
    );

    // Stale etag on an action, an update and a terminate: 412, nothing changes.
    let stale = [("if-match", provisioning.as_str())];
    let want = |r: &Reply| {
        assert_eq!((r.status, r.code()), (412, "NoEtagMatch"), "{}", r.body);
        assert_eq!(
            r.body["message"],
            format!("The ETag {provisioning} does not match the current ETag of the resource.")
        );
    };
    want(
        &c.call_with("POST", &format!("{path}?action=STOP"), None, &stale)
            .await
            .unwrap(),
    );
    want(
        &c.call_with("PUT", &path, Some(&json!({"displayName": "x"})), &stale)
            .await
            .unwrap(),
    );
    want(&c.call_with("DELETE", &path, None, &stale).await.unwrap());
    let still = c.call("GET", &path, None).await;
    assert_eq!(still.body["lifecycleState"], "RUNNING");
    assert_eq!(still.body["displayName"], "e");

    // The current etag lets the action through, and the answer carries the new etag.
    let ok = c
        .call_with(
            "POST",
            &format!("{path}?action=STOP"),
            None,
            &[("if-match", running_etag.as_str())],
        )
        .await
        .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["lifecycleState"], "STOPPING");
    assert_ne!(ok.header("etag"), Some(running_etag.as_str()));
    assert_eq!(
        ok.header("opc-work-request-id"),
        None,
        "InstanceAction has no work request"
    );
}

#[tokio::test]
async fn every_power_action_follows_its_states() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(options(dir.path())).await.unwrap();
    let c = Client::new(&sim);
    let id = running_instance(&c).await;
    let path = format!("/20160918/instances/{id}");
    // (action, state after, state once the transition is over)
    let steps = [
        ("SENDDIAGNOSTICINTERRUPT", "RUNNING", "RUNNING"),
        ("SOFTRESET", "STARTING", "RUNNING"),
        ("RESET", "STARTING", "RUNNING"),
        ("DIAGNOSTICREBOOT", "STARTING", "RUNNING"),
        ("REBOOTMIGRATE", "STARTING", "RUNNING"),
        ("START", "RUNNING", "RUNNING"),
        ("SOFTSTOP", "STOPPING", "STOPPED"),
        ("STOP", "STOPPED", "STOPPED"),
        ("REBOOTMIGRATE", "STOPPED", "STOPPED"),
        ("START", "STARTING", "RUNNING"),
    ];
    for (action, now, after) in steps {
        let r = c
            .call("POST", &format!("{path}?action={action}"), None)
            .await;
        assert_eq!(r.status, 200, "{action}: {}", r.body);
        assert_eq!(r.body["lifecycleState"], now, "{action}");
        tokio::time::sleep(Duration::from_millis(550)).await;
        let got = c.call("GET", &path, None).await;
        assert_eq!(got.body["lifecycleState"], after, "{action}");
    }
    c.call("POST", &format!("{path}?action=STOP"), None).await;
    tokio::time::sleep(Duration::from_millis(550)).await;
    for action in [
        "RESET",
        "SOFTRESET",
        "SENDDIAGNOSTICINTERRUPT",
        "DIAGNOSTICREBOOT",
    ] {
        let r = c
            .call("POST", &format!("{path}?action={action}"), None)
            .await;
        assert_eq!(
            (r.status, r.body.clone()),
            (
                409,
                json!({"code": "IncorrectState", "message": format!("Unable to process {action} on instance {id} in lifecycle state STOPPED.")})
            )
        );
    }
    let r = c
        .call_with("POST", &format!("{path}?action=START"), None, &[])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let bad = c.call("POST", &format!("{path}?action=start"), None).await;
    assert_eq!(
        (bad.status, bad.body),
        (
            400,
            json!({"code": "InvalidParameter", "message": "Invalid action start."})
        )
    );
}

#[tokio::test]
async fn update_instance_renames_tags_and_resizes_with_a_reboot() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(options(dir.path())).await.unwrap();
    let c = Client::new(&sim);
    let id = running_instance(&c).await;
    let path = format!("/20160918/instances/{id}");
    let r = c
        .call(
            "PUT",
            &path,
            Some(&json!({"displayName": "renamed", "freeformTags": {"k": "v"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["displayName"], "renamed");
    assert_eq!(r.body["freeformTags"], json!({"k": "v"}));
    assert_eq!(
        r.body["lifecycleState"], "RUNNING",
        "a rename does not reboot"
    );
    let r = c
        .call(
            "PUT",
            &path,
            Some(&json!({"shapeConfig": {"ocpus": 2.0, "memoryInGBs": 12.0}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["shapeConfig"]["ocpus"], 2.0);
    assert_eq!(r.body["shapeConfig"]["memoryInGBs"], 12.0);
    assert_eq!(
        r.body["lifecycleState"], "STARTING",
        "a resize reboots a running instance"
    );
    let cases = [
        (json!({"displayName": 5}), "displayName must be a string."),
        (
            json!({"displayName": ""}),
            "displayName must be 1 to 255 characters long.",
        ),
        (
            json!({"freeformTags": []}),
            "freeformTags must be an object.",
        ),
        (
            json!({"shapeConfig": {"ocpus": 81.0}}),
            "shapeConfig.ocpus 81 is out of range 1 to 80 for VM.Standard.A1.Flex.",
        ),
        (
            json!({"shapeConfig": {"ocpus": 2.0, "memoryInGBs": 200.0}}),
            "shapeConfig.memoryInGBs 200 must be between 1 and 64 GB per OCPU for VM.Standard.A1.Flex.",
        ),
    ];
    for (body, message) in cases {
        let r = c.call("PUT", &path, Some(&body)).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (400, json!({"code": "InvalidParameter", "message": message})),
            "{body}"
        );
    }
    for raw in [&b"{not json"[..], b"[1]", b""] {
        let h = c.sign(
            "PUT",
            &path,
            &http_date(chrono::Utc::now()),
            Some(raw),
            &|s| s,
        );
        let r = c.raw("PUT", &path, h, Some(raw.to_vec())).await.unwrap();
        assert_eq!(
            (r.status, r.code()),
            (400, "CannotParseRequest"),
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[tokio::test]
async fn get_image_list_shapes_and_get_vnic_attachment() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.page_size = 2;
    opts.capacity.per_ad.insert(
        "AD-2".to_string(),
        AdCapacity {
            shapes: Some(vec!["VM.Standard.E2.1.Micro".to_string()]),
            ..AdCapacity::default()
        },
    );
    let sim = start(opts).await.unwrap();
    let c = Client::new(&sim);
    let image = image_id("Canonical-Ubuntu-22.04-aarch64-2025.03.28-0");
    let r = c
        .call("GET", &format!("/20160918/images/{image}"), None)
        .await;
    assert_eq!(
        (r.status, r.body["id"].as_str()),
        (200, Some(image.as_str()))
    );
    let r = c
        .call("GET", "/20160918/images/ocid1.image.oc1..nope", None)
        .await;
    assert_eq!((r.status, r.code()), (404, "NotAuthorizedOrNotFound"));

    let shapes = format!("/20160918/shapes?compartmentId={TENANCY_OCID}");
    let (all, pages) = list_all(&c, &shapes).await;
    let names: Vec<&str> = all.iter().map(|s| s["shape"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "VM.Standard.A1.Flex",
            "VM.Standard.E2.1.Micro",
            "VM.Standard.E4.Flex",
            "VM.Standard.E5.Flex",
            "VM.Standard3.Flex"
        ]
    );
    assert_eq!(pages, 3, "5 shapes at 2 per page");
    assert_eq!(all[0]["ocpuOptions"], json!({"min": 1.0, "max": 80.0}));
    assert_eq!(all[1]["ocpus"], 1.0);
    assert_eq!(
        all[1].get("ocpuOptions"),
        None,
        "a fixed shape has no range"
    );
    let ad2 = availability_domains()[1].clone();
    let (in_ad2, _) = list_all(&c, &format!("{shapes}&availabilityDomain={ad2}")).await;
    assert_eq!(in_ad2.len(), 1);
    assert_eq!(in_ad2[0]["shape"], "VM.Standard.E2.1.Micro");
    let (for_arm, _) = list_all(&c, &format!("{shapes}&imageId={image}")).await;
    assert_eq!(for_arm.len(), 1, "an aarch64 image boots only on A1");
    let r = c
        .call("GET", &format!("{shapes}&availabilityDomain=nope"), None)
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            400,
            json!({"code": "InvalidParameter", "message": "Invalid availabilityDomain nope."})
        )
    );

    let id = running_instance(&c).await;
    let atts = c
        .call(
            "GET",
            &format!("/20160918/vnicAttachments?compartmentId={TENANCY_OCID}&instanceId={id}"),
            None,
        )
        .await;
    let att_id = atts.body[0]["id"].as_str().unwrap();
    let att = c
        .call("GET", &format!("/20160918/vnicAttachments/{att_id}"), None)
        .await;
    assert_eq!(att.status, 200);
    assert_eq!(att.body, atts.body[0]);
    let r = c
        .call(
            "GET",
            "/20160918/vnicAttachments/ocid1.vnicattachment.oc1..nope",
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "NotAuthorizedOrNotFound"));
}

#[tokio::test]
async fn unserved_routes_are_404_not_found_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(options(dir.path())).await.unwrap();
    let c = Client::new(&sim);
    let r = c
        .call(
            "GET",
            &format!("/20160918/volumes?compartmentId={TENANCY_OCID}"),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            404,
            json!({"code": "NotFound", "message": "There is no operation supported at the URI path and HTTP method you specified in the request: GET /20160918/volumes is not served by the vauto OCI simulator."})
        )
    );
    // An unknown OCID on a served route keeps OCI's NotAuthorizedOrNotFound.
    let r = c
        .call("GET", "/20160918/instances/ocid1.instance.oc1..nope", None)
        .await;
    assert_eq!((r.status, r.code()), (404, "NotAuthorizedOrNotFound"));
    // An unsigned request to an unserved route is still 401: authentication comes first.
    let r = c
        .raw("GET", "/20160918/volumes", vec![], None)
        .await
        .unwrap();
    assert_eq!((r.status, r.code()), (401, "NotAuthenticated"));
}

#[tokio::test]
async fn throttle_and_auth_failure_faults() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.faults.throttle_rate = 1.0;
    let sim = start(opts).await.unwrap();
    let c = Client::new(&sim);
    let r = c.call("GET", &list_path(""), None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            429,
            json!({"code": "TooManyRequests", "message": "Too many requests for the tenancy."})
        )
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    let r = c.launch(&launch_body("t", 1), None).await.unwrap();
    assert_eq!(r.status, 429);
    sim.shutdown().await;

    let mut opts = options(dir.path());
    opts.faults.auth_failure_rate = 1.0;
    let sim = start(opts).await.unwrap();
    let c = Client::new(&sim);
    let r = c.launch(&launch_body("t", 1), None).await.unwrap();
    assert_eq!(
        (r.status, r.body),
        (
            401,
            json!({"code": "NotAuthenticated", "message": "The required information to complete authentication was not provided or was incorrect."})
        )
    );
    sim.shutdown().await;

    // Neither fault had an effect: nothing was launched.
    let sim = start(options(dir.path())).await.unwrap();
    let (items, _) = list_all(&Client::new(&sim), &list_path("")).await;
    assert!(items.is_empty());

    // At a rate of one half, some requests pass and some are throttled, the same for a seed.
    let run = async |seed: u64| {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = options(dir.path());
        opts.seed = seed;
        opts.faults.throttle_rate = 0.5;
        opts.faults.auth_failure_rate = 0.2;
        let sim = start(opts).await.unwrap();
        let c = Client::new(&sim);
        let mut out = Vec::new();
        for _ in 0..16 {
            out.push(c.call("GET", &list_path(""), None).await.status);
        }
        out
    };
    let a = run(3).await;
    assert_eq!(a, run(3).await);
    assert!(
        a.contains(&200) && a.contains(&429) && a.contains(&401),
        "{a:?}"
    );
}

#[tokio::test]
async fn bad_input_gets_oci_errors_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(options(dir.path())).await.unwrap();
    let c = Client::new(&sim);
    let id = running_instance(&c).await;
    let path = format!("/20160918/instances/{id}");
    let err = |status: u16, code: &str, message: &str| {
        (status, json!({"code": code, "message": message}))
    };
    // Missing required query parameters: 400 MissingParameter.
    let r = c.call("POST", &path, None).await;
    assert_eq!(
        (r.status, r.body),
        err(
            400,
            "MissingParameter",
            "Missing required query parameter action."
        )
    );
    let r = c.call("GET", "/20160918/instances", None).await;
    assert_eq!(
        (r.status, r.body),
        err(
            400,
            "MissingParameter",
            "Missing required query parameter compartmentId."
        )
    );
    let r = c.call("GET", &list_path("&limit=zero"), None).await;
    assert_eq!(
        (r.status, r.body),
        err(400, "InvalidParameter", "Invalid limit zero.")
    );
    // A body that is not a JSON object on an action: 400 CannotParseRequest.
    let raw = b"not json".to_vec();
    let target = format!("{path}?action=STOP");
    let h = c.sign(
        "POST",
        &target,
        &http_date(chrono::Utc::now()),
        Some(&raw),
        &|s| s,
    );
    let r = c.raw("POST", &target, h, Some(raw)).await.unwrap();
    assert_eq!(
        (r.status, r.body),
        err(
            400,
            "CannotParseRequest",
            "Incorrectly formatted request. Please refer to the documentation and try again."
        )
    );
    // A body that is not `application/json` (signed as sent): 400 CannotParseRequest, as
    // OCI has no 415.
    let body = serde_json::to_vec(&json!({"displayName": "x"})).unwrap();
    let mut h = c.sign(
        "PUT",
        &path,
        &http_date(chrono::Utc::now()),
        Some(&body),
        &|s| s.replace("content-type: application/json", "content-type: text/plain"),
    );
    for (k, v) in &mut h {
        if k == "content-type" {
            *v = "text/plain".into();
        }
    }
    let r = c.raw("PUT", &path, h, Some(body)).await.unwrap();
    assert_eq!(
        (r.status, r.body),
        err(
            400,
            "CannotParseRequest",
            "Incorrectly formatted request. Please refer to the documentation and try again."
        )
    );
    // A body over the limit: 400 CannotParseRequest, and the server keeps serving.
    let big = vec![b' '; 3 * 1024 * 1024];
    let h = c.sign(
        "PUT",
        &path,
        &http_date(chrono::Utc::now()),
        Some(&big),
        &|s| s,
    );
    let r = c.raw("PUT", &path, h, Some(big)).await.unwrap();
    assert_eq!(
        (r.status, r.body),
        err(
            400,
            "CannotParseRequest",
            "The request body could not be read or is too large."
        )
    );
    // A method a served path does not take: 405 MethodNotAllowed.
    let r = c.call("PATCH", &path, Some(&json!({}))).await;
    assert_eq!(
        (r.status, r.body),
        err(
            405,
            "MethodNotAllowed",
            "The method is not allowed for this resource."
        )
    );
    let got = c.call("GET", &path, None).await;
    assert_eq!(
        got.body["lifecycleState"], "RUNNING",
        "nothing above changed the instance"
    );
}
