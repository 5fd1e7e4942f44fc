//! The `large` scenario: 5,000 nodes in Linux and Windows pools running 50,000 workload pods
//! on a healthy Calico install, as `healthy` ends up after its controllers converged, but
//! seeded straight into the store (running the kubelet and IPAM for 55,000 pods would take
//! minutes). The operator's objects come from the simulated operator's own reconcile, so
//! they match what it would render; DaemonSet and Deployment pods, ControllerRevisions,
//! ReplicaSets, workload status, node conditions and annotations, and the Calico IPAM
//! objects (one block per node or more, affinities, handles, tunnel addresses, Windows
//! reserved ordinals) are written the way the DaemonSet, ReplicaSet, Deployment, kubelet and
//! Calico code writes them, so the controllers find the cluster converged when they start.
//! Objects are generated and seeded one at a time. It writes only into a store nobody serves
//! yet and must not start controllers.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use ipnet::Ipv4Net;
use serde_json::{Value, json};

use super::{ClusterBuilder, NodePool, OsFamily, Workload, pod_suffix};
use crate::sim::calico::{self, NODE_SUBNET_PREFIX_LEN};
use crate::sim::calico_ipam::{
    self, BlockSpec, HostReserved, IpPool, WINDOWS_RESERVED, block_object, handle_object,
    ordinal_address,
};
use crate::sim::clock::rfc3339;
use crate::sim::controllers::daemonset;
use crate::sim::controllers::kubelet::sandbox_id;
use crate::sim::controllers::operator::Operator;
use crate::sim::controllers::workload::{self, FIELD_MANAGER};
use crate::sim::crds;
use crate::sim::defaults;
use crate::sim::error::ApiError;
use crate::sim::store::Store;
use crate::sim::write::{Part, PatchType, WriteOptions};

/// Node and pod counts of the `large` scenario.
pub const LARGE_NODES: usize = 5_000;
pub const LARGE_PODS: usize = 50_000;
/// The one VXLAN pool: a /12 of /26 blocks is 16,384 blocks.
pub const LARGE_POOL: &str = "10.128.0.0/12";
const LARGE_BLOCK_SIZE: u8 = 26;
const CALICO_NAMESPACE: &str = "calico-system";
const APISERVER_NAMESPACE: &str = "calico-apiserver";
/// The DaemonSet controller's labels on its pods.
const REVISION_HASH_LABEL: &str = "controller-revision-hash";
const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// The Deployment controller's label and annotations.
const TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// Operator rounds allowed before the install must have settled.
const OPERATOR_ROUNDS: usize = 8;

/// The size of a `large`-like cluster: its node pools (the first is the control plane, which
/// runs the operator, Typha, kube-controllers and the Calico API server) and its workloads,
/// every fifth one Windows.
#[derive(Debug, Clone)]
pub struct LargeShape {
    pub pools: Vec<NodePool>,
    pub workloads: usize,
    pub replicas: usize,
}

impl LargeShape {
    /// The `large` scenario: 5,000 nodes, 500 workloads of 100 pods.
    pub fn full() -> Self {
        Self {
            pools: vec![
                NodePool::linux("system", 50).control_plane(),
                NodePool::linux("lnxgen", 1_950),
                NodePool::linux("lnxmem", 2_000),
                NodePool::windows("win22", 800),
                NodePool::windows("win19", 200).windows_server_2019(),
            ],
            workloads: 500,
            replicas: LARGE_PODS / 500,
        }
    }

    /// The same cluster in miniature, for tests: 14 nodes, 10 workloads of 6 pods.
    pub fn miniature() -> Self {
        Self {
            pools: vec![
                NodePool::linux("system", 3).control_plane(),
                NodePool::linux("lnxgen", 6),
                NodePool::windows("win22", 3),
                NodePool::windows("win19", 2).windows_server_2019(),
            ],
            workloads: 10,
            replicas: 6,
        }
    }
}

/// The Installation of `large`: `healthy`'s, with a pool big enough for 5,000 nodes.
fn installation_spec() -> Value {
    json!({
        "serviceCIDRs": ["10.0.0.0/16"],
        "calicoNetwork": {
            "bgp": "Disabled",
            "windowsDataplane": "HNS",
            "ipPools": [{"name": "default-ipv4-ippool", "cidr": LARGE_POOL, "blockSize": LARGE_BLOCK_SIZE,
                         "encapsulation": "VXLAN", "natOutgoing": "Enabled", "nodeSelector": "all()"}],
        },
    })
}

/// The IP pool as the operator renders it from the Installation (VXLAN always).
fn pool() -> Option<IpPool> {
    IpPool::from_object(&json!({
        "metadata": {"name": "default-ipv4-ippool"},
        "spec": {"cidr": LARGE_POOL, "blockSize": LARGE_BLOCK_SIZE, "vxlanMode": "Always", "ipipMode": "Never", "nodeSelector": "all()"},
    }))
}

// ---------------------------------------------------------------------------------------------
// Placement
// ---------------------------------------------------------------------------------------------

/// One node as the scenario places pods on it.
#[derive(Debug, Clone)]
pub struct LargeNode {
    pub name: String,
    pub os: OsFamily,
    pub ip: Ipv4Addr,
    pub max_pods: u32,
}

/// The nodes of the pools, as `ClusterBuilder::node_pool` numbers and addresses them.
pub fn large_nodes(shape: &LargeShape) -> Vec<LargeNode> {
    let mut next = u32::from(Ipv4Addr::new(10, 224, 0, 4));
    let mut nodes = Vec::new();
    for pool in &shape.pools {
        for index in 0..pool.count {
            nodes.push(LargeNode {
                name: pool.node_name(index),
                os: pool.os,
                ip: Ipv4Addr::from(next),
                max_pods: pool.max_pods,
            });
            next += 1;
        }
    }
    nodes
}

