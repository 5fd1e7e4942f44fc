//! The control loop the workload controllers (DaemonSet, ReplicaSet, Deployment, disruption)
//! share: it hands a controller what its informers first listed, applies every batch of
//! changes as it is published, and on each tick of `TICK` applies whatever is still pending
//! and syncs every key its work queue has due at the store's clock, until the store shuts
//! down or a followed resource stops being served. It owns only that waiting and ordering; a
//! controller keeps its caches, indexes, queue and what one sync does, and the loop never
//! reads or writes an object itself.

use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use jiff::Timestamp;
use tokio::sync::broadcast::error::RecvError;

use super::informer::{Change, Informer, Key, Subscription};
use super::workload::{TICK, WorkQueue};
use crate::sim::store::{Store, WatchEvent};

/// What a controller brings to the loop: where its changes come from and what one sync does.
pub trait Reconcile: Sized {
    /// The changes the controller follows, in the order each tick applies what is pending.
    fn feeds() -> Vec<Feed<Self>>;

    fn queue(&mut self) -> &mut WorkQueue;

    /// Brings one object's world in line with its spec, at the store's `now`.
    fn sync(&mut self, key: &Key, now: Timestamp);
}

/// One source of changes and the controller's hook for it.
pub struct Feed<C>(Box<dyn Source<C> + Send + Sync>);

impl<C: 'static> Feed<C> {
    /// Batches of one informer's changes, its first list included.
    pub fn informer<T: 'static>(
        informer: fn(&mut C) -> &mut Informer<T>,
        on_change: fn(&mut C, Vec<Change<T>>),
    ) -> Self {
        Self(Box::new(InformerFeed {
            informer,
            on_change,
        }))
    }

    /// Raw store events, one at a time, for a controller that keeps no cache of the resource;
    /// `on_lagged` when events were missed, so the controller can requeue what they touched.
    pub fn events(
        subscription: fn(&mut C) -> &mut Subscription,
        on_event: fn(&mut C, &WatchEvent),
        on_lagged: fn(&mut C),
    ) -> Self {
        Self(Box::new(EventFeed {
            subscription,
            on_event,
            on_lagged,
        }))
    }
}

/// Runs the controller until the store shuts down or one of its resources stops being served.
pub async fn run<C: Reconcile>(store: &Store, mut controller: C) {
    let feeds = C::feeds();
    for feed in &feeds {
        feed.0.listed(&mut controller);
    }
    let shutdown = store.shutdown.clone();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            fed = poll_fn(|cx| poll_feeds(&feeds, &mut controller, cx)) => {
                if fed == Fed::Ended {
                    return;
                }
            }
            _ = ticker.tick() => {
                catch_up(&feeds, &mut controller);
                let now = store.clock.now();
                for key in controller.queue().take_due(now) {
                    controller.sync(&key, now);
                }
            }
        }
    }
}

/// Applies whatever every feed has ready; pending while none has anything.
fn poll_feeds<C>(feeds: &[Feed<C>], controller: &mut C, cx: &mut Context<'_>) -> Poll<Fed> {
    let mut changed = false;
    for feed in feeds {
        match feed.0.poll(controller, cx) {
            Poll::Ready(Fed::Ended) => return Poll::Ready(Fed::Ended),
            Poll::Ready(Fed::Changed) => changed = true,
            Poll::Pending => {}
        }
    }
    if changed {
        Poll::Ready(Fed::Changed)
    } else {
        Poll::Pending
    }
}

/// Applies every change already published, feed by feed, so a sync never acts on a cache
/// that has not yet seen the controller's own last writes (what upstream's expectations
/// guard). A feed that ended is left for the next wait to notice.
fn catch_up<C>(feeds: &[Feed<C>], controller: &mut C) {
    let mut cx = Context::from_waker(Waker::noop());
    for feed in feeds {
        while let Poll::Ready(Fed::Changed) = feed.0.poll(controller, &mut cx) {}
    }
}

/// What polling a feed found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fed {
    /// Changes were applied to the controller.
    Changed,
    /// The resource is no longer served.
    Ended,
}

trait Source<C> {
    /// Hands the controller everything listed so far.
    fn listed(&self, controller: &mut C);
    fn poll(&self, controller: &mut C, cx: &mut Context<'_>) -> Poll<Fed>;
}

struct InformerFeed<C, T> {
    informer: fn(&mut C) -> &mut Informer<T>,
    on_change: fn(&mut C, Vec<Change<T>>),
}

impl<C, T> Source<C> for InformerFeed<C, T> {
    fn listed(&self, controller: &mut C) {
        let batch = (self.informer)(controller).listed();
        (self.on_change)(controller, batch);
    }

