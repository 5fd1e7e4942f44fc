//! What the simulated Tigera operator (v1.33, Calico v3.27.3) renders: the Installation
//! defaults it fills in and writes back, the validation it runs, and the objects it creates
//! from a defaulted Installation and APIServer: the `calico-system` namespace and its
//! workloads (`calico-node`, `calico-typha`, `calico-kube-controllers`, the HostProcess
//! DaemonSet `calico-node-windows` of DOMAIN.md §4.1), IP pools, FelixConfiguration defaults,
//! the `calico-apiserver` objects and the operator's certificates. It is pure except for the
//! certificate key material, which is drawn from the store's seeded generator by the caller:
//! it builds JSON objects and never reads or writes the store.

use std::collections::BTreeMap;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::PrivatePkcs8KeyDer;
use serde_json::{Map, Value, json};

pub const CALICO_VERSION: &str = "v3.27.3";
pub const OPERATOR_NAMESPACE: &str = "tigera-operator";
pub const CALICO_NAMESPACE: &str = "calico-system";
pub const APISERVER_NAMESPACE: &str = "calico-apiserver";
pub const NODE: &str = "calico-node";
pub const WINDOWS_NODE: &str = "calico-node-windows";
pub const TYPHA: &str = "calico-typha";
pub const KUBE_CONTROLLERS: &str = "calico-kube-controllers";
pub const APISERVER: &str = "calico-apiserver";
pub const APISERVER_SERVICE: &str = "calico-api";
pub const APISERVICE: &str = "v3.projectcalico.org";
pub const ENDPOINT_CONFIGMAP: &str = "kubernetes-services-endpoint";
pub const CNI_CONFIG: &str = "cni-config";
pub const WINDOWS_CNI_CONFIG: &str = "cni-config-windows";
pub const CA_SECRET: &str = "tigera-ca-private";
pub const CA_BUNDLE: &str = "tigera-ca-bundle";
pub const NODE_CERTS: &str = "node-certs";
pub const TYPHA_CERTS: &str = "typha-certs";
pub const APISERVER_CERTS: &str = "calico-apiserver-certs";
/// Label the operator puts on the IP pools it creates.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

const TYPHA_PORT: i64 = 5473;
const NODE_HEALTH_PORT: i64 = 9099;
const TYPHA_HEALTH_PORT: i64 = 9098;
const APISERVER_PORT: i64 = 5443;
/// The host MTU of the simulated cloud's NICs; pod MTU is this minus encapsulation overhead.
const HOST_MTU: i64 = 1500;
const SANDBOX: &str = "$env:CONTAINER_SANDBOX_MOUNT_POINT";

/// The API server address from `tigera-operator/kubernetes-services-endpoint`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: String,
}

impl Endpoint {
    /// Both keys present and non-empty, as the Windows validation requires.
    pub fn complete(&self) -> bool {
        !self.host.is_empty() && !self.port.is_empty()
    }

    fn env(&self) -> Vec<Value> {
        if self.host.is_empty() {
            return Vec::new();
        }
        vec![
            env("KUBERNETES_SERVICE_HOST", &self.host),
            env("KUBERNETES_SERVICE_PORT", &self.port),
        ]
    }
}

/// Read access to a defaulted Installation spec.
#[derive(Debug, Clone, Copy)]
pub struct Spec<'a>(pub &'a Value);

impl<'a> Spec<'a> {
    fn text(self, pointer: &str) -> &'a str {
        self.0
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn provider(self) -> &'a str {
        self.text("/kubernetesProvider")
    }

    pub fn cni_type(self) -> &'a str {
        self.text("/cni/type")
    }

    pub fn ipam_type(self) -> &'a str {
        self.text("/cni/ipam/type")
    }

    pub fn calico_cni(self) -> bool {
        self.cni_type() == "Calico"
    }

    pub fn calico_ipam(self) -> bool {
        self.calico_cni() && self.ipam_type() == "Calico"
    }

    pub fn bgp_enabled(self) -> bool {
        self.text("/calicoNetwork/bgp") == "Enabled"
    }

    /// `calicoNetwork.windowsDataplane` set and not `Disabled` (the operator's WindowsEnabled).
    pub fn windows_enabled(self) -> bool {
        !matches!(
            self.text("/calicoNetwork/windowsDataplane"),
            "" | "Disabled"
        )
    }

    pub fn pools(self) -> &'a [Value] {
        self.0
            .pointer("/calicoNetwork/ipPools")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    pub fn v4_pool(self) -> Option<&'a Value> {
        self.pools().iter().find(|p| !is_v6(p))
    }

    pub fn v6_pool(self) -> Option<&'a Value> {
        self.pools().iter().find(|p| is_v6(p))
    }

    pub fn service_cidrs(self) -> Vec<&'a str> {
        self.0
            .get("serviceCIDRs")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    pub fn mtu(self) -> Option<i64> {
        self.0.pointer("/calicoNetwork/mtu").and_then(Value::as_i64)
    }

    /// The pod MTU the operator reports in `status.mtu`: the configured one, or the host's
    /// minus the first IPv4 pool's encapsulation overhead.
    pub fn pod_mtu(self) -> i64 {
        self.mtu().unwrap_or_else(|| {
            let encapsulation = self
                .v4_pool()
                .map(|p| Spec(p).text("/encapsulation"))
                .unwrap_or_default();
            HOST_MTU
                - match encapsulation {
                    "VXLAN" | "VXLANCrossSubnet" => 50,
                    "IPIP" | "IPIPCrossSubnet" => 20,
                    _ => 0,
                }
        })
    }

    fn image(self, name: &str) -> String {
        let registry = match self.text("/registry") {
            "" | "UseDefault" => "quay.io/",
            other => other,
        };
        let path = match self.text("/imagePath") {
            "" | "UseDefault" => "calico",
            other => other,
        };
        let separator = if registry.ends_with('/') { "" } else { "/" };
        format!(
            "{registry}{separator}{path}/{}{name}:{CALICO_VERSION}",
            self.text("/imagePrefix")
        )
    }

    fn cluster_type(self) -> String {
        let mut cluster_type = "k8s,operator".to_string();
        match self.provider() {
            "OpenShift" => cluster_type.push_str(",openshift"),
            "EKS" => cluster_type.push_str(",ecs"),
            "GKE" => cluster_type.push_str(",gke"),
            "AKS" => cluster_type.push_str(",aks"),
            _ => {}
        }
        if self.bgp_enabled() {
            cluster_type.push_str(",bgp");
        }
        cluster_type
    }

    fn linux_backend(self) -> &'static str {
        if self.bgp_enabled() {
            "bird"
        } else if self.calico_ipam()
            && self
                .pools()
                .iter()
                .any(|p| Spec(p).text("/encapsulation").starts_with("VXLAN"))
        {
            "vxlan"
        } else {
            "none"
        }
    }

    fn windows_backend(self) -> &'static str {
        if self.bgp_enabled() {
            "windows-bgp"
        } else if self.calico_cni() && self.ipam_type() != "HostLocal" {
            "vxlan"
        } else {
            "none"
        }
    }

    fn autodetection(self, field: &str) -> Option<String> {
        let method = self.0.pointer(&format!("/calicoNetwork/{field}"))?;
        let text = |key| {
            method
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if method.get("firstFound").and_then(Value::as_bool) == Some(true) {
            Some("first-found".to_string())
        } else if text("kubernetes") == Some("NodeInternalIP") {
            Some("kubernetes-internal-ip".to_string())
        } else if let Some(interface) = text("interface") {
            Some(format!("interface={interface}"))
        } else if let Some(skip) = text("skipInterface") {
            Some(format!("skip-interface={skip}"))
        } else if let Some(target) = text("canReach") {
            Some(format!("can-reach={target}"))
        } else {
            let cidrs: Vec<&str> = method
                .get("cidrs")
                .and_then(Value::as_array)?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            (!cidrs.is_empty()).then(|| format!("cidr={}", cidrs.join(",")))
        }
    }

    fn windows_dirs(self) -> (String, String, String) {
        let dir = |key: &str, default: &str| {
            let set = self.text(&format!("/windowsNodes/{key}"));
            if set.is_empty() {
                default.to_string()
            } else {
                set.to_string()
            }
        };
        let (bin, conf) = if self.provider() == "AKS" {
            ("/k/azurecni/bin", "/k/azurecni/netconf")
        } else {
            ("/opt/cni/bin", "/etc/cni/net.d")
        };
        (
            dir("cniBinDir", bin),
            dir("cniConfigDir", conf),
            dir("cniLogDir", "/var/log/calico/cni"),
        )
    }
}

fn is_v6(pool: &Value) -> bool {
    pool.get("cidr")
        .and_then(Value::as_str)
        .is_some_and(|c| c.contains(':'))
}

fn set_default(obj: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = obj
        && map
            .get(key)
            .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
    {
        map.insert(key.to_string(), value);
    }
}

fn object_at<'v>(obj: &'v mut Value, key: &str) -> &'v mut Value {
    if !obj.get(key).is_some_and(Value::is_object) {
        obj[key] = Value::Object(Map::new());
    }
    &mut obj[key]
}

/// The Installation spec with the operator's defaults filled in, as its core controller writes
/// it back to the spec and into `status.computed`.
pub fn fill_defaults(spec: &Value) -> Value {
    let mut spec = if spec.is_object() {
        spec.clone()
    } else {
        json!({})
    };
    let provider = Spec(&spec).provider().to_string();
    if let Some(registry) = spec
        .get("registry")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty() && *r != "UseDefault" && !r.ends_with('/'))
    {
        spec["registry"] = json!(format!("{registry}/"));
    }
    set_default(&mut spec, "variant", json!("Calico"));
    set_default(&mut spec, "nonPrivileged", json!("Disabled"));
    default_cni(&mut spec, &provider);
    default_network(&mut spec, &provider);
    if Spec(&spec).calico_cni() {
        let network = object_at(&mut spec, "calicoNetwork");
        set_default(network, "hostPorts", json!("Enabled"));
        set_default(network, "multiInterfaceMode", json!("None"));
        let cni_logging = object_at(object_at(&mut spec, "logging"), "cni");
        set_default(cni_logging, "logSeverity", json!("Info"));
        set_default(cni_logging, "logFileMaxCount", json!(10));
        set_default(cni_logging, "logFileMaxAgeDays", json!(30));
        set_default(cni_logging, "logFileMaxSize", json!("100Mi"));
    }
    set_default(&mut spec, "controlPlaneReplicas", json!(2));
    let flex = match provider.as_str() {
        "OpenShift" => "/etc/kubernetes/kubelet-plugins/volume/exec/",
        "GKE" => "/home/kubernetes/flexvolume/",
        "AKS" => "/etc/kubernetes/volumeplugins/",
        "RKE2" => "/var/lib/kubelet/volumeplugins/",
        _ => "/usr/libexec/kubernetes/kubelet-plugins/volume/exec/",
    };
    set_default(&mut spec, "flexVolumePath", json!(flex));
    set_default(
        &mut spec,
        "kubeletVolumePluginPath",
        json!("/var/lib/kubelet"),
    );
    let strategy = object_at(&mut spec, "nodeUpdateStrategy");
    set_default(
        object_at(strategy, "rollingUpdate"),
        "maxUnavailable",
        json!(1),
    );
    set_default(strategy, "type", json!("RollingUpdate"));
    spec
}

