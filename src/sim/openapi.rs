//! The `/openapi/v3` documents: the index of group-versions and one OpenAPI
//! 3.0 document per group-version, with a path per resource, collection,
//! item, watch and subresource, each operation carrying
//! `x-kubernetes-group-version-kind` and `x-kubernetes-action` and the query
//! parameters real servers declare. kubectl reads these before `create -f`
//! and `apply --server-side`: it sends `fieldValidation=Strict` only when the
//! object's kind has a `patch` operation declaring `fieldValidation`.
//!
//! It owns the document shapes and naming only; it must not decide which
//! resources exist (the caller passes them) nor cache anything. Built-in
//! kinds get a permissive object schema; custom resources get their CRD
//! schema with `apiVersion`, `kind` and `metadata` added.

use serde_json::{Map, Value, json};

/// One resource of a group-version, as the document needs it.
#[derive(Debug, Clone, Copy)]
pub struct GvResource<'a> {
    /// `""` for the core group.
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    pub plural: &'a str,
    pub namespaced: bool,
    /// Any of `status`, `scale`, `eviction`, `binding`, …
    pub subresources: &'a [&'a str],
    /// A custom resource's `openAPIV3Schema`; `None` for built-in kinds.
    pub schema: Option<&'a Value>,
}

/// The resource a CustomResourceDefinition object serves at `version`.
pub fn gv_resource_from_crd<'a>(crd: &'a Value, version: &str) -> Option<GvResource<'a>> {
    let spec = crd.get("spec")?;
    let served = spec
        .get("versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))?;
    let subresources = served.get("subresources");
    let has = |name: &str| subresources.and_then(|s| s.get(name)).is_some();
    let subresources: &'static [&'static str] = match (has("status"), has("scale")) {
        (true, true) => &["status", "scale"],
        (true, false) => &["status"],
        (false, true) => &["scale"],
        (false, false) => &[],
    };
    Some(GvResource {
        group: spec.get("group")?.as_str()?,
        version: served.get("name")?.as_str()?,
        kind: spec.pointer("/names/kind")?.as_str()?,
        plural: spec.pointer("/names/plural")?.as_str()?,
        namespaced: spec.get("scope").and_then(Value::as_str) == Some("Namespaced"),
        subresources,
        schema: served.pointer("/schema/openAPIV3Schema"),
    })
}

/// The key of a group-version in the index: `api/v1` or `apis/<group>/<version>`.
pub fn group_version_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=<HASH>"}, …}}`.
pub fn index(entries: &[(String, String)]) -> Value {
    let paths: Map<String, Value> = entries
        .iter()
        .map(|(key, hash)| {
            let url = format!("/openapi/v3/{key}?hash={hash}");
            (key.clone(), json!({"serverRelativeURL": url}))
        })
        .collect();
    json!({"paths": paths})
}

/// The per-group-version document (`/openapi/v3/api/v1`, `/openapi/v3/apis/<g>/<v>`).
pub fn group_version_document(group: &str, version: &str, resources: &[GvResource]) -> Value {
    let mut paths = Map::new();
    let mut schemas = meta_schemas();
    for resource in resources {
        let names = Names::new(group, version, resource);
        add_resource_paths(&names, &mut paths);
        schemas.insert(names.schema.clone(), kind_schema(resource));
        schemas.insert(names.list_schema.clone(), list_schema(resource, &names));
        for sub in resource.subresources {
            if let Some(foreign) = foreign_subresource_kind(sub) {
                schemas.insert(
                    schema_name(foreign.group, foreign.version, foreign.kind),
                    builtin_schema(foreign.group, foreign.version, foreign.kind),
                );
            }
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": {"type": "apiKey", "description": "Bearer token authentication", "name": "authorization", "in": "header"}
            }
        },
        "security": [{"BearerToken": []}]
    })
}

/// A stable content hash: FNV-1a (64-bit) over a canonical walk of the
/// document (object keys sorted), as 16 uppercase hex digits.
pub fn document_hash(doc: &Value) -> String {
    let mut hasher = Fnv1a::new();
    hash_value(doc, &mut hasher);
    format!("{:016X}", hasher.0)
}

/// The components name of a kind: `io.k8s.api.core.v1.Node` for built-ins,
/// `<reversed group>.<version>.<Kind>` (e.g. `io.tigera.operator.v1.Installation`) for custom resources.
pub fn schema_name(group: &str, version: &str, kind: &str) -> String {
    format!("{}.{version}.{kind}", schema_package(group))
}

fn is_builtin_group(group: &str) -> bool {
    group.is_empty() || !group.contains('.') || group.ends_with(".k8s.io")
}

fn schema_package(group: &str) -> String {
    match group {
        "" => "io.k8s.api.core".to_owned(),
        "apiextensions.k8s.io" => {
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions".to_owned()
        }
        "apiregistration.k8s.io" => "io.k8s.kube-aggregator.pkg.apis.apiregistration".to_owned(),
        g if is_builtin_group(g) => {
            let short = g.strip_suffix(".k8s.io").unwrap_or(g);
            format!("io.k8s.api.{}", short.split('.').next().unwrap_or(short))
        }
        g => g.split('.').rev().collect::<Vec<_>>().join("."),
    }
}

