//! `tend drill` across a fleet: batch by batch, as the rollout goes, each host through both
//! legs (`deploy/drill.rs`); a batch with a host that did not pass stops the drill there.

use std::sync::Mutex;

use super::command::{fleet_ctx, read_hosts, ssh_spec};
use super::host::{self, CHANGING, HostRun, each, preflight, those};
use super::{hosts, names};
use crate::config::Config;
use crate::deploy::drill::{legs, rehearse};
use crate::deploy::resolve::{Deploy, Fleet};
use crate::deploy::runner::Runner;
use crate::deploy::spec::DeployPlaybook;
use crate::drill::{Asked, Drill};
use crate::error::{Error, Exit};
use crate::playbook::Loaded;
use crate::report::Level;

pub fn drill(
    cfg: &Config,
    asked: &Asked,
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
    fleet: &Fleet,
    budget: std::time::Duration,
) -> Result<Exit, Error> {
    d.check_hosts(fleet)?;
    let ssh = ssh_spec(loaded, d)?;
    let drill = Drill::start(
        cfg,
        &loaded.source,
        "deploy",
        format!("{} (deploy) on {}", loaded.name(), hosts(fleet.hosts.len())),
        None,
        asked,
        Some(budget),
    )?;
    crate::fleet::room_for(drill.reporter(), fleet.hosts.len());
    let ctx = fleet_ctx(d, ssh, drill.reporter(), asked.forks);
    let runs: Vec<Mutex<HostRun>> = fleet
        .hosts
        .iter()
        .map(|h| Mutex::new(HostRun::new(h, ctx.reporter)))
        .collect();
    let results: Vec<Mutex<Option<(Exit, String)>>> =
        fleet.hosts.iter().map(|_| Mutex::new(None)).collect();
    let batches = fleet.batches.len();
    let mut stopped = None;
    for (b, batch) in fleet.batches.iter().enumerate() {
        drill.reporter().notice(
            Level::Info,
            format!(
                "batch {}/{batches}: {}",
                b + 1,
                names(fleet, batch).join(", ")
            ),
        );
        // Every host of the batch ready before any of them is drilled; a host that is not
        // stops the drill there (any host that does not pass does), none of the batch touched.
        preflight(&ctx, &runs, batch, CHANGING);
        let unready = names(fleet, &those(&runs, batch, |r| !r.ready()));
        if !unready.is_empty() {
            for i in batch {
                let run = runs[*i].lock().unwrap_or_else(|e| e.into_inner());
                let why = match &run.state {
                    super::HostState::Failed { message, .. } => format!("not drilled: {message}"),
                    _ => "not drilled: another host of its batch failed its preflight".to_string(),
                };
                if !run.ready() {
                    drill.finding(format!("{}: {why}", run.host.name));
                }
                *results[*i].lock().unwrap_or_else(|e| e.into_inner()) = Some((Exit::FAILED, why));
            }
            stopped = Some(format!(
                "batch {}/{batches}: {} could not be reached or prepared, so none of the batch was drilled",
                b + 1,
                unready.join(", ")
            ));
            break;
        }
        each(&ctx, batch, &format!("batch {}/{batches}:", b + 1), |i| {
            let mut run = runs[i].lock().unwrap_or_else(|e| e.into_inner());
            let result = drill_host(&drill, &mut run);
            *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        });
        let failed: Vec<&str> = batch
            .iter()
            .filter(|i| {
                results[**i]
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .is_some_and(|(code, _)| *code != Exit::OK)
            })
            .map(|i| fleet.hosts[*i].name.as_str())
            .collect();
        if crate::interrupt::requested() || crate::interrupt::late() {
            stopped = Some(format!("interrupted by a signal during batch {}", b + 1));
            break;
        }
        if !failed.is_empty() {
            stopped = Some(format!(
                "batch {}/{batches} did not pass on {}",
                b + 1,
                failed.join(", ")
            ));
            break;
        }
    }
    host::finished(&ctx, runs);
    let results: Vec<(String, Option<(Exit, String)>)> = fleet
        .hosts
        .iter()
        .zip(results)
        .map(|(h, r)| {
            (
                h.name.clone(),
                r.into_inner().unwrap_or_else(|e| e.into_inner()),
            )
        })
        .collect();
    for (name, r) in &results {
        let (level, line) = match r {
            None => (
                Level::Info,
                "not drilled: its batch never started".to_string(),
            ),
            Some((code, m)) if *code == Exit::OK => (Level::Info, m.clone()),
            Some((_, m)) => (Level::Error, m.clone()),
        };
        drill
            .reporter()
            .for_host(name)
            .notice(level, format!("summary: {line}"));
    }
    let worst = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().map(|(c, _)| *c))
        .max()
        .unwrap_or(Exit::FAILED);
    let drilled = results.iter().filter(|(_, r)| r.is_some()).count();
    let exit = if stopped.is_some() {
        worst.max(Exit::FAILED)
    } else {
        worst
    };
    let message = match (&stopped, exit) {
        (None, Exit::OK) => format!(
            "{} rolled back and forward, each leg verified within {}",
            hosts(drilled),
            humantime::format_duration(budget)
        ),
        (Some(why), Exit::NOT_VERIFIED) | (Some(why), Exit::FAILED) if drilled < results.len() => {
            format!(
                "{why}: {} of {} drilled, the rest untouched; see each host's summary",
                drilled,
                results.len()
            )
        }
        (_, Exit::NOT_VERIFIED) => "NOT VERIFIED on some hosts: see each host's summary".into(),
        _ => "the drill did not pass on some hosts: see each host's summary".into(),
    };
    Ok(drill.finish(cfg, asked, exit, message))
}

