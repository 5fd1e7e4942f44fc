//! Server-side printing: the `meta.k8s.io/v1` Table documents the simulator returns when a client
//! asks for `application/json;as=Table;v=v1;g=meta.k8s.io`, with the columns and cell text a
//! kube-apiserver 1.32 produces for the builtin kinds pooltop serves, and the CRD
//! `additionalPrinterColumns` rules for custom resources. Like the real server it always emits the
//! wide (priority 1) columns; kubectl hides them unless `-o wide`. It is pure: it reads objects
//! and a clock value handed in, and must not touch storage, HTTP, watches or `Accept` parsing.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::jsonpath::{JsonPath, at};
use super::selector::LabelSelector;

/// One column definition of a Table. `kind` is the column's `type` ("string", "integer", "date"…);
/// `format` is "name" for the column holding the object name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: Cow<'static, str>,
    pub kind: Cow<'static, str>,
    pub format: Cow<'static, str>,
    pub description: Cow<'static, str>,
    pub priority: i32,
}

impl Column {
    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

const fn col(
    name: &'static str,
    kind: &'static str,
    priority: i32,
    description: &'static str,
) -> Column {
    Column {
        name: Cow::Borrowed(name),
        kind: Cow::Borrowed(kind),
        format: Cow::Borrowed(""),
        description: Cow::Borrowed(description),
        priority,
    }
}

const fn name_col(priority: i32) -> Column {
    Column {
        name: Cow::Borrowed("Name"),
        kind: Cow::Borrowed("string"),
        format: Cow::Borrowed("name"),
        description: Cow::Borrowed(NAME_DOC),
        priority,
    }
}

const NAME_DOC: &str = "Name is unique within a namespace (or the cluster, for cluster-scoped kinds) and identifies the object.";
const AGE_DOC: &str = "Time since the server created the object (metadata.creationTimestamp).";
const CONTAINERS_DOC: &str = "Names of the containers in the pod template.";
const IMAGES_DOC: &str = "Images of the containers in the pod template.";
const SELECTOR_DOC: &str = "Label selector of the pods this object manages.";

const NAME: Column = name_col(0);
const AGE: Column = col("Age", "string", 0, AGE_DOC);
/// The age column of custom resources and of kinds without a printer: typed `date`.
const AGE_DATE: Column = col("Age", "date", 0, AGE_DOC);

const NODE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Status",
        "string",
        0,
        "Readiness of the node, and whether scheduling is disabled.",
    ),
    col(
        "Roles",
        "string",
        0,
        "Roles taken from node-role.kubernetes.io/<role> and kubernetes.io/role labels.",
    ),
    AGE,
    col(
        "Version",
        "string",
        0,
        "Kubelet version reported by the node.",
    ),
    col(
        "Internal-IP",
        "string",
        1,
        "First InternalIP address of the node.",
    ),
    col(
        "External-IP",
        "string",
        1,
        "First ExternalIP address of the node.",
    ),
    col(
        "OS-Image",
        "string",
        1,
        "Operating system image reported by the node.",
    ),
    col(
        "Kernel-Version",
        "string",
        1,
        "Kernel version reported by the node.",
    ),
    col(
        "Container-Runtime",
        "string",
        1,
        "Container runtime and version reported by the node.",
    ),
];

const POD_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        "string",
        0,
        "Ready containers out of all containers (sidecars included).",
    ),
    col(
        "Status",
        "string",
        0,
        "Aggregate state of the pod and its containers.",
    ),
    col(
        "Restarts",
        "string",
        0,
        "Container restarts, and how long ago the latest one ended.",
    ),
    AGE,
    col("IP", "string", 1, "Primary IP address assigned to the pod."),
    col("Node", "string", 1, "Node the pod is bound to."),
    col(
        "Nominated Node",
        "string",
        1,
        "Node the scheduler nominated while preempting for this pod.",
    ),
    col(
        "Readiness Gates",
        "string",
        1,
        "True readiness gates out of all declared gates.",
    ),
];

const DAEMON_SET_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Desired",
        "integer",
        0,
        "Nodes that should run the daemon pod.",
    ),
    col(
        "Current",
        "integer",
        0,
        "Nodes running at least one daemon pod that should.",
    ),
    col("Ready", "integer", 0, "Nodes whose daemon pod is ready."),
    col(
        "Up-to-date",
        "integer",
        0,
        "Nodes running the updated daemon pod.",
    ),
    col(
        "Available",
        "integer",
        0,
        "Nodes whose daemon pod has been available for minReadySeconds.",
    ),
    col(
        "Node Selector",
        "string",
        0,
        "Node selector of the pod template.",
    ),
    AGE,
    col("Containers", "string", 1, CONTAINERS_DOC),
    col("Images", "string", 1, IMAGES_DOC),
    col("Selector", "string", 1, SELECTOR_DOC),
];

const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        "string",
        0,
        "Ready replicas out of desired replicas.",
    ),
    col(
        "Up-to-date",
        "string",
        0,
        "Replicas running the latest pod template.",
    ),
    col(
        "Available",
        "string",
        0,
        "Replicas available for at least minReadySeconds.",
    ),
    AGE,
    col("Containers", "string", 1, CONTAINERS_DOC),
    col("Images", "string", 1, IMAGES_DOC),
    col("Selector", "string", 1, SELECTOR_DOC),
];

const REPLICA_SET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", 0, "Replicas the spec asks for."),
    col("Current", "integer", 0, "Replicas that exist."),
    col("Ready", "integer", 0, "Replicas that are ready."),
    AGE,
    col("Containers", "string", 1, CONTAINERS_DOC),
    col("Images", "string", 1, IMAGES_DOC),
    col("Selector", "string", 1, SELECTOR_DOC),
];

const NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", 0, "Lifecycle phase of the namespace."),
    AGE,
];

const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", 0, "How the service is exposed."),
    col(
        "Cluster-IP",
        "string",
        0,
        "Primary cluster IP of the service.",
    ),
    col(
        "External-IP",
        "string",
        0,
        "External IPs or load-balancer ingress of the service.",
    ),
    col(
        "Port(s)",
        "string",
        0,
        "Service ports, with node ports when allocated.",
    ),
    AGE,
    col(
        "Selector",
        "string",
        1,
        "Labels of the pods the service routes to.",
    ),
];

const CONFIG_MAP_COLUMNS: &[Column] = &[
    NAME,
    col("Data", "string", 0, "Number of data and binaryData keys."),
    AGE,
];

const SECRET_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", 0, "Type of the secret's content."),
    col("Data", "string", 0, "Number of data keys."),
    AGE,
];

const SERVICE_ACCOUNT_COLUMNS: &[Column] = &[
    NAME,
    col("Secrets", "string", 0, "Number of referenced secrets."),
    AGE,
];

const EVENT_COLUMNS: &[Column] = &[
    col(
        "Last Seen",
        "string",
        0,
        "Time since the event was last observed.",
    ),
    col("Type", "string", 0, "Normal or Warning."),
    col(
        "Reason",
        "string",
        0,
        "Machine-readable reason for the event.",
    ),
    col("Object", "string", 0, "The object the event is about."),
    col(
        "Subobject",
        "string",
        1,
        "Field path inside the object, such as a container.",
    ),
    col(
        "Source",
        "string",
        1,
        "Component (and host) that reported the event.",
    ),
    col("Message", "string", 0, "Human-readable description."),
    col(
        "First Seen",
        "string",
        1,
        "Time since the event was first observed.",
    ),
    col("Count", "string", 1, "Times the event has occurred."),
    name_col(1),
];

const PDB_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Min Available",
        "string",
        0,
        "Pods (or percentage) that must stay available.",
    ),
    col(
        "Max Unavailable",
        "string",
        0,
        "Pods (or percentage) that may be unavailable.",
    ),
    col(
        "Allowed Disruptions",
        "integer",
        0,
        "Pods that may be evicted right now.",
    ),
    AGE,
];

const CONTROLLER_REVISION_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Controller",
        "string",
        0,
        "Controller that owns the revision.",
    ),
    col(
        "Revision",
        "string",
        0,
        "Revision number of the stored state.",
    ),
    AGE,
];

const CRD_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Created At",
        "date",
        0,
        "When the server created the object (RFC 3339).",
    ),
];

const NAME_AND_AGE: &[Column] = &[NAME, AGE_DATE];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    Node,
    Pod,
    DaemonSet,
    Deployment,
    ReplicaSet,
    Namespace,
    Service,
    ConfigMap,
    Secret,
    ServiceAccount,
    Event,
    PodDisruptionBudget,
    ControllerRevision,
    CustomResourceDefinition,
}

