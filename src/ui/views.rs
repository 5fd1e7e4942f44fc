//! The body of each view: pools, nodes, node detail, rollout, findings, IPAM. Tables degrade
//! at 80 columns by giving the last, free-text column whatever room is left.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use crate::app::state::{Item, State, View};
use crate::model::findings::Severity;
use crate::model::pools::OsFamily;

use super::{Role, Theme, panel};

pub fn render_body(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    match &state.screen().view {
        View::Pools => pools(frame, area, state, theme),
        View::Nodes { .. } => nodes(frame, area, state, theme),
        View::Node { name } => node(frame, area, state, theme, name),
        View::Rollout => rollout(frame, area, state, theme),
        View::Findings => findings(frame, area, state, theme),
        View::Ipam => ipam(frame, area, state, theme),
    }
}

/// Symbol and role for a severity: the symbol carries the meaning without colour.
pub fn severity_mark(severity: Severity) -> (&'static str, Role) {
    match severity {
        Severity::Error => ("✖", Role::Error),
        Severity::Warning => ("▲", Role::Warning),
        Severity::Info => ("i", Role::Info),
        Severity::Ok => ("✔", Role::Ok),
    }
}

fn os_role(os: OsFamily) -> Role {
    match os {
        OsFamily::Windows => Role::Windows,
        OsFamily::Linux => Role::Linux,
        OsFamily::Other => Role::Text,
    }
}

fn mark_cell<'a>(severity: Severity, theme: &Theme) -> Cell<'a> {
    let (symbol, role) = severity_mark(severity);
    Cell::from(Span::styled(symbol, theme.style(role)))
}

/// A selectable table: the header, the rows, and the cursor.
// Each argument is one visible part of the table; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
fn table<'a, T>(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    header: &[&'a str],
    widths: &[Constraint],
    items: &[T],
    row: impl Fn(&T) -> Row<'a>,
    selected: usize,
    theme: &Theme,
) {
    let count = items.len();
    let header = Row::new(header.iter().map(|h| Cell::from(*h))).style(theme.style(Role::Header));
    let empty = count == 0;
    // Only the rows in the window are built: the nodes of a 5,000-node cluster would take tens
    // of milliseconds a frame otherwise.
    let mut table_state = TableState::default();
    let mut rows = Vec::new();
    if !empty {
        let selected = selected.min(count - 1);
        let window = super::table_window(area, selected);
        let last = (window.first + window.visible.max(1)).min(count);
        rows.extend(items[window.first..last].iter().map(&row));
        table_state = table_state.with_selected(Some(selected - window.first));
    }
    let widget = Table::new(rows, widths.to_vec())
        .header(header)
        .block(panel(&format!("{title} ({count})"), theme))
        .row_highlight_style(theme.style(Role::Selected))
        .highlight_symbol("▶")
        .column_spacing(1);
    frame.render_stateful_widget(widget, area, &mut table_state);
    if empty {
        let inner = Rect {
            x: area.x + 2,
            y: area.y + 2,
            width: area.width.saturating_sub(4),
            height: 1,
        };
        if area.height > 3 {
            frame.render_widget(
                Paragraph::new(Span::styled("nothing to show", theme.style(Role::Muted))),
                inner,
            );
        }
    }
}

