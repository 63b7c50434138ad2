//! Loads the projects and specs the daemon serves into timed jobs and capacity hunts.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono_tz::Tz;

use super::Ctx;
use super::say;
use crate::config::{ConfigErrors, CronExpr, Project, Spec};
use crate::error::Error;
use crate::model::Action;
use crate::ops::notify::Notifier;
use crate::ops::schedule::TenancyGate;

/// A project the daemon serves, with its long-lived notifier.
pub(super) struct ProjectRt {
    pub project: Project,
    pub notifier: Notifier,
}

/// What a timed job does.
pub(super) enum Kind {
    /// A spec's schedule.
    Action {
        spec: String,
        action: Action,
        catch_up: bool,
    },
    /// The project's daily report.
    Daily,
}

/// A job that runs at the fire times of a cron expression.
pub(super) struct Timed {
    /// Index into [`Setup::projects`].
    pub project: usize,
    pub kind: Kind,
    pub cron: CronExpr,
    pub tz: Tz,
    /// Where the last run is recorded (`LastRuns`).
    pub key: String,
}

impl Timed {
    /// `project/spec action` or `project daily report`, for the activity log.
    pub(super) fn what(&self, projects: &[ProjectRt]) -> String {
        let p = &projects[self.project].project.name;
        match &self.kind {
            Kind::Action { spec, action, .. } => format!("{p}/{spec} {}", action.as_str()),
            Kind::Daily => format!("{p} daily report"),
        }
    }
}

/// A spec with `hunt: true` in one project.
pub(super) struct Hunt {
    /// Index into [`Setup::projects`].
    pub project: usize,
    pub spec: String,
    /// Shared by every hunt against the same tenancy, so they take turns.
    pub gate: Arc<TenancyGate>,
}

/// Everything the daemon runs.
pub(super) struct Setup {
    pub projects: Vec<ProjectRt>,
    pub timed: Vec<Timed>,
    pub hunts: Vec<Hunt>,
}

/// Which requests share one rate budget: the same OCI account and endpoint, or one cluster.
fn tenancy_key(p: &Project) -> String {
    match p.oci() {
        Some(o) => format!(
            "oci|{}|{}|{}",
            o.config_file.as_deref().unwrap_or("~/.oci/config"),
            o.profile.as_deref().unwrap_or("DEFAULT"),
            o.endpoint.as_deref().unwrap_or("")
        ),
        None => format!("project|{}", p.name),
    }
}

/// Reads the projects and specs `ctx` selects; a broken project or spec stops the daemon.
pub(super) fn load(ctx: &Ctx) -> Result<Setup, Error> {
    let names = match &ctx.project {
        Some(p) => vec![p.clone()],
        None => ctx.settings.dir.names("projects"),
    };
    let mut projects = Vec::new();
    for n in &names {
        let project = ctx.settings.dir.project(n)?;
        let notifier = Notifier::new(&project, project.sim);
        projects.push(ProjectRt { project, notifier });
    }
    let spec_names = match &ctx.spec {
        Some(s) => vec![s.clone()],
        None => ctx.settings.dir.names("specs"),
    };
    let mut setup = Setup {
        timed: daily_reports(&projects),
        projects,
        hunts: Vec::new(),
    };
    let mut gates: BTreeMap<String, Arc<TenancyGate>> = BTreeMap::new();
    for s in &spec_names {
        let path = ctx
            .settings
            .dir
            .find("specs", s)
            .map_err(ConfigErrors::from)?;
        // Loading without a provider checks the spec as such; a broken spec stops the daemon.
        let neutral = ctx.settings.dir.load_spec(&path, None)?;
        if neutral.schedules.is_empty() && !neutral.hunt {
            continue;
        }
        let mut fits = 0;
        for pi in 0..setup.projects.len() {
            // A spec with the other provider's fields does not fit this project: not an error.
            let Ok(spec) = ctx.settings.dir.spec(s, setup.projects[pi].project.kind()) else {
                continue;
            };
            fits += 1;
            setup.add_spec(pi, &spec, &mut gates);
        }
        if fits == 0 {
            tracing::warn!("spec `{s}` has schedules or a hunt but fits no loaded project");
            say(&format!(
                "spec `{s}`: schedules ignored, no project with a fitting provider"
            ));
        }
    }
    Ok(setup)
}

/// The daily report job of every project that has one.
fn daily_reports(projects: &[ProjectRt]) -> Vec<Timed> {
    let mut timed = Vec::new();
    for (pi, pr) in projects.iter().enumerate() {
        let p = &pr.project;
        let tz = p.notify.timezone.map(|t| t.0).unwrap_or(chrono_tz::UTC);
        if let Some(cron) = &p.notify.daily_report {
            timed.push(Timed {
                project: pi,
                kind: Kind::Daily,
                cron: cron.clone(),
                tz,
                key: format!("{}/daily-report/{}", p.name, cron.text),
            });
        }
    }
    timed
}

impl Setup {
    /// Adds the schedules and the hunt of `spec` in project `pi`.
    fn add_spec(&mut self, pi: usize, spec: &Spec, gates: &mut BTreeMap<String, Arc<TenancyGate>>) {
        let p = &self.projects[pi].project;
        for (i, sch) in spec.schedules.iter().enumerate() {
            let tz = sch
                .timezone
                .or(p.notify.timezone)
                .map(|t| t.0)
                .unwrap_or(chrono_tz::UTC);
            self.timed.push(Timed {
                project: pi,
                kind: Kind::Action {
                    spec: spec.name.0.clone(),
                    action: sch.action,
                    catch_up: sch.catch_up,
                },
                cron: sch.cron.clone(),
                tz,
                key: format!(
                    "{}/{}/{i}/{}/{}",
                    p.name,
                    spec.name,
                    sch.action.as_str(),
                    sch.cron.text
                ),
            });
        }
        if spec.hunt {
            let gate = gates
                .entry(tenancy_key(p))
                .or_insert_with(|| Arc::new(TenancyGate::new(p.retry.interval.0)))
                .clone();
            self.hunts.push(Hunt {
                project: pi,
                spec: spec.name.0.clone(),
                gate,
            });
        }
    }
}
