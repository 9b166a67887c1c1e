//! Unpacking a release artifact on this machine, safely: entries that would land outside the
//! destination are refused, devices too, and each file's writeback starts as soon as it is
//! written.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("artifact entry '{0}' would land outside the release directory; refused")]
    Escape(String),
    #[error(
        "the artifact unpacks to more than {} (fetch.max_unpacked_size; by default 50 times the artifact's size, at most 10 GiB); refused before anything was stopped",
        crate::playbook::units::Size(*.0)
    )]
    TooBig(u64),
    /// No file to deploy: `strip_components`, and whether the archive held any entry at all.
    #[error("{}", empty(*.0, *.1))]
    Empty(usize, bool),
    #[error("{0}")]
    Other(String),
}

fn empty(strip: usize, entries: bool) -> String {
    let why = if !entries {
        "the artifact has no files".to_string()
    } else if strip > 0 {
        format!(
            "the artifact has no files left once strip_components: {strip} drops their leading directories"
        )
    } else {
        "the artifact holds only directories, no file".to_string()
    };
    format!("{why}; a release with nothing in it is refused before anything is stopped")
}

/// The stream's first two bytes, read back into a reader, and whether they are gzip's magic:
/// gzip or plain tar is told by the content (a name can lie, and the download cache keeps none).
pub fn sniff(raw: &mut dyn Read) -> io::Result<(io::Cursor<Vec<u8>>, bool)> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match raw.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((
        io::Cursor::new(magic[..got].to_vec()),
        magic == [0x1f, 0x8b],
    ))
}

/// Read a tar or tar.gz stream to its end, counting the entries that `strip` leaves and the
/// bytes they unpack to: what a host will unpack, checked before any host is touched.
pub fn scan(raw: &mut dyn Read, strip: usize, limit: u64) -> Result<u64, UnpackError> {
    let what = "the artifact";
    let (head, gz) = sniff(raw).map_err(|e| other(what, e))?;
    let mut reader: Box<dyn Read + '_> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(head.chain(&mut *raw)))
    } else {
        Box::new(head.chain(&mut *raw))
    };
    let counted = (|| {
        let (mut count, mut files, mut total, mut seen) = (0u64, 0u64, 0u64, false);
        let mut archive = tar::Archive::new(&mut reader);
        let entries = archive
            .entries()
            .map_err(|e| other(&format!("{what} is not a tar archive"), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| other(&format!("{what}: corrupt archive"), e))?;
            let raw = entry.path().map_err(|e| other(what, e))?.into_owned();
            seen = true;
            match inside(&raw, strip) {
                Err(()) => return Err(UnpackError::Escape(raw.display().to_string())),
                Ok(None) => continue,
                Ok(Some(_)) => {}
            }
            count += 1;
            if !entry.header().entry_type().is_dir() {
                files += 1;
            }
            total = total.saturating_add(entry.size());
            if total > limit {
                return Err(UnpackError::TooBig(limit));
            }
        }
        match files {
            0 => Err(UnpackError::Empty(strip, seen)),
            _ => Ok(count),
        }
    })();
    drop(reader);
    // To the end even after a refusal: the caller hashes every byte, and a checksum mismatch
    // explains a garbled archive best.
    io::copy(raw, &mut io::sink()).map_err(|e| other(what, e))?;
    counted
}

fn other(what: &str, e: impl std::fmt::Display) -> UnpackError {
    UnpackError::Other(format!("{what}: {e}"))
}

fn io_other(what: &str, e: &io::Error) -> UnpackError {
    UnpackError::Other(format!("{what}: {}", crate::sys::describe_io(e)))
}

/// Inflate on one thread and write files on another (what `tar -xzf` gets from running gzip as
/// a separate process); every byte of the artifact is hashed, even what tar does not read.
/// Unpack a tar or tar.gz stream into `dest` (created if missing): inflate on one thread and
/// write files on another (what `tar -xzf` gets from running gzip as a separate process). The
/// stream is read to its end even when tar stops early, so a caller hashing it sees every byte.
pub fn unpack(
    raw: &mut (dyn Read + Send),
    dest: &Path,
    strip: usize,
    limit: u64,
) -> Result<u64, UnpackError> {
    let what = "the artifact";
    if let Err(e) = fs::create_dir_all(dest) {
        return Err(io_other(&dest.display().to_string(), &e));
    }
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(8);
        let producer = s.spawn(move || {
            let mut failed = None;
            {
                let (head, gz) = match sniff(raw) {
                    Ok(sniffed) => sniffed,
                    Err(e) => {
                        failed = Some(e);
                        (io::Cursor::new(vec![]), false)
                    }
                };
                let mut reader: Box<dyn Read + '_> = if gz {
                    Box::new(flate2::read::MultiGzDecoder::new(head.chain(&mut *raw)))
                } else {
                    Box::new(head.chain(&mut *raw))
                };
                while failed.is_none() {
                    let mut buf = vec![0; 128 * 1024];
                    match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            buf.truncate(n);
                            // The unpacker stopped (done, or failed): just read the rest.
                            if tx.send(buf).is_err() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
            }
            drop(tx);
            if let Err(e) = io::copy(raw, &mut io::sink()) {
                failed.get_or_insert(e);
            }
            failed
        });
        let mut archive = tar::Archive::new(Chunks {
            rx,
            buf: vec![],
            pos: 0,
        });
        let unpacked = entries(&mut archive, dest, strip, limit, what);
        drop(archive);
        let failed = match producer.join() {
            Ok(r) => r,
            Err(_) => std::process::abort(),
        };
        match (unpacked, failed) {
            (Err(e), _) => Err(e),
            (Ok(_), Some(e)) => Err(other(what, e)),
            (Ok(n), None) => Ok(n),
        }
    })
}

