//! The planner: project + spec → the list of desired instances (pure, no network).

mod ipam;
mod keys;
mod labels;
mod limits;
mod render;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{ConfigDir, ConfigError, ConfigErrors, Project, Spec, instance_name};

pub(crate) use ipam::{StaticIp, static_ip};
pub(crate) use keys::{SshKeys, ensure_generated, generated_key_path, private_key};
pub(crate) use labels::{
    LABEL_MANAGED, LABEL_NAME, LABEL_PROJECT, LABEL_SPEC, is_owned, ownership_labels, selector,
};
pub(crate) use limits::oci_metadata;
pub(crate) use render::{check_all_templates, render_cloud_init};

/// One instance that should exist, with everything the backends need.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DesiredInstance {
    /// Instance name, `<prefix>-NN`.
    pub name: String,
    /// 0-based replica index.
    pub index: u32,
    /// Project name.
    pub project: String,
    /// Spec name.
    pub spec: String,
    /// Ownership labels plus the project's extra labels.
    pub labels: BTreeMap<String, String>,
    /// Static address (with `network.ipam`).
    pub static_ip: Option<StaticIp>,
    /// Rendered cloud-init user data.
    pub user_data: String,
    /// Rendered cloud-init network config (with `network.ipam`).
    pub network_data: Option<String>,
    /// SSH public keys, one per line.
    pub ssh_authorized_keys: Vec<String>,
}

/// A body that an action would send: printed by `plan`, sent by `deploy`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlannedObject {
    /// Resource kind (`Secret`, `VirtualMachine`, `LaunchInstanceDetails`).
    pub kind: String,
    /// Resource name.
    pub name: String,
    /// The exact body.
    pub body: serde_json::Value,
}

/// The validated, resolved configuration of one project/spec run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The project.
    pub project: Project,
    /// The spec.
    pub spec: Spec,
    /// Desired instances, in replica order (filtered by `--target`).
    pub instances: Vec<DesiredInstance>,
    /// Everything that can only be resolved online, said plainly.
    pub notes: Vec<String>,
    /// `--target`, when the plan was narrowed to one instance.
    pub target: Option<String>,
}

/// Options from the command line that change the plan.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlanOptions {
    /// `--replicas`: overrides the spec.
    pub replicas: Option<u32>,
    /// `--target`: one instance by name.
    pub target: Option<String>,
}

fn prefix(spec: &Spec) -> &str {
    spec.name_prefix.as_deref().unwrap_or(spec.name.as_str())
}

/// Replica `index`'s name: its entry in `names:`, else `<prefix>-NN`.
fn name_of(spec: &Spec, prefix: &str, index: u32) -> String {
    match spec.names.get(index as usize) {
        Some(n) => n.clone(),
        None => instance_name(prefix, index),
    }
}

/// `--replicas` beyond the names a spec lists would mix `names` with `<prefix>-NN`.
fn check_replicas_named(spec: &Spec, replicas: u32) -> Result<(), ConfigError> {
    if spec.names.is_empty() || replicas as usize <= spec.names.len() {
        return Ok(());
    }
    Err(spec_error(
        spec,
        "names",
        format!(
            "--replicas {replicas} asks for more instances than the {} names listed: add names for them",
            spec.names.len()
        ),
    ))
}

