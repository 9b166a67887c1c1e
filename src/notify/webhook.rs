use serde::Deserialize;

use super::{Alert, check_on};
use crate::playbook::units::Duration;
use crate::playbook::{Diagnostic, Mode, Scope};

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    pub url: String,
    pub on: Option<Vec<String>>,
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Webhook {
    url: String,
    pub on: Vec<String>,
    timeout: std::time::Duration,
}

impl WebhookSpec {
    pub fn resolve(&self, scope: &Scope, allowed: &[&str]) -> Result<Webhook, Diagnostic> {
        let url = scope.render("url", &self.url, Mode::Text)?;
        // A URL that is a secret is checked when it runs: `validate` and `plan` see its stand-in.
        let from_secret = url.starts_with(crate::redact::MASK);
        if !from_secret && !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(scope.error("url", format!("'{url}' is not an http:// or https:// URL")));
        }
        let on = check_on(scope, &self.on, allowed)?;
        Ok(Webhook {
            url,
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
        format!("{scheme}://{host}")
    }

    /// POST `{"text": ...}`: what Slack, Mattermost and most chat incoming webhooks take.
    pub fn send(&self, alert: &Alert) -> Result<String, super::Undelivered> {
        let text = crate::redact::redact(&format!("{}\n\n{}", alert.subject, alert.body));
        let body = serde_json::json!({ "text": text, "subject": crate::redact::redact(&alert.subject), "reason": alert.reason });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let resp = agent
            .post(&self.url)
            .content_type("application/json")
            .send(body.to_string().as_bytes())
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        if status.is_success() {
            Ok(format!("webhook {}", redact_url(&self.url)))
        } else {
            Err(format!(
                "{} answered HTTP {}",
                redact_url(&self.url),
                status.as_u16()
            )
            .into())
        }
    }
}

/// Webhook URLs embed their token in the path: show only scheme and host.
fn redact_url(url: &str) -> String {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    format!("{}/…", &url[..end])
}