/// A preflighted host through both legs.
fn drill_host(drill: &Drill, run: &mut HostRun) -> (Exit, String) {
    if crate::interrupt::requested() || crate::interrupt::late() {
        return (Exit::FAILED, "not drilled: interrupted by a signal".into());
    }
    let (Some(d), Some(ssh)) = (run.d.take(), run.ssh.clone()) else {
        return (Exit::FAILED, "not drilled: it could not be prepared".into());
    };
    let mut journal = std::mem::take(&mut run.journal);
    let runner = Runner {
        d: &d,
        reporter: &run.reporter,
        target: &*ssh,
    };
    let result = rehearse(drill, &runner, &mut journal, &run.host.name);
    run.journal = journal;
    run.d = Some(d);
    result
}

/// Each host's legs from its journal, read over SSH (read only, no lock).
pub fn dry_run(
    cfg: &Config,
    forks: crate::cli::ForkArgs,
    loaded: &Loaded<DeployPlaybook>,
    d: &Deploy,
    fleet: &Fleet,
    budget: std::time::Duration,
) -> Result<String, Error> {
    let read = read_hosts(cfg, loaded, d, fleet, forks)?;
    let mut out = format!(
        "drill of {} batch by batch, each leg within {}:\n",
        hosts(fleet.hosts.len()),
        humantime::format_duration(budget)
    );
    for (b, batch) in fleet.batches.iter().enumerate() {
        out.push_str(&format!("batch {}/{}:\n", b + 1, fleet.batches.len()));
        for i in batch {
            let h = &fleet.hosts[*i];
            out.push_str(&format!("{}:\n", h.name));
            let on = d.on_host(h, d.layout.target.clone());
            match (read.iter().find(|(n, _)| *n == h.name), on) {
                (Some((_, Ok((journal, current)))), Ok(on)) => {
                    out.push_str(&legs(&on, journal, current.clone()))
                }
                (Some((_, Err(e))), _) => out.push_str(&format!("  cannot be read: {e}\n")),
                (_, Err(e)) => out.push_str(&format!("  {}\n", e.message)),
                (None, _) => {}
            }
        }
    }
    Ok(out)
}
