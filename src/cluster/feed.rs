//! The snapshot feed: starts one watch per kind (two where a kind comes from two places), keeps
//! the Calico IPAM watches on the API group the cluster's current Calico mode calls for
//! (re-checking discovery every 30 s and whenever a Calico watch finds its resource gone), and
//! after each burst of changes (debounced ~100 ms) publishes one immutable
//! `Arc<ClusterSnapshot>` on a `tokio::sync::watch` channel. Everything stops when the token is
//! cancelled. Owns the wiring and the snapshot assembly; must not interpret the objects.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod, Service};
use kube::api::{Api, DynamicObject};
use kube::core::ApiResource;
use kube::runtime::watcher;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::watch as channel;
use tokio_util::sync::CancellationToken;

use super::connect::Connection;
use super::discovery::{CalicoSource, detect_calico_api};
use super::slim;
use super::store::KindStore;
use super::watch::{self, Signals, WatchTarget, lock};
use crate::model::calico::{BlockAffinity, IpPool, IpamBlock, IpamConfig, IpamHandle};
use crate::model::operator::{ApiServer, Installation, TigeraStatus};
use crate::model::snapshot::Objects;
use crate::model::{CalicoApiMode, ClusterSnapshot, FeedState, Kind, Source};

/// How many events a snapshot carries (the newest).
pub const MAX_EVENTS: usize = 2_000;

const CALICO_SYSTEM: &str = "calico-system";
const KUBE_SYSTEM: &str = "kube-system";
const OPERATOR_GROUP: &str = "operator.tigera.io";
const KUBE_PROXY_WINDOWS: &str = "kube-proxy-windows";

/// Timing of the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedConfig {
    /// How long after the first change of a burst the snapshot is built.
    pub debounce: Duration,
    /// How often discovery is asked again which Calico API the cluster has.
    pub discovery_interval: Duration,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(100),
            discovery_interval: Duration::from_secs(30),
        }
    }
}

/// A running feed. Dropping it does not stop it; cancel the token given to [`spawn_feed`] (or
/// call [`FeedHandle::stop`]).
#[derive(Debug, Clone)]
pub struct FeedHandle {
    /// The latest snapshot; revision 0 (everything loading) until the first build.
    pub rx: channel::Receiver<Arc<ClusterSnapshot>>,
    cancel: CancellationToken,
    build_micros: Arc<AtomicU64>,
}

impl FeedHandle {
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// How long assembling the latest snapshot took.
    pub fn last_build_time(&self) -> Duration {
        Duration::from_micros(self.build_micros.load(Ordering::Relaxed))
    }
}

/// Starts the feed for `connection` with the default timing.
pub fn spawn_feed(connection: &Connection, cancel: CancellationToken) -> FeedHandle {
    spawn_feed_with(connection, FeedConfig::default(), cancel)
}

/// Starts the feed; must be called inside a tokio runtime.
pub fn spawn_feed_with(
    connection: &Connection,
    config: FeedConfig,
    cancel: CancellationToken,
) -> FeedHandle {
    let stores = Arc::new(Stores::new());
    let signals = Arc::new(Signals::default());
    let client = connection.client.clone();
    spawn_static_watches(&client, &stores, &signals, &cancel);
    spawn_event_and_operator_watches(&client, &stores, &signals, &cancel);
    tokio::spawn(calico_supervisor(
        client,
        Arc::clone(&stores),
        Arc::clone(&signals),
        config.discovery_interval,
        cancel.clone(),
    ));
    let initial = ClusterSnapshot {
        source: connection.source.clone(),
        taken_at: Timestamp::now(),
        ..ClusterSnapshot::default()
    };
    let (tx, rx) = channel::channel(Arc::new(initial));
    let build_micros = Arc::new(AtomicU64::new(0));
    tokio::spawn(publish(
        tx,
        stores,
        signals,
        connection.source.clone(),
        config.debounce,
        Arc::clone(&build_micros),
        cancel.clone(),
    ));
    FeedHandle {
        rx,
        cancel,
        build_micros,
    }
}