/// The workloads (four Linux ones to a Windows one) and, for each, the indexes into `nodes`
/// its pods go to round-robin: every seventh node of its OS from a start that moves on 37
/// nodes per workload, so pods spread evenly.
pub fn large_workloads(shape: &LargeShape, nodes: &[LargeNode]) -> Vec<(Workload, Vec<usize>)> {
    let linux: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].os == OsFamily::Linux)
        .collect();
    let windows: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].os == OsFamily::Windows)
        .collect();
    (0..shape.workloads)
        .map(|i| {
            let (ns, os, pool) = match i % 5 {
                4 => ("legacy", OsFamily::Windows, &windows),
                0 | 1 => ("shop", OsFamily::Linux, &linux),
                _ => ("payments", OsFamily::Linux, &linux),
            };
            let workload = Workload::new(ns, &format!("svc{i:03}-api"), shape.replicas, os);
            let start = (i * 37) % pool.len();
            let placement = pool
                .iter()
                .cycle()
                .skip(start)
                .step_by(7)
                .take(shape.replicas.min(pool.len()))
                .copied()
                .collect();
            (workload, placement)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Calico IPAM, planned in memory
// ---------------------------------------------------------------------------------------------

/// One address owner: the handle and the attributes Calico records with it.
#[derive(Debug, Clone)]
struct Owner {
    handle: String,
    secondary: BTreeMap<String, String>,
}

/// A node's blocks in the making.
#[derive(Debug)]
struct HostBlocks {
    host: String,
    reserved: Option<HostReserved>,
    blocks: Vec<(Ipv4Net, BlockSpec)>,
}

/// IPAM for every node, claimed and assigned as libcalico would: the first block of each
/// node when its agent starts (in node order), more as pods need them.
#[derive(Debug)]
pub struct IpamPlan {
    pool: IpPool,
    claimed: std::collections::HashSet<Ipv4Net>,
    hosts: Vec<HostBlocks>,
    index: std::collections::HashMap<String, usize>,
    /// The block sequence numbers start at the claim time, as `BlockSpec::new` takes it.
    sequence_start: u64,
    /// Addresses each handle holds, per block, for the IPAMHandles.
    handles: Vec<(String, Ipv4Net, i64)>,
}

impl IpamPlan {
    fn new(pool: IpPool, nodes: &[LargeNode], sequence_start: u64) -> Result<Self, ApiError> {
        let mut plan = Self {
            pool,
            claimed: std::collections::HashSet::new(),
            hosts: Vec::with_capacity(nodes.len()),
            index: std::collections::HashMap::with_capacity(nodes.len()),
            sequence_start,
            handles: Vec::new(),
        };
        for node in nodes {
            let windows = node.os == OsFamily::Windows;
            plan.index.insert(node.name.clone(), plan.hosts.len());
            plan.hosts.push(HostBlocks {
                host: node.name.clone(),
                reserved: windows.then_some(WINDOWS_RESERVED),
                blocks: Vec::new(),
            });
            let host = plan.hosts.len() - 1;
            plan.claim(host)?;
            if !windows {
                // calico-node's VXLAN tunnel address: the first ordinal of the first block.
                let owner = Owner {
                    handle: format!("vxlan-tunnel-addr-{}", node.name),
                    secondary: BTreeMap::from([
                        ("node".to_string(), node.name.clone()),
                        ("type".to_string(), "vxlanTunnelAddress".to_string()),
                    ]),
                };
                plan.assign(&node.name, &owner)?;
            }
        }
        Ok(plan)
    }

    fn claim(&mut self, host: usize) -> Result<Ipv4Net, ApiError> {
        let name = self.hosts[host].host.clone();
        let cidr = self
            .pool
            .blocks_from(&name)
            .find(|c| !self.claimed.contains(c))
            .ok_or_else(|| ApiError::internal(format!("pool {LARGE_POOL} is carved up")))?;
        self.claimed.insert(cidr);
        let spec = BlockSpec::new(
            cidr,
            &name,
            self.hosts[host].reserved,
            self.sequence_start,
            true,
        );
        self.hosts[host].blocks.push((cidr, spec));
        Ok(cidr)
    }

    /// Assigns the next free address on `host` (Windows: only its single block).
    fn assign(&mut self, host: &str, owner: &Owner) -> Result<Ipv4Addr, ApiError> {
        let index = *self
            .index
            .get(host)
            .ok_or_else(|| ApiError::internal(format!("no node {host}")))?;
        let windows = self.hosts[index].reserved.is_some();
        let room = self.hosts[index]
            .blocks
            .iter()
            .position(|(_, b)| !b.unallocated.is_empty());
        let at = match room {
            Some(at) => at,
            None if windows => {
                return Err(ApiError::internal(format!(
                    "{host}: cannot allocate new block due to per host block limit"
                )));
            }
            None => {
                self.claim(index)?;
                self.hosts[index].blocks.len() - 1
            }
        };
        let (cidr, block) = &mut self.hosts[index].blocks[at];
        let ordinal = block
            .assign(&owner.handle, &owner.secondary)
            .ok_or_else(|| ApiError::internal("a block with room refused an address"))?;
        // The block's write advances its sequence number.
        block.sequence_number = block.sequence_number.wrapping_add(1);
        self.handles.push((owner.handle.clone(), *cidr, 1));
        Ok(ordinal_address(*cidr, ordinal))
    }

    /// The node's VXLAN tunnel address: ordinal 0 on Linux (assigned), 1 on Windows (reserved).
    fn tunnel(&self, host: &str) -> Option<Ipv4Addr> {
        let hb = &self.hosts[*self.index.get(host)?];
        let (cidr, _) = hb.blocks.first()?;
        let ordinal = u32::from(hb.reserved.is_some());
        Some(ordinal_address(*cidr, ordinal))
    }

    /// Seeds every block, its confirmed affinity and every handle.
    fn seed(self, store: &Store) -> Result<(), ApiError> {
        let registry = store.registry();
        let rt = |plural: &str| {
            registry
                .get("crd.projectcalico.org", "v1", plural)
                .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))
        };
        let (blocks, affinities, handles) = (
            rt("ipamblocks")?,
            rt("blockaffinities")?,
            rt("ipamhandles")?,
        );
        for host in &self.hosts {
            for (cidr, spec) in &host.blocks {
                let body =
                    block_object(*cidr, spec).map_err(|e| ApiError::internal(e.to_string()))?;
                store.seed(&blocks, body)?;
                store.seed(
                    &affinities,
                    calico_ipam::affinity_object(&host.host, *cidr, "confirmed"),
                )?;
            }
        }
        // Every handle here holds one address in one block.
        for (handle, cidr, count) in &self.handles {
            store.seed(&handles, handle_object(handle, *cidr, *count))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Pods as their controllers and the kubelet leave them
// ---------------------------------------------------------------------------------------------

/// 64 hex digits standing for a container or image digest, stable per input.
fn runtime_id(kind: &str, parts: &str) -> String {
    sandbox_id(&format!("{kind}/{parts}"), 0)
}

fn image_id(image: &str) -> String {
    let repository = match image.rsplit_once('/') {
        Some((path, last)) => format!("{path}/{}", last.split([':', '@']).next().unwrap_or(last)),
        None => image.to_string(),
    };
    format!("{repository}@sha256:{}", runtime_id("image", image))
}

/// A pod's status once the kubelet has run it: init containers completed, containers
/// running and ready, every condition true since `at`.
fn running_status(pod: &Value, host_ip: &str, pod_ip: &str, at: &str) -> Value {
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let spec = &pod["spec"];
    let condition = |kind: &str| json!({"type": kind, "status": "True", "lastTransitionTime": at});
    let container = |c: &Value, init: bool| {
        let name = c["name"].as_str().unwrap_or_default();
        let image = c["image"].as_str().unwrap_or_default();
        let id = format!(
            "containerd://{}",
            runtime_id("container", &format!("{uid}/{name}"))
        );
        let state = if init {
            json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": at, "finishedAt": at, "containerID": id}})
        } else {
            json!({"running": {"startedAt": at}})
        };
        json!({"name": name, "state": state, "lastState": {}, "ready": true, "restartCount": 0,
               "image": image, "imageID": image_id(image), "started": !init, "containerID": id})
    };
    let list = |key: &str, init: bool| -> Vec<Value> {
        spec[key]
            .as_array()
            .map(|cs| cs.iter().map(|c| container(c, init)).collect())
            .unwrap_or_default()
    };
    let mut status = json!({
        "phase": "Running",
        "conditions": [condition("PodReadyToStartContainers"), condition("Initialized"), condition("Ready"),
                       condition("ContainersReady"), condition("PodScheduled")],
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
        "startTime": at,
        "qosClass": pod["status"]["qosClass"],
        "containerStatuses": list("containers", false),
    });
    let init = list("initContainers", true);
    if !init.is_empty() {
        status["initContainerStatuses"] = Value::Array(init);
    }
    status
}

/// Everything needed to seed running pods: the store, the IPAM plan, the time they started.
struct PodSeeder<'a> {
    store: &'a Arc<Store>,
    plan: IpamPlan,
    nodes: std::collections::HashMap<String, Ipv4Addr>,
    at: String,
    timestamp: String,
    seeded: usize,
}

impl PodSeeder<'_> {
    /// Seeds a pod built by a controller (metadata, spec) as running on `node`: defaulted as
    /// the API server would, an address from the node's blocks unless it uses the host's
    /// network, and the status the kubelet writes.
    fn run(&mut self, mut pod: Value, node: &str) -> Result<(), ApiError> {
        let rt = self
            .store
            .registry()
            .get("", "v1", "pods")
            .ok_or_else(|| ApiError::internal("pods are not served"))?;
        defaults::on_create("Pod", &mut pod);
        pod["spec"]["nodeName"] = json!(node);
        let namespace = pod["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let uid = self.store.uid_for(&format!("uid//pods/{namespace}/{name}"));
        pod["metadata"]["uid"] = json!(uid);
        let host_ip = self
            .nodes
            .get(node)
            .copied()
            .ok_or_else(|| ApiError::internal(format!("no node {node}")))?;
        let pod_ip = if pod["spec"]["hostNetwork"] == true {
            host_ip
        } else {
            let owner = Owner {
                handle: calico::pod_handle(&sandbox_id(&uid, 0)),
                secondary: BTreeMap::from([
                    ("namespace".to_string(), namespace),
                    ("node".to_string(), node.to_string()),
                    ("pod".to_string(), name),
                    ("timestamp".to_string(), self.timestamp.clone()),
                ]),
            };
            self.plan.assign(node, &owner)?
        };
        pod["status"] = running_status(&pod, &host_ip.to_string(), &pod_ip.to_string(), &self.at);
        self.store.seed(&rt, pod)?;
        self.seeded += 1;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Workload controllers' objects
// ---------------------------------------------------------------------------------------------

fn deployment_status(rs_name: &str, replicas: usize, at: &str) -> Value {
    json!({
        "observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
        "readyReplicas": replicas, "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "lastUpdateTime": at, "lastTransitionTime": at,
             "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
            {"type": "Progressing", "status": "True", "lastUpdateTime": at, "lastTransitionTime": at,
             "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{rs_name}\" has successfully progressed.")},
        ],
    })
}

fn replicaset_status(replicas: usize) -> Value {
    json!({"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": replicas,
           "availableReplicas": replicas, "observedGeneration": 1})
}

fn rt(
    store: &Store,
    group: &str,
    plural: &str,
) -> Result<Arc<crate::sim::resource::ResourceType>, ApiError> {
    store
        .registry()
        .get(group, "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))
}

/// A workload Deployment of the scenario, settled: its ReplicaSet and running pods.
fn seed_workload(
    seeder: &mut PodSeeder<'_>,
    workload: &Workload,
    placement: &[String],
) -> Result<(), ApiError> {
    let store = seeder.store;
    let labels = json!({"app": workload.name});
    let mut template = json!({"metadata": {"labels": labels}, "spec": workload.pod_spec()});
    defaults::pod_spec(&mut template["spec"]);
    let hash = workload::template_hash(&template, None);
    let rs_name = format!("{}-{hash}", workload.name);
    let at = seeder.at.clone();
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": workload.name, "namespace": workload.namespace, "labels": labels,
                     "annotations": {REVISION_ANNOTATION: "1"}},
        "spec": {"replicas": workload.replicas, "selector": {"matchLabels": labels}, "template": template,
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                 "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
        "status": deployment_status(&rs_name, workload.replicas, &at),
    });
    let deployment = store.seed(&*rt(store, "apps", "deployments")?, deployment)?;
    let max_surge = workload.replicas.div_ceil(4);
    let replicaset = replicaset_for(
        &template,
        &labels,
        &rs_name,
        &hash,
        workload,
        &deployment.uid,
        max_surge,
    );
    let replicaset = store.seed(&*rt(store, "apps", "replicasets")?, replicaset)?;
    let pod_template = replicaset_template(&template, &hash);
    for index in 0..workload.replicas {
        let pod = pod_of_replicaset(
            &pod_template,
            &rs_name,
            &replicaset.uid,
            &workload.namespace,
            index,
        );
        let node = &placement[index % placement.len()];
        seeder.run(pod, node)?;
    }
    Ok(())
}

fn replicaset_template(template: &Value, hash: &str) -> Value {
    let mut template = template.clone();
    template["metadata"]["labels"][TEMPLATE_HASH_LABEL] = json!(hash);
    template
}

fn replicaset_for(
    template: &Value,
    selector_labels: &Value,
    rs_name: &str,
    hash: &str,
    workload: &Workload,
    deployment_uid: &str,
    max_surge: usize,
) -> Value {
    let template = replicaset_template(template, hash);
    let mut selector = selector_labels.clone();
    selector[TEMPLATE_HASH_LABEL] = json!(hash);
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": rs_name, "namespace": workload.namespace, "labels": template["metadata"]["labels"],
                     "annotations": {REVISION_ANNOTATION: "1",
                                     "deployment.kubernetes.io/desired-replicas": workload.replicas.to_string(),
                                     "deployment.kubernetes.io/max-replicas": (workload.replicas + max_surge).to_string()},
                     "ownerReferences": [workload::controller_ref_json("Deployment", &workload.name, deployment_uid)]},
        "spec": {"replicas": workload.replicas, "selector": {"matchLabels": selector}, "template": template},
        "status": replicaset_status(workload.replicas),
    })
}

