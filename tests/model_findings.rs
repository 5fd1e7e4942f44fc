//! Findings from hand-built snapshots: a healthy hybrid cluster has none; each test breaks one
//! thing and expects exactly the finding for it, and data that is unknown (a feed loading or
//! forbidden) gives "cannot check", never "missing". IPAM findings merge into the same list
//! once per fact.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Node;

use pooltop::model::findings::{self, Finding, Severity, Subject};
use pooltop::model::fixtures::{
    FIXTURE_NOW, SnapshotBuilder, completed_inits, container, controller_revision, daemon_set,
    healthy_install, installation, ip_pool, ipam_block, ipam_config, minutes_ago, node, pod,
    service, services_endpoint, tigera_status,
};
use pooltop::model::ipam::IpamModel;
use pooltop::model::ipam::findings::{IpamFinding, IpamFindingCode};
use pooltop::model::pools::{self, OsFamily, PoolKey, PoolRules};
use pooltop::model::snapshot::{CalicoApiMode, ClusterSnapshot, FeedState, Kind};

fn linux_ds() -> DaemonSet {
    daemon_set("calico-system", "calico-node")
        .linux()
        .counts(4, 4, 4, 4, 4)
        .build()
}

fn windows_ds() -> DaemonSet {
    daemon_set("calico-system", "calico-node-windows")
        .windows()
        .counts(1, 1, 1, 1, 1)
        .build()
}

/// A control plane, three Linux workers and one Windows node, all Ready.
fn base_nodes() -> Vec<Node> {
    vec![
        node("cp").pool("system").control_plane().build(),
        node("l-0").pool("nplinux").build(),
        node("l-1").pool("nplinux").build(),
        node("l-2").pool("nplinux").build(),
        node("w-0").windows().pool("npwin").build(),
    ]
}

/// The healthy install with both agents rolled out on `nodes`, each with a ready pod.
fn cluster(nodes: Vec<Node>) -> SnapshotBuilder {
    let (linux, windows) = (linux_ds(), windows_ds());
    let pods: Vec<_> = nodes
        .iter()
        .map(|n| {
            let name = n.metadata.name.clone().unwrap();
            let ds = if OsFamily::of(n) == OsFamily::Windows {
                &windows
            } else {
                &linux
            };
            let [uninstall, install] = completed_inits();
            pod("calico-system", &format!("agent-{name}"))
                .on(&name)
                .owned_by(ds)
                .revision("r1")
                .init(uninstall)
                .init(install)
                .container(container("felix"))
                .container(container("node"))
                .build()
        })
        .collect();
    healthy_install()
        .with_nodes(nodes)
        .with_daemon_sets([linux.clone(), windows.clone()])
        .with_revisions([
            controller_revision(&linux, "r1", 1),
            controller_revision(&windows, "r1", 1),
        ])
        .with_pods(pods)
}

fn findings_of(snapshot: &ClusterSnapshot) -> Vec<Finding> {
    let pools = pools::pools(snapshot, &PoolRules::default());
    findings::findings(snapshot, &pools)
}

/// The findings of `snapshot`, as (id, severity, subject) for exact comparison.
fn ids(snapshot: &ClusterSnapshot) -> Vec<(&'static str, Severity, String)> {
    findings_of(snapshot)
        .into_iter()
        .map(|f| (f.id, f.severity, f.subject.to_string()))
        .collect()
}

fn one(
    id: &'static str,
    severity: Severity,
    subject: &str,
) -> Vec<(&'static str, Severity, String)> {
    vec![(id, severity, subject.to_string())]
}

fn forbidden(resource: &str) -> FeedState {
    FeedState::Forbidden {
        verb: "list".to_string(),
        resource: resource.to_string(),
    }
}

#[test]
fn a_healthy_hybrid_cluster_has_no_findings() {
    assert_eq!(ids(&cluster(base_nodes()).build()), vec![]);
}

