//! The vocabulary the workload controllers (DaemonSet, ReplicaSet, Deployment, disruption)
//! share: what they read out of a pod, int-or-percent arithmetic, pod-template hashes,
//! controller references, owner indexes and the work queue their tick loops drain. It reads
//! objects and computes; it never writes to the store, so each controller stays the only
//! writer of what it owns.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use super::events::ObjectRef;
use super::informer::{Informer, Key};
use crate::sim::clock::parse_time;
use crate::sim::selector::LabelSelector;
use crate::sim::store::{Store, StoredObject};

/// How often a controller drains its informers and syncs what is due (real time).
pub const TICK: Duration = Duration::from_millis(100);

/// The field manager of every kube-controller-manager write, as real managedFields show it.
pub const FIELD_MANAGER: &str = "kube-controller-manager";

/// The characters `rand.SafeEncodeString` maps bytes onto: no vowels, no look-alikes.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The `ownerReferences` entry with `controller: true`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControllerRef {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub controller: Option<bool>,
}

/// `status.phase` of a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PodPhase {
    Pending,
    Unknown,
    Running,
    Succeeded,
    Failed,
}

/// A pod's labels, packed: a controller caches them for every pod it follows, and a map
/// per pod would cost more than everything else it keeps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Labels(Box<[(Box<str>, Box<str>)]>);

