//! Loading playbooks: strict YAML, `kind` matched to the subcommand, vars, secrets, templates.

pub(crate) mod depth;
pub mod diagnostic;
pub mod facts;
mod locate;
pub mod schema;
pub mod secrets;
pub mod template;
pub mod units;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;

pub use diagnostic::{Diagnostic, Invalid, Source};
pub use secrets::{SecretSource, SecretValue};
pub use template::{Mode, Templater};

use crate::cli::VarArgs;

pub type Vars = BTreeMap<String, serde_yaml::Value>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Deploy,
    Cleanup,
    Failover,
    Check,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Deploy => "deploy",
            Kind::Cleanup => "cleanup",
            Kind::Failover => "failover",
            Kind::Check => "check",
        })
    }
}

/// What every playbook kind has: name, vars, secrets, notify.
pub trait Playbook: DeserializeOwned {
    const KIND: Kind;
    fn name(&self) -> Option<&str>;
    fn vars(&self) -> &Vars;
    fn secrets(&self) -> &BTreeMap<String, SecretSource>;
}

/// Declares a playbook struct with the keys every kind shares, plus its own.
/// (`#[serde(flatten)]` would lose `deny_unknown_fields`, hence a macro.)
/// With `fleet`, it also takes the keys that reach hosts over SSH (`hosts`, `inventory`, `ssh`).
#[macro_export]
macro_rules! playbook {
    ($kind:ident, fleet, $(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $crate::playbook!($kind, $(#[$m])* pub struct $name {
            $($body)*
            /// The machines, over SSH (none: this machine).
            pub hosts: Option<Vec<$crate::inventory::HostSpec>>,
            /// Ansible inventories (INI or YAML files, or directories), relative to the
            /// playbook, with their `group_vars/` and `host_vars/`.
            pub inventory: Option<$crate::inventory::Paths>,
            /// How `hosts` are reached: user, identity, known_hosts, host_key_check, become.
            pub ssh: Option<$crate::machine::ssh::SshSpec>,
        });
        impl $crate::fleet::Reached for $name {
            fn reach(&self) -> $crate::fleet::Reach<'_> {
                $crate::fleet::Reach {
                    hosts: self.hosts.as_deref(),
                    inventory: self.inventory.as_ref(),
                    ssh: self.ssh.as_ref(),
                }
            }
        }
    };
    ($kind:ident, $(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$m])*
        #[derive(serde::Deserialize, schemars::JsonSchema, Debug)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// What the playbook is for; each subcommand takes its own kind.
            #[allow(dead_code)]
            pub kind: $crate::playbook::Kind,
            /// Shown in output, journals and alerts (default: the file's name).
            #[serde(default)]
            #[schemars(example = &"shop-web")]
            pub name: Option<String>,
            /// Free text for the people who read the playbook.
            #[serde(default)]
            #[allow(dead_code)]
            #[schemars(example = &"Owned by the shop team; runbook: https://wiki.example.com/shop")]
            pub description: Option<String>,
            /// Values for `{{ name }}` in templates; `--var name=value` overrides them.
            #[serde(default)]
            #[schemars(with = "std::collections::BTreeMap<String, serde_json::Value>")]
            #[schemars(example = $crate::playbook::schema::example_vars())]
            pub vars: $crate::playbook::Vars,
            /// Values read at run time from the environment, a file or a command, used as
            /// `{{ NAME }}`; masked as `***` in every output, journal and alert.
            #[serde(default)]
            pub secrets: std::collections::BTreeMap<String, $crate::playbook::SecretSource>,
            /// Where alerts go: email, a webhook (Slack, PagerDuty), Alertmanager.
            #[serde(default)]
            pub notify: $crate::notify::NotifySpec,
            $($body)*
        }
        impl $crate::playbook::Playbook for $name {
            const KIND: $crate::playbook::Kind = $crate::playbook::Kind::$kind;
            fn name(&self) -> Option<&str> { self.name.as_deref() }
            fn vars(&self) -> &$crate::playbook::Vars { &self.vars }
            fn secrets(&self) -> &std::collections::BTreeMap<String, $crate::playbook::SecretSource> {
                &self.secrets
            }
        }
    };
}

