//! Getting a release onto disk: the artifact is read once, hashed while it is unpacked into
//! `releases/<r>.partial`, and the directory is renamed into place only when the checksum
//! matches. Nothing is stopped before this is done.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
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
    /// Downloaded by each host itself (`fetch.on: hosts`).
    pub on_hosts: bool,
    /// `fetch.max_unpacked_size`, when given.
    pub max_unpacked: Option<u64>,
}

/// The default cap on what an artifact unpacks to: this many times its own size...
const INFLATE_RATIO: u64 = 50;
/// ...and never more than this.
const UNPACKED_CAP: u64 = 10 << 30;

impl Artifact {
    /// The most it may unpack to, given its size when known.
    pub fn unpack_limit(&self, len: Option<u64>) -> u64 {
        self.max_unpacked.unwrap_or_else(|| match len {
            Some(n) => n.saturating_mul(INFLATE_RATIO).clamp(1 << 20, UNPACKED_CAP),
            None => UNPACKED_CAP,
        })
    }

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
    #[error(transparent)]
    Unpack(#[from] crate::machine::UnpackError),
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
    FetchError::Other(format!("{what}: {}", crate::sys::describe_io(e)))
}

/// Download or open the artifact and unpack it on `target` into `partial` (which must not
/// exist), hashing every byte on the way.
pub fn fetch(
    artifact: &Artifact,
    cache: &Path,
    partial: &Path,
    progress: &(dyn Fn(u64) + Sync),
    target: &dyn crate::machine::Machine,
) -> Result<Fetched, FetchError> {
    let cached_file = artifact
        .sha256
        .as_ref()
        .map(|s| cache.join(format!("{s}.artifact")));
    type Reader = Box<dyn Read + Send>;
    let size = |f: &File| f.metadata().ok().map(|m| m.len());
    let (reader, len, copy_to, cached): (Reader, Option<u64>, Option<PathBuf>, bool) =
        match &artifact.source {
            Source::Url(_) if cached_file.as_ref().is_some_and(|f| f.is_file()) => {
                let f = cached_file.clone().unwrap_or_default();
                let file = File::open(&f).map_err(|e| io_other(&f.display().to_string(), &e))?;
                let len = size(&file);
                (Box::new(file), len, None, true)
            }
            Source::Url(url) => {
                let (body, len) = open_url(url)?;
                crate::fsutil::ensure_dir(cache).map_err(|e| io_other("download cache", &e))?;
                (
                    body,
                    len,
                    cached_file.map(|f| f.with_extension("partial")),
                    false,
                )
            }
            Source::Path(p) => {
                let file = File::open(p).map_err(|e| io_other(&p.display().to_string(), &e))?;
                let len = size(&file);
                (Box::new(file), len, None, false)
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
    let mut tap = tap;
    let limit = artifact.unpack_limit(len);
    let result = target
        .unpack(&mut tap, len, partial, artifact.strip_components, limit)
        .map_err(FetchError::from);
    let got = hex(&tap.hasher.clone().finalize());
    let cleanup = |copy_to: &Option<PathBuf>| {
        let _ = target.remove_tree(partial);
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

/// The body, and its length when the server says.
fn open_url(url: &str) -> Result<(Box<dyn Read + Send>, Option<u64>), FetchError> {
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
    let len = resp.body().content_length();
    Ok((Box::new(resp.into_body().into_reader()), len))
}

/// For a fleet: the artifact fetched and checksum-verified once, here, as a file in `cache`
/// (a `path:` artifact is read where it is). The hosts then get the same verified bytes.
pub fn stage(artifact: &Artifact, cache: &Path) -> Result<(Artifact, Fetched), FetchError> {
    let (file, cached) = match &artifact.source {
        Source::Path(p) => (p.clone(), false),
        Source::Url(url) => {
            let sha = artifact.sha256.clone().unwrap_or_default();
            let file = cache.join(format!("{sha}.artifact"));
            let cached = file.is_file();
            if !cached {
                crate::fsutil::ensure_dir(cache).map_err(|e| io_other("download cache", &e))?;
                let partial = file.with_extension("partial");
                let mut out = File::create(&partial).map_err(|e| io_other("download cache", &e))?;
                let copied = io::copy(&mut open_url(url)?.0, &mut out)
                    .and_then(|_| out.sync_all())
                    .and_then(|()| fs::rename(&partial, &file));
                if let Err(e) = copied {
                    let _ = fs::remove_file(&partial);
                    return Err(io_other(url, &e));
                }
            }
            (file, cached)
        }
    };
    let f = File::open(&file).map_err(|e| io_other(&file.display().to_string(), &e))?;
    let f_len = f.metadata().ok().map(|m| m.len());
    let mut tap = Tap {
        inner: f,
        hasher: Sha256::new(),
        bytes: 0,
        copy: None,
        progress: &|_| {},
    };
    // Hashed, and read as the hosts will unpack it: an empty release or a bomb is refused here,
    // before any host is touched.
    let len = f_len;
    let scanned = crate::machine::scan(
        &mut tap,
        artifact.strip_components,
        artifact.unpack_limit(len),
    );
    let bytes = tap.bytes;
    let got = hex(&tap.hasher.finalize());
    if let Some(expected) = &artifact.sha256
        && *expected != got
    {
        if cached || matches!(artifact.source, Source::Url(_)) {
            let _ = fs::remove_file(&file);
        }
        return Err(FetchError::Mismatch {
            artifact: artifact.shown(),
            expected: expected.clone(),
            got,
        });
    }
    let entries = scanned?;
    let staged = Artifact {
        source: Source::Path(file),
        sha256: Some(got.clone()),
        strip_components: artifact.strip_components,
        on_hosts: false,
        max_unpacked: artifact.max_unpacked,
    };
    Ok((
        staged,
        Fetched {
            sha256: got,
            bytes,
            entries,
            cached,
        },
    ))
}

/// `fetch.on: hosts`: the target downloads `url` itself (curl or wget), checks the sha256
/// there, and unpacks into `partial` with its tar; nothing passes through this machine.
pub fn on_target(
    artifact: &Artifact,
    partial: &Path,
    target: &dyn crate::machine::Machine,
) -> Result<Fetched, FetchError> {
    let (Source::Url(url), Some(sha)) = (&artifact.source, &artifact.sha256) else {
        return Err(FetchError::Other(
            "fetch.on: hosts needs a url: and its sha256".into(),
        ));
    };
    let q = crate::quote::word;
    let p = q(&partial.to_string_lossy());
    let script = format!(
        "t=$(mktemp) || exit 1; trap 'rm -f \"$t\" \"$t.list\"' EXIT
if command -v curl >/dev/null; then curl -fsSL --retry 2 -o \"$t\" {u} || exit 4
elif command -v wget >/dev/null; then wget -q -O \"$t\" {u} || exit 4
else echo 'neither curl nor wget is installed'; exit 4; fi
got=$(sha256sum \"$t\" | cut -d' ' -f1)
[ \"$got\" = {sha} ] || {{ echo \"got sha256 $got\"; exit 3; }}
size=$(wc -c <\"$t\"); limit={max}; [ \"$limit\" -gt 0 ] || limit=$((size * {ratio})); [ \"$limit\" -ge 1048576 ] || limit=1048576; [ \"$limit\" -le {cap} ] || limit={cap}
total=$(tar -tvf \"$t\" | awk '{{s += $3}} END {{printf \"%.0f\", s}}') || exit 5
[ \"$total\" -le \"$limit\" ] || {{ echo \"the artifact unpacks to $total bytes, more than $limit\"; exit 6; }}
mkdir -p {p} && tar -xvf \"$t\" -C {p} --no-same-owner --strip-components={n} >\"$t.list\" || exit 5
grep -qv '/$' \"$t.list\" || exit 7
echo \"__bytes $size __entries $(wc -l <\"$t.list\")\"",
        u = q(url),
        n = artifact.strip_components,
        max = artifact.max_unpacked.unwrap_or(0),
        ratio = INFLATE_RATIO,
        cap = UNPACKED_CAP,
    );
    let mut last = String::new();
    let mut lines = vec![];
    let outcome = target
        .run(&script, std::time::Duration::from_secs(3600), &mut |l| {
            last = l.to_string();
            lines.push(l.to_string());
        })
        .map_err(|e| FetchError::Other(crate::sys::describe_io(&e)))?;
    let cleanup = || {
        let _ = target.remove_tree(partial);
    };
    match outcome.code {
        Some(0) => {}
        Some(3) => {
            cleanup();
            return Err(FetchError::Mismatch {
                artifact: artifact.shown(),
                expected: sha.clone(),
                got: last.trim_start_matches("got sha256 ").to_string(),
            });
        }
        _ => {
            cleanup();
            let what = match outcome.code {
                Some(4) => "download failed on the host",
                Some(5) => "unpacking failed on the host",
                Some(6) => {
                    return Err(FetchError::Other(format!(
                        "{url}: {last}; refused before anything was stopped (fetch.max_unpacked_size)"
                    )));
                }
                Some(7) => {
                    return Err(FetchError::Unpack(crate::machine::UnpackError::Empty(
                        artifact.strip_components,
                        true,
                    )));
                }
                _ => "fetching on the host failed",
            };
            return Err(FetchError::Other(format!(
                "{url}: {what}: {}",
                if lines.is_empty() {
                    outcome.describe(std::time::Duration::from_secs(3600))
                } else {
                    lines.join("; ")
                }
            )));
        }
    }
    let num = |key: &str| {
        last.split_whitespace()
            .skip_while(|w| *w != key)
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Ok(Fetched {
        sha256: sha.clone(),
        bytes: num("__bytes"),
        entries: num("__entries"),
        cached: false,
    })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
