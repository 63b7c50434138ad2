//! `KubevirtProvider`: the `Provider` trait over the Kubernetes API (deploy, wait, delete, status, power).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use k8s_openapi::api::core::v1::Event as KubeEvent;
use kube::api::DynamicObject;
use serde_json::Value;

use super::client::{
    EVENT_KINDS, Kind, KubeClient, PowerOutcome, PowerVerb, classify, classify_create,
};
use super::config::{self, Origin};
use super::resources::{self, disk_name, nad_name};
use super::status::{self as rows, EventIndex};
use super::terminal::{self, Stuck};
use crate::config::Project;
use crate::model::{
    Action, DeleteOptions, ErrorClass, ErrorCode, Event, Existing, InstanceStatus, Observer,
    Outcome, PlacementInfo, Power, ProviderError, ProviderKind, ResourceReport, Scope, Select,
    StatusExtra, StatusOptions,
};
use crate::plan::{DesiredInstance, LABEL_NAME, LABEL_SPEC, Plan, is_owned, selector};
use crate::provider::poll::{self, Polling, poll};
use crate::provider::{Attempt, Capability, ConnectOptions, Pace, Placement, Provider};

/// How often `wait_running` and `power --wait` look again.
const DEFAULT_POLL: Duration = Duration::from_secs(2);

/// Kinds in creation order (the NAD only exists with static addressing).
const CREATION_ORDER: [Kind; 4] = [Kind::Secret, Kind::Nad, Kind::DataVolume, Kind::Vm];

/// KubeVirt / OpenShift Virtualization backend.
pub(crate) struct KubevirtProvider {
    kube: KubeClient,
    project: String,
    origin: Origin,
    poll: Duration,
    /// How one call's independent requests go out (`--parallel 1`: one after another).
    pace: Pace,
    /// A spec's shared objects (CA ConfigMap, credentials Secret) by `Kind/name`: `true`
    /// once made or found in this run, so that concurrent instances send them once.
    shared: std::sync::Mutex<BTreeMap<String, std::sync::Arc<tokio::sync::Mutex<bool>>>>,
}