fn default_cni(spec: &mut Value, provider: &str) {
    let cni = object_at(spec, "cni");
    let cni_type = match provider {
        "AKS" => "AzureVNET",
        "EKS" => "AmazonVPC",
        "GKE" => "GKE",
        _ => "Calico",
    };
    set_default(cni, "type", json!(cni_type));
    let ipam_type = match cni["type"].as_str().unwrap_or_default() {
        "AzureVNET" => "AzureVNET",
        "AmazonVPC" => "AmazonVPC",
        "GKE" => "HostLocal",
        _ => "Calico",
    };
    set_default(object_at(cni, "ipam"), "type", json!(ipam_type));
    if provider == "AKS" && spec.get("typhaAffinity").is_none() {
        // AKS virtual nodes cannot run host-networked pods, yet Typha tolerates every taint.
        spec["typhaAffinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
        "matchExpressions": [
            {"key": "type", "operator": "NotIn", "values": ["virtual-node"]},
            {"key": "kubernetes.azure.com/cluster", "operator": "Exists"},
        ]}]}}});
    }
}

fn default_network(spec: &mut Value, provider: &str) {
    let calico_cni = Spec(spec).calico_cni();
    let calico_ipam = Spec(spec).ipam_type() == "Calico";
    let network = object_at(spec, "calicoNetwork");
    set_default(network, "linuxDataplane", json!("Iptables"));
    set_default(network, "windowsDataplane", json!("Disabled"));
    if network.get("ipPools").is_none_or(Value::is_null) && calico_ipam {
        network["ipPools"] = if provider == "EKS" {
            json!([{"cidr": "172.16.0.0/16", "encapsulation": "VXLAN"}])
        } else {
            json!([{"cidr": "192.168.0.0/16"}])
        };
    }
    let bgp = if calico_cni && provider != "EKS" {
        "Enabled"
    } else {
        "Disabled"
    };
    set_default(network, "bgp", json!(bgp));
    let mut first_v4 = true;
    let mut first_v6 = true;
    let mut any_v4 = false;
    let mut any_v6 = false;
    if let Some(pools) = network.get_mut("ipPools").and_then(Value::as_array_mut) {
        for pool in pools {
            let v6 = is_v6(pool);
            let first = if v6 {
                std::mem::replace(&mut first_v6, false)
            } else {
                std::mem::replace(&mut first_v4, false)
            };
            if first {
                set_default(
                    pool,
                    "name",
                    json!(if v6 {
                        "default-ipv6-ippool"
                    } else {
                        "default-ipv4-ippool"
                    }),
                );
            }
            let encapsulation = if v6 || !calico_cni { "None" } else { "IPIP" };
            set_default(pool, "encapsulation", json!(encapsulation));
            set_default(
                pool,
                "natOutgoing",
                json!(if v6 { "Disabled" } else { "Enabled" }),
            );
            set_default(pool, "nodeSelector", json!("all()"));
            set_default(pool, "blockSize", json!(if v6 { 122 } else { 26 }));
            any_v4 |= !v6;
            any_v6 |= v6;
        }
    }
    let bpf = network.get("linuxDataplane").and_then(Value::as_str) == Some("BPF");
    if (any_v4 || bpf) && network.get("nodeAddressAutodetectionV4").is_none() {
        network["nodeAddressAutodetectionV4"] = match provider {
            "DockerEnterprise" => json!({"skipInterface": "^br-.*"}),
            "EKS" => json!({"canReach": "8.8.8.8"}),
            _ => json!({"firstFound": true}),
        };
    }
    if any_v6 && network.get("nodeAddressAutodetectionV6").is_none() {
        network["nodeAddressAutodetectionV6"] = json!({"firstFound": true});
    }
    if Spec(spec).windows_enabled() {
        let (bin, conf, log) = Spec(spec).windows_dirs();
        let nodes = object_at(spec, "windowsNodes");
        set_default(nodes, "cniBinDir", json!(bin));
        set_default(nodes, "cniConfigDir", json!(conf));
        set_default(nodes, "cniLogDir", json!(log));
    }
}

/// The operator's checks of a defaulted Installation that apply to every platform.
pub fn validate(spec: &Value) -> Result<(), String> {
    let s = Spec(spec);
    if s.calico_cni() && !matches!(s.ipam_type(), "Calico" | "HostLocal") {
        return Err(format!(
            "spec.cni.ipam.type {} is not compatible with spec.cni.type {}, valid IPAM values Calico,HostLocal",
            s.ipam_type(),
            s.cni_type()
        ));
    }
    for pool in s.pools() {
        validate_pool(s, pool)?;
    }
    for family in ["nodeAddressAutodetectionV4", "nodeAddressAutodetectionV6"] {
        if let Some(method) = spec.pointer(&format!("/calicoNetwork/{family}")) {
            let set = ["interface", "skipInterface", "canReach"]
                .iter()
                .filter(|k| {
                    method
                        .get(**k)
                        .and_then(Value::as_str)
                        .is_some_and(|v| !v.is_empty())
                })
                .count()
                + usize::from(method.get("firstFound").and_then(Value::as_bool) == Some(true));
            if set > 1 {
                return Err("no more than one node address autodetection method can be specified per-family".to_string());
            }
        }
    }
    let strategy = s.text("/nodeUpdateStrategy/type");
    if strategy != "RollingUpdate" {
        return Err(format!(
            "installation spec.NodeUpdateStrategy.type '{strategy}' is not supported"
        ));
    }
    if spec
        .get("controlPlaneReplicas")
        .and_then(Value::as_i64)
        .is_some_and(|r| r <= 0)
    {
        return Err("installation spec.ControlPlaneReplicas should be greater than 0".to_string());
    }
    Ok(())
}

fn validate_pool(s: Spec<'_>, pool: &Value) -> Result<(), String> {
    let cidr = Spec(pool).text("/cidr");
    if cidr.parse::<ipnet::IpNet>().is_err() {
        return Err(format!(
            "ipPool.CIDR({cidr}) is invalid: invalid CIDR address: {cidr}"
        ));
    }
    let encapsulation = Spec(pool).text("/encapsulation");
    if is_v6(pool) && encapsulation.starts_with("IPIP") {
        return Err(format!(
            "IPIP encapsulation is not supported by IPv6 pools, but it is set for {cidr}"
        ));
    }
    if !s.calico_cni() {
        if encapsulation != "None" {
            return Err(format!(
                "{encapsulation} is invalid for ipPool.encapsulation when using non-Calico CNI, should be None"
            ));
        }
        return Ok(());
    }
    match (s.ipam_type(), encapsulation) {
        ("Calico", "IPIP" | "IPIPCrossSubnet") if !s.bgp_enabled() => {
            Err("IPIP encapsulation requires that BGP is enabled".to_string())
        }
        ("Calico", "None") if !s.bgp_enabled() => {
            Err("Unencapsulated IP pools require that BGP is enabled".to_string())
        }
        ("HostLocal", "VXLAN" | "VXLANCrossSubnet") => Err(format!(
            "{encapsulation} is invalid for ipPool.encapsulation with {} CNI and {} IPAM",
            s.cni_type(),
            s.ipam_type()
        )),
        _ => Ok(()),
    }
}

/// The extra checks when Calico for Windows is enabled, in the operator's order: the
/// services-endpoint ConfigMap, then (with Calico CNI) the service CIDRs and the first IPv4
/// pool's encapsulation.
pub fn validate_windows(spec: &Value, endpoint: &Endpoint) -> Result<(), String> {
    let s = Spec(spec);
    if !endpoint.complete() {
        return Err(format!(
            "services endpoint configmap '{ENDPOINT_CONFIGMAP}' does not have all required information for Calico Windows daemonset configuration"
        ));
    }
    if s.calico_cni() {
        if s.service_cidrs().is_empty() {
            return Err(
                "installation spec.ServiceCIDRs must be provided when using Calico CNI on Windows"
                    .to_string(),
            );
        }
        if let Some(pool) = s.v4_pool() {
            let encapsulation = Spec(pool).text("/encapsulation");
            if !matches!(encapsulation, "VXLAN" | "None") {
                return Err(format!(
                    "IPv4 IPPool encapsulation {encapsulation} is not supported by Calico for Windows"
                ));
            }
        }
    }
    Ok(())
}

