//! The node agents' side of pod deletion, on its own: once a terminating pod's grace period has run out
//! (its containers are stopped), the kubelet removes the pod object with a zero grace period.
//! The API server never removes a scheduled, running pod by itself; without this duty every
//! `kubectl drain` would wait forever.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::sim::clock::parse_time;
use crate::sim::store::{EventType, ListOptions, Store, StoredObject};
use crate::sim::write::DeleteOptions;

/// How often due terminations are checked against the (possibly simulated) clock.
const TICK: Duration = Duration::from_millis(200);

/// A pod waiting for its grace period to end.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Terminating {
    namespace: String,
    name: String,
    uid: String,
}

/// Follows pods and deletes each terminating one when its `deletionTimestamp` arrives.
pub async fn finish_terminations(store: Arc<Store>) {
    let Some(pods) = store.registry().get("", "v1", "pods") else {
        return;
    };
    let shutdown = store.shutdown.clone();
    'resync: loop {
        let (items, _, mut changes) =
            store.snapshot_and_follow(&pods, None, &ListOptions::default());
        let mut due: BTreeMap<Terminating, Timestamp> = BTreeMap::new();
        for pod in &items {
            track(&mut due, pod, EventType::Added);
        }
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => {
                    tracing::debug!("kubelet terminations stopped");
                    return;
                }
                change = changes.recv() => match change {
                    Ok(event) => track(&mut due, &event.object, event.kind),
                    Err(RecvError::Lagged(_)) => continue 'resync,
                    Err(RecvError::Closed) => return,
                },
                _ = ticker.tick() => {
                    let now = store.clock.now();
                    let ready: Vec<Terminating> = due.iter().filter(|(_, at)| **at <= now).map(|(pod, _)| pod.clone()).collect();
                    for pod in ready {
                        due.remove(&pod);
                        let opts = DeleteOptions { grace_period_seconds: Some(0), precondition_uid: Some(pod.uid.clone()), ..DeleteOptions::default() };
                        if let Err(err) = store.delete(&pods, &pod.namespace, &pod.name, &opts) {
                            // Gone already or replaced by a new pod of the same name: nothing to finish.
                            tracing::debug!(pod = %pod.name, %err, "finishing termination");
                        }
                    }
                }
            }
        }
    }
}

fn track(due: &mut BTreeMap<Terminating, Timestamp>, pod: &StoredObject, kind: EventType) {
    let key = Terminating {
        namespace: pod.namespace.clone(),
        name: pod.name.clone(),
        uid: pod.uid.clone(),
    };
    if kind == EventType::Deleted {
        due.remove(&key);
        return;
    }
    let Ok(value) = pod.value() else { return };
    let grace = value
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let deadline = value
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(parse_time);
    match deadline {
        Some(at) if grace > 0 => {
            due.insert(key, at);
        }
        _ => {
            due.remove(&key);
        }
    }
}
