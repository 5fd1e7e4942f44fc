//! The patch engine of the simulated API server: JSON merge patch (RFC 7386), JSON patch
//! (RFC 6902), strategic merge patch with its `$` directives, and the per-kind list rules
//! (merge keys, sets, atomic lists) that strategic merge patch and server-side apply share.
//! Server-side apply and managedFields bookkeeping live in `managed_fields` and are
//! re-exported here. Everything is a pure function on `serde_json::Value`; this module must
//! not touch storage, resource versions or system metadata — the store resets those after a
//! patch, and it decides which HTTP status each `PatchError` becomes.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

pub use super::managed_fields::{describe_conflicts, record_update, server_side_apply};

/// Why a patch could not be applied.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PatchError {
    /// The patch document itself is malformed (→ HTTP 400 BadRequest).
    #[error("{0}")]
    Malformed(String),
    /// The patch is well-formed but cannot be applied, e.g. a JSON-patch `test` failed or a path is missing (→ HTTP 422 Invalid).
    #[error("{0}")]
    Unprocessable(String),
    /// Server-side apply conflicts: each entry is (other field manager, field path like ".spec.replicas") (→ HTTP 409 Conflict).
    #[error("Apply failed with {} conflicts", .0.len())]
    Conflicts(Vec<(String, String)>),
}

/// RFC 7386 JSON merge patch (`application/merge-patch+json`): maps merge, `null` deletes,
/// lists are replaced whole.
pub fn merge_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    if !patch.is_object() {
        return Err(PatchError::Malformed(format!(
            "a merge patch must be a JSON object, not {}",
            json_type(patch)
        )));
    }
    ::json_patch::merge(target, patch);
    Ok(())
}

/// RFC 6902 JSON patch (`application/json-patch+json`). A failing operation leaves `target`
/// untouched.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    if !patch.is_array() {
        return Err(PatchError::Malformed(format!(
            "a JSON patch must be a list of operations, not {}",
            json_type(patch)
        )));
    }
    let operations: ::json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| PatchError::Malformed(format!("invalid JSON patch: {e}")))?;
    ::json_patch::patch(target, &operations).map_err(|e| PatchError::Unprocessable(e.to_string()))
}

/// Strategic merge patch (`application/strategic-merge-patch+json`) for built-in kinds.
/// Kinds without special list rules merge maps and replace lists, like a merge patch.
/// On error `target` is left untouched.
pub fn strategic_merge_patch(
    target: &mut Value,
    patch: &Value,
    kind: &str,
) -> Result<(), PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::Malformed(format!(
            "a strategic merge patch must be a JSON object, not {}",
            json_type(patch)
        )));
    };
    // Work on a copy: a directive error halfway through must not leave a half-patched object.
    let mut merged = match target {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    merge_map(&mut merged, patch, Scope::root(kind, true))?;
    *target = Value::Object(merged);
    Ok(())
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------------------
// List rules of the API types.
// ---------------------------------------------------------------------------------------

/// One key field of an associative list, with the value the API server defaults it to when
/// a client leaves it out (so `{containerPort: 80}` and `{containerPort: 80, protocol: TCP}`
/// name the same port).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct KeyField {
    pub(super) name: &'static str,
    pub(super) default: Option<&'static str>,
}

const fn required(name: &'static str) -> KeyField {
    KeyField {
        name,
        default: None,
    }
}

/// How a list field combines with another version of itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ListType {
    /// Replaced whole, and owned whole by server-side apply.
    Atomic,
    /// Scalars merged as a set (`patchStrategy: merge`, `listType: set`).
    Set,
    /// Objects identified by key fields (`patchMergeKey` for strategic merge patch,
    /// `listMapKey`s for server-side apply). `apply_atomic` marks the few fields that
    /// strategic merge patch merges but server-side apply treats as atomic.
    Map {
        merge_key: &'static str,
        keys: &'static [KeyField],
        apply_atomic: bool,
    },
}

const fn keyed(merge_key: &'static str, keys: &'static [KeyField]) -> ListType {
    ListType::Map {
        merge_key,
        keys,
        apply_atomic: false,
    }
}

const BY_NAME: ListType = keyed("name", &[required("name")]);
const BY_TYPE: ListType = keyed("type", &[required("type")]);
const BY_IP: ListType = keyed("ip", &[required("ip")]);
const CONTAINER_PORTS: ListType = keyed(
    "containerPort",
    &[
        required("containerPort"),
        KeyField {
            name: "protocol",
            default: Some("TCP"),
        },
    ],
);
const SERVICE_PORTS: ListType = keyed(
    "port",
    &[
        required("port"),
        KeyField {
            name: "protocol",
            default: Some("TCP"),
        },
    ],
);
const BY_UID: ListType = keyed("uid", &[required("uid")]);
const BY_MOUNT_PATH: ListType = keyed("mountPath", &[required("mountPath")]);
const BY_DEVICE_PATH: ListType = keyed("devicePath", &[required("devicePath")]);
/// Pod `status.hostIPs`: merged by IP in a strategic merge patch, but atomic for apply.
const HOST_IPS: ListType = ListType::Map {
    merge_key: "ip",
    keys: &[required("ip")],
    apply_atomic: true,
};
const SPREAD_CONSTRAINTS: ListType = keyed(
    "topologyKey",
    &[required("topologyKey"), required("whenUnsatisfiable")],
);

