//! A check's verdict on what it read (OK, WARNING, CRITICAL, UNKNOWN, with perfdata), and the
//! Nagios words and codes for them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::report::Status;

/// One line of perfdata: `'label'=value[uom];warn;crit;min;max`.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Perf {
    pub label: String,
    pub value: f64,
    pub uom: String,
    pub warn: String,
    pub crit: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Perf {
    /// A plugin's perfdata (`'label'=value[uom];warn;crit;min;max ...`), as the Monitoring
    /// Plugins guidelines write it; items whose value is not a number (`U`) are left out.
    pub fn parse_all(text: &str) -> Vec<Perf> {
        let mut out = vec![];
        let mut rest = text.trim_start();
        while !rest.is_empty() {
            let (label, after) = if let Some(quoted) = rest.strip_prefix('\'') {
                let mut label = String::new();
                let mut chars = quoted.char_indices().peekable();
                let mut end = quoted.len();
                while let Some((i, c)) = chars.next() {
                    if c == '\'' {
                        if chars.peek().map(|(_, c)| *c) == Some('\'') {
                            chars.next();
                        } else {
                            end = i + 1;
                            break;
                        }
                    }
                    label.push(c);
                }
                (label, &quoted[end..])
            } else {
                let end = rest.find(['=', ' ']).unwrap_or(rest.len());
                (rest[..end].to_string(), &rest[end..])
            };
            let Some(after) = after.strip_prefix('=') else {
                // Not perfdata after all: skip the word.
                rest = after.trim_start_matches(|c| c != ' ').trim_start();
                continue;
            };
            let end = after.find(' ').unwrap_or(after.len());
            let mut fields = after[..end].split(';');
            rest = after[end..].trim_start();
            let value = fields.next().unwrap_or_default();
            let split = value
                .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))
                .unwrap_or(value.len());
            let Ok(number) = value[..split].parse::<f64>() else {
                continue;
            };
            let mut text = || fields.next().unwrap_or_default().to_string();
            let (warn, crit, min, max) = (text(), text(), text(), text());
            out.push(Perf {
                label,
                value: number,
                uom: value[split..].to_string(),
                warn,
                crit,
                min: min.parse().ok(),
                max: max.parse().ok(),
            });
        }
        out
    }
}

/// The result of one check on one object (one mount, one process name...).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Verdict {
    /// The host it was checked on, across hosts; empty on this machine.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    pub name: String,
    pub kind: Cow<'static, str>,
    pub status: Status,
    /// Short, for the Nagios status line: "93% used".
    pub summary: String,
    /// Longer, for people: "46.5 GiB of 50 GiB used, 3.5 GiB free".
    pub detail: String,
    /// "critical above 90%, warning above 80%".
    pub thresholds: String,
    pub perf: Vec<Perf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_steps: Vec<String>,
    /// Which entry of `checks:` it came from (0 for the first).
    #[serde(default)]
    pub item: usize,
    /// What its remedy did and what came of it, or why it was held back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<Told>,
}

/// A remedy's story, as a verdict carries it.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Told {
    /// It ran (else it was held back, `max_per`).
    pub ran: bool,
    pub story: String,
}

impl Verdict {
    /// Its remedy ran and it is OK now.
    pub fn remedied(&self) -> bool {
        self.remedy.as_ref().is_some_and(|r| r.ran) && !self.status.is_problem()
    }
}

impl Verdict {
    /// Every text masked, once, before any output is made of it: the outputs transform the
    /// text (perfdata labels trade `'` for `_`), and a transformed secret is not recognised.
    pub fn redact(&mut self) {
        let fix = |s: &mut String| *s = crate::redact::redact(s);
        fix(&mut self.name);
        fix(&mut self.summary);
        fix(&mut self.detail);
        fix(&mut self.thresholds);
        for p in &mut self.perf {
            fix(&mut p.label);
        }
        self.runbook.iter_mut().for_each(fix);
        self.first_steps.iter_mut().for_each(fix);
        self.remedy.iter_mut().for_each(|r| fix(&mut r.story));
    }

