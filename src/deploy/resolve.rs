//! From playbook to a deploy with every template rendered: once for the release being
//! deployed, and once more for the rollback target, so `{{ release }}` in a probe checks the
//! version that should be answering.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::configure::Config;
use super::fetch::{Artifact, Source};
use super::layout::{Layout, check_release_name};
use super::releases;
use super::spec::{DeployPlaybook, MigrationSpec, OnFailure};
use crate::action::{Action, ActionSpec};
use crate::fleet::Reached;
use crate::inventory::Host;
use crate::notify::Notifier;
use crate::playbook::{Diagnostic, Loaded, Mode, Scope, Templater, Vars};
use crate::probe::Probe;

pub const DEFAULT_KEEP: usize = 5;
pub const ALERT_REASONS: &[&str] = &["failure", "rollback", "success"];

pub struct Migration {
    pub label: String,
    pub up: Action,
    pub down: Option<Action>,
    pub backward_compatible: bool,
    /// As written, recorded in the host journal for a later manual rollback.
    pub recorded: releases::Migration,
}

/// Every phase rendered for one release.
pub struct Phases {
    pub release: String,
    pub stop: Vec<Action>,
    pub migrate: Vec<Migration>,
    pub configure: Vec<Config>,
    pub start: Vec<Action>,
    pub verify: Vec<Probe>,
    /// `verify`'s `prometheus` analyses, run once its probes pass: the gate after start.
    pub analyses: Vec<crate::analysis::Analysis>,
}

/// The hosts of a fleet deploy, in their batches.
pub struct Fleet {
    pub hosts: Vec<Host>,
    /// What reading the inventory noticed (settings tend does not use, vars the playbook hides).
    pub warnings: Vec<String>,
    pub batches: Vec<Vec<usize>>,
    pub on_failure: OnFailure,
    pub max_failures: usize,
    /// Waited between a batch's passed analysis and the next batch.
    pub pause: std::time::Duration,
    /// `rollout.analysis`: how many there are (each host renders its own).
    pub analyses: usize,
}

impl Fleet {
    /// The inventory's warnings, on stderr before a run starts.
    pub fn warn(&self) {
        for w in &self.warnings {
            eprintln!("warning: {w}");
        }
    }
}

/// Which analyses: `verify`'s, or `rollout.analysis`'s.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Gates {
    Verify,
    Rollout,
}

pub struct Deploy<'a> {
    pub loaded: &'a Loaded<DeployPlaybook>,
    /// Over the playbook's vars and the command line's.
    pub templater: Templater,
    secrets: BTreeMap<String, String>,
    pub layout: Layout,
    pub release: String,
    pub keep: usize,
    pub artifact: Artifact,
    pub notifier: Notifier,
    pub playbook_sha256: String,
    /// `{{ host }}` in a fleet deploy: the host this deploy runs on.
    host: Option<minijinja::Value>,
}

