//! Console benchmark on the `large` scenario (5,000 nodes, 50,000 pods): the real console
//! loop (`app::runtime::run_on`) over the real client, feed and renderer, drawing into a
//! 120x40 terminal whose writer counts every byte, against `pooltop sim --scenario large`
//! running as its own process on loopback.
//!
//! It measures, in one run:
//! - the time from connecting to the first frame that shows a complete snapshot, beside
//!   `kubectl get nodes -o json` against the same server (cold and warm discovery cache);
//! - the peak memory of the console process and of the simulator;
//! - bytes written to the terminal per second while idle and while the cluster churns (a
//!   node cordoned or uncordoned 20 times a second);
//! - the time to take in a new snapshot (the model derived again), and the render time per
//!   frame of each view at 120x40 and 80x24.
//!
//! Run with `cargo bench --bench console`; numbers go to stdout. Where the derive time goes,
//! part by part, is `cargo bench --bench model_large`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use pooltop::app::keymap::Keymap;
use pooltop::app::runtime::{Exit, Surface, Themes, run_on};
use pooltop::app::state::State;
use pooltop::app::update::{Msg, update};
use pooltop::cluster::{self, AuditLog, KubeWriter};
use pooltop::model::pools::PoolRules;
use pooltop::model::{ClusterSnapshot, FeedState, Kind};
use pooltop::ui::{self, Theme};

use common::{kubectl_get_nodes, memory_mib, start_sim, summary};

/// How long each byte-counting window lasts.
const WINDOW: Duration = Duration::from_secs(10);
/// Node writes per second while the cluster churns.
const CHURN_PER_SECOND: u32 = 20;
/// Frames drawn per view and size when timing the renderer.
const FRAMES: usize = 120;
/// The longest the first complete frame may take before the benchmark gives up.
const FIRST_FRAME_LIMIT: Duration = Duration::from_secs(300);

/// Everything the console wrote to its terminal.
#[derive(Default)]
struct Written {
    bytes: AtomicU64,
    flushes: AtomicU64,
}

struct CountingWriter(Arc<Written>);

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

type CountingTerminal = Terminal<CrosstermBackend<CountingWriter>>;

fn counting_terminal(width: u16, height: u16, written: &Arc<Written>) -> CountingTerminal {
    Terminal::with_options(
        CrosstermBackend::new(CountingWriter(Arc::clone(written))),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, width, height)),
        },
    )
    .unwrap()
}

/// The terminal the console loop draws on; it reports when the first complete snapshot was on
/// screen and counts frames.
struct BenchSurface {
    terminal: CountingTerminal,
    started: Instant,
    first_complete: watch::Sender<Option<Duration>>,
    /// When the first frame showed every node (the nodes' feed live), for the comparison
    /// with `kubectl get nodes`.
    first_nodes: Option<Duration>,
    frames: Arc<AtomicU64>,
}

