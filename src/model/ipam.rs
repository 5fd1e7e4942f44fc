//! Calico IPAM as the console shows it, computed once per snapshot revision: every IP pool
//! with its blocks, who owns each block (node, the node's pool and OS), how full it is, which
//! addresses are Windows-reserved, tunnel addresses or borrowed, the effective IPAM
//! configuration, and the findings an operator should act on (`DOMAIN.md` §1–2). The numbers
//! are the ones `calicoctl ipam show` prints, so the headless report can reproduce them.
//!
//! Owns: [`IpamModel`] and its parts, the block grid ([`grid`]), IPAM findings ([`findings`])
//! and Go's number formats ([`go_format`]). Must not touch: I/O of any kind, ratatui, the
//! node-pool grouping beyond the minimal private key below (that belongs to `model::pools`).

pub mod findings;
pub mod go_format;
pub mod grid;
pub mod tables;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::Node;
use serde::Serialize;

use super::calico::{
    AllocationAttribute, DEFAULT_MAX_BLOCKS_PER_HOST, IpPool, IpamBlock, IpamConfigSpec,
    WINDOWS_RESERVED_HANDLE,
};
use super::pools::{PoolRules, pool_key};
use super::snapshot::{ClusterSnapshot, FeedState, Kind};

pub use super::findings::Severity;
pub use super::pools::OsFamily;
pub use findings::IpamFinding;
pub use grid::{GridCell, IpamMap, PoolGrid};

/// Everything the IPAM view, the headless report and the strictAffinity plan read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IpamModel {
    /// The snapshot revision this was computed from.
    pub revision: u64,
    /// IP pools in the order the API lists them (by name), disabled ones included.
    pub pools: Vec<PoolUsage>,
    /// Every block that is not soft-deleted, in the order the API lists them (by name).
    pub blocks: Vec<BlockUsage>,
    /// Blocks no pool overlaps (calicoctl's hidden "orphaned allocation blocks" group):
    /// indices into `blocks`.
    pub orphaned_blocks: Vec<usize>,
    /// Per node that owns blocks or holds addresses, sorted by name.
    pub nodes: Vec<NodeIpam>,
    /// `calicoctl ipam show --show-borrowed` rows, in calicoctl's order.
    pub borrowed: Vec<BorrowedAddress>,
    /// Allocations without a `node` key: calicoctl cannot tell whether they are borrowed.
    pub allocations_without_node: usize,
    /// Blocks with `deleted: true`, left out of everything above.
    pub deleted_blocks_ignored: usize,
    pub config: EffectiveIpamConfig,
    /// The distinct (node pool, OS) owners blocks are coloured by; `BlockUsage::owner_group`
    /// indexes this.
    pub owner_groups: Vec<OwnerGroup>,
    pub findings: Vec<IpamFinding>,
}

/// One IP pool and what its blocks hold.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PoolUsage {
    pub name: String,
    /// As written in the spec.
    pub cidr: String,
    /// The parsed, masked network; `None` when the CIDR does not parse (a finding).
    pub network: Option<IpNet>,
    /// With Calico's defaults applied (26 / 122).
    pub block_size: u8,
    pub encapsulation: Encapsulation,
    pub node_selector: String,
    pub disabled: bool,
    /// 2^(host bits), as calicoctl computes it (a float: IPv6 pools exceed every integer type
    /// calicoctl uses).
    pub total: f64,
    /// Sum of the in-use counts of this pool's blocks.
    pub in_use: u64,
    /// How many blocks of `block_size` fit in the pool.
    pub block_slots: u128,
    /// Indices into `IpamModel::blocks`, in list order.
    pub blocks: Vec<usize>,
}

impl PoolUsage {
    pub fn free(&self) -> f64 {
        self.total - self.in_use as f64
    }

    /// Share of the pool's block slots already claimed (0.0 ..= 1.0).
    pub fn claimed_fraction(&self) -> f64 {
        if self.block_slots == 0 {
            return 0.0;
        }
        self.blocks.len() as f64 / self.block_slots as f64
    }

