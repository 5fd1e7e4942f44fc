//! `pooltop ipam` (the report) and the strictAffinity plan on the simulator's scenarios, read
//! through the real client and the console's own snapshot feed: `ipam-pressure` (a carved-up
//! pool, a full Windows block, strictAffinity off with Windows nodes, Linux nodes borrowing)
//! and `large` (5,000 nodes in Linux and Windows pools, 50,000 pods on a /12 of /26 blocks).
//! Expected numbers come from how the scenarios are described and from the pods themselves,
//! not from the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::{Options, TestCluster, start};
use pooltop::cluster::{ConnectOptions, connect, spawn_feed};
use pooltop::model::ClusterSnapshot;
use pooltop::model::ipam::findings::IpamFindingCode;
use pooltop::model::ipam::tables::{IpamTable, TableSort, sorted_rows};
use pooltop::model::ipam::{IpamMap, IpamModel, OsFamily, Severity};
use pooltop::ops::strict_affinity::{StrictAffinityInput, plan};
use pooltop::report::{IpamReportOptions, render_ipam_report};
use pooltop::sim::scenario::{
    LARGE_NODES, LARGE_PODS, LARGE_POOL, PRESSURE_FULL_NODE, PRESSURE_POOL, Scenario,
};
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(240);
/// `large` loads 55,000 pods, 54,000 handles and 5,000 blocks through the feed; this test
/// took 81 s on the shared 2-core machine, 231 s while a release build ran beside it.
const LARGE_LIMIT: Duration = Duration::from_secs(480);

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
        let cells = pool_row(&report.text);
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

/// The cells of the report's first `| IP Pool |` row (calicoctl's pool line), trimmed.
fn pool_row(text: &str) -> Vec<&str> {
    text.lines()
        .find(|l| l.starts_with("| IP Pool"))
        .unwrap()
        .split('|')
        .map(str::trim)
        .collect()
}

/// Pods with an address in `pool` (not host-network), per node, and in all.
fn pods_on_the_pool_network(
    snapshot: &ClusterSnapshot,
    pool: ipnet::IpNet,
) -> (HashMap<String, u64>, u64) {
    let mut pods_on: HashMap<String, u64> = HashMap::new();
    let mut all = 0u64;
    for pod in snapshot.pods.iter() {
        let host_network = pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        let ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        if let (false, Some(ip), Some(node)) = (host_network, ip, node)
            && pool.contains(&ip)
        {
            *pods_on.entry(node.to_string()).or_default() += 1;
            all += 1;
        }
    }
    (pods_on, all)
}

/// Every node of `large`: a Windows node holds exactly one block with 4 reserved ordinals
/// (the first three and the last; its tunnel address is one of them) and no tunnel
/// allocation; a Linux node a VXLAN tunnel address and as many /26 blocks as its pods and
/// tunnel need (64 addresses each). In use = its pods + 4, or + 1. Returns the block count.
fn check_every_node(model: &IpamModel, pods_on: &HashMap<String, u64>, windows: &[&str]) -> u64 {
    let mut blocks = 0u64;
    for node in &model.nodes {
        let pods = pods_on.get(&node.node).copied().unwrap_or(0);
        let windows_node = windows.contains(&node.node.as_str());
        let (overhead, expected_blocks) = if windows_node {
            (4, 1)
        } else {
            (1, (pods + 1).div_ceil(64))
        };
        assert_eq!(
            (
                node.in_use,
                node.blocks.len() as u64,
                node.borrowing,
                node.lent
            ),
            (pods + overhead, expected_blocks, 0, 0),
            "{}",
            node.node
        );
        assert_eq!(node.block_cap, if windows_node { 1 } else { 20 });
        let reserved: u32 = node
            .blocks
            .iter()
            .map(|&b| model.blocks[b].windows_reserved)
            .sum();
        let tunnels: u32 = node
            .blocks
            .iter()
            .map(|&b| model.blocks[b].tunnel_addresses)
            .sum();
        assert_eq!(
            (reserved, tunnels),
            if windows_node { (4, 0) } else { (0, 1) },
            "{}",
            node.node
        );
        blocks += expected_blocks;
    }
    blocks
}

