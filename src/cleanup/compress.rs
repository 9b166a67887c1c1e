//! gzip one file without ever losing a byte: write `x.gz.partial`, fsync, give it the
//! original's mode, owner and times, rename it to `x.gz`, fsync the directory, and only then
//! unlink `x`. A file that changes while it is read is left alone.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::beneath::{Dir, file_name};
use super::select::Candidate;

pub enum Compressed {
    /// Bytes on disk before and after.
    Done {
        before: u64,
        after: u64,
    },
    /// Left alone on purpose (still being written, a name clash): reported, not an error.
    Skipped(String),
    Failed(String),
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(suffixed(p.as_os_str(), suffix))
}

const CHUNK: usize = 256 * 1024;

/// Open a file cleanup reads: never through a link, and without blocking, so a file swapped for
/// a FIFO after the walk cannot hold the run (the caller checks it is still a regular file).
pub fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)
}

/// `leftover` is told of a `x.gz.partial` a killed run left, which this removes before writing.
pub fn compress(
    c: &Candidate,
    level: u32,
    progress: &dyn Fn(u64),
    leftover: &dyn Fn(&Path),
) -> Compressed {
    match attempt(c, level, progress, leftover) {
        Ok(r) => r,
        Err(e) => Compressed::Failed(crate::sys::describe_io(&e)),
    }
}

fn attempt(
    c: &Candidate,
    level: u32,
    progress: &dyn Fn(u64),
    leftover: &dyn Fn(&Path),
) -> io::Result<Compressed> {
    // Every name is taken in the directory the walk found the file in, never through a link.
    let dir = Dir::of(c)?;
    let name = file_name(c);
    let (gz_name, partial_name) = (suffixed(name, ".gz"), suffixed(name, ".gz.partial"));
    let gz = with_suffix(&c.path, ".gz");
    let mut src = dir.open_read(name)?;
    let before = src.metadata()?;
    if !before.is_file() {
        return Ok(Compressed::Skipped("no longer a regular file".into()));
    }
    // Written again since the walk chose it (a log reopened, a copytruncate): not expired.
    if before.ino() != c.ino || before.len() != c.size || before.modified()? != c.mtime {
        return Ok(Compressed::Skipped(
            "changed since it was selected: left alone".into(),
        ));
    }
    let mtime = before.modified()?;
    let mtime_secs = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());

    if let Ok(existing) = dir.stat(&gz_name) {
        return finish_killed(c, &dir, &gz_name, &existing, mtime_secs, before.len());
    }

    // A gzip of a log is rarely more than a quarter of it; refuse when even that will not fit.
    let free = rustix::fs::fstatvfs(dir.fd())
        .map(|s| s.f_bavail * s.f_frsize)
        .unwrap_or(u64::MAX);
    let needed = before.len() / 4 + 64 * 1024;
    if free < needed {
        return Ok(Compressed::Failed(format!(
            "not enough free space to write the compressed copy ({} free, about {} needed)",
            crate::playbook::units::Size(free),
            crate::playbook::units::Size(needed)
        )));
    }

    let out = open_partial(
        &dir,
        &partial_name,
        &with_suffix(&c.path, ".gz.partial"),
        leftover,
    )?;
    let header_name = name.as_encoded_bytes();
    let out = match encode(
        &mut src,
        out,
        header_name,
        level,
        mtime_secs as u32,
        progress,
    ) {
        Ok(f) => f,
        Err(e) => {
            let _ = dir.remove(&partial_name);
            if e.raw_os_error() == Some(28) {
                return Ok(Compressed::Failed(
                    "disk full while writing the compressed copy".into(),
                ));
            }
            return Err(e);
        }
    };
    // Still being written? Then the copy is not the whole file: keep the original.
    if !dir.holds(name, c)? {
        let _ = dir.remove(&partial_name);
        return Ok(Compressed::Skipped(
            "changed while being compressed (still being written?)".into(),
        ));
    }
    if let Err(e) = keep_attributes(&out, &before, mtime) {
        let _ = dir.remove(&partial_name);
        return Err(e);
    }
    let compressed = out.metadata()?.blocks() * 512;
    drop(out);
    crate::crash::point("compress:written");
    if let Err(e) = dir.rename_new(&partial_name, &gz_name) {
        let _ = dir.remove(&partial_name);
        if e.kind() == io::ErrorKind::AlreadyExists {
            return Ok(Compressed::Skipped(format!(
                "{} appeared while compressing: not overwritten",
                gz.display()
            )));
        }
        return Err(e);
    }
    dir.sync()?;
    crate::crash::point("compress:renamed");
    // Only now is the original redundant.
    dir.remove(name)?;
    dir.sync()?;
    Ok(Compressed::Done {
        before: c.allocated,
        after: compressed,
    })
}

fn suffixed(name: &OsStr, suffix: &str) -> OsString {
    let mut s = name.to_os_string();
    s.push(suffix);
    s
}

