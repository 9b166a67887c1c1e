//! Running steps: each one announced, timed, reported and added to the alert's story.

use std::cell::RefCell;
use std::path::Path;
use std::time::Instant;

use super::resolve::Deploy;
use crate::action::Action;
use crate::probe::Probe;
use crate::report::{Event, Reporter, Status};
use crate::target::Target;

pub struct Runner<'a> {
    pub d: &'a Deploy<'a>,
    pub reporter: &'a Reporter,
    pub target: &'a dyn Target,
    /// One line per finished step, for the alert.
    pub story: RefCell<Vec<String>>,
}

impl Runner<'_> {
    pub fn begin(&self, step: &str) -> Instant {
        self.reporter.emit(Event::StepStarted {
            step: step.to_string(),
            target: String::new(),
        });
        if crate::crash::armed() {
            crate::crash::point(&format!("during:{step}"));
        }
        Instant::now()
    }

    pub fn end(&self, step: &str, started: Instant, status: Status, message: String) {
        self.story
            .borrow_mut()
            .push(format!("{}: {step}: {message}", status.label()));
        self.reporter.emit(Event::StepFinished {
            step: step.to_string(),
            target: String::new(),
            status,
            elapsed_ms: started.elapsed().as_millis() as u64,
            message,
        });
    }

    /// A step that is not a command: `f` says what it did, or why it failed.
    pub fn step(
        &self,
        step: &str,
        f: impl FnOnce() -> Result<String, String>,
    ) -> Result<(), String> {
        let started = self.begin(step);
        let result = f();
        match &result {
            Ok(m) => self.end(step, started, Status::Ok, m.clone()),
            Err(m) => self.end(step, started, Status::Failed, m.clone()),
        }
        result.map(|_| ())
    }

    pub fn action(&self, step: &str, a: &Action, dir: &Path) -> Result<(), String> {
        self.action_ran(step, a, dir).0
    }

    /// `action`, and whether a failure leaves it in doubt (cut short: it may have done part
    /// of its work, as a migration killed halfway has).
    pub fn action_ran(&self, step: &str, a: &Action, dir: &Path) -> (Result<(), String>, bool) {
        let ran = a.execute(self.target, self.reporter, step, dir.to_str());
        self.story.borrow_mut().push(format!(
            "{}: {step}: {}",
            if ran.ok { "ok" } else { "failed" },
            ran.detail
        ));
        if ran.ok {
            (Ok(()), false)
        } else {
            (Err(ran.detail), ran.in_doubt)
        }
    }

    pub fn probe(&self, step: &str, p: &Probe) -> Result<(), String> {
        let started = self.begin(step);
        let v = p.run(self.target);
        let tries = if v.attempts > 1 {
            format!(" ({} attempts)", v.attempts)
        } else {
            String::new()
        };
        if v.healthy {
            self.end(step, started, Status::Ok, format!("{}{tries}", v.detail));
            Ok(())
        } else {
            let msg = format!("{}{tries}", v.detail);
            self.end(step, started, Status::Failed, msg.clone());
            Err(msg)
        }
    }
}

/// How a deploy, a rollback or a takeback ended: its exit code, what it says, and why an
/// alert goes out (failure, rollback or success).
pub struct Outcome {
    pub code: i32,
    pub message: String,
    pub reason: &'static str,
}