    fn poll(&self, controller: &mut C, cx: &mut Context<'_>) -> Poll<Fed> {
        match (self.informer)(controller).poll_changed(cx) {
            Poll::Ready(Some(batch)) => {
                (self.on_change)(controller, batch);
                Poll::Ready(Fed::Changed)
            }
            Poll::Ready(None) => Poll::Ready(Fed::Ended),
            Poll::Pending => Poll::Pending,
        }
    }
}

struct EventFeed<C> {
    subscription: fn(&mut C) -> &mut Subscription,
    on_event: fn(&mut C, &WatchEvent),
    on_lagged: fn(&mut C),
}

impl<C> EventFeed<C> {
    fn apply(&self, controller: &mut C, received: Result<Arc<WatchEvent>, RecvError>) -> Fed {
        match received {
            Ok(event) => (self.on_event)(controller, &event),
            Err(RecvError::Lagged(_)) => (self.on_lagged)(controller),
            Err(RecvError::Closed) => return Fed::Ended,
        }
        Fed::Changed
    }
}

impl<C> Source<C> for EventFeed<C> {
    /// Events carry no list: the controller starts from what it read itself.
    fn listed(&self, _controller: &mut C) {}

    fn poll(&self, controller: &mut C, cx: &mut Context<'_>) -> Poll<Fed> {
        let Poll::Ready(first) = (self.subscription)(controller).poll_recv(cx) else {
            return Poll::Pending;
        };
        if self.apply(controller, first) == Fed::Ended {
            return Poll::Ready(Fed::Ended);
        }
        while let Some(next) = (self.subscription)(controller).try_recv() {
            if self.apply(controller, next) == Fed::Ended {
                return Poll::Ready(Fed::Ended);
            }
        }
        Poll::Ready(Fed::Changed)
    }
}

/// Lets a running controller bring `check` about, polling every 30 ms; fails the test after
/// 200 polls. A bound for a broken controller, not a measure of a working one.
#[cfg(test)]
pub(crate) async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    panic!("timed out waiting for {what}");
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use jiff::SignedDuration;
    use serde_json::{Value, json};

    use super::*;
    use crate::sim::clock::ManualClock;
    use crate::sim::resource::ResourceType;
    use crate::sim::store::{StoreConfig, StoredObject};
    use crate::sim::write::WriteOptions;

    /// What the test controller saw, shared with the test.
    #[derive(Debug, Default)]
    struct Seen {
        synced: Vec<(String, Timestamp)>,
        removed: Vec<String>,
        events: Vec<String>,
        lagged: usize,
    }

    /// Syncs every ConfigMap that changes, and again `data.after` seconds later when set;
    /// notes every Secret event it is sent.
    struct Witness {
        configmaps: Informer<Again>,
        secrets: Subscription,
        queue: WorkQueue,
        seen: Arc<Mutex<Seen>>,
    }

    /// A ConfigMap as the test controller reads it: how long until it wants syncing again.
    #[derive(Debug)]
    struct Again(Option<SignedDuration>);

