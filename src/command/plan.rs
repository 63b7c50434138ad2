//! `plan` and `--dry-run`: print exactly what deploy would send; no network, no credentials.

use serde::Serialize;

use super::Settings;
use crate::config::ProviderKind;
use crate::error::{Error, exit};
use crate::plan::{Plan, PlannedObject};
use crate::ui::output::Format;

/// Every body deploy would send, in creation order, with the instance each belongs to.
pub(super) fn planned_objects(plan: &Plan) -> Vec<(String, PlannedObject)> {
    let mut out = Vec::new();
    for inst in &plan.instances {
        let objs = match plan.project.kind() {
            ProviderKind::Kubevirt => {
                crate::provider::kubevirt::resources::planned_objects(plan, inst)
            }
            ProviderKind::Oci => crate::provider::oci::resources::planned_objects(plan, inst),
        };
        for o in objs {
            // A spec's shared object (CA ConfigMap, credentials Secret) is listed once.
            if !out
                .iter()
                .any(|(_, p): &(String, PlannedObject)| p.kind == o.kind && p.name == o.name)
            {
                out.push((inst.name.clone(), o));
            }
        }
    }
    out
}

/// Prints the plan as a table, a YAML multi-document stream, or a JSON array.
pub(super) fn plan(settings: &Settings, plan: &Plan) -> Result<u8, Error> {
    let objects = planned_objects(plan);
    match settings.output {
        Format::Table => crate::ui::stdout::write(&crate::ui::table::plan_table(plan, &objects)),
        Format::Yaml => {
            let mut s = String::new();
            for (_, o) in &objects {
                s.push_str("---\n");
                s.push_str(
                    &serde_yaml::to_string(&o.body)
                        .map_err(|e| Error::Other(format!("cannot encode yaml: {e}")))?,
                );
            }
            for n in &plan.notes {
                s.push_str(&format!("# note: {n}\n"));
            }
            crate::ui::stdout::write(&s);
        }
        Format::Json => {
            #[derive(Serialize)]
            struct Item<'a> {
                kind: &'a str,
                name: &'a str,
                body: &'a serde_json::Value,
            }
            let items: Vec<Item> = objects
                .iter()
                .map(|(_, o)| Item {
                    kind: &o.kind,
                    name: &o.name,
                    body: &o.body,
                })
                .collect();
            crate::ui::output::print_doc(Format::Json, &items);
            for n in &plan.notes {
                eprintln!("note: {n}");
            }
        }
    }
    Ok(exit::OK)
}
