//! What is wrong or risky right now, derived from one snapshot: each finding has a severity, a
//! stable id, a subject and a one-line explanation with its fix — Windows prerequisites
//! (strictAffinity, encapsulation, BGP, service CIDRs, the services-endpoint ConfigMap,
//! kube-dns, containerd, Windows builds, the v3 API), nodes NotReady because Calico is down,
//! degraded operator components, Typha HA, kubelet skew, pods stuck Terminating on Windows.
//! Where the data behind a check is unknown (a feed loading, forbidden, not installed) it says
//! it cannot check rather than claiming absence. Also owns [`Severity`], shared by every
//! model view. IPAM findings belong to `model::ipam`; [`with_ipam`] merges them into this list
//! for the Findings view, one finding per fact, with stable `ipam.*` ids.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Node;
use serde::Serialize;

use super::ipam::IpamModel;
use super::ipam::findings::{IpamFinding, IpamFindingCode};
use super::pools::{self, NodePool, OsFamily, PoolKey};
use super::printers;
use super::rollout::{self, RolloutTarget};
use super::snapshot::{CalicoApiMode, ClusterSnapshot, FeedState, Kind};
use super::versions::{Runtime, WindowsBuild, semver_prefix};

/// How bad something is. Ordered: `Error > Warning > Info > Ok`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Severity {
    #[default]
    Ok,
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Subject {
    Cluster,
    Node(String),
    Pool(PoolKey),
    Object {
        /// `Installation`, `ConfigMap`, `IPPool`, `TigeraStatus`, ...
        kind: String,
        namespace: Option<String>,
        name: String,
    },
}

impl Subject {
    fn object(kind: &str, namespace: Option<&str>, name: &str) -> Self {
        Self::Object {
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cluster => f.write_str("cluster"),
            Self::Node(name) => write!(f, "node/{name}"),
            Self::Pool(key) => write!(f, "pool/{key}"),
            Self::Object {
                kind,
                namespace: Some(ns),
                name,
            } => write!(f, "{kind} {ns}/{name}"),
            Self::Object { kind, name, .. } => write!(f, "{kind} {name}"),
        }
    }
}

/// One thing wrong or risky.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable across snapshots and releases (`windows.strict-affinity`); with the subject it
    /// identifies the finding.
    pub id: &'static str,
    pub severity: Severity,
    pub subject: Subject,
    /// What is wrong, in one line.
    pub message: String,
    /// What to do about it, in one line (empty when there is nothing to do).
    pub fix: String,
}

impl Finding {
    fn new(
        id: &'static str,
        severity: Severity,
        subject: Subject,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            id,
            severity,
            subject,
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// An IPAM finding (or one about the IPAM configuration): the console opens the IPAM
    /// view for it.
    pub fn opens_ipam(&self) -> bool {
        self.id.starts_with("ipam.")
            || IpamFindingCode::ALL
                .iter()
                .any(|code| code.same_fact_as() == Some(self.id))
    }

    /// `message — fix`.
    pub fn line(&self) -> String {
        if self.fix.is_empty() {
            self.message.clone()
        } else {
            format!("{} — {}", self.message, self.fix)
        }
    }
}

/// Worst first, then by id and subject: the order every findings list is shown in.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.id.cmp(b.id))
            .then_with(|| a.subject.cmp(&b.subject))
    });
}

