//! How the daemon starts an action: as if typed on the command line, through `actions::run_with`.
//!
//! The one place that knows the mechanism, so that it can be swapped without touching the
//! scheduler or the hunts.

use std::time::Duration;

use super::super::Ctx;
use super::super::actions::{Hooks, run_with as run_action};
use super::metrics::Metrics;
use crate::cli::{Action, Command, Format};
use crate::config::Dur;
use crate::error::Error;
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
pub(super) struct Invocation<'a> {
    sub: Ctx,
    hooks: Hooks<'a>,
}

impl<'a> Invocation<'a> {
    /// `action` on `project`/`spec`, reporting to `metrics` and `notifier`.
    pub fn new(
        ctx: &Ctx,
        (project, spec): (&str, &str),
        action: Action,
        deadline: Deadline,
        (metrics, notifier): (&'a Metrics, &'a Notifier),
    ) -> Invocation<'a> {
        let mut sub = sub_ctx(ctx, project, spec, action);
        match deadline {
            Deadline::Inherit => {}
            Deadline::Default(d) if sub.args.deadline.is_none() => {
                sub.args.deadline = Some(Dur(d));
            }
            Deadline::Default(_) => {}
            Deadline::Exactly(d) => sub.args.deadline = Some(Dur(d)),
        }
        let hooks = Hooks {
            observer: Some(metrics),
            notifier: Some(notifier),
            announce: false,
        };
        Invocation { sub, hooks }
    }

    /// Runs the action once; the exit code as on the command line.
    pub async fn run(&self) -> Result<u8, Error> {
        run_action(&self.sub, self.hooks).await
    }
}

/// A context for one action of the daemon, as if typed on the command line.
fn sub_ctx(ctx: &Ctx, project: &str, spec: &str, action: Action) -> Ctx {
    let mut args = ctx.args.clone();
    args.words.clear();
    args.project = None;
    args.spec = None;
    args.target = None;
    args.replicas = None;
    args.dry_run = false;
    // Nobody is there to answer a prompt; the schedule is the confirmation.
    args.yes = true;
    // The daemon waits for locks itself, without blocking a runtime thread.
    args.wait_lock = false;
    args.output = Format::Table;
    Ctx {
        args,
        cmd: Command {
            project: Some(project.to_string()),
            spec: Some(spec.to_string()),
            action,
            rest: Vec::new(),
        },
        dir: ctx.dir.clone(),
        state_dir: ctx.state_dir.clone(),
    }
}
