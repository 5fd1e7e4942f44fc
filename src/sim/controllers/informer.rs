//! A controller's view of one resource: a cache kept current from the store's change stream,
//! holding only what the controller projects out of each object (a few fields, not the JSON
//! tree), so 50,000 pods cost a controller kilobytes of facts instead of gigabytes of trees.
//! Like client-go informers it relists when it falls behind. It also owns `Subscription`, the
//! store's change stream in a form a loop can poll while the controller that holds it is
//! borrowed elsewhere. It reads the store and never writes to it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};

use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::ReusableBoxFuture;

use crate::sim::resource::ResourceType;
use crate::sim::store::{EventType, ListOptions, Store, StoredObject, WatchEvent};

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects.
pub type Key = (String, String);

/// What changed for one key since the last call.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<T> {
    Upsert(Key, Arc<T>),
    Removed(Key),
}

type Receiver = broadcast::Receiver<Arc<WatchEvent>>;

/// A store change stream that keeps its pending receive inside itself, so it can be polled
/// through a `&mut` taken afresh on every poll (as a controller's run loop does) without
/// losing its place or its wake-up between polls. Like the receive it wraps, it is cancel
/// safe: nothing is lost when the future that polls it is dropped.
pub struct Subscription {
    next: ReusableBoxFuture<'static, (Result<Arc<WatchEvent>, RecvError>, Receiver)>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Subscription {
    pub fn new(receiver: Receiver) -> Self {
        Self {
            next: ReusableBoxFuture::new(receive(receiver)),
        }
    }

    /// The next event; while none is published, `cx` is woken when one is.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Arc<WatchEvent>, RecvError>> {
        let (result, receiver) = ready!(self.next.poll(cx));
        self.next.set(receive(receiver));
        Poll::Ready(result)
    }

    /// The next event already published, or `None` without waiting.
    pub fn try_recv(&mut self) -> Option<Result<Arc<WatchEvent>, RecvError>> {
        match self.poll_recv(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(result) => Some(result),
            Poll::Pending => None,
        }
    }

    fn replace(&mut self, receiver: Receiver) {
        self.next.set(receive(receiver));
    }
}

/// One receive that owns its receiver and hands it back with the result.
async fn receive(mut receiver: Receiver) -> (Result<Arc<WatchEvent>, RecvError>, Receiver) {
    let result = receiver.recv().await;
    (result, receiver)
}

/// A projected cache of one resource.
pub struct Informer<T> {
    store: Arc<Store>,
    rt: Arc<ResourceType>,
    project: fn(&StoredObject) -> Option<T>,
    cache: BTreeMap<Key, Arc<T>>,
    events: Subscription,
}

