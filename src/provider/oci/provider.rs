//! The OCI backend: the `OciProvider` and its deploy, delete, status and power of managed
//! Compute instances.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Mutex, OnceCell};

use super::addresses::by_instance;
use super::client::{Instance, OciClient, Service, Subnet};
use super::config::{OciConnection, instance_principal, resolve_with};
use super::generations::{Generations, generation_key, write_atomic};
use super::image::Images;
use super::resources::{
    OciPlacement, Resolved, is_ocid, launch_details, placements, retry_token, select_ads, sizes,
    ssh_user,
};
use super::selected::{
    SETTLE_WAIT, Selectable, find, is_busy, noun, selected_size, target_state, wait_for,
};
use super::status::status_row;
use super::wait::{wait_addresses, wait_state};
use crate::config::{OciSpec, Project};
use crate::model::{
    Action, DeleteOptions, ErrorClass, ErrorCode, Event, Existing, InstanceStatus, Observer,
    Outcome, Power, ProviderError, ProviderKind, ResourceReport, Scope, Select, SelectKind,
    StatusOptions,
};
use crate::plan::{DesiredInstance, LABEL_MANAGED, LABEL_NAME, LABEL_PROJECT, LABEL_SPEC, Plan};
use crate::provider::poll::{Polling, Step, poll};
use crate::provider::{Attempt, Capability, ConnectOptions, Provider};

/// The resource kind in every OCI report line.
pub(crate) const KIND_INSTANCE: &str = "Instance";
/// Concurrent VNIC lookups in `status` (one GetVnic per instance). At 32 a 1000-instance status
/// with 20 ms per request is no longer bound by latency (benches/providers.sh: 64 gained under
/// 10%), and it stays a small burst of reads for OCI's per-tenancy throttling; a throttled
/// lookup only blanks that row's IPs.
const STATUS_CONCURRENCY: usize = 32;
/// Retry-token generations one launch attempt may go through while OCI answers with terminated
/// instances (see `launch_new`): each terminated answer costs one LaunchInstance, so a few per
/// attempt, with the engine's wait between attempts.
const GENERATIONS_PER_ATTEMPT: u64 = 3;

/// The OCI Compute backend of one project.
#[derive(Debug)]
pub(crate) struct OciProvider {
    conn: OciConnection,
    client: OciClient,
    project: String,
    state_dir: PathBuf,
    poll: Duration,
    ads: OnceCell<Vec<String>>,
    subnet: OnceCell<Subnet>,
    images: Images,
    /// Instances launched in this run: name → (id, image OS), so `wait_running` needs no lookup.
    launched: Mutex<HashMap<String, (String, String)>>,
    generations: Generations,
}

impl OciProvider {
    /// Resolves credentials and endpoints for `project`; makes no request yet.
    pub(crate) async fn connect(
        project: &Project,
        opts: &ConnectOptions,
    ) -> Result<OciProvider, ProviderError> {
        let federated = match project.oci().and_then(|o| o.auth) {
            Some(crate::config::OciAuth::InstancePrincipal) => {
                Some(instance_principal(project, opts).await?)
            }
            _ => None,
        };
        let conn = resolve_with(project, opts, federated)?;
        let client = OciClient::new(&conn, opts.timeout)?;
        Ok(OciProvider {
            conn,
            client,
            project: project.name.0.clone(),
            state_dir: opts.state_dir.clone(),
            poll: if opts.simulated {
                Duration::from_millis(500)
            } else {
                Duration::from_secs(5)
            },
            ads: OnceCell::new(),
            subnet: OnceCell::new(),
            images: Images::default(),
            launched: Mutex::new(HashMap::new()),
            generations: Generations::new(&opts.state_dir),
        })
    }

    #[cfg(test)]
    /// The resolved connection (region, compartment, endpoints).
    pub(crate) fn connection(&self) -> &OciConnection {
        &self.conn
    }

    #[cfg(test)]
    /// The REST client, for callers that need a raw call.
    pub(crate) fn client(&self) -> &OciClient {
        &self.client
    }

    fn compartment(&self) -> &str {
        self.conn.compartment_id()
    }

