//! Toggle Calico IPAM `strictAffinity` with the guardrails the Calico library has and the API
//! does not (`DOMAIN.md` §1.4, §1.6, §2.2–2.4): [`plan`] is pure — it picks the object (v3
//! `IPAMConfiguration` where the aggregated API or native v3 CRDs exist, v1 `IPAMConfig`
//! otherwise), the exact write (merge patch, or a create of `default` when it is missing),
//! refuses what calicoctl refuses and what breaks Windows, and spells out the consequences;
//! [`run`] sends a server-side dry run, re-reads the object and stops on any change since the
//! snapshot, then writes. Owns the decision and the sequence; every request goes through
//! [`ClusterWriter`] (which also appends the audit log). Must not touch kube, ui or app.

use serde_json::{Value, json};

use super::writer::{ClusterWriter, ObjectRef, Write, WriteError};
use crate::model::calico::{DEFAULT_MAX_BLOCKS_PER_HOST, IpamConfigSpec};
use crate::model::ipam::findings::NEARLY_FULL;
use crate::model::ipam::{BorrowedAddress, ConfigSource, IpamModel, OsFamily, name_list};
use crate::model::{CalicoApiMode, ClusterSnapshot};

/// Windows nodes a refusal or preview names before "and N more".
const WINDOWS_NODES_SHOWN: usize = 5;

/// What the user asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrictAffinityInput {
    /// The value to set.
    pub target: bool,
    /// The context name, typed by the user to turn strictAffinity off despite Windows nodes.
    pub override_confirmation: Option<String>,
}

/// Why no plan was made. Each message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanRefusal {
    #[error("read-only session: strictAffinity cannot be changed")]
    ReadOnly,
    #[error("Calico is not installed on this cluster: there is no IPAM configuration to change")]
    CalicoNotInstalled,
    #[error("the Calico API has not been discovered yet; wait for the cluster view to load")]
    ApiUnknown,
    #[error(
        "the IPAM configuration has not been read ({0}); pooltop will not write what it has not seen"
    )]
    ConfigUnknown(String),
    #[error("strictAffinity is already {0}")]
    NoChange(bool),
    #[error(
        "MaxBlocksPerHost requires StrictAffinity to be enabled (maxBlocksPerHost is {0}); set maxBlocksPerHost to 0 first"
    )]
    MaxBlocksRequiresStrictAffinity(u32),
    #[error(
        "strictAffinity off together with autoAllocateBlocks off is refused by Calico: no host could get a new address"
    )]
    AutoAllocateOff,
    #[error(
        "refusing to turn strictAffinity off: the cluster has {count} Windows node(s) ({nodes}). Windows cannot route addresses borrowed across nodes, so with strictAffinity off every Windows pod's CNI ADD and every calico-node-windows restart fails with \"global strict affinity should not be false for Windows node\", and the operator marks calico-windows Degraded. Type the context name \"{context}\" to override."
    )]
    WindowsNodes {
        count: usize,
        nodes: String,
        context: String,
    },
    #[error("the override {typed:?} does not match the context name {context:?}")]
    OverrideMismatch { typed: String, context: String },
}

/// A node that could fail to get addresses once strictAffinity is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAtRisk {
    pub node: String,
    pub os: OsFamily,
    pub reason: String,
}

/// Everything the preview shows and `run` executes.
#[derive(Debug, Clone, PartialEq)]
pub struct StrictAffinityPlan {
    pub mode: CalicoApiMode,
    /// The kubeconfig context the plan was made for.
    pub context: String,
    /// The object written: `projectcalico.org/v3 IPAMConfiguration default` or
    /// `crd.projectcalico.org/v1 IPAMConfig default`.
    pub object: ObjectRef,
    /// The exact write: a merge patch when `default` exists, a create otherwise.
    pub write: Write,
    /// The spec as the snapshot saw it; `None` when `default` does not exist.
    pub before: Option<IpamConfigSpec>,
    /// resourceVersion of what the snapshot read, and from which group/version.
    pub before_resource_version: Option<String>,
    pub before_api_version: Option<String>,
    /// The spec after the write.
    pub after: IpamConfigSpec,
    /// Turning it on: borrowed addresses that stay where they are.
    pub borrowed_staying: Vec<BorrowedAddress>,
    /// Turning it on: nodes that could then fail to get addresses.
    pub nodes_at_risk: Vec<NodeAtRisk>,
    /// Windows nodes present when turning it off under the typed override.
    pub overridden_windows_nodes: Vec<String>,
    /// The human preview: the object, the field changes, the consequences.
    pub preview: Vec<String>,
}

