//! pooltop: a terminal console for Kubernetes node pools on hybrid Windows/Linux clusters
//! that run Calico.
//!
//! Architecture map (see `../shared/DESIGN.md` for the full version):
//!
//! ```text
//!   cli ──> main + console (composition root)
//!             │ connect (kubeconfig)          pooltop demo: sim::start ──> 127.0.0.1
//!             ▼
//!   cluster   client, one watcher per kind, debounced Arc<ClusterSnapshot> feed, writer + audit
//!             ▼
//!   model     pure: pools, rollout attribution, findings, IPAM (calicoctl numbers, block grid)
//!             ▼
//!   app       State, keymap (mode, key) -> Action, update(Msg) -> Effects, runtime loop
//!             ▼
//!   ui        render(&State, &Theme): header, views, IPAM map, footer, help   (term: terminal)
//!
//!   ops       plan -> preview -> apply behind the ClusterWriter trait (strictAffinity)
//!   report    headless output (pooltop ipam)
//!   config    config.toml: theme, pool label, keys, read-only contexts
//!
//!   sim       a Kubernetes API server on loopback and the controllers that make it behave:
//!             store, write, watch, http, discovery, openapi, crds + schema, patch, selector,
//!             table, eviction, scenario, controllers (kubelet, scheduler, DaemonSet, operator,
//!             Calico IPAM)
//! ```
//!
//! Imports point one way, top to bottom; `sim` shares no types with the client side: the
//! client proves over HTTP that it speaks Kubernetes.

pub mod app;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod logging;
pub mod model;
pub mod ops;
pub mod report;
pub mod sim;
pub mod term;
pub mod ui;
