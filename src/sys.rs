//! What every layer asks of this machine: where tend keeps its state, the host and user names
//! a run is recorded under, an I/O error as a person reads it, and the longest duration tend
//! takes. A leaf: it imports nothing of tend's.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// `--state-dir`, `TEND_STATE_DIR`, /var/lib/tend for root, else $XDG_STATE_HOME/tend.
pub fn state_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(d) = flag {
        return d.to_path_buf();
    }
    if let Some(d) = std::env::var_os("TEND_STATE_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/var/lib/tend");
    }
    match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x).join("tend"),
        None => {
            let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
            home.join(".local/state/tend")
        }
    }
}

pub fn hostname() -> String {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
    })
    .clone()
}

pub fn username() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid {}", rustix::process::getuid().as_raw()))
}

/// An I/O error as a person reads it: "permission denied", not "Permission denied (os error 13)".
pub fn describe_io(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    // tend's own errors (a host's answer, a deadline) say more than their kind.
    if e.raw_os_error().is_none() && e.get_ref().is_some() {
        return e.to_string();
    }
    match e.kind() {
        NotFound => "no such file or directory".into(),
        PermissionDenied => "permission denied".into(),
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset".into(),
        TimedOut => "timed out".into(),
        HostUnreachable => "host unreachable".into(),
        NetworkUnreachable => "network unreachable".into(),
        StorageFull => "no space left on device".into(),
        _ => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_string()
        }
    }
}

/// A duration past a century: no timeout, age or interval means one, and added to the clock it
/// overflows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("is longer than 100 years")
    }
}

impl std::error::Error for TooLong {}

/// `d`, unless it is past a century.
pub fn longest(d: std::time::Duration) -> Result<std::time::Duration, TooLong> {
    const CENTURY: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 86_400);
    if d > CENTURY { Err(TooLong) } else { Ok(d) }
}

/// Room for `wanted` open files: the soft limit raised toward the hard one when it is lower
/// (1,024 is the usual soft limit; a fleet run holds two descriptors per connected host). The
/// most there is when even the hard limit is lower.
pub fn allow_open_files(wanted: u64) -> Result<(), u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    if soft >= wanted {
        return Ok(());
    }
    let most = wanted.min(limit.maximum.unwrap_or(u64::MAX));
    let raised = Rlimit {
        current: Some(most),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) if most >= wanted => Ok(()),
        Ok(()) => Err(most),
        Err(_) => Err(soft),
    }
}
