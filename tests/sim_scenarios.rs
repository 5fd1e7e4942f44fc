//! Scenarios reached by the real controllers: the simulator does not report ready until the
//! scenario has settled, so a client's first look already sees the promised cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use pooltop::sim::scenario::Scenario;
use std::time::Duration;

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

    // Failing pods cycle through their back-offs; each shows its reason within a while.
    let pods_api = Api::<Pod>::namespaced(client, "calico-system");
    let windows_pods = || async {
        pods_api
            .list(&ListParams::default().labels("k8s-app=calico-node-windows"))
            .await
            .unwrap()
            .items
    };
    for (node, reasons) in [
        (
            "aks-npwin-00000000",
            &["ImagePullBackOff", "ErrImagePull"][..],
        ),
        ("aks-npwin-00000001", &["CrashLoopBackOff"][..]),
        ("aks-npwin2-00000000", &["CreateContainerError"][..]),
    ] {
        common::eventually(Duration::from_secs(30), node, || async {
            windows_pods()
                .await
                .iter()
                .find(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
                .and_then(waiting_reason)
                .filter(|r| reasons.contains(&r.as_str()))
        })
        .await;
    }
    let pods = windows_pods().await;
    let on = |node: &str| {
        pods.iter()
            .find(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
            .unwrap()
    };
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
    for scenario in [
        Scenario::Healthy,
        Scenario::StuckRollout,
        Scenario::IpamPressure,
    ] {
        let first = fingerprint(scenario, false).await;
        // A clock that stands still after converging (snapshot tests) changes nothing either.
        let second = fingerprint(scenario, true).await;
        assert_eq!(first.0, second.0, "{} pods", scenario.name());
        assert_eq!(first.1, second.1, "{} blocks", scenario.name());
    }
}

#[tokio::test]
async fn ipam_pressure_shows_a_full_windows_block_borrowing_and_strict_affinity_off() {
    let cluster = start(Options {
        scenario: Scenario::IpamPressure,
        ..Options::default()
    })
    .await;
    let client = cluster.client().await;
    let gvk = |g: &str, v: &str, k: &str, p: &str| {
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(g, v, k), p)
    };

    // strictAffinity is off, and the operator says what that means on Windows.
    let config = Api::<DynamicObject>::all_with(
        client.clone(),
        &gvk("crd.projectcalico.org", "v1", "IPAMConfig", "ipamconfigs"),
    )
    .get("default")
    .await
    .unwrap();
    assert_eq!(config.data["spec"]["strictAffinity"], false);
    let degraded = condition(&client, "calico-windows", "Degraded").await;
    assert_eq!(degraded["status"], "True");
    assert!(
        degraded["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid StrictAffinity, it must be set to 'true'"),
        "{degraded}"
    );

    // The pool is carved up: every block of the /25 is claimed.
    let blocks = Api::<DynamicObject>::all_with(
        client.clone(),
        &gvk("crd.projectcalico.org", "v1", "IPAMBlock", "ipamblocks"),
    )
    .list(&ListParams::default())
    .await
    .unwrap()
    .items;
    assert_eq!(blocks.len(), 8, "a /25 in /28 blocks");
    // The full Windows block: 16 ordinals, none free.
    let full = blocks
        .iter()
        .find(|b| block_owner(b) == "aks-npwin-00000000")
        .unwrap();
    assert_eq!(
        full.data["spec"]["unallocated"].as_array().unwrap().len(),
        0
    );
    // Borrowed addresses: allocations whose node is not the block's owner, one of them in a
    // block a Windows node owns.
    let borrowed = borrowed(&blocks);
    assert!(!borrowed.is_empty());
    assert!(
        borrowed
            .iter()
            .any(|(owner, node)| owner.starts_with("aks-npwin") && node.starts_with("aks-nplinux")),
        "a Linux node borrows from a Windows node's block: {borrowed:?}"
    );

    // Windows workload pods that could not get an address wait in ContainerCreating.
    let pods = Api::<Pod>::namespaced(client.clone(), "default")
        .list(&ListParams::default().labels("app=winfill"))
        .await
        .unwrap()
        .items;
    let waiting: Vec<&Pod> = pods
        .iter()
        .filter(|p| waiting_reason(p).as_deref() == Some("ContainerCreating"))
        .collect();
    assert!(!waiting.is_empty());
    let events = Api::<k8s_openapi::api::core::v1::Event>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let sandbox_failures = |text: &str| {
        events.iter().any(|e| {
            e.reason.as_deref() == Some("FailedCreatePodSandBox")
                && e.message.as_deref().is_some_and(|m| m.contains(text))
        })
    };
    assert!(sandbox_failures(
        "cannot allocate new block due to per host block limit"
    ));
    assert!(sandbox_failures(
        "global strict affinity should not be false for Windows node"
    ));

    // The restarted calico-node-windows crash-loops.
    let agents = Api::<Pod>::namespaced(client, "calico-system");
    common::eventually(Duration::from_secs(30), "a crash-looping agent", || async {
        agents
            .list(&ListParams::default().labels("k8s-app=calico-node-windows"))
            .await
            .unwrap()
            .items
            .iter()
            .find(|p| {
                p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some("aks-npwin-00000001")
            })
            .and_then(waiting_reason)
            .filter(|r| r == "CrashLoopBackOff")
    })
    .await;
    cluster.stop().await;
}

