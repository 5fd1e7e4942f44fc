//! The console's run loop (`app::runtime::run_on`) on a terminal whose writer keeps every
//! byte: a new snapshot reaches the screen through the model derived off the UI task, an idle
//! console writes nothing, keys and mouse clicks are taken while it runs, and the stream of
//! terminal events ending (the tty went away) ends the loop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use futures::channel::mpsc::{UnboundedSender, unbounded};
use futures::future::BoxFuture;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::sync::watch;

use pooltop::app::keymap::Keymap;
use pooltop::app::runtime::{Exit, Surface, Themes, run_on};
use pooltop::app::state::{State, View};
use pooltop::model::fixtures::{node, snapshot};
use pooltop::model::pools::PoolRules;
use pooltop::ops::{ClusterWriter, ObjectRef, Write as ClusterWrite, WriteError};
use pooltop::ui::Theme;

/// The longest any step may take before the test fails.
const LIMIT: Duration = Duration::from_secs(20);

#[derive(Clone, Default)]
struct Screen(Arc<Mutex<Vec<u8>>>);

impl Write for Screen {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Screen {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

struct TestSurface {
    terminal: Terminal<CrosstermBackend<Screen>>,
    /// The revision of the snapshot each frame showed.
    frames: watch::Sender<Vec<u64>>,
}

impl Surface for TestSurface {
    type Backend = CrosstermBackend<Screen>;
    fn terminal(&mut self) -> &mut Terminal<Self::Backend> {
        &mut self.terminal
    }
    fn suspend(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn frame_drawn(&mut self, state: &State) {
        let revision = state.snapshot.revision;
        self.frames.send_modify(|frames| frames.push(revision));
    }
}

/// Refuses everything: this test never writes to a cluster.
struct NoWriter;

impl ClusterWriter for NoWriter {
    fn get<'a>(
        &'a self,
        _: &'a ObjectRef,
    ) -> BoxFuture<'a, Result<Option<serde_json::Value>, WriteError>> {
        Box::pin(async { Err(WriteError::Other("no cluster in this test".into())) })
    }
    fn write<'a>(
        &'a self,
        _: &'a ClusterWrite,
        _: bool,
    ) -> BoxFuture<'a, Result<serde_json::Value, WriteError>> {
        Box::pin(async { Err(WriteError::Other("no cluster in this test".into())) })
    }
}

fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn mouse(kind: MouseEventKind, column: u16, row: u16) -> Event {
    Event::Mouse(MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    })
}

fn send(keys: &UnboundedSender<std::io::Result<Event>>, event: Event) {
    keys.unbounded_send(Ok(event)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_keys_and_idle_through_the_run_loop() {
    let first = snapshot()
        .with_nodes([node("aks-system-00000000").build()])
        .build();
    let mut second = snapshot()
        .with_nodes([
            node("aks-system-00000000").build(),
            node("aks-system-00000001").build(),
        ])
        .build();
    second.revision = 2;
    let (snapshots_tx, snapshots_rx) = watch::channel(Arc::new(first.clone()));
    let mut state = State::new(Arc::new(first), PoolRules::default(), Keymap::default());
    let themes: Themes = vec![("dark".to_string(), Theme::built_in("dark").unwrap())];
    let screen = Screen::default();
    let (frames_tx, mut frames) = watch::channel(Vec::new());
    let mut surface = TestSurface {
        terminal: Terminal::with_options(
            CrosstermBackend::new(screen.clone()),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, 100, 30)),
            },
        )
        .unwrap(),
        frames: frames_tx,
    };
    let (keys, events) = unbounded();
    let console = run_on(
        &mut surface,
        events,
        &mut state,
        &themes,
        snapshots_rx,
        Arc::new(NoWriter),
    );
    let driver = async {
        // The first frame shows the first snapshot.
        tokio::time::timeout(LIMIT, frames.wait_for(|f| f == &[1]))
            .await
            .unwrap()
            .unwrap();
        // Idle: nothing changes, nothing is written.
        let before = screen.len();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            screen.len(),
            before,
            "an idle console wrote to the terminal"
        );
        // A new snapshot: its model is derived off the loop and reaches the screen.
        snapshots_tx.send(Arc::new(second)).unwrap();
        tokio::time::timeout(LIMIT, frames.wait_for(|f| f.last() == Some(&2)))
            .await
            .unwrap()
            .unwrap();
        // Keys while running: `:nodes` then a click on the second node row selects it.
        for c in ":nodes".chars() {
            send(&keys, key(c));
        }
        send(
            &keys,
            Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
        );
        // Pointer motion alone draws nothing.
        let drawn = frames.borrow().len();
        send(&keys, mouse(MouseEventKind::Moved, 10, 10));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after_motion = frames.borrow().len();
        assert!(
            after_motion <= drawn + 1,
            "motion redrew: {drawn} -> {after_motion}"
        );
        // Header (rows 0-1), the table's border (2) and column titles (3): the second node is
        // on row 5.
        send(&keys, mouse(MouseEventKind::Down(MouseButton::Left), 10, 5));
        tokio::time::timeout(LIMIT, frames.wait_for(|f| f.len() > after_motion))
            .await
            .unwrap()
            .unwrap();
        // The terminal's event stream ends: the loop quits.
        keys.close_channel();
    };
    let (exit, ()) = tokio::time::timeout(LIMIT, async { tokio::join!(console, driver) })
        .await
        .expect("the loop ends");
    assert_eq!(exit.unwrap(), Exit::Quit);
    assert_eq!(state.snapshot.revision, 2);
    assert_eq!(state.derived.nodes.len(), 2);
    assert!(matches!(state.screen().view, View::Nodes { .. }));
    assert_eq!(state.screen().selected, 1);
    // The bytes are the escape sequences a terminal receives: the first frame whole, later
    // ones only the cells that changed (the title's node count, then the nodes table).
    let text = screen.text();
    assert!(text.contains("node pools (1)"), "{text:?}");
    assert!(text.contains("s (2)"), "{text:?}");
    assert!(text.contains("aks-system-0\u{1b}"), "{text:?}");
}
