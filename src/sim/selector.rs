//! Label and field selectors as kube-apiserver 1.32 parses and applies them: the query-string
//! grammar (`a=b,c in (x,y),!d`, `spec.nodeName=n1`), the metav1.LabelSelector JSON form, key and
//! value validation with the server's error wording, and the per-kind field values a field selector
//! may name. It is pure: it owns no state and must not touch storage, HTTP or watches; the API
//! handlers decide what a parse error becomes (a 400 Status) and call `supported_fields` to reject
//! unknown field labels.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde_json::Value;

use super::jsonpath::{at, walk};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

fn error(message: impl Into<String>) -> SelectorError {
    SelectorError(message.into())
}

// ---------------------------------------------------------------------------------------------
// Name and value validation (the rules of k8s.io/apimachinery/pkg/util/validation)
// ---------------------------------------------------------------------------------------------

const QUALIFIED_NAME_MAX: usize = 63;
const LABEL_VALUE_MAX: usize = 63;
const DNS_SUBDOMAIN_MAX: usize = 253;
const QUALIFIED_NAME_RULE: &str = "must consist of alphanumeric characters, '-', '_' or '.', \
     and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or \
     '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_RULE: &str = "a valid label must be an empty string or consist of alphanumeric \
     characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. \
     'MyValue',  or 'my_value',  or '12345', regex used for validation is \
     '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const DNS_SUBDOMAIN_RULE: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
     alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character \
     (e.g. 'example.com', regex used for validation is \
     '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// Alphanumeric at both ends, `-_.` allowed inside: the shape shared by label names and values.
fn is_label_token(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

fn is_dns_label_part(part: &str) -> bool {
    let bytes = part.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            let lower_alnum = |b: &u8| b.is_ascii_digit() || b.is_ascii_lowercase();
            lower_alnum(first)
                && lower_alnum(last)
                && bytes.iter().all(|b| lower_alnum(b) || *b == b'-')
        }
        _ => false,
    }
}

/// Problems with `name` as a qualified name (`[prefix/]name`, e.g. a label key); empty when valid.
pub fn qualified_name_errors(name: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let parts: Vec<&str> = name.split('/').collect();
    let local = match parts.as_slice() {
        [local] => *local,
        [prefix, local] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_owned());
            } else {
                if prefix.len() > DNS_SUBDOMAIN_MAX {
                    errors.push(format!(
                        "prefix part must be no more than {DNS_SUBDOMAIN_MAX} characters"
                    ));
                }
                if !prefix.split('.').all(is_dns_label_part) {
                    errors.push(format!("prefix part {DNS_SUBDOMAIN_RULE}"));
                }
            }
            *local
        }
        _ => {
            errors.push(format!(
                "a qualified name {QUALIFIED_NAME_RULE} with an optional DNS subdomain prefix and '/' \
                 (e.g. 'example.com/MyName')"
            ));
            return errors;
        }
    };
    if local.is_empty() {
        errors.push("name part must be non-empty".to_owned());
    } else if local.len() > QUALIFIED_NAME_MAX {
        errors.push(format!(
            "name part must be no more than {QUALIFIED_NAME_MAX} characters"
        ));
    }
    if !is_label_token(local) {
        errors.push(format!("name part {QUALIFIED_NAME_RULE}"));
    }
    errors
}

/// Problems with `value` as a label value; empty when valid (the empty string is valid).
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > LABEL_VALUE_MAX {
        errors.push(format!("must be no more than {LABEL_VALUE_MAX} characters"));
    }
    if !value.is_empty() && !is_label_token(value) {
        errors.push(LABEL_VALUE_RULE.to_owned());
    }
    errors
}

/// A field-path validation failure rendered as the server renders `field.Invalid`.
fn invalid(path: &str, value: &str, problems: &[String]) -> String {
    format!(
        "{path}: Invalid value: {}: {}",
        go_quote(value),
        problems.join("; ")
    )
}

/// Go's `%q`: double quotes with backslash escapes.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                // Writing into a String cannot fail.
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Several validation failures read as the server's aggregate: one bare, more in brackets.
fn aggregate(errors: &[String]) -> Result<(), SelectorError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(SelectorError(errors.concat())),
        _ => Err(SelectorError(format!("[{}]", errors.join(", ")))),
    }
}

// ---------------------------------------------------------------------------------------------
// Label requirements
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelOperator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One clause of a label selector. Values are kept sorted and unique, as the server's set is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRequirement {
    key: String,
    operator: LabelOperator,
    values: Vec<String>,
}

