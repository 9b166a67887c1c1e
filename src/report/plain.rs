use std::io::Write;

use super::{Event, Level, Record, Sink, format_ms};

/// One timestamped line per event: what cron mails and CI logs show.
pub struct Plain;

impl Sink for Plain {
    fn record(&self, record: &Record) {
        let mut line = format_plain(record);
        line.push('\n');
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

pub fn format_plain(r: &Record) -> String {
    let on = |target: &str| {
        // The host is already at the start of the line.
        if target.is_empty() || target == r.host {
            String::new()
        } else {
            format!(" [{target}]")
        }
    };
    let body = match &r.event {
        Event::RunStarted {
            kind,
            name,
            host,
            user,
            ..
        } => {
            format!(
                "run     {kind} '{name}' started by {user} on {host} (run {})",
                r.run
            )
        }
        Event::StepStarted { step, target } => format!("start   {step}{}", on(target)),
        Event::Output { step, target, line } => format!("  |     {step}{}: {line}", on(target)),
        Event::StepFinished {
            step,
            target,
            status,
            elapsed_ms,
            message,
        } => {
            let msg = if message.is_empty() {
                String::new()
            } else {
                format!(": {message}")
            };
            format!(
                "{:<7} {step}{}{msg} ({})",
                status.label(),
                on(target),
                format_ms(*elapsed_ms)
            )
        }
        Event::Measurement { step, target, .. } => {
            format!("measure {step}{}: {}", on(target), r.event.measured())
        }
        Event::Notice { level, message } => {
            let l = match level {
                Level::Info => "info",
                Level::Warn => "warn",
                Level::Error => "error",
            };
            format!("{l:<7} {message}")
        }
        Event::RunFinished {
            status,
            exit_code,
            elapsed_ms,
            message,
        } => {
            format!(
                "done    {}: {message} (exit {exit_code}, {})",
                status.label(),
                format_ms(*elapsed_ms)
            )
        }
    };
    if r.host.is_empty() {
        format!("{} {body}", r.ts)
    } else {
        format!("{} [{}] {body}", r.ts, r.host)
    }
}
