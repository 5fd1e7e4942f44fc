//! The immutable picture of a cluster that every view is computed from: the objects of each
//! watched kind, where they came from, and how fresh each kind is. The `cluster` module builds
//! one per debounce window; a recording replays into the same type.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod, Service};

use super::calico::{BlockAffinity, IpPool, IpamBlock, IpamConfig, IpamHandle};
use super::operator::{ApiServer, Installation, TigeraStatus};

/// The objects of one kind, sorted by (namespace, name). Shared between snapshots: a kind that
/// did not change keeps the same `Arc`, so building a snapshot costs nothing for quiet kinds.
pub type Objects<T> = Arc<Vec<Arc<T>>>;

/// Everything the console knows about a cluster at one moment.
#[derive(Debug, Clone, Default)]
pub struct ClusterSnapshot {
    /// Increases by one with every snapshot a feed publishes; derived views are cached per
    /// revision.
    pub revision: u64,
    /// When the snapshot was assembled (wall clock of the machine running pooltop).
    pub taken_at: Timestamp,
    pub source: Source,
    /// Which of the three Calico API layouts the cluster has (`DOMAIN.md` §0.2).
    pub calico_api: CalicoApiMode,
    /// Per watched kind: loading, live, reconnecting, forbidden or not installed.
    pub feeds: BTreeMap<Kind, Feed>,

    pub nodes: Objects<Node>,
    /// All pods. Pods outside `calico-system` and `kube-system` are slimmed by the feed to what
    /// the model needs (metadata, owner references, node, phase, conditions, container states,
    /// IPs, emptyDir volumes).
    pub pods: Objects<Pod>,
    /// DaemonSets in `calico-system` and `kube-proxy-windows` in `kube-system`.
    pub daemon_sets: Objects<DaemonSet>,
    /// ControllerRevisions in `calico-system` and `kube-system` (DaemonSet revisions).
    pub controller_revisions: Objects<ControllerRevision>,
    /// Recent events, newest last; Warnings from everywhere and Normal events of Calico pods.
    pub events: Objects<Event>,

    pub installation: Option<Arc<Installation>>,
    pub api_server: Option<Arc<ApiServer>>,
    pub tigera_statuses: Objects<TigeraStatus>,
    /// `tigera-operator/kubernetes-services-endpoint`, when it exists.
    pub services_endpoint: Option<Arc<ConfigMap>>,
    /// `kube-system/kube-dns`, when it exists (the Windows CNI config needs its cluster IPs).
    pub kube_dns: Option<Arc<Service>>,
    /// `default/kubernetes`: its cluster IP must fall inside `Installation.spec.serviceCIDRs`.
    pub kubernetes_service: Option<Arc<Service>>,

    pub ip_pools: Objects<IpPool>,
    pub ipam_blocks: Objects<IpamBlock>,
    pub block_affinities: Objects<BlockAffinity>,
    pub ipam_handles: Objects<IpamHandle>,
    /// The singleton `default` (v1 `IPAMConfig` or v3 `IPAMConfiguration`), when it exists.
    pub ipam_config: Option<Arc<IpamConfig>>,
}

impl ClusterSnapshot {
    /// The feed state of `kind`; kinds the source never reported are still loading.
    pub fn feed(&self, kind: Kind) -> Feed {
        self.feeds.get(&kind).cloned().unwrap_or_default()
    }

    /// True once every kind has delivered its first complete list (or is known to be
    /// forbidden / not installed): from then on, absence in the snapshot means absence in the
    /// cluster.
    pub fn is_complete(&self) -> bool {
        Kind::ALL
            .iter()
            .all(|kind| !matches!(self.feed(*kind).state, FeedState::Loading))
    }
}

/// Where the snapshot comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// The kubeconfig context name (or the recording's file name).
    pub context: String,
    /// The API server URL.
    pub server: String,
    pub kind: SourceKind,
    /// No write request will ever be sent (flag, config, or a replayed recording).
    pub readonly: bool,
    /// `/version` `gitVersion`, when known.
    pub server_version: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SourceKind {
    #[default]
    Live,
    /// pooltop's own simulated cluster (`pooltop demo`): shown with a visible marker.
    Simulated,
    /// A recording being replayed: actions are disabled.
    Replay,
}

