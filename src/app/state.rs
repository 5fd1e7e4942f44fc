//! What the console shows right now: the latest snapshot and the views derived from it (once
//! per revision), the stack of open views with their selections, and the input mode.

use std::sync::Arc;

use tui_input::Input;

use crate::model::ClusterSnapshot;
use crate::model::findings::{self, Finding};
use crate::model::pools::{self, NodeDetail, NodePool, NodeRow, PoolKey, PoolRules};
use crate::model::rollout::{self, Rollout, TigeraStatusRow};

use super::keymap::Keymap;
use crate::ui::ipam::{IpamView, IpamViewState};

/// One screen of the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// Home: node pools, problems first.
    Pools,
    /// Nodes of one pool, or of every pool.
    Nodes {
        pool: Option<PoolKey>,
    },
    /// One node's detail.
    Node {
        name: String,
    },
    Rollout,
    Findings,
    Ipam,
}

impl View {
    pub fn title(&self) -> String {
        match self {
            View::Pools => "pools".to_string(),
            View::Nodes { pool: Some(pool) } => format!("nodes of {pool}"),
            View::Nodes { pool: None } => "nodes".to_string(),
            View::Node { name } => format!("node {name}"),
            View::Rollout => "rollout".to_string(),
            View::Findings => "findings".to_string(),
            View::Ipam => "ipam".to_string(),
        }
    }
}

/// A view on the stack with its own cursor and filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub view: View,
    pub selected: usize,
    pub filter: String,
}

impl Screen {
    pub fn new(view: View) -> Self {
        Self {
            view,
            selected: 0,
            filter: String::new(),
        }
    }
}

/// Where keys go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing a row filter after `/`.
    Filter,
    /// Typing a command after `:`.
    Command,
    Help,
    /// A plan is previewed: `y` applies it, `esc` cancels.
    Confirm,
    /// An action was refused unless the user types the context name (into `input`).
    Override,
}

/// An action waiting for the user: its preview, or the refusal that can be overridden.
#[derive(Debug, Clone)]
pub enum Pending {
    StrictAffinity(Box<crate::ops::strict_affinity::StrictAffinityPlan>),
    /// Turning strictAffinity off with Windows nodes: the reason, then the typed context name.
    StrictAffinityOverride {
        target: bool,
        reason: String,
    },
}

/// Everything computed from one snapshot revision; render only reads it.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    pub revision: u64,
    pub pools: Vec<NodePool>,
    pub nodes: Vec<NodeRow>,
    pub rollouts: Vec<Rollout>,
    pub tigera: Vec<TigeraStatusRow>,
    pub findings: Vec<Finding>,
    /// The IPAM model and its block map.
    pub ipam: IpamView,
    /// The detail of the node the current view shows (at most one).
    pub detail: Vec<NodeDetail>,
}

impl Derived {
    pub fn compute(snapshot: &ClusterSnapshot, rules: &PoolRules) -> Self {
        // Pods by node and the Calico agent DaemonSets, indexed once for all three.
        let index = pools::NodeIndex::new(snapshot);
        let pools = pools::pools_with_index(snapshot, rules, &index);
        let nodes = pools::all_node_rows_with_index(snapshot, &index, &pools);
        let rollouts = rollout::rollouts_with_agents(snapshot, &index.agents, &pools);
        let tigera = rollout::tigera_statuses(snapshot);
        let ipam = IpamView::from_snapshot(snapshot);
        // The Findings view lists the IPAM findings too, one per fact.
        let findings = findings::with_ipam(findings::findings(snapshot, &pools), &ipam.model);
        Self {
            revision: snapshot.revision,
            pools,
            nodes,
            rollouts,
            tigera,
            findings,
            ipam,
            detail: Vec::new(),
        }
    }
}

/// The console's whole state.
#[derive(Debug)]
pub struct State {
    pub snapshot: Arc<ClusterSnapshot>,
    pub derived: Derived,
    pub rules: PoolRules,
    pub stack: Vec<Screen>,
    pub mode: Mode,
    pub input: Input,
    /// One line shown in the footer until the next key (errors, results of commands).
    pub message: Option<String>,
    pub keymap: Keymap,
    pub themes: Vec<String>,
    pub theme: usize,
    /// Contexts known to the kubeconfig, for `:ctx` completion.
    pub contexts: Vec<String>,
    /// Rows visible in the body at the last draw (for page up / down).
    pub page_rows: usize,
    /// The body's area at the last draw: the IPAM map's keys need its geometry.
    pub body: ratatui::layout::Rect,
    /// Pool, zoom, cursor and mode of the IPAM view.
    pub ipam: IpamViewState,
    pub pending: Option<Pending>,
    /// An op is running: further actions wait for its outcome.
    pub busy: bool,
}

