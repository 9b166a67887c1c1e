//! The `kind: cleanup` playbook.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::playbook::diagnostic::{Invalid, at_key, with_hint};
use crate::playbook::units::{Duration, Size};

crate::playbook!(
    Cleanup,
    fleet,
    /// `tend cleanup`: compress, archive and expire files by rule; free a mount below a target.
    pub struct CleanupPlaybook {
        /// What to do with which files, rule by rule, in order.
        #[schemars(length(min = 1))]
        pub rules: Vec<Rule>,
        /// After the rules: delete `expendable` rules' files, oldest first, until the mount is
        /// below the target.
        pub free_space: Option<FreeSpace>,
    }
);

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// gzip each file in place (`app.log` becomes `app.log.gz`), losslessly checked.
    Compress,
    /// Move the files into one tar.gz per period under `archive.dest`.
    Archive,
    /// Remove the files.
    Delete,
}

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// One archive per day (`{{ date }}` is 2026-11-26).
    Day,
    /// One per ISO week (2026-W48).
    Week,
    /// One per month (2026-11).
    Month,
}

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ArchiveSpec {
    /// The directory the archives go to.
    #[schemars(example = &"/srv/archive/app")]
    pub dest: String,
    /// Template; `{{ date }}` is the period (2026-11-26, 2026-W48 or 2026-11).
    #[schemars(example = &"app-{{ date }}.tar.gz")]
    pub name: String,
    /// The period one archive holds (default `day`).
    #[serde(default = "day")]
    pub group_by: GroupBy,
    /// gzip level, 0 (fastest) to 9 (smallest); default 6.
    #[schemars(range(max = 9), example = 6)]
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

/// Files under `path` matching `match` (and not `exclude`), old and big enough, get `action`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
#[schemars(rename = "Rule", transform = archive_needs_its_section)]
struct RawRule {
    /// How the rule is shown (default: its action and path).
    #[schemars(example = &"compress app logs")]
    name: Option<String>,
    /// The directory the rule works in (never a system root; links are never followed).
    #[schemars(example = &"/var/log/app")]
    path: String,
    /// Glob patterns of file names or paths under `path`.
    #[serde(rename = "match")]
    #[schemars(length(min = 1), example = ["*.log", "**/*.log.[0-9]"])]
    matches: Vec<String>,
    /// Glob patterns left alone.
    #[serde(default)]
    #[schemars(example = ["current.log"])]
    exclude: Vec<String>,
    /// Only files last modified longer ago than this.
    older_than: Option<Duration>,
    /// Only files at least this big.
    min_size: Option<Size>,
    /// The newest this many matching files are kept whatever their age.
    #[schemars(example = 3)]
    keep_newest: Option<usize>,
    /// What happens to the files.
    action: Action,
    /// gzip level for `compress`, 0 (fastest) to 9 (smallest); default 6.
    #[schemars(range(max = 9), example = 6)]
    level: Option<u32>,
    /// Where and how `action: archive` archives.
    archive: Option<ArchiveSpec>,
    /// `free_space` may delete this rule's files, oldest first, to reach its target.
    #[serde(default)]
    expendable: bool,
}

crate::playbook::schema::schema_as!(Rule, RawRule);

/// `action: archive` needs its `archive:` section; the other actions take none.
fn archive_needs_its_section(s: &mut schemars::Schema) {
    s.insert(
        "if".into(),
        serde_json::json!({ "properties": { "action": { "const": "archive" } }, "required": ["action"] }),
    );
    s.insert(
        "then".into(),
        serde_json::json!({ "required": ["archive"], "properties": { "archive": { "not": { "type": "null" } } } }),
    );
    s.insert(
        "else".into(),
        serde_json::json!({ "properties": { "archive": { "type": "null" } } }),
    );
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

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct FreeSpace {
    /// A path on the filesystem to free.
    #[schemars(example = &"/var/log")]
    pub mount: String,
    /// The target: at most this percent of the filesystem used.
    #[schemars(range(min = 0, max = 100))]
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
