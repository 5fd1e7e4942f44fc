//! Decoding of built-in kinds the way kube-apiserver decodes them into its Go types: each
//! object is read into the matching `k8s-openapi` type and written back, so fields the kind does
//! not have are dropped (and reported, for `fieldValidation`) and wrongly typed fields are
//! rejected. The simulator uses this only as a schema; it shares no types with the client side.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use k8s_openapi::api::{apps, coordination, core, policy};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apiregistration;

/// The outcome of decoding one object.
#[derive(Debug)]
pub struct Decoded {
    pub value: Value,
    /// Paths like `spec.foo` of fields the kind does not have.
    pub unknown_fields: Vec<String>,
}

fn round_trip<T: DeserializeOwned + Serialize>(value: &Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

/// Decodes a built-in kind. Unknown kinds pass through untouched (they have no schema here).
pub fn decode(kind: &str, value: &Value) -> Result<Decoded, String> {
    let normalized = match kind {
        "Namespace" => round_trip::<core::v1::Namespace>(value),
        "Node" => round_trip::<core::v1::Node>(value),
        "Pod" => round_trip::<core::v1::Pod>(value),
        "Service" => round_trip::<core::v1::Service>(value),
        "Endpoints" => round_trip::<core::v1::Endpoints>(value),
        "ConfigMap" => round_trip::<core::v1::ConfigMap>(value),
        "Secret" => round_trip::<core::v1::Secret>(value),
        "ServiceAccount" => round_trip::<core::v1::ServiceAccount>(value),
        "Event" => round_trip::<core::v1::Event>(value),
        "DaemonSet" => round_trip::<apps::v1::DaemonSet>(value),
        "Deployment" => round_trip::<apps::v1::Deployment>(value),
        "ReplicaSet" => round_trip::<apps::v1::ReplicaSet>(value),
        "ControllerRevision" => round_trip::<apps::v1::ControllerRevision>(value),
        "PodDisruptionBudget" => round_trip::<policy::v1::PodDisruptionBudget>(value),
        "Eviction" => round_trip::<policy::v1::Eviction>(value),
        "CustomResourceDefinition" => round_trip::<apiextensions::CustomResourceDefinition>(value),
        "APIService" => round_trip::<apiregistration::APIService>(value),
        "Lease" => round_trip::<coordination::v1::Lease>(value),
        _ => Ok(value.clone()),
    }?;
    let mut unknown_fields = Vec::new();
    collect_dropped(value, &normalized, "", &mut unknown_fields);
    Ok(Decoded {
        value: normalized,
        unknown_fields,
    })
}

/// Walks the input beside its decoded form and records keys the decoder dropped.
fn collect_dropped(input: &Value, decoded: &Value, path: &str, out: &mut Vec<String>) {
    match (input, decoded) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match b.get(key) {
                    Some(d) => collect_dropped(value, d, &child, out),
                    // A null or empty value that was omitted was not lost; anything else was.
                    None if !is_empty(value) => out.push(child),
                    None => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                collect_dropped(x, y, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_dropped_and_reported() {
        let node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1", "labels": {"a": "b"}},
            "spec": {"unschedulable": true, "bogus": 1},
            "status": {"nodeInfo": {"kubeletVersion": "v1.32.4", "machineID": "", "systemUUID": "", "bootID": "",
                        "kernelVersion": "", "osImage": "", "containerRuntimeVersion": "", "kubeProxyVersion": "",
                        "operatingSystem": "linux", "architecture": "amd64", "extra": "x"}}
        });
        let decoded = decode("Node", &node).unwrap();
        assert_eq!(
            decoded.unknown_fields,
            vec!["spec.bogus", "status.nodeInfo.extra"]
        );
        assert_eq!(decoded.value["spec"], json!({"unschedulable": true}));
        assert_eq!(decoded.value["metadata"]["labels"]["a"], "b");
    }

    #[test]
    fn wrong_types_are_rejected() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                         "spec": {"containers": "not a list"}});
        assert!(decode("Pod", &pod).is_err());
    }

    #[test]
    fn custom_kinds_pass_through() {
        let obj = json!({"apiVersion": "example.com/v1", "kind": "Thing", "spec": {"x": 1}});
        let decoded = decode("Thing", &obj).unwrap();
        assert_eq!(decoded.value, obj);
        assert!(decoded.unknown_fields.is_empty());
    }
}
