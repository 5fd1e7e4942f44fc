//! The disruption controller (`controllermanager`'s PodDisruptionBudget status): for each
//! budget, the pods its selector matches (an empty or missing selector matches none,
//! DOMAIN.md §6.4), how many pods their controllers want (`expectedPods`), how many are
//! healthy, how many must stay healthy, and so how many evictions it allows right now,
//! honouring the evictions the API server recorded in `status.disruptedPods` until their pod
//! is gone, terminating, or two minutes have passed. It writes PodDisruptionBudget status and
//! events only; the eviction subresource (`sim::eviction`) reads what it writes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use super::control_loop::{self, Feed, Reconcile};
use super::events::{EventKind, ObjectRef, Recorder};
use super::informer::{Change, Informer, Key, Subscription};
use super::workload::{FIELD_MANAGER, PodFacts, WorkQueue, follow, just_after, scaled_value};
use crate::sim::clock::{parse_time, rfc3339};
use crate::sim::resource::ResourceType;
use crate::sim::selector::LabelSelector;
use crate::sim::store::{ListOptions, Store, StoredObject, WatchEvent};
use crate::sim::write::{Part, WriteOptions};

/// How long an eviction the API server recorded holds a pod out of the healthy count.
const DELETION_TIMEOUT: SignedDuration = SignedDuration::from_secs(120);
const RETRY_AFTER: SignedDuration = SignedDuration::from_secs(1);

/// Runs the disruption controller until the store shuts down.
pub async fn run(store: Arc<Store>) {
    if let Some(controller) = DisruptionController::start(&store).await {
        control_loop::run(&store, controller).await;
    }
}

#[derive(Debug)]
struct BudgetFacts {
    namespace: String,
    name: String,
    uid: String,
    generation: i64,
    /// `None` for a nil or empty selector, which selects nothing.
    selector: Option<LabelSelector>,
    selector_text: String,
    min_available: Option<Value>,
    max_unavailable: Option<Value>,
    object: Value,
}

impl BudgetFacts {
    fn from_stored(obj: &StoredObject) -> Option<Self> {
        let object = obj.value().ok()?;
        let spec = &object["spec"];
        let raw_selector = spec.get("selector").filter(|s| !s.is_null());
        let selector = raw_selector
            .and_then(|s| LabelSelector::from_json(s).ok())
            .filter(|s| !s.is_empty() && !s.matches_nothing());
        Some(Self {
            namespace: obj.namespace.clone(),
            name: obj.name.clone(),
            uid: obj.uid.clone(),
            generation: object
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1),
            selector,
            selector_text: raw_selector.map_or_else(|| "nil".to_string(), Value::to_string),
            min_available: spec.get("minAvailable").filter(|v| !v.is_null()).cloned(),
            max_unavailable: spec.get("maxUnavailable").filter(|v| !v.is_null()).cloned(),
            object,
        })
    }

    fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        self.selector.as_ref().is_some_and(|s| s.matches(labels))
    }

    fn subject(&self) -> ObjectRef {
        ObjectRef {
            api_version: "policy/v1".to_string(),
            kind: "PodDisruptionBudget".to_string(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            uid: self.uid.clone(),
        }
    }
}

/// A workload controller's wanted scale, as the budget's denominator needs it.
#[derive(Debug)]
struct Scalable {
    uid: String,
    replicas: i64,
    /// The controller of a ReplicaSet (kind, name, uid); a Deployment's scale counts instead.
    controller: Option<(String, String, String)>,
}

impl Scalable {
    fn from_stored(obj: &StoredObject) -> Option<Self> {
        let value = obj.value().ok()?;
        let controller = value
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .and_then(|refs| refs.iter().find(|r| r["controller"] == true))
            .map(|r| {
                let field = |key: &str| r[key].as_str().unwrap_or_default().to_string();
                (field("kind"), field("name"), field("uid"))
            });
        Some(Self {
            uid: obj.uid.clone(),
            replicas: value
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1),
            controller,
        })
    }
}

/// What the budget arithmetic needs, before the status is written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tally {
    expected: i64,
    desired: i64,
    healthy: i64,
    allowed: i64,
    disrupted: BTreeMap<String, String>,
}

