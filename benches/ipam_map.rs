//! Cost of the IPAM block map on a large pool: a synthetic /12 of /26 blocks with every one of
//! its 16,384 slots claimed by 4,000 nodes (800 of them Windows, with their reserved ordinals),
//! about 330,000 allocated addresses. Measures, per snapshot revision, building the IPAM model
//! and the block grid (all zoom levels), and per frame, rendering the view at 120x40 and
//! 80x24 on ratatui's `TestBackend` at the fitted zoom and at one block per cell, and the list
//! tables: sorting them (what happens once per sort key or snapshot change) and drawing the
//! node table. Then the same on the simulator's `large` scenario, read in-process through the
//! console's own client and snapshot feed (`IPAM_BENCH_LARGE=0` skips it).
//! Run: `cargo bench --bench ipam_map`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pooltop::model::calico::{
    AllocationAttribute, IpPool, IpPoolSpec, IpamBlock, IpamBlockSpec, IpamConfig, IpamConfigSpec,
    WINDOWS_RESERVED_HANDLE,
};
use pooltop::model::ipam::tables::{IpamTable, TableSort, sorted_rows};
use pooltop::model::{ClusterSnapshot, Feed, FeedState, Kind};
use pooltop::ui::ipam::{IpamMode, IpamTheme, IpamView, IpamViewState, ListRows, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const BLOCKS: u32 = 16_384;
const NODES: u32 = 4_000;
const WINDOWS_EVERY: u32 = 5;

fn node(i: u32) -> Node {
    let windows = i.is_multiple_of(WINDOWS_EVERY);
    let (os, pool) = if windows {
        ("windows", format!("win{}", i % 3))
    } else {
        ("linux", format!("lnx{}", i % 4))
    };
    let labels = BTreeMap::from([
        ("kubernetes.io/os".to_string(), os.to_string()),
        ("kubernetes.azure.com/agentpool".to_string(), pool),
    ]);
    Node {
        metadata: ObjectMeta {
            name: Some(format!("node-{i:05}")),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        ..Node::default()
    }
}

fn block(slot: u32) -> IpamBlock {
    let owner = slot % NODES;
    let windows = owner.is_multiple_of(WINDOWS_EVERY);
    let base = (10u32 << 24) | (16 << 16);
    let address = std::net::Ipv4Addr::from(base + slot * 64);
    let mut attributes = Vec::new();
    let mut allocations = vec![None; 64];
    if windows {
        attributes.push(AllocationAttribute {
            handle_id: Some(WINDOWS_RESERVED_HANDLE.to_string()),
            secondary: BTreeMap::from([("note".to_string(), "windows host rsvd".to_string())]),
        });
        for ordinal in [0, 1, 2, 63] {
            allocations[ordinal] = Some(0);
        }
    }
    // Fill grows with the slot so the map has every usage level; every 97th block lends one
    // address to the next node.
    let pods = (slot % 56) as usize;
    for i in 0..pods {
        let node = if slot.is_multiple_of(97) && i == 0 {
            (owner + 1) % NODES
        } else {
            owner
        };
        attributes.push(AllocationAttribute {
            handle_id: Some(format!("k8s-pod-network.{slot:05}{i:02}")),
            secondary: BTreeMap::from([
                ("node".to_string(), format!("node-{node:05}")),
                ("namespace".to_string(), "shop".to_string()),
                ("pod".to_string(), format!("svc-{slot}-{i}")),
            ]),
        });
        allocations[3 + i] = Some(u32::try_from(attributes.len() - 1).unwrap_or(0));
    }
    let unallocated = (0..64u32)
        .filter(|o| allocations[*o as usize].is_none())
        .collect();
    IpamBlock {
        metadata: ObjectMeta {
            name: Some(format!("{}-26", address.to_string().replace('.', "-"))),
            ..ObjectMeta::default()
        },
        spec: IpamBlockSpec {
            cidr: format!("{address}/26"),
            affinity: Some(format!("host:node-{owner:05}")),
            allocations,
            unallocated,
            attributes,
            deleted: false,
        },
    }
}

fn snapshot() -> ClusterSnapshot {
    let mut blocks: Vec<IpamBlock> = (0..BLOCKS).map(block).collect();
    blocks.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut snapshot = ClusterSnapshot {
        revision: 1,
        nodes: Arc::new((0..NODES).map(|i| Arc::new(node(i))).collect()),
        ip_pools: Arc::new(vec![Arc::new(IpPool {
            metadata: ObjectMeta {
                name: Some("big".to_string()),
                ..ObjectMeta::default()
            },
            spec: IpPoolSpec {
                cidr: "10.16.0.0/12".to_string(),
                block_size_raw: 26,
                vxlan_mode: Some("Always".to_string()),
                ..IpPoolSpec::default()
            },
        })]),
        ipam_blocks: Arc::new(blocks.into_iter().map(Arc::new).collect()),
        ipam_config: Some(Arc::new(IpamConfig {
            api_version: "projectcalico.org/v3".to_string(),
            metadata: ObjectMeta::default(),
            spec: IpamConfigSpec {
                strict_affinity: true,
                auto_allocate_blocks: true,
                max_blocks_per_host: 0,
            },
        })),
        ..ClusterSnapshot::default()
    };
    for kind in [
        Kind::Nodes,
        Kind::IpPools,
        Kind::IpamBlocks,
        Kind::IpamConfigs,
    ] {
        snapshot.feeds.insert(
            kind,
            Feed {
                state: FeedState::Live,
                last_event: None,
            },
        );
    }
    snapshot
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                black_box(f());
                started.elapsed()
            })
            .collect(),
    )
}

