//! `cluster::connect` and the real `ClusterWriter` against the simulator: kubeconfig resolution
//! like kubectl's, one-line connection errors, the read-only guard, Status codes mapped to
//! `WriteError`, evictions blocked by a budget, dry runs, and the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Options, TestCluster};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use pooltop::cluster::readonly::is_write_refused;
use pooltop::cluster::{AuditLog, ConnectError, ConnectOptions, KubeWriter, connect, contexts};
use pooltop::model::SourceKind;
use pooltop::ops::{ClusterWriter, ObjectRef, Write, WriteError};
use pooltop::sim::kubeconfig::{ADMIN_CONTEXT, RESTRICTED_CONTEXT, VIEWER_CONTEXT};
use pooltop::sim::scenario::Scenario;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(60);

fn options(kubeconfig: &Path, context: Option<&str>) -> ConnectOptions {
    ConnectOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: context.map(str::to_owned),
        ..ConnectOptions::default()
    }
}

fn node(name: &str) -> ObjectRef {
    ObjectRef {
        group: String::new(),
        version: "v1".into(),
        kind: "Node".into(),
        plural: "nodes".into(),
        namespace: None,
        name: name.into(),
    }
}

fn cordon(name: &str) -> Write {
    Write::StrategicPatch {
        target: node(name),
        patch: json!({"spec": {"unschedulable": true}}),
    }
}

async fn first_node(cluster: &TestCluster) -> String {
    let nodes: Api<Node> = Api::all(cluster.client().await);
    let list = nodes.list(&ListParams::default()).await.unwrap();
    list.items[0].metadata.name.clone().unwrap()
}

async fn unschedulable(cluster: &TestCluster, name: &str) -> bool {
    let nodes: Api<Node> = Api::all(cluster.client().await);
    let node = nodes.get(name).await.unwrap();
    node.spec.and_then(|s| s.unschedulable).unwrap_or(false)
}

