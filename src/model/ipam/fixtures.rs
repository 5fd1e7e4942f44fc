//! Test-only builders that read like the domain: a cluster with nodes, pools, blocks and an
//! IPAM configuration, assembled into a [`ClusterSnapshot`]. Shared by the IPAM model, report
//! and strictAffinity plan tests; never compiled into the binary.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;

use super::OsFamily;
use crate::model::calico::{
    AllocationAttribute, BlockAffinity, IpPool, IpamBlock, IpamConfig, IpamConfigSpec, IpamHandle,
    WINDOWS_RESERVED_HANDLE,
};
use crate::model::snapshot::{
    CalicoApiMode, ClusterSnapshot, Feed, FeedState, Kind, Source, SourceKind,
};

pub const CONTEXT: &str = "prod-westeurope";

/// An AKS-like hybrid cluster on a /22 pool of /26 blocks (16 slots): two Windows blocks, two
/// Linux blocks (nplinux-0's lends `shop/cart-7d9f` to nplinux-1), an unowned block with two
/// of nplinux-0's pods; strictAffinity off with Windows nodes. The console and the IPAM view
/// tests draw it.
pub fn aks_hybrid() -> ClusterFixture {
    ClusterFixture::new()
        .node("aks-npwin-00000000", OsFamily::Windows, "npwin")
        .node("aks-npwin-00000001", OsFamily::Windows, "npwin")
        .node("aks-nplinux-00000000", OsFamily::Linux, "nplinux")
        .node("aks-nplinux-00000001", OsFamily::Linux, "nplinux")
        .pool("default-ipv4-ippool", "10.244.0.0/22", 26)
        .block(
            BlockFixture::new("10.244.0.0/26")
                .owner("aks-npwin-00000000")
                .windows_reserved()
                .pods(3, 52, "aks-npwin-00000000", "iis"),
        )
        .block(
            BlockFixture::new("10.244.0.64/26")
                .owner("aks-npwin-00000001")
                .windows_reserved()
                .pods(3, 6, "aks-npwin-00000001", "legacy"),
        )
        .block(
            BlockFixture::new("10.244.1.0/26")
                .owner("aks-nplinux-00000000")
                .tunnel(0, "aks-nplinux-00000000", "vxlanTunnelAddress")
                .pods(1, 30, "aks-nplinux-00000000", "web")
                .pod(40, "aks-nplinux-00000001", "shop", "cart-7d9f"),
        )
        .block(
            BlockFixture::new("10.244.1.64/26")
                .owner("aks-nplinux-00000001")
                .tunnel(0, "aks-nplinux-00000001", "vxlanTunnelAddress")
                .pods(1, 12, "aks-nplinux-00000001", "api"),
        )
        .block(BlockFixture::new("10.244.3.192/26").pods(0, 2, "aks-nplinux-00000000", "old"))
        .strict(false)
}

#[derive(Default)]
pub struct ClusterFixture {
    pub snapshot: ClusterSnapshot,
    nodes: Vec<Node>,
    pods: Vec<Pod>,
    pools: Vec<IpPool>,
    blocks: Vec<IpamBlock>,
    affinities: Vec<BlockAffinity>,
    handles: Vec<IpamHandle>,
}

impl ClusterFixture {
    /// Every feed live, mode B, context [`CONTEXT`], no objects.
    pub fn new() -> Self {
        let mut snapshot = ClusterSnapshot {
            revision: 7,
            calico_api: CalicoApiMode::V1WithAggregatedV3,
            source: Source {
                context: CONTEXT.to_string(),
                server: "https://127.0.0.1:6443".to_string(),
                kind: SourceKind::Live,
                readonly: false,
                server_version: None,
            },
            ..ClusterSnapshot::default()
        };
        for kind in Kind::ALL {
            snapshot.feeds.insert(
                kind,
                Feed {
                    state: FeedState::Live,
                    last_event: None,
                },
            );
        }
        Self {
            snapshot,
            ..Self::default()
        }
    }

    pub fn feed(mut self, kind: Kind, state: FeedState) -> Self {
        self.snapshot.feeds.insert(
            kind,
            Feed {
                state,
                last_event: None,
            },
        );
        self
    }

    pub fn mode(mut self, mode: CalicoApiMode) -> Self {
        self.snapshot.calico_api = mode;
        self
    }

    pub fn readonly(mut self) -> Self {
        self.snapshot.source.readonly = true;
        self
    }