/// Which kinds share a shape, as far as list rules go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Family {
    Pod,
    Node,
    /// Kinds with a pod template at `.spec.template` and conditions in `.status`.
    Workload,
    Service,
    /// Kinds whose only special list is `.status.conditions`.
    Conditioned,
    DisruptionBudget,
    ServiceAccount,
    /// Everything else, custom resources included: only metadata has list rules.
    Plain,
}

/// The API type a walk is inside, which decides the rules of the fields below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scope {
    Root(Family),
    /// `top_level` is the object's own metadata, whose identity fields are not owned.
    ObjectMeta {
        top_level: bool,
    },
    WorkloadSpec,
    PodTemplate,
    PodSpec,
    Container,
    PodStatus,
    NodeSpec,
    NodeStatus,
    ServiceSpec,
    ConditionedStatus,
    /// A spec whose `selector` is a label selector (PodDisruptionBudget).
    SelectorSpec,
    /// A struct or map that server-side apply owns and replaces whole (`structType: atomic`,
    /// `mapType: atomic`: label selectors, node selectors, object references). Strategic
    /// merge patch knows no such thing and merges it like any map.
    AtomicStruct,
    /// A subtree without list rules: lists atomic, maps merged.
    Opaque,
}

impl Scope {
    /// The scope at the root of an object of `kind`. Custom resources (`builtin == false`)
    /// get no list rules beyond metadata, whatever their kind is called.
    pub(super) fn root(kind: &str, builtin: bool) -> Self {
        if !builtin {
            return Scope::Root(Family::Plain);
        }
        Scope::Root(match kind {
            "Pod" => Family::Pod,
            "Node" => Family::Node,
            "DaemonSet" | "Deployment" | "ReplicaSet" | "StatefulSet" | "Job" => Family::Workload,
            "Service" => Family::Service,
            "Namespace" => Family::Conditioned,
            "PodDisruptionBudget" => Family::DisruptionBudget,
            "ServiceAccount" => Family::ServiceAccount,
            _ => Family::Plain,
        })
    }

    /// The scope of field `name` below this one, and how it merges if it is a list (for a
    /// list of objects the scope is that of each item).
    pub(super) fn field(self, name: &str) -> (Scope, ListType) {
        use ListType::{Atomic, Set};
        use Scope::{
            AtomicStruct, ConditionedStatus, Container, NodeSpec, NodeStatus, ObjectMeta, Opaque,
            PodSpec, PodStatus, PodTemplate, Root, SelectorSpec, ServiceSpec, WorkloadSpec,
        };
        match (self, name) {
            (Root(_), "metadata") => (ObjectMeta { top_level: true }, Atomic),
            (Root(Family::Pod) | PodTemplate, "spec") => (PodSpec, Atomic),
            (Root(Family::Pod), "status") => (PodStatus, Atomic),
            (Root(Family::Node), "spec") => (NodeSpec, Atomic),
            (Root(Family::Node), "status") => (NodeStatus, Atomic),
            (Root(Family::Workload), "spec") => (WorkloadSpec, Atomic),
            (Root(Family::Service), "spec") => (ServiceSpec, Atomic),
            (Root(Family::DisruptionBudget), "spec") => (SelectorSpec, Atomic),
            (
                Root(
                    Family::Workload
                    | Family::Service
                    | Family::Conditioned
                    | Family::DisruptionBudget,
                ),
                "status",
            ) => (ConditionedStatus, Atomic),
            (WorkloadSpec | SelectorSpec | ServiceSpec, "selector") | (PodSpec, "nodeSelector") => {
                (AtomicStruct, Atomic)
            }
            (Root(Family::ServiceAccount), "secrets")
            | (PodSpec, "volumes" | "schedulingGates" | "resourceClaims")
            | (Container, "env") => (Opaque, BY_NAME),
            (PodSpec, "imagePullSecrets") => (AtomicStruct, BY_NAME),
            (ObjectMeta { .. }, "finalizers") | (NodeSpec, "podCIDRs") => (Opaque, Set),
            (ObjectMeta { .. }, "ownerReferences") => (AtomicStruct, BY_UID),
            (WorkloadSpec, "template") => (PodTemplate, Atomic),
            (PodTemplate, "metadata") => (ObjectMeta { top_level: false }, Atomic),
            (PodSpec, "containers" | "initContainers" | "ephemeralContainers") => {
                (Container, BY_NAME)
            }
            (PodSpec, "hostAliases") | (PodStatus, "podIPs") => (Opaque, BY_IP),
            (PodSpec, "topologySpreadConstraints") => (Opaque, SPREAD_CONSTRAINTS),
            (Container, "ports") => (Opaque, CONTAINER_PORTS),
            (Container, "volumeMounts") => (Opaque, BY_MOUNT_PATH),
            (Container, "volumeDevices") => (Opaque, BY_DEVICE_PATH),
            (PodStatus | NodeStatus | ConditionedStatus, "conditions")
            | (NodeStatus, "addresses") => (Opaque, BY_TYPE),
            (PodStatus, "hostIPs") => (Opaque, HOST_IPS),
            (ServiceSpec, "ports") => (Opaque, SERVICE_PORTS),
            _ => (Opaque, Atomic),
        }
    }

