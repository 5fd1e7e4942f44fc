//! The rollout of the node-agent DaemonSets — `calico-node` and `calico-node-windows` in
//! `calico-system`, `kube-proxy-windows` in `kube-system` — as the Rollout view shows it:
//! kubectl's `rollout status` verdict and message (`DOMAIN.md` §5.2), the operator's stricter
//! health (§5.3), the counters, the current revision, a per-pool breakdown, and for every node
//! that should run the pod and is not done, why (§5.4), with the latest relevant event. Also
//! the operator's `TigeraStatus` rows shown beside it, and why a DaemonSet is absent (§5.5).
//! Owns DaemonSet/pod/node matching (node selectors, affinity, taints, revisions); grouping
//! nodes into pools is `pools`' job, configuration judgements are `findings`'.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use serde::Serialize;

mod diagnosis;
mod placement;
mod tigera;

pub use diagnosis::{StuckReason, diagnose};
use diagnosis::{explain, runtime_hint};
pub use placement::should_run;
pub use tigera::{TigeraStatusRow, absent_reason, tigera_statuses};

use super::findings::Severity;
use super::pools::{self, EventRow, NodePool, OsFamily, PoolKey};
use super::printers;
use super::snapshot::{ClusterSnapshot, FeedState, Kind};

/// The DaemonSets whose rollout the console follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum RolloutTarget {
    CalicoNode,
    CalicoNodeWindows,
    KubeProxyWindows,
}

impl RolloutTarget {
    pub const ALL: [RolloutTarget; 3] = [
        RolloutTarget::CalicoNode,
        RolloutTarget::CalicoNodeWindows,
        RolloutTarget::KubeProxyWindows,
    ];

    pub fn namespace(self) -> &'static str {
        match self {
            Self::CalicoNode | Self::CalicoNodeWindows => "calico-system",
            Self::KubeProxyWindows => "kube-system",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::CalicoNode => "calico-node",
            Self::CalicoNodeWindows => "calico-node-windows",
            Self::KubeProxyWindows => "kube-proxy-windows",
        }
    }

    /// The OS whose nodes the DaemonSet is meant for.
    pub fn os(self) -> OsFamily {
        match self {
            Self::CalicoNode => OsFamily::Linux,
            Self::CalicoNodeWindows | Self::KubeProxyWindows => OsFamily::Windows,
        }
    }
}

impl fmt::Display for RolloutTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace(), self.name())
    }
}

/// One DaemonSet's rollout, ready to render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollout {
    pub target: RolloutTarget,
    pub presence: Presence,
    /// `RollingUpdate` or `OnDelete`.
    pub strategy: String,
    pub counters: RolloutCounters,
    /// What `kubectl rollout status` prints.
    pub kubectl: KubectlVerdict,
    /// The operator's stricter view (§5.3).
    pub operator: OperatorHealth,
    /// `controller-revision-hash` of the highest ControllerRevision the DaemonSet owns.
    pub current_revision: Option<String>,
    /// Container images of the pod template (main containers), for display.
    pub images: Vec<String>,
    pub pools: Vec<PoolRollout>,
    /// Every node that should run the pod and is not done, worst first.
    pub nodes: Vec<NodeRollout>,
    pub severity: Severity,
}

/// Whether the DaemonSet exists, and if not, why (§5.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Presence {
    Present,
    /// Known absent; `reason` says why, as far as the snapshot tells.
    Absent {
        reason: String,
    },
    /// The DaemonSets feed cannot tell (loading, forbidden, not installed).
    Unknown {
        reason: String,
    },
}

/// The DaemonSet status counters and generations (§5.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RolloutCounters {
    pub desired: i32,
    pub current: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    pub unavailable: i32,
    pub misscheduled: i32,
    pub generation: i64,
    pub observed_generation: i64,
}

/// `kubectl rollout status ds/NAME`'s one-shot answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KubectlVerdict {
    /// The line kubectl prints, without its trailing newline.
    pub message: String,
    pub done: bool,
    /// kubectl returns an error (OnDelete strategy) instead of a status.
    pub error: bool,
}

