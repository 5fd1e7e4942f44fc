//! Scenarios: the starting state of a simulated cluster, written as code with builders that
//! read like the domain (`NodePool::windows("npwin", 2)`), not as fixture files. A scenario
//! is loaded the way a restored etcd would be: CRDs go through the real create path so they
//! register their resources, everything else is seeded as already existing.

use std::net::Ipv4Addr;
use std::sync::Arc;

use serde_json::{Value, json};

use super::crds;
use super::error::ApiError;
use super::faults::Fault;
use super::store::Store;
use super::write::WriteOptions;

mod large;
pub use large::{
    LARGE_NODES, LARGE_PODS, LARGE_POOL, LargeNode, LargeShape, large_nodes, large_workloads,
    load_shape,
};

/// The named starting points `pooltop sim --scenario` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scenario {
    /// Before a first Calico install: operator and CRDs present, no CNI, nodes NotReady.
    #[default]
    Fresh,
    /// Calico 3.27 installed the way the docs describe for Windows: Installation with HNS and a
    /// VXLAN pool, APIServer, strictAffinity on; both node DaemonSets rolled out, nodes Ready,
    /// blocks allocated, workloads running with pod addresses.
    Healthy,
    /// Healthy, then an update of both node DaemonSets (a move to a private registry) that
    /// rolls out on Linux and gets stuck on Windows: an unreachable registry, a crash-looping
    /// felix, a late node whose containerd is too old for HostProcess, and nodes waiting.
    StuckRollout,
    /// A small pool nearly carved up: a Windows node whose single block is full, strictAffinity
    /// turned off on a cluster with Windows nodes (the operator Degraded, Windows sandboxes
    /// and a restarted calico-node-windows failing), Linux nodes borrowing addresses from other
    /// nodes' blocks, one of them a Windows node's.
    IpamPressure,
    /// 5,000 nodes in Linux and Windows pools running 50,000 workload pods on a healthy
    /// Calico install, seeded as converged.
    Large,
}

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::Fresh,
        Scenario::Healthy,
        Scenario::StuckRollout,
        Scenario::IpamPressure,
        Scenario::Large,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Healthy => "healthy",
            Self::StuckRollout => "stuck-rollout",
            Self::IpamPressure => "ipam-pressure",
            Self::Large => "large",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::Fresh => {
                "first install: Tigera operator and CRDs present, no Installation, no CNI, nodes NotReady"
            }
            Self::Healthy => {
                "Calico installed for Windows as documented: both DaemonSets rolled out, nodes Ready, workloads running"
            }
            Self::StuckRollout => {
                "a calico-node-windows update stuck on Windows nodes for different reasons, Linux fine"
            }
            Self::IpamPressure => {
                "a pool nearly carved up: a full Windows block, strictAffinity off with Windows nodes, Linux nodes borrowing"
            }
            Self::Large => {
                "5,000 nodes (Linux and Windows pools) running 50,000 workload pods, Calico healthy"
            }
        }
    }

    /// How the scenario is reached when the controllers work from its loaded state: stages,
    /// each waiting for a condition and then changing the cluster. Empty when loading is all.
    pub fn script(self) -> Vec<Stage> {
        match self {
            Self::Healthy => vec![Stage {
                until: calico_installed,
                then: None,
            }],
            Self::StuckRollout => vec![
                Stage {
                    until: calico_installed,
                    then: Some(add_old_containerd_node),
                },
                Stage {
                    until: old_containerd_node_failing,
                    then: Some(break_windows_update),
                },
                Stage {
                    until: windows_rollout_stuck,
                    then: None,
                },
            ],
            Self::IpamPressure => vec![
                Stage {
                    until: calico_installed,
                    then: Some(fill_windows_block),
                },
                Stage {
                    until: windows_block_full,
                    then: Some(strict_affinity_off_and_linux_batch),
                },
                Stage {
                    until: linux_batch_placed,
                    then: Some(restart_windows_agent),
                },
                Stage {
                    until: windows_agent_failing,
                    then: None,
                },
            ],
            Self::Fresh | Self::Large => Vec::new(),
        }
    }
}

/// One step of a scenario's script: wait until `until` holds, then run `then`.
#[derive(Debug, Clone, Copy)]
pub struct Stage {
    pub until: fn(&Store) -> bool,
    pub then: Option<fn(&Store)>,
}

/// Loads a scenario into an empty store.
pub fn load(store: &Arc<Store>, scenario: &Scenario) -> Result<(), ApiError> {
    let cluster = match scenario {
        Scenario::Fresh => fresh(),
        Scenario::Healthy => healthy(),
        Scenario::StuckRollout => stuck_rollout(),
        Scenario::IpamPressure => ipam_pressure(),
        Scenario::Large => return large::load(store),
    };
    cluster.load(store)
}

/// The operating system of a node pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsFamily {
    Linux,
    Windows,
}

/// A pool of identical nodes, labelled the way AKS labels its agent pools.
#[derive(Debug, Clone)]
pub struct NodePool {
    pub name: String,
    pub os: OsFamily,
    pub count: usize,
    pub ready: bool,
    pub control_plane: bool,
    pub kubelet_version: String,
    pub containerd_version: String,
    /// Windows build label, e.g. `10.0.20348`.
    pub windows_build: String,
    pub kernel_version: String,
    pub os_image: String,
    pub instance_type: String,
    /// The kubelet's `maxPods`: AKS defaults to 110 on Linux and 30 on Windows.
    pub max_pods: u32,
}

