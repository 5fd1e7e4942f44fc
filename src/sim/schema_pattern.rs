//! The `pattern` keyword of custom-resource schemas: a small RE2-style matcher
//! (literals, `.`, classes, `\d\w\s`, groups, `|`, `* + ? {n,m}`, `^ $ \A \z`)
//! run as a Pike VM, so matching is linear in the input whatever the pattern.
//! It owns nothing but pattern text; it must not grow into a general regex
//! engine. Syntax it does not know (flags, `\b`, `\p{..}`, POSIX classes)
//! makes `Pattern::compile` return `None`, and the caller skips the check.

/// Above this many instructions a pattern is refused rather than expanded
/// (counted repeats are unrolled; RE2 itself caps repeats at 1000).
const MAX_PROGRAM_LEN: usize = 10_000;
const MAX_REPEAT: u32 = 1000;

/// A compiled pattern. JSON-schema patterns are unanchored: `is_match`
/// succeeds when the pattern matches anywhere in the text.
#[derive(Debug, Clone)]
pub struct Pattern {
    program: Vec<Inst>,
}

#[derive(Debug, Clone, PartialEq)]
struct CharClass {
    ranges: Vec<(char, char)>,
    negated: bool,
}

impl CharClass {
    fn single(c: char) -> Self {
        CharClass {
            ranges: vec![(c, c)],
            negated: false,
        }
    }