/// Waits for a change, lets the burst settle, builds and publishes; until cancelled.
async fn publish(
    tx: channel::Sender<Arc<ClusterSnapshot>>,
    stores: Arc<Stores>,
    signals: Arc<Signals>,
    source: Source,
    debounce: Duration,
    build_micros: Arc<AtomicU64>,
    cancel: CancellationToken,
) {
    let mut revision = 0;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = signals.changed.notified() => {}
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(debounce) => {}
        }
        revision += 1;
        let started = std::time::Instant::now();
        let snapshot = stores.build(revision, source.clone());
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        build_micros.store(micros, Ordering::Relaxed);
        tracing::debug!(revision, micros, "snapshot built");
        tx.send_replace(Arc::new(snapshot));
    }
}

type Shared<T> = Arc<Mutex<KindStore<T>>>;

/// The stores of every kind plus the Calico mode, shared by the watches and the publisher.
struct Stores {
    calico_api: Mutex<CalicoApiMode>,
    nodes: Shared<Node>,
    pods: Shared<Pod>,
    daemon_sets: Shared<DaemonSet>,
    controller_revisions: Shared<ControllerRevision>,
    events: Shared<Event>,
    installations: Shared<Installation>,
    api_servers: Shared<ApiServer>,
    tigera_statuses: Shared<TigeraStatus>,
    config_maps: Shared<ConfigMap>,
    services: Shared<Service>,
    ip_pools: Shared<IpPool>,
    ipam_blocks: Shared<IpamBlock>,
    block_affinities: Shared<BlockAffinity>,
    ipam_handles: Shared<IpamHandle>,
    ipam_configs: Shared<IpamConfig>,
}

fn shared<T>(partitions: usize) -> Shared<T> {
    Arc::new(Mutex::new(KindStore::new(partitions)))
}

impl Stores {
    fn new() -> Self {
        Self {
            calico_api: Mutex::new(CalicoApiMode::Unknown),
            nodes: shared(1),
            pods: shared(1),
            daemon_sets: shared(2),
            controller_revisions: shared(2),
            events: Arc::new(Mutex::new(
                KindStore::new(2).with_finish(|events| slim::newest_events(events, MAX_EVENTS)),
            )),
            installations: shared(1),
            api_servers: shared(1),
            tigera_statuses: shared(1),
            config_maps: shared(1),
            services: shared(2),
            ip_pools: shared(1),
            ipam_blocks: shared(1),
            block_affinities: shared(1),
            ipam_handles: shared(1),
            ipam_configs: shared(1),
        }
    }

