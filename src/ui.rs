//! Rendering only: `render(frame, &State, &Theme)` draws the header (context, source, Calico API
//! mode, freshness), the current view, and the footer (hints from the keymap, the command line,
//! messages), with the help overlay on top. Everything drawn is read from precomputed state;
//! nothing here does I/O or recomputes the model.
//!
//! Must not use: tokio, kube, I/O of any kind.

pub mod ipam;
pub mod theme;
mod views;

pub use views::list_area;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::app::state::{Mode, State};
use crate::app::update::candidates;
use crate::model::{FeedState, Kind, SourceKind};

pub use theme::{Role, Theme};

/// Draws the whole console.
pub fn render(frame: &mut Frame, state: &State, theme: &Theme) {
    let area = frame.area();
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(frame, header, state, theme);
    views::render_body(frame, body, state, theme);
    render_footer(frame, footer, state, theme);
    if state.mode == Mode::Help {
        render_help(frame, body, state, theme);
    }
    if state.mode == Mode::Command {
        render_completions(frame, body, state, theme);
    }
    if matches!(state.mode, Mode::Confirm | Mode::Override) {
        render_pending(frame, body, state, theme);
    }
}

/// The body's area for a frame of `area` (between the header and the footer).
pub fn body_area(area: Rect) -> Rect {
    Rect {
        x: area.x,
        y: area.y + 2,
        width: area.width,
        height: area.height.saturating_sub(3),
    }
}

/// Where a bordered table with a one-line header draws its rows, with the selection kept in
/// view exactly as ratatui's `Table` scrolls from offset 0: renderers pass `first` as the
/// table's offset and the mouse maps a click back to a row with [`TableWindow::row_at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableWindow {
    /// Inside the border.
    pub inner: Rect,
    /// Rows that fit under the header.
    pub visible: usize,
    /// The first row shown.
    pub first: usize,
}

impl TableWindow {
    /// The row (index into the table's rows, `len` of them) drawn at (`x`, `y`); the header
    /// and the border are no row.
    pub fn row_at(&self, x: u16, y: u16, len: usize) -> Option<usize> {
        let top = self.inner.y + 1;
        if x < self.inner.x || x >= self.inner.right() || y < top || y >= self.inner.bottom() {
            return None;
        }
        let row = self.first + usize::from(y - top);
        (row < len && row < self.first + self.visible).then_some(row)
    }
}

/// The [`TableWindow`] of a table drawn into `area` with row `selected` selected.
pub fn table_window(area: Rect, selected: usize) -> TableWindow {
    let inner = Block::default().borders(Borders::ALL).inner(area);
    let visible = usize::from(inner.height.saturating_sub(1));
    TableWindow {
        inner,
        visible,
        first: selected.saturating_sub(visible.saturating_sub(1)),
    }
}

/// Rows of the body that show list items (used for paging).
pub fn page_rows(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(8)).max(1)
}

