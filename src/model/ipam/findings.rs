//! IPAM findings in the spirit of `calicoctl ipam check` (`DOMAIN.md` §2.5) plus the Windows
//! rules of §1.7 and §2.2: borrowed addresses (an error when a Windows node is involved),
//! blocks without an owner, affinities without blocks, handles without allocations,
//! allocations of pods that are gone, nodes at their block cap, pools running out of blocks,
//! and an IPAM configuration Windows cannot run with. Owns only the judgement; the numbers
//! come from [`IpamModel`]; the severity scale is `model::findings`' [`Severity`].

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::{BlockOwner, ConfigSource, IpamModel, OsFamily, Severity, name_list};
use crate::model::calico::WINDOWS_RESERVED_HANDLE;
use crate::model::snapshot::{ClusterSnapshot, FeedState, Kind};

/// What kind of problem a finding reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum IpamFindingCode {
    StrictAffinityOffWithWindows,
    ConfigCrossFieldRule,
    BorrowedAddresses,
    BlockWithoutAffinity,
    BlockOwnerMissing,
    OrphanedBlock,
    AffinityWithoutBlock,
    HandleWithoutAllocations,
    AllocationWithoutHandle,
    AllocationOfMissingPod,
    NodeAtBlockCap,
    PoolNearlyExhausted,
    MalformedCidr,
}

impl IpamFindingCode {
    pub const ALL: [IpamFindingCode; 13] = [
        Self::StrictAffinityOffWithWindows,
        Self::ConfigCrossFieldRule,
        Self::BorrowedAddresses,
        Self::BlockWithoutAffinity,
        Self::BlockOwnerMissing,
        Self::OrphanedBlock,
        Self::AffinityWithoutBlock,
        Self::HandleWithoutAllocations,
        Self::AllocationWithoutHandle,
        Self::AllocationOfMissingPod,
        Self::NodeAtBlockCap,
        Self::PoolNearlyExhausted,
        Self::MalformedCidr,
    ];

    /// The id of the general finding (`model::findings`) that reports the same fact, if any:
    /// the Findings view shows the two as one.
    pub fn same_fact_as(self) -> Option<&'static str> {
        match self {
            Self::StrictAffinityOffWithWindows => Some("windows.strict-affinity"),
            _ => None,
        }
    }

    /// What to do about it, in one line (empty when there is nothing to do by hand).
    pub fn fix(self) -> &'static str {
        match self {
            Self::StrictAffinityOffWithWindows => {
                "turn strictAffinity on: s in the IPAM view, or :strictaffinity on"
            }
            Self::ConfigCrossFieldRule => {
                "turn strictAffinity on, or set maxBlocksPerHost 0 and autoAllocateBlocks true"
            }
            Self::BorrowedAddresses => {
                "turn strictAffinity on so nodes stop borrowing; recreate the borrowing pods to move them into their own node's blocks"
            }
            Self::BlockWithoutAffinity
            | Self::BlockOwnerMissing
            | Self::HandleWithoutAllocations
            | Self::AllocationWithoutHandle
            | Self::AllocationOfMissingPod => {
                "run calicoctl ipam check and release what it reports as leaked"
            }
            Self::OrphanedBlock => "add an IP pool that covers the block, or release its addresses",
            Self::AffinityWithoutBlock => "",
            Self::NodeAtBlockCap => {
                "move pods off the node; on Linux raise maxBlocksPerHost (Windows hosts hold one block)"
            }
            Self::PoolNearlyExhausted => "add an IP pool, or replace the pool with a larger CIDR",
            Self::MalformedCidr => "correct the CIDR",
        }
    }
}

/// One thing wrong or risky in IPAM, with a one-line explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpamFinding {
    pub severity: Severity,
    pub code: IpamFindingCode,
    /// What it is about: a block CIDR, a node, a pool, a handle.
    pub subject: String,
    pub message: String,
}

impl IpamFinding {
    fn new(
        severity: Severity,
        code: IpamFindingCode,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            code,
            subject: subject.into(),
            message: message.into(),
        }
    }
}

/// Share of a node's own addresses in use from which it counts as nearly full.
pub const NEARLY_FULL: f64 = 0.9;

/// All findings, errors first (stable within a severity).
pub fn ipam_findings(snapshot: &ClusterSnapshot, model: &IpamModel) -> Vec<IpamFinding> {
    let mut findings = Vec::new();
    config_findings(snapshot, model, &mut findings);
    block_findings(snapshot, model, &mut findings);
    affinity_findings(snapshot, model, &mut findings);
    handle_findings(snapshot, model, &mut findings);
    pod_findings(snapshot, model, &mut findings);
    node_findings(model, &mut findings);
    pool_findings(model, &mut findings);
    findings.sort_by_key(|finding| std::cmp::Reverse(finding.severity));
    findings
}

