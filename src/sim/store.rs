//! The object store behind the simulated API server: every object of every resource, as
//! compact JSON bytes plus the few parsed fields selectors need, one cluster-wide
//! `resourceVersion` counter, and a bounded log of change events that watches replay from.
//! It plays etcd and the watch cache. It knows nothing of HTTP; `write` holds the write
//! pipeline (defaults, validation, metadata) and `watch` turns the log into streams.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use super::error::ApiError;
use super::resource::{Registry, ResourceType, StorageKey};
use super::selector::{FieldSelector, LabelSelector, field_value, supported_fields};

/// One stored version of one object.
#[derive(Debug)]
pub struct StoredObject {
    /// The whole object, compact JSON, with `metadata.resourceVersion` already set.
    pub json: Bytes,
    pub rv: u64,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
    /// Field-selector values for the kind's supported fields.
    pub fields: Vec<(&'static str, String)>,
    /// `metadata.ownerReferences[].uid`, for garbage collection.
    pub owner_uids: Vec<String>,
}

impl StoredObject {
    /// Builds the stored form of an object whose `resourceVersion` is already set.
    pub fn from_value(kind: &str, value: &Value, rv: u64) -> Result<Self, ApiError> {
        let json = serde_json::to_vec(value)
            .map_err(|e| ApiError::internal(format!("encoding object: {e}")))?;
        let meta = &value["metadata"];
        let text = |key: &str| {
            meta.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let labels = meta
            .get("labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let fields = supported_fields(kind)
            .iter()
            .filter(|f| !f.starts_with("metadata."))
            .filter_map(|f| field_value(kind, value, f).map(|v| (*f, v)))
            .collect();
        let owner_uids = meta
            .get("ownerReferences")
            .and_then(Value::as_array)
            .map(|refs| {
                refs.iter()
                    .filter_map(|r| r.get("uid").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            json: Bytes::from(json),
            rv,
            namespace: text("namespace"),
            name: text("name"),
            uid: text("uid"),
            labels,
            fields,
            owner_uids,
        })
    }

    /// The object parsed back into a JSON tree.
    pub fn value(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.json)
            .map_err(|e| ApiError::internal(format!("decoding stored object: {e}")))
    }

    /// A field-selector value; a field the kind does not index reads as empty.
    pub fn field(&self, field: &str) -> Option<String> {
        match field {
            "metadata.name" => Some(self.name.clone()),
            "metadata.namespace" => Some(self.namespace.clone()),
            _ => self
                .fields
                .iter()
                .find(|(f, _)| *f == field)
                .map(|(_, v)| v.clone()),
        }
    }

    pub fn matches(&self, labels: &LabelSelector, fields: &FieldSelector) -> bool {
        labels.matches(&self.labels) && fields.matches(|f| self.field(f))
    }
}

/// What happened to an object, as a watch reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug)]
pub struct WatchEvent {
    pub rv: u64,
    pub key: StorageKey,
    pub kind: EventType,
    pub object: Arc<StoredObject>,
    /// The version this one replaced, so a selector-filtered watch can tell "left the selection".
    pub previous: Option<Arc<StoredObject>>,
}

/// Tunables of a store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// How many change events the watch log keeps; older versions answer `410 Gone`.
    pub event_history: usize,
    /// Seed for generated names and uids, so scenarios are reproducible.
    pub seed: u64,
    /// Events a watch may fall behind before the server drops it (the client re-watches).
    pub watch_buffer: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            event_history: 50_000,
            seed: 0x005e_ed0f_9001,
            watch_buffer: 16_384,
        }
    }
}

type ObjectMap = BTreeMap<(String, String), Arc<StoredObject>>;
/// Objects of one list result, shared between pages.
type Items = Arc<Vec<Arc<StoredObject>>>;
/// Logged events after a version, and the live feed after them.
pub(crate) type Follow = (Vec<Arc<WatchEvent>>, broadcast::Receiver<Arc<WatchEvent>>);

/// A paged list in progress: the matching objects as of one resourceVersion.
struct ListSnapshot {
    items: Arc<Vec<Arc<StoredObject>>>,
    rv: u64,
    created: Instant,
}

