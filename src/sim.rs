//! The simulated hybrid cluster: a Kubernetes API server on loopback (`server`, `http`,
//! `store`, `write`, `watch`, discovery and OpenAPI), the controllers that make it behave
//! (`controllers`) and the scenarios that set it up (`scenario`). It is the other side of the
//! wire: it shares no types with `model`, `cluster`, `ops`, `app` or `ui`, so the client must
//! prove over HTTP that it speaks Kubernetes.

pub mod aggregated;
pub mod auth;
pub mod builtin;
pub mod calico;
pub mod calico_ipam;
pub mod calico_selector;
pub mod clock;
pub mod controllers;
pub mod crds;
pub mod crds_calico;
pub mod crds_operator;
pub mod defaults;
pub mod discovery;
pub mod error;
pub mod eviction;
pub mod faults;
pub mod http;
pub mod jsonpath;
pub mod kubeconfig;
pub mod managed_fields;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod resource;
pub mod scenario;
pub mod schema;
pub mod schema_pattern;
pub mod selector;
pub mod server;
pub mod store;
pub mod table;
pub mod tls;
pub mod watch;
pub mod write;

pub use server::{SimConfig, SimError, SimHandle, start};