fn pools(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let d = &state.derived;
    let rows: Vec<_> = state
        .items()
        .into_iter()
        .filter_map(|item| match item {
            Item::Pool(i) => d.pools.get(i),
            _ => None,
        })
        .collect();
    table(
        frame,
        area,
        "node pools",
        &[
            "", "POOL", "OS", "READY", "CORDON", "KUBELET", "RUNTIME", "PODS", "CALICO", "PROBLEMS",
        ],
        &[
            Constraint::Length(1),
            Constraint::Length(12),
            Constraint::Length(13),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(9),
            Constraint::Length(18),
            Constraint::Length(11),
            Constraint::Length(30),
            Constraint::Fill(1),
        ],
        &rows,
        |pool| {
            let os = if pool.windows_build.is_empty() {
                pool.key.os.as_str().to_string()
            } else {
                format!("{} {}", pool.key.os.as_str(), pool.windows_build)
            };
            Row::new(vec![
                mark_cell(pool.severity, theme),
                Cell::from(pool.key.name.clone()),
                Cell::from(Span::styled(os, theme.style(os_role(pool.key.os)))),
                Cell::from(format!("{}/{}", pool.ready, pool.node_count())),
                Cell::from(if pool.cordoned > 0 {
                    Span::styled(pool.cordoned.to_string(), theme.style(Role::Warning))
                } else {
                    Span::raw("0")
                }),
                Cell::from(pool.kubelet.display()),
                Cell::from(pool.runtime.display()),
                Cell::from(format!(
                    "{}/{}",
                    pool.workloads.running,
                    pool.workloads.running + pool.workloads.pending + pool.workloads.failed
                )),
                Cell::from(pool.calico.text.clone()),
                Cell::from(Span::styled(
                    pool.problems.join("; "),
                    theme.style(severity_mark(pool.severity).1),
                )),
            ])
        },
        state.screen().selected,
        theme,
    );
}

fn nodes(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let d = &state.derived;
    let rows: Vec<_> = state
        .items()
        .into_iter()
        .filter_map(|item| match item {
            Item::Node(i) => d.nodes.get(i),
            _ => None,
        })
        .collect();
    table(
        frame,
        area,
        &state.screen().view.title(),
        &[
            "", "NAME", "STATUS", "OS", "AGE", "VERSION", "PODS", "CALICO", "RUNTIME", "IP",
        ],
        &[
            Constraint::Length(1),
            Constraint::Length(20),
            Constraint::Length(12),
            Constraint::Length(7),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Length(4),
            Constraint::Length(24),
            Constraint::Length(20),
            Constraint::Fill(1),
        ],
        &rows,
        |node| {
            let status_role = match node.ready {
                Some(true) if !node.cordoned => Role::Ok,
                Some(true) => Role::Warning,
                _ => Role::Error,
            };
            let calico_role = match node.calico_ready {
                Some(true) => Role::Ok,
                Some(false) => Role::Error,
                None => Role::Muted,
            };
            Row::new(vec![
                mark_cell(node.severity, theme),
                Cell::from(node.name.clone()),
                Cell::from(Span::styled(node.status.clone(), theme.style(status_role))),
                Cell::from(Span::styled(
                    node.pool.os.as_str(),
                    theme.style(os_role(node.pool.os)),
                )),
                Cell::from(node.age.clone()),
                Cell::from(node.kubelet_version.clone()),
                Cell::from(node.pods.to_string()),
                Cell::from(Span::styled(node.calico.clone(), theme.style(calico_role))),
                Cell::from(node.runtime_version.clone()),
                Cell::from(node.internal_ip.clone()),
            ])
        },
        state.screen().selected,
        theme,
    );
}

