//! Every action pooltop takes on a cluster, as plan -> preview -> confirm -> apply: `plan` is a
//! pure function of the snapshot and the user's input, the preview renders that same `Plan`
//! (with a server-side dry run where the API supports it), and `run` executes it through a
//! [`ClusterWriter`], streaming progress. No I/O happens here except through that trait, so
//! every op is testable with the real writer against the simulator or with a recording fake.
//!
//! Must not use: `kube::Client` directly, ui, app, sim.

pub mod strict_affinity;
pub mod writer;

pub use writer::{ClusterWriter, ObjectRef, Write, WriteError};
