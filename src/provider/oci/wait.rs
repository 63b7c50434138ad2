//! Waiting for an instance: polling for a lifecycle state or for its addresses until a deadline.

use super::addresses::{Addresses, addresses};
use super::client::{Instance, OciClient};
use crate::model::{ErrorClass, ErrorCode, Event, Observer, ProviderError};
use crate::provider::poll::{Polling, Step, poll};

/// Polls instance `id` (named `name` in events) until it is in `target`, reporting the state
/// on every look (the printer shows changes, and a line every 30 s on a log); a terminated
/// instance or the deadline ends the wait with an error.
pub(crate) async fn wait_state(
    client: &OciClient,
    polling: Polling,
    (name, id): (&str, &str),
    target: &str,
    observer: &dyn Observer,
) -> Result<Instance, ProviderError> {
    let check = |inst: Instance, expired: bool| {
        observer.event(Event::Progress {
            instance: name.to_string(),
            phase: inst.lifecycle_state.clone(),
            percent: None,
        });
        if inst.lifecycle_state == target {
            return Step::Done(inst);
        }
        // TERMINATING or TERMINATED never comes back: fail at once, not at the deadline.
        if inst.is_gone() {
            return Step::Fail(ProviderError::new(
                ErrorClass::Invalid,
                format!(
                    "instance `{name}` is {} while waiting for {target}",
                    inst.lifecycle_state
                ),
            ));
        }
        if expired {
            return Step::Fail(
                ProviderError::new(
                    ErrorClass::Transient,
                    format!(
                        "instance `{name}` is still {} after {}s waiting for {target}",
                        inst.lifecycle_state,
                        polling.timeout().as_secs()
                    ),
                )
                .with_code(ErrorCode::WaitTimedOut),
            );
        }
        Step::Again
    };
    poll(polling, || client.get_instance(id), check).await
}

/// Polls the addresses of instance `id` until it has a private IP; at the deadline answers
/// what it has (the VNIC attaches shortly after RUNNING).
pub(crate) async fn wait_addresses(
    client: &OciClient,
    polling: Polling,
    compartment: &str,
    id: &str,
) -> Result<Addresses, ProviderError> {
    let check = |ips: Addresses, expired: bool| {
        if ips.0.is_some() || expired {
            Step::Done(ips)
        } else {
            Step::Again
        }
    };
    poll(polling, || addresses(client, compartment, id), check).await
}
