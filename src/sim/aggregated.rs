//! The aggregated `projectcalico.org/v3` API that the Calico API server adds once its
//! `APIService v3.projectcalico.org` is Available (DOMAIN.md §0.2 mode B, §1.6): v3
//! `ipamconfigurations`, `ippools` and read-only `blockaffinities`, served as views of the
//! `crd.projectcalico.org/v1` storage. Reads convert v1 objects to v3; writes convert back and
//! go to the v1 object, as libcalico-go's backend client does, running only the v3 validator's
//! checks (not the library's cross-field rules).

use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::resource::{Origin, Registry, ResourceType};

pub const APISERVICE: &str = "v3.projectcalico.org";
pub const GROUP: &str = "projectcalico.org";
pub const VERSION: &str = "v3";
pub const STORAGE_GROUP: &str = "crd.projectcalico.org";

/// One v3 kind and the v1 kind that stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    pub plural: &'static str,
    pub kind: &'static str,
    pub short_names: &'static [&'static str],
    pub storage_plural: &'static str,
    pub storage_kind: &'static str,
    pub read_only: bool,
}

/// What the Calico API server registers (apiserver `storage_calico.go`), for the kinds the
/// simulator stores.
pub const VIEWS: &[View] = &[
    View {
        plural: "ipamconfigurations",
        kind: "IPAMConfiguration",
        short_names: &["ipamconfig"],
        storage_plural: "ipamconfigs",
        storage_kind: "IPAMConfig",
        read_only: false,
    },
    View {
        plural: "ippools",
        kind: "IPPool",
        short_names: &[],
        storage_plural: "ippools",
        storage_kind: "IPPool",
        read_only: false,
    },
    View {
        plural: "blockaffinities",
        kind: "BlockAffinity",
        short_names: &["blockaffinity", "affinity", "affinities"],
        storage_plural: "blockaffinities",
        storage_kind: "BlockAffinity",
        read_only: true,
    },
];

pub fn view(plural: &str) -> Option<&'static View> {
    VIEWS.iter().find(|v| v.plural == plural)
}

/// Whether a verb writes (and so is refused on read-only views).
pub fn is_write(verb: &str) -> bool {
    !matches!(verb, "get" | "list" | "watch")
}

/// Whether an APIService object says the Calico API is being served.
pub fn apiservice_available(apiservice: &Value) -> bool {
    apiservice.pointer("/metadata/name").and_then(Value::as_str) == Some(APISERVICE)
        && apiservice.pointer("/metadata/deletionTimestamp").is_none()
        && apiservice
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Available" && c["status"] == "True")
            })
}

/// Registers the v3 views whose storage is served when `available`, removes them otherwise;
/// leaves the registry untouched when it already matches.
pub fn sync_registration(registry: &mut Registry, available: bool) {
    let wanted: Vec<&View> = if available {
        VIEWS
            .iter()
            .filter(|v| {
                registry
                    .get(STORAGE_GROUP, "v1", v.storage_plural)
                    .is_some()
            })
            .collect()
    } else {
        Vec::new()
    };
    let current: Vec<&str> = registry
        .types()
        .filter(|rt| matches!(&rt.origin, Origin::Aggregated { apiservice, .. } if apiservice == APISERVICE))
        .map(|rt| rt.plural.as_str())
        .collect();
    if current.len() == wanted.len() && wanted.iter().all(|v| current.contains(&v.plural)) {
        return;
    }
    registry.remove_aggregated(APISERVICE);
    for v in wanted {
        registry.insert(ResourceType {
            group: GROUP.to_string(),
            version: VERSION.to_string(),
            kind: v.kind.to_string(),
            plural: v.plural.to_string(),
            singular: v.kind.to_lowercase(),
            namespaced: false,
            short_names: v.short_names.iter().map(ToString::to_string).collect(),
            categories: Vec::new(),
            has_status: false,
            has_eviction: false,
            has_generation: true,
            origin: Origin::Aggregated {
                apiservice: APISERVICE.to_string(),
                storage_plural: v.storage_plural.to_string(),
            },
        });
    }
}

/// The v3 form of a stored v1 object.
pub fn to_v3(view: &View, stored: &Value) -> Value {
    let mut out = stored.clone();
    out["apiVersion"] = json!(format!("{GROUP}/{VERSION}"));
    out["kind"] = json!(view.kind);
    if view.kind == "BlockAffinity"
        && let Some(spec) = out.get_mut("spec").and_then(Value::as_object_mut)
    {
        // v1 keeps `deleted` as a string for old writers; v3 has a bool.
        let deleted = spec
            .get("deleted")
            .is_some_and(|d| d == "true" || d == &json!(true));
        spec.insert("deleted".to_string(), json!(deleted));
        spec.entry("type".to_string()).or_insert(json!("host"));
    }
    if view.kind == "IPAMConfiguration"
        && let Some(spec) = out.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.entry("maxBlocksPerHost".to_string())
            .or_insert(json!(0));
    }
    out
}