fn live(snapshot: &ClusterSnapshot, kind: Kind) -> bool {
    snapshot.feed(kind).state == FeedState::Live
}

fn config_findings(snapshot: &ClusterSnapshot, model: &IpamModel, out: &mut Vec<IpamFinding>) {
    let config = &model.config;
    let windows = IpamModel::windows_nodes(snapshot);
    if !config.spec.strict_affinity && !windows.is_empty() && config.source != ConfigSource::Unknown
    {
        let source = match config.source {
            ConfigSource::NotFound => "IPAMConfig default does not exist (Calico assumes false)",
            _ => "strictAffinity is false",
        };
        out.push(IpamFinding::new(
            Severity::Error,
            IpamFindingCode::StrictAffinityOffWithWindows,
            "strictAffinity",
            format!(
                "{source} with {} Windows node(s): every Windows pod sandbox fails with \"global strict affinity should not be false for Windows node\" and the operator does not render calico-node-windows",
                windows.len()
            ),
        ));
    }
    if config.spec.max_blocks_per_host > 0 && !config.spec.strict_affinity {
        out.push(IpamFinding::new(
            Severity::Warning,
            IpamFindingCode::ConfigCrossFieldRule,
            "maxBlocksPerHost",
            format!(
                "maxBlocksPerHost is {} but strictAffinity is off: calicoctl refuses this (MaxBlocksPerHost requires StrictAffinity to be enabled)",
                config.spec.max_blocks_per_host
            ),
        ));
    }
    if !config.spec.strict_affinity && !config.spec.auto_allocate_blocks {
        out.push(IpamFinding::new(
            Severity::Warning,
            IpamFindingCode::ConfigCrossFieldRule,
            "autoAllocateBlocks",
            "strictAffinity and autoAllocateBlocks are both off: calicoctl refuses this combination",
        ));
    }
    for pool in model.pools.iter().filter(|pool| pool.network.is_none()) {
        out.push(IpamFinding::new(
            Severity::Error,
            IpamFindingCode::MalformedCidr,
            pool.name.clone(),
            format!(
                "IP pool {} has a CIDR that does not parse: {:?}",
                pool.name, pool.cidr
            ),
        ));
    }
}

fn block_findings(snapshot: &ClusterSnapshot, model: &IpamModel, out: &mut Vec<IpamFinding>) {
    let nodes_live = live(snapshot, Kind::Nodes);
    for &index in &model.orphaned_blocks {
        let block = &model.blocks[index];
        if block.network.is_none() {
            out.push(IpamFinding::new(
                Severity::Warning,
                IpamFindingCode::MalformedCidr,
                block.name.clone(),
                format!(
                    "IPAM block {} has a CIDR that does not parse: {:?}",
                    block.name, block.cidr
                ),
            ));
            continue;
        }
        out.push(IpamFinding::new(
            Severity::Warning,
            IpamFindingCode::OrphanedBlock,
            block.cidr.clone(),
            format!(
                "block {} lies in no IP pool ({} addresses in use); calicoctl lists it under orphaned allocation blocks",
                block.cidr, block.in_use
            ),
        ));
    }
    let windows_blocks: HashSet<usize> = model
        .borrowed
        .iter()
        .filter(|row| row.windows_involved)
        .map(|row| row.block_index)
        .collect();
    for (index, block) in model.blocks.iter().enumerate() {
        let borrowers: BTreeSet<&str> = block
            .allocations
            .iter()
            .filter(|a| a.borrowed)
            .filter_map(|a| block.node_of(a))
            .collect();
        let windows_borrower = windows_blocks.contains(&index);
        let severity = if windows_borrower
            || block.owner_os == Some(OsFamily::Windows) && !borrowers.is_empty()
        {
            Severity::Error
        } else {
            Severity::Warning
        };
        let list = borrowers.iter().copied().collect::<Vec<_>>().join(", ");
        match &block.owner {
            BlockOwner::None => {
                let detail = if borrowers.is_empty() {
                    String::new()
                } else {
                    format!(" by {list}")
                };
                out.push(IpamFinding::new(
                    if borrowers.is_empty() {
                        Severity::Warning
                    } else {
                        severity
                    },
                    IpamFindingCode::BlockWithoutAffinity,
                    block.cidr.clone(),
                    format!(
                        "block {} has no affinity; {} address(es) in use{detail}",
                        block.cidr, block.in_use
                    ),
                ));
            }
            BlockOwner::Host(owner) | BlockOwner::Virtual(owner) => {
                if !borrowers.is_empty() {
                    let why = if severity == Severity::Error {
                        ": Windows cannot route borrowed addresses (strictAffinity must be on)"
                    } else {
                        ""
                    };
                    out.push(IpamFinding::new(
                        severity,
                        IpamFindingCode::BorrowedAddresses,
                        block.cidr.clone(),
                        format!(
                            "{} address(es) of block {} (owner {owner}) are used by {list}{why}",
                            block.borrowed, block.cidr
                        ),
                    ));
                }
                if block.owner_missing && nodes_live {
                    out.push(IpamFinding::new(
                        Severity::Warning,
                        IpamFindingCode::BlockOwnerMissing,
                        block.cidr.clone(),
                        format!(
                            "block {} is affine to node {owner}, which no longer exists ({} address(es) in use)",
                            block.cidr, block.in_use
                        ),
                    ));
                }
            }
        }
    }
}

