//! What a `select:` spec picks on OCI: instances, instance pools, Autonomous Databases and
//! Container Instances vauto did not create, found by OCID or tags, and powered on and off.
//!
//! Nothing here creates, terminates or retags: the only writes are the power actions of each
//! kind, as the official SDKs name them (Python SDK 2.189.0):
//! - Compute `InstanceAction` (`?action=START|STOP|SOFTSTOP`) and `StartInstancePool`,
//!   `StopInstancePool`, `SoftstopInstancePool` (`POST /instancePools/{id}/actions/...`);
//! - Database `StartAutonomousDatabase` / `StopAutonomousDatabase`
//!   (`POST /autonomousDatabases/{id}/actions/start|stop`);
//! - Container Instances `StartContainerInstance` / `StopContainerInstance`
//!   (`POST /20210415/containerInstances/{id}/actions/start|stop`, 202 and no body).

use std::collections::BTreeMap;
use std::time::Duration;

use http::Method;
use serde::Deserialize;

use super::client::{Instance, OciClient, Service, encode_path, header};
use crate::model::{ErrorClass, Power, ProviderError, Select, SelectKind};
use crate::provider::poll::{Polling, Step, poll};

/// Pages one listing may go through (as the instance listing).
const MAX_PAGES: usize = 1000;

/// One selected resource, whatever its kind: the fields every kind has.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Selectable {
    /// OCID.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// The kind's lifecycle state (`RUNNING`, `AVAILABLE`, `ACTIVE`, `STOPPED`, `INACTIVE` ...).
    #[serde(default)]
    pub lifecycle_state: String,
    /// Freeform tags.
    #[serde(default)]
    pub freeform_tags: BTreeMap<String, String>,
    /// Defined tags: namespace → key → value.
    #[serde(default)]
    pub defined_tags: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Creation time (RFC 3339).
    pub time_created: Option<String>,
    /// Availability domain (instances, container instances).
    pub availability_domain: Option<String>,
    /// Shape (container instances).
    pub shape: Option<String>,
    /// Number of instances (instance pools).
    pub size: Option<u64>,
    /// Database name (Autonomous Databases).
    pub db_name: Option<String>,
    /// The instance itself, for rows with addresses (kind `instance` only).
    #[serde(skip)]
    pub instance: Option<Instance>,
    /// Which kind this is.
    #[serde(skip)]
    pub kind: Option<SelectKind>,
}

impl Selectable {
    fn from_instance(i: Instance) -> Selectable {
        Selectable {
            id: i.id.clone(),
            display_name: i.display_name.clone(),
            lifecycle_state: i.lifecycle_state.clone(),
            freeform_tags: i.freeform_tags.clone(),
            defined_tags: i.defined_tags.clone(),
            time_created: i.time_created.clone(),
            availability_domain: Some(i.availability_domain.clone()),
            shape: Some(i.shape.clone()),
            instance: Some(i),
            kind: Some(SelectKind::Instance),
            ..Selectable::default()
        }
    }

    /// The kind (instance unless set).
    pub(crate) fn kind(&self) -> SelectKind {
        self.kind.unwrap_or(SelectKind::Instance)
    }

    /// Every tag `select.tags` names is set to that value: `key` among the freeform tags,
    /// `Namespace.key` among the defined tags.
    pub(crate) fn has_tags(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.iter().all(|(k, want)| {
            if self.freeform_tags.get(k) == Some(want) {
                return true;
            }
            k.split_once('.').is_some_and(|(ns, key)| {
                self.defined_tags
                    .get(ns)
                    .and_then(|m| m.get(key))
                    .is_some_and(|v| match v {
                        serde_json::Value::String(s) => s == want,
                        // A number or boolean value compares by its JSON text (`2`, `true`).
                        other => serde_json::to_string(other).is_ok_and(|t| t == *want),
                    })
            })
        })
    }

    /// Being deleted or deleted (still listed for a while).
    pub(crate) fn is_gone(&self) -> bool {
        matches!(
            self.lifecycle_state.as_str(),
            "TERMINATED" | "TERMINATING" | "DELETED" | "DELETING"
        )
    }
}

/// The state each kind is in once started and once stopped.
pub(crate) fn target_state(kind: SelectKind, power: Power) -> &'static str {
    match (kind, power) {
        (SelectKind::Instance | SelectKind::InstancePool, Power::Start) => "RUNNING",
        (SelectKind::AutonomousDatabase, Power::Start) => "AVAILABLE",
        (SelectKind::ContainerInstance, Power::Start) => "ACTIVE",
        (SelectKind::ContainerInstance, _) => "INACTIVE",
        (_, _) => "STOPPED",
    }
}

