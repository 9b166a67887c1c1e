/*!
Metric analysis: a Prometheus query measured every `interval`, each measurement judged success,
failure, inconclusive or error by the playbook's conditions, the analysis judged by its limits.
A deploy runs one as a verify gate and between rollout batches, so a release that answers
`/health` but raises the error rate is still caught and rolled back.

An empty answer is inconclusive, never a success: a query that selects nothing (a typo in a
label, a canary not scraped yet) must not pass a release.
*/

mod promql;
mod spec;

use std::time::{Duration, Instant};

use serde::Deserialize;

pub use promql::balanced;
pub use spec::{AnalysisItem, AnalysisSpec};

use crate::prometheus::{self, Sample};
use crate::report::{Event, Judged, Reporter, number};

/// The most of a query shown, in characters.
const SHOWN: usize = 400;

/// The most of a measurement's series values an event carries.
const VALUES: usize = 20;

/// What happens when an analysis is inconclusive.
#[derive(Deserialize, schemars::JsonSchema, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnInconclusive {
    /// As a failure: the verified rollback.
    #[default]
    Rollback,
    /// Stop where it is, for a human to decide (the release is not taken as verified).
    Halt,
}

/// A `success:` or `failure:` condition: a minijinja expression over `result`.
#[derive(Debug, Clone)]
pub struct Condition(pub String);

impl Condition {
    fn environment() -> minijinja::Environment<'static> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env
    }

    /// Checked when the playbook loads: it parses, and reads no name but `result`.
    pub fn compile(src: &str) -> Result<(), crate::playbook::Invalid> {
        let env = Self::environment();
        let expr = env.compile_expression(src).map_err(|e| {
            crate::playbook::diagnostic::with_hint(
                format!(
                    "'{src}' is not a condition: {}",
                    e.detail().unwrap_or("syntax error")
                ),
                "a condition is a Jinja expression over `result`, like \"result < 0.05\"",
            )
        })?;
        let names = expr.undeclared_variables(false);
        if !names.contains("result") {
            return Err(crate::playbook::diagnostic::with_hint(
                format!("'{src}' does not read `result`: it would judge every release alike"),
                "a condition compares the query's value, like \"result < 0.05\"",
            ));
        }
        // One that reads `result` and still says the same of every value (`result or true`,
        // `result is defined`) judges nothing either.
        let truths: Vec<bool> = [-1e9, -1.0, 0.0, 0.05, 0.5, 1.0, 100.0, 1e9]
            .iter()
            .filter_map(|x| expr.eval(minijinja::context! { result => *x }).ok())
            .map(|v| v.is_true())
            .collect();
        if truths.len() > 1 && truths.iter().all(|t| *t == truths[0]) {
            return Err(crate::playbook::diagnostic::with_hint(
                format!(
                    "'{src}' is {} whatever the value: it would judge every release alike",
                    truths[0]
                ),
                "a condition compares the query's value, like \"result < 0.05\"",
            ));
        }
        let others: Vec<String> = names.into_iter().filter(|v| v != "result").collect();
        if !others.is_empty() {
            return Err(crate::playbook::diagnostic::with_hint(
                format!(
                    "'{src}' reads {}, and a condition knows only `result`",
                    others.join(", ")
                ),
                "`result` is the query's value (each series' in turn)",
            ));
        }
        Ok(())
    }

    /// Whether it holds for `result`.
    fn holds(&self, result: &minijinja::Value) -> Result<bool, Unjudged> {
        let env = Self::environment();
        let expr = env
            .compile_expression(&self.0)
            .map_err(|e| Unjudged(e.to_string()))?;
        expr.eval(minijinja::context! { result => result.clone() })
            .map(|v| v.is_true())
            .map_err(|e| {
                Unjudged(format!(
                    "'{}' cannot be evaluated: {}",
                    self.0,
                    e.detail().unwrap_or("error")
                ))
            })
    }
}

/// An analysis with its URL and query rendered.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub name: String,
    pub url: String,
    pub query: String,
    pub success: Option<Condition>,
    pub failure: Option<Condition>,
    pub interval: Duration,
    pub count: u32,
    pub initial_delay: Duration,
    pub failure_limit: u32,
    pub inconclusive_limit: u32,
    pub error_limit: u32,
    pub timeout: Duration,
    pub on_inconclusive: OnInconclusive,
}

