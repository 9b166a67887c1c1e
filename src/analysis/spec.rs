//! `prometheus: { name, url, query, success, failure, interval, count, initial_delay,
//! failure_limit, inconclusive_limit, error_limit, on_inconclusive }`: Argo Rollouts' words, so
//! an Argo user reads it at once.

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::{Analysis, Condition, OnInconclusive};
use crate::playbook::diagnostic::{at_key, with_hint};
use crate::playbook::units::Duration;
use crate::playbook::{Diagnostic, Mode, Scope};

#[derive(Debug, Clone)]
pub struct AnalysisSpec {
    pub name: Option<String>,
    pub url: String,
    pub query: String,
    pub success: Option<String>,
    pub failure: Option<String>,
    pub interval: Duration,
    pub count: u32,
    pub initial_delay: Duration,
    pub failure_limit: u32,
    pub inconclusive_limit: u32,
    pub error_limit: u32,
    pub timeout: Duration,
    pub on_inconclusive: OnInconclusive,
}

/// Argo's default for `consecutiveErrorLimit`.
const ERROR_LIMIT: u32 = 4;

/// The longest an analysis may run: a deploy waits for it.
const LONGEST: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// A Prometheus query measured `count` times, `interval` apart, each result judged by
/// `success` and `failure` (Argo Rollouts' AnalysisTemplate, in its words).
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Analysis", transform = needs_a_condition)]
struct Raw {
    /// How the analysis is shown (default `prometheus`).
    #[schemars(example = &"error rate")]
    name: Option<String>,
    /// Prometheus's address.
    #[schemars(example = &"http://prometheus.internal:9090")]
    url: String,
    /// An instant query; `{{ host.name }}` and `{{ release }}` pick out the release judged.
    #[schemars(example = &"sum(rate(http_requests_total{code=~\"5..\",release=\"{{ release }}\"}[2m]))")]
    query: String,
    /// A measurement passes when this holds of `result`.
    #[schemars(example = &"result < 0.05")]
    success: Option<String>,
    /// A measurement fails when this holds of `result`.
    #[schemars(example = &"result >= 0.2")]
    failure: Option<String>,
    /// Between measurements (default 30s).
    interval: Option<Duration>,
    /// Measurements made (default 1).
    #[schemars(range(min = 1), example = 5)]
    count: Option<u32>,
    /// Waited before the first (default 0s).
    initial_delay: Option<Duration>,
    /// Failed measurements tolerated (default 0).
    #[serde(default)]
    #[schemars(example = 1)]
    failure_limit: u32,
    /// Inconclusive measurements tolerated (default 0).
    #[serde(default)]
    #[schemars(example = 1)]
    inconclusive_limit: u32,
    /// Queries in a row that may fail before the analysis errors (default 4).
    #[schemars(range(min = 1), example = 4)]
    error_limit: Option<u32>,
    /// How long one query may take (default 10s).
    timeout: Option<Duration>,
    /// What an inconclusive analysis does (default `rollback`).
    #[serde(default)]
    on_inconclusive: OnInconclusive,
}

crate::playbook::schema::schema_as!(AnalysisSpec, Raw);

/// `success` or `failure`, or both.
fn needs_a_condition(s: &mut schemars::Schema) {
    s.insert(
        "anyOf".into(),
        serde_json::json!([{ "required": ["success"] }, { "required": ["failure"] }]),
    );
}

