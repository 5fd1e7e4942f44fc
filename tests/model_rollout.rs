//! Rollout from hand-built snapshots: kubectl's messages and verdicts, the operator's health,
//! the current revision, eligibility (node selector, affinity, taints), the per-pool
//! breakdown, every stuck reason with its explanation and event, the absent DaemonSet's reason
//! and the TigeraStatus rows.
#![allow(clippy::unwrap_used)]

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Pod;
use pooltop::model::findings::Severity;
use pooltop::model::fixtures::{
    PodBuilder, completed_inits, container, controller_revision, daemon_set, installation,
    minutes_ago, node, pod, pod_event, snapshot, tigera_status,
};
use pooltop::model::pools::{self, OsFamily, PoolRules};
use pooltop::model::rollout::{
    self, NodeRollout, Presence, Rollout, RolloutCounters, RolloutTarget, StuckReason,
};
use pooltop::model::snapshot::{ClusterSnapshot, FeedState, Kind};

fn counters(
    desired: i32,
    updated: i32,
    available: i32,
    generation: i64,
    observed: i64,
) -> RolloutCounters {
    RolloutCounters {
        desired,
        current: desired,
        updated,
        ready: available,
        available,
        unavailable: desired - available,
        misscheduled: 0,
        generation,
        observed_generation: observed,
    }
}

#[test]
fn kubectl_rollout_status_messages() {
    let name = "calico-node-windows";
    let verdict = |c| rollout::kubectl_verdict(name, "RollingUpdate", &c);
    let rolling = verdict(counters(5, 3, 2, 2, 2));
    assert_eq!(
        rolling.message,
        "Waiting for daemon set \"calico-node-windows\" rollout to finish: 3 out of 5 new pods have been updated..."
    );
    assert!(!rolling.done && !rolling.error);
    let unavailable = verdict(counters(5, 5, 4, 2, 2));
    assert_eq!(
        unavailable.message,
        "Waiting for daemon set \"calico-node-windows\" rollout to finish: 4 of 5 updated pods are available..."
    );
    let done = verdict(counters(5, 5, 5, 2, 2));
    assert_eq!(
        done.message,
        "daemon set \"calico-node-windows\" successfully rolled out"
    );
    assert!(done.done);
    let unobserved = verdict(counters(5, 5, 5, 3, 2));
    assert_eq!(
        unobserved.message,
        "Waiting for daemon set spec update to be observed..."
    );
    assert!(!unobserved.done);
    let on_delete = rollout::kubectl_verdict(name, "OnDelete", &counters(5, 5, 5, 1, 1));
    assert_eq!(
        on_delete.message,
        "rollout status is only available for RollingUpdate strategy type"
    );
    assert!(on_delete.error && !on_delete.done);
}

#[test]
fn operator_health_is_stricter_than_kubectl() {
    let target = RolloutTarget::CalicoNodeWindows;
    let health = |c| rollout::operator_health(target, &c);
    assert_eq!(
        health(counters(5, 3, 2, 2, 2)).message,
        "DaemonSet \"calico-system/calico-node-windows\" update is rolling out (3 out of 5 updated)"
    );
    assert_eq!(
        health(counters(5, 5, 3, 2, 2)).message,
        "DaemonSet \"calico-system/calico-node-windows\" is not available (awaiting 2 nodes)"
    );
    let mut none_available = counters(2, 2, 0, 1, 1);
    none_available.unavailable = 0;
    assert_eq!(
        health(none_available).message,
        "DaemonSet \"calico-system/calico-node-windows\" is not yet scheduled on any nodes"
    );
    assert_eq!(
        health(counters(5, 5, 5, 3, 2)).message,
        "DaemonSet \"calico-system/calico-node-windows\" update is being processed"
    );
    assert!(health(counters(5, 5, 5, 2, 2)).healthy);
    // kubectl calls this done; the operator does not, because one pod runs where it should not.
    let mut misscheduled = counters(5, 5, 5, 2, 2);
    misscheduled.misscheduled = 1;
    assert!(!health(misscheduled).healthy);
    assert!(rollout::kubectl_verdict("x", "RollingUpdate", &misscheduled).done);
}

