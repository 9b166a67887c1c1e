//! tend on a host, with no agent installed: over the host's one SSH session tend finds a tend of
//! its own version and build there (cached by an earlier run in `~/.cache/tend/`, or installed:
//! `ssh.remote_tend`), or uploads its own executable (gzip in transit, sha256 checked on the
//! host, renamed into place with mode 0755); then runs it with the playbook on its stdin
//! (`envelope.rs`) and re-emits each of its events here, with the host on it.
//!
//! A host that cannot run this build (another architecture, an older glibc, a cache on a
//! `noexec` mount) is told apart before anything is sent, with what to do about it.

use std::sync::OnceLock;
use std::time::Duration;

use super::envelope::Envelope;
use crate::error::Error;
use crate::machine::Machine;
use crate::machine::ssh::{Ssh, SshSpec};
use crate::quote::word;
use crate::report::{Event, Level, Record, Reporter, Status};

/// The first bytes of the line a tend on a host ends with: its result, for the controller.
pub const RESULT: &str = "{\"tend_result\":";

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How long finding (or bringing) tend on a host may take unless `ssh.preflight_timeout` says.
pub const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(60);

/// This tend's own executable, as a host needs it.
struct Own {
    bytes: Vec<u8>,
    sha256: String,
    /// The newest `GLIBC_2.x` symbol version it links against; None for a static build.
    glibc: Option<(u32, u32)>,
}

fn own() -> Result<&'static Own, Error> {
    static OWN: OnceLock<Result<Own, String>> = OnceLock::new();
    OWN.get_or_init(|| {
        // The running image, even when a package upgrade replaced the file since.
        let bytes = std::fs::read("/proc/self/exe")
            .map_err(|e| format!("cannot read this tend's own executable: {e}"))?;
        use sha2::Digest;
        let sha256 = data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(&bytes));
        let glibc = needed_glibc(&bytes);
        Ok(Own {
            bytes,
            sha256,
            glibc,
        })
    })
    .as_ref()
    .map_err(|e| Error::Failed(e.clone()))
}

/// The executable gzipped, once for every host that lacks it.
fn packed(own: &Own) -> Result<&'static [u8], Error> {
    static PACKED: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    PACKED
        .get_or_init(|| {
            use std::io::Write;
            // Level 3: a release build packs in about 0.1 s to ~40 %; level 9 saves a few
            // percent more for ten times the CPU.
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(own.bytes.len() / 2),
                flate2::Compression::new(3),
            );
            gz.write_all(&own.bytes)
                .and_then(|()| gz.finish())
                .map_err(|e| format!("cannot compress this tend for the hosts: {e}"))
        })
        .as_deref()
        .map_err(|e| Error::Failed(e.clone()))
}

/// The newest `GLIBC_2.N[.M]` named in an ELF image's version needs.
fn needed_glibc(bytes: &[u8]) -> Option<(u32, u32)> {
    let finder = aho_corasick::AhoCorasick::new([b"GLIBC_2."]).ok()?;
    finder
        .find_iter(bytes)
        .filter_map(|m| {
            let rest = &bytes[m.start() + 6..];
            let end = rest
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b'.'))
                .unwrap_or(rest.len());
            version(std::str::from_utf8(&rest[..end]).ok()?)
        })
        .max()
}

/// `2.36` (or `2.36.1`) as (2, 36).
fn version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Whether `uname -m` names the architecture this tend was built for.
fn same_arch(uname: &str) -> bool {
    let aliases: &[&str] = match std::env::consts::ARCH {
        "x86_64" => &["amd64"],
        "aarch64" => &["arm64"],
        "x86" => &["i386", "i486", "i586", "i686"],
        "arm" => &["armv6l", "armv7l", "armv8l"],
        _ => &[],
    };
    uname == std::env::consts::ARCH || aliases.contains(&uname)
}

