//! Command-line arguments (clap): `vauto [PROJECT] [SPEC] ACTION [OPTIONS]`.

use std::path::PathBuf;

use clap::Parser;

use crate::config::Dur;
pub(crate) use crate::model::Action;
pub(crate) use crate::ui::output::Format;

const EXAMPLES: &str = "\
Actions:
  deploy      create every missing resource of the spec's instances
  delete      delete the spec's managed resources (all, or --target NAME)
  status      table of the instances: state, IPs, placement, guest OS, disk, age, last event;
              --events N: each instance's newest N events after it
  start/stop  power actions on existing instances
  ssh         log in to one instance: vauto PROJECT SPEC ssh NAME [-- COMMAND...]
  adopt       make one existing OCI instance vauto's: vauto P S adopt --target OCID
  plan        print exactly what deploy would send; touches nothing, needs no credentials
  daemon      run the schedules of all specs and the daily report, until stopped
  report      attempt statistics from the journal (default: last 24 h)
  validate    load and check every project, spec and template; no network
  completions print shell completions: vauto completions bash|zsh|fish
  sim         serve a built-in simulator for kubectl, the OCI CLI and vauto:
              vauto sim serve kubevirt|oci [--listen ADDR] [--faults ...]

Examples:
  vauto demo-oci a1 deploy                 deploy against the built-in OCI simulator
  vauto lab web deploy --replicas 2 --wait
  vauto lab web status --target web-01
  vauto lab web plan -o yaml | oc apply -f -
  vauto lab status                         every spec of project lab
  vauto lab web delete --yes
  vauto validate";

/// vauto: deploy, delete and report virtual machines on KubeVirt/OpenShift and OCI from YAML.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "vauto",
    version = crate::VERSION_LINE,
    about = "Deploy, delete and report virtual machines on KubeVirt/OpenShift and OCI from YAML",
    override_usage = "vauto [PROJECT] [SPEC] ACTION [OPTIONS]\n       vauto --project P --spec S ACTION [OPTIONS]",
    after_help = EXAMPLES
)]
pub(crate) struct Args {
    /// [PROJECT] [SPEC] ACTION, then the action's own words (e.g. `completions bash`)
    #[arg(value_name = "WORDS", num_args = 0..)]
    pub words: Vec<String>,
    /// Project name (instead of the first word)
    #[arg(long, short = 'p')]
    pub project: Option<String>,
    /// Spec name (instead of the second word)
    #[arg(long, short = 's')]
    pub spec: Option<String>,
    /// Number of replicas (overrides the spec)
    #[arg(long)]
    pub replicas: Option<u32>,
    /// Act on some instances: a name (web-01), an OCI instance OCID or a glob (web-0*);
    /// adopt: the OCID of the instance to adopt
    #[arg(long, short = 't')]
    pub target: Option<String>,
    /// Print what would be sent; touch nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Output format
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Wait until instances are running (deploy) or in the requested state (start/stop);
    /// a wait ends at once, failed, when waiting cannot help (unschedulable, image pull or
    /// disk import errors, a terminated instance) and lasts at most 30m unless --deadline
    /// says otherwise
    #[arg(long)]
    pub wait: bool,
    /// Give up after N launch attempts per instance (0 = forever; overrides retry.max_attempts)
    #[arg(long)]
    pub max_attempts: Option<u64>,
    /// Give up after this long, e.g. 30m or 12h: bounds the whole run, waits included
    /// (waits default to 30m)
    #[arg(long)]
    pub deadline: Option<Dur>,
    /// Instances worked on at once; 1 also sends one request at a time
    #[arg(long, default_value_t = 8)]
    pub parallel: usize,
    /// Do not ask for confirmation (delete); accepted by every action
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// OCI delete: keep the boot volume
    #[arg(long)]
    pub keep_boot_volume: bool,
    /// OCI stop: ask the guest to shut down (SOFTSTOP) and power off with STOP after
    /// --soft-timeout if it has not
    #[arg(long)]
    pub soft: bool,
    /// How long a soft stop waits for the guest before STOP, e.g. 2m (default 5m)
    #[arg(long)]
    pub soft_timeout: Option<Dur>,
    /// KubeVirt status: each instance's newest N events, listed after the table (default 1:
    /// the LAST EVENT column; 0: none, and no events are read)
    #[arg(long, value_name = "N")]
    pub events: Option<usize>,
    /// Wait for another run's lock instead of exiting with code 3
    #[arg(long)]
    pub wait_lock: bool,
    /// More detail on stderr (repeat for more)
    #[arg(long, short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and the summary
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Directory with projects/, specs/ and templates/ (default: the current directory, then the binary's)
    #[arg(long, env = "VAUTO_CONFIG_DIR")]
    pub config_dir: Option<PathBuf>,
    /// State directory (default: .vauto/ beside the config)
    #[arg(long, env = "VAUTO_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// report: how far back, e.g. 24h, 7d or 2026-11-01
    #[arg(long)]
    pub since: Option<String>,
    /// daemon: run what is due now, then exit (for cron)
    #[arg(long)]
    pub once: bool,
    /// daemon: serve /healthz and /metrics on this address, e.g. 127.0.0.1:9464;
    /// sim serve: the simulator's address (default 127.0.0.1:0, a free port)
    #[arg(long)]
    pub listen: Option<String>,
    /// sim serve: injected faults, e.g. throttle=0.1,error=0.05,latency=20ms
    /// (oci also: lost_launch=0.1, auth=0.02)
    #[arg(long)]
    pub faults: Option<String>,
    /// Directory for daily log files (default: logs.dir of the project, else logs/)
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
}

/// The positional words resolved: project, spec, action and the action's extra words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Command {
    /// Project name.
    pub project: Option<String>,
    /// Spec name.
    pub spec: Option<String>,
    /// The action.
    pub action: Action,
    /// Words after the action (`completions bash`).
    pub rest: Vec<String>,
}