    pub fn unclaimed_slots(&self) -> u128 {
        self.block_slots
            .saturating_sub(u128::try_from(self.blocks.len()).unwrap_or(u128::MAX))
    }
}

/// How a pool encapsulates traffic (`ipipMode` / `vxlanMode`; empty means Never).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum Encapsulation {
    #[default]
    None,
    Ipip,
    IpipCrossSubnet,
    Vxlan,
    VxlanCrossSubnet,
}

impl Encapsulation {
    fn from_modes(ipip: Option<&str>, vxlan: Option<&str>) -> Self {
        match (ipip.unwrap_or("Never"), vxlan.unwrap_or("Never")) {
            (_, "Always") => Self::Vxlan,
            (_, "CrossSubnet") => Self::VxlanCrossSubnet,
            ("Always", _) => Self::Ipip,
            ("CrossSubnet", _) => Self::IpipCrossSubnet,
            _ => Self::None,
        }
    }

    /// The Installation's spelling (`VXLAN`, `VXLANCrossSubnet`, …).
    pub fn label(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Ipip => "IPIP",
            Self::IpipCrossSubnet => "IPIPCrossSubnet",
            Self::Vxlan => "VXLAN",
            Self::VxlanCrossSubnet => "VXLANCrossSubnet",
        }
    }
}

/// Who a block belongs to, from `spec.affinity`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub enum BlockOwner {
    /// `host:<node>`.
    Host(String),
    /// `virtual:<name>` (LoadBalancer blocks).
    Virtual(String),
    /// No affinity: nobody owns it (e.g. its node was deleted while it still held addresses).
    #[default]
    None,
}

impl BlockOwner {
    fn parse(affinity: Option<&str>) -> Self {
        match affinity {
            None => Self::None,
            Some(text) => {
                if let Some(host) = text.strip_prefix("host:") {
                    Self::Host(host.to_string())
                } else if let Some(name) = text.strip_prefix("virtual:") {
                    Self::Virtual(name.to_string())
                } else {
                    Self::None
                }
            }
        }
    }

    pub fn node(&self) -> Option<&str> {
        match self {
            Self::Host(node) => Some(node),
            _ => None,
        }
    }
}

/// A (node pool, OS) pair blocks are coloured by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct OwnerGroup {
    /// The node pool key (`DOMAIN.md` §7), or `virtual:<name>` for LoadBalancer blocks.
    pub pool: String,
    pub os: OsFamily,
}

/// One IPAM block.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BlockUsage {
    /// Object name (`10-244-17-64-26`).
    pub name: String,
    /// Canonical CIDR (`10.244.17.64/26`), or the spec text when it does not parse.
    pub cidr: String,
    pub network: Option<IpNet>,
    pub owner: BlockOwner,
    /// calicoctl's "BLOCK OWNER": the affinity after its `:` (empty when there is none).
    pub owner_label: String,
    /// The owner node's OS (`None` for virtual/unowned blocks or a node not in the snapshot).
    pub owner_os: Option<OsFamily>,
    /// The owner node's pool key, when the node exists.
    pub owner_pool: Option<String>,
    /// Index into `IpamModel::owner_groups`.
    pub owner_group: Option<usize>,
    /// The host named by the affinity is not among the snapshot's nodes.
    pub owner_missing: bool,
    /// Index of the first pool whose CIDR overlaps this block (disabled pools included).
    pub pool: Option<usize>,
    /// 2^(host bits).
    pub capacity: u64,
    /// capacity − len(unallocated): reserved and tunnel addresses count as in use.
    pub in_use: u64,
    pub windows_reserved: u32,
    pub tunnel_addresses: u32,
    /// Allocations whose node differs from the owner (calicoctl's rule).
    pub borrowed: u32,
    /// Allocated ordinals, ascending.
    pub allocations: Vec<Allocation>,
    /// The block object, whose attributes the allocations point into.
    #[serde(skip)]
    pub source: Arc<IpamBlock>,
}

