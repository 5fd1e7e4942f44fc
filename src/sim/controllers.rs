//! The controllers that make the simulated cluster behave. Each is a task that follows the
//! store's change stream and writes through the same store operations an HTTP client uses,
//! so every watch sees controller writes exactly as it would on a real cluster.

pub mod events;
pub mod informer;
pub mod kubelet;

use std::sync::Arc;

use tokio::task::JoinSet;

use super::store::Store;

/// Starts every controller on the set; they stop when the store's shutdown token fires.
pub fn spawn_all(store: &Arc<Store>, tasks: &mut JoinSet<()>) {
    tasks.spawn(kubelet::finish_terminations(Arc::clone(store)));
}
