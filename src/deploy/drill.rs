//! A drill on one machine, this one or a host over SSH: from the live, verified release back to
//! the previous verified one with the real rollback (stop, each migration's `down`, configs,
//! switch, start, verify), then forward again with the real deploy, each leg timed against the
//! budget. `here.rs` runs it on this machine, `fleet/drill.rs` batch by batch on a fleet.

use super::releases::{DrillNote, Record, Releases, State};
use super::resolve::Deploy;
use super::rollback::{self, Refusal};
use super::runner::Runner;
use super::spec::DeployPlaybook;
use super::steps::{self, Rollback, Undo};
use super::{execute, recover};
use crate::drill::{Drill, Refused, Stranded};
use crate::error::Exit;
use crate::playbook::{self, Loaded};
use crate::report::Level;

/// Where a drill on one machine starts and goes: the live release, the one it rolls back to,
/// and the way back to the live one.
pub struct Course {
    pub current: String,
    pub target: String,
    back: Way,
}

/// How to deploy a release again as it was: its record (build, vars) and the playbook with its
/// vars, checked to name it still.
pub struct Way {
    record: Record,
    loaded: Loaded<DeployPlaybook>,
}

/// The way back to `release`, or why the playbook cannot take it there.
fn way(d: &Deploy, record: &Record) -> Result<Way, Refused> {
    let release = &record.release;
    let loaded = as_deployed(d.loaded, record).map_err(|e| e.message)?;
    let again = d.again(&loaded).map_err(|e| {
        format!(
            "the playbook no longer renders with the vars {release} was deployed with, so the drill could not return to it: {}",
            e.message
        )
    })?;
    if again.release != *release {
        return Err(format!(
            "with the vars {release} was deployed with, the playbook now names release '{}': the drill could not return to {release}",
            again.release
        ).into());
    }
    again
        .phases(release, Some(&record.vars))
        .map_err(|e| e.message)?;
    Ok(Way {
        record: record.clone(),
        loaded,
    })
}

/// The course from what is live, or why there is none (nothing changed): a drill starts from
/// a verified release, goes back to a verified one, and can undo every migration in between.
pub fn course(d: &Deploy, journal: &Releases, current: Option<String>) -> Result<Course, Refused> {
    let root = &d.layout.root;
    let Some(current) = current else {
        return Err(format!(
            "nothing is live under {}: a drill starts from a verified release",
            root.display()
        )
        .into());
    };
    let record = match journal.get(&current) {
        Some(r) if r.state == State::Verified && r.rolled_back_to.is_none() => r.clone(),
        Some(r) if r.rolled_back_to.is_some() => {
            return Err(format!(
                "the live release {current} has a rollback that was not verified: a drill starts from a verified release"
            ).into());
        }
        Some(r) => {
            return Err(format!(
                "the live release {current} is {}, not verified: a drill starts from a verified release",
                r.state.label()
            ).into());
        }
        None => {
            return Err(format!(
                "the live release {current} was not deployed by tend: a drill starts from a release tend verified"
            ).into());
        }
    };
    let target = rollback::target(journal, &current, None, root).map_err(|Refusal(_, why)| why)?;
    if !d.layout.target.is_dir(&d.layout.release(&target)) {
        return Err(format!(
            "releases/{target}, the rollback's target, is not there: the rollback could not switch to it"
        ).into());
    }
    let mut between: Vec<&Record> = journal.applied_after(&target);
    if !between.iter().any(|r| r.release == current) {
        between.push(&record);
    }
    for rec in between {
        let migrations = d.recorded_migrations(rec).map_err(|e| e.message)?;
        if let Some(m) = migrations.iter().find(|m| m.down.is_none()) {
            return Err(format!(
                "migration '{}' of {} has no `down`: the rollback cannot undo it (a backward-compatible one stays applied, and the roll forward would run its `up` a second time); a release keeps the migrations it was deployed with: give the migration a `down` and deploy a new release to rehearse its rollback",
                m.label, rec.release
            ).into());
        }
    }
    Ok(Course {
        current,
        target,
        back: way(d, &record)?,
    })
}

