//! `tend check`: threshold checks with Nagios exit codes, perfdata and alerts.

mod alert;
mod evaluate;
mod measure;
mod outcome;
mod output;
mod spec;
mod threshold;

use std::io::{IsTerminal, Write};
use std::path::Path;

use crate::cli::{CheckArgs, Cli, Output};
use crate::notify::Notifier;
use crate::playbook::{self, Diagnostic, Loaded, Mode, Source, Templater};
use crate::report::{Event, Level, Options, Status};
use evaluate::Resolved;
use outcome::{nagios_code, nagios_word, overall};
pub use spec::CheckPlaybook;

/// `tend statvfs PATH`, the helper behind hung-mount-safe disk checks.
pub fn statvfs(path: &str) -> Result<String, String> {
    measure::disk::read(path).map(|u| u.to_string())
}

const ALERT_REASONS: &[&str] = &["critical", "warning", "unknown", "recovery"];

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

struct Plan {
    checks: Vec<Resolved>,
    /// An SMTP password that cannot be read must not stop the checks: they run, and the alert
    /// waits (state untouched) until it can be sent.
    notifier: Result<Notifier, Diagnostic>,
    runbook: Option<String>,
    first_steps: Vec<String>,
}

fn resolve(
    loaded: &Loaded<CheckPlaybook>,
    t: &Templater,
    real_secrets: bool,
) -> Result<Plan, Diagnostic> {
    let top = loaded.scope(t);
    let body = &loaded.body;
    if body.checks.is_empty() {
        return Err(top
            .error("checks", "`checks` is empty")
            .hint("add at least one check, e.g. `- disk: { mount: /, warn: 80, crit: 90 }`"));
    }
    let steps = |scope: &playbook::Scope, list: &[String]| -> Result<Vec<String>, Diagnostic> {
        list.iter()
            .enumerate()
            .map(|(i, s)| scope.render(&format!("first_steps[{i}]"), s, Mode::Text))
            .collect()
    };
    let mut checks = vec![];
    for (i, item) in body.checks.iter().enumerate() {
        let scope = top.at(&format!("checks[{i}]"));
        let kind_scope = scope.at(item.spec.kind());
        let probe = match &item.spec {
            spec::CheckSpec::Probe(p) => Some(p.resolve(&kind_scope)?),
            _ => None,
        };
        let path = match &item.spec {
            spec::CheckSpec::FileAge(f) => Some(kind_scope.render("path", &f.path, Mode::Text)?),
            _ => None,
        };
        checks.push(Resolved {
            spec: item.spec.clone(),
            name: item
                .name
                .as_ref()
                .map(|n| scope.render("name", n, Mode::Text))
                .transpose()?,
            probe,
            path,
            runbook: item
                .runbook
                .as_ref()
                .map(|r| scope.render("runbook", r, Mode::Text))
                .transpose()?,
            first_steps: steps(&scope, &item.first_steps)?,
        });
    }
    Ok(Plan {
        checks,
        notifier: body.notify.resolve(&top, ALERT_REASONS, real_secrets),
        runbook: body
            .runbook
            .as_ref()
            .map(|r| top.render("runbook", r, Mode::Text))
            .transpose()?,
        first_steps: steps(&top, &body.first_steps)?,
    })
}

