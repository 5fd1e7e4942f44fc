//! The IPAM view: per IP pool, a map of the pool's address space as a grid of block slots —
//! coloured by the owner's OS and node pool, filled by usage (` ░▒▓█`), free slots shown as
//! `·`, borrowed (`*`) and orphaned (`?`) blocks marked by symbol as well as colour so the map
//! reads without colour — zoomable from one block per cell to the whole pool in one cell; the
//! selected cell's blocks and allocations; list tables (pools, nodes, borrowed addresses); and
//! the IPAM configuration with its findings beside it. Renders only from [`IpamView`], which is
//! computed once per snapshot revision. Owns layout and glyphs; must not compute IPAM, read
//! the cluster, or handle keys (the app maps keys to the [`IpamViewState`] methods).

mod panels;

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::model::ClusterSnapshot;
use crate::model::ipam::grid::{CellOwner, GridCell, PoolGrid};
use crate::model::ipam::tables::{IpamTable, TableSort, sorted_rows};
use crate::model::ipam::{IpamMap, IpamModel, OsFamily};
use crate::ui::theme::{Role, Theme};

/// Everything the view draws, computed once per snapshot revision (never in render).
#[derive(Debug, Clone, Default)]
pub struct IpamView {
    pub model: IpamModel,
    pub map: IpamMap,
}

impl IpamView {
    pub fn from_snapshot(snapshot: &ClusterSnapshot) -> Self {
        let model = IpamModel::from_snapshot(snapshot);
        let map = IpamMap::from_model(&model);
        Self { model, map }
    }
}

/// Map or one of the list tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IpamMode {
    #[default]
    Map,
    Pools,
    Nodes,
    Borrowed,
}

/// What the user is looking at. Keys change it through the methods below; nothing here
/// depends on the terminal size except through `render`'s area.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpamViewState {
    pub mode: IpamMode,
    /// Index into `IpamMap::pools`.
    pub pool: usize,
    /// Zoom level (index into `PoolGrid::levels`, 0 = one block per cell); `None` fits the
    /// whole pool into the map area.
    pub zoom: Option<usize>,
    /// Selected cell at the current zoom level.
    pub cursor: usize,
    /// The sort of each list table, in [`IpamTable::ALL`] order.
    pub sorts: [TableSort; 3],
    /// The current table's rows in sort order, computed when the sort or the snapshot changes
    /// ([`IpamViewState::refresh_order`]), never per frame.
    pub order: TableOrder,
}

/// A list table's rows in sort order, and the (table, sort) they were sorted for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableOrder {
    pub key: Option<(IpamTable, TableSort)>,
    pub rows: Vec<usize>,
}

/// The list table's rows as shown (sorted, then filtered) and the selected one, for
/// [`render`]; the map ignores it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListRows<'a> {
    pub rows: &'a [usize],
    pub selected: usize,
}

impl IpamMode {
    /// The list table this mode shows (`None` for the map).
    pub fn table(self) -> Option<IpamTable> {
        match self {
            IpamMode::Map => None,
            IpamMode::Pools => Some(IpamTable::Pools),
            IpamMode::Nodes => Some(IpamTable::Nodes),
            IpamMode::Borrowed => Some(IpamTable::Borrowed),
        }
    }
}

fn table_slot(table: IpamTable) -> usize {
    match table {
        IpamTable::Pools => 0,
        IpamTable::Nodes => 1,
        IpamTable::Borrowed => 2,
    }
}

impl IpamViewState {
    pub fn next_pool(&mut self, view: &IpamView) {
        if !view.map.pools.is_empty() {
            self.pool = (self.pool + 1) % view.map.pools.len();
            self.zoom = None;
            self.cursor = 0;
        }
    }

    /// Shows the map of the pool at `model_pool` (an index into `IpamModel::pools`).
    pub fn show_pool(&mut self, view: &IpamView, model_pool: usize) {
        if let Some(grid) = view.map.pools.iter().position(|g| g.pool == model_pool) {
            self.pool = grid;
            self.zoom = None;
            self.cursor = 0;
        }
        self.mode = IpamMode::Map;
    }

    /// One level finer (more, smaller cells), keeping the selected addresses in view.
    /// `fitted` is the level shown while no zoom was chosen ([`fitted_level`] of the map area).
    pub fn zoom_in(&mut self, fitted: usize) {
        let level = self.zoom.unwrap_or(fitted);
        if level > 0 {
            self.zoom = Some(level - 1);
            self.cursor *= 2;
        }
    }