fn windows_ds() -> DaemonSet {
    daemon_set("calico-system", "calico-node-windows")
        .windows()
        .not_in("eks.amazonaws.com/compute-type", &["fargate"])
        .counts(9, 9, 7, 2, 2)
        .generation(3, 3)
        .build()
}

/// A calico-node-windows pod on the current revision with both init containers done.
fn agent(ds: &DaemonSet, node: &str) -> PodBuilder {
    let [uninstall, install] = completed_inits();
    pod("calico-system", &format!("cnw-{node}"))
        .on(node)
        .owned_by(ds)
        .revision("new")
        .init(uninstall)
        .init(install)
}

fn healthy(ds: &DaemonSet, node: &str) -> PodBuilder {
    agent(ds, node)
        .container(container("felix"))
        .container(container("node"))
}

/// Nine Windows nodes, each not done for a different reason, plus a done one, and three
/// nodes the DaemonSet must not count: a Linux node, a Fargate node, and (for the
/// no-tolerations variant) a tainted one.
fn stuck_snapshot() -> ClusterSnapshot {
    let ds = windows_ds();
    let nodes = [
        "done", "missing", "pending", "old", "init", "pull", "crash", "hpc", "notready", "gone",
    ]
    .map(|n| {
        let builder = node(n).windows().pool("npwin");
        if n == "hpc" {
            builder.containerd("1.5.18")
        } else {
            builder
        }
        .build()
    });
    let pods = stuck_pods(&ds);
    let crash = pods
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("cnw-crash"))
        .unwrap()
        .clone();
    let linux_ds = daemon_set("calico-system", "calico-node")
        .linux()
        .counts(1, 1, 1, 1, 1)
        .build();
    snapshot()
        .with_nodes(
            nodes.into_iter().chain([
                node("linux-0").pool("nplinux").build(),
                node("fargate-0")
                    .windows()
                    .pool("fargate")
                    .label("eks.amazonaws.com/compute-type", "fargate")
                    .build(),
            ]),
        )
        .with_daemon_sets([ds.clone(), linux_ds.clone()])
        .with_revisions([
            // Revision 10 is newer than 9 although "9" sorts after "10" as text.
            controller_revision(&ds, "old", 9),
            controller_revision(&ds, "new", 10),
            controller_revision(&linux_ds, "linux-newest", 42),
        ])
        .with_pods(
            pods.into_iter().chain([healthy(&linux_ds, "linux-0")
                .revision("linux-newest")
                .build()]),
        )
        .with_events([
            pod_event(
                &crash,
                "BackOff",
                "Back-off restarting failed container felix",
                6,
            ),
            pod_event(
                &crash,
                "Unhealthy",
                "Liveness probe failed: felix is not live",
                3,
            ),
            pod_event(&crash, "Started", "Started container felix", 1),
        ])
        .with_installation(installation().build())
        .build()
}

/// One agent pod per stuck reason (see [`stuck_snapshot`]).
fn stuck_pods(ds: &DaemonSet) -> Vec<Pod> {
    let ds = ds.clone();
    let pending_pod = pod("calico-system", "cnw-pending")
        .on("pending")
        .owned_by(&ds)
        .revision("new")
        .unschedulable("0/12 nodes are available: 1 Insufficient cpu.")
        .build();
    let crash = agent(&ds, "crash")
        .container(container("felix").crash_loop(137, "Error", "", 7))
        .container(container("node"))
        .build();
    vec![
        healthy(&ds, "done").build(),
        pending_pod,
        healthy(&ds, "old").revision("old").build(),
        pod("calico-system", "cnw-init")
            .on("init")
            .owned_by(&ds)
            .revision("new")
            .init(completed_inits()[0].clone())
            .init(container("install-cni"))
            .container(container("felix").waiting("PodInitializing", ""))
            .container(container("node").waiting("PodInitializing", ""))
            .build(),
        pod("calico-system", "cnw-pull")
            .on("pull")
            .owned_by(&ds)
            .revision("new")
            .init(
                container("uninstall-calico")
                    .image("registry.internal.example/calico/node-windows:v3.28.0")
                    .waiting(
                        "ErrImagePull",
                        "dial tcp: lookup registry.internal.example: no such host",
                    ),
            )
            .init(container("install-cni").waiting("PodInitializing", ""))
            .container(container("felix").waiting("PodInitializing", ""))
            .build(),
        crash.clone(),
        agent(&ds, "hpc")
            .container(container("felix").waiting(
                "CreateContainerError",
                "hostProcess containers are not supported by runtime",
            ))
            .container(container("node").waiting("CreateContainerError", ""))
            .build(),
        agent(&ds, "notready")
            .container(container("felix").not_ready())
            .container(container("node"))
            .build(),
        healthy(&ds, "gone").deleting(minutes_ago(12)).build(),
    ]
}

