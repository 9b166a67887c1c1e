//! Getting a release onto disk: the artifact is read once, hashed while it is unpacked into
//! `releases/<r>.partial`, and the directory is renamed into place only when the checksum
//! matches. Nothing is stopped before this is done.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
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

    fn name(&self) -> &str {
        match &self.source {
            Source::Url(u) => u.split(['?', '#']).next().unwrap_or(u),
            Source::Path(p) => p.to_str().unwrap_or(""),
        }
    }

    /// `.tar` is read as is; anything else (`.tar.gz`, `.tgz`) as gzip.
    fn gzipped(&self) -> bool {
        !self.name().ends_with(".tar")
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
    progress: &'p dyn Fn(u64),
}

impl<R: Read> Read for Tap<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
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
    progress: &dyn Fn(u64),
) -> Result<Fetched, FetchError> {
    let cached_file = artifact
        .sha256
        .as_ref()
        .map(|s| cache.join(format!("{s}.artifact")));
    let (reader, copy_to, cached): (Box<dyn Read>, Option<PathBuf>, bool) = match &artifact.source {
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
    let mut tap = Tap {
        inner: reader,
        hasher: Sha256::new(),
        bytes: 0,
        copy,
        progress,
    };
    let result = unpack_and_drain(&mut tap, artifact, partial);
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

fn unpack_and_drain<R: Read>(
    tap: &mut Tap<'_, R>,
    artifact: &Artifact,
    partial: &Path,
) -> Result<u64, FetchError> {
    let what = artifact.shown();
    fs::create_dir_all(partial).map_err(|e| io_other(&partial.display().to_string(), &e))?;
    let mut reader: Box<dyn Read + '_> = if artifact.gzipped() {
        Box::new(flate2::read::MultiGzDecoder::new(&mut *tap))
    } else {
        Box::new(&mut *tap)
    };
    let mut archive = tar::Archive::new(&mut reader);
    let n = unpack(&mut archive, partial, artifact.strip_components, &what)?;
    // The checksum covers every byte: read what tar left (padding, the gzip trailer).
    io::copy(&mut reader, &mut io::sink()).map_err(|e| other(&what, e))?;
    drop(reader);
    io::copy(tap, &mut io::sink()).map_err(|e| other(&what, e))?;
    Ok(n)
}

fn unpack<R: Read>(
    archive: &mut tar::Archive<R>,
    dst: &Path,
    strip: usize,
    what: &str,
) -> Result<u64, FetchError> {
    let root = fs::canonicalize(dst).map_err(|e| io_other(&dst.display().to_string(), &e))?;
    let mut count = 0;
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
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| io_other(&raw, &e))?;
            // A symlink unpacked earlier must not carry later entries out of the release.
            let real = fs::canonicalize(parent).map_err(|e| io_other(&raw, &e))?;
            if !real.starts_with(&root) {
                return Err(FetchError::Escape(raw));
            }
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
        } else {
            entry.unpack(&dest).map_err(|e| other(&raw, e))?;
        }
        count += 1;
    }
    Ok(count)
}

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
