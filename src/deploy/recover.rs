//! A deploy killed midway (`kill -9`, a crash, a lost SSH connection) leaves its record
//! `deploying`, with how far it got. Before anything else runs on that root, the next deploy or
//! rollback takes it back the way a failed deploy is taken back: its stop commands, the `down`
//! of each migration it applied (and of the one under way, which may or may not have taken
//! effect), the config files it replaced, then `current` to the release it started from, start,
//! verify. A deploy killed while it was still fetching changed nothing, and is just closed.

use super::configure;
use super::releases::{Record, Releases, State};
use super::runner::Ending;
use super::runner::Runner;
use super::steps::Rollback;
use super::undo::take_back;
use crate::error::Exit;
use crate::report::{Level, now_rfc3339};

pub enum Recovered {
    /// No deploy was interrupted here.
    Nothing,
    /// One was, before it stopped anything: its record is closed.
    Closed,
    /// One was taken back: `code` is 1 when the release it started from is verified again.
    TakenBack(Ending),
}

const KILLED: &str = "the run was killed before it finished";

pub fn interrupted(r: &Runner, journal: &mut Releases) -> Recovered {
    let d = r.d;
    let layout = &d.layout;
    let Some(mut rec) = journal
        .releases
        .iter()
        .rev()
        .find(|x| x.state == State::Deploying)
        .cloned()
    else {
        return Recovered::Nothing;
    };
    let current = layout.current_release();
    said_killed(r, &rec, current.as_deref());
    // Still fetching: its release is not in place, so nothing was stopped.
    let fetching = layout.target.exists(&layout.partial(&rec.release))
        || !layout.target.is_dir(&layout.release(&rec.release));
    if fetching {
        let _ = layout.target.remove_tree(&layout.partial(&rec.release));
        close_all(
            journal,
            "interrupted while fetching (the run was killed); nothing had been stopped",
        );
        // A redeploy of the live release that stopped nothing leaves it as verified as it was.
        let redeploy =
            rec.progress.as_ref().and_then(|p| p.target.as_deref()) == Some(&rec.release);
        if let Some(x) = journal.get_mut(&rec.release).filter(|_| redeploy) {
            x.state = State::Verified;
        }
        journal.save_or_warn(&*layout.target, &layout.journal(), r.reporter);
        return Recovered::Closed;
    }
    let progress = caught_up(r, &mut rec);
    let failed = format!("interrupted: {KILLED}");
    let render = |e: crate::playbook::Diagnostic| {
        Recovered::TakenBack(Ending {
            code: Exit::NOT_VERIFIED,
            message: format!(
                "the interrupted deploy of {} cannot be taken back: {}; a human is needed",
                rec.release, e.message
            ),
            reason: "failure",
        })
    };
    let leaving = match d.phases(&rec.release, Some(&rec.vars)) {
        Ok(p) => p,
        Err(e) => return render(e),
    };
    // A redeploy of the live release has itself as its target: back to it as it was.
    let target = progress.target.clone().or_else(|| {
        journal
            .last_verified(Some(&rec.release))
            .map(|x| x.release.clone())
    });
    let target_phases = match &target {
        Some(t) => match d.phases(t, journal.get(t).map(|x| &x.vars)) {
            Ok(p) => Some(p),
            Err(e) => return render(e),
        },
        None => None,
    };
    let applied = applied(&rec, &progress);
    // A redeploy's takeback undoes this run's migrations only: the live release's own stay.
    let mut ours = applied.clone();
    for k in &progress.kept {
        if let Some(i) = ours.migrations.iter().position(|m| m == k) {
            ours.migrations.remove(i);
        }
    }
    let migrations = match d.recorded_migrations(&ours) {
        Ok(m) => m,
        Err(e) => return render(e),
    };
    // From here the journal's record lists every migration the takeback undoes (the one that
    // was under way included); each `down` takes its own off as it runs, so a takeback killed
    // in turn leaves the next the exact rest.
    if let Some(x) = journal.get_mut(&rec.release) {
        x.migrations.clone_from(&applied.migrations);
        if let Some(p) = x.progress.as_mut() {
            p.migrating = None;
        }
    }
    let release_dir = layout.release(&rec.release);
    // The config files it replaced, by its own list only.
    let restore = match configure::load(&*layout.target, &layout.backup(&rec.release)) {
        Ok(b) if b.run.as_deref() == Some(rec.run.as_str()) => b.files.into_iter().rev().collect(),
        _ => vec![],
    };
    let switched = current.as_deref() == Some(rec.release.as_str());
    let rb = Rollback {
        stop: &leaving.stop,
        stop_dir: layout.stop_dir(&rec.release, switched, current.as_deref()),
        downs: migrations
            .iter()
            .rev()
            .map(|m| (m, release_dir.clone()))
            .collect(),
        restore,
        target: target_phases.as_ref(),
    };
    if target.is_none() {
        // A first deploy killed midway: undone as far as it goes (stop, downs, configs); no
        // release here was ever verified to go back to, so the deploy that follows starts
        // afresh.
        let _ = r.roll_back(&rb, &rec.release, &mut |_| {});
        close_all(
            journal,
            &format!("{failed}; undone, and no release here was ever verified to go back to"),
        );
        journal.save_or_warn(&*layout.target, &layout.journal(), r.reporter);
        return Recovered::Closed;
    }
    Recovered::TakenBack(take_back(r, journal, &rb, &rec.release, &failed))
}

fn said_killed(r: &Runner, rec: &Record, current: Option<&str>) {
    r.reporter.notice(
        Level::Warn,
        format!(
            "the deploy of {} (run {}, by {}, at {}) never finished: it was killed; current is {}",
            rec.release,
            rec.run,
            rec.by,
            rec.deployed_at,
            current.unwrap_or("(none)")
        ),
    );
}

/// How far the killed deploy got. The progress file knows more than the record, unless a
/// rollback had begun (then the record, saved at each `down`, is the newer).
fn caught_up(r: &Runner, rec: &mut Record) -> super::releases::Progress {
    let layout = &r.d.layout;
    let mut progress = rec.progress.clone().unwrap_or_default();
    if !progress.rolling_back
        && let Some(line) =
            super::releases::last_line(&*layout.target, &layout.progress(), &rec.run)
        && line.release == rec.release
    {
        rec.migrations = line.applied;
        progress.migrating = line.migrating;
    }
    progress
}

/// The migrations it applied, and the one under way (its `down` runs too: it may have taken
/// effect). During a rollback the `down` under way is of a migration still listed as applied:
/// it is not added twice.
fn applied(rec: &Record, progress: &super::releases::Progress) -> Record {
    let mut applied = rec.clone();
    if let Some(m) = &progress.migrating
        && !applied.migrations.contains(m)
    {
        applied.migrations.push(m.clone());
    }
    applied
}

/// Every `deploying` record closed as failed with `why` (there is only ever one).
fn close_all(journal: &mut Releases, why: &str) {
    let now = now_rfc3339();
    for x in journal
        .releases
        .iter_mut()
        .filter(|x| x.state == State::Deploying)
    {
        x.state = State::Failed;
        x.message = why.to_string();
        x.finished_at = Some(now.clone());
        x.progress = None;
    }
}
