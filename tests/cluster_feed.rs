//! The snapshot feed against the simulator through the real client: complete snapshots of the
//! `healthy` and `fresh` scenarios with the right Calico API mode, a change made through the
//! writer showing up in a later snapshot, and a server that goes away turning into
//! `Reconnecting` with the last data kept.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Options, TestCluster};
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::api::{Api, Patch, PatchParams, PostParams};
use pooltop::cluster::{
    AuditLog, ConnectOptions, FeedConfig, FeedHandle, KubeWriter, connect, spawn_feed,
    spawn_feed_with,
};
use pooltop::model::{CalicoApiMode, ClusterSnapshot, FeedState, Kind};
use pooltop::ops::{ClusterWriter, ObjectRef, Write};
use pooltop::sim::controllers::Controllers;
use pooltop::sim::scenario::Scenario;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(60);

async fn feed_for(cluster: &TestCluster, config: FeedConfig) -> (FeedHandle, KubeWriter) {
    let options = ConnectOptions {
        kubeconfig: Some(cluster.kubeconfig.clone()),
        ..ConnectOptions::default()
    };
    let connection = connect(&options).await.unwrap();
    let writer = KubeWriter::new(&connection, AuditLog::disabled());
    (
        spawn_feed_with(&connection, config, CancellationToken::new()),
        writer,
    )
}

/// The first published snapshot that satisfies `check`, failing the test after `LIMIT`.
async fn until(
    feed: &FeedHandle,
    what: &str,
    check: impl FnMut(&Arc<ClusterSnapshot>) -> bool,
) -> Arc<ClusterSnapshot> {
    let mut rx = feed.rx.clone();
    let snapshot = tokio::time::timeout(LIMIT, rx.wait_for(check))
        .await
        .unwrap_or_else(|_| {
            let last = feed.rx.borrow().clone();
            panic!(
                "timed out waiting for {what}; last revision {} feeds {:?}",
                last.revision, last.feeds
            )
        })
        .expect("feed running");
    Arc::clone(&snapshot)
}

