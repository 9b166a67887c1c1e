//! A deploy, step by step; a failure from `stop` on hands over to the rollback (`undo.rs`).

use super::configure::{self, Previous, Written};
use super::fetch;
use super::releases::{Progress, Record, Releases, State};
use super::resolve::{Deploy, Gates, Phases};
use super::runner::{Ending, Gate, Runner, StepFailed};
use super::steps::{self, Rollback, Step};
use super::undo::take_back;
use crate::error::Exit;
use crate::report::{Level, Status, now_rfc3339};

/// What happened before a failure, so the rollback knows what to undo.
#[derive(Default)]
struct Done {
    stop_began: bool,
    migrated: Vec<usize>,
    previous: Vec<Previous>,
    switched: bool,
    /// A progress line was written by this run (the first one starts the file afresh).
    noted: bool,
}

/// Records of long-pruned releases kept, for `tend releases` to show some history.
const JOURNAL_HISTORY: usize = 20;

/// A deploy under way: what it was given, and how far it got.
struct Deploying<'r, 'a> {
    r: &'r Runner<'a>,
    phases: &'r Phases,
    journal: &'r mut Releases,
    release_dir: std::path::PathBuf,
    current_before: Option<String>,
    /// Where a failure takes it back to, and that release's steps.
    target_name: Option<String>,
    target_phases: Option<Phases>,
    /// Migrations the live release's verified deploy applied: this deploy of the same release
    /// neither runs them again nor undoes them.
    kept: Vec<super::releases::Migration>,
    /// A redeploy of the live release: its verified build's checksum, which its record keeps.
    live_sha: Option<String>,
    /// ...and the vars it was deployed with, which its record keeps until this deploy is
    /// verified: a redeploy that fails and is taken back leaves it as it was.
    live_vars: Option<crate::playbook::Vars>,
    /// Each config file, read before anything was stopped.
    prepared: Vec<Option<Written>>,
    done: Done,
    sha: Option<String>,
    /// Makes the unpacked release durable; waited for before `current` switches.
    sync: Option<crate::machine::Pending>,
}

/// Why the steps stopped: a step failed (`stop` on, the rollback follows), or the deploy ended
/// before anything was stopped.
enum Halt {
    Failed(String),
    Ended(Ending),
}

impl From<StepFailed> for Halt {
    fn from(why: StepFailed) -> Self {
        Halt::Failed(why.0)
    }
}

pub fn deploy(r: &Runner, phases: &Phases, journal: &mut Releases) -> Ending {
    let mut run = match Deploying::new(r, phases, journal) {
        Ok(run) => run,
        Err(o) => return o,
    };
    for step in steps::forward(phases) {
        let name = steps::name(step, phases);
        if step == Step::Prune {
            // A signal during the last verify: the release is not taken as verified.
            if crate::interrupt::requested() {
                return run.failed("verify", "interrupted by a signal".into());
            }
            return run.verified(&name);
        }
        if run.done.stop_began && crate::interrupt::requested() {
            return run.failed(&name, "interrupted by a signal".into());
        }
        match run.run_step(step, &name) {
            Ok(()) => {}
            Err(Halt::Ended(o)) => return o,
            Err(Halt::Failed(e)) => {
                let e = if crate::interrupt::requested() && !e.contains("interrupted") {
                    format!("{e} (interrupted by a signal)")
                } else {
                    e
                };
                return run.failed(&name, e);
            }
        }
    }
    unreachable!("a deploy's steps end with prune")
}

