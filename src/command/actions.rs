//! deploy, delete, status, start and stop against a connected provider.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use super::connect::{connect_options, with_provider};
use super::{Invocation, RunOptions, Selection, Settings};
use crate::config::{Project, Spec};
use crate::engine::retry::{RetryPolicy, retry_reads};
use crate::engine::{DeployOptions, PowerOptions};
use crate::error::{Error, exit};
use crate::model::{
    Action, DeleteOptions, Existing, Fanout, Observer, Power, ResourceReport, Scope, StatusOptions,
    Summary,
};
use crate::ops::journal::{Journal, JournalFile, RunInfo};
use crate::ops::lock::RunLock;
use crate::ops::notify::{FLUSH_TIMEOUT, Notifier, describe_target};
use crate::plan::Plan;
use crate::provider::Provider;
use crate::ui::output::Format;
use crate::ui::output::Printer;

/// Who else hears about a run besides the printer: set by `vauto daemon`.
#[derive(Default, Clone, Copy)]
pub(super) struct Hooks<'a> {
    /// One more observer (the daemon's metrics).
    pub observer: Option<&'a dyn Observer>,
    /// A long-lived notifier to use instead of a per-run one (which is flushed at the end).
    pub notifier: Option<&'a Notifier>,
    /// Send the `run started` and `failed` notifications.
    pub announce: bool,
}

/// How a run ended: what the daemon branches on, and the exit code of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    /// Everything was done (or nothing was left to do).
    Done,
    /// Something failed.
    Failed,
    /// A daemon hunt pass or scheduled deploy found no capacity yet, and nothing failed:
    /// the hunt goes on.
    NoCapacity,
}

impl Ended {
    /// The exit code: 1 unless everything was done (cron notices a pass without capacity).
    pub(super) fn code(self) -> u8 {
        match self {
            Ended::Done => exit::OK,
            Ended::Failed | Ended::NoCapacity => exit::FAILED,
        }
    }

    fn of_code(code: u8) -> Ended {
        if code == exit::OK {
            Ended::Done
        } else {
            Ended::Failed
        }
    }
}

/// Connects to the invocation's backend and runs it; the exit code.
pub(super) async fn run(settings: &Settings, invocation: &Invocation) -> Result<u8, Error> {
    run_with(
        settings,
        invocation,
        Hooks {
            announce: true,
            ..Hooks::default()
        },
    )
    .await
    .map(Ended::code)
}

/// `ssh`: connects to the project's backend and runs the ssh client; its exit code.
pub(super) async fn run_ssh(settings: &Settings, invocation: &Invocation) -> Result<u8, Error> {
    let Invocation::Ssh {
        plan,
        name,
        command,
    } = invocation
    else {
        return Err(Error::Usage("not an `ssh` invocation".into()));
    };
    super::open_logs(settings, Some(&plan.project));
    let (opts, _sim) = connect_options(&plan.project, &settings.state_dir).await?;
    let project = &plan.project;
    with_provider!(project, opts, |p| super::ssh::ssh(&p, plan, name, command)
        .await)
}

/// [`run`] with extra observers and notifier: how the daemon runs an action.
pub(super) async fn run_with(
    settings: &Settings,
    invocation: &Invocation,
    hooks: Hooks<'_>,
) -> Result<Ended, Error> {
    let Some(project) = invocation.project() else {
        return Err(Error::Usage(format!(
            "`{}` is not a provider action",
            invocation.action()
        )));
    };
    super::open_logs(settings, Some(project));
    // A delete dry run lists what it would delete (read only); the others contact nothing.
    if let Invocation::DryRun { action, selection } = invocation
        && *action != Action::Delete
    {
        return dry_run(*action, selection).map(Ended::of_code);
    }
    let (mut opts, _sim) = connect_options(project, &settings.state_dir).await?;
    opts.pace = invocation.pace();
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
    let announce = hooks.announce
        && action != Action::Status
        && action != Action::Ssh
        && !matches!(invocation, Invocation::DryRun { .. })
        && notifier.active();
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
    let run = async {
        with_provider!(project, opts, |p| act(
            settings, &p, invocation, &printer, &fanout
        )
        .await)
    };
    let result = match deadline_of(invocation) {
        // The engine gives up at the deadline by itself; this only ends a run whose server
        // stopped answering in the middle of a request.
        Some(d) => tokio::time::timeout(d + DEADLINE_GRACE, run)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Other(format!(
                    "deadline of {} reached while the server had not answered; run again to go on (nothing is duplicated)",
                    humantime::format_duration(d)
                )))
            }),
        None => run.await,
    };
    if announce {
        notifier.run_finished(result.as_ref().err().map(|e| e.to_string()).as_deref());
    }
    if hooks.notifier.is_none() {
        notifier.flush(FLUSH_TIMEOUT).await;
    }
    result
}

