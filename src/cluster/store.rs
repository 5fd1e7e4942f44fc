//! Per-kind object stores the watchers write into and the feed reads from. A kind may be fed by
//! several watches (DaemonSets from `calico-system` plus `kube-proxy-windows` from
//! `kube-system`), each a partition with its own list/relist cycle and state; a relist replaces
//! only its own partition, and the data of a broken watch stays as last seen. The sorted
//! `Objects<T>` is rebuilt only when the kind changed, so quiet kinds cost nothing per snapshot.
//! Owns no I/O and no timing.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;

use crate::model::snapshot::Objects;
use crate::model::{Feed, FeedState};

/// `(namespace, name)`; the namespace is empty for cluster-scoped kinds.
pub type ObjectKey = (String, String);

/// What one watch event does to a partition.
#[derive(Debug)]
pub enum StoreEvent<T> {
    /// A (re)list starts: objects are collected aside until it is done.
    ListStarted,
    ListItem(ObjectKey, Option<T>),
    /// The list is complete: it replaces the partition's objects.
    ListDone,
    /// Added or modified; `None` when the object no longer passes the filter.
    Applied(ObjectKey, Option<T>),
    Deleted(ObjectKey),
}

#[derive(Debug)]
struct Partition<T> {
    live: BTreeMap<ObjectKey, Arc<T>>,
    listing: Option<BTreeMap<ObjectKey, Arc<T>>>,
    state: FeedState,
}

impl<T> Default for Partition<T> {
    fn default() -> Self {
        Self {
            live: BTreeMap::new(),
            listing: None,
            state: FeedState::Loading,
        }
    }
}

/// The objects of one kind, from one or more watches.
#[derive(Debug)]
pub struct KindStore<T> {
    partitions: Vec<Partition<T>>,
    cached: Objects<T>,
    dirty: bool,
    last_event: Option<Timestamp>,
    /// Applied to the sorted objects when they are rebuilt (events: by time, newest N).
    finish: Option<fn(&mut Vec<Arc<T>>)>,
}

impl<T> KindStore<T> {
    pub fn new(partitions: usize) -> Self {
        Self {
            partitions: (0..partitions.max(1))
                .map(|_| Partition::default())
                .collect(),
            cached: Arc::new(Vec::new()),
            dirty: false,
            last_event: None,
            finish: None,
        }
    }

    /// Post-processes the objects each time they are rebuilt.
    #[must_use]
    pub fn with_finish(mut self, finish: fn(&mut Vec<Arc<T>>)) -> Self {
        self.finish = Some(finish);
        self
    }

    /// Applies one event to `partition`; returns whether the kind's objects or state changed.
    pub fn apply(&mut self, partition: usize, event: StoreEvent<T>, now: Timestamp) -> bool {
        let Some(part) = self.partitions.get_mut(partition) else {
            return false;
        };
        let changed = match event {
            StoreEvent::ListStarted => {
                part.listing = Some(BTreeMap::new());
                false
            }
            StoreEvent::ListItem(key, object) => {
                if let (Some(listing), Some(object)) = (part.listing.as_mut(), object) {
                    listing.insert(key, Arc::new(object));
                }
                false
            }
            StoreEvent::ListDone => {
                part.live = part.listing.take().unwrap_or_default();
                part.state = FeedState::Live;
                self.dirty = true;
                true
            }
            StoreEvent::Applied(key, Some(object)) => {
                part.live.insert(key, Arc::new(object));
                part.state = FeedState::Live;
                self.dirty = true;
                true
            }
            StoreEvent::Applied(key, None) | StoreEvent::Deleted(key) => {
                part.state = FeedState::Live;
                let removed = part.live.remove(&key).is_some();
                self.dirty |= removed;
                removed
            }
        };
        self.last_event = Some(now);
        changed
    }

    /// Records a watch failure (or recovery) of `partition`; returns whether the state changed.
    pub fn set_state(&mut self, partition: usize, state: FeedState) -> bool {
        match self.partitions.get_mut(partition) {
            Some(part) if part.state != state => {
                // A kind that is not installed (or not readable) has no objects, whatever was
                // seen before; a reconnecting one keeps what it last saw.
                if matches!(state, FeedState::NotInstalled | FeedState::Forbidden { .. })
                    && !part.live.is_empty()
                {
                    part.live.clear();
                    self.dirty = true;
                }
                part.state = state;
                true
            }
            _ => false,
        }
    }

    /// Forgets everything (the kind is read from elsewhere now, e.g. after a Calico API change).
    pub fn reset(&mut self, state: &FeedState) {
        for part in &mut self.partitions {
            *part = Partition {
                state: state.clone(),
                ..Partition::default()
            };
        }
        self.dirty = true;
    }

