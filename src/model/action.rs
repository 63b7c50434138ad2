//! The words of vauto: its actions and its backends, each spelled in one place.

use serde::Serialize;

/// Every action vauto knows, as typed on the command line and in `schedules:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    /// Create every missing resource of the spec's instances.
    Deploy,
    /// Delete the spec's managed resources.
    Delete,
    /// Table of the instances.
    Status,
    /// Power on.
    Start,
    /// Power off.
    Stop,
    /// Print what deploy would send.
    Plan,
    /// Run the schedules until stopped.
    Daemon,
    /// Attempt statistics from the journal.
    Report,
    /// Load and check every file.
    Validate,
    /// Print shell completions.
    Completions,
    /// Run a built-in simulator standalone: `sim serve kubevirt|oci`.
    Sim,
    /// Log in to one instance: `ssh NAME [-- COMMAND...]`.
    Ssh,
    /// Put vauto's ownership tags on one existing instance: `adopt --target OCID`.
    Adopt,
}

impl Action {
    /// Every action, in the order `--help` lists them.
    pub(crate) const ALL: [Action; 13] = [
        Action::Deploy,
        Action::Delete,
        Action::Status,
        Action::Start,
        Action::Stop,
        Action::Plan,
        Action::Daemon,
        Action::Report,
        Action::Validate,
        Action::Completions,
        Action::Sim,
        Action::Ssh,
        Action::Adopt,
    ];

    /// What a provider does to the instances it manages.
    pub(crate) const ON_INSTANCES: [Action; 5] = [
        Action::Deploy,
        Action::Delete,
        Action::Status,
        Action::Start,
        Action::Stop,
    ];

    /// What OCI does: the actions on instances, and adopting one it did not create.
    pub(crate) const OCI: [Action; 6] = [
        Action::Deploy,
        Action::Delete,
        Action::Status,
        Action::Start,
        Action::Stop,
        Action::Adopt,
    ];

    /// The actions a schedule may run.
    pub(crate) const SCHEDULED: [Action; 4] =
        [Action::Start, Action::Stop, Action::Deploy, Action::Delete];

    /// The word on the command line.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Deploy => "deploy",
            Action::Delete => "delete",
            Action::Status => "status",
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Plan => "plan",
            Action::Daemon => "daemon",
            Action::Report => "report",
            Action::Validate => "validate",
            Action::Completions => "completions",
            Action::Sim => "sim",
            Action::Ssh => "ssh",
            Action::Adopt => "adopt",
        }
    }

    /// The action a word names, if any.
    pub(crate) fn parse(word: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == word)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The power actions a provider performs: the `start`/`stop` [`Action`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Power {
    /// Start a stopped instance.
    Start,
    /// Stop a running instance.
    Stop,
    /// `stop --soft`: ask the guest to shut down (OCI `SOFTSTOP`) and power off with `STOP`
    /// when it has not stopped after `fallback`.
    SoftStop {
        /// `--soft-timeout`.
        #[serde(skip)]
        fallback: std::time::Duration,
    },
}

impl Power {
    /// The power action of `action`, if it is one.
    pub(crate) fn of(action: Action) -> Option<Power> {
        match action {
            Action::Start => Some(Power::Start),
            Action::Stop => Some(Power::Stop),
            _ => None,
        }
    }

    /// The action this is.
    pub(crate) fn action(self) -> Action {
        match self {
            Power::Start => Action::Start,
            Power::Stop | Power::SoftStop { .. } => Action::Stop,
        }
    }

    /// A stop, soft or not.
    pub(crate) fn is_stop(self) -> bool {
        self.action() == Action::Stop
    }
}

/// The backend a project deploys to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ProviderKind {
    /// KubeVirt / OpenShift Virtualization through the Kubernetes API.
    Kubevirt,
    /// Oracle Cloud Infrastructure Compute.
    Oci,
}

impl ProviderKind {
    /// `kubevirt` or `oci`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Kubevirt => "kubevirt",
            ProviderKind::Oci => "oci",
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_word_parses_back() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("deploi"), None);
        assert_eq!(
            Power::of(Action::Stop).map(Power::action),
            Some(Action::Stop)
        );
        assert_eq!(Power::of(Action::Delete), None);
    }
}
