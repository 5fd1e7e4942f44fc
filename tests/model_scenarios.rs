//! The model against the simulator's real scenarios: a test-only loader lists every kind with
//! kube-rs into a `ClusterSnapshot` (the real feed is the `cluster` module's), then pools,
//! rollout attribution and findings are asserted on what the controllers produced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod, Service};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde::de::DeserializeOwned;

use common::{Options, start};
use pooltop::model::findings::{self, Severity};
use pooltop::model::pools::{self, OsFamily, PoolRules};
use pooltop::model::rollout::{self, Presence, RolloutTarget, StuckReason};
use pooltop::model::snapshot::{CalicoApiMode, ClusterSnapshot, Feed, FeedState, Kind};
use pooltop::sim::scenario::Scenario;

/// Bounds every test here: listing a converged scenario takes well under a second.
const LIMIT: Duration = Duration::from_secs(120);

async fn list<K>(api: Api<K>) -> Vec<K>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    api.list(&ListParams::default()).await.unwrap().items
}

async fn list_custom<T: DeserializeOwned>(
    client: &Client,
    (group, version, kind, plural): (&str, &str, &str, &str),
) -> Vec<T> {
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    list(api)
        .await
        .into_iter()
        .map(|object| {
            let mut value = serde_json::to_value(object).unwrap();
            value["apiVersion"] = format!("{group}/{version}").into();
            serde_json::from_value(value).unwrap()
        })
        .collect()
}

fn shared<T>(items: Vec<T>) -> Arc<Vec<Arc<T>>> {
    Arc::new(items.into_iter().map(Arc::new).collect())
}

/// Lists what the console watches into one snapshot, every feed live.
async fn load(client: &Client) -> ClusterSnapshot {
    let namespaced_daemon_sets = |ns: &str| Api::<DaemonSet>::namespaced(client.clone(), ns);
    let mut daemon_sets = list(namespaced_daemon_sets("calico-system")).await;
    daemon_sets.extend(
        list(namespaced_daemon_sets("kube-system"))
            .await
            .into_iter()
            .filter(|d| d.metadata.name.as_deref() == Some("kube-proxy-windows")),
    );
    let mut revisions = list(Api::<ControllerRevision>::namespaced(
        client.clone(),
        "calico-system",
    ))
    .await;
    revisions.extend(
        list(Api::<ControllerRevision>::namespaced(
            client.clone(),
            "kube-system",
        ))
        .await,
    );
    let config_maps = Api::<ConfigMap>::namespaced(client.clone(), "tigera-operator");
    let services = |ns: &str| Api::<Service>::namespaced(client.clone(), ns);
    let operator = |kind, plural| ("operator.tigera.io", "v1", kind, plural);
    let calico = |kind, plural| ("crd.projectcalico.org", "v1", kind, plural);
    let installations: Vec<pooltop::model::operator::Installation> =
        list_custom(client, operator("Installation", "installations")).await;
    let api_servers: Vec<pooltop::model::operator::ApiServer> =
        list_custom(client, operator("APIServer", "apiservers")).await;
    let ipam_configs: Vec<pooltop::model::calico::IpamConfig> =
        list_custom(client, calico("IPAMConfig", "ipamconfigs")).await;
    let feeds: BTreeMap<Kind, Feed> = Kind::ALL
        .iter()
        .map(|kind| {
            (
                *kind,
                Feed {
                    state: FeedState::Live,
                    last_event: None,
                },
            )
        })
        .collect();
    let events = list(Api::<Event>::all(client.clone())).await;
    // The simulator's clock runs ahead while a scenario converges at 300x: take the snapshot
    // at the newest event it wrote, so ages read as the cluster sees them.
    let taken_at = events
        .iter()
        .filter_map(pooltop::model::printers::event_time)
        .max()
        .unwrap_or_else(jiff::Timestamp::now)
        .max(jiff::Timestamp::now());
    ClusterSnapshot {
        revision: 1,
        taken_at,
        calico_api: CalicoApiMode::V1WithAggregatedV3,
        feeds,
        nodes: shared(list(Api::<Node>::all(client.clone())).await),
        pods: shared(list(Api::<Pod>::all(client.clone())).await),
        daemon_sets: shared(daemon_sets),
        controller_revisions: shared(revisions),
        events: shared(events),
        installation: installations
            .into_iter()
            .find(|i| i.metadata.name.as_deref() == Some("default"))
            .map(Arc::new),
        api_server: api_servers.into_iter().next().map(Arc::new),
        tigera_statuses: shared(
            list_custom(client, operator("TigeraStatus", "tigerastatuses")).await,
        ),
        services_endpoint: config_maps
            .get_opt("kubernetes-services-endpoint")
            .await
            .unwrap()
            .map(Arc::new),
        kube_dns: services("kube-system")
            .get_opt("kube-dns")
            .await
            .unwrap()
            .map(Arc::new),
        kubernetes_service: services("default")
            .get_opt("kubernetes")
            .await
            .unwrap()
            .map(Arc::new),
        ip_pools: shared(list_custom(client, calico("IPPool", "ippools")).await),
        ipam_blocks: shared(list_custom(client, calico("IPAMBlock", "ipamblocks")).await),
        block_affinities: shared(
            list_custom(client, calico("BlockAffinity", "blockaffinities")).await,
        ),
        ipam_handles: shared(list_custom(client, calico("IPAMHandle", "ipamhandles")).await),
        ipam_config: ipam_configs.into_iter().next().map(Arc::new),
        ..ClusterSnapshot::default()
    }
}

