//! kube-rs against the simulated API server, over real HTTP on 127.0.0.1: paging, watches
//! with bookmarks, a reflector that survives `410 Gone`, every patch type, dry run,
//! optimistic concurrency, eviction against a PodDisruptionBudget, TLS with tokens, the
//! read-only viewer, CRD registration and garbage collection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::runtime::watcher;
use serde_json::json;

use common::{Options, eventually, start};
use pooltop::sim::store::StoreConfig;

const LIMIT: Duration = Duration::from_secs(30);

fn api_code(err: &kube::Error) -> u16 {
    match err {
        kube::Error::Api(status) => status.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn configmap(name: &str, data: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": {"suite": "kube"}},
        "data": {"payload": data},
    }))
    .unwrap()
}

#[tokio::test]
async fn lists_page_through_a_consistent_snapshot() {
    let cluster = start(Options::api_only()).await;
    let client = cluster.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    for i in 0..25 {
        cms.create(
            &PostParams::default(),
            &configmap(&format!("cm-{i:02}"), "x"),
        )
        .await
        .unwrap();
    }
    let mut names = Vec::new();
    let mut params = ListParams::default().labels("suite=kube").limit(10);
    let mut versions = Vec::new();
    let mut pages = 0;
    loop {
        let page = cms.list(&params).await.unwrap();
        pages += 1;
        versions.push(page.metadata.resource_version.clone().unwrap());
        names.extend(page.items.iter().map(|c| c.metadata.name.clone().unwrap()));
        // An object created mid-way must not appear in later pages of the same list.
        if pages == 1 {
            cms.create(&PostParams::default(), &configmap("cm-00a-late", "x"))
                .await
                .unwrap();
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 25, "{names:?}");
    assert!(
        versions.windows(2).all(|w| w[0] == w[1]),
        "one resourceVersion for all pages: {versions:?}"
    );
    let sorted = {
        let mut s = names.clone();
        s.sort();
        s
    };
    assert_eq!(names, sorted);
    let field = cms
        .list(&ListParams::default().fields("metadata.name=cm-07"))
        .await
        .unwrap();
    assert_eq!(field.items.len(), 1);
    let bad = cms
        .list(&ListParams::default().fields("spec.nodeName=x"))
        .await
        .unwrap_err();
    assert_eq!(api_code(&bad), 400);
    let bad_token = cms
        .list(
            &ListParams::default()
                .limit(5)
                .continue_token("bm90LWEtdG9rZW4"),
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(&bad_token), 400);
    cluster.stop().await;
}

#[tokio::test]
async fn watch_sends_events_and_bookmarks_and_respects_selectors() {
    let cluster = start(Options::api_only()).await;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let params = WatchParams::default().labels("suite=kube").timeout(20);
    let mut stream = cms.watch(&params, &rv).await.unwrap().boxed();
    cms.create(&PostParams::default(), &configmap("watched", "1"))
        .await
        .unwrap();
    let mut other = configmap("unlabelled", "1");
    other.metadata.labels = None;
    cms.create(&PostParams::default(), &other).await.unwrap();
    // Dropping the label makes the object leave this watch's selection: a DELETED for us.
    cms.patch(
        "watched",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"suite": null}}})),
    )
    .await
    .unwrap();
    let (mut seen, mut bookmark_rv) = (Vec::new(), None);
    let deadline = tokio::time::Instant::now() + LIMIT;
    while seen.len() < 2 || bookmark_rv.is_none() {
        let event = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("events in time")
            .unwrap()
            .unwrap();
        match event {
            WatchEvent::Added(cm) => seen.push(format!("ADDED {}", cm.metadata.name.unwrap())),
            WatchEvent::Modified(cm) => {
                seen.push(format!("MODIFIED {}", cm.metadata.name.unwrap()));
            }
            WatchEvent::Deleted(cm) => seen.push(format!("DELETED {}", cm.metadata.name.unwrap())),
            WatchEvent::Bookmark(b) => bookmark_rv = Some(b.metadata.resource_version),
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    }
    assert_eq!(seen, ["ADDED watched", "DELETED watched"]);
    let bookmark: u64 = bookmark_rv.unwrap().parse().unwrap();
    assert!(bookmark >= rv.parse::<u64>().unwrap());
    cluster.stop().await;
}

