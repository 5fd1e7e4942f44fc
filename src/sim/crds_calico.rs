//! Our own `spec`/`status` schemas for Calico's IPAM and configuration kinds,
//! in both the `crd.projectcalico.org/v1` storage shape and the native
//! `projectcalico.org/v3` shape, written from the field tables in
//! DOMAIN.md §1. It only describes data; the CRD wrapping, names and
//! versions live in `crds`, and nothing here validates anything itself.
//!
//! Where v1 and v3 differ on purpose (BlockAffinity `deleted` is a string in
//! v1 and a bool in v3; v3 IPAMBlock constrains `affinity` by pattern; v3
//! IPAMConfiguration has CRD defaults and a tighter `maxBlocksPerHost`), the
//! difference is spelled out through `CalicoApi`.

use serde_json::{Value, json};

use super::crds::{
    array_of, boolean, bounded_int, date_time, described, int32, int64, metav1_condition, object,
    preserved_object, string, string_enum, string_map,
};

/// Which Calico API group a schema is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CalicoApi {
    /// `crd.projectcalico.org/v1`: the storage CRDs of modes A and B.
    V1,
    /// `projectcalico.org/v3` as native CRDs (mode C).
    V3,
}

const AFFINITY_PATTERN: &str = r"^(host|virtual):[a-zA-Z0-9.\-_]+$";

pub(super) fn ipam_block_spec(api: CalicoApi) -> Value {
    let mut affinity = described(
        string(),
        "host:<node> for a node-owned block, virtual:<name> for a LoadBalancer block; absent when nobody owns it.",
    );
    let mut required = vec!["allocations", "attributes", "cidr", "unallocated"];
    match api {
        CalicoApi::V1 => required.push("strictAffinity"),
        CalicoApi::V3 => affinity["pattern"] = json!(AFFINITY_PATTERN),
    }
    let allocation = json!({"type": "integer", "nullable": true});
    object(
        json!({
            "cidr": described(string(), "The block's CIDR."),
            "affinity": affinity,
            "affinityClaimTime": date_time(),
            "allocations": described(
                array_of(allocation),
                "One entry per address of the block: null when free, otherwise an index into attributes."
            ),
            "unallocated": described(array_of(json!({"type": "integer"})), "Free ordinals, in allocation order."),
            "attributes": array_of(allocation_attribute()),
            "sequenceNumber": described(int64(), "Incremented on every write of the block."),
            "sequenceNumberForAllocation": {
                "type": "object",
                "additionalProperties": int64()
            },
            "deleted": described(boolean(), "Soft-delete marker; readers ignore deleted blocks."),
            "strictAffinity": described(boolean(), "Deprecated and unused; IPAMConfig holds the real setting."),
        }),
        &required,
    )
}

fn allocation_attribute() -> Value {
    object(
        json!({
            "handle_id": string(),
            "secondary": described(string_map(), "Active owner: node, pod, namespace, timestamp, type, service, …"),
            "alternateOwnerAttrs": string_map(),
            "releasedAt": date_time(),
        }),
        &[],
    )
}

pub(super) fn block_affinity_spec(api: CalicoApi) -> Value {
    let (state, kind, deleted, required) = match api {
        // v1 keeps `deleted` a string for compatibility with older writers.
        CalicoApi::V1 => (
            string(),
            string(),
            described(string(), "\"true\" or \"false\" (sometimes empty)."),
            vec!["cidr", "deleted", "node", "state"],
        ),
        CalicoApi::V3 => (
            string_enum(&["confirmed", "pending", "pendingDeletion"]),
            string_enum(&["host", "virtual"]),
            boolean(),
            vec!["cidr", "node", "state"],
        ),
    };
    object(
        json!({
            "cidr": string(),
            "node": string(),
            "state": described(state, "confirmed, pending or pendingDeletion; pending is not yet owned."),
            "type": described(kind, "host or virtual; absent on objects older than 3.30 (read as host)."),
            "deleted": deleted,
        }),
        &required,
    )
}

pub(super) fn ipam_handle_spec() -> Value {
    object(
        json!({
            "handleID": described(string(), "The handle ID with its original case."),
            "block": described(
                json!({"type": "object", "additionalProperties": {"type": "integer"}}),
                "Block CIDR to the number of addresses this handle holds there."
            ),
            "deleted": boolean(),
        }),
        &["block", "handleID"],
    )
}