impl std::fmt::Debug for KubevirtProvider {
    // The client holds credentials: show only where they came from.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubevirtProvider")
            .field("project", &self.project)
            .field("namespace", &self.kube.namespace())
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl KubevirtProvider {
    /// Connects with the project's `kubevirt:` settings (or `opts.kubeconfig`).
    pub(crate) async fn connect(
        project: &Project,
        opts: &ConnectOptions,
    ) -> Result<KubevirtProvider, ProviderError> {
        let conn = config::connect(project, opts).await?;
        Ok(KubevirtProvider {
            kube: KubeClient::new(conn.client, conn.namespace),
            project: project.name.0.clone(),
            origin: conn.origin,
            poll: DEFAULT_POLL,
            pace: opts.pace,
            shared: std::sync::Mutex::default(),
        })
    }

    /// A provider over an existing client (tests).
    #[cfg(test)]
    pub(crate) fn from_client(
        client: kube::Client,
        namespace: &str,
        project: &str,
    ) -> KubevirtProvider {
        KubevirtProvider {
            kube: KubeClient::new(client, namespace),
            project: project.to_string(),
            origin: Origin::Supplied,
            poll: DEFAULT_POLL,
            pace: Pace::AtOnce,
            shared: std::sync::Mutex::default(),
        }
    }

    /// The same provider sending one call's requests at `pace` (tests).
    #[cfg(test)]
    pub(crate) fn with_pace(mut self, pace: Pace) -> Self {
        self.pace = pace;
        self
    }

    /// The same provider polling every `poll` (fast simulators in tests).
    #[cfg(test)]
    pub(crate) fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Objects of `kind` matching `sel` that are ours; a missing CRD (404) means none.
    async fn owned(
        &self,
        kind: Kind,
        sel: &str,
        spec: Option<&str>,
    ) -> Result<Vec<DynamicObject>, ProviderError> {
        let items = match self.kube.list(kind, sel).await.map_err(|e| classify(&e))? {
            Some(items) => items,
            None if kind != Kind::Vm => return Ok(Vec::new()),
            None => {
                return Err(ProviderError::new(
                    ErrorClass::NotFound,
                    "the `virtualmachines.kubevirt.io` api is not served: is KubeVirt installed in this cluster",
                ));
            }
        };
        // The selector already filters; re-checking guards against a server that ignores it.
        Ok(items
            .into_iter()
            .filter(|o| is_owned(&labels(o), &self.project, spec))
            .collect())
    }

    /// The VirtualMachines of the namespace carrying every label of `select` (not being
    /// deleted), by name.
    async fn selected(&self, select: &Select) -> Result<Vec<DynamicObject>, ProviderError> {
        let sel: Vec<String> = select
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let items = match self
            .kube
            .list(Kind::Vm, &sel.join(","))
            .await
            .map_err(|e| classify(&e))?
        {
            Some(items) => items,
            None => {
                return Err(ProviderError::new(
                    ErrorClass::NotFound,
                    "the `virtualmachines.kubevirt.io` api is not served: is KubeVirt installed in this cluster",
                ));
            }
        };
        // The selector already filters; re-checking guards against a server that ignores it.
        let mut vms: Vec<DynamicObject> = items
            .into_iter()
            .filter(|o| {
                let l = labels(o);
                o.metadata.deletion_timestamp.is_none()
                    && select.labels.iter().all(|(k, v)| l.get(k) == Some(v))
            })
            .collect();
        vms.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(vms)
    }

    /// Status rows of the VirtualMachines a `select:` picks, with what their VMIs say and
    /// the Events of their objects.
    async fn selected_status(
        &self,
        select: &Select,
        spec: &str,
        options: &StatusOptions,
    ) -> Result<Vec<InstanceStatus>, ProviderError> {
        // A VMI carries its template's labels, not the VM's: list them all, find each by name.
        let (vms, vmis, events) = futures::join!(
            self.selected(select),
            self.kube.list(Kind::Vmi, ""),
            self.status_events(options.events),
        );
        let vms = vms?;
        if vms.is_empty() {
            return Ok(Vec::new());
        }
        let vmis = vmis.map_err(|e| classify(&e))?.unwrap_or_default();
        let vmis = by_name(&vmis);
        let index = EventIndex::new(events_read(&events));
        Ok(vms
            .iter()
            .map(|vm| {
                let name = vm.metadata.name.clone().unwrap_or_default();
                let mut row = InstanceStatus {
                    spec: spec.to_string(),
                    state: str_at(&vm.data, "/status/printableStatus")
                        .unwrap_or("Unknown")
                        .to_string(),
                    size: vm_size(&vm.data),
                    created: vm
                        .metadata
                        .creation_timestamp
                        .as_ref()
                        .map(|t| t.0.to_string()),
                    id: vm.metadata.uid.clone().unwrap_or_default(),
                    extra: StatusExtra {
                        namespace: Some(self.kube.namespace().to_string()),
                        ..StatusExtra::default()
                    },
                    ..InstanceStatus::default()
                };
                if let Some(vmi) = vmis.get(name.as_str()) {
                    rows::describe_vmi(&mut row, &vmi.data);
                }
                if options.events > 0 {
                    let newest = index.newest(&name, &vm_disks(&vm.data), options.events);
                    rows::attach_events(&mut row, &newest);
                }
                row.name = name;
                row
            })
            .collect())
    }

    /// The Events `status` shows, when it shows any (`n` > 0): those about the kinds an
    /// instance is made of, one list per kind, at once, and why some could not be read.
    async fn status_events(&self, n: usize) -> (Vec<KubeEvent>, Option<kube::Error>) {
        if n == 0 {
            return (Vec::new(), None);
        }
        self.kube.events_about(&EVENT_KINDS).await
    }

    /// Managed objects in `scope`, grouped by instance, leaving out objects being deleted.
    async fn grouped(&self, scope: &Scope) -> Result<BTreeMap<String, Group>, ProviderError> {
        let sel = selector(
            &self.project,
            scope.spec.as_deref(),
            scope.target.as_deref(),
        );
        // One list per kind, all at once: the longest sets the time, not their sum.
        let lists = futures::future::try_join_all(
            CREATION_ORDER.map(|kind| self.owned(kind, &sel, scope.spec.as_deref())),
        )
        .await?;
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for (kind, objs) in CREATION_ORDER.into_iter().zip(lists) {
            for obj in objs {
                if obj.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let l = labels(&obj);
                let (Some(name), Some(spec)) = (l.get(LABEL_NAME), l.get(LABEL_SPEC)) else {
                    continue;
                };
                let g = groups.entry(name.clone()).or_insert_with(|| Group {
                    spec: spec.clone(),
                    ..Group::default()
                });
                g.objects.push((kind, obj));
            }
        }
        Ok(groups)
    }

    /// [`Self::create_one`], saying "creating KIND NAME" as the request goes out (all of a
    /// round's at once, or one by one at `--parallel 1`).
    async fn create_said(
        &self,
        instance: &DesiredInstance,
        kind: Kind,
        obj: &crate::plan::PlannedObject,
        observer: &dyn Observer,
    ) -> Step {
        observer.event(Event::Progress {
            instance: instance.name.clone(),
            phase: format!("creating {} {}", obj.kind, obj.name),
            percent: None,
        });
        self.create_one(instance, kind, &obj.name, &obj.body).await
    }

    /// Creates one object; 409 → fetch it and decide whether it is ours.
    async fn create_one(
        &self,
        inst: &DesiredInstance,
        kind: Kind,
        name: &str,
        body: &Value,
    ) -> Step {
        match self.kube.create(kind, body).await {
            Ok(_) => Step::Done(ResourceReport::new(
                &inst.name,
                kind.name(),
                name,
                Outcome::Success,
                "created",
            )),
            Err(e) => {
                let err = classify_create(kind, &e);
                if err.class != ErrorClass::AlreadyExists {
                    return Step::Stop(None, err);
                }
                let existing = match self.kube.get(kind, name).await {
                    Ok(Some(o)) => o,
                    // Deleted between the 409 and the get: the next attempt creates it.
                    Ok(None) => {
                        return Step::Stop(
                            None,
                            ProviderError::new(
                                ErrorClass::Transient,
                                format!(
                                    "`{}` `{name}` disappeared while being checked",
                                    kind.name()
                                ),
                            ),
                        );
                    }
                    Err(e) => return Step::Stop(None, classify(&e)),
                };
                let l = labels(&existing);
                // An instance's object carries its name label; a spec's shared one none.
                let want_name = body
                    .pointer(&format!(
                        "/metadata/labels/{}",
                        LABEL_NAME.replace('/', "~1")
                    ))
                    .and_then(Value::as_str);
                let ours = is_owned(&l, &inst.project, Some(&inst.spec))
                    && l.get(LABEL_NAME).map(String::as_str) == want_name;
                if ours && resources::is_shared(body) {
                    self.refresh_shared(inst, kind, name, &existing, body).await
                } else if ours {
                    Step::Done(ResourceReport::new(
                        &inst.name,
                        kind.name(),
                        name,
                        Outcome::Skipped,
                        "exists",
                    ))
                } else {
                    let reason = "exists and is not managed by vauto";
                    let report =
                        ResourceReport::new(&inst.name, kind.name(), name, Outcome::Failed, reason);
                    let err = ProviderError::new(
                        ErrorClass::AlreadyExists,
                        format!("`{}` `{name}` {reason}", kind.name()),
                    );
                    Step::Stop(Some(report), err)
                }
            }
        }
    }

    /// Makes a spec's shared object once per run, whichever instance gets there first:
    /// the others wait for it and report nothing; after a failure the next one tries again.
    async fn ensure_shared(
        &self,
        inst: &DesiredInstance,
        kind: Kind,
        name: &str,
        body: &Value,
    ) -> Option<Step> {
        let cell = {
            let mut m = self.shared.lock().unwrap_or_else(|e| e.into_inner());
            m.entry(format!("{}/{name}", kind.name()))
                .or_default()
                .clone()
        };
        let mut done = cell.lock().await;
        if *done {
            return None;
        }
        let step = self.create_one(inst, kind, name, body).await;
        *done = matches!(step, Step::Done(_));
        Some(step)
    }

    /// The preflight and the spec's shared objects, each once per run; the reports are
    /// `inst`'s.
    async fn make_shared(&self, plan: &Plan, inst: &DesiredInstance) -> Attempt {
        let mut attempt = Attempt::default();
        if let Some(Step::Stop(report, err)) = self.preflight(plan, inst).await {
            attempt.reports.extend(report);
            attempt.error = Some(err);
            return attempt;
        }
        let Some(spec) = plan.spec.kubevirt() else {
            return attempt;
        };
        let shared = resources::manifests(plan, inst, Some(self.kube.namespace()))
            .into_iter()
            .filter(|o| resources::is_shared(&o.body));
        for obj in shared {
            let Some(kind) = Kind::from_name(&obj.kind) else {
                continue;
            };
            let body = resources::with_credentials(spec, &obj);
            match self.ensure_shared(inst, kind, &obj.name, &body).await {
                None => {}
                Some(Step::Done(r)) => attempt.reports.push(r.shared()),
                Some(Step::Stop(report, err)) => {
                    attempt.reports.extend(report.map(ResourceReport::shared));
                    attempt.error = Some(err);
                    return attempt;
                }
            }
        }
        attempt
    }

    /// What the spec's manifests name but do not create must exist before anything is
    /// created, so that a typo leaves nothing half-made: the instance type and preference,
    /// the DataSources and the credentials Secrets. Checked once per run; a check the
    /// role may not make (403) is left to the cluster's own webhooks.
    async fn preflight(&self, plan: &Plan, inst: &DesiredInstance) -> Option<Step> {
        let cell = {
            let mut m = self.shared.lock().unwrap_or_else(|e| e.into_inner());
            m.entry("preflight".to_string()).or_default().clone()
        };
        let mut done = cell.lock().await;
        if *done {
            return None;
        }
        let spec = plan.spec.kubevirt()?;
        // Every check at once (one request latency, not one per reference; one after
        // another at `--parallel 1`); judged in the spec's order, so the first missing
        // reference is the one reported.
        let needs = resources::references(spec, self.kube.namespace());
        let sources = resources::clone_sources(spec, self.kube.namespace());
        let (found, may_clone) = self
            .pace
            .both(
                self.pace
                    .all(needs.iter().map(|n| self.kube.exists(&n.target)).collect()),
                self.pace.all(
                    sources
                        .iter()
                        .map(|s| self.kube.may_clone_from(&s.namespace, &s.name))
                        .collect(),
                ),
            )
            .await;
        for (need, found) in needs.iter().zip(found) {
            match found {
                Ok(true) => {}
                Ok(false) => {
                    let err = ProviderError::new(ErrorClass::Invalid, need.missing.clone());
                    let report = ResourceReport::new(
                        &inst.name,
                        need.target.kind,
                        &need.target.name,
                        Outcome::Failed,
                        "does not exist",
                    );
                    return Some(Step::Stop(Some(report), err));
                }
                // The role may not read it: the webhooks will judge the VM instead.
                Err(kube::Error::Api(s)) if s.code == 403 => {}
                Err(e) => return Some(Step::Stop(None, classify(&e))),
            }
        }
        for (source, allowed) in sources.iter().zip(may_clone) {
            match allowed {
                Ok(true) => {}
                Ok(false) => {
                    let err = ProviderError::new(ErrorClass::Invalid, source.refused());
                    let report = ResourceReport::new(
                        &inst.name,
                        source.kind,
                        &format!("{}/{}", source.namespace, source.name),
                        Outcome::Failed,
                        "may not be cloned by this user",
                    );
                    return Some(Step::Stop(Some(report), err));
                }
                // A cluster that answers no access reviews: the webhooks judge the disk.
                Err(kube::Error::Api(s)) if matches!(s.code, 403 | 404) => {}
                Err(e) => return Some(Step::Stop(None, classify(&e))),
            }
        }
        *done = true;
        None
    }

    /// A shared object of ours that exists: its content is made what the spec says now
    /// (a new CA file or password reaches the cluster on the next deploy).
    async fn refresh_shared(
        &self,
        inst: &DesiredInstance,
        kind: Kind,
        name: &str,
        existing: &DynamicObject,
        body: &Value,
    ) -> Step {
        let report = |outcome, reason: &str| {
            ResourceReport::new(&inst.name, kind.name(), name, outcome, reason)
        };
        let Some(patch) = resources::content_patch(&existing.data, body) else {
            return Step::Done(report(Outcome::Skipped, "already exists"));
        };
        match self.kube.merge_patch(kind, name, &patch).await {
            Ok(()) => Step::Done(report(Outcome::Success, "updated").updated()),
            Err(e) => Step::Stop(None, classify(&e)),
        }
    }

    /// After an instance's objects are deleted: the spec's shared objects go too once no
    /// other instance of the spec has an object left. Each delete looks after its own
    /// objects are gone, so the last of concurrent deletes sees none and cleans up.
    async fn delete_shared_if_last(&self, existing: &Existing, out: &mut Attempt) {
        let sel = selector(&self.project, Some(&existing.spec), None);
        let mut shared = Vec::new();
        for kind in [
            Kind::ConfigMap,
            Kind::Secret,
            Kind::Nad,
            Kind::DataVolume,
            Kind::Vm,
        ] {
            let objs = match self.owned(kind, &sel, Some(&existing.spec)).await {
                Ok(o) => o,
                // Best effort: a later delete of the spec looks again.
                Err(_) => return,
            };
            for obj in objs {
                if obj.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                match labels(&obj).get(LABEL_NAME) {
                    Some(_) => return,
                    None => shared.push((kind, obj.metadata.name.clone().unwrap_or_default())),
                }
            }
        }
        for (kind, name) in shared {
            let reason = match self.kube.delete(kind, &name).await {
                Ok(true) => "deleted (the spec's last instance is gone)",
                Ok(false) => "already gone",
                Err(e) => {
                    out.error.get_or_insert(classify(&e));
                    out.resource = Some((kind.name().to_string(), name));
                    return;
                }
            };
            out.reports.push(ResourceReport::new(
                &existing.name,
                kind.name(),
                &name,
                Outcome::Deleted,
                reason,
            ));
        }
    }

    /// One look at the VM, its VMI and its DataVolume.
    async fn observe(&self, name: &str) -> Result<Observed, ProviderError> {
        let get = |kind, n: String| async move {
            self.kube.get(kind, &n).await.map_err(|e| classify(&e))
        };
        Ok(Observed {
            vm: get(Kind::Vm, name.to_string()).await?,
            vmi: get(Kind::Vmi, name.to_string()).await?,
            dv: get(Kind::DataVolume, disk_name(name)).await.unwrap_or(None),
        })
    }

    /// The static address from the instance's NAD, for VMs whose guest reports no IP.
    async fn nad_address(&self, name: &str) -> Option<String> {
        let nad = self.kube.get(Kind::Nad, &nad_name(name)).await.ok()??;
        let config = nad.data.pointer("/spec/config")?.as_str()?;
        static_address(config)
    }

    /// The error that ends a wait for `instance`, stuck as `stuck`, with the Event that says why.
    async fn stuck_error(&self, instance: &str, stuck: &Stuck) -> ProviderError {
        // Events are best effort, as in `status`: the status's own message stands in.
        let events = self.kube.events().await.unwrap_or_default();
        ProviderError::new(
            ErrorClass::Invalid,
            terminal::explain(instance, stuck, &events),
        )
    }

    async fn power_wait(
        &self,
        name: &str,
        want: &str,
        timeout: Duration,
    ) -> Result<(), ProviderError> {
        let fetch = || async {
            let vm = self
                .kube
                .get(Kind::Vm, name)
                .await
                .map_err(|e| classify(&e))?;
            let state =
                vm.and_then(|v| str_at(&v.data, "/status/printableStatus").map(String::from));
            // A VM that cannot start will not start by waiting: fail now, with the reason.
            if want == "Running"
                && let Some(s) = state.as_deref().filter(|s| terminal::is_stuck_state(s))
            {
                let stuck = Stuck {
                    state: s.to_string(),
                    detail: None,
                };
                return Err(self.stuck_error(name, &stuck).await);
            }
            Ok(state)
        };
        let check = |state: Option<String>, expired: bool| match state {
            Some(s) if s == want => poll::Step::Done(()),
            state if expired => poll::Step::Fail(
                ProviderError::new(
                    ErrorClass::Transient,
                    format!(
                        "`{name}` did not become {want} within {}s (now {})",
                        timeout.as_secs(),
                        state.as_deref().unwrap_or("unknown")
                    ),
                )
                .with_code(ErrorCode::WaitTimedOut),
            ),
            _ => poll::Step::Again,
        };
        poll(Polling::new(self.poll, timeout), fetch, check).await
    }
}

/// The objects of one instance found by labels.
#[derive(Default)]
struct Group {
    spec: String,
    objects: Vec<(Kind, DynamicObject)>,
}

impl Group {
    fn find(&self, kind: Kind) -> Option<&DynamicObject> {
        self.objects
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, o)| o)
    }

    /// The object of `kind` called `name` (an instance has several DataVolumes once it has
    /// data disks: the root one is `<instance>-disk`).
    fn named(&self, kind: Kind, name: &str) -> Option<&DynamicObject> {
        self.objects
            .iter()
            .find(|(k, o)| *k == kind && o.metadata.name.as_deref() == Some(name))
            .map(|(_, o)| o)
    }
}

