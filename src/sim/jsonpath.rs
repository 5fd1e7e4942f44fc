//! The JSONPath subset Kubernetes uses for CRD `additionalPrinterColumns` (client-go's
//! `util/jsonpath` dialect): `.a.b`, `['x.y']`, `[0]`, `[-1]`, `[1:3]`, `[*]`, `.*`, `..name`, and
//! filters such as `[?(@.type=="Ready")]` or `[?(@.ready)]`. It only reads `serde_json::Value`s;
//! it owns no state and must not know about tables, kinds or storage. Missing keys yield no
//! result rather than an error, as the printer-column evaluator allows.

use std::cmp::Ordering;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognized JSONPath {expression:?}: {reason}")]
pub struct JsonPathError {
    pub expression: String,
    pub reason: String,
}

/// A compiled path; parse once per column, evaluate per object.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Wildcard,
    /// `..`: the current nodes and all their descendants, before the next step applies.
    Descendants,
    Index(i64),
    Slice {
        start: Option<i64>,
        end: Option<i64>,
        step: Option<i64>,
    },
    Filter(Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    left: Operand,
    /// `None` is the existence test `[?(@.x)]`.
    comparison: Option<(Comparison, Operand)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// Relative to the element being filtered (`@`), or to the document root (`$`).
    Path {
        from_root: bool,
        steps: Vec<Step>,
    },
    Literal(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl JsonPath {
    /// Accepts `.a.b`, `$.a.b` and the template form `{.a.b}`.
    pub fn parse(expression: &str) -> Result<Self, JsonPathError> {
        let fail = |reason: String| JsonPathError {
            expression: expression.to_owned(),
            reason,
        };
        let trimmed = expression.trim();
        let body = match trimmed.strip_prefix('{') {
            Some(inner) => inner
                .strip_suffix('}')
                .ok_or_else(|| fail("unclosed '{'".to_owned()))?,
            None => trimmed,
        };
        let mut cursor = Cursor::new(body.trim());
        cursor.eat('$');
        let steps = cursor.steps().map_err(fail)?;
        if let Some(c) = cursor.peek() {
            return Err(fail(format!(
                "unexpected {c:?} at offset {}",
                cursor.position
            )));
        }
        Ok(Self { steps })
    }

    /// Every value the path selects, in document order.
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        evaluate(&self.steps, vec![root], root)
    }

    /// The first selected value, which is what a printer column shows.
    pub fn first<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        self.find(root).into_iter().next()
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

struct Cursor {
    chars: Vec<char>,
    position: usize,
}

/// Characters that end a bare field name.
fn ends_name(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '.' | '['
                | ']'
                | '('
                | ')'
                | '{'
                | '}'
                | '='
                | '!'
                | '<'
                | '>'
                | ','
                | '|'
                | '\''
                | '"'
                | '@'
                | '$'
        )
}

impl Cursor {
    fn new(text: &str) -> Self {
        Self {
            chars: text.chars().collect(),
            position: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.position + offset).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.position += 1;
        }
        found
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.position += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected {c:?} at offset {}", self.position))
        }
    }

    /// Steps until something that cannot continue a path (end, blank, operator, `)`).
    fn steps(&mut self) -> Result<Vec<Step>, String> {
        let mut steps = Vec::new();
        loop {
            match self.peek() {
                Some('.') if self.peek_at(1) == Some('.') => {
                    self.position += 2;
                    steps.push(Step::Descendants);
                    if self.peek() != Some('[') {
                        steps.push(self.member()?);
                    }
                }
                Some('.') => {
                    self.position += 1;
                    if self.peek() == Some('[') {
                        continue;
                    }
                    steps.push(self.member()?);
                }
                Some('[') => {
                    self.position += 1;
                    steps.push(self.bracket()?);
                }
                _ => return Ok(steps),
            }
        }
    }

    /// After a dot: a name or `*`.
    fn member(&mut self) -> Result<Step, String> {
        if self.eat('*') {
            return Ok(Step::Wildcard);
        }
        let start = self.position;
        while self.peek().is_some_and(|c| !ends_name(c)) {
            self.position += 1;
        }
        if start == self.position {
            return Err(format!("expected a field name at offset {start}"));
        }
        Ok(Step::Field(
            self.chars[start..self.position].iter().collect(),
        ))
    }

    /// After `[`: `*`, `?(...)`, a quoted key, an index or a slice; consumes the `]`.
    fn bracket(&mut self) -> Result<Step, String> {
        self.skip_blanks();
        let step = match self.peek() {
            Some('*') => {
                self.position += 1;
                Step::Wildcard
            }
            Some('?') => {
                self.position += 1;
                self.expect('(')?;
                let filter = self.filter()?;
                self.expect(')')?;
                Step::Filter(Box::new(filter))
            }
            Some(quote @ ('\'' | '"')) => {
                self.position += 1;
                Step::Field(self.quoted(quote)?)
            }
            _ => self.index_or_slice()?,
        };
        self.skip_blanks();
        self.expect(']')?;
        Ok(step)
    }

    fn quoted(&mut self, quote: char) -> Result<String, String> {
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return Err("unterminated quoted string".to_owned()),
                Some('\\') => {
                    self.position += 1;
                    let escaped = self.peek().ok_or("unterminated escape")?;
                    text.push(escaped);
                    self.position += 1;
                }
                Some(c) if c == quote => {
                    self.position += 1;
                    return Ok(text);
                }
                Some(c) => {
                    text.push(c);
                    self.position += 1;
                }
            }
        }
    }

    fn integer(&mut self) -> Result<Option<i64>, String> {
        self.skip_blanks();
        let start = self.position;
        if self.peek() == Some('-') {
            self.position += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.position += 1;
        }
        let text: String = self.chars[start..self.position].iter().collect();
        self.skip_blanks();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse()
            .map(Some)
            .map_err(|_| format!("invalid array index {text:?}"))
    }

    fn index_or_slice(&mut self) -> Result<Step, String> {
        let start = self.integer()?;
        if self.peek() != Some(':') {
            return start
                .map(Step::Index)
                .ok_or_else(|| format!("expected an index at offset {}", self.position));
        }
        self.position += 1;
        let end = self.integer()?;
        let step = if self.eat(':') { self.integer()? } else { None };
        Ok(Step::Slice { start, end, step })
    }

    fn filter(&mut self) -> Result<Filter, String> {
        self.skip_blanks();
        let left = self.operand()?;
        self.skip_blanks();
        let comparison = match self.comparison() {
            Some(op) => {
                self.skip_blanks();
                Some((op, self.operand()?))
            }
            None => None,
        };
        self.skip_blanks();
        Ok(Filter { left, comparison })
    }

    fn comparison(&mut self) -> Option<Comparison> {
        let two: String = [self.peek(), self.peek_at(1)].iter().flatten().collect();
        let (op, width) = match (two.as_str(), self.peek()) {
            ("==", _) => (Comparison::Equal, 2),
            ("!=", _) => (Comparison::NotEqual, 2),
            ("<=", _) => (Comparison::LessOrEqual, 2),
            (">=", _) => (Comparison::GreaterOrEqual, 2),
            (_, Some('<')) => (Comparison::Less, 1),
            (_, Some('>')) => (Comparison::Greater, 1),
            _ => return None,
        };
        self.position += width;
        Some(op)
    }

    fn operand(&mut self) -> Result<Operand, String> {
        match self.peek() {
            Some(origin @ ('@' | '$')) => {
                self.position += 1;
                Ok(Operand::Path {
                    from_root: origin == '$',
                    steps: self.steps()?,
                })
            }
            Some(quote @ ('\'' | '"')) => {
                self.position += 1;
                Ok(Operand::Literal(Value::String(self.quoted(quote)?)))
            }
            _ => self.literal(),
        }
    }

    /// A bare number, `true`, `false` or `null`.
    fn literal(&mut self) -> Result<Operand, String> {
        let start = self.position;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.'))
        {
            self.position += 1;
        }
        let text: String = self.chars[start..self.position].iter().collect();
        let value = match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            number => serde_json::from_str::<serde_json::Number>(number)
                .map(Value::Number)
                .map_err(|_| format!("unrecognized filter operand {number:?} at offset {start}"))?,
        };
        Ok(Operand::Literal(value))
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

