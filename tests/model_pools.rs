//! Pools and nodes from hand-built snapshots: grouping by every provider label in DOMAIN.md §7
//! order, the OS split, the configured label, per-pool counts and severities, node rows and the
//! node detail. Expected values are worked out here from the fixtures, not read back from the
//! output.
#![allow(clippy::unwrap_used)]

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Pod;
use pooltop::model::findings::Severity;
use pooltop::model::fixtures::{
    FIXTURE_NOW, completed_inits, container, controller_revision, daemon_set, installation,
    ipam_block, node, object_event, pod, pod_event, snapshot,
};
use pooltop::model::pools::{
    self, AgentState, NodePool, OsFamily, POOL_LABELS, PoolKey, PoolRules, PoolSource,
};
use pooltop::model::printers;

fn key(name: &str, os: OsFamily) -> PoolKey {
    PoolKey {
        name: name.to_string(),
        os,
    }
}

fn find<'a>(pools: &'a [NodePool], name: &str, os: OsFamily) -> &'a NodePool {
    pools
        .iter()
        .find(|p| p.key == key(name, os))
        .unwrap_or_else(|| panic!("no pool {name} ({os})"))
}

#[test]
fn every_provider_label_wins_over_the_ones_after_it() {
    // Node i carries labels i.. of the list, each with a distinct value: label i must win.
    let nodes = (0..POOL_LABELS.len()).map(|i| {
        let mut builder = node(&format!("n{i}"));
        for (j, label) in POOL_LABELS.iter().enumerate().skip(i) {
            builder = builder.label(label, &format!("pool-{j}"));
        }
        builder.build()
    });
    let snap = snapshot().with_nodes(nodes).build();
    for (i, label) in POOL_LABELS.iter().enumerate() {
        let node = snap
            .nodes
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(&format!("n{i}")))
            .unwrap();
        let (key, source) = pools::pool_key(node, &PoolRules::default());
        assert_eq!(key.name, format!("pool-{i}"), "label {label}");
        assert_eq!(source, PoolSource::Label(label));
    }
    assert_eq!(
        POOL_LABELS,
        [
            "karpenter.sh/nodepool",
            "eks.amazonaws.com/nodegroup",
            "cloud.google.com/gke-nodepool",
            "kubernetes.azure.com/agentpool",
            "agentpool",
            "kops.k8s.io/instancegroup",
        ]
    );
}

#[test]
fn cluster_api_owner_name_loses_its_hash_and_fallback_uses_os_build_and_instance_type() {
    let machine_set = node("capi-1")
        .annotation("cluster.x-k8s.io/owner-name", "md-win-7b9cf5c4b7")
        .annotation("cluster.x-k8s.io/owner-kind", "MachineSet")
        .build();
    let newer_hash = node("capi-2")
        .annotation("cluster.x-k8s.io/owner-name", "md-linux-x2l4k")
        .build();
    let machine_pool = node("capi-3")
        .annotation("cluster.x-k8s.io/owner-name", "mp-0")
        .annotation("cluster.x-k8s.io/owner-kind", "MachinePool")
        .build();
    let labelled_beats_capi = node("capi-4")
        .label("kops.k8s.io/instancegroup", "nodes-a")
        .annotation("cluster.x-k8s.io/owner-name", "md-0-abcde")
        .build();
    let bare_windows = node("bare-win").windows().build();
    let bare_linux = node("bare-linux").build();
    let rules = PoolRules::default();
    let name = |n| pools::pool_key(&n, &rules);
    assert_eq!(
        name(machine_set),
        (key("md-win", OsFamily::Linux), PoolSource::ClusterApi)
    );
    assert_eq!(name(newer_hash).0.name, "md-linux");
    assert_eq!(name(machine_pool).0.name, "mp-0");
    assert_eq!(
        name(labelled_beats_capi),
        (
            key("nodes-a", OsFamily::Linux),
            PoolSource::Label("kops.k8s.io/instancegroup")
        )
    );
    assert_eq!(
        name(bare_windows),
        (
            key("windows-10.0.20348-Standard_D4s_v5", OsFamily::Windows),
            PoolSource::Fallback
        )
    );
    assert_eq!(name(bare_linux).0.name, "linux-Standard_D4s_v5");
}