impl<T> std::fmt::Debug for Informer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Informer")
            .field("resource", &self.rt.plural)
            .field("cached", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl<T> Informer<T> {
    /// Starts following a resource; `None` while it is not served (a CRD not yet created).
    /// `project` returns `None` for objects the controller ignores.
    pub fn new(
        store: &Arc<Store>,
        group: &str,
        version: &str,
        plural: &str,
        project: fn(&StoredObject) -> Option<T>,
    ) -> Option<Self> {
        let rt = store.registry().get(group, version, plural)?;
        let (items, _, receiver) = store.snapshot_and_follow(&rt, None, &ListOptions::default());
        let cache = items
            .iter()
            .filter_map(|o| project(o).map(|t| (key_of(o), Arc::new(t))))
            .collect();
        Some(Self {
            store: Arc::clone(store),
            rt,
            project,
            cache,
            events: Subscription::new(receiver),
        })
    }

    pub fn resource(&self) -> &ResourceType {
        &self.rt
    }

    /// Waits for the next batch of changes and applies them to the cache. `None` when the
    /// resource stopped being served (its CRD was deleted).
    pub async fn changed(&mut self) -> Option<Vec<Change<T>>> {
        std::future::poll_fn(|cx| self.poll_changed(cx)).await
    }

    /// `changed` as a poll: the next batch of changes, applied to the cache, once there is one.
    pub fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<Option<Vec<Change<T>>>> {
        let first = match ready!(self.events.poll_recv(cx)) {
            Ok(event) => event,
            Err(RecvError::Lagged(_)) => return Poll::Ready(Some(self.relist())),
            Err(RecvError::Closed) => return Poll::Ready(None),
        };
        let mut changes = vec![self.apply(&first)];
        while let Some(next) = self.events.try_recv() {
            match next {
                Ok(event) => changes.push(self.apply(&event)),
                Err(RecvError::Lagged(_)) => return Poll::Ready(Some(self.relist())),
                Err(RecvError::Closed) => return Poll::Ready(None),
            }
        }
        Poll::Ready(Some(changes))
    }

    /// The whole cache as changes, as a controller's first batch: what the informer has
    /// listed, reported the way later additions are.
    pub fn listed(&self) -> Vec<Change<T>> {
        self.cache
            .iter()
            .map(|(k, v)| Change::Upsert(k.clone(), Arc::clone(v)))
            .collect()
    }

    fn apply(&mut self, event: &WatchEvent) -> Change<T> {
        let key = key_of(&event.object);
        let projected = if event.kind == EventType::Deleted {
            None
        } else {
            (self.project)(&event.object)
        };
        if let Some(value) = projected {
            let value = Arc::new(value);
            self.cache.insert(key.clone(), Arc::clone(&value));
            Change::Upsert(key, value)
        } else {
            self.cache.remove(&key);
            Change::Removed(key)
        }
    }

    /// Rebuilds the cache from the store after falling behind; reports every key.
    fn relist(&mut self) -> Vec<Change<T>> {
        let (items, _, receiver) =
            self.store
                .snapshot_and_follow(&self.rt, None, &ListOptions::default());
        self.events.replace(receiver);
        let fresh: BTreeMap<Key, Arc<T>> = items
            .iter()
            .filter_map(|o| (self.project)(o).map(|t| (key_of(o), Arc::new(t))))
            .collect();
        let mut changes: Vec<Change<T>> = self
            .cache
            .keys()
            .filter(|k| !fresh.contains_key(*k))
            .map(|k| Change::Removed(k.clone()))
            .collect();
        changes.extend(
            fresh
                .iter()
                .map(|(k, v)| Change::Upsert(k.clone(), Arc::clone(v))),
        );
        self.cache = fresh;
        changes
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<&Arc<T>> {
        self.cache.get(&(namespace.to_string(), name.to_string()))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Arc<T>)> {
        self.cache.iter()
    }

    /// Objects of one namespace.
    pub fn in_namespace<'a>(
        &'a self,
        namespace: &'a str,
    ) -> impl Iterator<Item = (&'a Key, &'a Arc<T>)> {
        self.cache
            .range((namespace.to_string(), String::new())..)
            .take_while(move |((ns, _), _)| ns == namespace)
    }

    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

fn key_of(obj: &StoredObject) -> Key {
    (obj.namespace.clone(), obj.name.clone())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sim::clock::SystemClock;
    use crate::sim::store::StoreConfig;
    use crate::sim::write::WriteOptions;
    use serde_json::json;

    fn name_and_data(obj: &StoredObject) -> Option<String> {
        let value = obj.value().ok()?;
        value
            .pointer("/data/keep")
            .and_then(|v| v.as_str())
            .map(|v| format!("{}={v}", obj.name))
    }

    #[tokio::test]
    async fn follows_changes_and_relists_when_behind() {
        let store = Arc::new(Store::new(
            Arc::new(SystemClock),
            StoreConfig {
                watch_buffer: 4,
                ..StoreConfig::default()
            },
        ));
        let registry = store.registry();
        let ns = registry.get("", "v1", "namespaces").unwrap();
        store
            .seed(&ns, json!({"metadata": {"name": "default"}}))
            .unwrap();
        let cms = registry.get("", "v1", "configmaps").unwrap();
        let cm = |name: &str, keep: Option<&str>| {
            let mut v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}});
            if let Some(k) = keep {
                v["data"] = json!({"keep": k});
            }
            v
        };
        store
            .create(&cms, None, cm("a", Some("1")), &WriteOptions::default())
            .unwrap();
        let mut informer = Informer::new(&store, "", "v1", "configmaps", name_and_data).unwrap();
        assert_eq!(
            informer.get("default", "a").map(|v| v.as_str()),
            Some("a=1")
        );
        store
            .create(&cms, None, cm("b", None), &WriteOptions::default())
            .unwrap();
        store
            .create(&cms, None, cm("c", Some("3")), &WriteOptions::default())
            .unwrap();
        let changes = informer.changed().await.unwrap();
        assert_eq!(changes.len(), 2);
        assert!(informer.get("default", "b").is_none(), "projected out");
        assert_eq!(informer.len(), 2);
        // Falling behind the buffer: the informer relists and reports everything.
        for i in 0..10 {
            store
                .create(
                    &cms,
                    None,
                    cm(&format!("x{i}"), Some("x")),
                    &WriteOptions::default(),
                )
                .unwrap();
        }
        let changes = informer.changed().await.unwrap();
        assert_eq!(informer.len(), 12);
        assert!(changes.len() >= 12);
        assert!(informer.in_namespace("default").count() == 12);
    }

    #[tokio::test]
    async fn a_subscription_keeps_its_place_between_polls() {
        use futures::FutureExt;

        let store = Arc::new(Store::new(Arc::new(SystemClock), StoreConfig::default()));
        let registry = store.registry();
        let ns = registry.get("", "v1", "namespaces").unwrap();
        store
            .seed(&ns, json!({"metadata": {"name": "default"}}))
            .unwrap();
        let cms = registry.get("", "v1", "configmaps").unwrap();
        let create = |name: &str| {
            let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}});
            store
                .create(&cms, None, body, &WriteOptions::default())
                .unwrap();
        };
        let (_, receiver) = store.follow(&cms, store.current_rv()).unwrap();
        let mut events = Subscription::new(receiver);
        assert!(events.try_recv().is_none(), "nothing published yet");
        // A wait given up before anything arrives loses nothing.
        assert!(
            std::future::poll_fn(|cx| events.poll_recv(cx))
                .now_or_never()
                .is_none()
        );
        create("a");
        create("b");
        let name = |received: Option<Result<Arc<WatchEvent>, RecvError>>| {
            received.unwrap().unwrap().object.name.clone()
        };
        assert_eq!(name(events.try_recv()), "a");
        assert_eq!(name(events.try_recv()), "b");
        assert!(events.try_recv().is_none());
        // A poll that found nothing is woken by the next event.
        let waiting = tokio::spawn(async move {
            let event = std::future::poll_fn(|cx| events.poll_recv(cx)).await;
            event.unwrap().object.name.clone()
        });
        tokio::task::yield_now().await;
        create("c");
        assert_eq!(waiting.await.unwrap(), "c");
    }
}
