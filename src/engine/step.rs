//! Retrying one instance's step (delete, start, stop) with the same policy as deploy: a
//! transient or throttled error — and, for `start`, a capacity error — is tried again after
//! the policy's wait; anything else, or the end of attempts or of the deadline, gives up.

use tokio::time::Instant;

use super::retry::{Decision, RetryPolicy, RetryState};
use crate::model::{ErrorClass, ErrorCode, Event, Observer, PlacementInfo, ProviderError};

/// How a retried step tells the observers about its tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Visibility {
    /// As launch attempts (journal, notifications, metrics): `start`, which hunts capacity
    /// like a deploy.
    Attempts,
    /// As notes only: `delete` and `stop` retry past blips, they do not hunt.
    Notes,
}

/// One instance's retries of one step.
pub(super) struct StepRetry<'a> {
    state: RetryState,
    /// The run's start: `--deadline` bounds the whole run.
    run_started: Instant,
    instance: &'a str,
    what: &'a str,
    visibility: Visibility,
    observer: &'a dyn Observer,
}

impl<'a> StepRetry<'a> {
    /// Retries of `what` (`delete`, `start`) for `instance`.
    pub(super) fn new(
        policy: &RetryPolicy,
        run_started: Instant,
        (instance, what): (&'a str, &'a str),
        visibility: Visibility,
        observer: &'a dyn Observer,
    ) -> StepRetry<'a> {
        StepRetry {
            state: RetryState::new(policy.clone(), fastrand::u64(..)),
            run_started,
            instance,
            what,
            visibility,
            observer,
        }
    }

    /// Counts the try about to be made (and tells the observers when tries are attempts).
    pub(super) fn start(&mut self) {
        let attempt = self.state.start_attempt();
        if self.visibility == Visibility::Attempts {
            self.observer.event(Event::AttemptStarted {
                instance: self.instance.to_string(),
                attempt,
                placement: PlacementInfo {
                    label: "-".into(),
                    zone: None,
                },
            });
        }
    }

    /// After a failed try: waits and returns `Ok` to try again, or the reason to give up.
    pub(super) async fn after(&mut self, err: &ProviderError) -> Result<(), String> {
        // A wait that ran out of time is over: acting again would start another one.
        let retryable = err.code != ErrorCode::WaitTimedOut
            && match self.visibility {
                Visibility::Attempts => matches!(
                    err.class,
                    ErrorClass::Transient | ErrorClass::Throttled | ErrorClass::Capacity
                ),
                Visibility::Notes => {
                    matches!(err.class, ErrorClass::Transient | ErrorClass::Throttled)
                }
            };
        let decision = if retryable {
            self.state.on_error(err, true, self.run_started.elapsed())
        } else {
            Decision::GiveUp(err.message.clone())
        };
        let wait = match &decision {
            Decision::RetrySame(w) | Decision::NextRound(w) => Some(*w),
            _ => None,
        };
        self.tell(err, wait);
        match (wait, decision) {
            (Some(w), _) => {
                tokio::time::sleep(w).await;
                Ok(())
            }
            (None, Decision::GiveUp(reason)) => Err(reason),
            (None, Decision::CheckThenFail(reason)) => Err(format!("limit reached: {reason}")),
            (None, _) => Err(err.message.clone()),
        }
    }

    /// Gave up because the attempts or the deadline ran out while every error was a
    /// capacity miss (or a 429/5xx waited out).
    pub(super) fn out_of_time_without_capacity(&self) -> bool {
        self.state.out_of_time_without_capacity()
    }

    /// Tries made so far.
    pub(super) fn attempts(&self) -> u64 {
        self.state.attempts()
    }

    fn tell(&self, err: &ProviderError, wait: Option<std::time::Duration>) {
        match self.visibility {
            Visibility::Attempts => self.observer.event(Event::AttemptFailed {
                instance: self.instance.to_string(),
                attempt: self.state.attempts(),
                placement: PlacementInfo {
                    label: "-".into(),
                    zone: None,
                },
                class: err.class,
                message: err.message.clone(),
                next_try_in: wait,
            }),
            Visibility::Notes => {
                if let Some(w) = wait {
                    self.observer.event(Event::Note {
                        message: format!(
                            "{} of `{}` failed ({}: {}); trying again in {}s",
                            self.what,
                            self.instance,
                            err.class,
                            err.message,
                            w.as_secs().max(1)
                        ),
                    });
                }
            }
        }
    }
}
