//! Calico IPAM as libcalico-go runs it against the `crd.projectcalico.org/v1` storage
//! (DOMAIN.md §1 and §2.1): IP pools chosen by node selector and intended use, blocks claimed
//! per host (BlockAffinity `pending` → IPAMBlock created → affinity `confirmed`), ordinals handed
//! out from the block's `unallocated` FIFO, IPAMHandles counting each owner's addresses per
//! block, the per-host block cap, borrowing from other hosts' blocks only when the pools are
//! carved up and strictAffinity is off, Windows reserved ordinals, and release by handle.
//! It reads and writes those objects and the `default` IPAMConfig through the store with
//! optimistic concurrency (a 409 means re-read and retry, as libcalico does); it reads Nodes
//! for their labels and must not write anything else. Which component calls it, and what a
//! failure looks like to the kubelet, is `calico`'s business.
//!
//! Differences from the real library, on purpose: IPv4 only (the CNI asks for IPv4 unless
//! dual-stack is configured); no IPReservations; the hostname-seeded walk through a pool starts
//! at FNV-1 hash of the host modulo the block count instead of Go's `math/rand` draw from
//! that seed, so the blocks differ from a real cluster's but stay deterministic per host.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::calico_selector::{CalicoSelector, CalicoSelectorError};
use super::crds::CALICO_V1_GROUP;
use super::error::ApiError;
use super::resource::ResourceType;
use super::store::{ListOptions, Store, StoredObject};
use super::write::{DeleteOptions, Part, PatchType, WriteOptions};

/// Handle of the addresses Windows keeps for itself in every block it owns.
pub const WINDOWS_RESERVED_HANDLE: &str = "windows-reserved-ipam-handle";
/// The assignment message when the pools are carved up and borrowing is forbidden.
pub const NO_FREE_AFFINE_BLOCKS: &str = "No more free affine blocks and strict affinity enabled";
/// The per-host block cap when neither the request nor IPAMConfig sets one.
pub const DEFAULT_MAX_BLOCKS_PER_HOST: u32 = 20;
/// IPv4 block size of a pool that does not set `blockSize`.
pub const DEFAULT_BLOCK_SIZE: u8 = 26;
/// Name of the singleton IPAMConfig.
pub const IPAM_CONFIG_NAME: &str = "default";

/// How often a write that lost an optimistic-concurrency race is retried; libcalico uses 100,
/// but the simulator's writers are few and a livelock would only hide a bug.
const DATASTORE_RETRIES: usize = 16;
const CALICO_VERSION: &str = "v1";

/// A failed IPAM call, worded as libcalico-go words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("cannot allocate new block due to per host block limit")]
    BlockLimit,
    #[error("global strict affinity should not be false for Windows node")]
    StrictAffinityWindows,
    #[error("cannot find a qualified ippool")]
    NoQualifiedPool,
    #[error("cannot find a qualified ippool, no pools match the required use ({0})")]
    NoPoolForUse(&'static str),
    #[error("the given pool ({0}) does not exist, or is not enabled")]
    RequestedPoolMissing(Ipv4Net),
    #[error("no configured Calico pools for node {0}")]
    NoPoolsForNode(String),
    #[error("failed to find or claim a block")]
    NoBlockClaimed,
    #[error("No Free Blocks")]
    NoFreeBlocks,
    #[error("resource does not exist: Node({0}) with error: nodes \"{0}\" not found")]
    NodeNotFound(String),
    #[error("Max retries hit - excessive concurrent IPAM requests")]
    TooManyRetries,
    /// Fewer addresses than requested; the CNI plugin prefixes "failed to request IPv4 addresses: ".
    #[error("{}", unfulfilled_message(*.requested, *.assigned, .messages, *.reserved_handle))]
    Unfulfilled {
        requested: usize,
        assigned: usize,
        messages: Vec<String>,
        reserved_handle: Option<&'static str>,
    },
    #[error("{0}")]
    Selector(#[from] CalicoSelectorError),
    /// The API server refused or failed a read or write.
    #[error("{0}")]
    Datastore(String),
}

impl From<ApiError> for IpamError {
    fn from(err: ApiError) -> Self {
        Self::Datastore(err.message)
    }
}

fn unfulfilled_message(
    requested: usize,
    assigned: usize,
    messages: &[String],
    reserved_handle: Option<&str>,
) -> String {
    let mut text = format!("Assigned {assigned} out of {requested} requested IPv4 addresses");
    for message in messages {
        text.push_str("; ");
        text.push_str(message);
    }
    if let Some(handle) = reserved_handle {
        text.push_str("; HostReservedAttr: ");
        text.push_str(handle);
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Names and addresses
// ---------------------------------------------------------------------------------------------

/// `names.CIDRToName`: `10.244.17.64/26` → `10-244-17-64-26`.
pub fn cidr_to_name(cidr: &str) -> String {
    cidr.replace(['.', ':', '/'], "-")
}

/// The IPAMBlock object name of a block.
pub fn block_name(cidr: Ipv4Net) -> String {
    cidr_to_name(&cidr.to_string())
}

/// The BlockAffinity object name: `<host>-<CIDRToName(cidr)>`.
pub fn block_affinity_name(host: &str, cidr: Ipv4Net) -> String {
    format!("{host}-{}", block_name(cidr))
}

/// The address at `ordinal` within a block.
pub fn ordinal_address(block: Ipv4Net, ordinal: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(block.network()).wrapping_add(ordinal))
}

fn block_size_addresses(block: Ipv4Net) -> u32 {
    1u32 << (32 - u32::from(block.prefix_len()).min(32))
}

/// FNV-1 (32 bit), the hash libcalico seeds its per-host block walk with.
pub(super) fn fnv1_32(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        hash.wrapping_mul(0x0100_0193) ^ u32::from(byte)
    })
}

// ---------------------------------------------------------------------------------------------
// IPAMConfig
// ---------------------------------------------------------------------------------------------

/// The cluster-wide IPAM settings (IPAMConfig `default`, DOMAIN.md §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpamConfig {
    pub strict_affinity: bool,
    pub auto_allocate_blocks: bool,
    /// 0 means the built-in cap of 20.
    pub max_blocks_per_host: u32,
}

impl Default for IpamConfig {
    /// What the library assumes (and, up to 3.32, writes) when `default` is absent.
    fn default() -> Self {
        Self {
            strict_affinity: false,
            auto_allocate_blocks: true,
            max_blocks_per_host: 0,
        }
    }
}