fn evaluate<'a>(steps: &[Step], mut nodes: Vec<&'a Value>, root: &'a Value) -> Vec<&'a Value> {
    for step in steps {
        let mut next = Vec::new();
        for node in nodes {
            apply(step, node, root, &mut next);
        }
        nodes = next;
        if nodes.is_empty() {
            break;
        }
    }
    nodes
}

fn apply<'a>(step: &Step, node: &'a Value, root: &'a Value, out: &mut Vec<&'a Value>) {
    match (step, node) {
        (Step::Field(name), Value::Object(map)) => out.extend(map.get(name)),
        (Step::Wildcard, Value::Object(map)) => out.extend(map.values()),
        (Step::Wildcard, Value::Array(items)) => out.extend(items),
        (Step::Descendants, _) => descendants(node, out),
        (Step::Index(i), Value::Array(items)) => {
            out.extend(resolve_index(*i, items.len()).and_then(|i| items.get(i)));
        }
        (Step::Slice { start, end, step }, Value::Array(items)) => {
            slice(items, *start, *end, *step, out);
        }
        (Step::Filter(filter), Value::Array(items)) => {
            out.extend(items.iter().filter(|item| filter.accepts(item, root)));
        }
        _ => {}
    }
}

fn descendants<'a>(node: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(node);
    match node {
        Value::Object(map) => map.values().for_each(|v| descendants(v, out)),
        Value::Array(items) => items.iter().for_each(|v| descendants(v, out)),
        _ => {}
    }
}

