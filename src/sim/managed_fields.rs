//! Server-side apply and field ownership: merging an applied configuration into the live
//! object, pruning fields an applier stopped setting, detecting conflicts with other field
//! managers, and keeping `metadata.managedFields` in the wire format (`FieldsV1`) after
//! every write. List rules come from `patch::Scope`. Pure functions on `serde_json::Value`;
//! this module must not touch storage, resource versions or any metadata besides
//! `managedFields` (the store owns the rest).

use std::collections::btree_map::Entry as MapEntry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::patch::{Family, KeyField, ListType, PatchError, Scope};

const APPLY: &str = "Apply";
const UPDATE: &str = "Update";

/// Metadata an applied configuration may carry but that apply ignores.
const IGNORED_APPLY_METADATA: [&str; 6] = [
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
];

/// Server-side apply (`application/apply-patch+yaml`, body already parsed to JSON).
/// `live` is the current object (None when the apply creates it). Returns the new object with
/// `metadata.managedFields` updated, or the conflicts with other managers unless `force`.
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    kind: &str,
    builtin: bool,
    now_rfc3339: &str,
) -> Result<Value, PatchError> {
    if manager.is_empty() {
        return Err(PatchError::Malformed(
            "fieldManager is required for apply patches".to_owned(),
        ));
    }
    let config = apply_config(applied)?;
    let scope = Scope::root(kind, builtin);
    let applied_set = fields_of(&config, scope, ListType::Atomic, Keys::Required)?;
    let mut entries = live.map(read_entries).unwrap_or_default();
    if let Some(live) = live
        && entries.is_empty()
    {
        entries.extend(before_first_apply(live, scope, now_rfc3339));
    }
    let previous = take_entry(&mut entries, manager, APPLY);
    let mut merged = live.cloned().unwrap_or_else(|| Value::Object(Map::new()));
    apply_value(&mut merged, &config, scope, ListType::Atomic);

    let last_applied = previous.map(|p| p.fields).unwrap_or_default();
    let doomed = last_applied.difference(&applied_set);
    if !doomed.is_empty() {
        let mut kept = applied_set.clone();
        for entry in &entries {
            kept.union_with(&entry.fields);
        }
        prune(&mut merged, &doomed, Some(&kept), scope, ListType::Atomic);
    }

    let changes = diff(live, Some(&merged), scope, ListType::Atomic);
    let conflicts = conflicts_with(&entries, &changes.touched);
    if !force && !conflicts.is_empty() {
        return Err(PatchError::Conflicts(conflicts));
    }
    for entry in &mut entries {
        entry.fields.subtract(&changes.touched);
        entry.fields.subtract(&changes.removed);
    }
    entries.push(ManagedEntry {
        manager: manager.to_owned(),
        operation: APPLY.to_owned(),
        api_version: string_at(&config, "apiVersion").to_owned(),
        time: Some(now_rfc3339.to_owned()),
        subresource: None,
        fields: applied_set,
    });
    write_entries(&mut merged, entries);
    Ok(merged)
}

/// After a non-apply write (create, update, merge/JSON/strategic patch) record that
/// `manager` now owns the fields it changed (operation "Update"), taking them from other
/// managers and dropping managers left with nothing. `old` is None for a create. Does
/// nothing when `manager` is empty or no field changed.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    kind: &str,
    builtin: bool,
    api_version: &str,
    now_rfc3339: &str,
) {
    if manager.is_empty() {
        return;
    }
    carry_over_managed_fields(old, new);
    let scope = Scope::root(kind, builtin);
    let changes = written_fields(old, new, scope);
    if changes.touched.is_empty() && changes.removed.is_empty() {
        return;
    }
    let mut entries = read_entries(new);
    let mut ours = take_entry(&mut entries, manager, UPDATE).unwrap_or_else(|| ManagedEntry {
        manager: manager.to_owned(),
        operation: UPDATE.to_owned(),
        api_version: String::new(),
        time: None,
        subresource: None,
        fields: FieldSet::default(),
    });
    for entry in &mut entries {
        entry.fields.subtract(&changes.touched);
        entry.fields.subtract(&changes.removed);
    }
    ours.fields.union_with(&changes.touched);
    ours.fields.subtract(&changes.removed);
    api_version.clone_into(&mut ours.api_version);
    ours.time = Some(now_rfc3339.to_owned());
    entries.push(ours);
    write_entries(new, entries);
}

/// The field changes of a write; a create is compared with the empty object of its kind.
fn written_fields(old: Option<&Value>, new: &Value, scope: Scope) -> Changes {
    match old {
        Some(old) => diff(Some(old), Some(new), scope, ListType::Atomic),
        None => diff(
            Some(&creation_baseline(new, scope)),
            Some(new),
            scope,
            ListType::Atomic,
        ),
    }
}

/// An object nobody has claimed fields of (stored without managedFields) is treated, on its
/// first apply, as if one "before-first-apply" update had written all of it, so the apply
/// conflicts with what is already there instead of silently taking it over.
fn before_first_apply(live: &Value, scope: Scope, now_rfc3339: &str) -> Option<ManagedEntry> {
    let fields = written_fields(None, live, scope).touched;
    (!fields.is_empty()).then(|| ManagedEntry {
        manager: "before-first-apply".to_owned(),
        operation: UPDATE.to_owned(),
        api_version: string_at(live, "apiVersion").to_owned(),
        time: Some(now_rfc3339.to_owned()),
        subresource: None,
        fields,
    })
}

