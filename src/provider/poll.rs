//! Waiting on a backend: looking again on a backon schedule until an answer or the deadline,
//! riding out transient errors. Both providers' waits go through [`poll`].

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ConstantBuilder};
use tokio::time::Instant;

use crate::model::{ErrorClass, ProviderError};

/// Shortest pause between two looks, so that a deadline a few milliseconds away does not spin.
const MIN_PAUSE: Duration = Duration::from_millis(50);

/// How often to look and when to stop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Polling {
    every: Duration,
    start: Instant,
    timeout: Duration,
}

impl Polling {
    /// Looks every `every`, for `timeout` from now.
    pub(crate) fn new(every: Duration, timeout: Duration) -> Polling {
        Polling {
            every,
            start: Instant::now(),
            timeout,
        }
    }

    /// How long the wait may take in all.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    fn expired(&self) -> bool {
        self.start.elapsed() >= self.timeout
    }

    fn remaining(&self) -> Duration {
        self.timeout.saturating_sub(self.start.elapsed())
    }
}

/// What one look decided.
pub(crate) enum Step<T> {
    /// Stop waiting with this answer.
    Done(T),
    /// Look again after a pause.
    Again,
    /// Stop waiting with this error.
    Fail(ProviderError),
}

/// Looks with `fetch` until `check` (given the answer and whether the deadline has passed)
/// says done or fails. The pauses between looks come from a constant backoff, never reaching
/// past the deadline. A transient or throttled error before the deadline is a blip, not the
/// end of the wait: the next look follows its Retry-After, or the usual pause without one; a
/// Retry-After that ends past the deadline ends the wait with that error.
pub(crate) async fn poll<V, T, Fut>(
    polling: Polling,
    mut fetch: impl FnMut() -> Fut,
    mut check: impl FnMut(V, bool) -> Step<T>,
) -> Result<T, ProviderError>
where
    Fut: Future<Output = Result<V, ProviderError>>,
{
    let mut pauses = ConstantBuilder::default()
        .with_delay(polling.every)
        .without_max_times()
        .build();
    loop {
        let pause = match fetch().await {
            Ok(v) => match check(v, polling.expired()) {
                Step::Done(t) => return Ok(t),
                Step::Fail(e) => return Err(e),
                Step::Again => pauses.next().unwrap_or(polling.every),
            },
            Err(e) if is_blip(&e) && !polling.expired() => match e.retry_after {
                Some(after) if after > polling.remaining() => return Err(e),
                Some(after) => {
                    tokio::time::sleep(after).await;
                    continue;
                }
                None => pauses.next().unwrap_or(polling.every),
            },
            Err(e) => return Err(e),
        };
        tokio::time::sleep(pause.min(polling.remaining()).max(MIN_PAUSE)).await;
    }
}

fn is_blip(e: &ProviderError) -> bool {
    matches!(e.class, ErrorClass::Transient | ErrorClass::Throttled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn blip(class: ErrorClass, after: Option<u64>) -> ProviderError {
        ProviderError::new(class, "blip").with_retry_after(after.map(Duration::from_secs))
    }

    /// Runs `poll` over scripted answers (`None`: not there yet) and records when each look
    /// happened, in seconds since the start.
    async fn run(
        every: u64,
        timeout: u64,
        script: Vec<Result<Option<u32>, ProviderError>>,
    ) -> (Result<Option<u32>, ProviderError>, Vec<u64>) {
        let start = Instant::now();
        let script = Mutex::new(script.into_iter());
        let looks = Mutex::new(Vec::new());
        let polling = Polling::new(Duration::from_secs(every), Duration::from_secs(timeout));
        let fetch = || {
            looks.lock().unwrap().push(start.elapsed().as_secs());
            let next = script.lock().unwrap().next().unwrap_or(Ok(None));
            async move { next }
        };
        let check = |v: Option<u32>, expired: bool| match v {
            Some(n) => Step::Done(Some(n)),
            None if expired => Step::Done(None),
            None => Step::Again,
        };
        let out = poll(polling, fetch, check).await;
        (out, looks.into_inner().unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn blips_do_not_end_the_wait_and_retry_after_is_honoured() {
        let (out, looks) = run(
            5,
            600,
            vec![
                Ok(None),
                Err(blip(ErrorClass::Throttled, Some(30))),
                Err(blip(ErrorClass::Transient, None)),
                Ok(Some(7)),
            ],
        )
        .await;
        assert_eq!(out.unwrap(), Some(7));
        assert_eq!(looks, [0, 5, 35, 40]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_is_obeyed() {
        // Pauses shrink to the time left; the look at the deadline is the last one.
        let (out, looks) = run(5, 12, vec![]).await;
        assert_eq!(out.unwrap(), None);
        assert_eq!(looks, [0, 5, 10, 12]);
        // A Retry-After past the deadline ends the wait with that error, without a late look.
        let (out, looks) = run(5, 12, vec![Err(blip(ErrorClass::Throttled, Some(60)))]).await;
        assert_eq!(out.unwrap_err().class, ErrorClass::Throttled);
        assert_eq!(looks, [0]);
        // Other errors end the wait at once.
        let (out, looks) = run(5, 12, vec![Err(blip(ErrorClass::Invalid, None))]).await;
        assert_eq!(out.unwrap_err().class, ErrorClass::Invalid);
        assert_eq!(looks, [0]);
    }
}
