//! An INI inventory's values as Ansible reads them: `ast.literal_eval`, and the text itself
//! when that fails. So `port=8080` is a number, `flag=True` a boolean, `list="[1, 2]"` a list,
//! `mode=0640` and `on=yes` text (Python 3 has no `0640`, and `yes` is not a literal).

use serde_yaml::{Mapping, Number, Value};

/// The value `text` stands for.
pub fn value(text: &str) -> Value {
    // Most values are names (`r12`, `deploy`), which no literal starts like: text at once.
    if text
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() && !matches!(c, b'T' | b'F' | b'N'))
    {
        return Value::String(text.to_string());
    }
    let mut p = Parser {
        s: text.as_bytes(),
        at: 0,
        depth: 0,
    };
    p.blank();
    match p.literal() {
        Some(v)
            if {
                p.blank();
                p.at == p.s.len()
            } =>
        {
            v
        }
        _ => Value::String(text.to_string()),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
    /// Brackets open now: a value nested deeper than any playbook's is text, not a stack overflow.
    depth: usize,
}

const DEEPEST: usize = 64;

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn blank(&mut self) {
        while self.peek().is_some_and(|c| c == b' ' || c == b'\t') {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.blank();
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self) -> Option<Value> {
        self.blank();
        match self.peek()? {
            b'[' | b'(' | b'{' if self.depth >= DEEPEST => None,
            b'[' => self.nested(|p| p.sequence(b']').map(Value::Sequence)),
            b'(' => self.nested(|p| p.sequence(b')').map(Value::Sequence)),
            b'{' => self.nested(Parser::mapping),
            b'\'' | b'"' => {
                // Adjacent strings join, as in Python: 'a' "b" is "ab".
                let mut text = self.string()?;
                loop {
                    self.blank();
                    match self.peek() {
                        Some(b'\'' | b'"') => text.push_str(&self.string()?),
                        _ => break Some(Value::String(text)),
                    }
                }
            }
            _ => self.word(),
        }
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Option<Value>) -> Option<Value> {
        self.depth += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    /// After its opening bracket (stepped over here), items to `close`.
    fn sequence(&mut self, close: u8) -> Option<Vec<Value>> {
        self.at += 1;
        let mut items = vec![];
        loop {
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.literal()?);
            if !self.eat(b',') {
                return self.eat(close).then_some(items);
            }
        }
    }

    fn mapping(&mut self) -> Option<Value> {
        self.at += 1;
        let mut map = Mapping::new();
        loop {
            if self.eat(b'}') {
                return Some(Value::Mapping(map));
            }
            let key = self.literal()?;
            if matches!(key, Value::Sequence(_) | Value::Mapping(_)) || !self.eat(b':') {
                // An unhashable key, or a set: not a value JSON can hold.
                return None;
            }
            let value = self.literal()?;
            map.insert(key, value);
            if !self.eat(b',') {
                return self.eat(b'}').then_some(Value::Mapping(map));
            }
        }
    }

    /// A quoted string with Python's common escapes; anything rarer is no literal here.
    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let c = self.peek()?;
            self.at += 1;
            match c {
                c if c == quote => return String::from_utf8(out).ok(),
                b'\n' => return None,
                b'\\' => {
                    let e = self.peek()?;
                    self.at += 1;
                    out.extend_from_slice(match e {
                        b'n' => b"\n",
                        b't' => b"\t",
                        b'r' => b"\r",
                        b'0' => b"\0",
                        b'\\' => b"\\",
                        b'\'' => b"'",
                        b'"' => b"\"",
                        _ => return None,
                    });
                }
                c => out.push(c),
            }
        }
    }

    /// A number (with its sign), `True`, `False` or `None`.
    fn word(&mut self) -> Option<Value> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'+' | b'-'))
        {
            // A sign belongs to a number's start or its exponent only.
            let c = self.peek()?;
            if matches!(c, b'+' | b'-')
                && self.at > start
                && !matches!(self.s[self.at - 1], b'e' | b'E')
            {
                break;
            }
            self.at += 1;
        }
        let word = std::str::from_utf8(&self.s[start..self.at]).ok()?;
        match word {
            "True" => Some(Value::Bool(true)),
            "False" => Some(Value::Bool(false)),
            "None" => Some(Value::Null),
            _ => number(word).map(Value::Number),
        }
    }
}

