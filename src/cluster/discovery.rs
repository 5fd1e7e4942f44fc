//! Which of the three Calico API layouts a cluster has (`DOMAIN.md` §0.2), from the `/apis`
//! group list, following Calico's own rule: `projectcalico.org` without `crd.projectcalico.org`
//! is native v3; both is v1 storage with the aggregated v3 API (confirmed through the APIService
//! when it can be read); only the v1 group is v1 CRDs; neither is not installed. Also which
//! group and resources the feed reads IPAM from in each mode. Reads discovery only.

use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::api::Api;

use crate::model::CalicoApiMode;

pub const V1_GROUP: &str = "crd.projectcalico.org";
pub const V3_GROUP: &str = "projectcalico.org";
/// The APIService that serves the aggregated v3 API in mode B.
pub const V3_API_SERVICE: &str = "v3.projectcalico.org";

/// Asks the API server which Calico API layout it has.
pub async fn detect_calico_api(client: &kube::Client) -> Result<CalicoApiMode, kube::Error> {
    let groups = client.list_api_groups().await?;
    let has = |name: &str| groups.groups.iter().any(|g| g.name == name);
    let (v1, v3) = (has(V1_GROUP), has(V3_GROUP));
    let aggregated_available = if v1 && v3 {
        api_service_available(client).await
    } else {
        None
    };
    Ok(mode_from(v1, v3, aggregated_available))
}

/// `Some(available)` when the APIService could be read, `None` when it could not (absent, or
/// the credentials may not read apiregistration): then discovery is trusted.
async fn api_service_available(client: &kube::Client) -> Option<bool> {
    let services: Api<APIService> = Api::all(client.clone());
    let service = services.get_opt(V3_API_SERVICE).await.ok()??;
    let available = service
        .status
        .and_then(|status| status.conditions)
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Available" && c.status == "True");
    Some(available)
}

/// The decision itself, separated for tests.
pub fn mode_from(v1: bool, v3: bool, aggregated_available: Option<bool>) -> CalicoApiMode {
    match (v1, v3) {
        (true, true) if aggregated_available == Some(false) => CalicoApiMode::V1Crds,
        (true, true) => CalicoApiMode::V1WithAggregatedV3,
        (false, true) => CalicoApiMode::NativeV3,
        (true, false) => CalicoApiMode::V1Crds,
        (false, false) => CalicoApiMode::NotInstalled,
    }
}

/// Where the IPAM kinds are read from: the v1 storage CRDs in modes A and B (B's v3 API serves
/// neither blocks nor handles), the v3 CRDs in mode C.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalicoSource {
    V1,
    V3,
}

impl CalicoSource {
    pub fn for_mode(mode: CalicoApiMode) -> Option<Self> {
        match mode {
            CalicoApiMode::V1Crds | CalicoApiMode::V1WithAggregatedV3 => Some(Self::V1),
            CalicoApiMode::NativeV3 => Some(Self::V3),
            CalicoApiMode::Unknown | CalicoApiMode::NotInstalled => None,
        }
    }

    pub fn group(self) -> &'static str {
        match self {
            Self::V1 => V1_GROUP,
            Self::V3 => V3_GROUP,
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V3 => "v3",
        }
    }

    /// The IPAM configuration singleton's kind and plural differ between the groups.
    pub fn ipam_config(self) -> (&'static str, &'static str) {
        match self {
            Self::V1 => ("IPAMConfig", "ipamconfigs"),
            Self::V3 => ("IPAMConfiguration", "ipamconfigurations"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calicos_own_rule_decides_the_mode() {
        assert_eq!(mode_from(false, true, None), CalicoApiMode::NativeV3);
        assert_eq!(
            mode_from(true, true, None),
            CalicoApiMode::V1WithAggregatedV3
        );
        assert_eq!(
            mode_from(true, true, Some(true)),
            CalicoApiMode::V1WithAggregatedV3
        );
        assert_eq!(mode_from(true, true, Some(false)), CalicoApiMode::V1Crds);
        assert_eq!(mode_from(true, false, None), CalicoApiMode::V1Crds);
        assert_eq!(mode_from(false, false, None), CalicoApiMode::NotInstalled);
    }

    #[test]
    fn ipam_is_read_from_v1_storage_unless_native_v3() {
        assert_eq!(
            CalicoSource::for_mode(CalicoApiMode::V1WithAggregatedV3),
            Some(CalicoSource::V1)
        );
        assert_eq!(
            CalicoSource::for_mode(CalicoApiMode::NativeV3),
            Some(CalicoSource::V3)
        );
        assert_eq!(CalicoSource::for_mode(CalicoApiMode::NotInstalled), None);
        assert_eq!(CalicoSource::V3.ipam_config().1, "ipamconfigurations");
    }
}
