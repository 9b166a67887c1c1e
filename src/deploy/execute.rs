//! Running a deploy step by step, and the verified rollback when a step after `stop` fails.

use std::cell::RefCell;
use std::path::Path;
use std::time::Instant;

use super::configure::{self, Previous, Written};
use super::fetch;
use super::releases::{Record, Releases, State};
use super::resolve::{Deploy, Phases};
use super::steps::{self, Rollback, Step, Undo};
use crate::action::Action;
use crate::exit;
use crate::probe::Probe;
use crate::report::{Event, Level, Reporter, Status, now_rfc3339};
use crate::target::Target;

pub struct Runner<'a> {
    pub d: &'a Deploy<'a>,
    pub reporter: &'a Reporter,
    pub target: &'a dyn Target,
    /// One line per finished step, for the alert.
    pub story: RefCell<Vec<String>>,
}

/// What a rollback achieved, part by part: what a person reads when it is not verified.
#[derive(Default)]
pub struct Undone {
    pub verified: bool,
    pub halted: Option<String>,
    pub state: Vec<String>,
    /// Indices into `Rollback::downs` whose `down` ran: no longer applied.
    pub reverted: Vec<usize>,
}

impl Runner<'_> {
    fn begin(&self, step: &str) -> Instant {
        self.reporter.emit(Event::StepStarted {
            step: step.to_string(),
            target: String::new(),
        });
        Instant::now()
    }

    fn end(&self, step: &str, started: Instant, status: Status, message: String) {
        self.story
            .borrow_mut()
            .push(format!("{}: {step}: {message}", status.label()));
        self.reporter.emit(Event::StepFinished {
            step: step.to_string(),
            target: String::new(),
            status,
            elapsed_ms: started.elapsed().as_millis() as u64,
            message,
        });
    }

    /// A step that is not a command: `f` says what it did, or why it failed.
    pub fn step(
        &self,
        step: &str,
        f: impl FnOnce() -> Result<String, String>,
    ) -> Result<(), String> {
        let started = self.begin(step);
        let result = f();
        match &result {
            Ok(m) => self.end(step, started, Status::Ok, m.clone()),
            Err(m) => self.end(step, started, Status::Failed, m.clone()),
        }
        result.map(|_| ())
    }

    pub fn action(&self, step: &str, a: &Action, dir: &Path) -> Result<(), String> {
        let ran = a.execute(self.target, self.reporter, step, dir.to_str());
        self.story.borrow_mut().push(format!(
            "{}: {step}: {}",
            if ran.ok { "ok" } else { "failed" },
            ran.detail
        ));
        if ran.ok { Ok(()) } else { Err(ran.detail) }
    }

    pub fn probe(&self, step: &str, p: &Probe) -> Result<(), String> {
        let started = self.begin(step);
        let v = p.run(self.target);
        let tries = if v.attempts > 1 {
            format!(" ({} attempts)", v.attempts)
        } else {
            String::new()
        };
        if v.healthy {
            self.end(step, started, Status::Ok, format!("{}{tries}", v.detail));
            Ok(())
        } else {
            let msg = format!("{}{tries}", v.detail);
            self.end(step, started, Status::Failed, msg.clone());
            Err(msg)
        }
    }

    /// Undo as far as possible and verify the target. Steps run to the end even if another
    /// signal arrives: stopping halfway would leave the app down.
    pub fn roll_back(&self, rb: &Rollback, left: &str) -> Undone {
        crate::interrupt::shield();
        let layout = &self.d.layout;
        let mut u = Undone::default();
        let mut stop_failed = None;
        let mut reverted = vec![];
        let mut restore_failed = vec![];
        let mut restored = false;
        let mut app = "stopped".to_string();
        for step in rb.steps() {
            let name = rb.name(step);
            match step {
                Undo::Stop(i) => {
                    if let Err(e) = self.action(&name, &rb.stop[i], &rb.stop_dir) {
                        // Going on: the verify at the end tells whether the old release is up.
                        stop_failed = Some(e);
                    }
                }
                Undo::Down(i) => {
                    let (m, dir) = &rb.downs[i];
                    let outcome = match &m.down {
                        Some(down) => self.action(&name, down, dir).map(|()| true).map_err(|e| {
                            format!("the `down` of migration '{}' failed: {e}", m.label)
                        }),
                        None if m.backward_compatible => {
                            let _ = self.step(&name, || {
                                Ok("kept: marked backward_compatible, no `down` needed".into())
                            });
                            Ok(false)
                        }
                        None => {
                            let why = format!(
                                "migration '{}' has no `down` and is not backward_compatible: {} must not run against a schema it does not know",
                                m.label,
                                rb.target
                                    .map_or("the previous release", |t| t.release.as_str())
                            );
                            let _ = self.step(&name, || Err(why.clone()));
                            Err(why)
                        }
                    };
                    match outcome {
                        Ok(true) => {
                            reverted.push(m.label.clone());
                            u.reverted.push(i);
                        }
                        Ok(false) => {}
                        Err(why) => {
                            let not: Vec<String> =
                                rb.downs[i..].iter().map(|(m, _)| m.label.clone()).collect();
                            u.halted = Some(why);
                            u.state.push(format!(
                                "migrations: NOT reverted: {}{}",
                                not.join(", "),
                                if reverted.is_empty() {
                                    String::new()
                                } else {
                                    format!("; reverted: {}", reverted.join(", "))
                                }
                            ));
                            break;
                        }
                    }
                }
                Undo::Restore => {
                    restored = true;
                    let _ = self.step(&name, || {
                        for p in &rb.restore {
                            if let Err(e) = configure::restore(&*layout.target, p) {
                                restore_failed.push(format!(
                                    "{}: {}",
                                    p.dest.display(),
                                    crate::describe_io(&e)
                                ));
                            }
                        }
                        if restore_failed.is_empty() {
                            Ok(format!("restored {}", steps::files(rb.restore.len())))
                        } else {
                            Err(format!("could not restore {}", restore_failed.join("; ")))
                        }
                    });
                }
                Undo::Switch => {
                    let t = rb.target.map_or("", |t| t.release.as_str());
                    let r = self.step(&name, || {
                        if layout.current_release().as_deref() == Some(t) {
                            return Ok("already there".into());
                        }
                        layout
                            .switch(t)
                            .map(|()| format!("current → releases/{t}"))
                            .map_err(|e| crate::describe_io(&e))
                    });
                    if let Err(e) = r {
                        u.halted = Some(format!("cannot switch current back to {t}: {e}"));
                        break;
                    }
                }
                Undo::Start(i) => {
                    let t = rb.target.expect("start only with a target");
                    if let Err(e) = self.action(&name, &t.start[i], &layout.release(&t.release)) {
                        app = format!("{} did not start: {e}", t.release);
                        u.halted = Some(format!("starting {} failed: {e}", t.release));
                        break;
                    }
                    app = format!("{} started", t.release);
                }
                Undo::Verify(i) => {
                    let t = rb.target.expect("verify only with a target");
                    if let Err(e) = self.probe(&name, &t.verify[i]) {
                        app = format!(
                            "{} started but NOT healthy: {} failed: {e}",
                            t.release,
                            t.verify[i].label()
                        );
                        u.halted = Some(format!("{} does not pass verify", t.release));
                        break;
                    }
                }
            }
        }
        if rb.target.is_none() && u.halted.is_none() {
            u.halted = Some("there is no verified release to go back to".into());
        }
        u.verified = u.halted.is_none();
        if u.verified {
            let t = rb.target.map_or("", |t| t.release.as_str());
            app = format!("{t} running and verified");
        }
        // The state of each part, for the person who has to take over.
        let mut state = vec![format!("app: {app}")];
        if let Some(e) = stop_failed {
            state.push(format!("stopping {left} failed during the rollback: {e}"));
        }
        if !u.state.iter().any(|s| s.starts_with("migrations:")) {
            let kept: Vec<&str> = rb
                .downs
                .iter()
                .filter(|(m, _)| m.down.is_none())
                .map(|(m, _)| m.label.as_str())
                .collect();
            if !reverted.is_empty() || !kept.is_empty() {
                state.push(format!(
                    "migrations: reverted: {}{}",
                    if reverted.is_empty() {
                        "none".into()
                    } else {
                        reverted.join(", ")
                    },
                    if kept.is_empty() {
                        String::new()
                    } else {
                        format!("; kept (backward compatible): {}", kept.join(", "))
                    }
                ));
            }
        }
        state.append(&mut u.state);
        if !rb.restore.is_empty() {
            state.push(if !restore_failed.is_empty() {
                format!("config: NOT restored: {}", restore_failed.join("; "))
            } else if restored {
                format!("config: {} restored", steps::files(rb.restore.len()))
            } else {
                "config: NOT restored (the rollback halted before it)".into()
            });
        }
        state.push(format!(
            "current → {}",
            layout
                .current_release()
                .map_or("(none)".into(), |r| format!("releases/{r}"))
        ));
        u.state = state;
        u
    }
}