/// The playbook as `record` was deployed: its own vars under the ones the release recorded.
fn as_deployed(
    loaded: &Loaded<DeployPlaybook>,
    record: &Record,
) -> Result<Loaded<DeployPlaybook>, playbook::Diagnostic> {
    let mut back: Loaded<DeployPlaybook> =
        playbook::load_source(loaded.source.clone(), &Default::default())?;
    back.vars
        .extend(record.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(back)
}

/// Both legs on one machine (`host`, "" here): back to the previous verified release, then
/// forward to the one that was live. Whatever happens in the first leg, or a signal, the second
/// runs: the drill ends where it started. The exit code and the run's last line.
pub fn rehearse(drill: &Drill, r: &Runner, journal: &mut Releases, host: &str) -> (Exit, String) {
    let reporter = r.reporter;
    let said = |what: &str| {
        if host.is_empty() {
            what.to_string()
        } else {
            format!("{host}: {what}")
        }
    };
    // A deploy or drill killed here is taken back first, as a deploy would.
    if let recover::Recovered::TakenBack(o) = recover::interrupted(r, journal)
        && o.code == Exit::NOT_VERIFIED
    {
        return (o.code, o.message);
    }
    if let Err(why) = finish_killed(drill, r, journal, host) {
        drill.finding(said(&why.0));
        return (Exit::NOT_VERIFIED, why.0);
    }
    let course = match course(r.d, journal, r.d.layout.current_release()) {
        Ok(c) => c,
        Err(why) => {
            reporter.notice(Level::Error, format!("drill refused: {why}"));
            drill.finding(said(&why.0));
            return (Exit::FAILED, format!("nothing changed: {why}"));
        }
    };
    if crate::interrupt::requested() || crate::interrupt::late() {
        return (
            Exit::FAILED,
            "interrupted by a signal before anything changed".into(),
        );
    }
    let (current, target) = (course.current.as_str(), course.target.as_str());
    if let Err(why) = healthy(r, &course.back) {
        reporter.notice(Level::Error, format!("drill refused: {why}"));
        drill.finding(said(&why.0));
        return (Exit::FAILED, format!("nothing changed: {why}"));
    }
    // Noted before anything changes: a drill killed from here on is returned by the next.
    journal.drill = Some(DrillNote {
        from: current.to_string(),
        to: target.to_string(),
    });
    let layout = &r.d.layout;
    if let Err(e) = journal.save(&*layout.target, &layout.journal()) {
        let why = format!(
            "cannot write {}: {}; nothing changed",
            layout.journal().display(),
            crate::sys::describe_io(&e)
        );
        return (Exit::FAILED, why);
    }
    let t = drill.leg(reporter, host, "rollback", current, target);
    let (verified, told) = match rollback::manual(r, journal, Some(target)) {
        Ok(o) => (o.code == Exit::OK, o.message),
        Err(Refusal(_, why)) => (false, format!("refused: {why}")),
    };
    let back = drill.end(reporter, t, verified, told);
    // The way back must finish: a signal now is only noted.
    let interrupted = crate::interrupt::hold();
    if interrupted {
        reporter.notice(
            Level::Warn,
            format!("interrupted by a signal during the rollback leg: returning to {current}"),
        );
    }
    let forward = forward(drill, r, journal, &course.back, "forward", host);
    journal.drill = None;
    journal.save_or_warn(&*layout.target, &layout.journal(), reporter);
    let forward = match forward {
        Ok(leg) => leg,
        Err(why) => {
            reporter.notice(Level::Error, why.0.clone());
            return (Exit::NOT_VERIFIED, why.0);
        }
    };
    let legs = [back.clone(), forward.clone()];
    let mut exit = crate::drill::verdict(reporter, &legs);
    let message = if !forward.verified {
        format!(
            "the drill could NOT return to {current}: {}",
            forward.message
        )
    } else if !back.verified {
        format!(
            "the rollback to {target} is NOT verified ({}); the drill returned to {current}, live and verified",
            back.message
        )
    } else if interrupted {
        exit = exit.max(Exit::FAILED);
        format!("interrupted during the rollback leg; returned to {current}, live and verified")
    } else if exit == Exit::FAILED {
        let over: Vec<String> = legs
            .iter()
            .filter(|l| !l.within_budget())
            .map(|l| format!("the {} took {}", l.leg, crate::drill::took(l.took_ms)))
            .collect();
        format!(
            "{}, over the budget of {}; {current} is live and verified",
            over.join(" and "),
            humantime::format_duration(drill.budget.unwrap_or_default())
        )
    } else {
        format!(
            "rolled back to {target} in {} and forward to {current} in {}, each verified within {}",
            crate::drill::took(back.took_ms),
            crate::drill::took(forward.took_ms),
            humantime::format_duration(drill.budget.unwrap_or_default())
        )
    };
    if exit != Exit::OK {
        drill.finding(said(&message));
    }
    (exit, message)
}

/// A drill killed midway here (its note in the journal): its rollback finished, if it was
/// killed before the switch (a `down` it was running runs again, as `tend rollback` would run
/// it), and back to the release it started from, as its own last leg would have gone. Why not,
/// when it cannot be.
fn finish_killed(
    drill: &Drill,
    r: &Runner,
    journal: &mut Releases,
    host: &str,
) -> Result<(), Stranded> {
    let Some(note) = journal.drill.clone() else {
        return Ok(());
    };
    let (from, to) = (note.from.as_str(), note.to.as_str());
    r.reporter.notice(
        Level::Warn,
        format!("a drill was killed midway: returning to {from}, where it started, first"),
    );
    // Still on `from`: killed in its rollback leg, some `down`s perhaps run, one perhaps in
    // doubt. Redeployed as it is, its record would call them applied.
    if r.d.layout.current_release().as_deref() == Some(from) {
        let t = drill.leg(r.reporter, host, "rollback", from, to);
        let (verified, told) = match rollback::manual(r, journal, Some(to)) {
            Ok(o) => (o.code == Exit::OK, o.message),
            Err(Refusal(_, why)) => (false, format!("refused: {why}")),
        };
        drill.end(r.reporter, t, verified, told);
    } else if let Some(x) = journal.get_mut(from)
        && x.state == State::Verified
    {
        // Killed after its switch, before its record: what it left is no longer verified, and
        // not what a failed return may go back to.
        x.state = State::RolledBack;
        x.message = format!("a drill's rollback to {to}, killed after its switch");
    }
    let record = journal.get(from).cloned().ok_or_else(|| {
        format!("a killed drill started from {from}, which the journal no longer has")
    })?;
    // Where the playbook cannot take it back, it stays where the killed drill left it.
    let back = way(r.d, &record).map_err(|e| Stranded(e.0))?;
    let leg = forward(drill, r, journal, &back, "return", host)?;
    journal.drill = None;
    let layout = &r.d.layout;
    journal.save_or_warn(&*layout.target, &layout.journal(), r.reporter);
    if leg.verified {
        Ok(())
    } else {
        Err(format!(
            "the return to {from} after a killed drill is NOT verified: {}",
            leg.message
        )
        .into())
    }
}

/// The live release passes its own verify now: the journal says verified, the drill asks the
/// app (a release that went bad since is an incident to handle, not a drill to run).
fn healthy(r: &Runner, live: &Way) -> Result<(), Refused> {
    let release = live.record.release.as_str();
    let d = r.d.again(&live.loaded).map_err(|e| e.message)?;
    let phases = d
        .phases(release, Some(&live.record.vars))
        .map_err(|e| e.message)?;
    let runner = Runner {
        d: &d,
        reporter: r.reporter,
        target: r.target,
    };
    for p in &phases.verify {
        runner
            .probe(&format!("drill: {release} before: verify {}", p.label()), p)
            .map_err(|e| {
                format!(
                    "{release} does not pass its verify now ({}): that is an incident to handle, not a drill to run",
                    e.0
                )
            })?;
    }
    Ok(())
}

/// `back`'s release deployed again as it was (its vars, its build), as the leg named `leg`.
fn forward(
    drill: &Drill,
    r: &Runner,
    journal: &mut Releases,
    back: &Way,
    leg: &str,
    host: &str,
) -> Result<crate::drill::Leg, Stranded> {
    let release = back.record.release.as_str();
    let mut d = r.d.again(&back.loaded).map_err(|e| e.message)?;
    // The same build it ran, or none: the directory is still there, so nothing is fetched.
    if back.record.sha256.is_some() {
        d.artifact.sha256.clone_from(&back.record.sha256);
    }
    let phases = d
        .phases(release, Some(&back.record.vars))
        .map_err(|e| e.message)?;
    let runner = Runner {
        d: &d,
        reporter: r.reporter,
        target: r.target,
    };
    let from = d
        .layout
        .current_release()
        .unwrap_or_else(|| "(none)".into());
    let t = drill.leg(r.reporter, host, leg, &from, release);
    let o = execute::deploy(&runner, &phases, journal);
    let verified = o.code == Exit::OK && d.layout.current_release().as_deref() == Some(release);
    Ok(drill.end(r.reporter, t, verified, o.message))
}

/// Each leg's steps, or why the drill would refuse.
pub fn legs(d: &Deploy, journal: &Releases, current: Option<String>) -> String {
    let mut out = String::new();
    if let Some(note) = &journal.drill {
        // What this machine looks like after the return is not known before it is made.
        return format!(
            "  first: a drill killed midway is finished: its rollback to {} completed if it stopped before the switch, then back to {}; the legs follow from there\n",
            note.to, note.from
        );
    }
    let course = match course(d, journal, current) {
        Ok(c) => c,
        Err(why) => return format!("  refused: {why}\n"),
    };
    let (current, target) = (course.current.as_str(), course.target.as_str());
    if let Ok(live) = d.again(&course.back.loaded)
        && let Ok(p) = live.phases(current, Some(&course.back.record.vars))
        && !p.verify.is_empty()
    {
        out.push_str(&format!("  0. {current} as it is now\n"));
        for v in &p.verify {
            out.push_str(&format!(
                "       drill: {current} before: verify {}\n",
                v.label()
            ));
        }
    }
    out.push_str(&format!("  1. rollback {current} → {target}\n"));
    let render = || -> Result<String, playbook::Diagnostic> {
        let mut text = String::new();
        let leaving = d.phases(current, Some(&course.back.record.vars))?;
        let target_vars = journal.get(target).map(|x| x.vars.clone());
        let there = d.phases(target, target_vars.as_ref())?;
        let mut between: Vec<&Record> = journal.applied_after(target);
        if !between.iter().any(|r| r.release == current) {
            between.push(&course.back.record);
        }
        between.reverse();
        let mut migrations = vec![];
        for rec in &between {
            migrations.push((d.recorded_migrations(rec)?, d.layout.release(&rec.release)));
        }
        let rb = Rollback {
            stop: &leaving.stop,
            stop_dir: d.layout.release(current),
            downs: migrations
                .iter()
                .flat_map(|(ms, dir)| ms.iter().rev().map(move |m| (m, dir.clone())))
                .collect(),
            restore: vec![],
            target: Some(&there),
        };
        for step in rb.steps() {
            if step == Undo::Switch && !leaving.configure.is_empty() {
                text.push_str(&format!(
                    "       rollback: restore the config files {} changed\n",
                    between
                        .iter()
                        .map(|r| r.release.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            text.push_str(&format!("       {}\n", rb.name(step)));
        }
        text.push_str(&format!("  2. forward {target} → {current}\n"));
        let again = d.again(&course.back.loaded)?;
        let phases = again.phases(current, Some(&course.back.record.vars))?;
        for step in steps::forward(&phases) {
            let name = steps::name(step, &phases);
            let name = if step == steps::Step::Fetch {
                format!("{name} (its directory is still there: reused when its build is the same)")
            } else {
                name
            };
            text.push_str(&format!("       {name}\n"));
        }
        Ok(text)
    };
    match render() {
        Ok(t) => out.push_str(&t),
        Err(e) => out.push_str(&format!("  refused: {}\n", e.message)),
    }
    out.push_str(&format!(
        "  then {current} is live and verified, as before\n"
    ));
    out
}