/// `Core`, `Apps`, `RbacAuthorization`, `OperatorTigeraIo`: the group part of operation ids.
fn operation_group(group: &str) -> String {
    if group.is_empty() {
        return "Core".to_owned();
    }
    let trimmed = if is_builtin_group(group) {
        group.strip_suffix(".k8s.io").unwrap_or(group)
    } else {
        group
    };
    trimmed.split(['.', '-']).map(capitalise).collect()
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn lower_first(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

/// Everything derived from a resource's names, computed once.
struct Names<'a> {
    resource: &'a GvResource<'a>,
    base: String,
    operation_prefix: String,
    scope_infix: &'static str,
    tag: String,
    schema: String,
    list_schema: String,
    builtin: bool,
}

impl<'a> Names<'a> {
    fn new(group: &str, version: &str, resource: &'a GvResource<'a>) -> Self {
        let group_part = operation_group(group);
        Names {
            resource,
            base: format!("/{}", group_version_key(group, version)),
            operation_prefix: format!("{group_part}{}", capitalise(version)),
            scope_infix: if resource.namespaced {
                "Namespaced"
            } else {
                ""
            },
            tag: format!("{}_{version}", lower_first(&group_part)),
            schema: schema_name(resource.group, resource.version, resource.kind),
            list_schema: schema_name(
                resource.group,
                resource.version,
                &format!("{}List", resource.kind),
            ),
            builtin: resource.schema.is_none() && is_builtin_group(resource.group),
        }
    }

    fn scope_path(&self) -> String {
        if self.resource.namespaced {
            format!("namespaces/{{namespace}}/{}", self.resource.plural)
        } else {
            self.resource.plural.to_owned()
        }
    }

    fn id(&self, verb: &str, suffix: &str) -> String {
        format!(
            "{verb}{}{}{}{suffix}",
            self.operation_prefix, self.scope_infix, self.resource.kind
        )
    }

    fn gvk(&self) -> Value {
        gvk(
            self.resource.group,
            self.resource.version,
            self.resource.kind,
        )
    }

    fn media_types(&self) -> &'static [&'static str] {
        if self.builtin {
            &[
                "application/json",
                "application/yaml",
                "application/vnd.kubernetes.protobuf",
            ]
        } else {
            &["application/json", "application/yaml"]
        }
    }

    fn patch_types(&self) -> &'static [&'static str] {
        if self.builtin {
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/apply-patch+yaml",
            ]
        } else {
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
            ]
        }
    }
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "version": version, "kind": kind})
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";

fn meta(name: &str) -> String {
    format!("{META}.{name}")
}

fn add_resource_paths(names: &Names, paths: &mut Map<String, Value>) {
    let scoped = names.scope_path();
    let collection = format!("{}/{scoped}", names.base);
    let item = format!("{collection}/{{name}}");
    let own = Target::own(names);
    let path = |verbs: &[Verb], with_name: bool| path_item(&own, verbs, with_name);
    paths.insert(
        collection.clone(),
        path(&[Verb::List, Verb::Create, Verb::DeleteCollection], false),
    );
    paths.insert(
        item.clone(),
        path(
            &[Verb::Read, Verb::Replace, Verb::Patch, Verb::Delete],
            true,
        ),
    );
    let watch = format!("{}/watch/{scoped}", names.base);
    paths.insert(format!("{watch}/{{name}}"), path(&[Verb::Watch], true));
    paths.insert(watch, path(&[Verb::WatchList], false));
    if names.resource.namespaced {
        let plural = names.resource.plural;
        let cluster_wide = Target {
            all_namespaces: true,
            ..Target::own(names)
        };
        paths.insert(
            format!("{}/{plural}", names.base),
            path_item(&cluster_wide, &[Verb::List], false),
        );
        paths.insert(
            format!("{}/watch/{plural}", names.base),
            path_item(&cluster_wide, &[Verb::WatchList], false),
        );
    }
    for sub in names.resource.subresources {
        paths.insert(format!("{item}/{sub}"), subresource_path_item(names, sub));
    }
}

/// What the operations of one path act on: the resource itself, one of
/// its subresources, or the resource across all namespaces.
#[derive(Clone, Copy)]
struct Target<'n> {
    names: &'n Names<'n>,
    subresource: Option<&'n str>,
    all_namespaces: bool,
}

impl<'n> Target<'n> {
    fn own(names: &'n Names<'n>) -> Self {
        Target {
            names,
            subresource: None,
            all_namespaces: false,
        }
    }

