//! What every kind of `tend drill` shares: the `drill:` key, the consent it needs, each leg
//! timed against the budget, and the game-day report (Markdown with `--report`, a document
//! with `--output json`, the legs on stdout otherwise). The rehearsals themselves live with
//! their jobs (`deploy/drill.rs`, `failover/drill.rs`, `check/drill.rs`): each walks its own
//! job's real steps, so what is rehearsed is what runs on the bad day.

mod report;
mod spec;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Config;
use crate::engine::{Locking, Run, Spec};
use crate::error::{Error, Exit};
use crate::playbook::{Diagnostic, Scope, Source};
use crate::report::{Level, Reporter, Status};
pub use spec::{DrillSpec, Method};

crate::reason::reason! {
    /// Why a drill does not start on a machine, a pair of servers: nothing was changed.
    pub struct Refused;
}

crate::reason::reason! {
    /// Why a drill did not end where it started, verified: a human is needed.
    pub struct Stranded;
}

/// "All rollbacks have to happen within 5 minutes."
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(300);

impl DrillSpec {
    /// The budget of each leg; a `method` where the kind has no use for it is refused.
    pub fn budget(
        spec: Option<&DrillSpec>,
        scope: &Scope,
        failover: bool,
    ) -> Result<Duration, Diagnostic> {
        let Some(spec) = spec else {
            return Ok(DEFAULT_BUDGET);
        };
        let scope = scope.at("drill");
        if !failover {
            for (key, given) in [
                ("method", spec.method.is_some()),
                ("stop_command", spec.stop_command.is_some()),
                ("restore", spec.restore.is_some()),
            ] {
                if given {
                    return Err(scope
                        .error(key, format!("`{key}` is for a failover drill"))
                        .hint("only failover playbooks take it; remove it here"));
                }
            }
        }
        match spec.rollback_budget {
            Some(b) if b.0.is_zero() => Err(scope
                .error("rollback_budget", "a budget of 0 fails every drill")
                .hint("give the time a rollback may take on the bad day, e.g. 5m")),
            Some(b) => Ok(b.0),
            None => Ok(DEFAULT_BUDGET),
        }
    }
}

/// A drill changes what is live: only with the playbook's consent or the operator's.
pub fn consented(spec: Option<&DrillSpec>, yes: bool, playbook: &Path) -> Result<(), Error> {
    if yes || spec.is_some_and(|s| s.allowed) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "a drill takes {} through its failure path for real; it runs only with `drill: {{ allowed: true }}` in the playbook or --yes\n  hint: `tend drill {} --dry-run` shows the legs, touching nothing",
        playbook.display(),
        playbook.display()
    )))
}

/// One timed part of a drill: a rollback, the roll forward, a failover, the fail back, an alert.
#[derive(Serialize, Clone, Debug)]
pub struct Leg {
    /// The host it ran on; "" for this machine.
    pub host: String,
    pub leg: String,
    pub from: String,
    pub to: String,
    /// Since the drill started.
    pub started_ms: u64,
    pub took_ms: u64,
    /// Of which the playbook's own steps (commands, probes, transfers).
    pub steps_ms: u64,
    pub budget_ms: Option<u64>,
    /// It ended where it should, and that was verified (a probe, a 250 from the SMTP server).
    pub verified: bool,
    pub message: String,
    #[serde(skip)]
    span: Option<(Instant, Instant)>,
    /// An alert's delivery, judged by the server's answer, not by a probe.
    #[serde(skip)]
    pub delivery: bool,
}

impl Leg {
    pub fn within_budget(&self) -> bool {
        self.budget_ms.is_none_or(|b| self.took_ms <= b)
    }

    pub fn passed(&self) -> bool {
        self.verified && self.within_budget()
    }

    /// What its end is called: verified (a leg), delivered (an alert).
    pub fn state(&self) -> &'static str {
        match (self.delivery, self.verified) {
            (false, true) => "verified",
            (false, false) => "NOT verified",
            (true, true) => "delivered",
            (true, false) => "NOT delivered",
        }
    }
}

