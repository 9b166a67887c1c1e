//! This machine as the place a check's remedy runs: a cleanup as a tend of its own, a command
//! as a step, and the checks measured again in this process.

use std::time::Duration;

use super::evaluate::Resolved;
use super::remedy::{self, CLEANUP_LIMIT, Place};
use super::verdict::Verdict;
use crate::action::Action;
use crate::fleet::envelope::Envelope;
use crate::report::Reporter;

pub struct Here<'a> {
    pub checks: &'a [Resolved],
    pub deadline: Duration,
}

impl Place for Here<'_> {
    fn run(&self, action: &Action, reporter: &Reporter, step: &str) -> Result<String, String> {
        remedy::done(action.execute(&crate::machine::Local, reporter, step, None))
    }

    fn cleanup(&self, reporter: &Reporter, envelope: &Envelope) -> Result<String, String> {
        let ran = crate::fleet::remote::run_here(reporter, "cleanup", envelope, CLEANUP_LIMIT)
            .map_err(|e| e.to_string())?;
        crate::cleanup::Outcome::of(&ran, "tend").map(|o| o.told())
    }

    fn recheck(&self, reporter: &Reporter, items: &[usize]) -> Vec<Verdict> {
        let mut all = vec![];
        for &i in items {
            let again = super::evaluate::run_all(&self.checks[i..=i], reporter, self.deadline);
            all.extend(again.into_iter().map(|mut v| {
                v.item = i;
                v
            }));
        }
        all
    }

    fn host(&self) -> serde_json::Value {
        serde_json::json!({ "name": crate::sys::hostname() })
    }
}