// The large scenario's API server needs its own worker to answer while 50,000 pods load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_ipam_matches_the_scenarios_shape() {
    tokio::time::timeout(LARGE_LIMIT, async {
        let cluster = start(Options {
            scenario: Scenario::Large,
            controllers: pooltop::sim::controllers::Controllers::None,
            ..Options::default()
        })
        .await;
        let snapshot = complete_snapshot(&cluster, LARGE_PODS).await;
        cluster.stop().await;
        let model = IpamModel::from_snapshot(&snapshot);
        let report = render_ipam_report(&snapshot, &IpamReportOptions::default());

        // The shape: one VXLAN pool 10.128.0.0/12 of /26 blocks, 5,000 nodes, 1,000 of them
        // Windows (win22 800 + win19 200), every one with its agent up and a block claimed.
        let pool_net: ipnet::IpNet = LARGE_POOL.parse().unwrap();
        let pool = model.pools.iter().find(|p| p.cidr == LARGE_POOL).unwrap();
        // 2^(32-12) addresses, 2^(26-12) block slots of 64.
        assert_eq!(
            (pool.total, pool.block_size, pool.block_slots),
            (1_048_576.0, 26, 16_384)
        );
        let windows: Vec<&str> = snapshot
            .nodes
            .iter()
            .filter(|n| OsFamily::of(n) == OsFamily::Windows)
            .filter_map(|n| n.metadata.name.as_deref())
            .collect();
        assert_eq!((snapshot.nodes.len(), windows.len()), (LARGE_NODES, 1_000));
        assert_eq!(model.nodes.len(), LARGE_NODES);
        assert!(model.orphaned_blocks.is_empty() && model.deleted_blocks_ignored == 0);

        // Pods on the pool network, per node, counted from the pods themselves.
        let (pods_on, pod_network) = pods_on_the_pool_network(&snapshot, pool_net);
        assert!(pod_network >= LARGE_PODS as u64, "{pod_network}");

        let blocks = check_every_node(&model, &pods_on, &windows);
        assert_eq!(pool.blocks.len() as u64, blocks);
        // The pool's in use: every pod address, 4,000 Linux tunnels, 4 x 1,000 reserved.
        assert_eq!(pool.in_use, pod_network + 4_000 + 4_000);
        // strictAffinity on and room to spare: nobody borrows, and no error.
        assert!(model.config.spec.strict_affinity);
        assert!(model.borrowed.is_empty());
        assert!(!model.has_errors(), "{:#?}", model.findings);
        assert!(!report.has_errors);

        // `pooltop ipam`: calicoctl's pool row, total in %.5g, in use with its percentage.
        let cells = pool_row(&report.text);
        assert_eq!(cells[1..4], ["IP Pool", LARGE_POOL, "1.0486e+06"]);
        assert!(
            cells[4].starts_with(&format!("{} (", pool.in_use)),
            "{cells:?}"
        );

        // The sortable node table: most addresses in use first, numerically.
        let by_in_use = TableSort {
            column: 5,
            descending: true,
        };
        let rows = sorted_rows(&model, IpamTable::Nodes, by_in_use);
        assert_eq!(rows.len(), LARGE_NODES);
        let most = pods_on
            .iter()
            .map(|(node, pods)| {
                pods + if windows.contains(&node.as_str()) {
                    4
                } else {
                    1
                }
            })
            .max()
            .unwrap();
        assert_eq!(model.nodes[rows[0]].in_use, most);
        assert!(
            rows.windows(2)
                .all(|w| model.nodes[w[0]].in_use >= model.nodes[w[1]].in_use)
        );

        // The block map covers the pool: 16,384 slots at one block per cell.
        let map = IpamMap::from_model(&model);
        let grid = map
            .pools
            .iter()
            .find(|g| model.pools[g.pool].cidr == LARGE_POOL)
            .unwrap();
        assert_eq!(grid.levels[0].cells.len(), 16_384);
        let claimed: u64 = grid.levels[0]
            .cells
            .iter()
            .map(|c| u64::from(c.claimed))
            .sum();
        assert_eq!(claimed, blocks);
    })
    .await
    .expect("test finishes in time");
}