impl LabelRequirement {
    /// Validates like the server's `NewRequirement`, reporting every problem at once.
    fn new(
        key: &str,
        operator: LabelOperator,
        mut values: Vec<String>,
    ) -> Result<Self, SelectorError> {
        let mut errors = Vec::new();
        let key_problems = qualified_name_errors(key);
        if !key_problems.is_empty() {
            errors.push(invalid("key", key, &key_problems));
        }
        errors.extend(operator_arity_errors(operator, &values));
        for (i, value) in values.iter().enumerate() {
            let problems = label_value_errors(value);
            if !problems.is_empty() {
                errors.push(invalid(&format!("values[{i}][{key}]"), value, &problems));
            }
        }
        aggregate(&errors)?;
        values.sort();
        values.dedup();
        Ok(Self {
            key: key.to_owned(),
            operator,
            values,
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> LabelOperator {
        self.operator
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn matches(&self, value: Option<&str>) -> bool {
        let listed = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            LabelOperator::Equals | LabelOperator::DoubleEquals | LabelOperator::In => {
                value.is_some_and(listed)
            }
            LabelOperator::NotEquals | LabelOperator::NotIn => !value.is_some_and(listed),
            LabelOperator::Exists => value.is_some(),
            LabelOperator::DoesNotExist => value.is_none(),
            LabelOperator::GreaterThan | LabelOperator::LessThan => self.compare_integers(value),
        }
    }

    fn compare_integers(&self, value: Option<&str>) -> bool {
        let Some(label) = value.and_then(|v| v.parse::<i64>().ok()) else {
            return false;
        };
        let Some(bound) = self.values.first().and_then(|v| v.parse::<i64>().ok()) else {
            return false;
        };
        if self.operator == LabelOperator::GreaterThan {
            label > bound
        } else {
            label < bound
        }
    }
}

fn operator_arity_errors(operator: LabelOperator, values: &[String]) -> Vec<String> {
    let values_path = "values";
    let shown = format!(
        "[]string{{{}}}",
        values
            .iter()
            .map(|v| go_quote(v))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut errors = Vec::new();
    match operator {
        LabelOperator::In | LabelOperator::NotIn if values.is_empty() => errors.push(format!(
            "{values_path}: Invalid value: {shown}: for 'in', 'notin' operators, values set can't be empty"
        )),
        LabelOperator::Equals | LabelOperator::DoubleEquals | LabelOperator::NotEquals if values.len() != 1 => {
            errors.push(format!(
                "{values_path}: Invalid value: {shown}: exact-match compatibility requires one single value"
            ));
        }
        LabelOperator::Exists | LabelOperator::DoesNotExist if !values.is_empty() => errors.push(format!(
            "{values_path}: Invalid value: {shown}: values set must be empty for exists and does not exist"
        )),
        LabelOperator::GreaterThan | LabelOperator::LessThan => {
            if values.len() != 1 {
                errors.push(format!(
                    "{values_path}: Invalid value: {shown}: for 'Gt', 'Lt' operators, exactly one value is required"
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    errors.push(format!(
                        "{values_path}[{i}]: Invalid value: {}: for 'Gt', 'Lt' operators, the value must be an integer",
                        go_quote(v)
                    ));
                }
            }
        }
        _ => {}
    }
    errors
}

impl fmt::Display for LabelRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined = || self.values.join(",");
        match self.operator {
            LabelOperator::Exists => write!(f, "{}", self.key),
            LabelOperator::DoesNotExist => write!(f, "!{}", self.key),
            LabelOperator::Equals => write!(f, "{}={}", self.key, joined()),
            LabelOperator::DoubleEquals => write!(f, "{}=={}", self.key, joined()),
            LabelOperator::NotEquals => write!(f, "{}!={}", self.key, joined()),
            LabelOperator::In => write!(f, "{} in ({})", self.key, joined()),
            LabelOperator::NotIn => write!(f, "{} notin ({})", self.key, joined()),
            LabelOperator::GreaterThan => write!(f, "{}>{}", self.key, joined()),
            LabelOperator::LessThan => write!(f, "{}<{}", self.key, joined()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Label selector
// ---------------------------------------------------------------------------------------------

/// A set of label requirements, all of which must hold. Two special forms exist, as on the
/// server: no requirements matches everything; `nothing` (a null metav1 selector) matches nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<LabelRequirement>,
    nothing: bool,
}

impl LabelSelector {
    /// Matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Matches no object (what a null metav1.LabelSelector means to controllers).
    pub fn nothing() -> Self {
        Self {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// The `labelSelector` query-parameter form. The empty string matches everything.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let tokens = lex(s);
        let mut requirements = Parser {
            tokens,
            position: 0,
        }
        .parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            requirements,
            nothing: false,
        })
    }

    /// The metav1.LabelSelector JSON form. `null` matches nothing; `{}` matches everything.
    pub fn from_json(sel: &Value) -> Result<Self, SelectorError> {
        let object = match sel {
            Value::Null => return Ok(Self::nothing()),
            Value::Object(object) => object,
            other => {
                return Err(error(format!(
                    "a label selector must be an object, not {other}"
                )));
            }
        };
        let mut requirements = Vec::new();
        match object.get("matchLabels") {
            None | Some(Value::Null) => {}
            Some(Value::Object(labels)) => {
                for (key, value) in labels {
                    let value = value.as_str().ok_or_else(|| {
                        error(format!(
                            "matchLabels[{key}]: value must be a string, not {value}"
                        ))
                    })?;
                    requirements.push(LabelRequirement::new(
                        key,
                        LabelOperator::Equals,
                        vec![value.to_owned()],
                    )?);
                }
            }
            Some(other) => {
                return Err(error(format!("matchLabels must be an object, not {other}")));
            }
        }
        match object.get("matchExpressions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(expressions)) => {
                for expression in expressions {
                    requirements.push(expression_requirement(expression)?);
                }
            }
            Some(other) => {
                return Err(error(format!(
                    "matchExpressions must be an array, not {other}"
                )));
            }
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            requirements,
            nothing: false,
        })
    }

    pub fn requirements(&self) -> &[LabelRequirement] {
        &self.requirements
    }

    /// True when the selector matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty() && !self.nothing
    }

    /// True for the null metav1 form, which matches nothing.
    pub fn matches_nothing(&self) -> bool {
        self.nothing
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_lookup(|key| labels.get(key).map(String::as_str))
    }

    /// `labels` is `metadata.labels` of an object; absent or non-object means no labels.
    pub fn matches_json(&self, labels: Option<&Value>) -> bool {
        let map = labels.and_then(Value::as_object);
        self.matches_lookup(|key| map.and_then(|m| m.get(key)).and_then(Value::as_str))
    }

    fn matches_lookup<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(get(&r.key)))
    }
}