fn windows_rollout(snapshot: &ClusterSnapshot) -> Rollout {
    let pools = pools::pools(snapshot, &PoolRules::default());
    rollout::rollouts(snapshot, &pools)
        .into_iter()
        .find(|r| r.target == RolloutTarget::CalicoNodeWindows)
        .unwrap()
}

fn on<'a>(rollout: &'a Rollout, node: &str) -> &'a NodeRollout {
    rollout
        .nodes
        .iter()
        .find(|n| n.node == node)
        .unwrap_or_else(|| panic!("{node} not in {:?}", rollout.nodes))
}

#[test]
fn every_stuck_node_has_its_reason() {
    let snap = stuck_snapshot();
    let rollout = windows_rollout(&snap);
    assert_eq!(rollout.presence, Presence::Present);
    assert_eq!(rollout.current_revision.as_deref(), Some("new"));
    assert_eq!(rollout.strategy, "RollingUpdate");
    assert_eq!(rollout.severity, Severity::Error);
    // Ten Windows nodes in npwin; "done" is done; Linux and Fargate nodes are not counted.
    let listed: Vec<&str> = rollout.nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(listed.len(), 9, "{listed:?}");
    for excluded in ["done", "linux-0", "fargate-0"] {
        assert!(!listed.contains(&excluded), "{excluded}");
    }

    assert_eq!(on(&rollout, "missing").reason, StuckReason::NotScheduled);
    assert_eq!(on(&rollout, "missing").status, "<none>");
    assert_eq!(
        on(&rollout, "pending").reason,
        StuckReason::Unschedulable {
            message: "0/12 nodes are available: 1 Insufficient cpu.".to_string()
        }
    );
    let old = on(&rollout, "old");
    assert_eq!(
        old.reason,
        StuckReason::OldRevision {
            revision: Some("old".to_string())
        }
    );
    assert!(old.old_revision);
    assert_eq!(old.severity, Severity::Warning);
    assert_eq!(old.explanation, "ready on the old revision old");

    let init = on(&rollout, "init");
    assert_eq!(init.status, "Init:1/2");
    assert_eq!(
        init.reason,
        StuckReason::InitStage {
            stage: "Init:1/2".to_string(),
            container: "install-cni".to_string()
        }
    );
    // Fixture pods are created a day before the snapshot.
    assert_eq!(
        init.explanation,
        "Init:1/2: init container install-cni has not finished (24h since the pod was created)"
    );

    let pull = on(&rollout, "pull");
    assert_eq!(pull.status, "Init:ErrImagePull");
    assert!(matches!(
        &pull.reason,
        StuckReason::ImagePull { image, reason, .. }
            if image == "registry.internal.example/calico/node-windows:v3.28.0" && reason == "ErrImagePull"
    ));
    assert_eq!(
        pull.explanation,
        "ErrImagePull: cannot pull registry.internal.example/calico/node-windows:v3.28.0 (uninstall-calico): dial tcp: lookup registry.internal.example: no such host"
    );

    let crash = on(&rollout, "crash");
    assert_eq!(crash.status, "CrashLoopBackOff");
    assert!(matches!(
        crash.reason,
        StuckReason::CrashLoop {
            exit_code: Some(137),
            restarts: 7,
            ..
        }
    ));
    assert_eq!(
        crash.explanation,
        "felix crash-looping (7 restarts), last exit code 137 (Error): killed, liveness probe?"
    );
    // The newest relevant event (Unhealthy, 3 minutes ago), not the newer Normal "Started".
    let event = crash.event.as_ref().unwrap();
    assert_eq!(
        (event.reason.as_str(), event.age.as_str()),
        ("Unhealthy", "3m")
    );

    let hpc = on(&rollout, "hpc");
    assert_eq!(hpc.status, "CreateContainerError");
    assert_eq!(
        hpc.explanation,
        "felix waiting: CreateContainerError: hostProcess containers are not supported by runtime; node runs containerd://1.5.18: HostProcess containers need containerd 1.6 or later"
    );

    let not_ready = on(&rollout, "notready");
    assert_eq!(
        not_ready.reason,
        StuckReason::NotReady {
            containers: vec!["felix".to_string()]
        }
    );
    // The fixture's containers started running 20 minutes ago.
    assert_eq!(
        not_ready.explanation,
        "running but not ready for 20m: felix"
    );

    let gone = on(&rollout, "gone");
    assert_eq!(gone.reason, StuckReason::Terminating);
    assert_eq!(gone.explanation, "terminating for 12m");

    // Worst first: errors (not scheduled, pending, pull, crash, hpc) before warnings.
    let severities: Vec<Severity> = rollout.nodes.iter().map(|n| n.severity).collect();
    let mut sorted = severities.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(severities, sorted);
}