impl BlockUsage {
    pub fn attribute(&self, allocation: &Allocation) -> Option<&AllocationAttribute> {
        let index = usize::try_from(allocation.attribute?).ok()?;
        self.source.spec.attributes.get(index)
    }

    /// A `secondary` attribute of an allocation (`node`, `pod`, `namespace`, `type`, …).
    pub fn secondary(&self, allocation: &Allocation, key: &str) -> Option<&str> {
        self.attribute(allocation)?
            .secondary
            .get(key)
            .map(String::as_str)
    }

    pub fn handle(&self, allocation: &Allocation) -> Option<&str> {
        self.attribute(allocation)?.handle_id.as_deref()
    }

    /// The node that asked for the address.
    pub fn node_of(&self, allocation: &Allocation) -> Option<&str> {
        self.secondary(allocation, "node")
    }

    /// The pod (or KubeVirt VM instance) holding the address.
    pub fn pod_of(&self, allocation: &Allocation) -> Option<&str> {
        self.secondary(allocation, "pod")
            .or_else(|| self.secondary(allocation, "vmi-name"))
    }

    pub fn namespace_of(&self, allocation: &Allocation) -> Option<&str> {
        self.secondary(allocation, "namespace")
    }

    pub fn free(&self) -> u64 {
        self.capacity.saturating_sub(self.in_use)
    }

    pub fn usage(&self) -> f64 {
        if self.capacity == 0 {
            0.0
        } else {
            self.in_use as f64 / self.capacity as f64
        }
    }

    pub fn is_ipv4(&self) -> bool {
        matches!(self.network, Some(IpNet::V4(_)))
    }
}

/// One allocated address of a block. Its handle, node, pod and namespace stay in the block's
/// attributes (read them through [`BlockUsage::handle`], [`BlockUsage::node_of`], …): copying
/// them for every address of a large cluster would dominate the cost of the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allocation {
    pub ordinal: u32,
    /// `None` when the block's CIDR does not parse.
    pub ip: Option<IpAddr>,
    pub kind: AllocationKind,
    /// Index into the block's `attributes`.
    pub attribute: Option<u32>,
    /// The allocation names a node and it differs from the block owner.
    pub borrowed: bool,
}

impl Allocation {
    pub fn ip_text(&self) -> String {
        self.ip.map_or_else(String::new, |ip| ip.to_string())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub enum AllocationKind {
    /// A workload pod (`secondary.pod`).
    #[default]
    Pod,
    /// A KubeVirt VM instance (`secondary.vmi-name`).
    Vmi,
    /// A node tunnel address; the value is `secondary.type` (e.g. `vxlanTunnelAddress`).
    Tunnel(String),
    /// `windows-reserved-ipam-handle`.
    WindowsReserved,
    /// Anything else (LoadBalancer IPs, old allocations without attributes).
    Other(String),
}

/// A node's share of IPAM.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeIpam {
    pub node: String,
    /// `None` when the node is not in the snapshot.
    pub os: Option<OsFamily>,
    pub pool: Option<String>,
    /// The node exists in the snapshot.
    pub exists: bool,
    /// Blocks whose affinity is this host (indices into `IpamModel::blocks`).
    pub blocks: Vec<usize>,
    pub capacity: u64,
    pub in_use: u64,
    /// Addresses this node holds in other nodes' (or unowned) blocks.
    pub borrowing: u32,
    /// Addresses other nodes hold in this node's blocks.
    pub lent: u32,
    /// The most blocks this node may claim: 1 on Windows, else maxBlocksPerHost (0 → 20).
    pub block_cap: u32,
}

impl NodeIpam {
    pub fn free(&self) -> u64 {
        self.capacity.saturating_sub(self.in_use)
    }