impl NodePool {
    pub fn linux(name: &str, count: usize) -> Self {
        Self {
            name: name.to_string(),
            os: OsFamily::Linux,
            count,
            ready: true,
            control_plane: false,
            kubelet_version: "v1.32.4".to_string(),
            containerd_version: "1.7.22-1".to_string(),
            windows_build: String::new(),
            kernel_version: "5.15.0-1079-azure".to_string(),
            os_image: "Ubuntu 22.04.5 LTS".to_string(),
            instance_type: "Standard_D4s_v5".to_string(),
            max_pods: 110,
        }
    }

    pub fn windows(name: &str, count: usize) -> Self {
        Self {
            name: name.to_string(),
            os: OsFamily::Windows,
            count,
            ready: true,
            control_plane: false,
            kubelet_version: "v1.32.4".to_string(),
            containerd_version: "1.7.20+azure".to_string(),
            windows_build: "10.0.20348".to_string(),
            kernel_version: "10.0.20348.2966".to_string(),
            os_image: "Windows Server 2022 Datacenter".to_string(),
            instance_type: "Standard_D4s_v5".to_string(),
            max_pods: 30,
        }
    }

    #[must_use]
    pub fn control_plane(mut self) -> Self {
        self.control_plane = true;
        self
    }

    /// Nodes without a working CNI: NotReady with the kubelet's network-plugin message.
    #[must_use]
    pub fn not_ready(mut self) -> Self {
        self.ready = false;
        self
    }

    #[must_use]
    pub fn windows_server_2019(mut self) -> Self {
        self.windows_build = "10.0.17763".to_string();
        self.kernel_version = "10.0.17763.6659".to_string();
        self.os_image = "Windows Server 2019 Datacenter".to_string();
        self
    }

    pub fn node_name(&self, index: usize) -> String {
        format!("aks-{}-{:08}", self.name, index)
    }
}

/// A cluster under construction: objects in load order.
#[derive(Debug, Default)]
pub struct ClusterBuilder {
    crds: Vec<Value>,
    objects: Vec<Planned>,
    /// (node name, pool index) in creation order, for placing workloads.
    nodes: Vec<(String, OsFamily, Ipv4Addr)>,
    next_node_ip: u32,
    next_uid: u64,
}

impl ClusterBuilder {
    pub fn new() -> Self {
        let mut builder = Self {
            next_node_ip: u32::from(Ipv4Addr::new(10, 224, 0, 4)),
            ..Self::default()
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            builder.namespace(ns);
        }
        // Every cluster has the API server's Service and cluster DNS (the operator reads
        // kube-dns for the Windows CNI configuration).
        builder.service(
            "default",
            "kubernetes",
            "10.0.0.1",
            &[("https", 443, 6443)],
            &json!({"component": "apiserver", "provider": "kubernetes"}),
        );
        builder.service(
            "kube-system",
            "kube-dns",
            "10.0.0.10",
            &[("dns", 53, 53), ("dns-tcp", 53, 53)],
            &json!({"k8s-app": "kube-dns"}),
        );
        builder
    }