#[tokio::test]
async fn watch_from_a_compacted_version_is_gone() {
    let store = StoreConfig {
        event_history: 10,
        ..StoreConfig::default()
    };
    let cluster = start(Options {
        store,
        ..Options::api_only()
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    for i in 0..30 {
        cms.create(
            &PostParams::default(),
            &configmap(&format!("churn-{i}"), "x"),
        )
        .await
        .unwrap();
    }
    let mut stream = cms
        .watch(&WatchParams::default(), "2")
        .await
        .unwrap()
        .boxed();
    match stream.next().await.unwrap().unwrap() {
        WatchEvent::Error(status) => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    cluster.stop().await;
}

#[tokio::test]
async fn reflector_relists_after_falling_behind_and_getting_410() {
    // A tiny history and watch buffer: a consumer that stops reading is dropped by the server
    // and, when it re-watches from its old version, is told 410 Gone.
    let store = StoreConfig {
        event_history: 64,
        watch_buffer: 64,
        ..StoreConfig::default()
    };
    let cluster = start(Options {
        store,
        ..Options::api_only()
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    let (reader, writer) = kube::runtime::reflector::store::<ConfigMap>();
    let mut events =
        kube::runtime::reflector(writer, watcher(cms.clone(), watcher::Config::default())).boxed();
    let mut inits = 0;
    loop {
        match tokio::time::timeout(LIMIT, events.next())
            .await
            .unwrap()
            .unwrap()
        {
            Ok(watcher::Event::Init) => inits += 1,
            Ok(watcher::Event::InitDone) => break,
            _ => {}
        }
    }
    // While nobody reads the stream, write far more than the server buffers or remembers.
    let registry = cluster.handle.store.registry();
    let rt = registry.get("", "v1", "configmaps").unwrap();
    let payload = "p".repeat(4096);
    for i in 0..4000 {
        let cm = serde_json::to_value(configmap(&format!("bulk-{i:04}"), &payload)).unwrap();
        cluster
            .handle
            .store
            .create(
                &rt,
                Some("default"),
                cm,
                &pooltop::sim::write::WriteOptions::default(),
            )
            .unwrap();
    }
    let mut saw_gone = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let next = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("reflector recovers in time")
            .unwrap();
        match next {
            Ok(watcher::Event::Init) => inits += 1,
            Ok(watcher::Event::InitDone) if inits >= 2 => break,
            Err(err) => {
                saw_gone |=
                    err.to_string().contains("410") || format!("{err:?}").contains("Expired");
            }
            _ => {}
        }
    }
    assert!(saw_gone, "the re-watch was answered with 410 Gone");
    assert_eq!(inits, 2, "one initial list and one relist");
    let bulk = reader
        .state()
        .iter()
        .filter(|cm| {
            cm.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("bulk-"))
        })
        .count();
    assert_eq!(bulk, 4000);
    cluster.stop().await;
}

/// A cluster, a client and the name of a worker node, for the patch tests.
async fn patch_setup() -> (common::TestCluster, kube::Client, String) {
    let cluster = start(Options::api_only()).await;
    let client = cluster.client().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let name = nodes.list(&ListParams::default()).await.unwrap().items[1]
        .metadata
        .name
        .clone()
        .unwrap();
    (cluster, client, name)
}

#[tokio::test]
async fn strategic_merge_and_json_patches() {
    let (cluster, client, name) = patch_setup().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let _ = (&nodes, &name, &cms);
    // Strategic merge (what kubectl cordon sends), then JSON merge, then JSON patch.
    let cordoned = nodes
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap();
    assert_eq!(cordoned.spec.unwrap().unschedulable, Some(true));
    let labelled = nodes
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "net"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labelled.metadata.labels.unwrap()["team"], "net");
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/labels/team", "value": "net"},
        {"op": "replace", "path": "/metadata/labels/team", "value": "calico"}
    ]))
    .unwrap();
    let replaced = nodes
        .patch(&name, &PatchParams::default(), &Patch::<()>::Json(ops))
        .await
        .unwrap();
    assert_eq!(replaced.metadata.labels.unwrap()["team"], "calico");
    let failing: json_patch::Patch = serde_json::from_value(
        json!([{"op": "test", "path": "/metadata/labels/team", "value": "nope"}]),
    )
    .unwrap();
    assert_eq!(
        api_code(
            &nodes
                .patch(&name, &PatchParams::default(), &Patch::<()>::Json(failing))
                .await
                .unwrap_err()
        ),
        422
    );

    cluster.stop().await;
}

