//! kubectl's words for things, so the console says exactly what `kubectl get` says: a pod's
//! STATUS / READY / RESTARTS columns (`printPod` in Kubernetes' printers), a node's STATUS and
//! ROLES columns, and kubectl's human ages. Owns only text derived from single objects; it
//! knows nothing of pools, rollouts or findings, and must not touch I/O.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{ContainerState, ContainerStatus, Event, Node, Pod};

/// A pod's kubectl columns: `READY` (`1/2`), `STATUS` (`Init:ImagePullBackOff`), restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PodColumns {
    pub ready: String,
    pub status: String,
    pub restarts: i32,
    /// kubectl's RESTARTS cell: `3 (34s ago)`, or the bare count without a time to age against.
    pub restarts_text: String,
}

/// [`pod_columns`] with the RESTARTS cell aged against `now`, as kubectl prints it.
pub fn pod_columns_at(pod: &Pod, now: Timestamp) -> PodColumns {
    let mut columns = pod_columns(pod);
    let status = pod.status.as_ref();
    let last_restart = status
        .into_iter()
        .flat_map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
        })
        .filter_map(|c| {
            c.last_state
                .as_ref()?
                .terminated
                .as_ref()?
                .finished_at
                .as_ref()
        })
        .map(|t| t.0)
        .max();
    if columns.restarts != 0
        && let Some(at) = last_restart
    {
        columns.restarts_text = format!("{} ({} ago)", columns.restarts, age(Some(at), now));
    }
    columns
}

/// kubectl's `printPod`: walks the init containers in order, then the main containers from
/// last to first, then the deletion timestamp.
// Mirrors kubectl's printPod step by step so the two can be checked side by side.
#[allow(clippy::too_many_lines)]
pub fn pod_columns(pod: &Pod) -> PodColumns {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let init_specs = spec.map(|s| s.init_containers.as_deref().unwrap_or_default());
    let init_specs = init_specs.unwrap_or_default();
    let is_sidecar = |name: &str| {
        init_specs
            .iter()
            .any(|c| c.name == name && c.restart_policy.as_deref() == Some("Always"))
    };
    let mut total = spec.map_or(0, |s| s.containers.len());
    total += init_specs
        .iter()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .count();
    let phase = status.and_then(|s| s.phase.clone()).unwrap_or_default();
    let mut reason = status
        .and_then(|s| s.reason.clone())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| phase.clone());
    let conditions = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    if conditions
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"))
    {
        reason = "SchedulingGated".to_string();
    }
    let mut ready = 0usize;
    let mut restarts = 0i32;
    let mut sidecar_restarts = 0i32;
    let mut initializing = false;
    let init_statuses = status
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or_default();
    for (index, container) in init_statuses.iter().enumerate() {
        restarts += container.restart_count;
        if is_sidecar(&container.name) {
            sidecar_restarts += container.restart_count;
        }
        let state = container.state.as_ref();
        let terminated = state.and_then(|s| s.terminated.as_ref());
        let waiting = state.and_then(|s| s.waiting.as_ref());
        if terminated.is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if is_sidecar(&container.name) && container.started == Some(true) {
            if container.ready {
                ready += 1;
            }
            continue;
        }
        initializing = true;
        reason = if let Some(terminated) = terminated {
            match terminated.reason.as_deref() {
                Some(r) if !r.is_empty() => format!("Init:{r}"),
                _ if terminated.signal.unwrap_or(0) != 0 => {
                    format!("Init:Signal:{}", terminated.signal.unwrap_or(0))
                }
                _ => format!("Init:ExitCode:{}", terminated.exit_code),
            }
        } else if let Some(r) = waiting
            .and_then(|w| w.reason.as_deref())
            .filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            format!("Init:{r}")
        } else {
            format!("Init:{index}/{}", init_specs.len())
        };
        break;
    }
    let initialized = conditions
        .iter()
        .any(|c| c.type_ == "Initialized" && c.status == "True");
    if !initializing || initialized {
        restarts = sidecar_restarts;
        let mut has_running = false;
        let statuses = status
            .and_then(|s| s.container_statuses.as_deref())
            .unwrap_or_default();
        for container in statuses.iter().rev() {
            restarts += container.restart_count;
            let state = container.state.as_ref();
            if let Some(r) = state
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.clone())
                .filter(|r| !r.is_empty())
            {
                reason = r;
            } else if let Some(terminated) = state.and_then(|s| s.terminated.as_ref()) {
                reason = match terminated.reason.as_deref() {
                    Some(r) if !r.is_empty() => r.to_string(),
                    _ if terminated.signal.unwrap_or(0) != 0 => {
                        format!("Signal:{}", terminated.signal.unwrap_or(0))
                    }
                    _ => format!("ExitCode:{}", terminated.exit_code),
                };
            } else if container.ready && state.is_some_and(|s| s.running.is_some()) {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.to_string();
        }
    }
    if pod.metadata.deletion_timestamp.is_some() {
        if status.and_then(|s| s.reason.as_deref()) == Some("NodeLost") {
            reason = "Unknown".to_string();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_string();
        }
    }
    PodColumns {
        ready: format!("{ready}/{total}"),
        status: reason,
        restarts,
        restarts_text: restarts.to_string(),
    }
}

