//! `tend drill` on a check playbook: the alert path rehearsed. A test alert marked `[DRILL]`
//! goes through every channel the playbook configures (whatever their `on:`), each timed and
//! judged by its server's answer (SMTP 250, HTTP 2xx); with `--trip CHECK`, that check is
//! measured for real, judged CRITICAL whatever it reads, and its alert, as a real one would be
//! composed, goes the same way. Nothing of it reaches the alert state.

use std::sync::Arc;

use super::evaluate::Resolved;
use super::resolve::resolve;
use super::verdict::Verdict;
use super::{CheckPlaybook, alert, evaluate};
use crate::cli::DrillArgs;
use crate::config::Config;
use crate::drill::{Asked, Drill, DrillSpec};
use crate::error::{Error, Exit};
use crate::notify::{Alert, Incident, Notifier};
use crate::playbook::{self, Loaded, Source};
use crate::report::{Level, Status};

pub fn drill(cfg: &Config, source: Arc<Source>, args: &DrillArgs) -> Result<Exit, Error> {
    let loaded: Loaded<CheckPlaybook> = playbook::load_source(source, &args.vars)?;
    let spec = loaded.body.drill.as_ref();
    let templater = loaded.templater(!args.dry_run)?;
    checked(&loaded, &templater)?;
    if args.hosts.limit.is_some() {
        return Err(Error::Usage(
            "--limit is for a fleet's deploy drill; a check drill runs here".into(),
        ));
    }
    let plan = resolve(&loaded, &templater, !args.dry_run)?;
    let notifier = plan.notifier?;
    if notifier.is_empty() {
        return Err(Error::Usage(format!(
            "{} has no `notify:` channel: there is no alert path to rehearse\n  hint: add notify: {{ email: ... }} or a webhook, then drill it",
            loaded.source.path.display()
        )));
    }
    let tripped = match &args.trip {
        Some(name) => Some(find(&plan.checks, name)?),
        None => None,
    };
    if args.dry_run {
        let trip = tripped.map(|i| plan.checks[i].label());
        outln!(
            "{}dry run: nothing was sent",
            planned(&loaded.name(), &notifier, trip.as_deref())
        );
        return Ok(Exit::OK);
    }
    crate::drill::consented(spec, args.yes, &loaded.source.path)?;
    let asked = Asked::of(args)?;
    let drill = Drill::start(
        cfg,
        &loaded.source,
        "check",
        format!("{} (check)", loaded.name()),
        None,
        &asked,
        None,
    )?;
    let reporter = drill.reporter();
    let test = test_alert(&loaded.name(), &loaded.source.path, drill.run.id());
    let mut delivered = send(&drill, &notifier, &test, "alert");
    if let Some(i) = tripped {
        let mut outcomes = evaluate::run_all(&plan.checks, reporter, plan.deadline);
        outcomes.iter_mut().for_each(Verdict::redact);
        trip(&mut outcomes[i]);
        reporter.notice(
            Level::Warn,
            format!(
                "drill: tripped {}: {} ({})",
                outcomes[i].name, outcomes[i].summary, outcomes[i].thresholds
            ),
        );
        let ctx = alert::Context {
            state_file: Default::default(),
            measured: alert::now_ms(),
            notifier: &notifier,
            repeat: None,
            playbook: loaded.source.path.display().to_string(),
            name: loaded.name(),
            run: drill.run.id(),
            runbook: plan.runbook.clone(),
            first_steps: plan.first_steps.clone(),
        };
        let a = alert::drilled(&ctx, &outcomes, i);
        delivered &= send(&drill, &notifier, &a, "trip");
    }
    let legs = drill.legs();
    let failed: Vec<&str> = legs
        .iter()
        .filter(|l| !l.verified)
        .map(|l| l.to.as_str())
        .collect();
    let (exit, message) = if failed.is_empty() && !delivered {
        (
            Exit::FAILED,
            "every channel accepted the drill's alert, but one did not take its resolve: the alert stays open there".to_string(),
        )
    } else if delivered {
        (
            Exit::OK,
            format!(
                "every channel accepted the drill's alert{}",
                if legs.len() == 1 { "" } else { "s" }
            ),
        )
    } else {
        (
            Exit::FAILED,
            format!(
                "{} of {} deliveries failed: {}",
                failed.len(),
                legs.len(),
                failed.join("; ")
            ),
        )
    };
    Ok(drill.finish(cfg, &asked, exit, message))
}

