//! The simulated Tigera operator (v1.33, Calico v3.27.3): it reconciles the
//! `operator.tigera.io/v1` Installation and APIServer named `default` the way the real
//! operator's core, IP pool, Windows and API server controllers do. It writes the Installation
//! defaults back, creates `calico-system` and its workloads, the IP pools, FelixConfiguration
//! defaults and the operator certificates; renders `calico-node-windows` only once the Windows
//! prerequisites hold (services endpoint, service CIDRs, encapsulation, the v3
//! IPAMConfiguration with strictAffinity, kube-dns); brings up the `calico-apiserver` and its
//! APIService; and reports through TigeraStatus (`calico`, `ippools`, `calico-windows`,
//! `apiserver`) and the custom resources' status. It writes through the store as field manager
//! `tigera-operator`, only when something differs. It never touches pods, nodes or IPAM
//! blocks (the kubelet, DaemonSet and IPAM controllers do) and does not serve the aggregated
//! `projectcalico.org/v3` API; it only reads it through the store's registry.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::informer::{Change, Informer, Key};
use super::operator_render::{
    self as render, APISERVER, APISERVER_CERTS, APISERVER_NAMESPACE, APISERVER_SERVICE, APISERVICE,
    ApiServerInputs, CA_SECRET, CALICO_NAMESPACE, CALICO_VERSION, Certificates, CoreInputs,
    ENDPOINT_CONFIGMAP, Endpoint, KUBE_CONTROLLERS, KeyPairPem, NODE, NODE_CERTS,
    OPERATOR_NAMESPACE, Spec, TYPHA, TYPHA_CERTS, WINDOWS_CNI_CONFIG, WINDOWS_NODE, WindowsInputs,
};
use super::operator_status::{
    self as status, DaemonSetState, DeploymentState, INVALID_CONFIGURATION, RESOURCE_NOT_FOUND,
    RESOURCE_NOT_READY, RESOURCE_READ_ERROR, RESOURCE_UPDATE_ERROR, Report, Workload,
};
use crate::sim::aggregated;
use crate::sim::builtin;
use crate::sim::clock::rfc3339;
use crate::sim::defaults;
use crate::sim::resource::{Origin, ResourceType};
use crate::sim::store::{Store, StoredObject};
use crate::sim::write::{DeleteOptions, Part, PatchType, WriteOptions};

/// The field manager of every operator write.
pub const MANAGER: &str = "tigera-operator";
const OPERATOR_GROUP: &str = "operator.tigera.io";
const CALICO_V1: &str = "crd.projectcalico.org";
/// TigeraStatus names.
const CALICO: &str = "calico";
const IPPOOLS: &str = "ippools";
const WINDOWS: &str = "calico-windows";
const APISERVER_STATUS: &str = "apiserver";
/// How often the operator looks at the store, in real time.
const TICK: Duration = Duration::from_millis(100);
/// The status manager's resync period, in simulated time; it doubles as the periodic
/// reconcile, which is cheap because unchanged objects are never written.
const RESYNC: SignedDuration = SignedDuration::from_secs(5);
/// Service fields the API server assigns; the operator never renders them, so it keeps them.
const SERVER_ASSIGNED_SERVICE_FIELDS: [&str; 5] = [
    "clusterIP",
    "clusterIPs",
    "ipFamilies",
    "ipFamilyPolicy",
    "internalTrafficPolicy",
];

/// Runs the operator until the store shuts down.
pub async fn run(store: Arc<Store>) {
    let mut operator = Operator::new(Arc::clone(&store));
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = store.shutdown.cancelled() => {
                tracing::debug!("tigera-operator stopped");
                return;
            }
            _ = ticker.tick() => operator.step(),
        }
    }
}

/// What the status manager knows of a calico pod: its labels and whether it is failing.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PodFacts {
    labels: BTreeMap<String, String>,
    failure: Option<String>,
}

fn in_operator_namespaces(namespace: &str) -> bool {
    namespace == CALICO_NAMESPACE || namespace == APISERVER_NAMESPACE
}

// The informer's projection signature: `Some` keeps the object.
#[allow(clippy::unnecessary_wraps)]
fn any_object(_: &StoredObject) -> Option<()> {
    Some(())
}

fn any_key(_: &Key) -> bool {
    true
}

fn endpoint_configmap(obj: &StoredObject) -> Option<()> {
    endpoint_key(&(obj.namespace.clone(), obj.name.clone())).then_some(())
}

fn endpoint_key(key: &Key) -> bool {
    key.0 == OPERATOR_NAMESPACE && key.1 == ENDPOINT_CONFIGMAP
}

fn watched_service(obj: &StoredObject) -> Option<()> {
    watched_service_key(&(obj.namespace.clone(), obj.name.clone())).then_some(())
}

fn watched_service_key(key: &Key) -> bool {
    (key.0 == "kube-system" && key.1 == "kube-dns")
        || (key.0 == APISERVER_NAMESPACE && key.1 == APISERVER_SERVICE)
}

fn owned_workload(obj: &StoredObject) -> Option<()> {
    in_operator_namespaces(&obj.namespace).then_some(())
}

fn owned_key(key: &Key) -> bool {
    in_operator_namespaces(&key.0)
}

fn node_is_linux(obj: &StoredObject) -> Option<bool> {
    obj.labels.get("kubernetes.io/os").map(|os| os == "linux")
}

fn no_key(_: &Key) -> bool {
    // Node changes matter only through the Linux node count, checked separately.
    false
}

fn calico_pod(obj: &StoredObject) -> Option<PodFacts> {
    // Decided on the namespace before parsing: the cluster's workload pods are never decoded.
    if !in_operator_namespaces(&obj.namespace) {
        return None;
    }
    let value = obj.value().ok()?;
    Some(PodFacts {
        labels: obj.labels.clone(),
        failure: status::pod_failure(&obj.namespace, &obj.name, &value),
    })
}

/// One watched resource: an informer once the resource is served.
struct Watch<T> {
    gvr: (&'static str, &'static str, &'static str),
    project: fn(&StoredObject) -> Option<T>,
    relevant: fn(&Key) -> bool,
    informer: Option<Informer<T>>,
}

impl<T> Watch<T> {
    fn new(
        gvr: (&'static str, &'static str, &'static str),
        project: fn(&StoredObject) -> Option<T>,
        relevant: fn(&Key) -> bool,
    ) -> Self {
        Self {
            gvr,
            project,
            relevant,
            informer: None,
        }
    }

    /// Applies whatever changed since the last poll, without waiting. True when a relevant
    /// object changed, or when the resource started or stopped being served.
    fn poll(&mut self, store: &Arc<Store>) -> bool {
        let Some(informer) = self.informer.as_mut() else {
            let (group, version, plural) = self.gvr;
            self.informer = Informer::new(store, group, version, plural, self.project);
            return self.informer.is_some();
        };
        let mut relevant = false;
        loop {
            match informer.changed().now_or_never() {
                None => return relevant,
                Some(Some(changes)) => {
                    relevant |= changes.iter().any(|c| match c {
                        Change::Upsert(key, _) | Change::Removed(key) => (self.relevant)(key),
                    });
                }
                Some(None) => break,
            }
        }
        // The resource's CRD is gone.
        self.informer = None;
        true
    }
}

/// Everything the operator follows.
struct Watches {
    triggers: Vec<Watch<()>>,
    nodes: Watch<bool>,
    pods: Watch<PodFacts>,
}

impl Watches {
    fn new() -> Self {
        let everything = |gvr| Watch::new(gvr, any_object, any_key);
        Self {
            triggers: vec![
                everything((OPERATOR_GROUP, "v1", "installations")),
                everything((OPERATOR_GROUP, "v1", "apiservers")),
                everything((CALICO_V1, "v1", "ipamconfigs")),
                everything(("projectcalico.org", "v3", "ipamconfigurations")),
                everything((CALICO_V1, "v1", "felixconfigurations")),
                everything((CALICO_V1, "v1", "ippools")),
                everything(("apiregistration.k8s.io", "v1", "apiservices")),
                Watch::new(("", "v1", "configmaps"), endpoint_configmap, endpoint_key),
                Watch::new(("", "v1", "services"), watched_service, watched_service_key),
                Watch::new(("apps", "v1", "daemonsets"), owned_workload, owned_key),
                Watch::new(("apps", "v1", "deployments"), owned_workload, owned_key),
            ],
            nodes: Watch::new(("", "v1", "nodes"), node_is_linux, no_key),
            pods: Watch::new(("", "v1", "pods"), calico_pod, owned_key),
        }
    }

    fn poll(&mut self, store: &Arc<Store>) -> bool {
        let mut changed = false;
        for watch in &mut self.triggers {
            changed |= watch.poll(store);
        }
        changed |= self.nodes.poll(store);
        changed |= self.pods.poll(store);
        changed
    }

    fn linux_nodes(&self) -> usize {
        self.nodes
            .informer
            .as_ref()
            .map_or(0, |i| i.iter().filter(|(_, linux)| ***linux).count())
    }