/// A pod as the ReplicaSet controller creates it from its template.
fn pod_of_replicaset(
    template: &Value,
    rs_name: &str,
    rs_uid: &str,
    namespace: &str,
    index: usize,
) -> Value {
    let mut metadata = json!({
        "name": format!("{rs_name}-{}", pod_suffix(index)),
        "generateName": format!("{rs_name}-"),
        "namespace": namespace,
        "ownerReferences": [workload::controller_ref_json("ReplicaSet", rs_name, rs_uid)],
    });
    for key in ["labels", "annotations"] {
        if let Some(value) = template.pointer(&format!("/metadata/{key}")) {
            metadata[key] = value.clone();
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]})
}

/// Settles a Deployment the operator created: its ReplicaSet and pods on `nodes` (one each,
/// round-robin), the revision annotation and status the Deployment controller writes.
fn settle_operator_deployment(
    seeder: &mut PodSeeder<'_>,
    namespace: &str,
    name: &str,
    nodes: &[String],
) -> Result<(), ApiError> {
    let store = seeder.store;
    let deployments = rt(store, "apps", "deployments")?;
    let deployment = store.get(&deployments, namespace, name)?.value()?;
    let template = deployment["spec"]["template"].clone();
    let replicas =
        usize::try_from(deployment["spec"]["replicas"].as_u64().unwrap_or(1)).unwrap_or(1);
    let hash = workload::template_hash(&template, None);
    let rs_name = format!("{name}-{hash}");
    let mut workload = Workload::new(namespace, name, replicas, OsFamily::Linux);
    workload.name = name.to_string();
    let selector = deployment
        .pointer("/spec/selector/matchLabels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let replicaset = replicaset_for(
        &template,
        &selector,
        &rs_name,
        &hash,
        &workload,
        deployment["metadata"]["uid"].as_str().unwrap_or_default(),
        replicas.div_ceil(4),
    );
    let replicaset = store.seed(&*rt(store, "apps", "replicasets")?, replicaset)?;
    let pod_template = replicaset_template(&template, &hash);
    for index in 0..replicas {
        let pod = pod_of_replicaset(&pod_template, &rs_name, &replicaset.uid, namespace, index);
        seeder.run(pod, &nodes[index % nodes.len()])?;
    }
    let manager = WriteOptions::manager(FIELD_MANAGER);
    store.patch(
        &deployments,
        namespace,
        name,
        PatchType::Merge,
        &json!({"metadata": {"annotations": {REVISION_ANNOTATION: "1"}}}),
        Part::Main,
        &manager,
    )?;
    store.patch(
        &deployments,
        namespace,
        name,
        PatchType::Merge,
        &json!({"status": deployment_status(&rs_name, replicas, &seeder.at)}),
        Part::Status,
        &manager,
    )?;
    settle_budget(store, namespace, name, replicas, &seeder.at)
}

