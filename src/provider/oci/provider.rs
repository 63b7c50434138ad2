//! The OCI backend: deploy, delete, status and power of managed Compute instances.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{Mutex, OnceCell};

use super::client::{ImageQuery, Instance, OciClient, Subnet, VnicAttachment};
use super::config::{OciConnection, resolve};
use super::resources::{
    OciPlacement, Resolved, is_ocid, launch_details, pick_image, placements, retry_token,
    select_ads, sizes, ssh_user,
};
use crate::config::Project;
use crate::model::{
    Action, DeleteOptions, ErrorClass, ErrorCode, Event, Existing, InstanceStatus, Observer,
    Outcome, Power, ProviderError, ProviderKind, ResourceReport, Scope,
};
use crate::plan::{DesiredInstance, LABEL_MANAGED, LABEL_NAME, LABEL_PROJECT, LABEL_SPEC, Plan};
use crate::provider::{Attempt, Capability, ConnectOptions, Provider};

/// The resource kind in every OCI report line.
pub const KIND_INSTANCE: &str = "Instance";
/// Concurrent VNIC lookups in `status` (one GetVnic per instance). At 32 a 1000-instance status
/// with 20 ms per request is no longer bound by latency (benches/providers.sh: 64 gained under
/// 10%), and it stays a small burst of reads for OCI's per-tenancy throttling; a throttled
/// lookup only blanks that row's IPs.
const STATUS_CONCURRENCY: usize = 32;
/// How long `power --wait` waits for the new state.
const POWER_WAIT: Duration = Duration::from_secs(600);

/// An image resolved for a spec: its OCID and operating system (for the ssh user).
#[derive(Debug, Clone)]
struct ResolvedImage {
    id: String,
    os: String,
}

/// The OCI Compute backend of one project.
#[derive(Debug)]
pub struct OciProvider {
    conn: OciConnection,
    client: OciClient,
    project: String,
    state_dir: PathBuf,
    poll: Duration,
    ads: OnceCell<Vec<String>>,
    subnet: OnceCell<Subnet>,
    images: Mutex<HashMap<String, ResolvedImage>>,
    /// Instances launched in this run: name → (id, image OS), so `wait_running` needs no lookup.
    launched: Mutex<HashMap<String, (String, String)>>,
    /// Serialises read-modify-write of the generations file within this process.
    generations: Mutex<()>,
}

