//! pooltop: a terminal console for Kubernetes node pools on hybrid Windows/Linux clusters
//! that run Calico.
//!
//! Architecture map (see `../shared/DESIGN.md` for the full version):
//!
//! ```text
//!   cli ──> main (composition root) ──> sim::start ──> HTTP on 127.0.0.1 ──> kubectl, kube-rs
//!
//!   sim        a Kubernetes API server on loopback and the controllers that make it behave:
//!              store (objects as JSON, one resourceVersion, change log), write (admission,
//!              metadata, GC), watch (streams), http (routing, negotiation), discovery,
//!              openapi, crds + schema (custom resources), patch (merge, strategic, apply),
//!              selector, table, eviction, scenario, controllers
//! ```
//!
//! Imports point one way: `sim` shares no types with the client-side modules (`model`,
//! `cluster`, `ops`, `app`, `ui`, `record`), which arrive with the console.

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
