//! Stage 2: the command line checked once and loaded into one value the actions run from.
//!
//! `Args` (clap) stops here. An [`Invocation`] holds the loaded project, spec and plan of its
//! action and only the options that action reads, so no action re-parses a file or checks an
//! option combination halfway through, and the daemon builds invocations without faking a
//! command line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cli::{Args, Command};
use crate::config::{ConfigDir, Project, ProviderKind, Spec};
use crate::error::Error;
use crate::model::{Action, Power, Scope, StatusOptions};
use crate::plan::{Plan, PlanOptions};
use crate::provider::Pace;
use crate::ui::output::Format;
use crate::ui::output::Verbosity;

/// What every action shares: where the files are and how to print.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The configuration directory.
    pub dir: ConfigDir,
    /// The state directory (`.vauto/`).
    pub state_dir: PathBuf,
    /// `-o`.
    pub output: Format,
    /// `-v`/`-q`.
    pub verbosity: Verbosity,
    /// `--log-dir`.
    pub log_dir: Option<PathBuf>,
}

/// The instances an action looks at: a loaded project, maybe a spec, maybe one instance.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    /// The project, loaded and checked.
    pub project: Project,
    /// The spec, loaded and checked for the project's provider; `None`: every spec.
    pub spec: Option<Spec>,
    /// `--target`: one instance by name.
    pub target: Option<String>,
}

impl Selection {
    /// The spec's name, if one was given.
    pub(crate) fn spec_name(&self) -> Option<&str> {
        self.spec.as_ref().map(|s| s.name.as_str())
    }

    /// The provider's view of the selection.
    pub(crate) fn scope(&self) -> Scope {
        Scope {
            spec: self.spec_name().map(String::from),
            target: self.target.clone(),
            select: self.spec.as_ref().and_then(|s| s.select.clone()),
        }
    }

    /// The ownership-label selector, as printed in messages.
    pub(crate) fn selector(&self) -> String {
        crate::plan::selector(&self.project.name, self.spec_name(), self.target.as_deref())
    }
}

/// How an action that changes things runs.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    /// `--parallel`: instances worked on at once.
    pub parallel: usize,
    /// `--wait`.
    pub wait: bool,
    /// `--wait-lock`: queue behind another run instead of exiting 3.
    pub wait_lock: bool,
    /// `--yes`: no confirmation.
    pub yes: bool,
    /// `--max-attempts` (overrides `retry.max_attempts`).
    pub max_attempts: Option<u64>,
    /// `--deadline`.
    pub deadline: Option<Duration>,
    /// Started by the daemon (a capacity hunt pass or a scheduled action): attempt numbers
    /// go on from the journal, and a deploy that found no capacity yet has not failed.
    pub hunt: bool,
}

