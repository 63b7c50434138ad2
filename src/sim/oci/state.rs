//! The simulator's persistent state: instances with lazy lifecycle, retry tokens, attempt counters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::catalog::{self, ts};
use super::tenancy::write_atomic;

/// Where an instance is in its lifecycle; transitional phases resolve lazily from `phase_since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Phase {
    Provisioning,
    Running,
    Stopping,
    Stopped,
    Starting,
    Terminating,
    Terminated,
}

impl Phase {
    /// The OCI `lifecycleState` string.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Phase::Provisioning => "PROVISIONING",
            Phase::Running => "RUNNING",
            Phase::Stopping => "STOPPING",
            Phase::Stopped => "STOPPED",
            Phase::Starting => "STARTING",
            Phase::Terminating => "TERMINATING",
            Phase::Terminated => "TERMINATED",
        }
    }

    /// Whether the instance is gone or going (OCI still lists it).
    pub(super) fn is_dead(self) -> bool {
        matches!(self, Phase::Terminating | Phase::Terminated)
    }
}

/// How long OCI waits for the guest after a SOFTSTOP before it powers the instance off
/// ("After waiting 15 minutes for the OS to shut down, the instance is powered off",
/// Compute API reference, InstanceAction SOFTSTOP).
pub(crate) const SOFTSTOP_POWER_OFF: Duration = Duration::from_secs(15 * 60);

/// How long transitional phases last.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Delays {
    pub provision: Duration,
    pub transition: Duration,
}

/// One instance and its primary VNIC.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Instance {
    pub id: String,
    pub compartment_id: String,
    pub availability_domain: String,
    pub fault_domain: String,
    pub display_name: String,
    pub shape: String,
    pub ocpus: f64,
    pub memory_gbs: f64,
    pub image_id: String,
    pub boot_volume_size_gbs: Option<u64>,
    pub subnet_id: String,
    pub private_ip: String,
    pub public_ip: Option<String>,
    pub hostname_label: Option<String>,
    pub vnic_id: String,
    pub vnic_attachment_id: String,
    pub freeform_tags: Map<String, Value>,
    pub defined_tags: Map<String, Value>,
    pub metadata: Map<String, Value>,
    pub extended_metadata: Map<String, Value>,
    pub time_created: DateTime<Utc>,
    pub phase: Phase,
    pub phase_since: DateTime<Utc>,
    /// STOPPING because of a SOFTSTOP whose guest ignores it (`OciSimOptions::guest_ignores_softstop`):
    /// it lasts until OCI's own power-off after 15 minutes, or until a STOP.
    #[serde(default)]
    pub soft_stopping: bool,
}

impl Instance {
    /// The phase as seen at `now`: a transitional phase whose delay has passed is resolved.
    pub(super) fn phase_at(&self, now: DateTime<Utc>, d: Delays) -> Phase {
        let elapsed = (now - self.phase_since).to_std().unwrap_or_default();
        let (delay, next) = match self.phase {
            Phase::Provisioning => (d.provision, Phase::Running),
            Phase::Starting => (d.transition, Phase::Running),
            Phase::Stopping if self.soft_stopping => (SOFTSTOP_POWER_OFF, Phase::Stopped),
            Phase::Stopping => (d.transition, Phase::Stopped),
            Phase::Terminating => (d.transition, Phase::Terminated),
            other => return other,
        };
        if elapsed >= delay { next } else { self.phase }
    }

    /// Stores the resolved phase so that a new transition starts from it.
    pub(super) fn settle(&mut self, now: DateTime<Utc>, d: Delays) {
        let p = self.phase_at(now, d);
        if p != self.phase {
            let delay = match self.phase {
                Phase::Provisioning => d.provision,
                Phase::Stopping if self.soft_stopping => SOFTSTOP_POWER_OFF,
                _ => d.transition,
            };
            self.soft_stopping = false;
            // The new phase began when the old one ended, not when someone looked.
            let delay = chrono::Duration::from_std(delay).unwrap_or_default();
            self.phase_since = self.phase_since.checked_add_signed(delay).unwrap_or(now);
            self.phase = p;
        }
    }

