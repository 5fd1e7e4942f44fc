//! Our own `spec`/`status` schemas for the Tigera operator's kinds
//! (`operator.tigera.io/v1`), written from DOMAIN.md §3. It only describes
//! data; the CRD wrapping lives in `crds`. Large override structures
//! (DaemonSet and Deployment overrides, update strategies, logging) keep
//! their content through `x-kubernetes-preserve-unknown-fields` instead of
//! being typed field by field; everything the simulator's operator reads is
//! typed, so unknown keys there are pruned as on a real cluster.
//!
//! Not modelled: the CEL rule that limits Installation names to `default`,
//! `tigera-secure` and `overlay`.

use serde_json::{Value, json};

use super::crds::{
    array_of, boolean, date_time, described, int32, int64, metav1_condition, object,
    preserved_object, string, string_enum, string_list, string_map,
};

pub(super) fn installation_spec() -> Value {
    let mut properties = json!({
        "variant": string_enum(&["Calico", "CalicoEnterprise", "TigeraSecureEnterprise"]),
        "registry": string(),
        "imagePath": string(),
        "imagePrefix": string(),
        "imagePullSecrets": array_of(object(json!({"name": string()}), &[])),
        "kubernetesProvider": string_enum(&[
            "", "EKS", "GKE", "AKS", "RKE2", "OpenShift", "DockerEnterprise", "TKG", "Kind",
        ]),
        "cni": cni(),
        "calicoNetwork": calico_network(),
        "serviceCIDRs": described(
            string_list(),
            "The cluster's Service CIDRs; required when Calico runs on Windows."
        ),
        "windowsNodes": windows_nodes(),
        "controlPlaneNodeSelector": string_map(),
        "controlPlaneTolerations": array_of(preserved_object()),
        "controlPlaneReplicas": int32(),
        "nodeMetricsPort": int32(),
        "typhaMetricsPort": int32(),
        "flexVolumePath": string(),
        "kubeletVolumePluginPath": string(),
        "nonPrivileged": string(),
        "fipsMode": string(),
        "componentResources": array_of(preserved_object()),
        "tlsCipherSuites": array_of(preserved_object()),
    });
    // Override structures the simulator never interprets.
    for name in [
        "nodeUpdateStrategy",
        "calicoNodeDaemonSet",
        "calicoNodeWindowsDaemonSet",
        "calicoWindowsUpgradeDaemonSet",
        "csiNodeDriverDaemonSet",
        "calicoKubeControllersDeployment",
        "typhaDeployment",
        "typhaAffinity",
        "certificateManagement",
        "logging",
        "azure",
        "proxy",
    ] {
        properties[name] = preserved_object();
    }
    properties["nodeUpdateStrategy"]["description"] = json!(
        "DaemonSet update strategy for both node DaemonSets; RollingUpdate with maxUnavailable 1 by default."
    );
    object(properties, &[])
}

fn cni() -> Value {
    let ipam = object(
        json!({"type": string_enum(&["Calico", "HostLocal", "AmazonVPC", "AzureVNET"])}),
        &["type"],
    );
    object(
        json!({
            "type": string_enum(&["Calico", "GKE", "AmazonVPC", "AzureVNET"]),
            "ipam": ipam,
            "binDir": string(),
            "confDir": string(),
        }),
        &["type"],
    )
}

fn calico_network() -> Value {
    let enabled_disabled = string_enum(&["Enabled", "Disabled"]);
    object(
        json!({
            "bgp": described(
                enabled_disabled.clone(),
                "Enabled by default with Calico CNI (except on EKS); must be Disabled for Windows VXLAN."
            ),
            "linuxDataplane": string_enum(&["Iptables", "BPF", "VPP", "Nftables"]),
            "windowsDataplane": described(
                string_enum(&["HNS", "Disabled"]),
                "Disabled (the default) means calico-node-windows is not rendered."
            ),
            "ipPools": {
                "type": "array",
                "maxItems": 25,
                "items": installation_ip_pool()
            },
            "mtu": int32(),
            "nodeAddressAutodetectionV4": node_address_autodetection(),
            "nodeAddressAutodetectionV6": node_address_autodetection(),
            "hostPorts": enabled_disabled.clone(),
            "containerIPForwarding": enabled_disabled,
            "multiInterfaceMode": string(),
            "linuxPolicySetupTimeoutSeconds": int32(),
            "bpfNetworkBootstrap": string(),
            "kubeProxyManagement": string(),
            "sysctl": array_of(object(json!({"key": string(), "value": string()}), &["key", "value"])),
        }),
        &[],
    )
}

