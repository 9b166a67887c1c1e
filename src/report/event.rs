use serde::{Deserialize, Serialize};

/// The outcome of a step, a check or a run.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Skipped,
    Warning,
    Unknown,
    Critical,
    Failed,
}

impl Status {
    pub fn is_problem(self) -> bool {
        !matches!(self, Status::Ok | Status::Skipped)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Skipped => "skipped",
            Status::Warning => "warning",
            Status::Unknown => "unknown",
            Status::Critical => "critical",
            Status::Failed => "failed",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// How one measurement of an analysis came out, and how the analysis did (Argo's words).
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Judged {
    Success,
    Failure,
    Inconclusive,
    Error,
}

impl Judged {
    pub fn label(self) -> &'static str {
        match self {
            Judged::Success => "success",
            Judged::Failure => "failure",
            Judged::Inconclusive => "inconclusive",
            Judged::Error => "error",
        }
    }
}

/// What jobs say about their progress. Reporters render these; the journal stores them.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        kind: String,
        name: String,
        playbook: Option<String>,
        /// The machine tend runs on. (`host` on a record is the host an event is about.)
        #[serde(rename = "controller", default)]
        host: String,
        user: String,
        pid: u32,
    },
    StepStarted {
        step: String,
        target: String,
    },
    Output {
        step: String,
        target: String,
        line: String,
    },
    StepFinished {
        step: String,
        target: String,
        status: Status,
        elapsed_ms: u64,
        message: String,
    },
    Notice {
        level: Level,
        message: String,
    },
    /// One measurement of an analysis during a step: the curve a rollback is decided on.
    Measurement {
        step: String,
        target: String,
        analysis: String,
        /// Which measurement, of how many at most.
        n: u32,
        count: u32,
        /// A number, the series' numbers, or null (no answer, or no series).
        value: serde_json::Value,
        /// The condition that decided it, as written (`failure: result >= 0.2`).
        condition: String,
        verdict: Judged,
        /// Why it is not a number: Prometheus's error, or "no series".
        detail: String,
    },
    RunFinished {
        status: Status,
        exit_code: i32,
        elapsed_ms: u64,
        message: String,
    },
}

impl Event {
    /// Whether `-q` still shows it.
    pub fn is_problem(&self) -> bool {
        match self {
            Event::StepFinished { status, .. } | Event::RunFinished { status, .. } => {
                status.is_problem()
            }
            Event::Notice { level, .. } => *level != Level::Info,
            Event::Measurement { verdict, .. } => *verdict != Judged::Success,
            _ => false,
        }
    }

    pub fn redact(&mut self) {
        self.each_text(|s| *s = crate::redact::redact(s));
    }

    /// Every text the event carries (names, messages, output), for masking and escaping.
    pub fn each_text(&mut self, fix: impl Fn(&mut String)) {
        match self {
            Event::RunStarted {
                name,
                playbook,
                host,
                user,
                ..
            } => {
                fix(name);
                fix(host);
                fix(user);
                if let Some(p) = playbook {
                    fix(p)
                }
            }
            Event::StepStarted { step, target } => {
                fix(step);
                fix(target);
            }
            Event::Output { step, target, line } => {
                fix(step);
                fix(target);
                fix(line);
            }
            Event::StepFinished {
                step,
                target,
                message,
                ..
            } => {
                fix(step);
                fix(target);
                fix(message);
            }
            Event::Notice { message, .. } | Event::RunFinished { message, .. } => fix(message),
            Event::Measurement {
                step,
                target,
                analysis,
                condition,
                detail,
                ..
            } => {
                fix(step);
                fix(target);
                fix(analysis);
                fix(condition);
                fix(detail);
            }
        }
    }
}

impl Event {
    /// A measurement as one line says it, its analysis first:
    /// `errors #2/5 0.21 → failure (failure: result >= 0.2)`; "" for any other event.
    pub fn measured(&self) -> String {
        let Event::Measurement {
            analysis,
            n,
            count,
            value,
            condition,
            verdict,
            detail,
            ..
        } = self
        else {
            return String::new();
        };
        // The detail says why a value was not judged (NaN); one in place of no value says it.
        let shown_detail = !value.is_null() && !detail.is_empty();
        let value = match value {
            serde_json::Value::Null if detail.is_empty() => "no value".to_string(),
            serde_json::Value::Null => detail.to_string(),
            serde_json::Value::Array(xs) => {
                format!("[{}]", xs.iter().map(short).collect::<Vec<_>>().join(", "))
            }
            v => short(v),
        };
        let why = match (condition.is_empty(), shown_detail) {
            (false, _) => format!(" ({condition})"),
            (true, true) => format!(" ({detail})"),
            (true, false) => String::new(),
        };
        format!("{analysis} #{n}/{count} {value} → {}{why}", verdict.label())
    }
}

/// A number as Prometheus prints it, short: 0.2, 12, NaN.
pub fn number(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if x == x.trunc() && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

fn short(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        v => v.as_f64().map_or_else(|| v.to_string(), number),
    }
}

/// An event as emitted: when, by which run.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Record {
    pub ts: String,
    pub run: String,
    /// The host an event is about, in a fleet deploy: a CI log can be grepped by host.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(flatten)]
    pub event: Event,
}
