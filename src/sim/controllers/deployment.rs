//! The Deployment controller (`deployment-controller`): owns ReplicaSets named
//! `<deployment>-<pod-template-hash>`, creates the one for the current template, rolls from
//! old to new within `maxSurge`/`maxUnavailable` (or all at once for Recreate), scales
//! proportionally when the replica count changes mid-rollout, trims old ReplicaSets to
//! `revisionHistoryLimit`, keeps the `deployment.kubernetes.io/*` annotations, and reports
//! `status` with the `Available` and `Progressing` conditions and reasons upstream uses. It
//! writes Deployment status and revision annotation and its ReplicaSets; pods are the
//! ReplicaSet controller's. Started by `replicaset::run`.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use super::control_loop::{self, Feed, Reconcile};
use super::events::{EventKind, ObjectRef, Recorder};
use super::informer::{Change, Informer, Key};
use super::workload::{
    FIELD_MANAGER, OwnerIndex, WorkQueue, apps_ref, controller_ref_json, follow, scaled_value,
    template_fingerprint, template_hash,
};
use crate::sim::clock::{parse_time, rfc3339};
use crate::sim::resource::ResourceType;
use crate::sim::store::{Store, StoredObject};
use crate::sim::write::{Part, PatchType, WriteOptions};

pub const TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
/// Annotations a Deployment does not pass on to its ReplicaSets.
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    "deprecated.deployment.rollback.to",
];
const MAX_REVISION_HISTORY_CHARS: usize = 2000;
const RETRY_AFTER: SignedDuration = SignedDuration::from_secs(1);

/// Runs the Deployment controller until the store shuts down.
pub async fn run(store: Arc<Store>) {
    if let Some(controller) = DeploymentController::start(&store).await {
        control_loop::run(&store, controller).await;
    }
}

// ---------------------------------------------------------------------------------------------
// What the controller reads
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Strategy {
    Recreate,
    RollingUpdate {
        max_surge: Option<Value>,
        max_unavailable: Option<Value>,
    },
}

#[derive(Debug)]
struct DeploymentFacts {
    namespace: String,
    name: String,
    uid: String,
    generation: i64,
    deleting: bool,
    paused: bool,
    replicas: i64,
    min_ready_seconds: i64,
    history_limit: usize,
    progress_deadline: Option<i64>,
    strategy: Strategy,
    /// The template without empties and without a `pod-template-hash` label.
    template_fingerprint: u64,
    annotations: Map<String, Value>,
    object: Value,
}

impl DeploymentFacts {
    fn from_stored(obj: &StoredObject) -> Option<Self> {
        let object = obj.value().ok()?;
        let spec = &object["spec"];
        let template = spec.get("template").unwrap_or(&Value::Null);
        let strategy = match spec.pointer("/strategy/type").and_then(Value::as_str) {
            Some("Recreate") => Strategy::Recreate,
            _ => Strategy::RollingUpdate {
                max_surge: spec.pointer("/strategy/rollingUpdate/maxSurge").cloned(),
                max_unavailable: spec
                    .pointer("/strategy/rollingUpdate/maxUnavailable")
                    .cloned(),
            },
        };
        Some(Self {
            namespace: obj.namespace.clone(),
            name: obj.name.clone(),
            uid: obj.uid.clone(),
            generation: object
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1),
            deleting: object.pointer("/metadata/deletionTimestamp").is_some(),
            paused: spec.get("paused").and_then(Value::as_bool).unwrap_or(false),
            replicas: spec.get("replicas").and_then(Value::as_i64).unwrap_or(1),
            min_ready_seconds: spec
                .get("minReadySeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            history_limit: spec
                .get("revisionHistoryLimit")
                .and_then(Value::as_u64)
                .and_then(|l| usize::try_from(l).ok())
                .unwrap_or(10),
            progress_deadline: spec
                .get("progressDeadlineSeconds")
                .and_then(Value::as_i64)
                .filter(|d| *d != i64::from(i32::MAX)),
            strategy,
            template_fingerprint: fingerprint(template),
            annotations: object
                .pointer("/metadata/annotations")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            object,
        })
    }

    fn subject(&self) -> ObjectRef {
        apps_ref("Deployment", &self.namespace, &self.name, &self.uid)
    }

    /// `ResolveFenceposts`: surge rounds up, unavailability down, and both at zero become one
    /// unavailable; zero for both under Recreate or without replicas.
    fn fenceposts(&self) -> (i64, i64) {
        let Strategy::RollingUpdate {
            max_surge,
            max_unavailable,
        } = &self.strategy
        else {
            return (0, 0);
        };
        let surge = scaled_value(max_surge.as_ref(), 0, self.replicas, true).unwrap_or(0);
        let unavailable =
            scaled_value(max_unavailable.as_ref(), 0, self.replicas, false).unwrap_or(0);
        if surge == 0 && unavailable == 0 {
            (0, 1)
        } else {
            (surge, unavailable)
        }
    }

    fn max_surge(&self) -> i64 {
        self.fenceposts().0
    }

    fn max_unavailable(&self) -> i64 {
        if self.replicas == 0 || self.strategy == Strategy::Recreate {
            return 0;
        }
        self.fenceposts().1.min(self.replicas)
    }

    fn status(&self) -> &Value {
        &self.object["status"]
    }

    fn template(&self) -> &Value {
        &self.object["spec"]["template"]
    }
}

/// A template as compared between a Deployment and its ReplicaSets (`EqualIgnoreHash`).
fn fingerprint(template: &Value) -> u64 {
    let mut template = template.clone();
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(TEMPLATE_HASH_LABEL);
    }
    template_fingerprint(&template)
}

/// What the Deployment controller knows about one of its ReplicaSets.
#[derive(Debug)]
struct OwnedReplicaSet {
    namespace: String,
    name: String,
    owner: String,
    created: Timestamp,
    resource_version: String,
    generation: i64,
    deleting: bool,
    replicas: i64,
    min_ready_seconds: i64,
    status_replicas: i64,
    ready: i64,
    available: i64,
    observed_generation: i64,
    annotations: Map<String, Value>,
    failure: Option<Value>,
    template_fingerprint: u64,
}