/// The stable id of an IPAM finding in the Findings view.
pub fn ipam_id(finding: &IpamFinding) -> &'static str {
    match finding.code {
        IpamFindingCode::StrictAffinityOffWithWindows => "ipam.strict-affinity",
        IpamFindingCode::ConfigCrossFieldRule if finding.subject == "autoAllocateBlocks" => {
            "ipam.config-auto-allocate"
        }
        IpamFindingCode::ConfigCrossFieldRule => "ipam.config-max-blocks",
        IpamFindingCode::BorrowedAddresses => "ipam.borrowed-addresses",
        IpamFindingCode::BlockWithoutAffinity => "ipam.block-without-affinity",
        IpamFindingCode::BlockOwnerMissing => "ipam.block-owner-missing",
        IpamFindingCode::OrphanedBlock => "ipam.orphaned-block",
        IpamFindingCode::AffinityWithoutBlock => "ipam.affinity-without-block",
        IpamFindingCode::HandleWithoutAllocations => "ipam.handle-without-allocations",
        IpamFindingCode::AllocationWithoutHandle => "ipam.allocation-without-handle",
        IpamFindingCode::AllocationOfMissingPod => "ipam.allocation-of-missing-pod",
        IpamFindingCode::NodeAtBlockCap => "ipam.node-at-block-cap",
        IpamFindingCode::PoolNearlyExhausted => "ipam.pool-nearly-exhausted",
        IpamFindingCode::MalformedCidr => "ipam.malformed-cidr",
    }
}

/// What an IPAM finding is about, as a [`Subject`].
fn ipam_subject(finding: &IpamFinding, model: &IpamModel) -> Subject {
    let name = finding.subject.as_str();
    match finding.code {
        IpamFindingCode::StrictAffinityOffWithWindows | IpamFindingCode::ConfigCrossFieldRule => {
            Subject::object("IPAMConfig", None, "default")
        }
        IpamFindingCode::MalformedCidr if model.pool_by_name(name).is_some() => {
            Subject::object("IPPool", None, name)
        }
        IpamFindingCode::BorrowedAddresses
        | IpamFindingCode::BlockWithoutAffinity
        | IpamFindingCode::BlockOwnerMissing
        | IpamFindingCode::OrphanedBlock
        | IpamFindingCode::MalformedCidr => Subject::object("IPAMBlock", None, name),
        IpamFindingCode::AffinityWithoutBlock => Subject::object("BlockAffinity", None, name),
        IpamFindingCode::HandleWithoutAllocations
        | IpamFindingCode::AllocationWithoutHandle
        | IpamFindingCode::AllocationOfMissingPod => Subject::Cluster,
        IpamFindingCode::NodeAtBlockCap => Subject::Node(name.to_string()),
        IpamFindingCode::PoolNearlyExhausted => Subject::object("IPPool", None, name),
    }
}

/// `general` (from [`findings`]) and the IPAM model's findings as one list, one finding per
/// fact: an IPAM finding that reports what a general one already does
/// ([`IpamFindingCode::same_fact_as`]) is folded into it — the general finding's id and
/// subject, the worse severity, the longer message (the richer text) and the fix that exists.
/// Every other IPAM finding joins with an `ipam.*` id ([`ipam_id`]). Sorted with
/// [`sort_findings`].
pub fn with_ipam(general: Vec<Finding>, model: &IpamModel) -> Vec<Finding> {
    let mut out = general;
    for finding in &model.findings {
        let code = finding.code;
        let same = code
            .same_fact_as()
            .and_then(|id| out.iter_mut().find(|f| f.id == id));
        if let Some(existing) = same {
            existing.severity = existing.severity.max(finding.severity);
            if finding.message.len() > existing.message.len() {
                existing.message.clone_from(&finding.message);
            }
            if existing.fix.is_empty() {
                existing.fix = code.fix().to_string();
            }
            continue;
        }
        out.push(Finding::new(
            ipam_id(finding),
            finding.severity,
            ipam_subject(finding, model),
            finding.message.clone(),
            code.fix(),
        ));
    }
    sort_findings(&mut out);
    out
}

