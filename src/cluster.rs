//! The only code that talks to a cluster: it connects through kubeconfig the way kubectl does
//! ([`connect`]), detects how the Calico API is exposed ([`discovery`]), keeps one watcher per
//! watched kind and publishes a debounced, immutable `Arc<ClusterSnapshot>` ([`feed`]), and
//! implements the ops layer's `ClusterWriter` over HTTP with an audit log ([`writer`]).
//!
//! May use: model, ops (the writer trait and its types), kube, tokio. Must not use: app, ui,
//! sim, record — the simulator is reached only over HTTP, like any other API server.

pub mod audit;
pub mod connect;
pub mod readonly;
pub mod status;
pub mod writer;

pub use audit::AuditLog;
pub use connect::{ConnectError, ConnectOptions, Connection, KubeContexts, connect, contexts};
pub use writer::KubeWriter;