/// A leg under way: `Drill::leg` started it, `end` times it.
pub struct Timing {
    host: String,
    leg: String,
    from: String,
    to: String,
    budget: Option<Duration>,
    started: Instant,
    delivery: bool,
}

/// A drill's run: the engine's run (kind `drill`, so `tend history --kind drill` lists it), its
/// legs and findings, and the report it ends with.
pub struct Drill {
    pub run: Run,
    started: Instant,
    started_at: String,
    /// The playbook's kind: deploy, failover or check.
    job: &'static str,
    name: String,
    playbook: PathBuf,
    pub budget: Option<Duration>,
    legs: Mutex<Vec<Leg>>,
    /// Times of the milestones a failover drill reports (detected, fenced, promoted, verified).
    marks: Mutex<Vec<(String, String, u64)>>,
    findings: Mutex<Vec<String>>,
    notes: Mutex<Vec<String>>,
}

/// What `tend drill` was asked, for the run and its report.
pub struct Asked<'a> {
    pub report: Option<&'a Path>,
    pub wait: Option<Duration>,
    pub forks: crate::cli::ForkArgs,
    /// The command that reproduces it, for the report.
    pub again: String,
}

impl<'a> Asked<'a> {
    /// What was asked, with the report's place checked first: a drill is not run for nothing
    /// to find at its end that its report cannot be written there.
    pub fn of(args: &'a crate::cli::DrillArgs) -> Result<Asked<'a>, Error> {
        if let Some(path) = &args.report {
            writable(path, &args.playbook)?;
        }
        let word = crate::quote::word;
        let mut again = format!(
            "tend drill {} --yes",
            word(&args.playbook.display().to_string())
        );
        if let Some(l) = &args.hosts.limit {
            again.push_str(&format!(" --limit {}", word(l)));
        }
        if let Some(t) = &args.trip {
            again.push_str(&format!(" --trip {}", word(t)));
        }
        for (k, v) in &args.vars.vars {
            again.push_str(&format!(" --var {}", word(&format!("{k}={v}"))));
        }
        Ok(Asked {
            report: args.report.as_deref(),
            wait: args.lock.wait_lock,
            forks: args.forks,
            again,
        })
    }
}

/// `--report PATH` can be written, and writing it replaces only an earlier report: a regular
/// file or nothing there (not a device, a pipe, a link, the playbook), in a directory where a
/// file of that name can be made (tried: a read-only mount, `/proc`, a name too long).
fn writable(path: &Path, playbook: &Path) -> Result<(), Error> {
    let bad = |why: String| {
        Err(Error::Usage(format!(
            "--report {}: {why}; nothing was done",
            path.display()
        )))
    };
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => return bad("that is a directory".into()),
        Ok(m) if !m.is_file() => {
            return bad("that is not a regular file (a device, a pipe or a link); a report replaces what is there".into());
        }
        Ok(_) if crate::fsutil::real_path(path) == crate::fsutil::real_path(playbook) => {
            return bad("that is the playbook".into());
        }
        _ => {}
    }
    let dir = crate::fsutil::parent(path);
    match std::fs::metadata(&dir) {
        Ok(m) if !m.is_dir() => bad(format!("{} is not a directory", dir.display())),
        Ok(_) => crate::fsutil::can_create(path).or_else(|e| {
            bad(format!(
                "{}: {}",
                dir.display(),
                crate::sys::describe_io(&e)
            ))
        }),
        Err(e) => bad(format!(
            "{}: {}",
            dir.display(),
            crate::sys::describe_io(&e)
        )),
    }
}

impl Drill {
    /// The run started, holding `lock`, or the playbook's own lock of its job when None (so a
    /// drill never overlaps its job).
    pub fn start(
        cfg: &Config,
        source: &Source,
        job: &'static str,
        name: String,
        lock: Option<PathBuf>,
        asked: &Asked,
        budget: Option<Duration>,
    ) -> Result<Drill, Error> {
        let lock = lock.unwrap_or_else(|| {
            let key = crate::lock::key_for(Some((&source.path, &source.text)), job);
            crate::lock::path_for(&cfg.state, &key)
        });
        let run = Run::start(
            cfg,
            Spec {
                kind: "drill",
                playbook: Some(source),
                name: name.clone(),
                locking: Locking::At(lock),
                wait: asked.wait,
                opts: cfg.report,
                undoes: true,
                record: true,
                listed: false,
                timed: true,
            },
        )?;
        Ok(Drill {
            run,
            started: Instant::now(),
            started_at: crate::report::now_rfc3339(),
            job,
            name,
            playbook: source.path.clone(),
            budget,
            legs: Mutex::new(vec![]),
            marks: Mutex::new(vec![]),
            findings: Mutex::new(vec![]),
            notes: Mutex::new(vec![]),
        })
    }

