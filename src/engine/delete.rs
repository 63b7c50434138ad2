//! `delete`: remove the managed resources of instances, in reverse dependency order.

use futures::StreamExt;

use crate::model::{DeleteOptions, Event, Existing, Observer, ResourceReport};
use crate::provider::Provider;

/// Deletes `instances` (already listed by ownership labels and confirmed by the caller).
pub(crate) async fn delete<P: Provider>(
    provider: &P,
    instances: &[Existing],
    options: &DeleteOptions,
    parallel: usize,
    observer: &dyn Observer,
) -> Vec<ResourceReport> {
    let results: Vec<Vec<ResourceReport>> = futures::stream::iter(instances)
        .map(|e| async move {
            let reports = provider.delete(e, options).await;
            for r in &reports {
                observer.event(Event::Report(Box::new(r.clone())));
            }
            reports
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    results.into_iter().flatten().collect()
}
