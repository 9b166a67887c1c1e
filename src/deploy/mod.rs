//! `tend deploy`, `tend rollback`, `tend releases` and `tend plan` for deploy playbooks: every
//! release the same sequence, and a rollback that ends verified or says loudly that it did not.

mod configure;
mod execute;
mod fetch;
mod layout;
mod plan;
mod prune;
mod releases;
mod resolve;
mod rollback;
mod runner;
mod spec;
mod steps;
mod undo;

use std::cell::RefCell;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use crate::cli::{Cli, DeployArgs, ReleasesArgs, RollbackArgs, VarArgs};
use crate::exit;
use crate::playbook::{self, Diagnostic, Loaded, Source};
use crate::report::{Level, Options};
use execute::Outcome;
use releases::{Releases, State};
use resolve::Deploy;
use runner::Runner;
pub use spec::DeployPlaybook;

fn color(cli: &Cli) -> bool {
    crate::report::color_enabled(cli.no_color, std::io::stderr().is_terminal())
}

fn load(cli: &Cli, path: &Path, vars: &VarArgs) -> Result<Loaded<DeployPlaybook>, i32> {
    playbook::load(path, vars).map_err(|d| {
        eprint!("{}", d.render(color(cli)));
        exit::USAGE
    })
}

fn resolved<'a>(
    cli: &Cli,
    loaded: &'a Loaded<DeployPlaybook>,
    real_secrets: bool,
    release_needed: bool,
) -> Result<Deploy<'a>, i32> {
    Deploy::resolve(loaded, real_secrets, release_needed).map_err(|d| {
        eprint!("{}", d.render(color(cli)));
        exit::USAGE
    })
}

pub fn validate(source: Arc<Source>, args: &VarArgs) -> Result<String, Diagnostic> {
    let loaded: Loaded<DeployPlaybook> = playbook::load_source(source, args)?;
    let d = Deploy::resolve(&loaded, false, true)?;
    let p = d.phases(&d.release, None)?;
    let steps = steps::forward(&p).len();
    let hosts = match d.fleet(None)? {
        Some(f) => format!(", {} hosts", f.hosts.len()),
        None => String::new(),
    };
    let warnings = plan::warnings(&d, &p);
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    Ok(format!(
        "deploy, release {}, {steps} steps{hosts}",
        d.release
    ))
}

/// Deploying to hosts over SSH is the next step; until then a fleet playbook is planned, not run.
fn local_only(cli: &Cli, d: &Deploy, limit: Option<&str>, what: &str) -> Result<(), i32> {
    match d.fleet(limit) {
        Ok(None) => Ok(()),
        Ok(Some(f)) => {
            eprintln!(
                "tend: {what} on {} hosts over SSH is not supported by this version of tend yet; `tend plan` shows the hosts and batches",
                f.hosts.len()
            );
            Err(exit::USAGE)
        }
        Err(diag) => {
            eprint!("{}", diag.render(color(cli)));
            Err(exit::USAGE)
        }
    }
}

pub fn plan(cli: &Cli, source: Arc<Source>, vars: &VarArgs, limit: Option<&str>) -> i32 {
    let loaded: Loaded<DeployPlaybook> = match playbook::load_source(source, vars) {
        Ok(l) => l,
        Err(d) => {
            eprint!("{}", d.render(color(cli)));
            return exit::USAGE;
        }
    };
    let d = match resolved(cli, &loaded, false, true) {
        Ok(d) => d,
        Err(code) => return code,
    };
    show_plan(cli, &d, limit)
}

fn show_plan(cli: &Cli, d: &Deploy, limit: Option<&str>) -> i32 {
    let fleet = match d.fleet(limit) {
        Ok(f) => f,
        Err(diag) => {
            eprint!("{}", diag.render(color(cli)));
            return exit::USAGE;
        }
    };
    match plan::render(d, fleet.as_ref()) {
        Ok(text) => {
            print!("{text}");
            exit::OK
        }
        Err(diag) => {
            eprint!("{}", diag.render(color(cli)));
            exit::USAGE
        }
    }
}

