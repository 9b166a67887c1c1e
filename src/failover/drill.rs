//! `tend drill` on a failover playbook: the healthy active taken down on purpose (its `fence`,
//! or the drill's `stop_command`), then the playbook's own sequence decides (its `fall`,
//! `interval` and `grace`), fences, promotes and verifies the standby; then the original is
//! restored and failed back to, and the standby restored. Meanwhile a client looks the name up
//! through the active server every 100 ms: the report says what clients saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::resolve::{Plan, Server};
use super::sequence::Ctx;
use super::state::{DrillNote, State};
use super::{FailoverPlaybook, state_path, watch};
use crate::action::Action;
use crate::cli::DrillArgs;
use crate::config::Config;
use crate::drill::{Asked, Drill, DrillSpec, Method, Refused, Stranded};
use crate::engine::Step;
use crate::error::{Error, Exit};
use crate::playbook::{self, Diagnostic, Loaded, Source};
use crate::report::{Level, Status};

/// How often the drill's client looks the name up, and what it counts as slow.
const LOOKUP_EVERY: Duration = Duration::from_millis(100);
const SLOW: Duration = Duration::from_secs(1);

pub fn drill(cfg: &Config, source: Arc<Source>, args: &DrillArgs) -> Result<Exit, Error> {
    let loaded: Loaded<FailoverPlaybook> = playbook::load_source(source, &args.vars)?;
    if args.hosts.limit.is_some() || args.trip.is_some() {
        return Err(Error::Usage(
            "--limit and --trip are not for a failover drill".into(),
        ));
    }
    let mut plan = Plan::resolve(&loaded, !args.dry_run)?;
    let how = how(&loaded, &plan)?;
    let path = state_path(&cfg.state, &loaded.source);
    if args.dry_run {
        outln!(
            "{}dry run: nothing was touched",
            planned(cfg, &plan, &how, &path)?
        );
        return Ok(Exit::OK);
    }
    let spec = loaded.body.drill.clone().unwrap_or_default();
    let budget = how.budget;
    crate::drill::consented(Some(&spec), args.yes, &loaded.source.path)?;
    let asked = Asked::of(args)?;
    // The drill's own steps alert no one: a drill is not an outage.
    plan.notifier = Default::default();
    let drill = Drill::start(
        cfg,
        &loaded.source,
        "failover",
        format!("{} (failover)", loaded.name()),
        None,
        &asked,
        Some(budget),
    )?;
    let state = match State::load(&path) {
        Ok(s) => s,
        Err(e) => {
            let why = Error::io("read", &path, e).to_string();
            return Ok(drill.finish(cfg, &asked, Exit::FAILED, why));
        }
    };
    let mut ctx = Ctx {
        plan: &plan,
        run: &drill.run,
        reporter: drill.reporter(),
        state,
        state_path: &path,
        now: false,
        drilling: true,
    };
    if let Err(why) = finish_killed(&drill, &mut ctx, &how) {
        drill.reporter().notice(Level::Error, why.clone());
        drill.finding(why.clone());
        return Ok(drill.finish(cfg, &asked, Exit::NOT_VERIFIED, why.0));
    }
    let course = match course(&mut ctx) {
        Ok(c) => c,
        Err(why) => {
            drill
                .reporter()
                .notice(Level::Error, format!("drill refused: {why}"));
            drill.finding(why.clone());
            let message = format!("nothing changed: {why}");
            return Ok(drill.finish(cfg, &asked, Exit::FAILED, message));
        }
    };
    let (exit, message) = rehearse(&drill, &mut ctx, &course, &how);
    Ok(drill.finish(cfg, &asked, exit, message))
}

