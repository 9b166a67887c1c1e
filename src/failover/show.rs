//! `--status` (the state file, read) and `--dry-run` (one round of probes and the steps that
//! would run, nothing done).

use std::path::Path;

use super::resolve::{self, ActiveSource, Plan};
use super::sequence::Ctx;
use super::state::State;
use super::warnings;
use crate::exit;
use crate::report::Options;

pub fn status(plan: &Plan, path: &Path) -> i32 {
    let state = match State::load(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tend: {}", crate::sys::describe_io(&e));
            return exit::FAILED;
        }
    };
    let names: Vec<String> = plan
        .servers
        .iter()
        .map(|s| format!("{} ({})", s.name, s.addr))
        .collect();
    println!("servers: {}", names.join(", "));
    if let Some(d) = &state.down_since {
        println!("{} down since {}", d.server, d.at);
    }
    if let Some(s) = &state.sequence {
        println!(
            "failover under way: {} → {} since {} (fenced: {}, promoted: {})",
            s.from, s.to, s.started, s.fenced, s.promoted
        );
    }
    match &state.last_failover {
        Some(f) => println!(
            "last failover: {} → {} at {}{}",
            f.from,
            f.to,
            f.at,
            if f.forced { " (forced)" } else { "" }
        ),
        None => println!("no failover yet"),
    }
    if state.transitions.is_empty() {
        println!("no transitions recorded");
    } else {
        println!("transitions:");
        for t in &state.transitions {
            println!("  {}  {}", t.at, t.what);
        }
    }
    exit::OK
}

pub fn dry_run(plan: &Plan, path: &Path) -> i32 {
    let state = State::load(path).unwrap_or_default();
    let reporter = crate::report::Reporter::new(
        Options {
            style: crate::report::Style::Plain,
            quiet: false,
            verbose: false,
            color: false,
            steps: true,
        },
        String::new(),
        None,
    );
    let c = Ctx {
        plan,
        reporter: &reporter,
        state,
        state_path: path,
        now: false,
        story: vec![],
    };
    let active = match c.active() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tend: {e}");
            return exit::FAILED;
        }
    };
    let answers = c.round();
    let old = &plan.servers[active];
    println!("active: {} ({})", old.name, old.addr);
    for (s, a) in plan.servers.iter().zip(&answers) {
        println!("  {} ({}): {}", s.name, s.addr, a.describe());
    }
    for w in warnings(plan) {
        println!("warning: {w}");
    }
    if answers[active].healthy() {
        println!("decision: {} is healthy: nothing to do", old.name);
        println!("dry run: nothing was done");
        return exit::OK;
    }
    let standby = plan
        .servers
        .iter()
        .zip(&answers)
        .find(|(s, a)| s.name != old.name && a.healthy())
        .map(|(s, _)| s);
    let Some(standby) = standby else {
        println!(
            "decision: {} failed this round and no standby answers: tend would change nothing",
            old.name
        );
        println!("dry run: nothing was done");
        return exit::OK;
    };
    println!(
        "decision: if {} fails {} rounds in a row and stays down for grace {}, fail over to {}:",
        old.name,
        plan.fall,
        humantime::format_duration(plan.grace),
        standby.name
    );
    match plan.actions(old, standby) {
        Ok(a) => {
            match &a.fence {
                Some(f) => println!("  1. fence {}: {}", old.name, f.run),
                None => println!("  1. fence {}: no fence command", old.name),
            }
            println!(
                "  2. probe {}: if it still answers (or the fence failed), the promotion is forced",
                old.name
            );
            match &a.promote {
                resolve::PromoteBy::Action(p) => {
                    println!("  3. promote {}: {}", standby.name, p.run)
                }
                resolve::PromoteBy::ResolvConf(p) => println!(
                    "  3. promote {}: rewrite {} with nameserver {} first",
                    standby.name,
                    p.display(),
                    standby.addr.ip()
                ),
            }
            if let Some(f) = &a.promote_forced {
                println!("     forced: {}", f.run);
            }
            println!(
                "  4. verify {} answers {} {}",
                standby.name, plan.question.rtype, plan.question.name
            );
        }
        Err(d) => println!("  (the commands do not render: {})", d.message),
    }
    if let ActiveSource::StateFile(f) = &plan.active {
        println!("  then record {} in {}", standby.name, f.display());
    }
    println!("dry run: nothing was done");
    exit::OK
}
