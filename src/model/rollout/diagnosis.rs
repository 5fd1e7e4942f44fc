//! Why one agent pod is not done (`DOMAIN.md` §5.4 item 4, §5.5): the stuck reason, walking
//! init containers first as kubectl does, and the one-line explanation with the hints the data
//! supports (the image that cannot be pulled, the exit code of a crash loop, containerd too old
//! for HostProcess). Owns per-pod judgement only; which pods and nodes to look at is the
//! parent module's.

use std::fmt::Write as _;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStatus, Node, Pod};
use serde::Serialize;

use super::{pod_is_ready, pod_revision};
use crate::model::findings::Severity;
use crate::model::pools::OsFamily;
use crate::model::printers;
use crate::model::versions::{Runtime, semver_prefix};

/// Why a node is not done (§5.4), most specific first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum StuckReason {
    /// No pod on a node that should run one.
    NotScheduled,
    /// Pending with `PodScheduled=False`.
    Unschedulable {
        message: String,
    },
    /// An init container has not finished: `Init:1/2`.
    InitStage {
        stage: String,
        container: String,
    },
    /// `ErrImagePull` / `ImagePullBackOff`.
    ImagePull {
        container: String,
        image: String,
        reason: String,
        message: String,
    },
    /// `CrashLoopBackOff`, with the last termination.
    CrashLoop {
        container: String,
        exit_code: Option<i32>,
        last_reason: Option<String>,
        message: String,
        restarts: i32,
    },
    /// Any other waiting reason (`CreateContainerError`, `RunContainerError`, ...).
    Waiting {
        container: String,
        reason: String,
        message: String,
    },
    /// A container terminated with a non-zero exit code and is not restarting yet.
    ContainerFailed {
        container: String,
        exit_code: i32,
        reason: Option<String>,
    },
    /// The pod phase is Failed.
    Failed {
        message: String,
    },
    /// Running, but these containers are not ready.
    NotReady {
        containers: Vec<String>,
    },
    Terminating,
    /// Ready, on an older revision.
    OldRevision {
        revision: Option<String>,
    },
}

