//! `tend failover`: the DNS failover SOP, decided by real queries. The active server is judged
//! down after `fall` failed rounds in a row, failed over after `grace`, fenced, the standby
//! promoted (forced when the fence failed) and verified; never twice within `hold_down`.

mod drill;
mod resolv;
mod resolve;
mod sequence;
mod show;
mod spec;
mod state;
mod watch;

use std::path::Path;
use std::sync::Arc;

use crate::cli::{FailoverArgs, VarArgs};
use crate::config::Config;
use crate::engine::{Locking, Run, Spec};
use crate::error::{Error, Exit};
use crate::playbook::{self, Diagnostic, Loaded, Source};
pub use drill::drill;
pub(crate) use resolve::ALERT_REASONS;
use resolve::Plan;
use sequence::Ctx;
use show::{dry_run, status};
pub use spec::FailoverPlaybook;
use state::State;
use watch::watch;

pub(crate) fn warnings(plan: &Plan) -> Vec<String> {
    let mut w = vec![];
    for path in plan.resolv_files() {
        match std::fs::read_to_string(&path) {
            Ok(text) => w.extend(resolv::warnings(&path, &text)),
            Err(e) => w.push(format!(
                "{}: {}",
                path.display(),
                crate::sys::describe_io(&e)
            )),
        }
    }
    w
}

pub fn validate(source: Arc<Source>, args: &VarArgs) -> Result<String, Diagnostic> {
    let loaded: Loaded<FailoverPlaybook> = playbook::load_source(source, args)?;
    loaded.print_secret_warnings();
    let plan = Plan::resolve(&loaded, false)?;
    if loaded.body.drill.is_some() {
        drill::how(&loaded, &plan)?;
    }
    for w in warnings(&plan) {
        eprintln!("warning: {w}");
    }
    Ok(format!("failover, {} servers", plan.servers.len()))
}

/// `tend plan` on a failover playbook: the dry run (it probes, and changes nothing).
pub fn plan(cfg: &Config, source: Arc<Source>, vars: &VarArgs) -> Result<Exit, Error> {
    let loaded: Loaded<FailoverPlaybook> = playbook::load_source(source, vars)?;
    let plan = Plan::resolve(&loaded, false)?;
    let path = state_path(&cfg.state, &loaded.source);
    let exit = dry_run(cfg, &plan, &path)?;
    if loaded.body.drill.is_some() && !cfg.json() {
        let how = drill::how(&loaded, &plan)?;
        out!("{}", drill::planned(cfg, &plan, &how, &path)?);
    }
    Ok(exit)
}

/// The playbook's state file, named as its lock is.
fn state_path(state: &Path, source: &Source) -> std::path::PathBuf {
    let key = crate::lock::key_for(Some((&source.path, &source.text)), "failover");
    state.join("failover").join(format!("{key}.json"))
}

pub fn run(cfg: &Config, args: &FailoverArgs) -> Result<Exit, Error> {
    let loaded: Loaded<FailoverPlaybook> = playbook::load(&args.playbook, &args.vars)?;
    let plan = Plan::resolve(&loaded, !args.dry_run && !args.status)?;
    let path = state_path(&cfg.state, &loaded.source);
    if args.status {
        return status(&plan, &path);
    }
    if args.dry_run {
        return dry_run(cfg, &plan, &path);
    }
    let run = Run::start(
        cfg,
        Spec {
            kind: "failover",
            playbook: Some(&loaded.source),
            name: loaded.name(),
            locking: Locking::Playbook,
            wait: args.lock.wait_lock,
            opts: cfg.report,
            // A signal ends a --watch between steps; a sequence under way finishes its step
            // first.
            undoes: true,
            record: true,
            listed: false,
            timed: false,
        },
    )?;
    let state = match State::load(&path) {
        Ok(s) => s,
        Err(e) => {
            // Said once, by the run's last line.
            let why = Error::io("read", &path, e).to_string();
            return Ok(run.finish(Exit::FAILED, why));
        }
    };
    let mut ctx = Ctx {
        plan: &plan,
        run: &run,
        reporter: run.reporter(),
        state,
        state_path: &path,
        now: args.now,
        drilling: false,
    };
    let outcome = watch(&mut ctx, args.watch);
    Ok(run.finish(outcome.code, outcome.message))
}