impl Labels {
    fn from_map(map: BTreeMap<String, String>) -> Self {
        Self(
            map.into_iter()
                .map(|(k, v)| (k.into_boxed_str(), v.into_boxed_str()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| &**k == key).map(|(_, v)| &**v)
    }

    pub fn selected_by(&self, selector: &LabelSelector) -> bool {
        let map: BTreeMap<String, String> = self
            .0
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        selector.matches(&map)
    }

    /// Carries every one of these labels (as a template's labels are checked).
    pub fn contains_all(&self, wanted: &BTreeMap<String, String>) -> bool {
        wanted.iter().all(|(k, v)| self.get(k) == Some(v.as_str()))
    }
}

/// What the workload controllers know about one pod.
#[derive(Debug, Clone, PartialEq)]
pub struct PodFacts {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub labels: Labels,
    pub controller: Option<ControllerRef>,
    /// `spec.nodeName`; empty while unscheduled.
    pub node_name: String,
    /// The node a DaemonSet pinned the pod to through `matchFields metadata.name In [node]`.
    pub affinity_node: Option<String>,
    pub phase: PodPhase,
    pub ready: bool,
    /// `lastTransitionTime` of the `Ready=True` condition.
    pub ready_since: Option<Timestamp>,
    pub terminating: bool,
    pub created: Timestamp,
    pub restarts: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PodDoc {
    metadata: MetaDoc,
    spec: PodSpecDoc,
    status: PodStatusDoc,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct MetaDoc {
    name: String,
    namespace: String,
    uid: String,
    labels: BTreeMap<String, String>,
    owner_references: Vec<ControllerRef>,
    creation_timestamp: Option<String>,
    deletion_timestamp: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PodSpecDoc {
    node_name: String,
    affinity: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PodStatusDoc {
    phase: String,
    conditions: Vec<ConditionDoc>,
    container_statuses: Vec<ContainerStatusDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ConditionDoc {
    #[serde(rename = "type")]
    kind: String,
    status: String,
    last_transition_time: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ContainerStatusDoc {
    restart_count: i64,
}

impl PodFacts {
    /// Reads a stored pod without building its JSON tree.
    pub fn from_stored(obj: &StoredObject) -> Option<Self> {
        let doc: PodDoc = serde_json::from_slice(&obj.json).ok()?;
        let ready = doc.status.conditions.iter().find(|c| c.kind == "Ready");
        let phase = match doc.status.phase.as_str() {
            "Running" => PodPhase::Running,
            "Succeeded" => PodPhase::Succeeded,
            "Failed" => PodPhase::Failed,
            "Unknown" => PodPhase::Unknown,
            _ => PodPhase::Pending,
        };
        Some(Self {
            controller: controller_of(&doc.metadata.owner_references),
            affinity_node: pinned_node(&doc.spec.affinity),
            node_name: doc.spec.node_name,
            phase,
            ready: ready.is_some_and(|c| c.status == "True"),
            ready_since: ready
                .filter(|c| c.status == "True")
                .and_then(|c| c.last_transition_time.as_deref())
                .and_then(parse_time),
            terminating: doc.metadata.deletion_timestamp.is_some(),
            created: doc
                .metadata
                .creation_timestamp
                .as_deref()
                .and_then(parse_time)
                .unwrap_or(Timestamp::UNIX_EPOCH),
            restarts: doc
                .status
                .container_statuses
                .iter()
                .map(|c| c.restart_count)
                .sum(),
            namespace: doc.metadata.namespace,
            name: doc.metadata.name,
            uid: doc.metadata.uid,
            labels: Labels::from_map(doc.metadata.labels),
        })
    }

    /// Owned by a controller of this kind.
    pub fn controlled_by_kind(&self, kind: &str) -> bool {
        self.controller.as_ref().is_some_and(|c| c.kind == kind)
    }

    pub fn controller_uid(&self) -> Option<&str> {
        self.controller.as_ref().map(|c| c.uid.as_str())
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self.phase, PodPhase::Succeeded | PodPhase::Failed)
    }

    /// Neither finished nor being deleted: what ReplicaSets count as replicas.
    pub fn is_active(&self) -> bool {
        !self.is_terminal() && !self.terminating
    }

    /// Ready for longer than `min_ready_seconds` (strictly), as `podutil.IsPodAvailable`.
    pub fn is_available(&self, min_ready_seconds: i64, now: Timestamp) -> bool {
        if !self.ready {
            return false;
        }
        if min_ready_seconds <= 0 {
            return true;
        }
        self.available_after(min_ready_seconds)
            .is_some_and(|at| at < now)
    }

    /// The instant after which a ready pod counts as available; `None` when it never will
    /// (not ready, or no transition time to count from).
    pub fn available_after(&self, min_ready_seconds: i64) -> Option<Timestamp> {
        let since = self.ready_since.filter(|_| self.ready)?;
        since
            .checked_add(SignedDuration::from_secs(min_ready_seconds.max(0)))
            .ok()
    }

    /// The node the pod runs on or is pinned to, as `util.GetTargetNodeName`.
    pub fn target_node(&self) -> Option<&str> {
        if self.node_name.is_empty() {
            self.affinity_node.as_deref()
        } else {
            Some(&self.node_name)
        }
    }
}

fn controller_of(refs: &[ControllerRef]) -> Option<ControllerRef> {
    refs.iter().find(|r| r.controller == Some(true)).cloned()
}

/// The node named by the first `matchFields metadata.name In [node]` of the required terms.
fn pinned_node(affinity: &Value) -> Option<String> {
    let terms = affinity
        .pointer("/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")?
        .as_array()?;
    terms
        .iter()
        .filter_map(|t| t.get("matchFields").and_then(Value::as_array))
        .flatten()
        .find(|r| r["key"] == "metadata.name" && r["operator"] == "In")
        .and_then(|r| r["values"].as_array())
        .filter(|values| values.len() == 1)
        .and_then(|values| values[0].as_str())
        .map(str::to_string)
}

/// `intstr.GetScaledValueFromIntOrPercent`: an integer as is, `"N%"` of `total`, rounded
/// up or down. A missing value is `default`.
pub fn scaled_value(
    value: Option<&Value>,
    default: i64,
    total: i64,
    round_up: bool,
) -> Result<i64, String> {
    match value {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("invalid value for IntOrString: {n}")),
        Some(Value::String(s)) => {
            let percent = s
                .strip_suffix('%')
                .and_then(|p| p.parse::<i64>().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid type: string is not a percentage: {s:?}"))?;
            let scaled = percent * total;
            Ok(if round_up {
                (scaled + 99).div_euclid(100)
            } else {
                scaled.div_euclid(100)
            })
        }
        Some(other) => Err(format!("invalid value for IntOrString: {other}")),
    }
}

/// The hash a controller names a template's revision by (`controller.ComputeHash`): FNV-1a
/// over the template's canonical JSON (and the collision count, when set), as a decimal
/// number spelled in the safe alphabet, so it looks like the `5d8f7c9b64` a cluster shows.
pub fn template_hash(template: &Value, collision_count: Option<i64>) -> String {
    let mut canonical = String::new();
    write_canonical(template, &mut canonical);
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |byte: u8| {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    };
    canonical.bytes().for_each(&mut feed);
    if let Some(count) = collision_count {
        // Low 32 bits, little endian, padded to 8 bytes, as the Go controllers feed it.
        let low = u32::try_from(count & 0xffff_ffff).unwrap_or(0);
        low.to_le_bytes()
            .into_iter()
            .chain([0; 4])
            .for_each(&mut feed);
    }
    hash.to_string()
        .bytes()
        .map(|b| char::from(SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()]))
        .collect()
}

/// JSON with object keys sorted at every level, independent of how the map was built.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// A pod template's identity as two controllers compare it (upstream compares the objects
/// semantically): with the apiserver's pod defaults filled in (a template patched after
/// creation may lack them) and empty values dropped, hashed so that hundreds of cached
/// templates cost eight bytes each.
pub fn template_fingerprint(template: &Value) -> u64 {
    let mut template = template.clone();
    if let Some(spec) = template.get_mut("spec").filter(|s| s.is_object()) {
        crate::sim::defaults::pod_spec(spec);
    }
    let mut canonical = String::new();
    write_canonical(&without_empties(&template), &mut canonical);
    canonical
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// Drops nulls, empty objects and empty arrays everywhere, so two templates that differ only
/// in how they spell "nothing" compare equal, as apimachinery's semantic equality does.
pub fn without_empties(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), without_empties(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_empties).collect()),
        other => other.clone(),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The `ownerReferences` entry a controller puts on what it creates.
pub fn controller_ref_json(kind: &str, name: &str, uid: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true})
}

/// The event subject for an `apps/v1` object.
pub fn apps_ref(kind: &str, namespace: &str, name: &str, uid: &str) -> ObjectRef {
    ObjectRef {
        api_version: "apps/v1".to_string(),
        kind: kind.to_string(),
        namespace: namespace.to_string(),
        name: name.to_string(),
        uid: uid.to_string(),
    }
}

/// Labels of a JSON `metadata.labels`-like object.
pub fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Dependents grouped by their controller's uid, kept current from informer changes.
#[derive(Debug, Default)]
pub struct OwnerIndex {
    by_owner: HashMap<String, BTreeSet<Key>>,
    owner_of: HashMap<Key, String>,
}

impl OwnerIndex {
    /// Records the key's owner (or that it has none); returns the previous owner.
    pub fn set(&mut self, key: &Key, owner: Option<&str>) -> Option<String> {
        let previous = self.remove(key);
        if let Some(owner) = owner {
            self.by_owner
                .entry(owner.to_string())
                .or_default()
                .insert(key.clone());
            self.owner_of.insert(key.clone(), owner.to_string());
        }
        previous
    }

    pub fn remove(&mut self, key: &Key) -> Option<String> {
        let owner = self.owner_of.remove(key)?;
        if let Some(keys) = self.by_owner.get_mut(&owner) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_owner.remove(&owner);
            }
        }
        Some(owner)
    }

    pub fn owned(&self, owner: &str) -> impl Iterator<Item = &Key> {
        self.by_owner.get(owner).into_iter().flatten()
    }
}

/// Keys to sync on the next tick, and keys to sync again at a simulated instant.
#[derive(Debug, Default)]
pub struct WorkQueue {
    dirty: BTreeSet<Key>,
    later: BTreeMap<Key, Timestamp>,
}

impl WorkQueue {
    pub fn add(&mut self, key: Key) {
        self.dirty.insert(key);
    }

    /// Syncs the key once `at` has passed; the earliest request wins.
    pub fn add_after(&mut self, key: Key, at: Timestamp) {
        self.later
            .entry(key)
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
    }

    /// Takes every key due at `now`, in key order.
    pub fn take_due(&mut self, now: Timestamp) -> Vec<Key> {
        let due: Vec<Key> = self
            .later
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.later.remove(&key);
            self.dirty.insert(key);
        }
        std::mem::take(&mut self.dirty).into_iter().collect()
    }

    pub fn forget(&mut self, key: &Key) {
        self.dirty.remove(key);
        self.later.remove(key);
    }
}

/// The instant just after `at`: availability counts from "strictly after", so a recheck
/// at exactly `at` would find nothing changed.
pub fn just_after(at: Timestamp) -> Timestamp {
    at.checked_add(SignedDuration::from_nanos(1)).unwrap_or(at)
}

/// Follows a resource once it is served; `None` when the store shuts down first.
pub async fn follow<T>(
    store: &Arc<Store>,
    group: &str,
    version: &str,
    plural: &str,
    project: fn(&StoredObject) -> Option<T>,
) -> Option<Informer<T>> {
    let mut retry = tokio::time::interval(Duration::from_secs(1));
    loop {
        if let Some(informer) = Informer::new(store, group, version, plural, project) {
            return Some(informer);
        }
        tokio::select! {
            () = store.shutdown.cancelled() => return None,
            _ = retry.tick() => {}
        }
    }
}

/// A manual clock for controller tests whose every reading is a nanosecond later than the
/// last, so two events recorded within one sync never get the same `<object>.<time>` name.
#[cfg(test)]
#[derive(Debug)]
pub struct TestClock {
    manual: crate::sim::clock::ManualClock,
    readings: std::sync::atomic::AtomicI64,
}

#[cfg(test)]
impl TestClock {
    pub fn new(start: &str) -> Self {
        let start = start.parse().unwrap_or(Timestamp::UNIX_EPOCH);
        Self {
            manual: crate::sim::clock::ManualClock::new(start),
            readings: std::sync::atomic::AtomicI64::new(0),
        }
    }