    pub fn reporter(&self) -> &Reporter {
        self.run.reporter()
    }

    /// Start timing a leg on `host` ("" here), said on `reporter` (the host's).
    pub fn leg(&self, reporter: &Reporter, host: &str, leg: &str, from: &str, to: &str) -> Timing {
        let budget = self
            .budget
            .map(|b| format!(" (budget {})", humantime::format_duration(b)))
            .unwrap_or_default();
        reporter.notice(Level::Info, format!("drill: {leg} {from} → {to}{budget}"));
        Timing {
            host: host.to_string(),
            leg: leg.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            budget: self.budget,
            started: Instant::now(),
            delivery: false,
        }
    }

    /// An alert's delivery to `to` that took `took`, just now (its channel was timed there).
    pub fn delivered(&self, leg: &str, from: &str, to: &str, took: Duration) -> Timing {
        Timing {
            host: String::new(),
            leg: leg.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            budget: None,
            started: Instant::now()
                .checked_sub(took)
                .unwrap_or_else(Instant::now),
            delivery: true,
        }
    }

    /// The leg ended: timed, judged against the budget and said; the leg as it is kept.
    pub fn end(&self, reporter: &Reporter, t: Timing, verified: bool, message: String) -> Leg {
        let ended = Instant::now();
        let spent = ended - t.started;
        let leg = Leg {
            host: t.host,
            leg: t.leg,
            from: t.from,
            to: t.to,
            started_ms: ms(t.started - self.started),
            took_ms: ms(spent),
            steps_ms: 0,
            budget_ms: t.budget.map(ms),
            verified,
            message,
            span: Some((t.started, ended)),
            delivery: t.delivery,
        };
        let budget = match t.budget {
            Some(b) if spent > b => {
                format!(", OVER its budget of {}", humantime::format_duration(b))
            }
            Some(b) => format!(", within its budget of {}", humantime::format_duration(b)),
            None => String::new(),
        };
        let level = if leg.passed() {
            Level::Info
        } else {
            Level::Error
        };
        let state = if leg.delivery && !leg.verified {
            // Why it was not: the server's answer, or why it was not reached.
            format!("{} ({})", leg.state(), leg.message)
        } else {
            leg.state().to_string()
        };
        reporter.notice(
            level,
            format!(
                "drill: {} {} → {} took {}{budget}: {state}",
                leg.leg,
                leg.from,
                leg.to,
                took(leg.took_ms)
            ),
        );
        self.legs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(leg.clone());
        leg
    }

    /// A milestone of a leg (a failover's detection, fence, promotion, verify), when it was.
    pub fn mark(&self, host: &str, what: &str, at: Instant) {
        let at = ms(at.saturating_duration_since(self.started));
        self.marks.lock().unwrap_or_else(|e| e.into_inner()).push((
            host.to_string(),
            what.to_string(),
            at,
        ));
    }

    /// A line for the report that is neither a leg nor a failure (what clients saw).
    pub fn note(&self, what: impl Into<String>) {
        self.notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(what.into());
    }

    /// What the drill found: a reason it could not run, a leg over budget, a channel that failed.
    pub fn finding(&self, what: impl Into<String>) {
        self.findings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(what.into());
    }