    pub fn at_cap(&self) -> bool {
        self.blocks.len() >= usize::try_from(self.block_cap).unwrap_or(usize::MAX)
    }
}

/// A `calicoctl ipam show --show-borrowed` row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BorrowedAddress {
    pub ip: String,
    pub borrowing_node: String,
    pub block: String,
    pub block_owner: String,
    /// `pod`, `vmi`, the tunnel `type`, or empty.
    pub kind: String,
    /// `namespace/pod`, `namespace/vmi`, or empty.
    pub allocated_to: String,
    /// The allocation's handle (`k8s-pod-network.<container>`, …), or empty.
    pub handle: String,
    /// Index of the block in `IpamModel::blocks`.
    pub block_index: usize,
    /// The borrowing node or the block owner runs Windows.
    pub windows_involved: bool,
}

/// The IPAM configuration Calico acts on, and where it came from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EffectiveIpamConfig {
    pub spec: IpamConfigSpec,
    pub source: ConfigSource,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub enum ConfigSource {
    /// Read from this object.
    Object {
        api_version: String,
        kind: String,
        resource_version: Option<String>,
    },
    /// The feed is live and `default` does not exist: Calico uses its defaults.
    NotFound,
    /// The feed has not answered (loading, forbidden, reconnecting, not installed).
    #[default]
    Unknown,
}

impl EffectiveIpamConfig {
    /// `maxBlocksPerHost` as stored, with 0 labelled as the built-in default.
    pub fn max_blocks_label(&self) -> String {
        match self.spec.max_blocks_per_host {
            0 => format!("0 (default {DEFAULT_MAX_BLOCKS_PER_HOST})"),
            n => n.to_string(),
        }
    }

    /// The block cap a Linux host gets.
    pub fn block_cap(&self) -> u32 {
        match self.spec.max_blocks_per_host {
            0 => DEFAULT_MAX_BLOCKS_PER_HOST,
            n => n,
        }
    }

    /// One line on where the values come from.
    pub fn source_label(&self) -> String {
        match &self.source {
            ConfigSource::Object {
                api_version, kind, ..
            } => format!("read from {api_version} {kind} default"),
            ConfigSource::NotFound => "not found: Calico assumes strictAffinity false".to_string(),
            ConfigSource::Unknown => "not read yet: values shown are Calico's defaults".to_string(),
        }
    }
}

impl IpamModel {
    /// Computes the model from one snapshot. O(blocks × block size + pools × blocks).
    pub fn from_snapshot(snapshot: &ClusterSnapshot) -> Self {
        let nodes_by_name: HashMap<&str, &Node> = snapshot
            .nodes
            .iter()
            .filter_map(|node| Some((node.metadata.name.as_deref()?, node.as_ref())))
            .collect();
        let config = effective_config(snapshot);
        let pools: Vec<PoolUsage> = snapshot.ip_pools.iter().map(|p| pool_usage(p)).collect();

        let mut model = IpamModel {
            revision: snapshot.revision,
            pools,
            config,
            ..IpamModel::default()
        };
        let mut groups: BTreeMap<OwnerGroup, usize> = BTreeMap::new();
        for block in snapshot.ipam_blocks.iter() {
            if block.spec.deleted {
                model.deleted_blocks_ignored += 1;
                continue;
            }
            let index = model.blocks.len();
            let mut usage = block_usage(block, &nodes_by_name);
            usage.owner_group = owner_group(&usage).map(|group| {
                let next = groups.len();
                *groups.entry(group).or_insert(next)
            });
            usage.pool = model
                .pools
                .iter()
                .position(|pool| overlaps(pool.network, usage.network));
            match usage.pool {
                Some(pool) => {
                    model.pools[pool].blocks.push(index);
                    model.pools[pool].in_use += usage.in_use;
                }
                None => model.orphaned_blocks.push(index),
            }
            for allocation in &usage.allocations {
                match usage.node_of(allocation) {
                    None => model.allocations_without_node += 1,
                    Some(node) if allocation.borrowed => {
                        model.borrowed.push(borrowed_row(
                            &usage,
                            index,
                            allocation,
                            node,
                            &nodes_by_name,
                        ));
                    }
                    Some(_) => {}
                }
            }
            model.blocks.push(usage);
        }
        let mut ordered: Vec<(OwnerGroup, usize)> = groups.into_iter().collect();
        ordered.sort_by_key(|(_, index)| *index);
        model.owner_groups = ordered.into_iter().map(|(group, _)| group).collect();
        model.nodes = node_summaries(&model, &nodes_by_name);
        model.findings = findings::ipam_findings(snapshot, &model);
        model
    }

