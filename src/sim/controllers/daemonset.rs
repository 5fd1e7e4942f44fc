//! The DaemonSet controller (`daemonset-controller` in kube-controller-manager): one pod per
//! eligible node, pinned there with a `matchFields metadata.name In [node]` node affinity for
//! the scheduler to honour, the DaemonSet's default tolerations, `ControllerRevision` history
//! named by the template hash, RollingUpdate within `maxUnavailable`/`maxSurge` and OnDelete,
//! removal of pods from nodes that no longer qualify, and `status` counted exactly as the
//! upstream controller counts it (DOMAIN.md §5.1). It owns DaemonSet status, daemon pods'
//! creation and deletion and the DaemonSets' ControllerRevisions; it never binds a pod, never
//! touches a pod's status and never edits a DaemonSet's spec.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use super::control_loop::{self, Feed, Reconcile};
use super::events::{EventKind, Recorder};
use super::informer::{Change, Informer, Key};
use super::workload::{
    FIELD_MANAGER, OwnerIndex, PodFacts, PodPhase, WorkQueue, apps_ref, controller_ref_json,
    follow, just_after, scaled_value, string_map, template_fingerprint, template_hash,
};
use crate::sim::resource::ResourceType;
use crate::sim::selector::LabelSelector;
use crate::sim::store::{Store, StoredObject};
use crate::sim::write::{DeleteOptions, Part, PatchType, WriteOptions};

/// The label naming the revision a daemon pod was made from.
pub const REVISION_HASH_LABEL: &str = "controller-revision-hash";
/// The label carrying the DaemonSet's template generation, kept for old clients.
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// The annotation the apiserver keeps the template generation in.
const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";
/// At most this many pods are created or deleted per DaemonSet sync, as upstream.
const BURST_REPLICAS: usize = 250;
/// Failed daemon pods are replaced with a back-off from 1 s up to 15 min (simulated).
const FAILED_POD_BACKOFF_INITIAL: SignedDuration = SignedDuration::from_secs(1);
const FAILED_POD_BACKOFF_MAX: SignedDuration = SignedDuration::from_secs(15 * 60);
/// How long to wait before retrying a sync whose writes failed (simulated).
const RETRY_AFTER: SignedDuration = SignedDuration::from_secs(1);

/// Runs the DaemonSet controller until the store shuts down.
pub async fn run(store: Arc<Store>) {
    if let Some(controller) = DaemonSetController::start(&store).await {
        control_loop::run(&store, controller).await;
    }
}

// ---------------------------------------------------------------------------------------------
// What the controller reads
// ---------------------------------------------------------------------------------------------

/// How a DaemonSet replaces pods when its template changes.
#[derive(Debug, Clone, PartialEq)]
enum UpdateStrategy {
    OnDelete,
    RollingUpdate {
        max_unavailable: Option<Value>,
        max_surge: Option<Value>,
    },
}

#[derive(Debug)]
struct DaemonSetFacts {
    namespace: String,
    name: String,
    uid: String,
    generation: i64,
    /// The apiserver's template generation, or `metadata.generation` where it keeps none.
    template_generation: i64,
    deleting: bool,
    object: Value,
    template: Value,
    /// The template with empty values dropped, for comparing with revisions.
    template_fingerprint: u64,
    selector: LabelSelector,
    placement: Placement,
    min_ready_seconds: i64,
    strategy: UpdateStrategy,
    history_limit: usize,
    collision_count: Option<i64>,
}

