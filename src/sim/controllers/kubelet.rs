//! The kubelets of every simulated node, run as one task. For each pod bound to an existing
//! node it plays the pod's life as a kubelet and containerd would: the sandbox (Calico CNI ADD
//! through `sim::calico`, or the node's address for host-network pods), image pulls
//! serialised per node (Windows images take minutes), init containers one by one, containers
//! created and started, readiness, crash loops and image-pull back-off with the kubelet's
//! timings, HostProcess refused by containerd older than 1.6, and graceful deletion ending in a
//! zero-grace delete. It writes pod status (manager `kubelet`), the Events a kubelet records,
//! and the node's `Ready` condition and `not-ready` taint, which follow whether Calico's agent
//! pod has come up on the node; Calico's own `NetworkUnavailable` condition is written as
//! `calico-node`. It never touches pod specs, other controllers' objects, or pods whose node
//! does not exist. Work is driven by per-pod deadlines kept in memory, so 50,000 settled pods
//! cost a tick nothing.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::events::{EventKind, ObjectRef, Recorder};
use super::informer::{Change, Informer, Key};
use crate::sim::calico;
use crate::sim::clock::{parse_time, rfc3339};
use crate::sim::faults::Fault;
use crate::sim::resource::ResourceType;
use crate::sim::store::{EventType, ListOptions, Store, StoredObject};
use crate::sim::write::{DeleteOptions, Part, PatchType, WriteOptions};

/// How often due work is checked against the (possibly simulated) clock.
const TICK: Duration = Duration::from_millis(100);
const COMPONENT: &str = "kubelet";
const CALICO_NAMESPACE: &str = "calico-system";
const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
/// What containerd reports while no CNI configuration is installed.
pub const NETWORK_NOT_READY: &str = "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized";
/// Crash-loop, image-pull and container-creation back-off: 10 s doubling to 5 minutes.
const BACKOFF_INITIAL: SignedDuration = SignedDuration::from_secs(10);
const BACKOFF_MAX: SignedDuration = SignedDuration::from_secs(300);
/// Sandbox retries back off less far, so a fixed CNI is noticed within a minute or so.
const SANDBOX_BACKOFF_MAX: SignedDuration = SignedDuration::from_secs(80);
/// A container that ran this long before exiting starts its back-off afresh.
const BACKOFF_RESET: SignedDuration = SignedDuration::from_secs(600);
/// From a pod's binding to its first sandbox attempt.
const SANDBOX_START: SignedDuration = SignedDuration::from_secs(3);
/// Guards the per-pod event loop against a transition that fails to move time forward.
const MAX_STEPS_PER_VISIT: usize = 10_000;

/// A pod sandbox's id, as containerd would have made it: 64 hex digits, derived from the
/// pod's uid and the attempt, so runs are reproducible. Calico's IPAM handle for the pod is
/// `k8s-pod-network.<sandbox id>`; scenarios that seed running pods with addresses can name
/// their handles with `sandbox_id(uid, 0)`, which is what the kubelet assumes for them.
pub fn sandbox_id(pod_uid: &str, attempt: u32) -> String {
    digest(&["sandbox", pod_uid, &attempt.to_string()])
}

/// Calico's node-side entry points as the kubelet invokes them (`sim::calico`); tests put
/// stand-ins here to play a CNI that fails or an agent that crashes.
#[derive(Clone, Copy)]
pub(crate) struct Cni {
    add: fn(&Store, &str, &str, &str, &str) -> Result<IpAddr, String>,
    del: fn(&Store, &str),
    agent_start: fn(&Store, &str) -> Result<(), calico::AgentFailure>,
}

const CALICO: Cni = Cni {
    add: calico::cni_add,
    del: calico::cni_del,
    agent_start: calico::agent_start,
};

/// Runs every node's kubelet until the store shuts down.
pub async fn run(store: Arc<Store>) {
    run_with(store, CALICO).await;
}

/// `run` with other Calico entry points (tests).
pub(crate) async fn run_with(store: Arc<Store>, cni: Cni) {
    let shutdown = store.shutdown.clone();
    let registry = store.registry();
    let (Some(pods_rt), Some(nodes_rt)) = (
        registry.get("", "v1", "pods"),
        registry.get("", "v1", "nodes"),
    ) else {
        return;
    };
    let Some(mut nodes) = Informer::new(&store, "", "v1", "nodes", project_node) else {
        return;
    };
    let mut kubelet = Kubelet::new(&store, Arc::clone(&pods_rt), nodes_rt, cni);
    kubelet.on_nodes(
        nodes
            .iter()
            .map(|(k, v)| Change::Upsert(k.clone(), Arc::clone(v)))
            .collect(),
    );
    'resync: loop {
        // Pods are followed without an informer: the per-pod runtime state is the cache.
        let (items, _, mut changes) =
            store.snapshot_and_follow(&pods_rt, None, &ListOptions::default());
        kubelet.resync(&items);
        drop(items);
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                batch = nodes.changed() => match batch {
                    Some(batch) => kubelet.on_nodes(batch),
                    None => return,
                },
                event = changes.recv() => match event {
                    Ok(event) => kubelet.on_pod(&event.object, event.kind),
                    Err(RecvError::Lagged(_)) => continue 'resync,
                    Err(RecvError::Closed) => return,
                },
                _ = ticker.tick() => {
                    // While a scenario converges, a batch of bindings is taken in whole: the
                    // pods a node got together are set up in name order, not in whatever
                    // order a tick caught them in.
                    if store.converging() && store.binding() {
                        continue;
                    }
                    // Everything already written is seen before time-driven work runs.
                    loop {
                        match changes.try_recv() {
                            Ok(event) => kubelet.on_pod(&event.object, event.kind),
                            Err(TryRecvError::Empty) => break,
                            Err(TryRecvError::Lagged(_)) => continue 'resync,
                            Err(TryRecvError::Closed) => return,
                        }
                    }
                    kubelet.tick();
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// What the kubelet reads from nodes and pods.
// ---------------------------------------------------------------------------------------

/// A node as its kubelet knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeFacts {
    uid: String,
    windows: bool,
    internal_ip: String,
    /// `status.nodeInfo.containerRuntimeVersion`, e.g. `containerd://1.7.20`.
    runtime: String,
    /// Status of the `Ready` condition, empty when the node has none.
    ready: String,
    /// Status and reason of `NetworkUnavailable`, empty when absent.
    network_unavailable: (String, String),
    not_ready_taint: bool,
}

fn project_node(obj: &StoredObject) -> Option<NodeFacts> {
    let value = obj.value().ok()?;
    let condition = |kind: &str| {
        value
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|l| l.iter().find(|c| c["type"] == kind))
            .map(|c| (text(c, "status"), text(c, "reason")))
            .unwrap_or_default()
    };
    let internal_ip = value
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().find(|a| a["type"] == "InternalIP"))
        .map(|a| text(a, "address"))
        .unwrap_or_default();
    let not_ready_taint = value
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .is_some_and(|l| {
            l.iter()
                .any(|t| t["key"] == NOT_READY_TAINT && t["effect"] == "NoSchedule")
        });
    let os = obj
        .labels
        .get("kubernetes.io/os")
        .cloned()
        .unwrap_or_else(|| {
            value
                .pointer("/status/nodeInfo/operatingSystem")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        });
    Some(NodeFacts {
        uid: obj.uid.clone(),
        windows: os == "windows",
        internal_ip,
        runtime: value
            .pointer("/status/nodeInfo/containerRuntimeVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        ready: condition("Ready").0,
        network_unavailable: condition("NetworkUnavailable"),
        not_ready_taint,
    })
}

impl NodeFacts {
    /// HostProcess containers need containerd 1.6 or newer; a node that has not reported its
    /// runtime is given the benefit of the doubt.
    fn supports_host_process(&self) -> bool {
        if self.runtime.is_empty() {
            return true;
        }
        let Some(version) = self.runtime.strip_prefix("containerd://") else {
            return false;
        };
        let mut numbers = version
            .trim_start_matches('v')
            .split(|c: char| !c.is_ascii_digit())
            .map(str::parse::<u32>);
        matches!((numbers.next(), numbers.next()), (Some(Ok(major)), Some(Ok(minor))) if (major, minor) >= (1, 6))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

/// Which Calico node agent a pod is, if it is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Agent {
    Linux,
    Windows,
}

impl Agent {
    /// The container whose start is the agent's start.
    fn container(self) -> &'static str {
        match self {
            Self::Linux => "calico-node",
            Self::Windows => "node",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ContainerSpec {
    name: String,
    image: String,
    pull: PullPolicy,
    /// `readinessProbe` initial delay and period, in seconds.
    readiness: Option<(i64, i64)>,
    host_process: bool,
}

/// The parts of a pod spec the kubelet acts on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PodSpec {
    host_network: bool,
    restart: RestartPolicy,
    init: Vec<ContainerSpec>,
    containers: Vec<ContainerSpec>,
    agent: Option<Agent>,
}

/// A pod's status as found, used to take over pods that are already running (a loaded
/// scenario, or a settled pod whose details were dropped from memory).
#[derive(Debug, Default)]
struct Observed {
    phase: String,
    pod_ip: String,
    start_time: Option<Timestamp>,
    scheduled_at: Option<Timestamp>,
    conditions: HashMap<String, Timestamp>,
    init: HashMap<String, ObservedContainer>,
    containers: HashMap<String, ObservedContainer>,
}

#[derive(Debug)]
struct ObservedContainer {
    id: String,
    started_at: Option<Timestamp>,
    restarts: u32,
    ready: bool,
    running: bool,
    image_id: String,
    terminated: Option<Terminated>,
    last: Option<Terminated>,
}

/// One version of a bound pod, parsed.
#[derive(Debug)]
struct PodFacts {
    uid: String,
    node: String,
    spec: Arc<PodSpec>,
    /// When the grace period of a pod being deleted ends.
    deletion: Option<Timestamp>,
    observed: Observed,
}

fn parse_pod(obj: &StoredObject) -> Option<PodFacts> {
    let value = obj.value().ok()?;
    let spec = &value["spec"];
    let pod_host_process = spec
        .pointer("/securityContext/windowsOptions/hostProcess")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let containers = |key: &str| -> Vec<ContainerSpec> {
        spec.get(key)
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .map(|c| container_spec(c, pod_host_process))
                    .collect()
            })
            .unwrap_or_default()
    };
    let restart = match spec.get("restartPolicy").and_then(Value::as_str) {
        Some("Never") => RestartPolicy::Never,
        Some("OnFailure") => RestartPolicy::OnFailure,
        _ => RestartPolicy::Always,
    };
    let agent = match obj.labels.get("k8s-app").map(String::as_str) {
        Some("calico-node") if obj.namespace == CALICO_NAMESPACE => Some(Agent::Linux),
        Some("calico-node-windows") if obj.namespace == CALICO_NAMESPACE => Some(Agent::Windows),
        _ => None,
    };
    let pod_spec = PodSpec {
        host_network: spec
            .get("hostNetwork")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        restart,
        init: containers("initContainers"),
        containers: containers("containers"),
        agent,
    };
    Some(PodFacts {
        uid: obj.uid.clone(),
        node: text(spec, "nodeName"),
        spec: Arc::new(pod_spec),
        deletion: value
            .pointer("/metadata/deletionTimestamp")
            .and_then(Value::as_str)
            .and_then(parse_time),
        observed: observe(&value["status"]),
    })
}

fn container_spec(c: &Value, pod_host_process: bool) -> ContainerSpec {
    let image = text(c, "image");
    let pull = match c.get("imagePullPolicy").and_then(Value::as_str) {
        Some("Always") => PullPolicy::Always,
        Some("Never") => PullPolicy::Never,
        // The API server's default when the pod did not say: `latest` or no tag pulls always.
        None if image.ends_with(":latest")
            || !image.rsplit('/').next().unwrap_or_default().contains(':') =>
        {
            PullPolicy::Always
        }
        _ => PullPolicy::IfNotPresent,
    };
    let readiness = c.get("readinessProbe").map(|p| {
        let seconds =
            |key: &str, default: i64| p.get(key).and_then(Value::as_i64).unwrap_or(default);
        (
            seconds("initialDelaySeconds", 0),
            seconds("periodSeconds", 10).max(1),
        )
    });
    let host_process = c
        .pointer("/securityContext/windowsOptions/hostProcess")
        .and_then(Value::as_bool)
        .unwrap_or(pod_host_process);
    ContainerSpec {
        name: text(c, "name"),
        image,
        pull,
        readiness,
        host_process,
    }
}

/// Reads what taking over a running pod needs; little for pods that are not running.
fn observe(status: &Value) -> Observed {
    let mut observed = Observed {
        phase: text(status, "phase"),
        pod_ip: text(status, "podIP"),
        start_time: status
            .get("startTime")
            .and_then(Value::as_str)
            .and_then(parse_time),
        ..Observed::default()
    };
    for c in status
        .get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(at) = c
            .get("lastTransitionTime")
            .and_then(Value::as_str)
            .and_then(parse_time)
        else {
            continue;
        };
        if c["type"] == "PodScheduled" && c["status"] == "True" {
            observed.scheduled_at = Some(at);
        }
        observed.conditions.insert(text(c, "type"), at);
    }
    if observed.phase != "Running" {
        return observed;
    }
    let containers = |key: &str| -> HashMap<String, ObservedContainer> {
        status
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| (text(c, "name"), observe_container(c)))
            .collect()
    };
    observed.init = containers("initContainerStatuses");
    observed.containers = containers("containerStatuses");
    observed
}

fn observe_container(c: &Value) -> ObservedContainer {
    let running = c.pointer("/state/running");
    let id = text(c, "containerID")
        .trim_start_matches("containerd://")
        .to_string();
    ObservedContainer {
        started_at: running
            .and_then(|r| r.get("startedAt"))
            .and_then(Value::as_str)
            .and_then(parse_time),
        restarts: c
            .get("restartCount")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        ready: c.get("ready").and_then(Value::as_bool).unwrap_or(false),
        running: running.is_some(),
        image_id: text(c, "imageID"),
        terminated: c
            .pointer("/state/terminated")
            .and_then(|t| observe_terminated(t, &id)),
        last: c
            .pointer("/lastState/terminated")
            .and_then(|t| observe_terminated(t, &id)),
        id,
    }
}

