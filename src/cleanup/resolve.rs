//! A cleanup playbook resolved: each rule's root, archive destination and name template, the
//! free-space target and the notifier, checked before any file is touched.

use std::path::{Path, PathBuf};

use super::spec::{self, CleanupPlaybook, FreeSpace, Rule};
use crate::playbook::{self, Diagnostic, Invalid, Loaded, Mode, Templater};

pub(super) struct Resolved {
    pub(super) rule: Rule,
    pub(super) label: String,
    pub(super) root: PathBuf,
    /// For archive rules: the destination directory and the name template.
    pub(super) dest: Option<PathBuf>,
}

pub(super) struct Plan {
    pub(super) rules: Vec<Resolved>,
    pub(super) notifier: crate::notify::Notifier,
    pub(super) free_space: Option<(FreeSpace, PathBuf)>,
    /// Renders archive names per period.
    pub(super) templater: Templater,
}

pub(crate) const ALERT_REASONS: &[&str] = &["failure", "success"];

pub(super) fn resolve(
    loaded: &Loaded<CleanupPlaybook>,
    templater: Templater,
    real_secrets: bool,
) -> Result<Plan, Diagnostic> {
    let top = loaded.scope(&templater);
    if loaded.body.rules.is_empty() {
        return Err(top.error("rules", "`rules` is empty").hint("add a rule, e.g. `- { path: /var/log/app, match: [\"*.log\"], older_than: 1d, action: compress }`"));
    }
    let mut rules = vec![];
    for (i, rule) in loaded.body.rules.iter().enumerate() {
        let scope = top.at(&format!("rules[{i}]"));
        let path = scope.render("path", &rule.path, Mode::Text)?;
        let root = match spec::rule_root(&path) {
            Ok(root) => root,
            // Absent here (not a link, not a file): the machine it is meant for may have it.
            Err(why) if path.starts_with('/') && std::fs::symlink_metadata(&path).is_err() => {
                playbook::facts::host_fact(scope.error("path", why))?;
                PathBuf::from(&path)
            }
            Err(why) => return Err(scope.error("path", why)),
        };
        let dest = match &rule.archive {
            Some(a) => {
                let d = scope.at("archive").render("dest", &a.dest, Mode::Text)?;
                if !d.starts_with('/') {
                    return Err(scope.at("archive").error(
                        "dest",
                        format!("archive dest '{d}' must be an absolute path"),
                    ));
                }
                let real = crate::fsutil::real_path(Path::new(&d));
                if real.starts_with(&root) {
                    return Err(scope
                        .at("archive")
                        .error(
                            "dest",
                            format!(
                                "archive dest '{d}' is inside the rule's own path {}",
                                root.display()
                            ),
                        )
                        .hint("keep archives beside what they archive, not in it: e.g. a sibling directory like /var/log/app-archive"));
                }
                // Check the name renders now, with a sample period, so errors show before work.
                render_name(&templater, &a.name, "2026-01-01")
                    .map_err(|e| scope.at("archive").error("name", e))?;
                Some(PathBuf::from(d))
            }
            None => None,
        };
        let mut rule = rule.clone();
        rule.path = path;
        rules.push(Resolved {
            label: rule.label(i),
            rule,
            root,
            dest,
        });
    }
    let free_space = match &loaded.body.free_space {
        Some(fs) => {
            let scope = top.at("free_space");
            let mount = scope.render("mount", &fs.mount, Mode::Text)?;
            if !(0.0..=100.0).contains(&fs.max_used_percent.0) {
                return Err(scope.error(
                    "max_used_percent",
                    "max_used_percent is a percentage, 0 to 100",
                ));
            }
            if !Path::new(&mount).is_dir() {
                playbook::facts::host_fact(
                    scope.error("mount", format!("mount '{mount}' does not exist")),
                )?;
            }
            if !loaded.body.rules.iter().any(|r| r.expendable) {
                return Err(scope.error("mount", "free_space needs at least one rule marked `expendable: true`").hint("free_space deletes the oldest files of expendable rules until the mount is below its target"));
            }
            Some((
                FreeSpace {
                    mount: mount.clone(),
                    max_used_percent: fs.max_used_percent,
                },
                PathBuf::from(mount),
            ))
        }
        None => None,
    };
    let notifier = loaded
        .body
        .notify
        .resolve(&top, ALERT_REASONS, real_secrets)?
        .named(loaded.name());
    Ok(Plan {
        rules,
        notifier,
        free_space,
        templater,
    })
}

/// An archive file name for a period: a plain name, never a path.
pub(super) fn render_name(t: &Templater, template: &str, date: &str) -> Result<String, Invalid> {
    let name = t
        .render_with(template, Mode::Text, &[("date", date)])
        .map_err(|e| Invalid(e.to_string()))?;
    if name.is_empty() || name.contains('/') || name == "." || name == ".." || name.contains('\0') {
        return Err(
            format!("archive name '{name}' must be a plain file name (no '/', not '..')").into(),
        );
    }
    Ok(name)
}
