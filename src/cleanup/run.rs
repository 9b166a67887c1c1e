//! A cleanup's run: under the playbook's lock and recorded (or, for a dry run and a plan,
//! neither), each rule as a step and then the free-space step, the same list whatever the hand
//! (`Doing`, or a dry run's `Preview`), and the alert.

use crate::config::Config;
use crate::engine::{Locking, Run, Spec, Step};
use crate::error::{Error, Exit};
use crate::playbook::Loaded;
use crate::playbook::units::Size;
use crate::report::{Level, Status};

use super::job::Job;
use super::resolve::{self, resolve};
use super::spec::{Action, CleanupPlaybook};
use super::{doing, hand, preview};

/// How a cleanup runs: for real (under the playbook's lock, recorded), as a dry run (its
/// actions shown as it goes), or as a plan (the dry run listed on stdout at the end).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum How {
    Run { wait: Option<std::time::Duration> },
    DryRun,
    Plan,
}

/// Whom a cleanup runs for: a person or a timer here, or a controller that started it on this
/// host (no journal and no alert here: the controller keeps those; the result as one line).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum For {
    Here,
    Controller,
}

/// What a cleanup on a host tells its controller.
#[derive(serde::Serialize, serde::Deserialize, Default, Clone)]
pub struct Outcome {
    pub files: u64,
    pub freed: u64,
    pub failures: Vec<String>,
    /// Where free space is measured: `free_space.mount`, else the first rule's path.
    pub mount: String,
    /// Bytes available there before the first rule and after the last step.
    pub free_before: Option<u64>,
    pub free_after: Option<u64>,
    pub dry_run: bool,
}

impl Outcome {
    /// What a tend started for a controller (`ran`, at `tend`) did, or why it gave no result.
    pub fn of(ran: &crate::fleet::remote::Ran, tend: &str) -> Result<Outcome, String> {
        ran.result
            .as_ref()
            .and_then(|r| serde_json::from_value::<Outcome>(r.clone()).ok())
            .ok_or_else(|| ran.why(tend))
    }

    /// "3 files, 12.4 GiB reclaimed", with what failed.
    pub fn told(&self) -> String {
        let mut told = format!("{} files, {} reclaimed", self.files, Size(self.freed));
        if !self.failures.is_empty() {
            told += &format!("; FAILED: {}", self.failures.join("; "));
        }
        told
    }
}

/// Bytes available to an unprivileged user on the filesystem of `path`.
fn available(path: &str) -> Option<u64> {
    let s = rustix::fs::statvfs(path).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

pub fn execute(
    cfg: &Config,
    loaded: &Loaded<CleanupPlaybook>,
    how: How,
    jobs: Option<u16>,
    whom: For,
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
            record: matches!(how, How::Run { .. }) && whom == For::Here,
            listed: how == How::Plan,
            timed: false,
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
    let mount = match &plan.free_space {
        Some((_, mount)) => mount.display().to_string(),
        None => plan
            .rules
            .first()
            .map_or_else(String::new, |r| r.root.display().to_string()),
    };
    let free_before = available(&mount);
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
    if whom == For::Controller {
        let outcome = Outcome {
            files: done.files,
            freed: done.freed,
            failures: done.failures.clone(),
            free_after: available(&mount),
            mount,
            free_before,
            dry_run,
        };
        crate::fleet::remote::send_result(&outcome)?;
    } else if !dry_run {
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
        let freed = job.free_space(fs, mount, &plan.rules);
        done.files += freed.files;
        done.freed += freed.bytes;
        if freed.status == Status::Failed {
            done.failures.push(format!("free space: {}", freed.message));
        }
        step.end(freed.status, freed.message);
    }
    done
}
