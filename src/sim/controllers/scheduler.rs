//! The default scheduler of the simulated cluster. It binds every pod that asks for
//! `default-scheduler` and has no node yet to a feasible node, filtering as kube-scheduler's
//! default profile does, in its order: `spec.unschedulable`, NoSchedule/NoExecute taints
//! against tolerations, `nodeSelector` plus required node affinity (matchExpressions, and
//! matchFields on `metadata.name`, which is how DaemonSet pods are pinned), and the node's pod
//! capacity. Among feasible nodes it takes the one with the fewest pods, then by name, so runs
//! are deterministic. A pod that fits nowhere gets `PodScheduled=False` (`Unschedulable`) and a
//! `FailedScheduling` event worded as kube-scheduler words it, and is tried again when nodes or
//! capacity change, or after five minutes. It writes only `spec.nodeName` of unbound pods and
//! their `PodScheduled` condition; nodes and bound pods are the kubelet's.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::events::{EventKind, ObjectRef, Recorder};
use super::informer::{Change, Informer, Key};
use crate::sim::clock::rfc3339;
use crate::sim::error::ApiError;
use crate::sim::resource::ResourceType;
use crate::sim::store::{Store, StoredObject};
use crate::sim::write::{Part, PatchType, WriteOptions};

/// The scheduler name pods ask for, and the component its writes and events carry.
pub const SCHEDULER_NAME: &str = "default-scheduler";
/// How often queued pods are tried against the (possibly simulated) clock.
const TICK: Duration = Duration::from_millis(100);
/// How long an unschedulable pod waits for a cluster change before it is tried (and reported)
/// again anyway: kube-scheduler's `podMaxInUnschedulablePodsDuration`.
const RETRY_UNSCHEDULABLE: SignedDuration = SignedDuration::from_mins(5);
/// The taint `kubectl cordon` stands for; tolerating it lets a pod onto a cordoned node.
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";
/// The taint a node carries until its kubelet reports Ready.
const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";

/// Follows nodes and pods and binds pending pods until the store shuts down.
pub async fn run(store: Arc<Store>) {
    let shutdown = store.shutdown.clone();
    let (mut nodes, mut pods) = loop {
        if let (Some(nodes), Some(pods)) = (
            Informer::new(&store, "", "v1", "nodes", project_node),
            Informer::new(&store, "", "v1", "pods", project_pod),
        ) {
            break (nodes, pods);
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(TICK) => {}
        }
    };
    let Some(mut scheduler) = Scheduler::new(&store) else {
        return;
    };
    scheduler.on_nodes(
        nodes
            .iter()
            .map(|(k, v)| Change::Upsert(k.clone(), Arc::clone(v)))
            .collect(),
    );
    scheduler.on_pods(
        pods.iter()
            .map(|(k, v)| Change::Upsert(k.clone(), Arc::clone(v)))
            .collect(),
    );
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            changes = nodes.changed() => match changes {
                Some(changes) => scheduler.on_nodes(changes),
                None => return,
            },
            changes = pods.changed() => match changes {
                Some(changes) => scheduler.on_pods(changes),
                None => return,
            },
            _ = ticker.tick() => scheduler.tick(&pods),
        }
    }
}

// ---------------------------------------------------------------------------------------
// What the scheduler knows of nodes and pods.
// ---------------------------------------------------------------------------------------

/// A node as filtering sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeFacts {
    labels: BTreeMap<String, String>,
    unschedulable: bool,
    taints: Vec<Taint>,
    /// `status.allocatable.pods`; a node that reports none takes no pods, as in Kubernetes.
    max_pods: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

impl Taint {
    /// A `spec.taints` entry; `None` without a key.
    pub fn from_json(value: &Value) -> Option<Self> {
        Some(Self {
            key: value.get("key")?.as_str()?.to_string(),
            value: text(value, "value"),
            effect: text(value, "effect"),
        })
    }

    /// NoSchedule and NoExecute keep pods off; PreferNoSchedule only weighs in scoring.
    fn repels(&self) -> bool {
        matches!(self.effect.as_str(), "NoSchedule" | "NoExecute")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Toleration {
    pub key: String,
    pub exists: bool,
    pub value: String,
    pub effect: String,
}

impl Toleration {
    /// A `spec.tolerations` entry.
    pub fn from_json(value: &Value) -> Self {
        Self {
            key: text(value, "key"),
            exists: value.get("operator").and_then(Value::as_str) == Some("Exists"),
            value: text(value, "value"),
            effect: text(value, "effect"),
        }
    }

    /// Kubernetes' rule: an empty effect matches every effect, an empty key (with Exists)
    /// every key; Equal compares values.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        (self.effect.is_empty() || self.effect == taint.effect)
            && (self.key.is_empty() || self.key == taint.key)
            && (self.exists || self.value == taint.value)
    }
}

/// Operators of a node selector requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
    /// Anything else: the API server would have rejected it; it matches nothing.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    fn from_json(value: &Value) -> Self {
        let operator = match value.get("operator").and_then(Value::as_str) {
            Some("In") => Operator::In,
            Some("NotIn") => Operator::NotIn,
            Some("Exists") => Operator::Exists,
            Some("DoesNotExist") => Operator::DoesNotExist,
            Some("Gt") => Operator::Gt,
            Some("Lt") => Operator::Lt,
            _ => Operator::Unknown,
        };
        let values = value
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
            key: text(value, "key"),
            operator,
            values,
        }
    }

    fn matches(&self, actual: Option<&str>) -> bool {
        let number = |s: &str| s.parse::<i64>().ok();
        let bound = || match self.values.as_slice() {
            [one] => number(one),
            _ => None,
        };
        match self.operator {
            Operator::In => actual.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Operator::NotIn => actual.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            Operator::Exists => actual.is_some(),
            Operator::DoesNotExist => actual.is_none(),
            Operator::Gt => {
                matches!((actual.and_then(number), bound()), (Some(a), Some(b)) if a > b)
            }
            Operator::Lt => {
                matches!((actual.and_then(number), bound()), (Some(a), Some(b)) if a < b)
            }
            Operator::Unknown => false,
        }
    }
}