impl DaemonSetFacts {
    fn from_stored(obj: &StoredObject) -> Option<Self> {
        let object = obj.value().ok()?;
        let spec = &object["spec"];
        let template = spec.get("template").cloned().unwrap_or_else(|| json!({}));
        let generation = object
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let template_generation = object
            .pointer(&format!(
                "/metadata/annotations/{}",
                TEMPLATE_GENERATION_ANNOTATION.replace('/', "~1")
            ))
            .and_then(Value::as_str)
            .and_then(|g| g.parse().ok())
            .unwrap_or(generation);
        let strategy = match spec.pointer("/updateStrategy/type").and_then(Value::as_str) {
            Some("OnDelete") => UpdateStrategy::OnDelete,
            _ => UpdateStrategy::RollingUpdate {
                max_unavailable: spec
                    .pointer("/updateStrategy/rollingUpdate/maxUnavailable")
                    .cloned(),
                max_surge: spec
                    .pointer("/updateStrategy/rollingUpdate/maxSurge")
                    .cloned(),
            },
        };
        let selector = spec
            .get("selector")
            .and_then(|s| LabelSelector::from_json(s).ok())
            .unwrap_or_else(LabelSelector::nothing);
        Some(Self {
            namespace: obj.namespace.clone(),
            name: obj.name.clone(),
            uid: obj.uid.clone(),
            generation,
            template_generation,
            deleting: object.pointer("/metadata/deletionTimestamp").is_some(),
            template_fingerprint: template_fingerprint(&template),
            placement: Placement::from_template(&template),
            min_ready_seconds: spec
                .get("minReadySeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            strategy,
            history_limit: spec
                .get("revisionHistoryLimit")
                .and_then(Value::as_u64)
                .and_then(|l| usize::try_from(l).ok())
                .unwrap_or(10),
            collision_count: object
                .pointer("/status/collisionCount")
                .and_then(Value::as_i64),
            selector,
            template,
            object,
        })
    }

    fn key(&self) -> Key {
        (self.namespace.clone(), self.name.clone())
    }

    /// `maxSurge` and `maxUnavailable` resolved against the number of nodes to run on.
    fn rollout_budget(&self, desired: i64) -> Result<(i64, i64), String> {
        match &self.strategy {
            UpdateStrategy::OnDelete => Ok((0, 0)),
            UpdateStrategy::RollingUpdate {
                max_unavailable,
                max_surge,
            } => {
                let surge = scaled_value(max_surge.as_ref(), 0, desired, true)?;
                let unavailable = scaled_value(max_unavailable.as_ref(), 1, desired, true)?;
                Ok((surge, unavailable))
            }
        }
    }

    /// Surge is on when `maxSurge` resolves to anything but 0 for a single node.
    fn allows_surge(&self) -> bool {
        self.rollout_budget(1).is_ok_and(|(surge, _)| surge != 0)
    }

    /// Whether a pod runs the current template (by revision hash or template generation).
    fn is_updated(&self, pod: &PodFacts, hash: &str) -> bool {
        let by_hash = !hash.is_empty()
            && pod
                .labels
                .get(REVISION_HASH_LABEL)
                .is_some_and(|h| h == hash);
        let by_generation = pod
            .labels
            .get(TEMPLATE_GENERATION_LABEL)
            .is_some_and(|g| g == self.template_generation.to_string());
        by_hash || by_generation
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Taint {
    key: String,
    value: String,
    effect: String,
}

#[derive(Debug)]
struct NodeFacts {
    name: String,
    labels: BTreeMap<String, String>,
    taints: Vec<Taint>,
}

/// The part of a node's JSON placement reads; the rest (its status) is skipped unparsed.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct NodeDoc {
    spec: NodeSpecDoc,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct NodeSpecDoc {
    taints: Vec<TaintDoc>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct TaintDoc {
    key: String,
    value: String,
    effect: String,
}

impl NodeFacts {
    fn from_stored(obj: &StoredObject) -> Option<Self> {
        let doc: NodeDoc = serde_json::from_slice(&obj.json).ok()?;
        let taints = doc
            .spec
            .taints
            .into_iter()
            .map(|t| Taint {
                key: t.key,
                value: t.value,
                effect: t.effect,
            })
            .collect();
        Some(Self {
            name: obj.name.clone(),
            labels: obj.labels.clone(),
            taints,
        })
    }

    /// What DaemonSet placement depends on; status-only node updates leave it unchanged.
    fn fingerprint(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        self.labels.hash(&mut hasher);
        self.taints.hash(&mut hasher);
        hasher.finish()
    }
}

#[derive(Debug)]
struct RevisionFacts {
    namespace: String,
    name: String,
    hash: Option<String>,
    revision: i64,
    owner: Option<String>,
    template_fingerprint: u64,
}

impl RevisionFacts {
    fn from_stored(obj: &StoredObject) -> Option<Self> {
        let value = obj.value().ok()?;
        let owner = value
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .and_then(|refs| {
                refs.iter()
                    .find(|r| r["controller"] == true && r["kind"] == "DaemonSet")
            })
            .and_then(|r| r["uid"].as_str())
            .map(str::to_string);
        owner.as_ref()?;
        let mut template = value
            .pointer("/data/spec/template")
            .cloned()
            .unwrap_or(Value::Null);
        if let Some(map) = template.as_object_mut() {
            map.remove("$patch");
        }
        Some(Self {
            namespace: obj.namespace.clone(),
            name: obj.name.clone(),
            hash: obj.labels.get(REVISION_HASH_LABEL).cloned(),
            revision: value.get("revision").and_then(Value::as_i64).unwrap_or(0),
            owner,
            template_fingerprint: template_fingerprint(&template),
        })
    }

    /// The hash pods of this revision carry; the name stands in for an unlabelled revision.
    fn hash(&self) -> String {
        self.hash.clone().unwrap_or_else(|| self.name.clone())
    }
}

fn daemon_pod(obj: &StoredObject) -> Option<PodFacts> {
    PodFacts::from_stored(obj).filter(|p| p.controlled_by_kind("DaemonSet"))
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Which nodes a DaemonSet runs on
// ---------------------------------------------------------------------------------------------

/// Whether a node should get a daemon pod, and whether one already there may stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Verdict {
    should_run: bool,
    should_continue: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Toleration {
    key: String,
    operator: String,
    value: String,
    effect: String,
}

impl Toleration {
    fn from_json(t: &Value) -> Self {
        Self {
            key: text(t, "key"),
            operator: text(t, "operator"),
            value: text(t, "value"),
            effect: text(t, "effect"),
        }
    }

    /// `Toleration.ToleratesTaint`: an empty effect or key is a wildcard.
    fn tolerates(&self, taint: &Taint) -> bool {
        if !self.effect.is_empty() && self.effect != taint.effect {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator.as_str() {
            "" | "Equal" => self.value == taint.value,
            "Exists" => true,
            _ => false,
        }
    }
}

/// One `nodeSelectorRequirement`.
#[derive(Debug, Clone, PartialEq)]
struct NodeRequirement {
    key: String,
    operator: String,
    values: Vec<String>,
}

impl NodeRequirement {
    fn from_json(r: &Value) -> Self {
        let values = r
            .get("values")
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Self {
            key: text(r, "key"),
            operator: text(r, "operator"),
            values,
        }
    }

    fn matches(&self, value: Option<&str>) -> bool {
        let listed = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator.as_str() {
            "In" => value.is_some_and(listed),
            "NotIn" => !value.is_some_and(listed),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            "Gt" | "Lt" => {
                let number = value.and_then(|v| v.parse::<i64>().ok());
                let bound = self.values.first().and_then(|b| b.parse::<i64>().ok());
                match (number, bound) {
                    (Some(n), Some(b)) if self.operator == "Gt" => n > b,
                    (Some(n), Some(b)) => n < b,
                    _ => false,
                }
            }
            _ => false,
        }
    }
}

/// One `nodeSelectorTerm`: all of its requirements; an empty term matches no node.
#[derive(Debug, Clone, PartialEq)]
struct NodeTerm {
    expressions: Vec<NodeRequirement>,
    fields: Vec<NodeRequirement>,
}

impl NodeTerm {
    fn matches(&self, node: &NodeFacts) -> bool {
        if self.expressions.is_empty() && self.fields.is_empty() {
            return false;
        }
        self.expressions
            .iter()
            .all(|r| r.matches(node.labels.get(&r.key).map(String::as_str)))
            && self
                .fields
                .iter()
                .all(|r| r.matches((r.key == "metadata.name").then_some(node.name.as_str())))
    }
}

/// The scheduling constraints of a DaemonSet's pods that decide its nodes.
#[derive(Debug, Clone, PartialEq)]
struct Placement {
    node_name: String,
    node_selector: BTreeMap<String, String>,
    /// `None` without required node affinity; the terms are ORed.
    required_terms: Option<Vec<NodeTerm>>,
    /// The template's tolerations with the DaemonSet defaults merged in, as JSON for pods.
    tolerations_json: Vec<Value>,
    tolerations: Vec<Toleration>,
}

impl Placement {
    fn from_template(template: &Value) -> Self {
        let spec = &template["spec"];
        let required_terms = spec
            .pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
            .and_then(Value::as_array)
            .map(|terms| {
                terms
                    .iter()
                    .map(|t| NodeTerm { expressions: requirements(t, "matchExpressions"), fields: requirements(t, "matchFields") })
                    .collect()
            });
        let tolerations_json = with_default_tolerations(spec);
        Self {
            node_name: text(spec, "nodeName"),
            node_selector: string_map(spec.get("nodeSelector")),
            required_terms,
            tolerations: tolerations_json.iter().map(Toleration::from_json).collect(),
            tolerations_json,
        }
    }

    /// `NodeShouldRunDaemonPod`: name, node selector and required affinity decide whether the
    /// node qualifies at all; an untolerated NoSchedule/NoExecute taint stops new pods, and
    /// only an untolerated NoExecute taint evicts a pod already there.
    fn verdict(&self, node: &NodeFacts) -> Verdict {
        const NEVER: Verdict = Verdict {
            should_run: false,
            should_continue: false,
        };
        if !self.node_name.is_empty() && self.node_name != node.name {
            return NEVER;
        }
        let selected = self
            .node_selector
            .iter()
            .all(|(k, v)| node.labels.get(k) == Some(v));
        let affine = self
            .required_terms
            .as_ref()
            .is_none_or(|terms| terms.iter().any(|t| t.matches(node)));
        if !selected || !affine {
            return NEVER;
        }
        let untolerated = |effects: &[&str]| {
            node.taints.iter().any(|t| {
                effects.contains(&t.effect.as_str())
                    && !self.tolerations.iter().any(|tol| tol.tolerates(t))
            })
        };
        if untolerated(&["NoSchedule", "NoExecute"]) {
            Verdict {
                should_run: false,
                should_continue: !untolerated(&["NoExecute"]),
            }
        } else {
            Verdict {
                should_run: true,
                should_continue: true,
            }
        }
    }
}

fn requirements(term: &Value, key: &str) -> Vec<NodeRequirement> {
    term.get(key)
        .and_then(Value::as_array)
        .map(|list| list.iter().map(NodeRequirement::from_json).collect())
        .unwrap_or_default()
}

/// The template's tolerations with the ones every daemon pod gets: it stays through node
/// problems that would evict or keep out other pods. An equal toleration (same key,
/// operator, value, effect) is replaced by the default; the rest are appended in order.
pub fn with_default_tolerations(spec: &Value) -> Vec<Value> {
    let mut list: Vec<Value> = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut defaults = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        defaults.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    for (key, effect) in defaults {
        let toleration = json!({"key": key, "operator": "Exists", "effect": effect});
        let same = |t: &Value| {
            text(t, "key") == key
                && text(t, "effect") == effect
                && text(t, "operator") == "Exists"
                && text(t, "value").is_empty()
        };
        match list.iter_mut().find(|t| same(t)) {
            Some(existing) => *existing = toleration,
            None => list.push(toleration),
        }
    }
    list
}

// ---------------------------------------------------------------------------------------------
// The controller
// ---------------------------------------------------------------------------------------------

/// The pod running the current template on a node, and the one running an older one.
type NewAndOld<'a> = (Option<&'a Arc<PodFacts>>, Option<&'a Arc<PodFacts>>);

/// Daemon pods of one DaemonSet by the node they target, oldest (scheduled first) first.
type PodsByNode = BTreeMap<String, Vec<Arc<PodFacts>>>;

/// The revision pods should run, and the others the DaemonSet still owns.
#[derive(Debug)]
struct History {
    hash: String,
    old: Vec<Arc<RevisionFacts>>,
}

/// The status counters of DOMAIN.md §5.1.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    desired: i64,
    current: i64,
    updated: i64,
    ready: i64,
    available: i64,
    unavailable: i64,
    misscheduled: i64,
}

#[derive(Debug, Clone, Copy)]
struct Backoff {
    since: Timestamp,
    delay: SignedDuration,
}

struct DaemonSetController {
    store: Arc<Store>,
    recorder: Recorder,
    pods_rt: Arc<ResourceType>,
    daemonsets_rt: Arc<ResourceType>,
    revisions_rt: Arc<ResourceType>,
    daemonsets: Informer<DaemonSetFacts>,
    nodes: Informer<NodeFacts>,
    pods: Informer<PodFacts>,
    revisions: Informer<RevisionFacts>,
    daemonset_by_uid: HashMap<String, Key>,
    pods_by_owner: OwnerIndex,
    revisions_by_owner: OwnerIndex,
    node_fingerprints: HashMap<String, u64>,
    failed_pod_backoff: HashMap<(String, String), Backoff>,
    queue: WorkQueue,
}

impl Reconcile for DaemonSetController {
    fn feeds() -> Vec<Feed<Self>> {
        vec![
            Feed::informer(|c| &mut c.daemonsets, Self::on_daemonsets),
            Feed::informer(|c| &mut c.pods, Self::on_pods),
            Feed::informer(|c| &mut c.nodes, Self::on_nodes),
            Feed::informer(|c| &mut c.revisions, Self::on_revisions),
        ]
    }

    fn queue(&mut self) -> &mut WorkQueue {
        &mut self.queue
    }

    fn sync(&mut self, key: &Key, now: Timestamp) {
        let Some(ds) = self.daemonsets.get(&key.0, &key.1).map(Arc::clone) else {
            return;
        };
        if ds.selector.is_empty() {
            let message =
                "This daemon set is selecting all pods. A non-empty selector is required.";
            self.recorder
                .record(&ds_ref(&ds), EventKind::Warning, "SelectingAll", message);
            return;
        }
        // A DaemonSet being deleted is left to the garbage collector, with its status as is.
        if ds.deleting || ds.selector.matches_nothing() {
            return;
        }
        let history = match self.construct_history(&ds) {
            Ok(history) => history,
            Err(err) => {
                tracing::debug!(daemonset = %ds.name, %err, "constructing history");
                self.retry_later(key, now);
                return;
            }
        };
        let verdicts: Vec<(Arc<NodeFacts>, Verdict)> = self
            .nodes
            .iter()
            .map(|(_, node)| (Arc::clone(node), ds.placement.verdict(node)))
            .collect();
        let by_node = self.pods_by_node(&ds, false);
        let managed = self.manage(&ds, &verdicts, &by_node, &history.hash, now);
        // Like upstream's expectations: roll only from a state that includes the last writes.
        if !managed && matches!(ds.strategy, UpdateStrategy::RollingUpdate { .. }) {
            self.rolling_update(&ds, &verdicts, by_node.clone(), &history.hash, now);
        }
        self.cleanup_history(&ds, &history.old);
        self.update_status(&ds, &verdicts, &by_node, &history.hash, now);
    }
}

impl DaemonSetController {
    async fn start(store: &Arc<Store>) -> Option<Self> {
        let daemonsets = follow(
            store,
            "apps",
            "v1",
            "daemonsets",
            DaemonSetFacts::from_stored,
        )
        .await?;
        let nodes = follow(store, "", "v1", "nodes", NodeFacts::from_stored).await?;
        let pods = follow(store, "", "v1", "pods", daemon_pod).await?;
        let revisions = follow(
            store,
            "apps",
            "v1",
            "controllerrevisions",
            RevisionFacts::from_stored,
        )
        .await?;
        let registry = store.registry();
        Some(Self {
            store: Arc::clone(store),
            recorder: Recorder::new(store, "daemonset-controller"),
            pods_rt: registry.get("", "v1", "pods")?,
            daemonsets_rt: registry.get("apps", "v1", "daemonsets")?,
            revisions_rt: registry.get("apps", "v1", "controllerrevisions")?,
            daemonsets,
            nodes,
            pods,
            revisions,
            daemonset_by_uid: HashMap::new(),
            pods_by_owner: OwnerIndex::default(),
            revisions_by_owner: OwnerIndex::default(),
            node_fingerprints: HashMap::new(),
            failed_pod_backoff: HashMap::new(),
            queue: WorkQueue::default(),
        })
    }

    fn on_daemonsets(&mut self, batch: Vec<Change<DaemonSetFacts>>) {
        for change in batch {
            match change {
                Change::Upsert(key, ds) => {
                    self.daemonset_by_uid.insert(ds.uid.clone(), key.clone());
                    self.queue.add(key);
                }
                Change::Removed(key) => {
                    let gone: Vec<String> = self
                        .daemonset_by_uid
                        .iter()
                        .filter(|(_, k)| **k == key)
                        .map(|(uid, _)| uid.clone())
                        .collect();
                    for uid in &gone {
                        self.daemonset_by_uid.remove(uid);
                    }
                    self.failed_pod_backoff
                        .retain(|(uid, _), _| !gone.contains(uid));
                    self.queue.forget(&key);
                }
            }
        }
    }

    fn on_pods(&mut self, batch: Vec<Change<PodFacts>>) {
        for change in batch {
            let (previous, current) = match &change {
                Change::Upsert(key, pod) => (
                    self.pods_by_owner.set(key, pod.controller_uid()),
                    pod.controller_uid().map(str::to_string),
                ),
                Change::Removed(key) => (self.pods_by_owner.remove(key), None),
            };
            self.touch_owners([previous, current]);
        }
    }

    fn on_revisions(&mut self, batch: Vec<Change<RevisionFacts>>) {
        for change in batch {
            let (previous, current) = match &change {
                Change::Upsert(key, revision) => (
                    self.revisions_by_owner.set(key, revision.owner.as_deref()),
                    revision.owner.clone(),
                ),
                Change::Removed(key) => (self.revisions_by_owner.remove(key), None),
            };
            self.touch_owners([previous, current]);
        }
    }

    fn touch_owners(&mut self, owners: [Option<String>; 2]) {
        for uid in owners.into_iter().flatten() {
            if let Some(key) = self.daemonset_by_uid.get(&uid) {
                self.queue.add(key.clone());
            }
        }
    }

    /// A node's labels or taints changing can change every DaemonSet's placement.
    fn on_nodes(&mut self, batch: Vec<Change<NodeFacts>>) {
        let mut placement_changed = false;
        for change in batch {
            match change {
                Change::Upsert(_, node) => {
                    let fingerprint = node.fingerprint();
                    placement_changed |= self
                        .node_fingerprints
                        .insert(node.name.clone(), fingerprint)
                        != Some(fingerprint);
                }
                Change::Removed((_, name)) => {
                    placement_changed |= self.node_fingerprints.remove(&name).is_some();
                }
            }
        }
        if placement_changed {
            let keys: Vec<Key> = self.daemonsets.iter().map(|(k, _)| k.clone()).collect();
            for key in keys {
                self.queue.add(key);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // The parts of one sync (`Reconcile::sync` above)
    // -----------------------------------------------------------------------------------------

    fn retry_later(&mut self, key: &Key, now: Timestamp) {
        self.queue
            .add_after(key.clone(), now.checked_add(RETRY_AFTER).unwrap_or(now));
    }

    /// The DaemonSet's pods by target node. Pods that both finished and are being deleted
    /// are gone as far as the controller cares, unless `with_finished_deleted`.
    fn pods_by_node(&self, ds: &DaemonSetFacts, with_finished_deleted: bool) -> PodsByNode {
        let mut by_node = PodsByNode::new();
        for (ns, name) in self.pods_by_owner.owned(&ds.uid) {
            let Some(pod) = self.pods.get(ns, name) else {
                continue;
            };
            if !pod.labels.selected_by(&ds.selector)
                || (!with_finished_deleted && pod.is_terminal() && pod.terminating)
            {
                continue;
            }
            if let Some(node) = pod.target_node() {
                by_node
                    .entry(node.to_string())
                    .or_default()
                    .push(Arc::clone(pod));
            }
        }
        for pods in by_node.values_mut() {
            pods.sort_by(|a, b| oldest_first(a, b));
        }
        by_node
    }

    /// Creates missing pods, removes failed, surplus and misplaced ones. True when it wrote.
    fn manage(
        &mut self,
        ds: &DaemonSetFacts,
        verdicts: &[(Arc<NodeFacts>, Verdict)],
        by_node: &PodsByNode,
        hash: &str,
        now: Timestamp,
    ) -> bool {
        let surge = ds.allows_surge();
        let mut create_on = Vec::new();
        let mut delete = Vec::new();
        for (node, verdict) in verdicts {
            let pods = by_node.get(&node.name);
            if verdict.should_run && pods.is_none() {
                create_on.push(node.name.clone());
            } else if verdict.should_continue {
                let running = self.sort_out_finished(
                    ds,
                    &node.name,
                    pods.map_or(&[][..], Vec::as_slice),
                    now,
                    &mut delete,
                );
                delete.extend(surplus_pods(ds, running, hash, surge, now));
            } else if let Some(pods) = pods {
                delete.extend(pods.iter().filter(|p| !p.terminating).cloned());
            }
        }
        self.sync_nodes(ds, &delete, &create_on, hash)
    }

    /// Queues failed and succeeded pods for deletion (failed ones with back-off); returns the
    /// pods still running.
    fn sort_out_finished(
        &mut self,
        ds: &DaemonSetFacts,
        node: &str,
        pods: &[Arc<PodFacts>],
        now: Timestamp,
        delete: &mut Vec<Arc<PodFacts>>,
    ) -> Vec<Arc<PodFacts>> {
        let mut running = Vec::new();
        for pod in pods.iter().filter(|p| !p.terminating) {
            match pod.phase {
                PodPhase::Failed => {
                    let backoff_key = (ds.uid.clone(), node.to_string());
                    if let Some(until) = self.in_backoff(&backoff_key, now) {
                        self.queue.add_after(ds.key(), until);
                        continue;
                    }
                    self.bump_backoff(backoff_key, now);
                    let message = format!(
                        "Found failed daemon pod {}/{} on node {node}, will try to kill it",
                        pod.namespace, pod.name
                    );
                    self.recorder.record(
                        &ds_ref(ds),
                        EventKind::Warning,
                        "FailedDaemonPod",
                        &message,
                    );
                    delete.push(Arc::clone(pod));
                }
                PodPhase::Succeeded => delete.push(Arc::clone(pod)),
                _ => running.push(Arc::clone(pod)),
            }
        }
        running
    }

    fn in_backoff(&self, key: &(String, String), now: Timestamp) -> Option<Timestamp> {
        let backoff = self.failed_pod_backoff.get(key)?;
        let until = backoff.since.checked_add(backoff.delay).ok()?;
        (now < until).then_some(until)
    }

    fn bump_backoff(&mut self, key: (String, String), now: Timestamp) {
        let delay = match self.failed_pod_backoff.get(&key) {
            Some(b) if now.duration_since(b.since) <= FAILED_POD_BACKOFF_MAX * 2 => {
                (b.delay * 2).min(FAILED_POD_BACKOFF_MAX)
            }
            _ => FAILED_POD_BACKOFF_INITIAL,
        };
        self.failed_pod_backoff
            .insert(key, Backoff { since: now, delay });
    }

    /// Deletes and creates pods, at most `BURST_REPLICAS` of each. True when it wrote.
    fn sync_nodes(
        &mut self,
        ds: &DaemonSetFacts,
        delete: &[Arc<PodFacts>],
        create_on: &[String],
        hash: &str,
    ) -> bool {
        let subject = ds_ref(ds);
        for node in create_on.iter().take(BURST_REPLICAS) {
            let pod = pod_for_node(ds, node, hash);
            match self.store.create(
                &self.pods_rt,
                Some(&ds.namespace),
                pod,
                &WriteOptions::manager(FIELD_MANAGER),
            ) {
                Ok(written) => {
                    let message = format!("Created pod: {}", written.object.name);
                    self.recorder
                        .record(&subject, EventKind::Normal, "SuccessfulCreate", &message);
                }
                Err(err) => {
                    let message = format!("Error creating: {}", err.message);
                    self.recorder
                        .record(&subject, EventKind::Warning, "FailedCreate", &message);
                    // Like upstream's slow-start batches: stop at the first failure, retry later.
                    self.retry_later(&ds.key(), self.store.clock.now());
                    break;
                }
            }
        }
        for pod in delete.iter().take(BURST_REPLICAS) {
            let opts = DeleteOptions {
                precondition_uid: Some(pod.uid.clone()),
                ..DeleteOptions::default()
            };
            match self
                .store
                .delete(&self.pods_rt, &pod.namespace, &pod.name, &opts)
            {
                Ok(_) => {
                    let message = format!("Deleted pod: {}", pod.name);
                    self.recorder
                        .record(&subject, EventKind::Normal, "SuccessfulDelete", &message);
                }
                Err(err) if err.code == 404 => {}
                Err(err) => {
                    let message = format!("Error deleting: {}", err.message);
                    self.recorder
                        .record(&subject, EventKind::Warning, "FailedDelete", &message);
                }
            }
        }
        !create_on.is_empty() || !delete.is_empty()
    }

    /// Replaces old-revision pods within the rollout budget.
    fn rolling_update(
        &mut self,
        ds: &DaemonSetFacts,
        verdicts: &[(Arc<NodeFacts>, Verdict)],
        mut by_node: PodsByNode,
        hash: &str,
        now: Timestamp,
    ) {
        let mut desired = 0;
        for (node, _) in verdicts.iter().filter(|(_, v)| v.should_run) {
            desired += 1;
            by_node.entry(node.name.clone()).or_default();
        }
        let (max_surge, mut max_unavailable) = match ds.rollout_budget(desired) {
            Ok(budget) => budget,
            Err(err) => {
                tracing::debug!(daemonset = %ds.name, %err, "invalid rolling update budget");
                return;
            }
        };
        // Zero for both can only come from rounding; upstream then allows one at a time.
        if desired > 0 && max_unavailable == 0 && max_surge == 0 {
            max_unavailable = 1;
        }
        if max_surge == 0 {
            let delete = replacements_without_surge(ds, &by_node, hash, max_unavailable, now);
            self.sync_nodes(ds, &delete, &[], hash);
        } else {
            let should_run: BTreeSet<&str> = verdicts
                .iter()
                .filter(|(_, v)| v.should_run)
                .map(|(n, _)| n.name.as_str())
                .collect();
            let (delete, create_on) =
                replacements_with_surge(ds, &by_node, &should_run, hash, max_surge, now);
            self.sync_nodes(ds, &delete, &create_on, hash);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Revision history
    // -----------------------------------------------------------------------------------------

    /// Finds (or records) the revision of the current template and returns the others.
    fn construct_history(&mut self, ds: &DaemonSetFacts) -> Result<History, String> {
        let owned: Vec<Arc<RevisionFacts>> = self
            .revisions_by_owner
            .owned(&ds.uid)
            .filter_map(|(ns, name)| self.revisions.get(ns, name).map(Arc::clone))
            .collect();
        let (current, old): (Vec<_>, Vec<_>) = owned
            .into_iter()
            .partition(|r| r.template_fingerprint == ds.template_fingerprint);
        let next_revision = old.iter().map(|r| r.revision).max().unwrap_or(0) + 1;
        let hash = if current.is_empty() {
            self.snapshot(ds, next_revision)?
        } else {
            let keep = self.dedup_current(ds, current);
            if keep.revision < next_revision {
                self.patch_revision(&keep, &json!({"revision": next_revision}))?;
            }
            if keep.hash.is_none() {
                self.patch_revision(
                    &keep,
                    &json!({"metadata": {"labels": {REVISION_HASH_LABEL: keep.name}}}),
                )?;
            }
            keep.hash()
        };
        Ok(History { hash, old })
    }

    fn patch_revision(&self, revision: &RevisionFacts, patch: &Value) -> Result<(), String> {
        self.store
            .patch(
                &self.revisions_rt,
                &revision.namespace,
                &revision.name,
                PatchType::Merge,
                patch,
                Part::Main,
                &WriteOptions::manager(FIELD_MANAGER),
            )
            .map(|_| ())
            .map_err(|e| e.message)
    }

    /// Keeps the newest of several revisions of the same template; pods of the others are
    /// relabelled to it before those revisions are deleted.
    fn dedup_current(
        &self,
        ds: &DaemonSetFacts,
        mut current: Vec<Arc<RevisionFacts>>,
    ) -> Arc<RevisionFacts> {
        current.sort_by(|a, b| {
            b.revision
                .cmp(&a.revision)
                .then_with(|| a.name.cmp(&b.name))
        });
        // Indexing cannot fail: the caller dedups only when at least one revision matched.
        let keep = Arc::clone(&current[0]);
        for duplicate in &current[1..] {
            let stale_hash = duplicate.hash();
            let relabel = json!({"metadata": {"labels": {REVISION_HASH_LABEL: keep.hash()}}});
            for pods in self.pods_by_node(ds, true).values() {
                for pod in pods
                    .iter()
                    .filter(|p| p.labels.get(REVISION_HASH_LABEL) == Some(stale_hash.as_str()))
                {
                    let _ = self.store.patch(
                        &self.pods_rt,
                        &pod.namespace,
                        &pod.name,
                        PatchType::Merge,
                        &relabel,
                        Part::Main,
                        &WriteOptions::manager(FIELD_MANAGER),
                    );
                }
            }
            let _ = self.store.delete(
                &self.revisions_rt,
                &duplicate.namespace,
                &duplicate.name,
                &DeleteOptions::default(),
            );
        }
        keep
    }

    /// Records the current template as revision `revision`; returns its hash. A name taken
    /// by a different template is a hash collision: `status.collisionCount` goes up and the
    /// next sync hashes again.
    fn snapshot(&self, ds: &DaemonSetFacts, revision: i64) -> Result<String, String> {
        let hash = template_hash(&ds.template, ds.collision_count);
        let name = format!("{}-{hash}", ds.name);
        let mut labels = ds
            .template
            .pointer("/metadata/labels")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        labels[REVISION_HASH_LABEL] = json!(hash);
        let mut template = ds.template.clone();
        if let Some(map) = template.as_object_mut() {
            map.insert("$patch".to_string(), json!("replace"));
        }
        let mut metadata = json!({"name": name, "namespace": ds.namespace, "labels": labels,
                                  "ownerReferences": [controller_ref_json("DaemonSet", &ds.name, &ds.uid)]});
        if let Some(annotations) = ds
            .object
            .pointer("/metadata/annotations")
            .filter(|a| a.is_object())
        {
            metadata["annotations"] = annotations.clone();
        }
        let body = json!({"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": metadata,
                          "data": {"spec": {"template": template}}, "revision": revision});
        let err = match self.store.create(
            &self.revisions_rt,
            Some(&ds.namespace),
            body,
            &WriteOptions::manager(FIELD_MANAGER),
        ) {
            Ok(_) => return Ok(hash),
            Err(err) if err.code == 409 => err,
            Err(err) => return Err(err.message),
        };
        let existing = self
            .store
            .get(&self.revisions_rt, &ds.namespace, &name)
            .ok()
            .and_then(|o| RevisionFacts::from_stored(&o));
        if existing.is_some_and(|r| r.template_fingerprint == ds.template_fingerprint) {
            return Ok(hash);
        }
        let bumped = json!({"status": {"collisionCount": ds.collision_count.unwrap_or(0) + 1}});
        self.store
            .patch(
                &self.daemonsets_rt,
                &ds.namespace,
                &ds.name,
                PatchType::Merge,
                &bumped,
                Part::Status,
                &WriteOptions::manager(FIELD_MANAGER),
            )
            .map_err(|e| e.message)?;
        Err(err.message)
    }

    /// Deletes the oldest old revisions beyond `revisionHistoryLimit` that no pod still runs.
    fn cleanup_history(&self, ds: &DaemonSetFacts, old: &[Arc<RevisionFacts>]) {
        let Some(mut to_kill) = old.len().checked_sub(ds.history_limit).filter(|n| *n > 0) else {
            return;
        };
        let live: BTreeSet<String> = self
            .pods_by_node(ds, true)
            .values()
            .flatten()
            .filter_map(|p| p.labels.get(REVISION_HASH_LABEL).map(str::to_string))
            .collect();
        let mut oldest_first: Vec<&Arc<RevisionFacts>> = old.iter().collect();
        oldest_first.sort_by_key(|r| (r.revision, r.name.clone()));
        for revision in oldest_first {
            if to_kill == 0 {
                break;
            }
            if live.contains(&revision.hash()) {
                continue;
            }
            if let Err(err) = self.store.delete(
                &self.revisions_rt,
                &revision.namespace,
                &revision.name,
                &DeleteOptions::default(),
            ) {
                tracing::debug!(revision = %revision.name, %err, "deleting old revision");
            }
            to_kill -= 1;
        }
    }

    // -----------------------------------------------------------------------------------------
    // Status
    // -----------------------------------------------------------------------------------------

    fn update_status(
        &mut self,
        ds: &DaemonSetFacts,
        verdicts: &[(Arc<NodeFacts>, Verdict)],
        by_node: &PodsByNode,
        hash: &str,
        now: Timestamp,
    ) {
        let (counts, next_available) = count(ds, verdicts, by_node, hash, now);
        if let Some(at) = next_available {
            self.queue.add_after(ds.key(), just_after(at));
        }
        let status = &ds.object["status"];
        let recorded = |key: &str| status.get(key).and_then(Value::as_i64).unwrap_or(0);
        let unchanged = recorded("desiredNumberScheduled") == counts.desired
            && recorded("currentNumberScheduled") == counts.current
            && recorded("numberMisscheduled") == counts.misscheduled
            && recorded("numberReady") == counts.ready
            && recorded("updatedNumberScheduled") == counts.updated
            && recorded("numberAvailable") == counts.available
            && recorded("numberUnavailable") == counts.unavailable
            && recorded("observedGeneration") >= ds.generation;
        if unchanged {
            return;
        }
        let mut body = ds.object.clone();
        body["status"] = status_json(status, &counts, ds.generation);
        let result = self.store.update(
            &self.daemonsets_rt,
            &ds.namespace,
            &ds.name,
            &body,
            Part::Status,
            &WriteOptions::manager(FIELD_MANAGER),
        );
        if let Err(err) = result {
            tracing::debug!(daemonset = %ds.name, %err, "updating status");
            self.retry_later(&ds.key(), now);
        }
    }
}

fn ds_ref(ds: &DaemonSetFacts) -> super::events::ObjectRef {
    apps_ref("DaemonSet", &ds.namespace, &ds.name, &ds.uid)
}

/// `podByCreationTimestampAndPhase`: scheduled pods first, then oldest, then by name.
fn oldest_first(a: &PodFacts, b: &PodFacts) -> std::cmp::Ordering {
    a.node_name
        .is_empty()
        .cmp(&b.node_name.is_empty())
        .then(a.created.cmp(&b.created))
        .then_with(|| a.name.cmp(&b.name))
}

/// Running pods beyond the one a node should keep. Without surge only the oldest stays;
/// with surge an old and a new pod may overlap until the new one is available (or the old
/// one is not ready).
fn surplus_pods(
    ds: &DaemonSetFacts,
    mut running: Vec<Arc<PodFacts>>,
    hash: &str,
    surge: bool,
    now: Timestamp,
) -> Vec<Arc<PodFacts>> {
    running.sort_by(|a, b| oldest_first(a, b));
    if !surge {
        return running.into_iter().skip(1).collect();
    }
    let mut surplus = Vec::new();
    let (mut oldest_new, mut oldest_old): (Option<Arc<PodFacts>>, Option<Arc<PodFacts>>) =
        (None, None);
    for pod in running {
        let slot = if pod
            .labels
            .get(REVISION_HASH_LABEL)
            .is_some_and(|h| h == hash)
        {
            &mut oldest_new
        } else {
            &mut oldest_old
        };
        if slot.is_none() {
            *slot = Some(pod);
        } else {
            surplus.push(pod);
        }
    }
    if let (Some(new), Some(old)) = (oldest_new, oldest_old)
        && (!old.ready || new.is_available(ds.min_ready_seconds, now))
    {
        surplus.push(old);
    }
    surplus
}

/// The new and the old pod on a node, ignoring pods being deleted; `None` when there are two
/// of either kind (the manage step cleans that up first).
fn updated_and_old<'a>(
    ds: &DaemonSetFacts,
    pods: &'a [Arc<PodFacts>],
    hash: &str,
) -> Option<NewAndOld<'a>> {
    let (mut new, mut old) = (None, None);
    for pod in pods.iter().filter(|p| !p.terminating) {
        let slot = if ds.is_updated(pod, hash) {
            &mut new
        } else {
            &mut old
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(pod);
    }
    Some((new, old))
}

/// Old pods to delete without surge: unavailable old pods always, available ones only while
/// the nodes without an available pod stay within `max_unavailable`.
fn replacements_without_surge(
    ds: &DaemonSetFacts,
    by_node: &PodsByNode,
    hash: &str,
    max_unavailable: i64,
    now: Timestamp,
) -> Vec<Arc<PodFacts>> {
    let available = |p: &PodFacts| p.is_available(ds.min_ready_seconds, now);
    let mut unavailable = 0;
    let mut replace = Vec::new();
    let mut candidates = Vec::new();
    for pods in by_node.values() {
        match updated_and_old(ds, pods, hash) {
            None | Some((None, None) | (Some(_), Some(_))) => unavailable += 1,
            Some((Some(new), None)) => {
                if !available(new) {
                    unavailable += 1;
                }
            }
            Some((None, Some(old))) => {
                if !available(old) {
                    replace.push(Arc::clone(old));
                } else if unavailable < max_unavailable {
                    candidates.push(Arc::clone(old));
                }
            }
        }
    }
    let room = usize::try_from((max_unavailable - unavailable).max(0))
        .unwrap_or(0)
        .min(candidates.len());
    replace.extend(candidates.into_iter().take(room));
    replace
}

/// With surge: nodes that get a new pod beside their old one, and old pods to delete once
/// their replacement is available.
fn replacements_with_surge(
    ds: &DaemonSetFacts,
    by_node: &PodsByNode,
    should_run: &BTreeSet<&str>,
    hash: &str,
    max_surge: i64,
    now: Timestamp,
) -> (Vec<Arc<PodFacts>>, Vec<String>) {
    let available = |p: &PodFacts| p.is_available(ds.min_ready_seconds, now);
    let mut surging = 0;
    let mut delete = Vec::new();
    let mut allowed = Vec::new();
    let mut candidates = Vec::new();
    for (node, pods) in by_node {
        match updated_and_old(ds, pods, hash) {
            None => surging += 1,
            Some((_, None)) => {}
            Some((None, Some(old))) => {
                if !available(old) {
                    if should_run.contains(node.as_str()) {
                        allowed.push(node.clone());
                    } else {
                        delete.push(Arc::clone(old));
                    }
                } else if surging < max_surge {
                    candidates.push(node.clone());
                }
            }
            Some((Some(new), Some(old))) => {
                if available(new) {
                    delete.push(Arc::clone(old));
                } else {
                    surging += 1;
                }
            }
        }
    }
    let room = usize::try_from((max_surge - surging).max(0))
        .unwrap_or(0)
        .min(candidates.len());
    allowed.extend(candidates.into_iter().take(room));
    (delete, allowed)
}

/// The status counters, and when the next ready pod turns available (for a recheck).
fn count(
    ds: &DaemonSetFacts,
    verdicts: &[(Arc<NodeFacts>, Verdict)],
    by_node: &PodsByNode,
    hash: &str,
    now: Timestamp,
) -> (Counts, Option<Timestamp>) {
    let mut counts = Counts::default();
    let mut next_available: Option<Timestamp> = None;
    for (node, verdict) in verdicts {
        let pod = by_node.get(&node.name).and_then(|pods| pods.first());
        if !verdict.should_run {
            counts.misscheduled += i64::from(pod.is_some());
            continue;
        }
        counts.desired += 1;
        let Some(pod) = pod else { continue };
        counts.current += 1;
        if pod.ready {
            counts.ready += 1;
            if pod.is_available(ds.min_ready_seconds, now) {
                counts.available += 1;
            } else if let Some(at) = pod.available_after(ds.min_ready_seconds) {
                next_available = Some(next_available.map_or(at, |n| n.min(at)));
            }
        }
        counts.updated += i64::from(ds.is_updated(pod, hash));
    }
    counts.unavailable = counts.desired - counts.available;
    (counts, next_available)
}

/// The new status: the counters, with the `omitempty` ones left out at zero as the API
/// server's Go types leave them out; conditions and collisionCount stay as they were.
fn status_json(previous: &Value, counts: &Counts, generation: i64) -> Value {
    let mut status = previous.as_object().cloned().unwrap_or_else(Map::new);
    let mut set = |key: &str, value: i64, omit_zero: bool| {
        if omit_zero && value == 0 {
            status.remove(key);
        } else {
            status.insert(key.to_string(), json!(value));
        }
    };
    set("currentNumberScheduled", counts.current, false);
    set("numberMisscheduled", counts.misscheduled, false);
    set("desiredNumberScheduled", counts.desired, false);
    set("numberReady", counts.ready, false);
    set("observedGeneration", generation, true);
    set("updatedNumberScheduled", counts.updated, true);
    set("numberAvailable", counts.available, true);
    set("numberUnavailable", counts.unavailable, true);
    Value::Object(status)
}

/// A daemon pod for one node: the template with the revision labels, the default
/// tolerations and the node affinity that pins it (the scheduler does the binding).
fn pod_for_node(ds: &DaemonSetFacts, node: &str, hash: &str) -> Value {
    let template = &ds.template;
    let mut labels = template
        .pointer("/metadata/labels")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    labels[TEMPLATE_GENERATION_LABEL] = json!(ds.template_generation.to_string());
    labels[REVISION_HASH_LABEL] = json!(hash);
    let mut spec = template
        .get("spec")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    spec["tolerations"] = Value::Array(ds.placement.tolerations_json.clone());
    pin_to_node(&mut spec, node);
    let mut metadata = json!({
        "generateName": format!("{}-", ds.name),
        "namespace": ds.namespace,
        "labels": labels,
        "ownerReferences": [controller_ref_json("DaemonSet", &ds.name, &ds.uid)],
    });
    for key in ["annotations", "finalizers"] {
        if let Some(value) = template.pointer(&format!("/metadata/{key}")) {
            metadata[key] = value.clone();
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
}

/// Replaces the required node affinity with the one term naming `node`, keeping the rest.
fn pin_to_node(spec: &mut Value, node: &str) {
    let term =
        json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]);
    let mut current = spec;
    for key in [
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
    ] {
        if !current.get(key).is_some_and(Value::is_object) {
            current[key] = json!({});
        }
        current = &mut current[key];
    }
    *current = json!({"nodeSelectorTerms": term});
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::sim::clock::{Clock, rfc3339};
    use crate::sim::controllers::control_loop::eventually;
    use crate::sim::controllers::workload::TestClock;
    use crate::sim::store::{ListOptions, StoreConfig};
    use std::time::Duration;

    const START: &str = "2026-11-29T10:00:00Z";

    struct Cluster {
        store: Arc<Store>,
        clock: Arc<TestClock>,
    }

    impl Cluster {
        fn new() -> Self {
            let clock = Arc::new(TestClock::new(START));
            let store = Arc::new(Store::new(clock.clone(), StoreConfig::default()));
            let ns = store.registry().get("", "v1", "namespaces").unwrap();
            store
                .seed(
                    &ns,
                    json!({"metadata": {"name": "calico-system"}, "status": {"phase": "Active"}}),
                )
                .unwrap();
            tokio::spawn(run(Arc::clone(&store)));
            Self { store, clock }
        }

        fn rt(&self, group: &str, plural: &str) -> Arc<ResourceType> {
            let version = "v1";
            self.store.registry().get(group, version, plural).unwrap()
        }

        fn node(&self, name: &str, os: &str, taints: Value) {
            let mut node = json!({"metadata": {"name": name, "labels": {"kubernetes.io/os": os, "kubernetes.io/hostname": name}}});
            node["spec"] = json!({});
            node["spec"]["taints"] = taints;
            self.store.seed(&self.rt("", "nodes"), node).unwrap();
        }

        fn patch_node(&self, name: &str, patch: &Value) {
            self.store
                .patch(
                    &self.rt("", "nodes"),
                    "",
                    name,
                    PatchType::Merge,
                    patch,
                    Part::Main,
                    &WriteOptions::default(),
                )
                .unwrap();
        }

        fn daemonset(&self, name: &str, spec: Value) {
            let mut spec = spec;
            spec["selector"] = json!({"matchLabels": {"k8s-app": name}});
            spec["template"]["metadata"] = json!({"labels": {"k8s-app": name}});
            if spec["template"]["spec"]["containers"].is_null() {
                spec["template"]["spec"]["containers"] =
                    json!([{"name": "node", "image": "quay.io/calico/node:v3.27.3"}]);
            }
            let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": "calico-system"}, "spec": spec});
            self.store
                .create(
                    &self.rt("apps", "daemonsets"),
                    None,
                    ds,
                    &WriteOptions::default(),
                )
                .unwrap();
        }

        fn patch_daemonset(&self, name: &str, patch: &Value) {
            self.store
                .patch(
                    &self.rt("apps", "daemonsets"),
                    "calico-system",
                    name,
                    PatchType::Merge,
                    patch,
                    Part::Main,
                    &WriteOptions::default(),
                )
                .unwrap();
        }

        fn get_daemonset(&self, name: &str) -> Value {
            self.store
                .get(&self.rt("apps", "daemonsets"), "calico-system", name)
                .unwrap()
                .value()
                .unwrap()
        }

        fn pods(&self) -> Vec<Value> {
            let page = self
                .store
                .list(
                    &self.rt("", "pods"),
                    Some("calico-system"),
                    &ListOptions::default(),
                )
                .unwrap();
            page.items.iter().map(|o| o.value().unwrap()).collect()
        }

        /// Live (not terminating) pods by the node they are pinned to.
        fn pods_by_node(&self) -> BTreeMap<String, Vec<Value>> {
            let mut map: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for pod in self
                .pods()
                .into_iter()
                .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
            {
                map.entry(pinned(&pod)).or_default().push(pod);
            }
            map
        }

        fn revisions(&self) -> Vec<Value> {
            let page = self
                .store
                .list(
                    &self.rt("apps", "controllerrevisions"),
                    Some("calico-system"),
                    &ListOptions::default(),
                )
                .unwrap();
            let mut list: Vec<Value> = page.items.iter().map(|o| o.value().unwrap()).collect();
            list.sort_by_key(|r| r["revision"].as_i64());
            list
        }

        fn events(&self, reason: &str) -> Vec<Value> {
            let page = self
                .store
                .list(
                    &self.rt("", "events"),
                    Some("calico-system"),
                    &ListOptions::default(),
                )
                .unwrap();
            page.items
                .iter()
                .map(|o| o.value().unwrap())
                .filter(|e| e["reason"] == reason)
                .collect()
        }

        /// Plays scheduler and kubelet for one step: a terminating pod first turns not
        /// ready, then goes; a pinned pod is bound, then becomes Running and Ready.
        fn kubelet_step(&self) {
            let pods = self.rt("", "pods");
            let now = rfc3339(self.clock.now());
            let status = |pod: &Value, patch: Value| {
                let name = pod["metadata"]["name"].as_str().unwrap();
                let _ = self.store.patch(
                    &pods,
                    "calico-system",
                    name,
                    PatchType::Merge,
                    &json!({"status": patch}),
                    Part::Status,
                    &WriteOptions::default(),
                );
            };
            for pod in self.pods() {
                let name = pod["metadata"]["name"].as_str().unwrap();
                if pod.pointer("/metadata/deletionTimestamp").is_some() {
                    if is_ready(&pod) {
                        status(
                            &pod,
                            json!({"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}]}),
                        );
                    } else {
                        let opts = DeleteOptions {
                            grace_period_seconds: Some(0),
                            ..DeleteOptions::default()
                        };
                        let _ = self.store.delete(&pods, "calico-system", name, &opts);
                    }
                } else if pod["spec"]["nodeName"].is_null() {
                    let bind = json!({"spec": {"nodeName": pinned(&pod)}});
                    self.store
                        .patch(
                            &pods,
                            "calico-system",
                            name,
                            PatchType::Merge,
                            &bind,
                            Part::Main,
                            &WriteOptions::default(),
                        )
                        .unwrap();
                } else if !is_ready(&pod) && pod["status"]["phase"] != "Failed" {
                    status(
                        &pod,
                        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}),
                    );
                }
            }
        }

        /// Runs kubelet steps (slower than the controller ticks) until `done`, checking
        /// `invariant` after each step.
        async fn converge(
            &self,
            what: &str,
            done: impl Fn(&Self) -> bool,
            invariant: impl Fn(&Self),
        ) {
            for _ in 0..80 {
                tokio::time::sleep(Duration::from_millis(150)).await;
                invariant(self);
                if done(self) {
                    return;
                }
                self.kubelet_step();
            }
            panic!("timed out waiting for {what}; pods: {:#?}", self.pods());
        }
    }

    impl Drop for Cluster {
        fn drop(&mut self) {
            self.store.shutdown.cancel();
        }
    }

    fn pinned(pod: &Value) -> String {
        pod.pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0/values/0")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    fn is_ready(pod: &Value) -> bool {
        pod["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
    }

    /// Polls (bounded) until `check` holds.
    fn status_of(ds: &Value) -> [i64; 8] {
        let s = &ds["status"];
        let n = |k: &str| s.get(k).and_then(Value::as_i64).unwrap_or(0);
        [
            n("desiredNumberScheduled"),
            n("currentNumberScheduled"),
            n("updatedNumberScheduled"),
            n("numberReady"),
            n("numberAvailable"),
            n("numberUnavailable"),
            n("numberMisscheduled"),
            n("observedGeneration"),
        ]
    }

    /// The relations the counters keep at every step of a rollout.
    fn assert_consistent(ds: &Value) {
        let [
            desired,
            current,
            updated,
            ready,
            available,
            unavailable,
            misscheduled,
            _,
        ] = status_of(ds);
        assert!(current <= desired && updated <= desired, "{ds:#}");
        assert!(available <= ready && ready <= current, "{ds:#}");
        assert_eq!(unavailable, desired - available, "{ds:#}");
        assert!(misscheduled >= 0);
    }

    #[tokio::test]
    async fn one_pod_per_eligible_node() {
        let c = Cluster::new();
        c.node("lin-1", "linux", json!([]));
        c.node("lin-2", "linux", json!([]));
        c.node("win-1", "windows", json!([]));
        // Tolerated by the DaemonSet defaults: cordoned, not-ready NoExecute, memory pressure.
        c.node(
            "lin-cordoned",
            "linux",
            json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
        );
        c.node(
            "lin-notready",
            "linux",
            json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]),
        );
        // Not tolerated: a dedicated taint, and not-ready as NoSchedule (no default covers it).
        c.node(
            "lin-gpu",
            "linux",
            json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
        );
        c.node(
            "lin-starting",
            "linux",
            json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]),
        );
        c.daemonset(
            "calico-node",
            json!({"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}}),
        );

        eventually("four pods", || c.pods().len() == 4).await;
        let by_node = c.pods_by_node();
        assert_eq!(
            by_node.keys().collect::<Vec<_>>(),
            ["lin-1", "lin-2", "lin-cordoned", "lin-notready"]
        );
        let ds = c.get_daemonset("calico-node");
        let revision = &c.revisions()[0];
        let hash = revision["metadata"]["labels"][REVISION_HASH_LABEL]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(hash, template_hash(&ds["spec"]["template"], None));
        for pod in c.pods() {
            let name = pod["metadata"]["name"].as_str().unwrap();
            let suffix = name.strip_prefix("calico-node-").unwrap();
            assert_eq!(suffix.len(), 5, "{name}");
            assert_eq!(
                pod["metadata"]["labels"],
                json!({"k8s-app": "calico-node", REVISION_HASH_LABEL: hash, TEMPLATE_GENERATION_LABEL: "1"})
            );
            let owner = &pod["metadata"]["ownerReferences"][0];
            assert_eq!(
                (owner["kind"].as_str(), owner["controller"].as_bool()),
                (Some("DaemonSet"), Some(true))
            );
            assert_eq!(owner["uid"], ds["metadata"]["uid"]);
            let matchers = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                ["nodeSelectorTerms"];
            assert_eq!(matchers.as_array().unwrap().len(), 1);
            assert_eq!(matchers[0]["matchFields"][0]["key"], "metadata.name");
            assert!(
                pod["spec"]["nodeName"].is_null(),
                "the scheduler binds, not the controller"
            );
            let keys: Vec<&str> = pod["spec"]["tolerations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["key"].as_str().unwrap())
                .collect();
            assert_eq!(
                keys,
                [
                    "node.kubernetes.io/not-ready",
                    "node.kubernetes.io/unreachable",
                    "node.kubernetes.io/disk-pressure",
                    "node.kubernetes.io/memory-pressure",
                    "node.kubernetes.io/pid-pressure",
                    "node.kubernetes.io/unschedulable"
                ]
            );
        }
        // Created, nothing ready yet: 4 desired, all current and updated, none available.
        eventually("status of the new pods", || {
            status_of(&c.get_daemonset("calico-node")) == [4, 4, 4, 0, 0, 4, 0, 1]
        })
        .await;
        assert_eq!(c.events("SuccessfulCreate").len(), 4);
        assert!(c.events("SuccessfulCreate").iter().all(|e| {
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("Created pod: calico-node-")
        }));
        assert_eq!(
            c.events("SuccessfulCreate")[0]["source"]["component"],
            "daemonset-controller"
        );
    }

    #[tokio::test]
    async fn nodes_that_join_or_lose_a_taint_get_pods() {
        let c = Cluster::new();
        c.node("lin-1", "linux", json!([]));
        c.node(
            "lin-gpu",
            "linux",
            json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
        );
        c.daemonset("calico-node", json!({"template": {"spec": {}}}));
        c.converge(
            "ready",
            |c| status_of(&c.get_daemonset("calico-node")) == [1, 1, 1, 1, 1, 0, 0, 1],
            |_| {},
        )
        .await;
        let status = &c.get_daemonset("calico-node")["status"];
        assert!(
            status.get("numberUnavailable").is_none(),
            "omitted at zero like the Go type: {status}"
        );

        c.node("lin-2", "linux", json!([]));
        c.patch_node("lin-gpu", &json!({"spec": {"taints": null}}));
        c.converge(
            "three nodes",
            |c| status_of(&c.get_daemonset("calico-node")) == [3, 3, 3, 3, 3, 0, 0, 1],
            |_| {},
        )
        .await;
        assert_eq!(
            c.pods_by_node().keys().collect::<Vec<_>>(),
            ["lin-1", "lin-2", "lin-gpu"]
        );
    }

    #[tokio::test]
    async fn required_affinity_and_host_network_defaults() {
        let c = Cluster::new();
        c.node(
            "lin-1",
            "linux",
            json!([{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
        );
        c.node(
            "win-1",
            "windows",
            json!([{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
        );
        c.node("win-2", "windows", json!([]));
        let affinity = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["windows"]}]}]}}});
        c.daemonset(
            "calico-node-windows",
            json!({"template": {"spec": {"affinity": affinity, "hostNetwork": true}}}),
        );
        eventually("both windows nodes", || c.pods().len() == 2).await;
        assert_eq!(
            c.pods_by_node().keys().collect::<Vec<_>>(),
            ["win-1", "win-2"]
        );
        let pod = &c.pods()[0];
        let terms = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"];
        assert!(
            terms[0]["matchExpressions"].is_null(),
            "the pinning term replaces the template's terms: {terms}"
        );
        assert!(
            pod["spec"]["tolerations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["key"] == "node.kubernetes.io/network-unavailable")
        );
        eventually("status", || {
            status_of(&c.get_daemonset("calico-node-windows"))[..2] == [2, 2]
        })
        .await;
    }

    #[tokio::test]
    async fn rolling_update_keeps_one_node_unavailable_at_most() {
        let c = Cluster::new();
        for n in 1..=4 {
            c.node(&format!("lin-{n}"), "linux", json!([]));
        }
        c.daemonset("calico-node", json!({"template": {"spec": {}}}));
        c.converge(
            "rolled out",
            |c| status_of(&c.get_daemonset("calico-node")) == [4, 4, 4, 4, 4, 0, 0, 1],
            |_| {},
        )
        .await;
        let first_hash = c.revisions()[0]["metadata"]["labels"][REVISION_HASH_LABEL]
            .as_str()
            .unwrap()
            .to_string();

        c.patch_daemonset("calico-node", &json!({"spec": {"template": {"spec": {"containers": [{"name": "node", "image": "quay.io/calico/node:v3.27.4"}]}}}}));
        let template = c.get_daemonset("calico-node")["spec"]["template"].clone();
        let new_hash = template_hash(&template, None);
        assert_ne!(new_hash, first_hash);
        let seen_unavailable = std::sync::Mutex::new(0);
        c.converge(
            "the new template on every node",
            |c| {
                let ds = c.get_daemonset("calico-node");
                status_of(&ds) == [4, 4, 4, 4, 4, 0, 0, 2]
                    && c.pods()
                        .iter()
                        .all(|p| p["metadata"]["labels"][REVISION_HASH_LABEL] == new_hash.as_str())
            },
            |c| {
                let ds = c.get_daemonset("calico-node");
                assert_consistent(&ds);
                let unavailable = status_of(&ds)[5];
                assert!(
                    unavailable <= 1,
                    "status shows {unavailable} unavailable: {ds:#}"
                );
                *seen_unavailable.lock().unwrap() += unavailable;
                // The pods themselves: at most one node without a ready, live pod.
                let by_node = c.pods_by_node();
                let serving = (1..=4)
                    .filter(|n| {
                        by_node
                            .get(&format!("lin-{n}"))
                            .is_some_and(|ps| ps.iter().any(is_ready))
                    })
                    .count();
                assert!(serving >= 3, "only {serving} nodes serve: {by_node:#?}");
            },
        )
        .await;
        assert!(
            *seen_unavailable.lock().unwrap() > 0,
            "the rollout was observed while in progress"
        );

        let revisions = c.revisions();
        assert_eq!(revisions.len(), 2);
        assert_eq!(revisions[0]["revision"], 1);
        assert_eq!(revisions[1]["revision"], 2);
        assert_eq!(
            revisions[1]["metadata"]["name"],
            format!("calico-node-{new_hash}")
        );
        assert_eq!(
            revisions[1]["data"]["spec"]["template"]["$patch"],
            "replace"
        );
        assert_eq!(
            revisions[1]["data"]["spec"]["template"]["spec"]["containers"][0]["image"],
            "quay.io/calico/node:v3.27.4"
        );
        assert_eq!(
            revisions[1]["metadata"]["ownerReferences"][0]["name"],
            "calico-node"
        );
        assert_eq!(c.events("SuccessfulDelete").len(), 4);
        assert!(
            c.pods()
                .iter()
                .all(|p| p["metadata"]["labels"][TEMPLATE_GENERATION_LABEL] == "2")
        );
    }

    #[tokio::test]
    async fn surge_adds_the_new_pod_before_removing_the_old() {
        let c = Cluster::new();
        for n in 1..=3 {
            c.node(&format!("lin-{n}"), "linux", json!([]));
        }
        let strategy =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}});
        c.daemonset(
            "calico-node",
            json!({"updateStrategy": strategy, "template": {"spec": {}}}),
        );
        c.converge(
            "rolled out",
            |c| status_of(&c.get_daemonset("calico-node"))[4] == 3,
            |_| {},
        )
        .await;
        c.patch_daemonset("calico-node", &json!({"spec": {"template": {"spec": {"containers": [{"name": "node", "image": "quay.io/calico/node:v3.27.4"}]}}}}));
        let max_pods = std::sync::Mutex::new(0);
        c.converge(
            "surged rollout",
            |c| {
                status_of(&c.get_daemonset("calico-node")) == [3, 3, 3, 3, 3, 0, 0, 2]
                    && c.pods().len() == 3
            },
            |c| {
                let ds = c.get_daemonset("calico-node");
                assert_consistent(&ds);
                // The status counts the oldest pod per node, so a replaced pod that is still
                // terminating shows as unavailable (as upstream); the pods themselves never leave
                // a node without a ready one.
                let by_node = c.pods_by_node();
                assert!(
                    by_node.values().all(|pods| pods.iter().any(is_ready)),
                    "a node without a ready pod: {by_node:#?}"
                );
                let live = by_node.values().map(Vec::len).sum::<usize>();
                assert!(live <= 4, "at most one surge pod: {live}");
                let mut max = max_pods.lock().unwrap();
                *max = (*max).max(live);
            },
        )
        .await;
        assert_eq!(
            *max_pods.lock().unwrap(),
            4,
            "one node ran old and new side by side"
        );
    }

    #[tokio::test]
    async fn on_delete_only_replaces_deleted_pods() {
        let c = Cluster::new();
        c.node("lin-1", "linux", json!([]));
        c.node("lin-2", "linux", json!([]));
        c.daemonset(
            "calico-node",
            json!({"updateStrategy": {"type": "OnDelete"}, "template": {"spec": {}}}),
        );
        c.converge(
            "running",
            |c| status_of(&c.get_daemonset("calico-node")) == [2, 2, 2, 2, 2, 0, 0, 1],
            |_| {},
        )
        .await;
        let before: Vec<String> = c
            .pods()
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        c.patch_daemonset("calico-node", &json!({"spec": {"template": {"spec": {"containers": [{"name": "node", "image": "quay.io/calico/node:v3.27.4"}]}}}}));
        eventually("the new generation observed", || {
            status_of(&c.get_daemonset("calico-node")) == [2, 2, 0, 2, 2, 0, 0, 2]
        })
        .await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let after: Vec<String> = c
            .pods()
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(before, after, "OnDelete never deletes");

        let pods = c.rt("", "pods");
        let victim = c.pods_by_node()["lin-1"][0]["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        c.store
            .delete(
                &pods,
                "calico-system",
                &victim,
                &DeleteOptions {
                    grace_period_seconds: Some(0),
                    ..DeleteOptions::default()
                },
            )
            .unwrap();
        c.converge(
            "a new pod on lin-1",
            |c| status_of(&c.get_daemonset("calico-node")) == [2, 2, 1, 2, 2, 0, 0, 2],
            |_| {},
        )
        .await;
        let by_node = c.pods_by_node();
        let new_hash = template_hash(&c.get_daemonset("calico-node")["spec"]["template"], None);
        assert_eq!(
            by_node["lin-1"][0]["metadata"]["labels"][REVISION_HASH_LABEL],
            new_hash.as_str()
        );
        assert_ne!(
            by_node["lin-2"][0]["metadata"]["labels"][REVISION_HASH_LABEL],
            new_hash.as_str()
        );
    }

    #[tokio::test]
    async fn pods_leave_nodes_that_no_longer_qualify() {
        let c = Cluster::new();
        c.node("edge-1", "linux", json!([]));
        c.node("edge-2", "linux", json!([]));
        c.patch_node("edge-1", &json!({"metadata": {"labels": {"role": "edge"}}}));
        c.patch_node("edge-2", &json!({"metadata": {"labels": {"role": "edge"}}}));
        c.daemonset(
            "proxy",
            json!({"template": {"spec": {"nodeSelector": {"role": "edge"}}}}),
        );
        c.converge(
            "running",
            |c| status_of(&c.get_daemonset("proxy")) == [2, 2, 2, 2, 2, 0, 0, 1],
            |_| {},
        )
        .await;

        // An untolerated NoSchedule taint: no new pods, but the running one may stay; it counts
        // as misscheduled.
        c.patch_node(
            "edge-1",
            &json!({"spec": {"taints": [{"key": "maintenance", "effect": "NoSchedule"}]}}),
        );
        c.converge(
            "edge-1 misscheduled",
            |c| status_of(&c.get_daemonset("proxy")) == [1, 1, 1, 1, 1, 0, 1, 1],
            |_| {},
        )
        .await;
        assert_eq!(
            c.pods_by_node().len(),
            2,
            "the pod stays through a NoSchedule taint"
        );

        // NoExecute evicts; a label change makes the node ineligible outright.
        c.patch_node(
            "edge-1",
            &json!({"spec": {"taints": [{"key": "maintenance", "effect": "NoExecute"}]}}),
        );
        c.patch_node("edge-2", &json!({"metadata": {"labels": {"role": "core"}}}));
        c.converge(
            "both pods gone",
            |c| {
                c.pods().is_empty()
                    && status_of(&c.get_daemonset("proxy")) == [0, 0, 0, 0, 0, 0, 0, 1]
            },
            |_| {},
        )
        .await;
        assert_eq!(c.events("SuccessfulDelete").len(), 2);
    }

    #[tokio::test]
    async fn failed_pods_are_replaced() {
        let c = Cluster::new();
        c.node("lin-1", "linux", json!([]));
        c.daemonset("calico-node", json!({"template": {"spec": {}}}));
        eventually("a pod", || c.pods().len() == 1).await;
        let pods = c.rt("", "pods");
        let name = c.pods()[0]["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        c.store
            .patch(
                &pods,
                "calico-system",
                &name,
                PatchType::Merge,
                &json!({"status": {"phase": "Failed"}}),
                Part::Status,
                &WriteOptions::default(),
            )
            .unwrap();
        eventually("a replacement", || {
            c.pods()
                .iter()
                .any(|p| p["metadata"]["name"] != name.as_str())
        })
        .await;
        let event = &c.events("FailedDaemonPod")[0];
        assert_eq!(
            event["message"],
            format!(
                "Found failed daemon pod calico-system/{name} on node lin-1, will try to kill it"
            )
        );
        assert_eq!(event["type"], "Warning");
    }

    #[tokio::test]
    async fn min_ready_seconds_delays_availability() {
        let c = Cluster::new();
        c.node("lin-1", "linux", json!([]));
        c.daemonset(
            "calico-node",
            json!({"minReadySeconds": 10, "template": {"spec": {}}}),
        );
        c.converge(
            "ready, not yet available",
            |c| status_of(&c.get_daemonset("calico-node")) == [1, 1, 1, 1, 0, 1, 0, 1],
            |_| {},
        )
        .await;
        c.clock.advance(SignedDuration::from_secs(9));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            status_of(&c.get_daemonset("calico-node"))[4],
            0,
            "not available before 10 s"
        );
        c.clock.advance(SignedDuration::from_secs(2));
        eventually("available", || {
            status_of(&c.get_daemonset("calico-node")) == [1, 1, 1, 1, 1, 0, 0, 1]
        })
        .await;
    }

    #[tokio::test]
    async fn history_is_trimmed_and_rollbacks_reuse_revisions() {
        let c = Cluster::new();
        // No node qualifies, so no pod keeps an old revision alive.
        c.daemonset("calico-node", json!({"revisionHistoryLimit": 1, "template": {"spec": {"nodeSelector": {"nowhere": "true"}}}}));
        let image = |tag: &str| json!({"spec": {"template": {"spec": {"containers": [{"name": "node", "image": format!("quay.io/calico/node:{tag}")}]}}}});
        eventually("revision 1", || c.revisions().len() == 1).await;
        let template_of = |r: &Value| {
            r["data"]["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        c.patch_daemonset("calico-node", &image("b"));
        eventually("revision 2", || {
            c.revisions()
                .iter()
                .map(|r| r["revision"].as_i64())
                .collect::<Vec<_>>()
                == [Some(1), Some(2)]
        })
        .await;
        c.patch_daemonset("calico-node", &image("c"));
        eventually("revision 3 with one old revision kept", || {
            let revisions = c.revisions();
            revisions
                .iter()
                .map(|r| (r["revision"].as_i64().unwrap(), template_of(r)))
                .collect::<Vec<_>>()
                == [
                    (2, "quay.io/calico/node:b".to_string()),
                    (3, "quay.io/calico/node:c".to_string()),
                ]
        })
        .await;
        // Back to b: its revision is reused and renumbered, not duplicated.
        c.patch_daemonset("calico-node", &image("b"));
        eventually("b renumbered to 4", || {
            c.revisions()
                .iter()
                .map(|r| (r["revision"].as_i64().unwrap(), template_of(r)))
                .collect::<Vec<_>>()
                == [
                    (3, "quay.io/calico/node:c".to_string()),
                    (4, "quay.io/calico/node:b".to_string()),
                ]
        })
        .await;
    }

    #[test]
    fn tolerations_follow_the_upstream_rules() {
        let taint = |key: &str, value: &str, effect: &str| Taint {
            key: key.into(),
            value: value.into(),
            effect: effect.into(),
        };
        let tol = |t: Value| Toleration::from_json(&t);
        assert!(tol(json!({"operator": "Exists"})).tolerates(&taint("anything", "x", "NoExecute")));
        assert!(
            tol(json!({"key": "a", "value": "1", "effect": "NoSchedule"})).tolerates(&taint(
                "a",
                "1",
                "NoSchedule"
            ))
        );
        assert!(
            !tol(json!({"key": "a", "value": "1", "effect": "NoSchedule"})).tolerates(&taint(
                "a",
                "2",
                "NoSchedule"
            ))
        );
        assert!(
            !tol(json!({"key": "a", "operator": "Exists", "effect": "NoSchedule"}))
                .tolerates(&taint("a", "", "NoExecute"))
        );
        let merged = with_default_tolerations(
            &json!({"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}, {"operator": "Exists"}]}),
        );
        assert_eq!(
            merged.len(),
            7,
            "one template toleration equals a default and is replaced in place"
        );
        assert_eq!(merged[0]["key"], "node.kubernetes.io/unschedulable");
    }

    #[test]
    fn node_requirements_cover_every_operator() {
        let node = NodeFacts {
            name: "n1".into(),
            labels: [("zone".to_string(), "3".to_string())].into(),
            taints: vec![],
        };
        let term = |r: Value| NodeTerm {
            expressions: vec![NodeRequirement::from_json(&r)],
            fields: vec![],
        };
        assert!(term(json!({"key": "zone", "operator": "Gt", "values": ["2"]})).matches(&node));
        assert!(!term(json!({"key": "zone", "operator": "Lt", "values": ["2"]})).matches(&node));
        assert!(term(json!({"key": "rack", "operator": "DoesNotExist"})).matches(&node));
        assert!(term(json!({"key": "zone", "operator": "NotIn", "values": ["1"]})).matches(&node));
        assert!(
            !NodeTerm {
                expressions: vec![],
                fields: vec![]
            }
            .matches(&node),
            "an empty term matches nothing"
        );
        let by_name = NodeTerm {
            expressions: vec![],
            fields: vec![NodeRequirement::from_json(
                &json!({"key": "metadata.name", "operator": "In", "values": ["n1"]}),
            )],
        };
        assert!(by_name.matches(&node));
    }

    #[test]
    fn percentages_round_up_for_daemonsets() {
        let object = json!({"metadata": {"name": "d", "namespace": "ns", "uid": "u", "generation": 3},
                            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}},
                                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}}}});
        let stored = StoredObject::from_value("DaemonSet", &object, 1).unwrap();
        let ds = DaemonSetFacts::from_stored(&stored).unwrap();
        assert_eq!(ds.rollout_budget(25), Ok((0, 3)));
        assert_eq!(ds.rollout_budget(5), Ok((0, 1)));
        assert!(!ds.allows_surge());
        assert_eq!(
            ds.template_generation, 3,
            "falls back to the generation without the annotation"
        );
    }
}