/// Every finding of the snapshot (IPAM ones excepted), sorted with [`sort_findings`].
pub fn findings(snapshot: &ClusterSnapshot, pools: &[NodePool]) -> Vec<Finding> {
    let mut out = Vec::new();
    let context = Context::new(snapshot);
    if !context.windows_nodes.is_empty()
        && let Err(why) = context.known(Kind::Installations)
    {
        out.push(Context::cannot_check(
            "windows.installation",
            "the Installation's Windows settings",
            &why,
            Context::installation_subject(),
        ));
    }
    if context.windows_relevant() {
        strict_affinity(&context, &mut out);
        encapsulation(&context, &mut out);
        ip_pool_modes(&context, &mut out);
        bgp_with_vxlan(&context, &mut out);
        service_cidrs(&context, &mut out);
        services_endpoint(&context, &mut out);
        v3_api(&context, &mut out);
        windows_daemon_set(&context, &mut out);
        typha_ha(&context, &mut out);
    }
    kubernetes_service_ip(&context, &mut out);
    kube_dns(&context, &mut out);
    windows_nodes(&context, &mut out);
    calico_down(&context, &mut out);
    tigera_degraded(&context, &mut out);
    kubelet_skew(pools, &mut out);
    terminating_on_windows(&context, &mut out);
    sort_findings(&mut out);
    out
}

/// What several checks need, computed once.
struct Context<'a> {
    snapshot: &'a ClusterSnapshot,
    windows_nodes: Vec<&'a Node>,
    windows_enabled: bool,
}

impl<'a> Context<'a> {
    fn new(snapshot: &'a ClusterSnapshot) -> Self {
        Self {
            snapshot,
            windows_nodes: snapshot
                .nodes
                .iter()
                .filter(|n| OsFamily::of(n) == OsFamily::Windows)
                .map(AsRef::as_ref)
                .collect(),
            windows_enabled: snapshot
                .installation
                .as_ref()
                .is_some_and(|i| i.windows_enabled()),
        }
    }

    fn windows_relevant(&self) -> bool {
        !self.windows_nodes.is_empty() || self.windows_enabled
    }

    /// `Err` with "cannot check" wording when the kind's data is not trustworthy.
    fn known(&self, kind: Kind) -> Result<(), String> {
        match self.snapshot.feed(kind).state {
            FeedState::Live | FeedState::Reconnecting { .. } => Ok(()),
            FeedState::Loading => Err(format!("{} still loading", kind.resource())),
            FeedState::Forbidden { verb, resource } => {
                Err(format!("forbidden to {verb} {resource}"))
            }
            FeedState::NotInstalled => {
                Err(format!("{} not served by this cluster", kind.resource()))
            }
        }
    }

    /// An info finding saying a check could not run, instead of claiming absence.
    fn cannot_check(id: &'static str, what: &str, why: &str, subject: Subject) -> Finding {
        Finding::new(
            id,
            Severity::Info,
            subject,
            format!("cannot check {what}: {why}"),
            "grant read access or wait for the data to load",
        )
    }

    fn installation_subject() -> Subject {
        Subject::object("Installation", None, "default")
    }

    fn uses_calico_ipam(&self) -> bool {
        self.snapshot
            .installation
            .as_ref()
            .and_then(|i| i.spec.cni.as_ref())
            .and_then(|c| c.ipam.as_ref())
            .and_then(|i| i.ipam_type.as_deref())
            .is_none_or(|t| t == "Calico")
    }
}

fn strict_affinity(context: &Context<'_>, out: &mut Vec<Finding>) {
    if !context.uses_calico_ipam() {
        return;
    }
    let subject = Subject::object("IPAMConfig", None, "default");
    if let Err(why) = context.known(Kind::IpamConfigs) {
        out.push(Context::cannot_check(
            "windows.strict-affinity",
            "strictAffinity",
            &why,
            subject,
        ));
        return;
    }
    let fix = "kubectl patch ipamconfigurations default --type merge --patch='{\"spec\": {\"strictAffinity\": true}}'";
    match &context.snapshot.ipam_config {
        None => out.push(Finding::new(
            "windows.strict-affinity",
            Severity::Error,
            subject,
            "IPAM configuration `default` does not exist, which counts as strictAffinity false: Windows pods and calico-node-windows fail (\"global strict affinity should not be false for Windows node\")",
            fix,
        )),
        Some(config) if !config.spec.strict_affinity => out.push(Finding::new(
            "windows.strict-affinity",
            Severity::Error,
            subject,
            "strictAffinity is false: Windows pods and calico-node-windows fail (\"global strict affinity should not be false for Windows node\")",
            fix,
        )),
        Some(_) => {}
    }
}

