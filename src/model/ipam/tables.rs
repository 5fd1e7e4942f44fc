//! The IPAM list tables as data: per IP pool, per node and the borrowed addresses, each a fixed
//! set of columns with a display text and a sort key per row, and the one rule for ordering
//! them ([`sorted_rows`]): numbers sort numerically, addresses as addresses (`10.0.0.9` before
//! `10.0.0.10`, IPv4 before IPv6), text as text, and ties fall back to the first column (the
//! name; a borrowed row's address), then to the model's own order (a stable sort). Computed when the sort or the snapshot changes, never
//! per frame. Owns only the table contents and their order; must not touch ratatui, the app
//! state or I/O.

use std::cmp::Ordering;
use std::net::IpAddr;

use ipnet::IpNet;

use super::go_format::go_g5;
use super::{BorrowedAddress, IpamModel, NodeIpam, PoolUsage};

/// One of the IPAM view's list tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpamTable {
    Pools,
    Nodes,
    Borrowed,
}

/// How a column's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Number,
    Address,
}

/// A column of a table: its header (and a short one for 80 columns) and how it sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub title: &'static str,
    pub short: &'static str,
    pub kind: ColumnKind,
}

const fn column(title: &'static str, short: &'static str, kind: ColumnKind) -> Column {
    Column { title, short, kind }
}

const POOL_COLUMNS: [Column; 8] = [
    column("POOL", "POOL", ColumnKind::Text),
    column("CIDR", "CIDR", ColumnKind::Address),
    column("BLOCK", "BLK", ColumnKind::Number),
    column("BLOCKS", "BLOCKS", ColumnKind::Number),
    column("CAPACITY", "CAP", ColumnKind::Number),
    column("IN USE", "USED", ColumnKind::Number),
    column("FREE", "FREE", ColumnKind::Number),
    column("%", "%", ColumnKind::Number),
];

const NODE_COLUMNS: [Column; 9] = [
    column("NODE", "NODE", ColumnKind::Text),
    column("OS", "OS", ColumnKind::Text),
    column("POOL", "POOL", ColumnKind::Text),
    column("BLOCKS", "BLK", ColumnKind::Number),
    column("CAPACITY", "CAP", ColumnKind::Number),
    column("IN USE", "USED", ColumnKind::Number),
    column("BORROWED", "BORR", ColumnKind::Number),
    column("LENT", "LENT", ColumnKind::Number),
    column("AT CAP", "FULL", ColumnKind::Number),
];

const BORROWED_COLUMNS: [Column; 6] = [
    column("ADDRESS", "ADDRESS", ColumnKind::Address),
    column("BLOCK", "BLOCK", ColumnKind::Address),
    column("BLOCK OWNER", "OWNER", ColumnKind::Text),
    column("BORROWING NODE", "BORROWER", ColumnKind::Text),
    column("POD", "POD", ColumnKind::Text),
    column("HANDLE", "HANDLE", ColumnKind::Text),
];

/// The sorted column of a table and its direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TableSort {
    pub column: usize,
    pub descending: bool,
}

impl TableSort {
    /// The next column of `table` (wrapping), ascending.
    #[must_use]
    pub fn next_column(self, table: IpamTable) -> Self {
        Self {
            column: (self.column + 1) % table.columns().len(),
            descending: false,
        }
    }

    /// The same column, the other way round.
    #[must_use]
    pub fn reversed(self) -> Self {
        Self {
            descending: !self.descending,
            ..self
        }
    }
}

/// A value as it sorts. Numbers compare with `f64::total_cmp`; addresses by family, then
/// numerically; an address that does not parse sorts after every address.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortKey<'a> {
    Text(&'a str),
    Number(f64),
    /// (family: 4 or 6, value); `None` when the text is not an address.
    Address(Option<(u8, u128)>),
}

impl SortKey<'_> {
    fn compare(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Text(a), Self::Text(b)) => a.cmp(b),
            (Self::Number(a), Self::Number(b)) => a.total_cmp(b),
            (Self::Address(a), Self::Address(b)) => match (a, b) {
                (Some(a), Some(b)) => a.cmp(b),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
            // One column has one kind; a mix cannot happen, but must still be an order.
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Self::Text(_) => 0,
            Self::Number(_) => 1,
            Self::Address(_) => 2,
        }
    }
}

