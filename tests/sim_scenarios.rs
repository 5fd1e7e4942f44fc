//! Scenarios reached by the real controllers: the simulator does not report ready until the
//! scenario has settled, so a client's first look already sees the promised cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use pooltop::sim::scenario::Scenario;

use common::{Options, start};

#[tokio::test]
async fn healthy_is_calico_installed_for_windows_as_documented() {
    let cluster = start(Options {
        scenario: Scenario::Healthy,
        ..Options::default()
    })
    .await;
    let client = cluster.client().await;

    for node in Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
    {
        let conditions = node.status.unwrap().conditions.unwrap();
        let ready = conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "True", "{:?}", node.metadata.name);
        let network = conditions
            .iter()
            .find(|c| c.type_ == "NetworkUnavailable")
            .unwrap();
        assert_eq!(
            (network.status.as_str(), network.reason.as_deref()),
            ("False", Some("CalicoIsUp"))
        );
        assert!(
            node.spec
                .unwrap()
                .taints
                .unwrap_or_default()
                .iter()
                .all(|t| t.key != "node.kubernetes.io/not-ready")
        );
    }

    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), "calico-system");
    for (name, desired) in [("calico-node", 4), ("calico-node-windows", 2)] {
        let status = daemonsets.get(name).await.unwrap().status.unwrap();
        assert_eq!(status.desired_number_scheduled, desired, "{name}");
        assert_eq!(status.number_available, Some(desired), "{name}");
        assert_eq!(status.updated_number_scheduled, Some(desired), "{name}");
    }

    let pods = Api::<Pod>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(pods.len(), 5);
    for pod in &pods {
        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        let ip: std::net::Ipv4Addr = status.pod_ip.as_deref().unwrap().parse().unwrap();
        assert_eq!(
            ip.octets()[..2],
            [192, 168],
            "addresses come from the Installation's pool"
        );
    }

    let gvk = |g: &str, v: &str, k: &str, p: &str| {
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(g, v, k), p)
    };
    let statuses = Api::<DynamicObject>::all_with(
        client.clone(),
        &gvk("operator.tigera.io", "v1", "TigeraStatus", "tigerastatuses"),
    );
    let mut names = Vec::new();
    for status in statuses.list(&ListParams::default()).await.unwrap().items {
        let available = status.data["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Available" && c["status"] == "True");
        assert!(available, "{:?}", status.metadata.name);
        names.push(status.metadata.name.unwrap());
    }
    names.sort();
    assert_eq!(names, ["apiserver", "calico", "calico-windows", "ippools"]);

    // Windows nodes own exactly one block each, with the four reserved ordinals.
    let blocks = Api::<DynamicObject>::all_with(
        client.clone(),
        &gvk("crd.projectcalico.org", "v1", "IPAMBlock", "ipamblocks"),
    );
    let blocks = blocks.list(&ListParams::default()).await.unwrap().items;
    for windows in ["aks-npwin-00000000", "aks-npwin-00000001"] {
        let owned: Vec<_> = blocks
            .iter()
            .filter(|b| b.data["spec"]["affinity"] == format!("host:{windows}"))
            .collect();
        assert_eq!(owned.len(), 1, "{windows}");
        let reserved = owned[0].data["spec"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["handle_id"] == "windows-reserved-ipam-handle")
            .count();
        assert_eq!(reserved, 1, "one attribute shared by the reserved ordinals");
    }
    cluster.stop().await;
}

/// The waiting reason of the first container (init containers first) that waits.
fn waiting_reason(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    status
        .init_container_statuses
        .iter()
        .chain(status.container_statuses.iter())
        .flatten()
        .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
}

