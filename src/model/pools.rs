//! Node pools and nodes as the Pools and Nodes views show them: nodes grouped by the
//! provider's pool label (`DOMAIN.md` §7 order, a configured label first) and always split by
//! `kubernetes.io/os`; per pool its versions, readiness, Calico agent and workload counts with
//! a severity (problems first); per node the kubectl-style row and the detail (conditions,
//! labels, taints, addresses, the agent pods with each container, IPAM blocks, recent
//! events). Owns grouping and the per-node picture; rollout arithmetic lives in `rollout`,
//! judgements about configuration in `findings`. Pure: no I/O, no clocks but
//! `snapshot.taken_at`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::{self, Write as _};

use k8s_openapi::api::core::v1::{Node, Pod};
use serde::Serialize;

use super::findings::Severity;
use super::operator::Installation;
use super::printers;
use super::rollout::{self, AgentDaemonSet};
use super::snapshot::{ClusterSnapshot, FeedState, Kind};

mod nodes;

use super::versions::WindowsBuild;
pub(crate) use nodes::event_row;
pub use nodes::{
    AgentPod, ConditionRow, ContainerRow, DETAIL_EVENTS, EventRow, NodeBlock, NodeDetail, NodeRow,
    all_node_rows, all_node_rows_with_index, block_capacity, node_blocks, node_detail, node_events,
    node_rows,
};

/// The namespace the operator runs Calico in; pods there are agents, not workloads.
pub const CALICO_NAMESPACE: &str = "calico-system";

/// The provider labels that name a node's pool, in the order they are tried (`DOMAIN.md` §7).
pub const POOL_LABELS: [&str; 6] = [
    "karpenter.sh/nodepool",
    "eks.amazonaws.com/nodegroup",
    "cloud.google.com/gke-nodepool",
    "kubernetes.azure.com/agentpool",
    "agentpool",
    "kops.k8s.io/instancegroup",
];

/// Cluster API's annotation naming the Machine's owner (`<machinedeployment>-<hash>`).
pub const CAPI_OWNER_NAME: &str = "cluster.x-k8s.io/owner-name";
/// Cluster API's annotation naming the owner's kind (`MachineSet`, `MachinePool`, ...).
pub const CAPI_OWNER_KIND: &str = "cluster.x-k8s.io/owner-kind";

/// How nodes are grouped: a configured label (from the config file) wins over the providers'.
/// Deserializable so the config file can carry it (`label = "example.com/pool"`); unknown keys
/// are the config loader's to warn about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PoolRules {
    pub label: Option<String>,
}

/// A node's operating system, from `kubernetes.io/os`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum OsFamily {
    Linux,
    Windows,
    Other,
}

impl OsFamily {
    /// `kubernetes.io/os`, then the beta label, then `status.nodeInfo.operatingSystem`.
    pub fn of(node: &Node) -> Self {
        let labels = node.metadata.labels.as_ref();
        let value = labels
            .and_then(|l| {
                l.get("kubernetes.io/os")
                    .or_else(|| l.get("beta.kubernetes.io/os"))
            })
            .cloned()
            .or_else(|| {
                node.status
                    .as_ref()
                    .and_then(|s| s.node_info.as_ref())
                    .map(|i| i.operating_system.clone())
            })
            .unwrap_or_default();
        match value.as_str() {
            "linux" => Self::Linux,
            "windows" => Self::Windows,
            _ => Self::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Linux => "linux",
            Self::Windows => "windows",
            Self::Other => "other",
        }
    }

    /// The Calico node agent DaemonSet for this OS (`calico-system`).
    pub fn agent_daemon_set(self) -> Option<&'static str> {
        match self {
            Self::Linux => Some("calico-node"),
            Self::Windows => Some("calico-node-windows"),
            Self::Other => None,
        }
    }
}

impl fmt::Display for OsFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies a pool: its name and OS (a name seen on both OSes is two pools).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PoolKey {
    pub name: String,
    pub os: OsFamily,
}

impl fmt::Display for PoolKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.os)
    }
}

/// Where a pool's name came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PoolSource {
    /// The label from [`PoolRules`].
    Configured(String),
    /// One of [`POOL_LABELS`].
    Label(&'static str),
    /// Cluster API's owner-name annotation, hash suffix removed.
    ClusterApi,
    /// No pool label: grouped by (os, windows-build, instance-type).
    Fallback,
}

/// Distinct values of a version across a pool's nodes; `skew` when there is more than one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VersionSet {
    pub values: Vec<String>,
    pub skew: bool,
}

impl VersionSet {
    fn from_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let values: BTreeSet<&str> = values.into_iter().filter(|v| !v.is_empty()).collect();
        Self {
            skew: values.len() > 1,
            values: values.into_iter().map(str::to_string).collect(),
        }
    }

    /// `v1.32.4` or `v1.31.6, v1.32.4`.
    pub fn display(&self) -> String {
        if self.values.is_empty() {
            "-".to_string()
        } else {
            self.values.join(", ")
        }
    }
}