/// One action, loaded and checked: the whole of what it runs from.
#[derive(Debug)]
pub(crate) enum Invocation {
    /// `validate`.
    Validate,
    /// `plan`, and `deploy --dry-run`.
    Plan(Box<Plan>),
    /// `deploy`.
    Deploy {
        /// The desired instances.
        plan: Box<Plan>,
        /// How to run.
        options: RunOptions,
    },
    /// `delete`.
    Delete {
        /// What to delete.
        selection: Selection,
        /// `--keep-boot-volume` (checked against the provider).
        keep_boot_volume: bool,
        /// How to run.
        options: RunOptions,
    },
    /// `status`.
    Status {
        /// What to show.
        selection: Selection,
        /// What to read besides the instances (`--events`).
        options: StatusOptions,
    },
    /// `start` / `stop`.
    Power {
        /// Which.
        power: Power,
        /// What to power.
        selection: Selection,
        /// How to run.
        options: RunOptions,
    },
    /// `plan`, or an action with `--dry-run`, on a `select:` spec: what the selection
    /// matches now (read only).
    Selected {
        /// The action that was asked for.
        action: Action,
        /// The project and the select spec.
        selection: Selection,
    },
    /// `delete`, `status`, `start` or `stop` with `--dry-run`: say what would be touched.
    DryRun {
        /// The action that was not run.
        action: Action,
        /// What it would have acted on.
        selection: Selection,
    },
    /// `report`.
    Report {
        /// Only this project.
        project: Option<String>,
        /// Only this spec.
        spec: Option<String>,
        /// The period's start.
        since: DateTime<Utc>,
    },
    /// `daemon`.
    Daemon {
        /// Only this project's schedules.
        project: Option<String>,
        /// Only this spec's schedules.
        spec: Option<String>,
        /// `--once`: run what is due, then exit.
        once: bool,
        /// `--listen`: serve /healthz and /metrics.
        listen: Option<String>,
        /// Options the scheduled actions run with.
        options: RunOptions,
    },
    /// `completions SHELL`.
    Completions(clap_complete::Shell),
    /// `ssh NAME [-- COMMAND...]`: the ssh client, logged in to one instance of the plan.
    Ssh {
        /// The spec's plan (its instances, keys and login user).
        plan: Box<Plan>,
        /// The instance.
        name: String,
        /// A command to run there instead of a shell.
        command: Vec<String>,
    },
    /// `adopt --target OCID`: vauto's ownership tags on one instance it did not create.
    Adopt {
        /// The spec's plan: its instance names, which the instance's name must be one of.
        plan: Box<Plan>,
        /// The instance's OCID.
        id: String,
        /// How to run (`--yes`, `--wait-lock`).
        options: RunOptions,
    },
    /// `sim serve KIND`: a simulator until Ctrl-C.
    SimServe {
        /// Which simulator.
        kind: ProviderKind,
        /// `--listen`.
        listen: std::net::SocketAddr,
        /// `--faults`.
        faults: super::sim::SimFaults,
        /// Namespaces that exist from the start: those the config dir's KubeVirt projects name.
        namespaces: Vec<String>,
    },
}

impl Invocation {
    /// How an action that changes instances runs (`--parallel`, `--deadline`, ...); none
    /// for the others.
    pub(crate) fn run_options(&self) -> Option<&RunOptions> {
        match self {
            Invocation::Deploy { options, .. }
            | Invocation::Delete { options, .. }
            | Invocation::Power { options, .. } => Some(options),
            _ => None,
        }
    }

    /// How the provider sends one call's independent requests: `--parallel 1` asks for
    /// one request in flight at a time.
    pub(crate) fn pace(&self) -> Pace {
        self.run_options()
            .map_or(Pace::AtOnce, |o| Pace::of_parallel(o.parallel))
    }

    /// The action word.
    pub(crate) fn action(&self) -> Action {
        match self {
            Invocation::Validate => Action::Validate,
            Invocation::Plan(_) => Action::Plan,
            Invocation::Deploy { .. } => Action::Deploy,
            Invocation::Delete { .. } => Action::Delete,
            Invocation::Status { .. } => Action::Status,
            Invocation::Power { power, .. } => power.action(),
            Invocation::DryRun { action, .. } | Invocation::Selected { action, .. } => *action,
            Invocation::Report { .. } => Action::Report,
            Invocation::Daemon { .. } => Action::Daemon,
            Invocation::Completions(_) => Action::Completions,
            Invocation::SimServe { .. } => Action::Sim,
            Invocation::Ssh { .. } => Action::Ssh,
            Invocation::Adopt { .. } => Action::Adopt,
        }
    }

    /// The project this invocation acts on, if it is one action on one project.
    pub(crate) fn project(&self) -> Option<&Project> {
        match self {
            Invocation::Plan(plan)
            | Invocation::Deploy { plan, .. }
            | Invocation::Ssh { plan, .. }
            | Invocation::Adopt { plan, .. } => Some(&plan.project),
            Invocation::Delete { selection, .. }
            | Invocation::Status { selection, .. }
            | Invocation::Power { selection, .. }
            | Invocation::DryRun { selection, .. }
            | Invocation::Selected { selection, .. } => Some(&selection.project),
            _ => None,
        }
    }

