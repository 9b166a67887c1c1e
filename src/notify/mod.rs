//! Alerts by email (lettre, through a real SMTP server), webhook (Slack-compatible JSON) and
//! Alertmanager's v2 API.

mod alertmanager;
mod email;
mod webhook;

use serde::Deserialize;

pub use email::EmailSpec;
pub use webhook::WebhookSpec;

use crate::playbook::{Diagnostic, Scope};

#[derive(Deserialize, schemars::JsonSchema, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct NotifySpec {
    /// Mail through an SMTP relay.
    pub email: Option<EmailSpec>,
    /// A JSON POST: Slack-compatible, or PagerDuty's Events API v2.
    pub webhook: Option<WebhookSpec>,
    /// Alerts (and their resolution) posted to Alertmanager's v2 API.
    pub alertmanager: Option<alertmanager::AlertmanagerSpec>,
}

/// A rendered alert: what every channel sends.
#[derive(Debug, Clone)]
pub struct Alert {
    pub subject: String,
    pub body: String,
    /// Why it is sent: critical, warning, recovery, unknown, failure, rollback, ...
    pub reason: String,
    /// The job that sends it (check, deploy, failover, cleanup) and its playbook's name.
    pub kind: String,
    pub playbook: String,
    /// Each thing it is about, for the channels that keep one alert per thing (Alertmanager).
    pub incidents: Vec<Incident>,
}

/// One thing an alert is about: a check on a host, or a run.
#[derive(Debug, Clone)]
pub struct Incident {
    pub name: String,
    /// critical, warning, unknown, info.
    pub severity: String,
    pub host: String,
    /// It is over (a recovery, a deploy that succeeded).
    pub resolved: bool,
    pub summary: String,
    pub description: String,
    /// Since when it holds (RFC 3339); absent: now.
    pub since: Option<String>,
    pub runbook: Option<String>,
    pub first_steps: Vec<String>,
    /// Where to look: a Prometheus graph, say.
    pub link: Option<String>,
}

/// How one channel's sending went: "email to a@b", or "email: connection refused".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent(String),
    Failed(String),
}

impl Delivery {
    pub fn sent(&self) -> bool {
        matches!(self, Delivery::Sent(_))
    }
}

/// Notify config with templates rendered and secrets read, ready to send.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    email: Option<email::Email>,
    webhook: Option<webhook::Webhook>,
    alertmanager: Option<alertmanager::Alertmanager>,
    /// The playbook's name: what an alert is about for channels that keep one alert a thing.
    pub playbook: String,
}

impl NotifySpec {
    /// `allowed` are the `on:` reasons this playbook kind emits; the first `defaults` are used
    /// when `on:` is absent.
    pub fn resolve(
        &self,
        scope: &Scope,
        allowed: &[&str],
        real_secrets: bool,
    ) -> Result<Notifier, Diagnostic> {
        let scope = scope.at("notify");
        let email = match &self.email {
            Some(e) => Some(e.resolve(&scope.at("email"), allowed, real_secrets)?),
            None => None,
        };
        let webhook = match &self.webhook {
            Some(w) => Some(w.resolve(&scope.at("webhook"), allowed)?),
            None => None,
        };
        let alertmanager = match &self.alertmanager {
            Some(a) => Some(a.resolve(&scope.at("alertmanager"), allowed)?),
            None => None,
        };
        Ok(Notifier {
            email,
            webhook,
            alertmanager,
            playbook: String::new(),
        })
    }
}

pub fn check_on(
    scope: &Scope,
    on: &Option<Vec<String>>,
    allowed: &[&str],
) -> Result<Vec<String>, Diagnostic> {
    match on {
        // Absent: every reason but success, which nobody wants paged for.
        None => Ok(allowed
            .iter()
            .filter(|r| **r != "success")
            .map(|s| s.to_string())
            .collect()),
        Some(list) => {
            for (i, item) in list.iter().enumerate() {
                if !allowed.contains(&item.as_str()) {
                    let d = scope.error(
                        &format!("on[{i}]"),
                        format!("unknown alert reason '{item}'"),
                    );
                    return Err(
                        match crate::playbook::diagnostic::did_you_mean(
                            item,
                            allowed.iter().copied(),
                        ) {
                            Some(m) => d.hint(format!("did you mean '{m}'?")),
                            None => d.hint(format!("expected one of: {}", allowed.join(", "))),
                        },
                    );
                }
            }
            Ok(list.clone())
        }
    }
}

impl Notifier {
    /// For the playbook named `name` (its `name:`, else its file's).
    pub fn named(mut self, name: String) -> Notifier {
        self.playbook = name;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.webhook.is_none() && self.alertmanager.is_none()
    }

    /// Each channel, where it goes and for which reasons: "email to ops@example.com on
    /// critical, recovery". A webhook shows its host only: its path is often its token.
    pub fn routes(&self) -> Vec<String> {
        let mut out = vec![];
        if let Some(e) = &self.email {
            out.push(format!("email {} on {}", e.shown(), e.on.join(", ")));
        }
        if let Some(w) = &self.webhook {
            out.push(format!("webhook to {} on {}", w.host(), w.on.join(", ")));
        }
        if let Some(a) = &self.alertmanager {
            out.push(format!("alertmanager {} on {}", a.shown(), a.on.join(", ")));
        }
        out
    }