fn installation_ip_pool() -> Value {
    object(
        json!({
            "name": string(),
            "cidr": string(),
            "encapsulation": described(
                string_enum(&["IPIPCrossSubnet", "IPIP", "VXLAN", "VXLANCrossSubnet", "None"]),
                "Windows supports only VXLAN, or None with BGP."
            ),
            "natOutgoing": string_enum(&["Enabled", "Disabled"]),
            "nodeSelector": string(),
            "blockSize": int32(),
            "disableBGPExport": boolean(),
            "disableNewAllocations": boolean(),
            "allowedUses": array_of(string_enum(&["Workload", "Tunnel", "LoadBalancer"])),
            "assignmentMode": string_enum(&["Automatic", "Manual"]),
        }),
        &["cidr"],
    )
}

/// At most one method is set; the operator enforces that, not the schema.
fn node_address_autodetection() -> Value {
    object(
        json!({
            "firstFound": boolean(),
            "kubernetes": string_enum(&["NodeInternalIP"]),
            "interface": string(),
            "skipInterface": string(),
            "canReach": string(),
            "cidrs": string_list(),
        }),
        &[],
    )
}

fn windows_nodes() -> Value {
    let mut mac_prefix = string();
    mac_prefix["pattern"] = json!("^[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}$");
    mac_prefix["description"] = json!("Two hex bytes, 0E-2A by default.");
    object(
        json!({
            "cniBinDir": string(),
            "cniConfigDir": string(),
            "cniLogDir": string(),
            "vxlanMACPrefix": mac_prefix,
            "vxlanAdapter": described(string(), "Empty means the primary NIC."),
        }),
        &[],
    )
}

pub(super) fn installation_status() -> Value {
    object(
        json!({
            "variant": string(),
            "mtu": described(int32(), "The pod MTU the operator observed."),
            "imageSet": string(),
            "computed": described(
                preserved_object(),
                "The merged InstallationSpec, defaults included."
            ),
            "calicoVersion": string(),
            "conditions": array_of(metav1_condition()),
        }),
        &[],
    )
}

pub(super) fn api_server_spec() -> Value {
    object(
        json!({
            "logging": preserved_object(),
            "apiServerDeployment": preserved_object(),
            "calicoWebhooksDeployment": preserved_object(),
        }),
        &[],
    )
}

pub(super) fn api_server_status() -> Value {
    object(
        json!({"state": string(), "conditions": array_of(metav1_condition())}),
        &[],
    )
}

/// TigeraStatus carries everything in status; its spec is an empty object.
pub(super) fn tigera_status_spec() -> Value {
    json!({"type": "object"})
}

pub(super) fn tigera_status_status() -> Value {
    let condition = object(
        json!({
            "type": string_enum(&["Available", "Progressing", "Degraded"]),
            "status": string_enum(&["True", "False", "Unknown"]),
            "reason": string(),
            "message": string(),
            "lastTransitionTime": date_time(),
            "observedGeneration": int64(),
        }),
        &["lastTransitionTime", "status", "type"],
    );
    object(json!({"conditions": array_of(condition)}), &["conditions"])
}

/// The printer columns `kubectl get tigerastatus` shows; MESSAGE is the
/// Degraded condition's message.
pub(super) fn tigera_status_columns() -> Vec<Value> {
    let column = |name: &str, kind: &str, json_path: &str, description: &str| json!({"name": name, "type": kind, "jsonPath": json_path, "description": description});
    vec![
        column(
            "Available",
            "string",
            ".status.conditions[?(@.type=='Available')].status",
            "Whether the component is running and stable.",
        ),
        column(
            "Progressing",
            "string",
            ".status.conditions[?(@.type=='Progressing')].status",
            "Whether the component is being updated.",
        ),
        column(
            "Degraded",
            "string",
            ".status.conditions[?(@.type=='Degraded')].status",
            "Whether the component is degraded.",
        ),
        column(
            "Since",
            "date",
            ".status.conditions[?(@.type=='Available')].lastTransitionTime",
            "When the Available condition last changed.",
        ),
        column(
            "Message",
            "string",
            ".status.conditions[?(@.type=='Degraded')].message",
            "Why the component is degraded.",
        ),
    ]
}

pub(super) fn image_set_spec() -> Value {
    let image = object(
        json!({
            "image": described(string(), "Image name without registry or tag, e.g. calico/node."),
            "digest": described(string(), "sha256:… digest used instead of the release tag."),
        }),
        &["digest", "image"],
    );
    object(json!({"images": array_of(image)}), &[])
}

/// Goldmane and Whisker (3.30+) appear in `custom-resources.yaml`; the
/// simulator only needs them to exist, so spec and status are preserved.
pub(super) fn preserved_spec() -> Value {
    preserved_object()
}

pub(super) fn conditions_status() -> Value {
    let mut status = object(json!({"conditions": array_of(metav1_condition())}), &[]);
    status["x-kubernetes-preserve-unknown-fields"] = json!(true);
    status
}
