//! The Tigera operator's resources as the model reads them (`operator.tigera.io/v1`,
//! `DOMAIN.md` §3): `Installation`, `APIServer` and `TigeraStatus`. Only the fields pooltop
//! uses are typed, all optional on the wire.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Installation {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: InstallationSpec,
    #[serde(default)]
    pub status: Option<InstallationStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InstallationSpec {
    pub variant: Option<String>,
    pub kubernetes_provider: Option<String>,
    pub registry: Option<String>,
    pub cni: Option<CniSpec>,
    pub calico_network: Option<CalicoNetwork>,
    #[serde(rename = "serviceCIDRs")]
    pub service_cidrs: Vec<String>,
    /// Kept as JSON: shown, not interpreted.
    pub node_update_strategy: Option<serde_json::Value>,
    pub windows_nodes: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CniSpec {
    #[serde(rename = "type")]
    pub cni_type: Option<String>,
    pub ipam: Option<CniIpam>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CniIpam {
    #[serde(rename = "type")]
    pub ipam_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CalicoNetwork {
    /// `Enabled` / `Disabled`; absent means Enabled with Calico CNI (except EKS).
    pub bgp: Option<String>,
    /// `HNS` or `Disabled` (the default).
    pub windows_dataplane: Option<String>,
    pub linux_dataplane: Option<String>,
    pub ip_pools: Vec<InstallationPool>,
    pub mtu: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InstallationPool {
    pub name: Option<String>,
    pub cidr: String,
    /// `IPIP`, `IPIPCrossSubnet`, `VXLAN`, `VXLANCrossSubnet`, `None`.
    pub encapsulation: Option<String>,
    pub nat_outgoing: Option<String>,
    pub node_selector: Option<String>,
    pub block_size: Option<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InstallationStatus {
    pub variant: Option<String>,
    pub calico_version: Option<String>,
    pub mtu: Option<i64>,
    pub image_set: Option<String>,
    pub conditions: Vec<Condition>,
    /// The merged spec with the operator's defaults: the effective configuration.
    pub computed: Option<serde_json::Value>,
}

impl Installation {
    /// Whether the Windows dataplane is requested (`windowsDataplane: HNS`).
    pub fn windows_enabled(&self) -> bool {
        self.spec
            .calico_network
            .as_ref()
            .and_then(|network| network.windows_dataplane.as_deref())
            .is_some_and(|plane| plane == "HNS")
    }
}

/// The operator's `APIServer` resource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiServer {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub status: Option<ApiServerStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiServerStatus {
    pub state: Option<String>,
    pub conditions: Vec<Condition>,
}

/// `TigeraStatus`: one per operator component (`calico`, `calico-windows`, `apiserver`,
/// `ippools`, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TigeraStatus {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub status: Option<TigeraStatusStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TigeraStatusStatus {
    pub conditions: Vec<Condition>,
}

/// A `metav1.Condition`-shaped condition, as the operator writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Condition {
    #[serde(rename = "type")]
    pub condition_type: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition_time: Option<String>,
    pub observed_generation: Option<i64>,
}

impl TigeraStatus {
    pub fn condition(&self, condition_type: &str) -> Option<&Condition> {
        self.status
            .as_ref()?
            .conditions
            .iter()
            .find(|c| c.condition_type == condition_type)
    }

    /// `Available=True`.
    pub fn is_available(&self) -> bool {
        self.condition("Available")
            .is_some_and(|c| c.status == "True")
    }

    /// `Degraded=True`.
    pub fn is_degraded(&self) -> bool {
        self.condition("Degraded")
            .is_some_and(|c| c.status == "True")
    }
}