    /// Identity and system fields: never owned by a field manager, never compared.
    pub(super) fn is_system_field(self, name: &str) -> bool {
        match self {
            Scope::Root(_) => matches!(name, "apiVersion" | "kind"),
            Scope::ObjectMeta { top_level: true } => matches!(
                name,
                "name"
                    | "namespace"
                    | "uid"
                    | "resourceVersion"
                    | "generation"
                    | "creationTimestamp"
                    | "managedFields"
                    | "selfLink"
            ),
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Strategic merge patch.
// ---------------------------------------------------------------------------------------

const PATCH_DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

fn merge_map(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    scope: Scope,
) -> Result<(), PatchError> {
    if let Some(directive) = patch.get(PATCH_DIRECTIVE) {
        return apply_map_directive(original, directive, patch, scope);
    }
    for key in patch.keys().filter(|k| k.starts_with('$')) {
        let known = key == RETAIN_KEYS
            || key
                .strip_prefix(DELETE_FROM_PRIMITIVE_LIST)
                .is_some_and(|f| !f.is_empty())
            || key
                .strip_prefix(SET_ELEMENT_ORDER)
                .is_some_and(|f| !f.is_empty());
        if !known {
            return Err(PatchError::Malformed(format!(
                "unknown patch directive {key:?}"
            )));
        }
    }
    if let Some(retained) = patch.get(RETAIN_KEYS) {
        retain_keys(original, retained, patch)?;
    }
    // Deletions first so that a list named in both a deletion list and the patch ends up
    // with the patch's values.
    for (key, doomed) in patch {
        if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            delete_from_primitive_list(original, field, doomed)?;
        }
    }
    let mut ordered: HashSet<&str> = HashSet::new();
    for (key, order) in patch {
        if let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER) {
            set_element_order(original, field, order, patch.get(field), scope)?;
            ordered.insert(field);
        }
    }
    for (key, value) in patch {
        if !key.starts_with('$') && !ordered.contains(key.as_str()) {
            merge_field(original, key, value, scope)?;
        }
    }
    Ok(())
}

/// `$patch` on a map: `replace` swaps the map for the rest of the patch, `delete` empties it.
fn apply_map_directive(
    original: &mut Map<String, Value>,
    directive: &Value,
    patch: &Map<String, Value>,
    scope: Scope,
) -> Result<(), PatchError> {
    match directive.as_str() {
        Some("replace") => {
            original.clear();
            let mut rest = patch.clone();
            rest.remove(PATCH_DIRECTIVE);
            merge_map(original, &rest, scope)
        }
        Some("delete") => {
            original.clear();
            Ok(())
        }
        _ => Err(PatchError::Malformed(format!(
            "unknown patch type {directive} in map"
        ))),
    }
}

fn retain_keys(
    original: &mut Map<String, Value>,
    retained: &Value,
    patch: &Map<String, Value>,
) -> Result<(), PatchError> {
    let bad_format =
        || PatchError::Malformed("$retainKeys must be a list of field names".to_owned());
    let Value::Array(names) = retained else {
        return Err(bad_format());
    };
    let names: HashSet<&str> = names
        .iter()
        .map(Value::as_str)
        .collect::<Option<_>>()
        .ok_or_else(bad_format)?;
    // A field the patch sets must survive the pruning, or the patch contradicts itself.
    if let Some(stray) = patch
        .iter()
        .find(|(k, v)| !k.starts_with('$') && !v.is_null() && !names.contains(k.as_str()))
    {
        return Err(PatchError::Malformed(format!(
            "the patch sets {:?}, which its $retainKeys list leaves out",
            stray.0
        )));
    }
    original.retain(|k, _| names.contains(k.as_str()));
    Ok(())
}

fn delete_from_primitive_list(
    original: &mut Map<String, Value>,
    field: &str,
    doomed: &Value,
) -> Result<(), PatchError> {
    let Value::Array(doomed) = doomed else {
        return Err(PatchError::Malformed(format!(
            "{DELETE_FROM_PRIMITIVE_LIST}{field} must be a list"
        )));
    };
    if let Some(Value::Array(items)) = original.get_mut(field) {
        let doomed: HashSet<String> = doomed.iter().map(Value::to_string).collect();
        items.retain(|item| !doomed.contains(&item.to_string()));
    }
    Ok(())
}

fn merge_field(
    original: &mut Map<String, Value>,
    key: &str,
    patch_value: &Value,
    scope: Scope,
) -> Result<(), PatchError> {
    if patch_value.is_null() {
        original.remove(key);
        return Ok(());
    }
    let (child, list) = scope.field(key);
    match (original.get_mut(key), patch_value) {
        (Some(Value::Object(existing)), Value::Object(patch)) => merge_map(existing, patch, child),
        (Some(Value::Array(existing)), Value::Array(patch)) => {
            merge_list(existing, patch, child, list)
        }
        _ => {
            let fresh = materialize(patch_value, child, list)?;
            original.insert(key.to_owned(), fresh);
            Ok(())
        }
    }
}

/// A patch value for a field the original lacks: merged into an empty value of its type, so
/// that its own nulls are dropped and its directives obeyed rather than stored.
fn materialize(patch_value: &Value, scope: Scope, list: ListType) -> Result<Value, PatchError> {
    match patch_value {
        Value::Object(patch) => {
            let mut fresh = Map::new();
            merge_map(&mut fresh, patch, scope)?;
            Ok(Value::Object(fresh))
        }
        Value::Array(patch) => {
            let mut fresh = Vec::new();
            merge_list(&mut fresh, patch, scope, list)?;
            Ok(Value::Array(fresh))
        }
        other => Ok(other.clone()),
    }
}

fn merge_list(
    original: &mut Vec<Value>,
    patch: &[Value],
    scope: Scope,
    list: ListType,
) -> Result<(), PatchError> {
    match list {
        ListType::Atomic => {
            *original = patch.to_vec();
            Ok(())
        }
        ListType::Set => merge_set(original, patch),
        ListType::Map { merge_key, .. } => merge_keyed(original, patch, scope, merge_key),
    }
}

fn merge_set(original: &mut Vec<Value>, patch: &[Value]) -> Result<(), PatchError> {
    if patch.iter().any(|v| v.is_object() || v.is_array()) {
        return Err(PatchError::Malformed(
            "a list of primitives can only be patched with primitives".to_owned(),
        ));
    }
    let identity = ItemIdentity::Value;
    let live = live_positions(original, identity);
    let mut seen: HashSet<String> = original.iter().map(Value::to_string).collect();
    for value in patch {
        if seen.insert(value.to_string()) {
            original.push(value.clone());
        }
    }
    let order: Vec<String> = patch.iter().map(Value::to_string).collect();
    reorder(original, &order, &live, identity);
    Ok(())
}

fn merge_keyed(
    original: &mut Vec<Value>,
    patch: &[Value],
    scope: Scope,
    merge_key: &'static str,
) -> Result<(), PatchError> {
    let mut plain: Vec<&Map<String, Value>> = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Value::Object(item) = item else {
            return Err(PatchError::Malformed(format!(
                "items of a list merged by {merge_key:?} must be objects"
            )));
        };
        match item.get(PATCH_DIRECTIVE) {
            None => plain.push(item),
            Some(directive) => match directive.as_str() {
                Some("delete") => {
                    let key = item
                        .get(merge_key)
                        .ok_or_else(|| missing_merge_key(merge_key))?;
                    original.retain(|o| o.get(merge_key) != Some(key));
                }
                Some("replace") => replace = true,
                _ => {
                    return Err(PatchError::Malformed(format!(
                        "unknown patch type {directive} in list"
                    )));
                }
            },
        }
    }
    if replace {
        *original = plain
            .into_iter()
            .map(|item| materialize_item(item, scope))
            .collect::<Result<_, _>>()?;
        return Ok(());
    }
    let identity = ItemIdentity::MergeKey(merge_key);
    let live = live_positions(original, identity);
    let mut index = live.clone();
    let mut order = Vec::with_capacity(plain.len());
    for item in plain {
        let key = item
            .get(merge_key)
            .ok_or_else(|| missing_merge_key(merge_key))?
            .to_string();
        if let Some(existing) = index.get(&key).and_then(|&i| original[i].as_object_mut()) {
            merge_map(existing, item, scope)?;
        } else {
            let fresh = materialize_item(item, scope)?;
            if let Some(&i) = index.get(&key) {
                // A live item under this key that is not an object: the patch item replaces it.
                original[i] = fresh;
            } else {
                index.insert(key.clone(), original.len());
                original.push(fresh);
            }
        }
        order.push(key);
    }
    reorder(original, &order, &live, identity);
    Ok(())
}

