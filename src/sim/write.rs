//! The write pipeline of the simulated API server: what kube-apiserver does between decoding
//! a request body and committing to etcd. Type checks, namespace and name rules, decoding and
//! pruning, defaults, system metadata, `generation`, managed fields, optimistic concurrency,
//! dry run, graceful deletion, finalizers, owner-reference garbage collection, namespace
//! termination and CRD registration. Controllers write through the same functions as HTTP
//! clients, so their writes look the same on every watch.

use std::sync::Arc;

use jiff::SignedDuration;
use serde_json::{Map, Value, json};

use super::aggregated;
use super::builtin;
use super::clock::rfc3339;
use super::defaults;
use super::error::ApiError;
use super::patch::{self, PatchError};
use super::resource::{ResourceType, types_from_crd};
use super::schema::{self, FieldValidation};
use super::store::{Store, StoredObject};

/// How a write behaves; mirrors the query parameters of a write request.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: String,
    pub field_validation: FieldValidation,
    /// Server-side apply only: take ownership of conflicting fields.
    pub force: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            field_manager: String::new(),
            field_validation: FieldValidation::Warn,
            force: false,
        }
    }
}

impl WriteOptions {
    /// Options for a controller's own writes.
    pub fn manager(name: &str) -> Self {
        Self {
            field_manager: name.to_string(),
            ..Self::default()
        }
    }
}

/// A successful write.
#[derive(Debug)]
pub struct Written {
    pub object: Arc<StoredObject>,
    /// `Warning` headers for the client (unknown fields in Warn mode).
    pub warnings: Vec<String>,
    pub created: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        match media {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Main,
    Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    #[default]
    Background,
    Foreground,
    Orphan,
}

#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation: Propagation,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

/// The result of a delete request.
#[derive(Debug)]
pub enum Deleted {
    /// The object is gone; this is its last version.
    Gone(Arc<StoredObject>),
    /// Deletion started (grace period, finalizers); the object still exists.
    Pending(Arc<StoredObject>),
}

const UPDATE_RETRIES: usize = 16;
const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

impl Store {
    /// Creates an object, as `POST` on a collection does.
    pub fn create(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        mut body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        check_type_meta(rt, &body)?;
        ensure_metadata(&mut body)?;
        let ns = resolve_namespace(rt, namespace, &mut body)?;
        let name = self.resolve_name(rt, &mut body)?;
        if rt.namespaced {
            self.require_active_namespace(&ns)?;
        }
        let mut warnings = Vec::new();
        let mut value = admit(rt, body, &name, opts, &mut warnings)?;
        self.stamp_new(rt, &mut value);
        if rt.is_builtin() {
            defaults::on_create(&rt.kind, &mut value);
        } else if rt.has_status {
            strip(&mut value, "status");
        }
        validate_kind(rt, &name, &value)?;
        if rt.is_builtin() && rt.kind == "CustomResourceDefinition" {
            value["status"] = crd_status(&value);
        }
        let now = rfc3339(self.clock.now());
        patch::record_update(
            None,
            &mut value,
            &opts.field_manager,
            &rt.kind,
            rt.is_builtin(),
            &rt.api_version(),
            &now,
        );
        self.commit_new(rt, value, opts, warnings)
    }

    fn commit_new(
        &self,
        rt: &ResourceType,
        value: Value,
        opts: &WriteOptions,
        warnings: Vec<String>,
    ) -> Result<Written, ApiError> {
        if opts.dry_run {
            let object = Arc::new(StoredObject::from_value(&rt.kind, &value, 0)?);
            return Ok(Written {
                object,
                warnings,
                created: true,
            });
        }
        let object = self.commit_put(rt, value, Some(0))?;
        self.after_commit(rt, &object)?;
        Ok(Written {
            object,
            warnings,
            created: true,
        })
    }

    /// Loads an object as it would sit in an existing cluster's etcd: system metadata is
    /// filled where missing, but no defaults, status resets or admission apply. Scenarios use
    /// this to set up the starting state of a cluster.
    pub fn seed(&self, rt: &ResourceType, mut value: Value) -> Result<Arc<StoredObject>, ApiError> {
        ensure_metadata(&mut value)?;
        value["apiVersion"] = json!(rt.api_version());
        value["kind"] = json!(rt.kind);
        if !rt.namespaced {
            strip(&mut value["metadata"], "namespace");
        }
        let meta = &mut value["metadata"];
        if meta.get("uid").is_none() {
            meta["uid"] = json!(self.uid_for(&uid_key(rt, meta)));
        }
        if meta.get("creationTimestamp").is_none() {
            meta["creationTimestamp"] = json!(rfc3339(self.clock.now()));
        }
        if rt.has_generation && meta.get("generation").is_none() {
            meta["generation"] = json!(1);
        }
        let object = self.commit_put(rt, value, Some(0))?;
        self.after_commit(rt, &object)?;
        Ok(object)
    }