impl OwnedReplicaSet {
    fn from_stored(obj: &StoredObject) -> Option<Self> {
        let value = obj.value().ok()?;
        let owner = value
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .and_then(|refs| {
                refs.iter()
                    .find(|r| r["controller"] == true && r["kind"] == "Deployment")
            })
            .and_then(|r| r["uid"].as_str())?
            .to_string();
        let number = |path: &str| value.pointer(path).and_then(Value::as_i64).unwrap_or(0);
        Some(Self {
            namespace: obj.namespace.clone(),
            name: obj.name.clone(),
            owner,
            created: value
                .pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(parse_time)
                .unwrap_or(Timestamp::UNIX_EPOCH),
            resource_version: obj.rv.to_string(),
            generation: number("/metadata/generation"),
            deleting: value.pointer("/metadata/deletionTimestamp").is_some(),
            replicas: value
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1),
            min_ready_seconds: number("/spec/minReadySeconds"),
            status_replicas: number("/status/replicas"),
            ready: number("/status/readyReplicas"),
            available: number("/status/availableReplicas"),
            observed_generation: number("/status/observedGeneration"),
            annotations: value
                .pointer("/metadata/annotations")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            failure: value
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| cs.iter().find(|c| c["type"] == "ReplicaFailure"))
                .cloned(),
            template_fingerprint: fingerprint(
                value.pointer("/spec/template").unwrap_or(&Value::Null),
            ),
        })
    }

    fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).and_then(Value::as_str)
    }

    fn revision(&self) -> i64 {
        self.annotation(REVISION_ANNOTATION)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0)
    }

    fn desired_annotation(&self) -> Option<i64> {
        self.annotation(DESIRED_REPLICAS_ANNOTATION)
            .and_then(|r| r.parse().ok())
    }
}

type Rs = Arc<OwnedReplicaSet>;

fn spec_total(list: &[Rs]) -> i64 {
    list.iter().map(|rs| rs.replicas).sum()
}

fn available_total(list: &[Rs]) -> i64 {
    list.iter().map(|rs| rs.available).sum()
}

fn active(list: &[Rs]) -> Vec<Rs> {
    list.iter().filter(|rs| rs.replicas > 0).cloned().collect()
}

// ---------------------------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------------------------

fn condition(kind: &str, status: &str, reason: &str, message: &str, now: Timestamp) -> Value {
    let now = rfc3339(now);
    json!({"type": kind, "status": status, "lastUpdateTime": now, "lastTransitionTime": now, "reason": reason, "message": message})
}

fn find_condition<'a>(conditions: &'a [Value], kind: &str) -> Option<&'a Value> {
    conditions.iter().find(|c| c["type"] == kind)
}

/// `SetDeploymentCondition`: the same status and reason change nothing; the same status
/// keeps its transition time; the condition moves to the end of the list.
fn set_condition(conditions: &mut Vec<Value>, mut new: Value) {
    if let Some(current) = find_condition(conditions, new["type"].as_str().unwrap_or_default()) {
        if current["status"] == new["status"] && current["reason"] == new["reason"] {
            return;
        }
        if current["status"] == new["status"] {
            new["lastTransitionTime"] = current["lastTransitionTime"].clone();
        }
    }
    conditions.retain(|c| c["type"] != new["type"]);
    conditions.push(new);
}

