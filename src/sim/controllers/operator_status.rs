//! How the simulated Tigera operator reports health: the `TigeraStatus` conditions of one
//! component (`calico`, `ippools`, `calico-windows`, `apiserver`) computed the way the
//! operator's status manager computes them, from what the controller reported in its last
//! reconcile and from the rollout state of the workloads it monitors, and the mirroring of a
//! TigeraStatus into a custom resource's `status.conditions` (`Available` becomes `Ready`).
//! It is pure: it reads facts handed to it and returns conditions; writing them to the store
//! is the controller's job, and it never decides what a controller renders.

use std::collections::BTreeMap;

use serde_json::{Value, json};

pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";

/// Reasons of `TigeraStatus` conditions (`operator.tigera.io/v1` TigeraStatusReason).
pub const ALL_OBJECTS_AVAILABLE: &str = "AllObjectsAvailable";
pub const RESOURCE_NOT_READY: &str = "ResourceNotReady";
pub const POD_FAILURE: &str = "PodFailure";
pub const UNKNOWN: &str = "Unknown";
pub const INVALID_CONFIGURATION: &str = "InvalidConfigurationError";
pub const RESOURCE_READ_ERROR: &str = "ResourceReadError";
pub const RESOURCE_NOT_FOUND: &str = "ResourceNotFound";
pub const RESOURCE_UPDATE_ERROR: &str = "ResourceUpdateError";

/// One computed condition, before it is merged with what the object already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub kind: &'static str,
    pub status: &'static str,
    pub reason: String,
    pub message: String,
}

impl Condition {
    fn new(kind: &'static str, status: &'static str, reason: &str, message: &str) -> Self {
        Self {
            kind,
            status,
            reason: reason.to_string(),
            message: message.to_string(),
        }
    }
}

/// What a controller told its status manager during its last reconcile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Set once the component rendered without error; from then on the monitored workloads
    /// decide Available and Progressing. It stays set, as in the operator's status manager.
    pub ready_to_monitor: bool,
    /// An explicit degraded state: reason and message.
    pub degraded: Option<(String, String)>,
}

impl Report {
    /// Marks the component degraded the way `SetDegraded(reason, msg, err)` does: the message
    /// is `msg: err` when there is an error behind it, `msg` alone otherwise.
    pub fn degrade(&mut self, reason: &str, message: &str, error: Option<&str>) {
        let message = match error {
            Some(err) if !err.is_empty() => format!("{message}: {err}"),
            _ => message.to_string(),
        };
        self.degraded = Some((reason.to_string(), message));
    }
}

/// What the monitored workloads say: rollouts still under way, and pods that are failing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub progressing: Vec<String>,
    pub failing: Vec<String>,
}

/// The conditions a status manager writes for a component. Before the controller is ready to
/// monitor, only `Degraded` is reported, since nothing has been rendered yet.
pub fn conditions(report: &Report, health: &Health) -> Vec<Condition> {
    let unknown = |kind| Condition::new(kind, "False", UNKNOWN, "");
    if !report.ready_to_monitor {
        return vec![match &report.degraded {
            Some((reason, message)) => Condition::new(DEGRADED, "True", reason, message),
            None => unknown(DEGRADED),
        }];
    }
    let available =
        report.degraded.is_none() && health.failing.is_empty() && health.progressing.is_empty();
    let settled = |kind| {
        Condition::new(
            kind,
            "False",
            ALL_OBJECTS_AVAILABLE,
            "All Objects Available",
        )
    };
    let available_condition = if available {
        Condition::new(
            AVAILABLE,
            "True",
            ALL_OBJECTS_AVAILABLE,
            "All objects available",
        )
    } else {
        unknown(AVAILABLE)
    };
    let progressing = if !health.progressing.is_empty() && health.failing.is_empty() {
        Condition::new(
            PROGRESSING,
            "True",
            RESOURCE_NOT_READY,
            &health.progressing.join("\n"),
        )
    } else if available {
        settled(PROGRESSING)
    } else {
        unknown(PROGRESSING)
    };
    let degraded = if report.degraded.is_some() || !health.failing.is_empty() {
        let mut messages: Vec<&str> = Vec::new();
        let reason = match &report.degraded {
            Some((reason, message)) => {
                messages.push(message);
                reason.as_str()
            }
            None => POD_FAILURE,
        };
        messages.extend(health.failing.iter().map(String::as_str));
        Condition::new(DEGRADED, "True", reason, &messages.join("\n"))
    } else if available {
        settled(DEGRADED)
    } else {
        unknown(DEGRADED)
    };
    vec![available_condition, progressing, degraded]
}