/// A Python int or float literal, signed.
fn number(word: &str) -> Option<Number> {
    let (negative, digits) = match word.as_bytes().first()? {
        b'-' => (true, &word[1..]),
        b'+' => (false, &word[1..]),
        _ => (false, word),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        // An address (`10.0.0.11`), a version (`1.2.3`): no number has two points.
        || digits.matches('.').nth(1).is_some()
    {
        return None;
    }
    // The usual case, a plain count or port: no copy, no radix to find.
    if digits.bytes().all(|c| c.is_ascii_digit()) && (digits.len() == 1 || !digits.starts_with('0'))
    {
        let n: i128 = digits.parse().ok()?;
        let n = if negative { -n } else { n };
        return match i64::try_from(n) {
            Ok(i) => Some(Number::from(i)),
            Err(_) => u64::try_from(n).ok().map(Number::from),
        };
    }
    let clean = digits.replace('_', "");
    let lower = clean.to_ascii_lowercase();
    let radix = [("0x", 16), ("0o", 8), ("0b", 2)]
        .into_iter()
        .find(|(p, _)| lower.starts_with(p));
    let int = match radix {
        Some((prefix, radix)) => Some(i128::from_str_radix(&lower[prefix.len()..], radix).ok()?),
        // Python 3 refuses `0640`: leading zeros only in a zero.
        None if clean.bytes().all(|c| c.is_ascii_digit()) => {
            if clean.len() > 1 && clean.starts_with('0') && clean.bytes().any(|c| c != b'0') {
                return None;
            }
            Some(clean.parse::<i128>().ok()?)
        }
        None => None,
    };
    match int {
        Some(n) => {
            let n = if negative { -n } else { n };
            if let Ok(i) = i64::try_from(n) {
                Some(Number::from(i))
            } else {
                u64::try_from(n).ok().map(Number::from)
            }
        }
        None => {
            // A float: digits with a point or an exponent, not `inf` or `nan` (not literals).
            if !clean.bytes().next()?.is_ascii_digit() && !clean.starts_with('.') {
                return None;
            }
            if !clean
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
            {
                return None;
            }
            let f: f64 = clean.parse().ok()?;
            f.is_finite()
                .then(|| Number::from(if negative { -f } else { f }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::value;
    use serde_yaml::Value;

    fn json(text: &str) -> String {
        serde_json::to_string(&value(text)).unwrap()
    }

    /// Each as `ansible-inventory --list` (ansible-core 2.19) shows the value of `k=TEXT`.
    #[test]
    fn as_ansible_reads_them() {
        for (text, shown) in [
            ("8080", "8080"),
            ("0640", "\"0640\""),
            ("07", "\"07\""),
            ("0x10", "16"),
            ("1e3", "1000.0"),
            ("1.5", "1.5"),
            ("-5", "-5"),
            ("1_000", "1000"),
            ("True", "true"),
            ("None", "null"),
            ("yes", "\"yes\""),
            ("[1,2]", "[1,2]"),
            ("{'k': [1, 'two']}", "{\"k\":[1,\"two\"]}"),
            ("'q'", "\"q\""),
            ("\"dq\"", "\"dq\""),
            ("a b", "\"a b\""),
            ("", "\"\""),
            ("[1,", "\"[1,\""),
            ("inf", "\"inf\""),
            ("web01", "\"web01\""),
            ("1-2", "\"1-2\""),
        ] {
            assert_eq!(json(text), shown, "{text}");
        }
        assert_eq!(
            value("(1, 'a')"),
            Value::Sequence(vec![1.into(), "a".into()])
        );
        // Nested past any use: text, not a stack overflow.
        let deep = "[".repeat(20_000);
        assert_eq!(value(&deep), Value::String(deep.clone()));
    }
}