/// One `nodeSelectorTerms` entry: its requirements all hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Term {
    expressions: Vec<Requirement>,
    fields: Vec<Requirement>,
}

impl Term {
    fn from_json(value: &Value) -> Self {
        let list = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_array)
                .map(|l| l.iter().map(Requirement::from_json).collect())
                .unwrap_or_default()
        };
        Self {
            expressions: list("matchExpressions"),
            fields: list("matchFields"),
        }
    }

    /// An empty term matches no node. `metadata.name` is the only field a node selector
    /// term may name.
    fn matches(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        if self.expressions.is_empty() && self.fields.is_empty() {
            return false;
        }
        self.expressions
            .iter()
            .all(|r| r.matches(labels.get(&r.key).map(String::as_str)))
            && self
                .fields
                .iter()
                .all(|r| r.key == "metadata.name" && r.matches(Some(name)))
    }

    /// The node names the term pins the pod to (`metadata.name In [...]`), if it does.
    fn pinned_names(&self) -> Option<BTreeSet<&str>> {
        let mut pinned: Option<BTreeSet<&str>> = None;
        for r in self
            .fields
            .iter()
            .filter(|r| r.key == "metadata.name" && r.operator == Operator::In)
        {
            let names: BTreeSet<&str> = r.values.iter().map(String::as_str).collect();
            pinned = Some(match pinned {
                Some(before) => before.intersection(&names).copied().collect(),
                None => names,
            });
        }
        pinned
    }
}

/// Where a pod may go.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
struct Placement {
    node_selector: BTreeMap<String, String>,
    /// Required node affinity terms, ORed; `None` when the pod has no required affinity.
    terms: Option<Vec<Term>>,
    tolerations: Vec<Toleration>,
}

impl Placement {
    fn from_spec(spec: &Value) -> Self {
        let node_selector = spec
            .get("nodeSelector")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let terms = spec
            .pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
            .and_then(Value::as_array)
            .map(|terms| terms.iter().map(Term::from_json).collect());
        let tolerations = spec
            .get("tolerations")
            .and_then(Value::as_array)
            .map(|l| l.iter().map(Toleration::from_json).collect())
            .unwrap_or_default();
        Self {
            node_selector,
            terms,
            tolerations,
        }
    }

    fn tolerates(&self, taint: &Taint) -> bool {
        self.tolerations.iter().any(|t| t.tolerates(taint))
    }

    fn matches_node(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        self.node_selector
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self
                .terms
                .as_ref()
                .is_none_or(|terms| terms.iter().any(|t| t.matches(name, labels)))
    }

    /// The NodeAffinity PreFilter: when every term pins node names, only those nodes are
    /// candidates (DaemonSet pods); `None` when any node may be.
    fn pinned_nodes(&self) -> Option<BTreeSet<String>> {
        let terms = self.terms.as_ref()?;
        let mut all = BTreeSet::new();
        for term in terms {
            all.extend(term.pinned_names()?.into_iter().map(str::to_string));
        }
        Some(all)
    }

    /// Why a node cannot take the pod, checking filters in kube-scheduler's order.
    fn misfit(&self, name: &str, node: &NodeFacts, pods_on_node: usize) -> Option<Misfit> {
        let cordon = Taint {
            key: UNSCHEDULABLE_TAINT.to_string(),
            value: String::new(),
            effect: "NoSchedule".to_string(),
        };
        if node.unschedulable && !self.tolerates(&cordon) {
            return Some(Misfit::Unschedulable);
        }
        if let Some(taint) = node
            .taints
            .iter()
            .find(|t| t.repels() && !self.tolerates(t))
        {
            return Some(Misfit::Taint(taint.key.clone(), taint.value.clone()));
        }
        if !self.matches_node(name, &node.labels) {
            return Some(Misfit::Affinity);
        }
        (pods_on_node >= node.max_pods).then_some(Misfit::TooManyPods)
    }
}

/// The reason a filter gives for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Misfit {
    Unschedulable,
    Taint(String, String),
    Affinity,
    /// Left out by the NodeAffinity PreFilter (the pod is pinned to other nodes).
    NotPinned,
    TooManyPods,
}

impl Misfit {
    fn reason(&self) -> String {
        match self {
            Self::Unschedulable => "node(s) were unschedulable".to_string(),
            Self::Taint(key, value) => format!("node(s) had untolerated taint {{{key}: {value}}}"),
            Self::Affinity => "node(s) didn't match Pod's node affinity/selector".to_string(),
            Self::NotPinned => "node(s) didn't satisfy plugin(s) [NodeAffinity]".to_string(),
            Self::TooManyPods => "Too many pods".to_string(),
        }
    }

    /// Only capacity can be freed by evicting lower-priority pods; no pod here has a lower
    /// priority than another, so preemption never finds victims.
    fn preemption(&self) -> &'static str {
        match self {
            Self::TooManyPods => "No preemption victims found for incoming pod",
            _ => "Preemption is not helpful for scheduling",
        }
    }
}