/// The server's canonical text: requirements sorted by key, comma-joined; empty when the selector
/// matches everything or nothing.
impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

fn expression_requirement(expression: &Value) -> Result<LabelRequirement, SelectorError> {
    let key = expression
        .get("key")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let operator_text = expression
        .get("operator")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let operator = match operator_text {
        "In" => LabelOperator::In,
        "NotIn" => LabelOperator::NotIn,
        "Exists" => LabelOperator::Exists,
        "DoesNotExist" => LabelOperator::DoesNotExist,
        other => {
            return Err(error(format!(
                "{} is not a valid label selector operator",
                go_quote(other)
            )));
        }
    };
    let values = match expression.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| error(format!("values: {v} is not a string")))
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(error(format!("values must be an array, not {other}"))),
    };
    LabelRequirement::new(key, operator, values)
}

// ---------------------------------------------------------------------------------------------
// Query-string lexer and parser
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Identifier(String),
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
    OpenParen,
    CloseParen,
    Comma,
    Bang,
    End,
}

impl Token {
    fn literal(&self) -> &str {
        match self {
            Token::Identifier(s) => s,
            Token::In => "in",
            Token::NotIn => "notin",
            Token::Equals => "=",
            Token::DoubleEquals => "==",
            Token::NotEquals => "!=",
            Token::GreaterThan => ">",
            Token::LessThan => "<",
            Token::OpenParen => "(",
            Token::CloseParen => ")",
            Token::Comma => ",",
            Token::Bang => "!",
            Token::End => "",
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

/// The token an operator character starts, and how many characters it spans.
fn symbol(c: char, next: Option<char>) -> (Token, usize) {
    match (c, next) {
        ('=', Some('=')) => (Token::DoubleEquals, 2),
        ('!', Some('=')) => (Token::NotEquals, 2),
        ('=', _) => (Token::Equals, 1),
        ('!', _) => (Token::Bang, 1),
        ('>', _) => (Token::GreaterThan, 1),
        ('<', _) => (Token::LessThan, 1),
        ('(', _) => (Token::OpenParen, 1),
        (')', _) => (Token::CloseParen, 1),
        // `is_special` leaves only ',' for this arm.
        _ => (Token::Comma, 1),
    }
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits the selector into tokens. Operator characters take the longest known symbol, so `!=`
/// is one token and `=(` is two.
fn lex(s: &str) -> Vec<Token> {
    let chars: Vec<char> = s.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_blank(c) {
            i += 1;
        } else if is_special(c) {
            let (token, width) = symbol(c, chars.get(i + 1).copied());
            tokens.push(token);
            i += width;
        } else {
            let start = i;
            while i < chars.len() && !is_special(chars[i]) && !is_blank(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push(match word.as_str() {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Identifier(word),
            });
        }
    }
    tokens.push(Token::End);
    tokens
}

/// Where a token is read: keys and values treat the words `in`/`notin` as plain identifiers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Values,
    Operator,
}

struct Parser {
    tokens: Vec<Token>,
    position: usize,
}

impl Parser {
    fn lookahead(&self, context: Context) -> Token {
        let token = self
            .tokens
            .get(self.position)
            .cloned()
            .unwrap_or(Token::End);
        match (&token, context) {
            (Token::In | Token::NotIn, Context::Values) => {
                Token::Identifier(token.literal().to_owned())
            }
            _ => token,
        }
    }

    fn consume(&mut self, context: Context) -> Token {
        let token = self.lookahead(context);
        if self.position < self.tokens.len() {
            self.position += 1;
        }
        token
    }

    fn parse(&mut self) -> Result<Vec<LabelRequirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            match self.lookahead(Context::Values) {
                Token::Identifier(_) | Token::Bang => {
                    let requirement = self
                        .requirement()
                        .map_err(|e| error(format!("unable to parse requirement: {e}")))?;
                    requirements.push(requirement);
                    match self.consume(Context::Values) {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let next = self.lookahead(Context::Values);
                            if !matches!(next, Token::Identifier(_) | Token::Bang) {
                                return Err(error(format!(
                                    "found '{}', expected: identifier after ','",
                                    next.literal()
                                )));
                            }
                        }
                        other => {
                            return Err(error(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                other.literal()
                            )));
                        }
                    }
                }
                Token::End => return Ok(requirements),
                other => {
                    return Err(error(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        other.literal()
                    )));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<LabelRequirement, SelectorError> {
        let (key, unary) = self.key_and_unary_operator()?;
        if let Some(operator) = unary {
            return LabelRequirement::new(&key, operator, Vec::new());
        }
        let operator = self.binary_operator()?;
        let values = match operator {
            LabelOperator::In | LabelOperator::NotIn => self.value_set()?,
            _ => self.exact_value()?,
        };
        LabelRequirement::new(&key, operator, values)
    }

    /// Reads `key` or `!key`; returns the unary operator when the clause ends right after the key.
    fn key_and_unary_operator(&mut self) -> Result<(String, Option<LabelOperator>), SelectorError> {
        let mut token = self.consume(Context::Values);
        let negated = token == Token::Bang;
        if negated {
            token = self.consume(Context::Values);
        }
        let Token::Identifier(key) = token else {
            return Err(error(format!(
                "found '{}', expected: identifier",
                token.literal()
            )));
        };
        let problems = qualified_name_errors(&key);
        if !problems.is_empty() {
            // The server validates the bare key with no field path, which Go prints as "<nil>".
            return Err(error(invalid("<nil>", &key, &problems)));
        }
        let ends = matches!(self.lookahead(Context::Values), Token::End | Token::Comma);
        let unary = if negated {
            Some(LabelOperator::DoesNotExist)
        } else if ends {
            Some(LabelOperator::Exists)
        } else {
            None
        };
        Ok((key, unary))
    }

    fn binary_operator(&mut self) -> Result<LabelOperator, SelectorError> {
        Ok(match self.consume(Context::Operator) {
            Token::In => LabelOperator::In,
            Token::NotIn => LabelOperator::NotIn,
            Token::Equals => LabelOperator::Equals,
            Token::DoubleEquals => LabelOperator::DoubleEquals,
            Token::NotEquals => LabelOperator::NotEquals,
            Token::GreaterThan => LabelOperator::GreaterThan,
            Token::LessThan => LabelOperator::LessThan,
            other => {
                return Err(error(format!(
                    "found '{}', expected: in, notin, =, ==, !=, gt, lt",
                    other.literal()
                )));
            }
        })
    }

    fn exact_value(&mut self) -> Result<Vec<String>, SelectorError> {
        if matches!(self.lookahead(Context::Values), Token::End | Token::Comma) {
            return Ok(vec![String::new()]);
        }
        match self.consume(Context::Values) {
            Token::Identifier(value) => Ok(vec![value]),
            other => Err(error(format!(
                "found '{}', expected: identifier",
                other.literal()
            ))),
        }
    }

    /// `( a, b )`; empty members such as `(,x)` or `()` stand for the empty value.
    fn value_set(&mut self) -> Result<Vec<String>, SelectorError> {
        let open = self.consume(Context::Values);
        if open != Token::OpenParen {
            return Err(error(format!("found '{}' expected: '('", open.literal())));
        }
        match self.lookahead(Context::Values) {
            Token::CloseParen => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            first @ (Token::Identifier(_) | Token::Comma) => {
                let values = self.value_list()?;
                if self.consume(Context::Values) != Token::CloseParen {
                    return Err(error(format!("found '{}', expected: ')'", first.literal())));
                }
                Ok(values)
            }
            other => Err(error(format!(
                "found '{}', expected: ',', ')' or identifier",
                other.literal()
            ))),
        }
    }

    fn value_list(&mut self) -> Result<Vec<String>, SelectorError> {
        let mut values = Vec::new();
        loop {
            match self.consume(Context::Values) {
                Token::Identifier(value) => {
                    values.push(value);
                    match self.lookahead(Context::Values) {
                        Token::Comma => {}
                        Token::CloseParen => return Ok(values),
                        other => {
                            return Err(error(format!(
                                "found '{}', expected: ',' or ')'",
                                other.literal()
                            )));
                        }
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    match self.lookahead(Context::Values) {
                        Token::CloseParen => {
                            values.push(String::new());
                            return Ok(values);
                        }
                        Token::Comma => {
                            self.consume(Context::Values);
                            values.push(String::new());
                        }
                        _ => {}
                    }
                }
                other => {
                    return Err(error(format!(
                        "found '{}', expected: ',', or identifier",
                        other.literal()
                    )));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Field selector
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOperator {
    Equals,
    NotEquals,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub operator: FieldOperator,
    pub value: String,
}

/// `field=value` terms joined by commas; `==` is a synonym of `=`. Values are stored unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut terms = split_terms(s);
        // The server sorts the raw terms first, which decides which bad term an error names.
        terms.sort_unstable();
        let mut requirements = Vec::with_capacity(terms.len());
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let Some((field, operator, raw)) = split_term(term) else {
                return Err(error(format!(
                    "invalid selector: '{s}'; can't understand '{term}'"
                )));
            };
            requirements.push(FieldRequirement {
                field: field.to_owned(),
                operator,
                value: unescape_value(raw)?,
            });
        }
        Ok(Self { requirements })
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// The field names used, for the server to check against `supported_fields`.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.requirements.iter().map(|r| r.field.as_str())
    }

    /// The value an `=` term demands of `field`, if any: lets a store answer
    /// `spec.nodeName=n1` or `metadata.name=x` from an index instead of a scan.
    pub fn required_value(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }

    /// A field `get` does not know compares as the empty string, as on the server.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let actual = get(&r.field).unwrap_or_default();
            (actual == r.value) == (r.operator == FieldOperator::Equals)
        })
    }

    /// Convenience for stored objects: matches through `field_value`.
    pub fn matches_object(&self, kind: &str, obj: &Value) -> bool {
        self.matches(|field| field_value(kind, obj, field))
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = if r.operator == FieldOperator::Equals {
                "="
            } else {
                "!="
            };
            write!(f, "{}{op}{}", r.field, escape_value(&r.value))?;
        }
        Ok(())
    }
}

fn escape_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace('=', "\\=")
}