impl IpamConfig {
    fn from_object(object: &Value) -> Self {
        let spec = &object["spec"];
        let defaults = Self::default();
        Self {
            strict_affinity: spec["strictAffinity"]
                .as_bool()
                .unwrap_or(defaults.strict_affinity),
            auto_allocate_blocks: spec["autoAllocateBlocks"]
                .as_bool()
                .unwrap_or(defaults.auto_allocate_blocks),
            max_blocks_per_host: spec["maxBlocksPerHost"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(defaults.max_blocks_per_host),
        }
    }

    fn to_spec(self) -> Value {
        let mut spec = json!({
            "strictAffinity": self.strict_affinity,
            "autoAllocateBlocks": self.auto_allocate_blocks,
        });
        // `omitempty` in the v1 type: a zero cap is not written.
        if self.max_blocks_per_host > 0 {
            spec["maxBlocksPerHost"] = json!(self.max_blocks_per_host);
        }
        spec
    }

    /// The cap for one request: the stricter non-zero value of the request's and the
    /// config's, or 20 when both are zero ("defaulting to reasonable limit").
    pub fn block_cap(self, requested: u32) -> u32 {
        let global = self.max_blocks_per_host;
        let cap = match (requested, global) {
            (0, g) => g,
            (r, g) if g > 0 && r > g => g,
            (r, _) => r,
        };
        if cap == 0 {
            DEFAULT_MAX_BLOCKS_PER_HOST
        } else {
            cap
        }
    }
}

/// The current IPAM settings as `(strict_affinity, auto_allocate_blocks, max_blocks_per_host)`;
/// an absent `default` (or absent CRD) reads as the library's defaults. Never writes.
pub fn ipam_config(store: &Store) -> (bool, bool, u32) {
    let config = store
        .registry()
        .get(CALICO_V1_GROUP, CALICO_VERSION, "ipamconfigs")
        .and_then(|rt| store.try_get(&rt, "", IPAM_CONFIG_NAME))
        .and_then(|stored| stored.value().ok())
        .map(|value| IpamConfig::from_object(&value))
        .unwrap_or_default();
    (
        config.strict_affinity,
        config.auto_allocate_blocks,
        config.max_blocks_per_host,
    )
}

/// Sets `strictAffinity` on the v1 IPAMConfig `default`, creating it (with
/// `autoAllocateBlocks: true`) when absent — what `calicoctl ipam configure --strictaffinity`
/// does in mode A. The cross-field checks are the caller's: the API accepts any combination.
pub fn set_strict_affinity(store: &Store, strict: bool) -> Result<(), ApiError> {
    let rt = store
        .registry()
        .get(CALICO_V1_GROUP, CALICO_VERSION, "ipamconfigs")
        .ok_or_else(ApiError::path_not_found)?;
    let opts = WriteOptions::manager("calicoctl");
    if store.try_get(&rt, "", IPAM_CONFIG_NAME).is_none() {
        let config = IpamConfig {
            strict_affinity: strict,
            ..IpamConfig::default()
        };
        match store.create(&rt, None, config_object(config), &opts) {
            Ok(_) => return Ok(()),
            Err(e) if e.reason == "AlreadyExists" => {}
            Err(e) => return Err(e),
        }
    }
    let patch = json!({"spec": {"strictAffinity": strict}});
    store
        .patch(
            &rt,
            "",
            IPAM_CONFIG_NAME,
            PatchType::Merge,
            &patch,
            Part::Main,
            &opts,
        )
        .map(|_| ())
}

fn config_object(config: IpamConfig) -> Value {
    json!({
        "apiVersion": format!("{CALICO_V1_GROUP}/{CALICO_VERSION}"),
        "kind": "IPAMConfig",
        "metadata": {"name": IPAM_CONFIG_NAME},
        "spec": config.to_spec(),
    })
}

// ---------------------------------------------------------------------------------------------
// IP pools
// ---------------------------------------------------------------------------------------------

/// What an address is for; pools list the uses they allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowedUse {
    Workload,
    Tunnel,
}

impl AllowedUse {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workload => "Workload",
            Self::Tunnel => "Tunnel",
        }
    }
}

/// An IPv4 IPPool as IPAM sees it.
#[derive(Debug, Clone)]
pub struct IpPool {
    pub name: String,
    pub cidr: Ipv4Net,
    pub block_size: u8,
    pub disabled: bool,
    pub vxlan: bool,
    pub ipip: bool,
    /// The parsed `nodeSelector`; a bad selector fails every assignment that consults it.
    pub node_selector: Result<CalicoSelector, CalicoSelectorError>,
    allowed_uses: Vec<String>,
}

