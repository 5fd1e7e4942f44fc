//! The ReplicaSet controller (`replicaset-controller`): keeps `spec.replicas` active pods made
//! from the template, deleting surplus ones in upstream's order (unscheduled, pending, not
//! ready, crowded, recently ready, restarting, newest first), and reports `status` as
//! upstream computes it. `run` also starts the Deployment controller (`deployment`), which
//! drives ReplicaSets through rollouts; together they are what brings evicted workload pods
//! back on other nodes during a drain. It owns ReplicaSet status and the pods it creates or
//! deletes; it never schedules pods, never writes pod status and does not adopt orphans.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use super::control_loop::{self, Feed, Reconcile};
use super::events::{EventKind, Recorder};
use super::informer::{Change, Informer, Key};
use super::workload::{
    FIELD_MANAGER, OwnerIndex, PodFacts, WorkQueue, apps_ref, controller_ref_json, follow,
    just_after, string_map,
};
use crate::sim::clock::rfc3339;
use crate::sim::resource::ResourceType;
use crate::sim::selector::LabelSelector;
use crate::sim::store::{Store, StoredObject};
use crate::sim::write::{DeleteOptions, Part, WriteOptions};

/// At most this many pods are created or deleted per sync, as upstream's `burstReplicas`.
const BURST_REPLICAS: usize = 500;
/// How long to wait before retrying a sync whose writes failed (simulated).
const RETRY_AFTER: SignedDuration = SignedDuration::from_secs(1);

/// Runs the ReplicaSet and Deployment controllers until the store shuts down.
pub async fn run(store: Arc<Store>) {
    let replicasets = async {
        if let Some(controller) = ReplicaSetController::start(&store).await {
            control_loop::run(&store, controller).await;
        }
    };
    tokio::join!(replicasets, super::deployment::run(Arc::clone(&store)));
}

#[derive(Debug)]
struct ReplicaSetFacts {
    namespace: String,
    name: String,
    uid: String,
    generation: i64,
    deleting: bool,
    replicas: i64,
    min_ready_seconds: i64,
    selector: LabelSelector,
    template_labels: BTreeMap<String, String>,
    object: Value,
}

impl ReplicaSetFacts {
    fn from_stored(obj: &StoredObject) -> Option<Self> {
        let object = obj.value().ok()?;
        let spec = &object["spec"];
        Some(Self {
            namespace: obj.namespace.clone(),
            name: obj.name.clone(),
            uid: obj.uid.clone(),
            generation: object
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1),
            deleting: object.pointer("/metadata/deletionTimestamp").is_some(),
            replicas: spec.get("replicas").and_then(Value::as_i64).unwrap_or(1),
            min_ready_seconds: spec
                .get("minReadySeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            selector: spec
                .get("selector")
                .and_then(|s| LabelSelector::from_json(s).ok())
                .unwrap_or_else(LabelSelector::nothing),
            template_labels: string_map(spec.pointer("/template/metadata/labels")),
            object,
        })
    }

    fn key(&self) -> Key {
        (self.namespace.clone(), self.name.clone())
    }
}

fn replicaset_pod(obj: &StoredObject) -> Option<PodFacts> {
    PodFacts::from_stored(obj).filter(|p| p.controlled_by_kind("ReplicaSet"))
}

/// The status counters of a ReplicaSet.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    replicas: i64,
    fully_labeled: i64,
    ready: i64,
    available: i64,
}

struct ReplicaSetController {
    store: Arc<Store>,
    recorder: Recorder,
    pods_rt: Arc<ResourceType>,
    replicasets_rt: Arc<ResourceType>,
    replicasets: Informer<ReplicaSetFacts>,
    pods: Informer<PodFacts>,
    replicaset_by_uid: HashMap<String, Key>,
    pods_by_owner: OwnerIndex,
    queue: WorkQueue,
}

impl Reconcile for ReplicaSetController {
    fn feeds() -> Vec<Feed<Self>> {
        vec![
            Feed::informer(|c| &mut c.replicasets, Self::on_replicasets),
            Feed::informer(|c| &mut c.pods, Self::on_pods),
        ]
    }

    fn queue(&mut self) -> &mut WorkQueue {
        &mut self.queue
    }

