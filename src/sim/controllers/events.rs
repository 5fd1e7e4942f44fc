//! Kubernetes Events as components record them: one `core/v1` Event per (object, type,
//! reason, message), counted and re-stamped when it happens again, named
//! `<object>.<hex time>` in the object's namespace (`default` for cluster-scoped objects), as
//! client-go's recorder does. What the recorder remembers for counting repeats is bounded the
//! way client-go's event correlator bounds its LRU: entries older than the API server's event
//! TTL are forgotten (their Event objects are gone by then anyway), and past a fixed number of
//! entries the least recently seen go first. It writes only Event objects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::sim::clock::rfc3339;
use crate::sim::store::Store;
use crate::sim::write::{Part, PatchType, WriteOptions};

/// The object an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Normal,
    Warning,
}

impl EventKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// What makes two events the same event: object, type, reason and message.
type EventKey = (ObjectRef, EventKind, String, String);

/// How many distinct events a recorder remembers, as client-go's correlator cache
/// (`maxLruCacheEntries`).
pub const MAX_REMEMBERED_EVENTS: usize = 4096;
/// The API server's default `--event-ttl`: an Event older than this has been deleted, so a
/// repeat after it starts a new Event, and remembering it longer is useless.
pub const EVENT_TTL: SignedDuration = SignedDuration::from_hours(1);

/// The Event a repeat is counted on.
#[derive(Debug, Clone)]
struct Remembered {
    name: String,
    count: u64,
    last_seen: Timestamp,
}

/// The recorder's memory of recent events: a map with least-recently-seen eviction.
#[derive(Debug)]
struct Seen {
    entries: HashMap<EventKey, Remembered>,
    capacity: usize,
    /// When entries past the TTL were last dropped.
    swept_at: Option<Timestamp>,
}

impl Seen {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            swept_at: None,
        }
    }

    /// Forgets entries past the TTL (at most once a minute of simulated time, so a busy
    /// recorder does not walk the map on every event) and, over capacity, the least recently
    /// seen ones, down to three quarters of it so eviction is amortised over many inserts.
    fn prune(&mut self, now: Timestamp) {
        let due = self
            .swept_at
            .is_none_or(|at| now.duration_since(at) >= SignedDuration::from_mins(1));
        if due {
            self.entries
                .retain(|_, e| now.duration_since(e.last_seen) < EVENT_TTL);
            self.swept_at = Some(now);
        }
        if self.entries.len() < self.capacity {
            return;
        }
        let keep = self.capacity * 3 / 4;
        let mut by_age: Vec<(Timestamp, EventKey)> = self
            .entries
            .iter()
            .map(|(k, e)| (e.last_seen, k.clone()))
            .collect();
        by_age.sort_by_key(|(at, _)| *at);
        let excess = self.entries.len() - keep;
        for (_, key) in by_age.into_iter().take(excess) {
            self.entries.remove(&key);
        }
    }
}

/// Records events for one component (`kubelet`, `default-scheduler`, `daemonset-controller`).
#[derive(Debug, Clone)]
pub struct Recorder {
    store: Arc<Store>,
    component: String,
    /// Set for node-local components: the event's `source.host`.
    host: Option<String>,
    seen: Arc<Mutex<Seen>>,
}

impl Recorder {
    pub fn new(store: &Arc<Store>, component: &str) -> Self {
        Self::with_capacity(store, component, MAX_REMEMBERED_EVENTS)
    }

    /// A recorder that remembers at most `capacity` distinct events.
    pub fn with_capacity(store: &Arc<Store>, component: &str, capacity: usize) -> Self {
        Self {
            store: Arc::clone(store),
            component: component.to_string(),
            host: None,
            seen: Arc::new(Mutex::new(Seen::with_capacity(capacity))),
        }
    }

    /// How many distinct events the recorder (and its per-host copies) remembers.
    pub fn remembered(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entries
            .len()
    }

    /// A recorder for the same component on a given node (the kubelet's).
    #[must_use]
    pub fn on_host(&self, host: &str) -> Self {
        Self {
            host: Some(host.to_string()),
            ..self.clone()
        }
    }