    fn contains(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Empty,
    Class(CharClass),
    AnyButNewline,
    TextStart,
    TextEnd,
    Concat(Vec<Node>),
    Alternate(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
}

#[derive(Debug, Clone)]
enum Inst {
    Class(CharClass),
    AnyButNewline,
    Split(usize, usize),
    Jump(usize),
    TextStart,
    TextEnd,
    Match,
}

impl Pattern {
    /// Compiles `source`, or returns `None` when it uses syntax this matcher
    /// does not implement (or is malformed).
    pub fn compile(source: &str) -> Option<Pattern> {
        let chars: Vec<char> = source.chars().collect();
        let mut parser = Parser { chars, pos: 0 };
        let node = parser.alternation()?;
        if parser.pos != parser.chars.len() {
            return None;
        }
        let mut program = Vec::new();
        emit(&node, &mut program)?;
        program.push(Inst::Match);
        Some(Pattern { program })
    }

    pub fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let len = chars.len();
        // marks[pc] holds the position at which pc was last queued, so each
        // instruction runs at most once per position.
        let mut marks = vec![usize::MAX; self.program.len()];
        let mut current = Vec::new();
        for pos in 0..=len {
            // Seeding a thread at every position makes the search unanchored.
            if self.follow(0, pos, len, &mut marks, &mut current) {
                return true;
            }
            let Some(&c) = chars.get(pos) else { break };
            let mut next = Vec::new();
            for &pc in &current {
                let consumes = match &self.program[pc] {
                    Inst::Class(class) => class.contains(c),
                    Inst::AnyButNewline => c != '\n',
                    _ => false,
                };
                if consumes && self.follow(pc + 1, pos + 1, len, &mut marks, &mut next) {
                    return true;
                }
            }
            current = next;
        }
        false
    }

    /// Follows the non-consuming instructions from `start`, queueing the
    /// consuming ones on `list`; true when a `Match` is reachable.
    fn follow(
        &self,
        start: usize,
        pos: usize,
        len: usize,
        marks: &mut [usize],
        list: &mut Vec<usize>,
    ) -> bool {
        let mut stack = vec![start];
        while let Some(pc) = stack.pop() {
            if marks[pc] == pos {
                continue;
            }
            marks[pc] = pos;
            match &self.program[pc] {
                Inst::Match => return true,
                Inst::Jump(target) => stack.push(*target),
                Inst::Split(first, second) => {
                    stack.push(*second);
                    stack.push(*first);
                }
                Inst::TextStart if pos == 0 => stack.push(pc + 1),
                Inst::TextEnd if pos == len => stack.push(pc + 1),
                Inst::TextStart | Inst::TextEnd => {}
                Inst::Class(_) | Inst::AnyButNewline => list.push(pc),
            }
        }
        false
    }
}

fn emit(node: &Node, program: &mut Vec<Inst>) -> Option<()> {
    if program.len() > MAX_PROGRAM_LEN {
        return None;
    }
    match node {
        Node::Empty => {}
        Node::Class(class) => program.push(Inst::Class(class.clone())),
        Node::AnyButNewline => program.push(Inst::AnyButNewline),
        Node::TextStart => program.push(Inst::TextStart),
        Node::TextEnd => program.push(Inst::TextEnd),
        Node::Concat(nodes) => {
            for node in nodes {
                emit(node, program)?;
            }
        }
        Node::Alternate(branches) => emit_alternation(branches, program)?,
        Node::Repeat { node, min, max } => emit_repeat(node, *min, *max, program)?,
    }
    Some(())
}

fn emit_alternation(branches: &[Node], program: &mut Vec<Inst>) -> Option<()> {
    let mut jumps_to_end = Vec::new();
    for (i, branch) in branches.iter().enumerate() {
        if i + 1 == branches.len() {
            emit(branch, program)?;
            break;
        }
        let split = program.len();
        program.push(Inst::Split(split + 1, 0));
        emit(branch, program)?;
        jumps_to_end.push(program.len());
        program.push(Inst::Jump(0));
        program[split] = Inst::Split(split + 1, program.len());
    }
    let end = program.len();
    for jump in jumps_to_end {
        program[jump] = Inst::Jump(end);
    }
    Some(())
}

fn emit_repeat(node: &Node, min: u32, max: Option<u32>, program: &mut Vec<Inst>) -> Option<()> {
    for _ in 0..min {
        emit(node, program)?;
    }
    match max {
        None => {
            let split = program.len();
            program.push(Inst::Split(split + 1, 0));
            emit(node, program)?;
            program.push(Inst::Jump(split));
            program[split] = Inst::Split(split + 1, program.len());
        }
        Some(max) => {
            let mut optional_splits = Vec::new();
            for _ in min..max {
                optional_splits.push(program.len());
                program.push(Inst::Split(0, 0));
                emit(node, program)?;
            }
            let end = program.len();
            for split in optional_splits {
                program[split] = Inst::Split(split + 1, end);
            }
        }
    }
    Some(())
}

enum CountedRepeat {
    Bounds(u32, Option<u32>),
    Invalid,
    NotARepeat,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn eat(&mut self, expected: char) -> bool {
        if self.peek() == Some(expected) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn alternation(&mut self) -> Option<Node> {
        let mut branches = vec![self.concatenation()?];
        while self.eat('|') {
            branches.push(self.concatenation()?);
        }
        Some(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alternate(branches)
        })
    }

    fn concatenation(&mut self) -> Option<Node> {
        let mut nodes = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            nodes.push(self.quantified(atom)?);
        }
        Some(match nodes.len() {
            0 => Node::Empty,
            1 => nodes.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(nodes),
        })
    }

    fn quantified(&mut self, atom: Node) -> Option<Node> {
        let mut node = atom;
        loop {
            let (min, max) = match self.peek() {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => match self.counted_repeat() {
                    CountedRepeat::Bounds(min, max) => (min, max),
                    CountedRepeat::Invalid => return None,
                    // A `{` that does not open a repeat is a literal, as in RE2.
                    CountedRepeat::NotARepeat => return Some(node),
                },
                _ => return Some(node),
            };
            if matches!(self.peek(), Some('*' | '+' | '?')) {
                self.pos += 1;
            }
            // A lazy marker changes which match is found, not whether one is.
            self.eat('?');
            if matches!(node, Node::TextStart | Node::TextEnd) {
                return None;
            }
            node = Node::Repeat {
                node: Box::new(node),
                min,
                max,
            };
        }
    }