/// What the probe of a host found.
#[derive(Debug, PartialEq)]
struct Found {
    arch: String,
    libc: String,
    /// `cached PATH`, `missing PATH` or `installed VERSION-LINE`.
    tend: String,
}

/// The probe's answers, each on a line of its own tagged `tend-probe-KEY `: a banner or a
/// login script's output before them is not taken for one.
fn parse_probe(lines: &[String]) -> Found {
    let line = |key: &str| {
        let tag = format!("tend-probe-{key} ");
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&tag))
            .map_or(String::new(), |l| l.trim().to_string())
    };
    Found {
        arch: line("arch"),
        libc: line("libc"),
        tend: line("tend"),
    }
}

/// Why this build cannot run on a host like `found`, if it cannot.
fn unfit(found: &Found, needs: Option<(u32, u32)>) -> Option<String> {
    let fix = "install a tend built for it there and set ssh.remote_tend to its path";
    if !found.arch.is_empty() && !same_arch(&found.arch) {
        return Some(format!(
            "the host is {} and this tend is built for {}: {fix}",
            found.arch,
            std::env::consts::ARCH
        ));
    }
    let need = needs?;
    if found.libc.to_ascii_lowercase().contains("musl") {
        return Some(format!(
            "the host's C library is musl and this tend needs glibc {}.{} or later: {fix}",
            need.0, need.1
        ));
    }
    // `glibc 2.36` (getconf) or `ldd (Debian GLIBC 2.36-9) 2.36` (ldd): the last word.
    let has = found
        .libc
        .split_whitespace()
        .last()
        .and_then(|w| version(w.split('-').next().unwrap_or(w)))?;
    (has < need).then(|| {
        format!(
            "the host has glibc {}.{} and this tend needs {}.{} or later: {fix}",
            has.0, has.1, need.0, need.1
        )
    })
}

/// The host's answer to a request that should print lines, or why not.
fn ask(ssh: &Ssh, cmd: &str) -> Result<Vec<String>, Error> {
    let mut lines = vec![];
    let ran = ssh
        .run(cmd, Duration::from_secs(60), &mut |l: &str| {
            lines.push(l.to_string())
        })
        .map_err(|e| Error::Failed(crate::sys::describe_io(&e)))?;
    if !ran.success() {
        return Err(Error::Failed(format!(
            "{} ({})",
            lines.join("; ").trim(),
            ran.describe(Duration::from_secs(60))
        )));
    }
    Ok(lines)
}

/// The host's `tend` step: the path of a tend it can run, of this version (and, unless
/// installed, this very build), uploaded now where it has none. Why not, in words a person can
/// act on.
/// Bounded, as a deploy's preflight is, by `ssh.preflight_timeout`, or by the run's own
/// deadline (`cap`, a check's `--timeout`) when that is sooner.
pub fn ensure(
    reporter: &Reporter,
    ssh: &Ssh,
    spec: &SshSpec,
    cap: Option<Duration>,
) -> Result<String, Error> {
    let step = crate::engine::Step::begin(reporter, "tend");
    let limit = spec.preflight_timeout.map_or(PREFLIGHT_TIMEOUT, |d| d.0);
    let why = match cap {
        Some(c) if c < limit => format!("the run's {} (--timeout)", humantime::format_duration(c)),
        _ => format!(
            "the preflight's {} (ssh.preflight_timeout)",
            humantime::format_duration(limit)
        ),
    };
    let limit = cap.map_or(limit, |c| c.min(limit));
    ssh.set_deadline(Some((std::time::Instant::now() + limit, why)));
    let done = find_or_bring(ssh, spec);
    ssh.set_deadline(None);
    ssh.idle();
    match &done {
        Ok((_, told)) => step.end(Status::Ok, told.clone()),
        Err(e) => step.end(Status::Failed, e.to_string()),
    }
    done.map(|(path, _)| path)
}

