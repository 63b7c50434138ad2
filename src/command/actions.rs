//! deploy, delete, status, start and stop against a connected provider.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use super::connect::{connect_options, with_provider};
use super::{Invocation, RunOptions, Selection, Settings};
use crate::cli::Format;
use crate::config::{Project, Spec};
use crate::engine::DeployOptions;
use crate::engine::retry::{RetryPolicy, retry_reads};
use crate::error::{Error, exit};
use crate::model::{Action, DeleteOptions, Existing, Fanout, Observer, Summary};
use crate::ops::journal::{Journal, JournalFile, RunInfo};
use crate::ops::lock::RunLock;
use crate::ops::notify::{FLUSH_TIMEOUT, Notifier, describe_target};
use crate::provider::Provider;
use crate::ui::output::Printer;

/// Who else hears about a run besides the printer: set by `vauto daemon`.
#[derive(Default, Clone, Copy)]
pub struct Hooks<'a> {
    /// One more observer (the daemon's metrics).
    pub observer: Option<&'a dyn Observer>,
    /// A long-lived notifier to use instead of a per-run one (which is flushed at the end).
    pub notifier: Option<&'a Notifier>,
    /// Send the `run started` and `failed` notifications.
    pub announce: bool,
}

/// Connects to the invocation's backend and runs it.
pub async fn run(settings: &Settings, invocation: &Invocation) -> Result<u8, Error> {
    run_with(
        settings,
        invocation,
        Hooks {
            announce: true,
            ..Hooks::default()
        },
    )
    .await
}

/// [`run`] with extra observers and notifier: how the daemon runs an action.
pub async fn run_with(
    settings: &Settings,
    invocation: &Invocation,
    hooks: Hooks<'_>,
) -> Result<u8, Error> {
    let Some(project) = invocation.project() else {
        return Err(Error::Usage(format!(
            "`{}` is not a provider action",
            invocation.action()
        )));
    };
    super::open_logs(settings, Some(project));
    if let Invocation::DryRun { action, selection } = invocation {
        return dry_run(*action, selection);
    }
    let (opts, _sim) = connect_options(project, &settings.state_dir).await?;
    let printer = Printer::new(settings.output, settings.verbosity, opts.simulated);
    let own;
    let base = match hooks.notifier {
        Some(n) => n,
        None => {
            own = Notifier::new(project, opts.simulated);
            &own
        }
    };
    let action = invocation.action();
    let spec = spec_of(invocation);
    let notifier = base.for_run(spec.map(|s| s.name.as_str()), action.as_str());
    let announce = hooks.announce && action != Action::Status && notifier.active();
    if announce {
        let what = match spec {
            Some(spec) => describe_target(project, spec),
            None => "every spec of the project".to_string(),
        };
        notifier.run_started(&what);
    }
    let mut observers: Vec<&dyn Observer> = vec![&printer, &notifier];
    observers.extend(hooks.observer);
    let fanout = Fanout(observers);
    let result = with_provider!(project, opts, |p| act(
        settings, &p, invocation, &printer, &fanout
    )
    .await);
    if announce {
        notifier.run_finished(result.as_ref().err().map(|e| e.to_string()).as_deref());
    }
    if hooks.notifier.is_none() {
        notifier.flush(FLUSH_TIMEOUT).await;
    }
    result
}

/// The spec an invocation names, if any.
fn spec_of(invocation: &Invocation) -> Option<&Spec> {
    match invocation {
        Invocation::Plan(plan) | Invocation::Deploy { plan, .. } => Some(&plan.spec),
        Invocation::Delete { selection, .. }
        | Invocation::Status { selection }
        | Invocation::Power { selection, .. }
        | Invocation::DryRun { selection, .. } => selection.spec.as_ref(),
        _ => None,
    }
}

fn dry_run(action: Action, selection: &Selection) -> Result<u8, Error> {
    println!(
        "dry run: `{action}` would act on the resources labelled {} (nothing was contacted)",
        selection.selector()
    );
    Ok(exit::OK)
}

fn lock(
    settings: &Settings,
    options: &RunOptions,
    project: &str,
    spec: &str,
) -> Result<RunLock, Error> {
    Ok(RunLock::acquire(
        &settings.state_dir,
        project,
        spec,
        options.wait_lock,
    )?)
}

fn journal(settings: &Settings, project: &Project, spec: Option<&str>, action: Action) -> Journal {
    Journal::new(
        JournalFile::new(&settings.state_dir),
        RunInfo {
            project: project.name.0.clone(),
            spec: spec.unwrap_or_default().to_string(),
            provider: project.kind().as_str().to_string(),
            action: action.as_str().to_string(),
        },
    )
}

