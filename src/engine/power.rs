//! `start` / `stop`: power actions on existing managed instances.

use futures::StreamExt;

use crate::model::{Event, Existing, Observer, Power, ResourceReport};
use crate::provider::Provider;

/// Starts or stops each of `instances`.
pub(crate) async fn power<P: Provider>(
    provider: &P,
    instances: &[Existing],
    action: Power,
    wait: bool,
    parallel: usize,
    observer: &dyn Observer,
) -> Vec<ResourceReport> {
    futures::stream::iter(instances)
        .map(|e| async move {
            let r = provider.power(e, action, wait).await;
            observer.event(Event::Report(Box::new(r.clone())));
            r
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await
}
