//! `tend cleanup` across hosts: tend runs the rules on each host itself (`fleet::remote`), with
//! the host's own cores, up to `--forks` hosts at once; each host's steps are shown here as they
//! go, then a table of what each host reclaimed and the free space before and after.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use super::resolve::resolve;
use super::run::Outcome;
use super::spec::CleanupPlaybook;
use crate::cli::CleanupArgs;
use crate::config::Config;
use crate::engine::{Locking, Run, Spec};
use crate::error::{Error, Exit};
use crate::fleet::envelope::Envelope;
use crate::fleet::{self, Early, Reached, Targets, remote};
use crate::inventory::Host;
use crate::playbook::units::Size;
use crate::playbook::{Diagnostic, Loaded, Templater};
use crate::report::{Level, Reporter};

/// The hosts a cleanup playbook names, `--limit` applied; `None` for this machine.
pub fn targets(
    loaded: &Loaded<CleanupPlaybook>,
    limit: Option<&str>,
) -> Result<Option<Targets>, Diagnostic> {
    if loaded.body.hosts.is_none() && loaded.body.inventory.is_none() && limit.is_none() {
        return Ok(None);
    }
    // Real secrets: an inventory's become password may be one.
    let templater = loaded.templater(true)?;
    fleet::targets(
        &loaded.scope(&templater),
        loaded.source.path.parent(),
        loaded.body.reach(),
        limit,
    )
}

/// Every host's templates rendered (an error names the host) before any host is reached; the
/// notifier, as the first host has it. What this machine has (a path, a mount) says nothing of
/// the hosts, which check their own.
pub fn resolved_on_each(
    loaded: &Loaded<CleanupPlaybook>,
    templater: &Templater,
    targets: &Targets,
    real_secrets: bool,
) -> Result<Option<crate::notify::Notifier>, Diagnostic> {
    crate::playbook::facts::lenient();
    let mut notifier = None;
    for h in &targets.hosts {
        let mut on = templater.clone();
        on.set_host(h.template_value());
        let plan = resolve(loaded, on, real_secrets).map_err(|mut d| {
            d.message = format!("{} (on host {})", d.message, h.name);
            d
        })?;
        notifier.get_or_insert(plan.notifier);
    }
    crate::playbook::facts::take();
    Ok(notifier)
}

/// How long a cleanup on a host may run: compressing a big log directory takes hours, not days.
const LIMIT: Duration = Duration::from_secs(24 * 3600);

pub fn run(
    cfg: &Config,
    args: &CleanupArgs,
    loaded: &Loaded<CleanupPlaybook>,
    targets: &Targets,
) -> Result<Exit, Error> {
    let secrets = loaded.secrets(true)?;
    let templater = Templater::new(&loaded.vars, &secrets);
    let notifier = resolved_on_each(loaded, &templater, targets, true)?;
    targets
        .warnings
        .iter()
        .for_each(|w| eprintln!("warning: {w}"));
    let ssh = fleet::ssh_spec(&loaded.scope(&templater), &loaded.body.reach())?;
    let run = Run::start(
        cfg,
        Spec {
            kind: "cleanup",
            playbook: Some(&loaded.source),
            name: loaded.name(),
            locking: if args.dry_run {
                Locking::None
            } else {
                Locking::Playbook
            },
            wait: args.lock.wait_lock,
            opts: crate::report::Options {
                verbose: cfg.report.verbose || args.dry_run,
                ..cfg.report
            },
            undoes: false,
            record: !args.dry_run,
            listed: false,
            timed: false,
        },
    )?;
    let reporter = run.reporter();
    // A host's connection closes when its cleanup is done: `--forks` of them are open at once.
    fleet::room_for(reporter, targets.hosts.len().min(args.forks.get()));
    let results: Vec<Mutex<Result<Outcome, String>>> = targets
        .hosts
        .iter()
        .map(|_| Mutex::new(Err(String::new())))
        .collect();
    let all: Vec<usize> = (0..targets.hosts.len()).collect();
    fleet::each(reporter, args.forks.get(), &all, "cleanup", |i| {
        let host = &targets.hosts[i];
        let r = reporter.for_host(&host.name);
        let outcome = on_host(&r, host, loaded, &secrets, &ssh, args);
        if let Err(why) = &outcome {
            r.notice(Level::Error, format!("summary: FAILED: {why}"));
        }
        *results[i].lock().unwrap_or_else(|e| e.into_inner()) = outcome;
    });
    let results: Vec<(&str, Result<Outcome, String>)> = targets
        .hosts
        .iter()
        .zip(results)
        .map(|(h, m)| {
            (
                h.name.as_str(),
                m.into_inner().unwrap_or_else(|e| e.into_inner()),
            )
        })
        .collect();
    let text = if cfg.json() {
        json(&results, reporter.run())
    } else {
        table(&results)
    };
    if !cfg.quiet || results.iter().any(|(_, r)| failed(r)) {
        let _ = std::io::stdout()
            .lock()
            .write_all(crate::redact::redact(&text).as_bytes());
    }
    let bad: Vec<&str> = results
        .iter()
        .filter(|(_, r)| failed(r))
        .map(|(h, _)| *h)
        .collect();
    let files: u64 = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .map(|o| o.files)
        .sum();
    let freed: u64 = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .map(|o| o.freed)
        .sum();
    let verb = if args.dry_run { "would act" } else { "acted" };
    let total = format!(
        "cleanup {verb} on {files} files on {}, {} reclaimed",
        fleet::hosts(results.len()),
        Size(freed)
    );
    let message = if bad.is_empty() {
        total
    } else {
        format!(
            "FAILED on {}: {}; {total}",
            fleet::hosts(bad.len()),
            crate::inventory::few(&bad)
        )
    };
    if !args.dry_run
        && let Some(notifier) = &notifier
    {
        let (reason, subject) = if bad.is_empty() {
            ("success", "done")
        } else {
            ("failure", "FAILED")
        };
        run.alert(
            notifier,
            reason,
            subject,
            &format!(
                "{message}. Nothing was lost: originals stay until their compressed copy or archive is durable.\n\n{}",
                table(&results)
            ),
        );
    }
    let exit = if bad.is_empty() {
        Exit::OK
    } else {
        Exit::FAILED
    };
    Ok(run.finish(exit, message))
}

