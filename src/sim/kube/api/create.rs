//! Create: POST of an object, generated names, and the DataVolumes a VM's templates own.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::admission::{admit, check_type, decode_fields, string_data_to_data};
use super::auth;
use super::error::{ApiError, json_response, with_warnings};
use super::millis;
use super::namespaces;
use super::request::{Req, check_body_type, parse_body};
use crate::sim::kube::KubeSimOptions;
use crate::sim::kube::catalog;
use crate::sim::kube::controller::desired_running;
use crate::sim::kube::store::{
    DVS, Entry, ResourceDef, SimMeta, Store, VMS, key, new_uid, stamp_new, uid_of,
};
use crate::sim::kube::validate::Cause;

pub(super) fn create(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
    rng: &mut fastrand::Rng,
) -> Result<Response, ApiError> {
    check_body_type(req, !def.group.is_empty())?;
    let mut obj = parse_body(req)?;
    create_object(store, req, def, ns, &mut obj, rng, None)
}

pub(super) fn create_object(
    store: &mut Store,
    req: &Req<'_>,
    def: &ResourceDef,
    ns: &str,
    obj: &mut Value,
    rng: &mut fastrand::Rng,
    managed_fields: Option<Value>,
) -> Result<Response, ApiError> {
    check_type(def, obj)?;
    if let Some(obj_ns) = obj.pointer("/metadata/namespace").and_then(Value::as_str)
        && obj_ns != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let dry_run = req.query.dry_run()?;
    let warnings = decode_fields(req.sh, def, obj, req.query.field_validation()?)?;
    string_data_to_data(def, obj);
    namespaces::require(store, ns)?;
    ensure_name(def, obj, rng)?;
    if def.status_subresource
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }
    admit(req.sh, def, obj)?;
    webhooks(&req.sh.opts, def, ns, obj)?;
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let k = key(def.plural, ns, &name);
    if store.objects.contains_key(&k) {
        return Err(ApiError::already_exists(def, &name));
    }
    stamp_new(obj, def, ns, new_uid(rng), req.now);
    if let (Some(mf), Some(meta)) = (
        managed_fields,
        obj.get_mut("metadata").and_then(Value::as_object_mut),
    ) {
        meta.insert("managedFields".into(), mf);
    }
    let entry = new_entry(req, def, ns, name, obj);
    if dry_run {
        return Ok(with_warnings(
            json_response(StatusCode::CREATED, &entry.object),
            &warnings,
        ));
    }
    let k = store.put(entry);
    if *def == VMS {
        create_template_volumes(store, req, ns, &k, rng);
    }
    let created = store
        .objects
        .get(&k)
        .map(|e| e.object.clone())
        .unwrap_or_default();
    Ok(with_warnings(
        json_response(StatusCode::CREATED, &created),
        &warnings,
    ))
}

/// The validating webhooks KubeVirt and CDI install, on create: a VM's instance type and
/// preference must exist (KubeVirt `pkg/virt-api/webhooks/validating-webhook/admitters`
/// `vms-admitter.go` applyInstancetypeToVm: "Failure to find instancetype: ..."), and a
/// DataVolume's `sourceRef` must name an existing DataSource (CDI
/// `pkg/apiserver/webhooks/datavolume-validate.go` validateSourceRef: "SourceRef
/// DataSource/NS/NAME not found").
fn webhooks(
    opts: &KubeSimOptions,
    def: &ResourceDef,
    ns: &str,
    obj: &Value,
) -> Result<(), ApiError> {
    let at = |p: &str| obj.pointer(p).and_then(Value::as_str);
    if *def == VMS {
        for (field, what, default_kind) in [
            (
                "instancetype",
                "instancetype",
                "VirtualMachineClusterInstancetype",
            ),
            (
                "preference",
                "preference",
                "VirtualMachineClusterPreference",
            ),
        ] {
            let Some(name) = at(&format!("/spec/{field}/name")) else {
                continue;
            };
            let kind = at(&format!("/spec/{field}/kind")).unwrap_or(default_kind);
            let found = if field == "instancetype" {
                catalog::instancetype(kind, name).is_some()
            } else {
                catalog::preference(kind, name)
            };
            if !found {
                let plural = format!("{}s.instancetype.kubevirt.io", kind.to_ascii_lowercase());
                return Err(ApiError::webhook_denied(
                    "virtualmachine-validator.kubevirt.io",
                    &format!("spec.{field}"),
                    &format!("Failure to find {what}: {plural} \"{name}\" not found"),
                ));
            }
        }
    }
    if *def == DVS
        && let Some(name) = at("/spec/sourceRef/name")
    {
        let source_ns = at("/spec/sourceRef/namespace").unwrap_or(ns);
        let kind = at("/spec/sourceRef/kind").unwrap_or("");
        if kind == "DataSource" && !catalog::data_source(source_ns, name) {
            return Err(ApiError::webhook_denied(
                "datavolume-validate.cdi.kubevirt.io",
                "spec.sourceRef",
                &format!("SourceRef {kind}/{source_ns}/{name} not found"),
            ));
        }
    }
    // A clone needs `create` on `datavolumes/source` in the source's namespace. CDI's
    // DataVolume webhook checks it for a DataVolume (`datavolume-validate.go`
    // validateDataVolumeSpec → AuthorizeUser), KubeVirt's VM webhook for each
    // `dataVolumeTemplates` entry (`vms-admitter.go` authorizeVirtualMachineSpec: "Authorization
    // failed, message is: ...", as seen from `oc apply`).
    let refusal = |dv_spec: &Value| {
        let source_ns = clone_namespace(dv_spec, ns)?;
        (!auth::may_clone_from(opts, source_ns)).then(|| {
            format!(
                "User {} has insufficient permissions in clone source namespace {source_ns}",
                auth::USER
            )
        })
    };
    if *def == DVS
        && let Some(message) = obj.get("spec").and_then(refusal)
    {
        return Err(ApiError::webhook_denied(
            "datavolume-validate.cdi.kubevirt.io",
            "spec.source.PVC.namespace",
            &message,
        ));
    }
    if *def == VMS {
        let templates = obj
            .pointer("/spec/dataVolumeTemplates")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        if let Some(message) = templates
            .iter()
            .find_map(|t| t.get("spec").and_then(refusal))
        {
            return Err(ApiError::webhook_denied(
                "virtualmachine-validator.kubevirt.io",
                "spec.dataVolumeTemplates",
                &format!("Authorization failed, message is: {message}"),
            ));
        }
    }
    Ok(())
}