#[tokio::test]
async fn server_side_apply_tracks_managers_and_conflicts() {
    let (cluster, client, name) = patch_setup().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let _ = (&nodes, &name, &cms);
    // Server-side apply: create, conflict with another manager, force.
    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "1"}});
    let first = cms
        .patch(
            "applied",
            &PatchParams::apply("alice"),
            &Patch::Apply(&applied),
        )
        .await
        .unwrap();
    assert_eq!(first.data.unwrap()["a"], "1");
    let managers: Vec<String> = first
        .metadata
        .managed_fields
        .unwrap()
        .iter()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert_eq!(managers, ["alice"]);
    let rival = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "2"}});
    let conflict = cms
        .patch("applied", &PatchParams::apply("bob"), &Patch::Apply(&rival))
        .await
        .unwrap_err();
    assert_eq!(api_code(&conflict), 409);
    let forced = cms
        .patch(
            "applied",
            &PatchParams::apply("bob").force(),
            &Patch::Apply(&rival),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["a"], "2");

    cluster.stop().await;
}

#[tokio::test]
async fn dry_run_shows_the_result_and_stores_nothing() {
    let (cluster, client, name) = patch_setup().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let _ = (&nodes, &name, &cms);
    // Dry run: the answer shows the result, the store keeps the old object.
    let before = nodes.get(&name).await.unwrap();
    let dry = PatchParams {
        dry_run: true,
        ..PatchParams::default()
    };
    let preview = nodes
        .patch(
            &name,
            &dry,
            &Patch::Merge(json!({"spec": {"unschedulable": false}})),
        )
        .await
        .unwrap();
    assert_eq!(preview.spec.unwrap().unschedulable, Some(false));
    let after = nodes.get(&name).await.unwrap();
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    let dry_create = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    cms.create(&dry_create, &configmap("never", "x"))
        .await
        .unwrap();
    assert_eq!(api_code(&cms.get("never").await.unwrap_err()), 404);

    cluster.stop().await;
}

#[tokio::test]
async fn stale_writes_conflict() {
    let (cluster, client, name) = patch_setup().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let _ = (&nodes, &name, &cms);
    // Optimistic concurrency: a write from a stale resourceVersion is a 409.
    cms.create(&PostParams::default(), &configmap("applied", "x"))
        .await
        .unwrap();
    let mut stale = cms.get("applied").await.unwrap();
    cms.patch(
        "applied",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"b": "x"}})),
    )
    .await
    .unwrap();
    stale.data.as_mut().unwrap().insert("c".into(), "y".into());
    let err = cms
        .replace("applied", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), 409);
    match err {
        kube::Error::Api(status) => assert!(
            status.message.contains("the object has been modified"),
            "{}",
            status.message
        ),
        _ => unreachable!(),
    }

    cluster.stop().await;
}

