//! The third stage: run the action the arguments name, over the loaded configuration.

mod actions;
mod connect;
pub mod daemon;
mod man;
mod plan;
mod report;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Action, Args, Command};
use crate::config::{ConfigDir, Project, Spec};
use crate::error::{Error, exit};

/// Everything an action needs from the command line and the environment.
pub struct Ctx {
    /// Parsed arguments.
    pub args: Args,
    /// The resolved positional words.
    pub cmd: Command,
    /// The configuration directory.
    pub dir: ConfigDir,
    /// The state directory (`.vauto/`).
    pub state_dir: PathBuf,
}

impl Ctx {
    /// Loads the project named on the command line.
    pub fn project(&self) -> Result<Project, Error> {
        let name = self
            .cmd
            .project
            .as_deref()
            .ok_or_else(|| Error::Usage("no project given".into()))?;
        Ok(self.dir.project(name)?)
    }

    /// Loads the spec named on the command line, checked for `project`'s provider.
    pub fn spec(&self, project: &Project) -> Result<Option<Spec>, Error> {
        match self.cmd.spec.as_deref() {
            None => Ok(None),
            Some(name) => {
                let mut spec = self.dir.spec(name, project.provider)?;
                if let Some(r) = self.args.replicas {
                    spec.replicas = r;
                }
                Ok(Some(spec))
            }
        }
    }
}

/// `main`: parse, run, print the error, map it to an exit code.
pub fn main_entry() -> ExitCode {
    // `vauto __man` (hidden): the man page for bundle.sh; checked before clap so it is
    // neither an action nor listed in `--help`.
    let mut argv = std::env::args_os().skip(1);
    if argv.next().is_some_and(|w| w == man::MAN_WORD) && argv.next().is_none() {
        return ExitCode::from(man::print());
    }
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    crate::ops::logging::init(args.verbose, args.quiet);
    // One TLS crypto provider for reqwest and kube (ring: builds statically with musl).
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The daemon handles signals itself: it finishes the action in flight before exiting.
    let daemon = args
        .resolve()
        .is_ok_and(|c| c.action == crate::cli::Action::Daemon);
    // One-shot commands wait on the network, not the CPU: a single-threaded runtime keeps
    // their memory small (no worker threads, no per-thread allocator arenas); the long-lived
    // daemon keeps the worker pool.
    let mut builder = if daemon {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let result = rt.block_on(async {
        if daemon {
            return run(args).await;
        }
        tokio::select! {
            r = run(args) => r,
            _ = shutdown_signal() => Err(Error::Interrupted),
        }
    });
    // Do not wait for stray tasks (e.g. a simulator) on the way out.
    rt.shutdown_background();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            for line in e.lines() {
                eprintln!("{line}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The configuration directory: `--config-dir`, else the current directory when it has
/// `projects/` or `specs/`, else the binary's directory when it has them, else the current one.
pub fn config_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(d) = explicit {
        return d.to_path_buf();
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let has_config = |d: &Path| d.join("projects").is_dir() || d.join("specs").is_dir();
    if has_config(&cwd) {
        return cwd;
    }
    if let Some(bin_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
        && has_config(&bin_dir)
    {
        return bin_dir;
    }
    cwd
}

/// Runs one command; returns the exit code for a run that completed.
pub async fn run(args: Args) -> Result<u8, Error> {
    let cmd = args.resolve().map_err(Error::Usage)?;
    if cmd.action == Action::Completions {
        return completions(&cmd.rest[0]);
    }
    let root = config_dir(args.config_dir.as_deref());
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
    let ctx = Ctx {
        args,
        cmd,
        dir,
        state_dir,
    };
    if ctx.args.log_dir.is_some() {
        open_logs(&ctx, None);
    }
    match ctx.cmd.action {
        Action::Validate => validate::validate(&ctx),
        Action::Plan => plan::plan(&ctx),
        Action::Deploy if ctx.args.dry_run => plan::plan(&ctx),
        Action::Deploy | Action::Delete | Action::Status | Action::Start | Action::Stop => {
            actions::run(&ctx).await
        }
        Action::Report => report::report(&ctx),
        Action::Daemon => {
            // The daily report is the journal's summary of the period since the last one.
            let summary = |dir: &Path, since: chrono::DateTime<chrono::Utc>| {
                let period = (chrono::Utc::now() - since).to_std().unwrap_or_default();
                report::daily_summary(dir, period).map_err(|e| e.to_string())
            };
            daemon::run_with(&ctx, Some(&summary)).await
        }
        Action::Completions => Ok(exit::OK),
    }
}

/// Starts the daily log files: `--log-dir`, else the project's `logs.dir` (relative to the
/// config directory). A directory that cannot be created is a warning, not a failed run.
pub fn open_logs(ctx: &Ctx, project: Option<&Project>) {
    let logs = project.map(|p| p.logs.clone()).unwrap_or_default();
    let dir = match &ctx.args.log_dir {
        Some(d) => d.clone(),
        None if project.is_some() => ctx.dir.root.join(logs.dir.as_str()),
        None => return,
    };
    if let Err(e) = crate::ops::logging::open_log_dir(&dir, logs.keep_days) {
        tracing::warn!("cannot write log files to `{}`: {e}", dir.display());
    }
}

fn completions(shell: &str) -> Result<u8, Error> {
    let shell: clap_complete::Shell = shell.parse().map_err(|_| {
        Error::Usage(format!(
            "unknown shell `{shell}`: expected bash, zsh or fish"
        ))
    })?;
    let mut cmd = <Args as CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "vauto", &mut std::io::stdout());
    Ok(exit::OK)
}