/// The operator's health verdict (`pkg/controller/status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorHealth {
    pub healthy: bool,
    /// The Progressing message, empty when healthy.
    pub message: String,
}

/// One pool's share of a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolRollout {
    pub pool: PoolKey,
    /// Nodes of the pool that should run the pod.
    pub desired: u32,
    pub scheduled: u32,
    pub updated: u32,
    pub ready: u32,
    /// Nodes not on the current revision and ready.
    pub not_done: u32,
}

/// A node that should run the pod and is not done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRollout {
    pub node: String,
    pub pool: Option<PoolKey>,
    pub pod: Option<String>,
    /// kubectl's STATUS of the pod (`Init:ImagePullBackOff`), or `<none>` without a pod.
    pub status: String,
    pub reason: StuckReason,
    /// The pod runs an older revision than the DaemonSet's current one.
    pub old_revision: bool,
    /// One line: what is wrong and, where the data says, why.
    pub explanation: String,
    /// The latest relevant event for the pod (or the DaemonSet, without a pod).
    pub event: Option<EventRow>,
    pub severity: Severity,
}

/// One node-agent DaemonSet resolved against the snapshot: its pods by node and its current
/// revision, computed once and shared by pools and rollout.
pub struct AgentDaemonSet<'a> {
    pub target: RolloutTarget,
    pub name: &'static str,
    pub daemon_set: &'a DaemonSet,
    pub current_hash: Option<String>,
    pods_by_node: HashMap<&'a str, Vec<&'a Pod>>,
}

impl<'a> AgentDaemonSet<'a> {
    pub fn new(snapshot: &'a ClusterSnapshot, target: RolloutTarget, ds: &'a DaemonSet) -> Self {
        let mut agent = Self::without_pods(snapshot, target, ds);
        for pod in snapshot.pods.iter() {
            agent.take_if_owned(pod);
        }
        agent
    }

    fn without_pods(
        snapshot: &'a ClusterSnapshot,
        target: RolloutTarget,
        ds: &'a DaemonSet,
    ) -> Self {
        Self {
            target,
            name: target.name(),
            daemon_set: ds,
            current_hash: current_revision(snapshot, ds),
            pods_by_node: HashMap::new(),
        }
    }

    /// Files the pod under its node when this DaemonSet controls it.
    fn take_if_owned(&mut self, pod: &'a Pod) {
        if owned_by(pod, self.daemon_set)
            && let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref())
        {
            self.pods_by_node.entry(node).or_default().push(pod);
        }
    }

    /// The pod that counts for the node: one not being deleted if there is one.
    pub fn pod_on(&self, node: &str) -> Option<&'a Pod> {
        let pods = self.pods_by_node.get(node)?;
        pods.iter()
            .find(|p| p.metadata.deletion_timestamp.is_none())
            .or_else(|| pods.first())
            .copied()
    }

    pub fn should_run(&self, node: &Node) -> bool {
        should_run(self.daemon_set, node)
    }

    /// On the current revision: the hash label when the revision is known, else the
    /// `pod-template-generation` label against the DaemonSet's generation.
    pub fn is_updated(&self, pod: &Pod) -> bool {
        if let Some(hash) = &self.current_hash {
            return pod_revision(pod) == Some(hash.as_str());
        }
        let generation = self.daemon_set.metadata.generation;
        pod_label(pod, "pod-template-generation")
            .and_then(|g| g.parse::<i64>().ok())
            .is_some_and(|g| Some(g) == generation)
    }
}

/// The watched agent DaemonSets that exist in the snapshot, in [`RolloutTarget::ALL`] order.
/// One pass over the pods serves all of them, and only pods in an agent's namespace are looked
/// at further: on a large cluster the pods are the bulk of the snapshot.
pub fn agent_daemon_sets(snapshot: &ClusterSnapshot) -> Vec<AgentDaemonSet<'_>> {
    let mut agents: Vec<AgentDaemonSet<'_>> = RolloutTarget::ALL
        .iter()
        .filter_map(|target| {
            find_daemon_set(snapshot, target.namespace(), target.name())
                .map(|ds| AgentDaemonSet::without_pods(snapshot, *target, ds))
        })
        .collect();
    if agents.is_empty() {
        return agents;
    }
    for pod in snapshot.pods.iter() {
        let Some(namespace) = pod.metadata.namespace.as_deref() else {
            continue;
        };
        for agent in &mut agents {
            if agent.daemon_set.metadata.namespace.as_deref() == Some(namespace) {
                agent.take_if_owned(pod);
            }
        }
    }
    agents
}

