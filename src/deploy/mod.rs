//! `tend deploy`, `tend rollback`, `tend releases` and `tend plan` for deploy playbooks: every
//! release the same sequence, and a rollback that ends verified or says loudly that it did not.

mod configure;
mod drill;
mod execute;
mod fetch;
mod fleet;
mod here;
mod layout;
mod on_machine;
mod plan;
mod prune;
pub(super) mod recover;
mod releases;
mod resolve;
mod rollback;
mod run;
mod runner;
mod spec;
mod steps;
mod undo;

use std::sync::Arc;

use crate::cli::{DeployArgs, DrillArgs, ReleasesArgs, RollbackArgs, VarArgs};
use crate::config::Config;
use crate::drill::{Asked, DrillSpec};
use crate::error::{Error, Exit};
use crate::playbook::{self, Diagnostic, Loaded, Source};
pub(crate) use resolve::ALERT_REASONS;
use resolve::Deploy;
pub use spec::DeployPlaybook;

pub fn validate(source: Arc<Source>, args: &VarArgs) -> Result<String, Diagnostic> {
    let loaded: Loaded<DeployPlaybook> = playbook::load_source(source, args)?;
    loaded.print_secret_warnings();
    let d = Deploy::resolve(&loaded, false, true)?;
    crate::drill::DrillSpec::budget(
        loaded.body.drill.as_ref(),
        &loaded.scope(&d.templater),
        false,
    )?;
    let (first, hosts, mut warnings) = match d.fleet(None)? {
        Some(mut f) => {
            let first = d.check_hosts(&f)?;
            let warnings = std::mem::take(&mut f.warnings);
            let hosts = format!(", {}", fleet::hosts(f.hosts.len()));
            // Freeing 5,000 hosts one by one was a tenth of validate; the exit frees them at once.
            std::mem::forget(f);
            (Some(first), hosts, warnings)
        }
        None => (None, String::new(), vec![]),
    };
    let d = first.as_ref().unwrap_or(&d);
    let p = d.phases(&d.release, None)?;
    let steps = steps::forward(&p).len();
    warnings.extend(plan::warnings(d, &p));
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    Ok(format!(
        "deploy, release {}, {steps} steps{hosts}",
        d.release
    ))
}

/// How a plan reads a fleet: each host's journal over SSH, unless `offline`.
pub struct Reading {
    pub offline: bool,
    pub forks: crate::cli::ForkArgs,
}

pub fn plan(
    cfg: &Config,
    source: Arc<Source>,
    vars: &VarArgs,
    limit: Option<&str>,
    reading: Reading,
) -> Result<Exit, Error> {
    let loaded: Loaded<DeployPlaybook> = playbook::load_source(source, vars)?;
    let d = Deploy::resolve(&loaded, false, true)?;
    let (forks, offline) = (reading.forks, reading.offline);
    show_plan(cfg, &loaded, &d, limit, reading)?;
    if loaded.body.drill.is_some() && !cfg.json() {
        if offline && d.fleet(limit)?.is_some() {
            outln!(
                "drill: each host's legs come from its releases: `tend drill --dry-run` reads them"
            );
        } else {
            out!("{}", planned(cfg, &loaded, &d, limit, forks)?);
        }
    }
    Ok(Exit::OK)
}

/// The plan on stdout; a fleet's hosts are read (read only, no lock) for their rollback
/// targets.
fn show_plan(
    cfg: &Config,
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
    limit: Option<&str>,
    reading: Reading,
) -> Result<Exit, Error> {
    let fleet = d.fleet(limit)?;
    let hosts = match &fleet {
        Some(f) if !reading.offline => {
            fleet::command::read_hosts(cfg, loaded, d, f, reading.forks)?
        }
        _ => vec![],
    };
    let text = if cfg.json() {
        let doc = plan::build(d, fleet.as_ref(), &hosts)?;
        let mut json = serde_json::to_string_pretty(&doc).unwrap_or_default();
        json.push('\n');
        json
    } else {
        plan::render(d, fleet.as_ref(), &hosts)?
    };
    out!("{text}");
    // As in `validate`: the exit frees a big fleet at once, not host by host.
    std::mem::forget(fleet);
    Ok(Exit::OK)
}

