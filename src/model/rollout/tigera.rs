//! The operator's side of a rollout: why a node-agent DaemonSet is absent (`DOMAIN.md` §5.5,
//! from the Installation and TigeraStatus) and the `TigeraStatus` rows shown beside the
//! rollouts, in `kubectl get tigerastatus` words. Owns reading those operator objects for the
//! Rollout view; configuration findings are `findings`'.

use std::str::FromStr;

use jiff::Timestamp;
use serde::Serialize;

use super::RolloutTarget;
use crate::model::findings::Severity;
use crate::model::printers;
use crate::model::snapshot::{ClusterSnapshot, FeedState, Kind};

/// Why the operator did not render the DaemonSet, as far as the snapshot tells (§5.5).
pub fn absent_reason(snapshot: &ClusterSnapshot, target: RolloutTarget) -> String {
    if target == RolloutTarget::KubeProxyWindows {
        return "not installed in kube-system: unless the platform runs kube-proxy on Windows \
                (AKS, EKS), apply the sig-windows-tools kube-proxy DaemonSet for this Kubernetes version"
            .to_string();
    }
    let status_name = match target {
        RolloutTarget::CalicoNodeWindows => "calico-windows",
        _ => "calico",
    };
    let degraded = snapshot
        .tigera_statuses
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(status_name))
        .and_then(|s| {
            s.condition("Degraded")
                .filter(|c| c.status == "True")
                .cloned()
        });
    let Some(installation) = &snapshot.installation else {
        return match snapshot.feed(Kind::Installations).state {
            FeedState::Live => {
                "no Installation: the Tigera operator has nothing to render".to_string()
            }
            _ => "the Installation is not known (feed not live)".to_string(),
        };
    };
    if target == RolloutTarget::CalicoNodeWindows && !installation.windows_enabled() {
        let value = installation
            .spec
            .calico_network
            .as_ref()
            .and_then(|n| n.windows_dataplane.clone())
            .unwrap_or_else(|| "unset".to_string());
        return format!(
            "Installation calicoNetwork.windowsDataplane is {value}: the operator renders \
             calico-node-windows only with HNS"
        );
    }
    if let Some(condition) = degraded {
        return format!(
            "TigeraStatus {status_name} Degraded ({}): {}",
            condition.reason.unwrap_or_default(),
            condition.message.unwrap_or_default()
        );
    }
    if installation.status.is_none() {
        return "the operator has not reconciled the Installation yet (status empty)".to_string();
    }
    format!("not rendered by the operator; TigeraStatus {status_name} reports no degradation")
}

/// One `TigeraStatus`, as `kubectl get tigerastatus` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TigeraStatusRow {
    pub name: String,
    /// `True` / `False` / `Unknown`, or empty when the condition is missing.
    pub available: String,
    pub progressing: String,
    pub degraded: String,
    /// Age of the latest condition transition.
    pub since: String,
    /// The Degraded condition's message (kubectl's MESSAGE column).
    pub message: String,
    pub severity: Severity,
}

/// The operator's component statuses, the ones the console cares about first
/// (`calico`, `calico-windows`, `apiserver`, `ippools`), then the rest by name.
pub fn tigera_statuses(snapshot: &ClusterSnapshot) -> Vec<TigeraStatusRow> {
    const FIRST: [&str; 4] = ["calico", "calico-windows", "apiserver", "ippools"];
    let mut rows: Vec<TigeraStatusRow> = snapshot
        .tigera_statuses
        .iter()
        .map(|s| {
            let status = |t: &str| s.condition(t).map(|c| c.status.clone()).unwrap_or_default();
            let latest = s
                .status
                .iter()
                .flat_map(|st| &st.conditions)
                .filter_map(|c| c.last_transition_time.as_deref())
                .filter_map(|t| Timestamp::from_str(t).ok())
                .max();
            let degraded = status("Degraded");
            let available = status("Available");
            let severity = if degraded == "True" {
                Severity::Error
            } else if available != "True" {
                Severity::Warning
            } else {
                Severity::Ok
            };
            TigeraStatusRow {
                name: s.metadata.name.clone().unwrap_or_default(),
                progressing: status("Progressing"),
                message: s
                    .condition("Degraded")
                    .and_then(|c| c.message.clone())
                    .unwrap_or_default(),
                since: latest
                    .map_or_else(String::new, |t| printers::age(Some(t), snapshot.taken_at)),
                available,
                degraded,
                severity,
            }
        })
        .collect();
    let rank = |name: &str| FIRST.iter().position(|f| *f == name).unwrap_or(FIRST.len());
    rows.sort_by(|a, b| {
        rank(&a.name)
            .cmp(&rank(&b.name))
            .then_with(|| a.name.cmp(&b.name))
    });
    rows
}
