//! The controllers that make the simulated cluster behave. Each is a task that follows the
//! store's change stream and writes through the same store operations an HTTP client uses,
//! so every watch sees controller writes exactly as it would on a real cluster.

pub mod control_loop;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod events;
pub mod informer;
pub mod kubelet;
pub mod operator;
pub mod operator_render;
pub mod operator_status;
pub mod replicaset;
pub mod scheduler;
pub mod terminations;
pub mod workload;

use std::sync::Arc;

use tokio::task::JoinSet;

use super::store::Store;

/// Which controllers a simulated cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Controllers {
    /// The whole cluster behaves: scheduler, kubelet, workload controllers, operator, IPAM.
    #[default]
    All,
    /// Only what an API server needs from its nodes to finish graceful pod deletions: for
    /// tests of the server itself, where the test writes every status.
    TerminationsOnly,
    /// Nothing runs: objects change only when a client writes them.
    None,
}

/// Starts the chosen controllers on the set; they stop when the store's shutdown token fires.
pub fn spawn(which: Controllers, store: &Arc<Store>, tasks: &mut JoinSet<()>) {
    match which {
        Controllers::All => {
            tasks.spawn(kubelet::run(Arc::clone(store)));
            tasks.spawn(scheduler::run(Arc::clone(store)));
            tasks.spawn(operator::run(Arc::clone(store)));
            tasks.spawn(daemonset::run(Arc::clone(store)));
            tasks.spawn(replicaset::run(Arc::clone(store)));
            tasks.spawn(disruption::run(Arc::clone(store)));
        }
        Controllers::TerminationsOnly => {
            tasks.spawn(terminations::finish_terminations(Arc::clone(store)));
        }
        Controllers::None => {}
    }
}
