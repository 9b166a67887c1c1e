//! Thresholds: plain numbers (`warn: 80`) or Monitoring Plugins ranges (`"10:"`, `"~:10"`,
//! `"@10:20"`), so existing Nagios thresholds carry over unchanged.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::playbook::Invalid;
use crate::playbook::units::{Duration, Size};

/// As written in the playbook, before the check says what unit it is in.
#[derive(Debug, Clone)]
pub enum Raw {
    Number(f64),
    Text(String),
}

pub const EXPECTED: &str = "a number like 80 or a Nagios range like \"10:20\"";

/// A number as Rust's `f64` parse reads it (not `inf` or `nan`, which no threshold takes).
const NUMBER: &str = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?";

/// What a threshold's values may be, by the unit its check measures in, so that an editor can
/// tell `warn: 10GiB` on a percentage is wrong.
#[derive(Clone, Copy)]
pub enum Kind {
    Percent,
    Bytes,
    Seconds,
    Number,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Percent => "PercentThreshold",
            Kind::Bytes => "BytesThreshold",
            Kind::Seconds => "SecondsThreshold",
            Kind::Number => "NumberThreshold",
        }
    }

    /// N, N:, ~:N, N:M or @N:M of this kind's values.
    fn pattern(self) -> String {
        use crate::playbook::units::{SIZE_PATTERN, WS, duration_pattern};
        let value = match self {
            Kind::Percent => format!("{NUMBER}%?"),
            Kind::Bytes => format!("({NUMBER}|{SIZE_PATTERN})"),
            Kind::Seconds => format!("({NUMBER}|{})", duration_pattern()),
            Kind::Number => NUMBER.to_string(),
        };
        format!(r"^{WS}*@?{WS}*((~|{value})?{WS}*:{WS}*({value})?|{value}){WS}*$")
    }

    /// The definition's reference, the definition made the first time.
    pub fn reference(self, g: &mut schemars::SchemaGenerator) -> serde_json::Value {
        let (what, examples) = match self {
            Kind::Percent => (
                "a percentage",
                serde_json::json!([80, "90%", "~:80", "@90:100"]),
            ),
            Kind::Bytes => (
                "bytes: a count, or a size like 10GiB",
                serde_json::json!(["10GiB", "2GB:", 1073741824]),
            ),
            Kind::Seconds => (
                "seconds: a count, or a duration like 26h",
                serde_json::json!(["26h", "1h30m", 3600]),
            ),
            Kind::Number => ("a number", serde_json::json!([4, "1:", "~:0.05", "@10:20"])),
        };
        g.definitions_mut()
            .entry(self.name())
            .or_insert_with(|| {
                serde_json::json!({
                    "description": format!("A threshold in {what}: a value (the check says which way is bad), or a Monitoring Plugins range: N, N:, ~:N, N:M (alert outside), @N:M (alert inside)."),
                    "anyOf": [{ "type": "number" }, { "type": "string", "pattern": self.pattern() }],
                    "examples": examples,
                })
            });
        serde_json::json!({ "$ref": format!("#/$defs/{}", self.name()) })
    }

    fn optional(self, g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let one = self.reference(g);
        schemars::json_schema!({ "anyOf": [one, { "type": "null" }] })
    }
}

/// `warn:`/`crit:` of a check measured in percent, for `#[schemars(schema_with)]`.
pub fn percent(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    Kind::Percent.optional(g)
}

/// Of a check measured in bytes.
pub fn bytes(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    Kind::Bytes.optional(g)
}

/// Of a check measured in seconds.
pub fn seconds(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    Kind::Seconds.optional(g)
}

/// Of a check that counts or measures without a unit.
pub fn number(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    Kind::Number.optional(g)
}

/// Reads a threshold from a number or a string; load triples use it for their single form.
pub struct RawVisitor;

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

impl Visitor<'_> for RawVisitor {
    type Value = Raw;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(EXPECTED)
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Raw, E> {
        crate::playbook::units::finite(n).map(Raw::Number)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Raw, E> {
        Ok(Raw::Number(n as f64))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Raw, E> {
        Ok(Raw::Number(n as f64))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Raw, E> {
        Ok(Raw::Text(s.to_string()))
    }
}

impl fmt::Display for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Raw::Number(n) => write!(f, "{}", num(*n)),
            Raw::Text(t) => f.write_str(t),
        }
    }
}

/// Which way a plain value points: disk used% alerts above it, free bytes below it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Direction {
    Above,
    Below,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Unit {
    Percent,
    Number,
    Bytes,
    Seconds,
}