pub fn plan(
    snapshot: &ClusterSnapshot,
    input: StrictAffinityInput,
) -> Result<StrictAffinityPlan, PlanRefusal> {
    plan_with_model(snapshot, &IpamModel::from_snapshot(snapshot), input)
}

/// The same, reusing the IPAM model the console already computed for this revision.
pub fn plan_with_model(
    snapshot: &ClusterSnapshot,
    model: &IpamModel,
    input: StrictAffinityInput,
) -> Result<StrictAffinityPlan, PlanRefusal> {
    let StrictAffinityInput {
        target,
        override_confirmation,
    } = input;
    if snapshot.source.readonly {
        return Err(PlanRefusal::ReadOnly);
    }
    let object = match snapshot.calico_api {
        CalicoApiMode::Unknown => return Err(PlanRefusal::ApiUnknown),
        CalicoApiMode::NotInstalled => return Err(PlanRefusal::CalicoNotInstalled),
        CalicoApiMode::V1Crds => {
            config_ref("crd.projectcalico.org", "v1", "IPAMConfig", "ipamconfigs")
        }
        CalicoApiMode::V1WithAggregatedV3 | CalicoApiMode::NativeV3 => config_ref(
            "projectcalico.org",
            "v3",
            "IPAMConfiguration",
            "ipamconfigurations",
        ),
    };
    if model.config.source == ConfigSource::Unknown {
        let state = snapshot.feed(crate::model::Kind::IpamConfigs).state;
        return Err(PlanRefusal::ConfigUnknown(format!("{state:?}")));
    }
    let current = model.config.spec.clone();
    let exists = snapshot.ipam_config.is_some();
    if exists && current.strict_affinity == target {
        return Err(PlanRefusal::NoChange(target));
    }
    let overridden_windows_nodes = if target {
        Vec::new()
    } else {
        check_turning_off(snapshot, &current, override_confirmation.as_deref())?
    };
    let after = IpamConfigSpec {
        strict_affinity: target,
        ..current.clone()
    };
    let write = if exists {
        Write::MergePatch {
            target: object.clone(),
            patch: json!({"spec": {"strictAffinity": target}}),
        }
    } else {
        Write::Create {
            target: object.clone(),
            body: json!({
                "apiVersion": object.api_version(),
                "kind": object.kind,
                "metadata": {"name": "default"},
                // v1 requires both fields; v3 would default autoAllocateBlocks to true anyway.
                "spec": {"strictAffinity": target, "autoAllocateBlocks": after.auto_allocate_blocks},
            }),
        }
    };
    let (borrowed_staying, nodes_at_risk) = if target {
        (model.borrowed.clone(), nodes_at_risk(snapshot, model))
    } else {
        (Vec::new(), Vec::new())
    };
    let config = snapshot.ipam_config.as_deref();
    let mut plan = StrictAffinityPlan {
        mode: snapshot.calico_api,
        context: snapshot.source.context.clone(),
        object,
        write,
        before: exists.then_some(current),
        before_resource_version: config.and_then(|c| c.metadata.resource_version.clone()),
        before_api_version: config.map(|c| c.api_version.clone()),
        after,
        borrowed_staying,
        nodes_at_risk,
        overridden_windows_nodes,
        preview: Vec::new(),
    };
    plan.preview = preview(&plan);
    Ok(plan)
}