/// Splits on commas that are not escaped; the escapes stay in the terms.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// The first operator in the term splits it; the field part has no escaping.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (symbol, operator) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::Equals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(symbol) {
                return Some((&term[..i], operator, value));
            }
        }
    }
    None
}

fn unescape_value(raw: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(raw.len());
    let mut escaped = false;
    for c in raw.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(error(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                )));
            }
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if matches!(c, ',' | '=') {
            // The server prints the rune with %v, i.e. as its code point number.
            return Err(error(format!(
                "invalid field selector: unescaped character in value: {}",
                u32::from(c)
            )));
        } else {
            out.push(c);
        }
    }
    if escaped {
        return Err(error("invalid field selector: invalid escape sequence: \\"));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Field values per kind
// ---------------------------------------------------------------------------------------------

const META_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];
const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
    "spec.host",
];
const NODE_FIELDS: &[&str] = &["metadata.name", "spec.unschedulable"];
const NAMESPACE_FIELDS: &[&str] = &["metadata.name", "status.phase"];
const EVENT_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];
const SECRET_FIELDS: &[&str] = &["metadata.name", "metadata.namespace", "type"];
const SERVICE_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.clusterIP",
    "spec.type",
];
const REPLICA_FIELDS: &[&str] = &["metadata.name", "metadata.namespace", "status.replicas"];
const JOB_FIELDS: &[&str] = &["metadata.name", "metadata.namespace", "status.successful"];