/// States from which a kind moves on by itself (a change is under way): a power action then
/// is refused by OCI (409 IncorrectState), so it waits and tries again. For an Autonomous
/// Database, the documented states of `AutonomousDatabase.lifecycleState` that are not
/// stable; for an instance pool `InstancePool.lifecycleState`'s; for a Container Instance
/// `CREATING`/`UPDATING`.
pub(crate) fn is_busy(kind: SelectKind, state: &str) -> bool {
    match kind {
        SelectKind::Instance => matches!(state, "PROVISIONING" | "STARTING" | "STOPPING"),
        SelectKind::InstancePool => {
            matches!(state, "PROVISIONING" | "SCALING" | "STARTING" | "STOPPING")
        }
        SelectKind::AutonomousDatabase => matches!(
            state,
            "PROVISIONING"
                | "STARTING"
                | "STOPPING"
                | "UPDATING"
                | "BACKUP_IN_PROGRESS"
                | "SCALE_IN_PROGRESS"
                | "MAINTENANCE_IN_PROGRESS"
                | "RESTARTING"
                | "RECREATING"
                | "ROLE_CHANGE_IN_PROGRESS"
                | "UPGRADING"
                | "RESTORE_IN_PROGRESS"
        ),
        SelectKind::ContainerInstance => matches!(state, "CREATING" | "UPDATING"),
    }
}

/// The path of one resource of `kind` and the service it lives in.
fn path_of(kind: SelectKind, id: &str) -> (Service, String) {
    let id = encode_path(id);
    match kind {
        SelectKind::Instance => (Service::Iaas, format!("/instances/{id}")),
        SelectKind::InstancePool => (Service::Iaas, format!("/instancePools/{id}")),
        SelectKind::AutonomousDatabase => (Service::Database, format!("/autonomousDatabases/{id}")),
        SelectKind::ContainerInstance => (Service::Containers, format!("/containerInstances/{id}")),
    }
}

/// The noun people read for `kind` in messages.
pub(crate) fn noun(kind: SelectKind) -> &'static str {
    match kind {
        SelectKind::Instance => "instance",
        SelectKind::InstancePool => "instance pool",
        SelectKind::AutonomousDatabase => "autonomous database",
        SelectKind::ContainerInstance => "container instance",
    }
}

impl OciClient {
    /// Every resource of `kind` in `compartment` (every page).
    pub(crate) async fn list_selectable(
        &self,
        kind: SelectKind,
        compartment: &str,
    ) -> Result<Vec<Selectable>, ProviderError> {
        let q = [("compartmentId", compartment)];
        let mut found: Vec<Selectable> = match kind {
            SelectKind::Instance => {
                return Ok(self
                    .list_instances(compartment, None)
                    .await?
                    .into_iter()
                    .map(Selectable::from_instance)
                    .collect());
            }
            SelectKind::InstancePool => self.list_all(Service::Iaas, "/instancePools", &q).await?,
            SelectKind::AutonomousDatabase => {
                self.list_all(Service::Database, "/autonomousDatabases", &q)
                    .await?
            }
            SelectKind::ContainerInstance => self.list_container_instances(compartment).await?,
        };
        for r in &mut found {
            r.kind = Some(kind);
        }
        Ok(found)
    }

    /// ListContainerInstances answers a `ContainerInstanceCollection` (`{"items": [...]}`),
    /// not a bare array.
    async fn list_container_instances(
        &self,
        compartment: &str,
    ) -> Result<Vec<Selectable>, ProviderError> {
        #[derive(Deserialize)]
        struct Collection {
            #[serde(default)]
            items: Vec<Selectable>,
        }
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut q = vec![("compartmentId", compartment)];
            if let Some(p) = &page {
                q.push(("page", p.as_str()));
            }
            let answer = self
                .call(
                    Method::GET,
                    Service::Containers,
                    "/containerInstances",
                    &q,
                    None,
                    &[],
                )
                .await?;
            let next = header(&answer.headers, "opc-next-page").filter(|p| !p.is_empty());
            let c: Collection = self.json(answer, "ListContainerInstances")?;
            out.extend(c.items);
            match next {
                Some(n) => page = Some(n),
                None => break,
            }
        }
        Ok(out)
    }

    /// One resource by OCID (its kind from the OCID).
    pub(crate) async fn get_selectable(
        &self,
        kind: SelectKind,
        id: &str,
    ) -> Result<Selectable, ProviderError> {
        if kind == SelectKind::Instance {
            return Ok(Selectable::from_instance(self.get_instance(id).await?));
        }
        let (service, path) = path_of(kind, id);
        let answer = self
            .call(Method::GET, service, &path, &[], None, &[])
            .await?;
        let mut r: Selectable = self.json(answer, &format!("GET {path}"))?;
        r.kind = Some(kind);
        Ok(r)
    }

    /// The power action `verb` (`START`, `STOP`, `SOFTSTOP`) on one resource, as its API
    /// spells it; bodies are not sent (none of these actions has a required body).
    pub(crate) async fn selectable_action(
        &self,
        kind: SelectKind,
        id: &str,
        verb: &str,
    ) -> Result<(), ProviderError> {
        if kind == SelectKind::Instance {
            self.instance_action(id, verb).await?;
            return Ok(());
        }
        let (service, path) = path_of(kind, id);
        let path = format!("{path}/actions/{}", verb.to_ascii_lowercase());
        self.call(Method::POST, service, &path, &[], None, &[])
            .await?;
        Ok(())
    }
}

