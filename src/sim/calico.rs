//! Calico's node-side behaviour in the simulated cluster: the CNI plugin's ADD and DEL as the
//! kubelet invokes them for pod sandboxes, and what the Calico node agent does when its main
//! container starts (calico-node on Linux: tunnel addresses; calico-node-windows: IPAMConfig
//! check, `EnsureBlock` with the Windows reserved ordinals, the .1 tunnel address) including the
//! Node annotations Calico writes (`projectcalico.org/IPv4Address`, `…/IPv4VXLANTunnelAddr`,
//! `…/VXLANTunnelMACAddr`, `…/IPv4IPIPTunnelAddr`). Address management itself is
//! `calico_ipam`'s; this module decides what each component asks of it and words failures as
//! the kubelet and the container would show them. It writes only Calico IPAM objects (through
//! `calico_ipam`) and Node annotations; pod status, events and container state are the kubelet's.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;
use serde_json::{Map, Value, json};

use super::calico_ipam::{
    AllowedUse, AssignArgs, HostPlan, IpPool, Ipam, IpamError, WINDOWS_RESERVED, ip_pools,
    ordinal_address,
};
use super::clock::Clock;
use super::store::Store;
use super::write::{Part, PatchType, WriteOptions};

pub use super::calico_ipam::{ipam_config, set_strict_affinity};

/// The CNI network name in Calico's CNI config; pod handles are `<network>.<containerID>`.
pub const POD_NETWORK: &str = "k8s-pod-network";
pub const IPV4_ADDRESS_ANNOTATION: &str = "projectcalico.org/IPv4Address";
pub const VXLAN_TUNNEL_ADDR_ANNOTATION: &str = "projectcalico.org/IPv4VXLANTunnelAddr";
pub const VXLAN_TUNNEL_MAC_ANNOTATION: &str = "projectcalico.org/VXLANTunnelMACAddr";
pub const IPIP_TUNNEL_ADDR_ANNOTATION: &str = "projectcalico.org/IPv4IPIPTunnelAddr";

/// Field managers: the binaries that write in a real cluster.
const CNI_MANAGER: &str = "calico-ipam";
const AGENT_MANAGER: &str = "calico-node";
/// The simulator's node pools sit in one VNet subnet, a /16 as AKS creates by default; Calico's
/// autodetection reports the interface's prefix with the address.
pub const NODE_SUBNET_PREFIX_LEN: u8 = 16;
/// `Installation.spec.windowsNodes.vxlanMACPrefix` when unset.
const DEFAULT_WINDOWS_VXLAN_MAC_PREFIX: &str = "0E-2A";

/// A Calico agent container that exits instead of starting.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentFailure {
    pub container: String,
    pub message: String,
    pub exit_code: i32,
}

/// The IPAM handle of a pod sandbox: `k8s-pod-network.<containerID>`.
pub fn pod_handle(container_id: &str) -> String {
    format!("{POD_NETWORK}.{container_id}")
}

/// Whether Calico treats the node as Windows (its `kubernetes.io/os` label).
pub fn is_windows_node(store: &Store, node: &str) -> bool {
    store
        .registry()
        .get("", "v1", "nodes")
        .and_then(|rt| store.try_get(&rt, "", node))
        .is_some_and(|n| n.labels.get("kubernetes.io/os").map(String::as_str) == Some("windows"))
}

/// Calico CNI ADD for a pod sandbox: assigns an address with Calico IPAM (v1 storage
/// crd.projectcalico.org: ippools, ipamblocks, blockaffinities, ipamhandles, ipamconfigs).
/// Err is the exact message the kubelet puts into its FailedCreatePodSandBox event, e.g.
/// `plugin type="calico" failed (add): global strict affinity should not be false for Windows node`.
/// A repeated ADD for the same container returns the address its handle already holds.
pub fn cni_add(
    store: &Store,
    node: &str,
    namespace: &str,
    pod: &str,
    container_id: &str,
) -> Result<IpAddr, String> {
    let ipam = Ipam::new(store, CNI_MANAGER).map_err(|e| cni_failure(&e))?;
    let handle = pod_handle(container_id);
    let held = ipam.addresses_of(&handle).map_err(|e| cni_failure(&e))?;
    if let Some(address) = held.first() {
        return Ok(IpAddr::V4(*address));
    }
    let windows = is_windows_node(store, node);
    let args = pod_request(store.clock.as_ref(), node, &handle, namespace, pod, windows);
    ipam.auto_assign(&args)
        .map(IpAddr::V4)
        .map_err(|e| cni_failure(&e))
}

