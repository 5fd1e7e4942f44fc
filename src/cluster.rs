//! The only code that talks to a cluster: it connects through kubeconfig the way kubectl does
//! ([`connect`]), detects how the Calico API is exposed ([`discovery`]), keeps one watcher per
//! watched kind and publishes a debounced, immutable `Arc<ClusterSnapshot>` ([`feed`]), and
//! implements the ops layer's `ClusterWriter` over HTTP with an audit log ([`writer`]).
//!
//! May use: model, ops (the writer trait and its types), kube, tokio. Must not use: app, ui,
//! sim, record — the simulator is reached only over HTTP, like any other API server.

pub mod audit;
pub mod connect;
pub mod discovery;
pub mod feed;
pub mod readonly;
pub mod slim;
pub mod status;
pub mod store;
pub mod watch;
pub mod writer;

pub use audit::AuditLog;
pub use connect::{ConnectError, ConnectOptions, Connection, KubeContexts, connect, contexts};
pub use discovery::detect_calico_api;
pub use feed::{FeedConfig, FeedHandle, spawn_feed, spawn_feed_with};
pub use writer::KubeWriter;