/// A host failed: it gave no result, or its rules (or its free-space target) failed.
fn failed(r: &Result<Outcome, String>) -> bool {
    r.as_ref().map_or(true, |o| !o.failures.is_empty())
}

/// The cleanup on one host, or why it did not run there.
fn on_host(
    reporter: &Reporter,
    host: &Host,
    loaded: &Loaded<CleanupPlaybook>,
    secrets: &std::collections::BTreeMap<String, String>,
    ssh: &crate::machine::ssh::SshSpec,
    args: &CleanupArgs,
) -> Result<Outcome, String> {
    let conn = fleet::connect(reporter, host, ssh, &Early::default()).map_err(|e| e.to_string())?;
    let tend = remote::ensure(reporter, &conn, ssh, None).map_err(|e| e.to_string())?;
    let envelope = Envelope {
        jobs: args.jobs,
        dry_run: args.dry_run,
        ..Envelope::of(&loaded.source, &loaded.vars, host.as_json(), secrets)
    };
    let ran = remote::run(reporter, &conn, &tend, "cleanup", &envelope, LIMIT)
        .map_err(|e| e.to_string())?;
    Outcome::of(&ran, &tend)
}

fn size(b: Option<u64>) -> String {
    b.map_or_else(|| "-".to_string(), |b| Size(b).to_string())
}

/// What each host did: files, bytes reclaimed, free space before and after, what failed.
fn table(results: &[(&str, Result<Outcome, String>)]) -> String {
    let rows: Vec<[String; 7]> = results
        .iter()
        .map(|(host, r)| match r {
            Ok(o) => [
                crate::report::printable(host).into_owned(),
                if o.failures.is_empty() {
                    "ok"
                } else {
                    "FAILED"
                }
                .to_string(),
                o.files.to_string(),
                Size(o.freed).to_string(),
                size(o.free_before),
                size(o.free_after),
                crate::report::printable(&if o.failures.is_empty() {
                    o.mount.clone()
                } else {
                    format!("{}: {}", o.mount, o.failures.join("; "))
                })
                .into_owned(),
            ],
            Err(why) => [
                crate::report::printable(host).into_owned(),
                "FAILED".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                crate::report::printable(why).into_owned(),
            ],
        })
        .collect();
    let head = [
        "HOST",
        "RESULT",
        "FILES",
        "RECLAIMED",
        "FREE BEFORE",
        "FREE AFTER",
        "MOUNT / FAILURES",
    ];
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w.saturating_sub(cell.chars().count()));
            // Numbers right-aligned, words left.
            if (2..=5).contains(&i) {
                out += &format!("{pad}{cell}  ");
            } else {
                out += &format!("{cell}{pad}  ");
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(head.to_vec());
    for row in &rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out
}

fn json(results: &[(&str, Result<Outcome, String>)], run: &str) -> String {
    let hosts: Vec<serde_json::Value> = results
        .iter()
        .map(|(host, r)| match r {
            Ok(o) => serde_json::json!({
                "host": host,
                "ok": o.failures.is_empty(),
                "files": o.files,
                "freed_bytes": o.freed,
                "mount": o.mount,
                "free_before_bytes": o.free_before,
                "free_after_bytes": o.free_after,
                "failures": o.failures,
            }),
            Err(why) => serde_json::json!({ "host": host, "ok": false, "error": why }),
        })
        .collect();
    let ok = results.iter().all(|(_, r)| !failed(r));
    let doc = serde_json::json!({
        "status": if ok { "ok" } else { "failed" },
        "exit_code": if ok { 0 } else { 1 },
        "run": run,
        "hosts": hosts,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
