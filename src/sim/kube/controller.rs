//! The simulated CDI and KubeVirt controllers, computed lazily from stored timestamps.
//!
//! Every request first calls [`reconcile`] with the current wall-clock time. Each
//! object's state is a pure function of its stored creation / start / stop times and
//! `now`, so a `status` run in a new process sees exactly what a long-running
//! controller would have produced. Events carry the computed transition times.

use serde_json::{Map, Value, json};

use super::SimNode;
use super::catalog::{self, SimStorageClass};
use super::store::{
    CONFIGMAPS, DVS, EVENTS, Entry, ResourceDef, SECRETS, SimMeta, Store, VMIS, VMS, Walk, key,
    launcher_pod_name, new_uid, rfc3339, stamp_new, uid_of,
};
use super::validate::nad_static_ip;

/// Settings the controllers need.
pub(crate) struct Ctx<'a> {
    pub nodes: &'a [SimNode],
    /// The cluster's storage classes, for `WaitForFirstConsumer` binding.
    pub storage_classes: &'a [SimStorageClass],
    /// Boot length given to VMIs created now.
    pub boot_ms: u64,
    /// How long a stopping VM keeps its VMI (printableStatus `Stopping`).
    pub stop_ms: u64,
    /// Guests run a guest agent (see `guest`).
    pub guest_agent: bool,
    pub now: i64,
}

/// An Event waiting to be recorded.
struct PendingEvent {
    def: ResourceDef,
    namespace: String,
    name: String,
    uid: String,
    resource_version: String,
    reason: &'static str,
    message: String,
    warning: bool,
    component: &'static str,
    at: i64,
}