    /// The kind in request and response bodies: the parent's, or e.g.
    /// policy/v1 Eviction for `pods/eviction`.
    fn body_kind(&self) -> (String, Value) {
        match self.subresource.and_then(foreign_subresource_kind) {
            Some(foreign) => (
                schema_name(foreign.group, foreign.version, foreign.kind),
                gvk(foreign.group, foreign.version, foreign.kind),
            ),
            None => (self.names.schema.clone(), self.names.gvk()),
        }
    }

    fn operation_id(&self, verb: Verb) -> String {
        let names = self.names;
        let (prefix, kind) = (&names.operation_prefix, names.resource.kind);
        let sub = self.subresource.map(capitalise).unwrap_or_default();
        if self.all_namespaces {
            let list = if verb == Verb::WatchList { "List" } else { "" };
            return format!("{}{prefix}{kind}{list}ForAllNamespaces", verb.id_word());
        }
        let scope = names.scope_infix;
        match verb {
            Verb::DeleteCollection => format!("delete{prefix}Collection{scope}{kind}"),
            Verb::WatchList => format!("watch{prefix}{scope}{kind}List"),
            _ => format!("{}{prefix}{scope}{kind}{sub}", verb.id_word()),
        }
    }

    fn description(&self, verb: Verb) -> String {
        let kind = self.names.resource.kind;
        let what = match self.subresource {
            Some(sub) => format!("{sub} of the specified {kind}"),
            None => format!("the specified {kind}"),
        };
        match verb {
            Verb::List => format!("list or watch objects of kind {kind}"),
            Verb::WatchList => format!("watch individual changes to a list of {kind}"),
            Verb::Watch => format!("watch changes to an object of kind {kind}"),
            Verb::DeleteCollection => format!("delete collection of {kind}"),
            Verb::Create => format!(
                "create {}",
                self.subresource
                    .map_or_else(|| format!("a {kind}"), |_| what)
            ),
            Verb::Read => format!("read {what}"),
            Verb::Replace => format!("replace {what}"),
            Verb::Patch => format!("partially update {what}"),
            Verb::Delete => format!("delete {what}"),
        }
    }
}

/// The verbs a path can carry, each with its HTTP method, the
/// `x-kubernetes-action` and the shape of its parameters, body and responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    List,
    WatchList,
    Watch,
    Create,
    DeleteCollection,
    Read,
    Replace,
    Patch,
    Delete,
}

impl Verb {
    fn method(self) -> &'static str {
        match self {
            Verb::List | Verb::WatchList | Verb::Watch | Verb::Read => "get",
            Verb::Create => "post",
            Verb::Replace => "put",
            Verb::Patch => "patch",
            Verb::Delete | Verb::DeleteCollection => "delete",
        }
    }

    fn action(self) -> &'static str {
        match self {
            Verb::List => "list",
            Verb::WatchList => "watchlist",
            Verb::Watch => "watch",
            Verb::Create => "post",
            Verb::DeleteCollection => "deletecollection",
            Verb::Read => "get",
            Verb::Replace => "put",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }

    fn id_word(self) -> &'static str {
        match self {
            Verb::List => "list",
            Verb::WatchList | Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Read => "read",
            Verb::Replace => "replace",
            Verb::Patch => "patch",
            Verb::Delete | Verb::DeleteCollection => "delete",
        }
    }

    fn parameters(self) -> Value {
        match self {
            Verb::List | Verb::WatchList | Verb::Watch => parameters_of(&LIST),
            Verb::Create | Verb::Replace => write_parameters(false),
            Verb::Patch => write_parameters(true),
            Verb::Delete => delete_parameters(),
            Verb::DeleteCollection => delete_collection_parameters(),
            Verb::Read => json!([]),
        }
    }
}

fn path_item(target: &Target, verbs: &[Verb], with_name: bool) -> Value {
    let mut item = Map::new();
    for verb in verbs {
        item.insert(verb.method().to_owned(), verb_operation(target, *verb));
    }
    let parameters = if target.all_namespaces {
        json!([pretty_parameter()])
    } else {
        path_parameters(target.names, with_name)
    };
    item.insert("parameters".to_owned(), parameters);
    Value::Object(item)
}

fn verb_operation(target: &Target, verb: Verb) -> Value {
    let names = target.names;
    let (body_schema, body_gvk) = target.body_kind();
    let media = names.media_types();
    let mut op = operation(
        names,
        verb.action(),
        &target.operation_id(verb),
        &target.description(verb),
    )
    .kind(body_gvk);
    if verb != Verb::Read {
        op = op.parameters(verb.parameters());
    }
    let status = meta("Status");
    let own = Some(&body_schema);
    match verb {
        Verb::List => op.responds(&[("200", Some(&names.list_schema))], media, true),
        Verb::WatchList | Verb::Watch => {
            op.responds(&[("200", Some(&meta("WatchEvent")))], media, true)
        }
        Verb::Read => op.responds(&[("200", own)], media, false),
        Verb::Create => op.body(&body_schema, &["*/*"], true).responds(
            &[("200", own), ("201", own), ("202", own)],
            media,
            false,
        ),
        Verb::Replace => op.body(&body_schema, &["*/*"], true).responds(
            &[("200", own), ("201", own)],
            media,
            false,
        ),
        Verb::Patch => op.body(&meta("Patch"), names.patch_types(), true).responds(
            &[("200", own), ("201", own)],
            media,
            false,
        ),
        Verb::Delete => op.body(&meta("DeleteOptions"), &["*/*"], false).responds(
            &[("200", Some(&status)), ("202", Some(&status))],
            media,
            false,
        ),
        Verb::DeleteCollection => op.body(&meta("DeleteOptions"), &["*/*"], false).responds(
            &[("200", Some(&status))],
            media,
            false,
        ),
    }
    .build()
}

