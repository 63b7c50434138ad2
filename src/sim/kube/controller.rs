//! The simulated CDI and KubeVirt controllers, computed lazily from stored timestamps.
//!
//! Every request first calls [`reconcile`] with the current wall-clock time. Each
//! object's state is a pure function of its stored creation / start / stop times and
//! `now`, so a `status` run in a new process sees exactly what a long-running
//! controller would have produced. Events carry the computed transition times.

use serde_json::{Map, Value, json};

use super::SimNode;
use super::store::{
    DVS, EVENTS, Entry, ResourceDef, SimMeta, Store, VMIS, VMS, key, new_uid, rfc3339, stamp_new,
    uid_of,
};
use super::validate::nad_static_ip;

/// Settings the controllers need.
pub(crate) struct Ctx<'a> {
    pub nodes: &'a [SimNode],
    /// Boot length given to VMIs created now.
    pub boot_ms: u64,
    /// How long a stopping VM keeps its VMI (printableStatus `Stopping`).
    pub stop_ms: u64,
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
                .pointer("/metadata/resourceVersion")
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

/// Whether the VM's spec asks for a running VMI.
pub(crate) fn desired_running(vm: &Value) -> bool {
    match vm.pointer("/spec/runStrategy").and_then(Value::as_str) {
        Some("Always" | "RerunOnFailure" | "Once") => true,
        Some(_) => false,
        None => vm
            .pointer("/spec/running")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

fn keys_of(store: &Store, plural: &str) -> Vec<String> {
    let prefix = format!("{plural}/");
    store
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Writes back a recomputed entry, bumping resourceVersion only when the object changed.
fn write_back(store: &mut Store, k: &str, entry: Entry) {
    let changed = store
        .objects
        .get(k)
        .is_none_or(|old| old.object != entry.object);
    let sim_changed = store
        .objects
        .get(k)
        .is_none_or(|old| old.sim.emitted != entry.sim.emitted);
    store.objects.insert(k.to_string(), entry);
    if changed {
        store.bump(k);
    } else if sim_changed {
        store.touch(k);
    }
}

fn set_status(obj: &mut Value, status: Value) {
    if let Some(map) = obj.as_object_mut() {
        map.insert("status".into(), status);
    }
}

/// Runs every controller once at `ctx.now`.
pub(crate) fn reconcile(store: &mut Store, ctx: &Ctx<'_>, rng: &mut fastrand::Rng) {
    let mut events = Vec::new();
    for k in keys_of(store, DVS.plural) {
        if let Some(mut entry) = store.objects.get(&k).cloned() {
            datavolume(&mut entry, ctx.now, &mut events);
            write_back(store, &k, entry);
        }
    }
    for k in keys_of(store, VMS.plural) {
        if let Some(vm) = store.objects.get(&k).cloned() {
            vm_lifecycle(store, &vm, ctx, rng, &mut events);
        }
    }
    for k in keys_of(store, VMIS.plural) {
        if let Some(mut entry) = store.objects.get(&k).cloned() {
            vmi_status(store, &mut entry, ctx, &mut events);
            write_back(store, &k, entry);
        }
    }
    for k in keys_of(store, VMS.plural) {
        if let Some(mut entry) = store.objects.get(&k).cloned() {
            vm_status(store, &mut entry, ctx.now);
            write_back(store, &k, entry);
        }
    }
    for ev in events {
        record_event(store, ev, ctx.now, rng);
    }
}

/// When a DataVolume's import completes.
fn dv_done_at(sim: &SimMeta) -> i64 {
    sim.created_ms + sim.import_ms as i64
}

fn datavolume(entry: &mut Entry, now: i64, events: &mut Vec<PendingEvent>) {
    let start = entry.sim.created_ms;
    let total = entry.sim.import_ms as i64;
    let sched = total / 10;
    let clone = entry.object.pointer("/spec/source/pvc").is_some();
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
        let frac = (now - start - sched) as f64 / (total - sched).max(1) as f64;
        (running, format!("{:.2}%", (frac * 100.0).clamp(0.0, 100.0)))
    };
    let name = entry.name.clone();
    let milestones = [
        (scheduled, start, format!("Import into {name} scheduled")),
        (
            running,
            start + sched,
            format!("Import into {name} in progress"),
        ),
        (
            done,
            start + total,
            format!("Successfully imported into PVC {name}"),
        ),
    ];
    for (reason, at, message) in milestones {
        if now >= at && entry.sim.emitted.insert(reason.to_string()) {
            let mut ev = PendingEvent::about(entry, DVS, reason, message, at);
            ev.component = "datavolume-import-controller";
            events.push(ev);
        }
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
    set_status(&mut entry.object, status);
}

/// DataVolumes the VM's disks come from; `None` when one is missing, else when all are ready.
fn volumes_ready_at(store: &Store, vm: &Entry) -> Option<i64> {
    let mut ready = 0i64;
    let volumes = vm
        .object
        .pointer("/spec/template/spec/volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for vol in volumes {
        let dv = vol
            .pointer("/dataVolume/name")
            .and_then(Value::as_str)
            .map(|n| (n, true))
            .or_else(|| {
                vol.pointer("/persistentVolumeClaim/claimName")
                    .and_then(Value::as_str)
                    .map(|n| (n, false))
            });
        let Some((name, required)) = dv else {
            continue;
        };
        match store.objects.get(&key(DVS.plural, &vm.namespace, name)) {
            Some(e) => ready = ready.max(dv_done_at(&e.sim)),
            // A plain PVC that is no DataVolume is simply bound.
            None if !required => {}
            None => return None,
        }
    }
    Some(ready)
}

fn vm_lifecycle(
    store: &mut Store,
    vm: &Entry,
    ctx: &Ctx<'_>,
    rng: &mut fastrand::Rng,
    events: &mut Vec<PendingEvent>,
) {
    let vmi_key = key(VMIS.plural, &vm.namespace, &vm.name);
    let vmi_exists = store.objects.contains_key(&vmi_key);
    if desired_running(&vm.object) {
        if vmi_exists {
            return;
        }
        let Some(ready_at) = volumes_ready_at(store, vm) else {
            return;
        };
        let at = ready_at.max(vm.sim.run_since_ms.unwrap_or(vm.sim.created_ms));
        if ctx.now >= at {
            create_vmi(store, vm, at, ctx, rng, events);
        }
    } else if vmi_exists {
        let stop_at = vm.sim.stop_since_ms.unwrap_or(ctx.now) + ctx.stop_ms as i64;
        if ctx.now >= stop_at
            && let Some(vmi) = store.remove_cascade(&vmi_key)
        {
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
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let selector = template
        .pointer("/spec/nodeSelector")
        .and_then(Value::as_object);
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
            "labels": template.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({})),
            "annotations": template.pointer("/metadata/annotations").cloned().unwrap_or_else(|| json!({})),
            "ownerReferences": [{
                "apiVersion": VMS.api_version(), "kind": VMS.kind, "name": vm.name,
                "uid": uid_of(&vm.object), "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    });
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
    let pod = format!("virt-launcher-{}-{}", vm.name, &uid[..5]);
    let mut ev = PendingEvent::about(
        &entry,
        VMIS,
        "SuccessfulCreate",
        format!("Created virtual machine pod {pod}"),
        at,
    );
    ev.uid = uid;
    events.push(ev);
    store.put(entry);
}

/// The VMI's interfaces: Multus static addresses first, then the pod network.
fn interfaces(store: &Store, vmi: &Entry) -> Vec<Value> {
    let networks = vmi
        .object
        .pointer("/spec/networks")
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
    let mut multus = Vec::new();
    let mut pod = Vec::new();
    for net in &networks {
        let name = net.get("name").and_then(Value::as_str).unwrap_or("default");
        if let Some(nad_ref) = net.pointer("/multus/networkName").and_then(Value::as_str) {
            let (ns, nad_name) = nad_ref
                .split_once('/')
                .unwrap_or((vmi.namespace.as_str(), nad_ref));
            let ip = store
                .objects
                .get(&key(super::store::NADS.plural, ns, nad_name))
                .and_then(|e| nad_static_ip(&e.object));
            multus.push((name.to_string(), ip));
        } else if net.get("pod").is_some() {
            let ip = format!("10.128.{}.{}", (h >> 8) % 256, (h % 253) + 2);
            pod.push((name.to_string(), Some(ip)));
        }
    }
    multus
        .into_iter()
        .chain(pod)
        .enumerate()
        .map(|(i, (name, ip))| {
            let mut iface = json!({
                "name": name,
                "interfaceName": format!("eth{i}"),
                "mac": mac(i as u64),
                "infoSource": "domain, guest-agent",
                "queueCount": 1,
            });
            if let (Some(ip), Some(map)) = (ip, iface.as_object_mut()) {
                map.insert("ipAddress".into(), json!(ip));
                map.insert("ipAddresses".into(), json!([ip]));
            }
            iface
        })
        .collect()
}

fn vmi_status(store: &Store, entry: &mut Entry, ctx: &Ctx<'_>, events: &mut Vec<PendingEvent>) {
    let start = entry.sim.created_ms;
    let boot = entry.sim.boot_ms as i64;
    let sched_at = start + boot / 3;
    let run_at = start + boot;
    let now = ctx.now;
    let mut stamps = vec![
        json!({"phase": "Pending", "phaseTransitionTimestamp": rfc3339(start)}),
        json!({"phase": "Scheduling", "phaseTransitionTimestamp": rfc3339(start)}),
    ];
    let mut status = Map::new();
    status.insert("qosClass".into(), json!("Burstable"));
    let Some(node) = entry.sim.node.clone() else {
        let n = ctx.nodes.len();
        if entry.sim.emitted.insert("FailedScheduling".into()) {
            let mut ev = PendingEvent::about(
                entry,
                VMIS,
                "FailedScheduling",
                format!(
                    "0/{n} nodes are available: {n} node(s) didn't match Pod's node affinity/selector."
                ),
                start,
            );
            ev.warning = true;
            ev.component = "default-scheduler";
            events.push(ev);
        }
        status.insert("phase".into(), json!("Scheduling"));
        status.insert("phaseTransitionTimestamps".into(), json!(stamps));
        status.insert(
            "conditions".into(),
            json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": format!("0/{n} nodes are available")}]),
        );
        set_status(&mut entry.object, Value::Object(status));
        return;
    };
    let phase = if now < sched_at {
        "Scheduling"
    } else if now < run_at {
        "Scheduled"
    } else {
        "Running"
    };
    if now >= sched_at {
        stamps.push(json!({"phase": "Scheduled", "phaseTransitionTimestamp": rfc3339(sched_at)}));
        status.insert("nodeName".into(), json!(node));
        if let Some(labels) = entry
            .object
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            labels.insert("kubevirt.io/nodeName".into(), json!(node));
        }
        if entry.sim.emitted.insert("Scheduled".into()) {
            let mut ev = PendingEvent::about(
                entry,
                VMIS,
                "Scheduled",
                format!(
                    "Successfully assigned {}/virt-launcher-{} to {node}",
                    entry.namespace, entry.name
                ),
                sched_at,
            );
            ev.component = "default-scheduler";
            events.push(ev);
        }
    }
    if now >= run_at {
        stamps.push(json!({"phase": "Running", "phaseTransitionTimestamp": rfc3339(run_at)}));
        status.insert("interfaces".into(), json!(interfaces(store, entry)));
        for (reason, message) in [
            ("Created", "VirtualMachineInstance defined."),
            ("Started", "VirtualMachineInstance started."),
        ] {
            if entry.sim.emitted.insert(reason.into()) {
                let mut ev = PendingEvent::about(entry, VMIS, reason, message.to_string(), run_at);
                ev.component = "virt-handler";
                events.push(ev);
            }
        }
    }
    let running = phase == "Running";
    status.insert("phase".into(), json!(phase));
    status.insert("phaseTransitionTimestamps".into(), json!(stamps));
    status.insert(
        "conditions".into(),
        json!([
            {"type": "PodScheduled", "status": if now >= sched_at { "True" } else { "False" }},
            {"type": "Ready", "status": if running { "True" } else { "False" }},
        ]),
    );
    set_status(&mut entry.object, Value::Object(status));
}

fn vm_status(store: &Store, entry: &mut Entry, now: i64) {
    let desired = desired_running(&entry.object);
    let vmi = store
        .objects
        .get(&key(VMIS.plural, &entry.namespace, &entry.name));
    let vmi_phase = vmi.and_then(|v| v.object.pointer("/status/phase").and_then(Value::as_str));
    let unschedulable = vmi.is_some_and(|v| v.sim.node.is_none());
    let ready_at = volumes_ready_at(store, entry);
    let printable = if !desired {
        if vmi.is_some() { "Stopping" } else { "Stopped" }
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
        .pointer("/metadata/generation")
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
    if let Some(rs) = entry.object.pointer("/spec/runStrategy").cloned()
        && let Some(map) = status.as_object_mut()
    {
        map.insert("runStrategy".into(), rs);
    }
    set_status(&mut entry.object, status);
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