    /// Replaces an object (`PUT`), on the main resource or its status.
    pub fn update(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        body: &Value,
        part: Part,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        check_type_meta(rt, body)?;
        let body_name = body
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if rt.namespaced
            && let Some(body_ns) = body.pointer("/metadata/namespace").and_then(Value::as_str)
            && body_ns != namespace
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let precondition = match body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        {
            None | Some("") => None,
            Some(rv) => Some(rv.parse::<u64>().map_err(|_| {
                ApiError::invalid_field(
                    &rt.kind_group(),
                    name,
                    "metadata.resourceVersion",
                    "FieldValueInvalid",
                    &format!("Invalid value: \"{rv}\": must be a number"),
                )
            })?),
        };
        self.guaranteed_update(rt, namespace, name, precondition, part, opts, true, |_| {
            Ok(body.clone())
        })
    }

    /// Patches an object (`PATCH`). Server-side apply creates the object when it is absent.
    #[allow(clippy::too_many_arguments)] // mirrors the request: target, patch, part and options
    pub fn patch(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        patch_type: PatchType,
        body: &Value,
        part: Part,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        if patch_type == PatchType::Strategic && !rt.is_builtin() {
            return Err(ApiError::unsupported_media_type(
                "application/strategic-merge-patch+json",
                &[
                    "application/json-patch+json",
                    "application/merge-patch+json",
                    "application/apply-patch+yaml",
                ],
            ));
        }
        if patch_type == PatchType::Apply {
            if opts.field_manager.is_empty() {
                return Err(ApiError::bad_request(
                    "PATCH, application/apply-patch+yaml requests must specify a fieldManager",
                ));
            }
            if part == Part::Main && self.try_get(rt, namespace, name).is_none() {
                return self.apply_create(rt, namespace, name, body, opts);
            }
        }
        let now = rfc3339(self.clock.now());
        let record = patch_type != PatchType::Apply;
        self.guaranteed_update(rt, namespace, name, None, part, opts, record, |current| {
            let mut target = current.clone();
            let result = match patch_type {
                PatchType::Json => patch::json_patch(&mut target, body),
                PatchType::Merge => patch::merge_patch(&mut target, body),
                PatchType::Strategic => patch::strategic_merge_patch(&mut target, body, &rt.kind),
                PatchType::Apply => patch::server_side_apply(
                    Some(current),
                    body,
                    &opts.field_manager,
                    opts.force,
                    &rt.kind,
                    rt.is_builtin(),
                    &now,
                )
                .map(|applied| target = applied),
            };
            result.map_err(|e| match (patch_type, e) {
                (PatchType::Json, PatchError::Unprocessable(why)) => {
                    tracing::debug!(%why, name, "JSON patch does not apply");
                    ApiError::json_patch_not_applicable()
                }
                (_, e) => patch_error(rt, name, e),
            })?;
            let before = current.pointer("/metadata/resourceVersion");
            if target
                .pointer("/metadata/resourceVersion")
                .is_some_and(|rv| Some(rv) != before && !rv.is_null())
            {
                return Err(ApiError::stale_write(rt.group_resource(), name));
            }
            Ok(target)
        })
    }

    fn apply_create(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        body: &Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        check_type_meta(rt, body)?;
        let now = rfc3339(self.clock.now());
        let mut value = patch::server_side_apply(
            None,
            body,
            &opts.field_manager,
            opts.force,
            &rt.kind,
            rt.is_builtin(),
            &now,
        )
        .map_err(|e| patch_error(rt, name, e))?;
        ensure_metadata(&mut value)?;
        value["metadata"]["name"] = json!(name);
        let ns = resolve_namespace(rt, Some(namespace), &mut value)?;
        if rt.namespaced {
            self.require_active_namespace(&ns)?;
        }
        let managed = value["metadata"].get("managedFields").cloned();
        let mut warnings = Vec::new();
        let mut value = admit(rt, value, name, opts, &mut warnings)?;
        self.stamp_new(rt, &mut value);
        if let Some(managed) = managed {
            value["metadata"]["managedFields"] = managed;
        }
        if rt.is_builtin() {
            defaults::on_create(&rt.kind, &mut value);
        } else if rt.has_status {
            strip(&mut value, "status");
        }
        validate_kind(rt, name, &value)?;
        if rt.is_builtin() && rt.kind == "CustomResourceDefinition" {
            value["status"] = crd_status(&value);
        }
        self.commit_new(rt, value, opts, warnings)
    }