#[test]
fn strict_affinity_off_or_missing_is_an_error_unless_it_cannot_be_read() {
    let mut off = cluster(base_nodes()).build();
    off.ipam_config = Some(Arc::new(pooltop::model::fixtures::ipam_config(false)));
    assert_eq!(
        ids(&off),
        one(
            "windows.strict-affinity",
            Severity::Error,
            "IPAMConfig default"
        )
    );

    let mut missing = cluster(base_nodes()).build();
    missing.ipam_config = None;
    let found = findings_of(&missing);
    assert_eq!(found.len(), 1);
    assert!(
        found[0]
            .message
            .contains("does not exist, which counts as strictAffinity false")
    );
    assert!(
        found[0]
            .fix
            .starts_with("kubectl patch ipamconfigurations default")
    );

    let mut unknown = cluster(base_nodes())
        .feed(Kind::IpamConfigs, forbidden("ipamconfigs"))
        .build();
    unknown.ipam_config = None;
    let found = findings_of(&unknown);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Info);
    assert_eq!(
        found[0].message,
        "cannot check strictAffinity: forbidden to list ipamconfigs"
    );
}

#[test]
fn encapsulation_windows_cannot_use() {
    let with = |encapsulation| {
        cluster(base_nodes())
            .with_installation(installation().encapsulation(encapsulation).build())
            .build()
    };
    assert_eq!(
        ids(&with(Some("VXLANCrossSubnet"))),
        one(
            "windows.encapsulation",
            Severity::Error,
            "Installation default"
        )
    );
    // Unset means IPIP with Calico CNI.
    let found = findings_of(&with(None));
    assert!(
        found[0].message.contains("uses encapsulation IPIP"),
        "{found:?}"
    );
    assert_eq!(ids(&with(Some("None"))), vec![]);
}

#[test]
fn ip_pool_modes_on_pools_that_select_windows_nodes() {
    let with_pool = |pool| cluster(base_nodes()).with_ip_pools([pool]).build();
    assert_eq!(
        ids(&with_pool(
            ip_pool("p", "10.1.0.0/16").vxlan("CrossSubnet").build()
        )),
        one("windows.ippool-encapsulation", Severity::Error, "IPPool p")
    );
    assert_eq!(
        ids(&with_pool(
            ip_pool("p", "10.1.0.0/16")
                .vxlan("Never")
                .ipip("Always")
                .node_selector("kubernetes.io/os == 'windows'")
                .build()
        )),
        one("windows.ippool-encapsulation", Severity::Error, "IPPool p")
    );
    // A Linux-only pool may use what it likes; so may a disabled one.
    assert_eq!(
        ids(&with_pool(
            ip_pool("p", "10.1.0.0/16")
                .vxlan("CrossSubnet")
                .node_selector("kubernetes.io/os == 'linux'")
                .build()
        )),
        vec![]
    );
    assert_eq!(
        ids(&with_pool(
            ip_pool("p", "10.1.0.0/16")
                .ipip("Always")
                .disabled()
                .build()
        )),
        vec![]
    );
}

#[test]
fn bgp_left_enabled_with_vxlan() {
    let enabled = cluster(base_nodes())
        .with_installation(installation().bgp(None).build())
        .build();
    assert_eq!(
        ids(&enabled),
        one(
            "windows.bgp-with-vxlan",
            Severity::Warning,
            "Installation default"
        )
    );
    // On EKS an unset bgp defaults to Disabled.
    let eks = cluster(base_nodes())
        .with_installation(installation().bgp(None).provider("EKS").build())
        .build();
    assert_eq!(ids(&eks), vec![]);
}

#[test]
fn service_cidrs_missing_or_not_containing_the_kubernetes_service() {
    let empty = cluster(base_nodes())
        .with_installation(installation().service_cidrs(&[]).build())
        .build();
    assert_eq!(
        ids(&empty),
        one(
            "windows.service-cidrs",
            Severity::Error,
            "Installation default"
        )
    );
    let elsewhere = cluster(base_nodes())
        .with_kubernetes_service(service("default", "kubernetes", "10.96.0.1"))
        .build();
    let found = findings_of(&elsewhere);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, "service-cidrs.mismatch");
    assert!(
        found[0]
            .message
            .contains("10.96.0.1 is not inside serviceCIDRs 10.0.0.0/16")
    );
}