    /// Managed, live instances of this project matching `spec` and `name` when given.
    async fn owned(
        &self,
        spec: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<Instance>, ProviderError> {
        let mut all = self.owned_any_state(spec, name).await?;
        all.retain(|i| !i.is_gone());
        Ok(all)
    }

    /// Managed instances of this project matching `spec` and `name`, terminated ones too.
    async fn owned_any_state(
        &self,
        spec: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<Instance>, ProviderError> {
        let all = self.client.list_instances(self.compartment(), name).await?;
        Ok(all
            .into_iter()
            .filter(|i| owned_by(i, &self.project, spec, name))
            .collect())
    }

    async fn availability_domains(&self) -> Result<&Vec<String>, ProviderError> {
        self.ads
            .get_or_try_init(|| async {
                let ads = self
                    .client
                    .list_availability_domains(&self.conn.tenancy)
                    .await?;
                Ok::<_, ProviderError>(ads.into_iter().map(|a| a.name).collect())
            })
            .await
    }

    /// The configured subnet: GetSubnet for an OCID, else the one subnet of the compartment
    /// with that display name.
    async fn subnet(&self) -> Result<&Subnet, ProviderError> {
        self.subnet
            .get_or_try_init(|| async {
                let want = &self.conn.subnet;
                if is_ocid(want) {
                    return self.client.get_subnet(want).await;
                }
                let subnets = self.client.list_subnets(self.compartment()).await?;
                let matching: Vec<_> = subnets.iter().filter(|s| s.display_name == *want).collect();
                match matching.as_slice() {
                    [one] => Ok((*one).clone()),
                    [] => {
                        let names: Vec<&str> = subnets.iter().map(|s| s.display_name.as_str()).collect();
                        Err(ProviderError::new(
                            ErrorClass::Invalid,
                            format!(
                                "no subnet named `{want}` in compartment `{}` (found: {}); set `oci.subnet` to the subnet OCID if it lives in another compartment",
                                self.compartment(),
                                if names.is_empty() { "none".to_string() } else { names.join(", ") }
                            ),
                        ))
                    }
                    _ => Err(ProviderError::new(
                        ErrorClass::Invalid,
                        format!("{} subnets are named `{want}`: set `oci.subnet` to the OCID of the one to use", matching.len()),
                    )),
                }
            })
            .await
    }

    async fn find(&self, name: &str) -> Result<(String, String), ProviderError> {
        if let Some(hit) = self.launched.lock().await.get(name) {
            return Ok(hit.clone());
        }
        let found = self.owned(None, Some(name)).await?;
        match found.first() {
            Some(i) => Ok((i.id.clone(), String::new())),
            None => Err(ProviderError::new(
                ErrorClass::NotFound,
                format!("no managed instance `{name}` in project `{}`", self.project),
            )),
        }
    }

    fn save_launch(&self, name: &str, raw: &serde_json::Value) -> Result<PathBuf, ProviderError> {
        let path = self.state_dir.join("launch").join(format!("{name}.json"));
        let json = serde_json::to_vec_pretty(raw).map_err(|e| {
            ProviderError::new(
                ErrorClass::Invalid,
                format!("cannot encode the launch result: {e}"),
            )
        })?;
        write_atomic(&path, &json)?;
        Ok(path)
    }

    /// Brings the saved launch result up to date once the instance runs: the launch answer
    /// says PROVISIONING and has no addresses; `vauto` records what `--wait` saw.
    fn update_launch(
        &self,
        name: &str,
        state: &str,
        (private, public): (&Option<String>, &Option<String>),
    ) -> Result<(), String> {
        let path = self.state_dir.join("launch").join(format!("{name}.json"));
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            // Launched by an earlier run on another host: nothing to update.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        let mut saved: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| e.to_string())?;
        let Some(obj) = saved.as_object_mut() else {
            return Ok(());
        };
        obj.insert("lifecycleState".into(), serde_json::json!(state));
        obj.insert(
            "vauto".into(),
            serde_json::json!({
                "seenRunningAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "privateIp": private,
                "publicIp": public,
            }),
        );
        self.save_launch(name, &saved)
            .map(|_| ())
            .map_err(|e| e.message)
    }

    /// Moves the launch result of a deleted instance to `launch/deleted/<name>-<time>.json`:
    /// kept for the record, out of the way of the next launch of that name.
    fn set_launch_aside(&self, name: &str) -> Result<Option<PathBuf>, String> {
        let launch = self.state_dir.join("launch");
        let from = launch.join(format!("{name}.json"));
        if !from.is_file() {
            return Ok(None);
        }
        let dir = launch.join("deleted");
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let to = dir.join(format!("{name}-{stamp}.json"));
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::rename(&from, &to))
            .map_err(|e| {
                format!(
                    "cannot move `{}` to `{}`: {e}",
                    from.display(),
                    to.display()
                )
            })?;
        Ok(Some(to))
    }

    async fn try_create(
        &self,
        plan: &Plan,
        inst: &DesiredInstance,
        placement: &OciPlacement,
        observer: &dyn Observer,
    ) -> Result<ResourceReport, ProviderError> {
        let name = &inst.name;
        // Every instance with the display name, tagged or not: one list answers both whether
        // ours exists and whether someone else's look-alike does.
        let named = self
            .client
            .list_instances(self.compartment(), Some(name))
            .await?;
        if let Some(other) = named.iter().find(|i| {
            !i.is_gone() && i.freeform_tags.get(LABEL_MANAGED).map(String::as_str) != Some("true")
        }) {
            return Err(ProviderError::new(
                ErrorClass::AlreadyExists,
                format!(
                    "an instance named `{name}` that vauto did not create exists ({}): not launching a second; `vauto {} {} adopt --target {}` makes it this spec's",
                    other.id, self.project, inst.spec, other.id
                ),
            ));
        }
        let same_name: Vec<Instance> = named
            .into_iter()
            .filter(|i| owned_by(i, &self.project, Some(&inst.spec), Some(name)))
            .collect();
        if let Some(existing) = same_name.iter().find(|i| !i.is_gone()) {
            return Ok(ResourceReport::new(
                name,
                KIND_INSTANCE,
                name,
                Outcome::Skipped,
                format!("exists ({})", existing.lifecycle_state.to_lowercase()),
            )
            .with(|d| d.id = Some(existing.id.clone())));
        }
        let subnet = self.subnet().await?;
        let image = self
            .images
            .resolve(&self.client, self.compartment(), oci_spec(plan)?, observer)
            .await?;
        let ids = Resolved {
            compartment_id: self.compartment().to_string(),
            subnet_id: subnet.id.clone(),
            subnet_dns: subnet.dns_label.as_deref().is_some_and(|l| !l.is_empty()),
            image_id: image.id.clone(),
        };
        let body = launch_details(oci_spec(plan)?, inst, placement, &ids);
        let terminated: Vec<&str> = same_name
            .iter()
            .filter(|i| i.is_gone())
            .map(|i| i.id.as_str())
            .collect();
        let (launched, raw) = self.launch_new(&body, inst, &terminated, observer).await?;
        self.launched
            .lock()
            .await
            .insert(name.clone(), (launched.id.clone(), image.os.clone()));
        let mut report = launched_report(name, &launched, placement);
        match self.save_launch(name, &raw) {
            Ok(path) => report.details.launch_result = Some(path.display().to_string()),
            Err(e) => observer.event(Event::Note {
                message: format!("could not save the launch result: {}", e.message),
            }),
        }
        Ok(report)
    }
}

impl OciProvider {
    /// LaunchInstance with the instance's retry token, moving to the next generation while the
    /// answer is an instance that is already gone.
    ///
    /// OCI keeps a retry token for 24 hours (API reference, LaunchInstance `opc-retry-token`:
    /// "retried ... without risk of executing that same action again. Retry tokens expire after
    /// 24 hours") and answers a replayed one with the instance it launched, even once that
    /// instance is terminated (seen in the field; `sim/oci/api/launch.rs` `replay` does the
    /// same). The generation that moves the
    /// token on after a delete lives in `generations.json`; when that file is lost, or another
    /// host runs with a fresh state directory, the old token comes back and the launch
    /// "succeeds" onto a terminated instance. So every instance a launch returns is checked:
    /// TERMINATING/TERMINATED in the answer, or one of the `terminated` instances listed just
    /// before, means a new generation and a new launch. The loop is bounded per attempt; the
    /// generations are saved, so the engine's next attempt goes on where this one stopped.
    async fn launch_new(
        &self,
        body: &serde_json::Value,
        inst: &DesiredInstance,
        terminated: &[&str],
        observer: &dyn Observer,
    ) -> Result<(Instance, serde_json::Value), ProviderError> {
        let name = &inst.name;
        let key = generation_key(&inst.project, &inst.spec, name);
        let first = self.generations.get(&key).await;
        let mut generation = first;
        for _ in 0..GENERATIONS_PER_ATTEMPT {
            let token = retry_token(&inst.project, &inst.spec, name, generation);
            let (launched, raw) = match self.client.launch_instance(body, &token).await {
                Ok(ok) => ok,
                Err(e) => {
                    if e.code == ErrorCode::RetryTokenInvalidated {
                        self.generations.bump(&key).await?;
                    }
                    return Err(e);
                }
            };
            if !launched.is_gone() && !terminated.contains(&launched.id.as_str()) {
                return Ok((launched, raw));
            }
            let next = self.generations.bump(&key).await?;
            observer.event(Event::Note {
                message: format!(
                    "{name}: retry token of generation {generation} belongs to a terminated instance ({}, {}): launching with generation {next} (at most {GENERATIONS_PER_ATTEMPT} generations per attempt)",
                    launched.id,
                    launched.lifecycle_state.to_lowercase(),
                ),
            });
            generation = next;
        }
        Err(ProviderError::new(
            ErrorClass::Transient,
            format!(
                "retry tokens of generations {first} to {} all belong to terminated instances; the next attempt goes on with generation {generation}",
                generation.saturating_sub(1)
            ),
        ))
    }
}

/// The OCI part of the plan's spec (a spec is loaded for its project's provider).
fn oci_spec(plan: &Plan) -> Result<&OciSpec, ProviderError> {
    plan.spec.oci().ok_or_else(|| {
        ProviderError::new(
            ErrorClass::Invalid,
            format!("spec `{}` was not loaded for oci", plan.spec.name),
        )
    })
}

/// The report of a successful launch of `name` at `placement`.
fn launched_report(name: &str, launched: &Instance, placement: &OciPlacement) -> ResourceReport {
    ResourceReport::new(name, KIND_INSTANCE, name, Outcome::Success, "launched").with(|d| {
        d.id = Some(launched.id.clone());
        d.availability_domain = Some(launched.availability_domain.clone());
        d.shape = Some(launched.shape.clone());
        if let (Some(o), Some(m)) = (placement.ocpus, placement.memory_gb) {
            d.size = Some(format!("{o} OCPU/{m} GB"));
        }
    })
}

/// Whether `inst` carries the ownership tags of `project` (and `spec`, `name` when given).
fn owned_by(inst: &Instance, project: &str, spec: Option<&str>, name: Option<&str>) -> bool {
    let tag = |k: &str| inst.freeform_tags.get(k).map(String::as_str);
    tag(LABEL_MANAGED) == Some("true")
        && tag(LABEL_PROJECT) == Some(project)
        && spec.is_none_or(|s| tag(LABEL_SPEC) == Some(s))
        && name.is_none_or(|n| tag(LABEL_NAME) == Some(n))
}

impl Provider for OciProvider {
    type Placement = OciPlacement;