/// `x.gz` is there already. A run killed between the rename and the unlink leaves both: if it
/// is the complete copy of x (same mtime in its header, same size in its trailer), the job is
/// finished; else x is left alone.
fn finish_killed(
    c: &Candidate,
    dir: &Dir,
    gz_name: &OsStr,
    existing: &rustix::fs::Stat,
    mtime_secs: u64,
    size: u64,
) -> io::Result<Compressed> {
    let regular =
        rustix::fs::FileType::from_raw_mode(existing.st_mode) == rustix::fs::FileType::RegularFile;
    if !regular || !is_copy_of(dir.open_read(gz_name)?, mtime_secs, size)? {
        return Ok(Compressed::Skipped(format!(
            "{} already exists and is not a copy of it",
            with_suffix(&c.path, ".gz").display()
        )));
    }
    dir.remove(file_name(c))?;
    dir.sync()?;
    Ok(Compressed::Done {
        before: c.allocated,
        after: existing.st_blocks as u64 * 512,
    })
}

/// This run's own `x.gz.partial`. A partial file is never complete: one left by a killed run
/// goes (a symlink too: removing never follows it), and `leftover` is told.
fn open_partial(
    dir: &Dir,
    name: &OsStr,
    shown: &Path,
    leftover: &dyn Fn(&Path),
) -> io::Result<File> {
    match dir.create(name, 0o600) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            dir.remove(name)?;
            leftover(shown);
            dir.create(name, 0o600)
        }
        other => other,
    }
}

/// `src` gzipped into `out`, durably.
fn encode(
    src: &mut File,
    out: File,
    name: &[u8],
    level: u32,
    mtime: u32,
    progress: &dyn Fn(u64),
) -> io::Result<File> {
    let mut enc = super::gzip::Gzip::new(out, level, name, mtime)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        enc.write_all(&buf[..n])?;
        progress(n as u64);
    }
    let out = enc.finish()?;
    out.sync_all()?;
    Ok(out)
}

/// The copy takes the original's mode, owner and times, durably.
fn keep_attributes(
    out: &File,
    before: &fs::Metadata,
    mtime: std::time::SystemTime,
) -> io::Result<()> {
    out.set_permissions(fs::Permissions::from_mode(before.mode() & 0o7777))?;
    if let Err(e) = std::os::unix::fs::fchown(out, Some(before.uid()), Some(before.gid())) {
        // Only root can give a file away; a user compressing their own files keeps ownership.
        if e.kind() != io::ErrorKind::PermissionDenied {
            return Err(e);
        }
    }
    out.set_times(
        fs::FileTimes::new()
            .set_modified(mtime)
            .set_accessed(before.accessed().unwrap_or(mtime)),
    )?;
    out.sync_all()
}

/// Whether `f` is a complete gzip whose header mtime and trailer size match the original.
fn is_copy_of(mut f: File, mtime: u64, size: u64) -> io::Result<bool> {
    if !f.metadata()?.is_file() {
        return Ok(false);
    }
    let len = f.metadata()?.len();
    if len < 18 {
        return Ok(false);
    }
    let mut head = [0u8; 8];
    f.read_exact(&mut head)?;
    let mut tail = [0u8; 4];
    f.seek(SeekFrom::End(-4))?;
    f.read_exact(&mut tail)?;
    Ok(head[..2] == [0x1f, 0x8b]
        && u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]))
            == (mtime & 0xffff_ffff)
        && u64::from(u32::from_le_bytes(tail)) == (size & 0xffff_ffff))
}

/// What a dry run tells the operator a file will take once compressed: the file itself
/// compressed when it is small, else three samples of it (start, middle, end) compressed and
/// scaled to its size. Reading it also proves the real run could: an unreadable file fails here.
pub fn estimate(c: &Candidate, level: u32) -> io::Result<u64> {
    const SAMPLE: u64 = 64 * 1024;
    let mut src = open_read(&c.path)?;
    let meta = src.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("no longer a regular file"));
    }
    let size = meta.len();
    let starts: Vec<u64> = if size <= 3 * SAMPLE {
        vec![0]
    } else {
        vec![0, size / 2 - SAMPLE / 2, size - SAMPLE]
    };
    let each = if starts.len() == 1 { size } else { SAMPLE };
    let mut gz = super::gzip::Gzip::new(Vec::new(), level, b"", 0)?;
    let mut read = 0u64;
    let mut buf = Vec::with_capacity(each as usize);
    for at in starts {
        src.seek(SeekFrom::Start(at))?;
        buf.clear();
        (&mut src).take(each).read_to_end(&mut buf)?;
        gz.write_all(&buf)?;
        read += buf.len() as u64;
    }
    let packed = gz.finish()?.len() as u64;
    let scaled = if read == 0 {
        packed
    } else {
        (packed as f64 * size as f64 / read as f64).ceil() as u64
    };
    // Counted in blocks, like what the file takes now.
    Ok(scaled.div_ceil(4096) * 4096)
}