    fn again(obj: &StoredObject) -> Option<Again> {
        let value = obj.value().ok()?;
        let seconds = value
            .pointer("/data/after")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok());
        Some(Again(seconds.map(SignedDuration::from_secs)))
    }

    impl Witness {
        fn on_configmaps(&mut self, batch: Vec<Change<Again>>) {
            for change in batch {
                match change {
                    Change::Upsert(key, _) => self.queue.add(key),
                    Change::Removed(key) => {
                        self.seen.lock().unwrap().removed.push(key.1.clone());
                        self.queue.forget(&key);
                    }
                }
            }
        }

        fn on_secret(&mut self, event: &WatchEvent) {
            self.seen
                .lock()
                .unwrap()
                .events
                .push(event.object.name.clone());
        }

        fn on_lagged(&mut self) {
            self.seen.lock().unwrap().lagged += 1;
        }
    }

    impl Reconcile for Witness {
        fn feeds() -> Vec<Feed<Self>> {
            vec![
                Feed::informer(|c| &mut c.configmaps, Self::on_configmaps),
                Feed::events(|c| &mut c.secrets, Self::on_secret, Self::on_lagged),
            ]
        }

        fn queue(&mut self) -> &mut WorkQueue {
            &mut self.queue
        }

        fn sync(&mut self, key: &Key, now: Timestamp) {
            self.seen.lock().unwrap().synced.push((key.1.clone(), now));
            if let Some(Again(Some(after))) = self.configmaps.get(&key.0, &key.1).map(|a| &**a) {
                self.queue.add_after(key.clone(), now + *after);
            }
        }
    }

    struct Cluster {
        store: Arc<Store>,
        clock: Arc<ManualClock>,
        seen: Arc<Mutex<Seen>>,
    }

    impl Cluster {
        fn new(watch_buffer: usize) -> Self {
            let clock = Arc::new(ManualClock::new(t0()));
            let config = StoreConfig {
                watch_buffer,
                ..StoreConfig::default()
            };
            let store = Arc::new(Store::new(clock.clone(), config));
            let namespace = json!({"metadata": {"name": "default"}, "status": {"phase": "Active"}});
            store.seed(&rt(&store, "namespaces"), namespace).unwrap();
            Self {
                store,
                clock,
                seen: Arc::default(),
            }
        }

        /// The controller, following ConfigMaps and Secrets from now on.
        fn recorder(&self) -> Witness {
            let secrets = rt(&self.store, "secrets");
            let (_, receiver) = self
                .store
                .follow(&secrets, self.store.current_rv())
                .unwrap();
            Witness {
                configmaps: Informer::new(&self.store, "", "v1", "configmaps", again).unwrap(),
                secrets: Subscription::new(receiver),
                queue: WorkQueue::default(),
                seen: Arc::clone(&self.seen),
            }
        }

        fn start(&self, recorder: Witness) -> tokio::task::JoinHandle<()> {
            let store = Arc::clone(&self.store);
            tokio::spawn(async move { run(&store, recorder).await })
        }

        fn create(&self, plural: &str, name: &str, after: Option<&str>) {
            let kind = if plural == "secrets" {
                "Secret"
            } else {
                "ConfigMap"
            };
            let mut body = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "default"}});
            if let Some(after) = after {
                body["data"] = json!({"after": after});
            }
            self.store
                .create(
                    &rt(&self.store, plural),
                    None,
                    body,
                    &WriteOptions::default(),
                )
                .unwrap();
        }

        fn synced(&self, name: &str) -> Vec<Timestamp> {
            let seen = self.seen.lock().unwrap();
            seen.synced
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, at)| *at)
                .collect()
        }
    }

    fn t0() -> Timestamp {
        "2026-11-29T10:00:00Z".parse().unwrap()
    }

    fn rt(store: &Store, plural: &str) -> Arc<ResourceType> {
        store.registry().get("", "v1", plural).unwrap()
    }

    /// The loop must end on its own; the bound only keeps a broken loop from hanging the run.
    async fn ends(task: tokio::task::JoinHandle<()>) {
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the loop ends")
            .unwrap();
    }

    #[tokio::test]
    async fn syncs_what_was_listed_what_changed_and_what_came_due() {
        let c = Cluster::new(StoreConfig::default().watch_buffer);
        c.create("configmaps", "listed", None);
        let task = c.start(c.recorder());
        eventually("the listed ConfigMap synced", || {
            !c.synced("listed").is_empty()
        })
        .await;
        assert_eq!(c.synced("listed"), vec![t0()]);

        // `later` asks to be synced again 10 s on; `changed` is created after it, so once
        // `changed` is synced `later` has had every chance to be synced twice by mistake.
        c.create("configmaps", "later", Some("10"));
        c.create("configmaps", "changed", None);
        eventually("the new ConfigMaps synced", || {
            !c.synced("changed").is_empty()
        })
        .await;
        assert_eq!(c.synced("later"), vec![t0()]);
        assert_eq!(c.synced("changed"), vec![t0()]);

        // Due at t0 + 10 s by the store's clock, not by the wall clock.
        let due = c.clock.advance(SignedDuration::from_secs(10));
        assert_eq!(due, t0() + SignedDuration::from_secs(10));
        eventually("the requeued ConfigMap synced again", || {
            c.synced("later").len() == 2
        })
        .await;
        assert_eq!(c.synced("later"), vec![t0(), due]);
        assert_eq!(c.synced("listed"), vec![t0()], "nothing else came due");

        c.store
            .delete(
                &rt(&c.store, "configmaps"),
                "default",
                "changed",
                &crate::sim::write::DeleteOptions::default(),
            )
            .unwrap();
        eventually("the removal seen", || {
            c.seen.lock().unwrap().removed == vec!["changed".to_string()]
        })
        .await;

        c.store.shutdown.cancel();
        ends(task).await;
    }

    #[tokio::test]
    async fn raw_events_report_lag_and_a_resource_that_ends_stops_the_loop() {
        // Two events fit in the buffer; five are published before the loop first looks.
        let c = Cluster::new(2);
        let recorder = c.recorder();
        for i in 0..5 {
            c.create("secrets", &format!("s{i}"), None);
        }
        let task = c.start(recorder);
        eventually("the retained events", || {
            c.seen.lock().unwrap().events.len() == 2
        })
        .await;
        {
            let seen = c.seen.lock().unwrap();
            assert_eq!(seen.lagged, 1, "one gap reported once");
            assert_eq!(seen.events, ["s3", "s4"], "then the two events still held");
        }
        c.create("secrets", "s5", None);
        eventually("a later event", || c.seen.lock().unwrap().events.len() == 3).await;
        assert_eq!(c.seen.lock().unwrap().events[2], "s5");

        // Secrets stop being served: the loop ends without a shutdown.
        c.store.drop_resource(&rt(&c.store, "secrets"));
        ends(task).await;
        assert!(!c.store.shutdown.is_cancelled());
    }

    #[tokio::test]
    async fn an_informer_whose_resource_ends_stops_the_loop() {
        let c = Cluster::new(StoreConfig::default().watch_buffer);
        let task = c.start(c.recorder());
        c.store.drop_resource(&rt(&c.store, "configmaps"));
        ends(task).await;
        assert!(!c.store.shutdown.is_cancelled());
    }
}
