use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::{Kind, Probe};
use crate::playbook::diagnostic::with_hint;
use crate::playbook::units::Duration;
use crate::playbook::{Diagnostic, Mode, Scope};

/// `{ http: URL, status: 200, body_contains: "ok" }`, `{ tcp: host:port }` or
/// `{ command: "..." }`, with `timeout`, `retries`, `interval`, `successes`.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub http: Option<String>,
    pub tcp: Option<String>,
    pub command: Option<String>,
    pub status: Option<u16>,
    pub body_contains: Option<String>,
    pub timeout: Duration,
    pub retries: u32,
    pub interval: Duration,
    pub successes: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    http: Option<String>,
    tcp: Option<String>,
    command: Option<String>,
    status: Option<u16>,
    body_contains: Option<String>,
    timeout: Option<Duration>,
    #[serde(default)]
    retries: u32,
    interval: Option<Duration>,
    successes: Option<u32>,
}

impl<'de> Deserialize<'de> for ProbeSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = Raw::deserialize(d)?;
        let kinds = [r.http.is_some(), r.tcp.is_some(), r.command.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if kinds != 1 {
            return Err(de::Error::custom(with_hint(
                "a probe needs exactly one of `http`, `tcp` or `command`",
                "e.g. `{ http: \"http://127.0.0.1:8080/health\", status: 200 }`",
            )));
        }
        if r.http.is_none() && (r.status.is_some() || r.body_contains.is_some()) {
            return Err(de::Error::custom(
                "`status` and `body_contains` only apply to `http` probes",
            ));
        }
        if r.successes == Some(0) {
            return Err(de::Error::custom("`successes` must be at least 1"));
        }
        Ok(ProbeSpec {
            http: r.http,
            tcp: r.tcp,
            command: r.command,
            status: r.status,
            body_contains: r.body_contains,
            timeout: r.timeout.unwrap_or(Duration::secs(5)),
            retries: r.retries,
            interval: r.interval.unwrap_or(Duration::secs(1)),
            successes: r.successes.unwrap_or(1),
        })
    }
}

impl ProbeSpec {
    /// Render the probe's templates; `render(field, text, mode)` points errors at the field.
    pub fn resolve(&self, scope: &Scope) -> Result<Probe, Diagnostic> {
        let kind = if let Some(url) = &self.http {
            let url = scope.render("http", url, Mode::Text)?;
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return Err(
                    scope.error("http", format!("'{url}' is not an http:// or https:// URL"))
                );
            }
            let body_contains = match &self.body_contains {
                Some(b) => Some(scope.render("body_contains", b, Mode::Text)?),
                None => None,
            };
            Kind::Http {
                url,
                status: self.status,
                body_contains,
            }
        } else if let Some(address) = &self.tcp {
            let address = scope.render("tcp", address, Mode::Text)?;
            if !address.contains(':') {
                return Err(scope.error(
                    "tcp",
                    format!("tcp probe '{address}' needs a port, like {address}:443"),
                ));
            }
            Kind::Tcp { address }
        } else {
            let run = self.command.as_deref().unwrap_or_default();
            Kind::Command {
                run: scope.render("command", run, Mode::Shell)?,
            }
        };
        Ok(Probe {
            kind,
            timeout: self.timeout.0,
            retries: self.retries,
            interval: self.interval.0,
            successes: self.successes,
        })
    }
}