enum Step {
    Done(ResourceReport),
    Stop(Option<ResourceReport>, ProviderError),
}

struct Observed {
    vm: Option<DynamicObject>,
    vmi: Option<DynamicObject>,
    dv: Option<DynamicObject>,
}

impl Observed {
    /// Why the VM will not run, when waiting cannot change it.
    fn stuck(&self) -> Option<Stuck> {
        let vm = self.vm.as_ref()?;
        terminal::stuck(
            &vm.data,
            self.vmi.as_ref().map(|v| &v.data),
            self.dv.as_ref().map(|d| &d.data),
        )
    }

    /// The phase to show (the disk's while it imports, else the VM's) and its percentage;
    /// an error when the VM is gone, since waiting cannot bring it back.
    fn progress(&self, instance: &str) -> Result<(String, Option<f32>), ProviderError> {
        let Some(vm) = &self.vm else {
            return Err(ProviderError::new(
                ErrorClass::NotFound,
                format!("virtual machine `{instance}` does not exist"),
            ));
        };
        let vm_state = str_at(&vm.data, "/status/printableStatus").unwrap_or("Pending");
        let dv_phase = self
            .dv
            .as_ref()
            .and_then(|d| str_at(&d.data, "/status/phase"));
        Ok(match (&self.dv, dv_phase) {
            (Some(dv), Some(p)) if p != "Succeeded" => (
                format!("disk {p}"),
                str_at(&dv.data, "/status/progress").and_then(parse_percent),
            ),
            _ => (vm_state.to_string(), None),
        })
    }