/// Whether the pool's Calico agent DaemonSet is known, absent or present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AgentState {
    /// No Calico agent for this OS.
    NotApplicable,
    /// DaemonSets are loading, forbidden or not installed: presence cannot be told.
    Unknown,
    /// The DaemonSet does not exist.
    Absent,
    Present,
}

/// The Calico node agent on one pool: `calico-node-windows 7/9 ready, 8 updated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentSummary {
    pub daemon_set: Option<&'static str>,
    pub state: AgentState,
    /// Nodes of the pool the DaemonSet should run on.
    pub expected: u32,
    /// Nodes of the pool with an agent pod.
    pub scheduled: u32,
    pub ready: u32,
    /// Pods on the DaemonSet's current revision.
    pub updated: u32,
    /// The Installation asks for this agent (so its absence is a problem, not a choice).
    pub wanted: bool,
    pub text: String,
}

/// What the snapshot says about the agents before any pool is looked at.
#[derive(Debug, Clone, Copy)]
struct AgentContext {
    /// The DaemonSets feed is live: absence means absence.
    known: bool,
    /// The Installation exists (calico-node is rendered).
    linux_wanted: bool,
    /// The Installation asks for the Windows dataplane.
    windows_wanted: bool,
}

/// Workload pods (everything outside `calico-system`) on the pool's nodes, by phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WorkloadCounts {
    pub running: u32,
    pub pending: u32,
    pub failed: u32,
    pub succeeded: u32,
    /// Pods with a deletion timestamp that have not finished (counted here, not by phase).
    pub terminating: u32,
    /// Of those, pods past the end of their grace period (on Windows: HNS, `DOMAIN.md` §8 #8).
    pub stuck_terminating: u32,
}

/// One node pool, ready to render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodePool {
    pub key: PoolKey,
    pub source: PoolSource,
    /// Distinct Windows builds of the pool's nodes (empty on Linux).
    pub windows_builds: Vec<WindowsBuild>,
    /// `2022 (10.0.20348.2966)`, several joined by `, `, or empty.
    pub windows_build: String,
    /// Node names, sorted.
    pub nodes: Vec<String>,
    pub ready: u32,
    pub not_ready: u32,
    pub cordoned: u32,
    pub kubelet: VersionSet,
    pub runtime: VersionSet,
    pub calico: AgentSummary,
    pub workloads: WorkloadCounts,
    pub severity: Severity,
    /// Short reasons for the severity, worst first: `2 NotReady`, `kubelet skew`.
    pub problems: Vec<String>,
}

impl NodePool {
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

/// The pool a node belongs to, and which rule named it.
pub fn pool_key(node: &Node, rules: &PoolRules) -> (PoolKey, PoolSource) {
    let os = OsFamily::of(node);
    let label = |key: &str| {
        node.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(key))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let key = |name: String| PoolKey { name, os };
    if let Some(configured) = &rules.label
        && let Some(name) = label(configured)
    {
        return (key(name), PoolSource::Configured(configured.clone()));
    }
    for candidate in POOL_LABELS {
        if let Some(name) = label(candidate) {
            return (key(name), PoolSource::Label(candidate));
        }
    }
    if let Some(name) = capi_pool(node) {
        return (key(name), PoolSource::ClusterApi);
    }
    let build = WindowsBuild::of(node)
        .filter(|_| os == OsFamily::Windows)
        .map(|b| b.build);
    let instance = label("node.kubernetes.io/instance-type")
        .or_else(|| label("beta.kubernetes.io/instance-type"));
    let name = [Some(os.as_str().to_string()), build, instance]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("-");
    (key(name), PoolSource::Fallback)
}

/// Cluster API: the owner-name annotation, without the MachineSet's hash suffix.
fn capi_pool(node: &Node) -> Option<String> {
    let annotations = node.metadata.annotations.as_ref()?;
    let owner = annotations.get(CAPI_OWNER_NAME).filter(|v| !v.is_empty())?;
    let kind = annotations.get(CAPI_OWNER_KIND).map(String::as_str);
    if matches!(kind, Some(k) if k != "MachineSet") {
        return Some(owner.clone());
    }
    // A MachineSet is `<machinedeployment>-<hash>`: the hash is lower-case alphanumeric.
    match owner.rsplit_once('-') {
        Some((base, hash))
            if !base.is_empty()
                && (5..=10).contains(&hash.len())
                && hash
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) =>
        {
            Some(base.to_string())
        }
        _ => Some(owner.clone()),
    }
}