pub fn run(cfg: &Config, args: &DeployArgs) -> Result<Exit, Error> {
    let loaded: Loaded<DeployPlaybook> = playbook::load(&args.playbook, &args.vars)?;
    // A dry run reads no secrets: it shows where they go, never what they are.
    let d = Deploy::resolve(&loaded, !args.dry_run, true)?;
    if args.dry_run {
        let reading = Reading {
            offline: false,
            forks: args.forks,
        };
        show_plan(cfg, &loaded, &d, args.hosts.limit.as_deref(), reading)?;
        if !cfg.json() {
            outln!("dry run: nothing was touched");
        }
        return Ok(Exit::OK);
    }
    match d.fleet(args.hosts.limit.as_deref())? {
        Some(f) => {
            f.warn();
            fleet::command::deploy(cfg, args, &loaded, d, &f)
        }
        None => here::deploy(cfg, args, &loaded, &d),
    }
}

pub fn rollback(cfg: &Config, args: &RollbackArgs) -> Result<Exit, Error> {
    let loaded: Loaded<DeployPlaybook> = playbook::load(&args.playbook, &args.vars)?;
    let d = Deploy::resolve(&loaded, true, false)?;
    match d.fleet(args.hosts.limit.as_deref())? {
        Some(f) => {
            f.warn();
            fleet::command::rollback(cfg, args, &loaded, &d, &f)
        }
        None => here::rollback(cfg, args, &loaded, &d),
    }
}

pub fn releases(cfg: &Config, args: &ReleasesArgs) -> Result<Exit, Error> {
    let loaded: Loaded<DeployPlaybook> = playbook::load(&args.playbook, &args.vars)?;
    let d = Deploy::resolve(&loaded, false, false)?;
    match d.fleet(args.hosts.limit.as_deref())? {
        Some(f) => {
            f.warn();
            fleet::command::releases(cfg, args, &loaded, &d, &f)
        }
        None => here::releases(cfg, &d),
    }
}

/// `tend drill` on a deploy playbook: back to the previous verified release and forward again.
pub fn drill(cfg: &Config, source: Arc<Source>, args: &DrillArgs) -> Result<Exit, Error> {
    if args.trip.is_some() {
        return Err(Error::Usage(
            "--trip is for a check playbook's drill".into(),
        ));
    }
    let loaded: Loaded<DeployPlaybook> = playbook::load_source(source, &args.vars)?;
    let spec = loaded.body.drill.as_ref();
    let templater = loaded.templater(false)?;
    let budget = DrillSpec::budget(spec, &loaded.scope(&templater), false)?;
    // A dry run reads no secrets, as a deploy's does not.
    let d = Deploy::resolve(&loaded, !args.dry_run, false)?;
    if args.dry_run {
        let text = planned(cfg, &loaded, &d, args.hosts.limit.as_deref(), args.forks)?;
        outln!("{text}dry run: nothing was touched");
        return Ok(Exit::OK);
    }
    let fleet = d.fleet(args.hosts.limit.as_deref())?;
    crate::drill::consented(spec, args.yes, &loaded.source.path)?;
    let asked = Asked::of(args)?;
    match &fleet {
        Some(f) => {
            f.warn();
            fleet::drill::drill(cfg, &asked, &loaded, &d, f, budget)
        }
        None => here::drill(cfg, &asked, &loaded, &d, budget),
    }
}

/// The legs as they would run from what is live now (`--dry-run`, `tend plan`): a fleet's
/// hosts are read over SSH, read only.
pub fn planned(
    cfg: &Config,
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
    limit: Option<&str>,
    forks: crate::cli::ForkArgs,
) -> Result<String, Error> {
    let templater = loaded.templater(false)?;
    let budget = DrillSpec::budget(loaded.body.drill.as_ref(), &loaded.scope(&templater), false)?;
    match d.fleet(limit)? {
        Some(f) => fleet::drill::dry_run(cfg, forks, loaded, d, &f, budget),
        None => here::legs(d, budget),
    }
}