async fn scenario_snapshot(scenario: Scenario) -> ClusterSnapshot {
    let cluster = start(Options {
        scenario,
        ..Options::default()
    })
    .await;
    let client = cluster.client().await;
    let snapshot = load(&client).await;
    cluster.stop().await;
    snapshot
}

#[tokio::test]
async fn healthy_scenario_is_rolled_out_with_nothing_wrong() {
    let snapshot = tokio::time::timeout(LIMIT, scenario_snapshot(Scenario::Healthy))
        .await
        .expect("healthy scenario loads in time");
    let pools = pools::pools(&snapshot, &PoolRules::default());
    let names: Vec<(String, OsFamily)> = pools
        .iter()
        .map(|p| (p.key.name.clone(), p.key.os))
        .collect();
    for expected in [
        ("system".to_string(), OsFamily::Linux),
        ("nplinux".to_string(), OsFamily::Linux),
        ("npwin".to_string(), OsFamily::Windows),
    ] {
        assert!(names.contains(&expected), "{expected:?} in {names:?}");
    }
    for pool in &pools {
        assert_eq!(
            pool.severity,
            Severity::Ok,
            "{}: {:?}",
            pool.key,
            pool.problems
        );
        assert_eq!(pool.not_ready, 0, "{}", pool.key);
    }
    let windows = pools.iter().find(|p| p.key.name == "npwin").unwrap();
    let n = windows.node_count();
    assert_eq!(
        windows.calico.text,
        format!("calico-node-windows {n}/{n} ready")
    );
    assert_eq!(windows.windows_build, "2022 (10.0.20348.2966)");

    let rollouts = rollout::rollouts(&snapshot, &pools);
    for target in [RolloutTarget::CalicoNode, RolloutTarget::CalicoNodeWindows] {
        let rollout = rollouts.iter().find(|r| r.target == target).unwrap();
        assert_eq!(rollout.presence, Presence::Present);
        assert!(
            rollout.kubectl.done,
            "{target}: {}",
            rollout.kubectl.message
        );
        assert_eq!(
            rollout.kubectl.message,
            format!("daemon set \"{}\" successfully rolled out", target.name())
        );
        assert!(
            rollout.operator.healthy,
            "{target}: {}",
            rollout.operator.message
        );
        assert!(rollout.nodes.is_empty(), "{target}: {:?}", rollout.nodes);
        assert!(rollout.current_revision.is_some());
    }

    let found = findings::findings(&snapshot, &pools);
    let serious: Vec<String> = found
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| format!("{} {}: {}", f.id, f.subject, f.message))
        .collect();
    assert!(serious.is_empty(), "{serious:#?}");
}

#[tokio::test]
async fn fresh_scenario_reads_as_not_installed_yet() {
    let snapshot = tokio::time::timeout(LIMIT, scenario_snapshot(Scenario::Fresh))
        .await
        .expect("fresh scenario loads in time");
    let pools = pools::pools(&snapshot, &PoolRules::default());
    // Every node waits for a CNI: every pool is NotReady, and no agent is wanted yet.
    for pool in &pools {
        assert_eq!(pool.ready, 0, "{}", pool.key);
        assert_eq!(pool.severity, Severity::Error, "{}", pool.key);
        assert!(!pool.calico.wanted, "{}", pool.key);
    }
    for rollout in rollout::rollouts(&snapshot, &pools) {
        match &rollout.presence {
            Presence::Absent { reason } if rollout.target != RolloutTarget::KubeProxyWindows => {
                assert_eq!(
                    reason,
                    "no Installation: the Tigera operator has nothing to render"
                );
            }
            Presence::Absent { .. } => {}
            other => panic!("{}: {other:?}", rollout.target),
        }
    }
    // What the Windows install still needs, before there is an Installation.
    let ids: Vec<&str> = findings::findings(&snapshot, &pools)
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.id)
        .collect();
    for expected in ["windows.strict-affinity", "windows.services-endpoint"] {
        assert!(ids.contains(&expected), "{expected} in {ids:?}");
    }
}