fn address_key(ip: Option<IpAddr>) -> SortKey<'static> {
    SortKey::Address(ip.map(|ip| match ip {
        IpAddr::V4(v4) => (4, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (6, u128::from(v6)),
    }))
}

fn network_key(network: Option<IpNet>) -> SortKey<'static> {
    address_key(network.map(|net| net.network()))
}

fn count(value: impl TryInto<u32>) -> f64 {
    f64::from(value.try_into().unwrap_or(u32::MAX))
}

fn percent_of(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part * 100.0 / whole
    } else {
        0.0
    }
}

impl IpamTable {
    pub const ALL: [IpamTable; 3] = [IpamTable::Pools, IpamTable::Nodes, IpamTable::Borrowed];

    pub fn columns(self) -> &'static [Column] {
        match self {
            Self::Pools => &POOL_COLUMNS,
            Self::Nodes => &NODE_COLUMNS,
            Self::Borrowed => &BORROWED_COLUMNS,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Pools => "IP pools",
            Self::Nodes => "Nodes",
            Self::Borrowed => "Borrowed addresses",
        }
    }

    /// How many rows the table has in `model`.
    pub fn len(self, model: &IpamModel) -> usize {
        match self {
            Self::Pools => model.pools.len(),
            Self::Nodes => model.nodes.len(),
            Self::Borrowed => model.borrowed.len(),
        }
    }

    pub fn is_empty(self, model: &IpamModel) -> bool {
        self.len(model) == 0
    }

    /// The row's name (a borrowed row's address).
    pub fn name(self, model: &IpamModel, row: usize) -> &str {
        match self {
            Self::Pools => model.pools.get(row).map_or("", |p| p.name.as_str()),
            Self::Nodes => model.nodes.get(row).map_or("", |n| n.node.as_str()),
            Self::Borrowed => model.borrowed.get(row).map_or("", |b| b.ip.as_str()),
        }
    }

    /// The display text of every column of `row` (empty for a row that does not exist).
    pub fn cells(self, model: &IpamModel, row: usize) -> Vec<String> {
        match self {
            Self::Pools => model.pools.get(row).map(pool_cells),
            Self::Nodes => model.nodes.get(row).map(node_cells),
            Self::Borrowed => model.borrowed.get(row).map(borrowed_cells),
        }
        .unwrap_or_default()
    }

    /// The sort key of `row` in `column`.
    pub fn sort_key(self, model: &IpamModel, row: usize, column: usize) -> SortKey<'_> {
        let missing = SortKey::Text("");
        match self {
            Self::Pools => model
                .pools
                .get(row)
                .map_or(missing, |p| pool_key(p, column)),
            Self::Nodes => model
                .nodes
                .get(row)
                .map_or(missing, |n| node_key(n, column)),
            Self::Borrowed => model
                .borrowed
                .get(row)
                .map_or(missing, |b| borrowed_key(b, column)),
        }
    }
}

fn pool_cells(pool: &PoolUsage) -> Vec<String> {
    vec![
        format!("{}{}", pool.name, if pool.disabled { " (off)" } else { "" }),
        pool.network
            .map_or_else(|| pool.cidr.clone(), |n| n.to_string()),
        format!("/{}", pool.block_size),
        format!("{}/{}", pool.blocks.len(), pool.block_slots),
        go_g5(pool.total),
        pool.in_use.to_string(),
        go_g5(pool.free()),
        format!("{:.0}%", percent_of(pool.in_use as f64, pool.total)),
    ]
}

fn pool_key(pool: &PoolUsage, column: usize) -> SortKey<'_> {
    match column {
        0 => SortKey::Text(&pool.name),
        1 => network_key(pool.network),
        2 => SortKey::Number(f64::from(pool.block_size)),
        3 => SortKey::Number(count(pool.blocks.len())),
        4 => SortKey::Number(pool.total),
        5 => SortKey::Number(pool.in_use as f64),
        6 => SortKey::Number(pool.free()),
        _ => SortKey::Number(percent_of(pool.in_use as f64, pool.total)),
    }
}

