//! API discovery documents, built from the registry: the aggregated
//! `apidiscovery.k8s.io/v2` lists kubectl asks for first, and the legacy `APIVersions`,
//! `APIGroupList`, `APIGroup` and `APIResourceList` documents older clients and `kubectl drain`
//! read. `/version` reports a 1.32 server, which also decides which kubectl binary the
//! machine's kubectl dispatcher runs.

use serde_json::{Value, json};

use super::resource::{Registry, ResourceType};

/// The aggregated-discovery content type kubectl requests.
pub const AGGREGATED_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
pub const AGGREGATED_V2BETA1: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

const ALL_VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const STATUS_VERBS: [&str; 3] = ["get", "patch", "update"];

/// Which aggregated version an `Accept` header asks for, if any.
pub fn aggregated_version(accept: &str) -> Option<&'static str> {
    accept
        .split(',')
        .map(|media| media.split(';').map(str::trim).collect::<Vec<_>>())
        .find_map(|params| {
            let wants_list = params.contains(&"as=APIGroupDiscoveryList")
                && params.contains(&"g=apidiscovery.k8s.io");
            if !wants_list {
                return None;
            }
            if params.contains(&"v=v2") {
                Some("v2")
            } else if params.contains(&"v=v2beta1") {
                Some("v2beta1")
            } else {
                None
            }
        })
}

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.4",
        "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335",
        "gitTreeState": "clean",
        "buildDate": "2025-04-22T16:02:27Z",
        "goVersion": "go1.23.6",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn scope(rt: &ResourceType) -> &'static str {
    if rt.namespaced {
        "Namespaced"
    } else {
        "Cluster"
    }
}

fn aggregated_resource(rt: &ResourceType) -> Value {
    let kind = json!({ "group": rt.group, "version": rt.version, "kind": rt.kind });
    let mut subresources = Vec::new();
    if rt.has_status {
        subresources
            .push(json!({ "subresource": "status", "responseKind": kind, "verbs": STATUS_VERBS }));
    }
    if rt.has_eviction {
        subresources.push(json!({
            "subresource": "eviction",
            "responseKind": { "group": "policy", "version": "v1", "kind": "Eviction" },
            "verbs": ["create"],
        }));
    }
    let mut resource = json!({
        "resource": rt.plural,
        "responseKind": kind,
        "scope": scope(rt),
        "singularResource": rt.singular,
        "verbs": ALL_VERBS,
    });
    if !rt.short_names.is_empty() {
        resource["shortNames"] = json!(rt.short_names);
    }
    if !rt.categories.is_empty() {
        resource["categories"] = json!(rt.categories);
    }
    if !subresources.is_empty() {
        resource["subresources"] = Value::Array(subresources);
    }
    resource
}

/// The aggregated list for `/api` (`core == true`) or `/apis`.
pub fn aggregated(registry: &Registry, core: bool, version: &str) -> Value {
    let items: Vec<Value> = registry
        .groups()
        .into_iter()
        .filter(|(group, _)| group.is_empty() == core)
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = registry.group_version(&group, v).iter().map(|rt| aggregated_resource(rt)).collect();
                    json!({ "version": v, "resources": resources, "freshness": "Current" })
                })
                .collect();
            json!({ "metadata": { "name": group, "creationTimestamp": null }, "versions": versions })
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }],
    })
}

fn group_document(group: &str, versions: &[String]) -> Value {
    let entries: Vec<Value> = versions
        .iter()
        .map(|v| json!({ "groupVersion": format!("{group}/{v}"), "version": v }))
        .collect();
    let preferred = entries.first().cloned().unwrap_or_else(|| json!({}));
    json!({ "name": group, "versions": entries, "preferredVersion": preferred })
}

pub fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry
        .groups()
        .into_iter()
        .filter(|(group, _)| !group.is_empty())
        .map(|(group, versions)| group_document(&group, &versions))
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `/apis/GROUP`, or `None` for a group nobody serves.
pub fn group(registry: &Registry, name: &str) -> Option<Value> {
    let (group, versions) = registry
        .groups()
        .into_iter()
        .find(|(g, _)| g == name && !g.is_empty())?;
    let mut doc = group_document(&group, &versions);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

/// `/api/v1` or `/apis/GROUP/VERSION`, or `None` when nothing is served there.
pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let types = registry.group_version(group, version);
    if types.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for rt in &types {
        let mut main = json!({
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": ALL_VERBS,
        });
        if !rt.short_names.is_empty() {
            main["shortNames"] = json!(rt.short_names);
        }
        if !rt.categories.is_empty() {
            main["categories"] = json!(rt.categories);
        }
        resources.push(main);
        if rt.has_status {
            resources.push(json!({
                "name": format!("{}/status", rt.plural), "singularName": "", "namespaced": rt.namespaced,
                "kind": rt.kind, "verbs": STATUS_VERBS,
            }));
        }
        if rt.has_eviction {
            resources.push(json!({
                "name": format!("{}/eviction", rt.plural), "singularName": "", "namespaced": rt.namespaced,
                "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"],
            }));
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources }),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_accept_header_selects_v2() {
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_version(accept), Some("v2"));
        assert_eq!(aggregated_version("application/json, */*"), None);
        assert_eq!(
            aggregated_version(
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
            ),
            Some("v2beta1")
        );
    }

    #[test]
    fn core_group_is_one_item_named_empty() {
        let registry = Registry::with_builtins();
        let doc = aggregated(&registry, true, "v2");
        assert_eq!(doc["items"].as_array().unwrap().len(), 1);
        assert_eq!(doc["items"][0]["metadata"]["name"], "");
        let pods = doc["items"][0]["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "pods")
            .unwrap();
        assert_eq!(pods["scope"], "Namespaced");
        let eviction = pods["subresources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["subresource"] == "eviction")
            .unwrap();
        assert_eq!(eviction["responseKind"]["group"], "policy");
    }

    #[test]
    fn legacy_core_list_advertises_policy_v1_eviction() {
        let registry = Registry::with_builtins();
        let doc = resource_list(&registry, "", "v1").unwrap();
        let eviction = doc["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pods/eviction")
            .unwrap();
        assert_eq!(
            (eviction["group"].as_str(), eviction["version"].as_str()),
            (Some("policy"), Some("v1"))
        );
        assert!(resource_list(&registry, "nope", "v1").is_none());
        assert_eq!(
            group(&registry, "apps").unwrap()["preferredVersion"]["groupVersion"],
            "apps/v1"
        );
    }
}