/// How long past `--deadline` a run may take to finish the request in flight.
const DEADLINE_GRACE: Duration = Duration::from_secs(2);

/// `--deadline` of an action that has one.
fn deadline_of(invocation: &Invocation) -> Option<Duration> {
    invocation.run_options().and_then(|o| o.deadline)
}

/// The spec an invocation names, if any.
fn spec_of(invocation: &Invocation) -> Option<&Spec> {
    match invocation {
        Invocation::Plan(plan)
        | Invocation::Deploy { plan, .. }
        | Invocation::Ssh { plan, .. }
        | Invocation::Adopt { plan, .. } => Some(&plan.spec),
        Invocation::Delete { selection, .. }
        | Invocation::Status { selection, .. }
        | Invocation::Power { selection, .. }
        | Invocation::DryRun { selection, .. }
        | Invocation::Selected { selection, .. } => selection.spec.as_ref(),
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

/// The run lock of `project`/`spec`: now, or (with `--wait-lock`) once the holder lets go.
async fn lock(
    settings: &Settings,
    options: &RunOptions,
    project: &str,
    spec: &str,
) -> Result<RunLock, Error> {
    let dir = &settings.state_dir;
    Ok(if options.wait_lock {
        RunLock::acquire_waiting(dir, project, spec).await?
    } else {
        RunLock::acquire(dir, project, spec)?
    })
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
) -> Result<Ended, Error> {
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
    let run = Run {
        settings,
        project,
        journal: &journal,
        observer: &Fanout(vec![observer, &journal]),
    };
    let reports = match invocation {
        Invocation::Deploy { plan, options } => run.deploy(p, plan, options).await?,
        Invocation::Status { selection, options } => {
            return status(settings, p, selection, options)
                .await
                .map(Ended::of_code);
        }

        Invocation::DryRun { selection, .. } => {
            return dry_run_delete(p, selection).await.map(Ended::of_code);
        }
        Invocation::Selected { action, selection } => {
            return list_selected(p, *action, selection)
                .await
                .map(Ended::of_code);
        }
        Invocation::Delete {
            selection,
            keep_boot_volume,
            options,
        } => match run.delete(p, selection, *keep_boot_volume, options).await? {
            Some(reports) => reports,
            None => {
                printer.finish("delete", &[], started.elapsed());
                return Ok(Ended::Done);
            }
        },
        Invocation::Power {
            power,
            selection,
            options,
        } => run.power(p, *power, selection, options).await?,
        Invocation::Adopt { plan, id, options } => run.adopt(p, plan, id, options).await?,
        _ => return Err(Error::Usage(format!("`{action}` is not a provider action"))),
    };
    printer.finish(action.as_str(), &reports, started.elapsed());
    let summary = Summary::of(&reports);
    Ok(if summary.failed() {
        Ended::Failed
    } else if summary.no_capacity() {
        Ended::NoCapacity
    } else {
        Ended::Done
    })
}

/// One action run: where it writes, and who hears of it.
struct Run<'a> {
    settings: &'a Settings,
    project: &'a Project,
    journal: &'a Journal,
    observer: &'a dyn Observer,
}

impl Run<'_> {
    async fn lock(&self, options: &RunOptions, spec: &str) -> Result<RunLock, Error> {
        lock(self.settings, options, &self.project.name, spec).await
    }

    /// The project's retry policy with `--max-attempts` and `--deadline` applied.
    fn policy(&self, options: &RunOptions) -> RetryPolicy {
        let mut policy = RetryPolicy::from_config(&self.project.retry);
        if let Some(m) = options.max_attempts {
            policy.max_attempts = m;
        }
        policy.deadline = options.deadline;
        policy
    }

    async fn deploy<P: Provider>(
        &self,
        p: &P,
        plan: &Plan,
        options: &RunOptions,
    ) -> Result<Vec<ResourceReport>, Error> {
        let _lock = self.lock(options, &plan.spec.name).await?;
        let policy = self.policy(options);
        // A daemon pass goes on numbering attempts from the earlier passes of its hunt.
        let attempt_base = if options.hunt {
            crate::ops::journal::attempts_since_success(
                &self.settings.state_dir,
                &self.project.name,
                &plan.spec.name,
            )
        } else {
            std::collections::BTreeMap::new()
        };
        let opts = DeployOptions {
            parallel: options.parallel,
            wait: options.wait,
            wait_timeout: Duration::from_secs(1800),
            policy,
            seed: fastrand::u64(..),
            hunt: options.hunt,
            attempt_base,
        };
        Ok(crate::engine::deploy(p, plan, &opts, self.observer).await?)
    }

    /// Deletes what `selection` finds, after confirmation; `None` when nothing matched.
    async fn delete<P: Provider>(
        &self,
        p: &P,
        selection: &Selection,
        keep_boot_volume: bool,
        options: &RunOptions,
    ) -> Result<Option<Vec<ResourceReport>>, Error> {
        let found = list_targets(p, selection).await?;
        if found.is_empty() {
            if self.settings.output == Format::Table {
                println!(
                    "nothing to delete: no managed instances match {}",
                    selection.selector()
                );
            }
            return Ok(None);
        }
        confirm(options, &found)?;
        let mut specs: Vec<&str> = found.iter().map(|e| e.spec.as_str()).collect();
        specs.sort();
        specs.dedup();
        let mut _locks = Vec::with_capacity(specs.len());
        for s in specs {
            _locks.push(self.lock(options, s).await?);
        }
        for e in &found {
            self.journal.set_spec(&e.name, &e.spec);
        }
        let delete = DeleteOptions { keep_boot_volume };
        Ok(Some(
            crate::engine::delete(
                p,
                &found,
                &delete,
                (options.parallel, &self.policy(options)),
                self.observer,
            )
            .await,
        ))
    }

    /// `adopt`: asks first (unless `--yes`), then tags the instance as the spec's.
    async fn adopt<P: Provider>(
        &self,
        p: &P,
        plan: &Plan,
        id: &str,
        options: &RunOptions,
    ) -> Result<Vec<ResourceReport>, Error> {
        let _lock = self.lock(options, &plan.spec.name).await?;
        ask(
            options,
            &format!(
                "adopt instance {id} into {}/{}: vauto will manage it from now on, and `delete` will terminate it",
                plan.project.name, plan.spec.name
            ),
            "adopt",
        )?;
        let policy = self.policy(options);
        let report = match retry_reads(&policy, || p.adopt(plan, id)).await {
            Ok(r) => r,
            Err(e) => {
                ResourceReport::new(id, "Instance", id, crate::model::Outcome::Failed, e.message)
            }
        };
        self.observer
            .event(crate::model::Event::Report(Box::new(report.clone())));
        Ok(vec![report])
    }

    async fn power<P: Provider>(
        &self,
        p: &P,
        power: Power,
        selection: &Selection,
        options: &RunOptions,
    ) -> Result<Vec<ResourceReport>, Error> {
        let _lock = self
            .lock(options, selection.spec_name().unwrap_or_default())
            .await?;
        let found = list_targets(p, selection).await?;
        let opts = PowerOptions {
            action: power,
            wait: options.wait,
            parallel: options.parallel,
            policy: self.policy(options),
            hunt: options.hunt,
        };
        Ok(crate::engine::power(p, &found, &opts, self.observer).await)
    }
}