fn materialize_item(item: &Map<String, Value>, scope: Scope) -> Result<Value, PatchError> {
    let mut fresh = Map::new();
    merge_map(&mut fresh, item, scope)?;
    Ok(Value::Object(fresh))
}

fn missing_merge_key(merge_key: &str) -> PatchError {
    PatchError::Malformed(format!(
        "a list item does not contain the merge key {merge_key:?}"
    ))
}

/// `$setElementOrder/<field>`: merge the field's patch list as usual, then lay the items out
/// in the directive's order.
fn set_element_order(
    original: &mut Map<String, Value>,
    field: &str,
    order: &Value,
    patch_list: Option<&Value>,
    scope: Scope,
) -> Result<(), PatchError> {
    let Value::Array(order) = order else {
        return Err(PatchError::Malformed(format!(
            "{SET_ELEMENT_ORDER}{field} must be a list"
        )));
    };
    let (_, list) = scope.field(field);
    let identity = match list {
        ListType::Map { merge_key, .. } => ItemIdentity::MergeKey(merge_key),
        ListType::Set | ListType::Atomic => ItemIdentity::Value,
    };
    let order: Vec<String> = order
        .iter()
        .map(|item| identity.of(item))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            PatchError::Malformed(format!(
                "{SET_ELEMENT_ORDER}{field} lists an item without its key"
            ))
        })?;
    let live = match original.get(field) {
        Some(Value::Array(items)) => live_positions(items, identity),
        _ => HashMap::new(),
    };
    match patch_list {
        Some(Value::Null) => {
            original.remove(field);
            return Ok(());
        }
        Some(patch @ Value::Array(items)) => {
            check_order(items, &order, identity, field)?;
            merge_field(original, field, patch, scope)?;
        }
        Some(_) => {
            return Err(PatchError::Malformed(format!(
                "{field} must be a list when {SET_ELEMENT_ORDER}{field} is given"
            )));
        }
        None => {}
    }
    if list != ListType::Atomic
        && let Some(Value::Array(items)) = original.get_mut(field)
    {
        reorder(items, &order, &live, identity);
    }
    Ok(())
}

