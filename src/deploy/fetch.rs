//! Getting a release onto disk: the artifact is read once, hashed while it is unpacked into
//! `releases/<r>.partial`, and the directory is renamed into place only when the checksum
//! matches. Nothing is stopped before this is done.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub enum Source {
    Url(String),
    Path(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Artifact {
    pub source: Source,
    /// Lowercase hex.
    pub sha256: Option<String>,
    pub strip_components: usize,
}

impl Artifact {
    pub fn shown(&self) -> String {
        match &self.source {
            Source::Url(u) => u.clone(),
            Source::Path(p) => p.display().to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("checksum mismatch for {artifact}: expected sha256 {expected}, got {got}")]
    Mismatch {
        artifact: String,
        expected: String,
        got: String,
    },
    #[error("artifact entry '{0}' would land outside the release directory; refused")]
    Escape(String),
    #[error("{0}")]
    Other(String),
}

pub struct Fetched {
    pub sha256: String,
    pub bytes: u64,
    pub entries: u64,
    /// Read from the download cache rather than the network.
    pub cached: bool,
}

/// Hashes (and counts, and optionally copies to the cache) everything read through it.
struct Tap<'p, R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    copy: Option<File>,
    progress: &'p (dyn Fn(u64) + Sync),
}

impl<R: Read> Read for Tap<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Nothing is stopped yet: a signal during a long download just ends the run.
        if crate::interrupt::requested() {
            return Err(io::Error::other("interrupted by a signal"));
        }
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if let Some(f) = &mut self.copy {
            f.write_all(&buf[..n])?;
        }
        self.bytes += n as u64;
        (self.progress)(self.bytes);
        Ok(n)
    }
}

fn other(what: &str, e: impl std::fmt::Display) -> FetchError {
    FetchError::Other(format!("{what}: {e}"))
}

fn io_other(what: &str, e: &io::Error) -> FetchError {
    FetchError::Other(format!("{what}: {}", crate::describe_io(e)))
}

/// Download or open the artifact and unpack it into `partial` (which must not exist).
pub fn fetch(
    artifact: &Artifact,
    cache: &Path,
    partial: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Fetched, FetchError> {
    let cached_file = artifact
        .sha256
        .as_ref()
        .map(|s| cache.join(format!("{s}.artifact")));
    type Reader = Box<dyn Read + Send>;
    let (reader, copy_to, cached): (Reader, Option<PathBuf>, bool) = match &artifact.source {
        Source::Url(_) if cached_file.as_ref().is_some_and(|f| f.is_file()) => {
            let f = cached_file.clone().unwrap_or_default();
            let file = File::open(&f).map_err(|e| io_other(&f.display().to_string(), &e))?;
            (Box::new(file), None, true)
        }
        Source::Url(url) => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_connect(Some(Duration::from_secs(10)))
                .timeout_recv_response(Some(Duration::from_secs(60)))
                .timeout_per_read(Some(Duration::from_secs(60)))
                .http_status_as_error(false)
                .user_agent(concat!("tend/", env!("CARGO_PKG_VERSION")))
                .build()
                .into();
            let resp = agent.get(url).call().map_err(|e| other(url, e))?;
            if !resp.status().is_success() {
                return Err(FetchError::Other(format!(
                    "{url}: HTTP {}",
                    resp.status().as_u16()
                )));
            }
            crate::fsutil::ensure_dir(cache).map_err(|e| io_other("download cache", &e))?;
            (
                Box::new(resp.into_body().into_reader()),
                cached_file.map(|f| f.with_extension("partial")),
                false,
            )
        }
        Source::Path(p) => {
            let file = File::open(p).map_err(|e| io_other(&p.display().to_string(), &e))?;
            (Box::new(file), None, false)
        }
    };
    let copy = match &copy_to {
        Some(p) => Some(File::create(p).map_err(|e| io_other("download cache", &e))?),
        None => None,
    };
    let tap = Tap {
        inner: reader,
        hasher: Sha256::new(),
        bytes: 0,
        copy,
        progress,
    };
    let (result, mut tap) = unpack_and_drain(tap, artifact, partial);
    let got = hex(&tap.hasher.clone().finalize());
    let cleanup = |copy_to: &Option<PathBuf>| {
        let _ = fs::remove_dir_all(partial);
        if let Some(p) = copy_to {
            let _ = fs::remove_file(p);
        }
    };
    if let Some(expected) = &artifact.sha256
        && *expected != got
    {
        // A mismatch explains a garbled archive better than the unpack error would.
        cleanup(&copy_to);
        return Err(FetchError::Mismatch {
            artifact: artifact.shown(),
            expected: expected.clone(),
            got,
        });
    }
    let entries = match result {
        Ok(n) => n,
        Err(e) => {
            cleanup(&copy_to);
            return Err(e);
        }
    };
    if let (Some(p), Some(f)) = (&copy_to, tap.copy.take()) {
        // Kept for a re-run of the same build; losing it only costs a download.
        if f.sync_all().is_ok() {
            let _ = fs::rename(p, p.with_extension("artifact"));
        }
    }
    Ok(Fetched {
        sha256: got,
        bytes: tap.bytes,
        entries,
        cached,
    })
}