fn find_or_bring(ssh: &Ssh, spec: &SshSpec) -> Result<(String, String), Error> {
    let own = own()?;
    let probe = "printf 'tend-probe-arch %s\\n' \"$(uname -m)\"; printf 'tend-probe-libc %s\\n' \"$({ getconf GNU_LIBC_VERSION || ldd --version | head -n 1; } 2>&1 | head -n 1)\"";
    let probe = match &spec.remote_tend {
        Some(path) => format!(
            "{probe}; printf 'tend-probe-tend installed %s\\n' \"$({} --version 2>&1 | head -n 1)\"",
            word(path)
        ),
        // No HOME (an odd login): no cache at the filesystem's root.
        None => format!(
            "{probe}; t=\"${{HOME:?is not set on the host}}\"/.cache/tend/{}/tend || exit 1; if [ -x \"$t\" ]; then echo \"tend-probe-tend cached $t\"; else echo \"tend-probe-tend missing $t\"; fi",
            word(&cache_name(own))
        ),
    };
    let found = parse_probe(&ask(ssh, &probe)?);
    if let Some(why) = unfit(&found, own.glibc) {
        return Err(Error::Failed(why));
    }
    if let Some(path) = &spec.remote_tend {
        let said = found.tend.trim_start_matches("installed ").to_string();
        let ours = format!("tend {VERSION}");
        if said != ours && !said.starts_with(&format!("{ours} ")) {
            return Err(Error::Failed(format!(
                "{path} on the host says '{said}', and this is {ours}: install the same version there, or leave ssh.remote_tend out to have tend bring its own"
            )));
        }
        return Ok((path.clone(), format!("{path} ({said})")));
    }
    if let Some(path) = found.tend.strip_prefix("cached ") {
        return Ok((path.to_string(), format!("tend {VERSION} cached at {path}")));
    }
    let Some(path) = found.tend.strip_prefix("missing ") else {
        return Err(Error::Failed(format!(
            "the host's answer was not understood: {}",
            found.tend
        )));
    };
    let packed = packed(own)?;
    upload(ssh, path, packed, &own.sha256)?;
    Ok((
        path.to_string(),
        format!(
            "uploaded tend {VERSION} to {path} ({} gzipped, sha256 {} checked there)",
            crate::playbook::units::Size(packed.len() as u64),
            &own.sha256[..12]
        ),
    ))
}

/// `VERSION-SHA256PREFIX`: a directory per build, so two versions side by side never mix.
fn cache_name(own: &Own) -> String {
    format!("{VERSION}-{}", &own.sha256[..16])
}

/// The gzipped executable to `path` on the host: unpacked into a temporary file beside it, its
/// sha256 checked there, made executable, made durable and renamed into place.
fn upload(ssh: &Ssh, path: &str, packed: &[u8], sha256: &str) -> Result<(), Error> {
    let cmd = format!(
        "set -e; t={p}; d=${{t%/*}}; mkdir -p \"$d\"; f=$(mktemp \"$d/.tend.XXXXXX\"); trap 'rm -f \"$f\"' EXIT; gzip -dc >\"$f\"; s=$(sha256sum \"$f\"); s=${{s%% *}}; if [ \"$s\" != {sha} ]; then echo \"the upload arrived with sha256 $s, not {sha}\"; exit 1; fi; chmod 755 \"$f\"; sync \"$f\"; mv -f \"$f\" \"$t\"; trap - EXIT; sync \"$d\"",
        p = word(path),
        sha = word(sha256),
    );
    let mut said = vec![];
    let timeout = Duration::from_secs(300);
    let ran = ssh
        .run_fed(&cmd, packed, timeout, &mut |l: &str| {
            said.push(l.to_string())
        })
        .map_err(|e| Error::Failed(format!("upload failed: {}", crate::sys::describe_io(&e))))?;
    if ran.success() {
        return Ok(());
    }
    Err(Error::Failed(format!(
        "cannot put tend at {path}: {} ({}); set ssh.remote_tend to an installed tend instead",
        said.join("; ").trim(),
        ran.describe(timeout)
    )))
}