#[test]
fn stuck_rollout_per_pool_breakdown() {
    let snap = stuck_snapshot();
    let rollout = windows_rollout(&snap);
    // Per pool: npwin has ten eligible nodes; "missing" has no pod; the pending, old and
    // terminating pods plus the healthy one are ready or not as built.
    let npwin = rollout
        .pools
        .iter()
        .find(|p| p.pool.name == "npwin")
        .unwrap();
    assert_eq!((npwin.desired, npwin.scheduled), (10, 9));
    // Ready pods: done, old, gone (terminating but still ready) = 3.
    assert_eq!(npwin.ready, 3);
    // Updated: every pod but "old" = 8.
    assert_eq!(npwin.updated, 8);
    // Not done: all but "done" (and "gone", which is updated and ready) = 8.
    assert_eq!(npwin.not_done, 8);
    assert!(rollout.pools.iter().all(|p| p.pool.os == OsFamily::Windows));
}

#[test]
fn failed_pods_and_failed_containers() {
    let ds = windows_ds();
    let snap = snapshot()
        .with_nodes([node("a").windows().build(), node("b").windows().build()])
        .with_daemon_sets([ds.clone()])
        .with_revisions([controller_revision(&ds, "new", 1)])
        .with_pods([
            healthy(&ds, "a").phase("Failed").build(),
            agent(&ds, "b")
                .container(container("felix").terminated(2, "Error"))
                .build(),
        ])
        .build();
    let rollout = windows_rollout(&snap);
    assert!(matches!(
        on(&rollout, "a").reason,
        StuckReason::Failed { .. }
    ));
    assert_eq!(
        on(&rollout, "b").reason,
        StuckReason::ContainerFailed {
            container: "felix".to_string(),
            exit_code: 2,
            reason: Some("Error".to_string())
        }
    );
    assert_eq!(
        on(&rollout, "b").explanation,
        "felix exited with code 2 (Error)"
    );
}

#[test]
fn taints_exclude_nodes_unless_tolerated() {
    let tolerant = daemon_set("kube-system", "kube-proxy-windows")
        .windows()
        .build();
    let strict = daemon_set("kube-system", "kube-proxy-windows")
        .windows()
        .no_tolerations()
        .build();
    let tainted = node("t")
        .windows()
        .taint("dedicated", Some("gpu"), "NoSchedule")
        .build();
    let cordoned = node("c").windows().cordoned().build();
    let not_ready = node("n").windows().not_ready("cni").build();
    assert!(rollout::should_run(&tolerant, &tainted));
    assert!(!rollout::should_run(&strict, &tainted));
    // The controller tolerates unschedulable on every daemon pod, but not not-ready:NoSchedule.
    assert!(rollout::should_run(&strict, &cordoned));
    assert!(!rollout::should_run(&strict, &not_ready));
    assert!(!rollout::should_run(&tolerant, &node("l").build()));
}

