//! Humane durations (`500ms`, `30s`, `5m`, `7d`) and sizes (`500MB`, `2GiB`).

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn secs(s: u64) -> Self {
        Duration(std::time::Duration::from_secs(s))
    }
}

impl FromStr for Duration {
    type Err = crate::playbook::Invalid;
    fn from_str(s: &str) -> Result<Self, crate::playbook::Invalid> {
        let s = s.trim();
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(format!("duration '{s}' needs a unit, like {s}s or {s}ms").into());
        }
        let d = humantime::parse_duration(s).map_err(|e| {
            format!("invalid duration '{s}': {e}; expected e.g. 500ms, 30s, 5m, 26h, 7d")
        })?;
        crate::sys::longest(d)
            .map(Duration)
            .map_err(|e| format!("duration '{s}' {e}").into())
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration like 500ms, 30s, 5m or 7d")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "duration {n} needs a unit, like {n}s or {n}ms"
                )))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "duration {n} needs a unit, like {n}s, and cannot be negative"
                )))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Duration, E> {
                Err(E::custom(format!("duration {n} needs a unit, like {n}s")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A YAML float as a number tend can compare with: `.nan` and `.inf` are floats to YAML, but a
/// threshold or a percentage that is not finite makes every comparison lie.
pub fn finite<E: de::Error>(n: f64) -> Result<f64, E> {
    if n.is_finite() {
        Ok(n)
    } else {
        Err(E::custom(crate::playbook::diagnostic::with_hint(
            format!("{} is not a finite number", yaml_float(n)),
            "give a number like 80",
        )))
    }
}

/// A finite number read from the playbook (`max_used_percent: 90`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Number(pub f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number like 80")
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Number, E> {
                finite(n).map(Number)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Number, E> {
                Ok(Number(n as f64))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Number, E> {
                Ok(Number(n as f64))
            }
        }
        d.deserialize_any(V)
    }
}

/// How YAML spells a float that is not finite, as the user wrote it (near enough).
fn yaml_float(n: f64) -> &'static str {
    if n.is_nan() {
        ".nan"
    } else if n > 0.0 {
        ".inf"
    } else {
        "-.inf"
    }
}

/// A size in bytes; decimal (MB) and binary (MiB) units are both understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl FromStr for Size {
    type Err = crate::playbook::Invalid;
    fn from_str(s: &str) -> Result<Self, crate::playbook::Invalid> {
        let t = s.trim();
        if let Ok(n) = t.parse::<u64>() {
            return Ok(Size(n));
        }
        t.parse::<bytesize::ByteSize>()
            .map(|b| Size(b.as_u64()))
            .map_err(|_| {
                format!(
                    "invalid size '{t}': expected e.g. 500MB, 2GiB, 512KiB or a number of bytes"
                )
                .into()
            })
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", bytesize::ByteSize(self.0).display().iec())
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size like 500MB or 2GiB")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Size, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Size, E> {
                Ok(Size(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Size, E> {
                Err(E::custom(format!("size {n} cannot be negative")))
            }
        }
        d.deserialize_any(V)
    }
}

/// humantime's units, longest first so that a pattern tries `min` before `m`.
const DURATION_UNITS: &str = "nanos|nsec|ns|usec|us|µs|millis|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|months|month|M|years|year|yrs|yr|y";

/// Whitespace as Rust trims it, for a schema's patterns: an editor's `\s` (ECMAScript's) lacks
/// U+0085, which Rust's has.
pub const WS: &str = r"[\s\u0085]";

/// A duration as humantime reads it, for a schema's patterns: numbers (spaces may part their
/// digits) each with a unit.
pub fn duration_pattern() -> String {
    format!(r"({WS}*[0-9][0-9\s\u0085]*(\.[0-9\s\u0085]*)?({DURATION_UNITS}))+{WS}*")
}

/// A size as tend reads it (after a trim: a count of bytes, or bytesize's number and unit), for
/// a schema's patterns.
pub const SIZE_PATTERN: &str =
    r"(\+[0-9]+|[0-9.]*[0-9][0-9.]*[\s\u0085]*([kKmMgGtTpPeE][iI]?[bB]?|[bB])?)";

crate::playbook::schema::schema_written!(Duration, "Duration", {
    "description": "A duration: a number and a unit (ms, s, m, h, d, w; M is months, y years), or several (1h30m).",
    "type": "string",
    "pattern": format!("^{}$", duration_pattern()),
    "examples": ["500ms", "30s", "5m", "26h", "7d"],
});

crate::playbook::schema::schema_written!(Size, "Size", {
    "description": "A size: bytes, or a number and a unit, decimal (KB, MB, GB) or binary (KiB, MiB, GiB).",
    "anyOf": [
        { "type": "integer", "minimum": 0 },
        { "type": "string", "pattern": format!(r"^{WS}*{SIZE_PATTERN}{WS}*$") },
    ],
    "examples": ["500MB", "2GiB", 1048576],
});

crate::playbook::schema::schema_written!(inline Number, "Number", { "type": "number", "examples": [90] });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            "500ms".parse::<Duration>().unwrap(),
            Duration(std::time::Duration::from_millis(500))
        );
        assert_eq!("7d".parse::<Duration>().unwrap(), Duration::secs(7 * 86400));
        assert!(
            "30".parse::<Duration>()
                .unwrap_err()
                .0
                .contains("needs a unit")
        );
        assert!("5 parsecs".parse::<Duration>().is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!("2GiB".parse::<Size>().unwrap(), Size(2 << 30));
        assert_eq!("500MB".parse::<Size>().unwrap(), Size(500_000_000));
        assert!("lots".parse::<Size>().is_err());
    }
}
