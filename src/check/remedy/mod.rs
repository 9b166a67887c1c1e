//! A check that fixes what it finds: `remedy: { cleanup: PLAYBOOK }` or `{ run: CMD }` on a
//! check runs when the check reaches one of its states (`on`, CRITICAL by default), on the host
//! whose check it is, then the check is measured again, and the verdict carries the story
//! ("was CRITICAL (93% used); ran cleanup-app-logs.yaml: 12 files, 12.4 GiB reclaimed; now OK
//! (61% used)"). `max_per` holds a remedy back when it ran on that host more recently, so a
//! remedy that does not help is not run every minute; what ran when is kept in a state file
//! beside the alert state, updated under the playbook's lock before the remedy runs.

mod spec;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::verdict::{Told, Verdict, nagios_word};
use crate::action::Action;
use crate::fleet::envelope::Envelope;
use crate::report::{Level, Reporter};
pub use spec::{Does, Remedy, RemedySpec};

/// When each remedy last ran on each host: `host/check` (masked) to Unix seconds.
#[derive(Serialize, Deserialize, Default)]
struct Ran {
    ran: BTreeMap<String, u64>,
}

/// How long a cleanup remedy may run.
pub const CLEANUP_LIMIT: Duration = Duration::from_secs(6 * 3600);

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
    source: Arc<crate::playbook::Source>,
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
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
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
                    &Envelope::of(&p.source, &p.vars, place.host(), &p.secrets),
                ),
                Err(e) => Err(e),
            },
        };
        let ran = match &remedy.does {
            Does::Run(a) => format!("ran `{}`", a.label),
            Does::Cleanup { shown, .. } => format!("ran cleanup {shown}"),
        };
        match said {
            Ok(done) => format!("{ran}: {done}"),
            Err(why) => format!("{ran}, which failed: {why}"),
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
                    source: loaded.source.clone(),
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

/// A command remedy's end, as the story tells it.
pub fn done(ran: crate::action::Ran) -> Result<String, String> {
    if ran.ok {
        Ok("done".into())
    } else {
        Err(ran.detail)
    }
}
