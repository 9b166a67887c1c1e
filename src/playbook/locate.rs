//! Find where a value sits in the YAML text, for errors found after parsing.
//!
//! serde_yaml keeps no spans, but it does attach the position to any error raised while it
//! deserializes a node. So we walk the document along the path and raise an error on the
//! target node: the error's location is the answer.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

const MARK: &str = "tend-locate-here";

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
    /// The second time this key is written in the mapping.
    Again(String),
}

fn parse(path: &str) -> Vec<Seg> {
    let mut segs = vec![];
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            segs.push(Seg::Key(key.to_string()));
        }
        while let Some(end) = rest.find(']') {
            if let Ok(i) = rest[1..end].parse() {
                segs.push(Seg::Index(i));
            }
            rest = &rest[end + 1..];
        }
    }
    segs
}

/// Byte offset of the value at `path`, if it exists.
pub fn path(text: &str, path: &str) -> Option<usize> {
    at(text, parse(path))
}

/// Byte offset of the second `key` in the mapping at `path` (a duplicate key).
pub fn again(text: &str, path: &str, key: &str) -> Option<usize> {
    let mut segs = parse(path);
    segs.push(Seg::Again(key.to_string()));
    at(text, segs)
}

/// Byte offset of the value of the first `key` found in or below the node at `path`.
pub fn key_below(text: &str, path: &str, key: &str) -> Option<usize> {
    let value = serde_yaml::from_str::<serde_yaml::Value>(text).ok()?;
    let mut node = &value;
    let mut segs = parse(path);
    for s in &segs {
        node = match s {
            Seg::Key(k) => node.get(k.as_str())?,
            Seg::Index(i) => node.get(*i)?,
            Seg::Again(_) => return None,
        };
    }
    let rest = find(node, key)?;
    segs.extend(rest);
    at(text, segs)
}

fn find(node: &serde_yaml::Value, key: &str) -> Option<Vec<Seg>> {
    match node {
        serde_yaml::Value::Mapping(m) => {
            if m.contains_key(key) {
                return Some(vec![Seg::Key(key.to_string())]);
            }
            m.iter().find_map(|(k, v)| {
                let mut found = find(v, key)?;
                found.insert(0, Seg::Key(k.as_str()?.to_string()));
                Some(found)
            })
        }
        serde_yaml::Value::Sequence(s) => s.iter().enumerate().find_map(|(i, v)| {
            let mut found = find(v, key)?;
            found.insert(0, Seg::Index(i));
            Some(found)
        }),
        _ => None,
    }
}

fn at(text: &str, segs: Vec<Seg>) -> Option<usize> {
    let de = serde_yaml::Deserializer::from_str(text);
    let err = Walk(&segs).deserialize(de).err()?;
    if !err.to_string().contains(MARK) {
        return None;
    }
    let loc = err.location()?;
    Some(loc.index())
}

/// The scalars a search passes over: visited and dropped, they say nothing of the place sought.
macro_rules! ignore_scalars {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    };
}

struct Walk<'a>(&'a [Seg]);

/// Reads a mapping's keys and fails on the second one equal to the key looked for.
struct Again<'a>(&'a str, &'a mut bool);

impl<'de> DeserializeSeed<'de> for Again<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Again<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        if s == self.0 {
            if *self.1 {
                return Err(E::custom(MARK));
            }
            *self.1 = true;
        }
        Ok(())
    }
    ignore_scalars!();
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

struct Here;

impl<'de> Visitor<'de> for Here {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(MARK))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(MARK))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(MARK))
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.0.is_empty() {
            // Fail while the node itself is being read, so the error carries the node's position.
            return d.deserialize_any(Here);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if let Seg::Again(key) = &self.0[0] {
            let mut seen = false;
            while map.next_key_seed(Again(key, &mut seen))?.is_some() {
                map.next_value::<IgnoredAny>()?;
            }
            return Ok(());
        }
        while let Some(key) = map.next_key::<serde_yaml::Value>()? {
            let hit = match (&self.0[0], &key) {
                (Seg::Key(k), serde_yaml::Value::String(s)) => k == s,
                _ => false,
            };
            if hit {
                return map.next_value_seed(Walk(&self.0[1..]));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            if self.0[0] == Seg::Index(i) {
                seq.next_element_seed(Walk(&self.0[1..]))?;
                return Ok(());
            }
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
    ignore_scalars!();
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let (_, v): (IgnoredAny, _) = data.variant()?;
        de::VariantAccess::newtype_variant::<IgnoredAny>(v).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_nested_value() {
        let text = "kind: check\nchecks:\n  - cpu: {}\n  - disk: { warn: 95, crit: 90 }\n";
        let index = super::path(text, "checks[1].disk.crit").unwrap();
        assert_eq!(&text[index..index + 2], "90");
        let index = super::key_below(text, "checks[1]", "warn").unwrap();
        assert_eq!(&text[index..index + 2], "95");
        assert!(super::path(text, "checks[5]").is_none());
    }

    #[test]
    fn finds_a_duplicate_key() {
        let text = "kind: check\nchecks:\n  - disk: { warn: 95, crit: 90, warn: 80 }\n";
        let index = super::again(text, "checks[0].disk", "warn").unwrap();
        assert_eq!(&text[index..index + 8], "warn: 80");
        let text = "name: a\nkind: check\nname: b\n";
        assert_eq!(super::again(text, "", "name"), Some(20));
    }
}