/// A block's owner node, empty when it has none.
fn block_owner(block: &DynamicObject) -> String {
    block.data["spec"]["affinity"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("host:")
        .to_string()
}

/// (block owner, borrowing node) of every allocation a node made in another node's block.
fn borrowed(blocks: &[DynamicObject]) -> Vec<(String, String)> {
    let mut borrowed = Vec::new();
    for block in blocks {
        let owner = block_owner(block);
        let attributes = block.data["spec"]["attributes"].as_array().unwrap();
        for ordinal in block.data["spec"]["allocations"].as_array().unwrap() {
            let Some(index) = ordinal.as_u64() else {
                continue;
            };
            let node = attributes[usize::try_from(index).unwrap()]["secondary"]["node"]
                .as_str()
                .unwrap_or_default();
            if !node.is_empty() && node != owner {
                borrowed.push((owner.clone(), node.to_string()));
            }
        }
    }
    borrowed
}

/// A condition of a TigeraStatus.
async fn condition(client: &kube::Client, status: &str, kind: &str) -> serde_json::Value {
    let status = Api::<DynamicObject>::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("operator.tigera.io", "v1", "TigeraStatus"),
            "tigerastatuses",
        ),
    )
    .get(status)
    .await
    .unwrap();
    status.data["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == kind)
        .cloned()
        .unwrap()
}