    fn sync(&mut self, key: &Key, now: Timestamp) {
        let Some(rs) = self.replicasets.get(&key.0, &key.1).map(Arc::clone) else {
            return;
        };
        let active: Vec<Arc<PodFacts>> = self
            .pods_by_owner
            .owned(&rs.uid)
            .filter_map(|(ns, name)| self.pods.get(ns, name))
            .filter(|p| p.is_active() && p.labels.selected_by(&rs.selector))
            .cloned()
            .collect();
        let failure = if rs.deleting {
            None
        } else {
            self.manage_replicas(&rs, &active)
        };
        if failure.is_some() {
            self.queue
                .add_after(key.clone(), now.checked_add(RETRY_AFTER).unwrap_or(now));
        }
        self.update_status(&rs, &active, failure, now);
    }
}

impl ReplicaSetController {
    async fn start(store: &Arc<Store>) -> Option<Self> {
        let replicasets = follow(
            store,
            "apps",
            "v1",
            "replicasets",
            ReplicaSetFacts::from_stored,
        )
        .await?;
        let pods = follow(store, "", "v1", "pods", replicaset_pod).await?;
        let registry = store.registry();
        Some(Self {
            store: Arc::clone(store),
            recorder: Recorder::new(store, "replicaset-controller"),
            pods_rt: registry.get("", "v1", "pods")?,
            replicasets_rt: registry.get("apps", "v1", "replicasets")?,
            replicasets,
            pods,
            replicaset_by_uid: HashMap::new(),
            pods_by_owner: OwnerIndex::default(),
            queue: WorkQueue::default(),
        })
    }

    fn on_replicasets(&mut self, batch: Vec<Change<ReplicaSetFacts>>) {
        for change in batch {
            match change {
                Change::Upsert(key, rs) => {
                    self.replicaset_by_uid.insert(rs.uid.clone(), key.clone());
                    self.queue.add(key);
                }
                Change::Removed(key) => {
                    self.replicaset_by_uid.retain(|_, k| *k != key);
                    self.queue.forget(&key);
                }
            }
        }
    }

    fn on_pods(&mut self, batch: Vec<Change<PodFacts>>) {
        for change in batch {
            let (previous, current) = match &change {
                Change::Upsert(key, pod) => (
                    self.pods_by_owner.set(key, pod.controller_uid()),
                    pod.controller_uid().map(str::to_string),
                ),
                Change::Removed(key) => (self.pods_by_owner.remove(key), None),
            };
            for uid in [previous, current].into_iter().flatten() {
                if let Some(key) = self.replicaset_by_uid.get(&uid) {
                    self.queue.add(key.clone());
                }
            }
        }
    }

    /// Creates or deletes pods towards `spec.replicas`; the error of a failed write, if any.
    fn manage_replicas(
        &mut self,
        rs: &ReplicaSetFacts,
        active: &[Arc<PodFacts>],
    ) -> Option<(&'static str, String)> {
        let subject = apps_ref("ReplicaSet", &rs.namespace, &rs.name, &rs.uid);
        let have = i64::try_from(active.len()).unwrap_or(i64::MAX);
        let missing = usize::try_from(rs.replicas - have)
            .unwrap_or(0)
            .min(BURST_REPLICAS);
        for _ in 0..missing {
            match self.store.create(
                &self.pods_rt,
                Some(&rs.namespace),
                pod_from_template(rs),
                &WriteOptions::manager(FIELD_MANAGER),
            ) {
                Ok(written) => {
                    let message = format!("Created pod: {}", written.object.name);
                    self.recorder
                        .record(&subject, EventKind::Normal, "SuccessfulCreate", &message);
                }
                Err(err) => {
                    let message = format!("Error creating: {}", err.message);
                    self.recorder
                        .record(&subject, EventKind::Warning, "FailedCreate", &message);
                    return Some(("FailedCreate", err.message));
                }
            }
        }
        let surplus = usize::try_from(have - rs.replicas)
            .unwrap_or(0)
            .min(BURST_REPLICAS);
        let mut failure = None;
        for pod in pods_to_delete(active, surplus) {
            let opts = DeleteOptions {
                precondition_uid: Some(pod.uid.clone()),
                ..DeleteOptions::default()
            };
            match self
                .store
                .delete(&self.pods_rt, &pod.namespace, &pod.name, &opts)
            {
                Ok(_) => {
                    let message = format!("Deleted pod: {}", pod.name);
                    self.recorder
                        .record(&subject, EventKind::Normal, "SuccessfulDelete", &message);
                }
                Err(err) if err.code == 404 => {}
                Err(err) => {
                    let message = format!("Error deleting: {}", err.message);
                    self.recorder
                        .record(&subject, EventKind::Warning, "FailedDelete", &message);
                    failure = Some(("FailedDelete", err.message));
                }
            }
        }
        failure
    }