    /// Moves to `phase` as of `now`.
    pub(super) fn set_phase(&mut self, phase: Phase, now: DateTime<Utc>) {
        self.phase = phase;
        self.phase_since = now;
        self.soft_stopping = false;
    }

    /// The Instance JSON (OCI model, camelCase) at `now`.
    pub(super) fn to_json(&self, now: DateTime<Utc>, d: Delays) -> Value {
        let shape = catalog::shape(&self.shape);
        let vcpus = shape.map_or(self.ocpus * 2.0, |s| s.ocpus_vcpus(self.ocpus));
        let mut source = json!({"sourceType": "image", "imageId": self.image_id});
        if let Some(size) = self.boot_volume_size_gbs {
            source["bootVolumeSizeInGBs"] = json!(size);
        }
        json!({
            "agentConfig": {"areAllPluginsDisabled": false, "isManagementDisabled": false, "isMonitoringDisabled": false},
            "availabilityConfig": {"isLiveMigrationPreferred": null, "recoveryAction": "RESTORE_INSTANCE"},
            "availabilityDomain": self.availability_domain,
            "capacityReservationId": null,
            "compartmentId": self.compartment_id,
            "definedTags": self.defined_tags,
            "displayName": self.display_name,
            "extendedMetadata": self.extended_metadata,
            "faultDomain": self.fault_domain,
            "freeformTags": self.freeform_tags,
            "id": self.id,
            "imageId": self.image_id,
            "instanceOptions": {"areLegacyImdsEndpointsDisabled": false},
            "ipxeScript": null,
            "isCrossNumaNode": false,
            "launchMode": "PARAVIRTUALIZED",
            "launchOptions": {
                "bootVolumeType": "PARAVIRTUALIZED",
                "firmware": "UEFI_64",
                "isConsistentVolumeNamingEnabled": true,
                "isPvEncryptionInTransitEnabled": false,
                "networkType": "PARAVIRTUALIZED",
                "remoteDataVolumeType": "PARAVIRTUALIZED"
            },
            "lifecycleState": self.phase_at(now, d).as_str(),
            "metadata": self.metadata,
            "region": catalog::REGION,
            "shape": self.shape,
            "shapeConfig": {
                "baselineOcpuUtilization": null,
                "gpus": 0,
                "localDisks": 0,
                "maxVnicAttachments": 2,
                "memoryInGBs": self.memory_gbs,
                "networkingBandwidthInGbps": (self.ocpus).max(1.0),
                "ocpus": self.ocpus,
                "processorDescription": shape.map_or("", |s| s.processor),
                "vcpus": vcpus
            },
            "sourceDetails": source,
            "systemTags": {},
            "timeCreated": ts(self.time_created),
            "timeMaintenanceRebootDue": null
        })
    }

    /// The VnicAttachment JSON: ATTACHING (no vnicId yet) while provisioning, DETACHED once terminated.
    pub(super) fn attachment_json(&self, now: DateTime<Utc>, d: Delays) -> Value {
        let phase = self.phase_at(now, d);
        let (state, vnic) = match phase {
            Phase::Provisioning => ("ATTACHING", Value::Null),
            Phase::Terminating => ("DETACHING", json!(self.vnic_id)),
            Phase::Terminated => ("DETACHED", json!(self.vnic_id)),
            _ => ("ATTACHED", json!(self.vnic_id)),
        };
        json!({
            "availabilityDomain": self.availability_domain,
            "compartmentId": self.compartment_id,
            "displayName": null,
            "id": self.vnic_attachment_id,
            "instanceId": self.id,
            "lifecycleState": state,
            "nicIndex": 0,
            "subnetId": self.subnet_id,
            "timeCreated": ts(self.time_created),
            "vlanId": null,
            "vlanTag": 0,
            "vnicId": vnic
        })
    }