#[tokio::test]
async fn custom_resources_take_merge_but_not_strategic_patches() {
    let (cluster, client, name) = patch_setup().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let _ = (&nodes, &name, &cms);
    // Strategic merge is not defined for custom resources: 415, as a real server answers.
    let gvk = GroupVersionKind::gvk("operator.tigera.io", "v1", "Installation");
    let (resource, _) = kube::discovery::pinned_kind(&client, &gvk).await.unwrap();
    let installs: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let install: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": "default"},
        "spec": {"calicoNetwork": {"windowsDataplane": "HNS"}}
    }))
    .unwrap();
    installs
        .create(&PostParams::default(), &install)
        .await
        .unwrap();
    let strategic = installs
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"variant": "Calico"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(&strategic), 415);
    let merged = installs
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"variant": "Calico"}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.data["spec"]["variant"], "Calico");
    assert_eq!(
        merged.metadata.generation,
        Some(2),
        "a spec change bumps generation"
    );
    let status_only = installs
        .patch_status(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"variant": "Calico"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        status_only.metadata.generation,
        Some(2),
        "a status change does not"
    );
    let bad_enum = installs
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"calicoNetwork": {"windowsDataplane": "Bogus"}}})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_code(&bad_enum), 422);
    cluster.stop().await;
}

fn running_pod(name: &str, node: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "guarded"}},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "nginx:1.27"}]},
    })
}

#[tokio::test]
async fn eviction_honours_the_disruption_budget() {
    let cluster = start(Options::api_only()).await;
    let client = cluster.client().await;
    let node = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items[1]
        .metadata
        .name
        .clone()
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for name in ["guarded-1", "guarded-2"] {
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(running_pod(name, &node)).unwrap(),
        )
        .await
        .unwrap();
        let ready = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        pods.patch_status(name, &PatchParams::default(), &Patch::Merge(ready))
            .await
            .unwrap();
    }
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let pdb = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "guarded"},
                     "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "guarded"}}}});
    pdbs.create(
        &PostParams::default(),
        &serde_json::from_value(pdb).unwrap(),
    )
    .await
    .unwrap();
    let status = json!({"status": {"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2, "expectedPods": 2}});
    pdbs.patch_status("guarded", &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();

    let err = pods
        .evict("guarded-1", &EvictParams::default())
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected an API error")
    };
    assert_eq!(status.code, 429);
    let causes = status.details.unwrap().causes;
    assert_eq!(
        causes[0].message,
        "The disruption budget guarded needs 2 healthy pods and has 2 currently"
    );
    assert!(
        pods.get("guarded-1")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_none()
    );

    // With one disruption allowed the eviction goes through, consumes it, and the pod goes away
    // once its grace period ends.
    let allow =
        json!({"status": {"disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1}});
    pdbs.patch_status("guarded", &PatchParams::default(), &Patch::Merge(allow))
        .await
        .unwrap();
    pods.evict("guarded-1", &EvictParams::default())
        .await
        .unwrap();
    let budget = pdbs.get("guarded").await.unwrap().status.unwrap();
    assert_eq!(budget.disruptions_allowed, Some(0));
    assert!(budget.disrupted_pods.unwrap().contains_key("guarded-1"));
    eventually(
        LIMIT,
        "the evicted pod to be removed by its kubelet",
        || {
            let pods = pods.clone();
            async move {
                pods.get_opt("guarded-1")
                    .await
                    .unwrap()
                    .is_none()
                    .then_some(())
            }
        },
    )
    .await;
    assert_eq!(
        api_code(
            &pods
                .evict("guarded-2", &EvictParams::default())
                .await
                .unwrap_err()
        ),
        429
    );
    cluster.stop().await;
}

#[tokio::test]
async fn tls_with_tokens_and_a_read_only_viewer() {
    let cluster = start(Options {
        tls: true,
        ..Options::api_only()
    })
    .await;
    assert!(cluster.handle.url.starts_with("https://127.0.0.1:"));
    let admin = cluster.client().await;
    let nodes: Api<Node> = Api::all(admin);
    let list = nodes.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 6);
    let name = list.items[0].metadata.name.clone().unwrap();
    nodes
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"by": "admin"}}})),
        )
        .await
        .unwrap();

    let viewer: Api<Node> = Api::all(
        cluster
            .client_for(pooltop::sim::kubeconfig::VIEWER_CONTEXT)
            .await,
    );
    assert_eq!(
        viewer.get(&name).await.unwrap().metadata.labels.unwrap()["by"],
        "admin"
    );
    let err = viewer
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected a Status")
    };
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        status.message,
        format!(
            "nodes \"{name}\" is forbidden: User \"viewer\" cannot patch resource \"nodes\" in API group \"\" at the cluster scope"
        )
    );

    // No token over TLS is 401; the CA in the kubeconfig is what made the handshake work.
    let mut anonymous = kube::Config::new(cluster.handle.url.parse().unwrap());
    anonymous.root_cert = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&cluster.kubeconfig).unwrap(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap()
    .root_cert;
    anonymous.default_retry = false;
    let anonymous: Api<Node> = Api::all(kube::Client::try_from(anonymous).unwrap());
    assert_eq!(
        api_code(&anonymous.list(&ListParams::default()).await.unwrap_err()),
        401
    );
    cluster.stop().await;
}