    /// Read-modify-write with retries on concurrent changes, like the apiserver's
    /// GuaranteedUpdate. `precondition` pins the version the client read.
    #[allow(clippy::too_many_arguments)] // the pipeline's whole input; grouping it would only rename it
    fn guaranteed_update(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        precondition: Option<u64>,
        part: Part,
        opts: &WriteOptions,
        record: bool,
        mutate: impl Fn(&Value) -> Result<Value, ApiError>,
    ) -> Result<Written, ApiError> {
        for _ in 0..UPDATE_RETRIES {
            let stored = self.get(rt, namespace, name)?;
            if precondition.is_some_and(|rv| rv != stored.rv) {
                return Err(ApiError::stale_write(rt.group_resource(), name));
            }
            let current = stored.value()?;
            let proposed = mutate(&current)?;
            let mut warnings = Vec::new();
            let mut value =
                finalize_update(rt, &current, proposed, part, opts, name, &mut warnings)?;
            if value == current {
                return Ok(Written {
                    object: stored,
                    warnings,
                    created: false,
                });
            }
            if record {
                let now = rfc3339(self.clock.now());
                patch::record_update(
                    Some(&current),
                    &mut value,
                    &opts.field_manager,
                    &rt.kind,
                    rt.is_builtin(),
                    &rt.api_version(),
                    &now,
                );
            }
            if opts.dry_run {
                let object = Arc::new(StoredObject::from_value(&rt.kind, &value, stored.rv)?);
                return Ok(Written {
                    object,
                    warnings,
                    created: false,
                });
            }
            match self.commit_put(rt, value, Some(stored.rv)) {
                Ok(object) => {
                    self.after_commit(rt, &object)?;
                    return Ok(Written {
                        object,
                        warnings,
                        created: false,
                    });
                }
                Err(e) if e.reason == "Conflict" && precondition.is_none() => {}
                Err(e) => return Err(e),
            }
        }
        Err(ApiError::stale_write(rt.group_resource(), name))
    }

    /// Work that follows a commit: CRD registration, and completing a deletion whose last
    /// finalizer was just removed.
    fn after_commit(&self, rt: &ResourceType, object: &Arc<StoredObject>) -> Result<(), ApiError> {
        if rt.is_builtin() && rt.kind == "CustomResourceDefinition" {
            let value = object.value()?;
            let types = types_from_crd(&value).map_err(ApiError::bad_request)?;
            self.update_registry(|registry| {
                registry.remove_crd(&object.name);
                for t in types {
                    registry.insert(t);
                }
            });
        }
        if rt.is_builtin() && matches!(rt.kind.as_str(), "APIService" | "CustomResourceDefinition")
        {
            self.sync_aggregated();
        }
        let value = object.value()?;
        if value.pointer("/metadata/deletionTimestamp").is_some()
            && finalizers(&value).is_empty()
            && !graceful_pending(rt, &value)
        {
            self.remove(rt, &object.namespace, &object.name, Some(object.rv))?;
        }
        Ok(())
    }

    /// Serves the Calico v3 views exactly while their APIService is Available.
    fn sync_aggregated(&self) {
        let registry = self.registry();
        let available = registry
            .get("apiregistration.k8s.io", "v1", "apiservices")
            .and_then(|rt| self.try_get(&rt, "", aggregated::APISERVICE))
            .and_then(|o| o.value().ok())
            .is_some_and(|v| aggregated::apiservice_available(&v));
        self.update_registry(|r| aggregated::sync_registration(r, available));
    }

    /// Deletes an object (`DELETE`), honouring grace periods, finalizers and propagation.
    pub fn delete(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        let stored = self.get(rt, namespace, name)?;
        let current = stored.value()?;
        check_preconditions(rt, name, &stored, opts)?;
        if opts.dry_run {
            return Ok(Deleted::Gone(stored));
        }
        if rt.is_builtin() && rt.kind == "Namespace" {
            return self.delete_namespace(rt, stored, current);
        }
        match opts.propagation {
            Propagation::Orphan => self.orphan_dependents(&stored.uid),
            Propagation::Foreground if !self.dependents_of(&stored.uid).is_empty() => {
                return self.delete_foreground(rt, &stored, current);
            }
            _ => {}
        }
        if let Some(grace) = pod_grace_period(rt, &current, opts.grace_period_seconds) {
            return self.start_graceful_deletion(rt, &stored, current, grace);
        }
        if !finalizers(&current).is_empty() {
            return self
                .mark_deleting(rt, &stored, current)
                .map(Deleted::Pending);
        }
        if rt.is_builtin() && rt.kind == "CustomResourceDefinition" {
            self.drop_custom_resources(&stored.name);
        }
        self.remove(rt, namespace, name, Some(stored.rv))
            .map(Deleted::Gone)
    }

