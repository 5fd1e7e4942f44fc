//! What the apiserver does to a custom resource between decoding and storage:
//! prune fields the structural schema does not know, drop nulls the schema
//! does not allow, fill `default`s, then validate (type, enum, pattern,
//! bounds, lengths, item counts, required); plus the exact wording of the
//! errors and warnings that come out of it. It works on `serde_json::Value`
//! and a CRD's `openAPIV3Schema`; it must not touch storage, HTTP or object
//! metadata (root `apiVersion`, `kind` and `metadata` are left exactly as
//! they came — ObjectMeta rules belong to the caller).
//!
//! Not modelled: CEL (`x-kubernetes-validations`), `format` checks,
//! `allOf`/`anyOf`/`oneOf`/`not`, `uniqueItems`, min/maxProperties and
//! duplicate-key detection. A `pattern` outside the matcher's subset
//! (see `schema_pattern`) is not checked.

use std::fmt::{self, Write as _};

use serde_json::{Map, Value, json};

use super::schema_pattern::Pattern;

/// The `?fieldValidation=` query parameter of POST, PUT and PATCH.
///
/// When the parameter is absent (or empty) the apiserver behaves as `Warn`:
/// that has been the server default since server-side field validation went
/// beta in 1.25 and stayed so at GA (1.27) and in 1.32. kubectl sends
/// `Strict` by default and `Ignore` with `--validate=false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Unknown fields are dropped silently.
    Ignore,
    /// Unknown fields are dropped and each one is reported in a `Warning` header.
    #[default]
    Warn,
    /// Unknown fields fail the request with 400 BadRequest.
    Strict,
}

impl FieldValidation {
    /// Parses the query value. An unsupported value gives the field error the
    /// apiserver reports (422, wrapped by the caller as e.g.
    /// `CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: …`).
    pub fn from_query(value: Option<&str>) -> Result<Self, FieldError> {
        match value.unwrap_or("") {
            "" | "Warn" => Ok(FieldValidation::Warn),
            "Ignore" => Ok(FieldValidation::Ignore),
            "Strict" => Ok(FieldValidation::Strict),
            other => Err(FieldError::not_supported(
                "fieldValidation",
                &Value::String(other.to_owned()),
                &["", "Ignore", "Strict", "Warn"],
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FieldValidation::Ignore => "Ignore",
            FieldValidation::Warn => "Warn",
            FieldValidation::Strict => "Strict",
        }
    }
}

/// What `prune_and_validate` found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchemaOutcome {
    /// Paths of the pruned fields, written as the apiserver writes them in
    /// `unknown field "…"`: `spec.foo`, `spec.ipPools[0].bar` (no leading dot).
    pub unknown_fields: Vec<String>,
    pub errors: Vec<FieldError>,
}

impl SchemaOutcome {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// One field-level validation error, as apimachinery's `field.Error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// `spec.calicoNetwork.ipPools[0].encapsulation`
    pub path: String,
    pub kind: FieldErrorKind,
    /// The error body without the path, e.g. `Unsupported value: "X": supported values: "A", "B"`;
    /// this is also the `message` of the Status cause.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    Required,
    Invalid,
    /// A value outside an `enum`.
    NotSupported,
    /// The value has the wrong JSON type.
    TypeInvalid,
    /// A string longer than `maxLength`.
    TooLong,
    /// An array longer than `maxItems`.
    TooMany,
    Forbidden,
}

impl FieldErrorKind {
    /// The `reason` of a Status cause.
    pub fn reason(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::TypeInvalid => "FieldValueTypeInvalid",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
        }
    }

    /// The words that open the error body.
    fn label(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid | FieldErrorKind::TypeInvalid => "Invalid value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::Forbidden => "Forbidden",
        }
    }
}

impl FieldError {
    fn new(path: impl Into<String>, kind: FieldErrorKind, body: String) -> Self {
        FieldError {
            path: path.into(),
            kind,
            message: body,
        }
    }

    pub fn required(path: impl Into<String>) -> Self {
        let kind = FieldErrorKind::Required;
        FieldError::new(path, kind, kind.label().to_owned())
    }

