//! The block map: each pool's address space as an ordered sequence of block slots, claimed or
//! free, aggregated into cells of 2^k blocks so that a /12 of /26 blocks (16,384 slots) or an
//! IPv6 pool (2^74 slots) draws in a terminal. Every zoom level is precomputed once per
//! snapshot revision — O(blocks) for the finest level, then O(cells) per coarser level by
//! merging pairs — so rendering only reads. Owns the cell summaries; must not touch rendering
//! (glyphs and colours belong to `ui::ipam`).

use serde::Serialize;

use super::{BlockOwner, BlockUsage, IpamModel, OsFamily};
use ipnet::IpNet;

/// The most cells the finest precomputed level of a pool may have (a /12 of /26 fits at one
/// block per cell).
pub const MAX_CELLS: u32 = 14;

/// Block maps of every pool with a parseable CIDR.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IpamMap {
    pub revision: u64,
    pub pools: Vec<PoolGrid>,
}

/// One pool's block slots at every zoom level.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PoolGrid {
    /// Index into `IpamModel::pools`.
    pub pool: usize,
    /// log2 of the number of block slots in the pool.
    pub slot_bits: u32,
    /// Addresses per block.
    pub block_capacity: u64,
    /// Zoom levels, finest first: `levels[i]` has cells of 2^(`levels[i].log2_blocks_per_cell`)
    /// blocks; the last level is one cell for the whole pool.
    pub levels: Vec<GridLevel>,
    /// (slot, index into `IpamModel::blocks`), ordered by slot.
    pub claimed: Vec<(u128, usize)>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GridLevel {
    pub log2_blocks_per_cell: u32,
    pub cells: Vec<GridCell>,
}

impl GridLevel {
    pub fn blocks_per_cell(&self) -> u128 {
        1u128
            .checked_shl(self.log2_blocks_per_cell)
            .unwrap_or(u128::MAX)
    }
}

/// Who owns the blocks of a cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum CellOwner {
    /// No block claimed.
    #[default]
    Free,
    /// Every claimed block belongs to this owner group (`IpamModel::owner_groups`).
    Group(usize),
    /// Claimed blocks without any affinity.
    Unowned,
    /// Blocks of different owner groups.
    Mixed,
}

impl CellOwner {
    fn merge(self, other: Self) -> Self {
        match (self, other) {
            (Self::Free, x) | (x, Self::Free) => x,
            (a, b) if a == b => a,
            _ => Self::Mixed,
        }
    }
}

/// The summary of 2^k block slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct GridCell {
    /// Claimed blocks in the cell (saturating).
    pub claimed: u32,
    /// Addresses in use in those blocks.
    pub in_use: u64,
    /// Share of the cell's whole address space in use (free slots count as empty).
    pub usage: f32,
    pub owner: CellOwner,
    /// The owners' OS when all owned blocks share one; `None` when mixed or unknown.
    pub os: Option<OsFamily>,
    /// A block in the cell lends addresses to other nodes.
    pub borrowed: bool,
    /// A block in the cell has no owner, or its owner node no longer exists.
    pub orphaned: bool,
    /// A block in the cell matches the pool's blocks only partially (wrong size).
    pub misfit: bool,
}

impl GridCell {
    fn of_block(block: &BlockUsage, owner_group: Option<usize>, misfit: bool) -> Self {
        Self {
            claimed: 1,
            in_use: block.in_use,
            usage: 0.0,
            owner: match (&block.owner, owner_group) {
                (BlockOwner::None, _) | (_, None) => CellOwner::Unowned,
                (_, Some(group)) => CellOwner::Group(group),
            },
            os: block.owner_os,
            borrowed: block.borrowed > 0,
            orphaned: block.owner == BlockOwner::None || block.owner_missing,
            misfit,
        }
    }

    fn merge(self, other: Self) -> Self {
        let os = match (self.claimed, other.claimed) {
            (0, _) => other.os,
            (_, 0) => self.os,
            _ if self.os == other.os => self.os,
            _ => None,
        };
        Self {
            claimed: self.claimed.saturating_add(other.claimed),
            in_use: self.in_use.saturating_add(other.in_use),
            usage: 0.0,
            owner: self.owner.merge(other.owner),
            os,
            borrowed: self.borrowed || other.borrowed,
            orphaned: self.orphaned || other.orphaned,
            misfit: self.misfit || other.misfit,
        }
    }

    pub fn is_free(&self) -> bool {
        self.claimed == 0
    }
}

