//! Builders for cluster objects and snapshots that read like the domain —
//! `node("aks-npwin-00000000").windows().pool("npwin").not_ready("...").build()`,
//! `pod("calico-system", "calico-node-windows-x").on(..).owned_by(&ds)`, `snapshot().with_nodes(..)`
//! — for tests (unit and `tests/`), recordings and demos. Not used by the console at run time.
//! Owns nothing but construction: defaults mirror the simulator's AKS-style pools (Kubernetes
//! v1.32.4, containerd 1.7, Windows Server 2022) so that a builder left alone is healthy and a
//! test states only what it breaks. Must not touch I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, DaemonSetSpec, DaemonSetStatus, DaemonSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Affinity, ConfigMap, Container, ContainerState, ContainerStateRunning,
    ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, Event, Node, NodeAddress,
    NodeAffinity, NodeCondition, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, NodeSpec,
    NodeStatus, NodeSystemInfo, ObjectReference, Pod, PodCondition, PodSpec, PodStatus,
    PodTemplateSpec, Service, ServiceSpec, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};

use super::calico::{
    AllocationAttribute, IpPool, IpPoolSpec, IpamBlock, IpamBlockSpec, IpamConfig, IpamConfigSpec,
};
use super::operator::{
    CalicoNetwork, Condition, Installation, InstallationPool, InstallationSpec, InstallationStatus,
    TigeraStatus, TigeraStatusStatus,
};
use super::snapshot::{CalicoApiMode, ClusterSnapshot, Feed, FeedState, Kind, Objects};

/// The moment fixture snapshots are taken: 2026-12-04T12:00:00Z.
pub const FIXTURE_NOW: Timestamp = Timestamp::constant(1_796_385_600, 0);

