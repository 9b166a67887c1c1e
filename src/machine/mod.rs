//! Where commands run. Jobs hold a `Machine` and never know whether it is this machine or a host
//! over SSH.

pub mod local;
mod local_files;
pub mod ssh;
pub(crate) mod unpack;

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use local::Local;
pub use unpack::{UnpackError, scan};

/// How a command ended.
#[derive(Debug, Clone)]
pub struct Exited {
    pub code: Option<i32>,
    pub timed_out: bool,
    /// Stopped because tend itself was asked to stop (SIGINT, SIGTERM).
    pub interrupted: bool,
}

impl Exited {
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

/// Where a job's commands run and its files change: every deploy step goes through this, so
/// the same step list works on this machine and on a host over SSH. Paths are on the target;
/// writes are atomic and durable (temp file, fsync, rename, fsync the directory).
pub trait Machine: Send + Sync {
    /// A host over SSH, not the machine tend runs on.
    fn is_remote(&self) -> bool {
        false
    }

    /// Run `sh -c cmd`, calling `on_line` for each output line (stdout and stderr) as it comes.
    fn run(
        &self,
        cmd: &str,
        timeout: Duration,
        on_line: &mut dyn FnMut(&str),
    ) -> io::Result<Exited>;

    /// `run`, as root through sudo (an action's `become: sudo`). `-n` here: on this machine a
    /// missing sudoers rule fails the step at once instead of waiting for a password nobody
    /// will type; a host over SSH answers sudo with `ssh.become_password` when one is set.
    fn run_as_root(
        &self,
        cmd: &str,
        timeout: Duration,
        on_line: &mut dyn FnMut(&str),
    ) -> io::Result<Exited> {
        self.run(
            &format!("sudo -n sh -c {}", crate::quote::word(cmd)),
            timeout,
            on_line,
        )
    }

    /// A file's bytes and permission bits; `None` when it does not exist.
    fn read_file(&self, path: &Path) -> io::Result<Option<(Vec<u8>, u32)>>;

    /// `path` with its symlinks resolved as far as it exists, `.` and `..` folded in (GNU
    /// `realpath -m`).
    fn real_path(&self, path: &Path) -> io::Result<PathBuf>;

    /// A config file's destination, checked and read at once: refused when it is a symlink,
    /// or (given the deploy `root` it lies in) when a symlinked directory on the way leads out
    /// of the root; else its bytes and mode, read without following a link.
    fn read_config(&self, dest: &Path, root: Option<&Path>) -> io::Result<ConfigDest>;

    /// Replace `path` atomically with exactly `mode`, creating its directory if needed.
    fn write_file(&self, path: &Path, bytes: &[u8], mode: u32) -> io::Result<()>;

    /// Write `line` and a newline to `path`, at its end (`append`) or as its whole content;
    /// neither atomic nor durable: for a record a reader takes line by line.
    fn put_line(&self, path: &Path, line: &str, append: bool) -> io::Result<()>;

    /// `write_file` for each, in order: each is durable before the next one starts.
    fn write_files(&self, files: &[(&Path, &[u8], u32)]) -> io::Result<()> {
        for (path, bytes, mode) in files {
            self.write_file(path, bytes, *mode)?;
        }
        Ok(())
    }

    /// Remove a file (gone already is fine), durably.
    fn remove_file(&self, path: &Path) -> io::Result<()>;

    /// `mkdir -p`; `mode` is applied to the last directory.
    fn create_dirs(&self, path: &Path, mode: Option<u32>) -> io::Result<()>;

    /// A directory, not a symlink to one.
    fn is_dir(&self, path: &Path) -> bool;

    /// Anything at all is there (a broken symlink too).
    fn exists(&self, path: &Path) -> bool;

    fn read_link(&self, path: &Path) -> Option<PathBuf>;

    /// Which of `paths` are symlinks.
    fn links_among(&self, paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
        Ok(paths
            .iter()
            .filter(|p| self.read_link(p).is_some())
            .cloned()
            .collect())
    }