/// Builds the plan: names, labels, addresses and rendered cloud-init for every replica.
pub(crate) fn build(
    dir: &ConfigDir,
    project: &Project,
    spec: &Spec,
    opts: &PlanOptions,
) -> Result<Plan, ConfigErrors> {
    let replicas = opts.replicas.unwrap_or(spec.replicas);
    let prefix = prefix(spec).to_string();
    check_replicas_named(spec, replicas)?;
    check_target(spec, &prefix, replicas, opts.target.as_deref())?;
    let mut errs = Vec::new();
    let mut notes = Vec::new();
    if let Some(longest) =
        (replicas > 0 && spec.names.is_empty()).then(|| instance_name(&prefix, replicas - 1))
        && longest.len() > 63
    {
        errs.push(spec_error(
            spec,
            "name_prefix",
            format!("instance name `{longest}` is longer than 63 characters"),
        ));
    }
    let keys = match SshKeys::load(spec) {
        Ok(k) => k,
        Err((field, msg)) => {
            errs.push(spec_error(spec, &field, msg));
            SshKeys::default()
        }
    };
    notes.extend(keys.notes.iter().cloned());
    let mut instances = Vec::new();
    // One environment per spec: it loads and compiles the template once for every replica.
    let env = render::environment(dir);
    for index in 0..replicas {
        let name = name_of(spec, &prefix, index);
        if opts.target.as_ref().is_some_and(|t| *t != name) {
            continue;
        }
        match instance(&env, dir, project, spec, &keys, name, index) {
            Ok(inst) => instances.push(inst),
            Err(e) => {
                // One error is enough: every later replica fails the same way.
                errs.push(e);
                break;
            }
        }
    }
    if !errs.is_empty() {
        return Err(ConfigErrors(errs));
    }
    Ok(Plan {
        project: project.clone(),
        spec: spec.clone(),
        instances,
        notes,
        target: opts.target.clone(),
    })
}

/// An error at `field` of the spec (its file and line when the source is known).
fn spec_error(spec: &Spec, field: &str, msg: String) -> ConfigError {
    match &spec.source {
        Some(s) => s.error(field, msg),
        None => ConfigError::file(&spec.file, msg),
    }
}

/// `--target` must name one of the spec's instances.
fn check_target(
    spec: &Spec,
    prefix: &str,
    replicas: u32,
    target: Option<&str>,
) -> Result<(), ConfigError> {
    let Some(t) = target else {
        return Ok(());
    };
    if (0..replicas).any(|i| name_of(spec, prefix, i) == t) {
        return Ok(());
    }
    let last = if replicas == 0 {
        String::from("none")
    } else {
        name_of(spec, prefix, replicas - 1)
    };
    Err(ConfigError::file(
        &spec.file,
        format!(
            "--target `{t}` is not an instance of spec `{}` with {replicas} replicas (`{}` … `{last}`)",
            spec.name,
            name_of(spec, prefix, 0)
        ),
    ))
}

/// Replica `index` of the spec: labels, static address, keys and rendered cloud-init.
fn instance(
    env: &minijinja::Environment<'static>,
    dir: &ConfigDir,
    project: &Project,
    spec: &Spec,
    keys: &SshKeys,
    name: String,
    index: u32,
) -> Result<DesiredInstance, ConfigError> {
    let ip = match &project.ipam {
        Some(ipam) => Some(static_ip(ipam, index).map_err(|msg| match &project.source {
            Some(s) => s.error("network.ipam.range", format!("replica {name}: {msg}")),
            None => ConfigError::file(&project.file, msg),
        })?),
        None => None,
    };
    let mut labels = ownership_labels(&project.name, &spec.name, &name);
    for (k, v) in &project.labels {
        labels.insert(k.clone(), v.0.clone());
    }
    let network_data = ip.as_ref().map(ipam::network_config);
    let mut inst = DesiredInstance {
        name,
        index,
        project: project.name.0.clone(),
        spec: spec.name.0.clone(),
        labels,
        static_ip: ip,
        user_data: String::new(),
        network_data,
        ssh_authorized_keys: keys.keys.clone(),
    };
    inst.user_data = render_cloud_init(env, dir, project, spec, &inst)?;
    if let Some(problem) = limits::cloud_init_problem(project.kind(), &inst) {
        // Without a template the user data is vauto's own few lines: the keys made it big.
        let field = if spec.cloud_init.is_some() {
            "cloud_init.template"
        } else {
            "ssh.authorized_keys"
        };
        return Err(spec_error(spec, field, problem));
    }
    Ok(inst)
}