/// Merges computed conditions into a TigeraStatus's existing ones: a condition keeps its
/// `lastTransitionTime` unless its status changed; conditions of other types stay.
pub fn merge(existing: &[Value], computed: &[Condition], now: &str, generation: i64) -> Vec<Value> {
    let mut merged = existing.to_vec();
    for condition in computed {
        // TigeraStatus conditions omit empty strings and a zero generation.
        let mut value =
            json!({"type": condition.kind, "status": condition.status, "lastTransitionTime": now});
        if !condition.reason.is_empty() {
            value["reason"] = json!(condition.reason);
        }
        if !condition.message.is_empty() {
            value["message"] = json!(condition.message);
        }
        if generation != 0 {
            value["observedGeneration"] = json!(generation);
        }
        match merged.iter_mut().find(|c| c["type"] == condition.kind) {
            Some(current) => {
                if current["status"] == condition.status
                    && let Some(since) = current.get("lastTransitionTime")
                {
                    value["lastTransitionTime"] = since.clone();
                }
                *current = value;
            }
            None => merged.push(value),
        }
    }
    merged
}

/// Mirrors TigeraStatus conditions into a custom resource's `metav1.Condition` list:
/// `Available` becomes `Ready`, an empty reason `Unknown`. A mirrored condition's
/// `lastTransitionTime` moves only when its own status changes.
pub fn mirror(existing: &[Value], tigera: &[Value], now: &str) -> Vec<Value> {
    let mut mirrored = existing.to_vec();
    for condition in tigera {
        let Some(kind) = condition.get("type").and_then(Value::as_str) else {
            continue;
        };
        let kind = if kind == AVAILABLE { "Ready" } else { kind };
        let status = condition
            .get("status")
            .and_then(Value::as_str)
            .filter(|s| matches!(*s, "True" | "False"))
            .unwrap_or("Unknown");
        let reason = condition
            .get("reason")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .unwrap_or(UNKNOWN);
        let mut value = json!({
            "type": kind, "status": status, "reason": reason,
            "message": condition.get("message").and_then(Value::as_str).unwrap_or_default(),
            "lastTransitionTime": now,
        });
        if let Some(generation) = condition
            .get("observedGeneration")
            .and_then(Value::as_i64)
            .filter(|g| *g > 0)
        {
            value["observedGeneration"] = json!(generation);
        }
        match mirrored.iter_mut().find(|c| c["type"] == kind) {
            Some(current) => {
                if current["status"] == status
                    && let Some(since) = current.get("lastTransitionTime")
                {
                    value["lastTransitionTime"] = since.clone();
                }
                *current = value;
            }
            None => mirrored.push(value),
        }
    }
    mirrored
}

/// Whether a TigeraStatus's conditions say the component is available.
pub fn is_available(conditions: &[Value]) -> bool {
    conditions
        .iter()
        .any(|c| c["type"] == AVAILABLE && c["status"] == "True")
}

/// The rollout counters of a DaemonSet the operator monitors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonSetState {
    pub generation: i64,
    pub observed_generation: i64,
    pub desired: i64,
    pub updated: i64,
    pub available: i64,
    pub unavailable: i64,
    pub ready: i64,
    pub misscheduled: i64,
}