#[tokio::test]
async fn healthy_reaches_a_complete_snapshot_follows_changes_and_survives_the_server() {
    let cluster = common::start(Options {
        scenario: Scenario::Healthy,
        ..Options::default()
    })
    .await;
    let (feed, writer) = feed_for(&cluster, FeedConfig::default()).await;
    let snapshot = until(&feed, "a complete snapshot", |s| {
        s.is_complete() && s.calico_api != CalicoApiMode::Unknown && !s.ipam_blocks.is_empty()
    })
    .await;

    assert_eq!(snapshot.calico_api, CalicoApiMode::V1WithAggregatedV3);
    assert_eq!(snapshot.source.context, "pooltop-sim");
    for kind in Kind::ALL {
        assert_eq!(snapshot.feed(kind).state, FeedState::Live, "{kind:?}");
        assert!(snapshot.feed(kind).last_event.is_some(), "{kind:?}");
    }
    // Nodes of both OS, sorted by name.
    assert!(snapshot.nodes.len() >= 6);
    let names: Vec<_> = snapshot
        .nodes
        .iter()
        .map(|n| n.metadata.name.clone().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // Pods: Calico's kept whole, workloads slimmed, none with managed fields.
    let calico_node = snapshot
        .pods
        .iter()
        .find(|p| p.metadata.namespace.as_deref() == Some("calico-system"))
        .expect("calico pods");
    assert!(
        calico_node.spec.as_ref().unwrap().containers[0]
            .image
            .is_some()
    );
    let web = snapshot
        .pods
        .iter()
        .find(|p| p.metadata.namespace.as_deref() == Some("default"))
        .expect("workload pods");
    assert!(web.spec.as_ref().unwrap().containers[0].image.is_none());
    assert!(web.spec.as_ref().unwrap().node_name.is_some());
    assert!(
        snapshot
            .pods
            .iter()
            .all(|p| p.metadata.managed_fields.is_none())
    );
    // Calico's DaemonSets and their revisions.
    let ds_names: Vec<_> = snapshot
        .daemon_sets
        .iter()
        .map(|d| d.metadata.name.clone().unwrap())
        .collect();
    assert!(ds_names.contains(&"calico-node".to_owned()), "{ds_names:?}");
    assert!(
        ds_names.contains(&"calico-node-windows".to_owned()),
        "{ds_names:?}"
    );
    assert!(!snapshot.controller_revisions.is_empty());
    // Operator objects and the singletons.
    assert!(snapshot.installation.is_some());
    assert!(snapshot.api_server.is_some());
    assert!(!snapshot.tigera_statuses.is_empty());
    assert!(snapshot.services_endpoint.is_some());
    assert!(snapshot.kube_dns.is_some());
    assert!(snapshot.kubernetes_service.is_some());
    // IPAM from the v1 storage.
    assert!(!snapshot.ip_pools.is_empty());
    assert!(!snapshot.block_affinities.is_empty());
    assert!(!snapshot.ipam_handles.is_empty());
    let ipam = snapshot.ipam_config.as_ref().expect("IPAM config");
    assert_eq!(ipam.api_version, "crd.projectcalico.org/v1");
    assert!(ipam.spec.strict_affinity);

    // A change made through the writer appears in a later snapshot; quiet kinds are shared.
    let node = names[0].clone();
    let cordon = Write::StrategicPatch {
        target: ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "Node".into(),
            plural: "nodes".into(),
            namespace: None,
            name: node.clone(),
        },
        patch: json!({"spec": {"unschedulable": true}}),
    };
    writer.write(&cordon, false).await.unwrap();
    let later = until(&feed, "the cordoned node", |s| {
        s.nodes.iter().any(|n| {
            n.metadata.name.as_deref() == Some(node.as_str())
                && n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true)
        })
    })
    .await;
    assert!(later.revision > snapshot.revision);

    // The server goes away: the feeds say so, and the data stays as last seen.
    let nodes_before = later.nodes.len();
    cluster.stop().await;
    let broken = until(&feed, "a reconnecting feed", |s| {
        matches!(s.feed(Kind::Nodes).state, FeedState::Reconnecting { .. })
    })
    .await;
    assert_eq!(broken.nodes.len(), nodes_before);
    let FeedState::Reconnecting { error, .. } = broken.feed(Kind::Nodes).state else {
        unreachable!()
    };
    assert!(!error.contains('\n'));
    feed.stop();
}

#[tokio::test]
async fn fresh_is_v1_crds_with_the_operator_present() {
    let cluster = common::start(Options::default()).await;
    let (feed, _) = feed_for(&cluster, FeedConfig::default()).await;
    let snapshot = until(&feed, "a complete snapshot", |s| {
        s.is_complete() && s.calico_api != CalicoApiMode::Unknown
    })
    .await;
    assert_eq!(snapshot.calico_api, CalicoApiMode::V1Crds);
    for kind in [
        Kind::Installations,
        Kind::ApiServers,
        Kind::TigeraStatuses,
        Kind::IpPools,
        Kind::IpamBlocks,
        Kind::IpamConfigs,
    ] {
        assert_eq!(snapshot.feed(kind).state, FeedState::Live, "{kind:?}");
    }
    assert!(snapshot.installation.is_none());
    assert!(snapshot.ipam_blocks.is_empty());
    assert!(!snapshot.nodes.is_empty());
    // The operator's pod runs; the workloads wait for a CNI.
    assert!(
        snapshot
            .pods
            .iter()
            .any(|p| p.metadata.namespace.as_deref() == Some("tigera-operator"))
    );
    feed.stop();
    cluster.stop().await;
}