impl Builtin {
    fn from_kind(kind: &str) -> Option<Self> {
        Some(match kind {
            "Node" => Self::Node,
            "Pod" => Self::Pod,
            "DaemonSet" => Self::DaemonSet,
            "Deployment" => Self::Deployment,
            "ReplicaSet" => Self::ReplicaSet,
            "Namespace" => Self::Namespace,
            "Service" => Self::Service,
            "ConfigMap" => Self::ConfigMap,
            "Secret" => Self::Secret,
            "ServiceAccount" => Self::ServiceAccount,
            "Event" => Self::Event,
            "PodDisruptionBudget" => Self::PodDisruptionBudget,
            "ControllerRevision" => Self::ControllerRevision,
            "CustomResourceDefinition" => Self::CustomResourceDefinition,
            _ => return None,
        })
    }

    fn columns(self) -> &'static [Column] {
        match self {
            Self::Node => NODE_COLUMNS,
            Self::Pod => POD_COLUMNS,
            Self::DaemonSet => DAEMON_SET_COLUMNS,
            Self::Deployment => DEPLOYMENT_COLUMNS,
            Self::ReplicaSet => REPLICA_SET_COLUMNS,
            Self::Namespace => NAMESPACE_COLUMNS,
            Self::Service => SERVICE_COLUMNS,
            Self::ConfigMap => CONFIG_MAP_COLUMNS,
            Self::Secret => SECRET_COLUMNS,
            Self::ServiceAccount => SERVICE_ACCOUNT_COLUMNS,
            Self::Event => EVENT_COLUMNS,
            Self::PodDisruptionBudget => PDB_COLUMNS,
            Self::ControllerRevision => CONTROLLER_REVISION_COLUMNS,
            Self::CustomResourceDefinition => CRD_COLUMNS,
        }
    }

    fn cells(self, obj: &Value, now: Timestamp) -> Vec<Value> {
        match self {
            Self::Node => node_cells(obj, now),
            Self::Pod => pod_cells(obj, now),
            Self::DaemonSet => daemon_set_cells(obj, now),
            Self::Deployment => deployment_cells(obj, now),
            Self::ReplicaSet => replica_set_cells(obj, now),
            Self::Namespace => vec![name(obj), text(obj, "/status/phase").into(), age(obj, now)],
            Self::Service => service_cells(obj, now),
            Self::ConfigMap => {
                let keys = count_keys(obj, "/data") + count_keys(obj, "/binaryData");
                vec![name(obj), keys.into(), age(obj, now)]
            }
            Self::Secret => {
                vec![
                    name(obj),
                    text(obj, "/type").into(),
                    count_keys(obj, "/data").into(),
                    age(obj, now),
                ]
            }
            Self::ServiceAccount => vec![
                name(obj),
                items(obj, "/secrets").len().into(),
                age(obj, now),
            ],
            Self::Event => event_cells(obj, now),
            Self::PodDisruptionBudget => pdb_cells(obj, now),
            Self::ControllerRevision => controller_revision_cells(obj, now),
            Self::CustomResourceDefinition => vec![name(obj), created_at(obj).into()],
        }
    }
}

/// A CRD printer column: where its value lives and how the value is typed.
#[derive(Debug, Clone)]
struct CustomColumn {
    path: JsonPath,
    kind: String,
}

#[derive(Debug, Clone)]
enum Layout {
    Builtin(Builtin),
    Custom(Vec<CustomColumn>),
    NameAndAge,
}

/// Columns and row builder for one kind; build once per request, then call `row` per object.
#[derive(Debug, Clone)]
pub struct TablePrinter {
    columns: Cow<'static, [Column]>,
    layout: Layout,
}

impl TablePrinter {
    /// `printer_columns` is `Some` for custom resources: the CRD version's
    /// `additionalPrinterColumns` (or null / an empty array when it has none). `None` selects the
    /// builtin printer for `kind`, or NAME and AGE for kinds without one.
    pub fn for_kind(kind: &str, printer_columns: Option<&Value>) -> Self {
        match printer_columns {
            Some(columns) => custom_printer(columns),
            None => match Builtin::from_kind(kind) {
                Some(builtin) => Self {
                    columns: Cow::Borrowed(builtin.columns()),
                    layout: Layout::Builtin(builtin),
                },
                None => name_and_age(),
            },
        }
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn column_definitions(&self) -> Value {
        Value::Array(self.columns.iter().map(Column::to_json).collect())
    }

    /// One Table row: the cells, and the object slimmed to PartialObjectMetadata.
    pub fn row(&self, obj: &Value, now: Timestamp) -> Value {
        let cells = match &self.layout {
            Layout::Builtin(builtin) => builtin.cells(obj, now),
            Layout::Custom(columns) => custom_cells(columns, obj, now),
            Layout::NameAndAge => vec![name(obj), age(obj, now)],
        };
        let mut row = Map::new();
        row.insert("cells".to_owned(), Value::Array(cells));
        if matches!(self.layout, Layout::Builtin(Builtin::Pod))
            && let Some(conditions) = finished_pod_conditions(obj)
        {
            row.insert("conditions".to_owned(), conditions);
        }
        row.insert("object".to_owned(), partial_object_metadata(obj));
        Value::Object(row)
    }
}

/// The whole Table document for a list (or, with one object, for a watch event).
pub fn table(
    printer: &TablePrinter,
    objs: &[Value],
    resource_version: &str,
    continue_token: Option<&str>,
    now: Timestamp,
) -> Value {
    let mut metadata = Map::new();
    metadata.insert("resourceVersion".to_owned(), resource_version.into());
    if let Some(token) = continue_token.filter(|t| !t.is_empty()) {
        metadata.insert("continue".to_owned(), token.into());
    }
    let rows: Vec<Value> = objs.iter().map(|obj| printer.row(obj, now)).collect();
    // Built by hand: `json!` would serialize (deep-copy) every row once more.
    let mut document = Map::new();
    document.insert("kind".to_owned(), "Table".into());
    document.insert("apiVersion".to_owned(), "meta.k8s.io/v1".into());
    document.insert("metadata".to_owned(), Value::Object(metadata));
    document.insert("columnDefinitions".to_owned(), printer.column_definitions());
    document.insert("rows".to_owned(), Value::Array(rows));
    Value::Object(document)
}

fn name_and_age() -> TablePrinter {
    TablePrinter {
        columns: Cow::Borrowed(NAME_AND_AGE),
        layout: Layout::NameAndAge,
    }
}

/// NAME, then the CRD's columns in order; with no columns, NAME and AGE. The server adds no AGE
/// of its own when columns exist (CRDs that want one declare it). A column whose path does not
/// parse ends the list there, as the server keeps the columns converted before the failure.
fn custom_printer(definitions: &Value) -> TablePrinter {
    let Some(definitions) = definitions.as_array().filter(|d| !d.is_empty()) else {
        return name_and_age();
    };
    let mut columns = vec![NAME];
    let mut custom = Vec::with_capacity(definitions.len());
    for definition in definitions {
        let field = |key: &str| {
            definition
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let json_path = field("jsonPath");
        let Ok(path) = JsonPath::parse(&json_path) else {
            break;
        };
        let description = match field("description") {
            d if d.is_empty() => {
                format!("Custom resource definition column (in JSONPath format): {json_path}")
            }
            d => d,
        };
        let priority = definition
            .get("priority")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        columns.push(Column {
            name: Cow::Owned(field("name")),
            kind: Cow::Owned(field("type")),
            format: Cow::Owned(field("format")),
            description: Cow::Owned(description),
            priority: i32::try_from(priority).unwrap_or(0),
        });
        custom.push(CustomColumn {
            path,
            kind: field("type"),
        });
    }
    TablePrinter {
        columns: Cow::Owned(columns),
        layout: Layout::Custom(custom),
    }
}

fn custom_cells(columns: &[CustomColumn], obj: &Value, now: Timestamp) -> Vec<Value> {
    let mut cells = Vec::with_capacity(columns.len() + 1);
    cells.push(name(obj));
    cells.extend(
        columns
            .iter()
            .map(|column| typed_cell(&column.kind, column.path.first(obj), now)),
    );
    cells
}

/// A printer-column value as the server types it; anything that does not fit the type is null,
/// which kubectl prints as an empty cell.
fn typed_cell(kind: &str, value: Option<&Value>, now: Timestamp) -> Value {
    let Some(value) = value else {
        return Value::Null;
    };
    match (kind, value) {
        ("string", value) => Value::String(printed_text(value)),
        ("integer", Value::Number(n)) => n
            .as_i64()
            .map_or_else(|| saturating_i64(n.as_f64()), Value::from),
        ("number", Value::Number(_)) | ("boolean", Value::Bool(_)) => value.clone(),
        ("date", Value::String(s)) => Value::String(date_cell(s, now)),
        _ => Value::Null,
    }
}

fn saturating_i64(f: Option<f64>) -> Value {
    // `as` saturates out-of-range floats, which is the most useful reading of a truncation.
    #[allow(clippy::cast_possible_truncation)]
    f.map_or(Value::Null, |f| Value::from(f.trunc() as i64))
}

fn date_cell(text: &str, now: Timestamp) -> String {
    if text.is_empty() || text == "null" {
        return "<unknown>".to_owned();
    }
    text.parse::<Timestamp>()
        .map_or_else(|_| "<invalid>".to_owned(), |then| age_since(then, now))
}

/// How the server's JSONPath printer renders one value for a `string` column.
fn printed_text(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".to_owned(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number_text(n),
        Value::Array(_) | Value::Object(_) => value.to_string(),
    }
}

fn number_text(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    n.as_f64().map_or_else(|| n.to_string(), go_float_text)
}

/// Go's `%v` for a float64: shortest digits, switching to exponent form below 1e-4 and from the
/// point where the digits no longer cover the integer part past six places (1e+06).
fn go_float_text(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        }
        .to_owned();
    }
    let scientific = format!("{f:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return f.to_string();
    };
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let digits =
        i64::try_from(mantissa.chars().filter(char::is_ascii_digit).count()).unwrap_or(i64::MAX);
    let decimal_point = exponent + 1;
    let precision = if 6 > digits && digits >= decimal_point {
        digits
    } else {
        6
    };
    if f != 0.0 && (exponent < -4 || exponent >= precision) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        f.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Durations
