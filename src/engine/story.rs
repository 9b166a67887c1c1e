//! The alert's story: a sink that keeps one line per finished step and every notice, in the
//! order they happened, so an alert tells what the run did without any job keeping a list.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::report::{Event, Record, Sink};

#[derive(Default)]
pub struct Story {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    lines: Vec<String>,
    /// Notices said while a host's step runs: they follow that step's line, indented.
    pending: HashMap<String, Vec<String>>,
    open: HashMap<String, usize>,
}

impl Story {
    pub fn text(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut lines = inner.lines.clone();
        // A run that stops inside a step still tells what was said in it.
        for pending in inner.pending.values() {
            lines.extend(pending.iter().cloned());
        }
        lines.join("\n")
    }
}

fn prefix(host: &str) -> String {
    if host.is_empty() {
        String::new()
    } else {
        format!("{host}: ")
    }
}

impl Sink for Story {
    fn record(&self, record: &Record) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let host = &record.host;
        match &record.event {
            Event::StepStarted { .. } => *inner.open.entry(host.clone()).or_default() += 1,
            Event::StepFinished {
                step,
                status,
                message,
                ..
            } => {
                let line = format!("{}{}: {step}: {message}", prefix(host), status.label());
                inner.lines.push(line);
                let open = inner.open.entry(host.clone()).or_default();
                *open = open.saturating_sub(1);
                if *open == 0
                    && let Some(pending) = inner.pending.remove(host)
                {
                    inner.lines.extend(pending);
                }
            }
            Event::Notice { message, .. } => {
                let in_step = inner.open.get(host).is_some_and(|n| *n > 0);
                if in_step {
                    let line = format!("{}  {message}", prefix(host));
                    inner.pending.entry(host.clone()).or_default().push(line);
                } else {
                    inner.lines.push(format!("{}{message}", prefix(host)));
                }
            }
            _ => {}
        }
    }
}