    /// Reads `{n}`, `{n,}` or `{n,m}` at the cursor. When the brace does not
    /// open a well-formed repeat the cursor is left on it.
    fn counted_repeat(&mut self) -> CountedRepeat {
        let start = self.pos;
        self.pos += 1;
        let Some(min) = self.number() else {
            self.pos = start;
            return CountedRepeat::NotARepeat;
        };
        let max = if self.eat(',') {
            if self.peek() == Some('}') {
                None
            } else if let Some(max) = self.number() {
                Some(max)
            } else {
                self.pos = start;
                return CountedRepeat::NotARepeat;
            }
        } else {
            Some(min)
        };
        if !self.eat('}') {
            self.pos = start;
            return CountedRepeat::NotARepeat;
        }
        if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT || m < min) {
            return CountedRepeat::Invalid;
        }
        CountedRepeat::Bounds(min, max)
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.pos;
        let mut value: u32 = 0;
        while let Some(digit) = self.peek().and_then(|c| c.to_digit(10)) {
            value = value.checked_mul(10)?.checked_add(digit)?;
            self.pos += 1;
        }
        (self.pos > start).then_some(value)
    }

    fn atom(&mut self) -> Option<Node> {
        match self.next()? {
            '(' => self.group(),
            '[' => self.bracket_class().map(Node::Class),
            '.' => Some(Node::AnyButNewline),
            '^' => Some(Node::TextStart),
            '$' => Some(Node::TextEnd),
            '\\' => self.escape(),
            '*' | '+' | '?' => None,
            c => Some(Node::Class(CharClass::single(c))),
        }
    }

    fn group(&mut self) -> Option<Node> {
        if self.eat('?') && !self.eat(':') {
            // Flags and named groups are outside the supported subset.
            return None;
        }
        let inner = self.alternation()?;
        self.eat(')').then_some(inner)
    }

    fn escape(&mut self) -> Option<Node> {
        let c = self.next()?;
        if let Some(class) = perl_class(c) {
            return Some(Node::Class(class));
        }
        match c {
            'A' => Some(Node::TextStart),
            'z' => Some(Node::TextEnd),
            _ => escaped_literal(c).map(|c| Node::Class(CharClass::single(c))),
        }
    }

    fn bracket_class(&mut self) -> Option<CharClass> {
        let negated = self.eat('^');
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self.next()?;
            if c == ']' && !first {
                break;
            }
            first = false;
            if c == '[' && self.peek() == Some(':') {
                return None;
            }
            let low = if c == '\\' {
                let escaped = self.next()?;
                if let Some(class) = perl_class(escaped) {
                    if class.negated {
                        return None;
                    }
                    ranges.extend(class.ranges);
                    continue;
                }
                escaped_literal(escaped)?
            } else {
                c
            };
            let high = self.range_end(low)?;
            if high < low {
                return None;
            }
            ranges.push((low, high));
        }
        Some(CharClass { ranges, negated })
    }

    /// The upper end of a class member starting at `low`: `-x` makes it a
    /// range ending at x, anything else (including a `-` just before `]`,
    /// which is a literal dash) leaves it a single char. `None` when malformed.
    fn range_end(&mut self, low: char) -> Option<char> {
        if self.peek() != Some('-') || self.chars.get(self.pos + 1) == Some(&']') {
            return Some(low);
        }
        self.pos += 1;
        let c = self.next()?;
        if c == '\\' {
            let escaped = self.next()?;
            if perl_class(escaped).is_some() {
                return None;
            }
            return escaped_literal(escaped);
        }
        Some(c)
    }
}

fn perl_class(c: char) -> Option<CharClass> {
    let (ranges, negated): (Vec<(char, char)>, bool) = match c {
        'd' | 'D' => (vec![('0', '9')], c == 'D'),
        'w' | 'W' => (
            vec![('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')],
            c == 'W',
        ),
        's' | 'S' => (vec![('\t', '\n'), ('\u{0C}', '\r'), (' ', ' ')], c == 'S'),
        _ => return None,
    };
    Some(CharClass { ranges, negated })
}