    pub fn advance(&self, by: SignedDuration) {
        self.manual.advance(by);
    }
}

#[cfg(test)]
impl crate::sim::clock::Clock for TestClock {
    fn now(&self) -> Timestamp {
        let reading = self
            .readings
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.manual
            .now()
            .checked_add(SignedDuration::from_nanos(reading))
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn percentages_scale_with_the_requested_rounding() {
        let v = json!("25%");
        assert_eq!(scaled_value(Some(&v), 0, 10, true), Ok(3));
        assert_eq!(scaled_value(Some(&v), 0, 10, false), Ok(2));
        assert_eq!(scaled_value(Some(&json!(4)), 0, 10, true), Ok(4));
        assert_eq!(scaled_value(None, 1, 10, true), Ok(1));
        assert!(scaled_value(Some(&json!("4")), 0, 10, true).is_err());
        assert_eq!(scaled_value(Some(&json!("0%")), 0, 10, true), Ok(0));
    }

    #[test]
    fn template_hashes_ignore_key_order_and_follow_collisions() {
        let a: Value =
            serde_json::from_str(r#"{"metadata":{"labels":{"a":"1","b":"2"}},"spec":{"x":1}}"#)
                .unwrap();
        let b: Value =
            serde_json::from_str(r#"{"spec":{"x":1},"metadata":{"labels":{"b":"2","a":"1"}}}"#)
                .unwrap();
        let hash = template_hash(&a, None);
        assert_eq!(hash, template_hash(&b, None));
        assert_ne!(hash, template_hash(&a, Some(1)));
        assert_ne!(hash, template_hash(&json!({"spec": {"x": 2}}), None));
        // Decimal digits spelled in the safe alphabet: only these ten characters occur.
        assert!(hash.chars().all(|c| "456789bcdf".contains(c)), "{hash}");
        assert!((1..=10).contains(&hash.len()));
    }

    #[test]
    fn the_hash_of_an_empty_object_is_fnv_of_two_braces() {
        // FNV-1a 32 of "{}": 0x811c9dc5 ^ '{' * prime, then ^ '}' * prime, worked by hand:
        let mut h: u32 = 0x811c_9dc5;
        for b in b"{}" {
            h = (h ^ u32::from(*b)).wrapping_mul(16_777_619);
        }
        let expected: String = h
            .to_string()
            .chars()
            .map(|d| "456789bcdf".as_bytes()[d.to_digit(10).unwrap() as usize] as char)
            .collect();
        assert_eq!(template_hash(&json!({}), None), expected);
    }

    #[test]
    fn pods_read_their_target_node_and_readiness() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "creationTimestamp": "2026-01-01T00:00:00Z",
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "uid": "d1", "controller": true}]},
            "spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]}]}}}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:10Z"}]},
        });
        let stored = StoredObject::from_value("Pod", &pod, 5).unwrap();
        let facts = PodFacts::from_stored(&stored).unwrap();
        assert_eq!(facts.target_node(), Some("n7"));
        assert!(facts.controlled_by_kind("DaemonSet"));
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert!(facts.is_available(0, at("2026-01-01T00:00:10Z")));
        assert!(
            !facts.is_available(5, at("2026-01-01T00:00:15Z")),
            "needs strictly more than 5 s"
        );
        assert!(facts.is_available(5, at("2026-01-01T00:00:16Z")));
        assert!(facts.is_active());
    }

    #[test]
    fn the_queue_hands_out_due_keys_once() {
        let key = |n: &str| ("ns".to_string(), n.to_string());
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut queue = WorkQueue::default();
        queue.add(key("a"));
        queue.add_after(key("b"), t0 + SignedDuration::from_secs(10));
        queue.add_after(key("b"), t0 + SignedDuration::from_secs(5));
        assert_eq!(queue.take_due(t0), vec![key("a")]);
        assert!(queue.take_due(t0).is_empty());
        assert_eq!(
            queue.take_due(t0 + SignedDuration::from_secs(5)),
            vec![key("b")]
        );
        assert!(
            queue
                .take_due(t0 + SignedDuration::from_secs(60))
                .is_empty()
        );
    }

    #[test]
    fn owner_index_moves_keys_between_owners() {
        let mut index = OwnerIndex::default();
        let k = ("ns".to_string(), "p".to_string());
        assert_eq!(index.set(&k, Some("a")), None);
        assert_eq!(index.set(&k, Some("b")), Some("a".to_string()));
        assert_eq!(index.owned("a").count(), 0);
        assert_eq!(index.owned("b").count(), 1);
        assert_eq!(index.remove(&k), Some("b".to_string()));
        assert_eq!(index.owned("b").count(), 0);
    }

    #[test]
    fn defaults_do_not_make_templates_differ() {
        let patched = json!({"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}});
        let created = json!({"spec": {"containers": [{"name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "resources": {}}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler", "securityContext": {}, "enableServiceLinks": true}});
        assert_eq!(
            template_fingerprint(&patched),
            template_fingerprint(&created)
        );
        assert_ne!(
            template_fingerprint(&patched),
            template_fingerprint(
                &json!({"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}})
            )
        );
    }

    #[test]
    fn empties_do_not_make_templates_differ() {
        let a = json!({"spec": {"securityContext": {}, "tolerations": [], "x": null, "y": 1}});
        assert_eq!(without_empties(&a), json!({"spec": {"y": 1}}));
    }
}
