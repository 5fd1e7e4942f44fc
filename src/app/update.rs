//! `update(&mut State, Msg) -> Vec<Effect>`: the whole behaviour of the console, without I/O.

use std::sync::Arc;

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind,
};
use tui_input::backend::crossterm::EventHandler;

use crate::model::ClusterSnapshot;
use crate::model::pools;

use super::keymap::{Action, Key};
use super::state::{Derived, Item, Mode, Pending, Screen, State, View};

/// Something that happened.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// A mouse event (only sent when mouse capture is on: `--mouse` or `mouse = true`).
    Mouse(MouseEvent),
    Snapshot(Arc<ClusterSnapshot>),
    /// A snapshot whose model the runtime already derived off the UI task (`Derived::compute`
    /// takes a good part of a second on 5,000 nodes; keys must not wait for it).
    Derived(Arc<ClusterSnapshot>, Box<Derived>),
    Resize,
    /// An op finished; one line for the footer.
    OpDone(String),
}

/// Something the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    Suspend,
    /// Use the theme named here.
    SetTheme(String),
    /// Reconnect to another kubeconfig context.
    SwitchContext(String),
    /// Redraw everything (after a resize or a resume).
    Redraw,
    /// Run the confirmed plan through the writer (dry run, re-read, write).
    ApplyStrictAffinity(Box<crate::ops::strict_affinity::StrictAffinityPlan>),
}

/// The commands of the `:` line, for completion.
pub const COMMANDS: [&str; 9] = [
    "pools",
    "nodes",
    "rollout",
    "ipam",
    "findings",
    "strictaffinity",
    "ctx",
    "theme",
    "quit",
];

pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    let effects = dispatch(state, msg);
    // The IPAM table is sorted here, when its sort or the snapshot changed, never per frame.
    state.ipam.refresh_order(&state.derived.ipam);
    effects
}

fn dispatch(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Mouse(event) => on_mouse(state, event),
        Msg::Snapshot(snapshot) => {
            set_snapshot(state, snapshot, None);
            Vec::new()
        }
        Msg::Derived(snapshot, derived) => {
            set_snapshot(state, snapshot, Some(*derived));
            Vec::new()
        }
        Msg::Resize => vec![Effect::Redraw],
        Msg::OpDone(line) => {
            state.busy = false;
            state.message = Some(line);
            Vec::new()
        }
        Msg::Key(event) if event.kind == KeyEventKind::Release => Vec::new(),
        Msg::Key(event) => on_key(state, event),
    }
}

fn set_snapshot(state: &mut State, snapshot: Arc<ClusterSnapshot>, derived: Option<Derived>) {
    if let Some(derived) = derived {
        state.derived = derived;
        state.ipam.invalidate_order();
    } else if snapshot.revision != state.derived.revision || state.derived.revision == 0 {
        state.derived = Derived::compute(&snapshot, &state.rules);
        state.ipam.invalidate_order();
    }
    state.snapshot = snapshot;
    refresh_detail(state);
    clamp(state);
}