#[test]
fn a_pool_name_on_both_oses_is_two_pools_and_a_configured_label_wins() {
    let snap = snapshot()
        .with_nodes([
            node("mixed-l").pool("mixed").build(),
            node("mixed-w").windows().pool("mixed").build(),
            node("team-a")
                .pool("np1")
                .label("example.com/team", "payments")
                .build(),
            node("team-b").pool("np1").build(),
        ])
        .build();
    let by_default = pools::pools(&snap, &PoolRules::default());
    let keys: Vec<&PoolKey> = by_default.iter().map(|p| &p.key).collect();
    assert_eq!(
        keys,
        [
            &key("mixed", OsFamily::Linux),
            &key("mixed", OsFamily::Windows),
            &key("np1", OsFamily::Linux)
        ]
    );
    let rules = PoolRules {
        label: Some("example.com/team".to_string()),
    };
    let configured = pools::pools(&snap, &rules);
    let payments = find(&configured, "payments", OsFamily::Linux);
    assert_eq!(payments.nodes, ["team-a"]);
    assert_eq!(
        payments.source,
        PoolSource::Configured("example.com/team".to_string())
    );
    // A node without the configured label falls back to the provider's.
    assert_eq!(find(&configured, "np1", OsFamily::Linux).nodes, ["team-b"]);
}

/// A Windows pool of three: one Ready on the current revision, one NotReady whose agent pulls
/// an image, one cordoned on the old revision with skewed kubelet; plus a healthy Linux pool.
fn windows_pool_snapshot() -> pooltop::model::ClusterSnapshot {
    let windows_ds = daemon_set("calico-system", "calico-node-windows")
        .windows()
        .counts(3, 3, 2, 1, 1)
        .generation(2, 2)
        .build();
    let linux_ds = daemon_set("calico-system", "calico-node")
        .linux()
        .counts(2, 2, 2, 2, 2)
        .build();
    snapshot()
        .with_nodes([
            node("w-0").windows().pool("npwin").build(),
            node("w-1")
                .windows()
                .pool("npwin")
                .not_ready("container runtime network not ready")
                .build(),
            node("w-2")
                .windows()
                .pool("npwin")
                .cordoned()
                .kubelet("v1.31.6")
                .build(),
            node("l-0").pool("nplinux").build(),
            node("l-1").pool("nplinux").build(),
        ])
        .with_daemon_sets([windows_ds.clone(), linux_ds.clone()])
        .with_revisions([
            controller_revision(&windows_ds, "old", 1),
            controller_revision(&windows_ds, "new", 2),
            controller_revision(&linux_ds, "lin", 1),
        ])
        .with_pods(windows_pool_pods(&windows_ds, &linux_ds))
        .with_events([
            pod_event(
                &pod("calico-system", "cnw-1").build(),
                "Failed",
                "Error: ImagePullBackOff",
                2,
            ),
            object_event(
                "Node",
                None,
                "w-1",
                "NodeNotReady",
                "Node w-1 status is now: NodeNotReady",
                9,
            ),
            object_event("Node", None, "l-0", "Rebooted", "not about w-1", 1),
        ])
        .with_ipam_blocks([
            ipam_block("192.168.7.0/26")
                .host("w-1")
                .windows_reserved()
                .allocate(10, "k8s-pod-network.a", &[("node", "w-1")])
                .allocate(11, "k8s-pod-network.b", &[("node", "w-1")])
                .build(),
            ipam_block("192.168.8.0/26").host("w-1").deleted().build(),
            ipam_block("192.168.9.0/26").host("w-0").build(),
        ])
        .build()
}

