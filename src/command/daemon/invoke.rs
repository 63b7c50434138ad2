//! How the daemon starts an action: an [`Invocation`] built from the loaded project, run
//! through `actions::run_with` like the command line's.
//!
//! The one place that knows the mechanism, so the scheduler and the hunts do not.

use std::time::Duration;

use super::super::actions::{Ended, Hooks, run_with as run_action};
use super::super::{Invocation, RunOptions};
use super::Ctx;
use super::metrics::Metrics;
use crate::config::Project;
use crate::error::Error;
use crate::model::Action;
use crate::ops::notify::Notifier;

/// How long the action may keep trying for capacity.
#[derive(Clone, Copy)]
pub(super) enum Deadline {
    /// Whatever the daemon's own command line says.
    Inherit,
    /// The command line's `--deadline`, else this.
    Default(Duration),
    /// This, whatever the command line says.
    Exactly(Duration),
}

/// One action of the daemon, ready to run (again, while a lock is held elsewhere).
pub(super) struct Call<'a> {
    ctx: &'a Ctx,
    /// The loaded action, or why it could not be loaded (a spec broken since the start).
    invocation: Result<Invocation, String>,
    hooks: Hooks<'a>,
}

impl<'a> Call<'a> {
    /// `action` on `spec` of `project`, reporting to `metrics` and `notifier`; as if typed
    /// with `--yes` (the schedule is the confirmation) and without `--wait-lock` (the daemon
    /// waits for locks itself, without blocking a runtime thread).
    pub(super) fn new(
        ctx: &'a Ctx,
        (project, spec): (&Project, &str),
        action: Action,
        deadline: Deadline,
        (metrics, notifier): (&'a Metrics, &'a Notifier),
    ) -> Call<'a> {
        let deadline = match deadline {
            Deadline::Inherit => ctx.options.deadline,
            Deadline::Default(d) => ctx.options.deadline.or(Some(d)),
            Deadline::Exactly(d) => Some(d),
        };
        let options = RunOptions {
            deadline,
            ..ctx.options.clone()
        };
        let invocation = Invocation::scheduled(&ctx.settings.dir, project, spec, action, &options)
            .map_err(|e| e.to_string());
        let hooks = Hooks {
            observer: Some(metrics),
            notifier: Some(notifier),
            announce: false,
        };
        Call {
            ctx,
            invocation,
            hooks,
        }
    }

    /// Runs the action once; how it ended.
    pub(super) async fn run(&self) -> Result<Ended, Error> {
        match &self.invocation {
            Ok(invocation) => run_action(&self.ctx.settings, invocation, self.hooks).await,
            Err(e) => Err(Error::Other(e.clone())),
        }
    }
}