    fn kind(&self) -> ProviderKind {
        ProviderKind::Oci
    }

    const CAPABILITY: Capability = Capability {
        actions: &Action::OCI,
        rotates_placements: true,
        capacity_retry: true,
        keeps_boot_volume: true,
        // OCI has work requests and an audit log, but no events per instance.
        events: false,
    };

    async fn list(&self, scope: &Scope) -> Result<Vec<Existing>, ProviderError> {
        if let Some(select) = &scope.select {
            let spec = scope.spec.clone().unwrap_or_default();
            return Ok(self
                .selected(select)
                .await?
                .into_iter()
                .map(|r| Existing {
                    spec: spec.clone(),
                    complete: true,
                    resources: vec![(r.kind().report_kind().to_string(), r.display_name.clone())],
                    name: r.display_name,
                    id: r.id,
                    state: Some(r.lifecycle_state),
                    owned: false,
                })
                .collect());
        }
        let found = self
            .owned(scope.spec.as_deref(), scope.target.as_deref())
            .await?;
        Ok(found
            .into_iter()
            .map(|i| {
                let name = i.freeform_tags.get(LABEL_NAME).cloned().unwrap_or_default();
                Existing {
                    spec: i.freeform_tags.get(LABEL_SPEC).cloned().unwrap_or_default(),
                    id: i.id,
                    state: Some(i.lifecycle_state),
                    complete: true,
                    resources: vec![(KIND_INSTANCE.to_string(), name.clone())],
                    name,
                    owned: true,
                }
            })
            .collect())
    }