// ---------------------------------------------------------------------------------------------

/// kubectl's short age: "45s", "3m2s", "12m", "5h3m", "20h", "3d4h", "45d", "2y31d", "9y".
pub fn human_duration(d: Duration) -> String {
    human_seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Precision shrinks as the span grows (about two significant figures). Slightly negative spans
/// (clock skew up to a second) read as "0s"; more negative ones as "<invalid>".
fn human_seconds(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_remainder(minutes, "m", seconds % 60, "s");
    }
    if minutes < 3 * 60 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return with_remainder(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with_remainder(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return with_remainder(years, "y", days % 365, "d");
    }
    format!("{years}y")
}

fn with_remainder(major: i64, major_unit: &str, minor: i64, minor_unit: &str) -> String {
    if minor == 0 {
        format!("{major}{major_unit}")
    } else {
        format!("{major}{major_unit}{minor}{minor_unit}")
    }
}

fn age_since(then: Timestamp, now: Timestamp) -> String {
    human_seconds(now.duration_since(then).as_secs())
}

/// Age of an RFC 3339 timestamp, "<unknown>" when absent (the server's zero time).
fn since(timestamp: Option<&str>, now: Timestamp) -> String {
    timestamp
        .filter(|t| !t.is_empty())
        .and_then(|t| t.parse::<Timestamp>().ok())
        .map_or_else(|| "<unknown>".to_owned(), |then| age_since(then, now))
}

// ---------------------------------------------------------------------------------------------
// Small readers over stored JSON
// ---------------------------------------------------------------------------------------------

fn text<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    at(obj, pointer).and_then(Value::as_str).unwrap_or_default()
}