    /// The first failing pod a selector matches in a namespace.
    fn failing_pod(&self, namespace: &str, selector: &BTreeMap<String, String>) -> Option<String> {
        self.pods
            .informer
            .as_ref()?
            .in_namespace(namespace)
            .find_map(|(_, pod)| {
                let selected = selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v));
                if selected { pod.failure.clone() } else { None }
            })
    }
}

/// The Installation as this reconcile left it, for the Windows and API server controllers.
struct InstallationView {
    computed: Value,
    status: Value,
}

/// Why the Windows controller cannot render yet: reason, message and the error behind it.
type Blocked = (&'static str, String, Option<String>);

/// The operator's state between reconciles.
pub struct Operator {
    store: Arc<Store>,
    watches: Watches,
    linux_nodes: usize,
    /// Components whose status manager was told it is ready to monitor.
    ready: BTreeSet<&'static str>,
    certificates: Option<Certificates>,
    apiserver_certificate: Option<KeyPairPem>,
    /// What was last rendered for each object (kind, namespace, name) and the version that
    /// matched it: unchanged renderings of unchanged objects skip the comparison.
    applied: HashMap<(String, String, String), (Value, u64)>,
    next_resync: Option<Timestamp>,
    retry: bool,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("ready", &self.ready)
            .field("linux_nodes", &self.linux_nodes)
            .finish_non_exhaustive()
    }
}

impl Operator {
    pub fn new(store: Arc<Store>) -> Self {
        Self {
            store,
            watches: Watches::new(),
            linux_nodes: 0,
            ready: BTreeSet::new(),
            certificates: None,
            apiserver_certificate: None,
            applied: HashMap::new(),
            next_resync: None,
            retry: false,
        }
    }

    /// One tick: follows the store and reconciles when something relevant changed, a failed
    /// write is to be retried, or the periodic resync is due.
    pub fn step(&mut self) {
        let changed = self.refresh();
        let now = self.store.clock.now();
        let due = self.next_resync.is_none_or(|at| now >= at);
        if changed || due || self.retry {
            self.retry = false;
            self.reconcile_all();
            self.next_resync = now.checked_add(RESYNC).ok();
        }
    }

    /// Reconciles everything once, right now: Installation (core and IP pools), Windows, API
    /// server. Scenario builders can call it to materialise what the operator would have
    /// created on a cluster where it already ran.
    pub fn reconcile(&mut self) {
        self.refresh();
        self.reconcile_all();
    }

    /// Catches up with the store; true when something relevant changed.
    fn refresh(&mut self) -> bool {
        let changed = self.watches.poll(&self.store);
        let nodes = self.watches.linux_nodes();
        let resized = nodes != self.linux_nodes;
        self.linux_nodes = nodes;
        changed || resized
    }

    fn reconcile_all(&mut self) {
        let installation = self.reconcile_installation();
        self.reconcile_windows(installation.as_ref());
        self.reconcile_apiserver(installation.as_ref());
    }

    fn resource(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.store.registry().get(group, version, plural)
    }

    fn now(&self) -> String {
        rfc3339(self.store.clock.now())
    }

    fn report(&self, component: &'static str) -> Report {
        Report {
            ready_to_monitor: self.ready.contains(component),
            degraded: None,
        }
    }

    fn mark_ready(&mut self, component: &'static str, report: &mut Report) {
        self.ready.insert(component);
        report.ready_to_monitor = true;
    }

    fn reconcile_installation(&mut self) -> Option<InstallationView> {
        let rt = self.resource(OPERATOR_GROUP, "v1", "installations")?;
        let Some(stored) = self.store.try_get(&rt, "", "default") else {
            for component in [CALICO, IPPOOLS, WINDOWS] {
                self.remove_status(component);
            }
            return None;
        };
        let value = stored.value().ok()?;
        let generation = value
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let raw = value.get("spec").cloned().unwrap_or_else(|| json!({}));
        let computed = render::fill_defaults(&raw);
        let mut calico = self.report(CALICO);
        let mut ippools = self.report(IPPOOLS);
        match render::validate(&computed) {
            Err(err) => calico.degrade(
                INVALID_CONFIGURATION,
                "Invalid Installation provided",
                Some(&err),
            ),
            Ok(()) => self.install(&rt, &stored, &raw, &computed, &mut calico, &mut ippools),
        }
        let selector = |app: &str| BTreeMap::from([("k8s-app".to_string(), app.to_string())]);
        let workloads = vec![
            self.daemonset_workload(CALICO_NAMESPACE, NODE, selector(NODE)),
            self.deployment_workload(CALICO_NAMESPACE, TYPHA, selector(TYPHA)),
            self.deployment_workload(
                CALICO_NAMESPACE,
                KUBE_CONTROLLERS,
                selector(KUBE_CONTROLLERS),
            ),
        ];
        let conditions = self.publish(CALICO, &calico, &workloads, generation);
        self.publish(IPPOOLS, &ippools, &[], generation);
        let status = self.write_installation_status(&rt, &computed, &conditions);
        Some(InstallationView { computed, status })
    }

    fn install(
        &mut self,
        rt: &ResourceType,
        stored: &StoredObject,
        raw: &Value,
        computed: &Value,
        calico: &mut Report,
        ippools: &mut Report,
    ) {
        if let Err(err) = self.write_defaults(rt, stored, raw, computed) {
            calico.degrade(
                RESOURCE_UPDATE_ERROR,
                "Failed to write defaults",
                Some(&err),
            );
            self.retry = true;
            return;
        }
        match self.ensure_pools(computed) {
            Ok(()) => self.mark_ready(IPPOOLS, ippools),
            Err(err) => {
                ippools.degrade(
                    RESOURCE_UPDATE_ERROR,
                    "Error creating / updating resource",
                    Some(&err),
                );
                self.retry = true;
            }
        }
        if let Err(err) = self.ensure_felix_defaults(computed) {
            calico.degrade(RESOURCE_UPDATE_ERROR, "Error updating resource", Some(&err));
            self.retry = true;
            return;
        }
        let certificates = match self.certificates() {
            Ok(certificates) => certificates,
            Err(err) => {
                calico.degrade(
                    "ResourceCreateError",
                    "Unable to create the Tigera CA",
                    Some(&err),
                );
                self.retry = true;
                return;
            }
        };
        let owner = render::owner_reference("Installation", "default", &stored.uid);
        let inputs = CoreInputs {
            spec: Spec(computed),
            owner,
            endpoint: self.endpoint(),
            linux_nodes: self.linux_nodes,
            certificates: &certificates,
        };
        if let Err(err) = self.ensure_all(&render::render_core(&inputs)) {
            calico.degrade(
                RESOURCE_UPDATE_ERROR,
                "Error creating / updating resource",
                Some(&err),
            );
            self.retry = true;
            return;
        }
        self.mark_ready(CALICO, calico);
    }

    /// Writes the filled-in defaults back into the Installation spec, as a merge patch of
    /// just the added fields, pinned to the version that was read.
    fn write_defaults(
        &self,
        rt: &ResourceType,
        stored: &StoredObject,
        raw: &Value,
        computed: &Value,
    ) -> Result<(), String> {
        if raw == computed {
            return Ok(());
        }
        let patch = json!({"metadata": {"resourceVersion": stored.rv.to_string()}, "spec": merge_diff(raw, computed)});
        self.store
            .patch(
                rt,
                "",
                &stored.name,
                PatchType::Merge,
                &patch,
                Part::Main,
                &WriteOptions::manager(MANAGER),
            )
            .map(drop)
            .map_err(|e| e.message)
    }

    /// Creates the IP pools the Installation asks for. Existing pools are left alone: the
    /// pools section only takes effect at install time.
    fn ensure_pools(&self, computed: &Value) -> Result<(), String> {
        let pools = render::render_pools(Spec(computed));
        if pools.is_empty() {
            return Ok(());
        }
        let rt = self.resource(CALICO_V1, "v1", "ippools").ok_or(
            "the server could not find the requested resource (ippools.crd.projectcalico.org)",
        )?;
        for pool in pools {
            let name = pool["metadata"]["name"].as_str().unwrap_or_default();
            if self.store.try_get(&rt, "", name).is_none() {
                self.store
                    .create(&rt, None, pool.clone(), &WriteOptions::manager(MANAGER))
                    .map_err(|e| e.message)?;
            }
        }
        Ok(())
    }

