//! Calico's selector language as IP pools use it in `spec.nodeSelector` (DOMAIN.md §1.5):
//! `all()`, `k == 'v'`, `k != 'v'`, `has(k)`, `k in {'a','b'}`, `k not in {…}`,
//! `k starts with 'p'`, `k ends with 's'`, `k contains 'x'`, combined with `!`, `&&`, `||` and
//! parentheses. An empty selector means `all()`; `global()` is refused, as pools refuse it.
//! It parses and matches against a label map and nothing else: it must not read the store, and
//! it is not the Kubernetes label-selector grammar (that lives in `selector`).
//!
//! Semantics follow Calico, not Kubernetes: `k != 'v'` and `k not in {…}` also match objects
//! that lack the label `k`; `!` binds tighter than `&&`, which binds tighter than `||`.

use std::collections::BTreeMap;
use std::fmt;

/// A parsed Calico selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalicoSelector {
    expr: Expr,
}

/// Why a selector did not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid selector {selector:?}: {reason} at offset {offset}")]
pub struct CalicoSelectorError {
    pub selector: String,
    /// Byte offset into the selector where parsing stopped.
    pub offset: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    All,
    Equal(String, String),
    NotEqual(String, String),
    Has(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    StartsWith(String, String),
    EndsWith(String, String),
    Contains(String, String),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl CalicoSelector {
    /// The selector that matches everything, `all()`.
    pub fn all() -> Self {
        Self { expr: Expr::All }
    }

    pub fn parse(text: &str) -> Result<Self, CalicoSelectorError> {
        let tokens = tokenize(text)?;
        if tokens.len() == 1 {
            // Only the end marker: Calico reads an empty selector as all().
            return Ok(Self::all());
        }
        let mut parser = Parser {
            text,
            tokens,
            next: 0,
        };
        let expr = parser.or()?;
        let (token, offset) = parser.peek();
        if *token != Token::End {
            return Err(parser.fail(offset, format!("unexpected {}", token.describe())));
        }
        Ok(Self { expr })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|key| labels.get(key).map(String::as_str))
    }

    /// Matches against any label source, e.g. a JSON `metadata.labels` map.
    pub fn matches_with<'a>(&self, label: impl Fn(&str) -> Option<&'a str> + Copy) -> bool {
        self.expr.eval(label)
    }

    pub fn is_all(&self) -> bool {
        self.expr == Expr::All
    }
}

impl std::str::FromStr for CalicoSelector {
    type Err = CalicoSelectorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl Expr {
    fn eval<'a>(&self, label: impl Fn(&str) -> Option<&'a str> + Copy) -> bool {
        match self {
            Self::All => true,
            Self::Equal(k, v) => label(k) == Some(v.as_str()),
            // Calico: an absent label is "not equal" to any value.
            Self::NotEqual(k, v) => label(k) != Some(v.as_str()),
            Self::Has(k) => label(k).is_some(),
            Self::In(k, set) => label(k).is_some_and(|v| set.iter().any(|s| s == v)),
            Self::NotIn(k, set) => !label(k).is_some_and(|v| set.iter().any(|s| s == v)),
            Self::StartsWith(k, p) => label(k).is_some_and(|v| v.starts_with(p.as_str())),
            Self::EndsWith(k, s) => label(k).is_some_and(|v| v.ends_with(s.as_str())),
            Self::Contains(k, s) => label(k).is_some_and(|v| v.contains(s.as_str())),
            Self::Not(inner) => !inner.eval(label),
            Self::And(terms) => terms.iter().all(|t| t.eval(label)),
            Self::Or(terms) => terms.iter().any(|t| t.eval(label)),
        }
    }
}

