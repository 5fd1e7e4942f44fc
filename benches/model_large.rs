//! The console's per-snapshot model on the `large` scenario, without the console around it:
//! `pooltop sim --scenario large` runs as its own process, this process reads it through the
//! real client and snapshot feed (so its memory is the console's snapshot and nothing of the
//! simulator's), then times `Derived::compute` and each of its parts, and prints a fingerprint
//! of every part's output so a faster model can be checked to derive exactly the same thing.
//!
//! Run with `cargo bench --bench model_large`; `MODEL_LARGE_RUNS=N` sets the samples per part
//! (default 7). Numbers go to stdout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Debug;
use std::hash::{DefaultHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pooltop::app::state::Derived;
use pooltop::cluster;
use pooltop::model::ClusterSnapshot;
use pooltop::model::pools::{self, PoolRules};
use pooltop::model::{findings, rollout};
use pooltop::sim::scenario::LARGE_PODS;
use pooltop::ui::ipam::IpamView;
use tokio_util::sync::CancellationToken;

use common::{memory_mib, start_sim, summary};

/// Feeds `Debug` output into a hasher without building the (large) string.
struct HashWriter(DefaultHasher);

impl std::fmt::Write for HashWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.write(s.as_bytes());
        Ok(())
    }
}

/// A hash of the value's `Debug` text: equal fingerprints, equal output.
fn fingerprint(value: &impl Debug) -> u64 {
    let mut writer = HashWriter(DefaultHasher::new());
    std::fmt::write(&mut writer, format_args!("{value:?}")).unwrap();
    writer.0.finish()
}

fn runs() -> usize {
    std::env::var("MODEL_LARGE_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(7)
}

/// Times `f` `runs()` times; prints the summary and the fingerprint of its last output.
fn time<T: Debug>(label: &str, mut f: impl FnMut() -> T) -> T {
    let mut samples = Vec::new();
    let mut out = None;
    for _ in 0..runs() {
        let started = Instant::now();
        out = Some(f());
        samples.push(started.elapsed());
    }
    let out = out.unwrap();
    println!(
        "{:<40} {}  fp {:016x}",
        label,
        summary(&samples),
        fingerprint(&out)
    );
    out
}

/// The first complete snapshot of the simulator at `kubeconfig`, through the console's feed.
async fn large_snapshot(kubeconfig: std::path::PathBuf) -> Arc<ClusterSnapshot> {
    let connection = common::connect(&kubeconfig).await;
    let cancel = CancellationToken::new();
    let feed = cluster::spawn_feed(&connection, cancel.clone());
    let mut rx = feed.rx.clone();
    let snapshot = tokio::time::timeout(
        Duration::from_secs(300),
        rx.wait_for(|s| s.is_complete() && s.pods.len() >= LARGE_PODS),
    )
    .await
    .expect("a complete snapshot within 300 s")
    .unwrap()
    .clone();
    cancel.cancel();
    snapshot
}

/// The snapshot with what varies from run to run pinned, so fingerprints compare across runs:
/// the feed's revision count, the wall clock ages are measured against, and the allocation
/// times IPAM blocks carry (the model keeps the block it read).
fn pinned(snapshot: &ClusterSnapshot) -> ClusterSnapshot {
    let mut pinned = snapshot.clone();
    pinned.revision = 1;
    pinned.taken_at = "2030-01-01T00:00:00Z".parse().unwrap();
    pinned.ipam_blocks = Arc::new(
        pinned
            .ipam_blocks
            .iter()
            .map(|block| {
                let mut block = (**block).clone();
                block.metadata.creation_timestamp = None;
                for attribute in &mut block.spec.attributes {
                    attribute.secondary.remove("timestamp");
                }
                Arc::new(block)
            })
            .collect(),
    );
    pinned
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(dir.path(), "large", &[]);
    println!(
        "pooltop sim --scenario large loaded in {:.2} s",
        sim.startup.as_secs_f64()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let snapshot = runtime.block_on(large_snapshot(sim.kubeconfig.clone()));
    let (peak, rss) = memory_mib(std::process::id());
    println!(
        "complete snapshot through the feed in {:.2} s: {} nodes, {} pods, {} blocks, {} handles, {} events",
        started.elapsed().as_secs_f64(),
        snapshot.nodes.len(),
        snapshot.pods.len(),
        snapshot.ipam_blocks.len(),
        snapshot.ipam_handles.len(),
        snapshot.events.len(),
    );
    println!("memory with the snapshot: peak {peak:.1} MiB, now {rss:.1} MiB");
    drop(runtime);
    drop(sim);

    let pinned = pinned(&snapshot);
    drop(snapshot);
    let rules = PoolRules::default();
    let snapshot: &ClusterSnapshot = &pinned;
    let derived = time("app::state::Derived::compute", || {
        Derived::compute(snapshot, &rules)
    });
    time("model::pools::NodeIndex::new", || {
        pools::NodeIndex::new(snapshot).pods_by_node.len()
    });
    let pools = time("model::pools::pools", || pools::pools(snapshot, &rules));
    time("model::pools::all_node_rows", || {
        pools::all_node_rows(snapshot, &pools)
    });
    time("model::rollout::rollouts", || {
        rollout::rollouts(snapshot, &pools)
    });
    time("model::rollout::tigera_statuses", || {
        rollout::tigera_statuses(snapshot)
    });
    let ipam = time("ui::ipam::IpamView::from_snapshot", || {
        IpamView::from_snapshot(snapshot)
    });
    time("model::ipam::IpamModel::from_snapshot", || {
        pooltop::model::ipam::IpamModel::from_snapshot(snapshot)
    });
    let found = time("model::findings::findings", || {
        findings::findings(snapshot, &pools)
    });
    time("model::findings::with_ipam", || {
        findings::with_ipam(found.clone(), &ipam.model)
    });
    if let Ok(path) = std::env::var("MODEL_LARGE_DUMP") {
        std::fs::write(path, format!("{:#?}", ipam.model)).unwrap();
    }
    let (peak, rss) = memory_mib(std::process::id());
    println!(
        "whole Derived fingerprint {:016x}; memory peak {peak:.1} MiB, now {rss:.1} MiB",
        fingerprint(&derived)
    );
}
