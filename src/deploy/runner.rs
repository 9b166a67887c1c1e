//! Running a deploy's steps on its machine: each one through the engine's `Step`, with the
//! crash matrix's point at its start.

use std::path::Path;

use super::resolve::Deploy;
use crate::action::{Action, On};
use crate::engine::Step;
use crate::error::Exit;
use crate::machine::{Local, Machine};
use crate::probe::Probe;
use crate::report::{Reporter, Status};

pub struct Runner<'a> {
    pub d: &'a Deploy<'a>,
    pub reporter: &'a Reporter,
    pub target: &'a dyn Machine,
}

impl Runner<'_> {
    pub fn begin(&self, step: &str) -> Step<'_> {
        let s = Step::begin(self.reporter, step);
        if crate::crash::armed() {
            crate::crash::point(&format!("during:{step}"));
        }
        s
    }

    /// A step that is not a command: `f` says what it did, or why it failed.
    pub fn step<E: std::fmt::Display>(
        &self,
        step: &str,
        f: impl FnOnce() -> Result<String, E>,
    ) -> Result<(), StepFailed> {
        let s = self.begin(step);
        match f() {
            Ok(m) => {
                s.end(Status::Ok, m);
                Ok(())
            }
            Err(why) => {
                let why = why.to_string();
                s.end(Status::Failed, why.clone());
                Err(StepFailed(why))
            }
        }
    }

    pub fn action(&self, step: &str, a: &Action, dir: &Path) -> Result<(), StepFailed> {
        self.action_ran(step, a, dir).0
    }

    /// `action`, and whether a failure leaves it in doubt (cut short: it may have done part
    /// of its work, as a migration killed halfway has).
    pub fn action_ran(&self, step: &str, a: &Action, dir: &Path) -> (Result<(), StepFailed>, bool) {
        // `on: local` runs on the machine tend runs on, wherever the release goes; not in the
        // release's directory, which is on the host.
        let ran = match a.on {
            On::Local if self.target.is_remote() => {
                a.execute(&Local, &self.reporter.on_controller(), step, None)
            }
            _ => a.execute(self.target, self.reporter, step, dir.to_str()),
        };
        if ran.ok {
            (Ok(()), false)
        } else {
            (Err(StepFailed(ran.detail)), ran.in_doubt)
        }
    }

    pub fn probe(&self, step: &str, p: &Probe) -> Result<(), StepFailed> {
        let s = self.begin(step);
        let v = p.run(self.target);
        let tries = if v.attempts > 1 {
            format!(" ({} attempts)", v.attempts)
        } else {
            String::new()
        };
        if v.healthy {
            s.end(Status::Ok, format!("{}{tries}", v.detail));
            Ok(())
        } else {
            let msg = format!("{}{tries}", v.detail);
            s.end(Status::Failed, msg.clone());
            Err(StepFailed(msg))
        }
    }
}

/// Why an analysis gate did not pass: a failure (the rollback follows), or an inconclusive
/// analysis whose playbook says to halt where it is.
pub enum Gate {
    Failed(String),
    Halted(String),
}

impl Runner<'_> {
    /// A metric analysis as a step: each measurement an event, and, when it does not pass,
    /// the values, the conditions, the query and its graph said where the alert quotes them.
    pub fn analyze(&self, step: &str, a: &crate::analysis::Analysis) -> Result<(), Gate> {
        analyzed(self.reporter, self.begin(step), step, a)
    }
}

/// `a` measured as `step` (named `name`, begun): the step ended with its summary, the values,
/// conditions, query and graph said where the alert quotes them when it did not pass, and
/// whether the deploy goes on.
pub fn analyzed(
    reporter: &Reporter,
    step: Step<'_>,
    name: &str,
    a: &crate::analysis::Analysis,
) -> Result<(), Gate> {
    let c = a.run(reporter, name);
    if c.verdict == crate::report::Judged::Success {
        step.end(Status::Ok, c.summary);
        return Ok(());
    }
    step.end(Status::Failed, c.summary.clone());
    for line in c.quote {
        reporter.notice(crate::report::Level::Error, line);
    }
    if c.verdict == crate::report::Judged::Inconclusive
        && a.on_inconclusive == crate::analysis::OnInconclusive::Halt
    {
        Err(Gate::Halted(c.summary))
    } else {
        Err(Gate::Failed(c.summary))
    }
}

/// How a deploy, a rollback or a takeback ended: its exit code, what it says, and why an
/// alert goes out (failure, rollback or success).
pub struct Ending {
    pub code: Exit,
    pub message: String,
    pub reason: &'static str,
}

crate::reason::reason! {
    /// Why a step failed, as its last line says it.
    pub struct StepFailed;
}
