//! Expressions of ARM templates: tokens, the syntax tree, and the functions that
//! need no deployment state.

use serde_json::Value;

#[derive(Debug, Clone)]
pub(super) enum Node {
    Lit(Value),
    Call(String, Vec<Node>),
    Prop(Box<Node>, String),
    Index(Box<Node>, Box<Node>),
}

/// Objects merge (later keys win, nested objects merge); arrays concatenate
/// without duplicates.
pub(super) fn union(a: Value, b: Value) -> Result<Value, String> {
    match (a, b) {
        (Value::Object(mut x), Value::Object(y)) => {
            for (k, v) in y {
                let merged = match x.remove(&k) {
                    Some(old @ Value::Object(_)) if v.is_object() => union(old, v)?,
                    _ => v,
                };
                x.insert(k, merged);
            }
            Ok(Value::Object(x))
        }
        (Value::Array(mut x), Value::Array(y)) => {
            for v in y {
                if !x.contains(&v) {
                    x.push(v);
                }
            }
            Ok(Value::Array(x))
        }
        (a, b) => Err(format!("union() of {a} and {b}")),
    }
}

/// A deterministic GUID from the arguments (as `guid()` is: same input, same id).
pub(super) fn guid(parts: &[String]) -> String {
    let mut h = [0xcbf2_9ce4_8422_2325u64, 0x8422_2325_cbf2_9ce4u64];
    for (i, p) in parts.iter().enumerate() {
        for b in p.bytes().chain([0]) {
            for (j, x) in h.iter_mut().enumerate() {
                *x ^= u64::from(b) + (i as u64) + (j as u64);
                *x = x.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }
    let hex = format!("{:016x}{:016x}", h[0], h[1]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Parses one expression (without the surrounding brackets).
pub(super) fn parse(text: &str) -> Result<Node, String> {
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, at: 0 };
    let node = p.expr()?;
    if p.at != p.tokens.len() {
        return Err(format!(
            "unexpected {:?} in expression {text:?}",
            p.tokens[p.at]
        ));
    }
    Ok(node)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(i64),
    Sym(char),
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if "(),.[]".contains(c) {
            out.push(Tok::Sym(c));
            i += 1;
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated string in {text:?}")),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        s.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else if c.is_ascii_digit() || c == '-' {
            let start = i;
            i += 1;
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            out.push(Tok::Num(
                s.parse()
                    .map_err(|_| format!("bad number {s:?} in {text:?}"))?,
            ));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|ch| ch.is_alphanumeric() || *ch == '_' || *ch == '#')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            return Err(format!("unexpected character {c:?} in {text:?}"));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at)
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.next() {
            Some(Tok::Sym(s)) if s == c => Ok(()),
            other => Err(format!("expected {c:?}, found {other:?}")),
        }
    }

    fn expr(&mut self) -> Result<Node, String> {
        let mut node = match self.next() {
            Some(Tok::Str(s)) => Node::Lit(Value::String(s)),
            Some(Tok::Num(n)) => Node::Lit(Value::from(n)),
            Some(Tok::Ident(name)) => {
                self.expect('(')?;
                let mut args = Vec::new();
                if self.peek() != Some(&Tok::Sym(')')) {
                    loop {
                        args.push(self.expr()?);
                        match self.next() {
                            Some(Tok::Sym(',')) => continue,
                            Some(Tok::Sym(')')) => break,
                            other => return Err(format!("expected ',' or ')', found {other:?}")),
                        }
                    }
                } else {
                    self.at += 1;
                }
                Node::Call(name, args)
            }
            other => return Err(format!("unexpected {other:?}")),
        };
        loop {
            match self.peek() {
                Some(Tok::Sym('.')) => {
                    self.at += 1;
                    match self.next() {
                        Some(Tok::Ident(p)) => node = Node::Prop(Box::new(node), p),
                        other => return Err(format!("expected a property name, found {other:?}")),
                    }
                }
                Some(Tok::Sym('[')) => {
                    self.at += 1;
                    let index = self.expr()?;
                    self.expect(']')?;
                    node = Node::Index(Box::new(node), Box::new(index));
                }
                _ => return Ok(node),
            }
        }
    }
}
