//! One step's two events: announced when it starts, timed and told how it ended when it ends.

use std::time::Instant;

use crate::report::{Event, Reporter, Status};

#[must_use = "a step that is begun must end"]
pub struct Step<'r> {
    reporter: &'r Reporter,
    name: String,
    started: Instant,
}

impl<'r> Step<'r> {
    pub fn begin(reporter: &'r Reporter, name: &str) -> Self {
        reporter.emit(Event::StepStarted {
            step: name.to_string(),
            target: String::new(),
        });
        Step {
            reporter,
            name: name.to_string(),
            started: Instant::now(),
        }
    }

    /// A line of the step's output.
    pub fn output(&self, line: String) {
        self.reporter.emit(Event::Output {
            step: self.name.clone(),
            target: String::new(),
            line,
        });
    }

    pub fn end(self, status: Status, message: String) {
        let took = self.started.elapsed();
        self.end_after(took, status, message);
    }

    /// `end`, for work done before the step was announced (a connection opened early).
    pub fn end_after(self, took: std::time::Duration, status: Status, message: String) {
        self.reporter.emit(Event::StepFinished {
            step: self.name,
            target: String::new(),
            status,
            elapsed_ms: took.as_millis() as u64,
            message,
        });
    }
}
