//! `tend deploy`, `tend rollback` and `tend releases` on this machine: the lock of the root
//! held around the one machine's code path (`on_machine.rs`) that each host of a fleet takes
//! too.

use crate::cli::{DeployArgs, RollbackArgs};
use crate::config::Config;
use crate::drill::{Asked, Drill};
use crate::engine::{Locking, Run};
use crate::error::{Error, Exit};
use crate::playbook::Loaded;
use crate::report::Level;

use super::on_machine;
use super::plan;
use super::releases::Releases;
use super::resolve::Deploy;
use super::run::{finish, start};
use super::runner::Runner;
use super::spec::DeployPlaybook;

/// `tend deploy` on this machine.
pub fn deploy(
    cfg: &Config,
    args: &DeployArgs,
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
) -> Result<Exit, Error> {
    let phases = d.phases(&d.release, None)?;
    let name = format!("{} {}", loaded.name(), d.release);
    let (run, mut journal) = match open_here(cfg, "deploy", loaded, d, name, args.lock.wait_lock)? {
        Here::Open(open) => *open,
        Here::Ended(exit) => return Ok(exit),
    };
    let reporter = run.reporter();
    let runner = Runner {
        d,
        reporter,
        target: &*d.layout.target,
    };
    // Releases pruned by the last deploy are deleted while this one runs.
    let deployed = std::thread::scope(|s| {
        let trash = s.spawn(|| d.layout.empty_trash());
        let deployed = on_machine::deploy(&runner, &phases, &mut journal);
        if let Ok(Err(e)) = trash.join() {
            reporter.notice(
                Level::Warn,
                format!(
                    "cannot empty {}: {}",
                    d.layout.trash().display(),
                    crate::sys::describe_io(&e)
                ),
            );
        }
        deployed
    });
    let outcome = match deployed {
        on_machine::Deployed::Stranded(o) => {
            let subject = format!(
                "an interrupted deploy could not be taken back: {}",
                d.release
            );
            return Ok(finish(run, d, o, &subject));
        }
        on_machine::Deployed::Ran(o) => o,
    };
    let subject = match outcome.code {
        Exit::OK => format!("deployed {}", d.release),
        Exit::FAILED if outcome.reason == "rollback" => {
            format!("deploy of {} FAILED, rolled back (verified)", d.release)
        }
        Exit::FAILED => format!("deploy of {} FAILED, nothing changed", d.release),
        _ => format!("deploy of {} FAILED, ROLLBACK NOT VERIFIED", d.release),
    };
    Ok(finish(run, d, outcome, &subject))
}

/// `tend rollback` on this machine.
pub fn rollback(
    cfg: &Config,
    args: &RollbackArgs,
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
) -> Result<Exit, Error> {
    let (run, mut journal) = match open_here(
        cfg,
        "rollback",
        loaded,
        d,
        loaded.name(),
        args.lock.wait_lock,
    )? {
        Here::Open(open) => *open,
        Here::Ended(exit) => return Ok(exit),
    };
    let reporter = run.reporter();
    let runner = Runner {
        d,
        reporter,
        target: &*d.layout.target,
    };
    let back = on_machine::roll_back(&runner, &mut journal, args.to.as_deref());
    let subject = match &back {
        on_machine::Back::Interrupted(o) if o.code == Exit::OK => {
            "interrupted deploy rolled back (verified)"
        }
        on_machine::Back::Interrupted(_) => "interrupted deploy: rollback NOT VERIFIED",
        on_machine::Back::Asked(o) if o.code == Exit::OK => "rolled back (verified)",
        on_machine::Back::Asked(o) if o.code == Exit::NOT_VERIFIED => "rollback NOT VERIFIED",
        // Said once, by the run's last line.
        _ => "rollback refused, nothing changed",
    };
    Ok(finish(run, d, back.outcome(), subject))
}

/// `tend releases` on this machine.
pub fn releases(cfg: &Config, d: &Deploy) -> Result<Exit, Error> {
    let (journal, current) = on_machine::releases(d)?;
    if cfg.json() {
        let v = serde_json::json!({
            "root": d.layout.root,
            "current": current,
            "last_verified": journal.last_verified(None).map(|r| &r.release),
            "releases": journal.releases,
        });
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(Exit::OK);
    }
    out!("{}", plan::table(d, &journal, current.as_deref()));
    Ok(Exit::OK)
}

/// A deploy or rollback on this machine before its first step, or how it ended there.
enum Here {
    Open(Box<(Run, Releases)>),
    Ended(Exit),
}

/// The root checked (and created, for a deploy), its lock held, the run recorded and the
/// journal read. A journal that cannot be read ends the run, said once by its last line.
fn open_here(
    cfg: &Config,
    kind: &'static str,
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
    name: String,
    wait: Option<std::time::Duration>,
) -> Result<Here, Error> {
    on_machine::usable(d)?;
    on_machine::check(d, kind == "deploy")?;
    let locking = Locking::At(d.layout.lock());
    let run = start(cfg, kind, &loaded.source, name, locking, wait)?;
    Ok(match on_machine::journal(d) {
        Ok(journal) => Here::Open(Box::new((run, journal))),
        Err(e) => Here::Ended(run.finish(Exit::FAILED, e.to_string())),
    })
}

/// `tend drill` on this machine: the root's lock held for both legs, as a deploy holds it.
pub fn drill(
    cfg: &Config,
    asked: &Asked,
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
    budget: std::time::Duration,
) -> Result<Exit, Error> {
    on_machine::usable(d)?;
    on_machine::check(d, false)?;
    let drill = Drill::start(
        cfg,
        &loaded.source,
        "deploy",
        format!("{} (deploy)", loaded.name()),
        Some(d.layout.lock()),
        asked,
        Some(budget),
    )?;
    let mut journal = match on_machine::journal(d) {
        Ok(j) => j,
        Err(e) => return Ok(drill.finish(cfg, asked, Exit::FAILED, e.to_string())),
    };
    let runner = Runner {
        d,
        reporter: drill.reporter(),
        target: &*d.layout.target,
    };
    let (exit, message) = super::drill::rehearse(&drill, &runner, &mut journal, "");
    Ok(drill.finish(cfg, asked, exit, message))
}

/// The legs on this machine, as `--dry-run` shows them.
pub fn legs(d: &Deploy, budget: std::time::Duration) -> Result<String, Error> {
    let journal = on_machine::journal(d)?;
    Ok(format!(
        "drill of {} on this machine, each leg within {}:\n{}",
        d.layout.root.display(),
        humantime::format_duration(budget),
        super::drill::legs(d, &journal, d.layout.current_release())
    ))
}
