//! The CustomResourceDefinition objects (`apiextensions.k8s.io/v1`, as JSON)
//! that scenarios create through the simulated API server: Calico's v1
//! storage CRDs, the native v3 CRDs (DOMAIN.md §0.2 mode C) and the Tigera
//! operator's CRDs. It owns their names, versions, subresources, printer
//! columns and the small vocabulary of schema terms the kind schemas in
//! `crds_calico` and `crds_operator` are written in. It must not register,
//! store or validate anything: the server does that with `schema`.
//!
//! The schemas are ours, written from DOMAIN.md's field tables; where a
//! kind is large and irrelevant to the simulator its spec is partial and
//! marked `x-kubernetes-preserve-unknown-fields`.

use serde_json::{Value, json};

use super::crds_calico::{self as calico, CalicoApi};
use super::crds_operator as operator;

/// Group of Calico's storage CRDs (modes A and B).
pub const CALICO_V1_GROUP: &str = "crd.projectcalico.org";
/// Group of Calico's v3 API: aggregated in mode B, native CRDs in mode C.
pub const CALICO_V3_GROUP: &str = "projectcalico.org";
/// Group of the Tigera operator's CRDs.
pub const OPERATOR_GROUP: &str = "operator.tigera.io";

/// Calico v1 storage CRDs, group crd.projectcalico.org, version v1, all
/// cluster-scoped: ipamblocks, blockaffinities, ipamhandles, ipamconfigs,
/// ippools, felixconfigurations, clusterinformations, bgpconfigurations and
/// kubecontrollersconfigurations.
pub fn calico_v1_crds() -> Vec<Value> {
    let v1 = |kind, plural, description, spec| {
        Definition::new(CALICO_V1_GROUP, "v1", kind, plural, description, spec).build()
    };
    vec![
        v1(
            "IPAMBlock",
            "ipamblocks",
            "An IPAM block: one CIDR carved from a pool, its allocations and owner.",
            calico::ipam_block_spec(CalicoApi::V1),
        ),
        v1(
            "BlockAffinity",
            "blockaffinities",
            "A node's claim on an IPAM block.",
            calico::block_affinity_spec(CalicoApi::V1),
        ),
        v1(
            "IPAMHandle",
            "ipamhandles",
            "The addresses one owner (pod, tunnel, …) holds, per block.",
            calico::ipam_handle_spec(),
        ),
        v1(
            "IPAMConfig",
            "ipamconfigs",
            "Cluster-wide IPAM settings; the singleton is named default.",
            calico::ipam_config_spec(CalicoApi::V1),
        ),
        v1(
            "IPPool",
            "ippools",
            "A pool of addresses for workloads, tunnels or load balancers.",
            calico::ip_pool_spec(),
        ),
        v1(
            "FelixConfiguration",
            "felixconfigurations",
            "Felix settings (partial schema).",
            calico::felix_configuration_spec(),
        ),
        v1(
            "ClusterInformation",
            "clusterinformations",
            "Cluster identity and datastore readiness.",
            calico::cluster_information_spec(),
        ),
        v1(
            "BGPConfiguration",
            "bgpconfigurations",
            "BGP settings (partial schema).",
            calico::bgp_configuration_spec(),
        ),
        Definition::new(
            CALICO_V1_GROUP,
            "v1",
            "KubeControllersConfiguration",
            "kubecontrollersconfigurations",
            "calico-kube-controllers settings (partial schema).",
            calico::kube_controllers_configuration_spec(),
        )
        .with_status(calico::kube_controllers_configuration_status())
        .build(),
    ]
}

