//! The real `ClusterWriter`: ops' writes sent over HTTP as `kube::Api<DynamicObject>` calls
//! (and a raw `policy/v1` Eviction, whose body kube does not spell the way the API expects),
//! server answers mapped to `WriteError`, and every real write appended to the audit log. A
//! read-only connection gets a writer that refuses without touching the network. Owns the
//! translation from `Write` to requests; must not decide which writes to make.

use futures::future::BoxFuture;
use hyper::Request;
use jiff::Timestamp;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use serde_json::{Value, json};

use super::audit::{AuditEntry, AuditLog};
use super::connect::Connection;
use super::status::write_error;
use crate::model::Source;
use crate::ops::{ClusterWriter, ObjectRef, Write, WriteError};

/// The field manager pooltop's writes are recorded under on the server.
pub const FIELD_MANAGER: &str = "pooltop";

/// Writes to the cluster of one connection.
#[derive(Clone)]
pub struct KubeWriter {
    client: kube::Client,
    source: Source,
    audit: AuditLog,
    user: String,
}

impl std::fmt::Debug for KubeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeWriter")
            .field("source", &self.source)
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

impl KubeWriter {
    /// A writer for `connection`; read-only when the connection is (`Source::readonly`).
    pub fn new(connection: &Connection, audit: AuditLog) -> Self {
        Self {
            client: connection.client.clone(),
            source: connection.source.clone(),
            audit,
            user: std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned()),
        }
    }

    pub fn is_readonly(&self) -> bool {
        self.source.readonly
    }

    fn api(&self, target: &ObjectRef) -> Api<DynamicObject> {
        let resource = ApiResource {
            group: target.group.clone(),
            version: target.version.clone(),
            api_version: target.api_version(),
            kind: target.kind.clone(),
            plural: target.plural.clone(),
        };
        match &target.namespace {
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        }
    }

    async fn read(&self, target: &ObjectRef) -> Result<Option<Value>, WriteError> {
        match self.api(target).get_opt(&target.name).await {
            Ok(object) => object.map(to_value).transpose(),
            Err(error) => Err(write_error(&error, target)),
        }
    }

    async fn send(&self, write: &Write, dry_run: bool) -> Result<Value, WriteError> {
        let target = write.target();
        let api = self.api(target);
        let post = PostParams {
            dry_run,
            field_manager: Some(FIELD_MANAGER.to_owned()),
        };
        let patch_params = PatchParams {
            dry_run,
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        let answer = match write {
            Write::MergePatch { patch, .. } => {
                api.patch(&target.name, &patch_params, &Patch::Merge(patch))
                    .await
            }
            Write::StrategicPatch { patch, .. } => {
                api.patch(&target.name, &patch_params, &Patch::Strategic(patch))
                    .await
            }
            Write::Create { body, .. } => api.create(&post, &object(body)?).await,
            Write::Replace { body, .. } => api.replace(&target.name, &post, &object(body)?).await,
            Write::Delete {
                grace_period_seconds,
                ..
            } => {
                let params = DeleteParams {
                    dry_run,
                    grace_period_seconds: grace(*grace_period_seconds),
                    ..DeleteParams::default()
                };
                return match api.delete(&target.name, &params).await {
                    Ok(either) => either.map_left(to_value).map_right(to_value).into_inner(),
                    Err(error) => Err(write_error(&error, target)),
                };
            }
            Write::Evict {
                grace_period_seconds,
                ..
            } => return self.evict(target, *grace_period_seconds, dry_run).await,
        };
        answer
            .map_err(|error| write_error(&error, target))
            .and_then(to_value)
    }

    /// POST `pods/<name>/eviction` with a `policy/v1` Eviction body.
    async fn evict(
        &self,
        target: &ObjectRef,
        grace_period_seconds: Option<i64>,
        dry_run: bool,
    ) -> Result<Value, WriteError> {
        let namespace = target.namespace.as_deref().unwrap_or("default");
        let mut delete_options = json!({});
        if let Some(seconds) = grace_period_seconds {
            delete_options["gracePeriodSeconds"] = json!(seconds);
        }
        if dry_run {
            delete_options["dryRun"] = json!(["All"]);
        }
        let body = json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": target.name, "namespace": namespace},
            "deleteOptions": delete_options,
        });
        let query = if dry_run { "?dryRun=All" } else { "" };
        let url = format!(
            "/api/v1/namespaces/{namespace}/pods/{}/eviction{query}",
            target.name
        );
        let bytes = serde_json::to_vec(&body).map_err(|e| WriteError::Other(e.to_string()))?;
        let request = Request::post(url)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(bytes)
            .map_err(|e| WriteError::Other(e.to_string()))?;
        self.client
            .request::<Value>(request)
            .await
            .map_err(|error| write_error(&error, target))
    }

    async fn record(&self, write: &Write, before: Value, outcome: &Result<Value, WriteError>) {
        let entry = AuditEntry {
            time: Timestamp::now(),
            user: self.user.clone(),
            context: self.source.context.clone(),
            server: self.source.server.clone(),
            verb: write.verb().to_owned(),
            target: write.target().display(),
            dry_run: false,
            before,
            after: outcome.as_ref().map_or(Value::Null, Clone::clone),
            error: outcome.as_ref().err().map(ToString::to_string),
        };
        if let Err(error) = self.audit.append(&entry).await {
            // The write itself happened (or was refused); losing its audit line must not turn
            // into a failed write, but it must be visible in the log.
            tracing::error!(%error, target = %entry.target, "audit log");
        }
    }
}

impl ClusterWriter for KubeWriter {
    fn get<'a>(
        &'a self,
        target: &'a ObjectRef,
    ) -> BoxFuture<'a, Result<Option<Value>, WriteError>> {
        Box::pin(self.read(target))
    }

    fn write<'a>(
        &'a self,
        write: &'a Write,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Value, WriteError>> {
        Box::pin(async move {
            if self.source.readonly {
                let refused = Err(WriteError::ReadOnly);
                if !dry_run {
                    self.record(write, Value::Null, &refused).await;
                }
                return refused;
            }
            if dry_run {
                return self.send(write, true).await;
            }
            let before = match write {
                Write::Create { .. } => Value::Null,
                _ => self
                    .read(write.target())
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or(Value::Null),
            };
            let outcome = self.send(write, false).await;
            self.record(write, before, &outcome).await;
            outcome
        })
    }
}

fn to_value<T: serde::Serialize>(value: T) -> Result<Value, WriteError> {
    serde_json::to_value(value).map_err(|e| WriteError::Other(format!("encoding: {e}")))
}

fn object(body: &Value) -> Result<DynamicObject, WriteError> {
    serde_json::from_value(body.clone())
        .map_err(|e| WriteError::Invalid(format!("not a Kubernetes object: {e}")))
}

/// A grace period the API accepts: negative values mean "the pod's default", i.e. none sent.
fn grace(seconds: Option<i64>) -> Option<u32> {
    seconds.and_then(|s| u32::try_from(s).ok())
}