/// A parsed playbook with its source (for error locations) and its final variables.
pub struct Loaded<T> {
    pub source: Arc<Source>,
    pub body: T,
    pub vars: Vars,
    /// Resolved by the controller, for a tend it runs on a host (`fleet::envelope`).
    pub given: Option<Given>,
}

/// What a controller resolved for the tend it runs on a host: the secrets (never read there
/// again) and `{{ host }}` as the controller names it.
pub struct Given {
    pub secrets: BTreeMap<String, String>,
    pub host: minijinja::Value,
}

impl<T: Playbook> Loaded<T> {
    pub fn name(&self) -> String {
        match self.body.name() {
            Some(n) => n.to_string(),
            None => self
                .source
                .path
                .file_stem()
                .map_or("playbook".into(), |s| s.to_string_lossy().into()),
        }
    }

    /// A templater with real secrets (for a run) or placeholders (for validate and plan).
    pub fn templater(&self, real_secrets: bool) -> Result<Templater, Diagnostic> {
        let mut t = Templater::new(&self.vars, &self.secrets(real_secrets)?);
        if let Some(given) = &self.given {
            t.set_host(given.host.clone());
        }
        Ok(t)
    }

    /// Secret values (read from their sources, and registered for redaction) or placeholders.
    pub fn secrets(&self, real: bool) -> Result<BTreeMap<String, String>, Diagnostic> {
        if let Some(given) = &self.given {
            given
                .secrets
                .values()
                .for_each(|v| crate::redact::register(v));
            return Ok(given.secrets.clone());
        }
        if real {
            secrets::resolve_all(self.body.secrets(), &self.source, &self.vars)
        } else {
            secrets::placeholders(self.body.secrets(), &self.source, &self.vars).map(|(v, _)| v)
        }
    }

    /// What `validate` says about the secrets it can read without running anything (an empty
    /// one, one so short that masking it would mask ordinary text).
    pub fn print_secret_warnings(&self) {
        let warnings = secrets::placeholders(self.body.secrets(), &self.source, &self.vars)
            .map(|(_, w)| w)
            .unwrap_or_default();
        for w in warnings {
            eprintln!("warning: {w}");
        }
    }

    /// Where templated fields are rendered and errors located, starting at the top.
    pub fn scope<'a>(&'a self, templater: &'a Templater) -> Scope<'a> {
        Scope {
            source: &self.source,
            templater,
            path: String::new(),
            extra: vec![],
        }
    }
}

/// A position in the playbook (`checks[2].probe`): renders the templates found there and
/// points errors at them.
pub struct Scope<'a> {
    source: &'a Arc<Source>,
    templater: &'a Templater,
    path: String,
    /// Variables the job sets (`release`, `release_dir`), on top of the playbook's.
    extra: Vec<(String, minijinja::Value)>,
}

