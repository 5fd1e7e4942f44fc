//! The pure domain: functions from one immutable [`ClusterSnapshot`] to what the console
//! shows — node pools, Calico rollout status, the IPAM block map, findings. Nothing here does
//! I/O, awaits, or knows about terminals: the same snapshot always gives the same answer, which
//! is what makes the views testable from fixtures and replayable from recordings.
//!
//! Must not use: tokio, `kube::Client`, kube runtime, ratatui, crossterm.

pub mod calico;
pub mod findings;
pub mod fixtures;
pub mod ipam;
pub mod operator;
pub mod pools;
pub mod printers;
pub mod rollout;
pub mod snapshot;
pub mod versions;

pub use snapshot::{CalicoApiMode, ClusterSnapshot, Feed, FeedState, Kind, Source, SourceKind};