impl<'r, 'a> Deploying<'r, 'a> {
    /// The rollback target chosen (the last verified release, else the current one) and its
    /// steps rendered, before anything runs: a target that cannot be rendered stops it here.
    fn new(
        r: &'r Runner<'a>,
        phases: &'r Phases,
        journal: &'r mut Releases,
    ) -> Result<Self, Ending> {
        let d = r.d;
        let release = d.release.as_str();
        let current_before = d.layout.current_release();
        let target_rec = journal.last_verified(None).cloned();
        // With no verified release, the current one, unless tend saw it fail (its gate, say):
        // a rollback to it would call verified what was not.
        let target_name = target_rec
            .as_ref()
            .map(|t| t.release.clone())
            .or_else(|| current_before.clone().filter(|c| untried(journal, c)));
        if target_rec.is_none()
            && let Some(c) = &target_name
        {
            r.reporter.notice(
                Level::Warn,
                format!("no release here was verified by tend; a rollback would go back to the current one, {c}"),
            );
        }
        let target_phases = match &target_name {
            Some(t) => Some(
                d.phases(t, target_rec.as_ref().map(|r| &r.vars))
                    .map_err(|e| Ending {
                        code: Exit::FAILED,
                        message: format!(
                            "cannot prepare the rollback to {t}, so nothing was done: {}",
                            e.message
                        ),
                        reason: "failure",
                    })?,
            ),
            None => None,
        };
        if let Some(t) = &target_name {
            r.reporter.notice(
                Level::Info,
                format!("rollback target if anything fails: {t}"),
            );
        }
        // A redeploy of the live, verified release: what its verified deploy recorded.
        let live = journal
            .get(release)
            .filter(|r| r.state == State::Verified && current_before.as_deref() == Some(release));
        let kept = live.map(|r| r.migrations.clone()).unwrap_or_default();
        let live_sha = live.and_then(|r| r.sha256.clone());
        let live_vars = live.map(|r| r.vars.clone());
        Ok(Deploying {
            r,
            phases,
            journal,
            release_dir: d.layout.release(release),
            current_before,
            target_name,
            target_phases,
            kept,
            live_sha,
            live_vars,
            prepared: vec![],
            done: Done::default(),
            sha: None,
            sync: None,
        })
    }