    /// The Vnic JSON.
    pub(super) fn vnic_json(&self, now: DateTime<Utc>, d: Delays) -> Value {
        let state = match self.phase_at(now, d) {
            Phase::Provisioning => "PROVISIONING",
            Phase::Terminating => "TERMINATING",
            Phase::Terminated => "TERMINATED",
            _ => "AVAILABLE",
        };
        let last = self.private_ip.rsplit('.').next().unwrap_or("0");
        json!({
            "availabilityDomain": self.availability_domain,
            "compartmentId": self.compartment_id,
            "definedTags": {},
            "displayName": self.display_name,
            "freeformTags": {},
            "hostnameLabel": self.hostname_label,
            "id": self.vnic_id,
            "isPrimary": true,
            "lifecycleState": state,
            "macAddress": format!("02:00:17:00:00:{:02X}", last.parse::<u8>().unwrap_or(0)),
            "nsgIds": [],
            "privateIp": self.private_ip,
            "publicIp": self.public_ip,
            "skipSourceDestCheck": false,
            "subnetId": self.subnet_id,
            "timeCreated": ts(self.time_created),
            "vlanId": null
        })
    }
}

impl catalog::Shape {
    fn ocpus_vcpus(&self, ocpus: f64) -> f64 {
        ocpus * self.vcpus_per_ocpu
    }
}

/// A remembered `opc-retry-token` and what it created.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RetryRecord {
    pub body: Value,
    pub instance_id: String,
    pub time: DateTime<Utc>,
    /// The work request of the launch, named again when the token is replayed.
    #[serde(default)]
    pub work_request_id: Option<String>,
}

/// Everything that must survive a restart of the sim.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Persisted {
    pub next_seq: u64,
    pub instances: Vec<Instance>,
    pub retry_tokens: BTreeMap<String, RetryRecord>,
    /// Launch attempts that reached the capacity check, per AD suffix (`AD-1`).
    pub launch_attempts: BTreeMap<String, u64>,
    /// Starts of stopped instances that reached the capacity check, per AD suffix.
    #[serde(default)]
    pub start_attempts: BTreeMap<String, u64>,
    /// Work requests of launches and terminations, by OCID.
    #[serde(default)]
    pub work_requests: BTreeMap<String, WorkRequest>,
    /// Instance pools, Autonomous Databases and Container Instances.
    #[serde(default)]
    pub others: Vec<super::others::Other>,
}

/// What a work request does to its instance, as the Work Requests API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WorkKind {
    /// LaunchInstance: the instance is CREATED once RUNNING.
    LaunchInstance,
    /// TerminateInstance: the instance is DELETED once TERMINATED.
    TerminateInstance,
}

/// One work request (`GET /20160918/workRequests/{id}`): it runs exactly as long as the
/// lifecycle transition it tracks, so it reaches SUCCEEDED when the instance reaches RUNNING
/// (launch) or TERMINATED (terminate), and FAILED when a later call cut the transition short.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WorkRequest {
    pub id: String,
    pub kind: WorkKind,
    pub compartment_id: String,
    pub instance_id: String,
    pub time_accepted: DateTime<Utc>,
    /// When the transition ends (and the request succeeds, unless it failed first).
    pub time_done: DateTime<Utc>,
    /// Set when another call (a terminate during provisioning) ended the transition early.
    pub failed: Option<(DateTime<Utc>, String)>,
}

impl WorkRequest {
    /// `ACCEPTED`, `IN_PROGRESS`, `SUCCEEDED` or `FAILED` at `now`, with percent and finish time.
    ///
    /// The request is ACCEPTED in the very instant it is created, IN_PROGRESS while the
    /// transition runs, then SUCCEEDED (the SDK waiters treat SUCCEEDED, FAILED and CANCELED as
    /// final: `oci.waiter._WORK_REQUEST_TERMINATION_STATES`).
    pub(super) fn status_at(
        &self,
        now: DateTime<Utc>,
    ) -> (&'static str, u32, Option<DateTime<Utc>>) {
        let total = (self.time_done - self.time_accepted)
            .num_milliseconds()
            .max(0);
        let percent = |t: DateTime<Utc>| {
            if total == 0 {
                100
            } else {
                let done = (t - self.time_accepted).num_milliseconds().clamp(0, total);
                u32::try_from(done * 100 / total).unwrap_or(100)
            }
        };
        if let Some((at, _)) = &self.failed
            && *at <= now
        {
            return ("FAILED", percent(*at), Some(*at));
        }
        if now >= self.time_done {
            ("SUCCEEDED", 100, Some(self.time_done))
        } else if now <= self.time_accepted {
            ("ACCEPTED", 0, None)
        } else {
            ("IN_PROGRESS", percent(now), None)
        }
    }