fn observe_terminated(t: &Value, current_id: &str) -> Option<Terminated> {
    let time = |key: &str| t.get(key).and_then(Value::as_str).and_then(parse_time);
    let id = t
        .get("containerID")
        .and_then(Value::as_str)
        .map_or(current_id, |i| i.trim_start_matches("containerd://"));
    Some(Terminated {
        exit_code: t
            .get("exitCode")
            .and_then(Value::as_i64)
            .and_then(|c| i32::try_from(c).ok())
            .unwrap_or(0),
        reason: if t["reason"] == "Completed" {
            "Completed"
        } else {
            "Error"
        },
        message: text(t, "message"),
        started_at: time("startedAt")?,
        finished_at: time("finishedAt")?,
        id: id.to_string(),
    })
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------------------------------
// One node's kubelet and containerd: what they hold between visits.
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct NodeRun {
    /// A CNI configuration is installed: Calico's agent has been up here at least once (or
    /// the node was already Ready when we met it). Pods then get sandboxes through CNI ADD.
    cni: bool,
    /// `NetworkUnavailable` as Calico last set it: `Some(true)` after its agent shut down.
    calico_down: Option<bool>,
    /// The node's Calico agent pods and whether each is Ready.
    agents: BTreeMap<Key, bool>,
    /// Images in containerd's store.
    images: HashSet<String>,
    /// Pulls are serialised, as with the kubelet's default `serializeImagePulls`.
    pulls_free_at: Timestamp,
}

impl NodeRun {
    fn new(facts: &NodeFacts) -> Self {
        Self {
            cni: facts.ready == "True",
            calico_down: None,
            agents: BTreeMap::new(),
            images: HashSet::new(),
            pulls_free_at: Timestamp::UNIX_EPOCH,
        }
    }
}

/// Who a pod is, for messages, events and CNI.
#[derive(Debug, Clone)]
struct PodIdent {
    namespace: String,
    name: String,
    uid: String,
}

impl PodIdent {
    /// The kubelet's `format.Pod`: `name_namespace(uid)`.
    fn formatted(&self) -> String {
        format!("{}_{}({})", self.name, self.namespace, self.uid)
    }
}

/// What one visit to a pod may use and what it produces besides the pod's own state.
struct Ctx<'a> {
    store: &'a Store,
    cni: Cni,
    node: &'a str,
    facts: &'a NodeFacts,
    host: &'a mut NodeRun,
    faults: &'a [Fault],
    pod: &'a PodIdent,
    restart: RestartPolicy,
    events: Vec<(EventKind, &'static str, String)>,
}

impl Ctx<'_> {
    fn event(&mut self, kind: EventKind, reason: &'static str, message: String) {
        self.events.push((kind, reason, message));
    }

    /// A duration drawn from the pod's own seeded sequence, so one pod's timings do not
    /// depend on which other pods the kubelet happened to visit first.
    fn between(&self, min_ms: u64, max_ms: u64) -> SignedDuration {
        let key = format!("kubelet/{}", self.pod.uid);
        let ms = min_ms
            + self
                .store
                .draw_below(&key, max_ms.saturating_sub(min_ms) + 1);
        SignedDuration::from_millis(i64::try_from(ms).unwrap_or(i64::MAX))
    }

    fn slow_start(&self) -> SignedDuration {
        self.faults
            .iter()
            .filter_map(|f| match f {
                Fault::SlowStart { extra } => SignedDuration::try_from(*extra).ok(),
                _ => None,
            })
            .fold(SignedDuration::ZERO, |a, b| a + b)
    }

    fn create_delay(&self) -> SignedDuration {
        let base = if self.facts.windows {
            self.between(1_000, 3_000)
        } else {
            self.between(200, 600)
        };
        base + self.slow_start()
    }

    fn crash_fault(&self, container: &str) -> Option<(i32, String)> {
        self.faults.iter().find_map(|f| match f {
            Fault::CrashLoop {
                container: c,
                exit_code,
                message,
            } if c == container => Some((*exit_code, message.clone())),
            _ => None,
        })
    }

    fn pull_fault(&self, image: &str) -> Option<String> {
        self.faults.iter().find_map(|f| match f {
            Fault::ImagePull {
                image_prefix,
                message,
            } if image.starts_with(image_prefix.as_str()) => Some(message.clone()),
            _ => None,
        })
    }
}

/// When the kubelet first sets up a new pod's sandbox: a moment after the scheduler bound it,
/// counted from the binding's (whole-second) time rather than from when the kubelet heard of
/// it. Pods bound together are then set up in name order however their bindings trickled in,
/// so they get their addresses in the same order every run.
fn first_sandbox_at(scheduled_at: Option<Timestamp>, now: Timestamp) -> Timestamp {
    scheduled_at.map_or(now, |at| after(at, SANDBOX_START))
}

fn after(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(t)
}

fn next_backoff(previous: Option<SignedDuration>, max: SignedDuration) -> SignedDuration {
    previous.map_or(BACKOFF_INITIAL, |b| (b * 2).min(max))
}

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Terminated {
    exit_code: i32,
    reason: &'static str,
    message: String,
    started_at: Timestamp,
    finished_at: Timestamp,
    id: String,
}

/// A planned exit of a running container.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Exit {
    at: Timestamp,
    code: i32,
    message: String,
}

/// Where one container is in its life. Every timed phase says when it moves on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Not reached yet: shows the pod's default waiting reason.
    Idle,
    Pulling {
        asked_at: Timestamp,
        began_at: Timestamp,
        done_at: Timestamp,
        failure: Option<String>,
    },
    /// `ErrImagePull`, then `ImagePullBackOff` from `backoff_at` until `retry_at`.
    PullFailed {
        message: String,
        backoff_at: Timestamp,
        retry_at: Timestamp,
        shown: bool,
    },
    Creating {
        at: Timestamp,
    },
    CreateFailed {
        reason: &'static str,
        message: String,
        retry_at: Timestamp,
    },
    Running {
        since: Timestamp,
        ready: bool,
        ready_at: Option<Timestamp>,
        exit: Option<Exit>,
    },
    /// Finished for good: a completed init container, or no restart under the pod's policy.
    Exited(Box<Terminated>),
    CrashLoop {
        retry_at: Timestamp,
        backoff: SignedDuration,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Init,
    Main,
}

/// What a container's transition means for the rest of the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Nothing,
    Started,
    Completed,
}

#[derive(Debug, Clone)]
struct ContainerRun {
    phase: Phase,
    restarts: u32,
    /// The current or last container's id (64 hex digits).
    id: Option<String>,
    image_id: Option<String>,
    last: Option<Box<Terminated>>,
    crash_backoff: Option<SignedDuration>,
    pull_backoff: Option<SignedDuration>,
    create_backoff: Option<SignedDuration>,
    ever_started: bool,
}

impl ContainerRun {
    fn idle() -> Self {
        Self {
            phase: Phase::Idle,
            restarts: 0,
            id: None,
            image_id: None,
            last: None,
            crash_backoff: None,
            pull_backoff: None,
            create_backoff: None,
            ever_started: false,
        }
    }

    fn completed(&self) -> bool {
        matches!(&self.phase, Phase::Exited(t) if t.exit_code == 0)
    }

    /// Identity and history of a container found running.
    fn take_over(&mut self, seen: &ObservedContainer) {
        self.id = (!seen.id.is_empty()).then(|| seen.id.clone());
        self.image_id = (!seen.image_id.is_empty()).then(|| seen.image_id.clone());
        self.restarts = seen.restarts;
        self.last = seen.last.clone().map(Box::new);
        self.ever_started = true;
    }

    fn running(&self) -> bool {
        matches!(self.phase, Phase::Running { .. })
    }

    fn ready(&self) -> bool {
        matches!(self.phase, Phase::Running { ready: true, .. })
    }

    fn due(&self) -> Option<Timestamp> {
        match &self.phase {
            Phase::Idle | Phase::Exited(_) => None,
            Phase::Pulling { done_at, .. } => Some(*done_at),
            Phase::PullFailed {
                backoff_at,
                retry_at,
                shown,
                ..
            } => Some(if *shown {
                *retry_at
            } else {
                *backoff_at.min(retry_at)
            }),
            Phase::Creating { at } => Some(*at),
            Phase::CreateFailed { retry_at, .. } | Phase::CrashLoop { retry_at, .. } => {
                Some(*retry_at)
            }
            Phase::Running {
                ready,
                ready_at,
                exit,
                ..
            } => {
                let ready_due = ready_at.filter(|_| !*ready);
                match (ready_due, exit.as_ref().map(|e| e.at)) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
        }
    }

    /// The kubelet reaches this container: pull its image if needed, then create it.
    fn begin(&mut self, spec: &ContainerSpec, at: Timestamp, ctx: &mut Ctx<'_>) {
        let present = ctx.host.images.contains(&spec.image);
        if spec.pull == PullPolicy::Never && !present {
            let message = format!(
                "Container image \"{}\" is not present with pull policy of Never",
                spec.image
            );
            ctx.event(EventKind::Warning, "ErrImageNeverPull", message.clone());
            let backoff = next_backoff(self.create_backoff, BACKOFF_MAX);
            self.create_backoff = Some(backoff);
            self.phase = Phase::CreateFailed {
                reason: "ErrImageNeverPull",
                message,
                retry_at: after(at, backoff),
            };
            return;
        }
        if present && spec.pull != PullPolicy::Always {
            ctx.event(
                EventKind::Normal,
                "Pulled",
                format!(
                    "Container image \"{}\" already present on machine",
                    spec.image
                ),
            );
            self.phase = Phase::Creating {
                at: after(at, ctx.create_delay()),
            };
            return;
        }
        let failure = ctx.pull_fault(&spec.image);
        let took = match (&failure, present, ctx.facts.windows) {
            (Some(_), _, _) => ctx.between(500, 2_000),
            (None, true, _) => ctx.between(300, 1_000),
            (None, false, true) => ctx.between(60_000, 120_000),
            (None, false, false) => ctx.between(2_000, 4_000),
        };
        let began_at = at.max(ctx.host.pulls_free_at);
        let done_at = after(began_at, took);
        ctx.host.pulls_free_at = done_at;
        ctx.event(
            EventKind::Normal,
            "Pulling",
            format!("Pulling image \"{}\"", spec.image),
        );
        self.phase = Phase::Pulling {
            asked_at: at,
            began_at,
            done_at,
            failure,
        };
    }

    /// Moves the container past whatever was due at `at`.
    fn fire(
        &mut self,
        spec: &ContainerSpec,
        role: Role,
        at: Timestamp,
        ctx: &mut Ctx<'_>,
    ) -> Outcome {
        match self.phase.clone() {
            Phase::Pulling {
                asked_at,
                began_at,
                done_at,
                failure,
            } => {
                self.pulled(spec, at, asked_at, began_at, done_at, failure, ctx);
                Outcome::Nothing
            }
            Phase::PullFailed {
                message,
                backoff_at,
                retry_at,
                shown,
            } => {
                if !shown && backoff_at <= retry_at {
                    ctx.event(
                        EventKind::Normal,
                        "BackOff",
                        format!("Back-off pulling image \"{}\"", spec.image),
                    );
                    ctx.event(
                        EventKind::Warning,
                        "Failed",
                        "Error: ImagePullBackOff".to_string(),
                    );
                    self.phase = Phase::PullFailed {
                        message,
                        backoff_at,
                        retry_at,
                        shown: true,
                    };
                } else {
                    self.begin(spec, at, ctx);
                }
                Outcome::Nothing
            }
            Phase::Creating { .. } => self.create(spec, role, at, ctx),
            Phase::CreateFailed { .. } => {
                self.begin(spec, at, ctx);
                Outcome::Nothing
            }
            Phase::Running {
                since,
                ready,
                ready_at,
                exit,
            } => match exit {
                Some(exit) if ready || ready_at.is_none_or(|r| exit.at <= r) => {
                    self.exited(spec, role, since, exit, ctx)
                }
                exit => {
                    self.phase = Phase::Running {
                        since,
                        ready: true,
                        ready_at,
                        exit,
                    };
                    Outcome::Nothing
                }
            },
            Phase::CrashLoop { backoff, .. } => {
                self.crash_backoff = Some((backoff * 2).min(BACKOFF_MAX));
                self.restarts += 1;
                self.begin(spec, at, ctx);
                Outcome::Nothing
            }
            Phase::Idle | Phase::Exited(_) => Outcome::Nothing,
        }
    }

    #[allow(clippy::too_many_arguments)] // the finished pull's own fields, unpacked
    fn pulled(
        &mut self,
        spec: &ContainerSpec,
        at: Timestamp,
        asked_at: Timestamp,
        began_at: Timestamp,
        done_at: Timestamp,
        failure: Option<String>,
        ctx: &mut Ctx<'_>,
    ) {
        if let Some(message) = failure {
            ctx.event(
                EventKind::Warning,
                "Failed",
                format!("Failed to pull image \"{}\": {message}", spec.image),
            );
            ctx.event(
                EventKind::Warning,
                "Failed",
                "Error: ErrImagePull".to_string(),
            );
            let backoff = next_backoff(self.pull_backoff, BACKOFF_MAX);
            self.pull_backoff = Some(backoff);
            let backoff_at = after(at, SignedDuration::from_secs(1));
            self.phase = Phase::PullFailed {
                message,
                backoff_at,
                retry_at: after(at, backoff),
                shown: false,
            };
            return;
        }
        ctx.host.images.insert(spec.image.clone());
        self.pull_backoff = None;
        let size = image_size(&spec.image, ctx.facts.windows);
        ctx.event(
            EventKind::Normal,
            "Pulled",
            format!(
                "Successfully pulled image \"{}\" in {} ({} including waiting). Image size: {size} bytes.",
                spec.image,
                go_duration(done_at.duration_since(began_at)),
                go_duration(done_at.duration_since(asked_at)),
            ),
        );
        self.phase = Phase::Creating {
            at: after(at, ctx.create_delay()),
        };
    }

    fn create(
        &mut self,
        spec: &ContainerSpec,
        role: Role,
        at: Timestamp,
        ctx: &mut Ctx<'_>,
    ) -> Outcome {
        if spec.host_process && !ctx.facts.supports_host_process() {
            let runtime = ctx.facts.runtime.clone();
            let message = format!(
                "failed to create containerd container: hostProcess containers are not supported by runtime {runtime}: Windows HostProcess containers require containerd v1.6.0 or later"
            );
            ctx.event(EventKind::Warning, "Failed", format!("Error: {message}"));
            let backoff = next_backoff(self.create_backoff, BACKOFF_MAX);
            self.create_backoff = Some(backoff);
            self.phase = Phase::CreateFailed {
                reason: "CreateContainerError",
                message,
                retry_at: after(at, backoff),
            };
            return Outcome::Nothing;
        }
        let id = digest(&[
            "container",
            &ctx.pod.uid,
            &spec.name,
            &self.restarts.to_string(),
        ]);
        self.id = Some(id);
        self.image_id = Some(image_id(&spec.image));
        self.create_backoff = None;
        self.ever_started = true;
        ctx.event(
            EventKind::Normal,
            "Created",
            format!("Created container: {}", spec.name),
        );
        ctx.event(
            EventKind::Normal,
            "Started",
            format!("Started container {}", spec.name),
        );
        let ready_at = match (role, spec.readiness) {
            (Role::Init, _) => None,
            (Role::Main, Some((delay, period))) => {
                let first_probe = ctx.between(1_000, u64::try_from(period).unwrap_or(10) * 1_000);
                Some(after(
                    after(at, SignedDuration::from_secs(delay)),
                    first_probe,
                ))
            }
            (Role::Main, None) => Some(after(at, SignedDuration::from_secs(1))),
        };
        let exit = match (ctx.crash_fault(&spec.name), role) {
            (Some((code, message)), _) => Some(Exit {
                at: after(at, ctx.between(1_000, 3_000)),
                code,
                message,
            }),
            (None, Role::Init) => Some(Exit {
                at: after(at, ctx.between(1_000, 3_000)),
                code: 0,
                message: String::new(),
            }),
            (None, Role::Main) => None,
        };
        self.phase = Phase::Running {
            since: at,
            ready: false,
            ready_at,
            exit,
        };
        Outcome::Started
    }

    /// Makes a running container exit at `at + 1..3 s` (an agent that fails its start).
    fn fail_soon(&mut self, code: i32, message: String, at: Timestamp, ctx: &Ctx<'_>) {
        if let Phase::Running { exit, .. } = &mut self.phase {
            *exit = Some(Exit {
                at: after(at, ctx.between(1_000, 3_000)),
                code,
                message,
            });
        }
    }

    fn exited(
        &mut self,
        spec: &ContainerSpec,
        role: Role,
        since: Timestamp,
        exit: Exit,
        ctx: &mut Ctx<'_>,
    ) -> Outcome {
        let at = exit.at;
        let terminated = Terminated {
            exit_code: exit.code,
            reason: if exit.code == 0 { "Completed" } else { "Error" },
            message: exit.message,
            started_at: since,
            finished_at: at,
            id: self.id.clone().unwrap_or_default(),
        };
        if role == Role::Init && exit.code == 0 {
            self.phase = Phase::Exited(Box::new(terminated));
            return Outcome::Completed;
        }
        let restart = match ctx.restart {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => exit.code != 0,
            RestartPolicy::Never => false,
        };
        if !restart {
            self.phase = Phase::Exited(Box::new(terminated));
            return Outcome::Nothing;
        }
        if at.duration_since(since) >= BACKOFF_RESET {
            self.crash_backoff = None;
        }
        self.last = Some(Box::new(terminated));
        match self.crash_backoff {
            // The kubelet restarts a container at once the first time, then backs off.
            None => {
                self.crash_backoff = Some(BACKOFF_INITIAL);
                self.restarts += 1;
                self.begin(spec, at, ctx);
            }
            Some(backoff) => {
                let message = format!(
                    "Back-off restarting failed container {} in pod {}",
                    spec.name,
                    ctx.pod.formatted()
                );
                ctx.event(EventKind::Warning, "BackOff", message);
                self.phase = Phase::CrashLoop {
                    retry_at: after(at, backoff),
                    backoff,
                };
            }
        }
        Outcome::Nothing
    }
}

// ---------------------------------------------------------------------------------------
// One pod's life on its node.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Sandbox {
    /// No sandbox yet; the next attempt is at `retry_at`.
    Pending {
        attempts: u32,
        retry_at: Timestamp,
        backoff: Option<SignedDuration>,
    },
    /// Created (on attempt `attempt`) with its address; containers can start from `ready_at`.
    Setup {
        attempt: u32,
        id: String,
        ip: String,
        ready_at: Timestamp,
    },
    Ready {
        attempt: u32,
        id: String,
        ip: String,
    },
}

