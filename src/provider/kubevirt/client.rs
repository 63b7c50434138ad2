//! Thin helpers over kube-rs for the objects vauto manages, and the one error classifier.

use std::time::Duration;

use k8s_openapi::api::core::v1::Event as KubeEvent;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};

use super::resources::{KIND_CONFIG_MAP, KIND_DATA_VOLUME, KIND_NAD, KIND_SECRET, KIND_VM};
use crate::model::{ErrorClass, ProviderError};

/// Page size for list calls; large lists come in pages (`limit` + `continue`). kubectl's
/// default `--chunk-size` is 500 too; `limit` is a hint, and a server may return fewer.
const PAGE: u32 = 500;

/// The kinds whose Events are about an instance: its VM and VMI, its disk (the DataVolume
/// and the PVC CDI makes of it) and the pods that run them (virt-launcher, CDI's importer).
pub(crate) const EVENT_KINDS: [&str; 5] = [
    KIND_VM,
    "VirtualMachineInstance",
    KIND_DATA_VOLUME,
    "PersistentVolumeClaim",
    "Pod",
];

/// The kinds vauto touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `v1 Secret`.
    Secret,
    /// `v1 ConfigMap` (a spec's CA bundle).
    ConfigMap,
    /// `k8s.cni.cncf.io/v1 NetworkAttachmentDefinition`.
    Nad,
    /// `cdi.kubevirt.io/v1beta1 DataVolume`.
    DataVolume,
    /// `kubevirt.io/v1 VirtualMachine`.
    Vm,
    /// `kubevirt.io/v1 VirtualMachineInstance` (read only).
    Vmi,
}

impl Kind {
    /// The kind as Kubernetes names it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Secret => KIND_SECRET,
            Kind::ConfigMap => KIND_CONFIG_MAP,
            Kind::Nad => KIND_NAD,
            Kind::DataVolume => KIND_DATA_VOLUME,
            Kind::Vm => KIND_VM,
            Kind::Vmi => "VirtualMachineInstance",
        }
    }

    /// The kind for a manifest's `kind`.
    pub(crate) fn from_name(kind: &str) -> Option<Kind> {
        [
            Kind::Secret,
            Kind::ConfigMap,
            Kind::Nad,
            Kind::DataVolume,
            Kind::Vm,
            Kind::Vmi,
        ]
        .into_iter()
        .find(|k| k.name() == kind)
    }

    /// Group, version, kind and plural, given explicitly (never guessed from the kind).
    pub(crate) fn api_resource(self) -> ApiResource {
        let (group, version, plural) = match self {
            Kind::Secret => ("", "v1", "secrets"),
            Kind::ConfigMap => ("", "v1", "configmaps"),
            // The NAD plural has hyphens; `from_gvk` would guess `networkattachmentdefinitions`.
            Kind::Nad => ("k8s.cni.cncf.io", "v1", "network-attachment-definitions"),
            Kind::DataVolume => ("cdi.kubevirt.io", "v1beta1", "datavolumes"),
            Kind::Vm => ("kubevirt.io", "v1", "virtualmachines"),
            Kind::Vmi => ("kubevirt.io", "v1", "virtualmachineinstances"),
        };
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(group, version, self.name()),
            plural,
        )
    }
}

/// The VM power subresources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PowerVerb {
    /// `PUT .../virtualmachines/<name>/start`.
    Start,
    /// `PUT .../virtualmachines/<name>/stop`.
    Stop,
}

/// What a power request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PowerOutcome {
    /// Accepted: the VM is being started or stopped.
    Accepted,
    /// KubeVirt's 409 "VM is already running" / "VM is not running": nothing to do (the
    /// server's message).
    AlreadyThere(String),
}

/// A namespaced client for vauto's objects.
#[derive(Clone)]
pub(crate) struct KubeClient {
    client: kube::Client,
    namespace: String,
}

impl std::fmt::Debug for KubeClient {
    // kube::Client carries credentials; show the namespace only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeClient")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl KubeClient {
    /// A client for objects in `namespace`.
    pub(crate) fn new(client: kube::Client, namespace: impl Into<String>) -> Self {
        KubeClient {
            client,
            namespace: namespace.into(),
        }
    }

    /// The namespace every call goes to.
    pub(crate) fn namespace(&self) -> &str {
        &self.namespace
    }