    /// `Invalid value: <value>: <detail>`; the value is shown as Go shows it
    /// (strings quoted, numbers bare, objects as JSON).
    pub fn invalid(path: impl Into<String>, value: &Value, detail: &str) -> Self {
        let kind = FieldErrorKind::Invalid;
        FieldError::new(path, kind, with_detail(kind, &go_value(value), detail))
    }

    pub fn not_supported(path: impl Into<String>, value: &Value, supported: &[&str]) -> Self {
        let kind = FieldErrorKind::NotSupported;
        let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
        let detail = if quoted.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", quoted.join(", "))
        };
        FieldError::new(path, kind, with_detail(kind, &go_value(value), &detail))
    }

    pub fn forbidden(path: impl Into<String>, detail: &str) -> Self {
        let kind = FieldErrorKind::Forbidden;
        FieldError::new(path, kind, with_detail_only(kind, detail))
    }

    fn type_invalid(path: String, actual_type: &str, detail: &str) -> Self {
        let kind = FieldErrorKind::TypeInvalid;
        FieldError::new(
            path,
            kind,
            with_detail(kind, &go_quote(actual_type), detail),
        )
    }

    fn too_long(path: String, max_length: u64) -> Self {
        let unit = if max_length == 1 { "byte" } else { "bytes" };
        let detail = format!("may not be more than {max_length} {unit}");
        FieldError::new(
            path,
            FieldErrorKind::TooLong,
            with_detail_only(FieldErrorKind::TooLong, &detail),
        )
    }

    fn too_many(path: String, actual: usize, max_items: u64) -> Self {
        let unit = if max_items == 1 { "item" } else { "items" };
        let detail = format!("must have at most {max_items} {unit}");
        let kind = FieldErrorKind::TooMany;
        FieldError::new(path, kind, with_detail(kind, &actual.to_string(), &detail))
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn with_detail(kind: FieldErrorKind, shown_value: &str, detail: &str) -> String {
    if detail.is_empty() {
        format!("{}: {shown_value}", kind.label())
    } else {
        format!("{}: {shown_value}: {detail}", kind.label())
    }
}

fn with_detail_only(kind: FieldErrorKind, detail: &str) -> String {
    if detail.is_empty() {
        kind.label().to_owned()
    } else {
        format!("{}: {detail}", kind.label())
    }
}

/// Prunes, defaults and validates `obj` (a whole custom resource) against a
/// CRD version's `openAPIV3Schema`, in the apiserver's order.
///
/// Pruning honours `x-kubernetes-preserve-unknown-fields`,
/// `additionalProperties` (a schema, or `true`), `x-kubernetes-int-or-string`
/// and `x-kubernetes-embedded-resource` (whose `apiVersion`, `kind` and
/// `metadata` survive). At the root `apiVersion`, `kind` and `metadata` are
/// never pruned nor changed. A `null` under a field whose schema is not
/// `nullable` is removed (and then defaulted if the schema has a `default`),
/// as the apiserver does since 1.20.
pub fn prune_and_validate(obj: &mut Value, schema: &Value) -> SchemaOutcome {
    let mut outcome = SchemaOutcome::default();
    if let Value::Object(map) = obj {
        normalise_object(map, schema, Path::Root, true, &mut outcome.unknown_fields);
    }
    validate_value(obj, schema, Path::Root, &mut outcome.errors);
    outcome
}

/// The `openAPIV3Schema` of `version` in a CustomResourceDefinition object.
pub fn version_schema<'a>(crd: &'a Value, version: &str) -> Option<&'a Value> {
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))?
        .pointer("/schema/openAPIV3Schema")
}

/// The message and `details.causes` of the 422 Invalid Status for a custom
/// resource. `kind_group` is `<Kind>.<group>` (just `<Kind>` for the core
/// group), e.g. `Installation.operator.tigera.io`.
pub fn invalid_status_parts(
    kind_group: &str,
    name: &str,
    errors: &[FieldError],
) -> (String, Value) {
    let head = format!("{kind_group} {} is invalid", go_quote(name));
    let message = match aggregate(errors) {
        Some(list) => format!("{head}: {list}"),
        None => head,
    };
    let causes = errors
        .iter()
        .map(|e| {
            let mut cause = json!({"reason": e.kind.reason(), "message": e.message});
            if !e.path.is_empty() {
                cause["field"] = Value::String(e.path.clone());
            }
            cause
        })
        .collect();
    (message, Value::Array(causes))
}