impl PendingEvent {
    fn about(
        entry: &Entry,
        def: ResourceDef,
        reason: &'static str,
        message: String,
        at: i64,
    ) -> Self {
        Self {
            def,
            namespace: entry.namespace.clone(),
            name: entry.name.clone(),
            uid: uid_of(&entry.object).to_string(),
            resource_version: entry
                .object
                .at("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            reason,
            message,
            warning: false,
            component: "virt-controller",
            at,
        }
    }
}

/// FNV-1a: a stable hash for deterministic names, addresses and node picks.
pub(crate) fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether the VM asks for a running VMI: its spec, and for `Manual` / `RerunOnFailure` the
/// last start or stop request (`requested`). KubeVirt's VM controller starts a `Manual` VM
/// only on a start request and a `RerunOnFailure` VM unless it was stopped
/// (kubevirt/kubevirt pkg/virt-controller/watch/vm/vm.go, `syncRunStrategy`).
pub(crate) fn desired_running(vm: &Value, requested: Option<bool>) -> bool {
    match vm.at("/spec/runStrategy").and_then(Value::as_str) {
        Some("Always" | "Once") => true,
        Some("RerunOnFailure") => requested.unwrap_or(true),
        Some("Manual") => requested.unwrap_or(false),
        Some(_) => false,
        None => vm
            .at("/spec/running")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

/// The stored objects of one resource type, in key order.
fn entries_of<'a>(store: &'a Store, plural: &str) -> impl Iterator<Item = (&'a String, &'a Entry)> {
    let prefix = format!("{plural}/");
    store
        .objects
        .range(prefix.clone()..)
        .take_while(move |(k, _)| k.starts_with(&prefix))
}

/// A recomputed status, found while reading the store and written back afterwards.
struct Update {
    key: String,
    status: Value,
    /// VMI: the `kubevirt.io/nodeName` label once scheduled.
    node_label: Option<String>,
    /// Transitions announced with this update.
    emitted: Vec<&'static str>,
}

/// Writes back recomputed statuses, bumping resourceVersion only when an object changed
/// (a changed announcement list alone is simulator bookkeeping: saved, not versioned).
fn apply(store: &mut Store, updates: Vec<Update>) {
    for u in updates {
        let Some(entry) = store.objects.get_mut(&u.key) else {
            continue;
        };
        let mut changed = entry.object.get("status") != Some(&u.status);
        if changed {
            set_status(&mut entry.object, u.status);
        }
        if let Some(node) = u.node_label
            && let Some(labels) = entry
                .object
                .pointer_mut("/metadata/labels")
                .and_then(Value::as_object_mut)
            && labels.get("kubevirt.io/nodeName").and_then(Value::as_str) != Some(node.as_str())
        {
            labels.insert("kubevirt.io/nodeName".into(), Value::String(node));
            changed = true;
        }
        let mut sim_changed = false;
        for reason in u.emitted {
            sim_changed |= entry.sim.emitted.insert(reason.to_string());
        }
        if changed {
            store.bump(&u.key);
        } else if sim_changed {
            store.touch(&u.key);
        }
    }
}

fn set_status(obj: &mut Value, status: Value) {
    if let Some(map) = obj.as_object_mut() {
        map.insert("status".into(), status);
    }
}

/// Runs every controller once at `ctx.now`.
///
/// Runs on every request, so it reads the store first and writes back only what changed:
/// settled objects cost a few comparisons, not a copy.
pub(crate) fn reconcile(store: &mut Store, ctx: &Ctx<'_>, rng: &mut fastrand::Rng) {
    let mut events = Vec::new();
    let updates: Vec<Update> = entries_of(store, DVS.plural)
        .filter_map(|(k, e)| datavolume(store, k, e, ctx, &mut events))
        .collect();
    apply(store, updates);
    let actions: Vec<(String, Lifecycle)> = entries_of(store, VMS.plural)
        .filter_map(|(k, vm)| lifecycle(store, vm, ctx).map(|a| (k.clone(), a)))
        .collect();
    for (k, action) in actions {
        if let Some(vm) = store.objects.get(&k).cloned() {
            run_lifecycle(store, &vm, action, ctx, rng, &mut events);
        }
    }
    let updates: Vec<Update> = entries_of(store, VMIS.plural)
        .filter_map(|(k, e)| vmi_status(store, k, e, ctx, &mut events))
        .collect();
    apply(store, updates);
    let updates: Vec<Update> = entries_of(store, VMS.plural)
        .filter_map(|(k, e)| vm_status(store, k, e, ctx))
        .collect();
    apply(store, updates);
    for ev in events {
        record_event(store, ev, ctx.now, rng);
    }
}

/// When a DataVolume's import completes; `None` while it waits for its first consumer.
fn dv_done_at(store: &Store, dv: &Entry, ctx: &Ctx<'_>) -> Option<i64> {
    dv_start(store, dv, ctx).map(|start| start + dv.sim.import_ms as i64)
}

/// When a DataVolume's import starts: at creation, or, when its storage class binds
/// `WaitForFirstConsumer`, once a VM using it is wanted running (KubeVirt then schedules
/// the pod that consumes the PVC; CDI's populator waits in `PendingPopulation` until then,
/// containerized-data-importer doc/waitforfirstconsumer-storage-handling.md). `None`: no
/// consumer yet.
fn dv_start(store: &Store, dv: &Entry, ctx: &Ctx<'_>) -> Option<i64> {
    let at = |p: &str| dv.object.at(p).and_then(Value::as_str);
    let class = at("/spec/storage/storageClassName").or_else(|| at("/spec/pvc/storageClassName"));
    if catalog::binding_mode(ctx.storage_classes, class) != Some("WaitForFirstConsumer") {
        return Some(dv.sim.created_ms);
    }
    entries_of(store, VMS.plural)
        .filter(|(_, vm)| vm.namespace == dv.namespace)
        .filter(|(_, vm)| vm_volume_names(vm).any(|n| n == dv.name))
        .filter(|(_, vm)| desired_running(&vm.object, vm.sim.requested_run))
        .filter_map(|(_, vm)| vm.sim.run_since_ms.or(Some(vm.sim.created_ms)))
        .min()
        .map(|since| since.max(dv.sim.created_ms))
        .filter(|since| *since <= ctx.now)
}

/// The ConfigMap or Secret an import names (`certConfigMap`, `secretRef`) that does not
/// exist: the importer pod cannot mount it and stays `ContainerCreating` (kubelet's
/// `MountVolume.SetUp failed for volume "cdi-cert-vol" : configmap "x" not found`; CDI's
/// importer pod mounts the CA ConfigMap as volume `cdi-cert-vol`, pkg/controller/import-controller.go).
fn missing_mount(store: &Store, dv: &Entry) -> Option<String> {
    let source = dv
        .object
        .at("/spec/source/registry")
        .or_else(|| dv.object.at("/spec/source/http"))?;
    [
        (
            "certConfigMap",
            CONFIGMAPS.plural,
            "configmap",
            "cdi-cert-vol",
        ),
        ("secretRef", SECRETS.plural, "secret", "cdi-secret-vol"),
    ]
    .into_iter()
    .find_map(|(field, plural, what, volume)| {
        let name = source.get(field).and_then(Value::as_str)?;
        (!store
            .objects
            .contains_key(&key(plural, &dv.namespace, name)))
        .then(|| {
            format!(
                "MountVolume.SetUp failed for volume \"{volume}\" : {what} \"{name}\" not found"
            )
        })
    })
}

/// The status of a DataVolume that cannot start: waiting for its first consumer, or for a
/// ConfigMap or Secret its importer pod mounts (a Warning `FailedMount` Event on the pod,
/// once).
fn pending_datavolume(
    key: &str,
    entry: &Entry,
    now: i64,
    events: &mut Vec<PendingEvent>,
    mount: Option<String>,
) -> Option<Update> {
    let start = entry.sim.created_ms;
    let (phase, running_reason) = match &mount {
        Some(_) => ("ImportScheduled", "ContainerCreating"),
        None => ("PendingPopulation", ""),
    };
    let mut due = Vec::new();
    if let Some(message) = mount
        && !entry.sim.emitted.contains("FailedMount")
    {
        let mut ev = PendingEvent::about(entry, POD, "FailedMount", message, now);
        ev.name = format!("importer-{}", entry.name);
        ev.uid = String::new();
        ev.component = "kubelet";
        ev.warning = true;
        events.push(ev);
        due.push("FailedMount");
    }
    if due.is_empty() && entry.object.at("/status/phase").and_then(Value::as_str) == Some(phase) {
        return None;
    }
    let cond = |t: &str, ok: bool, reason: &str| {
        json!({"type": t, "status": if ok { "True" } else { "False" }, "reason": reason,
               "lastTransitionTime": rfc3339(start), "lastHeartbeatTime": rfc3339(start)})
    };
    let status = json!({
        "phase": phase,
        "progress": "N/A",
        "claimName": entry.name,
        "conditions": [
            cond("Bound", phase != "PendingPopulation", if phase == "PendingPopulation" { "Pending" } else { "Bound" }),
            cond("Ready", false, if phase == "PendingPopulation" { "" } else { "TransferRunning" }),
            cond("Running", false, running_reason),
        ],
    });
    Some(Update {
        key: key.to_string(),
        status,
        node_label: None,
        emitted: due,
    })
}

/// Stands for the importer Pod in Events (Pods are not stored).
const POD: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    plural: "pods",
    kind: "Pod",
    schema: "",
    draft7: false,
    status_subresource: false,
};

/// How often CDI copies an importer's progress into its DataVolume: it polls the importer
/// pod's metrics every 2 s (containerized-data-importer PR #595 "Update Datavolume status to
/// include progress", `scheduleProgressUpdate`; `kubectl get dv -w` shows steps 2 s apart).
/// Between polls the status, and so the resourceVersion, stays the same.
const PROGRESS_TICK_MS: i64 = 2000;

fn datavolume(
    store: &Store,
    key: &str,
    entry: &Entry,
    ctx: &Ctx<'_>,
    events: &mut Vec<PendingEvent>,
) -> Option<Update> {
    let now = ctx.now;
    if let Some(message) = import_failure(&entry.object) {
        return failing_datavolume(key, entry, now, events, message);
    }
    if let Some(mount) = missing_mount(store, entry) {
        return pending_datavolume(key, entry, now, events, Some(mount));
    }
    let Some(start) = dv_start(store, entry, ctx) else {
        return pending_datavolume(key, entry, now, events, None);
    };
    let total = entry.sim.import_ms as i64;
    let sched = total / 10;
    let clone = entry.object.at("/spec/source/pvc").is_some()
        || entry.object.at("/spec/sourceRef").is_some();
    let (scheduled, running, done) = if clone {
        ("CloneScheduled", "CloneInProgress", "CloneSucceeded")
    } else {
        ("ImportScheduled", "ImportInProgress", "ImportSucceeded")
    };
    let (phase, progress) = if now >= start + total {
        ("Succeeded", "100.00%".to_string())
    } else if now < start + sched {
        (scheduled, "N/A".to_string())
    } else {
        // As of CDI's last look at the importer's metrics, every PROGRESS_TICK_MS.
        let elapsed = now - start - sched;
        let seen = elapsed - elapsed % PROGRESS_TICK_MS;
        let frac = seen as f64 / (total - sched).max(1) as f64;
        (running, format!("{:.2}%", (frac * 100.0).clamp(0.0, 100.0)))
    };
    let due: Vec<(&'static str, i64)> = [
        (scheduled, start),
        (running, start + sched),
        (done, start + total),
    ]
    .into_iter()
    .filter(|(reason, at)| now >= *at && !entry.sim.emitted.contains(*reason))
    .collect();
    let shown = |f: &str| entry.object.at(f).and_then(Value::as_str);
    if due.is_empty()
        && shown("/status/phase") == Some(phase)
        && shown("/status/progress") == Some(progress.as_str())
    {
        // The rest of the status follows from the phase.
        return None;
    }
    let name = &entry.name;
    for &(reason, at) in &due {
        let message = if reason == scheduled {
            format!("Import into {name} scheduled")
        } else if reason == running {
            format!("Import into {name} in progress")
        } else {
            format!("Successfully imported into PVC {name}")
        };
        let mut ev = PendingEvent::about(entry, DVS, reason, message, at);
        ev.component = "datavolume-import-controller";
        events.push(ev);
    }
    let ready = phase == "Succeeded";
    let cond = |t: &str, ok: bool, reason: &str| {
        json!({"type": t, "status": if ok { "True" } else { "False" }, "reason": reason,
               "lastTransitionTime": rfc3339(start), "lastHeartbeatTime": rfc3339(start)})
    };
    let status = json!({
        "phase": phase,
        "progress": progress,
        "claimName": name,
        "conditions": [
            cond("Bound", true, "Bound"),
            cond("Ready", ready, if ready { "Completed" } else { "TransferRunning" }),
            cond("Running", !ready, if ready { "Completed" } else { "Pod is running" }),
        ],
    });
    Some(Update {
        key: key.to_string(),
        status,
        node_label: None,
        emitted: due.into_iter().map(|(reason, _)| reason).collect(),
    })
}

/// The host of a DataVolume's http or registry source (`docker://host:5000/x` → `host`).
fn source_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.split(':').next().unwrap_or(host)
}