async fn act<P: Provider>(
    settings: &Settings,
    p: &P,
    invocation: &Invocation,
    printer: &Printer,
    observer: &dyn Observer,
) -> Result<u8, Error> {
    let started = Instant::now();
    let action = invocation.action();
    let Some(project) = invocation.project() else {
        return Err(Error::Usage(format!("`{action}` is not a provider action")));
    };
    let spec = spec_of(invocation).map(|s| s.name.as_str());
    let journal = journal(settings, project, spec, action);
    tracing::info!(
        "{} {}/{} started (vauto {})",
        action.as_str(),
        project.name.0,
        spec.unwrap_or("*"),
        crate::VERSION_LINE
    );
    // The terminal (and notifier, metrics) and the journal see the same events; the
    // engine knows none of them.
    let observer = Fanout(vec![observer, &journal]);
    let policy = RetryPolicy::from_config(&project.retry);
    let reports = match invocation {
        Invocation::Deploy { plan, options } => {
            let _lock = lock(settings, options, &project.name, &plan.spec.name)?;
            let mut policy = policy;
            if let Some(m) = options.max_attempts {
                policy.max_attempts = m;
            }
            policy.deadline = options.deadline;
            let opts = DeployOptions {
                parallel: options.parallel,
                wait: options.wait,
                wait_timeout: Duration::from_secs(1800),
                policy,
                seed: fastrand::u64(..),
            };
            crate::engine::deploy(p, plan, &opts, &observer).await?
        }
        Invocation::Status { selection } => return status(settings, p, selection).await,
        Invocation::Delete {
            selection,
            keep_boot_volume,
            options,
        } => {
            let scope = selection.scope();
            let found = retry_reads(&policy, || p.list(&scope)).await?;
            if found.is_empty() {
                if settings.output == Format::Table {
                    println!(
                        "nothing to delete: no managed instances match {}",
                        selection.selector()
                    );
                }
                printer.finish("delete", &[], started.elapsed());
                return Ok(exit::OK);
            }
            confirm(options, &found)?;
            let mut specs: Vec<&str> = found.iter().map(|e| e.spec.as_str()).collect();
            specs.sort();
            specs.dedup();
            let _locks = specs
                .iter()
                .map(|s| lock(settings, options, &project.name, s))
                .collect::<Result<Vec<_>, _>>()?;
            let delete = DeleteOptions {
                keep_boot_volume: *keep_boot_volume,
            };
            for e in &found {
                journal.set_spec(&e.name, &e.spec);
            }
            crate::engine::delete(p, &found, &delete, options.parallel, &observer).await
        }
        Invocation::Power {
            power,
            selection,
            options,
        } => {
            let _lock = lock(
                settings,
                options,
                &project.name,
                selection.spec_name().unwrap_or_default(),
            )?;
            let scope = selection.scope();
            let found = retry_reads(&policy, || p.list(&scope)).await?;
            crate::engine::power(p, &found, *power, options.wait, options.parallel, &observer).await
        }
        _ => return Err(Error::Usage(format!("`{action}` is not a provider action"))),
    };
    printer.finish(action.as_str(), &reports, started.elapsed());
    Ok(if Summary::of(&reports).failed > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}

async fn status<P: Provider>(
    settings: &Settings,
    p: &P,
    selection: &Selection,
) -> Result<u8, Error> {
    let policy = RetryPolicy::from_config(&selection.project.retry);
    let scope = selection.scope();
    let rows = retry_reads(&policy, || p.status(&scope)).await?;
    match settings.output {
        Format::Table => {
            if rows.is_empty() {
                println!("no managed instances match {}", selection.selector());
            } else {
                println!("{}", crate::ui::table::status_table(p.kind(), &rows));
            }
            if selection.project.sim {
                println!(
                    "[SIMULATED] {} instances on the built-in {} simulator",
                    rows.len(),
                    p.kind()
                );
            }
        }
        f => crate::ui::output::print_doc(f, &rows),
    }
    Ok(exit::OK)
}

/// Asks before deleting unless `--yes`; refuses when nobody can answer.
fn confirm(options: &RunOptions, found: &[Existing]) -> Result<(), Error> {
    if options.yes {
        return Ok(());
    }
    let names: Vec<&str> = found.iter().map(|e| e.name.as_str()).collect();
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "refusing to delete {} instance(s) ({}) without confirmation: stdin is not a terminal; pass --yes",
            names.len(),
            names.join(", ")
        )));
    }
    eprint!(
        "delete {} instance(s) and all their resources: {}? [y/N] ",
        names.len(),
        names.join(", ")
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES") {
        Ok(())
    } else {
        Err(Error::Usage("delete cancelled".into()))
    }
}