/// The restricted context reads like the viewer but is refused Calico IPAM and TigeraStatus
/// with the API server's own 403, to kubectl and to kube-rs alike (over TLS: kubectl sends no
/// token over plain HTTP).
#[tokio::test]
async fn the_restricted_user_is_forbidden_ipam_and_tigera_status() {
    use pooltop::sim::kubeconfig::RESTRICTED_CONTEXT;
    let cluster = start(Options {
        tls: true,
        ..Options::api_only()
    })
    .await;
    let context = format!("--context={RESTRICTED_CONTEXT}");

    let nodes = cluster.run_kubectl(&[&context, "get", "nodes"]).await;
    assert!(
        nodes.ok().contains("aks-npwin-00000000"),
        "{}",
        nodes.stdout
    );
    let pods = cluster
        .run_kubectl(&[&context, "get", "pods", "-A", "-o", "name"])
        .await;
    assert!(!pods.ok().is_empty());

    let blocks = cluster
        .run_kubectl(&[&context, "get", "ipamblocks.crd.projectcalico.org"])
        .await;
    assert_eq!(blocks.code, 1, "{}", blocks.stdout);
    assert_eq!(
        blocks.stderr.trim(),
        "Error from server (Forbidden): ipamblocks.crd.projectcalico.org is forbidden: User \"restricted\" cannot list resource \"ipamblocks\" in API group \"crd.projectcalico.org\" at the cluster scope"
    );
    let config = cluster
        .run_kubectl(&[
            &context,
            "get",
            "ipamconfigs.crd.projectcalico.org",
            "default",
        ])
        .await;
    assert!(
        config.stderr.contains("ipamconfigs.crd.projectcalico.org \"default\" is forbidden: User \"restricted\" cannot get resource \"ipamconfigs\" in API group \"crd.projectcalico.org\" at the cluster scope"),
        "{}",
        config.stderr
    );
    // The viewer may read what the restricted user may not.
    let viewer = cluster
        .run_kubectl(&[
            &format!("--context={}", pooltop::sim::kubeconfig::VIEWER_CONTEXT),
            "get",
            "ipamblocks.crd.projectcalico.org",
        ])
        .await;
    assert_eq!(viewer.code, 0, "{}", viewer.stderr);

    // kube-rs sees the Status body: reason Forbidden, details naming group and kind.
    let client = cluster.client_for(RESTRICTED_CONTEXT).await;
    for (group, version, kind, plural) in [
        (
            "crd.projectcalico.org",
            "v1",
            "BlockAffinity",
            "blockaffinities",
        ),
        ("crd.projectcalico.org", "v1", "IPAMHandle", "ipamhandles"),
        ("operator.tigera.io", "v1", "TigeraStatus", "tigerastatuses"),
    ] {
        let resource =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let Err(kube::Error::Api(status)) = api.list(&ListParams::default()).await else {
            panic!("listing {plural} was not refused");
        };
        assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
        assert_eq!(
            status.message,
            format!(
                "{plural}.{group} is forbidden: User \"restricted\" cannot list resource \"{plural}\" in API group \"{group}\" at the cluster scope"
            )
        );
        let details = status.details.expect("details");
        assert_eq!(
            (details.group.as_str(), details.kind.as_str()),
            (group, plural)
        );
    }
    let ippools = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("crd.projectcalico.org", "v1", "IPPool"),
        "ippools",
    );
    Api::<DynamicObject>::all_with(client.clone(), &ippools)
        .list(&ListParams::default())
        .await
        .expect("the restricted user may read IP pools");
    cluster.stop().await;
}

