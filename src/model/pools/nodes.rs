//! The Nodes view and the node detail: one kubectl-style row per node (STATUS, ROLES, AGE,
//! versions, pod count, the agent pod's status) and, for one node, its conditions, labels,
//! taints, addresses, agent pods with each container, affine IPAM blocks and recent events.
//! Owns the per-node picture; grouping into pools is the parent module's.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{ContainerStatus, Event, Node, Pod};
use serde::Serialize;

use super::{NodeIndex, NodePool, OsFamily, PoolKey, PoolRules, count, node_name, pool_key};
use crate::model::findings::Severity;
use crate::model::printers::{self, PodColumns};
use crate::model::rollout::{self, AgentDaemonSet};
use crate::model::snapshot::ClusterSnapshot;
use crate::model::versions::WindowsBuild;

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

/// Every node of every pool, problems first, then by name (one pass over the pods).
pub fn all_node_rows(snapshot: &ClusterSnapshot, pools: &[NodePool]) -> Vec<NodeRow> {
    all_node_rows_with_index(snapshot, &NodeIndex::new(snapshot), pools)
}

/// [`all_node_rows`] over an index already built for this snapshot.
pub fn all_node_rows_with_index(
    snapshot: &ClusterSnapshot,
    index: &NodeIndex<'_>,
    pools: &[NodePool],
) -> Vec<NodeRow> {
    let pool_of: HashMap<&str, &PoolKey> = pools
        .iter()
        .flat_map(|p| p.nodes.iter().map(move |n| (n.as_str(), &p.key)))
        .collect();
    let mut rows: Vec<NodeRow> = snapshot
        .nodes
        .iter()
        .filter_map(|n| {
            let key = pool_of.get(node_name(n))?;
            Some(node_row(snapshot, index, n, (*key).clone()))
        })
        .collect();
    rows.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.name.cmp(&b.name))
    });
    rows
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
        .filter_map(|agent| agent.pod_on(name).map(|pod| agent_pod(agent, pod, now)))
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

fn agent_pod(agent: &AgentDaemonSet<'_>, pod: &Pod, now: jiff::Timestamp) -> AgentPod {
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
        columns: printers::pod_columns_at(pod, now),
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

pub(crate) fn event_row(snapshot: &ClusterSnapshot, event: &Event) -> EventRow {
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