fn encapsulation(context: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(installation) = &context.snapshot.installation else {
        return;
    };
    let network = installation.spec.calico_network.as_ref();
    let Some(pool) = network
        .into_iter()
        .flat_map(|n| &n.ip_pools)
        .find(|p| !p.cidr.contains(':'))
    else {
        return;
    };
    // Absent encapsulation defaults to IPIP with Calico CNI.
    let value = pool.encapsulation.as_deref().unwrap_or("IPIP");
    if !matches!(value, "VXLAN" | "None") {
        out.push(Finding::new(
            "windows.encapsulation",
            Severity::Error,
            Context::installation_subject(),
            format!(
                "IPv4 pool {} uses encapsulation {value}, which Calico for Windows does not support: calico-node-windows is never rendered",
                pool.name.as_deref().unwrap_or(&pool.cidr)
            ),
            "set calicoNetwork.ipPools[].encapsulation to VXLAN (or None with BGP) in the Installation",
        ));
    }
}

fn ip_pool_modes(context: &Context<'_>, out: &mut Vec<Finding>) {
    if context.known(Kind::IpPools).is_err() || context.windows_nodes.is_empty() {
        return;
    }
    for pool in context.snapshot.ip_pools.iter() {
        let spec = &pool.spec;
        if spec.disabled || spec.cidr.contains(':') {
            continue;
        }
        let selects_windows = context.windows_nodes.iter().any(|node| {
            let empty = BTreeMap::new();
            let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
            // An expression this reader cannot evaluate is assumed to select the node.
            selector_matches(spec.node_selector(), labels).unwrap_or(true)
        });
        if !selects_windows {
            continue;
        }
        let vxlan = spec.vxlan_mode.as_deref().unwrap_or("Never");
        let ipip = spec.ipip_mode.as_deref().unwrap_or("Never");
        let name = pool.metadata.name.as_deref().unwrap_or(&spec.cidr);
        let problem = if vxlan == "CrossSubnet" {
            Some("vxlanMode CrossSubnet".to_string())
        } else if !ipip.is_empty() && ipip != "Never" {
            Some(format!("ipipMode {ipip}"))
        } else {
            None
        };
        if let Some(problem) = problem {
            out.push(Finding::new(
                "windows.ippool-encapsulation",
                Severity::Error,
                Subject::object("IPPool", None, name),
                format!("IP pool {name} selects Windows nodes and uses {problem}, which Windows cannot use"),
                "use vxlanMode Always and ipipMode Never (through the Installation for operator-managed pools)",
            ));
        }
    }
}

fn bgp_with_vxlan(context: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(installation) = &context.snapshot.installation else {
        return;
    };
    let Some(network) = &installation.spec.calico_network else {
        return;
    };
    let vxlan = network.ip_pools.iter().any(|p| {
        p.encapsulation
            .as_deref()
            .is_some_and(|e| e.starts_with("VXLAN"))
    });
    let provider = installation.spec.kubernetes_provider.as_deref();
    let bgp = network
        .bgp
        .as_deref()
        .unwrap_or(if provider == Some("EKS") {
            "Disabled"
        } else {
            "Enabled"
        });
    if vxlan && bgp != "Disabled" {
        out.push(Finding::new(
            "windows.bgp-with-vxlan",
            Severity::Warning,
            Context::installation_subject(),
            format!("calicoNetwork.bgp is {bgp} with VXLAN pools: Windows then runs the windows-bgp backend, which needs RemoteAccess/BGP on every Windows node"),
            "set calicoNetwork.bgp: Disabled in the Installation for Windows VXLAN",
        ));
    }
}

