//! Jobs emit events and never print; reporters turn them into human, plain or JSON output on
//! stderr, and recording sinks (the journal, the alert's story) keep every one of them. All see
//! the same events, so they carry the same content.

mod event;
mod human;
mod json;
mod plain;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

pub use event::{Event, Judged, Level, Record, Status, number};
pub use plain::format_plain;

pub trait Sink: Send + Sync {
    fn record(&self, record: &Record);
    /// Bytes done so far in a long step; only a terminal shows it.
    fn progress(&self, _step: &str, _bytes: u64) {}
    fn clear_progress(&self, _step: &str) {}
    /// How many of a phase's hosts are through it (`preflight 37/100`); only a terminal shows
    /// it, the hosts' own events say the same to everything else.
    fn tally(&self, _what: &str, _done: usize, _total: usize) {}
    /// Make what was recorded durable: the run's record must survive a crash after tend exits.
    fn sync(&self) {}
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Style {
    Human,
    Plain,
    Json,
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub style: Style,
    pub quiet: bool,
    pub verbose: bool,
    pub color: bool,
    /// Whether finished steps are shown; `tend check` prints its own table instead.
    pub steps: bool,
}

/// Cheap to clone: a fleet deploy gives each host's thread its own, naming that host.
#[derive(Clone)]
pub struct Reporter {
    shared: Arc<Shared>,
    /// The host every event of this reporter is about (a fleet deploy); empty on this machine.
    host: String,
    /// Where its steps run, when not on `host`: "local" for an `on: local` step.
    target: Option<String>,
}

struct Shared {
    sink: Box<dyn Sink>,
    /// Sinks that keep every event, whatever is shown: the journal, the alert's story.
    recorders: Vec<Arc<dyn Sink>>,
    run: String,
    opts: Options,
    started: Instant,
}

impl Reporter {
    pub fn new(opts: Options, run: String, recorders: Vec<Arc<dyn Sink>>) -> Self {
        let sink: Box<dyn Sink> = match opts.style {
            Style::Human => Box::new(human::Human::new(opts)),
            Style::Plain => Box::new(plain::Plain),
            Style::Json => Box::new(json::Json),
        };
        Reporter {
            shared: Arc::new(Shared {
                sink,
                recorders,
                run,
                opts,
                started: Instant::now(),
            }),
            host: String::new(),
            target: None,
        }
    }

    /// The same output and journal, with `host` on every event.
    pub fn for_host(&self, host: &str) -> Reporter {
        Reporter {
            shared: self.shared.clone(),
            host: host.to_string(),
            target: None,
        }
    }

    /// The same host's events, for a step that runs on the machine tend runs on (`on: local`).
    pub fn on_controller(&self) -> Reporter {
        Reporter {
            target: Some("local".to_string()),
            ..self.clone()
        }
    }

    pub fn run(&self) -> &str {
        &self.shared.run
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.shared.started.elapsed().as_millis() as u64
    }

    pub fn emit(&self, mut event: Event) {
        event.redact();
        let ran_on = self.target.as_ref().unwrap_or(&self.host);
        if !ran_on.is_empty() {
            // A step's target is where it ran: this host, or this machine for it.
            match &mut event {
                Event::StepStarted { target, .. }
                | Event::Output { target, .. }
                | Event::StepFinished { target, .. }
                | Event::Measurement { target, .. }
                    if target.is_empty() =>
                {
                    target.clone_from(ran_on);
                }
                _ => {}
            }
        }
        let record = Record {
            ts: now_rfc3339(),
            run: self.shared.run.clone(),
            host: self.host.clone(),
            event,
        };
        for r in &self.shared.recorders {
            r.record(&record);
        }
        if self.shows(&record.event) {
            if self.shared.opts.style == Style::Json {
                self.shared.sink.record(&record);
            } else {
                // A line break in a file name or a value must not forge a line of cron mail.
                let mut shown = record;
                shown.event.each_text(|s| {
                    if let std::borrow::Cow::Owned(p) = printable(s) {
                        *s = p;
                    }
                });
                shown.host = printable(&shown.host).into_owned();
                self.shared.sink.record(&shown);
            }
        }
    }

    fn shows(&self, event: &Event) -> bool {
        let opts = &self.shared.opts;
        if opts.quiet {
            return event.is_problem();
        }
        match event {
            Event::Output { .. } => opts.verbose,
            Event::StepStarted { .. } | Event::StepFinished { .. } | Event::Measurement { .. } => {
                opts.steps || opts.verbose
            }
            Event::RunStarted { .. } | Event::RunFinished { .. } => opts.steps || opts.verbose,
            Event::Notice { .. } => true,
        }
    }

    pub fn progress(&self, step: &str, bytes: u64) {
        if !self.shared.opts.quiet {
            self.shared.sink.progress(&self.keyed(step), bytes);
        }
    }

    pub fn tally(&self, what: &str, done: usize, total: usize) {
        if !self.shared.opts.quiet {
            self.shared.sink.tally(what, done, total);
        }
    }

    pub fn clear_progress(&self, step: &str) {
        self.shared.sink.clear_progress(&self.keyed(step));
    }

    /// A progress bar per host when several hosts run the same step at once.
    fn keyed(&self, step: &str) -> String {
        if self.host.is_empty() {
            step.to_string()
        } else {
            format!("{step} · {}", self.host)
        }
    }

    pub fn notice(&self, level: Level, message: impl Into<String>) {
        self.emit(Event::Notice {
            level,
            message: message.into(),
        });
    }

    /// Make what the recorders kept durable.
    pub fn sync(&self) {
        for r in &self.shared.recorders {
            r.sync();
        }
    }
}

/// A control character, or one that breaks a line or reorders or hides text on a terminal.
fn hidden(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Text as it may be printed on a line: control characters (a line break, a carriage return,
/// a terminal escape) and those that reorder or hide text written out as `\n`, `\r`,
/// `\u{1b}`, `\u{202e}`, so a file name or a value can neither forge a line nor drive the
/// terminal. Tabs stay.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `printable` for each line of a text meant to be several lines.
pub fn printable_lines(s: &str) -> String {
    let mut out: String = s
        .lines()
        .map(|l| printable(l).into_owned() + "\n")
        .collect();
    if !s.ends_with('\n') {
        out.pop();
    }
    out
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

pub fn format_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}
