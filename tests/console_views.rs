//! The console against the simulator through the real client: every view of the `fresh`,
//! `healthy` and `stuck-rollout` scenarios drawn on ratatui's `TestBackend` at 120x40 and 80x24
//! (insta snapshots), and keys driven through `update` with the screens asserted.
//!
//! The simulator runs frozen (deterministic names, addresses and time). To keep the snapshots
//! stable the snapshot is normalised where it carries this run's particulars: the server URL,
//! the feed revision, the moment it was taken (moved far ahead, so every age reads in days),
//! restart counts, and events (left out).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use common::{Options, TestCluster};
use pooltop::app::keymap::Keymap;
use pooltop::app::state::{State, View};
use pooltop::app::update::{Effect, Msg, update};
use pooltop::cluster::{ConnectOptions, connect, spawn_feed};
use pooltop::model::pools::PoolRules;
use pooltop::model::{ClusterSnapshot, SourceKind};
use pooltop::sim::scenario::Scenario;
use pooltop::ui::{Theme, render};
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(60);

async fn complete_snapshot(cluster: &TestCluster) -> Arc<ClusterSnapshot> {
    let connection = connect(&ConnectOptions {
        kubeconfig: Some(cluster.kubeconfig.clone()),
        source_kind: SourceKind::Simulated,
        ..ConnectOptions::default()
    })
    .await
    .unwrap();
    let cancel = CancellationToken::new();
    let feed = spawn_feed(&connection, cancel.clone());
    let mut rx = feed.rx.clone();
    let snapshot = tokio::time::timeout(LIMIT, rx.wait_for(|s| s.is_complete()))
        .await
        .expect("a complete snapshot within the limit")
        .expect("feed running")
        .clone();
    cancel.cancel();
    snapshot
}

fn normalised(snapshot: &ClusterSnapshot) -> Arc<ClusterSnapshot> {
    let mut snapshot = snapshot.clone();
    snapshot.revision = 1;
    snapshot.source.server = "http://127.0.0.1:PORT".to_string();
    snapshot.taken_at = "2027-12-31T00:00:00Z".parse().unwrap();
    for feed in snapshot.feeds.values_mut() {
        feed.last_event = None;
    }
    // How often a crash-looping container has restarted depends on how long convergence ran.
    let pods = snapshot
        .pods
        .iter()
        .map(|pod| {
            let mut pod = (**pod).clone();
            if let Some(status) = pod.status.as_mut() {
                for statuses in [
                    status.container_statuses.as_mut(),
                    status.init_container_statuses.as_mut(),
                ]
                .into_iter()
                .flatten()
                {
                    for container in statuses {
                        if container.restart_count > 0 {
                            container.restart_count = 5;
                        }
                    }
                }
            }
            Arc::new(pod)
        })
        .collect();
    snapshot.pods = Arc::new(pods);
    // Event times differ by seconds between runs and so does their order; the keys test
    // below checks events on an unnormalised snapshot.
    snapshot.events = Arc::new(Vec::new());
    Arc::new(snapshot)
}

fn draw(state: &mut State, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    state.body = pooltop::ui::body_area(ratatui::layout::Rect::new(0, 0, width, height));
    let theme = Theme::dark();
    terminal.draw(|frame| render(frame, state, &theme)).unwrap();
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
}