fn service_cidrs(context: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(installation) = &context.snapshot.installation else {
        return;
    };
    if context.windows_enabled && installation.spec.service_cidrs.is_empty() {
        out.push(Finding::new(
            "windows.service-cidrs",
            Severity::Error,
            Context::installation_subject(),
            "Installation.spec.serviceCIDRs is empty, which Calico for Windows requires: the operator rejects the Installation",
            "patch the Installation with serviceCIDRs equal to the API server's --service-cluster-ip-range",
        ));
    }
}

fn services_endpoint(context: &Context<'_>, out: &mut Vec<Finding>) {
    let subject = Subject::object(
        "ConfigMap",
        Some("tigera-operator"),
        "kubernetes-services-endpoint",
    );
    if let Err(why) = context.known(Kind::ConfigMaps) {
        out.push(Context::cannot_check(
            "windows.services-endpoint",
            "the kubernetes-services-endpoint ConfigMap",
            &why,
            subject,
        ));
        return;
    }
    let fix = "kubectl create configmap kubernetes-services-endpoint -n tigera-operator --from-literal=KUBERNETES_SERVICE_HOST=<api server IP> --from-literal=KUBERNETES_SERVICE_PORT=<port>";
    let Some(config_map) = &context.snapshot.services_endpoint else {
        out.push(Finding::new(
            "windows.services-endpoint",
            Severity::Error,
            subject,
            "ConfigMap tigera-operator/kubernetes-services-endpoint is missing: Windows components cannot reach the API server",
            fix,
        ));
        return;
    };
    let data = config_map.data.clone().unwrap_or_default();
    let value = |key: &str| {
        data.get(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let (host, port) = (
        value("KUBERNETES_SERVICE_HOST"),
        value("KUBERNETES_SERVICE_PORT"),
    );
    match (host, port) {
        (Some(host), Some(_)) if host.parse::<IpAddr>().is_err() => out.push(Finding::new(
            "windows.services-endpoint-dns",
            Severity::Warning,
            subject,
            format!("KUBERNETES_SERVICE_HOST is the DNS name {host}: host-network pods resolve it through CoreDNS, which needs the CNI being installed (bootstrap deadlock)"),
            "use the API server's IP address",
        )),
        (Some(_), Some(_)) => {}
        _ => out.push(Finding::new(
            "windows.services-endpoint",
            Severity::Error,
            subject,
            "ConfigMap kubernetes-services-endpoint lacks KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT",
            fix,
        )),
    }
}

fn kubernetes_service_ip(context: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(installation) = &context.snapshot.installation else {
        return;
    };
    let cidrs = &installation.spec.service_cidrs;
    if cidrs.is_empty() || context.known(Kind::Services).is_err() {
        return;
    }
    let Some(ip) = context
        .snapshot
        .kubernetes_service
        .as_ref()
        .and_then(|s| s.spec.as_ref())
        .and_then(|s| s.cluster_ip.as_deref())
        .and_then(|ip| ip.parse::<IpAddr>().ok())
    else {
        return;
    };
    let inside = cidrs
        .iter()
        .filter_map(|c| c.parse::<ipnet::IpNet>().ok())
        .any(|net| net.contains(&ip));
    if !inside {
        out.push(Finding::new(
            "service-cidrs.mismatch",
            Severity::Error,
            Context::installation_subject(),
            format!(
                "the kubernetes Service cluster IP {ip} is not inside serviceCIDRs {}: Windows service traffic is misrouted",
                cidrs.join(", ")
            ),
            "set Installation.spec.serviceCIDRs to the API server's --service-cluster-ip-range",
        ));
    }
}

fn kube_dns(context: &Context<'_>, out: &mut Vec<Finding>) {
    let subject = Subject::object("Service", Some("kube-system"), "kube-dns");
    if let Err(why) = context.known(Kind::Services) {
        if context.windows_enabled {
            out.push(Context::cannot_check(
                "kube-dns.missing",
                "kube-dns",
                &why,
                subject,
            ));
        }
        return;
    }
    if context.snapshot.kube_dns.is_none() {
        let severity = if context.windows_enabled {
            Severity::Error
        } else {
            Severity::Warning
        };
        out.push(Finding::new(
            "kube-dns.missing",
            severity,
            subject,
            "Service kube-system/kube-dns is missing: the Windows CNI config takes its nameservers from it (calico-windows degrades)",
            "install cluster DNS (CoreDNS) exposed as kube-system/kube-dns",
        ));
    }
}

fn windows_nodes(context: &Context<'_>, out: &mut Vec<Finding>) {
    for node in &context.windows_nodes {
        let name = pools::node_name(node);
        let runtime_value = node
            .status
            .as_ref()
            .and_then(|s| s.node_info.as_ref())
            .map(|i| i.container_runtime_version.clone())
            .unwrap_or_default();
        if !runtime_value.is_empty() {
            let runtime = Runtime::parse(&runtime_value);
            let old = semver_prefix(&runtime.version).is_none_or(|v| v < (1, 6, 0));
            if !runtime.is_containerd() || old {
                out.push(Finding::new(
                    "windows.containerd",
                    Severity::Error,
                    Subject::Node(name.to_string()),
                    format!("runs {runtime_value}: HostProcess containers (calico-node-windows) need containerd 1.6 or later"),
                    "upgrade the node image to one with containerd 1.6+ (or replace the node)",
                ));
            }
        }
        if let Some(build) = WindowsBuild::of(node)
            && let Some(problem) = unsupported_build(&build)
        {
            out.push(Finding::new(
                "windows.build-unsupported",
                Severity::Error,
                Subject::Node(name.to_string()),
                format!("Windows build {}: {problem}", build.display()),
                "use Windows Server 2019 (17763.1432+) or 2022 (20348.169+)",
            ));
        }
    }
}

/// Why a Windows build is not supported by Calico for Windows, if it is not (§4.2 P3).
pub fn unsupported_build(build: &WindowsBuild) -> Option<String> {
    let revision_below = |minimum: u32| build.revision.is_some_and(|r| r < minimum);
    match build.number {
        Some(26100) => Some("Windows Server 2025 is not supported by Calico".to_string()),
        Some(17763) if revision_below(1432) => {
            Some("Windows Server 2019 needs revision 1432 or later".to_string())
        }
        Some(20348) if revision_below(169) => {
            Some("Windows Server 2022 needs revision 169 or later".to_string())
        }
        Some(17763 | 20348) => None,
        _ => Some("not a Windows Server build Calico supports".to_string()),
    }
}

fn calico_down(context: &Context<'_>, out: &mut Vec<Finding>) {
    let snapshot = context.snapshot;
    // Resolved at the first node that is not Ready: a healthy cluster skips the pass over the
    // pods.
    let mut agents = None;
    for node in snapshot.nodes.iter() {
        if printers::node_ready(node) == Some(true) {
            continue;
        }
        let agents = agents.get_or_insert_with(|| rollout::agent_daemon_sets(snapshot));
        let name = pools::node_name(node);
        let network_unavailable = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .find(|c| c.type_ == "NetworkUnavailable" && c.status == "True");
        let agent = OsFamily::of(node)
            .agent_daemon_set()
            .and_then(|ds| agents.iter().find(|a| a.name == ds));
        let agent_problem = agent.and_then(|a| match a.pod_on(name) {
            Some(pod) if !rollout::pod_is_ready(pod) => Some(format!(
                "{} pod {} is {}",
                a.name,
                pod.metadata.name.as_deref().unwrap_or_default(),
                printers::pod_columns(pod).status
            )),
            None if a.should_run(node) => Some(format!("no {} pod", a.name)),
            _ => None,
        });
        let reason = match (network_unavailable, agent_problem) {
            (_, Some(problem)) => problem,
            (Some(condition), None) => format!(
                "NetworkUnavailable ({})",
                condition.reason.as_deref().unwrap_or_default()
            ),
            (None, None) => continue,
        };
        out.push(Finding::new(
            "node.calico-down",
            Severity::Error,
            Subject::Node(name.to_string()),
            format!("NotReady because Calico is down on it: {reason}"),
            "see the Rollout view for why the Calico pod is not ready",
        ));
    }
}

fn v3_api(context: &Context<'_>, out: &mut Vec<Finding>) {
    if context.windows_enabled && context.snapshot.calico_api == CalicoApiMode::V1Crds {
        out.push(Finding::new(
            "windows.no-v3-api",
            Severity::Error,
            Subject::Cluster,
            "no projectcalico.org/v3 API: the operator's Windows controller waits forever for IPAMConfiguration and never renders calico-node-windows",
            "create the APIServer `default` resource (aggregated Calico API server)",
        ));
    }
}

fn windows_daemon_set(context: &Context<'_>, out: &mut Vec<Finding>) {
    if context.windows_nodes.is_empty() || context.known(Kind::DaemonSets).is_err() {
        return;
    }
    let Some(installation) = &context.snapshot.installation else {
        return;
    };
    let target = RolloutTarget::CalicoNodeWindows;
    if rollout::find_daemon_set(context.snapshot, target.namespace(), target.name()).is_some() {
        return;
    }
    let subject = Subject::object("DaemonSet", Some(target.namespace()), target.name());
    if installation.windows_enabled() {
        let reason = rollout::absent_reason(context.snapshot, target);
        out.push(Finding::new(
            "windows.daemonset-absent",
            Severity::Error,
            subject,
            format!("calico-node-windows does not exist although Windows nodes do and windowsDataplane is HNS: {reason}"),
            "fix what TigeraStatus calico-windows reports",
        ));
    } else {
        out.push(Finding::new(
            "windows.dataplane-disabled",
            Severity::Warning,
            subject,
            "the cluster has Windows nodes but the Installation's windowsDataplane is not HNS: Calico does not run on them",
            "patch the Installation with calicoNetwork.windowsDataplane: HNS",
        ));
    }
}

fn tigera_degraded(context: &Context<'_>, out: &mut Vec<Finding>) {
    for status in context.snapshot.tigera_statuses.iter() {
        let Some(condition) = status.condition("Degraded").filter(|c| c.status == "True") else {
            continue;
        };
        let name = status.metadata.name.as_deref().unwrap_or_default();
        out.push(Finding::new(
            "tigera.degraded",
            Severity::Error,
            Subject::object("TigeraStatus", None, name),
            format!(
                "operator component {name} is Degraded ({}): {}",
                condition.reason.as_deref().unwrap_or_default(),
                condition.message.as_deref().unwrap_or_default()
            ),
            "",
        ));
    }
}

fn typha_ha(context: &Context<'_>, out: &mut Vec<Finding>) {
    if context.known(Kind::Nodes).is_err() {
        return;
    }
    let workers = context
        .snapshot
        .nodes
        .iter()
        .filter(|n| OsFamily::of(n) == OsFamily::Linux)
        .filter(|n| {
            !n.metadata.labels.as_ref().is_some_and(|l| {
                l.contains_key("node-role.kubernetes.io/control-plane")
                    || l.contains_key("node-role.kubernetes.io/master")
            })
        })
        .count();
    if workers == 0 {
        out.push(Finding::new(
            "linux.workers",
            Severity::Error,
            Subject::Cluster,
            "no Linux worker node: Typha and calico-kube-controllers have nowhere to run for Windows",
            "add at least one Linux worker (three for Typha HA)",
        ));
    } else if workers < 3 {
        out.push(Finding::new(
            "linux.typha-ha",
            Severity::Info,
            Subject::Cluster,
            format!("{workers} Linux worker(s): fewer than the 3 recommended for Typha high availability"),
            "add Linux workers",
        ));
    }
}

fn kubelet_skew(pools: &[NodePool], out: &mut Vec<Finding>) {
    for pool in pools.iter().filter(|p| p.kubelet.skew) {
        out.push(Finding::new(
            "pool.kubelet-skew",
            Severity::Warning,
            Subject::Pool(pool.key.clone()),
            format!(
                "kubelet versions differ within the pool: {}",
                pool.kubelet.display()
            ),
            "finish the node pool upgrade",
        ));
    }
}

fn terminating_on_windows(context: &Context<'_>, out: &mut Vec<Finding>) {
    let now = context.snapshot.taken_at;
    let windows: BTreeSet<&str> = context
        .windows_nodes
        .iter()
        .map(|n| pools::node_name(n))
        .collect();
    let mut stuck: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for pod in context.snapshot.pods.iter() {
        // The deletion timestamp is when the grace period ends; past it the pod is stuck.
        // Checked first: it sits in the pod itself, the node name behind another pointer.
        let overdue = pod
            .metadata
            .deletion_timestamp
            .as_ref()
            .is_some_and(|t| t.0 < now);
        if !overdue {
            continue;
        }
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else {
            continue;
        };
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if windows.contains(node) && !matches!(phase, Some("Succeeded" | "Failed")) {
            stuck.entry(node).or_default().push(format!(
                "{}/{}",
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                pod.metadata.name.as_deref().unwrap_or_default()
            ));
        }
    }
    for (node, pods) in stuck {
        out.push(Finding::new(
            "windows.stuck-terminating",
            Severity::Warning,
            Subject::Node(node.to_string()),
            format!(
                "{} pod(s) stuck Terminating past their grace period ({}): HNS endpoint cleanup hangs; this blocks drain",
                pods.len(),
                pods.join(", ")
            ),
            "check FailedKillPod events; restarting the node's HNS or the node clears them",
        ));
    }
}

/// Evaluates the subset of Calico's selector syntax pools use in practice: `all()`,
/// `k == 'v'`, `k != 'v'`, `has(k)`, `!has(k)`, `k in {'a', 'b'}`, `k not in {...}`, joined
/// by `&&` and `||` (no parentheses). `None` when the expression is outside that subset.
pub fn selector_matches(selector: &str, labels: &BTreeMap<String, String>) -> Option<bool> {
    let mut any = false;
    for alternative in selector.split("||") {
        let mut all = true;
        for term in alternative.split("&&") {
            all &= term_matches(term.trim(), labels)?;
        }
        any |= all;
    }
    Some(any)
}

fn term_matches(term: &str, labels: &BTreeMap<String, String>) -> Option<bool> {
    let unquote = |v: &str| {
        let v = v.trim();
        v.strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .or_else(|| v.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
            .map(str::to_string)
    };
    let set = |v: &str| -> Option<Vec<String>> {
        let inner = v.trim().strip_prefix('{')?.strip_suffix('}')?;
        inner
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(unquote)
            .collect()
    };
    if term == "all()" || term.is_empty() {
        return Some(true);
    }
    if let Some(key) = term.strip_prefix("!has(").and_then(|t| t.strip_suffix(')')) {
        return Some(!labels.contains_key(key.trim()));
    }
    if let Some(key) = term.strip_prefix("has(").and_then(|t| t.strip_suffix(')')) {
        return Some(labels.contains_key(key.trim()));
    }
    if let Some((key, value)) = term.split_once("==") {
        return Some(labels.get(key.trim()) == Some(&unquote(value)?));
    }
    if let Some((key, value)) = term.split_once("!=") {
        return Some(labels.get(key.trim()) != Some(&unquote(value)?));
    }
    if let Some((key, values)) = term.split_once(" not in ") {
        let values = set(values)?;
        return Some(labels.get(key.trim()).is_none_or(|v| !values.contains(v)));
    }
    if let Some((key, values)) = term.split_once(" in ") {
        let values = set(values)?;
        return Some(labels.get(key.trim()).is_some_and(|v| values.contains(v)));
    }
    None
}