    pub fn unknown(name: String, kind: &'static str, why: impl ToString) -> Verdict {
        Verdict::failed(name, kind, Status::Unknown, why.to_string())
    }

    pub fn failed(name: String, kind: &'static str, status: Status, why: String) -> Verdict {
        Verdict {
            host: String::new(),
            name,
            kind: kind.into(),
            status,
            summary: why.clone(),
            detail: why,
            thresholds: String::new(),
            perf: vec![],
            runbook: None,
            first_steps: vec![],
            item: 0,
            remedy: None,
        }
    }
}

/// Nagios ranks a run by its worst check: CRITICAL, then WARNING, then UNKNOWN, then OK.
pub fn severity(s: Status) -> u8 {
    match s {
        Status::Ok | Status::Skipped => 0,
        Status::Unknown => 1,
        Status::Warning => 2,
        Status::Critical | Status::Failed => 3,
    }
}

pub fn nagios_code(s: Status) -> crate::error::Exit {
    use crate::error::Exit;
    match s {
        Status::Ok | Status::Skipped => Exit::OK,
        Status::Warning => Exit::NAGIOS_WARNING,
        Status::Critical | Status::Failed => Exit::NAGIOS_CRITICAL,
        Status::Unknown => Exit::NAGIOS_UNKNOWN,
    }
}

pub fn nagios_word(s: Status) -> &'static str {
    match s {
        Status::Ok | Status::Skipped => "OK",
        Status::Warning => "WARNING",
        Status::Critical | Status::Failed => "CRITICAL",
        Status::Unknown => "UNKNOWN",
    }
}

pub fn overall(outcomes: &[Verdict]) -> Status {
    outcomes
        .iter()
        .map(|o| o.status)
        .max_by_key(|s| severity(*s))
        .unwrap_or(Status::Ok)
}

/// The kind of the verdict that stands for a whole host that gave none (across hosts).
pub const HOST: &str = "host";

/// Hosts by their worst verdict, worst first (the inventory's order among equals): indices
/// into `hosts`, each with its verdicts.
pub fn by_host(outcomes: &[Verdict]) -> Vec<(&str, Vec<&Verdict>)> {
    let mut hosts: Vec<(&str, Vec<&Verdict>)> = vec![];
    for o in outcomes {
        match hosts.iter_mut().find(|(h, _)| *h == o.host) {
            Some((_, vs)) => vs.push(o),
            None => hosts.push((&o.host, vec![o])),
        }
    }
    hosts.sort_by_key(|(_, vs)| std::cmp::Reverse(worst(vs)));
    hosts
}

/// A host's worst state, as Nagios ranks them.
pub fn worst(vs: &[&Verdict]) -> u8 {
    vs.iter().map(|v| severity(v.status)).max().unwrap_or(0)
}

/// The worst status among a host's verdicts.
pub fn worst_status(vs: &[&Verdict]) -> Status {
    vs.iter()
        .map(|v| v.status)
        .max_by_key(|s| severity(*s))
        .unwrap_or(Status::Ok)
}

#[cfg(test)]
mod tests {
    use super::Perf;

    #[test]
    fn plugin_perfdata_is_read_as_written() {
        let p = Perf::parse_all("'/ root'=93%;80;90;0;100 time=0.012s;;;0 'it''s'=3 bad=U junk");
        let got: Vec<_> = p
            .iter()
            .map(|p| {
                format!(
                    "{}|{}|{}|{}|{}|{:?}|{:?}",
                    p.label, p.value, p.uom, p.warn, p.crit, p.min, p.max
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                "/ root|93|%|80|90|Some(0.0)|Some(100.0)",
                "time|0.012|s|||Some(0.0)|None",
                "it's|3||||None|None",
            ]
        );
    }
}
