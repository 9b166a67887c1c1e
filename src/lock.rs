//! One run per playbook at a time. The lock is an flock(2) on a file under `<state>/locks/`, so
//! the kernel frees it when the holder dies; the file's content says who holds it, and a
//! non-empty file found by a new holder means the last one died without cleaning up.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, flock};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub user: String,
    pub run: String,
    pub since: String,
    pub what: String,
    /// The step processes the holder has running (`crate::procs`), kept up to date while it
    /// runs: what a run taking over a dead holder's lock must stop first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<crate::procs::Recorded>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another run holds the lock for {what}: {}", describe(.holder))]
    Held {
        what: String,
        holder: Option<Box<Holder>>,
        path: PathBuf,
    },
    #[error("cannot use lock file {}: {err}", .path.display())]
    Io { path: PathBuf, err: std::io::Error },
}

fn describe(h: &Option<Box<Holder>>) -> String {
    match h {
        Some(h) => format!(
            "pid {} on {} (user {}), run {}, since {}",
            h.pid, h.host, h.user, h.run, h.since
        ),
        None => "holder unknown".into(),
    }
}

pub struct Lock {
    file: File,
    /// Set when this run took over a lock whose holder died without releasing it.
    pub stale: Option<Holder>,
    /// What of the dead holder's was still running, and was stopped before this run began.
    pub stopped: Vec<String>,
}

/// A lock name for a playbook (its path and text): its file name plus a hash of its absolute
/// path, so two playbooks with the same name in different directories do not block each other.
/// A playbook read from a pipe (`tend check <(render)`, `/dev/stdin`) has no path of its own:
/// its text names it, so two different ones neither block each other nor share alert state.
pub fn key_for(playbook: Option<(&Path, &str)>, kind: &str) -> String {
    let Some((p, text)) = playbook else {
        return format!("{kind}-default");
    };
    let (stem, hash) = if std::fs::metadata(p).is_ok_and(|m| m.is_file()) {
        let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let stem = p
            .file_stem()
            .map_or("playbook".into(), |s| s.to_string_lossy().to_string());
        (stem, Sha256::digest(abs.as_os_str().as_encoded_bytes()))
    } else {
        ("piped".to_string(), Sha256::digest(text.as_bytes()))
    };
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{kind}-{stem}-{:02x}{:02x}{:02x}{:02x}",
        hash[0], hash[1], hash[2], hash[3]
    )
}

/// The lock file of a playbook, under the state dir.
pub fn path_for(state: &Path, key: &str) -> PathBuf {
    state.join("locks").join(format!("{key}.lock"))
}

pub fn acquire(path: &Path, holder: Holder, wait: Option<Duration>) -> Result<Lock, LockError> {
    let path = path.to_path_buf();
    let io = |err| LockError::Io {
        path: path.clone(),
        err,
    };
    crate::fsutil::ensure_dir(&crate::fsutil::parent(&path)).map_err(io)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    let deadline = wait.map(|w| Instant::now() + w);
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                if let Some(deadline) = deadline
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                return Err(LockError::Held {
                    what: holder.what,
                    holder: read_holder(&mut file).map(Box::new),
                    path,
                });
            }
            Err(e) => return Err(io(e.into())),
        }
    }
    let stale = read_holder(&mut file);
    // A holder killed with -9 may have left steps running; none may overlap this run's.
    let stopped = stale.as_ref().map_or_else(Vec::new, |h| {
        crate::procs::stop_left_behind(&h.steps, Duration::from_secs(5))
    });
    let json = serde_json::to_vec(&holder).unwrap_or_default();
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(&json).map_err(io)?;
    if let (Ok(copy), Ok(value)) = (file.try_clone(), serde_json::to_value(&holder)) {
        crate::procs::record_in(copy, value);
    }
    Ok(Lock {
        file,
        stale,
        stopped,
    })
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

impl Drop for Lock {
    fn drop(&mut self) {
        crate::procs::stop_recording();
        // Emptied, not unlinked: unlinking races with a waiter that already opened the file.
        let _ = self.file.set_len(0);
    }
}

pub fn pid_alive(pid: u32) -> bool {
    rustix::process::Pid::from_raw(pid as i32).is_some_and(|p| {
        rustix::process::test_kill_process(p).is_ok()
            || std::path::Path::new(&format!("/proc/{pid}")).exists()
    })
}