    /// A ClusterIP Service.
    pub fn service(
        &mut self,
        namespace: &str,
        name: &str,
        cluster_ip: &str,
        ports: &[(&str, u16, u16)],
        labels: &Value,
    ) -> &mut Self {
        let ports: Vec<Value> = ports
            .iter()
            .map(|(port_name, port, target)| {
                let protocol = if port_name.ends_with("tcp") || *port == 443 {
                    "TCP"
                } else {
                    "UDP"
                };
                json!({"name": port_name, "port": port, "targetPort": target, "protocol": protocol})
            })
            .collect();
        self.object(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "ports": ports,
                     "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"},
        }))
    }

    /// A deterministic uid, so owner references can be wired before objects exist.
    fn uid(&mut self, tag: &str) -> String {
        self.next_uid += 1;
        format!(
            "00000000-0000-4000-8000-{:04x}{:08x}",
            tag.len() & 0xffff,
            self.next_uid
        )
    }

    pub fn crds(&mut self, list: Vec<Value>) -> &mut Self {
        self.crds.extend(list);
        self
    }

    pub fn namespace(&mut self, name: &str) -> &mut Self {
        self.object(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }));
        self
    }

    pub fn node_pool(&mut self, pool: &NodePool) -> &mut Self {
        for index in 0..pool.count {
            let ip = Ipv4Addr::from(self.next_node_ip);
            self.next_node_ip += 1;
            let name = pool.node_name(index);
            self.objects.push(Planned::Object(node(pool, &name, ip)));
            self.nodes.push((name, pool.os, ip));
        }
        self
    }

    /// Names of the nodes of an OS, in creation order.
    pub fn node_names(&self, os: OsFamily) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, o, _)| *o == os)
            .map(|(n, _, _)| n.clone())
            .collect()
    }

    /// A Deployment with its ReplicaSet and pods. `placement` lists the nodes pods are bound
    /// to round-robin (empty: pods stay Pending, unscheduled); `running` makes bound pods
    /// Running and Ready with addresses from `pod_ip`. Pods are generated while loading, so a
    /// large scenario never holds them all as JSON trees at once.
    pub fn deployment(
        &mut self,
        workload: &Workload,
        placement: &[String],
        running: bool,
    ) -> &mut Self {
        let deploy_uid = self.uid("deployment");
        let rs_uid = self.uid("replicaset");
        let rs_name = format!("{}-{}", workload.name, workload.hash);
        let labels = json!({"app": workload.name});
        let mut template_labels = labels.clone();
        template_labels["pod-template-hash"] = json!(workload.hash);
        let pod_spec = workload.pod_spec();
        let ready = if running && !placement.is_empty() {
            workload.replicas
        } else {
            0
        };
        self.objects.push(Planned::Object(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": workload.name, "namespace": workload.namespace, "uid": deploy_uid, "labels": labels, "generation": 1},
            "spec": {"replicas": workload.replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": pod_spec},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
            "status": workload_status(workload.replicas, ready),
        })));
        self.objects.push(Planned::Object(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": workload.namespace, "uid": rs_uid, "labels": template_labels, "generation": 1,
                         "annotations": {"deployment.kubernetes.io/revision": "1"},
                         "ownerReferences": [owner("apps/v1", "Deployment", &workload.name, &deploy_uid)]},
            "spec": {"replicas": workload.replicas, "selector": {"matchLabels": template_labels},
                     "template": {"metadata": {"labels": template_labels}, "spec": pod_spec},
            },
            "status": {"replicas": workload.replicas, "fullyLabeledReplicas": workload.replicas, "observedGeneration": 1},
        })));
        let hosts: std::collections::HashMap<&str, Ipv4Addr> = self
            .nodes
            .iter()
            .map(|(n, _, ip)| (n.as_str(), *ip))
            .collect();
        let placement = placement
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    hosts
                        .get(n.as_str())
                        .copied()
                        .unwrap_or(Ipv4Addr::UNSPECIFIED),
                )
            })
            .collect();
        self.objects.push(Planned::Pods(Box::new(PodSet {
            workload: workload.clone(),
            owner: owner("apps/v1", "ReplicaSet", &rs_name, &rs_uid),
            rs_name,
            labels: template_labels,
            spec: pod_spec,
            placement,
            running,
        })));
        self
    }

    pub fn object(&mut self, value: Value) -> &mut Self {
        self.objects.push(Planned::Object(value));
        self
    }

    /// Writes the cluster into a store.
    pub fn load(self, store: &Store) -> Result<(), ApiError> {
        let registry = store.registry();
        let Some(crd_rt) = registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        else {
            return Err(ApiError::internal(
                "the CustomResourceDefinition resource is not registered",
            ));
        };
        for crd in self.crds {
            store.create(
                &crd_rt,
                None,
                crd,
                &WriteOptions::manager("pooltop-scenario"),
            )?;
        }
        let registry = store.registry();
        let objects =
            self.objects
                .into_iter()
                .flat_map(|planned| -> Box<dyn Iterator<Item = Value>> {
                    match planned {
                        Planned::Object(value) => Box::new(std::iter::once(value)),
                        Planned::Pods(set) => {
                            Box::new((0..set.workload.replicas).map(move |i| set.pod(i)))
                        }
                    }
                });
        for object in objects {
            let api_version = object["apiVersion"].as_str().unwrap_or_default();
            let kind = object["kind"].as_str().unwrap_or_default();
            let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
            let rt = registry
                .by_kind(group, kind)
                .filter(|rt| rt.version == version)
                .ok_or_else(|| {
                    ApiError::internal(format!(
                        "scenario object of unknown kind {api_version} {kind}"
                    ))
                })?;
            store.seed(&rt, object)?;
        }
        Ok(())
    }
}

/// An object of a scenario, or a set of pods generated while loading.
#[derive(Debug)]
enum Planned {
    Object(Value),
    Pods(Box<PodSet>),
}

/// The pods of one ReplicaSet.
#[derive(Debug)]
struct PodSet {
    workload: Workload,
    rs_name: String,
    owner: Value,
    labels: Value,
    spec: Value,
    /// Nodes the pods are bound to round-robin, with their addresses.
    placement: Vec<(String, Ipv4Addr)>,
    running: bool,
}

impl PodSet {
    fn pod(&self, index: usize) -> Value {
        let mut pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{}-{}", self.rs_name, pod_suffix(index)), "namespace": self.workload.namespace,
                         "labels": self.labels, "ownerReferences": [self.owner]},
            "spec": self.spec,
            "status": {"phase": "Pending", "qosClass": "Burstable"},
        });
        match self.placement.get(index % self.placement.len().max(1)) {
            Some((node, host_ip)) => {
                pod["spec"]["nodeName"] = json!(node);
                if self.running {
                    pod["status"] = running_status(
                        &self.workload.container,
                        &if self.workload.host_network {
                            host_ip.to_string()
                        } else {
                            pod_ip(index, node)
                        },
                        &host_ip.to_string(),
                    );
                }
            }
            None => {
                pod["status"]["conditions"] = json!([{
                    "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": self.workload.unschedulable_message,
                }]);
            }
        }
        pod
    }
}

/// A replicated workload.
#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub namespace: String,
    pub replicas: usize,
    pub hash: String,
    pub container: String,
    pub image: String,
    pub os: OsFamily,
    pub unschedulable_message: String,
    /// Runs in the node's network namespace: needs no CNI and has the node's address.
    pub host_network: bool,
}