fn node_cells(node: &NodeIpam) -> Vec<String> {
    vec![
        node.node.clone(),
        node.os.map_or("?", |os| os.as_str()).to_string(),
        node.pool.clone().unwrap_or_else(|| "-".to_string()),
        format!("{}/{}", node.blocks.len(), node.block_cap),
        node.capacity.to_string(),
        node.in_use.to_string(),
        node.borrowing.to_string(),
        node.lent.to_string(),
        if node.at_cap() { "yes" } else { "no" }.to_string(),
    ]
}

fn node_key(node: &NodeIpam, column: usize) -> SortKey<'_> {
    match column {
        0 => SortKey::Text(&node.node),
        1 => SortKey::Text(node.os.map_or("?", |os| os.as_str())),
        2 => SortKey::Text(node.pool.as_deref().unwrap_or("-")),
        3 => SortKey::Number(count(node.blocks.len())),
        4 => SortKey::Number(node.capacity as f64),
        5 => SortKey::Number(node.in_use as f64),
        6 => SortKey::Number(f64::from(node.borrowing)),
        7 => SortKey::Number(f64::from(node.lent)),
        _ => SortKey::Number(if node.at_cap() { 1.0 } else { 0.0 }),
    }
}

fn borrowed_cells(row: &BorrowedAddress) -> Vec<String> {
    vec![
        row.ip.clone(),
        row.block.clone(),
        row.block_owner.clone(),
        row.borrowing_node.clone(),
        row.allocated_to.clone(),
        row.handle.clone(),
    ]
}

fn borrowed_key(row: &BorrowedAddress, column: usize) -> SortKey<'_> {
    match column {
        0 => address_key(row.ip.parse().ok()),
        1 => network_key(row.block.parse().ok()),
        2 => SortKey::Text(&row.block_owner),
        3 => SortKey::Text(&row.borrowing_node),
        4 => SortKey::Text(&row.allocated_to),
        _ => SortKey::Text(&row.handle),
    }
}