#[tokio::test]
async fn stuck_rollout_is_stuck_on_windows_for_different_reasons() {
    let cluster = start(Options {
        scenario: Scenario::StuckRollout,
        ..Options::default()
    })
    .await;
    let client = cluster.client().await;
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), "calico-system");
    let linux = daemonsets.get("calico-node").await.unwrap();
    let image = linux.spec.template.spec.unwrap().containers[0]
        .image
        .clone()
        .unwrap();
    assert!(image.starts_with("registry.internal.example/"), "{image}");
    let status = linux.status.unwrap();
    assert_eq!(
        (status.updated_number_scheduled, status.number_available),
        (Some(4), Some(4)),
        "Linux rolled out"
    );

    let windows = daemonsets
        .get("calico-node-windows")
        .await
        .unwrap()
        .status
        .unwrap();
    assert_eq!(windows.desired_number_scheduled, 5);
    assert!(
        windows.number_available.unwrap_or(0) < 5
            && windows.updated_number_scheduled.unwrap_or(0) < 5,
        "stuck: {windows:?}"
    );

    let pods = Api::<Pod>::namespaced(client, "calico-system")
        .list(&ListParams::default().labels("k8s-app=calico-node-windows"))
        .await
        .unwrap()
        .items;
    let on = |node: &str| {
        pods.iter()
            .find(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
            .unwrap()
    };
    assert!(matches!(
        waiting_reason(on("aks-npwin-00000000")).as_deref(),
        Some("ImagePullBackOff" | "ErrImagePull")
    ));
    assert_eq!(
        waiting_reason(on("aks-npwin-00000001")).as_deref(),
        Some("CrashLoopBackOff")
    );
    assert_eq!(
        waiting_reason(on("aks-npwin2-00000000")).as_deref(),
        Some("CreateContainerError")
    );
    for waiting in ["aks-npwin-00000002", "aks-npwin-00000003"] {
        let pod = on(waiting);
        assert_eq!(
            pod.status.as_ref().unwrap().phase.as_deref(),
            Some("Running"),
            "{waiting} keeps its old pod"
        );
    }
    cluster.stop().await;
}

/// What must not change from one start of a scenario to the next: every pod's name, node and
/// address, and every IPAM block with its owner.
async fn fingerprint(scenario: Scenario, frozen: bool) -> (Vec<String>, Vec<String>) {
    let cluster = start(Options {
        scenario,
        frozen,
        start_time: Some(pooltop::sim::clock::fixed_start()),
        ..Options::default()
    })
    .await;
    let client = cluster.client().await;
    let mut pods: Vec<String> = Api::<Pod>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| {
            let spec = p.spec.unwrap_or_default();
            let status = p.status.unwrap_or_default();
            format!(
                "{}/{} on {} at {}",
                p.metadata.namespace.unwrap_or_default(),
                p.metadata.name.unwrap_or_default(),
                spec.node_name.unwrap_or_default(),
                status.pod_ip.unwrap_or_default()
            )
        })
        .collect();
    pods.sort();
    let blocks = Api::<DynamicObject>::all_with(
        client,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("crd.projectcalico.org", "v1", "IPAMBlock"),
            "ipamblocks",
        ),
    );
    let mut blocks: Vec<String> = blocks
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|b| {
            format!(
                "{} {} {}",
                b.data["spec"]["cidr"].as_str().unwrap_or_default(),
                b.data["spec"]["affinity"].as_str().unwrap_or_default(),
                b.data["spec"]["allocations"]
                    .as_array()
                    .map_or(0, |a| a.iter().filter(|o| !o.is_null()).count())
            )
        })
        .collect();
    blocks.sort();
    cluster.stop().await;
    (pods, blocks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converged_scenarios_are_the_same_every_time() {
    for scenario in [Scenario::Healthy, Scenario::StuckRollout] {
        let first = fingerprint(scenario, false).await;
        // A clock that stands still after converging (snapshot tests) changes nothing either.
        let second = fingerprint(scenario, true).await;
        assert_eq!(first.0, second.0, "{} pods", scenario.name());
        assert_eq!(first.1, second.1, "{} blocks", scenario.name());
    }
}