/// One measurement.
struct Measured {
    value: serde_json::Value,
    numbers: Vec<f64>,
    verdict: Judged,
    condition: String,
    detail: String,
}

/// How an analysis ended, and what to quote about it.
#[derive(Debug, Clone)]
pub struct Concluded {
    pub verdict: Judged,
    /// The step's last word: "5 measurements, all success (last 0.01)".
    pub summary: String,
    /// For the alert, a line each: the last values, the conditions, the query and a link to
    /// its graph.
    pub quote: Vec<String>,
}

impl Analysis {
    /// The schedule in words: "5 measurements, 30s apart, after 30s".
    pub fn schedule(&self) -> String {
        let mut s = if self.count == 1 {
            "1 measurement".to_string()
        } else {
            format!(
                "{} measurements, {} apart",
                self.count,
                humantime::format_duration(self.interval)
            )
        };
        if !self.initial_delay.is_zero() {
            s.push_str(&format!(
                ", after {}",
                humantime::format_duration(self.initial_delay)
            ));
        }
        s
    }

    /// The query on one line, and not much of it: a query over a thousand hosts' names is
    /// for Prometheus, not for a terminal or an alert.
    pub fn shown_query(&self) -> String {
        let one_line = self.query.split_whitespace().collect::<Vec<_>>().join(" ");
        if one_line.chars().count() <= SHOWN {
            return one_line;
        }
        let cut: String = one_line.chars().take(SHOWN).collect();
        format!("{cut}… ({} characters)", self.query.chars().count())
    }

    /// All of it, as a plan shows it.
    pub fn describe(&self) -> String {
        format!(
            "{} at {}; {}; {}; at most {}; failure_limit {}, inconclusive_limit {}, on_inconclusive: {}, error_limit {}",
            self.shown_query(),
            crate::redact::userinfo(&self.url),
            self.conditions(),
            self.schedule(),
            humantime::format_duration(self.longest()),
            self.failure_limit,
            self.inconclusive_limit,
            match self.on_inconclusive {
                OnInconclusive::Rollback => "rollback",
                OnInconclusive::Halt => "halt",
            },
            self.error_limit
        )
    }

    /// The longest it can take: the delay, every interval, and each query's timeout.
    pub fn longest(&self) -> Duration {
        let gaps = self.count.saturating_sub(1);
        self.initial_delay
            .saturating_add(self.interval.saturating_mul(gaps))
            .saturating_add(self.timeout.saturating_mul(self.count))
    }