fn frame_time(
    view: &IpamView,
    state: &IpamViewState,
    list: ListRows<'_>,
    width: u16,
    height: u16,
) -> Duration {
    let Ok(mut terminal) = Terminal::new(TestBackend::new(width, height));
    let theme = IpamTheme::default();
    time(200, || {
        terminal
            .draw(|frame| render(frame, frame.area(), state, view, &theme, list))
            .is_ok()
    })
}

/// Model, map, map frames, table sorts and a table frame for one snapshot.
fn measure(label: &str, snapshot: &ClusterSnapshot) {
    let addresses: usize = snapshot
        .ipam_blocks
        .iter()
        .map(|b| b.spec.allocations.iter().flatten().count())
        .sum();
    println!(
        "{label}: {} blocks, {} nodes, {} pods, {addresses} allocated addresses",
        snapshot.ipam_blocks.len(),
        snapshot.nodes.len(),
        snapshot.pods.len()
    );
    let model_time = time(10, || {
        pooltop::model::ipam::IpamModel::from_snapshot(snapshot)
    });
    let view = IpamView::from_snapshot(snapshot);
    let grid_time = time(10, || {
        pooltop::model::ipam::IpamMap::from_model(&view.model)
    });
    let findings_time = time(10, || {
        pooltop::model::ipam::findings::ipam_findings(snapshot, &view.model)
    });
    println!(
        "  per revision: IpamModel {model_time:?} (of which its findings {findings_time:?}), IpamMap (all zoom levels) {grid_time:?}"
    );
    let fitted = IpamViewState::default();
    let finest = IpamViewState {
        zoom: Some(0),
        cursor: view.model.blocks.len() / 2,
        ..IpamViewState::default()
    };
    for (what, state) in [("fitted zoom", &fitted), ("one block per cell", &finest)] {
        println!(
            "  map frame, {what}: 120x40 {:?}, 80x24 {:?} (median of 200 frames)",
            frame_time(&view, state, ListRows::default(), 120, 40),
            frame_time(&view, state, ListRows::default(), 80, 24)
        );
    }
    let by_in_use = TableSort {
        column: 5,
        descending: true,
    };
    let by_name = TableSort::default();
    let model = &view.model;
    println!(
        "  sort (once per sort key or snapshot): nodes ({}) by IN USE {:?}, by NODE {:?}; borrowed ({}) by ADDRESS {:?}; pools ({}) by % {:?}",
        model.nodes.len(),
        time(20, || sorted_rows(model, IpamTable::Nodes, by_in_use)),
        time(20, || sorted_rows(model, IpamTable::Nodes, by_name)),
        model.borrowed.len(),
        time(20, || sorted_rows(model, IpamTable::Borrowed, by_name)),
        model.pools.len(),
        time(20, || sorted_rows(
            model,
            IpamTable::Pools,
            TableSort {
                column: 7,
                descending: true
            }
        )),
    );
    let rows = sorted_rows(model, IpamTable::Nodes, by_in_use);
    let nodes = IpamViewState {
        mode: IpamMode::Nodes,
        sorts: [TableSort::default(), by_in_use, TableSort::default()],
        ..IpamViewState::default()
    };
    let list = ListRows {
        rows: &rows,
        selected: rows.len() / 2,
    };
    println!(
        "  node table frame (row {} of {} selected): 120x40 {:?}, 80x24 {:?}",
        rows.len() / 2,
        rows.len(),
        frame_time(&view, &nodes, list, 120, 40),
        frame_time(&view, &nodes, list, 80, 24)
    );
}

/// The `large` scenario as the console sees it: the simulator in-process (controllers off,
/// as loaded), read through `cluster::connect` and the snapshot feed until every pod is in.
fn large_snapshot() -> Option<ClusterSnapshot> {
    use pooltop::cluster::{ConnectOptions, connect, spawn_feed};
    use pooltop::sim::scenario::{LARGE_PODS, Scenario};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir().ok()?;
        let kubeconfig = dir.path().join("kubeconfig");
        let started = Instant::now();
        let handle = pooltop::sim::start(pooltop::sim::SimConfig {
            scenario: Scenario::Large,
            kubeconfig_path: Some(kubeconfig.clone()),
            controllers: pooltop::sim::controllers::Controllers::None,
            ..pooltop::sim::SimConfig::default()
        })
        .await
        .ok()?;
        let connection = connect(&ConnectOptions {
            kubeconfig: Some(kubeconfig),
            ..ConnectOptions::default()
        })
        .await
        .ok()?;
        let cancel = tokio_util::sync::CancellationToken::new();
        let feed = spawn_feed(&connection, cancel.clone());
        let mut rx = feed.rx.clone();
        let snapshot = tokio::time::timeout(
            Duration::from_secs(300),
            rx.wait_for(|s| s.is_complete() && s.pods.len() >= LARGE_PODS),
        )
        .await
        .ok()?
        .ok()?
        .clone();
        println!(
            "large: sim start + first complete snapshot through the feed {:?}",
            started.elapsed()
        );
        cancel.cancel();
        handle.stop().await;
        Some((*snapshot).clone())
    })
}

fn main() {
    measure("synthetic /12 of /26", &snapshot());
    if std::env::var("IPAM_BENCH_LARGE").as_deref() == Ok("0") {
        return;
    }
    match large_snapshot() {
        Some(snapshot) => measure("large scenario", &snapshot),
        None => println!("large: the simulator or the feed did not come up"),
    }
}
