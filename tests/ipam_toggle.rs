//! The strictAffinity toggle through the real `kube::Client` and the real `KubeWriter` against
//! the simulator, in all three Calico API modes (`DOMAIN.md` §0.2): mode B is the `healthy`
//! scenario (aggregated v3 API), mode A a fresh cluster with only the v1 CRDs, mode C a fresh
//! cluster whose v1 CRDs the test swaps for native `projectcalico.org` v3 CRDs. Covers create
//! when `default` is missing, patch, the Windows refusal and its override, a server-side dry
//! run that persists nothing, a conflict (the object changed between plan and run) and a
//! vanished object. Also runs the `pooltop ipam` report on the healthy scenario's real IPAM.
//!
//! The snapshot is read here with plain list calls: the console's snapshot feed is built in
//! `cluster` separately, and what this test needs is only "a complete snapshot of these kinds".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use kube::core::GroupVersionKind;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use common::{Options, TestCluster, eventually, start};
use pooltop::cluster::audit::AuditLog;
use pooltop::cluster::connect::Connection;
use pooltop::cluster::writer::KubeWriter;
use pooltop::model::calico::IpamConfig;
use pooltop::model::{CalicoApiMode, ClusterSnapshot, Feed, FeedState, Kind, Source, SourceKind};
use pooltop::ops::ClusterWriter;
use pooltop::ops::strict_affinity::{
    PlanRefusal, StrictAffinityInput, StrictAffinityOutcome, plan, run,
};
use pooltop::report::{IpamReportOptions, render_ipam_report};
use pooltop::sim::kubeconfig::ADMIN_CONTEXT;
use pooltop::sim::scenario::Scenario;

/// Every test here finishes well within this, or fails.
const LIMIT: Duration = Duration::from_secs(180);

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn v1(kind: &str, plural: &str) -> ApiResource {
    resource("crd.projectcalico.org", "v1", kind, plural)
}

fn v3(kind: &str, plural: &str) -> ApiResource {
    resource("projectcalico.org", "v3", kind, plural)
}

fn config_resource(mode: CalicoApiMode) -> ApiResource {
    match mode {
        CalicoApiMode::V1Crds => v1("IPAMConfig", "ipamconfigs"),
        _ => v3("IPAMConfiguration", "ipamconfigurations"),
    }
}

async fn list_as<T: DeserializeOwned>(
    client: &kube::Client,
    resource: &ApiResource,
) -> Arc<Vec<Arc<T>>> {
    let api = Api::<DynamicObject>::all_with(client.clone(), resource);
    let list = api.list(&ListParams::default()).await.unwrap();
    let mut items: Vec<Arc<T>> = Vec::new();
    for item in list.items {
        items.push(Arc::new(
            serde_json::from_value(serde_json::to_value(item).unwrap()).unwrap(),
        ));
    }
    Arc::new(items)
}