/// Finds what `select` picks in `compartment`: by OCID when `ids` are given (in any
/// compartment, as GET does), else by listing each kind; then keeps those with every tag,
/// leaving out what is being deleted.
pub(crate) async fn find(
    client: &OciClient,
    select: &Select,
    compartment: &str,
) -> Result<Vec<Selectable>, ProviderError> {
    let mut found = Vec::new();
    if select.ids.is_empty() {
        for kind in &select.kinds {
            found.extend(client.list_selectable(*kind, compartment).await?);
        }
    } else {
        for id in &select.ids {
            let kind = SelectKind::of_ocid(id).unwrap_or(SelectKind::Instance);
            match client.get_selectable(kind, id).await {
                Ok(r) => found.push(r),
                Err(e) if e.class == ErrorClass::NotFound => {
                    return Err(ProviderError::new(
                        ErrorClass::NotFound,
                        format!(
                            "select.ids: {} `{id}` does not exist or this identity may not read it (OCI answers 404 for both): {}",
                            noun(kind),
                            e.message
                        ),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }
    found.retain(|r| !r.is_gone() && r.has_tags(&select.tags));
    found.sort_by(|a, b| {
        (a.kind(), &a.display_name, &a.id).cmp(&(b.kind(), &b.display_name, &b.id))
    });
    Ok(found)
}

/// Polls one resource until it is in `target`, at most `polling`'s timeout; `Ok(None)` when
/// the time ran out first (the caller decides what that means).
pub(crate) async fn wait_for(
    client: &OciClient,
    polling: Polling,
    (kind, id, name): (SelectKind, &str, &str),
    target: &str,
) -> Result<Option<Selectable>, ProviderError> {
    let check = |r: Selectable, expired: bool| {
        if r.lifecycle_state == target {
            Step::Done(Some(r))
        } else if r.is_gone() {
            Step::Fail(ProviderError::new(
                ErrorClass::Invalid,
                format!(
                    "{} `{name}` is {} while waiting for {target}",
                    noun(kind),
                    r.lifecycle_state
                ),
            ))
        } else if expired {
            Step::Done(None)
        } else {
            Step::Again
        }
    };
    poll(polling, || client.get_selectable(kind, id), check).await
}

/// The size column of a row that is not an instance: a pool's instance count, a database's
/// name, a container instance's shape.
pub(crate) fn selected_size(r: &Selectable) -> Option<String> {
    match r.kind() {
        SelectKind::InstancePool => r.size.map(|n| format!("{n} instances")),
        SelectKind::AutonomousDatabase => r.db_name.as_ref().map(|d| format!("db {d}")),
        _ => r.shape.clone(),
    }
}

/// How long a power action waits for a busy resource to settle before acting.
pub(crate) const SETTLE_WAIT: Duration = Duration::from_secs(600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_match_freeform_and_defined_tags_and_each_kind_has_its_states() {
        let r: Selectable = serde_json::from_value(serde_json::json!({
            "id": "ocid1.autonomousdatabase.oc1..x",
            "displayName": "devdb",
            "lifecycleState": "AVAILABLE",
            "freeformTags": {"env": "dev"},
            "definedTags": {"Ops": {"team": "web", "tier": 2}}
        }))
        .unwrap();
        let tags = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(r.has_tags(&tags(&[("env", "dev"), ("Ops.team", "web")])));
        assert!(r.has_tags(&tags(&[("Ops.tier", "2")])));
        assert!(!r.has_tags(&tags(&[("env", "prod")])));
        assert!(!r.has_tags(&tags(&[("Ops.team", "db")])));
        assert!(!r.has_tags(&tags(&[("team", "web")])));
        assert!(r.has_tags(&BTreeMap::new()));
        assert_eq!(
            target_state(SelectKind::AutonomousDatabase, Power::Start),
            "AVAILABLE"
        );
        assert_eq!(
            target_state(SelectKind::ContainerInstance, Power::Stop),
            "INACTIVE"
        );
        assert_eq!(
            target_state(
                SelectKind::InstancePool,
                Power::SoftStop {
                    fallback: Duration::from_secs(1)
                }
            ),
            "STOPPED"
        );
        assert!(is_busy(SelectKind::AutonomousDatabase, "UPDATING"));
        assert!(!is_busy(SelectKind::AutonomousDatabase, "AVAILABLE"));
    }
}