    fn start_graceful_deletion(
        &self,
        rt: &ResourceType,
        stored: &Arc<StoredObject>,
        mut current: Value,
        grace: i64,
    ) -> Result<Deleted, ApiError> {
        let existing = current
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64);
        if existing.is_some_and(|g| g <= grace) {
            return Ok(Deleted::Pending(Arc::clone(stored)));
        }
        let deadline = self
            .clock
            .now()
            .checked_add(SignedDuration::from_secs(grace))
            .unwrap_or_else(|_| self.clock.now());
        current["metadata"]["deletionTimestamp"] = json!(rfc3339(deadline));
        current["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        let object = self.commit_put(rt, current, Some(stored.rv))?;
        Ok(Deleted::Pending(object))
    }

    fn mark_deleting(
        &self,
        rt: &ResourceType,
        stored: &Arc<StoredObject>,
        mut current: Value,
    ) -> Result<Arc<StoredObject>, ApiError> {
        if current.pointer("/metadata/deletionTimestamp").is_some() {
            return Ok(Arc::clone(stored));
        }
        current["metadata"]["deletionTimestamp"] = json!(rfc3339(self.clock.now()));
        current["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        if rt.has_generation {
            let generation = current
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            current["metadata"]["generation"] = json!(generation + 1);
        }
        self.commit_put(rt, current, Some(stored.rv))
    }

    fn delete_foreground(
        &self,
        rt: &ResourceType,
        stored: &Arc<StoredObject>,
        mut current: Value,
    ) -> Result<Deleted, ApiError> {
        let mut list: Vec<Value> = finalizers(&current)
            .into_iter()
            .map(Value::String)
            .collect();
        if !list.iter().any(|f| f == FOREGROUND_FINALIZER) {
            list.push(json!(FOREGROUND_FINALIZER));
        }
        current["metadata"]["finalizers"] = Value::Array(list);
        let marked = self
            .mark_deleting(rt, stored, current.clone())
            .or_else(|_| self.commit_put(rt, current, Some(stored.rv)))?;
        let foreground = DeleteOptions {
            propagation: Propagation::Foreground,
            ..DeleteOptions::default()
        };
        for (dep_rt, dep) in self.dependents_of(&stored.uid) {
            // A dependent that vanished meanwhile is what we wanted anyway.
            let _ = self.delete(&dep_rt, &dep.namespace, &dep.name, &foreground);
        }
        self.release_foreground_owner(&stored.uid);
        Ok(match self.by_uid(&stored.uid) {
            Some((_, obj)) => Deleted::Pending(obj),
            None => Deleted::Gone(marked),
        })
    }

    /// Removes an object for good and cleans up after it.
    fn remove(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        expect_rv: Option<u64>,
    ) -> Result<Arc<StoredObject>, ApiError> {
        let last = self.commit_delete(rt, namespace, name, expect_rv)?;
        self.after_removal(rt, &last);
        Ok(last)
    }

    /// Garbage collection and namespace termination, triggered by each removal.
    fn after_removal(&self, rt: &ResourceType, removed: &Arc<StoredObject>) {
        if rt.is_builtin() && rt.kind == "APIService" {
            self.sync_aggregated();
        }
        for (dep_rt, dep) in self.dependents_of(&removed.uid) {
            let other_owner_alive = dep
                .owner_uids
                .iter()
                .any(|uid| *uid != removed.uid && self.by_uid(uid).is_some());
            if other_owner_alive {
                self.strip_owner(&dep_rt, &dep, &removed.uid);
            } else {
                // Already terminating or gone: nothing left to collect.
                let _ = self.delete(
                    &dep_rt,
                    &dep.namespace,
                    &dep.name,
                    &DeleteOptions::default(),
                );
            }
        }
        for owner in &removed.owner_uids {
            self.release_foreground_owner(owner);
        }
        if rt.namespaced {
            self.finish_namespace(&removed.namespace);
        }
    }

    fn release_foreground_owner(&self, owner_uid: &str) {
        let Some((owner_rt, owner)) = self.by_uid(owner_uid) else {
            return;
        };
        let Ok(value) = owner.value() else { return };
        let waiting = value.pointer("/metadata/deletionTimestamp").is_some()
            && finalizers(&value).iter().any(|f| f == FOREGROUND_FINALIZER);
        if waiting && self.dependents_of(owner_uid).is_empty() {
            let rest: Vec<String> = finalizers(&value)
                .into_iter()
                .filter(|f| f != FOREGROUND_FINALIZER)
                .collect();
            let body = json!({ "metadata": { "finalizers": rest } });
            // Racing writers may have finished it already.
            let _ = self.patch(
                &owner_rt,
                &owner.namespace,
                &owner.name,
                PatchType::Merge,
                &body,
                Part::Main,
                &WriteOptions::manager("garbage-collector"),
            );
        }
    }

