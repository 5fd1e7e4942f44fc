//! The one impure part of the app: a select loop over terminal events, snapshots and
//! signals. It drains every pending message, then draws once — at most about 30 times a
//! second, and only when something changed, so an idle console writes nothing to the terminal.
//!
//! The loop draws on any [`Surface`] and reads any stream of terminal events: the console
//! passes the real terminal and crossterm's `EventStream`; the console benchmark passes a
//! terminal whose writer counts bytes, and its own events.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, EventStream, MouseEventKind};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::model::ClusterSnapshot;
use crate::ops::ClusterWriter;
use crate::ops::strict_affinity::{self, StrictAffinityOutcome, StrictAffinityPlan};
use crate::term::TerminalGuard;
use crate::ui::{self, Theme};

use super::state::{Derived, State};
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

/// What the loop draws on: a ratatui terminal that can also hand the tty back for Ctrl-Z.
pub trait Surface {
    type Backend: Backend<Error = std::io::Error>;
    fn terminal(&mut self) -> &mut Terminal<Self::Backend>;
    /// Gives the terminal back to the shell until the process is resumed.
    fn suspend(&mut self) -> std::io::Result<()>;
    /// Called after each frame reached the terminal, with the state it showed (the
    /// benchmark notes when the first complete snapshot was on screen).
    fn frame_drawn(&mut self, _state: &State) {}
}

impl Surface for TerminalGuard {
    type Backend = ratatui::backend::CrosstermBackend<std::io::Stdout>;
    fn terminal(&mut self) -> &mut Terminal<Self::Backend> {
        &mut self.terminal
    }
    fn suspend(&mut self) -> std::io::Result<()> {
        TerminalGuard::suspend(self)
    }
}

/// Runs the console on the real terminal until quit, a signal, or a context switch.
pub async fn run(
    guard: &mut TerminalGuard,
    state: &mut State,
    themes: &Themes,
    snapshots: watch::Receiver<Arc<ClusterSnapshot>>,
    writer: Arc<dyn ClusterWriter>,
) -> std::io::Result<Exit> {
    run_on(guard, EventStream::new(), state, themes, snapshots, writer).await
}

/// The loop itself, on any surface and any stream of terminal events. The stream ending (or
/// failing) means the terminal is gone: the loop quits.
pub async fn run_on<S, E>(
    surface: &mut S,
    mut events: E,
    state: &mut State,
    themes: &Themes,
    mut snapshots: watch::Receiver<Arc<ClusterSnapshot>>,
    writer: Arc<dyn ClusterWriter>,
) -> std::io::Result<Exit>
where
    S: Surface,
    E: Stream<Item = std::io::Result<Event>> + Unpin,
{
    let (op_tx, mut op_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut theme = pick(themes, state.theme_name());
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME_INTERVAL;
    let mut snapshots_open = true;
    // The model of each snapshot is derived on a blocking thread, one at a time; a snapshot
    // that arrives meanwhile waits, and only the newest one is derived next.
    let (derived_tx, mut derived_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut deriving = false;
    let mut behind = false;
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
                // Pointer motion without a button changes nothing: no redraw for it.
                Some(Ok(Event::Mouse(mouse))) if mouse.kind != MouseEventKind::Moved => {
                    Some(Msg::Mouse(mouse))
                }
                Some(Ok(_)) => None,
                // The terminal is gone (ssh dropped without a SIGHUP reaching us).
                Some(Err(_)) | None => return Ok(Exit::Quit),
            },
            Some(line) = op_rx.recv() => Some(Msg::OpDone(line)),
            Some((snapshot, derived)) = derived_rx.recv() => {
                deriving = behind;
                if behind {
                    behind = false;
                    derive(snapshots.borrow_and_update().clone(), state, &derived_tx);
                }
                Some(Msg::Derived(snapshot, derived))
            }
            changed = snapshots.changed(), if snapshots_open => {
                if changed.is_err() {
                    snapshots_open = false;
                } else if deriving {
                    behind = true;
                } else {
                    deriving = true;
                    derive(snapshots.borrow_and_update().clone(), state, &derived_tx);
                }
                None
            }
            () = tokio::time::sleep_until(next_draw), if dirty => {
                let terminal = surface.terminal();
                let area = terminal.get_frame().area();
                state.page_rows = ui::page_rows(area);
                state.body = ui::body_area(area);
                terminal.draw(|frame| ui::render(frame, state, theme))?;
                surface.frame_drawn(state);
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
                Effect::Suspend => surface.suspend()?,
                Effect::SetTheme(name) => theme = pick(themes, &name),
                Effect::Redraw => surface.terminal().clear()?,
                Effect::ApplyStrictAffinity(plan) => {
                    let writer = Arc::clone(&writer);
                    let tx = op_tx.clone();
                    tokio::spawn(async move {
                        let _ = tx.send(apply_strict_affinity(&plan, writer.as_ref()).await);
                    });
                }
            }
        }
        dirty = true;
    }
}

type DerivedTx = tokio::sync::mpsc::UnboundedSender<(Arc<ClusterSnapshot>, Box<Derived>)>;

/// Derives the model of `snapshot` on a blocking thread and sends it back to the loop.
fn derive(snapshot: Arc<ClusterSnapshot>, state: &State, tx: &DerivedTx) {
    let rules = state.rules.clone();
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let derived = Derived::compute(&snapshot, &rules);
        // The loop may have ended (quit, context switch): nobody wants the result then.
        let _ = tx.send((snapshot, Box::new(derived)));
    });
}

/// Runs a confirmed strictAffinity plan; the outcome as one footer line.
async fn apply_strict_affinity(plan: &StrictAffinityPlan, writer: &dyn ClusterWriter) -> String {
    let mut progress = |_| {};
    match strict_affinity::run(plan, writer, &mut progress).await {
        Ok(StrictAffinityOutcome::Applied { .. }) => format!(
            "strictAffinity is now {} ({})",
            plan.after.strict_affinity,
            plan.object.display()
        ),
        Ok(StrictAffinityOutcome::Conflict { changes, .. }) => format!(
            "not written: {} changed since it was read ({}); look again and retry",
            plan.object.display(),
            changes.join(", ")
        ),
        Ok(StrictAffinityOutcome::NotFound) => {
            format!("not written: {} no longer exists", plan.object.display())
        }
        Err(err) => format!("not written: {err}"),
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
