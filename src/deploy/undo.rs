//! The verified rollback: undo as far as possible, verify the release returned to, and say
//! what state each part is in when that does not work.

use super::configure;
use super::releases::{Releases, RolledBackTo, State};
use super::runner::Ending;
use super::runner::{Runner, StepFailed};
use super::steps::{self, Rollback, Undo};
use crate::error::Exit;
use crate::report::{Level, now_rfc3339};

/// How far a rollback got, for the host journal: a run killed during the rollback leaves the
/// next one an exact list of the migrations still applied.
pub enum Reverting<'m> {
    /// A migration's `down` is about to run.
    Down(&'m super::resolve::Migration),
    /// It ran: the migration is no longer applied.
    Reverted(&'m super::resolve::Migration),
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
    /// Undo as far as possible and verify the target. Steps run to the end even if another
    /// signal arrives: stopping halfway would leave the app down.
    pub fn roll_back(
        &self,
        rb: &Rollback,
        left: &str,
        progress: &mut dyn FnMut(Reverting),
    ) -> Undone {
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
                        stop_failed = Some(e.0);
                    }
                }
                Undo::Down(i) => {
                    let m = rb.downs[i].0;
                    match self.undo_migration(rb, i, &name, progress) {
                        Undid::Reverted => {
                            reverted.push(m.label.clone());
                            u.reverted.push(i);
                        }
                        Undid::Kept => {}
                        Undid::Halted(why) => {
                            u.halted = Some(why);
                            u.state.push(not_reverted(rb, i, &reverted));
                            break;
                        }
                    }
                }
                Undo::Restore => {
                    restored = true;
                    restore_failed = self.restore(rb, &name);
                }
                Undo::Switch => {
                    if let Err(why) = self.switch_back(rb, &name) {
                        u.halted = Some(why.0);
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
        let parts = Parts {
            app,
            left,
            stop_failed,
            reverted: &reverted,
            restored,
            restore_failed: &restore_failed,
        };
        let state = parts.state(rb, layout, std::mem::take(&mut u.state));
        u.state = state;
        u
    }

    /// `current` back to the target release.
    fn switch_back(&self, rb: &Rollback, name: &str) -> Result<(), StepFailed> {
        let layout = &self.d.layout;
        let t = rb.target.map_or("", |t| t.release.as_str());
        self.step(name, || {
            if layout.current_release().as_deref() == Some(t) {
                return Ok("already there".into());
            }
            layout
                .switch(t)
                .map(|()| format!("current → releases/{t}"))
                .map_err(|e| crate::sys::describe_io(&e))
        })
        .map_err(|e| StepFailed(format!("cannot switch current back to {t}: {e}")))
    }

    /// A migration's `down`, recorded before and after it runs.
    fn undo_migration(
        &self,
        rb: &Rollback,
        i: usize,
        name: &str,
        progress: &mut dyn FnMut(Reverting),
    ) -> Undid {
        let (m, dir) = &rb.downs[i];
        match &m.down {
            Some(down) => {
                progress(Reverting::Down(m));
                crate::crash::point(&format!("rollback:down {}", m.label));
                match self.action(name, down, dir) {
                    Ok(()) => {
                        // Killed here, the `down` did its work and the record still says applied.
                        crate::crash::point(&format!("rollback:downed {}", m.label));
                        progress(Reverting::Reverted(m));
                        Undid::Reverted
                    }
                    Err(e) => {
                        Undid::Halted(format!("the `down` of migration '{}' failed: {e}", m.label))
                    }
                }
            }
            None if m.backward_compatible => {
                let _ = self.step(name, || {
                    Ok::<_, StepFailed>("kept: marked backward_compatible, no `down` needed".into())
                });
                Undid::Kept
            }
            None => {
                let why = format!(
                    "migration '{}' has no `down` and is not backward_compatible: {} must not run against a schema it does not know",
                    m.label,
                    rb.target
                        .map_or("the previous release", |t| t.release.as_str())
                );
                let _ = self.step(name, || Err(why.clone()));
                Undid::Halted(why)
            }
        }
    }

    /// Put back the config files the deploy replaced; each one that could not be, and why.
    fn restore(&self, rb: &Rollback, name: &str) -> Vec<String> {
        let layout = &self.d.layout;
        let mut failed = vec![];
        let _ = self.step(name, || {
            for p in &rb.restore {
                if let Err(e) = configure::restore(&*layout.target, p) {
                    failed.push(format!(
                        "{}: {}",
                        p.dest.display(),
                        crate::sys::describe_io(&e)
                    ));
                }
            }
            if failed.is_empty() {
                Ok(format!("restored {}", steps::files(rb.restore.len())))
            } else {
                Err(format!("could not restore {}", failed.join("; ")))
            }
        });
        failed
    }
}

/// What undoing one migration did.
enum Undid {
    /// Its `down` ran: it is no longer applied.
    Reverted,
    /// Backward compatible, without a `down`: it stays.
    Kept,
    /// The rollback halts here, and why.
    Halted(String),
}

/// How each part of a rollback ended.
struct Parts<'p> {
    app: String,
    /// The release the rollback left.
    left: &'p str,
    stop_failed: Option<String>,
    reverted: &'p [String],
    restored: bool,
    restore_failed: &'p [String],
}