fn conditions_of(status: &Value) -> Vec<Value> {
    status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The controller
// ---------------------------------------------------------------------------------------------

/// What a sync builds up before writing it back.
#[derive(Debug)]
struct Working {
    /// The Deployment's status as the sync updates it (conditions, collision count).
    status: Value,
    /// The revision annotation the Deployment should carry.
    revision: Option<String>,
}

struct DeploymentController {
    store: Arc<Store>,
    recorder: Recorder,
    deployments_rt: Arc<ResourceType>,
    replicasets_rt: Arc<ResourceType>,
    deployments: Informer<DeploymentFacts>,
    replicasets: Informer<OwnedReplicaSet>,
    deployment_by_uid: HashMap<String, Key>,
    replicasets_by_owner: OwnerIndex,
    queue: WorkQueue,
}

impl Reconcile for DeploymentController {
    fn feeds() -> Vec<Feed<Self>> {
        vec![
            Feed::informer(|c| &mut c.deployments, Self::on_deployments),
            Feed::informer(|c| &mut c.replicasets, Self::on_replicasets),
        ]
    }

    fn queue(&mut self) -> &mut WorkQueue {
        &mut self.queue
    }

    fn sync(&mut self, key: &Key, now: Timestamp) {
        let Some(d) = self.deployments.get(&key.0, &key.1).map(Arc::clone) else {
            return;
        };
        let mut work = Working {
            status: d.status().clone(),
            revision: None,
        };
        let result = self.sync_deployment(&d, &mut work, now);
        if let Err(err) = result {
            tracing::debug!(deployment = %d.name, %err, "sync failed");
            self.queue
                .add_after(key.clone(), now.checked_add(RETRY_AFTER).unwrap_or(now));
        }
    }
}

impl DeploymentController {
    async fn start(store: &Arc<Store>) -> Option<Self> {
        let deployments = follow(
            store,
            "apps",
            "v1",
            "deployments",
            DeploymentFacts::from_stored,
        )
        .await?;
        let replicasets = follow(
            store,
            "apps",
            "v1",
            "replicasets",
            OwnedReplicaSet::from_stored,
        )
        .await?;
        let registry = store.registry();
        Some(Self {
            store: Arc::clone(store),
            recorder: Recorder::new(store, "deployment-controller"),
            deployments_rt: registry.get("apps", "v1", "deployments")?,
            replicasets_rt: registry.get("apps", "v1", "replicasets")?,
            deployments,
            replicasets,
            deployment_by_uid: HashMap::new(),
            replicasets_by_owner: OwnerIndex::default(),
            queue: WorkQueue::default(),
        })
    }

    fn on_deployments(&mut self, batch: Vec<Change<DeploymentFacts>>) {
        for change in batch {
            match change {
                Change::Upsert(key, d) => {
                    self.deployment_by_uid.insert(d.uid.clone(), key.clone());
                    self.queue.add(key);
                }
                Change::Removed(key) => {
                    self.deployment_by_uid.retain(|_, k| *k != key);
                    self.queue.forget(&key);
                }
            }
        }
    }

    fn on_replicasets(&mut self, batch: Vec<Change<OwnedReplicaSet>>) {
        for change in batch {
            let (previous, current) = match &change {
                Change::Upsert(key, rs) => (
                    self.replicasets_by_owner.set(key, Some(&rs.owner)),
                    Some(rs.owner.clone()),
                ),
                Change::Removed(key) => (self.replicasets_by_owner.remove(key), None),
            };
            for uid in [previous, current].into_iter().flatten() {
                if let Some(key) = self.deployment_by_uid.get(&uid) {
                    self.queue.add(key.clone());
                }
            }
        }
    }

    fn owned(&self, d: &DeploymentFacts) -> Vec<Rs> {
        let mut list: Vec<Rs> = self
            .replicasets_by_owner
            .owned(&d.uid)
            .filter_map(|(ns, name)| self.replicasets.get(ns, name).cloned())
            .collect();
        list.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.name.cmp(&b.name)));
        list
    }

    fn sync_deployment(
        &mut self,
        d: &DeploymentFacts,
        work: &mut Working,
        now: Timestamp,
    ) -> Result<(), String> {
        let list = self.owned(d);
        let (new, old) = self.new_and_old(d, &list, work, now)?;
        if d.deleting {
            return self.write_status(
                d,
                work,
                calculate_status(d, &all(&old, new.as_ref()), new.as_ref(), work, now),
            );
        }
        paused_conditions(d, work, now);
        if d.paused || is_scaling_event(d, &old, new.as_ref()) {
            self.scale(d, new.as_ref(), &old)?;
            if d.paused {
                self.cleanup(d, &old);
            }
            let status = calculate_status(d, &all(&old, new.as_ref()), new.as_ref(), work, now);
            return self.write_status(d, work, status);
        }
        match d.strategy {
            Strategy::Recreate => self.rollout_recreate(d, new, &old, work, now),
            Strategy::RollingUpdate { .. } => self.rollout_rolling(d, new, &old, work, now),
        }
    }

    // -----------------------------------------------------------------------------------------
    // The new ReplicaSet
    // -----------------------------------------------------------------------------------------

    /// Splits the ReplicaSets into the one running the current template and the rest, and
    /// brings the new one's annotations up to date.
    fn new_and_old(
        &mut self,
        d: &DeploymentFacts,
        list: &[Rs],
        work: &mut Working,
        now: Timestamp,
    ) -> Result<(Option<Rs>, Vec<Rs>), String> {
        let new = list
            .iter()
            .find(|rs| rs.template_fingerprint == d.template_fingerprint)
            .cloned();
        let old: Vec<Rs> = list
            .iter()
            .filter(|rs| new.as_ref().is_none_or(|n| !Arc::ptr_eq(n, rs)))
            .cloned()
            .collect();
        let Some(new) = new else {
            return Ok((None, old));
        };
        let new_revision = old.iter().map(|rs| rs.revision()).max().unwrap_or(0) + 1;
        let mut annotations = new.annotations.clone();
        let changed = new_replicaset_annotations(d, &mut annotations, new_revision, true);
        if changed || new.min_ready_seconds != d.min_ready_seconds {
            // Zero is the Go type's omitted default: remove the field rather than write 0.
            let min_ready = Some(d.min_ready_seconds).filter(|m| *m != 0);
            let patch = json!({"metadata": {"annotations": annotations, "resourceVersion": new.resource_version},
                               "spec": {"minReadySeconds": min_ready}});
            let updated = self.patch_replicaset(&new, &patch)?;
            return Ok((Some(updated), old));
        }
        work.revision = new.annotation(REVISION_ANNOTATION).map(str::to_string);
        let mut conditions = conditions_of(&work.status);
        if d.progress_deadline.is_some() && find_condition(&conditions, "Progressing").is_none() {
            let message = format!("Found new replica set \"{}\"", new.name);
            set_condition(
                &mut conditions,
                condition("Progressing", "True", "FoundNewReplicaSet", &message, now),
            );
            work.status["conditions"] = Value::Array(conditions);
        }
        Ok((Some(new), old))
    }

    /// Creates the ReplicaSet for the current template, sized for the rollout's first step.
    fn create_new(
        &mut self,
        d: &DeploymentFacts,
        old: &[Rs],
        work: &mut Working,
        now: Timestamp,
    ) -> Result<Rs, String> {
        let collisions = work.status.get("collisionCount").and_then(Value::as_i64);
        let hash = template_hash(d.template(), collisions);
        let name = format!("{}-{hash}", d.name);
        let mut template = d.template().clone();
        if !template
            .pointer("/metadata/labels")
            .is_some_and(Value::is_object)
        {
            template["metadata"]["labels"] = json!({});
        }
        template["metadata"]["labels"][TEMPLATE_HASH_LABEL] = json!(hash);
        let mut selector = d
            .object
            .pointer("/spec/selector")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if !selector.get("matchLabels").is_some_and(Value::is_object) {
            selector["matchLabels"] = json!({});
        }
        selector["matchLabels"][TEMPLATE_HASH_LABEL] = json!(hash);
        let replicas = new_replicas(d, spec_total(old), 0);
        let new_revision = old.iter().map(|rs| rs.revision()).max().unwrap_or(0) + 1;
        let mut annotations = Map::new();
        new_replicaset_annotations(d, &mut annotations, new_revision, false);
        let mut spec = json!({"replicas": replicas, "selector": selector, "template": template});
        if d.min_ready_seconds > 0 {
            spec["minReadySeconds"] = json!(d.min_ready_seconds);
        }
        let body = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": d.namespace, "labels": template["metadata"]["labels"], "annotations": annotations,
                         "ownerReferences": [controller_ref_json("Deployment", &d.name, &d.uid)]},
            "spec": spec});
        let created = match self.store.create(
            &self.replicasets_rt,
            Some(&d.namespace),
            body,
            &WriteOptions::manager(FIELD_MANAGER),
        ) {
            Ok(written) => written.object,
            Err(err) if err.code == 409 => {
                return self.adopt_or_collide(d, &name, work, err.message);
            }
            Err(err) => {
                let message = format!(
                    "Failed to create new replica set \"{name}\": {}",
                    err.message
                );
                let mut conditions = conditions_of(&work.status);
                if d.progress_deadline.is_some() {
                    set_condition(
                        &mut conditions,
                        condition(
                            "Progressing",
                            "False",
                            "ReplicaSetCreateError",
                            &message,
                            now,
                        ),
                    );
                    work.status["conditions"] = Value::Array(conditions);
                    let _ = self.write_status(d, work, work.status.clone());
                }
                self.recorder.record(
                    &d.subject(),
                    EventKind::Warning,
                    "ReplicaSetCreateError",
                    &message,
                );
                return Err(message);
            }
        };
        let created = OwnedReplicaSet::from_stored(&created)
            .map(Arc::new)
            .ok_or("unreadable ReplicaSet")?;
        if replicas > 0 {
            let message = format!("Scaled up replica set {name} from 0 to {replicas}");
            self.recorder.record(
                &d.subject(),
                EventKind::Normal,
                "ScalingReplicaSet",
                &message,
            );
        }
        work.revision = Some(new_revision.to_string());
        if d.progress_deadline.is_some() {
            let mut conditions = conditions_of(&work.status);
            let message = format!("Created new replica set \"{name}\"");
            set_condition(
                &mut conditions,
                condition("Progressing", "True", "NewReplicaSetCreated", &message, now),
            );
            work.status["conditions"] = Value::Array(conditions);
        }
        Ok(created)
    }

    /// A ReplicaSet of that name exists: it is ours if it has our template; otherwise the
    /// hash collided, so `collisionCount` goes up and the next sync hashes again.
    fn adopt_or_collide(
        &mut self,
        d: &DeploymentFacts,
        name: &str,
        work: &mut Working,
        err: String,
    ) -> Result<Rs, String> {
        let existing = self
            .store
            .get(&self.replicasets_rt, &d.namespace, name)
            .ok()
            .and_then(|o| OwnedReplicaSet::from_stored(&o));
        if let Some(rs) = existing
            .filter(|rs| rs.owner == d.uid && rs.template_fingerprint == d.template_fingerprint)
        {
            return Ok(Arc::new(rs));
        }
        let count = work
            .status
            .get("collisionCount")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + 1;
        let patch = json!({"status": {"collisionCount": count}});
        self.store
            .patch(
                &self.deployments_rt,
                &d.namespace,
                &d.name,
                PatchType::Merge,
                &patch,
                Part::Status,
                &WriteOptions::manager(FIELD_MANAGER),
            )
            .map_err(|e| e.message)?;
        Err(err)
    }

    // -----------------------------------------------------------------------------------------
    // Scaling
    // -----------------------------------------------------------------------------------------

    fn patch_replicaset(&self, rs: &OwnedReplicaSet, patch: &Value) -> Result<Rs, String> {
        let written = self
            .store
            .patch(
                &self.replicasets_rt,
                &rs.namespace,
                &rs.name,
                PatchType::Merge,
                patch,
                Part::Main,
                &WriteOptions::manager(FIELD_MANAGER),
            )
            .map_err(|e| e.message)?;
        OwnedReplicaSet::from_stored(&written.object)
            .map(Arc::new)
            .ok_or_else(|| "unreadable ReplicaSet".to_string())
    }

    /// Sets a ReplicaSet's size (and its replica annotations); records the scaling event.
    /// Returns the updated ReplicaSet and whether its size changed.
    fn scale_replicaset(
        &self,
        d: &DeploymentFacts,
        rs: &Rs,
        replicas: i64,
    ) -> Result<(Rs, bool), String> {
        let desired = d.replicas.to_string();
        let max = (d.replicas + d.max_surge()).to_string();
        let annotations_stale = rs.annotation(DESIRED_REPLICAS_ANNOTATION)
            != Some(desired.as_str())
            || rs.annotation(MAX_REPLICAS_ANNOTATION) != Some(max.as_str());
        let resize = rs.replicas != replicas;
        if !resize && !annotations_stale {
            return Ok((Arc::clone(rs), false));
        }
        let patch = json!({"metadata": {"resourceVersion": rs.resource_version,
                                        "annotations": {DESIRED_REPLICAS_ANNOTATION: desired, MAX_REPLICAS_ANNOTATION: max}},
                           "spec": {"replicas": replicas}});
        let updated = self.patch_replicaset(rs, &patch)?;
        if resize {
            let direction = if rs.replicas < replicas { "up" } else { "down" };
            let message = format!(
                "Scaled {direction} replica set {} from {} to {replicas}",
                rs.name, rs.replicas
            );
            self.recorder.record(
                &d.subject(),
                EventKind::Normal,
                "ScalingReplicaSet",
                &message,
            );
        }
        Ok((updated, resize))
    }

    /// Scales to a new size only (`scaleReplicaSetAndRecordEvent`): unchanged sizes write nothing.
    fn resize(&self, d: &DeploymentFacts, rs: &Rs, replicas: i64) -> Result<(Rs, bool), String> {
        if rs.replicas == replicas {
            return Ok((Arc::clone(rs), false));
        }
        self.scale_replicaset(d, rs, replicas)
    }

    /// Scaling outside a rollout: the single active ReplicaSet takes the whole count; several
    /// share the change in proportion to their size.
    fn scale(&self, d: &DeploymentFacts, new: Option<&Rs>, old: &[Rs]) -> Result<(), String> {
        if let Some(target) = active_or_latest(new, old) {
            if target.replicas != d.replicas {
                self.resize(d, &target, d.replicas)?;
            }
            return Ok(());
        }
        if new.is_some_and(|n| is_saturated(d, n)) {
            for rs in active(old) {
                self.resize(d, &rs, 0)?;
            }
            return Ok(());
        }
        if d.strategy == Strategy::Recreate {
            return Ok(());
        }
        for (rs, size) in proportional_sizes(d, &active(&all(old, new))) {
            self.scale_replicaset(d, &rs, size)?;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Rollouts
    // -----------------------------------------------------------------------------------------

    fn rollout_rolling(
        &mut self,
        d: &DeploymentFacts,
        new: Option<Rs>,
        old: &[Rs],
        work: &mut Working,
        now: Timestamp,
    ) -> Result<(), String> {
        let new = match new {
            Some(new) => new,
            None => self.create_new(d, old, work, now)?,
        };
        let everything = all(old, Some(&new));
        // Scale up, if we can.
        if self.reconcile_new(d, &everything, &new)? {
            return self.sync_rollout_status(d, &everything, Some(&new), work, now);
        }
        // Scale down, if we can.
        if self.reconcile_old(d, &everything, &active(old), &new)? {
            return self.sync_rollout_status(d, &everything, Some(&new), work, now);
        }
        if deployment_complete(d, d.status()) {
            self.cleanup(d, old);
        }
        self.sync_rollout_status(d, &everything, Some(&new), work, now)
    }

    fn reconcile_new(
        &self,
        d: &DeploymentFacts,
        everything: &[Rs],
        new: &Rs,
    ) -> Result<bool, String> {
        if new.replicas == d.replicas {
            return Ok(false);
        }
        let target = if new.replicas > d.replicas {
            d.replicas
        } else {
            new_replicas(d, spec_total(everything), new.replicas)
        };
        Ok(self.resize(d, new, target)?.1)
    }

    /// Scales old ReplicaSets down: first their unhealthy replicas, then as far as the
    /// available pods allow without going below `replicas - maxUnavailable`.
    fn reconcile_old(
        &self,
        d: &DeploymentFacts,
        everything: &[Rs],
        old: &[Rs],
        new: &Rs,
    ) -> Result<bool, String> {
        if spec_total(old) == 0 {
            return Ok(false);
        }
        let min_available = d.replicas - d.max_unavailable();
        let new_unavailable = new.replicas - new.available;
        let max_scaled_down = spec_total(everything) - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        let mut old: Vec<Rs> = old.to_vec();
        old.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.name.cmp(&b.name)));
        let mut cleaned = 0;
        for rs in &mut old {
            if cleaned >= max_scaled_down || rs.replicas == 0 || rs.replicas == rs.available {
                continue;
            }
            let down = (max_scaled_down - cleaned).min(rs.replicas - rs.available);
            *rs = self.resize(d, rs, rs.replicas - down)?.0;
            cleaned += down;
        }
        let mut everything_now = old.clone();
        everything_now.push(Arc::clone(new));
        let available = available_total(&everything_now);
        let mut scaled = 0;
        if available > min_available {
            let budget = available - min_available;
            for rs in &old {
                if scaled >= budget || rs.replicas == 0 {
                    continue;
                }
                let down = rs.replicas.min(budget - scaled);
                self.resize(d, rs, rs.replicas - down)?;
                scaled += down;
            }
        }
        Ok(cleaned + scaled > 0)
    }

    fn rollout_recreate(
        &mut self,
        d: &DeploymentFacts,
        new: Option<Rs>,
        old: &[Rs],
        work: &mut Working,
        now: Timestamp,
    ) -> Result<(), String> {
        let mut scaled_down = false;
        for rs in active(old) {
            scaled_down |= self.resize(d, &rs, 0)?.1;
        }
        let everything = all(old, new.as_ref());
        // Old pods still running: wait for them before starting the new ones.
        if scaled_down || old.iter().any(|rs| rs.status_replicas > 0) {
            return self.sync_rollout_status(d, &everything, new.as_ref(), work, now);
        }
        let new = match new {
            Some(new) => new,
            None => self.create_new(d, old, work, now)?,
        };
        self.resize(d, &new, d.replicas)?;
        if deployment_complete(d, d.status()) {
            self.cleanup(d, old);
        }
        self.sync_rollout_status(d, &all(old, Some(&new)), Some(&new), work, now)
    }

    /// Deletes the oldest scaled-down ReplicaSets beyond `revisionHistoryLimit`.
    fn cleanup(&self, d: &DeploymentFacts, old: &[Rs]) {
        let mut cleanable: Vec<&Rs> = old.iter().filter(|rs| !rs.deleting).collect();
        let Some(excess) = cleanable
            .len()
            .checked_sub(d.history_limit)
            .filter(|n| *n > 0)
        else {
            return;
        };
        cleanable.sort_by(|a, b| {
            a.revision()
                .cmp(&b.revision())
                .then(a.created.cmp(&b.created))
        });
        for rs in cleanable.into_iter().take(excess) {
            if rs.status_replicas != 0 || rs.replicas != 0 || rs.generation > rs.observed_generation
            {
                continue;
            }
            let opts = crate::sim::write::DeleteOptions::default();
            if let Err(err) =
                self.store
                    .delete(&self.replicasets_rt, &rs.namespace, &rs.name, &opts)
            {
                tracing::debug!(replicaset = %rs.name, %err, "cleaning up old ReplicaSet");
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Status
    // -----------------------------------------------------------------------------------------

    fn sync_rollout_status(
        &mut self,
        d: &DeploymentFacts,
        everything: &[Rs],
        new: Option<&Rs>,
        work: &mut Working,
        now: Timestamp,
    ) -> Result<(), String> {
        let mut status = calculate_status(d, everything, new, work, now);
        let mut conditions = conditions_of(&status);
        let current = find_condition(&conditions_of(&work.status), "Progressing").cloned();
        match d.progress_deadline {
            None => conditions.retain(|c| c["type"] != "Progressing"),
            Some(deadline) => {
                let complete = number(&status, "replicas") == number(&status, "updatedReplicas")
                    && current
                        .as_ref()
                        .is_some_and(|c| c["reason"] == "NewReplicaSetAvailable");
                if !complete {
                    progress(
                        d,
                        &work.status,
                        &status,
                        new,
                        current.as_ref(),
                        deadline,
                        &mut conditions,
                        now,
                    );
                }
            }
        }
        match everything.iter().find_map(|rs| rs.failure.clone()) {
            Some(failure) => set_condition(&mut conditions, replica_failure(&failure, now)),
            None => conditions.retain(|c| c["type"] != "ReplicaFailure"),
        }
        status["conditions"] = Value::Array(conditions);
        if status == *d.status() {
            self.requeue_stuck(d, &status, current.as_ref(), now);
        }
        self.write_status(d, work, status)
    }

    /// Checks again when a rollout without progress would hit its deadline.
    fn requeue_stuck(
        &mut self,
        d: &DeploymentFacts,
        status: &Value,
        current: Option<&Value>,
        now: Timestamp,
    ) {
        let (Some(deadline), Some(current)) = (d.progress_deadline, current) else {
            return;
        };
        if deployment_complete(d, status) || current["reason"] == "ProgressDeadlineExceeded" {
            return;
        }
        let from = current["lastUpdateTime"]
            .as_str()
            .and_then(parse_time)
            .unwrap_or(now);
        let at = from
            .checked_add(SignedDuration::from_secs(deadline + 1))
            .unwrap_or(now);
        self.queue
            .add_after((d.namespace.clone(), d.name.clone()), at);
    }

    /// Writes the status (when it changed) and the revision annotation (when it changed).
    fn write_status(
        &self,
        d: &DeploymentFacts,
        work: &Working,
        status: Value,
    ) -> Result<(), String> {
        let options = WriteOptions::manager(FIELD_MANAGER);
        if status != *d.status() {
            let mut body = d.object.clone();
            body["status"] = status;
            self.store
                .update(
                    &self.deployments_rt,
                    &d.namespace,
                    &d.name,
                    &body,
                    Part::Status,
                    &options,
                )
                .map_err(|e| e.message)?;
        }
        let recorded = d
            .annotations
            .get(REVISION_ANNOTATION)
            .and_then(Value::as_str);
        if let Some(revision) = work.revision.as_deref().filter(|r| Some(*r) != recorded) {
            let patch = json!({"metadata": {"annotations": {REVISION_ANNOTATION: revision}}});
            self.store
                .patch(
                    &self.deployments_rt,
                    &d.namespace,
                    &d.name,
                    PatchType::Merge,
                    &patch,
                    Part::Main,
                    &options,
                )
                .map_err(|e| e.message)?;
        }
        Ok(())
    }
}

fn all(old: &[Rs], new: Option<&Rs>) -> Vec<Rs> {
    let mut list = old.to_vec();
    list.extend(new.cloned());
    list
}

fn number(status: &Value, key: &str) -> i64 {
    status.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// The ReplicaSet's `ReplicaFailure` condition as the Deployment shows it.
fn replica_failure(failure: &Value, now: Timestamp) -> Value {
    let mut copy = condition(
        "ReplicaFailure",
        failure["status"].as_str().unwrap_or("True"),
        failure["reason"].as_str().unwrap_or_default(),
        failure["message"].as_str().unwrap_or_default(),
        now,
    );
    if let Some(at) = failure.get("lastTransitionTime") {
        copy["lastTransitionTime"] = at.clone();
        copy["lastUpdateTime"] = at.clone();
    }
    copy
}

/// The Progressing condition for a rollout not yet marked complete.
#[allow(clippy::too_many_arguments)] // the before and after of one status, and where to put the verdict
fn progress(
    d: &DeploymentFacts,
    before: &Value,
    after: &Value,
    new: Option<&Rs>,
    current: Option<&Value>,
    deadline: i64,
    conditions: &mut Vec<Value>,
    now: Timestamp,
) {
    let what = new.map_or_else(
        || format!("Deployment \"{}\"", d.name),
        |rs| format!("ReplicaSet \"{}\"", rs.name),
    );
    if deployment_complete(d, after) {
        let message = format!("{what} has successfully progressed.");
        set_condition(
            conditions,
            condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                &message,
                now,
            ),
        );
    } else if made_progress(before, after) {
        let mut updated = condition(
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            &format!("{what} is progressing."),
            now,
        );
        if let Some(current) = current.filter(|c| c["status"] == "True") {
            updated["lastTransitionTime"] = current["lastTransitionTime"].clone();
        }
        conditions.retain(|c| c["type"] != "Progressing");
        conditions.push(updated);
    } else if timed_out(conditions, deadline, now) {
        let message = format!("{what} has timed out progressing.");
        set_condition(
            conditions,
            condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                &message,
                now,
            ),
        );
    }
}

/// `DeploymentProgressing`: more updated, ready or available replicas, or fewer old ones.
fn made_progress(before: &Value, after: &Value) -> bool {
    let old_replicas = |s: &Value| number(s, "replicas") - number(s, "updatedReplicas");
    number(after, "updatedReplicas") > number(before, "updatedReplicas")
        || old_replicas(after) < old_replicas(before)
        || number(after, "readyReplicas") > number(before, "readyReplicas")
        || number(after, "availableReplicas") > number(before, "availableReplicas")
}

/// `DeploymentTimedOut`: no progress reported for longer than the deadline.
fn timed_out(conditions: &[Value], deadline: i64, now: Timestamp) -> bool {
    let Some(progressing) = find_condition(conditions, "Progressing") else {
        return false;
    };
    match progressing["reason"].as_str() {
        Some("NewReplicaSetAvailable") => false,
        Some("ProgressDeadlineExceeded") => true,
        _ => progressing["lastUpdateTime"]
            .as_str()
            .and_then(parse_time)
            .and_then(|from| from.checked_add(SignedDuration::from_secs(deadline)).ok())
            .is_some_and(|until| until < now),
    }
}

/// `DeploymentComplete`: every replica updated and available, and the spec observed.
fn deployment_complete(d: &DeploymentFacts, status: &Value) -> bool {
    number(status, "updatedReplicas") == d.replicas
        && number(status, "replicas") == d.replicas
        && number(status, "availableReplicas") == d.replicas
        && number(status, "observedGeneration") >= d.generation
}

/// `calculateStatus`: counts over all ReplicaSets and the `Available` condition; zero
/// counts are left out as the Go type's `omitempty` leaves them out.
fn calculate_status(
    d: &DeploymentFacts,
    everything: &[Rs],
    new: Option<&Rs>,
    work: &Working,
    now: Timestamp,
) -> Value {
    let available = available_total(everything);
    let unavailable = (spec_total(everything) - available).max(0);
    let mut status = Map::new();
    for (key, value) in [
        ("observedGeneration", d.generation),
        (
            "replicas",
            everything.iter().map(|rs| rs.status_replicas).sum(),
        ),
        ("updatedReplicas", new.map_or(0, |rs| rs.status_replicas)),
        ("readyReplicas", everything.iter().map(|rs| rs.ready).sum()),
        ("availableReplicas", available),
        ("unavailableReplicas", unavailable),
    ] {
        if value != 0 {
            status.insert(key.to_string(), json!(value));
        }
    }
    if let Some(collisions) = work.status.get("collisionCount").filter(|c| !c.is_null()) {
        status.insert("collisionCount".to_string(), collisions.clone());
    }
    let mut conditions = conditions_of(&work.status);
    let available_condition = if available >= d.replicas - d.max_unavailable() {
        condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
    } else {
        condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    };
    set_condition(&mut conditions, available_condition);
    status.insert("conditions".to_string(), Value::Array(conditions));
    Value::Object(status)
}

/// `checkPausedConditions`: pausing and resuming show on the Progressing condition.
fn paused_conditions(d: &DeploymentFacts, work: &mut Working, now: Timestamp) {
    if d.progress_deadline.is_none() {
        return;
    }
    let mut conditions = conditions_of(&work.status);
    let reason = find_condition(&conditions, "Progressing")
        .and_then(|c| c["reason"].as_str())
        .map(str::to_string);
    if reason.as_deref() == Some("ProgressDeadlineExceeded") {
        return;
    }
    let paused_shown = reason.as_deref() == Some("DeploymentPaused");
    let update = if d.paused && !paused_shown {
        condition(
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
            now,
        )
    } else if !d.paused && paused_shown {
        condition(
            "Progressing",
            "Unknown",
            "DeploymentResumed",
            "Deployment is resumed",
            now,
        )
    } else {
        return;
    };
    set_condition(&mut conditions, update);
    work.status["conditions"] = Value::Array(conditions);
}

/// `isScalingEvent`: an active ReplicaSet was sized for a different replica count.
fn is_scaling_event(d: &DeploymentFacts, old: &[Rs], new: Option<&Rs>) -> bool {
    active(&all(old, new)).iter().any(|rs| {
        rs.desired_annotation()
            .is_some_and(|desired| desired != d.replicas)
    })
}

/// `NewRSNewReplicas`: how far the new ReplicaSet may grow now. `current_total` counts
/// every ReplicaSet's `spec.replicas`, the new one included.
fn new_replicas(d: &DeploymentFacts, current_total: i64, new_size: i64) -> i64 {
    match d.strategy {
        Strategy::Recreate => d.replicas,
        Strategy::RollingUpdate { .. } => {
            let max_total = d.replicas + d.max_surge();
            if current_total >= max_total {
                return new_size;
            }
            new_size + (max_total - current_total).min(d.replicas - new_size)
        }
    }
}

/// `FindActiveOrLatest`: the only active ReplicaSet, or the newest one when none is active.
fn active_or_latest(new: Option<&Rs>, old: &[Rs]) -> Option<Rs> {
    let mut everything = all(old, new);
    let running = active(&everything);
    match running.len() {
        1 => running.into_iter().next(),
        0 => new.cloned().or_else(|| {
            everything.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.name.cmp(&b.name)));
            everything.into_iter().next()
        }),
        _ => None,
    }
}

