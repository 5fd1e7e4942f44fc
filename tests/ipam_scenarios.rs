//! `pooltop ipam` (the report) and the strictAffinity plan on the simulator's scenarios, read
//! through the real client and the console's own snapshot feed: `ipam-pressure` (a carved-up
//! pool, a full Windows block, strictAffinity off with Windows nodes, Linux nodes borrowing)
//! and `large` (5,000 nodes, no Calico IPAM objects). Expected numbers come from how the
//! scenarios are described, not from the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Options, TestCluster, start};
use pooltop::cluster::{ConnectOptions, connect, spawn_feed};
use pooltop::model::ClusterSnapshot;
use pooltop::model::ipam::findings::IpamFindingCode;
use pooltop::model::ipam::{IpamMap, IpamModel, OsFamily, Severity};
use pooltop::ops::strict_affinity::{StrictAffinityInput, plan};
use pooltop::report::{IpamReportOptions, render_ipam_report};
use pooltop::sim::scenario::{PRESSURE_FULL_NODE, PRESSURE_POOL, Scenario};
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(240);

/// The first complete snapshot with at least `min_pods` pods, read by the console's feed.
async fn complete_snapshot(cluster: &TestCluster, min_pods: usize) -> Arc<ClusterSnapshot> {
    let options = ConnectOptions {
        kubeconfig: Some(cluster.kubeconfig.clone()),
        ..ConnectOptions::default()
    };
    let connection = connect(&options).await.unwrap();
    let cancel = CancellationToken::new();
    let feed = spawn_feed(&connection, cancel.clone());
    let mut rx = feed.rx.clone();
    let snapshot = rx
        .wait_for(|s| s.is_complete() && s.pods.len() >= min_pods)
        .await
        .expect("feed running")
        .clone();
    cancel.cancel();
    snapshot
}

#[tokio::test]
async fn ipam_pressure_report_shows_the_full_windows_block_borrowing_and_exits_non_zero() {
    tokio::time::timeout(LIMIT, async {
        let cluster = start(Options {
            scenario: Scenario::IpamPressure,
            ..Options::default()
        })
        .await;
        let snapshot = complete_snapshot(&cluster, 1).await;
        let report = render_ipam_report(
            &snapshot,
            &IpamReportOptions {
                show_blocks: true,
                show_borrowed: true,
                show_configuration: true,
            },
        );
        let model = IpamModel::from_snapshot(&snapshot);

        // A /25 is 128 addresses; /28 blocks hold 16, so 8 blocks, all claimed.
        let pool = model
            .pools
            .iter()
            .find(|p| p.cidr == PRESSURE_POOL)
            .unwrap();
        assert_eq!(
            (pool.total, pool.block_size, pool.block_slots),
            (128.0, 28, 8)
        );
        assert_eq!(pool.blocks.len(), 8, "{}", report.text);
        let pool_row = report
            .text
            .lines()
            .find(|l| l.starts_with("| IP Pool"))
            .unwrap();
        let cells: Vec<&str> = pool_row.split('|').map(str::trim).collect();
        assert_eq!(cells[1..4], ["IP Pool", PRESSURE_POOL, "128"]);
        // Pool in use is the sum over its blocks; each block row is capacity 16.
        let block_sum: u64 = pool.blocks.iter().map(|&i| model.blocks[i].in_use).sum();
        assert_eq!(pool.in_use, block_sum);

        // The full Windows node: one block of 16, 4 reserved, none free.
        let full = model.node(PRESSURE_FULL_NODE).unwrap();
        assert_eq!(full.os, Some(OsFamily::Windows));
        assert_eq!((full.blocks.len(), full.capacity, full.free()), (1, 16, 0));
        assert_eq!(model.blocks[full.blocks[0]].windows_reserved, 4);

        let has = |severity, code| {
            model
                .findings
                .iter()
                .any(|f| f.severity == severity && f.code == code)
        };
        assert!(has(Severity::Error, IpamFindingCode::NodeAtBlockCap));
        assert!(has(
            Severity::Error,
            IpamFindingCode::StrictAffinityOffWithWindows
        ));
        // Linux borrowing from a Windows block.
        assert!(model.borrowed.iter().any(|row| row.windows_involved));
        assert!(has(Severity::Error, IpamFindingCode::BorrowedAddresses));
        // strictAffinity off with every block claimed: a warning, nodes will borrow.
        assert!(has(Severity::Warning, IpamFindingCode::PoolNearlyExhausted));
        assert!(report.has_errors);
        assert!(
            report.text.contains("| StrictAffinity     | false |"),
            "{}",
            report.text
        );
        assert!(report.text.contains("BORROWING-NODE"));
        assert!(
            report
                .findings_text
                .contains("cannot allocate new block due to per host block limit")
        );

        // Turning strictAffinity on: the borrowed addresses stay, and with no block left
        // some nodes could fail to get addresses.
        let on = plan(
            &snapshot,
            StrictAffinityInput {
                target: true,
                override_confirmation: None,
            },
        )
        .unwrap();
        assert_eq!(on.borrowed_staying.len(), model.borrowed.len());
        assert!(
            on.nodes_at_risk
                .iter()
                .any(|n| n.node == PRESSURE_FULL_NODE)
        );

        // The block map: 8 slots, one block each, all claimed.
        let map = IpamMap::from_model(&model);
        let grid = map
            .pools
            .iter()
            .find(|g| model.pools[g.pool].cidr == PRESSURE_POOL)
            .unwrap();
        assert_eq!(grid.levels[0].cells.len(), 8);
        assert!(grid.levels[0].cells.iter().all(|c| c.claimed == 1));
        assert!(grid.levels[0].cells.iter().any(|c| c.borrowed));
        cluster.stop().await;
    })
    .await
    .expect("test finishes in time");
}

// The large scenario's API server needs its own worker to answer while 50,000 pods load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_report_without_calico_ipam() {
    tokio::time::timeout(LIMIT, async {
        let cluster = start(Options {
            scenario: Scenario::Large,
            controllers: pooltop::sim::controllers::Controllers::None,
            ..Options::default()
        })
        .await;
        let snapshot = complete_snapshot(&cluster, 50_000).await;
        let report = render_ipam_report(&snapshot, &IpamReportOptions::default());
        // No pools and no blocks: calicoctl's table is its header alone.
        assert_eq!(report.text.lines().count(), 4, "{}", report.text);
        let model = IpamModel::from_snapshot(&snapshot);
        assert!(model.blocks.is_empty() && model.pools.is_empty());
        // 1,000 Windows nodes and no IPAMConfig: Calico would assume strictAffinity false.
        assert!(
            model
                .findings
                .iter()
                .any(|f| f.code == IpamFindingCode::StrictAffinityOffWithWindows)
        );
        assert!(report.has_errors);
        cluster.stop().await;
    })
    .await
    .expect("test finishes in time");
}