    /// A scheduled action of `vauto daemon`: `action` on `spec` of `project`, as if typed
    /// with `--yes` (the schedule is the confirmation) and without `--wait-lock` (the daemon
    /// waits for locks itself).
    pub(crate) fn scheduled(
        dir: &ConfigDir,
        project: &Project,
        spec: &str,
        action: Action,
        options: &RunOptions,
    ) -> Result<Invocation, Error> {
        let options = RunOptions {
            yes: true,
            wait_lock: false,
            hunt: true,
            ..options.clone()
        };
        let spec = dir.spec(spec, project.kind())?;
        let selection = Selection {
            project: project.clone(),
            spec: Some(spec),
            target: None,
        };
        act(dir, action, selection, &options, false, None)
    }
}

/// The command line, checked: settings plus the one invocation (stage 2 of three).
#[derive(Debug)]
pub(crate) struct Config {
    /// What every action shares.
    pub settings: Settings,
    /// The action, loaded.
    pub invocation: Invocation,
}

impl Config {
    /// Checks `args` and loads what the action needs; every usage and config error is
    /// found here, before anything is contacted.
    pub(crate) fn from_args(args: &Args) -> Result<Config, Error> {
        let cmd = args.resolve().map_err(Error::Usage)?;
        if cmd.action == Action::Completions {
            let word = cmd.rest.first().map(String::as_str).unwrap_or_default();
            let shell = word.parse().map_err(|_| {
                Error::Usage(format!(
                    "unknown shell `{word}`: expected bash, zsh or fish"
                ))
            })?;
            let dir = ConfigDir {
                root: PathBuf::from("."),
                env: crate::config::Env::default(),
            };
            return Ok(Config {
                settings: settings(args, dir, PathBuf::from(".vauto")),
                invocation: Invocation::Completions(shell),
            });
        }
        let root = super::config_dir(args.config_dir.as_deref());
        if args.config_dir.is_some() && !root.is_dir() {
            return Err(Error::Usage(format!(
                "--config-dir `{}` is not a directory",
                root.display()
            )));
        }
        let dir = ConfigDir::open(&root)?;
        let state_dir = args
            .state_dir
            .clone()
            .unwrap_or_else(|| root.join(".vauto"));
        let invocation = invocation(args, &cmd, &dir)?;
        Ok(Config {
            settings: settings(args, dir, state_dir),
            invocation,
        })
    }
}

