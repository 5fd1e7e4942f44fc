//! Kubernetes protobuf request bodies, for the built-in kinds kubectl creates imperatively
//! (`kubectl create configmap|secret|namespace|serviceaccount` send
//! `application/vnd.kubernetes.protobuf` and do not fall back to JSON). The envelope is the
//! `k8s\0` magic and a `runtime.Unknown`; the messages mirror the field numbers of the
//! Kubernetes API's generated.proto for those kinds. Decoded objects become the same JSON a
//! JSON client would have sent, and take the normal write path.

use std::collections::BTreeMap;

use base64::Engine as _;
use prost::Message;
use serde_json::{Map, Value, json};

pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\0";

#[derive(Clone, PartialEq, Message)]
struct Unknown {
    #[prost(message, optional, tag = "1")]
    type_meta: Option<TypeMeta>,
    #[prost(bytes = "vec", tag = "2")]
    raw: Vec<u8>,
    #[prost(string, tag = "3")]
    content_encoding: String,
    #[prost(string, tag = "4")]
    content_type: String,
}

#[derive(Clone, PartialEq, Message)]
struct TypeMeta {
    #[prost(string, tag = "1")]
    api_version: String,
    #[prost(string, tag = "2")]
    kind: String,
}

#[derive(Clone, PartialEq, Message)]
struct Time {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

#[derive(Clone, PartialEq, Message)]
struct OwnerReference {
    #[prost(string, tag = "5")]
    api_version: String,
    #[prost(string, tag = "1")]
    kind: String,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    uid: String,
    #[prost(bool, optional, tag = "6")]
    controller: Option<bool>,
    #[prost(bool, optional, tag = "7")]
    block_owner_deletion: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct ObjectMeta {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    generate_name: String,
    #[prost(string, tag = "3")]
    namespace: String,
    #[prost(string, tag = "6")]
    resource_version: String,
    #[prost(message, optional, tag = "8")]
    creation_timestamp: Option<Time>,
    #[prost(btree_map = "string, string", tag = "11")]
    labels: BTreeMap<String, String>,
    #[prost(btree_map = "string, string", tag = "12")]
    annotations: BTreeMap<String, String>,
    #[prost(message, repeated, tag = "13")]
    owner_references: Vec<OwnerReference>,
    #[prost(string, repeated, tag = "14")]
    finalizers: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct ConfigMap {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(btree_map = "string, string", tag = "2")]
    data: BTreeMap<String, String>,
    #[prost(btree_map = "string, bytes", tag = "3")]
    binary_data: BTreeMap<String, Vec<u8>>,
    #[prost(bool, optional, tag = "4")]
    immutable: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct Secret {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(btree_map = "string, bytes", tag = "2")]
    data: BTreeMap<String, Vec<u8>>,
    #[prost(string, tag = "3")]
    type_: String,
    #[prost(btree_map = "string, string", tag = "4")]
    string_data: BTreeMap<String, String>,
    #[prost(bool, optional, tag = "5")]
    immutable: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct NamespaceSpec {
    #[prost(string, repeated, tag = "1")]
    finalizers: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct Namespace {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(message, optional, tag = "2")]
    spec: Option<NamespaceSpec>,
}

#[derive(Clone, PartialEq, Message)]
struct LocalObjectReference {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct ServiceAccount {
    #[prost(message, optional, tag = "1")]
    metadata: Option<ObjectMeta>,
    #[prost(message, repeated, tag = "3")]
    image_pull_secrets: Vec<LocalObjectReference>,
    #[prost(bool, optional, tag = "4")]
    automount_service_account_token: Option<bool>,
}

/// Why a protobuf body could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtobufError {
    #[error("the protobuf body has no k8s envelope")]
    NoEnvelope,
    #[error("the protobuf body is malformed: {0}")]
    Malformed(String),
    /// A kind this server has no protobuf schema for: answered with 415.
    #[error("{0}")]
    Unsupported(String),
}

/// Decodes a protobuf request body into the JSON object a JSON client would have sent.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let payload = body.strip_prefix(MAGIC).ok_or(ProtobufError::NoEnvelope)?;
    let unknown = Unknown::decode(payload).map_err(|e| ProtobufError::Malformed(e.to_string()))?;
    let type_meta = unknown.type_meta.unwrap_or_default();
    let malformed = |e: prost::DecodeError| ProtobufError::Malformed(e.to_string());
    let raw = unknown.raw.as_slice();
    let mut object = match (type_meta.api_version.as_str(), type_meta.kind.as_str()) {
        ("v1", "ConfigMap") => config_map(ConfigMap::decode(raw).map_err(malformed)?),
        ("v1", "Secret") => secret(Secret::decode(raw).map_err(malformed)?),
        ("v1", "Namespace") => namespace(Namespace::decode(raw).map_err(malformed)?),
        ("v1", "ServiceAccount") => {
            service_account(ServiceAccount::decode(raw).map_err(malformed)?)
        }
        (api_version, kind) => {
            return Err(ProtobufError::Unsupported(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (no protobuf decoding for {api_version} {kind})"
            )));
        }
    };
    object["apiVersion"] = json!(type_meta.api_version);
    object["kind"] = json!(type_meta.kind);
    Ok(object)
}

fn metadata(meta: Option<ObjectMeta>) -> Value {
    let meta = meta.unwrap_or_default();
    let mut out = Map::new();
    let mut text = |key: &str, value: String| {
        if !value.is_empty() {
            out.insert(key.to_string(), json!(value));
        }
    };
    text("name", meta.name);
    text("generateName", meta.generate_name);
    text("namespace", meta.namespace);
    text("resourceVersion", meta.resource_version);
    if !meta.labels.is_empty() {
        out.insert("labels".into(), json!(meta.labels));
    }
    if !meta.annotations.is_empty() {
        out.insert("annotations".into(), json!(meta.annotations));
    }
    if !meta.finalizers.is_empty() {
        out.insert("finalizers".into(), json!(meta.finalizers));
    }
    if !meta.owner_references.is_empty() {
        let refs: Vec<Value> = meta
            .owner_references
            .into_iter()
            .map(|r| {
                let mut v = json!({"apiVersion": r.api_version, "kind": r.kind, "name": r.name, "uid": r.uid});
                if let Some(c) = r.controller {
                    v["controller"] = json!(c);
                }
                if let Some(b) = r.block_owner_deletion {
                    v["blockOwnerDeletion"] = json!(b);
                }
                v
            })
            .collect();
        out.insert("ownerReferences".into(), Value::Array(refs));
    }
    Value::Object(out)
}

fn base64_map(map: BTreeMap<String, Vec<u8>>) -> Value {
    let engine = base64::engine::general_purpose::STANDARD;
    Value::Object(
        map.into_iter()
            .map(|(k, v)| (k, json!(engine.encode(v))))
            .collect(),
    )
}

fn config_map(cm: ConfigMap) -> Value {
    let mut out = json!({"metadata": metadata(cm.metadata)});
    if !cm.data.is_empty() {
        out["data"] = json!(cm.data);
    }
    if !cm.binary_data.is_empty() {
        out["binaryData"] = base64_map(cm.binary_data);
    }
    if let Some(immutable) = cm.immutable {
        out["immutable"] = json!(immutable);
    }
    out
}

fn secret(secret: Secret) -> Value {
    let mut out = json!({"metadata": metadata(secret.metadata)});
    if !secret.data.is_empty() {
        out["data"] = base64_map(secret.data);
    }
    if !secret.string_data.is_empty() {
        out["stringData"] = json!(secret.string_data);
    }
    if !secret.type_.is_empty() {
        out["type"] = json!(secret.type_);
    }
    if let Some(immutable) = secret.immutable {
        out["immutable"] = json!(immutable);
    }
    out
}

fn namespace(ns: Namespace) -> Value {
    let mut out = json!({"metadata": metadata(ns.metadata)});
    if let Some(spec) = ns.spec.filter(|s| !s.finalizers.is_empty()) {
        out["spec"] = json!({"finalizers": spec.finalizers});
    }
    out
}

fn service_account(sa: ServiceAccount) -> Value {
    let mut out = json!({"metadata": metadata(sa.metadata)});
    if !sa.image_pull_secrets.is_empty() {
        out["imagePullSecrets"] = Value::Array(
            sa.image_pull_secrets
                .into_iter()
                .map(|r| json!({"name": r.name}))
                .collect(),
        );
    }
    if let Some(automount) = sa.automount_service_account_token {
        out["automountServiceAccountToken"] = json!(automount);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = Unknown {
            type_meta: Some(TypeMeta {
                api_version: api_version.into(),
                kind: kind.into(),
            }),
            raw,
            content_encoding: String::new(),
            content_type: String::new(),
        };
        let mut out = MAGIC.to_vec();
        out.extend(unknown.encode_to_vec());
        out
    }

    #[test]
    fn a_configmap_from_kubectl_create_decodes_to_its_json() {
        let mut data = BTreeMap::new();
        data.insert(
            "KUBERNETES_SERVICE_HOST".to_string(),
            "10.224.0.4".to_string(),
        );
        let cm = ConfigMap {
            metadata: Some(ObjectMeta {
                name: "kubernetes-services-endpoint".into(),
                namespace: "tigera-operator".into(),
                ..ObjectMeta::default()
            }),
            data,
            binary_data: BTreeMap::new(),
            immutable: None,
        };
        let decoded = decode(&envelope("v1", "ConfigMap", cm.encode_to_vec())).unwrap();
        assert_eq!(
            decoded,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "kubernetes-services-endpoint", "namespace": "tigera-operator"},
                   "data": {"KUBERNETES_SERVICE_HOST": "10.224.0.4"}})
        );
    }

    #[test]
    fn secrets_keep_bytes_as_base64() {
        let mut data = BTreeMap::new();
        data.insert("token".to_string(), b"s3cret".to_vec());
        let secret = Secret {
            metadata: Some(ObjectMeta {
                name: "s".into(),
                ..ObjectMeta::default()
            }),
            data,
            type_: "Opaque".into(),
            ..Secret::default()
        };
        let decoded = decode(&envelope("v1", "Secret", secret.encode_to_vec())).unwrap();
        assert_eq!(decoded["data"]["token"], "czNjcmV0");
        assert_eq!(decoded["type"], "Opaque");
    }

    #[test]
    fn unknown_kinds_and_garbage_are_refused() {
        assert!(matches!(
            decode(&envelope("apps/v1", "Deployment", Vec::new())),
            Err(ProtobufError::Unsupported(_))
        ));
        assert_eq!(decode(b"{}"), Err(ProtobufError::NoEnvelope));
        assert!(matches!(
            decode(b"k8s\0\xff\xff\xff"),
            Err(ProtobufError::Malformed(_))
        ));
    }
}