/// A controller ownerReference to the custom resource that owns rendered objects.
pub fn owner_reference(kind: &str, name: &str, uid: &str) -> Value {
    json!({"apiVersion": "operator.tigera.io/v1", "kind": kind, "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true})
}

fn env(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

fn field_env(name: &str, path: &str) -> Value {
    json!({"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}})
}

fn meta(name: &str, namespace: &str, owner: Option<&Value>) -> Value {
    let mut meta = json!({"name": name});
    if !namespace.is_empty() {
        meta["namespace"] = json!(namespace);
    }
    if let Some(owner) = owner {
        meta["ownerReferences"] = json!([owner]);
    }
    meta
}

fn app_labels(name: &str) -> Value {
    json!({"k8s-app": name, "app.kubernetes.io/name": name})
}

/// Tolerates every taint: critical add-ons, and any NoSchedule or NoExecute taint.
fn tolerate_all() -> Value {
    json!([
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
        {"effect": "NoSchedule", "operator": "Exists"},
        {"effect": "NoExecute", "operator": "Exists"},
    ])
}

fn tolerate_control_plane(spec: Spec<'_>) -> Value {
    let mut tolerations = vec![
        json!({"key": "CriticalAddonsOnly", "operator": "Exists"}),
        json!({"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}),
        json!({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}),
    ];
    tolerations.extend(
        spec.0
            .get("controlPlaneTolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    );
    Value::Array(tolerations)
}

fn control_plane_node_selector(spec: Spec<'_>) -> Value {
    let mut selector = json!({"kubernetes.io/os": "linux"});
    if let Some(extra) = spec
        .0
        .get("controlPlaneNodeSelector")
        .and_then(Value::as_object)
    {
        for (k, v) in extra {
            selector[k] = v.clone();
        }
    }
    selector
}

fn host_path(name: &str, path: &str, kind: Option<&str>) -> Value {
    let mut source = json!({"path": path});
    if let Some(kind) = kind {
        source["type"] = json!(kind);
    }
    json!({"name": name, "hostPath": source})
}

fn mount(name: &str, path: &str, read_only: bool) -> Value {
    let mut m = json!({"name": name, "mountPath": path});
    if read_only {
        m["readOnly"] = json!(true);
    }
    m
}

/// A short content hash for `hash.operator.tigera.io/*` template annotations, so a pod
/// template changes exactly when the content it depends on changes.
pub fn content_hash(content: &str) -> String {
    // FNV-1a: stable across runs and platforms, unlike the std hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in content.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The PEM certificate and key of one key pair, as the operator stores it in a Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairPem {
    pub cert: String,
    pub key: String,
}

/// The operator CA and the key pairs it issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificates {
    pub ca: KeyPairPem,
    pub typha: KeyPairPem,
    pub node: KeyPairPem,
}

const CA_NAME: &str = "tigera-operator-signer";

/// Ed25519 keys come from a seed the caller draws from the store's generator, and Ed25519
/// signatures are deterministic, so a seeded simulation issues byte-identical certificates.
fn key_from_seed(seed: &[u8; 32]) -> Result<KeyPair, rcgen::Error> {
    const PKCS8_V1_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let mut der = PKCS8_V1_PREFIX.to_vec();
    der.extend_from_slice(seed);
    KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(der), &rcgen::PKCS_ED25519)
}

/// Validity from the start of `today` (year, month, day) for `years`.
fn set_validity(params: &mut CertificateParams, today: (i16, i8, i8), years: i16) {
    // rcgen panics on impossible dates; day 28 exists in every month.
    let month = u8::try_from(today.1.clamp(1, 12)).unwrap_or(1);
    let day = u8::try_from(today.2.clamp(1, 28)).unwrap_or(1);
    params.not_before = rcgen::date_time_ymd(i32::from(today.0), month, day);
    params.not_after = rcgen::date_time_ymd(i32::from(today.0 + years), month, day);
}

fn ca_params(today: (i16, i8, i8), serial: u64) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.serial_number = Some(SerialNumber::from(serial));
    set_validity(&mut params, today, 5);
    Ok(params)
}

/// A new operator CA.
pub fn issue_ca(
    seed: &[u8; 32],
    serial: u64,
    today: (i16, i8, i8),
) -> Result<KeyPairPem, rcgen::Error> {
    let key = key_from_seed(seed)?;
    let cert = ca_params(today, serial)?.self_signed(&key)?;
    Ok(KeyPairPem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A key pair for a component, signed by the operator CA.
pub fn issue(
    ca: &KeyPairPem,
    seed: &[u8; 32],
    serial: u64,
    today: (i16, i8, i8),
    common_name: &str,
    dns_names: Vec<String>,
) -> Result<KeyPairPem, rcgen::Error> {
    let issuer = Issuer::new(ca_params(today, 0)?, KeyPair::from_pem(&ca.key)?);
    let key = key_from_seed(seed)?;
    let mut params = CertificateParams::new(dns_names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.serial_number = Some(SerialNumber::from(serial));
    set_validity(&mut params, today, 2);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(KeyPairPem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// The DNS names a Service's serving certificate covers.
pub fn service_dns_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        service.to_string(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

/// A `kubernetes.io/tls` Secret.
pub fn tls_secret(
    name: &str,
    namespace: &str,
    pair: &KeyPairPem,
    common_name: Option<&str>,
    owner: Option<&Value>,
) -> Value {
    use base64::Engine as _;
    let encode = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut data = json!({"tls.crt": encode(&pair.cert), "tls.key": encode(&pair.key)});
    if let Some(cn) = common_name {
        data["common-name"] = json!(encode(cn));
    }
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta(name, namespace, owner), "type": "kubernetes.io/tls", "data": data})
}

/// What rendering the core components needs besides the defaulted spec.
#[derive(Debug, Clone)]
pub struct CoreInputs<'a> {
    pub spec: Spec<'a>,
    pub owner: Value,
    pub endpoint: Endpoint,
    /// Linux nodes, for the Typha autoscaler.
    pub linux_nodes: usize,
    pub certificates: &'a Certificates,
}

/// Typha replicas for a number of Linux nodes, as the operator's Typha autoscaler sizes it:
/// one per 200 nodes plus one spare, at least three where there are enough nodes.
pub fn typha_replicas(nodes: usize) -> usize {
    match nodes {
        0 | 1 => 1,
        2 | 3 => 2,
        n => (n / 200 + 2).max(3),
    }
}

/// Every object of the core Calico components, in the order the operator creates them.
pub fn render_core(inputs: &CoreInputs<'_>) -> Vec<Value> {
    let owner = Some(&inputs.owner);
    let ns = CALICO_NAMESPACE;
    let mut objects = vec![
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": ns, "ownerReferences": [inputs.owner],
                            "labels": {"name": ns, "pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/enforce-version": "latest"}}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("active-operator", ns, owner), "data": {"active-namespace": OPERATOR_NAMESPACE}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(CA_BUNDLE, ns, owner),
               "data": {"ca-bundle.crt": inputs.certificates.ca.cert, "tigera-ca-bundle.crt": inputs.certificates.ca.cert}}),
        tls_secret(
            TYPHA_CERTS,
            ns,
            &inputs.certificates.typha,
            Some("typha-server"),
            owner,
        ),
        tls_secret(
            NODE_CERTS,
            ns,
            &inputs.certificates.node,
            Some("typha-client"),
            owner,
        ),
    ];
    for account in [TYPHA, NODE, "calico-cni-plugin", KUBE_CONTROLLERS] {
        objects.push(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(account, ns, owner)}));
    }
    objects.push(typha_service(owner));
    objects.push(pod_disruption_budget(TYPHA, ns, owner));
    objects.push(typha_deployment(inputs));
    let cni_config = linux_cni_config(inputs);
    if let Some(config) = &cni_config {
        objects.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(CNI_CONFIG, ns, owner), "data": {"config": config}}));
    }
    objects.push(node_daemonset(inputs, cni_config.as_deref()));
    objects.push(kube_controllers_deployment(inputs));
    objects.push(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "calico-kube-controllers-metrics", "namespace": ns, "labels": {"k8s-app": KUBE_CONTROLLERS}, "ownerReferences": [inputs.owner]},
        "spec": {"clusterIP": "None", "selector": {"k8s-app": KUBE_CONTROLLERS},
                 "ports": [{"name": "metrics-port", "port": 9094, "protocol": "TCP", "targetPort": 9094}]}}));
    objects.push(pod_disruption_budget(KUBE_CONTROLLERS, ns, owner));
    objects
}

fn pod_disruption_budget(app: &str, namespace: &str, owner: Option<&Value>) -> Value {
    json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta(app, namespace, owner),
           "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"k8s-app": app}}}})
}

fn typha_service(owner: Option<&Value>) -> Value {
    let mut metadata = meta(TYPHA, CALICO_NAMESPACE, owner);
    metadata["labels"] = json!({"k8s-app": TYPHA});
    json!({"apiVersion": "v1", "kind": "Service", "metadata": metadata,
           "spec": {"selector": {"k8s-app": TYPHA},
                    "ports": [{"name": TYPHA, "port": TYPHA_PORT, "protocol": "TCP", "targetPort": TYPHA}]}})
}

fn typha_deployment(inputs: &CoreInputs<'_>) -> Value {
    let spec = inputs.spec;
    let mut env = vec![
        env("TYPHA_LOGSEVERITYSCREEN", "info"),
        env("TYPHA_LOGFILEPATH", "none"),
        env("TYPHA_LOGSEVERITYSYS", "none"),
        env("TYPHA_CONNECTIONREBALANCINGMODE", "kubernetes"),
        env("TYPHA_DATASTORETYPE", "kubernetes"),
        env("TYPHA_HEALTHENABLED", "true"),
        env("TYPHA_HEALTHPORT", &TYPHA_HEALTH_PORT.to_string()),
        env("TYPHA_K8SNAMESPACE", CALICO_NAMESPACE),
        env("TYPHA_CAFILE", "/etc/pki/tls/certs/tigera-ca-bundle.crt"),
        env("TYPHA_SERVERCERTFILE", "/typha-certs/tls.crt"),
        env("TYPHA_SERVERKEYFILE", "/typha-certs/tls.key"),
        env("TYPHA_FIPSMODEENABLED", "false"),
        env("TYPHA_SHUTDOWNTIMEOUTSECS", "300"),
        env("TYPHA_CLIENTCN", "typha-client"),
    ];
    env.extend(inputs.endpoint.env());
    let probe = |path: &str| json!({"httpGet": {"host": "localhost", "path": path, "port": TYPHA_HEALTH_PORT, "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 10});
    let mut pod = json!({
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": tolerate_all(),
        "priorityClassName": "system-cluster-critical",
        "serviceAccountName": TYPHA,
        "terminationGracePeriodSeconds": 300,
        "hostNetwork": true,
        "dnsPolicy": "ClusterFirstWithHostNet",
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": {
            "labelSelector": {"matchExpressions": [{"key": "k8s-app", "operator": "In", "values": [TYPHA]}]},
            "topologyKey": "topology.kubernetes.io/zone"}}]}},
        "containers": [{
            "name": TYPHA, "image": spec.image("typha"), "env": env,
            "ports": [{"name": TYPHA, "containerPort": TYPHA_PORT, "protocol": "TCP"}],
            "livenessProbe": probe("/liveness"), "readinessProbe": probe("/readiness"),
            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "privileged": false,
                                "runAsNonRoot": true, "runAsUser": 10001, "runAsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
            "volumeMounts": [mount(CA_BUNDLE, "/etc/pki/tls/certs", true), mount(TYPHA_CERTS, "/typha-certs", true)],
        }],
        "volumes": [
            {"name": CA_BUNDLE, "configMap": {"name": CA_BUNDLE}},
            {"name": TYPHA_CERTS, "secret": {"secretName": TYPHA_CERTS, "defaultMode": 420}},
        ],
    });
    if let Some(affinity) = spec.0.pointer("/typhaAffinity/nodeAffinity") {
        pod["affinity"]["nodeAffinity"] = affinity.clone();
    }
    let annotations = json!({
        "hash.operator.tigera.io/tigera-ca-private": content_hash(&inputs.certificates.ca.cert),
        "hash.operator.tigera.io/typha-certs": content_hash(&inputs.certificates.typha.cert),
    });
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": TYPHA, "namespace": CALICO_NAMESPACE, "labels": app_labels(TYPHA), "ownerReferences": [inputs.owner]},
           "spec": {"replicas": typha_replicas(inputs.linux_nodes), "revisionHistoryLimit": 2,
                    "selector": {"matchLabels": {"k8s-app": TYPHA}},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 1}},
                    "template": {"metadata": {"labels": app_labels(TYPHA), "annotations": annotations}, "spec": pod}}})
}

