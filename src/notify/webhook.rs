//! A webhook: Slack-compatible `{"text": ...}` (most chat incoming webhooks take it), or
//! PagerDuty's Events API v2 (`format: pagerduty`): a `trigger` or `resolve` for each thing an
//! alert is about, with a `dedup_key` per check and host, so a recovery resolves its incident.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Alert, Incident, check_on};
use crate::playbook::units::Duration;
use crate::playbook::{Diagnostic, Mode, Scope};

const PAGERDUTY: &str = "https://events.pagerduty.com/v2/enqueue";

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `{"text": ...}`, which Slack, Mattermost and most chat webhooks take.
    #[default]
    Slack,
    /// PagerDuty's Events API v2: trigger, then resolve.
    Pagerduty,
}

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// Where the POST goes (default for `pagerduty`: its Events API).
    #[schemars(example = &"https://hooks.slack.com/services/T000/B000/XXXX")]
    pub url: Option<String>,
    /// The body's shape.
    #[serde(default)]
    pub format: Format,
    /// PagerDuty's integration key, usually a secret: `"{{ pagerduty_key }}"`.
    #[schemars(example = &"{{ pagerduty_key }}")]
    pub routing_key: Option<String>,
    /// Which events post (default: every one but `success`).
    #[serde(default)]
    #[schemars(schema_with = "crate::playbook::schema::alert_reasons")]
    pub on: Option<Vec<String>>,
    /// How long one POST may take (default 10s).
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Webhook {
    url: String,
    format: Format,
    routing_key: String,
    pub on: Vec<String>,
    timeout: std::time::Duration,
}

impl WebhookSpec {
    pub fn resolve(&self, scope: &Scope, allowed: &[&str]) -> Result<Webhook, Diagnostic> {
        let url = match (&self.url, self.format) {
            (Some(u), _) => scope.render("url", u, Mode::Text)?,
            (None, Format::Pagerduty) => PAGERDUTY.to_string(),
            (None, Format::Slack) => {
                return Err(scope
                    .error("url", "a webhook needs its `url`")
                    .hint("url: \"https://hooks.slack.com/services/...\", or format: pagerduty with a routing_key"));
            }
        };
        // A URL that is a secret is checked when it runs: `validate` and `plan` see its stand-in.
        let from_secret = url.starts_with(crate::redact::MASK);
        if !from_secret && !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(scope.error("url", format!("'{url}' is not an http:// or https:// URL")));
        }
        let routing_key = match (&self.routing_key, self.format) {
            (Some(k), Format::Pagerduty) => scope.render("routing_key", k, Mode::Text)?,
            (None, Format::Pagerduty) => {
                return Err(scope
                    .error("format", "format: pagerduty needs a `routing_key`")
                    .hint("the Events API v2 integration key of a PagerDuty service: routing_key: \"{{ pagerduty_key }}\", from secrets:"));
            }
            (Some(_), Format::Slack) => {
                return Err(scope.error(
                    "routing_key",
                    "`routing_key` is PagerDuty's: it needs format: pagerduty",
                ));
            }
            (None, Format::Slack) => String::new(),
        };
        let on = check_on(scope, &self.on, allowed)?;
        Ok(Webhook {
            url,
            format: self.format,
            routing_key,
            on,
            timeout: self
                .timeout
                .map_or(std::time::Duration::from_secs(10), |d| d.0),
        })
    }
}