    /// One level coarser.
    pub fn zoom_out(&mut self, view: &IpamView, fitted: usize) {
        let levels = view.map.pools.get(self.pool).map_or(1, |g| g.levels.len());
        let level = self.zoom.unwrap_or(fitted);
        if level + 1 < levels {
            self.zoom = Some(level + 1);
            self.cursor /= 2;
        }
    }

    /// Moves the cursor by `delta` cells within `cells`.
    pub fn move_cursor(&mut self, delta: isize, cells: usize) {
        let max = cells.saturating_sub(1);
        self.cursor = self.cursor.saturating_add_signed(delta).min(max);
    }

    /// Moves the cursor `rows` map rows up (negative) or down, `columns` cells per row
    /// ([`grid_columns`] of the level's cell count and the map width).
    pub fn move_rows(&mut self, rows: isize, columns: usize, cells: usize) {
        self.move_cursor(
            rows.saturating_mul(isize::try_from(columns).unwrap_or(isize::MAX)),
            cells,
        );
    }

    pub fn cycle_mode(&mut self) {
        self.mode = match self.mode {
            IpamMode::Map => IpamMode::Pools,
            IpamMode::Pools => IpamMode::Nodes,
            IpamMode::Nodes => IpamMode::Borrowed,
            IpamMode::Borrowed => IpamMode::Map,
        };
    }

    /// The sort of `table`.
    pub fn sort(&self, table: IpamTable) -> TableSort {
        self.sorts[table_slot(table)]
    }

    /// Sorts the current table by its next column (ascending); no-op on the map.
    pub fn sort_next_column(&mut self) {
        if let Some(table) = self.mode.table() {
            let slot = table_slot(table);
            self.sorts[slot] = self.sorts[slot].next_column(table);
        }
    }

    /// Reverses the current table's sort; no-op on the map.
    pub fn reverse_sort(&mut self) {
        if let Some(table) = self.mode.table() {
            let slot = table_slot(table);
            self.sorts[slot] = self.sorts[slot].reversed();
        }
    }

    /// Forgets the cached order (the model changed).
    pub fn invalidate_order(&mut self) {
        self.order = TableOrder::default();
    }

    /// Sorts the current table again if its sort or the model changed since the last time.
    pub fn refresh_order(&mut self, view: &IpamView) {
        let Some(table) = self.mode.table() else {
            return;
        };
        let key = (table, self.sort(table));
        if self.order.key != Some(key) {
            self.order = TableOrder {
                key: Some(key),
                rows: sorted_rows(&view.model, table, key.1),
            };
        }
    }

    /// The rows of `table` in sort order: the cached ones when they are current, else sorted
    /// now (only until the next [`IpamViewState::refresh_order`]).
    pub fn rows<'a>(&'a self, view: &IpamView, table: IpamTable) -> Cow<'a, [usize]> {
        let sort = self.sort(table);
        if self.order.key == Some((table, sort)) {
            Cow::Borrowed(&self.order.rows)
        } else {
            Cow::Owned(sorted_rows(&view.model, table, sort))
        }
    }
}

/// The styles the view uses, by role. The app builds it from its theme; [`IpamTheme::plain`]
/// is the `NO_COLOR` one.
#[derive(Debug, Clone, PartialEq)]
pub struct IpamTheme {
    /// Blocks of Linux node pools, one style per pool in turn.
    pub linux: Vec<Style>,
    /// Blocks of Windows node pools, one style per pool in turn.
    pub windows: Vec<Style>,
    pub other: Style,
    pub mixed: Style,
    pub free: Style,
    pub unowned: Style,
    pub borrowed: Style,
    pub selected: Style,
    pub title: Style,
    pub dim: Style,
    pub error: Style,
    pub warning: Style,
    pub info: Style,
    pub ok: Style,
}

impl Default for IpamTheme {
    fn default() -> Self {
        let fg = |c| Style::default().fg(c);
        Self {
            linux: vec![fg(Color::Green), fg(Color::Cyan), fg(Color::Blue)],
            windows: vec![
                fg(Color::Magenta),
                fg(Color::LightMagenta),
                fg(Color::LightBlue),
            ],
            other: fg(Color::White),
            mixed: fg(Color::Yellow),
            free: fg(Color::DarkGray),
            unowned: fg(Color::LightRed),
            borrowed: fg(Color::LightRed).add_modifier(Modifier::BOLD),
            selected: Style::default().add_modifier(Modifier::REVERSED),
            title: Style::default().add_modifier(Modifier::BOLD),
            dim: fg(Color::DarkGray),
            error: fg(Color::Red).add_modifier(Modifier::BOLD),
            warning: fg(Color::Yellow),
            info: fg(Color::Cyan),
            ok: fg(Color::Green),
        }
    }
}