fn linux_cni_config(inputs: &CoreInputs<'_>) -> Option<String> {
    let spec = inputs.spec;
    if !spec.calico_cni() {
        return None;
    }
    let ipam = if spec.ipam_type() == "HostLocal" {
        json!({"type": "host-local", "subnet": "usePodCidr"})
    } else {
        json!({"type": "calico-ipam", "assign_ipv4": (spec.v4_pool().is_some()).to_string(), "assign_ipv6": (spec.v6_pool().is_some()).to_string()})
    };
    let mut kubernetes = json!({"kubeconfig": "__KUBECONFIG_FILEPATH__"});
    if !inputs.endpoint.host.is_empty() {
        kubernetes["k8s_api_root"] = json!(format!(
            "https://{}:{}",
            inputs.endpoint.host, inputs.endpoint.port
        ));
    }
    let logging = |key: &str| {
        spec.0
            .pointer(&format!("/logging/cni/{key}"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let config = json!({
        "name": "k8s-pod-network",
        "cniVersion": "0.3.1",
        "plugins": [
            {"type": "calico", "datastore_type": "kubernetes", "mtu": spec.mtu().unwrap_or(0), "nodename_file_optional": false,
             "log_level": logging("logSeverity"), "log_file_path": "/var/log/calico/cni/cni.log",
             "log_file_max_size": 100, "log_file_max_age": logging("logFileMaxAgeDays"), "log_file_max_count": logging("logFileMaxCount"),
             "ipam": ipam, "container_settings": {"allow_ip_forwarding": false}, "policy": {"type": "k8s"}, "kubernetes": kubernetes},
            {"type": "bandwidth", "capabilities": {"bandwidth": true}},
            {"type": "portmap", "snat": true, "capabilities": {"portMappings": true}},
        ],
    });
    serde_json::to_string_pretty(&config).ok()
}

/// `CALICO_IPV4POOL_*` / `CALICO_IPV6POOL_*` for the node agents (both operating systems).
fn pool_env(spec: Spec<'_>) -> Vec<Value> {
    if spec.pools().is_empty() {
        return vec![env("NO_DEFAULT_POOLS", "true")];
    }
    let mut out = Vec::new();
    for (family, pool) in [("IPV4", spec.v4_pool()), ("IPV6", spec.v6_pool())] {
        let Some(pool) = pool else { continue };
        let p = Spec(pool);
        out.push(env(&format!("CALICO_{family}POOL_CIDR"), p.text("/cidr")));
        let (mode, value) = match p.text("/encapsulation") {
            "IPIPCrossSubnet" => ("IPIP", "CrossSubnet"),
            "VXLAN" => ("VXLAN", "Always"),
            "VXLANCrossSubnet" => ("VXLAN", "CrossSubnet"),
            "None" if family == "IPV6" => ("VXLAN", "Never"),
            "None" => ("IPIP", "Never"),
            _ => ("IPIP", "Always"),
        };
        out.push(env(&format!("CALICO_{family}POOL_{mode}"), value));
        if let Some(size) = pool.get("blockSize").and_then(Value::as_i64) {
            out.push(env(
                &format!("CALICO_{family}POOL_BLOCK_SIZE"),
                &size.to_string(),
            ));
        }
        match (family, p.text("/natOutgoing")) {
            ("IPV4", "Disabled") => out.push(env("CALICO_IPV4POOL_NAT_OUTGOING", "false")),
            ("IPV6", "Enabled") => out.push(env("CALICO_IPV6POOL_NAT_OUTGOING", "true")),
            _ => {}
        }
        if !p.text("/nodeSelector").is_empty() {
            out.push(env(
                &format!("CALICO_{family}POOL_NODE_SELECTOR"),
                p.text("/nodeSelector"),
            ));
        }
        if let Some(disable) = pool.get("disableBGPExport").and_then(Value::as_bool) {
            out.push(env(
                &format!("CALICO_{family}POOL_DISABLE_BGP_EXPORT"),
                &disable.to_string(),
            ));
        }
    }
    out
}

fn autodetection_env(spec: Spec<'_>) -> Vec<Value> {
    let mut out = match spec.autodetection("nodeAddressAutodetectionV4") {
        Some(method) => vec![
            env("IP", "autodetect"),
            env("IP_AUTODETECTION_METHOD", &method),
        ],
        None => vec![env("IP", "none")],
    };
    match spec.autodetection("nodeAddressAutodetectionV6") {
        Some(method) => out.extend([
            env("IP6", "autodetect"),
            env("IP6_AUTODETECTION_METHOD", &method),
            env("FELIX_IPV6SUPPORT", "true"),
        ]),
        None => out.extend([env("IP6", "none"), env("FELIX_IPV6SUPPORT", "false")]),
    }
    out
}

fn node_env(inputs: &CoreInputs<'_>) -> Vec<Value> {
    let spec = inputs.spec;
    let mut out = vec![
        env("DATASTORE_TYPE", "kubernetes"),
        env("WAIT_FOR_DATASTORE", "true"),
        env("CLUSTER_TYPE", &spec.cluster_type()),
        env("CALICO_DISABLE_FILE_LOGGING", "false"),
        env("FELIX_DEFAULTENDPOINTTOHOSTACTION", "ACCEPT"),
        env("FELIX_HEALTHENABLED", "true"),
        env("FELIX_HEALTHPORT", &NODE_HEALTH_PORT.to_string()),
        field_env("NODENAME", "spec.nodeName"),
        field_env("NAMESPACE", "metadata.namespace"),
        env("FELIX_TYPHAK8SNAMESPACE", CALICO_NAMESPACE),
        env("FELIX_TYPHAK8SSERVICENAME", TYPHA),
        env(
            "FELIX_TYPHACAFILE",
            "/etc/pki/tls/certs/tigera-ca-bundle.crt",
        ),
        env("FELIX_TYPHACERTFILE", "/node-certs/tls.crt"),
        env("FELIX_TYPHAKEYFILE", "/node-certs/tls.key"),
        env("FIPS_MODE_ENABLED", "false"),
        env("FELIX_TYPHACN", "typha-server"),
        env(
            "CALICO_MANAGE_CNI",
            if spec.calico_cni() { "true" } else { "false" },
        ),
        env("CALICO_NETWORKING_BACKEND", spec.linux_backend()),
    ];
    out.extend(pool_env(spec));
    if let Some(mtu) = spec.mtu() {
        for key in ["FELIX_VXLANMTU", "FELIX_IPINIPMTU", "FELIX_WIREGUARDMTU"] {
            out.push(env(key, &mtu.to_string()));
        }
    }
    out.extend(autodetection_env(spec));
    if spec
        .0
        .pointer("/calicoNetwork/multiInterfaceMode")
        .is_some()
    {
        out.push(env(
            "MULTI_INTERFACE_MODE",
            Spec(spec.0).text("/calicoNetwork/multiInterfaceMode"),
        ));
    }
    out.extend(inputs.endpoint.env());
    out
}

fn node_daemonset(inputs: &CoreInputs<'_>, cni_config: Option<&str>) -> Value {
    let spec = inputs.spec;
    let privileged = json!({"allowPrivilegeEscalation": true, "capabilities": {"drop": ["ALL"]}, "privileged": true,
                            "runAsGroup": 0, "runAsNonRoot": false, "runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}});
    let flex_path = spec.text("/flexVolumePath");
    let mut init = Vec::new();
    let mut volumes = vec![
        host_path("lib-modules", "/lib/modules", None),
        host_path("xtables-lock", "/run/xtables.lock", Some("FileOrCreate")),
        host_path(
            "policysync",
            "/var/run/nodeagent",
            Some("DirectoryOrCreate"),
        ),
        json!({"name": CA_BUNDLE, "configMap": {"name": CA_BUNDLE}}),
        json!({"name": NODE_CERTS, "secret": {"secretName": NODE_CERTS, "defaultMode": 420}}),
        host_path(
            "var-run-calico",
            "/var/run/calico",
            Some("DirectoryOrCreate"),
        ),
        host_path(
            "var-lib-calico",
            "/var/lib/calico",
            Some("DirectoryOrCreate"),
        ),
    ];
    if flex_path != "None" {
        init.push(json!({"name": "flexvol-driver", "image": spec.image("pod2daemon-flexvol"), "securityContext": privileged,
                         "volumeMounts": [mount("flexvol-driver-host", "/host/driver", false)]}));
        volumes.push(host_path(
            "flexvol-driver-host",
            &format!("{flex_path}nodeagent~uds"),
            Some("DirectoryOrCreate"),
        ));
    }
    let mut annotations = json!({
        "hash.operator.tigera.io/tigera-ca-private": content_hash(&inputs.certificates.ca.cert),
        "hash.operator.tigera.io/node-certs": content_hash(&inputs.certificates.node.cert),
    });
    if let Some(config) = cni_config {
        annotations["hash.operator.tigera.io/cni-config"] = json!(content_hash(config));
        let mut cni_env = vec![
            env("CNI_CONF_NAME", "10-calico.conflist"),
            env("SLEEP", "false"),
            env("CNI_NET_DIR", "/etc/cni/net.d"),
            json!({"name": "CNI_NETWORK_CONFIG", "valueFrom": {"configMapKeyRef": {"name": CNI_CONFIG, "key": "config"}}}),
            field_env("KUBERNETES_NODE_NAME", "spec.nodeName"),
        ];
        cni_env.extend(inputs.endpoint.env());
        init.push(json!({"name": "install-cni", "image": spec.image("cni"), "command": ["/opt/cni/bin/install"],
                         "env": cni_env, "securityContext": privileged,
                         "volumeMounts": [mount("cni-bin-dir", "/host/opt/cni/bin", false), mount("cni-net-dir", "/host/etc/cni/net.d", false)]}));
        volumes.push(host_path(
            "cni-bin-dir",
            "/opt/cni/bin",
            Some("DirectoryOrCreate"),
        ));
        volumes.push(host_path("cni-net-dir", "/etc/cni/net.d", None));
        volumes.push(host_path("cni-log-dir", "/var/log/calico/cni", None));
    }
    let mut readiness = vec!["/bin/calico-node", "-felix-ready"];
    if spec.bgp_enabled() {
        readiness.insert(1, "-bird-ready");
    }
    let mut mounts = vec![
        mount(CA_BUNDLE, "/etc/pki/tls/certs", true),
        mount(NODE_CERTS, "/node-certs", true),
        mount("lib-modules", "/lib/modules", true),
        mount("xtables-lock", "/run/xtables.lock", false),
        mount("policysync", "/var/run/nodeagent", false),
        mount("var-run-calico", "/var/run/calico", false),
        mount("var-lib-calico", "/var/lib/calico", false),
    ];
    if cni_config.is_some() {
        mounts.push(mount("cni-log-dir", "/var/log/calico/cni", true));
    }
    let container = json!({
        "name": NODE, "image": spec.image("node"), "env": node_env(inputs),
        "readinessProbe": {"exec": {"command": readiness}, "periodSeconds": 10, "timeoutSeconds": 5},
        "livenessProbe": {"httpGet": {"host": "localhost", "path": "/liveness", "port": NODE_HEALTH_PORT, "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 10},
        "lifecycle": {"preStop": {"exec": {"command": ["/bin/calico-node", "-shutdown"]}}},
        "securityContext": privileged,
        "volumeMounts": mounts,
    });
    let pod = json!({
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": tolerate_all(),
        "priorityClassName": "system-node-critical",
        "serviceAccountName": NODE,
        "terminationGracePeriodSeconds": 5,
        "hostNetwork": true,
        "dnsPolicy": "ClusterFirstWithHostNet",
        "initContainers": init,
        "containers": [container],
        "volumes": volumes,
    });
    daemonset(NODE, &inputs.owner, spec, &annotations, &pod)
}

fn daemonset(name: &str, owner: &Value, spec: Spec<'_>, annotations: &Value, pod: &Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
           "metadata": {"name": name, "namespace": CALICO_NAMESPACE, "labels": app_labels(name), "ownerReferences": [owner]},
           "spec": {"selector": {"matchLabels": {"k8s-app": name}},
                    "updateStrategy": spec.0.get("nodeUpdateStrategy").cloned().unwrap_or_else(|| json!({"type": "RollingUpdate"})),
                    "template": {"metadata": {"labels": app_labels(name), "annotations": annotations}, "spec": pod}}})
}

fn kube_controllers_deployment(inputs: &CoreInputs<'_>) -> Value {
    let spec = inputs.spec;
    let mut env = vec![
        env("KUBE_CONTROLLERS_CONFIG_NAME", "default"),
        env("DATASTORE_TYPE", "kubernetes"),
        env("ENABLED_CONTROLLERS", "node"),
        env("FIPS_MODE_ENABLED", "false"),
        env("DISABLE_KUBE_CONTROLLERS_CONFIG_API", "false"),
    ];
    env.extend(inputs.endpoint.env());
    let check = |flag: &str| json!({"exec": {"command": ["/usr/bin/check-status", flag]}, "periodSeconds": 10, "timeoutSeconds": 10});
    let mut liveness = check("-l");
    liveness["initialDelaySeconds"] = json!(10);
    liveness["failureThreshold"] = json!(6);
    let pod = json!({
        "nodeSelector": control_plane_node_selector(spec),
        "tolerations": tolerate_control_plane(spec),
        "serviceAccountName": KUBE_CONTROLLERS,
        "priorityClassName": "system-cluster-critical",
        "containers": [{
            "name": KUBE_CONTROLLERS, "image": spec.image("kube-controllers"), "env": env,
            "livenessProbe": liveness, "readinessProbe": check("-r"),
            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "privileged": false,
                                "runAsNonRoot": true, "runAsUser": 999, "runAsGroup": 0, "seccompProfile": {"type": "RuntimeDefault"}},
            "volumeMounts": [mount(CA_BUNDLE, "/etc/pki/tls/certs", true)],
        }],
        "volumes": [{"name": CA_BUNDLE, "configMap": {"name": CA_BUNDLE}}],
    });
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": KUBE_CONTROLLERS, "namespace": CALICO_NAMESPACE, "labels": app_labels(KUBE_CONTROLLERS), "ownerReferences": [inputs.owner]},
           "spec": {"replicas": 1, "strategy": {"type": "Recreate"}, "selector": {"matchLabels": {"k8s-app": KUBE_CONTROLLERS}},
                    "template": {"metadata": {"name": KUBE_CONTROLLERS, "namespace": CALICO_NAMESPACE, "labels": app_labels(KUBE_CONTROLLERS),
                                              "annotations": {"hash.operator.tigera.io/tigera-ca-private": content_hash(&inputs.certificates.ca.cert)}},
                                 "spec": pod}}})
}

/// The `crd.projectcalico.org/v1` IPPools the Installation asks for, by name. Pools without
/// a name are skipped (only the first pool of each family is named by default).
pub fn render_pools(spec: Spec<'_>) -> Vec<Value> {
    if !spec.calico_ipam() {
        return Vec::new();
    }
    spec.pools()
        .iter()
        .filter(|p| !Spec(p).text("/name").is_empty())
        .map(|pool| {
            let p = Spec(pool);
            let (ipip, vxlan) = match p.text("/encapsulation") {
                "IPIP" => ("Always", "Never"),
                "IPIPCrossSubnet" => ("CrossSubnet", "Never"),
                "VXLAN" => ("Never", "Always"),
                "VXLANCrossSubnet" => ("Never", "CrossSubnet"),
                _ => ("Never", "Never"),
            };
            let mut pool_spec = json!({
                "cidr": p.text("/cidr"),
                "blockSize": pool.get("blockSize").and_then(Value::as_i64).unwrap_or(if is_v6(pool) { 122 } else { 26 }),
                "ipipMode": ipip,
                "vxlanMode": vxlan,
                "natOutgoing": p.text("/natOutgoing") == "Enabled",
                "nodeSelector": p.text("/nodeSelector"),
                "allowedUses": pool.get("allowedUses").cloned().unwrap_or_else(|| json!(["Workload", "Tunnel"])),
            });
            for key in ["disableBGPExport", "assignmentMode"] {
                if let Some(value) = pool.get(key) {
                    pool_spec[key] = value.clone();
                }
            }
            if pool.get("disableNewAllocations").and_then(Value::as_bool) == Some(true) {
                pool_spec["disabled"] = json!(true);
            }
            json!({"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
                   "metadata": {"name": p.text("/name"), "labels": {MANAGED_BY: "tigera-operator"}},
                   "spec": pool_spec})
        })
        .collect()
}

/// FelixConfiguration `default` fields the operator fills in when they are unset.
pub fn felix_defaults(spec: Spec<'_>) -> Value {
    let health_port = if spec.provider() == "OpenShift" {
        9199
    } else {
        NODE_HEALTH_PORT
    };
    let vni = if spec.provider() == "DockerEnterprise" {
        10000
    } else {
        4096
    };
    json!({"healthPort": health_port, "vxlanVNI": vni, "vxlanPort": 4789})
}

/// What rendering `calico-node-windows` needs besides the defaulted spec.
#[derive(Debug, Clone)]
pub struct WindowsInputs<'a> {
    pub spec: Spec<'a>,
    pub owner: Value,
    pub endpoint: Endpoint,
    /// `kube-system/kube-dns` cluster IPs.
    pub dns_servers: Vec<String>,
    pub vxlan_vni: i64,
    pub certificates: &'a Certificates,
}

/// The Windows CNI ConfigMap and the HostProcess DaemonSet of DOMAIN.md §4.1.
pub fn render_windows(inputs: &WindowsInputs<'_>) -> Vec<Value> {
    let config = windows_cni_config(inputs);
    let mut annotations = json!({
        "hash.operator.tigera.io/tigera-ca-private": content_hash(&inputs.certificates.ca.cert),
        "hash.operator.tigera.io/node-certs": content_hash(&inputs.certificates.node.cert),
    });
    let mut objects = Vec::new();
    if let Some(config) = &config {
        annotations["hash.operator.tigera.io/cni-config"] = json!(content_hash(config));
        objects.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(WINDOWS_CNI_CONFIG, CALICO_NAMESPACE, Some(&inputs.owner)),
                            "data": {"config": config}}));
    }
    objects.push(windows_daemonset(inputs, &annotations));
    objects
}

