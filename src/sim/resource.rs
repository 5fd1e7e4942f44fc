//! The kinds the simulated API server serves: built-in Kubernetes resources and the ones
//! CustomResourceDefinitions register at run time. Discovery, OpenAPI, routing and the store all
//! read this one registry, so a CRD that is created shows up everywhere at once and vanishes
//! everywhere when deleted. It knows names and capabilities, never objects.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::error::GroupResource;

/// Where a resource's definition came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Compiled into the server, like kube-apiserver's own types.
    Builtin,
    /// Served by an aggregated API server (registered through an APIService), as a view of a
    /// resource stored in `crd.projectcalico.org/v1`.
    Aggregated {
        apiservice: String,
        storage_plural: String,
    },
    /// Registered by the named CustomResourceDefinition.
    Crd {
        crd_name: String,
        /// The version's `openAPIV3Schema`, used for pruning, validation and OpenAPI.
        schema: Option<Value>,
        /// The version's `additionalPrinterColumns`, used for Table output.
        printer_columns: Option<Value>,
    },
}

/// One served resource at one group/version.
// Each flag is an independent capability a real resource may or may not have.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub has_status: bool,
    /// `pods/eviction`.
    pub has_eviction: bool,
    /// Whether `metadata.generation` tracks spec changes for this kind.
    pub has_generation: bool,
    pub origin: Origin,
}

impl ResourceType {
    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn group_resource(&self) -> GroupResource<'_> {
        GroupResource {
            group: &self.group,
            resource: &self.plural,
        }
    }

    /// `Installation.operator.tigera.io` — the qualifier Invalid messages use.
    pub fn kind_group(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    pub fn is_builtin(&self) -> bool {
        self.origin == Origin::Builtin
    }

    /// Where the collection lives, without a namespace: `/api/v1/nodes`.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let root = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match namespace {
            Some(ns) if self.namespaced => format!("{root}/namespaces/{ns}/{}", self.plural),
            _ => format!("{root}/{}", self.plural),
        }
    }

    /// The storage identity: every version of a group/plural shares one set of objects.
    pub fn storage_key(&self) -> StorageKey {
        StorageKey {
            group: self.group.clone(),
            plural: self.plural.clone(),
        }
    }

    /// The printer columns of a custom resource, if its CRD declared any.
    pub fn printer_columns(&self) -> Option<&Value> {
        match &self.origin {
            Origin::Crd {
                printer_columns, ..
            } => printer_columns.as_ref(),
            Origin::Builtin | Origin::Aggregated { .. } => None,
        }
    }

    pub fn schema(&self) -> Option<&Value> {
        match &self.origin {
            Origin::Crd { schema, .. } => schema.as_ref(),
            Origin::Builtin | Origin::Aggregated { .. } => None,
        }
    }
}

/// Identifies the object set a resource is stored in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey {
    pub group: String,
    pub plural: String,
}

/// Every resource the server serves right now. Cheap to clone out as an `Arc` snapshot.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    types: Vec<Arc<ResourceType>>,
    /// (group, version, plural) -> index into `types`.
    by_gvr: HashMap<(String, String, String), usize>,
    /// Bumped on every change, so discovery documents can be cached per generation.
    pub generation: u64,
}

impl Registry {
    /// The built-in kinds of a Kubernetes 1.32 server that pooltop and kubectl use.
    pub fn with_builtins() -> Self {
        let mut registry = Self::default();
        for rt in builtin_types() {
            registry.insert(rt);
        }
        registry
    }

    pub fn insert(&mut self, rt: ResourceType) {
        let key = (rt.group.clone(), rt.version.clone(), rt.plural.clone());
        let rt = Arc::new(rt);
        if let Some(&idx) = self.by_gvr.get(&key) {
            self.types[idx] = rt;
        } else {
            self.by_gvr.insert(key, self.types.len());
            self.types.push(rt);
        }
        self.generation += 1;
    }

    /// Removes every resource an APIService registered; returns whether any was removed.
    pub fn remove_aggregated(&mut self, apiservice: &str) -> bool {
        let before = self.types.len();
        self.types.retain(
            |rt| !matches!(&rt.origin, Origin::Aggregated { apiservice: a, .. } if a == apiservice),
        );
        if self.types.len() == before {
            return false;
        }
        self.reindex();
        self.generation += 1;
        true
    }