/// The drill's `method`, commands and budget, each checked to render for the playbook's servers.
pub fn how(loaded: &Loaded<FailoverPlaybook>, plan: &Plan) -> Result<How, Diagnostic> {
    let spec = loaded.body.drill.clone().unwrap_or_default();
    let top = loaded.scope(&plan.templater);
    let budget = DrillSpec::budget(Some(&spec), &top, true)?;
    let method = spec.method.unwrap_or_default();
    let Some(restore) = spec.restore.clone() else {
        return Err(needs(&top, loaded, "restore")
                .hint("drill: { restore: \"systemctl start dnsmasq\" }: the command that brings a server the drill took down back ({{ active.name }} is that server), so it can fail back"));
    };
    if method != Method::StopCommand && spec.stop_command.is_some() {
        return Err(top
            .at("drill")
            .error("stop_command", "`stop_command` is used only with `method: stop_command`")
            .hint("add method: stop_command, or remove stop_command to take the active down with the playbook's fence"));
    }
    let stop = match (method, &spec.stop_command) {
        (Method::StopCommand, None) => {
            return Err(needs(&top, loaded, "stop_command").hint(
                "method: stop_command takes the active down with `drill.stop_command` ({{ active.name }} is it)",
            ));
        }
        (_, s) => s.clone(),
    };
    let (a, b) = (&plan.servers[0], &plan.servers[1]);
    plan.drill_action("restore", &restore, a, b)?;
    if let Some(s) = &stop {
        plan.drill_action("stop_command", s, a, b)?;
    }
    if method == Method::Fence && plan.actions(a, b)?.fence.is_none() {
        return Err(top
            .at("drill")
            .error("method", "method: fence, and the playbook has no `fence`")
            .hint(
                "give the playbook its `fence`, or take the active down with method: stop_command",
            ));
    }
    Ok(How {
        method,
        stop,
        restore,
        budget,
    })
}

/// The legs from the active server as a round of probes finds it (`--dry-run`, `tend plan`).
pub fn planned(
    cfg: &Config,
    plan: &Plan,
    how: &How,
    path: &std::path::Path,
) -> Result<String, Error> {
    let run = super::show::quiet(cfg, plan)?;
    let mut ctx = Ctx {
        plan,
        run: &run,
        reporter: run.reporter(),
        state: State::load(path).unwrap_or_default(),
        state_path: path,
        now: false,
        drilling: true,
    };
    Ok(match course(&mut ctx) {
        Ok(course) => legs(plan, &course, how),
        Err(why) => format!("drill refused: {why}\n"),
    })
}

fn needs(top: &playbook::Scope, loaded: &Loaded<FailoverPlaybook>, key: &str) -> Diagnostic {
    if loaded.body.drill.is_some() {
        top.at("drill")
            .error("", format!("a failover drill needs `drill.{key}`"))
    } else {
        Diagnostic::in_file(
            &loaded.source,
            format!("a failover drill needs `drill.{key}`"),
        )
    }
}

pub struct How {
    method: Method,
    stop: Option<crate::action::ActionItem>,
    restore: crate::action::ActionItem,
    budget: Duration,
}

/// A drill killed midway (its note in the state file): a failover it had under way finished,
/// every server restored, and back to the one it started from, the hold-down of the last real
/// failover put back. Why not, when that cannot be done.
fn finish_killed(drill: &Drill, c: &mut Ctx, how: &How) -> Result<(), Stranded> {
    let Some(note) = c.state.drill.clone() else {
        return Ok(());
    };
    let p = c.plan;
    let Some(from) = p.servers.iter().position(|s| s.name == note.from) else {
        return Err(format!(
            "a drill killed midway started from {}, which is no longer one of the playbook's servers",
            note.from
        ).into());
    };
    drill.reporter().notice(
        Level::Warn,
        format!(
            "a drill started {} was killed midway: returning to {} and restoring every server first",
            note.started, note.from
        ),
    );
    let now = c
        .active()
        .map(|i| p.servers[i].name.clone())
        .unwrap_or_default();
    let t = drill.leg(drill.reporter(), "", "return", &now, &note.from);
    let back = (|| -> Result<String, Stranded> {
        if let Some(seq) = c.state.sequence.clone()
            && let Some(i) = p.servers.iter().position(|s| s.name == seq.from)
        {
            // Resumed where it stopped: nothing is fenced or promoted twice.
            c.now = true;
            c.fail_over(i);
            c.now = false;
        }
        for (i, s) in p.servers.iter().enumerate() {
            let other = &p.servers[if i == from {
                (i + 1) % p.servers.len()
            } else {
                from
            }];
            restore(c, how, s, other)?;
        }
        let active = c.active().map_err(|e| e.0)?;
        if active != from {
            c.now = true;
            let o = c.fail_over_to(active, Some(from));
            c.now = false;
            if o.code != Exit::OK {
                return Err(o.message.into());
            }
            restore(c, how, &p.servers[active].clone(), &p.servers[from].clone())?;
        }
        Ok(format!(
            "{} is active again, every server answers",
            note.from
        ))
    })();
    if back.is_ok() {
        // Not a real failover that cron made since the drill was killed: that one stands.
        if c.state.last_failover.as_ref().is_none_or(|f| f.drill) {
            c.state.last_failover = note.last_failover.clone();
        }
        c.state.down_since = None;
        c.state.drill = None;
        c.state
            .note(format!("drill: a killed drill returned to {}", note.from));
    }
    c.save();
    let leg = drill.end(
        drill.reporter(),
        t,
        back.is_ok(),
        back.clone().unwrap_or_else(|e| e.0),
    );
    if leg.verified {
        Ok(())
    } else {
        Err(format!(
            "the return to {} after a killed drill is NOT verified: {}",
            note.from, leg.message
        )
        .into())
    }
}