/// The rows of `table` (indices into the model's pools, nodes or borrowed rows) in `sort`'s
/// order: the column's key, reversed when descending; ties by the first column (the name, or
/// the address of a borrowed row) ascending, then model order.
pub fn sorted_rows(model: &IpamModel, table: IpamTable, sort: TableSort) -> Vec<usize> {
    let mut keyed: Vec<(SortKey<'_>, SortKey<'_>, usize)> = (0..table.len(model))
        .map(|row| {
            (
                table.sort_key(model, row, sort.column),
                table.sort_key(model, row, 0),
                row,
            )
        })
        .collect();
    keyed.sort_by(|a, b| {
        let primary = a.0.compare(&b.0);
        let primary = if sort.descending {
            primary.reverse()
        } else {
            primary
        };
        primary.then_with(|| a.1.compare(&b.1))
    });
    keyed.into_iter().map(|(_, _, row)| row).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::ipam::OsFamily;

    fn node(name: &str, blocks: usize, in_use: u64, borrowing: u32) -> NodeIpam {
        NodeIpam {
            node: name.to_string(),
            os: Some(OsFamily::Linux),
            pool: Some("np".to_string()),
            exists: true,
            blocks: (0..blocks).collect(),
            capacity: 64 * blocks as u64,
            in_use,
            borrowing,
            lent: 0,
            block_cap: 20,
        }
    }

    fn borrowed(ip: &str, block: &str, node: &str) -> BorrowedAddress {
        BorrowedAddress {
            ip: ip.to_string(),
            borrowing_node: node.to_string(),
            block: block.to_string(),
            block_owner: "owner".to_string(),
            ..BorrowedAddress::default()
        }
    }

    fn names(model: &IpamModel, table: IpamTable, sort: TableSort) -> Vec<String> {
        sorted_rows(model, table, sort)
            .into_iter()
            .map(|row| table.name(model, row).to_string())
            .collect()
    }

    #[test]
    fn numbers_sort_numerically_and_ties_go_by_name() {
        // in use: c 9, a 10, b 100, d 10. As text "10" < "100" < "9"; as numbers
        // 9 < 10 = 10 < 100, and the tie a/d goes by name.
        let model = IpamModel {
            nodes: vec![
                node("c", 1, 9, 0),
                node("b", 2, 100, 0),
                node("d", 1, 10, 0),
                node("a", 1, 10, 0),
            ],
            ..IpamModel::default()
        };
        let in_use = TableSort {
            column: 5,
            descending: false,
        };
        assert_eq!(
            names(&model, IpamTable::Nodes, in_use),
            ["c", "a", "d", "b"]
        );
        // Descending reverses the key only: the tie still reads a before d.
        assert_eq!(
            names(&model, IpamTable::Nodes, in_use.reversed()),
            ["b", "a", "d", "c"]
        );
        // Blocks: a, c, d hold 1 and b holds 2.
        let blocks = TableSort {
            column: 3,
            descending: true,
        };
        assert_eq!(
            names(&model, IpamTable::Nodes, blocks),
            ["b", "a", "c", "d"]
        );
        // The name column itself.
        assert_eq!(
            names(&model, IpamTable::Nodes, TableSort::default()),
            ["a", "b", "c", "d"]
        );
    }

    #[test]
    fn addresses_sort_as_addresses() {
        // As text 10.0.0.10 < 10.0.0.2 < 10.0.0.9 < 9.1.1.1; as addresses 9.1.1.1 is first and
        // .2 < .9 < .10; an IPv6 address after every IPv4 one; text that is no address last.
        let model = IpamModel {
            borrowed: vec![
                borrowed("10.0.0.10", "10.0.0.0/26", "n1"),
                borrowed("10.0.0.9", "10.0.0.0/26", "n2"),
                borrowed("fd00::1", "fd00::/122", "n3"),
                borrowed("10.0.0.2", "10.0.0.0/26", "n4"),
                borrowed("", "bad", "n5"),
                borrowed("9.1.1.1", "9.1.1.0/26", "n6"),
            ],
            ..IpamModel::default()
        };
        let by_address = TableSort::default();
        assert_eq!(
            names(&model, IpamTable::Borrowed, by_address),
            [
                "9.1.1.1",
                "10.0.0.2",
                "10.0.0.9",
                "10.0.0.10",
                "fd00::1",
                ""
            ]
        );
        // By block: 9.1.1.0/26, then the three of 10.0.0.0/26 by their addresses, then the
        // IPv6 block, then the one that does not parse.
        let by_block = TableSort {
            column: 1,
            descending: false,
        };
        assert_eq!(
            names(&model, IpamTable::Borrowed, by_block),
            [
                "9.1.1.1",
                "10.0.0.2",
                "10.0.0.9",
                "10.0.0.10",
                "fd00::1",
                ""
            ]
        );
        // By borrowing node, descending: n6 … n1.
        let by_node = TableSort {
            column: 3,
            descending: true,
        };
        let order: Vec<String> = sorted_rows(&model, IpamTable::Borrowed, by_node)
            .into_iter()
            .map(|row| model.borrowed[row].borrowing_node.clone())
            .collect();
        assert_eq!(order, ["n6", "n5", "n4", "n3", "n2", "n1"]);
    }

    #[test]
    fn pools_sort_by_percent_used() {
        // a: 10 of 256 (3.9%), b: 200 of 1024 (19.5%), c: 60 of 64 (93.8%).
        let pool = |name: &str, total: f64, in_use: u64| PoolUsage {
            name: name.to_string(),
            total,
            in_use,
            ..PoolUsage::default()
        };
        let model = IpamModel {
            pools: vec![
                pool("c", 64.0, 60),
                pool("a", 256.0, 10),
                pool("b", 1024.0, 200),
            ],
            ..IpamModel::default()
        };
        let percent = TableSort {
            column: 7,
            descending: true,
        };
        assert_eq!(names(&model, IpamTable::Pools, percent), ["c", "b", "a"]);
        // Free: a 246, b 824, c 4.
        let free = TableSort {
            column: 6,
            descending: false,
        };
        assert_eq!(names(&model, IpamTable::Pools, free), ["c", "a", "b"]);
        assert_eq!(IpamTable::Pools.cells(&model, 0)[7], "94%");
    }

    #[test]
    fn the_sort_key_cycles_through_every_column() {
        let mut sort = TableSort {
            column: 0,
            descending: true,
        };
        for expected in [1, 2, 3, 4, 5, 0] {
            sort = sort.next_column(IpamTable::Borrowed);
            assert_eq!((sort.column, sort.descending), (expected, false));
        }
    }
}
