//! `tend cleanup`: compress, archive and expire files by rule, and free a mount below a target,
//! without ever losing a byte.

mod archive;
mod beneath;
mod compress;
mod delete;
mod doing;
mod fleet;
mod gzip;
mod hand;
mod job;
mod preview;
mod resolve;
mod run;
mod select;
mod spec;

use std::sync::Arc;

use crate::cli::{CleanupArgs, VarArgs};
use crate::config::Config;
use crate::error::{Error, Exit};
use crate::playbook::{self, Diagnostic, Loaded, Source};
pub(crate) use resolve::ALERT_REASONS;
use resolve::resolve;
pub use run::Outcome;
use run::{For, How, execute};
pub use spec::CleanupPlaybook;

pub fn validate(source: std::sync::Arc<Source>, args: &VarArgs) -> Result<String, Diagnostic> {
    let loaded: Loaded<CleanupPlaybook> = playbook::load_source(source, args)?;
    loaded.print_secret_warnings();
    let templater = loaded.templater(false)?;
    let targets = crate::fleet::targets(
        &loaded.scope(&templater),
        loaded.source.path.parent(),
        crate::fleet::Reached::reach(&loaded.body),
        None,
    )?;
    let rules = loaded.body.rules.len();
    match &targets {
        Some(t) => {
            fleet::resolved_on_each(&loaded, &templater, t, false)?;
        }
        None => {
            resolve(&loaded, templater, false)?;
        }
    }
    Ok(format!(
        "cleanup, {rules} rules{}",
        crate::fleet::noted(targets.as_ref())
    ))
}

pub fn run(cfg: &Config, args: &CleanupArgs) -> Result<Exit, Error> {
    let how = if args.dry_run {
        // A dry run only reads: it waits for no run and is not recorded as one.
        How::DryRun
    } else {
        How::Run {
            wait: args.lock.wait_lock,
        }
    };
    if args.from_controller {
        // A controller's part on this host: the playbook on stdin.
        let envelope = crate::fleet::envelope::Envelope::read()?;
        let (how, jobs) = match envelope.dry_run {
            true => (How::DryRun, envelope.jobs),
            false => (how, envelope.jobs),
        };
        let loaded: Loaded<CleanupPlaybook> = envelope.load()?;
        return execute(cfg, &loaded, how, jobs, For::Controller);
    }
    let Some(path) = &args.playbook else {
        return Err(Error::Usage("a cleanup playbook is needed".into()));
    };
    let loaded: Loaded<CleanupPlaybook> = playbook::load(path, &args.vars)?;
    if let Some(targets) = fleet::targets(&loaded, args.hosts.limit.as_deref())? {
        return fleet::run(cfg, args, &loaded, &targets);
    }
    execute(cfg, &loaded, how, args.jobs, For::Here)
}

/// `tend plan` on a cleanup playbook: its dry run, listed on stdout as a plan.
pub fn plan(cfg: &Config, source: Arc<Source>, vars: &VarArgs) -> Result<Exit, Error> {
    let loaded: Loaded<CleanupPlaybook> = playbook::load_source(source, vars)?;
    // Across hosts, what each would do is on each: a dry run there.
    if let Some(targets) = fleet::targets(&loaded, None)? {
        let args = CleanupArgs {
            dry_run: true,
            vars: vars.clone(),
            ..Default::default()
        };
        return fleet::run(cfg, &args, &loaded, &targets);
    }
    execute(cfg, &loaded, How::Plan, None, For::Here)
}