impl State {
    pub fn new(snapshot: Arc<ClusterSnapshot>, rules: PoolRules, keymap: Keymap) -> Self {
        let derived = Derived::compute(&snapshot, &rules);
        Self {
            snapshot,
            derived,
            rules,
            stack: vec![Screen::new(View::Pools)],
            mode: Mode::Normal,
            input: Input::default(),
            message: None,
            keymap,
            themes: vec!["dark".to_string()],
            theme: 0,
            contexts: Vec::new(),
            page_rows: 10,
            body: ratatui::layout::Rect::new(0, 2, 120, 37),
            ipam: IpamViewState::default(),
            pending: None,
            busy: false,
        }
    }

    pub fn screen(&self) -> &Screen {
        // The stack is never empty: `Back` on the last screen does nothing.
        &self.stack[self.stack.len() - 1]
    }

    pub fn screen_mut(&mut self) -> &mut Screen {
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    pub fn theme_name(&self) -> &str {
        self.themes.get(self.theme).map_or("dark", String::as_str)
    }
}

/// One selectable row of the current view, pointing into [`Derived`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Pool(usize),
    Node(usize),
    /// (rollout, node of that rollout)
    Rollout(usize, usize),
    Finding(usize),
    /// A block of the IPAM map (the map's rows for the filter).
    Block(usize),
    /// A row of the current IPAM list table (index into the model's pools, nodes or borrowed
    /// rows, per `IpamViewState::mode`).
    IpamRow(usize),
    /// A line of a scrolling detail view.
    Line(usize),
}

impl State {
    /// The rows of the current view after its filter, in display order.
    pub fn items(&self) -> Vec<Item> {
        let screen = self.screen();
        let filter = screen.filter.to_lowercase();
        // The row's text is only built when a filter is set: 5,000 nodes a frame otherwise.
        let keep = |text: &dyn Fn() -> String| {
            filter.is_empty() || text().to_lowercase().contains(&filter)
        };
        let d = &self.derived;
        match &screen.view {
            View::Pools => (0..d.pools.len())
                .filter(|i| {
                    let pool = &d.pools[*i];
                    keep(&|| {
                        format!(
                            "{} {} {}",
                            pool.key,
                            pool.calico.text,
                            pool.problems.join(" ")
                        )
                    })
                })
                .map(Item::Pool)
                .collect(),
            View::Nodes { pool } => (0..d.nodes.len())
                .filter(|i| {
                    let row = &d.nodes[*i];
                    pool.as_ref().is_none_or(|key| &row.pool == key)
                        && keep(&|| {
                            format!("{} {} {} {}", row.name, row.status, row.calico, row.pool)
                        })
                })
                .map(Item::Node)
                .collect(),
            View::Node { .. } => (0..self.detail_line_count()).map(Item::Line).collect(),
            View::Rollout => d
                .rollouts
                .iter()
                .enumerate()
                .flat_map(|(r, rollout)| (0..rollout.nodes.len()).map(move |n| (r, n)))
                .filter(|(r, n)| {
                    let node = &d.rollouts[*r].nodes[*n];
                    keep(&|| format!("{} {} {}", node.node, node.status, node.explanation))
                })
                .map(|(r, n)| Item::Rollout(r, n))
                .collect(),
            View::Findings => (0..d.findings.len())
                .filter(|i| {
                    let f = &d.findings[*i];
                    keep(&|| format!("{} {} {}", f.severity, f.subject, f.line()))
                })
                .map(Item::Finding)
                .collect(),
            View::Ipam => match self.ipam.mode.table() {
                None => (0..d.ipam.model.blocks.len())
                    .filter(|i| {
                        let b = &d.ipam.model.blocks[*i];
                        keep(&|| format!("{} {}", b.cidr, b.owner_label))
                    })
                    .map(Item::Block)
                    .collect(),
                // Sorted once per sort or snapshot change; only the filter runs here.
                Some(table) => self
                    .ipam
                    .rows(&d.ipam, table)
                    .iter()
                    .filter(|&&row| keep(&|| table.cells(&d.ipam.model, row).join(" ")))
                    .map(|&row| Item::IpamRow(row))
                    .collect(),
            },
        }
    }

    /// How far the node detail can scroll: one line per row of each section.
    fn detail_line_count(&self) -> usize {
        self.derived.detail.first().map_or(0, |d| {
            let containers: usize = d.agent_pods.iter().map(|p| p.containers.len() + 1).sum();
            12 + d.conditions.len()
                + d.labels.len()
                + d.taints.len()
                + d.addresses.len()
                + containers
                + d.ipam_blocks.len()
                + d.events.len()
        })
    }
}