    /// Records an event, or counts a repeat of one already recorded.
    pub fn record(&self, object: &ObjectRef, kind: EventKind, reason: &str, message: &str) {
        let registry = self.store.registry();
        let Some(events) = registry.get("", "v1", "events") else {
            return;
        };
        let namespace = if object.namespace.is_empty() {
            "default".to_string()
        } else {
            object.namespace.clone()
        };
        let now = self.store.clock.now();
        let key = (
            object.clone(),
            kind,
            reason.to_string(),
            message.to_string(),
        );
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = seen.entries.get_mut(&key) {
            entry.count += 1;
            entry.last_seen = now;
            let patch = json!({"count": entry.count, "lastTimestamp": rfc3339(now)});
            let repeated = self.store.patch(
                &events,
                &namespace,
                &entry.name,
                PatchType::Merge,
                &patch,
                Part::Main,
                &WriteOptions::manager(&self.component),
            );
            if repeated.is_ok() {
                return;
            }
        }
        // Only a new entry can grow the memory, so only then is it pruned.
        seen.prune(now);
        let stamp = u64::try_from(now.as_nanosecond()).unwrap_or(0);
        let mut source = json!({"component": self.component});
        if let Some(host) = &self.host {
            source["host"] = json!(host);
        }
        // Names are `<object>.<nanoseconds>`. Two events about one object at the same instant
        // (a pinned test clock, or Created and Started in one kubelet step) take the next
        // nanosecond instead of colliding, as they would a moment apart on a real clock.
        for offset in 0..64 {
            let name = format!("{}.{:x}", object.name, stamp + offset);
            let event = json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {"apiVersion": object.api_version, "kind": object.kind, "namespace": object.namespace, "name": object.name, "uid": object.uid},
                "reason": reason, "message": message, "type": kind.as_str(),
                "source": source,
                "firstTimestamp": rfc3339(now), "lastTimestamp": rfc3339(now), "count": 1,
                "eventTime": null,
                "reportingComponent": self.component, "reportingInstance": self.host.clone().unwrap_or_default(),
            });
            match self.store.create(
                &events,
                Some(&namespace),
                event,
                &WriteOptions::manager(&self.component),
            ) {
                Ok(_) => {
                    seen.entries.insert(
                        key,
                        Remembered {
                            name,
                            count: 1,
                            last_seen: now,
                        },
                    );
                    return;
                }
                Err(err) if err.code == 409 => {}
                // A namespace being deleted, say: events are best effort, as in client-go.
                Err(err) => {
                    tracing::debug!(%err, reason, "event not recorded");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sim::clock::SystemClock;
    use crate::sim::store::{ListOptions, StoreConfig};
    use serde_json::Value;

    #[test]
    fn repeats_are_counted_on_one_event() {
        let store = Arc::new(Store::new(Arc::new(SystemClock), StoreConfig::default()));
        let registry = store.registry();
        let ns = registry.get("", "v1", "namespaces").unwrap();
        store
            .seed(&ns, json!({"metadata": {"name": "default"}}))
            .unwrap();
        let recorder = Recorder::new(&store, "kubelet").on_host("n1");
        let pod = ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "default".into(),
            name: "web".into(),
            uid: "u1".into(),
        };
        recorder.record(
            &pod,
            EventKind::Warning,
            "FailedCreatePodSandBox",
            "no network",
        );
        recorder.record(
            &pod,
            EventKind::Warning,
            "FailedCreatePodSandBox",
            "no network",
        );
        recorder.record(&pod, EventKind::Normal, "Scheduled", "assigned");
        let events = registry.get("", "v1", "events").unwrap();
        let list = store
            .list(&events, Some("default"), &ListOptions::default())
            .unwrap();
        assert_eq!(list.items.len(), 2);
        let failed = list
            .items
            .iter()
            .map(|o| o.value().unwrap())
            .find(|e| e["reason"] == "FailedCreatePodSandBox")
            .unwrap();
        assert_eq!(failed["count"], 2);
        assert_eq!(
            failed["source"],
            json!({"component": "kubelet", "host": "n1"})
        );
        assert_eq!(failed["involvedObject"]["name"], "web");
    }

    #[test]
    fn events_at_the_same_instant_get_their_own_objects() {
        let start = "2026-11-29T10:00:00Z".parse().unwrap();
        let clock = Arc::new(crate::sim::clock::ManualClock::new(start));
        let store = Arc::new(Store::new(clock, StoreConfig::default()));
        let ns = store.registry().get("", "v1", "namespaces").unwrap();
        store
            .seed(&ns, json!({"metadata": {"name": "default"}}))
            .unwrap();
        let recorder = Recorder::new(&store, "kubelet").on_host("n1");
        let pod = ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "default".into(),
            name: "web".into(),
            uid: "u1".into(),
        };
        recorder.record(&pod, EventKind::Normal, "Created", "Created container: web");
        recorder.record(&pod, EventKind::Normal, "Started", "Started container web");
        let events = store.registry().get("", "v1", "events").unwrap();
        let list = store
            .list(&events, Some("default"), &ListOptions::default())
            .unwrap();
        let names: Vec<&str> = list.items.iter().map(|o| o.name.as_str()).collect();
        // 2026-11-29T10:00:00Z is 1_795_946_400 s after the epoch.
        assert_eq!(names, ["web.18ec7bbc47a44000", "web.18ec7bbc47a44001"]);
    }

