//! Rounds of probes until there is a decision: healthy, waiting out the grace, held down, or
//! a failover. `--watch` keeps going until a signal.

use std::time::{Duration, Instant};

use super::sequence::{Ctx, Ended, Unclear};
use super::state;
use crate::engine::Step;
use crate::error::Exit;
use crate::report::{Level, Status};

/// How long the rounds go on.
#[derive(Clone, Copy)]
enum Until {
    /// The first decision (a cron run).
    Decision,
    /// A signal (`--watch`).
    Signal,
    /// A failover done, a signal, or the deadline (a drill waiting for its failover).
    Failover(Instant),
}

/// Probe rounds until there is a decision (or, with `--watch`, until a signal).
pub fn watch(c: &mut Ctx, forever: bool) -> Ended {
    rounds(
        c,
        if forever {
            Until::Signal
        } else {
            Until::Decision
        },
    )
}

/// Probe rounds, as `--watch` makes them, until they fail over (or a signal, or `deadline`):
/// a drill's failover leg, decided by the playbook's own `fall`, `interval` and `grace`.
pub fn until_failover(c: &mut Ctx, deadline: Instant) -> Ended {
    rounds(c, Until::Failover(deadline))
}

fn rounds(c: &mut Ctx, until: Until) -> Ended {
    let forever = !matches!(until, Until::Decision);
    let p = c.plan;
    let mut fails = 0u32;
    let mut first_fail = (0u64, String::new());
    let mut round = 0u64;
    loop {
        if crate::interrupt::requested() {
            return Ended {
                code: Exit::OK,
                message: "stopped by a signal".into(),
            };
        }
        let started = Instant::now();
        if let Until::Failover(deadline) = until
            && started > deadline
        {
            return Ended {
                code: Exit::FAILED,
                message: format!(
                    "no failover by the deadline: {} was not judged down",
                    c.active()
                        .map_or("the active".to_string(), |a| p.servers[a].name.clone())
                ),
            };
        }
        let round_at = (state::epoch_ms(), crate::report::now_rfc3339());
        c.check_drift();
        let active = match c.active() {
            Ok(a) => a,
            Err(Unclear(e)) => {
                c.reporter.notice(Level::Error, e.clone());
                c.alert_once("failure", "cannot tell which server is active", &e);
                if forever {
                    pause(c, started);
                    continue;
                }
                return Ended {
                    code: Exit::FAILED,
                    message: e,
                };
            }
        };
        let name = p.servers[active].name.clone();
        record_finished(c, &name);
        // (Not the drill's own rounds: it is the one under way.)
        if !matches!(until, Until::Failover(_))
            && let Some(d) = c.state.drill.clone()
        {
            let msg = format!(
                "a drill started {} from {} was killed midway: a server it took down may still be down; `tend drill` on this playbook returns to {} and restores both",
                d.started, d.from, d.from
            );
            c.reporter.notice(Level::Warn, msg.clone());
            c.alert_once("failure", "a failover drill was killed midway", &msg);
        }
        // A sequence a killed run left behind is finished before anything else.
        if c.state.sequence.as_ref().is_some_and(|s| s.from == name) {
            let o = c.fail_over(active);
            if !forever {
                return o;
            }
            announce(c, &o);
            fails = 0;
            pause(c, started);
            continue;
        }
        round += 1;
        let step = Step::begin(c.reporter, &format!("round {round}"));
        let answers = c.round();
        let healthy = answers[active].healthy();
        fails = if healthy { 0 } else { fails + 1 };
        // The outage began with the first failed round, not with the `fall`-th: the grace
        // counts from there.
        if fails == 1 {
            first_fail = round_at;
        }
        report_round(c, step, active, &answers, fails);
        if healthy {
            if c.state.down_since.take().is_some() {
                let msg = format!("{name} answers again: no failover");
                c.reporter.notice(Level::Info, msg.clone());
                c.state.note(msg);
                c.state.last_alert = None;
                c.save();
            }
            if !forever {
                return Ended {
                    code: Exit::OK,
                    message: format!("{name} is healthy: nothing to do"),
                };
            }
            pause(c, started);
            continue;
        }
        if fails < p.fall {
            if !c.now {
                pause(c, started);
            }
            continue;
        }
        if matches!(until, Until::Failover(_))
            && let Some(why) = held_down(c, &name, state::epoch_ms())
        {
            // It would be held down until the deadline: say so now, once.
            return Ended {
                code: Exit::FAILED,
                message: why,
            };
        }
        let (o, failed_over) = when_down(c, active, &answers[active], &first_fail);
        if !forever || (failed_over && matches!(until, Until::Failover(_))) {
            return o;
        }
        if failed_over {
            announce(c, &o);
            fails = 0;
        }
        pause(c, started);
    }
}