// One screen's layout, top to bottom; splitting it would scatter the order of its sections.
#[allow(clippy::too_many_lines)]
fn node(frame: &mut Frame, area: Rect, state: &State, theme: &Theme, name: &str) {
    let Some(detail) = state.derived.detail.first() else {
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!("node {name} is not in the cluster (any more)"),
                theme.style(Role::Warning),
            ))
            .block(panel(&format!("node {name}"), theme)),
            area,
        );
        return;
    };
    let heading =
        |text: &str| Line::from(Span::styled(text.to_string(), theme.style(Role::Header)));
    let text = |role: Role, value: String| Span::styled(value, theme.style(role));
    let row = &detail.row;
    let mut lines = vec![Line::from(vec![
        text(Role::Title, row.name.clone()),
        text(Role::Text, format!("  {}  pool {}  ", row.status, row.pool)),
        text(
            Role::Muted,
            format!(
                "{} · {} · {} · age {}",
                row.kubelet_version, row.runtime_version, row.os_image, row.age
            ),
        ),
    ])];
    lines.push(heading("Conditions"));
    for c in &detail.conditions {
        let role = if c.problem { Role::Error } else { Role::Ok };
        lines.push(Line::from(vec![
            text(role, format!("  {:<20} {:<6}", c.condition_type, c.status)),
            text(Role::Text, format!(" {:<24} ", c.reason)),
            text(
                Role::Muted,
                format!("{} ({})", c.message, c.last_transition),
            ),
        ]));
    }
    lines.push(heading("Calico and kube-proxy pods"));
    if detail.agent_pods.is_empty() {
        lines.push(Line::from(text(
            Role::Warning,
            "  none on this node".to_string(),
        )));
    }
    for pod in &detail.agent_pods {
        let updated = match pod.updated {
            Some(true) => "current revision",
            Some(false) => "OLD revision",
            None => "revision unknown",
        };
        lines.push(Line::from(vec![
            text(Role::Text, format!("  {}/{}", pod.namespace, pod.name)),
            text(
                Role::Muted,
                format!(
                    "  {} {} restarts {}  {updated}",
                    pod.columns.ready, pod.columns.status, pod.columns.restarts_text
                ),
            ),
        ]));
        for c in &pod.containers {
            let role = if c.ready || c.state.starts_with("terminated: exit 0") {
                Role::Ok
            } else {
                Role::Error
            };
            let kind = if c.init { "init " } else { "" };
            let mut spans = vec![
                text(role, format!("    {kind}{:<18} {}", c.name, c.state)),
                text(Role::Muted, format!("  restarts {}", c.restarts)),
            ];
            if let Some(last) = &c.last_state {
                spans.push(text(Role::Muted, format!("  last: {last}")));
            }
            if !c.message.is_empty() {
                spans.push(text(Role::Warning, format!("  {}", c.message)));
            }
            lines.push(Line::from(spans));
        }
    }
    lines.push(heading("IPAM blocks"));
    if detail.ipam_blocks.is_empty() {
        lines.push(Line::from(text(Role::Muted, "  none".to_string())));
    }
    for b in &detail.ipam_blocks {
        lines.push(Line::from(text(
            Role::Text,
            format!("  {:<20} {}/{} in use", b.cidr, b.used, b.capacity),
        )));
    }
    lines.push(heading("Taints"));
    for t in &detail.taints {
        lines.push(Line::from(text(Role::Text, format!("  {t}"))));
    }
    lines.push(heading("Addresses"));
    for (kind, address) in &detail.addresses {
        lines.push(Line::from(text(
            Role::Text,
            format!("  {kind:<12} {address}"),
        )));
    }
    lines.push(heading("Recent events"));
    for e in &detail.events {
        let role = if e.event_type == "Warning" {
            Role::Warning
        } else {
            Role::Muted
        };
        lines.push(Line::from(vec![
            text(Role::Muted, format!("  {:>5} ", e.age)),
            text(role, format!("{:<24} ", e.reason)),
            text(Role::Text, format!("{} {}", e.object, e.message)),
        ]));
    }
    lines.push(heading("Labels"));
    for (key, value) in &detail.labels {
        lines.push(Line::from(text(Role::Muted, format!("  {key}={value}"))));
    }
    let scroll = u16::try_from(state.screen().selected).unwrap_or(u16::MAX);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(panel(&format!("node {name}"), theme)),
        area,
    );
}