#[test]
fn services_endpoint_config_map() {
    let subject = "ConfigMap tigera-operator/kubernetes-services-endpoint";
    let mut missing = cluster(base_nodes()).build();
    missing.services_endpoint = None;
    assert_eq!(
        ids(&missing),
        one("windows.services-endpoint", Severity::Error, subject)
    );

    let dns = cluster(base_nodes())
        .with_services_endpoint(services_endpoint("api.cluster.example", "443"))
        .build();
    assert_eq!(
        ids(&dns),
        one("windows.services-endpoint-dns", Severity::Warning, subject)
    );

    let no_port = cluster(base_nodes())
        .with_services_endpoint(services_endpoint("10.224.0.4", ""))
        .build();
    assert_eq!(
        ids(&no_port),
        one("windows.services-endpoint", Severity::Error, subject)
    );

    let mut unknown = cluster(base_nodes())
        .feed(Kind::ConfigMaps, forbidden("configmaps"))
        .build();
    unknown.services_endpoint = None;
    let found = findings_of(&unknown);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].severity, Severity::Info);
    assert_eq!(
        found[0].message,
        "cannot check the kubernetes-services-endpoint ConfigMap: forbidden to list configmaps"
    );
    let mut loading = cluster(base_nodes())
        .feed(Kind::ConfigMaps, FeedState::Loading)
        .build();
    loading.services_endpoint = None;
    assert_eq!(
        findings_of(&loading)[0].message,
        "cannot check the kubernetes-services-endpoint ConfigMap: configmaps still loading"
    );
}

#[test]
fn an_unreadable_installation_is_said_so() {
    let mut snap = cluster(base_nodes())
        .feed(Kind::Installations, forbidden("installations"))
        .build();
    snap.installation = None;
    let found = findings_of(&snap);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].id, found[0].severity),
        ("windows.installation", Severity::Info)
    );
    assert_eq!(
        found[0].message,
        "cannot check the Installation's Windows settings: forbidden to list installations"
    );
}

#[test]
fn kube_dns_missing_or_unknown() {
    let mut missing = cluster(base_nodes()).build();
    missing.kube_dns = None;
    assert_eq!(
        ids(&missing),
        one(
            "kube-dns.missing",
            Severity::Error,
            "Service kube-system/kube-dns"
        )
    );
    let mut unknown = cluster(base_nodes())
        .feed(Kind::Services, forbidden("services"))
        .build();
    unknown.kube_dns = None;
    unknown.kubernetes_service = None;
    let found = findings_of(&unknown);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].message,
        "cannot check kube-dns: forbidden to list services"
    );
}

fn with_windows_node(extra: Node) -> ClusterSnapshot {
    let mut nodes = base_nodes();
    nodes.push(extra);
    cluster(nodes).build()
}

#[test]
fn container_runtime_on_windows_nodes() {
    assert_eq!(
        ids(&with_windows_node(
            node("w-old").windows().containerd("1.5.18").build()
        )),
        one("windows.containerd", Severity::Error, "node/w-old")
    );
    assert_eq!(
        ids(&with_windows_node(
            node("w-docker")
                .windows()
                .runtime("docker://20.10.7")
                .build()
        )),
        one("windows.containerd", Severity::Error, "node/w-docker")
    );
    assert_eq!(
        ids(&with_windows_node(
            node("w-16").windows().containerd("1.6.0").build()
        )),
        vec![]
    );
    // Linux nodes may run what they like.
    let mut nodes = base_nodes();
    nodes.push(node("l-old").containerd("1.5.0").build());
    assert_eq!(ids(&cluster(nodes).build()), vec![]);
}

#[test]
fn windows_builds_calico_supports() {
    let build = |build: &str, revision: u32| {
        ids(&with_windows_node(
            node("w-b").windows().windows_build(build, revision).build(),
        ))
    };
    let unsupported = one("windows.build-unsupported", Severity::Error, "node/w-b");
    assert_eq!(build("10.0.26100", 2000), unsupported, "2025");
    assert_eq!(build("10.0.17763", 1431), unsupported, "2019 below .1432");
    assert_eq!(build("10.0.17763", 1432), vec![], "2019 at .1432");
    assert_eq!(build("10.0.20348", 168), unsupported, "2022 below .169");
    assert_eq!(build("10.0.20348", 169), vec![], "2022 at .169");
}