    fn update_status(
        &mut self,
        rs: &ReplicaSetFacts,
        active: &[Arc<PodFacts>],
        failure: Option<(&'static str, String)>,
        now: Timestamp,
    ) {
        let mut counts = Counts {
            replicas: i64::try_from(active.len()).unwrap_or(i64::MAX),
            ..Counts::default()
        };
        let mut next_available: Option<Timestamp> = None;
        for pod in active {
            counts.fully_labeled += i64::from(pod.labels.contains_all(&rs.template_labels));
            if pod.ready {
                counts.ready += 1;
                if pod.is_available(rs.min_ready_seconds, now) {
                    counts.available += 1;
                } else if let Some(at) = pod.available_after(rs.min_ready_seconds) {
                    next_available = Some(next_available.map_or(at, |n| n.min(at)));
                }
            }
        }
        if let Some(at) = next_available.filter(|_| failure.is_none()) {
            self.queue.add_after(rs.key(), just_after(at));
        }
        let previous = &rs.object["status"];
        let status = status_json(previous, &counts, rs.generation, failure, now);
        if without_condition_times(&status) == without_condition_times(previous) {
            return;
        }
        let mut body = rs.object.clone();
        body["status"] = status;
        let result = self.store.update(
            &self.replicasets_rt,
            &rs.namespace,
            &rs.name,
            &body,
            Part::Status,
            &WriteOptions::manager(FIELD_MANAGER),
        );
        if let Err(err) = result {
            tracing::debug!(replicaset = %rs.name, %err, "updating status");
            self.queue
                .add_after(rs.key(), now.checked_add(RETRY_AFTER).unwrap_or(now));
        }
    }
}

/// A pod as `GetPodFromTemplate` makes it: the template's labels, annotations, finalizers
/// and spec under a generated name, controlled by the ReplicaSet.
fn pod_from_template(rs: &ReplicaSetFacts) -> Value {
    let template = rs
        .object
        .pointer("/spec/template")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut metadata = json!({
        "generateName": format!("{}-", rs.name),
        "namespace": rs.namespace,
        "ownerReferences": [controller_ref_json("ReplicaSet", &rs.name, &rs.uid)],
    });
    for key in ["labels", "annotations", "finalizers"] {
        if let Some(value) = template.pointer(&format!("/metadata/{key}")) {
            metadata[key] = value.clone();
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template.get("spec").cloned().unwrap_or_else(|| json!({}))})
}

/// The `count` pods a scale-down removes first (`ActivePodsWithRanks`): unscheduled before
/// scheduled, pending before running, not ready before ready, crowded nodes first, then the
/// most recently ready, the most restarted and the newest.
fn pods_to_delete(active: &[Arc<PodFacts>], count: usize) -> Vec<Arc<PodFacts>> {
    if count == 0 {
        return Vec::new();
    }
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for pod in active.iter().filter(|p| !p.node_name.is_empty()) {
        *per_node.entry(pod.node_name.as_str()).or_default() += 1;
    }
    let crowding = |p: &PodFacts| {
        if p.node_name.is_empty() {
            0
        } else {
            per_node.get(p.node_name.as_str()).copied().unwrap_or(0)
        }
    };
    let mut ranked: Vec<&Arc<PodFacts>> = active.iter().collect();
    ranked.sort_by(|a, b| {
        (!a.node_name.is_empty())
            .cmp(&!b.node_name.is_empty())
            .then(a.phase.cmp(&b.phase))
            .then(a.ready.cmp(&b.ready))
            .then(crowding(b).cmp(&crowding(a)))
            .then_with(|| {
                if a.ready && b.ready {
                    b.ready_since.cmp(&a.ready_since)
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .then(b.restarts.cmp(&a.restarts))
            .then(b.created.cmp(&a.created))
            .then_with(|| a.name.cmp(&b.name))
    });
    ranked.into_iter().take(count).cloned().collect()
}

/// The new status. Zero counters other than `replicas` are left out, as the Go type's
/// `omitempty` leaves them out; a failed create or delete shows as `ReplicaFailure`.
fn status_json(
    previous: &Value,
    counts: &Counts,
    generation: i64,
    failure: Option<(&'static str, String)>,
    now: Timestamp,
) -> Value {
    let mut status = previous.as_object().cloned().unwrap_or_else(Map::new);
    status.insert("replicas".to_string(), json!(counts.replicas));
    for (key, value) in [
        ("fullyLabeledReplicas", counts.fully_labeled),
        ("readyReplicas", counts.ready),
        ("availableReplicas", counts.available),
        ("observedGeneration", generation),
    ] {
        if value == 0 {
            status.remove(key);
        } else {
            status.insert(key.to_string(), json!(value));
        }
    }
    let mut conditions: Vec<Value> = status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has_failure = conditions.iter().any(|c| c["type"] == "ReplicaFailure");
    match failure {
        Some((reason, message)) if !has_failure => conditions.push(json!({
            "type": "ReplicaFailure", "status": "True", "lastTransitionTime": rfc3339(now), "reason": reason, "message": message,
        })),
        None if has_failure => conditions.retain(|c| c["type"] != "ReplicaFailure"),
        _ => {}
    }
    if conditions.is_empty() {
        status.remove("conditions");
    } else {
        status.insert("conditions".to_string(), Value::Array(conditions));
    }
    Value::Object(status)
}

/// A status without its condition timestamps, to tell a real change from a re-stamp.
fn without_condition_times(status: &Value) -> Value {
    let mut status = status.clone();
    if let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) {
        for condition in conditions.iter_mut().filter_map(Value::as_object_mut) {
            condition.remove("lastTransitionTime");
        }
    }
    status
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::sim::clock::{Clock, rfc3339};
    use crate::sim::controllers::control_loop::eventually;
    use crate::sim::controllers::workload::TestClock;
    use crate::sim::store::{ListOptions, StoreConfig};
    use crate::sim::write::PatchType;
    use std::time::Duration;

    struct Cluster {
        store: Arc<Store>,
        clock: Arc<TestClock>,
    }

    impl Cluster {
        fn new() -> Self {
            let clock = Arc::new(TestClock::new("2026-11-29T10:00:00Z"));
            let store = Arc::new(Store::new(clock.clone(), StoreConfig::default()));
            let ns = store.registry().get("", "v1", "namespaces").unwrap();
            store
                .seed(
                    &ns,
                    json!({"metadata": {"name": "default"}, "status": {"phase": "Active"}}),
                )
                .unwrap();
            tokio::spawn(run(Arc::clone(&store)));
            Self { store, clock }
        }

        fn rt(&self, group: &str, plural: &str) -> Arc<ResourceType> {
            self.store.registry().get(group, "v1", plural).unwrap()
        }

        fn create(&self, kind: &str, plural: &str, name: &str, spec: Value) {
            let mut body = json!({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": "default"}});
            body["spec"] = spec;
            self.store
                .create(
                    &self.rt("apps", plural),
                    None,
                    body,
                    &WriteOptions::default(),
                )
                .unwrap();
        }

        fn patch(&self, plural: &str, name: &str, patch: &Value) {
            self.store
                .patch(
                    &self.rt("apps", plural),
                    "default",
                    name,
                    PatchType::Merge,
                    patch,
                    Part::Main,
                    &WriteOptions::default(),
                )
                .unwrap();
        }

        fn get(&self, plural: &str, name: &str) -> Value {
            self.store
                .get(&self.rt("apps", plural), "default", name)
                .unwrap()
                .value()
                .unwrap()
        }

        fn list(&self, group: &str, plural: &str) -> Vec<Value> {
            let page = self
                .store
                .list(
                    &self.rt(group, plural),
                    Some("default"),
                    &ListOptions::default(),
                )
                .unwrap();
            page.items.iter().map(|o| o.value().unwrap()).collect()
        }

        fn live_pods(&self) -> Vec<Value> {
            self.list("", "pods")
                .into_iter()
                .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
                .collect()
        }

        fn events(&self, reason: &str) -> Vec<String> {
            self.list("", "events")
                .into_iter()
                .filter(|e| e["reason"] == reason)
                .map(|e| e["message"].as_str().unwrap().to_string())
                .collect()
        }

        fn set_ready(&self, name: &str, ready: bool) {
            let now = rfc3339(self.clock.now());
            let status = if ready { "True" } else { "False" };
            let patch = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": status, "lastTransitionTime": now}]}});
            self.store
                .patch(
                    &self.rt("", "pods"),
                    "default",
                    name,
                    PatchType::Merge,
                    &patch,
                    Part::Status,
                    &WriteOptions::default(),
                )
                .unwrap();
        }

        /// Scheduler and kubelet in one step: binds pods round robin over three nodes, makes
        /// bound pods Ready, finishes deletions.
        fn kubelet_step(&self) {
            let pods = self.rt("", "pods");
            for (i, pod) in self.list("", "pods").into_iter().enumerate() {
                let name = pod["metadata"]["name"].as_str().unwrap();
                if pod.pointer("/metadata/deletionTimestamp").is_some() {
                    let opts = DeleteOptions {
                        grace_period_seconds: Some(0),
                        ..DeleteOptions::default()
                    };
                    let _ = self.store.delete(&pods, "default", name, &opts);
                } else if pod["spec"]["nodeName"].is_null() {
                    let bind = json!({"spec": {"nodeName": format!("node-{}", i % 3)}});
                    self.store
                        .patch(
                            &pods,
                            "default",
                            name,
                            PatchType::Merge,
                            &bind,
                            Part::Main,
                            &WriteOptions::default(),
                        )
                        .unwrap();
                } else if pod["status"]["phase"] != "Running" {
                    self.set_ready(name, true);
                }
            }
        }

        async fn converge(
            &self,
            what: &str,
            done: impl Fn(&Self) -> bool,
            invariant: impl Fn(&Self),
        ) {
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_millis(150)).await;
                invariant(self);
                if done(self) {
                    return;
                }
                self.kubelet_step();
            }
            let brief = |v: &Value| json!({"name": v["metadata"]["name"], "spec": v["spec"]["replicas"], "status": v["status"], "annotations": v["metadata"]["annotations"]});
            let replicasets: Vec<Value> =
                self.list("apps", "replicasets").iter().map(brief).collect();
            let deployments: Vec<Value> =
                self.list("apps", "deployments").iter().map(brief).collect();
            let pods: Vec<Value> = self
                .list("", "pods")
                .iter()
                .map(|p| {
                    json!([
                        p["metadata"]["name"],
                        p["status"]["phase"],
                        p["metadata"]["deletionTimestamp"]
                    ])
                })
                .collect();
            panic!(
                "timed out waiting for {what}: {:#} {:#} {:#}",
                Value::from(deployments),
                Value::from(replicasets),
                Value::from(pods)
            );
        }
    }

    impl Drop for Cluster {
        fn drop(&mut self) {
            self.store.shutdown.cancel();
        }
    }

    fn template(image: &str) -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}})
    }