/// `deploy, delete, ...`: every action word, for messages.
fn action_words() -> String {
    Action::ALL.map(Action::as_str).join(", ")
}

impl Args {
    /// Resolves `[PROJECT] [SPEC] ACTION` (or the flag forms) into a [`Command`].
    pub(crate) fn resolve(&self) -> Result<Command, String> {
        let (pos, action) = self.action()?;
        let before = &self.words[..pos];
        let mut rest: Vec<String> = self.words[pos + 1..].to_vec();
        if before.len() > 2 {
            return Err(format!(
                "too many words before `{}`: expected [PROJECT] [SPEC] {}",
                action.as_str(),
                action.as_str()
            ));
        }
        let mut project = before.first().cloned();
        let mut spec = before.get(1).cloned();
        // `vauto report lab web` reads naturally too.
        if action == Action::Report && project.is_none() && !rest.is_empty() {
            project = Some(rest.remove(0));
            if !rest.is_empty() {
                spec = Some(rest.remove(0));
            }
        }
        self.merge_flags(&mut project, &mut spec)?;
        check_words(action, project.as_deref(), spec.as_deref(), &rest)?;
        Ok(Command {
            project,
            spec,
            action,
            rest,
        })
    }

    /// The first action word and its position, or why there is none.
    fn action(&self) -> Result<(usize, Action), String> {
        let found = self
            .words
            .iter()
            .enumerate()
            .find_map(|(pos, w)| Action::parse(w).map(|a| (pos, a)));
        found.ok_or_else(|| match self.words.last() {
            Some(w) => {
                let known: Vec<String> =
                    Action::ALL.iter().map(|a| a.as_str().to_string()).collect();
                match crate::config::did_you_mean(w, &known) {
                    Some(best) => format!("unknown action `{w}` (did you mean `{best}`?)"),
                    None => format!("no action given: expected one of {}", action_words()),
                }
            }
            None => format!("no action given: expected one of {}", action_words()),
        })
    }

    /// `--project` and `--spec` fill the words they name; both forms at once must agree.
    fn merge_flags(
        &self,
        project: &mut Option<String>,
        spec: &mut Option<String>,
    ) -> Result<(), String> {
        for (flag, word, name) in [
            ("--project", &self.project, project),
            ("--spec", &self.spec, spec),
        ] {
            if let Some(f) = word {
                if name.as_ref().is_some_and(|n| n != f) {
                    return Err(format!(
                        "{flag} `{f}` conflicts with the word `{}`",
                        name.as_deref().unwrap_or("")
                    ));
                }
                *name = Some(f.clone());
            }
        }
        Ok(())
    }
}

