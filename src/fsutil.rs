//! Atomic file replacement: write a temp file beside the target, fsync, rename, fsync the dir.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub fn atomic_write(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = parent(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("no file name"))?;
    let (tmp, mut f) = temp_beside(&dir, &name.to_string_lossy(), mode)?;
    let result = (|| {
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(&dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Whether `atomic_write(path, ..)` could make its temp file there now (made and removed).
pub fn can_create(path: &Path) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("no file name"))?;
    let (tmp, _) = temp_beside(&parent(path), &name.to_string_lossy(), 0o600)?;
    fs::remove_file(tmp)
}

/// A new temp file in `dir` for `name`, created by this call and no one else: never opened
/// through a link, never one that was already there, with a name no one can guess ahead (a
/// report or prom file is often written to a directory others can write to, as root).
fn temp_beside(dir: &Path, name: &str, mode: u32) -> io::Result<(PathBuf, File)> {
    use std::hash::{BuildHasher, Hasher};
    let mut last = None;
    for _ in 0..8 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        // A leading dot and a suffix that is not the target's: node_exporter's textfile
        // collector and similar readers skip it while it is being written.
        let tmp = dir.join(format!(
            ".{name}.tmp-{}-{:016x}",
            std::process::id(),
            h.finish()
        ));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(mode)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no temp file name was free")))
}

/// `realpath -m`: the longest existing ancestor resolved (its symlinks followed), the rest
/// appended with `.` and `..` folded in (a component that does not exist cannot be a link).
pub fn real_path(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut existing = path.to_path_buf();
    let mut rest = vec![];
    let base = loop {
        if let Ok(real) = fs::canonicalize(&existing) {
            break real;
        }
        // A name, or a `.` or `..` at the end of a path that does not exist: folded below.
        match (existing.components().next_back(), existing.parent()) {
            (Some(last), Some(up)) => {
                rest.push(last.as_os_str().to_os_string());
                existing = up.to_path_buf();
            }
            _ => break PathBuf::from("/"),
        }
    };
    let mut out = base;
    for part in rest.iter().rev() {
        match Path::new(part).components().next() {
            Some(Component::ParentDir) => {
                out.pop();
            }
            Some(Component::CurDir) | None => {}
            _ => out.push(part),
        }
    }
    out
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

pub fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Create a state directory, readable only by its owner: journals name hosts and commands.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

use std::os::unix::fs::DirBuilderExt;

/// rename(2) that refuses to replace an existing `to` (RENAME_NOREPLACE), so a file another
/// process created meanwhile is never overwritten. Where the filesystem lacks the flag, a hard
/// link (which cannot replace either) and an unlink do the same.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
            fs::hard_link(from, to)?;
            fs::remove_file(from)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rename_noreplace_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        std::fs::write(&a, "new").unwrap();
        std::fs::write(&b, "precious").unwrap();
        let err = super::rename_noreplace(&a, &b).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "precious");
        super::rename_noreplace(&a, &c).unwrap();
        assert!(!a.exists() && std::fs::read_to_string(&c).unwrap() == "new");
    }

    #[test]
    fn real_path_folds_what_does_not_exist() {
        use std::path::Path;
        let real = |p: &str| super::real_path(Path::new(p));
        assert_eq!(real("/tend-no-such/../etc"), Path::new("/etc"));
        assert_eq!(real("/tend-no-such/a/.."), Path::new("/tend-no-such"));
        assert_eq!(real("/tend-no-such/./b"), Path::new("/tend-no-such/b"));
        assert_eq!(real("/tend-no-such/../../.."), Path::new("/"));
    }

    /// A link planted where a temp file could be named (the pid-named one tend once used) is
    /// never written through: the target is written, the link's victim untouched.
    #[test]
    fn an_atomic_write_never_writes_through_a_planted_temp_name() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let planted = dir
            .path()
            .join(format!(".report.md.tmp-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let target = dir.path().join("report.md");
        super::atomic_write(&target, b"the report", 0o644).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "the report");
        assert!(!std::fs::symlink_metadata(&target).unwrap().is_symlink());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 3, "{left:?}");
    }
}