    /// The run strategy of a VM that KubeVirt does not start on creation (`Halted`, or
    /// `Manual` without a start request), once it is `Stopped` with its disk imported:
    /// waiting for it to run would wait for ever.
    fn held_stopped(&self) -> Option<&str> {
        let vm = &self.vm.as_ref()?.data;
        let strategy =
            str_at(vm, "/spec/runStrategy").filter(|s| matches!(*s, "Halted" | "Manual"))?;
        let requested = vm
            .pointer("/status/stateChangeRequests")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        // A disk waiting for its first consumer is as ready as it gets before a start.
        let disk_ready = self.dv.as_ref().is_none_or(|d| {
            matches!(
                str_at(&d.data, "/status/phase"),
                Some("Succeeded" | PENDING_POPULATION | WAIT_FOR_FIRST_CONSUMER)
            )
        });
        (self.vmi.is_none()
            && !requested
            && disk_ready
            && str_at(vm, "/status/printableStatus") == Some("Stopped"))
        .then_some(strategy)
    }

    /// The VMI's body once it is `Running`.
    fn running_vmi(&self) -> Option<&Value> {
        self.vmi
            .as_ref()
            .map(|v| &v.data)
            .filter(|v| str_at(v, "/status/phase") == Some("Running"))
    }
}

/// CDI's DataVolume phase while a populator waits for the PVC's first consumer (storage
/// class `volumeBindingMode: WaitForFirstConsumer`; CDI ≥ 1.57 with volume populators).
const PENDING_POPULATION: &str = "PendingPopulation";
/// The same wait as CDI names it without populators.
const WAIT_FOR_FIRST_CONSUMER: &str = "WaitForFirstConsumer";

/// One `wait_running`: what the user was last told, and the NAD's address once read.
struct RunWait<'a> {
    provider: &'a KubevirtProvider,
    instance: &'a str,
    observer: &'a dyn Observer,
    /// The last phase reported, for the timeout message.
    last_phase: String,
    /// The NAD does not change while we wait: read it at most once.
    nad_ip: Option<Option<String>>,
    /// Why the disk waits for its first consumer, from its StorageClass: read once.
    wffc: Option<String>,
}

