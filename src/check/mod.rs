//! `tend check`: threshold checks with Nagios exit codes, perfdata and alerts.

mod alert;
mod drill;
mod evaluate;
mod fleet;
mod here;
mod measure;
mod output;
mod plan;
mod remedy;
mod resolve;
mod spec;
mod threshold;
mod verdict;

use std::io::Write;
use std::path::Path;

use crate::cli::{CheckArgs, Output};
use crate::config::Config;
use crate::engine::{Locking, Run, Spec};
use crate::error::{Error, Exit};
use crate::fleet::Reached;
use crate::playbook::{self, Diagnostic, Loaded, Source};
use crate::report::Level;
pub use drill::drill;
use resolve::{resolve, resolve_on};
pub use spec::CheckPlaybook;
use verdict::{nagios_code, nagios_word, overall};

/// `tend statvfs PATH`, the helper behind hung-mount-safe disk checks.
pub fn statvfs(path: &str) -> Result<String, measure::Unmeasured> {
    measure::disk::read(path).map(|u| u.to_string())
}

/// How long a check waits for another run of the same playbook to finish sending its alerts.
const ALERT_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

pub(crate) const ALERT_REASONS: &[&str] = &["critical", "warning", "unknown", "recovery", "remedy"];

/// The set `tend check` runs with no playbook.
const DEFAULT_PLAYBOOK: &str = "\
kind: check
name: default
checks:
  - cpu: { warn: 80, crit: 90, sample: 1s }
  - memory: { warn: 80, crit: 90 }
  - swap: { warn: 50, crit: 80 }
  - disk: { warn: 80, crit: 90 }
  - load: { per_cpu: true }
";

/// `tend plan` on a check playbook: what each check measures and when it alerts, on stdout.
/// No secret is read and nothing is measured.
pub fn plan(
    cfg: &Config,
    source: std::sync::Arc<Source>,
    vars: &crate::cli::VarArgs,
) -> Result<Exit, Error> {
    let loaded: Loaded<CheckPlaybook> = playbook::load_source(source, vars)?;
    let templater = loaded.templater(false)?;
    let targets = targets(&loaded, &templater, None)?;
    let p = resolve_on(
        &loaded,
        &templater,
        false,
        targets.as_ref().map(|t| &t.hosts[..]),
    )?;
    let notifier = p.notifier?;
    let hosts = targets.map_or(vec![], |t| t.hosts.into_iter().map(|h| h.name).collect());
    let doc = plan::build(loaded.name(), &p.checks, p.deadline, &notifier, hosts);
    if cfg.json() {
        outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        out!("{}", plan::text(&doc, p.deadline));
        if loaded.body.drill.is_some() {
            out!("{}", drill::planned(&loaded.name(), &notifier, None));
        }
    }
    Ok(Exit::OK)
}

/// `tend validate` for a check playbook: everything but reading secrets and running checks.
pub fn validate(
    source: std::sync::Arc<Source>,
    args: &crate::cli::VarArgs,
) -> Result<String, Diagnostic> {
    let loaded: Loaded<CheckPlaybook> = playbook::load_source(source, args)?;
    loaded.print_secret_warnings();
    let templater = loaded.templater(false)?;
    drill::checked(&loaded, &templater)?;
    let targets = targets(&loaded, &templater, None)?;
    let plan = resolve_on(
        &loaded,
        &templater,
        false,
        targets.as_ref().map(|t| &t.hosts[..]),
    )?;
    plan.notifier?;
    let on = crate::fleet::noted(targets.as_ref());
    Ok(format!("check, {} checks{on}", plan.checks.len()))
}

/// The hosts the playbook names, `--limit` applied; none for this machine.
fn targets(
    loaded: &Loaded<CheckPlaybook>,
    templater: &playbook::Templater,
    limit: Option<&str>,
) -> Result<Option<crate::fleet::Targets>, Diagnostic> {
    crate::fleet::targets(
        &loaded.scope(templater),
        loaded.source.path.parent(),
        loaded.body.reach(),
        limit,
    )
}

fn load(args: &CheckArgs) -> Result<Loaded<CheckPlaybook>, Diagnostic> {
    match &args.playbook {
        Some(p) => playbook::load(p, &args.vars),
        None => {
            let source = Source::new(
                Path::new("<built-in default>"),
                DEFAULT_PLAYBOOK.to_string(),
            );
            let mut loaded: Loaded<CheckPlaybook> = playbook::load_source(source, &args.vars)?;
            if measure::memory::read().is_ok_and(|m| m.swap_total == 0) {
                loaded
                    .body
                    .checks
                    .retain(|c| !matches!(c.spec, spec::CheckSpec::Swap(_)));
            }
            Ok(loaded)
        }
    }
}