/// The field labels the server accepts in a field selector for `kind`. Kinds without their own
/// list (custom resources included) accept the two metadata fields.
pub fn supported_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => POD_FIELDS,
        "Node" => NODE_FIELDS,
        "Namespace" => NAMESPACE_FIELDS,
        "Event" => EVENT_FIELDS,
        "Secret" => SECRET_FIELDS,
        "Service" => SERVICE_FIELDS,
        "ReplicaSet" | "ReplicationController" => REPLICA_FIELDS,
        "Job" => JOB_FIELDS,
        _ => META_FIELDS,
    }
}

/// The value `field` has on `obj` for selection, as the server exposes it; `None` when `kind`
/// does not support the field. Absent data reads as its zero value ("", "false", "0").
pub fn field_value(kind: &str, obj: &Value, field: &str) -> Option<String> {
    if !supported_fields(kind).contains(&field) {
        return None;
    }
    let text = |pointer: &str| {
        at(obj, pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let flag = |pointer: &str| {
        at(obj, pointer)
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .to_string()
    };
    let count = |pointer: &str| {
        at(obj, pointer)
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .to_string()
    };
    Some(match (kind, field) {
        (_, "metadata.name") => text("/metadata/name"),
        (_, "metadata.namespace") => text("/metadata/namespace"),
        ("Pod", "spec.host") => text("/spec/nodeName"),
        ("Pod", "spec.hostNetwork") => flag("/spec/hostNetwork"),
        ("Pod", "status.podIP") => pod_ip(obj),
        ("Node", "spec.unschedulable") => flag("/spec/unschedulable"),
        ("Event", "source") => {
            let component = text("/source/component");
            if component.is_empty() {
                text("/reportingComponent")
            } else {
                component
            }
        }
        (_, "status.replicas") => count("/status/replicas"),
        (_, "status.successful") => count("/status/succeeded"),
        (_, dotted) => walk(obj, dotted.split('.'))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    })
}

/// The first of `status.podIPs`, falling back to the singular field older writers fill.
fn pod_ip(pod: &Value) -> String {
    at(pod, "/status/podIPs/0/ip")
        .or_else(|| at(pod, "/status/podIP"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn parse_err(s: &str) -> String {
        LabelSelector::parse(s).expect_err(s).0
    }

    #[test]
    fn empty_label_selector_matches_everything() {
        let sel = LabelSelector::parse("").unwrap();
        assert!(sel.is_empty());
        assert!(sel.matches(&labels(&[])));
        assert!(sel.matches_json(None));
        assert_eq!(LabelSelector::parse("  ").unwrap(), sel);
    }

    #[test]
    fn equality_and_inequality() {
        let sel = LabelSelector::parse("app=web,tier!=db").unwrap();
        assert!(sel.matches(&labels(&[("app", "web")])));
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "front")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!sel.matches(&labels(&[("tier", "front")])));
        let double = LabelSelector::parse("app==web").unwrap();
        assert!(double.matches(&labels(&[("app", "web")])));
        assert_eq!(double.to_string(), "app==web");
    }

    #[test]
    fn set_operators_and_existence() {
        let sel =
            LabelSelector::parse("env in (prod, staging),zone notin (z1),team,!legacy").unwrap();
        let ok = labels(&[("env", "prod"), ("team", "a")]);
        assert!(sel.matches(&ok));
        assert!(!sel.matches(&labels(&[("env", "dev"), ("team", "a")])));
        assert!(!sel.matches(&labels(&[("env", "prod"), ("team", "a"), ("zone", "z1")])));
        assert!(sel.matches(&labels(&[("env", "prod"), ("team", "a"), ("zone", "z2")])));
        assert!(!sel.matches(&labels(&[("env", "prod")])));
        assert!(!sel.matches(&labels(&[("env", "prod"), ("team", "a"), ("legacy", "")])));
        // Sorted by key, values sorted, as the server prints it.
        assert_eq!(
            sel.to_string(),
            "env in (prod,staging),!legacy,team,zone notin (z1)"
        );
    }

    #[test]
    fn keywords_are_identifiers_in_key_and_value_position() {
        let sel = LabelSelector::parse("in=notin").unwrap();
        assert!(sel.matches(&labels(&[("in", "notin")])));
    }

    #[test]
    fn empty_values() {
        let sel = LabelSelector::parse("a=,b in (),c in (,x)").unwrap();
        assert!(sel.matches(&labels(&[("a", ""), ("b", ""), ("c", "")])));
        assert!(sel.matches(&labels(&[("a", ""), ("b", ""), ("c", "x")])));
        assert!(!sel.matches(&labels(&[("a", "1"), ("b", ""), ("c", "x")])));
    }

    #[test]
    fn greater_and_less_than_compare_integers() {
        let sel = LabelSelector::parse("gen>3,size<10").unwrap();
        assert!(sel.matches(&labels(&[("gen", "4"), ("size", "9")])));
        assert!(!sel.matches(&labels(&[("gen", "3"), ("size", "9")])));
        assert!(!sel.matches(&labels(&[("gen", "x"), ("size", "9")])));
        assert!(!sel.matches(&labels(&[("size", "9")])));
        assert_eq!(
            parse_err("gen>x"),
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
    }

    #[test]
    fn prefixed_keys() {
        let sel =
            LabelSelector::parse("kubernetes.io/os=windows,!node-role.kubernetes.io/control-plane")
                .unwrap();
        assert!(sel.matches(&labels(&[("kubernetes.io/os", "windows")])));
        assert!(!sel.matches(&labels(&[("kubernetes.io/os", "linux")])));
    }

    #[test]
    fn grammar_errors_read_like_the_server() {
        assert_eq!(
            parse_err("a=b c"),
            "found 'c', expected: ',' or 'end of string'"
        );
        assert_eq!(
            parse_err("a=b,"),
            "found '', expected: identifier after ','"
        );
        assert_eq!(
            parse_err(",a"),
            "found ',', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            parse_err("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            parse_err("a in x"),
            "unable to parse requirement: found 'x' expected: '('"
        );
        assert_eq!(
            parse_err("a in (x y)"),
            "unable to parse requirement: found 'y', expected: ',' or ')'"
        );
        assert_eq!(
            parse_err("a=(x)"),
            "unable to parse requirement: found '(', expected: identifier"
        );
        assert_eq!(
            parse_err("!=x"),
            "found '!=', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            parse_err("!"),
            "unable to parse requirement: found '', expected: identifier"
        );
        assert_eq!(
            parse_err("!a=b"),
            "found '=', expected: ',' or 'end of string'"
        );
    }

    #[test]
    fn invalid_keys_and_values_are_rejected_with_reasons() {
        let err = parse_err("a/b/c=x");
        assert!(err.starts_with("unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of"), "{err}");
        let err = parse_err("-lapp=x");
        assert!(
            err.contains("\"-lapp\": name part must consist of alphanumeric characters"),
            "{err}"
        );
        let err = parse_err("Example.com/app=x");
        assert!(
            err.contains("prefix part a lowercase RFC 1123 subdomain"),
            "{err}"
        );
        let long_key = "k".repeat(64);
        let err = parse_err(&long_key);
        assert!(
            err.contains("name part must be no more than 63 characters"),
            "{err}"
        );
        let err = parse_err("app=web/1");
        assert!(err.starts_with("unable to parse requirement: values[0][app]: Invalid value: \"web/1\": a valid label must be an empty string"), "{err}");
        let err = parse_err(&format!("app={}", "v".repeat(64)));
        assert!(err.contains("must be no more than 63 characters"), "{err}");
    }

    #[test]
    fn validation_helpers() {
        assert!(qualified_name_errors("projectcalico.org/ipv4-pool").is_empty());
        assert!(qualified_name_errors("My_Name.1").is_empty());
        assert_eq!(
            qualified_name_errors("/x"),
            vec!["prefix part must be non-empty".to_owned()]
        );
        assert_eq!(qualified_name_errors("x/").len(), 2); // empty, and not matching the pattern
        assert!(label_value_errors("").is_empty());
        assert!(label_value_errors("v1.32_rc-1").is_empty());
        assert_eq!(label_value_errors("-x").len(), 1);
    }

    #[test]
    fn metav1_selector_form() {
        let sel = LabelSelector::from_json(&json!({
            "matchLabels": {"k8s-app": "calico-node"},
            "matchExpressions": [
                {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                {"key": "skip", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        assert!(sel.matches_json(Some(
            &json!({"k8s-app": "calico-node", "kubernetes.io/os": "linux"})
        )));
        assert!(!sel.matches_json(Some(
            &json!({"k8s-app": "calico-node", "kubernetes.io/os": "windows"})
        )));
        assert!(!sel.matches_json(Some(
            &json!({"k8s-app": "calico-node", "kubernetes.io/os": "linux", "skip": "1"})
        )));
        assert_eq!(
            sel.to_string(),
            "k8s-app=calico-node,kubernetes.io/os in (linux),!skip"
        );
    }

    #[test]
    fn metav1_empty_and_null() {
        let everything = LabelSelector::from_json(&json!({})).unwrap();
        assert!(everything.is_empty());
        assert!(everything.matches_json(Some(&json!({"a": "b"}))));
        let nothing = LabelSelector::from_json(&Value::Null).unwrap();
        assert!(nothing.matches_nothing());
        assert!(!nothing.is_empty());
        assert!(!nothing.matches_json(Some(&json!({"a": "b"}))));
        assert!(!nothing.matches(&labels(&[])));
    }

    #[test]
    fn metav1_errors() {
        let err = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]}),
        )
        .unwrap_err();
        assert_eq!(err.0, "\"Equals\" is not a valid label selector operator");
        let err = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
        );
        let err = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
        );
        let err = LabelSelector::from_json(&json!({"matchLabels": {"a b": "x"}})).unwrap_err();
        assert!(
            err.0
                .starts_with("key: Invalid value: \"a b\": name part must consist"),
            "{}",
            err.0
        );
        let err = LabelSelector::from_json(&json!({"matchLabels": {"bad key": "bad value!"}}))
            .unwrap_err();
        assert!(
            err.0.starts_with("[key: Invalid value: \"bad key\""),
            "{}",
            err.0
        );
        assert!(
            err.0
                .contains(", values[0][bad key]: Invalid value: \"bad value!\""),
            "{}",
            err.0
        );
    }

    #[test]
    fn field_selector_parse_and_match() {
        let sel = FieldSelector::parse("spec.nodeName=n1,status.phase!=Succeeded").unwrap();
        let fields: Vec<&str> = sel.fields().collect();
        assert_eq!(fields, vec!["spec.nodeName", "status.phase"]);
        let pod = json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        assert!(sel.matches_object("Pod", &pod));
        let done = json!({"spec": {"nodeName": "n1"}, "status": {"phase": "Succeeded"}});
        assert!(!sel.matches_object("Pod", &done));
        assert_eq!(sel.required_value("spec.nodeName"), Some("n1"));
        assert_eq!(sel.required_value("status.phase"), None);
    }

    #[test]
    fn field_selector_missing_field_is_empty_string() {
        let sel = FieldSelector::parse("spec.nodeName=").unwrap();
        assert!(sel.matches(|_| None));
        let sel = FieldSelector::parse("spec.nodeName!=").unwrap();
        assert!(!sel.matches(|_| None));
        assert!(sel.matches(|_| Some("n1".to_owned())));
    }

    #[test]
    fn field_selector_double_equals_and_empty() {
        let sel = FieldSelector::parse("metadata.name==x").unwrap();
        assert!(sel.matches(|f| (f == "metadata.name").then(|| "x".to_owned())));
        assert!(FieldSelector::parse("").unwrap().is_empty());
        assert!(FieldSelector::parse(",").unwrap().is_empty());
    }

    #[test]
    fn field_selector_escapes() {
        let sel = FieldSelector::parse(r"metadata.name=a\,b\=c\\d,type=x").unwrap();
        assert_eq!(sel.requirements()[0].value, r"a,b=c\d");
        assert_eq!(sel.requirements()[1].value, "x");
        assert_eq!(sel.to_string(), r"metadata.name=a\,b\=c\\d,type=x");
        assert_eq!(
            FieldSelector::parse(r"a=b\x").unwrap_err().0,
            r"invalid field selector: invalid escape sequence: \x"
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\").unwrap_err().0,
            r"invalid field selector: invalid escape sequence: \"
        );
        assert_eq!(
            FieldSelector::parse("a=b=c").unwrap_err().0,
            "invalid field selector: unescaped character in value: 61"
        );
    }

    #[test]
    fn field_selector_without_operator() {
        assert_eq!(
            FieldSelector::parse("metadata.name=x,spec").unwrap_err().0,
            "invalid selector: 'metadata.name=x,spec'; can't understand 'spec'"
        );
    }

    #[test]
    fn field_selector_reports_the_first_bad_term_in_sorted_order() {
        assert_eq!(
            FieldSelector::parse("zone,app").unwrap_err().0,
            "invalid selector: 'zone,app'; can't understand 'app'"
        );
    }

    #[test]
    fn pod_field_values() {
        let pod = json!({
            "metadata": {"name": "web-1", "namespace": "default"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                     "serviceAccountName": "sa", "hostNetwork": true},
            "status": {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.5"}], "nominatedNodeName": "n2"}
        });
        assert_eq!(
            field_value("Pod", &pod, "spec.nodeName").as_deref(),
            Some("n1")
        );
        assert_eq!(field_value("Pod", &pod, "spec.host").as_deref(), Some("n1"));
        assert_eq!(
            field_value("Pod", &pod, "spec.hostNetwork").as_deref(),
            Some("true")
        );
        assert_eq!(
            field_value("Pod", &pod, "status.podIP").as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(
            field_value("Pod", &pod, "status.nominatedNodeName").as_deref(),
            Some("n2")
        );
        assert_eq!(
            field_value("Pod", &pod, "spec.serviceAccountName").as_deref(),
            Some("sa")
        );
        assert_eq!(
            field_value("Pod", &pod, "metadata.namespace").as_deref(),
            Some("default")
        );
        assert_eq!(
            field_value("Pod", &json!({}), "spec.hostNetwork").as_deref(),
            Some("false")
        );
        assert_eq!(field_value("Pod", &pod, "spec.containers"), None);
    }

    #[test]
    fn other_kinds_field_values() {
        let node = json!({"metadata": {"name": "n1"}, "spec": {"unschedulable": true}});
        assert_eq!(
            field_value("Node", &node, "spec.unschedulable").as_deref(),
            Some("true")
        );
        assert_eq!(field_value("Node", &node, "metadata.namespace"), None);
        let event = json!({"involvedObject": {"kind": "Pod", "name": "p"}, "reportingComponent": "kubelet", "type": "Warning"});
        assert_eq!(
            field_value("Event", &event, "involvedObject.kind").as_deref(),
            Some("Pod")
        );
        assert_eq!(
            field_value("Event", &event, "source").as_deref(),
            Some("kubelet")
        );
        assert_eq!(
            field_value("Event", &event, "type").as_deref(),
            Some("Warning")
        );
        let rs = json!({"status": {"replicas": 3}});
        assert_eq!(
            field_value("ReplicaSet", &rs, "status.replicas").as_deref(),
            Some("3")
        );
        assert_eq!(field_value("Deployment", &rs, "status.replicas"), None);
        let secret = json!({"type": "kubernetes.io/tls"});
        assert_eq!(
            field_value("Secret", &secret, "type").as_deref(),
            Some("kubernetes.io/tls")
        );
        let ns = json!({"status": {"phase": "Terminating"}});
        assert_eq!(
            field_value("Namespace", &ns, "status.phase").as_deref(),
            Some("Terminating")
        );
        let pool = json!({"metadata": {"name": "default-ipv4-ippool"}});
        assert_eq!(
            field_value("IPPool", &pool, "metadata.name").as_deref(),
            Some("default-ipv4-ippool")
        );
        assert_eq!(
            field_value("IPPool", &pool, "metadata.namespace").as_deref(),
            Some("")
        );
        assert_eq!(field_value("IPPool", &pool, "spec.cidr"), None);
    }

    #[test]
    fn supported_field_lists() {
        assert!(supported_fields("Pod").contains(&"spec.nodeName"));
        assert!(!supported_fields("Node").contains(&"metadata.namespace"));
        assert_eq!(supported_fields("DaemonSet"), META_FIELDS);
    }
}