fn int(value: &Value, pointer: &str) -> i64 {
    value.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

impl DaemonSetState {
    pub fn from_object(ds: &Value) -> Self {
        Self {
            generation: int(ds, "/metadata/generation"),
            observed_generation: int(ds, "/status/observedGeneration"),
            desired: int(ds, "/status/desiredNumberScheduled"),
            updated: int(ds, "/status/updatedNumberScheduled"),
            available: int(ds, "/status/numberAvailable"),
            unavailable: int(ds, "/status/numberUnavailable"),
            ready: int(ds, "/status/numberReady"),
            misscheduled: int(ds, "/status/numberMisscheduled"),
        }
    }

    /// The first applicable "still rolling out" message, checked in the operator's order.
    pub fn progress(&self, key: &str) -> Option<String> {
        if self.updated < self.desired {
            Some(format!(
                "DaemonSet \"{key}\" update is rolling out ({} out of {} updated)",
                self.updated, self.desired
            ))
        } else if self.unavailable > 0 {
            Some(format!(
                "DaemonSet \"{key}\" is not available (awaiting {} nodes)",
                self.unavailable
            ))
        } else if self.available == 0 && self.desired != 0 {
            Some(format!(
                "DaemonSet \"{key}\" is not yet scheduled on any nodes"
            ))
        } else if self.generation > self.observed_generation {
            Some(format!(
                "DaemonSet \"{key}\" update is being processed (generation {}, observed generation {})",
                self.generation, self.observed_generation
            ))
        } else {
            None
        }
    }

    /// All expected pods present and healthy: no need to look for failing pods.
    pub fn healthy(&self) -> bool {
        self.generation == self.observed_generation
            && self.misscheduled == 0
            && self.unavailable == 0
            && self.desired == self.available
            && self.desired == self.ready
    }
}

/// The replica counters of a Deployment the operator monitors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentState {
    pub generation: i64,
    pub observed_generation: i64,
    pub replicas: i64,
    pub available: i64,
    pub unavailable: i64,
    pub ready: i64,
}

impl DeploymentState {
    pub fn from_object(deployment: &Value) -> Self {
        Self {
            generation: int(deployment, "/metadata/generation"),
            observed_generation: int(deployment, "/status/observedGeneration"),
            replicas: deployment
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1),
            available: int(deployment, "/status/availableReplicas"),
            unavailable: int(deployment, "/status/unavailableReplicas"),
            ready: int(deployment, "/status/readyReplicas"),
        }
    }

    pub fn progress(&self, key: &str) -> Option<String> {
        if self.unavailable > 0 {
            Some(format!(
                "Deployment \"{key}\" is not available (awaiting {} replicas)",
                self.unavailable
            ))
        } else if self.available == 0 {
            Some(format!(
                "Deployment \"{key}\" is not yet scheduled on any nodes"
            ))
        } else if self.observed_generation < self.generation {
            Some(format!(
                "Deployment \"{key}\" update is being processed (generation {}, observed generation {})",
                self.generation, self.observed_generation
            ))
        } else {
            None
        }
    }

    pub fn healthy(&self) -> bool {
        self.observed_generation == self.generation
            && self.unavailable == 0
            && self.replicas == self.available
            && self.replicas == self.ready
    }
}

/// Why a pod counts as failing for the status manager, if it does: a failed pod, or a
/// container crash looping, failing to pull its image, or terminated with an error.
pub fn pod_failure(namespace: &str, name: &str, pod: &Value) -> Option<String> {
    if pod.pointer("/status/phase").and_then(Value::as_str) == Some("Failed") {
        return Some(format!("Pod {namespace}/{name} has failed"));
    }
    ["initContainerStatuses", "containerStatuses"]
        .iter()
        .filter_map(|list| {
            pod.pointer(&format!("/status/{list}"))
                .and_then(Value::as_array)
        })
        .flatten()
        .find_map(|status| container_failure(namespace, name, status))
}