    pub fn pool_by_name(&self, name: &str) -> Option<&PoolUsage> {
        self.pools.iter().find(|pool| pool.name == name)
    }

    pub fn node(&self, name: &str) -> Option<&NodeIpam> {
        self.nodes.iter().find(|node| node.node == name)
    }

    pub fn has_errors(&self) -> bool {
        self.findings
            .iter()
            .any(|finding| finding.severity == Severity::Error)
    }

    /// Nodes (in the snapshot) that run Windows.
    pub fn windows_nodes(snapshot: &ClusterSnapshot) -> Vec<String> {
        snapshot
            .nodes
            .iter()
            .filter(|node| OsFamily::of(node) == OsFamily::Windows)
            .filter_map(|node| node.metadata.name.clone())
            .collect()
    }
}

fn effective_config(snapshot: &ClusterSnapshot) -> EffectiveIpamConfig {
    match &snapshot.ipam_config {
        Some(object) => {
            let kind = if object.api_version.starts_with("projectcalico.org/") {
                "IPAMConfiguration"
            } else {
                "IPAMConfig"
            };
            EffectiveIpamConfig {
                spec: object.spec.clone(),
                source: ConfigSource::Object {
                    api_version: object.api_version.clone(),
                    kind: kind.to_string(),
                    resource_version: object.metadata.resource_version.clone(),
                },
            }
        }
        None => EffectiveIpamConfig {
            spec: IpamConfigSpec::default(),
            source: if snapshot.feed(Kind::IpamConfigs).state == FeedState::Live {
                ConfigSource::NotFound
            } else {
                ConfigSource::Unknown
            },
        },
    }
}

fn pool_usage(pool: &IpPool) -> PoolUsage {
    let spec = &pool.spec;
    let network = spec
        .cidr
        .trim()
        .parse::<IpNet>()
        .ok()
        .map(|net| net.trunc());
    let block_size = spec.block_size();
    let (total, block_slots) = match network {
        Some(net) => {
            let host_bits = i32::from(net.max_prefix_len() - net.prefix_len());
            let slot_bits = u32::from(block_size.saturating_sub(net.prefix_len()));
            (
                2f64.powi(host_bits),
                1u128.checked_shl(slot_bits).unwrap_or(u128::MAX),
            )
        }
        None => (0.0, 0),
    };
    PoolUsage {
        name: pool.metadata.name.clone().unwrap_or_default(),
        cidr: spec.cidr.clone(),
        network,
        block_size,
        encapsulation: Encapsulation::from_modes(
            spec.ipip_mode.as_deref(),
            spec.vxlan_mode.as_deref(),
        ),
        node_selector: spec.node_selector().to_string(),
        disabled: spec.disabled,
        total,
        in_use: 0,
        block_slots,
        blocks: Vec::new(),
    }
}

/// Go's `IsNetOverlap`: same family and either network contains the other's base address.
fn overlaps(pool: Option<IpNet>, block: Option<IpNet>) -> bool {
    match (pool, block) {
        (Some(pool), Some(block)) => {
            pool.contains(&block.network()) || block.contains(&pool.network())
        }
        _ => false,
    }
}

/// The node pool a node belongs to (`model::pools`' grouping, `DOMAIN.md` §7; a pool label
/// configured by the user is not applied here).
fn node_pool_key(node: &Node) -> String {
    pool_key(node, &PoolRules::default()).0.name
}