impl<'a> Deploy<'a> {
    /// `release_needed`: false for `rollback` and `releases`, which act on recorded releases
    /// and need no `--var version=...`.
    pub fn resolve(
        loaded: &'a Loaded<DeployPlaybook>,
        real_secrets: bool,
        release_needed: bool,
    ) -> Result<Deploy<'a>, Diagnostic> {
        let secrets = loaded.secrets(real_secrets)?;
        Self::with_secrets(loaded, secrets, real_secrets, release_needed)
    }

    fn with_secrets(
        loaded: &'a Loaded<DeployPlaybook>,
        secrets: BTreeMap<String, String>,
        real_secrets: bool,
        release_needed: bool,
    ) -> Result<Deploy<'a>, Diagnostic> {
        let templater = Templater::new(&loaded.vars, &secrets);
        let top = loaded.scope(&templater);
        let scope = top.at("deploy");
        let d = &loaded.body.deploy;
        let fleet = loaded.body.hosts.is_some() || loaded.body.inventory.is_some();
        // A fleet's root may differ per host (`{{ host.vars.zone }}`): `on_host` renders it.
        let root = match scope.render("root", &d.root, Mode::Text) {
            Ok(r) => checked_root(&scope, r, !fleet)?,
            Err(_) if fleet => PathBuf::new(),
            Err(e) => return Err(e),
        };
        let release = match scope.render("release", &d.release, Mode::Text) {
            Ok(r) => {
                check_release_name(&r).map_err(|m| scope.error("release", m))?;
                r
            }
            Err(_) if !release_needed => String::new(),
            Err(e) => return Err(e),
        };
        if d.keep_releases == Some(0) {
            return Err(scope
                .error("keep_releases", "keep_releases must be at least 1")
                .hint("the current release is always kept; 5 is a common choice"));
        }
        let base = loaded.source.path.parent().unwrap_or(Path::new("."));
        let artifact = match fetch_spec(&scope.at("fetch"), d, base) {
            Ok(a) => a,
            // `rollback` and `releases` never fetch (and have no `--var sha=...`).
            Err(_) if !release_needed => Artifact {
                source: Source::Path(PathBuf::new()),
                sha256: None,
                strip_components: 0,
                on_hosts: false,
                max_unpacked: None,
            },
            Err(e) => return Err(e),
        };
        let notifier = loaded
            .body
            .notify
            .resolve(&top, ALERT_REASONS, real_secrets)?
            .named(loaded.name());
        let layout = Layout {
            root,
            target: std::sync::Arc::new(crate::machine::Local),
        };
        let deploy = Deploy {
            loaded,
            templater,
            secrets,
            layout,
            release,
            keep: d.keep_releases.unwrap_or(DEFAULT_KEEP),
            artifact,
            notifier,
            playbook_sha256: super::fetch::hex(&Sha256::digest(loaded.source.text.as_bytes())),
            host: None,
        };
        // Every phase must render now, before anything runs (a fleet's, for each of its hosts,
        // once they are known: `check_hosts`).
        if release_needed && !fleet {
            deploy.phases(&deploy.release, None)?;
        }
        Ok(deploy)
    }

    /// The hosts of `hosts:` and `inventory:`, narrowed by `--limit`, in their rollout batches;
    /// `None` for a deploy on this machine.
    pub fn fleet(&self, limit: Option<&str>) -> Result<Option<Fleet>, Diagnostic> {
        let b = &self.loaded.body;
        let top = self.loaded.scope(&self.templater);
        let dir = self.loaded.source.path.parent();
        if b.ssh.as_ref().is_some_and(|s| s.remote_tend.is_some()) {
            return Err(top
                .at("ssh")
                .error(
                    "remote_tend",
                    "a deploy runs its steps over the connection, no tend on the hosts",
                )
                .hint("remote_tend is for check and cleanup playbooks across hosts"));
        }
        let Some(crate::fleet::Targets {
            hosts,
            mut warnings,
        }) = crate::fleet::targets(&top, dir, b.reach(), limit)?
        else {
            return Ok(None);
        };
        warnings.extend(self.hidden_host_vars(&hosts));
        let rollout = b.deploy.rollout.clone();
        if rollout
            .as_ref()
            .and_then(|r| r.pause)
            .is_some_and(|p| p.0 > std::time::Duration::from_secs(7 * 24 * 3600))
        {
            return Err(top
                .at("deploy")
                .at("rollout")
                .error("pause", "a pause of more than 7 days between batches")
                .hint("a pause lets a batch take traffic before the next: minutes, an hour"));
        }
        let sizes = rollout
            .as_ref()
            .map(|r| r.batches.clone())
            .unwrap_or_default();
        Ok(Some(Fleet {
            warnings,
            batches: crate::inventory::batches(hosts.len(), &sizes),
            hosts,
            on_failure: rollout.as_ref().map(|r| r.on_failure).unwrap_or_default(),
            max_failures: rollout.as_ref().map_or(0, |r| r.max_failures),
            pause: rollout
                .as_ref()
                .and_then(|r| r.pause)
                .map_or_else(Default::default, |p| p.0),
            analyses: rollout.map_or(0, |r| r.analysis.len()),
        }))
    }

    /// Inventory vars a template cannot reach as `{{ name }}`, since the playbook's vars or
    /// secrets (or tend) use that name: each named once, with its hosts.
    fn hidden_host_vars(&self, hosts: &[Host]) -> Vec<String> {
        // The playbook's few names looked up in each host's vars, not each host's many vars in
        // the playbook's: 5,000 hosts of 15 vars each.
        // `validate`'s stand-ins for vars given at deploy time are no one's.
        let taken: Vec<&str> = self
            .loaded
            .vars
            .keys()
            .chain(self.secrets.keys())
            .map(String::as_str)
            .filter(|k| !crate::playbook::facts::is_stand_in(k))
            .chain(TEND_NAMES)
            .collect();
        let mut hidden: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for h in hosts {
            for k in &taken {
                if h.vars.contains_key(k) {
                    hidden.entry(k).or_default().push(&h.name);
                }
            }
        }
        hidden
            .into_iter()
            .map(|(k, hs)| {
                let whose = if TEND_NAMES.contains(&k) {
                    "tend's"
                } else {
                    "the playbook's"
                };
                format!(
                    "inventory var '{k}' (on {}) is also {whose}: {{{{ {k} }}}} is {whose} value, {{{{ host.vars.{k} }}}} the host's",
                    crate::inventory::few(&hs)
                )
            })
            .collect()
    }

    /// This deploy as `loaded` (the same playbook with the vars a release was deployed with)
    /// renders it, on the same host and root, with the same secrets: what redeploys that
    /// release as it was (a drill's way back).
    pub fn again<'b>(&self, loaded: &'b Loaded<DeployPlaybook>) -> Result<Deploy<'b>, Diagnostic> {
        let mut d = Deploy::with_secrets(loaded, self.secrets.clone(), true, true)?;
        if let Some(h) = &self.host {
            d.templater.set_host(h.clone());
        }
        d.host.clone_from(&self.host);
        d.layout = Layout {
            root: self.layout.root.clone(),
            target: self.layout.target.clone(),
        };
        d.notifier = self.notifier.clone();
        Ok(d)
    }

    /// This deploy as it runs on `host`, through `target`: `{{ host }}` is that host in every
    /// template, so its root, commands and configs may differ from the others'.
    pub fn on_host(
        &self,
        host: &Host,
        target: std::sync::Arc<dyn crate::machine::Machine>,
    ) -> Result<Deploy<'a>, Diagnostic> {
        let value = host.template_value();
        let mut templater = self.templater.clone();
        templater.set_host(value.clone());
        let scope = self.loaded.scope(&templater).at("deploy");
        let root = scope.render("root", &self.loaded.body.deploy.root, Mode::Text)?;
        // The same root on every host (no `{{ host }}` in it) was checked once, in `new`.
        let root = if !self.layout.root.as_os_str().is_empty()
            && Path::new(root.trim_end_matches('/')) == self.layout.root
        {
            self.layout.root.clone()
        } else {
            checked_root(&scope, root, false)?
        };
        Ok(Deploy {
            loaded: self.loaded,
            templater,
            secrets: self.secrets.clone(),
            layout: Layout { root, target },
            release: self.release.clone(),
            keep: self.keep,
            artifact: self.artifact.clone(),
            notifier: self.notifier.clone(),
            playbook_sha256: self.playbook_sha256.clone(),
            host: Some(value),
        })
    }

    /// Every phase renders on every host (a `{{ host.vars.port }}` one host lacks is caught
    /// before any host is touched); the deploy as it is on the first host, for the plan.
    pub fn check_hosts(&self, f: &Fleet) -> Result<Deploy<'a>, Diagnostic> {
        let (first, rest) = f
            .hosts
            .split_first()
            .ok_or_else(|| Diagnostic::new("no hosts"))?;
        let (on, _) = self.rendered_on(first)?;
        // One core: on both of this machine's, under a busy neighbour, 5,000 hosts took longer.
        for h in rest {
            self.rendered_on(h)?;
        }
        Ok(on)
    }

    /// This deploy as it is on `host`, and its phases for the release; an error names the host.
    pub fn rendered_on(&self, host: &Host) -> Result<(Deploy<'a>, Phases), Diagnostic> {
        let named = |mut d: Diagnostic| {
            d.message = format!("{} (on host {})", d.message, host.name);
            d
        };
        let on = self
            .on_host(host, self.layout.target.clone())
            .map_err(named)?;
        let phases = on.phases(&self.release, None).map_err(named)?;
        Ok((on, phases))
    }

    /// A templater over the playbook's vars with `recorded` (the vars a release was deployed
    /// with) on top, so a rollback renders `{{ version }}` as that release had it.
    fn templater_for(&self, recorded: Option<&Vars>) -> Option<Templater> {
        let recorded = recorded.filter(|v| !v.is_empty())?;
        // The playbook's own vars under what the release was deployed with: not this run's
        // `--var`s, which were never that release's.
        let mut vars = self.loaded.body.vars.clone();
        vars.extend(recorded.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut t = Templater::new(&vars, &self.secrets);
        if let Some(h) = &self.host {
            t.set_host(h.clone());
        }
        Some(t)
    }

    /// The analyses of `which`, rendered for `release` on this deploy's host, with
    /// `{{ previous_release }}` the release it replaces ("" when none).
    pub fn analyses(
        &self,
        release: &str,
        previous: &str,
        which: Gates,
    ) -> Result<Vec<crate::analysis::Analysis>, Diagnostic> {
        let d = &self.loaded.body.deploy;
        let none = match which {
            Gates::Verify => d.verify.iter().all(|p| p.analysis.is_none()),
            Gates::Rollout => d.rollout.iter().all(|r| r.analysis.is_empty()),
        };
        if none {
            return Ok(vec![]);
        }
        let mut vars = self.release_vars(release);
        vars.push(("previous_release".into(), previous.to_string()));
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let scope = self
            .loaded
            .scope(&self.templater)
            .at("deploy")
            .with_vars(&vars);
        match which {
            Gates::Verify => d
                .verify
                .iter()
                .enumerate()
                .filter_map(|(i, p)| Some((i, p.analysis.as_ref()?)))
                .map(|(i, a)| a.resolve(&scope.at(&format!("verify[{i}]")).at("prometheus")))
                .collect(),
            Gates::Rollout => d
                .rollout
                .iter()
                .flat_map(|r| r.analysis.iter().enumerate())
                .map(|(i, a)| {
                    a.prometheus
                        .resolve(&scope.at(&format!("rollout.analysis[{i}]")).at("prometheus"))
                })
                .collect(),
        }
    }

    /// The variables a deploy sets for its templates.
    fn release_vars(&self, release: &str) -> Vec<(String, String)> {
        // Once a host for every host of a fleet: a root that is not UTF-8 is rare, so the
        // lossy form (no copy when valid) rather than `Display`'s formatter.
        let root = self.layout.root.to_string_lossy();
        let root = root.trim_end_matches('/');
        vec![
            ("release".into(), release.to_string()),
            ("release_dir".into(), format!("{root}/releases/{release}")),
            ("shared_dir".into(), format!("{root}/shared")),
        ]
    }

    /// Every phase rendered for `release`, with the vars it was deployed with when known.
    pub fn phases(&self, release: &str, recorded: Option<&Vars>) -> Result<Phases, Diagnostic> {
        let own = self.templater_for(recorded);
        let templater = own.as_ref().unwrap_or(&self.templater);
        let vars = self.release_vars(release);
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let scope = self.loaded.scope(templater).at("deploy").with_vars(&vars);
        let d = &self.loaded.body.deploy;
        let actions = |key: &str, list: &[crate::action::ActionItem]| {
            list.iter()
                .enumerate()
                .map(|(i, a)| a.0.resolve(&scope.at(&format!("{key}[{i}]"))))
                .collect::<Result<Vec<_>, _>>()
        };
        let stop = actions("stop", &d.stop)?;
        let start = actions("start", &d.start)?;
        let mut migrate = vec![];
        for (i, m) in d.migrate.iter().enumerate() {
            migrate.push(migration(&scope.at(&format!("migrate[{i}]")), &m.0)?);
        }
        let mut configure = vec![];
        for (i, c) in d.configure.iter().enumerate() {
            let s = scope.at(&format!("configure[{i}]"));
            let template = s.render("template", &c.template, Mode::Text)?;
            let path = self
                .loaded
                .source
                .path
                .parent()
                .map_or_else(|| PathBuf::from(&template), |dir| dir.join(&template));
            let text = std::fs::read_to_string(&path).map_err(|e| {
                s.error(
                    "template",
                    format!(
                        "cannot read template {}: {}",
                        path.display(),
                        crate::sys::describe_io(&e)
                    ),
                )
                .hint("templates are found relative to the playbook's directory")
            })?;
            let content = templater
                .render_with(&text, Mode::Text, &vars)
                .map_err(|e| s.error("template", format!("in {}: {e}", path.display())))?;
            let dest = s.render("dest", &c.dest, Mode::Text)?;
            let inside = !dest.starts_with('/');
            let dest_path = if !inside {
                PathBuf::from(&dest)
            } else {
                if Path::new(&dest)
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
                {
                    return Err(s.error(
                        "dest",
                        format!(
                            "'{dest}' climbs out of the deploy root with '..'; use an absolute path"
                        ),
                    ));
                }
                self.layout.root.join(&dest)
            };
            if dest_path.starts_with(self.layout.meta()) || dest.ends_with('/') || dest.is_empty() {
                return Err(s.error("dest", format!("'{dest}' is not a place for a config file")));
            }
            configure.push(Config {
                template: template.clone(),
                dest: dest_path,
                root: inside.then(|| self.layout.root.clone()),
                shown: dest,
                mode: c.mode,
                content,
            });
        }
        let mut verify = vec![];
        for (i, p) in d.verify.iter().enumerate() {
            if p.analysis.is_none() {
                verify.push(p.resolve(&scope.at(&format!("verify[{i}]")))?);
            }
        }
        // Rendered here so a template that cannot render stops the deploy before anything
        // runs; rendered again when they run, with the release they replace.
        let analyses = self.analyses(release, "", Gates::Verify)?;
        if release == self.release {
            self.analyses(release, "", Gates::Rollout)?;
        }
        Ok(Phases {
            release: release.to_string(),
            stop,
            migrate,
            configure,
            start,
            verify,
            analyses,
        })
    }

    /// Re-render migrations recorded in the host journal, with the vars they were deployed
    /// with: what a manual rollback runs to undo a release.
    pub fn recorded_migrations(
        &self,
        rec: &releases::Record,
    ) -> Result<Vec<Migration>, Diagnostic> {
        let own = self.templater_for(Some(&rec.vars));
        let templater = own.as_ref().unwrap_or(&self.templater);
        let vars = self.release_vars(&rec.release);
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let scope = self.loaded.scope(templater).at("deploy").with_vars(&vars);
        rec.migrations
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let spec = MigrationSpec {
                    name: m.name.clone(),
                    run: m.run.clone(),
                    down: m.down.clone(),
                    backward_compatible: m.backward_compatible,
                    timeout: None,
                };
                migration(&scope.at(&format!("migrate[{i}]")), &spec).map_err(|mut d| {
                    d.message = format!(
                        "{} (migration recorded when {} was deployed)",
                        d.message, rec.release
                    );
                    d
                })
            })
            .collect()
    }
}