/// `IsSaturated`: the new ReplicaSet runs the full count, all of it available.
fn is_saturated(d: &DeploymentFacts, rs: &OwnedReplicaSet) -> bool {
    rs.replicas == d.replicas
        && rs.desired_annotation() == Some(d.replicas)
        && rs.available == d.replicas
}

/// Proportional scaling: the difference to `replicas + maxSurge` is shared out by each
/// ReplicaSet's share of the size it was made for; the rounding leftover goes to the
/// largest (newest first when growing, oldest first when shrinking).
fn proportional_sizes(d: &DeploymentFacts, running: &[Rs]) -> Vec<(Rs, i64)> {
    let allowed = if d.replicas > 0 {
        d.replicas + d.max_surge()
    } else {
        0
    };
    let to_add = allowed - spec_total(running);
    let mut ordered: Vec<Rs> = running.to_vec();
    ordered.sort_by(|a, b| {
        let by_age = if to_add > 0 {
            b.created.cmp(&a.created)
        } else {
            a.created.cmp(&b.created)
        };
        b.replicas
            .cmp(&a.replicas)
            .then(by_age)
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut added = 0;
    let mut sizes: Vec<(Rs, i64)> = Vec::new();
    for rs in ordered {
        let share = if to_add == 0 || rs.replicas == 0 || to_add == added {
            0
        } else {
            let fraction = replicaset_fraction(d, &rs);
            if to_add > 0 {
                fraction.min(to_add - added)
            } else {
                fraction.max(to_add - added)
            }
        };
        added += share;
        let size = rs.replicas + share;
        sizes.push((rs, size));
    }
    if let Some(first) = sizes.first_mut() {
        first.1 = (first.1 + to_add - added).max(0);
    }
    sizes
}

/// How many replicas this ReplicaSet gains (or loses) when the Deployment's maximum size
/// goes from what the ReplicaSet was made for to what it is now.
fn replicaset_fraction(d: &DeploymentFacts, rs: &OwnedReplicaSet) -> i64 {
    if d.replicas == 0 {
        return -rs.replicas;
    }
    let max_now = d.replicas + d.max_surge();
    let max_before = rs
        .annotation(MAX_REPLICAS_ANNOTATION)
        .and_then(|m| m.parse::<i64>().ok())
        .filter(|m| *m != 0)
        .unwrap_or_else(|| match number(d.status(), "replicas") {
            0 => d.replicas,
            replicas => replicas,
        });
    let scaled = (rs.replicas * max_now) as f64 / max_before as f64;
    #[allow(clippy::cast_possible_truncation)] // replica counts are small integers
    let rounded = scaled.round() as i64;
    rounded - rs.replicas
}

/// `SetNewReplicaSetAnnotations`: the Deployment's own annotations, the revision (with the
/// history of revisions it had before a rollback) and, for a new ReplicaSet, the replica
/// counts. True when anything changed.
fn new_replicaset_annotations(
    d: &DeploymentFacts,
    annotations: &mut Map<String, Value>,
    new_revision: i64,
    exists: bool,
) -> bool {
    let mut changed = false;
    for (key, value) in &d.annotations {
        if NOT_COPIED.contains(&key.as_str()) || annotations.get(key) == Some(value) {
            continue;
        }
        annotations.insert(key.clone(), value.clone());
        changed = true;
    }
    let previous = annotations
        .get(REVISION_ANNOTATION)
        .and_then(Value::as_str)
        .map(str::to_string);
    let previous_number = previous
        .as_deref()
        .and_then(|r| r.parse::<i64>().ok())
        .unwrap_or(0);
    if previous_number < new_revision {
        annotations.insert(
            REVISION_ANNOTATION.to_string(),
            json!(new_revision.to_string()),
        );
        changed = true;
        if let Some(previous) = previous {
            append_revision_history(annotations, &previous);
        }
    }
    if !exists {
        annotations.insert(
            DESIRED_REPLICAS_ANNOTATION.to_string(),
            json!(d.replicas.to_string()),
        );
        annotations.insert(
            MAX_REPLICAS_ANNOTATION.to_string(),
            json!((d.replicas + d.max_surge()).to_string()),
        );
        changed = true;
    }
    changed
}

/// Keeps the revisions a rolled-back ReplicaSet had, within 2000 characters.
fn append_revision_history(annotations: &mut Map<String, Value>, previous: &str) {
    let history = annotations
        .get(REVISION_HISTORY_ANNOTATION)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut revisions: Vec<&str> = history.split(',').filter(|r| !r.is_empty()).collect();
    revisions.push(previous);
    while revisions.join(",").len() > MAX_REVISION_HISTORY_CHARS && revisions.len() > 1 {
        revisions.remove(0);
    }
    annotations.insert(
        REVISION_HISTORY_ANNOTATION.to_string(),
        json!(revisions.join(",")),
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn deployment(replicas: i64, strategy: &Value) -> DeploymentFacts {
        let object = json!({"metadata": {"name": "web", "namespace": "shop", "uid": "d1", "generation": 1},
            "spec": {"replicas": replicas, "strategy": strategy, "progressDeadlineSeconds": 600,
                     "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}}}});
        DeploymentFacts::from_stored(&StoredObject::from_value("Deployment", &object, 1).unwrap())
            .unwrap()
    }

    fn rolling(surge: Value, unavailable: Value) -> Value {
        let mut strategy = json!({"type": "RollingUpdate", "rollingUpdate": {}});
        strategy["rollingUpdate"]["maxSurge"] = surge;
        strategy["rollingUpdate"]["maxUnavailable"] = unavailable;
        strategy
    }

    fn replicaset(name: &str, replicas: i64, max_annotation: Option<&str>, created: &str) -> Rs {
        let mut annotations = json!({});
        if let Some(max) = max_annotation {
            annotations[MAX_REPLICAS_ANNOTATION] = json!(max);
        }
        let object = json!({"metadata": {"name": name, "namespace": "shop", "uid": name, "creationTimestamp": created, "annotations": annotations,
                                          "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "d1", "controller": true}]},
                            "spec": {"replicas": replicas}});
        Arc::new(
            OwnedReplicaSet::from_stored(
                &StoredObject::from_value("ReplicaSet", &object, 1).unwrap(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailability_down() {
        let d = deployment(4, &rolling(json!("25%"), json!("25%")));
        assert_eq!((d.max_surge(), d.max_unavailable()), (1, 1));
        let d = deployment(1, &rolling(json!("25%"), json!("25%")));
        assert_eq!(
            (d.max_surge(), d.max_unavailable()),
            (1, 0),
            "25% of 1: surge rounds up to 1, unavailable down to 0"
        );
        let d = deployment(3, &rolling(json!(0), json!("10%")));
        assert_eq!(
            (d.max_surge(), d.max_unavailable()),
            (0, 1),
            "both zero after rounding: one may be unavailable"
        );
        let d = deployment(3, &json!({"type": "Recreate"}));
        assert_eq!((d.max_surge(), d.max_unavailable()), (0, 0));
    }

    #[test]
    fn the_new_replicaset_grows_within_the_surge() {
        let d = deployment(10, &rolling(json!(3), json!(2)));
        // 10 old replicas: room for 3 surge pods.
        assert_eq!(new_replicas(&d, 10, 0), 3);
        // Already at 13 in total: no growth.
        assert_eq!(new_replicas(&d, 13, 3), 3);
        // 5 old + 6 new = 11: two more fit, within the 10 wanted.
        assert_eq!(new_replicas(&d, 11, 6), 8);
        // Never beyond the wanted count.
        assert_eq!(new_replicas(&d, 9, 9), 10);
        assert_eq!(
            new_replicas(&deployment(10, &json!({"type": "Recreate"})), 10, 0),
            10
        );
    }

    #[test]
    fn scaling_mid_rollout_is_proportional() {
        // Made for 10 replicas + 3 surge = 13; now 20 + 3 = 23: 13 more to share out.
        let d = deployment(20, &rolling(json!(3), json!(2)));
        let new = replicaset("web-new", 6, Some("13"), "2026-11-29T10:05:00Z");
        let old = replicaset("web-old", 4, Some("13"), "2026-11-29T10:00:00Z");
        let sizes: Vec<(String, i64)> = proportional_sizes(&d, &[old, new])
            .into_iter()
            .map(|(rs, n)| (rs.name.clone(), n))
            .collect();
        // web-new: 6 * 23 / 13 = 10.6 -> 11 (+5); web-old: 4 * 23 / 13 = 7.08 -> 7 (+3);
        // the 5 left over go to the largest, web-new: 16 and 7, 23 in all.
        assert_eq!(
            sizes,
            [("web-new".to_string(), 16), ("web-old".to_string(), 7)]
        );
    }

    #[test]
    fn scaling_down_to_zero_takes_everything() {
        let d = deployment(0, &rolling(json!(1), json!(1)));
        let sizes: Vec<i64> = proportional_sizes(
            &d,
            &[
                replicaset("a", 3, Some("5"), "2026-11-29T10:00:00Z"),
                replicaset("b", 2, Some("5"), "2026-11-29T10:01:00Z"),
            ],
        )
        .into_iter()
        .map(|(_, n)| n)
        .collect();
        assert_eq!(sizes, [0, 0]);
    }

    #[test]
    fn annotations_carry_the_revision_and_its_history() {
        let mut d = deployment(3, &rolling(json!(1), json!(0)));
        d.annotations.insert("team".into(), json!("shop"));
        d.annotations.insert(
            "kubectl.kubernetes.io/last-applied-configuration".into(),
            json!("{}"),
        );
        let mut fresh = Map::new();
        assert!(new_replicaset_annotations(&d, &mut fresh, 1, false));
        assert_eq!(
            Value::Object(fresh.clone()),
            json!({"team": "shop", REVISION_ANNOTATION: "1", DESIRED_REPLICAS_ANNOTATION: "3", MAX_REPLICAS_ANNOTATION: "4"})
        );
        assert!(
            !new_replicaset_annotations(&d, &mut fresh, 1, true),
            "nothing new to write"
        );
        // Rolling back to this ReplicaSet at revision 5 keeps "1" in the history.
        assert!(new_replicaset_annotations(&d, &mut fresh, 5, true));
        assert_eq!(fresh[REVISION_ANNOTATION], "5");
        assert_eq!(fresh[REVISION_HISTORY_ANNOTATION], "1");
        assert!(new_replicaset_annotations(&d, &mut fresh, 7, true));
        assert_eq!(fresh[REVISION_HISTORY_ANNOTATION], "1,5");
    }

    #[test]
    fn conditions_keep_their_transition_time_while_the_status_holds() {
        let t0: Timestamp = "2026-11-29T10:00:00Z".parse().unwrap();
        let t1 = t0.checked_add(SignedDuration::from_secs(60)).unwrap();
        let mut conditions = vec![
            condition("Available", "False", "MinimumReplicasUnavailable", "m", t0),
            condition("Progressing", "True", "NewReplicaSetCreated", "c", t0),
        ];
        set_condition(
            &mut conditions,
            condition("Available", "False", "MinimumReplicasUnavailable", "m", t1),
        );
        assert_eq!(
            conditions[0]["lastUpdateTime"], "2026-11-29T10:00:00Z",
            "same status and reason: untouched"
        );
        set_condition(
            &mut conditions,
            condition("Progressing", "True", "ReplicaSetUpdated", "u", t1),
        );
        assert_eq!(conditions[1]["reason"], "ReplicaSetUpdated");
        assert_eq!(conditions[1]["lastTransitionTime"], "2026-11-29T10:00:00Z");
        assert_eq!(conditions[1]["lastUpdateTime"], "2026-11-29T10:01:00Z");
        set_condition(
            &mut conditions,
            condition("Available", "True", "MinimumReplicasAvailable", "a", t1),
        );
        assert_eq!(
            conditions[1]["type"], "Available",
            "a changed condition moves to the end"
        );
        assert_eq!(conditions[1]["lastTransitionTime"], "2026-11-29T10:01:00Z");
    }

    #[test]
    fn progress_deadline_passes_only_without_progress() {
        let t0: Timestamp = "2026-11-29T10:00:00Z".parse().unwrap();
        let conditions = vec![condition(
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            "u",
            t0,
        )];
        assert!(!timed_out(
            &conditions,
            600,
            t0.checked_add(SignedDuration::from_secs(600)).unwrap()
        ));
        assert!(timed_out(
            &conditions,
            600,
            t0.checked_add(SignedDuration::from_secs(601)).unwrap()
        ));
        let done = vec![condition(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            "d",
            t0,
        )];
        assert!(!timed_out(
            &done,
            600,
            t0.checked_add(SignedDuration::from_secs(6000)).unwrap()
        ));
        assert!(made_progress(
            &json!({"replicas": 4, "updatedReplicas": 1}),
            &json!({"replicas": 4, "updatedReplicas": 2})
        ));
        assert!(!made_progress(
            &json!({"replicas": 4, "availableReplicas": 3}),
            &json!({"replicas": 4, "availableReplicas": 3})
        ));
    }
}
