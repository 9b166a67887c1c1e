//! Health probes: http, tcp and command, with retries, interval and consecutive successes.

pub mod dns;
mod http;
mod spec;

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

pub use spec::ProbeSpec;

use crate::target::Target;

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
}

impl Probe {
    pub fn label(&self) -> String {
        match &self.kind {
            Kind::Http { url, .. } => url.clone(),
            Kind::Tcp { address } => format!("tcp {address}"),
            Kind::Command { run } => format!("command `{}`", crate::action::first_line(run)),
            Kind::Dns { server, question } => {
                format!("dns {} {} @{server}", question.rtype, question.name)
            }
        }
    }

    /// Probe until `successes` consecutive good answers, or until `retries` extra attempts
    /// have been spent.
    pub fn run(&self, target: &dyn Target) -> Verdict {
        let needed = self.successes.max(1);
        let budget = self.retries + needed;
        let mut streak = 0;
        let mut last = (false, String::new(), Duration::ZERO);
        for attempt in 1..=budget {
            let started = Instant::now();
            let result = self.once(target);
            let latency = started.elapsed();
            last = match result {
                Ok(detail) => (true, detail, latency),
                Err(detail) => (false, detail, latency),
            };
            streak = if last.0 { streak + 1 } else { 0 };
            if streak >= needed {
                return Verdict {
                    healthy: true,
                    detail: last.1,
                    latency,
                    attempts: attempt,
                };
            }
            // Stop early once the remaining attempts cannot make up the streak.
            if budget - attempt < needed - streak || crate::interrupt::armed() {
                break;
            }
            if attempt < budget {
                std::thread::sleep(self.interval);
            }
        }
        Verdict {
            healthy: false,
            detail: last.1,
            latency: last.2,
            attempts: budget,
        }
    }

    fn once(&self, target: &dyn Target) -> Result<String, String> {
        match &self.kind {
            Kind::Http {
                url,
                status,
                body_contains,
            } => http::get(url, self.timeout, *status, body_contains.as_deref()),
            Kind::Tcp { address } => tcp(address, self.timeout),
            Kind::Dns { server, question } => {
                let a = dns::ask(*server, question, self.timeout);
                if a.healthy() {
                    Ok(a.describe())
                } else {
                    Err(a.describe())
                }
            }
            Kind::Command { run } => {
                let mut last_line = String::new();
                let outcome = target
                    .run(run, self.timeout, &mut |l| {
                        if !l.trim().is_empty() {
                            last_line = l.trim().to_string();
                        }
                    })
                    .map_err(|e| e.to_string())?;
                let mut detail = outcome.describe(self.timeout);
                if !last_line.is_empty() {
                    detail = format!("{detail}: {last_line}");
                }
                if outcome.success() {
                    Ok(detail)
                } else {
                    Err(detail)
                }
            }
        }
    }
}

fn tcp(address: &str, timeout: Duration) -> Result<String, String> {
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
            Err(e) => last = format!("{addr}: {}", crate::describe_io(&e)),
        }
    }
    Err(last)
}