/// The agent pods of [`windows_pool_snapshot`] and its workloads.
fn windows_pool_pods(windows_ds: &DaemonSet, linux_ds: &DaemonSet) -> Vec<Pod> {
    let [uninstall, install] = completed_inits();
    let healthy = |name: &str, node: &str, ds, hash: &str| {
        pod("calico-system", name)
            .on(node)
            .owned_by(ds)
            .revision(hash)
            .init(uninstall.clone())
            .init(install.clone())
            .container(container("felix"))
            .container(container("node"))
            .build()
    };
    vec![
        healthy("cnw-0", "w-0", windows_ds, "new"),
        pod("calico-system", "cnw-1")
            .on("w-1")
            .owned_by(windows_ds)
            .revision("new")
            .init(
                container("uninstall-calico")
                    .image("reg.example/calico/node-windows:v3.28.0")
                    .waiting("ImagePullBackOff", "Back-off pulling image"),
            )
            .init(container("install-cni").waiting("PodInitializing", ""))
            .container(container("felix").waiting("PodInitializing", ""))
            .container(container("node").waiting("PodInitializing", ""))
            .build(),
        healthy("cnw-2", "w-2", windows_ds, "old"),
        healthy("cn-0", "l-0", linux_ds, "lin"),
        healthy("cn-1", "l-1", linux_ds, "lin"),
        // Workloads: two running and one pending on Windows, one failed on Linux, one
        // finished pod that counts as succeeded, and a Calico pod that is not a workload.
        pod("default", "iis-0")
            .on("w-0")
            .container(container("iis"))
            .build(),
        pod("default", "iis-1")
            .on("w-2")
            .container(container("iis"))
            .build(),
        pod("default", "iis-2")
            .on("w-1")
            .container(container("iis").waiting("ContainerCreating", ""))
            .build(),
        pod("default", "job-0").on("l-0").phase("Failed").build(),
        pod("default", "job-1").on("l-1").phase("Succeeded").build(),
    ]
}

#[test]
fn pool_counts_versions_agent_and_workloads() {
    let snap = windows_pool_snapshot();
    let all = pools::pools(&snap, &PoolRules::default());
    // Problems first: the Windows pool (NotReady node) before the healthy Linux one.
    assert_eq!(all[0].key, key("npwin", OsFamily::Windows));
    assert_eq!(all[1].key, key("nplinux", OsFamily::Linux));

    let windows = &all[0];
    assert_eq!(windows.nodes, ["w-0", "w-1", "w-2"]);
    assert_eq!(
        (windows.ready, windows.not_ready, windows.cordoned),
        (2, 1, 1)
    );
    assert_eq!(windows.kubelet.values, ["v1.31.6", "v1.32.4"]);
    assert!(windows.kubelet.skew);
    assert_eq!(windows.runtime.values, ["containerd://1.7.20+azure"]);
    assert!(!windows.runtime.skew);
    assert_eq!(windows.windows_build, "2022 (10.0.20348.2966)");
    // Three nodes expected; w-0 and w-2 ready; w-0 and w-1 on revision "new".
    assert_eq!(windows.calico.state, AgentState::Present);
    assert_eq!(
        (
            windows.calico.expected,
            windows.calico.ready,
            windows.calico.updated
        ),
        (3, 2, 2)
    );
    assert_eq!(
        windows.calico.text,
        "calico-node-windows 2/3 ready, 2 updated"
    );
    assert_eq!(
        (
            windows.workloads.running,
            windows.workloads.pending,
            windows.workloads.failed
        ),
        (2, 1, 0)
    );
    assert_eq!(windows.severity, Severity::Error);
    assert_eq!(windows.problems[0], "1 NotReady");
    assert!(windows.problems.contains(&"1 cordoned".to_string()));
    assert!(windows.problems.contains(&"kubelet skew".to_string()));

    let linux = &all[1];
    assert_eq!(linux.calico.text, "calico-node 2/2 ready");
    assert_eq!(
        (
            linux.workloads.running,
            linux.workloads.failed,
            linux.workloads.succeeded
        ),
        (0, 1, 1)
    );
    assert_eq!(linux.severity, Severity::Warning, "{:?}", linux.problems);
    assert_eq!(linux.problems, ["1 pods failed"]);
}

