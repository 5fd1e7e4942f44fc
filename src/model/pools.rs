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

use k8s_openapi::api::core::v1::{ContainerStatus, Node, Pod};
use serde::Serialize;

use super::findings::Severity;
use super::operator::Installation;
use super::printers::{self, PodColumns};
use super::rollout::{self, AgentDaemonSet};
use super::snapshot::{ClusterSnapshot, FeedState, Kind};
use super::versions::WindowsBuild;

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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
pub(crate) struct NodeIndex<'a> {
    pub pods_by_node: HashMap<&'a str, Vec<&'a Pod>>,
    pub agents: Vec<AgentDaemonSet<'a>>,
}

impl<'a> NodeIndex<'a> {
    pub fn new(snapshot: &'a ClusterSnapshot) -> Self {
        let mut pods_by_node: HashMap<&str, Vec<&Pod>> = HashMap::new();
        for pod in snapshot.pods.iter() {
            if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
                pods_by_node.entry(node).or_default().push(pod);
            }
        }
        Self {
            pods_by_node,
            agents: rollout::agent_daemon_sets(snapshot),
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
    let index = NodeIndex::new(snapshot);
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
        .map(|(key, (source, nodes))| build_pool(&index, agents, key, source, &nodes))
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
    if w.terminating > 0 && pool.key.os == OsFamily::Windows {
        problems.push((
            Severity::Warning,
            format!("{} pods terminating", w.terminating),
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
            if pod.metadata.deletion_timestamp.is_some()
                && !matches!(phase, Some("Succeeded" | "Failed"))
            {
                counts.terminating += 1;
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

/// One line of the Nodes view, in kubectl's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRow {
    pub name: String,
    pub pool: PoolKey,
    /// `Ready`, `NotReady`, `Ready,SchedulingDisabled`.
    pub status: String,
    pub ready: Option<bool>,
    pub cordoned: bool,
    pub roles: String,
    pub age: String,
    pub kubelet_version: String,
    pub runtime_version: String,
    pub os_image: String,
    pub kernel_version: String,
    /// `2022 (10.0.20348.2966)` on Windows nodes.
    pub windows_build: Option<String>,
    /// Non-terminated pods on the node (all namespaces), as `kubectl describe node` counts.
    pub pods: u32,
    /// The node agent pod: `Running 2/2`, `Init:ImagePullBackOff 0/2`, `missing`, or `-`.
    pub calico: String,
    pub calico_ready: Option<bool>,
    pub internal_ip: String,
    pub severity: Severity,
}

/// The nodes of one pool, problems first, then by name.
pub fn node_rows(snapshot: &ClusterSnapshot, pool: &NodePool) -> Vec<NodeRow> {
    let index = NodeIndex::new(snapshot);
    let wanted: BTreeSet<&str> = pool.nodes.iter().map(String::as_str).collect();
    let mut rows: Vec<NodeRow> = snapshot
        .nodes
        .iter()
        .filter(|n| wanted.contains(node_name(n)))
        .map(|n| node_row(snapshot, &index, n, pool.key.clone()))
        .collect();
    rows.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.name.cmp(&b.name))
    });
    rows
}

pub(crate) fn node_row(
    snapshot: &ClusterSnapshot,
    index: &NodeIndex<'_>,
    node: &Node,
    pool: PoolKey,
) -> NodeRow {
    let name = node_name(node);
    let info = node.status.as_ref().and_then(|s| s.node_info.as_ref());
    let field = |f: fn(&k8s_openapi::api::core::v1::NodeSystemInfo) -> &String| {
        info.map(|i| f(i).clone()).unwrap_or_default()
    };
    let pods = index
        .pods_on(name)
        .iter()
        .filter(|p| {
            !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            )
        })
        .count();
    let (calico, calico_ready) = agent_cell(index, node, pool.os);
    let ready = printers::node_ready(node);
    let cordoned = printers::is_cordoned(node);
    let severity = if ready != Some(true) || calico_ready == Some(false) {
        Severity::Error
    } else if cordoned {
        Severity::Warning
    } else {
        Severity::Ok
    };
    NodeRow {
        name: name.to_string(),
        status: printers::node_status(node),
        ready,
        cordoned,
        roles: printers::node_roles(node),
        age: printers::age(
            node.metadata.creation_timestamp.as_ref().map(|t| t.0),
            snapshot.taken_at,
        ),
        kubelet_version: field(|i| &i.kubelet_version),
        runtime_version: field(|i| &i.container_runtime_version),
        os_image: field(|i| &i.os_image),
        kernel_version: field(|i| &i.kernel_version),
        windows_build: (pool.os == OsFamily::Windows)
            .then(|| WindowsBuild::of(node).map(|b| b.display()))
            .flatten(),
        pods: count(pods),
        calico,
        calico_ready,
        internal_ip: address(node, "InternalIP"),
        severity,
        pool,
    }
}

fn agent_cell(index: &NodeIndex<'_>, node: &Node, os: OsFamily) -> (String, Option<bool>) {
    let Some(agent) = os.agent_daemon_set().and_then(|name| index.agent(name)) else {
        return ("-".to_string(), None);
    };
    match agent.pod_on(node_name(node)) {
        Some(pod) => {
            let columns = printers::pod_columns(pod);
            (
                format!("{} {}", columns.status, columns.ready),
                Some(rollout::pod_is_ready(pod)),
            )
        }
        None if agent.should_run(node) => ("missing".to_string(), Some(false)),
        None => ("-".to_string(), None),
    }
}

fn address(node: &Node, kind: &str) -> String {
    node.status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .and_then(|a| a.iter().find(|a| a.type_ == kind))
        .map(|a| a.address.clone())
        .unwrap_or_default()
}

/// Everything the node detail view shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeDetail {
    pub row: NodeRow,
    pub conditions: Vec<ConditionRow>,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    /// `key=value:Effect` (or `key:Effect`).
    pub taints: Vec<String>,
    /// (type, address): `InternalIP`, `Hostname`, ...
    pub addresses: Vec<(String, String)>,
    /// The pods of the node-agent DaemonSets on this node (`calico-node(-windows)`,
    /// `kube-proxy-windows`).
    pub agent_pods: Vec<AgentPod>,
    pub ipam_blocks: Vec<NodeBlock>,
    /// Events about the node or its pods, newest first (at most [`DETAIL_EVENTS`]).
    pub events: Vec<EventRow>,
}

