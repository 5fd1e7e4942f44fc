//! Calico's IPAM and pool objects as the model reads them, from either API group: the
//! `crd.projectcalico.org/v1` storage objects or the `projectcalico.org/v3` kinds
//! (`DOMAIN.md` §1). Only the fields pooltop uses are typed; every field is optional on the
//! wire so that a partial or older object still reads. Differences between the groups (a v1
//! `BlockAffinity.spec.deleted` is a string, v3's is a bool) are absorbed here.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Deserializer, Serialize};

/// `IPPool`: a range pods get addresses from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpPool {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: IpPoolSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IpPoolSpec {
    /// As written; parse with `ipnet` where needed (a malformed CIDR is a finding, not a crash).
    pub cidr: String,
    /// 0 when absent: the default is 26 for IPv4 and 122 for IPv6 (see [`IpPoolSpec::block_size`]).
    #[serde(rename = "blockSize")]
    pub block_size_raw: u8,
    pub ipip_mode: Option<String>,
    pub vxlan_mode: Option<String>,
    pub nat_outgoing: bool,
    pub disabled: bool,
    pub node_selector: Option<String>,
    pub allowed_uses: Vec<String>,
}

impl IpPoolSpec {
    /// The block size with Calico's defaults applied (26 for IPv4, 122 for IPv6).
    pub fn block_size(&self) -> u8 {
        if self.block_size_raw != 0 {
            self.block_size_raw
        } else if self.cidr.contains(':') {
            122
        } else {
            26
        }
    }

    /// The node selector with its default `all()`.
    pub fn node_selector(&self) -> &str {
        match self.node_selector.as_deref() {
            Some(selector) if !selector.trim().is_empty() => selector,
            _ => "all()",
        }
    }
}

/// `IPAMBlock`: one block of a pool, its owner and its allocations (`DOMAIN.md` §1.1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IpamBlock {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: IpamBlockSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IpamBlockSpec {
    pub cidr: String,
    /// `host:<node>`, `virtual:<name>`, or absent (no owner).
    pub affinity: Option<String>,
    /// Ordinal -> index into `attributes`; `None` is free.
    pub allocations: Vec<Option<u32>>,
    /// Free ordinals; its length is the free count calicoctl uses.
    pub unallocated: Vec<u32>,
    pub attributes: Vec<AllocationAttribute>,
    /// Soft-deleted: readers ignore the block.
    pub deleted: bool,
}

impl IpamBlockSpec {
    /// The owning node, from a `host:` affinity.
    pub fn host(&self) -> Option<&str> {
        self.affinity.as_deref()?.strip_prefix("host:")
    }
}

/// One entry of a block's `attributes` (several ordinals may share one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllocationAttribute {
    pub handle_id: Option<String>,
    /// `node`, `pod`, `namespace`, `type`, `note`, ... (`DOMAIN.md` §1.1).
    #[serde(deserialize_with = "null_as_default")]
    pub secondary: BTreeMap<String, String>,
}

/// `BlockAffinity`: a node's claim on a block (`DOMAIN.md` §1.2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockAffinity {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: BlockAffinitySpec,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BlockAffinitySpec {
    /// `pending`, `confirmed` or `pendingDeletion`.
    pub state: String,
    pub node: String,
    pub cidr: String,
    /// `host` or `virtual`; absent on objects older than 3.30 (read as `host`).
    #[serde(rename = "type")]
    pub affinity_type: Option<String>,
    /// A string in v1 (`"true"`), a bool in v3: both read as a bool.
    #[serde(deserialize_with = "bool_or_string")]
    pub deleted: bool,
}

/// `IPAMHandle`: who holds how many addresses in which blocks (`DOMAIN.md` §1.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IpamHandle {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: IpamHandleSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IpamHandleSpec {
    #[serde(rename = "handleID")]
    pub handle_id: String,
    /// Block CIDR -> number of addresses this handle holds there.
    #[serde(deserialize_with = "null_as_default")]
    pub block: BTreeMap<String, u32>,
    pub deleted: bool,
}

/// `IPAMConfig` (v1) or `IPAMConfiguration` (v3), the singleton `default` (`DOMAIN.md` §1.4).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpamConfig {
    /// `crd.projectcalico.org/v1` or `projectcalico.org/v3`: which object was read.
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: IpamConfigSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IpamConfigSpec {
    pub strict_affinity: bool,
    pub auto_allocate_blocks: bool,
    /// 0 means the built-in cap of 20.
    pub max_blocks_per_host: u32,
}

impl Default for IpamConfigSpec {
    /// What Calico assumes when `default` does not exist.
    fn default() -> Self {
        Self {
            strict_affinity: false,
            auto_allocate_blocks: true,
            max_blocks_per_host: 0,
        }
    }
}

/// The per-host block cap Calico applies when `maxBlocksPerHost` is 0 (`DOMAIN.md` §2.4).
pub const DEFAULT_MAX_BLOCKS_PER_HOST: u32 = 20;

/// The handle of the addresses Windows reserves in each of its blocks (`DOMAIN.md` §1.7).
pub const WINDOWS_RESERVED_HANDLE: &str = "windows-reserved-ipam-handle";

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn bool_or_string<'de, D>(deserializer: D) -> Result<bool, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<Flag>::deserialize(deserializer)? {
        Some(Flag::Bool(value)) => value,
        Some(Flag::Text(text)) => text.eq_ignore_ascii_case("true"),
        None => false,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn affinity_deleted_reads_from_both_groups() {
        let v1: BlockAffinity = serde_json::from_value(json!({
            "metadata": {"name": "n1-10-0-0-0-26"},
            "spec": {"state": "confirmed", "node": "n1", "cidr": "10.0.0.0/26", "deleted": "true"}
        }))
        .unwrap();
        assert!(v1.spec.deleted);
        let v3: BlockAffinity = serde_json::from_value(json!({
            "spec": {"state": "pending", "node": "n1", "cidr": "10.0.0.0/26", "deleted": false}
        }))
        .unwrap();
        assert!(!v3.spec.deleted);
        let empty: BlockAffinity =
            serde_json::from_value(json!({"spec": {"deleted": ""}})).unwrap();
        assert!(!empty.spec.deleted);
    }

    #[test]
    fn block_reads_allocations_with_nulls_and_owner() {
        let block: IpamBlock = serde_json::from_value(json!({
            "spec": {
                "cidr": "10.0.0.0/30", "affinity": "host:win-1",
                "allocations": [0, null, 1, null], "unallocated": [1, 3],
                "attributes": [
                    {"handle_id": "windows-reserved-ipam-handle", "secondary": {"note": "windows host rsvd"}},
                    {"handle_id": "k8s-pod-network.abc", "secondary": null}
                ],
                "strictAffinity": false
            }
        }))
        .unwrap();
        assert_eq!(block.spec.host(), Some("win-1"));
        assert_eq!(block.spec.allocations, vec![Some(0), None, Some(1), None]);
        assert!(block.spec.attributes[1].secondary.is_empty());
    }

    #[test]
    fn pool_defaults() {
        let pool: IpPool = serde_json::from_value(json!({"spec": {"cidr": "fd00::/48"}})).unwrap();
        assert_eq!(pool.spec.block_size(), 122);
        assert_eq!(pool.spec.node_selector(), "all()");
        let config = IpamConfigSpec::default();
        assert!(config.auto_allocate_blocks && !config.strict_affinity);
    }
}