    fn orphan_dependents(&self, owner_uid: &str) {
        for (dep_rt, dep) in self.dependents_of(owner_uid) {
            self.strip_owner(&dep_rt, &dep, owner_uid);
        }
    }

    fn strip_owner(&self, rt: &ResourceType, dep: &StoredObject, owner_uid: &str) {
        let owner_uid = owner_uid.to_string();
        let opts = WriteOptions::manager("garbage-collector");
        // The dependent may be gone by now; then there is nothing to strip.
        let _ = self.guaranteed_update(
            rt,
            &dep.namespace,
            &dep.name,
            None,
            Part::Main,
            &opts,
            true,
            |current| {
                let mut next = current.clone();
                if let Some(refs) = next
                    .pointer_mut("/metadata/ownerReferences")
                    .and_then(Value::as_array_mut)
                {
                    refs.retain(|r| {
                        r.get("uid").and_then(Value::as_str) != Some(owner_uid.as_str())
                    });
                    if refs.is_empty() {
                        strip(&mut next["metadata"], "ownerReferences");
                    }
                }
                Ok(next)
            },
        );
    }

    fn delete_namespace(
        &self,
        rt: &ResourceType,
        stored: Arc<StoredObject>,
        mut current: Value,
    ) -> Result<Deleted, ApiError> {
        if current.pointer("/metadata/deletionTimestamp").is_none() {
            current["metadata"]["deletionTimestamp"] = json!(rfc3339(self.clock.now()));
            current["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            current["status"] = json!({ "phase": "Terminating" });
            self.commit_put(rt, current, Some(stored.rv))?;
        }
        for (child_rt, child) in self.namespace_contents(&stored.name) {
            // Children that are already terminating keep their own schedule.
            let _ = self.delete(
                &child_rt,
                &child.namespace,
                &child.name,
                &DeleteOptions::default(),
            );
        }
        self.finish_namespace(&stored.name);
        Ok(match self.try_get(rt, "", &stored.name) {
            Some(obj) => Deleted::Pending(obj),
            None => Deleted::Gone(stored),
        })
    }

    /// Removes a terminating namespace once it is empty.
    fn finish_namespace(&self, namespace: &str) {
        let registry = self.registry();
        let Some(ns_rt) = registry.get("", "v1", "namespaces") else {
            return;
        };
        let Some(ns) = self.try_get(&ns_rt, "", namespace) else {
            return;
        };
        let terminating = ns
            .value()
            .is_ok_and(|v| v.pointer("/metadata/deletionTimestamp").is_some());
        if terminating && self.namespace_contents(namespace).is_empty() {
            // Another removal may have finished it first.
            let _ = self.commit_delete(&ns_rt, "", namespace, None);
        }
    }

    /// Deletes every object of a CRD's resource and unregisters it.
    fn drop_custom_resources(&self, crd_name: &str) {
        let registry = self.registry();
        let mut dropped = Vec::new();
        for rt in registry.types() {
            let owned = matches!(&rt.origin, super::resource::Origin::Crd { crd_name: n, .. } if n == crd_name);
            if owned && !dropped.contains(&rt.storage_key()) {
                dropped.push(rt.storage_key());
                self.drop_resource(rt);
            }
        }
        self.update_registry(|r| {
            r.remove_crd(crd_name);
        });
    }

    /// Deletes every object a list would return (`DELETE` on a collection).
    pub fn delete_collection(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        list: &super::store::ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Vec<Arc<StoredObject>>, ApiError> {
        let page = self.list(rt, namespace, list)?;
        let mut out = Vec::new();
        for obj in page.items {
            match self.delete(rt, &obj.namespace, &obj.name, opts) {
                Ok(Deleted::Gone(o) | Deleted::Pending(o)) => out.push(o),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn stamp_new(&self, rt: &ResourceType, value: &mut Value) {
        let meta = &mut value["metadata"];
        for key in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "generation",
            "managedFields",
        ] {
            strip(meta, key);
        }
        meta["uid"] = json!(self.uid_for(&uid_key(rt, meta)));
        meta["creationTimestamp"] = json!(rfc3339(self.clock.now()));
        if rt.has_generation {
            meta["generation"] = json!(1);
        }
    }

    fn resolve_name(&self, rt: &ResourceType, body: &mut Value) -> Result<String, ApiError> {
        let pinned = pinned_node(body).unwrap_or_default().to_string();
        let meta = &mut body["metadata"];
        let namespace = meta
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let name = match meta
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            Some(name) => name.to_string(),
            None => match meta
                .get("generateName")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                // Keyed by what tells the object apart, so the names do not depend on which
                // controller created what first: a DaemonSet's pods by their node, a
                // ReplicaSet's by how many it made before.
                Some(prefix) => {
                    let key = format!(
                        "name/{}/{}/{namespace}/{prefix}/{pinned}",
                        rt.group, rt.plural
                    );
                    format!("{prefix}{}", self.generated_suffix(&key))
                }
                None => {
                    return Err(ApiError::invalid_field(
                        &rt.kind_group(),
                        "",
                        "metadata.name",
                        "FieldValueRequired",
                        "Required value: name or generateName is required",
                    ));
                }
            },
        };
        meta["name"] = json!(name);
        validate_name(rt, &name)?;
        Ok(name)
    }

    fn require_active_namespace(&self, namespace: &str) -> Result<(), ApiError> {
        let registry = self.registry();
        let Some(ns_rt) = registry.get("", "v1", "namespaces") else {
            return Ok(());
        };
        let ns = self.get(&ns_rt, "", namespace)?;
        let terminating = ns.value()?.pointer("/metadata/deletionTimestamp").is_some();
        if terminating {
            return Err(ApiError::forbidden_message(format!(
                "unable to create new content in namespace {namespace} because it is being terminated"
            )));
        }
        Ok(())
    }
}

impl ApiError {
    /// A 403 that is not an RBAC denial (namespace terminating, read-only resources).
    pub fn forbidden_message(message: String) -> Self {
        let mut err = Self::bad_request(message);
        err.code = 403;
        err.reason = "Forbidden";
        err
    }
}

#[allow(clippy::too_many_arguments)] // the pipeline's whole input, as in guaranteed_update
fn finalize_update(
    rt: &ResourceType,
    current: &Value,
    mut proposed: Value,
    part: Part,
    opts: &WriteOptions,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<Value, ApiError> {
    if !proposed.is_object() {
        return Err(ApiError::bad_request(
            "the object to write must be a JSON object",
        ));
    }
    ensure_metadata(&mut proposed)?;
    let new_name = proposed
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or(name);
    if new_name != name {
        return Err(ApiError::invalid_field(
            &rt.kind_group(),
            name,
            "metadata.name",
            "FieldValueInvalid",
            "field is immutable",
        ));
    }
    proposed["apiVersion"] = json!(rt.api_version());
    proposed["kind"] = json!(rt.kind);
    match part {
        Part::Status => {
            let mut next = current.clone();
            match proposed.get_mut("status").map(Value::take) {
                Some(status) => next["status"] = status,
                None => strip(&mut next, "status"),
            }
            proposed = next;
        }
        Part::Main if rt.has_status => match current.get("status") {
            Some(status) => proposed["status"] = status.clone(),
            None => strip(&mut proposed, "status"),
        },
        Part::Main => {}
    }
    for key in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
    ] {
        match current["metadata"].get(key) {
            Some(v) => proposed["metadata"][key] = v.clone(),
            None => strip(&mut proposed["metadata"], key),
        }
    }
    if proposed["metadata"]
        .get("managedFields")
        .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty))
    {
        match current["metadata"].get("managedFields") {
            Some(m) => proposed["metadata"]["managedFields"] = m.clone(),
            None => strip(&mut proposed["metadata"], "managedFields"),
        }
    }
    if current.pointer("/metadata/deletionTimestamp").is_some() {
        let before = finalizers(current);
        if let Some(added) = finalizers(&proposed)
            .into_iter()
            .find(|f| !before.contains(f))
        {
            return Err(ApiError::invalid_field(
                &rt.kind_group(),
                name,
                "metadata.finalizers",
                "FieldValueForbidden",
                &format!(
                    "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{\"{added}\"}}"
                ),
            ));
        }
    }
    let mut value = admit(rt, proposed, name, opts, warnings)?;
    if rt.has_generation && spec_changed(current, &value) {
        let generation = current
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        value["metadata"]["generation"] = json!(generation + 1);
    }
    validate_kind(rt, name, &value)?;
    Ok(value)
}

pub(crate) fn patch_error(rt: &ResourceType, name: &str, err: PatchError) -> ApiError {
    match err {
        PatchError::Malformed(msg) => ApiError::bad_request(msg),
        PatchError::Unprocessable(msg) => {
            let mut e = ApiError::invalid(&rt.kind_group(), name, msg, &json!([]));
            e.details = None;
            e
        }
        PatchError::Conflicts(list) => {
            let message = patch::describe_conflicts(&list);
            ApiError::apply_conflicts(&list, message)
        }
    }
}

/// Decodes, prunes and validates an object for its kind, applying `fieldValidation`.
fn admit(
    rt: &ResourceType,
    value: Value,
    name: &str,
    opts: &WriteOptions,
    warnings: &mut Vec<String>,
) -> Result<Value, ApiError> {
    let (value, unknown) = if rt.is_builtin() {
        let decoded = builtin::decode(&rt.kind, &value).map_err(|e| {
            ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: {e}",
                rt.kind, rt.version, rt.kind
            ))
        })?;
        (decoded.value, decoded.unknown_fields)
    } else if let Some(schema_doc) = rt.schema() {
        let mut value = value;
        let outcome = schema::prune_and_validate(&mut value, schema_doc);
        if !outcome.errors.is_empty() {
            let (message, causes) =
                schema::invalid_status_parts(&rt.kind_group(), name, &outcome.errors);
            return Err(ApiError::invalid(&rt.kind_group(), name, message, &causes));
        }
        (value, outcome.unknown_fields)
    } else {
        (value, Vec::new())
    };
    match opts.field_validation {
        FieldValidation::Strict if !unknown.is_empty() => Err(ApiError::bad_request(
            schema::strict_decoding_bad_request_message(&rt.kind, &rt.version, &unknown),
        )),
        FieldValidation::Warn => {
            warnings.extend(schema::unknown_field_warnings(&unknown));
            Ok(value)
        }
        _ => Ok(value),
    }
}