fn audit_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn connects_through_the_written_kubeconfig_and_writes_with_an_audit_trail() {
    tokio::time::timeout(LIMIT, async {
        let cluster = common::start(Options::api_only()).await;
        let mut opts = options(&cluster.kubeconfig, None);
        opts.source_kind = SourceKind::Simulated;
        let connection = connect(&opts).await.unwrap();
        assert_eq!(connection.source.context, ADMIN_CONTEXT);
        assert_eq!(connection.source.server, cluster.handle.url);
        assert_eq!(connection.source.kind, SourceKind::Simulated);
        assert!(!connection.source.readonly);
        assert!(
            connection
                .source
                .server_version
                .as_deref()
                .is_some_and(|v| v.starts_with("v1."))
        );

        let audit_path = cluster.dir.path().join("state/audit.jsonl");
        let writer = KubeWriter::new(&connection, AuditLog::at(&audit_path));
        let name = first_node(&cluster).await;

        // get: present and absent
        let got = writer.get(&node(&name)).await.unwrap().unwrap();
        assert_eq!(got["metadata"]["name"], name.as_str());
        assert_eq!(writer.get(&node("no-such-node")).await.unwrap(), None);

        // dry run: validated, answered, not persisted, not audited
        let answer = writer.write(&cordon(&name), true).await.unwrap();
        assert_eq!(answer["spec"]["unschedulable"], true);
        assert!(!unschedulable(&cluster, &name).await);
        assert!(audit_lines(&audit_path).is_empty());

        // the real cordon, audited with before and after
        let answer = writer.write(&cordon(&name), false).await.unwrap();
        assert_eq!(answer["spec"]["unschedulable"], true);
        assert!(unschedulable(&cluster, &name).await);
        let lines = audit_lines(&audit_path);
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["verb"], "patch");
        assert_eq!(line["target"], format!("nodes/{name}"));
        assert_eq!(line["context"], ADMIN_CONTEXT);
        assert_eq!(line["server"], cluster.handle.url.as_str());
        assert_eq!(line["dry_run"], false);
        assert_eq!(line["before"]["metadata"]["name"], name.as_str());
        assert!(line["before"]["spec"].get("unschedulable").is_none());
        assert_eq!(line["after"]["spec"]["unschedulable"], true);
        assert_eq!(line["error"], Value::Null);

        // not found, audited with the error
        let missing = Write::MergePatch {
            target: node("no-such-node"),
            patch: json!({"metadata": {"labels": {"a": "b"}}}),
        };
        let error = writer.write(&missing, false).await.unwrap_err();
        assert!(matches!(error, WriteError::NotFound(_)), "{error:?}");
        let lines = audit_lines(&audit_path);
        assert_eq!(lines.len(), 2);
        assert!(lines[1]["error"].as_str().unwrap().contains("not found"));

        // conflict: a replace carrying a stale resourceVersion
        let mut stale = got.clone();
        stale["metadata"]["labels"]["pooltop.test/stale"] = json!("yes");
        let replace = Write::Replace {
            target: node(&name),
            body: stale,
        };
        let error = writer.write(&replace, false).await.unwrap_err();
        assert!(matches!(error, WriteError::Conflict(_)), "{error:?}");

        // create twice: the second is AlreadyExists; then delete it
        let namespace = ObjectRef {
            group: String::new(),
            version: "v1".into(),
            kind: "Namespace".into(),
            plural: "namespaces".into(),
            namespace: None,
            name: "pooltop-test".into(),
        };
        let body =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pooltop-test"}});
        let create = Write::Create {
            target: namespace.clone(),
            body,
        };
        writer.write(&create, false).await.unwrap();
        let error = writer.write(&create, false).await.unwrap_err();
        assert!(matches!(error, WriteError::AlreadyExists(_)), "{error:?}");
        let delete = Write::Delete {
            target: namespace,
            grace_period_seconds: None,
        };
        writer.write(&delete, false).await.unwrap();
        let verbs: Vec<String> = audit_lines(&audit_path)
            .iter()
            .map(|l| l["verb"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            verbs,
            ["patch", "patch", "update", "create", "create", "delete"]
        );
        cluster.stop().await;
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn an_eviction_blocked_by_a_budget_is_429_with_the_budget_cause() {
    tokio::time::timeout(LIMIT, async {
        let cluster = common::start(Options {
            scenario: Scenario::Healthy,
            ..Options::default()
        })
        .await;
        let connection = connect(&options(&cluster.kubeconfig, None)).await.unwrap();
        let audit_path = cluster.dir.path().join("audit.jsonl");
        let writer = KubeWriter::new(&connection, AuditLog::at(&audit_path));
        let budget = ObjectRef {
            group: "policy".into(),
            version: "v1".into(),
            kind: "PodDisruptionBudget".into(),
            plural: "poddisruptionbudgets".into(),
            namespace: Some("default".into()),
            name: "web".into(),
        };
        let body = json!({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"minAvailable": "100%", "selector": {"matchLabels": {"app": "web"}}},
        });
        writer
            .write(
                &Write::Create {
                    target: budget.clone(),
                    body,
                },
                false,
            )
            .await
            .unwrap();
        // Wait for the disruption controller to have computed the budget.
        common::eventually(LIMIT, "the budget's status", || async {
            let pdb = writer.get(&budget).await.unwrap()?;
            let observed = pdb["status"]["observedGeneration"].as_i64()?;
            (observed == pdb["metadata"]["generation"].as_i64()?
                && pdb["status"]["currentHealthy"].as_i64()? > 0)
                .then_some(())
        })
        .await;
        let pods: Api<Pod> = Api::namespaced(connection.client.clone(), "default");
        let web = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .unwrap();
        let victim = web.items[0].metadata.name.clone().unwrap();
        let evict = Write::Evict {
            target: ObjectRef {
                group: String::new(),
                version: "v1".into(),
                kind: "Pod".into(),
                plural: "pods".into(),
                namespace: Some("default".into()),
                name: victim.clone(),
            },
            grace_period_seconds: Some(0),
        };
        let error = writer.write(&evict, true).await.unwrap_err();
        let WriteError::TooManyRequests(cause) = &error else {
            panic!("expected 429, got {error:?}");
        };
        assert!(cause.contains("disruption budget web"), "{cause}");
        let error = writer.write(&evict, false).await.unwrap_err();
        assert!(matches!(error, WriteError::TooManyRequests(_)));
        assert!(pods.get_opt(&victim).await.unwrap().is_some());
        let lines = audit_lines(&audit_path);
        assert_eq!(lines.last().unwrap()["verb"], "create");
        assert!(
            lines.last().unwrap()["error"]
                .as_str()
                .unwrap()
                .contains("disruption budget")
        );

        // Without the budget the same eviction goes through.
        writer
            .write(
                &Write::Delete {
                    target: budget,
                    grace_period_seconds: None,
                },
                false,
            )
            .await
            .unwrap();
        writer.write(&evict, true).await.unwrap();
        assert!(pods.get_opt(&victim).await.unwrap().is_some(), "dry run");
        writer.write(&evict, false).await.unwrap();
        cluster.stop().await;
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn a_readonly_connection_never_sends_a_write() {
    tokio::time::timeout(LIMIT, async {
        let cluster = common::start(Options::api_only()).await;
        let mut opts = options(&cluster.kubeconfig, Some(ADMIN_CONTEXT));
        opts.readonly = true;
        let connection = connect(&opts).await.unwrap();
        assert!(connection.source.readonly);
        let name = first_node(&cluster).await;

        // The writer refuses by itself, and says so in the audit log.
        let audit_path = cluster.dir.path().join("audit.jsonl");
        let writer = KubeWriter::new(&connection, AuditLog::at(&audit_path));
        assert_eq!(
            writer.write(&cordon(&name), false).await,
            Err(WriteError::ReadOnly)
        );
        assert_eq!(
            writer.write(&cordon(&name), true).await,
            Err(WriteError::ReadOnly)
        );
        let lines = audit_lines(&audit_path);
        assert_eq!(lines.len(), 1);
        assert!(lines[0]["error"].as_str().unwrap().contains("read-only"));

        // Even code that bypasses the writer cannot write through this client.
        let nodes: Api<Node> = Api::all(connection.client.clone());
        let error = nodes
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Strategic(json!({"spec": {"unschedulable": true}})),
            )
            .await
            .unwrap_err();
        assert!(is_write_refused(&error), "{error}");
        let error = nodes
            .delete(&name, &kube::api::DeleteParams::default())
            .await
            .unwrap_err();
        assert!(is_write_refused(&error), "{error}");
        // Reads still work, and nothing changed.
        assert!(nodes.get(&name).await.is_ok());
        assert!(!unschedulable(&cluster, &name).await);
        cluster.stop().await;
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn the_viewer_over_tls_is_forbidden_to_write() {
    tokio::time::timeout(LIMIT, async {
        let cluster = common::start(Options {
            tls: true,
            ..Options::api_only()
        })
        .await;
        let connection = connect(&options(&cluster.kubeconfig, Some(VIEWER_CONTEXT)))
            .await
            .unwrap();
        assert!(connection.source.server.starts_with("https://"));
        let audit_path = cluster.dir.path().join("audit.jsonl");
        let writer = KubeWriter::new(&connection, AuditLog::at(&audit_path));
        let name = first_node(&cluster).await;
        assert!(writer.get(&node(&name)).await.unwrap().is_some());
        let error = writer.write(&cordon(&name), false).await.unwrap_err();
        assert!(matches!(error, WriteError::Forbidden(_)), "{error:?}");
        let lines = audit_lines(&audit_path);
        assert_eq!(lines.len(), 1);
        assert!(lines[0]["error"].as_str().unwrap().starts_with("forbidden"));
        assert_eq!(lines[0]["context"], VIEWER_CONTEXT);
        cluster.stop().await;
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn connection_errors_are_one_line_and_name_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();

    let malformed = write_file(dir.path(), "broken.yaml", "clusters: [unclosed\n  - {\n");
    let error = connect(&options(&malformed, None)).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ConnectError::Malformed { .. }), "{text}");
    assert!(text.contains(&malformed.display().to_string()), "{text}");
    assert!(!text.contains('\n'), "{text}");

    let dead = write_file(
        dir.path(),
        "dead.yaml",
        "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:1'}\ncontexts:\n- name: prod\n  context: {cluster: c, user: u}\n- name: staging\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {token: t}\n",
    );
    let error = tokio::time::timeout(LIMIT, connect(&options(&dead, None)))
        .await
        .unwrap()
        .unwrap_err();
    let text = error.to_string();
    assert_eq!(
        text,
        "cannot reach the API server of context \"prod\" at http://127.0.0.1:1: connection refused (try `pooltop demo` for a simulated cluster)"
    );

    let error = connect(&options(&dead, Some("qa"))).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "context \"qa\" is not in the kubeconfig; known contexts: prod, staging"
    );

    let error = connect(&options(&dir.path().join("absent.yaml"), None))
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectError::Unreadable { .. }), "{error}");
}

#[tokio::test]
async fn kubeconfig_files_merge_like_kubectl_the_first_file_wins() {
    tokio::time::timeout(LIMIT, async {
        let cluster = common::start(Options::api_only()).await;
        // A second file that redefines the sim's context to point nowhere and sets its own
        // current-context: neither may override the first file.
        let other = write_file(
            cluster.dir.path(),
            "other.yaml",
            &format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: elsewhere\nclusters:\n- name: nowhere\n  cluster: {{server: 'http://127.0.0.1:1'}}\ncontexts:\n- name: {ADMIN_CONTEXT}\n  context: {{cluster: nowhere, user: u}}\n- name: elsewhere\n  context: {{cluster: nowhere, user: u}}\nusers:\n- name: u\n  user: {{token: t}}\n"
            ),
        );
        let missing = cluster.dir.path().join("missing.yaml");
        let env = std::env::join_paths([&cluster.kubeconfig, &missing, &other]).unwrap();
        let opts = ConnectOptions {
            kubeconfig_env: Some(env),
            ..ConnectOptions::default()
        };
        let listed = contexts(&opts).unwrap();
        assert_eq!(listed.current.as_deref(), Some(ADMIN_CONTEXT));
        assert_eq!(
            listed.names,
            [ADMIN_CONTEXT, VIEWER_CONTEXT, RESTRICTED_CONTEXT, "elsewhere"]
        );
        let connection = connect(&opts).await.unwrap();
        assert_eq!(connection.source.context, ADMIN_CONTEXT);
        assert_eq!(connection.source.server, cluster.handle.url);

        // The other order: the second file's current-context and definition win.
        let env: OsString = std::env::join_paths([&other, &cluster.kubeconfig]).unwrap();
        let opts = ConnectOptions {
            kubeconfig_env: Some(env),
            context: Some(ADMIN_CONTEXT.into()),
            ..ConnectOptions::default()
        };
        assert_eq!(contexts(&opts).unwrap().current.as_deref(), Some("elsewhere"));
        let error = connect(&opts).await.unwrap_err();
        assert!(matches!(error, ConnectError::Unreachable { .. }), "{error}");
        cluster.stop().await;
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn an_exec_credential_plugin_supplies_the_token() {
    tokio::time::timeout(LIMIT, async {
        let cluster = common::start(Options {
            tls: true,
            ..Options::api_only()
        })
        .await;
        // The plugin prints an ExecCredential carrying the admin token, as cloud CLIs do.
        let plugin = write_file(
            cluster.dir.path(),
            "credential-plugin.sh",
            &format!(
                "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'\n",
                cluster.handle.admin_token
            ),
        );
        std::fs::set_permissions(
            &plugin,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let mut kubeconfig = kube::config::Kubeconfig::read_from(&cluster.kubeconfig).unwrap();
        for named in &mut kubeconfig.auth_infos {
            let user = named.auth_info.get_or_insert_with(Default::default);
            user.token = None;
            user.exec = Some(kube::config::ExecConfig {
                api_version: Some("client.authentication.k8s.io/v1beta1".into()),
                command: Some(plugin.display().to_string()),
                ..kube::config::ExecConfig::default()
            });
        }
        // JSON is YAML: the file reads like any kubeconfig.
        let path = write_file(
            cluster.dir.path(),
            "exec.yaml",
            &serde_json::to_string(&kubeconfig).unwrap(),
        );
        let connection = connect(&options(&path, Some(ADMIN_CONTEXT))).await.unwrap();
        let writer = KubeWriter::new(&connection, AuditLog::disabled());
        let name = first_node(&cluster).await;
        writer.write(&cordon(&name), false).await.unwrap();
        assert!(unschedulable(&cluster, &name).await);
        cluster.stop().await;
    })
    .await
    .expect("bounded");
}