/// The active server failed `fall` rounds in a row: still held down after the last failover,
/// still within its grace, or failed over now. What that came to, and whether it failed over.
fn when_down(
    c: &mut Ctx,
    active: usize,
    answer: &crate::probe::dns::Answer,
    first_fail: &(u64, String),
) -> (Ended, bool) {
    let p = c.plan;
    let name = p.servers[active].name.clone();
    let now = state::epoch_ms();
    let since = down_since(c, &name, answer, first_fail);
    if let Some(msg) = held_down(c, &name, now) {
        c.reporter.notice(Level::Error, msg.clone());
        c.alert_once("failure", &format!("{name} down during hold-down"), &msg);
        let o = Ended {
            code: Exit::FAILED,
            message: msg,
        };
        return (o, false);
    }
    let waited = Duration::from_millis(now.saturating_sub(since));
    if !c.now && waited < p.grace {
        let msg = format!(
            "{name} has been down for {}: failing over after grace {} unless it answers again",
            humantime::format_duration(waited),
            humantime::format_duration(p.grace)
        );
        c.reporter.notice(Level::Warn, msg.clone());
        let o = Ended {
            code: Exit::FAILED,
            message: msg,
        };
        return (o, false);
    }
    (c.fail_over(active), true)
}

/// A promotion by a run killed before it could record it: recorded now, as the last failover.
fn record_finished(c: &mut Ctx, active: &str) {
    let Some(seq) = c.state.sequence.clone().filter(|s| s.to == active) else {
        return;
    };
    let msg = format!(
        "the failover from {} to {} started {} completed, but the run was stopped before recording it",
        seq.from, seq.to, seq.started
    );
    c.reporter.notice(Level::Warn, msg.clone());
    c.state.note(msg);
    c.state.sequence = None;
    c.state.down_since = None;
    // What the promotion wrote is what drift is measured against from now on.
    if let Some(path) = c.plan.promoted_resolv_file()
        && let Ok(text) = std::fs::read_to_string(&path)
    {
        c.state.resolv_written = Some(state::Written {
            path: path.display().to_string(),
            nameservers: super::resolv::nameservers(&text),
        });
    }
    c.state.last_failover = Some(state::Failover {
        from: seq.from,
        to: seq.to,
        at: seq.started,
        epoch_ms: state::epoch_ms(),
        forced: seq.forced,
        drill: seq.drill,
    });
    c.save();
}

/// A round as a step: each server's answer, and how many rounds the active failed.
fn report_round(
    c: &Ctx,
    step: Step,
    active: usize,
    answers: &[crate::probe::dns::Answer],
    fails: u32,
) {
    let p = c.plan;
    let parts: Vec<String> = p
        .servers
        .iter()
        .zip(answers)
        .enumerate()
        .map(|(i, (s, a))| {
            format!(
                "{}{} {}",
                s.name,
                if i == active { " (active)" } else { "" },
                a.describe()
            )
        })
        .collect();
    let healthy = fails == 0;
    let message = if healthy {
        parts.join("; ")
    } else {
        format!(
            "{}; {} failed {fails} of {} rounds",
            parts.join("; "),
            p.servers[active].name,
            p.fall
        )
    };
    let status = if healthy { Status::Ok } else { Status::Warning };
    step.end(status, message);
}

/// Since when `name` is down (epoch ms): as recorded, or from this outage's first failed
/// round, recorded now and alerted when a grace lets someone act first.
fn down_since(
    c: &mut Ctx,
    name: &str,
    answer: &crate::probe::dns::Answer,
    first_fail: &(u64, String),
) -> u64 {
    let p = c.plan;
    if let Some(d) = &c.state.down_since
        && d.server == name
    {
        return d.epoch_ms;
    }
    c.state.down_since = Some(state::Down {
        server: name.to_string(),
        at: first_fail.1.clone(),
        epoch_ms: first_fail.0,
    });
    let msg = format!(
        "{name} is down: {} rounds failed ({})",
        p.fall,
        answer.describe()
    );
    c.state.note(msg.clone());
    c.save();
    if !p.grace.is_zero() {
        c.alert_once(
            "down",
            &format!("{name} is down"),
            &format!(
                "{msg}. tend fails over in {} unless it answers again.",
                humantime::format_duration(p.grace)
            ),
        );
    }
    first_fail.0
}

/// Why no failover may happen now: within `hold_down` of the last one (unless `--now`).
pub fn held_down(c: &Ctx, name: &str, now: u64) -> Option<String> {
    let p = c.plan;
    // A drill's own failover (one killed before it could put the real one back) holds
    // nothing down: the last real one does.
    let last = match &c.state.last_failover {
        Some(f) if f.drill => c.state.drill.as_ref()?.last_failover.as_ref()?,
        f => f.as_ref()?,
    };
    if c.now || now.saturating_sub(last.epoch_ms) >= p.hold_down.as_millis() as u64 {
        return None;
    }
    let until = last.epoch_ms + p.hold_down.as_millis() as u64;
    Some(format!(
        "{name} is down, but tend failed over from {} to {} at {}: no second failover (and no failback) within hold_down {}, that is for {} more; `--now` overrides",
        last.from,
        last.to,
        last.at,
        humantime::format_duration(p.hold_down),
        humantime::format_duration(Duration::from_secs((until - now) / 1000))
    ))
}

/// In `--watch`, a sequence's outcome is a line of its own: the run goes on.
fn announce(c: &Ctx, o: &Ended) {
    let level = if o.code == Exit::OK {
        Level::Info
    } else {
        Level::Error
    };
    c.reporter.notice(level, o.message.clone());
}

/// Wait out the rest of `interval` since `started`, waking for a signal.
fn pause(c: &Ctx, started: Instant) {
    let until = started + c.plan.interval;
    while Instant::now() < until && !crate::interrupt::requested() {
        std::thread::sleep(
            until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50)),
        );
    }
}
