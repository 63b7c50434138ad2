//! What happened to each resource: the `[SUCCESS]`/`[SKIPPED]`/`[FAILED]`/`[DELETED]` lines.

use serde::Serialize;

/// How one resource came out of an action; printed as `[SUCCESS]` and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Outcome {
    /// Created, started or stopped as asked.
    Success,
    /// Nothing to do: already there, already in that state.
    Skipped,
    /// Could not be done; the reason says why.
    Failed,
    /// Deleted.
    Deleted,
    /// A daemon hunt pass or scheduled deploy found no capacity before its deadline or
    /// attempt limit, and capacity was its only trouble: not done yet, not failed. Printed
    /// `[SKIPPED]` with the reason `no capacity yet (attempt N); the hunt goes on`.
    #[serde(rename = "NO_CAPACITY")]
    NoCapacity,
}

impl Outcome {
    /// The bracketed tag printed at the start of the line.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Outcome::Success => "[SUCCESS]",
            Outcome::Skipped | Outcome::NoCapacity => "[SKIPPED]",
            Outcome::Failed => "[FAILED]",
            Outcome::Deleted => "[DELETED]",
        }
    }
}

/// Machine-readable facts about a resource, as `-o json` prints them (keys sorted).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Details {
    /// The OCI availability domain the instance landed in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_domain: Option<String>,
    /// The backend id (OCID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The address of a KubeVirt VMI's first interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Where the launch result JSON was saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_result: Option<String>,
    /// The Kubernetes node a VMI runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Private address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    /// Public address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
    /// OCI shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<String>,
    /// Size of a flex shape (`2 OCPU/12 GB`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// The command that logs in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh: Option<String>,
    /// Something the operator should know although the action succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl Details {
    /// No fact is set.
    pub(crate) fn is_empty(&self) -> bool {
        *self == Details::default()
    }

    /// Every fact that is set, as (key, value) in `-o json`'s key order.
    pub(crate) fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("availability_domain", &self.availability_domain),
            ("id", &self.id),
            ("ip", &self.ip),
            ("launch_result", &self.launch_result),
            ("node", &self.node),
            ("private_ip", &self.private_ip),
            ("public_ip", &self.public_ip),
            ("shape", &self.shape),
            ("size", &self.size),
            ("ssh", &self.ssh),
            ("warning", &self.warning),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }

    /// An address is known: the instance was seen running.
    pub(crate) fn has_address(&self) -> bool {
        self.public_ip.is_some() || self.private_ip.is_some() || self.ip.is_some()
    }
}

/// One line of output: a resource, what happened to it and why.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ResourceReport {
    /// The instance this resource belongs to.
    pub instance: String,
    /// Resource kind as the backend names it (`VirtualMachine`, `Instance`, ...).
    pub kind: String,
    /// Resource name (or OCID-less display name).
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
    /// Short reason, lowercase.
    pub reason: String,
    /// Extra machine-readable facts (instance id, IPs, ssh command).
    #[serde(skip_serializing_if = "Details::is_empty")]
    pub details: Details,
    /// The engine started the instance (`start`, or `deploy --wait` finding it stopped):
    /// counted as started, whatever words the provider chose.
    #[serde(skip)]
    pub(crate) started: bool,
}

impl ResourceReport {
    /// A report line with no details.
    pub(crate) fn new(
        instance: &str,
        kind: &str,
        name: &str,
        outcome: Outcome,
        reason: impl Into<String>,
    ) -> Self {
        ResourceReport {
            instance: instance.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            outcome,
            reason: reason.into(),
            details: Details::default(),
            started: false,
        }
    }

    /// Sets details (builder style).
    pub(crate) fn with(mut self, set: impl FnOnce(&mut Details)) -> Self {
        set(&mut self.details);
        self
    }
}

