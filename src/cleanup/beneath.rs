//! Acting on a file only where the walk found it. Its directory is opened from the rule's
//! root one component at a time, never through a symlink, and the file is checked to be the
//! very one the walk selected (same inode, same size and mtime) right before it is read,
//! replaced or removed; every change is made relative to that open directory. A directory
//! swapped for a link to `/etc` between the walk and the act fails here, instead of carrying
//! a root-run cleanup out of its root; a log written again since it was selected is left alone.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};

use super::select::Candidate;

/// The directory a candidate was found in, opened without following any link below the root.
pub struct Dir {
    fd: OwnedFd,
}

const DIR_FLAGS: OFlags = OFlags::DIRECTORY
    .union(OFlags::RDONLY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW);

/// The rule's root of a candidate: its path without the part below the root.
fn root_of(c: &Candidate) -> &Path {
    let depth = c.rel.components().count();
    c.path.ancestors().nth(depth).unwrap_or(Path::new("/"))
}

fn refused(why: &str) -> io::Error {
    io::Error::other(why.to_string())
}

impl Dir {
    /// The directory holding `c`, reached from its rule's root.
    pub fn of(c: &Candidate) -> io::Result<Dir> {
        Dir::below(root_of(c), c.rel.parent().unwrap_or(Path::new("")))
    }

    /// `rel` below `root`, each component opened without following a symlink.
    pub fn below(root: &Path, rel: &Path) -> io::Result<Dir> {
        let mut fd = rustix::fs::open(root, DIR_FLAGS.difference(OFlags::NOFOLLOW), Mode::empty())?;
        for part in rel.components() {
            let Component::Normal(name) = part else {
                return Err(refused("not a plain path below the rule's root"));
            };
            fd = rustix::fs::openat(&fd, name, DIR_FLAGS, Mode::empty()).map_err(|e| {
                if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR {
                    refused("a directory on its way became a symlink or a file since the walk: left alone")
                } else {
                    e.into()
                }
            })?;
        }
        Ok(Dir { fd })
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Whether `name` here is still the regular file the walk selected as `c`.
    pub fn holds(&self, name: &OsStr, c: &Candidate) -> io::Result<bool> {
        let st = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
            && st.st_ino == c.ino
            && st.st_dev == c.dev
            && st.st_size as u64 == c.size
            && mtime(&st) == c.mtime)
    }

    /// `name` opened for reading, never through a link, never blocking on a FIFO.
    pub fn open_read(&self, name: &OsStr) -> io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::empty())?;
        rustix::fs::fcntl_setfl(&fd, OFlags::empty())?;
        Ok(File::from(fd))
    }

    /// A new file `name`, which must not exist yet.
    pub fn create(&self, name: &OsStr, mode: u32) -> io::Result<File> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(mode))?;
        Ok(File::from(fd))
    }

    pub fn stat(&self, name: &OsStr) -> io::Result<rustix::fs::Stat> {
        Ok(rustix::fs::statat(
            &self.fd,
            name,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    pub fn remove(&self, name: &OsStr) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())?)
    }

    /// `from` to `to` in this directory, never over an existing `to`.
    pub fn rename_new(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        Ok(rustix::fs::renameat_with(
            &self.fd,
            from,
            &self.fd,
            to,
            RenameFlags::NOREPLACE,
        )?)
    }

    /// The directory's entries made durable.
    pub fn sync(&self) -> io::Result<()> {
        Ok(rustix::fs::fsync(&self.fd)?)
    }
}

fn mtime(st: &rustix::fs::Stat) -> std::time::SystemTime {
    let (secs, nanos) = (st.st_mtime, st.st_mtime_nsec as u32);
    if secs >= 0 {
        std::time::UNIX_EPOCH + std::time::Duration::new(secs as u64, nanos)
    } else {
        std::time::UNIX_EPOCH - std::time::Duration::from_secs(secs.unsigned_abs())
            + std::time::Duration::from_nanos(nanos.into())
    }
}

/// The directories a run of files was found in, each opened once (most of a rule's files share
/// a few), and those whose entries changed made durable once each.
#[derive(Default)]
pub struct Dirs {
    open: HashMap<PathBuf, (Dir, bool)>,
    /// A sync that failed when directories were closed to make room: `sync` reports it.
    failed: Option<io::Error>,
}

/// At most this many directories stay open at once.
const OPEN_DIRS: usize = 256;

impl Dirs {
    /// The directory holding `c`.
    pub fn of(&mut self, c: &Candidate) -> io::Result<&Dir> {
        let parent = c.path.parent().unwrap_or(Path::new("/"));
        if !self.open.contains_key(parent) {
            if self.open.len() >= OPEN_DIRS {
                if let Err(e) = self.sync() {
                    self.failed.get_or_insert(e);
                }
                self.open.clear();
            }
            self.open.insert(parent.to_path_buf(), (Dir::of(c)?, false));
        }
        Ok(&self.open[parent].0)
    }

    /// An entry of `c`'s directory changed: `sync` makes it durable.
    pub fn changed(&mut self, c: &Candidate) {
        if let Some(d) = self.open.get_mut(c.path.parent().unwrap_or(Path::new("/"))) {
            d.1 = true;
        }
    }

    /// Every changed directory's entries made durable (those closed before, too: the first
    /// failure is the answer).
    pub fn sync(&mut self) -> io::Result<()> {
        let mut result = self.failed.take().map_or(Ok(()), Err);
        for (dir, changed) in self.open.values_mut().filter(|d| d.1) {
            *changed = false;
            result = result.and(dir.sync());
        }
        result
    }
}

pub fn file_name(c: &Candidate) -> &OsStr {
    c.path.file_name().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::compress::{Compressed, compress};
    use super::super::delete::delete;
    use super::super::select::Candidate;

    fn candidate(root: &Path, rel: &str) -> Candidate {
        let path = root.join(rel);
        let m = std::fs::symlink_metadata(&path).unwrap();
        Candidate::from_meta(path, rel.into(), &m)
    }

    #[test]
    fn a_directory_swapped_for_a_link_after_the_walk_is_not_followed() {
        let t = tempfile::tempdir().unwrap();
        let (root, victim) = (t.path().join("logs"), t.path().join("victim"));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(&victim).unwrap();
        std::fs::write(root.join("sub/f.old"), "old\n").unwrap();
        std::fs::write(victim.join("f.old"), "precious\n").unwrap();
        let c = candidate(&root, "sub/f.old");
        std::fs::rename(root.join("sub"), root.join("sub.moved")).unwrap();
        std::os::unix::fs::symlink(&victim, root.join("sub")).unwrap();
        let done = delete(&[c], &mut |_| {});
        assert_eq!(done.count, 0);
        assert!(victim.join("f.old").exists(), "deleted through the link");
        let (_, why) = &done.problems[0];
        assert!(why.contains("became a symlink"), "{why}");
    }

    #[test]
    fn a_file_written_again_after_the_walk_is_left_alone() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::write(root.join("app.log"), "old line\n").unwrap();
        let c = candidate(root, "app.log");
        std::fs::write(root.join("app.log"), "old line\nfresh line\n").unwrap();
        match compress(&c, 6, &|_| {}, &|_| {}) {
            Compressed::Skipped(why) => {
                assert_eq!(why, "changed since it was selected: left alone")
            }
            _ => panic!("compressed a file written since it was selected"),
        }
        assert!(root.join("app.log").exists() && !root.join("app.log.gz").exists());
        let done = delete(&[c], &mut |_| {});
        assert_eq!((done.count, done.kept.len()), (0, 1));
        assert!(root.join("app.log").exists());
    }
}