    fn calico_api(&self) -> CalicoApiMode {
        *self
            .calico_api
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets the mode; returns whether it changed.
    fn set_calico_api(&self, mode: CalicoApiMode) -> bool {
        let mut current = self
            .calico_api
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = *current != mode;
        *current = mode;
        changed
    }

    fn reset_calico(&self, state: &FeedState) {
        lock(&self.ip_pools).reset(state);
        lock(&self.ipam_blocks).reset(state);
        lock(&self.block_affinities).reset(state);
        lock(&self.ipam_handles).reset(state);
        lock(&self.ipam_configs).reset(state);
    }

    fn build(&self, revision: u64, source: Source) -> ClusterSnapshot {
        let mut feeds = BTreeMap::new();
        let nodes = take(&mut feeds, Kind::Nodes, &self.nodes);
        let pods = take(&mut feeds, Kind::Pods, &self.pods);
        let daemon_sets = take(&mut feeds, Kind::DaemonSets, &self.daemon_sets);
        let controller_revisions = take(
            &mut feeds,
            Kind::ControllerRevisions,
            &self.controller_revisions,
        );
        let events = take(&mut feeds, Kind::Events, &self.events);
        let installations = take(&mut feeds, Kind::Installations, &self.installations);
        let api_servers = take(&mut feeds, Kind::ApiServers, &self.api_servers);
        let tigera_statuses = take(&mut feeds, Kind::TigeraStatuses, &self.tigera_statuses);
        let config_maps = take(&mut feeds, Kind::ConfigMaps, &self.config_maps);
        let services = take(&mut feeds, Kind::Services, &self.services);
        let ip_pools = take(&mut feeds, Kind::IpPools, &self.ip_pools);
        let ipam_blocks = take(&mut feeds, Kind::IpamBlocks, &self.ipam_blocks);
        let block_affinities = take(&mut feeds, Kind::BlockAffinities, &self.block_affinities);
        let ipam_handles = take(&mut feeds, Kind::IpamHandles, &self.ipam_handles);
        let ipam_configs = take(&mut feeds, Kind::IpamConfigs, &self.ipam_configs);
        // Ages are measured against the cluster's clock where it shows: a server whose clock
        // runs ahead (the demo's sped-up simulator, or skew) would otherwise give "<invalid>".
        let now = Timestamp::now();
        let taken_at = newest_event_time(&events).map_or(now, |newest| newest.max(now));
        ClusterSnapshot {
            revision,
            taken_at,
            source,
            calico_api: self.calico_api(),
            feeds,
            nodes,
            pods,
            daemon_sets,
            controller_revisions,
            events,
            installation: singleton(&installations, |i| i.metadata.name.as_deref()),
            api_server: singleton(&api_servers, |a| a.metadata.name.as_deref()),
            tigera_statuses,
            services_endpoint: config_maps.first().cloned(),
            kube_dns: named(&services, KUBE_SYSTEM, "kube-dns"),
            kubernetes_service: named(&services, "default", "kubernetes"),
            ip_pools,
            ipam_blocks,
            block_affinities,
            ipam_handles,
            ipam_config: singleton(&ipam_configs, |c| c.metadata.name.as_deref()),
        }
    }
}

/// The latest time any event was recorded: the server's own idea of "now", give or take.
fn newest_event_time(events: &Objects<k8s_openapi::api::core::v1::Event>) -> Option<Timestamp> {
    events
        .iter()
        .filter_map(|event| {
            event
                .last_timestamp
                .as_ref()
                .map(|t| t.0)
                .or_else(|| event.event_time.as_ref().map(|t| t.0))
                .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
        })
        .max()
}

/// Reads one kind's objects and records its feed state.
fn take<T>(
    feeds: &mut BTreeMap<Kind, crate::model::Feed>,
    kind: Kind,
    store: &Mutex<KindStore<T>>,
) -> Objects<T> {
    let mut store = lock(store);
    feeds.insert(kind, store.feed());
    store.objects()
}

/// The object named `default` (the operator's and Calico's singletons), else the first.
fn singleton<T>(objects: &Objects<T>, name: impl Fn(&T) -> Option<&str>) -> Option<Arc<T>> {
    objects
        .iter()
        .find(|o| name(o) == Some("default"))
        .or_else(|| objects.first())
        .cloned()
}

fn named(services: &Objects<Service>, namespace: &str, name: &str) -> Option<Arc<Service>> {
    services
        .iter()
        .find(|s| {
            s.metadata.namespace.as_deref() == Some(namespace)
                && s.metadata.name.as_deref() == Some(name)
        })
        .cloned()
}

/// Watches whose API does not depend on the Calico mode.
fn spawn_static_watches(
    client: &kube::Client,
    stores: &Stores,
    signals: &Arc<Signals>,
    cancel: &CancellationToken,
) {
    let all = watcher::Config::default();
    let named = |name: &str| watcher::Config::default().fields(&format!("metadata.name={name}"));
    let ctx = (signals, cancel);

    tokio::spawn(start(
        ctx,
        target(
            Api::all(client.clone()),
            all.clone(),
            Kind::Nodes,
            0,
            &stores.nodes,
        ),
        |node: Node| Some(slim::node(node)),
    ));
    tokio::spawn(start(
        ctx,
        target(
            Api::all(client.clone()),
            all.clone(),
            Kind::Pods,
            0,
            &stores.pods,
        ),
        |pod| Some(slim::pod(pod)),
    ));

    let daemon_set = |mut ds: DaemonSet| {
        slim::drop_managed_fields(&mut ds.metadata);
        Some(ds)
    };
    tokio::spawn(start(
        ctx,
        target(
            Api::namespaced(client.clone(), CALICO_SYSTEM),
            all.clone(),
            Kind::DaemonSets,
            0,
            &stores.daemon_sets,
        ),
        daemon_set,
    ));
    tokio::spawn(start(
        ctx,
        target(
            Api::namespaced(client.clone(), KUBE_SYSTEM),
            named(KUBE_PROXY_WINDOWS),
            Kind::DaemonSets,
            1,
            &stores.daemon_sets,
        ),
        daemon_set,
    ));

    let revision = |mut cr: ControllerRevision| {
        slim::drop_managed_fields(&mut cr.metadata);
        Some(cr)
    };
    tokio::spawn(start(
        ctx,
        target(
            Api::namespaced(client.clone(), CALICO_SYSTEM),
            all.clone(),
            Kind::ControllerRevisions,
            0,
            &stores.controller_revisions,
        ),
        revision,
    ));
    tokio::spawn(start(
        ctx,
        target(
            Api::namespaced(client.clone(), KUBE_SYSTEM),
            all.clone(),
            Kind::ControllerRevisions,
            1,
            &stores.controller_revisions,
        ),
        move |cr: ControllerRevision| {
            // kube-system holds every DaemonSet's and StatefulSet's revisions; keep kube-proxy-windows'.
            let owned = cr
                .metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.kind == "DaemonSet" && o.name == KUBE_PROXY_WINDOWS);
            owned.then(|| revision(cr)).flatten()
        },
    ));
}