/// The character an escape stands for, or `None` for escapes outside the
/// subset (`\b`, `\p`, `\x`, back-references and letters with no meaning).
fn escaped_literal(c: char) -> Option<char> {
    match c {
        'n' => Some('\n'),
        't' => Some('\t'),
        'r' => Some('\r'),
        'f' => Some('\u{0C}'),
        'v' => Some('\u{0B}'),
        c if c.is_ascii_punctuation() => Some(c),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        Pattern::compile(pattern)
            .unwrap_or_else(|| panic!("pattern {pattern} should compile"))
            .is_match(text)
    }

    #[test]
    fn block_affinity_pattern() {
        let p = r"^(host|virtual):[a-zA-Z0-9.\-_]+$";
        assert!(matches(p, "host:win-node-1"));
        assert!(matches(p, "virtual:load-balancer"));
        assert!(matches(p, "host:node_1.example.com"));
        assert!(!matches(p, "host:"));
        assert!(!matches(p, "node-1"));
        assert!(!matches(p, "host:node 1"));
        assert!(!matches(p, "hostess:node"));
        assert!(!matches(p, " host:node"));
    }

    #[test]
    fn mac_prefix_pattern() {
        let p = "^[0-9A-Fa-f]{2}-[0-9A-Fa-f]{2}$";
        assert!(matches(p, "0E-2A"));
        assert!(matches(p, "ab-cd"));
        assert!(!matches(p, "0E-2"));
        assert!(!matches(p, "0E-2A3"));
        assert!(!matches(p, "0G-2A"));
        assert!(!matches(p, "0E2A"));
    }

    #[test]
    fn condition_reason_pattern() {
        let p = "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$";
        assert!(matches(p, "A"));
        assert!(matches(p, "ResourceNotReady"));
        assert!(matches(p, "Some_Reason:x"));
        assert!(!matches(p, "Reason:"));
        assert!(!matches(p, "1Reason"));
        assert!(!matches(p, ""));
    }

    #[test]
    fn unanchored_search_and_anchors() {
        assert!(matches("b+", "aabbcc"));
        assert!(!matches("^b+", "aabbcc"));
        assert!(matches("c$", "aabbcc"));
        assert!(matches("", "anything"));
        assert!(matches("^$", ""));
        assert!(!matches("^$", "x"));
        assert!(matches(r"\Aab\z", "ab"));
    }

    #[test]
    fn counted_repeats_and_literal_brace() {
        assert!(matches("^a{2,3}$", "aa"));
        assert!(matches("^a{2,3}$", "aaa"));
        assert!(!matches("^a{2,3}$", "aaaa"));
        assert!(matches("^a{2,}$", "aaaaa"));
        assert!(!matches("^a{2,}$", "a"));
        assert!(matches("^a{x$", "a{x"));
        assert!(matches("^(ab)?c$", "c"));
        assert!(matches("^(?:ab)+c$", "ababc"));
    }

    #[test]
    fn classes_and_escapes() {
        assert!(matches(r"^\d+$", "2024"));
        assert!(!matches(r"^\d+$", "20a4"));
        assert!(matches(r"^[^a-z]+$", "ABC-1"));
        assert!(!matches(r"^[^a-z]+$", "ABc"));
        assert!(matches(r"^[\w.]+$", "a_b.c"));
        assert!(matches("^[a-]+$", "a-a"));
        assert!(matches(r"^a\.b$", "a.b"));
        assert!(!matches(r"^a\.b$", "axb"));
        assert!(matches("^a.b$", "axb"));
        assert!(!matches("^a.b$", "a\nb"));
    }

    #[test]
    fn pathological_pattern_stays_linear() {
        // Exponential for a backtracker; a Pike VM visits each state once per char.
        let text = "a".repeat(5000);
        assert!(!matches("^(a*)*b$", &text));
        assert!(matches("(a|aa)+$", &text));
    }

    #[test]
    fn unsupported_or_malformed_syntax_is_refused() {
        for p in [
            r"(?i)abc",
            r"\bword",
            r"\p{L}",
            "[[:alpha:]]",
            "(ab",
            "ab)",
            "*a",
            "[z-a]",
            "a{5,2}",
            "a{1001}",
            r"\1",
        ] {
            assert!(Pattern::compile(p).is_none(), "{p} should be refused");
        }
    }
}