    async fn placements(
        &self,
        plan: &Plan,
        _instance: &DesiredInstance,
    ) -> Result<Vec<OciPlacement>, ProviderError> {
        let available = self.availability_domains().await?;
        let spec = oci_spec(plan)?;
        let ads = select_ads(available, spec.availability_domains.as_ref())
            .map_err(|m| ProviderError::new(ErrorClass::Invalid, m))?;
        Ok(placements(&ads, &sizes(spec)))
    }

    async fn create(
        &self,
        plan: &Plan,
        instance: &DesiredInstance,
        placement: &OciPlacement,
        observer: &dyn Observer,
    ) -> Attempt {
        match self.try_create(plan, instance, placement, observer).await {
            Ok(report) => Attempt {
                reports: vec![report],
                ..Attempt::default()
            },
            Err(e) => Attempt {
                error: Some(e),
                ..Attempt::default()
            },
        }
    }

    async fn wait_running(
        &self,
        instance: &str,
        timeout: Duration,
        observer: &dyn Observer,
    ) -> Result<ResourceReport, ProviderError> {
        let (id, os) = self.find(instance).await?;
        let polling = Polling::new(self.poll, timeout);
        let inst = wait_state(&self.client, polling, (instance, &id), "RUNNING", observer).await?;
        // The VNIC attaches shortly after RUNNING; give it the rest of the timeout.
        let (private, public) =
            wait_addresses(&self.client, polling, self.compartment(), &id).await?;
        if let Err(e) = self.update_launch(instance, &inst.lifecycle_state, (&private, &public)) {
            observer.event(Event::Note {
                message: format!("could not update the launch result of `{instance}`: {e}"),
            });
        }
        Ok(ResourceReport::new(
            instance,
            KIND_INSTANCE,
            instance,
            Outcome::Success,
            "running",
        )
        .with(|d| {
            d.id = Some(id.clone());
            d.availability_domain = Some(inst.availability_domain.clone());
            d.shape = Some(inst.shape.clone());
            d.private_ip = private;
            if let Some(ip) = &public {
                d.ssh = Some(format!("ssh {}@{ip}", ssh_user(&os)));
            }
            d.public_ip = public;
        }))
    }