const LIST_SNAPSHOT_TTL: Duration = Duration::from_secs(300);
const LIST_SNAPSHOT_MAX: usize = 64;

pub(crate) struct Inner {
    pub(crate) registry: Arc<Registry>,
    objects: HashMap<StorageKey, ObjectMap>,
    pub(crate) rv: u64,
    log: VecDeque<Arc<WatchEvent>>,
    /// Every event with `rv <= compacted_rv` has left the log.
    compacted_rv: u64,
    channels: HashMap<StorageKey, broadcast::Sender<Arc<WatchEvent>>>,
    /// owner uid -> dependents, for garbage collection.
    dependents: HashMap<String, Vec<(StorageKey, String, String)>>,
    /// uid -> where the object lives, for owner lookups.
    uids: HashMap<String, (StorageKey, String, String)>,
    snapshots: HashMap<u64, ListSnapshot>,
    next_snapshot: u64,
}

/// The shared store. Clone the `Arc` to share it between the HTTP server and controllers.
pub struct Store {
    inner: Mutex<Inner>,
    pub clock: Arc<dyn Clock>,
    rng: Mutex<ChaCha8Rng>,
    /// How often each key has drawn from `draw`, by the key's hash.
    draws: Mutex<HashMap<u64, u32>>,
    config: StoreConfig,
    /// Cancelled when the server shuts down, ending every watch.
    pub shutdown: CancellationToken,
    /// Per-node faults the kubelet honours.
    pub faults: super::faults::Faults,
    /// Set while a scenario converges before serving: controllers then avoid decisions that
    /// depend on which of several concurrent changes they saw first (see `set_converging`).
    converging: std::sync::atomic::AtomicBool,
    /// Set while the scheduler writes a batch of bindings during convergence.
    binding: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A list answer: the page, the list's resourceVersion and where to continue.
#[derive(Debug)]
pub struct ListPage {
    pub items: Vec<Arc<StoredObject>>,
    pub rv: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

/// What a list asks for.
#[derive(Debug, Default, Clone)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

impl Store {
    pub fn new(clock: Arc<dyn Clock>, config: StoreConfig) -> Self {
        Self {
            inner: Mutex::new(Inner {
                registry: Arc::new(Registry::with_builtins()),
                objects: HashMap::new(),
                rv: 1,
                log: VecDeque::new(),
                compacted_rv: 0,
                channels: HashMap::new(),
                dependents: HashMap::new(),
                uids: HashMap::new(),
                snapshots: HashMap::new(),
                next_snapshot: 1,
            }),
            clock,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed)),
            draws: Mutex::new(HashMap::new()),
            config,
            shutdown: CancellationToken::new(),
            faults: super::faults::Faults::default(),
            converging: std::sync::atomic::AtomicBool::new(false),
            binding: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the maps consistent (every mutation is a single
        // insert or remove), so a poisoned lock is still safe to use.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The registry as of now; cheap to hold while serving one request.
    pub fn registry(&self) -> Arc<Registry> {
        Arc::clone(&self.lock().registry)
    }

    pub(crate) fn update_registry(&self, change: impl FnOnce(&mut Registry)) {
        let mut inner = self.lock();
        change(Arc::make_mut(&mut inner.registry));
    }

    /// The latest committed resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// The oldest resourceVersion a watch can still start from.
    pub fn compacted_rv(&self) -> u64 {
        self.lock().compacted_rv
    }

    /// Marks the time a scenario's script plays before the server serves. While it runs, the
    /// scheduler places a pod only once every node it could run on has come up, so where
    /// workloads land does not depend on which node won the race to Ready.
    pub fn set_converging(&self, on: bool) {
        self.converging
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn converging(&self) -> bool {
        self.converging.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The scheduler marks a batch of bindings it writes while converging, so the kubelet
    /// takes the batch in whole (its pods' sandboxes then start in name order).
    pub fn set_binding(&self, on: bool) {
        self.binding.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn binding(&self) -> bool {
        self.binding.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The next number of a keyed sequence: the n-th draw for a key is the same in every run
    /// with the same seed, whatever other keys drew meanwhile. Controllers run concurrently,
    /// so one shared generator would hand out its numbers in whatever order their tasks
    /// happen to run; per-key sequences keep generated names, uids and delays reproducible.
    pub fn draw(&self, key: &str) -> u64 {
        let hashed = mix(fnv1a_64(key.as_bytes()) ^ mix(self.config.seed));
        let n = {
            let mut draws = self
                .draws
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let count = draws.entry(hashed).or_insert(0);
            let n = *count;
            *count = count.wrapping_add(1);
            n
        };
        mix(hashed ^ mix(u64::from(n).wrapping_add(0x9e37_79b9_7f4a_7c15)))
    }

    /// A number below `bound` from the key's sequence (0 when `bound` is 0).
    pub fn draw_below(&self, key: &str, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        self.draw(key) % bound
    }

    /// A lower-case suffix for `generateName`, as the apiserver makes them, from the key's
    /// sequence (the caller names what makes the object distinct: its prefix and node).
    pub fn generated_suffix(&self, key: &str) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut n = self.draw(key);
        (0..5)
            .map(|_| {
                // The remainder is below the alphabet's length, so the index is in range.
                let index = usize::try_from(n % ALPHABET.len() as u64).unwrap_or(0);
                n /= ALPHABET.len() as u64;
                char::from(ALPHABET[index])
            })
            .collect()
    }

    /// A version-4 UUID from the key's sequence: an object's kind, namespace and name, so a
    /// recreated object gets a new uid and every run the same ones.
    pub fn uid_for(&self, key: &str) -> String {
        let high = self.draw(key).to_be_bytes();
        let low = self.draw(key).to_be_bytes();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&high);
        bytes[8..].copy_from_slice(&low);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// A number below `bound` from the store's shared seeded generator (0 when `bound` is 0).
    /// Reproducible only when one task draws; concurrent controllers use `draw_below`.
    pub fn random_below(&self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rng.random_range(0..bound)
    }

    pub fn get(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<StoredObject>, ApiError> {
        let ns = if rt.namespaced { namespace } else { "" };
        self.lock()
            .objects
            .get(&rt.storage_key())
            .and_then(|m| m.get(&(ns.to_string(), name.to_string())))
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt.group_resource(), name))
    }

    /// Like `get`, but `None` instead of an error when absent.
    pub fn try_get(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<StoredObject>> {
        self.get(rt, namespace, name).ok()
    }

    /// Lists one resource, optionally within one namespace, with selectors and paging.
    pub fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<ListPage, ApiError> {
        let (items, rv, offset) = if let Some(token) = &opts.continue_token {
            self.resume_snapshot(token)?
        } else {
            let inner = self.lock();
            let items = Self::matching(&inner, rt, namespace, opts);
            (Arc::new(items), inner.rv, 0)
        };
        let Some(limit) = opts.limit.filter(|&l| l > 0 && offset + l < items.len()) else {
            let page = items.get(offset..).map(<[_]>::to_vec).unwrap_or_default();
            return Ok(ListPage {
                items: page,
                rv,
                continue_token: None,
                remaining: None,
            });
        };
        let end = offset + limit;
        let page = items[offset..end].to_vec();
        let remaining = items.len() - end;
        let token = self.save_snapshot(items, rv, end, opts.continue_token.as_deref());
        Ok(ListPage {
            items: page,
            rv,
            continue_token: Some(token),
            remaining: Some(remaining),
        })
    }

    fn matching(
        inner: &Inner,
        rt: &ResourceType,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Vec<Arc<StoredObject>> {
        let Some(map) = inner.objects.get(&rt.storage_key()) else {
            return Vec::new();
        };
        let keep = |obj: &&Arc<StoredObject>| obj.matches(&opts.labels, &opts.fields);
        match namespace.filter(|_| rt.namespaced) {
            Some(ns) => {
                let start = (ns.to_string(), String::new());
                map.range(start..)
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, o)| o)
                    .filter(keep)
                    .cloned()
                    .collect()
            }
            None => map.values().filter(keep).cloned().collect(),
        }
    }

    fn save_snapshot(
        &self,
        items: Arc<Vec<Arc<StoredObject>>>,
        rv: u64,
        next: usize,
        previous: Option<&str>,
    ) -> String {
        let mut inner = self.lock();
        let id = match previous.and_then(|t| decode_continue(t).ok()) {
            Some((id, _, _)) if inner.snapshots.contains_key(&id) => id,
            _ => {
                let id = inner.next_snapshot;
                inner.next_snapshot += 1;
                let now = Instant::now();
                inner
                    .snapshots
                    .retain(|_, s| now.duration_since(s.created) < LIST_SNAPSHOT_TTL);
                if inner.snapshots.len() >= LIST_SNAPSHOT_MAX
                    && let Some(oldest) = inner
                        .snapshots
                        .iter()
                        .min_by_key(|(_, s)| s.created)
                        .map(|(k, _)| *k)
                {
                    inner.snapshots.remove(&oldest);
                }
                inner.snapshots.insert(
                    id,
                    ListSnapshot {
                        items,
                        rv,
                        created: now,
                    },
                );
                id
            }
        };
        encode_continue(id, rv, next)
    }

    fn resume_snapshot(&self, token: &str) -> Result<(Items, u64, usize), ApiError> {
        let (id, rv, offset) = decode_continue(token).map_err(|()| {
            ApiError::bad_request("invalid continue token: the token is not one this server issued")
        })?;
        let inner = self.lock();
        match inner.snapshots.get(&id) {
            Some(snap) if snap.rv == rv && offset <= snap.items.len() => {
                Ok((Arc::clone(&snap.items), rv, offset))
            }
            _ => Err(ApiError::expired(
                "The provided continue parameter is too old to display a consistent list result. \
                 You can start a new list without the continue parameter.",
            )),
        }
    }

    /// Every object in a namespace, across resources (namespace deletion).
    pub fn namespace_contents(
        &self,
        namespace: &str,
    ) -> Vec<(Arc<ResourceType>, Arc<StoredObject>)> {
        let inner = self.lock();
        let mut out = Vec::new();
        for rt in inner.registry.types() {
            if !rt.namespaced {
                continue;
            }
            // Versions share storage; visit each storage key once.
            if inner
                .registry
                .types()
                .find(|o| o.storage_key() == rt.storage_key())
                .is_some_and(|first| first.version != rt.version)
            {
                continue;
            }
            if let Some(map) = inner.objects.get(&rt.storage_key()) {
                let start = (namespace.to_string(), String::new());
                for (_, obj) in map.range(start..).take_while(|((n, _), _)| n == namespace) {
                    out.push((Arc::clone(rt), Arc::clone(obj)));
                }
            }
        }
        out
    }

    /// Objects whose ownerReferences name the uid.
    pub fn dependents_of(&self, uid: &str) -> Vec<(Arc<ResourceType>, Arc<StoredObject>)> {
        let inner = self.lock();
        let Some(deps) = inner.dependents.get(uid) else {
            return Vec::new();
        };
        deps.iter()
            .filter_map(|(key, ns, name)| {
                let rt = inner.registry.types().find(|rt| rt.storage_key() == *key)?;
                let obj = inner.objects.get(key)?.get(&(ns.clone(), name.clone()))?;
                Some((Arc::clone(rt), Arc::clone(obj)))
            })
            .collect()
    }

    /// The live object with this uid, if any.
    pub fn by_uid(&self, uid: &str) -> Option<(Arc<ResourceType>, Arc<StoredObject>)> {
        let inner = self.lock();
        let (key, ns, name) = inner.uids.get(uid)?;
        let rt = inner.registry.types().find(|rt| rt.storage_key() == *key)?;
        let obj = inner.objects.get(key)?.get(&(ns.clone(), name.clone()))?;
        Some((Arc::clone(rt), Arc::clone(obj)))
    }

    /// Commits a new version of an object. `expect_rv` guards optimistic concurrency:
    /// `Some(0)` means "must not exist", `Some(n)` "must currently be at n", `None` unconditional.
    pub(crate) fn commit_put(
        &self,
        rt: &ResourceType,
        mut value: Value,
        expect_rv: Option<u64>,
    ) -> Result<Arc<StoredObject>, ApiError> {
        let key = rt.storage_key();
        let ns = if rt.namespaced {
            value["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        } else {
            String::new()
        };
        let name = value["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut inner = self.lock();
        if inner
            .registry
            .get(&rt.group, &rt.version, &rt.plural)
            .is_none()
        {
            return Err(ApiError::not_found(rt.group_resource(), &name));
        }
        let previous = inner
            .objects
            .get(&key)
            .and_then(|m| m.get(&(ns.clone(), name.clone())))
            .cloned();
        match (expect_rv, &previous) {
            (Some(0), Some(_)) => return Err(ApiError::already_exists(rt.group_resource(), &name)),
            (Some(n), Some(prev)) if n != 0 && prev.rv != n => {
                return Err(ApiError::stale_write(rt.group_resource(), &name));
            }
            (Some(n), None) if n != 0 => {
                return Err(ApiError::not_found(rt.group_resource(), &name));
            }
            _ => {}
        }
        let rv = inner.rv + 1;
        value["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let stored = Arc::new(StoredObject::from_value(&rt.kind, &value, rv)?);
        inner.rv = rv;
        if let Some(prev) = &previous {
            unindex_owners(&mut inner, &key, prev);
        }
        index_owners(&mut inner, &key, &stored);
        if !stored.uid.is_empty() {
            inner.uids.insert(
                stored.uid.clone(),
                (key.clone(), stored.namespace.clone(), stored.name.clone()),
            );
        }
        inner
            .objects
            .entry(key.clone())
            .or_default()
            .insert((ns, name), Arc::clone(&stored));
        let kind = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.publish(&mut inner, &key, kind, Arc::clone(&stored), previous);
        Ok(stored)
    }

    /// Removes an object for good, if it is still at `expect_rv` (when given).
    pub(crate) fn commit_delete(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        expect_rv: Option<u64>,
    ) -> Result<Arc<StoredObject>, ApiError> {
        let key = rt.storage_key();
        let ns = if rt.namespaced {
            namespace.to_string()
        } else {
            String::new()
        };
        let mut inner = self.lock();
        let current = inner
            .objects
            .get(&key)
            .and_then(|m| m.get(&(ns.clone(), name.to_string())))
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt.group_resource(), name))?;
        if expect_rv.is_some_and(|rv| rv != current.rv) {
            return Err(ApiError::stale_write(rt.group_resource(), name));
        }
        let rv = inner.rv + 1;
        let mut value = current.value()?;
        value["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let last = Arc::new(StoredObject::from_value(&rt.kind, &value, rv)?);
        inner.rv = rv;
        unindex_owners(&mut inner, &key, &current);
        inner.uids.remove(&current.uid);
        if let Some(map) = inner.objects.get_mut(&key) {
            map.remove(&(ns, name.to_string()));
        }
        self.publish(
            &mut inner,
            &key,
            EventType::Deleted,
            Arc::clone(&last),
            Some(current),
        );
        Ok(last)
    }

    /// Drops every object of a storage key (a CRD was deleted) and ends its watches.
    pub(crate) fn drop_resource(&self, rt: &ResourceType) -> Vec<Arc<StoredObject>> {
        let key = rt.storage_key();
        let names: Vec<(String, String)> = {
            let inner = self.lock();
            inner
                .objects
                .get(&key)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        let mut gone = Vec::new();
        for (ns, name) in names {
            if let Ok(obj) = self.commit_delete(rt, &ns, &name, None) {
                gone.push(obj);
            }
        }
        let mut inner = self.lock();
        inner.objects.remove(&key);
        // Dropping the sender ends every receiver: watches of a removed resource close.
        inner.channels.remove(&key);
        gone
    }

    fn publish(
        &self,
        inner: &mut Inner,
        key: &StorageKey,
        kind: EventType,
        object: Arc<StoredObject>,
        previous: Option<Arc<StoredObject>>,
    ) {
        let event = Arc::new(WatchEvent {
            rv: object.rv,
            key: key.clone(),
            kind,
            object,
            previous,
        });
        inner.log.push_back(Arc::clone(&event));
        while inner.log.len() > self.config.event_history {
            if let Some(old) = inner.log.pop_front() {
                inner.compacted_rv = old.rv;
            }
        }
        if let Some(sender) = inner.channels.get(key) {
            // No receivers is fine: nobody is watching this resource.
            let _ = sender.send(event);
        }
    }

    /// Starts following a resource from `from_rv`: returns the logged events after it and a
    /// receiver for everything later, with no gap between the two. `410 Gone` when the log no
    /// longer reaches back that far.
    pub(crate) fn follow(&self, rt: &ResourceType, from_rv: u64) -> Result<Follow, ApiError> {
        let key = rt.storage_key();
        let mut inner = self.lock();
        if from_rv < inner.compacted_rv {
            return Err(ApiError::expired(format!(
                "too old resource version: {from_rv} ({})",
                inner.compacted_rv + 1
            )));
        }
        let start = inner.log.partition_point(|e| e.rv <= from_rv);
        let backlog = inner
            .log
            .range(start..)
            .filter(|e| e.key == key)
            .cloned()
            .collect();
        let receiver = inner
            .channels
            .entry(key)
            .or_insert_with(|| broadcast::channel(self.config.watch_buffer.max(1)).0)
            .subscribe();
        Ok((backlog, receiver))
    }

    /// A consistent start for a watch without a resourceVersion: current objects plus a
    /// receiver for everything after them.
    pub(crate) fn snapshot_and_follow(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> (
        Vec<Arc<StoredObject>>,
        u64,
        broadcast::Receiver<Arc<WatchEvent>>,
    ) {
        let mut inner = self.lock();
        let items = Self::matching(&inner, rt, namespace, opts);
        let rv = inner.rv;
        let receiver = inner
            .channels
            .entry(rt.storage_key())
            .or_insert_with(|| broadcast::channel(self.config.watch_buffer.max(1)).0)
            .subscribe();
        (items, rv, receiver)
    }

    /// Objects of one resource in one namespace (`""` when cluster-scoped) whose names start
    /// with `prefix`, in name order: a range read of the ordered map, for controllers that find
    /// an owner's objects by a naming convention (Calico's `<host>-<cidr>` BlockAffinities)
    /// without copying the whole collection.
    pub fn list_name_prefix(
        &self,
        rt: &ResourceType,
        namespace: &str,
        prefix: &str,
    ) -> Vec<Arc<StoredObject>> {
        let ns = if rt.namespaced { namespace } else { "" };
        let inner = self.lock();
        let Some(map) = inner.objects.get(&rt.storage_key()) else {
            return Vec::new();
        };
        map.range((ns.to_string(), prefix.to_string())..)
            .take_while(|((n, name), _)| n == ns && name.starts_with(prefix))
            .map(|(_, o)| Arc::clone(o))
            .collect()
    }

    /// Number of stored objects of a resource (benchmarks and tests).
    pub fn count(&self, rt: &ResourceType) -> usize {
        self.lock()
            .objects
            .get(&rt.storage_key())
            .map_or(0, BTreeMap::len)
    }
}

fn index_owners(inner: &mut Inner, key: &StorageKey, obj: &StoredObject) {
    for uid in &obj.owner_uids {
        inner.dependents.entry(uid.clone()).or_default().push((
            key.clone(),
            obj.namespace.clone(),
            obj.name.clone(),
        ));
    }
}

fn unindex_owners(inner: &mut Inner, key: &StorageKey, obj: &StoredObject) {
    for uid in &obj.owner_uids {
        if let Some(list) = inner.dependents.get_mut(uid) {
            list.retain(|(k, ns, name)| !(k == key && *ns == obj.namespace && *name == obj.name));
            if list.is_empty() {
                inner.dependents.remove(uid);
            }
        }
    }
}

fn encode_continue(id: u64, rv: u64, offset: usize) -> String {
    use base64::Engine as _;
    let raw = serde_json::json!({ "v": "pooltop/1", "s": id, "rv": rv, "o": offset }).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_continue(token: &str) -> Result<(u64, u64, usize), ()> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| ())?;
    let doc: Value = serde_json::from_slice(&raw).map_err(|_| ())?;
    if doc["v"] != "pooltop/1" {
        return Err(());
    }
    let id = doc["s"].as_u64().ok_or(())?;
    let rv = doc["rv"].as_u64().ok_or(())?;
    let offset = doc["o"]
        .as_u64()
        .and_then(|o| usize::try_from(o).ok())
        .ok_or(())?;
    Ok((id, rv, offset))
}

/// FNV-1a (64 bit): a stable hash of a key, the same on every platform and release.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// splitmix64's finaliser: spreads every input bit over the whole word.
fn mix(mut h: u64) -> u64 {
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}