impl IpamTheme {
    /// The view's styles from the console theme's roles; node pools of one OS are told apart
    /// by modifiers on the OS colour.
    pub fn from_theme(theme: &Theme) -> Self {
        let variants = |role: Role| {
            let base = theme.style(role);
            vec![
                base,
                base.add_modifier(Modifier::BOLD),
                base.add_modifier(Modifier::ITALIC),
            ]
        };
        Self {
            linux: variants(Role::Linux),
            windows: variants(Role::Windows),
            other: theme.style(Role::Text),
            mixed: theme.style(Role::Warning),
            free: theme.style(Role::Free),
            unowned: theme.style(Role::Orphaned),
            borrowed: theme.style(Role::Borrowed),
            selected: theme.style(Role::Selected),
            title: theme.style(Role::Title),
            dim: theme.style(Role::Muted),
            error: theme.style(Role::Error),
            warning: theme.style(Role::Warning),
            info: theme.style(Role::Info),
            ok: theme.style(Role::Ok),
        }
    }

    /// No colours at all (`NO_COLOR`): meaning is carried by glyphs and text.
    pub fn plain() -> Self {
        let none = Style::default();
        Self {
            linux: vec![none],
            windows: vec![none],
            other: none,
            mixed: none,
            free: none,
            unowned: none,
            borrowed: none.add_modifier(Modifier::BOLD),
            selected: none.add_modifier(Modifier::REVERSED),
            title: none.add_modifier(Modifier::BOLD),
            dim: none,
            error: none.add_modifier(Modifier::BOLD),
            warning: none,
            info: none,
            ok: none,
        }
    }

    /// The style of each owner group of `model`, in `model.owner_groups` order.
    fn group_styles(&self, model: &IpamModel) -> Vec<Style> {
        let (mut linux, mut windows) = (0usize, 0usize);
        model
            .owner_groups
            .iter()
            .map(|group| {
                let (palette, index) = match group.os {
                    OsFamily::Linux => (&self.linux, &mut linux),
                    OsFamily::Windows => (&self.windows, &mut windows),
                    OsFamily::Other => return self.other,
                };
                let style = palette
                    .get(*index % palette.len().max(1))
                    .copied()
                    .unwrap_or(self.other);
                *index += 1;
                style
            })
            .collect()
    }
}

/// The fill glyph of a cell: free `·`, then ` ░▒▓█`-style by usage; borrowed `*` and
/// orphaned `?` win so that they show without colour.
pub fn cell_glyph(cell: &GridCell) -> &'static str {
    if cell.is_free() {
        "·"
    } else if cell.orphaned {
        "?"
    } else if cell.borrowed {
        "*"
    } else if cell.usage < 0.25 {
        "░"
    } else if cell.usage < 0.5 {
        "▒"
    } else if cell.usage < 0.75 {
        "▓"
    } else {
        "█"
    }
}

fn cell_style(cell: &GridCell, groups: &[Style], theme: &IpamTheme) -> Style {
    if cell.borrowed {
        return theme.borrowed;
    }
    match cell.owner {
        CellOwner::Free => theme.free,
        CellOwner::Unowned => theme.unowned,
        CellOwner::Mixed => theme.mixed,
        CellOwner::Group(group) => groups.get(group).copied().unwrap_or(theme.other),
    }
}

/// Columns of the map at `cells` cells: a power of two, so that every row is an aligned
/// address range, about twice as wide as tall, and at most `width`.
pub fn grid_columns(cells: usize, width: usize) -> usize {
    let widest = if width == 0 {
        1
    } else {
        1usize << (usize::BITS - 1 - width.leading_zeros())
    };
    let mut squarish = 1usize;
    while squarish * squarish < cells.saturating_mul(2) {
        squarish *= 2;
    }
    widest.min(squarish).max(1)
}

/// The finest zoom level that shows the whole pool in a `width` x `height` map.
pub fn fitted_level(grid: &PoolGrid, width: u16, height: u16) -> usize {
    let height = usize::from(height).max(1);
    grid.levels
        .iter()
        .position(|level| {
            let cells = level.cells.len();
            cells <= grid_columns(cells, usize::from(width)) * height
        })
        .unwrap_or(grid.levels.len().saturating_sub(1))
}

