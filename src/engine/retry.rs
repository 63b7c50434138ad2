//! The retry policy as data: what to do after each failed attempt, and how long to wait.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::config::Retry;
use crate::model::{ErrorClass, ProviderError};

/// The knobs of the retry engine (from `retry:` in the project plus command-line overrides).
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    /// Wait between full rounds of capacity attempts.
    pub interval: Duration,
    /// Launch attempts before giving up; 0 = forever.
    pub max_attempts: u64,
    /// First wait after a 429.
    pub throttle_base: Duration,
    /// Longest wait after repeated 429s.
    pub throttle_max: Duration,
    /// Random extra wait, up to this much, on throttle and round waits.
    pub jitter: Duration,
    /// First wait after a transient error.
    pub transient_base: Duration,
    /// Longest wait after transient errors.
    pub transient_max: Duration,
    /// Transient errors in a row before the instance fails.
    pub transient_tries: u32,
    /// Give up when this much time has passed since the first attempt.
    pub deadline: Option<Duration>,
}

impl RetryPolicy {
    /// The policy of a project's `retry:` section.
    pub(crate) fn from_config(r: &Retry) -> RetryPolicy {
        RetryPolicy {
            interval: r.interval.0,
            max_attempts: r.max_attempts,
            throttle_base: r.throttle_base.0,
            throttle_max: r.throttle_max.0,
            jitter: r.jitter.0,
            // Transient trouble (5xx, resets) usually clears in seconds; ten tries in a row
            // span about two minutes before an instance is given up.
            transient_base: Duration::from_secs(1),
            transient_max: Duration::from_secs(30),
            transient_tries: 10,
            deadline: None,
        }
    }
}

/// What the engine does next after an attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    /// Try the next placement of this round right away.
    NextPlacement,
    /// Wait, then retry the same placement (same retry token).
    RetrySame(Duration),
    /// The round is over: wait, then start the next round.
    NextRound(Duration),
    /// What was asked is not offered at this placement: drop its zone for the rest of the
    /// run and go on with the others; with no zone or nothing left, the instance fails.
    NotHere,
    /// Stop trying: the instance fails with this reason.
    GiveUp(String),
    /// A quota is exhausted: check whether an earlier launch landed, then fail.
    CheckThenFail(String),
}

/// Per-instance retry state: counters and backoff iterators.
pub(crate) struct RetryState {
    policy: RetryPolicy,
    attempts: u64,
    throttle: backon::ExponentialBackoff,
    transient: backon::ExponentialBackoff,
    transients_in_a_row: u32,
    rng: fastrand::Rng,
    /// An error was seen that is neither a capacity miss nor a retried slow-down (429, 5xx).
    other_than_capacity: bool,
    /// The attempts or the deadline were used up.
    exhausted: bool,
}

impl RetryState {
    /// Fresh state; `seed` makes the jitter reproducible in tests.
    pub(crate) fn new(policy: RetryPolicy, seed: u64) -> RetryState {
        let throttle = ExponentialBuilder::default()
            .with_min_delay(policy.throttle_base)
            .with_max_delay(policy.throttle_max)
            .with_factor(2.0)
            .without_max_times()
            .build();
        let transient = ExponentialBuilder::default()
            .with_min_delay(policy.transient_base)
            .with_max_delay(policy.transient_max)
            .with_factor(2.0)
            .without_max_times()
            .build();
        RetryState {
            policy,
            attempts: 0,
            throttle,
            transient,
            transients_in_a_row: 0,
            rng: fastrand::Rng::with_seed(seed),
            other_than_capacity: false,
            exhausted: false,
        }
    }

    /// Counts one attempt; returns its 1-based number.
    pub(crate) fn start_attempt(&mut self) -> u64 {
        self.attempts += 1;
        self.attempts
    }

    /// Attempts made so far.
    pub(crate) fn attempts(&self) -> u64 {
        self.attempts
    }

    /// The last decision gave up because the attempts or the deadline were used up, and
    /// every error so far was a capacity miss (or a 429 or 5xx waited out): the instance
    /// found no capacity yet.
    pub(crate) fn out_of_time_without_capacity(&self) -> bool {
        self.exhausted && !self.other_than_capacity
    }