/// A complete snapshot of what the IPAM model and the plan read, as the feed would build it.
async fn snapshot(
    cluster: &TestCluster,
    client: &kube::Client,
    mode: CalicoApiMode,
) -> ClusterSnapshot {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    let pods = Api::<Pod>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    let storage = |kind: &str, plural: &str| match mode {
        CalicoApiMode::NativeV3 => v3(kind, plural),
        _ => v1(kind, plural),
    };
    let config_api = Api::<DynamicObject>::all_with(client.clone(), &config_resource(mode));
    let ipam_config = config_api.get_opt("default").await.unwrap().map(|object| {
        Arc::new(
            serde_json::from_value::<IpamConfig>(serde_json::to_value(object).unwrap()).unwrap(),
        )
    });
    let mut snapshot = ClusterSnapshot {
        revision: 1,
        source: source(cluster),
        calico_api: mode,
        nodes: Arc::new(nodes.items.into_iter().map(Arc::new).collect()),
        pods: Arc::new(pods.items.into_iter().map(Arc::new).collect()),
        ip_pools: list_as(client, &storage("IPPool", "ippools")).await,
        ipam_blocks: list_as(client, &storage("IPAMBlock", "ipamblocks")).await,
        block_affinities: list_as(client, &storage("BlockAffinity", "blockaffinities")).await,
        ipam_handles: list_as(client, &storage("IPAMHandle", "ipamhandles")).await,
        ipam_config,
        ..ClusterSnapshot::default()
    };
    for kind in Kind::ALL {
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

fn source(cluster: &TestCluster) -> Source {
    Source {
        context: ADMIN_CONTEXT.to_string(),
        server: cluster.handle.url.clone(),
        kind: SourceKind::Simulated,
        readonly: false,
        server_version: None,
    }
}

fn writer(cluster: &TestCluster, client: &kube::Client) -> KubeWriter {
    let connection = Connection {
        client: client.clone(),
        source: source(cluster),
    };
    KubeWriter::new(
        &connection,
        AuditLog::at(cluster.dir.path().join("audit.jsonl")),
    )
}

fn audit_lines(cluster: &TestCluster) -> Vec<Value> {
    std::fs::read_to_string(cluster.dir.path().join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

async fn stored_spec(client: &kube::Client, resource: &ApiResource) -> Option<Value> {
    Api::<DynamicObject>::all_with(client.clone(), resource)
        .get_opt("default")
        .await
        .unwrap()
        .map(|object| object.data["spec"].clone())
}

fn turn(target: bool, typed: Option<&str>) -> StrictAffinityInput {
    StrictAffinityInput {
        target,
        override_confirmation: typed.map(str::to_string),
    }
}

async fn run_plan(
    plan: &pooltop::ops::strict_affinity::StrictAffinityPlan,
    writer: &KubeWriter,
) -> StrictAffinityOutcome {
    let mut progress = |_| {};
    run(plan, writer, &mut progress).await.unwrap()
}

#[tokio::test]
async fn mode_b_healthy_cluster_refuses_windows_then_overrides_dry_runs_and_detects_conflicts() {
    tokio::time::timeout(LIMIT, async {
        let cluster = start(Options {
            scenario: Scenario::Healthy,
            ..Options::default()
        })
        .await;
        let client = cluster.client().await;
        let mode = CalicoApiMode::V1WithAggregatedV3;
        let writer = writer(&cluster, &client);
        let storage = v1("IPAMConfig", "ipamconfigs");

        let before = snapshot(&cluster, &client, mode).await;
        assert!(before.ipam_config.as_ref().unwrap().spec.strict_affinity);

        // The report on the real IPAM the simulated Calico allocated.
        let report = render_ipam_report(
            &before,
            &IpamReportOptions {
                show_blocks: true,
                ..IpamReportOptions::default()
            },
        );
        let pool_row = report
            .text
            .lines()
            .find(|l| l.starts_with("| IP Pool"))
            .unwrap();
        let cells: Vec<&str> = pool_row.split('|').map(str::trim).collect();
        // 192.168.0.0/16: 2^16 = 65536 addresses.
        assert_eq!(
            cells[1..4],
            ["IP Pool", "192.168.0.0/16", "65536"],
            "{}",
            report.text
        );
        let blocks = report.json["pools"][0]["blocks"]
            .as_array()
            .unwrap()
            .clone();
        assert!(!blocks.is_empty());
        let in_use: u64 = blocks.iter().map(|b| b["inUse"].as_u64().unwrap()).sum();
        assert_eq!(report.json["pools"][0]["inUse"].as_u64().unwrap(), in_use);
        for block in blocks.iter().filter(|b| b["ownerOs"] == "windows") {
            assert_eq!(block["windowsReserved"], 4, "{block}");
        }
        assert!(!report.has_errors, "{}", report.findings_text);

        // Turning it off with Windows nodes present is refused, with the reason.
        let refusal = plan(&before, turn(false, None)).unwrap_err();
        assert!(
            matches!(refusal, PlanRefusal::WindowsNodes { .. }),
            "{refusal}"
        );
        assert!(
            refusal
                .to_string()
                .contains("global strict affinity should not be false for Windows node")
        );

        // With the context typed, the plan targets the v3 object through the aggregated API.
        let off = plan(&before, turn(false, Some(ADMIN_CONTEXT))).unwrap();
        assert_eq!(
            off.object.display(),
            "ipamconfigurations.projectcalico.org/default"
        );

        // A server-side dry run persists nothing and writes no audit line.
        writer.write(&off.write, true).await.unwrap();
        assert_eq!(
            stored_spec(&client, &storage).await.unwrap()["strictAffinity"],
            true
        );
        assert!(audit_lines(&cluster).is_empty());

        // The real run: dry run, re-read, write; the v1 storage object changes, other fields kept.
        let outcome = run_plan(&off, &writer).await;
        assert!(
            matches!(outcome, StrictAffinityOutcome::Applied { .. }),
            "{outcome:?}"
        );
        let spec = stored_spec(&client, &storage).await.unwrap();
        assert_eq!(
            (
                spec["strictAffinity"].clone(),
                spec["autoAllocateBlocks"].clone()
            ),
            (json!(false), json!(true))
        );
        let audit = audit_lines(&cluster);
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0]["context"], ADMIN_CONTEXT);
        assert_eq!(audit[0]["verb"], "patch");

        // Conflict: someone sets maxBlocksPerHost between the plan and the run.
        let now = snapshot(&cluster, &client, mode).await;
        let on = plan(&now, turn(true, None)).unwrap();
        Api::<DynamicObject>::all_with(client.clone(), &storage)
            .patch(
                "default",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"maxBlocksPerHost": 3}})),
            )
            .await
            .unwrap();
        let outcome = run_plan(&on, &writer).await;
        let StrictAffinityOutcome::Conflict { current, changes } = outcome else {
            panic!("expected a conflict, got {outcome:?}");
        };
        assert!(
            changes.contains(&"maxBlocksPerHost: 0 -> 3".to_string()),
            "{changes:?}"
        );
        assert_eq!(current.unwrap()["spec"]["maxBlocksPerHost"], 3);
        // Nothing was written: still off.
        assert_eq!(
            stored_spec(&client, &storage).await.unwrap()["strictAffinity"],
            false
        );
        cluster.stop().await;
    })
    .await
    .expect("test finishes in time");
}