fn host_process() -> Value {
    json!({"windowsOptions": {"hostProcess": true, "runAsUserName": "NT AUTHORITY\\system"}})
}

fn windows_cni_config(inputs: &WindowsInputs<'_>) -> Option<String> {
    let spec = inputs.spec;
    if !spec.calico_cni() {
        return None;
    }
    let (_, net_dir, _) = spec.windows_dirs();
    let net_dir = net_dir.trim_start_matches("c:").trim_start_matches("C:");
    let cidrs = spec.service_cidrs();
    let mut policies = vec![
        json!({"Name": "EndpointPolicy", "Value": {"Type": "OutBoundNAT", "ExceptionList": cidrs}}),
    ];
    policies.extend(cidrs.iter().map(|cidr| json!({"Name": "EndpointPolicy", "Value": {"Type": "SDNROUTE", "DestinationPrefix": cidr, "NeedEncap": true}})));
    let mut kubernetes =
        json!({"kubeconfig": format!("c:{}/calico-kubeconfig", net_dir.trim_end_matches('/'))});
    if !inputs.endpoint.host.is_empty() {
        kubernetes["k8s_api_root"] = json!(format!(
            "https://{}:{}",
            inputs.endpoint.host, inputs.endpoint.port
        ));
    }
    let ipam_type = if spec.ipam_type() == "HostLocal" {
        "host-local"
    } else {
        "calico-ipam"
    };
    let logging = |key: &str| {
        spec.0
            .pointer(&format!("/logging/cni/{key}"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let plugin = json!({
        "type": "calico", "name": "Calico", "windows_use_single_network": true, "mode": spec.windows_backend(),
        "vxlan_mac_prefix": match spec.text("/windowsNodes/vxlanMACPrefix") { "" => "0E-2A", p => p },
        "vxlan_vni": inputs.vxlan_vni, "mtu": spec.mtu().unwrap_or(0), "policy": {"type": "k8s"},
        "log_file_path": "c:/var/log/calico/cni/cni.log", "log_level": logging("logSeverity"),
        "log_file_max_size": 100, "log_file_max_count": logging("logFileMaxCount"), "log_file_max_age": logging("logFileMaxAgeDays"),
        "windows_loopback_DSR": "__DSR_SUPPORT__", "capabilities": {"dns": true},
        "nodename": "__KUBERNETES_NODE_NAME__", "nodename_file": "__NODENAME_FILE__", "nodename_file_optional": true,
        "datastore_type": "kubernetes", "ipam": {"type": ipam_type, "subnet": "usePodCidr"},
        "kubernetes": kubernetes,
        "DNS": {"Nameservers": inputs.dns_servers, "Search": ["svc.cluster.local"]},
        "policies": policies,
    });
    serde_json::to_string_pretty(
        &json!({"name": "Calico", "cniVersion": "0.3.1", "plugins": [plugin]}),
    )
    .ok()
}

fn windows_env(inputs: &WindowsInputs<'_>) -> Vec<Value> {
    let spec = inputs.spec;
    let kube_network = match spec.provider() {
        "AKS" => "azure.*",
        "EKS" => "vpc.*",
        _ => "Calico.*",
    };
    let mut out = vec![
        env("DATASTORE_TYPE", "kubernetes"),
        env("WAIT_FOR_DATASTORE", "true"),
        env("CLUSTER_TYPE", &format!("{},windows", spec.cluster_type())),
        env("CALICO_DISABLE_FILE_LOGGING", "false"),
        env("FELIX_DEFAULTENDPOINTTOHOSTACTION", "ACCEPT"),
        env("FELIX_HEALTHENABLED", "true"),
        field_env("NODENAME", "spec.nodeName"),
        field_env("NAMESPACE", "metadata.namespace"),
        env("FELIX_TYPHAK8SNAMESPACE", CALICO_NAMESPACE),
        env("FELIX_TYPHAK8SSERVICENAME", TYPHA),
        env(
            "FELIX_TYPHACAFILE",
            &format!("{SANDBOX}/etc/pki/tls/certs/tigera-ca-bundle.crt"),
        ),
        env(
            "FELIX_TYPHACERTFILE",
            &format!("{SANDBOX}/node-certs/tls.crt"),
        ),
        env(
            "FELIX_TYPHAKEYFILE",
            &format!("{SANDBOX}/node-certs/tls.key"),
        ),
        env("FIPS_MODE_ENABLED", "false"),
        env("KUBERNETES_DNS_SERVERS", &inputs.dns_servers.join(",")),
        env("KUBERNETES_SERVICE_CIDRS", &spec.service_cidrs().join(",")),
        env("VXLAN_VNI", &inputs.vxlan_vni.to_string()),
        env("VXLAN_ADAPTER", spec.text("/windowsNodes/vxlanAdapter")),
        env("FELIX_TYPHACN", "typha-server"),
        env(
            "CALICO_MANAGE_CNI",
            if spec.calico_cni() { "true" } else { "false" },
        ),
        env("KUBE_NETWORK", kube_network),
    ];
    out.extend(pool_env(spec));
    if let Some(mtu) = spec.mtu() {
        out.extend([
            env("FELIX_VXLANMTU", &mtu.to_string()),
            env("FELIX_WIREGUARDMTU", &mtu.to_string()),
        ]);
    }
    if spec.ipam_type() == "HostLocal" {
        out.push(env("USE_POD_CIDR", "true"));
    }
    out.push(env("CALICO_NETWORKING_BACKEND", spec.windows_backend()));
    out.extend(autodetection_env(spec));
    out.extend(inputs.endpoint.env());
    out
}

fn windows_daemonset(inputs: &WindowsInputs<'_>, annotations: &Value) -> Value {
    let spec = inputs.spec;
    let node_image = spec.image("node-windows");
    let calico_exe = format!("{SANDBOX}/CalicoWindows/calico.exe");
    let env = windows_env(inputs);
    let (bin_dir, net_dir, log_dir) = spec.windows_dirs();
    let cni_mounts = json!([
        mount("cni-bin-dir", "/host/opt/cni/bin", false),
        mount("cni-net-dir", "/host/etc/cni/net.d", false)
    ]);
    let mut mounts = vec![
        mount(CA_BUNDLE, "/etc/pki/tls/certs", true),
        mount(NODE_CERTS, "/node-certs", true),
        mount("var-run-calico", "/var/run/calico", false),
        mount("var-lib-calico", "/var/lib/calico", false),
    ];
    if spec.calico_cni() {
        mounts.push(mount("cni-log-dir", "/var/log/calico/cni", false));
        mounts.push(mount("cni-net-dir", "/host/etc/cni/net.d", false));
    }
    let agent = |name: &str, script: &str| {
        json!({"name": name, "image": node_image, "args": [format!("{SANDBOX}/CalicoWindows/{script}")],
               "workingDir": format!("{SANDBOX}/CalicoWindows/"), "securityContext": host_process(), "env": env, "volumeMounts": mounts})
    };
    let mut felix = agent("felix", "felix-service.ps1");
    let health = |flag: &str| json!([calico_exe, "component", "node", "health", flag]);
    felix["livenessProbe"] = json!({"exec": {"command": health("--felix-live")}, "initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 10, "failureThreshold": 6});
    felix["readinessProbe"] = json!({"exec": {"command": health("--felix-ready")}, "periodSeconds": 10, "timeoutSeconds": 10});
    felix["lifecycle"] =
        json!({"preStop": {"exec": {"command": [calico_exe, "component", "node", "shutdown"]}}});
    let mut containers = vec![felix, agent("node", "node-service.ps1")];
    if spec.bgp_enabled() {
        containers.push(agent("confd", "confd/confd-service.ps1"));
    }
    let mut init = vec![json!({
        "name": "uninstall-calico", "image": node_image, "args": [format!("{SANDBOX}/uninstall-calico.ps1")],
        "env": [env_pair("SLEEP", "false"), env_pair("CNI_BIN_DIR", "/host/opt/cni/bin"), env_pair("CNI_CONF_NAME", "10-calico.conflist"), env_pair("CNI_NET_DIR", "/host/etc/cni/net.d")],
        "securityContext": host_process(), "volumeMounts": cni_mounts,
    })];
    let mut volumes = vec![
        host_path("lib-modules", "/lib/modules", None),
        host_path("xtables-lock", "/run/xtables.lock", Some("FileOrCreate")),
        host_path(
            "policysync",
            "/var/run/nodeagent",
            Some("DirectoryOrCreate"),
        ),
        json!({"name": CA_BUNDLE, "configMap": {"name": CA_BUNDLE}}),
        json!({"name": NODE_CERTS, "secret": {"secretName": NODE_CERTS, "defaultMode": 420}}),
        host_path("var-run-calico", "/var/run/calico", None),
        host_path("var-lib-calico", "/var/lib/calico", None),
    ];
    if spec.calico_cni() {
        let mut cni_env = vec![
            env_pair("SLEEP", "false"),
            env_pair("CNI_BIN_DIR", "/host/opt/cni/bin"),
            env_pair("CNI_CONF_NAME", "10-calico.conflist"),
            env_pair(
                "CNI_NET_DIR",
                net_dir.trim_start_matches("c:").trim_start_matches("C:"),
            ),
            env_pair("KUBERNETES_DNS_SERVERS", &inputs.dns_servers.join(",")),
            env_pair("KUBERNETES_SERVICE_CIDRS", &spec.service_cidrs().join(",")),
            env_pair("VXLAN_VNI", &inputs.vxlan_vni.to_string()),
            field_env("KUBERNETES_NODE_NAME", "spec.nodeName"),
            json!({"name": "CNI_NETWORK_CONFIG", "valueFrom": {"configMapKeyRef": {"name": WINDOWS_CNI_CONFIG, "key": "config"}}}),
        ];
        cni_env.extend(inputs.endpoint.env());
        init.push(
            json!({"name": "install-cni", "image": spec.image("cni-windows"),
                         "command": [format!("{SANDBOX}/opt/cni/bin/install.exe")], "env": cni_env,
                         "securityContext": host_process(), "volumeMounts": cni_mounts}),
        );
        volumes.push(host_path("cni-bin-dir", &bin_dir, None));
        volumes.push(host_path("cni-net-dir", &net_dir, None));
        volumes.push(host_path("cni-log-dir", &log_dir, None));
    }
    let mut pod = json!({
        "nodeSelector": {"kubernetes.io/os": "windows"},
        "tolerations": tolerate_all(),
        "priorityClassName": "system-node-critical",
        "serviceAccountName": NODE,
        "terminationGracePeriodSeconds": 5,
        "hostNetwork": true,
        "initContainers": init,
        "containers": containers,
        "volumes": volumes,
    });
    let excluded = match spec.provider() {
        "AKS" => Some(("type", "virtual-kubelet")),
        "EKS" => Some(("eks.amazonaws.com/compute-type", "fargate")),
        _ => None,
    };
    if let Some((key, value)) = excluded {
        pod["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": key, "operator": "NotIn", "values": [value]}]}]}}});
    }
    daemonset(WINDOWS_NODE, &inputs.owner, spec, annotations, &pod)
}