/// The names tend itself gives templates: an inventory var so named is reached only as
/// `{{ host.vars.NAME }}`.
const TEND_NAMES: [&str; 6] = [
    "env",
    "host",
    "release",
    "release_dir",
    "shared_dir",
    "previous_release",
];

fn migration(scope: &Scope, m: &MigrationSpec) -> Result<Migration, Diagnostic> {
    let action = |run: &str, name: Option<String>| ActionSpec {
        name,
        timeout: m.timeout,
        ..ActionSpec::from_run(run.to_string())
    };
    let up = action(&m.run, m.name.clone()).resolve(scope)?;
    let down = match &m.down {
        Some(d) => Some(action(d, None).resolve(&scope.at("down"))?),
        None => None,
    };
    Ok(Migration {
        label: up.label.clone(),
        up,
        down,
        backward_compatible: m.backward_compatible,
        recorded: releases::Migration {
            name: m.name.clone(),
            run: m.run.clone(),
            down: m.down.clone(),
            backward_compatible: m.backward_compatible,
        },
    })
}

/// `base`: the playbook's directory, which a relative `path:` is read from (as templates are).
fn fetch_spec(
    scope: &Scope,
    d: &super::spec::DeploySpec,
    base: &Path,
) -> Result<Artifact, Diagnostic> {
    let f = &d.fetch;
    let source = match (&f.url, &f.path) {
        (Some(u), None) => {
            let url = scope.render("url", u, Mode::Text)?;
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return Err(
                    scope.error("url", format!("'{url}' is not an http:// or https:// URL"))
                );
            }
            if f.sha256.is_none() {
                return Err(scope
                    .error("url", "a downloaded artifact needs its `sha256`: the wrong build must never reach the stop step")
                    .hint("sha256sum app.tar.gz, then fetch: { url: ..., sha256: \"<the 64 hex digits>\" }"));
            }
            Source::Url(url)
        }
        (None, Some(_)) if f.on == Some(crate::action::On::Hosts) => {
            return Err(scope
                .error(
                    "on",
                    "`on: hosts` downloads a `url:` on each host; a `path:` is on this machine",
                )
                .hint("drop `on: hosts`: tend sends a local file to every host itself"));
        }
        (None, Some(p)) => Source::Path(base.join(scope.render("path", p, Mode::Text)?)),
        _ => {
            return Err(scope
                .error("url", "fetch needs exactly one of `url` or `path`")
                .hint("fetch: { url: \"https://artifacts.example/app-{{ version }}.tar.gz\", sha256: \"...\" }"));
        }
    };
    let sha256 = match &f.sha256 {
        Some(s) => {
            let s = scope
                .render("sha256", s, Mode::Text)?
                .trim()
                .to_ascii_lowercase();
            if s.len() != 64 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(scope
                    .error(
                        "sha256",
                        format!("'{s}' is not a SHA-256 checksum (64 hex digits)"),
                    )
                    .hint("sha256sum prints it"));
            }
            Some(s)
        }
        None => None,
    };
    if f.max_unpacked_size.is_some_and(|s| s.0 == 0) {
        return Err(scope.error("max_unpacked_size", "max_unpacked_size must be more than 0"));
    }
    Ok(Artifact {
        source,
        sha256,
        strip_components: f.strip_components,
        on_hosts: f.on == Some(crate::action::On::Hosts),
        max_unpacked: f.max_unpacked_size.map(|s| s.0),
    })
}

/// `deploy.root` as rendered, checked: absolute, and not a system directory, neither as
/// written nor (on this machine, `local`) once its symlinks and `..` are resolved: `/tmp/../etc`
/// and a link to `/etc` are `/etc`. (A host's root is resolved there: `Layout::check_real`.)
fn checked_root(scope: &Scope, root: String, local: bool) -> Result<PathBuf, Diagnostic> {
    if !root.starts_with('/') {
        return Err(scope
            .error(
                "root",
                format!("deploy root '{root}' must be an absolute path"),
            )
            .hint("e.g. root: /srv/exoticplant"));
    }
    let root = PathBuf::from(root.trim_end_matches('/'));
    let real = if local {
        crate::fsutil::real_path(&root)
    } else {
        root.clone()
    };
    if let Some(why) = super::layout::system_root(&root, &real) {
        return Err(scope.error("root", why));
    }
    Ok(root)
}