#[tokio::test]
async fn mode_a_v1_crds_only_creates_default_then_patches_and_reports_a_vanished_object() {
    tokio::time::timeout(LIMIT, async {
        let cluster = start(Options::api_only()).await;
        let client = cluster.client().await;
        let mode = CalicoApiMode::V1Crds;
        let writer = writer(&cluster, &client);
        let storage = v1("IPAMConfig", "ipamconfigs");

        // Fresh: no IPAMConfig default yet. Turning it on creates it with both required fields.
        let fresh = snapshot(&cluster, &client, mode).await;
        assert!(fresh.ipam_config.is_none());
        let create = plan(&fresh, turn(true, None)).unwrap();
        assert_eq!(
            create.object.display(),
            "ipamconfigs.crd.projectcalico.org/default"
        );
        assert_eq!(create.before, None);
        let outcome = run_plan(&create, &writer).await;
        assert!(
            matches!(outcome, StrictAffinityOutcome::Applied { .. }),
            "{outcome:?}"
        );
        assert_eq!(
            stored_spec(&client, &storage).await.unwrap(),
            json!({"strictAffinity": true, "autoAllocateBlocks": true})
        );

        // Re-running the stale create plan: the object exists now, so it is a conflict.
        let outcome = run_plan(&create, &writer).await;
        assert!(
            matches!(outcome, StrictAffinityOutcome::Conflict { .. }),
            "{outcome:?}"
        );

        // A patch plan whose object is deleted before the run: not found, nothing recreated.
        let now = snapshot(&cluster, &client, mode).await;
        assert!(now.ipam_config.is_some());
        // The fresh scenario has Windows nodes: the override is needed to turn it off.
        let off = plan(&now, turn(false, Some(ADMIN_CONTEXT))).unwrap();
        Api::<DynamicObject>::all_with(client.clone(), &storage)
            .delete("default", &DeleteParams::default())
            .await
            .unwrap();
        let outcome = run_plan(&off, &writer).await;
        assert_eq!(outcome, StrictAffinityOutcome::NotFound);
        assert!(stored_spec(&client, &storage).await.is_none());
        cluster.stop().await;
    })
    .await
    .expect("test finishes in time");
}

#[tokio::test]
async fn mode_c_native_v3_crds_create_and_patch_the_v3_object() {
    tokio::time::timeout(LIMIT, async {
        let cluster = start(Options::api_only()).await;
        let client = cluster.client().await;
        let crds = Api::<DynamicObject>::all_with(
            client.clone(),
            &resource(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
                "customresourcedefinitions",
            ),
        );
        // Swap the v1 storage CRDs for native v3 CRDs: projectcalico.org present,
        // crd.projectcalico.org absent is mode C.
        for crd in pooltop::sim::crds::calico_v1_crds() {
            let name = crd["metadata"]["name"].as_str().unwrap().to_string();
            crds.delete(&name, &DeleteParams::default()).await.unwrap();
        }
        for crd in pooltop::sim::crds::calico_v3_crds() {
            crds.create(
                &PostParams::default(),
                &serde_json::from_value(crd).unwrap(),
            )
            .await
            .unwrap();
        }
        let v3_configs = Api::<DynamicObject>::all_with(
            client.clone(),
            &v3("IPAMConfiguration", "ipamconfigurations"),
        );
        eventually(
            Duration::from_secs(20),
            "v3 ipamconfigurations served",
            || {
                let api = v3_configs.clone();
                async move { api.list(&ListParams::default()).await.ok() }
            },
        )
        .await;
        let mode = CalicoApiMode::NativeV3;
        let writer = writer(&cluster, &client);
        let resource = v3("IPAMConfiguration", "ipamconfigurations");

        let fresh = snapshot(&cluster, &client, mode).await;
        let create = plan(&fresh, turn(true, None)).unwrap();
        assert_eq!(create.object.api_version(), "projectcalico.org/v3");
        let outcome = run_plan(&create, &writer).await;
        assert!(
            matches!(outcome, StrictAffinityOutcome::Applied { .. }),
            "{outcome:?}"
        );
        let spec = stored_spec(&client, &resource).await.unwrap();
        assert_eq!(
            (
                spec["strictAffinity"].clone(),
                spec["autoAllocateBlocks"].clone()
            ),
            (json!(true), json!(true))
        );

        // Windows nodes refuse turning it off; the override patches the v3 object.
        let now = snapshot(&cluster, &client, mode).await;
        assert!(matches!(
            plan(&now, turn(false, None)),
            Err(PlanRefusal::WindowsNodes { .. })
        ));
        let off = plan(&now, turn(false, Some(ADMIN_CONTEXT))).unwrap();
        let outcome = run_plan(&off, &writer).await;
        assert!(
            matches!(outcome, StrictAffinityOutcome::Applied { .. }),
            "{outcome:?}"
        );
        assert_eq!(
            stored_spec(&client, &resource).await.unwrap()["strictAffinity"],
            false
        );
        cluster.stop().await;
    })
    .await
    .expect("test finishes in time");
}