impl<'a> RunWait<'a> {
    fn new(
        provider: &'a KubevirtProvider,
        instance: &'a str,
        observer: &'a dyn Observer,
    ) -> RunWait<'a> {
        RunWait {
            provider,
            instance,
            observer,
            last_phase: String::new(),
            nad_ip: None,
            wffc: None,
        }
    }

    /// One look: the report once the VM runs with an address, `None` to look again; a
    /// transient error is the poller's to ride out.
    async fn look(&mut self) -> Result<Option<ResourceReport>, ProviderError> {
        let seen = self.provider.observe(self.instance).await?;
        let (mut phase, percent) = seen.progress(self.instance)?;
        if let Some(dv) = &seen.dv
            && matches!(
                str_at(&dv.data, "/status/phase"),
                Some(PENDING_POPULATION | WAIT_FOR_FIRST_CONSUMER)
            )
        {
            phase = format!("{phase}: {}", self.wffc_note(&dv.data).await);
        }
        self.tell(phase, percent);
        if let Some(stuck) = seen.stuck() {
            return Err(self.provider.stuck_error(self.instance, &stuck).await);
        }
        if let Some(strategy) = seen.held_stopped() {
            return Ok(Some(self.stopped(strategy)));
        }
        match seen.running_vmi() {
            Some(vmi) => Ok(self.running(vmi).await),
            None => Ok(None),
        }
    }

    /// Why a disk is pending: its storage class binds on first consumer, so CDI imports
    /// it only once the VM's pod is scheduled. The class is read once; without RBAC to
    /// read storage classes the note says what the phase means.
    async fn wffc_note(&mut self, dv: &Value) -> String {
        if let Some(n) = &self.wffc {
            return n.clone();
        }
        let class = str_at(dv, "/spec/storage/storageClassName")
            .or_else(|| str_at(dv, "/spec/pvc/storageClassName"));
        let note = match self.provider.kube.binding_mode(class).await {
            Ok(Some((name, mode))) if mode == WAIT_FOR_FIRST_CONSUMER => format!(
                "storage class `{name}` binds WaitForFirstConsumer, so the disk is imported once the VM's pod is scheduled"
            ),
            _ => "the disk waits for its first consumer (the VM's pod) before it is imported"
                .to_string(),
        };
        self.wffc = Some(note.clone());
        note
    }

    /// The success report of a VM that its run strategy keeps stopped, its disk ready.
    fn stopped(&self, strategy: &str) -> ResourceReport {
        ResourceReport::new(
            self.instance,
            Kind::Vm.name(),
            self.instance,
            Outcome::Success,
            format!(
                "ready, not started (runStrategy {strategy}: `start` runs it{})",
                if self.wffc.is_some() {
                    "; its disk is imported then (WaitForFirstConsumer)"
                } else {
                    ""
                }
            ),
        )
    }

    /// Reports the phase on every look, changed or not: the printer decides what to show,
    /// and an unchanged phase is what lets it say every 30 s that the wait goes on.
    fn tell(&mut self, phase: String, percent: Option<f32>) {
        self.last_phase = match percent {
            Some(pct) => format!("{phase} {pct:.2}%"),
            None => phase.clone(),
        };
        self.observer.event(Event::Progress {
            instance: self.instance.to_string(),
            phase,
            percent,
        });
    }

    /// The success report of a running VMI, or `None` while it has no address yet.
    async fn running(&mut self, vmi: &Value) -> Option<ResourceReport> {
        let ip = match vmi_ip(vmi) {
            Some(ip) => ip,
            None => self.nad_ip().await?,
        };
        let node = str_at(vmi, "/status/nodeName").unwrap_or("-");
        Some(
            ResourceReport::new(
                self.instance,
                Kind::Vm.name(),
                self.instance,
                Outcome::Success,
                "running",
            )
            .with(|d| {
                d.ip = Some(ip);
                d.node = Some(node.to_string());
            }),
        )
    }

    /// The static address from the NAD, for guests that report none.
    async fn nad_ip(&mut self) -> Option<String> {
        if self.nad_ip.is_none() {
            self.nad_ip = Some(self.provider.nad_address(self.instance).await);
        }
        self.nad_ip.clone().flatten()
    }

    fn timed_out(&self, timeout: Duration) -> ProviderError {
        let last = if self.last_phase.is_empty() {
            "unknown".to_string()
        } else {
            self.last_phase.clone()
        };
        ProviderError::new(
            ErrorClass::Transient,
            format!(
                "`{}` was not running with an ip after {}s (last: {})",
                self.instance,
                timeout.as_secs(),
                last
            ),
        )
    }
}

/// Whether a DataVolume was made by KubeVirt from a VM's `dataVolumeTemplates` (its
/// controller owner is a VirtualMachine).
fn owned_by_vm(o: &DynamicObject) -> bool {
    o.metadata
        .owner_references
        .as_ref()
        .is_some_and(|refs| refs.iter().any(|r| r.kind == Kind::Vm.name()))
}

fn labels(o: &DynamicObject) -> BTreeMap<String, String> {
    o.metadata.labels.clone().unwrap_or_default()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `45.20%` → 45.2; `N/A` and garbage → `None`.
pub(crate) fn parse_percent(progress: &str) -> Option<f32> {
    progress.trim().strip_suffix('%')?.trim().parse().ok()
}

/// A DataVolume's phase and progress for the `disk` column: `ImportInProgress 45.20%`.
pub(crate) fn disk_column(dv: &Value) -> Option<String> {
    let phase = str_at(dv, "/status/phase")?;
    match str_at(dv, "/status/progress") {
        Some(p) if phase != "Succeeded" && parse_percent(p).is_some() => {
            Some(format!("{phase} {p}"))
        }
        _ => Some(phase.to_string()),
    }
}

/// The first usable address a VMI reports (skipping link-local ones).
pub(crate) fn vmi_ip(vmi: &Value) -> Option<String> {
    rows::usable_addresses(&rows::interfaces(vmi))
        .into_iter()
        .next()
}

/// The Events `status_events` read. Events are best effort: a role without `list events`
/// still gets the rest of `status`, and hears why the events are missing (said only once the
/// instances were read, so that an error about them all comes alone).
fn events_read(read: &(Vec<KubeEvent>, Option<kube::Error>)) -> &[KubeEvent] {
    if let Some(e) = &read.1 {
        tracing::warn!("events unavailable: {}", classify(e).message);
    }
    &read.0
}

/// Objects by name (VMIs, to find each VM's).
fn by_name(objects: &[DynamicObject]) -> HashMap<&str, &DynamicObject> {
    objects
        .iter()
        .filter_map(|o| o.metadata.name.as_deref().map(|n| (n, o)))
        .collect()
}

/// The disks a VM's volumes name: its DataVolumes and PVCs.
fn vm_disks(vm: &Value) -> Vec<String> {
    let volumes = vm
        .pointer("/spec/template/spec/volumes")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    volumes
        .iter()
        .filter_map(|v| {
            str_at(v, "/dataVolume/name").or_else(|| str_at(v, "/persistentVolumeClaim/claimName"))
        })
        .map(str::to_string)
        .collect()
}

/// The static address (without prefix) in a NAD's CNI config.
pub(crate) fn static_address(cni_config: &str) -> Option<String> {
    let v: Value = serde_json::from_str(cni_config).ok()?;
    let cidr = str_at(&v, "/ipam/addresses/0/address")?;
    Some(cidr.split('/').next().unwrap_or(cidr).to_string())
}

/// `2 cpu/4Gi` from a VM's template.
fn vm_size(vm: &Value) -> Option<String> {
    // An instance type sizes the VM: its name says more than KubeVirt's expansion.
    if let Some(t) = str_at(vm, "/spec/instancetype/name") {
        return Some(t.to_string());
    }
    let domain = vm.pointer("/spec/template/spec/domain")?;
    let cores = domain
        .pointer("/cpu/cores")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let mem =
        str_at(domain, "/memory/guest").or_else(|| str_at(domain, "/resources/requests/memory"))?;
    Some(format!("{cores} cpu/{mem}"))
}

/// The newest of `events`.
pub(crate) fn newest<'a>(events: impl Iterator<Item = &'a KubeEvent>) -> Option<&'a KubeEvent> {
    events.max_by_key(|e| event_key(e))
}