/// The status the disruption controller gives the operator's PodDisruptionBudget of a
/// Deployment (`maxUnavailable: 1`) once all its pods are healthy.
fn settle_budget(
    store: &Store,
    namespace: &str,
    name: &str,
    healthy: usize,
    at: &str,
) -> Result<(), ApiError> {
    let budgets = store
        .registry()
        .get("policy", "v1", "poddisruptionbudgets")
        .ok_or_else(|| ApiError::internal("poddisruptionbudgets are not served"))?;
    let Some(budget) = store.try_get(&budgets, namespace, name) else {
        return Ok(());
    };
    let budget = budget.value()?;
    // Only the operator's shape is worked out here; anything else the controller settles.
    let (Some(max_unavailable), None) = (
        budget
            .pointer("/spec/maxUnavailable")
            .and_then(Value::as_u64)
            .and_then(|m| usize::try_from(m).ok()),
        budget.pointer("/spec/minAvailable"),
    ) else {
        return Ok(());
    };
    let desired = healthy.saturating_sub(max_unavailable);
    let allowed = healthy - desired;
    let generation = budget["metadata"]["generation"].as_i64().unwrap_or(1);
    let (reason, status) = if allowed > 0 {
        ("SufficientPods", "True")
    } else {
        ("InsufficientPods", "False")
    };
    let body = json!({"status": {
        "observedGeneration": generation, "disruptionsAllowed": allowed, "currentHealthy": healthy,
        "desiredHealthy": desired, "expectedPods": healthy,
        "conditions": [{"type": "DisruptionAllowed", "status": status, "observedGeneration": generation,
                        "lastTransitionTime": at, "reason": reason, "message": ""}],
    }});
    store.patch(
        &budgets,
        namespace,
        name,
        PatchType::Merge,
        &body,
        Part::Status,
        &WriteOptions::manager(FIELD_MANAGER),
    )?;
    Ok(())
}

