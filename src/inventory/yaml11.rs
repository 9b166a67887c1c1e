//! YAML as Ansible reads it (PyYAML, YAML 1.1), not as YAML 1.2 reads it: an unquoted
//! `yes`/`no`/`on`/`off` is a boolean, `0640` an octal number, `1_000` a thousand, and `<<:`
//! merges a mapping in. `enabled: no` in a `group_vars` file must not reach a template as the
//! text "no", which is true. And its values as Ansible takes them: a vars mapping's names as
//! text, `!unsafe` as the text itself, `!vault` refused.
//!
//! serde_yaml hands an unquoted scalar's text over as a slice of the input, and a quoted one's
//! without its quote: the byte before the slice tells which was written.

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};
use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Number, Value};

use crate::playbook::{Invalid, Vars};

/// `text` as PyYAML would load it.
pub fn parse(text: &str) -> Result<Value, serde_yaml::Error> {
    let de = serde_yaml::Deserializer::from_str(text);
    let mut value = Seed { text }.deserialize(de)?;
    value.apply_merge()?;
    Ok(value)
}

#[derive(Clone, Copy)]
struct Seed<'a> {
    text: &'a str,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Value, E> {
        Ok(if self.unquoted(s) {
            yaml11(s).unwrap_or_else(|| Value::String(s.to_string()))
        } else {
            Value::String(s.to_string())
        })
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = vec![];
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Sequence(out))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Mapping::new();
        while let Some(k) = map.next_key_seed(self)? {
            let v = map.next_value_seed(self)?;
            if out.contains_key(&k) {
                return Err(de::Error::custom(format!(
                    "duplicate key {}",
                    serde_yaml::to_string(&k).unwrap_or_default().trim()
                )));
            }
            out.insert(k, v);
        }
        Ok(Value::Mapping(out))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        use de::VariantAccess;
        let (tag, contents): (String, _) = data.variant()?;
        let value = contents.newtype_variant_seed(self)?;
        Ok(Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(tag),
            value,
        })))
    }
}

impl Seed<'_> {
    /// Written without quotes: a slice of the input not right after a quote.
    fn unquoted(&self, s: &str) -> bool {
        let base = self.text.as_ptr() as usize;
        let at = s.as_ptr() as usize;
        if at < base || at + s.len() > base + self.text.len() {
            return false;
        }
        let start = at - base;
        start == 0 || !matches!(self.text.as_bytes()[start - 1], b'\'' | b'"')
    }
}