/// The rules for turning strictAffinity off; returns the Windows nodes the user overrode.
fn check_turning_off(
    snapshot: &ClusterSnapshot,
    current: &IpamConfigSpec,
    override_confirmation: Option<&str>,
) -> Result<Vec<String>, PlanRefusal> {
    if current.max_blocks_per_host > 0 {
        return Err(PlanRefusal::MaxBlocksRequiresStrictAffinity(
            current.max_blocks_per_host,
        ));
    }
    if !current.auto_allocate_blocks {
        return Err(PlanRefusal::AutoAllocateOff);
    }
    let windows = IpamModel::windows_nodes(snapshot);
    if windows.is_empty() {
        return Ok(windows);
    }
    let context = snapshot.source.context.clone();
    match override_confirmation {
        None => Err(PlanRefusal::WindowsNodes {
            count: windows.len(),
            nodes: name_list(&windows, WINDOWS_NODES_SHOWN),
            context,
        }),
        Some(typed) if typed.trim() != context => Err(PlanRefusal::OverrideMismatch {
            typed: typed.to_string(),
            context,
        }),
        Some(_) => Ok(windows),
    }
}

fn config_ref(group: &str, version: &str, kind: &str, plural: &str) -> ObjectRef {
    ObjectRef {
        group: group.to_string(),
        version: version.to_string(),
        kind: kind.to_string(),
        plural: plural.to_string(),
        namespace: None,
        name: "default".to_string(),
    }
}

/// Nodes that need a new block or must borrow once no unclaimed block is left: their own
/// blocks nearly full, or borrowing already, or owning no block at all.
fn nodes_at_risk(snapshot: &ClusterSnapshot, model: &IpamModel) -> Vec<NodeAtRisk> {
    let blocks_left = model
        .pools
        .iter()
        .any(|pool| !pool.disabled && pool.network.is_some() && pool.unclaimed_slots() > 0);
    if blocks_left {
        return Vec::new();
    }
    let mut risks = Vec::new();
    for node in snapshot.nodes.iter() {
        let Some(name) = node.metadata.name.clone() else {
            continue;
        };
        let os = OsFamily::of(node);
        let reason = match model.node(&name) {
            Some(ipam) if ipam.borrowing > 0 => format!(
                "already borrows {} address(es) from other nodes' blocks",
                ipam.borrowing
            ),
            Some(ipam) if ipam.blocks.is_empty() => "owns no block".to_string(),
            Some(ipam) if ipam.in_use as f64 >= NEARLY_FULL * ipam.capacity as f64 => {
                format!("its blocks are {} of {} full", ipam.in_use, ipam.capacity)
            }
            Some(_) => continue,
            None => "owns no block".to_string(),
        };
        risks.push(NodeAtRisk {
            node: name,
            os,
            reason: format!("{reason} and no unclaimed block is left in any enabled pool"),
        });
    }
    risks
}

fn max_blocks_label(value: u32) -> String {
    match value {
        0 => format!("0 (default {DEFAULT_MAX_BLOCKS_PER_HOST})"),
        n => n.to_string(),
    }
}

fn preview(plan: &StrictAffinityPlan) -> Vec<String> {
    let mut lines = vec![format!(
        "{} {} default ({})",
        plan.object.api_version(),
        plan.object.kind,
        plan.object.display()
    )];
    match &plan.write {
        Write::MergePatch { patch, .. } => lines.push(format!("  merge patch {patch}")),
        Write::Create { body, .. } => lines.push(format!(
            "  create (default does not exist) with spec {}",
            body["spec"]
        )),
        _ => {}
    }
    let before = plan.before.clone();
    let field = |name: &str, old: Option<String>, new: String| match old {
        Some(old) if old == new => format!("  {name}: {new} (unchanged)"),
        Some(old) => format!("  {name}: {old} -> {new}"),
        None => format!("  {name}: (absent) -> {new}"),
    };
    lines.push(field(
        "strictAffinity",
        before.as_ref().map(|b| b.strict_affinity.to_string()),
        plan.after.strict_affinity.to_string(),
    ));
    lines.push(field(
        "autoAllocateBlocks",
        before.as_ref().map(|b| b.auto_allocate_blocks.to_string()),
        plan.after.auto_allocate_blocks.to_string(),
    ));
    lines.push(field(
        "maxBlocksPerHost",
        before
            .as_ref()
            .map(|b| max_blocks_label(b.max_blocks_per_host)),
        max_blocks_label(plan.after.max_blocks_per_host),
    ));
    consequences(plan, &mut lines);
    lines.push("A server-side dry run is sent first; the object is re-read before the write and nothing is written if it changed.".to_string());
    lines
}