/// The whole 422 Invalid Status object (`metav1.Status`) for these errors.
pub fn invalid_status(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Value {
    let kind_group = if group.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}.{group}")
    };
    let (message, causes) = invalid_status_parts(&kind_group, name, errors);
    let mut details = json!({"name": name, "kind": kind, "causes": causes});
    if !group.is_empty() {
        details["group"] = Value::String(group.to_owned());
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Invalid",
        "details": details,
        "code": 422
    })
}

/// apimachinery's aggregate: one error alone, or `[a, b]` with repeats removed.
fn aggregate(errors: &[FieldError]) -> Option<String> {
    let mut unique: Vec<String> = Vec::with_capacity(errors.len());
    for error in errors {
        let text = error.to_string();
        if !unique.contains(&text) {
            unique.push(text);
        }
    }
    match unique.len() {
        0 => None,
        1 => unique.pop(),
        _ => Some(format!("[{}]", unique.join(", "))),
    }
}

/// The strict-mode decoding error text:
/// `strict decoding error: unknown field "spec.foo", unknown field "spec.bar"`.
pub fn unknown_field_message(fields: &[String]) -> String {
    let listed: Vec<String> = fields
        .iter()
        .map(|f| format!("unknown field {}", go_quote(f)))
        .collect();
    format!("strict decoding error: {}", listed.join(", "))
}

/// The 400 BadRequest message for a strict create or update of a custom
/// resource: `Installation in version "v1" cannot be handled as a Installation: strict decoding error: …`.
pub fn strict_decoding_bad_request_message(kind: &str, version: &str, fields: &[String]) -> String {
    format!(
        "{kind} in version {} cannot be handled as a {kind}: {}",
        go_quote(version),
        unknown_field_message(fields)
    )
}

/// Warn mode: one warning text per pruned field (`unknown field "spec.foo"`),
/// for the caller to send as `Warning: 299 - "<text, quotes escaped>"` headers.
pub fn unknown_field_warnings(fields: &[String]) -> Vec<String> {
    fields
        .iter()
        .map(|f| format!("unknown field {}", go_quote(f)))
        .collect()
}

/// A field path, built on the stack and only rendered when it is reported.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Field(Path::Root, name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

const RESOURCE_META: [&str; 3] = ["apiVersion", "kind", "metadata"];

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn preserves_unknown(schema: &Value) -> bool {
    flag(schema, "x-kubernetes-preserve-unknown-fields")
}

fn is_int_or_string(schema: &Value) -> bool {
    flag(schema, "x-kubernetes-int-or-string")
}

fn declared_type(schema: &Value) -> Option<&str> {
    schema.get("type").and_then(Value::as_str)
}

fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

/// `additionalProperties` as a schema; `true` counts as a schema that keeps anything.
fn additional_properties(schema: &Value) -> Option<&Value> {
    match schema.get("additionalProperties") {
        Some(Value::Bool(false)) | None => None,
        other => other,
    }
}

fn normalise_object(
    map: &mut Map<String, Value>,
    schema: &Value,
    path: Path<'_>,
    keep_resource_meta: bool,
    pruned: &mut Vec<String>,
) {
    if let Some(props) = properties(schema) {
        for (key, prop) in props {
            if keep_resource_meta && RESOURCE_META.contains(&key.as_str()) {
                continue;
            }
            if map.get(key).is_some_and(Value::is_null) && !flag(prop, "nullable") {
                map.remove(key);
            }
            if !map.contains_key(key)
                && let Some(default) = prop.get("default")
            {
                map.insert(key.clone(), default.clone());
            }
        }
    }
    let props = properties(schema);
    let additional = additional_properties(schema);
    let preserve = preserves_unknown(schema);
    map.retain(|key, value| {
        if keep_resource_meta && RESOURCE_META.contains(&key.as_str()) {
            return true;
        }
        let field = Path::Field(&path, key);
        match props.and_then(|p| p.get(key)).or(additional) {
            Some(Value::Bool(true)) => true,
            Some(child) => {
                if value.is_null() && !flag(child, "nullable") {
                    return false;
                }
                normalise_value(value, child, field, pruned);
                true
            }
            None if preserve => true,
            None => {
                pruned.push(field.to_string());
                false
            }
        }
    });
}