/// What YAML 1.1 makes of an unquoted scalar YAML 1.2 left as text.
fn yaml11(s: &str) -> Option<Value> {
    match s {
        "yes" | "Yes" | "YES" | "on" | "On" | "ON" => return Some(Value::Bool(true)),
        "no" | "No" | "NO" | "off" | "Off" | "OFF" => return Some(Value::Bool(false)),
        _ => {}
    }
    let (sign, digits) = match s.as_bytes().first()? {
        b'-' => (-1i128, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let bad_underscores = digits.starts_with('_') || digits.ends_with('_');
    if clean.is_empty() || bad_underscores {
        return None;
    }
    let n = if let Some(b) = clean.strip_prefix("0b") {
        i128::from_str_radix(b, 2).ok()?
    } else if let Some(x) = clean.strip_prefix("0x") {
        i128::from_str_radix(x, 16).ok()?
    } else if clean.len() > 1 && clean.starts_with('0') {
        i128::from_str_radix(&clean[1..], 8).ok()?
    } else if clean.bytes().all(|c| c.is_ascii_digit()) && digits.contains('_') {
        clean.parse().ok()?
    } else if digits.contains('_')
        && clean.contains('.')
        && clean
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        // `1_000.5`: YAML 1.1 floats take underscores too.
        let f: f64 = clean.parse().ok()?;
        return Some(Value::Number(Number::from(sign as f64 * f)));
    } else {
        return None;
    };
    let n = sign * n;
    if let Ok(i) = i64::try_from(n) {
        Some(Value::Number(Number::from(i)))
    } else {
        u64::try_from(n)
            .ok()
            .map(|u| Value::Number(Number::from(u)))
    }
}

/// A mapping of vars (`vars:`, a `group_vars` file): names as text, tags read.
pub fn vars(value: Value, file: &str, of: &str) -> Result<Vars, Invalid> {
    match value {
        Value::Null => Ok(Vars::new()),
        Value::Mapping(m) => m
            .into_iter()
            .map(|(k, v)| match scalar(&k) {
                Some(k) => Ok((k, untagged(v, file)?)),
                None => Err(format!("{file}: a var of {of} is named by {}", kind(&k)).into()),
            })
            .collect(),
        other => Err(format!(
            "{file}: the vars of {of} are {}, not a mapping",
            kind(&other)
        )
        .into()),
    }
}

/// A value with Ansible's tags read: `!unsafe` is the text itself (tend never templates an
/// inventory's values); `!vault` cannot be decrypted here and is refused.
pub fn untagged(v: Value, file: &str) -> Result<Value, Invalid> {
    Ok(match v {
        Value::Tagged(t) if t.tag == "vault" => {
            return Err(crate::playbook::diagnostic::with_hint(
                format!(
                    "{file} holds a value encrypted with Ansible Vault (!vault), which tend cannot read"
                ),
                "give the value as a secret: in the playbook, or decrypt it where tend runs",
            ));
        }
        Value::Tagged(t) => untagged(t.value, file)?,
        Value::Sequence(s) => Value::Sequence(
            s.into_iter()
                .map(|x| untagged(x, file))
                .collect::<Result<_, _>>()?,
        ),
        Value::Mapping(m) => Value::Mapping(
            m.into_iter()
                .map(|(k, x)| Ok((k, untagged(x, file)?)))
                .collect::<Result<_, Invalid>>()?,
        ),
        other => other,
    })
}

/// A key as Ansible takes it: its text, whatever scalar YAML made of it (`10: ...` is "10").
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        _ => None,
    }
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde_yaml::Value;

    #[test]
    fn values_read_as_pyyaml_reads_them() {
        let v = parse(
            "a: yes\nb: 'yes'\nc: \"no\"\nd: off\ne: 0640\nf: '0640'\ng: 1_000\nh: 0b101\ni: text\nj: 0x1F\nk: -012\nl: |\n  yes\n",
        )
        .unwrap();
        let get = |k: &str| v.get(k).cloned().unwrap();
        assert_eq!(get("a"), Value::Bool(true));
        assert_eq!(get("b"), Value::from("yes"));
        assert_eq!(get("c"), Value::from("no"));
        assert_eq!(get("d"), Value::Bool(false));
        assert_eq!(get("e"), Value::from(416));
        assert_eq!(get("f"), Value::from("0640"));
        assert_eq!(get("g"), Value::from(1000));
        assert_eq!(get("h"), Value::from(5));
        assert_eq!(get("i"), Value::from("text"));
        assert_eq!(get("j"), Value::from(31));
        assert_eq!(get("k"), Value::from(-10));
        assert_eq!(get("l"), Value::from("yes\n"));
        assert_eq!(parse("m: 1_000.5\n").unwrap()["m"], Value::from(1000.5));
    }

    #[test]
    fn merge_keys_and_tags() {
        let v = parse("base: &b { x: 1, y: on }\nweb:\n  <<: *b\n  y: 2\ns: !unsafe '{{ x }}'\n")
            .unwrap();
        assert_eq!(v["web"]["x"], Value::from(1));
        assert_eq!(v["web"]["y"], Value::from(2));
        assert!(matches!(&v["s"], Value::Tagged(t) if t.tag == "unsafe"));
        assert!(
            parse("a: 1\na: 2\n")
                .unwrap_err()
                .to_string()
                .contains("duplicate")
        );
    }
}
