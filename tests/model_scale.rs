//! How the derived views scale on a snapshot the size of the simulator's `large` scenario
//! (5,000 nodes, 50,000 workload pods, an agent pod per node). Ignored by default: it prints
//! timings for the report and asserts only on counts, never on time.
//! Run: `cargo test --test model_scale -- --ignored --nocapture`.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use pooltop::model::findings;
use pooltop::model::fixtures::{
    completed_inits, container, controller_revision, daemon_set, healthy_install, node, pod,
    pod_event,
};
use pooltop::model::pools::{self, PoolRules};
use pooltop::model::rollout;

const NODES: usize = 5_000;
const WORKLOADS_PER_NODE: usize = 10;

#[test]
#[ignore = "prints timings of a 5,000-node snapshot; run on demand"]
fn views_of_a_large_cluster() {
    let linux = daemon_set("calico-system", "calico-node").linux().build();
    let windows = daemon_set("calico-system", "calico-node-windows")
        .windows()
        .build();
    let mut nodes = Vec::with_capacity(NODES);
    let mut pods = Vec::with_capacity(NODES * (WORKLOADS_PER_NODE + 1));
    let mut events = Vec::new();
    for i in 0..NODES {
        let windows_node = i % 5 == 0;
        let name = format!("node-{i:05}");
        let pool = format!("pool{}", i % 20);
        let builder = node(&name).pool(&pool);
        nodes.push(
            if windows_node {
                builder.windows()
            } else {
                builder
            }
            .build(),
        );
        let ds = if windows_node { &windows } else { &linux };
        let [uninstall, install] = completed_inits();
        // Every tenth Windows agent is stuck pulling its image, with an event.
        let agent = pod("calico-system", &format!("agent-{i:05}"))
            .on(&name)
            .owned_by(ds)
            .revision("r2")
            .init(uninstall)
            .init(install);
        let agent = if windows_node && i % 50 == 0 {
            agent.container(container("felix").waiting("ImagePullBackOff", "no such host"))
        } else {
            agent.container(container("felix"))
        }
        .build();
        if windows_node && i % 50 == 0 {
            events.push(pod_event(&agent, "Failed", "Error: ImagePullBackOff", 1));
        }
        pods.push(agent);
        for w in 0..WORKLOADS_PER_NODE {
            pods.push(
                pod("default", &format!("w-{i:05}-{w}"))
                    .on(&name)
                    .container(container("app"))
                    .build(),
            );
        }
    }
    let started = Instant::now();
    let snapshot = healthy_install()
        .with_nodes(nodes)
        .with_pods(pods)
        .with_events(events)
        .with_daemon_sets([linux.clone(), windows.clone()])
        .with_revisions([
            controller_revision(&linux, "r2", 2),
            controller_revision(&windows, "r2", 2),
        ])
        .build();
    println!("snapshot assembly: {:?}", started.elapsed());

    let started = Instant::now();
    let all = pools::pools(&snapshot, &PoolRules::default());
    println!("pools: {:?} ({} pools)", started.elapsed(), all.len());
    let started = Instant::now();
    let rollouts = rollout::rollouts(&snapshot, &all);
    println!("rollouts: {:?}", started.elapsed());
    let started = Instant::now();
    let found = findings::findings(&snapshot, &all);
    println!(
        "findings: {:?} ({} findings)",
        started.elapsed(),
        found.len()
    );
    let started = Instant::now();
    let rows = pools::node_rows(&snapshot, &all[0]);
    println!(
        "node_rows of one pool: {:?} ({} rows)",
        started.elapsed(),
        rows.len()
    );
    let started = Instant::now();
    let detail = pools::node_detail(&snapshot, &PoolRules::default(), "node-00000");
    println!("node_detail: {:?}", started.elapsed());

    // 20 pools split by OS: pool0, pool5, pool10, pool15 hold the Windows nodes.
    assert_eq!(all.len(), 20);
    let stuck = &rollouts
        .iter()
        .find(|r| r.target == rollout::RolloutTarget::CalicoNodeWindows)
        .unwrap()
        .nodes;
    assert_eq!(stuck.len(), NODES / 50);
    assert!(stuck.iter().all(|n| n.event.is_some()));
    assert_eq!(detail.unwrap().agent_pods.len(), 1);
}