/// The namespace a DataVolume spec clones from: its `source.pvc`'s, or its DataSource's
/// (the catalogue's boot sources keep their PVCs beside them); `None` for an import.
fn clone_namespace<'a>(dv_spec: &'a Value, ns: &'a str) -> Option<&'a str> {
    let at = |p: &str| dv_spec.pointer(p).and_then(Value::as_str);
    if let Some(pvc) = dv_spec.pointer("/source/pvc") {
        return Some(pvc.get("namespace").and_then(Value::as_str).unwrap_or(ns));
    }
    if at("/sourceRef/kind") == Some("DataSource") {
        return Some(at("/sourceRef/namespace").unwrap_or(ns));
    }
    None
}

/// Names an object without `metadata.name` from its `generateName`, as the API server does.
fn ensure_name(
    def: &ResourceDef,
    obj: &mut Value,
    rng: &mut fastrand::Rng,
) -> Result<(), ApiError> {
    let has_name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !has_name {
        let generate = obj
            .pointer("/metadata/generateName")
            .and_then(Value::as_str)
            .map(str::to_string);
        match (
            generate,
            obj.pointer_mut("/metadata").and_then(Value::as_object_mut),
        ) {
            (Some(g), Some(meta)) => {
                let suffix: String = (0..5).map(|_| rng.lowercase()).collect();
                meta.insert("name".into(), json!(format!("{g}{suffix}")));
            }
            _ => {
                let causes = [Cause {
                    field: "metadata.name".into(),
                    message: "Required value: name or generateName is required".into(),
                }];
                return Err(ApiError::invalid(def, "", &causes));
            }
        }
    }
    Ok(())
}

/// The store entry of a new object, with the controller's clocks started.
fn new_entry(req: &Req<'_>, def: &ResourceDef, ns: &str, name: String, obj: &Value) -> Entry {
    let mut entry = Entry {
        plural: def.plural.into(),
        namespace: ns.into(),
        name,
        object: obj.clone(),
        sim: SimMeta {
            created_ms: req.now,
            ..SimMeta::default()
        },
    };
    if *def == DVS {
        entry.sim.import_ms = millis(req.sh.opts.import_duration);
    }
    if *def == VMS && desired_running(obj, None) {
        entry.sim.run_since_ms = Some(req.now);
    }
    entry
}

/// Creates the DataVolumes of a VM's `dataVolumeTemplates`, owned by the VM.
fn create_template_volumes(
    store: &mut Store,
    req: &Req<'_>,
    ns: &str,
    vm_key: &str,
    rng: &mut fastrand::Rng,
) {
    let Some(vm) = store.objects.get(vm_key).map(|e| e.object.clone()) else {
        return;
    };
    let templates = vm
        .pointer("/spec/dataVolumeTemplates")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for t in templates {
        let Some(name) = t.pointer("/metadata/name").and_then(Value::as_str) else {
            continue;
        };
        let k = key(DVS.plural, ns, name);
        if store.objects.contains_key(&k) {
            continue;
        }
        let mut obj = json!({
            "apiVersion": DVS.api_version(),
            "kind": DVS.kind,
            "metadata": {
                "name": name,
                "labels": t.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({})),
                "ownerReferences": [{
                    "apiVersion": VMS.api_version(), "kind": VMS.kind,
                    "name": vm.pointer("/metadata/name").cloned().unwrap_or_default(),
                    "uid": uid_of(&vm), "controller": true, "blockOwnerDeletion": true,
                }],
            },
            "spec": t.get("spec").cloned().unwrap_or_else(|| json!({})),
        });
        stamp_new(&mut obj, &DVS, ns, new_uid(rng), req.now);
        store.put(Entry {
            plural: DVS.plural.into(),
            namespace: ns.into(),
            name: name.into(),
            object: obj,
            sim: SimMeta {
                created_ms: req.now,
                import_ms: millis(req.sh.opts.import_duration),
                ..SimMeta::default()
            },
        });
    }
}