/// What happened before a failure, so the rollback knows what to undo.
#[derive(Default)]
struct Done {
    stop_began: bool,
    migrated: Vec<usize>,
    previous: Vec<Previous>,
    switched: bool,
}

pub struct Outcome {
    pub code: i32,
    pub message: String,
    /// Why an alert goes out: failure, rollback or success.
    pub reason: &'static str,
}

pub fn deploy(r: &Runner, phases: &Phases, journal: &mut Releases) -> Outcome {
    let d = r.d;
    let layout = &d.layout;
    let release = d.release.as_str();
    let current_before = layout.current_release();
    let target_rec = journal.last_verified(None).cloned();
    let target_name = target_rec
        .as_ref()
        .map(|t| t.release.clone())
        .or_else(|| current_before.clone());
    if target_rec.is_none()
        && let Some(c) = &current_before
    {
        r.reporter.notice(
            Level::Warn,
            format!("no release here was verified by tend; a rollback would go back to the current one, {c}"),
        );
    }
    let target_phases = match &target_name {
        Some(t) => match d.phases(t, target_rec.as_ref().map(|r| &r.vars)) {
            Ok(p) => Some(p),
            Err(e) => {
                return Outcome {
                    code: exit::FAILED,
                    message: format!(
                        "cannot prepare the rollback to {t}, so nothing was done: {}",
                        e.message
                    ),
                    reason: "failure",
                };
            }
        },
        None => None,
    };
    if let Some(t) = &target_name {
        r.reporter.notice(
            Level::Info,
            format!("rollback target if anything fails: {t}"),
        );
    }
    let release_dir = layout.release(release);
    let mut done = Done::default();
    let mut sha = None;
    let mut sync = None;
    let mut failure: Option<(String, String)> = None;
    for step in steps::forward(phases) {
        let name = steps::name(step, phases);
        if step == Step::Prune {
            break;
        }
        if done.stop_began && crate::interrupt::requested() {
            failure = Some((name.clone(), "interrupted by a signal".into()));
            break;
        }
        let result = match step {
            Step::Fetch => {
                // Recorded before anything happens, so a crash at any later point leaves a trace
                // the next run reports. (Written first also because an fsync after the unpack
                // would wait for all of its data.)
                let before = journal.clone();
                journal.begin(record(
                    d,
                    State::Deploying,
                    None,
                    String::new(),
                    r.reporter.run(),
                ));
                if let Err(e) = journal.save(&*layout.target, &layout.journal()) {
                    return Outcome {
                        code: exit::FAILED,
                        message: format!(
                            "cannot write {}: {}; nothing was stopped",
                            layout.journal().display(),
                            crate::describe_io(&e)
                        ),
                        reason: "failure",
                    };
                }
                let known = before.get(release);
                let result = r.step(&name, || fetch_release(r, known, &mut sha, &mut sync));
                let stopped_early = crate::interrupt::requested();
                if result.is_err() || stopped_early {
                    let why = match &result {
                        Err(e) => format!("fetch failed: {e}"),
                        Ok(()) => "interrupted before anything was stopped".into(),
                    };
                    *journal = before;
                    if journal.get(release).is_none() {
                        journal.begin(record(d, State::Failed, sha.clone(), why, r.reporter.run()));
                    }
                    let _ = journal.save(&*layout.target, &layout.journal());
                    return Outcome {
                        code: exit::FAILED,
                        message: match result {
                            Err(e) => format!("{name} failed: {e}; nothing was stopped or changed"),
                            Ok(()) => {
                                "interrupted before anything was stopped; nothing changed".into()
                            }
                        },
                        reason: "failure",
                    };
                }
                if let Some(rec) = journal.get_mut(release) {
                    rec.sha256 = sha.clone();
                }
                Ok(())
            }
            Step::Stop(i) => match &current_before {
                Some(c) => {
                    done.stop_began = true;
                    // The running release's own scripts know how to stop it.
                    r.action(&name, &phases.stop[i], &layout.release(c))
                }
                None => {
                    let started = r.begin(&name);
                    r.end(
                        &name,
                        started,
                        Status::Skipped,
                        "no current release: nothing to stop".into(),
                    );
                    Ok(())
                }
            },
            Step::Migrate(i) => {
                done.stop_began = true;
                let res = r.action(&name, &phases.migrate[i].up, &release_dir);
                if res.is_ok() {
                    done.migrated.push(i);
                }
                res
            }
            Step::Configure(i) => {
                done.stop_began = true;
                let c = &phases.configure[i];
                r.step(&name, || {
                    let io = |e: std::io::Error| {
                        format!("{}: {}", c.dest.display(), crate::describe_io(&e))
                    };
                    match configure::prepare(&*layout.target, c).map_err(io)? {
                        Written::Unchanged => Ok("unchanged".into()),
                        Written::Replaced(prev) => {
                            let existed = prev.content.is_some();
                            done.previous.push(prev);
                            // The old file is durable before the new one replaces it.
                            configure::save(
                                &*layout.target,
                                &layout.backup(release),
                                &done.previous,
                            )
                            .map_err(|e| {
                                format!(
                                    "cannot keep the previous {}: {}",
                                    c.shown,
                                    crate::describe_io(&e)
                                )
                            })?;
                            configure::commit(&*layout.target, c).map_err(io)?;
                            Ok(format!(
                                "wrote {} ({} bytes, mode {:04o}){}",
                                c.dest.display(),
                                c.content.len(),
                                c.mode,
                                if existed { ", previous kept" } else { "" }
                            ))
                        }
                    }
                })
            }
            Step::Switch => {
                done.stop_began = true;
                let res = r.step(&name, || {
                    if let Some(h) = sync.take() {
                        h.join()
                            .unwrap_or_else(|_| Err(std::io::Error::other("sync thread panicked")))
                            .map_err(|e| {
                                format!(
                                    "releases/{release} could not be made durable: {}",
                                    crate::describe_io(&e)
                                )
                            })?;
                    }
                    layout
                        .switch(release)
                        .map(|()| format!("current → releases/{release}"))
                        .map_err(|e| crate::describe_io(&e))
                });
                done.switched |= res.is_ok();
                res
            }
            Step::Start(i) => {
                done.stop_began = true;
                r.action(&name, &phases.start[i], &release_dir)
            }
            Step::Verify(i) => r.probe(&name, &phases.verify[i]),
            Step::Prune => unreachable!(),
        };
        if let Err(e) = result {
            let e = if crate::interrupt::requested() && !e.contains("interrupted") {
                format!("{e} (interrupted by a signal)")
            } else {
                e
            };
            failure = Some((name, e));
            break;
        }
    }
    if failure.is_none() && crate::interrupt::requested() {
        failure = Some(("verify".into(), "interrupted by a signal".into()));
    }
    let now = now_rfc3339();
    if let Some((step, why)) = failure {
        // Everything after `stop` began is undone; a failure before it changed nothing.
        let failed = format!("{step} failed: {why}");
        if !done.stop_began {
            finish_record(journal, release, State::Failed, &failed, &now);
            let _ = journal.save(&*layout.target, &layout.journal());
            return Outcome {
                code: exit::FAILED,
                message: format!("{failed}; nothing was stopped or changed"),
                reason: "failure",
            };
        }
        r.reporter.notice(
            Level::Error,
            format!(
                "{failed}; rolling back to {}",
                target_name.as_deref().unwrap_or("(no verified release)")
            ),
        );
        let rb = Rollback {
            stop: &phases.stop,
            stop_dir: if done.switched {
                release_dir.clone()
            } else {
                current_before
                    .as_ref()
                    .map_or(layout.root.clone(), |c| layout.release(c))
            },
            downs: done
                .migrated
                .iter()
                .rev()
                .map(|i| (&phases.migrate[*i], release_dir.clone()))
                .collect(),
            restore: done.previous.iter().rev().cloned().collect(),
            target: target_phases.as_ref(),
        };
        let undone = r.roll_back(&rb, release);
        // What stays applied, should a person finish the rollback with `tend rollback`.
        // `downs` is `done.migrated` newest first.
        let mut still: Vec<usize> = done
            .migrated
            .iter()
            .rev()
            .enumerate()
            .filter(|(k, _)| !undone.reverted.contains(k))
            .map(|(_, i)| *i)
            .collect();
        still.reverse();
        if let Some(rec) = journal.get_mut(release) {
            rec.migrations = still
                .iter()
                .map(|i| phases.migrate[*i].recorded.clone())
                .collect();
        }
        let now = now_rfc3339();
        finish_record(journal, release, State::Failed, &failed, &now);
        if undone.verified
            && let Some(t) = &target_name
            && let Some(rec) = journal.get_mut(t)
        {
            rec.verified_at = Some(now.clone());
            if t == release {
                // A redeploy of the live release: it is back, as it was, and verified.
                rec.state = State::Verified;
                rec.message =
                    format!("redeploy failed ({failed}); rolled back to the previous config");
            }
        }
        if let Err(e) = journal.save(&*layout.target, &layout.journal()) {
            r.reporter.notice(
                Level::Error,
                format!(
                    "cannot update {}: {}",
                    layout.journal().display(),
                    crate::describe_io(&e)
                ),
            );
        }
        return rolled_back(r, undone, &failed, target_name.as_deref());
    }
    finish_record(journal, release, State::Verified, "", &now);
    if let Some(rec) = journal.get_mut(release) {
        rec.verified_at = Some(now.clone());
        rec.migrations = done
            .migrated
            .iter()
            .map(|i| phases.migrate[*i].recorded.clone())
            .collect();
    }
    if let Err(e) = journal.save(&*layout.target, &layout.journal()) {
        r.reporter.notice(
            Level::Error,
            format!(
                "{release} is live and verified, but {} could not be updated: {}",
                layout.journal().display(),
                crate::describe_io(&e)
            ),
        );
    }
    // The release is live and verified; a prune that fails is a warning, not a failed deploy.
    let name = steps::name(Step::Prune, phases);
    let started = r.begin(&name);
    match super::prune::prune(d, journal, target_name.as_deref()) {
        Ok(m) => r.end(&name, started, Status::Ok, m),
        Err(m) => r.end(&name, started, Status::Warning, m),
    }
    Outcome {
        code: exit::OK,
        message: format!("deployed {release}: live and verified"),
        reason: "success",
    }
}