/// Settles a DaemonSet the operator created: its ControllerRevision, one pod per node as the
/// DaemonSet controller makes them, and its status counting them all ready.
fn settle_daemonset(
    seeder: &mut PodSeeder<'_>,
    name: &str,
    nodes: &[String],
) -> Result<(), ApiError> {
    let store = seeder.store;
    let daemonsets = rt(store, "apps", "daemonsets")?;
    let ds = store.get(&daemonsets, CALICO_NAMESPACE, name)?.value()?;
    let uid = ds["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let generation = ds["metadata"]["generation"].as_i64().unwrap_or(1);
    let template = ds["spec"]["template"].clone();
    let hash = workload::template_hash(&template, None);
    let mut labels = template["metadata"]["labels"].clone();
    labels[REVISION_HASH_LABEL] = json!(hash);
    let mut data = template.clone();
    data["$patch"] = json!("replace");
    let revision = json!({
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": format!("{name}-{hash}"), "namespace": CALICO_NAMESPACE, "labels": labels,
                     "ownerReferences": [workload::controller_ref_json("DaemonSet", name, &uid)]},
        "data": {"spec": {"template": data}}, "revision": 1,
    });
    store.seed(&*rt(store, "apps", "controllerrevisions")?, revision)?;
    let mut pod_labels = template["metadata"]["labels"].clone();
    pod_labels[TEMPLATE_GENERATION_LABEL] = json!(generation.to_string());
    pod_labels[REVISION_HASH_LABEL] = json!(hash);
    let mut spec = template["spec"].clone();
    spec["tolerations"] = Value::Array(daemonset::with_default_tolerations(&spec));
    for (index, node) in nodes.iter().enumerate() {
        let mut pod_spec = spec.clone();
        pod_spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json!({
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]});
        let mut metadata = json!({
            "name": format!("{name}-{}", pod_suffix(index)),
            "generateName": format!("{name}-"),
            "namespace": CALICO_NAMESPACE,
            "labels": pod_labels,
            "ownerReferences": [workload::controller_ref_json("DaemonSet", name, &uid)],
        });
        if let Some(annotations) = template.pointer("/metadata/annotations") {
            metadata["annotations"] = annotations.clone();
        }
        seeder.run(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}),
            node,
        )?;
    }
    let count = nodes.len();
    let status = json!({"status": {
        "currentNumberScheduled": count, "numberMisscheduled": 0, "desiredNumberScheduled": count,
        "numberReady": count, "observedGeneration": generation, "updatedNumberScheduled": count,
        "numberAvailable": count,
    }});
    store.patch(
        &daemonsets,
        CALICO_NAMESPACE,
        name,
        PatchType::Merge,
        &status,
        Part::Status,
        &WriteOptions::manager(FIELD_MANAGER),
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// A node as the kubelet and calico-node leave it on a healthy install: Ready, Calico's
/// `NetworkUnavailable` False and its address and tunnel annotations.
fn healthy_node(
    pool: &NodePool,
    node: &LargeNode,
    tunnel: Option<Ipv4Addr>,
    store: &Store,
    at: &str,
) -> Value {
    let mut object = super::node(pool, &node.name, node.ip);
    let annotations = &mut object["metadata"]["annotations"];
    annotations[calico::IPV4_ADDRESS_ANNOTATION] =
        json!(format!("{}/{NODE_SUBNET_PREFIX_LEN}", node.ip));
    if let Some(tunnel) = tunnel {
        annotations[calico::VXLAN_TUNNEL_ADDR_ANNOTATION] = json!(tunnel.to_string());
        annotations[calico::VXLAN_TUNNEL_MAC_ANNOTATION] = json!(match node.os {
            OsFamily::Linux => calico::linux_vxlan_mac(&node.name),
            OsFamily::Windows => calico::windows_vxlan_mac(store, tunnel),
        });
    }
    let network = json!({"type": "NetworkUnavailable", "status": "False", "reason": "CalicoIsUp",
                         "message": "Calico is running on this node", "lastHeartbeatTime": at, "lastTransitionTime": at});
    if let Some(conditions) = object["status"]["conditions"].as_array_mut() {
        conditions.insert(0, network);
    }
    object
}

/// What an operator-rendered workload is settled as.
#[derive(Debug, Clone, Copy)]
enum Settle {
    DaemonSet,
    Deployment,
}

/// Loads `large` into an empty store.
pub fn load(store: &Arc<Store>) -> Result<(), ApiError> {
    load_shape(store, &LargeShape::full())
}

/// Loads a `large`-like cluster of the given shape into an empty store.
pub fn load_shape(store: &Arc<Store>, shape: &LargeShape) -> Result<(), ApiError> {
    let started = std::time::Instant::now();
    let now = store.clock.now();
    let nodes = large_nodes(shape);
    let pool = pool().ok_or_else(|| ApiError::internal("the large pool does not parse"))?;
    let sequence_start = u64::try_from(now.as_nanosecond()).unwrap_or(0);
    let plan = IpamPlan::new(pool, &nodes, sequence_start)?;
    seed_base(store, shape, &nodes, &plan)?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "large: nodes seeded"
    );
    let mut seeder = PodSeeder {
        store,
        plan,
        nodes: nodes.iter().map(|n| (n.name.clone(), n.ip)).collect(),
        at: rfc3339(now),
        timestamp: calico::go_time_string(now),
        seeded: 0,
    };
    settle_calico_system(&mut seeder, shape, &nodes)?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "large: calico-system settled"
    );
    for (workload, placement) in large_workloads(shape, &nodes) {
        let placement: Vec<String> = placement.iter().map(|&i| nodes[i].name.clone()).collect();
        seed_workload(&mut seeder, &workload, &placement)?;
    }
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        pods = seeder.seeded,
        "large: pods seeded"
    );
    seeder.plan.seed(store)?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "large: IPAM seeded"
    );
    Ok(())
}

