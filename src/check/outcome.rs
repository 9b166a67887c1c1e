use serde::Serialize;

use crate::report::Status;

/// One line of perfdata: `'label'=value[uom];warn;crit;min;max`.
#[derive(Serialize, Debug, Clone)]
pub struct Perf {
    pub label: String,
    pub value: f64,
    pub uom: &'static str,
    pub warn: String,
    pub crit: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// The result of one check on one object (one mount, one process name...).
#[derive(Serialize, Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub kind: &'static str,
    pub status: Status,
    /// Short, for the Nagios status line: "93% used".
    pub summary: String,
    /// Longer, for people: "46.5 GiB of 50 GiB used, 3.5 GiB free".
    pub detail: String,
    /// "critical above 90%, warning above 80%".
    pub thresholds: String,
    pub perf: Vec<Perf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub first_steps: Vec<String>,
}

impl Outcome {
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
    }

    pub fn unknown(name: String, kind: &'static str, why: String) -> Outcome {
        Outcome::failed(name, kind, Status::Unknown, why)
    }

    pub fn failed(name: String, kind: &'static str, status: Status, why: String) -> Outcome {
        Outcome {
            name,
            kind,
            status,
            summary: why.clone(),
            detail: why,
            thresholds: String::new(),
            perf: vec![],
            runbook: None,
            first_steps: vec![],
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

pub fn nagios_code(s: Status) -> i32 {
    match s {
        Status::Ok | Status::Skipped => 0,
        Status::Warning => 1,
        Status::Critical | Status::Failed => 2,
        Status::Unknown => 3,
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

pub fn overall(outcomes: &[Outcome]) -> Status {
    outcomes
        .iter()
        .map(|o| o.status)
        .max_by_key(|s| severity(*s))
        .unwrap_or(Status::Ok)
}