#[test]
fn not_ready_because_calico_is_down() {
    // NetworkUnavailable set by calico-node's shutdown, pod still reported ready.
    let down = with_windows_node(
        node("w-down")
            .windows()
            .not_ready("network not ready")
            .network_unavailable("CalicoIsDown")
            .build(),
    );
    let found = findings_of(&down);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].id, "node.calico-down");
    assert_eq!(
        found[0].message,
        "NotReady because Calico is down on it: NetworkUnavailable (CalicoIsDown)"
    );

    // The agent pod on the NotReady node cannot pull its image.
    let mut nodes = base_nodes();
    nodes.push(
        node("w-pull")
            .windows()
            .not_ready("network not ready")
            .build(),
    );
    let mut snap = cluster(nodes).build();
    let mut pods: Vec<_> = snap
        .pods
        .iter()
        .filter(|p| p.metadata.name.as_deref() != Some("agent-w-pull"))
        .map(|p| (**p).clone())
        .collect();
    pods.push(
        pod("calico-system", "agent-w-pull")
            .on("w-pull")
            .owned_by(&windows_ds())
            .revision("r1")
            .init(container("uninstall-calico").waiting("ImagePullBackOff", ""))
            .container(container("felix").waiting("PodInitializing", ""))
            .build(),
    );
    snap.pods = Arc::new(pods.into_iter().map(Arc::new).collect());
    let found = findings_of(&snap);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].message,
        "NotReady because Calico is down on it: calico-node-windows pod agent-w-pull is Init:ImagePullBackOff"
    );

    // NotReady for another reason (Calico fine): not this finding.
    assert_eq!(
        ids(&with_windows_node(
            node("w-disk")
                .windows()
                .not_ready("PLEG is not healthy")
                .build()
        )),
        vec![]
    );
}

#[test]
fn no_v3_api_while_windows_is_enabled() {
    let v1_only = cluster(base_nodes())
        .calico_api(CalicoApiMode::V1Crds)
        .build();
    assert_eq!(
        ids(&v1_only),
        one("windows.no-v3-api", Severity::Error, "cluster")
    );
}

#[test]
fn windows_daemon_set_absent() {
    let without_windows_agent = |builder: SnapshotBuilder| {
        let mut snap = builder.build();
        snap.daemon_sets = Arc::new(
            snap.daemon_sets
                .iter()
                .filter(|d| d.metadata.name.as_deref() != Some("calico-node-windows"))
                .cloned()
                .collect(),
        );
        snap
    };
    let absent = without_windows_agent(cluster(base_nodes()).with_tigera_statuses([
        tigera_status("calico-windows")
            .degraded("ResourceReadError", "Invalid StrictAffinity, it must be set to 'true' when using Calico IPAM on Windows")
            .build(),
    ]));
    let found = findings_of(&absent);
    let absent_finding = found
        .iter()
        .find(|f| f.id == "windows.daemonset-absent")
        .unwrap();
    assert_eq!(absent_finding.severity, Severity::Error);
    assert!(
        absent_finding.message.contains("Invalid StrictAffinity"),
        "{}",
        absent_finding.message
    );
    // The degraded status is its own finding.
    assert!(found.iter().any(|f| f.id == "tigera.degraded"));

    let disabled = without_windows_agent(
        cluster(base_nodes()).with_installation(installation().windows_disabled().build()),
    );
    assert_eq!(
        ids(&disabled),
        one(
            "windows.dataplane-disabled",
            Severity::Warning,
            "DaemonSet calico-system/calico-node-windows"
        )
    );
}

#[test]
fn degraded_operator_component() {
    let snap = cluster(base_nodes())
        .with_tigera_statuses([tigera_status("apiserver")
            .degraded("ResourceNotReady", "Waiting for APIService to be available")
            .build()])
        .build();
    let found = findings_of(&snap);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].message,
        "operator component apiserver is Degraded (ResourceNotReady): Waiting for APIService to be available"
    );
    assert_eq!(
        found[0].subject,
        Subject::Object {
            kind: "TigeraStatus".to_string(),
            namespace: None,
            name: "apiserver".to_string()
        }
    );
}

