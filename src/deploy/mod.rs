//! `tend deploy`, `tend rollback`, `tend releases` and `tend plan` for deploy playbooks: every
//! release the same sequence, and a rollback that ends verified or says loudly that it did not.

mod configure;
mod execute;
mod fetch;
mod fleet;
mod layout;
mod plan;
mod prune;
pub(super) mod recover;
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
use releases::Releases;
use resolve::Deploy;
use runner::Outcome;
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
    loaded.print_secret_warnings();
    let d = Deploy::resolve(&loaded, false, true)?;
    let (first, hosts) = match d.fleet(None)? {
        Some(f) => (
            Some(d.check_hosts(&f)?),
            format!(", {} hosts", f.hosts.len()),
        ),
        None => (None, String::new()),
    };
    let d = first.as_ref().unwrap_or(&d);
    let p = d.phases(&d.release, None)?;
    let steps = steps::forward(&p).len();
    let warnings = plan::warnings(d, &p);
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    Ok(format!(
        "deploy, release {}, {steps} steps{hosts}",
        d.release
    ))
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
    let shown = if cli.output == crate::cli::Output::Json {
        plan::build(d, fleet.as_ref()).map(|doc| {
            let mut json = serde_json::to_string_pretty(&doc).unwrap_or_default();
            json.push('\n');
            json
        })
    } else {
        plan::render(d, fleet.as_ref())
    };
    match shown {
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
        if code == exit::OK && cli.output != crate::cli::Output::Json {
            println!("dry run: nothing was touched");
        }
        return code;
    }
    match d.fleet(args.hosts.limit.as_deref()) {
        Ok(None) => {}
        Ok(Some(f)) => return deploy_fleet(cli, args, &loaded, d, &f),
        Err(diag) => {
            eprint!("{}", diag.render(color(cli)));
            return exit::USAGE;
        }
    }
    let phases = match d.phases(&d.release, None) {
        Ok(p) => p,
        Err(diag) => {
            eprint!("{}", diag.render(color(cli)));
            return exit::USAGE;
        }
    };
    if let Err(why) = d.layout.check_links() {
        eprintln!("tend: {why}");
        return exit::FAILED;
    }
    if let Err(e) = d.layout.prepare() {
        eprintln!(
            "tend: cannot prepare {}: {}",
            d.layout.root.display(),
            crate::sys::describe_io(&e)
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
    // A deploy killed midway is taken back first; if that is not verified, nothing more runs.
    if let recover::Recovered::TakenBack(o) = recover::interrupted(&runner, &mut journal)
        && o.code == exit::NOT_VERIFIED
    {
        let subject = format!(
            "an interrupted deploy could not be taken back: {}",
            d.release
        );
        return finish(&runner, &loaded, &args.playbook, &o, &subject);
    }
    crate::interrupt::unshield();
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
                    crate::sys::describe_io(&e)
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

/// `tend deploy` to hosts over SSH: the artifact verified once here, then batch by batch.
fn deploy_fleet(
    cli: &Cli,
    args: &DeployArgs,
    loaded: &Loaded<DeployPlaybook>,
    mut d: Deploy,
    fleet: &resolve::Fleet,
) -> i32 {
    // Every host's templates render before any host is touched.
    if let Err(diag) = d.check_hosts(fleet) {
        eprint!("{}", diag.render(color(cli)));
        return exit::USAGE;
    }
    let ssh = match ssh_spec(cli, loaded, &d) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let started = match crate::run::start(
        cli,
        "deploy",
        Some(&args.playbook),
        format!(
            "{} {} to {}",
            loaded.name(),
            d.release,
            fleet::hosts(fleet.hosts.len())
        ),
        Options::from_cli(cli),
        args.lock.wait_lock,
        None,
    ) {
        Ok(s) => s,
        Err(e) => return crate::run::refused(&e),
    };
    crate::interrupt::install();
    let reporter = &started.reporter;
    // Fetched and checksum-verified once, here; every host gets these bytes.
    let name = format!("fetch {}", d.release);
    let begun = std::time::Instant::now();
    reporter.emit(crate::report::Event::StepStarted {
        step: name.clone(),
        target: String::new(),
    });
    // The first hosts connect while the artifact is read here; none is touched before it passed.
    let early = if d.artifact.on_hosts {
        fleet::Early::default()
    } else {
        let first: Vec<&crate::inventory::Host> = fleet
            .batches
            .first()
            .into_iter()
            .flatten()
            .take(args.forks.get())
            .map(|i| &fleet.hosts[*i])
            .collect();
        fleet::Early::start(&first, &ssh)
    };
    let staged = if d.artifact.on_hosts {
        // Each host downloads and checks it itself.
        Ok((
            d.artifact.clone(),
            fetch::Fetched {
                sha256: d.artifact.sha256.clone().unwrap_or_default(),
                bytes: 0,
                entries: 0,
                cached: false,
            },
        ))
    } else {
        fetch::stage(&d.artifact, &started.state.join("cache"))
    };
    let (status, message) = match &staged {
        Ok((_, f)) if d.artifact.on_hosts => (
            crate::report::Status::Ok,
            format!(
                "{}: each of {} downloads it and checks sha256 {} itself (fetch.on: hosts)",
                d.artifact.shown(),
                fleet::hosts(fleet.hosts.len()),
                execute::short(&f.sha256)
            ),
        ),
        Ok((_, f)) => (
            crate::report::Status::Ok,
            format!(
                "{} ({}, sha256 {}{}), for {}",
                d.artifact.shown(),
                crate::playbook::units::Size(f.bytes),
                execute::short(&f.sha256),
                if d.artifact.sha256.is_some() {
                    ", verified"
                } else {
                    ", no checksum given"
                },
                fleet::hosts(fleet.hosts.len())
            ),
        ),
        Err(e) => (crate::report::Status::Failed, e.to_string()),
    };
    reporter.emit(crate::report::Event::StepFinished {
        step: name.clone(),
        target: String::new(),
        status,
        elapsed_ms: begun.elapsed().as_millis() as u64,
        message: message.clone(),
    });
    let artifact = match staged {
        Ok((a, _)) => a,
        Err(_) => {
            let message = format!("{name} failed: {message}; no host was touched");
            reporter.run_finished(exit::FAILED, message);
            reporter.finish();
            return exit::FAILED;
        }
    };
    d.artifact = artifact;
    let mut ctx = fleet_ctx(&d, ssh, reporter, args.forks);
    ctx.early = early;
    let (outcome, runs) = fleet::deploy(&ctx, fleet);
    let story = summary(reporter, &runs, &d.release);
    let subject = match outcome.code {
        exit::OK => format!("deployed {} to {}", d.release, fleet::hosts(runs.len())),
        exit::FAILED => format!("deploy of {} FAILED, hosts verified", d.release),
        _ => format!("deploy of {} FAILED, HOSTS NOT VERIFIED", d.release),
    };
    let result = Outcome {
        code: outcome.code,
        message: outcome.message,
        reason: outcome.reason,
    };
    alert(
        &d,
        reporter,
        loaded,
        &args.playbook,
        &result,
        &subject,
        &story,
    );
    reporter.run_finished(result.code, result.message.clone());
    reporter.finish();
    result.code
}

fn ssh_spec(
    cli: &Cli,
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
) -> Result<crate::target::ssh::SshSpec, i32> {
    match &loaded.body.ssh {
        Some(s) => s
            .render(&loaded.scope(&d.templater).at("ssh"))
            .map_err(|diag| {
                eprint!("{}", diag.render(color(cli)));
                exit::USAGE
            }),
        None => Ok(Default::default()),
    }
}

fn fleet_ctx<'a, 'd>(
    d: &'d Deploy<'a>,
    ssh: crate::target::ssh::SshSpec,
    reporter: &'d crate::report::Reporter,
    forks: crate::cli::ForkArgs,
) -> fleet::Ctx<'a, 'd> {
    fleet::Ctx {
        d,
        ssh,
        reporter,
        forks: forks.get(),
        holder: format!(
            "run {} by {}@{} (pid {}) since {}",
            reporter.run(),
            crate::sys::username(),
            crate::sys::hostname(),
            std::process::id(),
            crate::report::now_rfc3339()
        ),
        early: fleet::Early::default(),
    }
}

/// A line per host saying where it stands (grep-able by host), and the alert's story.
fn summary(
    reporter: &crate::report::Reporter,
    runs: &[fleet::HostRun],
    release: &str,
) -> Vec<String> {
    let mut story = vec![];
    for run in runs {
        let (level, line) = fleet::describe(run, release);
        reporter
            .for_host(&run.host.name)
            .notice(level, format!("summary: {line}"));
        story.push(format!("{}: {line}", run.host.name));
    }
    for run in runs {
        story.extend(run.story.iter().map(|l| format!("{}: {l}", run.host.name)));
    }
    story
}

/// `tend rollback` across a fleet: every host at once, each back to `--to` or its own previous
/// verified release.
fn rollback_fleet(
    cli: &Cli,
    args: &RollbackArgs,
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
    fleet: &resolve::Fleet,
) -> i32 {
    let ssh = match ssh_spec(cli, loaded, d) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let started = match crate::run::start(
        cli,
        "rollback",
        Some(&args.playbook),
        format!("{} on {}", loaded.name(), fleet::hosts(fleet.hosts.len())),
        Options::from_cli(cli),
        args.lock.wait_lock,
        None,
    ) {
        Ok(s) => s,
        Err(e) => return crate::run::refused(&e),
    };
    crate::interrupt::install();
    let reporter = &started.reporter;
    let ctx = fleet_ctx(d, ssh, reporter, args.forks);
    let (code, runs) = fleet::rollback(&ctx, fleet, args.to.as_deref());
    let story = summary(reporter, &runs, "");
    let n = runs.len();
    let (subject, message) = match code {
        exit::OK => (
            "rolled back (verified)".to_string(),
            format!("rolled back {n} hosts, each verified"),
        ),
        exit::NOT_VERIFIED => (
            "rollback NOT VERIFIED".to_string(),
            "rollback NOT VERIFIED on some hosts: see the summary".to_string(),
        ),
        _ => (
            "rollback refused on some hosts".to_string(),
            "not every host was rolled back: see the summary".to_string(),
        ),
    };
    let outcome = Outcome {
        code,
        message,
        reason: if code == exit::OK {
            "rollback"
        } else {
            "failure"
        },
    };
    alert(
        d,
        reporter,
        loaded,
        &args.playbook,
        &outcome,
        &subject,
        &story,
    );
    reporter.run_finished(outcome.code, outcome.message.clone());
    reporter.finish();
    outcome.code
}

/// `tend releases` across a fleet: a host × release table.
fn releases_fleet(
    cli: &Cli,
    args: &ReleasesArgs,
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
    fleet: &resolve::Fleet,
) -> i32 {
    let ssh = match ssh_spec(cli, loaded, d) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // Not a run: only problems (an unreachable host) are reported as it goes.
    let opts = Options {
        quiet: true,
        ..Options::from_cli(cli)
    };
    let reporter = crate::report::Reporter::new(opts, crate::journal::new_run_id(), None);
    let ctx = fleet_ctx(d, ssh, &reporter, args.forks);
    let hosts = fleet::releases(&ctx, fleet);
    let failed = hosts.iter().any(|(_, r)| r.is_err());
    if cli.output == crate::cli::Output::Json {
        let v: Vec<serde_json::Value> = hosts
            .iter()
            .map(|(name, r)| match r {
                Ok((journal, current)) => serde_json::json!({
                    "host": name,
                    "current": current,
                    "last_verified": journal.last_verified(None).map(|r| &r.release),
                    "releases": journal.releases,
                }),
                Err(e) => serde_json::json!({ "host": name, "error": e }),
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "hosts": v })).unwrap_or_default()
        );
    } else {
        print!("{}", plan::fleet_table(&hosts));
    }
    if failed { exit::FAILED } else { exit::OK }
}

