//! `tend failover`: the DNS failover SOP, decided by real queries. The active server is judged
//! down after `fall` failed rounds in a row, failed over after `grace`, fenced, the standby
//! promoted (forced when the fence failed) and verified; never twice within `hold_down`.

mod resolv;
mod resolve;
mod sequence;
mod spec;
mod state;

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::{Cli, FailoverArgs, VarArgs};
use crate::exit;
use crate::playbook::{self, Diagnostic, Loaded, Source};
use crate::report::{Event, Level, Options, Status};
use resolve::{ActiveSource, Plan};
use sequence::{Ctx, Outcome};
pub use spec::FailoverPlaybook;
use state::State;

fn color(cli: &Cli) -> bool {
    crate::report::color_enabled(cli.no_color, std::io::stderr().is_terminal())
}

fn warnings(plan: &Plan) -> Vec<String> {
    let mut w = vec![];
    for path in plan.resolv_files() {
        match std::fs::read_to_string(&path) {
            Ok(text) => w.extend(resolv::warnings(&path, &text)),
            Err(e) => w.push(format!("{}: {}", path.display(), crate::describe_io(&e))),
        }
    }
    w
}

pub fn validate(source: Arc<Source>, args: &VarArgs) -> Result<String, Diagnostic> {
    let loaded: Loaded<FailoverPlaybook> = playbook::load_source(source, args)?;
    let plan = Plan::resolve(&loaded, false)?;
    for w in warnings(&plan) {
        eprintln!("warning: {w}");
    }
    Ok(format!("failover, {} servers", plan.servers.len()))
}

/// `tend plan` on a failover playbook: the dry run (it probes, and changes nothing).
pub fn plan(cli: &Cli, source: Arc<Source>, vars: &VarArgs) -> i32 {
    let path = source.path.clone();
    let loaded: Loaded<FailoverPlaybook> = match playbook::load_source(source, vars) {
        Ok(l) => l,
        Err(d) => {
            eprint!("{}", d.render(color(cli)));
            return exit::USAGE;
        }
    };
    let plan = match Plan::resolve(&loaded, false) {
        Ok(p) => p,
        Err(d) => {
            eprint!("{}", d.render(color(cli)));
            return exit::USAGE;
        }
    };
    let key = crate::lock::key_for(Some(&path), "failover");
    dry_run(&plan, &state_path(&crate::state_dir(cli), &key))
}

fn state_path(state: &Path, key: &str) -> std::path::PathBuf {
    state.join("failover").join(format!("{key}.json"))
}

pub fn run(cli: &Cli, args: &FailoverArgs) -> i32 {
    let loaded: Loaded<FailoverPlaybook> = match playbook::load(&args.playbook, &args.vars) {
        Ok(l) => l,
        Err(d) => {
            eprint!("{}", d.render(color(cli)));
            return exit::USAGE;
        }
    };
    let plan = match Plan::resolve(&loaded, !args.dry_run && !args.status) {
        Ok(p) => p,
        Err(d) => {
            eprint!("{}", d.render(color(cli)));
            return exit::USAGE;
        }
    };
    let key = crate::lock::key_for(Some(&args.playbook), "failover");
    let path = state_path(&crate::state_dir(cli), &key);
    if args.status {
        return status(&plan, &path);
    }
    if args.dry_run {
        return dry_run(&plan, &path);
    }
    let started = match crate::run::start(
        cli,
        "failover",
        Some(&args.playbook),
        loaded.name(),
        Options::from_cli(cli),
        args.lock.wait_lock,
        None,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tend: {e}");
            return if matches!(e, crate::lock::LockError::Held { .. }) {
                exit::LOCKED
            } else {
                exit::FAILED
            };
        }
    };
    let reporter = &started.reporter;
    let state = match State::load(&path) {
        Ok(s) => s,
        Err(e) => {
            reporter.notice(Level::Error, crate::describe_io(&e));
            reporter.finish();
            return exit::FAILED;
        }
    };
    // A signal ends a --watch between steps; a sequence under way finishes its step first.
    crate::interrupt::install();
    let mut ctx = Ctx {
        plan: &plan,
        reporter,
        state,
        state_path: &path,
        now: args.now,
        story: vec![],
    };
    let outcome = watch(&mut ctx, args.watch);
    reporter.emit(Event::RunFinished {
        status: if outcome.code == exit::OK {
            Status::Ok
        } else {
            Status::Failed
        },
        exit_code: outcome.code,
        elapsed_ms: reporter.elapsed_ms(),
        message: outcome.message,
    });
    reporter.finish();
    outcome.code
}

