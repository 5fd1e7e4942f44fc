//! Which nodes a DaemonSet wants a pod on, as the DaemonSet controller decides it: the pod
//! template's node selector, its required node affinity (labels and `metadata.name` fields),
//! and NoSchedule/NoExecute taints against its tolerations plus the ones the controller adds to
//! every daemon pod. Owns only that predicate.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, Taint, Toleration};

/// Whether the DaemonSet controller would want a pod on the node: the template's node
/// selector, required node affinity, and NoSchedule/NoExecute taints against its tolerations
/// plus the ones the controller adds to every daemon pod.
pub fn should_run(ds: &DaemonSet, node: &Node) -> bool {
    let Some(template) = ds.spec.template.spec.as_ref() else {
        return false;
    };
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let selector_ok = template
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    if !selector_ok {
        return false;
    }
    let terms = template
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|r| r.node_selector_terms.as_slice());
    if let Some(terms) = terms
        && !terms.is_empty()
    {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        let any = terms.iter().any(|term| {
            let labels_ok = term
                .match_expressions
                .iter()
                .flatten()
                .all(|req| requirement_matches(req, |k| labels.get(k).map(String::as_str)));
            let fields_ok =
                term.match_fields.iter().flatten().all(|req| {
                    requirement_matches(req, |k| (k == "metadata.name").then_some(name))
                });
            labels_ok && fields_ok
        });
        if !any {
            return false;
        }
    }
    let host_network = template.host_network.unwrap_or(false);
    let tolerations = template.tolerations.as_deref().unwrap_or_default();
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|taint| {
            tolerations.iter().any(|t| tolerates(t, taint)) || daemon_tolerates(taint, host_network)
        })
}

fn requirement_matches<'v>(
    req: &NodeSelectorRequirement,
    value_of: impl Fn(&str) -> Option<&'v str>,
) -> bool {
    let value = value_of(&req.key);
    let values = req.values.as_deref().unwrap_or_default();
    let number = |v: &str| v.parse::<i64>().ok();
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| values.iter().all(|x| x != v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => {
            matches!((value.and_then(number), values.first().and_then(|v| number(v))), (Some(a), Some(b)) if a > b)
        }
        "Lt" => {
            matches!((value.and_then(number), values.first().and_then(|v| number(v))), (Some(a), Some(b)) if a < b)
        }
        _ => false,
    }
}

fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect_ok = toleration
        .effect
        .as_deref()
        .is_none_or(|e| e.is_empty() || e == taint.effect);
    let key = toleration.key.as_deref().unwrap_or_default();
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => effect_ok && (key.is_empty() || key == taint.key),
        _ => {
            effect_ok
                && key == taint.key
                && toleration.value.as_deref().unwrap_or_default()
                    == taint.value.as_deref().unwrap_or_default()
        }
    }
}

/// The tolerations the DaemonSet controller adds to every daemon pod.
fn daemon_tolerates(taint: &Taint, host_network: bool) -> bool {
    match (taint.key.as_str(), taint.effect.as_str()) {
        ("node.kubernetes.io/not-ready" | "node.kubernetes.io/unreachable", "NoExecute")
        | (
            "node.kubernetes.io/disk-pressure"
            | "node.kubernetes.io/memory-pressure"
            | "node.kubernetes.io/pid-pressure"
            | "node.kubernetes.io/unschedulable",
            "NoSchedule",
        ) => true,
        ("node.kubernetes.io/network-unavailable", "NoSchedule") => host_network,
        _ => false,
    }
}