fn resolve_index(i: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let absolute = if i < 0 { len + i } else { i };
    if (0..len).contains(&absolute) {
        usize::try_from(absolute).ok()
    } else {
        None
    }
}

/// Python-style slice bounds, clamped to the array.
fn slice<'a>(
    items: &'a [Value],
    start: Option<i64>,
    end: Option<i64>,
    step: Option<i64>,
    out: &mut Vec<&'a Value>,
) {
    let Ok(len) = i64::try_from(items.len()) else {
        return;
    };
    let clamp = |bound: i64| {
        if bound < 0 {
            (len + bound).max(0)
        } else {
            bound.min(len)
        }
    };
    let step = step.unwrap_or(1);
    if step <= 0 {
        return;
    }
    let mut i = clamp(start.unwrap_or(0));
    let end = clamp(end.unwrap_or(len));
    while i < end {
        if let Some(item) = usize::try_from(i).ok().and_then(|i| items.get(i)) {
            out.push(item);
        }
        i += step;
    }
}

impl Filter {
    fn accepts(&self, item: &Value, root: &Value) -> bool {
        let left = self.left.resolve(item, root);
        let Some((comparison, right)) = &self.comparison else {
            return left.is_some();
        };
        match (left, right.resolve(item, root)) {
            (Some(left), Some(right)) => compare(left, *comparison, right),
            _ => false,
        }
    }
}

impl Operand {
    /// The single value an operand denotes; several or none mean the element is skipped.
    fn resolve<'a>(&'a self, item: &'a Value, root: &'a Value) -> Option<&'a Value> {
        match self {
            Operand::Literal(value) => Some(value),
            Operand::Path { from_root, steps } => {
                let start = if *from_root { root } else { item };
                let found = evaluate(steps, vec![start], root);
                match found.as_slice() {
                    [one] => Some(*one),
                    _ => None,
                }
            }
        }
    }
}

/// Values of different types never compare; numbers compare by value whatever their JSON form.
fn compare(left: &Value, comparison: Comparison, right: &Value) -> bool {
    let ordering = match (left, right) {
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Number(a), Value::Number(b)) => compare_numbers(a, b),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    };
    let Some(ordering) = ordering else {
        return false;
    };
    match comparison {
        Comparison::Equal => ordering == Ordering::Equal,
        Comparison::NotEqual => ordering != Ordering::Equal,
        Comparison::Less => ordering == Ordering::Less,
        Comparison::LessOrEqual => ordering != Ordering::Greater,
        Comparison::Greater => ordering == Ordering::Greater,
        Comparison::GreaterOrEqual => ordering != Ordering::Less,
    }
}

fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed-path lookups
// ---------------------------------------------------------------------------------------------