#[tokio::test]
async fn crds_register_and_unregister_resources() {
    let cluster = start(Options::api_only()).await;
    let client = cluster.client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.pooltop.dev"},
        "spec": {"group": "example.pooltop.dev", "scope": "Namespaced",
                 "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList", "shortNames": ["wd"]},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "properties": {"size": {"type": "integer", "minimum": 1}}}}}}}]}
    });
    let created = crds
        .create(
            &PostParams::default(),
            &serde_json::from_value(crd).unwrap(),
        )
        .await
        .unwrap();
    let established = created
        .status
        .unwrap()
        .conditions
        .unwrap()
        .iter()
        .any(|c| c.type_ == "Established" && c.status == "True");
    assert!(established);

    let discovery = kube::Discovery::new(client.clone()).run().await.unwrap();
    let (resource, _) = discovery
        .resolve_gvk(&GroupVersionKind::gvk(
            "example.pooltop.dev",
            "v1",
            "Widget",
        ))
        .expect("discovered");
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let widget: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.pooltop.dev/v1", "kind": "Widget", "metadata": {"name": "w1"},
        "spec": {"size": 3, "colour": "pruned"}
    }))
    .unwrap();
    let stored = widgets
        .create(&PostParams::default(), &widget)
        .await
        .unwrap();
    assert_eq!(
        stored.data["spec"],
        json!({"size": 3}),
        "unknown fields are pruned"
    );
    let invalid: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.pooltop.dev/v1", "kind": "Widget", "metadata": {"name": "w2"}, "spec": {"size": 0}
    }))
    .unwrap();
    assert_eq!(
        api_code(
            &widgets
                .create(&PostParams::default(), &invalid)
                .await
                .unwrap_err()
        ),
        422
    );

    crds.delete("widgets.example.pooltop.dev", &DeleteParams::default())
        .await
        .unwrap();
    eventually(LIMIT, "the widgets resource to disappear", || {
        let widgets = widgets.clone();
        async move {
            widgets
                .list(&ListParams::default())
                .await
                .err()
                .map(|e| api_code(&e))
        }
    })
    .await;
    let discovery = kube::Discovery::new(client).run().await.unwrap();
    assert!(
        discovery
            .resolve_gvk(&GroupVersionKind::gvk(
                "example.pooltop.dev",
                "v1",
                "Widget"
            ))
            .is_none()
    );
    cluster.stop().await;
}