    /// The kind's freshness: the most alarming partition state wins; a partition that is not
    /// installed does not hide another that is live.
    pub fn feed(&self) -> Feed {
        let states = || self.partitions.iter().map(|p| &p.state);
        let state = states()
            .find(|s| matches!(s, FeedState::Forbidden { .. }))
            .or_else(|| states().find(|s| matches!(s, FeedState::Reconnecting { .. })))
            .or_else(|| states().find(|s| matches!(s, FeedState::Loading)))
            .or_else(|| states().find(|s| matches!(s, FeedState::Live)))
            .cloned()
            .unwrap_or(FeedState::NotInstalled);
        Feed {
            state,
            last_event: self.last_event,
        }
    }

    /// The objects sorted by (namespace, name), rebuilt only if something changed.
    pub fn objects(&mut self) -> Objects<T> {
        if self.dirty {
            let mut objects: Vec<Arc<T>> = if let [only] = self.partitions.as_slice() {
                only.live.values().cloned().collect()
            } else {
                // Watches may overlap (a Warning event of calico-system is seen by both event
                // watches): merging by key keeps one copy, in order.
                let merged: BTreeMap<&ObjectKey, &Arc<T>> =
                    self.partitions.iter().flat_map(|p| p.live.iter()).collect();
                merged.into_values().cloned().collect()
            };
            if let Some(finish) = self.finish {
                finish(&mut objects);
            }
            self.cached = Arc::new(objects);
            self.dirty = false;
        }
        Arc::clone(&self.cached)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn key(ns: &str, name: &str) -> ObjectKey {
        (ns.to_owned(), name.to_owned())
    }

    fn names(objects: &Objects<&'static str>) -> Vec<&'static str> {
        objects.iter().map(|o| **o).collect()
    }

    #[test]
    fn a_relist_replaces_only_its_own_partition_and_keeps_order() {
        let now = Timestamp::UNIX_EPOCH;
        let mut store = KindStore::new(2);
        store.apply(0, StoreEvent::ListStarted, now);
        store.apply(0, StoreEvent::ListItem(key("b", "x"), Some("b/x")), now);
        store.apply(0, StoreEvent::ListItem(key("a", "y"), Some("a/y")), now);
        assert!(store.apply(0, StoreEvent::ListDone, now));
        assert_eq!(
            store.feed().state,
            FeedState::Loading,
            "partition 1 still lists"
        );
        store.apply(1, StoreEvent::ListStarted, now);
        store.apply(1, StoreEvent::ListItem(key("a", "z"), Some("a/z")), now);
        store.apply(1, StoreEvent::ListDone, now);
        assert_eq!(store.feed().state, FeedState::Live);
        assert_eq!(names(&store.objects()), ["a/y", "a/z", "b/x"]);

        // Partition 0 relists without b/x; partition 1's object stays.
        store.apply(0, StoreEvent::ListStarted, now);
        store.apply(0, StoreEvent::ListItem(key("a", "y"), Some("a/y")), now);
        assert_eq!(names(&store.objects()), ["a/y", "a/z", "b/x"], "until done");
        store.apply(0, StoreEvent::ListDone, now);
        assert_eq!(names(&store.objects()), ["a/y", "a/z"]);
    }

    #[test]
    fn quiet_kinds_reuse_the_same_objects() {
        let now = Timestamp::UNIX_EPOCH;
        let mut store = KindStore::new(1);
        store.apply(0, StoreEvent::Applied(key("", "n1"), Some("n1")), now);
        let first = store.objects();
        let again = store.objects();
        assert!(Arc::ptr_eq(&first, &again));
        store.apply(0, StoreEvent::Deleted(key("", "n1")), now);
        assert!(store.objects().is_empty());
        // Filtered out on update: removed like a delete.
        store.apply(0, StoreEvent::Applied(key("", "n2"), Some("n2")), now);
        store.apply(0, StoreEvent::Applied(key("", "n2"), None), now);
        assert!(store.objects().is_empty());
    }

    #[test]
    fn reconnecting_keeps_the_data_and_forbidden_drops_it() {
        let now = Timestamp::UNIX_EPOCH;
        let mut store = KindStore::new(1);
        store.apply(0, StoreEvent::Applied(key("", "n1"), Some("n1")), now);
        let broken = FeedState::Reconnecting {
            since: now,
            error: "connection refused".into(),
        };
        assert!(store.set_state(0, broken.clone()));
        assert!(!store.set_state(0, broken.clone()));
        assert_eq!(store.feed().state, broken);
        assert_eq!(store.objects().len(), 1);
        store.set_state(
            0,
            FeedState::Forbidden {
                verb: "list".into(),
                resource: "nodes".into(),
            },
        );
        assert!(store.objects().is_empty());
    }

    #[test]
    fn partition_states_combine_worst_first() {
        let mut store: KindStore<&str> = KindStore::new(2);
        store.set_state(0, FeedState::NotInstalled);
        store.set_state(1, FeedState::Live);
        assert_eq!(store.feed().state, FeedState::Live);
        store.set_state(1, FeedState::NotInstalled);
        assert_eq!(store.feed().state, FeedState::NotInstalled);
    }
}