fn subresource_path_item(names: &Names, sub: &str) -> Value {
    let target = Target {
        subresource: Some(sub),
        ..Target::own(names)
    };
    match sub {
        "eviction" | "binding" => path_item(&target, &[Verb::Create], true),
        "log" | "exec" | "attach" | "portforward" | "proxy" => streaming_path_item(&target, sub),
        _ => path_item(&target, &[Verb::Read, Verb::Replace, Verb::Patch], true),
    }
}

/// Logs and the connect subresources stream bytes rather than objects.
fn streaming_path_item(target: &Target, sub: &str) -> Value {
    let names = target.names;
    let (action, word) = if sub == "log" {
        ("get", "read")
    } else {
        ("connect", "connect")
    };
    let id = names.id(word, &capitalise(sub));
    let description = format!("{sub} of the specified {}", names.resource.kind);
    let op =
        operation(names, action, &id, &description).responds(&[("200", None)], &["*/*"], false);
    json!({"get": op.build(), "parameters": path_parameters(names, true)})
}

fn path_parameters(names: &Names, with_name: bool) -> Value {
    let mut parameters = Vec::new();
    if with_name {
        let description = format!("name of the {}", names.resource.kind);
        parameters.push(path_parameter("name", &description));
    }
    if names.resource.namespaced {
        parameters.push(path_parameter(
            "namespace",
            "object name and auth scope, such as for teams and projects",
        ));
    }
    parameters.push(pretty_parameter());
    Value::Array(parameters)
}

fn pretty_parameter() -> Value {
    query_parameter(
        "pretty",
        "string",
        "If 'true', then the output is pretty printed.",
    )
}

/// A subresource whose body is another kind than its parent's.
struct ForeignKind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
}

fn foreign_subresource_kind(sub: &str) -> Option<ForeignKind> {
    let (group, version, kind) = match sub {
        "scale" => ("autoscaling", "v1", "Scale"),
        "eviction" => ("policy", "v1", "Eviction"),
        "binding" => ("", "v1", "Binding"),
        _ => return None,
    };
    Some(ForeignKind {
        group,
        version,
        kind,
    })
}

/// One operation under construction.
struct Operation {
    value: Map<String, Value>,
}

fn operation(names: &Names, action: &str, id: &str, description: &str) -> Operation {
    let mut value = Map::new();
    value.insert("tags".to_owned(), json!([names.tag]));
    value.insert("description".to_owned(), json!(description));
    value.insert("operationId".to_owned(), json!(id));
    value.insert("x-kubernetes-action".to_owned(), json!(action));
    value.insert("x-kubernetes-group-version-kind".to_owned(), names.gvk());
    Operation { value }
}

impl Operation {
    fn kind(mut self, gvk: Value) -> Self {
        self.value
            .insert("x-kubernetes-group-version-kind".to_owned(), gvk);
        self
    }

    fn parameters(mut self, parameters: Value) -> Self {
        self.value.insert("parameters".to_owned(), parameters);
        self
    }

    fn body(mut self, schema: &str, media_types: &[&str], required: bool) -> Self {
        let content: Map<String, Value> = media_types
            .iter()
            .map(|t| ((*t).to_owned(), json!({"schema": schema_ref(schema)})))
            .collect();
        self.value.insert(
            "requestBody".to_owned(),
            json!({"content": content, "required": required}),
        );
        self
    }

    fn responds(
        mut self,
        codes: &[(&str, Option<&String>)],
        media_types: &[&str],
        streams: bool,
    ) -> Self {
        let mut responses = Map::new();
        for (code, schema) in codes {
            let mut response = json!({"description": status_text(code)});
            if let Some(schema) = schema {
                let mut content = Map::new();
                for media in media_types {
                    content.insert((*media).to_owned(), json!({"schema": schema_ref(schema)}));
                    if streams && *media != "application/yaml" {
                        let stream = format!("{media};stream=watch");
                        content.insert(stream, json!({"schema": schema_ref(schema)}));
                    }
                }
                response["content"] = Value::Object(content);
            }
            responses.insert((*code).to_owned(), response);
        }
        responses.insert("401".to_owned(), json!({"description": "Unauthorized"}));
        self.value
            .insert("responses".to_owned(), Value::Object(responses));
        self
    }

    fn build(self) -> Value {
        Value::Object(self.value)
    }
}