fn render_header(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let source = &state.snapshot.source;
    let mut first = Vec::new();
    first.push(Span::styled(" pooltop ", theme.style(Role::Title)));
    match source.kind {
        SourceKind::Simulated => {
            first.push(Span::styled(
                " SIMULATED CLUSTER ",
                theme.style(Role::Simulated),
            ));
        }
        SourceKind::Replay => first.push(Span::styled(" REPLAY ", theme.style(Role::Simulated))),
        SourceKind::Live => {}
    }
    first.push(Span::styled(
        format!(" ctx {} ", source.context),
        theme.style(Role::Header),
    ));
    first.push(Span::styled(
        source.server.clone(),
        theme.style(Role::Muted),
    ));
    if let Some(version) = &source.server_version {
        first.push(Span::styled(
            format!(" {version}"),
            theme.style(Role::Muted),
        ));
    }
    if source.readonly {
        first.push(Span::styled(" [read-only]", theme.style(Role::Warning)));
    }
    let view = state.screen().view.title();
    let second = vec![
        Span::styled(format!(" {view} "), theme.style(Role::Title)),
        Span::styled(" │ ", theme.style(Role::Border)),
        Span::styled(
            state.snapshot.calico_api.describe().to_string(),
            theme.style(Role::Text),
        ),
        Span::styled(" │ ", theme.style(Role::Border)),
        freshness(state, theme),
    ];
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

/// One span summarising the feeds: "live", or what is not.
fn freshness<'a>(state: &State, theme: &Theme) -> Span<'a> {
    let snapshot = &state.snapshot;
    let mut loading = 0;
    let mut reconnecting = Vec::new();
    let mut forbidden = Vec::new();
    for kind in Kind::ALL {
        match snapshot.feed(kind).state {
            FeedState::Loading => loading += 1,
            FeedState::Reconnecting { .. } => reconnecting.push(kind.resource()),
            FeedState::Forbidden { verb, resource } => forbidden.push(format!("{verb} {resource}")),
            FeedState::Live | FeedState::NotInstalled => {}
        }
    }
    if !reconnecting.is_empty() {
        Span::styled(
            format!("⟳ reconnecting: {}", reconnecting.join(", ")),
            theme.style(Role::Error),
        )
    } else if !forbidden.is_empty() {
        Span::styled(
            format!("✖ forbidden: {}", forbidden.join(", ")),
            theme.style(Role::Warning),
        )
    } else if loading > 0 {
        Span::styled(
            format!("… loading {loading} kinds"),
            theme.style(Role::Info),
        )
    } else {
        Span::styled(
            format!("● live, rev {}", snapshot.revision),
            theme.style(Role::Ok),
        )
    }
}

fn render_footer(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let line = match state.mode {
        Mode::Command => Line::from(vec![
            Span::styled(":", theme.style(Role::Key)),
            Span::styled(state.input.value().to_string(), theme.style(Role::Text)),
            Span::styled("▏", theme.style(Role::Key)),
        ]),
        Mode::Confirm => Line::from(vec![
            Span::styled("y", theme.style(Role::Key)),
            Span::styled(" apply  ", theme.style(Role::Muted)),
            Span::styled("esc", theme.style(Role::Key)),
            Span::styled(" cancel", theme.style(Role::Muted)),
        ]),
        Mode::Override => Line::from(vec![
            Span::styled("context name: ", theme.style(Role::Warning)),
            Span::styled(state.input.value().to_string(), theme.style(Role::Text)),
            Span::styled("▏ enter confirm · esc cancel", theme.style(Role::Muted)),
        ]),
        Mode::Filter => Line::from(vec![
            Span::styled("/", theme.style(Role::Key)),
            Span::styled(state.input.value().to_string(), theme.style(Role::Text)),
            Span::styled("▏ enter keep · esc clear", theme.style(Role::Muted)),
        ]),
        Mode::Normal | Mode::Help => {
            if let Some(message) = &state.message {
                Line::from(Span::styled(message.clone(), theme.style(Role::Info)))
            } else {
                let mut spans = Vec::new();
                let filter = &state.screen().filter;
                if !filter.is_empty() {
                    spans.push(Span::styled(
                        format!("/{filter} "),
                        theme.style(Role::Warning),
                    ));
                }
                for (key, word) in state.keymap.hints() {
                    spans.push(Span::styled(key, theme.style(Role::Key)));
                    spans.push(Span::styled(format!(" {word}  "), theme.style(Role::Muted)));
                }
                Line::from(spans)
            }
        }
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn render_help(frame: &mut Frame, body: Rect, state: &State, theme: &Theme) {
    let help = state.keymap.help();
    let fits = usize::from(body.height.saturating_sub(2));
    // At 80x24 the list is longer than the screen: two columns side by side.
    let columns: usize = if help.len() > fits && body.width >= 60 {
        2
    } else {
        1
    };
    let per_column = help.len().div_ceil(columns);
    let width = if columns == 2 {
        body.width
    } else {
        body.width.min(72)
    };
    let height = body
        .height
        .min(u16::try_from(per_column + 2).unwrap_or(u16::MAX));
    let area = Rect {
        x: body.x + (body.width - width) / 2,
        y: body.y,
        width,
        height,
    };
    let key_width = if columns == 2 { 12 } else { 16 };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Role::Border))
        .title(Span::styled(
            " keys (any key closes) ",
            theme.style(Role::Title),
        ));
    let inner = block.inner(area);
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    let constraints = vec![Constraint::Ratio(1, u32::try_from(columns).unwrap_or(1)); columns];
    let areas = Layout::horizontal(constraints).split(inner);
    for (chunk, column_area) in help.chunks(per_column.max(1)).zip(areas.iter()) {
        let lines: Vec<Line> = chunk
            .iter()
            .map(|(keys, description)| {
                Line::from(vec![
                    Span::styled(format!("{keys:>key_width$} "), theme.style(Role::Key)),
                    Span::styled(*description, theme.style(Role::Text)),
                ])
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), *column_area);
    }
}

/// The preview of a planned change, or the refusal the user may override.
fn render_pending(frame: &mut Frame, body: Rect, state: &State, theme: &Theme) {
    use crate::app::state::Pending;
    let (title, lines): (&str, Vec<Line>) = match &state.pending {
        Some(Pending::StrictAffinity(plan)) => (
            "preview — y applies (server dry run first), esc cancels",
            plan.preview
                .iter()
                .map(|line| Line::from(Span::styled(line.clone(), theme.style(Role::Text))))
                .collect(),
        ),
        Some(Pending::StrictAffinityOverride { reason, .. }) => (
            "refused — type the context name to override, esc cancels",
            vec![Line::from(Span::styled(
                reason.clone(),
                theme.style(Role::Error),
            ))],
        ),
        None => return,
    };
    let width = body.width.saturating_sub(4).max(20).min(body.width);
    let area = Rect {
        x: body.x + (body.width - width) / 2,
        y: body.y + 1,
        width,
        height: body.height.saturating_sub(2).max(3).min(body.height),
    };
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel(title, theme)),
        area,
    );
}

fn render_completions(frame: &mut Frame, body: Rect, state: &State, theme: &Theme) {
    let options = candidates(state, state.input.value());
    if options.is_empty() || body.height < 3 {
        return;
    }
    let shown = options.len().min(usize::from(body.height - 2));
    let height = u16::try_from(shown).unwrap_or(1) + 2;
    let area = Rect {
        x: body.x,
        y: body.y + body.height - height,
        width: body.width.min(40),
        height,
    };
    let lines: Vec<Line> = options
        .into_iter()
        .take(shown)
        .map(|option| Line::from(Span::styled(option, theme.style(Role::Text))))
        .collect();
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.style(Role::Border))
                .title(Span::styled(" tab completes ", theme.style(Role::Muted))),
        ),
        area,
    );
}

/// A bordered block with a title, in theme colours.
fn panel<'a>(title: &str, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Role::Border))
        .title(Span::styled(format!(" {title} "), theme.style(Role::Title)))
}