fn normalise_value(value: &mut Value, schema: &Value, path: Path<'_>, pruned: &mut Vec<String>) {
    if is_int_or_string(schema) {
        return;
    }
    match value {
        Value::Object(map) if matches!(declared_type(schema), None | Some("object")) => {
            let embedded = flag(schema, "x-kubernetes-embedded-resource");
            normalise_object(map, schema, path, embedded, pruned);
        }
        Value::Array(items) if declared_type(schema) == Some("array") => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter_mut().enumerate() {
                    normalise_value(item, item_schema, Path::Index(&path, index), pruned);
                }
            }
        }
        _ => {}
    }
}

/// The JSON type name kube-openapi reports for a value.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_accepts(expected: &str, value: &Value) -> bool {
    let actual = json_type(value);
    match expected {
        "integer" => actual == "integer" || value.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => actual == "integer" || actual == "number",
        other => other == actual,
    }
}

/// The message kube-openapi writes into the error detail: `<path> in body <text>`.
fn in_body(path: Path<'_>, text: &str) -> String {
    format!("{path} in body {text}")
}

fn validate_value(value: &Value, schema: &Value, path: Path<'_>, errors: &mut Vec<FieldError>) {
    let expected = if is_int_or_string(schema) {
        Some("integer,string")
    } else {
        declared_type(schema)
    };
    let Some(expected) = expected else { return };
    if value.is_null() {
        if !flag(schema, "nullable") {
            let detail = in_body(path, &format!("must be of type {expected}: \"null\""));
            errors.push(FieldError::type_invalid(path.to_string(), "null", &detail));
        }
        return;
    }
    if !expected.split(',').any(|t| type_accepts(t, value)) {
        let actual = json_type(value);
        let detail = in_body(
            path,
            &format!("must be of type {expected}: {}", go_quote(actual)),
        );
        errors.push(FieldError::type_invalid(path.to_string(), actual, &detail));
        return;
    }
    match value {
        Value::String(text) => validate_string(text, value, schema, path, errors),
        Value::Number(_) => validate_number(value, schema, path, errors),
        Value::Array(items) => validate_array(items, schema, path, errors),
        _ => {}
    }
    validate_enum(value, schema, path, errors);
    if let Value::Object(map) = value {
        validate_object(map, schema, path, errors);
    }
}

fn validate_string(
    text: &str,
    value: &Value,
    schema: &Value,
    path: Path<'_>,
    errors: &mut Vec<FieldError>,
) {
    let length = text.chars().count() as u64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && length > max
    {
        errors.push(FieldError::too_long(path.to_string(), max));
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && length < min
    {
        let detail = in_body(path, &format!("should be at least {min} chars long"));
        errors.push(FieldError::invalid(path.to_string(), value, &detail));
    }
    if let Some(source) = schema.get("pattern").and_then(Value::as_str)
        && let Some(pattern) = Pattern::compile(source)
        && !pattern.is_match(text)
    {
        let detail = in_body(path, &format!("should match '{source}'"));
        errors.push(FieldError::invalid(path.to_string(), value, &detail));
    }
}

fn validate_number(value: &Value, schema: &Value, path: Path<'_>, errors: &mut Vec<FieldError>) {
    let Some(number) = value.as_f64() else { return };
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        let exclusive = flag(schema, "exclusiveMaximum");
        if number > max || (exclusive && number >= max) {
            let relation = if exclusive {
                "less than"
            } else {
                "less than or equal to"
            };
            let detail = in_body(path, &format!("should be {relation} {}", go_float(max)));
            errors.push(FieldError::invalid(path.to_string(), value, &detail));
        }
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        let exclusive = flag(schema, "exclusiveMinimum");
        if number < min || (exclusive && number <= min) {
            let relation = if exclusive {
                "greater than"
            } else {
                "greater than or equal to"
            };
            let detail = in_body(path, &format!("should be {relation} {}", go_float(min)));
            errors.push(FieldError::invalid(path.to_string(), value, &detail));
        }
    }
}