fn consequences(plan: &StrictAffinityPlan, lines: &mut Vec<String>) {
    lines.push("Consequences:".to_string());
    lines.push(
        "  - Only future address assignments change; nothing is released or moved.".to_string(),
    );
    if plan.after.strict_affinity {
        lines.push(
            "  - No node borrows from another node's block any more (Windows requires this)."
                .to_string(),
        );
        if plan.borrowed_staying.is_empty() {
            lines.push("  - No address is borrowed today.".to_string());
        } else {
            lines.push(format!(
                "  - {} borrowed address(es) stay where they are until their pods are deleted:",
                plan.borrowed_staying.len()
            ));
            for row in plan.borrowed_staying.iter().take(10) {
                let owner = if row.block_owner.is_empty() {
                    "no owner"
                } else {
                    row.block_owner.as_str()
                };
                lines.push(format!(
                    "      {} used by {} in block {} ({owner}) {}",
                    row.ip, row.borrowing_node, row.block, row.allocated_to
                ));
            }
            if plan.borrowed_staying.len() > 10 {
                lines.push(format!(
                    "      … and {} more",
                    plan.borrowed_staying.len() - 10
                ));
            }
        }
        if plan.nodes_at_risk.is_empty() {
            lines.push(
                "  - No node is expected to run out of addresses: unclaimed blocks remain or every node has room."
                    .to_string(),
            );
        } else {
            lines.push(format!(
                "  - {} node(s) could fail to get addresses for new pods (\"No more free affine blocks and strict affinity enabled\"):",
                plan.nodes_at_risk.len()
            ));
            for risk in plan.nodes_at_risk.iter().take(10) {
                lines.push(format!(
                    "      {} ({}): {}",
                    risk.node,
                    risk.os.as_str(),
                    risk.reason
                ));
            }
        }
    } else {
        lines.push(
            "  - Nodes whose blocks are full may borrow single addresses from other nodes' blocks."
                .to_string(),
        );
        if !plan.overridden_windows_nodes.is_empty() {
            lines.push(format!(
                "  - OVERRIDDEN: {} Windows node(s) ({}) will fail every pod sandbox and calico-node-windows restart with \"global strict affinity should not be false for Windows node\"; the operator marks calico-windows Degraded.",
                plan.overridden_windows_nodes.len(),
                name_list(&plan.overridden_windows_nodes, WINDOWS_NODES_SHOWN)
            ));
        }
    }
}

/// One step of [`run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictAffinityStep {
    DryRun,
    Verify,
    Apply,
}

/// Progress reported by [`run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrictAffinityProgress {
    Started(StrictAffinityStep),
    Done(StrictAffinityStep),
}

/// How a run ended without an error.
#[derive(Debug, Clone, PartialEq)]
pub enum StrictAffinityOutcome {
    /// Written; `after` is the object the server answered with.
    Applied { after: Value },
    /// Someone else changed (or created) the object since the snapshot: nothing was written.
    /// `current` is the object as re-read (`None` if it is gone), `changes` says what differs.
    Conflict {
        current: Option<Value>,
        changes: Vec<String>,
    },
    /// The object the plan patches no longer exists: nothing was written.
    NotFound,
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    #[error("server-side dry run of {target} refused: {source}")]
    DryRun {
        target: String,
        #[source]
        source: WriteError,
    },
    #[error("re-reading {target} failed: {source}")]
    Read {
        target: String,
        #[source]
        source: WriteError,
    },
    #[error("writing {target} failed: {source}")]
    Write {
        target: String,
        #[source]
        source: WriteError,
    },
}