impl StuckReason {
    /// Short label for a column: `image pull`, `crash loop`, `old revision`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::NotScheduled => "not scheduled",
            Self::Unschedulable { .. } => "pending",
            Self::InitStage { .. } => "initializing",
            Self::ImagePull { .. } => "image pull",
            Self::CrashLoop { .. } => "crash loop",
            Self::Waiting { .. } => "waiting",
            Self::ContainerFailed { .. } => "container failed",
            Self::Failed { .. } => "failed",
            Self::NotReady { .. } => "not ready",
            Self::Terminating => "terminating",
            Self::OldRevision { .. } => "old revision",
        }
    }

    pub(crate) fn severity(&self) -> Severity {
        match self {
            Self::InitStage { .. } | Self::NotReady { .. } | Self::OldRevision { .. } => {
                Severity::Warning
            }
            Self::Terminating => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// Why this pod is not done (§5.4 item 4), walking init containers first as kubectl does.
pub fn diagnose(pod: &Pod) -> StuckReason {
    let status = pod.status.clone().unwrap_or_default();
    if pod.metadata.deletion_timestamp.is_some() {
        return StuckReason::Terminating;
    }
    if status.phase.as_deref() == Some("Failed") {
        return StuckReason::Failed {
            message: status
                .message
                .clone()
                .or(status.reason.clone())
                .unwrap_or_default(),
        };
    }
    let conditions = status.conditions.as_deref().unwrap_or_default();
    if let Some(unscheduled) = conditions
        .iter()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    {
        return StuckReason::Unschedulable {
            message: unscheduled
                .message
                .clone()
                .or(unscheduled.reason.clone())
                .unwrap_or_default(),
        };
    }
    let init = status
        .init_container_statuses
        .as_deref()
        .unwrap_or_default();
    let init_total = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .map_or(init.len(), Vec::len);
    for (index, container) in init.iter().enumerate() {
        let state = container.state.as_ref();
        if state
            .and_then(|s| s.terminated.as_ref())
            .is_some_and(|t| t.exit_code == 0)
        {
            continue;
        }
        if let Some(reason) = container_problem(pod, container) {
            return reason;
        }
        return StuckReason::InitStage {
            stage: format!("Init:{index}/{init_total}"),
            container: container.name.clone(),
        };
    }
    let main = status.container_statuses.as_deref().unwrap_or_default();
    if let Some(reason) = main.iter().find_map(|c| container_problem(pod, c)) {
        return reason;
    }
    let not_ready: Vec<String> = main
        .iter()
        .filter(|c| !c.ready)
        .map(|c| c.name.clone())
        .collect();
    if !not_ready.is_empty() || !pod_is_ready(pod) {
        return StuckReason::NotReady {
            containers: not_ready,
        };
    }
    StuckReason::OldRevision {
        revision: pod_revision(pod).map(str::to_string),
    }
}

/// A waiting or failed container, as one of the reasons; `None` when it is running or merely
/// waiting its turn (`PodInitializing`, `ContainerCreating`).
fn container_problem(pod: &Pod, container: &ContainerStatus) -> Option<StuckReason> {
    let state = container.state.as_ref()?;
    if let Some(waiting) = &state.waiting {
        let reason = waiting.reason.clone().unwrap_or_default();
        let message = waiting.message.clone().unwrap_or_default();
        return match reason.as_str() {
            "" | "PodInitializing" | "ContainerCreating" => None,
            "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" | "ErrImageNeverPull" => {
                Some(StuckReason::ImagePull {
                    container: container.name.clone(),
                    image: printers::container_image(pod, container),
                    reason,
                    message,
                })
            }
            "CrashLoopBackOff" => {
                let last = container
                    .last_state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref());
                Some(StuckReason::CrashLoop {
                    container: container.name.clone(),
                    exit_code: last.map(|t| t.exit_code),
                    last_reason: last.and_then(|t| t.reason.clone()),
                    message: last.and_then(|t| t.message.clone()).unwrap_or(message),
                    restarts: container.restart_count,
                })
            }
            _ => Some(StuckReason::Waiting {
                container: container.name.clone(),
                reason,
                message,
            }),
        };
    }
    let terminated = state.terminated.as_ref()?;
    (terminated.exit_code != 0).then(|| StuckReason::ContainerFailed {
        container: container.name.clone(),
        exit_code: terminated.exit_code,
        reason: terminated.reason.clone(),
    })
}

pub(super) fn explain(reason: &StuckReason, pod: &Pod, now: Timestamp) -> String {
    match reason {
        StuckReason::NotScheduled => "no pod".to_string(),
        StuckReason::Unschedulable { message } => format!("Pending, not scheduled: {message}"),
        StuckReason::InitStage { stage, container } => {
            // First pulls of Windows images take minutes: how long matters more than that.
            let since = printers::age(pod.metadata.creation_timestamp.as_ref().map(|t| t.0), now);
            format!(
                "{stage}: init container {container} has not finished ({since} since the pod was created)"
            )
        }
        StuckReason::ImagePull {
            container,
            image,
            reason,
            message,
        } => {
            let mut line = format!("{reason}: cannot pull {image} ({container})");
            if !message.is_empty() {
                line.push_str(": ");
                line.push_str(message);
            }
            line
        }
        StuckReason::CrashLoop {
            container,
            exit_code,
            last_reason,
            message,
            restarts,
        } => {
            let mut line = format!("{container} crash-looping ({restarts} restarts)");
            if let Some(code) = exit_code {
                let _ = write!(line, ", last exit code {code}");
            }
            if let Some(r) = last_reason {
                let _ = write!(line, " ({r})");
            }
            if *exit_code == Some(137) && last_reason.as_deref() == Some("Error") {
                line.push_str(": killed, liveness probe?");
            } else if !message.is_empty() {
                line.push_str(": ");
                line.push_str(message);
            }
            line
        }
        StuckReason::Waiting {
            container,
            reason,
            message,
        } => {
            if message.is_empty() {
                format!("{container} waiting: {reason}")
            } else {
                format!("{container} waiting: {reason}: {message}")
            }
        }
        StuckReason::ContainerFailed {
            container,
            exit_code,
            reason,
        } => match reason {
            Some(r) => format!("{container} exited with code {exit_code} ({r})"),
            None => format!("{container} exited with code {exit_code}"),
        },
        StuckReason::Failed { message } => format!("pod Failed: {message}"),
        StuckReason::NotReady { containers } => {
            // A readiness probe needs a while after a start; how long tells normal from stuck.
            let since = not_ready_since(pod, containers)
                .map(|at| format!(" for {}", printers::age(Some(at), now)))
                .unwrap_or_default();
            if containers.is_empty() {
                format!("running but not ready{since}")
            } else {
                format!("running but not ready{since}: {}", containers.join(", "))
            }
        }
        StuckReason::Terminating => format!(
            "terminating for {}",
            printers::age(pod.metadata.deletion_timestamp.as_ref().map(|t| t.0), now)
        ),
        StuckReason::OldRevision { revision } => match revision {
            Some(r) => format!("ready on the old revision {r}"),
            None => "ready on an old revision".to_string(),
        },
    }
}

/// When the earliest of the named (not ready) containers started running.
fn not_ready_since(pod: &Pod, containers: &[String]) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .container_statuses
        .iter()
        .flatten()
        .filter(|c| containers.contains(&c.name))
        .filter_map(|c| c.state.as_ref()?.running.as_ref()?.started_at.as_ref())
        .map(|t| t.0)
        .min()
}

/// HostProcess containers need containerd 1.6: name the runtime when a Windows pod cannot
/// create or run its containers (§5.5).
pub(super) fn runtime_hint(reason: &StuckReason, node: &Node) -> Option<String> {
    let StuckReason::Waiting { reason, .. } = reason else {
        return None;
    };
    if !matches!(
        reason.as_str(),
        "CreateContainerError" | "RunContainerError" | "CreateContainerConfigError"
    ) || OsFamily::of(node) != OsFamily::Windows
    {
        return None;
    }
    let value = node
        .status
        .as_ref()
        .and_then(|s| s.node_info.as_ref())
        .map(|i| i.container_runtime_version.clone())?;
    let runtime = Runtime::parse(&value);
    let old =
        !runtime.is_containerd() || semver_prefix(&runtime.version).is_some_and(|v| v < (1, 6, 0));
    old.then(|| format!("node runs {value}: HostProcess containers need containerd 1.6 or later"))
}
