//! The `Machine` operations over the host's one shell: each a short POSIX command with every path
//! quoted, and the same durability as on this machine (temp file, fsync, rename, fsync the
//! directory: `sync FILE` and `sync DIR` are fsync(2), `sync -f` is syncfs(2)).

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::Ssh;
use super::shell::{Kind, Out};
use crate::machine::{ConfigDest, Exited, Machine, Pending, UnpackError};
use crate::quote::word as quote;

/// File operations are quick; a host that takes longer has a problem worth reporting.
const OP_TIMEOUT: Duration = Duration::from_secs(120);

fn q(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The builtin test for anything at `p`, a dangling symlink included (`-e` follows links).
fn present(p: &Path) -> String {
    let p = q(p);
    format!("{{ [ -e {p} ] || [ -L {p} ]; }}")
}

/// `name.partial` beside the file: the rename that follows stays in one directory.
fn partial(p: &Path) -> PathBuf {
    let mut name = p.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    p.with_file_name(name)
}

/// Why the run's lock on a host was not taken.
pub enum LockRefused {
    /// Another run holds it: the line it wrote there, if any.
    Held(Option<String>),
    /// The host did not answer the request.
    Unanswered(io::Error),
}

impl Ssh {
    /// Run one of tend's own commands; its output, or an error carrying it.
    fn op(&self, cmd: &str, data: Option<(&mut dyn Read, u64)>) -> io::Result<(i32, Vec<u8>)> {
        self.request(Kind::Op, cmd, data)
    }

    fn request(
        &self,
        kind: Kind,
        cmd: &str,
        data: Option<(&mut dyn Read, u64)>,
    ) -> io::Result<(i32, Vec<u8>)> {
        let mut bytes = vec![];
        let mut shell = self.shell.lock().unwrap_or_else(|e| e.into_inner());
        let code = shell.request(
            &self.session,
            kind,
            cmd,
            data,
            OP_TIMEOUT,
            Out::Bytes(&mut bytes),
        )?;
        Ok((code, bytes))
    }

    /// An op that must succeed; its output otherwise becomes the error.
    fn must(&self, cmd: &str, data: Option<(&mut dyn Read, u64)>) -> io::Result<Vec<u8>> {
        let (code, out) = self.op(cmd, data)?;
        if code == 0 {
            return Ok(out);
        }
        let text = String::from_utf8_lossy(&out).trim().replace('\n', "; ");
        let kind = if text.contains("Permission denied") {
            io::ErrorKind::PermissionDenied
        } else if text.contains("No space left") {
            io::ErrorKind::StorageFull
        } else {
            io::ErrorKind::Other
        };
        Err(io::Error::new(
            kind,
            format!(
                "on {}: {}",
                self.shown,
                if text.is_empty() {
                    format!("exit status {code}")
                } else {
                    text
                }
            ),
        ))
    }

    /// Take the run's lock on this host: an flock the remote shell holds until the connection
    /// ends. `Err(Held(holder))` when another run holds it (with what that run wrote there).
    pub fn lock(&self, path: &Path, holder: &str) -> Result<Option<String>, LockRefused> {
        // One line, read off the shell by the `read` builtin (which stops at the newline).
        let holder = format!("{}\n", holder.replace(['\n', '\r'], " "));
        let mut data = holder.as_bytes();
        let (code, out) = self
            .request(
                Kind::Lock,
                &path.to_string_lossy(),
                Some((&mut data, holder.len() as u64)),
            )
            .map_err(LockRefused::Unanswered)?;
        // Another run's holder when refused; the last holder's line (a run that died) when
        // taken.
        let text = String::from_utf8_lossy(&out).trim().to_string();
        if code != 0 {
            return Err(LockRefused::Held((!text.is_empty()).then_some(text)));
        }
        Ok((!text.is_empty()).then_some(text))
    }

    /// Clear the holder at a clean end; the lock itself goes with the connection.
    pub fn unlock(&self, path: &Path) -> io::Result<()> {
        self.must(&format!("true >{}", q(path)), None).map(drop)
    }
}

impl Ssh {
    /// `run`, with `input` on the command's stdin (never in a file or an argument, where
    /// another user of the host could read it).
    pub fn run_fed(
        &self,
        cmd: &str,
        input: &[u8],
        timeout: Duration,
        on_line: &mut dyn FnMut(&str),
    ) -> io::Result<Exited> {
        let mut data = input;
        self.step(
            Kind::Step,
            cmd,
            Some((&mut data, input.len() as u64)),
            timeout,
            on_line,
        )
    }

    fn step(
        &self,
        kind: Kind,
        cmd: &str,
        data: Option<(&mut dyn Read, u64)>,
        timeout: Duration,
        on_line: &mut dyn FnMut(&str),
    ) -> io::Result<Exited> {
        let mut shell = self.shell.lock().unwrap_or_else(|e| e.into_inner());
        let code = shell.request(&self.session, kind, cmd, data, timeout, Out::Lines(on_line))?;
        // coreutils `timeout`: 124 when it fired, 137 when its KILL had to follow.
        let interrupted = shell.interrupted;
        let timed_out = !interrupted && (code == 124 || code == 137);
        Ok(Exited {
            code: (!timed_out && !interrupted).then_some(code),
            timed_out,
            interrupted,
        })
    }
}

/// The line that ends a request's file data: files are renamed into place only after it.
const WRITTEN: &str = "tend-written";

impl Machine for Ssh {
    fn is_remote(&self) -> bool {
        true
    }

    fn run(
        &self,
        cmd: &str,
        timeout: Duration,
        on_line: &mut dyn FnMut(&str),
    ) -> io::Result<Exited> {
        self.step(Kind::Step, cmd, None, timeout, on_line)
    }

    fn run_as_root(
        &self,
        cmd: &str,
        timeout: Duration,
        on_line: &mut dyn FnMut(&str),
    ) -> io::Result<Exited> {
        self.step(Kind::RootStep, cmd, None, timeout, on_line)
    }

    fn read_file(&self, path: &Path) -> io::Result<Option<(Vec<u8>, u32)>> {
        let p = q(path);
        let (code, out) = self.op(
            &format!("[ -e {p} ] || return 3; stat -L -c %a {p} && cat {p}"),
            None,
        )?;
        if code == 3 {
            return Ok(None);
        }
        if code != 0 {
            return Err(io::Error::other(format!(
                "on {}: {}",
                self.shown,
                String::from_utf8_lossy(&out).trim()
            )));
        }
        let nl = out.iter().position(|&b| b == b'\n').unwrap_or(out.len());
        let mode = u32::from_str_radix(String::from_utf8_lossy(&out[..nl]).trim(), 8)
            .map_err(|_| io::Error::other(format!("on {}: cannot read the mode", self.shown)))?;
        let content = out.get(nl + 1..).unwrap_or_default().to_vec();
        Ok(Some((content, mode)))
    }

    /// The shell's own `printf`: no process.
    fn put_line(&self, path: &Path, line: &str, append: bool) -> io::Result<()> {
        let to = if append { ">>" } else { ">" };
        self.must(
            &format!("printf '%s\\n' {} {to}{}", quote(line), q(path)),
            None,
        )
        .map(drop)
    }

    /// Builtins in the common case (a `realpath` process per host cost a millisecond): the
    /// longest existing directory on the path, resolved by `cd -P` and `pwd -P`, and the rest
    /// folded here. A link that leads nowhere on the way is left to `realpath -m`, which
    /// follows it.
    fn real_path(&self, path: &Path) -> io::Result<PathBuf> {
        let p = q(path);
        let text = path.to_string_lossy();
        if !path.is_absolute() || text.contains('\n') {
            let out = self.must(&format!("realpath -m -- {p}"), None)?;
            let s = String::from_utf8_lossy(&out);
            return Ok(PathBuf::from(s.strip_suffix('\n').unwrap_or(&s)));
        }
        // The loop shell's own `cd`, back at once: its file operations use absolute paths.
        let out = self.must(
            &format!(
                "tend_d={p}; while [ -n \"$tend_d\" ] && [ ! -d \"$tend_d\" ]; do if [ -L \"$tend_d\" ]; then printf 'R\\n'; realpath -m -- {p}; return; fi; tend_d=${{tend_d%/*}}; done; cd -P -- \"${{tend_d:-/}}\" || return 1; printf '%s\\n' \"$tend_d\"; pwd -P; cd \"$OLDPWD\""
            ),
            None,
        )?;
        let s = String::from_utf8_lossy(&out);
        let s = s.strip_suffix('\n').unwrap_or(&s);
        let (first, resolved) = s.split_once('\n').unwrap_or((s, ""));
        if first == "R" {
            return Ok(PathBuf::from(resolved));
        }
        let rest = text.get(first.len()..).unwrap_or_default();
        let mut out = PathBuf::from(resolved);
        for part in rest.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    out.pop();
                }
                _ => out.push(part),
            }
        }
        Ok(out)
    }

    /// One request: the link tests are builtins; `realpath` runs only when a directory on the
    /// way is a link.
    fn read_config(&self, dest: &Path, root: Option<&Path>) -> io::Result<ConfigDest> {
        let d = q(dest);
        let mut cmd = format!("if [ -L {d} ]; then printf L; readlink {d}; return 0; fi; ");
        if let Some(root) = root {
            let dirs = crate::machine::dirs_between(root, dest);
            if !dirs.is_empty() {
                let tests: Vec<String> = dirs.iter().map(|p| format!("[ -L {} ]", q(p))).collect();
                cmd += &format!(
                    "if {}; then r=$(realpath -m -- {}) && p=$(realpath -m -- {}) || return 1; case \"$p/\" in \"$r\"/*) ;; *) printf O; printf '%s\\n' \"$p\"; return 0;; esac; fi; ",
                    tests.join(" || "),
                    q(root),
                    q(&parent(dest))
                );
            }
        }
        cmd += &format!(
            "if [ ! -e {d} ]; then printf A; return 0; fi; if [ ! -f {d} ]; then printf N; return 0; fi; printf P; stat -c %a {d} && cat {d}"
        );
        let out = self.must(&cmd, None)?;
        let line = |b: &[u8]| {
            let s = String::from_utf8_lossy(b);
            s.strip_suffix('\n').unwrap_or(&s).to_string()
        };
        Ok(match out.first() {
            Some(b'L') => {
                ConfigDest::Refused(crate::machine::symlink_refused(Path::new(&line(&out[1..]))))
            }
            Some(b'O') => ConfigDest::Refused(crate::machine::outside_refused(
                Path::new(&line(&out[1..])),
                root.unwrap_or(Path::new("/")),
            )),
            Some(b'A') => ConfigDest::Absent,
            Some(b'N') => ConfigDest::Refused("it is not a regular file".into()),
            Some(b'P') => {
                let nl = out.iter().position(|&b| b == b'\n').unwrap_or(out.len());
                let mode = u32::from_str_radix(String::from_utf8_lossy(&out[1..nl]).trim(), 8)
                    .map_err(|_| {
                        io::Error::other(format!("on {}: cannot read the mode", self.shown))
                    })?;
                ConfigDest::Present(out.get(nl + 1..).unwrap_or_default().to_vec(), mode)
            }
            _ => {
                return Err(io::Error::other(format!(
                    "on {}: cannot read {}",
                    self.shown,
                    dest.display()
                )));
            }
        })
    }

    fn write_file(&self, path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
        self.write_files(&[(path, bytes, mode)])
    }

    /// One request for all of them: the data back to back, each file read off it by an exact
    /// byte count. dd's conv=fsync writes and fsyncs in one process: on a busy host every exec
    /// counts.
    fn write_files(&self, files: &[(&Path, &[u8], u32)]) -> io::Result<()> {
        let mut cmd = vec![];
        let mut commit = vec![];
        let mut data = vec![];
        for (path, bytes, mode) in files {
            let (p, t, d) = (q(path), q(&partial(path)), q(&parent(path)));
            // dd holds its whole block in memory: past 16 MiB, head (which never reads past its
            // count) and a sync.
            let (write, synced) = match bytes.len() {
                0 => (format!("true >{t}"), format!(" && sync {t}")),
                n if n > 16 << 20 => (format!("exec head -c {n} >{t}"), format!(" && sync {t}")),
                n => (
                    format!("exec dd of={t} bs={n} count=1 iflag=fullblock conv=fsync status=none"),
                    String::new(),
                ),
            };
            // Created under a umask that allows no more than the mode (a secret is never readable
            // by others, even for a moment), then given the mode itself (a default ACL on the
            // directory overrides the umask). A leftover temp file, which would keep its own
            // mode or be a symlink, is removed first.
            let umask = !mode & 0o777;
            cmd.push(format!(
                "{{ [ -d {d} ] || mkdir -p {d}; }} && {{ [ ! -e {t} ] && [ ! -L {t} ] || rm -f {t}; }} && ( umask {umask:o} && {write} ){synced}"
            ));
            commit.push(format!("chmod {mode:o} {t} && mv -f {t} {p} && sync {d}"));
            data.extend_from_slice(bytes);
        }
        // dd and head stop without an error at the end of their input: when tend dies mid-send
        // the connection ends, and a short file would be renamed into place. So nothing is
        // renamed until a last line, sent after all the data, has arrived.
        cmd.push(format!(
            "IFS= read -r tend_end && [ \"$tend_end\" = {WRITTEN} ]"
        ));
        cmd.extend(commit);
        data.extend_from_slice(WRITTEN.as_bytes());
        data.push(b'\n');
        let mut reader: &[u8] = &data;
        self.must(&cmd.join(" && "), Some((&mut reader, data.len() as u64)))
            .map(drop)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.must(
            &format!("rm -f {} && sync {}", q(path), q(&parent(path))),
            None,
        )
        .map(drop)
    }

    fn create_dirs(&self, path: &Path, mode: Option<u32>) -> io::Result<()> {
        let p = q(path);
        let cmd = match mode {
            Some(m) => format!("mkdir -p {p} && chmod {m:o} {p}"),
            None => format!("mkdir -p {p}"),
        };
        self.must(&cmd, None).map(drop)
    }

    fn is_dir(&self, path: &Path) -> bool {
        let p = q(path);
        matches!(
            self.op(&format!("[ -d {p} ] && [ ! -L {p} ]"), None),
            Ok((0, _))
        )
    }

    fn exists(&self, path: &Path) -> bool {
        matches!(self.op(&present(path), None), Ok((0, _)))
    }

    /// One request, shell builtins only: no process per path.
    fn links_among(&self, paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
        let script: String = paths
            .iter()
            .map(|p| format!("[ -L {0} ] && printf '%s\\n' {0}; ", q(p)))
            .collect();
        let (_, out) = self.op(&format!("{script}true"), None)?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .map(PathBuf::from)
            .collect())
    }

    fn read_link(&self, path: &Path) -> Option<PathBuf> {
        match self.op(&format!("readlink {}", q(path)), None) {
            Ok((0, out)) => {
                let s = String::from_utf8_lossy(&out);
                Some(PathBuf::from(s.strip_suffix('\n').unwrap_or(&s)))
            }
            _ => None,
        }
    }

    fn replace_symlink(&self, link: &Path, to: &Path) -> io::Result<()> {
        let (l, t, d) = (q(link), q(&partial(link)), q(&parent(link)));
        // `mv -T` renames over the old link instead of moving into the directory it points at.
        self.must(
            &format!("ln -sfn {} {t} && mv -Tf {t} {l} && sync {d}", q(to)),
            None,
        )
        .map(drop)
    }

    fn move_into(&self, path: &Path, dir: &Path, name: &str) -> io::Result<()> {
        let (p, d) = (q(path), q(dir));
        self.must(
            &format!(
                "{} || return 0; {{ [ -d {d} ] || mkdir -p {d}; }} && mv -T {p} {} && sync {} {d}",
                present(path),
                q(&dir.join(name)),
                q(&parent(path)),
            ),
            None,
        )
        .map(drop)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.must(
            &format!(
                "mv -T {} {} && sync {} {}",
                q(from),
                q(to),
                q(&parent(from)),
                q(&parent(to))
            ),
            None,
        )
        .map(drop)
    }

    fn remove_tree(&self, path: &Path) -> io::Result<()> {
        // rm never follows symlinks.
        self.must(&format!("rm -rf {}", q(path)), None).map(drop)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let p = q(path);
        let out = self.must(
            &format!("[ -d {p} ] || return 0; find {p} -mindepth 1 -maxdepth 1 -printf '%f\\0'"),
            None,
        )?;
        Ok(out
            .split(|&b| b == 0)
            .filter(|n| !n.is_empty())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect())
    }

    /// GNU tar on the host, fed over the shell: it refuses members that climb out with `..`,
    /// strips a leading `/`, and creates symlinks only after every file, so no entry can be
    /// written through a link it brought.
    fn unpack(
        &self,
        archive: &mut (dyn Read + Send),
        len: Option<u64>,
        dest: &Path,
        strip: usize,
        // Checked on the controller (`scan`) before any host is touched: GNU tar has no limit.
        _limit: u64,
    ) -> Result<u64, UnpackError> {
        let len = len.ok_or_else(|| {
            UnpackError::Other(
                "the artifact's size must be known to send it over SSH; fetch it on the controller first".into(),
            )
        })?;
        // gzip or plain tar, told by the content, as on this machine.
        let (head, gz) = crate::machine::unpack::sniff(archive)
            .map_err(|e| UnpackError::Other(crate::sys::describe_io(&e)))?;
        let z = if gz { "z" } else { "" };
        let d = q(dest);
        let mut stream = head.chain(archive);
        let out = self
            .must(
                &format!(
                    "mkdir -p {d} && tar -x{z}v -f - -C {d} --no-same-owner --strip-components={strip}"
                ),
                Some((&mut stream, len)),
            )
            .map_err(|e| UnpackError::Other(format!("tar: {e}")))?;
        // tar -v names what it extracted, nothing it stripped away; a directory ends in `/`.
        let names: Vec<&[u8]> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        if !names.iter().any(|l| !l.ends_with(b"/")) {
            return Err(UnpackError::Empty(strip, !names.is_empty()));
        }
        Ok(names.len() as u64)
    }

    fn sync_all(&self, path: &Path) -> io::Result<()> {
        self.must(&format!("sync -f {}", q(path)), None).map(drop)
    }

    /// `sync -f` started in the background on the host, a job of the remote loop shell, which
    /// waits for it when asked (no temp file, no polling). A job nobody waits for (the run
    /// failed before the switch) just ends.
    fn start_sync(self: Arc<Self>, path: &Path) -> Pending {
        let path = path.to_path_buf();
        let started = self.request(Kind::Background, &format!("sync -f {}", q(&path)), None);
        Box::new(move || {
            let (_, out) = started?;
            let pid = String::from_utf8_lossy(&out).trim().to_string();
            if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
                return Err(io::Error::other(format!(
                    "on {}: sync -f {} did not start",
                    self.shown,
                    path.display()
                )));
            }
            match self.request(Kind::Wait, &pid, None)? {
                (0, _) => Ok(()),
                (code, _) => Err(io::Error::other(format!(
                    "on {}: sync -f {} failed (status {code})",
                    self.shown,
                    path.display()
                ))),
            }
        })
    }

    fn rename_lazy(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.must(&format!("mv -T {} {}", q(from), q(to)), None)
            .map(drop)
    }

    /// Each path renamed aside at once (so a new one can take its place), then deleted by one
    /// `rm -rf` in the background on the host.
    fn remove_later(&self, paths: Vec<PathBuf>) {
        let moves: Vec<String> = paths
            .iter()
            .map(|p| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                let gone = p.with_file_name(format!(
                    "{}.gone.{nanos}",
                    p.file_name().unwrap_or_default().to_string_lossy()
                ));
                format!(
                    "{} && mv -T {p} {g} 2>/dev/null && set -- \"$@\" {g}",
                    present(p),
                    p = q(p),
                    g = q(&gone)
                )
            })
            .collect();
        if moves.is_empty() {
            return;
        }
        let _ = self.op(
            &format!(
                "set --; {}; [ $# -eq 0 ] || rm -rf \"$@\" </dev/null >/dev/null 2>&1 &",
                moves.join("; ")
            ),
            None,
        );
    }

    fn create_all(&self, dirs: &[(PathBuf, Option<u32>)]) -> io::Result<()> {
        // The builtin test first: on every run but the first they all exist, and no mkdir runs.
        let all: Vec<String> = dirs.iter().map(|(p, _)| q(p)).collect();
        let mut cmd: Vec<String> = vec![format!(
            "{{ {} || mkdir -p {}; }}",
            all.iter()
                .map(|p| format!("[ -d {p} ]"))
                .collect::<Vec<_>>()
                .join(" && "),
            all.join(" ")
        )];
        // One `chmod` per mode, not per directory: each is a process on every run.
        let mut modes: Vec<u32> = dirs.iter().filter_map(|(_, m)| *m).collect();
        modes.sort_unstable();
        modes.dedup();
        for m in modes {
            let these: Vec<String> = dirs
                .iter()
                .filter(|(_, mode)| *mode == Some(m))
                .map(|(p, _)| q(p))
                .collect();
            cmd.push(format!("chmod {m:o} {}", these.join(" ")));
        }
        self.must(&cmd.join(" && "), None).map(drop)
    }
}