/// Watches of events and the operator's objects, also independent of the Calico mode.
fn spawn_event_and_operator_watches(
    client: &kube::Client,
    stores: &Stores,
    signals: &Arc<Signals>,
    cancel: &CancellationToken,
) {
    let all = watcher::Config::default();
    let named = |name: &str| watcher::Config::default().fields(&format!("metadata.name={name}"));
    let ctx = (signals, cancel);
    tokio::spawn(start(
        ctx,
        target(
            Api::all(client.clone()),
            watcher::Config::default().fields("type=Warning"),
            Kind::Events,
            0,
            &stores.events,
        ),
        slim::warning_event,
    ));
    tokio::spawn(start(
        ctx,
        target(
            Api::namespaced(client.clone(), CALICO_SYSTEM),
            all.clone(),
            Kind::Events,
            1,
            &stores.events,
        ),
        slim::calico_pod_event,
    ));

    let operator =
        |kind: &str, plural: &str| dynamic_api(client, OPERATOR_GROUP, "v1", kind, plural);
    tokio::spawn(start(
        ctx,
        target(
            operator("Installation", "installations"),
            all.clone(),
            Kind::Installations,
            0,
            &stores.installations,
        ),
        from_dynamic::<Installation>,
    ));
    tokio::spawn(start(
        ctx,
        target(
            operator("APIServer", "apiservers"),
            all.clone(),
            Kind::ApiServers,
            0,
            &stores.api_servers,
        ),
        from_dynamic::<ApiServer>,
    ));
    tokio::spawn(start(
        ctx,
        target(
            operator("TigeraStatus", "tigerastatuses"),
            all.clone(),
            Kind::TigeraStatuses,
            0,
            &stores.tigera_statuses,
        ),
        from_dynamic::<TigeraStatus>,
    ));

    tokio::spawn(start(
        ctx,
        target(
            Api::namespaced(client.clone(), "tigera-operator"),
            named("kubernetes-services-endpoint"),
            Kind::ConfigMaps,
            0,
            &stores.config_maps,
        ),
        |mut cm: ConfigMap| {
            slim::drop_managed_fields(&mut cm.metadata);
            Some(cm)
        },
    ));
    let service = |mut svc: Service| {
        slim::drop_managed_fields(&mut svc.metadata);
        Some(svc)
    };
    tokio::spawn(start(
        ctx,
        target(
            Api::namespaced(client.clone(), KUBE_SYSTEM),
            named("kube-dns"),
            Kind::Services,
            0,
            &stores.services,
        ),
        service,
    ));
    tokio::spawn(start(
        ctx,
        target(
            Api::namespaced(client.clone(), "default"),
            named("kubernetes"),
            Kind::Services,
            1,
            &stores.services,
        ),
        service,
    ));
}

