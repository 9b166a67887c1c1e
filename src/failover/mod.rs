//! `tend failover`: the DNS failover SOP, decided by real queries. The active server is judged
//! down after `fall` failed rounds in a row, failed over after `grace`, fenced, the standby
//! promoted (forced when the fence failed) and verified; never twice within `hold_down`.

mod resolv;
mod resolve;
mod sequence;
mod show;
mod spec;
mod state;
mod watch;

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use crate::cli::{Cli, FailoverArgs, VarArgs};
use crate::exit;
use crate::playbook::{self, Diagnostic, Loaded, Source};
use crate::report::{Level, Options};
use resolve::Plan;
use sequence::Ctx;
use show::{dry_run, status};
pub use spec::FailoverPlaybook;
use state::State;
use watch::watch;

fn color(cli: &Cli) -> bool {
    crate::report::color_enabled(cli.no_color, std::io::stderr().is_terminal())
}

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
    for w in warnings(&plan) {
        eprintln!("warning: {w}");
    }
    Ok(format!("failover, {} servers", plan.servers.len()))
}

/// `tend plan` on a failover playbook: the dry run (it probes, and changes nothing).
pub fn plan(cli: &Cli, source: Arc<Source>, vars: &VarArgs) -> i32 {
    let path = source.path.clone();
    let loaded: Loaded<FailoverPlaybook> = match playbook::load_source(source, vars) {
        Ok(l) => l,
        Err(d) => {
            eprint!("{}", d.render(color(cli)));
            return exit::USAGE;
        }
    };
    let plan = match Plan::resolve(&loaded, false) {
        Ok(p) => p,
        Err(d) => {
            eprint!("{}", d.render(color(cli)));
            return exit::USAGE;
        }
    };
    let key = crate::lock::key_for(Some(&path), "failover");
    dry_run(
        &plan,
        &state_path(&crate::sys::state_dir(cli.state_dir.as_deref()), &key),
    )
}

fn state_path(state: &Path, key: &str) -> std::path::PathBuf {
    state.join("failover").join(format!("{key}.json"))
}

pub fn run(cli: &Cli, args: &FailoverArgs) -> i32 {
    let loaded: Loaded<FailoverPlaybook> = match playbook::load(&args.playbook, &args.vars) {
        Ok(l) => l,
        Err(d) => {
            eprint!("{}", d.render(color(cli)));
            return exit::USAGE;
        }
    };
    let plan = match Plan::resolve(&loaded, !args.dry_run && !args.status) {
        Ok(p) => p,
        Err(d) => {
            eprint!("{}", d.render(color(cli)));
            return exit::USAGE;
        }
    };
    let key = crate::lock::key_for(Some(&args.playbook), "failover");
    let path = state_path(&crate::sys::state_dir(cli.state_dir.as_deref()), &key);
    if args.status {
        return status(&plan, &path);
    }
    if args.dry_run {
        return dry_run(&plan, &path);
    }
    let started = match crate::run::start(
        cli,
        "failover",
        Some(&args.playbook),
        loaded.name(),
        Options::from_cli(cli),
        args.lock.wait_lock,
        None,
    ) {
        Ok(s) => s,
        Err(e) => return crate::run::refused(&e),
    };
    let reporter = &started.reporter;
    let state = match State::load(&path) {
        Ok(s) => s,
        Err(e) => {
            reporter.notice(Level::Error, crate::sys::describe_io(&e));
            reporter.finish();
            return exit::FAILED;
        }
    };
    // A signal ends a --watch between steps; a sequence under way finishes its step first.
    crate::interrupt::install();
    let mut ctx = Ctx {
        plan: &plan,
        reporter,
        state,
        state_path: &path,
        now: args.now,
        story: vec![],
    };
    let outcome = watch(&mut ctx, args.watch);
    reporter.run_finished(outcome.code, outcome.message);
    reporter.finish();
    outcome.code
}