pub fn run(cli: &Cli, args: &DeployArgs) -> i32 {
    let loaded = match load(cli, &args.playbook, &args.vars) {
        Ok(l) => l,
        Err(code) => return code,
    };
    // A dry run reads no secrets: it shows where they go, never what they are.
    let d = match resolved(cli, &loaded, !args.dry_run, true) {
        Ok(d) => d,
        Err(code) => return code,
    };
    if args.dry_run {
        let code = show_plan(cli, &d, args.hosts.limit.as_deref());
        if code == exit::OK {
            println!("dry run: nothing was touched");
        }
        return code;
    }
    if let Err(code) = local_only(cli, &d, args.hosts.limit.as_deref(), "deploying") {
        return code;
    }
    let phases = match d.phases(&d.release, None) {
        Ok(p) => p,
        Err(diag) => {
            eprint!("{}", diag.render(color(cli)));
            return exit::USAGE;
        }
    };
    if let Err(e) = d.layout.prepare() {
        eprintln!(
            "tend: cannot prepare {}: {}",
            d.layout.root.display(),
            crate::describe_io(&e)
        );
        return exit::FAILED;
    }
    let started = match crate::run::start(
        cli,
        "deploy",
        Some(&args.playbook),
        format!("{} {}", loaded.name(), d.release),
        Options::from_cli(cli),
        args.lock.wait_lock,
        Some(d.layout.lock()),
    ) {
        Ok(s) => s,
        Err(e) => return crate::run::refused(&e),
    };
    crate::interrupt::install();
    let reporter = &started.reporter;
    let mut journal = match open_journal(&d, reporter) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let runner = Runner {
        d: &d,
        reporter,
        target: &*d.layout.target,
        story: RefCell::new(vec![]),
    };
    // Releases pruned by the last deploy are deleted while this one unpacks.
    let outcome = std::thread::scope(|s| {
        let trash = s.spawn(|| d.layout.empty_trash());
        let outcome = execute::deploy(&runner, &phases, &mut journal);
        if let Ok(Err(e)) = trash.join() {
            reporter.notice(
                Level::Warn,
                format!(
                    "cannot empty {}: {}",
                    d.layout.trash().display(),
                    crate::describe_io(&e)
                ),
            );
        }
        outcome
    });
    let subject = match outcome.code {
        exit::OK => format!("deployed {}", d.release),
        exit::FAILED if outcome.reason == "rollback" => {
            format!("deploy of {} FAILED, rolled back (verified)", d.release)
        }
        exit::FAILED => format!("deploy of {} FAILED, nothing changed", d.release),
        _ => format!("deploy of {} FAILED, ROLLBACK NOT VERIFIED", d.release),
    };
    finish(&runner, &loaded, &args.playbook, &outcome, &subject)
}

/// Read the host journal, and report (and close) deploys that were killed mid-way.
fn open_journal(d: &Deploy, reporter: &crate::report::Reporter) -> Result<Releases, i32> {
    let path = d.layout.journal();
    let mut journal = match Releases::load(&*d.layout.target, &path) {
        Ok(j) => j,
        Err(e) => {
            reporter.notice(
                Level::Error,
                format!("cannot read {}: {}", path.display(), crate::describe_io(&e)),
            );
            reporter.finish();
            return Err(exit::FAILED);
        }
    };
    let mut changed = false;
    for rec in journal
        .releases
        .iter_mut()
        .filter(|r| r.state == State::Deploying)
    {
        reporter.notice(
            Level::Warn,
            format!(
                "the deploy of {} (run {}, by {}, at {}) never finished: it was killed, so the app may be stopped, half-migrated or half-configured; current is {}",
                rec.release,
                rec.run,
                rec.by,
                rec.deployed_at,
                d.layout.current_release().unwrap_or_else(|| "(none)".into())
            ),
        );
        rec.state = State::Failed;
        rec.message = "interrupted: the run never finished".into();
        changed = true;
    }
    if changed {
        let _ = journal.save(&*d.layout.target, &path);
    }
    Ok(journal)
}