impl Workload {
    pub fn new(namespace: &str, name: &str, replicas: usize, os: OsFamily) -> Self {
        let image = match os {
            OsFamily::Linux => "mcr.microsoft.com/azurelinux/base/nginx:1.25",
            OsFamily::Windows => {
                "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022"
            }
        };
        Self {
            name: name.to_string(),
            namespace: namespace.to_string(),
            replicas,
            hash: template_hash(name),
            container: name.split('-').next().unwrap_or(name).to_string(),
            image: image.to_string(),
            os,
            unschedulable_message: String::new(),
            host_network: false,
        }
    }

    fn pod_spec(&self) -> Value {
        let os = match self.os {
            OsFamily::Linux => "linux",
            OsFamily::Windows => "windows",
        };
        // Like the operator's own manifest: host-network system workloads tolerate every taint,
        // so they run before the CNI makes nodes Ready.
        let tolerations = if self.host_network {
            json!([{"effect": "NoExecute", "operator": "Exists"}, {"effect": "NoSchedule", "operator": "Exists"}])
        } else {
            json!([])
        };
        json!({
            "containers": [{
                "name": self.container, "image": self.image, "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
            }],
            "nodeSelector": {"kubernetes.io/os": os},
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler", "securityContext": {}, "enableServiceLinks": true,
            "hostNetwork": self.host_network,
            "tolerations": tolerations,
        })
    }
}

fn owner(api_version: &str, kind: &str, name: &str, uid: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true})
}

/// The 10-character hash suffix a Deployment gives its ReplicaSet, derived from the name.
fn template_hash(name: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..10)
        .map(|i| {
            let idx = usize::try_from((h >> (i * 6)) % ALPHABET.len() as u64).unwrap_or(0);
            char::from(ALPHABET[idx])
        })
        .collect()
}

/// The five-character suffix of a ReplicaSet's pod name.
fn pod_suffix(index: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = index;
    (0..5)
        .map(|_| {
            let c = char::from(ALPHABET[n % ALPHABET.len()]);
            n /= ALPHABET.len();
            c
        })
        .collect()
}

/// A placeholder-free pod address: derived from the pod's index and node so it is stable.
fn pod_ip(index: usize, node: &str) -> String {
    let mut h: u32 = 2_166_136_261;
    for b in node.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(16_777_619);
    }
    let block = h % 16_384;
    let ordinal = u32::try_from(index % 58).unwrap_or(0) + 4;
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 244, 0, 0)) + block * 64 + ordinal).to_string()
}

fn workload_status(replicas: usize, ready: usize) -> Value {
    let mut status =
        json!({"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas});
    if ready > 0 {
        status["readyReplicas"] = json!(ready);
        status["availableReplicas"] = json!(ready);
    } else {
        status["unavailableReplicas"] = json!(replicas);
    }
    status
}

fn running_status(container: &str, pod_ip: &str, host_ip: &str) -> Value {
    let t = "2026-11-29T08:00:00Z";
    let condition = |kind: &str| json!({"type": kind, "status": "True", "lastTransitionTime": t});
    json!({
        "phase": "Running",
        "conditions": [condition("PodReadyToStartContainers"), condition("Initialized"), condition("Ready"), condition("ContainersReady"), condition("PodScheduled")],
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
        "startTime": t,
        "qosClass": "Burstable",
        "containerStatuses": [{
            "name": container, "ready": true, "started": true, "restartCount": 0,
            "image": "nginx", "imageID": "", "containerID": format!("containerd://{:064x}", pod_ip.len()),
            "state": {"running": {"startedAt": t}},
        }],
    })
}

fn node(pool: &NodePool, name: &str, ip: Ipv4Addr) -> Value {
    let os = match pool.os {
        OsFamily::Linux => "linux",
        OsFamily::Windows => "windows",
    };
    let pods_capacity = pool.max_pods;
    let mut labels = json!({
        "kubernetes.io/os": os, "beta.kubernetes.io/os": os,
        "kubernetes.io/arch": "amd64", "beta.kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.azure.com/agentpool": pool.name, "agentpool": pool.name,
        "kubernetes.azure.com/cluster": "MC_pooltop_sim_westeurope",
        "node.kubernetes.io/instance-type": pool.instance_type,
        "topology.kubernetes.io/region": "westeurope",
        "topology.kubernetes.io/zone": "0",
    });
    if pool.os == OsFamily::Windows {
        labels["node.kubernetes.io/windows-build"] = json!(pool.windows_build);
        labels["kubernetes.azure.com/os-sku"] =
            json!(if pool.windows_build.starts_with("10.0.17763") {
                "Windows2019"
            } else {
                "Windows2022"
            });
    } else {
        labels["kubernetes.azure.com/os-sku"] = json!("Ubuntu");
    }
    if pool.control_plane {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
    }
    let t = "2026-11-29T08:00:00Z";
    let ready = if pool.ready {
        json!({"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": t, "lastTransitionTime": t})
    } else {
        json!({"type": "Ready", "status": "False", "reason": "KubeletNotReady",
               "message": "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
               "lastHeartbeatTime": t, "lastTransitionTime": t})
    };
    let pressure = |kind: &str, reason: &str, message: &str| json!({"type": kind, "status": "False", "reason": reason, "message": message, "lastHeartbeatTime": t, "lastTransitionTime": t});
    let mut spec = json!({});
    if !pool.ready {
        spec["taints"] = json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]);
    }
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels, "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": spec,
        "status": {
            "capacity": {"cpu": "4", "memory": "16365708Ki", "pods": pods_capacity.to_string(), "ephemeral-storage": "129886128Ki"},
            "allocatable": {"cpu": "3860m", "memory": "12880524Ki", "pods": pods_capacity.to_string(), "ephemeral-storage": "119703055367"},
            "conditions": [
                pressure("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                pressure("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                pressure("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                ready,
            ],
            "addresses": [{"type": "InternalIP", "address": ip.to_string()}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": format!("{:032x}", u32::from(ip)), "systemUUID": format!("{:08x}-0000-4000-8000-000000000000", u32::from(ip)),
                "bootID": format!("{:08x}-0000-4000-8000-000000000001", u32::from(ip)),
                "kernelVersion": pool.kernel_version, "osImage": pool.os_image,
                "containerRuntimeVersion": format!("containerd://{}", pool.containerd_version),
                "kubeletVersion": pool.kubelet_version, "kubeProxyVersion": "",
                "operatingSystem": os, "architecture": "amd64",
            },
        },
    })
}