/// The first address of map row `row` (the gutter label).
fn row_address(pool: ipnet::IpNet, row: usize, addresses_per_row: u128) -> String {
    let offset = u128::try_from(row)
        .unwrap_or(u128::MAX)
        .saturating_mul(addresses_per_row);
    match pool {
        ipnet::IpNet::V4(net) => {
            let base = u128::from(u32::from(net.network()));
            let address = u32::try_from(base.saturating_add(offset)).unwrap_or(u32::MAX);
            std::net::Ipv4Addr::from(address).to_string()
        }
        ipnet::IpNet::V6(net) => {
            std::net::Ipv6Addr::from(u128::from(net.network()).saturating_add(offset)).to_string()
        }
    }
}

fn split_side(area: Rect) -> [Rect; 2] {
    let side_width = if area.width >= 110 { 40 } else { 30 };
    Layout::horizontal([Constraint::Min(20), Constraint::Length(side_width)]).areas(area)
}

/// Where the map's parts go inside the map panel.
struct MapLayout {
    frame: Rect,
    details: Rect,
    status: Rect,
    gutter: Rect,
    cells: Rect,
}

fn map_layout(main: Rect, network: Option<ipnet::IpNet>) -> MapLayout {
    let details_height = (main.height / 3).clamp(5, 12);
    let [frame, details] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(details_height)]).areas(main);
    let inner = Block::default().borders(Borders::ALL).inner(frame);
    let [status, grid_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    let gutter = match network {
        Some(ipnet::IpNet::V4(_)) if grid_area.width >= 40 => 16,
        Some(ipnet::IpNet::V6(_)) if grid_area.width >= 72 => 40,
        _ => 0,
    };
    let [gutter, cells] =
        Layout::horizontal([Constraint::Length(gutter), Constraint::Min(1)]).areas(grid_area);
    MapLayout {
        frame,
        details,
        status,
        gutter,
        cells,
    }
}

/// The map's shape for key and mouse handling, computed as [`render`] lays it out in `area`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapGeometry {
    /// The zoom level that fits the whole pool (what `zoom: None` shows).
    pub fitted: usize,
    /// The level shown now.
    pub level: usize,
    /// Cells per map row at that level.
    pub columns: usize,
    /// Cells at that level.
    pub cells: usize,
    /// Where the cells are drawn.
    pub cells_area: Rect,
    /// The first map row shown (the map scrolls by whole rows to keep the cursor in view).
    pub first_row: usize,
}

impl MapGeometry {
    /// The cell drawn at terminal position (`x`, `y`), if any.
    pub fn cell_at(&self, x: u16, y: u16) -> Option<usize> {
        let area = self.cells_area;
        if x < area.x || y < area.y || x >= area.right() || y >= area.bottom() {
            return None;
        }
        let column = usize::from(x - area.x);
        let row = self.first_row + usize::from(y - area.y);
        if column >= self.columns {
            return None;
        }
        let cell = row * self.columns + column;
        (cell < self.cells).then_some(cell)
    }
}

/// Level, columns and first row of `grid` drawn into `cells_area` with `state`'s zoom and
/// cursor: the one computation both [`render`] and [`map_geometry`] use.
fn map_window(grid: &PoolGrid, cells_area: Rect, state: &IpamViewState) -> MapGeometry {
    let fitted = fitted_level(grid, cells_area.width, cells_area.height);
    let level = state
        .zoom
        .unwrap_or(fitted)
        .min(grid.levels.len().saturating_sub(1));
    let cells = grid.levels.get(level).map_or(0, |l| l.cells.len());
    let columns = grid_columns(cells, usize::from(cells_area.width));
    let rows_shown = usize::from(cells_area.height);
    let cursor = state.cursor.min(cells.saturating_sub(1));
    MapGeometry {
        fitted,
        level,
        columns,
        cells,
        cells_area,
        first_row: (cursor / columns).saturating_sub(rows_shown.saturating_sub(1)),
    }
}

/// The map geometry of the selected pool when the view is drawn into `area`; `None` without
/// a pool. Feed it to [`IpamViewState::zoom_in`], [`IpamViewState::move_rows`], ….
pub fn map_geometry(area: Rect, state: &IpamViewState, view: &IpamView) -> Option<MapGeometry> {
    let grid = view.map.pools.get(state.pool)?;
    let network = view.model.pools.get(grid.pool)?.network;
    let [main, _] = split_side(area);
    let cells_area = map_layout(main, network).cells;
    Some(map_window(grid, cells_area, state))
}

