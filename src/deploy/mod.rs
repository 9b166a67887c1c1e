//! `tend deploy`, `tend rollback`, `tend releases` and `tend plan` for deploy playbooks: every
//! release the same sequence, and a rollback that ends verified or says loudly that it did not.

mod configure;
mod execute;
mod fetch;
mod fleet;
mod layout;
mod on_machine;
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

use std::sync::Arc;

use crate::cli::{DeployArgs, ReleasesArgs, RollbackArgs, VarArgs};
use crate::config::Config;
use crate::engine::{Locking, Run, Spec};
use crate::error::{Error, Exit};
use crate::playbook::{self, Diagnostic, Loaded, Source};
use crate::report::Level;
use resolve::Deploy;
use runner::Outcome;
use runner::Runner;
pub use spec::DeployPlaybook;

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
    show_plan(cfg, &loaded, &d, limit, reading)
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
        Some(f) if !reading.offline => read_hosts(cfg, loaded, d, f, reading.forks)?,
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
    print!("{text}");
    Ok(Exit::OK)
}

/// Every host's journal and current release, read over SSH, `forks` at a time; only problems
/// (an unreachable host) are reported as it goes.
fn read_hosts(
    cfg: &Config,
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
    fleet: &resolve::Fleet,
    forks: crate::cli::ForkArgs,
) -> Result<Vec<fleet::HostReleases>, Error> {
    let ssh = ssh_spec(loaded, d)?;
    let opts = crate::report::Options {
        quiet: true,
        ..cfg.report
    };
    let reporter = crate::report::Reporter::new(opts, crate::journal::new_run_id(), vec![]);
    let ctx = fleet_ctx(d, ssh, &reporter, forks);
    Ok(fleet::releases(&ctx, fleet))
}

/// A deploy's or a rollback's run: recorded, holding `locking`, and rolled back on a signal.
fn start(
    cfg: &Config,
    kind: &'static str,
    playbook: &Source,
    name: String,
    locking: Locking,
    wait: Option<std::time::Duration>,
) -> Result<Run, Error> {
    let spec = Spec {
        kind,
        playbook: Some(playbook),
        name,
        locking,
        wait,
        opts: cfg.report,
        undoes: true,
        record: true,
        listed: false,
    };
    Run::start(cfg, spec)
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
            println!("dry run: nothing was touched");
        }
        return Ok(Exit::OK);
    }
    if let Some(f) = d.fleet(args.hosts.limit.as_deref())? {
        return deploy_fleet(cfg, args, &loaded, d, &f);
    }
    let phases = d.phases(&d.release, None)?;
    let name = format!("{} {}", loaded.name(), d.release);
    let (run, mut journal) = match open_here(cfg, "deploy", &loaded, &d, name, args.lock.wait_lock)?
    {
        Here::Open(open) => *open,
        Here::Ended(exit) => return Ok(exit),
    };
    let reporter = run.reporter();
    let runner = Runner {
        d: &d,
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
            return Ok(finish(run, &d, o, &subject));
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
    Ok(finish(run, &d, outcome, &subject))
}

