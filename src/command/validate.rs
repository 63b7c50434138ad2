//! `validate`: load and check every project, spec and template; no network.

use std::collections::BTreeSet;

use super::Settings;
use crate::config::{ConfigError, ConfigErrors, Project, yaml_files};
use crate::error::{Error, exit};
use crate::plan::{PlanOptions, check_all_templates};

/// A spec that every project refuses: `vauto P S …` can never run it, nor can the daemon.
fn unusable(
    file: &std::path::Path,
    spec: &crate::config::Spec,
    refusals: &[String],
) -> ConfigError {
    let daemon = if !spec.schedules.is_empty() || spec.hunt {
        " (so its schedules and hunt would never run)"
    } else {
        ""
    };
    ConfigError::file(
        file,
        format!(
            "no project can use this spec{daemon}: {}; fix the spec or add a project for it",
            refusals.join("; ")
        ),
    )
}

/// One error's reason without its file: for a list of refusals in another error.
fn why(e: &ConfigError) -> String {
    let at = e.line.map(|l| format!("line {l}: ")).unwrap_or_default();
    if e.field.is_empty() {
        format!("{at}{}", e.message)
    } else {
        format!("{at}`{}`: {}", e.field, e.message)
    }
}

/// Checks everything under the config directory and lists every problem.
pub(super) fn validate(settings: &Settings) -> Result<u8, Error> {
    let dir = &settings.dir;
    let mut errs: Vec<ConfigError> = Vec::new();
    let mut projects: Vec<Project> = Vec::new();
    let project_files = yaml_files(&dir.root.join("projects"));
    let spec_files = yaml_files(&dir.root.join("specs"));
    if project_files.is_empty() && spec_files.is_empty() {
        return Err(Error::Usage(format!(
            "no projects/ or specs/ in `{}`: run vauto in the config directory or pass --config-dir",
            dir.root.display()
        )));
    }
    for f in &project_files {
        match dir.load_project(f) {
            Ok(p) => projects.push(p),
            Err(e) => errs.extend(e.0),
        }
    }
    let mut plans = 0;
    let every_project_loaded = !projects.is_empty() && projects.len() == project_files.len();
    for f in &spec_files {
        let unbound = match dir.load_spec(f, None) {
            Ok(s) => s,
            Err(e) => {
                errs.extend(e.0);
                continue;
            }
        };
        // Plan the spec with every project whose provider it can run on.
        let mut refusals = Vec::new();
        for p in &projects {
            let spec = match dir.load_spec(f, Some(p.kind())) {
                Ok(s) => s,
                Err(e) => {
                    let why = e.0.first().map(why).unwrap_or_default();
                    refusals.push(format!("`{}` ({}): {why}", p.name, p.kind().as_str()));
                    continue;
                }
            };
            // A select spec launches nothing: it has no plan, and needs no subnet.
            if spec.select.is_some() {
                plans += 1;
                continue;
            }
            if let Err(e) = p.need_subnet() {
                // The project's file and line: the fix is there.
                refusals.push(format!("`{}` ({}): {e}", p.name, p.kind().as_str()));
                continue;
            }
            match crate::plan::build(dir, p, &spec, &PlanOptions::default()) {
                Ok(_) => plans += 1,
                Err(e) => errs.extend(e.0),
            }
        }
        if every_project_loaded && refusals.len() == projects.len() {
            errs.push(unusable(f, &unbound, &refusals));
        }
    }
    errs.extend(check_all_templates(dir));
    let mut seen = BTreeSet::new();
    errs.retain(|e| seen.insert(e.to_string()));
    let templates = count_templates(&dir.templates());
    if errs.is_empty() {
        crate::ui::stdout::write(&format!(
            "ok: {} projects, {} specs, {} templates, {} project/spec plans\n",
            project_files.len(),
            spec_files.len(),
            templates,
            plans
        ));
        Ok(exit::OK)
    } else {
        Err(Error::Config(ConfigErrors(errs)))
    }
}

fn count_templates(dir: &std::path::Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.filter_map(|e| e.ok().map(|e| e.path()))
        .map(|p| {
            if p.is_dir() {
                count_templates(&p)
            } else {
                usize::from(p.extension().is_some_and(|e| e == "j2"))
            }
        })
        .sum()
}