/// Draws the view into `area`: the map with the configuration and findings beside it, or a
/// list table over the whole width (`list` gives its rows and selection).
pub fn render(
    frame: &mut Frame<'_>,
    area: Rect,
    state: &IpamViewState,
    view: &IpamView,
    theme: &IpamTheme,
    list: ListRows<'_>,
) {
    match state.mode.table() {
        None => {
            let [main, side] = split_side(area);
            render_map(frame, main, state, view, theme);
            panels::render_side(frame, side, view, theme);
        }
        Some(table) => panels::render_list(frame, area, state, view, theme, table, list),
    }
}

// One drawing pass over the map (frame, status line, gutter, cells, details) reads best top to
// bottom; splitting it would pass the same seven values around.
#[allow(clippy::too_many_lines)]
fn render_map(
    frame: &mut Frame<'_>,
    area: Rect,
    state: &IpamViewState,
    view: &IpamView,
    theme: &IpamTheme,
) {
    let Some(grid) = view.map.pools.get(state.pool) else {
        let text = if view.model.pools.is_empty() {
            "No IP pools: Calico IPAM has nothing to show."
        } else {
            "No pool with a valid CIDR."
        };
        frame.render_widget(
            Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(" IPAM ")),
            area,
        );
        return;
    };
    let pool = &view.model.pools[grid.pool];
    let layout = map_layout(area, pool.network);
    let title = format!(
        " {} {} /{} {} {}{} ",
        pool.name,
        pool.network
            .map_or_else(|| pool.cidr.clone(), |n| n.to_string()),
        pool.block_size,
        pool.encapsulation.label(),
        pool.node_selector,
        if pool.disabled { " (disabled)" } else { "" }
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::styled(title, theme.title));
    frame.render_widget(block, layout.frame);
    let (status_area, gutter_area, cells_area) = (layout.status, layout.gutter, layout.cells);
    if cells_area.height == 0 || cells_area.width == 0 {
        return;
    }
    let window = map_window(grid, cells_area, state);
    let level_index = window.level;
    let level = &grid.levels[level_index];
    let per_cell = level.blocks_per_cell();
    let columns = window.columns;
    let rows_shown = usize::from(cells_area.height);
    let cursor = state.cursor.min(level.cells.len().saturating_sub(1));
    let first_row = window.first_row;
    let first = first_row * columns;
    let total_rows = level.cells.len().div_ceil(columns);
    let status = format!(
        "{} of {} blocks claimed · {} {} per cell · zoom {}/{}{}",
        pool.blocks.len(),
        pool.block_slots,
        per_cell,
        if per_cell == 1 { "block" } else { "blocks" },
        level_index,
        grid.levels.len() - 1,
        if total_rows > rows_shown {
            format!(
                " · rows {}-{} of {total_rows}",
                first_row + 1,
                (first_row + rows_shown).min(total_rows)
            )
        } else {
            String::new()
        }
    );
    frame.render_widget(Paragraph::new(Line::styled(status, theme.dim)), status_area);

    let groups = theme.group_styles(&view.model);
    let addresses_per_row = u128::try_from(columns)
        .unwrap_or(u128::MAX)
        .saturating_mul(per_cell)
        .saturating_mul(u128::from(grid.block_capacity));
    let buffer = frame.buffer_mut();
    if let (Some(network), true) = (pool.network, gutter_area.width > 0) {
        for row in 0..rows_shown.min(total_rows.saturating_sub(first_row)) {
            let y = gutter_area.y + u16::try_from(row).unwrap_or(0);
            buffer.set_string(
                gutter_area.x,
                y,
                row_address(network, first_row + row, addresses_per_row),
                theme.dim,
            );
        }
    }
    for (offset, cell) in level
        .cells
        .iter()
        .enumerate()
        .skip(first)
        .take(columns * rows_shown)
    {
        let position = offset - first;
        let x = cells_area.x + u16::try_from(position % columns).unwrap_or(0);
        let y = cells_area.y + u16::try_from(position / columns).unwrap_or(0);
        let mut style = cell_style(cell, &groups, theme);
        if offset == cursor {
            style = style.patch(theme.selected);
        }
        buffer.set_string(x, y, cell_glyph(cell), style);
    }
    panels::render_details(
        frame,
        layout.details,
        view,
        grid,
        level_index,
        cursor,
        theme,
    );
}

/// A one-line legend of glyphs, for the footer or help.
pub fn legend(theme: &IpamTheme) -> Line<'static> {
    Line::from(vec![
        Span::styled("· free ", theme.free),
        Span::raw("░▒▓█ usage "),
        Span::styled("* borrowed ", theme.borrowed),
        Span::styled("? orphaned", theme.unowned),
    ])
}

#[cfg(test)]
mod tests;
