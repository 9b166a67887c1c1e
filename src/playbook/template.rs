//! Jinja templating (minijinja): undefined variables are errors, and every value interpolated
//! into a shell command is escaped for the quoting context it lands in (`crate::quote`), so
//! `--var version='v2; rm -rf /'` stays one argument, in `"..."` and `'...'` as well as bare.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use minijinja::value::{Object, Value};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

/// `{{ env.HOME }}`: looked up when used, so the environment is not copied on every run.
#[derive(Debug)]
struct EnvVars;

impl Object for EnvVars {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        std::env::var(key)
            .ok()
            .or_else(|| super::facts::env_stand_in(key))
            .map(Value::from)
    }
}

// Values written into the command being rendered on this thread, with the ordinal of the
// `{{ }}` that wrote each: the formatter is shared by every render, so what one render
// collects lives here.
thread_local! {
    static VALUES: RefCell<Option<Vec<(usize, String)>>> = const { RefCell::new(None) };
    static OUTPUTS: RefCell<usize> = const { RefCell::new(0) };
}

/// The environment templates render in; for commands (`shell`), one without Jinja comments.
fn environment(shell: bool) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // A rendered config file ends the way its template does.
    let mut syntax = minijinja::syntax::SyntaxConfig::builder();
    syntax.keep_trailing_newline(true);
    if shell {
        syntax.comment_delimiters("{#tend-no-comments#", "#tend-no-comments#}");
    }
    if let Ok(syntax) = syntax.build() {
        env.set_syntax(syntax);
    }
    env.set_auto_escape_callback(|name| {
        if name == "shell" {
            AutoEscape::Custom("shell".into())
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(move |out, state, value| {
        // In a command every value is quoted, whatever `{% autoescape false %}` says: only
        // `| raw` and `| safe` splice a value as code.
        if !shell {
            return minijinja::escape_formatter(out, state, value);
        }
        let ordinal = OUTPUTS.with(|n| {
            let mut n = n.borrow_mut();
            *n += 1;
            *n - 1
        });
        if value.is_safe() {
            // `| raw` or `| safe`: shell code the playbook vouches for, spliced as it is.
            return out
                .write_str(&value.to_string())
                .map_err(minijinja::Error::from);
        }
        // A marker now; the value is escaped once the whole command shows its context.
        let index = VALUES.with(|v| {
            let mut v = v.borrow_mut();
            let list = v.get_or_insert_with(Vec::new);
            list.push((ordinal, value.to_string()));
            list.len() - 1
        });
        out.write_str(&crate::quote::marker(index))
            .map_err(minijinja::Error::from)
    });
    // `raw` reads better than Jinja's `safe` in a command; both splice the value unquoted.
    env.add_filter("raw", |v: Value| Value::from_safe_string(v.to_string()));
    env
}

/// Why a template did not render, and which `{{ }}` (by order of output) was to blame.
#[derive(Debug, Clone)]
pub struct RenderError {
    pub message: String,
    pub hint: Option<String>,
    pub placeholder: Option<usize>,
    /// Undefined variables, by name.
    pub missing: Vec<String>,
}

impl RenderError {
    fn new(message: impl Into<String>) -> Self {
        RenderError {
            message: message.into(),
            hint: None,
            placeholder: None,
            missing: vec![],
        }
    }
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<RenderError> for String {
    fn from(e: RenderError) -> String {
        e.message
    }
}

#[derive(Clone)]
pub struct Templater {
    /// The playbook's vars and secrets, and `env`: made once.
    vars: Value,
    /// `{{ host }}`: this machine's name, or the fleet host a deploy is on.
    host: Value,
    /// What a render looks names up in: `host`, then `vars`, then the host's inventory vars
    /// (`{{ http_port }}`). A handle each render clones, not a map it copies.
    ctx: Value,
}

/// The environments templates render in, made once: for text, and for commands.
static TEXT: LazyLock<Environment<'static>> = LazyLock::new(|| environment(false));
static SHELL: LazyLock<Environment<'static>> = LazyLock::new(|| environment(true));

/// Where a template's output goes: plain text, a command line for `sh -c`, or a PromQL query.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Text,
    Shell,
    Query,
    /// A URL: a value in its user information is percent-encoded.
    Url,
}

impl Templater {
    pub fn new(
        vars: &BTreeMap<String, serde_yaml::Value>,
        secrets: &BTreeMap<String, String>,
    ) -> Self {
        let mut ctx: BTreeMap<String, Value> = vars
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(minijinja::value::Serde(v))))
            .collect();
        for (k, v) in secrets {
            ctx.insert(k.clone(), Value::from(v.as_str()));
        }
        ctx.insert("env".into(), Value::from_object(EnvVars));
        let host = minijinja::context! { name => crate::sys::hostname() };
        let mut t = Templater {
            vars: Value::from(ctx),
            host: Value::UNDEFINED,
            ctx: Value::UNDEFINED,
        };
        t.set_host(host);
        t
    }

    /// `{{ host }}` for every render, and each of its inventory vars (`host.vars`) as a name of
    /// its own, as Ansible users write them (`{{ http_port }}`), where the playbook's vars,
    /// secrets and tend's own names do not already say: the playbook wins (a fleet's plan warns
    /// where they collide).
    pub fn set_host(&mut self, host: Value) {
        let inventory = host
            .get_attr("vars")
            .ok()
            .filter(|v| v.kind() == minijinja::value::ValueKind::Map);
        self.ctx = minijinja::value::merge_maps(inventory.into_iter().chain([
            self.vars.clone(),
            minijinja::context! { host => host.clone() },
        ]));
        self.host = host;
    }

    /// A name's value as a template sees it, if it has one.
    fn lookup(&self, name: &str) -> Option<Value> {
        self.ctx.get_attr(name).ok().filter(|v| !v.is_undefined())
    }

    /// The variable names a template can use, for hints.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .ctx
            .try_iter()
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str().map(String::from))
            .filter(|k| k != "env" && k != "host")
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Render with a few more variables (`{{ date }}` for an archive name, say).
    pub fn render_with(
        &self,
        src: &str,
        mode: Mode,
        extra: &[(&str, &str)],
    ) -> Result<String, RenderError> {
        let extra: Vec<(&str, Value)> = extra.iter().map(|(k, v)| (*k, Value::from(*v))).collect();
        self.render_values(src, mode, &extra)
    }

    /// Render with more variables of any shape (`{{ active.name }}` for a failover).
    pub fn render_values(
        &self,
        src: &str,
        mode: Mode,
        extra: &[(&str, Value)],
    ) -> Result<String, RenderError> {
        if !src.contains("{{") && !src.contains("{%") && !src.contains("{#") {
            return Ok(src.to_string());
        }
        if mode == Mode::Text {
            return self.render_plain(src, mode, extra);
        }
        self.render_marked(src, mode, extra)
    }

    /// A command or a query: rendered with markers where the values go, then each value escaped
    /// for the quoting context its marker is in.
    fn render_marked(
        &self,
        src: &str,
        mode: Mode,
        extra: &[(&str, Value)],
    ) -> Result<String, RenderError> {
        let what = match mode {
            Mode::Query => "query",
            Mode::Url => "URL",
            _ => "command",
        };
        if src.contains([crate::quote::OPEN, crate::quote::CLOSE]) {
            return Err(RenderError::new(format!(
                "the {what} contains the private-use characters U+E000/U+E001, which tend uses to mark values"
            )));
        }
        VALUES.with(|v| *v.borrow_mut() = Some(vec![]));
        OUTPUTS.with(|n| *n.borrow_mut() = 0);
        let rendered = self.render_plain(src, Mode::Shell, extra);
        let values = VALUES.with(|v| v.borrow_mut().take()).unwrap_or_default();
        let rendered = rendered?;
        if values.is_empty() {
            return Ok(rendered);
        }
        let (ordinals, values): (Vec<usize>, Vec<String>) = values.into_iter().unzip();
        let spliced = match mode {
            Mode::Query => crate::quote::promql::splice(&rendered, &values),
            Mode::Url => crate::quote::url::splice(&rendered, &values),
            _ => crate::quote::splice(&rendered, &values),
        };
        spliced.map_err(|r| RenderError {
            message: match r.index.and_then(|i| ordinals.get(i)) {
                Some(_) => format!("cannot put this value into the {what}: {}", r.why),
                None => r.why,
            },
            hint: (!r.hint.is_empty()).then_some(r.hint),
            placeholder: r.index.and_then(|i| ordinals.get(i).copied()),
            missing: vec![],
        })
    }

    fn render_plain(
        &self,
        src: &str,
        mode: Mode,
        extra: &[(&str, Value)],
    ) -> Result<String, RenderError> {
        let ctx = if extra.is_empty() {
            self.ctx.clone()
        } else {
            let extra = Value::from_pairs(extra.iter().map(|(k, v)| (*k, v.clone())));
            minijinja::value::merge_maps([self.ctx.clone(), extra])
        };
        let name = if mode == Mode::Shell { "shell" } else { "text" };
        let env: &Environment = if mode == Mode::Shell { &SHELL } else { &TEXT };
        env.render_named_str(name, src, ctx).map_err(|e| {
            if e.kind() == minijinja::ErrorKind::UndefinedError {
                let mut missing: Vec<String> = env
                    .template_from_str(src)
                    .map(|t| t.undeclared_variables(true))
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|v| {
                        let mut parts = v.split('.');
                        let head = parts.next().unwrap_or(v);
                        let base = self.lookup(head).or_else(|| {
                            extra
                                .iter()
                                .find(|(k, _)| *k == head)
                                .map(|(_, x)| x.clone())
                        });
                        match base {
                            None => true,
                            Some(_) if v.starts_with("env.") => true,
                            // `host.vars.port` on a host without it: name the whole path.
                            Some(mut x) => parts.any(|p| match x.get_attr(p) {
                                Ok(y) if !y.is_undefined() => {
                                    x = y;
                                    false
                                }
                                _ => true,
                            }),
                        }
                    })
                    .collect();
                missing.sort();
                if !missing.is_empty() {
                    let quoted: Vec<String> = missing.iter().map(|m| format!("'{m}'")).collect();
                    let mut e = RenderError::new(format!(
                        "undefined variable {} in template",
                        quoted.join(", ")
                    ));
                    e.missing = missing;
                    return e;
                }
            }
            RenderError::new(describe(e))
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
            t.render_with("echo {{ version | safe }}", Mode::Shell, &[])
                .unwrap(),
            "echo v2; rm -rf /"
        );
        assert_eq!(
            t.render_with(r#"echo "{{ version }}" '{{ version }}'"#, Mode::Shell, &[])
                .unwrap(),
            r#"echo "v2; rm -rf /" 'v2; rm -rf /'"#
        );
        let e = t
            .render_with(
                "echo {{ version | raw }} `echo {{ version }}`",
                Mode::Shell,
                &[],
            )
            .unwrap_err();
        assert_eq!(e.placeholder, Some(1), "{e:?}");
        // `${#VAR}` is a length in a command, not a Jinja comment.
        assert_eq!(
            t.render_with("echo ${#HOME} {{ version }}", Mode::Shell, &[])
                .unwrap(),
            "echo ${#HOME} 'v2; rm -rf /'"
        );
        assert!(e.message.contains("backticks"), "{e:?}");
        assert_eq!(
            t.render_with("v={{ version }}", Mode::Text, &[]).unwrap(),
            "v=v2; rm -rf /"
        );
    }

    #[test]
    fn undefined_is_an_error() {
        let err = t().render_with("{{ nope }}", Mode::Text, &[]).unwrap_err();
        assert!(err.message.contains("undefined"), "{err}");
    }

    /// A host var one host lacks is named whole, and the host's vars are names of their own
    /// where the playbook's are not, until another host is set.
    #[test]
    fn a_missing_host_var_is_named_and_host_vars_are_names() {
        let mut t = t();
        t.set_host(minijinja::context! { name => "web1", vars => minijinja::context! { port => 80, version => "hidden" } });
        assert_eq!(
            t.render_with(
                "{{ port }} {{ version }} {{ host.vars.version }}",
                Mode::Text,
                &[]
            )
            .unwrap(),
            "80 v2; rm -rf / hidden"
        );
        let err = t
            .render_with("{{ host.vars.http_port }}", Mode::Text, &[])
            .unwrap_err();
        assert_eq!(
            err.message,
            "undefined variable 'host.vars.http_port' in template"
        );
        t.set_host(minijinja::context! { name => "web2", vars => minijinja::context! {} });
        assert!(
            t.render_with("{{ port }}", Mode::Text, &[]).is_err(),
            "web1's port is gone"
        );
    }
}
