//! A check that fixes what it finds: `remedy: { cleanup: PLAYBOOK }` or `{ run: CMD }` on a
//! check runs when the check reaches one of its states (`on`, CRITICAL by default), on the host
//! whose check it is, then the check is measured again, and the verdict carries the story
//! ("was CRITICAL (93% used); ran cleanup-app-logs.yaml: 12 files, 12.4 GiB reclaimed; now OK
//! (61% used)"). `max_per` holds a remedy back when it ran on that host more recently, so a
//! remedy that does not help is not run every minute; what ran when is kept in a state file
//! beside the alert state, updated under the playbook's lock before the remedy runs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::verdict::{Told, Verdict, nagios_word};
use crate::action::Action;
use crate::fleet::envelope::Envelope;
use crate::playbook::{Diagnostic, Mode, Scope};
use crate::report::{Level, Reporter, Status};

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
                        "an empty list sets the remedy off never: leave the remedy out instead",
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

/// When each remedy last ran on each host: `host/check` (masked) to Unix seconds.
#[derive(Serialize, Deserialize, Default)]
struct Ran {
    ran: BTreeMap<String, u64>,
}

/// Where a remedy runs and a check is measured again: this machine, or a host over SSH.
pub trait Place {
    /// Run the command; "done", or why it failed.
    fn run(&self, action: &Action, reporter: &Reporter, step: &str) -> Result<String, String>;
    /// Run a cleanup playbook; what it did, or why it did not.
    fn cleanup(&self, reporter: &Reporter, envelope: &Envelope) -> Result<String, String>;
    /// The checks of `items` measured again.
    fn recheck(&self, reporter: &Reporter, items: &[usize]) -> Vec<Verdict>;
    /// `{{ host }}` for a cleanup's templates.
    fn host(&self) -> serde_json::Value;
}

/// A cleanup remedy's playbook as the run sends it: read, its vars merged and its secrets
/// resolved once, when a remedy first needs it.
struct Prepared {
    path: String,
    text: String,
    vars: crate::playbook::Vars,
    secrets: BTreeMap<String, String>,
}

/// The remedies of a run, shared by every host.
pub struct Remedies<'a> {
    /// Each check's remedy, by its index in `checks:`.
    pub by_check: Vec<Option<&'a Remedy>>,
    /// Each check's label, for the state's keys.
    pub labels: Vec<String>,
    pub state_file: PathBuf,
    /// Takes the playbook's lock (held while the state is read and written).
    pub lock: &'a (dyn Fn() -> Result<crate::lock::Lock, crate::lock::LockError> + Sync),
    pub vars: &'a crate::cli::VarArgs,
    /// One host at a time reads and writes the state.
    pub turn: Mutex<()>,
    prepared: Mutex<BTreeMap<PathBuf, Result<Arc<Prepared>, String>>>,
}