impl<'a> Scope<'a> {
    pub fn new(source: &'a Arc<Source>, templater: &'a Templater, path: &str) -> Scope<'a> {
        Scope {
            source,
            templater,
            path: path.to_string(),
            extra: vec![],
        }
    }

    pub fn at(&self, segment: &str) -> Scope<'a> {
        Scope {
            source: self.source,
            templater: self.templater,
            path: self.join(segment),
            extra: self.extra.clone(),
        }
    }

    /// The same place, with variables of any shape (objects like `active` with `.name`).
    pub fn with_values(&self, vars: Vec<(String, minijinja::Value)>) -> Scope<'a> {
        let mut extra = self.extra.clone();
        extra.extend(vars);
        Scope {
            source: self.source,
            templater: self.templater,
            path: self.path.clone(),
            extra,
        }
    }

    /// The same place, with more variables for every template rendered from it.
    pub fn with_vars(&self, vars: &[(&str, &str)]) -> Scope<'a> {
        let mut extra = self.extra.clone();
        extra.extend(
            vars.iter()
                .map(|(k, v)| (k.to_string(), minijinja::Value::from(*v))),
        );
        Scope {
            source: self.source,
            templater: self.templater,
            path: self.path.clone(),
            extra,
        }
    }

    fn join(&self, field: &str) -> String {
        if self.path.is_empty() || field.starts_with('[') {
            format!("{}{field}", self.path)
        } else {
            format!("{}.{field}", self.path)
        }
    }

    /// A server's address rendered: an http:// or https:// URL (a password in it masked in the
    /// error); `example` is the hint's.
    pub fn render_url(&self, field: &str, src: &str, example: &str) -> Result<String, Diagnostic> {
        let url = self.render(field, src, Mode::Url)?;
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(self
                .error(
                    field,
                    format!(
                        "'{}' is not an http:// or https:// URL",
                        crate::redact::userinfo(&url)
                    ),
                )
                .hint(format!("its address, like {example}")));
        }
        Ok(url)
    }

    pub fn render(&self, field: &str, src: &str, mode: Mode) -> Result<String, Diagnostic> {
        // No program can receive it: the step would fail only when it runs, after the stop.
        if mode == Mode::Shell && src.contains('\0') {
            return Err(self
                .error(field, "a command cannot hold a NUL byte")
                .hint("remove the \\0 (\\x00) from the command"));
        }
        let extra: Vec<(&str, minijinja::Value)> = self
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        self.templater
            .render_values(src, mode, &extra)
            .map_err(|e| {
                let mut d = self.error(field, e.message.clone());
                d.missing = e.missing.clone();
                if let Some(n) = e.placeholder {
                    d.point_at_placeholder(src, n);
                }
                if let Some(h) = e.hint {
                    d = d.hint(h);
                }
                if !d.message.starts_with("undefined") {
                    return d;
                }
                let names = self.templater.names();
                let mut known: Vec<&str> = names.iter().map(String::as_str).collect();
                known.extend(self.extra.iter().map(|(k, _)| k.as_str()));
                // A near miss of a defined name is a typo, never a value to give at run time.
                let typo = d.missing.iter().find_map(|m| {
                    let defined = known.iter().copied().filter(|k| !facts::is_stand_in(k));
                    diagnostic::did_you_mean(m, defined).map(|k| (m.clone(), k))
                });
                if let Some((_, k)) = typo {
                    d.missing.clear();
                    return d.hint(format!("did you mean '{k}'?"));
                }
                if let Some(var) = d
                    .message
                    .split("'env.")
                    .nth(1)
                    .and_then(|r| r.split('\'').next())
                {
                    let var = var.to_string();
                    d.hint(format!("the environment variable {var} is not set"))
                } else if known.is_empty() {
                    d.hint("define it under `vars:` or pass --var NAME=VALUE")
                } else {
                    d.hint(format!(
                        "defined: {}, env.NAME, host.name (add more under `vars:` or with --var)",
                        known.join(", ")
                    ))
                }
            })
    }

    pub fn error(&self, field: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::near_path(self.source, &self.join(field), message)
    }
}

/// A playbook is a few KiB; past this it is not one (`/dev/zero` would fill the memory).
const MAX_SIZE: u64 = 16 * 1024 * 1024;

pub fn read_source(path: &Path) -> Result<Arc<Source>, Diagnostic> {
    let read = |path: &Path| -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let mut text = vec![];
        // Opened without waiting: a FIFO nobody writes to would block open(2) for ever. Then
        // read as usual, which ends at once on such a FIFO (no writer: end of file) and waits
        // for one that has a writer (`tend validate <(generate-playbook)`).
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(path)?;
        rustix::fs::fcntl_setfl(&file, rustix::fs::OFlags::empty())?;
        file.take(MAX_SIZE + 1).read_to_end(&mut text)?;
        Ok(text)
    };
    let text = read(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
            _ if path.is_dir() => "it is a directory".to_string(),
            _ => e.to_string(),
        };
        Diagnostic::new(format!("cannot read playbook {}: {why}", path.display()))
    })?;
    if text.len() as u64 > MAX_SIZE {
        return Err(Diagnostic::new(format!(
            "playbook {} is larger than 16 MiB: not a playbook",
            path.display()
        )));
    }
    let text = match String::from_utf8(text) {
        Ok(text) => text,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let byte = e.as_bytes()[at];
            let shown = Source::new(path, String::from_utf8_lossy(e.as_bytes()).into_owned());
            return Err(Diagnostic::at_offset(
                &shown,
                at,
                format!("the file is not UTF-8 text: byte 0x{byte:02x} here"),
            )
            .hint("save it as UTF-8 (iconv -f latin1 -t utf-8 converts a Latin-1 file)"));
        }
    };
    // Editors on Windows start UTF-8 files with a byte order mark; YAML allows it.
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    };
    Ok(Source::new(path, text))
}