    /// Fills the FelixConfiguration `default` fields the operator owns when they are unset;
    /// values someone set are kept.
    fn ensure_felix_defaults(&self, computed: &Value) -> Result<(), String> {
        let Some(rt) = self.resource(CALICO_V1, "v1", "felixconfigurations") else {
            return Ok(());
        };
        let defaults = render::felix_defaults(Spec(computed));
        let opts = WriteOptions::manager(MANAGER);
        let Some(current) = self.store.try_get(&rt, "", "default") else {
            let body = json!({"apiVersion": format!("{CALICO_V1}/v1"), "kind": "FelixConfiguration", "metadata": {"name": "default"}, "spec": defaults});
            return self
                .store
                .create(&rt, None, body, &opts)
                .map(drop)
                .map_err(|e| e.message);
        };
        let spec = current
            .value()
            .map_err(|e| e.message)?
            .get("spec")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let missing: serde_json::Map<String, Value> = defaults
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| spec.get(k.as_str()).is_none_or(Value::is_null))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let patch =
            json!({"metadata": {"resourceVersion": current.rv.to_string()}, "spec": missing});
        self.store
            .patch(
                &rt,
                "",
                "default",
                PatchType::Merge,
                &patch,
                Part::Main,
                &opts,
            )
            .map(drop)
            .map_err(|e| e.message)
    }

    /// The Kubernetes API endpoint from the services-endpoint ConfigMap; empty when absent.
    fn endpoint(&self) -> Endpoint {
        let Some(rt) = self.resource("", "v1", "configmaps") else {
            return Endpoint::default();
        };
        let Some(value) = self
            .store
            .try_get(&rt, OPERATOR_NAMESPACE, ENDPOINT_CONFIGMAP)
            .and_then(|o| o.value().ok())
        else {
            return Endpoint::default();
        };
        let text = |key: &str| {
            value
                .pointer(&format!("/data/{key}"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Endpoint {
            host: text("KUBERNETES_SERVICE_HOST"),
            port: text("KUBERNETES_SERVICE_PORT"),
        }
    }

    /// Key material for one certificate, from the store's sequence for its common name, so
    /// certificates (and the DaemonSet templates that carry their hashes) are the same in
    /// every run whatever the operator was asked to do first.
    fn seed(&self, common_name: &str) -> [u8; 32] {
        let key = format!("operator/key/{common_name}");
        let mut seed = [0u8; 32];
        for chunk in seed.chunks_mut(8) {
            chunk.copy_from_slice(&self.store.draw(&key).to_le_bytes());
        }
        seed
    }

    fn serial(&self, common_name: &str) -> u64 {
        self.store
            .draw_below(&format!("operator/serial/{common_name}"), 1 << 62)
            + 1
    }

    fn today(&self) -> (i16, i8, i8) {
        let date = self
            .store
            .clock
            .now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        (date.year(), date.month(), date.day())
    }

    fn read_pair(&self, namespace: &str, name: &str) -> Option<KeyPairPem> {
        use base64::Engine as _;
        let rt = self.resource("", "v1", "secrets")?;
        let value = self.store.try_get(&rt, namespace, name)?.value().ok()?;
        let field = |key: &str| {
            let encoded = value.pointer(&format!("/data/{key}"))?.as_str()?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            String::from_utf8(bytes).ok()
        };
        Some(KeyPairPem {
            cert: field("tls.crt")?,
            key: field("tls.key")?,
        })
    }

    fn issue(
        &self,
        ca: &KeyPairPem,
        common_name: &str,
        dns_names: Vec<String>,
    ) -> Result<KeyPairPem, String> {
        render::issue(
            ca,
            &self.seed(common_name),
            self.serial(common_name),
            self.today(),
            common_name,
            dns_names,
        )
        .map_err(|e| e.to_string())
    }

    /// The operator CA (kept in `tigera-operator/tigera-ca-private`) and the Typha and node
    /// key pairs; existing ones are reused so that restarts do not roll the DaemonSets.
    fn certificates(&mut self) -> Result<Certificates, String> {
        let ca = if let Some(stored) = self.read_pair(OPERATOR_NAMESPACE, CA_SECRET) {
            stored
        } else {
            let ca = match &self.certificates {
                Some(cached) => cached.ca.clone(),
                None => render::issue_ca(&self.seed("ca"), self.serial("ca"), self.today())
                    .map_err(|e| e.to_string())?,
            };
            self.ensure(&render::tls_secret(
                CA_SECRET,
                OPERATOR_NAMESPACE,
                &ca,
                None,
                None,
            ))?;
            ca
        };
        if let Some(cached) = self.certificates.as_ref().filter(|c| c.ca == ca) {
            return Ok(cached.clone());
        }
        let typha = match self.read_pair(CALICO_NAMESPACE, TYPHA_CERTS) {
            Some(pair) => pair,
            None => self.issue(&ca, "typha-server", vec!["typha-server".to_string()])?,
        };
        let node = match self.read_pair(CALICO_NAMESPACE, NODE_CERTS) {
            Some(pair) => pair,
            None => self.issue(&ca, "typha-client", vec!["typha-client".to_string()])?,
        };
        let certificates = Certificates { ca, typha, node };
        self.certificates = Some(certificates.clone());
        Ok(certificates)
    }

    /// Creates an object, or updates it in place when what the operator renders differs from
    /// what is stored. Labels and annotations others added are kept, and so are the fields the
    /// API server fills in, so an unchanged rendering writes nothing.
    fn ensure(&mut self, desired: &Value) -> Result<(), String> {
        let api_version = desired["apiVersion"].as_str().unwrap_or_default();
        let kind = desired["kind"].as_str().unwrap_or_default();
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let rt = self
            .store
            .registry()
            .by_kind(group, kind)
            .filter(|rt| rt.version == version)
            .ok_or_else(|| {
                format!("no matches for kind \"{kind}\" in version \"{api_version}\"")
            })?;
        let name = desired
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let namespace = desired
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let opts = WriteOptions::manager(MANAGER);
        let key = (rt.kind.clone(), namespace.to_string(), name.to_string());
        let Some(stored) = self.store.try_get(&rt, namespace, name) else {
            let ns = (!namespace.is_empty()).then_some(namespace);
            let written = self
                .store
                .create(&rt, ns, desired.clone(), &opts)
                .map_err(|e| e.message)?;
            self.applied
                .insert(key, (desired.clone(), written.object.rv));
            return Ok(());
        };
        if self
            .applied
            .get(&key)
            .is_some_and(|(last, rv)| *rv == stored.rv && last == desired)
        {
            return Ok(());
        }
        let current = stored.value().map_err(|e| e.message)?;
        let next = overlay(&current, &normalize(&rt, desired)?, &rt.kind);
        let rv = if next == current {
            stored.rv
        } else {
            self.store
                .update(&rt, namespace, name, &next, Part::Main, &opts)
                .map_err(|e| e.message)?
                .object
                .rv
        };
        self.applied.insert(key, (desired.clone(), rv));
        Ok(())
    }

    fn ensure_all(&mut self, objects: &[Value]) -> Result<(), String> {
        objects.iter().try_for_each(|object| self.ensure(object))
    }

    fn delete_if_present(&self, group: &str, plural: &str, namespace: &str, name: &str) {
        let Some(rt) = self.resource(group, "v1", plural) else {
            return;
        };
        if self.store.try_get(&rt, namespace, name).is_some()
            && let Err(err) = self
                .store
                .delete(&rt, namespace, name, &DeleteOptions::default())
        {
            tracing::debug!(name, err = %err.message, "tigera-operator delete");
        }
    }

    fn daemonset_workload(
        &self,
        namespace: &str,
        name: &str,
        selector: BTreeMap<String, String>,
    ) -> Workload {
        let state = self
            .workload_object("daemonsets", namespace, name)
            .map(|v| DaemonSetState::from_object(&v));
        Workload::DaemonSet {
            key: format!("{namespace}/{name}"),
            state,
            selector,
        }
    }

    fn deployment_workload(
        &self,
        namespace: &str,
        name: &str,
        selector: BTreeMap<String, String>,
    ) -> Workload {
        let state = self
            .workload_object("deployments", namespace, name)
            .map(|v| DeploymentState::from_object(&v));
        Workload::Deployment {
            key: format!("{namespace}/{name}"),
            state,
            selector,
        }
    }

    fn workload_object(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let rt = self.resource("apps", "v1", plural)?;
        self.store.try_get(&rt, namespace, name)?.value().ok()
    }

    /// Computes a component's conditions and writes its TigeraStatus when they differ.
    /// Returns the conditions the object now holds.
    fn publish(
        &mut self,
        component: &'static str,
        report: &Report,
        workloads: &[Workload],
        generation: i64,
    ) -> Vec<Value> {
        let health = if report.ready_to_monitor {
            status::health(workloads, |namespace, selector| {
                self.watches.failing_pod(namespace, selector)
            })
        } else {
            status::Health::default()
        };
        let computed = status::conditions(report, &health);
        let Some(rt) = self.resource(OPERATOR_GROUP, "v1", "tigerastatuses") else {
            return Vec::new();
        };
        let current = self
            .store
            .try_get(&rt, "", component)
            .and_then(|o| o.value().ok());
        let existing = current
            .as_ref()
            .and_then(|v| v.pointer("/status/conditions"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let merged = status::merge(&existing, &computed, &self.now(), generation);
        if current.is_some() && merged == existing {
            return merged;
        }
        if let Err(err) = self.write_tigera_status(&rt, component, current, &merged) {
            tracing::debug!(component, %err, "tigera-operator status");
            self.retry = true;
        }
        merged
    }

    fn write_tigera_status(
        &self,
        rt: &ResourceType,
        component: &str,
        current: Option<Value>,
        conditions: &[Value],
    ) -> Result<(), String> {
        let opts = WriteOptions::manager(MANAGER);
        let mut object = if let Some(object) = current {
            object
        } else {
            let body = json!({"apiVersion": format!("{OPERATOR_GROUP}/v1"), "kind": "TigeraStatus", "metadata": {"name": component}, "spec": {}});
            let created = self
                .store
                .create(rt, None, body, &opts)
                .map_err(|e| e.message)?;
            created.object.value().map_err(|e| e.message)?
        };
        object["status"] = json!({"conditions": conditions});
        self.store
            .update(rt, "", component, &object, Part::Status, &opts)
            .map(drop)
            .map_err(|e| e.message)
    }

    /// The status manager of a component whose custom resource is gone removes its TigeraStatus.
    fn remove_status(&mut self, component: &'static str) {
        self.ready.remove(component);
        self.delete_if_present(OPERATOR_GROUP, "tigerastatuses", "", component);
    }

    /// Mirrors the `calico` conditions into the Installation status and, once Calico is
    /// available, records the computed spec, variant, MTU and version.
    fn write_installation_status(
        &mut self,
        rt: &ResourceType,
        computed: &Value,
        conditions: &[Value],
    ) -> Value {
        self.mirror_status(rt, conditions, "installation", |next| {
            next["variant"] = computed
                .get("variant")
                .cloned()
                .unwrap_or_else(|| json!("Calico"));
            next["mtu"] = json!(Spec(computed).pod_mtu());
            next["calicoVersion"] = json!(CALICO_VERSION);
            next["imageSet"] = json!("");
            next["computed"] = computed.clone();
        })
    }

    /// Mirrors TigeraStatus conditions into the status of the `default` custom resource, adds
    /// what `when_available` sets once they say Available, and writes it when it changed.
    /// Returns the status the object now has.
    fn mirror_status(
        &mut self,
        rt: &ResourceType,
        conditions: &[Value],
        what: &str,
        when_available: impl FnOnce(&mut Value),
    ) -> Value {
        let Some(fresh) = self
            .store
            .try_get(rt, "", "default")
            .and_then(|o| o.value().ok())
        else {
            return json!({});
        };
        let current = fresh
            .get("status")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        let mut next = current.clone();
        let existing = current
            .get("conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        next["conditions"] = json!(status::mirror(&existing, conditions, &self.now()));
        if status::is_available(conditions) {
            when_available(&mut next);
        }
        if next == current {
            return current;
        }
        let mut body = fresh;
        body["status"] = next.clone();
        match self.store.update(
            rt,
            "",
            "default",
            &body,
            Part::Status,
            &WriteOptions::manager(MANAGER),
        ) {
            Ok(_) => next,
            Err(err) => {
                tracing::debug!(err = %err.message, what, "tigera-operator status");
                self.retry = true;
                current
            }
        }
    }

    fn reconcile_windows(&mut self, installation: Option<&InstallationView>) {
        let Some(installation) = installation else {
            return;
        };
        if !Spec(&installation.computed).windows_enabled() {
            // The Windows controller leaves the status alone; nothing Windows is rendered.
            self.delete_if_present("apps", "daemonsets", CALICO_NAMESPACE, WINDOWS_NODE);
            self.delete_if_present("", "configmaps", CALICO_NAMESPACE, WINDOWS_CNI_CONFIG);
            return;
        }
        let mut report = self.report(WINDOWS);
        match self.windows_inputs(installation) {
            Err((reason, message, error)) => report.degrade(reason, &message, error.as_deref()),
            Ok((endpoint, dns_servers, vxlan_vni, certificates, owner)) => {
                let inputs = WindowsInputs {
                    spec: Spec(&installation.computed),
                    owner,
                    endpoint,
                    dns_servers,
                    vxlan_vni,
                    certificates: &certificates,
                };
                match self.ensure_all(&render::render_windows(&inputs)) {
                    Ok(()) => self.mark_ready(WINDOWS, &mut report),
                    Err(err) => {
                        report.degrade(
                            RESOURCE_UPDATE_ERROR,
                            "Error creating / updating resource",
                            Some(&err),
                        );
                        self.retry = true;
                    }
                }
            }
        }
        // The Windows controller monitors nothing: calico-node-windows health is not tracked.
        self.publish(WINDOWS, &report, &[], 0);
    }

    /// The Windows controller's checks, in its order; what rendering needs when they pass.
    fn windows_inputs(
        &mut self,
        installation: &InstallationView,
    ) -> Result<(Endpoint, Vec<String>, i64, Certificates, Value), Blocked> {
        let endpoint = self.endpoint();
        if installation
            .status
            .as_object()
            .is_none_or(serde_json::Map::is_empty)
        {
            let empty = "InstallationStatus is empty";
            return Err((
                RESOURCE_NOT_READY,
                empty.to_string(),
                Some(empty.to_string()),
            ));
        }
        let computed = &installation.computed;
        render::validate(computed)
            .and_then(|()| render::validate_windows(computed, &endpoint))
            .map_err(|err| {
                (
                    INVALID_CONFIGURATION,
                    "Invalid Installation provided".to_string(),
                    Some(err),
                )
            })?;
        let felix = self
            .resource(CALICO_V1, "v1", "felixconfigurations")
            .and_then(|rt| self.store.try_get(&rt, "", "default"))
            .and_then(|o| o.value().ok());
        if Spec(computed).calico_ipam() {
            self.check_strict_affinity()?;
        }
        let dns_servers = self.kube_dns()?;
        let Some(vxlan_vni) = felix
            .as_ref()
            .and_then(|f| f.pointer("/spec/vxlanVNI"))
            .and_then(Value::as_i64)
        else {
            return Err((
                RESOURCE_READ_ERROR,
                "Error reading VXLANVNI from FelixConfiguration".to_string(),
                Some("VXLANVNI not specified in FelixConfigurationSpec".to_string()),
            ));
        };
        let certificates = self.certificates().map_err(|err| {
            (
                "ResourceCreateError",
                "Unable to create the Tigera CA".to_string(),
                Some(err),
            )
        })?;
        let uid = self
            .resource(OPERATOR_GROUP, "v1", "installations")
            .and_then(|rt| self.store.try_get(&rt, "", "default"))
            .map(|o| o.uid.clone())
            .unwrap_or_default();
        Ok((
            endpoint,
            dns_servers,
            vxlan_vni,
            certificates,
            render::owner_reference("Installation", "default", &uid),
        ))
    }

    /// Reads only the `projectcalico.org/v3` IPAMConfiguration `default`, whatever serves it
    /// (the aggregated view of the v1 storage, or a native v3 CRD), as the Windows controller
    /// does; NotFound counts as strictAffinity false.
    fn check_strict_affinity(&self) -> Result<(), Blocked> {
        let Some(v3) = read_v3_ipam_configuration(&self.store) else {
            return Err((
                RESOURCE_NOT_READY,
                "Waiting for IPAMConfiguration watch to be established".to_string(),
                None,
            ));
        };
        let strict = match v3 {
            Ok(Some(object)) => object
                .pointer("/spec/strictAffinity")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            Ok(None) => false,
            Err(err) => {
                return Err((
                    RESOURCE_READ_ERROR,
                    "Unable to read IPAMConfiguration".to_string(),
                    Some(err),
                ));
            }
        };
        if strict {
            return Ok(());
        }
        Err((
            RESOURCE_READ_ERROR,
            "Invalid StrictAffinity, it must be set to 'true' when using Calico IPAM on Windows".to_string(),
            Some("StrictAffinity is false, it must be set to 'true' in the default IPAMConfiguration when using Calico IPAM on Windows".to_string()),
        ))
    }

    /// The cluster DNS addresses from Service `kube-system/kube-dns`.
    fn kube_dns(&self) -> Result<Vec<String>, Blocked> {
        let service = self
            .resource("", "v1", "services")
            .and_then(|rt| self.store.try_get(&rt, "kube-system", "kube-dns"))
            .and_then(|o| o.value().ok());
        let Some(service) = service else {
            return Err((
                RESOURCE_NOT_FOUND,
                "kube-dns service not found".to_string(),
                Some("services \"kube-dns\" not found".to_string()),
            ));
        };
        let ips: Vec<String> = match service
            .pointer("/spec/clusterIPs")
            .and_then(Value::as_array)
        {
            Some(ips) => ips
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            None => service
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .map(str::to_string)
                .into_iter()
                .collect(),
        };
        Ok(ips)
    }

    fn reconcile_apiserver(&mut self, installation: Option<&InstallationView>) {
        let Some(rt) = self.resource(OPERATOR_GROUP, "v1", "apiservers") else {
            return;
        };
        let Some(stored) = self.store.try_get(&rt, "", "default") else {
            self.remove_status(APISERVER_STATUS);
            return;
        };
        let generation = stored
            .value()
            .ok()
            .and_then(|v| v.pointer("/metadata/generation").and_then(Value::as_i64))
            .unwrap_or(0);
        let mut report = self.report(APISERVER_STATUS);
        match installation {
            None => report.degrade(
                RESOURCE_NOT_FOUND,
                "Installation not found",
                Some("installations.operator.tigera.io \"default\" not found"),
            ),
            Some(view)
                if view
                    .status
                    .get("variant")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty) =>
            {
                report.degrade(
                    RESOURCE_NOT_READY,
                    "Waiting for Installation to be ready",
                    None,
                );
            }
            Some(view) => match self.install_apiserver(&view.computed, &stored.uid) {
                Ok(()) => self.mark_ready(APISERVER_STATUS, &mut report),
                Err(err) => {
                    report.degrade(
                        RESOURCE_UPDATE_ERROR,
                        "Error creating / updating resource",
                        Some(&err),
                    );
                    self.retry = true;
                }
            },
        }
        let selector = BTreeMap::from([("apiserver".to_string(), "true".to_string())]);
        let workloads = [self.deployment_workload(APISERVER_NAMESPACE, APISERVER, selector)];
        let conditions = self.publish(APISERVER_STATUS, &report, &workloads, generation);
        self.write_apiservice_status();
        self.write_apiserver_status(&rt, &conditions);
    }

    fn install_apiserver(&mut self, computed: &Value, owner_uid: &str) -> Result<(), String> {
        let certificates = self.certificates()?;
        let certificate = match (
            self.apiserver_certificate.clone(),
            self.read_pair(APISERVER_NAMESPACE, APISERVER_CERTS),
        ) {
            (_, Some(stored)) => stored,
            (Some(cached), None) => cached,
            (None, None) => self.issue(
                &certificates.ca,
                APISERVER_SERVICE,
                render::service_dns_names(APISERVER_SERVICE, APISERVER_NAMESPACE),
            )?,
        };
        self.apiserver_certificate = Some(certificate.clone());
        let inputs = ApiServerInputs {
            spec: Spec(computed),
            owner: render::owner_reference("APIServer", "default", owner_uid),
            endpoint: self.endpoint(),
            certificate: &certificate,
        };
        self.ensure_all(&render::render_apiserver(&inputs))
    }

    /// The aggregator's availability check of `v3.projectcalico.org`: its Service exists and
    /// has a ready endpoint, that is, a ready `calico-apiserver` pod.
    fn write_apiservice_status(&mut self) {
        let Some(rt) = self.resource("apiregistration.k8s.io", "v1", "apiservices") else {
            return;
        };
        let Some(current) = self
            .store
            .try_get(&rt, "", APISERVICE)
            .and_then(|o| o.value().ok())
        else {
            return;
        };
        let service = self.resource("", "v1", "services").and_then(|s| {
            self.store
                .try_get(&s, APISERVER_NAMESPACE, APISERVER_SERVICE)
        });
        let ready = self
            .workload_object("deployments", APISERVER_NAMESPACE, APISERVER)
            .is_some_and(|d| {
                d.pointer("/status/readyReplicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    > 0
            });
        let (state, reason, message) = match (service.is_some(), ready) {
            (false, _) => (
                "False",
                "ServiceNotFound",
                format!("service/{APISERVER_SERVICE} in \"{APISERVER_NAMESPACE}\" is not present"),
            ),
            (true, false) => (
                "False",
                "MissingEndpoints",
                format!(
                    "endpoints for service/{APISERVER_SERVICE} in \"{APISERVER_NAMESPACE}\" have no addresses with port name \"apiserver\""
                ),
            ),
            (true, true) => ("True", "Passed", "all checks passed".to_string()),
        };
        let existing = current
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut condition = json!({"type": "Available", "status": state, "lastTransitionTime": self.now(), "reason": reason, "message": message});
        if let Some(same) = existing
            .iter()
            .find(|c| c["type"] == "Available" && c["status"] == state)
        {
            condition["lastTransitionTime"] = same["lastTransitionTime"].clone();
        }
        let mut conditions: Vec<Value> = existing
            .iter()
            .filter(|c| c["type"] != "Available")
            .cloned()
            .collect();
        conditions.insert(0, condition);
        if conditions == existing {
            return;
        }
        let mut body = current;
        body["status"] = json!({"conditions": conditions});
        // The aggregator inside kube-apiserver owns APIService availability.
        if let Err(err) = self.store.update(
            &rt,
            "",
            APISERVICE,
            &body,
            Part::Status,
            &WriteOptions::manager("kube-apiserver"),
        ) {
            tracing::debug!(err = %err.message, "apiservice status");
            self.retry = true;
        }
    }

    fn write_apiserver_status(&mut self, rt: &ResourceType, conditions: &[Value]) {
        self.mirror_status(rt, conditions, "apiserver", |next| {
            next["state"] = json!("Ready");
        });
    }
}

/// The v3 IPAMConfiguration `default` as its API serves it: `None` while
/// `projectcalico.org/v3 ipamconfigurations` is not served, `Ok(None)` when absent.
fn read_v3_ipam_configuration(store: &Store) -> Option<Result<Option<Value>, String>> {
    let registry = store.registry();
    let rt = registry.get(aggregated::GROUP, aggregated::VERSION, "ipamconfigurations")?;
    let (stored_rt, view) = match &rt.origin {
        Origin::Aggregated { storage_plural, .. } => (
            registry.get(aggregated::STORAGE_GROUP, "v1", storage_plural)?,
            aggregated::view("ipamconfigurations"),
        ),
        _ => (rt, None),
    };
    Some(match store.get(&stored_rt, "", "default") {
        Ok(object) => object
            .value()
            .map(|value| Some(view.map_or_else(|| value.clone(), |v| aggregated::to_v3(v, &value))))
            .map_err(|e| e.message),
        Err(err) if err.code == 404 => Ok(None),
        Err(err) => Err(err.message),
    })
}

/// The stored form of a rendered object: built-in kinds decoded and defaulted as the API
/// server would on create, so a comparison with the stored object sees only real differences.
fn normalize(rt: &ResourceType, desired: &Value) -> Result<Value, String> {
    if !rt.is_builtin() {
        return Ok(desired.clone());
    }
    let mut value = builtin::decode(&rt.kind, desired)?.value;
    defaults::on_create(&rt.kind, &mut value);
    Ok(value)
}

/// The stored object with the rendered content laid over it.
fn overlay(current: &Value, desired: &Value, kind: &str) -> Value {
    let mut next = current.clone();
    for (key, value) in desired.as_object().into_iter().flatten() {
        if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata" | "status") {
            next[key] = value.clone();
        }
    }
    if kind == "Service" {
        for field in SERVER_ASSIGNED_SERVICE_FIELDS {
            if let Some(assigned) = current.pointer(&format!("/spec/{field}"))
                && desired.pointer(&format!("/spec/{field}")).is_none()
            {
                next["spec"][field] = assigned.clone();
            }
        }
    }
    for key in ["labels", "annotations"] {
        if let Some(rendered) = desired
            .pointer(&format!("/metadata/{key}"))
            .and_then(Value::as_object)
        {
            let mut merged = current
                .pointer(&format!("/metadata/{key}"))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            merged.extend(rendered.iter().map(|(k, v)| (k.clone(), v.clone())));
            next["metadata"][key] = Value::Object(merged);
        }
    }
    if let Some(owners) = desired.pointer("/metadata/ownerReferences") {
        next["metadata"]["ownerReferences"] = owners.clone();
    }
    next
}

/// The JSON merge patch that turns `from` into `to`.
fn merge_diff(from: &Value, to: &Value) -> Value {
    match (from.as_object(), to.as_object()) {
        (Some(a), Some(b)) => {
            let mut patch = serde_json::Map::new();
            for (key, value) in b {
                match a.get(key) {
                    Some(old) if old == value => {}
                    Some(old) if old.is_object() && value.is_object() => {
                        patch.insert(key.clone(), merge_diff(old, value));
                    }
                    _ => {
                        patch.insert(key.clone(), value.clone());
                    }
                }
            }
            for key in a.keys().filter(|k| !b.contains_key(*k)) {
                patch.insert(key.clone(), Value::Null);
            }
            Value::Object(patch)
        }
        _ => to.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::sim::clock::ManualClock;
    use crate::sim::crds;
    use crate::sim::store::StoreConfig;

    const START: &str = "2026-11-29T10:00:00Z";

    struct Cluster {
        store: Arc<Store>,
        clock: Arc<ManualClock>,
        operator: Operator,
    }

    fn rt(store: &Store, group: &str, version: &str, plural: &str) -> Arc<ResourceType> {
        store.registry().get(group, version, plural).unwrap()
    }

    fn node(name: &str, os: &str) -> Value {
        json!({"metadata": {"name": name, "labels": {"kubernetes.io/os": os}}, "status": {"conditions": []}})
    }

    /// Operator and Calico v1 CRDs, the usual namespaces, kube-dns, and 4 Linux plus 2
    /// Windows nodes.
    fn cluster() -> Cluster {
        let clock = Arc::new(ManualClock::new(START.parse().unwrap()));
        let store = Arc::new(Store::new(clock.clone(), StoreConfig::default()));
        let crd = rt(
            &store,
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
        );
        for definition in crds::operator_crds()
            .into_iter()
            .chain(crds::calico_v1_crds())
        {
            store
                .create(&crd, None, definition, &WriteOptions::manager("test"))
                .unwrap();
        }
        let ns = rt(&store, "", "v1", "namespaces");
        for name in ["default", "kube-system", OPERATOR_NAMESPACE] {
            store.seed(&ns, json!({"metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})).unwrap();
        }
        let nodes = rt(&store, "", "v1", "nodes");
        for (name, os) in [
            ("cp-0", "linux"),
            ("lin-0", "linux"),
            ("lin-1", "linux"),
            ("lin-2", "linux"),
            ("win-0", "windows"),
            ("win-1", "windows"),
        ] {
            store.seed(&nodes, node(name, os)).unwrap();
        }
        let services = rt(&store, "", "v1", "services");
        store
            .seed(&services, json!({"metadata": {"name": "kube-dns", "namespace": "kube-system"}, "spec": {"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"]}}))
            .unwrap();
        let operator = Operator::new(Arc::clone(&store));
        Cluster {
            store,
            clock,
            operator,
        }
    }

    impl Cluster {
        /// Steps until a step writes nothing.
        fn settle(&mut self) {
            for _ in 0..20 {
                let before = self.store.current_rv();
                self.operator.step();
                self.clock.advance(SignedDuration::from_secs(1));
                if self.store.current_rv() == before && !self.operator.retry {
                    return;
                }
            }
            panic!("the operator did not settle");
        }

        fn get(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
            let version = if group == "projectcalico.org" {
                "v3"
            } else {
                "v1"
            };
            let rt = self.store.registry().get(group, version, plural)?;
            self.store
                .try_get(&rt, namespace, name)
                .map(|o| o.value().unwrap())
        }

        fn condition(&self, component: &str, kind: &str) -> Value {
            let ts = self
                .get(OPERATOR_GROUP, "tigerastatuses", "", component)
                .expect(component);
            ts["status"]["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["type"] == kind)
                .cloned()
                .unwrap_or(Value::Null)
        }

        fn create(&self, group: &str, version: &str, plural: &str, body: Value) {
            self.store
                .create(
                    &rt(&self.store, group, version, plural),
                    None,
                    body,
                    &WriteOptions::manager("kubectl"),
                )
                .unwrap();
        }

        fn patch(&self, group: &str, plural: &str, namespace: &str, name: &str, body: &Value) {
            let version = if group == "projectcalico.org" {
                "v3"
            } else {
                "v1"
            };
            let rt = rt(&self.store, group, version, plural);
            self.store
                .patch(
                    &rt,
                    namespace,
                    name,
                    PatchType::Merge,
                    body,
                    Part::Main,
                    &WriteOptions::manager("kubectl"),
                )
                .unwrap();
        }

        fn set_status(
            &self,
            group: &str,
            plural: &str,
            namespace: &str,
            name: &str,
            status: Value,
        ) {
            let rt = rt(&self.store, group, "v1", plural);
            let mut object = self
                .store
                .get(&rt, namespace, name)
                .unwrap()
                .value()
                .unwrap();
            object["status"] = status;
            self.store
                .update(
                    &rt,
                    namespace,
                    name,
                    &object,
                    Part::Status,
                    &WriteOptions::manager("test"),
                )
                .unwrap();
        }

        fn install(&self, spec: &Value) {
            self.create(OPERATOR_GROUP, "v1", "installations", json!({"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": "default"}, "spec": spec}));
        }

        fn endpoint_configmap(&self) {
            let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ENDPOINT_CONFIGMAP, "namespace": OPERATOR_NAMESPACE},
                              "data": {"KUBERNETES_SERVICE_HOST": "10.224.0.4", "KUBERNETES_SERVICE_PORT": "443"}});
            self.store
                .create(
                    &rt(&self.store, "", "v1", "configmaps"),
                    Some(OPERATOR_NAMESPACE),
                    body,
                    &WriteOptions::manager("kubectl"),
                )
                .unwrap();
        }

        /// The workloads of calico-system rolled out everywhere.
        fn workloads_healthy(&self) {
            let ds = json!({"desiredNumberScheduled": 4, "currentNumberScheduled": 4, "updatedNumberScheduled": 4, "numberReady": 4,
                            "numberAvailable": 4, "numberMisscheduled": 0, "observedGeneration": 1});
            self.set_status("apps", "daemonsets", CALICO_NAMESPACE, NODE, ds);
            for (name, replicas) in [(TYPHA, 3), (KUBE_CONTROLLERS, 1)] {
                let generation = self
                    .get("apps", "deployments", CALICO_NAMESPACE, name)
                    .unwrap()["metadata"]["generation"]
                    .clone();
                self.set_status("apps", "deployments", CALICO_NAMESPACE, name, json!({"observedGeneration": generation, "replicas": replicas,
                    "readyReplicas": replicas, "availableReplicas": replicas, "updatedReplicas": replicas}));
            }
        }

        fn serve_v3_ipamconfigurations(&self) {
            let crd = crds::calico_v3_crds()
                .into_iter()
                .find(|c| c["metadata"]["name"] == "ipamconfigurations.projectcalico.org")
                .unwrap();
            self.create(
                "apiextensions.k8s.io",
                "v1",
                "customresourcedefinitions",
                crd,
            );
        }
    }

    /// DOMAIN.md §3.5 (Windows VXLAN), without the service CIDRs yet.
    fn windows_vxlan() -> Value {
        json!({"calicoNetwork": {"bgp": "Disabled", "windowsDataplane": "HNS",
               "ipPools": [{"name": "default-ipv4-ippool", "cidr": "192.168.0.0/16", "blockSize": 26, "encapsulation": "VXLAN", "natOutgoing": "Enabled"}]}})
    }

    #[test]
    fn install_renders_calico_system_and_pools() {
        let mut c = cluster();
        c.install(&windows_vxlan());
        c.settle();
        let ns = c.get("", "namespaces", "", CALICO_NAMESPACE).unwrap();
        assert_eq!(
            ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
            "privileged"
        );
        assert_eq!(ns["metadata"]["ownerReferences"][0]["kind"], "Installation");
        for (plural, name) in [
            ("serviceaccounts", NODE),
            ("configmaps", "cni-config"),
            ("configmaps", "tigera-ca-bundle"),
            ("secrets", NODE_CERTS),
            ("services", TYPHA),
        ] {
            assert!(
                c.get("", plural, CALICO_NAMESPACE, name).is_some(),
                "{plural}/{name}"
            );
        }
        let ds = c.get("apps", "daemonsets", CALICO_NAMESPACE, NODE).unwrap();
        assert_eq!(ds["metadata"]["managedFields"][0]["manager"], MANAGER);
        assert_eq!(
            ds["spec"]["template"]["spec"]["nodeSelector"]["kubernetes.io/os"],
            "linux"
        );
        let typha = c
            .get("apps", "deployments", CALICO_NAMESPACE, TYPHA)
            .unwrap();
        assert_eq!(typha["spec"]["replicas"], 3, "four Linux nodes");
        assert!(
            c.get("apps", "deployments", CALICO_NAMESPACE, KUBE_CONTROLLERS)
                .is_some()
        );
        let pool = c
            .get(CALICO_V1, "ippools", "", "default-ipv4-ippool")
            .unwrap();
        assert_eq!(pool["spec"]["vxlanMode"], "Always");
        assert_eq!(pool["spec"]["ipipMode"], "Never");
        assert_eq!(pool["spec"]["natOutgoing"], true);
        assert_eq!(pool["spec"]["nodeSelector"], "all()");
        let felix = c
            .get(CALICO_V1, "felixconfigurations", "", "default")
            .unwrap();
        assert_eq!(felix["spec"]["vxlanVNI"], 4096);
        // Defaults written back into the spec; no computed status until Calico is available.
        let installation = c
            .get(OPERATOR_GROUP, "installations", "", "default")
            .unwrap();
        assert_eq!(installation["spec"]["cni"]["type"], "Calico");
        assert_eq!(
            installation["spec"]["nodeUpdateStrategy"]["rollingUpdate"]["maxUnavailable"],
            1
        );
        assert!(installation["status"].get("computed").is_none());
        assert_eq!(installation["status"]["conditions"][0]["type"], "Ready");
        assert_eq!(c.condition(IPPOOLS, "Available")["status"], "True");
        let progressing = c.condition(CALICO, "Progressing");
        assert_eq!(progressing["status"], "True");
        assert_eq!(progressing["reason"], "ResourceNotReady");
        assert!(
            progressing["message"]
                .as_str()
                .unwrap()
                .contains("DaemonSet \"calico-system/calico-node\" update is being processed")
        );
        // Rolled out: Calico becomes available and the Installation status fills in.
        c.workloads_healthy();
        c.settle();
        assert_eq!(
            c.condition(CALICO, "Available")["reason"],
            "AllObjectsAvailable"
        );
        assert_eq!(
            c.condition(CALICO, "Degraded")["message"],
            "All Objects Available"
        );
        let status = c
            .get(OPERATOR_GROUP, "installations", "", "default")
            .unwrap()["status"]
            .clone();
        assert_eq!(status["variant"], "Calico");
        assert_eq!(status["mtu"], 1450);
        assert_eq!(status["calicoVersion"], "v3.27.3");
        assert_eq!(status["imageSet"], "");
        assert_eq!(
            status["computed"]["calicoNetwork"]["linuxDataplane"],
            "Iptables"
        );
        let ready = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True");
    }

    #[test]
    fn a_second_reconcile_writes_nothing() {
        let mut c = cluster();
        c.install(&windows_vxlan());
        c.settle();
        c.workloads_healthy();
        c.settle();
        let rv = c.store.current_rv();
        c.operator.reconcile();
        c.clock.advance(SignedDuration::from_secs(60));
        c.operator.reconcile();
        assert_eq!(c.store.current_rv(), rv);
    }

    #[test]
    fn windows_prerequisites_are_reported_in_order() {
        let mut c = cluster();
        c.install(&windows_vxlan());
        c.settle();
        let degraded = |c: &Cluster| {
            let d = c.condition(WINDOWS, "Degraded");
            assert_eq!(d["status"], "True");
            (
                d["reason"].as_str().unwrap().to_string(),
                d["message"].as_str().unwrap().to_string(),
            )
        };
        assert_eq!(
            degraded(&c),
            (
                "InvalidConfigurationError".to_string(),
                "Invalid Installation provided: services endpoint configmap 'kubernetes-services-endpoint' does not have all required information for Calico Windows daemonset configuration".to_string()
            )
        );
        c.endpoint_configmap();
        c.settle();
        assert_eq!(
            degraded(&c).1,
            "Invalid Installation provided: installation spec.ServiceCIDRs must be provided when using Calico CNI on Windows"
        );
        c.patch(
            OPERATOR_GROUP,
            "installations",
            "",
            "default",
            &json!({"spec": {"serviceCIDRs": ["10.96.0.0/12"]}}),
        );
        c.settle();
        assert_eq!(
            degraded(&c),
            (
                "ResourceNotReady".to_string(),
                "Waiting for IPAMConfiguration watch to be established".to_string()
            )
        );
        assert!(
            c.get("apps", "daemonsets", CALICO_NAMESPACE, WINDOWS_NODE)
                .is_none()
        );
        c.serve_v3_ipamconfigurations();
        c.settle();
        let (reason, message) = degraded(&c);
        assert_eq!(reason, "ResourceReadError");
        assert!(
            message.starts_with(
                "Invalid StrictAffinity, it must be set to 'true' when using Calico IPAM on Windows"
            ),
            "{message}"
        );
        c.create(
            "projectcalico.org",
            "v3",
            "ipamconfigurations",
            json!({"apiVersion": "projectcalico.org/v3", "kind": "IPAMConfiguration",
            "metadata": {"name": "default"}, "spec": {"strictAffinity": false}}),
        );
        c.settle();
        assert_eq!(degraded(&c).0, "ResourceReadError");
        c.patch(
            "projectcalico.org",
            "ipamconfigurations",
            "",
            "default",
            &json!({"spec": {"strictAffinity": true}}),
        );
        c.settle();
        let ds = c
            .get("apps", "daemonsets", CALICO_NAMESPACE, WINDOWS_NODE)
            .expect("rendered");
        let pod = &ds["spec"]["template"]["spec"];
        assert_eq!(
            render::container_names(pod, "initContainers"),
            ["uninstall-calico", "install-cni"]
        );
        let env = render::env_map(&pod["containers"][0]);
        assert_eq!(env["KUBERNETES_SERVICE_HOST"], "10.224.0.4");
        assert_eq!(env["KUBERNETES_DNS_SERVERS"], "10.96.0.10");
        assert_eq!(c.condition(WINDOWS, "Available")["status"], "True");
        assert_eq!(c.condition(WINDOWS, "Degraded")["status"], "False");
        // Not monitored: an unhealthy calico-node-windows leaves calico-windows Available.
        c.set_status(
            "apps",
            "daemonsets",
            CALICO_NAMESPACE,
            WINDOWS_NODE,
            json!({"desiredNumberScheduled": 2, "numberUnavailable": 2}),
        );
        c.settle();
        assert_eq!(c.condition(WINDOWS, "Available")["status"], "True");
    }

    #[test]
    fn cross_subnet_vxlan_is_rejected_for_windows() {
        let mut c = cluster();
        let mut spec = windows_vxlan();
        spec["serviceCIDRs"] = json!(["10.96.0.0/12"]);
        spec["calicoNetwork"]["ipPools"][0]["encapsulation"] = json!("VXLANCrossSubnet");
        c.install(&spec);
        c.endpoint_configmap();
        c.settle();
        let degraded = c.condition(WINDOWS, "Degraded");
        assert_eq!(degraded["reason"], "InvalidConfigurationError");
        assert_eq!(
            degraded["message"],
            "Invalid Installation provided: IPv4 IPPool encapsulation VXLANCrossSubnet is not supported by Calico for Windows"
        );
        // Linux is unaffected.
        assert!(
            c.get("apps", "daemonsets", CALICO_NAMESPACE, NODE)
                .is_some()
        );
        assert_eq!(
            c.get(CALICO_V1, "ippools", "", "default-ipv4-ippool")
                .unwrap()["spec"]["vxlanMode"],
            "CrossSubnet"
        );
    }

    #[test]
    fn windows_disabled_renders_no_windows_objects() {
        let mut c = cluster();
        c.install(&json!({"calicoNetwork": {"bgp": "Disabled", "ipPools": [{"cidr": "192.168.0.0/16", "encapsulation": "VXLAN"}]}}));
        c.settle();
        assert!(
            c.get("apps", "daemonsets", CALICO_NAMESPACE, NODE)
                .is_some()
        );
        assert!(
            c.get("apps", "daemonsets", CALICO_NAMESPACE, WINDOWS_NODE)
                .is_none()
        );
        assert!(
            c.get(OPERATOR_GROUP, "tigerastatuses", "", WINDOWS)
                .is_none()
        );
        assert_eq!(
            c.get(OPERATOR_GROUP, "installations", "", "default")
                .unwrap()["spec"]["calicoNetwork"]["windowsDataplane"],
            "Disabled"
        );
    }

    #[test]
    fn a_rolling_calico_node_is_reported() {
        let mut c = cluster();
        c.install(&windows_vxlan());
        c.settle();
        c.workloads_healthy();
        c.settle();
        let available_since = c.condition(CALICO, "Available")["lastTransitionTime"].clone();
        c.set_status("apps", "daemonsets", CALICO_NAMESPACE, NODE, json!({"desiredNumberScheduled": 5, "updatedNumberScheduled": 3,
            "numberAvailable": 4, "numberReady": 4, "numberUnavailable": 1, "observedGeneration": 1}));
        c.settle();
        let progressing = c.condition(CALICO, "Progressing");
        assert_eq!(progressing["status"], "True");
        assert_eq!(
            progressing["message"],
            "DaemonSet \"calico-system/calico-node\" update is rolling out (3 out of 5 updated)"
        );
        assert_eq!(c.condition(CALICO, "Available")["status"], "False");
        assert_ne!(
            c.condition(CALICO, "Available")["lastTransitionTime"],
            available_since
        );
        c.set_status("apps", "daemonsets", CALICO_NAMESPACE, NODE, json!({"desiredNumberScheduled": 5, "updatedNumberScheduled": 5,
            "numberAvailable": 3, "numberReady": 3, "numberUnavailable": 2, "observedGeneration": 1}));
        c.settle();
        assert_eq!(
            c.condition(CALICO, "Progressing")["message"],
            "DaemonSet \"calico-system/calico-node\" is not available (awaiting 2 nodes)"
        );
        let since = c.condition(CALICO, "Progressing")["lastTransitionTime"].clone();
        // A crash-looping calico-node pod turns progress into PodFailure.
        let pods = rt(&c.store, "", "v1", "pods");
        c.store
            .seed(&pods, json!({"metadata": {"name": "calico-node-x1", "namespace": CALICO_NAMESPACE, "labels": {"k8s-app": NODE}},
                "spec": {"containers": [{"name": NODE, "image": "i"}]},
                "status": {"phase": "Running", "containerStatuses": [{"name": NODE, "ready": false, "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}))
            .unwrap();
        c.settle();
        let degraded = c.condition(CALICO, "Degraded");
        assert_eq!(degraded["reason"], "PodFailure");
        assert_eq!(
            degraded["message"],
            "Pod calico-system/calico-node-x1 has crash looping container: calico-node"
        );
        assert_ne!(
            c.condition(CALICO, "Progressing")["lastTransitionTime"],
            since
        );
        let installation = c
            .get(OPERATOR_GROUP, "installations", "", "default")
            .unwrap();
        let mirrored = installation["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Degraded")
            .unwrap()
            .clone();
        assert_eq!(mirrored["reason"], "PodFailure");
    }

    #[test]
    fn the_node_template_changes_only_with_relevant_fields() {
        let mut c = cluster();
        c.install(&windows_vxlan());
        c.settle();
        let before = c.get("apps", "daemonsets", CALICO_NAMESPACE, NODE).unwrap();
        c.patch(
            OPERATOR_GROUP,
            "installations",
            "",
            "default",
            &json!({"spec": {"controlPlaneReplicas": 3}}),
        );
        c.settle();
        let after = c.get("apps", "daemonsets", CALICO_NAMESPACE, NODE).unwrap();
        assert_eq!(
            before["metadata"]["resourceVersion"],
            after["metadata"]["resourceVersion"]
        );
        // The API endpoint does reach calico-node: updated in place, same uid.
        c.endpoint_configmap();
        c.settle();
        let updated = c.get("apps", "daemonsets", CALICO_NAMESPACE, NODE).unwrap();
        assert_eq!(updated["metadata"]["uid"], before["metadata"]["uid"]);
        assert_eq!(updated["metadata"]["generation"], 2);
        assert_eq!(
            render::env_map(&updated["spec"]["template"]["spec"]["containers"][0])["KUBERNETES_SERVICE_HOST"],
            "10.224.0.4"
        );
        // Someone else's edit of a rendered field is reverted.
        c.patch(
            "apps",
            "daemonsets",
            CALICO_NAMESPACE,
            NODE,
            &json!({"spec": {"template": {"spec": {"priorityClassName": "x"}}}}),
        );
        c.settle();
        assert_eq!(
            c.get("apps", "daemonsets", CALICO_NAMESPACE, NODE).unwrap()["spec"]["template"]["spec"]
                ["priorityClassName"],
            "system-node-critical"
        );
    }

    #[test]
    fn pools_are_not_modified_after_install() {
        let mut c = cluster();
        c.install(&windows_vxlan());
        c.settle();
        c.patch(
            OPERATOR_GROUP,
            "installations",
            "",
            "default",
            &json!({"spec": {"calicoNetwork": {"ipPools": [
            {"name": "default-ipv4-ippool", "cidr": "10.10.0.0/16", "encapsulation": "VXLAN"}]}}}),
        );
        c.settle();
        assert_eq!(
            c.get(CALICO_V1, "ippools", "", "default-ipv4-ippool")
                .unwrap()["spec"]["cidr"],
            "192.168.0.0/16"
        );
    }

    #[test]
    fn apiserver_waits_for_calico_then_registers_v3() {
        let mut c = cluster();
        c.create(OPERATOR_GROUP, "v1", "apiservers", json!({"apiVersion": "operator.tigera.io/v1", "kind": "APIServer", "metadata": {"name": "default"}, "spec": {}}));
        c.settle();
        assert_eq!(
            c.condition(APISERVER_STATUS, "Degraded")["reason"],
            "ResourceNotFound"
        );
        c.install(&windows_vxlan());
        c.settle();
        assert_eq!(
            c.condition(APISERVER_STATUS, "Degraded")["message"],
            "Waiting for Installation to be ready"
        );
        assert!(
            c.get("apiregistration.k8s.io", "apiservices", "", APISERVICE)
                .is_none()
        );
        c.workloads_healthy();
        c.settle();
        let apiservice = c
            .get("apiregistration.k8s.io", "apiservices", "", APISERVICE)
            .unwrap();
        assert_eq!(apiservice["spec"]["group"], "projectcalico.org");
        assert_eq!(apiservice["spec"]["version"], "v3");
        assert_eq!(
            apiservice["spec"]["service"],
            json!({"name": "calico-api", "namespace": "calico-apiserver", "port": 443})
        );
        assert_eq!(
            apiservice["status"]["conditions"][0]["reason"],
            "MissingEndpoints"
        );
        assert!(
            c.get("", "services", APISERVER_NAMESPACE, APISERVER_SERVICE)
                .is_some()
        );
        let deployment = c
            .get("apps", "deployments", APISERVER_NAMESPACE, APISERVER)
            .unwrap();
        assert_eq!(deployment["spec"]["replicas"], 2);
        assert_eq!(
            deployment["metadata"]["ownerReferences"][0]["kind"],
            "APIServer"
        );
        c.set_status("apps", "deployments", APISERVER_NAMESPACE, APISERVER, json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "availableReplicas": 2}));
        c.settle();
        let available = c
            .get("apiregistration.k8s.io", "apiservices", "", APISERVICE)
            .unwrap()["status"]["conditions"][0]
            .clone();
        assert_eq!(
            (available["status"].as_str(), available["reason"].as_str()),
            (Some("True"), Some("Passed"))
        );
        assert_eq!(c.condition(APISERVER_STATUS, "Available")["status"], "True");
        let apiserver = c.get(OPERATOR_GROUP, "apiservers", "", "default").unwrap();
        assert_eq!(apiserver["status"]["state"], "Ready");
    }

    #[test]
    fn windows_reads_strict_affinity_through_the_aggregated_api() {
        let mut c = cluster();
        let mut spec = windows_vxlan();
        spec["serviceCIDRs"] = json!(["10.96.0.0/12"]);
        c.install(&spec);
        c.endpoint_configmap();
        c.create(OPERATOR_GROUP, "v1", "apiservers", json!({"apiVersion": "operator.tigera.io/v1", "kind": "APIServer", "metadata": {"name": "default"}, "spec": {}}));
        c.settle();
        c.workloads_healthy();
        c.settle();
        let message = c.condition(WINDOWS, "Degraded")["message"].clone();
        assert_eq!(
            message, "Waiting for IPAMConfiguration watch to be established",
            "mode A"
        );
        // The Calico API server becomes ready: the aggregator serves v3 (mode B).
        c.set_status("apps", "deployments", APISERVER_NAMESPACE, APISERVER, json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "availableReplicas": 2}));
        c.settle();
        assert!(
            c.store
                .registry()
                .get("projectcalico.org", "v3", "ipamconfigurations")
                .is_some()
        );
        let message = c.condition(WINDOWS, "Degraded")["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.starts_with("Invalid StrictAffinity"), "{message}");
        // strictAffinity lives in the v1 storage object that the v3 view shows.
        c.create(CALICO_V1, "v1", "ipamconfigs", json!({"apiVersion": "crd.projectcalico.org/v1", "kind": "IPAMConfig",
            "metadata": {"name": "default"}, "spec": {"strictAffinity": true, "autoAllocateBlocks": true}}));
        c.settle();
        assert!(
            c.get("apps", "daemonsets", CALICO_NAMESPACE, WINDOWS_NODE)
                .is_some()
        );
        assert_eq!(c.condition(WINDOWS, "Available")["status"], "True");
    }

    #[test]
    fn deleting_the_installation_removes_its_statuses() {
        let mut c = cluster();
        c.install(&windows_vxlan());
        c.settle();
        assert!(
            c.get(OPERATOR_GROUP, "tigerastatuses", "", CALICO)
                .is_some()
        );
        let installations = rt(&c.store, OPERATOR_GROUP, "v1", "installations");
        c.store
            .delete(&installations, "", "default", &DeleteOptions::default())
            .unwrap();
        c.settle();
        for component in [CALICO, IPPOOLS, WINDOWS] {
            assert!(
                c.get(OPERATOR_GROUP, "tigerastatuses", "", component)
                    .is_none(),
                "{component}"
            );
        }
        assert!(
            c.get("apps", "daemonsets", CALICO_NAMESPACE, NODE)
                .is_none(),
            "collected with its owner"
        );
    }

    #[tokio::test]
    async fn run_stops_on_shutdown() {
        let c = cluster();
        c.install(&json!({}));
        let task = tokio::spawn(run(Arc::clone(&c.store)));
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(
            c.get(OPERATOR_GROUP, "tigerastatuses", "", CALICO)
                .is_some()
        );
        c.store.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn merge_diff_adds_changes_and_removals() {
        let from = json!({"a": 1, "b": {"c": 1, "d": 2}, "gone": true});
        let to = json!({"a": 1, "b": {"c": 1, "d": 3, "e": 4}, "new": [1]});
        assert_eq!(
            merge_diff(&from, &to),
            json!({"b": {"d": 3, "e": 4}, "new": [1], "gone": null})
        );
    }
}