/// How many recent events the node detail keeps.
pub const DETAIL_EVENTS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConditionRow {
    pub condition_type: String,
    pub status: String,
    pub reason: String,
    pub message: String,
    /// Age of the last transition, kubectl style.
    pub last_transition: String,
    /// Ready not True, or any other condition True (pressure, NetworkUnavailable).
    pub problem: bool,
}

/// A node-agent pod with each of its containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentPod {
    pub namespace: String,
    pub name: String,
    pub daemon_set: String,
    pub columns: PodColumns,
    /// `controller-revision-hash` of the pod.
    pub revision: Option<String>,
    /// Whether the pod runs the DaemonSet's current revision (`None` when unknown).
    pub updated: Option<bool>,
    pub containers: Vec<ContainerRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerRow {
    pub name: String,
    pub init: bool,
    pub image: String,
    /// `running`, `waiting: ImagePullBackOff`, `terminated: exit 1 (Error)`.
    pub state: String,
    /// The waiting or terminated message, when there is one.
    pub message: String,
    pub ready: bool,
    pub restarts: i32,
    /// The previous termination: `terminated: exit 137 (Error)`.
    pub last_state: Option<String>,
}

/// An IPAM block affine to the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeBlock {
    pub cidr: String,
    pub used: u64,
    pub capacity: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRow {
    pub age: String,
    /// `Normal` or `Warning`.
    pub event_type: String,
    pub reason: String,
    /// `pod/calico-node-windows-x2`, `node/aks-npwin-00000000`.
    pub object: String,
    pub message: String,
    pub count: i32,
}

