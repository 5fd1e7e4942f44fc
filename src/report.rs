//! Output of the headless commands (`pooltop ipam`, later `pooltop check`): pure functions
//! from a complete [`crate::model::ClusterSnapshot`] to the text and JSON a script reads, and
//! whether the exit code must signal errors. Owns formatting only; must not connect, read
//! files, print, or decide the exit code itself (the CLI wiring in `main` does).

pub mod ipam;
pub mod table;

pub use ipam::{IpamReport, IpamReportOptions, render_ipam_report};