/// Pod changes as the store publishes them. The controller keeps no pod cache: a budget
/// lists its pods from the store when it syncs, so 50,000 pods cost it nothing between syncs.
struct PodFeed {
    rt: Arc<ResourceType>,
    events: Subscription,
}

impl PodFeed {
    fn start(store: &Store) -> Option<Self> {
        let rt = store.registry().get("", "v1", "pods")?;
        let (_, receiver) = store.follow(&rt, store.current_rv()).ok()?;
        Some(Self {
            rt,
            events: Subscription::new(receiver),
        })
    }
}

struct DisruptionController {
    store: Arc<Store>,
    recorder: Recorder,
    budgets_rt: Arc<ResourceType>,
    budgets: Informer<BudgetFacts>,
    pods: PodFeed,
    replicasets: Informer<Scalable>,
    deployments: Informer<Scalable>,
    queue: WorkQueue,
}

impl Reconcile for DisruptionController {
    fn feeds() -> Vec<Feed<Self>> {
        vec![
            Feed::informer(|c| &mut c.budgets, Self::on_budgets),
            Feed::events(|c| &mut c.pods.events, Self::on_pod, Self::requeue_all),
            Feed::informer(|c| &mut c.replicasets, |c, batch| c.on_scalables(&batch)),
            Feed::informer(|c| &mut c.deployments, |c, batch| c.on_scalables(&batch)),
        ]
    }

    fn queue(&mut self) -> &mut WorkQueue {
        &mut self.queue
    }

    fn sync(&mut self, key: &Key, now: Timestamp) {
        let Some(budget) = self.budgets.get(&key.0, &key.1).map(Arc::clone) else {
            return;
        };
        let pods = self.selected_pods(&budget);
        if pods.is_empty() {
            self.recorder.record(
                &budget.subject(),
                EventKind::Normal,
                "NoPods",
                "No matching pods found",
            );
        }
        let (expected, unmanaged) = self.expected_scale(&pods);
        if !unmanaged.is_empty() {
            let message = format!(
                "Pods selected by this PodDisruptionBudget (selector: {}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.",
                budget.selector_text
            );
            self.recorder.record(
                &budget.subject(),
                EventKind::Warning,
                "UnmanagedPods",
                &message,
            );
        }
        let (expected, desired) = match desired_healthy(
            &budget,
            i64::try_from(pods.len()).unwrap_or(i64::MAX),
            expected,
        ) {
            Ok(numbers) => numbers,
            Err(err) => {
                tracing::debug!(budget = %budget.name, %err, "invalid budget");
                return;
            }
        };
        let (disrupted, recheck) = self.still_disrupted(&budget, &pods, now);
        let healthy = count_healthy(&pods, &disrupted, now);
        let allowed = if expected <= 0 {
            0
        } else {
            (healthy - desired).max(0)
        };
        let tally = Tally {
            expected,
            desired,
            healthy,
            allowed,
            disrupted,
        };
        if let Some(at) = recheck {
            self.queue.add_after(key.clone(), just_after(at));
        }
        self.write_status(&budget, &tally, now);
    }
}

impl DisruptionController {
    async fn start(store: &Arc<Store>) -> Option<Self> {
        let pods = PodFeed::start(store)?;
        let budgets = follow(
            store,
            "policy",
            "v1",
            "poddisruptionbudgets",
            BudgetFacts::from_stored,
        )
        .await?;
        let replicasets = follow(store, "apps", "v1", "replicasets", Scalable::from_stored).await?;
        let deployments = follow(store, "apps", "v1", "deployments", Scalable::from_stored).await?;
        Some(Self {
            store: Arc::clone(store),
            recorder: Recorder::new(store, "controllermanager"),
            budgets_rt: store
                .registry()
                .get("policy", "v1", "poddisruptionbudgets")?,
            budgets,
            pods,
            replicasets,
            deployments,
            queue: WorkQueue::default(),
        })
    }

    /// Events were missed: any budget may have been touched.
    fn requeue_all(&mut self) {
        let keys: Vec<Key> = self.budgets.iter().map(|(k, _)| k.clone()).collect();
        for key in keys {
            self.queue.add(key);
        }
    }