/// The canonical form, the way Calico prints selectors (double-quoted values).
impl fmt::Display for CalicoSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |values: &[String]| {
            let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
            format!("{{{}}}", quoted.join(", "))
        };
        match self {
            Self::All => f.write_str("all()"),
            Self::Equal(k, v) => write!(f, "{k} == {v:?}"),
            Self::NotEqual(k, v) => write!(f, "{k} != {v:?}"),
            Self::Has(k) => write!(f, "has({k})"),
            Self::In(k, values) => write!(f, "{k} in {}", set(values)),
            Self::NotIn(k, values) => write!(f, "{k} not in {}", set(values)),
            Self::StartsWith(k, v) => write!(f, "{k} starts with {v:?}"),
            Self::EndsWith(k, v) => write!(f, "{k} ends with {v:?}"),
            Self::Contains(k, v) => write!(f, "{k} contains {v:?}"),
            Self::Not(inner) => write!(f, "!{inner}"),
            Self::And(terms) => join(f, terms, " && "),
            Self::Or(terms) => join(f, terms, " || "),
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, terms: &[Expr], separator: &str) -> fmt::Result {
    f.write_str("(")?;
    for (i, term) in terms.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        write!(f, "{term}")?;
    }
    f.write_str(")")
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A label key or a keyword (`all`, `has`, `in`, `not`, `starts`, `with`, …); the parser
    /// tells them apart by position.
    Word(String),
    Text(String),
    Equal,
    NotEqual,
    Bang,
    And,
    Or,
    OpenParen,
    CloseParen,
    OpenBrace,
    CloseBrace,
    Comma,
    End,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Self::Word(w) => format!("'{w}'"),
            Self::Text(t) => format!("string {t:?}"),
            Self::Equal => "'=='".into(),
            Self::NotEqual => "'!='".into(),
            Self::Bang => "'!'".into(),
            Self::And => "'&&'".into(),
            Self::Or => "'||'".into(),
            Self::OpenParen => "'('".into(),
            Self::CloseParen => "')'".into(),
            Self::OpenBrace => "'{'".into(),
            Self::CloseBrace => "'}'".into(),
            Self::Comma => "','".into(),
            Self::End => "end of selector".into(),
        }
    }
}

/// Characters of a label key: DNS-prefix, `/`, name. Calico allows the same set.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-')
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, CalicoSelectorError> {
    let fail = |offset: usize, reason: &str| CalicoSelectorError {
        selector: text.to_string(),
        offset,
        reason: reason.to_string(),
    };
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let mut pair = |second: char, token: Token, alone: Option<Token>, reason: &str| {
            if chars.next_if(|&(_, n)| n == second).is_some() {
                Ok(token)
            } else {
                alone.ok_or_else(|| fail(at, reason))
            }
        };
        let token = match c {
            c if c.is_whitespace() => continue,
            '(' => Token::OpenParen,
            ')' => Token::CloseParen,
            '{' => Token::OpenBrace,
            '}' => Token::CloseBrace,
            ',' => Token::Comma,
            '=' => pair(
                '=',
                Token::Equal,
                None,
                "expected '==' (a single '=' is not an operator)",
            )?,
            '!' => pair('=', Token::NotEqual, Some(Token::Bang), "")?,
            '&' => pair('&', Token::And, None, "expected '&&'")?,
            '|' => pair('|', Token::Or, None, "expected '||'")?,
            '\'' | '"' => {
                let start = at + 1;
                let Some((end, _)) = chars.by_ref().find(|&(_, n)| n == c) else {
                    return Err(fail(at, "unterminated string"));
                };
                Token::Text(text[start..end].to_string())
            }
            c if is_word_char(c) => {
                let mut end = at + c.len_utf8();
                while let Some((i, n)) = chars.next_if(|&(_, n)| is_word_char(n)) {
                    end = i + n.len_utf8();
                }
                Token::Word(text[at..end].to_string())
            }
            other => return Err(fail(at, &format!("unexpected character {other:?}"))),
        };
        tokens.push((token, at));
    }
    tokens.push((Token::End, text.len()));
    Ok(tokens)
}

// ---------------------------------------------------------------------------------------------
// Parser: or := and ('||' and)* ; and := unary ('&&' unary)* ; unary := '!' unary | primary
// ---------------------------------------------------------------------------------------------

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<(Token, usize)>,
    next: usize,
}