/// The FailedScheduling message: reasons counted per node, sorted as kube-scheduler sorts them
/// (as strings, count included), then the preemption verdict.
fn fit_error(total: usize, misfits: &[Misfit]) -> String {
    if total == 0 {
        return "no nodes available to schedule pods".to_string();
    }
    let histogram = |label: &dyn Fn(&Misfit) -> String| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for m in misfits {
            *counts.entry(label(m)).or_default() += 1;
        }
        let mut lines: Vec<String> = counts
            .into_iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        lines.sort();
        lines.join(", ")
    };
    format!(
        "0/{total} nodes are available: {}. preemption: 0/{total} nodes are available: {}.",
        histogram(&Misfit::reason),
        histogram(&|m| m.preemption().to_string())
    )
}

/// A pod as the scheduler sees it.
#[derive(Debug, Clone, PartialEq)]
struct PodFacts {
    uid: String,
    node: String,
    /// Succeeded or Failed: it no longer takes a place on its node.
    finished: bool,
    /// The uid of the pod's first owner (its ReplicaSet, DaemonSet...), if any.
    owner: Option<Arc<str>>,
    /// Set for pods this scheduler should place now.
    wants: Option<Arc<Placement>>,
    /// The pod's `PodScheduled` condition: status, message and transition time.
    condition: Option<(String, String, String)>,
}

fn project_node(obj: &StoredObject) -> Option<NodeFacts> {
    let value = obj.value().ok()?;
    let taints = value
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Taint::from_json).collect())
        .unwrap_or_default();
    let max_pods = match value.pointer("/status/allocatable/pods") {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0),
        _ => 0,
    };
    Some(NodeFacts {
        labels: obj.labels.clone(),
        unschedulable: value
            .pointer("/spec/unschedulable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        taints,
        max_pods,
    })
}

/// Bound pods are read from the indexed fields alone; only unbound ones are parsed.
fn project_pod(obj: &StoredObject) -> Option<PodFacts> {
    let node = obj.field("spec.nodeName").unwrap_or_default();
    let finished = matches!(
        obj.field("status.phase").as_deref(),
        Some("Succeeded" | "Failed")
    );
    let mut facts = PodFacts {
        uid: obj.uid.clone(),
        node,
        finished,
        owner: obj.owner_uids.first().map(|uid| Arc::from(uid.as_str())),
        wants: None,
        condition: None,
    };
    if !facts.node.is_empty() || finished {
        return Some(facts);
    }
    let value = obj.value().ok()?;
    let spec = &value["spec"];
    let scheduler = spec
        .get("schedulerName")
        .and_then(Value::as_str)
        .unwrap_or(SCHEDULER_NAME);
    let gated = spec
        .get("schedulingGates")
        .and_then(Value::as_array)
        .is_some_and(|g| !g.is_empty());
    let deleting = value.pointer("/metadata/deletionTimestamp").is_some();
    if scheduler == SCHEDULER_NAME && !gated && !deleting {
        facts.wants = Some(Arc::new(Placement::from_spec(spec)));
    }
    facts.condition = value
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().find(|c| c["type"] == "PodScheduled"))
        .map(|c| {
            (
                text(c, "status"),
                text(c, "message"),
                text(c, "lastTransitionTime"),
            )
        });
    Some(facts)
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------------------------------
// The scheduling loop.
// ---------------------------------------------------------------------------------------

/// A pod no node could take, and when it was last reported.
#[derive(Debug, Clone)]
struct Unschedulable {
    message: String,
    retry_at: Timestamp,
}

struct Scheduler {
    store: Arc<Store>,
    pods_rt: Arc<ResourceType>,
    recorder: Recorder,
    nodes: BTreeMap<String, Arc<NodeFacts>>,
    /// Non-finished pods bound to each node, existing or not.
    load: HashMap<String, usize>,
    /// Existing nodes by (load, name): the first feasible entry is the choice.
    by_load: BTreeSet<(usize, String)>,
    /// Which node each counted pod is counted on, and its owner.
    counted: HashMap<Key, (String, Option<Arc<str>>)>,
    /// Counted pods per owner and node, for spreading an owner's pods while converging.
    owned: HashMap<(Arc<str>, String), usize>,
    /// Unbound pods this scheduler places, as last seen.
    unbound: HashMap<Key, Arc<PodFacts>>,
    queue: BTreeSet<Key>,
    waiting: BTreeMap<Key, Unschedulable>,
    retries: BTreeSet<(Timestamp, Key)>,
    /// Pods held while the cluster converges until every node they may run on is up.
    held: BTreeSet<Key>,
    /// New pods to place arrived since the last tick.
    arrived: bool,
    /// Nodes or capacity changed since the last tick: every waiting pod is worth a new try.
    cluster_changed: bool,
}

impl Scheduler {
    fn new(store: &Arc<Store>) -> Option<Self> {
        Some(Self {
            store: Arc::clone(store),
            pods_rt: store.registry().get("", "v1", "pods")?,
            recorder: Recorder::new(store, SCHEDULER_NAME),
            nodes: BTreeMap::new(),
            load: HashMap::new(),
            by_load: BTreeSet::new(),
            counted: HashMap::new(),
            owned: HashMap::new(),
            unbound: HashMap::new(),
            queue: BTreeSet::new(),
            waiting: BTreeMap::new(),
            retries: BTreeSet::new(),
            held: BTreeSet::new(),
            arrived: false,
            cluster_changed: false,
        })
    }

    fn on_nodes(&mut self, changes: Vec<Change<NodeFacts>>) {
        for change in changes {
            match change {
                Change::Upsert((_, name), facts) => {
                    if self.nodes.get(&name).is_some_and(|old| *old == facts) {
                        continue;
                    }
                    let load = self.load.get(&name).copied().unwrap_or(0);
                    self.by_load.insert((load, name.clone()));
                    self.nodes.insert(name, facts);
                }
                Change::Removed((_, name)) => {
                    if self.nodes.remove(&name).is_none() {
                        continue;
                    }
                    let load = self.load.get(&name).copied().unwrap_or(0);
                    self.by_load.remove(&(load, name));
                }
            }
            self.cluster_changed = true;
        }
    }