/// The message the API server gives with a 409 for apply conflicts, e.g.
/// `Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas`. Managers come
/// as `conflicts_with` prints them; with several conflicts they are grouped per manager.
pub fn describe_conflicts(conflicts: &[(String, String)]) -> String {
    if let [(manager, path)] = conflicts {
        return format!("Apply failed with 1 conflict: conflict with {manager}: {path}");
    }
    let mut by_manager: Vec<(&str, Vec<&str>)> = Vec::new();
    for (manager, path) in conflicts {
        match by_manager.iter_mut().find(|(m, _)| m == manager) {
            Some((_, paths)) => paths.push(path),
            None => by_manager.push((manager, vec![path])),
        }
    }
    let mut lines = Vec::new();
    for (manager, paths) in by_manager {
        lines.push(format!("conflicts with {manager}:"));
        lines.extend(paths.into_iter().map(|path| format!("- {path}")));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// How the apiserver names a manager in conflict messages: quoted, with the subresource it
/// wrote through, and for an updater the API version it wrote with (an applier is the same
/// manager whatever version it applies, so it is named without one).
fn printed_manager(entry: &ManagedEntry) -> String {
    let mut printed = format!("{:?}", entry.manager);
    if let Some(subresource) = entry.subresource.as_deref().filter(|s| !s.is_empty()) {
        let _ = write!(printed, " with subresource {subresource:?}");
    }
    if entry.operation == UPDATE {
        let _ = write!(printed, " using {}", entry.api_version);
    }
    printed
}

// ---------------------------------------------------------------------------------------
// Field sets: the tree of owned paths, as in `fieldsV1`.
// ---------------------------------------------------------------------------------------

/// A set of field paths. Children are keyed by their wire path element (`f:name`,
/// `k:{"name":"c"}`, `v:"value"`); `member` says the path ending here is itself in the set
/// (a leaf, or `".": {}` on the wire).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    fn leaf() -> Self {
        FieldSet {
            member: true,
            children: BTreeMap::new(),
        }
    }

    fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    fn child(&self, element: &str) -> Option<&FieldSet> {
        self.children.get(element)
    }

    fn nest(&mut self, element: String, child: FieldSet) {
        if child.is_empty() {
            return;
        }
        match self.children.entry(element) {
            MapEntry::Vacant(slot) => {
                slot.insert(child);
            }
            MapEntry::Occupied(mut slot) => slot.get_mut().union_with(&child),
        }
    }

    fn union_with(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (element, theirs) in &other.children {
            match self.children.get_mut(element) {
                Some(mine) => mine.union_with(theirs),
                None => {
                    self.children.insert(element.clone(), theirs.clone());
                }
            }
        }
    }

    fn subtract(&mut self, other: &FieldSet) {
        if other.member {
            self.member = false;
        }
        for (element, theirs) in &other.children {
            if let Some(mine) = self.children.get_mut(element) {
                mine.subtract(theirs);
                if mine.is_empty() {
                    self.children.remove(element);
                }
            }
        }
    }

    fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut rest = self.clone();
        rest.subtract(other);
        rest
    }

    fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut both = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (element, mine) in &self.children {
            if let Some(theirs) = other.children.get(element) {
                both.nest(element.clone(), mine.intersection(theirs));
            }
        }
        both
    }

    /// Every member path, written the way the API server writes conflict paths
    /// (`.spec.containers[name="c"].image`).
    fn paths(&self, prefix: &mut String, out: &mut Vec<String>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (element, child) in &self.children {
            let len = prefix.len();
            push_readable(prefix, element);
            child.paths(prefix, out);
            prefix.truncate(len);
        }
    }

    fn to_wire(&self) -> Value {
        let mut wire = Map::new();
        if self.member && !self.children.is_empty() {
            wire.insert(".".to_owned(), Value::Object(Map::new()));
        }
        for (element, child) in &self.children {
            wire.insert(element.clone(), child.to_wire());
        }
        Value::Object(wire)
    }

    /// Reads a `fieldsV1` value; the root is never a member itself.
    fn from_wire(root: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        if let Value::Object(children) = root {
            for (element, child) in children.iter().filter(|(e, _)| e.as_str() != ".") {
                set.nest(element.clone(), Self::node_from_wire(child));
            }
        }
        set
    }

    fn node_from_wire(node: &Value) -> FieldSet {
        let Value::Object(children) = node else {
            return FieldSet::leaf();
        };
        let mut set = FieldSet {
            member: children.is_empty() || children.contains_key("."),
            children: BTreeMap::new(),
        };
        for (element, child) in children.iter().filter(|(e, _)| e.as_str() != ".") {
            set.nest(element.clone(), Self::node_from_wire(child));
        }
        set
    }
}

fn push_readable(out: &mut String, element: &str) {
    if let Some(name) = element.strip_prefix("f:") {
        out.push('.');
        out.push_str(name);
    } else if let Some(Ok(Value::Object(key))) = element
        .strip_prefix("k:")
        .map(serde_json::from_str::<Value>)
    {
        let parts: Vec<String> = key
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let _ = write!(out, "[{}]", parts.join(","));
    } else if let Some(value) = element.strip_prefix("v:") {
        let _ = write!(out, "[={value}]");
    } else if let Some(index) = element.strip_prefix("i:") {
        let _ = write!(out, "[{index}]");
    } else {
        out.push_str(element);
    }
}

fn field_element(name: &str) -> String {
    format!("f:{name}")
}

fn value_element(value: &Value) -> String {
    format!("v:{value}")
}

/// `k:{...}` for an item of an associative list, key fields sorted by name, defaults filled
/// in; None when the item lacks a key field that has no default.
fn key_element(item: &Value, keys: &[KeyField]) -> Option<String> {
    let Value::Object(item) = item else {
        return None;
    };
    let mut parts: Vec<(&str, String)> = Vec::with_capacity(keys.len());
    for key in keys {
        let value = match item.get(key.name).filter(|v| !v.is_null()) {
            Some(value) => value.to_string(),
            None => Value::from(key.default?).to_string(),
        };
        parts.push((key.name, value));
    }
    parts.sort_unstable_by_key(|(name, _)| *name);
    let body: Vec<String> = parts
        .iter()
        .map(|(name, value)| format!("{}:{value}", Value::from(*name)))
        .collect();
    Some(format!("k:{{{}}}", body.join(",")))
}

/// The path elements of a keyed list's items; None when an item has no usable key or two
/// items share one, in which case the list can only be handled whole.
fn item_elements(items: &[Value], keys: &[KeyField]) -> Option<Vec<String>> {
    let mut seen = HashSet::with_capacity(items.len());
    items
        .iter()
        .map(|item| {
            let element = key_element(item, keys)?;
            seen.insert(element.clone()).then_some(element)
        })
        .collect()
}

/// The list rules as server-side apply sees them.
fn apply_field(scope: Scope, name: &str) -> (Scope, ListType) {
    match scope.field(name) {
        (
            child,
            ListType::Map {
                apply_atomic: true, ..
            },
        ) => (child, ListType::Atomic),
        other => other,
    }
}

// ---------------------------------------------------------------------------------------
// Walks: the fields a value sets, the changes between two values.
// ---------------------------------------------------------------------------------------

/// What to do with an associative list whose items lack keys: an applied configuration is
/// refused, a stored object is treated as owning the list whole.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keys {
    Required,
    BestEffort,
}

/// The fields `value` sets, relative to its own path (a leaf is a member set).
fn fields_of(
    value: &Value,
    scope: Scope,
    list: ListType,
    keys: Keys,
) -> Result<FieldSet, PatchError> {
    match value {
        Value::Object(map) if !map.is_empty() && scope != Scope::AtomicStruct => {
            let mut set = FieldSet::default();
            for (name, child) in map {
                if scope.is_system_field(name) {
                    continue;
                }
                let (child_scope, child_list) = apply_field(scope, name);
                set.nest(
                    field_element(name),
                    fields_of(child, child_scope, child_list, keys)?,
                );
            }
            Ok(set)
        }
        Value::Array(items) if !items.is_empty() => list_fields(items, scope, list, keys),
        _ => Ok(FieldSet::leaf()),
    }
}