    /// The WorkRequest JSON (`oci.work_requests.models.WorkRequest`) at `now`.
    pub(super) fn to_json(&self, now: DateTime<Utc>) -> Value {
        let (status, percent, finished) = self.status_at(now);
        let (operation, done_action) = match self.kind {
            WorkKind::LaunchInstance => ("LaunchInstance", "CREATED"),
            WorkKind::TerminateInstance => ("TerminateInstance", "DELETED"),
        };
        // WorkRequestResource.actionType: IN_PROGRESS while the resource is being worked on,
        // then what happened to it; a failed request left it RELATED.
        let action = match status {
            "SUCCEEDED" => done_action,
            "FAILED" => "RELATED",
            _ => "IN_PROGRESS",
        };
        json!({
            "compartmentId": self.compartment_id,
            "id": self.id,
            "operationType": operation,
            "percentComplete": f64::from(percent),
            "resources": [{
                "actionType": action,
                "entityType": "instance",
                "entityUri": format!("/20160918/instances/{}", self.instance_id),
                "identifier": self.instance_id
            }],
            "status": status,
            "timeAccepted": ts(self.time_accepted),
            "timeFinished": finished.map(ts),
            "timeStarted": (status != "ACCEPTED").then(|| ts(self.time_accepted))
        })
    }
}

/// How long OCI honours a retry token.
pub(crate) const RETRY_TOKEN_TTL: chrono::Duration = chrono::Duration::hours(24);
/// How long terminated instances stay listed before the sim forgets them.
const TERMINATED_TTL: chrono::Duration = chrono::Duration::hours(24);

/// The state file plus a stamp to notice writes by another process sharing the state dir.
pub(crate) struct Store {
    path: PathBuf,
    pub data: Persisted,
    stamp: Option<(SystemTime, u64)>,
}

fn stamp_of(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl Store {
    /// Loads `path` (an absent file is an empty state).
    pub(super) fn open(path: PathBuf) -> Result<Store, String> {
        let mut s = Store {
            path,
            data: Persisted::default(),
            stamp: None,
        };
        s.load()?;
        Ok(s)
    }

    fn load(&mut self) -> Result<(), String> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                self.data = serde_json::from_slice(&bytes).map_err(|e| {
                    format!("the sim state `{}` is not valid: {e}", self.path.display())
                })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.data = Persisted::default();
            }
            Err(e) => return Err(format!("cannot read `{}`: {e}", self.path.display())),
        }
        self.stamp = stamp_of(&self.path);
        Ok(())
    }

    /// Re-reads the file when another process changed it since we last saw it.
    pub(super) fn refresh(&mut self) -> Result<(), String> {
        if stamp_of(&self.path) != self.stamp {
            self.load()?;
        }
        Ok(())
    }

    /// Forgets expired retry tokens and long-terminated instances, then writes atomically.
    pub(super) fn save(&mut self, now: DateTime<Utc>, d: Delays) -> Result<(), String> {
        self.data
            .retry_tokens
            .retain(|_, r| now - r.time < RETRY_TOKEN_TTL);
        self.data.instances.retain(|i| {
            i.phase_at(now, d) != Phase::Terminated || now - i.phase_since < TERMINATED_TTL
        });
        // Work requests stay readable as long as a terminated instance stays listed.
        self.data
            .work_requests
            .retain(|_, w| now - w.time_done < TERMINATED_TTL);
        let bytes = serde_json::to_vec_pretty(&self.data)
            .map_err(|e| format!("cannot encode the sim state: {e}"))?;
        write_atomic(&self.path, &bytes)?;
        self.stamp = stamp_of(&self.path);
        Ok(())
    }
}