fn check_type_meta(rt: &ResourceType, body: &Value) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or_default();
    let api_version = body
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind.is_empty() {
        return Err(ApiError::bad_request(
            "Object 'Kind' is missing in the request body",
        ));
    }
    if api_version.is_empty() {
        return Err(ApiError::bad_request(
            "Object 'apiVersion' is missing in the request body",
        ));
    }
    if kind != rt.kind {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{}\" cannot be handled as a {}: the kind in the data ({kind}) does not match the expected kind ({})",
            api_version.rsplit('/').next().unwrap_or(api_version),
            rt.kind,
            rt.kind
        )));
    }
    if api_version != rt.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            rt.api_version()
        )));
    }
    Ok(())
}

fn ensure_metadata(body: &mut Value) -> Result<(), ApiError> {
    match body.get("metadata") {
        None | Some(Value::Null) => {
            body["metadata"] = Value::Object(Map::new());
            Ok(())
        }
        Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(ApiError::bad_request("metadata must be an object")),
    }
}

fn resolve_namespace(
    rt: &ResourceType,
    namespace: Option<&str>,
    body: &mut Value,
) -> Result<String, ApiError> {
    if !rt.namespaced {
        strip(&mut body["metadata"], "namespace");
        return Ok(String::new());
    }
    let in_body = body
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let ns = match (namespace, in_body) {
        (Some(url), Some(b)) if url != b => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        (Some(url), _) => url.to_string(),
        (None, Some(b)) => b,
        (None, None) => {
            return Err(ApiError::bad_request(
                "a namespace is required to create this object",
            ));
        }
    };
    body["metadata"]["namespace"] = json!(ns);
    Ok(ns)
}

