//! `tend deploy`, `tend rollback` and `tend releases` across a fleet: the run around the
//! batches (the artifact fetched once, each host's summary line, the alert).

use crate::cli::{DeployArgs, ReleasesArgs, RollbackArgs};
use crate::config::Config;
use crate::engine::{Locking, Run};
use crate::error::{Error, Exit};
use crate::playbook::{Diagnostic, Loaded};

use super as fleet;
use super::super::resolve::{self, Deploy};
use super::super::run::{finish, start};
use super::super::runner::{self, Ending};
use super::super::spec::DeployPlaybook;
use super::super::{execute, fetch, plan};

/// `tend deploy` to hosts over SSH: the artifact verified once here, then batch by batch.
pub fn deploy(
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
    crate::fleet::room_for(reporter, fleet.hosts.len());
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

pub(super) fn ssh_spec(
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
) -> Result<crate::machine::ssh::SshSpec, Diagnostic> {
    use crate::fleet::Reached;
    crate::fleet::ssh_spec(&loaded.scope(&d.templater), &loaded.body.reach())
}

pub(super) fn fleet_ctx<'a, 'd>(
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
        early: crate::fleet::Early::default(),
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
pub fn rollback(
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
    crate::fleet::room_for(reporter, fleet.hosts.len());
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
    let outcome = Ending {
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
pub fn releases(
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
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "hosts": v })).unwrap_or_default()
        );
    } else {
        out!("{}", plan::fleet_table(&hosts));
    }
    Ok(if failed { Exit::FAILED } else { Exit::OK })
}

/// Every host's journal and current release, read over SSH, `forks` at a time; only problems
/// (an unreachable host) are reported as it goes.
pub fn read_hosts(
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
    crate::fleet::room_for(&reporter, fleet.hosts.len());
    let ctx = fleet_ctx(d, ssh, &reporter, forks);
    Ok(fleet::releases(&ctx, fleet))
}