/// Inflate on one thread and write files on another (what `tar -xzf` gets from running gzip as
/// a separate process); every byte of the artifact is hashed, even what tar does not read.
fn unpack_and_drain<'p, R: Read + Send>(
    mut tap: Tap<'p, R>,
    artifact: &Artifact,
    partial: &Path,
) -> (Result<u64, FetchError>, Tap<'p, R>) {
    let what = artifact.shown();
    if let Err(e) = fs::create_dir_all(partial) {
        return (Err(io_other(&partial.display().to_string(), &e)), tap);
    }
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(8);
        let producer = s.spawn(move || {
            let mut failed = None;
            {
                // gzip or plain tar, told by the content: a name can lie, and the download cache
                // keeps no name.
                let mut magic = [0u8; 2];
                let mut got = 0;
                while got < 2 {
                    match tap.read(&mut magic[got..]) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                let head = io::Cursor::new(magic[..got].to_vec());
                let mut reader: Box<dyn Read + '_> = if magic == [0x1f, 0x8b] {
                    Box::new(flate2::read::MultiGzDecoder::new(head.chain(&mut tap)))
                } else {
                    Box::new(head.chain(&mut tap))
                };
                loop {
                    let mut buf = vec![0; 128 * 1024];
                    match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            buf.truncate(n);
                            // The unpacker stopped (done, or failed): just hash the rest.
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
            if let Err(e) = io::copy(&mut tap, &mut io::sink()) {
                failed.get_or_insert(e);
            }
            (failed, tap)
        });
        let mut archive = tar::Archive::new(Chunks {
            rx,
            buf: vec![],
            pos: 0,
        });
        let unpacked = unpack(&mut archive, partial, artifact.strip_components, &what);
        drop(archive);
        let (failed, tap) = match producer.join() {
            Ok(r) => r,
            Err(_) => std::process::abort(),
        };
        let result = match (unpacked, failed) {
            (Err(e), _) => Err(e),
            (Ok(_), Some(e)) => Err(other(&what, e)),
            (Ok(n), None) => Ok(n),
        };
        (result, tap)
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

fn unpack<R: Read>(
    archive: &mut tar::Archive<R>,
    dst: &Path,
    strip: usize,
    what: &str,
) -> Result<u64, FetchError> {
    let root = fs::canonicalize(dst).map_err(|e| io_other(&dst.display().to_string(), &e))?;
    let mut count = 0;
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
        let Some(rel) =
            inside(Path::new(&raw), strip).map_err(|_| FetchError::Escape(raw.clone()))?
        else {
            continue;
        };
        let dest = root.join(&rel);
        let kind = entry.header().entry_type();
        if kind.is_block_special() || kind.is_character_special() || kind.is_fifo() {
            return Err(FetchError::Other(format!(
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
                return Err(FetchError::Escape(raw));
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
                return Err(FetchError::Escape(format!(
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

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