impl<'a> Remedies<'a> {
    pub fn new(
        by_check: Vec<Option<&'a Remedy>>,
        labels: Vec<String>,
        state_file: PathBuf,
        lock: &'a (dyn Fn() -> Result<crate::lock::Lock, crate::lock::LockError> + Sync),
        vars: &'a crate::cli::VarArgs,
    ) -> Remedies<'a> {
        Remedies {
            by_check,
            labels,
            state_file,
            lock,
            vars,
            turn: Mutex::new(()),
            prepared: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn any(&self) -> bool {
        self.by_check.iter().any(Option::is_some)
    }

    /// `verdicts` (one host's, `host` "" on this machine) with the remedies they set off run
    /// at `place`, and the checks they are for measured again: each of those verdicts carries
    /// the story.
    pub fn apply(
        &self,
        place: &dyn Place,
        reporter: &Reporter,
        host: &str,
        mut verdicts: Vec<Verdict>,
    ) -> Vec<Verdict> {
        let mut fired: Vec<(usize, String)> = vec![];
        for (item, remedy) in self.by_check.iter().enumerate() {
            let Some(remedy) = remedy else { continue };
            let bad: Vec<&Verdict> = verdicts
                .iter()
                .filter(|v| v.item == item && remedy.on.contains(&v.status))
                .collect();
            if bad.is_empty() {
                continue;
            }
            let story = match self.take_turn(host, item, remedy.max_per) {
                Err(held) => {
                    let held = format!("{}: {held}", remedy.shown());
                    for v in verdicts.iter_mut().filter(|v| v.item == item) {
                        v.remedy = Some(Told {
                            ran: false,
                            story: format!("remedy held back: {held}"),
                        });
                    }
                    reporter.notice(Level::Warn, format!("remedy held back: {held}"));
                    continue;
                }
                Ok(()) => self.run_one(place, reporter, remedy, &self.labels[item]),
            };
            fired.push((item, story));
        }
        if fired.is_empty() {
            return verdicts;
        }
        let items: Vec<usize> = fired.iter().map(|(i, _)| *i).collect();
        let again = place.recheck(reporter, &items);
        for (item, ran) in fired {
            let before: Vec<Verdict> = verdicts
                .iter()
                .filter(|v| v.item == item)
                .cloned()
                .collect();
            verdicts.retain(|v| v.item != item);
            let mut now: Vec<Verdict> = again.iter().filter(|v| v.item == item).cloned().collect();
            for v in &mut now {
                let was = before.iter().find(|b| b.name == v.name);
                v.remedy = Some(Told {
                    ran: true,
                    story: story(was, &ran, v),
                });
            }
            verdicts.extend(now);
        }
        verdicts.sort_by_key(|v| v.item);
        verdicts
    }

    /// Whether the remedy for `item` may run on `host` now; if so, it is recorded as run (before
    /// it runs: a run killed during it must not have the next run try again at once). Why not,
    /// when held back.
    fn take_turn(&self, host: &str, item: usize, max_per: Duration) -> Result<(), String> {
        let _one = self.turn.lock().unwrap_or_else(|e| e.into_inner());
        let _held = (self.lock)().map_err(|e| format!("the remedy state is locked: {e}"))?;
        let mut state: Ran = std::fs::read(&self.state_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let key = crate::redact::redact(&format!("{host}/{}", self.labels[item]));
        let now = super::alert::now_ms() / 1000;
        if let Some(&last) = state.ran.get(&key)
            && now < last + max_per.as_secs()
        {
            return Err(format!(
                "it ran {} ago, and runs at most once per {} (max_per)",
                humantime::format_duration(Duration::from_secs(now.saturating_sub(last))),
                humantime::format_duration(max_per)
            ));
        }
        state.ran.insert(key, now);
        let json = serde_json::to_vec_pretty(&state).unwrap_or_default();
        if let Some(dir) = self.state_file.parent() {
            crate::fsutil::ensure_dir(dir).map_err(|e| e.to_string())?;
        }
        crate::fsutil::atomic_write(&self.state_file, &json, 0o600)
            .map_err(|e| format!("cannot record the remedy: {e}"))
    }

    /// Run `remedy` at `place`: "ran cleanup x.yaml: 3 files, 1 GiB reclaimed", or why it failed.
    fn run_one(
        &self,
        place: &dyn Place,
        reporter: &Reporter,
        remedy: &Remedy,
        label: &str,
    ) -> String {
        let step = format!("remedy {label}");
        let said = match &remedy.does {
            Does::Run(action) => place.run(action, reporter, &step),
            Does::Cleanup { path, .. } => match self.prepare(path) {
                Ok(p) => place.cleanup(
                    reporter,
                    &Envelope {
                        path: p.path.clone(),
                        text: p.text.clone(),
                        vars: p.vars.clone(),
                        host: place.host(),
                        secrets: p.secrets.clone(),
                        timeout_ms: None,
                        jobs: None,
                        dry_run: false,
                    },
                ),
                Err(e) => Err(e),
            },
        };
        match said {
            Ok(done) => format!("ran {}: {done}", remedy.shown()),
            Err(why) => format!("ran {}, which failed: {why}", remedy.shown()),
        }
    }

    /// The cleanup playbook at `path`, loaded once for every host that needs it.
    fn prepare(&self, path: &std::path::Path) -> Result<Arc<Prepared>, String> {
        let mut all = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        all.entry(path.to_path_buf())
            .or_insert_with(|| {
                let loaded: crate::playbook::Loaded<crate::cleanup::CleanupPlaybook> =
                    crate::playbook::load(path, self.vars).map_err(|d| d.to_string())?;
                let secrets = loaded.secrets(true).map_err(|d| d.to_string())?;
                Ok(Arc::new(Prepared {
                    path: path.display().to_string(),
                    text: loaded.source.text.clone(),
                    vars: loaded.vars.clone(),
                    secrets,
                }))
            })
            .clone()
    }
}

/// "was CRITICAL (93% used); ran cleanup x.yaml: ...; now OK (61% used)", or, still bad,
/// "...; still CRITICAL (92% used) after the remedy: a human is needed".
fn story(was: Option<&Verdict>, ran: &str, now: &Verdict) -> String {
    let was = was.map_or(String::new(), |w| {
        format!("was {} ({}); ", nagios_word(w.status), w.summary)
    });
    if now.status.is_problem() {
        format!(
            "{was}{ran}; still {} ({}) after the remedy: a human is needed",
            nagios_word(now.status),
            now.summary
        )
    } else {
        format!("{was}{ran}; now OK ({})", now.summary)
    }
}

/// This machine, for a check run here: a cleanup runs as a tend of its own, a command as a
/// step, and the checks are measured again in this process.
pub struct Here<'a> {
    pub checks: &'a [super::evaluate::Resolved],
    pub deadline: Duration,
}

/// How long a cleanup remedy may run.
pub const CLEANUP_LIMIT: Duration = Duration::from_secs(6 * 3600);

impl Place for Here<'_> {
    fn run(&self, action: &Action, reporter: &Reporter, step: &str) -> Result<String, String> {
        done(action.execute(&crate::machine::Local, reporter, step, None))
    }

    fn cleanup(&self, reporter: &Reporter, envelope: &Envelope) -> Result<String, String> {
        let ran = crate::fleet::remote::run_here(reporter, "cleanup", envelope, CLEANUP_LIMIT)
            .map_err(|e| e.to_string())?;
        crate::cleanup::Outcome::of(&ran, "tend").map(|o| o.told())
    }

    fn recheck(&self, reporter: &Reporter, items: &[usize]) -> Vec<Verdict> {
        let mut all = vec![];
        for &i in items {
            let again = super::evaluate::run_all(&self.checks[i..=i], reporter, self.deadline);
            all.extend(again.into_iter().map(|mut v| {
                v.item = i;
                v
            }));
        }
        all
    }

    fn host(&self) -> serde_json::Value {
        serde_json::json!({ "name": crate::sys::hostname() })
    }
}

/// A command remedy's end, as the story tells it.
pub fn done(ran: crate::action::Ran) -> Result<String, String> {
    if ran.ok {
        Ok("done".into())
    } else {
        Err(ran.detail)
    }
}