#[tokio::test]
async fn stuck_rollout_is_attributed_node_by_node() {
    let snapshot = tokio::time::timeout(LIMIT, scenario_snapshot(Scenario::StuckRollout))
        .await
        .expect("stuck-rollout scenario loads in time");
    let pools = pools::pools(&snapshot, &PoolRules::default());
    let rollouts = rollout::rollouts(&snapshot, &pools);

    let linux = rollouts
        .iter()
        .find(|r| r.target == RolloutTarget::CalicoNode)
        .unwrap();
    assert!(linux.kubectl.done, "{}", linux.kubectl.message);

    let windows = rollouts
        .iter()
        .find(|r| r.target == RolloutTarget::CalicoNodeWindows)
        .unwrap();
    let c = windows.counters;
    assert!(!windows.kubectl.done);
    // Five Windows nodes, a pod on each; how many the controller updated before the three
    // broken ones stopped it depends on timing, so the messages are checked against the counters.
    assert_eq!((c.desired, c.current), (5, 5));
    assert!(c.updated < c.desired && c.available < c.desired, "{c:?}");
    assert_eq!(
        windows.kubectl.message,
        format!(
            "Waiting for daemon set \"calico-node-windows\" rollout to finish: {} out of 5 new pods have been updated...",
            c.updated
        )
    );
    assert!(!windows.operator.healthy);
    assert_eq!(
        windows.operator.message,
        format!(
            "DaemonSet \"calico-system/calico-node-windows\" update is rolling out ({} out of 5 updated)",
            c.updated
        )
    );
    assert_eq!(windows.severity, Severity::Error);

    let old = assert_windows_nodes(windows);
    // Every Windows node is accounted for: done, or stuck with a reason.
    let npwin = windows
        .pools
        .iter()
        .find(|p| p.pool.name == "npwin")
        .unwrap();
    assert_eq!(npwin.desired, 4);
    assert_eq!(npwin.not_done, 2 + u32::try_from(old.len()).unwrap());

    let late_pool = pools.iter().find(|p| p.key.name == "npwin2").unwrap();
    assert_eq!(late_pool.severity, Severity::Error);
    assert_eq!(
        late_pool.runtime.values,
        vec!["containerd://1.5.18".to_string()]
    );

    let found = findings::findings(&snapshot, &pools);
    let ids_for = |node: &str| -> Vec<&str> {
        found
            .iter()
            .filter(|f| f.subject == findings::Subject::Node(node.to_string()))
            .map(|f| f.id)
            .collect()
    };
    let late_ids = ids_for("aks-npwin2-00000000");
    assert!(late_ids.contains(&"windows.containerd"), "{late_ids:?}");
    assert!(late_ids.contains(&"node.calico-down"), "{late_ids:?}");
}

/// The per-node attribution of the stuck Windows rollout; returns the old-revision nodes.
fn assert_windows_nodes(windows: &rollout::Rollout) -> Vec<&str> {
    let c = windows.counters;
    let by_node: BTreeMap<&str, &rollout::NodeRollout> =
        windows.nodes.iter().map(|n| (n.node.as_str(), n)).collect();
    let image_pull = by_node["aks-npwin-00000000"];
    assert_eq!(image_pull.status, "Init:ImagePullBackOff");
    match &image_pull.reason {
        StuckReason::ImagePull {
            image, container, ..
        } => {
            assert_eq!(
                image,
                "registry.internal.example/calico/node-windows:v3.27.3"
            );
            assert_eq!(container, "uninstall-calico");
        }
        other => panic!("npwin-0: {other:?}"),
    }
    assert!(
        image_pull.explanation.contains("no such host"),
        "{}",
        image_pull.explanation
    );

    let crash = by_node["aks-npwin-00000001"];
    assert_eq!(crash.status, "CrashLoopBackOff");
    match &crash.reason {
        StuckReason::CrashLoop {
            container,
            exit_code,
            ..
        } => {
            assert_eq!((container.as_str(), *exit_code), ("felix", Some(1)));
        }
        other => panic!("npwin-1: {other:?}"),
    }
    assert!(crash.explanation.contains("Typha"), "{}", crash.explanation);

    let late = by_node["aks-npwin2-00000000"];
    assert_eq!(late.status, "Init:CreateContainerError");
    match &late.reason {
        StuckReason::Waiting {
            reason, message, ..
        } => {
            assert_eq!(reason, "CreateContainerError");
            assert!(message.contains("hostProcess"), "{message}");
        }
        other => panic!("npwin2-0: {other:?}"),
    }
    assert!(
        late.explanation.contains("containerd://1.5.18")
            && late
                .explanation
                .contains("HostProcess containers need containerd 1.6"),
        "{}",
        late.explanation
    );

    let old: Vec<&str> = windows
        .nodes
        .iter()
        .filter(|n| matches!(n.reason, StuckReason::OldRevision { .. }))
        .map(|n| n.node.as_str())
        .collect();
    assert!(!old.is_empty(), "some nodes stay on the old revision");
    assert_eq!(
        old.len(),
        usize::try_from(c.desired - c.updated).unwrap(),
        "{old:?}"
    );
    for node in &old {
        assert!(by_node[node].old_revision);
        assert_eq!(by_node[node].status, "Running");
    }
    old
}
