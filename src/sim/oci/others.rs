//! Resources besides instances that lights-out runs power: instance pools, Autonomous
//! Databases and Container Instances, each with the lifecycle its API documents.
//!
//! States (Python SDK 2.189.0 models): `InstancePool.lifecycleState` PROVISIONING, SCALING,
//! STARTING, STOPPING, TERMINATING, STOPPED, TERMINATED, RUNNING; `AutonomousDatabase` AVAILABLE,
//! STOPPING, STOPPED, STARTING, UPDATING, ... ; `ContainerInstance` CREATING, UPDATING,
//! ACTIVE, INACTIVE, DELETING, DELETED, FAILED. A transition ends lazily when its delay has
//! passed, as an instance's does.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::catalog::ts;
use super::state::Delays;

/// The kinds besides instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OtherKind {
    /// `ocid1.instancepool.`
    InstancePool,
    /// `ocid1.autonomousdatabase.`
    AutonomousDatabase,
    /// `ocid1.computecontainerinstance.`
    ContainerInstance,
}

impl OtherKind {
    /// The OCID's resource type word.
    pub(crate) fn ocid_word(self) -> &'static str {
        match self {
            OtherKind::InstancePool => "instancepool",
            OtherKind::AutonomousDatabase => "autonomousdatabase",
            OtherKind::ContainerInstance => "computecontainerinstance",
        }
    }

    /// The state once running, and once stopped.
    pub(crate) fn running(self) -> &'static str {
        match self {
            OtherKind::InstancePool => "RUNNING",
            OtherKind::AutonomousDatabase => "AVAILABLE",
            OtherKind::ContainerInstance => "ACTIVE",
        }
    }

    /// The state once stopped.
    pub(crate) fn stopped(self) -> &'static str {
        match self {
            OtherKind::ContainerInstance => "INACTIVE",
            _ => "STOPPED",
        }
    }

    /// The state while being created.
    pub(crate) fn creating(self) -> &'static str {
        match self {
            OtherKind::ContainerInstance => "CREATING",
            _ => "PROVISIONING",
        }
    }

    /// The state while starting: Container Instances have no STARTING and show UPDATING.
    pub(crate) fn starting(self) -> &'static str {
        match self {
            OtherKind::ContainerInstance => "UPDATING",
            _ => "STARTING",
        }
    }

    /// The state while stopping.
    pub(crate) fn stopping(self) -> &'static str {
        match self {
            OtherKind::ContainerInstance => "UPDATING",
            _ => "STOPPING",
        }
    }
}

/// One pool, database or container instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Other {
    pub kind: OtherKind,
    pub id: String,
    pub compartment_id: String,
    pub display_name: String,
    pub freeform_tags: Map<String, Value>,
    pub defined_tags: Map<String, Value>,
    pub time_created: DateTime<Utc>,
    /// The state now, or the transitional state until `since + delay`.
    pub state: String,
    /// Where a transition leads, once its delay has passed.
    pub next: Option<String>,
    pub since: DateTime<Utc>,
    /// The kind's own fields as created (`size`, `dbName`, `shape`, `availabilityDomain` ...).
    pub fields: Map<String, Value>,
}

impl Other {
    /// The state at `now`: a transition whose delay has passed has ended.
    pub(crate) fn state_at(&self, now: DateTime<Utc>, d: Delays) -> &str {
        match &self.next {
            Some(next) if (now - self.since).to_std().unwrap_or_default() >= self.delay(d) => next,
            _ => &self.state,
        }
    }

    fn delay(&self, d: Delays) -> std::time::Duration {
        if self.state == self.kind.creating() {
            d.provision
        } else {
            d.transition
        }
    }

    /// Stores the state reached, so that a new transition starts from it.
    pub(crate) fn settle(&mut self, now: DateTime<Utc>, d: Delays) {
        let s = self.state_at(now, d).to_string();
        if s != self.state {
            self.state = s;
            self.next = None;
        }
    }

    /// Starts a transition through `via` to `to`.
    pub(crate) fn go(&mut self, via: &str, to: &str, now: DateTime<Utc>) {
        self.state = via.to_string();
        self.next = Some(to.to_string());
        self.since = now;
    }

    /// The resource JSON (camelCase, as the API answers it) at `now`.
    pub(crate) fn to_json(&self, now: DateTime<Utc>, d: Delays) -> Value {
        let mut v = json!({
            "id": self.id,
            "compartmentId": self.compartment_id,
            "displayName": self.display_name,
            "lifecycleState": self.state_at(now, d),
            "freeformTags": self.freeform_tags,
            "definedTags": self.defined_tags,
            "timeCreated": ts(self.time_created),
        });
        if let Some(obj) = v.as_object_mut() {
            for (k, x) in &self.fields {
                obj.entry(k.clone()).or_insert_with(|| x.clone());
            }
        }
        v
    }
}