pub(super) fn ipam_config_spec(api: CalicoApi) -> Value {
    let persistence = string_enum(&["Enabled", "Disabled"]);
    let cooldown = described(
        bounded_int(0, 1200),
        "HEAD only: seconds a released address rests before reuse.",
    );
    match api {
        CalicoApi::V1 => object(
            json!({
                "strictAffinity": boolean(),
                "autoAllocateBlocks": boolean(),
                "maxBlocksPerHost": described(bounded_int(0, 2_147_483_647), "0 means the built-in cap of 20."),
                "kubeVirtVMAddressPersistence": persistence,
                "ipCooldownSeconds": cooldown,
            }),
            &["autoAllocateBlocks", "strictAffinity"],
        ),
        CalicoApi::V3 => {
            let mut strict = boolean();
            strict["default"] = json!(false);
            let mut auto = boolean();
            auto["default"] = json!(true);
            let mut max_blocks = bounded_int(0, 1_000_000);
            max_blocks["format"] = json!("int32");
            object(
                json!({
                    "strictAffinity": strict,
                    "autoAllocateBlocks": auto,
                    "maxBlocksPerHost": described(max_blocks, "0 means the built-in cap of 20."),
                    "kubeVirtVMAddressPersistence": persistence,
                    "ipCooldownSeconds": cooldown,
                }),
                &[],
            )
        }
    }
}

/// The same spec in both groups: the v1 CRD embeds the v3 IPPoolSpec. The
/// legacy v1-only `ipip` and `nat-outgoing` fields were removed in 3.32 and
/// are left out. The per-family blockSize ranges (20–32, 116–128) and the
/// immutability rules are CEL in the real CRD; only the outer bounds are here.
pub(super) fn ip_pool_spec() -> Value {
    let encapsulation_mode = string_enum(&["Never", "Always", "CrossSubnet"]);
    let mut block_size = bounded_int(20, 128);
    block_size["description"] = json!("26 for IPv4 and 122 for IPv6 when unset.");
    object(
        json!({
            "cidr": described(string(), "The pool's CIDR; strictly masked."),
            "blockSize": block_size,
            "ipipMode": encapsulation_mode.clone(),
            "vxlanMode": encapsulation_mode,
            "natOutgoing": boolean(),
            "disabled": described(boolean(), "No new assignments are made from a disabled pool."),
            "disableBGPExport": boolean(),
            "nodeSelector": described(string(), "Calico selector over node labels; all() when unset."),
            "namespaceSelector": string(),
            "allowedUses": array_of(string_enum(&["Workload", "Tunnel", "LoadBalancer"])),
            "assignmentMode": string_enum(&["Automatic", "Manual"]),
        }),
        &["cidr"],
    )
}

/// HEAD only: the Allocatable condition.
pub(super) fn ip_pool_status() -> Value {
    object(json!({"conditions": array_of(metav1_condition())}), &[])
}

/// Partial: FelixConfiguration has well over a hundred knobs and the
/// simulator needs only the VXLAN ones, so unknown fields are preserved.
pub(super) fn felix_configuration_spec() -> Value {
    let mut spec = object(
        json!({
            "vxlanVNI": described(int32(), "Read by the operator for calico-node-windows (VXLAN_VNI)."),
            "vxlanPort": int32(),
            "vxlanEnabled": boolean(),
            "ipipEnabled": boolean(),
            "bpfEnabled": boolean(),
            "wireguardEnabled": boolean(),
            "logSeverityScreen": string(),
            "healthPort": int32(),
        }),
        &[],
    );
    spec["x-kubernetes-preserve-unknown-fields"] = json!(true);
    spec
}

pub(super) fn cluster_information_spec() -> Value {
    object(
        json!({
            "calicoVersion": string(),
            "clusterGUID": string(),
            "clusterType": string(),
            "datastoreReady": boolean(),
            "variant": string(),
        }),
        &[],
    )
}

/// Partial: only the commonly read BGP fields are typed; the rest is preserved.
pub(super) fn bgp_configuration_spec() -> Value {
    let cidr_list = array_of(object(json!({"cidr": string()}), &[]));
    let mut spec = object(
        json!({
            "asNumber": int64(),
            "nodeToNodeMeshEnabled": boolean(),
            "logSeverityScreen": string(),
            "listenPort": int32(),
            "serviceClusterIPs": cidr_list.clone(),
            "serviceExternalIPs": cidr_list.clone(),
            "serviceLoadBalancerIPs": cidr_list,
            "communities": preserved_array(),
            "prefixAdvertisements": preserved_array(),
        }),
        &[],
    );
    spec["x-kubernetes-preserve-unknown-fields"] = json!(true);
    spec
}

/// Partial, as for BGPConfiguration: the controller settings are preserved.
pub(super) fn kube_controllers_configuration_spec() -> Value {
    let mut spec = object(
        json!({
            "logSeverityScreen": string(),
            "healthChecks": string_enum(&["Enabled", "Disabled"]),
            "etcdV3CompactionPeriod": string(),
            "prometheusMetricsPort": int32(),
            "controllers": preserved_object(),
            "debugProfilePort": int32(),
        }),
        &[],
    );
    spec["x-kubernetes-preserve-unknown-fields"] = json!(true);
    spec
}

pub(super) fn kube_controllers_configuration_status() -> Value {
    object(
        json!({
            "runningConfig": preserved_object(),
            "environmentVars": string_map(),
        }),
        &[],
    )
}

fn preserved_array() -> Value {
    array_of(preserved_object())
}