/// A condition's status and when it last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flip {
    on: bool,
    since: Timestamp,
}

impl Flip {
    fn set(&mut self, on: bool, at: Timestamp) {
        if self.on != on {
            *self = Self { on, since: at };
        }
    }
}

/// The kubelet-owned pod conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Conditions {
    ready_to_start: Flip,
    initialized: Flip,
    containers_ready: Flip,
    ready: Flip,
}

#[derive(Debug)]
struct PodRun {
    ident: PodIdent,
    node: String,
    spec: Arc<PodSpec>,
    deletion: Option<Timestamp>,
    scheduled_at: Option<Timestamp>,
    /// When the kubelet first acted on the pod (`status.startTime`).
    start_time: Option<Timestamp>,
    sandbox: Sandbox,
    /// The sandbox's CNI address was released.
    released: bool,
    init: Vec<ContainerRun>,
    main: Vec<ContainerRun>,
    conditions: Conditions,
    /// Containers are being stopped; the pod is removed at this time.
    stopping: Option<Timestamp>,
    /// When this pod is next due a visit (its entry in the timer set).
    due: Option<Timestamp>,
    /// Hash of the last status written, so unchanged status is never sent.
    written: u64,
}

impl PodRun {
    fn new(key: &Key, facts: &PodFacts, now: Timestamp) -> Self {
        let flip = Flip {
            on: false,
            since: now,
        };
        Self {
            ident: PodIdent {
                namespace: key.0.clone(),
                name: key.1.clone(),
                uid: facts.uid.clone(),
            },
            node: facts.node.clone(),
            spec: Arc::clone(&facts.spec),
            deletion: facts.deletion,
            scheduled_at: facts.observed.scheduled_at,
            start_time: None,
            sandbox: Sandbox::Pending {
                attempts: 0,
                retry_at: first_sandbox_at(facts.observed.scheduled_at, now),
                backoff: None,
            },
            released: false,
            init: facts
                .spec
                .init
                .iter()
                .map(|_| ContainerRun::idle())
                .collect(),
            main: facts
                .spec
                .containers
                .iter()
                .map(|_| ContainerRun::idle())
                .collect(),
            conditions: Conditions {
                ready_to_start: flip,
                initialized: flip,
                containers_ready: flip,
                ready: flip,
            },
            stopping: None,
            due: None,
            written: 0,
        }
    }

    /// Takes over a pod found running (a loaded scenario, a kubelet restart, a settled pod
    /// coming back into play): its containers keep running as reported, and its status reads
    /// back exactly as it was. `attempt` is the sandbox attempt that gave the pod its address.
    fn adopt(
        key: &Key,
        facts: &PodFacts,
        host_ip: &str,
        attempt: u32,
        now: Timestamp,
    ) -> Option<Self> {
        let observed = &facts.observed;
        if observed.phase != "Running" {
            return None;
        }
        let mut run = Self::new(key, facts, now);
        let started = observed.start_time.unwrap_or(now);
        run.start_time = Some(started);
        for (c, spec) in run.main.iter_mut().zip(&facts.spec.containers) {
            let seen = observed.containers.get(&spec.name).filter(|s| s.running)?;
            c.take_over(seen);
            let since = seen.started_at.unwrap_or(started);
            let ready_at = (!seen.ready).then(|| after(now, SignedDuration::from_secs(1)));
            c.phase = Phase::Running {
                since,
                ready: seen.ready,
                ready_at,
                exit: None,
            };
        }
        for (c, spec) in run.init.iter_mut().zip(&facts.spec.init) {
            let seen = observed.init.get(&spec.name);
            let done = seen
                .and_then(|s| s.terminated.clone())
                .unwrap_or_else(|| Terminated {
                    exit_code: 0,
                    reason: "Completed",
                    message: String::new(),
                    started_at: started,
                    finished_at: started,
                    id: digest(&["container", &facts.uid, &spec.name, "0"]),
                });
            if let Some(seen) = seen {
                c.take_over(seen);
            }
            c.id = Some(done.id.clone());
            c.phase = Phase::Exited(Box::new(done));
        }
        let ip = if facts.spec.host_network || observed.pod_ip.is_empty() {
            host_ip.to_string()
        } else {
            observed.pod_ip.clone()
        };
        run.sandbox = Sandbox::Ready {
            attempt,
            id: sandbox_id(&facts.uid, attempt),
            ip,
        };
        let since = |kind: &str| observed.conditions.get(kind).copied().unwrap_or(started);
        let all_ready = run.main.iter().all(ContainerRun::ready);
        run.conditions = Conditions {
            ready_to_start: Flip {
                on: true,
                since: since("PodReadyToStartContainers"),
            },
            initialized: Flip {
                on: true,
                since: since("Initialized"),
            },
            containers_ready: Flip {
                on: all_ready,
                since: since("ContainersReady"),
            },
            ready: Flip {
                on: all_ready,
                since: since("Ready"),
            },
        };
        Some(run)
    }

    /// Running and ready with nothing due: the pod can leave memory until something changes.
    fn settled(&self) -> bool {
        self.deletion.is_none()
            && self.next_due().is_none()
            && self.containers_ready()
            && matches!(self.sandbox, Sandbox::Ready { .. })
            && self.phase() == "Running"
    }

    fn agent_ran(&self) -> bool {
        let Some(agent) = self.spec.agent else {
            return false;
        };
        self.main
            .iter()
            .zip(&self.spec.containers)
            .any(|(c, s)| s.name == agent.container() && c.ever_started)
    }

    fn containers_ready(&self) -> bool {
        self.stopping.is_none() && self.main.iter().all(ContainerRun::ready)
    }

    fn initialized(&self) -> bool {
        self.init.iter().all(ContainerRun::completed)
    }

    fn sandbox_due(&self) -> Option<Timestamp> {
        match &self.sandbox {
            Sandbox::Pending { retry_at, .. } => Some(*retry_at),
            Sandbox::Setup { ready_at, .. } => Some(*ready_at),
            Sandbox::Ready { .. } => None,
        }
    }

    /// The next moment something happens to this pod by itself.
    fn next_due(&self) -> Option<Timestamp> {
        if let Some(at) = self.stopping {
            return Some(at);
        }
        if self.deletion.is_some() {
            // A visit starts the stop at once.
            return Some(Timestamp::UNIX_EPOCH);
        }
        let containers = self
            .init
            .iter()
            .chain(&self.main)
            .filter_map(ContainerRun::due);
        self.sandbox_due().into_iter().chain(containers).min()
    }

    /// Plays every transition due up to `now`, in time order, so timestamps are those of the
    /// transitions themselves however late the visit is. True when anything happened.
    fn advance(&mut self, now: Timestamp, ctx: &mut Ctx<'_>) -> bool {
        if self.start_time.is_none() {
            self.start_time = Some(now);
        }
        let mut changed = false;
        for _ in 0..MAX_STEPS_PER_VISIT {
            let sandbox = self.sandbox_due().map(|t| (t, None));
            let init = self
                .init
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.due().map(|t| (t, Some((Role::Init, i)))));
            let main = self
                .main
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.due().map(|t| (t, Some((Role::Main, i)))));
            let Some((at, which)) = sandbox
                .into_iter()
                .chain(init)
                .chain(main)
                .min_by_key(|(t, _)| *t)
            else {
                break;
            };
            if at > now {
                break;
            }
            match which {
                None => self.step_sandbox(at, ctx),
                Some((role, index)) => self.step_container(role, index, at, ctx),
            }
            self.refresh_conditions(at);
            changed = true;
        }
        changed
    }

    fn step_sandbox(&mut self, at: Timestamp, ctx: &mut Ctx<'_>) {
        match self.sandbox.clone() {
            Sandbox::Pending {
                attempts, backoff, ..
            } => {
                let retry = |backoff: Option<SignedDuration>| {
                    let next = next_backoff(backoff, SANDBOX_BACKOFF_MAX);
                    (after(at, next), Some(next))
                };
                if !self.spec.host_network && !ctx.host.cni {
                    ctx.event(
                        EventKind::Warning,
                        "NetworkNotReady",
                        format!("network is not ready: {NETWORK_NOT_READY}"),
                    );
                    let (retry_at, backoff) = retry(backoff);
                    self.sandbox = Sandbox::Pending {
                        attempts,
                        retry_at,
                        backoff,
                    };
                    return;
                }
                let id = sandbox_id(&self.ident.uid, attempts);
                let address = if self.spec.host_network {
                    Ok(ctx.facts.internal_ip.clone())
                } else {
                    (ctx.cni.add)(
                        ctx.store,
                        ctx.node,
                        &self.ident.namespace,
                        &self.ident.name,
                        &id,
                    )
                    .map(|ip| ip.to_string())
                };
                match address {
                    Ok(ip) => {
                        let delay = if ctx.facts.windows {
                            ctx.between(2_000, 4_000)
                        } else {
                            ctx.between(500, 1_500)
                        };
                        self.sandbox = Sandbox::Setup {
                            attempt: attempts,
                            id,
                            ip,
                            ready_at: after(at, delay),
                        };
                    }
                    Err(message) => {
                        ctx.event(
                            EventKind::Warning,
                            "FailedCreatePodSandBox",
                            format!("Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox \"{id}\": {message}"),
                        );
                        // containerd tears the failed sandbox's network down again.
                        (ctx.cni.del)(ctx.store, &id);
                        let (retry_at, backoff) = retry(backoff);
                        self.sandbox = Sandbox::Pending {
                            attempts: attempts + 1,
                            retry_at,
                            backoff,
                        };
                    }
                }
            }
            Sandbox::Setup {
                attempt, id, ip, ..
            } => {
                self.sandbox = Sandbox::Ready { attempt, id, ip };
                self.start_next(at, ctx);
            }
            Sandbox::Ready { .. } => {}
        }
    }

    /// Starts the next init container, or every container once initialisation is done.
    fn start_next(&mut self, at: Timestamp, ctx: &mut Ctx<'_>) {
        if let Some(i) = self.init.iter().position(|c| !c.completed()) {
            if self.init[i].phase == Phase::Idle {
                self.init[i].begin(&self.spec.init[i], at, ctx);
            }
            return;
        }
        for (c, spec) in self.main.iter_mut().zip(&self.spec.containers) {
            if c.phase == Phase::Idle {
                c.begin(spec, at, ctx);
            }
        }
    }

    fn step_container(&mut self, role: Role, index: usize, at: Timestamp, ctx: &mut Ctx<'_>) {
        let spec = Arc::clone(&self.spec);
        let (list, specs) = match role {
            Role::Init => (&mut self.init, &spec.init),
            Role::Main => (&mut self.main, &spec.containers),
        };
        let (Some(container), Some(container_spec)) = (list.get_mut(index), specs.get(index))
        else {
            return;
        };
        match container.fire(container_spec, role, at, ctx) {
            Outcome::Completed => self.start_next(at, ctx),
            Outcome::Started if role == Role::Main => {
                self.agent_started(&container_spec.name, at, ctx);
            }
            Outcome::Started | Outcome::Nothing => {}
        }
    }

    /// Calico's agent container came up: it succeeds or fails the way `sim::calico` says.
    fn agent_started(&mut self, container: &str, at: Timestamp, ctx: &mut Ctx<'_>) {
        let Some(agent) = self.spec.agent.filter(|a| a.container() == container) else {
            return;
        };
        let Err(failure) = (ctx.cni.agent_start)(ctx.store, ctx.node) else {
            return;
        };
        let named = self
            .spec
            .containers
            .iter()
            .position(|c| c.name == failure.container)
            .filter(|&i| self.main[i].running());
        let own = self
            .spec
            .containers
            .iter()
            .position(|c| c.name == agent.container());
        if let Some(i) = named.or(own) {
            self.main[i].fail_soon(failure.exit_code, failure.message, at, ctx);
        }
    }

    fn refresh_conditions(&mut self, at: Timestamp) {
        let sandbox_ready = matches!(self.sandbox, Sandbox::Ready { .. });
        let initialized = self.initialized();
        let ready = self.containers_ready();
        self.conditions.ready_to_start.set(sandbox_ready, at);
        self.conditions.initialized.set(initialized, at);
        self.conditions.containers_ready.set(ready, at);
        self.conditions.ready.set(ready, at);
    }

    /// Deletion seen: containers get their stop signal (and preStop hooks); the pod goes once
    /// the grace period is over, or at once when nothing runs.
    fn begin_stop(&mut self, deadline: Timestamp, now: Timestamp, ctx: &mut Ctx<'_>) {
        let running: Vec<&str> = self
            .init
            .iter()
            .zip(&self.spec.init)
            .chain(self.main.iter().zip(&self.spec.containers))
            .filter(|(c, _)| c.running())
            .map(|(_, s)| s.name.as_str())
            .collect();
        for name in &running {
            ctx.event(
                EventKind::Normal,
                "Killing",
                format!("Stopping container {name}"),
            );
        }
        for c in self.init.iter_mut().chain(self.main.iter_mut()) {
            if let Phase::Running {
                ready,
                exit,
                ready_at,
                ..
            } = &mut c.phase
            {
                *ready = false;
                *ready_at = None;
                *exit = None;
            }
        }
        self.stopping = Some(if running.is_empty() {
            now
        } else {
            deadline.max(now)
        });
        self.refresh_conditions(now);
    }

    /// A changed image restarts that container, as the kubelet does after `kubectl set image`.
    fn respec(&mut self, spec: Arc<PodSpec>, ctx: &mut Ctx<'_>) {
        let same_shape = spec.init.len() == self.spec.init.len()
            && spec.containers.len() == self.spec.containers.len();
        if !same_shape {
            return;
        }
        for (i, (old, new)) in self
            .spec
            .containers
            .iter()
            .zip(&spec.containers)
            .enumerate()
        {
            if old.image != new.image && self.main[i].phase != Phase::Idle {
                ctx.event(
                    EventKind::Normal,
                    "Killing",
                    format!(
                        "Container {} definition changed, will be restarted",
                        new.name
                    ),
                );
                let now = ctx.store.clock.now();
                let c = &mut self.main[i];
                if let Phase::Running { since, .. } = c.phase {
                    let id = c.id.clone().unwrap_or_default();
                    c.last = Some(Box::new(Terminated {
                        exit_code: 0,
                        reason: "Completed",
                        message: String::new(),
                        started_at: since,
                        finished_at: now,
                        id,
                    }));
                }
                c.restarts += u32::from(c.ever_started);
                c.phase = Phase::Idle;
            }
        }
        self.spec = spec;
        if matches!(self.sandbox, Sandbox::Ready { .. }) && self.initialized() {
            let now = ctx.store.clock.now();
            self.start_next(now, ctx);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Pod status as the kubelet reports it.
// ---------------------------------------------------------------------------------------

impl PodRun {
    fn phase(&self) -> &'static str {
        let failed_init = self
            .init
            .iter()
            .any(|c| matches!(&c.phase, Phase::Exited(t) if t.exit_code != 0));
        if failed_init {
            return "Failed";
        }
        if !self.initialized() {
            return "Pending";
        }
        let exits: Option<Vec<i32>> = self
            .main
            .iter()
            .map(|c| match &c.phase {
                Phase::Exited(t) => Some(t.exit_code),
                _ => None,
            })
            .collect();
        match exits {
            Some(codes) if !codes.is_empty() => {
                if codes.iter().all(|&c| c == 0) {
                    "Succeeded"
                } else {
                    "Failed"
                }
            }
            _ if self.main.iter().any(|c| c.ever_started) => "Running",
            _ => "Pending",
        }
    }

    fn status(&self, host_ip: &str) -> Value {
        let start = self.start_time.unwrap_or(Timestamp::UNIX_EPOCH);
        let unready: Vec<&str> = self
            .main
            .iter()
            .zip(&self.spec.containers)
            .filter(|(c, _)| self.stopping.is_some() || !c.ready())
            .map(|(_, s)| s.name.as_str())
            .collect();
        let incomplete: Vec<&str> = self
            .init
            .iter()
            .zip(&self.spec.init)
            .filter(|(c, _)| !c.completed())
            .map(|(_, s)| s.name.as_str())
            .collect();
        let condition = |kind: &str, flip: Flip, why: Option<(&str, String)>| {
            let (reason, message) = match why.filter(|_| !flip.on) {
                Some((reason, message)) => (json!(reason), json!(message)),
                None => (Value::Null, Value::Null),
            };
            json!({"type": kind, "status": if flip.on { "True" } else { "False" }, "lastProbeTime": null,
                   "lastTransitionTime": rfc3339(flip.since), "reason": reason, "message": message})
        };
        let not_ready = Some((
            "ContainersNotReady",
            format!("containers with unready status: [{}]", unready.join(" ")),
        ));
        let scheduled_at = rfc3339(self.scheduled_at.unwrap_or(start));
        let conditions = vec![
            condition(
                "PodReadyToStartContainers",
                self.conditions.ready_to_start,
                None,
            ),
            condition(
                "Initialized",
                self.conditions.initialized,
                Some((
                    "ContainersNotInitialized",
                    format!(
                        "containers with incomplete status: [{}]",
                        incomplete.join(" ")
                    ),
                )),
            ),
            condition("Ready", self.conditions.ready, not_ready.clone()),
            condition(
                "ContainersReady",
                self.conditions.containers_ready,
                not_ready,
            ),
            json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": scheduled_at,
                   "reason": null, "message": null}),
        ];
        let order: Vec<Value> = conditions
            .iter()
            .map(|c| json!({"type": c["type"]}))
            .collect();
        let mut status = json!({
            "phase": self.phase(),
            "conditions": conditions,
            "$setElementOrder/conditions": order,
            "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
            "startTime": rfc3339(start),
        });
        if let Sandbox::Ready { ip, .. } = &self.sandbox {
            status["podIP"] = json!(ip);
            status["podIPs"] = json!([{"ip": ip}]);
        }
        let waiting_main = if self.initialized() {
            "ContainerCreating"
        } else {
            "PodInitializing"
        };
        if !self.init.is_empty() {
            let list: Vec<Value> = self
                .init
                .iter()
                .zip(&self.spec.init)
                .map(|(c, s)| self.container_status(c, s, "PodInitializing", true))
                .collect();
            status["initContainerStatuses"] = Value::Array(list);
        }
        let list: Vec<Value> = self
            .main
            .iter()
            .zip(&self.spec.containers)
            .map(|(c, s)| self.container_status(c, s, waiting_main, false))
            .collect();
        status["containerStatuses"] = Value::Array(list);
        json!({"status": status})
    }

    fn container_status(
        &self,
        c: &ContainerRun,
        spec: &ContainerSpec,
        default_reason: &str,
        init: bool,
    ) -> Value {
        let waiting = |reason: &str, message: Option<String>| match message {
            Some(m) => json!({"waiting": {"reason": reason, "message": m}}),
            None => json!({"waiting": {"reason": reason}}),
        };
        let state = match &c.phase {
            Phase::Idle | Phase::Pulling { .. } | Phase::Creating { .. } => {
                waiting(default_reason, None)
            }
            Phase::PullFailed {
                message,
                shown: false,
                ..
            } => waiting("ErrImagePull", Some(message.clone())),
            Phase::PullFailed {
                message,
                shown: true,
                ..
            } => waiting(
                "ImagePullBackOff",
                Some(format!(
                    "Back-off pulling image \"{}\": ErrImagePull: {message}",
                    spec.image
                )),
            ),
            Phase::CreateFailed {
                reason, message, ..
            } => waiting(reason, Some(message.clone())),
            Phase::CrashLoop { backoff, .. } => waiting(
                "CrashLoopBackOff",
                Some(format!(
                    "back-off {} restarting failed container={} pod={}",
                    go_duration(*backoff),
                    spec.name,
                    self.ident.formatted()
                )),
            ),
            Phase::Running { since, .. } => json!({"running": {"startedAt": rfc3339(*since)}}),
            Phase::Exited(t) => json!({"terminated": terminated_json(t)}),
        };
        let ready = if init {
            c.completed()
        } else {
            self.stopping.is_none() && c.ready()
        };
        let mut status = json!({
            "name": spec.name,
            "state": state,
            "lastState": c.last.as_ref().map_or_else(|| json!({}), |t| json!({"terminated": terminated_json(t)})),
            "ready": ready,
            "restartCount": c.restarts,
            "image": if c.id.is_some() { normalize_image(&spec.image) } else { spec.image.clone() },
            "imageID": c.image_id.clone().unwrap_or_default(),
            "started": c.running(),
        });
        if let Some(id) = &c.id {
            status["containerID"] = json!(format!("containerd://{id}"));
        }
        status
    }
}