/// Dry run, re-read and compare, then write. Never overwrites a changed object.
pub async fn run(
    plan: &StrictAffinityPlan,
    writer: &dyn ClusterWriter,
    progress: &mut (dyn FnMut(StrictAffinityProgress) + Send),
) -> Result<StrictAffinityOutcome, RunError> {
    let target = plan.object.display();
    progress(StrictAffinityProgress::Started(StrictAffinityStep::DryRun));
    match writer.write(&plan.write, true).await {
        Ok(_) => {}
        Err(error) => {
            if let Some(outcome) = settle(plan, writer, &error).await? {
                return Ok(outcome);
            }
            return Err(RunError::DryRun {
                target,
                source: error,
            });
        }
    }
    progress(StrictAffinityProgress::Done(StrictAffinityStep::DryRun));

    progress(StrictAffinityProgress::Started(StrictAffinityStep::Verify));
    let current = reread(plan, writer).await?;
    let changes = changes_since_plan(plan, current.as_ref());
    if current.is_none() && plan.before.is_some() {
        return Ok(StrictAffinityOutcome::NotFound);
    }
    if !changes.is_empty() {
        return Ok(StrictAffinityOutcome::Conflict { current, changes });
    }
    progress(StrictAffinityProgress::Done(StrictAffinityStep::Verify));

    progress(StrictAffinityProgress::Started(StrictAffinityStep::Apply));
    match writer.write(&plan.write, false).await {
        Ok(after) => {
            progress(StrictAffinityProgress::Done(StrictAffinityStep::Apply));
            Ok(StrictAffinityOutcome::Applied { after })
        }
        Err(error) => match settle(plan, writer, &error).await? {
            Some(outcome) => Ok(outcome),
            None => Err(RunError::Write {
                target,
                source: error,
            }),
        },
    }
}

/// Turns a conflict, an "already exists" or a "not found" into an outcome (re-reading the
/// object to show it); other errors stay errors.
async fn settle(
    plan: &StrictAffinityPlan,
    writer: &dyn ClusterWriter,
    error: &WriteError,
) -> Result<Option<StrictAffinityOutcome>, RunError> {
    match error {
        WriteError::Conflict(_) | WriteError::AlreadyExists(_) => {
            let current = reread(plan, writer).await?;
            let mut changes = changes_since_plan(plan, current.as_ref());
            if changes.is_empty() {
                changes.push(format!("the server reported a conflict: {error}"));
            }
            Ok(Some(StrictAffinityOutcome::Conflict { current, changes }))
        }
        WriteError::NotFound(_) if matches!(plan.write, Write::MergePatch { .. }) => {
            Ok(Some(StrictAffinityOutcome::NotFound))
        }
        _ => Ok(None),
    }
}

async fn reread(
    plan: &StrictAffinityPlan,
    writer: &dyn ClusterWriter,
) -> Result<Option<Value>, RunError> {
    writer
        .get(&plan.object)
        .await
        .map_err(|source| RunError::Read {
            target: plan.object.display(),
            source,
        })
}

/// What differs between the object now and what the plan was made from.
fn changes_since_plan(plan: &StrictAffinityPlan, current: Option<&Value>) -> Vec<String> {
    let Some(before) = &plan.before else {
        return match current {
            Some(object) => vec![format!(
                "{} default was created by someone else (strictAffinity {})",
                plan.object.kind,
                spec_of(object).strict_affinity
            )],
            None => Vec::new(),
        };
    };
    let Some(current) = current else {
        return vec![format!("{} default was deleted", plan.object.kind)];
    };
    let now = spec_of(current);
    let mut changes = Vec::new();
    let mut compare = |name: &str, old: String, new: String| {
        if old != new {
            changes.push(format!("{name}: {old} -> {new}"));
        }
    };
    compare(
        "strictAffinity",
        before.strict_affinity.to_string(),
        now.strict_affinity.to_string(),
    );
    compare(
        "autoAllocateBlocks",
        before.auto_allocate_blocks.to_string(),
        now.auto_allocate_blocks.to_string(),
    );
    compare(
        "maxBlocksPerHost",
        before.max_blocks_per_host.to_string(),
        now.max_blocks_per_host.to_string(),
    );
    // A resourceVersion is only comparable within the group/version it was read from.
    if plan.before_api_version.as_deref() == Some(plan.object.api_version().as_str()) {
        let rv = current
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        if rv.is_some() && rv != plan.before_resource_version {
            compare(
                "resourceVersion",
                plan.before_resource_version.clone().unwrap_or_default(),
                rv.unwrap_or_default(),
            );
        }
    }
    changes
}

/// The spec fields the plan cares about, with the defaults Calico applies.
fn spec_of(object: &Value) -> IpamConfigSpec {
    object
        .get("spec")
        .cloned()
        .and_then(|spec| serde_json::from_value(spec).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