fn finish(
    runner: &Runner,
    loaded: &Loaded<DeployPlaybook>,
    playbook: &Path,
    outcome: &Outcome,
    subject: &str,
) -> i32 {
    let reporter = runner.reporter;
    let reasons: &[&str] = match outcome.reason {
        "rollback" => &["rollback", "failure"],
        "failure" => &["failure"],
        _ => &["success"],
    };
    if let Some(reason) = reasons.iter().find(|r| runner.d.notifier.wants(r)) {
        let host = crate::hostname();
        let alert = crate::notify::Alert {
            subject: format!("[tend] {host}: {} '{}': {subject}", "deploy", loaded.name()),
            body: format!(
                "tend {} on {host} (run {}):\n\n{}\n\n{}\n",
                playbook.display(),
                reporter.run(),
                outcome.message,
                runner.story.borrow().join("\n")
            ),
            reason: reason.to_string(),
        };
        for d in runner.d.notifier.send(&alert) {
            match d {
                Ok(what) => reporter.notice(Level::Info, format!("alert sent: {what}")),
                Err(why) => reporter.notice(Level::Error, format!("alert not delivered: {why}")),
            }
        }
    }
    reporter.run_finished(outcome.code, outcome.message.clone());
    reporter.finish();
    outcome.code
}

pub fn rollback(cli: &Cli, args: &RollbackArgs) -> i32 {
    let loaded = match load(cli, &args.playbook, &args.vars) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let d = match resolved(cli, &loaded, true, false) {
        Ok(d) => d,
        Err(code) => return code,
    };
    if let Err(code) = local_only(cli, &d, args.hosts.limit.as_deref(), "rolling back") {
        return code;
    }
    let layout = &d.layout;
    if !layout.journal().exists() {
        eprintln!(
            "tend: nothing was deployed under {} by tend (no {})",
            layout.root.display(),
            layout.journal().display()
        );
        return exit::FAILED;
    }
    let started = match crate::run::start(
        cli,
        "rollback",
        Some(&args.playbook),
        loaded.name(),
        Options::from_cli(cli),
        args.lock.wait_lock,
        Some(layout.lock()),
    ) {
        Ok(s) => s,
        Err(e) => return crate::run::refused(&e),
    };
    crate::interrupt::install();
    let reporter = &started.reporter;
    let mut journal = match open_journal(&d, reporter) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let runner = Runner {
        d: &d,
        reporter,
        target: &*d.layout.target,
        story: RefCell::new(vec![]),
    };
    let outcome = match rollback::manual(&runner, &mut journal, args.to.as_deref()) {
        Ok(o) => o,
        Err((code, why)) => {
            reporter.notice(Level::Error, why.clone());
            Outcome {
                code,
                message: why,
                reason: "failure",
            }
        }
    };
    let subject = match outcome.code {
        exit::OK => "rolled back (verified)".to_string(),
        exit::NOT_VERIFIED => "rollback NOT VERIFIED".to_string(),
        _ => "rollback refused, nothing changed".to_string(),
    };
    finish(&runner, &loaded, &args.playbook, &outcome, &subject)
}

pub fn releases(cli: &Cli, args: &ReleasesArgs) -> i32 {
    let loaded = match load(cli, &args.playbook, &args.vars) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let d = match resolved(cli, &loaded, false, false) {
        Ok(d) => d,
        Err(code) => return code,
    };
    if let Err(code) = local_only(cli, &d, args.hosts.limit.as_deref(), "listing releases") {
        return code;
    }
    let journal = match Releases::load(&*d.layout.target, &d.layout.journal()) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("tend: {}", crate::describe_io(&e));
            return exit::FAILED;
        }
    };
    let current = d.layout.current_release();
    if cli.output == crate::cli::Output::Json {
        let v = serde_json::json!({
            "root": d.layout.root,
            "current": current,
            "last_verified": journal.last_verified(None).map(|r| &r.release),
            "releases": journal.releases,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return exit::OK;
    }
    print!("{}", plan::table(&d, &journal, current.as_deref()));
    exit::OK
}