    pub fn legs(&self) -> Vec<Leg> {
        self.legs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The report written and shown, and the run's last event: the exit code.
    pub fn finish(self, cfg: &Config, asked: &Asked, exit: Exit, message: String) -> Exit {
        let mut legs = self.legs();
        let moments = self.run.moments();
        for leg in &mut legs {
            if let Some((from, to)) = leg.span {
                leg.steps_ms = moments
                    .iter()
                    .filter(|m| {
                        m.host == leg.host && !m.step.is_empty() && m.at >= from && m.at <= to
                    })
                    .map(|m| m.elapsed_ms)
                    .sum();
            }
        }
        let verdict = match exit {
            Exit::OK => "passed",
            Exit::NOT_VERIFIED => "NOT VERIFIED",
            _ if legs.is_empty() => "refused",
            _ => "failed",
        };
        let doc = report::Document {
            kind: self.job.to_string(),
            name: self.name.clone(),
            playbook: self.playbook.display().to_string(),
            run: self.run.id().to_string(),
            started: self.started_at.clone(),
            by: format!("{}@{}", crate::sys::username(), crate::sys::hostname()),
            verdict: verdict.to_string(),
            exit_code: exit.code(),
            message: message.clone(),
            budget_ms: self.budget.map(ms),
            took_ms: ms(self.started.elapsed()),
            legs,
            milestones: self
                .marks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(host, what, at)| report::Milestone {
                    host: host.clone(),
                    what: what.clone(),
                    at_ms: *at,
                })
                .collect(),
            notes: self.notes.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            findings: self
                .findings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            timeline: moments
                .iter()
                .map(|m| report::Moment {
                    at_ms: ms(m.at.saturating_duration_since(self.started)),
                    host: m.host.clone(),
                    step: m.step.clone(),
                    status: m.status,
                    took_ms: m.elapsed_ms,
                    message: m.message.clone(),
                })
                .collect(),
            again: asked.again.clone(),
        };
        let mut exit = exit;
        if let Some(path) = asked.report {
            let writing = Instant::now();
            let text = crate::redact::redact(&doc.markdown());
            match crate::fsutil::atomic_write(path, text.as_bytes(), 0o644) {
                Ok(()) => self.reporter().notice(
                    Level::Info,
                    format!(
                        "report written to {} ({} bytes in {:.1} ms)",
                        path.display(),
                        text.len(),
                        writing.elapsed().as_secs_f64() * 1000.0
                    ),
                ),
                Err(e) => {
                    self.reporter().notice(
                        Level::Error,
                        format!(
                            "cannot write the report {}: {}",
                            path.display(),
                            crate::sys::describe_io(&e)
                        ),
                    );
                    exit = exit.max(Exit::FAILED);
                }
            }
        }
        let shown = if cfg.json() {
            let mut json = serde_json::to_string_pretty(&doc).unwrap_or_default();
            json.push('\n');
            json
        } else if cfg.report.quiet && exit.is_ok() {
            String::new()
        } else {
            doc.summary()
        };
        let status = if exit.is_ok() {
            Status::Ok
        } else {
            Status::Failed
        };
        let exit = self.run.finish_as(status, exit, message);
        out!("{}", crate::redact::redact(&shown));
        exit
    }
}

/// A leg's time, to the millisecond: "1.0s" over a budget of 1s says nothing.
pub fn took(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}.{:03}s", ms / 1000, ms % 1000)
    } else {
        format!(
            "{}m{:02}.{:03}s",
            ms / 60_000,
            (ms % 60_000) / 1000,
            ms % 1000
        )
    }
}

/// A budget as it was written: "5m", "1s".
pub fn budget(ms: u64) -> String {
    humantime::format_duration(Duration::from_millis(ms)).to_string()
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A drill's legs there and back folded: 0 every leg verified within budget, 1 a leg over
/// budget (or none, or a signal that came on the way back, which was finished first), 2 a leg
/// that did not end verified. The late signal is said on `reporter`.
pub fn verdict(reporter: &Reporter, legs: &[Leg]) -> Exit {
    let exit = if legs.iter().any(|l| !l.verified) {
        Exit::NOT_VERIFIED
    } else if legs.iter().any(|l| !l.within_budget()) || legs.is_empty() {
        Exit::FAILED
    } else {
        Exit::OK
    };
    if crate::interrupt::late() {
        reporter.notice(
            Level::Warn,
            "a signal arrived during the way back: it was finished first, as it must be",
        );
        return exit.max(Exit::FAILED);
    }
    exit
}