/// Counts of each outcome among instances or among objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Counts {
    /// Created or stopped as asked.
    pub success: usize,
    /// Started (by `start`, or by a `deploy --wait` that found the instance stopped).
    pub started: usize,
    /// Nothing to do.
    pub skipped: usize,
    /// Could not be done.
    pub failed: usize,
    /// Deleted.
    pub deleted: usize,
    /// No capacity yet (a daemon hunt pass or scheduled deploy): neither done nor failed.
    #[serde(skip_serializing_if = "is_zero")]
    pub no_capacity: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Counts {
    fn add(&mut self, r: &ResourceReport) {
        match r.outcome {
            Outcome::Success if r.started => self.started += 1,
            Outcome::Success => self.success += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Deleted => self.deleted += 1,
            Outcome::NoCapacity => self.no_capacity += 1,
        }
    }

    /// How many were counted.
    pub(crate) fn total(&self) -> usize {
        self.success + self.started + self.skipped + self.failed + self.deleted + self.no_capacity
    }
}

/// What a run did, printed at its end: each instance once, each object once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Summary {
    /// One outcome per instance: failed if any of its objects failed, else its main
    /// object's (the VM, the OCI instance).
    pub instances: Counts,
    /// One outcome per object (KubeVirt: Secret, NAD, DataVolume, VM; OCI: the instance).
    pub objects: Counts,
}

impl Summary {
    /// Counts `reports` (one per object, as the engine reports them).
    pub(crate) fn of(reports: &[ResourceReport]) -> Summary {
        let mut s = Summary::default();
        let mut names: Vec<&str> = Vec::new();
        for r in reports {
            s.objects.add(r);
            if !names.contains(&r.instance.as_str()) {
                names.push(&r.instance);
            }
        }
        for name in names {
            let own: Vec<&ResourceReport> = reports.iter().filter(|r| r.instance == name).collect();
            let main = own.iter().find(|r| r.name == name).or(own.last());
            let failed = own.iter().find(|r| r.outcome == Outcome::Failed);
            let success = own.iter().find(|r| r.outcome == Outcome::Success);
            let skipped = ResourceReport::new(name, "", name, Outcome::Skipped, "");
            // A start is what happened to the instance when its own object was started.
            let started = main.filter(|r| r.outcome == Outcome::Success);
            match failed.or(started).or(success).or(main) {
                Some(r) => s.instances.add(r),
                None => s.instances.add(&skipped),
            }
        }
        s
    }

    /// Whether some instance found no capacity yet (and none failed): a hunt goes on.
    pub(crate) fn no_capacity(&self) -> bool {
        !self.failed() && self.instances.no_capacity > 0
    }

    /// Whether anything failed.
    pub(crate) fn failed(&self) -> bool {
        self.objects.failed > 0 || self.instances.failed > 0
    }

    /// `2 instances: 2 created; 8 objects: 8 created`: the objects only where an instance
    /// has more than one (KubeVirt). `done` names a success (`created`, `started`, `stopped`).
    pub(crate) fn text(&self, done: &str) -> String {
        let part = |c: &Counts, one: &str, many: &str| {
            let n = c.total();
            let noun = if n == 1 { one } else { many };
            let words: Vec<String> = [
                (c.success, done),
                (c.started, "started"),
                (c.deleted, "deleted"),
                (c.skipped, "skipped"),
                (c.failed, "failed"),
                (c.no_capacity, "no capacity yet"),
            ]
            .into_iter()
            .filter(|(k, _)| *k > 0)
            .map(|(k, w)| format!("{k} {w}"))
            .collect();
            if words.is_empty() {
                format!("{n} {noun}")
            } else {
                format!("{n} {noun}: {}", words.join(", "))
            }
        };
        let instances = part(&self.instances, "instance", "instances");
        if self.objects.total() > self.instances.total() {
            format!("{instances}; {}", part(&self.objects, "object", "objects"))
        } else {
            instances
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_serialise_as_the_sorted_map_they_replaced() {
        let r = ResourceReport::new("a-01", "Instance", "a-01", Outcome::Success, "created").with(
            |d| {
                d.ssh = Some("ssh opc@203.0.113.7".into());
                d.id = Some("ocid1.instance.x".into());
                d.availability_domain = Some("Uocm:PHX-AD-1".into());
            },
        );
        assert_eq!(
            serde_json::to_string(&r.details).unwrap_or_default(),
            r#"{"availability_domain":"Uocm:PHX-AD-1","id":"ocid1.instance.x","ssh":"ssh opc@203.0.113.7"}"#
        );
        let plain = ResourceReport::new("a-01", "Instance", "a-01", Outcome::Skipped, "");
        assert!(
            !serde_json::to_string(&plain)
                .unwrap_or_default()
                .contains("details")
        );
    }
}