fn terminated_json(t: &Terminated) -> Value {
    let mut v = json!({"exitCode": t.exit_code, "reason": t.reason, "startedAt": rfc3339(t.started_at),
                       "finishedAt": rfc3339(t.finished_at), "containerID": format!("containerd://{}", t.id)});
    if !t.message.is_empty() {
        v["message"] = json!(t.message);
    }
    v
}

// ---------------------------------------------------------------------------------------
// The kubelets' loop: follow nodes and pods, visit pods when due, write what changed.
// ---------------------------------------------------------------------------------------

/// A pod with nothing left to do: running, ready, no timer. Memory keeps only what tells a
/// real change from an echo and what releasing its address needs; the rest is read back from
/// the object (`PodRun::adopt`) when something happens to it.
#[derive(Debug)]
struct Settled {
    uid: Box<str>,
    node: Box<str>,
    spec: Arc<PodSpec>,
    sandbox_attempt: u32,
}

struct Kubelet {
    store: Arc<Store>,
    cni: Cni,
    pods_rt: Arc<ResourceType>,
    nodes_rt: Arc<ResourceType>,
    recorder: Recorder,
    nodes: HashMap<String, Arc<NodeFacts>>,
    hosts: HashMap<String, NodeRun>,
    /// Pods with something under way (or parked on a missing node).
    runs: HashMap<Key, PodRun>,
    settled: HashMap<Key, Settled>,
    /// Pods of `runs` bound to each node name, whether the node exists or not.
    by_node: HashMap<String, BTreeSet<Key>>,
    timers: BTreeSet<(Timestamp, Key)>,
    /// Nodes whose conditions or taints may need writing.
    dirty_nodes: BTreeSet<String>,
    /// One shared copy of each distinct spec: the pods of a ReplicaSet or DaemonSet share it.
    specs: HashSet<Arc<PodSpec>>,
}

impl Kubelet {
    fn new(
        store: &Arc<Store>,
        pods_rt: Arc<ResourceType>,
        nodes_rt: Arc<ResourceType>,
        cni: Cni,
    ) -> Self {
        Self {
            store: Arc::clone(store),
            cni,
            pods_rt,
            nodes_rt,
            recorder: Recorder::new(store, COMPONENT),
            nodes: HashMap::new(),
            hosts: HashMap::new(),
            runs: HashMap::new(),
            settled: HashMap::new(),
            by_node: HashMap::new(),
            timers: BTreeSet::new(),
            dirty_nodes: BTreeSet::new(),
            specs: HashSet::new(),
        }
    }

    fn on_nodes(&mut self, changes: Vec<Change<NodeFacts>>) {
        let now = self.store.clock.now();
        for change in changes {
            match change {
                Change::Upsert((_, name), facts) => {
                    let appeared = !self.nodes.contains_key(&name);
                    self.hosts
                        .entry(name.clone())
                        .or_insert_with(|| NodeRun::new(&facts));
                    self.nodes.insert(name.clone(), facts);
                    self.dirty_nodes.insert(name.clone());
                    if appeared {
                        self.wake_node(&name, now);
                    }
                }
                Change::Removed((_, name)) => {
                    self.nodes.remove(&name);
                    self.hosts.remove(&name);
                }
            }
        }
    }

    /// Every pod on the node is visited at the next tick.
    fn wake_node(&mut self, node: &str, now: Timestamp) {
        let keys: Vec<Key> = self
            .by_node
            .get(node)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for key in keys {
            self.schedule(&key, Some(now));
        }
    }

    /// Pods waiting for a sandbox on the node try again now (its CNI just came up).
    fn wake_sandboxes(&mut self, node: &str, now: Timestamp) {
        let keys: Vec<Key> = self
            .by_node
            .get(node)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for key in keys {
            if let Some(run) = self.runs.get_mut(&key)
                && let Sandbox::Pending { retry_at, .. } = &mut run.sandbox
                && *retry_at > now
            {
                *retry_at = now;
                self.schedule(&key, Some(now));
            }
        }
    }

    fn schedule(&mut self, key: &Key, at: Option<Timestamp>) {
        let Some(run) = self.runs.get_mut(key) else {
            return;
        };
        if let Some(old) = run.due.take() {
            self.timers.remove(&(old, key.clone()));
        }
        if let Some(at) = at {
            run.due = Some(at);
            self.timers.insert((at, key.clone()));
        }
    }

    /// After (re)starting to follow pods: forget pods that are gone, take in the rest.
    fn resync(&mut self, items: &[Arc<StoredObject>]) {
        let present: HashSet<Key> = items
            .iter()
            .map(|o| (o.namespace.clone(), o.name.clone()))
            .collect();
        let gone: Vec<Key> = self
            .runs
            .keys()
            .chain(self.settled.keys())
            .filter(|k| !present.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            self.remove_run(&key);
        }
        for obj in items {
            self.on_pod(obj, EventType::Added);
        }
    }

    fn on_pod(&mut self, obj: &StoredObject, kind: EventType) {
        let key = (obj.namespace.clone(), obj.name.clone());
        if kind == EventType::Deleted {
            self.remove_run(&key);
            return;
        }
        // Unbound pods are the scheduler's; no need to parse them.
        let known = self.runs.contains_key(&key) || self.settled.contains_key(&key);
        if obj.field("spec.nodeName").is_none_or(|n| n.is_empty()) && !known {
            return;
        }
        let Some(facts) = parse_pod(obj) else { return };
        if let Some(settled) = self.settled.get(&key) {
            let same_pod = *settled.uid == facts.uid && *settled.node == facts.node;
            if same_pod && *settled.spec == *facts.spec && facts.deletion.is_none() {
                return;
            }
            if same_pod {
                self.unsettle(&key, &facts);
            }
        }
        if let Some(run) = self.runs.get(&key) {
            if run.ident.uid == facts.uid && run.node == facts.node {
                self.update_run(&key, &facts);
                return;
            }
            self.remove_run(&key);
        }
        if facts.node.is_empty() || matches!(facts.observed.phase.as_str(), "Succeeded" | "Failed")
        {
            return;
        }
        self.add_run(key, &facts);
    }

    fn intern(&mut self, spec: &Arc<PodSpec>) -> Arc<PodSpec> {
        if let Some(shared) = self.specs.get(spec) {
            return Arc::clone(shared);
        }
        self.specs.insert(Arc::clone(spec));
        Arc::clone(spec)
    }

    /// Drops a spec from the shared set once only the set holds it.
    fn release_spec(&mut self, spec: &Arc<PodSpec>) {
        if Arc::strong_count(spec) == 2 {
            self.specs.remove(spec);
        }
    }

    fn add_run(&mut self, key: Key, facts: &PodFacts) {
        let now = self.store.clock.now();
        let host_ip = self
            .nodes
            .get(&facts.node)
            .map(|n| n.internal_ip.clone())
            .unwrap_or_default();
        let adopted = PodRun::adopt(&key, facts, &host_ip, 0, now);
        let mut run = adopted.unwrap_or_else(|| PodRun::new(&key, facts, now));
        run.spec = self.intern(&facts.spec);
        if let Some(host) = self.hosts.get_mut(&facts.node)
            && matches!(run.sandbox, Sandbox::Ready { .. })
        {
            host.images.extend(
                facts
                    .spec
                    .containers
                    .iter()
                    .chain(&facts.spec.init)
                    .map(|c| c.image.clone()),
            );
            if facts.spec.agent.is_some() {
                host.agents.insert(key.clone(), run.containers_ready());
            }
        }
        if run.settled() {
            self.settle(key, run);
            return;
        }
        self.by_node
            .entry(facts.node.clone())
            .or_default()
            .insert(key.clone());
        self.runs.insert(key.clone(), run);
        self.schedule(&key, Some(now));
    }

    /// Lets a pod with nothing to do leave memory.
    fn settle(&mut self, key: Key, run: PodRun) {
        let sandbox_attempt = match run.sandbox {
            Sandbox::Setup { attempt, .. } | Sandbox::Ready { attempt, .. } => attempt,
            Sandbox::Pending { .. } => 0,
        };
        let settled = Settled {
            uid: run.ident.uid.into(),
            node: run.node.into(),
            spec: run.spec,
            sandbox_attempt,
        };
        self.settled.insert(key, settled);
    }

    /// Something happened to a settled pod: bring it back from its object.
    fn unsettle(&mut self, key: &Key, facts: &PodFacts) {
        let Some(settled) = self.settled.remove(key) else {
            return;
        };
        let now = self.store.clock.now();
        let host_ip = self
            .nodes
            .get(&facts.node)
            .map(|n| n.internal_ip.clone())
            .unwrap_or_default();
        let mut run = PodRun::adopt(key, facts, &host_ip, settled.sandbox_attempt, now)
            .unwrap_or_else(|| PodRun::new(key, facts, now));
        // The spec it has been running; `update_run` compares it with the new one.
        run.spec = settled.spec;
        self.by_node
            .entry(run.node.clone())
            .or_default()
            .insert(key.clone());
        self.runs.insert(key.clone(), run);
        self.schedule(key, Some(now));
    }

    /// A new version of a pod we run: only deletion and image changes matter (our own status
    /// writes come back here too and change nothing).
    fn update_run(&mut self, key: &Key, facts: &PodFacts) {
        let now = self.store.clock.now();
        let respec = self
            .runs
            .get(key)
            .is_some_and(|run| *run.spec != *facts.spec);
        let new_spec = respec.then(|| self.intern(&facts.spec));
        let Some(run) = self.runs.get_mut(key) else {
            return;
        };
        if facts.observed.scheduled_at.is_some() {
            run.scheduled_at = facts.observed.scheduled_at;
        }
        let mut visit = false;
        if run.deletion != facts.deletion {
            run.deletion = facts.deletion;
            visit = true;
        }
        if let Some(spec) = new_spec {
            let old = Arc::clone(&run.spec);
            let node = run.node.clone();
            if let (Some(node_facts), Some(host)) =
                (self.nodes.get(&node), self.hosts.get_mut(&node))
            {
                let faults = self.store.faults.for_node(&node);
                let ident = run.ident.clone();
                let mut ctx = Ctx {
                    store: &self.store,
                    cni: self.cni,
                    node: &node,
                    facts: node_facts,
                    host,
                    faults: &faults,
                    pod: &ident,
                    restart: run.spec.restart,
                    events: Vec::new(),
                };
                run.respec(spec, &mut ctx);
                let events = std::mem::take(&mut ctx.events);
                self.record(&ident, &node, events);
            } else {
                run.spec = spec;
            }
            self.release_spec(&old);
            visit = true;
        }
        if visit {
            self.schedule(key, Some(now));
        }
    }

