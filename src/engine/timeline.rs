//! A sink that keeps each finished step and each warning with the instant it was said, for a
//! job that reports its own timeline (a drill's game-day report: which leg took how long, and
//! how much of it was the playbook's own commands).

use std::sync::Mutex;
use std::time::Instant;

use crate::report::{Event, Level, Record, Sink, Status};

/// A finished step, or a notice worth a line of the report.
#[derive(Clone, Debug)]
pub struct Moment {
    pub at: Instant,
    pub host: String,
    /// The step, or "" for a notice.
    pub step: String,
    pub status: Status,
    pub elapsed_ms: u64,
    pub message: String,
}

#[derive(Default)]
pub struct Timeline(Mutex<Vec<Moment>>);

impl Timeline {
    pub fn moments(&self) -> Vec<Moment> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Sink for Timeline {
    fn record(&self, record: &Record) {
        let moment = match &record.event {
            Event::StepFinished {
                step,
                status,
                elapsed_ms,
                message,
                ..
            } => (step.clone(), *status, *elapsed_ms, message.clone()),
            Event::Notice { level, message } if *level != Level::Info => {
                let status = if *level == Level::Error {
                    Status::Failed
                } else {
                    Status::Warning
                };
                (String::new(), status, 0, message.clone())
            }
            _ => return,
        };
        let (step, status, elapsed_ms, message) = moment;
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Moment {
                at: Instant::now(),
                host: record.host.clone(),
                step,
                status,
                elapsed_ms,
                message,
            });
    }
}