    async fn delete(&self, existing: &Existing, options: &DeleteOptions) -> Attempt {
        let name = &existing.name;
        let deleted = |reason: &str| {
            ResourceReport::new(name, KIND_INSTANCE, name, Outcome::Deleted, reason)
                .with(|d| d.id = Some(existing.id.clone()))
        };
        let failed = |e: ProviderError| Attempt {
            error: Some(e),
            resource: Some((KIND_INSTANCE.to_string(), name.clone())),
            ..Attempt::default()
        };
        let result = self
            .client
            .terminate_instance(&existing.id, options.keep_boot_volume)
            .await;
        let report = match result {
            Ok(()) => deleted(if options.keep_boot_volume {
                "terminating, boot volume kept"
            } else {
                "terminating"
            }),
            Err(e) if e.class == ErrorClass::NotFound => deleted("already gone"),
            Err(e) if e.code == ErrorCode::NotAuthorizedOrNotFound => {
                // OCI answers 404 for both "gone" and "not allowed": look before calling it done.
                match self.client.get_instance(&existing.id).await {
                    Ok(i) if i.is_gone() => deleted("already terminated"),
                    Ok(_) => return failed(e),
                    Err(_) => deleted("already gone"),
                }
            }
            Err(e) => return failed(e),
        };
        // The next deploy of this name must launch a new instance, not replay the old token.
        let bumped = self
            .generations
            .bump(&generation_key(&self.project, &existing.spec, name))
            .await;
        self.launched.lock().await.remove(name);
        let report = match bumped {
            Ok(_) => report,
            Err(e) => report.with(|d| d.warning = Some(e.message)),
        };
        let report = match self.set_launch_aside(name) {
            Ok(Some(path)) => report.with(|d| d.launch_result = Some(path.display().to_string())),
            Ok(None) => report,
            Err(e) => report.with(|d| d.warning = Some(e)),
        };
        Attempt {
            reports: vec![report],
            ..Attempt::default()
        }
    }