    pub fn node(mut self, name: &str, os: OsFamily, pool: &str) -> Self {
        self.nodes.push(
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {
                    "kubernetes.io/os": os.as_str(), "kubernetes.azure.com/agentpool": pool}},
            }))
            .unwrap(),
        );
        self
    }

    pub fn pod(mut self, namespace: &str, name: &str) -> Self {
        self.pods.push(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": namespace}}))
                .unwrap(),
        );
        self
    }

    /// A pool with `blockSize` (0 = default) and VXLAN.
    pub fn pool(self, name: &str, cidr: &str, block_size: u8) -> Self {
        self.pool_spec(
            name,
            json!({"cidr": cidr, "blockSize": block_size, "vxlanMode": "Always"}),
        )
    }

    pub fn pool_spec(mut self, name: &str, spec: serde_json::Value) -> Self {
        let mut pool = json!({"metadata": {"name": name}});
        pool["spec"] = spec;
        self.pools.push(serde_json::from_value(pool).unwrap());
        self
    }

    pub fn block(mut self, block: BlockFixture) -> Self {
        self.blocks.push(block.build());
        self
    }

    pub fn affinity(mut self, node: &str, cidr: &str, state: &str) -> Self {
        self.affinities.push(
            serde_json::from_value(json!({
                "metadata": {"name": format!("{node}-{}", cidr.replace(['.', '/', ':'], "-"))},
                "spec": {"node": node, "cidr": cidr, "state": state, "deleted": "false"},
            }))
            .unwrap(),
        );
        self
    }

    pub fn handle(mut self, id: &str, block_cidr: &str, count: u32) -> Self {
        self.handles.push(
            serde_json::from_value(json!({
                "metadata": {"name": id.to_lowercase()},
                "spec": {"handleID": id, "block": {block_cidr: count}},
            }))
            .unwrap(),
        );
        self
    }

    /// The `default` config as read from `api_version`, at resourceVersion `rv`.
    pub fn config(mut self, api_version: &str, rv: &str, spec: IpamConfigSpec) -> Self {
        self.snapshot.ipam_config = Some(Arc::new(IpamConfig {
            api_version: api_version.to_string(),
            metadata: ObjectMeta {
                name: Some("default".to_string()),
                resource_version: Some(rv.to_string()),
                ..ObjectMeta::default()
            },
            spec,
        }));
        self
    }

    pub fn strict(self, strict_affinity: bool) -> Self {
        self.config(
            "projectcalico.org/v3",
            "100",
            IpamConfigSpec {
                strict_affinity,
                auto_allocate_blocks: true,
                max_blocks_per_host: 0,
            },
        )
    }

    pub fn build(self) -> ClusterSnapshot {
        fn sorted<T>(mut items: Vec<T>, key: impl Fn(&T) -> String) -> Arc<Vec<Arc<T>>> {
            items.sort_by_key(|item| key(item));
            Arc::new(items.into_iter().map(Arc::new).collect())
        }
        let mut snapshot = self.snapshot;
        snapshot.nodes = sorted(self.nodes, |n| n.metadata.name.clone().unwrap_or_default());
        snapshot.pods = sorted(self.pods, |p| {
            format!("{:?}/{:?}", p.metadata.namespace, p.metadata.name)
        });
        snapshot.ip_pools = sorted(self.pools, |p| p.metadata.name.clone().unwrap_or_default());
        snapshot.ipam_blocks = sorted(self.blocks, |b| b.metadata.name.clone().unwrap_or_default());
        snapshot.block_affinities = sorted(self.affinities, |a| {
            a.metadata.name.clone().unwrap_or_default()
        });
        snapshot.ipam_handles = sorted(self.handles, |h| {
            h.metadata.name.clone().unwrap_or_default()
        });
        snapshot
    }
}

/// An IPAM block under construction: every ordinal free until something is allocated.
pub struct BlockFixture {
    cidr: String,
    size: usize,
    affinity: Option<String>,
    allocations: Vec<Option<u32>>,
    attributes: Vec<AllocationAttribute>,
    deleted: bool,
}

impl BlockFixture {
    pub fn new(cidr: &str) -> Self {
        let net: ipnet::IpNet = cidr.parse().unwrap();
        let size = 1usize << (net.max_prefix_len() - net.prefix_len());
        Self {
            cidr: cidr.to_string(),
            size,
            affinity: None,
            allocations: vec![None; size],
            attributes: Vec::new(),
            deleted: false,
        }
    }

    pub fn owner(mut self, node: &str) -> Self {
        self.affinity = Some(format!("host:{node}"));
        self
    }

    pub fn deleted(mut self) -> Self {
        self.deleted = true;
        self
    }

    fn attribute(&mut self, handle: &str, secondary: &[(&str, &str)]) -> u32 {
        self.attributes.push(AllocationAttribute {
            handle_id: Some(handle.to_string()),
            secondary: secondary
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect::<BTreeMap<_, _>>(),
        });
        u32::try_from(self.attributes.len() - 1).unwrap()
    }

    /// The first three and the last ordinal under the Windows reserved handle.
    pub fn windows_reserved(mut self) -> Self {
        let index = self.attribute(WINDOWS_RESERVED_HANDLE, &[("note", "windows host rsvd")]);
        let last = self.size - 1;
        for ordinal in [0, 1, 2, last] {
            self.allocations[ordinal] = Some(index);
        }
        self
    }

    pub fn pod(mut self, ordinal: usize, node: &str, namespace: &str, pod: &str) -> Self {
        let handle = format!("k8s-pod-network.{namespace}-{pod}");
        let index = self.attribute(
            &handle,
            &[("node", node), ("namespace", namespace), ("pod", pod)],
        );
        self.allocations[ordinal] = Some(index);
        self
    }

    /// `count` pods on `node` at ordinals `from..from+count`, named `<prefix>-<i>`.
    pub fn pods(mut self, from: usize, count: usize, node: &str, prefix: &str) -> Self {
        for i in 0..count {
            self = self.pod(from + i, node, "default", &format!("{prefix}-{i}"));
        }
        self
    }

    pub fn tunnel(mut self, ordinal: usize, node: &str, kind: &str) -> Self {
        let index = self.attribute(
            &format!("vxlan-tunnel-addr-{node}"),
            &[("node", node), ("type", kind)],
        );
        self.allocations[ordinal] = Some(index);
        self
    }

    pub fn build(self) -> IpamBlock {
        let unallocated: Vec<u32> = self
            .allocations
            .iter()
            .enumerate()
            .filter(|(_, a)| a.is_none())
            .map(|(i, _)| u32::try_from(i).unwrap())
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": self.cidr.replace(['.', '/', ':'], "-")},
            "spec": {
                "cidr": self.cidr, "affinity": self.affinity, "allocations": self.allocations,
                "unallocated": unallocated, "attributes": self.attributes, "deleted": self.deleted,
                "strictAffinity": false,
            }
        }))
        .unwrap()
    }
}