/// `FIXTURE_NOW` minus `minutes`: for creation and transition times.
pub fn minutes_ago(minutes: i64) -> Timestamp {
    FIXTURE_NOW
        .checked_sub(SignedDuration::from_mins(minutes))
        .unwrap_or(FIXTURE_NOW)
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        uid: Some(format!("uid-{}-{name}", namespace.unwrap_or("cluster"))),
        creation_timestamp: Some(Time(minutes_ago(60 * 24))),
        ..ObjectMeta::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Nodes

/// A node, Linux and Ready by default.
pub fn node(name: &str) -> NodeBuilder {
    NodeBuilder {
        name: name.to_string(),
        labels: labels(&[
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
            ("kubernetes.io/hostname", name),
            ("node.kubernetes.io/instance-type", "Standard_D4s_v5"),
        ]),
        annotations: BTreeMap::new(),
        ready: (
            true,
            "KubeletReady".to_string(),
            "kubelet is posting ready status".to_string(),
        ),
        cordoned: false,
        taints: Vec::new(),
        conditions: Vec::new(),
        kubelet: "v1.32.4".to_string(),
        runtime: "containerd://1.7.22-1".to_string(),
        kernel: "5.15.0-1079-azure".to_string(),
        os_image: "Ubuntu 22.04.5 LTS".to_string(),
        ip: "10.224.0.5".to_string(),
        created: minutes_ago(60 * 24),
    }
}

#[derive(Debug, Clone)]
pub struct NodeBuilder {
    name: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    ready: (bool, String, String),
    cordoned: bool,
    taints: Vec<Taint>,
    conditions: Vec<NodeCondition>,
    kubelet: String,
    runtime: String,
    kernel: String,
    os_image: String,
    ip: String,
    created: Timestamp,
}

impl NodeBuilder {
    /// Windows Server 2022 (10.0.20348.2966) with containerd 1.7.20, as AKS ships it.
    #[must_use]
    pub fn windows(mut self) -> Self {
        self.labels
            .insert("kubernetes.io/os".into(), "windows".into());
        self.labels.insert(
            "node.kubernetes.io/windows-build".into(),
            "10.0.20348".into(),
        );
        self.kernel = "10.0.20348.2966".into();
        self.os_image = "Windows Server 2022 Datacenter".into();
        self.runtime = "containerd://1.7.20+azure".into();
        self
    }

    /// An AKS pool: `kubernetes.azure.com/agentpool` and the legacy `agentpool` label.
    #[must_use]
    pub fn pool(self, name: &str) -> Self {
        self.label("kubernetes.azure.com/agentpool", name)
            .label("agentpool", name)
    }

    #[must_use]
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    #[must_use]
    pub fn without_label(mut self, key: &str) -> Self {
        self.labels.remove(key);
        self
    }

    #[must_use]
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }

    #[must_use]
    pub fn control_plane(self) -> Self {
        self.label("node-role.kubernetes.io/control-plane", "")
    }

    /// Ready=False with the kubelet's message.
    #[must_use]
    pub fn not_ready(mut self, message: &str) -> Self {
        self.ready = (false, "KubeletNotReady".into(), message.into());
        self.taints.push(Taint {
            key: "node.kubernetes.io/not-ready".into(),
            effect: "NoSchedule".into(),
            ..Taint::default()
        });
        self
    }

    #[must_use]
    pub fn cordoned(mut self) -> Self {
        self.cordoned = true;
        self.taints.push(Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            effect: "NoSchedule".into(),
            ..Taint::default()
        });
        self
    }

    #[must_use]
    pub fn taint(mut self, key: &str, value: Option<&str>, effect: &str) -> Self {
        self.taints.push(Taint {
            key: key.into(),
            value: value.map(str::to_string),
            effect: effect.into(),
            ..Taint::default()
        });
        self
    }

    /// `NetworkUnavailable=True`, as calico-node sets it on shutdown (`CalicoIsDown`).
    #[must_use]
    pub fn network_unavailable(mut self, reason: &str) -> Self {
        self.conditions.push(NodeCondition {
            type_: "NetworkUnavailable".into(),
            status: "True".into(),
            reason: Some(reason.into()),
            message: Some("Calico is shutting down on this node".into()),
            last_transition_time: Some(Time(minutes_ago(10))),
            ..NodeCondition::default()
        });
        self
    }

    /// `containerd://<version>`.
    #[must_use]
    pub fn containerd(mut self, version: &str) -> Self {
        self.runtime = format!("containerd://{version}");
        self
    }

    /// The full runtime string, e.g. `docker://20.10.7`.
    #[must_use]
    pub fn runtime(mut self, value: &str) -> Self {
        self.runtime = value.into();
        self
    }

    #[must_use]
    pub fn kubelet(mut self, version: &str) -> Self {
        self.kubelet = version.into();
        self
    }

    /// A Windows build label and kernel version: `windows_build("10.0.17763", 1000)`.
    #[must_use]
    pub fn windows_build(mut self, build: &str, revision: u32) -> Self {
        self.labels
            .insert("node.kubernetes.io/windows-build".into(), build.into());
        self.kernel = format!("{build}.{revision}");
        self
    }

    #[must_use]
    pub fn ip(mut self, ip: &str) -> Self {
        self.ip = ip.into();
        self
    }

    #[must_use]
    pub fn created(mut self, at: Timestamp) -> Self {
        self.created = at;
        self
    }

    pub fn build(self) -> Node {
        let (ready, reason, message) = self.ready;
        let mut conditions = self.conditions;
        conditions.push(NodeCondition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            reason: Some(reason),
            message: Some(message),
            last_transition_time: Some(Time(minutes_ago(30))),
            ..NodeCondition::default()
        });
        let os = self
            .labels
            .get("kubernetes.io/os")
            .cloned()
            .unwrap_or_default();
        Node {
            metadata: ObjectMeta {
                labels: Some(self.labels),
                annotations: (!self.annotations.is_empty()).then_some(self.annotations),
                creation_timestamp: Some(Time(self.created)),
                ..meta(None, &self.name)
            },
            spec: Some(NodeSpec {
                unschedulable: self.cordoned.then_some(true),
                taints: (!self.taints.is_empty()).then_some(self.taints),
                ..NodeSpec::default()
            }),
            status: Some(NodeStatus {
                conditions: Some(conditions),
                addresses: Some(vec![
                    NodeAddress {
                        type_: "InternalIP".into(),
                        address: self.ip,
                    },
                    NodeAddress {
                        type_: "Hostname".into(),
                        address: self.name.clone(),
                    },
                ]),
                node_info: Some(NodeSystemInfo {
                    kubelet_version: self.kubelet,
                    container_runtime_version: self.runtime,
                    kernel_version: self.kernel,
                    os_image: self.os_image,
                    operating_system: os,
                    architecture: "amd64".into(),
                    ..NodeSystemInfo::default()
                }),
                ..NodeStatus::default()
            }),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pods and containers

/// A container status; running and ready unless told otherwise.
pub fn container(name: &str) -> ContainerBuilder {
    ContainerBuilder {
        status: ContainerStatus {
            name: name.into(),
            image: format!("quay.io/calico/node-windows:v3.27.3#{name}"),
            ready: true,
            started: Some(true),
            state: Some(ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(minutes_ago(20))),
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        },
    }
}

#[derive(Debug, Clone)]
pub struct ContainerBuilder {
    status: ContainerStatus,
}

impl ContainerBuilder {
    #[must_use]
    pub fn image(mut self, image: &str) -> Self {
        self.status.image = image.into();
        self
    }

    #[must_use]
    pub fn not_ready(mut self) -> Self {
        self.status.ready = false;
        self
    }

    /// Waiting with a reason (`ImagePullBackOff`, `CrashLoopBackOff`, `PodInitializing`).
    #[must_use]
    pub fn waiting(mut self, reason: &str, message: &str) -> Self {
        self.status.ready = false;
        self.status.started = Some(false);
        self.status.state = Some(ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.into()),
                message: (!message.is_empty()).then(|| message.to_string()),
            }),
            ..ContainerState::default()
        });
        self
    }

    /// Terminated with an exit code and reason (`0, "Completed"` for a finished init container).
    #[must_use]
    pub fn terminated(mut self, exit_code: i32, reason: &str) -> Self {
        self.status.ready = false;
        self.status.started = Some(false);
        self.status.state = Some(ContainerState {
            terminated: Some(terminated(exit_code, reason, "")),
            ..ContainerState::default()
        });
        self
    }

    /// The previous run ended this way (what `CrashLoopBackOff` reports).
    #[must_use]
    pub fn last_terminated(mut self, exit_code: i32, reason: &str, message: &str) -> Self {
        self.status.last_state = Some(ContainerState {
            terminated: Some(terminated(exit_code, reason, message)),
            ..ContainerState::default()
        });
        self
    }

    #[must_use]
    pub fn restarts(mut self, count: i32) -> Self {
        self.status.restart_count = count;
        self
    }

    /// A crash loop: waiting `CrashLoopBackOff`, last exit as given.
    #[must_use]
    pub fn crash_loop(self, exit_code: i32, reason: &str, message: &str, restarts: i32) -> Self {
        self.waiting("CrashLoopBackOff", "back-off restarting failed container")
            .last_terminated(exit_code, reason, message)
            .restarts(restarts)
    }

    fn completed(&self) -> bool {
        self.status
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .is_some_and(|t| t.exit_code == 0)
    }

    fn running_ready(&self) -> bool {
        self.status.ready
            && self
                .status
                .state
                .as_ref()
                .is_some_and(|s| s.running.is_some())
    }
}