fn container_failure(namespace: &str, name: &str, status: &Value) -> Option<String> {
    let container = status
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let waiting = status
        .pointer("/state/waiting/reason")
        .and_then(Value::as_str);
    match waiting {
        Some("CrashLoopBackOff") => {
            return Some(format!(
                "Pod {namespace}/{name} has crash looping container: {container}"
            ));
        }
        Some("ImagePullBackOff" | "ErrImagePull") => {
            return Some(format!(
                "Pod {namespace}/{name} failed to pull container image for: {container}"
            ));
        }
        _ => {}
    }
    (status
        .pointer("/state/terminated/reason")
        .and_then(Value::as_str)
        == Some("Error"))
    .then(|| format!("Pod {namespace}/{name} has terminated container: {container}"))
}

/// A monitored workload and what the store says about it (`None`: not found, skipped as the
/// operator skips a workload it fails to read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workload {
    DaemonSet {
        key: String,
        state: Option<DaemonSetState>,
        selector: BTreeMap<String, String>,
    },
    Deployment {
        key: String,
        state: Option<DeploymentState>,
        selector: BTreeMap<String, String>,
    },
}

/// The health of a component's monitored workloads. `failing_pod` answers the first failing
/// pod among those a selector matches in a namespace, as the status manager's pod scan does.
pub fn health(
    workloads: &[Workload],
    failing_pod: impl Fn(&str, &BTreeMap<String, String>) -> Option<String>,
) -> Health {
    let mut health = Health::default();
    for workload in workloads {
        let (key, progress, healthy, selector) = match workload {
            Workload::DaemonSet {
                key,
                state: Some(state),
                selector,
            } => (key, state.progress(key), state.healthy(), selector),
            Workload::Deployment {
                key,
                state: Some(state),
                selector,
            } => (key, state.progress(key), state.healthy(), selector),
            _ => continue,
        };
        health.progressing.extend(progress);
        if healthy {
            continue;
        }
        let namespace = key.split('/').next().unwrap_or_default();
        health.failing.extend(failing_pod(namespace, selector));
    }
    health
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ds(desired: i64, updated: i64, available: i64, unavailable: i64) -> DaemonSetState {
        DaemonSetState {
            generation: 2,
            observed_generation: 2,
            desired,
            updated,
            available,
            unavailable,
            ready: available,
            misscheduled: 0,
        }
    }

    #[test]
    fn daemonset_messages_follow_the_operators_order() {
        let key = "calico-system/calico-node";
        assert_eq!(
            ds(5, 3, 4, 1).progress(key).unwrap(),
            "DaemonSet \"calico-system/calico-node\" update is rolling out (3 out of 5 updated)"
        );
        assert_eq!(
            ds(5, 5, 3, 2).progress(key).unwrap(),
            "DaemonSet \"calico-system/calico-node\" is not available (awaiting 2 nodes)"
        );
        assert_eq!(
            ds(5, 5, 0, 0).progress(key).unwrap(),
            "DaemonSet \"calico-system/calico-node\" is not yet scheduled on any nodes"
        );
        let mut pending = ds(5, 5, 5, 0);
        pending.generation = 3;
        assert_eq!(
            pending.progress(key).unwrap(),
            "DaemonSet \"calico-system/calico-node\" update is being processed (generation 3, observed generation 2)"
        );
        assert!(!pending.healthy());
        assert_eq!(ds(5, 5, 5, 0).progress(key), None);
        assert!(ds(5, 5, 5, 0).healthy());
    }

    #[test]
    fn deployment_messages() {
        let key = "calico-system/calico-typha";
        let mut state = DeploymentState {
            generation: 1,
            observed_generation: 1,
            replicas: 3,
            available: 1,
            unavailable: 2,
            ready: 1,
        };
        assert_eq!(
            state.progress(key).unwrap(),
            "Deployment \"calico-system/calico-typha\" is not available (awaiting 2 replicas)"
        );
        state.unavailable = 0;
        state.available = 0;
        assert_eq!(
            state.progress(key).unwrap(),
            "Deployment \"calico-system/calico-typha\" is not yet scheduled on any nodes"
        );
        state.available = 3;
        state.ready = 3;
        assert_eq!(state.progress(key), None);
        assert!(state.healthy());
    }

    #[test]
    fn before_monitoring_only_degraded_is_reported() {
        let mut report = Report::default();
        let idle = conditions(&report, &Health::default());
        assert_eq!(idle, vec![Condition::new(DEGRADED, "False", UNKNOWN, "")]);
        report.degrade(
            RESOURCE_NOT_READY,
            "Waiting for IPAMConfiguration watch to be established",
            None,
        );
        let degraded = conditions(&report, &Health::default());
        assert_eq!(
            degraded[0].message,
            "Waiting for IPAMConfiguration watch to be established"
        );
        report.degrade(
            INVALID_CONFIGURATION,
            "Invalid Installation provided",
            Some("bad pool"),
        );
        assert_eq!(
            conditions(&report, &Health::default())[0].message,
            "Invalid Installation provided: bad pool"
        );
    }

    #[test]
    fn monitored_components_report_all_three_conditions() {
        let report = Report {
            ready_to_monitor: true,
            degraded: None,
        };
        let all = conditions(&report, &Health::default());
        assert_eq!(
            all,
            vec![
                Condition::new(
                    AVAILABLE,
                    "True",
                    ALL_OBJECTS_AVAILABLE,
                    "All objects available"
                ),
                Condition::new(
                    PROGRESSING,
                    "False",
                    ALL_OBJECTS_AVAILABLE,
                    "All Objects Available"
                ),
                Condition::new(
                    DEGRADED,
                    "False",
                    ALL_OBJECTS_AVAILABLE,
                    "All Objects Available"
                ),
            ]
        );
        let rolling = Health {
            progressing: vec!["a".into(), "b".into()],
            failing: vec![],
        };
        let c = conditions(&report, &rolling);
        assert_eq!(c[0], Condition::new(AVAILABLE, "False", UNKNOWN, ""));
        assert_eq!(
            c[1],
            Condition::new(PROGRESSING, "True", RESOURCE_NOT_READY, "a\nb")
        );
        assert_eq!(c[2], Condition::new(DEGRADED, "False", UNKNOWN, ""));
        // Failing pods turn progress into degradation.
        let failing = Health {
            progressing: vec!["a".into()],
            failing: vec!["Pod x/y has failed".into()],
        };
        let c = conditions(&report, &failing);
        assert_eq!(c[1], Condition::new(PROGRESSING, "False", UNKNOWN, ""));
        assert_eq!(
            c[2],
            Condition::new(DEGRADED, "True", POD_FAILURE, "Pod x/y has failed")
        );
    }

    #[test]
    fn transition_times_only_move_on_transitions() {
        let first = merge(&[], &[Condition::new(DEGRADED, "True", "R", "m1")], "T1", 3);
        assert_eq!(
            first,
            vec![
                json!({"type": "Degraded", "status": "True", "reason": "R", "message": "m1", "lastTransitionTime": "T1", "observedGeneration": 3})
            ]
        );
        let same = merge(
            &first,
            &[Condition::new(DEGRADED, "True", "R", "m2")],
            "T2",
            3,
        );
        assert_eq!(same[0]["lastTransitionTime"], "T1");
        assert_eq!(same[0]["message"], "m2");
        let flipped = merge(
            &same,
            &[Condition::new(DEGRADED, "False", UNKNOWN, "")],
            "T3",
            0,
        );
        assert_eq!(
            flipped[0],
            json!({"type": "Degraded", "status": "False", "reason": "Unknown", "lastTransitionTime": "T3"})
        );
        let appended = merge(
            &flipped,
            &[Condition::new(AVAILABLE, "True", "A", "")],
            "T4",
            0,
        );
        assert_eq!(appended.len(), 2);
        assert_eq!(appended[1]["type"], "Available");
    }

    #[test]
    fn mirroring_maps_available_to_ready() {
        let ts = vec![
            json!({"type": "Available", "status": "True", "reason": "AllObjectsAvailable", "message": "All objects available", "lastTransitionTime": "T1", "observedGeneration": 2}),
            json!({"type": "Degraded", "status": "False", "lastTransitionTime": "T0"}),
        ];
        let first = mirror(&[], &ts, "T9");
        assert_eq!(first[0]["type"], "Ready");
        assert_eq!(
            first[0]["lastTransitionTime"], "T9",
            "new conditions start now"
        );
        assert_eq!(first[0]["observedGeneration"], 2);
        assert_eq!(
            first[1],
            json!({"type": "Degraded", "status": "False", "reason": "Unknown", "message": "", "lastTransitionTime": "T9"})
        );
        // Unchanged status: the time stays; a flip moves it.
        let again = mirror(&first, &ts, "T10");
        assert_eq!(again, first);
        let mut flipped = ts.clone();
        flipped[1]["status"] = json!("True");
        let moved = mirror(&again, &flipped, "T11");
        assert_eq!(moved[1]["lastTransitionTime"], "T11");
        assert_eq!(moved[0]["lastTransitionTime"], "T9");
        assert_eq!(moved.len(), 2);
    }

    #[test]
    fn pod_failures_are_named_like_the_operator_names_them() {
        let pod = json!({"status": {"phase": "Pending", "initContainerStatuses": [
            {"name": "install-cni", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}});
        assert_eq!(
            pod_failure("calico-system", "calico-node-abc", &pod).unwrap(),
            "Pod calico-system/calico-node-abc failed to pull container image for: install-cni"
        );
        let crash = json!({"status": {"containerStatuses": [
            {"name": "calico-node", "state": {"running": {}}},
            {"name": "other", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(
            pod_failure("ns", "p", &crash).unwrap(),
            "Pod ns/p has crash looping container: other"
        );
        let failed = json!({"status": {"phase": "Failed"}});
        assert_eq!(
            pod_failure("ns", "p", &failed).unwrap(),
            "Pod ns/p has failed"
        );
        let error = json!({"status": {"containerStatuses": [{"name": "c", "state": {"terminated": {"reason": "Error"}}}]}});
        assert_eq!(
            pod_failure("ns", "p", &error).unwrap(),
            "Pod ns/p has terminated container: c"
        );
        assert_eq!(
            pod_failure("ns", "p", &json!({"status": {"phase": "Running"}})),
            None
        );
    }

    #[test]
    fn health_skips_missing_workloads_and_scans_pods_of_unhealthy_ones() {
        let selector: BTreeMap<String, String> =
            [("k8s-app".to_string(), "calico-node".to_string())].into();
        let workloads = vec![
            Workload::DaemonSet {
                key: "calico-system/calico-node".into(),
                state: Some(ds(5, 3, 4, 1)),
                selector: selector.clone(),
            },
            Workload::Deployment {
                key: "calico-system/calico-typha".into(),
                state: None,
                selector: BTreeMap::new(),
            },
        ];
        let result = health(&workloads, |ns, sel| {
            assert_eq!(ns, "calico-system");
            (sel == &selector).then(|| {
                "Pod calico-system/calico-node-x has crash looping container: calico-node"
                    .to_string()
            })
        });
        assert_eq!(
            result.progressing,
            vec![
                "DaemonSet \"calico-system/calico-node\" update is rolling out (3 out of 5 updated)"
            ]
        );
        assert_eq!(result.failing.len(), 1);
    }
}