fn validate_array(items: &[Value], schema: &Value, path: Path<'_>, errors: &mut Vec<FieldError>) {
    if let Some(item_schema) = schema.get("items") {
        for (index, item) in items.iter().enumerate() {
            validate_value(item, item_schema, Path::Index(&path, index), errors);
        }
    }
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && (items.len() as u64) < min
    {
        let detail = in_body(path, &format!("should have at least {min} items"));
        errors.push(FieldError::invalid(
            path.to_string(),
            &json!(items.len()),
            &detail,
        ));
    }
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && items.len() as u64 > max
    {
        errors.push(FieldError::too_many(path.to_string(), items.len(), max));
    }
}

fn validate_enum(value: &Value, schema: &Value, path: Path<'_>, errors: &mut Vec<FieldError>) {
    let Some(allowed) = schema.get("enum").and_then(Value::as_array) else {
        return;
    };
    if allowed.iter().any(|a| same_json(a, value)) {
        return;
    }
    let shown: Vec<String> = allowed
        .iter()
        .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_owned))
        .collect();
    let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
    errors.push(FieldError::not_supported(path.to_string(), value, &shown));
}

/// JSON equality where `1` and `1.0` are the same number.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn validate_object(
    map: &Map<String, Value>,
    schema: &Value,
    path: Path<'_>,
    errors: &mut Vec<FieldError>,
) {
    let props = properties(schema);
    let additional = additional_properties(schema).filter(|s| s.is_object());
    for (key, value) in map {
        if let Some(child) = props.and_then(|p| p.get(key)).or(additional) {
            validate_value(value, child, Path::Field(&path, key), errors);
        }
    }
    let required = schema.get("required").and_then(Value::as_array);
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        if !map.contains_key(name) {
            errors.push(FieldError::required(Path::Field(&path, name).to_string()));
        }
    }
}