fn owner_group(block: &BlockUsage) -> Option<OwnerGroup> {
    match &block.owner {
        BlockOwner::Host(_) => Some(OwnerGroup {
            pool: block.owner_pool.clone().unwrap_or_else(|| "?".to_string()),
            os: block.owner_os.unwrap_or(OsFamily::Other),
        }),
        BlockOwner::Virtual(name) => Some(OwnerGroup {
            pool: format!("virtual:{name}"),
            os: OsFamily::Other,
        }),
        BlockOwner::None => None,
    }
}

/// calicoctl's block owner: the affinity split on `:`, second part if there are exactly two.
fn owner_label(affinity: Option<&str>) -> String {
    let Some(affinity) = affinity else {
        return String::new();
    };
    let parts: Vec<&str> = affinity.split(':').collect();
    if parts.len() == 2 {
        parts[1].to_string()
    } else {
        parts[0].to_string()
    }
}

fn block_usage(block: &Arc<IpamBlock>, nodes: &HashMap<&str, &Node>) -> BlockUsage {
    let spec = &block.spec;
    let network = spec
        .cidr
        .trim()
        .parse::<IpNet>()
        .ok()
        .map(|net| net.trunc());
    let capacity = match network {
        Some(net) => {
            let host_bits = u32::from(net.max_prefix_len() - net.prefix_len());
            1u64.checked_shl(host_bits).unwrap_or(u64::MAX)
        }
        None => spec.allocations.len() as u64,
    };
    let owner = BlockOwner::parse(spec.affinity.as_deref());
    let owner_label = owner_label(spec.affinity.as_deref());
    let owner_node = owner.node().and_then(|name| nodes.get(name).copied());
    let unallocated = spec.unallocated.len() as u64;
    let mut usage = BlockUsage {
        name: block.metadata.name.clone().unwrap_or_default(),
        cidr: network.map_or_else(|| spec.cidr.clone(), |net| net.to_string()),
        network,
        owner_os: owner_node.map(OsFamily::of),
        owner_pool: owner_node.map(node_pool_key),
        owner_missing: owner.node().is_some() && owner_node.is_none(),
        owner,
        owner_label,
        capacity,
        in_use: capacity.saturating_sub(unallocated),
        source: Arc::clone(block),
        ..BlockUsage::default()
    };
    for (ordinal, slot) in spec.allocations.iter().enumerate() {
        let Some(attribute_index) = slot else {
            continue;
        };
        let ordinal = u32::try_from(ordinal).unwrap_or(u32::MAX);
        let attribute = usize::try_from(*attribute_index)
            .ok()
            .and_then(|i| spec.attributes.get(i));
        let allocation = allocation(
            ordinal,
            network,
            attribute.map(|_| *attribute_index),
            attribute,
            &usage.owner_label,
        );
        match allocation.kind {
            AllocationKind::WindowsReserved => usage.windows_reserved += 1,
            AllocationKind::Tunnel(_) => usage.tunnel_addresses += 1,
            _ => {}
        }
        if allocation.borrowed {
            usage.borrowed += 1;
        }
        usage.allocations.push(allocation);
    }
    usage
}

fn allocation(
    ordinal: u32,
    network: Option<IpNet>,
    attribute_index: Option<u32>,
    attribute: Option<&AllocationAttribute>,
    owner_label: &str,
) -> Allocation {
    let empty = BTreeMap::new();
    let secondary = attribute.map_or(&empty, |a| &a.secondary);
    let handle = attribute.and_then(|a| a.handle_id.as_deref());
    let kind = if handle == Some(WINDOWS_RESERVED_HANDLE) {
        AllocationKind::WindowsReserved
    } else if secondary.contains_key("vmi-name") {
        AllocationKind::Vmi
    } else if secondary.contains_key("pod") {
        AllocationKind::Pod
    } else if let Some(kind) = secondary.get("type") {
        AllocationKind::Tunnel(kind.clone())
    } else {
        AllocationKind::Other(secondary.get("service").cloned().unwrap_or_default())
    };
    let borrowed = secondary
        .get("node")
        .is_some_and(|node| node != owner_label);
    Allocation {
        ordinal,
        ip: network.map(|net| ordinal_ip(net, ordinal)),
        kind,
        attribute: attribute_index,
        borrowed,
    }
}