impl IpamMap {
    pub fn from_model(model: &IpamModel) -> Self {
        let pools = model
            .pools
            .iter()
            .enumerate()
            .filter_map(|(index, pool)| {
                let network = pool.network?;
                Some(PoolGrid::build(model, index, network, pool.block_size))
            })
            .collect();
        Self {
            revision: model.revision,
            pools,
        }
    }

    pub fn pool(&self, pool_index: usize) -> Option<&PoolGrid> {
        self.pools.iter().find(|grid| grid.pool == pool_index)
    }
}

impl PoolGrid {
    fn build(model: &IpamModel, pool_index: usize, network: IpNet, block_size: u8) -> Self {
        let max = network.max_prefix_len();
        let block_size = block_size.clamp(network.prefix_len(), max);
        let slot_bits = u32::from(block_size - network.prefix_len());
        let block_host_bits = u32::from(max - block_size);
        let block_capacity = 1u64.checked_shl(block_host_bits).unwrap_or(u64::MAX);
        let base = slot_bits.saturating_sub(MAX_CELLS);
        let base_cells = 1usize << (slot_bits - base);

        let mut claimed: Vec<(u128, usize)> = model.pools[pool_index]
            .blocks
            .iter()
            .map(|&index| {
                let slot = model.blocks[index]
                    .network
                    .map_or(0, |block| slot_of(network, block, block_host_bits));
                (slot, index)
            })
            .collect();
        claimed.sort_unstable();

        let mut finest = vec![GridCell::default(); base_cells];
        for &(slot, index) in &claimed {
            let block = &model.blocks[index];
            let misfit = block.network.is_some_and(|n| n.prefix_len() != block_size);
            let cell = usize::try_from(slot >> base)
                .unwrap_or(usize::MAX)
                .min(base_cells - 1);
            finest[cell] = finest[cell].merge(GridCell::of_block(block, block.owner_group, misfit));
        }
        let mut levels = vec![GridLevel {
            log2_blocks_per_cell: base,
            cells: finest,
        }];
        while let Some(last) = levels.last() {
            if last.cells.len() <= 1 {
                break;
            }
            let cells = last
                .cells
                .chunks(2)
                .map(|pair| pair[0].merge(pair.get(1).copied().unwrap_or_default()))
                .collect();
            let k = last.log2_blocks_per_cell + 1;
            levels.push(GridLevel {
                log2_blocks_per_cell: k,
                cells,
            });
        }
        for level in &mut levels {
            let addresses = level.blocks_per_cell() as f64 * block_capacity as f64;
            for cell in &mut level.cells {
                #[allow(clippy::cast_possible_truncation)] // a share in 0..=1 fits an f32
                let usage = (cell.in_use as f64 / addresses) as f32;
                cell.usage = usage;
            }
        }
        Self {
            pool: pool_index,
            slot_bits,
            block_capacity,
            levels,
            claimed,
        }
    }

    /// The finest level whose cell count is at most `max_cells` (the level a view of that many
    /// cells should start at).
    pub fn level_fitting(&self, max_cells: usize) -> usize {
        self.levels
            .iter()
            .position(|level| level.cells.len() <= max_cells.max(1))
            .unwrap_or(self.levels.len().saturating_sub(1))
    }

    /// The blocks (indices into `IpamModel::blocks`) inside cell `cell` of level `level`.
    pub fn blocks_in_cell(&self, level: usize, cell: usize) -> &[(u128, usize)] {
        let Some(level) = self.levels.get(level) else {
            return &[];
        };
        let k = level.log2_blocks_per_cell;
        let cell = u128::try_from(cell).unwrap_or(u128::MAX);
        let start = cell.checked_shl(k).unwrap_or(u128::MAX);
        let end = (cell + 1).checked_shl(k).unwrap_or(u128::MAX);
        let from = self.claimed.partition_point(|(slot, _)| *slot < start);
        let to = self.claimed.partition_point(|(slot, _)| *slot < end);
        &self.claimed[from..to]
    }
}

/// The slot of `block` in `pool`: its offset from the pool base, in blocks.
fn slot_of(pool: IpNet, block: IpNet, block_host_bits: u32) -> u128 {
    let offset = match (pool, block) {
        (IpNet::V4(pool), IpNet::V4(block)) => {
            u128::from(u32::from(block.network()).saturating_sub(u32::from(pool.network())))
        }
        (IpNet::V6(pool), IpNet::V6(block)) => {
            u128::from(block.network()).saturating_sub(u128::from(pool.network()))
        }
        _ => 0,
    };
    offset.checked_shr(block_host_bits).unwrap_or(0)
}