/// Which server is active and which one a failover would promote: both healthy, or no drill.
struct Course {
    from: usize,
    to: usize,
}

fn course(c: &mut Ctx) -> Result<Course, Refused> {
    let p = c.plan;
    if let Some(s) = &c.state.sequence {
        return Err(format!(
            "a failover from {} to {} is under way (started {}): finish it with `tend failover` first",
            s.from, s.to, s.started
        ).into());
    }
    let from = c.active().map_err(|e| e.0)?;
    if let Some(why) = super::watch::held_down(c, &p.servers[from].name, super::state::epoch_ms()) {
        return Err(format!(
            "within the hold-down of the last failover, the drill's would be held down and {} left down: {why}",
            p.servers[from].name
        ).into());
    }
    let answers = c.round();
    if !answers[from].healthy() {
        return Err(format!(
            "the active {} does not answer ({}): that is an incident, not a drill",
            p.servers[from].name,
            answers[from].describe()
        )
        .into());
    }
    let to = (0..p.servers.len())
        .find(|&i| i != from && answers[i].healthy())
        .ok_or_else(|| {
            format!(
                "no standby answers ({}): a drill would leave no server to fail over to",
                p.servers
                    .iter()
                    .zip(&answers)
                    .filter(|(s, _)| s.name != p.servers[from].name)
                    .map(|(s, a)| format!("{} {}", s.name, a.describe()))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
    Ok(Course { from, to })
}

/// Both legs: the failover the playbook promises, then back. Whatever happens in the first, or
/// a signal, the second runs: the drill ends on the server it started from.
fn rehearse(drill: &Drill, c: &mut Ctx, course: &Course, how: &How) -> (Exit, String) {
    let p = c.plan;
    let (a, b) = (p.servers[course.from].clone(), p.servers[course.to].clone());
    let saved = c.state.last_failover.clone();
    // Noted before anything changes: a drill killed from here on is returned by the next.
    c.state.drill = Some(DrillNote {
        from: a.name.clone(),
        started: crate::report::now_rfc3339(),
        last_failover: saved.clone(),
    });
    c.save();
    let reporter = drill.reporter();
    let stop_clients = AtomicBool::new(false);
    let (legs, seen) = std::thread::scope(|s| {
        let client = s.spawn(|| clients(p, &stop_clients));
        let t = drill.leg(reporter, "", "failover", &a.name, &b.name);
        let down_at = take_down(c, how, &a, &b);
        let deadline = Instant::now() + how.budget;
        let o = if down_at.is_some() {
            watch::until_failover(c, deadline)
        } else {
            super::sequence::Ended {
                code: Exit::FAILED,
                message: format!("{} could not be taken down", a.name),
            }
        };
        let now = c.active().ok();
        let failed_over = now == Some(course.to) && o.code == Exit::OK;
        let first = drill.end(reporter, t, failed_over, o.message.clone());
        milestones(drill, &a, &b, down_at);
        let interrupted = crate::interrupt::hold();
        if interrupted {
            reporter.notice(
                Level::Warn,
                format!(
                    "interrupted by a signal during the failover leg: returning to {}",
                    a.name
                ),
            );
        }
        let t = drill.leg(reporter, "", "failback", &b.name, &a.name);
        let back = fail_back(c, how, course, now);
        let second = drill.end(
            reporter,
            t,
            back.is_ok(),
            back.clone().unwrap_or_else(|e| e.0),
        );
        stop_clients.store(true, Ordering::SeqCst);
        let seen = client.join().unwrap_or_default();
        ((first, second, interrupted), seen)
    });
    let (first, second, interrupted) = legs;
    // A drill is not a failover: the hold-down of the last real one stands, no other.
    c.state.last_failover = saved;
    c.state.down_since = None;
    c.state.sequence = None;
    c.state.last_alert = None;
    c.state.drill = None;
    c.state.note(format!(
        "drill: failover {} → {} {}, failback {}",
        a.name,
        b.name,
        first.state(),
        second.state()
    ));
    c.save();
    drill.note(seen.said());
    let legs = [first.clone(), second.clone()];
    let mut exit = crate::drill::verdict(reporter, &legs);
    let message = if !second.verified {
        format!(
            "the drill could NOT return to {}: {}",
            a.name, second.message
        )
    } else if interrupted && !first.verified {
        // Cut short by the operator, not failed: it is back, verified.
        exit = Exit::FAILED;
        format!(
            "interrupted during the failover leg; returned to {}, verified",
            a.name
        )
    } else if !first.verified {
        format!(
            "the failover to {} did not happen or is NOT verified ({}); the drill returned to {}, verified",
            b.name, first.message, a.name
        )
    } else if interrupted {
        exit = exit.max(Exit::FAILED);
        format!(
            "interrupted during the failover leg; returned to {}, verified",
            a.name
        )
    } else if exit == Exit::FAILED {
        format!(
            "over the budget of {}: the failover took {}, the failback {}; {} is active and verified",
            humantime::format_duration(how.budget),
            crate::drill::took(first.took_ms),
            crate::drill::took(second.took_ms),
            a.name
        )
    } else {
        format!(
            "failed over to {} in {} and back to {} in {}, each verified within {}",
            b.name,
            crate::drill::took(first.took_ms),
            a.name,
            crate::drill::took(second.took_ms),
            humantime::format_duration(how.budget)
        )
    };
    (exit, message)
}

/// The active taken down as the drill's method says; when it was, or None when it could not be.
fn take_down(c: &mut Ctx, how: &How, a: &Server, b: &Server) -> Option<Instant> {
    let p = c.plan;
    let (name, action) = match (how.method, &how.stop) {
        (Method::StopCommand, Some(s)) => ("drill: stop", p.drill_action("stop_command", s, a, b)),
        _ => (
            "drill: fence",
            p.actions(a, b)
                .map(|x| x.fence.expect("checked at load: the playbook has a fence")),
        ),
    };
    let action = match action {
        Ok(x) => x,
        Err(d) => {
            c.reporter.notice(Level::Error, d.message);
            return None;
        }
    };
    let ok = c.run(&format!("{name} {}", a.name), &action, a);
    ok.then(Instant::now)
}

/// Back on `course.from`: restored, failed back to when the failover happened (or the active
/// is not it), and the other server restored. Why not, when it is not so.
fn fail_back(
    c: &mut Ctx,
    how: &How,
    course: &Course,
    now: Option<usize>,
) -> Result<String, Stranded> {
    let p = c.plan;
    let (a, b) = (p.servers[course.from].clone(), p.servers[course.to].clone());
    restore(c, how, &a, &b)?;
    if now != Some(course.from) {
        let from = now.unwrap_or(course.to);
        c.now = true;
        let o = c.fail_over_to(from, Some(course.from));
        c.now = false;
        if o.code != Exit::OK {
            return Err(o.message.into());
        }
        // The failback fenced the server it left: it is brought back too.
        restore(c, how, &p.servers[from].clone(), &a)?;
    }
    match c.active() {
        Ok(i) if i == course.from => Ok(format!("{} is active again, both servers answer", a.name)),
        Ok(i) => Err(format!("{} is active, not {}", p.servers[i].name, a.name).into()),
        Err(e) => Err(e.0.into()),
    }
}

/// `server` brought back with the drill's `restore`, and waited for until it answers (as long
/// as `rise` rounds take, and at least 3 s).
fn restore(c: &mut Ctx, how: &How, server: &Server, other: &Server) -> Result<(), Stranded> {
    let p = c.plan;
    let action: Action = p
        .drill_action("restore", &how.restore, server, other)
        .map_err(|d| d.message)?;
    if !c.run(&format!("drill: restore {}", server.name), &action, server) {
        return Err(format!("the restore of {} failed", server.name).into());
    }
    let step = Step::begin(c.reporter, &format!("drill: {} answers again", server.name));
    let until = Instant::now() + (p.interval * p.rise.max(3)).max(Duration::from_secs(3));
    loop {
        let answer = c.probe_one(server);
        if answer.healthy() {
            step.end(Status::Ok, answer.describe());
            return Ok(());
        }
        if Instant::now() > until {
            let why = format!(
                "{} does not answer after its restore: {}",
                server.name,
                answer.describe()
            );
            step.end(Status::Failed, why.clone());
            return Err(why.into());
        }
        std::thread::sleep(p.interval.min(Duration::from_millis(100)));
    }
}

/// Taken down, detected, fenced, promoted, verified: when each happened, from the steps' ends.
fn milestones(drill: &Drill, a: &Server, b: &Server, down: Option<Instant>) {
    let Some(down) = down else { return };
    drill.mark("", &format!("{} taken down", a.name), down);
    let moments: Vec<_> = drill
        .run
        .moments()
        .into_iter()
        .filter(|m| m.at >= down && !m.step.is_empty())
        .collect();
    let standby = moments
        .iter()
        .position(|m| m.step == super::sequence::CHECK_STANDBY);
    if let Some(i) = standby
        && let Some(round) = moments[..i]
            .iter()
            .rev()
            .find(|m| m.step.starts_with("round "))
    {
        drill.mark("", &format!("{} judged down", a.name), round.at);
    }
    let find = |name: &str| {
        moments
            .iter()
            .find(|m| m.step.starts_with(name))
            .map(|m| m.at)
    };
    for (step, what) in [
        (super::sequence::fence_step(a), format!("{} fenced", a.name)),
        (
            format!("promote {}", b.name),
            format!("{} promoted", b.name),
        ),
        (
            super::sequence::verify_step(b),
            format!("{} verified", b.name),
        ),
    ] {
        if let Some(at) = find(&step) {
            drill.mark("", &what, at);
        }
    }
}

/// What a client saw: lookups of the probed name through the active server.
#[derive(Default)]
struct Seen {
    lookups: u64,
    failed: u64,
    slow: u64,
}

impl Seen {
    fn said(&self) -> String {
        format!(
            "clients: {} lookups during the drill, {} failed, {} took longer than {}",
            self.lookups,
            self.failed,
            self.slow,
            humantime::format_duration(SLOW)
        )
    }
}

/// A lookup every `LOOKUP_EVERY` through the server the active source names at that moment,
/// until `stop`.
fn clients(p: &Plan, stop: &AtomicBool) -> Seen {
    let mut seen = Seen::default();
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let answer = match super::sequence::active_of(p) {
            Ok(i) => crate::probe::dns::round(p.servers[i].addr, &p.question, 1, SLOW),
            Err(_) => crate::probe::dns::Answer::Timeout,
        };
        let took = started.elapsed();
        seen.lookups += 1;
        if !answer.healthy() {
            seen.failed += 1;
        } else if took > SLOW {
            seen.slow += 1;
        }
        std::thread::sleep(LOOKUP_EVERY.saturating_sub(started.elapsed()));
    }
    seen
}

/// The legs, as `--dry-run` shows them.
fn legs(p: &Plan, course: &Course, how: &How) -> String {
    let (stop, restore, budget) = (&how.stop, &how.restore, how.budget);
    let (a, b) = (&p.servers[course.from], &p.servers[course.to]);
    let label = |key: &str, item: &crate::action::ActionItem, s: &Server, o: &Server| {
        p.drill_action(key, item, s, o)
            .map_or_else(|d| d.message, |x| x.label)
    };
    let down = match (how.method, stop) {
        (Method::StopCommand, Some(s)) => {
            format!("drill: stop {}: {}", a.name, label("stop_command", s, a, b))
        }
        _ => format!("drill: fence {} (the playbook's fence)", a.name),
    };
    format!(
        "drill of {} from the active {} to {} and back, each leg within {}:\n  \
         1. failover {a} → {b}\n       \
         {down}\n       \
         rounds every {} until {a} fails {} in a row, then grace {}\n       \
         check the standby, fence {a}, probe {a} after the fence, promote {b}, verify {b}\n  \
         2. failback {b} → {a}\n       \
         drill: restore {a}: {}\n       \
         check the standby, fence {b}, probe {b} after the fence, promote {a}, verify {a}\n       \
         drill: restore {b}: {}\n  \
         meanwhile a client looks up {} through the active server every {}\n",
        p.loaded.name(),
        a.name,
        b.name,
        humantime::format_duration(budget),
        humantime::format_duration(p.interval),
        p.fall,
        humantime::format_duration(p.grace),
        label("restore", restore, a, b),
        label("restore", restore, b, a),
        p.question.name,
        humantime::format_duration(LOOKUP_EVERY),
        a = a.name,
        b = b.name,
    )
}
