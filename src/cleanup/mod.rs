//! `tend cleanup`: compress, archive and expire files by rule, and free a mount below a target,
//! without ever losing a byte.

mod archive;
mod compress;
mod delete;
mod doing;
mod gzip;
mod hand;
mod job;
mod preview;
mod resolve;
mod select;
mod spec;

use std::sync::Arc;

use crate::cli::{CleanupArgs, VarArgs};
use crate::config::Config;
use crate::engine::{Locking, Run, Spec, Step};
use crate::error::{Error, Exit};
use crate::playbook::units::Size;
use crate::playbook::{self, Diagnostic, Loaded, Source};
use crate::report::{Level, Status};
use job::Job;
use resolve::resolve;
use spec::Action;
pub use spec::CleanupPlaybook;

pub fn validate(source: std::sync::Arc<Source>, args: &VarArgs) -> Result<String, Diagnostic> {
    let loaded: Loaded<CleanupPlaybook> = playbook::load_source(source, args)?;
    loaded.print_secret_warnings();
    let plan = resolve(&loaded, loaded.templater(false)?, false)?;
    Ok(format!("cleanup, {} rules", plan.rules.len()))
}

pub fn run(cfg: &Config, args: &CleanupArgs) -> Result<Exit, Error> {
    let loaded: Loaded<CleanupPlaybook> = playbook::load(&args.playbook, &args.vars)?;
    let how = if args.dry_run {
        // A dry run only reads: it waits for no run and is not recorded as one.
        How::DryRun
    } else {
        How::Run {
            wait: args.lock.wait_lock,
        }
    };
    execute(cfg, &loaded, how, args.jobs)
}

/// `tend plan` on a cleanup playbook: its dry run, listed on stdout as a plan.
pub fn plan(cfg: &Config, source: Arc<Source>, vars: &VarArgs) -> Result<Exit, Error> {
    let loaded: Loaded<CleanupPlaybook> = playbook::load_source(source, vars)?;
    execute(cfg, &loaded, How::Plan, None)
}

/// How a cleanup runs: for real (under the playbook's lock, recorded), as a dry run (its
/// actions shown as it goes), or as a plan (the dry run listed on stdout at the end).
#[derive(Clone, Copy, PartialEq, Eq)]
enum How {
    Run { wait: Option<std::time::Duration> },
    DryRun,
    Plan,
}

fn execute(
    cfg: &Config,
    loaded: &Loaded<CleanupPlaybook>,
    how: How,
    jobs: Option<u16>,
) -> Result<Exit, Error> {
    let plan = resolve(loaded, loaded.templater(true)?, true)?;
    let dry_run = matches!(how, How::DryRun | How::Plan);
    let opts = crate::report::Options {
        // A dry run's listing of every action is its whole point; a plan's is on stdout.
        verbose: cfg.report.verbose || how == How::DryRun,
        quiet: cfg.report.quiet || how == How::Plan,
        ..cfg.report
    };
    let (locking, wait) = match how {
        How::Run { wait } => (Locking::Playbook, wait),
        How::DryRun | How::Plan => (Locking::None, None),
    };
    let run = Run::start(
        cfg,
        Spec {
            kind: "cleanup",
            playbook: Some(&loaded.source),
            name: loaded.name(),
            locking,
            wait,
            opts,
            undoes: false,
            record: matches!(how, How::Run { .. }),
            listed: how == How::Plan,
        },
    )?;
    let reporter = run.reporter();
    let jobs = jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let hand: Box<dyn hand::Hand> = if dry_run {
        warn_unseen(reporter, &plan);
        Box::new(preview::Preview::default())
    } else {
        Box::new(doing::Doing)
    };
    // A plan lists every action too.
    let job = Job::new(reporter, &*hand, jobs, opts.verbose || how == How::Plan);
    let done = steps(reporter, &job, &plan);
    let failed = !done.failures.is_empty();
    let total = if dry_run {
        format!(
            "cleanup would act on {} files, about {} reclaimed",
            done.files,
            Size(done.freed)
        )
    } else {
        format!(
            "cleanup acted on {} files, {} reclaimed",
            done.files,
            Size(done.freed)
        )
    };
    let message = if failed {
        format!("FAILED: {}; {total}", done.failures.join("; "))
    } else {
        total
    };
    if !dry_run {
        let (reason, subject) = if failed {
            ("failure", "FAILED")
        } else {
            ("success", "done")
        };
        run.alert(
            &plan.notifier,
            reason,
            subject,
            &format!(
                "{message}. Nothing was lost: originals stay until their compressed copy or archive is durable."
            ),
        );
    }
    let exit = if failed { Exit::FAILED } else { Exit::OK };
    Ok(run.finish(exit, message))
}

/// A dry run sees the files as they are, not the `.gz` files and archives a rule makes, which a
/// later rule or the free-space step may take: it says so.
fn warn_unseen(reporter: &crate::report::Reporter, plan: &resolve::Plan) {
    let makes = plan
        .rules
        .iter()
        .position(|r| matches!(r.rule.action, Action::Compress | Action::Archive));
    if let Some(i) = makes
        && (i + 1 < plan.rules.len() || plan.free_space.is_some())
    {
        reporter.notice(
            Level::Warn,
            format!(
                "a dry run does not see the .gz files and archives {} makes: a later rule or \
                 the free-space step may act on more, or other, files than listed",
                plan.rules[i].label
            ),
        );
    }
}

/// What the rules and the free-space step did, together.
#[derive(Default)]
struct Done {
    files: u64,
    freed: u64,
    /// What failed, for the run's last line and the alert's first.
    failures: Vec<String>,
}

/// Each rule as a step, then the free-space step.
fn steps(reporter: &crate::report::Reporter, job: &Job, plan: &resolve::Plan) -> Done {
    let mut done = Done::default();
    for r in &plan.rules {
        let step = Step::begin(reporter, &r.label);
        let tally = match r.rule.action {
            Action::Compress => job.compress(r),
            Action::Delete => job.delete(r),
            Action::Archive => job.archive(r, plan),
        };
        reporter.clear_progress(&r.label);
        for (p, why) in &tally.skipped {
            reporter.notice(Level::Warn, format!("{}: left alone: {why}", p.display()));
        }
        for (p, why) in &tally.failed {
            reporter.notice(Level::Error, format!("{}: {why}", p.display()));
        }
        done.files += tally.files;
        done.freed += tally.before.saturating_sub(tally.after);
        let status = tally.status();
        let message = job.summary(r.rule.action, &tally);
        if status == Status::Failed {
            done.failures.push(format!("{}: {message}", r.label));
        }
        step.end(status, message);
    }
    if let Some((fs, mount)) = &plan.free_space {
        let step = Step::begin(reporter, "free space");
        let (status, message) = job.free_space(fs, mount, &plan.rules);
        if status == Status::Failed {
            done.failures.push(format!("free space: {message}"));
        }
        step.end(status, message);
    }
    done
}