    fn counts(status: &Value, keys: &[&str]) -> Vec<i64> {
        keys.iter()
            .map(|k| status.get(*k).and_then(Value::as_i64).unwrap_or(0))
            .collect()
    }

    const RS_KEYS: &[&str] = &[
        "replicas",
        "fullyLabeledReplicas",
        "readyReplicas",
        "availableReplicas",
        "observedGeneration",
    ];

    #[tokio::test]
    async fn replicaset_keeps_its_replicas() {
        let c = Cluster::new();
        c.create("ReplicaSet", "replicasets", "web", json!({"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template("nginx:1.25")}));
        eventually("three pods", || c.live_pods().len() == 3).await;
        for pod in c.live_pods() {
            let name = pod["metadata"]["name"].as_str().unwrap();
            assert_eq!(name.strip_prefix("web-").map(str::len), Some(5), "{name}");
            assert_eq!(pod["metadata"]["labels"], json!({"app": "web"}));
            assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
            assert_eq!(pod["metadata"]["ownerReferences"][0]["controller"], true);
        }
        eventually("status of pending pods", || {
            counts(&c.get("replicasets", "web")["status"], RS_KEYS) == [3, 3, 0, 0, 1]
        })
        .await;
        assert!(
            c.get("replicasets", "web")["status"]
                .get("readyReplicas")
                .is_none(),
            "zero counters are omitted"
        );
        assert_eq!(c.events("SuccessfulCreate").len(), 3);

        // Bind all three; make two ready ten seconds apart and leave one not ready.
        c.kubelet_step();
        let names: Vec<String> = c
            .live_pods()
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        c.set_ready(&names[0], true);
        c.clock.advance(SignedDuration::from_secs(10));
        c.set_ready(&names[1], true);
        c.set_ready(&names[2], false);
        eventually("two ready", || {
            counts(&c.get("replicasets", "web")["status"], RS_KEYS) == [3, 3, 2, 2, 1]
        })
        .await;

        // Scale down to one: the not-ready pod goes first, then the most recently ready.
        c.patch("replicasets", "web", &json!({"spec": {"replicas": 1}}));
        eventually("one live pod", || c.live_pods().len() == 1).await;
        assert_eq!(c.live_pods()[0]["metadata"]["name"], names[0].as_str());
        let mut deleted = c.events("SuccessfulDelete");
        deleted.sort();
        let mut expected = vec![
            format!("Deleted pod: {}", names[1]),
            format!("Deleted pod: {}", names[2]),
        ];
        expected.sort();
        assert_eq!(deleted, expected);

        // An evicted pod comes back as a new one.
        c.converge(
            "one replica after the deletions",
            |c| c.list("", "pods").len() == 1,
            |_| {},
        )
        .await;
        let pods = c.rt("", "pods");
        c.store
            .delete(
                &pods,
                "default",
                &names[0],
                &DeleteOptions {
                    grace_period_seconds: Some(0),
                    ..DeleteOptions::default()
                },
            )
            .unwrap();
        eventually("a replacement", || {
            c.live_pods().len() == 1 && c.live_pods()[0]["metadata"]["name"] != names[0].as_str()
        })
        .await;
        c.converge(
            "the replacement ready",
            |c| counts(&c.get("replicasets", "web")["status"], RS_KEYS) == [1, 1, 1, 1, 2],
            |_| {},
        )
        .await;
    }

    /// A Deployment `web` of 4 replicas, rolled out and ready; returns its ReplicaSet's name.
    async fn rolled_out_web(c: &Cluster) -> String {
        c.create("Deployment", "deployments", "web", json!({"replicas": 4, "selector": {"matchLabels": {"app": "web"}}, "template": template("nginx:1.25")}));
        c.converge(
            "the first rollout",
            |c| {
                let d = c.get("deployments", "web");
                counts(
                    &d["status"],
                    &[
                        "replicas",
                        "updatedReplicas",
                        "readyReplicas",
                        "availableReplicas",
                        "unavailableReplicas",
                    ],
                ) == [4, 4, 4, 4, 0]
                    && d["status"]["conditions"][1]["reason"] == "NewReplicaSetAvailable"
            },
            |_| {},
        )
        .await;
        c.list("apps", "replicasets")[0]["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn deployment_creates_its_replicaset() {
        let c = Cluster::new();
        rolled_out_web(&c).await;
        let d = c.get("deployments", "web");
        let first = c.list("apps", "replicasets");
        assert_eq!(first.len(), 1);
        let first_name = first[0]["metadata"]["name"].as_str().unwrap().to_string();
        let hash = template_hash_of(&d);
        assert_eq!(first_name, format!("web-{hash}"));
        assert_eq!(
            first[0]["spec"]["selector"]["matchLabels"],
            json!({"app": "web", "pod-template-hash": hash})
        );
        assert_eq!(
            first[0]["spec"]["template"]["metadata"]["labels"]["pod-template-hash"],
            hash.as_str()
        );
        assert_eq!(
            first[0]["metadata"]["annotations"],
            json!({"deployment.kubernetes.io/revision": "1",
            "deployment.kubernetes.io/desired-replicas": "4", "deployment.kubernetes.io/max-replicas": "5"})
        );
        assert_eq!(
            d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
            "1"
        );
        let conditions = d["status"]["conditions"].as_array().unwrap();
        assert_eq!(
            (
                conditions[0]["type"].as_str(),
                conditions[0]["reason"].as_str()
            ),
            (Some("Available"), Some("MinimumReplicasAvailable"))
        );
        assert_eq!(
            conditions[0]["message"],
            "Deployment has minimum availability."
        );
        assert_eq!(
            conditions[1]["message"],
            format!("ReplicaSet \"{first_name}\" has successfully progressed.")
        );
        assert_eq!(
            c.events("ScalingReplicaSet"),
            [format!("Scaled up replica set {first_name} from 0 to 4")]
        );
    }

    #[tokio::test]
    async fn deployment_rolls_to_a_new_replicaset() {
        let c = Cluster::new();
        let first_name = rolled_out_web(&c).await;
        // A new image: never more than 5 pods (maxSurge 1), never fewer than 3 ready (maxUnavailable 1).
        c.patch("deployments", "web", &json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}));
        let saw_progressing = std::sync::Mutex::new(false);
        c.converge(
            "the second rollout",
            |c| {
                let d = c.get("deployments", "web");
                counts(
                    &d["status"],
                    &[
                        "replicas",
                        "updatedReplicas",
                        "availableReplicas",
                        "observedGeneration",
                    ],
                ) == [4, 4, 4, 2]
                    && d["status"]["conditions"][1]["reason"] == "NewReplicaSetAvailable"
                    && c.list("", "pods").len() == 4
            },
            |c| {
                let live = c.live_pods();
                assert!(live.len() <= 5, "surge beyond one: {}", live.len());
                let ready = live
                    .iter()
                    .filter(|p| p["status"]["phase"] == "Running")
                    .count();
                assert!(ready >= 3, "only {ready} ready");
                let d = c.get("deployments", "web");
                if d["status"]["conditions"][1]["reason"] == "ReplicaSetUpdated" {
                    *saw_progressing.lock().unwrap() = true;
                }
            },
        )
        .await;
        assert!(
            *saw_progressing.lock().unwrap(),
            "Progressing showed ReplicaSetUpdated during the rollout"
        );
        let d = c.get("deployments", "web");
        assert_eq!(
            d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
            "2"
        );
        let replicasets = c.list("apps", "replicasets");
        assert_eq!(replicasets.len(), 2);
        let old = replicasets
            .iter()
            .find(|rs| rs["metadata"]["name"] == first_name.as_str())
            .unwrap();
        let new = replicasets
            .iter()
            .find(|rs| rs["metadata"]["name"] != first_name.as_str())
            .unwrap();
        let new_name = new["metadata"]["name"].as_str().unwrap().to_string();
        assert_eq!(old["spec"]["replicas"], 0);
        assert_eq!(new["spec"]["replicas"], 4);
        assert_eq!(
            new["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
            "2"
        );
        assert_eq!(
            d["status"]["conditions"][1]["message"],
            format!("ReplicaSet \"{new_name}\" has successfully progressed.")
        );
        let scaling = c.events("ScalingReplicaSet");
        assert!(
            scaling.contains(&format!("Scaled up replica set {new_name} from 0 to 1")),
            "{scaling:#?}"
        );
        let down = format!("Scaled down replica set {first_name} from ");
        assert!(
            scaling
                .iter()
                .any(|m| m.starts_with(&down) && m.ends_with(" to 0")),
            "{scaling:#?}"
        );
        assert!(
            c.live_pods()
                .iter()
                .all(|p| p["metadata"]["labels"]["pod-template-hash"]
                    == new_name.trim_start_matches("web-"))
        );

        // Scaling the Deployment scales its one active ReplicaSet.
        c.patch("deployments", "web", &json!({"spec": {"replicas": 6}}));
        eventually("six replicas", || {
            c.get("replicasets", &new_name)["spec"]["replicas"] == 6
        })
        .await;
        assert!(
            c.events("ScalingReplicaSet")
                .contains(&format!("Scaled up replica set {new_name} from 4 to 6"))
        );
    }

    fn template_hash_of(d: &Value) -> String {
        super::super::workload::template_hash(&d["spec"]["template"], None)
    }

    #[tokio::test]
    async fn recreate_stops_old_pods_before_starting_new_ones() {
        let c = Cluster::new();
        c.create(
            "Deployment",
            "deployments",
            "web",
            json!({"replicas": 2, "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": "web"}}, "template": template("nginx:1.25")}),
        );
        c.converge(
            "running",
            |c| {
                counts(
                    &c.get("deployments", "web")["status"],
                    &["availableReplicas"],
                ) == [2]
            },
            |_| {},
        )
        .await;
        c.patch("deployments", "web", &json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}));
        c.converge(
            "recreated",
            |c| {
                counts(
                    &c.get("deployments", "web")["status"],
                    &["updatedReplicas", "availableReplicas", "observedGeneration"],
                ) == [2, 2, 2]
            },
            |c| {
                let hashes: std::collections::BTreeSet<String> = c
                    .live_pods()
                    .iter()
                    .map(|p| {
                        p["metadata"]["labels"]["pod-template-hash"]
                            .as_str()
                            .unwrap()
                            .to_string()
                    })
                    .collect();
                assert!(hashes.len() <= 1, "old and new pods at once: {hashes:?}");
            },
        )
        .await;
    }
}