    fn release(&self) -> &'a str {
        self.r.d.release.as_str()
    }

    fn save_journal(&mut self) {
        let layout = &self.r.d.layout;
        self.journal
            .save_or_warn(&*layout.target, &layout.journal(), self.r.reporter);
    }

    fn run_step(&mut self, step: Step, name: &str) -> Result<(), Halt> {
        let (r, phases) = (self.r, self.phases);
        match step {
            Step::Fetch => self.fetch(name),
            Step::Stop(i) => match self.current_before.clone() {
                Some(c) => {
                    self.done.stop_began = true;
                    // The running release's own scripts know how to stop it.
                    Ok(r.action(name, &phases.stop[i], &r.d.layout.release(&c))?)
                }
                None => {
                    r.begin(name).end(
                        Status::Skipped,
                        "no current release: nothing to stop".into(),
                    );
                    Ok(())
                }
            },
            Step::Migrate(i) if self.kept.contains(&phases.migrate[i].recorded) => {
                self.done.stop_began = true;
                let release = self.release();
                Ok(r.step(name, || {
                    Ok::<_, StepFailed>(format!(
                        "already applied: {release} is live, and its verified deploy ran it"
                    ))
                })?)
            }
            Step::Migrate(i) => self.migrate(i, name),
            Step::Configure(i) => self.configure(i, name),
            Step::Switch => self.switch(name),
            Step::Start(i) => {
                self.done.stop_began = true;
                Ok(r.action(name, &phases.start[i], &self.release_dir)?)
            }
            Step::Verify(i) => Ok(r.probe(name, &phases.verify[i])?),
            Step::Analyze(i) => {
                // Rendered again with the release it replaces, now that it is known.
                let previous = self.target_name.clone().unwrap_or_default();
                let gates = r.d.analyses(&phases.release, &previous, Gates::Verify);
                let a = gates.as_ref().ok().and_then(|g| g.get(i));
                self.gate(name, a.unwrap_or(&phases.analyses[i]))
            }
            Step::Prune => unreachable!("prune is the verified deploy's last step"),
        }
    }

    fn gate(&mut self, name: &str, a: &crate::analysis::Analysis) -> Result<(), Halt> {
        match self.r.analyze(name, a) {
            Ok(()) => Ok(()),
            Err(Gate::Failed(why)) => Err(Halt::Failed(why)),
            Err(Gate::Halted(why)) => Err(Halt::Ended(self.halted(name, why))),
        }
    }

    /// Recorded before anything happens, so a crash at any later point leaves a trace the next
    /// run reports. (Written first also because an fsync after the unpack would wait for all
    /// of its data.) A failure here, or a signal, ends the deploy with nothing stopped.
    fn fetch(&mut self, name: &str) -> Result<(), Halt> {
        let (r, d, phases) = (self.r, self.r.d, self.phases);
        let layout = &d.layout;
        let release = self.release();
        let before = self.journal.clone();
        // A redeploy of the live release keeps what its verified deploy recorded: the build's
        // checksum (the same build is all a redeploy takes) and the migrations it applied.
        let mut rec = record(
            d,
            State::Deploying,
            self.live_sha.clone(),
            String::new(),
            r.reporter.run(),
        );
        rec.migrations.clone_from(&self.kept);
        if let Some(vars) = &self.live_vars {
            rec.vars.clone_from(vars);
        }
        rec.progress = Some(Progress {
            from: self.current_before.clone(),
            target: self.target_name.clone(),
            kept: self.kept.clone(),
            ..Progress::default()
        });
        self.journal.begin(rec);
        if let Err(e) = self.journal.save(&*layout.target, &layout.journal()) {
            return Err(Halt::Ended(Ending {
                code: Exit::FAILED,
                message: format!(
                    "cannot write {}: {}; nothing was stopped",
                    layout.journal().display(),
                    crate::sys::describe_io(&e)
                ),
                reason: "failure",
            }));
        }
        let known = before.get(release);
        let (prepared, sha, sync) = (&mut self.prepared, &mut self.sha, &mut self.sync);
        let result = r.step(name, || {
            // Each config's destination is checked, and read, before anything is stopped: a
            // link there is refused now, not after the app is down.
            for c in &phases.configure {
                let w = configure::prepare(&*layout.target, c).map_err(|e| {
                    format!("{}: {}", c.dest.display(), crate::sys::describe_io(&e))
                })?;
                prepared.push(Some(w));
            }
            fetch_release(r, known, sha, sync)
        });
        if result.is_err() || crate::interrupt::requested() {
            let why = match &result {
                Err(e) => format!("fetch failed: {e}"),
                Ok(()) => "interrupted before anything was stopped".into(),
            };
            *self.journal = before;
            if self.journal.get(release).is_none() {
                let rec = record(d, State::Failed, self.sha.clone(), why, r.reporter.run());
                self.journal.begin(rec);
            }
            self.save_journal();
            return Err(Halt::Ended(Ending {
                code: Exit::FAILED,
                message: match result {
                    Err(e) => format!("{name} failed: {e}; nothing was stopped or changed"),
                    Ok(()) => "interrupted before anything was stopped; nothing changed".into(),
                },
                reason: "failure",
            }));
        }
        if let Some(rec) = self.journal.get_mut(release) {
            rec.sha256.clone_from(&self.sha);
        }
        crate::crash::point("deploy:fetched");
        Ok(())
    }

    /// Recorded before it runs: a run killed during it, or after it, leaves the next one the
    /// migrations applied and this one as under way (its `down` runs then, which is right
    /// whether it finished or not).
    fn migrate(&mut self, i: usize, name: &str) -> Result<(), Halt> {
        let (r, phases) = (self.r, self.phases);
        self.done.stop_began = true;
        let first = !self.done.noted;
        progress(
            r,
            self.journal,
            phases,
            &self.kept,
            &self.done.migrated,
            Some(i),
            first,
        );
        self.done.noted = true;
        let (res, in_doubt) = r.action_ran(name, &phases.migrate[i].up, &self.release_dir);
        // One cut short (a signal, its timeout) may have done part of its work: its `down`
        // runs in the rollback, as after a kill -9.
        if res.is_ok() || in_doubt {
            self.done.migrated.push(i);
        }
        progress(
            r,
            self.journal,
            phases,
            &self.kept,
            &self.done.migrated,
            None,
            false,
        );
        crate::crash::point(&format!("deploy:migrated {}", phases.migrate[i].label));
        Ok(res?)
    }

    fn configure(&mut self, i: usize, name: &str) -> Result<(), Halt> {
        let r = self.r;
        let layout = &r.d.layout;
        let release = self.release();
        self.done.stop_began = true;
        let c = &self.phases.configure[i];
        let (prepared, done) = (&mut self.prepared, &mut self.done);
        Ok(r.step(name, || {
            let io = |e: std::io::Error| {
                format!("{}: {}", c.dest.display(), crate::sys::describe_io(&e))
            };
            let written = match prepared.get_mut(i).and_then(Option::take) {
                Some(w) => w,
                None => configure::prepare(&*layout.target, c).map_err(io)?,
            };
            match written {
                Written::Unchanged => Ok::<_, String>("unchanged".into()),
                Written::Replaced(prev) => {
                    let existed = prev.content.is_some();
                    done.previous.push(prev);
                    // The old file is durable before the new one replaces it.
                    configure::commit(
                        &*layout.target,
                        &layout.backup(release),
                        r.reporter.run(),
                        &done.previous,
                        c,
                    )
                    .map_err(io)?;
                    crate::crash::point("deploy:configured");
                    Ok(format!(
                        "wrote {} ({} bytes, mode {:04o}){}",
                        c.dest.display(),
                        c.content.len(),
                        c.mode,
                        if existed { ", previous kept" } else { "" }
                    ))
                }
            }
        })?)
    }

    /// `current` switches once the unpacked release is durable.
    fn switch(&mut self, name: &str) -> Result<(), Halt> {
        let layout = &self.r.d.layout;
        let release = self.release();
        self.done.stop_began = true;
        let sync = &mut self.sync;
        let res = self.r.step(name, || {
            if let Some(wait) = sync.take() {
                wait().map_err(|e| {
                    format!(
                        "releases/{release} could not be made durable: {}",
                        crate::sys::describe_io(&e)
                    )
                })?;
            }
            layout
                .switch(release)
                .map(|()| format!("current → releases/{release}"))
                .map_err(|e| crate::sys::describe_io(&e))
        });
        self.done.switched |= res.is_ok();
        crate::crash::point("deploy:switched");
        Ok(res?)
    }

    /// A step failed: everything after `stop` began is undone; a failure before it changed
    /// nothing.
    fn failed(mut self, step: &str, why: String) -> Ending {
        let release = self.release();
        let layout = &self.r.d.layout;
        let failed = format!("{step} failed: {why}");
        if !self.done.stop_began {
            finish_record(
                self.journal,
                release,
                State::Failed,
                &failed,
                &now_rfc3339(),
            );
            self.save_journal();
            return Ending {
                code: Exit::FAILED,
                message: format!("{failed}; nothing was stopped or changed"),
                reason: "failure",
            };
        }
        let phases = self.phases;
        let rb = Rollback {
            stop: &phases.stop,
            stop_dir: layout.stop_dir(release, self.done.switched, self.current_before.as_deref()),
            downs: self
                .done
                .migrated
                .iter()
                .rev()
                .map(|i| (&phases.migrate[*i], self.release_dir.clone()))
                .collect(),
            restore: self.done.previous.iter().rev().cloned().collect(),
            target: self.target_phases.as_ref(),
        };
        take_back(self.r, self.journal, &rb, release, &failed)
    }

    /// An inconclusive analysis whose playbook says `on_inconclusive: halt`: the release stays
    /// live for a human to judge, recorded as not verified (so no later rollback goes back to
    /// it), and the run says so loudly.
    fn halted(&mut self, step: &str, why: String) -> Ending {
        let release = self.release();
        let message = format!(
            "{step} inconclusive ({why}); on_inconclusive: halt leaves {release} live and NOT verified"
        );
        finish_record(
            self.journal,
            release,
            State::Failed,
            &message,
            &now_rfc3339(),
        );
        self.save_journal();
        Ending {
            code: Exit::NOT_VERIFIED,
            message: format!(
                "{message}: judge it, then `tend rollback` to go back, or deploy it again"
            ),
            reason: "failure",
        }
    }

    /// Every step passed: the release is recorded verified, and old releases are pruned. A
    /// prune that fails is a warning, not a failed deploy. It runs before the journal is saved
    /// so one write records both (a crash in between leaves a release moved to the trash that
    /// the journal still lists: the next prune finds it gone and marks it so).
    fn verified(self, name: &str) -> Ending {
        let (r, d) = (self.r, self.r.d);
        let layout = &d.layout;
        let release = self.release();
        let now = now_rfc3339();
        finish_record(self.journal, release, State::Verified, "", &now);
        if let Some(rec) = self.journal.get_mut(release) {
            rec.verified_at = Some(now.clone());
            rec.progress = None;
            rec.vars.clone_from(&d.loaded.vars);
            rec.migrations = self
                .kept
                .iter()
                .cloned()
                .chain(
                    self.done
                        .migrated
                        .iter()
                        .map(|i| self.phases.migrate[*i].recorded.clone()),
                )
                .collect();
        }
        let step = r.begin(name);
        let pruned = super::prune::prune(d, self.journal, release, self.target_name.as_deref());
        self.journal.forget_old(JOURNAL_HISTORY);
        self.journal.drill = None;
        if let Err(e) = self.journal.save(&*layout.target, &layout.journal()) {
            r.reporter.notice(
                Level::Error,
                format!(
                    "{release} is live and verified, but {} could not be updated: {}",
                    layout.journal().display(),
                    crate::sys::describe_io(&e)
                ),
            );
        }
        match pruned {
            Ok(m) => step.end(Status::Ok, m),
            Err(m) => step.end(Status::Warning, m.0),
        }
        Ending {
            code: Exit::OK,
            message: format!("deployed {release}: live and verified"),
            reason: "success",
        }
    }
}