pub fn rolled_back(r: &Runner, undone: Undone, failed: &str, target: Option<&str>) -> Outcome {
    if undone.verified {
        Outcome {
            code: exit::FAILED,
            message: format!(
                "{failed}; rolled back to {}, which is running and verified",
                target.unwrap_or_default()
            ),
            reason: "rollback",
        }
    } else {
        let why = undone.halted.clone().unwrap_or_default();
        r.reporter.notice(
            Level::Error,
            format!("ROLLBACK NOT VERIFIED: {why}. A human is needed now. State:"),
        );
        for line in &undone.state {
            r.reporter.notice(Level::Error, format!("  {line}"));
        }
        r.story.borrow_mut().push(format!(
            "\nROLLBACK NOT VERIFIED: {why}\nState:\n  {}",
            undone.state.join("\n  ")
        ));
        Outcome {
            code: exit::NOT_VERIFIED,
            message: format!(
                "{failed}; the rollback is NOT verified ({why}): {}",
                undone.state.join("; ")
            ),
            reason: "rollback",
        }
    }
}

fn fetch_release(
    r: &Runner,
    known: Option<&Record>,
    sha: &mut Option<String>,
    sync: &mut Option<std::thread::JoinHandle<std::io::Result<()>>>,
) -> Result<String, String> {
    let d = r.d;
    let layout = &d.layout;
    let release = d.release.as_str();
    let dir = layout.release(release);
    let t = &*layout.target;
    let exists = t.is_dir(&dir);
    if exists
        && let (Some(rec), Some(want)) = (known, &d.artifact.sha256)
        && rec.verified_at.is_some()
        && rec.sha256.as_deref() == Some(want.as_str())
    {
        *sha = Some(want.clone());
        return Ok(format!(
            "releases/{release} already there and verified (same sha256); reused"
        ));
    }
    let partial = layout.partial(release);
    if t.exists(&partial) {
        t.remove_tree(&partial).map_err(|e| {
            format!(
                "cannot remove the leftover {}: {}",
                partial.display(),
                crate::describe_io(&e)
            )
        })?;
    }
    let step = format!("fetch {release}");
    let progress = |n: u64| r.reporter.progress(&step, n);
    let fetched = fetch::fetch(&d.artifact, &layout.cache(), &partial, &progress, t);
    r.reporter.clear_progress(&step);
    let fetched = fetched.map_err(|e| e.to_string())?;
    *sha = Some(fetched.sha256.clone());
    if exists {
        let live = layout.current_release().as_deref() == Some(release);
        if known.and_then(|k| k.sha256.as_deref()) == Some(fetched.sha256.as_str()) && live {
            let _ = t.remove_tree(&partial);
            return Ok(format!(
                "releases/{release} is live with the same build (sha256 {}); reused",
                short(&fetched.sha256)
            ));
        }
        if live {
            let _ = t.remove_tree(&partial);
            return Err(format!(
                "releases/{release} is live with a different build; give the new build a new release name"
            ));
        }
        layout.remove_release(release).map_err(|e| {
            format!(
                "cannot replace the old releases/{release}: {}",
                crate::describe_io(&e)
            )
        })?;
    }
    t.rename(&partial, &dir).map_err(|e| {
        format!(
            "cannot move {} into place: {}",
            partial.display(),
            crate::describe_io(&e)
        )
    })?;
    // The release is made durable while stop, migrate and configure run; `current` switches
    // only after that has finished.
    let (root, target) = (dir.clone(), layout.target.clone());
    *sync = Some(std::thread::spawn(move || target.sync_all(&root)));
    Ok(format!(
        "{} ({}, {} entries, sha256 {}{}) → releases/{release}",
        d.artifact.shown(),
        crate::playbook::units::Size(fetched.bytes),
        fetched.entries,
        short(&fetched.sha256),
        if d.artifact.sha256.is_some() {
            ", verified"
        } else {
            ", no checksum given"
        }
    ) + if fetched.cached {
        " (from the download cache)"
    } else {
        ""
    })
}

pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

pub fn record(
    d: &Deploy,
    state: State,
    sha256: Option<String>,
    message: String,
    run: &str,
) -> Record {
    Record {
        release: d.release.clone(),
        state,
        sha256,
        deployed_at: now_rfc3339(),
        finished_at: None,
        verified_at: None,
        by: format!("{}@{}", crate::username(), crate::hostname()),
        run: run.to_string(),
        playbook: std::fs::canonicalize(&d.loaded.source.path)
            .unwrap_or_else(|_| d.loaded.source.path.clone())
            .display()
            .to_string(),
        playbook_sha256: d.playbook_sha256.clone(),
        message,
        migrations: vec![],
        vars: d.loaded.vars.clone(),
        pruned: false,
    }
}

fn finish_record(journal: &mut Releases, release: &str, state: State, message: &str, now: &str) {
    if let Some(rec) = journal.get_mut(release) {
        rec.state = state;
        rec.message = message.to_string();
        rec.finished_at = Some(now.to_string());
    }
}