// One screen's layout, top to bottom; splitting it would scatter the order of its sections.
#[allow(clippy::too_many_lines)]
fn rollout(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let d = &state.derived;
    let mut summary: Vec<Line> = Vec::new();
    for r in &d.rollouts {
        let (symbol, role) = severity_mark(r.severity);
        let c = &r.counters;
        summary.push(Line::from(vec![
            Span::styled(format!("{symbol} "), theme.style(role)),
            Span::styled(
                format!("{:<20}", r.target.name()),
                theme.style(Role::Header),
            ),
            Span::styled(
                format!(
                    " desired {} current {} updated {} ready {} available {}  ",
                    c.desired, c.current, c.updated, c.ready, c.available
                ),
                theme.style(Role::Text),
            ),
            Span::styled(r.kubectl.message.clone(), theme.style(role)),
        ]));
        let pools: Vec<String> = r
            .pools
            .iter()
            .map(|p| {
                format!(
                    "{} {}/{} ready {} updated",
                    p.pool, p.ready, p.desired, p.updated
                )
            })
            .collect();
        if !pools.is_empty() {
            summary.push(Line::from(Span::styled(
                format!("    {}", pools.join(" · ")),
                theme.style(Role::Muted),
            )));
        }
    }
    let tigera: Vec<String> = d
        .tigera
        .iter()
        .map(|t| {
            let state = if t.degraded == "True" {
                "Degraded"
            } else if t.available == "True" {
                "Available"
            } else if t.progressing == "True" {
                "Progressing"
            } else {
                "unknown"
            };
            format!("{} {state}", t.name)
        })
        .collect();
    summary.push(Line::from(Span::styled(
        format!(
            "TigeraStatus: {}",
            if tigera.is_empty() {
                "none".to_string()
            } else {
                tigera.join(" · ")
            }
        ),
        theme.style(Role::Muted),
    )));
    for t in d.tigera.iter().filter(|t| !t.message.is_empty()) {
        let (_, role) = severity_mark(t.severity);
        summary.push(Line::from(Span::styled(
            format!("  {}: {}", t.name, t.message),
            theme.style(role),
        )));
    }
    let [top, bottom] = rollout_split(state, area);
    frame.render_widget(
        Paragraph::new(summary)
            .wrap(Wrap { trim: true })
            .block(panel("Calico DaemonSets", theme)),
        top,
    );
    let rows: Vec<_> = state
        .items()
        .into_iter()
        .filter_map(|item| match item {
            Item::Rollout(r, n) => d
                .rollouts
                .get(r)
                .and_then(|ro| ro.nodes.get(n).map(|x| (ro, x))),
            _ => None,
        })
        .collect();
    let detail = match state.items().get(state.screen().selected) {
        Some(Item::Rollout(r, n)) => d.rollouts.get(*r).and_then(|ro| ro.nodes.get(*n)).map(|n| {
            let event = n
                .event
                .as_ref()
                .map(|e| format!("\nlatest event ({} ago) {}: {}", e.age, e.reason, e.message))
                .unwrap_or_default();
            format!("{} · {} — {}{event}", n.node, n.status, n.explanation)
        }),
        _ => None,
    };
    let bottom = with_detail(frame, bottom, detail, theme);
    table(
        frame,
        bottom,
        "nodes not done",
        &["", "NODE", "DAEMONSET", "STATUS", "WHY"],
        &[
            Constraint::Length(1),
            Constraint::Length(20),
            Constraint::Length(19),
            Constraint::Length(24),
            Constraint::Fill(1),
        ],
        &rows,
        |(ro, n)| {
            let event = n
                .event
                .as_ref()
                .map(|e| format!(" · {} {}: {}", e.age, e.reason, e.message))
                .unwrap_or_default();
            Row::new(vec![
                mark_cell(n.severity, theme),
                Cell::from(n.node.clone()),
                Cell::from(ro.target.name()),
                Cell::from(Span::styled(
                    n.status.clone(),
                    theme.style(severity_mark(n.severity).1),
                )),
                Cell::from(format!("{}{event}", n.explanation)),
            ])
        },
        state.screen().selected,
        theme,
    );
}