/// Credentials that may read nodes and pods but not Calico IPAM or the operator's status: those
/// kinds say exactly which verb and resource are missing, the rest is live, and the findings
/// that need the forbidden data say they cannot check instead of reporting absence.
#[tokio::test]
async fn forbidden_kinds_name_the_missing_permission_and_findings_cannot_check() {
    let cluster = common::start(Options::default()).await;
    let connection = connect(&ConnectOptions {
        kubeconfig: Some(cluster.kubeconfig.clone()),
        context: Some(pooltop::sim::kubeconfig::RESTRICTED_CONTEXT.to_string()),
        ..ConnectOptions::default()
    })
    .await
    .unwrap();
    let feed = spawn_feed(&connection, CancellationToken::new());
    let snapshot = until(&feed, "a complete snapshot", |s| {
        s.is_complete() && s.calico_api != CalicoApiMode::Unknown
    })
    .await;
    assert_eq!(snapshot.calico_api, CalicoApiMode::V1Crds);
    for (kind, resource) in [
        (Kind::IpamBlocks, "ipamblocks.crd.projectcalico.org"),
        (
            Kind::BlockAffinities,
            "blockaffinities.crd.projectcalico.org",
        ),
        (Kind::IpamHandles, "ipamhandles.crd.projectcalico.org"),
        (Kind::IpamConfigs, "ipamconfigs.crd.projectcalico.org"),
        (Kind::TigeraStatuses, "tigerastatuses.operator.tigera.io"),
    ] {
        assert_eq!(
            snapshot.feed(kind).state,
            FeedState::Forbidden {
                verb: "list".into(),
                resource: resource.into()
            },
            "{kind:?}"
        );
    }
    for kind in [Kind::Nodes, Kind::Pods, Kind::Installations, Kind::IpPools] {
        assert_eq!(snapshot.feed(kind).state, FeedState::Live, "{kind:?}");
    }
    let pools =
        pooltop::model::pools::pools(&snapshot, &pooltop::model::pools::PoolRules::default());
    let findings = pooltop::model::findings::findings(&snapshot, &pools);
    let cannot: Vec<&str> = findings
        .iter()
        .filter(|f| f.message.starts_with("cannot check"))
        .map(|f| f.message.as_str())
        .collect();
    assert!(
        cannot
            .iter()
            .any(|m| m.contains("forbidden to list ipamconfigs.crd.projectcalico.org")),
        "{cannot:#?}"
    );
    // Nothing claims the IPAM configuration is missing: it is unknown.
    assert!(
        !findings
            .iter()
            .any(|f| f.message.contains("strictAffinity is off")),
        "{findings:#?}"
    );
    feed.stop();
    cluster.stop().await;
}

#[tokio::test]
async fn a_kind_whose_resource_disappears_is_not_installed() {
    // Removing the operator's Installation CRD takes the resource away while watched.
    let cluster = common::start(Options::api_only()).await;
    let config = FeedConfig {
        discovery_interval: Duration::from_millis(500),
        ..FeedConfig::default()
    };
    let (feed, writer) = feed_for(&cluster, config).await;
    until(&feed, "live installations", |s| {
        s.feed(Kind::Installations).state == FeedState::Live
    })
    .await;
    let crd = ObjectRef {
        group: "apiextensions.k8s.io".into(),
        version: "v1".into(),
        kind: "CustomResourceDefinition".into(),
        plural: "customresourcedefinitions".into(),
        namespace: None,
        name: "installations.operator.tigera.io".into(),
    };
    writer
        .write(
            &Write::Delete {
                target: crd,
                grace_period_seconds: None,
            },
            false,
        )
        .await
        .unwrap();
    until(&feed, "installations not installed", |s| {
        s.feed(Kind::Installations).state == FeedState::NotInstalled
    })
    .await;
    feed.stop();
    cluster.stop().await;
}

