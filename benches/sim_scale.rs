//! Scale benchmark of the simulated API server: starts `pooltop sim --scenario large`
//! (5,000 nodes, 50,000 workload pods on a healthy Calico install) as its own process, then
//! measures how long loading takes, how much memory the server needs, how much the running
//! controllers write to a cluster that is already converged (writes and Events over a minute),
//! and how long the real clients take against it.
//!
//! Run with `cargo bench --bench sim_scale`. Numbers go to stdout as a table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};

use common::{kubectl_get_nodes, memory_mib, start_sim, summary};

const RUNS: usize = 3;
/// Every pod of `large`: 50,000 workload pods, 4,000 calico-node, 1,000 calico-node-windows,
/// 22 Typha, 1 kube-controllers, 2 Calico API servers and the operator.
const LARGE_ALL_PODS: usize = 55_026;
/// How long the controllers run on the loaded cluster while their writes are counted.
const IDLE_WINDOW: Duration = Duration::from_secs(60);

/// The store's current resourceVersion (every write moves it by one) and the number of Events.
async fn writes_and_events(client: &kube::Client) -> (u64, usize) {
    let request = http::Request::get("/api/v1/namespaces?limit=1")
        .body(Vec::new())
        .unwrap();
    let list: serde_json::Value =
        serde_json::from_str(&client.request_text(request).await.unwrap()).unwrap();
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let request = http::Request::get("/api/v1/events")
        .body(Vec::new())
        .unwrap();
    let events: serde_json::Value =
        serde_json::from_str(&client.request_text(request).await.unwrap()).unwrap();
    (rv, events["items"].as_array().map_or(0, Vec::len))
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(dir.path(), "large", &[]);
    let pid = sim.child.id();
    println!("pooltop sim --scenario large at {}", sim.url);
    println!(
        "{:<44} {:>8.2} s",
        "start-up incl. loading the scenario",
        sim.startup.as_secs_f64()
    );
    let (peak, rss) = memory_mib(pid);
    println!(
        "{:<44} {peak:>8.0} MiB peak, {rss:.0} MiB resident",
        "server memory after load"
    );
    // The loader's own phases, from the server's log.
    let log = std::fs::read_to_string(dir.path().join("sim.log")).unwrap_or_default();
    for line in log.lines().filter(|l| l.contains("large:")) {
        println!("  {}", line.trim());
    }

    let kubeconfig = kube::config::Kubeconfig::read_from(dir.path().join("kubeconfig")).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    config.default_retry = false;
    config.read_timeout = Some(Duration::from_secs(300));
    let client = kube::Client::try_from(config).unwrap();
    let nodes = Api::<Node>::all(client.clone())
        .list_metadata(&ListParams::default().limit(1))
        .await
        .unwrap();
    assert!(
        nodes.metadata.remaining_item_count.unwrap_or(0) >= 4_999,
        "the large scenario is loaded"
    );

    idle_controllers(&client, pid).await;

    let (cold, count) = kubectl_get_nodes(&sim.kubeconfig, &dir.path().join("cache-cold"));
    assert_eq!(count, 5_000);
    let warm: Vec<Duration> = (0..RUNS)
        .map(|_| kubectl_get_nodes(&sim.kubeconfig, &dir.path().join("cache-warm")).0)
        .collect();
    println!(
        "{:<44} {:>8.1} ms (fresh discovery cache)",
        "kubectl get nodes -o json, first run",
        cold.as_secs_f64() * 1000.0
    );
    println!(
        "{:<44} {}",
        "kubectl get nodes -o json, warm cache",
        summary(&warm)
    );

    pod_lists(&client).await;
    let (peak, rss) = memory_mib(pid);
    println!(
        "{:<44} {peak:>8.0} MiB peak, {rss:.0} MiB resident",
        "server memory at the end"
    );
}

/// The controllers started with the server; on a converged cluster they should find almost
/// nothing to do. Counts their writes and Events over `IDLE_WINDOW`.
async fn idle_controllers(client: &kube::Client, pid: u32) {
    let (rv_start, events_start) = writes_and_events(client).await;
    tokio::time::sleep(IDLE_WINDOW).await;
    let (rv_end, events_end) = writes_and_events(client).await;
    let minutes = IDLE_WINDOW.as_secs_f64() / 60.0;
    println!(
        "{:<44} {:>8.0} writes/min, {:.0} new Events/min (first {} s after start)",
        "controllers on the loaded cluster",
        (rv_end - rv_start) as f64 / minutes,
        events_end.saturating_sub(events_start) as f64 / minutes,
        IDLE_WINDOW.as_secs()
    );
    let (peak, rss) = memory_mib(pid);
    println!(
        "{:<44} {peak:>8.0} MiB peak, {rss:.0} MiB resident",
        "server memory after a minute of controllers"
    );
}

/// Listing every pod: raw bytes, decoded in one request, decoded in pages.
async fn pod_lists(client: &kube::Client) {
    // The server's share: the same list read as bytes, without decoding 50,000 pods.
    let mut raw = Vec::new();
    let mut bytes = 0;
    for _ in 0..RUNS {
        let request = http::Request::get("/api/v1/pods").body(Vec::new()).unwrap();
        let started = Instant::now();
        bytes = client.request_text(request).await.unwrap().len();
        raw.push(started.elapsed());
    }
    println!(
        "{:<44} {} ({:.0} MiB)",
        "GET /api/v1/pods as bytes (server + transfer)",
        summary(&raw),
        bytes as f64 / 1_048_576.0
    );

    let pods: Api<Pod> = Api::all(client.clone());
    let mut whole = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let list = pods.list(&ListParams::default()).await.unwrap();
        whole.push(started.elapsed());
        assert_eq!(list.items.len(), LARGE_ALL_PODS, "every pod");
    }
    println!(
        "{:<44} {}",
        "kube-rs list of all pods, one request",
        summary(&whole)
    );
    let mut paged = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let mut params = ListParams::default().limit(500);
        let mut total = 0;
        loop {
            let page = pods.list(&params).await.unwrap();
            total += page.items.len();
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => break,
            }
        }
        paged.push(started.elapsed());
        assert_eq!(total, LARGE_ALL_PODS);
    }
    println!(
        "{:<44} {}",
        "kube-rs list of all pods, pages of 500",
        summary(&paged)
    );
}
