//! A deploy's or rollback's run as the engine keeps it: started with its lock, its record and
//! a rollback on a signal; finished with the alert the playbook wants and the exit code.

use crate::config::Config;
use crate::engine::{Locking, Run, Spec};
use crate::error::{Error, Exit};
use crate::playbook::Source;

use super::resolve::Deploy;
use super::runner::Ending;

/// A deploy's or a rollback's run: recorded, holding `locking`, and rolled back on a signal.
pub fn start(
    cfg: &Config,
    kind: &'static str,
    playbook: &Source,
    name: String,
    locking: Locking,
    wait: Option<std::time::Duration>,
) -> Result<Run, Error> {
    let spec = Spec {
        kind,
        playbook: Some(playbook),
        name,
        locking,
        wait,
        opts: cfg.report,
        undoes: true,
        record: true,
        listed: false,
        timed: false,
    };
    Run::start(cfg, spec)
}

/// The alert for a deploy or rollback, for the reasons the playbook wants, and the run's end.
pub fn finish(run: Run, d: &Deploy, outcome: Ending, subject: &str) -> Exit {
    let reasons: &[&str] = match outcome.reason {
        "rollback" => &["rollback", "failure"],
        "failure" => &["failure"],
        _ => &["success"],
    };
    if let Some(reason) = reasons.iter().find(|r| d.notifier.wants(r)) {
        run.alert(&d.notifier, reason, subject, &outcome.message);
    }
    run.finish(outcome.code, outcome.message)
}
