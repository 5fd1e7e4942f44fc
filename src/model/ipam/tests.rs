//! Model tests from hand-built fixtures; every expected number is worked out here, in the
//! test, from the fixture's shape (not read back from the output).
// Pool totals are exact powers of two, so comparing the floats exactly is right.
#![allow(clippy::unwrap_used, clippy::float_cmp)]

use super::findings::IpamFindingCode;
use super::fixtures::{BlockFixture, ClusterFixture};
use super::grid::CellOwner;
use super::*;
use crate::model::snapshot::{FeedState, Kind};

/// A /24 pool of /26 blocks: a Windows block (4 reserved + 10 pods) and a Linux block
/// (1 tunnel + 3 pods), one of the Linux pods borrowed from the Windows block.
fn hybrid() -> ClusterFixture {
    ClusterFixture::new()
        .node("win-1", OsFamily::Windows, "npwin")
        .node("lin-1", OsFamily::Linux, "nplinux")
        .pool("default-ipv4-ippool", "10.0.0.0/24", 26)
        .block(
            BlockFixture::new("10.0.0.0/26")
                .owner("win-1")
                .windows_reserved()
                .pods(3, 10, "win-1", "iis"),
        )
        .block(
            BlockFixture::new("10.0.0.64/26")
                .owner("lin-1")
                .tunnel(0, "lin-1", "vxlanTunnelAddress")
                .pods(1, 3, "lin-1", "web"),
        )
        .strict(true)
}

#[test]
fn pool_and_block_numbers_are_calicoctls() {
    let model = IpamModel::from_snapshot(&hybrid().build());
    let pool = &model.pools[0];
    // /24: 2^(32-24) = 256 addresses; /26 blocks: 2^(26-24) = 4 slots.
    assert_eq!(pool.total, 256.0);
    assert_eq!(pool.block_slots, 4);
    assert_eq!(pool.block_size, 26);
    assert_eq!(pool.encapsulation, Encapsulation::Vxlan);
    assert_eq!(pool.node_selector, "all()");
    let windows = &model.blocks[0];
    assert_eq!(windows.cidr, "10.0.0.0/26");
    assert_eq!(windows.capacity, 64);
    // 4 reserved (.0 .1 .2 .63) + 10 pods = 14 in use, 64 - 14 = 50 free.
    assert_eq!((windows.in_use, windows.free()), (14, 50));
    assert_eq!(windows.windows_reserved, 4);
    assert_eq!(windows.owner, BlockOwner::Host("win-1".to_string()));
    assert_eq!(windows.owner_os, Some(OsFamily::Windows));
    assert_eq!(windows.owner_pool.as_deref(), Some("npwin"));
    let linux = &model.blocks[1];
    // 1 tunnel + 3 pods.
    assert_eq!((linux.in_use, linux.tunnel_addresses), (4, 1));
    // The pool's in-use is the sum over its blocks: 14 + 4.
    assert_eq!(pool.in_use, 18);
    assert_eq!(pool.free(), 238.0);
    assert_eq!(pool.blocks, vec![0, 1]);
    // Pod allocations carry pod, namespace, node and handle; the first pod is at ordinal 3.
    let first_pod = &windows.allocations[3];
    assert_eq!(first_pod.ip_text(), "10.0.0.3");
    assert_eq!(windows.pod_of(first_pod), Some("iis-0"));
    assert_eq!(windows.namespace_of(first_pod), Some("default"));
    assert_eq!(windows.node_of(first_pod), Some("win-1"));
    assert_eq!(
        windows.handle(first_pod),
        Some("k8s-pod-network.default-iis-0")
    );
    assert!(model.borrowed.is_empty());
    // The four reserved ordinals carry no node key: calicoctl cannot classify them.
    assert_eq!(model.allocations_without_node, 4);
}