#[test]
fn agent_state_is_unknown_until_daemon_sets_load_and_absent_after() {
    use pooltop::model::snapshot::{FeedState, Kind};
    let nodes = [node("w-0").windows().pool("npwin").build()];
    let loading = snapshot()
        .with_nodes(nodes.clone())
        .feed(Kind::DaemonSets, FeedState::Loading)
        .build();
    let pool = &pools::pools(&loading, &PoolRules::default())[0];
    assert_eq!(pool.calico.state, AgentState::Unknown);
    assert_eq!(
        pool.severity,
        Severity::Ok,
        "unknown is not a problem by itself"
    );
    // Absent without an Installation asking for Windows is what was configured.
    let not_asked = snapshot()
        .with_nodes(nodes.clone())
        .with_installation(installation().windows_disabled().build())
        .build();
    let pool = &pools::pools(&not_asked, &PoolRules::default())[0];
    assert_eq!(pool.calico.state, AgentState::Absent);
    assert_eq!(pool.calico.text, "calico-node-windows absent");
    assert_eq!(pool.severity, Severity::Ok);
    let asked = snapshot()
        .with_nodes(nodes)
        .with_installation(installation().build())
        .build();
    let pool = &pools::pools(&asked, &PoolRules::default())[0];
    assert_eq!(pool.calico.state, AgentState::Absent);
    assert_eq!(pool.severity, Severity::Error);
    assert_eq!(pool.problems, ["calico-node-windows absent"]);
}

#[test]
fn node_rows_speak_kubectl() {
    let snap = windows_pool_snapshot();
    let all = pools::pools(&snap, &PoolRules::default());
    let rows = pools::node_rows(&snap, &all[0]);
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    // Errors first (w-1 NotReady), then the cordoned warning, then the healthy node.
    assert_eq!(names, ["w-1", "w-2", "w-0"]);
    let w1 = &rows[0];
    assert_eq!(w1.status, "NotReady");
    assert_eq!(w1.calico, "Init:ImagePullBackOff 0/2");
    assert_eq!(w1.calico_ready, Some(false));
    // Non-terminated pods: the agent and iis-2.
    assert_eq!(w1.pods, 2);
    // Fixture nodes are created 24 hours before the snapshot: kubectl prints "24h".
    assert_eq!(w1.age, "24h");
    assert_eq!(w1.roles, "<none>");
    assert_eq!(w1.internal_ip, "10.224.0.5");
    assert_eq!(w1.windows_build.as_deref(), Some("2022 (10.0.20348.2966)"));
    assert_eq!(rows[1].status, "Ready,SchedulingDisabled");
    assert_eq!(rows[1].kubelet_version, "v1.31.6");
    assert_eq!(rows[2].calico, "Running 2/2");

    let control = node("cp").control_plane().build();
    assert_eq!(printers::node_roles(&control), "control-plane");
}

#[test]
fn node_detail_has_conditions_taints_agent_containers_blocks_and_events() {
    let snap = windows_pool_snapshot();
    let detail = pools::node_detail(&snap, &PoolRules::default(), "w-1").unwrap();
    assert!(pools::node_detail(&snap, &PoolRules::default(), "nope").is_none());
    assert_eq!(detail.row.pool, key("npwin", OsFamily::Windows));
    let ready = detail
        .conditions
        .iter()
        .find(|c| c.condition_type == "Ready")
        .unwrap();
    assert_eq!((ready.status.as_str(), ready.problem), ("False", true));
    assert_eq!(ready.last_transition, "30m");
    assert_eq!(detail.taints, ["node.kubernetes.io/not-ready:NoSchedule"]);
    assert!(
        detail
            .addresses
            .contains(&("InternalIP".to_string(), "10.224.0.5".to_string()))
    );
    assert!(
        detail
            .labels
            .contains(&("agentpool".to_string(), "npwin".to_string()))
    );

    assert_eq!(detail.agent_pods.len(), 1);
    let agent = &detail.agent_pods[0];
    assert_eq!(agent.name, "cnw-1");
    assert_eq!(agent.columns.status, "Init:ImagePullBackOff");
    assert_eq!(agent.updated, Some(true));
    let states: Vec<(&str, bool, &str)> = agent
        .containers
        .iter()
        .map(|c| (c.name.as_str(), c.init, c.state.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            ("uninstall-calico", true, "waiting: ImagePullBackOff"),
            ("install-cni", true, "waiting: PodInitializing"),
            ("felix", false, "waiting: PodInitializing"),
            ("node", false, "waiting: PodInitializing"),
        ]
    );
    assert_eq!(
        agent.containers[0].image,
        "reg.example/calico/node-windows:v3.28.0"
    );

    // One live block (the deleted one is ignored): 4 Windows-reserved + 2 pods of 64.
    assert_eq!(detail.ipam_blocks.len(), 1);
    let block = &detail.ipam_blocks[0];
    assert_eq!(
        (block.cidr.as_str(), block.used, block.capacity),
        ("192.168.7.0/26", 6, 64)
    );

    // The pod's event (2 minutes ago) before the node's (9 minutes ago); l-0's is not here.
    let events: Vec<(&str, &str, &str)> = detail
        .events
        .iter()
        .map(|e| (e.object.as_str(), e.reason.as_str(), e.age.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            ("pod/cnw-1", "Failed", "2m"),
            ("node/w-1", "NodeNotReady", "9m")
        ]
    );
}

