//! `remedy:` on a check as written and as resolved: a cleanup playbook or a command, the states
//! that set it off, how often at most.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::action::Action;
use crate::playbook::{Diagnostic, Mode, Scope};
use crate::report::Status;

/// `remedy:` on a check: what tend does when the check reaches one of `on`'s states, before it
/// alerts; exactly one of `cleanup` and `run`.
#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RemedySpec {
    /// A cleanup playbook, relative to this one, run on the host whose check it is.
    #[schemars(example = &"cleanup-app-logs.yaml")]
    pub cleanup: Option<String>,
    /// A command, run with `sh -c` there; `{{ values }}` in it are shell-quoted.
    #[schemars(example = &"systemctl restart app")]
    pub run: Option<String>,
    /// The states that set it off: `critical` (default), or a list: `[warning, critical]`.
    #[serde(default)]
    pub on: Triggers,
    /// Never more often than this on a host (default 1h): a remedy that does not help is not
    /// run again every minute, and the alert says so.
    pub max_per: Option<crate::playbook::units::Duration>,
    /// How long `run` may take (default 5m).
    pub timeout: Option<crate::playbook::units::Duration>,
}

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Warning,
    Critical,
    Unknown,
}

/// One state or a list of them.
#[derive(Debug, Clone, schemars::JsonSchema)]
pub struct Triggers(#[schemars(with = "TriggersSchema")] pub Vec<Trigger>);

#[derive(schemars::JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum TriggersSchema {
    One(Trigger),
    Many(Vec<Trigger>),
}

impl Default for Triggers {
    fn default() -> Self {
        Triggers(vec![Trigger::Critical])
    }
}

impl<'de> Deserialize<'de> for Triggers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Triggers;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("critical, warning or unknown, or a list of them")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Triggers, E> {
                Trigger::deserialize(de::value::StrDeserializer::<E>::new(s))
                    .map(|t| Triggers(vec![t]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Triggers, A::Error> {
                let mut all = vec![];
                while let Some(t) = seq.next_element()? {
                    all.push(t);
                }
                if all.is_empty() {
                    return Err(de::Error::custom(
                        "an empty `on:` never sets the remedy off: leave the remedy out instead",
                    ));
                }
                Ok(Triggers(all))
            }
        }
        d.deserialize_any(V)
    }
}

/// How often a remedy may run on a host unless `max_per` says.
const MAX_PER: Duration = Duration::from_secs(3600);

/// A remedy resolved: what it does, when, and how often at most.
#[derive(Debug, Clone)]
pub struct Remedy {
    pub does: Does,
    pub on: Vec<Status>,
    pub max_per: Duration,
}

#[derive(Debug, Clone)]
pub enum Does {
    /// A cleanup playbook: its path here, as written, and its text.
    Cleanup {
        path: PathBuf,
        shown: String,
    },
    Run(Action),
}

impl Remedy {
    /// What it does, for a line: "cleanup cleanup-app-logs.yaml", "run systemctl restart app".
    pub fn shown(&self) -> String {
        match &self.does {
            Does::Cleanup { shown, .. } => format!("cleanup {shown}"),
            Does::Run(a) => format!("run {}", a.label),
        }
    }

    /// Its states, for a line: "critical", "warning or critical".
    pub fn when(&self) -> String {
        self.on
            .iter()
            .map(|s| s.label())
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

impl RemedySpec {
    /// Rendered and checked at `scope` (the check's `remedy`): a cleanup playbook must be one,
    /// relative to `dir`, the check playbook's directory.
    pub fn resolve(
        &self,
        scope: &Scope,
        dir: Option<&std::path::Path>,
    ) -> Result<Remedy, Diagnostic> {
        let does = match (&self.cleanup, &self.run) {
            (Some(c), None) => {
                let shown = scope.render("cleanup", c, Mode::Text)?;
                let path = dir.map_or_else(|| PathBuf::from(&shown), |d| d.join(&shown));
                let source = crate::playbook::read_source(&path)
                    .map_err(|d| scope.error("cleanup", d.message))?;
                let kind = crate::playbook::peek_kind(&source)
                    .map_err(|d| scope.error("cleanup", format!("{}: {}", shown, d.message)))?;
                if kind != crate::playbook::Kind::Cleanup {
                    return Err(scope
                        .error("cleanup", format!("{shown} is a {kind} playbook"))
                        .hint("a remedy's cleanup is a playbook of kind: cleanup"));
                }
                let loaded: crate::playbook::Loaded<crate::cleanup::CleanupPlaybook> =
                    crate::playbook::load_source(source, &crate::cli::VarArgs::default())
                        .map_err(|d| scope.error("cleanup", format!("{shown}: {}", d.message)))?;
                if loaded.body.hosts.is_some() || loaded.body.inventory.is_some() {
                    return Err(scope
                        .error(
                            "cleanup",
                            format!("{shown} names hosts of its own, and a remedy runs where its check went bad"),
                        )
                        .hint("leave `hosts:` and `inventory:` out of a remedy's cleanup playbook"));
                }
                Does::Cleanup { path, shown }
            }
            (None, Some(r)) => {
                let mut spec = crate::action::ActionSpec::from_run(r.clone());
                spec.timeout = self.timeout;
                Does::Run(spec.resolve(scope)?)
            }
            _ => {
                return Err(scope
                    .error("", "a remedy does one thing: `cleanup: PLAYBOOK` or `run: COMMAND`")
                    .hint("remedy: { cleanup: cleanup-app-logs.yaml } or remedy: { run: \"systemctl restart app\" }"));
            }
        };
        if self.timeout.is_some_and(|d| d.0.is_zero()) {
            return Err(scope
                .error(
                    "timeout",
                    "a timeout of 0 fails the remedy before it starts",
                )
                .hint("how long the command may take: 30s, 5m"));
        }
        if self.max_per.is_some_and(|d| d.0.is_zero()) {
            return Err(scope
                .error(
                    "max_per",
                    "a remedy with no pause between runs would run every check",
                )
                .hint("how long to wait before it may run again on a host: 30m, 1h"));
        }
        let on = self
            .on
            .0
            .iter()
            .map(|t| match t {
                Trigger::Warning => Status::Warning,
                Trigger::Critical => Status::Critical,
                Trigger::Unknown => Status::Unknown,
            })
            .collect();
        Ok(Remedy {
            does,
            on,
            max_per: self.max_per.map_or(MAX_PER, |d| d.0),
        })
    }
}