pub fn find_daemon_set<'a>(
    snapshot: &'a ClusterSnapshot,
    namespace: &str,
    name: &str,
) -> Option<&'a DaemonSet> {
    snapshot
        .daemon_sets
        .iter()
        .find(|ds| {
            ds.metadata.namespace.as_deref() == Some(namespace)
                && ds.metadata.name.as_deref() == Some(name)
        })
        .map(AsRef::as_ref)
}

fn pod_label<'p>(pod: &'p Pod, key: &str) -> Option<&'p str> {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
}

/// The pod's `controller-revision-hash` label.
pub fn pod_revision(pod: &Pod) -> Option<&str> {
    pod_label(pod, "controller-revision-hash")
}

/// Whether the pod's `Ready` condition is True (a finished pod is never ready, whatever a
/// stale condition says).
pub fn pod_is_ready(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    !matches!(status.phase.as_deref(), Some("Failed" | "Succeeded"))
        && status
            .conditions
            .as_ref()
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The pod's controller is this DaemonSet (by UID; by name when the DaemonSet has no UID).
fn owned_by(pod: &Pod, ds: &DaemonSet) -> bool {
    if pod.metadata.namespace != ds.metadata.namespace {
        return false;
    }
    pod.metadata.owner_references.iter().flatten().any(|r| {
        r.kind == "DaemonSet"
            && r.controller.unwrap_or(false)
            && match ds.metadata.uid.as_deref() {
                Some(uid) => r.uid == uid,
                None => Some(r.name.as_str()) == ds.metadata.name.as_deref(),
            }
    })
}

/// The hash of the highest-numbered ControllerRevision the DaemonSet controls (§5.4 item 2).
pub fn current_revision(snapshot: &ClusterSnapshot, ds: &DaemonSet) -> Option<String> {
    let name = ds.metadata.name.as_deref()?;
    let revision = snapshot
        .controller_revisions
        .iter()
        .filter(|r| r.metadata.namespace == ds.metadata.namespace)
        .filter(|r| {
            r.metadata.owner_references.iter().flatten().any(|o| {
                o.controller.unwrap_or(false)
                    && match ds.metadata.uid.as_deref() {
                        Some(uid) => o.uid == uid,
                        None => o.name == name,
                    }
            })
        })
        .max_by_key(|r| r.revision.unwrap_or(0))?;
    revision
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("controller-revision-hash"))
        .cloned()
        .or_else(|| {
            revision
                .metadata
                .name
                .as_deref()
                .and_then(|n| n.strip_prefix(name))
                .and_then(|n| n.strip_prefix('-'))
                .map(str::to_string)
        })
}

/// The three rollouts, in [`RolloutTarget::ALL`] order.
pub fn rollouts(snapshot: &ClusterSnapshot, pools: &[NodePool]) -> Vec<Rollout> {
    rollouts_with_agents(snapshot, &agent_daemon_sets(snapshot), pools)
}