/// `tend validate` for a check playbook: everything but reading secrets and running checks.
pub fn validate(
    source: std::sync::Arc<Source>,
    args: &crate::cli::VarArgs,
) -> Result<String, Diagnostic> {
    let loaded: Loaded<CheckPlaybook> = playbook::load_source(source, args)?;
    loaded.print_secret_warnings();
    let plan = resolve(&loaded, &loaded.templater(false)?, false)?;
    plan.notifier?;
    Ok(format!("check, {} checks", plan.checks.len()))
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

/// UNKNOWN, in the format asked for: the plugin line on stdout, the full story on stderr.
fn unknown(cli: &Cli, message: &str, diag: Option<&Diagnostic>) -> i32 {
    let color = crate::report::color_enabled(cli.no_color, std::io::stderr().is_terminal());
    match diag {
        Some(d) => eprint!("{}", d.render(color)),
        None => eprintln!("tend: {message}"),
    }
    let line = message.replace('|', "/").replace('\n', " ");
    match cli.output {
        Output::Nagios => println!("TEND UNKNOWN - {line}"),
        Output::Json => println!(
            "{}",
            serde_json::json!({ "status": "unknown", "exit_code": 3, "error": line })
        ),
        _ => {}
    }
    3
}

pub fn run(cli: &Cli, args: &CheckArgs) -> i32 {
    let loaded = match load(args) {
        Ok(l) => l,
        Err(d) => return unknown(cli, &d.to_string(), Some(&d)),
    };
    let plan = match loaded
        .templater(true)
        .and_then(|t| resolve(&loaded, &t, !args.no_notify))
    {
        Ok(p) => p,
        Err(d) => return unknown(cli, &d.to_string(), Some(&d)),
    };
    let playbook_shown = args
        .playbook
        .as_ref()
        .map_or("(built-in default)".to_string(), |p| {
            p.display().to_string()
        });
    let mut opts = Options::from_cli(cli);
    opts.steps = false;
    let started = match crate::run::start(
        cli,
        "check",
        args.playbook.as_deref(),
        loaded.name(),
        opts,
        args.lock.wait_lock,
        None,
    ) {
        Ok(s) => s,
        Err(e) => return unknown(cli, &e.to_string(), None),
    };
    let (reporter, state, key) = (&started.reporter, &started.state, &started.key);
    let run_id = reporter.run().to_string();

    let mut outcomes = evaluate::run_all(&plan.checks, reporter);
    outcomes.iter_mut().for_each(outcome::Outcome::redact);
    let status = overall(&outcomes);

    match &plan.notifier {
        _ if args.no_notify => {}
        Err(d) => reporter.notice(Level::Error, format!("alerts cannot be sent: {d}")),
        Ok(notifier) => {
            let ctx = alert::Context {
                state_file: state.join("check").join(format!("{key}.json")),
                notifier,
                repeat: loaded.body.alert.repeat.map(|d| d.0),
                playbook: playbook_shown.clone(),
                run: &run_id,
                runbook: plan.runbook.clone(),
                first_steps: plan.first_steps.clone(),
            };
            match alert::process(&ctx, &outcomes) {
                Ok(deliveries) => {
                    for d in deliveries {
                        match d {
                            Ok(what) => reporter.notice(Level::Info, format!("alert sent: {what}")),
                            Err(why) => {
                                reporter.notice(Level::Error, format!("alert not delivered: {why}"))
                            }
                        }
                    }
                }
                Err(e) => reporter.notice(Level::Error, e),
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

    let stdout_tty = std::io::stdout().is_terminal();
    let text = match cli.output {
        Output::Nagios => output::nagios(&outcomes, status),
        Output::Json => output::json(&outcomes, status, &run_id),
        Output::Plain => output::plain(&outcomes),
        Output::Human => output::human(
            &outcomes,
            status,
            crate::report::color_enabled(cli.no_color, stdout_tty),
        ),
        Output::Auto if stdout_tty => output::human(
            &outcomes,
            status,
            crate::report::color_enabled(cli.no_color, true),
        ),
        Output::Auto => output::plain(&outcomes),
    };
    if !cli.quiet || status.is_problem() {
        let text = crate::redact::redact(&text);
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
    let problems = outcomes.iter().filter(|o| o.status.is_problem()).count();
    reporter.emit(Event::RunFinished {
        status: if status == Status::Ok {
            Status::Ok
        } else {
            status
        },
        exit_code: nagios_code(status),
        elapsed_ms: reporter.elapsed_ms(),
        message: format!(
            "{} ({} checks, {problems} not OK)",
            nagios_word(status),
            outcomes.len()
        ),
    });
    reporter.finish();
    nagios_code(status)
}