/// Native v3 CRDs (mode C), group projectcalico.org, version v3: ipamblocks,
/// blockaffinities, ipamhandles, ipamconfigurations, ippools and
/// felixconfigurations.
pub fn calico_v3_crds() -> Vec<Value> {
    let v3 = |kind, plural, description, spec| {
        Definition::new(CALICO_V3_GROUP, "v3", kind, plural, description, spec)
    };
    vec![
        v3(
            "IPAMBlock",
            "ipamblocks",
            "An IPAM block: one CIDR carved from a pool, its allocations and owner.",
            calico::ipam_block_spec(CalicoApi::V3),
        )
        .build(),
        v3(
            "BlockAffinity",
            "blockaffinities",
            "A node's claim on an IPAM block.",
            calico::block_affinity_spec(CalicoApi::V3),
        )
        .with_short_names(&["affinity", "affinities"])
        .build(),
        v3(
            "IPAMHandle",
            "ipamhandles",
            "The addresses one owner (pod, tunnel, …) holds, per block.",
            calico::ipam_handle_spec(),
        )
        .build(),
        v3(
            "IPAMConfiguration",
            "ipamconfigurations",
            "Cluster-wide IPAM settings; the singleton is named default.",
            calico::ipam_config_spec(CalicoApi::V3),
        )
        .with_short_names(&["ipamconfig", "ipamconfigs"])
        .build(),
        v3(
            "IPPool",
            "ippools",
            "A pool of addresses for workloads, tunnels or load balancers.",
            calico::ip_pool_spec(),
        )
        .with_status(calico::ip_pool_status())
        .build(),
        v3(
            "FelixConfiguration",
            "felixconfigurations",
            "Felix settings (partial schema).",
            calico::felix_configuration_spec(),
        )
        .build(),
    ]
}

/// Tigera operator CRDs, group operator.tigera.io, version v1,
/// cluster-scoped: installations, apiservers, tigerastatuses and imagesets,
/// plus goldmanes and whiskers, which `custom-resources.yaml` creates from
/// 3.30 on. Every kind with a status has the status subresource (ImageSet
/// has none).
pub fn operator_crds() -> Vec<Value> {
    let op = |kind, plural, description, spec| {
        Definition::new(OPERATOR_GROUP, "v1", kind, plural, description, spec)
    };
    vec![
        op(
            "Installation",
            "installations",
            "How Calico is installed: CNI, networking, pools, Windows settings.",
            operator::installation_spec(),
        )
        .with_status(operator::installation_status())
        .build(),
        op(
            "APIServer",
            "apiservers",
            "Installs the Calico API server (mode B) or the v3 webhooks (mode C).",
            operator::api_server_spec(),
        )
        .with_status(operator::api_server_status())
        .build(),
        op(
            "TigeraStatus",
            "tigerastatuses",
            "Health of one operator-managed component.",
            operator::tigera_status_spec(),
        )
        .with_status(operator::tigera_status_status())
        .with_printer_columns(operator::tigera_status_columns())
        .build(),
        op(
            "ImageSet",
            "imagesets",
            "Image digests to use for a release.",
            operator::image_set_spec(),
        )
        .build(),
        op(
            "Goldmane",
            "goldmanes",
            "Flow aggregation (3.30+).",
            operator::preserved_spec(),
        )
        .with_status(operator::conditions_status())
        .build(),
        op(
            "Whisker",
            "whiskers",
            "Flow log UI (3.30+).",
            operator::preserved_spec(),
        )
        .with_status(operator::conditions_status())
        .build(),
    ]
}

/// One cluster-scoped, single-version CRD under construction.
struct Definition {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    description: &'static str,
    short_names: &'static [&'static str],
    spec: Value,
    status: Option<Value>,
    printer_columns: Vec<Value>,
}

impl Definition {
    fn new(
        group: &'static str,
        version: &'static str,
        kind: &'static str,
        plural: &'static str,
        description: &'static str,
        spec: Value,
    ) -> Self {
        Definition {
            group,
            version,
            kind,
            plural,
            description,
            short_names: &[],
            spec,
            status: None,
            printer_columns: Vec::new(),
        }
    }

    fn with_status(mut self, status: Value) -> Self {
        self.status = Some(status);
        self
    }