/// What a tend on a host said, once it ended.
pub struct Ran {
    /// Its result line, when it got that far.
    pub result: Option<serde_json::Value>,
    /// Its exit status.
    pub code: Option<i32>,
    /// Its last words that were not events (an error printed before its run began).
    pub said: Vec<String>,
}

impl Ran {
    /// Why it gave no result, in words: what it said, or how it ended.
    pub fn why(&self, tend: &str) -> String {
        let said = self.said.join("; ");
        match self.code {
            // `sh`: found but not executable: the cache on a noexec mount, most often.
            Some(126) => format!(
                "cannot execute {tend} on the host ({}): is its directory on a noexec mount? set ssh.remote_tend to an installed tend, or let the login user's ~/.cache allow executables",
                if said.is_empty() {
                    "permission denied"
                } else {
                    &said
                }
            ),
            Some(127) => format!(
                "{tend} did not start on the host ({}): a missing library or loader; set ssh.remote_tend to a tend built for that host",
                if said.is_empty() { "not found" } else { &said }
            ),
            _ if !said.is_empty() => said,
            Some(c) => format!("tend on the host ended with exit status {c} and no result"),
            None => "tend on the host was stopped before it ended".to_string(),
        }
    }
}

/// Run `tend SUB` on the host with `envelope` on its stdin; each event it emits is emitted here
/// through `reporter` (its run's own start and end left out: the controller's run is the one
/// that starts and ends).
pub fn run(
    reporter: &Reporter,
    ssh: &Ssh,
    tend: &str,
    sub: &str,
    envelope: &Envelope,
    timeout: Duration,
) -> Result<Ran, Error> {
    let input = serde_json::to_vec(envelope).map_err(|e| Error::Failed(e.to_string()))?;
    let cmd = format!("{} {sub} --from-controller --output json", word(tend));
    let mut ran = Ran {
        result: None,
        code: None,
        said: vec![],
    };
    let exited = ssh
        .run_fed(&cmd, &input, timeout, &mut |line: &str| {
            take_line(reporter, &mut ran, line)
        })
        .map_err(|e| {
            Error::Failed(format!(
                "lost the host during the run: {}",
                crate::sys::describe_io(&e)
            ))
        })?;
    ran.code = exited.code;
    if exited.timed_out {
        ran.said.push(exited.describe(timeout));
    }
    Ok(ran)
}

/// `run`, on this machine: this very tend started again as a child, in a process group of its
/// own that does not outlive this one (a check's remedy on the machine it runs on).
pub fn run_here(
    reporter: &Reporter,
    sub: &str,
    envelope: &Envelope,
    timeout: Duration,
) -> Result<Ran, Error> {
    use std::io::{BufRead, Write};
    use std::os::unix::process::CommandExt;
    let input = serde_json::to_vec(envelope).map_err(|e| Error::Failed(e.to_string()))?;
    let mut child = std::process::Command::new("/proc/self/exe")
        .args([sub, "--from-controller", "--output", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| Error::Failed(format!("cannot start tend again: {e}")))?;
    let _running = crate::procs::started(child.id(), &format!("tend {sub}"));
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let ran = std::sync::Mutex::new(Ran {
        result: None,
        code: None,
        said: vec![],
    });
    let take = |line: &str| {
        take_line(
            reporter,
            &mut ran.lock().unwrap_or_else(|e| e.into_inner()),
            line,
        )
    };
    std::thread::scope(|s| {
        s.spawn(|| {
            if let Some(mut w) = stdin {
                let _ = w.write_all(&input);
            }
        });
        s.spawn(|| {
            for line in std::io::BufReader::new(stderr.into_iter().next()?).lines() {
                take(&line.ok()?);
            }
            Some(())
        });
        for line in std::io::BufReader::new(stdout.into_iter().next()?).lines() {
            take(&line.ok()?);
        }
        Some(())
    });
    let status = match wait_timeout::ChildExt::wait_timeout(&mut child, timeout) {
        Ok(Some(s)) => Some(s),
        _ => {
            crate::sh::kill_group(child.id(), rustix::process::Signal::KILL);
            let _ = child.wait();
            None
        }
    };
    let mut ran = ran.into_inner().unwrap_or_else(|e| e.into_inner());
    ran.code = status.and_then(|s| s.code());
    Ok(ran)
}

fn take_line(reporter: &Reporter, ran: &mut Ran, line: &str) {
    if line.starts_with(RESULT) {
        ran.result = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|mut v| v.get_mut("tend_result").map(serde_json::Value::take));
        return;
    }
    match serde_json::from_str::<Record>(line) {
        Ok(Record {
            event: Event::RunStarted { .. } | Event::RunFinished { .. },
            ..
        }) => {}
        Ok(record) => {
            if let Event::Notice {
                level: Level::Error,
                message,
            } = &record.event
            {
                keep(&mut ran.said, message);
            }
            reporter.emit(record.event);
        }
        Err(_) if line.trim().is_empty() => {}
        Err(_) => keep(&mut ran.said, line.trim()),
    }
}