/// The patch list must name only items of the order list, in the same relative order.
fn check_order(
    patch: &[Value],
    order: &[String],
    identity: ItemIdentity,
    field: &str,
) -> Result<(), PatchError> {
    let rank: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .rev()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let mut last = None;
    for item in patch {
        if item.get(PATCH_DIRECTIVE).is_some() {
            continue;
        }
        let position = identity
            .of(item)
            .and_then(|key| rank.get(key.as_str()).copied());
        match position {
            Some(p) if last.is_none_or(|l| l < p) => last = Some(p),
            _ => {
                return Err(PatchError::Malformed(format!(
                    "the {field} list does not match the order given by {SET_ELEMENT_ORDER}{field}"
                )));
            }
        }
    }
    Ok(())
}

/// How list items are told apart when ordering them.
#[derive(Clone, Copy)]
enum ItemIdentity {
    MergeKey(&'static str),
    Value,
}

impl ItemIdentity {
    fn of(self, item: &Value) -> Option<String> {
        match self {
            ItemIdentity::MergeKey(key) => item.get(key).map(Value::to_string),
            ItemIdentity::Value => Some(item.to_string()),
        }
    }
}

fn live_positions(items: &[Value], identity: ItemIdentity) -> HashMap<String, usize> {
    let mut positions = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(key) = identity.of(item) {
            positions.entry(key).or_insert(i);
        }
    }
    positions
}