/// Read the host journal, and report (and close) deploys that were killed mid-way.
fn open_journal(d: &Deploy, reporter: &crate::report::Reporter) -> Result<Releases, i32> {
    let path = d.layout.journal();
    Releases::load(&*d.layout.target, &path).map_err(|e| {
        reporter.notice(
            Level::Error,
            format!(
                "cannot read {}: {}",
                path.display(),
                crate::sys::describe_io(&e)
            ),
        );
        reporter.finish();
        exit::FAILED
    })
}

fn finish(
    runner: &Runner,
    loaded: &Loaded<DeployPlaybook>,
    playbook: &Path,
    outcome: &Outcome,
    subject: &str,
) -> i32 {
    alert(
        runner.d,
        runner.reporter,
        loaded,
        playbook,
        outcome,
        subject,
        &runner.story.borrow(),
    );
    runner
        .reporter
        .run_finished(outcome.code, outcome.message.clone());
    runner.reporter.finish();
    outcome.code
}

/// The email and webhook alert for a deploy or rollback, for the reasons the playbook wants.
fn alert(
    d: &Deploy,
    reporter: &crate::report::Reporter,
    loaded: &Loaded<DeployPlaybook>,
    playbook: &Path,
    outcome: &Outcome,
    subject: &str,
    story: &[String],
) {
    let reasons: &[&str] = match outcome.reason {
        "rollback" => &["rollback", "failure"],
        "failure" => &["failure"],
        _ => &["success"],
    };
    if let Some(reason) = reasons.iter().find(|r| d.notifier.wants(r)) {
        let host = crate::sys::hostname();
        let alert = crate::notify::Alert {
            subject: format!("[tend] {host}: {} '{}': {subject}", "deploy", loaded.name()),
            body: format!(
                "tend {} on {host} (run {}):\n\n{}\n\n{}\n",
                playbook.display(),
                reporter.run(),
                outcome.message,
                story.join("\n")
            ),
            reason: reason.to_string(),
        };
        for sent in d.notifier.send(&alert) {
            match sent {
                Ok(what) => reporter.notice(Level::Info, format!("alert sent: {what}")),
                Err(why) => reporter.notice(Level::Error, format!("alert not delivered: {why}")),
            }
        }
    }
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
    match d.fleet(args.hosts.limit.as_deref()) {
        Ok(None) => {}
        Ok(Some(f)) => return rollback_fleet(cli, args, &loaded, &d, &f),
        Err(diag) => {
            eprint!("{}", diag.render(color(cli)));
            return exit::USAGE;
        }
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
    if let Err(why) = layout.check_links() {
        eprintln!("tend: {why}");
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
    // A deploy killed midway is taken back first: that is the rollback asked for, unless
    // `--to` names a release further back.
    let recovered = recover::interrupted(&runner, &mut journal);
    if let recover::Recovered::TakenBack(o) = &recovered
        && (o.code == exit::NOT_VERIFIED
            || args.to.is_none()
            || args.to.as_deref() == d.layout.current_release().as_deref())
    {
        let o = Outcome {
            code: if o.code == exit::NOT_VERIFIED {
                exit::NOT_VERIFIED
            } else {
                exit::OK
            },
            message: o.message.clone(),
            reason: o.reason,
        };
        let subject = if o.code == exit::OK {
            "interrupted deploy rolled back (verified)"
        } else {
            "interrupted deploy: rollback NOT VERIFIED"
        };
        return finish(&runner, &loaded, &args.playbook, &o, subject);
    }
    crate::interrupt::unshield();
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
    match d.fleet(args.hosts.limit.as_deref()) {
        Ok(None) => {}
        Ok(Some(f)) => return releases_fleet(cli, args, &loaded, &d, &f),
        Err(diag) => {
            eprint!("{}", diag.render(color(cli)));
            return exit::USAGE;
        }
    }
    let journal = match Releases::load(&*d.layout.target, &d.layout.journal()) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("tend: {}", crate::sys::describe_io(&e));
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