    fn on_budgets(&mut self, batch: Vec<Change<BudgetFacts>>) {
        for change in batch {
            match change {
                Change::Upsert(key, _) => self.queue.add(key),
                Change::Removed(key) => self.queue.forget(&key),
            }
        }
    }

    /// A pod entering, leaving or changing within a budget's selection touches the budget.
    fn on_pod(&mut self, event: &WatchEvent) {
        let versions = [Some(&event.object), event.previous.as_ref()];
        let touched: Vec<Key> = self
            .budgets
            .in_namespace(&event.object.namespace)
            .filter(|(_, budget)| {
                versions
                    .iter()
                    .flatten()
                    .any(|pod| budget.selects(&pod.labels))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in touched {
            self.queue.add(key);
        }
    }

    /// A workload's scale changing changes the expected pods of budgets in its namespace.
    fn on_scalables(&mut self, batch: &[Change<Scalable>]) {
        let namespaces: BTreeSet<String> = batch
            .iter()
            .map(|c| match c {
                Change::Upsert((ns, _), _) | Change::Removed((ns, _)) => ns.clone(),
            })
            .collect();
        for ns in namespaces {
            let keys: Vec<Key> = self
                .budgets
                .in_namespace(&ns)
                .map(|(k, _)| k.clone())
                .collect();
            for key in keys {
                self.queue.add(key);
            }
        }
    }

    /// The budget's pods, read from the store.
    fn selected_pods(&self, budget: &BudgetFacts) -> Vec<Arc<PodFacts>> {
        let Some(selector) = &budget.selector else {
            return Vec::new();
        };
        let options = ListOptions {
            labels: selector.clone(),
            ..ListOptions::default()
        };
        let Ok(page) = self
            .store
            .list(&self.pods.rt, Some(&budget.namespace), &options)
        else {
            return Vec::new();
        };
        page.items
            .iter()
            .filter_map(|o| PodFacts::from_stored(o))
            .map(Arc::new)
            .collect()
    }

    /// The sum of the scales of the controllers of the selected pods. Pods of a
    /// ReplicaSet count by its Deployment's scale when it has one; pods of other controllers
    /// (whose scale the simulator does not serve) count as themselves; pods without a
    /// controller do not count and are reported.
    fn expected_scale(&self, pods: &[Arc<PodFacts>]) -> (i64, Vec<String>) {
        let mut scales: BTreeMap<String, i64> = BTreeMap::new();
        let mut counted_as_pods: BTreeMap<String, i64> = BTreeMap::new();
        let mut unmanaged = Vec::new();
        for pod in pods {
            let Some(controller) = &pod.controller else {
                unmanaged.push(pod.name.clone());
                continue;
            };
            if scales.contains_key(&controller.uid) {
                continue;
            }
            match self.controller_scale(
                &pod.namespace,
                &controller.kind,
                &controller.name,
                &controller.uid,
            ) {
                Some((uid, replicas)) => {
                    scales.insert(uid, replicas);
                }
                None => *counted_as_pods.entry(controller.uid.clone()).or_default() += 1,
            }
        }
        (
            scales.values().sum::<i64>() + counted_as_pods.values().sum::<i64>(),
            unmanaged,
        )
    }

    fn controller_scale(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
        uid: &str,
    ) -> Option<(String, i64)> {
        let found = match kind {
            "ReplicaSet" => self.replicasets.get(namespace, name),
            "Deployment" => self.deployments.get(namespace, name),
            _ => None,
        }
        .filter(|s| s.uid == uid)?;
        if kind == "ReplicaSet"
            && let Some((_, owner, owner_uid)) = found
                .controller
                .as_ref()
                .filter(|(k, _, _)| k == "Deployment")
            && let Some(deployment) = self
                .deployments
                .get(namespace, owner)
                .filter(|d| d.uid == *owner_uid)
        {
            return Some((deployment.uid.clone(), deployment.replicas));
        }
        Some((found.uid.clone(), found.replicas))
    }

    /// The recorded evictions still pending: the pod exists, is not terminating and the two
    /// minutes have not passed. An overdue one gets a `NotDeleted` event on its pod.
    fn still_disrupted(
        &self,
        budget: &BudgetFacts,
        pods: &[Arc<PodFacts>],
        now: Timestamp,
    ) -> (BTreeMap<String, String>, Option<Timestamp>) {
        let recorded = budget
            .object
            .pointer("/status/disruptedPods")
            .and_then(Value::as_object);
        let mut kept = BTreeMap::new();
        let mut recheck: Option<Timestamp> = None;
        let Some(recorded) = recorded else {
            return (kept, recheck);
        };
        for pod in pods.iter().filter(|p| !p.terminating) {
            let Some(raw) = recorded.get(&pod.name).and_then(Value::as_str) else {
                continue;
            };
            let Some(expected_deletion) =
                parse_time(raw).and_then(|at| at.checked_add(DELETION_TIMEOUT).ok())
            else {
                continue;
            };
            if expected_deletion < now {
                let message = format!(
                    "Pod was expected by PDB {}/{} to be deleted but it wasn't",
                    budget.namespace, budget.name
                );
                let subject = ObjectRef {
                    api_version: "v1".into(),
                    kind: "Pod".into(),
                    namespace: pod.namespace.clone(),
                    name: pod.name.clone(),
                    uid: pod.uid.clone(),
                };
                self.recorder
                    .record(&subject, EventKind::Warning, "NotDeleted", &message);
            } else {
                recheck = Some(recheck.map_or(expected_deletion, |r| r.min(expected_deletion)));
                kept.insert(pod.name.clone(), raw.to_string());
            }
        }
        (kept, recheck)
    }

    /// Writes the status when a number, the pending evictions, the generation or the
    /// condition is out of date.
    fn write_status(&mut self, budget: &BudgetFacts, tally: &Tally, now: Timestamp) {
        let status = &budget.object["status"];
        let recorded = |key: &str| status.get(key).and_then(Value::as_i64).unwrap_or(0);
        let recorded_disrupted: BTreeMap<String, String> = status
            .get("disruptedPods")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let (reason, condition_status) = if tally.allowed > 0 {
            ("SufficientPods", "True")
        } else {
            ("InsufficientPods", "False")
        };
        let condition_current = status
            .get("conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == "DisruptionAllowed"))
            .is_some_and(|c| c["status"] == condition_status && c["reason"] == reason);
        let unchanged = recorded("currentHealthy") == tally.healthy
            && recorded("desiredHealthy") == tally.desired
            && recorded("expectedPods") == tally.expected
            && recorded("disruptionsAllowed") == tally.allowed
            && recorded_disrupted == tally.disrupted
            && recorded("observedGeneration") == budget.generation
            && condition_current;
        if unchanged {
            return;
        }
        let mut body = budget.object.clone();
        body["status"] = status_json(status, tally, budget.generation, now);
        let result = self.store.update(
            &self.budgets_rt,
            &budget.namespace,
            &budget.name,
            &body,
            Part::Status,
            &WriteOptions::manager(FIELD_MANAGER),
        );
        if let Err(err) = result {
            tracing::debug!(budget = %budget.name, %err, "updating status");
            self.queue.add_after(
                (budget.namespace.clone(), budget.name.clone()),
                now.checked_add(RETRY_AFTER).unwrap_or(now),
            );
        }
    }
}

/// `expectedPods` and `desiredHealthy` from the budget's rule: `maxUnavailable` (of the
/// controllers' scale, rounded up), `minAvailable` as a count (of the selected pods) or as
/// a percentage (of the controllers' scale, rounded up).
fn desired_healthy(budget: &BudgetFacts, selected: i64, scale: i64) -> Result<(i64, i64), String> {
    if let Some(max_unavailable) = &budget.max_unavailable {
        let unavailable = scaled_value(Some(max_unavailable), 0, scale, true)?;
        return Ok((scale, (scale - unavailable).max(0)));
    }
    match &budget.min_available {
        Some(Value::Number(n)) => Ok((selected, n.as_i64().unwrap_or(0))),
        Some(percent @ Value::String(_)) => {
            Ok((scale, scaled_value(Some(percent), 0, scale, true)?))
        }
        _ => Ok((0, 0)),
    }
}

/// Ready pods that are neither terminating nor recorded as being evicted.
fn count_healthy(
    pods: &[Arc<PodFacts>],
    disrupted: &BTreeMap<String, String>,
    now: Timestamp,
) -> i64 {
    let pending_eviction = |pod: &PodFacts| {
        disrupted
            .get(&pod.name)
            .and_then(|raw| parse_time(raw))
            .and_then(|at| at.checked_add(DELETION_TIMEOUT).ok())
            .is_some_and(|until| until > now)
    };
    let healthy = pods
        .iter()
        .filter(|p| !p.terminating && !pending_eviction(p) && p.ready)
        .count();
    i64::try_from(healthy).unwrap_or(i64::MAX)
}

/// The new status with the `DisruptionAllowed` condition set as `meta.SetStatusCondition`
/// sets it: the transition time moves only when the condition's status does.
fn status_json(previous: &Value, tally: &Tally, generation: i64, now: Timestamp) -> Value {
    let (reason, condition_status) = if tally.allowed > 0 {
        ("SufficientPods", "True")
    } else {
        ("InsufficientPods", "False")
    };
    let mut conditions: Vec<Value> = previous
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let transition = conditions
        .iter()
        .find(|c| c["type"] == "DisruptionAllowed" && c["status"] == condition_status)
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(rfc3339(now)));
    let condition = json!({"type": "DisruptionAllowed", "status": condition_status, "observedGeneration": generation,
                           "lastTransitionTime": transition, "reason": reason, "message": ""});
    match conditions
        .iter_mut()
        .find(|c| c["type"] == "DisruptionAllowed")
    {
        Some(existing) => *existing = condition,
        None => conditions.push(condition),
    }
    let mut status = Map::new();
    if generation != 0 {
        status.insert("observedGeneration".to_string(), json!(generation));
    }
    if !tally.disrupted.is_empty() {
        let disrupted: Map<String, Value> = tally
            .disrupted
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        status.insert("disruptedPods".to_string(), Value::Object(disrupted));
    }
    status.insert("disruptionsAllowed".to_string(), json!(tally.allowed));
    status.insert("currentHealthy".to_string(), json!(tally.healthy));
    status.insert("desiredHealthy".to_string(), json!(tally.desired));
    status.insert("expectedPods".to_string(), json!(tally.expected));
    status.insert("conditions".to_string(), Value::Array(conditions));
    Value::Object(status)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::sim::clock::Clock;
    use crate::sim::controllers::control_loop::eventually;
    use crate::sim::controllers::workload::TestClock;
    use crate::sim::store::StoreConfig;
    use crate::sim::write::{DeleteOptions, PatchType};
    use std::time::Duration;

    struct Cluster {
        store: Arc<Store>,
        clock: Arc<TestClock>,
    }

    impl Cluster {
        /// A Deployment `web` of 5 replicas whose ReplicaSet has 4 pods, three of them ready.
        fn new() -> Self {
            let clock = Arc::new(TestClock::new("2026-11-29T10:00:00Z"));
            let store = Arc::new(Store::new(clock.clone(), StoreConfig::default()));
            let c = Self { store, clock };
            c.seed(
                "",
                "namespaces",
                json!({"metadata": {"name": "shop"}, "status": {"phase": "Active"}}),
            );
            let owner = |kind: &str, name: &str, uid: &str| json!([{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": true}]);
            c.seed("apps", "deployments", json!({"metadata": {"name": "web", "namespace": "shop", "uid": "d-web"},
                "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}}}}));
            c.seed("apps", "replicasets", json!({"metadata": {"name": "web-5d8f7c9b64", "namespace": "shop", "uid": "rs-web", "ownerReferences": owner("Deployment", "web", "d-web")},
                "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}}}}));
            for (i, ready) in [true, true, true, false].into_iter().enumerate() {
                let status = if ready { "True" } else { "False" };
                c.seed("", "pods", json!({"metadata": {"name": format!("web-{i}"), "namespace": "shop", "labels": {"app": "web"},
                        "ownerReferences": owner("ReplicaSet", "web-5d8f7c9b64", "rs-web")},
                    "spec": {"nodeName": "node-1", "containers": [{"name": "web", "image": "nginx"}]},
                    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": status}]}}));
            }
            tokio::spawn(run(Arc::clone(&c.store)));
            c
        }

        fn rt(&self, group: &str, plural: &str) -> Arc<ResourceType> {
            self.store.registry().get(group, "v1", plural).unwrap()
        }

        fn seed(&self, group: &str, plural: &str, value: Value) {
            self.store.seed(&self.rt(group, plural), value).unwrap();
        }

        fn budget(&self, name: &str, spec: Value) {
            let mut body = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": "shop"}});
            body["spec"] = spec;
            self.store
                .create(
                    &self.rt("policy", "poddisruptionbudgets"),
                    None,
                    body,
                    &WriteOptions::default(),
                )
                .unwrap();
        }

        fn status(&self, name: &str) -> Value {
            self.store
                .get(&self.rt("policy", "poddisruptionbudgets"), "shop", name)
                .unwrap()
                .value()
                .unwrap()["status"]
                .clone()
        }

        fn numbers(&self, name: &str) -> [i64; 4] {
            let s = self.status(name);
            let n = |k: &str| s.get(k).and_then(Value::as_i64).unwrap_or(-1);
            [
                n("expectedPods"),
                n("currentHealthy"),
                n("desiredHealthy"),
                n("disruptionsAllowed"),
            ]
        }

        fn events(&self, reason: &str) -> Vec<Value> {
            let page = self
                .store
                .list(
                    &self.rt("", "events"),
                    Some("shop"),
                    &ListOptions::default(),
                )
                .unwrap();
            page.items
                .iter()
                .map(|o| o.value().unwrap())
                .filter(|e| e["reason"] == reason)
                .collect()
        }

        fn set_ready(&self, pod: &str) {
            let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
            self.store
                .patch(
                    &self.rt("", "pods"),
                    "shop",
                    pod,
                    PatchType::Merge,
                    &patch,
                    Part::Status,
                    &WriteOptions::default(),
                )
                .unwrap();
        }
    }

    impl Drop for Cluster {
        fn drop(&mut self) {
            self.store.shutdown.cancel();
        }
    }

    #[tokio::test]
    async fn budget_numbers_follow_the_rule() {
        let c = Cluster::new();
        let selector = json!({"matchLabels": {"app": "web"}});
        // minAvailable 2 counts the selected pods: 4 expected, 3 healthy, 1 allowed.
        c.budget("min-int", json!({"selector": selector, "minAvailable": 2}));
        // Percentages count the controller's scale (the Deployment's 5): 50% of 5 rounds up to 3.
        c.budget(
            "min-percent",
            json!({"selector": selector, "minAvailable": "50%"}),
        );
        // maxUnavailable 1 of 5 leaves 4 desired; 60% of 5 is 3 unavailable, so 2 desired.
        c.budget(
            "max-int",
            json!({"selector": selector, "maxUnavailable": 1}),
        );
        c.budget(
            "max-percent",
            json!({"selector": selector, "maxUnavailable": "60%"}),
        );
        // An empty selector selects nothing.
        c.budget("everything", json!({"selector": {}, "minAvailable": 1}));
        eventually("all statuses", || {
            c.numbers("min-int") == [4, 3, 2, 1]
                && c.numbers("min-percent") == [5, 3, 3, 0]
                && c.numbers("max-int") == [5, 3, 4, 0]
                && c.numbers("max-percent") == [5, 3, 2, 1]
                && c.numbers("everything") == [0, 0, 1, 0]
        })
        .await;
        let status = c.status("min-int");
        assert_eq!(status["observedGeneration"], 1);
        let condition = &status["conditions"][0];
        assert_eq!(
            (
                condition["type"].as_str(),
                condition["status"].as_str(),
                condition["reason"].as_str()
            ),
            (
                Some("DisruptionAllowed"),
                Some("True"),
                Some("SufficientPods")
            )
        );
        let condition = &c.status("max-int")["conditions"][0];
        assert_eq!(
            (condition["status"].as_str(), condition["reason"].as_str()),
            (Some("False"), Some("InsufficientPods"))
        );
        assert!(
            c.events("NoPods")
                .iter()
                .any(|e| e["involvedObject"]["name"] == "everything"
                    && e["message"] == "No matching pods found")
        );

        // The fourth pod turns ready.
        c.set_ready("web-3");
        eventually("four healthy", || {
            c.numbers("min-int") == [4, 4, 2, 2]
                && c.numbers("max-int") == [5, 4, 4, 0]
                && c.numbers("min-percent") == [5, 4, 3, 1]
        })
        .await;
        assert_eq!(
            c.status("min-percent")["conditions"][0]["reason"],
            "SufficientPods"
        );
    }

    #[tokio::test]
    async fn evictions_hold_the_budget_until_the_pod_goes_or_two_minutes_pass() {
        let c = Cluster::new();
        c.set_ready("web-3");
        c.budget(
            "web",
            json!({"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 1}),
        );
        eventually("four healthy", || c.numbers("web") == [4, 4, 1, 3]).await;

        // The eviction subresource records web-0 and deletes it: it terminates and leaves the map.
        let pods = c.rt("", "pods");
        c.store
            .evict(
                &pods,
                "shop",
                "web-0",
                &json!({"apiVersion": "policy/v1", "kind": "Eviction"}),
                false,
            )
            .unwrap();
        eventually("web-0 terminating and forgotten", || {
            c.numbers("web") == [4, 3, 1, 2] && c.status("web").get("disruptedPods").is_none()
        })
        .await;

        // An eviction recorded for a pod that is not deleted holds it out for two minutes.
        let recorded = crate::sim::clock::rfc3339(c.clock.now());
        let patch = json!({"status": {"disruptedPods": {"web-1": recorded}}});
        c.store
            .patch(
                &c.rt("policy", "poddisruptionbudgets"),
                "shop",
                "web",
                PatchType::Merge,
                &patch,
                Part::Status,
                &WriteOptions::default(),
            )
            .unwrap();
        eventually("web-1 held out", || c.numbers("web") == [4, 2, 1, 1]).await;
        assert_eq!(c.status("web")["disruptedPods"]["web-1"], recorded.as_str());
        c.clock.advance(SignedDuration::from_secs(119));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            c.numbers("web"),
            [4, 2, 1, 1],
            "still held before two minutes"
        );
        c.clock.advance(SignedDuration::from_secs(2));
        eventually("web-1 back", || {
            c.numbers("web") == [4, 3, 1, 2] && c.status("web").get("disruptedPods").is_none()
        })
        .await;
        let late = c.events("NotDeleted");
        assert_eq!(late[0]["involvedObject"]["name"], "web-1");
        assert_eq!(
            late[0]["message"],
            "Pod was expected by PDB shop/web to be deleted but it wasn't"
        );

        // A pod that is gone altogether drops out of the selection.
        c.store
            .delete(
                &pods,
                "shop",
                "web-2",
                &DeleteOptions {
                    grace_period_seconds: Some(0),
                    ..DeleteOptions::default()
                },
            )
            .unwrap();
        eventually("web-2 gone", || c.numbers("web") == [3, 2, 1, 1]).await;
    }

    #[tokio::test]
    async fn pods_without_a_controller_are_reported() {
        let c = Cluster::new();
        c.seed(
            "",
            "pods",
            json!({"metadata": {"name": "debug", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "sh", "image": "busybox"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
        c.budget(
            "web",
            json!({"selector": {"matchLabels": {"app": "web"}}, "maxUnavailable": "20%"}),
        );
        // The bare pod is healthy but adds nothing to the expected scale: 5 expected, 4 healthy.
        eventually("numbers", || c.numbers("web") == [5, 4, 4, 0]).await;
        let warning = &c.events("UnmanagedPods")[0];
        assert_eq!(warning["type"], "Warning");
        assert!(
            warning["message"]
                .as_str()
                .unwrap()
                .starts_with("Pods selected by this PodDisruptionBudget (selector: ")
        );
    }
}