fn status_text(code: &str) -> &'static str {
    match code {
        "201" => "Created",
        "202" => "Accepted",
        _ => "OK",
    }
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "description": description,
        "required": true,
        "schema": {"type": "string", "uniqueItems": true}
    })
}

fn query_parameter(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": kind, "uniqueItems": true}
    })
}

const DRY_RUN: (&str, &str, &str) = (
    "dryRun",
    "string",
    "When present, modifications are not persisted. Valid value: All.",
);
const FIELD_MANAGER: (&str, &str, &str) = (
    "fieldManager",
    "string",
    "A name for the actor making the change, used by field management.",
);
const FIELD_VALIDATION: (&str, &str, &str) = (
    "fieldValidation",
    "string",
    "How to treat unknown or duplicate fields in the body: Ignore, Warn (the default) or Strict.",
);
const FORCE: (&str, &str, &str) = (
    "force",
    "boolean",
    "Apply requests only: take ownership of conflicting fields.",
);
const LIST: [(&str, &str, &str); 10] = [
    (
        "allowWatchBookmarks",
        "boolean",
        "Ask for BOOKMARK events on a watch.",
    ),
    (
        "continue",
        "string",
        "The continue token of the previous page.",
    ),
    ("fieldSelector", "string", "Restrict the list by fields."),
    ("labelSelector", "string", "Restrict the list by labels."),
    ("limit", "integer", "The most items to return in one page."),
    (
        "resourceVersion",
        "string",
        "The resource version to list or watch from.",
    ),
    (
        "resourceVersionMatch",
        "string",
        "How resourceVersion applies to a list.",
    ),
    (
        "sendInitialEvents",
        "boolean",
        "Start a watch with synthetic ADDED events for the current state.",
    ),
    (
        "timeoutSeconds",
        "integer",
        "Close a list or watch call after this many seconds.",
    ),
    ("watch", "boolean", "Watch for changes instead of listing."),
];
const DELETE: [(&str, &str, &str); 4] = [
    (
        "gracePeriodSeconds",
        "integer",
        "Seconds before the object is deleted; 0 deletes immediately.",
    ),
    (
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        "boolean",
        "Delete an object that can no longer be read from storage.",
    ),
    (
        "orphanDependents",
        "boolean",
        "Deprecated: use propagationPolicy.",
    ),
    (
        "propagationPolicy",
        "string",
        "Orphan, Background or Foreground garbage collection.",
    ),
];

fn parameters_of(specs: &[(&str, &str, &str)]) -> Value {
    specs
        .iter()
        .map(|(name, kind, description)| query_parameter(name, kind, description))
        .collect()
}

fn write_parameters(patch: bool) -> Value {
    let mut specs = vec![DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
    if patch {
        specs.push(FORCE);
    }
    parameters_of(&specs)
}

fn delete_parameters() -> Value {
    let mut specs = vec![DRY_RUN];
    specs.extend(DELETE);
    parameters_of(&specs)
}

fn delete_collection_parameters() -> Value {
    let mut specs = vec![DRY_RUN];
    specs.extend(DELETE);
    specs.extend(
        LIST.iter()
            .filter(|(name, _, _)| !matches!(*name, "allowWatchBookmarks" | "watch")),
    );
    specs.sort_by_key(|(name, _, _)| *name);
    parameters_of(&specs)
}

fn meta_schemas() -> Map<String, Value> {
    let entries = [
        ("ObjectMeta", "Standard object metadata."),
        ("ListMeta", "Standard list metadata."),
        (
            "Status",
            "The result of an operation that returns no object.",
        ),
        (
            "Patch",
            "A patch body; its media type says how to apply it.",
        ),
        ("DeleteOptions", "Options for a delete."),
        (
            "WatchEvent",
            "One event of a watch stream: type and object.",
        ),
    ];
    entries
        .iter()
        .map(|(name, description)| {
            (
                format!("{META}.{name}"),
                json!({"type": "object", "description": description}),
            )
        })
        .collect()
}

fn kind_schema(resource: &GvResource) -> Value {
    let Some(crd_schema) = resource.schema else {
        return builtin_schema(resource.group, resource.version, resource.kind);
    };
    let mut schema = crd_schema.clone();
    if !schema.is_object() {
        schema = json!({"type": "object"});
    }
    if !schema.get("properties").is_some_and(Value::is_object) {
        schema["properties"] = json!({});
    }
    schema["properties"]["apiVersion"] = json!({"type": "string", "description": "The versioned schema of this representation of an object."});
    schema["properties"]["kind"] =
        json!({"type": "string", "description": "The REST resource this object represents."});
    schema["properties"]["metadata"] = json!({"allOf": [schema_ref(&format!("{META}.ObjectMeta"))], "description": "Standard object metadata."});
    schema["type"] = json!("object");
    schema["x-kubernetes-group-version-kind"] =
        json!([gvk(resource.group, resource.version, resource.kind)]);
    schema
}

/// Built-in kinds are described permissively: the server, not this
/// document, knows their fields.
fn builtin_schema(group: &str, version: &str, kind: &str) -> Value {
    json!({
        "type": "object",
        "description": format!("{kind} ({}).", if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") }),
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"allOf": [schema_ref(&format!("{META}.ObjectMeta"))], "default": {}}
        },
        "x-kubernetes-group-version-kind": [gvk(group, version, kind)]
    })
}