fn list_fields(
    items: &[Value],
    scope: Scope,
    list: ListType,
    keys: Keys,
) -> Result<FieldSet, PatchError> {
    let mut set = FieldSet::default();
    match list {
        ListType::Atomic => return Ok(FieldSet::leaf()),
        ListType::Set => {
            for item in items {
                set.nest(value_element(item), FieldSet::leaf());
            }
        }
        ListType::Map {
            keys: key_fields, ..
        } => {
            let Some(elements) = item_elements(items, key_fields) else {
                return match keys {
                    Keys::BestEffort => Ok(FieldSet::leaf()),
                    Keys::Required => Err(unkeyed_items(key_fields)),
                };
            };
            for (item, element) in items.iter().zip(elements) {
                let mut item_set = fields_of(item, scope, ListType::Atomic, keys)?;
                item_set.member = true;
                set.nest(element, item_set);
            }
        }
    }
    Ok(set)
}

fn unkeyed_items(keys: &[KeyField]) -> PatchError {
    let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
    PatchError::Unprocessable(format!(
        "every item of a list keyed by {} must set those fields and be unique by them",
        names.join(", ")
    ))
}

/// A value appearing or disappearing as a whole: its path plus everything below it.
fn whole(value: &Value, scope: Scope, list: ListType) -> FieldSet {
    let mut set =
        fields_of(value, scope, list, Keys::BestEffort).unwrap_or_else(|_| FieldSet::leaf());
    set.member = true;
    set
}

/// Field changes between two versions: `touched` are added or modified paths (they move to
/// the writer), `removed` are paths that no longer exist (nobody owns them any more).
#[derive(Default)]
struct Changes {
    touched: FieldSet,
    removed: FieldSet,
}

impl Changes {
    fn nest(&mut self, element: impl Fn() -> String, child: Changes) {
        if !child.touched.is_empty() {
            self.touched.nest(element(), child.touched);
        }
        if !child.removed.is_empty() {
            self.removed.nest(element(), child.removed);
        }
    }
}

fn diff(old: Option<&Value>, new: Option<&Value>, scope: Scope, list: ListType) -> Changes {
    match (old, new) {
        (None, None) => Changes::default(),
        (None, Some(new)) => Changes {
            touched: whole(new, scope, list),
            removed: FieldSet::default(),
        },
        (Some(old), None) => Changes {
            touched: FieldSet::default(),
            removed: whole(old, scope, list),
        },
        (Some(Value::Object(old)), Some(Value::Object(new)))
            if !(old.is_empty() && new.is_empty()) && scope != Scope::AtomicStruct =>
        {
            diff_maps(old, new, scope)
        }
        (Some(Value::Array(old)), Some(Value::Array(new))) if old != new => {
            diff_lists(old, new, scope, list)
        }
        // A list that was null (a non-omitempty Go slice) gains items, not existence.
        (Some(Value::Null), Some(Value::Array(new))) => diff_lists(&[], new, scope, list),
        (Some(old), Some(new)) if old == new => Changes::default(),
        (Some(old), Some(new)) => {
            let mut removed = whole(old, scope, list);
            removed.member = false;
            Changes {
                touched: whole(new, scope, list),
                removed,
            }
        }
    }
}

fn diff_maps(old: &Map<String, Value>, new: &Map<String, Value>, scope: Scope) -> Changes {
    let mut changes = Changes::default();
    for (name, value) in new {
        if scope.is_system_field(name) {
            continue;
        }
        let (child_scope, child_list) = apply_field(scope, name);
        changes.nest(
            || field_element(name),
            diff(old.get(name), Some(value), child_scope, child_list),
        );
    }
    for (name, value) in old {
        if !new.contains_key(name) && !scope.is_system_field(name) {
            let (child_scope, child_list) = apply_field(scope, name);
            changes.nest(
                || field_element(name),
                diff(Some(value), None, child_scope, child_list),
            );
        }
    }
    changes
}

fn diff_lists(old: &[Value], new: &[Value], scope: Scope, list: ListType) -> Changes {
    let mut changes = Changes::default();
    match list {
        ListType::Atomic => changes.touched = FieldSet::leaf(),
        ListType::Set => {
            let before: HashSet<String> = old.iter().map(value_element).collect();
            let after: HashSet<String> = new.iter().map(value_element).collect();
            for element in after.difference(&before) {
                changes.touched.nest(element.clone(), FieldSet::leaf());
            }
            for element in before.difference(&after) {
                changes.removed.nest(element.clone(), FieldSet::leaf());
            }
        }
        ListType::Map { keys, .. } => {
            let (Some(before), Some(after)) = (item_elements(old, keys), item_elements(new, keys))
            else {
                changes.touched = FieldSet::leaf();
                return changes;
            };
            let old_items: HashMap<&str, &Value> =
                before.iter().map(String::as_str).zip(old).collect();
            let new_keys: HashSet<&str> = after.iter().map(String::as_str).collect();
            for (element, item) in after.iter().zip(new) {
                let previous = old_items.get(element.as_str()).copied();
                changes.nest(
                    || element.clone(),
                    diff(previous, Some(item), scope, ListType::Atomic),
                );
            }
            for (element, item) in before.iter().zip(old) {
                if !new_keys.contains(element.as_str()) {
                    changes.nest(
                        || element.clone(),
                        diff(Some(item), None, scope, ListType::Atomic),
                    );
                }
            }
        }
    }
    changes
}

/// For every other manager, the changed fields it owns, as (manager as the apiserver prints
/// it, readable path).
fn conflicts_with(entries: &[ManagedEntry], touched: &FieldSet) -> Vec<(String, String)> {
    let mut conflicts = Vec::new();
    for entry in entries {
        let mut paths = Vec::new();
        entry
            .fields
            .intersection(touched)
            .paths(&mut String::new(), &mut paths);
        let manager = printed_manager(entry);
        conflicts.extend(paths.into_iter().map(|path| (manager.clone(), path)));
    }
    conflicts.sort();
    conflicts.dedup();
    conflicts
}

// ---------------------------------------------------------------------------------------
// Apply: merge the configuration in, prune what the applier dropped.
// ---------------------------------------------------------------------------------------

/// The applied object minus what apply ignores: nulls and system metadata.
fn apply_config(applied: &Value) -> Result<Value, PatchError> {
    let Value::Object(fields) = applied else {
        return Err(PatchError::Malformed(
            "an apply patch must be an object".to_owned(),
        ));
    };
    for name in ["apiVersion", "kind"] {
        if fields
            .get(name)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(PatchError::Malformed(format!(
                "{name} must be set in an apply patch"
            )));
        }
    }
    let mut config = without_nulls(applied);
    if let Some(Value::Object(meta)) = config.get_mut("metadata") {
        for name in IGNORED_APPLY_METADATA {
            meta.remove(name);
        }
    }
    Ok(config)
}

fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

fn apply_value(live: &mut Value, config: &Value, scope: Scope, list: ListType) {
    match (live, config) {
        (Value::Object(live), Value::Object(config)) if scope != Scope::AtomicStruct => {
            for (name, value) in config {
                let (child_scope, child_list) = apply_field(scope, name);
                match live.get_mut(name) {
                    Some(existing) => apply_value(existing, value, child_scope, child_list),
                    None => {
                        live.insert(name.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(live), Value::Array(config)) => apply_list(live, config, scope, list),
        (live, config) => *live = config.clone(),
    }
}

fn apply_list(live: &mut Vec<Value>, config: &[Value], scope: Scope, list: ListType) {
    match list {
        ListType::Set => {
            let mut present: HashSet<String> = live.iter().map(Value::to_string).collect();
            for value in config {
                if present.insert(value.to_string()) {
                    live.push(value.clone());
                }
            }
        }
        ListType::Map { keys, .. } => {
            match (item_elements(live, keys), item_elements(config, keys)) {
                (Some(live_elements), Some(config_elements)) => {
                    let items = std::mem::take(live);
                    *live =
                        merge_associative(items, &live_elements, config, &config_elements, scope);
                }
                _ => *live = config.to_vec(),
            }
        }
        ListType::Atomic => *live = config.to_vec(),
    }
}

/// Merges keyed items: live-only items keep their places, shared items follow the
/// configuration's order, and new items come right after the configured item before them.
fn merge_associative(
    live: Vec<Value>,
    live_elements: &[String],
    config: &[Value],
    config_elements: &[String],
    scope: Scope,
) -> Vec<Value> {
    enum Slot {
        LiveOnly(Value),
        Shared(usize),
    }
    let config_position: HashMap<&str, usize> = config_elements
        .iter()
        .enumerate()
        .map(|(i, element)| (element.as_str(), i))
        .collect();
    let mut counterpart: Vec<Option<Value>> = vec![None; config.len()];
    let mut slots = Vec::with_capacity(live.len());
    for (item, element) in live.into_iter().zip(live_elements) {
        match config_position.get(element.as_str()) {
            Some(&position) => {
                counterpart[position] = Some(item);
                slots.push(Slot::Shared(position));
            }
            None => slots.push(Slot::LiveOnly(item)),
        }
    }
    let mut merged = Vec::with_capacity(slots.len() + config.len());
    let mut next = 0;
    let mut emit_through = |last: usize, merged: &mut Vec<Value>| {
        while next <= last && next < config.len() {
            let item = match counterpart[next].take() {
                Some(mut item) => {
                    apply_value(&mut item, &config[next], scope, ListType::Atomic);
                    item
                }
                None => config[next].clone(),
            };
            merged.push(item);
            next += 1;
        }
    };
    for slot in slots {
        match slot {
            Slot::LiveOnly(item) => merged.push(item),
            Slot::Shared(position) => emit_through(position, &mut merged),
        }
    }
    emit_through(usize::MAX, &mut merged);
    merged
}

/// Removes the `doomed` fields from `value`, except where someone in `kept` still owns the
/// field or something below it. Maps emptied by the pruning go too, as the API server's
/// `omitempty` encoding would drop them.
fn prune(
    value: &mut Value,
    doomed: &FieldSet,
    kept: Option<&FieldSet>,
    scope: Scope,
    list: ListType,
) {
    match value {
        Value::Object(map) => prune_map(map, doomed, kept, scope),
        Value::Array(items) => prune_list(items, doomed, kept, scope, list),
        _ => {}
    }
}

fn prune_map(
    map: &mut Map<String, Value>,
    doomed: &FieldSet,
    kept: Option<&FieldSet>,
    scope: Scope,
) {
    for (element, sub) in &doomed.children {
        let Some(name) = element.strip_prefix("f:") else {
            continue;
        };
        let keep = kept.and_then(|k| k.child(element));
        if sub.member && keep.is_none() {
            map.remove(name);
            continue;
        }
        let Some(child) = map.get_mut(name) else {
            continue;
        };
        let was_empty = child.as_object().is_some_and(Map::is_empty);
        let (child_scope, child_list) = apply_field(scope, name);
        prune(child, sub, keep, child_scope, child_list);
        let emptied = !was_empty && child.as_object().is_some_and(Map::is_empty);
        if emptied && keep.is_none_or(|k| !k.member) {
            map.remove(name);
        }
    }
}

fn prune_list(
    items: &mut Vec<Value>,
    doomed: &FieldSet,
    kept: Option<&FieldSet>,
    scope: Scope,
    list: ListType,
) {
    let key_fields: &[KeyField] = match list {
        ListType::Atomic => return,
        ListType::Set => &[],
        ListType::Map { keys, .. } => keys,
    };
    let mut elements = items
        .iter()
        .map(|item| match list {
            ListType::Set => Some(value_element(item)),
            _ => key_element(item, key_fields),
        })
        .collect::<Vec<_>>()
        .into_iter();
    items.retain_mut(|item| {
        let element = elements.next().flatten();
        let Some((element, sub)) = element
            .as_deref()
            .and_then(|e| doomed.child(e).map(|s| (e, s)))
        else {
            return true;
        };
        let keep = kept.and_then(|k| k.child(element));
        if sub.member && keep.is_none() {
            return false;
        }
        if !sub.children.is_empty() {
            // The item stays, so its key fields must stay with it.
            let mut sub = sub.clone();
            for key in key_fields {
                sub.children.remove(&field_element(key.name));
            }
            prune(item, &sub, keep, scope, ListType::Atomic);
        }
        true
    });
}

// ---------------------------------------------------------------------------------------
// managedFields entries.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct ManagedEntry {
    manager: String,
    operation: String,
    api_version: String,
    time: Option<String>,
    subresource: Option<String>,
    fields: FieldSet,
}

impl ManagedEntry {
    fn from_wire(raw: &Value) -> Self {
        let text = |name: &str| raw.get(name).and_then(Value::as_str).map(str::to_owned);
        ManagedEntry {
            manager: text("manager").unwrap_or_default(),
            operation: text("operation").unwrap_or_else(|| UPDATE.to_owned()),
            api_version: text("apiVersion").unwrap_or_default(),
            time: text("time"),
            subresource: text("subresource"),
            fields: raw
                .get("fieldsV1")
                .map(FieldSet::from_wire)
                .unwrap_or_default(),
        }
    }

    fn to_wire(&self) -> Value {
        let mut wire = Map::new();
        wire.insert(
            "apiVersion".to_owned(),
            Value::from(self.api_version.as_str()),
        );
        wire.insert("fieldsType".to_owned(), Value::from("FieldsV1"));
        wire.insert("fieldsV1".to_owned(), self.fields.to_wire());
        wire.insert("manager".to_owned(), Value::from(self.manager.as_str()));
        wire.insert("operation".to_owned(), Value::from(self.operation.as_str()));
        if let Some(subresource) = &self.subresource {
            wire.insert("subresource".to_owned(), Value::from(subresource.as_str()));
        }
        if let Some(time) = &self.time {
            wire.insert("time".to_owned(), Value::from(time.as_str()));
        }
        Value::Object(wire)
    }

    fn is(&self, manager: &str, operation: &str) -> bool {
        self.manager == manager && self.operation == operation
    }

    fn seconds(&self) -> i64 {
        self.time
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map_or(0, jiff::Timestamp::as_second)
    }
}

/// The object's managedFields, one entry per (manager, operation).
fn read_entries(object: &Value) -> Vec<ManagedEntry> {
    let Some(Value::Array(raw)) = object.pointer("/metadata/managedFields") else {
        return Vec::new();
    };
    let mut entries: Vec<ManagedEntry> = Vec::with_capacity(raw.len());
    for entry in raw.iter().map(ManagedEntry::from_wire) {
        match entries
            .iter_mut()
            .find(|e| e.is(&entry.manager, &entry.operation))
        {
            Some(same) => same.fields.union_with(&entry.fields),
            None => entries.push(entry),
        }
    }
    entries
}

fn take_entry(
    entries: &mut Vec<ManagedEntry>,
    manager: &str,
    operation: &str,
) -> Option<ManagedEntry> {
    let index = entries.iter().position(|e| e.is(manager, operation))?;
    Some(entries.remove(index))
}

/// Writes entries back in the API server's order (Apply before Update, then oldest first),
/// dropping managers that own nothing.
fn write_entries(object: &mut Value, mut entries: Vec<ManagedEntry>) {
    entries.retain(|e| !e.fields.is_empty());
    entries.sort_by(|a, b| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| a.seconds().cmp(&b.seconds()))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    let Value::Object(root) = object else {
        return;
    };
    if entries.is_empty() {
        if let Some(Value::Object(meta)) = root.get_mut("metadata") {
            meta.remove("managedFields");
        }
        return;
    }
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        let wire = entries.iter().map(ManagedEntry::to_wire).collect();
        meta.insert("managedFields".to_owned(), Value::Array(wire));
    }
}

/// An update that leaves managedFields out keeps the stored ones, as the API server does.
fn carry_over_managed_fields(old: Option<&Value>, new: &mut Value) {
    let Some(previous) = old.and_then(|o| o.pointer("/metadata/managedFields")) else {
        return;
    };
    if let Some(Value::Object(meta)) = new.get_mut("metadata")
        && meta.get("managedFields").is_none_or(Value::is_null)
    {
        meta.insert("managedFields".to_owned(), previous.clone());
    }
}

/// What a create is compared against: the empty object of the kind as the API server
/// encodes it. Built-in kinds have `metadata`, `spec` and `status` as structs and a pod
/// spec's `containers` as a non-omitempty list, so creating them marks no ownership of those
/// paths themselves; custom resources only have `metadata` so.
fn creation_baseline(new: &Value, scope: Scope) -> Value {
    let pod_spec = || serde_json::json!({"containers": null});
    let empty = || Value::Object(Map::new());
    let spec = match scope {
        Scope::Root(Family::Plain) => None,
        Scope::Root(Family::Pod) => Some(pod_spec()),
        Scope::Root(Family::Workload) => {
            Some(serde_json::json!({"template": {"metadata": {}, "spec": pod_spec()}}))
        }
        _ => Some(empty()),
    };
    let status = spec.as_ref().map(|_| empty());
    let mut baseline = Map::new();
    for (name, value) in [
        ("metadata", Some(empty())),
        ("spec", spec),
        ("status", status),
    ] {
        if let Some(value) = value
            && new.get(name).is_some_and(Value::is_object)
        {
            baseline.insert(name.to_owned(), value);
        }
    }
    Value::Object(baseline)
}

fn string_at<'a>(object: &'a Value, name: &str) -> &'a str {
    object.get(name).and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const T1: &str = "2025-03-01T10:00:00Z";
    const T2: &str = "2025-03-01T10:05:00Z";
    const T3: &str = "2025-03-01T10:09:00Z";

    fn apply(
        live: Option<&Value>,
        applied: &Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, PatchError> {
        server_side_apply(live, applied, manager, force, "Deployment", true, T1)
    }

    fn deployment_config(replicas: u32, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "web", "image": image}]}}
            }
        })
    }

    fn managed(object: &Value) -> &Value {
        &object["metadata"]["managedFields"]
    }

    fn without_managed_fields(object: &Value) -> Value {
        let mut copy = object.clone();
        copy["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        copy
    }

    fn owners(object: &Value) -> Vec<(String, String)> {
        managed(object)
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        (
                            e["manager"].as_str().unwrap().to_owned(),
                            e["operation"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn fields_of_manager<'a>(object: &'a Value, manager: &str) -> &'a Value {
        managed(object)
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["manager"] == manager)
            .map(|e| &e["fieldsV1"])
            .unwrap()
    }

    #[test]
    fn apply_creates_the_object_with_managed_fields() {
        let created = apply(None, &deployment_config(2, "web:1"), "kubectl", false).unwrap();
        let mut expected = deployment_config(2, "web:1");
        expected["metadata"]["managedFields"] = json!([{
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}
                    }}}
                }
            }
        }]);
        assert_eq!(created, expected);
    }

    #[test]
    fn reapplying_the_same_config_only_moves_the_time() {
        let created = apply(None, &deployment_config(2, "web:1"), "kubectl", false).unwrap();
        let again = server_side_apply(
            Some(&created),
            &deployment_config(2, "web:1"),
            "kubectl",
            false,
            "Deployment",
            true,
            T2,
        )
        .unwrap();
        let mut expected = created.clone();
        expected["metadata"]["managedFields"][0]["time"] = json!(T2);
        assert_eq!(again, expected);
    }

    #[test]
    fn apply_ignores_system_metadata_and_nulls() {
        let mut config = deployment_config(2, "web:1");
        config["metadata"]["resourceVersion"] = json!("42");
        config["metadata"]["uid"] = json!("u");
        config["metadata"]["managedFields"] = json!([{"manager": "forged", "operation": "Apply"}]);
        config["spec"]["paused"] = Value::Null;
        let created = apply(None, &config, "kubectl", false).unwrap();
        assert_eq!(
            created,
            apply(None, &deployment_config(2, "web:1"), "kubectl", false).unwrap()
        );
    }

    #[test]
    fn fields_dropped_from_the_config_are_removed() {
        let created = apply(None, &deployment_config(2, "web:1"), "kubectl", false).unwrap();
        let mut config = deployment_config(2, "web:1");
        config["spec"].as_object_mut().unwrap().remove("replicas");
        config["metadata"].as_object_mut().unwrap().remove("labels");
        let applied = apply(Some(&created), &config, "kubectl", false).unwrap();
        assert_eq!(
            without_managed_fields(&applied),
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {"spec": {"containers": [{"name": "web", "image": "web:1"}]}}
                }
            })
        );
        assert_eq!(
            fields_of_manager(&applied, "kubectl"),
            &json!({"f:spec": {
                "f:selector": {},
                "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}
                }}}
            }})
        );
    }

    #[test]
    fn a_container_dropped_from_the_config_is_removed() {
        let mut config = deployment_config(1, "web:1");
        config["spec"]["template"]["spec"]["containers"] =
            json!([{"name": "web", "image": "web:1"}, {"name": "side", "image": "side:1"}]);
        let created = apply(None, &config, "kubectl", false).unwrap();
        let applied = apply(
            Some(&created),
            &deployment_config(1, "web:1"),
            "kubectl",
            false,
        )
        .unwrap();
        assert_eq!(
            applied["spec"]["template"]["spec"]["containers"],
            json!([{"name": "web", "image": "web:1"}])
        );
    }

    #[test]
    fn an_item_someone_else_owns_part_of_survives_with_its_key() {
        let mut config = deployment_config(1, "web:1");
        config["spec"]["template"]["spec"]["containers"] =
            json!([{"name": "web", "image": "web:1"}, {"name": "side", "image": "side:1"}]);
        let created = apply(None, &config, "kubectl", false).unwrap();
        let mut edited = created.clone();
        edited["spec"]["template"]["spec"]["containers"][1]["image"] = json!("side:2");
        record_update(
            Some(&created),
            &mut edited,
            "tool",
            "Deployment",
            true,
            "apps/v1",
            T2,
        );
        let applied = apply(
            Some(&edited),
            &deployment_config(1, "web:1"),
            "kubectl",
            false,
        )
        .unwrap();
        assert_eq!(
            applied["spec"]["template"]["spec"]["containers"],
            json!([{"name": "web", "image": "web:1"}, {"name": "side", "image": "side:2"}])
        );
        assert_eq!(
            fields_of_manager(&applied, "tool"),
            &json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"side\"}": {"f:image": {}}
            }}}}})
        );
    }

    #[test]
    fn conflicting_apply_is_refused_then_forced() {
        let created = apply(None, &deployment_config(2, "web:1"), "alice", false).unwrap();
        let err = apply(Some(&created), &deployment_config(3, "web:2"), "bob", false).unwrap_err();
        assert_eq!(
            err,
            PatchError::Conflicts(vec![
                ("\"alice\"".to_owned(), ".spec.replicas".to_owned()),
                (
                    "\"alice\"".to_owned(),
                    ".spec.template.spec.containers[name=\"web\"].image".to_owned()
                ),
            ])
        );
        assert_eq!(err.to_string(), "Apply failed with 2 conflicts");

        let forced = apply(Some(&created), &deployment_config(3, "web:2"), "bob", true).unwrap();
        assert_eq!(forced["spec"]["replicas"], json!(3));
        assert_eq!(
            forced["spec"]["template"]["spec"]["containers"][0]["image"],
            json!("web:2")
        );
        assert_eq!(
            fields_of_manager(&forced, "alice"),
            &json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:selector": {},
                    "f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"web\"}": {".": {}, "f:name": {}}
                    }}}
                }
            })
        );
        assert_eq!(
            fields_of_manager(&forced, "bob"),
            fields_of_manager(&created, "alice")
        );
    }

    #[test]
    fn agreeing_appliers_share_a_field_and_it_outlives_one_of_them() {
        let created = apply(None, &deployment_config(2, "web:1"), "alice", false).unwrap();
        let shared = apply(Some(&created), &deployment_config(2, "web:1"), "bob", false).unwrap();
        assert_eq!(
            owners(&shared),
            [
                ("alice".to_owned(), "Apply".to_owned()),
                ("bob".to_owned(), "Apply".to_owned())
            ]
        );
        let mut config = deployment_config(2, "web:1");
        config["spec"].as_object_mut().unwrap().remove("replicas");
        let dropped = apply(Some(&shared), &config, "alice", false).unwrap();
        assert_eq!(dropped["spec"]["replicas"], json!(2));
        assert!(
            fields_of_manager(&dropped, "alice")["f:spec"]
                .get("f:replicas")
                .is_none()
        );
        assert_eq!(
            fields_of_manager(&dropped, "bob")["f:spec"]["f:replicas"],
            json!({})
        );
    }

    #[test]
    fn an_update_takes_ownership_and_the_next_apply_conflicts() {
        let created = apply(None, &deployment_config(2, "web:1"), "kubectl", false).unwrap();
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(
            Some(&created),
            &mut scaled,
            "hpa",
            "Deployment",
            true,
            "apps/v1",
            T2,
        );
        assert_eq!(
            managed(&scaled)[1],
            json!({
                "manager": "hpa", "operation": "Update", "apiVersion": "apps/v1", "time": T2,
                "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}
            })
        );
        assert!(
            fields_of_manager(&scaled, "kubectl")["f:spec"]
                .get("f:replicas")
                .is_none()
        );

        let err = apply(
            Some(&scaled),
            &deployment_config(2, "web:1"),
            "kubectl",
            false,
        )
        .unwrap_err();
        assert_eq!(
            err,
            PatchError::Conflicts(vec![(
                "\"hpa\" using apps/v1".to_owned(),
                ".spec.replicas".to_owned()
            )])
        );

        let forced = apply(
            Some(&scaled),
            &deployment_config(2, "web:1"),
            "kubectl",
            true,
        )
        .unwrap();
        assert_eq!(forced["spec"]["replicas"], json!(2));
        assert_eq!(
            owners(&forced),
            [("kubectl".to_owned(), "Apply".to_owned())]
        );
        assert_eq!(
            fields_of_manager(&forced, "kubectl"),
            fields_of_manager(&created, "kubectl")
        );
    }

    #[test]
    fn record_update_on_create_marks_new_maps() {
        let mut created = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "d", "labels": {"x": "1"}},
            "data": {"k": "v"}
        });
        record_update(
            None,
            &mut created,
            "kubectl-create",
            "ConfigMap",
            true,
            "v1",
            T1,
        );
        assert_eq!(
            managed(&created),
            &json!([{
                "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1", "time": T1,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:x": {}}}}
            }])
        );
    }

    #[test]
    fn record_update_on_a_pod_create_owns_containers_by_name() {
        let mut pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "d"},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}],
                     "tolerations": [{"operator": "Exists"}]}
        });
        record_update(None, &mut pod, "kubelet", "Pod", true, "v1", T1);
        assert_eq!(
            managed(&pod)[0]["fieldsV1"],
            json!({"f:spec": {
                "f:containers": {"k:{\"name\":\"c\"}": {
                    ".": {}, "f:image": {}, "f:name": {},
                    "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                }},
                "f:tolerations": {}
            }})
        );
    }

    #[test]
    fn record_update_on_a_deployment_create_matches_the_api_server_shape() {
        let mut deployment = deployment_config(2, "web:1");
        deployment["spec"]["template"]["metadata"] = json!({"labels": {"app": "web"}});
        deployment["metadata"]["ownerReferences"] =
            json!([{"uid": "u1", "kind": "X", "name": "x", "apiVersion": "v1"}]);
        record_update(
            None,
            &mut deployment,
            "kubectl-create",
            "Deployment",
            true,
            "apps/v1",
            T1,
        );
        assert_eq!(
            managed(&deployment)[0]["fieldsV1"],
            json!({
                "f:metadata": {
                    "f:labels": {".": {}, "f:app": {}},
                    "f:ownerReferences": {".": {}, "k:{\"uid\":\"u1\"}": {}}
                },
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}
                    }
                }
            })
        );
    }

    #[test]
    fn atomic_selectors_and_taints_conflict_as_a_whole() {
        let node = json!({
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "spec": {"taints": [{"key": "os", "value": "windows", "effect": "NoSchedule"}]}
        });
        let created = server_side_apply(None, &node, "pool", false, "Node", true, T1).unwrap();
        assert_eq!(
            fields_of_manager(&created, "pool"),
            &json!({"f:spec": {"f:taints": {}}})
        );
        let mut retainted = node.clone();
        retainted["spec"]["taints"] = json!([]);
        let err = server_side_apply(Some(&created), &retainted, "other", false, "Node", true, T2)
            .unwrap_err();
        assert_eq!(
            err,
            PatchError::Conflicts(vec![("\"pool\"".to_owned(), ".spec.taints".to_owned())])
        );

        let created = apply(None, &deployment_config(1, "i"), "alice", false).unwrap();
        let mut reselected = deployment_config(1, "i");
        reselected["spec"]["selector"] = json!({"matchLabels": {"app": "web", "tier": "x"}});
        let err = apply(Some(&created), &reselected, "bob", false).unwrap_err();
        assert_eq!(
            err,
            PatchError::Conflicts(vec![("\"alice\"".to_owned(), ".spec.selector".to_owned())])
        );
    }

    #[test]
    fn first_apply_to_an_unmanaged_object_conflicts_with_what_is_there() {
        let node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1", "labels": {"pool": "a", "os": "linux"}},
            "spec": {"podCIDR": "10.0.0.0/24"}
        });
        let relabel = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"pool": "b"}}});
        let err = server_side_apply(Some(&node), &relabel, "pooltop", false, "Node", true, T1)
            .unwrap_err();
        assert_eq!(
            err,
            PatchError::Conflicts(vec![(
                "\"before-first-apply\" using v1".to_owned(),
                ".metadata.labels.pool".to_owned()
            )])
        );
        let forced =
            server_side_apply(Some(&node), &relabel, "pooltop", true, "Node", true, T1).unwrap();
        assert_eq!(
            forced["metadata"]["labels"],
            json!({"pool": "b", "os": "linux"})
        );
        assert_eq!(
            fields_of_manager(&forced, "before-first-apply"),
            &json!({"f:metadata": {"f:labels": {".": {}, "f:os": {}}}, "f:spec": {"f:podCIDR": {}}})
        );
        let same = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"pool": "a"}}});
        let shared =
            server_side_apply(Some(&node), &same, "pooltop", false, "Node", true, T1).unwrap();
        assert_eq!(shared["metadata"]["labels"], node["metadata"]["labels"]);
    }

    #[test]
    fn record_update_without_changes_touches_nothing() {
        let created = apply(None, &deployment_config(2, "web:1"), "kubectl", false).unwrap();
        let mut same = created.clone();
        same["metadata"]["resourceVersion"] = json!("99");
        let expected = same.clone();
        record_update(
            Some(&created),
            &mut same,
            "other",
            "Deployment",
            true,
            "apps/v1",
            T3,
        );
        assert_eq!(same, expected);
    }

    #[test]
    fn record_update_with_an_empty_manager_is_skipped() {
        let old = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        let mut new = json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}});
        record_update(Some(&old), &mut new, "", "ConfigMap", true, "v1", T1);
        assert_eq!(
            new,
            json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}})
        );
    }

    #[test]
    fn removed_fields_leave_every_manager_and_empty_managers_go() {
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}}});
        let created =
            server_side_apply(None, &config, "alice", false, "ConfigMap", true, T1).unwrap();
        let mut edited = created.clone();
        edited["metadata"].as_object_mut().unwrap().remove("labels");
        edited["data"] = json!({"k": "v"});
        record_update(
            Some(&created),
            &mut edited,
            "bob",
            "ConfigMap",
            true,
            "v1",
            T2,
        );
        assert_eq!(owners(&edited), [("bob".to_owned(), "Update".to_owned())]);
        assert_eq!(
            fields_of_manager(&edited, "bob"),
            &json!({"f:data": {".": {}, "f:k": {}}})
        );
    }

    #[test]
    fn update_keeps_the_stored_managed_fields_when_the_request_leaves_them_out() {
        let created = apply(None, &deployment_config(2, "web:1"), "kubectl", false).unwrap();
        let mut put = without_managed_fields(&created);
        put["spec"]["paused"] = json!(true);
        record_update(
            Some(&created),
            &mut put,
            "editor",
            "Deployment",
            true,
            "apps/v1",
            T2,
        );
        assert_eq!(
            owners(&put),
            [
                ("kubectl".to_owned(), "Apply".to_owned()),
                ("editor".to_owned(), "Update".to_owned())
            ]
        );
        assert_eq!(
            fields_of_manager(&put, "editor"),
            &json!({"f:spec": {"f:paused": {}}})
        );
    }

    #[test]
    fn entries_are_ordered_apply_first_then_by_time() {
        let created = apply(None, &deployment_config(2, "web:1"), "zed", false).unwrap();
        let mut updated = created.clone();
        updated["spec"]["paused"] = json!(true);
        record_update(
            Some(&created),
            &mut updated,
            "aaa",
            "Deployment",
            true,
            "apps/v1",
            T2,
        );
        let mut config = deployment_config(2, "web:1");
        config["spec"]["minReadySeconds"] = json!(5);
        let both = server_side_apply(
            Some(&updated),
            &config,
            "bee",
            false,
            "Deployment",
            true,
            T3,
        )
        .unwrap();
        assert_eq!(
            owners(&both),
            [
                ("zed".to_owned(), "Apply".to_owned()),
                ("bee".to_owned(), "Apply".to_owned()),
                ("aaa".to_owned(), "Update".to_owned()),
            ]
        );
    }

    #[test]
    fn service_ports_are_keyed_with_the_default_protocol() {
        let config = json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 443, "targetPort": 6443}], "selector": {"app": "x"}}
        });
        let created = server_side_apply(None, &config, "op", false, "Service", true, T1).unwrap();
        assert_eq!(
            fields_of_manager(&created, "op"),
            &json!({"f:spec": {
                "f:ports": {"k:{\"port\":443,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}, "f:targetPort": {}}},
                "f:selector": {}
            }})
        );
        let mut with_protocol = config.clone();
        with_protocol["spec"]["ports"][0]["protocol"] = json!("TCP");
        let merged = server_side_apply(
            Some(&created),
            &with_protocol,
            "op",
            false,
            "Service",
            true,
            T2,
        )
        .unwrap();
        assert_eq!(
            merged["spec"]["ports"],
            json!([{"port": 443, "targetPort": 6443, "protocol": "TCP"}])
        );
    }

    #[test]
    fn custom_resource_lists_are_atomic_and_finalizers_a_set() {
        let config = json!({
            "apiVersion": "projectcalico.org/v3", "kind": "IPPool",
            "metadata": {"name": "p", "finalizers": ["x"]},
            "spec": {"cidr": "10.0.0.0/16", "allowedUses": ["Workload", "Tunnel"]}
        });
        let created = server_side_apply(None, &config, "op", false, "IPPool", false, T1).unwrap();
        assert_eq!(
            fields_of_manager(&created, "op"),
            &json!({
                "f:metadata": {"f:finalizers": {"v:\"x\"": {}}},
                "f:spec": {"f:allowedUses": {}, "f:cidr": {}}
            })
        );
        let mut narrowed = config.clone();
        narrowed["spec"]["allowedUses"] = json!(["Workload"]);
        let applied =
            server_side_apply(Some(&created), &narrowed, "op", false, "IPPool", false, T2).unwrap();
        assert_eq!(applied["spec"]["allowedUses"], json!(["Workload"]));
    }

    #[test]
    fn set_items_of_other_appliers_are_kept() {
        let mine = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "finalizers": ["a"]}});
        let theirs = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "finalizers": ["b"]}});
        let created = server_side_apply(None, &mine, "me", false, "Namespace", true, T1).unwrap();
        let both = server_side_apply(
            Some(&created),
            &theirs,
            "them",
            false,
            "Namespace",
            true,
            T2,
        )
        .unwrap();
        assert_eq!(both["metadata"]["finalizers"], json!(["a", "b"]));
        let none = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}});
        let dropped =
            server_side_apply(Some(&both), &none, "me", false, "Namespace", true, T3).unwrap();
        assert_eq!(dropped["metadata"]["finalizers"], json!(["b"]));
        assert_eq!(owners(&dropped), [("them".to_owned(), "Apply".to_owned())]);
    }

    #[test]
    fn malformed_apply_patches() {
        assert!(matches!(
            apply(None, &json!([]), "m", false),
            Err(PatchError::Malformed(_))
        ));
        assert!(matches!(
            apply(
                None,
                &json!({"kind": "Deployment", "metadata": {"name": "x"}}),
                "m",
                false
            ),
            Err(PatchError::Malformed(_))
        ));
        assert!(matches!(
            apply(None, &deployment_config(1, "i"), "", false),
            Err(PatchError::Malformed(_))
        ));
        let mut unnamed = deployment_config(1, "i");
        unnamed["spec"]["template"]["spec"]["containers"] = json!([{"image": "i"}]);
        assert!(matches!(
            apply(None, &unnamed, "m", false),
            Err(PatchError::Unprocessable(_))
        ));
        let mut twice = deployment_config(1, "i");
        twice["spec"]["template"]["spec"]["containers"] = json!([{"name": "a"}, {"name": "a"}]);
        assert!(matches!(
            apply(None, &twice, "m", false),
            Err(PatchError::Unprocessable(_))
        ));
    }

    #[test]
    fn shared_items_follow_the_config_order_and_new_ones_follow_their_predecessor() {
        let live = vec![
            json!({"name": "a"}),
            json!({"name": "x", "v": 1}),
            json!({"name": "b"}),
        ];
        let config = vec![
            json!({"name": "b", "v": 2}),
            json!({"name": "c"}),
            json!({"name": "a"}),
        ];
        let keys = &[KeyField {
            name: "name",
            default: None,
        }];
        let live_elements = item_elements(&live, keys).unwrap();
        let config_elements = item_elements(&config, keys).unwrap();
        let merged = merge_associative(
            live,
            &live_elements,
            &config,
            &config_elements,
            Scope::Opaque,
        );
        assert_eq!(
            merged,
            vec![
                json!({"name": "b", "v": 2}),
                json!({"name": "c"}),
                json!({"name": "a"}),
                json!({"name": "x", "v": 1})
            ]
        );
    }

    #[test]
    fn field_sets_round_trip_through_the_wire_format() {
        let wire = json!({
            "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}}}, "f:replicas": {}}
        });
        let set = FieldSet::from_wire(&wire);
        assert_eq!(set.to_wire(), wire);
        let mut paths = Vec::new();
        set.paths(&mut String::new(), &mut paths);
        assert_eq!(
            paths,
            [
                ".metadata.labels",
                ".metadata.labels.a",
                ".spec.containers[name=\"c\"]",
                ".spec.containers[name=\"c\"].image",
                ".spec.replicas"
            ]
        );
        assert_eq!(FieldSet::from_wire(&json!({})), FieldSet::default());
    }

    #[test]
    fn conflict_messages_read_like_the_api_server() {
        let one = vec![(
            "\"hpa\" using apps/v1".to_owned(),
            ".spec.replicas".to_owned(),
        )];
        assert_eq!(
            describe_conflicts(&one),
            "Apply failed with 1 conflict: conflict with \"hpa\" using apps/v1: .spec.replicas"
        );
        let three = vec![
            ("\"a\"".to_owned(), ".x".to_owned()),
            ("\"a\"".to_owned(), ".y".to_owned()),
            (
                "\"b\" with subresource \"status\" using v1".to_owned(),
                ".z".to_owned(),
            ),
        ];
        assert_eq!(
            describe_conflicts(&three),
            "Apply failed with 3 conflicts: conflicts with \"a\":\n- .x\n- .y\nconflicts with \"b\" with subresource \"status\" using v1:\n- .z"
        );
    }
}