/// Alert when the value is outside `start..=end` (or inside, with `@`).
#[derive(Clone, Debug, PartialEq)]
pub struct Range {
    pub start: f64,
    pub end: f64,
    pub inside: bool,
    unit: Unit,
    plain: Option<Direction>,
}

impl Range {
    pub fn alerts(&self, v: f64) -> bool {
        let within = v >= self.start && v <= self.end;
        within == self.inside
    }

    /// The perfdata form, in the base unit (bytes, seconds).
    pub fn perf(&self) -> String {
        let at = if self.inside { "@" } else { "" };
        let start = if self.start == f64::NEG_INFINITY {
            "~".to_string()
        } else {
            num(self.start)
        };
        match (self.start == 0.0 && !self.inside, self.end == f64::INFINITY) {
            (true, false) => format!("{at}{}", num(self.end)),
            (_, true) => format!("{at}{start}:"),
            _ => format!("{at}{start}:{}", num(self.end)),
        }
    }

    /// "above 90%", "below 2 GiB", "outside 1:10".
    pub fn describe(&self) -> String {
        match (self.plain, self.inside) {
            (Some(Direction::Above), _) => format!("above {}", self.show(self.end)),
            (Some(Direction::Below), _) => format!("below {}", self.show(self.start)),
            (None, false) if self.end == f64::INFINITY => {
                format!("below {}", self.show(self.start))
            }
            (None, false) if self.start == 0.0 || self.start == f64::NEG_INFINITY => {
                format!("above {}", self.show(self.end))
            }
            (None, false) => format!("outside {}..{}", self.show(self.start), self.show(self.end)),
            (None, true) => format!("within {}..{}", self.show(self.start), self.show(self.end)),
        }
    }

    fn show(&self, v: f64) -> String {
        if v.is_infinite() {
            return if v > 0.0 { "∞".into() } else { "-∞".into() };
        }
        show_value(v, self.unit)
    }
}

pub fn show_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Percent => format!("{}%", num(v)),
        Unit::Number => num(v),
        Unit::Bytes => Size(v.max(0.0) as u64).to_string(),
        Unit::Seconds => Duration(std::time::Duration::from_secs_f64(v.max(0.0))).to_string(),
    }
}

/// A number as Nagios perfdata and people like it: no trailing zeros, at most 2 decimals.
pub fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn parse_value(s: &str, unit: Unit) -> Result<f64, Invalid> {
    let s = s.trim();
    let plain = s
        .strip_suffix('%')
        .filter(|_| unit == Unit::Percent)
        .unwrap_or(s);
    if let Ok(n) = plain.parse::<f64>() {
        return if n.is_finite() {
            Ok(n)
        } else {
            Err(format!("'{s}' is not a finite number").into())
        };
    }
    match unit {
        Unit::Bytes => s.parse::<Size>().map(|b| b.0 as f64),
        Unit::Seconds => s.parse::<Duration>().map(|d| d.0.as_secs_f64()),
        Unit::Percent | Unit::Number => Err(format!("'{s}' is not a number").into()),
    }
}

pub fn parse(raw: &Raw, dir: Direction, unit: Unit) -> Result<Range, Invalid> {
    let text = match raw {
        Raw::Number(n) => return Ok(plain(*n, dir, unit)),
        Raw::Text(t) => t.trim(),
    };
    if !text.contains(':') && !text.starts_with('@') {
        return parse_value(text, unit).map(|n| plain(n, dir, unit));
    }
    let (inside, body) = match text.strip_prefix('@') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let bad = |why: Invalid| {
        Invalid(format!(
            "invalid range '{text}': {why}; expected N, N:, ~:N, N:M or @N:M"
        ))
    };
    let (start, end) = match body.split_once(':') {
        Some((a, b)) => {
            let start = match a.trim() {
                "~" => f64::NEG_INFINITY,
                "" => 0.0,
                a => parse_value(a, unit).map_err(bad)?,
            };
            let end = if b.trim().is_empty() {
                f64::INFINITY
            } else {
                parse_value(b, unit).map_err(bad)?
            };
            (start, end)
        }
        None => (0.0, parse_value(body, unit).map_err(bad)?),
    };
    if start > end {
        return Err(bad(
            format!("{} is greater than {}", num(start), num(end)).into()
        ));
    }
    Ok(Range {
        start,
        end,
        inside,
        unit,
        plain: None,
    })
}

fn plain(n: f64, dir: Direction, unit: Unit) -> Range {
    match dir {
        Direction::Above => Range {
            start: 0.0_f64.min(n),
            end: n,
            inside: false,
            unit,
            plain: Some(dir),
        },
        Direction::Below => Range {
            start: n,
            end: f64::INFINITY,
            inside: false,
            unit,
            plain: Some(dir),
        },
    }
}