impl<'de> Deserialize<'de> for AnalysisSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = Raw::deserialize(d)?;
        let fail = |key: &str, m: crate::playbook::Invalid| de::Error::custom(at_key(key, m));
        if r.success.is_none() && r.failure.is_none() {
            return Err(de::Error::custom(with_hint(
                "an analysis needs a `success` or a `failure` condition (or both)",
                "e.g. success: \"result < 0.05\", failure: \"result >= 0.2\"",
            )));
        }
        for (key, c) in [("success", &r.success), ("failure", &r.failure)] {
            if let Some(c) = c {
                Condition::compile(c).map_err(|m| fail(key, m))?;
            }
        }
        if r.query.trim().is_empty() {
            return Err(fail("query", "the query is empty".into()));
        }
        if r.count == Some(0) {
            return Err(fail(
                "count",
                "an analysis makes at least 1 measurement".into(),
            ));
        }
        if r.error_limit == Some(0) {
            return Err(fail(
                "error_limit",
                with_hint(
                    "error_limit 0 would fail before the first measurement",
                    "the analysis errors once this many measurements in a row could not be made; 1 is the least",
                ),
            ));
        }
        let count = r.count.unwrap_or(1);
        // A limit the measurements cannot pass makes an analysis that never fails (or never
        // stops at nothing but no series): it would pass every release.
        for (key, limit, what) in [
            ("failure_limit", r.failure_limit, "fail"),
            (
                "inconclusive_limit",
                r.inconclusive_limit,
                "be inconclusive",
            ),
        ] {
            if limit >= count {
                return Err(fail(
                    key,
                    with_hint(
                        format!(
                            "{key} {limit} with count {count}: the analysis could never {what}"
                        ),
                        format!(
                            "it {what}s after MORE than {key} measurements do; keep it below count ({count})"
                        ),
                    ),
                ));
            }
        }
        if count > 1 && r.interval.is_some_and(|i| i.0.is_zero()) {
            return Err(fail(
                "interval",
                "measurements 0s apart measure the same instant".into(),
            ));
        }
        if r.timeout.is_some_and(|t| t.0.is_zero()) {
            return Err(fail("timeout", "a timeout of 0s fails every query".into()));
        }
        let timeout = r.timeout.unwrap_or(Duration::secs(10));
        let interval = r.interval.unwrap_or(Duration::secs(30));
        let longest = interval
            .0
            .checked_mul(count.saturating_sub(1))
            .and_then(|t| t.checked_add(timeout.0.checked_mul(count)?))
            .and_then(|t| t.checked_add(r.initial_delay.unwrap_or_default().0));
        if longest.is_none_or(|t| t > LONGEST) {
            return Err(fail(
                "count",
                with_hint(
                    "this analysis could run for more than 7 days",
                    "an analysis gates a deploy: lower count, interval, initial_delay or timeout",
                ),
            ));
        }
        if let Err(why) = super::promql::balanced(&r.query) {
            return Err(fail("query", why));
        }
        Ok(AnalysisSpec {
            name: r.name,
            url: r.url,
            query: r.query,
            success: r.success,
            failure: r.failure,
            interval,
            count,
            initial_delay: r.initial_delay.unwrap_or_default(),
            failure_limit: r.failure_limit,
            inconclusive_limit: r.inconclusive_limit,
            error_limit: r.error_limit.unwrap_or(ERROR_LIMIT),
            timeout,
            on_inconclusive: r.on_inconclusive,
        })
    }
}

impl AnalysisSpec {
    /// The URL and the query rendered (the query's values escaped for PromQL).
    pub fn resolve(&self, scope: &Scope) -> Result<Analysis, Diagnostic> {
        let url = scope.render_url("url", &self.url, "http://prometheus.internal:9090")?;
        let query = scope.render("query", &self.query, Mode::Query)?;
        Ok(Analysis {
            name: self.name.clone().unwrap_or_else(|| "prometheus".into()),
            url,
            query,
            success: self.success.clone().map(Condition),
            failure: self.failure.clone().map(Condition),
            interval: self.interval.0,
            count: self.count,
            initial_delay: self.initial_delay.0,
            failure_limit: self.failure_limit,
            inconclusive_limit: self.inconclusive_limit,
            error_limit: self.error_limit,
            timeout: self.timeout.0,
            on_inconclusive: self.on_inconclusive,
        })
    }

    /// Whether the query picks out the series of the host or release being judged: a query
    /// that names neither measures the whole fleet, old release and new alike.
    pub fn selects_the_canary(&self) -> bool {
        super::promql::names_a_placeholder(&self.query, &["host", "release", "previous_release"])
    }
}

/// `rollout.analysis: [ { prometheus: {...} } ]`: one provider a mapping, as in `verify`.
#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct AnalysisItem {
    /// A metric analysis over the batch just deployed.
    pub prometheus: AnalysisSpec,
}