#[test]
fn pod_status_follows_kubectl_print_pod() {
    let status = |p: pooltop::model::fixtures::PodBuilder| printers::pod_columns(&p.build());
    let [uninstall, _] = completed_inits();
    // Second init container running: Init:1/2.
    let second_init = status(
        pod("ns", "a")
            .init(uninstall.clone())
            .init(container("install-cni"))
            .container(container("felix").waiting("PodInitializing", "")),
    );
    assert_eq!(
        (second_init.status.as_str(), second_init.ready.as_str()),
        ("Init:1/2", "0/1")
    );
    // Failed init container without a reason: Init:ExitCode:N.
    let failed_init = status(pod("ns", "b").init(container("x").terminated(3, "")));
    assert_eq!(failed_init.status, "Init:ExitCode:3");
    let crash = status(
        pod("ns", "c")
            .container(container("felix").crash_loop(137, "Error", "", 4))
            .container(container("node")),
    );
    assert_eq!(
        (crash.status.as_str(), crash.ready.as_str(), crash.restarts),
        ("CrashLoopBackOff", "1/2", 4)
    );
    // kubectl ages the last restart: the fixture's last termination finished 2 minutes ago.
    let crash_at = printers::pod_columns_at(
        &pod("ns", "c")
            .container(container("felix").crash_loop(137, "Error", "", 4))
            .build(),
        FIXTURE_NOW,
    );
    assert_eq!(crash_at.restarts_text, "4 (2m ago)");
    assert_eq!(crash.restarts_text, "4");
    let deleting = status(
        pod("ns", "d")
            .container(container("x"))
            .deleting(FIXTURE_NOW),
    );
    assert_eq!(deleting.status, "Terminating");
    // A completed container next to a running one reads Running when the pod is Ready.
    let mixed = status(
        pod("ns", "e")
            .container(container("done").terminated(0, "Completed"))
            .container(container("web"))
            .ready(true),
    );
    assert_eq!(mixed.status, "Running");
}

#[test]
fn windows_pods_past_their_grace_period_are_a_pool_problem() {
    let grace_ends = FIXTURE_NOW
        .checked_add(jiff::SignedDuration::from_secs(30))
        .unwrap();
    let snap = snapshot()
        .with_nodes([node("w-0").windows().pool("npwin").build()])
        .with_pods([
            pod("default", "stuck")
                .on("w-0")
                .container(container("iis"))
                .deleting(pooltop::model::fixtures::minutes_ago(10))
                .build(),
            pod("default", "leaving")
                .on("w-0")
                .container(container("iis"))
                .deleting(grace_ends)
                .build(),
        ])
        .build();
    let all = pools::pools(&snap, &PoolRules::default());
    let pool = &all[0];
    assert_eq!(
        (
            pool.workloads.terminating,
            pool.workloads.stuck_terminating,
            pool.workloads.running
        ),
        (2, 1, 0)
    );
    assert_eq!(pool.problems, ["1 pods stuck terminating"]);
    assert_eq!(pools::all_node_rows(&snap, &all).len(), 1);
}
