//! The machine's real kubectl against the simulated API server on 127.0.0.1: tables, JSON,
//! cordon and drain (eviction through the budget path, local-storage refusal, a blocking
//! PodDisruptionBudget), operator resources under strict field validation, server-side
//! apply with field-manager conflicts, merge/JSON/strategic patches, DaemonSet rollout
//! status, a watch that ends cleanly when the server stops, the read-only viewer over TLS and
//! kubectl's own error texts. Every kubectl run is a child process bounded by
//! `common::KUBECTL_LIMIT`, so a server that never answers fails the test instead of hanging it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::ChildStdout;

use common::{KubectlOutput, Options, TestCluster, start};

/// How long a test waits for one line from a running kubectl.
const LINE_LIMIT: Duration = Duration::from_secs(30);

/// Writes a manifest into the cluster's private directory and returns its path for `-f`.
fn manifest(cluster: &TestCluster, name: &str, text: &str) -> String {
    let path = cluster.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// A kubectl run that must fail the way kubectl fails on an API error: exit code 1.
fn failed(out: &KubectlOutput) -> &str {
    assert_eq!(
        out.code, 1,
        "kubectl should have failed:\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    &out.stderr
}

/// The whitespace-separated cells of each line of a table kubectl printed.
fn cells(table: &str) -> Vec<Vec<&str>> {
    table
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect()
}

/// The next line a running kubectl prints, failing the test if it takes too long or ends.
async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(LINE_LIMIT, lines.next_line())
        .await
        .expect("kubectl printed a line in time")
        .unwrap()
        .expect("kubectl is still printing")
}

async fn jsonpath(cluster: &TestCluster, args: &[&str], path: &str) -> String {
    let template = format!("jsonpath={path}");
    let mut all = args.to_vec();
    all.extend(["-o", template.as_str()]);
    cluster.run_kubectl(&all).await.ok().to_string()
}

/// The first Linux worker (not the control plane), chosen through kubectl's label selector.
async fn linux_worker(cluster: &TestCluster) -> String {
    let name = jsonpath(
        cluster,
        &[
            "get",
            "nodes",
            "-l",
            "kubernetes.io/os=linux,!node-role.kubernetes.io/control-plane",
        ],
        "{.items[0].metadata.name}",
    )
    .await;
    assert!(!name.is_empty(), "the scenario has a Linux worker");
    name
}

#[tokio::test]
async fn get_nodes_prints_the_server_table_and_json() {
    let cluster = start(Options::api_only()).await;
    let out = cluster.run_kubectl(&["get", "nodes"]).await;
    let rows = cells(out.ok());
    assert_eq!(rows[0], ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    assert_eq!(rows.len(), 7, "a header and six nodes:\n{}", out.stdout);
    assert!(
        rows[1..]
            .iter()
            .all(|r| r[1] == "NotReady" && r[4] == "v1.32.4"),
        "no CNI yet, so every node is NotReady:\n{}",
        out.stdout
    );
    let control_planes: Vec<&str> = rows[1..]
        .iter()
        .filter(|r| r[2] == "control-plane")
        .map(|r| r[0])
        .collect();
    assert_eq!(control_planes.len(), 1, "{}", out.stdout);
    assert_eq!(
        rows[1..].iter().filter(|r| r[2] == "<none>").count(),
        5,
        "{}",
        out.stdout
    );

    let out = cluster.run_kubectl(&["get", "nodes", "-o", "json"]).await;
    let list: Value = serde_json::from_str(out.ok()).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["apiVersion"], "v1");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert!(items.iter().all(|n| n["kind"] == "Node"));
    let names: Vec<&str> = items
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap())
        .collect();
    let table_names: Vec<&str> = rows[1..].iter().map(|r| r[0]).collect();
    assert_eq!(names, table_names, "the table and the list agree");
    let labelled: Vec<&str> = items
        .iter()
        .filter(|n| {
            n["metadata"]["labels"]
                .get("node-role.kubernetes.io/control-plane")
                .is_some()
        })
        .map(|n| n["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        labelled, control_planes,
        "ROLES comes from the node-role label"
    );
    cluster.stop().await;
}

#[tokio::test]
async fn version_reports_the_simulated_server() {
    let cluster = start(Options::api_only()).await;
    let out = cluster.run_kubectl(&["version"]).await;
    assert!(
        out.ok().lines().any(|l| l == "Server Version: v1.32.4"),
        "{}",
        out.stdout
    );
    let out = cluster.run_kubectl(&["version", "-o", "json"]).await;
    let version: Value = serde_json::from_str(out.ok()).unwrap();
    assert_eq!(version["serverVersion"]["gitVersion"], "v1.32.4");
    assert_eq!(version["serverVersion"]["minor"], "32");
    cluster.stop().await;
}

#[tokio::test]
async fn unknown_resources_and_missing_objects_are_clear_errors() {
    let cluster = start(Options::api_only()).await;
    let out = cluster.run_kubectl(&["get", "widgets"]).await;
    assert_eq!(
        failed(&out).trim_end(),
        "error: the server doesn't have a resource type \"widgets\""
    );
    assert!(out.stdout.is_empty());
    let out = cluster.run_kubectl(&["get", "node", "nope"]).await;
    assert_eq!(
        failed(&out).trim_end(),
        "Error from server (NotFound): nodes \"nope\" not found"
    );
    let out = cluster
        .run_kubectl(&["get", "installation", "default"])
        .await;
    assert_eq!(
        failed(&out).trim_end(),
        "Error from server (NotFound): installations.operator.tigera.io \"default\" not found",
        "a fresh cluster has no Installation yet"
    );
    cluster.stop().await;
}

#[tokio::test]
async fn cordon_and_uncordon_toggle_scheduling() {
    let cluster = start(Options::api_only()).await;
    let node = linux_worker(&cluster).await;
    // Play the kubelet: report the node Ready, so the STATUS column shows both halves.
    let ready = r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status"}]}}"#;
    let out = cluster
        .run_kubectl(&["patch", "node", &node, "--subresource=status", "-p", ready])
        .await;
    assert_eq!(out.ok().trim_end(), format!("node/{node} patched"));
    assert_eq!(node_status(&cluster, &node).await, "Ready");

    let out = cluster.run_kubectl(&["cordon", &node]).await;
    assert_eq!(out.ok().trim_end(), format!("node/{node} cordoned"));
    let unschedulable = ["get", "node", node.as_str()];
    assert_eq!(
        jsonpath(&cluster, &unschedulable, "{.spec.unschedulable}").await,
        "true"
    );
    assert_eq!(
        node_status(&cluster, &node).await,
        "Ready,SchedulingDisabled"
    );
    let out = cluster.run_kubectl(&["cordon", &node]).await;
    assert_eq!(out.ok().trim_end(), format!("node/{node} already cordoned"));

    let out = cluster.run_kubectl(&["uncordon", &node]).await;
    assert_eq!(out.ok().trim_end(), format!("node/{node} uncordoned"));
    assert_eq!(
        jsonpath(&cluster, &unschedulable, "{.spec.unschedulable}").await,
        "",
        "uncordon removes the field"
    );
    assert_eq!(node_status(&cluster, &node).await, "Ready");
    cluster.stop().await;
}

/// The STATUS column of one node's row.
async fn node_status(cluster: &TestCluster, node: &str) -> String {
    let out = cluster
        .run_kubectl(&["get", "node", node, "--no-headers"])
        .await;
    cells(out.ok())[0][1].to_string()
}

/// A ReplicaSet (no controller runs for it here) to own pods; returns its uid.
async fn replica_set(client: &kube::Client, name: &str, replicas: u32) -> String {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let rs = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}},
    });
    let created = api
        .create(&PostParams::default(), &serde_json::from_value(rs).unwrap())
        .await
        .unwrap();
    created.metadata.uid.unwrap()
}