/// A warn/crit pair, checked so that warn comes before crit as the value gets worse.
#[derive(Clone, Debug)]
pub struct Levels {
    pub warn: Option<Range>,
    pub crit: Option<Range>,
}

impl Levels {
    pub fn parse(
        warn: Option<&Raw>,
        crit: Option<&Raw>,
        dir: Direction,
        unit: Unit,
        names: (&str, &str),
    ) -> Result<Levels, Invalid> {
        use crate::playbook::diagnostic::{at_key, with_hint};
        let warn_r = warn
            .map(|w| parse(w, dir, unit))
            .transpose()
            .map_err(|e| at_key(names.0, e))?;
        let crit_r = crit
            .map(|c| parse(c, dir, unit))
            .transpose()
            .map_err(|e| at_key(names.1, e))?;
        if let (Some(w), Some(c)) = (&warn_r, &crit_r)
            && w.plain.is_some()
            && c.plain.is_some()
        {
            let (wv, cv) = match dir {
                Direction::Above => (w.end, c.end),
                Direction::Below => (w.start, c.start),
            };
            let wrong = match dir {
                Direction::Above => wv > cv,
                Direction::Below => wv < cv,
            };
            if wrong {
                let (side, order) = match dir {
                    Direction::Above => ("above", "rises"),
                    Direction::Below => ("below", "falls"),
                };
                return Err(at_key(
                    names.0,
                    with_hint(
                        format!(
                            "{} {} is {side} {} {}: the warning would never fire",
                            names.0,
                            show_value(wv, unit),
                            names.1,
                            show_value(cv, unit),
                        ),
                        format!(
                            "{} must be reached first as the value {order}; swap the two?",
                            names.0
                        ),
                    ),
                ));
            }
        }
        Ok(Levels {
            warn: warn_r,
            crit: crit_r,
        })
    }

    pub fn status(&self, v: f64) -> crate::report::Status {
        use crate::report::Status;
        if self.crit.as_ref().is_some_and(|c| c.alerts(v)) {
            Status::Critical
        } else if self.warn.as_ref().is_some_and(|w| w.alerts(v)) {
            Status::Warning
        } else {
            Status::Ok
        }
    }

    /// "critical above 90%, warning above 80%".
    pub fn describe(&self) -> String {
        let mut parts = vec![];
        if let Some(c) = &self.crit {
            parts.push(format!("critical {}", c.describe()));
        }
        if let Some(w) = &self.warn {
            parts.push(format!("warning {}", w.describe()));
        }
        parts.join(", ")
    }

    pub fn perf(&self) -> (String, String) {
        (
            self.warn.as_ref().map(Range::perf).unwrap_or_default(),
            self.crit.as_ref().map(Range::perf).unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Range {
        parse(&Raw::Text(s.into()), Direction::Above, Unit::Number).unwrap()
    }

    #[test]
    fn nagios_ranges() {
        assert!(r("10").alerts(11.0) && r("10").alerts(-1.0) && !r("10").alerts(10.0));
        assert!(r("10:").alerts(9.0) && !r("10:").alerts(100.0));
        assert!(r("~:10").alerts(11.0) && !r("~:10").alerts(-5.0));
        assert!(r("10:20").alerts(21.0) && r("10:20").alerts(9.0) && !r("10:20").alerts(15.0));
        assert!(r("@10:20").alerts(15.0) && !r("@10:20").alerts(21.0));
        assert_eq!(r("@10:20").perf(), "@10:20");
        assert_eq!(r("~:10").perf(), "~:10");
        assert_eq!(r("10:").perf(), "10:");
        assert!(parse(&Raw::Text("20:10".into()), Direction::Above, Unit::Number).is_err());
    }

    #[test]
    fn plain_values_follow_the_direction() {
        let free = parse(&Raw::Text("2GiB".into()), Direction::Below, Unit::Bytes).unwrap();
        assert!(free.alerts(1e9) && !free.alerts(3e9));
        assert_eq!(free.perf(), "2147483648:");
        let used = parse(&Raw::Number(90.0), Direction::Above, Unit::Percent).unwrap();
        assert!(used.alerts(90.5) && !used.alerts(90.0));
        assert_eq!(used.describe(), "above 90%");
    }

    #[test]
    fn warn_after_crit_is_refused() {
        let err = Levels::parse(
            Some(&Raw::Number(95.0)),
            Some(&Raw::Number(90.0)),
            Direction::Above,
            Unit::Percent,
            ("warn", "crit"),
        )
        .unwrap_err();
        assert!(err.0.contains("never fire"), "{err}");
    }
}
