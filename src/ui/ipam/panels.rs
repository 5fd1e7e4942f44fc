//! The IPAM view's panels beside and below the map: the selected cell's blocks and
//! allocations, the list tables (pools, nodes, borrowed addresses), and the configuration
//! with its findings. Reads only the precomputed [`IpamView`].

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};

use super::{IpamMode, IpamTheme, IpamView, IpamViewState};
use crate::model::ipam::grid::PoolGrid;
use crate::model::ipam::{AllocationKind, BlockUsage, IpamModel, Severity};

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".to_string();
    }
    format!("{:.0}%", part as f64 * 100.0 / whole as f64)
}

fn owner_line(block: &BlockUsage) -> String {
    let owner = match (&block.owner, block.owner_missing) {
        (crate::model::ipam::BlockOwner::None, _) => "no owner (orphaned)".to_string(),
        (_, true) => format!("{} (node gone)", block.owner_label),
        _ => format!(
            "{} ({}, {})",
            block.owner_label,
            block.owner_pool.as_deref().unwrap_or("?"),
            block.owner_os.map_or("?", |os| os.as_str())
        ),
    };
    format!("Block {} · owner {owner}", block.cidr)
}

pub(super) fn render_details(
    frame: &mut Frame<'_>,
    area: Rect,
    view: &IpamView,
    grid: &PoolGrid,
    level: usize,
    cursor: usize,
    theme: &IpamTheme,
) {
    let block_frame = Block::default()
        .borders(Borders::ALL)
        .title(Line::styled(" Selected ", theme.title));
    let inner = block_frame.inner(area);
    frame.render_widget(block_frame, area);
    let blocks = grid.blocks_in_cell(level, cursor);
    let cell = grid.levels.get(level).and_then(|l| l.cells.get(cursor));
    let per_cell = grid
        .levels
        .get(level)
        .map_or(1, crate::model::ipam::grid::GridLevel::blocks_per_cell);
    match blocks {
        [] => {
            let text = format!(
                "Free: {per_cell} block slot(s) of {} addresses, none claimed",
                grid.block_capacity
            );
            frame.render_widget(Paragraph::new(Line::styled(text, theme.dim)), inner);
        }
        [(_, index)] => {
            let block = &view.model.blocks[*index];
            render_block(frame, inner, block, theme);
        }
        many => {
            let claimed = u64::try_from(many.len()).unwrap_or(u64::MAX);
            let in_use = cell.map_or(0, |c| c.in_use);
            let capacity = claimed * grid.block_capacity;
            let first = &view.model.blocks[many[0].1];
            let last = &view.model.blocks[many[many.len() - 1].1];
            let lines = vec![
                Line::from(format!(
                    "{claimed} of {per_cell} slots claimed · {} … {}",
                    first.cidr, last.cidr
                )),
                Line::from(format!(
                    "in use {in_use} of {capacity} ({}) · zoom in to pick one block",
                    percent(in_use, capacity)
                )),
                Line::from(cell.map_or(String::new(), |c| {
                    let mut flags = Vec::new();
                    if c.borrowed {
                        flags.push("* lends addresses");
                    }
                    if c.orphaned {
                        flags.push("? orphaned blocks");
                    }
                    flags.join(" · ")
                })),
            ];
            frame.render_widget(Paragraph::new(lines), inner);
        }
    }
}

