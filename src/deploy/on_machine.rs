//! What a deploy, a rollback and `tend releases` do on one machine, this one or a host over
//! SSH: the single code path a local run and each host of a fleet take. A local deploy is a
//! fleet of one whose machine is here; only what surrounds it differs (a fleet connects, takes
//! each host's lock and goes batch by batch; a local run holds the lock of its root).

use super::recover::{self, Recovered};
use super::releases::Releases;
use super::resolve::{Deploy, Phases};
use super::rollback;
use super::runner::{Ending, Runner};
use super::{execute, layout::Refused};
use crate::error::{Error, Exit};

/// No symlink among the root's own directories and records: checked before the lock file in
/// there is opened.
pub fn usable(d: &Deploy) -> Result<(), Error> {
    d.layout.check_links().map_err(refused)
}

/// The root is created for a deploy (a first deploy starts from nothing), and holds a journal
/// for a rollback.
pub fn check(d: &Deploy, deploying: bool) -> Result<(), Error> {
    let layout = &d.layout;
    if deploying {
        layout
            .prepare()
            .map_err(|e| Error::io("prepare", &layout.root, e))
    } else if !layout.target.exists(&layout.journal()) {
        Err(Error::Failed(format!(
            "nothing was deployed under {} by tend (no {})",
            layout.root.display(),
            layout.journal().display()
        )))
    } else {
        Ok(())
    }
}

pub fn refused(e: Refused) -> Error {
    Error::Failed(e.to_string())
}

/// The machine's journal of releases.
pub fn journal(d: &Deploy) -> Result<Releases, Error> {
    let path = d.layout.journal();
    Releases::load(&*d.layout.target, &path).map_err(|e| Error::io("read", path, e))
}

/// The journal and the release `current` points to: what `tend releases` shows.
pub fn releases(d: &Deploy) -> Result<(Releases, Option<String>), Error> {
    Ok((journal(d)?, d.layout.current_release()))
}

/// How a deploy on one machine ended.
pub enum Deployed {
    /// A deploy killed midway here was taken back and that is not verified: nothing more ran.
    Stranded(Ending),
    Ran(Ending),
}

/// Deploy `phases`: a deploy killed midway here is taken back first.
pub fn deploy(r: &Runner, phases: &Phases, journal: &mut Releases) -> Deployed {
    if let Recovered::TakenBack(o) = recover::interrupted(r, journal)
        && o.code == Exit::NOT_VERIFIED
    {
        return Deployed::Stranded(o);
    }
    lift_shield(r);
    if let Some(note) = &journal.drill {
        // Its rollback may have stopped among its `down`s: a deploy of what is live would
        // take the migrations its record lists as applied.
        return Deployed::Ran(Ending {
            code: Exit::FAILED,
            message: format!(
                "a drill killed midway left {} between {} and {}: `tend drill` finishes it and returns to {}, `tend rollback` goes back instead; nothing was changed",
                r.d.layout.root.display(),
                note.from,
                note.to,
                note.from
            ),
            reason: "failure",
        });
    }
    Deployed::Ran(execute::deploy(r, phases, journal))
}

/// How a rollback on one machine ended.
pub enum Back {
    /// A deploy killed midway was taken back, which is the rollback asked for (or it could not
    /// be verified, and nothing more ran).
    Interrupted(Ending),
    /// Back to the release asked for (or the previous verified one).
    Asked(Ending),
    /// Refused, nothing changed: why, with the exit code.
    Refused(Ending),
}

impl Back {
    pub fn outcome(self) -> Ending {
        match self {
            Back::Interrupted(o) | Back::Asked(o) | Back::Refused(o) => o,
        }
    }
}

/// Back to `to`, or to the previous verified release. A deploy killed midway is taken back
/// first: that is the rollback asked for, unless `to` names a release further back.
pub fn roll_back(r: &Runner, journal: &mut Releases, to: Option<&str>) -> Back {
    if let Recovered::TakenBack(o) = recover::interrupted(r, journal)
        && (o.code == Exit::NOT_VERIFIED
            || to.is_none()
            || to == r.d.layout.current_release().as_deref())
    {
        let code = if o.code == Exit::NOT_VERIFIED {
            Exit::NOT_VERIFIED
        } else {
            Exit::OK
        };
        return Back::Interrupted(Ending { code, ..o });
    }
    lift_shield(r);
    // The operator chose where to go: a drill killed midway no longer returns anywhere.
    journal.drill = None;
    match rollback::manual(r, journal, to) {
        Ok(o) => Back::Asked(o),
        Err(rollback::Refusal(code, why)) => Back::Refused(Ending {
            code,
            message: why,
            reason: "failure",
        }),
    }
}

/// A takeback is over: a signal stops the steps again. Only where this machine is the run's
/// only one: on a fleet, another host may be rolling back, and its steps must finish.
fn lift_shield(r: &Runner) {
    if !r.target.is_remote() {
        crate::interrupt::unshield();
    }
}