/// The v1 object a v3 write stores, after the v3 validator's checks.
pub fn to_v1(view: &View, v3: &Value) -> Result<Value, ApiError> {
    let name = v3
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if view.read_only {
        return Err(ApiError::method_not_allowed(
            "Block affinity resources are read-only",
        ));
    }
    let mut out = v3.clone();
    out["apiVersion"] = json!(format!("{STORAGE_GROUP}/v1"));
    out["kind"] = json!(view.storage_kind);
    let spec = out.get("spec").cloned().unwrap_or_else(|| json!({}));
    let Value::Object(mut spec) = spec else {
        return Err(ApiError::bad_request("spec must be an object"));
    };
    if view.kind == "IPAMConfiguration" {
        if name != "default" {
            return Err(invalid(
                view,
                name,
                "metadata.name",
                "Cannot create an IPAMConfiguration resource with a name other than \"default\"",
            ));
        }
        if spec
            .get("maxBlocksPerHost")
            .and_then(Value::as_i64)
            .is_some_and(|m| m < 0)
        {
            return Err(invalid(
                view,
                name,
                "spec.maxBlocksPerHost",
                "must be greater than or equal to 0",
            ));
        }
        // The v1 schema requires both booleans; v3 defaults them.
        spec.entry("strictAffinity".to_string())
            .or_insert(json!(false));
        spec.entry("autoAllocateBlocks".to_string())
            .or_insert(json!(true));
        if spec.get("maxBlocksPerHost") == Some(&json!(0)) {
            spec.remove("maxBlocksPerHost");
        }
    }
    out["spec"] = Value::Object(spec);
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        strip_server_fields(meta);
    }
    Ok(out)
}

fn strip_server_fields(meta: &mut Map<String, Value>) {
    meta.remove("managedFields");
}

fn invalid(view: &View, name: &str, field: &str, detail: &str) -> ApiError {
    ApiError::invalid_field(
        &format!("{}.{GROUP}", view.kind),
        name,
        field,
        "FieldValueInvalid",
        detail,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ipam_view() -> &'static View {
        view("ipamconfigurations").unwrap()
    }

    #[test]
    fn ipamconfiguration_round_trips_through_v1() {
        let v1 = json!({"apiVersion": "crd.projectcalico.org/v1", "kind": "IPAMConfig",
                        "metadata": {"name": "default", "resourceVersion": "7"},
                        "spec": {"strictAffinity": false, "autoAllocateBlocks": true}});
        let v3 = to_v3(ipam_view(), &v1);
        assert_eq!(v3["apiVersion"], "projectcalico.org/v3");
        assert_eq!(v3["kind"], "IPAMConfiguration");
        assert_eq!(v3["spec"]["maxBlocksPerHost"], 0);
        let mut patched = v3.clone();
        patched["spec"]["strictAffinity"] = json!(true);
        let back = to_v1(ipam_view(), &patched).unwrap();
        assert_eq!(back["kind"], "IPAMConfig");
        assert_eq!(
            back["spec"],
            json!({"strictAffinity": true, "autoAllocateBlocks": true})
        );
        assert_eq!(
            back["metadata"]["resourceVersion"], "7",
            "the precondition travels"
        );
    }

    #[test]
    fn v3_validation_is_only_what_the_v3_validator_checks() {
        let v3 = json!({"metadata": {"name": "other"}, "spec": {}});
        assert!(
            to_v1(ipam_view(), &v3)
                .unwrap_err()
                .message
                .contains("other than \"default\"")
        );
        let negative = json!({"metadata": {"name": "default"}, "spec": {"maxBlocksPerHost": -1}});
        assert_eq!(to_v1(ipam_view(), &negative).unwrap_err().code, 422);
        // The library's cross-field rule (maxBlocksPerHost needs strictAffinity) is not enforced here.
        let cross = json!({"metadata": {"name": "default"}, "spec": {"maxBlocksPerHost": 4, "strictAffinity": false}});
        assert!(to_v1(ipam_view(), &cross).is_ok());
    }

    #[test]
    fn block_affinities_are_read_only_and_deleted_becomes_bool() {
        let v = view("blockaffinities").unwrap();
        let v1 = json!({"metadata": {"name": "n1-10-0-0-0-26"}, "spec": {"state": "confirmed", "node": "n1", "cidr": "10.0.0.0/26", "deleted": "false"}});
        let v3 = to_v3(v, &v1);
        assert_eq!(v3["spec"]["deleted"], false);
        assert_eq!(v3["spec"]["type"], "host");
        let err = to_v1(v, &v3).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (405, "Block affinity resources are read-only")
        );
    }

    #[test]
    fn views_appear_and_vanish_with_the_apiservice() {
        let mut registry = Registry::with_builtins();
        sync_registration(&mut registry, true);
        assert!(
            registry.get(GROUP, VERSION, "ipamconfigurations").is_none(),
            "no storage yet"
        );
        for crd in super::super::crds::calico_v1_crds() {
            for rt in super::super::resource::types_from_crd(&crd).unwrap() {
                registry.insert(rt);
            }
        }
        sync_registration(&mut registry, true);
        assert!(registry.get(GROUP, VERSION, "ipamconfigurations").is_some());
        assert!(registry.get(GROUP, VERSION, "blockaffinities").is_some());
        sync_registration(&mut registry, false);
        assert!(registry.get(GROUP, VERSION, "ippools").is_none());
        let available = json!({"metadata": {"name": APISERVICE}, "status": {"conditions": [{"type": "Available", "status": "True"}]}});
        assert!(apiservice_available(&available));
        assert!(!apiservice_available(
            &json!({"metadata": {"name": APISERVICE}})
        ));
    }
}
