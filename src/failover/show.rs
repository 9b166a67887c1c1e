//! `--status` (the state file, read) and `--dry-run` (one round of probes and the steps that
//! would run, nothing done).

use std::path::Path;

use super::resolve::{self, ActiveSource, Plan, Server};
use super::sequence::{self, Ctx};
use super::state::State;
use super::warnings;
use crate::config::Config;
use crate::engine::{Locking, Run, Spec};
use crate::error::{Error, Exit};

pub fn status(plan: &Plan, path: &Path) -> Result<Exit, Error> {
    let state = State::load(path).map_err(|e| Error::io("read", path, e))?;
    let names: Vec<String> = plan
        .servers
        .iter()
        .map(|s| format!("{} ({})", s.name, s.addr))
        .collect();
    outln!("servers: {}", names.join(", "));
    if let Some(d) = &state.down_since {
        outln!("{} down since {}", d.server, d.at);
    }
    if let Some(s) = &state.sequence {
        outln!(
            "failover under way: {} → {} since {} (fenced: {}, promoted: {})",
            s.from,
            s.to,
            s.started,
            s.fenced,
            s.promoted
        );
    }
    match &state.last_failover {
        Some(f) => outln!(
            "last failover: {} → {} at {}{}",
            f.from,
            f.to,
            f.at,
            if f.forced { " (forced)" } else { "" }
        ),
        None => outln!("no failover yet"),
    }
    if state.transitions.is_empty() {
        outln!("no transitions recorded");
    } else {
        outln!("transitions:");
        for t in &state.transitions {
            outln!("  {}  {}", t.at, t.what);
        }
    }
    Ok(Exit::OK)
}

/// One round of probes, the decision, and the steps the sequence would run, each named as the
/// real run names it: text on stdout, or one JSON document with `--output json`.
pub fn dry_run(cfg: &Config, plan: &Plan, path: &Path) -> Result<Exit, Error> {
    let state = State::load(path).unwrap_or_default();
    let run = quiet(cfg, plan)?;
    let c = Ctx {
        plan,
        run: &run,
        reporter: run.reporter(),
        state,
        state_path: path,
        now: false,
        drilling: false,
    };
    let active = c.active().map_err(|e| Error::Failed(e.0))?;
    let answers = c.round();
    let d = decide(plan, &c.state, active, &answers);
    let warnings = warnings(plan);
    let old = &plan.servers[active];
    if cfg.json() {
        let doc = serde_json::json!({
            "active": old.name,
            "servers": plan.servers.iter().zip(&answers).map(|(s, a)| serde_json::json!({
                "name": s.name, "addr": s.addr.to_string(), "answer": a.describe(),
            })).collect::<Vec<_>>(),
            "warnings": warnings,
            "decision": d.decision,
            "steps": d.steps.iter().map(|(step, does)| serde_json::json!({
                "step": step, "does": does,
            })).collect::<Vec<_>>(),
            "dry_run": true,
        });
        outln!(
            "{}",
            crate::redact::redact(&serde_json::to_string_pretty(&doc).unwrap_or_default())
        );
        return Ok(d.exit);
    }
    let mut out = format!("active: {} ({})\n", old.name, old.addr);
    for (s, a) in plan.servers.iter().zip(&answers) {
        out += &format!("  {} ({}): {}\n", s.name, s.addr, a.describe());
    }
    for w in &warnings {
        out += &format!("warning: {w}\n");
    }
    let lead = if d.steps.is_empty() { "" } else { ":" };
    out += &format!("decision: {}{lead}\n", d.decision);
    for (i, (step, does)) in d.steps.iter().enumerate() {
        out += &format!("  {}. {step}: {does}\n", i + 1);
    }
    if let (Some(standby), ActiveSource::StateFile(f)) = (d.to, &plan.active) {
        out += &format!("  then record {} in {}\n", standby.name, f.display());
    }
    out += "dry run: nothing was done\n";
    out!(
        "{}",
        crate::report::printable_lines(&crate::redact::redact(&out))
    );
    Ok(d.exit)
}

/// A run of its own for a dry run's probes and commands, which shows and records nothing.
pub fn quiet(cfg: &Config, plan: &Plan) -> Result<Run, Error> {
    Run::start(
        cfg,
        Spec {
            kind: "failover",
            playbook: None,
            name: plan.loaded.name(),
            locking: Locking::None,
            wait: None,
            opts: crate::report::Options {
                quiet: true,
                ..cfg.report
            },
            undoes: false,
            record: false,
            listed: false,
            timed: false,
        },
    )
}