fn fetch_release(
    r: &Runner,
    known: Option<&Record>,
    sha: &mut Option<String>,
    sync: &mut Option<crate::machine::Pending>,
) -> Result<String, StepFailed> {
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
                crate::sys::describe_io(&e)
            )
        })?;
    }
    let step = format!("fetch {release}");
    let progress = |n: u64| r.reporter.progress(&step, n);
    let fetched = if d.artifact.on_hosts {
        fetch::on_target(&d.artifact, &partial, t)
    } else {
        fetch::fetch(&d.artifact, &layout.cache(), &partial, &progress, t)
    };
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
            ).into());
        }
        layout.remove_release(release).map_err(|e| {
            format!(
                "cannot replace the old releases/{release}: {}",
                crate::sys::describe_io(&e)
            )
        })?;
    }
    t.rename_lazy(&partial, &dir).map_err(|e| {
        format!(
            "cannot move {} into place: {}",
            partial.display(),
            crate::sys::describe_io(&e)
        )
    })?;
    // The release is made durable while stop, migrate and configure run; `current` switches
    // only after that has finished.
    *sync = Some(layout.target.clone().start_sync(&dir));
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

/// A release tend has no record of (deployed by hand, or by another tool), or one it verified.
pub fn untried(journal: &Releases, release: &str) -> bool {
    journal
        .get(release)
        .is_none_or(|r| r.state == State::Verified)
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
        by: format!("{}@{}", crate::sys::username(), crate::sys::hostname()),
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
        rolled_back_to: None,
        progress: None,
    }
}