/// A deploy or rollback on this machine before its first step, or how it ended there.
enum Here {
    Open(Box<(Run, releases::Releases)>),
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

/// `tend deploy` to hosts over SSH: the artifact verified once here, then batch by batch.
fn deploy_fleet(
    cfg: &Config,
    args: &DeployArgs,
    loaded: &Loaded<DeployPlaybook>,
    mut d: Deploy,
    fleet: &resolve::Fleet,
) -> Result<Exit, Error> {
    // Every host's templates render before any host is touched.
    d.check_hosts(fleet)?;
    let ssh = ssh_spec(loaded, &d)?;
    let run = start(
        cfg,
        "deploy",
        &loaded.source,
        format!(
            "{} {} to {}",
            loaded.name(),
            d.release,
            fleet::hosts(fleet.hosts.len())
        ),
        Locking::Playbook,
        args.lock.wait_lock,
    )?;
    let reporter = run.reporter();
    // Fetched and checksum-verified once, here; every host gets these bytes.
    let (early, artifact) = match fetch_once(&run, &d, fleet, &ssh, args.forks.get()) {
        Ok(fetched) => fetched,
        Err(why) => return Ok(run.finish(Exit::FAILED, why.0)),
    };
    d.artifact = artifact;
    let mut ctx = fleet_ctx(&d, ssh, reporter, args.forks);
    ctx.early = early;
    let (outcome, runs) = fleet::deploy(&ctx, fleet);
    summary(reporter, &runs, &d.release);
    let subject = match outcome.code {
        Exit::OK => format!("deployed {} to {}", d.release, fleet::hosts(runs.len())),
        Exit::FAILED => format!("deploy of {} FAILED, hosts verified", d.release),
        _ => format!("deploy of {} FAILED, HOSTS NOT VERIFIED", d.release),
    };
    Ok(finish(run, &d, outcome, &subject))
}

/// The artifact fetched and its checksum verified here, once, as the run's `fetch` step;
/// meanwhile the first batch's hosts connect (connecting changes nothing on a host). Why not,
/// when it cannot be fetched: then no host is touched.
fn fetch_once(
    run: &Run,
    d: &Deploy,
    fleet: &resolve::Fleet,
    ssh: &crate::machine::ssh::SshSpec,
    forks: usize,
) -> Result<(fleet::Early, fetch::Artifact), runner::StepFailed> {
    let name = format!("fetch {}", d.release);
    let step = crate::engine::Step::begin(run.reporter(), &name);
    // The first hosts connect while the artifact is read here; none is touched before it passed.
    let early = if d.artifact.on_hosts {
        fleet::Early::default()
    } else {
        let first: Vec<&crate::inventory::Host> = fleet
            .batches
            .first()
            .into_iter()
            .flatten()
            .take(forks)
            .map(|i| &fleet.hosts[*i])
            .collect();
        fleet::Early::start(&first, ssh)
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
        fetch::stage(&d.artifact, &run.state.join("cache"))
    };
    let artifact = match staged {
        Ok((a, f)) => {
            step.end(
                crate::report::Status::Ok,
                if d.artifact.on_hosts {
                    format!(
                        "{}: each of {} downloads it and checks sha256 {} itself (fetch.on: hosts)",
                        d.artifact.shown(),
                        fleet::hosts(fleet.hosts.len()),
                        execute::short(&f.sha256)
                    )
                } else {
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
                    )
                },
            );
            a
        }
        Err(e) => {
            let message = e.to_string();
            step.end(crate::report::Status::Failed, message.clone());
            let message = format!("{name} failed: {message}; no host was touched");
            return Err(runner::StepFailed(message));
        }
    };
    Ok((early, artifact))
}