/// Follows object keys and array indexes; the hot-path reader for stored objects, without the
/// per-segment allocations of `Value::pointer`.
pub fn walk<'a, 'p>(
    obj: &'a Value,
    segments: impl IntoIterator<Item = &'p str>,
) -> Option<&'a Value> {
    segments
        .into_iter()
        .try_fold(obj, |node, segment| match node {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// `walk` over a JSON-pointer-shaped literal such as "/status/podIPs/0/ip" (no `~` escapes).
pub fn at<'a>(obj: &'a Value, pointer: &str) -> Option<&'a Value> {
    walk(obj, pointer.split('/').skip(1))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "metadata": {"name": "calico", "labels": {"k8s-app": "calico-node", "kubernetes.io/os": "linux"}},
            "spec": {"containers": [
                {"name": "calico-node", "image": "calico/node:v3.29", "ports": [{"containerPort": 9091}]},
                {"name": "install-cni", "image": "calico/cni:v3.29"}
            ]},
            "status": {"conditions": [
                {"type": "Available", "status": "True", "lastTransitionTime": "2024-05-01T10:00:00Z"},
                {"type": "Progressing", "status": "False"},
                {"type": "Degraded", "status": "False", "message": ""}
            ], "replicas": 3, "ratio": 0.5}
        })
    }

    fn find(path: &str) -> Vec<Value> {
        let doc = doc();
        JsonPath::parse(path)
            .unwrap()
            .find(&doc)
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn plain_fields() {
        assert_eq!(find(".metadata.name"), vec![json!("calico")]);
        assert_eq!(find("$.metadata.name"), vec![json!("calico")]);
        assert_eq!(find("{.metadata.name}"), vec![json!("calico")]);
        assert_eq!(find(".status.replicas"), vec![json!(3)]);
        assert!(find(".metadata.missing.deeper").is_empty());
    }

    #[test]
    fn quoted_keys() {
        assert_eq!(
            find(".metadata.labels['kubernetes.io/os']"),
            vec![json!("linux")]
        );
        assert_eq!(
            find(".metadata.labels[\"k8s-app\"]"),
            vec![json!("calico-node")]
        );
        assert_eq!(find(".metadata.labels.k8s-app"), vec![json!("calico-node")]);
    }

    #[test]
    fn indexes_slices_and_wildcards() {
        assert_eq!(find(".spec.containers[0].name"), vec![json!("calico-node")]);
        assert_eq!(
            find(".spec.containers[-1].name"),
            vec![json!("install-cni")]
        );
        assert!(find(".spec.containers[5].name").is_empty());
        assert_eq!(
            find(".spec.containers[*].name"),
            vec![json!("calico-node"), json!("install-cni")]
        );
        assert_eq!(
            find(".spec.containers[0:1].image"),
            vec![json!("calico/node:v3.29")]
        );
        assert_eq!(
            find(".spec.containers[1:].image"),
            vec![json!("calico/cni:v3.29")]
        );
        assert_eq!(find(".metadata.labels.*").len(), 2);
        assert_eq!(find("..containerPort"), vec![json!(9091)]);
    }

    #[test]
    fn filters_select_elements() {
        assert_eq!(
            find(".status.conditions[?(@.type==\"Available\")].status"),
            vec![json!("True")]
        );
        assert_eq!(
            find(".status.conditions[?(@.type=='Degraded')].status"),
            vec![json!("False")]
        );
        assert_eq!(
            find(".status.conditions[?(@.type == \"Available\")].lastTransitionTime"),
            vec![json!("2024-05-01T10:00:00Z")]
        );
        assert_eq!(
            find(".status.conditions[?(@.status!=\"True\")].type"),
            vec![json!("Progressing"), json!("Degraded")]
        );
        assert_eq!(
            find(".status.conditions[?(@.message)].type"),
            vec![json!("Degraded")]
        );
        assert!(find(".status.conditions[?(@.type==\"Ready\")].status").is_empty());
        assert_eq!(
            find(".spec.containers[?(@.ports[0].containerPort>9000)].name"),
            vec![json!("calico-node")]
        );
        assert!(find(".spec.containers[?(@.ports[0].containerPort<9000)].name").is_empty());
        assert!(find(".spec.containers[?(@.name==1)].name").is_empty());
    }

    #[test]
    fn filters_compare_against_the_root() {
        let doc = json!({"want": "b", "items": [{"n": "a"}, {"n": "b"}]});
        let path = JsonPath::parse(".items[?(@.n==$.want)].n").unwrap();
        assert_eq!(path.find(&doc), vec![&json!("b")]);
    }

    #[test]
    fn first_takes_the_first_match() {
        let doc = doc();
        let path = JsonPath::parse(".spec.containers[*].image").unwrap();
        assert_eq!(path.first(&doc), Some(&json!("calico/node:v3.29")));
    }

    #[test]
    fn fixed_path_lookups() {
        let doc = doc();
        assert_eq!(
            at(&doc, "/spec/containers/1/name"),
            Some(&json!("install-cni"))
        );
        assert_eq!(at(&doc, "/spec/containers/x/name"), None);
        assert_eq!(at(&doc, "/metadata/labels/kubernetes.io~1os"), None);
        assert_eq!(
            walk(&doc, "metadata.labels.k8s-app".split('.')),
            Some(&json!("calico-node"))
        );
        assert_eq!(at(&doc, ""), Some(&doc));
    }

    #[test]
    fn parse_errors() {
        for bad in [".a[", ".a[?(@.x==)]", ".a['x]", "{.a", ".a]", ".a[x]", ".."] {
            assert!(JsonPath::parse(bad).is_err(), "{bad} should not parse");
        }
        let err = JsonPath::parse(".a[").unwrap_err();
        assert_eq!(err.expression, ".a[");
    }
}