impl Webhook {
    /// The URL's scheme and host, without user, path or query (a token often hides there).
    pub fn host(&self) -> String {
        let Some((scheme, rest)) = self.url.split_once("://") else {
            return "the URL of a secret".into();
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority.rsplit('@').next().unwrap_or_default();
        let format = match self.format {
            Format::Slack => "",
            Format::Pagerduty => " (pagerduty)",
        };
        format!("{scheme}://{host}{format}")
    }

    /// An alert it is sent stays open until it is sent resolved (PagerDuty's incidents).
    pub fn keeps_open(&self) -> bool {
        self.format == Format::Pagerduty
    }

    pub fn send(&self, alert: &Alert) -> Result<String, super::Undelivered> {
        match self.format {
            Format::Slack => {
                let text = crate::redact::redact(&format!("{}\n\n{}", alert.subject, alert.body));
                let body = serde_json::json!({ "text": text, "subject": crate::redact::redact(&alert.subject), "reason": alert.reason });
                self.post(&body)?;
                Ok(format!("webhook {}", redact_url(&self.url)))
            }
            Format::Pagerduty => {
                // One dedup_key a check and host: a severity change is a new trigger on it,
                // not a resolve.
                let superseded = |i: &Incident| {
                    i.resolved
                        && alert
                            .incidents
                            .iter()
                            .any(|j| !j.resolved && j.name == i.name && j.host == i.host)
                };
                for i in alert.incidents.iter().filter(|i| !superseded(i)) {
                    self.post(&self.pagerduty(alert, i))?;
                }
                Ok(format!(
                    "pagerduty {} ({} event{})",
                    redact_url(&self.url),
                    alert.incidents.len(),
                    if alert.incidents.len() == 1 { "" } else { "s" }
                ))
            }
        }
    }

    fn post(&self, body: &serde_json::Value) -> Result<(), super::Undelivered> {
        super::post_json(&self.url, &redact_url(&self.url), self.timeout, body)
    }

    /// One Events API v2 event: `trigger` while it holds, `resolve` once it is over.
    pub fn pagerduty(&self, alert: &Alert, i: &Incident) -> serde_json::Value {
        let redact = |s: &str| crate::redact::redact(s);
        let mut event = serde_json::json!({
            "routing_key": self.routing_key,
            "event_action": if i.resolved { "resolve" } else { "trigger" },
            "dedup_key": dedup_key(&format!("tend/{}/{}/{}/{}", alert.kind, alert.playbook, i.host, i.name)),
            "client": "tend",
        });
        if i.resolved {
            return event;
        }
        let mut details = serde_json::json!({ "description": redact(&i.description) });
        if !i.first_steps.is_empty() {
            details["first_steps"] =
                serde_json::json!(i.first_steps.iter().map(|s| redact(s)).collect::<Vec<_>>());
        }
        event["payload"] = serde_json::json!({
            "summary": cut(&redact(&i.summary), 1024),
            "source": i.host,
            "severity": match i.severity.as_str() {
                "critical" => "critical",
                "warning" => "warning",
                "info" => "info",
                _ => "error",
            },
            "timestamp": i.since.clone().unwrap_or_else(crate::report::now_rfc3339),
            "component": format!("tend {}", alert.kind),
            "group": redact(&alert.playbook),
            "class": redact(&i.name),
            "custom_details": details,
        });
        let links: Vec<serde_json::Value> = [("runbook", &i.runbook), ("graph", &i.link)]
            .iter()
            .filter_map(|(text, href)| {
                let href = redact(href.as_ref()?);
                href.starts_with("http")
                    .then(|| serde_json::json!({ "href": href, "text": text }))
            })
            .collect();
        if !links.is_empty() {
            event["links"] = serde_json::json!(links);
        }
        event
    }
}

/// At most 255 characters, as PagerDuty takes it: a longer key keeps its start and a hash of
/// the whole, so two long keys never collide.
fn dedup_key(key: &str) -> String {
    if key.chars().count() <= 255 {
        return key.to_string();
    }
    let hash = data_encoding::HEXLOWER.encode(&Sha256::digest(key.as_bytes()));
    format!("{}#{hash}", cut(key, 255 - 1 - hash.len()))
}

/// The first `n` characters.
fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Webhook URLs embed their token in the path: show only scheme and host.
fn redact_url(url: &str) -> String {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    format!("{}/…", &url[..end])
}