fn ssh_spec(
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
) -> Result<crate::machine::ssh::SshSpec, Diagnostic> {
    match &loaded.body.ssh {
        Some(s) => s.render(&loaded.scope(&d.templater).at("ssh")),
        None => Ok(Default::default()),
    }
}
fn fleet_ctx<'a, 'd>(
    d: &'d Deploy<'a>,
    ssh: crate::machine::ssh::SshSpec,
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

/// A line per host saying where it stands (grep-able by host, and in the alert's story).
fn summary(reporter: &crate::report::Reporter, runs: &[fleet::HostRun], release: &str) {
    for run in runs {
        let (level, line) = fleet::describe(run, release);
        reporter
            .for_host(&run.host.name)
            .notice(level, format!("summary: {line}"));
    }
}

/// `tend rollback` across a fleet: every host at once, each back to `--to` or its own previous
/// verified release.
fn rollback_fleet(
    cfg: &Config,
    args: &RollbackArgs,
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
    fleet: &resolve::Fleet,
) -> Result<Exit, Error> {
    let ssh = ssh_spec(loaded, d)?;
    let run = start(
        cfg,
        "rollback",
        &loaded.source,
        format!("{} on {}", loaded.name(), fleet::hosts(fleet.hosts.len())),
        Locking::Playbook,
        args.lock.wait_lock,
    )?;
    let reporter = run.reporter();
    let ctx = fleet_ctx(d, ssh, reporter, args.forks);
    let (code, runs) = fleet::rollback(&ctx, fleet, args.to.as_deref());
    summary(reporter, &runs, "");
    let n = runs.len();
    let (subject, message) = match code {
        Exit::OK => (
            "rolled back (verified)",
            format!("rolled back {n} hosts, each verified"),
        ),
        Exit::NOT_VERIFIED => (
            "rollback NOT VERIFIED",
            "rollback NOT VERIFIED on some hosts: see the summary".to_string(),
        ),
        _ => (
            "rollback refused on some hosts",
            "not every host was rolled back: see the summary".to_string(),
        ),
    };
    let outcome = Outcome {
        code,
        message,
        reason: if code == Exit::OK {
            "rollback"
        } else {
            "failure"
        },
    };
    Ok(finish(run, d, outcome, subject))
}

/// `tend releases` across a fleet: a host × release table.
fn releases_fleet(
    cfg: &Config,
    args: &ReleasesArgs,
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
    fleet: &resolve::Fleet,
) -> Result<Exit, Error> {
    let hosts = read_hosts(cfg, loaded, d, fleet, args.forks)?;
    let failed = hosts.iter().any(|(_, r)| r.is_err());
    if cfg.json() {
        let v: Vec<serde_json::Value> = hosts
            .iter()
            .map(|(name, r)| match r {
                Ok((journal, current)) => serde_json::json!({
                    "host": name,
                    "current": current,
                    "last_verified": journal.last_verified(None).map(|r| &r.release),
                    "releases": journal.releases,
                }),
                Err(e) => serde_json::json!({ "host": name, "error": e.to_string() }),
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "hosts": v })).unwrap_or_default()
        );
    } else {
        print!("{}", plan::fleet_table(&hosts));
    }
    Ok(if failed { Exit::FAILED } else { Exit::OK })
}

/// The alert for a deploy or rollback, for the reasons the playbook wants, and the run's end.
fn finish(run: Run, d: &Deploy, outcome: Outcome, subject: &str) -> Exit {
    let reasons: &[&str] = match outcome.reason {
        "rollback" => &["rollback", "failure"],
        "failure" => &["failure"],
        _ => &["success"],
    };
    if let Some(reason) = reasons.iter().find(|r| d.notifier.wants(r)) {
        run.alert(&d.notifier, reason, subject, &outcome.message);
    }
    run.finish(outcome.code, outcome.message)
}

pub fn rollback(cfg: &Config, args: &RollbackArgs) -> Result<Exit, Error> {
    let loaded: Loaded<DeployPlaybook> = playbook::load(&args.playbook, &args.vars)?;
    let d = Deploy::resolve(&loaded, true, false)?;
    if let Some(f) = d.fleet(args.hosts.limit.as_deref())? {
        return rollback_fleet(cfg, args, &loaded, &d, &f);
    }
    let (run, mut journal) = match open_here(
        cfg,
        "rollback",
        &loaded,
        &d,
        loaded.name(),
        args.lock.wait_lock,
    )? {
        Here::Open(open) => *open,
        Here::Ended(exit) => return Ok(exit),
    };
    let reporter = run.reporter();
    let runner = Runner {
        d: &d,
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
    Ok(finish(run, &d, back.outcome(), subject))
}

pub fn releases(cfg: &Config, args: &ReleasesArgs) -> Result<Exit, Error> {
    let loaded: Loaded<DeployPlaybook> = playbook::load(&args.playbook, &args.vars)?;
    let d = Deploy::resolve(&loaded, false, false)?;
    if let Some(f) = d.fleet(args.hosts.limit.as_deref())? {
        return releases_fleet(cfg, args, &loaded, &d, &f);
    }
    let (journal, current) = on_machine::releases(&d)?;
    if cfg.json() {
        let v = serde_json::json!({
            "root": d.layout.root,
            "current": current,
            "last_verified": journal.last_verified(None).map(|r| &r.release),
            "releases": journal.releases,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(Exit::OK);
    }
    print!("{}", plan::table(&d, &journal, current.as_deref()));
    Ok(Exit::OK)
}
