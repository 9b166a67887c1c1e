use std::path::{Path, PathBuf};

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls as Wire, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use serde::Deserialize;

use super::{Alert, check_on};
use crate::playbook::units::Duration;
use crate::playbook::{Diagnostic, Mode, Scope, SecretValue};

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct EmailSpec {
    /// Recipients.
    #[schemars(length(min = 1), example = ["oncall@example.org"])]
    pub to: Vec<String>,
    /// The sender.
    #[schemars(example = &"tend <tend@example.org>")]
    pub from: String,
    /// Which events mail (default: every one but `success`).
    #[serde(default)]
    #[schemars(schema_with = "crate::playbook::schema::alert_reasons")]
    pub on: Option<Vec<String>>,
    /// The relay the mail goes through.
    pub smtp: SmtpSpec,
}

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Plain connection upgraded with STARTTLS (port 587); refused if the server cannot.
    Starttls,
    /// TLS from the first byte (port 465).
    #[serde(rename = "tls")]
    Implicit,
    /// No encryption: only for a relay on this machine or a trusted network.
    None,
}

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct SmtpSpec {
    /// The relay's host name or address.
    #[schemars(example = &"smtp.example.org")]
    pub host: String,
    /// Default: 587 with `starttls`, 465 with `tls`, 25 with `none`.
    #[schemars(example = 587)]
    pub port: Option<u16>,
    /// How the connection is encrypted (default `starttls`).
    pub tls: Option<Tls>,
    /// The login, if the relay wants one.
    pub username: Option<SecretValue>,
    /// The login's password, usually `{ env: SMTP_PASSWORD }`.
    pub password: Option<SecretValue>,
    /// Extra CA certificate (PEM) to trust, for a relay with an internal CA.
    #[schemars(example = &"/etc/ssl/internal-ca.pem")]
    pub ca_file: Option<PathBuf>,
    /// How long one delivery may take (default 15s).
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Email {
    to: Vec<Mailbox>,
    from: Mailbox,
    pub on: Vec<String>,
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<(String, String)>,
    ca_file: Option<PathBuf>,
    timeout: std::time::Duration,
}

fn mailbox(scope: &Scope, field: &str, text: &str) -> Result<Mailbox, Diagnostic> {
    let rendered = scope.render(field, text, Mode::Text)?;
    rendered.parse().map_err(|e| {
        scope
            .error(field, format!("'{rendered}' is not an email address: {e}"))
            .hint("e.g. oncall@example.com or \"On-call <oncall@example.com>\"")
    })
}

impl EmailSpec {
    pub fn resolve(
        &self,
        scope: &Scope,
        allowed: &[&str],
        real_secrets: bool,
    ) -> Result<Email, Diagnostic> {
        if self.to.is_empty() {
            return Err(scope.error("to", "`to` needs at least one address"));
        }
        let to = self
            .to
            .iter()
            .enumerate()
            .map(|(i, t)| mailbox(scope, &format!("to[{i}]"), t))
            .collect::<Result<_, _>>()?;
        let from = mailbox(scope, "from", &self.from)?;
        let on = check_on(scope, &self.on, allowed)?;
        let smtp = scope.at("smtp");
        let tls = self.smtp.tls.unwrap_or(Tls::Starttls);
        let port = self.smtp.port.unwrap_or(match tls {
            Tls::Starttls => 587,
            Tls::Implicit => 465,
            Tls::None => 25,
        });
        let host = smtp.render("host", &self.smtp.host, Mode::Text)?;
        let secret = |field: &str, v: &Option<SecretValue>| -> Result<Option<String>, Diagnostic> {
            match v {
                None => Ok(None),
                Some(SecretValue::Secret(_)) if !real_secrets => {
                    Ok(Some(crate::redact::MASK.into()))
                }
                Some(v) => v.resolve(&smtp, field, Path::new(".")).map(Some),
            }
        };
        let credentials = match (
            secret("username", &self.smtp.username)?,
            secret("password", &self.smtp.password)?,
        ) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            _ => {
                return Err(
                    smtp.error("username", "SMTP auth needs both `username` and `password`")
                );
            }
        };
        Ok(Email {
            to,
            from,
            on,
            host,
            port,
            tls,
            credentials,
            ca_file: self.smtp.ca_file.clone(),
            timeout: self
                .smtp
                .timeout
                .map_or(std::time::Duration::from_secs(15), |d| d.0),
        })
    }
}

impl Email {
    /// "to a@example.com, b@example.com via smtp.example.com:587".
    pub fn shown(&self) -> String {
        let to: Vec<String> = self.to.iter().map(ToString::to_string).collect();
        format!("to {} via {}:{}", to.join(", "), self.host, self.port)
    }

    pub fn send(&self, alert: &Alert) -> Result<String, super::Undelivered> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(crate::redact::redact(&alert.subject))
            .header(lettre::message::header::ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let message = builder
            .body(crate::redact::redact(&alert.body))
            .map_err(|e| e.to_string())?;
        let wire = match self.tls {
            Tls::Starttls => Wire::Required(self.tls_parameters()?),
            Tls::Implicit => Wire::Wrapper(self.tls_parameters()?),
            Tls::None => Wire::None,
        };
        let mut relay = SmtpTransport::builder_dangerous(&self.host)
            .port(self.port)
            .tls(wire)
            .timeout(Some(self.timeout));
        if let Some((u, p)) = &self.credentials {
            relay = relay.credentials(Credentials::new(u.clone(), p.clone()));
        }
        relay
            .build()
            .send(&message)
            .map_err(|e| format!("{}:{}: {e}", self.host, self.port))?;
        let to: Vec<String> = self.to.iter().map(|m| m.email.to_string()).collect();
        Ok(format!("email to {}", to.join(", ")))
    }

    /// The system's CA store, plus `ca_file` if given; the server's name is always checked.
    fn tls_parameters(&self) -> Result<TlsParameters, super::Undelivered> {
        let mut builder = TlsParameters::builder(self.host.clone());
        if let Some(ca) = &self.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                format!(
                    "cannot read ca_file {}: {}",
                    ca.display(),
                    crate::sys::describe_io(&e)
                )
            })?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
            builder = builder.add_root_certificate(cert);
        }
        builder
            .build_rustls()
            .map_err(|e| super::Undelivered(e.to_string()))
    }
}