    /// Removes every version registered by the named CRD; returns whether any was removed.
    pub fn remove_crd(&mut self, crd_name: &str) -> bool {
        let before = self.types.len();
        self.types
            .retain(|rt| !matches!(&rt.origin, Origin::Crd { crd_name: n, .. } if n == crd_name));
        if self.types.len() == before {
            return false;
        }
        self.reindex();
        self.generation += 1;
        true
    }

    fn reindex(&mut self) {
        self.by_gvr = self
            .types
            .iter()
            .enumerate()
            .map(|(idx, rt)| {
                (
                    (rt.group.clone(), rt.version.clone(), rt.plural.clone()),
                    idx,
                )
            })
            .collect();
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.by_gvr
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .map(|&idx| Arc::clone(&self.types[idx]))
    }

    /// The first registered type for a group and kind (any version).
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|rt| rt.group == group && rt.kind == kind)
            .cloned()
    }

    pub fn types(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.types.iter()
    }

    /// Groups in registration order, each with its versions in registration order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for rt in &self.types {
            let entry = if let Some(pos) = groups.iter_mut().position(|(g, _)| *g == rt.group) {
                &mut groups[pos]
            } else {
                groups.push((rt.group.clone(), Vec::new()));
                let last = groups.len() - 1;
                &mut groups[last]
            };
            if !entry.1.contains(&rt.version) {
                entry.1.push(rt.version.clone());
            }
        }
        groups
    }

    /// The resources served at one group/version, in registration order.
    pub fn group_version(&self, group: &str, version: &str) -> Vec<Arc<ResourceType>> {
        self.types
            .iter()
            .filter(|rt| rt.group == group && rt.version == version)
            .cloned()
            .collect()
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    has_status: bool,
    has_generation: bool,
}

const fn builtin(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural,
        namespaced,
        short_names,
        has_status: false,
        has_generation: false,
    }
}

impl Builtin {
    const fn status(mut self) -> Self {
        self.has_status = true;
        self
    }

    const fn generation(mut self) -> Self {
        self.has_generation = true;
        self
    }
}

/// The built-in catalogue. Short names and scopes are those of a real 1.32 server.
const BUILTINS: &[Builtin] = &[
    builtin("", "v1", "Namespace", "namespaces", false, &["ns"]).status(),
    builtin("", "v1", "Node", "nodes", false, &["no"]).status(),
    builtin("", "v1", "Pod", "pods", true, &["po"]).status(),
    builtin("", "v1", "Service", "services", true, &["svc"]).status(),
    builtin("", "v1", "Endpoints", "endpoints", true, &["ep"]),
    builtin("", "v1", "ConfigMap", "configmaps", true, &["cm"]),
    builtin("", "v1", "Secret", "secrets", true, &[]),
    builtin("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"]),
    builtin("", "v1", "Event", "events", true, &["ev"]),
    builtin("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"])
        .status()
        .generation(),
    builtin("apps", "v1", "Deployment", "deployments", true, &["deploy"])
        .status()
        .generation(),
    builtin("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"])
        .status()
        .generation(),
    builtin(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        true,
        &[],
    ),
    builtin(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
    )
    .status()
    .generation(),
    builtin(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
    )
    .status()
    .generation(),
    builtin(
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        "apiservices",
        false,
        &[],
    )
    .status(),
    builtin("coordination.k8s.io", "v1", "Lease", "leases", true, &[]),
];

fn builtin_types() -> impl Iterator<Item = ResourceType> {
    BUILTINS.iter().map(|b| ResourceType {
        group: b.group.to_string(),
        version: b.version.to_string(),
        kind: b.kind.to_string(),
        plural: b.plural.to_string(),
        singular: b.kind.to_lowercase(),
        namespaced: b.namespaced,
        short_names: b.short_names.iter().map(ToString::to_string).collect(),
        categories: if matches!(
            b.kind,
            "Pod" | "Service" | "DaemonSet" | "Deployment" | "ReplicaSet"
        ) {
            vec!["all".to_string()]
        } else {
            Vec::new()
        },
        has_status: b.has_status,
        has_eviction: b.kind == "Pod",
        has_generation: b.has_generation,
        origin: Origin::Builtin,
    })
}