fn env_pair(name: &str, value: &str) -> Value {
    env(name, value)
}

/// What rendering the Calico API server needs.
#[derive(Debug, Clone)]
pub struct ApiServerInputs<'a> {
    pub spec: Spec<'a>,
    /// ownerReference to the APIServer `default`.
    pub owner: Value,
    pub endpoint: Endpoint,
    pub certificate: &'a KeyPairPem,
}

/// The `calico-apiserver` namespace, workload and Service, and the APIService that
/// aggregates `projectcalico.org/v3` (mode B of DOMAIN.md §0.2).
pub fn render_apiserver(inputs: &ApiServerInputs<'_>) -> Vec<Value> {
    let owner = Some(&inputs.owner);
    let ns = APISERVER_NAMESPACE;
    let selector = json!({"apiserver": "true"});
    let mut labels = app_labels(APISERVER);
    labels["apiserver"] = json!("true");
    let mut env = vec![env("DATASTORE_TYPE", "kubernetes")];
    env.extend(inputs.endpoint.env());
    env.extend([
        env_pair("LOG_LEVEL", "info"),
        env_pair("MULTI_INTERFACE_MODE", "None"),
    ]);
    let pod = json!({
        "nodeSelector": control_plane_node_selector(inputs.spec),
        "tolerations": tolerate_control_plane(inputs.spec),
        "serviceAccountName": APISERVER,
        "dnsPolicy": "ClusterFirst",
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
            "labelSelector": {"matchLabels": selector}, "topologyKey": "kubernetes.io/hostname"}}]}},
        "containers": [{
            "name": APISERVER, "image": inputs.spec.image("apiserver"),
            "args": [format!("--secure-port={APISERVER_PORT}"), "--tls-private-key-file=/calico-apiserver-certs/tls.key", "--tls-cert-file=/calico-apiserver-certs/tls.crt"],
            "env": env,
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": APISERVER_PORT, "scheme": "HTTPS"}, "periodSeconds": 60, "timeoutSeconds": 5},
            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "privileged": false,
                                "runAsNonRoot": true, "runAsUser": 10001, "runAsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
            "volumeMounts": [mount(APISERVER_CERTS, "/calico-apiserver-certs", true)],
        }],
        "volumes": [{"name": APISERVER_CERTS, "secret": {"secretName": APISERVER_CERTS, "defaultMode": 420}}],
    });
    let replicas = inputs
        .spec
        .0
        .get("controlPlaneReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(2);
    let mut service_meta = meta(APISERVER_SERVICE, ns, owner);
    service_meta["labels"] = json!({"k8s-app": APISERVER});
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": ns, "ownerReferences": [inputs.owner],
                            "labels": {"name": ns, "pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/enforce-version": "latest"}}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(APISERVER, ns, owner)}),
        tls_secret(APISERVER_CERTS, ns, inputs.certificate, None, owner),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": APISERVER, "namespace": ns, "labels": labels, "ownerReferences": [inputs.owner]},
               "spec": {"replicas": replicas, "selector": {"matchLabels": selector},
                        "template": {"metadata": {"name": APISERVER, "namespace": ns, "labels": labels,
                                                  "annotations": {"hash.operator.tigera.io/calico-apiserver-certs": content_hash(&inputs.certificate.cert)}},
                                     "spec": pod}}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": service_meta,
               "spec": {"selector": selector, "ports": [{"name": "apiserver", "port": 443, "protocol": "TCP", "targetPort": APISERVER_PORT}]}}),
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta(APISERVER, ns, owner),
               "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}}}),
        apiservice(inputs),
    ]
}