    fn on_pods(&mut self, changes: Vec<Change<PodFacts>>) {
        for change in changes {
            match change {
                Change::Upsert(key, facts) => {
                    let holds = (!facts.node.is_empty() && !facts.finished)
                        .then(|| (facts.node.clone(), facts.owner.clone()));
                    self.count(&key, holds);
                    if facts.wants.is_some() {
                        let requeue = self
                            .unbound
                            .get(&key)
                            .is_none_or(|old| old.uid != facts.uid || old.wants != facts.wants);
                        if requeue {
                            self.queue.insert(key.clone());
                            self.arrived = true;
                        }
                        self.unbound.insert(key, facts);
                    } else {
                        self.forget(&key);
                    }
                }
                Change::Removed(key) => {
                    self.count(&key, None);
                    self.forget(&key);
                }
            }
        }
    }

    fn forget(&mut self, key: &Key) {
        self.unbound.remove(key);
        self.queue.remove(key);
        self.held.remove(key);
        if let Some(w) = self.waiting.remove(key) {
            self.retries.remove(&(w.retry_at, key.clone()));
        }
    }

    /// Moves a pod's place in the per-node counts (idempotent: echoes of our own binds).
    fn count(&mut self, key: &Key, place: Option<(String, Option<Arc<str>>)>) {
        if self.counted.get(key) == place.as_ref() {
            return;
        }
        if let Some((old, owner)) = self.counted.remove(key) {
            self.adjust(&old, false);
            if let Some(owner) = owner {
                let entry = (owner, old);
                if let Some(n) = self.owned.get_mut(&entry) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.owned.remove(&entry);
                    }
                }
            }
            // Freed capacity may fit a waiting pod.
            self.cluster_changed = true;
        }
        if let Some((new, owner)) = place {
            self.adjust(&new, true);
            if let Some(owner) = &owner {
                *self
                    .owned
                    .entry((Arc::clone(owner), new.clone()))
                    .or_insert(0) += 1;
            }
            self.counted.insert(key.clone(), (new, owner));
        }
    }

    fn adjust(&mut self, node: &str, up: bool) {
        let load = self.load.entry(node.to_string()).or_insert(0);
        let before = *load;
        *load = if up {
            before + 1
        } else {
            before.saturating_sub(1)
        };
        let after = *load;
        if self.nodes.contains_key(node) {
            self.by_load.remove(&(before, node.to_string()));
            self.by_load.insert((after, node.to_string()));
        }
    }

    fn tick(&mut self, pods: &Informer<PodFacts>) {
        let converging = self.store.converging();
        // While converging, a controller's burst of new pods is placed once it is over, so
        // the placement does not depend on how the burst was split between ticks.
        if std::mem::take(&mut self.arrived) && converging {
            return;
        }
        let now = self.store.clock.now();
        let mut report_again = BTreeSet::new();
        while let Some((at, key)) = self.retries.first().cloned() {
            if at > now {
                break;
            }
            self.retries.remove(&(at, key.clone()));
            report_again.insert(key.clone());
            self.queue.insert(key);
        }
        let changed = std::mem::take(&mut self.cluster_changed);
        if changed || !converging {
            self.queue.append(&mut self.held);
        }
        if changed {
            self.queue.extend(self.waiting.keys().cloned());
        }
        let mut verdicts: HashMap<Arc<Placement>, String> = HashMap::new();
        let batch = converging && !self.queue.is_empty();
        if batch {
            self.store.set_binding(true);
        }
        for key in std::mem::take(&mut self.queue) {
            let Some(facts) = pods.get(&key.0, &key.1).cloned() else {
                continue;
            };
            let Some(placement) = facts.wants.clone() else {
                continue;
            };
            let pinned = placement.pinned_nodes();
            if converging && pinned.is_none() && self.coming_up(&placement) {
                self.held.insert(key);
                continue;
            }
            if pinned.is_none()
                && let Some(message) = verdicts.get(&placement).cloned()
            {
                self.unschedulable(&key, &facts, &message, report_again.contains(&key), now);
                continue;
            }
            let choice = if converging && pinned.is_none() {
                self.choose_spread(&placement, facts.owner.as_ref())
            } else {
                self.choose(&placement, pinned.as_ref())
            };
            if let Some(node) = choice {
                self.bind(&key, &facts, &node, now);
            } else {
                let message = self.diagnose(&placement, pinned.as_ref());
                self.unschedulable(&key, &facts, &message, report_again.contains(&key), now);
                if pinned.is_none() {
                    verdicts.insert(Arc::clone(&placement), message);
                }
            }
        }
        if batch {
            self.store.set_binding(false);
        }
    }

    /// Whether a node the pod could run on (taints aside) has not come up yet.
    fn coming_up(&self, placement: &Placement) -> bool {
        self.nodes.iter().any(|(name, node)| {
            node.taints.iter().any(|t| t.key == NOT_READY_TAINT)
                && placement.matches_node(name, &node.labels)
        })
    }

    fn pods_on(&self, node: &str) -> usize {
        self.load.get(node).copied().unwrap_or(0)
    }

    /// While a scenario converges: the feasible node with the fewest pods of the same owner,
    /// then in an order drawn from the owner and node names. Other owners' pods come and go
    /// at their own pace (rolling updates run side by side), so counting them would make the
    /// choice depend on timing; an owner's own pods are placed one after another.
    fn choose_spread(&self, placement: &Placement, owner: Option<&Arc<str>>) -> Option<String> {
        let owner_key: &str = owner.map_or("", |o| o);
        self.nodes
            .iter()
            .filter(|(name, node)| placement.misfit(name, node, self.pods_on(name)).is_none())
            .min_by_key(|(name, _)| {
                let mine = owner.map_or(0, |o| {
                    self.owned
                        .get(&(Arc::clone(o), (*name).clone()))
                        .copied()
                        .unwrap_or(0)
                });
                (mine, spread_order(owner_key, name), (*name).clone())
            })
            .map(|(name, _)| name.clone())
    }

    /// The feasible node with the fewest pods, then the first by name.
    fn choose(&self, placement: &Placement, pinned: Option<&BTreeSet<String>>) -> Option<String> {
        let fits = |name: &String| {
            self.nodes
                .get(name)
                .is_some_and(|node| placement.misfit(name, node, self.pods_on(name)).is_none())
        };
        match pinned {
            Some(names) => {
                let mut candidates: Vec<(usize, &String)> = names
                    .iter()
                    .filter(|n| self.nodes.contains_key(*n))
                    .map(|n| (self.pods_on(n), n))
                    .collect();
                candidates.sort();
                candidates
                    .into_iter()
                    .map(|(_, n)| n)
                    .find(|n| fits(n))
                    .cloned()
            }
            None => self
                .by_load
                .iter()
                .map(|(_, n)| n)
                .find(|n| fits(n))
                .cloned(),
        }
    }

    fn diagnose(&self, placement: &Placement, pinned: Option<&BTreeSet<String>>) -> String {
        let misfits: Vec<Misfit> = self
            .nodes
            .iter()
            .filter_map(|(name, node)| match pinned {
                Some(names) if !names.contains(name) => Some(Misfit::NotPinned),
                _ => placement.misfit(name, node, self.pods_on(name)),
            })
            .collect();
        fit_error(self.nodes.len(), &misfits)
    }

    fn bind(&mut self, key: &Key, facts: &PodFacts, node: &str, now: Timestamp) {
        match self.write_binding(key, &facts.uid, node, now) {
            Ok(true) => {
                self.count(key, Some((node.to_string(), facts.owner.clone())));
                self.forget(key);
                let message = format!("Successfully assigned {}/{} to {node}", key.0, key.1);
                self.recorder.record(
                    &pod_ref(key, &facts.uid),
                    EventKind::Normal,
                    "Scheduled",
                    &message,
                );
            }
            // Bound or replaced meanwhile: the informer brings the news.
            Ok(false) => {}
            Err(err) => {
                tracing::debug!(pod = %key.1, %err, "binding failed; will retry");
                self.queue.insert(key.clone());
            }
        }
    }

    /// Sets the `PodScheduled` condition and `spec.nodeName` (guarded by uid and
    /// resourceVersion, as a Binding is). A Binding writes both at once; the condition goes
    /// first here so that the kubelet never sees a bound pod without its scheduling time,
    /// which is when it starts the sandbox. `Ok(false)` when the pod changed hands meanwhile.
    fn write_binding(
        &self,
        key: &Key,
        uid: &str,
        node: &str,
        now: Timestamp,
    ) -> Result<bool, ApiError> {
        let opts = WriteOptions::manager(SCHEDULER_NAME);
        let unbound = |stored: &StoredObject| -> Result<Option<Value>, ApiError> {
            let pod = stored.value()?;
            let bound = pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            let gone =
                stored.uid != uid || bound || pod.pointer("/metadata/deletionTimestamp").is_some();
            Ok((!gone).then_some(pod))
        };
        let stored = self.store.get(&self.pods_rt, &key.0, &key.1)?;
        if unbound(&stored)?.is_none() {
            return Ok(false);
        }
        let condition = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                               "lastTransitionTime": rfc3339(now), "reason": null, "message": null});
        let patch = json!({"status": {"conditions": [condition]}});
        self.store.patch(
            &self.pods_rt,
            &key.0,
            &key.1,
            PatchType::Strategic,
            &patch,
            Part::Status,
            &opts,
        )?;
        let stored = self.store.get(&self.pods_rt, &key.0, &key.1)?;
        let Some(mut pod) = unbound(&stored)? else {
            return Ok(false);
        };
        pod["spec"]["nodeName"] = json!(node);
        self.store
            .update(&self.pods_rt, &key.0, &key.1, &pod, Part::Main, &opts)?;
        Ok(true)
    }

    fn unschedulable(
        &mut self,
        key: &Key,
        facts: &PodFacts,
        message: &str,
        report_again: bool,
        now: Timestamp,
    ) {
        let retry_at = now.checked_add(RETRY_UNSCHEDULABLE).unwrap_or(now);
        let changed = self.waiting.get(key).is_none_or(|w| w.message != message);
        if changed || report_again {
            self.recorder.record(
                &pod_ref(key, &facts.uid),
                EventKind::Warning,
                "FailedScheduling",
                message,
            );
            if let Some(old) = self.waiting.insert(
                key.clone(),
                Unschedulable {
                    message: message.to_string(),
                    retry_at,
                },
            ) {
                self.retries.remove(&(old.retry_at, key.clone()));
            }
            self.retries.insert((retry_at, key.clone()));
        }
        let current = facts.condition.as_ref();
        if current.is_some_and(|(status, msg, _)| status == "False" && *msg == message) {
            return;
        }
        let since = match current {
            Some((status, _, at)) if status == "False" && !at.is_empty() => at.clone(),
            _ => rfc3339(now),
        };
        let condition = json!({"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                               "lastProbeTime": null, "lastTransitionTime": since});
        let patch = json!({"status": {"conditions": [condition]}});
        let opts = WriteOptions::manager(SCHEDULER_NAME);
        if let Err(err) = self.store.patch(
            &self.pods_rt,
            &key.0,
            &key.1,
            PatchType::Strategic,
            &patch,
            Part::Status,
            &opts,
        ) {
            tracing::debug!(pod = %key.1, %err, "recording unschedulable condition");
        }
    }
}

/// A stable pseudo-random rank of a node for an owner (FNV-1a), so different owners start
/// their spread on different nodes.
fn spread_order(owner: &str, node: &str) -> u64 {
    owner
        .bytes()
        .chain(std::iter::once(0))
        .chain(node.bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

fn pod_ref(key: &Key, uid: &str) -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: key.0.clone(),
        name: key.1.clone(),
        uid: uid.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::sim::clock::ManualClock;
    use crate::sim::store::{ListOptions, StoreConfig};

    fn store() -> Arc<Store> {
        store_and_clock().0
    }

    fn store_and_clock() -> (Arc<Store>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new("2026-11-29T10:00:00Z".parse().unwrap()));
        let store = Arc::new(Store::new(
            Arc::clone(&clock) as Arc<dyn crate::sim::clock::Clock>,
            StoreConfig::default(),
        ));
        let ns = store.registry().get("", "v1", "namespaces").unwrap();
        store
            .seed(&ns, json!({"metadata": {"name": "default"}}))
            .unwrap();
        (store, clock)
    }

    fn node(store: &Store, name: &str, os: &str, spec: Value, pods: &str) {
        let rt = store.registry().get("", "v1", "nodes").unwrap();
        let mut node = json!({"metadata": {"name": name, "labels": {"kubernetes.io/os": os, "kubernetes.io/hostname": name, "pool": format!("{os}-pool"), "gen": name.len().to_string()}},
                              "status": {"allocatable": {"pods": pods}}});
        node["spec"] = spec;
        store.seed(&rt, node).unwrap();
    }

    fn pod(store: &Store, name: &str, spec: Value) {
        let rt = store.registry().get("", "v1", "pods").unwrap();
        let mut spec = spec;
        spec["containers"] = json!([{"name": "c", "image": "nginx:1.27"}]);
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec});
        store
            .create(&rt, None, pod, &WriteOptions::default())
            .unwrap();
    }

    fn get_pod(store: &Store, name: &str) -> Value {
        let rt = store.registry().get("", "v1", "pods").unwrap();
        store.get(&rt, "default", name).unwrap().value().unwrap()
    }

    fn node_of(store: &Store, name: &str) -> Option<String> {
        get_pod(store, name)
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn events(store: &Store, reason: &str) -> Vec<Value> {
        let rt = store.registry().get("", "v1", "events").unwrap();
        let list = store
            .list(&rt, Some("default"), &ListOptions::default())
            .unwrap();
        list.items
            .iter()
            .map(|o| o.value().unwrap())
            .filter(|e| e["reason"] == reason)
            .collect()
    }

    async fn eventually(what: &str, check: impl Fn() -> bool) {
        for _ in 0..200 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out waiting for {what}");
    }

    fn not_ready() -> Value {
        json!({"taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]})
    }

    #[tokio::test]
    async fn places_pods_by_selector_taints_tolerations_affinity_and_capacity() {
        let store = store();
        node(&store, "lin-a", "linux", json!({}), "2");
        node(
            &store,
            "lin-b",
            "linux",
            json!({"unschedulable": true}),
            "110",
        );
        node(
            &store,
            "lin-c",
            "linux",
            json!({"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}),
            "110",
        );
        node(
            &store,
            "lin-dd",
            "linux",
            json!({"taints": [{"key": "soft", "effect": "PreferNoSchedule"}]}),
            "110",
        );
        node(&store, "win-a", "windows", json!({}), "30");
        let task = tokio::spawn(run(Arc::clone(&store)));
        // Least loaded first, ties by name: lin-a, then lin-dd (PreferNoSchedule does not repel).
        pod(
            &store,
            "p1",
            json!({"nodeSelector": {"kubernetes.io/os": "linux"}}),
        );
        eventually("p1 bound", || node_of(&store, "p1").is_some()).await;
        assert_eq!(node_of(&store, "p1").as_deref(), Some("lin-a"));
        pod(
            &store,
            "p2",
            json!({"nodeSelector": {"kubernetes.io/os": "linux"}}),
        );
        eventually("p2 bound", || node_of(&store, "p2").is_some()).await;
        assert_eq!(node_of(&store, "p2").as_deref(), Some("lin-dd"));
        // Equal toleration for the gpu taint; lin-c is the only empty tolerating Linux node.
        pod(
            &store,
            "gpu",
            json!({"nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}),
        );
        eventually("gpu bound", || node_of(&store, "gpu").is_some()).await;
        assert_eq!(node_of(&store, "gpu").as_deref(), Some("lin-c"));
        // Tolerate-everything plus cordon toleration reaches the cordoned node when pinned there.
        pod(
            &store,
            "daemon",
            json!({"tolerations": [{"operator": "Exists"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["lin-b"]}]}]}}}}),
        );
        eventually("daemon bound", || node_of(&store, "daemon").is_some()).await;
        assert_eq!(node_of(&store, "daemon").as_deref(), Some("lin-b"));
        // Gt on a numeric label: "gen" is the name length; only lin-dd (6) has gen > 5.
        pod(
            &store,
            "gt",
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["5"]}]}]}}}}),
        );
        eventually("gt bound", || node_of(&store, "gt").is_some()).await;
        assert_eq!(node_of(&store, "gt").as_deref(), Some("lin-dd"));
        // NotIn linux leaves the Windows node.
        pod(
            &store,
            "win",
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "NotIn", "values": ["linux"]}]}]}}}}),
        );
        eventually("win bound", || node_of(&store, "win").is_some()).await;
        assert_eq!(node_of(&store, "win").as_deref(), Some("win-a"));
        let scheduled = get_pod(&store, "win")["status"]["conditions"].clone();
        assert_eq!(scheduled[0]["type"], "PodScheduled");
        assert_eq!(scheduled[0]["status"], "True");
        assert_eq!(scheduled[0]["lastTransitionTime"], "2026-11-29T10:00:00Z");
        let assigned: Vec<String> = events(&store, "Scheduled")
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect();
        assert!(
            assigned.contains(&"Successfully assigned default/win to win-a".to_string()),
            "{assigned:?}"
        );
        // lin-a holds 1 of 2 and lin-dd 2: the next Linux pod fills lin-a, the one after finds no room.
        pod(
            &store,
            "p3",
            json!({"nodeSelector": {"kubernetes.io/os": "linux"}}),
        );
        eventually("p3 bound", || node_of(&store, "p3").is_some()).await;
        assert_eq!(node_of(&store, "p3").as_deref(), Some("lin-a"));
        task.abort();
    }

    #[tokio::test]
    async fn reports_why_no_node_fits_once_and_binds_when_a_node_becomes_usable() {
        let (store, clock) = store_and_clock();
        for name in ["aks-lnx-0", "aks-lnx-1", "aks-lnx-2"] {
            node(&store, name, "linux", not_ready(), "110");
        }
        for name in ["aks-win-0", "aks-win-1", "aks-win-2"] {
            node(&store, name, "windows", json!({}), "30");
        }
        let task = tokio::spawn(run(Arc::clone(&store)));
        pod(
            &store,
            "web",
            json!({"nodeSelector": {"kubernetes.io/os": "linux"}}),
        );
        let expected = "0/6 nodes are available: 3 node(s) didn't match Pod's node affinity/selector, 3 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling.";
        eventually("FailedScheduling", || {
            !events(&store, "FailedScheduling").is_empty()
        })
        .await;
        let condition = get_pod(&store, "web")["status"]["conditions"][0].clone();
        assert_eq!(condition["reason"], "Unschedulable");
        assert_eq!(condition["message"], expected);
        assert_eq!(events(&store, "FailedScheduling")[0]["message"], expected);
        // An unrelated node change retries the pod but does not repeat the same report.
        let nodes = store.registry().get("", "v1", "nodes").unwrap();
        let label = json!({"metadata": {"labels": {"extra": "x"}}});
        store
            .patch(
                &nodes,
                "",
                "aks-win-0",
                PatchType::Merge,
                &label,
                Part::Main,
                &WriteOptions::default(),
            )
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let failed = events(&store, "FailedScheduling");
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0]["count"], 1);
        // Five minutes without a change: tried and reported again, on the same event.
        clock.advance(jiff::SignedDuration::from_secs(299));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(events(&store, "FailedScheduling")[0]["count"], 1);
        clock.advance(jiff::SignedDuration::from_secs(2));
        eventually("the report again", || {
            events(&store, "FailedScheduling")[0]["count"] == 2
        })
        .await;
        // The taint goes: the pod binds to the first Linux node by name.
        let untaint = json!({"spec": {"taints": null}});
        store
            .patch(
                &nodes,
                "",
                "aks-lnx-1",
                PatchType::Merge,
                &untaint,
                Part::Main,
                &WriteOptions::default(),
            )
            .unwrap();
        eventually("web bound", || node_of(&store, "web").is_some()).await;
        assert_eq!(node_of(&store, "web").as_deref(), Some("aks-lnx-1"));
        let condition = get_pod(&store, "web")["status"]["conditions"][0].clone();
        assert_eq!(condition["status"], "True");
        assert!(
            condition.get("reason").is_none() && condition.get("message").is_none(),
            "{condition}"
        );
        task.abort();
    }

    #[tokio::test]
    async fn a_pinned_pod_on_a_full_node_names_capacity_and_the_prefilter() {
        let store = store();
        node(&store, "n1", "linux", json!({}), "0");
        node(&store, "n2", "linux", json!({}), "110");
        node(&store, "n3", "linux", json!({}), "110");
        let task = tokio::spawn(run(Arc::clone(&store)));
        pod(
            &store,
            "ds-n1",
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}}),
        );
        eventually("FailedScheduling", || {
            !events(&store, "FailedScheduling").is_empty()
        })
        .await;
        assert_eq!(
            events(&store, "FailedScheduling")[0]["message"],
            "0/3 nodes are available: 1 Too many pods, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
        );
        task.abort();
    }

    #[tokio::test]
    async fn cordoned_nodes_and_missing_nodes_are_reported() {
        let store = store();
        let task = tokio::spawn(run(Arc::clone(&store)));
        pod(&store, "lonely", json!({}));
        eventually("FailedScheduling", || {
            !events(&store, "FailedScheduling").is_empty()
        })
        .await;
        assert_eq!(
            events(&store, "FailedScheduling")[0]["message"],
            "no nodes available to schedule pods"
        );
        node(
            &store,
            "cordoned",
            "linux",
            json!({"unschedulable": true}),
            "110",
        );
        let expected = "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
        eventually("second report", || {
            events(&store, "FailedScheduling")
                .iter()
                .any(|e| e["message"] == expected)
        })
        .await;
        // Other schedulers' pods are left alone.
        pod(&store, "other", json!({"schedulerName": "my-scheduler"}));
        node(&store, "free", "linux", json!({}), "110");
        eventually("lonely bound", || node_of(&store, "lonely").is_some()).await;
        assert_eq!(node_of(&store, "other"), None);
        task.abort();
    }

    /// With the kubelet: nodes without a CNI keep workloads pending until the Calico agent
    /// pods (placed through their matchFields affinity) come up and the not-ready taint goes.
    #[tokio::test]
    async fn with_the_kubelet_workloads_wait_for_calico_then_spread() {
        let clock = Arc::new(ManualClock::new("2026-11-29T10:00:00Z".parse().unwrap()));
        let store = Arc::new(Store::new(
            Arc::clone(&clock) as Arc<dyn crate::sim::clock::Clock>,
            StoreConfig::default(),
        ));
        let registry = store.registry();
        let ns = registry.get("", "v1", "namespaces").unwrap();
        for name in ["default", "calico-system"] {
            store
                .seed(&ns, json!({"metadata": {"name": name}}))
                .unwrap();
        }
        let nodes = registry.get("", "v1", "nodes").unwrap();
        for (name, ip) in [("lin-1", "10.224.0.4"), ("lin-2", "10.224.0.5")] {
            let node = json!({"metadata": {"name": name, "labels": {"kubernetes.io/os": "linux"}},
                "spec": {"taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]},
                "status": {"allocatable": {"pods": "110"}, "addresses": [{"type": "InternalIP", "address": ip}],
                           "conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}],
                           "nodeInfo": {"containerRuntimeVersion": "containerd://1.7.22"}}});
            store.seed(&nodes, node).unwrap();
        }
        let kubelet = tokio::spawn(super::super::kubelet::run_with(
            Arc::clone(&store),
            super::super::kubelet::fake::CNI,
        ));
        let scheduler = tokio::spawn(run(Arc::clone(&store)));
        let pods = registry.get("", "v1", "pods").unwrap();
        let create = |namespace: &str, name: &str, labels: Value, spec: Value| {
            let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}});
            pod["metadata"]["labels"] = labels;
            pod["spec"] = spec;
            store
                .create(&pods, None, pod, &WriteOptions::default())
                .unwrap();
        };
        for i in 0..3 {
            let spec = json!({"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [{"name": "web", "image": "nginx:1.27"}]});
            create("default", &format!("web-{i}"), json!({"app": "web"}), spec);
        }
        for node in ["lin-1", "lin-2"] {
            let spec = json!({"hostNetwork": true, "tolerations": [{"operator": "Exists"}],
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}}},
                "initContainers": [{"name": "install-cni", "image": "quay.io/calico/cni:v3.27.3"}],
                "containers": [{"name": "calico-node", "image": "quay.io/calico/node:v3.27.3",
                                "readinessProbe": {"exec": {"command": ["/bin/calico-node", "-felix-ready"]}, "periodSeconds": 10}}]});
            create(
                "calico-system",
                &format!("calico-node-{node}"),
                json!({"k8s-app": "calico-node"}),
                spec,
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let pending = get_pod(&store, "web-0")["status"]["conditions"][0].clone();
        assert_eq!(pending["reason"], "Unschedulable");
        assert_eq!(
            pending["message"],
            "0/2 nodes are available: 2 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
        );
        for _ in 0..6 {
            clock.advance(jiff::SignedDuration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let mut per_node = BTreeMap::new();
        for i in 0..3 {
            let pod = get_pod(&store, &format!("web-{i}"));
            assert_eq!(pod["status"]["phase"], "Running", "{pod}");
            *per_node
                .entry(pod["spec"]["nodeName"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
        assert_eq!(
            per_node.len(),
            2,
            "least loaded first spreads the pods: {per_node:?}"
        );
        for node in ["lin-1", "lin-2"] {
            let object = store.get(&nodes, "", node).unwrap().value().unwrap();
            assert!(object["spec"].get("taints").is_none(), "{object}");
        }
        kubelet.abort();
        scheduler.abort();
    }

    #[test]
    fn requirements_follow_node_selector_semantics() {
        let r = |op: &str, values: &[&str]| {
            Requirement::from_json(&json!({"key": "k", "operator": op, "values": values}))
        };
        assert!(r("In", &["a", "b"]).matches(Some("b")));
        assert!(!r("In", &["a"]).matches(None));
        assert!(r("NotIn", &["a"]).matches(None));
        assert!(!r("NotIn", &["a"]).matches(Some("a")));
        assert!(r("Exists", &[]).matches(Some("")));
        assert!(r("DoesNotExist", &[]).matches(None));
        assert!(r("Gt", &["3"]).matches(Some("4")));
        assert!(!r("Gt", &["3"]).matches(Some("3")));
        assert!(!r("Gt", &["3"]).matches(Some("x")));
        assert!(r("Lt", &["3"]).matches(Some("-1")));
        assert!(
            !r("Lt", &["3", "4"]).matches(Some("1")),
            "Lt takes exactly one value"
        );
        assert!(!r("Bogus", &["a"]).matches(Some("a")));
        let empty = Term {
            expressions: vec![],
            fields: vec![],
        };
        assert!(
            !empty.matches("n", &BTreeMap::new()),
            "an empty term matches nothing"
        );
    }

    #[test]
    fn tolerations_match_taints_as_kubernetes_does() {
        let taint = Taint {
            key: "node.kubernetes.io/not-ready".into(),
            value: String::new(),
            effect: "NoExecute".into(),
        };
        let t = |v: Value| Toleration::from_json(&v);
        assert!(t(json!({"operator": "Exists"})).tolerates(&taint));
        assert!(t(json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"})).tolerates(&taint));
        assert!(!t(json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"})).tolerates(&taint));
        assert!(
            t(json!({"key": "node.kubernetes.io/not-ready"})).tolerates(&taint),
            "Equal with empty values"
        );
        assert!(!t(json!({"key": "node.kubernetes.io/not-ready", "value": "x"})).tolerates(&taint));
        assert!(!t(json!({"key": "other", "operator": "Exists"})).tolerates(&taint));
    }
}
