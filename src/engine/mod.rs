//! The run skeleton every job shares: the lock, the journal, interrupts, step events and their
//! timing, the alert story and its delivery, the run's last event and its exit code. A job
//! starts a `Run`, runs its steps through `Step`, and ends with `finish`; it never announces a
//! run or a step itself.

mod listing;
mod step;
mod story;
mod timeline;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use listing::Listing;
pub use step::Step;
use story::Story;
pub use timeline::Moment;
use timeline::Timeline;

use crate::config::Config;
use crate::error::{Error, Exit};
use crate::lock::{self, Lock, LockError};
use crate::notify::{Alert, Delivery, Notifier};
use crate::playbook::Source;
use crate::report::{Event, Level, Options, Reporter, Sink, Status};

/// Whose lock a run holds.
pub enum Locking {
    /// None: a run that only reads (a check), so that overlapping runs of it both report.
    /// What it writes must be safe to write from two runs at once.
    None,
    /// The playbook's, under the state dir.
    Playbook,
    /// One at this path (a deploy's, in its root, shared by every playbook deploying there).
    At(PathBuf),
}

/// What a job says of the run it starts.
pub struct Spec<'a> {
    pub kind: &'static str,
    /// None for a check's built-in default set.
    pub playbook: Option<&'a Source>,
    pub name: String,
    pub locking: Locking,
    /// `--wait-lock`.
    pub wait: Option<Duration>,
    pub opts: Options,
    /// A signal starts the job's own undo (a rollback, the rest of a sequence) instead of
    /// ending tend.
    pub undoes: bool,
    /// Kept in the run journal; a plan, which changes nothing, is not.
    pub record: bool,
    /// Shown as a plan on stdout when it ends (as JSON with `--output json`).
    pub listed: bool,
    /// Each finished step kept with its instant, for the job to read back (`Run::moments`).
    pub timed: bool,
}

pub struct Run {
    reporter: Reporter,
    story: Arc<Story>,
    listing: Option<(Arc<Listing>, bool)>,
    timeline: Option<Arc<Timeline>>,
    /// Held until the run is finished.
    _lock: Option<Lock>,
    pub state: PathBuf,
    /// Names the lock and the job's own state files.
    pub key: String,
    kind: &'static str,
    name: String,
    playbook: String,
}

impl Run {
    pub fn start(cfg: &Config, spec: Spec) -> Result<Run, Error> {
        let run_id = crate::journal::new_run_id();
        let key = lock::key_for(
            spec.playbook.map(|s| (s.path.as_path(), s.text.as_str())),
            spec.kind,
        );
        let path = spec.playbook.map(|s| s.path.as_path());
        let lock = match spec.locking {
            Locking::None => None,
            Locking::Playbook => Some(lock::path_for(&cfg.state, &key)),
            Locking::At(at) => Some(at),
        }
        .map(|at| lock::acquire(&at, holder(spec.kind, &shown(path), &run_id), spec.wait))
        .transpose()?;
        let story = Arc::new(Story::default());
        let mut sinks: Vec<Arc<dyn Sink>> = vec![story.clone()];
        let listing = spec.listed.then(|| Arc::new(Listing::default()));
        if let Some(l) = &listing {
            sinks.push(l.clone());
        }
        let timeline = spec.timed.then(|| Arc::new(Timeline::default()));
        if let Some(t) = &timeline {
            sinks.push(t.clone());
        }
        if spec.record {
            match crate::journal::Journal::open(&cfg.state, &run_id) {
                Ok(j) => sinks.push(Arc::new(j)),
                Err(e) => eprintln!(
                    "tend: warning: no run journal in {}: {e}",
                    cfg.state.display()
                ),
            }
        }
        let reporter = Reporter::new(spec.opts, run_id, sinks);
        reporter.emit(Event::RunStarted {
            kind: spec.kind.into(),
            name: spec.name.clone(),
            playbook: path.map(|p| p.display().to_string()),
            host: crate::sys::hostname(),
            user: crate::sys::username(),
            pid: std::process::id(),
        });
        if let Some(lock) = &lock
            && let Some(stale) = &lock.stale
        {
            let stopped = if lock.stopped.is_empty() {
                String::new()
            } else {
                format!(
                    "; stopped what it left running first: {}",
                    lock.stopped.join(", ")
                )
            };
            reporter.notice(
                Level::Warn,
                format!(
                    "took over a stale lock left by pid {} (run {}, since {}), which is no longer running{stopped}",
                    stale.pid, stale.run, stale.since,
                ),
            );
        }
        if spec.undoes {
            crate::interrupt::install();
        }
        Ok(Run {
            reporter,
            story,
            listing: listing.map(|l| (l, cfg.json())),
            timeline,
            _lock: lock,
            state: cfg.state.clone(),
            key,
            kind: spec.kind,
            name: spec.name,
            playbook: shown(path),
        })
    }

