//! The seed walkthrough of a first Calico install on a hybrid cluster, with kubectl alone,
//! against `pooltop sim --scenario fresh` (issue 3): create the Installation and APIServer,
//! see the operator report what Windows still needs, supply it, and watch everything converge.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::{Duration, Instant};

use serde_json::Value;

use common::{Options, TestCluster, start};

/// Simulated time runs this much faster, so Windows image pulls of minutes take seconds.
const SPEED: f64 = 30.0;
const LIMIT: Duration = Duration::from_secs(90);

const INSTALLATION: &str = r"apiVersion: operator.tigera.io/v1
kind: Installation
metadata:
  name: default
spec:
  calicoNetwork:
    bgp: Disabled
    windowsDataplane: HNS
    ipPools:
    - name: default-ipv4-ippool
      cidr: 192.168.0.0/16
      blockSize: 26
      encapsulation: VXLAN
      natOutgoing: Enabled
      nodeSelector: all()
---
apiVersion: operator.tigera.io/v1
kind: APIServer
metadata:
  name: default
spec: {}
";

async fn json(cluster: &TestCluster, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let out = cluster.run_kubectl(&all).await;
    serde_json::from_str(out.ok()).unwrap_or(Value::Null)
}

/// Polls kubectl until `check` accepts its JSON output.
async fn until(
    cluster: &TestCluster,
    what: &str,
    args: &[&str],
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + LIMIT;
    loop {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let out = cluster.run_kubectl(&all).await;
        if out.code == 0 {
            let value: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
            if check(&value) {
                return value;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last: {} {}",
            out.stdout,
            out.stderr
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

fn node_ready(node: &Value) -> bool {
    condition(node, "Ready").is_some_and(|c| c["status"] == "True")
}

fn os_of(node: &Value) -> &str {
    node.pointer("/metadata/labels/kubernetes.io~1os")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[tokio::test]
async fn first_install_on_a_hybrid_cluster_converges_with_kubectl_alone() {
    let cluster = start(Options {
        speed: SPEED,
        ..Options::default()
    })
    .await;
    let started = Instant::now();
    let sim_start = cluster.handle.store.clock.now();
    let manifest = cluster.dir.path().join("install.yaml");
    std::fs::write(&manifest, INSTALLATION).unwrap();

    // 1. Create the Installation and the APIServer.
    let created = cluster
        .run_kubectl(&["create", "-f", manifest.to_str().unwrap()])
        .await;
    assert!(
        created
            .ok()
            .contains("installation.operator.tigera.io/default created"),
        "{}",
        created.stdout
    );

    // 2. Linux comes up; the operator says what Windows still lacks.
    let nodes = until(&cluster, "Linux nodes Ready", &["get", "nodes"], |list| {
        list["items"]
            .as_array()
            .is_some_and(|ns| ns.iter().filter(|n| os_of(n) == "linux").all(node_ready))
    })
    .await;
    assert!(
        nodes["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| os_of(n) == "windows")
            .all(|n| !node_ready(n)),
        "Windows waits for Calico"
    );
    let windows_status = until(
        &cluster,
        "calico-windows Degraded",
        &["get", "tigerastatus", "calico-windows"],
        |ts| condition(ts, "Degraded").is_some_and(|c| c["status"] == "True"),
    )
    .await;
    let degraded = condition(&windows_status, "Degraded").unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        degraded.contains("ServiceCIDRs")
            || degraded.contains("services endpoint configmap")
            || degraded.contains("StrictAffinity"),
        "the operator names what is missing: {degraded}"
    );
    let ds = cluster
        .run_kubectl(&["get", "ds", "calico-node-windows", "-n", "calico-system"])
        .await;
    assert_eq!(ds.code, 1, "no Windows DaemonSet yet");

    // As the docs say: wait for the Calico API server before using projectcalico.org/v3.
    until(
        &cluster,
        "tigerastatus apiserver Available",
        &["get", "tigerastatus", "apiserver"],
        |ts| condition(ts, "Available").is_some_and(|c| c["status"] == "True"),
    )
    .await;

    // 3. Supply strictAffinity, the services endpoint and the service CIDRs.
    let patched = cluster
        .run_kubectl(&[
            "patch",
            "ipamconfigurations",
            "default",
            "--type",
            "merge",
            "--patch",
            r#"{"spec": {"strictAffinity": true}}"#,
        ])
        .await;
    assert!(patched.ok().contains("patched"));
    cluster
        .run_kubectl(&[
            "create",
            "configmap",
            "kubernetes-services-endpoint",
            "-n",
            "tigera-operator",
            "--from-literal=KUBERNETES_SERVICE_HOST=10.224.0.4",
            "--from-literal=KUBERNETES_SERVICE_PORT=443",
        ])
        .await
        .ok();
    cluster
        .run_kubectl(&[
            "patch",
            "installation",
            "default",
            "--type",
            "merge",
            "-p",
            r#"{"spec": {"serviceCIDRs": ["10.0.0.0/16"]}}"#,
        ])
        .await
        .ok();
    until(
        &cluster,
        "the Windows DaemonSet",
        &["get", "ds", "-n", "calico-system"],
        |list| {
            list["items"].as_array().is_some_and(|ds| {
                ds.iter()
                    .any(|d| d["metadata"]["name"] == "calico-node-windows")
            })
        },
    )
    .await;
    let rollout = cluster
        .run_kubectl(&[
            "rollout",
            "status",
            "ds/calico-node-windows",
            "-n",
            "calico-system",
            "--timeout=90s",
        ])
        .await;
    assert!(
        rollout.ok().contains("successfully rolled out"),
        "{}",
        rollout.stdout
    );

    until(&cluster, "every node Ready", &["get", "nodes"], |list| {
        list["items"]
            .as_array()
            .is_some_and(|ns| ns.iter().all(node_ready))
    })
    .await;
    let pods = until(
        &cluster,
        "workloads Running with pool addresses",
        &["get", "pods", "-n", "default"],
        |list| {
            list["items"].as_array().is_some_and(|ps| {
                !ps.is_empty()
                    && ps.iter().all(|p| {
                        p["status"]["phase"] == "Running"
                            && p["status"]["podIP"]
                                .as_str()
                                .is_some_and(|ip| ip.starts_with("192.168."))
                    })
            })
        },
    )
    .await;
    assert!(pods["items"].as_array().unwrap().len() >= 5);
    let blocks = json(&cluster, &["get", "ipamblocks.crd.projectcalico.org"]).await;
    assert!(blocks["items"].as_array().is_some_and(|b| !b.is_empty()));
    let table = cluster
        .run_kubectl(&["get", "ipamblocks.crd.projectcalico.org"])
        .await;
    assert!(table.ok().contains("192-168-"), "{}", table.stdout);

    let simulated = cluster.handle.store.clock.now().duration_since(sim_start);
    println!(
        "converged in {:.1} s wall time, {:.0} s simulated time",
        started.elapsed().as_secs_f64(),
        simulated.as_secs_f64()
    );
    cluster.stop().await;
}
