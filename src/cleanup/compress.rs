//! gzip one file without ever losing a byte: write `x.gz.partial`, fsync, give it the
//! original's mode, owner and times, rename it to `x.gz`, fsync the directory, and only then
//! unlink `x`. A file that changes while it is read is left alone.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::select::Candidate;
use crate::fsutil::{parent, sync_dir};

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
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
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
    let gz = with_suffix(&c.path, ".gz");
    let partial = with_suffix(&c.path, ".gz.partial");
    let dir = parent(&c.path);
    let mut src = open_read(&c.path)?;
    let before = src.metadata()?;
    if !before.is_file() {
        return Ok(Compressed::Skipped("no longer a regular file".into()));
    }
    let mtime = before.modified()?;
    let mtime_secs = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());

    if let Ok(existing) = fs::symlink_metadata(&gz) {
        return finish_killed(c, &gz, &existing, mtime_secs, before.len());
    }

    // A gzip of a log is rarely more than a quarter of it; refuse when even that will not fit.
    let free = rustix::fs::statvfs(&dir)
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

    let out = open_partial(&partial, leftover)?;
    let name = c
        .path
        .file_name()
        .map(|n| n.as_encoded_bytes().to_vec())
        .unwrap_or_default();
    let out = match encode(&mut src, out, &name, level, mtime_secs as u32, progress) {
        Ok(f) => f,
        Err(e) => {
            let _ = fs::remove_file(&partial);
            if e.raw_os_error() == Some(28) {
                return Ok(Compressed::Failed(
                    "disk full while writing the compressed copy".into(),
                ));
            }
            return Err(e);
        }
    };
    // Still being written? Then the copy is not the whole file: keep the original.
    let after = fs::symlink_metadata(&c.path)?;
    if after.len() != before.len() || after.modified()? != mtime || after.ino() != before.ino() {
        let _ = fs::remove_file(&partial);
        return Ok(Compressed::Skipped(
            "changed while being compressed (still being written?)".into(),
        ));
    }
    if let Err(e) = keep_attributes(&out, &before, mtime) {
        let _ = fs::remove_file(&partial);
        return Err(e);
    }
    let compressed = out.metadata()?.blocks() * 512;
    drop(out);
    crate::crash::point("compress:written");
    if let Err(e) = crate::fsutil::rename_noreplace(&partial, &gz) {
        let _ = fs::remove_file(&partial);
        if e.kind() == io::ErrorKind::AlreadyExists {
            return Ok(Compressed::Skipped(format!(
                "{} appeared while compressing: not overwritten",
                gz.display()
            )));
        }
        return Err(e);
    }
    sync_dir(&dir)?;
    crate::crash::point("compress:renamed");
    // Only now is the original redundant.
    fs::remove_file(&c.path)?;
    sync_dir(&dir)?;
    Ok(Compressed::Done {
        before: c.allocated,
        after: compressed,
    })
}

/// `x.gz` is there already. A run killed between the rename and the unlink leaves both: if it
/// is the complete copy of x (same mtime in its header, same size in its trailer), the job is
/// finished; else x is left alone.
fn finish_killed(
    c: &Candidate,
    gz: &Path,
    existing: &fs::Metadata,
    mtime_secs: u64,
    size: u64,
) -> io::Result<Compressed> {
    if !existing.is_file() || !is_copy_of(gz, mtime_secs, size)? {
        return Ok(Compressed::Skipped(format!(
            "{} already exists and is not a copy of it",
            gz.display()
        )));
    }
    fs::remove_file(&c.path)?;
    sync_dir(&parent(&c.path))?;
    Ok(Compressed::Done {
        before: c.allocated,
        after: existing.blocks() * 512,
    })
}

/// This run's own `x.gz.partial`. A partial file is never complete: one left by a killed run
/// goes (a symlink too: removing never follows it), and `leftover` is told.
fn open_partial(partial: &Path, leftover: &dyn Fn(&Path)) -> io::Result<File> {
    let create = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(partial)
    };
    match create() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(partial)?;
            leftover(partial);
            create()
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

/// Whether `gz` is a complete gzip whose header mtime and trailer size match the original.
fn is_copy_of(gz: &Path, mtime: u64, size: u64) -> io::Result<bool> {
    let mut f = open_read(gz)?;
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