fn findings(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let d = &state.derived;
    let rows: Vec<_> = state
        .items()
        .into_iter()
        .filter_map(|item| match item {
            Item::Finding(i) => d.findings.get(i),
            _ => None,
        })
        .collect();
    let detail = match state.items().get(state.screen().selected) {
        Some(Item::Finding(i)) => d
            .findings
            .get(*i)
            .map(|f| format!("{} {} · {}\n{}", f.severity, f.subject, f.message, f.fix)),
        _ => None,
    };
    let area = with_detail(frame, area, detail, theme);
    table(
        frame,
        area,
        "findings",
        &["SEVERITY", "SUBJECT", "WHAT AND WHY"],
        &[
            Constraint::Length(9),
            Constraint::Length(28),
            Constraint::Fill(1),
        ],
        &rows,
        |f| {
            let (symbol, role) = severity_mark(f.severity);
            Row::new(vec![
                Cell::from(Span::styled(
                    format!("{symbol} {}", f.severity),
                    theme.style(role),
                )),
                Cell::from(f.subject.to_string()),
                Cell::from(f.line()),
            ])
        },
        state.screen().selected,
        theme,
    );
}

fn ipam(frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
    let ipam_theme = super::ipam::IpamTheme::from_theme(theme);
    let rows: Vec<usize> = match state.ipam.mode.table() {
        Some(_) => state
            .items()
            .into_iter()
            .filter_map(|item| match item {
                Item::IpamRow(row) => Some(row),
                _ => None,
            })
            .collect(),
        None => Vec::new(),
    };
    let list = super::ipam::ListRows {
        rows: &rows,
        selected: state.screen().selected,
    };
    super::ipam::render(
        frame,
        area,
        &state.ipam,
        &state.derived.ipam,
        &ipam_theme,
        list,
    );
}

/// The area of the current view's list table inside `body` (as drawn), or `None` when the
/// view shows no selectable table (node detail, the IPAM map). The mouse reads rows from it.
pub fn list_area(state: &State, body: Rect) -> Option<Rect> {
    match &state.screen().view {
        View::Pools | View::Nodes { .. } => Some(body),
        View::Node { .. } => None,
        View::Rollout => {
            let [_, bottom] = rollout_split(state, body);
            Some(detail_split(state, bottom)[0])
        }
        View::Findings => Some(detail_split(state, body)[0]),
        View::Ipam => state.ipam.mode.table().map(|_| body),
    }
}

/// The rollout view's summary panel and the table area under it.
fn rollout_split(state: &State, area: Rect) -> [Rect; 2] {
    let d = &state.derived;
    let lines = d
        .rollouts
        .iter()
        .map(|r| 1 + usize::from(!r.pools.is_empty()))
        .sum::<usize>()
        + 1
        + d.tigera.iter().filter(|t| !t.message.is_empty()).count();
    let height = u16::try_from(lines + 2)
        .unwrap_or(u16::MAX)
        .min(area.height / 2);
    Layout::vertical([Constraint::Length(height), Constraint::Min(3)]).areas(area)
}

/// The table area and the selected row's detail panel under it, as [`with_detail`] splits
/// them (the detail shows when a row is selected and there is room).
fn detail_split(state: &State, area: Rect) -> [Rect; 2] {
    let selected = state.items().get(state.screen().selected).is_some();
    if selected && area.height >= 10 {
        Layout::vertical([Constraint::Min(4), Constraint::Length(6)]).areas(area)
    } else {
        [area, Rect::new(area.x, area.bottom(), area.width, 0)]
    }
}

/// Draws the selected row's full text in a panel under the table (rows are cut at 80
/// columns); returns the area left for the table.
fn with_detail(frame: &mut Frame, area: Rect, detail: Option<String>, theme: &Theme) -> Rect {
    let Some(detail) = detail else {
        return area;
    };
    if area.height < 10 {
        return area;
    }
    // The same split `detail_split` gives the mouse.
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(6)]).areas(area);
    frame.render_widget(
        Paragraph::new(detail)
            .style(theme.style(Role::Text))
            .wrap(Wrap { trim: true })
            .block(panel("selected", theme)),
        detail_area,
    );
    table_area
}