/// How `sim` is used.
pub(crate) const SIM_USAGE: &str = "usage: vauto sim serve kubevirt|oci [--listen 127.0.0.1:PORT] [--state-dir DIR] [--faults ...]";

/// How `ssh` is used.
pub(crate) const SSH_USAGE: &str =
    "usage: vauto PROJECT SPEC ssh NAME [-- COMMAND...] (NAME: an instance of the spec)";

/// Whether `action` has the project, spec and extra words it needs, and no others.
fn check_words(
    action: Action,
    project: Option<&str>,
    spec: Option<&str>,
    rest: &[String],
) -> Result<(), String> {
    if spec.is_some() && project.is_none() {
        return Err("--spec needs a project".into());
    }
    match action {
        // `daemon` takes a project (and spec) only as a filter: `vauto daemon --project P`.
        Action::Validate | Action::Completions | Action::Sim if project.is_some() => {
            return Err(format!("`{}` takes no PROJECT", action.as_str()));
        }
        Action::Deploy
        | Action::Start
        | Action::Stop
        | Action::Plan
        | Action::Ssh
        | Action::Adopt
            if spec.is_none() =>
        {
            return Err(format!(
                "`{}` needs a project and a spec: vauto PROJECT SPEC {}",
                action.as_str(),
                action.as_str()
            ));
        }
        Action::Delete | Action::Status if project.is_none() => {
            return Err(format!(
                "`{}` needs a project: vauto PROJECT [SPEC] {}",
                action.as_str(),
                action.as_str()
            ));
        }
        Action::Completions if rest.len() != 1 => {
            return Err("usage: vauto completions bash|zsh|fish".into());
        }
        Action::Sim if rest.len() != 2 || rest[0] != "serve" => {
            return Err(SIM_USAGE.into());
        }
        Action::Ssh if rest.is_empty() => {
            return Err(SSH_USAGE.into());
        }
        _ => {}
    }
    if !matches!(action, Action::Completions | Action::Sim | Action::Ssh) && !rest.is_empty() {
        return Err(format!(
            "unexpected words after `{}`: {}",
            action.as_str(),
            rest.join(" ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Result<Command, String> {
        let mut words = vec!["vauto"];
        words.extend(line.split_whitespace());
        Args::try_parse_from(words)
            .map_err(|e| e.to_string())?
            .resolve()
    }

    #[test]
    fn positional_and_flag_forms_agree() {
        let a = cmd("lab web deploy --replicas 2").unwrap();
        let b = cmd("--project lab --spec web deploy").unwrap();
        assert_eq!(a.project.as_deref(), Some("lab"));
        assert_eq!(a.spec.as_deref(), Some("web"));
        assert_eq!(a.action, Action::Deploy);
        assert_eq!((a.project, a.spec, a.action), (b.project, b.spec, b.action));
    }

    #[test]
    fn project_only_status_and_bare_validate() {
        let s = cmd("lab status").unwrap();
        assert_eq!(
            (s.project.as_deref(), s.spec.as_deref()),
            (Some("lab"), None)
        );
        assert_eq!(cmd("validate").unwrap().action, Action::Validate);
        assert_eq!(cmd("completions zsh").unwrap().rest, vec!["zsh"]);
    }

    #[test]
    fn usage_errors_say_what_is_expected() {
        assert!(cmd("lab web").unwrap_err().contains("no action"));
        assert!(
            cmd("lab web deplyo")
                .unwrap_err()
                .contains("did you mean `deploy`")
        );
        assert!(
            cmd("lab deploy")
                .unwrap_err()
                .contains("needs a project and a spec")
        );
        assert!(
            cmd("lab validate")
                .unwrap_err()
                .contains("takes no PROJECT")
        );
        assert!(cmd("a b c deploy").unwrap_err().contains("too many words"));
        assert!(
            cmd("lab web deploy --project other")
                .unwrap_err()
                .contains("conflicts")
        );
    }
}