/// The inflated stream, as chunks from the producer thread.
struct Chunks {
    rx: mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(b) => {
                    self.buf = b;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn entries<R: Read>(
    archive: &mut tar::Archive<R>,
    dst: &Path,
    strip: usize,
    limit: u64,
    what: &str,
) -> Result<u64, UnpackError> {
    let root = fs::canonicalize(dst).map_err(|e| io_other(&dst.display().to_string(), &e))?;
    let (mut count, mut files, mut seen) = (0, 0, false);
    // Bytes the entries will take, by their headers: checked before each is written, so a bomb
    // never gets to fill the disk.
    let mut total: u64 = 0;
    // Directories already created and resolved inside the release: checked once, not per file.
    let mut checked: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    let entries = archive
        .entries()
        .map_err(|e| other(&format!("{what} is not a tar archive"), e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| other(&format!("{what}: corrupt archive"), e))?;
        let raw = entry
            .path()
            .map_err(|e| other(what, e))?
            .to_string_lossy()
            .into_owned();
        seen = true;
        let Some(rel) =
            inside(Path::new(&raw), strip).map_err(|_| UnpackError::Escape(raw.clone()))?
        else {
            continue;
        };
        let dest = root.join(&rel);
        total = total.saturating_add(entry.size());
        if total > limit {
            return Err(UnpackError::TooBig(limit));
        }
        let kind = entry.header().entry_type();
        if kind.is_block_special() || kind.is_character_special() || kind.is_fifo() {
            return Err(UnpackError::Other(format!(
                "{what}: entry '{raw}' is a device or fifo; a release holds files, directories and links"
            )));
        }
        if let Some(parent) = dest.parent()
            && !checked.contains(parent)
        {
            fs::create_dir_all(parent).map_err(|e| io_other(&raw, &e))?;
            // A symlink unpacked earlier must not carry later entries out of the release.
            let real = fs::canonicalize(parent).map_err(|e| io_other(&raw, &e))?;
            if !real.starts_with(&root) {
                return Err(UnpackError::Escape(raw));
            }
            checked.insert(parent.to_path_buf());
        }
        if !kind.is_dir() {
            // Whatever replaces a checked directory (a symlink, say) must be checked again.
            checked.retain(|p| !p.starts_with(&dest));
        }
        if kind.is_hard_link() {
            let target = entry
                .link_name()
                .map_err(|e| other(what, e))?
                .map(|l| l.into_owned())
                .unwrap_or_default();
            let Ok(Some(t)) = inside(&target, strip) else {
                return Err(UnpackError::Escape(format!(
                    "{raw} (a hard link to {})",
                    target.display()
                )));
            };
            fs::hard_link(root.join(t), &dest).map_err(|e| io_other(&raw, &e))?;
        } else if kind.is_file() {
            write_file(&mut entry, &dest).map_err(|e| io_other(&raw, &e))?;
        } else {
            entry.unpack(&dest).map_err(|e| other(&raw, e))?;
        }
        count += 1;
        if !kind.is_dir() {
            files += 1;
        }
    }
    if files == 0 {
        return Err(UnpackError::Empty(strip, seen));
    }
    Ok(count)
}

/// A regular file, with its mode (set-id bits dropped) and mtime, its writeback started at
/// once: the syncfs before the switch then waits for little.
fn write_file<R: Read>(entry: &mut tar::Entry<R>, dest: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(dest)?;
    io::copy(entry, &mut f)?;
    if let Ok(t) = entry.header().mtime() {
        let _ = f.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(t));
    }
    start_writeback(&f);
    Ok(())
}

#[cfg(target_os = "linux")]
fn start_writeback(f: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid open descriptor; SYNC_FILE_RANGE_WRITE only queues writeback.
    unsafe {
        libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File) {}

/// An entry's path inside the release, with `strip` leading components dropped; `Ok(None)`
/// when nothing is left, `Err` when it would leave the directory.
fn inside(path: &Path, strip: usize) -> Result<Option<PathBuf>, ()> {
    let mut parts = vec![];
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return Err(()),
        }
    }
    if parts.len() <= strip {
        return Ok(None);
    }
    Ok(Some(parts[strip..].iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_kept_inside_the_release() {
        let p = |s: &str, n| inside(Path::new(s), n);
        assert_eq!(p("bin/app", 0), Ok(Some(PathBuf::from("bin/app"))));
        assert_eq!(p("./app-v2/bin/app", 1), Ok(Some(PathBuf::from("bin/app"))));
        assert_eq!(p("app-v2/", 1), Ok(None));
        assert_eq!(p("../etc/passwd", 0), Err(()));
        assert_eq!(p("bin/../../x", 0), Err(()));
        assert_eq!(p("/etc/passwd", 0), Err(()));
    }
}
