//! `secrets:` come from the environment, a file or a command; their values are masked as `***`
//! in every output, journal line and error.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::diagnostic::{Diagnostic, Source};

#[derive(Debug, Clone)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
    Command(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecret {
    env: Option<String>,
    file: Option<PathBuf>,
    command: Option<String>,
}

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawSecret::deserialize(d)?;
        match (raw.env, raw.file, raw.command) {
            (Some(v), None, None) => Ok(SecretSource::Env(v)),
            (None, Some(f), None) => Ok(SecretSource::File(f)),
            (None, None, Some(c)) => Ok(SecretSource::Command(c)),
            _ => Err(de::Error::custom(
                "a secret needs exactly one of `env: VAR`, `file: PATH` or `command: \"...\"`",
            )),
        }
    }
}

impl SecretSource {
    pub fn resolve(&self, dir: &Path) -> Result<String, String> {
        let value = match self {
            SecretSource::Env(var) => {
                std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?
            }
            SecretSource::File(file) => {
                let path = dir.join(file);
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            }
            SecretSource::Command(cmd) => {
                let out = crate::target::local::capture(cmd, Duration::from_secs(30), dir)
                    .map_err(|e| format!("command `{cmd}`: {e}"))?;
                if !out.success {
                    return Err(format!(
                        "command `{cmd}` failed ({}): {}",
                        out.status,
                        out.stderr.trim()
                    ));
                }
                out.stdout
            }
        };
        // A trailing newline from `echo` or an editor is never part of a password.
        Ok(value.trim_end_matches(['\n', '\r']).to_string())
    }
}

/// Resolve every secret, register it for redaction, and return name -> value.
pub fn resolve_all(
    secrets: &BTreeMap<String, SecretSource>,
    source: &Arc<Source>,
) -> Result<BTreeMap<String, String>, Diagnostic> {
    let dir = source.path.parent().unwrap_or(Path::new("."));
    let mut out = BTreeMap::new();
    for (name, spec) in secrets {
        let value = spec.resolve(dir).map_err(|e| {
            Diagnostic::at_path(
                source,
                &format!("secrets.{name}"),
                format!("cannot read secret '{name}': {e}"),
            )
        })?;
        crate::redact::register(&value);
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// Placeholders for `validate`, which must not run secret commands.
pub fn placeholders(secrets: &BTreeMap<String, SecretSource>) -> BTreeMap<String, String> {
    secrets
        .keys()
        .map(|k| (k.clone(), crate::redact::MASK.to_string()))
        .collect()
}

/// A value given inline or read like a secret (`password: { env: SMTP_PASS }`).
#[derive(Debug, Clone)]
pub enum SecretValue {
    Plain(String),
    Secret(SecretSource),
}

impl SecretValue {
    pub fn resolve(&self, dir: &Path) -> Result<String, String> {
        match self {
            SecretValue::Plain(s) => Ok(s.clone()),
            SecretValue::Secret(src) => {
                let v = src.resolve(dir)?;
                crate::redact::register(&v);
                Ok(v)
            }
        }
    }
}

impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or { env: VAR } / { file: PATH } / { command: CMD }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<SecretValue, E> {
                Ok(SecretValue::Plain(s.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SecretValue, A::Error> {
                SecretSource::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(SecretValue::Secret)
            }
        }
        d.deserialize_any(V)
    }
}