fn affinity_findings(snapshot: &ClusterSnapshot, model: &IpamModel, out: &mut Vec<IpamFinding>) {
    if !live(snapshot, Kind::BlockAffinities) || !live(snapshot, Kind::IpamBlocks) {
        return;
    }
    let cidrs: HashSet<&str> = model.blocks.iter().map(|b| b.cidr.as_str()).collect();
    for affinity in snapshot.block_affinities.iter() {
        let spec = &affinity.spec;
        if spec.deleted || spec.state != "confirmed" {
            continue;
        }
        let canonical = spec
            .cidr
            .parse::<ipnet::IpNet>()
            .map_or_else(|_| spec.cidr.clone(), |net| net.trunc().to_string());
        if !cidrs.contains(canonical.as_str()) {
            out.push(IpamFinding::new(
                Severity::Warning,
                IpamFindingCode::AffinityWithoutBlock,
                canonical.clone(),
                format!(
                    "node {} holds a confirmed affinity for {canonical}, but no such block exists",
                    spec.node
                ),
            ));
        }
    }
}

fn handle_findings(snapshot: &ClusterSnapshot, model: &IpamModel, out: &mut Vec<IpamFinding>) {
    if !live(snapshot, Kind::IpamHandles) || !live(snapshot, Kind::IpamBlocks) {
        return;
    }
    // Handle ids compare case-insensitively (the object name is the id in lower case); they
    // are nearly always lower case already, so the keys borrow instead of copying 100,000
    // strings on a large cluster. Each id is read once per side: the handles go into one
    // pre-sized map, the blocks' ids are looked up in it and mark what they find.
    let mut slots: HashMap<Cow<'_, str>, usize> =
        HashMap::with_capacity(snapshot.ipam_handles.len());
    // Per handle object (deleted ones skipped), in snapshot order: its id and its key's slot.
    let mut objects: Vec<(&str, usize)> = Vec::with_capacity(snapshot.ipam_handles.len());
    for handle in snapshot.ipam_handles.iter() {
        if handle.spec.deleted {
            continue;
        }
        let id = if handle.spec.handle_id.is_empty() {
            handle.metadata.name.as_deref().unwrap_or_default()
        } else {
            handle.spec.handle_id.as_str()
        };
        let next = slots.len();
        let slot = *slots.entry(lower_case(id)).or_insert(next);
        objects.push((id, slot));
    }
    let mut used = vec![false; slots.len()];
    let mut missing: HashSet<Cow<'_, str>> = HashSet::new();
    for block in &model.blocks {
        for handle in block.allocations.iter().filter_map(|a| block.handle(a)) {
            if handle == WINDOWS_RESERVED_HANDLE {
                continue;
            }
            let key = lower_case(handle);
            match slots.get(&key) {
                Some(&slot) => used[slot] = true,
                None => {
                    missing.insert(key);
                }
            }
        }
    }
    let leaked: Vec<String> = objects
        .iter()
        .filter(|(_, slot)| !used[*slot])
        .map(|(id, _)| (*id).to_string())
        .collect();
    if !leaked.is_empty() {
        out.push(IpamFinding::new(
            Severity::Warning,
            IpamFindingCode::HandleWithoutAllocations,
            "ipamhandles",
            format!(
                "{} IPAM handle(s) hold no address in any block (leaked): {}",
                leaked.len(),
                name_list(&leaked, EXAMPLES)
            ),
        ));
    }
    let mut missing: Vec<String> = missing.iter().map(ToString::to_string).collect();
    missing.sort();
    if !missing.is_empty() {
        out.push(IpamFinding::new(
            Severity::Warning,
            IpamFindingCode::AllocationWithoutHandle,
            "ipamhandles",
            format!(
                "{} handle(s) used in blocks have no IPAMHandle object: {}",
                missing.len(),
                name_list(&missing, EXAMPLES)
            ),
        ));
    }
}