/// Reads the served versions of a CustomResourceDefinition into resource types.
/// Returns an error message for a CRD whose spec lacks what registration needs.
pub fn types_from_crd(crd: &Value) -> Result<Vec<ResourceType>, String> {
    let crd_name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let spec = crd.get("spec").ok_or("spec: Required value")?;
    let group = spec
        .get("group")
        .and_then(Value::as_str)
        .ok_or("spec.group: Required value")?;
    let names = spec.get("names").ok_or("spec.names: Required value")?;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let plural = text(names, "plural").ok_or("spec.names.plural: Required value")?;
    let kind = text(names, "kind").ok_or("spec.names.kind: Required value")?;
    if crd_name != format!("{plural}.{group}") {
        return Err(format!(
            "metadata.name: Invalid value: \"{crd_name}\": must be spec.names.plural+\".\"+spec.group"
        ));
    }
    let singular = text(names, "singular").unwrap_or_else(|| kind.to_lowercase());
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let namespaced = match spec.get("scope").and_then(Value::as_str) {
        Some("Namespaced") => true,
        Some("Cluster") => false,
        other => {
            return Err(format!(
                "spec.scope: Unsupported value: {other:?}: supported values: \"Cluster\", \"Namespaced\""
            ));
        }
    };
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .ok_or("spec.versions: Required value")?;
    let mut types = Vec::new();
    for version in versions {
        if version.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let name = text(version, "name").ok_or("spec.versions[].name: Required value")?;
        types.push(ResourceType {
            group: group.to_string(),
            version: name,
            kind: kind.clone(),
            plural: plural.clone(),
            singular: singular.clone(),
            namespaced,
            short_names: strings(names.get("shortNames")),
            categories: strings(names.get("categories")),
            has_status: version.pointer("/subresources/status").is_some(),
            has_eviction: false,
            has_generation: true,
            origin: Origin::Crd {
                crd_name: crd_name.to_string(),
                schema: version.pointer("/schema/openAPIV3Schema").cloned(),
                printer_columns: version.get("additionalPrinterColumns").cloned(),
            },
        });
    }
    Ok(types)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtins_resolve_by_group_version_plural() {
        let registry = Registry::with_builtins();
        let nodes = registry.get("", "v1", "nodes").unwrap();
        assert!(!nodes.namespaced && nodes.has_status);
        assert_eq!(nodes.api_version(), "v1");
        let ds = registry.get("apps", "v1", "daemonsets").unwrap();
        assert_eq!(ds.api_version(), "apps/v1");
        assert_eq!(
            ds.collection_path(Some("calico-system")),
            "/apis/apps/v1/namespaces/calico-system/daemonsets"
        );
        assert!(registry.get("apps", "v1", "nodes").is_none());
        assert!(registry.get("", "v1", "pods").unwrap().has_eviction);
    }

    #[test]
    fn crd_registers_and_unregisters() {
        let crd = json!({
            "metadata": {"name": "ipamblocks.crd.projectcalico.org"},
            "spec": {
                "group": "crd.projectcalico.org",
                "scope": "Cluster",
                "names": {"kind": "IPAMBlock", "plural": "ipamblocks", "singular": "ipamblock", "listKind": "IPAMBlockList"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                              "schema": {"openAPIV3Schema": {"type": "object"}}}]
            }
        });
        let mut registry = Registry::with_builtins();
        let generation = registry.generation;
        for rt in types_from_crd(&crd).unwrap() {
            registry.insert(rt);
        }
        let blocks = registry
            .get("crd.projectcalico.org", "v1", "ipamblocks")
            .unwrap();
        assert_eq!(blocks.kind_group(), "IPAMBlock.crd.projectcalico.org");
        assert!(!blocks.has_status);
        assert!(registry.generation > generation);
        assert!(
            registry
                .groups()
                .iter()
                .any(|(g, v)| g == "crd.projectcalico.org" && v == &["v1"])
        );
        assert!(registry.remove_crd("ipamblocks.crd.projectcalico.org"));
        assert!(
            registry
                .get("crd.projectcalico.org", "v1", "ipamblocks")
                .is_none()
        );
        assert!(
            registry.get("", "v1", "nodes").is_some(),
            "reindex keeps the others"
        );
    }

    #[test]
    fn crd_name_must_match_plural_and_group() {
        let crd = json!({
            "metadata": {"name": "wrong.example.com"},
            "spec": {"group": "example.com", "scope": "Cluster",
                     "names": {"kind": "Thing", "plural": "things"},
                     "versions": [{"name": "v1", "served": true, "storage": true}]}
        });
        assert!(
            types_from_crd(&crd)
                .unwrap_err()
                .contains("must be spec.names.plural")
        );
    }
}
