//! Kubernetes Events as components record them: one `core/v1` Event per (object, type,
//! reason, message), counted and re-stamped when it happens again, named
//! `<object>.<hex time>` in the object's namespace (`default` for cluster-scoped objects), as
//! client-go's recorder does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

/// Records events for one component (`kubelet`, `default-scheduler`, `daemonset-controller`).
#[derive(Debug, Clone)]
pub struct Recorder {
    store: Arc<Store>,
    component: String,
    /// Set for node-local components: the event's `source.host`.
    host: Option<String>,
    seen: Arc<Mutex<HashMap<EventKey, (String, u64)>>>,
}

impl Recorder {
    pub fn new(store: &Arc<Store>, component: &str) -> Self {
        Self {
            store: Arc::clone(store),
            component: component.to_string(),
            host: None,
            seen: Arc::default(),
        }
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
        if let Some((name, count)) = seen.get_mut(&key) {
            *count += 1;
            let patch = json!({"count": *count, "lastTimestamp": rfc3339(now)});
            let repeated = self.store.patch(
                &events,
                &namespace,
                name,
                PatchType::Merge,
                &patch,
                Part::Main,
                &WriteOptions::manager(&self.component),
            );
            if repeated.is_ok() {
                return;
            }
        }
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
                    seen.insert(key, (name, 1));
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
}