    /// The pod object is gone: release its sandbox's address and forget it.
    fn remove_run(&mut self, key: &Key) {
        if let Some(settled) = self.settled.remove(key) {
            if !settled.spec.host_network {
                (self.cni.del)(
                    &self.store,
                    &sandbox_id(&settled.uid, settled.sandbox_attempt),
                );
            }
            if settled.spec.agent.is_some()
                && let Some(host) = self.hosts.get_mut(&*settled.node)
            {
                host.agents.remove(key);
                host.calico_down = Some(true);
                self.dirty_nodes.insert(settled.node.to_string());
            }
            self.release_spec(&settled.spec);
            return;
        }
        let Some(run) = self.runs.remove(key) else {
            return;
        };
        if let Some(at) = run.due {
            self.timers.remove(&(at, key.clone()));
        }
        if let Some(keys) = self.by_node.get_mut(&run.node) {
            keys.remove(key);
        }
        self.release(&run);
        let spec = Arc::clone(&run.spec);
        if run.spec.agent.is_some()
            && let Some(host) = self.hosts.get_mut(&run.node)
        {
            host.agents.remove(key);
            // An agent that ever ran marks Calico down on its way out (its preStop hook).
            if run.agent_ran() {
                host.calico_down = Some(true);
                self.dirty_nodes.insert(run.node.clone());
            }
        }
        drop(run);
        self.release_spec(&spec);
    }

    fn release(&self, run: &PodRun) {
        if run.spec.host_network || run.released {
            return;
        }
        if let Sandbox::Setup { id, .. } | Sandbox::Ready { id, .. } = &run.sandbox {
            (self.cni.del)(&self.store, id);
        }
    }