fn key(state: &mut State, code: KeyCode) -> Vec<Effect> {
    update(state, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn open(state: &mut State, view: View) {
    state.stack.truncate(1);
    if view != View::Pools {
        state.stack.push(pooltop::app::state::Screen::new(view));
    }
    // A snapshot message recomputes what the view needs (the node detail).
    let snapshot = Arc::clone(&state.snapshot);
    update(state, Msg::Snapshot(snapshot));
}

async fn snapshot_every_view(scenario: Scenario) {
    let cluster = common::start(Options {
        scenario,
        frozen: true,
        ..Options::default()
    })
    .await;
    let snapshot = normalised(&*complete_snapshot(&cluster).await);
    cluster.stop().await;
    let mut state = State::new(snapshot, PoolRules::default(), Keymap::default());
    let windows_node = state
        .derived
        .nodes
        .iter()
        .find(|n| n.pool.os == pooltop::model::pools::OsFamily::Windows)
        .map(|n| n.name.clone())
        .expect("a Windows node");
    let views = [
        ("pools", View::Pools),
        ("nodes", View::Nodes { pool: None }),
        ("node", View::Node { name: windows_node }),
        ("rollout", View::Rollout),
        ("findings", View::Findings),
        ("ipam", View::Ipam),
    ];
    for (name, view) in views {
        open(&mut state, view);
        for (width, height) in [(120, 40), (80, 24)] {
            let screen = draw(&mut state, width, height);
            insta::assert_snapshot!(
                format!("{}_{name}_{width}x{height}", scenario.name()),
                screen
            );
        }
    }
    // The IPAM view's node table, sorted by addresses in use, most first (m m, then o five
    // times from NODE to IN USE, O to reverse).
    for c in "mmoooooO".chars() {
        key(&mut state, KeyCode::Char(c));
    }
    for (width, height) in [(120, 40), (80, 24)] {
        let screen = draw(&mut state, width, height);
        insta::assert_snapshot!(
            format!("{}_ipam-nodes_{width}x{height}", scenario.name()),
            screen
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_of_fresh() {
    snapshot_every_view(Scenario::Fresh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_of_healthy() {
    snapshot_every_view(Scenario::Healthy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_of_stuck_rollout() {
    snapshot_every_view(Scenario::StuckRollout).await;
}

/// Keys drive the console the way an operator would: rollout, drill into a stuck node,
/// back, filter, the command line with completion, help, quit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_drive_the_console_on_a_stuck_rollout() {
    let cluster = common::start(Options {
        scenario: Scenario::StuckRollout,
        frozen: true,
        ..Options::default()
    })
    .await;
    let snapshot = complete_snapshot(&cluster).await;
    cluster.stop().await;
    let mut state = State::new(snapshot, PoolRules::default(), Keymap::default());

    let home = draw(&mut state, 120, 40);
    assert!(home.contains("SIMULATED CLUSTER"), "{home}");
    assert!(home.contains("npwin"), "{home}");

    key(&mut state, KeyCode::Char('r'));
    let rollout = draw(&mut state, 120, 40);
    assert!(rollout.contains("Init:ImagePullBackOff"), "{rollout}");
    assert!(rollout.contains("CrashLoopBackOff"), "{rollout}");

    // The first node not done is the image pull; enter opens its detail.
    key(&mut state, KeyCode::Char('g'));
    key(&mut state, KeyCode::Enter);
    assert!(matches!(state.screen().view, View::Node { .. }));
    let node = draw(&mut state, 120, 40);
    assert!(node.contains("registry.internal.example"), "{node}");
    key(&mut state, KeyCode::Esc);
    assert_eq!(state.screen().view, View::Rollout);

    // Filter the rollout rows down to the crash loop.
    key(&mut state, KeyCode::Char('/'));
    for c in "crash".chars() {
        key(&mut state, KeyCode::Char(c));
    }
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.items().len(), 1);

    // `:ip<tab><enter>` completes to :ipam.
    key(&mut state, KeyCode::Char(':'));
    key(&mut state, KeyCode::Char('i'));
    key(&mut state, KeyCode::Char('p'));
    key(&mut state, KeyCode::Tab);
    assert_eq!(state.input.value(), "ipam");
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.screen().view, View::Ipam);
    let ipam = draw(&mut state, 120, 40);
    assert!(ipam.contains("192.168.0.0/16"), "{ipam}");
    // Zoom in, move, and cycle to the tables: the view answers each key.
    key(&mut state, KeyCode::Char('+'));
    key(&mut state, KeyCode::Right);
    key(&mut state, KeyCode::Char('m'));
    let tables = draw(&mut state, 120, 40);
    assert_ne!(tables, ipam);
    // The node table sorted by blocks, most first; with the mouse, a click on the second row
    // selects it and a second click opens that node.
    for c in "moooO".chars() {
        key(&mut state, KeyCode::Char(c));
    }
    let by_blocks = draw(&mut state, 120, 40);
    assert!(by_blocks.contains("BLOCKS ▼"), "{by_blocks}");
    let second = by_blocks.lines().nth(5).unwrap().to_string();
    let click = |state: &mut State| {
        update(
            state,
            Msg::Mouse(crossterm::event::MouseEvent {
                kind: crossterm::event::MouseEventKind::Down(crossterm::event::MouseButton::Left),
                column: 10,
                row: 5,
                modifiers: KeyModifiers::NONE,
            }),
        )
    };
    click(&mut state);
    assert_eq!(state.screen().selected, 1);
    click(&mut state);
    match &state.screen().view {
        View::Node { name } => assert!(second.contains(name.as_str()), "{second}"),
        other => panic!("expected a node, got {other:?}"),
    }
    key(&mut state, KeyCode::Esc);
    key(&mut state, KeyCode::Char('m'));
    key(&mut state, KeyCode::Char('m'));

    // strictAffinity off with Windows nodes: refused until the context name is typed, then
    // previewed, then cancelled — nothing is written.
    key(&mut state, KeyCode::Char('s'));
    assert_eq!(state.mode, pooltop::app::state::Mode::Override);
    let refused = draw(&mut state, 120, 40);
    assert!(
        refused.contains("refusing to turn strictAffinity off"),
        "{refused}"
    );
    for c in "pooltop-sim".chars() {
        key(&mut state, KeyCode::Char(c));
    }
    key(&mut state, KeyCode::Enter);
    assert_eq!(state.mode, pooltop::app::state::Mode::Confirm);
    let preview = draw(&mut state, 120, 40);
    assert!(preview.contains("IPAMConfiguration"), "{preview}");
    key(&mut state, KeyCode::Esc);
    assert!(state.message.as_deref().unwrap_or("").contains("cancelled"));

    key(&mut state, KeyCode::Char('?'));
    let help = draw(&mut state, 80, 24);
    assert!(help.contains("move down"), "{help}");
    assert!(help.contains("quit"), "{help}");
    key(&mut state, KeyCode::Char('x'));
    assert_eq!(key(&mut state, KeyCode::Char('q')), vec![Effect::Quit]);
}