fn settings(args: &Args, dir: ConfigDir, state_dir: PathBuf) -> Settings {
    let verbosity = if args.quiet {
        Verbosity::Quiet
    } else if args.verbose > 0 {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    Settings {
        dir,
        state_dir,
        output: args.output,
        verbosity,
        log_dir: args.log_dir.clone(),
    }
}

/// The namespaces the config dir's KubeVirt projects name (projects that do not load are
/// left out: `validate` reports them).
fn project_namespaces(dir: &ConfigDir) -> Vec<String> {
    let mut out: Vec<String> = dir
        .names("projects")
        .iter()
        .filter_map(|name| dir.project(name).ok())
        .filter_map(|p| {
            p.kubevirt()
                .and_then(|k| k.namespace.as_ref())
                .map(|n| n.0.clone())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn run_options(args: &Args) -> RunOptions {
    RunOptions {
        parallel: args.parallel.max(1),
        wait: args.wait,
        wait_lock: args.wait_lock,
        yes: args.yes,
        max_attempts: args.max_attempts,
        deadline: args.deadline.map(|d| d.0),
        hunt: false,
    }
}

fn invocation(args: &Args, cmd: &Command, dir: &ConfigDir) -> Result<Invocation, Error> {
    if let Some(r) = args.replicas
        && r > crate::config::MAX_REPLICAS
    {
        return Err(Error::Usage(format!(
            "--replicas {r} is too many: at most {}",
            crate::config::MAX_REPLICAS
        )));
    }
    let options = run_options(args);
    match cmd.action {
        Action::Validate => Ok(Invocation::Validate),
        Action::Report => {
            let since =
                crate::ops::report::parse_since(args.since.as_deref().unwrap_or("24h"), Utc::now())
                    .map_err(|e| Error::Usage(e.to_string()))?;
            Ok(Invocation::Report {
                project: cmd.project.clone(),
                spec: cmd.spec.clone(),
                since,
            })
        }
        Action::Daemon => Ok(Invocation::Daemon {
            project: cmd.project.clone(),
            spec: cmd.spec.clone(),
            once: args.once,
            listen: args.listen.clone(),
            options,
        }),
        Action::Completions => Err(Error::Usage(
            "usage: vauto completions bash|zsh|fish".into(),
        )),
        Action::Sim => {
            let (kind, listen, faults) =
                super::sim::parse_serve(&cmd.rest, args.listen.as_deref(), args.faults.as_deref())
                    .map_err(Error::Usage)?;
            Ok(Invocation::SimServe {
                kind,
                listen,
                faults,
                namespaces: project_namespaces(dir),
            })
        }
        Action::Ssh => {
            let selection = selection(cmd, dir, args)?;
            if let Some(spec) = selection.spec.as_ref().filter(|s| s.select.is_some()) {
                return Err(refused_on_select(Action::Ssh, &spec.name));
            }
            let (name, command) = cmd
                .rest
                .split_first()
                .ok_or_else(|| Error::Usage(crate::cli::SSH_USAGE.into()))?;
            Ok(Invocation::Ssh {
                plan: Box::new(plan(dir, &selection, None)?),
                name: name.clone(),
                command: command.to_vec(),
            })
        }
        action => {
            let selection = selection(cmd, dir, args)?;
            act(
                dir,
                action,
                selection,
                &options,
                args.dry_run,
                args.replicas,
            )
            .and_then(|inv| check_keep_boot_volume(inv, args.keep_boot_volume))
            .and_then(|inv| check_soft(inv, args.soft, args.soft_timeout.map(|d| d.0)))
            .and_then(|inv| check_events(inv, args.events))
        }
    }
}

/// Loads the project and spec the words name (each once), with `--replicas` applied.
fn selection(cmd: &Command, dir: &ConfigDir, args: &Args) -> Result<Selection, Error> {
    let name = cmd
        .project
        .as_deref()
        .ok_or_else(|| Error::Usage("no project given".into()))?;
    let project = dir.project(name)?;
    let spec = match cmd.spec.as_deref() {
        Some(s) => {
            let mut spec = dir.spec(s, project.kind())?;
            if let Some(r) = args.replicas {
                spec.replicas = r;
            }
            Some(spec)
        }
        None => None,
    };
    Ok(Selection {
        project,
        spec,
        target: args.target.clone(),
    })
}

/// The invocation of a provider action (or `plan`) on `selection`.
fn act(
    dir: &ConfigDir,
    action: Action,
    selection: Selection,
    options: &RunOptions,
    dry_run: bool,
    replicas: Option<u32>,
) -> Result<Invocation, Error> {
    let options = options.clone();
    let kind = selection.project.kind();
    if action != Action::Plan && !crate::provider::capability(kind).supports(action) {
        return Err(Error::Usage(format!(
            "`{action}` is not something `{kind}` does"
        )));
    }
    if let Some(spec) = selection.spec.as_ref().filter(|s| s.select.is_some()) {
        return match action {
            Action::Plan => Ok(Invocation::Selected { action, selection }),
            _ if dry_run => Ok(Invocation::Selected { action, selection }),
            Action::Status => Ok(Invocation::Status {
                selection,
                options: StatusOptions::default(),
            }),
            Action::Start | Action::Stop => Ok(Invocation::Power {
                power: Power::of(action).unwrap_or(Power::Start),
                selection,
                options,
            }),
            other => Err(refused_on_select(other, &spec.name)),
        };
    }
    Ok(match action {
        Action::Plan => Invocation::Plan(Box::new(plan(dir, &selection, replicas)?)),
        Action::Deploy if dry_run => Invocation::Plan(Box::new(plan(dir, &selection, replicas)?)),
        Action::Deploy => {
            prepare_keys(&selection)?;
            Invocation::Deploy {
                plan: Box::new(plan(dir, &selection, replicas)?),
                options,
            }
        }
        Action::Adopt => {
            let id = selection
                .target
                .clone()
                .filter(|t| t.starts_with("ocid1.instance."))
                .ok_or_else(|| {
                    Error::Usage(
                        "usage: vauto PROJECT SPEC adopt --target OCID (the instance's OCID, `ocid1.instance.…`)"
                            .into(),
                    )
                })?;
            if dry_run {
                return Err(Error::Usage(
                    "`adopt` has no --dry-run: it asks before it changes anything (answer no)"
                        .into(),
                ));
            }
            // The plan's instance names, all of them: `--target` names the OCID here.
            let all = Selection {
                target: None,
                ..selection
            };
            Invocation::Adopt {
                plan: Box::new(plan(dir, &all, replicas)?),
                id,
                options,
            }
        }
        action if dry_run => Invocation::DryRun { action, selection },
        Action::Status => Invocation::Status {
            selection,
            options: StatusOptions::default(),
        },
        Action::Delete => Invocation::Delete {
            selection,
            keep_boot_volume: false,
            options,
        },
        Action::Start | Action::Stop => Invocation::Power {
            power: Power::of(action).unwrap_or(Power::Start),
            selection,
            options,
        },
        other => {
            return Err(Error::Usage(format!("`{other}` is not a provider action")));
        }
    })
}

/// Why `action` does not run on the select spec `spec`.
pub(crate) fn refused_on_select(action: Action, spec: &str) -> Error {
    Error::Usage(format!(
        "`{action}` is refused for spec `{spec}`: it selects existing resources (`select:`), which vauto never creates, deletes or retags; it runs `start`, `stop`, `status` and `plan` (a spec without `select:` describes instances to deploy)"
    ))
}

/// `--soft` and `--soft-timeout` go with `stop` on a provider with a soft stop (OCI).
fn check_soft(inv: Invocation, soft: bool, timeout: Option<Duration>) -> Result<Invocation, Error> {
    if !soft {
        return match timeout {
            Some(_) => Err(Error::Usage(
                "--soft-timeout goes with `stop --soft`".into(),
            )),
            None => Ok(inv),
        };
    }
    match inv {
        Invocation::Power {
            power: Power::Stop,
            selection,
            options,
        } => {
            if selection.project.kind() != ProviderKind::Oci {
                return Err(Error::Usage(format!(
                    "--soft applies to OCI; `{}` stop is already a guest shutdown within the VM's terminationGracePeriodSeconds",
                    selection.project.kind()
                )));
            }
            Ok(Invocation::Power {
                power: Power::SoftStop {
                    fallback: timeout.unwrap_or(DEFAULT_SOFT_TIMEOUT),
                },
                selection,
                options,
            })
        }
        Invocation::DryRun { .. } | Invocation::Selected { .. } if inv.action() == Action::Stop => {
            Ok(inv)
        }
        other => Err(Error::Usage(format!(
            "--soft goes with `stop`, not `{}`",
            other.action()
        ))),
    }
}

/// How long `stop --soft` waits for the guest before STOP.
const DEFAULT_SOFT_TIMEOUT: Duration = Duration::from_secs(300);

/// `--keep-boot-volume` goes with `delete` on a provider that can keep a boot disk.
fn check_keep_boot_volume(inv: Invocation, keep: bool) -> Result<Invocation, Error> {
    if !keep {
        return Ok(inv);
    }
    match inv {
        Invocation::Delete {
            selection, options, ..
        } => {
            let kind = selection.project.kind();
            if !crate::provider::capability(kind).keeps_boot_volume {
                return Err(Error::Usage(format!(
                    "--keep-boot-volume applies to OCI only; `{kind}` deletes the DataVolume with its VM"
                )));
            }
            Ok(Invocation::Delete {
                selection,
                keep_boot_volume: true,
                options,
            })
        }
        other => Err(Error::Usage(format!(
            "--keep-boot-volume goes with `delete`, not `{}`",
            other.action()
        ))),
    }
}

/// `--events N` goes with `status` on a provider that keeps events (KubeVirt).
fn check_events(inv: Invocation, events: Option<usize>) -> Result<Invocation, Error> {
    let Some(n) = events else {
        return Ok(inv);
    };
    match inv {
        Invocation::Status { selection, .. } => {
            let kind = selection.project.kind();
            if !crate::provider::capability(kind).events {
                return Err(Error::Usage(format!(
                    "--events applies to KubeVirt; `{kind}` keeps no events about an instance (its state and addresses are all `status` shows)"
                )));
            }
            Ok(Invocation::Status {
                selection,
                options: StatusOptions { events: n },
            })
        }
        // `status --dry-run` contacts nothing, so it reads no events either.
        Invocation::DryRun { .. } | Invocation::Selected { .. }
            if inv.action() == Action::Status =>
        {
            Ok(inv)
        }
        other => Err(Error::Usage(format!(
            "--events goes with `status`, not `{}`",
            other.action()
        ))),
    }
}

/// The plan of the selection's spec (`--replicas` is already applied to it).
fn plan(dir: &ConfigDir, selection: &Selection, replicas: Option<u32>) -> Result<Plan, Error> {
    let spec = selection
        .spec
        .as_ref()
        .ok_or_else(|| Error::Usage("this action needs a spec".into()))?;
    let opts = PlanOptions {
        replicas,
        target: selection.target.clone(),
    };
    selection.project.need_subnet()?;
    let mut plan = crate::plan::build(dir, &selection.project, spec, &opts)?;
    if plan.project.kind() == ProviderKind::Oci {
        plan.notes
            .extend(crate::provider::oci::resources::plan_notes(&plan));
    }
    Ok(plan)
}

/// Creates the `ssh.generate` key pair before planning, so the plan carries its public key.
fn prepare_keys(selection: &Selection) -> Result<(), Error> {
    let Some(spec) = &selection.spec else {
        return Ok(());
    };
    if let Some(path) = crate::plan::generated_key_path(spec) {
        let comment = format!("vauto {}/{}", selection.project.name, spec.name);
        crate::plan::ensure_generated(&path, &comment).map_err(Error::Other)?;
    }
    Ok(())
}

/// The directory `--log-dir` or the project's `logs.dir` names, if any.
pub(crate) fn log_dir(settings: &Settings, project: Option<&Project>) -> Option<(PathBuf, u32)> {
    let keep = project.map_or(30, |p| p.logs.keep_days);
    match (&settings.log_dir, project) {
        (Some(d), _) => Some((d.clone(), keep)),
        (None, Some(p)) => Some((settings.dir.root.join(Path::new(p.logs.dir.as_str())), keep)),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// Stage 2 over the repository's own examples (no network, no state written).
    fn config(line: &str) -> Result<Config, Error> {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut words = vec!["vauto", "--config-dir", root];
        words.extend(line.split_whitespace());
        let args = Args::try_parse_from(words).map_err(|e| Error::Usage(e.to_string()))?;
        Config::from_args(&args)
    }

    fn usage(line: &str) -> String {
        match config(line) {
            Err(Error::Usage(m)) => m,
            other => panic!("{line}: expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn plan_is_loaded_once_with_the_replicas_override() {
        let c = config("lab web plan --replicas 3 -o yaml").unwrap();
        assert_eq!(c.settings.output, Format::Yaml);
        let Invocation::Plan(plan) = &c.invocation else {
            panic!("{:?}", c.invocation)
        };
        let names: Vec<&str> = plan.instances.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["web-01", "web-02", "web-03"]);
        assert_eq!(plan.spec.replicas, 3);
        assert!(
            plan.spec.source.is_some(),
            "the source is kept for positions"
        );
    }

    #[test]
    fn options_are_checked_before_anything_runs() {
        assert_eq!(
            usage("lab web delete --keep-boot-volume"),
            "--keep-boot-volume applies to OCI only; `kubevirt` deletes the DataVolume with its VM"
        );
        assert_eq!(
            usage("demo-oci a1 status --keep-boot-volume"),
            "--keep-boot-volume goes with `delete`, not `status`"
        );
        let c = config("demo-oci a1 delete --keep-boot-volume --yes --parallel 0").unwrap();
        let Invocation::Delete {
            keep_boot_volume,
            options,
            selection,
        } = &c.invocation
        else {
            panic!("{:?}", c.invocation)
        };
        assert!(*keep_boot_volume && options.yes);
        assert_eq!(
            options.parallel, 1,
            "--parallel 0 still works one at a time"
        );
        assert_eq!(selection.spec_name(), Some("a1"));
        assert_eq!(c.invocation.pace(), Pace::OneByOne);
    }

    #[test]
    fn parallel_1_sends_one_request_at_a_time() {
        let pace = |line: &str| config(line).unwrap().invocation.pace();
        assert_eq!(
            pace("demo-kubevirt web deploy --parallel 1"),
            Pace::OneByOne
        );
        assert_eq!(
            pace("demo-kubevirt web delete --yes --parallel 1"),
            Pace::OneByOne
        );
        assert_eq!(pace("demo-kubevirt web stop --parallel 1"), Pace::OneByOne);
        assert_eq!(pace("demo-kubevirt web deploy"), Pace::AtOnce, "default 8");
        assert_eq!(pace("demo-kubevirt web deploy --parallel 2"), Pace::AtOnce);
        // Reading actions have no --parallel to honour.
        assert_eq!(pace("demo-kubevirt web status"), Pace::AtOnce);
    }

    #[test]
    fn replicas_on_the_command_line_have_the_spec_limit() {
        assert_eq!(
            usage("lab web plan --replicas 10000000"),
            "--replicas 10000000 is too many: at most 999"
        );
        assert!(config("demo-oci a1 plan --replicas 999").is_ok());
    }

    #[test]
    fn dry_runs_and_power_actions_carry_their_selection() {
        let c = config("lab status --dry-run --target web-02").unwrap();
        let Invocation::DryRun { action, selection } = &c.invocation else {
            panic!("{:?}", c.invocation)
        };
        assert_eq!(*action, Action::Status);
        assert_eq!(
            selection.selector(),
            "v-auto/managed=true,v-auto/project=lab,v-auto/name=web-02"
        );
        let c = config("lab web stop --wait").unwrap();
        assert!(matches!(
            &c.invocation,
            Invocation::Power { power: Power::Stop, options, .. } if options.wait
        ));
    }

    #[test]
    fn a_select_spec_plans_by_reading_and_refuses_what_would_create_or_delete() {
        let c = config("demo-oci dev-lights plan").unwrap();
        assert!(matches!(
            &c.invocation,
            Invocation::Selected { action: Action::Plan, selection } if selection.scope().select.is_some()
        ));
        let c = config("demo-oci dev-lights stop --soft --soft-timeout 2m").unwrap();
        assert!(matches!(
            &c.invocation,
            Invocation::Power { power: Power::SoftStop { fallback }, .. } if *fallback == Duration::from_secs(120)
        ));
        for action in ["deploy", "delete --yes", "ssh dev-web"] {
            let word = action.split(' ').next().unwrap_or_default();
            assert_eq!(
                usage(&format!("demo-oci dev-lights {action}")),
                format!(
                    "`{word}` is refused for spec `dev-lights`: it selects existing resources (`select:`), which vauto never creates, deletes or retags; it runs `start`, `stop`, `status` and `plan` (a spec without `select:` describes instances to deploy)"
                )
            );
        }
        let dir = ConfigDir::open(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let project = dir.project("demo-oci").unwrap();
        let options = run_options(&Args::try_parse_from(["vauto"]).unwrap());
        let inv =
            Invocation::scheduled(&dir, &project, "dev-lights", Action::Stop, &options).unwrap();
        let Invocation::Power { selection, .. } = inv else {
            panic!("{inv:?}")
        };
        assert_eq!(
            selection.scope().select.map(|s| s.describe()).as_deref(),
            Some(
                "tags env=dev; kinds instance,instance_pool,autonomous_database,container_instance"
            )
        );
    }

    #[test]
    fn a_schedule_builds_its_invocation_without_a_command_line() {
        let dir = ConfigDir::open(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let project = dir.project("lab").unwrap();
        let options = RunOptions {
            parallel: 4,
            wait: false,
            wait_lock: true,
            yes: false,
            max_attempts: None,
            deadline: None,
            hunt: false,
        };
        let inv = Invocation::scheduled(&dir, &project, "web", Action::Stop, &options).unwrap();
        let Invocation::Power { options, .. } = inv else {
            panic!("{inv:?}")
        };
        assert!(options.yes && !options.wait_lock && options.parallel == 4);
    }
}