fn terminated(exit_code: i32, reason: &str, message: &str) -> ContainerStateTerminated {
    ContainerStateTerminated {
        exit_code,
        reason: (!reason.is_empty()).then(|| reason.to_string()),
        message: (!message.is_empty()).then(|| message.to_string()),
        started_at: Some(Time(minutes_ago(3))),
        finished_at: Some(Time(minutes_ago(2))),
        ..ContainerStateTerminated::default()
    }
}

/// A pod; Running with no containers until some are added.
pub fn pod(namespace: &str, name: &str) -> PodBuilder {
    PodBuilder {
        meta: meta(Some(namespace), name),
        node: None,
        phase: None,
        ready: None,
        unschedulable: None,
        init: Vec::new(),
        main: Vec::new(),
    }
}

#[derive(Debug, Clone)]
pub struct PodBuilder {
    meta: ObjectMeta,
    node: Option<String>,
    phase: Option<String>,
    ready: Option<bool>,
    unschedulable: Option<String>,
    init: Vec<ContainerBuilder>,
    main: Vec<ContainerBuilder>,
}

impl PodBuilder {
    #[must_use]
    pub fn on(mut self, node: &str) -> Self {
        self.node = Some(node.into());
        self
    }

    #[must_use]
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.meta
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    /// Controlled by the DaemonSet (owner reference with its UID, `k8s-app` label).
    #[must_use]
    pub fn owned_by(mut self, ds: &DaemonSet) -> Self {
        let name = ds.metadata.name.clone().unwrap_or_default();
        self.meta.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "DaemonSet".into(),
            name: name.clone(),
            uid: ds.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
        self.label("k8s-app", &name)
    }

    /// `controller-revision-hash`.
    #[must_use]
    pub fn revision(self, hash: &str) -> Self {
        self.label("controller-revision-hash", hash)
    }

    #[must_use]
    pub fn phase(mut self, phase: &str) -> Self {
        self.phase = Some(phase.into());
        self
    }

    /// Overrides the Ready condition derived from the containers.
    #[must_use]
    pub fn ready(mut self, ready: bool) -> Self {
        self.ready = Some(ready);
        self
    }

    /// Pending with `PodScheduled=False` and the scheduler's message.
    #[must_use]
    pub fn unschedulable(mut self, message: &str) -> Self {
        self.unschedulable = Some(message.into());
        self
    }

    #[must_use]
    pub fn init(mut self, container: ContainerBuilder) -> Self {
        self.init.push(container);
        self
    }

    #[must_use]
    pub fn container(mut self, container: ContainerBuilder) -> Self {
        self.main.push(container);
        self
    }

    /// Being deleted since `at` (the deletion timestamp).
    #[must_use]
    pub fn deleting(mut self, at: Timestamp) -> Self {
        self.meta.deletion_timestamp = Some(Time(at));
        self
    }