fn list_schema(resource: &GvResource, names: &Names) -> Value {
    json!({
        "type": "object",
        "description": format!("A list of {}.", resource.kind),
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"allOf": [schema_ref(&format!("{META}.ListMeta"))], "default": {}},
            "items": {"type": "array", "items": schema_ref(&names.schema)}
        },
        "x-kubernetes-group-version-kind": [gvk(resource.group, resource.version, &format!("{}List", resource.kind))]
    })
}

struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Length-prefixed, so that adjacent strings cannot run into each other.
    fn write_str(&mut self, text: &str) {
        self.write(&(text.len() as u64).to_le_bytes());
        self.write(text.as_bytes());
    }
}

fn hash_value(value: &Value, hasher: &mut Fnv1a) {
    match value {
        Value::Null => hasher.write(b"n"),
        Value::Bool(b) => hasher.write(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            hasher.write(b"#");
            hasher.write_str(&n.to_string());
        }
        Value::String(s) => {
            hasher.write(b"s");
            hasher.write_str(s);
        }
        Value::Array(items) => {
            hasher.write(b"[");
            hasher.write(&(items.len() as u64).to_le_bytes());
            for item in items {
                hash_value(item, hasher);
            }
        }
        Value::Object(map) => {
            hasher.write(b"{");
            hasher.write(&(map.len() as u64).to_le_bytes());
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            for key in keys {
                hasher.write_str(key);
                hash_value(&map[key.as_str()], hasher);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::crds::operator_crds;
    use super::*;

    const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

    /// What kubectl's query-parameter verifier accepts before it sends
    /// `fieldValidation=Strict`: some path whose `patch` operation carries
    /// the object's GVK and declares `fieldValidation` in the query.
    fn kubectl_accepts_strict(doc: &Value, group: &str, version: &str, kind: &str) -> bool {
        let wanted = gvk(group, version, kind);
        doc["paths"].as_object().unwrap().values().any(|path| {
            let Some(patch) = path.get("patch") else {
                return false;
            };
            patch["x-kubernetes-group-version-kind"] == wanted
                && patch["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
                })
        })
    }

    fn parameter_names(operation: &Value) -> Vec<&str> {
        operation["parameters"]
            .as_array()
            .map(|ps| ps.iter().map(|p| p["name"].as_str().unwrap()).collect())
            .unwrap_or_default()
    }

    fn core_document() -> Value {
        let node = GvResource {
            group: "",
            version: "v1",
            kind: "Node",
            plural: "nodes",
            namespaced: false,
            subresources: &["status"],
            schema: None,
        };
        let pod = GvResource {
            group: "",
            version: "v1",
            kind: "Pod",
            plural: "pods",
            namespaced: true,
            subresources: &["status", "eviction", "binding", "log"],
            schema: None,
        };
        let namespace = GvResource {
            group: "",
            version: "v1",
            kind: "Namespace",
            plural: "namespaces",
            namespaced: false,
            subresources: &["status"],
            schema: None,
        };
        group_version_document("", "v1", &[node, pod, namespace])
    }

    fn widget_schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}})
    }

    #[test]
    fn core_kinds_have_paths_gvk_and_parameters() {
        let doc = core_document();
        assert_eq!(doc["openapi"], "3.0.0");
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/api/v1/nodes",
            "/api/v1/nodes/{name}",
            "/api/v1/nodes/{name}/status",
            "/api/v1/watch/nodes",
            "/api/v1/namespaces/{namespace}/pods",
            "/api/v1/namespaces/{namespace}/pods/{name}",
            "/api/v1/namespaces/{namespace}/pods/{name}/eviction",
            "/api/v1/pods",
            "/api/v1/namespaces/{name}",
        ] {
            assert!(paths.contains_key(path), "missing {path}");
        }
        let node_patch = &paths["/api/v1/nodes/{name}"]["patch"];
        assert_eq!(
            node_patch["x-kubernetes-group-version-kind"],
            json!({"group": "", "version": "v1", "kind": "Node"})
        );
        assert_eq!(node_patch["x-kubernetes-action"], "patch");
        assert_eq!(node_patch["operationId"], "patchCoreV1Node");
        assert_eq!(
            parameter_names(node_patch),
            vec!["dryRun", "fieldManager", "fieldValidation", "force"]
        );
        assert!(
            node_patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_some()
        );
        let pod_post = &paths["/api/v1/namespaces/{namespace}/pods"]["post"];
        assert_eq!(pod_post["operationId"], "createCoreV1NamespacedPod");
        assert_eq!(
            parameter_names(pod_post),
            vec!["dryRun", "fieldManager", "fieldValidation"]
        );
        let eviction = &paths["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"];
        assert_eq!(
            eviction["x-kubernetes-group-version-kind"],
            json!({"group": "policy", "version": "v1", "kind": "Eviction"})
        );
        assert_eq!(eviction["operationId"], "createCoreV1NamespacedPodEviction");
        let list = &paths["/api/v1/nodes"]["get"];
        assert_eq!(list["x-kubernetes-action"], "list");
        assert!(parameter_names(list).contains(&"watch"));
        assert!(parameter_names(list).contains(&"resourceVersionMatch"));
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["io.k8s.api.core.v1.Node"]["x-kubernetes-group-version-kind"],
            json!([{"group": "", "version": "v1", "kind": "Node"}])
        );
        assert!(schemas.get("io.k8s.api.core.v1.PodList").is_some());
        assert!(schemas.get("io.k8s.api.policy.v1.Eviction").is_some());
        for kind in ["Node", "Pod", "Namespace"] {
            assert!(kubectl_accepts_strict(&doc, "", "v1", kind), "{kind}");
        }
        assert!(!kubectl_accepts_strict(&doc, "", "v1", "Service"));
        assert!(!kubectl_accepts_strict(&doc, "apps", "v1", "Node"));
    }

    #[test]
    fn namespaced_custom_resource() {
        let schema = widget_schema();
        let widget = GvResource {
            group: "example.org",
            version: "v1alpha1",
            kind: "Widget",
            plural: "widgets",
            namespaced: true,
            subresources: &["status", "scale"],
            schema: Some(&schema),
        };
        let doc = group_version_document("example.org", "v1alpha1", &[widget]);
        let paths = &doc["paths"];
        let item = &paths["/apis/example.org/v1alpha1/namespaces/{namespace}/widgets/{name}"];
        assert_eq!(
            item["patch"]["operationId"],
            "patchExampleOrgV1alpha1NamespacedWidget"
        );
        assert!(
            item["patch"]["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_none()
        );
        assert_eq!(
            parameter_names(&item["patch"]),
            vec!["dryRun", "fieldManager", "fieldValidation", "force"]
        );
        let path_level = parameter_names(item);
        assert_eq!(path_level, vec!["name", "namespace", "pretty"]);
        let scale = &paths["/apis/example.org/v1alpha1/namespaces/{namespace}/widgets/{name}/scale"]
            ["patch"];
        assert_eq!(
            scale["x-kubernetes-group-version-kind"],
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"})
        );
        let status = &paths["/apis/example.org/v1alpha1/namespaces/{namespace}/widgets/{name}/status"]
            ["put"];
        assert_eq!(status["x-kubernetes-group-version-kind"]["kind"], "Widget");
        assert_eq!(
            status["operationId"],
            "replaceExampleOrgV1alpha1NamespacedWidgetStatus"
        );
        assert!(paths.get("/apis/example.org/v1alpha1/widgets").is_some());
        let component = &doc["components"]["schemas"]["org.example.v1alpha1.Widget"];
        assert_eq!(
            component["properties"]["spec"]["properties"]["replicas"]["type"],
            "integer"
        );
        assert!(component["properties"]["metadata"]["allOf"].is_array());
        assert!(kubectl_accepts_strict(
            &doc,
            "example.org",
            "v1alpha1",
            "Widget"
        ));
    }

    #[test]
    fn cluster_scoped_custom_resources_from_crds() {
        let crds = operator_crds();
        let resources: Vec<GvResource> = crds
            .iter()
            .map(|c| gv_resource_from_crd(c, "v1").unwrap())
            .collect();
        let installation = resources.iter().find(|r| r.kind == "Installation").unwrap();
        assert!(!installation.namespaced);
        assert_eq!(installation.subresources, &["status"]);
        assert_eq!(
            resources
                .iter()
                .find(|r| r.kind == "ImageSet")
                .unwrap()
                .subresources
                .len(),
            0
        );
        let doc = group_version_document("operator.tigera.io", "v1", &resources);
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.contains_key("/apis/operator.tigera.io/v1/installations/{name}"));
        assert!(paths.contains_key("/apis/operator.tigera.io/v1/installations/{name}/status"));
        assert!(!paths.keys().any(|p| p.contains("{namespace}")));
        let post = &paths["/apis/operator.tigera.io/v1/installations"]["post"];
        assert_eq!(post["operationId"], "createOperatorTigeraIoV1Installation");
        assert_eq!(post["tags"], json!(["operatorTigeraIo_v1"]));
        let component = &doc["components"]["schemas"]["io.tigera.operator.v1.Installation"];
        assert_eq!(
            component["x-kubernetes-group-version-kind"],
            json!([{"group": "operator.tigera.io", "version": "v1", "kind": "Installation"}])
        );
        assert_eq!(
            component["properties"]["spec"]["properties"]["calicoNetwork"]["properties"]["windowsDataplane"]
                ["enum"],
            json!(["HNS", "Disabled"])
        );
        assert_eq!(component["properties"]["kind"]["type"], "string");
        for kind in [
            "Installation",
            "APIServer",
            "TigeraStatus",
            "ImageSet",
            "Goldmane",
            "Whisker",
        ] {
            assert!(
                kubectl_accepts_strict(&doc, "operator.tigera.io", "v1", kind),
                "{kind}"
            );
        }
        assert!(gv_resource_from_crd(&crds[0], "v2").is_none());
    }

    #[test]
    fn every_operation_names_its_kind_and_action() {
        let doc = core_document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    assert!(op["x-kubernetes-action"].is_string(), "{method} {path}");
                    assert!(
                        op["x-kubernetes-group-version-kind"]["kind"].is_string(),
                        "{method} {path}"
                    );
                    assert!(op["operationId"].is_string(), "{method} {path}");
                    if matches!(method, "post" | "put" | "patch") {
                        let names = parameter_names(op);
                        for required in ["dryRun", "fieldManager", "fieldValidation"] {
                            assert!(
                                names.contains(&required),
                                "{method} {path} lacks {required}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_schema_reference_resolves() {
        let schema = widget_schema();
        let widget = GvResource {
            group: "example.org",
            version: "v1",
            kind: "Widget",
            plural: "widgets",
            namespaced: true,
            subresources: &["scale"],
            schema: Some(&schema),
        };
        for doc in [
            core_document(),
            group_version_document("example.org", "v1", &[widget]),
        ] {
            let schemas = doc["components"]["schemas"].as_object().unwrap();
            let mut refs = Vec::new();
            collect_refs(&doc, &mut refs);
            assert!(!refs.is_empty());
            for reference in refs {
                let name = reference.strip_prefix("#/components/schemas/").unwrap();
                assert!(schemas.contains_key(name), "dangling {reference}");
            }
        }
    }

    fn collect_refs(value: &Value, refs: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    refs.push(r.clone());
                }
                map.values().for_each(|v| collect_refs(v, refs));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
            _ => {}
        }
    }

    #[test]
    fn schema_names_follow_the_server() {
        assert_eq!(schema_name("", "v1", "Node"), "io.k8s.api.core.v1.Node");
        assert_eq!(
            schema_name("apps", "v1", "DaemonSet"),
            "io.k8s.api.apps.v1.DaemonSet"
        );
        assert_eq!(
            schema_name("rbac.authorization.k8s.io", "v1", "Role"),
            "io.k8s.api.rbac.v1.Role"
        );
        assert_eq!(
            schema_name("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
        );
        assert_eq!(
            schema_name("operator.tigera.io", "v1", "Installation"),
            "io.tigera.operator.v1.Installation"
        );
        assert_eq!(
            schema_name("crd.projectcalico.org", "v1", "IPAMBlock"),
            "org.projectcalico.crd.v1.IPAMBlock"
        );
        assert_eq!(
            operation_group("crd.projectcalico.org"),
            "CrdProjectcalicoOrg"
        );
        assert_eq!(
            operation_group("rbac.authorization.k8s.io"),
            "RbacAuthorization"
        );
    }

    #[test]
    fn index_lists_server_relative_urls() {
        let entries = vec![
            (group_version_key("", "v1"), "AB12".to_owned()),
            (
                group_version_key("operator.tigera.io", "v1"),
                "CD34".to_owned(),
            ),
        ];
        assert_eq!(
            index(&entries),
            json!({"paths": {
                "api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=AB12"},
                "apis/operator.tigera.io/v1": {"serverRelativeURL": "/openapi/v3/apis/operator.tigera.io/v1?hash=CD34"}
            }})
        );
        assert_eq!(index(&[]), json!({"paths": {}}));
    }

    #[test]
    fn fnv1a_matches_the_published_vectors() {
        for (input, expected) in [
            ("", 0xcbf2_9ce4_8422_2325_u64),
            ("a", 0xaf63_dc4c_8601_ec8c),
            ("foobar", 0x8594_4171_f739_67e8),
        ] {
            let mut hasher = Fnv1a::new();
            hasher.write(input.as_bytes());
            assert_eq!(hasher.0, expected, "{input}");
        }
    }

    #[test]
    fn document_hash_is_stable_and_content_sensitive() {
        let first = document_hash(&core_document());
        assert_eq!(first, document_hash(&core_document()));
        assert_eq!(first.len(), 16);
        assert!(
            first
                .chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
        );
        let mut changed = core_document();
        changed["info"]["version"] = json!("other");
        assert_ne!(first, document_hash(&changed));
        // Key order does not matter; value placement does.
        assert_eq!(
            document_hash(&json!({"a": 1, "b": [1, 2]})),
            document_hash(&json!({"b": [1, 2], "a": 1}))
        );
        assert_ne!(
            document_hash(&json!({"a": "bc"})),
            document_hash(&json!({"ab": "c"}))
        );
        assert_ne!(
            document_hash(&json!([[1], 2])),
            document_hash(&json!([1, [2]]))
        );
    }
}