/// The detail of one node, or `None` when no node has that name.
pub fn node_detail(
    snapshot: &ClusterSnapshot,
    rules: &PoolRules,
    name: &str,
) -> Option<NodeDetail> {
    let node = snapshot.nodes.iter().find(|n| node_name(n) == name)?;
    let index = NodeIndex::new(snapshot);
    let (key, _) = pool_key(node, rules);
    let row = node_row(snapshot, &index, node, key);
    let now = snapshot.taken_at;
    let conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .map(|c| ConditionRow {
            problem: if c.type_ == "Ready" {
                c.status != "True"
            } else {
                c.status == "True"
            },
            condition_type: c.type_.clone(),
            status: c.status.clone(),
            reason: c.reason.clone().unwrap_or_default(),
            message: c.message.clone().unwrap_or_default(),
            last_transition: printers::age(c.last_transition_time.as_ref().map(|t| t.0), now),
        })
        .collect();
    let pairs = |map: Option<&BTreeMap<String, String>>| {
        map.into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .map(|t| match t.value.as_deref() {
            Some(value) if !value.is_empty() => format!("{}={value}:{}", t.key, t.effect),
            _ => format!("{}:{}", t.key, t.effect),
        })
        .collect();
    let addresses = node
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
        .map(|a| (a.type_.clone(), a.address.clone()))
        .collect();
    let agent_pods = index
        .agents
        .iter()
        .filter_map(|agent| agent.pod_on(name).map(|pod| agent_pod(agent, pod)))
        .collect();
    Some(NodeDetail {
        conditions,
        labels: pairs(node.metadata.labels.as_ref()),
        annotations: pairs(node.metadata.annotations.as_ref()),
        taints,
        addresses,
        agent_pods,
        ipam_blocks: node_blocks(snapshot, name),
        events: node_events(snapshot, name, index.pods_on(name)),
        row,
    })
}

pub(crate) fn agent_pod(agent: &AgentDaemonSet<'_>, pod: &Pod) -> AgentPod {
    let status = pod.status.as_ref();
    let init = status
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or_default()
        .iter()
        .map(|c| container_row(pod, c, true));
    let main = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default()
        .iter()
        .map(|c| container_row(pod, c, false));
    AgentPod {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        daemon_set: agent.name.to_string(),
        columns: printers::pod_columns(pod),
        revision: rollout::pod_revision(pod).map(str::to_string),
        updated: agent.current_hash.as_ref().map(|_| agent.is_updated(pod)),
        containers: init.chain(main).collect(),
    }
}

fn container_row(pod: &Pod, status: &ContainerStatus, init: bool) -> ContainerRow {
    let state = status.state.as_ref();
    let message = state
        .and_then(|s| {
            s.waiting
                .as_ref()
                .and_then(|w| w.message.clone())
                .or_else(|| s.terminated.as_ref().and_then(|t| t.message.clone()))
        })
        .unwrap_or_default();
    ContainerRow {
        name: status.name.clone(),
        init,
        image: printers::container_image(pod, status),
        state: printers::container_state_text(state),
        message,
        ready: status.ready,
        restarts: status.restart_count,
        last_state: status
            .last_state
            .as_ref()
            .filter(|s| s.terminated.is_some() || s.waiting.is_some() || s.running.is_some())
            .map(|s| printers::container_state_text(Some(s))),
    }
}

/// Blocks whose affinity is `host:<node>`, soft-deleted ones ignored.
pub fn node_blocks(snapshot: &ClusterSnapshot, node: &str) -> Vec<NodeBlock> {
    snapshot
        .ipam_blocks
        .iter()
        .filter(|b| !b.spec.deleted && b.spec.host() == Some(node))
        .map(|b| {
            let capacity = block_capacity(&b.spec.cidr)
                .unwrap_or_else(|| u64::try_from(b.spec.allocations.len()).unwrap_or(u64::MAX));
            let free = u64::try_from(b.spec.unallocated.len()).unwrap_or(u64::MAX);
            NodeBlock {
                cidr: b.spec.cidr.clone(),
                used: capacity.saturating_sub(free),
                capacity,
            }
        })
        .collect()
}

/// 2^(host bits) of a CIDR; `None` when it does not parse or would not fit in a u64.
pub fn block_capacity(cidr: &str) -> Option<u64> {
    let net: ipnet::IpNet = cidr.parse().ok()?;
    let host_bits = u32::from(net.max_prefix_len() - net.prefix_len());
    1u64.checked_shl(host_bits).filter(|_| host_bits < 64)
}

/// Events about the node or any of `pods`, newest first, at most [`DETAIL_EVENTS`].
pub fn node_events(snapshot: &ClusterSnapshot, node: &str, pods: &[&Pod]) -> Vec<EventRow> {
    let pod_names: BTreeSet<(&str, &str)> = pods
        .iter()
        .map(|p| {
            (
                p.metadata.namespace.as_deref().unwrap_or_default(),
                p.metadata.name.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    let mut events: Vec<_> = snapshot
        .events
        .iter()
        .filter(|e| {
            let object = &e.involved_object;
            match object.kind.as_deref() {
                Some("Node") => object.name.as_deref() == Some(node),
                Some("Pod") => pod_names.contains(&(
                    object.namespace.as_deref().unwrap_or_default(),
                    object.name.as_deref().unwrap_or_default(),
                )),
                _ => false,
            }
        })
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(printers::event_time(e)));
    events
        .into_iter()
        .take(DETAIL_EVENTS)
        .map(|e| event_row(snapshot, e))
        .collect()
}

pub(crate) fn event_row(
    snapshot: &ClusterSnapshot,
    event: &k8s_openapi::api::core::v1::Event,
) -> EventRow {
    let object = &event.involved_object;
    EventRow {
        age: printers::age(printers::event_time(event), snapshot.taken_at),
        event_type: event.type_.clone().unwrap_or_default(),
        reason: event.reason.clone().unwrap_or_default(),
        object: format!(
            "{}/{}",
            object.kind.as_deref().unwrap_or_default().to_lowercase(),
            object.name.as_deref().unwrap_or_default()
        ),
        message: event.message.clone().unwrap_or_default(),
        count: event.count.unwrap_or(1),
    }
}