#[test]
fn linux_workers_for_typha() {
    let two: Vec<Node> = base_nodes()
        .into_iter()
        .filter(|n| n.metadata.name.as_deref() != Some("l-2"))
        .collect();
    assert_eq!(
        ids(&cluster(two).build()),
        one("linux.typha-ha", Severity::Info, "cluster")
    );
    // The control plane does not count as a worker.
    let none: Vec<Node> = base_nodes()
        .into_iter()
        .filter(|n| !n.metadata.name.as_deref().unwrap().starts_with("l-"))
        .collect();
    assert_eq!(
        ids(&cluster(none).build()),
        one("linux.workers", Severity::Error, "cluster")
    );
}

#[test]
fn kubelet_skew_within_a_pool() {
    let snap = with_windows_node(
        node("w-1")
            .windows()
            .pool("npwin")
            .kubelet("v1.31.6")
            .build(),
    );
    let found = findings_of(&snap);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].subject,
        Subject::Pool(PoolKey {
            name: "npwin".to_string(),
            os: OsFamily::Windows
        })
    );
    assert_eq!(
        found[0].message,
        "kubelet versions differ within the pool: v1.31.6, v1.32.4"
    );
}

#[test]
fn pods_stuck_terminating_on_windows() {
    let snap = cluster(base_nodes()).build();
    let mut pods: Vec<_> = snap.pods.iter().map(|p| (**p).clone()).collect();
    pods.extend([
        pod("default", "iis-0")
            .on("w-0")
            .container(container("iis"))
            .deleting(minutes_ago(5))
            .build(),
        // Still within its grace period: not stuck.
        pod("default", "iis-1")
            .on("w-0")
            .container(container("iis"))
            .deleting(
                FIXTURE_NOW
                    .checked_add(jiff::SignedDuration::from_secs(20))
                    .unwrap(),
            )
            .build(),
        // Linux pods terminating slowly are not the HNS problem.
        pod("default", "web-0")
            .on("l-0")
            .container(container("web"))
            .deleting(minutes_ago(5))
            .build(),
    ]);
    let mut stuck = snap.clone();
    stuck.pods = Arc::new(pods.into_iter().map(Arc::new).collect());
    let found = findings_of(&stuck);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].id, "windows.stuck-terminating");
    assert_eq!(found[0].subject, Subject::Node("w-0".to_string()));
    assert!(
        found[0]
            .message
            .starts_with("1 pod(s) stuck Terminating past their grace period (default/iis-0)")
    );
}

#[test]
fn findings_are_sorted_worst_first_and_concatenate() {
    let mut snap = cluster(base_nodes())
        .with_installation(installation().bgp(None).service_cidrs(&[]).build())
        .build();
    snap.nodes = Arc::new(
        snap.nodes
            .iter()
            .filter(|n| n.metadata.name.as_deref() != Some("l-2"))
            .cloned()
            .collect(),
    );
    let mut found = findings_of(&snap);
    let severities: Vec<Severity> = found.iter().map(|f| f.severity).collect();
    assert_eq!(
        severities,
        [Severity::Error, Severity::Warning, Severity::Info]
    );
    // Another module's findings (IPAM) join by concatenation and one sort.
    found.insert(
        0,
        Finding {
            id: "ipam.borrowed",
            severity: Severity::Warning,
            subject: Subject::Cluster,
            message: "borrowed".to_string(),
            fix: String::new(),
        },
    );
    findings::sort_findings(&mut found);
    let order: Vec<&str> = found.iter().map(|f| f.id).collect();
    assert_eq!(
        order,
        [
            "windows.service-cidrs",
            "ipam.borrowed",
            "windows.bgp-with-vxlan",
            "linux.typha-ha"
        ]
    );
    assert_eq!(found[1].line(), "borrowed");
}

/// strictAffinity off with one Windows node (`w-0`) whose block lends an address to `l-0`:
/// the general and the IPAM checks both see strictAffinity; IPAM alone sees the borrowing.
fn borrowing_from_windows() -> ClusterSnapshot {
    cluster(base_nodes())
        .with_ipam_config(ipam_config(false))
        .with_ip_pools([ip_pool("pods", "10.244.0.0/24").block_size(26).build()])
        .with_ipam_blocks([ipam_block("10.244.0.0/26")
            .host("w-0")
            .windows_reserved()
            .allocate(
                5,
                "k8s-pod-network.web-1",
                &[("node", "l-0"), ("namespace", "default"), ("pod", "web-1")],
            )
            .build()])
        .build()
}