/// Pods indexed by node, and the three node-agent DaemonSets resolved once per snapshot.
/// Build it once per snapshot and hand it to [`pools_with_index`], [`all_node_rows_with_index`]
/// and `rollout::rollouts_with_agents`: each pass over 50,000 pods costs milliseconds.
pub struct NodeIndex<'a> {
    pub pods_by_node: HashMap<&'a str, Vec<&'a Pod>>,
    pub agents: Vec<AgentDaemonSet<'a>>,
    /// `snapshot.taken_at`: the moment ages and grace periods are measured against.
    pub now: jiff::Timestamp,
}

impl<'a> NodeIndex<'a> {
    pub fn new(snapshot: &'a ClusterSnapshot) -> Self {
        let mut pods_by_node: HashMap<&str, Vec<&Pod>> =
            HashMap::with_capacity(snapshot.nodes.len());
        for pod in snapshot.pods.iter() {
            if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
                pods_by_node.entry(node).or_default().push(pod);
            }
        }
        Self {
            pods_by_node,
            agents: rollout::agent_daemon_sets(snapshot),
            now: snapshot.taken_at,
        }
    }

    pub fn pods_on(&self, node: &str) -> &[&'a Pod] {
        self.pods_by_node.get(node).map_or(&[], Vec::as_slice)
    }

    pub fn agent(&self, name: &str) -> Option<&AgentDaemonSet<'a>> {
        self.agents.iter().find(|a| a.name == name)
    }
}

/// Every pool of the snapshot, problems first (severity, worst first; then name, then OS).
pub fn pools(snapshot: &ClusterSnapshot, rules: &PoolRules) -> Vec<NodePool> {
    pools_with_index(snapshot, rules, &NodeIndex::new(snapshot))
}

/// [`pools`] over an index already built for this snapshot.
pub fn pools_with_index(
    snapshot: &ClusterSnapshot,
    rules: &PoolRules,
    index: &NodeIndex<'_>,
) -> Vec<NodePool> {
    let mut groups: BTreeMap<PoolKey, (PoolSource, Vec<&Node>)> = BTreeMap::new();
    for node in snapshot.nodes.iter() {
        let (key, source) = pool_key(node, rules);
        groups
            .entry(key)
            .or_insert_with(|| (source, Vec::new()))
            .1
            .push(node);
    }
    let installation = snapshot.installation.as_deref();
    let agents = AgentContext {
        known: matches!(
            snapshot.feed(Kind::DaemonSets).state,
            FeedState::Live | FeedState::Reconnecting { .. }
        ),
        linux_wanted: installation.is_some(),
        windows_wanted: installation.is_some_and(Installation::windows_enabled),
    };
    let mut pools: Vec<NodePool> = groups
        .into_iter()
        .map(|(key, (source, nodes))| build_pool(index, agents, key, source, &nodes))
        .collect();
    pools.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.key.cmp(&b.key)));
    pools
}

fn build_pool(
    index: &NodeIndex<'_>,
    agents: AgentContext,
    key: PoolKey,
    source: PoolSource,
    nodes: &[&Node],
) -> NodePool {
    let ready = nodes
        .iter()
        .filter(|n| printers::node_ready(n) == Some(true))
        .count();
    let cordoned = nodes.iter().filter(|n| printers::is_cordoned(n)).count();
    let info = |n: &&Node| n.status.as_ref().and_then(|s| s.node_info.clone());
    let infos: Vec<_> = nodes.iter().filter_map(info).collect();
    let kubelet = VersionSet::from_values(infos.iter().map(|i| i.kubelet_version.as_str()));
    let runtime =
        VersionSet::from_values(infos.iter().map(|i| i.container_runtime_version.as_str()));
    let mut windows_builds: Vec<WindowsBuild> = nodes
        .iter()
        .filter(|_| key.os == OsFamily::Windows)
        .filter_map(|n| WindowsBuild::of(n))
        .collect();
    windows_builds.sort();
    windows_builds.dedup();
    let windows_build = windows_builds
        .iter()
        .map(WindowsBuild::display)
        .collect::<Vec<_>>()
        .join(", ");
    let calico = agent_summary(index, agents, key.os, nodes);
    let workloads = workload_counts(index, nodes);
    let mut names: Vec<String> = nodes.iter().map(|n| node_name(n).to_string()).collect();
    names.sort();
    let mut pool = NodePool {
        key,
        source,
        windows_builds,
        windows_build,
        nodes: names,
        ready: count(ready),
        not_ready: count(nodes.len() - ready),
        cordoned: count(cordoned),
        kubelet,
        runtime,
        calico,
        workloads,
        severity: Severity::Ok,
        problems: Vec::new(),
    };
    let (severity, problems) = judge_pool(&pool);
    pool.severity = severity;
    pool.problems = problems;
    pool
}