/// Probe rounds until there is a decision (or, with `--watch`, until a signal).
fn watch(c: &mut Ctx, forever: bool) -> Outcome {
    let p = c.plan;
    let mut fails = 0u32;
    let mut first_fail = (0u64, String::new());
    let mut round = 0u64;
    loop {
        if crate::interrupt::requested() {
            return Outcome {
                code: exit::OK,
                message: "stopped by a signal".into(),
            };
        }
        let started = Instant::now();
        let round_at = (state::epoch_ms(), crate::report::now_rfc3339());
        c.check_drift();
        let active = match c.active() {
            Ok(a) => a,
            Err(e) => {
                c.reporter.notice(Level::Error, e.clone());
                c.alert_once("failure", "cannot tell which server is active", &e);
                if forever {
                    pause(c, started);
                    continue;
                }
                return Outcome {
                    code: exit::FAILED,
                    message: e,
                };
            }
        };
        let name = p.servers[active].name.clone();
        // Promoted by a run killed before it could record it: record it now.
        if let Some(seq) = c.state.sequence.clone()
            && seq.to == name
        {
            let msg = format!(
                "the failover from {} to {} started {} completed, but the run was stopped before recording it",
                seq.from, seq.to, seq.started
            );
            c.reporter.notice(Level::Warn, msg.clone());
            c.state.note(msg);
            c.state.sequence = None;
            c.state.down_since = None;
            c.state.last_failover = Some(state::Failover {
                from: seq.from,
                to: seq.to,
                at: seq.started,
                epoch_ms: state::epoch_ms(),
                forced: seq.forced,
            });
            c.save();
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
        let answers = c.round();
        let parts: Vec<String> = p
            .servers
            .iter()
            .zip(&answers)
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
        let healthy = answers[active].healthy();
        fails = if healthy { 0 } else { fails + 1 };
        // The outage began with the first failed round, not with the `fall`-th: the grace
        // counts from there.
        if fails == 1 {
            first_fail = round_at;
        }
        c.reporter.emit(Event::StepFinished {
            step: format!("round {round}"),
            target: String::new(),
            status: if healthy { Status::Ok } else { Status::Warning },
            elapsed_ms: started.elapsed().as_millis() as u64,
            message: if healthy {
                parts.join("; ")
            } else {
                format!(
                    "{}; {name} failed {fails} of {} rounds",
                    parts.join("; "),
                    p.fall
                )
            },
        });
        if healthy {
            if c.state.down_since.take().is_some() {
                let msg = format!("{name} answers again: no failover");
                c.reporter.notice(Level::Info, msg.clone());
                c.state.note(msg);
                c.state.last_alert = None;
                c.save();
            }
            if !forever {
                return Outcome {
                    code: exit::OK,
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
        // Down.
        let now = state::epoch_ms();
        let since = match &c.state.down_since {
            Some(d) if d.server == name => d.epoch_ms,
            _ => {
                c.state.down_since = Some(state::Down {
                    server: name.clone(),
                    at: first_fail.1.clone(),
                    epoch_ms: first_fail.0,
                });
                let msg = format!(
                    "{name} is down: {} rounds failed ({})",
                    p.fall,
                    answers[active].describe()
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
        };
        if let Some(last) = &c.state.last_failover
            && !c.now
            && now.saturating_sub(last.epoch_ms) < p.hold_down.as_millis() as u64
        {
            let until = last.epoch_ms + p.hold_down.as_millis() as u64;
            let msg = format!(
                "{name} is down, but tend failed over from {} to {} at {}: no second failover (and no failback) within hold_down {}, that is for {} more; `--now` overrides",
                last.from,
                last.to,
                last.at,
                humantime::format_duration(p.hold_down),
                humantime::format_duration(Duration::from_secs((until - now) / 1000))
            );
            c.reporter.notice(Level::Error, msg.clone());
            c.alert_once("failure", &format!("{name} down during hold-down"), &msg);
            if !forever {
                return Outcome {
                    code: exit::FAILED,
                    message: msg,
                };
            }
            pause(c, started);
            continue;
        }
        let waited = Duration::from_millis(now.saturating_sub(since));
        if !c.now && waited < p.grace {
            let msg = format!(
                "{name} has been down for {}: failing over after grace {} unless it answers again",
                humantime::format_duration(waited),
                humantime::format_duration(p.grace)
            );
            c.reporter.notice(Level::Warn, msg.clone());
            if !forever {
                return Outcome {
                    code: exit::FAILED,
                    message: msg,
                };
            }
            pause(c, started);
            continue;
        }
        let o = c.fail_over(active);
        if !forever {
            return o;
        }
        announce(c, &o);
        fails = 0;
        pause(c, started);
    }
}

/// In `--watch`, a sequence's outcome is a line of its own: the run goes on.
fn announce(c: &Ctx, o: &Outcome) {
    let level = if o.code == exit::OK {
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

fn status(plan: &Plan, path: &Path) -> i32 {
    let state = match State::load(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tend: {}", crate::describe_io(&e));
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

fn dry_run(plan: &Plan, path: &Path) -> i32 {
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