impl OciProvider {
    /// Resolves credentials and endpoints for `project`; makes no request yet.
    pub async fn connect(
        project: &Project,
        opts: &ConnectOptions,
    ) -> Result<OciProvider, ProviderError> {
        let conn = resolve(project, opts)?;
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
            images: Mutex::new(HashMap::new()),
            launched: Mutex::new(HashMap::new()),
            generations: Mutex::new(()),
        })
    }

    /// The resolved connection (region, compartment, endpoints).
    pub fn connection(&self) -> &OciConnection {
        &self.conn
    }

    /// The REST client, for callers that need a raw call.
    pub fn client(&self) -> &OciClient {
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
        let all = self.client.list_instances(self.compartment(), name).await?;
        Ok(all
            .into_iter()
            .filter(|i| !i.is_gone() && owned_by(i, &self.project, spec, name))
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

    async fn image(
        &self,
        plan: &Plan,
        observer: &dyn Observer,
        instance: &str,
    ) -> Result<ResolvedImage, ProviderError> {
        let spec = &plan.spec;
        let Some(image) = &spec.image else {
            return Err(ProviderError::new(
                ErrorClass::Invalid,
                format!("spec `{}` has no `image`", spec.name),
            ));
        };
        let os = image.os.as_ref().map(|o| o.0.clone()).unwrap_or_default();
        if let Some(id) = image.id.as_ref().filter(|i| !i.is_empty()) {
            return Ok(ResolvedImage {
                id: id.0.clone(),
                os,
            });
        }
        let query = ImageQuery {
            operating_system: image.os.as_ref().map(|o| o.0.clone()),
            operating_system_version: image.os_version.as_ref().map(|o| o.0.clone()),
            shape: spec.shape.as_ref().map(|s| s.0.clone()),
        };
        let names: Vec<String> = image.name_contains.iter().map(|n| n.0.clone()).collect();
        let key = format!("{query:?}{names:?}");
        let mut cache = self.images.lock().await;
        if let Some(hit) = cache.get(&key) {
            return Ok(hit.clone());
        }
        // OCI's version filter is an exact match, and Minimal/aarch64 builds carry versions
        // like `22.04 Minimal`: ask for the OS and shape, then match the version here.
        let api_query = ImageQuery {
            operating_system_version: None,
            ..query.clone()
        };
        let mut images = self
            .client
            .list_images(self.compartment(), &api_query)
            .await?;
        if let Some(v) = &query.operating_system_version {
            images.retain(|i| {
                i.operating_system_version == *v
                    || i.operating_system_version.starts_with(&format!("{v} "))
            });
        }
        let Some(found) = pick_image(&images, &names) else {
            return Err(ProviderError::new(
                ErrorClass::Invalid,
                format!(
                    "no image matches os `{}` version `{}` names [{}] for shape `{}` ({} candidates)",
                    query.operating_system.as_deref().unwrap_or("any"),
                    query.operating_system_version.as_deref().unwrap_or("any"),
                    names.join(", "),
                    query.shape.as_deref().unwrap_or("any"),
                    images.len()
                ),
            ));
        };
        observer.event(Event::Note {
            instance: Some(instance.to_string()),
            message: format!("image `{}` ({})", found.display_name, found.id),
        });
        let resolved = ResolvedImage {
            id: found.id.clone(),
            os: if found.operating_system.is_empty() {
                os
            } else {
                found.operating_system.clone()
            },
        };
        cache.insert(key, resolved.clone());
        Ok(resolved)
    }

    fn generations_file(&self) -> PathBuf {
        self.state_dir.join("oci").join("generations.json")
    }

    async fn generation(&self, key: &str) -> u64 {
        let _guard = self.generations.lock().await;
        read_generations(&self.generations_file())
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// Moves `key` to a fresh retry token: after a delete or an invalidated token.
    async fn bump_generation(&self, key: &str) -> Result<u64, ProviderError> {
        let _guard = self.generations.lock().await;
        let path = self.generations_file();
        let mut all = read_generations(&path);
        let next = all.get(key).copied().unwrap_or(0) + 1;
        all.insert(key.to_string(), next);
        let json = serde_json::to_vec_pretty(&all).map_err(|e| {
            ProviderError::new(
                ErrorClass::Invalid,
                format!("cannot encode generations: {e}"),
            )
        })?;
        write_atomic(&path, &json)?;
        Ok(next)
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

    /// Private and public IP of the instance's primary VNIC.
    async fn addresses(
        &self,
        instance_id: &str,
    ) -> Result<(Option<String>, Option<String>), ProviderError> {
        let attachments = self
            .client
            .list_vnic_attachments(self.compartment(), Some(instance_id))
            .await?;
        let attachments: Vec<&VnicAttachment> = attachments.iter().collect();
        self.addresses_of(&attachments).await
    }

    /// Private and public IP of the primary VNIC among one instance's `attachments` (the first
    /// attached VNIC when none says it is primary).
    async fn addresses_of(
        &self,
        attachments: &[&VnicAttachment],
    ) -> Result<(Option<String>, Option<String>), ProviderError> {
        let mut first = (None, None);
        for a in attachments
            .iter()
            .filter(|a| a.lifecycle_state == "ATTACHED" || a.lifecycle_state.is_empty())
        {
            let Some(vnic_id) = &a.vnic_id else { continue };
            let vnic = self.client.get_vnic(vnic_id).await?;
            let ips = (vnic.private_ip.clone(), vnic.public_ip.clone());
            if vnic.is_primary != Some(false) {
                return Ok(ips);
            }
            if first.0.is_none() {
                first = ips;
            }
        }
        Ok(first)
    }

    /// Polls until the instance reaches `target`, reporting each new state.
    async fn wait_state(
        &self,
        name: &str,
        id: &str,
        target: &str,
        timeout: Duration,
        observer: &dyn Observer,
    ) -> Result<Instance, ProviderError> {
        let start = Instant::now();
        let mut last = String::new();
        loop {
            let inst = match self.client.get_instance(id).await {
                Ok(i) => i,
                // A blip while polling is no reason to give up waiting.
                Err(e)
                    if matches!(e.class, ErrorClass::Transient | ErrorClass::Throttled)
                        && start.elapsed() < timeout =>
                {
                    tokio::time::sleep(e.retry_after.unwrap_or(self.poll)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if inst.lifecycle_state != last {
                last = inst.lifecycle_state.clone();
                observer.event(Event::Progress {
                    instance: name.to_string(),
                    phase: last.clone(),
                    percent: None,
                });
            }
            if inst.lifecycle_state == target {
                return Ok(inst);
            }
            if inst.is_gone() {
                return Err(ProviderError::new(
                    ErrorClass::Invalid,
                    format!(
                        "instance `{name}` is {} while waiting for {target}",
                        inst.lifecycle_state
                    ),
                ));
            }
            if start.elapsed() >= timeout {
                return Err(ProviderError::new(
                    ErrorClass::Transient,
                    format!(
                        "instance `{name}` is still {} after {}s waiting for {target}",
                        inst.lifecycle_state,
                        timeout.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(
                self.poll
                    .min(timeout.saturating_sub(start.elapsed()))
                    .max(Duration::from_millis(50)),
            )
            .await;
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

    async fn try_create(
        &self,
        plan: &Plan,
        inst: &DesiredInstance,
        placement: &OciPlacement,
        observer: &dyn Observer,
    ) -> Result<ResourceReport, ProviderError> {
        let name = &inst.name;
        if let Some(existing) = self.owned(Some(&inst.spec), Some(name)).await?.first() {
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
        let image = self.image(plan, observer, name).await?;
        let ids = Resolved {
            compartment_id: self.compartment().to_string(),
            subnet_id: subnet.id.clone(),
            subnet_dns: subnet.dns_label.as_deref().is_some_and(|l| !l.is_empty()),
            image_id: image.id.clone(),
        };
        let body = launch_details(plan, inst, placement, &ids);
        let key = generation_key(&inst.project, &inst.spec, name);
        let generation = self.generation(&key).await;
        let token = retry_token(&inst.project, &inst.spec, name, generation);
        let (launched, raw) = match self.client.launch_instance(&body, &token).await {
            Ok(ok) => ok,
            Err(e) => {
                if e.code == ErrorCode::RetryTokenInvalidated {
                    self.bump_generation(&key).await?;
                }
                return Err(e);
            }
        };
        self.launched
            .lock()
            .await
            .insert(name.clone(), (launched.id.clone(), image.os.clone()));
        let mut report =
            ResourceReport::new(name, KIND_INSTANCE, name, Outcome::Success, "launched").with(
                |d| {
                    d.id = Some(launched.id.clone());
                    d.availability_domain = Some(launched.availability_domain.clone());
                    d.shape = Some(launched.shape.clone());
                    if let (Some(o), Some(m)) = (placement.ocpus, placement.memory_gb) {
                        d.size = Some(format!("{o} OCPU/{m} GB"));
                    }
                },
            );
        match self.save_launch(name, &raw) {
            Ok(path) => report.details.launch_result = Some(path.display().to_string()),
            Err(e) => observer.event(Event::Note {
                instance: Some(name.clone()),
                message: format!("could not save the launch result: {}", e.message),
            }),
        }
        Ok(report)
    }

    /// One status row; `attachments` are the compartment's VNIC attachments (or why they could
    /// not be listed), so each row costs one GetVnic instead of a list and a get.
    async fn status_row(
        &self,
        inst: Instance,
        attachments: &Result<HashMap<String, Vec<VnicAttachment>>, ProviderError>,
    ) -> InstanceStatus {
        let mut row = InstanceStatus {
            name: inst
                .freeform_tags
                .get(LABEL_NAME)
                .cloned()
                .unwrap_or_else(|| inst.display_name.clone()),
            spec: inst
                .freeform_tags
                .get(LABEL_SPEC)
                .cloned()
                .unwrap_or_default(),
            state: inst.lifecycle_state.clone(),
            placement: Some(inst.availability_domain.clone()).filter(|a| !a.is_empty()),
            created: inst.time_created.clone(),
            id: inst.id.clone(),
            ..InstanceStatus::default()
        };
        let mut size = inst.shape.clone();
        if let Some(cfg) = &inst.shape_config
            && let (Some(o), Some(m)) = (cfg.ocpus, cfg.memory_in_gbs)
        {
            size.push_str(&format!(" {o} OCPU/{m} GB"));
            row.extra.ocpus = Some(o.to_string());
            row.extra.memory_gb = Some(m.to_string());
        }
        row.size = Some(size);
        row.extra.fault_domain.clone_from(&inst.fault_domain);
        let addresses = match attachments {
            Ok(by_instance) => {
                let mine: Vec<&VnicAttachment> = by_instance
                    .get(&inst.id)
                    .map(|v| v.iter().collect())
                    .unwrap_or_default();
                self.addresses_of(&mine).await
            }
            Err(e) => Err(e.clone()),
        };
        match addresses {
            Ok((private, public)) => {
                row.ip = private;
                row.public_ip = public;
            }
            Err(e) => row.last_event = Some(format!("addresses unavailable: {}", e.message)),
        }
        row
    }
}

/// The key of one instance in the generations file.
fn generation_key(project: &str, spec: &str, name: &str) -> String {
    format!("{project}/{spec}/{name}")
}

fn read_generations(path: &Path) -> BTreeMap<String, u64> {
    // A missing or unreadable file means generation 0 everywhere; the write is atomic,
    // so a corrupt file can only come from a hand edit.
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Writes `bytes` to `path` via a temp file in the same folder and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ProviderError> {
    use std::io::Write;
    let fail = |e: std::io::Error| {
        ProviderError::new(
            ErrorClass::Invalid,
            format!("cannot write `{}`: {e}", path.display()),
        )
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
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
        actions: &[
            Action::Deploy,
            Action::Delete,
            Action::Status,
            Action::Start,
            Action::Stop,
        ],
        rotates_placements: true,
        capacity_retry: true,
        keeps_boot_volume: true,
    };

    async fn list(&self, scope: &Scope) -> Result<Vec<Existing>, ProviderError> {
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
                    complete: true,
                    resources: vec![(KIND_INSTANCE.to_string(), name.clone())],
                    name,
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
        let ads = select_ads(available, plan.spec.placement.availability_domains.as_ref())
            .map_err(|m| ProviderError::new(ErrorClass::Invalid, m))?;
        Ok(placements(&ads, &sizes(&plan.spec)))
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
                error: None,
            },
            Err(e) => Attempt {
                reports: vec![],
                error: Some(e),
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
        let start = Instant::now();
        let inst = self
            .wait_state(instance, &id, "RUNNING", timeout, observer)
            .await?;
        // The VNIC attaches shortly after RUNNING; give it the rest of the timeout.
        let (private, public) = loop {
            let ips = match self.addresses(&id).await {
                Ok(ips) => ips,
                Err(e)
                    if matches!(e.class, ErrorClass::Transient | ErrorClass::Throttled)
                        && start.elapsed() < timeout =>
                {
                    tokio::time::sleep(self.poll).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if ips.0.is_some() || start.elapsed() >= timeout {
                break ips;
            }
            tokio::time::sleep(self.poll).await;
        };
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

    async fn delete(&self, existing: &Existing, options: &DeleteOptions) -> Vec<ResourceReport> {
        let name = &existing.name;
        let deleted = |reason: &str| {
            ResourceReport::new(name, KIND_INSTANCE, name, Outcome::Deleted, reason)
                .with(|d| d.id = Some(existing.id.clone()))
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
                    Ok(_) => {
                        ResourceReport::new(name, KIND_INSTANCE, name, Outcome::Failed, e.message)
                    }
                    Err(_) => deleted("already gone"),
                }
            }
            Err(e) => ResourceReport::new(name, KIND_INSTANCE, name, Outcome::Failed, e.message),
        };
        if report.outcome == Outcome::Deleted {
            // The next deploy of this name must launch a new instance, not replay the old token.
            if let Err(e) = self
                .bump_generation(&generation_key(&self.project, &existing.spec, name))
                .await
            {
                return vec![report.with(|d| d.warning = Some(e.message))];
            }
            self.launched.lock().await.remove(name);
        }
        vec![report]
    }

    async fn status(&self, scope: &Scope) -> Result<Vec<InstanceStatus>, ProviderError> {
        // Both lists at once: the instances, and every VNIC attachment of the compartment (a
        // few pages instead of one ListVnicAttachments per instance). A failed attachment list
        // only blanks the addresses, as a failed per-instance lookup did.
        let (found, attachments) = futures::join!(
            self.owned(scope.spec.as_deref(), scope.target.as_deref()),
            self.client.list_vnic_attachments(self.compartment(), None)
        );
        let found = found?;
        let attachments = attachments.map(|list| {
            let mut by_instance: HashMap<String, Vec<VnicAttachment>> = HashMap::new();
            for a in list {
                by_instance
                    .entry(a.instance_id.clone())
                    .or_default()
                    .push(a);
            }
            by_instance
        });
        let attachments = &attachments;
        let mut rows: Vec<InstanceStatus> = futures::stream::iter(found)
            .map(|i| self.status_row(i, attachments))
            .buffered(STATUS_CONCURRENCY)
            .collect()
            .await;
        rows.sort_by(|a, b| (&a.spec, &a.name).cmp(&(&b.spec, &b.name)));
        Ok(rows)
    }

    async fn power(&self, existing: &Existing, action: Power, wait: bool) -> ResourceReport {
        let name = &existing.name;
        let report = |outcome: Outcome, reason: String| {
            ResourceReport::new(name, KIND_INSTANCE, name, outcome, reason)
                .with(|d| d.id = Some(existing.id.clone()))
        };
        let (verb, target, done) = match action {
            Power::Start => ("START", "RUNNING", "started"),
            Power::Stop => ("STOP", "STOPPED", "stopped"),
        };
        let current = match self.client.get_instance(&existing.id).await {
            Ok(i) => i,
            Err(e) => return report(Outcome::Failed, e.message),
        };
        if current.lifecycle_state == target {
            return report(
                Outcome::Skipped,
                format!("already {}", target.to_lowercase()),
            );
        }
        if current.is_gone() {
            return report(
                Outcome::Failed,
                format!("instance is {}", current.lifecycle_state.to_lowercase()),
            );
        }
        if let Err(e) = self.client.instance_action(&existing.id, verb).await {
            return report(Outcome::Failed, e.message);
        }
        if wait {
            let silent = crate::model::Silent;
            if let Err(e) = self
                .wait_state(name, &existing.id, target, POWER_WAIT, &silent)
                .await
            {
                return report(Outcome::Failed, e.message);
            }
        }
        report(Outcome::Success, done.to_string())
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

    #[test]
    fn generations_survive_atomic_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oci/generations.json");
        assert!(read_generations(&path).is_empty());
        let mut g = BTreeMap::new();
        g.insert(generation_key("lab", "a1", "a1-01"), 2u64);
        write_atomic(&path, &serde_json::to_vec(&g).unwrap()).unwrap();
        assert_eq!(
            read_generations(&path)[&generation_key("lab", "a1", "a1-01")],
            2
        );
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no temp files left"
        );
    }
}

/// End-to-end tests of the provider against a tiny OCI stub on 127.0.0.1 that verifies
/// every signature; the full simulator lives in `sim/`.
#[cfg(all(test, feature = "sim"))]
mod stub_tests {
    use super::*;
    use crate::model::Recorder;
    use crate::plan::ownership_labels;
    use crate::provider::Placement;
    use crate::provider::oci::resources::retry_token;
    use crate::provider::oci::signer::signing_string;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::response::{IntoResponse, Response};
    use base64::Engine as _;
    use http::{HeaderMap, Method, StatusCode, Uri};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::{Pkcs1v15Sign, RsaPublicKey};
    use serde_json::{Value, json};
    use sha2::{Digest, Sha256};
    use std::sync::{Arc, Mutex as StdMutex};

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/oci-signing");

    #[derive(Default)]
    struct Stub {
        instances: Vec<Value>,
        tokens: Vec<String>,
        launches: usize,
        actions: Vec<String>,
        invalidate_next: bool,
        /// The `instanceId` of each ListVnicAttachments page asked for (`None`: the compartment).
        attachment_lists: Vec<Option<String>>,
    }

    type Shared = Arc<StdMutex<Stub>>;

    fn verify(method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
        let pem =
            std::fs::read_to_string(format!("{VECTORS}/TEST-ONLY-oci-api-key_public.pem")).unwrap();
        let public = RsaPublicKey::from_public_key_pem(&pem).unwrap();
        let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let Ok((string, _)) = signing_string(method, target, headers) else {
            return false;
        };
        let Some(auth) = headers.get("authorization").and_then(|a| a.to_str().ok()) else {
            return false;
        };
        let Some(sig) = auth
            .split("signature=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
        else {
            return false;
        };
        let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(sig) else {
            return false;
        };
        public
            .verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(string.as_bytes()),
                &sig,
            )
            .is_ok()
    }

    fn query(uri: &Uri) -> BTreeMap<String, String> {
        uri.query()
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.replace('+', " ").replace("%3A", ":").replace("%2F", "/"),
                )
            })
            .collect()
    }

    fn ok(v: Value) -> Response {
        (StatusCode::OK, axum::Json(v)).into_response()
    }

    fn err(status: StatusCode, code: &str, message: &str) -> Response {
        (
            status,
            axum::Json(json!({"code": code, "message": message})),
        )
            .into_response()
    }

    async fn handle(
        State(st): State<Shared>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        if !verify(&method, &uri, &headers) {
            return err(
                StatusCode::UNAUTHORIZED,
                "NotAuthenticated",
                "bad signature",
            );
        }
        let q = query(&uri);
        let path = uri.path().trim_start_matches("/20160918").to_string();
        let mut st = st.lock().unwrap();
        match (method.as_str(), path.as_str()) {
            ("GET", "/availabilityDomains") => {
                ok(json!([{"name": "Xy:AP-TEST-1-AD-1"}, {"name": "Xy:AP-TEST-1-AD-2"}]))
            }
            ("GET", "/subnets") => ok(json!([
                {"id": "ocid1.subnet.oc1..other", "displayName": "private"},
                {"id": "ocid1.subnet.oc1..s", "displayName": "public subnet-main-vcn"}
            ])),
            ("GET", "/images") => {
                assert_eq!(q["operatingSystem"], "Canonical Ubuntu");
                assert_eq!(q["sortBy"], "TIMECREATED");
                // The version is matched client-side: OCI's filter is exact and Minimal
                // builds carry versions like `22.04 Minimal aarch64`.
                assert!(!q.contains_key("operatingSystemVersion"));
                ok(json!([
                    {"id": "ocid1.image.oc1..new", "displayName": "Canonical-Ubuntu-22.04-Minimal-aarch64-2025.01.01-0",
                     "operatingSystem": "Canonical Ubuntu", "operatingSystemVersion": "22.04 Minimal aarch64", "timeCreated": "2025-01-01T00:00:00Z"},
                    {"id": "ocid1.image.oc1..x86", "displayName": "Canonical-Ubuntu-22.04-2025.02.01-0",
                     "operatingSystem": "Canonical Ubuntu", "operatingSystemVersion": "22.04", "timeCreated": "2025-02-01T00:00:00Z"},
                    {"id": "ocid1.image.oc1..old", "displayName": "Canonical-Ubuntu-20.04-aarch64-2025.03.01-0",
                     "operatingSystem": "Canonical Ubuntu", "operatingSystemVersion": "20.04", "timeCreated": "2025-03-01T00:00:00Z"}
                ]))
            }
            ("POST", "/instances") => {
                let token = headers
                    .get("opc-retry-token")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                let details: Value = serde_json::from_slice(&body).unwrap();
                if details["availabilityDomain"] == "Xy:AP-TEST-1-AD-1" {
                    return err(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalError",
                        "Out of host capacity.",
                    );
                }
                if std::mem::take(&mut st.invalidate_next) {
                    return err(
                        StatusCode::CONFLICT,
                        "InvalidatedRetryToken",
                        "retry token was used with different details",
                    );
                }
                st.tokens.push(token);
                st.launches += 1;
                let id = format!("ocid1.instance.oc1..{}", st.launches);
                let inst = json!({
                    "id": id, "displayName": details["displayName"], "lifecycleState": "PROVISIONING",
                    "availabilityDomain": details["availabilityDomain"], "shape": details["shape"],
                    "shapeConfig": details["shapeConfig"], "freeformTags": details["freeformTags"],
                    "compartmentId": details["compartmentId"], "timeCreated": "2026-01-01T00:00:00Z"
                });
                st.instances.push(inst.clone());
                ok(inst)
            }
            ("GET", "/instances") => {
                // One instance per page, so paging is exercised.
                let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
                let items: Vec<&Value> = st
                    .instances
                    .iter()
                    .filter(|i| {
                        q.get("displayName")
                            .is_none_or(|n| i["displayName"] == n.as_str())
                    })
                    .collect();
                let mut resp = ok(json!(
                    items
                        .get(page)
                        .map(|v| vec![(*v).clone()])
                        .unwrap_or_default()
                ));
                if page + 1 < items.len() {
                    resp.headers_mut()
                        .insert("opc-next-page", (page + 1).to_string().parse().unwrap());
                }
                resp
            }
            ("GET", "/vnicAttachments") => {
                st.attachment_lists.push(q.get("instanceId").cloned());
                // Per instance: a detached old VNIC (never looked up) and the attached one; an
                // unmanaged instance's attachment too. One instance per page, so paging is
                // exercised.
                let mut ids: Vec<String> = st
                    .instances
                    .iter()
                    .filter_map(|i| i["id"].as_str().map(str::to_string))
                    .collect();
                ids.push("ocid1.instance.oc1..unmanaged".into());
                ids.retain(|id| q.get("instanceId").is_none_or(|want| want == id));
                let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
                let items = ids.get(page).map(|id| json!([
                    {"id": "va-old", "instanceId": id, "vnicId": "ocid1.vnic.oc1..gone", "lifecycleState": "DETACHED"},
                    {"id": "va", "instanceId": id, "vnicId": "ocid1.vnic.oc1..v", "lifecycleState": "ATTACHED"}
                ]));
                let mut resp = ok(items.unwrap_or_else(|| json!([])));
                if page + 1 < ids.len() {
                    resp.headers_mut()
                        .insert("opc-next-page", (page + 1).to_string().parse().unwrap());
                }
                resp
            }
            ("GET", "/vnics/ocid1.vnic.oc1..v") => ok(
                json!({"id": "v", "privateIp": "10.0.0.5", "publicIp": "203.0.113.7", "isPrimary": true}),
            ),
            (m, p) if p.starts_with("/instances/") => {
                let id = p.trim_start_matches("/instances/").to_string();
                let Some(inst) = st.instances.iter_mut().find(|i| i["id"] == id.as_str()) else {
                    return err(
                        StatusCode::NOT_FOUND,
                        "NotAuthorizedOrNotFound",
                        "not found",
                    );
                };
                match m {
                    "GET" => {
                        // Each look moves a new instance one step towards RUNNING.
                        if inst["lifecycleState"] == "PROVISIONING" {
                            inst["lifecycleState"] = json!("STARTING");
                        } else if inst["lifecycleState"] == "STARTING" {
                            inst["lifecycleState"] = json!("RUNNING");
                        }
                        ok(inst.clone())
                    }
                    "DELETE" => {
                        assert_eq!(q["preserveBootVolume"], "false");
                        inst["lifecycleState"] = json!("TERMINATED");
                        StatusCode::NO_CONTENT.into_response()
                    }
                    "POST" => {
                        assert!(body.is_empty());
                        let action = q["action"].clone();
                        inst["lifecycleState"] = json!(if action == "STOP" {
                            "STOPPED"
                        } else {
                            "RUNNING"
                        });
                        let out = inst.clone();
                        st.actions.push(action);
                        ok(out)
                    }
                    _ => err(StatusCode::BAD_REQUEST, "InvalidParameter", "verb"),
                }
            }
            _ => err(StatusCode::NOT_FOUND, "NotFound", "no route"),
        }
    }

    async fn stub() -> (String, Shared) {
        let st: Shared = Arc::default();
        {
            let mut s = st.lock().unwrap();
            // Someone else's instance with the same name, and a terminated one of ours.
            s.instances.push(json!({"id": "ocid1.instance.oc1..foreign", "displayName": "a1-01", "lifecycleState": "RUNNING", "freeformTags": {}}));
            let tags = ownership_labels("lab", "a1", "a1-01");
            s.instances.push(json!({"id": "ocid1.instance.oc1..dead", "displayName": "a1-01", "lifecycleState": "TERMINATED", "freeformTags": tags}));
        }
        let app = axum::Router::new().fallback(handle).with_state(st.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), st)
    }

    fn plan_and_instance() -> (Plan, DesiredInstance) {
        let project: Project = serde_yaml::from_str(&format!(
            "name: lab\nprovider: oci\noci:\n  config_file: {VECTORS}/config\n  subnet: public subnet-main-vcn\n"
        ))
        .unwrap();
        let spec: crate::config::Spec = serde_yaml::from_str(
            "name: a1\nshape: VM.Standard.A1.Flex\nocpus: 2\nmemory_gb: 12\nimage: {os: \"Canonical Ubuntu\", os_version: \"22.04\", name_contains: [aarch64]}\nfallback: [{ocpus: 1, memory_gb: 6}]\n",
        )
        .unwrap();
        let inst = DesiredInstance {
            name: "a1-01".into(),
            index: 0,
            project: "lab".into(),
            spec: "a1".into(),
            labels: ownership_labels("lab", "a1", "a1-01"),
            static_ip: None,
            user_data: "#cloud-config\n".into(),
            network_data: None,
            ssh_authorized_keys: vec!["ssh-ed25519 AAAA k".into()],
        };
        (
            Plan {
                project,
                spec,
                instances: vec![inst.clone()],
                notes: vec![],
                target: None,
            },
            inst,
        )
    }

    #[tokio::test]
    async fn deploy_wait_status_power_delete_against_a_signature_checking_stub() {
        let (endpoint, st) = stub().await;
        let state = tempfile::tempdir().unwrap();
        let (plan, inst) = plan_and_instance();
        let opts = ConnectOptions {
            state_dir: state.path().to_path_buf(),
            oci_endpoint: Some(endpoint),
            simulated: true,
            ..ConnectOptions::default()
        };
        let p = OciProvider::connect(&plan.project, &opts).await.unwrap();
        let rec = Recorder::default();
        let scope = Scope {
            project: "lab".into(),
            spec: Some("a1".into()),
            target: None,
        };

        // Only the terminated and the foreign instance exist: nothing of ours.
        assert!(p.list(&scope).await.unwrap().is_empty());

        let placements = p.placements(&plan, &inst).await.unwrap();
        let labels: Vec<String> = placements.iter().map(|p| p.info().label).collect();
        assert_eq!(
            labels,
            [
                "AP-TEST-1-AD-1 2 OCPU/12 GB",
                "AP-TEST-1-AD-2 2 OCPU/12 GB",
                "AP-TEST-1-AD-1 1 OCPU/6 GB",
                "AP-TEST-1-AD-2 1 OCPU/6 GB"
            ]
        );

        let a = p.create(&plan, &inst, &placements[0], &rec).await;
        assert_eq!(
            a.error.as_ref().map(|e| e.class),
            Some(ErrorClass::Capacity),
            "{a:?}"
        );
        let a = p.create(&plan, &inst, &placements[1], &rec).await;
        assert!(a.error.is_none(), "{a:?}");
        assert_eq!(a.reports[0].outcome, Outcome::Success);
        assert_eq!(
            a.reports[0]
                .details
                .availability_domain
                .as_deref()
                .unwrap_or_default(),
            "Xy:AP-TEST-1-AD-2"
        );
        assert_eq!(
            st.lock().unwrap().tokens,
            vec![retry_token("lab", "a1", "a1-01", 0)]
        );
        let saved: Value =
            serde_json::from_slice(&std::fs::read(state.path().join("launch/a1-01.json")).unwrap())
                .unwrap();
        assert_eq!(saved["id"], "ocid1.instance.oc1..1");

        // A second deploy finds it by its tags and launches nothing.
        let again = p.create(&plan, &inst, &placements[1], &rec).await;
        assert_eq!(again.reports[0].outcome, Outcome::Skipped, "{again:?}");
        assert_eq!(st.lock().unwrap().launches, 1);

        let up = p
            .wait_running("a1-01", Duration::from_secs(20), &rec)
            .await
            .unwrap();
        assert_eq!(
            up.details.ssh.as_deref().unwrap_or_default(),
            "ssh ubuntu@203.0.113.7"
        );
        assert_eq!(
            up.details.private_ip.as_deref().unwrap_or_default(),
            "10.0.0.5"
        );
        let phases: Vec<String> = rec
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Progress { phase, .. } => Some(phase),
                _ => None,
            })
            .collect();
        assert_eq!(phases, ["STARTING", "RUNNING"]);

        st.lock().unwrap().attachment_lists.clear();
        let rows = p.status(&scope).await.unwrap();
        // Status lists the compartment's attachments (every page) instead of once per instance.
        let lists = st.lock().unwrap().attachment_lists.clone();
        let pages = st.lock().unwrap().instances.len() + 1;
        assert_eq!(lists, vec![None; pages]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(rows[0].state, "RUNNING");
        assert_eq!(rows[0].public_ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(
            rows[0].size.as_deref(),
            Some("VM.Standard.A1.Flex 2 OCPU/12 GB")
        );

        let existing = p.list(&scope).await.unwrap();
        assert_eq!(existing.len(), 1);
        assert_eq!(existing[0].id, "ocid1.instance.oc1..1");
        assert_eq!(
            p.power(&existing[0], Power::Stop, true).await.outcome,
            Outcome::Success
        );
        assert_eq!(
            p.power(&existing[0], Power::Stop, false).await.outcome,
            Outcome::Skipped
        );
        assert_eq!(st.lock().unwrap().actions, ["STOP"]);

        let del = p.delete(&existing[0], &DeleteOptions::default()).await;
        assert_eq!(del[0].outcome, Outcome::Deleted, "{del:?}");
        assert!(p.list(&scope).await.unwrap().is_empty());
        // The next deploy uses a fresh token, so OCI cannot hand back the deleted instance;
        // an invalidated token moves it on once more.
        st.lock().unwrap().invalidate_next = true;
        let refused = p.create(&plan, &inst, &placements[1], &rec).await;
        let e = refused.error.expect("409 InvalidatedRetryToken");
        assert_eq!(e.class, ErrorClass::Transient);
        assert_eq!(e.code, ErrorCode::RetryTokenInvalidated, "{}", e.message);
        let redeploy = p.create(&plan, &inst, &placements[1], &rec).await;
        assert!(redeploy.error.is_none(), "{redeploy:?}");
        assert_eq!(
            st.lock().unwrap().tokens[1],
            retry_token("lab", "a1", "a1-01", 2)
        );
        let gens = read_generations(&state.path().join("oci/generations.json"));
        assert_eq!(gens["lab/a1/a1-01"], 2);
    }
}