impl Parts<'_> {
    /// The state of each part, a line each, for the person who has to take over; `halted` are
    /// the lines the halting step wrote (the migrations not reverted).
    fn state(
        &self,
        rb: &Rollback,
        layout: &super::layout::Layout,
        mut halted: Vec<String>,
    ) -> Vec<String> {
        let mut state = vec![format!("app: {}", self.app)];
        if let Some(e) = &self.stop_failed {
            state.push(format!(
                "stopping {} failed during the rollback: {e}",
                self.left
            ));
        }
        if !halted.iter().any(|s| s.starts_with("migrations:")) {
            let kept: Vec<&str> = rb
                .downs
                .iter()
                .filter(|(m, _)| m.down.is_none())
                .map(|(m, _)| m.label.as_str())
                .collect();
            if !self.reverted.is_empty() || !kept.is_empty() {
                state.push(format!(
                    "migrations: reverted: {}{}",
                    if self.reverted.is_empty() {
                        "none".into()
                    } else {
                        self.reverted.join(", ")
                    },
                    if kept.is_empty() {
                        String::new()
                    } else {
                        format!("; kept (backward compatible): {}", kept.join(", "))
                    }
                ));
            }
        }
        state.append(&mut halted);
        if !rb.restore.is_empty() {
            state.push(if !self.restore_failed.is_empty() {
                format!("config: NOT restored: {}", self.restore_failed.join("; "))
            } else if self.restored {
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
        state
    }
}

/// Take back a deploy of `release` (failed as `failed` says, or killed): undo what `rb` lists,
/// verify the target, and record it all in the host journal, each `down` as it runs, so a run
/// killed during the rollback leaves the next one the exact migrations still applied.
pub fn take_back(
    r: &Runner,
    journal: &mut Releases,
    rb: &Rollback,
    release: &str,
    failed: &str,
) -> Ending {
    let layout = &r.d.layout;
    let target = rb.target.map(|t| t.release.clone());
    r.reporter.notice(
        Level::Error,
        format!(
            "{failed}; rolling back to {}",
            target.as_deref().unwrap_or("(no verified release)")
        ),
    );
    if let Some(rec) = journal.get_mut(release) {
        // `migrations` already lists what is applied (the deploy recorded each as it ran): each
        // `down` takes its migration off as it runs.
        let p = rec.progress.get_or_insert_with(Default::default);
        p.rolling_back = true;
        p.target.clone_from(&target);
    }
    let save =
        |journal: &Releases| journal.save_or_warn(&*layout.target, &layout.journal(), r.reporter);
    let undone = r.roll_back(rb, release, &mut |step| {
        if let Some(rec) = journal.get_mut(release) {
            match step {
                Reverting::Down(m) => {
                    rec.progress.get_or_insert_with(Default::default).migrating =
                        Some(m.recorded.clone());
                }
                Reverting::Reverted(m) => {
                    if let Some(i) = rec.migrations.iter().rposition(|x| *x == m.recorded) {
                        rec.migrations.remove(i);
                    }
                    if let Some(p) = rec.progress.as_mut() {
                        p.migrating = None;
                    }
                }
            }
        }
        save(journal);
    });
    let now = now_rfc3339();
    let redeploy = target.as_deref() == Some(release);
    if let Some(rec) = journal.get_mut(release) {
        rec.progress = None;
        rec.finished_at = Some(now.clone());
        rec.rolled_back_to = target.as_ref().map(|t| RolledBackTo {
            release: t.clone(),
            verified: undone.verified,
            at: now.clone(),
        });
        rec.message = match &rec.rolled_back_to {
            Some(rb) if redeploy && rb.verified => {
                format!(
                    "redeploy failed ({failed}); rolled back to the previous config, verified at {now}"
                )
            }
            Some(rb) => format!("{failed}; {}", rb.describe()),
            None => format!("{failed}; there was no verified release to go back to"),
        };
        // A redeploy of the live release that is back as it was stays verified.
        rec.state = if redeploy && undone.verified {
            State::Verified
        } else {
            State::Failed
        };
    }
    if undone.verified
        && let Some(t) = &target
        && let Some(rec) = journal.get_mut(t)
    {
        rec.verified_at = Some(now.clone());
    }
    save(journal);
    rolled_back(r, undone, failed, target.as_deref())
}

pub fn rolled_back(r: &Runner, undone: Undone, failed: &str, target: Option<&str>) -> Ending {
    if undone.verified {
        Ending {
            code: Exit::FAILED,
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
        Ending {
            code: Exit::NOT_VERIFIED,
            message: format!(
                "{failed}; the rollback is NOT verified ({why}): {}",
                undone.state.join("; ")
            ),
            reason: "rollback",
        }
    }
}

/// The migrations a halted rollback left applied (from the `i`th down on), and those it did
/// revert: the state line for the person who takes over.
fn not_reverted(rb: &Rollback, i: usize, reverted: &[String]) -> String {
    let not: Vec<String> = rb.downs[i..].iter().map(|(m, _)| m.label.clone()).collect();
    format!(
        "migrations: NOT reverted: {}{}",
        not.join(", "),
        if reverted.is_empty() {
            String::new()
        } else {
            format!("; reverted: {}", reverted.join(", "))
        }
    )
}
