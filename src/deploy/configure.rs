//! `configure`: rendered templates written atomically, the files they replace kept (in
//! `.tend/previous/<release>.json`) so a rollback, even a manual one days later, restores them.

use std::io;
use std::path::{Path, PathBuf};

use crate::target::Target;

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
pub fn prepare(t: &dyn Target, c: &Config) -> io::Result<Written> {
    Ok(match t.read_file(&c.dest)? {
        Some((old, mode)) if old == c.content.as_bytes() && mode == c.mode => Written::Unchanged,
        Some((old, mode)) => Written::Replaced(Previous {
            dest: c.dest.clone(),
            content: Some(old),
            mode,
        }),
        None => Written::Replaced(Previous {
            dest: c.dest.clone(),
            content: None,
            mode: c.mode,
        }),
    })
}

/// Keep `previous` (the backups of the release, `c`'s among them) at `backup`, durably, then
/// write `c`.
pub fn commit(t: &dyn Target, backup: &Path, previous: &[Previous], c: &Config) -> io::Result<()> {
    let json = serde_json::to_vec(previous).map_err(io::Error::other)?;
    t.write_files(&[
        (backup, &json, 0o600),
        (&c.dest, c.content.as_bytes(), c.mode),
    ])
}

pub fn restore(t: &dyn Target, p: &Previous) -> io::Result<()> {
    match &p.content {
        Some(bytes) => t.write_file(&p.dest, bytes, p.mode),
        None => t.remove_file(&p.dest),
    }
}

pub fn load(t: &dyn Target, path: &Path) -> io::Result<Vec<Previous>> {
    match t.read_file(path)? {
        Some((b, _)) => serde_json::from_slice(&b).map_err(io::Error::other),
        None => Ok(vec![]),
    }
}
