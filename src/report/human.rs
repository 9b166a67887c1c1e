use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Event, Level, Options, Record, Sink, Status, format_ms};

/// Live spinners on a terminal (one per running step), a permanent line per finished step. In a
/// fleet deploy, one live line per host instead (host, step, elapsed), and permanent lines only
/// for what went wrong and for each host's summary: twenty hosts stay readable.
pub struct Human {
    opts: Options,
    multi: MultiProgress,
    running: Mutex<HashMap<(String, String), ProgressBar>>,
    bars: Mutex<HashMap<String, ProgressBar>>,
    hosts: Mutex<HashMap<String, ProgressBar>>,
    tallies: Mutex<HashMap<String, ProgressBar>>,
}

impl Human {
    pub fn new(opts: Options) -> Self {
        Human {
            opts,
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            running: Mutex::default(),
            bars: Mutex::default(),
            hosts: Mutex::default(),
            tallies: Mutex::default(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.opts.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn line(&self, text: String) {
        // Printed through the MultiProgress so the spinners are redrawn below it; when stderr is
        // not a terminal indicatif draws nothing, so print directly.
        if self.multi.is_hidden() {
            eprintln!("{text}");
        } else {
            let _ = self.multi.println(text);
        }
    }

    /// The live line of a host, made on its first event.
    fn host_line(&self, host: &str, text: String) {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        let bar = hosts.entry(host.to_string()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} {elapsed:.dim}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(host.to_string());
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        bar.set_message(text);
    }

    fn end_host_line(&self, host: &str) {
        if let Some(bar) = self
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(host)
        {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    fn mark(&self, status: Status) -> String {
        match status {
            Status::Ok => self.paint("32", "✓"),
            Status::Skipped => self.paint("2", "-"),
            Status::Warning => self.paint("33", "!"),
            Status::Unknown => self.paint("35", "?"),
            Status::Critical | Status::Failed => self.paint("31", "✗"),
        }
    }
}

impl Sink for Human {
    fn progress(&self, step: &str, bytes: u64) {
        if self.multi.is_hidden() {
            return;
        }
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        let bar = bars.entry(step.to_string()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::no_length());
            bar.set_style(
                ProgressStyle::with_template(
                    "  {msg} {binary_bytes} at {binary_bytes_per_sec} {elapsed:.dim}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(step.to_string());
            bar
        });
        bar.set_position(bytes);
    }

    fn tally(&self, what: &str, done: usize, total: usize) {
        if self.multi.is_hidden() {
            return;
        }
        let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        if done >= total {
            if let Some(bar) = tallies.remove(what) {
                bar.finish_and_clear();
                self.multi.remove(&bar);
            }
            return;
        }
        let bar = tallies.entry(what.to_string()).or_insert_with(|| {
            // Above the hosts' lines: where the eye looks first.
            let bar = self.multi.insert(0, ProgressBar::new(total as u64));
            bar.set_style(
                ProgressStyle::with_template("{msg:.bold} {pos}/{len} hosts {elapsed:.dim}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        bar.set_position(done as u64);
    }

    fn clear_progress(&self, step: &str) {
        if let Some(bar) = self
            .bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(step)
        {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    fn record(&self, record: &Record) {
        let on = |t: &str| {
            if t.is_empty() {
                String::new()
            } else {
                format!(" · {t}")
            }
        };
        let live = !record.host.is_empty() && !self.multi.is_hidden();
        match &record.event {
            Event::StepStarted { step, .. } if live => {
                self.host_line(&record.host, step.clone());
            }
            Event::Output { .. } if live => {}
            Event::Measurement { step, .. } if live => {
                let m = record.event.measured();
                self.host_line(&record.host, format!("{step} · {m}"));
            }
            Event::StepFinished { step, status, .. } if live && !status.is_problem() => {
                self.host_line(&record.host, format!("{step} {}", self.mark(*status)));
            }
            Event::Notice { message, .. } if live && message.starts_with("summary: ") => {
                self.end_host_line(&record.host);
                let tag = self.paint("1", &record.host);
                self.line(format!("{tag} {}", &message["summary: ".len()..]));
            }
            Event::RunStarted { kind, name, .. } => {
                self.line(format!("{} {kind} {name}", self.paint("1", "tend")));
            }
            Event::StepStarted { step, target } => {
                if self.multi.is_hidden() {
                    return;
                }
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(format!("{step}{}", on(target)));
                bar.enable_steady_tick(Duration::from_millis(100));
                self.running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert((step.clone(), target.clone()), bar);
            }
            Event::Output { step, target, line } => {
                self.line(format!(
                    "  {} {}",
                    self.paint("2", &format!("{step}{}:", on(target))),
                    line
                ));
            }
            Event::StepFinished {
                step,
                target,
                status,
                elapsed_ms,
                message,
            } => {
                if let Some(bar) = self
                    .running
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&(step.clone(), target.clone()))
                {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                let msg = if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                };
                let took = self.paint("2", &format!("({})", format_ms(*elapsed_ms)));
                self.line(format!(
                    "{} {step}{}{msg} {took}",
                    self.mark(*status),
                    on(target)
                ));
            }
            Event::Measurement {
                step,
                target,
                verdict,
                ..
            } => {
                let m = record.event.measured();
                let mark = match verdict {
                    crate::report::Judged::Success => self.mark(Status::Ok),
                    crate::report::Judged::Failure => self.mark(Status::Failed),
                    _ => self.mark(Status::Warning),
                };
                self.line(format!(
                    "  {mark} {} {m}",
                    self.paint("2", &format!("{step}{}:", on(target))),
                ));
            }
            Event::Notice { level, message } => {
                let tag = match level {
                    Level::Info => self.paint("34", "info"),
                    Level::Warn => self.paint("33", "warning"),
                    Level::Error => self.paint("31", "error"),
                };
                if record.host.is_empty() {
                    self.line(format!("{tag}: {message}"));
                } else {
                    self.line(format!("{tag}: {}: {message}", record.host));
                }
            }
            Event::RunFinished {
                status,
                elapsed_ms,
                message,
                ..
            } => {
                self.line(format!(
                    "{} {message} in {}",
                    self.mark(*status),
                    format_ms(*elapsed_ms)
                ));
            }
        }
    }
}