/// What orders Events in time: when it last happened, then the write.
pub(crate) fn event_key(e: &KubeEvent) -> (Option<k8s_openapi::jiff::Timestamp>, Option<u64>) {
    let at = e
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or(e.event_time.as_ref().map(|t| t.0))
        .or(e.first_timestamp.as_ref().map(|t| t.0))
        .or(e.metadata.creation_timestamp.as_ref().map(|t| t.0));
    // Event times have whole seconds, so transitions of one second tie (a VMI's
    // Created and Started); the later write wins. resourceVersion is opaque in
    // the API, but it is etcd's revision on every real server: used only to break
    // ties, and an unparsable one sorts first.
    let written = e
        .metadata
        .resource_version
        .as_deref()
        .and_then(|rv| rv.parse::<u64>().ok());
    (at, written)
}

/// An event as `Reason: message`.
pub(crate) fn event_line(e: &KubeEvent) -> String {
    let reason = e.reason.as_deref().unwrap_or("Event");
    match e.message.as_deref() {
        Some(m) if !m.trim().is_empty() => format!("{reason}: {}", m.trim()),
        _ => reason.to_string(),
    }
}

/// The one placement KubeVirt has: the cluster, whose scheduler picks the node.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cluster;

impl Placement for Cluster {
    fn info(&self) -> PlacementInfo {
        PlacementInfo {
            label: "-".to_string(),
            zone: None,
        }
    }
}

impl Provider for KubevirtProvider {
    type Placement = Cluster;

    fn kind(&self) -> ProviderKind {
        ProviderKind::Kubevirt
    }

    const CAPABILITY: Capability = Capability {
        actions: &Action::ON_INSTANCES,
        // The scheduler places VMs; vauto has no zones or sizes to rotate through.
        rotates_placements: false,
        capacity_retry: false,
        // The DataVolume is deleted with its VM.
        keeps_boot_volume: false,
        events: true,
    };

    async fn list(&self, scope: &Scope) -> Result<Vec<Existing>, ProviderError> {
        if let Some(select) = &scope.select {
            let spec = scope.spec.clone().unwrap_or_default();
            return Ok(self
                .selected(select)
                .await?
                .into_iter()
                .map(|vm| {
                    let name = vm.metadata.name.clone().unwrap_or_default();
                    Existing {
                        spec: spec.clone(),
                        id: vm.metadata.uid.clone().unwrap_or_default(),
                        complete: true,
                        state: str_at(&vm.data, "/status/printableStatus").map(String::from),
                        resources: vec![(Kind::Vm.name().to_string(), name.clone())],
                        name,
                        owned: false,
                    }
                })
                .collect());
        }
        let groups = self.grouped(scope).await?;
        Ok(groups
            .into_iter()
            .map(|(name, g)| {
                let vm = g.find(Kind::Vm);
                let id = vm
                    .or_else(|| g.objects.first().map(|(_, o)| o))
                    .and_then(|o| o.metadata.uid.clone())
                    .unwrap_or_default();
                // Without the plan the NAD's necessity is unknown; the VM names it if it needs one.
                let needs_nad = vm.is_some_and(|v| {
                    v.data
                        .pointer("/spec/template/spec/networks")
                        .is_some_and(|n| {
                            n.as_array().is_some_and(|a| {
                                a.iter().any(|x| x.pointer("/multus/networkName").is_some())
                            })
                        })
                });
                let complete = vm.is_some()
                    && g.find(Kind::Secret).is_some()
                    && g.find(Kind::DataVolume).is_some()
                    && (!needs_nad || g.find(Kind::Nad).is_some());
                let state =
                    vm.and_then(|v| str_at(&v.data, "/status/printableStatus").map(String::from));
                Existing {
                    name,
                    spec: g.spec.clone(),
                    id,
                    complete,
                    state,
                    owned: true,
                    resources: g
                        .objects
                        .iter()
                        .map(|(k, o)| {
                            (
                                k.name().to_string(),
                                o.metadata.name.clone().unwrap_or_default(),
                            )
                        })
                        .collect(),
                }
            })
            .collect())
    }

    async fn prepare(&self, plan: &Plan) -> Attempt {
        match plan.instances.first() {
            Some(first) => self.make_shared(plan, first).await,
            None => Attempt::default(),
        }
    }

    async fn placements(
        &self,
        _plan: &Plan,
        _instance: &DesiredInstance,
    ) -> Result<Vec<Cluster>, ProviderError> {
        // The scheduler places VMs; the spec's node selector and affinity are in the manifest.
        Ok(vec![Cluster])
    }

    async fn create(
        &self,
        plan: &Plan,
        instance: &DesiredInstance,
        _placement: &Cluster,
        observer: &dyn Observer,
    ) -> Attempt {
        let mut attempt = Attempt::default();
        let objects: Vec<(Kind, crate::plan::PlannedObject)> =
            resources::manifests(plan, instance, Some(self.kube.namespace()))
                .into_iter()
                .filter_map(|o| Kind::from_name(&o.kind).map(|k| (k, o)))
                .collect();
        // The spec's shared objects (CA, credentials) first, once per run (`prepare` has
        // made them when the engine runs the deploy); then the Secret, the NAD and the
        // DataVolumes, which do not depend on each other, at once (one after another at
        // `--parallel 1`); the VM, which names them all, last. Reports keep the manifest
        // order.
        let shared = self.make_shared(plan, instance).await;
        attempt.reports.extend(shared.reports);
        if shared.error.is_some() {
            attempt.error = shared.error;
            return attempt;
        }
        let objects: Vec<_> = objects
            .into_iter()
            .filter(|(_, o)| !resources::is_shared(&o.body))
            .collect();
        let (vm, before): (Vec<_>, Vec<_>) = objects.into_iter().partition(|(k, _)| *k == Kind::Vm);
        let steps = self
            .pace
            .all(
                before
                    .iter()
                    .map(|(kind, obj)| self.create_said(instance, *kind, obj, observer))
                    .collect(),
            )
            .await;
        for step in steps {
            match step {
                Step::Done(r) => attempt.reports.push(r),
                Step::Stop(report, err) => {
                    attempt.reports.extend(report);
                    attempt.error.get_or_insert(err);
                }
            }
        }
        if attempt.error.is_some() {
            return attempt;
        }
        for (kind, obj) in &vm {
            match self.create_said(instance, *kind, obj, observer).await {
                Step::Done(r) => attempt.reports.push(r),
                Step::Stop(report, err) => {
                    attempt.reports.extend(report);
                    attempt.error = Some(err);
                    break;
                }
            }
        }
        attempt
    }