impl Surface for BenchSurface {
    type Backend = CrosstermBackend<CountingWriter>;
    fn terminal(&mut self) -> &mut Terminal<Self::Backend> {
        &mut self.terminal
    }
    fn suspend(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn frame_drawn(&mut self, state: &State) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        if self.first_nodes.is_none() && state.snapshot.feed(Kind::Nodes).state == FeedState::Live {
            self.first_nodes = Some(self.started.elapsed());
        }
        if self.first_complete.borrow().is_none() && state.snapshot.is_complete() {
            let _ = self.first_complete.send(Some(self.started.elapsed()));
        }
    }
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

/// The keys that type `:NAME` and press enter.
fn command(name: &str) -> Vec<KeyEvent> {
    let mut keys = vec![key(':')];
    keys.extend(name.chars().map(key));
    keys.push(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    keys
}

/// Bytes and frames written while `during` runs for [`WINDOW`].
async fn count_window<F: Future<Output = ()>>(
    written: &Written,
    frames: &AtomicU64,
    during: F,
) -> (f64, f64, f64) {
    let bytes = written.bytes.load(Ordering::Relaxed);
    let flushes = frames.load(Ordering::Relaxed);
    let started = Instant::now();
    let _ = tokio::time::timeout(WINDOW, during).await;
    tokio::time::sleep(WINDOW.saturating_sub(started.elapsed())).await;
    let seconds = started.elapsed().as_secs_f64();
    let bytes = (written.bytes.load(Ordering::Relaxed) - bytes) as f64;
    let frames = (frames.load(Ordering::Relaxed) - flushes) as f64;
    (bytes / seconds, frames / seconds, seconds)
}

/// Cordons and uncordons the first nodes in turn, `CHURN_PER_SECOND` writes a second, until
/// cancelled by the caller's timeout.
async fn churn(client: kube::Client, names: Vec<String>) {
    let nodes: Api<Node> = Api::all(client);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / CHURN_PER_SECOND);
    for (i, name) in names.iter().cycle().enumerate() {
        tick.tick().await;
        let cordon = (i / names.len()).is_multiple_of(2);
        let patch = serde_json::json!({"spec": {"unschedulable": cordon}});
        let _ = nodes
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await;
    }
}

/// Renders `FRAMES` frames of the view `name` at `width`x`height`, moving the selection
/// between frames as a user scrolling would; the render+flush time of each frame.
fn time_view(
    state: &mut State,
    theme: &Theme,
    name: &str,
    width: u16,
    height: u16,
) -> (Vec<Duration>, u64) {
    let written = Arc::new(Written::default());
    let mut terminal = counting_terminal(width, height, &written);
    let area = Rect::new(0, 0, width, height);
    state.page_rows = ui::page_rows(area);
    state.body = ui::body_area(area);
    for k in command(name) {
        update(state, Msg::Key(k));
    }
    let mut samples = Vec::with_capacity(FRAMES);
    for i in 0..FRAMES {
        let step = if (i / 10) % 2 == 0 { 'j' } else { 'k' };
        update(state, Msg::Key(key(step)));
        let started = Instant::now();
        terminal
            .draw(|frame| ui::render(frame, state, theme))
            .unwrap();
        samples.push(started.elapsed());
    }
    (
        samples,
        written.bytes.load(Ordering::Relaxed) / FRAMES as u64,
    )
}

/// What the measuring side of the run needs.
struct Driver {
    client: kube::Client,
    kubeconfig: PathBuf,
    cache_dir: PathBuf,
    feed: watch::Receiver<Arc<ClusterSnapshot>>,
    first_complete: watch::Receiver<Option<Duration>>,
    written: Arc<Written>,
    frames: Arc<AtomicU64>,
    keys: futures::channel::mpsc::UnboundedSender<std::io::Result<Event>>,
}

/// Runs beside the console loop: waits for the first complete frame, runs kubectl, counts the
/// terminal output idle and under churn, then presses `q`.
async fn drive(driver: Driver) {
    let Driver {
        client,
        kubeconfig,
        cache_dir,
        feed: feed_rx,
        first_complete: mut first_rx,
        written,
        frames,
        keys: keys_tx,
    } = driver;
    let first = tokio::time::timeout(FIRST_FRAME_LIMIT, first_rx.wait_for(Option::is_some))
        .await
        .expect("a complete frame within the limit")
        .unwrap()
        .unwrap();
    println!(
        "{:<52} {:>10.2} s",
        "console: connect -> first frame of a complete snapshot",
        first.as_secs_f64()
    );
    let (peak, rss) = memory_mib(std::process::id());
    println!(
        "{:<52} {peak:>10.1} MiB (now {rss:.1} MiB)",
        "console: peak memory at first frame"
    );

    for (label, cache) in [
        (
            "kubectl get nodes -o json (cold discovery cache)",
            "kubectl-cache",
        ),
        ("kubectl get nodes -o json (warm cache)", "kubectl-cache"),
        (
            "kubectl get nodes -o json (warm cache, again)",
            "kubectl-cache",
        ),
    ] {
        let kubeconfig = kubeconfig.clone();
        let cache = cache_dir.join(cache);
        let (took, count) =
            tokio::task::spawn_blocking(move || kubectl_get_nodes(&kubeconfig, &cache))
                .await
                .unwrap();
        println!(
            "{label:<52} {:>10.2} s  ({count} nodes)",
            took.as_secs_f64()
        );
    }

    // Let the feed and the first frames settle before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (bytes, fps, secs) = count_window(&written, &frames, std::future::pending()).await;
    println!(
        "{:<52} {bytes:>10.0} B/s  ({fps:.1} frames/s over {secs:.1} s)",
        "terminal output while idle"
    );

    let names: Vec<String> = feed_rx
        .borrow()
        .nodes
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .take(100)
        .collect();
    let (bytes, fps, secs) =
        count_window(&written, &frames, churn(client.clone(), names.clone())).await;
    println!(
        "{:<52} {bytes:>10.0} B/s  ({fps:.1} frames/s over {secs:.1} s)",
        format!("terminal output under churn ({CHURN_PER_SECOND} node writes/s)")
    );
    // Leave the nodes uncordoned.
    let nodes: Api<Node> = Api::all(client);
    let patch = serde_json::json!({"spec": {"unschedulable": false}});
    for name in &names {
        let _ = nodes
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await;
    }
    let _ = keys_tx.unbounded_send(Ok(Event::Key(key('q'))));
}

/// Times taking in a new snapshot and rendering every view at both sizes.
fn render_report(state: &mut State, theme: &Theme) {
    let snapshot = Arc::clone(&state.snapshot);
    let mut takes = Vec::new();
    for bump in 1..=5 {
        let started = Instant::now();
        // A new revision, as the feed publishes after any change: the model is derived again.
        let mut next = (*snapshot).clone();
        next.revision += bump;
        update(state, Msg::Snapshot(Arc::new(next)));
        takes.push(started.elapsed());
    }
    println!(
        "{:<52} {}",
        "taking in a new snapshot (model derived)",
        summary(&takes)
    );
    for (width, height) in [(120, 40), (80, 24)] {
        for view in ["pools", "nodes", "rollout", "findings", "ipam"] {
            let (samples, bytes) = time_view(state, theme, view, width, height);
            println!(
                "{:<52} {}  {bytes} B/frame",
                format!("render {view} at {width}x{height}"),
                summary(&samples)
            );
        }
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(dir.path(), "large", &[]);
    let sim_pid = sim.child.id();
    println!("pooltop sim --scenario large at {}", sim.url);
    println!(
        "{:<52} {:>10.2} s",
        "simulator: scenario loaded, serving",
        sim.startup.as_secs_f64()
    );

    let started = Instant::now();
    let connection = common::connect(&sim.kubeconfig).await;
    let cancel = CancellationToken::new();
    let feed = cluster::spawn_feed(&connection, cancel.clone());
    let mut state = State::new(
        feed.rx.borrow().clone(),
        PoolRules::default(),
        Keymap::default(),
    );
    state.themes = vec!["dark".to_string()];
    let theme = Theme::built_in("dark").unwrap();
    let themes: Themes = vec![("dark".to_string(), theme.clone())];
    let writer = Arc::new(KubeWriter::new(&connection, AuditLog::disabled()));
    let written = Arc::new(Written::default());
    let frames = Arc::new(AtomicU64::new(0));
    let (first_tx, first_rx) = watch::channel(None);
    let mut surface = BenchSurface {
        terminal: counting_terminal(120, 40, &written),
        started,
        first_complete: first_tx,
        first_nodes: None,
        frames: Arc::clone(&frames),
    };
    let (keys_tx, keys_rx) = futures::channel::mpsc::unbounded::<std::io::Result<Event>>();

    let console = run_on(
        &mut surface,
        keys_rx,
        &mut state,
        &themes,
        feed.rx.clone(),
        writer,
    );
    let driver = drive(Driver {
        client: connection.client.clone(),
        kubeconfig: sim.kubeconfig.clone(),
        cache_dir: dir.path().to_path_buf(),
        feed: feed.rx.clone(),
        first_complete: first_rx,
        written: Arc::clone(&written),
        frames: Arc::clone(&frames),
        keys: keys_tx,
    });
    let (exit, ()) = tokio::join!(console, driver);
    assert_eq!(exit.unwrap(), Exit::Quit);
    cancel.cancel();
    println!(
        "{:<52} {:>10.2} ms",
        "feed: building a snapshot after one node changed",
        feed.last_build_time().as_secs_f64() * 1000.0
    );
    if let Some(nodes) = surface.first_nodes {
        println!(
            "{:<52} {:>10.2} s",
            "console: connect -> first frame with every node",
            nodes.as_secs_f64()
        );
    }

    render_report(&mut state, &theme);
    println!(
        "{:<52} {} B Pod, {} B PodSpec, {} B Container, {} B Node",
        "in-memory size of the k8s-openapi types (empty)",
        std::mem::size_of::<k8s_openapi::api::core::v1::Pod>(),
        std::mem::size_of::<k8s_openapi::api::core::v1::PodSpec>(),
        std::mem::size_of::<k8s_openapi::api::core::v1::Container>(),
        std::mem::size_of::<Node>(),
    );
    let (peak, _) = memory_mib(std::process::id());
    let (sim_peak, sim_rss) = memory_mib(sim_pid);
    println!(
        "{:<52} {peak:>10.1} MiB",
        "console: peak memory (whole run)"
    );
    println!(
        "{:<52} {sim_peak:>10.1} MiB (now {sim_rss:.1} MiB)",
        "simulator: peak memory"
    );
}