/// Calico CNI DEL: releases the pod's handle `k8s-pod-network.<container_id>` (no error if absent).
pub fn cni_del(store: &Store, container_id: &str) {
    let handle = pod_handle(container_id);
    let released = Ipam::new(store, CNI_MANAGER).and_then(|ipam| ipam.release_by_handle(&handle));
    if let Err(err) = released {
        // The kubelet retries DEL with the sandbox; a lost address is what a real failed DEL
        // leaves behind too, for calicoctl ipam check to find.
        tracing::debug!(%handle, %err, "calico CNI DEL failed");
    }
}

/// One pod of a scenario that starts with its address already assigned.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioPod<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub container_id: &'a str,
}

/// Assigns addresses to a node's pods as successive CNI ADDs would, for scenarios that start
/// from a running cluster. The host's pools and blocks are looked up once for all of them.
/// Stops at the first failure, with the CNI's message.
pub fn allocate_for_scenario(
    store: &Store,
    node: &str,
    pods: &[ScenarioPod<'_>],
) -> Result<Vec<IpAddr>, String> {
    let ipam = Ipam::new(store, CNI_MANAGER).map_err(|e| cni_failure(&e))?;
    let windows = is_windows_node(store, node);
    let reserved = windows.then_some(WINDOWS_RESERVED);
    let mut plan: HostPlan = ipam
        .host_plan(node, &[], AllowedUse::Workload, reserved)
        .map_err(|e| cni_failure(&e))?;
    pods.iter()
        .map(|pod| {
            let handle = pod_handle(pod.container_id);
            let args = pod_request(
                store.clock.as_ref(),
                node,
                &handle,
                pod.namespace,
                pod.name,
                windows,
            );
            ipam.assign_with_plan(&mut plan, &args)
                .map(IpAddr::V4)
                .map_err(|e| cni_failure(&e))
        })
        .collect()
}

/// What the Calico node agent needs when its main container starts on `node` (calico-node's
/// `calico-node` container on Linux; calico-node-windows' `node` container on Windows): pools,
/// IPAM configuration (Windows: strictAffinity must be true), the node's block (Windows:
/// EnsureBlock, single block, reserved ordinals) or tunnel address (Linux VXLAN), node
/// annotations (projectcalico.org/IPv4VXLANTunnelAddr ...). Err makes that container exit
/// (the kubelet turns it into CrashLoopBackOff with the message as the terminated reason's
/// message and `exit_code`).
pub fn agent_start(store: &Store, node: &str) -> Result<(), AgentFailure> {
    let windows = is_windows_node(store, node);
    let fail = |message: String| AgentFailure {
        container: if windows { "node" } else { "calico-node" }.to_string(),
        message,
        exit_code: 1,
    };
    let ipam = Ipam::new(store, AGENT_MANAGER).map_err(|e| fail(e.to_string()))?;
    let mut annotations = BTreeMap::new();
    annotations.insert(IPV4_ADDRESS_ANNOTATION, node_address(store, node));
    if windows {
        windows_network(store, &ipam, node, &mut annotations)
    } else {
        linux_tunnels(store, &ipam, node, &mut annotations)
    }
    .map_err(fail)?;
    annotate(store, node, &annotations).map_err(|e| {
        fail(format!(
            "Unable to set node resource configuration error={e}"
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// CNI
// ---------------------------------------------------------------------------------------------

fn pod_request<'a>(
    clock: &dyn Clock,
    node: &'a str,
    handle: &'a str,
    namespace: &str,
    pod: &str,
    windows: bool,
) -> AssignArgs<'a> {
    let attrs = BTreeMap::from([
        ("namespace".to_string(), namespace.to_string()),
        ("node".to_string(), node.to_string()),
        ("pod".to_string(), pod.to_string()),
        ("timestamp".to_string(), go_time_string(clock.now())),
    ]);
    AssignArgs {
        host: node,
        handle_id: handle,
        attrs,
        intended_use: AllowedUse::Workload,
        // windows_use_single_network: the plugin limits the host to one block.
        max_blocks: u32::from(windows),
        reserved: windows.then_some(WINDOWS_RESERVED),
        requested_pools: Vec::new(),
        windows_host: windows,
    }
}

/// The message of a failed ADD as the kubelet shows it.
fn cni_failure(err: &IpamError) -> String {
    let detail = match err {
        IpamError::Unfulfilled { .. } => format!("failed to request IPv4 addresses: {err}"),
        other => other.to_string(),
    };
    format!("plugin type=\"calico\" failed (add): {detail}")
}

/// Go's `time.Time.String()` of a UTC time, which the CNI plugin records as `timestamp`:
/// `2026-11-29 08:00:00.123456789 +0000 UTC`, trailing zeros of the fraction dropped.
pub fn go_time_string(at: jiff::Timestamp) -> String {
    let seconds = at.strftime("%Y-%m-%d %H:%M:%S");
    let nanos = at.subsec_nanosecond();
    if nanos == 0 {
        return format!("{seconds} +0000 UTC");
    }
    let fraction = format!("{nanos:09}");
    format!("{seconds}.{} +0000 UTC", fraction.trim_end_matches('0'))
}

// ---------------------------------------------------------------------------------------------
// The node agent
// ---------------------------------------------------------------------------------------------

type Annotations = BTreeMap<&'static str, Option<String>>;

/// calico-node-windows: the IPAMConfig check and `EnsureBlock` inside `ensureNetworkForOS`;
/// the tunnel address is the block's .1, which the reservation already holds.
fn windows_network(
    store: &Store,
    ipam: &Ipam<'_>,
    node: &str,
    annotations: &mut Annotations,
) -> Result<(), String> {
    let block = ipam
        .ensure_block(node, WINDOWS_RESERVED, true)
        .map_err(|e| format!("Unable to ensure network for os error={e}"))?;
    let vxlan = ip_pools(store)
        .iter()
        .any(|p| p.vxlan && p.contains_block(block));
    let tunnel = vxlan.then(|| ordinal_address(block, 1));
    annotations.insert(VXLAN_TUNNEL_ADDR_ANNOTATION, tunnel.map(|a| a.to_string()));
    annotations.insert(
        VXLAN_TUNNEL_MAC_ANNOTATION,
        tunnel.map(|a| windows_vxlan_mac(store, a)),
    );
    Ok(())
}

/// One kind of tunnel address calico-node keeps for a Linux host.
struct Tunnel {
    name: &'static str,
    handle_prefix: &'static str,
    attr_type: &'static str,
    annotation: &'static str,
    /// Felix also publishes the VXLAN device's MAC.
    mac_annotation: Option<&'static str>,
    enabled_in: fn(&IpPool) -> bool,
}

const TUNNELS: [Tunnel; 2] = [
    Tunnel {
        name: "VXLAN",
        handle_prefix: "vxlan-tunnel-addr",
        attr_type: "vxlanTunnelAddress",
        annotation: VXLAN_TUNNEL_ADDR_ANNOTATION,
        mac_annotation: Some(VXLAN_TUNNEL_MAC_ANNOTATION),
        enabled_in: |p| p.vxlan,
    },
    Tunnel {
        name: "IPIP",
        handle_prefix: "ipip-tunnel-addr",
        attr_type: "ipipTunnelAddress",
        annotation: IPIP_TUNNEL_ADDR_ANNOTATION,
        mac_annotation: None,
        enabled_in: |p| p.ipip,
    },
];

/// calico-node's tunnel address allocation on Linux: one address per enabled encapsulation,
/// from the pools of that encapsulation that select the node; released when none does.
fn linux_tunnels(
    store: &Store,
    ipam: &Ipam<'_>,
    node: &str,
    annotations: &mut Annotations,
) -> Result<(), String> {
    let pools = ip_pools(store);
    if pools.is_empty() {
        return Err(format!(
            "Unable to allocate tunnel addresses error={}",
            IpamError::NoQualifiedPool
        ));
    }
    let labels = node_labels(store, node);
    for tunnel in &TUNNELS {
        let cidrs: Vec<Ipv4Net> = pools
            .iter()
            .filter(|p| !p.disabled && (tunnel.enabled_in)(p) && p.allows(AllowedUse::Tunnel))
            .filter(|p| p.selects(&labels).unwrap_or(false))
            .map(|p| p.cidr)
            .collect();
        let address = tunnel_address(ipam, node, tunnel, &cidrs).map_err(|e| {
            format!(
                "Unable to autoassign an address for the {} tunnel error={e}",
                tunnel.name
            )
        })?;
        if let Some(mac) = tunnel.mac_annotation {
            annotations.insert(mac, address.map(|_| linux_vxlan_mac(node)));
        }
        annotations.insert(tunnel.annotation, address.map(|a| a.to_string()));
    }
    Ok(())
}

/// Keeps the address the tunnel handle holds if it is still in an eligible pool; otherwise
/// releases it and assigns a new one (none when no pool wants this tunnel).
fn tunnel_address(
    ipam: &Ipam<'_>,
    node: &str,
    tunnel: &Tunnel,
    pools: &[Ipv4Net],
) -> Result<Option<Ipv4Addr>, IpamError> {
    let handle = format!("{}-{node}", tunnel.handle_prefix);
    let held = ipam.addresses_of(&handle)?;
    if let Some(address) = held.iter().find(|a| pools.iter().any(|p| p.contains(*a))) {
        return Ok(Some(*address));
    }
    if !held.is_empty() {
        ipam.release_by_handle(&handle)?;
    }
    if pools.is_empty() {
        return Ok(None);
    }
    let args = AssignArgs {
        host: node,
        handle_id: &handle,
        attrs: BTreeMap::from([
            ("node".to_string(), node.to_string()),
            ("type".to_string(), tunnel.attr_type.to_string()),
        ]),
        intended_use: AllowedUse::Tunnel,
        max_blocks: 0,
        reserved: None,
        requested_pools: pools.to_vec(),
        windows_host: false,
    };
    ipam.auto_assign(&args).map(Some)
}

fn node_object(store: &Store, node: &str) -> Option<Value> {
    let rt = store.registry().get("", "v1", "nodes")?;
    store.try_get(&rt, "", node)?.value().ok()
}

fn node_labels(store: &Store, node: &str) -> BTreeMap<String, String> {
    store
        .registry()
        .get("", "v1", "nodes")
        .and_then(|rt| store.try_get(&rt, "", node))
        .map(|n| n.labels.clone())
        .unwrap_or_default()
}

/// `<InternalIP>/<prefix>`, what Calico's address autodetection reports for the node.
fn node_address(store: &Store, node: &str) -> Option<String> {
    let object = node_object(store, node)?;
    let internal = object["status"]["addresses"]
        .as_array()?
        .iter()
        .find(|a| a["type"] == "InternalIP")?["address"]
        .as_str()?
        .parse::<Ipv4Addr>()
        .ok()?;
    Some(format!("{internal}/{NODE_SUBNET_PREFIX_LEN}"))
}

/// Felix on Linux gives vxlan.calico a random, locally administered MAC; the simulator derives
/// one from the node name so runs repeat.
pub fn linux_vxlan_mac(node: &str) -> String {
    let mut bytes = super::calico_ipam::fnv1_32(node).to_be_bytes().to_vec();
    bytes.push(super::calico_ipam::fnv1_32(&format!("{node}/vxlan")).to_be_bytes()[3]);
    let tail: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("66:{}", tail.join(":"))
}

/// INFERRED: Calico for Windows builds the VXLAN MAC from the Installation's two-byte
/// `vxlanMACPrefix` followed by the four bytes of the tunnel address.
pub fn windows_vxlan_mac(store: &Store, tunnel: Ipv4Addr) -> String {
    let prefix = store
        .registry()
        .get("operator.tigera.io", "v1", "installations")
        .and_then(|rt| store.try_get(&rt, "", "default"))
        .and_then(|i| i.value().ok())
        .and_then(|i| {
            i.pointer("/spec/windowsNodes/vxlanMACPrefix")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| DEFAULT_WINDOWS_VXLAN_MAC_PREFIX.to_string());
    let [a, b, c, d] = tunnel.octets();
    format!("{prefix}-{a:02X}-{b:02X}-{c:02X}-{d:02X}")
}

/// Writes the annotations that differ (a `None` removes one); a restart that changes nothing
/// writes nothing.
fn annotate(
    store: &Store,
    node: &str,
    annotations: &Annotations,
) -> Result<(), super::error::ApiError> {
    let rt = store
        .registry()
        .get("", "v1", "nodes")
        .ok_or_else(super::error::ApiError::path_not_found)?;
    let current = store.get(&rt, "", node)?.value()?;
    let existing = &current["metadata"]["annotations"];
    let mut changes = Map::new();
    for (key, wanted) in annotations {
        let have = existing[*key].as_str();
        if have != wanted.as_deref() {
            changes.insert(
                (*key).to_string(),
                wanted.as_ref().map_or(Value::Null, |v| json!(v)),
            );
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    let patch = json!({"metadata": {"annotations": changes}});
    store
        .patch(
            &rt,
            "",
            node,
            PatchType::Merge,
            &patch,
            Part::Main,
            &WriteOptions::manager(AGENT_MANAGER),
        )
        .map(|_| ())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::sim::calico_ipam::tests::{add_node, add_pool, calico_store};
    use crate::sim::calico_ipam::{block_affinity_name, block_name};
    use crate::sim::crds::CALICO_V1_GROUP;

    fn object(store: &Store, plural: &str, name: &str) -> Value {
        let group = if plural == "nodes" {
            ""
        } else {
            CALICO_V1_GROUP
        };
        let rt = store.registry().get(group, "v1", plural).unwrap();
        store.get(&rt, "", name).unwrap().value().unwrap()
    }

    fn try_object(store: &Store, plural: &str, name: &str) -> Option<Value> {
        let rt = store.registry().get(CALICO_V1_GROUP, "v1", plural).unwrap();
        store.try_get(&rt, "", name).map(|o| o.value().unwrap())
    }

    fn count(store: &Store, plural: &str) -> usize {
        let rt = store.registry().get(CALICO_V1_GROUP, "v1", plural).unwrap();
        store.count(&rt)
    }

    fn v4(address: IpAddr) -> Ipv4Addr {
        match address {
            IpAddr::V4(a) => a,
            IpAddr::V6(a) => panic!("unexpected IPv6 {a}"),
        }
    }

    /// The block a host claims first: the host-seeded start of the pool's block walk.
    fn first_block(pool: &str, block_size: u8, host: &str) -> Ipv4Net {
        let pool: Ipv4Net = pool.parse().unwrap();
        let blocks = 1u32 << (block_size - pool.prefix_len());
        let index = super::super::calico_ipam::fnv1_32(host) % blocks;
        let base = u32::from(pool.network()) + index * (1u32 << (32 - block_size));
        Ipv4Net::new(Ipv4Addr::from(base), block_size).unwrap()
    }

    fn hybrid_cluster(strict: bool) -> Store {
        let store = calico_store();
        add_node(&store, "aks-linux-0", "linux", "10.224.0.4");
        add_node(&store, "akswin000000", "windows", "10.224.0.9");
        add_pool(&store, "default-ipv4-ippool", "192.168.0.0/16", 26, "all()");
        set_strict_affinity(&store, strict).unwrap();
        store
    }

    #[test]
    fn linux_agent_takes_the_first_ordinal_as_vxlan_tunnel_address() {
        let store = hybrid_cluster(true);
        agent_start(&store, "aks-linux-0").unwrap();
        let block = first_block("192.168.0.0/16", 26, "aks-linux-0");
        let tunnel = block.network();

        let node = object(&store, "nodes", "aks-linux-0");
        let annotations = &node["metadata"]["annotations"];
        assert_eq!(
            annotations[VXLAN_TUNNEL_ADDR_ANNOTATION],
            tunnel.to_string()
        );
        assert_eq!(annotations[IPV4_ADDRESS_ANNOTATION], "10.224.0.4/16");
        let mac = annotations[VXLAN_TUNNEL_MAC_ANNOTATION].as_str().unwrap();
        assert!(mac.starts_with("66:") && mac.len() == 17, "{mac}");

        let spec = &object(&store, "ipamblocks", &block_name(block))["spec"];
        assert_eq!(spec["allocations"][0], 0);
        assert_eq!(
            spec["attributes"][0]["handle_id"],
            "vxlan-tunnel-addr-aks-linux-0"
        );
        assert_eq!(
            spec["attributes"][0]["secondary"],
            json!({"node": "aks-linux-0", "type": "vxlanTunnelAddress"})
        );
        let handle = object(&store, "ipamhandles", "vxlan-tunnel-addr-aks-linux-0");
        assert_eq!(handle["spec"]["block"][block.to_string()], 1);

        // A restart keeps the address and writes nothing.
        let rv = store.current_rv();
        agent_start(&store, "aks-linux-0").unwrap();
        assert_eq!(store.current_rv(), rv);

        // The first pod gets the next ordinal of the same block.
        let pod = cni_add(&store, "aks-linux-0", "default", "web-0", "c0").unwrap();
        assert_eq!(v4(pod), ordinal_address(block, 1));
    }

    #[test]
    fn affinity_is_written_pending_then_confirmed() {
        let store = hybrid_cluster(true);
        let rt = store
            .registry()
            .get(CALICO_V1_GROUP, "v1", "blockaffinities")
            .unwrap();
        let from = store.current_rv();
        cni_add(&store, "aks-linux-0", "default", "web-0", "c0").unwrap();
        let (events, _) = store.follow(&rt, from).unwrap();
        let states: Vec<(String, String)> = events
            .iter()
            .map(|e| {
                let v = e.object.value().unwrap();
                (
                    e.kind.as_str().to_string(),
                    v["spec"]["state"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            states,
            [
                ("ADDED".to_string(), "pending".to_string()),
                ("MODIFIED".to_string(), "confirmed".to_string())
            ]
        );
    }

    #[test]
    fn sixty_five_pods_on_a_linux_node_fill_one_block_and_start_a_second() {
        let store = hybrid_cluster(true);
        let mut addresses = Vec::new();
        for i in 0..65 {
            let ip = cni_add(
                &store,
                "aks-linux-0",
                "default",
                &format!("web-{i}"),
                &format!("c{i}"),
            );
            addresses.push(v4(ip.unwrap()));
        }
        let first = first_block("192.168.0.0/16", 26, "aks-linux-0");
        assert!(addresses[..64].iter().all(|a| first.contains(a)));
        assert_eq!(addresses[0], first.network());
        assert_eq!(addresses[63], first.broadcast());
        // The walk continues at the next block of the pool.
        let second = Ipv4Net::new(Ipv4Addr::from(u32::from(first.network()) + 64), 26).unwrap();
        assert_eq!(addresses[64], second.network());
        assert_eq!(count(&store, "ipamblocks"), 2);
        assert_eq!(count(&store, "blockaffinities"), 2);
        assert_eq!(count(&store, "ipamhandles"), 65);
        let full = object(&store, "ipamblocks", &block_name(first));
        assert_eq!(full["spec"]["unallocated"], json!([]));
    }

    #[test]
    fn windows_block_reserves_four_ordinals_and_holds_sixty_pods() {
        let store = hybrid_cluster(true);
        agent_start(&store, "akswin000000").unwrap();
        let block = first_block("192.168.0.0/16", 26, "akswin000000");

        let spec = object(&store, "ipamblocks", &block_name(block))["spec"].clone();
        let reserved: Vec<usize> = spec["allocations"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .filter(|(_, a)| !a.is_null())
            .map(|(o, _)| o)
            .collect();
        assert_eq!(reserved, [0, 1, 2, 63]);
        assert_eq!(
            spec["attributes"],
            json!([{"handle_id": "windows-reserved-ipam-handle", "secondary": {"note": "windows host rsvd"}}])
        );
        assert_eq!(spec["strictAffinity"], true);
        // No IPAMHandle for the reserved addresses.
        assert_eq!(count(&store, "ipamhandles"), 0);

        let node = object(&store, "nodes", "akswin000000");
        let annotations = &node["metadata"]["annotations"];
        let dot_one = ordinal_address(block, 1);
        assert_eq!(
            annotations[VXLAN_TUNNEL_ADDR_ANNOTATION],
            dot_one.to_string()
        );
        let [a, b, c, d] = dot_one.octets();
        assert_eq!(
            annotations[VXLAN_TUNNEL_MAC_ANNOTATION],
            format!("0E-2A-{a:02X}-{b:02X}-{c:02X}-{d:02X}")
        );
        assert_eq!(annotations[IPV4_ADDRESS_ANNOTATION], "10.224.0.9/16");

        for i in 0..60u32 {
            let ip = cni_add(
                &store,
                "akswin000000",
                "win",
                &format!("iis-{i}"),
                &format!("w{i}"),
            );
            assert_eq!(v4(ip.unwrap()), ordinal_address(block, 3 + i));
        }
        let err = cni_add(&store, "akswin000000", "win", "iis-60", "w60").unwrap_err();
        assert_eq!(
            err,
            "plugin type=\"calico\" failed (add): cannot allocate new block due to per host block limit"
        );
        assert_eq!(count(&store, "ipamblocks"), 1);
        assert!(try_object(&store, "ipamhandles", "k8s-pod-network.w60").is_none());
    }

    #[test]
    fn windows_refuses_to_work_with_strict_affinity_off() {
        let store = hybrid_cluster(false);
        let failure = agent_start(&store, "akswin000000").unwrap_err();
        assert_eq!(
            failure,
            AgentFailure {
                container: "node".into(),
                message: "Unable to ensure network for os error=global strict affinity should not be false for Windows node".into(),
                exit_code: 1,
            }
        );
        let err = cni_add(&store, "akswin000000", "win", "iis-0", "w0").unwrap_err();
        assert_eq!(
            err,
            "plugin type=\"calico\" failed (add): global strict affinity should not be false for Windows node"
        );
        assert_eq!(count(&store, "ipamblocks"), 0);
        // Linux is not affected.
        agent_start(&store, "aks-linux-0").unwrap();
    }

    #[test]
    fn agents_fail_until_a_pool_exists() {
        let store = calico_store();
        add_node(&store, "aks-linux-0", "linux", "10.224.0.4");
        add_node(&store, "akswin000000", "windows", "10.224.0.9");
        let linux = agent_start(&store, "aks-linux-0").unwrap_err();
        assert_eq!(linux.container, "calico-node");
        assert_eq!(linux.exit_code, 1);
        assert_eq!(
            linux.message,
            "Unable to allocate tunnel addresses error=cannot find a qualified ippool"
        );
        let windows = agent_start(&store, "akswin000000").unwrap_err();
        assert_eq!(
            windows.message,
            "Unable to ensure network for os error=cannot find a qualified ippool"
        );
        assert_eq!(
            cni_add(&store, "aks-linux-0", "default", "web-0", "c0").unwrap_err(),
            "plugin type=\"calico\" failed (add): cannot find a qualified ippool"
        );
    }

    fn carved_up_pool(strict: bool) -> (Store, Vec<Ipv4Net>) {
        let store = calico_store();
        add_pool(&store, "small", "10.50.0.0/24", 26, "all()");
        set_strict_affinity(&store, strict).unwrap();
        for i in 0..5 {
            add_node(
                &store,
                &format!("n{i}"),
                "linux",
                &format!("10.224.0.{}", 10 + i),
            );
        }
        let mut owned = Vec::new();
        for i in 0..4 {
            let ip = v4(cni_add(
                &store,
                &format!("n{i}"),
                "default",
                &format!("p{i}"),
                &format!("c{i}"),
            )
            .unwrap());
            owned.push(Ipv4Net::new(ip, 26).unwrap().trunc());
        }
        (store, owned)
    }

    #[test]
    fn four_nodes_carve_up_a_small_pool_and_a_fifth_borrows() {
        let (store, mut owned) = carved_up_pool(false);
        owned.sort();
        let pool_blocks: Vec<Ipv4Net> = (0..4u32)
            .map(|i| {
                Ipv4Net::new(
                    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 50, 0, 0)) + i * 64),
                    26,
                )
                .unwrap()
            })
            .collect();
        assert_eq!(owned, pool_blocks);

        let borrowed = v4(cni_add(&store, "n4", "default", "p4", "c4").unwrap());
        // n4's walk starts at fnv1("n4") % 4; every block has ordinal 0 taken, so it gets .1.
        let lender = pool_blocks[(super::super::calico_ipam::fnv1_32("n4") % 4) as usize];
        assert_eq!(borrowed, ordinal_address(lender, 1));
        // No new block or affinity; the lender's block keeps its owner, the attribute names n4.
        assert_eq!(count(&store, "ipamblocks"), 4);
        assert_eq!(count(&store, "blockaffinities"), 4);
        let spec = &object(&store, "ipamblocks", &block_name(lender))["spec"];
        assert_ne!(spec["affinity"], "host:n4");
        assert_eq!(spec["attributes"][1]["secondary"]["node"], "n4");
        assert_eq!(spec["attributes"][1]["secondary"]["pod"], "p4");
        assert!(
            try_object(
                &store,
                "blockaffinities",
                &block_affinity_name("n4", lender)
            )
            .is_none()
        );
    }

    #[test]
    fn strict_affinity_forbids_borrowing_from_a_carved_up_pool() {
        let (store, _) = carved_up_pool(true);
        let err = cni_add(&store, "n4", "default", "p4", "c4").unwrap_err();
        assert_eq!(
            err,
            "plugin type=\"calico\" failed (add): failed to request IPv4 addresses: Assigned 0 out of 1 requested IPv4 addresses; No more free affine blocks and strict affinity enabled"
        );
    }

    #[test]
    fn an_exhausted_pool_is_named_when_borrowing_finds_nothing() {
        let store = calico_store();
        add_pool(&store, "tiny", "10.60.0.0/29", 29, "all()");
        add_node(&store, "n0", "linux", "10.224.0.10");
        add_node(&store, "n1", "linux", "10.224.0.11");
        for i in 0..8 {
            cni_add(&store, "n0", "default", &format!("p{i}"), &format!("c{i}")).unwrap();
        }
        let err = cni_add(&store, "n1", "default", "late", "c-late").unwrap_err();
        assert_eq!(
            err,
            "plugin type=\"calico\" failed (add): failed to request IPv4 addresses: Assigned 0 out of 1 requested IPv4 addresses; No IPs available in pools: [10.60.0.0/29]"
        );
    }

    #[test]
    fn cni_del_returns_the_address_to_the_block() {
        let store = hybrid_cluster(true);
        let a = v4(cni_add(&store, "aks-linux-0", "default", "web-0", "c0").unwrap());
        let b = v4(cni_add(&store, "aks-linux-0", "default", "web-1", "c1").unwrap());
        // Repeating an ADD for the same sandbox keeps its address.
        assert_eq!(
            v4(cni_add(&store, "aks-linux-0", "default", "web-1", "c1").unwrap()),
            b
        );
        let block = Ipv4Net::new(a, 26).unwrap().trunc();
        cni_del(&store, "c0");
        cni_del(&store, "c0");
        cni_del(&store, "never-added");
        assert!(try_object(&store, "ipamhandles", "k8s-pod-network.c0").is_none());
        let spec = &object(&store, "ipamblocks", &block_name(block))["spec"];
        assert_eq!(spec["allocations"][0], Value::Null);
        // web-1's attribute moved from index 1 to 0.
        assert_eq!(spec["allocations"][1], 0);
        assert_eq!(spec["attributes"].as_array().unwrap().len(), 1);
        let unallocated = spec["unallocated"].as_array().unwrap();
        assert_eq!(unallocated.len(), 63);
        assert_eq!(unallocated.last(), Some(&json!(0)));
        // The freed ordinal goes to the back of the FIFO: the next pod gets ordinal 2.
        let c = v4(cni_add(&store, "aks-linux-0", "default", "web-2", "c2").unwrap());
        assert_eq!(c, ordinal_address(block, 2));
    }

    #[test]
    fn pod_attributes_record_owner_and_go_timestamp() {
        let store = hybrid_cluster(true);
        let ip = v4(cni_add(&store, "aks-linux-0", "shop", "cart-7d9f-abcde", "f00d").unwrap());
        let block = Ipv4Net::new(ip, 26).unwrap().trunc();
        let spec = &object(&store, "ipamblocks", &block_name(block))["spec"];
        assert_eq!(
            spec["attributes"][0],
            json!({"handle_id": "k8s-pod-network.f00d", "secondary": {
                "namespace": "shop", "node": "aks-linux-0", "pod": "cart-7d9f-abcde",
                "timestamp": "2026-11-29 08:00:00 +0000 UTC"}})
        );
        let at: jiff::Timestamp = "2026-11-29T08:00:00.120500Z".parse().unwrap();
        assert_eq!(go_time_string(at), "2026-11-29 08:00:00.1205 +0000 UTC");
    }

    #[test]
    fn same_inputs_give_the_same_addresses() {
        let run = || {
            let store = hybrid_cluster(true);
            agent_start(&store, "aks-linux-0").unwrap();
            agent_start(&store, "akswin000000").unwrap();
            let mut ips = Vec::new();
            for i in 0..10 {
                ips.push(
                    cni_add(
                        &store,
                        "aks-linux-0",
                        "d",
                        &format!("l{i}"),
                        &format!("l{i}"),
                    )
                    .unwrap(),
                );
                ips.push(
                    cni_add(
                        &store,
                        "akswin000000",
                        "d",
                        &format!("w{i}"),
                        &format!("w{i}"),
                    )
                    .unwrap(),
                );
            }
            ips
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn scenario_allocation_matches_successive_adds() {
        let store = hybrid_cluster(true);
        let ids: Vec<String> = (0..70).map(|i| format!("s{i}")).collect();
        let pods: Vec<ScenarioPod<'_>> = ids
            .iter()
            .map(|id| ScenarioPod {
                namespace: "default",
                name: id,
                container_id: id,
            })
            .collect();
        let bulk = allocate_for_scenario(&store, "aks-linux-0", &pods).unwrap();

        let other = hybrid_cluster(true);
        let one_by_one: Vec<IpAddr> = ids
            .iter()
            .map(|id| cni_add(&other, "aks-linux-0", "default", id, id).unwrap())
            .collect();
        assert_eq!(bulk, one_by_one);
        assert_eq!(count(&store, "ipamblocks"), 2);
    }
}