/// Before a first Calico install.
fn fresh() -> ClusterBuilder {
    fresh_with(2)
}

/// The fresh cluster with a Windows pool of the given size.
fn fresh_with(windows_nodes: usize) -> ClusterBuilder {
    let mut cluster = ClusterBuilder::new();
    cluster
        .crds(crds::operator_crds())
        .crds(crds::calico_v1_crds());
    cluster.namespace("tigera-operator");
    cluster.node_pool(&NodePool::linux("system", 1).control_plane().not_ready());
    cluster.node_pool(&NodePool::linux("nplinux", 3).not_ready());
    cluster.node_pool(&NodePool::windows("npwin", windows_nodes).not_ready());
    let total = 4 + windows_nodes;
    let untolerated = format!(
        "0/{total} nodes are available: {total} node(s) had untolerated taint {{node.kubernetes.io/not-ready: }}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
    );
    // The operator runs on the host network, so it starts without a CNI.
    let mut operator = Workload::new("tigera-operator", "tigera-operator", 1, OsFamily::Linux);
    operator.image = "quay.io/tigera/operator:v1.33.0".to_string();
    operator.host_network = true;
    let control_plane = cluster
        .node_names(OsFamily::Linux)
        .into_iter()
        .take(1)
        .collect::<Vec<_>>();
    cluster.deployment(&operator, &control_plane, true);
    for (ns, name, replicas, os) in [
        ("kube-system", "coredns", 2, OsFamily::Linux),
        ("default", "web", 3, OsFamily::Linux),
        ("default", "iis", 2, OsFamily::Windows),
    ] {
        let mut workload = Workload::new(ns, name, replicas, os);
        workload.unschedulable_message.clone_from(&untolerated);
        cluster.deployment(&workload, &[], false);
    }
    cluster
}

/// The fresh cluster plus what the Calico docs have an operator create for Windows: the
/// services-endpoint ConfigMap, strictAffinity on, the Installation (HNS, VXLAN pool, service
/// CIDRs, BGP off) and the APIServer. The controllers take it from there.
fn healthy() -> ClusterBuilder {
    healthy_with(fresh(), json!({}))
}

/// A fresh cluster plus the install objects; `extra_spec` is merged into the Installation spec.
fn healthy_with(mut cluster: ClusterBuilder, extra_spec: Value) -> ClusterBuilder {
    let api_host = cluster
        .nodes
        .first()
        .map_or_else(|| "10.224.0.4".to_string(), |(_, _, ip)| ip.to_string());
    let spec = merged(
        json!({
            "serviceCIDRs": ["10.0.0.0/16"],
            "calicoNetwork": {
                "bgp": "Disabled",
                "windowsDataplane": "HNS",
                "ipPools": [{"name": "default-ipv4-ippool", "cidr": "192.168.0.0/16", "blockSize": 26,
                             "encapsulation": "VXLAN", "natOutgoing": "Enabled", "nodeSelector": "all()"}],
            },
        }),
        extra_spec,
    );
    install_objects(&mut cluster, &api_host, &spec);
    cluster
}

/// What the Calico docs have an operator create for Windows: the services-endpoint ConfigMap
/// (the API server at `api_host`), strictAffinity on, the Installation and the APIServer.
fn install_objects(cluster: &mut ClusterBuilder, api_host: &str, installation_spec: &Value) {
    cluster.object(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kubernetes-services-endpoint", "namespace": "tigera-operator"},
        "data": {"KUBERNETES_SERVICE_HOST": api_host, "KUBERNETES_SERVICE_PORT": "443"},
    }));
    cluster.object(json!({
        "apiVersion": "crd.projectcalico.org/v1", "kind": "IPAMConfig",
        "metadata": {"name": "default"},
        "spec": {"strictAffinity": true, "autoAllocateBlocks": true},
    }));
    cluster.object(json!({
        "apiVersion": "operator.tigera.io/v1", "kind": "Installation",
        "metadata": {"name": "default"},
        "spec": installation_spec,
    }));
    cluster.object(json!({"apiVersion": "operator.tigera.io/v1", "kind": "APIServer", "metadata": {"name": "default"}, "spec": {}}));
}