/// The lines a host said, for the reason a run gave no result: its `error:` line (what went
/// wrong; the diagnostic's source lines follow it) and the last few others, each cut short.
fn keep(said: &mut Vec<String>, line: &str) {
    let line: String = crate::report::printable(line).chars().take(300).collect();
    let errors = said.iter().filter(|l| l.starts_with("error")).count();
    if line.starts_with("error") && errors == 0 {
        said.insert(0, line);
        return;
    }
    if said.len() - errors.min(1) == 3 {
        said.remove(errors.min(1));
    }
    said.push(line);
}

/// The result line, printed last on stdout (masked) by a tend the controller started: without
/// it the controller has no verdicts or outcome from this host, so a failed write is this
/// run's failure.
pub fn send_result(result: &impl serde::Serialize) -> Result<(), Error> {
    use std::io::Write;
    let line = format!("{}\n", serde_json::json!({ "tend_result": result }));
    let mut out = std::io::stdout().lock();
    out.write_all(crate::redact::redact(&line).as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| {
            Error::Failed(format!(
                "cannot send the result to the controller: {}",
                crate::sys::describe_io(&e)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(arch: &str, libc: &str) -> Found {
        Found {
            arch: arch.into(),
            libc: libc.into(),
            tend: "missing /x".into(),
        }
    }

    #[test]
    fn a_host_this_build_cannot_run_on_is_told_apart() {
        let here = std::env::consts::ARCH;
        assert_eq!(unfit(&found(here, "glibc 2.36"), Some((2, 34))), None);
        assert_eq!(
            unfit(
                &found(here, "ldd (Debian GLIBC 2.36-9+deb12u4) 2.36"),
                Some((2, 34))
            ),
            None
        );
        let old = unfit(&found(here, "glibc 2.17"), Some((2, 34))).unwrap();
        assert!(
            old.starts_with("the host has glibc 2.17 and this tend needs 2.34"),
            "{old}"
        );
        let musl = unfit(&found(here, "musl libc (x86_64)"), Some((2, 34))).unwrap();
        assert!(musl.contains("musl"), "{musl}");
        let other = unfit(&found("riscv64", "glibc 2.36"), Some((2, 34))).unwrap();
        assert!(other.starts_with("the host is riscv64"), "{other}");
        // A static build needs no glibc at all.
        assert_eq!(unfit(&found(here, "glibc 2.17"), None), None);
    }

    #[test]
    fn the_glibc_a_build_needs_is_its_newest_symbol_version() {
        let image = b"\0GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_2.3\0GLIBC_PRIVATE\0";
        assert_eq!(needed_glibc(image), Some((2, 34)));
        assert_eq!(needed_glibc(b"static"), None);
    }
}