/// One container's state in a line: `running`, `waiting: ImagePullBackOff`, `terminated: exit
/// 137 (Error)`.
pub fn container_state_text(state: Option<&ContainerState>) -> String {
    let Some(state) = state else {
        return "unknown".to_string();
    };
    if let Some(waiting) = &state.waiting {
        return match waiting.reason.as_deref() {
            Some(reason) if !reason.is_empty() => format!("waiting: {reason}"),
            _ => "waiting".to_string(),
        };
    }
    if let Some(terminated) = &state.terminated {
        return match terminated.reason.as_deref() {
            Some(reason) if !reason.is_empty() => {
                format!("terminated: exit {} ({reason})", terminated.exit_code)
            }
            _ => format!("terminated: exit {}", terminated.exit_code),
        };
    }
    if state.running.is_some() {
        return "running".to_string();
    }
    "unknown".to_string()
}

/// The image a container runs or tries to pull: the status' image, else the spec's.
pub fn container_image(pod: &Pod, status: &ContainerStatus) -> String {
    if !status.image.is_empty() {
        return status.image.clone();
    }
    pod.spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten().chain(&s.containers))
        .find(|c| c.name == status.name)
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

/// kubectl's node STATUS: `Ready`, `NotReady`, `Unknown`, with `,SchedulingDisabled` when
/// cordoned.
pub fn node_status(node: &Node) -> String {
    let mut parts = vec![match node_ready(node) {
        Some(true) => "Ready",
        Some(false) => "NotReady",
        None => "Unknown",
    }];
    if is_cordoned(node) {
        parts.push("SchedulingDisabled");
    }
    parts.join(",")
}

/// The node's `Ready` condition: `Some(true)` only for status `True`; `None` when absent.
pub fn node_ready(node: &Node) -> Option<bool> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status == "True")
}

pub fn is_cordoned(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
}

/// kubectl's ROLES column: `node-role.kubernetes.io/<role>` labels and `kubernetes.io/role`,
/// sorted, or `<none>`.
pub fn node_roles(node: &Node) -> String {
    let mut roles: Vec<&str> = node
        .metadata
        .labels
        .iter()
        .flatten()
        .filter_map(|(key, value)| {
            if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
                (!role.is_empty()).then_some(role)
            } else if key == "kubernetes.io/role" {
                (!value.is_empty()).then_some(value.as_str())
            } else {
                None
            }
        })
        .collect();
    roles.sort_unstable();
    roles.dedup();
    if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    }
}

/// kubectl's age of something created at `then`, seen at `now` (`HumanDuration`).
pub fn age(then: Option<Timestamp>, now: Timestamp) -> String {
    match then {
        Some(then) => human_duration(now.duration_since(then)),
        None => "<unknown>".to_string(),
    }
}

/// Kubernetes' `duration.HumanDuration`: `45s`, `5m30s`, `21m`, `3h12m`, `9d`, `2y30d`.
pub fn human_duration(duration: SignedDuration) -> String {
    let seconds = duration.as_secs();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let rest = seconds % 60;
        return if rest == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{rest}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let rest = minutes % 60;
        return if rest == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{rest}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let (days, rest) = (hours / 24, hours % 24);
        return if rest == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{rest}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = hours / 24;
        let (years, rest) = (days / 365, days % 365);
        return if rest == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{rest}d")
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// When an event last happened: series, last timestamp, event time, first timestamp,
/// creation, in that order of preference.
pub fn event_time(event: &Event) -> Option<Timestamp> {
    event
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref().map(|t| t.0))
        .or_else(|| event.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_kubectl() {
        let s = SignedDuration::from_secs;
        assert_eq!(human_duration(s(45)), "45s");
        assert_eq!(human_duration(s(119)), "119s");
        // 4 minutes 54 seconds
        assert_eq!(human_duration(s(4 * 60 + 54)), "4m54s");
        assert_eq!(human_duration(s(6 * 60)), "6m");
        assert_eq!(human_duration(s(21 * 60 + 5)), "21m");
        // 3 hours 12 minutes
        assert_eq!(human_duration(s(3 * 3600 + 12 * 60)), "3h12m");
        assert_eq!(human_duration(s(30 * 3600)), "30h");
        // 3 days 4 hours
        assert_eq!(human_duration(s(76 * 3600)), "3d4h");
        assert_eq!(human_duration(s(40 * 86400)), "40d");
        // 2 years and 30 days
        assert_eq!(human_duration(s((2 * 365 + 30) * 86400)), "2y30d");
        assert_eq!(human_duration(s(-5)), "<invalid>");
    }
}
