//! What every job does before its first step: take the playbook's lock, open the journal, and
//! announce the run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::Cli;
use crate::lock::{self, Lock, LockError};
use crate::report::{Event, Level, Options, Reporter};

pub struct Started {
    pub reporter: Reporter,
    /// Held for as long as the job keeps `Started`; none for a job that only reads.
    _lock: Option<Lock>,
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
    let state = crate::sys::state_dir(cli.state_dir.as_deref());
    let run_id = crate::journal::new_run_id();
    let key = lock::key_for(playbook, kind);
    let lock_path = lock_at.unwrap_or_else(|| lock::path_for(&state, &key));
    let lock = lock::acquire(&lock_path, holder(kind, playbook, &run_id), wait_lock)?;
    Ok(announce(
        kind,
        playbook,
        name,
        opts,
        state,
        key,
        run_id,
        Some(lock),
    ))
}

/// A run that takes no lock: one that only reads (a check), so that overlapping runs of it
/// both report. What it writes must be safe to write from two runs at once.
pub fn start_unlocked(
    cli: &Cli,
    kind: &str,
    playbook: Option<&Path>,
    name: String,
    opts: Options,
) -> Started {
    let run_id = crate::journal::new_run_id();
    let key = lock::key_for(playbook, kind);
    announce(
        kind,
        playbook,
        name,
        opts,
        crate::sys::state_dir(cli.state_dir.as_deref()),
        key,
        run_id,
        None,
    )
}

/// Who holds a run's lock, as another run shows it.
pub fn holder(kind: &str, playbook: Option<&Path>, run_id: &str) -> lock::Holder {
    let shown = playbook.map_or("(built-in default)".to_string(), |p| {
        p.display().to_string()
    });
    lock::Holder {
        pid: std::process::id(),
        host: crate::sys::hostname(),
        user: crate::sys::username(),
        run: run_id.to_string(),
        since: crate::report::now_rfc3339(),
        what: format!("{kind} {shown}"),
        steps: vec![],
    }
}

#[allow(clippy::too_many_arguments)]
fn announce(
    kind: &str,
    playbook: Option<&Path>,
    name: String,
    opts: Options,
    state: PathBuf,
    key: String,
    run_id: String,
    lock: Option<Lock>,
) -> Started {
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
        host: crate::sys::hostname(),
        user: crate::sys::username(),
        pid: std::process::id(),
    });
    if let Some(lock) = &lock
        && let Some(stale) = &lock.stale
    {
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
    Started {
        reporter,
        _lock: lock,
        state,
        key,
    }
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