async fn status<P: Provider>(
    settings: &Settings,
    p: &P,
    selection: &Selection,
    options: &StatusOptions,
) -> Result<u8, Error> {
    let policy = RetryPolicy::from_config(&selection.project.retry);
    let scope = untargeted(selection);
    let rows = retry_reads(&policy, || p.status(&scope, options)).await?;
    nothing_selected(selection, rows.is_empty())?;
    let rows = super::target::select(selection, rows, |r| (&r.name, &r.id))?;
    match settings.output {
        Format::Table => {
            if rows.is_empty() {
                println!("no managed instances match {}", selection.selector());
            } else {
                use crate::ui::table;
                // One event per instance fits in the table; more get a list of their own.
                let last_event = options.events == 1;
                println!("{}", table::status_table(p.kind(), &rows, last_event));
                if options.events > 1 {
                    println!("\n{}", table::events_table(&rows));
                }
                println!("{}", table::status_summary(&rows));
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

/// The selection's scope without `--target`: the target (a name, an OCID or a glob) is
/// matched by `target::select`, the same way for every provider.
fn untargeted(selection: &Selection) -> Scope {
    Scope {
        target: None,
        ..selection.scope()
    }
}

/// The managed instances `selection` selects; a `--target` that selects none is an error.
async fn list_targets<P: Provider>(p: &P, selection: &Selection) -> Result<Vec<Existing>, Error> {
    let policy = RetryPolicy::from_config(&selection.project.retry);
    let scope = untargeted(selection);
    let found = retry_reads(&policy, || p.list(&scope)).await?;
    nothing_selected(selection, found.is_empty())?;
    super::target::select(selection, found, |e| (&e.name, &e.id))
}

/// A `select:` spec that matches nothing is an error naming its filter: a lights-out run
/// that stops nothing because a tag was misspelt must not look like a success.
fn nothing_selected(selection: &Selection, empty: bool) -> Result<(), Error> {
    match selection.spec.as_ref() {
        Some(spec) if empty => match &spec.select {
            Some(select) => Err(Error::Other(format!(
                "spec `{}` selects nothing: no resource matches {}{}; check the filter with `vauto {} {} plan`",
                spec.name,
                select.describe(),
                match (&select.compartment, selection.project.kind()) {
                    (None, crate::model::ProviderKind::Oci) => " in the project's compartment",
                    (None, crate::model::ProviderKind::Kubevirt) => " in the project's namespace",
                    _ => "",
                },
                selection.project.name,
                spec.name
            ))),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// `plan` (or `--dry-run`) on a `select:` spec: what the selection matches now, read only.
async fn list_selected<P: Provider>(
    p: &P,
    action: Action,
    selection: &Selection,
) -> Result<u8, Error> {
    let found = list_targets(p, selection).await?;
    let spec = selection.spec_name().unwrap_or_default();
    let noun = if found.len() == 1 {
        "resource"
    } else {
        "resources"
    };
    let what = match action {
        Action::Plan => "`start`, `stop` and `status` act on".to_string(),
        other => format!("dry run: `{other}` would act on"),
    };
    println!(
        "{what} {} {noun} selected by spec `{spec}` (vauto never creates, deletes or retags them; it only read):",
        found.len()
    );
    let width = found.iter().map(|e| e.name.len()).max().unwrap_or(0);
    for e in &found {
        let kind = e.resources.last().map_or("", |(k, _)| k.as_str());
        println!(
            "  {kind:<18} {:<width$}  {:<10}  {}",
            e.name,
            e.state.as_deref().unwrap_or("-"),
            e.id
        );
    }
    Ok(exit::OK)
}

/// `delete --dry-run`: the instances and objects a delete would remove, found by reading only.
async fn dry_run_delete<P: Provider>(p: &P, selection: &Selection) -> Result<u8, Error> {
    let found = list_targets(p, selection).await?;
    if found.is_empty() {
        println!(
            "dry run: `delete` would delete nothing: no managed instances match {} (it only read; nothing is changed)",
            selection.selector()
        );
        return Ok(exit::OK);
    }
    let objects: usize = found.iter().map(|e| e.resources.len().max(1)).sum();
    let noun = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    println!(
        "dry run: `delete` would delete {} and {} (it only read; nothing is changed):",
        noun(found.len(), "instance", "instances"),
        noun(objects, "object", "objects")
    );
    for e in &found {
        // In the order delete goes: the reverse of creation.
        let names: Vec<String> = e
            .resources
            .iter()
            .rev()
            .map(|(kind, name)| format!("{kind} {name}"))
            .collect();
        println!("{}: {}  id={}", e.name, names.join(", "), e.id);
    }
    Ok(exit::OK)
}

/// Asks before deleting unless `--yes`; refuses when nobody can answer.
fn confirm(options: &RunOptions, found: &[Existing]) -> Result<(), Error> {
    let names: Vec<&str> = found.iter().map(|e| e.name.as_str()).collect();
    if !options.yes && !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "refusing to delete {} instance(s) ({}) without confirmation: stdin is not a terminal; pass --yes",
            names.len(),
            names.join(", ")
        )));
    }
    ask(
        options,
        &format!(
            "delete {} instance(s) and all their resources: {}",
            names.len(),
            names.join(", ")
        ),
        "delete",
    )
}

/// Asks `question` on the terminal unless `--yes`; refuses when nobody can answer, and
/// anything but yes cancels `what`.
fn ask(options: &RunOptions, question: &str, what: &str) -> Result<(), Error> {
    if options.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "refusing to {what} without confirmation: stdin is not a terminal; pass --yes"
        )));
    }
    eprint!("{question}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES") {
        Ok(())
    } else {
        Err(Error::Usage(format!("{what} cancelled")))
    }
}