    pub fn reporter(&self) -> &Reporter {
        &self.reporter
    }

    /// Every finished step and warning so far, when the run was started `timed`.
    pub fn moments(&self) -> Vec<Moment> {
        self.timeline.as_ref().map_or(vec![], |t| t.moments())
    }

    pub fn id(&self) -> &str {
        self.reporter.run()
    }

    /// The playbook's lock, for a run that started without it and now writes shared state.
    pub fn lock(&self, wait: Duration) -> Result<Lock, LockError> {
        lock::acquire(
            &lock::path_for(&self.state, &self.key),
            holder(self.kind, &self.playbook, self.id()),
            Some(wait),
        )
    }

    /// Send an alert for `reason` if the notifier wants it: the subject says which playbook on
    /// which machine, the body what happened and the run's story so far. Whether it went out
    /// through any channel.
    pub fn alert(&self, notifier: &Notifier, reason: &str, subject: &str, message: &str) -> bool {
        if !notifier.wants(reason) {
            return false;
        }
        let host = crate::sys::hostname();
        let story = self.story.text();
        // The playbook, not this run of it ("shop", not "shop v2"): a later success resolves.
        let about = if notifier.playbook.is_empty() {
            &self.name
        } else {
            &notifier.playbook
        };
        let alert = Alert {
            subject: format!("[tend] {host}: {} '{}': {subject}", self.kind, self.name),
            body: format!(
                "tend {} {} on {host} (run {}):\n\n{message}\n\n{story}\n",
                self.kind,
                self.playbook,
                self.id(),
            ),
            reason: reason.to_string(),
            kind: self.kind.to_string(),
            playbook: about.to_string(),
            incidents: vec![crate::notify::Incident {
                name: format!("tend {} {about}", self.kind),
                // A success resolves the failure alert: the same labels, severity included.
                severity: if reason == "warning" {
                    "warning"
                } else {
                    "critical"
                }
                .into(),
                host,
                resolved: matches!(reason, "success" | "recovery"),
                summary: subject.to_string(),
                description: format!("{message}\n\n{story}"),
                since: None,
                runbook: None,
                first_steps: vec![],
                link: story
                    .split_whitespace()
                    .find(|w| w.contains("/graph?g0.expr="))
                    .map(str::to_string),
            }],
        };
        deliver(&self.reporter, notifier.send(&alert))
    }

    /// The run's last event, the journal flushed to disk, and the exit code.
    pub fn finish(self, exit: Exit, message: String) -> Exit {
        let status = if exit.is_ok() {
            Status::Ok
        } else {
            Status::Failed
        };
        self.finish_as(status, exit, message)
    }

    /// `finish`, with the status a check computed (warning, critical, unknown).
    pub fn finish_as(self, status: Status, exit: Exit, message: String) -> Exit {
        self.reporter.emit(Event::RunFinished {
            status,
            exit_code: exit.code(),
            elapsed_ms: self.reporter.elapsed_ms(),
            message,
        });
        self.reporter.sync();
        if let Some((listing, json)) = &self.listing {
            out!("{}", listing.render(*json));
        }
        exit
    }
}

/// Each channel's delivery, reported; whether any went out.
pub fn deliver(reporter: &Reporter, sent: Vec<Delivery>) -> bool {
    let any = sent.iter().any(Delivery::sent);
    for d in sent {
        match d {
            Delivery::Sent(what) => reporter.notice(Level::Info, format!("alert sent: {what}")),
            Delivery::Failed(why) => {
                reporter.notice(Level::Error, format!("alert not delivered: {why}"))
            }
        }
    }
    any
}

fn shown(playbook: Option<&Path>) -> String {
    playbook.map_or("(built-in default)".to_string(), |p| {
        p.display().to_string()
    })
}

/// Who holds a run's lock, as another run shows it; `playbook` as `shown` gives it.
fn holder(kind: &str, playbook: &str, run_id: &str) -> lock::Holder {
    lock::Holder {
        pid: std::process::id(),
        host: crate::sys::hostname(),
        user: crate::sys::username(),
        run: run_id.to_string(),
        since: crate::report::now_rfc3339(),
        what: format!("{kind} {playbook}"),
        steps: vec![],
    }
}