    fn with_short_names(mut self, short_names: &'static [&'static str]) -> Self {
        self.short_names = short_names;
        self
    }

    fn with_printer_columns(mut self, columns: Vec<Value>) -> Self {
        self.printer_columns = columns;
        self
    }

    fn build(self) -> Value {
        let mut names = json!({
            "kind": self.kind,
            "listKind": format!("{}List", self.kind),
            "plural": self.plural,
            "singular": self.kind.to_lowercase(),
        });
        if !self.short_names.is_empty() {
            names["shortNames"] = json!(self.short_names);
        }
        let mut version = json!({
            "name": self.version,
            "served": true,
            "storage": true,
            "schema": {"openAPIV3Schema": self.root_schema()},
        });
        if self.status.is_some() {
            version["subresources"] = json!({"status": {}});
        }
        if !self.printer_columns.is_empty() {
            version["additionalPrinterColumns"] = Value::Array(self.printer_columns);
        }
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{}.{}", self.plural, self.group)},
            "spec": {
                "group": self.group,
                "names": names,
                "scope": "Cluster",
                "versions": [version],
            }
        })
    }

    fn root_schema(&self) -> Value {
        let mut properties = json!({
            "apiVersion": described(string(), "The versioned schema of this representation of an object."),
            "kind": described(string(), "The REST resource this object represents."),
            "metadata": {"type": "object"},
            "spec": self.spec.clone(),
        });
        if let Some(status) = &self.status {
            properties["status"] = status.clone();
        }
        json!({"description": self.description, "type": "object", "properties": properties})
    }
}

// The schema vocabulary the kind schemas are written in.

pub(super) fn string() -> Value {
    json!({"type": "string"})
}

pub(super) fn boolean() -> Value {
    json!({"type": "boolean"})
}

pub(super) fn int32() -> Value {
    json!({"type": "integer", "format": "int32"})
}

pub(super) fn int64() -> Value {
    json!({"type": "integer", "format": "int64"})
}

pub(super) fn bounded_int(minimum: i64, maximum: i64) -> Value {
    json!({"type": "integer", "minimum": minimum, "maximum": maximum})
}

pub(super) fn date_time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

pub(super) fn string_enum(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

pub(super) fn string_list() -> Value {
    array_of(string())
}

pub(super) fn string_map() -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string"}})
}

pub(super) fn array_of(items: Value) -> Value {
    let mut schema = json!({"type": "array"});
    schema["items"] = items;
    schema
}