/// The three rollouts from agents already resolved (see [`agent_daemon_sets`]).
pub fn rollouts_with_agents(
    snapshot: &ClusterSnapshot,
    agents: &[AgentDaemonSet<'_>],
    pools: &[NodePool],
) -> Vec<Rollout> {
    let pool_of: HashMap<&str, &PoolKey> = pools
        .iter()
        .flat_map(|p| p.nodes.iter().map(move |n| (n.as_str(), &p.key)))
        .collect();
    let events = EventIndex::new(snapshot);
    rollouts_of(snapshot, agents, &pool_of, &events)
}

fn rollouts_of(
    snapshot: &ClusterSnapshot,
    agents: &[AgentDaemonSet<'_>],
    pool_of: &HashMap<&str, &PoolKey>,
    events: &EventIndex<'_>,
) -> Vec<Rollout> {
    RolloutTarget::ALL
        .iter()
        .map(
            |target| match agents.iter().find(|agent| agent.target == *target) {
                Some(agent) => present_rollout(snapshot, agent, pool_of, events),
                None => absent_rollout(snapshot, *target),
            },
        )
        .collect()
}

fn present_rollout(
    snapshot: &ClusterSnapshot,
    agent: &AgentDaemonSet<'_>,
    pool_of: &HashMap<&str, &PoolKey>,
    events: &EventIndex<'_>,
) -> Rollout {
    let ds = agent.daemon_set;
    let counters = counters(ds);
    let strategy = ds
        .spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.clone())
        // The API server defaults an absent strategy to RollingUpdate.
        .unwrap_or_else(|| "RollingUpdate".to_string());
    let mut per_pool: BTreeMap<PoolKey, PoolRollout> = BTreeMap::new();
    let mut nodes = Vec::new();
    for node in snapshot.nodes.iter() {
        if !agent.should_run(node) {
            continue;
        }
        let name = pools::node_name(node);
        let pool = pool_of.get(name).map(|k| (*k).clone());
        let pod = agent.pod_on(name);
        let updated = pod.is_some_and(|p| agent.is_updated(p));
        let ready = pod.is_some_and(pod_is_ready);
        if let Some(key) = &pool {
            let entry = per_pool.entry(key.clone()).or_insert_with(|| PoolRollout {
                pool: key.clone(),
                desired: 0,
                scheduled: 0,
                updated: 0,
                ready: 0,
                not_done: 0,
            });
            entry.desired += 1;
            entry.scheduled += u32::from(pod.is_some());
            entry.updated += u32::from(updated);
            entry.ready += u32::from(ready);
            entry.not_done += u32::from(!(updated && ready));
        }
        if !(updated && ready) || pod.is_some_and(|p| p.metadata.deletion_timestamp.is_some()) {
            nodes.push(node_rollout(snapshot, agent, node, pod, pool, events));
        }
    }
    nodes.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.node.cmp(&b.node))
    });
    let kubectl = kubectl_verdict(agent.name, &strategy, &counters);
    let operator = operator_health(agent.target, &counters);
    let worst_node = nodes
        .iter()
        .map(|n| n.severity)
        .max()
        .unwrap_or(Severity::Ok);
    let severity = if kubectl.done && operator.healthy {
        worst_node
    } else {
        worst_node.max(Severity::Warning)
    };
    let images = ds
        .spec
        .template
        .spec
        .as_ref()
        .map(|s| {
            s.containers
                .iter()
                .filter_map(|c| c.image.clone())
                .collect()
        })
        .unwrap_or_default();
    Rollout {
        target: agent.target,
        presence: Presence::Present,
        strategy,
        counters,
        kubectl,
        operator,
        current_revision: agent.current_hash.clone(),
        images,
        pools: per_pool.into_values().collect(),
        nodes,
        severity,
    }
}

fn counters(ds: &DaemonSet) -> RolloutCounters {
    let status = ds.status.clone().unwrap_or_default();
    RolloutCounters {
        desired: status.desired_number_scheduled,
        current: status.current_number_scheduled,
        updated: status.updated_number_scheduled.unwrap_or(0),
        ready: status.number_ready,
        available: status.number_available.unwrap_or(0),
        unavailable: status.number_unavailable.unwrap_or(0),
        misscheduled: status.number_misscheduled,
        generation: ds.metadata.generation.unwrap_or(0),
        observed_generation: status.observed_generation.unwrap_or(0),
    }
}