    /// The conditions as written: "success: result < 0.05, failure: result >= 0.2".
    pub fn conditions(&self) -> String {
        [("success", &self.success), ("failure", &self.failure)]
            .iter()
            .filter_map(|(k, c)| c.as_ref().map(|c| format!("{k}: {}", c.0)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Measure every `interval` until the limits decide, or `count` measurements are made;
    /// each one is an event of `step`.
    pub fn run(&self, reporter: &Reporter, step: &str) -> Concluded {
        let (mut failures, mut inconclusive, mut errors_in_row) = (0u32, 0u32, 0u32);
        let (mut successes, mut last_error) = (0u32, String::new());
        let mut seen: Vec<String> = vec![];
        let mut next = Instant::now() + self.initial_delay;
        for n in 1..=self.count {
            if !sleep_until(next) {
                return self.concluded(Judged::Error, "interrupted by a signal".into(), &seen);
            }
            next = Instant::now() + self.interval;
            let m = self.measure();
            reporter.emit(Event::Measurement {
                step: step.to_string(),
                target: String::new(),
                analysis: self.name.clone(),
                n,
                count: self.count,
                value: m.value.clone(),
                condition: m.condition.clone(),
                verdict: m.verdict,
                detail: m.detail.clone(),
            });
            crate::crash::point("analysis:measured");
            seen.push(match m.numbers.as_slice() {
                _ if m.verdict == Judged::Error => "error".into(),
                [] if m.detail.is_empty() => "no value".into(),
                [] => m.detail.clone(),
                [x] => number(*x),
                xs => format!(
                    "[{}{}]",
                    xs.iter()
                        .take(VALUES)
                        .map(|x| number(*x))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if xs.len() > VALUES {
                        format!(", … {} series in all", xs.len())
                    } else {
                        String::new()
                    }
                ),
            });
            match m.verdict {
                Judged::Success => {
                    successes += 1;
                    errors_in_row = 0;
                }
                Judged::Failure => {
                    failures += 1;
                    errors_in_row = 0;
                }
                Judged::Inconclusive => {
                    inconclusive += 1;
                    errors_in_row = 0;
                }
                Judged::Error => {
                    errors_in_row += 1;
                    last_error.clone_from(&m.detail);
                }
            }
            if failures > self.failure_limit {
                let why = format!(
                    "{failures} of {n} measurements failed (failure_limit {})",
                    self.failure_limit
                );
                return self.concluded(Judged::Failure, why, &seen);
            }
            if inconclusive > self.inconclusive_limit {
                let why = format!(
                    "{inconclusive} of {n} measurements inconclusive (inconclusive_limit {})",
                    self.inconclusive_limit
                );
                return self.concluded(Judged::Inconclusive, why, &seen);
            }
            if errors_in_row >= self.error_limit {
                let why = format!(
                    "{errors_in_row} measurements in a row could not be made (error_limit {}): {}",
                    self.error_limit, m.detail
                );
                return self.concluded(Judged::Error, why, &seen);
            }
        }
        // What ends in errors did not measure the release: it has not passed.
        if errors_in_row > 0 {
            let why = format!(
                "the last {errors_in_row} measurement{} could not be made: {last_error}",
                if errors_in_row == 1 { "" } else { "s" }
            );
            return self.concluded(Judged::Error, why, &seen);
        }
        // Within the limits, but nothing passed (no series every time, say): not a pass.
        if successes == 0 {
            let why = format!("no measurement of {} passed", self.count);
            let verdict = if failures > 0 {
                Judged::Failure
            } else {
                Judged::Inconclusive
            };
            return self.concluded(verdict, why, &seen);
        }
        let why = format!(
            "{} measurement{} passed the limits ({failures} failed, {inconclusive} inconclusive)",
            self.count,
            if self.count == 1 { "" } else { "s" }
        );
        self.concluded(Judged::Success, why, &seen)
    }

    fn concluded(&self, verdict: Judged, why: String, seen: &[String]) -> Concluded {
        let last: Vec<&str> = seen
            .iter()
            .rev()
            .take(5)
            .rev()
            .map(String::as_str)
            .collect();
        let values = if last.is_empty() {
            "no measurement".to_string()
        } else {
            format!("last values {}", last.join(", "))
        };
        Concluded {
            verdict,
            summary: format!("{}: {why}; {values}", verdict.label()),
            quote: vec![
                format!("analysis {} {}: {why}", self.name, verdict.label()),
                format!("  {values}"),
                format!("  conditions: {}", self.conditions()),
                format!("  query: {}", self.shown_query()),
                match prometheus::graph_url(&self.url, &self.query) {
                    link if link.len() <= 8192 => format!("  graph: {link}"),
                    _ => "  graph: (the query is too long for a link)".into(),
                },
            ],
        }
    }

    /// One query, judged. Each series is judged on its own (`result` is its value), and the
    /// worst decides: one failing series fails the measurement. A value that is not a finite
    /// number, or no series at all, is inconclusive: never a pass.
    fn measure(&self) -> Measured {
        let sample = match self.ask() {
            Ok(s) => s,
            Err(why) => {
                return Measured {
                    value: serde_json::Value::Null,
                    numbers: vec![],
                    verdict: Judged::Error,
                    condition: String::new(),
                    detail: why.0,
                };
            }
        };
        let numbers = sample.values();
        let value = match sample.number() {
            Some(x) => json_number(x),
            None if numbers.is_empty() => serde_json::Value::Null,
            None => serde_json::Value::Array(
                numbers
                    .iter()
                    .take(VALUES)
                    .map(|x| json_number(*x))
                    .collect(),
            ),
        };
        let judged = |verdict, condition: String, detail: String| Measured {
            value: value.clone(),
            numbers: numbers.clone(),
            verdict,
            condition,
            detail,
        };
        if numbers.is_empty() {
            return judged(Judged::Inconclusive, String::new(), "no series".into());
        }
        let mut worst: Option<(Judged, String, String)> = None;
        for x in &numbers {
            let (verdict, condition, detail) = if x.is_finite() {
                self.judge(*x)
            } else {
                // NaN meets no condition; a failing series beside it still fails.
                (
                    Judged::Inconclusive,
                    String::new(),
                    format!("{} is not a value a condition can judge", number(*x)),
                )
            };
            let rank = |v: Judged| match v {
                Judged::Success => 0,
                Judged::Inconclusive => 1,
                Judged::Failure => 2,
                Judged::Error => 3,
            };
            if worst
                .as_ref()
                .is_none_or(|(w, _, _)| rank(verdict) > rank(*w))
            {
                worst = Some((verdict, condition, detail));
            }
        }
        let (verdict, condition, detail) =
            worst.unwrap_or((Judged::Success, String::new(), String::new()));
        judged(verdict, condition, detail)
    }

    /// One value against the conditions: failure first (a value that fails is never saved by
    /// also passing), then success; neither is inconclusive. With one condition only, the
    /// other is its opposite, as Argo reads it.
    fn judge(&self, x: f64) -> (Judged, String, String) {
        let result = minijinja::Value::from(x);
        let written = |k: &str, c: &Condition| format!("{k}: {}", c.0);
        let error = |e: Unjudged, c: String| (Judged::Error, c, e.0);
        match (&self.failure, &self.success) {
            (Some(f), success) => match f.holds(&result) {
                Err(e) => error(e, written("failure", f)),
                Ok(true) => (Judged::Failure, written("failure", f), String::new()),
                Ok(false) => match success {
                    None => (
                        Judged::Success,
                        format!("not {}", written("failure", f)),
                        String::new(),
                    ),
                    Some(s) => match s.holds(&result) {
                        Err(e) => error(e, written("success", s)),
                        Ok(true) => (Judged::Success, written("success", s), String::new()),
                        Ok(false) => (
                            Judged::Inconclusive,
                            format!(
                                "neither {} nor {}",
                                written("success", s),
                                written("failure", f)
                            ),
                            String::new(),
                        ),
                    },
                },
            },
            (None, Some(s)) => match s.holds(&result) {
                Err(e) => error(e, written("success", s)),
                Ok(true) => (Judged::Success, written("success", s), String::new()),
                Ok(false) => (
                    Judged::Failure,
                    format!("not {}", written("success", s)),
                    String::new(),
                ),
            },
            (None, None) => (Judged::Success, String::new(), String::new()),
        }
    }

    /// The query, given up as soon as a signal comes (its answer may take `timeout`): a
    /// deploy that is stopped rolls back now, not when Prometheus answers.
    fn ask(&self) -> Result<Sample, prometheus::Unanswered> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (url, query, timeout) = (self.url.clone(), self.query.clone(), self.timeout);
        std::thread::spawn(move || {
            let _ = tx.send(prometheus::query(&url, &query, timeout));
        });
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(answer) => return answer,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if crate::interrupt::requested() {
                        return Err("interrupted by a signal".into());
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err("the query's thread ended without an answer".into());
                }
            }
        }
    }
}

crate::reason::reason! {
    /// Why a condition could not judge a value.
    pub struct Unjudged;
}

/// A number for JSON; NaN and the infinities, which JSON has not, as Prometheus writes them.
fn json_number(x: f64) -> serde_json::Value {
    if x.is_finite() {
        serde_json::json!(x)
    } else {
        serde_json::json!(number(x))
    }
}

/// Sleep until `at`, waking for a signal; false if one came.
pub fn sleep_until(at: Instant) -> bool {
    loop {
        if crate::interrupt::requested() {
            return false;
        }
        let now = Instant::now();
        if now >= at {
            return true;
        }
        std::thread::sleep((at - now).min(Duration::from_millis(100)));
    }
}