fn validate_name(rt: &ResourceType, name: &str) -> Result<(), ApiError> {
    let label_only = rt.kind == "Namespace";
    // A DNS-1123 subdomain bounds only its total length (253), not each dot-separated part:
    // Calico's `k8s-pod-network.<64 hex digits>` IPAM handles are valid object names.
    let valid_part = |part: &str| {
        !part.is_empty()
            && (!label_only || part.len() <= 63)
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !part.starts_with('-')
            && !part.ends_with('-')
    };
    let ok = name.len() <= 253
        && if label_only {
            valid_part(name)
        } else {
            name.split('.').all(valid_part)
        };
    if ok {
        return Ok(());
    }
    let detail = if label_only {
        format!(
            "Invalid value: \"{name}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        )
    } else {
        format!(
            "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        )
    };
    Err(ApiError::invalid_field(
        &rt.kind_group(),
        name,
        "metadata.name",
        "FieldValueInvalid",
        &detail,
    ))
}

/// Rules of individual kinds that decoding alone does not catch.
fn validate_kind(rt: &ResourceType, name: &str, value: &Value) -> Result<(), ApiError> {
    if !rt.is_builtin() {
        return Ok(());
    }
    match rt.kind.as_str() {
        "Pod"
            if value
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty) =>
        {
            return Err(ApiError::invalid_field(
                &rt.kind_group(),
                name,
                "spec.containers",
                "FieldValueRequired",
                "Required value",
            ));
        }
        "PodDisruptionBudget"
            if value.pointer("/spec/minAvailable").is_some()
                && value.pointer("/spec/maxUnavailable").is_some() =>
        {
            return Err(ApiError::invalid_field(
                &rt.kind_group(),
                name,
                "spec",
                "FieldValueInvalid",
                "Invalid value: minAvailable and maxUnavailable cannot be both set",
            ));
        }
        "CustomResourceDefinition" => {
            types_from_crd(value).map_err(|detail| {
                let field = detail.split(':').next().unwrap_or("spec").to_string();
                ApiError::invalid_field(
                    &rt.kind_group(),
                    name,
                    &field,
                    "FieldValueInvalid",
                    detail.split_once(": ").map_or(detail.as_str(), |(_, d)| d),
                )
            })?;
        }
        _ => {}
    }
    Ok(())
}

/// The status a CRD gets once its names are accepted and its resources served.
fn crd_status(crd: &Value) -> Value {
    let storage: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v["storage"] == json!(true))
                .map(|v| v["name"].clone())
                .collect()
        })
        .unwrap_or_default();
    let now = crd
        .pointer("/metadata/creationTimestamp")
        .cloned()
        .unwrap_or(Value::Null);
    let condition = |kind: &str, reason: &str, message: &str| json!({"type": kind, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message});
    json!({
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": crd.pointer("/spec/names").cloned().unwrap_or_else(|| json!({})),
        "storedVersions": storage,
    })
}

