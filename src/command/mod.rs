//! The third stage: run the action the arguments name, over the loaded configuration.

mod actions;
mod connect;
pub(crate) mod daemon;
pub(crate) mod invocation;
mod man;
mod plan;
mod report;
mod sim;
mod ssh;
mod target;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

pub(crate) use invocation::{Config, Invocation, RunOptions, Selection, Settings};

use crate::cli::Args;
use crate::config::Project;
use crate::error::{Error, exit};

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
    crate::ui::stdout::exit_quietly_on_broken_pipe();
    crate::ops::logging::init(args.verbose, args.quiet);
    crate::tls::install_crypto_provider();
    // The daemon handles signals itself: it finishes the action in flight before exiting;
    // `sim serve` too: Ctrl-C is how it ends, not an interruption.
    let daemon = args.resolve().is_ok_and(|c| {
        matches!(
            c.action,
            crate::model::Action::Daemon | crate::model::Action::Sim
        )
    });
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
pub(crate) fn config_dir(explicit: Option<&Path>) -> PathBuf {
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

/// Runs one command: stage 2 (check and load) then stage 3 (act); returns the exit code
/// of a run that completed.
pub(crate) async fn run(args: Args) -> Result<u8, Error> {
    let config = Config::from_args(&args)?;
    drop(args);
    config.execute().await
}

impl Config {
    /// Stage 3: runs the invocation.
    pub(crate) async fn execute(&self) -> Result<u8, Error> {
        let settings = &self.settings;
        if settings.log_dir.is_some() {
            open_logs(settings, None);
        }
        match &self.invocation {
            Invocation::Validate => validate::validate(settings),
            Invocation::Plan(plan) => plan::plan(settings, plan),
            Invocation::Report {
                project,
                spec,
                since,
            } => report::report(settings, project.as_deref(), spec.as_deref(), *since),
            Invocation::Daemon { .. } => {
                // The daily report is the journal's summary of the period since the last one.
                let summary = |dir: &Path,
                               since: chrono::DateTime<chrono::Utc>,
                               scope: daemon::DailyScope<'_>| {
                    let period = (chrono::Utc::now() - since).to_std().unwrap_or_default();
                    report::daily_summary(dir, period, scope.project, scope.tz)
                        .map_err(|e| e.to_string())
                };
                daemon::run_with(settings, &self.invocation, Some(&summary)).await
            }
            Invocation::Completions(shell) => completions(*shell),
            Invocation::SimServe {
                kind,
                listen,
                faults,
                namespaces,
            } => {
                sim::serve(
                    &settings.state_dir,
                    *kind,
                    *listen,
                    faults,
                    namespaces.clone(),
                )
                .await
            }
            Invocation::Ssh { .. } => actions::run_ssh(settings, &self.invocation).await,
            invocation => actions::run(settings, invocation).await,
        }
    }
}

/// Starts the daily log files: `--log-dir`, else the project's `logs.dir` (relative to the
/// config directory). A directory that cannot be created is a warning, not a failed run.
pub(crate) fn open_logs(settings: &Settings, project: Option<&Project>) {
    let Some((dir, keep_days)) = invocation::log_dir(settings, project) else {
        return;
    };
    if let Err(e) = crate::ops::logging::open_log_dir(&dir, keep_days) {
        tracing::warn!("cannot write log files to `{}`: {e}", dir.display());
    }
}

fn completions(shell: clap_complete::Shell) -> Result<u8, Error> {
    let mut cmd = <Args as CommandFactory>::command();
    // clap_complete panics on a write error; render first, then write like every other output.
    let mut text = Vec::new();
    clap_complete::generate(shell, &mut cmd, "vauto", &mut text);
    crate::ui::stdout::write(&String::from_utf8_lossy(&text));
    Ok(exit::OK)
}