/// kubectl's `DaemonSetStatusViewer` (§5.2).
pub fn kubectl_verdict(name: &str, strategy: &str, c: &RolloutCounters) -> KubectlVerdict {
    if strategy != "RollingUpdate" {
        return KubectlVerdict {
            message: "rollout status is only available for RollingUpdate strategy type".to_string(),
            done: false,
            error: true,
        };
    }
    let (message, done) = if c.generation <= c.observed_generation {
        if c.updated < c.desired {
            (
                format!(
                    "Waiting for daemon set \"{name}\" rollout to finish: {} out of {} new pods have been updated...",
                    c.updated, c.desired
                ),
                false,
            )
        } else if c.available < c.desired {
            (
                format!(
                    "Waiting for daemon set \"{name}\" rollout to finish: {} of {} updated pods are available...",
                    c.available, c.desired
                ),
                false,
            )
        } else {
            (
                format!("daemon set \"{name}\" successfully rolled out"),
                true,
            )
        }
    } else {
        (
            "Waiting for daemon set spec update to be observed...".to_string(),
            false,
        )
    };
    KubectlVerdict {
        message,
        done,
        error: false,
    }
}

/// The operator's DaemonSet health and Progressing message (§5.3).
pub fn operator_health(target: RolloutTarget, c: &RolloutCounters) -> OperatorHealth {
    let subject = format!("DaemonSet \"{target}\"");
    let message = if c.updated < c.desired {
        format!(
            "{subject} update is rolling out ({} out of {} updated)",
            c.updated, c.desired
        )
    } else if c.unavailable > 0 {
        format!(
            "{subject} is not available (awaiting {} nodes)",
            c.unavailable
        )
    } else if c.available == 0 && c.desired != 0 {
        format!("{subject} is not yet scheduled on any nodes")
    } else if c.generation > c.observed_generation {
        format!("{subject} update is being processed")
    } else {
        String::new()
    };
    let healthy = c.generation == c.observed_generation
        && c.misscheduled == 0
        && c.unavailable == 0
        && c.desired == c.available
        && c.available == c.ready;
    OperatorHealth { healthy, message }
}

fn node_rollout(
    snapshot: &ClusterSnapshot,
    agent: &AgentDaemonSet<'_>,
    node: &Node,
    pod: Option<&Pod>,
    pool: Option<PoolKey>,
    events: &EventIndex<'_>,
) -> NodeRollout {
    let name = pools::node_name(node).to_string();
    let Some(pod) = pod else {
        let reason = StuckReason::NotScheduled;
        return NodeRollout {
            explanation: format!(
                "no {} pod on this node, which its node selector and tolerations admit",
                agent.name
            ),
            event: daemon_set_event(snapshot, events, agent.daemon_set, &name),
            severity: reason.severity(),
            node: name,
            pool,
            pod: None,
            status: "<none>".to_string(),
            reason,
            old_revision: false,
        };
    };
    let old_revision = !agent.is_updated(pod);
    let reason = diagnose(pod);
    let mut explanation = explain(&reason, pod, snapshot.taken_at);
    if let Some(hint) = runtime_hint(&reason, node) {
        explanation.push_str("; ");
        explanation.push_str(&hint);
    }
    if old_revision && !matches!(reason, StuckReason::OldRevision { .. }) {
        explanation.push_str(" (pod on an old revision)");
    }
    NodeRollout {
        node: name,
        pool,
        pod: pod.metadata.name.clone(),
        status: printers::pod_columns(pod).status,
        event: pod_event(snapshot, events, pod),
        severity: reason.severity(),
        reason,
        old_revision,
        explanation,
    }
}

/// Event reasons worth showing next to a stuck pod, in no particular order.
const RELEVANT_REASONS: [&str; 9] = [
    "FailedCreatePodSandBox",
    "BackOff",
    "Failed",
    "Unhealthy",
    "FailedMount",
    "FailedKillPod",
    "ErrImagePull",
    "FailedScheduling",
    "SandboxChanged",
];

/// Events by the name of the object they are about, built once per [`rollouts`] call so that
/// attributing many stuck nodes does not rescan every event for each.
struct EventIndex<'a> {
    by_name: HashMap<&'a str, Vec<&'a Event>>,
}

impl<'a> EventIndex<'a> {
    fn new(snapshot: &'a ClusterSnapshot) -> Self {
        let mut by_name: HashMap<&str, Vec<&Event>> = HashMap::new();
        for event in snapshot.events.iter() {
            let name = event.involved_object.name.as_deref().unwrap_or_default();
            by_name.entry(name).or_default().push(event);
        }
        Self { by_name }
    }