/// The error CDI's importer reports for a source the simulator treats as unreachable: a host
/// under `.invalid`, the top-level domain that never resolves (RFC 2606).
///
/// The text is CDI's: `Unable to connect to http data source` wrapping the importer's
/// `HTTP request errored` and Go's DNS error (containerized-data-importer
/// `pkg/importer/http-datasource.go`, and `tests/datavolume_test.go` "fail creating import dv
/// due to invalid DNS entry"); a registry source fails in `Failed to read registry image`
/// under `Unable to process data: Unable to transfer source data to scratch space`
/// (`pkg/importer/registry-datasource.go`), here with containers/image's ping error.
fn import_failure(dv: &Value) -> Option<String> {
    let at = |p: &str| dv.at(p).and_then(Value::as_str);
    if let Some(url) = at("/spec/source/http/url") {
        let host = source_host(url);
        return host.ends_with(".invalid").then(|| {
            format!(
                "Unable to connect to http data source: HTTP request errored: Get \"{url}\": dial tcp: lookup {host}: no such host"
            )
        });
    }
    let host = source_host(at("/spec/source/registry/url")?);
    host.ends_with(".invalid").then(|| {
        format!(
            "Unable to process data: Unable to transfer source data to scratch space: Failed to read registry image: pinging container registry {host}: Get \"https://{host}/v2/\": dial tcp: lookup {host}: no such host"
        )
    })
}

/// When an import that cannot reach its source first fails: as soon as its pod runs.
fn import_fails_at(sim: &SimMeta) -> i64 {
    sim.created_ms + sim.import_ms as i64 / 10
}

/// Importer pod restarts `since` ms after its first failure: the kubelet's crash-loop back-off
/// waits 10 s, doubling up to 5 min, before each restart.
fn importer_restarts(since: i64) -> u32 {
    let (mut restarts, mut at, mut backoff) = (0u32, 0i64, 10_000i64);
    while restarts < 1000 && at + backoff <= since {
        at += backoff;
        restarts += 1;
        backoff = (backoff * 2).min(300_000);
    }
    restarts
}

/// A DataVolume whose import cannot reach its source, as CDI shows it: it is scheduled, then
/// stays `ImportInProgress` for good while the importer pod restarts (CDI never moves it to
/// `Failed`), with a `Running` condition `False`/`Error` carrying the importer's message and a
/// Warning Event of the same reason and message, sent once as CDI's
/// `emitFailureConditionEvent` does (`pkg/controller/datavolume/controller-base.go`).
fn failing_datavolume(
    key: &str,
    entry: &Entry,
    now: i64,
    events: &mut Vec<PendingEvent>,
    message: String,
) -> Option<Update> {
    let start = entry.sim.created_ms;
    let fails_at = import_fails_at(&entry.sim);
    let failed = now >= fails_at;
    let phase = if failed {
        "ImportInProgress"
    } else {
        "ImportScheduled"
    };
    let restarts = if failed {
        importer_restarts(now - fails_at)
    } else {
        0
    };
    let shown = |f: &str| entry.object.at(f);
    let due: Vec<(&'static str, i64)> = [("ImportScheduled", start), ("Error", fails_at)]
        .into_iter()
        .filter(|(reason, at)| now >= *at && !entry.sim.emitted.contains(*reason))
        .collect();
    if due.is_empty()
        && shown("/status/phase").and_then(Value::as_str) == Some(phase)
        && shown("/status/restartCount").and_then(Value::as_u64) == Some(u64::from(restarts))
    {
        return None;
    }
    let name = &entry.name;
    for &(reason, at) in &due {
        let text = if reason == "Error" {
            message.clone()
        } else {
            format!("Import into {name} scheduled")
        };
        let mut ev = PendingEvent::about(entry, DVS, reason, text, at);
        ev.component = "datavolume-import-controller";
        ev.warning = reason == "Error";
        events.push(ev);
    }
    let cond = |t: &str, ok: bool, reason: &str, msg: &str, at: i64| {
        json!({"type": t, "status": if ok { "True" } else { "False" }, "reason": reason,
               "message": msg, "lastTransitionTime": rfc3339(at), "lastHeartbeatTime": rfc3339(at)})
    };
    let running = if failed {
        cond("Running", false, "Error", &message, fails_at)
    } else {
        cond("Running", false, "", "", start)
    };
    let status = json!({
        "phase": phase,
        "progress": "N/A",
        "restartCount": restarts,
        "claimName": name,
        "conditions": [
            cond("Bound", true, "Bound", &format!("PVC {name} Bound"), start),
            cond("Ready", false, "TransferRunning", "", start),
            running,
        ],
    });
    Some(Update {
        key: key.to_string(),
        status,
        node_label: None,
        emitted: due.into_iter().map(|(reason, _)| reason).collect(),
    })
}

/// Whether any DataVolume of `vm` has an import KubeVirt counts as failed by `now`.
fn volumes_failed(store: &Store, vm: &Entry, now: i64) -> bool {
    vm_volume_names(vm).any(|name| {
        store
            .objects
            .get(&key(DVS.plural, &vm.namespace, name))
            .is_some_and(|e| import_failure(&e.object).is_some() && now >= import_fails_at(&e.sim))
    })
}

/// The DataVolume names among a VM's volumes.
fn vm_volume_names(vm: &Entry) -> impl Iterator<Item = &str> {
    vm.object
        .at("/spec/template/spec/volumes")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|v| v.at("/dataVolume/name").and_then(Value::as_str))
}

