//! The `kind: cleanup` playbook.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::playbook::diagnostic::{Invalid, at_key, with_hint};
use crate::playbook::units::{Duration, Size};

crate::playbook!(
    Cleanup,
    pub struct CleanupPlaybook {
        pub rules: Vec<Rule>,
        pub free_space: Option<FreeSpace>,
    }
);

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Compress,
    Archive,
    Delete,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Day,
    Week,
    Month,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ArchiveSpec {
    pub dest: String,
    /// Template; `{{ date }}` is the period (2026-11-26, 2026-W48 or 2026-11).
    pub name: String,
    #[serde(default = "day")]
    pub group_by: GroupBy,
    pub level: Option<u32>,
}

fn day() -> GroupBy {
    GroupBy::Day
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: Option<String>,
    pub path: String,
    pub matches: Vec<String>,
    pub exclude: Vec<String>,
    pub older_than: Option<Duration>,
    pub min_size: Option<Size>,
    pub keep_newest: usize,
    pub action: Action,
    pub level: u32,
    pub archive: Option<ArchiveSpec>,
    /// free_space may delete this rule's matches, oldest first, to reach its target.
    pub expendable: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct RawRule {
    name: Option<String>,
    path: String,
    #[serde(rename = "match")]
    matches: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    older_than: Option<Duration>,
    min_size: Option<Size>,
    keep_newest: Option<usize>,
    action: Action,
    level: Option<u32>,
    archive: Option<ArchiveSpec>,
    #[serde(default)]
    expendable: bool,
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawRule::deserialize(d)?;
        let err = |key: &str, msg: Invalid| de::Error::custom(at_key(key, msg));
        if r.matches.is_empty() {
            return Err(err(
                "match",
                with_hint(
                    "`match` is empty: the rule would act on nothing",
                    "e.g. match: [\"*.log\"]",
                ),
            ));
        }
        for (key, list) in [("match", &r.matches), ("exclude", &r.exclude)] {
            for g in list {
                globset::Glob::new(g)
                    .map_err(|e| err(key, format!("invalid pattern '{g}': {}", e.kind()).into()))?;
            }
        }
        let level = r.level.unwrap_or(6);
        if level > 9 {
            return Err(err(
                "level",
                format!(
                    "level {level} is out of range: gzip levels are 0 (fastest) to 9 (smallest)"
                )
                .into(),
            ));
        }
        match (r.action, &r.archive) {
            (Action::Archive, None) => {
                return Err(de::Error::custom(with_hint(
                    "action `archive` needs an `archive:` section",
                    "archive: { dest: /srv/archive/app, name: \"app-{{ date }}.tar.gz\", group_by: day }",
                )));
            }
            (Action::Compress | Action::Delete, Some(_)) => {
                return Err(err(
                    "archive",
                    "`archive:` only applies to `action: archive`".into(),
                ));
            }
            _ => {}
        }
        if r.action == Action::Archive
            && let Some(a) = &r.archive
            && !a.name.contains("{{")
        {
            return Err(err(
                "archive",
                with_hint(
                    format!("archive name '{}' has no {{{{ date }}}}", a.name),
                    "every period needs its own archive: name: \"app-{{ date }}.tar.gz\"",
                ),
            ));
        }
        Ok(Rule {
            name: r.name,
            path: r.path,
            matches: r.matches,
            exclude: r.exclude,
            older_than: r.older_than,
            min_size: r.min_size,
            keep_newest: r.keep_newest.unwrap_or(0),
            action: r.action,
            level,
            archive: r.archive,
            expendable: r.expendable,
        })
    }
}

impl Rule {
    pub fn label(&self, index: usize) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => format!("rule {} ({:?} {})", index + 1, self.action, self.path).to_lowercase(),
        }
    }
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct FreeSpace {
    pub mount: String,
    pub max_used_percent: crate::playbook::units::Number,
}

/// Places a cleanup must never work in: it deletes and rewrites files.
const SYSTEM_ROOTS: &[&str] = &[
    "/", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/boot", "/proc", "/sys",
    "/dev", "/run", "/var", "/home", "/root", "/srv", "/opt",
];

/// The directory a rule works in, resolved, or why it is refused.
pub fn rule_root(path: &str) -> Result<PathBuf, Invalid> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(format!("path '{path}' must be absolute").into());
    }
    // A rule never follows a link, its own path included: a log directory swapped for a link
    // (by whoever owns its parent) would send a root cron job's deletes anywhere.
    if let Ok(to) = std::fs::read_link(p.components().collect::<PathBuf>()) {
        return Err(format!(
            "path '{path}' is a symlink (to {}): a rule never follows a link; give the directory itself",
            to.display()
        ).into());
    }
    let real = match std::fs::canonicalize(p) {
        Ok(r) => r,
        Err(e) => return Err(format!("path '{path}': {}", crate::sys::describe_io(&e)).into()),
    };
    if !real.is_dir() {
        return Err(format!("path '{path}' is not a directory").into());
    }
    let shown = if real != Path::new(path) {
        format!(" (it resolves to {})", real.display())
    } else {
        String::new()
    };
    if SYSTEM_ROOTS.iter().any(|r| real == Path::new(r)) {
        return Err(format!(
            "path '{path}'{shown} is a system root: a cleanup rule works in a directory of its own, like /var/log/app"
        ).into());
    }
    for r in [
        "/proc", "/sys", "/dev", "/boot", "/etc", "/usr", "/bin", "/sbin", "/lib",
    ] {
        if real.starts_with(r) {
            return Err(
                format!("path '{path}'{shown} is inside {r}, which cleanup never touches").into(),
            );
        }
    }
    Ok(real)
}