/// What the real run would do after this round, as a dry run can tell.
struct Decision<'p> {
    decision: String,
    /// The sequence's steps, when it would fail over.
    steps: Vec<(String, String)>,
    /// The server it would fail over to.
    to: Option<&'p Server>,
    /// How the real run would end.
    exit: Exit,
}

fn decide<'p>(
    plan: &'p Plan,
    state: &State,
    active: usize,
    answers: &[crate::probe::dns::Answer],
) -> Decision<'p> {
    let old = &plan.servers[active];
    let nothing = |decision: String, exit: Exit| Decision {
        decision,
        steps: vec![],
        to: None,
        exit,
    };
    if answers[active].healthy() {
        return nothing(format!("{} is healthy: nothing to do", old.name), Exit::OK);
    }
    // As the real run holds a second failover back: `hold_down` after the last one.
    if let Some(last) = &state.last_failover {
        let since = super::state::epoch_ms().saturating_sub(last.epoch_ms);
        let hold = plan.hold_down.as_millis() as u64;
        if since < hold {
            return nothing(
                format!(
                    "{} is down, but tend failed over from {} to {} at {}: no second failover within hold_down {}, that is for {} more (`--now` overrides)",
                    old.name,
                    last.from,
                    last.to,
                    last.at,
                    humantime::format_duration(plan.hold_down),
                    humantime::format_duration(std::time::Duration::from_secs(
                        (hold - since) / 1000
                    ))
                ),
                Exit::FAILED,
            );
        }
    }
    let standby = plan
        .servers
        .iter()
        .zip(answers)
        .find(|(s, a)| s.name != old.name && a.healthy())
        .map(|(s, _)| s);
    let Some(standby) = standby else {
        return nothing(
            format!(
                "{} failed this round and no standby answers: tend would change nothing",
                old.name
            ),
            Exit::FAILED,
        );
    };
    // The real run fails over once `fall` rounds in a row failed and the grace is over; a dry
    // run sees one round.
    let decision = if plan.fall <= 1 && plan.grace.is_zero() {
        format!(
            "{} is down: tend fails over to {} now",
            old.name, standby.name
        )
    } else {
        format!(
            "if {} fails {} rounds in a row and stays down for grace {}, fail over to {}",
            old.name,
            plan.fall,
            humantime::format_duration(plan.grace),
            standby.name
        )
    };
    Decision {
        decision,
        steps: steps(plan, old, standby),
        to: Some(standby),
        exit: Exit::OK,
    }
}

/// The failover sequence's steps from `old` to `standby`, as the run names them, each with
/// what it would do.
fn steps(plan: &Plan, old: &Server, standby: &Server) -> Vec<(String, String)> {
    let probe = format!(
        "{} answers {} {}",
        standby.name, plan.question.rtype, plan.question.name
    );
    let actions = match plan.actions(old, standby) {
        Ok(a) => a,
        Err(d) => {
            return vec![(
                "(the commands do not render)".to_string(),
                d.message.clone(),
            )];
        }
    };
    let mut steps = vec![(sequence::CHECK_STANDBY.to_string(), probe.clone())];
    steps.push((
        sequence::fence_step(old),
        actions
            .fence
            .as_ref()
            .map_or("no fence command".to_string(), |f| f.run.clone()),
    ));
    steps.push((
        sequence::probe_step(old),
        "if it still answers (or the fence failed), the promotion is forced".to_string(),
    ));
    steps.push((
        sequence::promote_step(standby, false),
        match &actions.promote {
            resolve::PromoteBy::Action(p) => p.run.clone(),
            resolve::PromoteBy::ResolvConf(p) => format!(
                "rewrite {} with nameserver {} first",
                p.display(),
                standby.addr.ip()
            ),
        },
    ));
    if let Some(f) = &actions.promote_forced {
        steps.push((
            sequence::promote_step(standby, true),
            format!(
                "instead of the promotion above, when {} may still be serving: {}",
                old.name, f.run
            ),
        ));
    }
    steps.push((sequence::verify_step(standby), probe));
    steps
}