fn refresh_detail(state: &mut State) {
    state.derived.detail = match &state.screen().view {
        View::Node { name } => pools::node_detail(&state.snapshot, &state.rules, name)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
}

fn on_key(state: &mut State, event: KeyEvent) -> Vec<Effect> {
    match state.mode {
        Mode::Filter => {
            on_filter_key(state, event);
            Vec::new()
        }
        Mode::Command => on_command_key(state, event),
        Mode::Help => {
            state.mode = Mode::Normal;
            Vec::new()
        }
        Mode::Confirm => on_confirm_key(state, event),
        Mode::Override => {
            on_override_key(state, event);
            Vec::new()
        }
        Mode::Normal => {
            state.message = None;
            match state.keymap.action(Key::from_event(event)) {
                Some(action) => act(state, action),
                None => Vec::new(),
            }
        }
    }
}

fn on_filter_key(state: &mut State, event: KeyEvent) {
    match event.code {
        KeyCode::Enter => state.mode = Mode::Normal,
        KeyCode::Esc => {
            state.mode = Mode::Normal;
            state.input.reset();
            state.screen_mut().filter.clear();
        }
        _ => {
            state.input.handle_event(&Event::Key(event));
            let text = state.input.value().to_string();
            let screen = state.screen_mut();
            screen.filter = text;
            screen.selected = 0;
        }
    }
}

fn on_command_key(state: &mut State, event: KeyEvent) -> Vec<Effect> {
    match event.code {
        KeyCode::Esc => {
            state.mode = Mode::Normal;
            state.input.reset();
            Vec::new()
        }
        KeyCode::Tab => {
            if let Some(completed) = complete(state, state.input.value()) {
                state.input = state.input.clone().with_value(completed);
            }
            Vec::new()
        }
        KeyCode::Enter => {
            let line = state.input.value().trim().to_string();
            state.mode = Mode::Normal;
            state.input.reset();
            run_command(state, &line)
        }
        _ => {
            state.input.handle_event(&Event::Key(event));
            Vec::new()
        }
    }
}

fn on_confirm_key(state: &mut State, event: KeyEvent) -> Vec<Effect> {
    match event.code {
        KeyCode::Char('y') => {
            state.mode = Mode::Normal;
            match state.pending.take() {
                Some(Pending::StrictAffinity(plan)) => {
                    state.busy = true;
                    state.message = Some(format!("applying to {}…", plan.object.display()));
                    vec![Effect::ApplyStrictAffinity(plan)]
                }
                _ => Vec::new(),
            }
        }
        KeyCode::Esc | KeyCode::Char('n' | 'q') => {
            state.mode = Mode::Normal;
            state.pending = None;
            state.message = Some("cancelled: nothing was written".to_string());
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn on_override_key(state: &mut State, event: KeyEvent) {
    match event.code {
        KeyCode::Esc => {
            state.mode = Mode::Normal;
            state.pending = None;
            state.input.reset();
            state.message = Some("cancelled: nothing was written".to_string());
        }
        KeyCode::Enter => {
            let typed = state.input.value().to_string();
            state.input.reset();
            if let Some(Pending::StrictAffinityOverride { target, .. }) = state.pending.take() {
                plan_strict_affinity(state, target, Some(typed));
            } else {
                state.mode = Mode::Normal;
            }
        }
        _ => {
            state.input.handle_event(&Event::Key(event));
        }
    }
}

/// Plans the strictAffinity change and opens its preview (or the override prompt, or says why
/// it is refused).
fn plan_strict_affinity(state: &mut State, target: bool, typed: Option<String>) {
    use crate::ops::strict_affinity::{PlanRefusal, StrictAffinityInput, plan_with_model};
    let input = StrictAffinityInput {
        target,
        override_confirmation: typed,
    };
    match plan_with_model(&state.snapshot, &state.derived.ipam.model, input) {
        Ok(plan) => {
            state.pending = Some(Pending::StrictAffinity(Box::new(plan)));
            state.mode = Mode::Confirm;
        }
        Err(refusal @ PlanRefusal::WindowsNodes { .. }) => {
            state.pending = Some(Pending::StrictAffinityOverride {
                target,
                reason: refusal.to_string(),
            });
            state.input.reset();
            state.mode = Mode::Override;
        }
        Err(refusal) => {
            state.pending = None;
            state.mode = Mode::Normal;
            state.message = Some(refusal.to_string());
        }
    }
}

/// The unique completion of a partial command line, if there is one.
pub fn complete(state: &State, line: &str) -> Option<String> {
    let (command, argument) = match line.split_once(' ') {
        Some((command, argument)) => (command, Some(argument)),
        None => (line, None),
    };
    let unique = |candidates: Vec<&str>, prefix: &str| -> Option<String> {
        let matching: Vec<&str> = candidates
            .into_iter()
            .filter(|c| c.starts_with(prefix))
            .collect();
        (matching.len() == 1).then(|| matching[0].to_string())
    };
    match argument {
        None => unique(COMMANDS.to_vec(), command),
        Some(argument) => {
            let candidates: Vec<&str> = match command {
                "ctx" => state.contexts.iter().map(String::as_str).collect(),
                "theme" => state.themes.iter().map(String::as_str).collect(),
                _ => return None,
            };
            unique(candidates, argument).map(|done| format!("{command} {done}"))
        }
    }
}

/// Candidates shown under the command line as the user types.
pub fn candidates(state: &State, line: &str) -> Vec<String> {
    match line.split_once(' ') {
        None => COMMANDS
            .iter()
            .filter(|c| c.starts_with(line))
            .map(|c| (*c).to_string())
            .collect(),
        Some(("ctx", prefix)) => state
            .contexts
            .iter()
            .filter(|c| c.starts_with(prefix))
            .cloned()
            .collect(),
        Some(("theme", prefix)) => state
            .themes
            .iter()
            .filter(|c| c.starts_with(prefix))
            .cloned()
            .collect(),
        Some(_) => Vec::new(),
    }
}

fn run_command(state: &mut State, line: &str) -> Vec<Effect> {
    let (command, argument) = match line.split_once(' ') {
        Some((command, argument)) => (command, argument.trim()),
        None => (line, ""),
    };
    let command = complete(state, command).unwrap_or_else(|| command.to_string());
    match command.as_str() {
        "" => Vec::new(),
        "pools" => act(state, Action::Pools),
        "nodes" => act(state, Action::Nodes),
        "rollout" => act(state, Action::Rollout),
        "ipam" => act(state, Action::Ipam),
        "findings" => act(state, Action::Findings),
        "strictaffinity" => match argument {
            "on" | "true" => {
                plan_strict_affinity(state, true, None);
                Vec::new()
            }
            "off" | "false" => {
                plan_strict_affinity(state, false, None);
                Vec::new()
            }
            _ => act(state, Action::ToggleStrictAffinity),
        },
        "quit" | "q" => vec![Effect::Quit],
        "theme" if argument.is_empty() => act(state, Action::NextTheme),
        "theme" => {
            if let Some(index) = state.themes.iter().position(|t| t == argument) {
                state.theme = index;
                vec![Effect::SetTheme(argument.to_string())]
            } else {
                state.message = Some(format!(
                    "no theme \"{argument}\" (known: {})",
                    state.themes.join(", ")
                ));
                Vec::new()
            }
        }
        "ctx" if argument.is_empty() => {
            state.message = Some(format!(
                "context {} (known: {})",
                state.snapshot.source.context,
                state.contexts.join(", ")
            ));
            Vec::new()
        }
        "ctx" => {
            if state.contexts.iter().any(|c| c == argument) {
                state.message = Some(format!("switching to context {argument}…"));
                vec![Effect::SwitchContext(argument.to_string())]
            } else {
                state.message = Some(format!("no context \"{argument}\" in the kubeconfig"));
                Vec::new()
            }
        }
        other => {
            state.message = Some(format!(
                "unknown command \"{other}\" (try {})",
                COMMANDS.map(|c| format!(":{c}")).join(" ")
            ));
            Vec::new()
        }
    }
}

/// Keys of the IPAM view: the map's cursor, zoom, pool and mode, and the tables' sort.
/// Returns false when the action is not the IPAM view's (the tables move, filter and open
/// rows like every other list).
fn ipam_act(state: &mut State, action: Action) -> bool {
    use crate::ui::ipam::map_geometry;
    let view = &state.derived.ipam;
    let geometry = map_geometry(state.body, &state.ipam, view);
    let map = state.ipam.mode.table().is_none();
    match (action, geometry) {
        (Action::NextPool, _) => state.ipam.next_pool(view),
        (Action::IpamMode, _) => {
            state.ipam.cycle_mode();
            state.screen_mut().selected = 0;
        }
        (Action::SortNext | Action::SortReverse, _) if !map => resort(state, action),
        (Action::SortNext | Action::SortReverse, _) => {}
        (_, _) if !map => return false,
        (Action::Up, Some(g)) => state.ipam.move_rows(-1, g.columns, g.cells),
        (Action::Down, Some(g)) => state.ipam.move_rows(1, g.columns, g.cells),
        (Action::Left, Some(g)) => state.ipam.move_cursor(-1, g.cells),
        (Action::Right, Some(g)) => state.ipam.move_cursor(1, g.cells),
        (Action::ZoomIn, Some(g)) => state.ipam.zoom_in(g.fitted),
        (Action::ZoomOut, Some(g)) => state.ipam.zoom_out(view, g.fitted),
        (Action::Enter, Some(g)) => {
            // Jump to the node owning the first block of the selected cell.
            let owner = view
                .map
                .pools
                .get(state.ipam.pool)
                .and_then(|grid| grid.blocks_in_cell(g.level, state.ipam.cursor).first())
                .and_then(|(_, block)| view.model.blocks.get(*block))
                .and_then(|block| block.owner.node().map(str::to_string));
            if let Some(name) = owner {
                state.stack.push(Screen::new(View::Node { name }));
                refresh_detail(state);
            }
        }
        (Action::Left | Action::Right | Action::ZoomIn | Action::ZoomOut | Action::Enter, _)
        | (Action::Up | Action::Down, None) => {}
        _ => return false,
    }
    true
}

/// Sorts the IPAM table by its next column or the other way round, keeping the selected row
/// selected.
fn resort(state: &mut State, action: Action) {
    let items = state.items();
    let before = items.get(state.screen().selected).copied();
    if action == Action::SortNext {
        state.ipam.sort_next_column();
    } else {
        state.ipam.reverse_sort();
    }
    state.ipam.refresh_order(&state.derived.ipam);
    if let Some(item) = before
        && let Some(position) = state.items().iter().position(|i| *i == item)
    {
        state.screen_mut().selected = position;
    }
}

fn act(state: &mut State, action: Action) -> Vec<Effect> {
    if state.screen().view == View::Ipam && ipam_act(state, action) {
        return Vec::new();
    }
    let len = state.items().len();
    let page = state.page_rows.max(1);
    let screen = state.screen_mut();
    match action {
        Action::Up => screen.selected = screen.selected.saturating_sub(1),
        Action::Down => screen.selected = (screen.selected + 1).min(len.saturating_sub(1)),
        Action::PageUp => screen.selected = screen.selected.saturating_sub(page),
        Action::PageDown => screen.selected = (screen.selected + page).min(len.saturating_sub(1)),
        // Only the IPAM map moves sideways and zooms.
        Action::Left
        | Action::Right
        | Action::ZoomIn
        | Action::ZoomOut
        | Action::NextPool
        | Action::IpamMode
        | Action::SortNext
        | Action::SortReverse => {}
        Action::Top => screen.selected = 0,
        Action::Bottom => screen.selected = len.saturating_sub(1),
        Action::Enter => enter(state),
        Action::Back => {
            if !state.screen().filter.is_empty() {
                state.screen_mut().filter.clear();
            } else if state.stack.len() > 1 {
                state.stack.pop();
                refresh_detail(state);
            }
        }
        Action::Filter => {
            state.mode = Mode::Filter;
            state.input = tui_input::Input::new(state.screen().filter.clone());
        }
        Action::CommandLine => {
            state.mode = Mode::Command;
            state.input.reset();
        }
        Action::Help => state.mode = Mode::Help,
        Action::Quit => return vec![Effect::Quit],
        Action::ToggleStrictAffinity => {
            if state.busy {
                state.message = Some("an action is still running".to_string());
            } else {
                let target = !state.derived.ipam.model.config.spec.strict_affinity;
                plan_strict_affinity(state, target, None);
            }
        }
        Action::Suspend => return vec![Effect::Suspend],
        Action::Pools => open_root(state, View::Pools),
        Action::Nodes => open_root(state, View::Nodes { pool: None }),
        Action::Rollout => open_root(state, View::Rollout),
        Action::Ipam => open_root(state, View::Ipam),
        Action::Findings => open_root(state, View::Findings),
        Action::NextTheme => {
            state.theme = (state.theme + 1) % state.themes.len().max(1);
            let name = state.theme_name().to_string();
            state.message = Some(format!("theme {name}"));
            return vec![Effect::SetTheme(name)];
        }
    }
    Vec::new()
}

/// Top-level views replace the stack above the home view.
fn open_root(state: &mut State, view: View) {
    state.stack.truncate(1);
    if view != View::Pools {
        state.stack.push(Screen::new(view));
    }
    refresh_detail(state);
}

fn enter(state: &mut State) {
    let items = state.items();
    let Some(item) = items.get(state.screen().selected).copied() else {
        return;
    };
    let next = match item {
        Item::Pool(i) => Some(View::Nodes {
            pool: Some(state.derived.pools[i].key.clone()),
        }),
        Item::Node(i) => Some(View::Node {
            name: state.derived.nodes[i].name.clone(),
        }),
        Item::Rollout(r, n) => Some(View::Node {
            name: state.derived.rollouts[r].nodes[n].node.clone(),
        }),
        Item::Finding(i) if state.derived.findings[i].opens_ipam() => {
            focus_finding_block(state, i);
            Some(View::Ipam)
        }
        Item::Finding(i) => match &state.derived.findings[i].subject {
            crate::model::findings::Subject::Node(name) => Some(View::Node { name: name.clone() }),
            crate::model::findings::Subject::Pool(key) => Some(View::Nodes {
                pool: Some(key.clone()),
            }),
            _ => None,
        },
        Item::IpamRow(row) => ipam_row_target(state, row),
        Item::Block(i) => state.derived.ipam.model.blocks[i]
            .owner
            .node()
            .map(|name| View::Node {
                name: name.to_string(),
            }),
        Item::Line(_) => None,
    };
    if let Some(view) = next {
        state.stack.push(Screen::new(view));
        refresh_detail(state);
    }
}

/// An IPAM finding about one block (borrowed addresses, no affinity, orphaned…) opens the map
/// at one block per cell with the cursor on that block.
fn focus_finding_block(state: &mut State, finding: usize) {
    let crate::model::findings::Subject::Object { kind, name, .. } =
        &state.derived.findings[finding].subject
    else {
        return;
    };
    if kind != "IPAMBlock" {
        return;
    }
    let view = &state.derived.ipam;
    let Some(block) = view.model.blocks.iter().position(|b| b.cidr == *name) else {
        return;
    };
    let Some(pool) = view.model.blocks[block].pool else {
        return;
    };
    state.ipam.show_pool(view, pool);
    let slot = view
        .map
        .pool(pool)
        .and_then(|grid| grid.claimed.iter().find(|(_, b)| *b == block))
        .map(|(slot, _)| *slot);
    if let Some(slot) = slot {
        state.ipam.zoom = Some(0);
        state.ipam.cursor = usize::try_from(slot).unwrap_or(usize::MAX);
    }
}

/// Where `enter` on a row of the IPAM tables goes: a node's row and a borrowed address (its
/// borrowing node, where the pod runs) open the node; a pool's row shows its map.
fn ipam_row_target(state: &mut State, row: usize) -> Option<View> {
    use crate::model::ipam::tables::IpamTable;
    let model = &state.derived.ipam.model;
    match state.ipam.mode.table()? {
        IpamTable::Nodes => model.nodes.get(row).map(|n| View::Node {
            name: n.node.clone(),
        }),
        IpamTable::Borrowed => model.borrowed.get(row).map(|b| View::Node {
            name: b.borrowing_node.clone(),
        }),
        IpamTable::Pools => {
            state.ipam.show_pool(&state.derived.ipam, row);
            None
        }
    }
}

/// Mouse (only with capture on): the wheel moves like `j`/`k` (a map row on the IPAM map); a
/// left click selects the row or map cell under the pointer, and a click on what is already
/// selected opens it like `enter`. Clicks close the help overlay; other modes ignore the mouse.
fn on_mouse(state: &mut State, event: MouseEvent) -> Vec<Effect> {
    match state.mode {
        Mode::Normal => {}
        Mode::Help => {
            if matches!(event.kind, MouseEventKind::Down(_)) {
                state.mode = Mode::Normal;
            }
            return Vec::new();
        }
        Mode::Filter | Mode::Command | Mode::Confirm | Mode::Override => return Vec::new(),
    }
    match event.kind {
        MouseEventKind::ScrollDown => act(state, Action::Down),
        MouseEventKind::ScrollUp => act(state, Action::Up),
        MouseEventKind::Down(MouseButton::Left) => click(state, event.column, event.row),
        _ => Vec::new(),
    }
}

fn click(state: &mut State, x: u16, y: u16) -> Vec<Effect> {
    state.message = None;
    if state.screen().view == View::Ipam && state.ipam.mode.table().is_none() {
        let geometry = crate::ui::ipam::map_geometry(state.body, &state.ipam, &state.derived.ipam);
        let Some(cell) = geometry.and_then(|g| g.cell_at(x, y)) else {
            return Vec::new();
        };
        if cell == state.ipam.cursor {
            return act(state, Action::Enter);
        }
        state.ipam.cursor = cell;
        return Vec::new();
    }
    let Some(area) = crate::ui::list_area(state, state.body) else {
        return Vec::new();
    };
    let len = state.items().len();
    let selected = state.screen().selected.min(len.saturating_sub(1));
    let Some(row) = crate::ui::table_window(area, selected).row_at(x, y, len) else {
        return Vec::new();
    };
    if row == state.screen().selected {
        return act(state, Action::Enter);
    }
    state.screen_mut().selected = row;
    Vec::new()
}

fn clamp(state: &mut State) {
    let len = state.items().len();
    let screen = state.screen_mut();
    screen.selected = screen.selected.min(len.saturating_sub(1));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! Keys and synthetic mouse events driven through `update` against a state that was
    //! really rendered on a `TestBackend`, so clicks land where the rows and cells are drawn.

    use crossterm::event::{KeyModifiers, MouseEvent};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::layout::Rect;

    use super::*;
    use crate::app::keymap::Keymap;
    use crate::model::ipam::fixtures::aks_hybrid;
    use crate::model::pools::PoolRules;
    use crate::ui::{Theme, body_area, render};

    /// The AKS-like hybrid fixture: two Windows and two Linux nodes on a /22 of /26 blocks;
    /// nplinux-0's block lends an address to nplinux-1; an unowned block holds two of
    /// nplinux-0's pods; strictAffinity off.
    fn state() -> State {
        State::new(
            Arc::new(aks_hybrid().build()),
            PoolRules::default(),
            Keymap::default(),
        )
    }

    /// Draws the console at 120x40 (setting `state.body` as the runtime does) and returns the
    /// screen's lines.
    fn draw(state: &mut State) -> Vec<String> {
        let area = Rect::new(0, 0, 120, 40);
        state.body = body_area(area);
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
        terminal
            .draw(|frame| render(frame, state, &Theme::dark()))
            .unwrap();
        let buffer = terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect()
            })
            .collect()
    }

    fn press(state: &mut State, code: KeyCode) {
        update(state, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    fn key(state: &mut State, c: char) {
        press(state, KeyCode::Char(c));
    }

    fn mouse(state: &mut State, kind: MouseEventKind, column: u16, row: u16) -> Vec<Effect> {
        update(
            state,
            Msg::Mouse(MouseEvent {
                kind,
                column,
                row,
                modifiers: KeyModifiers::NONE,
            }),
        )
    }

    fn click(state: &mut State, column: u16, row: u16) {
        mouse(state, MouseEventKind::Down(MouseButton::Left), column, row);
    }

    fn selected_node(state: &State) -> String {
        match state.items()[state.screen().selected] {
            Item::Node(i) => state.derived.nodes[i].name.clone(),
            Item::IpamRow(row) => state.derived.ipam.model.nodes[row].node.clone(),
            other => panic!("not a node row: {other:?}"),
        }
    }

    #[test]
    fn clicks_select_the_row_under_the_pointer_and_a_second_click_opens_it() {
        let mut state = state();
        key(&mut state, 'n');
        let screen = draw(&mut state);
        // Header line 0-1, body from y 2: the table's border at y 2, its header at y 3, rows
        // from y 4. The third row is at y 6.
        let third = screen[6].clone();
        click(&mut state, 10, 6);
        assert_eq!(state.screen().selected, 2);
        let name = selected_node(&state);
        assert!(third.contains(&name), "{third}");
        // The header and the border select nothing.
        click(&mut state, 10, 3);
        click(&mut state, 10, 2);
        assert_eq!(state.screen().selected, 2);
        // Drawn again, the selected row carries the marker where the click was.
        assert!(draw(&mut state)[6].contains('▶'));
        // The wheel moves like j / k.
        mouse(&mut state, MouseEventKind::ScrollDown, 10, 20);
        assert_eq!(state.screen().selected, 3);
        mouse(&mut state, MouseEventKind::ScrollUp, 10, 20);
        assert_eq!(state.screen().selected, 2);
        // A click on the selected row opens it like enter.
        click(&mut state, 10, 6);
        assert_eq!(state.screen().view, View::Node { name });
    }

    #[test]
    fn ipam_tables_sort_by_any_column_and_open_nodes_by_key_or_click() {
        let mut state = state();
        key(&mut state, 'i');
        key(&mut state, 'm');
        key(&mut state, 'm');
        assert_eq!(
            state.ipam.mode.table(),
            Some(crate::model::ipam::tables::IpamTable::Nodes)
        );
        // NODE -> OS -> POOL -> BLOCKS -> CAPACITY -> IN USE, then descending. In use of each
        // node's own block: npwin-0 4 reserved + 52 = 56, nplinux-0 a tunnel + 30 + the lent
        // pod = 32, nplinux-1 a tunnel + 12 = 13, npwin-1 4 + 6 = 10.
        for _ in 0..5 {
            key(&mut state, 'o');
        }
        key(&mut state, 'O');
        let order: Vec<String> = (0..4)
            .map(|i| {
                state.screen_mut().selected = i;
                selected_node(&state)
            })
            .collect();
        assert_eq!(
            order,
            [
                "aks-npwin-00000000",
                "aks-nplinux-00000000",
                "aks-nplinux-00000001",
                "aks-npwin-00000001"
            ]
        );
        let screen = draw(&mut state);
        assert!(screen[3].contains("IN USE ▼"), "{}", screen[3]);
        // Reversing keeps the selected row selected: npwin-1 moves from last to first.
        key(&mut state, 'O');
        assert_eq!(state.screen().selected, 0);
        assert_eq!(selected_node(&state), "aks-npwin-00000001");
        draw(&mut state);
        // Second row (y 5) by click, then open it with a second click.
        click(&mut state, 10, 5);
        assert_eq!(selected_node(&state), "aks-nplinux-00000001");
        click(&mut state, 10, 5);
        assert_eq!(
            state.screen().view,
            View::Node {
                name: "aks-nplinux-00000001".to_string()
            }
        );
        // Back, on to the borrowed table (the lent cart pod and nplinux-0's two in the unowned
        // block; 10.244.1.40 sorts first): enter opens the borrowing node, where the pod runs.
        press(&mut state, KeyCode::Esc);
        key(&mut state, 'm');
        assert_eq!(state.items().len(), 3);
        press(&mut state, KeyCode::Enter);
        assert_eq!(
            state.screen().view,
            View::Node {
                name: "aks-nplinux-00000001".to_string()
            }
        );
    }

    #[test]
    fn an_ipam_finding_about_a_block_opens_the_map_on_that_block() {
        let mut state = state();
        key(&mut state, 'f');
        let row = state
            .items()
            .iter()
            .position(|item| {
                matches!(item, Item::Finding(i)
                    if state.derived.findings[*i].subject.to_string().contains("10.244.3.192/26"))
            })
            // The unowned block's finding is listed.
            .unwrap();
        state.screen_mut().selected = row;
        press(&mut state, KeyCode::Enter);
        assert_eq!(state.screen().view, View::Ipam);
        // 10.244.3.192/26 is the 16th /26 of 10.244.0.0/22: slot 15, one block per cell.
        assert_eq!(state.ipam.zoom, Some(0));
        assert_eq!(state.ipam.cursor, 15);
        let screen = draw(&mut state).join("\n");
        assert!(screen.contains("10.244.3.192/26"), "{screen}");
    }

    #[test]
    fn ipam_tables_filter_and_move_like_every_list() {
        let mut state = state();
        key(&mut state, 'i');
        key(&mut state, 'm');
        key(&mut state, 'm');
        assert_eq!(state.items().len(), 4);
        key(&mut state, 'G');
        assert_eq!(state.screen().selected, 3);
        key(&mut state, 'g');
        assert_eq!(state.screen().selected, 0);
        press(&mut state, KeyCode::PageDown);
        assert_eq!(state.screen().selected, 3);
        // `/win`: the two Windows nodes, still in the table's order (by name).
        key(&mut state, '/');
        for c in "win".chars() {
            key(&mut state, c);
        }
        press(&mut state, KeyCode::Enter);
        let shown: Vec<String> = (0..state.items().len())
            .map(|i| {
                state.screen_mut().selected = i;
                selected_node(&state)
            })
            .collect();
        assert_eq!(shown, ["aks-npwin-00000000", "aks-npwin-00000001"]);
        let screen = draw(&mut state).join("\n");
        assert!(screen.contains("Nodes (2 of 4)"), "{screen}");
        key(&mut state, 'j');
        assert_eq!(state.screen().selected, 1);
    }

    #[test]
    fn clicks_and_the_wheel_on_the_ipam_map() {
        let mut state = state();
        key(&mut state, 'i');
        draw(&mut state);
        let geometry =
            crate::ui::ipam::map_geometry(state.body, &state.ipam, &state.derived.ipam).unwrap();
        // 16 slots of a /22, one block per cell, 8 per row; cell 4 is 10.244.1.0/26.
        assert_eq!((geometry.level, geometry.columns), (0, 8));
        let (x, y) = (geometry.cells_area.x, geometry.cells_area.y);
        click(&mut state, x + 4, y);
        assert_eq!(state.ipam.cursor, 4);
        // Drawn, the cell under the pointer is the selected (reversed) one.
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
        terminal
            .draw(|frame| render(frame, &state, &Theme::dark()))
            .unwrap();
        let cell = &terminal.backend().buffer()[(x + 4, y)];
        assert!(
            cell.modifier.contains(ratatui::style::Modifier::REVERSED)
                || cell.bg != ratatui::style::Color::Reset,
            "{cell:?}"
        );
        // The wheel moves a map row: 4 -> 12 -> 4.
        mouse(&mut state, MouseEventKind::ScrollDown, x, y);
        assert_eq!(state.ipam.cursor, 12);
        mouse(&mut state, MouseEventKind::ScrollUp, x, y);
        assert_eq!(state.ipam.cursor, 4);
        // Outside the cells: nothing.
        click(&mut state, 0, 0);
        assert_eq!(state.ipam.cursor, 4);
        // A second click drills into the block's owner.
        click(&mut state, x + 4, y);
        assert_eq!(
            state.screen().view,
            View::Node {
                name: "aks-nplinux-00000000".to_string()
            }
        );
    }

    #[test]
    fn ipam_findings_open_the_ipam_view_and_the_mouse_waits_for_overlays() {
        let mut state = state();
        key(&mut state, 'f');
        let strict = state
            .items()
            .iter()
            .position(|item| {
                matches!(item, Item::Finding(i)
                    if state.derived.findings[*i].id == "windows.strict-affinity")
            })
            .unwrap();
        state.screen_mut().selected = strict;
        press(&mut state, KeyCode::Enter);
        assert_eq!(state.screen().view, View::Ipam);
        // Help is open: a click closes it and selects nothing.
        key(&mut state, '?');
        assert_eq!(state.mode, Mode::Help);
        click(&mut state, 20, 4);
        assert_eq!(state.mode, Mode::Normal);
        assert_eq!(state.ipam.cursor, 0);
    }
}