#[test]
fn blocks_go_to_the_first_overlapping_pool_even_when_disabled() {
    let snapshot = ClusterFixture::new()
        .pool_spec(
            "a-old",
            serde_json::json!({"cidr": "10.0.0.0/16", "disabled": true}),
        )
        .pool("b-new", "10.0.0.0/24", 26)
        .block(
            BlockFixture::new("10.0.0.0/26")
                .owner("n1")
                .pods(0, 5, "n1", "p"),
        )
        .block(BlockFixture::new("172.16.0.0/26").pods(0, 2, "n1", "q"))
        .block(BlockFixture::new("10.0.1.0/26").owner("gone").deleted())
        .build();
    let model = IpamModel::from_snapshot(&snapshot);
    assert_eq!(model.pools[0].name, "a-old");
    assert!(model.pools[0].disabled);
    assert_eq!(model.pools[0].blocks, vec![0]);
    assert!(model.pools[1].blocks.is_empty());
    // 172.16.0.0/26 matches no pool: calicoctl's orphaned group.
    assert_eq!(model.orphaned_blocks, vec![1]);
    // The soft-deleted block is nowhere.
    assert_eq!(model.deleted_blocks_ignored, 1);
    assert_eq!(model.blocks.len(), 2);
    assert!(
        model
            .findings
            .iter()
            .any(|f| f.code == IpamFindingCode::OrphanedBlock)
    );
}