/// `large` as a client sees it: 5,000 Ready nodes, both node DaemonSets counting every node
/// of their OS, every pod Running, and every pod address allocated in a block affine to the
/// pod's node, to that pod. Loading takes about a minute in a debug build; the miniature of the
/// same loader is checked object by object in `sim::scenario::large`'s unit tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_is_calico_healthy_and_every_address_is_in_its_nodes_block() {
    use pooltop::sim::scenario::{LARGE_NODES, LARGE_PODS};
    use std::collections::BTreeMap;
    use std::net::Ipv4Addr;

    let cluster = start(Options {
        scenario: Scenario::Large,
        ..Options::default()
    })
    .await;
    let rv_after_load = cluster.handle.store.current_rv();
    let client = cluster.client().await;

    let nodes = list_all::<Node>(&Api::all(client.clone())).await;
    assert_eq!(nodes.len(), LARGE_NODES);
    let windows_nodes = nodes
        .iter()
        .filter(|n| n.metadata.labels.as_ref().unwrap()["kubernetes.io/os"] == "windows")
        .count();
    assert_eq!(windows_nodes, 1_000);
    for node in &nodes {
        let conditions = node.status.as_ref().unwrap().conditions.as_ref().unwrap();
        assert!(
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        );
    }

    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), "calico-system");
    for (name, desired) in [("calico-node", 4_000), ("calico-node-windows", 1_000)] {
        let status = daemonsets.get(name).await.unwrap().status.unwrap();
        assert_eq!(status.desired_number_scheduled, desired, "{name}");
        assert_eq!(status.current_number_scheduled, desired, "{name}");
        assert_eq!(status.updated_number_scheduled, Some(desired), "{name}");
        assert_eq!(status.number_ready, desired, "{name}");
        assert_eq!(status.number_available, Some(desired), "{name}");
        assert_eq!(status.number_misscheduled, 0, "{name}");
    }

    // Blocks by their first address, with the node they are affine to and who holds what.
    let blocks_api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("crd.projectcalico.org", "v1", "IPAMBlock"),
            "ipamblocks",
        ),
    );
    let mut blocks: BTreeMap<u32, (String, serde_json::Value)> = BTreeMap::new();
    for block in list_all(&blocks_api).await {
        let spec = block.data["spec"].clone();
        let cidr: ipnet::Ipv4Net = spec["cidr"].as_str().unwrap().parse().unwrap();
        let owner = spec["affinity"]
            .as_str()
            .unwrap()
            .trim_start_matches("host:")
            .to_string();
        blocks.insert(u32::from(cidr.network()), (owner, spec));
    }
    assert_eq!(blocks.len(), LARGE_NODES, "one block per node");

    let pods = list_all::<Pod>(&Api::all(client.clone())).await;
    let workload_pods = pods
        .iter()
        .filter(|p| {
            ["shop", "payments", "legacy"].contains(&p.metadata.namespace.as_deref().unwrap())
        })
        .count();
    assert_eq!(workload_pods, LARGE_PODS);
    let mut checked = 0;
    for pod in &pods {
        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        let spec = pod.spec.as_ref().unwrap();
        if spec.host_network == Some(true) {
            continue;
        }
        let node = spec.node_name.as_deref().unwrap();
        let ip: Ipv4Addr = status.pod_ip.as_deref().unwrap().parse().unwrap();
        let (base, (owner, block)) = blocks.range(..=u32::from(ip)).next_back().unwrap();
        assert_eq!(owner, node, "{ip} of {:?}", pod.metadata.name);
        let ordinal = (u32::from(ip) - base) as usize;
        let attribute = usize::try_from(block["allocations"][ordinal].as_u64().unwrap()).unwrap();
        let secondary = &block["attributes"][attribute]["secondary"];
        assert_eq!(secondary["pod"], pod.metadata.name.as_deref().unwrap());
        assert_eq!(secondary["node"], node);
        checked += 1;
    }
    // Workload pods, kube-controllers and the two Calico API servers.
    assert_eq!(checked, LARGE_PODS + 3);

    // What kubectl shows.
    let kubectl_nodes = cluster.run_kubectl(&["get", "nodes", "--no-headers"]).await;
    assert_eq!(kubectl_nodes.ok().lines().count(), LARGE_NODES);
    let statuses = cluster
        .run_kubectl(&["get", "tigerastatus", "--no-headers"])
        .await;
    let statuses = statuses.ok();
    assert_eq!(statuses.lines().count(), 4, "{statuses}");
    assert!(
        statuses
            .lines()
            .all(|l| l.split_whitespace().nth(1) == Some("True")),
        "{statuses}"
    );

    // The controllers found the cluster converged: reading it all above took long enough
    // for them to have started; they wrote next to nothing.
    let writes = cluster.handle.store.current_rv() - rv_after_load;
    assert!(writes < 500, "{writes} writes on a converged cluster");
    cluster.stop().await;
}

/// Every object of a kind, read in pages of 500 as a client would.
async fn list_all<K>(api: &Api<K>) -> Vec<K>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut params = ListParams::default().limit(500);
    let mut items = Vec::new();
    loop {
        let page = api.list(&params).await.unwrap();
        items.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return items,
        }
    }
}