    /// Whether any channel wants alerts for this reason.
    pub fn wants(&self, reason: &str) -> bool {
        self.email
            .as_ref()
            .is_some_and(|e| e.on.iter().any(|r| r == reason))
            || self
                .webhook
                .as_ref()
                .is_some_and(|w| w.on.iter().any(|r| r == reason))
            || self
                .alertmanager
                .as_ref()
                .is_some_and(|a| a.on.iter().any(|r| r == reason))
    }

    /// Alertmanager resolves an alert not posted again within its `resolve_timeout` (5m): a
    /// check posts what is still bad on every run, even when no other channel is told.
    pub fn refresh(&self, alert: &Alert) -> Vec<Delivery> {
        match &self.alertmanager {
            Some(a) if self.refreshes(&alert.reason) => vec![match a.send(alert) {
                Ok(what) => Delivery::Sent(what),
                Err(e) => Delivery::Failed(crate::redact::redact(&format!("alertmanager: {e}"))),
            }],
            _ => vec![],
        }
    }

    /// Whether `refresh` posts an alert for this reason (an Alertmanager that wants it).
    pub fn refreshes(&self, reason: &str) -> bool {
        self.alertmanager
            .as_ref()
            .is_some_and(|a| a.on.iter().any(|r| r == reason))
    }

    /// Send through every channel that wants it: each channel's delivery.
    pub fn send(&self, alert: &Alert) -> Vec<Delivery> {
        let mut out = vec![];
        let said = |channel: &str, r: Result<String, Undelivered>| match r {
            Ok(what) => Delivery::Sent(what),
            Err(err) => Delivery::Failed(crate::redact::redact(&format!("{channel}: {err}"))),
        };
        if let Some(e) = &self.email
            && e.on.iter().any(|r| r == &alert.reason)
        {
            out.push(said("email", e.send(alert)));
        }
        if let Some(w) = &self.webhook
            && w.on.iter().any(|r| r == &alert.reason)
        {
            out.push(said("webhook", w.send(alert)));
        }
        if let Some(a) = &self.alertmanager
            && a.on.iter().any(|r| r == &alert.reason)
        {
            out.push(said("alertmanager", a.send(alert)));
        }
        out
    }
}

/// One channel's answer to a drill's alert, and how long it took to give it.
pub struct Tried {
    /// "email to ops@example.com", "webhook to https://hooks.example (pagerduty)".
    pub channel: String,
    pub delivery: Delivery,
    pub took: std::time::Duration,
    /// For a channel that keeps it open: how its resolve went.
    pub resolved: Option<Delivery>,
}

impl Notifier {
    /// Send `alert` through every channel, whatever its `on:` says (a drill's alert), each
    /// timed. A channel that keeps an alert open until told (Alertmanager, PagerDuty) is then
    /// sent its resolve: a drill leaves nothing firing.
    pub fn rehearse(&self, alert: &Alert) -> Vec<Tried> {
        let mut resolve = alert.clone();
        resolve.reason = "recovery".into();
        resolve.incidents.iter_mut().for_each(|i| i.resolved = true);
        let mut out = vec![];
        let mut tried =
            |channel: String,
             name: &str,
             keeps_open: bool,
             send: &dyn Fn(&Alert) -> Result<String, Undelivered>| {
                let started = std::time::Instant::now();
                let delivery = match send(alert) {
                    Ok(what) => Delivery::Sent(what),
                    Err(err) => Delivery::Failed(crate::redact::redact(&format!("{name}: {err}"))),
                };
                let took = started.elapsed();
                let resolved = (keeps_open && delivery.sent()).then(|| match send(&resolve) {
                    Ok(what) => Delivery::Sent(what),
                    Err(err) => Delivery::Failed(crate::redact::redact(&format!("{name}: {err}"))),
                });
                out.push(Tried {
                    channel,
                    delivery,
                    took,
                    resolved,
                });
            };
        if let Some(e) = &self.email {
            tried(format!("email {}", e.shown()), "email", false, &|a| {
                e.send(a)
            });
        }
        if let Some(w) = &self.webhook {
            tried(
                format!("webhook to {}", w.host()),
                "webhook",
                w.keeps_open(),
                &|a| w.send(a),
            );
        }
        if let Some(a) = &self.alertmanager {
            tried(
                format!("alertmanager {}", a.shown()),
                "alertmanager",
                true,
                &|x| a.send(x),
            );
        }
        out
    }
}

/// POST `body` as JSON to `url` (its user and password as Basic auth, decoded), named `shown` in
/// what goes wrong; the server's first line of refusal is part of it (PagerDuty and
/// Alertmanager say there why).
pub fn post_json(
    url: &str,
    shown: &str,
    timeout: std::time::Duration,
    body: &serde_json::Value,
) -> Result<(), Undelivered> {
    let agent = crate::http::agent(timeout, true);
    let mut resp = crate::http::to(url, |u| agent.post(u))
        .content_type("application/json")
        .send(body.to_string().as_bytes())
        .map_err(|e| format!("{shown}: {e}"))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let said = resp.body_mut().read_to_string().unwrap_or_default();
    // Its first line, and not all of it: a proxy's error page can be megabytes on one line.
    let first = said.lines().next().unwrap_or("").trim();
    let cut: String = first.chars().take(300).collect();
    let said = crate::redact::redact(&cut) + if cut.len() < first.len() { "…" } else { "" };
    Err(format!(
        "{shown} answered HTTP {status}{}",
        if said.is_empty() {
            String::new()
        } else {
            format!(": {said}")
        }
    )
    .into())
}

crate::reason::reason! {
    /// Why a channel did not take an alert: the server's answer, or why it was not reached.
    pub struct Undelivered;
}
