//! The exit codes cron jobs and CI depend on (DESIGN.md section 1), and the one error a job
//! returns when it cannot go on. `main` prints it, in one place.

use std::fmt;
use std::path::PathBuf;

use crate::lock::LockError;
use crate::playbook::Diagnostic;

/// How tend exits. The Nagios codes of `tend check` share the numbers 1–3.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct Exit(u8);

impl Exit {
    pub const OK: Exit = Exit(0);
    /// The job failed, and the system is in a verified state.
    pub const FAILED: Exit = Exit(1);
    /// The job failed and the system is NOT verified: a human is needed now.
    pub const NOT_VERIFIED: Exit = Exit(2);
    pub const USAGE: Exit = Exit(64);
    pub const LOCKED: Exit = Exit(75);
    pub const NAGIOS_WARNING: Exit = Exit(1);
    pub const NAGIOS_CRITICAL: Exit = Exit(2);
    pub const NAGIOS_UNKNOWN: Exit = Exit(3);

    pub fn code(self) -> i32 {
        self.0.into()
    }

    pub fn is_ok(self) -> bool {
        self == Exit::OK
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        e.0.into()
    }
}

impl serde::Serialize for Exit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

/// Why a job stopped before (or instead of) doing its work.
#[derive(Debug)]
pub enum Error {
    /// The playbook, or a value given for it, is wrong: file:line:column and a hint.
    Playbook(Diagnostic),
    /// Arguments that do not go together.
    Usage(String),
    /// Another run holds the lock, or the lock file cannot be used.
    Lock(LockError),
    /// A file tend must read or write: what it was doing, where.
    Io {
        doing: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    /// Anything else that stops the job, said in words.
    Failed(String),
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Playbook(_) | Error::Usage(_) => Exit::USAGE,
            Error::Lock(LockError::Held { .. }) => Exit::LOCKED,
            Error::Lock(_) | Error::Io { .. } | Error::Failed(_) => Exit::FAILED,
        }
    }

    /// `doing` is a verb: "cannot {doing} {path}: {why}".
    pub fn io(doing: &'static str, path: impl Into<PathBuf>, err: std::io::Error) -> Self {
        Error::Io {
            doing,
            path: path.into(),
            err,
        }
    }

    /// What stderr shows: a diagnostic with its source line, or one `tend:` line, masked.
    pub fn render(&self, color: bool) -> String {
        match self {
            Error::Playbook(d) => d.render(color),
            Error::Lock(LockError::Held { .. }) => format!(
                "tend: {}\n  hint: `--wait-lock DURATION` waits for it to finish\n",
                shown(self)
            ),
            other => format!("tend: {}\n", shown(other)),
        }
    }
}

/// Masked, and with no control character left to drive a terminal (a path may hold any).
fn shown(e: &Error) -> String {
    crate::report::printable_lines(&crate::redact::redact(&e.to_string()))
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::Playbook(d) => write!(f, "{d}"),
            Error::Usage(m) | Error::Failed(m) => f.write_str(m),
            Error::Lock(e) => write!(f, "{e}"),
            Error::Io { doing, path, err } => write!(
                f,
                "cannot {doing} {}: {}",
                path.display(),
                crate::sys::describe_io(err)
            ),
        }
    }
}

impl From<Diagnostic> for Error {
    fn from(d: Diagnostic) -> Self {
        Error::Playbook(d)
    }
}

impl From<LockError> for Error {
    fn from(e: LockError) -> Self {
        Error::Lock(e)
    }
}
