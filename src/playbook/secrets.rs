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

/// Where a secret is read at run time: exactly one of `env`, `file` or `command`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SecretSource")]
struct RawSecret {
    /// An environment variable of the run.
    #[schemars(example = &"DB_PASSWORD")]
    env: Option<String>,
    /// A file (relative to the playbook) whose contents, trimmed, are the value.
    #[schemars(example = &"/etc/tend/secrets/db-password")]
    file: Option<PathBuf>,
    /// A command whose output, trimmed, is the value (`{{ vars }}` in it are quoted).
    #[schemars(example = &"pass show shop/db")]
    command: Option<String>,
}

impl schemars::JsonSchema for SecretSource {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        RawSecret::schema_name()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut s = RawSecret::json_schema(g);
        crate::playbook::schema::exactly_one_of(&mut s, &["env", "file", "command"]);
        s
    }
}

crate::playbook::schema::schema_string_or!(
    SecretValue,
    "SecretValue",
    SecretSource,
    crate::playbook::schema::text_only("The value itself", serde_json::json!(["alerts@example.org"]), 0),
    "The value, or where to read it like a secret: `{ env: SMTP_PASS }`",
    ["tend", { "env": "SMTP_PASSWORD" }]
);

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
    /// The command's templates rendered (`pass show {{ app }}/db`): a command like any other,
    /// its values quoted for where they sit. Errors point at `command:` under `scope`.
    pub fn render(&self, scope: &super::Scope) -> Result<SecretSource, Diagnostic> {
        Ok(match self {
            SecretSource::Command(cmd) => {
                SecretSource::Command(scope.render("command", cmd, super::Mode::Shell)?)
            }
            SecretSource::File(f) => SecretSource::File(PathBuf::from(scope.render(
                "file",
                &f.to_string_lossy(),
                super::Mode::Text,
            )?)),
            other => other.clone(),
        })
    }

    pub fn resolve(&self, dir: &Path) -> Result<String, Unresolved> {
        let value = match self {
            SecretSource::Env(var) => {
                std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?
            }
            SecretSource::File(file) => {
                let path = dir.join(file);
                std::fs::read_to_string(&path).map_err(|e| {
                    format!(
                        "cannot read {}: {}",
                        path.display(),
                        crate::sys::describe_io(&e)
                    )
                })?
            }
            SecretSource::Command(cmd) => {
                let shown = crate::redact::first_line(cmd);
                let out = crate::sh::capture(cmd, Duration::from_secs(30), dir)
                    .map_err(|e| format!("command `{shown}`: {e}"))?;
                if !out.success {
                    let err = out.stderr.trim();
                    return Err(format!(
                        "command `{shown}` failed ({}): {}",
                        out.status,
                        err.lines().last().unwrap_or(err)
                    )
                    .into());
                }
                out.stdout
            }
        };
        // A trailing newline from `echo` or an editor is never part of a password.
        let value = value.trim_end_matches(['\n', '\r']).to_string();
        if value.is_empty() {
            return Err(match self {
                SecretSource::Env(var) => format!("environment variable {var} is empty").into(),
                SecretSource::File(f) => format!("{} is empty", dir.join(f).display()).into(),
                SecretSource::Command(cmd) => format!(
                    "command `{}` printed nothing",
                    crate::redact::first_line(cmd)
                )
                .into(),
            });
        }
        Ok(value)
    }

    /// Read without side effects (no command runs), for `validate`: `None` when it cannot be.
    fn peek(&self, dir: &Path) -> Option<Result<String, Unresolved>> {
        match self {
            SecretSource::Command(_) => None,
            SecretSource::Env(v) if std::env::var_os(v).is_none() => None,
            other => Some(other.resolve(dir)),
        }
    }
}

/// The directory a playbook's relative paths and commands start from.
pub fn base_dir(source: &Source) -> &Path {
    source
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Resolve every secret, register it for redaction, and return name -> value. `vars` renders
/// the templates in a secret's `command:` or `file:`.
pub fn resolve_all(
    secrets: &BTreeMap<String, SecretSource>,
    source: &Arc<Source>,
    vars: &super::Vars,
) -> Result<BTreeMap<String, String>, Diagnostic> {
    let dir = base_dir(source);
    let templater = super::Templater::new(vars, &BTreeMap::new());
    let mut out = BTreeMap::new();
    for (name, spec) in secrets {
        let scope = super::Scope::new(source, &templater, &format!("secrets.{name}"));
        let spec = spec.render(&scope)?;
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

/// Placeholders for `validate` and `plan`, which must not run secret commands: the commands'
/// templates are still rendered (and so checked), and secrets that can be read without running
/// anything are checked for being empty or too short to mask safely.
pub fn placeholders(
    secrets: &BTreeMap<String, SecretSource>,
    source: &Arc<Source>,
    vars: &super::Vars,
) -> Result<(BTreeMap<String, String>, Vec<String>), Diagnostic> {
    let templater = super::Templater::new(vars, &BTreeMap::new());
    let mut warnings = vec![];
    for (name, spec) in secrets {
        let scope = super::Scope::new(source, &templater, &format!("secrets.{name}"));
        let spec = spec.render(&scope)?;
        match spec.peek(base_dir(source)) {
            Some(Err(e)) => warnings.push(format!("secret '{name}': {e}")),
            Some(Ok(v)) if v.chars().count() < SHORT => warnings.push(short(name, &v)),
            _ => {}
        }
    }
    let values = secrets
        .keys()
        .map(|k| (k.clone(), crate::redact::MASK.to_string()))
        .collect();
    Ok((values, warnings))
}

/// A secret shorter than this masks every occurrence of its text in all output.
pub const SHORT: usize = 4;

pub fn short(name: &str, value: &str) -> String {
    format!(
        "secret '{name}' is only {} characters long: every occurrence of that text in tend's output is masked as ***",
        value.chars().count()
    )
}

/// A value given inline or read like a secret (`password: { env: SMTP_PASS }`).
#[derive(Debug, Clone)]
pub enum SecretValue {
    Plain(String),
    Secret(SecretSource),
}

impl SecretValue {
    /// The value; a secret's command or file templates rendered in `scope`, at `field`.
    pub fn resolve(
        &self,
        scope: &super::Scope,
        field: &str,
        dir: &Path,
    ) -> Result<String, Diagnostic> {
        match self {
            SecretValue::Plain(s) => Ok(s.clone()),
            SecretValue::Secret(src) => {
                let src = src.render(&scope.at(field))?;
                let v = src
                    .resolve(dir)
                    .map_err(|e| scope.error(field, format!("cannot read {field}: {e}")))?;
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

crate::reason::reason! {
    /// Why a secret could not be read (never its value).
    pub struct Unresolved;
}