/// The cluster before the operator ran: CRDs, namespaces, Services and the install objects;
/// then the nodes as the kubelet and calico-node leave them.
fn seed_base(
    store: &Store,
    shape: &LargeShape,
    nodes: &[LargeNode],
    plan: &IpamPlan,
) -> Result<(), ApiError> {
    let mut cluster = ClusterBuilder::new();
    cluster
        .crds(crds::operator_crds())
        .crds(crds::calico_v1_crds());
    for ns in ["tigera-operator", "shop", "payments", "legacy"] {
        cluster.namespace(ns);
    }
    let api_host = nodes.first().map_or(Ipv4Addr::UNSPECIFIED, |n| n.ip);
    super::install_objects(&mut cluster, &api_host.to_string(), &installation_spec());
    cluster.load(store)?;
    let nodes_rt = rt(store, "", "nodes")?;
    let at = rfc3339(store.clock.now());
    let mut position = 0;
    for pool in &shape.pools {
        for node in &nodes[position..position + pool.count] {
            let object = healthy_node(pool, node, plan.tunnel(&node.name), store, &at);
            store.seed(&nodes_rt, object)?;
        }
        position += pool.count;
    }
    Ok(())
}

/// Runs the operator's reconcile on the loaded cluster and settles what it renders: each
/// round it renders what its prerequisites allow (the API server once the core is up,
/// calico-node-windows once the v3 API is served), which is then settled as its controllers
/// would leave it, until its status manager reports everything available.
fn settle_calico_system(
    seeder: &mut PodSeeder<'_>,
    shape: &LargeShape,
    nodes: &[LargeNode],
) -> Result<(), ApiError> {
    let store = seeder.store;
    let names = |os: OsFamily| -> Vec<String> {
        nodes
            .iter()
            .filter(|n| n.os == os)
            .map(|n| n.name.clone())
            .collect()
    };
    let (linux, windows) = (names(OsFamily::Linux), names(OsFamily::Windows));
    let control_plane = &linux[..shape.pools.first().map_or(1, |p| p.count).min(linux.len())];
    let mut operator = Operator::new(Arc::clone(seeder.store));
    operator.reconcile();
    check_pool(store)?;
    // The operator Deployment itself (host network, on the control plane).
    seed_operator(seeder, &control_plane[0])?;
    let mut pending: Vec<(Settle, &str, &str, &[String])> = vec![
        (Settle::DaemonSet, CALICO_NAMESPACE, "calico-node", &linux),
        (
            Settle::Deployment,
            CALICO_NAMESPACE,
            "calico-typha",
            control_plane,
        ),
        (
            Settle::Deployment,
            CALICO_NAMESPACE,
            "calico-kube-controllers",
            control_plane,
        ),
        (
            Settle::Deployment,
            APISERVER_NAMESPACE,
            "calico-apiserver",
            &control_plane[1..],
        ),
        (
            Settle::DaemonSet,
            CALICO_NAMESPACE,
            "calico-node-windows",
            &windows,
        ),
    ];
    for _ in 0..OPERATOR_ROUNDS {
        let before = store.current_rv();
        let mut left = Vec::new();
        for (kind, namespace, name, on) in pending {
            let plural = match kind {
                Settle::DaemonSet => "daemonsets",
                Settle::Deployment => "deployments",
            };
            if store
                .try_get(&*rt(store, "apps", plural)?, namespace, name)
                .is_none()
            {
                left.push((kind, namespace, name, on));
                continue;
            }
            match kind {
                Settle::DaemonSet => settle_daemonset(seeder, name, on)?,
                Settle::Deployment => settle_operator_deployment(seeder, namespace, name, on)?,
            }
        }
        pending = left;
        operator.reconcile();
        if pending.is_empty() && store.current_rv() == before {
            return Ok(());
        }
    }
    match pending.first() {
        Some((_, namespace, name, _)) => Err(ApiError::internal(format!(
            "the operator did not render {namespace}/{name}"
        ))),
        None => Err(ApiError::internal("the operator did not settle")),
    }
}

/// The operator must have rendered the pool the plan assumed.
fn check_pool(store: &Store) -> Result<(), ApiError> {
    let pools = calico_ipam::ip_pools(store);
    let expected: Ipv4Net = LARGE_POOL
        .parse()
        .map_err(|_| ApiError::internal("the large pool does not parse"))?;
    if pools.len() == 1
        && pools[0].cidr == expected
        && pools[0].block_size == LARGE_BLOCK_SIZE
        && pools[0].vxlan
    {
        Ok(())
    } else {
        Err(ApiError::internal(format!(
            "the operator rendered pools {:?}, not {LARGE_POOL}/{LARGE_BLOCK_SIZE} VXLAN",
            pools
                .iter()
                .map(|p| (p.cidr, p.block_size))
                .collect::<Vec<_>>()
        )))
    }
}