    /// Point `link` at `to` atomically: a new symlink renamed over the old one.
    fn replace_symlink(&self, link: &Path, to: &Path) -> io::Result<()>;

    /// rename(2), then the directory fsynced.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// `rm -rf` that never follows a symlink; gone already is fine.
    fn remove_tree(&self, path: &Path) -> io::Result<()>;

    /// Names in a directory (none when it does not exist).
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;

    /// Unpack a tar or tar.gz stream of `len` bytes (when known) into `dest`, refusing entries
    /// that would land outside it. Reads `archive` to its end.
    /// Entries beyond `limit` bytes in all are refused, and so is an archive that leaves no
    /// entry once `strip` leading directories are dropped.
    fn unpack(
        &self,
        archive: &mut (dyn Read + Send),
        len: Option<u64>,
        dest: &Path,
        strip: usize,
        limit: u64,
    ) -> Result<u64, UnpackError>;

    /// Make everything written under `path` durable.
    fn sync_all(&self, path: &Path) -> io::Result<()>;

    /// Start making `path` durable while other steps run; the returned wait says how it went.
    /// (A host over SSH runs one request at a time, so its sync runs there in the background.)
    fn start_sync(self: Arc<Self>, path: &Path) -> Pending
    where
        Self: 'static,
    {
        let path = path.to_path_buf();
        let handle = std::thread::spawn(move || self.sync_all(&path));
        Box::new(move || {
            handle
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("sync thread panicked")))
        })
    }

    /// rename(2) without the directory fsync, for a release whose durability the `start_sync`
    /// that follows covers (an fsync here would wait for every byte just unpacked).
    fn rename_lazy(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.rename(from, to)
    }

    /// Move `path`, if anything is there, into `dir` (created if needed) as `name`; durably,
    /// as `rename`.
    fn move_into(&self, path: &Path, dir: &Path, name: &str) -> io::Result<()> {
        if !self.exists(path) {
            return Ok(());
        }
        self.create_dirs(dir, None)?;
        self.rename(path, &dir.join(name))
    }

    /// `create_dirs` for each, at once.
    fn create_all(&self, dirs: &[(PathBuf, Option<u32>)]) -> io::Result<()> {
        for (p, mode) in dirs {
            self.create_dirs(p, *mode)?;
        }
        Ok(())
    }

    /// Delete `paths` (as `remove_tree`) without waiting: trash nothing depends on.
    fn remove_later(&self, paths: Vec<PathBuf>) {
        for p in paths {
            let _ = self.remove_tree(&p);
        }
    }
}

/// A config file's destination as `Machine::read_config` finds it.
#[derive(Debug)]
pub enum ConfigDest {
    /// Not a place tend writes: the reason.
    Refused(String),
    Absent,
    /// Its bytes and permission bits.
    Present(Vec<u8>, u32),
}

/// The components between `root` and `path`'s directory (`root/a/b/f` gives `root/a`,
/// `root/a/b`): where a symlink would carry a write out of the root.
pub fn dirs_between(root: &Path, path: &Path) -> Vec<PathBuf> {
    let Ok(rel) = path.strip_prefix(root) else {
        return vec![];
    };
    let mut dirs = vec![];
    let mut at = root.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for c in parts.iter().take(parts.len().saturating_sub(1)) {
        at.push(c);
        dirs.push(at.clone());
    }
    dirs
}

pub fn symlink_refused(to: &Path) -> String {
    format!(
        "it is a symlink (to {}): tend does not write a config through a link; remove the link, or point `dest` at the file itself",
        to.display()
    )
}

pub fn outside_refused(real: &Path, root: &Path) -> String {
    format!(
        "its directory resolves to {}, outside the deploy root {} (a symlink on the way); tend does not write there",
        real.display(),
        root.display()
    )
}

/// A background operation's result, once waited for.
pub type Pending = Box<dyn FnOnce() -> io::Result<()> + Send>;