    fn api(&self, kind: Kind) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.namespace, &kind.api_resource())
    }

    /// Creates the object described by the manifest `body`.
    pub(crate) async fn create(
        &self,
        kind: Kind,
        body: &serde_json::Value,
    ) -> Result<DynamicObject, kube::Error> {
        let obj: DynamicObject =
            serde_json::from_value(body.clone()).map_err(kube::Error::SerdeError)?;
        self.api(kind).create(&PostParams::default(), &obj).await
    }

    /// The object, or `None` if it does not exist.
    pub(crate) async fn get(
        &self,
        kind: Kind,
        name: &str,
    ) -> Result<Option<DynamicObject>, kube::Error> {
        self.api(kind).get_opt(name).await
    }

    /// Every object of `kind` matching the label `selector`, following `continue` tokens;
    /// `None` when the cluster does not serve that resource (its CRD is not installed).
    pub(crate) async fn list(
        &self,
        kind: Kind,
        selector: &str,
    ) -> Result<Option<Vec<DynamicObject>>, kube::Error> {
        match all_pages(&self.api(kind), ListParams::default().labels(selector)).await {
            Ok(items) => Ok(Some(items)),
            // The resource is not served (its CRD is not installed).
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes the object; `Ok(false)` when it was already gone.
    pub(crate) async fn delete(&self, kind: Kind, name: &str) -> Result<bool, kube::Error> {
        // Background propagation: owned objects (VMI, PVC of a DataVolume) go with their owner.
        let dp = DeleteParams::background();
        match self.api(kind).delete(name, &dp).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every Event in the namespace (paginated), newest last is not guaranteed: sort by time.
    pub(crate) async fn events(&self) -> Result<Vec<KubeEvent>, kube::Error> {
        let api: Api<KubeEvent> = Api::namespaced(self.client.clone(), &self.namespace);
        all_pages(&api, ListParams::default()).await
    }

    /// The Events about objects of the given `kinds`: one list per kind, all at once, each
    /// with the field selector `involvedObject.kind=KIND` (a field every API server indexes
    /// for Events), so that a namespace's other Events are never transferred and the longest
    /// list, not their sum, sets the time. A kind whose list fails is left out (Events are
    /// best effort: a role without `list events` still gets the rest of `status`); the
    /// error of the first failed list comes back beside what was read.
    pub(crate) async fn events_about(
        &self,
        kinds: &[&str],
    ) -> (Vec<KubeEvent>, Option<kube::Error>) {
        let api: Api<KubeEvent> = Api::namespaced(self.client.clone(), &self.namespace);
        let lists = futures::future::join_all(kinds.iter().map(|kind| {
            let lp = ListParams::default().fields(&format!("involvedObject.kind={kind}"));
            all_pages(&api, lp)
        }))
        .await;
        let mut out = Vec::new();
        let mut failed = None;
        for list in lists {
            match list {
                Ok(items) => out.extend(items),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        (out, failed)
    }

    /// Whether the object `target` names exists.
    pub(crate) async fn exists(
        &self,
        target: &super::resources::Target,
    ) -> Result<bool, kube::Error> {
        let ar = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(target.group, target.version, target.kind),
            target.plural,
        );
        let api: Api<DynamicObject> = match &target.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        };
        api.get_opt(&target.name).await.map(|o| o.is_some())
    }

    /// Whether this user may `create` `datavolumes/source` in namespace `ns` (what CDI
    /// checks before cloning a PVC out of it), by a SelfSubjectAccessReview, as
    /// `oc auth can-i create datavolumes.cdi.kubevirt.io --subresource=source -n NS` asks.
    pub(crate) async fn may_clone_from(&self, ns: &str, name: &str) -> Result<bool, kube::Error> {
        use k8s_openapi::api::authorization::v1::{
            ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
        };
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    group: Some("cdi.kubevirt.io".into()),
                    resource: Some("datavolumes".into()),
                    subresource: Some("source".into()),
                    verb: Some("create".into()),
                    namespace: Some(ns.into()),
                    name: Some(name.into()),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let answer = api.create(&PostParams::default(), &review).await?;
        Ok(answer.status.is_some_and(|s| s.allowed))
    }

    /// Replaces the `data` (ConfigMap) or `stringData` (Secret) of an object with a JSON
    /// merge patch: keys not in `patch` stay.
    pub(crate) async fn merge_patch(
        &self,
        kind: Kind,
        name: &str,
        patch: &serde_json::Value,
    ) -> Result<(), kube::Error> {
        self.api(kind)
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map(|_| ())
    }

    /// The `volumeBindingMode` of storage class `class`, or of the cluster's default class
    /// (annotation `storageclass.kubernetes.io/is-default-class: "true"`) when `None`:
    /// `(class, mode)`. Storage classes are cluster-scoped: reading them needs a
    /// ClusterRole (`get`, `list` on `storageclasses.storage.k8s.io`).
    pub(crate) async fn binding_mode(
        &self,
        class: Option<&str>,
    ) -> Result<Option<(String, String)>, kube::Error> {
        use k8s_openapi::api::storage::v1::StorageClass;
        let api: Api<StorageClass> = Api::all(self.client.clone());
        let sc = match class {
            Some(name) => api.get_opt(name).await?,
            None => api
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .find(|sc| {
                    sc.metadata.annotations.as_ref().is_some_and(|a| {
                        a.get("storageclass.kubernetes.io/is-default-class")
                            .is_some_and(|v| v == "true")
                    })
                }),
        };
        Ok(sc.map(|sc| {
            (
                sc.metadata.name.unwrap_or_default(),
                sc.volume_binding_mode
                    .unwrap_or_else(|| "Immediate".to_string()),
            )
        }))
    }

    /// `PUT /apis/subresources.kubevirt.io/v1/namespaces/<ns>/virtualmachines/<name>/<verb>`.
    pub(crate) async fn power(
        &self,
        name: &str,
        verb: PowerVerb,
    ) -> Result<PowerOutcome, kube::Error> {
        let verb = match verb {
            PowerVerb::Start => "start",
            PowerVerb::Stop => "stop",
        };
        let path = power_path(&self.namespace, name, verb);
        let req = http::Request::put(path)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(b"{}".to_vec())
            .map_err(kube::Error::HttpError)?;
        match self.client.request_text(req).await {
            Ok(_) => Ok(PowerOutcome::Accepted),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(PowerOutcome::AlreadyThere(s.message)),
            Err(e) => Err(e),
        }
    }
}

/// Every item `lp` selects, page after page (`limit` + `continue`).
async fn all_pages<K>(api: &Api<K>, lp: ListParams) -> Result<Vec<K>, kube::Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut out = Vec::new();
    let mut lp = lp.limit(PAGE);
    loop {
        let page = api.list(&lp).await?;
        out.extend(page.items);
        match page.metadata.continue_ {
            Some(t) if !t.is_empty() => lp = lp.continue_token(&t),
            _ => return Ok(out),
        }
    }
}

/// The URL path of a VM power subresource.
pub(crate) fn power_path(namespace: &str, name: &str, verb: &str) -> String {
    // Names are DNS-1123 already; encode anything else so a path can never be altered.
    const SEGMENT: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.');
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string();
    format!(
        "/apis/subresources.kubevirt.io/v1/namespaces/{}/virtualmachines/{}/{verb}",
        enc(namespace),
        enc(name)
    )
}

/// The first line of a message, without a trailing period (server messages can be long).
fn tidy(msg: &str) -> String {
    let line = msg.lines().next().unwrap_or_default().trim();
    line.strip_suffix('.').unwrap_or(line).to_string()
}

/// `verb` and `resource` out of an RBAC denial:
/// `... User "u" cannot create resource "virtualmachines" in API group "kubevirt.io" ...`.
fn rbac_denial(msg: &str) -> Option<(String, String)> {
    let rest = &msg[msg.find("cannot ")? + "cannot ".len()..];
    let (verb, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix("resource \"")?;
    let (resource, rest) = rest.split_once('"')?;
    let group = rest
        .split_once("in API group \"")
        .and_then(|(_, g)| g.split_once('"'))
        .map(|(g, _)| g)
        .filter(|g| !g.is_empty());
    let full = match group {
        Some(g) => format!("{resource}.{g}"),
        None => resource.to_string(),
    };
    Some((verb.to_string(), full))
}

/// The fix for a namespace that does not exist.
fn missing_namespace(ns: &str) -> String {
    format!(
        "namespace `{ns}` does not exist: create it (`oc new-project {ns}`) or fix `kubevirt.namespace`"
    )
}

/// [`classify`] for a create of `kind`: a 404 there is never "the object is gone" — the
/// namespace is missing, or the cluster does not serve the kind (its CRD is not installed).
/// Both are fatal with the fix; retrying cannot make either appear.
pub(crate) fn classify_create(kind: Kind, err: &kube::Error) -> ProviderError {
    let e = classify(err);
    if e.class != ErrorClass::NotFound {
        return e;
    }
    let r = kind.api_resource();
    let what = match kind {
        Kind::Secret | Kind::ConfigMap => "the core API",
        Kind::Nad => "Multus (the NetworkAttachmentDefinition CRD)",
        Kind::DataVolume => "CDI (the Containerized Data Importer of OpenShift Virtualization)",
        Kind::Vm | Kind::Vmi => "KubeVirt (OpenShift Virtualization)",
    };
    let group = if r.group.is_empty() {
        String::new()
    } else {
        format!(".{}", r.group)
    };
    ProviderError::new(
        ErrorClass::Invalid,
        format!(
            "the cluster does not serve `{}{group}` ({}): install {what}, or check that the kubeconfig context is the right cluster",
            r.plural, e.message
        ),
    )
}

/// The namespace of CDI's (or KubeVirt's, for `dataVolumeTemplates`) clone refusal: "User U
/// has insufficient permissions in clone source namespace NS".
fn clone_refusal(msg: &str) -> Option<&str> {
    const AT: &str = "insufficient permissions in clone source namespace ";
    let rest = &msg[msg.find(AT)? + AT.len()..];
    let ns = rest.split([' ', ',', ';']).next().unwrap_or(rest);
    (!ns.is_empty()).then_some(ns)
}

/// Classifies every kube-rs error into the engine's classes, once, at the provider's edge.
pub(crate) fn classify(err: &kube::Error) -> ProviderError {
    match err {
        kube::Error::Api(s) => {
            let msg = tidy(&s.message);
            let retry = s
                .details
                .as_ref()
                .map(|d| d.retry_after_seconds)
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(u64::from(s)));
            match s.code {
                409 if s.reason == "AlreadyExists"
                    || msg.contains("already exists")
                    || s.reason.is_empty() =>
                {
                    ProviderError::new(ErrorClass::AlreadyExists, msg)
                }
                // Optimistic-concurrency conflicts resolve on a fresh try.
                409 => ProviderError::new(ErrorClass::Transient, format!("conflict: {msg}")),
                // `namespaces "x" not found`: nothing will make it appear (design §4.3).
                404 if s.details.as_ref().is_some_and(|d| d.kind == "namespaces") => {
                    let ns = s.details.as_ref().map_or("", |d| d.name.as_str());
                    ProviderError::new(ErrorClass::Invalid, missing_namespace(ns))
                }
                404 => ProviderError::new(ErrorClass::NotFound, msg),
                401 => ProviderError::new(
                    ErrorClass::Auth,
                    "unauthorized: the credentials were rejected; log in again (`oc login`)",
                ),
                403 if msg.contains("exceeded quota") => ProviderError::new(ErrorClass::Quota, msg),
                403 => {
                    let what = match rbac_denial(&msg) {
                        Some((verb, res)) => format!("RBAC does not allow `{verb}` on `{res}`"),
                        None => "access denied".to_string(),
                    };
                    ProviderError::new(ErrorClass::Auth, format!("forbidden: {what}: {msg}"))
                }
                400 | 422 => {
                    let fix = clone_refusal(&msg).map_or_else(String::new, |ns| {
                        format!(
                            "; an admin grants `create` on `datavolumes/source` (cdi.kubevirt.io) in namespace `{ns}`: `oc create rolebinding datavolume-cloner -n {ns} --clusterrole=datavolume-cloner --user=YOU` (README: \"Cloning from another namespace\")"
                        )
                    });
                    ProviderError::new(
                        ErrorClass::Invalid,
                        format!("rejected by the server: {msg}{fix}"),
                    )
                }
                429 => ProviderError::new(
                    ErrorClass::Throttled,
                    format!("throttled by the server: {msg}"),
                )
                .with_retry_after(retry),
                500..=599 => ProviderError::new(
                    ErrorClass::Transient,
                    format!("server error {}: {msg}", s.code),
                )
                .with_retry_after(retry),
                // 408 request timeout, 410 gone (stale list continue token): a fresh try works.
                408 | 410 => ProviderError::new(ErrorClass::Transient, msg),
                code => ProviderError::new(ErrorClass::Invalid, format!("http {code}: {msg}")),
            }
        }
        kube::Error::Auth(e) => ProviderError::new(
            ErrorClass::Auth,
            format!(
                "cannot authenticate: {}; log in again (`oc login`)",
                tidy(&e.to_string())
            ),
        ),
        kube::Error::InferKubeconfig(e) => {
            ProviderError::new(ErrorClass::Auth, tidy(&e.to_string()))
        }
        kube::Error::InferConfig(e) => ProviderError::new(ErrorClass::Auth, tidy(&e.to_string())),
        kube::Error::RustlsTls(e) => {
            ProviderError::new(ErrorClass::Auth, format!("tls: {}", tidy(&e.to_string())))
        }
        kube::Error::SerdeError(e) => {
            ProviderError::new(ErrorClass::Invalid, format!("unexpected data: {e}"))
        }
        kube::Error::BuildRequest(e) => {
            ProviderError::new(ErrorClass::Invalid, tidy(&e.to_string()))
        }
        kube::Error::HttpError(e) => ProviderError::new(ErrorClass::Invalid, tidy(&e.to_string())),
        other => {
            let text = error_chain(other);
            // A certificate the client does not trust will not become trusted by retrying.
            if text.contains("certificate") || text.contains("UnknownIssuer") {
                ProviderError::new(
                    ErrorClass::Auth,
                    format!("tls: {text} (set `certificate-authority` in the kubeconfig)"),
                )
            } else {
                ProviderError::new(
                    ErrorClass::Transient,
                    format!("cannot reach the api server: {text}"),
                )
            }
        }
    }
}

/// The error and its sources on one line (connection errors hide the cause in `source()`).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![tidy(&err.to_string())];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = tidy(&e.to_string());
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;
    use kube::core::response::StatusDetails;

    fn api(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Status::failure(message, reason).with_code(code).boxed())
    }

    /// What a real API server answers for a create in a namespace that does not exist.
    fn missing_namespace_status(ns: &str) -> kube::Error {
        let mut s =
            Status::failure(&format!("namespaces \"{ns}\" not found"), "NotFound").with_code(404);
        s.details =
            serde_json::from_value(serde_json::json!({"name": ns, "kind": "namespaces"})).ok();
        kube::Error::Api(s.boxed())
    }

    #[test]
    fn a_missing_namespace_or_crd_is_fatal_with_the_fix() {
        let e = classify(&missing_namespace_status("lab-vmz"));
        assert_eq!(e.class, ErrorClass::Invalid);
        assert_eq!(
            e.message,
            "namespace `lab-vmz` does not exist: create it (`oc new-project lab-vmz`) or fix `kubevirt.namespace`"
        );
        let e = classify_create(Kind::Vm, &missing_namespace_status("lab-vmz"));
        assert_eq!(e.class, ErrorClass::Invalid);
        // A CRD that is not installed: the server does not know the path at all.
        let no_crd = api(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
        let e = classify_create(Kind::DataVolume, &no_crd);
        assert_eq!(e.class, ErrorClass::Invalid);
        assert_eq!(
            e.message,
            "the cluster does not serve `datavolumes.cdi.kubevirt.io` (the server could not find the requested resource): install CDI (the Containerized Data Importer of OpenShift Virtualization), or check that the kubeconfig context is the right cluster"
        );
        // Elsewhere a 404 is still "not found" (a get or delete of a gone object).
        assert_eq!(classify(&no_crd).class, ErrorClass::NotFound);
    }

    #[test]
    fn classify_table() {
        let forbidden = r#"virtualmachines.kubevirt.io "web-01" is forbidden: User "alice" cannot create resource "virtualmachines" in API group "kubevirt.io" in the namespace "lab""#;
        let quota = r#"persistentvolumeclaims "web-01-disk" is forbidden: exceeded quota: storage, requested: requests.storage=30Gi, used: requests.storage=90Gi, limited: requests.storage=100Gi"#;
        let cases: Vec<(kube::Error, ErrorClass, &str)> = vec![
            (
                api(
                    409,
                    "AlreadyExists",
                    r#"secrets "web-01-cloudinit" already exists"#,
                ),
                ErrorClass::AlreadyExists,
                "already exists",
            ),
            (
                api(409, "Conflict", "the object has been modified"),
                ErrorClass::Transient,
                "conflict",
            ),
            (
                api(
                    404,
                    "NotFound",
                    r#"virtualmachines.kubevirt.io "x" not found"#,
                ),
                ErrorClass::NotFound,
                "not found",
            ),
            (
                api(401, "Unauthorized", "Unauthorized"),
                ErrorClass::Auth,
                "log in again (`oc login`)",
            ),
            (
                api(403, "Forbidden", forbidden),
                ErrorClass::Auth,
                "`create` on `virtualmachines.kubevirt.io`",
            ),
            (
                api(403, "Forbidden", quota),
                ErrorClass::Quota,
                "exceeded quota",
            ),
            (
                api(422, "Invalid", "spec.runStrategy: Unsupported value"),
                ErrorClass::Invalid,
                "spec.runStrategy",
            ),
            (
                api(
                    422,
                    "Invalid",
                    "admission webhook \"virtualmachine-validator.kubevirt.io\" denied the request: Authorization failed, message is: User alice has insufficient permissions in clone source namespace golden",
                ),
                ErrorClass::Invalid,
                "in namespace `golden`: `oc create rolebinding datavolume-cloner -n golden --clusterrole=datavolume-cloner --user=YOU`",
            ),
            (
                api(400, "BadRequest", "json: cannot unmarshal"),
                ErrorClass::Invalid,
                "cannot unmarshal",
            ),
            (
                api(429, "TooManyRequests", "slow down"),
                ErrorClass::Throttled,
                "slow down",
            ),
            (
                api(500, "InternalError", "etcdserver: leader changed"),
                ErrorClass::Transient,
                "leader changed",
            ),
            (
                api(503, "ServiceUnavailable", "unavailable"),
                ErrorClass::Transient,
                "503",
            ),
            (api(504, "Timeout", "timeout"), ErrorClass::Transient, "504"),
            (
                kube::Error::Service(Box::new(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    "connection refused",
                ))),
                ErrorClass::Transient,
                "connection refused",
            ),
            (
                kube::Error::Service(Box::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "operation timed out",
                ))),
                ErrorClass::Transient,
                "timed out",
            ),
            (
                kube::Error::Service(Box::new(std::io::Error::other(
                    "invalid peer certificate: UnknownIssuer",
                ))),
                ErrorClass::Auth,
                "certificate-authority",
            ),
        ];
        for (err, class, needle) in cases {
            let got = classify(&err);
            assert_eq!(got.class, class, "{err}");
            assert!(
                got.message.contains(needle),
                "{:?} lacks {needle:?}",
                got.message
            );
            assert!(!got.message.ends_with('.'), "{}", got.message);
        }
    }

    #[test]
    fn throttled_carries_retry_after() {
        let mut s = Status::failure("too many requests", "TooManyRequests").with_code(429);
        s.details = Some(StatusDetails {
            name: String::new(),
            group: String::new(),
            kind: String::new(),
            uid: String::new(),
            causes: vec![],
            retry_after_seconds: 7,
        });
        let e = classify(&kube::Error::Api(s.boxed()));
        assert_eq!(e.class, ErrorClass::Throttled);
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(
            classify(&api(429, "TooManyRequests", "x")).retry_after,
            None
        );
    }

    #[test]
    fn forbidden_names_verb_and_resource() {
        let m = r#"secrets is forbidden: User "system:serviceaccount:ci:bot" cannot list resource "secrets" in API group "" in the namespace "lab""#;
        let e = classify(&api(403, "Forbidden", m));
        assert!(
            e.message
                .contains("RBAC does not allow `list` on `secrets`"),
            "{}",
            e.message
        );
        let e = classify(&api(
            403,
            "Forbidden",
            "admission webhook denied the request",
        ));
        assert_eq!(e.class, ErrorClass::Auth);
        assert!(
            e.message.contains("admission webhook denied"),
            "{}",
            e.message
        );
    }

    #[test]
    fn kinds_use_explicit_plurals() {
        let nad = Kind::Nad.api_resource();
        assert_eq!(nad.plural, "network-attachment-definitions");
        assert_eq!(nad.api_version, "k8s.cni.cncf.io/v1");
        assert_eq!(
            Kind::DataVolume.api_resource().api_version,
            "cdi.kubevirt.io/v1beta1"
        );
        assert_eq!(Kind::Vm.api_resource().plural, "virtualmachines");
        assert_eq!(Kind::Secret.api_resource().api_version, "v1");
        assert_eq!(
            Kind::from_name("NetworkAttachmentDefinition"),
            Some(Kind::Nad)
        );
        assert_eq!(
            power_path("lab", "web-01", "start"),
            "/apis/subresources.kubevirt.io/v1/namespaces/lab/virtualmachines/web-01/start"
        );
    }
}
