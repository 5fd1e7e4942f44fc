//! The audit log: one JSON line per write pooltop sent for real (and per write it refused or the
//! server rejected), appended to `<XDG state dir>/pooltop/audit.jsonl`, so that "who changed
//! strictAffinity on prod" has an answer on the operator's own machine. Owns the file format and
//! the appending; must not decide what is written to the cluster.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;

/// Where audit lines go. Cloning shares the destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditLog {
    path: Option<PathBuf>,
}

/// One audited write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub time: Timestamp,
    /// `$USER` of the machine running pooltop.
    pub user: String,
    pub context: String,
    pub server: String,
    /// `patch`, `create`, `update`, `delete` (RBAC's verbs).
    pub verb: String,
    /// kubectl's name for the object, e.g. `ipamconfigurations.projectcalico.org/default`.
    pub target: String,
    pub dry_run: bool,
    /// The object as read just before the write; null when it did not exist or could not be read.
    pub before: Value,
    /// The server's answer; null when the write failed.
    pub after: Value,
    /// Why the write did not happen; null when it did.
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot write the audit log {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot encode an audit entry: {0}")]
    Encode(#[from] serde_json::Error),
}

impl AuditLog {
    /// Appends to `path` (created with its directory on first use).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: Some(path.into()),
        }
    }

    /// `<XDG state dir>/pooltop/audit.jsonl`; disabled when there is no home directory.
    pub fn default_location() -> Self {
        Self {
            path: crate::logging::state_dir().map(|dir| dir.join("audit.jsonl")),
        }
    }

    /// Records nothing (tests of other modules, replays).
    pub fn disabled() -> Self {
        Self { path: None }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Appends one line. A single `write_all` on a file opened for append keeps concurrent
    /// pooltop processes from interleaving inside a line.
    pub async fn append(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let io = |source| AuditError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .map_err(io)?;
        file.write_all(&line).await.map_err(io)?;
        file.flush().await.map_err(io)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_are_appended_one_json_line_each() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::at(dir.path().join("nested/audit.jsonl"));
        let entry = AuditEntry {
            time: Timestamp::UNIX_EPOCH,
            user: "ana".into(),
            context: "prod".into(),
            server: "https://10.0.0.1:6443".into(),
            verb: "patch".into(),
            target: "nodes/n1".into(),
            dry_run: false,
            before: serde_json::json!({"spec": {}}),
            after: serde_json::json!({"spec": {"unschedulable": true}}),
            error: None,
        };
        log.append(&entry).await.unwrap();
        log.append(&entry).await.unwrap();
        let text = std::fs::read_to_string(log.path().unwrap()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["user"], "ana");
        assert_eq!(lines[0]["after"]["spec"]["unschedulable"], true);
        assert_eq!(lines[0]["error"], Value::Null);
        assert_eq!(lines[0]["time"], "1970-01-01T00:00:00Z");
    }
}