    fn jitter(&mut self) -> Duration {
        let max = self.policy.jitter.as_millis() as u64;
        if max == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(self.rng.u64(0..=max))
        }
    }

    fn out_of_attempts(&self) -> bool {
        self.policy.max_attempts > 0 && self.attempts >= self.policy.max_attempts
    }

    fn past_deadline(&self, elapsed: Duration, wait: Duration) -> bool {
        self.policy.deadline.is_some_and(|d| elapsed + wait > d)
    }

    /// The wait before the next round: the interval, spread a little so hunts started
    /// together do not poll in step, but never by more than half the interval chosen.
    fn round_wait(&mut self) -> Duration {
        let jitter = self.jitter().min(self.policy.interval / 2);
        self.policy.interval + jitter
    }

    /// A round ended without a success and without a wait of its own (its last placements
    /// were dropped): the next round starts after the round wait, unless attempts or the
    /// deadline are used up. `last` is the error that ended the round.
    pub(crate) fn round_over(&mut self, last: &ProviderError, elapsed: Duration) -> Decision {
        let wait = self.round_wait();
        self.limits(last, elapsed, wait)
            .unwrap_or(Decision::NextRound(wait))
    }

    /// `GiveUp` when attempts or the deadline are used up before a `wait`.
    fn limits(
        &mut self,
        err: &ProviderError,
        elapsed: Duration,
        wait: Duration,
    ) -> Option<Decision> {
        self.exhausted = self.out_of_attempts() || self.past_deadline(elapsed, wait);
        if self.out_of_attempts() {
            return Some(Decision::GiveUp(format!(
                "gave up after {}, last: {}",
                attempts(self.attempts),
                err.message
            )));
        }
        if self.past_deadline(elapsed, wait) {
            return Some(Decision::GiveUp(format!(
                "deadline reached after {}, last: {}",
                attempts(self.attempts),
                err.message
            )));
        }
        None
    }

    /// Decides what follows a failed attempt.
    ///
    /// `last_in_round` says whether this was the round's last placement; `elapsed` is the
    /// time since the instance's first attempt.
    pub(crate) fn on_error(
        &mut self,
        err: &ProviderError,
        last_in_round: bool,
        elapsed: Duration,
    ) -> Decision {
        if err.class != ErrorClass::Transient {
            self.transients_in_a_row = 0;
        }
        // Throttling and passing server trouble are waited out on the way; they do not make
        // a pass that found no capacity a failure (the notifier's "miss" classes too).
        if !matches!(
            err.class,
            ErrorClass::Capacity | ErrorClass::Throttled | ErrorClass::Transient
        ) {
            self.other_than_capacity = true;
        }
        let decision = match err.class {
            ErrorClass::Capacity => {
                if !last_in_round {
                    Decision::NextPlacement
                } else {
                    Decision::NextRound(self.round_wait())
                }
            }
            ErrorClass::Throttled => {
                let backoff = self.throttle.next().unwrap_or(self.policy.throttle_max);
                let mut wait = backoff + self.jitter();
                if let Some(after) = err.retry_after {
                    wait = wait.max(after);
                }
                Decision::RetrySame(wait)
            }
            ErrorClass::Transient => {
                self.transients_in_a_row += 1;
                if self.transients_in_a_row >= self.policy.transient_tries {
                    return Decision::GiveUp(format!(
                        "{} transient errors in a row, last: {}",
                        self.transients_in_a_row, err.message
                    ));
                }
                let wait = self.transient.next().unwrap_or(self.policy.transient_max);
                let spread = wait.as_millis() as u64 / 4;
                let wait = wait + Duration::from_millis(self.rng.u64(0..=spread));
                Decision::RetrySame(err.retry_after.map_or(wait, |a| a.max(wait)))
            }
            ErrorClass::NotFound => Decision::NotHere,
            ErrorClass::Quota => return Decision::CheckThenFail(err.message.clone()),
            ErrorClass::Auth | ErrorClass::Invalid | ErrorClass::AlreadyExists => {
                return Decision::GiveUp(err.message.clone());
            }
        };
        let wait = match &decision {
            Decision::RetrySame(w) | Decision::NextRound(w) => *w,
            _ => Duration::ZERO,
        };
        self.limits(err, elapsed, wait).unwrap_or(decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            interval: Duration::from_secs(60),
            max_attempts: 0,
            throttle_base: Duration::from_secs(900),
            throttle_max: Duration::from_secs(3600),
            jitter: Duration::from_secs(120),
            transient_base: Duration::from_secs(2),
            transient_max: Duration::from_secs(60),
            transient_tries: 4,
            deadline: None,
        }
    }

    fn err(class: ErrorClass) -> ProviderError {
        ProviderError::new(class, "boom")
    }

    #[test]
    fn capacity_walks_the_round_then_waits_the_interval_plus_jitter() {
        let mut s = RetryState::new(policy(), 7);
        s.start_attempt();
        assert_eq!(
            s.on_error(&err(ErrorClass::Capacity), false, Duration::ZERO),
            Decision::NextPlacement
        );
        s.start_attempt();
        match s.on_error(&err(ErrorClass::Capacity), true, Duration::ZERO) {
            Decision::NextRound(w) => {
                assert!(
                    w >= Duration::from_secs(60) && w <= Duration::from_secs(90),
                    "{w:?}"
                )
            }
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn throttle_backs_off_exponentially_to_the_cap_and_honours_retry_after() {
        let mut p = policy();
        p.jitter = Duration::ZERO;
        let mut s = RetryState::new(p, 1);
        let waits: Vec<Duration> = (0..4)
            .map(
                |_| match s.on_error(&err(ErrorClass::Throttled), false, Duration::ZERO) {
                    Decision::RetrySame(w) => w,
                    d => panic!("{d:?}"),
                },
            )
            .collect();
        assert_eq!(
            waits,
            [900, 1800, 3600, 3600].map(Duration::from_secs).to_vec()
        );
        let e = err(ErrorClass::Throttled).with_retry_after(Some(Duration::from_secs(7200)));
        assert_eq!(
            s.on_error(&e, false, Duration::ZERO),
            Decision::RetrySame(Duration::from_secs(7200))
        );
    }

    #[test]
    fn transient_is_bounded() {
        let mut s = RetryState::new(policy(), 3);
        for _ in 0..3 {
            assert!(
                matches!(s.on_error(&err(ErrorClass::Transient), false, Duration::ZERO), Decision::RetrySame(w) if w < Duration::from_secs(80))
            );
        }
        assert!(
            matches!(s.on_error(&err(ErrorClass::Transient), false, Duration::ZERO), Decision::GiveUp(m) if m.contains("4 transient"))
        );
    }

    #[test]
    fn fatal_classes_give_up_and_quota_checks_first() {
        let mut s = RetryState::new(policy(), 3);
        assert!(matches!(
            s.on_error(&err(ErrorClass::Auth), false, Duration::ZERO),
            Decision::GiveUp(_)
        ));
        assert!(matches!(
            s.on_error(&err(ErrorClass::Invalid), false, Duration::ZERO),
            Decision::GiveUp(_)
        ));
        assert!(matches!(
            s.on_error(&err(ErrorClass::Quota), false, Duration::ZERO),
            Decision::CheckThenFail(_)
        ));
        assert_eq!(
            s.on_error(&err(ErrorClass::NotFound), false, Duration::ZERO),
            Decision::NotHere
        );
    }

    #[test]
    fn max_attempts_and_deadline_stop_the_hunt() {
        let mut p = policy();
        p.max_attempts = 2;
        let mut s = RetryState::new(p.clone(), 3);
        s.start_attempt();
        assert_eq!(
            s.on_error(&err(ErrorClass::Capacity), false, Duration::ZERO),
            Decision::NextPlacement
        );
        s.start_attempt();
        assert!(
            matches!(s.on_error(&err(ErrorClass::Capacity), true, Duration::ZERO), Decision::GiveUp(m) if m.contains("after 2 attempts"))
        );

        p.max_attempts = 0;
        p.deadline = Some(Duration::from_secs(100));
        let mut s = RetryState::new(p, 3);
        s.start_attempt();
        assert!(
            matches!(s.on_error(&err(ErrorClass::Capacity), true, Duration::from_secs(50)), Decision::GiveUp(m) if m.contains("deadline"))
        );
    }
}

fn attempts(n: u64) -> String {
    if n == 1 {
        "1 attempt".into()
    } else {
        format!("{n} attempts")
    }
}

/// Runs `op` until it succeeds or fails with a class that retrying cannot fix.
///
/// Transient and throttled errors are retried as the policy says (bounded); any other
/// class is returned at once. Used for the read calls around actions (list, status).
pub(crate) async fn retry_reads<T, F, Fut>(
    policy: &RetryPolicy,
    mut op: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    let mut state = RetryState::new(policy.clone(), fastrand::u64(..));
    let started = tokio::time::Instant::now();
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if matches!(e.class, ErrorClass::Transient | ErrorClass::Throttled) => {
                state.start_attempt();
                match state.on_error(&e, false, started.elapsed()) {
                    Decision::RetrySame(wait) => tokio::time::sleep(wait).await,
                    _ => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod read_tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn reads_retry_transient_errors_but_not_auth() {
        let policy = RetryPolicy::from_config(&crate::config::Retry::default());
        let mut calls = 0;
        let v = retry_reads(&policy, || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(ProviderError::new(ErrorClass::Transient, "reset"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(v.unwrap(), 3);
        let mut calls = 0;
        let e = retry_reads(&policy, || {
            calls += 1;
            async { Err::<(), _>(ProviderError::new(ErrorClass::Auth, "no")) }
        })
        .await;
        assert_eq!(e.unwrap_err().class, ErrorClass::Auth);
        assert_eq!(calls, 1);
    }
}