    /// Events about the object of this kind, namespace and name.
    fn about<'s>(
        &'s self,
        kind: &'s str,
        namespace: Option<&'s str>,
        name: Option<&str>,
    ) -> impl Iterator<Item = &'a Event> + 's {
        self.by_name
            .get(name.unwrap_or_default())
            .into_iter()
            .flatten()
            .copied()
            .filter(move |e| {
                e.involved_object.kind.as_deref() == Some(kind)
                    && e.involved_object.namespace.as_deref() == namespace
            })
    }
}

fn pod_event(snapshot: &ClusterSnapshot, events: &EventIndex<'_>, pod: &Pod) -> Option<EventRow> {
    let about = events.about(
        "Pod",
        pod.metadata.namespace.as_deref(),
        pod.metadata.name.as_deref(),
    );
    latest_event(snapshot, about)
}

fn daemon_set_event(
    snapshot: &ClusterSnapshot,
    events: &EventIndex<'_>,
    ds: &DaemonSet,
    node: &str,
) -> Option<EventRow> {
    let about = events.about(
        "DaemonSet",
        ds.metadata.namespace.as_deref(),
        ds.metadata.name.as_deref(),
    );
    latest_event(
        snapshot,
        about.filter(|e| e.message.as_deref().is_some_and(|m| m.contains(node))),
    )
}

/// The newest event with a relevant reason, else the newest Warning (Normal events such as
/// `Started` say nothing about why a node is not done).
fn latest_event<'e>(
    snapshot: &ClusterSnapshot,
    candidates: impl Iterator<Item = &'e Event>,
) -> Option<EventRow> {
    let candidates: Vec<&Event> = candidates.collect();
    let newest = |relevant_only: bool| {
        candidates
            .iter()
            .filter(|e| {
                if relevant_only {
                    e.reason
                        .as_deref()
                        .is_some_and(|r| RELEVANT_REASONS.contains(&r))
                } else {
                    e.type_.as_deref() == Some("Warning")
                }
            })
            .max_by_key(|e| printers::event_time(e))
            .map(|e| pools::event_row(snapshot, e))
    };
    newest(true).or_else(|| newest(false))
}

fn absent_rollout(snapshot: &ClusterSnapshot, target: RolloutTarget) -> Rollout {
    let feed = snapshot.feed(Kind::DaemonSets);
    let presence = match &feed.state {
        FeedState::Live | FeedState::Reconnecting { .. } => Presence::Absent {
            reason: absent_reason(snapshot, target),
        },
        FeedState::Loading => Presence::Unknown {
            reason: "DaemonSets are still loading".to_string(),
        },
        FeedState::Forbidden { verb, resource } => Presence::Unknown {
            reason: format!("cannot tell: forbidden to {verb} {resource}"),
        },
        FeedState::NotInstalled => Presence::Unknown {
            reason: "the DaemonSet API is not served".to_string(),
        },
    };
    let nodes_for_it = snapshot
        .nodes
        .iter()
        .any(|n| OsFamily::of(n) == target.os());
    let provider = snapshot
        .installation
        .as_ref()
        .and_then(|i| i.spec.kubernetes_provider.as_deref())
        .unwrap_or_default();
    let severity = match (&presence, target) {
        (Presence::Absent { .. }, _) if !nodes_for_it => Severity::Ok,
        (Presence::Absent { .. }, RolloutTarget::KubeProxyWindows)
            if matches!(provider, "AKS" | "EKS") =>
        {
            Severity::Info
        }
        (Presence::Absent { .. }, RolloutTarget::KubeProxyWindows) => Severity::Warning,
        (Presence::Absent { .. }, _) => Severity::Error,
        _ => Severity::Info,
    };
    Rollout {
        target,
        presence,
        strategy: String::new(),
        counters: RolloutCounters::default(),
        kubectl: KubectlVerdict {
            message: format!(
                "Error from server (NotFound): daemonsets.apps \"{}\" not found",
                target.name()
            ),
            done: false,
            error: true,
        },
        operator: OperatorHealth {
            healthy: false,
            message: String::new(),
        },
        current_revision: None,
        images: Vec::new(),
        pools: Vec::new(),
        nodes: Vec::new(),
        severity,
    }
}
