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
    pub dns: Option<DnsSpec>,
    pub tcp: Option<String>,
    pub command: Option<String>,
    /// A Nagios plugin as the command: its exit code is the check's status.
    pub plugin: bool,
    pub status: Option<u16>,
    pub body_contains: Option<String>,
    pub timeout: Duration,
    pub retries: u32,
    pub interval: Duration,
    pub successes: u32,
    /// `prometheus: {...}`: a metric analysis, which only a deploy's `verify` runs.
    pub analysis: Option<Box<crate::analysis::AnalysisSpec>>,
}

/// `dns: { server: 10.0.0.53:53, name: shop.example, type: A, expect: [10.1.0.10] }`
#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct DnsSpec {
    /// The server asked: `address` or `address:port`.
    #[schemars(example = &"10.0.0.53:53")]
    pub server: String,
    /// The name asked.
    #[schemars(example = &"shop.example.com")]
    pub name: String,
    /// The record type (default A).
    #[serde(rename = "type", default = "a_record")]
    #[schemars(example = &"A")]
    pub rtype: String,
    /// Answers that must be among the server's (default: any answer).
    #[serde(default)]
    #[schemars(example = ["10.1.0.10"])]
    pub expect: Vec<String>,
}

fn a_record() -> String {
    "A".into()
}

/// One of `http`, `tcp`, `dns` or `command` (or, in a deploy's `verify`, a `prometheus`
/// analysis), and how often it is tried.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Probe", transform = probe_kinds)]
struct Raw {
    /// A GET of this URL must answer `status` (default: any 2xx).
    #[schemars(example = &"http://127.0.0.1:8080/health")]
    http: Option<String>,
    /// A DNS question a server must answer.
    dns: Option<DnsSpec>,
    /// A TCP connection to `host:port` must open.
    #[schemars(example = &"127.0.0.1:5432")]
    tcp: Option<String>,
    /// A command that must exit 0 (`{{ values }}` in it are shell-quoted).
    #[schemars(example = &"pg_isready -h 127.0.0.1")]
    command: Option<String>,
    /// The command is a Nagios plugin: its exit code (0-3) is the status.
    #[serde(default)]
    plugin: bool,
    /// The HTTP status an `http` probe expects.
    #[schemars(example = 200)]
    status: Option<u16>,
    /// Text an `http` probe's body must contain.
    #[schemars(example = &"\"status\":\"ok\"")]
    body_contains: Option<String>,
    /// How long one attempt may take (default 5s).
    timeout: Option<Duration>,
    /// Attempts after the first that failed (default 0).
    #[schemars(example = 10)]
    retries: Option<u32>,
    /// Between attempts (default 1s).
    interval: Option<Duration>,
    /// Passes in a row needed (default 1).
    #[schemars(range(min = 1), example = 3)]
    successes: Option<u32>,
    /// A metric analysis (a deploy's `verify` only).
    prometheus: Option<Box<crate::analysis::AnalysisSpec>>,
}

crate::playbook::schema::schema_as!(ProbeSpec, Raw);

/// A probe is exactly one kind.
fn probe_kinds(s: &mut schemars::Schema) {
    crate::playbook::schema::exactly_one_of(s, &["http", "tcp", "dns", "command", "prometheus"]);
}

impl<'de> Deserialize<'de> for ProbeSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = Raw::deserialize(d)?;
        let kinds = [
            r.http.is_some(),
            r.tcp.is_some(),
            r.command.is_some(),
            r.dns.is_some(),
            r.prometheus.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if r.prometheus.is_some() && kinds == 1 {
            let probing = [
                ("status", r.status.is_some()),
                ("body_contains", r.body_contains.is_some()),
                ("timeout", r.timeout.is_some()),
                ("retries", r.retries.is_some()),
                ("interval", r.interval.is_some()),
                ("successes", r.successes.is_some()),
                ("plugin", r.plugin),
            ];
            if let Some((key, _)) = probing.iter().find(|(_, set)| *set) {
                return Err(de::Error::custom(crate::playbook::diagnostic::at_key(
                    key,
                    with_hint(
                        format!("`{key}` is a probe's; an analysis is set inside `prometheus:`"),
                        "prometheus: { url: ..., query: ..., interval: 30s, count: 5, timeout: 10s }",
                    ),
                )));
            }
        }
        if kinds != 1 {
            return Err(de::Error::custom(with_hint(
                "a probe needs exactly one of `http`, `tcp`, `dns` or `command` (or, in a deploy's `verify`, a `prometheus` analysis)",
                "e.g. `{ http: \"http://127.0.0.1:8080/health\", status: 200 }`",
            )));
        }
        if r.http.is_none() && (r.status.is_some() || r.body_contains.is_some()) {
            return Err(de::Error::custom(
                "`status` and `body_contains` only apply to `http` probes",
            ));
        }
        if r.plugin && r.command.is_none() {
            return Err(de::Error::custom(crate::playbook::diagnostic::at_key(
                "plugin",
                "`plugin: true` applies to `command` probes (a Nagios plugin run as a command)",
            )));
        }
        if r.timeout.is_some_and(|t| t.0.is_zero()) {
            return Err(de::Error::custom(crate::playbook::diagnostic::at_key(
                "timeout",
                "a timeout of 0s fails every attempt before it starts",
            )));
        }
        if r.successes == Some(0) {
            return Err(de::Error::custom("`successes` must be at least 1"));
        }
        if let Some(d) = &r.dns {
            super::dns::record_type(&d.rtype)
                .map_err(|e| de::Error::custom(crate::playbook::diagnostic::at_key("dns", e)))?;
        }
        Ok(ProbeSpec {
            http: r.http,
            dns: r.dns,
            tcp: r.tcp,
            command: r.command,
            plugin: r.plugin,
            status: r.status,
            body_contains: r.body_contains,
            timeout: r.timeout.unwrap_or(Duration::secs(5)),
            retries: r.retries.unwrap_or(0),
            interval: r.interval.unwrap_or(Duration::secs(1)),
            successes: r.successes.unwrap_or(1),
            analysis: r.prometheus,
        })
    }
}

impl ProbeSpec {
    /// Render the probe's templates; `render(field, text, mode)` points errors at the field.
    pub fn resolve(&self, scope: &Scope) -> Result<Probe, Diagnostic> {
        if self.analysis.is_some() {
            return Err(scope
                .error("prometheus", "a `prometheus` analysis runs in a deploy's `verify` and `rollout.analysis` only")
                .hint("a check playbook has its own: - prometheus: { url: ..., query: ..., warn: 0.05, crit: 0.2 }"));
        }
        let kind = if let Some(url) = &self.http {
            let url = scope.render_url("http", url, "http://127.0.0.1:8080/health")?;
            let body_contains = match &self.body_contains {
                Some(b) => Some(scope.render("body_contains", b, Mode::Text)?),
                None => None,
            };
            Kind::Http {
                url,
                status: self.status,
                body_contains,
            }
        } else if let Some(d) = &self.dns {
            let scope = scope.at("dns");
            let server = scope.render("server", &d.server, Mode::Text)?;
            let server =
                super::dns::server_address(&server).map_err(|e| scope.error("server", e))?;
            Kind::Dns {
                server,
                question: super::dns::Question {
                    name: scope.render("name", &d.name, Mode::Text)?,
                    rtype: d.rtype.clone(),
                    expect: d
                        .expect
                        .iter()
                        .map(|e| scope.render("expect", e, Mode::Text))
                        .collect::<Result<_, _>>()?,
                },
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
                plugin: self.plugin,
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