/// Which kind a playbook declares, checked before the strict parse so a wrong subcommand gets
/// a clear message rather than a pile of unknown keys.
pub fn peek_kind(source: &Arc<Source>) -> Result<Kind, Diagnostic> {
    if source.text.trim().is_empty()
        || source
            .text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim().starts_with('#'))
    {
        return Err(Diagnostic::at_start(source, "the playbook is empty")
            .hint("a playbook is a YAML mapping that starts with `kind: check` (or deploy, cleanup, failover)"));
    }
    shallow(source)?;
    #[derive(Deserialize)]
    struct Peek {
        kind: Option<serde_yaml::Value>,
    }
    let peek: Peek =
        serde_yaml::from_str(&source.text).map_err(|e| diagnostic::from_yaml(source, &e))?;
    let kinds = ["deploy", "cleanup", "failover", "check"];
    match peek.kind {
        None => Err(Diagnostic::at_start(source, "missing key 'kind'")
            .hint("a playbook starts with `kind: check` (or deploy, cleanup, failover)")),
        Some(v) => serde_yaml::from_value::<Kind>(v.clone()).map_err(|_| {
            let shown = match &v {
                serde_yaml::Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            let d = Diagnostic::at_path(source, "kind", format!("unknown playbook kind '{shown}'"));
            match diagnostic::did_you_mean(&shown, kinds.into_iter()) {
                Some(k) => d.hint(format!("did you mean '{k}'?")),
                None => d.hint("kind is one of: deploy, cleanup, failover, check"),
            }
        }),
    }
}

/// Refuse a text nested so deep that parsing it would take seconds, before it is parsed.
pub fn shallow(source: &Arc<Source>) -> Result<(), Diagnostic> {
    match depth::too_deep(&source.text) {
        None => Ok(()),
        Some(at) => Err(Diagnostic::at_offset(
            source,
            at,
            format!("this nests deeper than {} levels", depth::MAX),
        )
        .hint("a playbook is a few levels deep: look for a bracket opened again and again")),
    }
}

/// Load a playbook for the subcommand of kind `T::KIND`.
pub fn load<T: Playbook>(path: &Path, args: &VarArgs) -> Result<Loaded<T>, Diagnostic> {
    let source = read_source(path)?;
    load_source(source, args)
}

pub fn load_source<T: Playbook>(
    source: Arc<Source>,
    args: &VarArgs,
) -> Result<Loaded<T>, Diagnostic> {
    let kind = peek_kind(&source)?;
    if kind != T::KIND {
        return Err(Diagnostic::at_path(
            &source,
            "kind",
            // Not "`tend X` runs": `rollback` and `releases` take deploy playbooks too.
            format!(
                "this is a {kind} playbook, where a {} playbook is needed",
                T::KIND
            ),
        )
        .hint(format!(
            "run it with `tend {kind} {}`",
            source.path.display()
        )));
    }
    let body: T =
        serde_yaml::from_str(&source.text).map_err(|e| diagnostic::from_yaml(&source, &e))?;
    let vars = merge_vars(body.vars(), args)?;
    Ok(Loaded {
        source,
        body,
        vars,
        given: None,
    })
}

/// Playbook vars, then each --vars-file in order, then each --var: later wins.
fn merge_vars(base: &Vars, args: &VarArgs) -> Result<Vars, Diagnostic> {
    let mut vars = base.clone();
    for file in &args.vars_files {
        let source = read_source(file).map_err(|mut d| {
            d.message = d.message.replace("playbook", "vars file");
            d
        })?;
        shallow(&source)?;
        let extra: Vars = serde_yaml::from_str(&source.text).map_err(|e| {
            let mut d = diagnostic::from_yaml(&source, &e);
            d.message = format!("in vars file: {}", d.message);
            d.hint("a vars file is a mapping of names to values, like `version: v2`")
        })?;
        vars.extend(extra);
    }
    for (k, v) in &args.vars {
        vars.insert(k.clone(), serde_yaml::Value::String(v.clone()));
    }
    Ok(vars)
}

pub fn kind_of(path: &Path) -> Result<(Arc<Source>, Kind), Diagnostic> {
    let source = read_source(path)?;
    let kind = peek_kind(&source)?;
    Ok((source, kind))
}
