//! Jinja templating (minijinja): undefined variables are errors, and every value interpolated
//! into a shell command is quoted so that `--var version='v2; rm -rf /'` stays one argument.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Object, Value};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

/// `{{ env.HOME }}`: looked up when used, so the environment is not copied on every run.
#[derive(Debug)]
struct EnvVars;

impl Object for EnvVars {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        std::env::var(key.as_str()?).ok().map(Value::from)
    }
}

pub struct Templater {
    env: Environment<'static>,
    ctx: BTreeMap<String, Value>,
}

/// Where a template's output goes: plain text, or a command line for `sh -c`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Text,
    Shell,
}

impl Templater {
    pub fn new(
        vars: &BTreeMap<String, serde_yaml::Value>,
        secrets: &BTreeMap<String, String>,
    ) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // A rendered config file ends the way its template does.
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.set_auto_escape_callback(|name| {
            if name == "shell" {
                AutoEscape::Custom("shell".into())
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(|out, state, value| {
            if matches!(state.auto_escape(), AutoEscape::Custom(n) if n == "shell")
                && !value.is_safe()
            {
                let text = value.to_string();
                let quoted = shlex::try_quote(&text).map_err(|_| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        "a value with a NUL byte cannot be passed to a shell command",
                    )
                })?;
                out.write_str(&quoted).map_err(minijinja::Error::from)
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        // `raw` reads better than Jinja's `safe` in a command: the value is spliced unquoted.
        env.add_filter("raw", |v: Value| Value::from_safe_string(v.to_string()));
        let mut ctx: BTreeMap<String, Value> = vars
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(minijinja::value::Serde(v))))
            .collect();
        for (k, v) in secrets {
            ctx.insert(k.clone(), Value::from(v.as_str()));
        }
        ctx.insert("env".into(), Value::from_object(EnvVars));
        ctx.insert(
            "host".into(),
            minijinja::context! { name => crate::hostname() },
        );
        Templater { env, ctx }
    }

    /// Set a variable for every render (`host` in a fleet deploy: the host being deployed).
    pub fn set(&mut self, key: &str, value: Value) {
        self.ctx.insert(key.to_string(), value);
    }

    /// The variable names a template can use, for hints.
    pub fn names(&self) -> Vec<&str> {
        self.ctx
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "env" && *k != "host")
            .collect()
    }

    /// Render with a few more variables (`{{ date }}` for an archive name, say).
    pub fn render_with(
        &self,
        src: &str,
        mode: Mode,
        extra: &[(&str, &str)],
    ) -> Result<String, String> {
        let extra: Vec<(&str, Value)> = extra.iter().map(|(k, v)| (*k, Value::from(*v))).collect();
        self.render_values(src, mode, &extra)
    }

    /// Render with more variables of any shape (`{{ active.name }}` for a failover).
    pub fn render_values(
        &self,
        src: &str,
        mode: Mode,
        extra: &[(&str, Value)],
    ) -> Result<String, String> {
        if !src.contains("{{") && !src.contains("{%") && !src.contains("{#") {
            return Ok(src.to_string());
        }
        let ctx = if extra.is_empty() {
            Value::from(self.ctx.clone())
        } else {
            let mut ctx = self.ctx.clone();
            for (k, v) in extra {
                ctx.insert(k.to_string(), v.clone());
            }
            Value::from(ctx)
        };
        let name = if mode == Mode::Shell { "shell" } else { "text" };
        self.env.render_named_str(name, src, ctx).map_err(|e| {
            if e.kind() == minijinja::ErrorKind::UndefinedError {
                let mut missing: Vec<String> = self
                    .env
                    .template_from_str(src)
                    .map(|t| t.undeclared_variables(true))
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|v| {
                        let head = v.split('.').next().unwrap_or(v);
                        (!self.ctx.contains_key(head) && !extra.iter().any(|(k, _)| *k == head))
                            || v.starts_with("env.")
                    })
                    .collect();
                missing.sort();
                if !missing.is_empty() {
                    let quoted: Vec<String> = missing.iter().map(|m| format!("'{m}'")).collect();
                    return format!("undefined variable {} in template", quoted.join(", "));
                }
            }
            describe(e)
        })
    }
}

fn describe(err: minijinja::Error) -> String {
    match err.kind() {
        minijinja::ErrorKind::UndefinedError => match err.detail() {
            Some(d) => format!("undefined variable in template: {d}"),
            None => "undefined variable in template".to_string(),
        },
        _ => format!(
            "template error: {}",
            err.detail()
                .map_or_else(|| err.kind().to_string(), str::to_string)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Templater {
        let mut vars = BTreeMap::new();
        vars.insert("version".into(), serde_yaml::Value::from("v2; rm -rf /"));
        Templater::new(&vars, &BTreeMap::new())
    }

    #[test]
    fn shell_values_are_quoted() {
        let t = t();
        assert_eq!(
            t.render_with("echo {{ version }}", Mode::Shell, &[])
                .unwrap(),
            "echo 'v2; rm -rf /'"
        );
        assert_eq!(
            t.render_with("echo {{ version | raw }}", Mode::Shell, &[])
                .unwrap(),
            "echo v2; rm -rf /"
        );
        assert_eq!(
            t.render_with("v={{ version }}", Mode::Text, &[]).unwrap(),
            "v=v2; rm -rf /"
        );
    }

    #[test]
    fn undefined_is_an_error() {
        let err = t().render_with("{{ nope }}", Mode::Text, &[]).unwrap_err();
        assert!(err.contains("undefined"), "{err}");
    }
}