    async fn wait_running(
        &self,
        instance: &str,
        timeout: Duration,
        observer: &dyn Observer,
    ) -> Result<ResourceReport, ProviderError> {
        let wait = tokio::sync::Mutex::new(RunWait::new(self, instance, observer));
        let fetch = || async { wait.lock().await.look().await };
        let check = |report: Option<ResourceReport>, expired: bool| match report {
            Some(r) => poll::Step::Done(r),
            None if expired => poll::Step::Fail(match wait.try_lock() {
                Ok(w) => w.timed_out(timeout),
                Err(_) => ProviderError::new(
                    ErrorClass::Transient,
                    format!(
                        "`{instance}` was not running with an ip after {}s",
                        timeout.as_secs()
                    ),
                ),
            }),
            None => poll::Step::Again,
        };
        poll(Polling::new(self.poll, timeout), fetch, check).await
    }

    async fn delete(&self, existing: &Existing, _options: &DeleteOptions) -> Attempt {
        let sel = selector(&self.project, Some(&existing.spec), Some(&existing.name));
        let mut out = Attempt::default();
        for kind in CREATION_ORDER.iter().rev().copied() {
            let objs = match self.owned(kind, &sel, Some(&existing.spec)).await {
                Ok(o) => o,
                Err(e) => {
                    out.error = Some(ProviderError {
                        message: format!("cannot list: {}", e.message),
                        ..e
                    });
                    out.resource = Some((kind.name().to_string(), "-".to_string()));
                    return out;
                }
            };
            for obj in objs {
                let name = obj.metadata.name.clone().unwrap_or_default();
                // Never touch a look-alike: it must carry this instance's name label too.
                if labels(&obj).get(LABEL_NAME) != Some(&existing.name) {
                    continue;
                }
                // A `dataVolumeTemplates` disk belongs to its VM: it goes with it.
                if kind == Kind::DataVolume && owned_by_vm(&obj) {
                    out.reports.push(ResourceReport::new(
                        &existing.name,
                        kind.name(),
                        &name,
                        Outcome::Deleted,
                        "goes with its VM (lifecycle with_vm)",
                    ));
                    continue;
                }
                let reason = match self.kube.delete(kind, &name).await {
                    Ok(true) => "deleted",
                    Ok(false) => "already gone",
                    Err(e) => {
                        // Deleting a disk or secret under a VM that could not be deleted
                        // helps no one: stop here, the engine decides whether to try again.
                        out.error = Some(classify(&e));
                        out.resource = Some((kind.name().to_string(), name));
                        return out;
                    }
                };
                out.reports.push(ResourceReport::new(
                    &existing.name,
                    kind.name(),
                    &name,
                    Outcome::Deleted,
                    reason,
                ));
            }
        }
        self.delete_shared_if_last(existing, &mut out).await;
        out
    }

    async fn status(
        &self,
        scope: &Scope,
        options: &StatusOptions,
    ) -> Result<Vec<InstanceStatus>, ProviderError> {
        if let Some(select) = &scope.select {
            return self
                .selected_status(select, scope.spec.as_deref().unwrap_or_default(), options)
                .await;
        }
        let sel = selector(
            &self.project,
            scope.spec.as_deref(),
            scope.target.as_deref(),
        );
        // Every list at once (the instances' objects, their VMIs, the Events), each paged
        // on its own: the longest list sets the time, not their sum.
        let (groups, vmis, events) = futures::join!(
            self.grouped(scope),
            self.owned(Kind::Vmi, &sel, scope.spec.as_deref()),
            self.status_events(options.events),
        );
        let groups = groups?;
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let vmis = vmis?;
        let vmis = by_name(&vmis);
        let index = EventIndex::new(events_read(&events));
        let mut out = Vec::with_capacity(groups.len());
        for (name, g) in &groups {
            let vm = g.find(Kind::Vm);
            let dv = g.named(Kind::DataVolume, &disk_name(name));
            let state = match vm {
                Some(vm) => str_at(&vm.data, "/status/printableStatus")
                    .unwrap_or("Unknown")
                    .to_string(),
                None => "Incomplete".to_string(),
            };
            let created_from = vm.or_else(|| g.objects.first().map(|(_, o)| o));
            let mut row = InstanceStatus {
                name: name.clone(),
                spec: g.spec.clone(),
                state,
                size: vm.and_then(|v| vm_size(&v.data)),
                disk: dv.and_then(|d| disk_column(&d.data)),
                created: created_from
                    .and_then(|o| o.metadata.creation_timestamp.as_ref())
                    .map(|t| t.0.to_string()),
                id: created_from
                    .and_then(|o| o.metadata.uid.clone())
                    .unwrap_or_default(),
                extra: StatusExtra {
                    namespace: Some(self.kube.namespace().to_string()),
                    ..StatusExtra::default()
                },
                ..InstanceStatus::default()
            };
            if let Some(vmi) = vmis.get(name.as_str()) {
                rows::describe_vmi(&mut row, &vmi.data);
                // A guest without an agent reports no bridge address: the NAD's static one
                // is it, as `deploy --wait` says too.
                if row.ips.is_empty()
                    && str_at(&vmi.data, "/status/phase") == Some("Running")
                    && let Some(ip) = g
                        .find(Kind::Nad)
                        .and_then(|n| str_at(&n.data, "/spec/config"))
                        .and_then(static_address)
                {
                    row.ip = Some(ip.clone());
                    row.ips = vec![ip];
                }
            }
            if options.events > 0 {
                // Every disk the VM names (root, data disks), or the root one before the VM.
                let disks = vm.map_or_else(|| vec![disk_name(name)], |vm| vm_disks(&vm.data));
                let newest = index.newest(name, &disks, options.events);
                rows::attach_events(&mut row, &newest);
            }
            out.push(row);
        }
        Ok(out)
    }

    async fn adopt(&self, _plan: &Plan, _id: &str) -> Result<ResourceReport, ProviderError> {
        // The capability leaves `adopt` out; a VM is adopted by labelling it (`oc label`).
        Err(ProviderError::new(
            ErrorClass::Invalid,
            "`adopt` is for OCI instances; label a VirtualMachine with `oc label` instead",
        ))
    }