fn render_block(frame: &mut Frame<'_>, area: Rect, block: &BlockUsage, theme: &IpamTheme) {
    let mut lines = vec![
        Line::styled(owner_line(block), theme.title),
        Line::from(format!(
            "in use {}/{} ({}) · free {} · windows-reserved {} · tunnel {} · borrowed {}",
            block.in_use,
            block.capacity,
            percent(block.in_use, block.capacity),
            block.free(),
            block.windows_reserved,
            block.tunnel_addresses,
            block.borrowed
        )),
    ];
    let room = usize::from(area.height).saturating_sub(lines.len());
    let shown: Vec<_> = block
        .allocations
        .iter()
        .filter(|a| a.kind != AllocationKind::WindowsReserved)
        .collect();
    for allocation in shown.iter().take(room) {
        let what = match &allocation.kind {
            AllocationKind::Pod | AllocationKind::Vmi => format!(
                "{}/{}",
                block.namespace_of(allocation).unwrap_or(""),
                block.pod_of(allocation).unwrap_or("")
            ),
            AllocationKind::Tunnel(kind) => kind.clone(),
            AllocationKind::WindowsReserved => String::new(),
            AllocationKind::Other(text) => text.clone(),
        };
        let mark = if allocation.borrowed { "*" } else { " " };
        let style = if allocation.borrowed {
            theme.borrowed
        } else {
            ratatui::style::Style::default()
        };
        lines.push(Line::styled(
            format!(
                "{mark}{:<15} {:<32} {:<20} {}",
                allocation.ip_text(),
                what,
                block.node_of(allocation).unwrap_or("-"),
                block.handle(allocation).unwrap_or("-")
            ),
            style,
        ));
    }
    if shown.len() > room && room > 0 {
        lines.pop();
        lines.push(Line::styled(
            format!("… {} more allocations (list view)", shown.len() - room + 1),
            theme.dim,
        ));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

pub(super) fn render_list(
    frame: &mut Frame<'_>,
    area: Rect,
    state: &IpamViewState,
    view: &IpamView,
    theme: &IpamTheme,
) {
    let (title, header, widths, rows) = list_contents(state.mode, area.width, &view.model);
    let count = rows.len();
    let table = Table::new(
        rows.into_iter()
            .skip(state.list_offset)
            .map(|cells| Row::new(cells.into_iter().map(Cell::from))),
        widths,
    )
    .header(Row::new(header).style(theme.title))
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(Line::styled(format!("{title}({count}) "), theme.title)),
    );
    frame.render_widget(table, area);
}

type ListContents = (
    &'static str,
    Vec<&'static str>,
    Vec<Constraint>,
    Vec<Vec<String>>,
);

/// Title, header, column widths and rows of a list table.
fn list_contents(mode: IpamMode, width: u16, model: &IpamModel) -> ListContents {
    match mode {
        IpamMode::Map | IpamMode::Pools => (
            " IP pools ",
            vec!["POOL", "CIDR", "BLOCK", "ENCAP", "BLOCKS", "IN USE", "FREE"],
            vec![
                Constraint::Min(12),
                Constraint::Length(18),
                Constraint::Length(5),
                Constraint::Length(8),
                Constraint::Length(10),
                Constraint::Length(8),
                Constraint::Length(10),
            ],
            model.pools.iter().map(pool_row).collect(),
        ),
        IpamMode::Nodes => (
            " Nodes ",
            vec![
                "NODE", "OS", "POOL", "BLOCKS", "IN USE", "FREE", "BORROWS", "LENDS",
            ],
            vec![
                Constraint::Min(16),
                Constraint::Length(7),
                Constraint::Length(10),
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(6),
            ],
            model.nodes.iter().map(node_row).collect(),
        ),
        IpamMode::Borrowed if width < 70 => (
            " Borrowed addresses ",
            vec!["IP", "BORROWING-NODE", "ALLOCATED-TO"],
            vec![
                Constraint::Length(15),
                Constraint::Fill(1),
                Constraint::Fill(1),
            ],
            model
                .borrowed
                .iter()
                .map(|r| {
                    vec![
                        r.ip.clone(),
                        r.borrowing_node.clone(),
                        r.allocated_to.clone(),
                    ]
                })
                .collect(),
        ),
        IpamMode::Borrowed => (
            " Borrowed addresses ",
            vec![
                "IP",
                "BORROWING-NODE",
                "BLOCK",
                "BLOCK OWNER",
                "TYPE",
                "ALLOCATED-TO",
            ],
            vec![
                Constraint::Length(15),
                Constraint::Fill(2),
                Constraint::Length(18),
                Constraint::Fill(2),
                Constraint::Length(5),
                Constraint::Fill(3),
            ],
            model
                .borrowed
                .iter()
                .map(|r| {
                    vec![
                        r.ip.clone(),
                        r.borrowing_node.clone(),
                        r.block.clone(),
                        r.block_owner.clone(),
                        r.kind.clone(),
                        r.allocated_to.clone(),
                    ]
                })
                .collect(),
        ),
    }
}

fn node_row(n: &crate::model::ipam::NodeIpam) -> Vec<String> {
    vec![
        n.node.clone(),
        n.os.map_or("?", |os| os.as_str()).to_string(),
        n.pool.clone().unwrap_or_else(|| "-".to_string()),
        format!("{}/{}", n.blocks.len(), n.block_cap),
        n.in_use.to_string(),
        n.free().to_string(),
        n.borrowing.to_string(),
        n.lent.to_string(),
    ]
}

fn pool_row(pool: &crate::model::ipam::PoolUsage) -> Vec<String> {
    let total = pool.total;
    vec![
        format!("{}{}", pool.name, if pool.disabled { " (off)" } else { "" }),
        pool.network
            .map_or_else(|| pool.cidr.clone(), |n| n.to_string()),
        format!("/{}", pool.block_size),
        pool.encapsulation.label().to_string(),
        format!("{}/{}", pool.blocks.len(), pool.block_slots),
        pool.in_use.to_string(),
        crate::model::ipam::go_format::go_g5(total - pool.in_use as f64),
    ]
}

fn severity_style(severity: Severity, theme: &IpamTheme) -> (&'static str, ratatui::style::Style) {
    match severity {
        Severity::Error => ("E", theme.error),
        Severity::Warning => ("W", theme.warning),
        Severity::Info => ("I", theme.info),
        Severity::Ok => ("✓", theme.ok),
    }
}

pub(super) fn render_side(frame: &mut Frame<'_>, area: Rect, view: &IpamView, theme: &IpamTheme) {
    let model: &IpamModel = &view.model;
    let config = &model.config;
    let strict_style = if config.spec.strict_affinity {
        theme.ok
    } else {
        theme.warning
    };
    let mut lines = vec![
        Line::styled("Configuration", theme.title),
        Line::from(vec![
            Span::raw("strictAffinity     "),
            Span::styled(config.spec.strict_affinity.to_string(), strict_style),
        ]),
        Line::from(format!(
            "autoAllocateBlocks {}",
            config.spec.auto_allocate_blocks
        )),
        Line::from(format!("maxBlocksPerHost   {}", config.max_blocks_label())),
        Line::styled(config.source_label(), theme.dim),
        Line::from(""),
    ];
    let errors = model
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    lines.push(Line::styled(
        format!("Findings ({}, {errors} errors)", model.findings.len()),
        theme.title,
    ));
    if model.findings.is_empty() {
        lines.push(Line::styled("✓ nothing to report", theme.ok));
    }
    for finding in &model.findings {
        let (mark, style) = severity_style(finding.severity, theme);
        lines.push(Line::from(vec![
            Span::styled(format!("{mark} "), style),
            Span::raw(finding.message.clone()),
        ]));
    }
    let panel = Paragraph::new(lines).wrap(Wrap { trim: true }).block(
        Block::default()
            .borders(Borders::ALL)
            .title(Line::styled(" IPAM ", theme.title)),
    );
    frame.render_widget(panel, area);
}