fn apiservice(inputs: &ApiServerInputs<'_>) -> Value {
    use base64::Engine as _;
    json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
           "metadata": {"name": APISERVICE, "ownerReferences": [inputs.owner]},
           "spec": {"group": "projectcalico.org", "version": "v3", "groupPriorityMinimum": 1500, "versionPriority": 200,
                    "service": {"name": APISERVER_SERVICE, "namespace": APISERVER_NAMESPACE, "port": 443},
                    "caBundle": base64::engine::general_purpose::STANDARD.encode(&inputs.certificate.cert)}})
}

/// Container names of a pod template, for tests and diagnostics.
pub fn container_names(pod_spec: &Value, list: &str) -> Vec<String> {
    pod_spec
        .get(list)
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A container's plain `env` as a map (valueFrom entries map to `<from>`).
pub fn env_map(container: &Value) -> BTreeMap<String, String> {
    container
        .get("env")
        .and_then(Value::as_array)
        .map(|e| {
            e.iter()
                .filter_map(|v| {
                    let name = v["name"].as_str()?.to_string();
                    let value = v
                        .get("value")
                        .and_then(Value::as_str)
                        .map_or_else(|| "<from>".to_string(), str::to_string);
                    Some((name, value))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// DOMAIN.md §3.5's Windows VXLAN Installation spec.
    fn windows_vxlan() -> Value {
        json!({
            "serviceCIDRs": ["10.96.0.0/12"],
            "calicoNetwork": {"bgp": "Disabled", "windowsDataplane": "HNS",
                "ipPools": [{"name": "default-ipv4-ippool", "cidr": "192.168.0.0/16", "blockSize": 26, "encapsulation": "VXLAN", "natOutgoing": "Enabled"}]}
        })
    }

    fn certificates() -> Certificates {
        let ca = issue_ca(&[1; 32], 1, (2026, 11, 29)).unwrap();
        let typha = issue(
            &ca,
            &[2; 32],
            2,
            (2026, 11, 29),
            "typha-server",
            vec!["typha-server".into()],
        )
        .unwrap();
        let node = issue(
            &ca,
            &[3; 32],
            3,
            (2026, 11, 29),
            "typha-client",
            vec!["typha-client".into()],
        )
        .unwrap();
        Certificates { ca, typha, node }
    }

    #[test]
    fn defaults_follow_the_operator() {
        let computed = fill_defaults(&json!({}));
        assert_eq!(computed["variant"], "Calico");
        assert_eq!(
            computed["cni"],
            json!({"type": "Calico", "ipam": {"type": "Calico"}})
        );
        let network = &computed["calicoNetwork"];
        assert_eq!(network["bgp"], "Enabled");
        assert_eq!(network["linuxDataplane"], "Iptables");
        assert_eq!(network["windowsDataplane"], "Disabled");
        assert_eq!(
            network["ipPools"],
            json!([{"name": "default-ipv4-ippool", "cidr": "192.168.0.0/16", "encapsulation": "IPIP", "natOutgoing": "Enabled", "nodeSelector": "all()", "blockSize": 26}])
        );
        assert_eq!(
            network["nodeAddressAutodetectionV4"],
            json!({"firstFound": true})
        );
        assert_eq!(
            computed["nodeUpdateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}})
        );
        assert_eq!(computed["controlPlaneReplicas"], 2);
        assert!(computed.get("windowsNodes").is_none());
        // An empty pool list means "no pools"; an explicit BGP setting is kept.
        let none = fill_defaults(&json!({"calicoNetwork": {"ipPools": [], "bgp": "Disabled"}}));
        assert_eq!(none["calicoNetwork"]["ipPools"], json!([]));
        assert_eq!(none["calicoNetwork"]["bgp"], "Disabled");
        // Defaulting is idempotent.
        assert_eq!(fill_defaults(&computed), computed);
    }

    #[test]
    fn windows_defaults_add_cni_directories() {
        let computed = fill_defaults(&windows_vxlan());
        assert_eq!(
            computed["windowsNodes"],
            json!({"cniBinDir": "/opt/cni/bin", "cniConfigDir": "/etc/cni/net.d", "cniLogDir": "/var/log/calico/cni"})
        );
        assert_eq!(Spec(&computed).pod_mtu(), 1450);
        assert_eq!(
            computed["calicoNetwork"]["ipPools"][0]["nodeSelector"],
            "all()"
        );
    }

    #[test]
    fn windows_validation_messages_in_order() {
        let mut spec = fill_defaults(&windows_vxlan());
        let complete = Endpoint {
            host: "10.224.0.4".into(),
            port: "443".into(),
        };
        assert_eq!(
            validate_windows(&spec, &Endpoint::default()).unwrap_err(),
            "services endpoint configmap 'kubernetes-services-endpoint' does not have all required information for Calico Windows daemonset configuration"
        );
        assert!(
            validate_windows(
                &spec,
                &Endpoint {
                    host: "10.224.0.4".into(),
                    port: String::new()
                }
            )
            .is_err()
        );
        spec["serviceCIDRs"] = json!([]);
        assert_eq!(
            validate_windows(&spec, &complete).unwrap_err(),
            "installation spec.ServiceCIDRs must be provided when using Calico CNI on Windows"
        );
        spec["serviceCIDRs"] = json!(["10.96.0.0/12"]);
        spec["calicoNetwork"]["ipPools"][0]["encapsulation"] = json!("VXLANCrossSubnet");
        assert_eq!(
            validate_windows(&spec, &complete).unwrap_err(),
            "IPv4 IPPool encapsulation VXLANCrossSubnet is not supported by Calico for Windows"
        );
        spec["calicoNetwork"]["ipPools"][0]["encapsulation"] = json!("None");
        assert!(validate_windows(&spec, &complete).is_ok());
    }

    #[test]
    fn core_validation() {
        let ipip_without_bgp = fill_defaults(
            &json!({"calicoNetwork": {"bgp": "Disabled", "ipPools": [{"cidr": "10.0.0.0/16"}]}}),
        );
        assert_eq!(
            validate(&ipip_without_bgp).unwrap_err(),
            "IPIP encapsulation requires that BGP is enabled"
        );
        let bad_cidr =
            fill_defaults(&json!({"calicoNetwork": {"ipPools": [{"cidr": "10.0.0.0/99"}]}}));
        assert!(
            validate(&bad_cidr)
                .unwrap_err()
                .starts_with("ipPool.CIDR(10.0.0.0/99) is invalid")
        );
        assert!(validate(&fill_defaults(&windows_vxlan())).is_ok());
        assert!(validate(&fill_defaults(&json!({}))).is_ok());
    }

    #[test]
    fn pools_map_encapsulation_to_modes() {
        let mut spec = fill_defaults(&windows_vxlan());
        let pools = render_pools(Spec(&spec));
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0]["metadata"]["name"], "default-ipv4-ippool");
        assert_eq!(
            pools[0]["spec"],
            json!({"cidr": "192.168.0.0/16", "blockSize": 26, "ipipMode": "Never", "vxlanMode": "Always", "natOutgoing": true,
                   "nodeSelector": "all()", "allowedUses": ["Workload", "Tunnel"]})
        );
        for (encapsulation, ipip, vxlan) in [
            ("VXLANCrossSubnet", "Never", "CrossSubnet"),
            ("IPIP", "Always", "Never"),
            ("None", "Never", "Never"),
        ] {
            spec["calicoNetwork"]["ipPools"][0]["encapsulation"] = json!(encapsulation);
            spec["calicoNetwork"]["ipPools"][0]["natOutgoing"] = json!("Disabled");
            spec["calicoNetwork"]["ipPools"][0]["disableBGPExport"] = json!(true);
            let pool = &render_pools(Spec(&spec))[0]["spec"];
            assert_eq!(
                (pool["ipipMode"].as_str(), pool["vxlanMode"].as_str()),
                (Some(ipip), Some(vxlan)),
                "{encapsulation}"
            );
            assert_eq!(pool["natOutgoing"], false);
            assert_eq!(pool["disableBGPExport"], true);
        }
    }

    #[test]
    fn typha_scales_with_linux_nodes() {
        assert_eq!(typha_replicas(1), 1);
        assert_eq!(typha_replicas(3), 2);
        assert_eq!(typha_replicas(4), 3);
        assert_eq!(typha_replicas(250), 3);
        assert_eq!(typha_replicas(4050), 22);
    }

    #[test]
    fn linux_node_daemonset() {
        let spec = fill_defaults(&windows_vxlan());
        let certs = certificates();
        let inputs = CoreInputs {
            spec: Spec(&spec),
            owner: owner_reference("Installation", "default", "u1"),
            endpoint: Endpoint::default(),
            linux_nodes: 4,
            certificates: &certs,
        };
        let objects = render_core(&inputs);
        let ds = objects.iter().find(|o| o["kind"] == "DaemonSet").unwrap();
        assert_eq!(ds["metadata"]["ownerReferences"][0]["kind"], "Installation");
        let pod = &ds["spec"]["template"]["spec"];
        assert_eq!(pod["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
        assert_eq!(pod["priorityClassName"], "system-node-critical");
        assert_eq!(pod["hostNetwork"], true);
        assert_eq!(
            container_names(pod, "initContainers"),
            ["flexvol-driver", "install-cni"]
        );
        assert_eq!(container_names(pod, "containers"), ["calico-node"]);
        let env = env_map(&pod["containers"][0]);
        assert_eq!(env["CALICO_NETWORKING_BACKEND"], "vxlan");
        assert_eq!(env["CLUSTER_TYPE"], "k8s,operator");
        assert_eq!(env["IP_AUTODETECTION_METHOD"], "first-found");
        assert_eq!(env["CALICO_IPV4POOL_VXLAN"], "Always");
        assert_eq!(
            pod["containers"][0]["readinessProbe"]["exec"]["command"],
            json!(["/bin/calico-node", "-felix-ready"])
        );
        assert_eq!(
            ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
            1
        );
        assert_eq!(pod["tolerations"].as_array().unwrap().len(), 3);
        let typha = objects
            .iter()
            .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == TYPHA)
            .unwrap();
        assert_eq!(typha["spec"]["replicas"], 3);
        assert_eq!(
            typha["spec"]["template"]["metadata"]["labels"]["k8s-app"],
            TYPHA
        );
        // BGP on: BIRD backend and its readiness check.
        let bgp = fill_defaults(&json!({}));
        let bgp_inputs = CoreInputs {
            spec: Spec(&bgp),
            ..inputs.clone()
        };
        let bgp_ds = render_core(&bgp_inputs)
            .into_iter()
            .find(|o| o["kind"] == "DaemonSet")
            .unwrap();
        let bgp_env = env_map(&bgp_ds["spec"]["template"]["spec"]["containers"][0]);
        assert_eq!(bgp_env["CALICO_NETWORKING_BACKEND"], "bird");
        assert_eq!(bgp_env["CLUSTER_TYPE"], "k8s,operator,bgp");
    }

    fn windows_inputs<'a>(spec: &'a Value, certs: &'a Certificates) -> WindowsInputs<'a> {
        WindowsInputs {
            spec: Spec(spec),
            owner: owner_reference("Installation", "default", "u1"),
            endpoint: Endpoint {
                host: "10.224.0.4".into(),
                port: "443".into(),
            },
            dns_servers: vec!["10.96.0.10".into()],
            vxlan_vni: 4096,
            certificates: certs,
        }
    }

    #[test]
    fn windows_cni_config() {
        let spec = fill_defaults(&windows_vxlan());
        let certs = certificates();
        let objects = render_windows(&windows_inputs(&spec, &certs));
        assert_eq!(objects[0]["metadata"]["name"], WINDOWS_CNI_CONFIG);
        let config: Value =
            serde_json::from_str(objects[0]["data"]["config"].as_str().unwrap()).unwrap();
        let plugin = &config["plugins"][0];
        assert_eq!(plugin["windows_use_single_network"], true);
        assert_eq!(plugin["mode"], "vxlan");
        assert_eq!(plugin["vxlan_vni"], 4096);
        assert_eq!(plugin["DNS"]["Nameservers"], json!(["10.96.0.10"]));
        assert_eq!(
            plugin["policies"][0]["Value"]["ExceptionList"],
            json!(["10.96.0.0/12"])
        );
        // BGP on adds confd and the windows-bgp backend.
        let mut bgp = spec.clone();
        bgp["calicoNetwork"]["bgp"] = json!("Enabled");
        let bgp_ds = render_windows(&windows_inputs(&bgp, &certs)).pop().unwrap();
        assert_eq!(
            container_names(&bgp_ds["spec"]["template"]["spec"], "containers"),
            ["felix", "node", "confd"]
        );
        assert_eq!(
            env_map(&bgp_ds["spec"]["template"]["spec"]["containers"][1])["CALICO_NETWORKING_BACKEND"],
            "windows-bgp"
        );
    }

    #[test]
    fn windows_daemonset_matches_domain_4_1() {
        let spec = fill_defaults(&windows_vxlan());
        let certs = certificates();
        let objects = render_windows(&windows_inputs(&spec, &certs));
        let ds = &objects[1];
        assert_eq!(ds["metadata"]["name"], WINDOWS_NODE);
        assert_eq!(
            ds["spec"]["selector"]["matchLabels"],
            json!({"k8s-app": WINDOWS_NODE})
        );
        let pod = &ds["spec"]["template"]["spec"];
        assert_eq!(pod["nodeSelector"], json!({"kubernetes.io/os": "windows"}));
        assert_eq!(pod["hostNetwork"], true);
        assert_eq!(pod["serviceAccountName"], "calico-node");
        assert_eq!(pod["terminationGracePeriodSeconds"], 5);
        assert_eq!(pod["priorityClassName"], "system-node-critical");
        assert!(
            pod.get("securityContext").is_none(),
            "no pod-level security context"
        );
        assert_eq!(
            container_names(pod, "initContainers"),
            ["uninstall-calico", "install-cni"]
        );
        assert_eq!(container_names(pod, "containers"), ["felix", "node"]);
        for list in ["initContainers", "containers"] {
            for c in pod[list].as_array().unwrap() {
                assert_eq!(
                    c["securityContext"]["windowsOptions"],
                    json!({"hostProcess": true, "runAsUserName": "NT AUTHORITY\\system"}),
                    "{}",
                    c["name"]
                );
            }
        }
        assert_eq!(
            pod["initContainers"][1]["image"],
            "quay.io/calico/cni-windows:v3.27.3"
        );
        assert_eq!(
            pod["containers"][0]["image"],
            "quay.io/calico/node-windows:v3.27.3"
        );
        let felix = &pod["containers"][0];
        assert_eq!(felix["livenessProbe"]["failureThreshold"], 6);
        assert_eq!(felix["livenessProbe"]["initialDelaySeconds"], 10);
        assert_eq!(
            felix["readinessProbe"]["exec"]["command"][4],
            "--felix-ready"
        );
        assert_eq!(
            felix["lifecycle"]["preStop"]["exec"]["command"][3],
            "shutdown"
        );
        let env = env_map(felix);
        assert_eq!(env["CALICO_NETWORKING_BACKEND"], "vxlan");
        assert_eq!(env["KUBE_NETWORK"], "Calico.*");
        assert_eq!(env["VXLAN_VNI"], "4096");
        assert_eq!(env["KUBERNETES_SERVICE_HOST"], "10.224.0.4");
        assert_eq!(env["KUBERNETES_SERVICE_PORT"], "443");
        assert_eq!(env["CLUSTER_TYPE"], "k8s,operator,windows");
        assert_eq!(env["IP_AUTODETECTION_METHOD"], "first-found");
        assert_eq!(env["KUBERNETES_SERVICE_CIDRS"], "10.96.0.0/12");
        assert_eq!(
            env_map(&pod["initContainers"][1])["CNI_NETWORK_CONFIG"],
            "<from>"
        );
    }

    #[test]
    fn certificates_are_deterministic_and_real() {
        let a = certificates();
        let b = certificates();
        assert_eq!(a, b);
        assert!(a.ca.cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(a.node.key.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_ne!(a.typha.cert, a.node.cert);
    }

    #[test]
    fn registry_overrides_change_images() {
        let spec =
            fill_defaults(&json!({"registry": "myregistry.example.com", "imagePath": "mirror"}));
        assert_eq!(
            Spec(&spec).image("node"),
            "myregistry.example.com/mirror/node:v3.27.3"
        );
        assert_eq!(
            Spec(&fill_defaults(&json!({}))).image("typha"),
            "quay.io/calico/typha:v3.27.3"
        );
    }
}
