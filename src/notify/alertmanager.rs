//! Alertmanager's v2 API: every tend alert posted as alerts Alertmanager groups, silences and
//! routes (to email, PagerDuty, Opsgenie, Slack) as it does its own. A recovery is the same
//! alert with `endsAt`, which resolves it.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Alert, Undelivered, check_on};
use crate::playbook::units::Duration;
use crate::playbook::{Diagnostic, Mode, Scope};

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerSpec {
    /// Alertmanager's address.
    #[schemars(example = &"http://alertmanager.internal:9093")]
    pub url: String,
    /// Added to every alert's labels (`team: shop`), for Alertmanager's routes.
    #[serde(default)]
    #[schemars(example = crate::playbook::schema::example_labels())]
    pub labels: BTreeMap<String, String>,
    /// Which events post (default: every one this kind sends; a success resolves a failure's
    /// alert there).
    #[serde(default)]
    #[schemars(schema_with = "crate::playbook::schema::alert_reasons")]
    pub on: Option<Vec<String>>,
    /// How long one POST may take (default 10s).
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Alertmanager {
    url: String,
    labels: BTreeMap<String, String>,
    pub on: Vec<String>,
    timeout: std::time::Duration,
}

impl AlertmanagerSpec {
    pub fn resolve(&self, scope: &Scope, allowed: &[&str]) -> Result<Alertmanager, Diagnostic> {
        let url = scope.render_url("url", &self.url, "http://alertmanager.internal:9093")?;
        let mut labels = BTreeMap::new();
        for (k, v) in &self.labels {
            let valid = k
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid || k.starts_with("__") {
                return Err(scope
                    .error("labels", format!("'{k}' is not a label name"))
                    .hint(
                        "a label name is letters, digits and _, not starting with a digit or __",
                    ));
            }
            labels.insert(
                k.clone(),
                scope.render(&format!("labels.{k}"), v, Mode::Text)?,
            );
        }
        Ok(Alertmanager {
            url: url.trim_end_matches('/').to_string(),
            labels,
            // Absent: every reason, success too: a success resolves a failure's alert there,
            // it pages nobody.
            on: match &self.on {
                None => allowed.iter().map(|r| r.to_string()).collect(),
                on => check_on(scope, on, allowed)?,
            },
            timeout: self
                .timeout
                .map_or(std::time::Duration::from_secs(10), |d| d.0),
        })
    }
}

impl Alertmanager {
    pub fn shown(&self) -> String {
        crate::redact::userinfo(&self.url)
    }

    /// The alerts as Alertmanager's `postableAlerts`: one for each thing the alert is about.
    pub fn body(&self, alert: &Alert) -> serde_json::Value {
        let now = crate::report::now_rfc3339();
        let redact = |s: &str| crate::redact::redact(s);
        let alerts: Vec<serde_json::Value> = alert
            .incidents
            .iter()
            .map(|i| {
                let mut labels = self.labels.clone();
                labels.insert("alertname".into(), redact(&i.name));
                labels.insert("severity".into(), i.severity.clone());
                labels.insert("instance".into(), i.host.clone());
                labels.insert("job".into(), format!("tend-{}", alert.kind));
                labels.insert("playbook".into(), redact(&alert.playbook));
                let mut annotations = BTreeMap::from([
                    ("summary".to_string(), redact(&i.summary)),
                    ("description".to_string(), redact(&i.description)),
                ]);
                if let Some(r) = &i.runbook {
                    annotations.insert("runbook_url".into(), redact(r));
                }
                if !i.first_steps.is_empty() {
                    annotations.insert("first_steps".into(), redact(&i.first_steps.join("\n")));
                }
                let mut a = serde_json::json!({
                    "labels": labels,
                    "annotations": annotations,
                    "startsAt": i.since.clone().unwrap_or_else(|| now.clone()),
                });
                if i.resolved {
                    a["endsAt"] = serde_json::json!(now);
                }
                if let Some(g) = &i.link {
                    a["generatorURL"] = serde_json::json!(redact(g));
                }
                a
            })
            .collect();
        serde_json::Value::Array(alerts)
    }

    pub fn send(&self, alert: &Alert) -> Result<String, Undelivered> {
        let url = format!("{}/api/v2/alerts", self.url);
        super::post_json(&url, &self.shown(), self.timeout, &self.body(alert))?;
        Ok(format!(
            "alertmanager {} ({} alert{})",
            self.shown(),
            alert.incidents.len(),
            if alert.incidents.len() == 1 { "" } else { "s" }
        ))
    }
}
