//! Health probes: http, tcp and command, with retries, interval and consecutive successes.

pub mod dns;
mod http;
mod spec;

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

pub use spec::ProbeSpec;

use crate::machine::Machine;

#[derive(Debug, Clone)]
pub enum Kind {
    Http {
        url: String,
        status: Option<u16>,
        body_contains: Option<String>,
    },
    Tcp {
        address: String,
    },
    Command {
        run: String,
        /// A Nagios plugin: the first line is its status text and perfdata, and the exit code
        /// (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) keeps its meaning in a check.
        plugin: bool,
    },
    Dns {
        server: std::net::SocketAddr,
        question: dns::Question,
    },
}

/// A probe with its templates rendered.
#[derive(Debug, Clone)]
pub struct Probe {
    pub kind: Kind,
    pub timeout: Duration,
    pub retries: u32,
    pub interval: Duration,
    pub successes: u32,
}

#[derive(Debug, Clone)]
pub struct Verdict {
    pub healthy: bool,
    /// What was seen: "200 OK in 12ms", "connection refused", "exit status 3".
    pub detail: String,
    /// Response time of the last attempt.
    pub latency: Duration,
    pub attempts: u32,
    /// A command's exit code, from the last attempt.
    pub code: Option<i32>,
    /// A plugin's perfdata (after the `|` of its first line), from the last attempt.
    pub perfdata: String,
}

/// One attempt of a probe.
struct Attempt {
    ok: bool,
    detail: String,
    code: Option<i32>,
    perfdata: String,
}

impl Attempt {
    fn of(result: Result<String, Unhealthy>) -> Attempt {
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d.0),
        };
        Attempt {
            ok,
            detail,
            code: None,
            perfdata: String::new(),
        }
    }
}

impl Probe {
    pub fn label(&self) -> String {
        match &self.kind {
            Kind::Http { url, .. } => crate::redact::userinfo(url),
            Kind::Tcp { address } => format!("tcp {address}"),
            Kind::Command { run, .. } => {
                format!("command `{}`", crate::redact::first_line(run))
            }
            Kind::Dns { server, question } => {
                format!("dns {} {} @{server}", question.rtype, question.name)
            }
        }
    }

    /// How many attempts a run makes at most: the successes it needs, and the retries.
    pub fn attempts(&self) -> u32 {
        self.retries.saturating_add(self.successes.max(1))
    }

    /// The longest a run can take: every attempt timing out, the interval between each.
    pub fn longest(&self) -> Duration {
        let attempts = self.attempts();
        self.timeout
            .checked_mul(attempts)
            .and_then(|t| t.checked_add(self.interval.checked_mul(attempts - 1)?))
            .unwrap_or(Duration::MAX)
    }

    /// Probe until `successes` consecutive good answers, or until `retries` extra attempts
    /// have been spent.
    pub fn run(&self, target: &dyn Machine) -> Verdict {
        let needed = self.successes.max(1);
        let budget = self.attempts();
        let mut streak = 0;
        let mut last = (Attempt::of(Err(Unhealthy(String::new()))), Duration::ZERO);
        for attempt in 1..=budget {
            let started = Instant::now();
            let result = self.once(target);
            last = (result, started.elapsed());
            streak = if last.0.ok { streak + 1 } else { 0 };
            if streak >= needed {
                return Verdict::of(last, attempt);
            }
            // Stop early once the remaining attempts cannot make up the streak.
            if budget - attempt < needed - streak || crate::interrupt::armed() {
                break;
            }
            if attempt < budget {
                std::thread::sleep(self.interval);
            }
        }
        Verdict::of(last, budget)
    }

    fn once(&self, target: &dyn Machine) -> Attempt {
        match &self.kind {
            Kind::Http {
                url,
                status,
                body_contains,
            } => Attempt::of(http::get(
                url,
                self.timeout,
                *status,
                body_contains.as_deref(),
            )),
            Kind::Tcp { address } => Attempt::of(tcp(address, self.timeout)),
            Kind::Dns { server, question } => {
                let a = dns::ask(*server, question, self.timeout);
                Attempt::of(if a.healthy() {
                    Ok(a.describe())
                } else {
                    Err(Unhealthy(a.describe()))
                })
            }
            Kind::Command { run, plugin } => {
                let (mut first_line, mut last_line) = (None, String::new());
                let outcome = target.run(run, self.timeout, &mut |l| {
                    if first_line.is_none() {
                        first_line = Some(l.trim().to_string());
                    }
                    if !l.trim().is_empty() {
                        last_line = l.trim().to_string();
                    }
                });
                let outcome = match outcome {
                    Ok(o) => o,
                    Err(e) => return Attempt::of(Err(Unhealthy(e.to_string()))),
                };
                let mut detail = outcome.describe(self.timeout);
                let mut perfdata = String::new();
                if *plugin && outcome.code.is_some() && !outcome.timed_out {
                    // A plugin says what it found on its first line: "DISK OK - free ... | perf".
                    let line = first_line.unwrap_or_default();
                    let (text, perf) = line.split_once('|').unwrap_or((&line, ""));
                    perfdata = perf.trim().to_string();
                    if !text.trim().is_empty() {
                        detail = text.trim().to_string();
                    }
                } else if !last_line.is_empty() {
                    detail = format!("{detail}: {last_line}");
                }
                Attempt {
                    ok: outcome.success(),
                    detail,
                    code: outcome.code.filter(|_| !outcome.timed_out),
                    perfdata,
                }
            }
        }
    }
}

impl Verdict {
    fn of((a, latency): (Attempt, Duration), attempts: u32) -> Verdict {
        Verdict {
            healthy: a.ok,
            detail: a.detail,
            latency,
            attempts,
            code: a.code,
            perfdata: a.perfdata,
        }
    }
}

fn tcp(address: &str, timeout: Duration) -> Result<String, Unhealthy> {
    let addrs: Vec<_> = address
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {address}: {e}"))?
        .collect();
    let mut last = format!("{address} resolved to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(format!("connected to {addr}")),
            Err(e)
                if e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                last = format!(
                    "{addr}: no answer within {}",
                    humantime::format_duration(timeout)
                )
            }
            Err(e) => last = format!("{addr}: {}", crate::sys::describe_io(&e)),
        }
    }
    Err(Unhealthy(last))
}

crate::reason::reason! {
    /// Why a probe did not pass: what it saw, or why it could not look.
    pub struct Unhealthy;
}