/// DataVolumes the VM's disks come from; `None` when one is missing, else when all are ready.
fn volumes_ready_at(store: &Store, vm: &Entry, ctx: &Ctx<'_>) -> Option<i64> {
    let mut ready = 0i64;
    let volumes = vm
        .object
        .at("/spec/template/spec/volumes")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for vol in volumes {
        let dv = vol
            .at("/dataVolume/name")
            .and_then(Value::as_str)
            .map(|n| (n, true))
            .or_else(|| {
                vol.at("/persistentVolumeClaim/claimName")
                    .and_then(Value::as_str)
                    .map(|n| (n, false))
            });
        let Some((name, required)) = dv else {
            continue;
        };
        match store.objects.get(&key(DVS.plural, &vm.namespace, name)) {
            // An import that cannot reach its source never completes.
            Some(e) if import_failure(&e.object).is_some() => return None,
            Some(e) if missing_mount(store, e).is_some() => return None,
            Some(e) => ready = ready.max(dv_done_at(store, e, ctx)?),
            // A plain PVC that is no DataVolume is simply bound.
            None if !required => {}
            None => return None,
        }
    }
    Some(ready)
}

/// When KubeVirt's VM controller creates the VMI of `vm`, wanted running: once every
/// DataVolume of its `dataVolumeTemplates` is `Succeeded`, or waits for its first consumer
/// (`WaitForFirstConsumer`/`PendingPopulation`: the VMI's provisioning pod is that consumer);
/// a standalone DataVolume does not hold it back (kubevirt `pkg/virt-controller/watch/vm/vm.go`
/// `startVMI` → `handleDataVolumes`, which looks at the templates only). The VMI then stays
/// `Pending`, without a launcher pod, until its disks are imported (see [`launch_at`]).
/// `None`: a template's DataVolume is missing, failing or still importing.
fn vmi_due_at(store: &Store, vm: &Entry, ctx: &Ctx<'_>) -> Option<i64> {
    let since = vm.sim.run_since_ms.unwrap_or(vm.sim.created_ms);
    let templates = vm
        .object
        .at("/spec/dataVolumeTemplates")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut at = since;
    for name in templates
        .iter()
        .filter_map(|t| t.at("/metadata/name").and_then(Value::as_str))
    {
        let dv = store.objects.get(&key(DVS.plural, &vm.namespace, name))?;
        if import_failure(&dv.object).is_some() || missing_mount(store, dv).is_some() {
            return None;
        }
        let at_ = |p: &str| dv.object.at(p).and_then(Value::as_str);
        let class =
            at_("/spec/storage/storageClassName").or_else(|| at_("/spec/pvc/storageClassName"));
        let ready =
            if catalog::binding_mode(ctx.storage_classes, class) == Some("WaitForFirstConsumer") {
                dv.sim.created_ms
            } else {
                dv_done_at(store, dv, ctx)?
            };
        at = at.max(ready);
    }
    Some(at)
}

/// When the VMI's virt-launcher pod is created: once every disk is imported (kubevirt
/// `pkg/virt-controller/watch/vmi/vmi.go` `sync`: "Delaying pod creation while DataVolume
/// populates"), never before the VMI itself. `None`: not yet known (a disk is missing,
/// failing, or waits for a consumer) — the VMI stays `Pending`. A VMI whose VM is gone
/// launches at creation.
fn launch_at(store: &Store, vmi: &Entry, ctx: &Ctx<'_>) -> Option<i64> {
    match store
        .objects
        .get(&key(VMS.plural, &vmi.namespace, &vmi.name))
    {
        Some(vm) => volumes_ready_at(store, vm, ctx).map(|t| t.max(vmi.sim.created_ms)),
        None => Some(vmi.sim.created_ms),
    }
}

/// What the VM controller has to do for one VM now.
enum Lifecycle {
    /// Create the VMI, as of this time.
    Start(i64),
    /// Remove the stopping VMI, as of this time.
    Stop(i64),
}

fn lifecycle(store: &Store, vm: &Entry, ctx: &Ctx<'_>) -> Option<Lifecycle> {
    let vmi_exists = store
        .objects
        .contains_key(&key(VMIS.plural, &vm.namespace, &vm.name));
    if desired_running(&vm.object, vm.sim.requested_run) {
        if vmi_exists {
            return None;
        }
        let at = vmi_due_at(store, vm, ctx)?;
        (ctx.now >= at).then_some(Lifecycle::Start(at))
    } else if vmi_exists {
        let stop_at = vm.sim.stop_since_ms.unwrap_or(ctx.now) + ctx.stop_ms as i64;
        (ctx.now >= stop_at).then_some(Lifecycle::Stop(stop_at))
    } else {
        None
    }
}

fn run_lifecycle(
    store: &mut Store,
    vm: &Entry,
    action: Lifecycle,
    ctx: &Ctx<'_>,
    rng: &mut fastrand::Rng,
    events: &mut Vec<PendingEvent>,
) {
    match action {
        Lifecycle::Start(at) => create_vmi(store, vm, at, ctx, rng, events),
        Lifecycle::Stop(stop_at) => {
            if let Some(vmi) = store.remove_cascade(&key(VMIS.plural, &vm.namespace, &vm.name)) {
                events.push(PendingEvent::about(
                    vm,
                    VMS,
                    "SuccessfulDelete",
                    format!(
                        "Stopped the virtual machine by deleting the virtual machine instance {}",
                        uid_of(&vmi.object)
                    ),
                    stop_at,
                ));
            }
        }
    }
}

fn pick_node(
    nodes: &[SimNode],
    selector: Option<&Map<String, Value>>,
    seed: &str,
) -> Option<String> {
    let fits: Vec<&SimNode> = nodes
        .iter()
        .filter(|n| {
            selector.is_none_or(|sel| {
                sel.iter()
                    .all(|(k, v)| n.labels.get(k).map(String::as_str) == v.as_str())
            })
        })
        .collect();
    if fits.is_empty() {
        return None;
    }
    let i = (fnv(seed) % fits.len() as u64) as usize;
    Some(fits[i].name.clone())
}