/// A DaemonSet whose node selector covers exactly the nodes labelled for it; returns its uid.
async fn daemon_set(client: &kube::Client, name: &str) -> String {
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let ds = json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"nodeSelector": {"pooltop.dev/agent": "true"},
                                       "containers": [{"name": "c", "image": "agent:1"}]}}},
    });
    let created = api
        .create(&PostParams::default(), &serde_json::from_value(ds).unwrap())
        .await
        .unwrap();
    created.metadata.uid.unwrap()
}

/// The controller a test pod belongs to; its pods carry `app: <name>`.
#[derive(Clone, Copy)]
struct Owner<'a> {
    kind: &'a str,
    name: &'a str,
    uid: &'a str,
}

/// A pod bound to `node`, owned by a controller, optionally with an emptyDir, and reported
/// Running and Ready through the status subresource (a Pending pod would skip the budget).
async fn running_pod(
    client: &kube::Client,
    name: &str,
    node: &str,
    owner: Owner<'_>,
    scratch: bool,
) {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": owner.name},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner.kind, "name": owner.name,
                                          "uid": owner.uid, "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "c", "image": "nginx:1.27"}]},
    });
    if scratch {
        pod["spec"]["volumes"] = json!([{"name": "scratch", "emptyDir": {}}]);
        pod["spec"]["containers"][0]["volumeMounts"] =
            json!([{"name": "scratch", "mountPath": "/scratch"}]);
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(pod).unwrap(),
    )
    .await
    .unwrap();
    let running = json!({"status": {"phase": "Running",
                                    "conditions": [{"type": "Ready", "status": "True"}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(running))
        .await
        .unwrap();
}

/// Names of the pods bound to `node`, and whether any of them is terminating.
async fn pods_on(client: &kube::Client, node: &str) -> (Vec<String>, bool) {
    let pods: Api<Pod> = Api::all(client.clone());
    let params = kube::api::ListParams::default().fields(&format!("spec.nodeName={node}"));
    let list = pods.list(&params).await.unwrap().items;
    let terminating = list.iter().any(|p| p.metadata.deletion_timestamp.is_some());
    let mut names: Vec<String> = list.into_iter().filter_map(|p| p.metadata.name).collect();
    names.sort();
    (names, terminating)
}

#[tokio::test]
async fn drain_evicts_all_but_daemonset_pods() {
    let cluster = start(Options::api_only()).await;
    let client = cluster.client().await;
    let node = linux_worker(&cluster).await;
    cluster
        .run_kubectl(&["label", "node", &node, "pooltop.dev/agent=true"])
        .await
        .ok();
    let web_uid = replica_set(&client, "web", 2).await;
    let web = Owner {
        kind: "ReplicaSet",
        name: "web",
        uid: &web_uid,
    };
    let agent_uid = daemon_set(&client, "node-agent").await;
    let agent = Owner {
        kind: "DaemonSet",
        name: "node-agent",
        uid: &agent_uid,
    };
    running_pod(&client, "web-plain", &node, web, false).await;
    running_pod(&client, "web-scratch", &node, web, true).await;
    running_pod(&client, "node-agent-x", &node, agent, false).await;
    let everyone = ["node-agent-x", "web-plain", "web-scratch"];
    assert_eq!(
        pods_on(&client, &node).await,
        (everyone.map(String::from).to_vec(), false)
    );

    // Without --delete-emptydir-data the emptyDir pod blocks the whole drain: nothing is
    // evicted, but the node stays cordoned.
    let out = cluster
        .run_kubectl(&["drain", &node, "--ignore-daemonsets"])
        .await;
    let stderr = failed(&out);
    assert!(
        stderr.contains("cannot delete Pods with local storage (use --delete-emptydir-data to override): default/web-scratch"),
        "{stderr}"
    );
    assert!(
        out.stdout.contains(&format!("node/{node} cordoned")),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("evicting"), "{}", out.stdout);
    assert_eq!(
        pods_on(&client, &node).await,
        (everyone.map(String::from).to_vec(), false)
    );

    let out = cluster
        .run_kubectl(&[
            "drain",
            &node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
        ])
        .await;
    let stdout = out.ok();
    for expected in [
        format!("node/{node} already cordoned"),
        "evicting pod default/web-plain".to_string(),
        "evicting pod default/web-scratch".to_string(),
        "pod/web-plain evicted".to_string(),
        "pod/web-scratch evicted".to_string(),
    ] {
        assert!(
            stdout.lines().any(|l| l == expected),
            "{expected:?} in:\n{stdout}"
        );
    }
    assert_eq!(
        stdout.lines().last(),
        Some(format!("node/{node} drained").as_str())
    );
    assert!(
        out.stderr
            .contains("Warning: ignoring DaemonSet-managed Pods: default/node-agent-x"),
        "{}",
        out.stderr
    );
    assert_eq!(
        pods_on(&client, &node).await,
        (vec!["node-agent-x".to_string()], false),
        "only the DaemonSet pod stays"
    );
    let unschedulable = ["get", "node", node.as_str()];
    assert_eq!(
        jsonpath(&cluster, &unschedulable, "{.spec.unschedulable}").await,
        "true"
    );
    cluster.stop().await;
}

#[tokio::test]
async fn drain_blocked_by_a_disruption_budget_times_out() {
    let cluster = start(Options::api_only()).await;
    let client = cluster.client().await;
    let node = linux_worker(&cluster).await;
    let uid = replica_set(&client, "guarded", 1).await;
    let owner = Owner {
        kind: "ReplicaSet",
        name: "guarded",
        uid: &uid,
    };
    running_pod(&client, "guarded-a", &node, owner, false).await;
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let pdb = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                     "metadata": {"name": "guarded"},
                     "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}}});
    pdbs.create(
        &PostParams::default(),
        &serde_json::from_value(pdb).unwrap(),
    )
    .await
    .unwrap();
    // Play the disruption controller: one healthy pod, one needed, nothing to spare.
    let status = json!({"status": {"observedGeneration": 1, "disruptionsAllowed": 0,
                                   "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}});
    pdbs.patch_status("guarded", &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();

    let out = cluster
        .run_kubectl(&["drain", &node, "--ignore-daemonsets", "--timeout=5s"])
        .await;
    let stderr = failed(&out);
    assert!(
        stderr.contains("error when evicting pods/\"guarded-a\" -n \"default\" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget."),
        "{stderr}"
    );
    assert!(stderr.contains("global timeout reached: 5s"), "{stderr}");
    assert!(
        out.stdout.contains("evicting pod default/guarded-a"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("drained"), "{}", out.stdout);
    assert_eq!(
        pods_on(&client, &node).await,
        (vec!["guarded-a".to_string()], false),
        "the guarded pod was never evicted"
    );
    cluster.stop().await;
}

const INSTALLATION_AND_APISERVER: &str = r#"apiVersion: operator.tigera.io/v1
kind: Installation
metadata: {name: default}
spec:
  serviceCIDRs: ["10.96.0.0/12"]
  calicoNetwork:
    bgp: Disabled
    windowsDataplane: HNS
    ipPools:
    - {name: default-ipv4-ippool, cidr: 192.168.0.0/16, blockSize: 26, encapsulation: VXLAN, natOutgoing: Enabled}
---
apiVersion: operator.tigera.io/v1
kind: APIServer
metadata: {name: default}
spec: {}
"#;

#[tokio::test]
async fn operator_resources_are_created_under_strict_validation() {
    let cluster = start(Options::api_only()).await;
    let file = manifest(
        &cluster,
        "custom-resources.yaml",
        INSTALLATION_AND_APISERVER,
    );
    let out = cluster.run_kubectl(&["create", "-f", &file]).await;
    assert_eq!(
        out.ok(),
        "installation.operator.tigera.io/default created\napiserver.operator.tigera.io/default created\n"
    );
    assert!(out.stderr.is_empty(), "no warnings: {}", out.stderr);

    let out = cluster
        .run_kubectl(&["get", "installation", "default", "-o", "json"])
        .await;
    let installation: Value = serde_json::from_str(out.ok()).unwrap();
    assert_eq!(installation["kind"], "Installation");
    assert_eq!(installation["metadata"]["generation"], 1);
    let spec = &installation["spec"];
    assert_eq!(spec["serviceCIDRs"], json!(["10.96.0.0/12"]));
    assert_eq!(spec["calicoNetwork"]["bgp"], "Disabled");
    assert_eq!(spec["calicoNetwork"]["windowsDataplane"], "HNS");
    assert_eq!(
        spec["calicoNetwork"]["ipPools"][0],
        json!({"name": "default-ipv4-ippool", "cidr": "192.168.0.0/16", "blockSize": 26,
               "encapsulation": "VXLAN", "natOutgoing": "Enabled"})
    );
    let out = cluster
        .run_kubectl(&["get", "apiserver", "default", "-o", "name"])
        .await;
    assert_eq!(out.ok(), "apiserver.operator.tigera.io/default\n");

    let again = cluster.run_kubectl(&["create", "-f", &file]).await;
    let stderr = failed(&again);
    for kind in ["installations", "apiservers"] {
        let expected = format!(
            "Error from server (AlreadyExists): error when creating \"{file}\": {kind}.operator.tigera.io \"default\" already exists"
        );
        assert!(
            stderr.lines().any(|l| l == expected),
            "{expected}\nin:\n{stderr}"
        );
    }

    let typo = manifest(
        &cluster,
        "typo.yaml",
        "apiVersion: operator.tigera.io/v1\nkind: Installation\nmetadata: {name: overlay}\nspec:\n  calicoNetwork:\n    windowsDataplane: HNS\n    colour: blue\n",
    );
    let out = cluster.run_kubectl(&["create", "-f", &typo]).await;
    assert_eq!(
        failed(&out).trim_end(),
        format!(
            "Error from server (BadRequest): error when creating \"{typo}\": Installation in version \"v1\" cannot be handled as a Installation: strict decoding error: unknown field \"spec.calicoNetwork.colour\""
        )
    );
    let out = cluster
        .run_kubectl(&["get", "installation", "overlay"])
        .await;
    assert!(failed(&out).contains("NotFound"), "nothing was stored");
    cluster.stop().await;
}

fn endpoint_manifest(port: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: pooltop-apply}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: kubernetes-services-endpoint, namespace: pooltop-apply}}\ndata:\n  KUBERNETES_SERVICE_HOST: \"10.0.0.1\"\n  KUBERNETES_SERVICE_PORT: \"{port}\"\n{extra}"
    )
}

/// The endpoint ConfigMap's data and the managers listed in its managedFields.
async fn endpoint_state(cluster: &TestCluster) -> (Value, Vec<(String, String)>) {
    let out = cluster
        .run_kubectl(&[
            "get",
            "configmap",
            "kubernetes-services-endpoint",
            "-n",
            "pooltop-apply",
            "--show-managed-fields",
            "-o",
            "json",
        ])
        .await;
    let cm: Value = serde_json::from_str(out.ok()).unwrap();
    let managers = cm["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["manager"].as_str().unwrap().to_string();
            (name, m["operation"].as_str().unwrap().to_string())
        })
        .collect();
    (cm["data"].clone(), managers)
}

#[tokio::test]
async fn server_side_apply_tracks_owners_and_reports_conflicts() {
    let cluster = start(Options::api_only()).await;
    let file = manifest(
        &cluster,
        "endpoint.yaml",
        &endpoint_manifest("443", "  NOTE: \"first\"\n"),
    );
    let out = cluster
        .run_kubectl(&["apply", "--server-side", "-f", &file])
        .await;
    assert_eq!(
        out.ok(),
        "namespace/pooltop-apply serverside-applied\nconfigmap/kubernetes-services-endpoint serverside-applied\n"
    );
    // The second apply changes a value and drops a key this manager owned: it is pruned.
    let file = manifest(&cluster, "endpoint.yaml", &endpoint_manifest("6443", ""));
    cluster
        .run_kubectl(&["apply", "--server-side", "-f", &file])
        .await
        .ok();
    let (data, managers) = endpoint_state(&cluster).await;
    assert_eq!(
        data,
        json!({"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"})
    );
    assert_eq!(managers, [("kubectl".to_string(), "Apply".to_string())]);

    let rival = manifest(
        &cluster,
        "rival.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubernetes-services-endpoint, namespace: pooltop-apply}\ndata:\n  KUBERNETES_SERVICE_PORT: \"8443\"\n",
    );
    let args = [
        "apply",
        "--server-side",
        "--field-manager=pooltop-rival",
        "-f",
        &rival,
    ];
    let out = cluster.run_kubectl(&args).await;
    let stderr = failed(&out);
    assert!(
        stderr.starts_with("error: Apply failed with 1 conflict: conflict with \"kubectl\": .data.KUBERNETES_SERVICE_PORT\n"),
        "{stderr}"
    );
    assert!(stderr.contains("--force-conflicts"), "{stderr}");
    assert_eq!(
        endpoint_state(&cluster).await.0["KUBERNETES_SERVICE_PORT"],
        "6443"
    );

    let forced = [&args[..], &["--force-conflicts"]].concat();
    let out = cluster.run_kubectl(&forced).await;
    assert_eq!(
        out.ok(),
        "configmap/kubernetes-services-endpoint serverside-applied\n"
    );
    let (data, managers) = endpoint_state(&cluster).await;
    assert_eq!(data["KUBERNETES_SERVICE_PORT"], "8443");
    assert_eq!(
        data["KUBERNETES_SERVICE_HOST"], "10.0.0.1",
        "still kubectl's"
    );
    assert_eq!(
        managers,
        [
            ("kubectl".to_string(), "Apply".to_string()),
            ("pooltop-rival".to_string(), "Apply".to_string())
        ]
    );
    cluster.stop().await;
}

#[tokio::test]
async fn merge_json_and_strategic_patches() {
    let cluster = start(Options::api_only()).await;
    let file = manifest(
        &cluster,
        "ipamconfig.yaml",
        "apiVersion: crd.projectcalico.org/v1\nkind: IPAMConfig\nmetadata: {name: default}\nspec: {strictAffinity: false, autoAllocateBlocks: true}\n",
    );
    let out = cluster.run_kubectl(&["create", "-f", &file]).await;
    assert_eq!(
        out.ok(),
        "ipamconfig.crd.projectcalico.org/default created\n"
    );
    let ipam = ["get", "ipamconfigs.crd.projectcalico.org", "default"];
    let resource = "ipamconfigs.crd.projectcalico.org";
    let strict = r#"{"spec":{"strictAffinity":true}}"#;
    let out = cluster
        .run_kubectl(&[
            "patch", resource, "default", "--type", "merge", "-p", strict,
        ])
        .await;
    assert_eq!(
        out.ok(),
        "ipamconfig.crd.projectcalico.org/default patched\n"
    );
    let spec = "{.spec.strictAffinity} {.spec.autoAllocateBlocks}";
    assert_eq!(jsonpath(&cluster, &ipam, spec).await, "true true");
    let ops = r#"[{"op":"test","path":"/spec/strictAffinity","value":true},{"op":"replace","path":"/spec/autoAllocateBlocks","value":false}]"#;
    let out = cluster
        .run_kubectl(&["patch", resource, "default", "--type", "json", "-p", ops])
        .await;
    assert_eq!(
        out.ok(),
        "ipamconfig.crd.projectcalico.org/default patched\n"
    );
    assert_eq!(jsonpath(&cluster, &ipam, spec).await, "true false");

    // Strategic merge is not defined for custom resources: the server answers 415 and
    // kubectl names the patch type and the kind.
    let out = cluster
        .run_kubectl(&[
            "patch",
            resource,
            "default",
            "-p",
            r#"{"spec":{"strictAffinity":false}}"#,
        ])
        .await;
    assert_eq!(
        failed(&out).trim_end(),
        "error: application/strategic-merge-patch+json is not supported by crd.projectcalico.org/v1, Kind=IPAMConfig: the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
    assert_eq!(jsonpath(&cluster, &ipam, spec).await, "true false");

    let node = linux_worker(&cluster).await;
    let labels = r#"{"metadata":{"labels":{"pooltop.dev/role":"gateway"}}}"#;
    let out = cluster
        .run_kubectl(&["patch", "node", &node, "--type", "merge", "-p", labels])
        .await;
    assert_eq!(out.ok().trim_end(), format!("node/{node} patched"));
    let role = ["get", "node", node.as_str()];
    let path = r"{.metadata.labels.pooltop\.dev/role}";
    assert_eq!(jsonpath(&cluster, &role, path).await, "gateway");
    // A JSON pointer escapes the '/' in the label key as ~1.
    let ops = r#"[{"op":"replace","path":"/metadata/labels/pooltop.dev~1role","value":"edge"}]"#;
    let out = cluster
        .run_kubectl(&["patch", "node", &node, "--type", "json", "-p", ops])
        .await;
    assert_eq!(out.ok().trim_end(), format!("node/{node} patched"));
    assert_eq!(jsonpath(&cluster, &role, path).await, "edge");
    let failing =
        r#"[{"op":"test","path":"/metadata/labels/pooltop.dev~1role","value":"gateway"}]"#;
    let out = cluster
        .run_kubectl(&["patch", "node", &node, "--type", "json", "-p", failing])
        .await;
    assert_eq!(
        failed(&out).trim_end(),
        "The request is invalid: the server rejected our request due to an error in our request",
        "a failed test operation is a 422 with the apiserver's generic wording"
    );
    assert_eq!(jsonpath(&cluster, &role, path).await, "edge");
    cluster.stop().await;
}

const WINDOWS_DAEMONSET: &str = r"apiVersion: v1
kind: Namespace
metadata: {name: calico-system}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: calico-node-windows, namespace: calico-system}
spec:
  selector: {matchLabels: {k8s-app: calico-node-windows}}
  template:
    metadata: {labels: {k8s-app: calico-node-windows}}
    spec:
      nodeSelector: {kubernetes.io/os: windows}
      containers: [{name: node, image: quay.io/calico/node-windows:v3.30.3}]
";

/// Plays the DaemonSet controller: writes the status through kubectl's status subresource.
async fn daemon_set_status(cluster: &TestCluster, status: &Value) {
    let patch = json!({ "status": status }).to_string();
    let out = cluster
        .run_kubectl(&[
            "patch",
            "daemonset",
            "calico-node-windows",
            "-n",
            "calico-system",
            "--subresource=status",
            "--type",
            "merge",
            "-p",
            &patch,
        ])
        .await;
    assert_eq!(out.ok(), "daemonset.apps/calico-node-windows patched\n");
}

fn rollout(generation: u32, updated: u32, available: u32) -> Value {
    json!({"observedGeneration": generation, "desiredNumberScheduled": 2, "currentNumberScheduled": 2,
           "updatedNumberScheduled": updated, "numberAvailable": available, "numberReady": available,
           "numberMisscheduled": 0})
}

#[tokio::test]
async fn rollout_status_follows_the_daemonset_status() {
    // No controllers: the test alone writes the DaemonSet's status, so every step is exact.
    let cluster = start(Options {
        controllers: pooltop::sim::controllers::Controllers::None,
        ..Options::api_only()
    })
    .await;
    let file = manifest(&cluster, "windows.yaml", WINDOWS_DAEMONSET);
    cluster.run_kubectl(&["create", "-f", &file]).await.ok();
    let ds = "ds/calico-node-windows";
    daemon_set_status(&cluster, &rollout(1, 2, 2)).await;
    let out = cluster
        .run_kubectl(&["rollout", "status", ds, "-n", "calico-system"])
        .await;
    assert_eq!(
        out.ok(),
        "daemon set \"calico-node-windows\" successfully rolled out\n"
    );

    // A new image is a spec change: generation 2, and no pod updated yet.
    let image = "node=quay.io/calico/node-windows:v3.30.4";
    let out = cluster
        .run_kubectl(&["set", "image", ds, image, "-n", "calico-system"])
        .await;
    assert_eq!(
        out.ok(),
        "daemonset.apps/calico-node-windows image updated\n"
    );
    daemon_set_status(&cluster, &rollout(2, 0, 2)).await;
    let out = cluster
        .run_kubectl(&[
            "rollout",
            "status",
            ds,
            "-n",
            "calico-system",
            "--timeout=3s",
        ])
        .await;
    assert_eq!(
        failed(&out).trim_end(),
        "error: timed out waiting for the condition"
    );
    assert_eq!(
        out.stdout,
        "Waiting for daemon set \"calico-node-windows\" rollout to finish: 0 out of 2 new pods have been updated...\n"
    );

    // Watching: each status the test writes is one more line, until the rollout is done.
    let mut child = cluster.spawn_kubectl(&["rollout", "status", ds, "-n", "calico-system"]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let waiting = "Waiting for daemon set \"calico-node-windows\" rollout to finish:";
    assert_eq!(
        next_line(&mut lines).await,
        format!("{waiting} 0 out of 2 new pods have been updated...")
    );
    daemon_set_status(&cluster, &rollout(2, 1, 2)).await;
    assert_eq!(
        next_line(&mut lines).await,
        format!("{waiting} 1 out of 2 new pods have been updated...")
    );
    daemon_set_status(&cluster, &rollout(2, 2, 1)).await;
    assert_eq!(
        next_line(&mut lines).await,
        format!("{waiting} 1 of 2 updated pods are available...")
    );
    daemon_set_status(&cluster, &rollout(2, 2, 2)).await;
    assert_eq!(
        next_line(&mut lines).await,
        "daemon set \"calico-node-windows\" successfully rolled out"
    );
    let status = tokio::time::timeout(LINE_LIMIT, child.wait())
        .await
        .expect("rollout status exits once done")
        .unwrap();
    assert!(status.success(), "{status:?}");
    cluster.stop().await;
}

#[tokio::test]
async fn get_watch_ends_cleanly_when_the_server_stops() {
    let cluster = start(Options::api_only()).await;
    let mut child = cluster.spawn_kubectl(&["get", "nodes", "-w"]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let header = next_line(&mut lines).await;
    assert_eq!(
        cells(&header)[0],
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    );
    let mut listed = Vec::new();
    for _ in 0..6 {
        listed.push(cells(&next_line(&mut lines).await)[0][0].to_string());
    }
    // The list is printed, so kubectl watches from its resourceVersion: a change made now is
    // delivered even if the watch request has not reached the server yet.
    let node = listed[3].clone();
    let nodes: Api<Node> = Api::all(cluster.client().await);
    let label = json!({"metadata": {"labels": {"pooltop.dev/watched": "yes"}}});
    nodes
        .patch(&node, &PatchParams::default(), &Patch::Merge(label))
        .await
        .unwrap();
    let modified = next_line(&mut lines).await;
    assert_eq!(
        cells(&modified)[0][0],
        node,
        "the modified node again: {modified}"
    );

    cluster.stop().await;
    let status = tokio::time::timeout(LINE_LIMIT, child.wait())
        .await
        .expect("kubectl exits when the server ends the watch")
        .unwrap();
    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push(line);
    }
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(status.success(), "{status:?}, stderr: {stderr}");
    assert!(
        rest.iter().all(|l| !l.starts_with("NAME")),
        "the header is printed once: {rest:?}"
    );
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "rows in name order");
}

#[tokio::test]
async fn viewer_reads_but_cannot_write_over_tls() {
    let cluster = start(Options {
        tls: true,
        ..Options::api_only()
    })
    .await;
    assert!(cluster.handle.url.starts_with("https://127.0.0.1:"));
    let viewer = ["--context", "pooltop-sim-viewer"];
    let out = cluster
        .run_kubectl(&[&viewer[..], &["get", "nodes"]].concat())
        .await;
    assert_eq!(cells(out.ok()).len(), 7, "{}", out.stdout);
    let node = linux_worker(&cluster).await;

    let label = ["label", "node", node.as_str(), "pooltop.dev/by=viewer"];
    let out = cluster.run_kubectl(&[&viewer[..], &label].concat()).await;
    assert_eq!(
        failed(&out).trim_end(),
        format!(
            "Error from server (Forbidden): nodes \"{node}\" is forbidden: User \"viewer\" cannot patch resource \"nodes\" in API group \"\" at the cluster scope"
        )
    );
    let file = manifest(
        &cluster,
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: by-viewer}\n",
    );
    let out = cluster
        .run_kubectl(&[&viewer[..], &["create", "-f", &file]].concat())
        .await;
    assert_eq!(
        failed(&out).trim_end(),
        format!(
            "Error from server (Forbidden): error when creating \"{file}\": namespaces is forbidden: User \"viewer\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope"
        )
    );
    // kubectl cordon reports a refused patch on stderr but still exits 0, so a caller must
    // read the node back rather than trust the exit code.
    let out = cluster
        .run_kubectl(&[&viewer[..], &["cordon", &node]].concat())
        .await;
    assert!(
        out.stderr
            .contains("is forbidden: User \"viewer\" cannot patch"),
        "{}",
        out.stderr
    );
    let unschedulable = ["get", "node", node.as_str()];
    assert_eq!(
        jsonpath(&cluster, &unschedulable, "{.spec.unschedulable}").await,
        ""
    );

    // The admin context over the same TLS connection may write.
    let out = cluster
        .run_kubectl(&["label", "node", &node, "pooltop.dev/by=admin"])
        .await;
    assert_eq!(out.ok().trim_end(), format!("node/{node} labeled"));
    cluster.stop().await;
}

#[tokio::test]
async fn tigerastatus_prints_the_crd_printer_columns() {
    let cluster = start(Options::api_only()).await;
    let out = cluster.run_kubectl(&["get", "tigerastatuses"]).await;
    assert_eq!(
        out.ok(),
        "",
        "before the operator reports, there is nothing"
    );
    assert_eq!(out.stderr.trim_end(), "No resources found");

    let file = manifest(
        &cluster,
        "status.yaml",
        "apiVersion: operator.tigera.io/v1\nkind: TigeraStatus\nmetadata: {name: calico}\nspec: {}\n",
    );
    cluster.run_kubectl(&["create", "-f", &file]).await.ok();
    let since = "2025-01-01T00:00:00Z";
    let conditions = json!({"status": {"conditions": [
        {"type": "Available", "status": "False", "reason": "ResourceNotReady", "message": "", "lastTransitionTime": since},
        {"type": "Progressing", "status": "True", "reason": "ResourceNotReady", "message": "", "lastTransitionTime": since},
        {"type": "Degraded", "status": "True", "reason": "ResourceNotReady",
         "message": "DaemonSet \"calico-system/calico-node\" is not available", "lastTransitionTime": since},
    ]}})
    .to_string();
    let patch = [
        "patch",
        "tigerastatus",
        "calico",
        "--subresource=status",
        "--type",
        "merge",
    ];
    cluster
        .run_kubectl(&[&patch[..], &["-p", &conditions]].concat())
        .await
        .ok();

    let out = cluster.run_kubectl(&["get", "tigerastatuses"]).await;
    let rows = cells(out.ok());
    assert_eq!(
        rows[0],
        [
            "NAME",
            "AVAILABLE",
            "PROGRESSING",
            "DEGRADED",
            "SINCE",
            "MESSAGE"
        ]
    );
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    assert_eq!(rows[1][..4], ["calico", "False", "True", "True"]);
    assert!(
        rows[1][4].ends_with('d'),
        "SINCE is an age in days: {}",
        rows[1][4]
    );
    assert_eq!(
        rows[1][5..].join(" "),
        "DaemonSet \"calico-system/calico-node\" is not available"
    );
    cluster.stop().await;
}