    fn pod(name: &str) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "default".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
        }
    }

    fn manual_store() -> (Arc<crate::sim::clock::ManualClock>, Arc<Store>) {
        let start = "2026-11-29T10:00:00Z".parse().unwrap();
        let clock = Arc::new(crate::sim::clock::ManualClock::new(start));
        let store = Arc::new(Store::new(clock.clone(), StoreConfig::default()));
        let ns = store.registry().get("", "v1", "namespaces").unwrap();
        store
            .seed(&ns, json!({"metadata": {"name": "default"}}))
            .unwrap();
        (clock, store)
    }

    fn event_count(store: &Store) -> usize {
        let events = store.registry().get("", "v1", "events").unwrap();
        store
            .list(&events, Some("default"), &ListOptions::default())
            .unwrap()
            .items
            .len()
    }

    #[test]
    fn memory_is_bounded_and_evicts_the_least_recently_seen() {
        let (clock, store) = manual_store();
        let recorder = Recorder::with_capacity(&store, "kubelet", 8);
        // Eight distinct events, one a second, fill the memory exactly.
        for i in 0..8 {
            recorder.record(&pod(&format!("p{i}")), EventKind::Normal, "Pulled", "x");
            clock.advance(SignedDuration::from_secs(1));
        }
        assert_eq!(recorder.remembered(), 8);
        // p0 seen again: it becomes the most recent.
        recorder.record(&pod("p0"), EventKind::Normal, "Pulled", "x");
        clock.advance(SignedDuration::from_secs(1));
        // The next record prunes 8 -> 6 (dropping p1 and p2, the two least recently seen),
        // then the new event makes 7.
        recorder.record(&pod("p8"), EventKind::Normal, "Pulled", "x");
        assert_eq!(recorder.remembered(), 7);
        // p0 was kept, so its repeat is counted on its first Event (3 in all); p1 was
        // forgotten, so its repeat makes a second Event object.
        clock.advance(SignedDuration::from_secs(1));
        recorder.record(&pod("p0"), EventKind::Normal, "Pulled", "x");
        recorder.record(&pod("p1"), EventKind::Normal, "Pulled", "x");
        let events = store.registry().get("", "v1", "events").unwrap();
        let list = store
            .list(&events, Some("default"), &ListOptions::default())
            .unwrap();
        let of = |name: &str| -> Vec<Value> {
            list.items
                .iter()
                .map(|o| o.value().unwrap())
                .filter(|e| e["involvedObject"]["name"] == name)
                .collect()
        };
        assert_eq!(of("p0").len(), 1);
        assert_eq!(of("p0")[0]["count"], 3);
        assert_eq!(of("p1").len(), 2);
        // 9 first events (p0..p8) plus p1's second.
        assert_eq!(event_count(&store), 10);
    }

    #[test]
    fn entries_past_the_event_ttl_are_forgotten() {
        let (clock, store) = manual_store();
        let recorder = Recorder::new(&store, "kubelet");
        recorder.record(&pod("old"), EventKind::Warning, "BackOff", "x");
        clock.advance(SignedDuration::from_mins(30));
        recorder.record(&pod("recent"), EventKind::Warning, "BackOff", "x");
        assert_eq!(recorder.remembered(), 2);
        // 61 minutes after the first: the first is past the one-hour TTL, the second is not.
        clock.advance(SignedDuration::from_mins(31));
        recorder.record(&pod("new"), EventKind::Warning, "BackOff", "x");
        assert_eq!(recorder.remembered(), 2);
        recorder.record(&pod("recent"), EventKind::Warning, "BackOff", "x");
        assert_eq!(recorder.remembered(), 2);
        assert_eq!(event_count(&store), 3);
    }
}