fn check_preconditions(
    rt: &ResourceType,
    name: &str,
    stored: &StoredObject,
    opts: &DeleteOptions,
) -> Result<(), ApiError> {
    if let Some(uid) = opts
        .precondition_uid
        .as_deref()
        .filter(|u| *u != stored.uid)
    {
        return Err(ApiError::conflict(
            rt.group_resource(),
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                stored.uid
            ),
        ));
    }
    if let Some(rv) = opts
        .precondition_rv
        .as_deref()
        .filter(|rv| *rv != stored.rv.to_string())
    {
        return Err(ApiError::conflict(
            rt.group_resource(),
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                stored.rv
            ),
        ));
    }
    Ok(())
}

/// The grace period a pod deletion gets, or `None` when it is removed at once: pods never
/// scheduled, and pods that already finished, have nothing for a kubelet to stop.
fn pod_grace_period(rt: &ResourceType, pod: &Value, requested: Option<i64>) -> Option<i64> {
    if !(rt.is_builtin() && rt.kind == "Pod") {
        return None;
    }
    let scheduled = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !scheduled || matches!(phase, "Succeeded" | "Failed") {
        return None;
    }
    let grace = requested
        .or_else(|| {
            pod.pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(30)
        .max(0);
    (grace > 0).then_some(grace)
}

/// A terminating pod still waiting for its kubelet.
fn graceful_pending(rt: &ResourceType, value: &Value) -> bool {
    rt.is_builtin()
        && rt.kind == "Pod"
        && value
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .is_some_and(|g| g > 0)
}

fn finalizers(value: &Value) -> Vec<String> {
    value
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether anything outside metadata and status changed: what bumps `generation`.
fn spec_changed(before: &Value, after: &Value) -> bool {
    let (Some(a), Some(b)) = (before.as_object(), after.as_object()) else {
        return true;
    };
    let relevant =
        |k: &String| !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind");
    a.keys()
        .chain(b.keys())
        .filter(|k| relevant(k))
        .any(|k| a.get(k) != b.get(k))
}

fn strip(value: &mut Value, key: &str) {
    if let Some(map) = value.as_object_mut() {
        map.remove(key);
    }
}

/// The key of an object's uid sequence: which object it is, not when it was made.
fn uid_key(rt: &ResourceType, meta: &Value) -> String {
    let text = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or_default();
    format!(
        "uid/{}/{}/{}/{}",
        rt.group,
        rt.plural,
        text("namespace"),
        text("name")
    )
}

/// The node a new pod is pinned to, by `spec.nodeName` or, as the DaemonSet controller pins
/// its pods, by required node affinity on `metadata.name`.
fn pinned_node(body: &Value) -> Option<&str> {
    let spec = body.get("spec")?;
    if let Some(node) = spec.get("nodeName").and_then(Value::as_str) {
        return Some(node);
    }
    spec.pointer(
        "/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms",
    )?
    .as_array()?
    .iter()
    .filter_map(|term| term.get("matchFields")?.as_array())
    .flatten()
    .find(|f| f.get("key").and_then(Value::as_str) == Some("metadata.name"))?
    .get("values")?
    .get(0)?
    .as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_ignores_metadata_and_status() {
        let a = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"x": 1}, "status": {"y": 1}});
        let b = json!({"metadata": {"labels": {"a": "2"}}, "spec": {"x": 1}, "status": {"y": 2}});
        assert!(!spec_changed(&a, &b));
        let c = json!({"metadata": {}, "spec": {"x": 2}});
        assert!(spec_changed(&a, &c));
    }

    #[test]
    fn patch_types_follow_content_types() {
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
            Some(PatchType::Merge)
        );
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml"),
            Some(PatchType::Apply)
        );
        assert_eq!(PatchType::from_content_type("text/plain"), None);
    }
}
