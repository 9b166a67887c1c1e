//! What every job does before its first step: take the playbook's lock, open the journal, and
//! announce the run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::Cli;
use crate::lock::{self, Lock, LockError};
use crate::report::{Event, Level, Options, Reporter};

pub struct Started {
    pub reporter: Reporter,
    /// Held for as long as the job keeps `Started`.
    _lock: Lock,
    pub state: PathBuf,
    /// Names the lock and the job's own state files.
    pub key: String,
}

pub fn start(
    cli: &Cli,
    kind: &str,
    playbook: Option<&Path>,
    name: String,
    opts: Options,
    wait_lock: Option<Duration>,
    lock_at: Option<PathBuf>,
) -> Result<Started, LockError> {
    let state = crate::state_dir(cli);
    let run_id = crate::journal::new_run_id();
    let shown = playbook.map_or("(built-in default)".to_string(), |p| {
        p.display().to_string()
    });
    let holder = lock::Holder {
        pid: std::process::id(),
        host: crate::hostname(),
        user: crate::username(),
        run: run_id.clone(),
        since: crate::report::now_rfc3339(),
        what: format!("{kind} {shown}"),
        steps: vec![],
    };
    let key = lock::key_for(playbook, kind);
    let lock_path = lock_at.unwrap_or_else(|| lock::path_for(&state, &key));
    let lock = lock::acquire(&lock_path, holder, wait_lock)?;
    let journal = match crate::journal::Journal::open(&state, &run_id) {
        Ok(j) => Some(j),
        Err(e) => {
            eprintln!("tend: warning: no run journal in {}: {e}", state.display());
            None
        }
    };
    let reporter = Reporter::new(opts, run_id, journal);
    reporter.emit(Event::RunStarted {
        kind: kind.into(),
        name,
        playbook: playbook.map(|p| p.display().to_string()),
        host: crate::hostname(),
        user: crate::username(),
        pid: std::process::id(),
    });
    if let Some(stale) = &lock.stale {
        reporter.notice(
            Level::Warn,
            format!(
                "took over a stale lock left by pid {} (run {}, since {}), which is no longer running{}",
                stale.pid,
                stale.run,
                stale.since,
                if lock.stopped.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; stopped what it left running first: {}",
                        lock.stopped.join(", ")
                    )
                }
            ),
        );
    }
    Ok(Started {
        reporter,
        _lock: lock,
        state,
        key,
    })
}

/// A run that could not start: 75 when another run holds the lock (saying who), else 1.
pub fn refused(e: &LockError) -> i32 {
    eprintln!("tend: {}", crate::redact::redact(&e.to_string()));
    if matches!(e, LockError::Held { .. }) {
        crate::exit::LOCKED
    } else {
        crate::exit::FAILED
    }
}