/// An object whose content is kept as sent.
pub(super) fn preserved_object() -> Value {
    json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

pub(super) fn object(properties: Value, required: &[&str]) -> Value {
    let mut schema = json!({"type": "object"});
    schema["properties"] = properties;
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

pub(super) fn described(mut schema: Value, description: &str) -> Value {
    schema["description"] = json!(description);
    schema
}

/// `metav1.Condition` with the validation Kubernetes puts on it.
pub(super) fn metav1_condition() -> Value {
    let mut reason = described(string(), "CamelCase reason for the last transition.");
    reason["minLength"] = json!(1);
    reason["maxLength"] = json!(1024);
    reason["pattern"] = json!("^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$");
    let mut condition_type = string();
    condition_type["maxLength"] = json!(316);
    condition_type["pattern"] = json!(
        r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
    );
    let mut message = string();
    message["maxLength"] = json!(32768);
    let mut observed_generation = int64();
    observed_generation["minimum"] = json!(0);
    object(
        json!({
            "type": condition_type,
            "status": string_enum(&["True", "False", "Unknown"]),
            "reason": reason,
            "message": message,
            "lastTransitionTime": date_time(),
            "observedGeneration": observed_generation,
        }),
        &["lastTransitionTime", "message", "reason", "status", "type"],
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::schema::{FieldError, prune_and_validate, version_schema};
    use super::super::schema_pattern::Pattern;
    use super::*;

    fn all_crds() -> Vec<Value> {
        let mut all = calico_v1_crds();
        all.extend(calico_v3_crds());
        all.extend(operator_crds());
        all
    }

    fn crd(group: &str, plural: &str) -> Value {
        all_crds()
            .into_iter()
            .find(|c| c["metadata"]["name"] == format!("{plural}.{group}"))
            .unwrap_or_else(|| panic!("no CRD {plural}.{group}"))
    }

    fn plurals(crds: &[Value]) -> Vec<&str> {
        crds.iter()
            .map(|c| c["spec"]["names"]["plural"].as_str().unwrap())
            .collect()
    }

    /// Prunes and validates `obj` against the CRD for its group and plural;
    /// returns the errors as text and the pruned paths.
    fn check(group: &str, plural: &str, obj: &mut Value) -> (Vec<String>, Vec<String>) {
        let definition = crd(group, plural);
        let version = definition["spec"]["versions"][0]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        let schema = version_schema(&definition, &version).unwrap();
        let outcome = prune_and_validate(obj, schema);
        (
            outcome.errors.iter().map(FieldError::to_string).collect(),
            outcome.unknown_fields,
        )
    }

    #[test]
    fn each_group_has_the_promised_resources() {
        assert_eq!(
            plurals(&calico_v1_crds()),
            vec![
                "ipamblocks",
                "blockaffinities",
                "ipamhandles",
                "ipamconfigs",
                "ippools",
                "felixconfigurations",
                "clusterinformations",
                "bgpconfigurations",
                "kubecontrollersconfigurations",
            ]
        );
        assert_eq!(
            plurals(&calico_v3_crds()),
            vec![
                "ipamblocks",
                "blockaffinities",
                "ipamhandles",
                "ipamconfigurations",
                "ippools",
                "felixconfigurations"
            ]
        );
        assert_eq!(
            plurals(&operator_crds()),
            vec![
                "installations",
                "apiservers",
                "tigerastatuses",
                "imagesets",
                "goldmanes",
                "whiskers"
            ]
        );
    }

    #[test]
    fn every_crd_is_well_formed() {
        let with_status = [
            "kubecontrollersconfigurations.crd.projectcalico.org",
            "ippools.projectcalico.org",
            "installations.operator.tigera.io",
            "apiservers.operator.tigera.io",
            "tigerastatuses.operator.tigera.io",
            "goldmanes.operator.tigera.io",
            "whiskers.operator.tigera.io",
        ];
        for c in all_crds() {
            let name = c["metadata"]["name"].as_str().unwrap();
            let spec = &c["spec"];
            let names = &spec["names"];
            let kind = names["kind"].as_str().unwrap();
            assert_eq!(c["apiVersion"], "apiextensions.k8s.io/v1", "{name}");
            assert_eq!(c["kind"], "CustomResourceDefinition", "{name}");
            assert_eq!(
                name,
                format!(
                    "{}.{}",
                    names["plural"].as_str().unwrap(),
                    spec["group"].as_str().unwrap()
                )
            );
            assert_eq!(names["listKind"], format!("{kind}List"), "{name}");
            assert_eq!(names["singular"], kind.to_lowercase(), "{name}");
            assert_eq!(spec["scope"], "Cluster", "{name}");
            let versions = spec["versions"].as_array().unwrap();
            let storage: Vec<_> = versions.iter().filter(|v| v["storage"] == true).collect();
            assert_eq!(storage.len(), 1, "{name} needs exactly one storage version");
            assert!(versions.iter().all(|v| v["served"] == true), "{name}");
            let schema = &storage[0]["schema"]["openAPIV3Schema"];
            assert_eq!(schema["type"], "object", "{name}");
            assert!(
                schema["properties"]["spec"].is_object(),
                "{name} has no spec schema"
            );
            let has_status = storage[0]["subresources"]["status"].is_object();
            assert_eq!(
                has_status,
                with_status.contains(&name),
                "{name} status subresource"
            );
            assert_eq!(
                has_status,
                schema["properties"]["status"].is_object(),
                "{name} status schema"
            );
            assert_structural(schema, name);
        }
    }

    /// Every node has a type unless int-or-string or preserve-unknown says
    /// otherwise, and every pattern is one our matcher actually checks.
    fn assert_structural(schema: &Value, at: &str) {
        let typed = schema.get("type").is_some()
            || schema.get("x-kubernetes-int-or-string").is_some()
            || schema.get("x-kubernetes-preserve-unknown-fields").is_some();
        assert!(typed, "untyped schema node at {at}");
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            assert!(
                Pattern::compile(pattern).is_some(),
                "pattern {pattern} at {at} is not checked"
            );
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (key, child) in properties {
                assert_structural(child, &format!("{at}.{key}"));
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(child) = schema.get(key).filter(|c| c.is_object()) {
                assert_structural(child, &format!("{at}[{key}]"));
            }
        }
    }

    #[test]
    fn crd_names_are_unique() {
        let mut names: Vec<String> = all_crds()
            .iter()
            .map(|c| c["metadata"]["name"].to_string())
            .collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count);
    }

    #[test]
    fn short_names_and_kinds_of_v3() {
        let affinities = crd(CALICO_V3_GROUP, "blockaffinities");
        assert_eq!(
            affinities["spec"]["names"]["shortNames"],
            json!(["affinity", "affinities"])
        );
        let config = crd(CALICO_V3_GROUP, "ipamconfigurations");
        assert_eq!(config["spec"]["names"]["kind"], "IPAMConfiguration");
        assert_eq!(
            config["spec"]["names"]["shortNames"],
            json!(["ipamconfig", "ipamconfigs"])
        );
        assert_eq!(
            crd(CALICO_V1_GROUP, "ipamconfigs")["spec"]["names"]["kind"],
            "IPAMConfig"
        );
        assert!(
            crd(CALICO_V3_GROUP, "ippools")["spec"]["names"]
                .get("shortNames")
                .is_none()
        );
    }

    #[test]
    fn tigera_status_printer_columns() {
        let status = crd(OPERATOR_GROUP, "tigerastatuses");
        let columns = status["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .unwrap();
        let names: Vec<String> = columns
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_uppercase())
            .collect();
        assert_eq!(
            names,
            vec!["AVAILABLE", "PROGRESSING", "DEGRADED", "SINCE", "MESSAGE"]
        );
        assert_eq!(columns[3]["type"], "date");
        assert_eq!(
            columns[4]["jsonPath"],
            ".status.conditions[?(@.type=='Degraded')].message"
        );
    }

    /// DOMAIN.md §3.5's minimal Windows VXLAN Installation, as JSON.
    fn windows_installation() -> Value {
        json!({
            "apiVersion": "operator.tigera.io/v1",
            "kind": "Installation",
            "metadata": {"name": "default"},
            "spec": {
                "serviceCIDRs": ["10.96.0.0/12"],
                "calicoNetwork": {
                    "bgp": "Disabled",
                    "windowsDataplane": "HNS",
                    "ipPools": [{
                        "name": "default-ipv4-ippool",
                        "cidr": "192.168.0.0/16",
                        "blockSize": 26,
                        "encapsulation": "VXLAN",
                        "natOutgoing": "Enabled"
                    }]
                }
            }
        })
    }

    #[test]
    fn the_documented_windows_installation_is_clean() {
        let mut installation = windows_installation();
        let before = installation.clone();
        let (errors, unknown) = check(OPERATOR_GROUP, "installations", &mut installation);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(installation, before);
    }

    #[test]
    fn a_full_installation_with_status_is_clean() {
        let mut installation = windows_installation();
        installation["spec"]["variant"] = json!("Calico");
        installation["spec"]["kubernetesProvider"] = json!("AKS");
        installation["spec"]["cni"] = json!({"type": "Calico", "ipam": {"type": "Calico"}});
        installation["spec"]["calicoNetwork"]["linuxDataplane"] = json!("Iptables");
        installation["spec"]["calicoNetwork"]["nodeAddressAutodetectionV4"] =
            json!({"kubernetes": "NodeInternalIP"});
        installation["spec"]["windowsNodes"] =
            json!({"cniBinDir": "/k/azurecni/bin", "vxlanMACPrefix": "0E-2A"});
        installation["spec"]["nodeUpdateStrategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}});
        installation["spec"]["calicoNodeWindowsDaemonSet"] =
            json!({"spec": {"template": {"spec": {"tolerations": []}}}});
        installation["status"] = json!({
            "variant": "Calico",
            "mtu": 1450,
            "imageSet": "",
            "calicoVersion": "v3.30.3",
            "computed": {"anything": {"goes": true}},
            "conditions": [{
                "type": "Ready",
                "status": "True",
                "reason": "AllObjectsAvailable",
                "message": "All objects are available",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
                "observedGeneration": 2
            }]
        });
        let before = installation.clone();
        let (errors, unknown) = check(OPERATOR_GROUP, "installations", &mut installation);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(installation, before);
    }

    #[test]
    fn installation_errors_and_pruning() {
        let mut installation = windows_installation();
        let network = &mut installation["spec"]["calicoNetwork"];
        network["windowsDataplane"] = json!("Enabled");
        network["ipPools"][0]["encapsulation"] = json!("VXLANCrossSubnets");
        network["ipPools"][0]["colour"] = json!("blue");
        network["ipPools"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "no-cidr"}));
        installation["spec"]["windowsNodes"] = json!({"vxlanMACPrefix": "0E:2A"});
        installation["spec"]["madeUp"] = json!(1);
        let (errors, unknown) = check(OPERATOR_GROUP, "installations", &mut installation);
        assert_eq!(
            errors,
            vec![
                r#"spec.calicoNetwork.ipPools[0].encapsulation: Unsupported value: "VXLANCrossSubnets": supported values: "IPIPCrossSubnet", "IPIP", "VXLAN", "VXLANCrossSubnet", "None""#,
                "spec.calicoNetwork.ipPools[1].cidr: Required value",
                r#"spec.calicoNetwork.windowsDataplane: Unsupported value: "Enabled": supported values: "HNS", "Disabled""#,
                r#"spec.windowsNodes.vxlanMACPrefix: Invalid value: "0E:2A": spec.windowsNodes.vxlanMACPrefix in body should match '^[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}$'"#,
            ]
        );
        assert_eq!(
            unknown,
            vec!["spec.calicoNetwork.ipPools[0].colour", "spec.madeUp"]
        );
    }

    #[test]
    fn installation_pool_limit() {
        let mut installation = windows_installation();
        let pools: Vec<Value> = (0..26)
            .map(|i| json!({"cidr": format!("10.{i}.0.0/16")}))
            .collect();
        installation["spec"]["calicoNetwork"]["ipPools"] = json!(pools);
        let (errors, _) = check(OPERATOR_GROUP, "installations", &mut installation);
        assert_eq!(
            errors,
            vec!["spec.calicoNetwork.ipPools: Too many: 26: must have at most 25 items"]
        );
    }

    /// A Windows-owned /26: ordinals 0, 1, 2 and 63 reserved, ordinal 3 a pod.
    fn windows_block(api_version: &str) -> Value {
        let mut allocations = vec![Value::Null; 64];
        for reserved in [0, 1, 2, 63] {
            allocations[reserved] = json!(0);
        }
        allocations[3] = json!(1);
        let unallocated: Vec<u32> = (4..63).collect();
        json!({
            "apiVersion": api_version,
            "kind": "IPAMBlock",
            "metadata": {"name": "10-244-17-64-26"},
            "spec": {
                "cidr": "10.244.17.64/26",
                "affinity": "host:win-node-1",
                "allocations": allocations,
                "unallocated": unallocated,
                "attributes": [
                    {"handle_id": "windows-reserved-ipam-handle", "secondary": {"note": "windows host rsvd"}},
                    {
                        "handle_id": "k8s-pod-network.3f2a",
                        "secondary": {"node": "win-node-1", "namespace": "default", "pod": "web-1", "timestamp": "2026-01-01 00:00:00 +0000 UTC"}
                    }
                ],
                "sequenceNumber": 1_755_000_000_000_000_000_u64,
                "sequenceNumberForAllocation": {"0": 1_755_000_000_000_000_000_u64, "3": 1_755_000_000_000_000_001_u64},
                "strictAffinity": false,
                "deleted": false
            }
        })
    }

    #[test]
    fn a_block_with_64_allocations_validates() {
        for (group, version) in [(CALICO_V1_GROUP, "v1"), (CALICO_V3_GROUP, "v3")] {
            let mut block = windows_block(&format!("{group}/{version}"));
            let before = block.clone();
            let (errors, unknown) = check(group, "ipamblocks", &mut block);
            assert!(errors.is_empty(), "{group}: {errors:?}");
            assert!(unknown.is_empty(), "{group}: {unknown:?}");
            assert_eq!(
                block, before,
                "{group}: nulls in a nullable array must survive"
            );
        }
    }

    #[test]
    fn block_required_fields_and_affinity_pattern() {
        let mut v1 = windows_block("crd.projectcalico.org/v1");
        v1["spec"].as_object_mut().unwrap().remove("strictAffinity");
        v1["spec"].as_object_mut().unwrap().remove("unallocated");
        let (errors, _) = check(CALICO_V1_GROUP, "ipamblocks", &mut v1);
        assert_eq!(
            errors,
            vec![
                "spec.unallocated: Required value",
                "spec.strictAffinity: Required value"
            ]
        );

        let mut v3 = windows_block("projectcalico.org/v3");
        v3["spec"].as_object_mut().unwrap().remove("strictAffinity");
        v3["spec"]["affinity"] = json!("win-node-1");
        let (errors, _) = check(CALICO_V3_GROUP, "ipamblocks", &mut v3);
        assert_eq!(
            errors,
            vec![
                r#"spec.affinity: Invalid value: "win-node-1": spec.affinity in body should match '^(host|virtual):[a-zA-Z0-9.\-_]+$'"#
            ]
        );
    }

    #[test]
    fn block_affinity_deleted_differs_by_group() {
        let spec = |deleted: Value| json!({"spec": {"cidr": "10.244.17.64/26", "node": "n1", "state": "confirmed", "deleted": deleted}});
        assert!(
            check(
                CALICO_V1_GROUP,
                "blockaffinities",
                &mut spec(json!("false"))
            )
            .0
            .is_empty()
        );
        assert!(
            check(CALICO_V3_GROUP, "blockaffinities", &mut spec(json!(false)))
                .0
                .is_empty()
        );
        assert_eq!(
            check(CALICO_V1_GROUP, "blockaffinities", &mut spec(json!(false))).0,
            vec![
                r#"spec.deleted: Invalid value: "boolean": spec.deleted in body must be of type string: "boolean""#
            ]
        );
        assert_eq!(
            check(
                CALICO_V3_GROUP,
                "blockaffinities",
                &mut spec(json!("false"))
            )
            .0,
            vec![
                r#"spec.deleted: Invalid value: "string": spec.deleted in body must be of type boolean: "string""#
            ]
        );
        let mut v1_without_deleted =
            json!({"spec": {"cidr": "c", "node": "n1", "state": "pending"}});
        assert_eq!(
            check(CALICO_V1_GROUP, "blockaffinities", &mut v1_without_deleted).0,
            vec!["spec.deleted: Required value"]
        );
    }

    #[test]
    fn ipam_config_requirements_and_defaults() {
        let mut v1 = json!({"metadata": {"name": "default"}, "spec": {"strictAffinity": true}});
        assert_eq!(
            check(CALICO_V1_GROUP, "ipamconfigs", &mut v1).0,
            vec!["spec.autoAllocateBlocks: Required value"]
        );

        let mut v3 = json!({"metadata": {"name": "default"}, "spec": {}});
        let (errors, _) = check(CALICO_V3_GROUP, "ipamconfigurations", &mut v3);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            v3["spec"],
            json!({"strictAffinity": false, "autoAllocateBlocks": true})
        );

        let big = json!({"spec": {"strictAffinity": true, "autoAllocateBlocks": true, "maxBlocksPerHost": 1_000_001}});
        assert!(
            check(CALICO_V1_GROUP, "ipamconfigs", &mut big.clone())
                .0
                .is_empty()
        );
        assert_eq!(
            check(CALICO_V3_GROUP, "ipamconfigurations", &mut big.clone()).0,
            vec![
                "spec.maxBlocksPerHost: Invalid value: 1000001: spec.maxBlocksPerHost in body should be less than or equal to 1000000"
            ]
        );
    }

    #[test]
    fn ip_pool_fields() {
        let mut pool = json!({"spec": {
            "cidr": "192.168.0.0/16", "blockSize": 26, "ipipMode": "Never", "vxlanMode": "Always",
            "natOutgoing": true, "disabled": false, "nodeSelector": "all()", "disableBGPExport": false,
            "allowedUses": ["Workload", "Tunnel"]
        }});
        for group in [CALICO_V1_GROUP, CALICO_V3_GROUP] {
            let (errors, unknown) = check(group, "ippools", &mut pool.clone());
            assert!(
                errors.is_empty() && unknown.is_empty(),
                "{group}: {errors:?} {unknown:?}"
            );
        }
        pool["spec"]["vxlanMode"] = json!("Sometimes");
        pool["spec"]["natOutgoing"] = json!("Enabled");
        pool["spec"]["blockSize"] = json!(19);
        assert_eq!(
            check(CALICO_V1_GROUP, "ippools", &mut pool).0,
            vec![
                "spec.blockSize: Invalid value: 19: spec.blockSize in body should be greater than or equal to 20",
                r#"spec.natOutgoing: Invalid value: "string": spec.natOutgoing in body must be of type boolean: "string""#,
                r#"spec.vxlanMode: Unsupported value: "Sometimes": supported values: "Never", "Always", "CrossSubnet""#,
            ]
        );
    }

    #[test]
    fn partial_schemas_keep_unknown_spec_fields() {
        let mut felix = json!({"spec": {"vxlanVNI": 4096, "someFutureKnob": {"x": 1}}});
        let (errors, unknown) = check(CALICO_V1_GROUP, "felixconfigurations", &mut felix);
        assert!(errors.is_empty() && unknown.is_empty());
        assert_eq!(felix["spec"]["someFutureKnob"], json!({"x": 1}));
        let mut wrong = json!({"spec": {"vxlanVNI": "4096"}});
        assert_eq!(
            check(CALICO_V3_GROUP, "felixconfigurations", &mut wrong)
                .0
                .len(),
            1
        );
        let mut info =
            json!({"spec": {"clusterType": "k8s,operator", "datastoreReady": true, "extra": 1}});
        assert_eq!(
            check(CALICO_V1_GROUP, "clusterinformations", &mut info).1,
            vec!["spec.extra"]
        );
    }

    #[test]
    fn tigera_status_conditions() {
        let mut status = json!({
            "metadata": {"name": "calico-windows"},
            "spec": {},
            "status": {"conditions": [
                {"type": "Available", "status": "False", "lastTransitionTime": "2026-01-01T00:00:00Z"},
                {"type": "Degraded", "status": "True", "reason": "ResourceReadError",
                 "message": "Invalid StrictAffinity, it must be set to 'true' when using Calico IPAM on Windows",
                 "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}
            ]}
        });
        let (errors, unknown) = check(OPERATOR_GROUP, "tigerastatuses", &mut status);
        assert!(
            errors.is_empty() && unknown.is_empty(),
            "{errors:?} {unknown:?}"
        );
        status["status"]["conditions"][0]["status"] = json!("Maybe");
        assert_eq!(
            check(OPERATOR_GROUP, "tigerastatuses", &mut status).0,
            vec![
                r#"status.conditions[0].status: Unsupported value: "Maybe": supported values: "True", "False", "Unknown""#
            ]
        );
    }

    #[test]
    fn metav1_condition_reason_is_checked() {
        let mut api_server = json!({"spec": {}, "status": {"conditions": [{
            "type": "Ready", "status": "True", "reason": "not ok", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"
        }]}});
        assert_eq!(
            check(OPERATOR_GROUP, "apiservers", &mut api_server).0,
            vec![
                r#"status.conditions[0].reason: Invalid value: "not ok": status.conditions[0].reason in body should match '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$'"#
            ]
        );
    }

    #[test]
    fn image_set_requires_image_and_digest() {
        let mut set = json!({"metadata": {"name": "calico-v3.30.3"}, "spec": {"images": [{"image": "calico/node"}]}});
        assert_eq!(
            check(OPERATOR_GROUP, "imagesets", &mut set).0,
            vec!["spec.images[0].digest: Required value"]
        );
    }
}