/// `text` in lower case, borrowed when it already is. ASCII text (handle ids nearly always
/// are) is checked byte by byte; anything else char by char, as before.
fn lower_case(text: &str) -> Cow<'_, str> {
    let upper = if text.is_ascii() {
        text.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        text.chars().any(char::is_uppercase)
    };
    if upper {
        Cow::Owned(text.to_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

/// Examples a one-line message names before "and N more".
const EXAMPLES: usize = 3;

fn pod_findings(snapshot: &ClusterSnapshot, model: &IpamModel, out: &mut Vec<IpamFinding>) {
    if !live(snapshot, Kind::Pods) {
        return;
    }
    // Sized up front: growing a set of 50,000 keys re-reads every key at each doubling.
    let mut pods: HashSet<(&str, &str)> = HashSet::with_capacity(snapshot.pods.len());
    pods.extend(snapshot.pods.iter().filter_map(|pod| {
        Some((
            pod.metadata.namespace.as_deref()?,
            pod.metadata.name.as_deref()?,
        ))
    }));
    let mut leaked: Vec<String> = Vec::new();
    for block in &model.blocks {
        for allocation in &block.allocations {
            if allocation.kind != super::AllocationKind::Pod {
                continue;
            }
            let (Some(namespace), Some(pod)) =
                (block.namespace_of(allocation), block.pod_of(allocation))
            else {
                continue;
            };
            if !pods.contains(&(namespace, pod)) {
                leaked.push(format!("{} ({namespace}/{pod})", allocation.ip_text()));
            }
        }
    }
    if !leaked.is_empty() {
        out.push(IpamFinding::new(
            Severity::Warning,
            IpamFindingCode::AllocationOfMissingPod,
            "pods",
            format!(
                "{} address(es) are allocated to pods that no longer exist (leaked): {}",
                leaked.len(),
                name_list(&leaked, EXAMPLES)
            ),
        ));
    }
}

fn node_findings(model: &IpamModel, out: &mut Vec<IpamFinding>) {
    for node in model
        .nodes
        .iter()
        .filter(|n| n.exists && !n.blocks.is_empty())
    {
        if !node.at_cap() {
            continue;
        }
        let usage = node.in_use as f64 / node.capacity.max(1) as f64;
        let cap = if node.os == Some(OsFamily::Windows) {
            "1 block per Windows host".to_string()
        } else {
            format!("cap {}", node.block_cap)
        };
        if node.free() == 0 {
            out.push(IpamFinding::new(
                Severity::Error,
                IpamFindingCode::NodeAtBlockCap,
                node.node.clone(),
                format!(
                    "node {} owns {} block(s) ({cap}) and all {} addresses are in use: new pods fail with \"cannot allocate new block due to per host block limit\"",
                    node.node,
                    node.blocks.len(),
                    node.capacity
                ),
            ));
        } else if usage >= NEARLY_FULL {
            out.push(IpamFinding::new(
                Severity::Warning,
                IpamFindingCode::NodeAtBlockCap,
                node.node.clone(),
                format!(
                    "node {} is at its block cap ({cap}) with {} of {} addresses in use; {} left",
                    node.node,
                    node.in_use,
                    node.capacity,
                    node.free()
                ),
            ));
        } else if node.os != Some(OsFamily::Windows) {
            out.push(IpamFinding::new(
                Severity::Info,
                IpamFindingCode::NodeAtBlockCap,
                node.node.clone(),
                format!(
                    "node {} owns {} blocks ({cap}): it cannot claim more",
                    node.node,
                    node.blocks.len()
                ),
            ));
        }
    }
}

fn pool_findings(model: &IpamModel, out: &mut Vec<IpamFinding>) {
    for pool in model
        .pools
        .iter()
        .filter(|p| !p.disabled && p.network.is_some())
    {
        let claimed = pool.blocks.len();
        if pool.unclaimed_slots() == 0 {
            let (severity, consequence) = if model.config.spec.strict_affinity {
                (
                    Severity::Error,
                    "strictAffinity is on, so new nodes get no block and their pods no address",
                )
            } else {
                (
                    Severity::Warning,
                    "nodes whose blocks fill up will borrow from other nodes' blocks",
                )
            };
            out.push(IpamFinding::new(
                severity,
                IpamFindingCode::PoolNearlyExhausted,
                pool.name.clone(),
                format!(
                    "all {claimed} blocks of pool {} ({}) are claimed: {consequence}",
                    pool.name, pool.cidr
                ),
            ));
        } else if pool.claimed_fraction() >= NEARLY_FULL {
            out.push(IpamFinding::new(
                Severity::Warning,
                IpamFindingCode::PoolNearlyExhausted,
                pool.name.clone(),
                format!(
                    "{claimed} of {} blocks of pool {} ({}) are claimed ({:.0}%)",
                    pool.block_slots,
                    pool.name,
                    pool.cidr,
                    pool.claimed_fraction() * 100.0
                ),
            ));
        }
    }
}
