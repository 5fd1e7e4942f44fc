//! The aggregated `projectcalico.org/v3` API (Calico API server, DOMAIN.md §0.2 mode B)
//! against kubectl and kube-rs: absent until its APIService is Available, then serving
//! v3 views of the v1 storage, including the strictAffinity patch the Calico docs give.
// One walkthrough reads best as one story, so this test is long on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use futures::StreamExt;
use kube::api::{
    Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::GroupVersionKind;
use serde_json::json;

use common::{Options, start};

fn dynamic(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

#[tokio::test]
async fn v3_views_follow_the_apiservice_and_write_through_to_v1() {
    let cluster = start(Options::api_only()).await;
    let client = cluster.client().await;
    let v1 = Api::<DynamicObject>::all_with(
        client.clone(),
        &dynamic("crd.projectcalico.org", "v1", "IPAMConfig", "ipamconfigs"),
    );
    let config: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "crd.projectcalico.org/v1", "kind": "IPAMConfig", "metadata": {"name": "default"},
        "spec": {"strictAffinity": false, "autoAllocateBlocks": true}
    }))
    .unwrap();
    v1.create(&PostParams::default(), &config).await.unwrap();

    // Mode A: no Calico API server, so kubectl cannot resolve the v3 resource.
    let missing = cluster.run_kubectl(&["get", "ipamconfigurations"]).await;
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .contains("the server doesn't have a resource type \"ipamconfigurations\""),
        "{}",
        missing.stderr
    );

    let apiservices = Api::<DynamicObject>::all_with(
        client.clone(),
        &dynamic("apiregistration.k8s.io", "v1", "APIService", "apiservices"),
    );
    let apiservice: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v3.projectcalico.org"},
        "spec": {"group": "projectcalico.org", "version": "v3", "groupPriorityMinimum": 1500, "versionPriority": 200,
                 "service": {"name": "calico-api", "namespace": "calico-apiserver", "port": 443}, "insecureSkipTLSVerify": true}
    }))
    .unwrap();
    apiservices
        .create(&PostParams::default(), &apiservice)
        .await
        .unwrap();
    let still_missing = cluster.run_kubectl(&["get", "ipamconfigurations"]).await;
    assert_eq!(still_missing.code, 1, "registered but not yet Available");
    let available = json!({"status": {"conditions": [{"type": "Available", "status": "True", "reason": "Passed", "message": "all checks passed", "lastTransitionTime": "2026-11-29T10:00:00Z"}]}});
    apiservices
        .patch_status(
            "v3.projectcalico.org",
            &PatchParams::default(),
            &Patch::Merge(available),
        )
        .await
        .unwrap();

    // Mode B: the docs' command works and writes the v1 object, keeping unpatched fields.
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
    assert_eq!(
        patched.ok().trim(),
        "ipamconfiguration.projectcalico.org/default patched"
    );
    let stored = v1.get("default").await.unwrap();
    assert_eq!(
        stored.data["spec"],
        json!({"strictAffinity": true, "autoAllocateBlocks": true})
    );
    let shown = cluster
        .run_kubectl(&[
            "get",
            "ipamconfigurations.projectcalico.org",
            "default",
            "-o",
            "json",
        ])
        .await;
    let shown: serde_json::Value = serde_json::from_str(shown.ok()).unwrap();
    assert_eq!(
        (shown["apiVersion"].as_str(), shown["kind"].as_str()),
        (Some("projectcalico.org/v3"), Some("IPAMConfiguration"))
    );
    assert_eq!(shown["spec"]["maxBlocksPerHost"], 0);

    // The v3 validator's rules apply; the library's cross-field rules do not (DOMAIN.md §1.4).
    let named = cluster
        .run_kubectl(&[
            "patch",
            "ipamconfigurations",
            "default",
            "--type",
            "merge",
            "-p",
            r#"{"spec": {"maxBlocksPerHost": -1}}"#,
        ])
        .await;
    assert_eq!(named.code, 1, "{}", named.stdout);

    // v3 watches see writes made to the v1 storage, converted.
    let v3 = Api::<DynamicObject>::all_with(
        client.clone(),
        &dynamic(
            "projectcalico.org",
            "v3",
            "IPAMConfiguration",
            "ipamconfigurations",
        ),
    );
    let rv = v3
        .get("default")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut events = v3
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap()
        .boxed();
    v1.patch(
        "default",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"autoAllocateBlocks": false}})),
    )
    .await
    .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let WatchEvent::Modified(obj) = event else {
        panic!("expected MODIFIED, got {event:?}")
    };
    assert_eq!(obj.types.unwrap().kind, "IPAMConfiguration");
    assert_eq!(obj.data["spec"]["autoAllocateBlocks"], false);

    // Block affinities are read-only through the v3 API.
    let affinities = cluster
        .run_kubectl(&["get", "blockaffinities.projectcalico.org"])
        .await;
    assert_eq!(affinities.code, 0, "{}", affinities.stderr);
    let denied = cluster
        .run_kubectl(&[
            "delete",
            "blockaffinities.projectcalico.org",
            "some-node-10-0-0-0-26",
        ])
        .await;
    assert_eq!(denied.code, 1);
    assert!(
        denied
            .stderr
            .contains("Block affinity resources are read-only"),
        "{}",
        denied.stderr
    );

    // Without the APIService the v3 group is gone again.
    apiservices
        .delete("v3.projectcalico.org", &kube::api::DeleteParams::default())
        .await
        .unwrap();
    let gone = cluster
        .run_kubectl(&["get", "ipamconfigurations.projectcalico.org"])
        .await;
    assert_eq!(gone.code, 1, "{}", gone.stdout);
    cluster.stop().await;
}