    pub fn build(self) -> Pod {
        let initialized = self.init.iter().all(ContainerBuilder::completed);
        let containers_ready =
            !self.main.is_empty() && self.main.iter().all(ContainerBuilder::running_ready);
        let terminal = matches!(self.phase.as_deref(), Some("Failed" | "Succeeded"));
        let ready = self
            .ready
            .unwrap_or(initialized && containers_ready && !terminal);
        let phase = self.phase.unwrap_or_else(|| {
            let nothing_started = !self.main.is_empty()
                && self.main.iter().all(|c| {
                    c.status.state.as_ref().is_some_and(|s| s.waiting.is_some())
                        && c.status.last_state.is_none()
                });
            if self.unschedulable.is_some() || !initialized || nothing_started {
                "Pending".into()
            } else {
                "Running".into()
            }
        });
        let condition = |type_: &str, ok: bool| PodCondition {
            type_: type_.into(),
            status: if ok { "True" } else { "False" }.into(),
            ..PodCondition::default()
        };
        let mut conditions = vec![match &self.unschedulable {
            Some(message) => PodCondition {
                reason: Some("Unschedulable".into()),
                message: Some(message.clone()),
                ..condition("PodScheduled", false)
            },
            None => condition("PodScheduled", true),
        }];
        if self.unschedulable.is_none() {
            conditions.push(condition("Initialized", initialized));
            conditions.push(condition("ContainersReady", containers_ready));
            conditions.push(condition("Ready", ready));
        }
        let spec_container = |c: &ContainerBuilder| Container {
            name: c.status.name.clone(),
            image: Some(c.status.image.clone()),
            ..Container::default()
        };
        let scheduled = self.unschedulable.is_none();
        Pod {
            metadata: self.meta,
            spec: Some(PodSpec {
                node_name: self.node,
                init_containers: (!self.init.is_empty())
                    .then(|| self.init.iter().map(spec_container).collect()),
                containers: self.main.iter().map(spec_container).collect(),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase),
                conditions: Some(conditions),
                init_container_statuses: (scheduled && !self.init.is_empty())
                    .then(|| self.init.into_iter().map(|c| c.status).collect()),
                container_statuses: (scheduled && !self.main.is_empty())
                    .then(|| self.main.into_iter().map(|c| c.status).collect()),
                ..PodStatus::default()
            }),
        }
    }
}

/// A calico-node-windows pod as the operator renders it: init `uninstall-calico` and
/// `install-cni` completed, `felix` and `node` running and ready.
pub fn calico_windows_pod(ds: &DaemonSet, name: &str, node: &str, hash: &str) -> PodBuilder {
    pod("calico-system", name)
        .on(node)
        .owned_by(ds)
        .revision(hash)
}

/// The two init containers of calico-node-windows, completed.
pub fn completed_inits() -> [ContainerBuilder; 2] {
    [
        container("uninstall-calico")
            .image("quay.io/calico/node-windows:v3.27.3")
            .terminated(0, "Completed"),
        container("install-cni")
            .image("quay.io/calico/cni-windows:v3.27.3")
            .terminated(0, "Completed"),
    ]
}

// ---------------------------------------------------------------------------------------------
// DaemonSets and revisions

/// A DaemonSet with a RollingUpdate strategy, tolerating every taint (as the operator renders
/// the node DaemonSets) and generation 1 fully observed.
pub fn daemon_set(namespace: &str, name: &str) -> DaemonSetBuilder {
    DaemonSetBuilder {
        meta: ObjectMeta {
            generation: Some(1),
            ..meta(Some(namespace), name)
        },
        os: None,
        strategy: "RollingUpdate".into(),
        tolerate_all: true,
        not_in: Vec::new(),
        image: format!("quay.io/calico/{name}:v3.27.3"),
        status: DaemonSetStatus {
            observed_generation: Some(1),
            ..DaemonSetStatus::default()
        },
    }
}

#[derive(Debug, Clone)]
pub struct DaemonSetBuilder {
    meta: ObjectMeta,
    os: Option<String>,
    strategy: String,
    tolerate_all: bool,
    not_in: Vec<(String, Vec<String>)>,
    image: String,
    status: DaemonSetStatus,
}

impl DaemonSetBuilder {
    /// nodeSelector `kubernetes.io/os: windows`.
    #[must_use]
    pub fn windows(mut self) -> Self {
        self.os = Some("windows".into());
        self
    }

    /// nodeSelector `kubernetes.io/os: linux`.
    #[must_use]
    pub fn linux(mut self) -> Self {
        self.os = Some("linux".into());
        self
    }

    #[must_use]
    pub fn on_delete(mut self) -> Self {
        self.strategy = "OnDelete".into();
        self
    }

    /// Tolerate only what the DaemonSet controller adds itself.
    #[must_use]
    pub fn no_tolerations(mut self) -> Self {
        self.tolerate_all = false;
        self
    }

    /// Required node affinity `key NotIn values` (the operator's AKS/EKS exclusions).
    #[must_use]
    pub fn not_in(mut self, key: &str, values: &[&str]) -> Self {
        self.not_in.push((
            key.into(),
            values.iter().map(|v| (*v).to_string()).collect(),
        ));
        self
    }

    #[must_use]
    pub fn image(mut self, image: &str) -> Self {
        self.image = image.into();
        self
    }

    /// `metadata.generation` and `status.observedGeneration`.
    #[must_use]
    pub fn generation(mut self, generation: i64, observed: i64) -> Self {
        self.meta.generation = Some(generation);
        self.status.observed_generation = Some(observed);
        self
    }

