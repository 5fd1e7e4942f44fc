//! The one door through which ops change a cluster. `cluster` implements it over HTTP (and
//! appends every real write to the audit log); a read-only session gets a writer that refuses
//! everything, so "no write is ever sent" holds by construction.

use futures::future::BoxFuture;
use serde_json::Value;

/// Names one object of any kind, fully qualified (never by short name: they collide across
/// the Calico groups, `DOMAIN.md` §0.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// Empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Lower-case plural, as in the URL.
    pub plural: String,
    /// `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// How kubectl would name it: `ipamconfigurations.projectcalico.org/default`.
    pub fn display(&self) -> String {
        let resource = if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        };
        match &self.namespace {
            Some(namespace) => format!("{resource}/{} -n {namespace}", self.name),
            None => format!("{resource}/{}", self.name),
        }
    }
}

/// One change to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// `application/merge-patch+json`.
    MergePatch { target: ObjectRef, patch: Value },
    /// `application/strategic-merge-patch+json` (built-in kinds only).
    StrategicPatch { target: ObjectRef, patch: Value },
    /// POST of a whole object.
    Create { target: ObjectRef, body: Value },
    /// PUT of a whole object; `body.metadata.resourceVersion` makes it fail with a conflict if
    /// someone else changed the object since it was read.
    Replace { target: ObjectRef, body: Value },
    /// DELETE, with an optional grace period.
    Delete {
        target: ObjectRef,
        grace_period_seconds: Option<i64>,
    },
    /// POST `pods/<name>/eviction` (`policy/v1`), honouring PodDisruptionBudgets.
    Evict {
        target: ObjectRef,
        grace_period_seconds: Option<i64>,
    },
}

impl Write {
    pub fn target(&self) -> &ObjectRef {
        match self {
            Write::MergePatch { target, .. }
            | Write::StrategicPatch { target, .. }
            | Write::Create { target, .. }
            | Write::Replace { target, .. }
            | Write::Delete { target, .. }
            | Write::Evict { target, .. } => target,
        }
    }

    /// The HTTP verb kubectl's RBAC error would name.
    pub fn verb(&self) -> &'static str {
        match self {
            Write::MergePatch { .. } | Write::StrategicPatch { .. } => "patch",
            Write::Create { .. } | Write::Evict { .. } => "create",
            Write::Replace { .. } => "update",
            Write::Delete { .. } => "delete",
        }
    }
}

/// Why a write did not happen, in terms an op can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteError {
    #[error("read-only session: no write is sent")]
    ReadOnly,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// Someone else changed the object (409); re-read and show the difference.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 422 or a 400 the server explains.
    #[error("rejected: {0}")]
    Invalid(String),
    /// 429, e.g. an eviction blocked by a PodDisruptionBudget; the message is the server's cause.
    #[error("too many requests: {0}")]
    TooManyRequests(String),
    /// The server could not be reached or answered 5xx.
    #[error("API server unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Other(String),
}

/// Sends writes to a cluster. Implemented by `cluster::writer` over HTTP.
pub trait ClusterWriter: Send + Sync {
    /// Reads the current object; `Ok(None)` when it does not exist.
    fn get<'a>(&'a self, target: &'a ObjectRef)
    -> BoxFuture<'a, Result<Option<Value>, WriteError>>;

    /// Sends one write; with `dry_run` the server validates and answers without persisting
    /// (`dryRun=All`). Returns the object the server answered with.
    fn write<'a>(
        &'a self,
        write: &'a Write,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<Value, WriteError>>;
}
