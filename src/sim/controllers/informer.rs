//! A controller's view of one resource: a cache kept current from the store's change stream,
//! holding only what the controller projects out of each object (a few fields, not the JSON
//! tree), so 50,000 pods cost a controller kilobytes of facts instead of gigabytes of trees.
//! Like client-go informers it relists when it falls behind.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

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

/// A projected cache of one resource.
pub struct Informer<T> {
    store: Arc<Store>,
    rt: Arc<ResourceType>,
    project: fn(&StoredObject) -> Option<T>,
    cache: BTreeMap<Key, Arc<T>>,
    receiver: broadcast::Receiver<Arc<WatchEvent>>,
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
            receiver,
        })
    }

    pub fn resource(&self) -> &ResourceType {
        &self.rt
    }

    /// Waits for the next batch of changes and applies them to the cache. `None` when the
    /// resource stopped being served (its CRD was deleted).
    pub async fn changed(&mut self) -> Option<Vec<Change<T>>> {
        let first = match self.receiver.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(_)) => return Some(self.relist()),
            Err(RecvError::Closed) => return None,
        };
        let mut changes = vec![self.apply(&first)];
        loop {
            match self.receiver.try_recv() {
                Ok(event) => changes.push(self.apply(&event)),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Lagged(_)) => return Some(self.relist()),
                Err(TryRecvError::Closed) => return None,
            }
        }
        Some(changes)
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
        self.receiver = receiver;
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
}