impl Parser<'_> {
    fn peek(&self) -> (&Token, usize) {
        // `tokenize` always ends the list with `End`, and `advance` never moves past it.
        let (token, offset) = &self.tokens[self.next.min(self.tokens.len() - 1)];
        (token, *offset)
    }

    fn advance(&mut self) -> (Token, usize) {
        let (current, offset) = self.peek();
        let taken = (current.clone(), offset);
        if current != &Token::End {
            self.next += 1;
        }
        taken
    }

    fn fail(&self, offset: usize, reason: String) -> CalicoSelectorError {
        CalicoSelectorError {
            selector: self.text.to_string(),
            offset,
            reason,
        }
    }

    fn expect(&mut self, wanted: &Token, context: &str) -> Result<(), CalicoSelectorError> {
        let (token, offset) = self.advance();
        if &token == wanted {
            Ok(())
        } else {
            Err(self.fail(
                offset,
                format!(
                    "expected {} {context}, found {}",
                    wanted.describe(),
                    token.describe()
                ),
            ))
        }
    }

    fn or(&mut self) -> Result<Expr, CalicoSelectorError> {
        let mut terms = vec![self.and()?];
        while *self.peek().0 == Token::Or {
            self.advance();
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Expr, CalicoSelectorError> {
        let mut terms = vec![self.unary()?];
        while *self.peek().0 == Token::And {
            self.advance();
            terms.push(self.unary()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn unary(&mut self) -> Result<Expr, CalicoSelectorError> {
        if *self.peek().0 == Token::Bang {
            self.advance();
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, CalicoSelectorError> {
        let (token, offset) = self.advance();
        match token {
            Token::OpenParen => {
                let inner = self.or()?;
                self.expect(&Token::CloseParen, "to close '('")?;
                Ok(inner)
            }
            Token::Word(word) if *self.peek().0 == Token::OpenParen => self.call(&word, offset),
            Token::Word(key) => self.comparison(key),
            other => Err(self.fail(
                offset,
                format!(
                    "expected a label, '!', '(', all() or has(), found {}",
                    other.describe()
                ),
            )),
        }
    }

    /// `all()`, `has(k)`; `global()` exists in Calico but pools refuse it.
    fn call(&mut self, name: &str, offset: usize) -> Result<Expr, CalicoSelectorError> {
        self.advance();
        match name {
            "all" => {
                self.expect(&Token::CloseParen, "after 'all('")?;
                Ok(Expr::All)
            }
            "has" => {
                let (token, at) = self.advance();
                let Token::Word(key) = token else {
                    return Err(self.fail(
                        at,
                        format!("expected a label inside has(), found {}", token.describe()),
                    ));
                };
                self.expect(&Token::CloseParen, "after the label in has()")?;
                Ok(Expr::Has(key))
            }
            "global" => Err(self.fail(
                offset,
                "global() is not allowed in an IP pool nodeSelector".into(),
            )),
            other => Err(self.fail(offset, format!("unknown function {other}()"))),
        }
    }

    fn comparison(&mut self, key: String) -> Result<Expr, CalicoSelectorError> {
        let (token, offset) = self.advance();
        match token {
            Token::Equal => Ok(Expr::Equal(key, self.text_value()?)),
            Token::NotEqual => Ok(Expr::NotEqual(key, self.text_value()?)),
            Token::Word(w) if w == "in" => Ok(Expr::In(key, self.set()?)),
            Token::Word(w) if w == "not" => {
                self.expect(&Token::Word("in".into()), "after 'not'")?;
                Ok(Expr::NotIn(key, self.set()?))
            }
            Token::Word(w) if w == "starts" => {
                self.expect(&Token::Word("with".into()), "after 'starts'")?;
                Ok(Expr::StartsWith(key, self.text_value()?))
            }
            Token::Word(w) if w == "ends" => {
                self.expect(&Token::Word("with".into()), "after 'ends'")?;
                Ok(Expr::EndsWith(key, self.text_value()?))
            }
            Token::Word(w) if w == "contains" => Ok(Expr::Contains(key, self.text_value()?)),
            other => Err(self.fail(
                offset,
                format!(
                    "expected an operator (==, !=, in, not in, starts with, ends with, contains) \
                     after label '{key}', found {}",
                    other.describe()
                ),
            )),
        }
    }

    fn text_value(&mut self) -> Result<String, CalicoSelectorError> {
        let (token, offset) = self.advance();
        match token {
            Token::Text(value) => Ok(value),
            other => Err(self.fail(
                offset,
                format!("expected a quoted string, found {}", other.describe()),
            )),
        }
    }

    fn set(&mut self) -> Result<Vec<String>, CalicoSelectorError> {
        self.expect(&Token::OpenBrace, "to open the set")?;
        let mut values = Vec::new();
        if *self.peek().0 == Token::CloseBrace {
            self.advance();
            return Ok(values);
        }
        loop {
            values.push(self.text_value()?);
            let (token, offset) = self.advance();
            match token {
                Token::Comma => {}
                Token::CloseBrace => return Ok(values),
                other => {
                    return Err(self.fail(
                        offset,
                        format!(
                            "expected ',' or '}}' in the set, found {}",
                            other.describe()
                        ),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn selectors_match_like_calico() {
        let windows = labels(&[
            ("kubernetes.io/os", "windows"),
            ("agentpool", "npwin"),
            ("node.kubernetes.io/windows-build", "10.0.20348"),
        ]);
        let linux = labels(&[("kubernetes.io/os", "linux"), ("agentpool", "nplinux")]);
        // (selector, matches windows node, matches linux node)
        let table: &[(&str, bool, bool)] = &[
            ("all()", true, true),
            ("", true, true),
            ("   ", true, true),
            ("kubernetes.io/os == 'windows'", true, false),
            ("kubernetes.io/os == \"linux\"", false, true),
            ("kubernetes.io/os != 'windows'", false, true),
            // Absent labels are "not equal" and "not in" in Calico.
            ("zone != 'a'", true, true),
            ("zone not in {'a'}", true, true),
            ("zone in {'a'}", false, false),
            ("has(node.kubernetes.io/windows-build)", true, false),
            ("!has(node.kubernetes.io/windows-build)", false, true),
            ("agentpool in {'npwin','np2'}", true, false),
            ("agentpool in { 'np2' , 'nplinux' }", false, true),
            ("agentpool not in {'npwin'}", false, true),
            ("agentpool in {}", false, false),
            ("agentpool starts with 'np'", true, true),
            ("agentpool ends with 'win'", true, false),
            ("agentpool contains 'lin'", false, true),
            (
                "kubernetes.io/os == 'windows' && agentpool == 'npwin'",
                true,
                false,
            ),
            (
                "kubernetes.io/os == 'windows' && agentpool == 'nplinux'",
                false,
                false,
            ),
            (
                "agentpool == 'nplinux' || has(node.kubernetes.io/windows-build)",
                true,
                true,
            ),
            // ! binds tighter than &&, && tighter than ||.
            (
                "!kubernetes.io/os == 'windows' && has(agentpool)",
                false,
                true,
            ),
            ("agentpool == 'x' && agentpool == 'y' || all()", true, true),
            (
                "agentpool == 'x' && (agentpool == 'y' || all())",
                false,
                false,
            ),
            (
                "!(kubernetes.io/os == 'linux' || agentpool == 'npwin')",
                false,
                false,
            ),
            ("!!all()", true, true),
        ];
        for (text, on_windows, on_linux) in table {
            let selector = CalicoSelector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(selector.matches(&windows), *on_windows, "{text} on windows");
            assert_eq!(selector.matches(&linux), *on_linux, "{text} on linux");
        }
    }

    #[test]
    fn parse_errors_say_what_and_where() {
        let table: &[(&str, usize, &str)] = &[
            ("kubernetes.io/os = 'windows'", 17, "expected '=='"),
            (
                "kubernetes.io/os == windows",
                20,
                "expected a quoted string, found 'windows'",
            ),
            ("kubernetes.io/os == 'windows", 20, "unterminated string"),
            (
                "has(kubernetes.io/os",
                20,
                "expected ')' after the label in has()",
            ),
            ("all(", 4, "expected ')' after 'all('"),
            ("(all()", 6, "expected ')' to close '('"),
            ("all() all()", 6, "unexpected 'all'"),
            ("a in {'x' 'y'}", 10, "expected ',' or '}' in the set"),
            ("a not {'x'}", 6, "expected 'in' after 'not'"),
            ("a", 1, "expected an operator"),
            (
                "a == 'b' && ",
                12,
                "expected a label, '!', '(', all() or has()",
            ),
            ("global()", 0, "global() is not allowed"),
            ("a & b", 2, "expected '&&'"),
            ("a == 'b' | c", 9, "expected '||'"),
            ("a == 'b' ;", 9, "unexpected character ';'"),
        ];
        for (text, offset, reason) in table {
            let err = CalicoSelector::parse(text).expect_err(text);
            assert_eq!(err.offset, *offset, "{text}: {err}");
            assert!(err.reason.contains(reason), "{text}: {err}");
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid selector {text:?}: "))
            );
        }
    }

    #[test]
    fn display_is_canonical_and_reparses_to_the_same_selector() {
        let table = [
            ("all()", "all()"),
            (
                "kubernetes.io/os=='windows'",
                "kubernetes.io/os == \"windows\"",
            ),
            (
                "a in {'x','y'} && !has(b)",
                "(a in {\"x\", \"y\"} && !has(b))",
            ),
            ("a != 'x' || b not in {}", "(a != \"x\" || b not in {})"),
        ];
        for (text, canonical) in table {
            let selector = CalicoSelector::parse(text).unwrap();
            assert_eq!(selector.to_string(), canonical);
            assert_eq!(CalicoSelector::parse(canonical).unwrap(), selector);
        }
        assert!(CalicoSelector::parse("").unwrap().is_all());
        assert!(!CalicoSelector::parse("has(a)").unwrap().is_all());
    }
}
