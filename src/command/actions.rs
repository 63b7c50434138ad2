//! deploy, delete, status, start and stop against a connected provider.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use super::Ctx;
use super::connect::{connect_options, with_provider};
use crate::cli::{Action, Format};
use crate::config::Project;
use crate::engine::DeployOptions;
use crate::engine::retry::{RetryPolicy, retry_reads};
use crate::error::{Error, exit};
use crate::model::{DeleteOptions, Existing, Fanout, Observer, Power, Scope, Summary};
use crate::ops::journal::{Journal, JournalFile, RunInfo};
use crate::ops::lock::RunLock;
use crate::ops::notify::{FLUSH_TIMEOUT, Notifier, describe_target};
use crate::plan::Plan;
use crate::provider::Provider;
use crate::ui::output::{Printer, Verbosity};

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

/// Loads what the action needs, connects, and runs it.
pub async fn run(ctx: &Ctx) -> Result<u8, Error> {
    run_with(
        ctx,
        Hooks {
            announce: true,
            ..Hooks::default()
        },
    )
    .await
}

/// [`run`] with extra observers and notifier: how the daemon runs an action.
pub async fn run_with(ctx: &Ctx, hooks: Hooks<'_>) -> Result<u8, Error> {
    let project = ctx.project()?;
    super::open_logs(ctx, Some(&project));
    // Only deploy needs the plan; the other actions select existing instances by label,
    // so `--target` may name an instance beyond the spec's current replicas.
    let plan = if ctx.cmd.action == Action::Deploy {
        prepare_keys(ctx, &project)?;
        Some(super::plan::load_plan(ctx)?)
    } else {
        ctx.spec(&project)?;
        None
    };
    if ctx.args.dry_run {
        return dry_run(ctx, &project);
    }
    let (opts, _sim) = connect_options(&project, &ctx.state_dir).await?;
    let printer = Printer::new(ctx.args.output, verbosity(ctx), opts.simulated);
    let own;
    let base = match hooks.notifier {
        Some(n) => n,
        None => {
            own = Notifier::new(&project, opts.simulated);
            &own
        }
    };
    let action = ctx.cmd.action;
    let notifier = base.for_run(ctx.cmd.spec.as_deref(), action.as_str());
    let announce = hooks.announce && action != Action::Status && notifier.active();
    if announce {
        let what = match ctx.spec(&project) {
            Ok(Some(spec)) => describe_target(&project, &spec),
            _ => "every spec of the project".to_string(),
        };
        notifier.run_started(&what);
    }
    let mut observers: Vec<&dyn Observer> = vec![&printer, &notifier];
    observers.extend(hooks.observer);
    let fanout = Fanout(observers);
    let result = with_provider!(project, opts, |p| act(
        ctx,
        &p,
        &project,
        plan.as_ref(),
        &printer,
        &fanout
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

fn verbosity(ctx: &Ctx) -> Verbosity {
    if ctx.args.quiet {
        Verbosity::Quiet
    } else if ctx.args.verbose > 0 {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    }
}

/// Creates the `ssh.generate` key pair before planning, so the plan carries its public key.
fn prepare_keys(ctx: &Ctx, project: &Project) -> Result<(), Error> {
    let Some(spec) = ctx.spec(project)? else {
        return Ok(());
    };
    if let Some(path) = crate::plan::generated_key_path(&spec) {
        let comment = format!("vauto {}/{}", project.name, spec.name);
        crate::plan::ensure_generated(&path, &comment).map_err(Error::Other)?;
    }
    Ok(())
}

fn dry_run(ctx: &Ctx, project: &Project) -> Result<u8, Error> {
    let selector = crate::plan::selector(
        &project.name,
        ctx.cmd.spec.as_deref(),
        ctx.args.target.as_deref(),
    );
    println!(
        "dry run: `{}` would act on the resources labelled {selector} (nothing was contacted)",
        ctx.cmd.action.as_str()
    );
    Ok(exit::OK)
}

fn scope(ctx: &Ctx, project: &Project) -> Scope {
    Scope {
        project: project.name.0.clone(),
        spec: ctx.cmd.spec.clone(),
        target: ctx.args.target.clone(),
    }
}

fn lock(ctx: &Ctx, project: &str, spec: &str) -> Result<RunLock, Error> {
    Ok(RunLock::acquire(
        &ctx.state_dir,
        project,
        spec,
        ctx.args.wait_lock,
    )?)
}

async fn act<P: Provider>(
    ctx: &Ctx,
    p: &P,
    project: &Project,
    plan: Option<&Plan>,
    printer: &Printer,
    observer: &dyn Observer,
) -> Result<u8, Error> {
    let started = Instant::now();
    let action = ctx.cmd.action;
    if ctx.args.keep_boot_volume && !p.capability().keeps_boot_volume {
        return Err(Error::Usage(format!(
            "--keep-boot-volume applies to OCI only; `{}` deletes the DataVolume with its VM",
            p.kind()
        )));
    }
    let journal = Journal::new(
        JournalFile::new(&ctx.state_dir),
        RunInfo {
            project: project.name.0.clone(),
            spec: ctx.cmd.spec.clone().unwrap_or_default(),
            provider: project.provider.as_str().to_string(),
            action: action.as_str().to_string(),
        },
    );
    tracing::info!(
        "{} {}/{} started (vauto {})",
        action.as_str(),
        project.name.0,
        ctx.cmd.spec.as_deref().unwrap_or("*"),
        crate::VERSION_LINE
    );
    // The terminal (and notifier, metrics) and the journal see the same events; the
    // engine knows none of them.
    let observer = Fanout(vec![observer, &journal]);
    let reports = match action {
        Action::Deploy => {
            let plan = plan.ok_or_else(|| Error::Usage("deploy needs a spec".into()))?;
            let _lock = lock(ctx, &project.name, &plan.spec.name)?;
            let mut policy = RetryPolicy::from_config(&project.retry);
            if let Some(m) = ctx.args.max_attempts {
                policy.max_attempts = m;
            }
            policy.deadline = ctx.args.deadline.map(|d| d.0);
            let opts = DeployOptions {
                parallel: ctx.args.parallel,
                wait: ctx.args.wait,
                wait_timeout: Duration::from_secs(1800),
                policy,
                seed: fastrand::u64(..),
            };
            crate::engine::deploy(p, plan, &opts, &observer).await?
        }
        Action::Status => return status(ctx, p, project).await,
        Action::Delete => {
            let policy = RetryPolicy::from_config(&project.retry);
            let sc = scope(ctx, project);
            let found = retry_reads(&policy, || p.list(&sc)).await?;
            if found.is_empty() {
                if ctx.args.output == Format::Table {
                    println!(
                        "nothing to delete: no managed instances match {}",
                        crate::plan::selector(
                            &project.name,
                            ctx.cmd.spec.as_deref(),
                            ctx.args.target.as_deref()
                        )
                    );
                }
                printer.finish("delete", &[], started.elapsed());
                return Ok(exit::OK);
            }
            confirm(ctx, &found)?;
            let mut specs: Vec<&str> = found.iter().map(|e| e.spec.as_str()).collect();
            specs.sort();
            specs.dedup();
            let _locks = specs
                .iter()
                .map(|s| lock(ctx, &project.name, s))
                .collect::<Result<Vec<_>, _>>()?;
            let options = DeleteOptions {
                keep_boot_volume: ctx.args.keep_boot_volume,
            };
            for e in &found {
                journal.set_spec(&e.name, &e.spec);
            }
            crate::engine::delete(p, &found, &options, ctx.args.parallel, &observer).await
        }
        Action::Start | Action::Stop => {
            let spec = ctx.cmd.spec.as_deref().unwrap_or_default();
            let _lock = lock(ctx, &project.name, spec)?;
            let policy = RetryPolicy::from_config(&project.retry);
            let sc = scope(ctx, project);
            let found = retry_reads(&policy, || p.list(&sc)).await?;
            let power = if action == Action::Start {
                Power::Start
            } else {
                Power::Stop
            };
            crate::engine::power(
                p,
                &found,
                power,
                ctx.args.wait,
                ctx.args.parallel,
                &observer,
            )
            .await
        }
        _ => {
            return Err(Error::Usage(format!(
                "`{}` is not a provider action",
                action.as_str()
            )));
        }
    };
    printer.finish(action.as_str(), &reports, started.elapsed());
    Ok(if Summary::of(&reports).failed > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}

async fn status<P: Provider>(ctx: &Ctx, p: &P, project: &Project) -> Result<u8, Error> {
    let policy = RetryPolicy::from_config(&project.retry);
    let sc = scope(ctx, project);
    let rows = retry_reads(&policy, || p.status(&sc)).await?;
    match ctx.args.output {
        Format::Table => {
            if rows.is_empty() {
                println!(
                    "no managed instances match {}",
                    crate::plan::selector(
                        &project.name,
                        ctx.cmd.spec.as_deref(),
                        ctx.args.target.as_deref()
                    )
                );
            } else {
                println!("{}", crate::ui::table::status_table(p.kind(), &rows));
            }
            if project.sim {
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
fn confirm(ctx: &Ctx, found: &[Existing]) -> Result<(), Error> {
    if ctx.args.yes {
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