/// The `drill:` key as a check playbook may have it: no budget, for it has no leg to time.
pub fn checked(
    loaded: &Loaded<CheckPlaybook>,
    templater: &crate::playbook::Templater,
) -> Result<(), crate::playbook::Diagnostic> {
    let scope = loaded.scope(templater);
    DrillSpec::budget(loaded.body.drill.as_ref(), &scope, false)?;
    if loaded
        .body
        .drill
        .as_ref()
        .is_some_and(|d| d.rollback_budget.is_some())
    {
        return Err(scope
            .at("drill")
            .error(
                "rollback_budget",
                "a check drill sends alerts: it has no leg to time",
            )
            .hint("rollback_budget is for deploy and failover playbooks; remove it here"));
    }
    Ok(())
}

/// What the drill sends, and where (`--dry-run`, `tend plan`).
pub fn planned(name: &str, notifier: &Notifier, trip: Option<&str>) -> String {
    let mut out = format!(
        "drill of the alert path of {name}:\n  1. a [DRILL] test alert through every channel, whatever its `on:`:\n"
    );
    for route in notifier.routes() {
        out.push_str(&format!("       {route}\n"));
    }
    match trip {
        Some(t) => out.push_str(&format!(
            "  2. trip {t}: measured, judged CRITICAL whatever it reads, its alert through every channel\n"
        )),
        None => out.push_str("  (--trip CHECK also trips that check, so its real alert goes the whole way)\n"),
    }
    out
}

/// The check `--trip` names: by its name, its label, or its kind when only one has it.
fn find(checks: &[Resolved], name: &str) -> Result<usize, Error> {
    if let Some(i) = checks.iter().position(|c| c.label() == name) {
        return Ok(i);
    }
    let of_kind: Vec<usize> = (0..checks.len())
        .filter(|&i| checks[i].spec.kind() == name)
        .collect();
    match of_kind[..] {
        [i] => Ok(i),
        _ => {
            let names: Vec<String> = checks.iter().map(Resolved::label).collect();
            Err(Error::Usage(format!(
                "--trip {name}: {}; the checks are: {}",
                if of_kind.is_empty() {
                    "no check is named so"
                } else {
                    "several checks are of that kind: name one"
                },
                names.join(", ")
            )))
        }
    }
}

/// Judged CRITICAL whatever it read: the measurement stays real, the threshold is the drill's.
fn trip(v: &mut Verdict) {
    if v.status == Status::Unknown {
        // It could not be measured: that alert is the real path already.
        return;
    }
    v.thresholds = format!(
        "[DRILL] critical at any value (its own: {})",
        if v.thresholds.is_empty() {
            "none"
        } else {
            v.thresholds.as_str()
        }
    );
    v.status = Status::Critical;
}

fn test_alert(name: &str, playbook: &std::path::Path, run: &str) -> Alert {
    let host = crate::sys::hostname();
    let summary = format!("[DRILL] test alert from tend drill on {host}: no action needed");
    Alert {
        subject: format!("[DRILL] [tend] {host}: check '{name}': test alert, no action needed"),
        body: format!(
            "[DRILL] This is a test alert, sent on purpose by `tend drill {}` on {host} by {} at {} (run {run}) through every channel the playbook configures.\n\nNo action is needed: it shows that alerts from tend reach you.\n",
            playbook.display(),
            crate::sys::username(),
            crate::report::now_rfc3339()
        ),
        reason: "drill".into(),
        kind: "check".into(),
        playbook: name.to_string(),
        incidents: vec![Incident {
            name: format!("[DRILL] tend drill {name}"),
            severity: "info".into(),
            host,
            resolved: false,
            summary,
            description: "a test alert: no action needed".into(),
            since: None,
            runbook: None,
            first_steps: vec![],
            link: None,
        }],
    }
}

/// `alert` through every channel, each a leg; whether every one took it.
fn send(drill: &Drill, notifier: &Notifier, alert: &Alert, leg: &str) -> bool {
    let reporter = drill.reporter();
    let mut all = true;
    for t in notifier.rehearse(alert) {
        let from = if leg == "alert" {
            "test alert"
        } else {
            &alert.incidents[0].name
        };
        let timing = drill.delivered(leg, from, &t.channel, t.took);
        let (ok, said) = match &t.delivery {
            crate::notify::Delivery::Sent(what) => (true, format!("accepted: {what}")),
            crate::notify::Delivery::Failed(why) => (false, why.clone()),
        };
        all &= ok;
        drill.end(reporter, timing, ok, said);
        if let Some(crate::notify::Delivery::Failed(why)) = &t.resolved {
            let finding = format!(
                "the [DRILL] alert stays open at {}: its resolve was not taken: {why}",
                t.channel
            );
            reporter.notice(Level::Error, finding.clone());
            drill.finding(finding);
            all = false;
        }
    }
    all
}
