//! The IPAM view's panels beside and below the map: the selected cell's blocks and
//! allocations, the sortable list tables (pools, nodes, borrowed addresses; their contents and
//! order come from `model::ipam::tables`, sorted before drawing), and the configuration with
//! its findings. Reads only the precomputed [`IpamView`].

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{IpamTheme, IpamView, IpamViewState, ListRows};
use crate::model::ipam::grid::PoolGrid;
use crate::model::ipam::tables::IpamTable;
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

/// Column widths of a list table: the full titles when `wide`, else the short ones that fit
/// 80 columns. Every width leaves room for the sort mark (` ▲`).
fn widths(table: IpamTable, wide: bool) -> Vec<Constraint> {
    use Constraint::{Fill, Length, Min};
    match (table, wide) {
        (IpamTable::Pools, true) => vec![
            Min(12),
            Length(20),
            Length(7),
            Length(11),
            Length(10),
            Length(9),
            Length(10),
            Length(5),
        ],
        (IpamTable::Pools, false) => vec![
            Min(10),
            Length(16),
            Length(5),
            Length(9),
            Length(7),
            Length(7),
            Length(7),
            Length(5),
        ],
        (IpamTable::Nodes, true) => vec![
            Min(20),
            Length(9),
            Length(12),
            Length(8),
            Length(10),
            Length(8),
            Length(10),
            Length(6),
            Length(8),
        ],
        (IpamTable::Nodes, false) => vec![
            Min(16),
            Length(7),
            Length(8),
            Length(5),
            Length(5),
            Length(6),
            Length(6),
            Length(6),
            Length(6),
        ],
        (IpamTable::Borrowed, true) => {
            vec![Length(17), Length(20), Fill(2), Fill(2), Fill(3), Fill(3)]
        }
        (IpamTable::Borrowed, false) => {
            vec![Length(15), Length(18), Fill(1), Fill(1), Fill(1), Fill(1)]
        }
    }
}

/// Whether a list table of `area` uses the full column titles.
fn wide(area: Rect) -> bool {
    area.width >= 100
}

/// A list table: the header marks the sorted column (▲ ascending, ▼ descending, so the
/// direction reads without colour), the title names it; only the rows in view are built.
pub(super) fn render_list(
    frame: &mut Frame<'_>,
    area: Rect,
    state: &IpamViewState,
    view: &IpamView,
    theme: &IpamTheme,
    table: IpamTable,
    list: ListRows<'_>,
) {
    let wide = wide(area);
    let sort = state.sort(table);
    let arrow = if sort.descending { "▼" } else { "▲" };
    let columns = table.columns();
    let header = columns.iter().enumerate().map(|(index, column)| {
        let title = if wide { column.title } else { column.short };
        if index == sort.column {
            Cell::from(Span::styled(format!("{title} {arrow}"), theme.title))
        } else {
            Cell::from(title)
        }
    });
    let sorted_by = columns.get(sort.column).map_or("", |c| c.title);
    let count = list.rows.len();
    let total = table.len(&view.model);
    let shown = if count == total {
        count.to_string()
    } else {
        format!("{count} of {total}")
    };
    let title = format!(
        " {} ({shown}) · sorted by {sorted_by} {arrow} ",
        table.title()
    );
    let selected = list.selected.min(count.saturating_sub(1));
    let window = crate::ui::table_window(area, selected);
    let rows: Vec<Row> = list
        .rows
        .iter()
        .skip(window.first)
        .take(window.visible)
        .map(|&row| {
            // A node that borrows stands out (bold without colour); its BORROWED count says why.
            let borrows = table == IpamTable::Nodes
                && view.model.nodes.get(row).is_some_and(|n| n.borrowing > 0);
            let style = if borrows {
                theme.borrowed
            } else {
                ratatui::style::Style::default()
            };
            let cells = table.cells(&view.model, row);
            Row::new(cells.into_iter().map(Cell::from)).style(style)
        })
        .collect();
    let widget = Table::new(rows, widths(table, wide))
        .header(Row::new(header).style(theme.title))
        .row_highlight_style(theme.selected)
        .highlight_symbol("▶")
        .column_spacing(1)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(Line::styled(title, theme.title)),
        );
    let mut table_state = TableState::default();
    if count > 0 {
        table_state.select(Some(selected - window.first));
    }
    frame.render_stateful_widget(widget, area, &mut table_state);
    if count == 0 && area.height > 3 {
        let text = if total == 0 {
            "nothing to show"
        } else {
            "no row matches the filter"
        };
        frame.render_widget(
            Paragraph::new(Line::styled(text, theme.dim)),
            Rect {
                x: area.x + 2,
                y: area.y + 2,
                width: area.width.saturating_sub(4),
                height: 1,
            },
        );
    }
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