fn merged(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

/// Registry the stuck rollout switches to; one Windows node cannot reach it.
const PRIVATE_REGISTRY: &str = "registry.internal.example";
/// The Windows node that joins late with a container runtime too old for HostProcess.
const OLD_CONTAINERD_NODE: &str = "aks-npwin2-00000000";

/// Healthy with four Windows nodes and a rolling update that may take three at a time.
fn stuck_rollout() -> ClusterBuilder {
    healthy_with(
        fresh_with(4),
        json!({"nodeUpdateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 3}}}),
    )
}

/// After the install settled, a Windows node with containerd 1.5 joins; its calico-node-windows
/// pod cannot start. It joins before the update so that the rollout meets it in the same
/// state every run.
fn add_old_containerd_node(store: &Store) {
    if let Some(nodes) = store.registry().get("", "v1", "nodes") {
        let mut pool = NodePool::windows("npwin2", 1).not_ready();
        pool.containerd_version = "1.5.18".to_string();
        let ip = Ipv4Addr::new(10, 224, 0, 40);
        // Seeding fails only if the node exists already, which is what we want anyway.
        let _ = store.seed(&nodes, node(&pool, OLD_CONTAINERD_NODE, ip));
    }
}

fn old_containerd_node_failing(store: &Store) -> bool {
    let Some(pods_rt) = store.registry().get("", "v1", "pods") else {
        return false;
    };
    store
        .list(
            &pods_rt,
            Some("calico-system"),
            &super::store::ListOptions::default(),
        )
        .is_ok_and(|page| {
            page.items.iter().any(|p| {
                p.field("spec.nodeName").as_deref() == Some(OLD_CONTAINERD_NODE)
                    && waiting_reasons(p)
                        .iter()
                        .any(|r| r == "CreateContainerError")
            })
        })
}

/// The waiting reasons of a pod's init and main containers.
fn waiting_reasons(pod: &super::store::StoredObject) -> Vec<String> {
    let Ok(pod) = pod.value() else {
        return Vec::new();
    };
    ["initContainerStatuses", "containerStatuses"]
        .iter()
        .filter_map(|list| pod.pointer(&format!("/status/{list}"))?.as_array().cloned())
        .flatten()
        .filter_map(|c| {
            c.pointer("/state/waiting/reason")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

/// Then one Windows node cannot pull from the private registry, one crash-loops felix, and
/// the Installation moves to the private registry, which updates both node DaemonSets.
fn break_windows_update(store: &Store) {
    let windows: Vec<String> = (0..2)
        .map(|i| NodePool::windows("npwin", 4).node_name(i))
        .collect();
    store.faults.inject(
        &windows[0],
        Fault::ImagePull {
            image_prefix: format!("{PRIVATE_REGISTRY}/"),
            message: format!("failed to resolve reference \"{PRIVATE_REGISTRY}/calico/node-windows:v3.27.3\": failed to do request: Head \"https://{PRIVATE_REGISTRY}/v2/calico/node-windows/manifests/v3.27.3\": dial tcp: lookup {PRIVATE_REGISTRY}: no such host"),
        },
    );
    store.faults.inject(
        &windows[1],
        Fault::CrashLoop {
            container: "felix".to_string(),
            exit_code: 1,
            message: "Failed to connect to Typha: dial tcp 10.0.104.17:5473: i/o timeout"
                .to_string(),
        },
    );
    let registry = store.registry();
    if let Some(installations) = registry.get("operator.tigera.io", "v1", "installations") {
        let patch = json!({"spec": {"registry": PRIVATE_REGISTRY}});
        let opts = super::write::WriteOptions::manager("kubectl-patch");
        // The Installation exists once the install settled; a failure leaves the cluster healthy.
        let _ = store.patch(
            &installations,
            "",
            "default",
            super::write::PatchType::Merge,
            &patch,
            super::write::Part::Main,
            &opts,
        );
    }
}

/// Stuck: Linux rolled out on the new images; on Windows the three broken nodes show
/// their failure and the rollout stops there.
fn windows_rollout_stuck(store: &Store) -> bool {
    let registry = store.registry();
    let (Some(ds_rt), Some(pods_rt)) = (
        registry.get("apps", "v1", "daemonsets"),
        registry.get("", "v1", "pods"),
    ) else {
        return false;
    };
    let linux_updated = store
        .try_get(&ds_rt, "calico-system", "calico-node")
        .and_then(|o| o.value().ok())
        .is_some_and(|ds| {
            let image = ds
                .pointer("/spec/template/spec/containers/0/image")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let status = |k: &str| {
                ds.pointer(&format!("/status/{k}"))
                    .and_then(Value::as_i64)
                    .unwrap_or(-1)
            };
            image.starts_with(PRIVATE_REGISTRY)
                && status("updatedNumberScheduled") == status("desiredNumberScheduled")
                && status("numberAvailable") == status("desiredNumberScheduled")
        });
    let Ok(page) = store.list(
        &pods_rt,
        Some("calico-system"),
        &super::store::ListOptions::default(),
    ) else {
        return false;
    };
    let waiting_reason = |node: &str, reasons: &[&str]| {
        page.items
            .iter()
            .filter(|p| p.field("spec.nodeName").as_deref() == Some(node))
            .any(|p| {
                waiting_reasons(p)
                    .iter()
                    .any(|r| reasons.contains(&r.as_str()))
            })
    };
    let windows = |i: usize| NodePool::windows("npwin", 4).node_name(i);
    deployments_settled(store)
        && linux_updated
        && waiting_reason(&windows(0), &["ImagePullBackOff", "ErrImagePull"])
        && waiting_reason(&windows(1), &["CrashLoopBackOff"])
        && waiting_reason(OLD_CONTAINERD_NODE, &["CreateContainerError"])
}

/// Settled when both node DaemonSets are rolled out, every node is Ready and every
/// workload pod runs.
fn calico_installed(store: &Store) -> bool {
    let registry = store.registry();
    let (Some(ds_rt), Some(nodes_rt), Some(pods_rt)) = (
        registry.get("apps", "v1", "daemonsets"),
        registry.get("", "v1", "nodes"),
        registry.get("", "v1", "pods"),
    ) else {
        return false;
    };
    let rolled_out = |name: &str| {
        store
            .try_get(&ds_rt, "calico-system", name)
            .and_then(|o| o.value().ok())
            .is_some_and(|ds| {
                let status = |k: &str| {
                    ds.pointer(&format!("/status/{k}"))
                        .and_then(Value::as_i64)
                        .unwrap_or(-1)
                };
                let desired = status("desiredNumberScheduled");
                desired > 0
                    && status("updatedNumberScheduled") == desired
                    && status("numberAvailable") == desired
                    && ds.pointer("/metadata/generation").and_then(Value::as_i64)
                        == ds
                            .pointer("/status/observedGeneration")
                            .and_then(Value::as_i64)
            })
    };
    if !rolled_out("calico-node") || !rolled_out("calico-node-windows") {
        return false;
    }
    let all = super::store::ListOptions::default();
    let nodes_ready = store.list(&nodes_rt, None, &all).is_ok_and(|page| {
        page.items.iter().all(|n| {
            n.value().is_ok_and(|n| {
                n.pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
            })
        })
    });
    let workloads_running = store
        .list(&pods_rt, Some("default"), &all)
        .is_ok_and(|page| {
            !page.items.is_empty()
                && page
                    .items
                    .iter()
                    .all(|p| p.field("status.phase").as_deref() == Some("Running"))
        });
    nodes_ready && workloads_running && deployments_settled(store)
}

/// Every Deployment rolled out (its replicas updated and available) and no pod terminating,
/// so a converged scenario is never caught in the middle of a rollout.
fn deployments_settled(store: &Store) -> bool {
    deployments_settled_except(store, &[])
}

/// `deployments_settled`, leaving out Deployments that cannot finish by design.
fn deployments_settled_except(store: &Store, stuck: &[&str]) -> bool {
    let registry = store.registry();
    let (Some(deploy_rt), Some(pods_rt)) = (
        registry.get("apps", "v1", "deployments"),
        registry.get("", "v1", "pods"),
    ) else {
        return false;
    };
    let all = super::store::ListOptions::default();
    let rolled_out = store.list(&deploy_rt, None, &all).is_ok_and(|page| {
        page.items.iter().all(|d| {
            stuck.contains(&d.name.as_str())
                || d.value().is_ok_and(|d| {
                    let number = |path: &str| d.pointer(path).and_then(Value::as_i64).unwrap_or(0);
                    let replicas = d
                        .pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1);
                    number("/status/observedGeneration") >= number("/metadata/generation")
                        && number("/status/replicas") == replicas
                        && number("/status/updatedReplicas") == replicas
                        && number("/status/availableReplicas") == replicas
                })
        })
    });
    rolled_out
        && store.list(&pods_rt, None, &all).is_ok_and(|page| {
            page.items.iter().all(|p| {
                p.value()
                    .is_ok_and(|v| v.pointer("/metadata/deletionTimestamp").is_none())
            })
        })
}

/// The pool of `ipam-pressure`: 8 blocks of 16 addresses for 6 nodes.
pub const PRESSURE_POOL: &str = "10.48.0.0/25";
/// The Windows node whose single block fills up.
pub const PRESSURE_FULL_NODE: &str = "aks-npwin-00000000";
/// The Windows node whose calico-node-windows restarts into the strictAffinity failure.
pub const PRESSURE_RESTARTED_NODE: &str = "aks-npwin-00000001";
/// Pods pinned to the full Windows node; its block holds 12 workload addresses.
const PRESSURE_WINDOWS_FILL: usize = 14;
/// Linux pods: more than the Linux nodes' blocks and the free blocks hold.
const PRESSURE_LINUX_BATCH: usize = 90;

/// Healthy, on a small pool: `/25` carved into `/28` blocks, so six nodes and a hundred pods
/// use it up.
fn ipam_pressure() -> ClusterBuilder {
    healthy_with(
        fresh(),
        json!({"calicoNetwork": {
            "bgp": "Disabled",
            "windowsDataplane": "HNS",
            "ipPools": [{"name": "default-ipv4-ippool", "cidr": PRESSURE_POOL, "blockSize": 28,
                         "encapsulation": "VXLAN", "natOutgoing": "Enabled", "nodeSelector": "all()"}],
        }}),
    )
}

/// A Deployment as `kubectl create deployment` would make it, for scenario stages.
fn create_deployment(store: &Store, workload: &Workload, node_selector: &Value) {
    let Some(rt) = store.registry().get("apps", "v1", "deployments") else {
        return;
    };
    let labels = json!({"app": workload.name});
    let mut spec = workload.pod_spec();
    if let (Some(selector), Some(extra)) = (
        spec["nodeSelector"].as_object_mut(),
        node_selector.as_object(),
    ) {
        selector.extend(extra.clone());
    }
    let body = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": workload.name, "namespace": workload.namespace, "labels": labels},
        "spec": {"replicas": workload.replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": spec}},
    });
    if let Err(err) = store.create(
        &rt,
        Some(&workload.namespace),
        body,
        &WriteOptions::manager("kubectl-create"),
    ) {
        tracing::warn!(deployment = %workload.name, %err, "scenario stage");
    }
}

/// More Windows pods on one node than its single block has addresses for.
fn fill_windows_block(store: &Store) {
    let fill = Workload::new(
        "default",
        "winfill",
        PRESSURE_WINDOWS_FILL,
        OsFamily::Windows,
    );
    create_deployment(
        store,
        &fill,
        &json!({"kubernetes.io/hostname": PRESSURE_FULL_NODE}),
    );
}

/// Pods of a Deployment (by its `app` label) and how many of them run.
fn app_pods(store: &Store, namespace: &str, app: &str) -> (usize, usize) {
    let Some(rt) = store.registry().get("", "v1", "pods") else {
        return (0, 0);
    };
    let options = super::store::ListOptions {
        labels: super::selector::LabelSelector::parse(&format!("app={app}")).unwrap_or_default(),
        ..super::store::ListOptions::default()
    };
    store
        .list(&rt, Some(namespace), &options)
        .map_or((0, 0), |page| {
            let running = page
                .items
                .iter()
                .filter(|p| p.field("status.phase").as_deref() == Some("Running"))
                .count();
            (page.items.len(), running)
        })
}

/// Whether an Event with this reason and a message containing `text` was recorded.
fn event_seen(store: &Store, namespace: &str, reason: &str, text: &str) -> bool {
    let Some(rt) = store.registry().get("", "v1", "events") else {
        return false;
    };
    store
        .list(&rt, Some(namespace), &super::store::ListOptions::default())
        .is_ok_and(|page| {
            page.items.iter().any(|e| {
                e.value().is_ok_and(|e| {
                    e["reason"] == reason && e["message"].as_str().is_some_and(|m| m.contains(text))
                })
            })
        })
}

/// The Windows block is full: the pods it has room for run, the rest fail their sandboxes.
fn windows_block_full(store: &Store) -> bool {
    let (pods, running) = app_pods(store, "default", "winfill");
    pods == PRESSURE_WINDOWS_FILL
        && running > 0
        && running < pods
        && event_seen(
            store,
            "default",
            "FailedCreatePodSandBox",
            "cannot allocate new block due to per host block limit",
        )
}

/// strictAffinity off (as `calicoctl ipam configure --strictaffinity=false` does), then more
/// Linux pods than the Linux nodes' blocks and the free blocks hold: they borrow.
fn strict_affinity_off_and_linux_batch(store: &Store) {
    if let Err(err) = super::calico_ipam::set_strict_affinity(store, false) {
        tracing::warn!(%err, "scenario stage: strictAffinity");
    }
    let batch = Workload::new("default", "batch", PRESSURE_LINUX_BATCH, OsFamily::Linux);
    create_deployment(store, &batch, &json!({}));
}

fn linux_batch_placed(store: &Store) -> bool {
    let (pods, running) = app_pods(store, "default", "batch");
    pods == PRESSURE_LINUX_BATCH && running == pods
}

/// A calico-node-windows pod deleted (as a node restart or `kubectl delete pod` would): its
/// replacement starts with strictAffinity off and fails.
fn restart_windows_agent(store: &Store) {
    let Some(rt) = store.registry().get("", "v1", "pods") else {
        return;
    };
    let Ok(page) = store.list(
        &rt,
        Some("calico-system"),
        &super::store::ListOptions::default(),
    ) else {
        return;
    };
    for pod in page.items.iter().filter(|p| {
        p.field("spec.nodeName").as_deref() == Some(PRESSURE_RESTARTED_NODE)
            && p.labels.get("k8s-app").map(String::as_str) == Some("calico-node-windows")
    }) {
        let _ = store.delete(
            &rt,
            "calico-system",
            &pod.name,
            &super::write::DeleteOptions::default(),
        );
    }
}

fn windows_agent_failing(store: &Store) -> bool {
    let Some(rt) = store.registry().get("", "v1", "pods") else {
        return false;
    };
    let crash_looping = store
        .list(
            &rt,
            Some("calico-system"),
            &super::store::ListOptions::default(),
        )
        .is_ok_and(|page| {
            page.items.iter().any(|p| {
                p.field("spec.nodeName").as_deref() == Some(PRESSURE_RESTARTED_NODE)
                    && waiting_reasons(p).iter().any(|r| r == "CrashLoopBackOff")
            })
        });
    crash_looping && deployments_settled_except(store, &["winfill"])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::parse(s.name()), Some(s));
        }
        assert_eq!(Scenario::parse("nope"), None);
        assert_eq!(Scenario::default(), Scenario::Fresh);
    }

    #[test]
    fn pools_are_labelled_like_aks() {
        let pool = NodePool::windows("npwin", 1);
        let node = node(&pool, &pool.node_name(0), Ipv4Addr::new(10, 224, 0, 9));
        assert_eq!(
            node["metadata"]["labels"]["kubernetes.azure.com/agentpool"],
            "npwin"
        );
        assert_eq!(
            node["metadata"]["labels"]["node.kubernetes.io/windows-build"],
            "10.0.20348"
        );
        assert_eq!(
            node["status"]["nodeInfo"]["containerRuntimeVersion"],
            "containerd://1.7.20+azure"
        );
    }

    #[test]
    fn pod_names_are_distinct_within_a_replicaset() {
        let names: std::collections::HashSet<String> = (0..1000).map(pod_suffix).collect();
        assert_eq!(names.len(), 1000);
        assert_eq!(template_hash("web").len(), 10);
    }
}