/// How the Calico API is exposed (`DOMAIN.md` §0.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CalicoApiMode {
    /// Discovery has not answered yet.
    #[default]
    Unknown,
    /// Neither `crd.projectcalico.org` nor `projectcalico.org`: Calico is not installed.
    NotInstalled,
    /// Mode A: `crd.projectcalico.org/v1` CRDs only.
    V1Crds,
    /// Mode B: v1 CRDs plus the aggregated `projectcalico.org/v3` API server.
    V1WithAggregatedV3,
    /// Mode C: native `projectcalico.org/v3` CRDs.
    NativeV3,
}

impl CalicoApiMode {
    /// Whether `projectcalico.org/v3` `ipamconfigurations` can be read and written.
    pub fn has_v3(self) -> bool {
        matches!(self, Self::V1WithAggregatedV3 | Self::NativeV3)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Unknown => "Calico API: not yet discovered",
            Self::NotInstalled => "Calico API: not installed",
            Self::V1Crds => "Calico API: v1 CRDs only (no Calico API server)",
            Self::V1WithAggregatedV3 => "Calico API: v1 CRDs + aggregated projectcalico.org/v3",
            Self::NativeV3 => "Calico API: native projectcalico.org/v3 CRDs",
        }
    }
}

/// The kinds the console watches, each with its own freshness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Nodes,
    Pods,
    DaemonSets,
    ControllerRevisions,
    Events,
    Installations,
    ApiServers,
    TigeraStatuses,
    ConfigMaps,
    Services,
    IpPools,
    IpamBlocks,
    BlockAffinities,
    IpamHandles,
    IpamConfigs,
}

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::Nodes,
        Kind::Pods,
        Kind::DaemonSets,
        Kind::ControllerRevisions,
        Kind::Events,
        Kind::Installations,
        Kind::ApiServers,
        Kind::TigeraStatuses,
        Kind::ConfigMaps,
        Kind::Services,
        Kind::IpPools,
        Kind::IpamBlocks,
        Kind::BlockAffinities,
        Kind::IpamHandles,
        Kind::IpamConfigs,
    ];

    /// The resource name as kubectl would show it (for "forbidden: list pods").
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Nodes => "nodes",
            Kind::Pods => "pods",
            Kind::DaemonSets => "daemonsets.apps",
            Kind::ControllerRevisions => "controllerrevisions.apps",
            Kind::Events => "events",
            Kind::Installations => "installations.operator.tigera.io",
            Kind::ApiServers => "apiservers.operator.tigera.io",
            Kind::TigeraStatuses => "tigerastatuses.operator.tigera.io",
            Kind::ConfigMaps => "configmaps",
            Kind::Services => "services",
            Kind::IpPools => "ippools",
            Kind::IpamBlocks => "ipamblocks",
            Kind::BlockAffinities => "blockaffinities",
            Kind::IpamHandles => "ipamhandles",
            Kind::IpamConfigs => "ipamconfigs",
        }
    }
}

/// How fresh one kind's data is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feed {
    pub state: FeedState,
    /// When the last watch event (or the initial list) of this kind arrived.
    pub last_event: Option<Timestamp>,
}

/// The life of one watcher, as the user should understand it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FeedState {
    /// The first list has not completed yet: absence of objects means nothing.
    #[default]
    Loading,
    /// Watching; the data is current.
    Live,
    /// The watch broke; the data is what was last seen. `error` is one line.
    Reconnecting { since: Timestamp, error: String },
    /// The credentials lack a permission: `verb` on `resource` (e.g. `list`, `pods`).
    Forbidden { verb: String, resource: String },
    /// The API group or resource does not exist on this cluster (e.g. Calico not installed).
    NotInstalled,
}
