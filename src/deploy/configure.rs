//! `configure`: rendered templates written atomically, the files they replace kept (in
//! `.tend/previous/<release>.json`) so a rollback, even a manual one days later, restores them.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A config file to write, its template already rendered. The content may hold secrets and is
/// never shown.
#[derive(Clone)]
pub struct Config {
    pub template: String,
    pub dest: PathBuf,
    /// As given in the playbook, for messages.
    pub shown: String,
    pub mode: u32,
    pub content: String,
}

/// What a destination held before `configure` wrote it.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Previous {
    pub dest: PathBuf,
    /// `None`: the file did not exist, so restoring removes it.
    pub content: Option<Vec<u8>>,
    pub mode: u32,
}

pub enum Written {
    Unchanged,
    Replaced(Previous),
}

/// Write `c` unless it already has that content and mode; the previous state is returned for
/// the caller to keep durably *before* calling `commit`.
pub fn prepare(c: &Config) -> io::Result<Written> {
    match fs::read(&c.dest) {
        Ok(old) => {
            let mode = fs::metadata(&c.dest)?.permissions().mode() & 0o7777;
            if old == c.content.as_bytes() && mode == c.mode {
                return Ok(Written::Unchanged);
            }
            Ok(Written::Replaced(Previous {
                dest: c.dest.clone(),
                content: Some(old),
                mode,
            }))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Written::Replaced(Previous {
            dest: c.dest.clone(),
            content: None,
            mode: c.mode,
        })),
        Err(e) => Err(e),
    }
}

pub fn commit(c: &Config) -> io::Result<()> {
    if let Some(parent) = c.dest.parent() {
        fs::create_dir_all(parent)?;
    }
    crate::fsutil::atomic_write(&c.dest, c.content.as_bytes(), c.mode)?;
    // atomic_write's mode is filtered by the umask; the playbook's mode is what is asked for.
    fs::set_permissions(&c.dest, fs::Permissions::from_mode(c.mode))
}

pub fn restore(p: &Previous) -> io::Result<()> {
    match &p.content {
        Some(bytes) => {
            crate::fsutil::atomic_write(&p.dest, bytes, p.mode)?;
            fs::set_permissions(&p.dest, fs::Permissions::from_mode(p.mode))
        }
        None => match fs::remove_file(&p.dest) {
            Ok(()) => crate::fsutil::sync_dir(&crate::fsutil::parent(&p.dest)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        },
    }
}

/// The backups of one release, saved before its first config is replaced.
pub fn save(path: &Path, previous: &[Previous]) -> io::Result<()> {
    let json = serde_json::to_vec(previous).map_err(io::Error::other)?;
    crate::fsutil::atomic_write(path, &json, 0o600)
}

pub fn load(path: &Path) -> io::Result<Vec<Previous>> {
    match fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(io::Error::other),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(vec![]),
        Err(e) => Err(e),
    }
}