/// Lays out a merged list the way the API server does: items named by `order` in that order,
/// and the server-only items kept in their live order, slotted in front of a named item only
/// when both were in the live list and the server-only item came first there. So a brand-new
/// item goes before the server-only items, and `$setElementOrder` wins over the live order.
fn reorder(
    items: &mut Vec<Value>,
    order: &[String],
    live: &HashMap<String, usize>,
    identity: ItemIdentity,
) {
    let rank: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .rev()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let mut named: Vec<(usize, Option<usize>, Value)> = Vec::new();
    let mut server_only: Vec<(Option<usize>, Value)> = Vec::new();
    for item in items.drain(..) {
        let key = identity.of(&item);
        let live_position = key.as_ref().and_then(|k| live.get(k)).copied();
        match key.as_ref().and_then(|k| rank.get(k.as_str())) {
            Some(&r) => named.push((r, live_position, item)),
            None => server_only.push((live_position, item)),
        }
    }
    named.sort_by_key(|(r, _, _)| *r);
    let mut named = named.into_iter().peekable();
    let mut server_only = server_only.into_iter().peekable();
    loop {
        let server_first = match (server_only.peek(), named.peek()) {
            (Some((Some(s), _)), Some((_, Some(n), _))) => s < n,
            (Some(_), None) => true,
            (_, Some(_)) => false,
            (None, None) => break,
        };
        let next = if server_first {
            server_only.next().map(|(_, v)| v)
        } else {
            named.next().map(|(_, _, v)| v)
        };
        items.extend(next);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[allow(clippy::needless_pass_by_value)] // taking json! literals by value reads best
    fn smp(target: Value, patch: Value, kind: &str) -> Value {
        let mut target = target;
        strategic_merge_patch(&mut target, &patch, kind).unwrap();
        target
    }

    #[allow(clippy::needless_pass_by_value)] // taking json! literals by value reads best
    fn smp_err(patch: Value, kind: &str) -> PatchError {
        let mut target = json!({"kind": kind, "metadata": {"name": "x"}});
        let before = target.clone();
        let err = strategic_merge_patch(&mut target, &patch, kind).unwrap_err();
        assert_eq!(target, before, "a failed patch must not change the target");
        err
    }

    fn pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "finalizers": ["a.example/x"]},
            "spec": {
                "nodeSelector": {"kubernetes.io/os": "linux", "pool": "np1"},
                "tolerations": [{"key": "k1", "operator": "Exists"}],
                "containers": [
                    {"name": "app", "image": "app:1",
                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "ports": [{"containerPort": 80}]},
                    {"name": "sidecar", "image": "side:1"}
                ]
            },
            "status": {"conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "False"}
            ]}
        })
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge_patch(
            &mut doc,
            &json!({"a": "z", "c": {"f": null, "n": {"x": null, "y": 1}}, "l": [3]}),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"a": "z", "c": {"d": "e", "n": {"y": 1}}, "l": [3]})
        );
    }

    #[test]
    fn merge_patch_rejects_non_objects() {
        let mut doc = json!({"a": 1});
        assert!(matches!(
            merge_patch(&mut doc, &json!([1])),
            Err(PatchError::Malformed(_))
        ));
        assert!(matches!(
            merge_patch(&mut doc, &json!("x")),
            Err(PatchError::Malformed(_))
        ));
        assert_eq!(doc, json!({"a": 1}));
    }

    #[test]
    fn json_patch_add_remove_replace() {
        let mut doc =
            json!({"spec": {"replicas": 1, "list": ["a"]}, "metadata": {"labels": {"x": "1"}}});
        let patch = json!([
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/spec/list/-", "value": "b"},
            {"op": "remove", "path": "/metadata/labels/x"},
            {"op": "add", "path": "/metadata/labels/a~1b", "value": "2"}
        ]);
        json_patch(&mut doc, &patch).unwrap();
        assert_eq!(
            doc,
            json!({"spec": {"replicas": 3, "list": ["a", "b"]}, "metadata": {"labels": {"a/b": "2"}}})
        );
    }

    #[test]
    fn json_patch_failed_test_is_unprocessable_and_changes_nothing() {
        let mut doc = json!({"spec": {"replicas": 1}});
        let patch = json!([
            {"op": "replace", "path": "/spec/replicas", "value": 5},
            {"op": "test", "path": "/spec/replicas", "value": 2}
        ]);
        assert!(matches!(
            json_patch(&mut doc, &patch),
            Err(PatchError::Unprocessable(_))
        ));
        assert_eq!(doc, json!({"spec": {"replicas": 1}}));
    }

    #[test]
    fn json_patch_missing_path_is_unprocessable() {
        let mut doc = json!({"spec": {}});
        let patch = json!([{"op": "remove", "path": "/spec/nothing"}]);
        assert!(matches!(
            json_patch(&mut doc, &patch),
            Err(PatchError::Unprocessable(_))
        ));
    }

    #[test]
    fn json_patch_malformed_documents() {
        let mut doc = json!({});
        assert!(matches!(
            json_patch(&mut doc, &json!({"op": "add"})),
            Err(PatchError::Malformed(_))
        ));
        assert!(matches!(
            json_patch(&mut doc, &json!([{"op": "frobnicate", "path": "/a"}])),
            Err(PatchError::Malformed(_))
        ));
        assert!(matches!(
            json_patch(
                &mut doc,
                &json!([{"op": "add", "path": "no-slash", "value": 1}])
            ),
            Err(PatchError::Malformed(_))
        ));
    }

    #[test]
    fn cordon_and_uncordon() {
        let node =
            json!({"kind": "Node", "metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.0.0/24"}});
        let cordoned = smp(
            node.clone(),
            json!({"spec": {"unschedulable": true}}),
            "Node",
        );
        assert_eq!(
            cordoned,
            json!({"kind": "Node", "metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.0.0/24", "unschedulable": true}})
        );
        let uncordoned = smp(cordoned, json!({"spec": {"unschedulable": null}}), "Node");
        assert_eq!(uncordoned, node);
    }

    #[test]
    fn containers_merge_by_name() {
        let patched = smp(
            pod(),
            json!({"spec": {"containers": [{"name": "sidecar", "image": "side:2"}]}}),
            "Pod",
        );
        let mut expected = pod();
        expected["spec"]["containers"][1]["image"] = json!("side:2");
        assert_eq!(patched, expected);
    }

    #[test]
    fn env_merges_by_name_inside_a_container() {
        let patch = json!({"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "20"}]}]}});
        let patched = smp(pod(), patch, "Pod");
        assert_eq!(
            patched["spec"]["containers"][0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "20"}])
        );
        assert_eq!(patched["spec"]["containers"][0]["image"], json!("app:1"));
        assert_eq!(
            patched["spec"]["containers"][1],
            json!({"name": "sidecar", "image": "side:1"})
        );
    }

    #[test]
    fn new_keyed_item_goes_before_server_only_items() {
        // The API server puts patch items first unless the live list orders them after a
        // server-only item; a brand-new item has no live position, so it leads.
        let patch = json!({"spec": {"containers": [{"name": "app", "env": [{"name": "C", "value": "3"}]}]}});
        let patched = smp(pod(), patch, "Pod");
        assert_eq!(
            patched["spec"]["containers"][0]["env"],
            json!([{"name": "C", "value": "3"}, {"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
        );
    }

    #[test]
    fn patch_items_keep_their_live_order_around_server_only_items() {
        let patch = json!({"spec": {"containers": [
            {"name": "app", "env": [{"name": "B", "value": "2b"}, {"name": "D", "value": "4"}]}
        ]}});
        let patched = smp(pod(), patch, "Pod");
        assert_eq!(
            patched["spec"]["containers"][0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2b"}, {"name": "D", "value": "4"}])
        );
    }

    #[test]
    fn patch_delete_directive_removes_keyed_items() {
        let patch = json!({"spec": {"containers": [
            {"name": "sidecar", "$patch": "delete"},
            {"name": "app", "env": [{"name": "A", "$patch": "delete"}]}
        ]}});
        let patched = smp(pod(), patch, "Pod");
        assert_eq!(
            patched["spec"]["containers"],
            json!([{"name": "app", "image": "app:1", "env": [{"name": "B", "value": "2"}], "ports": [{"containerPort": 80}]}])
        );
    }

    #[test]
    fn patch_replace_directive_on_map_and_list() {
        let patch = json!({"spec": {
            "nodeSelector": {"$patch": "replace", "kubernetes.io/os": "windows"},
            "containers": [{"$patch": "replace"}, {"name": "only", "image": "o:1"}]
        }});
        let patched = smp(pod(), patch, "Pod");
        assert_eq!(
            patched["spec"]["nodeSelector"],
            json!({"kubernetes.io/os": "windows"})
        );
        assert_eq!(
            patched["spec"]["containers"],
            json!([{"name": "only", "image": "o:1"}])
        );
    }

    #[test]
    fn patch_delete_directive_on_map_empties_it() {
        let patched = smp(
            pod(),
            json!({"spec": {"nodeSelector": {"$patch": "delete"}}}),
            "Pod",
        );
        assert_eq!(patched["spec"]["nodeSelector"], json!({}));
    }

    #[test]
    fn set_element_order_reorders_containers() {
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
            "containers": [{"name": "sidecar", "image": "side:3"}]
        }});
        let patched = smp(pod(), patch, "Pod");
        let names: Vec<&str> = patched["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["sidecar", "app"]);
        assert_eq!(
            patched["spec"]["containers"][0],
            json!({"name": "sidecar", "image": "side:3"})
        );
    }

    #[test]
    fn set_element_order_interleaves_server_only_items_by_live_order() {
        // Live C,B,D,A,E; the order names A,B. C and D came before A live, so they lead;
        // E came after A, so it follows the named items.
        let target = json!({"metadata": {"finalizers": ["C", "B", "D", "A", "E"]}});
        let patch = json!({"metadata": {"$setElementOrder/finalizers": ["A", "B"]}});
        let patched = smp(target, patch, "ConfigMap");
        assert_eq!(
            patched,
            json!({"metadata": {"finalizers": ["C", "D", "A", "B", "E"]}})
        );
    }

    #[test]
    fn set_element_order_must_agree_with_the_patch_list() {
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
            "containers": [{"name": "sidecar", "image": "s"}, {"name": "app", "image": "a"}]
        }});
        assert!(matches!(smp_err(patch, "Pod"), PatchError::Malformed(_)));
        let missing = json!({"spec": {"$setElementOrder/containers": [{"name": "app"}], "containers": [{"name": "x"}]}});
        assert!(matches!(smp_err(missing, "Pod"), PatchError::Malformed(_)));
    }

    #[test]
    fn finalizers_are_a_set() {
        let patched = smp(
            pod(),
            json!({"metadata": {"finalizers": ["a.example/x", "b.example/y"]}}),
            "Pod",
        );
        assert_eq!(
            patched["metadata"]["finalizers"],
            json!(["a.example/x", "b.example/y"])
        );
        let patched = smp(
            pod(),
            json!({"metadata": {"finalizers": ["b.example/y"]}}),
            "Pod",
        );
        assert_eq!(
            patched["metadata"]["finalizers"],
            json!(["b.example/y", "a.example/x"])
        );
    }

    #[test]
    fn delete_from_primitive_list() {
        let target = json!({"metadata": {"finalizers": ["a", "b", "c"]}});
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "zz"]}});
        assert_eq!(
            smp(target, patch, "Namespace"),
            json!({"metadata": {"finalizers": ["a", "c"]}})
        );
        let bad = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "b"}});
        assert!(matches!(
            smp_err(bad, "Namespace"),
            PatchError::Malformed(_)
        ));
    }

    #[test]
    fn pod_conditions_merge_by_type() {
        let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let patched = smp(pod(), patch, "Pod");
        assert_eq!(
            patched["status"]["conditions"],
            json!([{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}])
        );
    }

    #[test]
    fn node_conditions_and_addresses_merge_by_type_taints_are_atomic() {
        let node = json!({
            "kind": "Node",
            "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}], "podCIDRs": ["10.0.0.0/24"]},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "False"}],
                "addresses": [{"type": "InternalIP", "address": "10.1.0.4"}, {"type": "Hostname", "address": "n1"}]
            }
        });
        let patch = json!({
            "spec": {"taints": [{"key": "b", "effect": "NoExecute"}], "podCIDRs": ["fd00::/64"]},
            "status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                "addresses": [{"type": "InternalIP", "address": "10.1.0.5"}]
            }
        });
        let patched = smp(node, patch, "Node");
        assert_eq!(
            patched,
            json!({
                "kind": "Node",
                "spec": {"taints": [{"key": "b", "effect": "NoExecute"}], "podCIDRs": ["fd00::/64", "10.0.0.0/24"]},
                "status": {
                    "conditions": [
                        {"type": "MemoryPressure", "status": "False"},
                        {"type": "Ready", "status": "True", "reason": "KubeletReady"}
                    ],
                    "addresses": [{"type": "InternalIP", "address": "10.1.0.5"}, {"type": "Hostname", "address": "n1"}]
                }
            })
        );
    }

    #[test]
    fn node_selector_merges_in_a_strategic_patch() {
        let patched = smp(
            pod(),
            json!({"spec": {"nodeSelector": {"pool": null, "zone": "a"}}}),
            "Pod",
        );
        assert_eq!(
            patched["spec"]["nodeSelector"],
            json!({"kubernetes.io/os": "linux", "zone": "a"})
        );
    }

    #[test]
    fn tolerations_are_atomic() {
        let patched = smp(
            pod(),
            json!({"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]}}),
            "Pod",
        );
        assert_eq!(
            patched["spec"]["tolerations"],
            json!([{"key": "k2", "operator": "Exists"}])
        );
    }

    #[test]
    fn lists_of_unknown_kinds_and_fields_are_replaced() {
        let target =
            json!({"kind": "Widget", "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let patched = smp(
            target,
            json!({"spec": {"containers": [{"name": "b", "x": 1}]}}),
            "Widget",
        );
        assert_eq!(
            patched,
            json!({"kind": "Widget", "spec": {"containers": [{"name": "b", "x": 1}]}})
        );
    }

    #[test]
    fn deployment_template_containers_merge_by_name() {
        let deployment = json!({
            "kind": "Deployment",
            "spec": {"replicas": 2, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1", "ports": [{"containerPort": 8080, "name": "http"}]}]}
            }}
        });
        let patch = json!({"spec": {"template": {
            "metadata": {"annotations": {"restartedAt": "now"}},
            "spec": {"containers": [{"name": "web", "image": "web:2", "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]}
        }}});
        let patched = smp(deployment, patch, "Deployment");
        assert_eq!(
            patched,
            json!({
                "kind": "Deployment",
                "spec": {"replicas": 2, "template": {
                    "metadata": {"labels": {"app": "web"}, "annotations": {"restartedAt": "now"}},
                    "spec": {"containers": [{"name": "web", "image": "web:2",
                        "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}]}]}
                }}
            })
        );
    }

    #[test]
    fn daemonset_status_conditions_and_service_ports() {
        let ds = json!({"kind": "DaemonSet", "status": {"conditions": [{"type": "A", "status": "True"}], "numberReady": 1}});
        let patched = smp(
            ds,
            json!({"status": {"numberReady": 2, "conditions": [{"type": "A", "message": "m"}]}}),
            "DaemonSet",
        );
        assert_eq!(
            patched,
            json!({"kind": "DaemonSet", "status": {"conditions": [{"type": "A", "status": "True", "message": "m"}], "numberReady": 2}})
        );
        let svc = json!({"kind": "Service", "spec": {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 443, "targetPort": 6443}]}});
        let patched = smp(
            svc,
            json!({"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}),
            "Service",
        );
        assert_eq!(
            patched["spec"]["ports"],
            json!([{"port": 53, "protocol": "UDP"}, {"port": 443, "targetPort": 8443}])
        );
    }

    #[test]
    fn owner_references_merge_by_uid_and_pod_ips_by_ip() {
        let target = json!({"metadata": {"ownerReferences": [{"uid": "u1", "kind": "ReplicaSet", "name": "rs"}]},
                            "status": {"podIPs": [{"ip": "10.0.0.1"}]}});
        let patch = json!({"metadata": {"ownerReferences": [{"uid": "u1", "controller": true}]},
                           "status": {"podIPs": [{"ip": "fd00::1"}]}});
        let patched = smp(target, patch, "Pod");
        assert_eq!(
            patched,
            json!({"metadata": {"ownerReferences": [{"uid": "u1", "kind": "ReplicaSet", "name": "rs", "controller": true}]},
                   "status": {"podIPs": [{"ip": "fd00::1"}, {"ip": "10.0.0.1"}]}})
        );
    }

    #[test]
    fn retain_keys_drops_unlisted_fields() {
        let target = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        assert_eq!(
            smp(target, patch, "Deployment"),
            json!({"spec": {"strategy": {"type": "Recreate"}}})
        );
        let contradicting =
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}});
        assert!(matches!(
            smp_err(contradicting, "Deployment"),
            PatchError::Malformed(_)
        ));
        let not_a_list = json!({"spec": {"strategy": {"$retainKeys": "type"}}});
        assert!(matches!(
            smp_err(not_a_list, "Deployment"),
            PatchError::Malformed(_)
        ));
    }

    #[test]
    fn nulls_inside_new_values_are_dropped() {
        let patched = smp(
            json!({"metadata": {}}),
            json!({"metadata": {"labels": {"a": "1", "b": null}}}),
            "ConfigMap",
        );
        assert_eq!(patched, json!({"metadata": {"labels": {"a": "1"}}}));
    }

    #[test]
    fn type_changes_take_the_patch_value() {
        let patched = smp(
            json!({"data": {"a": "1"}}),
            json!({"data": "x"}),
            "ConfigMap",
        );
        assert_eq!(patched, json!({"data": "x"}));
    }

    #[test]
    fn malformed_strategic_patches() {
        assert!(matches!(
            smp_err(json!([1]), "Pod"),
            PatchError::Malformed(_)
        ));
        assert!(matches!(
            smp_err(json!({"spec": {"$frob": 1}}), "Pod"),
            PatchError::Malformed(_)
        ));
        assert!(matches!(
            smp_err(json!({"spec": {"$patch": "merge"}}), "Pod"),
            PatchError::Malformed(_)
        ));
        assert!(matches!(
            smp_err(
                json!({"spec": {"containers": [{"image": "no-name"}]}}),
                "Pod"
            ),
            PatchError::Malformed(_)
        ));
        assert!(matches!(
            smp_err(
                json!({"spec": {"containers": [{"$patch": "delete"}]}}),
                "Pod"
            ),
            PatchError::Malformed(_)
        ));
        assert!(matches!(
            smp_err(json!({"spec": {"containers": ["x"]}}), "Pod"),
            PatchError::Malformed(_)
        ));
        assert!(matches!(
            smp_err(json!({"metadata": {"finalizers": [{"a": 1}]}}), "Pod"),
            PatchError::Malformed(_)
        ));
    }

    #[test]
    fn error_in_a_later_field_leaves_the_target_untouched() {
        let mut target = pod();
        let patch = json!({"spec": {"nodeName": "n1", "containers": [{"image": "no-name"}]}});
        assert!(strategic_merge_patch(&mut target, &patch, "Pod").is_err());
        assert_eq!(target, pod());
    }

    #[test]
    fn custom_resources_have_no_list_rules_beyond_metadata() {
        assert_eq!(Scope::root("Pod", false), Scope::Root(Family::Plain));
        let (meta, _) = Scope::root("IPPool", false).field("metadata");
        assert_eq!(meta.field("finalizers").1, ListType::Set);
        assert_eq!(
            Scope::root("Pod", true)
                .field("spec")
                .0
                .field("tolerations")
                .1,
            ListType::Atomic
        );
    }
}
