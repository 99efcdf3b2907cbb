//! SCIM filter expressions (RFC 7644 §3.4.2.2): the full grammar — `eq ne co sw ew gt ge lt le pr`,
//! `and`/`or`/`not`, grouping, complex value filters `emails[type eq "work"]` — parsed into an AST
//! that `filter_sql` turns into SQL. Lenient where IdPs are: operators and keywords in any case,
//! unquoted string values (`userName eq jane@x.org`), and `emails[type eq "work"].value eq "…"`.

use std::fmt;

use crate::domain::{Error, Result};

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses, brackets and `not`.
pub const MAX_DEPTH: usize = 32;

/// `[urn:]name[.sub]`, names as written (matching is case-insensitive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `name`, `name.sub`, `urn:…:name` or `urn:…:name.sub`.
    pub fn parse(text: &str) -> Option<AttrPath> {
        let (urn, rest) = if text.len() > 4 && super::starts_with_ignore_case(text, "urn:") {
            let i = text.rfind(':')?;
            (Some(text[..i].to_string()), &text[i + 1..])
        } else {
            (None, text)
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(name) || sub.is_some_and(|s| !valid(s)) {
            return None;
        }
        Some(AttrPath {
            urn,
            name: name.to_string(),
            sub: sub.map(str::to_string),
        })
    }

    /// True when this is `name` (or `name.sub` when `sub` is given), case-insensitively.
    pub fn is(&self, name: &str, sub: Option<&str>) -> bool {
        self.name.eq_ignore_ascii_case(name)
            && match (&self.sub, sub) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        write!(f, "{}", self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<CompareOp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(f64),
    Str(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `path[filter]`: some value of the multi-valued `path` matches `filter`, whose attribute
    /// paths name sub-attributes of `path`.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
    OpenBracket,
    /// `]`, with the `.sub` that directly follows it, if any.
    CloseBracket(Option<String>),
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidFilter(reason.into())
}

/// Splits a filter into tokens, slicing the input where it can: every delimiter is ASCII, so a
/// byte index that stops at one is always on a character boundary.
fn tokenize(input: &str) -> Result<Vec<Token>> {
    let bytes = input.as_bytes();
    let mut tokens = Vec::with_capacity(8);
    let mut i = 0;
    while let Some(c) = input[i..].chars().next() {
        match c {
            c if c.is_whitespace() => i += c.len_utf8(),
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '[' => {
                tokens.push(Token::OpenBracket);
                i += 1;
            }
            ']' => {
                i += 1;
                let mut sub = None;
                if bytes.get(i) == Some(&b'.') {
                    let start = i + 1;
                    i = start;
                    while i < bytes.len()
                        && (bytes[i].is_ascii_alphanumeric()
                            || bytes[i] == b'_'
                            || bytes[i] == b'-')
                    {
                        i += 1;
                    }
                    if i == start {
                        return Err(invalid("expected a sub-attribute name after \"].\""));
                    }
                    sub = Some(input[start..i].to_string());
                }
                tokens.push(Token::CloseBracket(sub));
            }
            '"' => {
                // A JSON string: find its end, honouring escapes, and decode it as JSON does.
                let start = i;
                i += 1;
                let mut closed = false;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            closed = true;
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                if !closed {
                    return Err(invalid("a string value is not closed with \""));
                }
                let raw = &input[start..i];
                let inner = &raw[1..raw.len() - 1];
                // Without escapes or raw control characters a JSON string is its own text.
                let value = if inner.bytes().all(|b| b != b'\\' && b >= 0x20) {
                    inner.to_string()
                } else {
                    serde_json::from_str::<String>(raw)
                        .map_err(|_| invalid(format!("{raw} is not a valid JSON string")))?
                };
                // An escaped NUL would end the value early in SQLite's LIKE (so `co "\u0000"`
                // matched everyone) and is refused by PostgreSQL; no stored value holds one.
                if value.chars().any(|c| c.is_control() && !c.is_whitespace()) {
                    return Err(invalid(format!(
                        "{raw} holds control characters, which no value can contain"
                    )));
                }
                tokens.push(Token::Str(value));
            }
            _ => {
                let start = i;
                let end = input[start..]
                    .char_indices()
                    .find(|&(_, c)| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"'))
                    .map_or(input.len(), |(offset, _)| start + offset);
                tokens.push(Token::Word(input[start..end].to_string()));
                i = end;
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    /// Takes the next token: the parser never goes back, so it is moved out, not cloned.
    fn next(&mut self) -> Option<Token> {
        let t = self
            .tokens
            .get_mut(self.pos)
            .map(|t| std::mem::replace(t, Token::Open));
        self.pos += 1;
        t
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn descend(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid(format!(
                "the filter is nested deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Filter> {
        let mut left = self.and_expr()?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Filter> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter> {
        if self.peek_keyword("not") && matches!(self.tokens.get(self.pos + 1), Some(Token::Open)) {
            self.pos += 1;
            self.descend()?;
            let inner = self.group()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if matches!(self.peek(), Some(Token::Open)) {
            self.descend()?;
            let inner = self.group()?;
            self.depth -= 1;
            return Ok(inner);
        }
        self.attr_expr()
    }

    fn group(&mut self) -> Result<Filter> {
        match self.next() {
            Some(Token::Open) => {}
            _ => return Err(invalid("expected \"(\"")),
        }
        let inner = self.or_expr()?;
        match self.next() {
            Some(Token::Close) => Ok(inner),
            _ => Err(invalid("a \"(\" is not closed with \")\"")),
        }
    }

    fn attr_expr(&mut self) -> Result<Filter> {
        let word = match self.next() {
            Some(Token::Word(w)) => w,
            Some(Token::Str(s)) => {
                return Err(invalid(format!(
                    "expected an attribute name, found the string {s:?}"
                )));
            }
            Some(_) => return Err(invalid("expected an attribute name")),
            None => return Err(invalid("the filter ends where an expression was expected")),
        };
        let path = AttrPath::parse(&word)
            .ok_or_else(|| invalid(format!("{word:?} is not an attribute path")))?;
        if matches!(self.peek(), Some(Token::OpenBracket)) {
            self.pos += 1;
            if path.sub.is_some() {
                return Err(invalid(format!(
                    "{word}[...]: a value filter goes on a multi-valued attribute, not a sub-attribute"
                )));
            }
            self.descend()?;
            let inner = self.or_expr()?;
            self.depth -= 1;
            let sub = match self.next() {
                Some(Token::CloseBracket(sub)) => sub,
                _ => return Err(invalid("a \"[\" is not closed with \"]\"")),
            };
            let value_path = Filter::ValuePath {
                path: path.clone(),
                filter: Box::new(inner),
            };
            let Some(sub) = sub else {
                return Ok(value_path);
            };
            // `emails[type eq "work"].value eq "x"`: the same as `emails[type eq "work" and value eq "x"]`.
            let sub_path = AttrPath {
                urn: None,
                name: sub,
                sub: None,
            };
            let condition = self.comparison(sub_path)?;
            let Filter::ValuePath { path, filter } = value_path else {
                unreachable!()
            };
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(Filter::And(filter, Box::new(condition))),
            });
        }
        self.comparison(path)
    }

    fn comparison(&mut self, path: AttrPath) -> Result<Filter> {
        let op_word = match self.next() {
            Some(Token::Word(w)) => w,
            _ => return Err(invalid(format!("expected an operator after {path}"))),
        };
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::parse(&op_word).ok_or_else(|| {
            invalid(format!(
                "{op_word:?} is not an operator (eq ne co sw ew gt ge lt le pr)"
            ))
        })?;
        let value = match self.next() {
            Some(Token::Str(s)) => CompValue::Str(s),
            Some(Token::Word(w)) => word_value(&w),
            _ => return Err(invalid(format!("expected a value after {path} {op_word}"))),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

/// An unquoted value: JSON literal or number, else (leniently) a string.
fn word_value(word: &str) -> CompValue {
    match word.to_ascii_lowercase().as_str() {
        "true" => return CompValue::Bool(true),
        "false" => return CompValue::Bool(false),
        "null" => return CompValue::Null,
        _ => {}
    }
    let numeric = word
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '-')
        && word
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
    match word.parse::<f64>() {
        Ok(n) if numeric && n.is_finite() => CompValue::Number(n),
        _ => CompValue::Str(word.to_string()),
    }
}

pub fn parse(input: &str) -> Result<Filter> {
    if input.len() > MAX_FILTER_LEN {
        return Err(invalid(format!(
            "the filter is longer than {MAX_FILTER_LEN} bytes"
        )));
    }
    if input.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(invalid("the filter contains control characters"));
    }
    let tokens = tokenize(input)?;
    if tokens.is_empty() {
        return Err(invalid("the filter is empty"));
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let filter = parser.or_expr()?;
    if parser.pos < parser.tokens.len() {
        return Err(invalid(format!(
            "unexpected {} after a complete expression",
            match &parser.tokens[parser.pos] {
                Token::Word(w) => format!("{w:?}"),
                Token::Str(s) => format!("string {s:?}"),
                Token::Open => "\"(\"".into(),
                Token::Close => "\")\"".into(),
                Token::OpenBracket => "\"[\"".into(),
                Token::CloseBracket(_) => "\"]\"".into(),
            }
        )));
    }
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: sub.map(Into::into),
        }
    }

    fn eq(name: &str, value: &str) -> Filter {
        Filter::Compare {
            path: path(name, None),
            op: CompareOp::Eq,
            value: CompValue::Str(value.into()),
        }
    }

    #[test]
    fn simple_comparisons_quoted_and_unquoted() {
        assert_eq!(
            parse(r#"userName eq "bjensen""#).unwrap(),
            eq("userName", "bjensen")
        );
        assert_eq!(
            parse("userName Eq jane@x.org").unwrap(),
            eq("userName", "jane@x.org")
        );
        assert_eq!(
            parse("active eq True").unwrap(),
            Filter::Compare {
                path: path("active", None),
                op: CompareOp::Eq,
                value: CompValue::Bool(true)
            }
        );
        assert_eq!(
            parse(r#"name.familyName co "O'Malley""#).unwrap(),
            Filter::Compare {
                path: path("name", Some("familyName")),
                op: CompareOp::Co,
                value: CompValue::Str("O'Malley".into())
            }
        );
        assert_eq!(
            parse("title pr").unwrap(),
            Filter::Present(path("title", None))
        );
        assert_eq!(
            parse("meta.lastModified gt \"2011-05-13T04:42:34Z\"").unwrap(),
            Filter::Compare {
                path: path("meta", Some("lastModified")),
                op: CompareOp::Gt,
                value: CompValue::Str("2011-05-13T04:42:34Z".into())
            }
        );
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let f = parse(r#"a eq "1" or b eq "2" and c eq "3""#).unwrap();
        assert_eq!(
            f,
            Filter::Or(
                Box::new(eq("a", "1")),
                Box::new(Filter::And(Box::new(eq("b", "2")), Box::new(eq("c", "3"))))
            )
        );
        let f = parse(r#"(a eq "1" or b eq "2") and not (c eq "3")"#).unwrap();
        assert_eq!(
            f,
            Filter::And(
                Box::new(Filter::Or(Box::new(eq("a", "1")), Box::new(eq("b", "2")))),
                Box::new(Filter::Not(Box::new(eq("c", "3"))))
            )
        );
    }

    #[test]
    fn value_paths_and_the_trailing_sub_attribute_form() {
        let f = parse(r#"emails[type eq "work" and value co "@example.com"]"#).unwrap();
        assert_eq!(
            f,
            Filter::ValuePath {
                path: path("emails", None),
                filter: Box::new(Filter::And(
                    Box::new(eq("type", "work")),
                    Box::new(Filter::Compare {
                        path: path("value", None),
                        op: CompareOp::Co,
                        value: CompValue::Str("@example.com".into())
                    })
                ))
            }
        );
        let f = parse(r#"emails[type eq "work"].value eq "a@b.c""#).unwrap();
        assert_eq!(
            f,
            Filter::ValuePath {
                path: path("emails", None),
                filter: Box::new(Filter::And(
                    Box::new(eq("type", "work")),
                    Box::new(eq("value", "a@b.c"))
                ))
            }
        );
    }

    #[test]
    fn urn_prefixed_paths_keep_their_dots() {
        let f = parse(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#).unwrap();
        let Filter::Compare { path, .. } = f else {
            panic!()
        };
        assert_eq!(
            path.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(
            (path.name.as_str(), path.sub.as_deref()),
            ("manager", Some("value"))
        );
    }

    #[test]
    fn strings_decode_json_escapes_and_numbers_parse() {
        assert_eq!(
            parse(r#"displayName eq "a \"b\" \u00e9""#).unwrap(),
            eq("displayName", "a \"b\" é")
        );
        assert_eq!(
            parse("x gt -1.5e2").unwrap(),
            Filter::Compare {
                path: path("x", None),
                op: CompareOp::Gt,
                value: CompValue::Number(-150.0)
            }
        );
        assert_eq!(
            parse("x eq null").unwrap(),
            Filter::Compare {
                path: path("x", None),
                op: CompareOp::Eq,
                value: CompValue::Null
            }
        );
    }

    #[test]
    fn malformed_filters_are_invalid_filter_errors() {
        for bad in [
            "",
            "userName",
            "userName eq",
            "userName xx \"a\"",
            "userName eq \"open",
            "(userName eq \"a\"",
            "userName eq \"a\")",
            "emails[type eq \"work\"",
            "emails.value[type eq \"work\"]",
            "\"a\" eq userName",
            "userName eq \"a\" and",
            "userName eq \"a\" userName eq \"b\"",
            "1abc eq \"x\"",
            "userName eq \"a\u{0}\"",
            r#"userName co "\u0000""#,
            // Multi-byte characters across the 4th byte, where `urn:` is looked for (a panic
            // the fuzzer found).
            "H\u{5f6}\u{5b7}\ni",
            "Hé€ eq \"x\"",
            r#"displayName eq "a\u001b[31m""#,
        ] {
            assert!(
                matches!(parse(bad), Err(Error::InvalidFilter(_))),
                "{bad:?} should be invalid"
            );
        }
        let deep = format!("{}a eq 1{}", "(".repeat(40), ")".repeat(40));
        assert!(matches!(parse(&deep), Err(Error::InvalidFilter(m)) if m.contains("nested")));
        assert!(parse(&"a".repeat(MAX_FILTER_LEN + 1)).is_err());
    }
}