#[tokio::test]
async fn deleting_an_owner_collects_its_dependents() {
    // The operator pod's graceful deletion takes its grace period in simulated time: at 10x it
    // is over in seconds instead of taking most of the test's limit.
    let cluster = start(Options {
        speed: 10.0,
        ..Options::api_only()
    })
    .await;
    let client = cluster.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "tigera-operator");
    let before = pods.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(before.len(), 1, "the operator pod");
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "tigera-operator");
    deployments
        .delete("tigera-operator", &DeleteParams::default())
        .await
        .unwrap();
    let rs: Api<k8s_openapi::api::apps::v1::ReplicaSet> =
        Api::namespaced(client.clone(), "tigera-operator");
    eventually(LIMIT, "the ReplicaSet and its pod to be collected", || {
        let (rs, pods) = (rs.clone(), pods.clone());
        async move {
            let gone = rs
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .is_empty()
                && pods
                    .list(&ListParams::default())
                    .await
                    .unwrap()
                    .items
                    .is_empty();
            gone.then_some(())
        }
    })
    .await;
    // Namespaces terminate once their content is gone.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    namespaces
        .delete("tigera-operator", &DeleteParams::default())
        .await
        .unwrap();
    eventually(LIMIT, "the namespace to be removed", || {
        let namespaces = namespaces.clone();
        async move {
            namespaces
                .get_opt("tigera-operator")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        }
    })
    .await;
    let mut late = configmap("late", "x");
    late.metadata.namespace = None;
    let err = Api::<ConfigMap>::namespaced(cluster.client().await, "tigera-operator")
        .create(&PostParams::default(), &late)
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), 404);
    cluster.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_status_and_leaves_the_store_intact() {
    let cluster = start(Options::api_only()).await;
    let client = cluster.client().await;
    let before = cluster.handle.store.current_rv();
    let send = |method: &str, path: &str, content_type: &str, body: &str| {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(body.as_bytes().to_vec())
            .unwrap();
        let client = client.clone();
        async move { client.request_status::<serde_json::Value>(request).await }
    };
    let cases = [
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            "{not json",
            400,
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/nodes",
            "application/json",
            r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"Bad_Name"}}"#,
            422,
        ),
        ("GET", "/api/v1/widgets", "application/json", "", 404),
        (
            "GET",
            "/apis/nope.example.com/v1/things",
            "application/json",
            "",
            404,
        ),
        (
            "PATCH",
            "/api/v1/nodes/nope",
            "application/merge-patch+json",
            "{}",
            404,
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default",
            "text/plain",
            "{}",
            415,
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default",
            "application/json-patch+json",
            r#"{"op":"add"}"#,
            400,
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default",
            "application/strategic-merge-patch+json",
            r#"{"metadata":{"$patch":"bogus"}}"#,
            400,
        ),
    ];
    for (method, path, content_type, body, code) in cases {
        let result = send(method, path, content_type, body).await;
        let status = match result {
            Ok(either) => panic!("{method} {path} succeeded: {either:?}"),
            Err(kube::Error::Api(status)) => status,
            Err(other) => panic!("{method} {path}: {other:?}"),
        };
        assert_eq!(status.code, code, "{method} {path}: {}", status.message);
    }
    assert_eq!(
        cluster.handle.store.current_rv(),
        before,
        "no failed request wrote anything"
    );
    cluster.stop().await;
}

#[tokio::test]
async fn metadata_only_lists_and_watches() {
    let cluster = start(Options::api_only()).await;
    let nodes: Api<Node> = Api::all(cluster.client().await);
    let list = nodes.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 6);
    assert!(list.items.iter().all(|m| {
        m.metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key("kubernetes.io/os"))
    }));
    let mut labels = BTreeMap::new();
    labels.insert("kubernetes.io/os".to_string(), "windows".to_string());
    let windows = nodes
        .list_metadata(&ListParams::default().labels("kubernetes.io/os=windows"))
        .await
        .unwrap();
    assert_eq!(windows.items.len(), 2);
    assert!(windows.items.iter().all(
        |m| m.metadata.labels.as_ref().unwrap().get("kubernetes.io/os")
            == labels.get("kubernetes.io/os")
    ));
    let rv = list.metadata.resource_version.unwrap();
    let mut stream = nodes
        .watch_metadata(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap()
        .boxed();
    let name = list.items[0].metadata.name.clone().unwrap();
    nodes
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"touched": "yes"}}})),
        )
        .await
        .unwrap();
    let event = tokio::time::timeout(LIMIT, stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let WatchEvent::Modified(meta) = event else {
        panic!("expected MODIFIED, got {event:?}")
    };
    assert_eq!(meta.metadata.annotations.unwrap()["touched"], "yes");
    cluster.stop().await;
}