/// UNKNOWN on stdout, in the format asked for, after `main` printed the whole error on stderr:
/// a plugin line is all Nagios shows.
pub fn unknown(cfg: &Config, message: &str) -> Exit {
    // One line Nagios shows as it is: no pipe (perfdata follows one), no control character.
    let line = message.replace('|', "/").replace('\n', " ");
    let line = crate::report::printable(&line);
    match cfg.output {
        Output::Nagios => outln!("TEND UNKNOWN - {line}"),
        Output::Json => outln!(
            "{}",
            serde_json::json!({ "status": "unknown", "exit_code": 3, "error": line })
        ),
        _ => {}
    }
    Exit::NAGIOS_UNKNOWN
}

pub fn run(cfg: &Config, args: &CheckArgs) -> Result<Exit, Error> {
    if args.from_controller {
        return on_host(cfg, args);
    }
    let loaded = load(args)?;
    let secrets = loaded.secrets(true)?;
    let templater = playbook::Templater::new(&loaded.vars, &secrets);
    let targets = targets(&loaded, &templater, args.hosts.limit.as_deref())?;
    let plan = resolve_on(
        &loaded,
        &templater,
        !args.no_notify,
        targets.as_ref().map(|t| &t.hosts[..]),
    )?;
    let ssh = crate::fleet::ssh_spec(&loaded.scope(&templater), &loaded.body.reach())?;
    if let Some(t) = &targets {
        t.warnings.iter().for_each(|w| eprintln!("warning: {w}"));
    }
    let playbook_shown = args
        .playbook
        .as_ref()
        .map_or("(built-in default)".to_string(), |p| {
            p.display().to_string()
        });
    // No lock for the run: a check only reads, and two overlapping runs must both report (a
    // second one's UNKNOWN would page someone). Only the alert state is shared; it is updated
    // under the lock, below.
    let run = Run::start(
        cfg,
        Spec {
            kind: "check",
            playbook: args.playbook.as_ref().map(|_| &*loaded.source),
            name: loaded.name(),
            locking: Locking::None,
            wait: None,
            opts: crate::report::Options {
                // A person reads the table; across hosts a log reader gets every host's steps
                // (connect, tend, each check) as JSON.
                steps: targets.is_some() && cfg.json(),
                ..cfg.report
            },
            undoes: false,
            record: true,
            listed: false,
            timed: false,
        },
    )?;
    let reporter = run.reporter();
    let run_id = run.id().to_string();

    let measured = alert::now_ms();
    let deadline = args.timeout.unwrap_or(plan.deadline);
    let lock = || run.lock(args.lock.wait_lock.unwrap_or(ALERT_LOCK_WAIT));
    let remedies = remedy::Remedies::new(
        plan.checks.iter().map(|c| c.remedy.as_ref()).collect(),
        plan.checks.iter().map(evaluate::Resolved::label).collect(),
        run.state
            .join("check")
            .join(format!("{}.remedies.json", run.key)),
        &lock,
        &args.vars,
    );
    let remedies = (!args.no_remedy && remedies.any()).then_some(&remedies);
    let mut outcomes = match &targets {
        None => {
            let found = evaluate::run_all(&plan.checks, reporter, deadline);
            match remedies {
                Some(r) => {
                    let here = here::Here {
                        checks: &plan.checks,
                        deadline,
                    };
                    r.apply(&here, reporter, "", found)
                }
                None => found,
            }
        }
        Some(t) => fleet::check(
            &fleet::Ctx {
                loaded: &loaded,
                secrets: &secrets,
                ssh,
                reporter,
                forks: args.forks.get(),
                deadline,
                remedies,
            },
            t,
        ),
    };
    outcomes.iter_mut().for_each(verdict::Verdict::redact);
    let status = overall(&outcomes);

    match &plan.notifier {
        _ if args.no_notify => {}
        Err(d) => reporter.notice(Level::Error, format!("alerts cannot be sent: {d}")),
        Ok(notifier) => {
            let ctx = alert::Context {
                state_file: run.state.join("check").join(format!("{}.json", run.key)),
                measured,
                notifier,
                repeat: loaded.body.alert.repeat.map(|d| d.0),
                playbook: playbook_shown.clone(),
                name: loaded.name(),
                run: &run_id,
                runbook: plan.runbook.clone(),
                first_steps: plan.first_steps.clone(),
            };
            match run.lock(args.lock.wait_lock.unwrap_or(ALERT_LOCK_WAIT)) {
                Ok(_held) => match alert::process(&ctx, &outcomes) {
                    Ok(deliveries) => {
                        crate::engine::deliver(reporter, deliveries);
                    }
                    Err(e) => reporter.notice(Level::Error, e.to_string()),
                },
                Err(e) => reporter.notice(
                    Level::Error,
                    format!("alerts not processed this run (the next run sends what is due): {e}"),
                ),
            }
        }
    }
    if let Some(prom) = &args.prom_file
        && let Err(e) = crate::fsutil::atomic_write(
            prom,
            crate::redact::redact(&output::prometheus(&outcomes)).as_bytes(),
            0o644,
        )
    {
        reporter.notice(
            Level::Error,
            format!("cannot write {}: {e}", prom.display()),
        );
    }

    let human = cfg.output == Output::Human || (cfg.output == Output::Auto && cfg.stdout_tty);
    let text = match (&targets, cfg.output) {
        (None, Output::Nagios) => output::nagios(&outcomes, status),
        (None, Output::Json) => output::json(&outcomes, status, &run_id),
        (None, _) if human => output::human(&outcomes, status, cfg.stdout_color),
        (Some(_), Output::Nagios) if args.per_host => output::per_host(&outcomes, &loaded.name()),
        (Some(_), Output::Nagios) => output::fleet_nagios(&outcomes, status),
        (Some(_), Output::Json) => output::fleet_json(&outcomes, status, &run_id),
        (Some(_), _) if human => output::fleet_human(&outcomes, status, cfg.stdout_color),
        (_, _) => output::plain(&outcomes),
    };
    // `-q` quiets a person's table; a monitor reads its line (or document) whatever it says.
    if !cfg.quiet || status.is_problem() || matches!(cfg.output, Output::Nagios | Output::Json) {
        let text = crate::redact::redact(&text);
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
    let problems = outcomes.iter().filter(|o| o.status.is_problem()).count();
    let message = match &targets {
        None => format!(
            "{} ({} checks, {problems} not OK)",
            nagios_word(status),
            outcomes.len()
        ),
        Some(t) => {
            let bad = verdict::by_host(&outcomes)
                .iter()
                .filter(|(_, vs)| verdict::worst_status(vs).is_problem())
                .count();
            format!(
                "{} ({} checks on {}, {problems} not OK, on {})",
                nagios_word(status),
                outcomes.len(),
                crate::fleet::hosts(t.hosts.len()),
                crate::fleet::hosts(bad)
            )
        }
    };
    Ok(run.finish_as(status, nagios_code(status), message))
}

/// The part of a fleet check a controller runs on this host: the checks of the playbook it
/// sent on stdin, every event as JSON on stderr and the verdicts as one line on stdout; no
/// alert, no alert state, no journal (the controller keeps those, and the secrets it sent
/// must not be written here).
fn on_host(cfg: &Config, args: &CheckArgs) -> Result<Exit, Error> {
    let envelope = crate::fleet::envelope::Envelope::read()?;
    let timeout = envelope.timeout_ms.map(std::time::Duration::from_millis);
    let mut loaded: Loaded<CheckPlaybook> = envelope.load()?;
    // The controller runs the remedies (their playbooks are there, and when each last ran).
    loaded.body.checks.iter_mut().for_each(|c| c.remedy = None);
    let plan = resolve(&loaded, &loaded.templater(true)?, false)?;
    let run = Run::start(
        cfg,
        Spec {
            kind: "check",
            playbook: Some(&loaded.source),
            name: loaded.name(),
            locking: Locking::None,
            wait: None,
            opts: crate::report::Options {
                steps: true,
                ..cfg.report
            },
            undoes: false,
            record: false,
            listed: false,
            timed: false,
        },
    )?;
    let deadline = timeout.or(args.timeout).unwrap_or(plan.deadline);
    let mut outcomes = evaluate::run_all(&plan.checks, run.reporter(), deadline);
    outcomes.iter_mut().for_each(verdict::Verdict::redact);
    let status = overall(&outcomes);
    crate::fleet::remote::send_result(&serde_json::json!({ "checks": outcomes }))?;
    Ok(run.finish_as(status, nagios_code(status), nagios_word(status).to_string()))
}