impl IpPool {
    /// `None` for IPv6 pools and pools whose CIDR does not parse (the API would not admit them).
    pub fn from_object(object: &Value) -> Option<Self> {
        let spec = &object["spec"];
        let cidr: Ipv4Net = spec["cidr"].as_str()?.parse().ok()?;
        let mode_on = |key: &str| {
            spec[key]
                .as_str()
                .is_some_and(|m| m != "Never" && !m.is_empty())
        };
        let block_size = spec["blockSize"]
            .as_u64()
            .and_then(|b| u8::try_from(b).ok())
            .unwrap_or(DEFAULT_BLOCK_SIZE);
        Some(Self {
            name: object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            cidr: cidr.trunc(),
            block_size,
            disabled: spec["disabled"].as_bool().unwrap_or(false),
            vxlan: mode_on("vxlanMode"),
            ipip: mode_on("ipipMode"),
            node_selector: CalicoSelector::parse(spec["nodeSelector"].as_str().unwrap_or("all()")),
            allowed_uses: spec["allowedUses"]
                .as_array()
                .map(|uses| {
                    uses.iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    pub fn selects(&self, labels: &BTreeMap<String, String>) -> Result<bool, IpamError> {
        match &self.node_selector {
            Ok(selector) => Ok(selector.matches(labels)),
            Err(e) => Err(IpamError::Selector(e.clone())),
        }
    }

    /// Empty `allowedUses` means `[Tunnel, Workload]`.
    pub fn allows(&self, intended: AllowedUse) -> bool {
        self.allowed_uses.is_empty() || self.allowed_uses.iter().any(|u| u == intended.as_str())
    }

    /// How many blocks the pool holds (0 when the block size does not fit the pool).
    pub fn block_count(&self) -> u32 {
        let (pool, block) = (self.cidr.prefix_len(), self.block_size);
        if block < pool || block > 32 {
            return 0;
        }
        1u32.checked_shl(u32::from(block - pool)).unwrap_or(0)
    }

    /// The `index`-th block of the pool, in address order.
    pub fn block(&self, index: u32) -> Option<Ipv4Net> {
        let step = 1u64 << (32 - u32::from(self.block_size));
        let base = u64::from(u32::from(self.cidr.network())) + u64::from(index) * step;
        let base = u32::try_from(base).ok()?;
        Ipv4Net::new(Ipv4Addr::from(base), self.block_size).ok()
    }

    pub fn contains_block(&self, block: Ipv4Net) -> bool {
        self.cidr.contains(&block)
    }

    /// The pool's blocks starting at a host-seeded index and wrapping around, the order in
    /// which libcalico both claims new blocks and hunts for addresses to borrow.
    pub fn blocks_from(&self, host: &str) -> impl Iterator<Item = Ipv4Net> + '_ {
        let count = self.block_count();
        let start = if count == 0 { 0 } else { fnv1_32(host) % count };
        (0..count).filter_map(move |i| self.block((start + i) % count))
    }
}

/// The IPv4 IPPools, in name order (the order the API lists them and IPAM tries them).
pub fn ip_pools(store: &Store) -> Vec<IpPool> {
    let Some(rt) = store
        .registry()
        .get(CALICO_V1_GROUP, CALICO_VERSION, "ippools")
    else {
        return Vec::new();
    };
    store
        .list(&rt, None, &ListOptions::default())
        .map(|page| page.items)
        .unwrap_or_default()
        .iter()
        .filter_map(|stored| stored.value().ok())
        .filter_map(|value| IpPool::from_object(&value))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------------------------

/// Addresses a host keeps out of IPAM in every block it claims (Windows: 3 at the start,
/// 1 at the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostReserved {
    pub start_of_block: u32,
    pub end_of_block: u32,
    pub handle: &'static str,
    pub note: &'static str,
}

/// What the Windows CNI plugin and calico-node-windows reserve (DOMAIN.md §1.7).
pub const WINDOWS_RESERVED: HostReserved = HostReserved {
    start_of_block: 3,
    end_of_block: 1,
    handle: WINDOWS_RESERVED_HANDLE,
    note: "windows host rsvd",
};

impl HostReserved {
    /// Blocks must leave room beyond the reserved addresses: `32 - bits.Len(reserved)`.
    fn max_prefix_len(self) -> u8 {
        let reserved = self.start_of_block + self.end_of_block;
        let bits = u32::BITS - reserved.leading_zeros();
        u8::try_from(32u32.saturating_sub(bits)).unwrap_or(0)
    }
}

/// One `attributes[]` entry: the owner of one or more ordinals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationAttribute {
    #[serde(rename = "handle_id", default, skip_serializing_if = "Option::is_none")]
    pub handle_id: Option<String>,
    #[serde(default)]
    pub secondary: BTreeMap<String, String>,
    /// Fields of newer releases (`alternateOwnerAttrs`, `releasedAt`), kept as found.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The `spec` of an IPAMBlock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockSpec {
    pub cidr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<String>,
    pub allocations: Vec<Option<u32>>,
    pub unallocated: Vec<u32>,
    pub attributes: Vec<AllocationAttribute>,
    #[serde(default)]
    pub sequence_number: u64,
    #[serde(default)]
    pub sequence_number_for_allocation: BTreeMap<String, u64>,
    #[serde(default)]
    pub deleted: bool,
    /// Deprecated; the library still copies IPAMConfig's value in when it claims a block.
    #[serde(default)]
    pub strict_affinity: bool,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl BlockSpec {
    /// A freshly claimed block: every ordinal free, in order, except the host's reserved ones.
    pub fn new(
        cidr: Ipv4Net,
        host: &str,
        reserved: Option<HostReserved>,
        sequence_number: u64,
        strict_affinity: bool,
    ) -> Self {
        let size = block_size_addresses(cidr);
        let mut spec = Self {
            cidr: cidr.to_string(),
            affinity: Some(format!("host:{host}")),
            allocations: vec![None; size as usize],
            unallocated: (0..size).collect(),
            attributes: Vec::new(),
            sequence_number,
            sequence_number_for_allocation: BTreeMap::new(),
            deleted: false,
            strict_affinity,
            other: Map::new(),
        };
        if let Some(reserved) = reserved {
            spec.reserve(reserved, size);
        }
        spec
    }

    fn reserve(&mut self, reserved: HostReserved, size: u32) {
        let index = u32::try_from(self.attributes.len()).unwrap_or(u32::MAX);
        let is_reserved =
            |o: &u32| *o < reserved.start_of_block || *o >= size - reserved.end_of_block;
        for ordinal in self.unallocated.iter().copied().filter(is_reserved) {
            self.allocations[ordinal as usize] = Some(index);
        }
        self.unallocated.retain(|o| !is_reserved(o));
        self.attributes.push(AllocationAttribute {
            handle_id: Some(reserved.handle.to_string()),
            secondary: BTreeMap::from([("note".to_string(), reserved.note.to_string())]),
            other: Map::new(),
        });
    }

    pub fn owner(&self) -> Option<&str> {
        self.affinity.as_deref()?.strip_prefix("host:")
    }

    /// Takes the first free ordinal for `handle`, sharing an attribute entry with identical
    /// owner data as libcalico does. The caller writes the block back (and advances its
    /// sequence number, as a write does); scenario builders seed the result directly.
    pub fn assign(&mut self, handle: &str, secondary: &BTreeMap<String, String>) -> Option<u32> {
        if self.unallocated.is_empty() {
            return None;
        }
        let ordinal = self.unallocated.remove(0);
        let index = self.attribute_index(handle, secondary);
        *self.allocations.get_mut(ordinal as usize)? = Some(index);
        self.sequence_number_for_allocation
            .insert(ordinal.to_string(), self.sequence_number);
        Some(ordinal)
    }

    fn attribute_index(&mut self, handle: &str, secondary: &BTreeMap<String, String>) -> u32 {
        let existing = self.attributes.iter().position(|a| {
            a.handle_id.as_deref() == Some(handle)
                && &a.secondary == secondary
                && a.other.is_empty()
        });
        let index = existing.unwrap_or_else(|| {
            self.attributes.push(AllocationAttribute {
                handle_id: Some(handle.to_string()),
                secondary: secondary.clone(),
                other: Map::new(),
            });
            self.attributes.len() - 1
        });
        u32::try_from(index).unwrap_or(u32::MAX)
    }

    fn indexes_of(&self, handle: &str) -> Vec<u32> {
        let handle = handle.to_lowercase();
        (0u32..)
            .zip(&self.attributes)
            .filter(|(_, a)| {
                a.handle_id
                    .as_ref()
                    .is_some_and(|h| h.to_lowercase() == handle)
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The ordinals `handle` holds here, in address order.
    pub fn ordinals_of(&self, handle: &str) -> Vec<u32> {
        let indexes = self.indexes_of(handle);
        (0u32..)
            .zip(&self.allocations)
            .filter(|(_, a)| a.is_some_and(|i| indexes.contains(&i)))
            .map(|(o, _)| o)
            .collect()
    }

    /// Frees the handle's ordinals (appended to `unallocated`) and drops its attribute
    /// entries, renumbering the ones after them.
    fn release_handle(&mut self, handle: &str) -> Vec<u32> {
        let indexes = self.indexes_of(handle);
        let ordinals = self.ordinals_of(handle);
        for &ordinal in &ordinals {
            self.allocations[ordinal as usize] = None;
            self.unallocated.push(ordinal);
            self.sequence_number_for_allocation
                .remove(&ordinal.to_string());
        }
        self.drop_attributes(&indexes);
        ordinals
    }

    /// Removes the attribute entries at `dropped` and points the remaining allocations at
    /// their entries' new positions (libcalico's `deleteAttributes`).
    fn drop_attributes(&mut self, dropped: &[u32]) {
        let mut new_index = Vec::with_capacity(self.attributes.len());
        let mut kept = Vec::with_capacity(self.attributes.len());
        for (index, attribute) in (0u32..).zip(std::mem::take(&mut self.attributes)) {
            if dropped.contains(&index) {
                new_index.push(None);
            } else {
                new_index.push(u32::try_from(kept.len()).ok());
                kept.push(attribute);
            }
        }
        self.attributes = kept;
        for slot in &mut self.allocations {
            *slot = slot.and_then(|old| new_index.get(old as usize).copied().flatten());
        }
    }

    /// True when only host-reserved addresses remain allocated.
    pub fn only_reserved(&self) -> bool {
        self.allocations.iter().flatten().all(|&i| {
            self.attributes
                .get(i as usize)
                .and_then(|a| a.handle_id.as_deref())
                .is_some_and(|h| h.eq_ignore_ascii_case(WINDOWS_RESERVED_HANDLE))
        })
    }
}

/// An IPAMBlock object as `claimAffineBlock` creates it.
pub fn block_object(cidr: Ipv4Net, spec: &BlockSpec) -> Result<Value, IpamError> {
    Ok(json!({
        "apiVersion": format!("{CALICO_V1_GROUP}/{CALICO_VERSION}"),
        "kind": "IPAMBlock",
        "metadata": {"name": block_name(cidr)},
        "spec": to_json(spec)?,
    }))
}

/// A BlockAffinity object in a given state (`pending`, `confirmed`), as the v1 backend
/// writes it (`deleted` as a string).
pub fn affinity_object(host: &str, cidr: Ipv4Net, state: &str) -> Value {
    json!({
        "apiVersion": format!("{CALICO_V1_GROUP}/{CALICO_VERSION}"),
        "kind": "BlockAffinity",
        "metadata": {"name": block_affinity_name(host, cidr)},
        "spec": {"state": state, "node": host, "cidr": cidr.to_string(), "deleted": "false"},
    })
}

/// An IPAMHandle holding `count` addresses in one block: named by the lower-cased handle id.
pub fn handle_object(handle_id: &str, cidr: Ipv4Net, count: i64) -> Value {
    json!({
        "apiVersion": format!("{CALICO_V1_GROUP}/{CALICO_VERSION}"),
        "kind": "IPAMHandle",
        "metadata": {"name": handle_id.to_lowercase()},
        "spec": {"handleID": handle_id, "block": {cidr.to_string(): count}, "deleted": false},
    })
}

/// A block as read from the store: the whole object (for the write-back) and its spec.
#[derive(Debug, Clone)]
pub struct StoredBlock {
    pub cidr: Ipv4Net,
    pub spec: BlockSpec,
    object: Value,
}

/// A host's claim on a block, as read from a BlockAffinity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affinity {
    pub name: String,
    pub node: String,
    pub cidr: Ipv4Net,
    pub state: String,
}

impl Affinity {
    fn from_object(object: &Value) -> Option<Self> {
        let spec = &object["spec"];
        // v1 writes `deleted` as a string; tolerate a bool from other writers.
        let deleted = spec["deleted"].as_str() == Some("true") || spec["deleted"] == json!(true);
        if deleted {
            return None;
        }
        Some(Self {
            name: object["metadata"]["name"].as_str()?.to_string(),
            node: spec["node"].as_str()?.to_string(),
            cidr: spec["cidr"].as_str()?.parse().ok()?,
            state: spec["state"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Empty state is read as confirmed, for data written by old releases.
    fn confirmed(&self) -> bool {
        self.state == "confirmed" || self.state.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// The IPAM client
// ---------------------------------------------------------------------------------------------

/// An assignment request (libcalico `AutoAssignArgs` for one IPv4 address).
#[derive(Debug, Clone)]
pub struct AssignArgs<'a> {
    pub host: &'a str,
    pub handle_id: &'a str,
    /// The owner data recorded as the attribute's `secondary`.
    pub attrs: BTreeMap<String, String>,
    pub intended_use: AllowedUse,
    /// The request's own block cap (Windows single-network mode asks for 1); 0 for none.
    pub max_blocks: u32,
    pub reserved: Option<HostReserved>,
    /// Pools asked for by CIDR; when given, node selectors are not consulted, as in libcalico.
    pub requested_pools: Vec<Ipv4Net>,
    /// The caller runs on Windows, where the library refuses to work with strictAffinity off.
    pub windows_host: bool,
}

/// What an assignment needs to know about a host, reusable across assignments.
#[derive(Debug, Clone)]
pub struct HostPlan {
    host: String,
    /// Pools that select the host and allow the use, in name order.
    pools: Vec<IpPool>,
    /// The host's affinities within those pools, in CIDR order.
    affinities: Vec<Affinity>,
}

impl HostPlan {
    pub fn pools(&self) -> &[IpPool] {
        &self.pools
    }

    pub fn affine_blocks(&self) -> impl Iterator<Item = Ipv4Net> + '_ {
        self.affinities.iter().map(|a| a.cidr)
    }
}

struct Kinds {
    blocks: Arc<ResourceType>,
    affinities: Arc<ResourceType>,
    handles: Arc<ResourceType>,
    configs: Arc<ResourceType>,
    pools: Arc<ResourceType>,
    nodes: Arc<ResourceType>,
}

/// libcalico-go's IPAM client over the simulator's store, writing as one field manager.
pub struct Ipam<'a> {
    store: &'a Store,
    write: WriteOptions,
    kinds: Kinds,
}

impl<'a> Ipam<'a> {
    /// Fails like a Calico component on a cluster without the Calico CRDs.
    pub fn new(store: &'a Store, field_manager: &str) -> Result<Self, IpamError> {
        let registry = store.registry();
        let calico = |plural: &str| {
            registry
                .get(CALICO_V1_GROUP, CALICO_VERSION, plural)
                .ok_or_else(|| {
                    IpamError::Datastore(format!(
                        "the server could not find the requested resource (get {plural}.{CALICO_V1_GROUP})"
                    ))
                })
        };
        let kinds = Kinds {
            blocks: calico("ipamblocks")?,
            affinities: calico("blockaffinities")?,
            handles: calico("ipamhandles")?,
            configs: calico("ipamconfigs")?,
            pools: calico("ippools")?,
            nodes: registry
                .get("", "v1", "nodes")
                .ok_or_else(|| IpamError::Datastore("nodes are not served".into()))?,
        };
        Ok(Self {
            store,
            write: WriteOptions::manager(field_manager),
            kinds,
        })
    }

    /// `GetIPAMConfig`: reads `default`, creating it with the defaults when absent (as
    /// releases up to 3.32 do); on a Windows host strictAffinity off is an error.
    pub fn config(&self, windows_host: bool) -> Result<IpamConfig, IpamError> {
        let config = if let Some(stored) =
            self.store
                .try_get(&self.kinds.configs, "", IPAM_CONFIG_NAME)
        {
            IpamConfig::from_object(&stored.value()?)
        } else {
            let config = IpamConfig::default();
            // Losing the race to another creator is fine: both write the defaults.
            self.create(&self.kinds.configs, config_object(config))?;
            config
        };
        if windows_host && !config.strict_affinity {
            return Err(IpamError::StrictAffinityWindows);
        }
        Ok(config)
    }

    fn node_labels(&self, host: &str) -> Result<BTreeMap<String, String>, IpamError> {
        self.store
            .try_get(&self.kinds.nodes, "", host)
            .map(|node| node.labels.clone())
            .ok_or_else(|| IpamError::NodeNotFound(host.to_string()))
    }

    fn pools(&self) -> Result<Vec<IpPool>, IpamError> {
        let page = self
            .store
            .list(&self.kinds.pools, None, &ListOptions::default())?;
        let mut pools = Vec::with_capacity(page.items.len());
        for stored in &page.items {
            if let Some(pool) = IpPool::from_object(&stored.value()?) {
                pools.push(pool);
            }
        }
        Ok(pools)
    }

    /// `prepareAffinityBlocksForHost`: the pools this request may use and the host's blocks
    /// in them.
    pub fn host_plan(
        &self,
        host: &str,
        requested: &[Ipv4Net],
        intended_use: AllowedUse,
        reserved: Option<HostReserved>,
    ) -> Result<HostPlan, IpamError> {
        let labels = self.node_labels(host)?;
        let max_prefix = reserved.map_or(32, HostReserved::max_prefix_len);
        let enabled: Vec<IpPool> = self
            .pools()?
            .into_iter()
            .filter(|p| !p.disabled && p.block_size <= max_prefix && p.block_count() > 0)
            .collect();
        if enabled.is_empty() {
            return Err(IpamError::NoQualifiedPool);
        }
        let selecting = select_pools(enabled, requested, &labels)?;
        if selecting.is_empty() {
            return Err(IpamError::NoPoolsForNode(host.to_string()));
        }
        let pools: Vec<IpPool> = selecting
            .into_iter()
            .filter(|p| p.allows(intended_use))
            .collect();
        if pools.is_empty() {
            return Err(IpamError::NoPoolForUse(intended_use.as_str()));
        }
        let affinities = self
            .affinities_of(host)?
            .into_iter()
            .filter(|a| pools.iter().any(|p| p.contains_block(a.cidr)))
            .collect();
        Ok(HostPlan {
            host: host.to_string(),
            pools,
            affinities,
        })
    }

    /// The host's affinities, in CIDR order. libcalico lists every affinity in KDD mode and
    /// filters; reading the `<host>-` name range gives the same set (names of other hosts that
    /// share the prefix are dropped by `spec.node`) without touching 5,000 nodes' objects.
    pub fn affinities_of(&self, host: &str) -> Result<Vec<Affinity>, IpamError> {
        let prefix = format!("{host}-");
        let candidates = self
            .store
            .list_name_prefix(&self.kinds.affinities, "", &prefix);
        let mut found = Vec::new();
        for stored in &candidates {
            if let Some(affinity) = Affinity::from_object(&stored.value()?)
                && affinity.node == host
            {
                found.push(affinity);
            }
        }
        found.sort_by_key(|a| a.cidr);
        Ok(found)
    }

    /// `AutoAssign` of one IPv4 address.
    pub fn auto_assign(&self, args: &AssignArgs<'_>) -> Result<Ipv4Addr, IpamError> {
        let mut plan = self.host_plan(
            args.host,
            &args.requested_pools,
            args.intended_use,
            args.reserved,
        )?;
        self.assign_with_plan(&mut plan, args)
    }

    /// `AutoAssign` with a plan from `host_plan`, which it keeps current when it claims a
    /// block, so a caller assigning many addresses on one host lists the host's blocks once.
    pub fn assign_with_plan(
        &self,
        plan: &mut HostPlan,
        args: &AssignArgs<'_>,
    ) -> Result<Ipv4Addr, IpamError> {
        let config = self.config(args.windows_host)?;
        if let Some(address) = self.assign_from_affine(plan, args, config)? {
            return Ok(address);
        }
        if plan.affinities.len() >= config.block_cap(args.max_blocks) as usize {
            return Err(IpamError::BlockLimit);
        }
        if !config.auto_allocate_blocks {
            return Err(IpamError::NoBlockClaimed);
        }
        let mut messages = Vec::new();
        if let Some(cidr) = self.claim_new_block(plan, config, args.reserved)? {
            if let Some(address) = self.assign_from_block(cidr, args)? {
                return Ok(address);
            }
            messages.push("Failed to assign IPs in newly allocated block".to_string());
        } else if config.strict_affinity {
            messages.push(NO_FREE_AFFINE_BLOCKS.to_string());
        } else {
            match self.borrow(plan, args)? {
                Ok(address) => return Ok(address),
                Err(exhausted) => messages.push(exhausted),
            }
        }
        Err(IpamError::Unfulfilled {
            requested: 1,
            assigned: 0,
            messages,
            reserved_handle: args.reserved.map(|r| r.handle),
        })
    }

    fn assign_from_affine(
        &self,
        plan: &HostPlan,
        args: &AssignArgs<'_>,
        config: IpamConfig,
    ) -> Result<Option<Ipv4Addr>, IpamError> {
        for affinity in &plan.affinities {
            let Some(block) = self.block_for_affinity(affinity, config, args.reserved)? else {
                continue;
            };
            if block.spec.unallocated.is_empty() {
                continue;
            }
            if let Some(address) = self.assign_from_block(block.cidr, args)? {
                return Ok(Some(address));
            }
        }
        Ok(None)
    }

    /// Borrowing: free ordinals of any block in the pools, walked from a host-seeded start.
    /// `Err` carries the message naming the pools found exhausted.
    fn borrow(
        &self,
        plan: &HostPlan,
        args: &AssignArgs<'_>,
    ) -> Result<Result<Ipv4Addr, String>, IpamError> {
        let mut exhausted = Vec::new();
        for pool in &plan.pools {
            for cidr in pool.blocks_from(&plan.host) {
                if let Some(address) = self.assign_from_block(cidr, args)? {
                    return Ok(Ok(address));
                }
            }
            exhausted.push(pool.cidr.to_string());
        }
        Ok(Err(format!(
            "No IPs available in pools: [{}]",
            exhausted.join(" ")
        )))
    }

    /// `EnsureBlock`: the host's block (the first affine one), claiming one if it has none.
    /// calico-node-windows calls it at start; it assigns nothing.
    pub fn ensure_block(
        &self,
        host: &str,
        reserved: HostReserved,
        windows_host: bool,
    ) -> Result<Ipv4Net, IpamError> {
        let mut plan = self.host_plan(host, &[], AllowedUse::Workload, Some(reserved))?;
        let config = self.config(windows_host)?;
        for affinity in &plan.affinities {
            if let Some(block) = self.block_for_affinity(affinity, config, Some(reserved))? {
                return Ok(block.cidr);
            }
        }
        if !config.auto_allocate_blocks {
            return Err(IpamError::NoBlockClaimed);
        }
        self.claim_new_block(&mut plan, config, Some(reserved))?
            .ok_or(IpamError::NoFreeBlocks)
    }

    // --- claiming -------------------------------------------------------------------------

    /// Finds an unclaimed block in the plan's pools and claims it; `None` when every block of
    /// every pool exists (libcalico's `noFreeBlocksError`).
    fn claim_new_block(
        &self,
        plan: &mut HostPlan,
        config: IpamConfig,
        reserved: Option<HostReserved>,
    ) -> Result<Option<Ipv4Net>, IpamError> {
        for _ in 0..DATASTORE_RETRIES {
            let Some(cidr) = self.find_unclaimed_block(plan) else {
                return Ok(None);
            };
            if self
                .claim_block(&plan.host, cidr, config, reserved)?
                .is_some()
            {
                let affinity = Affinity {
                    name: block_affinity_name(&plan.host, cidr),
                    node: plan.host.clone(),
                    cidr,
                    state: "confirmed".into(),
                };
                let at = plan.affinities.partition_point(|a| a.cidr < cidr);
                plan.affinities.insert(at, affinity);
                return Ok(Some(cidr));
            }
        }
        Err(IpamError::TooManyRetries)
    }

    fn find_unclaimed_block(&self, plan: &HostPlan) -> Option<Ipv4Net> {
        plan.pools.iter().find_map(|pool| {
            pool.blocks_from(&plan.host).find(|cidr| {
                self.store
                    .try_get(&self.kinds.blocks, "", &block_name(*cidr))
                    .is_none()
            })
        })
    }

    /// `claimAffineBlock`: affinity pending, block created, affinity confirmed. `None` when
    /// another host created the block first (our pending affinity is withdrawn).
    fn claim_block(
        &self,
        host: &str,
        cidr: Ipv4Net,
        config: IpamConfig,
        reserved: Option<HostReserved>,
    ) -> Result<Option<StoredBlock>, IpamError> {
        self.set_affinity_state(host, cidr, "pending")?;
        let spec = BlockSpec::new(
            cidr,
            host,
            reserved,
            self.now_nanos(),
            config.strict_affinity,
        );
        let created = self.create(&self.kinds.blocks, block_object(cidr, &spec)?)?;
        let block = self.load_block(cidr)?;
        let ours = block.as_ref().is_some_and(|b| b.spec.owner() == Some(host));
        if created || ours {
            self.set_affinity_state(host, cidr, "confirmed")?;
            return Ok(block);
        }
        self.delete(
            &self.kinds.affinities,
            &block_affinity_name(host, cidr),
            None,
        )?;
        Ok(None)
    }

    /// `getBlockFromAffinity`: the affinity's block, created if missing, confirmed if
    /// pending; a stale affinity (the block belongs to someone else) is deleted.
    fn block_for_affinity(
        &self,
        affinity: &Affinity,
        config: IpamConfig,
        reserved: Option<HostReserved>,
    ) -> Result<Option<StoredBlock>, IpamError> {
        let host = affinity.node.as_str();
        let Some(block) = self.load_block(affinity.cidr)? else {
            return self.claim_block(host, affinity.cidr, config, reserved);
        };
        if block.spec.owner() != Some(host) {
            self.delete(&self.kinds.affinities, &affinity.name, None)?;
            return Ok(None);
        }
        if !affinity.confirmed() {
            self.set_affinity_state(host, affinity.cidr, "confirmed")?;
        }
        Ok(Some(block))
    }

    fn set_affinity_state(&self, host: &str, cidr: Ipv4Net, state: &str) -> Result<(), IpamError> {
        let name = block_affinity_name(host, cidr);
        for _ in 0..DATASTORE_RETRIES {
            let Some(stored) = self.store.try_get(&self.kinds.affinities, "", &name) else {
                if self.create(&self.kinds.affinities, affinity_object(host, cidr, state))? {
                    return Ok(());
                }
                continue;
            };
            let mut object = stored.value()?;
            if object["spec"]["state"] == state {
                return Ok(());
            }
            object["spec"]["state"] = json!(state);
            if self.update(&self.kinds.affinities, &object)? {
                return Ok(());
            }
        }
        Err(IpamError::TooManyRetries)
    }

    // --- assigning and releasing ----------------------------------------------------------

    /// Assigns the first free ordinal of the block, if it exists and has one. The handle is
    /// counted before the block is written and uncounted if the write loses, as in libcalico.
    fn assign_from_block(
        &self,
        cidr: Ipv4Net,
        args: &AssignArgs<'_>,
    ) -> Result<Option<Ipv4Addr>, IpamError> {
        for _ in 0..DATASTORE_RETRIES {
            let Some(mut block) = self.load_block(cidr)? else {
                return Ok(None);
            };
            if block.spec.deleted {
                return Ok(None);
            }
            let Some(ordinal) = block.spec.assign(args.handle_id, &args.attrs) else {
                return Ok(None);
            };
            self.count_handle(args.handle_id, cidr, 1)?;
            if self.write_block(&mut block)? {
                return Ok(Some(ordinal_address(cidr, ordinal)));
            }
            self.count_handle(args.handle_id, cidr, -1)?;
        }
        Err(IpamError::TooManyRetries)
    }

    /// `ReleaseByHandle`: frees the handle's addresses in every block it names and deletes
    /// the IPAMHandle. An unknown handle releases nothing.
    pub fn release_by_handle(&self, handle_id: &str) -> Result<Vec<Ipv4Addr>, IpamError> {
        let name = handle_id.to_lowercase();
        let Some(stored) = self.store.try_get(&self.kinds.handles, "", &name) else {
            return Ok(Vec::new());
        };
        let mut released = Vec::new();
        for cidr in handle_blocks(&stored.value()?) {
            released.extend(self.release_in_block(cidr, handle_id)?);
        }
        self.delete(&self.kinds.handles, &name, None)?;
        Ok(released)
    }

    fn release_in_block(&self, cidr: Ipv4Net, handle_id: &str) -> Result<Vec<Ipv4Addr>, IpamError> {
        for _ in 0..DATASTORE_RETRIES {
            let Some(mut block) = self.load_block(cidr)? else {
                return Ok(Vec::new());
            };
            let ordinals = block.spec.release_handle(handle_id);
            if ordinals.is_empty() {
                return Ok(Vec::new());
            }
            // An ownerless block that has emptied out is deleted rather than kept.
            let written = if block.spec.affinity.is_none() && block.spec.only_reserved() {
                let rv = block.object["metadata"]["resourceVersion"]
                    .as_str()
                    .map(str::to_string);
                self.delete(&self.kinds.blocks, &block_name(cidr), rv)?
            } else {
                self.write_block(&mut block)?
            };
            if written {
                return Ok(ordinals.iter().map(|&o| ordinal_address(cidr, o)).collect());
            }
        }
        Err(IpamError::TooManyRetries)
    }

    /// The addresses a handle holds, in block and address order.
    pub fn addresses_of(&self, handle_id: &str) -> Result<Vec<Ipv4Addr>, IpamError> {
        let name = handle_id.to_lowercase();
        let Some(stored) = self.store.try_get(&self.kinds.handles, "", &name) else {
            return Ok(Vec::new());
        };
        let mut addresses = Vec::new();
        for cidr in handle_blocks(&stored.value()?) {
            if let Some(block) = self.load_block(cidr)? {
                let ordinals = block.spec.ordinals_of(handle_id);
                addresses.extend(ordinals.iter().map(|&o| ordinal_address(cidr, o)));
            }
        }
        Ok(addresses)
    }

    /// Adds `delta` to the handle's count for the block; the handle is created on first use
    /// and deleted when its last address goes.
    fn count_handle(&self, handle_id: &str, cidr: Ipv4Net, delta: i64) -> Result<(), IpamError> {
        let name = handle_id.to_lowercase();
        let key = cidr.to_string();
        for _ in 0..DATASTORE_RETRIES {
            let Some(stored) = self.store.try_get(&self.kinds.handles, "", &name) else {
                if delta <= 0 {
                    return Ok(());
                }
                if self.create(&self.kinds.handles, handle_object(handle_id, cidr, delta))? {
                    return Ok(());
                }
                continue;
            };
            let mut object = stored.value()?;
            let counts = &mut object["spec"]["block"];
            let count = counts[&key].as_i64().unwrap_or(0) + delta;
            if let Some(map) = counts.as_object_mut() {
                if count > 0 {
                    map.insert(key.clone(), json!(count));
                } else {
                    map.remove(&key);
                }
            }
            let done = if counts.as_object().is_none_or(Map::is_empty) {
                self.delete(&self.kinds.handles, &name, Some(stored.rv.to_string()))?
            } else {
                self.update(&self.kinds.handles, &object)?
            };
            if done {
                return Ok(());
            }
        }
        Err(IpamError::TooManyRetries)
    }

    // --- store access ---------------------------------------------------------------------

    pub fn load_block(&self, cidr: Ipv4Net) -> Result<Option<StoredBlock>, IpamError> {
        let Some(stored) = self
            .store
            .try_get(&self.kinds.blocks, "", &block_name(cidr))
        else {
            return Ok(None);
        };
        Ok(Some(parse_block(cidr, &stored)?))
    }

    /// Writes the block back with its sequence number advanced; `false` when it lost a race.
    fn write_block(&self, block: &mut StoredBlock) -> Result<bool, IpamError> {
        block.spec.sequence_number = block.spec.sequence_number.wrapping_add(1);
        block.object["spec"] = to_json(&block.spec)?;
        self.update(&self.kinds.blocks, &block.object)
    }

    fn now_nanos(&self) -> u64 {
        u64::try_from(self.store.clock.now().as_nanosecond()).unwrap_or(0)
    }

    /// `false` when the object already exists.
    fn create(&self, rt: &ResourceType, body: Value) -> Result<bool, IpamError> {
        match self.store.create(rt, None, body, &self.write) {
            Ok(_) => Ok(true),
            Err(e) if e.reason == "AlreadyExists" => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// A compare-and-swap on the object's resourceVersion; `false` when it was stale.
    fn update(&self, rt: &ResourceType, object: &Value) -> Result<bool, IpamError> {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        match self
            .store
            .update(rt, "", name, object, Part::Main, &self.write)
        {
            Ok(_) => Ok(true),
            Err(e) if e.code == 409 => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes, optionally only at a resourceVersion; `false` when that version was stale.
    /// An object already gone counts as deleted.
    fn delete(&self, rt: &ResourceType, name: &str, rv: Option<String>) -> Result<bool, IpamError> {
        let opts = DeleteOptions {
            precondition_rv: rv,
            ..DeleteOptions::default()
        };
        match self.store.delete(rt, "", name, &opts) {
            Ok(_) => Ok(true),
            Err(e) if e.code == 404 => Ok(true),
            Err(e) if e.code == 409 => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

fn select_pools(
    enabled: Vec<IpPool>,
    requested: &[Ipv4Net],
    labels: &BTreeMap<String, String>,
) -> Result<Vec<IpPool>, IpamError> {
    if !requested.is_empty() {
        return requested
            .iter()
            .map(|cidr| {
                enabled
                    .iter()
                    .find(|p| p.cidr == cidr.trunc())
                    .cloned()
                    .ok_or(IpamError::RequestedPoolMissing(*cidr))
            })
            .collect();
    }
    let mut selecting = Vec::new();
    for pool in enabled {
        if pool.selects(labels)? {
            selecting.push(pool);
        }
    }
    Ok(selecting)
}

fn parse_block(cidr: Ipv4Net, stored: &StoredObject) -> Result<StoredBlock, IpamError> {
    let object = stored.value()?;
    let spec: BlockSpec = serde_json::from_value(object["spec"].clone())
        .map_err(|e| IpamError::Datastore(format!("decoding IPAMBlock {}: {e}", stored.name)))?;
    Ok(StoredBlock { cidr, spec, object })
}

fn handle_blocks(handle: &Value) -> Vec<Ipv4Net> {
    handle["spec"]["block"]
        .as_object()
        .map(|blocks| blocks.keys().filter_map(|k| k.parse().ok()).collect())
        .unwrap_or_default()
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, IpamError> {
    serde_json::to_value(value).map_err(|e| IpamError::Datastore(format!("encoding: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;
    use crate::sim::clock::ManualClock;
    use crate::sim::crds::calico_v1_crds;
    use crate::sim::store::StoreConfig;

    /// A store with the Calico v1 CRDs and a fixed clock.
    pub(crate) fn calico_store() -> Store {
        let start: jiff::Timestamp = "2026-11-29T08:00:00Z".parse().unwrap();
        let store = Store::new(Arc::new(ManualClock::new(start)), StoreConfig::default());
        let crd_rt = store
            .registry()
            .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .unwrap();
        for crd in calico_v1_crds() {
            store
                .create(&crd_rt, None, crd, &WriteOptions::manager("test"))
                .unwrap();
        }
        store
    }

    pub(crate) fn add_node(store: &Store, name: &str, os: &str, ip: &str) {
        let rt = store.registry().get("", "v1", "nodes").unwrap();
        let node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/os": os, "kubernetes.io/hostname": name}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]},
        });
        store.seed(&rt, node).unwrap();
    }

    pub(crate) fn add_pool(store: &Store, name: &str, cidr: &str, block_size: u8, selector: &str) {
        let rt = store
            .registry()
            .get(CALICO_V1_GROUP, "v1", "ippools")
            .unwrap();
        let pool = json!({
            "apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
            "metadata": {"name": name},
            "spec": {"cidr": cidr, "blockSize": block_size, "vxlanMode": "Always", "ipipMode": "Never",
                     "natOutgoing": true, "nodeSelector": selector, "allowedUses": ["Workload", "Tunnel"]},
        });
        store
            .create(&rt, None, pool, &WriteOptions::manager("test"))
            .unwrap();
    }

    fn pod_args<'a>(host: &'a str, handle: &'a str) -> AssignArgs<'a> {
        AssignArgs {
            host,
            handle_id: handle,
            attrs: BTreeMap::from([("node".to_string(), host.to_string())]),
            intended_use: AllowedUse::Workload,
            max_blocks: 0,
            reserved: None,
            requested_pools: Vec::new(),
            windows_host: false,
        }
    }

    fn object(store: &Store, plural: &str, name: &str) -> Value {
        let rt = store.registry().get(CALICO_V1_GROUP, "v1", plural).unwrap();
        store.get(&rt, "", name).unwrap().value().unwrap()
    }

    #[test]
    fn names_follow_cidr_to_name() {
        let cidr: Ipv4Net = "10.244.17.64/26".parse().unwrap();
        assert_eq!(block_name(cidr), "10-244-17-64-26");
        assert_eq!(
            block_affinity_name("win-node-1", cidr),
            "win-node-1-10-244-17-64-26"
        );
        assert_eq!(
            cidr_to_name("fd5f:abcd:64:4f2c:ec1b:27b9:1989:77c0/122"),
            "fd5f-abcd-64-4f2c-ec1b-27b9-1989-77c0-122"
        );
        assert_eq!(ordinal_address(cidr, 63), Ipv4Addr::new(10, 244, 17, 127));
    }

    #[test]
    fn fnv1_matches_reference_vectors() {
        // FNV-1 32-bit test vectors: "" is the offset basis, "a" is 0x050c5d7e.
        assert_eq!(fnv1_32(""), 0x811c_9dc5);
        assert_eq!(fnv1_32("a"), 0x050c_5d7e);
        assert_eq!(fnv1_32("foobar"), 0x31f0_b262);
    }

    #[test]
    fn block_cap_takes_the_stricter_limit() {
        let config = |max| IpamConfig {
            max_blocks_per_host: max,
            ..IpamConfig::default()
        };
        assert_eq!(config(0).block_cap(0), 20);
        assert_eq!(config(0).block_cap(1), 1);
        assert_eq!(config(5).block_cap(0), 5);
        assert_eq!(config(5).block_cap(1), 1);
        assert_eq!(config(2).block_cap(7), 2);
    }

    #[test]
    fn windows_reservation_leaves_sixty_of_a_26_and_rejects_tiny_blocks() {
        let cidr: Ipv4Net = "192.168.4.0/26".parse().unwrap();
        let spec = BlockSpec::new(cidr, "win-1", Some(WINDOWS_RESERVED), 7, true);
        assert_eq!(spec.unallocated.len(), 60);
        assert_eq!(spec.unallocated.first(), Some(&3));
        assert_eq!(spec.unallocated.last(), Some(&62));
        let reserved: Vec<u32> = (0u32..)
            .zip(&spec.allocations)
            .filter(|(_, a)| a.is_some())
            .map(|(o, _)| o)
            .collect();
        assert_eq!(reserved, vec![0, 1, 2, 63]);
        assert!(spec.only_reserved());
        // 4 reserved addresses need 3 host bits: /29 is the smallest usable block.
        assert_eq!(WINDOWS_RESERVED.max_prefix_len(), 29);
    }

    #[test]
    fn release_renumbers_attributes_and_appends_ordinals() {
        let cidr: Ipv4Net = "10.0.0.0/29".parse().unwrap();
        let mut spec = BlockSpec::new(cidr, "n1", None, 100, false);
        let attrs = BTreeMap::new();
        assert_eq!(spec.assign("a", &attrs), Some(0));
        assert_eq!(spec.assign("b", &attrs), Some(1));
        assert_eq!(spec.assign("c", &attrs), Some(2));
        assert_eq!(spec.allocations[..4], [Some(0), Some(1), Some(2), None]);
        assert_eq!(spec.release_handle("B"), vec![1]);
        assert_eq!(spec.allocations[..4], [Some(0), None, Some(1), None]);
        assert_eq!(spec.attributes.len(), 2);
        assert_eq!(spec.attributes[1].handle_id.as_deref(), Some("c"));
        assert_eq!(spec.unallocated, vec![3, 4, 5, 6, 7, 1]);
        assert!(!spec.sequence_number_for_allocation.contains_key("1"));
        assert_eq!(spec.sequence_number_for_allocation["2"], 100);
    }

    #[test]
    fn linux_node_claims_a_block_with_pending_then_confirmed_affinity() {
        let store = calico_store();
        add_node(&store, "aks-linux-0", "linux", "10.224.0.4");
        add_pool(&store, "default-ipv4-ippool", "192.168.0.0/16", 26, "all()");
        let ipam = Ipam::new(&store, "calico-ipam").unwrap();
        let address = ipam
            .auto_assign(&pod_args("aks-linux-0", "k8s-pod-network.abc"))
            .unwrap();

        // The host-seeded walk starts at fnv1("aks-linux-0") % 1024 blocks of 64 addresses.
        let index = fnv1_32("aks-linux-0") % 1024;
        let base = u32::from(Ipv4Addr::new(192, 168, 0, 0)) + index * 64;
        let cidr = Ipv4Net::new(Ipv4Addr::from(base), 26).unwrap();
        assert_eq!(address, Ipv4Addr::from(base));

        let affinity = object(
            &store,
            "blockaffinities",
            &block_affinity_name("aks-linux-0", cidr),
        );
        assert_eq!(affinity["spec"]["state"], "confirmed");
        assert_eq!(affinity["spec"]["node"], "aks-linux-0");
        assert_eq!(affinity["spec"]["deleted"], "false");
        // pending at creation, then confirmed: two versions of the object.
        assert_eq!(
            affinity["metadata"]["managedFields"][0]["manager"],
            "calico-ipam"
        );

        let block = object(&store, "ipamblocks", &block_name(cidr));
        let spec = &block["spec"];
        assert_eq!(spec["affinity"], "host:aks-linux-0");
        assert_eq!(spec["allocations"].as_array().unwrap().len(), 64);
        assert_eq!(spec["allocations"][0], 0);
        assert_eq!(spec["allocations"][1], Value::Null);
        assert_eq!(spec["unallocated"].as_array().unwrap().len(), 63);
        assert_eq!(spec["attributes"][0]["handle_id"], "k8s-pod-network.abc");
        let created = u64::try_from(store.clock.now().as_nanosecond()).unwrap();
        assert_eq!(spec["sequenceNumber"], created + 1);
        assert_eq!(spec["sequenceNumberForAllocation"]["0"], created);
        assert_eq!(spec["strictAffinity"], false);

        let handle = object(&store, "ipamhandles", "k8s-pod-network.abc");
        assert_eq!(handle["spec"]["handleID"], "k8s-pod-network.abc");
        assert_eq!(handle["spec"]["block"][cidr.to_string()], 1);
        // The library wrote the default IPAMConfig on first use.
        assert_eq!(ipam_config(&store), (false, true, 0));
        assert_eq!(
            object(&store, "ipamconfigs", "default")["spec"]["autoAllocateBlocks"],
            true
        );
    }

    #[test]
    fn the_store_enforces_the_crd_schemas_these_objects_are_written_against() {
        // Every create and update in this module goes through the v1 schemas; a block with a
        // string ordinal or an affinity with a boolean `deleted` is refused, so the objects
        // the other tests read back are known to validate.
        let store = calico_store();
        let blocks = store
            .registry()
            .get(CALICO_V1_GROUP, "v1", "ipamblocks")
            .unwrap();
        let mut spec = to_json(&BlockSpec::new(
            "10.0.0.0/30".parse().unwrap(),
            "n1",
            None,
            1,
            false,
        ))
        .unwrap();
        let block = |spec: &Value| {
            json!({"apiVersion": "crd.projectcalico.org/v1", "kind": "IPAMBlock",
                                          "metadata": {"name": "10-0-0-0-30"}, "spec": spec})
        };
        spec["allocations"][0] = json!("zero");
        let err = store
            .create(&blocks, None, block(&spec), &WriteOptions::default())
            .unwrap_err();
        assert_eq!(err.code, 422, "{err}");
        spec["allocations"][0] = Value::Null;
        store
            .create(&blocks, None, block(&spec), &WriteOptions::default())
            .unwrap();

        let affinities = store
            .registry()
            .get(CALICO_V1_GROUP, "v1", "blockaffinities")
            .unwrap();
        let affinity = json!({"apiVersion": "crd.projectcalico.org/v1", "kind": "BlockAffinity",
            "metadata": {"name": "n1-10-0-0-0-30"},
            "spec": {"state": "confirmed", "node": "n1", "cidr": "10.0.0.0/30", "deleted": false}});
        let err = store
            .create(&affinities, None, affinity, &WriteOptions::default())
            .unwrap_err();
        assert_eq!(err.code, 422, "{err}");
    }

    #[test]
    fn pool_selection_skips_disabled_and_unselecting_pools() {
        let store = calico_store();
        add_node(&store, "win-0", "windows", "10.224.0.9");
        add_pool(
            &store,
            "a-linux",
            "10.10.0.0/24",
            26,
            "kubernetes.io/os == 'linux'",
        );
        add_pool(
            &store,
            "b-windows",
            "10.20.0.0/24",
            26,
            "kubernetes.io/os == 'windows'",
        );
        let ipam = Ipam::new(&store, "calico-ipam").unwrap();
        let plan = ipam
            .host_plan("win-0", &[], AllowedUse::Workload, None)
            .unwrap();
        let names: Vec<&str> = plan.pools().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["b-windows"]);
        assert_eq!(
            ipam.host_plan("ghost", &[], AllowedUse::Workload, None)
                .unwrap_err()
                .to_string(),
            "resource does not exist: Node(ghost) with error: nodes \"ghost\" not found"
        );
        add_node(&store, "mac-0", "darwin", "10.224.0.10");
        assert_eq!(
            ipam.host_plan("mac-0", &[], AllowedUse::Workload, None)
                .unwrap_err(),
            IpamError::NoPoolsForNode("mac-0".into())
        );
    }

    #[test]
    fn max_blocks_per_host_stops_claims_before_borrowing() {
        let store = calico_store();
        add_node(&store, "n1", "linux", "10.224.0.4");
        add_pool(&store, "p", "10.0.0.0/24", 28, "all()");
        set_strict_affinity(&store, true).unwrap();
        let rt = store
            .registry()
            .get(CALICO_V1_GROUP, "v1", "ipamconfigs")
            .unwrap();
        store
            .patch(
                &rt,
                "",
                "default",
                super::PatchType::Merge,
                &json!({"spec": {"maxBlocksPerHost": 1}}),
                Part::Main,
                &WriteOptions::manager("t"),
            )
            .unwrap();
        let ipam = Ipam::new(&store, "calico-ipam").unwrap();
        for i in 0..16 {
            ipam.auto_assign(&pod_args("n1", &format!("h{i}"))).unwrap();
        }
        assert_eq!(
            ipam.auto_assign(&pod_args("n1", "h16")).unwrap_err(),
            IpamError::BlockLimit
        );
        assert_eq!(ipam.affinities_of("n1").unwrap().len(), 1);
    }
}