    async fn status(
        &self,
        scope: &Scope,
        _options: &StatusOptions,
    ) -> Result<Vec<InstanceStatus>, ProviderError> {
        // OCI keeps no events per instance: `--events` is refused for OCI before this.
        if let Some(select) = &scope.select {
            return self
                .selected_status(select, scope.spec.as_deref().unwrap_or_default())
                .await;
        }
        // Both lists at once: the instances, and every VNIC attachment of the compartment (a
        // few pages instead of one ListVnicAttachments per instance). A failed attachment list
        // only blanks the addresses, as a failed per-instance lookup did.
        let (found, attachments) = futures::join!(
            self.owned(scope.spec.as_deref(), scope.target.as_deref()),
            self.client.list_vnic_attachments(self.compartment(), None)
        );
        let found = found?;
        let attachments = attachments.map(by_instance);
        let attachments = &attachments;
        let mut rows: Vec<InstanceStatus> = futures::stream::iter(found)
            .map(|i| status_row(&self.client, i, attachments))
            .buffered(STATUS_CONCURRENCY)
            .collect()
            .await;
        rows.sort_by(|a, b| (&a.spec, &a.name).cmp(&(&b.spec, &b.name)));
        Ok(rows)
    }

    async fn adopt(&self, plan: &Plan, id: &str) -> Result<ResourceReport, ProviderError> {
        self.adopt_instance(plan, id).await
    }