    async fn power(
        &self,
        existing: &Existing,
        action: Power,
        wait: Option<Duration>,
    ) -> Result<ResourceReport, ProviderError> {
        let name = existing.name.as_str();
        let (verb, done, want) = match action {
            Power::Start => (PowerVerb::Start, "started", "Running"),
            // KubeVirt's stop is already a guest shutdown within the VM's grace period.
            Power::Stop | Power::SoftStop { .. } => (PowerVerb::Stop, "stopped", "Stopped"),
        };
        let report = |outcome, reason: String| {
            ResourceReport::new(name, Kind::Vm.name(), name, outcome, reason)
        };
        // Only a VM carrying our labels is started or stopped.
        match self
            .kube
            .get(Kind::Vm, name)
            .await
            .map_err(|e| classify(&e))?
        {
            Some(vm) if is_owned(&labels(&vm), &self.project, Some(&existing.spec)) => {}
            // A VM a `select:` spec picked: power actions only, and it was listed just now.
            Some(_) if !existing.owned => {}
            Some(_) => {
                return Err(ProviderError::new(
                    ErrorClass::Invalid,
                    "exists and is not managed by vauto",
                ));
            }
            None => {
                return Err(ProviderError::new(
                    ErrorClass::NotFound,
                    "virtual machine does not exist",
                ));
            }
        }
        match self
            .kube
            .power(name, verb)
            .await
            .map_err(|e| classify(&e))?
        {
            PowerOutcome::Accepted => {}
            PowerOutcome::AlreadyThere(message) => {
                let msg = message.trim().trim_end_matches('.').to_string();
                let reason = if msg.is_empty() {
                    format!("already {}", want.to_lowercase())
                } else {
                    msg.to_lowercase()
                };
                return Ok(report(Outcome::Skipped, reason));
            }
        }
        if let Some(timeout) = wait {
            self.power_wait(name, want, timeout).await?;
        }
        Ok(report(Outcome::Success, done.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn disk_column_shows_phase_and_progress() {
        let dv = json!({"status": {"phase": "ImportInProgress", "progress": "45.20%"}});
        assert_eq!(disk_column(&dv).as_deref(), Some("ImportInProgress 45.20%"));
        let dv = json!({"status": {"phase": "Succeeded", "progress": "100.0%"}});
        assert_eq!(disk_column(&dv).as_deref(), Some("Succeeded"));
        let dv = json!({"status": {"phase": "Pending", "progress": "N/A"}});
        assert_eq!(disk_column(&dv).as_deref(), Some("Pending"));
        assert_eq!(disk_column(&json!({})), None);
        assert_eq!(parse_percent("45.20%"), Some(45.2));
        assert_eq!(parse_percent("N/A"), None);
    }

    #[test]
    fn vmi_ip_skips_link_local_and_strips_prefix() {
        let vmi = json!({"status": {"interfaces": [
            {"name": "net0", "ipAddresses": ["fe80::1", "192.168.10.101/24"]},
        ]}});
        assert_eq!(vmi_ip(&vmi).as_deref(), Some("192.168.10.101"));
        let vmi =
            json!({"status": {"interfaces": [{"name": "default", "ipAddress": "10.128.2.17"}]}});
        assert_eq!(vmi_ip(&vmi).as_deref(), Some("10.128.2.17"));
        assert_eq!(
            vmi_ip(&json!({"status": {"interfaces": [{"name": "x"}]}})),
            None
        );
    }

    #[test]
    fn static_address_comes_from_the_nad_config() {
        let ip = crate::plan::StaticIp {
            address: "192.168.10.102".parse().unwrap(),
            prefix_len: 24,
            netmask: "255.255.255.0".parse().unwrap(),
            gateway: None,
            dns: vec![],
        };
        let cfg = resources::cni_config("web-02", "br1", &ip);
        assert_eq!(static_address(&cfg).as_deref(), Some("192.168.10.102"));
        assert_eq!(static_address("not json"), None);
    }

    #[test]
    fn vm_size_reads_cores_and_memory() {
        let vm = json!({"spec": {"template": {"spec": {"domain": {"cpu": {"cores": 2}, "memory": {"guest": "4Gi"}}}}}});
        assert_eq!(vm_size(&vm).as_deref(), Some("2 cpu/4Gi"));
        let vm = json!({"spec": {"instancetype": {"kind": "VirtualMachineClusterInstancetype", "name": "u1.medium"},
                                 "template": {"spec": {"domain": {}}}}});
        assert_eq!(vm_size(&vm).as_deref(), Some("u1.medium"));
    }

    fn event(kind: &str, name: &str, reason: &str, msg: &str, at: &str) -> KubeEvent {
        serde_json::from_value(json!({
            "metadata": {"name": format!("{name}.{reason}")},
            "involvedObject": {"kind": kind, "name": name},
            "reason": reason,
            "message": msg,
            "lastTimestamp": at,
        }))
        .unwrap()
    }

    #[test]
    fn last_event_is_the_newest_about_the_vm_vmi_or_disk() {
        let events = vec![
            event(
                "VirtualMachine",
                "web-01",
                "SuccessfulCreate",
                "Started the virtual machine",
                "2026-01-01T10:00:00Z",
            ),
            event(
                "DataVolume",
                "web-01-disk",
                "ImportInProgress",
                "Import into web-01-disk in progress",
                "2026-01-01T10:05:00Z",
            ),
            // Newer, but about another instance.
            event(
                "VirtualMachine",
                "web-02",
                "Deleted",
                "gone",
                "2026-01-01T11:00:00Z",
            ),
            // Newer, same name but a kind we do not look at.
            event(
                "Pod",
                "web-01",
                "Pulled",
                "image pulled",
                "2026-01-01T11:00:00Z",
            ),
        ];
        let last = |events: &[KubeEvent]| {
            let index = EventIndex::new(events);
            let newest = index.newest("web-01", &["web-01-disk".to_string()], 1);
            newest.first().map(|e| event_line(e))
        };
        assert_eq!(
            last(&events).as_deref(),
            Some("ImportInProgress: Import into web-01-disk in progress")
        );
        assert_eq!(last(&events[2..]), None);
    }

    #[test]
    fn same_second_events_are_ordered_by_resource_version() {
        let at = "2026-01-01T10:00:08Z";
        let mut started = event("VirtualMachineInstance", "web-01", "Started", "started", at);
        started.metadata.resource_version = Some("42".into());
        let mut created = event("VirtualMachineInstance", "web-01", "Created", "defined", at);
        created.metadata.resource_version = Some("41".into());
        // Whatever order the list returns them in (it is by name).
        for events in [
            vec![started.clone(), created.clone()],
            vec![created, started],
        ] {
            assert_eq!(
                newest(events.iter()).map(event_line).as_deref(),
                Some("Started: started")
            );
        }
    }

    #[test]
    fn the_selector_matches_the_labels_the_manifests_carry() {
        // `list`/`delete` select by `plan::selector`; every manifest must match it.
        let sel = selector("lab", Some("web"), Some("web-01"));
        let labels = crate::plan::ownership_labels("lab", "web", "web-01");
        for term in sel.split(',') {
            let (k, v) = term.split_once('=').unwrap();
            assert_eq!(labels.get(k).map(String::as_str), Some(v), "{term}");
        }
        assert_eq!(resources::secret_name("web-01"), "web-01-cloudinit");
    }
}