fn create_vmi(
    store: &mut Store,
    vm: &Entry,
    at: i64,
    ctx: &Ctx<'_>,
    rng: &mut fastrand::Rng,
    events: &mut Vec<PendingEvent>,
) {
    let template = vm
        .object
        .at("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let selector = template.at("/spec/nodeSelector").and_then(Value::as_object);
    let node = pick_node(
        ctx.nodes,
        selector,
        &format!("{}/{}", vm.namespace, vm.name),
    );
    let mut obj = json!({
        "apiVersion": VMIS.api_version(),
        "kind": VMIS.kind,
        "metadata": {
            "name": vm.name,
            "labels": template.at("/metadata/labels").cloned().unwrap_or_else(|| json!({})),
            "annotations": template.at("/metadata/annotations").cloned().unwrap_or_else(|| json!({})),
            "ownerReferences": [{
                "apiVersion": VMS.api_version(), "kind": VMS.kind, "name": vm.name,
                "uid": uid_of(&vm.object), "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    });
    expand_instancetype(&vm.object, &mut obj);
    let uid = new_uid(rng);
    stamp_new(&mut obj, &VMIS, &vm.namespace, uid.clone(), at);
    let entry = Entry {
        plural: VMIS.plural.into(),
        namespace: vm.namespace.clone(),
        name: vm.name.clone(),
        object: obj,
        sim: SimMeta {
            created_ms: at,
            boot_ms: ctx.boot_ms,
            node,
            ..SimMeta::default()
        },
    };
    events.push(PendingEvent::about(
        vm,
        VMS,
        "SuccessfulCreate",
        format!(
            "Started the virtual machine by creating the new virtual machine instance {}",
            vm.name
        ),
        at,
    ));
    store.put(entry);
}

/// Puts a VM's instance type into its VMI's domain, as KubeVirt's VM controller does when it
/// makes the VMI: `cpu.guest` as sockets (v1beta1's default `preferSockets` topology) and
/// `memory.guest` (kubevirt `pkg/instancetype` ApplyToVmi).
fn expand_instancetype(vm: &Value, vmi: &mut Value) {
    let at = |p: &str| vm.at(p).and_then(Value::as_str);
    let Some(name) = at("/spec/instancetype/name") else {
        return;
    };
    let kind = at("/spec/instancetype/kind").unwrap_or("VirtualMachineClusterInstancetype");
    let Some((cpu, memory)) = catalog::instancetype(kind, name) else {
        return;
    };
    if let Some(domain) = vmi
        .pointer_mut("/spec/domain")
        .and_then(Value::as_object_mut)
    {
        domain.insert(
            "cpu".into(),
            json!({"sockets": cpu, "cores": 1, "threads": 1}),
        );
        domain.insert("memory".into(), json!({"guest": memory}));
    }
}

/// The VMI's interfaces: Multus static addresses first, then the pod network. A guest agent
/// adds what only the guest knows: a bridged interface's address and the IPv6 link-local
/// ones (see `guest`).
fn interfaces(store: &Store, vmi: &Entry, agent: bool) -> Vec<Value> {
    let networks = vmi
        .object
        .at("/spec/networks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| vec![json!({"name": "default", "pod": {}})]);
    let h = fnv(uid_of(&vmi.object));
    let mac = |i: u64| {
        let b = (h ^ i.wrapping_mul(0x9e37_79b9)).to_be_bytes();
        format!(
            "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[3], b[4], b[5], b[6], b[7]
        )
    };
    // (network name, address, bridged: only the guest knows the address).
    let mut multus = Vec::new();
    let mut pod = Vec::new();
    for net in &networks {
        let name = net.get("name").and_then(Value::as_str).unwrap_or("default");
        if let Some(nad_ref) = net.at("/multus/networkName").and_then(Value::as_str) {
            let (ns, nad_name) = nad_ref
                .split_once('/')
                .unwrap_or((vmi.namespace.as_str(), nad_ref));
            let ip = store
                .objects
                .get(&key(super::store::NADS.plural, ns, nad_name))
                .and_then(|e| nad_static_ip(&e.object));
            multus.push((name.to_string(), ip, true));
        } else if net.get("pod").is_some() {
            let ip = format!("10.128.{}.{}", (h >> 8) % 256, (h % 253) + 2);
            pod.push((name.to_string(), Some(ip), false));
        }
    }
    multus
        .into_iter()
        .chain(pod)
        .enumerate()
        .map(|(i, (name, ip, bridged))| {
            let mac = mac(i as u64);
            let source = match (agent, bridged) {
                (true, true) => "domain, guest-agent, multus-status",
                (true, false) => "domain, guest-agent",
                (false, true) => "domain, multus-status",
                (false, false) => "domain",
            };
            let mut ips: Vec<String> = ip.into_iter().filter(|_| agent || !bridged).collect();
            if agent {
                ips.extend(super::guest::link_local(&mac));
            }
            let mut iface = json!({
                "name": name,
                "interfaceName": format!("eth{i}"),
                "mac": mac,
                "infoSource": source,
                "queueCount": 1,
            });
            if let (Some(first), Some(map)) = (ips.first(), iface.as_object_mut()) {
                map.insert("ipAddress".into(), json!(first));
                map.insert("ipAddresses".into(), json!(ips));
            }
            iface
        })
        .collect()
}

/// Where a VMI is in its boot, computed from its creation time and assigned node.
struct VmiClock<'a> {
    start: i64,
    sched_at: i64,
    run_at: i64,
    node: Option<&'a str>,
    /// The node once the VMI shows as scheduled.
    node_shown: Option<&'a str>,
    phase: &'static str,
    running: bool,
}

impl<'a> VmiClock<'a> {
    /// The clock of a VMI whose launcher pod is created at `launch` (`None`: not yet).
    fn of(entry: &'a Entry, launch: Option<i64>, now: i64) -> Self {
        let launched = launch.filter(|l| now >= *l);
        let start = launch.unwrap_or(i64::MAX);
        let boot = entry.sim.boot_ms as i64;
        let sched_at = start.saturating_add(boot / 3);
        let run_at = start.saturating_add(boot);
        let node = entry.sim.node.as_deref();
        let phase = match node {
            _ if launched.is_none() => "Pending",
            Some(_) if now >= run_at => "Running",
            Some(_) if now >= sched_at => "Scheduled",
            _ => "Scheduling",
        };
        VmiClock {
            start,
            sched_at,
            run_at,
            node,
            node_shown: node.filter(|_| now >= sched_at),
            phase,
            running: phase == "Running",
        }
    }

    /// The launcher pod exists.
    fn launched(&self) -> bool {
        self.phase != "Pending"
    }
}

fn vmi_status(
    store: &Store,
    key: &str,
    entry: &Entry,
    ctx: &Ctx<'_>,
    events: &mut Vec<PendingEvent>,
) -> Option<Update> {
    let clock = VmiClock::of(entry, launch_at(store, entry, ctx), ctx.now);
    let n = ctx.nodes.len();
    let due = vmi_due_events(entry, &clock, ctx.now, n);
    let shown = |f: &str| entry.object.at(f);
    if due.is_empty()
        && shown("/status/phase").and_then(Value::as_str) == Some(clock.phase)
        && shown("/status/nodeName").and_then(Value::as_str) == clock.node_shown
        && shown("/status/interfaces").is_some() == clock.running
    {
        // Everything else in the status follows from these and the fixed creation data.
        return None;
    }
    let mut emitted = Vec::with_capacity(due.len());
    for (reason, message, at) in due {
        let mut ev = PendingEvent::about(entry, VMIS, reason, message, at);
        ev.component = match reason {
            "Created" | "Started" => "virt-handler",
            "SuccessfulCreate" => "virt-controller",
            _ => "default-scheduler",
        };
        ev.warning = reason == "FailedScheduling";
        if matches!(reason, "Scheduled" | "FailedScheduling") {
            // The scheduler reports on the pod it places, the launcher pod, not on the VMI
            // (kube-scheduler `schedule_one.go`: `Successfully assigned ns/pod to node`).
            let vmi_uid = uid_of(&entry.object);
            ev.def = POD;
            ev.name = launcher_pod_name(&entry.name, vmi_uid);
            ev.uid = super::api::launcher_pod_uid(vmi_uid);
            ev.resource_version = String::new();
        }
        events.push(ev);
        emitted.push(reason);
    }
    Some(Update {
        key: key.to_string(),
        status: vmi_status_body(store, entry, &clock, ctx, n),
        node_label: clock.node_shown.map(str::to_string),
        emitted,
    })
}

/// The scheduler and virt-handler events this VMI has reached but not yet announced.
fn vmi_due_events(
    entry: &Entry,
    clock: &VmiClock<'_>,
    now: i64,
    n: usize,
) -> Vec<(&'static str, String, i64)> {
    let mut due: Vec<(&'static str, String, i64)> = Vec::new();
    let mut announce = |reason: &'static str, message: &dyn Fn() -> String, at: i64| {
        if !entry.sim.emitted.contains(reason) {
            due.push((reason, message(), at));
        }
    };
    if !clock.launched() {
        return due;
    }
    announce(
        "SuccessfulCreate",
        &|| {
            format!(
                "Created virtual machine pod {}",
                launcher_pod_name(&entry.name, uid_of(&entry.object))
            )
        },
        clock.start,
    );
    match clock.node {
        None => announce(
            "FailedScheduling",
            &|| unschedulable_message(n),
            clock.start,
        ),
        Some(node) => {
            if now >= clock.sched_at {
                announce(
                    "Scheduled",
                    &|| {
                        format!(
                            "Successfully assigned {}/{} to {node}",
                            entry.namespace,
                            launcher_pod_name(&entry.name, uid_of(&entry.object))
                        )
                    },
                    clock.sched_at,
                );
            }
            if clock.running {
                announce(
                    "Created",
                    &|| "VirtualMachineInstance defined.".into(),
                    clock.run_at,
                );
                announce(
                    "Started",
                    &|| "VirtualMachineInstance started.".into(),
                    clock.run_at,
                );
            }
        }
    }
    due
}

/// kube-scheduler's fit error for a launcher pod whose node selector no node matches: the
/// `FailedScheduling` Event's message and the pod's `PodScheduled` condition message, which
/// KubeVirt copies into the VMI's.
fn unschedulable_message(n: usize) -> String {
    format!("0/{n} nodes are available: {n} node(s) didn't match Pod's node affinity/selector.")
}

/// The VMI `status` at this point of its boot.
fn vmi_status_body(
    store: &Store,
    entry: &Entry,
    clock: &VmiClock<'_>,
    ctx: &Ctx<'_>,
    n: usize,
) -> Value {
    let now = ctx.now;
    let mut stamps = vec![
        json!({"phase": "Pending", "phaseTransitionTimestamp": rfc3339(entry.sim.created_ms)}),
    ];
    let mut status = Map::new();
    if !clock.launched() {
        // No launcher pod yet (kubevirt vmi.go `syncReadyConditionFromPod`, pod == nil or the
        // WaitForFirstConsumer provisioning pod).
        status.insert("phase".into(), json!("Pending"));
        status.insert("phaseTransitionTimestamps".into(), json!(stamps));
        status.insert(
            "conditions".into(),
            json!([{"type": "Ready", "status": "False", "reason": "PodNotExists",
                    "message": "virt-launcher pod has not yet been scheduled"}]),
        );
        return Value::Object(status);
    }
    stamps.push(json!({"phase": "Scheduling", "phaseTransitionTimestamp": rfc3339(clock.start)}));
    status.insert("qosClass".into(), json!("Burstable"));
    if clock.node.is_none() {
        status.insert("phase".into(), json!("Scheduling"));
        status.insert("phaseTransitionTimestamps".into(), json!(stamps));
        status.insert(
            "conditions".into(),
            json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": unschedulable_message(n)}]),
        );
        return Value::Object(status);
    }
    if let Some(node) = clock.node_shown {
        stamps.push(
            json!({"phase": "Scheduled", "phaseTransitionTimestamp": rfc3339(clock.sched_at)}),
        );
        status.insert("nodeName".into(), json!(node));
    }
    let agent = clock.running && ctx.guest_agent;
    if clock.running {
        stamps.push(json!({"phase": "Running", "phaseTransitionTimestamp": rfc3339(clock.run_at)}));
        status.insert(
            "interfaces".into(),
            json!(interfaces(store, entry, ctx.guest_agent)),
        );
        status.insert(
            "guestOSInfo".into(),
            super::guest::guest_os_info(store, entry, ctx.guest_agent),
        );
    }
    status.insert("phase".into(), json!(clock.phase));
    status.insert("phaseTransitionTimestamps".into(), json!(stamps));
    let mut conditions = vec![
        json!({"type": "PodScheduled", "status": if now >= clock.sched_at { "True" } else { "False" }}),
        json!({"type": "Ready", "status": if clock.running { "True" } else { "False" }}),
    ];
    if agent {
        conditions.push(json!({"type": "AgentConnected", "status": "True",
                               "lastTransitionTime": rfc3339(clock.run_at)}));
    }
    status.insert("conditions".into(), json!(conditions));
    Value::Object(status)
}

fn vm_status(store: &Store, key_: &str, entry: &Entry, ctx: &Ctx<'_>) -> Option<Update> {
    let now = ctx.now;
    let desired = desired_running(&entry.object, entry.sim.requested_run);
    let vmi = store
        .objects
        .get(&key(VMIS.plural, &entry.namespace, &entry.name));
    let vmi_phase = vmi.and_then(|v| v.object.at("/status/phase").and_then(Value::as_str));
    let unschedulable = vmi.is_some_and(|v| v.sim.node.is_none());
    let ready_at = volumes_ready_at(store, entry, ctx);
    let printable = if !desired {
        if vmi.is_some() { "Stopping" } else { "Stopped" }
    } else if volumes_failed(store, entry, now) {
        // KubeVirt's VM controller tries DataVolumeError before Provisioning
        // (`updatePrintableStatus`, kubevirt/kubevirt pkg/virt-controller/watch/vm/vm.go).
        "DataVolumeError"
    } else if ready_at.is_none_or(|t| now < t) {
        "Provisioning"
    } else if unschedulable {
        "ErrorUnschedulable"
    } else if vmi_phase == Some("Running") {
        "Running"
    } else {
        "Starting"
    };
    let ready = printable == "Running";
    let generation = entry
        .object
        .at("/metadata/generation")
        .cloned()
        .unwrap_or(json!(1));
    let mut status = json!({
        "printableStatus": printable,
        "ready": ready,
        "created": vmi.is_some(),
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
        "desiredGeneration": generation,
        "observedGeneration": generation,
    });
    if let Some(rs) = entry.object.at("/spec/runStrategy").cloned()
        && let Some(map) = status.as_object_mut()
    {
        map.insert("runStrategy".into(), rs);
    }
    (entry.object.get("status") != Some(&status)).then(|| Update {
        key: key_.to_string(),
        status,
        node_label: None,
        emitted: Vec::new(),
    })
}

fn record_event(store: &mut Store, ev: PendingEvent, now: i64, rng: &mut fastrand::Rng) {
    let digest = fnv(&format!("{}\n{}\n{}", ev.uid, ev.reason, ev.message));
    let name = format!("{}.{digest:016x}", ev.name);
    let k = key(EVENTS.plural, &ev.namespace, &name);
    if let Some(existing) = store.objects.get_mut(&k) {
        // Same object, reason and message: aggregate like the event correlator.
        let obj = &mut existing.object;
        let count = obj.get("count").and_then(Value::as_i64).unwrap_or(1) + 1;
        if let Some(map) = obj.as_object_mut() {
            map.insert("count".into(), json!(count));
            map.insert("lastTimestamp".into(), json!(rfc3339(ev.at)));
        }
        store.bump(&k);
        return;
    }
    let mut obj = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name},
        "involvedObject": {
            "apiVersion": ev.def.api_version(),
            "kind": ev.def.kind,
            "name": ev.name,
            "namespace": ev.namespace,
            "uid": ev.uid,
            "resourceVersion": ev.resource_version,
        },
        "reason": ev.reason,
        "message": ev.message,
        "type": if ev.warning { "Warning" } else { "Normal" },
        "count": 1,
        "firstTimestamp": rfc3339(ev.at),
        "lastTimestamp": rfc3339(ev.at),
        "source": {"component": ev.component},
        "reportingComponent": ev.component,
        "reportingInstance": "",
    });
    stamp_new(&mut obj, &EVENTS, &ev.namespace, new_uid(rng), now);
    store.put(Entry {
        plural: EVENTS.plural.into(),
        namespace: ev.namespace,
        name,
        object: obj,
        sim: SimMeta {
            created_ms: now,
            ..SimMeta::default()
        },
    });
}

/// Whether no clock can change anything: every DataVolume imported, every VMI running, and
/// every VM's VMI there exactly when the VM wants one. Until the next write a [`reconcile`]
/// would find nothing to do, so the API skips it (a read of a settled cluster of 1000 VMs
/// then costs what the read itself costs, not a pass over every object). Anything else —
/// an import under way or failing, a VMI booting or unschedulable, a VM starting or
/// stopping, a state this does not know — is not settled.
pub(crate) fn settled(store: &Store) -> bool {
    fn phase(e: &Entry) -> Option<&str> {
        e.object
            .get("status")
            .and_then(|s| s.get("phase"))
            .and_then(Value::as_str)
    }
    entries_of(store, DVS.plural)
        .all(|(_, dv)| phase(dv) == Some("Succeeded") && import_failure(&dv.object).is_none())
        && entries_of(store, VMIS.plural).all(|(_, vmi)| phase(vmi) == Some("Running"))
        && entries_of(store, VMS.plural).all(|(_, vm)| {
            let vmi = store
                .objects
                .contains_key(&key(VMIS.plural, &vm.namespace, &vm.name));
            desired_running(&vm.object, vm.sim.requested_run) == vmi
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_sources_are_hosts_under_invalid() {
        let dv = |source: Value| json!({"spec": {"source": source}});
        let http = import_failure(&dv(
            json!({"http": {"url": "https://u:p@img.invalid:8443/a.img"}}),
        ));
        assert_eq!(
            http.as_deref(),
            Some(
                "Unable to connect to http data source: HTTP request errored: Get \"https://u:p@img.invalid:8443/a.img\": dial tcp: lookup img.invalid: no such host"
            )
        );
        let registry = import_failure(&dv(
            json!({"registry": {"url": "docker://registry.invalid/rhel9:9.4"}}),
        ));
        assert!(registry.unwrap().contains(
            "Failed to read registry image: pinging container registry registry.invalid"
        ));
        assert_eq!(
            import_failure(&dv(json!({"http": {"url": "http://invalid.example/a"}}))),
            None
        );
        assert_eq!(
            import_failure(&dv(json!({"pvc": {"name": "x", "namespace": "y"}}))),
            None
        );
    }

    fn put(store: &mut Store, plural: &str, name: &str, object: Value) {
        store.put(Entry {
            plural: plural.into(),
            namespace: "default".into(),
            name: name.into(),
            object,
            sim: SimMeta::default(),
        });
    }

    #[test]
    fn a_cluster_is_settled_only_when_no_clock_can_change_it() {
        let mut store = Store::default();
        assert!(settled(&store));
        let dv = |phase: &str, url: &str| json!({"spec": {"source": {"http": {"url": url}}}, "status": {"phase": phase}});
        put(
            &mut store,
            DVS.plural,
            "a-disk",
            dv("ImportInProgress", "http://i.example/a"),
        );
        assert!(!settled(&store), "an import under way");
        put(
            &mut store,
            DVS.plural,
            "a-disk",
            dv("Succeeded", "http://i.example/a"),
        );
        assert!(settled(&store));
        put(
            &mut store,
            DVS.plural,
            "b-disk",
            dv("ImportInProgress", "http://i.invalid/b"),
        );
        assert!(!settled(&store), "a failing import restarts on a clock");
        store.objects.retain(|k, _| !k.contains("b-disk"));
        let running = json!({"spec": {"runStrategy": "Always"}});
        put(&mut store, VMS.plural, "a", running.clone());
        assert!(!settled(&store), "a VM waiting for its VMI");
        put(
            &mut store,
            VMIS.plural,
            "a",
            json!({"status": {"phase": "Scheduled"}}),
        );
        assert!(!settled(&store), "a VMI booting");
        put(
            &mut store,
            VMIS.plural,
            "a",
            json!({"status": {"phase": "Running"}}),
        );
        assert!(settled(&store));
        put(
            &mut store,
            VMS.plural,
            "a",
            json!({"spec": {"runStrategy": "Halted"}}),
        );
        assert!(!settled(&store), "a VM stopping");
        store.objects.retain(|k, _| !k.starts_with(VMIS.plural));
        assert!(settled(&store), "a VM stopped");
    }

    #[test]
    fn import_progress_moves_only_on_cdis_two_second_poll() {
        // 20 s import: 2 s scheduled, then 18 s in progress, read by CDI every 2 s.
        let mut store = Store::default();
        store.put(Entry {
            plural: DVS.plural.into(),
            namespace: "default".into(),
            name: "a-disk".into(),
            object: json!({
                "metadata": {"name": "a-disk", "namespace": "default", "uid": "u-1", "resourceVersion": "1"},
                "spec": {"source": {"http": {"url": "http://i.example/a.img"}}, "storage": {}},
            }),
            sim: SimMeta {
                import_ms: 20_000,
                ..SimMeta::default()
            },
        });
        let mut rng = fastrand::Rng::with_seed(7);
        let mut seen = Vec::new();
        for now in [1_999, 2_000, 3_999, 4_000, 5_999, 6_000, 19_999, 20_000] {
            let ctx = Ctx {
                nodes: &[],
                storage_classes: &[],
                boot_ms: 0,
                stop_ms: 0,
                guest_agent: false,
                now,
            };
            reconcile(&mut store, &ctx, &mut rng);
            let dv = &store.objects[&key(DVS.plural, "default", "a-disk")].object;
            let field = |p: &str| dv.at(p).and_then(Value::as_str).unwrap_or("-").to_string();
            seen.push(format!(
                "{now} {} {} rv={}",
                field("/status/phase"),
                field("/status/progress"),
                field("/metadata/resourceVersion")
            ));
        }
        // Between two polls nothing changes, not even the resourceVersion a watch sees. (The
        // store's one counter also numbers the Events: ImportScheduled took 3, ImportInProgress 5.)
        assert_eq!(
            seen,
            [
                "1999 ImportScheduled N/A rv=2",
                "2000 ImportInProgress 0.00% rv=4",
                "3999 ImportInProgress 0.00% rv=4",
                "4000 ImportInProgress 11.11% rv=6",
                "5999 ImportInProgress 11.11% rv=6",
                "6000 ImportInProgress 22.22% rv=7",
                "19999 ImportInProgress 88.89% rv=8",
                "20000 Succeeded 100.00% rv=9",
            ]
        );
    }

    #[test]
    fn a_vmi_waits_pending_without_a_launcher_pod_until_its_disks_are_imported() {
        // Three VMs wanted running from t=0, each disk a 20 s import, each boot 9 s:
        //   s: a standalone DataVolume: KubeVirt makes the VMI at once and holds its pod;
        //   t: a dataVolumeTemplates entry on an Immediate class: no VMI until the import ends;
        //   w: a dataVolumeTemplates entry on a WaitForFirstConsumer class: the VMI at once
        //      (its provisioning pod is the disk's first consumer), Pending until imported.
        let classes = SimStorageClass::defaults();
        let nodes = [SimNode::worker("worker-0", "zone-a")];
        let mut store = Store::default();
        for (vm, class, template) in [
            ("s", "ocs-storagecluster-ceph-rbd", false),
            ("t", "ocs-storagecluster-ceph-rbd", true),
            ("w", "lvms-vg1", true),
        ] {
            let disk = format!("{vm}-disk");
            let mut spec = json!({"runStrategy": "Always", "template": {"spec": {"domain": {},
                "volumes": [{"name": "root", "dataVolume": {"name": disk}}]}}});
            if template {
                spec["dataVolumeTemplates"] = json!([{"metadata": {"name": disk}}]);
            }
            let meta = |name: &str| json!({"name": name, "namespace": "default", "uid": format!("uid-{name}")});
            store.put(Entry {
                plural: VMS.plural.into(),
                namespace: "default".into(),
                name: vm.into(),
                object: json!({"metadata": meta(vm), "spec": spec}),
                sim: SimMeta {
                    run_since_ms: Some(0),
                    ..SimMeta::default()
                },
            });
            store.put(Entry {
                plural: DVS.plural.into(),
                namespace: "default".into(),
                name: disk.clone(),
                object: json!({"metadata": meta(&disk), "spec": {
                    "source": {"http": {"url": "http://i.example/a.img"}},
                    "storage": {"storageClassName": class}}}),
                sim: SimMeta {
                    import_ms: 20_000,
                    ..SimMeta::default()
                },
            });
        }
        let mut rng = fastrand::Rng::with_seed(7);
        let mut seen = Vec::new();
        for now in [0, 19_999, 20_000, 23_000, 29_000] {
            let ctx = Ctx {
                nodes: &nodes,
                storage_classes: &classes,
                boot_ms: 9_000,
                stop_ms: 0,
                guest_agent: false,
                now,
            };
            reconcile(&mut store, &ctx, &mut rng);
            let row: Vec<String> = ["s", "t", "w"]
                .iter()
                .map(|vm| {
                    let vmi = store.objects.get(&key(VMIS.plural, "default", vm));
                    let at = |e: Option<&Entry>, p: &str| {
                        e.and_then(|e| e.object.at(p).and_then(Value::as_str))
                            .unwrap_or("-")
                            .to_string()
                    };
                    let vm_entry = store.objects.get(&key(VMS.plural, "default", vm));
                    format!(
                        "{vm}: {} {} {}",
                        at(vm_entry, "/status/printableStatus"),
                        at(vmi, "/status/phase"),
                        at(vmi, "/status/conditions/0/reason"),
                    )
                })
                .collect();
            seen.push(format!("{now} {}", row.join(" | ")));
        }
        assert_eq!(
            seen,
            [
                "0 s: Provisioning Pending PodNotExists | t: Provisioning - - | w: Provisioning Pending PodNotExists",
                "19999 s: Provisioning Pending PodNotExists | t: Provisioning - - | w: Provisioning Pending PodNotExists",
                "20000 s: Starting Scheduling - | t: Starting Scheduling - | w: Starting Scheduling -",
                "23000 s: Starting Scheduled - | t: Starting Scheduled - | w: Starting Scheduled -",
                "29000 s: Running Running - | t: Running Running - | w: Running Running -",
            ]
        );
        // The launcher pod is announced when it is made, not with the VMI.
        let mut pods: Vec<String> = entries_of(&store, EVENTS.plural)
            .filter(|(_, e)| {
                e.object.at("/reason").and_then(Value::as_str) == Some("SuccessfulCreate")
            })
            .filter(|(_, e)| {
                e.object.at("/involvedObject/kind").and_then(Value::as_str)
                    == Some("VirtualMachineInstance")
            })
            .map(|(_, e)| {
                format!(
                    "{} {}",
                    e.object
                        .at("/firstTimestamp")
                        .and_then(Value::as_str)
                        .unwrap_or("-"),
                    e.object
                        .at("/message")
                        .and_then(Value::as_str)
                        .unwrap_or("-")
                )
            })
            .collect();
        pods.sort();
        let expected: Vec<String> = ["s", "t", "w"]
            .iter()
            .map(|vm| {
                let vmi = &store.objects[&key(VMIS.plural, "default", vm)].object;
                format!(
                    "{} Created virtual machine pod {}",
                    rfc3339(20_000),
                    launcher_pod_name(vm, uid_of(vmi))
                )
            })
            .collect();
        assert_eq!(pods, expected);
    }

    #[test]
    fn the_importer_restarts_on_the_kubelets_crash_loop_back_off() {
        // Restarts 10 s, 30 s, 70 s, 150 s after the first failure, then every 5 min at most.
        assert_eq!(importer_restarts(0), 0);
        assert_eq!(importer_restarts(9_999), 0);
        assert_eq!(importer_restarts(10_000), 1);
        assert_eq!(importer_restarts(70_000), 3);
        assert_eq!(importer_restarts(150_000 + 160_000 + 300_000), 6);
    }
}
