//! The one impure part of the app: a select loop over terminal events, snapshots and
//! signals. It drains every pending message, then draws once — at most about 30 times a
//! second, and only when something changed, so an idle console writes nothing to the terminal.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::model::ClusterSnapshot;
use crate::term::TerminalGuard;
use crate::ui::{self, Theme};

use super::state::State;
use super::update::{Effect, Msg, update};

/// The shortest time between two frames (~30 per second).
pub const FRAME_INTERVAL: Duration = Duration::from_millis(33);

/// Why the loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Quit,
    /// The user asked for another kubeconfig context; the caller reconnects and runs again.
    SwitchContext(String),
}

/// Themes by name, in the order `t` cycles through them.
pub type Themes = Vec<(String, Theme)>;

/// Runs the console until quit, a signal, or a context switch.
pub async fn run(
    guard: &mut TerminalGuard,
    state: &mut State,
    themes: &Themes,
    mut snapshots: watch::Receiver<Arc<ClusterSnapshot>>,
) -> std::io::Result<Exit> {
    let mut events = EventStream::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut theme = pick(themes, state.theme_name());
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME_INTERVAL;
    let mut snapshots_open = true;
    loop {
        let next_draw = last_draw + FRAME_INTERVAL;
        let msg = tokio::select! {
            biased;
            _ = term.recv() => return Ok(Exit::Quit),
            _ = hup.recv() => return Ok(Exit::Quit),
            _ = tokio::signal::ctrl_c() => return Ok(Exit::Quit),
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) => Some(Msg::Key(key)),
                Some(Ok(Event::Resize(_, _))) => Some(Msg::Resize),
                Some(Ok(_)) => None,
                // The terminal is gone (ssh dropped without a SIGHUP reaching us).
                Some(Err(_)) | None => return Ok(Exit::Quit),
            },
            changed = snapshots.changed(), if snapshots_open => {
                if changed.is_ok() {
                    Some(Msg::Snapshot(snapshots.borrow_and_update().clone()))
                } else {
                    snapshots_open = false;
                    None
                }
            }
            () = tokio::time::sleep_until(next_draw), if dirty => {
                let area = guard.terminal.get_frame().area();
                state.page_rows = ui::page_rows(area);
                state.body = ui::body_area(area);
                guard.terminal.draw(|frame| ui::render(frame, state, theme))?;
                last_draw = Instant::now();
                dirty = false;
                None
            }
        };
        let Some(msg) = msg else { continue };
        for effect in update(state, msg) {
            match effect {
                Effect::Quit => return Ok(Exit::Quit),
                Effect::SwitchContext(name) => return Ok(Exit::SwitchContext(name)),
                Effect::Suspend => guard.suspend()?,
                Effect::SetTheme(name) => theme = pick(themes, &name),
                Effect::Redraw => guard.terminal.clear()?,
            }
        }
        dirty = true;
    }
}

fn pick<'a>(themes: &'a Themes, name: &str) -> &'a Theme {
    themes
        .iter()
        .find(|(known, _)| known == name)
        .or_else(|| themes.first())
        .map_or(&FALLBACK, |(_, theme)| theme)
}

static FALLBACK: std::sync::LazyLock<Theme> = std::sync::LazyLock::new(Theme::monochrome);