/// The watches of the Calico IPAM kinds in the group `source` names.
fn spawn_calico_watches(
    client: &kube::Client,
    source: CalicoSource,
    stores: &Stores,
    signals: &Arc<Signals>,
    cancel: &CancellationToken,
) {
    let all = watcher::Config::default();
    let ctx = (signals, cancel);
    let api = |kind: &str, plural: &str| {
        dynamic_api(client, source.group(), source.version(), kind, plural)
    };
    tokio::spawn(start(
        ctx,
        target(
            api("IPPool", "ippools"),
            all.clone(),
            Kind::IpPools,
            0,
            &stores.ip_pools,
        ),
        from_dynamic::<IpPool>,
    ));
    tokio::spawn(start(
        ctx,
        target(
            api("IPAMBlock", "ipamblocks"),
            all.clone(),
            Kind::IpamBlocks,
            0,
            &stores.ipam_blocks,
        ),
        from_dynamic::<IpamBlock>,
    ));
    tokio::spawn(start(
        ctx,
        target(
            api("BlockAffinity", "blockaffinities"),
            all.clone(),
            Kind::BlockAffinities,
            0,
            &stores.block_affinities,
        ),
        from_dynamic::<BlockAffinity>,
    ));
    tokio::spawn(start(
        ctx,
        target(
            api("IPAMHandle", "ipamhandles"),
            all.clone(),
            Kind::IpamHandles,
            0,
            &stores.ipam_handles,
        ),
        from_dynamic::<IpamHandle>,
    ));
    let (kind, plural) = source.ipam_config();
    let api_version = format!("{}/{}", source.group(), source.version());
    tokio::spawn(start(
        ctx,
        target(
            api(kind, plural),
            all,
            Kind::IpamConfigs,
            0,
            &stores.ipam_configs,
        ),
        move |object| {
            let mut config = from_dynamic::<IpamConfig>(object)?;
            config.api_version.clone_from(&api_version);
            Some(config)
        },
    ));
}

fn target<K, T>(
    api: Api<K>,
    config: watcher::Config,
    kind: Kind,
    partition: usize,
    store: &Shared<T>,
) -> WatchTarget<K, T> {
    WatchTarget {
        api,
        config,
        kind,
        partition,
        store: Arc::clone(store),
    }
}

fn start<K, T, C>(
    (signals, cancel): (&Arc<Signals>, &CancellationToken),
    target: WatchTarget<K, T>,
    convert: C,
) -> impl Future<Output = ()> + Send + 'static
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    T: Send + Sync + 'static,
    C: Fn(K) -> Option<T> + Send + 'static,
{
    watch::run(target, convert, Arc::clone(signals), cancel.clone())
}

fn dynamic_api(
    client: &kube::Client,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let resource = ApiResource {
        group: group.to_owned(),
        version: version.to_owned(),
        api_version: format!("{group}/{version}"),
        kind: kind.to_owned(),
        plural: plural.to_owned(),
    };
    Api::all_with(client.clone(), &resource)
}

/// A custom resource as the model's typed view, without managed fields. An object that does
/// not fit the type is logged and left out rather than failing the whole kind.
fn from_dynamic<T: DeserializeOwned>(object: DynamicObject) -> Option<T> {
    let name = object.metadata.name.clone().unwrap_or_default();
    let mut value = serde_json::to_value(object).ok()?;
    if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    match serde_json::from_value(value) {
        Ok(typed) => Some(typed),
        Err(error) => {
            tracing::warn!(%name, %error, type_name = std::any::type_name::<T>(), "object left out");
            None
        }
    }
}

/// Follows the Calico API mode and keeps the IPAM watches on the right group.
async fn calico_supervisor(
    client: kube::Client,
    stores: Arc<Stores>,
    signals: Arc<Signals>,
    interval: Duration,
    cancel: CancellationToken,
) {
    // The group the running IPAM watches read, and the token that stops them.
    let mut running: Option<(Option<CalicoSource>, CancellationToken)> = None;
    loop {
        match detect_calico_api(&client).await {
            Ok(mode) => {
                let mut changed = stores.set_calico_api(mode);
                let source = CalicoSource::for_mode(mode);
                if running.as_ref().map(|(s, _)| *s) != Some(source) {
                    if let Some((_, token)) = running.take() {
                        token.cancel();
                    }
                    let token = cancel.child_token();
                    match source {
                        Some(source) => {
                            tracing::info!(?mode, "watching Calico IPAM in {}", source.group());
                            stores.reset_calico(&FeedState::Loading);
                            spawn_calico_watches(&client, source, &stores, &signals, &token);
                        }
                        None => stores.reset_calico(&FeedState::NotInstalled),
                    }
                    running = Some((source, token));
                    changed = true;
                }
                if changed {
                    signals.changed.notify_one();
                }
            }
            Err(error) => tracing::warn!(%error, "discovery failed; keeping the Calico API mode"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
            () = signals.recheck_discovery.notified() => {}
        }
    }
}