    fn tick(&mut self) {
        let now = self.store.clock.now();
        while let Some((at, key)) = self.timers.first().cloned() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, key.clone()));
            if let Some(run) = self.runs.get_mut(&key) {
                run.due = None;
            }
            self.visit(&key, now);
        }
        for node in std::mem::take(&mut self.dirty_nodes) {
            self.reconcile_node(&node, now);
        }
    }

    /// Plays a pod forward to `now` and writes what changed.
    fn visit(&mut self, key: &Key, now: Timestamp) {
        let Some(run) = self.runs.get_mut(key) else {
            return;
        };
        let node = run.node.clone();
        let (Some(facts), Some(host)) = (self.nodes.get(&node).cloned(), self.hosts.get_mut(&node))
        else {
            // No such node: nobody runs the pod. A terminating one is still removed when its
            // grace period ends, as the pod garbage collector would.
            if let Some(deadline) = run.deletion {
                if deadline <= now {
                    self.finish(key);
                } else {
                    self.schedule(key, Some(deadline));
                }
            }
            return;
        };
        let faults = self.store.faults.for_node(&node);
        let ident = run.ident.clone();
        let was_ready = run.containers_ready();
        let mut ctx = Ctx {
            store: &self.store,
            cni: self.cni,
            node: &node,
            facts: &facts,
            host,
            faults: &faults,
            pod: &ident,
            restart: run.spec.restart,
            events: Vec::new(),
        };
        // Once stopping, nothing new starts: the pod only waits for its grace period to end.
        match (run.deletion, run.stopping) {
            (_, Some(_)) => {}
            (Some(deadline), None) => run.begin_stop(deadline, now, &mut ctx),
            (None, None) => {
                run.advance(now, &mut ctx);
            }
        }
        let events = std::mem::take(&mut ctx.events);
        // A pod that finished has its sandbox torn down, and with it its address.
        if matches!(run.phase(), "Succeeded" | "Failed") && !run.released && !run.spec.host_network
        {
            if let Sandbox::Setup { id, .. } | Sandbox::Ready { id, .. } = &run.sandbox {
                (self.cni.del)(&self.store, id);
            }
            run.released = true;
        }
        let stopping = run.stopping;
        let ready = run.containers_ready();
        let is_agent = run.spec.agent.is_some();
        let status = run.status(&facts.internal_ip);
        let hash = hash_of(&status);
        let write = hash != run.written;
        run.written = hash;
        let next = run.next_due().map(|t| t.max(now));
        self.record(&ident, &node, events);
        if write {
            self.write_status(&ident, &status);
        }
        if is_agent {
            self.agent_changed(key, &node, ready, stopping.is_some(), was_ready, now);
        }
        if stopping.is_some_and(|at| at <= now) {
            self.finish(key);
            return;
        }
        self.schedule(key, next);
        if next.is_none()
            && let Some(run) = self.runs.remove(key)
        {
            if run.settled() {
                if let Some(keys) = self.by_node.get_mut(&run.node) {
                    keys.remove(key);
                }
                self.settle(key.clone(), run);
            } else {
                self.runs.insert(key.clone(), run);
            }
        }
    }

    /// The grace period is over: release the sandbox and remove the pod for good.
    fn finish(&mut self, key: &Key) {
        let Some(run) = self.runs.get_mut(key) else {
            return;
        };
        let uid = run.ident.uid.clone();
        if !run.released && !run.spec.host_network {
            if let Sandbox::Setup { id, .. } | Sandbox::Ready { id, .. } = &run.sandbox {
                (self.cni.del)(&self.store, id);
            }
            run.released = true;
        }
        let opts = DeleteOptions {
            grace_period_seconds: Some(0),
            precondition_uid: Some(uid),
            ..DeleteOptions::default()
        };
        if let Err(err) = self.store.delete(&self.pods_rt, &key.0, &key.1, &opts) {
            // Gone already, or replaced by a new pod of the same name: nothing left to finish.
            tracing::debug!(pod = %key.1, %err, "finishing termination");
        }
        self.remove_run(key);
    }

    fn write_status(&self, pod: &PodIdent, status: &Value) {
        let current = self.store.try_get(&self.pods_rt, &pod.namespace, &pod.name);
        if current.is_none_or(|c| c.uid != pod.uid) {
            return;
        }
        let opts = WriteOptions::manager(COMPONENT);
        if let Err(err) = self.store.patch(
            &self.pods_rt,
            &pod.namespace,
            &pod.name,
            PatchType::Strategic,
            status,
            Part::Status,
            &opts,
        ) {
            tracing::debug!(pod = %pod.name, %err, "writing pod status");
        }
    }

    fn record(&self, pod: &PodIdent, node: &str, events: Vec<(EventKind, &'static str, String)>) {
        if events.is_empty() {
            return;
        }
        let recorder = self.recorder.on_host(node);
        let object = ObjectRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            uid: pod.uid.clone(),
        };
        for (kind, reason, message) in events {
            recorder.record(&object, kind, reason, &message);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Nodes: Ready and the not-ready taint follow the CNI; NetworkUnavailable follows Calico.
// ---------------------------------------------------------------------------------------

impl Kubelet {
    /// An agent pod was visited: its readiness drives the node's network.
    fn agent_changed(
        &mut self,
        key: &Key,
        node: &str,
        ready: bool,
        stopping: bool,
        was_ready: bool,
        now: Timestamp,
    ) {
        let Some(host) = self.hosts.get_mut(node) else {
            return;
        };
        host.agents.insert(key.clone(), ready);
        if stopping && host.calico_down != Some(true) {
            host.calico_down = Some(true);
            self.dirty_nodes.insert(node.to_string());
        }
        if ready && !was_ready {
            host.calico_down = Some(false);
            let installed = !host.cni;
            host.cni = true;
            self.dirty_nodes.insert(node.to_string());
            if installed {
                self.wake_sandboxes(node, now);
            }
        }
    }

    fn reconcile_node(&mut self, name: &str, now: Timestamp) {
        let (Some(facts), Some(host)) = (self.nodes.get(name).cloned(), self.hosts.get(name))
        else {
            return;
        };
        let (cni, calico_down) = (host.cni, host.calico_down);
        let t = rfc3339(now);
        if (facts.ready == "True") != cni {
            let ready = if cni {
                json!({"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                       "lastHeartbeatTime": t, "lastTransitionTime": t})
            } else {
                json!({"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": NETWORK_NOT_READY,
                       "lastHeartbeatTime": t, "lastTransitionTime": t})
            };
            self.patch_node_status(name, &ready, COMPONENT);
            if cni {
                let object = ObjectRef {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    namespace: String::new(),
                    name: name.to_string(),
                    uid: facts.uid.clone(),
                };
                let message = format!("Node {name} status is now: NodeReady");
                self.recorder.on_host(name).record(
                    &object,
                    EventKind::Normal,
                    "NodeReady",
                    &message,
                );
            }
        }
        if facts.not_ready_taint == cni {
            self.set_not_ready_taint(name, !cni);
        }
        if let Some(down) = calico_down {
            let want = if down {
                (
                    "True",
                    "CalicoIsDown",
                    "Calico is shutting down on this node",
                )
            } else {
                ("False", "CalicoIsUp", "Calico is running on this node")
            };
            if facts.network_unavailable != (want.0.to_string(), want.1.to_string()) {
                let condition = json!({"type": "NetworkUnavailable", "status": want.0, "reason": want.1, "message": want.2,
                                       "lastHeartbeatTime": t, "lastTransitionTime": t});
                self.patch_node_status(name, &condition, "calico-node");
            }
        }
    }

    fn patch_node_status(&self, name: &str, condition: &Value, manager: &str) {
        let patch = json!({"status": {"conditions": [condition]}});
        let opts = WriteOptions::manager(manager);
        if let Err(err) = self.store.patch(
            &self.nodes_rt,
            "",
            name,
            PatchType::Strategic,
            &patch,
            Part::Status,
            &opts,
        ) {
            tracing::debug!(node = name, %err, "writing node condition");
        }
    }

    /// The node lifecycle controller's part: `node.kubernetes.io/not-ready:NoSchedule` while
    /// the node is not Ready. Taints are an atomic list, so this is a guarded read-modify-write.
    fn set_not_ready_taint(&self, name: &str, present: bool) {
        let opts = WriteOptions::manager("kube-controller-manager");
        for _ in 0..8 {
            let Some(stored) = self.store.try_get(&self.nodes_rt, "", name) else {
                return;
            };
            let Ok(mut node) = stored.value() else { return };
            let mut taints: Vec<Value> = node
                .pointer("/spec/taints")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let is_ours = |t: &Value| t["key"] == NOT_READY_TAINT && t["effect"] == "NoSchedule";
            if taints.iter().any(is_ours) == present {
                return;
            }
            if present {
                taints.push(json!({"key": NOT_READY_TAINT, "effect": "NoSchedule"}));
            } else {
                taints.retain(|t| !is_ours(t));
            }
            if taints.is_empty() {
                if let Some(spec) = node.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("taints");
                }
            } else {
                node["spec"]["taints"] = Value::Array(taints);
            }
            match self
                .store
                .update(&self.nodes_rt, "", name, &node, Part::Main, &opts)
            {
                Err(err) if err.code == 409 => {}
                Err(err) => {
                    tracing::debug!(node = name, %err, "updating the not-ready taint");
                    return;
                }
                Ok(_) => return,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Identifiers, sizes and formats a container runtime would produce.
// ---------------------------------------------------------------------------------------

/// 64 hex digits derived from the parts: container, sandbox and image ids.
fn digest(parts: &[&str]) -> String {
    let mut out = String::with_capacity(64);
    for round in 0u64..4 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for byte in parts
            .iter()
            .flat_map(|p| p.bytes().chain(std::iter::once(0)))
        {
            h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        // splitmix64's finaliser spreads FNV's weak low bits over the whole word.
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
        let _ = write!(out, "{h:016x}");
    }
    out
}

fn hash_of(value: &Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    hasher.finish()
}

/// The fully qualified reference containerd reports for an image.
fn normalize_image(image: &str) -> String {
    let first = image.split('/').next().unwrap_or_default();
    let has_registry =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut full = if !image.contains('/') {
        format!("docker.io/library/{image}")
    } else if has_registry {
        image.to_string()
    } else {
        format!("docker.io/{image}")
    };
    let last = full.rsplit('/').next().unwrap_or_default();
    if !last.contains(':') && !last.contains('@') {
        full.push_str(":latest");
    }
    full
}

/// `repository@sha256:<digest>`, as `imageID` shows it.
fn image_id(image: &str) -> String {
    let full = normalize_image(image);
    let repository = match full.rsplit_once('/') {
        Some((path, last)) => format!("{path}/{}", last.split([':', '@']).next().unwrap_or(last)),
        None => full.clone(),
    };
    format!("{repository}@sha256:{}", digest(&["image", &full]))
}

/// A stable, plausible size: tens to hundreds of MB on Linux, up to gigabytes on Windows.
fn image_size(image: &str, windows: bool) -> u64 {
    let h = u64::from_str_radix(&digest(&["size", image])[..12], 16).unwrap_or(0);
    if windows {
        300_000_000 + h % 2_700_000_000
    } else {
        20_000_000 + h % 380_000_000
    }
}

/// Go's `time.Duration` text at millisecond precision, as kubelet messages print it.
fn go_duration(d: SignedDuration) -> String {
    let ms = d.as_millis().max(0);
    if ms < 1_000 {
        return if ms == 0 {
            "0s".to_string()
        } else {
            format!("{ms}ms")
        };
    }
    let (secs, frac) = (ms / 1_000, ms % 1_000);
    let (h, m, s) = (secs / 3_600, (secs % 3_600) / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if h > 0 || m > 0 {
        let _ = write!(out, "{m}m");
    }
    let _ = write!(out, "{s}");
    if frac > 0 {
        let digits = format!("{frac:03}");
        let _ = write!(out, ".{}", digits.trim_end_matches('0'));
    }
    out.push('s');
    out
}

/// A stand-in for Calico steered by node annotations, so tests stay independent of IPAM:
/// `test.pooltop/cni-add-error` fails CNI ADD with its value; `test.pooltop/agent-error`
/// (`container|exit code|message`) fails the agent's start.
#[cfg(test)]
pub(crate) mod fake {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::Cni;
    use crate::sim::calico::AgentFailure;
    use crate::sim::store::Store;

    pub const CNI: Cni = Cni {
        add,
        del,
        agent_start,
    };

    /// Sandbox ids given to CNI DEL, across tests (ids are unique per pod uid).
    pub static RELEASED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    static NEXT: AtomicU32 = AtomicU32::new(2);

    fn annotation(store: &Store, node: &str, key: &str) -> Option<String> {
        let rt = store.registry().get("", "v1", "nodes")?;
        let value = store.try_get(&rt, "", node)?.value().ok()?;
        value
            .pointer("/metadata/annotations")?
            .get(key)?
            .as_str()
            .map(str::to_string)
    }

    fn add(store: &Store, node: &str, _: &str, _: &str, _: &str) -> Result<IpAddr, String> {
        if let Some(message) = annotation(store, node, "test.pooltop/cni-add-error") {
            return Err(message);
        }
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let octet = |v: u32| u8::try_from(v % 250).unwrap_or(1);
        Ok(IpAddr::V4(Ipv4Addr::new(10, 244, octet(n / 250), octet(n))))
    }

    fn del(_: &Store, container_id: &str) {
        let mut released = RELEASED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        released.push(container_id.to_string());
    }

    fn agent_start(store: &Store, node: &str) -> Result<(), AgentFailure> {
        let Some(spec) = annotation(store, node, "test.pooltop/agent-error") else {
            return Ok(());
        };
        let mut parts = spec.splitn(3, '|');
        let container = parts.next().unwrap_or_default().to_string();
        let exit_code = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1);
        let message = parts.next().unwrap_or_default().to_string();
        Err(AgentFailure {
            container,
            message,
            exit_code,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::sim::clock::ManualClock;
    use crate::sim::store::StoreConfig;

    const START: &str = "2026-11-29T10:00:00Z";
    const LINUX_RUNTIME: &str = "containerd://1.7.22-1";
    const WINDOWS_RUNTIME: &str = "containerd://1.7.20+azure";

    struct Cluster {
        store: Arc<Store>,
        clock: Arc<ManualClock>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Cluster {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl Cluster {
        fn new() -> Self {
            Self::with(fake::CNI, |_| {})
        }

        /// A cluster whose kubelet uses Calico's real CNI and agent over a VXLAN pool.
        fn with_calico_ipam() -> Self {
            Self::with(CALICO, |store| {
                let crds = store
                    .registry()
                    .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
                    .unwrap();
                for crd in crate::sim::crds::calico_v1_crds() {
                    store
                        .create(&crds, None, crd, &WriteOptions::manager("test"))
                        .unwrap();
                }
                crate::sim::calico_ipam::tests::add_pool(
                    store,
                    "default-ipv4-ippool",
                    "192.168.0.0/16",
                    26,
                    "all()",
                );
                calico::set_strict_affinity(store, true).unwrap();
            })
        }

        fn with(cni: Cni, prepare: impl FnOnce(&Store)) -> Self {
            // Each cluster draws its own uids, so sandbox ids never repeat across the tests
            // that share `fake::RELEASED`.
            static SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
            let seed = SEED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let clock = Arc::new(ManualClock::new(START.parse().unwrap()));
            let store = Arc::new(Store::new(
                Arc::clone(&clock) as Arc<dyn crate::sim::clock::Clock>,
                StoreConfig {
                    seed,
                    ..StoreConfig::default()
                },
            ));
            let ns = store.registry().get("", "v1", "namespaces").unwrap();
            for name in ["default", CALICO_NAMESPACE] {
                store
                    .seed(
                        &ns,
                        json!({"metadata": {"name": name}, "status": {"phase": "Active"}}),
                    )
                    .unwrap();
            }
            prepare(&store);
            let task = tokio::spawn(run_with(Arc::clone(&store), cni));
            Self { store, clock, task }
        }

        fn rt(&self, plural: &str) -> Arc<ResourceType> {
            self.store.registry().get("", "v1", plural).unwrap()
        }

        fn node(&self, name: &str, os: &str, ready: bool, runtime: &str, ip: &str) {
            let t = "2026-11-29T08:00:00Z";
            let condition = if ready {
                json!({"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": t, "lastTransitionTime": t})
            } else {
                json!({"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": NETWORK_NOT_READY, "lastHeartbeatTime": t, "lastTransitionTime": t})
            };
            let spec = if ready {
                json!({})
            } else {
                json!({"taints": [{"key": NOT_READY_TAINT, "effect": "NoSchedule"}]})
            };
            let node = json!({
                "metadata": {"name": name, "labels": {"kubernetes.io/os": os}},
                "spec": spec,
                "status": {"allocatable": {"pods": "110"}, "conditions": [condition],
                           "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                           "nodeInfo": {"containerRuntimeVersion": runtime, "operatingSystem": os}},
            });
            self.store.seed(&self.rt("nodes"), node).unwrap();
        }

        fn annotate_node(&self, name: &str, key: &str, value: Option<&str>) {
            let patch = json!({"metadata": {"annotations": {key: value}}});
            self.store
                .patch(
                    &self.rt("nodes"),
                    "",
                    name,
                    PatchType::Merge,
                    &patch,
                    Part::Main,
                    &WriteOptions::default(),
                )
                .unwrap();
        }

        /// Creates a pod already bound to `node`; returns its uid.
        fn pod(
            &self,
            namespace: &str,
            name: &str,
            node: &str,
            labels: Value,
            mut spec: Value,
        ) -> String {
            spec["nodeName"] = json!(node);
            let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}});
            pod["metadata"]["labels"] = labels;
            pod["spec"] = spec;
            self.store
                .create(&self.rt("pods"), None, pod, &WriteOptions::default())
                .unwrap()
                .object
                .uid
                .clone()
        }

        fn get(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
            self.store
                .try_get(&self.rt(plural), namespace, name)
                .map(|o| o.value().unwrap())
        }

        fn pod_status(&self, namespace: &str, name: &str) -> Value {
            self.get("pods", namespace, name)
                .map_or(Value::Null, |p| p["status"].clone())
        }

        /// (reason, message, count) of the events about one object, oldest first.
        fn events(&self, namespace: &str, name: &str) -> Vec<(String, String, u64)> {
            let list = self
                .store
                .list(&self.rt("events"), Some(namespace), &ListOptions::default())
                .unwrap();
            list.items
                .iter()
                .map(|o| o.value().unwrap())
                .filter(|e| e["involvedObject"]["name"] == name)
                .map(|e| {
                    (
                        text(&e, "reason"),
                        text(&e, "message"),
                        e["count"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        }

        fn has_event(&self, namespace: &str, name: &str, reason: &str, message: &str) -> bool {
            self.events(namespace, name)
                .iter()
                .any(|(r, m, _)| r == reason && m == message)
        }

        fn event_count(&self, namespace: &str, name: &str, reason: &str) -> u64 {
            self.events(namespace, name)
                .iter()
                .filter(|(r, _, _)| r == reason)
                .map(|(_, _, c)| c)
                .sum()
        }

        /// Lets the kubelet see what the test just did at the current time, then moves
        /// simulated time and lets it catch up.
        async fn advance(&self, seconds: i64) {
            self.settle().await;
            self.clock.advance(SignedDuration::from_secs(seconds));
            self.settle().await;
        }

        /// Waits until the store has seen no write for three kubelet ticks (a busy machine
        /// only makes this slower, not wrong).
        async fn settle(&self) {
            let mut last = self.store.current_rv();
            let mut quiet = 0;
            for _ in 0..100 {
                tokio::time::sleep(TICK).await;
                let rv = self.store.current_rv();
                quiet = if rv == last { quiet + 1 } else { 0 };
                last = rv;
                if quiet >= 3 {
                    return;
                }
            }
        }

        fn now(&self) -> Timestamp {
            self.store.clock.now()
        }

        async fn eventually(&self, what: &str, check: impl Fn() -> bool) {
            for _ in 0..150 {
                if check() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("timed out waiting for {what}");
        }
    }

    fn condition(status: &Value, kind: &str) -> Value {
        status["conditions"]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["type"] == kind))
            .cloned()
            .unwrap_or(Value::Null)
    }

    fn node_condition(node: &Value, kind: &str) -> Value {
        condition(&node["status"], kind)
    }

    fn web(image: &str) -> Value {
        json!({"containers": [{"name": "web", "image": image}]})
    }

    /// Seconds in a Go duration such as `1m2.5s` or `800ms`.
    fn go_seconds(text: &str) -> f64 {
        if let Some(ms) = text.strip_suffix("ms") {
            return ms.parse::<f64>().unwrap() / 1000.0;
        }
        let mut total = 0.0;
        let mut number = String::new();
        for ch in text.chars() {
            match ch {
                'h' => total += number.parse::<f64>().unwrap() * 3600.0,
                'm' => total += number.parse::<f64>().unwrap() * 60.0,
                's' => total += number.parse::<f64>().unwrap(),
                _ => {
                    number.push(ch);
                    continue;
                }
            }
            number.clear();
        }
        total
    }

    /// The pull time and the time including waiting from a `Pulled` message.
    fn pull_times(message: &str) -> (f64, f64) {
        let rest = message.split(" in ").nth(1).unwrap();
        let (took, rest) = rest.split_once(" (").unwrap();
        let waited = rest.split_once(" including").unwrap().0;
        (go_seconds(took), go_seconds(waited))
    }

    fn is_hex64(s: &str) -> bool {
        s.len() == 64
            && s.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    }

    #[tokio::test]
    async fn a_pod_goes_from_pending_to_running_and_ready() {
        let c = Cluster::new();
        c.node("lin-1", "linux", true, LINUX_RUNTIME, "10.224.0.4");
        c.pod(
            "default",
            "web-1",
            "lin-1",
            json!({"app": "web"}),
            web("nginx:1.27"),
        );
        c.eventually("first status", || {
            c.pod_status("default", "web-1").get("startTime").is_some()
        })
        .await;
        let status = c.pod_status("default", "web-1");
        assert_eq!(status["phase"], "Pending");
        assert_eq!(status["startTime"], START);
        assert_eq!(status["hostIP"], "10.224.0.4");
        assert_eq!(
            status["containerStatuses"][0]["state"],
            json!({"waiting": {"reason": "ContainerCreating"}})
        );
        assert_eq!(status["containerStatuses"][0]["ready"], false);
        assert_eq!(
            condition(&status, "PodReadyToStartContainers")["status"],
            "False"
        );
        assert_eq!(
            condition(&status, "Initialized")["status"],
            "True",
            "no init containers"
        );
        assert_eq!(condition(&status, "Ready")["reason"], "ContainersNotReady");
        assert_eq!(
            condition(&status, "Ready")["message"],
            "containers with unready status: [web]"
        );
        // Sandbox (≤1.5 s), pull (2-4 s), create (≤0.6 s) and the first readiness report (1 s).
        c.advance(10).await;
        let status = c.pod_status("default", "web-1");
        assert_eq!(status["phase"], "Running");
        for kind in [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        ] {
            let cond = condition(&status, kind);
            assert_eq!(cond["status"], "True", "{kind}: {cond}");
            assert!(
                cond["lastTransitionTime"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("2026-11-29T10:00:")),
                "{cond}"
            );
            assert!(
                cond.get("reason").is_none() && cond.get("message").is_none(),
                "{cond}"
            );
        }
        let types: Vec<&str> = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled"
            ]
        );
        let container = &status["containerStatuses"][0];
        assert_eq!(container["ready"], true);
        assert_eq!(container["started"], true);
        assert_eq!(container["restartCount"], 0);
        assert_eq!(container["image"], "docker.io/library/nginx:1.27");
        assert!(
            container["imageID"]
                .as_str()
                .unwrap()
                .starts_with("docker.io/library/nginx@sha256:")
        );
        let id = container["containerID"].as_str().unwrap();
        assert!(
            id.strip_prefix("containerd://").is_some_and(is_hex64),
            "{id}"
        );
        assert!(container["state"]["running"]["startedAt"].is_string());
        assert!(
            status["podIP"].as_str().unwrap().starts_with("10.244."),
            "{status}"
        );
        assert_eq!(status["podIPs"][0]["ip"], status["podIP"]);
    }

    #[tokio::test]
    async fn a_started_pod_leaves_the_kubelet_events() {
        let c = Cluster::new();
        c.node("lin-1", "linux", true, LINUX_RUNTIME, "10.224.0.4");
        c.pod("default", "web-1", "lin-1", json!({}), web("nginx:1.27"));
        c.advance(10).await;
        let events = c.events("default", "web-1");
        let reasons: Vec<&str> = events.iter().map(|(r, _, _)| r.as_str()).collect();
        assert_eq!(reasons, ["Pulling", "Pulled", "Created", "Started"]);
        assert_eq!(events[0].1, "Pulling image \"nginx:1.27\"");
        let pulled = &events[1].1;
        assert!(
            pulled.starts_with("Successfully pulled image \"nginx:1.27\" in ")
                && pulled.ends_with(" bytes."),
            "{pulled}"
        );
        let (took, waited) = pull_times(pulled);
        assert!(
            (2.0..=4.0).contains(&took) && (waited - took).abs() < 0.01,
            "{pulled}"
        );
        assert_eq!(events[2].1, "Created container: web");
        assert_eq!(events[3].1, "Started container web");
    }

    #[tokio::test]
    async fn a_pulled_image_is_reused_and_settled_pods_are_not_written() {
        let c = Cluster::new();
        c.node("lin-1", "linux", true, LINUX_RUNTIME, "10.224.0.4");
        c.pod("default", "web-1", "lin-1", json!({}), web("nginx:1.27"));
        c.advance(10).await;
        assert_eq!(c.event_count("default", "web-1", "Pulling"), 1);
        // The image is on the node now: a second pod does not pull it again.
        c.pod("default", "web-2", "lin-1", json!({}), web("nginx:1.27"));
        c.advance(5).await;
        assert_eq!(c.pod_status("default", "web-2")["phase"], "Running");
        assert!(c.has_event(
            "default",
            "web-2",
            "Pulled",
            "Container image \"nginx:1.27\" already present on machine"
        ));
        assert_eq!(c.event_count("default", "web-2", "Pulling"), 0);
        // Nothing left to do: further ticks write nothing.
        let rv = c.get("pods", "default", "web-1").unwrap()["metadata"]["resourceVersion"].clone();
        c.advance(60).await;
        assert_eq!(
            c.get("pods", "default", "web-1").unwrap()["metadata"]["resourceVersion"],
            rv
        );
    }

    #[tokio::test]
    async fn windows_image_pulls_take_minutes_and_queue_behind_each_other() {
        let c = Cluster::new();
        c.node("lin-1", "linux", true, LINUX_RUNTIME, "10.224.0.4");
        c.node("win-1", "windows", true, WINDOWS_RUNTIME, "10.224.0.5");
        let iis = "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022";
        let aspnet = "mcr.microsoft.com/dotnet/framework/aspnet:4.8";
        c.pod("default", "lin", "lin-1", json!({}), web("nginx:1.27"));
        c.pod("default", "win", "win-1", json!({}), json!({"containers": [{"name": "iis", "image": iis}, {"name": "app", "image": aspnet}]}));
        c.advance(10).await;
        assert_eq!(c.pod_status("default", "lin")["phase"], "Running");
        assert_eq!(c.pod_status("default", "win")["phase"], "Pending");
        assert_eq!(
            c.pod_status("default", "win")["containerStatuses"][0]["state"]["waiting"]["reason"],
            "ContainerCreating"
        );
        c.advance(300).await;
        let status = c.pod_status("default", "win");
        assert_eq!(status["phase"], "Running", "{status}");
        let pulled: Vec<String> = c
            .events("default", "win")
            .into_iter()
            .filter(|(r, _, _)| r == "Pulled")
            .map(|(_, m, _)| m)
            .collect();
        assert_eq!(pulled.len(), 2);
        let (iis_took, iis_waited) = pull_times(&pulled[0]);
        let (app_took, app_waited) = pull_times(&pulled[1]);
        assert!(
            (60.0..=120.0).contains(&iis_took) && (60.0..=120.0).contains(&app_took),
            "{pulled:?}"
        );
        // Pulls are serial: the second waited for the first.
        assert!(app_waited >= app_took + iis_took - 0.01, "{pulled:?}");
        assert!((iis_waited - iis_took).abs() < 0.01);
        let (lin_took, _) = pull_times(
            &c.events("default", "lin")
                .into_iter()
                .find(|(r, _, _)| r == "Pulled")
                .unwrap()
                .1,
        );
        assert!(
            lin_took * 10.0 < iis_took,
            "Linux {lin_took}s, Windows {iis_took}s"
        );
    }

    #[tokio::test]
    async fn a_failing_pull_backs_off_doubling_until_the_registry_answers() {
        let c = Cluster::new();
        c.node("lin-1", "linux", true, LINUX_RUNTIME, "10.224.0.4");
        let message = "rpc error: code = NotFound desc = failed to pull and unpack image \"registry.invalid/app:1\": not found";
        c.store.faults.inject(
            "lin-1",
            Fault::ImagePull {
                image_prefix: "registry.invalid/".into(),
                message: message.into(),
            },
        );
        c.pod(
            "default",
            "app",
            "lin-1",
            json!({}),
            web("registry.invalid/app:1"),
        );
        // Step a second at a time until the pull has failed (sandbox ≤1.5 s, failure ≤2 s later).
        let waiting =
            || c.pod_status("default", "app")["containerStatuses"][0]["state"]["waiting"].clone();
        let mut seconds = 0;
        while waiting()["reason"] != "ErrImagePull" {
            assert!(seconds < 5, "{}", waiting());
            c.advance(1).await;
            seconds += 1;
        }
        assert_eq!(
            waiting(),
            json!({"reason": "ErrImagePull", "message": message})
        );
        assert!(c.has_event(
            "default",
            "app",
            "Failed",
            &format!("Failed to pull image \"registry.invalid/app:1\": {message}")
        ));
        assert!(c.has_event("default", "app", "Failed", "Error: ErrImagePull"));
        // The failure was within the last second; a second later the back-off shows.
        c.advance(1).await; // T + 1
        assert_eq!(waiting()["reason"], "ImagePullBackOff");
        assert_eq!(
            waiting()["message"],
            format!("Back-off pulling image \"registry.invalid/app:1\": ErrImagePull: {message}")
        );
        assert!(c.has_event(
            "default",
            "app",
            "BackOff",
            "Back-off pulling image \"registry.invalid/app:1\""
        ));
        assert!(c.has_event("default", "app", "Failed", "Error: ImagePullBackOff"));
        assert_eq!(c.event_count("default", "app", "Pulling"), 1);
        // First back-off 10 s: the next pull is within (T + 9, T + 10].
        c.advance(7).await; // T + 8
        assert_eq!(c.event_count("default", "app", "Pulling"), 1);
        c.advance(2).await; // T + 10
        assert_eq!(c.event_count("default", "app", "Pulling"), 2);
        // It fails again by T + 12; the second back-off is 20 s: no pull before T + 29.5.
        c.advance(19).await; // T + 29
        assert_eq!(c.event_count("default", "app", "Pulling"), 2);
        c.store.faults.clear("lin-1");
        c.advance(11).await; // T + 40
        assert_eq!(c.event_count("default", "app", "Pulling"), 3);
        assert_eq!(c.pod_status("default", "app")["phase"], "Running");
    }

    #[tokio::test]
    async fn a_crashing_container_loops_with_growing_back_off() {
        let c = Cluster::new();
        c.node("lin-1", "linux", true, LINUX_RUNTIME, "10.224.0.4");
        c.store.faults.inject(
            "lin-1",
            Fault::CrashLoop {
                container: "web".into(),
                exit_code: 2,
                message: "panic: boom".into(),
            },
        );
        let uid = c.pod("default", "crashy", "lin-1", json!({}), web("nginx:1.27"));
        // Start ≤6 s, exit 1-3 s later, immediate restart, exit again: back-off 10 s.
        c.advance(15).await;
        let status = c.pod_status("default", "crashy");
        let container = &status["containerStatuses"][0];
        assert_eq!(status["phase"], "Running", "{status}");
        assert_eq!(container["restartCount"], 1);
        assert_eq!(container["ready"], false);
        let pod = format!("crashy_default({uid})");
        assert_eq!(container["state"]["waiting"]["reason"], "CrashLoopBackOff");
        assert_eq!(
            container["state"]["waiting"]["message"],
            format!("back-off 10s restarting failed container=web pod={pod}")
        );
        let last = &container["lastState"]["terminated"];
        assert_eq!(last["exitCode"], 2);
        assert_eq!(last["reason"], "Error");
        assert_eq!(last["message"], "panic: boom");
        assert!(last["startedAt"].is_string() && last["finishedAt"].is_string());
        assert_eq!(last["containerID"], container["containerID"]);
        assert!(c.has_event(
            "default",
            "crashy",
            "BackOff",
            &format!("Back-off restarting failed container web in pod {pod}")
        ));
        assert_eq!(condition(&status, "Ready")["status"], "False");
        // The wait runs from the exit: nothing before finishedAt + 10 s, a restart after it.
        let finished: Timestamp = last["finishedAt"].as_str().unwrap().parse().unwrap();
        let wait = |secs: i64| {
            finished
                .checked_add(SignedDuration::from_secs(secs))
                .unwrap()
                .duration_since(c.now())
                .as_secs()
        };
        c.advance(wait(9)).await;
        assert_eq!(
            c.pod_status("default", "crashy")["containerStatuses"][0]["restartCount"],
            1
        );
        c.advance(wait(11)).await;
        assert_eq!(
            c.pod_status("default", "crashy")["containerStatuses"][0]["restartCount"],
            2
        );
        c.advance(5).await;
        let container = c.pod_status("default", "crashy")["containerStatuses"][0].clone();
        assert_eq!(
            container["state"]["waiting"]["message"],
            format!("back-off 20s restarting failed container=web pod={pod}")
        );
        c.advance(25).await;
        let container = c.pod_status("default", "crashy")["containerStatuses"][0].clone();
        assert_eq!(container["restartCount"], 3);
        assert_eq!(
            container["state"]["waiting"]["message"],
            format!("back-off 40s restarting failed container=web pod={pod}")
        );
    }

    fn windows_agent() -> Value {
        let hpc = json!({"windowsOptions": {"hostProcess": true, "runAsUserName": "NT AUTHORITY\\system"}});
        json!({
            "hostNetwork": true, "terminationGracePeriodSeconds": 5, "tolerations": [{"operator": "Exists"}],
            "initContainers": [
                {"name": "uninstall-calico", "image": "quay.io/calico/node-windows:v3.27.3", "securityContext": hpc},
                {"name": "install-cni", "image": "quay.io/calico/cni-windows:v3.27.3", "securityContext": hpc},
            ],
            "containers": [
                {"name": "felix", "image": "quay.io/calico/node-windows:v3.27.3", "securityContext": hpc,
                 "readinessProbe": {"exec": {"command": ["calico.exe", "component", "node", "health", "--felix-ready"]}, "periodSeconds": 10}},
                {"name": "node", "image": "quay.io/calico/node-windows:v3.27.3", "securityContext": hpc},
            ],
        })
    }

    fn linux_agent() -> Value {
        json!({
            "hostNetwork": true, "terminationGracePeriodSeconds": 5, "tolerations": [{"operator": "Exists"}],
            "initContainers": [{"name": "install-cni", "image": "quay.io/calico/cni:v3.27.3"}],
            "containers": [{"name": "calico-node", "image": "quay.io/calico/node:v3.27.3",
                            "readinessProbe": {"exec": {"command": ["/bin/calico-node", "-felix-ready"]}, "periodSeconds": 10}}],
        })
    }

    #[tokio::test]
    async fn host_process_on_containerd_1_5_fails_container_creation() {
        let c = Cluster::new();
        c.node(
            "win-old",
            "windows",
            false,
            "containerd://1.5.18",
            "10.224.0.9",
        );
        c.pod(
            CALICO_NAMESPACE,
            "calico-node-windows-x2x4z",
            "win-old",
            json!({"k8s-app": "calico-node-windows"}),
            windows_agent(),
        );
        c.advance(200).await;
        let status = c.pod_status(CALICO_NAMESPACE, "calico-node-windows-x2x4z");
        assert_eq!(status["phase"], "Pending");
        assert_eq!(status["podIP"], "10.224.0.9", "host network");
        let first = &status["initContainerStatuses"][0];
        assert_eq!(first["state"]["waiting"]["reason"], "CreateContainerError");
        let message = first["state"]["waiting"]["message"].as_str().unwrap();
        assert!(
            message.contains("hostProcess")
                && message.contains("containerd://1.5.18")
                && message.contains("v1.6.0"),
            "{message}"
        );
        assert_eq!(
            status["initContainerStatuses"][1]["state"]["waiting"]["reason"],
            "PodInitializing"
        );
        assert_eq!(
            status["containerStatuses"][0]["state"]["waiting"]["reason"],
            "PodInitializing"
        );
        assert_eq!(
            condition(&status, "Initialized")["message"],
            "containers with incomplete status: [uninstall-calico install-cni]"
        );
        assert!(c.has_event(
            CALICO_NAMESPACE,
            "calico-node-windows-x2x4z",
            "Failed",
            &format!("Error: {message}")
        ));
        // The node never gets a network.
        let node = c.get("nodes", "", "win-old").unwrap();
        assert_eq!(node_condition(&node, "Ready")["status"], "False");
        assert_eq!(node["spec"]["taints"][0]["key"], NOT_READY_TAINT);
    }

    #[tokio::test]
    #[allow(clippy::too_many_lines)] // one node's story, from no CNI to Calico shutting down
    async fn the_node_follows_its_calico_agent_and_workloads_wait_for_it() {
        let c = Cluster::new();
        c.node("lin-1", "linux", false, LINUX_RUNTIME, "10.224.0.4");
        let everywhere = json!({"tolerations": [{"operator": "Exists"}], "containers": [{"name": "csi", "image": "quay.io/calico/csi:v3.27.3"}]});
        c.pod(
            CALICO_NAMESPACE,
            "csi-node-driver-abcde",
            "lin-1",
            json!({}),
            everywhere,
        );
        c.advance(1).await;
        let network = format!("network is not ready: {NETWORK_NOT_READY}");
        assert!(c.has_event(
            CALICO_NAMESPACE,
            "csi-node-driver-abcde",
            "NetworkNotReady",
            &network
        ));
        let status = c.pod_status(CALICO_NAMESPACE, "csi-node-driver-abcde");
        assert_eq!(status["phase"], "Pending");
        assert_eq!(
            condition(&status, "PodReadyToStartContainers")["status"],
            "False"
        );
        c.pod(
            CALICO_NAMESPACE,
            "calico-node-7hx2k",
            "lin-1",
            json!({"k8s-app": "calico-node"}),
            linux_agent(),
        );
        // Two Linux pulls, the init container, the agent's start and its first readiness probe.
        c.advance(5).await;
        assert_eq!(
            node_condition(&c.get("nodes", "", "lin-1").unwrap(), "Ready")["status"],
            "False"
        );
        c.advance(30).await;
        let agent = c.pod_status(CALICO_NAMESPACE, "calico-node-7hx2k");
        assert_eq!(agent["phase"], "Running");
        assert_eq!(condition(&agent, "Ready")["status"], "True");
        assert_eq!(
            agent["initContainerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
        assert_eq!(agent["initContainerStatuses"][0]["ready"], true);
        let node = c.get("nodes", "", "lin-1").unwrap();
        let ready = node_condition(&node, "Ready");
        assert_eq!(
            (ready["status"].as_str(), ready["reason"].as_str()),
            (Some("True"), Some("KubeletReady"))
        );
        assert_eq!(ready["message"], "kubelet is posting ready status");
        let network = node_condition(&node, "NetworkUnavailable");
        assert_eq!(
            (network["status"].as_str(), network["reason"].as_str()),
            (Some("False"), Some("CalicoIsUp"))
        );
        assert_eq!(network["message"], "Calico is running on this node");
        assert!(node["spec"].get("taints").is_none(), "{node}");
        assert!(c.has_event(
            "default",
            "lin-1",
            "NodeReady",
            "Node lin-1 status is now: NodeReady"
        ));
        // The waiting workload got its sandbox as soon as the CNI was up.
        c.advance(10).await;
        let status = c.pod_status(CALICO_NAMESPACE, "csi-node-driver-abcde");
        assert_eq!(status["phase"], "Running", "{status}");
        assert!(status["podIP"].as_str().unwrap().starts_with("10.244."));
        // Deleting the agent: Calico reports itself down at once; the pod goes after 5 s.
        let pods = c.rt("pods");
        c.store
            .delete(
                &pods,
                CALICO_NAMESPACE,
                "calico-node-7hx2k",
                &DeleteOptions::default(),
            )
            .unwrap();
        c.advance(1).await;
        let node = c.get("nodes", "", "lin-1").unwrap();
        let network = node_condition(&node, "NetworkUnavailable");
        assert_eq!(
            (network["status"].as_str(), network["reason"].as_str()),
            (Some("True"), Some("CalicoIsDown"))
        );
        assert_eq!(network["message"], "Calico is shutting down on this node");
        assert!(c.has_event(
            CALICO_NAMESPACE,
            "calico-node-7hx2k",
            "Killing",
            "Stopping container calico-node"
        ));
        assert!(
            c.get("pods", CALICO_NAMESPACE, "calico-node-7hx2k")
                .is_some()
        );
        c.advance(5).await;
        assert!(
            c.get("pods", CALICO_NAMESPACE, "calico-node-7hx2k")
                .is_none()
        );
        // The CNI configuration stays on the host: the node stays Ready.
        assert_eq!(
            node_condition(&c.get("nodes", "", "lin-1").unwrap(), "Ready")["status"],
            "True"
        );
    }

    #[tokio::test]
    async fn a_failing_windows_agent_crash_loops_and_the_node_stays_not_ready() {
        let c = Cluster::new();
        c.node("win-1", "windows", false, WINDOWS_RUNTIME, "10.224.0.5");
        let message = "Unable to ensure network for os error=global strict affinity should not be false for Windows node";
        c.annotate_node(
            "win-1",
            "test.pooltop/agent-error",
            Some(&format!("node|1|{message}")),
        );
        c.pod(
            CALICO_NAMESPACE,
            "calico-node-windows-q8r2t",
            "win-1",
            json!({"k8s-app": "calico-node-windows"}),
            windows_agent(),
        );
        // Two Windows pulls of a minute or two each, then the start and two quick exits.
        c.advance(300).await;
        let status = c.pod_status(CALICO_NAMESPACE, "calico-node-windows-q8r2t");
        assert_eq!(
            status["initContainerStatuses"][1]["state"]["terminated"]["reason"], "Completed",
            "{status}"
        );
        let node_container = &status["containerStatuses"][1];
        assert_eq!(node_container["name"], "node");
        assert!(node_container["restartCount"].as_u64().unwrap() >= 1);
        assert_eq!(node_container["lastState"]["terminated"]["exitCode"], 1);
        assert_eq!(
            node_container["lastState"]["terminated"]["message"],
            message
        );
        assert!(
            status["containerStatuses"][0]["state"]["running"].is_object(),
            "felix keeps running"
        );
        assert_eq!(condition(&status, "Ready")["status"], "False");
        assert_eq!(
            node_condition(&c.get("nodes", "", "win-1").unwrap(), "Ready")["status"],
            "False"
        );
        // strictAffinity fixed: the next restart sticks and the node comes up.
        c.annotate_node("win-1", "test.pooltop/agent-error", None);
        c.advance(400).await;
        let status = c.pod_status(CALICO_NAMESPACE, "calico-node-windows-q8r2t");
        assert_eq!(condition(&status, "Ready")["status"], "True", "{status}");
        let node = c.get("nodes", "", "win-1").unwrap();
        assert_eq!(node_condition(&node, "Ready")["status"], "True");
        assert_eq!(
            node_condition(&node, "NetworkUnavailable")["reason"],
            "CalicoIsUp"
        );
    }

    #[tokio::test]
    async fn sandboxes_retry_with_back_off_when_cni_add_fails() {
        let c = Cluster::new();
        c.node("win-1", "windows", true, WINDOWS_RUNTIME, "10.224.0.5");
        let error = "plugin type=\"calico\" failed (add): global strict affinity should not be false for Windows node";
        c.annotate_node("win-1", "test.pooltop/cni-add-error", Some(error));
        let uid = c.pod(
            "default",
            "iis",
            "win-1",
            json!({}),
            web("mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022"),
        );
        c.advance(1).await;
        let first = format!(
            "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox \"{}\": {error}",
            sandbox_id(&uid, 0)
        );
        assert!(
            c.has_event("default", "iis", "FailedCreatePodSandBox", &first),
            "{:?}",
            c.events("default", "iis")
        );
        assert!(
            fake::RELEASED
                .lock()
                .unwrap()
                .contains(&sandbox_id(&uid, 0)),
            "the failed sandbox is torn down"
        );
        c.advance(8).await; // t = 9: the first retry is at 10 s
        assert_eq!(c.event_count("default", "iis", "FailedCreatePodSandBox"), 1);
        c.advance(2).await;
        assert_eq!(c.event_count("default", "iis", "FailedCreatePodSandBox"), 2);
        assert!(
            c.events("default", "iis")
                .iter()
                .any(|(_, m, _)| m.contains(&sandbox_id(&uid, 1)))
        );
        c.annotate_node("win-1", "test.pooltop/cni-add-error", None);
        c.advance(25).await;
        let status = c.pod_status("default", "iis");
        assert!(
            status["podIP"]
                .as_str()
                .is_some_and(|ip| ip.starts_with("10.244.")),
            "{status}"
        );
        assert_eq!(c.event_count("default", "iis", "FailedCreatePodSandBox"), 2);
    }

    #[tokio::test]
    async fn graceful_deletion_waits_for_the_grace_period_then_removes_the_pod() {
        let c = Cluster::new();
        c.node("lin-1", "linux", true, LINUX_RUNTIME, "10.224.0.4");
        let uid = c.pod("default", "web", "lin-1", json!({}), web("nginx:1.27"));
        c.advance(10).await;
        let before = c.pod_status("default", "web");
        assert_eq!(condition(&before, "Ready")["status"], "True");
        let pods = c.rt("pods");
        c.store
            .delete(&pods, "default", "web", &DeleteOptions::default())
            .unwrap();
        c.advance(1).await;
        let status = c.pod_status("default", "web");
        assert_eq!(condition(&status, "Ready")["status"], "False", "{status}");
        assert_eq!(status["containerStatuses"][0]["ready"], false);
        // The settled pod was read back from its object: everything else is as it was.
        for field in ["podIP", "startTime", "phase"] {
            assert_eq!(status[field], before[field], "{field}");
        }
        assert_eq!(
            status["containerStatuses"][0]["containerID"],
            before["containerStatuses"][0]["containerID"]
        );
        assert_eq!(
            status["containerStatuses"][0]["state"],
            before["containerStatuses"][0]["state"]
        );
        assert_eq!(
            condition(&status, "Initialized"),
            condition(&before, "Initialized")
        );
        assert!(c.has_event("default", "web", "Killing", "Stopping container web"));
        c.advance(28).await; // 29 s into the 30 s grace period
        assert!(c.get("pods", "default", "web").is_some());
        assert!(
            !fake::RELEASED
                .lock()
                .unwrap()
                .contains(&sandbox_id(&uid, 0))
        );
        c.advance(2).await;
        assert!(c.get("pods", "default", "web").is_none());
        assert!(
            fake::RELEASED
                .lock()
                .unwrap()
                .contains(&sandbox_id(&uid, 0)),
            "CNI DEL for the sandbox"
        );
        // A pod that never got a sandbox has nothing to stop: it goes at once.
        c.pod(
            "default",
            "stuck",
            "lin-1",
            json!({}),
            web("registry.invalid/x:1"),
        );
        c.store.faults.inject(
            "lin-1",
            Fault::SlowStart {
                extra: Duration::from_secs(3600),
            },
        );
        c.store
            .delete(&pods, "default", "stuck", &DeleteOptions::default())
            .unwrap();
        c.advance(1).await;
        assert!(c.get("pods", "default", "stuck").is_none());
    }

    #[tokio::test]
    async fn a_new_image_restarts_the_container() {
        let c = Cluster::new();
        c.node("lin-1", "linux", true, LINUX_RUNTIME, "10.224.0.4");
        c.pod("default", "web", "lin-1", json!({}), web("nginx:1.27"));
        c.advance(10).await;
        let before = c.pod_status("default", "web")["containerStatuses"][0].clone();
        assert_eq!(before["ready"], true);
        let patch = json!({"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}});
        c.store
            .patch(
                &c.rt("pods"),
                "default",
                "web",
                PatchType::Strategic,
                &patch,
                Part::Main,
                &WriteOptions::default(),
            )
            .unwrap();
        c.advance(1).await;
        assert!(c.has_event(
            "default",
            "web",
            "Killing",
            "Container web definition changed, will be restarted"
        ));
        c.advance(10).await;
        let after = c.pod_status("default", "web")["containerStatuses"][0].clone();
        assert_eq!(after["restartCount"], 1);
        assert_eq!(after["ready"], true);
        assert_eq!(after["image"], "docker.io/library/nginx:1.28");
        assert_ne!(after["containerID"], before["containerID"]);
        assert_eq!(after["lastState"]["terminated"]["reason"], "Completed");
        assert_eq!(
            after["lastState"]["terminated"]["containerID"],
            before["containerID"]
        );
        assert!(c.has_event("default", "web", "Pulling", "Pulling image \"nginx:1.28\""));
    }

    #[tokio::test]
    async fn nothing_starts_once_a_pod_is_stopping() {
        let c = Cluster::new();
        c.node("win-1", "windows", true, WINDOWS_RUNTIME, "10.224.0.5");
        let spec = json!({"terminationGracePeriodSeconds": 300, "containers": [
            {"name": "iis", "image": "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022"},
            {"name": "app", "image": "mcr.microsoft.com/dotnet/framework/aspnet:4.8"}]});
        c.pod("default", "shop", "win-1", json!({}), spec);
        // The first container runs after one Windows pull; the second waits for its own.
        let mut waited = 0;
        while !c.pod_status("default", "shop")["containerStatuses"][0]["state"]["running"]
            .is_object()
        {
            assert!(waited < 200, "{}", c.pod_status("default", "shop"));
            c.advance(10).await;
            waited += 10;
        }
        assert!(
            c.pod_status("default", "shop")["containerStatuses"][1]["state"]["waiting"].is_object()
        );
        c.store
            .delete(&c.rt("pods"), "default", "shop", &DeleteOptions::default())
            .unwrap();
        c.advance(150).await;
        assert!(
            c.get("pods", "default", "shop").is_some(),
            "the grace period is 300 s"
        );
        assert!(c.has_event("default", "shop", "Killing", "Stopping container iis"));
        c.advance(160).await;
        assert!(c.get("pods", "default", "shop").is_none());
        // The second image arrived during the grace period, but its container never started.
        assert!(
            !c.has_event("default", "shop", "Started", "Started container app"),
            "{:?}",
            c.events("default", "shop")
        );
    }

    #[tokio::test]
    async fn pods_on_missing_nodes_stay_as_they_are_until_the_node_appears() {
        let c = Cluster::new();
        c.pod(
            "default",
            "early",
            "lin-later",
            json!({}),
            web("nginx:1.27"),
        );
        c.advance(30).await;
        let status = c.pod_status("default", "early");
        assert_eq!(
            status,
            json!({"phase": "Pending", "qosClass": "BestEffort"})
        );
        c.node("lin-later", "linux", true, LINUX_RUNTIME, "10.224.0.7");
        c.advance(10).await;
        assert_eq!(c.pod_status("default", "early")["phase"], "Running");
    }

    #[tokio::test]
    async fn running_pods_are_taken_over_without_writes() {
        let c = Cluster::new();
        c.node("lin-1", "linux", true, LINUX_RUNTIME, "10.224.0.4");
        let t = "2026-11-29T08:00:00Z";
        let cond = |kind: &str| json!({"type": kind, "status": "True", "lastTransitionTime": t});
        let pod = json!({
            "metadata": {"name": "seeded", "namespace": "default"},
            "spec": {"nodeName": "lin-1", "containers": [{"name": "web", "image": "nginx:1.27"}]},
            "status": {"phase": "Running", "podIP": "10.244.9.9", "startTime": t,
                       "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
                       "containerStatuses": [{"name": "web", "ready": true, "started": true, "restartCount": 0,
                                              "state": {"running": {"startedAt": t}}, "containerID": "containerd://abc"}]},
        });
        let seeded = c.store.seed(&c.rt("pods"), pod).unwrap();
        c.advance(60).await;
        let now = c.get("pods", "default", "seeded").unwrap();
        assert_eq!(now["metadata"]["resourceVersion"], seeded.rv.to_string());
        // Deleting it still works from the taken-over state.
        c.store
            .delete(
                &c.rt("pods"),
                "default",
                "seeded",
                &DeleteOptions::default(),
            )
            .unwrap();
        c.advance(1).await;
        let status = c.pod_status("default", "seeded");
        assert_eq!(status["podIP"], "10.244.9.9");
        assert_eq!(
            status["containerStatuses"][0]["containerID"],
            "containerd://abc"
        );
        assert_eq!(condition(&status, "Ready")["status"], "False");
        assert_eq!(condition(&status, "Initialized")["lastTransitionTime"], t);
        c.advance(30).await;
        assert!(c.get("pods", "default", "seeded").is_none());
    }

    #[tokio::test]
    async fn with_calico_ipam_pods_get_pool_addresses_and_give_them_back() {
        let c = Cluster::with_calico_ipam();
        c.node("aks-lnx-0", "linux", false, LINUX_RUNTIME, "10.224.0.4");
        c.pod(
            CALICO_NAMESPACE,
            "calico-node-k2x8q",
            "aks-lnx-0",
            json!({"k8s-app": "calico-node"}),
            linux_agent(),
        );
        let everywhere = json!({"tolerations": [{"operator": "Exists"}], "containers": [{"name": "web", "image": "nginx:1.27"}]});
        let uid = c.pod("default", "web", "aks-lnx-0", json!({}), everywhere);
        c.advance(40).await;
        let node = c.get("nodes", "", "aks-lnx-0").unwrap();
        assert_eq!(node_condition(&node, "Ready")["status"], "True", "{node}");
        let tunnel = node["metadata"]["annotations"]["projectcalico.org/IPv4VXLANTunnelAddr"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            tunnel.starts_with("192.168."),
            "the agent took its tunnel address: {node}"
        );
        c.advance(10).await;
        let status = c.pod_status("default", "web");
        let ip: std::net::Ipv4Addr = status["podIP"].as_str().unwrap().parse().unwrap();
        let pool: ipnet::Ipv4Net = "192.168.0.0/16".parse().unwrap();
        assert!(pool.contains(&ip) && ip.to_string() != tunnel, "{ip}");
        let handles = c
            .store
            .registry()
            .get(crate::sim::crds::CALICO_V1_GROUP, "v1", "ipamhandles")
            .unwrap();
        let handle = calico::pod_handle(&sandbox_id(&uid, 0));
        assert!(c.store.try_get(&handles, "", &handle).is_some(), "{handle}");
        c.store
            .delete(&c.rt("pods"), "default", "web", &DeleteOptions::default())
            .unwrap();
        c.advance(31).await;
        assert!(c.get("pods", "default", "web").is_none());
        assert!(
            c.store.try_get(&handles, "", &handle).is_none(),
            "CNI DEL released {handle}"
        );
    }

    /// Seeds `nodes` Ready nodes and `pods` running pods, takes them over, and measures one
    /// idle tick. Returns (time to take over, mean tick, resident memory growth in bytes).
    fn idle_tick_cost(nodes: usize, pods: usize) -> (Duration, Duration, i64) {
        let clock = Arc::new(ManualClock::new(START.parse().unwrap()));
        let store = Arc::new(Store::new(
            clock as Arc<dyn crate::sim::clock::Clock>,
            StoreConfig::default(),
        ));
        let registry = store.registry();
        let (ns_rt, node_rt, pod_rt) = (
            registry.get("", "v1", "namespaces").unwrap(),
            registry.get("", "v1", "nodes").unwrap(),
            registry.get("", "v1", "pods").unwrap(),
        );
        store
            .seed(&ns_rt, json!({"metadata": {"name": "default"}}))
            .unwrap();
        let t = "2026-11-29T08:00:00Z";
        for n in 0..nodes {
            let node = json!({"metadata": {"name": format!("node-{n:05}"), "labels": {"kubernetes.io/os": "linux"}},
                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "lastTransitionTime": t}],
                           "addresses": [{"type": "InternalIP", "address": format!("10.224.{}.{}", n / 250, n % 250)}],
                           "nodeInfo": {"containerRuntimeVersion": LINUX_RUNTIME}}});
            store.seed(&node_rt, node).unwrap();
        }
        let cond = |kind: &str| json!({"type": kind, "status": "True", "lastTransitionTime": t});
        for p in 0..pods {
            let pod = json!({
                "metadata": {"name": format!("app-{p:06}"), "namespace": "default", "labels": {"app": format!("app-{}", p / 100)}},
                "spec": {"nodeName": format!("node-{:05}", p % nodes), "containers": [{"name": "app", "image": format!("registry.example/app-{}:1", p / 100)}]},
                "status": {"phase": "Running", "podIP": format!("10.244.{}.{}", p / 250, p % 250), "startTime": t,
                           "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
                           "containerStatuses": [{"name": "app", "ready": true, "started": true, "restartCount": 0,
                                                  "state": {"running": {"startedAt": t}}, "containerID": format!("containerd://{p:064x}")}]},
            });
            store.seed(&pod_rt, pod).unwrap();
        }
        let resident = || {
            let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
            statm
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<i64>().ok())
                .unwrap_or(0)
                * 4096
        };
        let before = resident();
        let started = std::time::Instant::now();
        let mut kubelet =
            Kubelet::new(&store, Arc::clone(&pod_rt), Arc::clone(&node_rt), fake::CNI);
        let node_list = store.list(&node_rt, None, &ListOptions::default()).unwrap();
        kubelet.on_nodes(
            node_list
                .items
                .iter()
                .map(|o| {
                    Change::Upsert(
                        (String::new(), o.name.clone()),
                        Arc::new(project_node(o).unwrap()),
                    )
                })
                .collect(),
        );
        let items = store
            .list(&pod_rt, None, &ListOptions::default())
            .unwrap()
            .items;
        kubelet.resync(&items);
        drop(items);
        let take_over = started.elapsed();
        let grown = resident() - before;
        assert_eq!(kubelet.settled.len(), pods, "every running pod settles");
        assert!(kubelet.runs.is_empty());
        let rv = store.current_rv();
        kubelet.tick();
        assert_eq!(
            store.current_rv(),
            rv,
            "taking over settled pods writes nothing"
        );
        assert!(kubelet.timers.is_empty());
        let rounds: u32 = 10_000;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            kubelet.tick();
        }
        let per_tick = started.elapsed() / rounds;
        assert_eq!(store.current_rv(), rv);
        (take_over, per_tick, grown)
    }

    /// Timing belongs to benchmarks; this checks the behaviour that keeps idle ticks cheap:
    /// settled pods are taken over without a single write.
    #[test]
    fn an_idle_tick_writes_nothing_however_many_pods_run() {
        let (_, _, _) = idle_tick_cost(200, 2_000);
    }

    #[test]
    fn go_durations_read_like_the_kubelet_prints_them() {
        let ms = SignedDuration::from_millis;
        assert_eq!(go_duration(ms(0)), "0s");
        assert_eq!(go_duration(ms(345)), "345ms");
        assert_eq!(go_duration(ms(1_200)), "1.2s");
        assert_eq!(go_duration(ms(3_005)), "3.005s");
        assert_eq!(go_duration(ms(10_000)), "10s");
        assert_eq!(go_duration(ms(61_500)), "1m1.5s");
        assert_eq!(go_duration(ms(300_000)), "5m0s");
        assert_eq!(go_duration(ms(3_600_000)), "1h0m0s");
    }

    #[test]
    fn images_are_named_as_containerd_reports_them() {
        assert_eq!(normalize_image("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(
            normalize_image("bitnami/redis:7"),
            "docker.io/bitnami/redis:7"
        );
        assert_eq!(
            normalize_image("quay.io/calico/node:v3.27.3"),
            "quay.io/calico/node:v3.27.3"
        );
        assert_eq!(
            normalize_image("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        let id = image_id("quay.io/calico/node:v3.27.3");
        let (repository, digest) = id.split_once("@sha256:").unwrap();
        assert_eq!(repository, "quay.io/calico/node");
        assert!(is_hex64(digest));
        assert_eq!(id, image_id("quay.io/calico/node:v3.27.3"), "stable");
        assert!(is_hex64(&sandbox_id("uid-1", 0)));
        assert_ne!(sandbox_id("uid-1", 0), sandbox_id("uid-1", 1));
    }

    #[test]
    fn host_process_needs_containerd_1_6() {
        let facts = |runtime: &str| NodeFacts {
            uid: String::new(),
            windows: true,
            internal_ip: String::new(),
            runtime: runtime.to_string(),
            ready: String::new(),
            network_unavailable: (String::new(), String::new()),
            not_ready_taint: false,
        };
        assert!(!facts("containerd://1.5.18").supports_host_process());
        assert!(facts("containerd://1.6.0").supports_host_process());
        assert!(facts("containerd://1.7.20+azure").supports_host_process());
        assert!(facts("containerd://2.0.1").supports_host_process());
        assert!(!facts("docker://20.10.9").supports_host_process());
    }
}