/// Note how far the deploy got: the migrations `migrated` (indices into the phases) applied,
/// the one `migrating` under way; in the journal's record (written with the next durable save),
/// and, when one is under way, as a line of `.tend/progress` right away, which is what a
/// kill leaves. A line, not the journal: appended by the shell's own `printf` on a host, it
/// costs no process and no fsync (which, right after the unpack, would wait for all of it).
fn progress(
    r: &Runner,
    journal: &mut Releases,
    phases: &Phases,
    kept: &[super::releases::Migration],
    migrated: &[usize],
    migrating: Option<usize>,
    first: bool,
) {
    let layout = &r.d.layout;
    let applied: Vec<super::releases::Migration> = kept
        .iter()
        .cloned()
        .chain(migrated.iter().map(|i| phases.migrate[*i].recorded.clone()))
        .collect();
    let under_way = migrating.map(|i| phases.migrate[i].recorded.clone());
    if let Some(rec) = journal.get_mut(&r.d.release) {
        rec.migrations.clone_from(&applied);
        rec.progress.get_or_insert_with(Default::default).migrating = under_way.clone();
    }
    if under_way.is_none() {
        return;
    }
    let line = super::releases::Line {
        run: r.reporter.run().to_string(),
        release: r.d.release.clone(),
        applied,
        migrating: under_way,
    };
    let written = serde_json::to_string(&line)
        .map_err(std::io::Error::other)
        .and_then(|l| layout.target.put_line(&layout.progress(), &l, !first));
    if let Err(e) = written {
        r.reporter.notice(
            Level::Error,
            format!(
                "cannot write {}: {}",
                layout.progress().display(),
                crate::sys::describe_io(&e)
            ),
        );
    }
}

fn finish_record(journal: &mut Releases, release: &str, state: State, message: &str, now: &str) {
    if let Some(rec) = journal.get_mut(release) {
        rec.progress = None;
        rec.state = state;
        rec.message = message.to_string();
        rec.finished_at = Some(now.to_string());
    }
}