/// The first `shown` names joined by commas, and how many more there are: `a, b, c, and 4 more`.
/// Findings and plan previews name a few examples of a long list this way.
pub fn name_list(names: &[String], shown: usize) -> String {
    let list = names
        .iter()
        .take(shown)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    match names.len().checked_sub(shown) {
        Some(more) if more > 0 => format!("{list}, and {more} more"),
        _ => list,
    }
}

/// The address at `ordinal` in `network` (base + ordinal).
pub fn ordinal_ip(network: IpNet, ordinal: u32) -> IpAddr {
    match network {
        IpNet::V4(net) => IpAddr::V4(u32::from(net.network()).wrapping_add(ordinal).into()),
        IpNet::V6(net) => IpAddr::V6(
            u128::from(net.network())
                .wrapping_add(u128::from(ordinal))
                .into(),
        ),
    }
}

fn borrowed_row(
    block: &BlockUsage,
    block_index: usize,
    allocation: &Allocation,
    node: &str,
    nodes: &HashMap<&str, &Node>,
) -> BorrowedAddress {
    let namespace = block.namespace_of(allocation).unwrap_or_default();
    let pod = block.pod_of(allocation).unwrap_or_default();
    let (kind, allocated_to) = match &allocation.kind {
        AllocationKind::Vmi => ("vmi".to_string(), format!("{namespace}/{pod}")),
        AllocationKind::Pod => ("pod".to_string(), format!("{namespace}/{pod}")),
        AllocationKind::Tunnel(kind) => (kind.clone(), String::new()),
        AllocationKind::WindowsReserved | AllocationKind::Other(_) => {
            (String::new(), String::new())
        }
    };
    let borrower_windows = nodes
        .get(node)
        .is_some_and(|n| OsFamily::of(n) == OsFamily::Windows);
    BorrowedAddress {
        ip: allocation.ip_text(),
        borrowing_node: node.to_string(),
        block: block.cidr.clone(),
        block_owner: block.owner_label.clone(),
        kind,
        allocated_to,
        handle: block.handle(allocation).unwrap_or_default().to_string(),
        block_index,
        windows_involved: borrower_windows || block.owner_os == Some(OsFamily::Windows),
    }
}

fn node_summaries(model: &IpamModel, nodes: &HashMap<&str, &Node>) -> Vec<NodeIpam> {
    let mut summaries: BTreeMap<String, NodeIpam> = BTreeMap::new();
    let linux_cap = model.config.block_cap();
    for (index, block) in model.blocks.iter().enumerate() {
        if let Some(owner) = block.owner.node() {
            let summary = node_entry(&mut summaries, owner, nodes, linux_cap);
            summary.blocks.push(index);
            summary.capacity += block.capacity;
            summary.in_use += block.in_use;
            summary.lent += block.borrowed;
        }
        for allocation in block.allocations.iter().filter(|a| a.borrowed) {
            if let Some(node) = block.node_of(allocation) {
                node_entry(&mut summaries, node, nodes, linux_cap).borrowing += 1;
            }
        }
    }
    summaries.into_values().collect()
}

fn node_entry<'a>(
    summaries: &'a mut BTreeMap<String, NodeIpam>,
    name: &str,
    nodes: &HashMap<&str, &Node>,
    linux_cap: u32,
) -> &'a mut NodeIpam {
    summaries.entry(name.to_string()).or_insert_with(|| {
        let node = nodes.get(name).copied();
        let os = node.map(OsFamily::of);
        NodeIpam {
            node: name.to_string(),
            os,
            pool: node.map(node_pool_key),
            exists: node.is_some(),
            block_cap: if os == Some(OsFamily::Windows) {
                1
            } else {
                linux_cap
            },
            ..NodeIpam::default()
        }
    })
}

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
