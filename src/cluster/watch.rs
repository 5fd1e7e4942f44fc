//! One watch: kube-runtime's `watcher` (list, then watch), started afresh with exponential
//! backoff after any failure, each event converted (slimmed, filtered) and applied to one partition of
//! a kind's store, failures turned into that partition's `FeedState`. Stops when its token is
//! cancelled. Owns the loop; must not build snapshots or decide what is watched.

use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt as _;
use jiff::Timestamp;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt as _};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::status::feed_state;
use super::store::{KindStore, ObjectKey, StoreEvent};
use crate::model::{FeedState, Kind};

/// Wake-ups shared by the watches and the feed.
#[derive(Debug, Default)]
pub struct Signals {
    /// Some store changed: the feed should build a snapshot (after its debounce).
    pub changed: Notify,
    /// A Calico kind answered 404: the Calico API may have changed; look again.
    pub recheck_discovery: Notify,
}

/// What to watch and where its objects go.
pub struct WatchTarget<K, T> {
    pub api: Api<K>,
    pub config: watcher::Config,
    pub kind: Kind,
    pub partition: usize,
    pub store: Arc<Mutex<KindStore<T>>>,
}

/// Locks a store; a watcher that panicked mid-update leaves data that is still a valid map.
pub fn lock<T>(store: &Mutex<KindStore<T>>) -> std::sync::MutexGuard<'_, KindStore<T>> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs the watch until `cancel` fires.
pub async fn run<K, T, C>(
    target: WatchTarget<K, T>,
    convert: C,
    signals: Arc<Signals>,
    cancel: CancellationToken,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    T: Send + Sync + 'static,
    C: Fn(K) -> Option<T> + Send + 'static,
{
    let WatchTarget {
        api,
        config,
        kind,
        partition,
        store,
    } = target;
    let mut failures: u32 = 0;
    loop {
        // A fresh watcher lists again: after a failure that is how the feed learns that the
        // kind is back (a quiet kind sends no event that would say so) and what changed meanwhile.
        let stream = watcher::watcher(api.clone(), config.clone());
        futures::pin_mut!(stream);
        loop {
            let next = tokio::select! {
                // Cancellation first: a watch replaced after a Calico API change must not
                // apply one more event to the store its successor now fills.
                biased;
                () = cancel.cancelled() => return,
                next = stream.next() => next,
            };
            let now = Timestamp::now();
            let changed = match next {
                None => break,
                Some(Ok(event)) => {
                    failures = 0;
                    let event = store_event(event, &convert);
                    lock(&store).apply(partition, event, now)
                }
                Some(Err(error)) => {
                    tracing::debug!(?kind, partition, %error, "watch failed");
                    failures = failures.saturating_add(1);
                    let changed = record_failure(&store, partition, kind, &error, &signals, now);
                    if changed {
                        signals.changed.notify_one();
                    }
                    break;
                }
            };
            if changed {
                signals.changed.notify_one();
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(backoff(failures)) => {}
        }
    }
}

/// kube-runtime's default schedule without the jitter: 0.8 s doubling up to 30 s; no wait
/// after a stream that simply ended.
pub fn backoff(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let doubled =
        Duration::from_millis(800).saturating_mul(1 << failures.saturating_sub(1).min(16));
    doubled.min(Duration::from_secs(30))
}

/// Turns a watch failure into the partition's state; returns whether it changed.
fn record_failure<T>(
    store: &Mutex<KindStore<T>>,
    partition: usize,
    kind: Kind,
    error: &watcher::Error,
    signals: &Signals,
    now: Timestamp,
) -> bool {
    let Some(state) = feed_state(error, kind, now) else {
        return false;
    };
    if state == FeedState::NotInstalled && is_calico(kind) {
        signals.recheck_discovery.notify_one();
    }
    let mut store = lock(store);
    // A reconnect keeps its first `since`: how long the data has been stale.
    let state = match (store.feed().state, state) {
        (FeedState::Reconnecting { since, .. }, FeedState::Reconnecting { error, .. }) => {
            FeedState::Reconnecting { since, error }
        }
        (_, state) => state,
    };
    store.set_state(partition, state)
}

fn store_event<K, T>(event: Event<K>, convert: &impl Fn(K) -> Option<T>) -> StoreEvent<T>
where
    K: Resource,
{
    match event {
        Event::Init => StoreEvent::ListStarted,
        Event::InitApply(object) => {
            let key = key(&object);
            StoreEvent::ListItem(key, convert(object))
        }
        Event::InitDone => StoreEvent::ListDone,
        Event::Apply(object) => {
            let key = key(&object);
            StoreEvent::Applied(key, convert(object))
        }
        Event::Delete(object) => StoreEvent::Deleted(key(&object)),
    }
}

fn key<K: Resource>(object: &K) -> ObjectKey {
    (object.namespace().unwrap_or_default(), object.name_any())
}

/// The kinds whose API group depends on the Calico API mode.
pub fn is_calico(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::IpPools
            | Kind::IpamBlocks
            | Kind::BlockAffinities
            | Kind::IpamHandles
            | Kind::IpamConfigs
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::from_millis(800));
        assert_eq!(backoff(2), Duration::from_millis(1600));
        assert_eq!(
            backoff(6),
            Duration::from_secs(25) + Duration::from_millis(600)
        );
        assert_eq!(backoff(7), Duration::from_secs(30));
        assert_eq!(backoff(u32::MAX), Duration::from_secs(30));
    }
}