    /// desired, current, updated, ready, available; unavailable = desired − available.
    #[must_use]
    pub fn counts(
        mut self,
        desired: i32,
        current: i32,
        updated: i32,
        ready: i32,
        available: i32,
    ) -> Self {
        self.status.desired_number_scheduled = desired;
        self.status.current_number_scheduled = current;
        self.status.updated_number_scheduled = Some(updated);
        self.status.number_ready = ready;
        self.status.number_available = Some(available);
        self.status.number_unavailable = Some(desired - available);
        self
    }

    #[must_use]
    pub fn misscheduled(mut self, count: i32) -> Self {
        self.status.number_misscheduled = count;
        self
    }

    pub fn build(self) -> DaemonSet {
        let name = self.meta.name.clone().unwrap_or_default();
        let selector = labels(&[("k8s-app", &name)]);
        let affinity = (!self.not_in.is_empty()).then(|| Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(
                            self.not_in
                                .into_iter()
                                .map(|(key, values)| NodeSelectorRequirement {
                                    key,
                                    operator: "NotIn".into(),
                                    values: Some(values),
                                })
                                .collect(),
                        ),
                        match_fields: None,
                    }],
                }),
                ..NodeAffinity::default()
            }),
            ..Affinity::default()
        });
        DaemonSet {
            metadata: self.meta,
            spec: DaemonSetSpec {
                selector: LabelSelector {
                    match_labels: Some(selector.clone()),
                    ..LabelSelector::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(selector),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(PodSpec {
                        node_selector: self.os.map(|os| labels(&[("kubernetes.io/os", &os)])),
                        affinity,
                        host_network: Some(true),
                        tolerations: self.tolerate_all.then(|| {
                            vec![Toleration {
                                operator: Some("Exists".into()),
                                ..Toleration::default()
                            }]
                        }),
                        containers: vec![Container {
                            name: name.clone(),
                            image: Some(self.image),
                            ..Container::default()
                        }],
                        ..PodSpec::default()
                    }),
                },
                update_strategy: Some(DaemonSetUpdateStrategy {
                    type_: Some(self.strategy),
                    ..DaemonSetUpdateStrategy::default()
                }),
                ..DaemonSetSpec::default()
            },
            status: Some(self.status),
        }
    }
}

/// A ControllerRevision controlled by `ds`, named `<ds>-<hash>`, with its hash label.
pub fn controller_revision(ds: &DaemonSet, hash: &str, revision: i64) -> ControllerRevision {
    let name = ds.metadata.name.clone().unwrap_or_default();
    ControllerRevision {
        metadata: ObjectMeta {
            labels: Some(labels(&[
                ("controller-revision-hash", hash),
                ("k8s-app", &name),
            ])),
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "DaemonSet".into(),
                name: name.clone(),
                uid: ds.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..meta(ds.metadata.namespace.as_deref(), &format!("{name}-{hash}"))
        },
        revision: Some(revision),
        data: k8s_openapi::apimachinery::pkg::runtime::RawExtension::default(),
    }
}

// ---------------------------------------------------------------------------------------------
// Events

/// An event about a pod; Warning, seen `minutes` ago.
pub fn pod_event(pod: &Pod, reason: &str, message: &str, minutes: i64) -> Event {
    object_event(
        "Pod",
        pod.metadata.namespace.as_deref(),
        pod.metadata.name.as_deref().unwrap_or_default(),
        reason,
        message,
        minutes,
    )
}