fn judge_pool(pool: &NodePool) -> (Severity, Vec<String>) {
    let mut problems: Vec<(Severity, String)> = Vec::new();
    if pool.not_ready > 0 {
        problems.push((Severity::Error, format!("{} NotReady", pool.not_ready)));
    }
    let calico = &pool.calico;
    match calico.state {
        AgentState::Absent if calico.expected > 0 && calico.wanted => {
            problems.push((Severity::Error, calico.text.clone()));
        }
        AgentState::Present if calico.ready < calico.expected => {
            problems.push((Severity::Error, calico.text.clone()));
        }
        AgentState::Present if calico.updated < calico.scheduled => {
            problems.push((Severity::Warning, calico.text.clone()));
        }
        _ => {}
    }
    if pool.cordoned > 0 {
        problems.push((Severity::Warning, format!("{} cordoned", pool.cordoned)));
    }
    if pool.kubelet.skew {
        problems.push((Severity::Warning, "kubelet skew".to_string()));
    }
    if pool.runtime.skew {
        problems.push((Severity::Info, "runtime skew".to_string()));
    }
    let w = pool.workloads;
    if w.failed > 0 {
        problems.push((Severity::Warning, format!("{} pods failed", w.failed)));
    }
    if w.pending > 0 {
        problems.push((Severity::Warning, format!("{} pods pending", w.pending)));
    }
    if w.stuck_terminating > 0 && pool.key.os == OsFamily::Windows {
        problems.push((
            Severity::Warning,
            format!("{} pods stuck terminating", w.stuck_terminating),
        ));
    }
    problems.sort_by_key(|p| std::cmp::Reverse(p.0));
    let severity = problems.first().map_or(Severity::Ok, |p| p.0);
    (severity, problems.into_iter().map(|p| p.1).collect())
}

fn agent_summary(
    index: &NodeIndex<'_>,
    agents: AgentContext,
    os: OsFamily,
    nodes: &[&Node],
) -> AgentSummary {
    let Some(name) = os.agent_daemon_set() else {
        return AgentSummary {
            daemon_set: None,
            state: AgentState::NotApplicable,
            expected: 0,
            scheduled: 0,
            ready: 0,
            updated: 0,
            wanted: false,
            text: "-".to_string(),
        };
    };
    let wanted = match os {
        OsFamily::Linux => agents.linux_wanted,
        OsFamily::Windows => agents.windows_wanted,
        OsFamily::Other => false,
    };
    let Some(agent) = index.agent(name) else {
        let (state, text) = if agents.known {
            (AgentState::Absent, format!("{name} absent"))
        } else {
            (AgentState::Unknown, format!("{name} unknown"))
        };
        return AgentSummary {
            daemon_set: Some(name),
            state,
            expected: count(nodes.len()),
            scheduled: 0,
            ready: 0,
            updated: 0,
            wanted,
            text,
        };
    };
    let (mut expected, mut scheduled, mut ready, mut updated) = (0usize, 0usize, 0usize, 0usize);
    for node in nodes {
        let pod = agent.pod_on(node_name(node));
        if agent.should_run(node) {
            expected += 1;
        }
        if let Some(pod) = pod {
            scheduled += 1;
            if rollout::pod_is_ready(pod) {
                ready += 1;
            }
            if agent.is_updated(pod) {
                updated += 1;
            }
        }
    }
    let mut text = format!("{name} {ready}/{expected} ready");
    if updated < scheduled || updated < expected {
        let _ = write!(text, ", {updated} updated");
    }
    AgentSummary {
        daemon_set: Some(name),
        state: AgentState::Present,
        expected: count(expected),
        scheduled: count(scheduled),
        ready: count(ready),
        updated: count(updated),
        wanted,
        text,
    }
}

fn workload_counts(index: &NodeIndex<'_>, nodes: &[&Node]) -> WorkloadCounts {
    let mut counts = WorkloadCounts::default();
    for node in nodes {
        for pod in index.pods_on(node_name(node)) {
            if pod.metadata.namespace.as_deref() == Some(CALICO_NAMESPACE) {
                continue;
            }
            let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
            if let Some(deleted) = &pod.metadata.deletion_timestamp
                && !matches!(phase, Some("Succeeded" | "Failed"))
            {
                counts.terminating += 1;
                // The deletion timestamp is when the grace period ends.
                counts.stuck_terminating += u32::from(deleted.0 < index.now);
                continue;
            }
            match phase {
                Some("Running") => counts.running += 1,
                Some("Failed") => counts.failed += 1,
                Some("Succeeded") => counts.succeeded += 1,
                _ => counts.pending += 1,
            }
        }
    }
    counts
}

pub(crate) fn node_name(node: &Node) -> &str {
    node.metadata.name.as_deref().unwrap_or_default()
}

/// Counts in a cluster fit in u32 by orders of magnitude; saturate rather than wrap.
pub(crate) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
