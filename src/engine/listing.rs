//! A run shown as a plan: a sink that keeps each step with what it would do, printed on stdout
//! when the run ends, as text or as one JSON document. `tend plan` on a cleanup playbook is its
//! dry run seen through this.

use std::fmt::Write;
use std::sync::Mutex;

use serde::Serialize;

use crate::report::{Event, Level, Record, Sink, printable};

#[derive(Default)]
pub struct Listing {
    doc: Mutex<Doc>,
}

#[derive(Serialize, Default)]
struct Doc {
    kind: String,
    name: String,
    steps: Vec<Planned>,
    warnings: Vec<String>,
    summary: String,
    exit_code: i32,
}

#[derive(Serialize)]
struct Planned {
    step: String,
    status: String,
    message: String,
    /// Each thing the step would do.
    actions: Vec<String>,
}

impl Sink for Listing {
    fn record(&self, record: &Record) {
        let mut doc = self.doc.lock().unwrap_or_else(|e| e.into_inner());
        match &record.event {
            Event::RunStarted { kind, name, .. } => {
                doc.kind.clone_from(kind);
                doc.name.clone_from(name);
            }
            Event::StepStarted { step, .. } => doc.steps.push(Planned {
                step: step.clone(),
                status: String::new(),
                message: String::new(),
                actions: vec![],
            }),
            Event::Output { step, line, .. } => {
                if let Some(s) = doc.steps.iter_mut().rev().find(|s| s.step == *step) {
                    s.actions.push(line.clone());
                }
            }
            Event::StepFinished {
                step,
                status,
                message,
                ..
            } => {
                if let Some(s) = doc.steps.iter_mut().rev().find(|s| s.step == *step) {
                    s.status = status.label().to_string();
                    s.message.clone_from(message);
                    // Work done in parallel says what it would do in any order: a plan reads
                    // the same every time.
                    s.actions.sort();
                }
            }
            Event::Notice { level, message } if *level != Level::Info => {
                doc.warnings.push(message.clone());
            }
            Event::Notice { .. } | Event::Measurement { .. } => {}
            Event::RunFinished {
                exit_code, message, ..
            } => {
                doc.summary.clone_from(message);
                doc.exit_code = *exit_code;
            }
        }
    }
}

impl Listing {
    pub fn render(&self, json: bool) -> String {
        let doc = self.doc.lock().unwrap_or_else(|e| e.into_inner());
        if json {
            let mut out = serde_json::to_string_pretty(&*doc).unwrap_or_default();
            out.push('\n');
            return out;
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} '{}': a dry run, nothing is touched",
            doc.kind,
            printable(&doc.name)
        );
        for (n, s) in doc.steps.iter().enumerate() {
            let flag = match s.status.as_str() {
                "ok" => String::new(),
                other => format!(" [{other}]"),
            };
            let _ = writeln!(
                out,
                "  {:>2}. {}{flag}: {}",
                n + 1,
                printable(&s.step),
                printable(&s.message)
            );
            for a in &s.actions {
                let _ = writeln!(out, "        {}", printable(a));
            }
        }
        for w in &doc.warnings {
            let _ = writeln!(out, "warning: {}", printable(w));
        }
        let _ = writeln!(out, "{}", printable(&doc.summary));
        out
    }
}