/// A value as Go's `%v`/`%q` prints a field error's bad value.
fn go_value(value: &Value) -> String {
    match value {
        Value::String(s) => go_quote(s),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => go_float(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Go's `%v` for a float64 in the ranges that occur here: whole numbers
/// print without a fraction.
fn go_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{f:.0}")
    } else {
        format!("{f}")
    }
}

/// Go's `strconv.Quote`: double quotes, backslash escapes for quotes,
/// backslashes and control characters.
fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                // Formatting into a String cannot fail.
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A small schema in the shape of an operator CRD, written for these tests.
    fn widget_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": {
                    "type": "object",
                    "required": ["cidr"],
                    "properties": {
                        "cidr": {"type": "string", "minLength": 1},
                        "mode": {"type": "string", "enum": ["Always", "CrossSubnet", "Never"]},
                        "blockSize": {"type": "integer", "minimum": 20, "maximum": 32},
                        "ratio": {"type": "number", "exclusiveMinimum": true, "minimum": 0},
                        "prefix": {"type": "string", "pattern": "^[0-9A-F]{2}-[0-9A-F]{2}$"},
                        "label": {"type": "string", "maxLength": 5},
                        "enabled": {"type": "boolean", "default": true},
                        "note": {"type": "string", "nullable": true},
                        "port": {"x-kubernetes-int-or-string": true},
                        "pools": {
                            "type": "array",
                            "maxItems": 2,
                            "items": {
                                "type": "object",
                                "required": ["cidr"],
                                "properties": {
                                    "cidr": {"type": "string"},
                                    "nat": {"type": "string", "enum": ["Enabled", "Disabled"]}
                                }
                            }
                        },
                        "slots": {"type": "array", "items": {"type": "integer", "nullable": true}},
                        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "labels": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "properties": {"value": {"type": "string"}}
                            }
                        },
                        "overrides": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "template": {
                            "type": "object",
                            "x-kubernetes-embedded-resource": true,
                            "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}
                        }
                    }
                }
            }
        })
    }

    fn widget(spec: Value) -> Value {
        let mut obj =
            json!({"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"}});
        obj["spec"] = spec;
        obj
    }

    fn errors_of(spec: Value) -> Vec<String> {
        let mut obj = widget(spec);
        prune_and_validate(&mut obj, &widget_schema())
            .errors
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn prunes_unknown_fields_at_every_depth() {
        let mut obj = json!({
            "apiVersion": "example.org/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "labels": {"a": "b"}, "madeUp": 1},
            "stray": true,
            "spec": {
                "cidr": "10.0.0.0/16",
                "bogus": "x",
                "pools": [{"cidr": "10.1.0.0/16", "extra": 1}, {"cidr": "10.2.0.0/16"}],
                "labels": {"k": {"value": "v", "junk": 2}},
                "counts": {"10.0.0.0/26": 3},
                "overrides": {"anything": {"deep": [1, 2]}},
                "template": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "p", "whatever": 1},
                    "spec": {"x": "y", "z": 1},
                    "other": 1
                }
            }
        });
        let outcome = prune_and_validate(&mut obj, &widget_schema());
        assert_eq!(
            outcome.unknown_fields,
            vec![
                "spec.bogus",
                "spec.labels.k.junk",
                "spec.pools[0].extra",
                "spec.template.other",
                "spec.template.spec.z",
                "stray",
            ]
        );
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        // Root metadata and an embedded resource's metadata are kept verbatim.
        assert_eq!(
            obj["metadata"],
            json!({"name": "w", "labels": {"a": "b"}, "madeUp": 1})
        );
        assert_eq!(
            obj["spec"]["template"]["metadata"],
            json!({"name": "p", "whatever": 1})
        );
        assert_eq!(obj["spec"]["template"]["kind"], "Pod");
        assert_eq!(
            obj["spec"]["overrides"],
            json!({"anything": {"deep": [1, 2]}})
        );
        assert_eq!(obj["spec"]["counts"], json!({"10.0.0.0/26": 3}));
        assert_eq!(obj["spec"]["pools"][0], json!({"cidr": "10.1.0.0/16"}));
        assert!(obj.get("stray").is_none());
    }

    #[test]
    fn root_metadata_is_never_rewritten() {
        let mut obj = json!({"apiVersion": "example.org/v1", "kind": "Widget", "metadata": null, "spec": {"cidr": "c"}});
        let outcome = prune_and_validate(&mut obj, &widget_schema());
        assert!(outcome.unknown_fields.is_empty());
        assert_eq!(obj["metadata"], Value::Null);
        assert!(obj.as_object().is_some_and(|o| o.contains_key("metadata")));
    }

    #[test]
    fn nulls_are_dropped_unless_nullable_and_defaults_fill_gaps() {
        let mut obj = widget(
            json!({"cidr": "c", "mode": null, "note": null, "enabled": null, "slots": [0, null, 2]}),
        );
        let outcome = prune_and_validate(&mut obj, &widget_schema());
        assert!(outcome.is_valid(), "{:?}", outcome.errors);
        assert!(outcome.unknown_fields.is_empty());
        assert!(obj["spec"].get("mode").is_none());
        assert_eq!(obj["spec"]["note"], Value::Null);
        assert_eq!(obj["spec"]["enabled"], json!(true));
        assert_eq!(obj["spec"]["slots"], json!([0, null, 2]));

        let mut absent = widget(json!({"cidr": "c"}));
        prune_and_validate(&mut absent, &widget_schema());
        assert_eq!(absent["spec"]["enabled"], json!(true));
        let mut explicit = widget(json!({"cidr": "c", "enabled": false}));
        prune_and_validate(&mut explicit, &widget_schema());
        assert_eq!(explicit["spec"]["enabled"], json!(false));
    }

    #[test]
    fn enum_and_required_errors_carry_exact_paths() {
        assert_eq!(
            errors_of(json!({"mode": "Sometimes", "pools": [{"cidr": "a", "nat": "On"}, {}]})),
            vec![
                r#"spec.mode: Unsupported value: "Sometimes": supported values: "Always", "CrossSubnet", "Never""#,
                r#"spec.pools[0].nat: Unsupported value: "On": supported values: "Enabled", "Disabled""#,
                "spec.pools[1].cidr: Required value",
                "spec.cidr: Required value",
            ]
        );
    }

    #[test]
    fn type_errors_name_the_actual_type() {
        assert_eq!(
            errors_of(
                json!({"cidr": 5, "blockSize": "26", "enabled": "yes", "slots": [1, "two"], "port": true})
            ),
            vec![
                r#"spec.blockSize: Invalid value: "string": spec.blockSize in body must be of type integer: "string""#,
                r#"spec.cidr: Invalid value: "integer": spec.cidr in body must be of type string: "integer""#,
                r#"spec.enabled: Invalid value: "string": spec.enabled in body must be of type boolean: "string""#,
                r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#,
                r#"spec.slots[1]: Invalid value: "string": spec.slots[1] in body must be of type integer: "string""#,
            ]
        );
        // Whole floats pass as integers; int-or-string takes both.
        assert!(errors_of(json!({"cidr": "c", "blockSize": 26.0, "port": "http"})).is_empty());
        assert!(errors_of(json!({"cidr": "c", "port": 8080})).is_empty());
        assert_eq!(
            errors_of(json!({"cidr": "c", "blockSize": 26.5})),
            vec![
                r#"spec.blockSize: Invalid value: "number": spec.blockSize in body must be of type integer: "number""#
            ]
        );
    }

    #[test]
    fn pattern_bounds_and_lengths() {
        assert_eq!(
            errors_of(json!({
                "cidr": "",
                "blockSize": 33,
                "ratio": 0,
                "prefix": "0e-2a",
                "label": "toolong",
                "pools": [{"cidr": "a"}, {"cidr": "b"}, {"cidr": "c"}]
            })),
            vec![
                "spec.blockSize: Invalid value: 33: spec.blockSize in body should be less than or equal to 32",
                r#"spec.cidr: Invalid value: "": spec.cidr in body should be at least 1 chars long"#,
                "spec.label: Too long: may not be more than 5 bytes",
                "spec.pools: Too many: 3: must have at most 2 items",
                r#"spec.prefix: Invalid value: "0e-2a": spec.prefix in body should match '^[0-9A-F]{2}-[0-9A-F]{2}$'"#,
                "spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0",
            ]
        );
        assert_eq!(
            errors_of(json!({"cidr": "c", "blockSize": 19})),
            vec![
                "spec.blockSize: Invalid value: 19: spec.blockSize in body should be greater than or equal to 20"
            ]
        );
        assert!(
            errors_of(json!({"cidr": "c", "blockSize": 20, "prefix": "0E-2A", "label": "12345"}))
                .is_empty()
        );
    }

    #[test]
    fn additional_properties_values_are_validated() {
        assert_eq!(
            errors_of(json!({"cidr": "c", "counts": {"a": 1, "b": "x"}})),
            vec![
                r#"spec.counts.b: Invalid value: "string": spec.counts.b in body must be of type integer: "string""#
            ]
        );
    }

    #[test]
    fn root_level_required_and_root_type() {
        let schema = json!({"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}});
        let mut obj = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n"}});
        let outcome = prune_and_validate(&mut obj, &schema);
        assert_eq!(outcome.errors, vec![FieldError::required("spec")]);
        assert_eq!(outcome.errors[0].to_string(), "spec: Required value");
    }

    #[test]
    fn invalid_status_message_and_causes() {
        let errors = vec![
            FieldError::not_supported("spec.x", &json!("Y"), &["A", "B"]),
            FieldError::required("spec.y"),
        ];
        let (message, causes) =
            invalid_status_parts("Installation.operator.tigera.io", "default", &errors);
        assert_eq!(
            message,
            r#"Installation.operator.tigera.io "default" is invalid: [spec.x: Unsupported value: "Y": supported values: "A", "B", spec.y: Required value]"#
        );
        assert_eq!(
            causes,
            json!([
                {"reason": "FieldValueNotSupported", "message": r#"Unsupported value: "Y": supported values: "A", "B""#, "field": "spec.x"},
                {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.y"}
            ])
        );
        let (single, _) = invalid_status_parts(
            "IPAMBlock.crd.projectcalico.org",
            "10-0-0-0-26",
            &errors[1..],
        );
        assert_eq!(
            single,
            r#"IPAMBlock.crd.projectcalico.org "10-0-0-0-26" is invalid: spec.y: Required value"#
        );
        let doubled = [
            FieldError::required("spec.y"),
            FieldError::required("spec.y"),
        ];
        let (deduplicated, causes) = invalid_status_parts("K.g", "n", &doubled);
        assert_eq!(
            deduplicated,
            r#"K.g "n" is invalid: spec.y: Required value"#
        );
        assert_eq!(causes.as_array().map(Vec::len), Some(2));
        let (empty, _) = invalid_status_parts("K.g", "n", &[]);
        assert_eq!(empty, r#"K.g "n" is invalid"#);
    }

    #[test]
    fn invalid_status_object() {
        let status = invalid_status(
            "Installation",
            "operator.tigera.io",
            "default",
            &[FieldError::required("spec.y")],
        );
        assert_eq!(status["code"], 422);
        assert_eq!(status["reason"], "Invalid");
        assert_eq!(status["status"], "Failure");
        assert_eq!(status["details"]["group"], "operator.tigera.io");
        assert_eq!(status["details"]["kind"], "Installation");
        assert_eq!(status["details"]["causes"][0]["field"], "spec.y");
        let core = invalid_status(
            "Node",
            "",
            "n1",
            &[FieldError::forbidden("spec.x", "not allowed")],
        );
        assert!(core["details"].get("group").is_none());
        assert_eq!(
            core["message"],
            r#"Node "n1" is invalid: spec.x: Forbidden: not allowed"#
        );
    }

    #[test]
    fn field_validation_query_parameter() {
        assert_eq!(FieldValidation::from_query(None), Ok(FieldValidation::Warn));
        assert_eq!(
            FieldValidation::from_query(Some("")),
            Ok(FieldValidation::Warn)
        );
        assert_eq!(
            FieldValidation::from_query(Some("Strict")),
            Ok(FieldValidation::Strict)
        );
        assert_eq!(
            FieldValidation::from_query(Some("Ignore")),
            Ok(FieldValidation::Ignore)
        );
        let error = FieldValidation::from_query(Some("strict")).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn""#
        );
        assert_eq!(FieldValidation::default().as_str(), "Warn");
    }

    #[test]
    fn unknown_field_texts() {
        let fields = vec!["spec.foo".to_owned(), "spec.bar[0].baz".to_owned()];
        assert_eq!(
            unknown_field_message(&fields),
            r#"strict decoding error: unknown field "spec.foo", unknown field "spec.bar[0].baz""#
        );
        assert_eq!(
            unknown_field_warnings(&fields),
            vec![
                r#"unknown field "spec.foo""#,
                r#"unknown field "spec.bar[0].baz""#
            ]
        );
        assert_eq!(
            strict_decoding_bad_request_message("Installation", "v1", &fields[..1]),
            r#"Installation in version "v1" cannot be handled as a Installation: strict decoding error: unknown field "spec.foo""#
        );
    }

    #[test]
    fn go_quoting_of_values() {
        assert_eq!(go_quote("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\x01""#);
        assert_eq!(go_value(&json!(1.5)), "1.5");
        assert_eq!(go_value(&json!(true)), "true");
        assert_eq!(go_value(&json!({"a": 1})), r#"{"a":1}"#);
        assert_eq!(go_float(32.0), "32");
    }

    #[test]
    fn version_schema_finds_the_named_version() {
        let crd = json!({"spec": {"versions": [
            {"name": "v1beta1", "schema": {"openAPIV3Schema": {"type": "object", "description": "old"}}},
            {"name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "description": "new"}}}
        ]}});
        assert_eq!(
            version_schema(&crd, "v1").and_then(|s| s["description"].as_str()),
            Some("new")
        );
        assert!(version_schema(&crd, "v2").is_none());
    }
}