/// An event about any object; Warning, seen `minutes` ago.
pub fn object_event(
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    reason: &str,
    message: &str,
    minutes: i64,
) -> Event {
    let at = minutes_ago(minutes);
    Event {
        metadata: meta(
            Some(namespace.unwrap_or("default")),
            &format!("{name}.{reason}.{minutes}").to_lowercase(),
        ),
        involved_object: ObjectReference {
            kind: Some(kind.into()),
            namespace: namespace.map(str::to_string),
            name: Some(name.into()),
            ..ObjectReference::default()
        },
        reason: Some(reason.into()),
        message: Some(message.into()),
        type_: Some("Warning".into()),
        count: Some(1),
        first_timestamp: Some(Time(at)),
        last_timestamp: Some(Time(at)),
        ..Event::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Operator and Calico objects

/// The Installation the Calico docs prescribe for Windows: HNS, a VXLAN IPv4 pool, BGP off,
/// service CIDRs, and a status (the core controller has reconciled it).
pub fn installation() -> InstallationBuilder {
    InstallationBuilder {
        installation: Installation {
            metadata: meta(None, "default"),
            spec: InstallationSpec {
                service_cidrs: vec!["10.0.0.0/16".into()],
                calico_network: Some(CalicoNetwork {
                    bgp: Some("Disabled".into()),
                    windows_dataplane: Some("HNS".into()),
                    ip_pools: vec![InstallationPool {
                        name: Some("default-ipv4-ippool".into()),
                        cidr: "192.168.0.0/16".into(),
                        encapsulation: Some("VXLAN".into()),
                        nat_outgoing: Some("Enabled".into()),
                        node_selector: Some("all()".into()),
                        block_size: Some(26),
                    }],
                    ..CalicoNetwork::default()
                }),
                ..InstallationSpec::default()
            },
            status: Some(InstallationStatus {
                calico_version: Some("v3.27.3".into()),
                ..InstallationStatus::default()
            }),
        },
    }
}

#[derive(Debug, Clone)]
pub struct InstallationBuilder {
    installation: Installation,
}

impl InstallationBuilder {
    fn network(&mut self) -> &mut CalicoNetwork {
        self.installation
            .spec
            .calico_network
            .get_or_insert_with(CalicoNetwork::default)
    }

    /// `windowsDataplane` unset.
    #[must_use]
    pub fn windows_disabled(mut self) -> Self {
        self.network().windows_dataplane = None;
        self
    }

    /// The first pool's encapsulation (`None` removes the field).
    #[must_use]
    pub fn encapsulation(mut self, value: Option<&str>) -> Self {
        if let Some(pool) = self.network().ip_pools.first_mut() {
            pool.encapsulation = value.map(str::to_string);
        }
        self
    }

    /// `calicoNetwork.bgp` (`None` removes the field: Enabled by default).
    #[must_use]
    pub fn bgp(mut self, value: Option<&str>) -> Self {
        self.network().bgp = value.map(str::to_string);
        self
    }

    #[must_use]
    pub fn service_cidrs(mut self, cidrs: &[&str]) -> Self {
        self.installation.spec.service_cidrs = cidrs.iter().map(|c| (*c).to_string()).collect();
        self
    }

    #[must_use]
    pub fn provider(mut self, provider: &str) -> Self {
        self.installation.spec.kubernetes_provider = Some(provider.into());
        self
    }

    /// No status: the operator has not reconciled it yet.
    #[must_use]
    pub fn unreconciled(mut self) -> Self {
        self.installation.status = None;
        self
    }

    pub fn build(self) -> Installation {
        self.installation
    }
}

/// A TigeraStatus that is Available, not Progressing, not Degraded.
pub fn tigera_status(name: &str) -> TigeraStatusBuilder {
    TigeraStatusBuilder {
        name: name.into(),
        degraded: None,
    }
}

#[derive(Debug, Clone)]
pub struct TigeraStatusBuilder {
    name: String,
    degraded: Option<(String, String)>,
}

impl TigeraStatusBuilder {
    #[must_use]
    pub fn degraded(mut self, reason: &str, message: &str) -> Self {
        self.degraded = Some((reason.into(), message.into()));
        self
    }

    pub fn build(self) -> TigeraStatus {
        let since = minutes_ago(5).to_string();
        let condition = |type_: &str, status: bool, reason: &str, message: &str| Condition {
            condition_type: type_.into(),
            status: if status { "True" } else { "False" }.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_transition_time: Some(since.clone()),
            observed_generation: Some(1),
        };
        let conditions = match &self.degraded {
            Some((reason, message)) => vec![
                condition("Available", false, reason, message),
                condition("Progressing", false, reason, message),
                condition("Degraded", true, reason, message),
            ],
            None => vec![
                condition(
                    "Available",
                    true,
                    "AllObjectsAvailable",
                    "All objects available",
                ),
                condition(
                    "Progressing",
                    false,
                    "AllObjectsAvailable",
                    "All Objects Available",
                ),
                condition(
                    "Degraded",
                    false,
                    "AllObjectsAvailable",
                    "All Objects Available",
                ),
            ],
        };
        TigeraStatus {
            metadata: meta(None, &self.name),
            status: Some(TigeraStatusStatus { conditions }),
        }
    }
}

/// The IPAM configuration `default` (v3 `IPAMConfiguration`).
pub fn ipam_config(strict_affinity: bool) -> IpamConfig {
    IpamConfig {
        api_version: "projectcalico.org/v3".into(),
        metadata: meta(None, "default"),
        spec: IpamConfigSpec {
            strict_affinity,
            ..IpamConfigSpec::default()
        },
    }
}

/// An IP pool: VXLAN Always, IPIP Never, `all()` unless told otherwise.
pub fn ip_pool(name: &str, cidr: &str) -> IpPoolBuilder {
    IpPoolBuilder {
        pool: IpPool {
            metadata: meta(None, name),
            spec: IpPoolSpec {
                cidr: cidr.into(),
                vxlan_mode: Some("Always".into()),
                ipip_mode: Some("Never".into()),
                nat_outgoing: true,
                ..IpPoolSpec::default()
            },
        },
    }
}

#[derive(Debug, Clone)]
pub struct IpPoolBuilder {
    pool: IpPool,
}

impl IpPoolBuilder {
    #[must_use]
    pub fn vxlan(mut self, mode: &str) -> Self {
        self.pool.spec.vxlan_mode = Some(mode.into());
        self
    }

    #[must_use]
    pub fn ipip(mut self, mode: &str) -> Self {
        self.pool.spec.ipip_mode = Some(mode.into());
        self
    }

    #[must_use]
    pub fn node_selector(mut self, selector: &str) -> Self {
        self.pool.spec.node_selector = Some(selector.into());
        self
    }

    #[must_use]
    pub fn block_size(mut self, size: u8) -> Self {
        self.pool.spec.block_size_raw = size;
        self
    }

    #[must_use]
    pub fn disabled(mut self) -> Self {
        self.pool.spec.disabled = true;
        self
    }

    pub fn build(self) -> IpPool {
        self.pool
    }
}

/// An IPAM block; every ordinal free until allocated. Its size comes from the CIDR.
pub fn ipam_block(cidr: &str) -> IpamBlockBuilder {
    let size = cidr.parse::<ipnet::IpNet>().ok().map_or(0, |net| {
        1usize << u32::from(net.max_prefix_len() - net.prefix_len()).min(16)
    });
    IpamBlockBuilder {
        block: IpamBlock {
            metadata: meta(None, &cidr.replace(['.', ':', '/'], "-")),
            spec: IpamBlockSpec {
                cidr: cidr.into(),
                allocations: vec![None; size],
                ..IpamBlockSpec::default()
            },
        },
    }
}

#[derive(Debug, Clone)]
pub struct IpamBlockBuilder {
    block: IpamBlock,
}

impl IpamBlockBuilder {
    /// `affinity: host:<node>`.
    #[must_use]
    pub fn host(mut self, node: &str) -> Self {
        self.block.spec.affinity = Some(format!("host:{node}"));
        self
    }

    /// Allocates `ordinal` to a new attribute with `handle` and `secondary` pairs.
    #[must_use]
    pub fn allocate(mut self, ordinal: usize, handle: &str, secondary: &[(&str, &str)]) -> Self {
        let index = u32::try_from(self.block.spec.attributes.len()).unwrap_or(u32::MAX);
        self.block.spec.attributes.push(AllocationAttribute {
            handle_id: Some(handle.into()),
            secondary: labels(secondary),
        });
        if let Some(slot) = self.block.spec.allocations.get_mut(ordinal) {
            *slot = Some(index);
        }
        self
    }

    /// The first 3 and the last ordinal under the Windows reserved handle.
    #[must_use]
    pub fn windows_reserved(mut self) -> Self {
        let last = self.block.spec.allocations.len().saturating_sub(1);
        let index = u32::try_from(self.block.spec.attributes.len()).unwrap_or(u32::MAX);
        self.block.spec.attributes.push(AllocationAttribute {
            handle_id: Some(super::calico::WINDOWS_RESERVED_HANDLE.into()),
            secondary: labels(&[("note", "windows host rsvd")]),
        });
        for ordinal in [0, 1, 2, last] {
            if let Some(slot) = self.block.spec.allocations.get_mut(ordinal) {
                *slot = Some(index);
            }
        }
        self
    }

    #[must_use]
    pub fn deleted(mut self) -> Self {
        self.block.spec.deleted = true;
        self
    }

    /// Fills `unallocated` from the free ordinals.
    pub fn build(mut self) -> IpamBlock {
        self.block.spec.unallocated = self
            .block
            .spec
            .allocations
            .iter()
            .enumerate()
            .filter(|(_, a)| a.is_none())
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect();
        self.block
    }
}

/// `tigera-operator/kubernetes-services-endpoint` with host and port.
pub fn services_endpoint(host: &str, port: &str) -> ConfigMap {
    ConfigMap {
        metadata: meta(Some("tigera-operator"), "kubernetes-services-endpoint"),
        data: Some(labels(&[
            ("KUBERNETES_SERVICE_HOST", host),
            ("KUBERNETES_SERVICE_PORT", port),
        ])),
        ..ConfigMap::default()
    }
}

/// A ClusterIP Service.
pub fn service(namespace: &str, name: &str, cluster_ip: &str) -> Service {
    Service {
        metadata: meta(Some(namespace), name),
        spec: Some(ServiceSpec {
            cluster_ip: Some(cluster_ip.into()),
            cluster_ips: Some(vec![cluster_ip.into()]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Snapshots

/// A snapshot at [`FIXTURE_NOW`] with every feed live, the aggregated v3 API, and no objects.
pub fn snapshot() -> SnapshotBuilder {
    let feeds = Kind::ALL
        .iter()
        .map(|kind| {
            (
                *kind,
                Feed {
                    state: FeedState::Live,
                    last_event: Some(FIXTURE_NOW),
                },
            )
        })
        .collect();
    SnapshotBuilder {
        snapshot: ClusterSnapshot {
            revision: 1,
            taken_at: FIXTURE_NOW,
            calico_api: CalicoApiMode::V1WithAggregatedV3,
            feeds,
            ..ClusterSnapshot::default()
        },
    }
}

#[derive(Debug, Clone)]
pub struct SnapshotBuilder {
    snapshot: ClusterSnapshot,
}

fn sorted<T>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> (String, String),
) -> Objects<T> {
    let mut items: Vec<T> = items.into_iter().collect();
    items.sort_by_key(|item| key(item));
    Arc::new(items.into_iter().map(Arc::new).collect())
}

fn key_of(meta: &ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

impl SnapshotBuilder {
    #[must_use]
    pub fn with_nodes(mut self, nodes: impl IntoIterator<Item = Node>) -> Self {
        self.snapshot.nodes = sorted(nodes, |n| key_of(&n.metadata));
        self
    }

    #[must_use]
    pub fn with_pods(mut self, pods: impl IntoIterator<Item = Pod>) -> Self {
        self.snapshot.pods = sorted(pods, |p| key_of(&p.metadata));
        self
    }

    #[must_use]
    pub fn with_daemon_sets(mut self, daemon_sets: impl IntoIterator<Item = DaemonSet>) -> Self {
        self.snapshot.daemon_sets = sorted(daemon_sets, |d| key_of(&d.metadata));
        self
    }

    #[must_use]
    pub fn with_revisions(
        mut self,
        revisions: impl IntoIterator<Item = ControllerRevision>,
    ) -> Self {
        self.snapshot.controller_revisions = sorted(revisions, |r| key_of(&r.metadata));
        self
    }

    /// Events, kept newest last as the feed keeps them.
    #[must_use]
    pub fn with_events(mut self, events: impl IntoIterator<Item = Event>) -> Self {
        let mut events: Vec<Event> = events.into_iter().collect();
        events.sort_by_key(super::printers::event_time);
        self.snapshot.events = Arc::new(events.into_iter().map(Arc::new).collect());
        self
    }

    #[must_use]
    pub fn with_installation(mut self, installation: Installation) -> Self {
        self.snapshot.installation = Some(Arc::new(installation));
        self
    }

    #[must_use]
    pub fn with_tigera_statuses(
        mut self,
        statuses: impl IntoIterator<Item = TigeraStatus>,
    ) -> Self {
        self.snapshot.tigera_statuses = sorted(statuses, |s| key_of(&s.metadata));
        self
    }

    #[must_use]
    pub fn with_ipam_config(mut self, config: IpamConfig) -> Self {
        self.snapshot.ipam_config = Some(Arc::new(config));
        self
    }

    #[must_use]
    pub fn with_services_endpoint(mut self, config_map: ConfigMap) -> Self {
        self.snapshot.services_endpoint = Some(Arc::new(config_map));
        self
    }

    #[must_use]
    pub fn with_kube_dns(mut self, service: Service) -> Self {
        self.snapshot.kube_dns = Some(Arc::new(service));
        self
    }

    #[must_use]
    pub fn with_kubernetes_service(mut self, service: Service) -> Self {
        self.snapshot.kubernetes_service = Some(Arc::new(service));
        self
    }

    #[must_use]
    pub fn with_ip_pools(mut self, pools: impl IntoIterator<Item = IpPool>) -> Self {
        self.snapshot.ip_pools = sorted(pools, |p| key_of(&p.metadata));
        self
    }

    #[must_use]
    pub fn with_ipam_blocks(mut self, blocks: impl IntoIterator<Item = IpamBlock>) -> Self {
        self.snapshot.ipam_blocks = sorted(blocks, |b| key_of(&b.metadata));
        self
    }

    #[must_use]
    pub fn feed(mut self, kind: Kind, state: FeedState) -> Self {
        self.snapshot.feeds.insert(
            kind,
            Feed {
                state,
                last_event: None,
            },
        );
        self
    }

    #[must_use]
    pub fn calico_api(mut self, mode: CalicoApiMode) -> Self {
        self.snapshot.calico_api = mode;
        self
    }

    #[must_use]
    pub fn taken_at(mut self, at: Timestamp) -> Self {
        self.snapshot.taken_at = at;
        self
    }

    pub fn build(self) -> ClusterSnapshot {
        self.snapshot
    }
}

/// The healthy Windows install's cluster-level objects: Installation, strictAffinity on, the
/// services-endpoint ConfigMap, kube-dns, the kubernetes Service, a VXLAN IP pool and the
/// operator's statuses all Available. Tests add nodes, DaemonSets and pods.
pub fn healthy_install() -> SnapshotBuilder {
    snapshot()
        .with_installation(installation().build())
        .with_ipam_config(ipam_config(true))
        .with_services_endpoint(services_endpoint("10.224.0.4", "443"))
        .with_kube_dns(service("kube-system", "kube-dns", "10.0.0.10"))
        .with_kubernetes_service(service("default", "kubernetes", "10.0.0.1"))
        .with_ip_pools([ip_pool("default-ipv4-ippool", "192.168.0.0/16").build()])
        .with_tigera_statuses(
            ["apiserver", "calico", "calico-windows", "ippools"]
                .map(|name| tigera_status(name).build()),
        )
}