#[tokio::test]
async fn the_calico_mode_follows_the_aggregated_api_while_running() {
    let cluster = common::start(Options::api_only()).await;
    let config = FeedConfig {
        discovery_interval: Duration::from_millis(300),
        ..FeedConfig::default()
    };
    let (feed, _) = feed_for(&cluster, config).await;
    until(&feed, "v1 CRDs", |s| {
        s.calico_api == CalicoApiMode::V1Crds && s.feed(Kind::IpamConfigs).state == FeedState::Live
    })
    .await;

    // What the aggregator does once the Calico API server runs: the APIService turns Available.
    let services: Api<APIService> = Api::all(cluster.client().await);
    let service: APIService = serde_json::from_value(json!({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": "v3.projectcalico.org"},
        "spec": {"group": "projectcalico.org", "version": "v3", "groupPriorityMinimum": 1500,
                 "versionPriority": 200, "service": {"name": "calico-api", "namespace": "calico-apiserver", "port": 443}},
    }))
    .unwrap();
    services
        .create(&PostParams::default(), &service)
        .await
        .unwrap();
    let available = |status: &str| {
        json!({"status": {"conditions": [{"type": "Available", "status": status, "reason": "Test",
               "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})
    };
    services
        .patch_status(
            "v3.projectcalico.org",
            &PatchParams::default(),
            &Patch::Merge(available("True")),
        )
        .await
        .unwrap();
    until(&feed, "the aggregated v3 API", |s| {
        s.calico_api == CalicoApiMode::V1WithAggregatedV3
    })
    .await;

    services
        .patch_status(
            "v3.projectcalico.org",
            &PatchParams::default(),
            &Patch::Merge(available("False")),
        )
        .await
        .unwrap();
    let back = until(&feed, "v1 CRDs again", |s| {
        s.calico_api == CalicoApiMode::V1Crds
    })
    .await;
    // IPAM is read from the v1 storage in both modes: the watches kept running.
    assert_eq!(back.feed(Kind::IpamConfigs).state, FeedState::Live);
    feed.stop();
    cluster.stop().await;
}

#[tokio::test]
async fn a_feed_that_lost_its_server_is_live_again_when_the_server_returns() {
    let cluster = common::start(Options::api_only()).await;
    let addr = cluster.handle.addr;
    // Anonymous over plain HTTP (the simulator's admin): the next server has other tokens.
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("anonymous.yaml");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: anon\nclusters:\n- name: c\n  cluster: {{server: '{}'}}\ncontexts:\n- name: anon\n  context: {{cluster: c}}\n",
            cluster.handle.url
        ),
    )
    .unwrap();
    let options = ConnectOptions {
        kubeconfig: Some(kubeconfig),
        ..ConnectOptions::default()
    };
    let connection = connect(&options).await.unwrap();
    let feed = spawn_feed(&connection, CancellationToken::new());
    until(&feed, "a complete snapshot", |s| s.is_complete()).await;
    cluster.stop().await;
    until(&feed, "quiet kinds reconnecting", |s| {
        matches!(
            s.feed(Kind::Installations).state,
            FeedState::Reconnecting { .. }
        )
    })
    .await;
    // A server on the same address again.
    let again = pooltop::sim::start(pooltop::sim::SimConfig {
        listen: addr,
        controllers: Controllers::TerminationsOnly,
        ..pooltop::sim::SimConfig::default()
    })
    .await
    .unwrap();
    // Installations never change here: only a fresh list can say the kind is back.
    until(&feed, "every kind live again", |s| {
        Kind::ALL
            .iter()
            .all(|k| s.feed(*k).state == FeedState::Live)
    })
    .await;
    feed.stop();
    again.stop().await;
}

/// A snapshot after one node changed shares every other kind with the one before: the pods
/// (the bulk of a large cluster) are not rebuilt. Nothing but the test writes here.
#[tokio::test]
async fn a_node_change_rebuilds_only_the_nodes() {
    let cluster = common::start(Options {
        controllers: Controllers::None,
        ..Options::default()
    })
    .await;
    let (feed, writer) = feed_for(&cluster, FeedConfig::default()).await;
    let before = until(&feed, "a complete snapshot", |s| {
        s.is_complete() && !s.pods.is_empty()
    })
    .await;
    let name = before.nodes[0].metadata.name.clone().unwrap();
    let label = Write::MergePatch {
        target: ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "Node".into(),
            plural: "nodes".into(),
            namespace: None,
            name: name.clone(),
        },
        patch: json!({"metadata": {"labels": {"pooltop.test/round": "1"}}}),
    };
    writer.write(&label, false).await.unwrap();
    let after = until(&feed, "the labelled node", |s| {
        s.nodes.iter().any(|n| {
            n.metadata.name.as_deref() == Some(name.as_str())
                && n.metadata
                    .labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key("pooltop.test/round"))
        })
    })
    .await;
    assert!(after.revision > before.revision);
    assert!(!Arc::ptr_eq(&after.nodes, &before.nodes));
    assert!(Arc::ptr_eq(&after.pods, &before.pods));
    assert!(Arc::ptr_eq(&after.daemon_sets, &before.daemon_sets));
    assert!(Arc::ptr_eq(&after.ipam_blocks, &before.ipam_blocks));
    feed.stop();
    cluster.stop().await;
}