#[test]
fn borrowed_rows_follow_calicoctls_rule() {
    let snapshot = hybrid()
        .node("lin-2", OsFamily::Linux, "nplinux")
        .block(
            BlockFixture::new("10.0.0.128/26")
                .owner("lin-1")
                .pod(5, "lin-2", "shop", "cart-1")
                .tunnel(6, "lin-2", "vxlanTunnelAddress"),
        )
        .block(BlockFixture::new("10.0.0.192/26").pod(9, "win-1", "legacy", "iis-x"))
        .build();
    let model = IpamModel::from_snapshot(&snapshot);
    let rows: Vec<(&str, &str, &str, &str, &str, &str, bool)> = model
        .borrowed
        .iter()
        .map(|r| {
            (
                r.ip.as_str(),
                r.borrowing_node.as_str(),
                r.block.as_str(),
                r.block_owner.as_str(),
                r.kind.as_str(),
                r.allocated_to.as_str(),
                r.windows_involved,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            // 10.0.0.128 + 5 and + 6.
            (
                "10.0.0.133",
                "lin-2",
                "10.0.0.128/26",
                "lin-1",
                "pod",
                "shop/cart-1",
                false
            ),
            (
                "10.0.0.134",
                "lin-2",
                "10.0.0.128/26",
                "lin-1",
                "vxlanTunnelAddress",
                "",
                false
            ),
            // A block without affinity: owner is empty, so every node-tagged address is borrowed.
            (
                "10.0.0.201",
                "win-1",
                "10.0.0.192/26",
                "",
                "pod",
                "legacy/iis-x",
                true
            ),
        ]
    );
    let lin2 = model.node("lin-2").unwrap();
    assert_eq!((lin2.borrowing, lin2.blocks.len()), (2, 0));
    assert_eq!(model.node("lin-1").unwrap().lent, 2);
    // Linux-only borrowing is a warning; a Windows borrower is an error.
    let borrowed = model
        .findings
        .iter()
        .find(|f| f.code == IpamFindingCode::BorrowedAddresses)
        .unwrap();
    assert_eq!(borrowed.severity, Severity::Warning);
    let unowned = model
        .findings
        .iter()
        .find(|f| f.code == IpamFindingCode::BlockWithoutAffinity)
        .unwrap();
    assert_eq!(unowned.severity, Severity::Error);
}

#[test]
fn borrowing_from_a_windows_block_is_an_error() {
    let mut fixture_block = BlockFixture::new("10.0.0.0/26")
        .owner("win-1")
        .windows_reserved()
        .pod(20, "lin-1", "default", "web-x");
    fixture_block = fixture_block.pod(21, "win-1", "default", "iis-own");
    let snapshot = ClusterFixture::new()
        .node("win-1", OsFamily::Windows, "npwin")
        .node("lin-1", OsFamily::Linux, "nplinux")
        .pool("p", "10.0.0.0/24", 26)
        .block(fixture_block)
        .strict(false)
        .build();
    let model = IpamModel::from_snapshot(&snapshot);
    assert_eq!(model.borrowed.len(), 1);
    assert!(model.borrowed[0].windows_involved);
    assert_eq!(model.borrowed[0].ip, "10.0.0.20");
    let codes: Vec<(Severity, IpamFindingCode)> = model
        .findings
        .iter()
        .map(|f| (f.severity, f.code))
        .collect();
    assert!(codes.contains(&(Severity::Error, IpamFindingCode::BorrowedAddresses)));
    // strictAffinity false with a Windows node is an error on its own.
    assert!(codes.contains(&(
        Severity::Error,
        IpamFindingCode::StrictAffinityOffWithWindows
    )));
    assert!(model.has_errors());
    // Errors come first.
    assert_eq!(model.findings[0].severity, Severity::Error);
}

#[test]
fn a_full_windows_block_is_the_per_host_block_limit() {
    // 4 reserved + 60 pods = 64 = the whole /26.
    let snapshot = ClusterFixture::new()
        .node("win-1", OsFamily::Windows, "npwin")
        .pool("p", "10.0.0.0/24", 26)
        .block(
            BlockFixture::new("10.0.0.0/26")
                .owner("win-1")
                .windows_reserved()
                .pods(3, 60, "win-1", "iis"),
        )
        .strict(true)
        .build();
    let model = IpamModel::from_snapshot(&snapshot);
    let node = model.node("win-1").unwrap();
    assert_eq!((node.block_cap, node.in_use, node.free()), (1, 64, 0));
    let finding = model
        .findings
        .iter()
        .find(|f| f.code == IpamFindingCode::NodeAtBlockCap)
        .unwrap();
    assert_eq!(finding.severity, Severity::Error);
    assert!(
        finding
            .message
            .contains("cannot allocate new block due to per host block limit")
    );
}

#[test]
fn an_exhausted_pool_with_strict_affinity_leaves_new_nodes_without_blocks() {
    // A /25 of /26 blocks has 2 slots; both claimed.
    let fixture = || {
        ClusterFixture::new()
            .node("a", OsFamily::Linux, "np")
            .node("b", OsFamily::Linux, "np")
            .pool("small", "10.1.0.0/25", 26)
            .block(
                BlockFixture::new("10.1.0.0/26")
                    .owner("a")
                    .pods(0, 3, "a", "x"),
            )
            .block(
                BlockFixture::new("10.1.0.64/26")
                    .owner("b")
                    .pods(0, 3, "b", "y"),
            )
    };
    let strict = IpamModel::from_snapshot(&fixture().strict(true).build());
    let exhausted = |model: &IpamModel| {
        model
            .findings
            .iter()
            .find(|f| f.code == IpamFindingCode::PoolNearlyExhausted)
            .map(|f| f.severity)
    };
    assert_eq!(strict.pools[0].block_slots, 2);
    assert_eq!(exhausted(&strict), Some(Severity::Error));
    let loose = IpamModel::from_snapshot(&fixture().strict(false).build());
    assert_eq!(exhausted(&loose), Some(Severity::Warning));
}

#[test]
fn configuration_source_and_default_labels() {
    let found = IpamModel::from_snapshot(&hybrid().build());
    assert!(found.config.spec.strict_affinity);
    assert_eq!(found.config.max_blocks_label(), "0 (default 20)");
    assert_eq!(found.config.block_cap(), 20);
    assert_eq!(
        found.config.source_label(),
        "read from projectcalico.org/v3 IPAMConfiguration default"
    );
    let missing = IpamModel::from_snapshot(&ClusterFixture::new().build());
    assert_eq!(missing.config.source, ConfigSource::NotFound);
    assert_eq!(
        missing.config.source_label(),
        "not found: Calico assumes strictAffinity false"
    );
    let loading = IpamModel::from_snapshot(
        &ClusterFixture::new()
            .feed(Kind::IpamConfigs, FeedState::Loading)
            .build(),
    );
    assert_eq!(loading.config.source, ConfigSource::Unknown);
}

#[test]
fn leaked_pods_handles_and_affinities() {
    let fixture = || {
        ClusterFixture::new()
            .node("lin-1", OsFamily::Linux, "np")
            .pool("p", "10.0.0.0/24", 26)
            .block(
                BlockFixture::new("10.0.0.0/26")
                    .owner("lin-1")
                    .pod(0, "lin-1", "default", "alive")
                    .pod(1, "lin-1", "default", "gone"),
            )
            .pod("default", "alive")
            .handle("k8s-pod-network.default-alive", "10.0.0.0/26", 1)
            .handle("k8s-pod-network.stale", "10.0.0.64/26", 1)
            .affinity("lin-1", "10.0.0.0/26", "confirmed")
            .affinity("lin-1", "10.0.0.128/26", "confirmed")
            .affinity("lin-1", "10.0.0.192/26", "pending")
            .strict(true)
    };
    let model = IpamModel::from_snapshot(&fixture().build());
    let subjects = |code| -> Vec<String> {
        model
            .findings
            .iter()
            .filter(|f| f.code == code)
            .map(|f| f.subject.clone())
            .collect()
    };
    let message = |code| {
        model
            .findings
            .iter()
            .find(|f| f.code == code)
            .map(|f| f.message.clone())
            .unwrap()
    };
    assert_eq!(
        message(IpamFindingCode::AllocationOfMissingPod),
        "1 address(es) are allocated to pods that no longer exist (leaked): 10.0.0.1 (default/gone)"
    );
    assert_eq!(
        message(IpamFindingCode::HandleWithoutAllocations),
        "1 IPAM handle(s) hold no address in any block (leaked): k8s-pod-network.stale"
    );
    assert_eq!(
        message(IpamFindingCode::AllocationWithoutHandle),
        "1 handle(s) used in blocks have no IPAMHandle object: k8s-pod-network.default-gone"
    );
    // Only the confirmed affinity without a block; pending ones are not owned yet.
    assert_eq!(
        subjects(IpamFindingCode::AffinityWithoutBlock),
        vec!["10.0.0.128/26"]
    );

    // With the pods feed still loading, absence of a pod proves nothing.
    let loading = IpamModel::from_snapshot(&fixture().feed(Kind::Pods, FeedState::Loading).build());
    assert!(
        !loading
            .findings
            .iter()
            .any(|f| f.code == IpamFindingCode::AllocationOfMissingPod)
    );
}

#[test]
fn ipv6_pool_totals_are_floats() {
    let model = IpamModel::from_snapshot(
        &ClusterFixture::new()
            .pool_spec("v6", serde_json::json!({"cidr": "fd00:10::/48"}))
            .block(
                BlockFixture::new("fd00:10::40/122")
                    .owner("n1")
                    .pods(1, 2, "n1", "v6pod"),
            )
            .build(),
    );
    let pool = &model.pools[0];
    // /48: 2^80 addresses, default IPv6 block /122: 2^(122-48) = 2^74 slots.
    assert_eq!(pool.total, 2f64.powi(80));
    assert_eq!(pool.block_size, 122);
    assert_eq!(pool.block_slots, 1u128 << 74);
    assert_eq!(pool.in_use, 2);
    assert_eq!(model.blocks[0].allocations[0].ip_text(), "fd00:10::41");
}

#[test]
fn grid_aggregates_slots_into_cells() {
    // A /12 of /26 blocks: 2^14 = 16,384 slots, all representable at one block per cell.
    let snapshot = ClusterFixture::new()
        .node("win-1", OsFamily::Windows, "npwin")
        .node("lin-1", OsFamily::Linux, "nplinux")
        .pool("big", "10.16.0.0/12", 26)
        // Slot 5 = 10.16.0.0 + 5 * 64 = 10.16.1.64; slot 6 = 10.16.1.128; slot 7 = 10.16.1.192.
        .block(
            BlockFixture::new("10.16.1.64/26")
                .owner("win-1")
                .windows_reserved()
                .pods(3, 28, "win-1", "a"),
        )
        .block(
            BlockFixture::new("10.16.1.128/26")
                .owner("lin-1")
                .pods(0, 64, "lin-1", "b"),
        )
        .block(BlockFixture::new("10.16.1.192/26").pod(0, "lin-1", "default", "c"))
        .strict(true)
        .build();
    let model = IpamModel::from_snapshot(&snapshot);
    let map = IpamMap::from_model(&model);
    let grid = map.pool(0).unwrap();
    assert_eq!(grid.slot_bits, 14);
    // Levels 2^0 .. 2^14 blocks per cell.
    assert_eq!(grid.levels.len(), 15);
    assert_eq!(grid.levels[0].cells.len(), 16_384);
    assert_eq!(grid.levels[14].cells.len(), 1);
    let finest = &grid.levels[0].cells;
    // 4 reserved + 28 pods = 32 of 64: half full.
    assert_eq!(finest[5].in_use, 32);
    assert!((finest[5].usage - 0.5).abs() < 1e-6);
    assert_eq!(finest[5].os, Some(OsFamily::Windows));
    assert!(matches!(finest[5].owner, CellOwner::Group(_)));
    assert!(finest[4].is_free());
    assert!(finest[7].orphaned && finest[7].borrowed);
    assert_eq!(finest[7].owner, CellOwner::Unowned);
    // At 4 blocks per cell, slots 4..8 are cell 1: three claimed, mixed owners,
    // in use 32 + 64 + 1 = 97 of 4 * 64 = 256.
    let level2 = &grid.levels[2].cells[1];
    assert_eq!(level2.claimed, 3);
    assert_eq!(level2.owner, CellOwner::Mixed);
    assert!((level2.usage - 97.0 / 256.0).abs() < 1e-6);
    assert_eq!(grid.blocks_in_cell(2, 1).len(), 3);
    // The API lists blocks by name, so "10-16-1-128-26" (slot 6) is block 0.
    assert_eq!(model.blocks[0].cidr, "10.16.1.128/26");
    assert_eq!(grid.blocks_in_cell(0, 6), &[(6, 0)]);
    assert_eq!(grid.level_fitting(1000), 5); // 16,384 / 2^5 = 512 cells
    // The whole pool: 3 blocks.
    assert_eq!(grid.levels[14].cells[0].claimed, 3);
}

#[test]
fn ipv6_grid_starts_aggregated() {
    let model = IpamModel::from_snapshot(
        &ClusterFixture::new()
            .pool_spec("v6", serde_json::json!({"cidr": "fd00:10::/48"}))
            .block(
                BlockFixture::new("fd00:10::40/122")
                    .owner("n1")
                    .pods(1, 2, "n1", "v6pod"),
            )
            .build(),
    );
    let grid = IpamMap::from_model(&model).pools.remove(0);
    assert_eq!(grid.slot_bits, 74);
    assert_eq!(grid.levels[0].log2_blocks_per_cell, 74 - MAX_CELLS_LOG2);
    assert_eq!(grid.levels[0].cells.len(), 1 << MAX_CELLS_LOG2);
    // fd00:10::40 is slot 1, inside the first cell.
    assert_eq!(grid.levels[0].cells[0].claimed, 1);
}

use super::grid::MAX_CELLS as MAX_CELLS_LOG2;