    async fn power(
        &self,
        existing: &Existing,
        action: Power,
        wait: Option<Duration>,
    ) -> Result<ResourceReport, ProviderError> {
        let kind = existing
            .resources
            .last()
            .and_then(|(k, _)| SelectKind::of_report_kind(k))
            .unwrap_or(SelectKind::Instance);
        self.power_kind(existing, kind, action, wait).await
    }
}

impl OciProvider {
    /// `adopt`: GetInstance (for its etag), checks, then UpdateInstance with the ownership
    /// tags added to its freeform tags under `If-Match`, so a change made meanwhile by
    /// someone else is not overwritten (412, retried by the engine's read of it again).
    async fn adopt_instance(&self, plan: &Plan, id: &str) -> Result<ResourceReport, ProviderError> {
        let path = format!("/instances/{}", super::client::encode_path(id));
        let answer = self
            .client
            .call(http::Method::GET, Service::Iaas, &path, &[], None, &[])
            .await?;
        let etag = super::client::header(&answer.headers, "etag");
        let inst: Instance = self.client.json(answer, "GetInstance")?;
        let name = inst.display_name.clone();
        let report = |outcome: Outcome, reason: &str| {
            ResourceReport::new(&name, KIND_INSTANCE, &name, outcome, reason)
                .with(|d| d.id = Some(inst.id.clone()))
        };
        let invalid = |m: String| ProviderError::new(ErrorClass::Invalid, m);
        if inst.is_gone() {
            return Err(invalid(format!(
                "instance `{name}` is {}: nothing to adopt",
                inst.lifecycle_state.to_lowercase()
            )));
        }
        if owned_by(&inst, &self.project, Some(&plan.spec.name), Some(&name)) {
            return Ok(report(Outcome::Skipped, "already vauto's"));
        }
        let tag = |k: &str| inst.freeform_tags.get(k).cloned().unwrap_or_default();
        if tag(LABEL_MANAGED) == "true" {
            return Err(invalid(format!(
                "instance `{name}` is already managed by project `{}` spec `{}`: vauto never retags what another spec owns",
                tag(LABEL_PROJECT),
                tag(LABEL_SPEC)
            )));
        }
        let names: Vec<&str> = plan.instances.iter().map(|i| i.name.as_str()).collect();
        if !names.contains(&name.as_str()) {
            return Err(invalid(format!(
                "instance `{name}` is not named like an instance of spec `{}` ({}): rename it (`oci compute instance update --display-name`) or list it in the spec's `names:`",
                plan.spec.name,
                names.join(", ")
            )));
        }
        if let Some(other) = self.owned(None, Some(&name)).await?.first() {
            return Err(invalid(format!(
                "a managed instance named `{name}` exists already ({}): one of the two must go first",
                other.id
            )));
        }
        let mut tags = inst.freeform_tags.clone();
        for (k, v) in [
            (LABEL_MANAGED, "true"),
            (LABEL_PROJECT, self.project.as_str()),
            (LABEL_SPEC, plan.spec.name.as_str()),
            (LABEL_NAME, name.as_str()),
        ] {
            tags.insert(k.to_string(), v.to_string());
        }
        let body = serde_json::to_vec(&serde_json::json!({ "freeformTags": tags }))
            .map_err(|e| invalid(format!("cannot encode the tags: {e}")))?;
        let extra: Vec<(&'static str, String)> =
            etag.into_iter().map(|e| ("if-match", e)).collect();
        self.client
            .call(
                http::Method::PUT,
                Service::Iaas,
                &path,
                &[],
                Some(body),
                &extra,
            )
            .await?;
        Ok(report(Outcome::Success, "adopted: ownership tags set"))
    }

    /// What a `select:` picks, in its compartment (default the project's).
    async fn selected(&self, select: &Select) -> Result<Vec<Selectable>, ProviderError> {
        find(&self.client, select, self.select_compartment(select)).await
    }

    /// Where a `select:` looks: its `compartment`, else the project's.
    fn select_compartment<'a>(&'a self, select: &'a Select) -> &'a str {
        select
            .compartment
            .as_deref()
            .unwrap_or_else(|| self.compartment())
    }

    /// Status rows of what a `select:` picks: instances with their addresses, the other
    /// kinds with their state and size.
    async fn selected_status(
        &self,
        select: &Select,
        spec: &str,
    ) -> Result<Vec<InstanceStatus>, ProviderError> {
        let found = self.selected(select).await?;
        let compartment = self.select_compartment(select);
        let attachments = if found.iter().any(|r| r.instance.is_some()) {
            self.client
                .list_vnic_attachments(compartment, None)
                .await
                .map(by_instance)
        } else {
            Ok(HashMap::new())
        };
        let attachments = &attachments;
        let rows: Vec<InstanceStatus> = futures::stream::iter(found)
            .map(|r| async move {
                let kind = r.kind();
                let mut row = match r.instance {
                    Some(i) => status_row(&self.client, i, attachments).await,
                    None => InstanceStatus {
                        name: r.display_name.clone(),
                        state: r.lifecycle_state.clone(),
                        placement: r.availability_domain.clone(),
                        size: selected_size(&r),
                        created: r.time_created.clone(),
                        id: r.id.clone(),
                        ..InstanceStatus::default()
                    },
                };
                row.name = r.display_name;
                row.spec = spec.to_string();
                row.kind = Some(kind.report_kind().to_string());
                row
            })
            .buffered(STATUS_CONCURRENCY)
            .collect()
            .await;
        Ok(rows)
    }

    /// Starts or stops one resource of `kind`: waits for a resource on its way somewhere else
    /// to settle (OCI refuses an action meanwhile with 409 IncorrectState), acts unless it is
    /// already there, and with `wait` waits for the state. A soft stop (instances and pools)
    /// asks the guest to shut down and powers off with STOP when it has not after `fallback`.
    async fn power_kind(
        &self,
        existing: &Existing,
        kind: SelectKind,
        action: Power,
        wait: Option<Duration>,
    ) -> Result<ResourceReport, ProviderError> {
        let name = existing.name.as_str();
        let id = existing.id.as_str();
        let report = |outcome: Outcome, reason: String| {
            ResourceReport::new(name, kind.report_kind(), name, outcome, reason)
                .with(|d| d.id = Some(existing.id.clone()))
        };
        let target = target_state(kind, action);
        let (verb, done) = match action {
            Power::Start => ("START", "started"),
            Power::Stop => ("STOP", "stopped"),
            Power::SoftStop { .. } => ("SOFTSTOP", "stopped"),
        };
        let on_its_way = if action.is_stop() {
            "STOPPING"
        } else {
            "STARTING"
        };
        let mut current = self.client.get_selectable(kind, id).await?;
        if is_busy(kind, &current.lifecycle_state) && current.lifecycle_state != on_its_way {
            current = self.settle(kind, id, name).await?;
        }
        if current.lifecycle_state == target {
            return Ok(report(
                Outcome::Skipped,
                format!("already {}", target.to_lowercase()),
            ));
        }
        if current.is_gone() {
            return Err(ProviderError::new(
                ErrorClass::Invalid,
                format!(
                    "{} is {}",
                    noun(kind),
                    current.lifecycle_state.to_lowercase()
                ),
            ));
        }
        let soft = match action {
            Power::SoftStop { fallback }
                if matches!(kind, SelectKind::Instance | SelectKind::InstancePool) =>
            {
                Some(fallback)
            }
            _ => None,
        };
        if let Some(fallback) = soft {
            if current.lifecycle_state != on_its_way {
                self.client.selectable_action(kind, id, verb).await?;
            }
            let polling = Polling::new(self.poll, fallback);
            if wait_for(&self.client, polling, (kind, id, name), target)
                .await?
                .is_some()
            {
                return Ok(report(
                    Outcome::Success,
                    "stopped (soft stop: the guest shut down)".into(),
                ));
            }
            // The guest did not shut down in time: power it off, as OCI itself does after
            // 15 minutes of SOFTSTOP (Compute API reference, InstanceAction).
            self.client.selectable_action(kind, id, "STOP").await?;
            let why = format!(
                "stopped: the guest did not shut down within {} of a soft stop; powered off (STOP)",
                humantime::format_duration(fallback)
            );
            self.wait_power(kind, id, name, target, wait).await?;
            return Ok(report(Outcome::Success, why));
        }
        // A resource already on its way needs no second request (a hard stop of a stopping
        // instance still sends STOP: it cuts a soft stop short).
        if current.lifecycle_state != on_its_way
            || (kind == SelectKind::Instance && action == Power::Stop)
        {
            let verb = if matches!(action, Power::SoftStop { .. }) {
                "STOP"
            } else {
                verb
            };
            self.client.selectable_action(kind, id, verb).await?;
        }
        self.wait_power(kind, id, name, target, wait).await?;
        Ok(report(Outcome::Success, done.to_string()))
    }

    /// With `wait`, waits that long for `target`; the deadline passing is an error.
    async fn wait_power(
        &self,
        kind: SelectKind,
        id: &str,
        name: &str,
        target: &str,
        wait: Option<Duration>,
    ) -> Result<(), ProviderError> {
        let Some(timeout) = wait else {
            return Ok(());
        };
        let polling = Polling::new(self.poll, timeout);
        match wait_for(&self.client, polling, (kind, id, name), target).await? {
            Some(_) => Ok(()),
            None => Err(ProviderError::new(
                ErrorClass::Transient,
                format!(
                    "{} `{name}` is not {target} after {}s",
                    noun(kind),
                    timeout.as_secs()
                ),
            )
            .with_code(ErrorCode::WaitTimedOut)),
        }
    }

    /// Waits until a resource that is busy (an Autonomous Database UPDATING, a pool SCALING,
    /// an instance STOPPING before a start ...) settles; still busy after [`SETTLE_WAIT`] is
    /// a transient error, which the engine retries later.
    async fn settle(
        &self,
        kind: SelectKind,
        id: &str,
        name: &str,
    ) -> Result<Selectable, ProviderError> {
        let polling = Polling::new(self.poll, SETTLE_WAIT);
        let check = |r: Selectable, expired: bool| {
            if !is_busy(kind, &r.lifecycle_state) {
                Step::Done(r)
            } else if expired {
                Step::Fail(ProviderError::new(
                    ErrorClass::Transient,
                    format!(
                        "{} `{name}` is still {} after {}s; trying again later",
                        noun(kind),
                        r.lifecycle_state,
                        SETTLE_WAIT.as_secs()
                    ),
                ))
            } else {
                Step::Again
            }
        };
        poll(polling, || self.client.get_selectable(kind, id), check).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(tags: &[(&str, &str)], state: &str) -> Instance {
        Instance {
            id: "ocid1.instance.oc1..x".into(),
            lifecycle_state: state.into(),
            freeform_tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Instance::default()
        }
    }

    #[test]
    fn only_instances_with_every_ownership_tag_are_ours() {
        let ours = inst(
            &[
                (LABEL_MANAGED, "true"),
                (LABEL_PROJECT, "lab"),
                (LABEL_SPEC, "a1"),
                (LABEL_NAME, "a1-01"),
            ],
            "RUNNING",
        );
        assert!(owned_by(&ours, "lab", Some("a1"), Some("a1-01")));
        assert!(owned_by(&ours, "lab", None, None));
        assert!(!owned_by(&ours, "lab", Some("web"), None));
        assert!(!owned_by(&ours, "other", None, None));
        assert!(!owned_by(&ours, "lab", None, Some("a1-02")));
        let unmanaged = inst(
            &[
                (LABEL_PROJECT, "lab"),
                (LABEL_SPEC, "a1"),
                (LABEL_NAME, "a1-01"),
            ],
            "RUNNING",
        );
        assert!(!owned_by(&unmanaged, "lab", Some("a1"), Some("a1-01")));
        assert!(inst(&[], "TERMINATING").is_gone() && inst(&[], "TERMINATED").is_gone());
        assert!(!inst(&[], "STOPPED").is_gone());
    }
}