#[test]
fn on_delete_is_reported_as_kubectl_does() {
    let ds = daemon_set("calico-system", "calico-node")
        .linux()
        .on_delete()
        .counts(1, 1, 1, 1, 1)
        .build();
    let snap = snapshot()
        .with_nodes([node("l").build()])
        .with_daemon_sets([ds])
        .build();
    let pools = pools::pools(&snap, &PoolRules::default());
    let rollout = &rollout::rollouts(&snap, &pools)[0];
    assert_eq!(rollout.strategy, "OnDelete");
    assert!(rollout.kubectl.error);
    assert_eq!(
        rollout.kubectl.message,
        "rollout status is only available for RollingUpdate strategy type"
    );
}

#[test]
fn absent_windows_daemon_set_says_why() {
    let windows_nodes = [node("w").windows().build()];
    let reason = |snap: &ClusterSnapshot| match windows_rollout(snap).presence {
        Presence::Absent { reason } | Presence::Unknown { reason } => reason,
        Presence::Present => panic!("present"),
    };
    let disabled = snapshot()
        .with_nodes(windows_nodes.clone())
        .with_installation(installation().windows_disabled().build())
        .build();
    assert_eq!(
        reason(&disabled),
        "Installation calicoNetwork.windowsDataplane is unset: the operator renders calico-node-windows only with HNS"
    );
    let degraded = snapshot()
        .with_nodes(windows_nodes.clone())
        .with_installation(installation().build())
        .with_tigera_statuses([tigera_status("calico-windows")
            .degraded(
                "ResourceReadError",
                "Waiting for IPAMConfiguration watch to be established",
            )
            .build()])
        .build();
    assert_eq!(
        reason(&degraded),
        "TigeraStatus calico-windows Degraded (ResourceReadError): Waiting for IPAMConfiguration watch to be established"
    );
    assert_eq!(windows_rollout(&degraded).severity, Severity::Error);
    let unreconciled = snapshot()
        .with_nodes(windows_nodes.clone())
        .with_installation(installation().unreconciled().build())
        .build();
    assert_eq!(
        reason(&unreconciled),
        "the operator has not reconciled the Installation yet (status empty)"
    );
    let forbidden = snapshot()
        .with_nodes(windows_nodes)
        .feed(
            Kind::DaemonSets,
            FeedState::Forbidden {
                verb: "list".to_string(),
                resource: "daemonsets".to_string(),
            },
        )
        .build();
    assert!(matches!(
        windows_rollout(&forbidden).presence,
        Presence::Unknown { .. }
    ));
    assert_eq!(
        reason(&forbidden),
        "cannot tell: forbidden to list daemonsets"
    );
}

#[test]
fn tigera_statuses_read_like_kubectl_get_tigerastatus() {
    let snap = snapshot()
        .with_tigera_statuses([
            tigera_status("whisker").build(),
            tigera_status("ippools").build(),
            tigera_status("calico-windows")
                .degraded("InvalidConfigurationError", "IPv4 IPPool encapsulation VXLANCrossSubnet is not supported by Calico for Windows")
                .build(),
            tigera_status("calico").build(),
        ])
        .build();
    let rows = rollout::tigera_statuses(&snap);
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["calico", "calico-windows", "ippools", "whisker"]);
    assert_eq!(
        (
            rows[0].available.as_str(),
            rows[0].progressing.as_str(),
            rows[0].degraded.as_str()
        ),
        ("True", "False", "False")
    );
    assert_eq!(rows[0].since, "5m");
    assert_eq!(rows[0].message, "All Objects Available");
    assert_eq!(rows[1].severity, Severity::Error);
    assert!(rows[1].message.contains("VXLANCrossSubnet"));
}