fn int(obj: &Value, pointer: &str) -> i64 {
    at(obj, pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn items<'a>(obj: &'a Value, pointer: &str) -> &'a [Value] {
    at(obj, pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn count_keys(obj: &Value, pointer: &str) -> usize {
    at(obj, pointer)
        .and_then(Value::as_object)
        .map_or(0, Map::len)
}

fn timestamp(obj: &Value, pointer: &str) -> Option<Timestamp> {
    at(obj, pointer)
        .and_then(Value::as_str)
        .and_then(|t| t.parse().ok())
}

fn name(obj: &Value) -> Value {
    text(obj, "/metadata/name").into()
}

fn age(obj: &Value, now: Timestamp) -> Value {
    since(
        at(obj, "/metadata/creationTimestamp").and_then(Value::as_str),
        now,
    )
    .into()
}

fn created_at(obj: &Value) -> String {
    // The server prints a missing timestamp as Go's zero time.
    timestamp(obj, "/metadata/creationTimestamp").map_or_else(
        || "0001-01-01T00:00:00Z".to_owned(),
        |created| created.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

/// `k=v` pairs sorted by key, or "<none>": how the server prints a plain label map.
fn format_labels(map: Option<&Value>) -> String {
    let Some(map) = map.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return "<none>".to_owned();
    };
    let mut pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// A metav1 selector in canonical text; "<none>" when empty or null, "<error>" when invalid.
fn format_label_selector(selector: Option<&Value>) -> String {
    match LabelSelector::from_json(selector.unwrap_or(&Value::Null)) {
        Ok(selector) => {
            let text = selector.to_string();
            if text.is_empty() {
                "<none>".to_owned()
            } else {
                text
            }
        }
        Err(_) => "<error>".to_owned(),
    }
}

/// Container names and images of a pod template, each comma-joined.
fn container_cells(obj: &Value, pointer: &str) -> [Value; 2] {
    let containers = items(obj, pointer);
    let names: Vec<&str> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(c, "/image")).collect();
    [names.join(",").into(), images.join(",").into()]
}

fn partial_object_metadata(obj: &Value) -> Value {
    let mut metadata = Map::new();
    if let Some(source) = obj.get("metadata").and_then(Value::as_object) {
        for (key, value) in source.iter().filter(|(key, _)| *key != "managedFields") {
            metadata.insert(key.clone(), value.clone());
        }
    }
    let mut partial = Map::new();
    partial.insert("kind".to_owned(), "PartialObjectMetadata".into());
    partial.insert("apiVersion".to_owned(), "meta.k8s.io/v1".into());
    partial.insert("metadata".to_owned(), Value::Object(metadata));
    Value::Object(partial)
}

// ---------------------------------------------------------------------------------------------
// Builtin printers
// ---------------------------------------------------------------------------------------------

fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    // A later condition of the same type wins, as when the server indexes them by type.
    let ready = items(node, "/status/conditions")
        .iter()
        .rev()
        .find(|c| text(c, "/type") == "Ready");
    let mut status = vec![match ready {
        Some(c) if text(c, "/status") == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if at(node, "/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let address = |kind: &str| {
        items(node, "/status/addresses")
            .iter()
            .find(|a| text(a, "/type") == kind)
            .map_or("<none>", |a| text(a, "/address"))
            .to_owned()
    };
    let info = |field: &str| match text(node, &format!("/status/nodeInfo/{field}")) {
        "" => "<unknown>".to_owned(),
        value => value.to_owned(),
    };
    vec![
        name(node),
        status.join(",").into(),
        node_roles(node).into(),
        age(node, now),
        text(node, "/status/nodeInfo/kubeletVersion").into(),
        address("InternalIP").into(),
        address("ExternalIP").into(),
        info("osImage").into(),
        info("kernelVersion").into(),
        info("containerRuntimeVersion").into(),
    ]
}

fn node_roles(node: &Value) -> String {
    let mut roles = BTreeSet::new();
    if let Some(labels) = at(node, "/metadata/labels").and_then(Value::as_object) {
        for (key, value) in labels {
            let value = value.as_str().unwrap_or_default();
            if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role);
                }
            } else if key == "kubernetes.io/role" && !value.is_empty() {
                roles.insert(value);
            }
        }
    }
    if roles.is_empty() {
        "<none>".to_owned()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

/// What kubectl's READY, STATUS and RESTARTS columns summarise about a pod.
struct PodSummary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    a.max(b)
}

fn last_termination(status: &Value) -> Option<Timestamp> {
    timestamp(status, "/lastState/terminated/finishedAt")
}

fn has_true_condition(pod: &Value, kind: &str) -> bool {
    items(pod, "/status/conditions")
        .iter()
        .any(|c| text(c, "/type") == kind && text(c, "/status") == "True")
}

/// Text for a terminated container without a reason: its signal, else its exit code.
fn termination_text(terminated: &Value) -> String {
    match int(terminated, "/signal") {
        0 => format!("ExitCode:{}", int(terminated, "/exitCode")),
        signal => format!("Signal:{signal}"),
    }
}

fn summarize_pod(pod: &Value) -> PodSummary {
    let init_specs = items(pod, "/spec/initContainers");
    let is_sidecar = |name: &str| {
        init_specs
            .iter()
            .any(|c| text(c, "/name") == name && text(c, "/restartPolicy") == "Always")
    };
    let mut summary = PodSummary {
        ready: 0,
        total: items(pod, "/spec/containers").len()
            + init_specs
                .iter()
                .filter(|c| text(c, "/restartPolicy") == "Always")
                .count(),
        reason: match text(pod, "/status/reason") {
            "" => text(pod, "/status/phase").to_owned(),
            reason => reason.to_owned(),
        },
        restarts: 0,
        last_restart: None,
    };
    let gated = items(pod, "/status/conditions")
        .iter()
        .any(|c| text(c, "/type") == "PodScheduled" && text(c, "/reason") == "SchedulingGated");
    if gated {
        "SchedulingGated".clone_into(&mut summary.reason);
    }
    let (initializing, sidecar_restarts, sidecar_last) =
        summarize_init_containers(pod, init_specs.len(), &is_sidecar, &mut summary);
    if !initializing || has_true_condition(pod, "Initialized") {
        summary.restarts = sidecar_restarts;
        summary.last_restart = sidecar_last;
        summarize_app_containers(pod, &mut summary);
    }
    if at(pod, "/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
        let phase = text(pod, "/status/phase");
        if text(pod, "/status/reason") == "NodeLost" {
            "Unknown".clone_into(&mut summary.reason);
        } else if phase != "Succeeded" && phase != "Failed" {
            "Terminating".clone_into(&mut summary.reason);
        }
    }
    summary
}

/// Walks init containers in order until one is still running or failed; returns whether the pod
/// is still initializing, plus the restarts and latest restart of sidecar (restartable) ones.
fn summarize_init_containers(
    pod: &Value,
    declared: usize,
    is_sidecar: &dyn Fn(&str) -> bool,
    summary: &mut PodSummary,
) -> (bool, i64, Option<Timestamp>) {
    let (mut sidecar_restarts, mut sidecar_last) = (0, None);
    for (i, status) in items(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        let sidecar = is_sidecar(text(status, "/name"));
        let restarts = int(status, "/restartCount");
        summary.restarts += restarts;
        summary.last_restart = later(summary.last_restart, last_termination(status));
        if sidecar {
            sidecar_restarts += restarts;
            sidecar_last = later(sidecar_last, last_termination(status));
        }
        let terminated = at(status, "/state/terminated").filter(|t| t.is_object());
        if terminated.is_some_and(|t| int(t, "/exitCode") == 0) {
            continue;
        }
        if sidecar && status.get("started").and_then(Value::as_bool) == Some(true) {
            if status.get("ready").and_then(Value::as_bool) == Some(true) {
                summary.ready += 1;
            }
            continue;
        }
        let waiting = text(status, "/state/waiting/reason");
        summary.reason = match terminated {
            Some(t) if text(t, "/reason").is_empty() => format!("Init:{}", termination_text(t)),
            Some(t) => format!("Init:{}", text(t, "/reason")),
            None if !waiting.is_empty() && waiting != "PodInitializing" => {
                format!("Init:{waiting}")
            }
            None => format!("Init:{i}/{declared}"),
        };
        return (true, sidecar_restarts, sidecar_last);
    }
    (false, sidecar_restarts, sidecar_last)
}

/// App containers are read last to first, so the first container's state ends up in STATUS.
fn summarize_app_containers(pod: &Value, summary: &mut PodSummary) {
    let mut has_running = false;
    for status in items(pod, "/status/containerStatuses").iter().rev() {
        summary.restarts += int(status, "/restartCount");
        summary.last_restart = later(summary.last_restart, last_termination(status));
        let waiting = text(status, "/state/waiting/reason");
        let terminated = at(status, "/state/terminated").filter(|t| t.is_object());
        if !waiting.is_empty() {
            waiting.clone_into(&mut summary.reason);
        } else if let Some(t) = terminated {
            summary.reason = match text(t, "/reason") {
                "" => termination_text(t),
                reason => reason.to_owned(),
            };
        } else if status.get("ready").and_then(Value::as_bool) == Some(true)
            && at(status, "/state/running").is_some_and(Value::is_object)
        {
            has_running = true;
            summary.ready += 1;
        }
    }
    if summary.reason == "Completed" && has_running {
        let reason = if has_true_condition(pod, "Ready") {
            "Running"
        } else {
            "NotReady"
        };
        reason.clone_into(&mut summary.reason);
    }
}

fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let summary = summarize_pod(pod);
    let restarts = match summary.last_restart {
        Some(last) if summary.restarts != 0 => {
            format!("{} ({} ago)", summary.restarts, age_since(last, now))
        }
        _ => summary.restarts.to_string(),
    };
    let or_none = |s: &str| {
        if s.is_empty() {
            "<none>".to_owned()
        } else {
            s.to_owned()
        }
    };
    let ip = at(pod, "/status/podIPs/0/ip")
        .or_else(|| at(pod, "/status/podIP"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    vec![
        name(pod),
        format!("{}/{}", summary.ready, summary.total).into(),
        summary.reason.into(),
        restarts.into(),
        age(pod, now),
        or_none(ip).into(),
        or_none(text(pod, "/spec/nodeName")).into(),
        or_none(text(pod, "/status/nominatedNodeName")).into(),
        readiness_gates(pod).into(),
    ]
}

fn readiness_gates(pod: &Value) -> String {
    let gates = items(pod, "/spec/readinessGates");
    if gates.is_empty() {
        return "<none>".to_owned();
    }
    let conditions = items(pod, "/status/conditions");
    let met = gates
        .iter()
        .filter(|gate| {
            let wanted = text(gate, "/conditionType");
            conditions
                .iter()
                .find(|c| text(c, "/type") == wanted)
                .is_some_and(|c| text(c, "/status") == "True")
        })
        .count();
    format!("{met}/{}", gates.len())
}

/// Row conditions the server attaches to finished pods (kubectl can hide completed rows).
fn finished_pod_conditions(pod: &Value) -> Option<Value> {
    let (reason, message) = match text(pod, "/status/phase") {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

fn daemon_set_cells(ds: &Value, now: Timestamp) -> Vec<Value> {
    let [names, images] = container_cells(ds, "/spec/template/spec/containers");
    vec![
        name(ds),
        int(ds, "/status/desiredNumberScheduled").into(),
        int(ds, "/status/currentNumberScheduled").into(),
        int(ds, "/status/numberReady").into(),
        int(ds, "/status/updatedNumberScheduled").into(),
        int(ds, "/status/numberAvailable").into(),
        format_labels(at(ds, "/spec/template/spec/nodeSelector")).into(),
        age(ds, now),
        names,
        images,
        format_label_selector(at(ds, "/spec/selector")).into(),
    ]
}

/// `spec.replicas` after defaulting: absent means one.
fn desired_replicas(obj: &Value) -> i64 {
    at(obj, "/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn deployment_cells(deployment: &Value, now: Timestamp) -> Vec<Value> {
    let [names, images] = container_cells(deployment, "/spec/template/spec/containers");
    // Unlike the other controllers, the Deployment printer shows an empty selector as "".
    let selector =
        LabelSelector::from_json(at(deployment, "/spec/selector").unwrap_or(&Value::Null))
            .map_or_else(|_| "<invalid>".to_owned(), |s| s.to_string());
    vec![
        name(deployment),
        format!(
            "{}/{}",
            int(deployment, "/status/readyReplicas"),
            desired_replicas(deployment)
        )
        .into(),
        int(deployment, "/status/updatedReplicas").into(),
        int(deployment, "/status/availableReplicas").into(),
        age(deployment, now),
        names,
        images,
        selector.into(),
    ]
}

fn replica_set_cells(rs: &Value, now: Timestamp) -> Vec<Value> {
    let [names, images] = container_cells(rs, "/spec/template/spec/containers");
    vec![
        name(rs),
        desired_replicas(rs).into(),
        int(rs, "/status/replicas").into(),
        int(rs, "/status/readyReplicas").into(),
        age(rs, now),
        names,
        images,
        format_label_selector(at(rs, "/spec/selector")).into(),
    ]
}

fn service_cells(svc: &Value, now: Timestamp) -> Vec<Value> {
    let kind = match text(svc, "/spec/type") {
        "" => "ClusterIP",
        kind => kind,
    };
    let cluster_ip = at(svc, "/spec/clusterIPs/0")
        .or_else(|| at(svc, "/spec/clusterIP"))
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())
        .unwrap_or("<none>");
    let ports: Vec<String> = items(svc, "/spec/ports").iter().map(service_port).collect();
    let ports = if ports.is_empty() {
        "<none>".to_owned()
    } else {
        ports.join(",")
    };
    vec![
        name(svc),
        kind.into(),
        cluster_ip.into(),
        service_external_ip(svc, kind).into(),
        ports.into(),
        age(svc, now),
        format_labels(at(svc, "/spec/selector")).into(),
    ]
}

fn service_port(port: &Value) -> String {
    let protocol = match text(port, "/protocol") {
        "" => "TCP",
        p => p,
    };
    match int(port, "/nodePort") {
        n if n > 0 => format!("{}:{n}/{protocol}", int(port, "/port")),
        _ => format!("{}/{protocol}", int(port, "/port")),
    }
}

fn service_external_ip(svc: &Value, kind: &str) -> String {
    let external: Vec<&str> = items(svc, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match kind {
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".to_owned(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            let ingress: BTreeSet<&str> = items(svc, "/status/loadBalancer/ingress")
                .iter()
                .map(|i| match text(i, "/ip") {
                    "" => text(i, "/hostname"),
                    ip => ip,
                })
                .filter(|s| !s.is_empty())
                .collect();
            let mut all: Vec<&str> = ingress.into_iter().collect();
            all.extend(external);
            if all.is_empty() {
                "<pending>".to_owned()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => text(svc, "/spec/externalName").to_owned(),
        _ => "<unknown>".to_owned(),
    }
}

fn event_cells(event: &Value, now: Timestamp) -> Vec<Value> {
    let first_seen = match at(event, "/firstTimestamp").and_then(Value::as_str) {
        Some(first) if !first.is_empty() => since(Some(first), now),
        _ => since(at(event, "/eventTime").and_then(Value::as_str), now),
    };
    let mut last_seen = match at(event, "/lastTimestamp").and_then(Value::as_str) {
        Some(last) if !last.is_empty() => since(Some(last), now),
        _ => first_seen.clone(),
    };
    let mut count = int(event, "/count");
    if let Some(series) = event.get("series").filter(|s| s.is_object()) {
        last_seen = since(series.get("lastObservedTime").and_then(Value::as_str), now);
        count = int(series, "/count");
    } else if count == 0 {
        count = 1;
    }
    let kind = text(event, "/involvedObject/kind").to_lowercase();
    let object = match text(event, "/involvedObject/name") {
        "" => kind,
        target => format!("{kind}/{target}"),
    };
    let component = first_non_empty(
        text(event, "/source/component"),
        text(event, "/reportingComponent"),
    );
    let instance = first_non_empty(
        text(event, "/source/host"),
        text(event, "/reportingInstance"),
    );
    let source = if instance.is_empty() {
        component.to_owned()
    } else {
        format!("{component}, {instance}")
    };
    vec![
        last_seen.into(),
        text(event, "/type").into(),
        text(event, "/reason").into(),
        object.into(),
        text(event, "/involvedObject/fieldPath").into(),
        source.into(),
        text(event, "/message").trim().into(),
        first_seen.into(),
        count.into(),
        name(event),
    ]
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

fn pdb_cells(pdb: &Value, now: Timestamp) -> Vec<Value> {
    let int_or_string = |pointer: &str| match at(pdb, pointer) {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "N/A".to_owned(),
    };
    vec![
        name(pdb),
        int_or_string("/spec/minAvailable").into(),
        int_or_string("/spec/maxUnavailable").into(),
        int(pdb, "/status/disruptionsAllowed").into(),
        age(pdb, now),
    ]
}

fn controller_revision_cells(revision: &Value, now: Timestamp) -> Vec<Value> {
    let controller = items(revision, "/metadata/ownerReferences")
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .map_or_else(
            || "<none>".to_owned(),
            |owner| {
                let group = text(owner, "/apiVersion")
                    .split_once('/')
                    .map_or("", |(group, _)| group);
                let kind = text(owner, "/kind");
                let group_kind = if group.is_empty() {
                    kind.to_owned()
                } else {
                    format!("{kind}.{group}")
                };
                format!("{}/{}", group_kind.to_lowercase(), text(owner, "/name"))
            },
        );
    vec![
        name(revision),
        controller.into(),
        int(revision, "/revision").into(),
        age(revision, now),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-06-01T12:00:00Z".parse().unwrap()
    }

    fn cells(kind: &str, obj: &Value) -> Vec<Value> {
        let row = TablePrinter::for_kind(kind, None).row(obj, now());
        row["cells"].as_array().unwrap().clone()
    }

    fn column_names(printer: &TablePrinter) -> Vec<String> {
        printer
            .columns()
            .iter()
            .map(|c| c.name.to_string())
            .collect()
    }

    #[test]
    fn human_duration_table() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (1, "1s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (182, "3m2s"),
            (599, "9m59s"),
            (600, "10m"),
            (659, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 5 * 60 + 59, "3h5m"),
            (8 * 3600 - 60, "7h59m"),
            (8 * 3600, "8h"),
            (47 * 3600 + 3599, "47h"),
            (48 * 3600, "2d"),
            (49 * 3600, "2d1h"),
            (8 * 86400 - 3600, "7d23h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (731 * 86400, "2y1d"),
            (8 * 365 * 86400 - 86400, "7y364d"),
            (8 * 365 * 86400, "8y"),
            (20 * 365 * 86400, "20y"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(
                human_duration(Duration::from_secs(*seconds)),
                *expected,
                "{seconds}s"
            );
        }
        assert_eq!(human_seconds(-1), "0s");
        assert_eq!(human_seconds(-2), "<invalid>");
    }

    #[test]
    fn ages_from_timestamps() {
        assert_eq!(since(Some("2024-06-01T11:59:15Z"), now()), "45s");
        assert_eq!(since(Some("2024-06-01T11:59:59.500Z"), now()), "0s");
        assert_eq!(since(Some("2024-06-01T12:00:01.500Z"), now()), "0s");
        assert_eq!(since(Some("2024-06-01T12:00:05Z"), now()), "<invalid>");
        assert_eq!(since(None, now()), "<unknown>");
    }

    fn windows_node() -> Value {
        json!({
            "metadata": {"name": "akswin000002", "creationTimestamp": "2024-05-29T09:30:00Z",
                "labels": {"kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": "10.0.20348",
                           "kubernetes.io/role": "agent", "node-role.kubernetes.io/worker": ""},
                "managedFields": [{"manager": "kubelet"}]},
            "spec": {"unschedulable": true},
            "status": {
                "conditions": [
                    {"type": "MemoryPressure", "status": "False"},
                    {"type": "Ready", "status": "True"}
                ],
                "addresses": [{"type": "Hostname", "address": "akswin000002"}, {"type": "InternalIP", "address": "10.224.0.33"}],
                "nodeInfo": {"kubeletVersion": "v1.32.2", "osImage": "Windows Server 2022 Datacenter",
                             "kernelVersion": "10.0.20348.2966", "containerRuntimeVersion": "containerd://1.7.20+azure"}
            }
        })
    }

    #[test]
    fn windows_node_row() {
        let row = TablePrinter::for_kind("Node", None).row(&windows_node(), now());
        assert_eq!(
            row["cells"],
            json!([
                "akswin000002",
                "Ready,SchedulingDisabled",
                "agent,worker",
                "3d2h",
                "v1.32.2",
                "10.224.0.33",
                "<none>",
                "Windows Server 2022 Datacenter",
                "10.0.20348.2966",
                "containerd://1.7.20+azure"
            ])
        );
        assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(row["object"]["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(row["object"]["metadata"]["name"], "akswin000002");
        assert!(row["object"]["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn node_status_variants() {
        let not_ready = json!({"metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        let cells = cells("Node", &not_ready);
        assert_eq!(cells[1], "NotReady");
        assert_eq!(cells[2], "<none>");
        assert_eq!(cells[3], "<unknown>");
        assert_eq!(cells[7], "<unknown>");
        let bare = json!({"metadata": {"name": "n2", "labels": {"node-role.kubernetes.io/control-plane": ""}}});
        let cells = self::cells("Node", &bare);
        assert_eq!(cells[1], "Unknown");
        assert_eq!(cells[2], "control-plane");
    }

    #[test]
    fn node_columns_are_the_real_ones() {
        let printer = TablePrinter::for_kind("Node", None);
        assert_eq!(
            column_names(&printer),
            [
                "Name",
                "Status",
                "Roles",
                "Age",
                "Version",
                "Internal-IP",
                "External-IP",
                "OS-Image",
                "Kernel-Version",
                "Container-Runtime"
            ]
        );
        let defs = printer.column_definitions();
        assert_eq!(defs[0]["format"], "name");
        assert_eq!(defs[1]["format"], "");
        assert_eq!(defs[5]["priority"], 1);
        assert_eq!(defs[4]["priority"], 0);
        assert_eq!(defs[3]["type"], "string");
    }

    fn pod(status: &Value) -> Value {
        json!({
            "metadata": {"name": "calico-node-x7k2p", "namespace": "calico-system", "creationTimestamp": "2024-06-01T11:00:00Z"},
            "spec": {"nodeName": "n1", "initContainers": [{"name": "flexvol-driver"}, {"name": "install-cni"}],
                     "containers": [{"name": "calico-node"}, {"name": "csi"}]},
            "status": status
        })
    }

    #[test]
    fn pod_in_second_init_container() {
        let pod = pod(&json!({
            "phase": "Pending", "podIP": "10.244.1.7",
            "initContainerStatuses": [
                {"name": "flexvol-driver", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}, "restartCount": 0},
                {"name": "install-cni", "state": {"running": {"startedAt": "2024-06-01T11:59:00Z"}}, "restartCount": 0}
            ],
            "containerStatuses": [
                {"name": "calico-node", "state": {"waiting": {"reason": "PodInitializing"}}, "ready": false, "restartCount": 0},
                {"name": "csi", "state": {"waiting": {"reason": "PodInitializing"}}, "ready": false, "restartCount": 0}
            ]
        }));
        assert_eq!(
            cells("Pod", &pod),
            json!([
                "calico-node-x7k2p",
                "0/2",
                "Init:1/2",
                "0",
                "60m",
                "10.244.1.7",
                "n1",
                "<none>",
                "<none>"
            ])
            .as_array()
            .unwrap()
            .clone()
        );
    }

    #[test]
    fn pod_init_failures() {
        let crash = pod(&json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "flexvol-driver", "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 4,
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-06-01T11:58:00Z"}}}
        ]}));
        let cells = cells("Pod", &crash);
        assert_eq!(cells[2], "Init:CrashLoopBackOff");
        assert_eq!(cells[3], "4 (2m ago)");
        let error = pod(&json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "flexvol-driver", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}
        ]}));
        assert_eq!(self::cells("Pod", &error)[2], "Init:Error");
        let signal = pod(&json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "flexvol-driver", "state": {"terminated": {"exitCode": 137, "signal": 9}}}
        ]}));
        assert_eq!(self::cells("Pod", &signal)[2], "Init:Signal:9");
        let code = pod(&json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "flexvol-driver", "state": {"terminated": {"exitCode": 3}}}
        ]}));
        assert_eq!(self::cells("Pod", &code)[2], "Init:ExitCode:3");
        let initializing = pod(&json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "flexvol-driver", "state": {"waiting": {"reason": "PodInitializing"}}}
        ]}));
        assert_eq!(self::cells("Pod", &initializing)[2], "Init:0/2");
    }

    #[test]
    fn crash_looping_pod_counts_restarts() {
        let pod = pod(&json!({
            "phase": "Running", "podIPs": [{"ip": "10.244.1.8"}, {"ip": "fd00::8"}],
            "initContainerStatuses": [
                {"name": "flexvol-driver", "state": {"terminated": {"exitCode": 0}}, "restartCount": 0},
                {"name": "install-cni", "state": {"terminated": {"exitCode": 0}}, "restartCount": 1,
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-06-01T11:10:00Z"}}}
            ],
            "containerStatuses": [
                {"name": "calico-node", "ready": false, "restartCount": 7,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-06-01T11:55:00Z"}}},
                {"name": "csi", "ready": true, "restartCount": 0, "state": {"running": {}}}
            ]
        }));
        // Init restarts only count while initializing; 7 restarts, the last 5 minutes ago.
        assert_eq!(
            cells("Pod", &pod),
            json!([
                "calico-node-x7k2p",
                "1/2",
                "CrashLoopBackOff",
                "7 (5m ago)",
                "60m",
                "10.244.1.8",
                "n1",
                "<none>",
                "<none>"
            ])
            .as_array()
            .unwrap()
            .clone()
        );
    }

    #[test]
    fn app_container_states() {
        let image = pod(&json!({"phase": "Pending", "containerStatuses": [
            {"name": "calico-node", "state": {"waiting": {"reason": "ImagePullBackOff"}}},
            {"name": "csi", "state": {"waiting": {"reason": "ContainerCreating"}}}
        ]}));
        // The first container is read last and wins.
        assert_eq!(cells("Pod", &image)[2], "ImagePullBackOff");
        let done = pod(&json!({"phase": "Succeeded", "containerStatuses": [
            {"name": "calico-node", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]}));
        assert_eq!(cells("Pod", &done)[2], "Completed");
        let killed = pod(&json!({"phase": "Failed", "containerStatuses": [
            {"name": "calico-node", "state": {"terminated": {"exitCode": 137, "signal": 9}}}
        ]}));
        assert_eq!(cells("Pod", &killed)[2], "Signal:9");
        let exited = pod(&json!({"phase": "Failed", "containerStatuses": [
            {"name": "calico-node", "state": {"terminated": {"exitCode": 2}}}
        ]}));
        assert_eq!(cells("Pod", &exited)[2], "ExitCode:2");
    }

    #[test]
    fn completed_container_beside_running_one() {
        let mut status = json!({"phase": "Running", "containerStatuses": [
            {"name": "calico-node", "ready": true, "state": {"running": {}}},
            {"name": "csi", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]});
        assert_eq!(cells("Pod", &pod(&status))[2], "NotReady");
        status["conditions"] = json!([{"type": "Ready", "status": "True"}]);
        assert_eq!(cells("Pod", &pod(&status))[2], "Running");
    }

    #[test]
    fn terminating_and_lost_pods() {
        let mut running = pod(&json!({"phase": "Running", "containerStatuses": [
            {"name": "calico-node", "ready": true, "state": {"running": {}}},
            {"name": "csi", "ready": true, "state": {"running": {}}}
        ]}));
        assert_eq!(cells("Pod", &running)[1], "2/2");
        assert_eq!(cells("Pod", &running)[2], "Running");
        running["metadata"]["deletionTimestamp"] = json!("2024-06-01T11:59:30Z");
        assert_eq!(cells("Pod", &running)[2], "Terminating");
        running["status"]["reason"] = json!("NodeLost");
        assert_eq!(cells("Pod", &running)[2], "Unknown");
        let mut finished = pod(&json!({"phase": "Succeeded"}));
        finished["metadata"]["deletionTimestamp"] = json!("2024-06-01T11:59:30Z");
        assert_eq!(cells("Pod", &finished)[2], "Succeeded");
    }

    #[test]
    fn evicted_gated_and_sidecar_pods() {
        let evicted = pod(&json!({"phase": "Failed", "reason": "Evicted"}));
        assert_eq!(cells("Pod", &evicted)[2], "Evicted");
        let gated = pod(
            &json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
        );
        assert_eq!(cells("Pod", &gated)[2], "SchedulingGated");
        let sidecar = json!({
            "metadata": {"name": "web"},
            "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}],
                     "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]},
            "status": {"phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}, {"type": "example.com/lb", "status": "True"}],
                "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 2, "state": {"running": {}},
                                           "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-06-01T10:00:00Z"}}}],
                "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}
        });
        let cells = self::cells("Pod", &sidecar);
        assert_eq!(cells[1], "2/2");
        assert_eq!(cells[2], "Running");
        assert_eq!(cells[3], "2 (120m ago)");
        assert_eq!(cells[5], "<none>");
        assert_eq!(cells[8], "1/2");
    }

    #[test]
    fn crashing_sidecar_after_initialization() {
        let pod = json!({
            "metadata": {"name": "web"},
            "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]},
            "status": {"phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}],
                "initContainerStatuses": [{"name": "proxy", "started": false, "ready": false, "restartCount": 3,
                                           "state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
                "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}
        });
        // The pod stays initialized, so app containers still count toward READY.
        let cells = cells("Pod", &pod);
        assert_eq!(cells[1], "1/2");
        assert_eq!(cells[2], "Init:CrashLoopBackOff");
        assert_eq!(cells[3], "3");
    }

    #[test]
    fn finished_pods_carry_row_conditions() {
        let printer = TablePrinter::for_kind("Pod", None);
        let row = printer.row(&pod(&json!({"phase": "Succeeded"})), now());
        assert_eq!(row["conditions"][0]["type"], "Completed");
        assert_eq!(row["conditions"][0]["reason"], "Succeeded");
        assert!(
            printer
                .row(&pod(&json!({"phase": "Running"})), now())
                .get("conditions")
                .is_none()
        );
    }

    #[test]
    fn daemon_set_with_node_selector() {
        let ds = json!({
            "metadata": {"name": "calico-node-windows", "namespace": "calico-system", "creationTimestamp": "2024-05-31T12:00:00Z"},
            "spec": {
                "selector": {"matchLabels": {"k8s-app": "calico-node-windows"}},
                "template": {"spec": {
                    "nodeSelector": {"kubernetes.io/os": "windows", "agentpool": "win"},
                    "containers": [{"name": "felix", "image": "calico/node-windows:v3.29.1"},
                                   {"name": "node", "image": "calico/node-windows:v3.29.1"}]
                }}
            },
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                       "updatedNumberScheduled": 1, "numberAvailable": 2}
        });
        assert_eq!(
            cells("DaemonSet", &ds),
            json!([
                "calico-node-windows",
                3,
                3,
                2,
                1,
                2,
                "agentpool=win,kubernetes.io/os=windows",
                "24h",
                "felix,node",
                "calico/node-windows:v3.29.1,calico/node-windows:v3.29.1",
                "k8s-app=calico-node-windows"
            ])
            .as_array()
            .unwrap()
            .clone()
        );
        let bare = json!({"metadata": {"name": "x"}, "spec": {"selector": {}}});
        let cells = self::cells("DaemonSet", &bare);
        assert_eq!(cells[1], 0);
        assert_eq!(cells[6], "<none>");
        assert_eq!(cells[10], "<none>");
    }

    #[test]
    fn deployment_and_replica_set_rows() {
        let deployment = json!({
            "metadata": {"name": "calico-kube-controllers", "creationTimestamp": "2024-06-01T09:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]},
                     "template": {"spec": {"containers": [{"name": "ctl", "image": "calico/kube-controllers:v3.29.1"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        });
        assert_eq!(
            cells("Deployment", &deployment),
            json!([
                "calico-kube-controllers",
                "2/3",
                3,
                2,
                "3h",
                "ctl",
                "calico/kube-controllers:v3.29.1",
                "tier in (a,b)"
            ])
            .as_array()
            .unwrap()
            .clone()
        );
        let defaulted = json!({"metadata": {"name": "d"}, "spec": {}});
        assert_eq!(cells("Deployment", &defaulted)[1], "0/1");
        assert_eq!(cells("Deployment", &defaulted)[7], "");
        let rs = json!({"metadata": {"name": "calico-kube-controllers-5f7b", "creationTimestamp": "2024-06-01T11:57:00Z"},
                        "spec": {"replicas": 2, "selector": {"matchLabels": {"pod-template-hash": "5f7b"}}},
                        "status": {"replicas": 2, "readyReplicas": 1}});
        let cells = self::cells("ReplicaSet", &rs);
        assert_eq!(
            &cells[..5],
            json!(["calico-kube-controllers-5f7b", 2, 2, 1, "3m"])
                .as_array()
                .unwrap()
                .as_slice()
        );
        assert_eq!(cells[7], "pod-template-hash=5f7b");
    }

    #[test]
    fn namespace_config_map_secret_and_service_account_rows() {
        let ns = json!({"metadata": {"name": "calico-system", "creationTimestamp": "2024-06-01T11:50:00Z"}, "status": {"phase": "Active"}});
        assert_eq!(
            cells("Namespace", &ns),
            vec![json!("calico-system"), json!("Active"), json!("10m")]
        );
        let cm = json!({"metadata": {"name": "cni-config"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(
            cells("ConfigMap", &cm),
            vec![json!("cni-config"), json!(3), json!("<unknown>")]
        );
        let secret = json!({"metadata": {"name": "node-certs"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
        assert_eq!(
            cells("Secret", &secret)[1..3],
            [json!("kubernetes.io/tls"), json!(2)]
        );
        let sa = json!({"metadata": {"name": "calico-node"}});
        assert_eq!(cells("ServiceAccount", &sa)[1], 0);
    }

    #[test]
    fn service_rows() {
        let typha = json!({"metadata": {"name": "calico-typha", "creationTimestamp": "2024-06-01T11:00:00Z"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.0.12.7", "clusterIPs": ["10.0.12.7"],
                     "ports": [{"port": 5473, "protocol": "TCP"}], "selector": {"k8s-app": "calico-typha"}}});
        assert_eq!(
            cells("Service", &typha),
            json!([
                "calico-typha",
                "ClusterIP",
                "10.0.12.7",
                "<none>",
                "5473/TCP",
                "60m",
                "k8s-app=calico-typha"
            ])
            .as_array()
            .unwrap()
            .clone()
        );
        let lb = json!({"metadata": {"name": "web"},
            "spec": {"type": "LoadBalancer", "clusterIPs": ["10.0.0.5"], "externalIPs": ["192.0.2.9"],
                     "ports": [{"port": 80, "nodePort": 30080}, {"port": 53, "protocol": "UDP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.4"}, {"hostname": "lb.example.com"}]}}});
        let cells = self::cells("Service", &lb);
        assert_eq!(cells[3], "203.0.113.4,lb.example.com,192.0.2.9");
        assert_eq!(cells[4], "80:30080/TCP,53/UDP");
        assert_eq!(cells[6], "<none>");
        let pending = json!({"metadata": {"name": "p"}, "spec": {"type": "LoadBalancer", "clusterIP": "None"}});
        let cells = self::cells("Service", &pending);
        assert_eq!(cells[2], "None");
        assert_eq!(cells[3], "<pending>");
        assert_eq!(cells[4], "<none>");
        let external = json!({"metadata": {"name": "e"}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}});
        assert_eq!(self::cells("Service", &external)[3], "db.example.com");
    }

    #[test]
    fn event_rows() {
        let event = json!({
            "metadata": {"name": "calico-node-x7k2p.17d3", "namespace": "calico-system"},
            "involvedObject": {"kind": "Pod", "name": "calico-node-x7k2p", "fieldPath": "spec.containers{calico-node}"},
            "reason": "BackOff", "type": "Warning", "message": "Back-off restarting failed container\n",
            "source": {"component": "kubelet", "host": "akswin000002"},
            "firstTimestamp": "2024-06-01T11:00:00Z", "lastTimestamp": "2024-06-01T11:58:00Z", "count": 14
        });
        assert_eq!(
            cells("Event", &event),
            json!([
                "2m",
                "Warning",
                "BackOff",
                "pod/calico-node-x7k2p",
                "spec.containers{calico-node}",
                "kubelet, akswin000002",
                "Back-off restarting failed container",
                "60m",
                14,
                "calico-node-x7k2p.17d3"
            ])
            .as_array()
            .unwrap()
            .clone()
        );
        let new_style = json!({
            "metadata": {"name": "e2"}, "involvedObject": {"kind": "Node"}, "reason": "RegisteredNode", "type": "Normal",
            "eventTime": "2024-06-01T11:59:00.123456Z", "reportingComponent": "node-controller",
            "series": {"count": 3, "lastObservedTime": "2024-06-01T11:59:50.000000Z"}
        });
        let cells = self::cells("Event", &new_style);
        assert_eq!(cells[0], "10s");
        assert_eq!(cells[3], "node");
        assert_eq!(cells[5], "node-controller");
        assert_eq!(cells[7], "59s"); // 59.88 seconds truncate
        assert_eq!(cells[8], 3);
        let singleton =
            json!({"metadata": {"name": "e3"}, "involvedObject": {"kind": "Pod", "name": "p"}});
        assert_eq!(self::cells("Event", &singleton)[8], 1);
        assert_eq!(self::cells("Event", &singleton)[0], "<unknown>");
    }

    #[test]
    fn pdb_controller_revision_and_crd_rows() {
        let pdb = json!({"metadata": {"name": "calico-typha"}, "spec": {"maxUnavailable": 1}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            cells("PodDisruptionBudget", &pdb)[..4],
            [json!("calico-typha"), json!("N/A"), json!("1"), json!(1)]
        );
        let percent = json!({"metadata": {"name": "p"}, "spec": {"minAvailable": "50%"}});
        assert_eq!(cells("PodDisruptionBudget", &percent)[1], "50%");
        let revision = json!({"metadata": {"name": "calico-node-6d9f", "creationTimestamp": "2024-06-01T11:30:00Z",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "calico-node", "controller": true}]},
            "revision": 4});
        assert_eq!(
            cells("ControllerRevision", &revision),
            vec![
                json!("calico-node-6d9f"),
                json!("daemonset.apps/calico-node"),
                json!(4),
                json!("30m")
            ]
        );
        let orphan = json!({"metadata": {"name": "r"}, "revision": 1});
        assert_eq!(cells("ControllerRevision", &orphan)[1], "<none>");
        let crd = json!({"metadata": {"name": "ippools.crd.projectcalico.org", "creationTimestamp": "2024-05-01T08:09:10Z"}});
        assert_eq!(
            cells("CustomResourceDefinition", &crd),
            vec![
                json!("ippools.crd.projectcalico.org"),
                json!("2024-05-01T08:09:10Z")
            ]
        );
        let printer = TablePrinter::for_kind("CustomResourceDefinition", None);
        assert_eq!(column_names(&printer), ["Name", "Created At"]);
    }

    #[test]
    fn unknown_kinds_get_name_and_age() {
        let printer = TablePrinter::for_kind("IPAMBlock", None);
        assert_eq!(column_names(&printer), ["Name", "Age"]);
        assert_eq!(printer.column_definitions()[1]["type"], "date");
        let block = json!({"metadata": {"name": "10-244-1-0-26", "creationTimestamp": "2024-06-01T11:55:00Z"}});
        assert_eq!(
            printer.row(&block, now())["cells"],
            json!(["10-244-1-0-26", "5m"])
        );
        let no_columns = TablePrinter::for_kind("IPPool", Some(&json!([])));
        assert_eq!(column_names(&no_columns), ["Name", "Age"]);
        let null_columns = TablePrinter::for_kind("Event", Some(&Value::Null));
        assert_eq!(column_names(&null_columns), ["Name", "Age"]);
    }

    fn status_columns() -> Value {
        json!([
            {"name": "Available", "type": "string", "description": "Component is running and stable.",
             "jsonPath": ".status.conditions[?(@.type=='Available')].status"},
            {"name": "Progressing", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Progressing')].status"},
            {"name": "Degraded", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Degraded\")].status"},
            {"name": "Since", "type": "date", "jsonPath": ".status.conditions[?(@.type=='Available')].lastTransitionTime"},
            {"name": "Message", "type": "string", "priority": 1, "jsonPath": ".status.conditions[?(@.type=='Degraded')].message"}
        ])
    }

    #[test]
    fn custom_resource_status_columns() {
        let printer = TablePrinter::for_kind("TigeraStatus", Some(&status_columns()));
        assert_eq!(
            column_names(&printer),
            [
                "Name",
                "Available",
                "Progressing",
                "Degraded",
                "Since",
                "Message"
            ]
        );
        let defs = printer.column_definitions();
        assert_eq!(defs[1]["description"], "Component is running and stable.");
        assert_eq!(
            defs[2]["description"],
            "Custom resource definition column (in JSONPath format): .status.conditions[?(@.type=='Progressing')].status"
        );
        assert_eq!(defs[4]["type"], "date");
        assert_eq!(defs[5]["priority"], 1);
        let calico = json!({"metadata": {"name": "calico"}, "status": {"conditions": [
            {"type": "Available", "status": "True", "lastTransitionTime": "2024-06-01T10:30:00Z", "message": ""},
            {"type": "Progressing", "status": "False", "lastTransitionTime": "2024-06-01T10:30:00Z"},
            {"type": "Degraded", "status": "True", "lastTransitionTime": "2024-06-01T11:59:00Z",
             "message": "Error querying installation: not found"}
        ]}});
        assert_eq!(
            printer.row(&calico, now())["cells"],
            json!([
                "calico",
                "True",
                "False",
                "True",
                "90m",
                "Error querying installation: not found"
            ])
        );
        let fresh = json!({"metadata": {"name": "apiserver"}});
        assert_eq!(
            printer.row(&fresh, now())["cells"],
            json!(["apiserver", null, null, null, null, null])
        );
    }

    #[test]
    fn custom_column_types() {
        let columns = json!([
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
            {"name": "Ready", "type": "boolean", "jsonPath": ".status.ready"},
            {"name": "Big", "type": "string", "jsonPath": ".spec.big"},
            {"name": "Tiny", "type": "string", "jsonPath": ".spec.tiny"},
            {"name": "Selector", "type": "string", "jsonPath": ".spec.selector"},
            {"name": "Nothing", "type": "string", "jsonPath": ".spec.nothing"},
            {"name": "When", "type": "date", "jsonPath": ".spec.when"},
            {"name": "Wrong", "type": "integer", "jsonPath": ".spec.ratioText"},
            {"name": "Created", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
        ]);
        let printer = TablePrinter::for_kind("IPPool", Some(&columns));
        let obj = json!({"metadata": {"name": "pool", "creationTimestamp": "2024-06-01T11:59:00Z"},
            "spec": {"replicas": 3.9, "ratio": 0.25, "big": 1_234_567.5, "tiny": 0.00001, "selector": {"b": 1, "a": [true]},
                     "nothing": null, "when": "yesterday", "ratioText": "3"},
            "status": {"ready": false}});
        assert_eq!(
            printer.row(&obj, now())["cells"],
            json!([
                "pool",
                3,
                0.25,
                false,
                "1.2345675e+06",
                "1e-05",
                "{\"a\":[true],\"b\":1}",
                "<no value>",
                "<invalid>",
                null,
                "60s"
            ])
        );
    }

    #[test]
    fn invalid_column_path_ends_the_column_list() {
        let columns = json!([
            {"name": "Cidr", "type": "string", "jsonPath": ".spec.cidr"},
            {"name": "Broken", "type": "string", "jsonPath": ".spec[?("},
            {"name": "After", "type": "string", "jsonPath": ".spec.after"}
        ]);
        let printer = TablePrinter::for_kind("IPPool", Some(&columns));
        assert_eq!(column_names(&printer), ["Name", "Cidr"]);
    }

    #[test]
    fn go_float_formatting() {
        assert_eq!(go_float_text(0.5), "0.5");
        assert_eq!(go_float_text(100_000.0), "100000");
        assert_eq!(go_float_text(1_000_000.0), "1e+06");
        assert_eq!(go_float_text(123_456.7), "123456.7");
        assert_eq!(go_float_text(0.0001), "0.0001");
        assert_eq!(go_float_text(-0.000_012_5), "-1.25e-05");
        assert_eq!(go_float_text(0.0), "0");
        assert_eq!(go_float_text(1e21), "1e+21");
    }

    #[test]
    fn whole_table_document() {
        let printer = TablePrinter::for_kind("Namespace", None);
        let objs = [
            json!({"metadata": {"name": "default", "creationTimestamp": "2024-06-01T10:00:00Z"}, "status": {"phase": "Active"}}),
        ];
        let doc = table(&printer, &objs, "4711", Some("tok"), now());
        assert_eq!(doc["kind"], "Table");
        assert_eq!(doc["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(
            doc["metadata"],
            json!({"resourceVersion": "4711", "continue": "tok"})
        );
        assert_eq!(doc["columnDefinitions"].as_array().unwrap().len(), 3);
        assert_eq!(
            doc["rows"][0]["cells"],
            json!(["default", "Active", "120m"])
        );
        let no_continue = table(&printer, &[], "4711", Some(""), now());
        assert_eq!(no_continue["metadata"], json!({"resourceVersion": "4711"}));
        assert_eq!(no_continue["rows"], json!([]));
    }

    #[test]
    fn every_builtin_row_matches_its_columns() {
        let obj = json!({"metadata": {"name": "x"}});
        for kind in [
            "Node",
            "Pod",
            "DaemonSet",
            "Deployment",
            "ReplicaSet",
            "Namespace",
            "Service",
            "ConfigMap",
            "Secret",
            "ServiceAccount",
            "Event",
            "PodDisruptionBudget",
            "ControllerRevision",
            "CustomResourceDefinition",
        ] {
            let printer = TablePrinter::for_kind(kind, None);
            let row = printer.row(&obj, now());
            assert_eq!(
                row["cells"].as_array().unwrap().len(),
                printer.columns().len(),
                "{kind}"
            );
        }
    }
}