#[test]
fn ipam_findings_join_the_findings_view_once_per_fact() {
    let snap = borrowing_from_windows();
    let general = findings_of(&snap);
    let model = IpamModel::from_snapshot(&snap);
    let merged = findings::with_ipam(general.clone(), &model);

    // Both lists report strictAffinity; the merged list has it once, under the general id.
    assert!(general.iter().any(|f| f.id == "windows.strict-affinity"));
    assert!(
        model
            .findings
            .iter()
            .any(|f| f.code == IpamFindingCode::StrictAffinityOffWithWindows)
    );
    let strict: Vec<&Finding> = merged
        .iter()
        .filter(|f| f.id == "windows.strict-affinity" || f.id == "ipam.strict-affinity")
        .collect();
    assert_eq!(strict.len(), 1, "{merged:#?}");
    let strict = strict[0];
    assert_eq!(
        (strict.id, strict.severity, strict.subject.to_string()),
        (
            "windows.strict-affinity",
            Severity::Error,
            "IPAMConfig default".to_string()
        )
    );
    // The richer text: IPAM's message counts the Windows nodes (one: w-0); the fix is the
    // general finding's kubectl patch.
    assert!(strict.message.contains("1 Windows node(s)"), "{strict:?}");
    assert!(strict.fix.contains("kubectl patch ipamconfigurations"));
    assert!(strict.opens_ipam());

    // Every other IPAM finding joins with an ipam.* id: one fewer than the two lists.
    assert_eq!(merged.len(), general.len() + model.findings.len() - 1);
    // l-0 holds 10.244.0.5 in w-0's block: an error because Windows is involved.
    let borrowed = merged
        .iter()
        .find(|f| f.id == "ipam.borrowed-addresses")
        .unwrap();
    assert_eq!(borrowed.severity, Severity::Error);
    assert_eq!(borrowed.subject.to_string(), "IPAMBlock 10.244.0.0/26");
    assert!(borrowed.message.contains("l-0"), "{borrowed:?}");
    assert!(!borrowed.fix.is_empty());
    assert!(borrowed.opens_ipam());
    assert!(
        merged
            .iter()
            .filter(|f| !f.id.starts_with("ipam."))
            .all(|f| { f.id == "windows.strict-affinity" || !f.opens_ipam() })
    );

    // Worst first, then by id: the two errors read ipam.borrowed-addresses, then
    // windows.strict-affinity.
    let errors: Vec<&str> = merged
        .iter()
        .take_while(|f| f.severity == Severity::Error)
        .map(|f| f.id)
        .collect();
    let position = |id: &str| errors.iter().position(|e| *e == id).unwrap();
    assert!(position("ipam.borrowed-addresses") < position("windows.strict-affinity"));
    assert!(
        merged
            .windows(2)
            .all(|pair| pair[0].severity >= pair[1].severity)
    );
}

#[test]
fn a_merged_fact_keeps_the_longer_text_and_the_worse_severity() {
    let snap = borrowing_from_windows();
    let general = findings_of(&snap);
    let general_strict = general
        .iter()
        .find(|f| f.id == "windows.strict-affinity")
        .unwrap()
        .clone();
    // A terser IPAM finding for the same fact: the general text stays.
    let model = IpamModel {
        findings: vec![IpamFinding {
            severity: Severity::Warning,
            code: IpamFindingCode::StrictAffinityOffWithWindows,
            subject: "strictAffinity".to_string(),
            message: "off".to_string(),
        }],
        ..IpamModel::default()
    };
    let merged = findings::with_ipam(general.clone(), &model);
    assert_eq!(merged.len(), general.len());
    let strict = merged
        .iter()
        .find(|f| f.id == "windows.strict-affinity")
        .unwrap();
    assert_eq!(strict, &general_strict);

    // Ids are stable and distinct per fact: the two configuration rules differ by subject.
    let rule = |subject: &str| IpamFinding {
        severity: Severity::Warning,
        code: IpamFindingCode::ConfigCrossFieldRule,
        subject: subject.to_string(),
        message: String::new(),
    };
    assert_eq!(
        findings::ipam_id(&rule("maxBlocksPerHost")),
        "ipam.config-max-blocks"
    );
    assert_eq!(
        findings::ipam_id(&rule("autoAllocateBlocks")),
        "ipam.config-auto-allocate"
    );
}