/// The tigera-operator Deployment, as `fresh` has it, settled on the control plane.
fn seed_operator(seeder: &mut PodSeeder<'_>, node: &str) -> Result<(), ApiError> {
    let mut operator = Workload::new("tigera-operator", "tigera-operator", 1, OsFamily::Linux);
    operator.image = "quay.io/tigera/operator:v1.33.0".to_string();
    operator.host_network = true;
    seed_workload(seeder, &operator, &[node.to_string()])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_node_has_room_for_its_pods() {
        let shape = LargeShape::full();
        let nodes = large_nodes(&shape);
        assert_eq!(nodes.len(), LARGE_NODES);
        let mut per_node = vec![0u32; nodes.len()];
        let workloads = large_workloads(&shape, &nodes);
        let mut pods = 0;
        for (workload, placement) in &workloads {
            for i in 0..workload.replicas {
                per_node[placement[i % placement.len()]] += 1;
                pods += 1;
            }
        }
        assert_eq!(pods, LARGE_PODS);
        for (node, count) in nodes.iter().zip(&per_node) {
            // Plus the Calico agent and, on Linux, typha or kube-controllers at most.
            assert!(count + 3 <= node.max_pods, "{} has {count}", node.name);
        }
        // 40,000 Linux pods on 4,000 nodes and 10,000 Windows pods on 1,000.
        let windows: u32 = nodes
            .iter()
            .zip(&per_node)
            .filter(|(n, _)| n.os == OsFamily::Windows)
            .map(|(_, c)| c)
            .sum();
        assert_eq!(windows, 10_000);
    }

    fn all(store: &Store, group: &str, version: &str, plural: &str) -> Vec<Value> {
        let rt = store.registry().get(group, version, plural).unwrap();
        store
            .list(&rt, None, &crate::sim::store::ListOptions::default())
            .unwrap()
            .items
            .iter()
            .map(|o| o.value().unwrap())
            .collect()
    }

    fn miniature() -> Arc<Store> {
        let clock = Arc::new(crate::sim::clock::ManualClock::new(
            crate::sim::clock::fixed_start(),
        ));
        let store = Arc::new(Store::new(clock, crate::sim::store::StoreConfig::default()));
        load_shape(&store, &LargeShape::miniature()).unwrap();
        store
    }

    /// The miniature cluster, checked object by object against what the controllers and
    /// Calico would have written; the expected numbers are counted from the shape by hand.
    #[test]
    fn the_miniature_is_a_converged_healthy_install() {
        let store = miniature();
        let tunnels = nodes_are_ready_with_tunnels(&store);
        let blocks = blocks_are_affine_with_tunnels(&store, &tunnels);
        let pods = pods_run_with_addresses_from_their_nodes_blocks(&store, &blocks);
        daemonsets_and_operator_report_everything(&store, &pods);
    }

    /// Every node Ready with Calico up; its tunnel address by node name.
    fn nodes_are_ready_with_tunnels(store: &Store) -> BTreeMap<String, Ipv4Addr> {
        let nodes = all(store, "", "v1", "nodes");
        // 3 + 6 Linux, 3 + 2 Windows.
        assert_eq!(nodes.len(), 14);
        let mut tunnels = BTreeMap::new();
        for node in &nodes {
            let name = node["metadata"]["name"].as_str().unwrap().to_string();
            let conditions = node["status"]["conditions"].as_array().unwrap();
            let status = |kind: &str| {
                let c = conditions.iter().find(|c| c["type"] == kind).unwrap();
                (c["status"].clone(), c["reason"].clone())
            };
            assert_eq!(status("Ready"), (json!("True"), json!("KubeletReady")));
            assert_eq!(
                status("NetworkUnavailable"),
                (json!("False"), json!("CalicoIsUp"))
            );
            let annotations = &node["metadata"]["annotations"];
            let tunnel: Ipv4Addr = annotations[calico::VXLAN_TUNNEL_ADDR_ANNOTATION]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            tunnels.insert(name, tunnel);
        }
        tunnels
    }

    /// Blocks: one per node (no node needs a second), each affine to its node and confirmed;
    /// Windows blocks hold the reserved ordinals 0, 1, 2 and 63.
    fn blocks_are_affine_with_tunnels(
        store: &Store,
        tunnels: &BTreeMap<String, Ipv4Addr>,
    ) -> Vec<(Ipv4Net, String, BlockSpec)> {
        let blocks = all(store, "crd.projectcalico.org", "v1", "ipamblocks");
        assert_eq!(blocks.len(), 14);
        let affinities = all(store, "crd.projectcalico.org", "v1", "blockaffinities");
        assert_eq!(affinities.len(), 14);
        assert!(affinities.iter().all(|a| a["spec"]["state"] == "confirmed"));
        let pool: Ipv4Net = LARGE_POOL.parse().unwrap();
        let mut owner_of: Vec<(Ipv4Net, String, BlockSpec)> = Vec::new();
        for block in &blocks {
            let spec: BlockSpec = serde_json::from_value(block["spec"].clone()).unwrap();
            let cidr: Ipv4Net = spec.cidr.parse().unwrap();
            assert!(pool.contains(&cidr) && cidr.prefix_len() == 26);
            let host = spec.owner().unwrap().to_string();
            let windows = host.contains("-win");
            let tunnel = tunnels[&host];
            assert!(cidr.contains(&tunnel));
            let reserved: Vec<u32> = (0u32..64)
                .filter(|&o| {
                    spec.allocations[o as usize].is_some_and(|i| {
                        spec.attributes[i as usize].handle_id.as_deref()
                            == Some(calico_ipam::WINDOWS_RESERVED_HANDLE)
                    })
                })
                .collect();
            if windows {
                assert_eq!(reserved, [0, 1, 2, 63], "{host}");
                assert_eq!(tunnel, ordinal_address(cidr, 1));
            } else {
                assert!(reserved.is_empty());
                assert_eq!(tunnel, ordinal_address(cidr, 0));
                let tunnel_attr = &spec.attributes[spec.allocations[0].unwrap() as usize];
                assert_eq!(
                    tunnel_attr.handle_id.as_deref(),
                    Some(format!("vxlan-tunnel-addr-{host}").as_str())
                );
                assert_eq!(tunnel_attr.secondary["type"], "vxlanTunnelAddress");
            }
            let used = 64 - spec.unallocated.len();
            assert_eq!(
                used,
                spec.allocations.iter().filter(|a| a.is_some()).count()
            );
            owner_of.push((cidr, host, spec));
        }
        owner_of
    }

    /// Every pod: Running and Ready; a pod-network pod's address is allocated to it
    /// (pod, namespace, node) in a block affine to its node, under its sandbox's handle.
    fn pods_run_with_addresses_from_their_nodes_blocks(
        store: &Store,
        owner_of: &[(Ipv4Net, String, BlockSpec)],
    ) -> Vec<Value> {
        let pods = all(store, "", "v1", "pods");
        // 60 workload pods, 9 calico-node, 5 calico-node-windows, typha_replicas(9) = 3,
        // 1 kube-controllers, 2 API servers, 1 operator.
        assert_eq!(pods.len(), 60 + 9 + 5 + 3 + 1 + 2 + 1);
        let mut pod_network = 0;
        for pod in &pods {
            let node = pod["spec"]["nodeName"].as_str().unwrap();
            assert_eq!(pod["status"]["phase"], "Running");
            let ready = pod["status"]["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            assert!(ready);
            if pod["spec"]["hostNetwork"] == true {
                continue;
            }
            pod_network += 1;
            let ip: Ipv4Addr = pod["status"]["podIP"].as_str().unwrap().parse().unwrap();
            let (cidr, host, spec) = owner_of.iter().find(|(c, _, _)| c.contains(&ip)).unwrap();
            assert_eq!(host, node, "{ip}");
            let ordinal = u32::from(ip) - u32::from(cidr.network());
            let attribute = &spec.attributes[spec.allocations[ordinal as usize].unwrap() as usize];
            let uid = pod["metadata"]["uid"].as_str().unwrap();
            assert_eq!(
                attribute.handle_id.as_deref(),
                Some(calico::pod_handle(&sandbox_id(uid, 0)).as_str())
            );
            assert_eq!(attribute.secondary["pod"], pod["metadata"]["name"]);
            assert_eq!(
                attribute.secondary["namespace"],
                pod["metadata"]["namespace"]
            );
            assert_eq!(attribute.secondary["node"], node);
        }
        // 60 workloads, kube-controllers and the two API servers.
        assert_eq!(pod_network, 63);
        // One handle per pod-network pod and per Linux tunnel.
        assert_eq!(
            all(store, "crd.projectcalico.org", "v1", "ipamhandles").len(),
            63 + 9
        );
        pods
    }

    /// Both node DaemonSets count every node of their OS, on revision 1; every TigeraStatus
    /// is Available.
    fn daemonsets_and_operator_report_everything(store: &Store, pods: &[Value]) {
        for (name, nodes) in [("calico-node", 9), ("calico-node-windows", 5)] {
            let ds = all(store, "apps", "v1", "daemonsets")
                .into_iter()
                .find(|d| d["metadata"]["name"] == name)
                .unwrap();
            for key in [
                "desiredNumberScheduled",
                "currentNumberScheduled",
                "updatedNumberScheduled",
                "numberReady",
                "numberAvailable",
            ] {
                assert_eq!(ds["status"][key], nodes, "{name} {key}");
            }
            assert_eq!(
                ds["status"]["observedGeneration"],
                ds["metadata"]["generation"]
            );
            let hash = workload::template_hash(&ds["spec"]["template"], None);
            let on_revision = pods
                .iter()
                .filter(|p| p["metadata"]["labels"][REVISION_HASH_LABEL] == hash.as_str())
                .count();
            assert_eq!(on_revision, nodes, "{name}");
        }
        // The operator's budgets (maxUnavailable 1) allow one disruption each.
        let budgets = all(store, "policy", "v1", "poddisruptionbudgets");
        assert_eq!(budgets.len(), 3);
        for budget in &budgets {
            let status = &budget["status"];
            assert_eq!(
                status["disruptionsAllowed"], 1,
                "{}",
                budget["metadata"]["name"]
            );
            assert_eq!(status["currentHealthy"], status["expectedPods"]);
        }
        for status in all(store, "operator.tigera.io", "v1", "tigerastatuses") {
            let available = status["status"]["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["type"] == "Available" && c["status"] == "True");
            assert!(available, "{}", status["metadata"]["name"]);
        }
    }

    /// The operator, looking at the loaded cluster again, finds nothing to change.
    #[test]
    fn the_operator_finds_the_miniature_converged() {
        let store = miniature();
        let before = store.current_rv();
        let mut operator = Operator::new(Arc::clone(&store));
        operator.reconcile();
        assert_eq!(store.current_rv(), before);
    }

    /// Every controller, started on the loaded miniature, finds it converged: in two
    /// seconds of running (ticks every 100 ms) none of them writes anything.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_controllers_find_the_miniature_converged() {
        let store = miniature();
        let before = store.current_rv();
        let mut tasks = tokio::task::JoinSet::new();
        crate::sim::controllers::spawn(
            crate::sim::controllers::Controllers::All,
            &store,
            &mut tasks,
        );
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let written = store.current_rv() - before;
        store.shutdown.cancel();
        while tasks.join_next().await.is_some() {}
        assert_eq!(written, 0, "writes on a converged cluster");
    }
}
