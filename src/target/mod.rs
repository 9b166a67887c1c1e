//! Where commands run. Jobs hold a `Target` and never know whether it is this machine or a host
//! over SSH.

pub mod local;

use std::io;
use std::time::Duration;

pub use local::Local;

/// How a command ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub code: Option<i32>,
    pub timed_out: bool,
    /// Stopped because tend itself was asked to stop (SIGINT, SIGTERM).
    pub interrupted: bool,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out && !self.interrupted
    }

    pub fn describe(&self, timeout: Duration) -> String {
        if self.interrupted {
            return "interrupted (tend received a stop signal)".into();
        }
        match (self.timed_out, self.code) {
            (true, _) => format!("timed out after {}", humantime::format_duration(timeout)),
            (false, Some(c)) => format!("exit status {c}"),
            (false, None) => "killed by a signal".into(),
        }
    }
}

pub trait Target: Send + Sync {
    /// Run `sh -c cmd`, calling `on_line` for each output line (stdout and stderr) as it comes.
    fn run(
        &self,
        cmd: &str,
        timeout: Duration,
        on_line: &mut dyn FnMut(&str),
    ) -> io::Result<Outcome>;
}
