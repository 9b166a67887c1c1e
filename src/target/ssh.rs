//! A host over SSH (ssh2/libssh2): one TCP connection, one authenticated session and one
//! long-lived remote shell per host. Each step is written to that shell, run in its own
//! subshell with stdin from /dev/null and a remote `timeout`, and framed by a marker carrying a
//! per-run random nonce, so its output and exit status come back apart and no output can forge
//! the end of a step. Host keys are checked against known_hosts (strict by default).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use ssh2::{CheckResult, HashType, KnownHostFileKind, Session};

use super::{Outcome, Target, UnpackError};
use crate::inventory::Host;

#[derive(Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HostKeyCheck {
    /// An unknown or changed key is refused.
    #[default]
    Strict,
    /// A new host's key is recorded; a changed one is still refused.
    AcceptNew,
    /// Any key is accepted, with a warning every run.
    Off,
}

/// `ssh:` in a playbook.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct SshSpec {
    pub user: Option<String>,
    pub identity: Option<String>,
    pub known_hosts: Option<String>,
    #[serde(default)]
    pub host_key_check: HostKeyCheck,
    pub connect_timeout: Option<crate::playbook::units::Duration>,
    #[serde(rename = "become")]
    #[allow(dead_code)]
    pub become_: Option<String>,
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

fn expand(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None => PathBuf::from(p),
    }
}

pub struct Ssh {
    /// `user@host:port`, for messages.
    pub shown: String,
    session: Session,
    shell: Mutex<(ssh2::Channel, u64)>,
    nonce: String,
    /// A note for the run's output (a key recorded, host key checking off).
    pub notice: Option<String>,
}

/// `SHA256:...` as `ssh` prints it.
fn fingerprint(sess: &Session) -> String {
    sess.host_key_hash(HashType::Sha256)
        .map_or("(unknown)".into(), |h| {
            format!("SHA256:{}", data_encoding::BASE64_NOPAD.encode(h))
        })
}

fn key_type(t: ssh2::HostKeyType) -> &'static str {
    use ssh2::HostKeyType::*;
    match t {
        Rsa => "RSA",
        Dss => "DSA",
        Ecdsa256 | Ecdsa384 | Ecdsa521 => "ECDSA",
        Ed25519 => "ED25519",
        Unknown => "unknown",
    }
}

impl Ssh {
    pub fn connect(host: &Host, spec: &SshSpec) -> Result<Ssh, String> {
        let user = host
            .user
            .clone()
            .or_else(|| spec.user.clone())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "root".into());
        let shown = format!("{user}@{}:{}", host.address, host.port);
        let timeout = spec
            .connect_timeout
            .map_or(Duration::from_secs(10), |d| d.0);
        let addr = (host.address.as_str(), host.port)
            .to_socket_addrs()
            .map_err(|e| format!("{shown}: cannot resolve {}: {e}", host.address))?
            .next()
            .ok_or_else(|| format!("{shown}: {} resolves to no address", host.address))?;
        let tcp = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| format!("{shown}: cannot connect: {}", crate::describe_io(&e)))?;
        let mut sess = Session::new().map_err(|e| format!("{shown}: {e}"))?;
        sess.set_tcp_stream(tcp);
        sess.set_timeout(timeout.as_millis() as u32);
        sess.handshake()
            .map_err(|e| format!("{shown}: SSH handshake failed: {}", e.message()))?;
        let notice = check_host_key(&sess, host, spec, &shown)?;
        authenticate(&sess, &user, host, spec, &shown)?;
        sess.set_keepalive(true, 15);
        let mut ch = sess
            .channel_session()
            .map_err(|e| format!("{shown}: cannot open a channel: {}", e.message()))?;
        ch.exec("sh")
            .map_err(|e| format!("{shown}: cannot start a shell: {}", e.message()))?;
        let nonce = format!(
            "{:016x}{:08x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
            std::process::id()
        );
        Ok(Ssh {
            shown,
            session: sess,
            shell: Mutex::new((ch, 0)),
            nonce,
            notice,
        })
    }
}

fn check_host_key(
    sess: &Session,
    host: &Host,
    spec: &SshSpec,
    shown: &str,
) -> Result<Option<String>, String> {
    let (key, ktype) = sess
        .host_key()
        .ok_or_else(|| format!("{shown}: the server sent no host key"))?;
    let fp = fingerprint(sess);
    let kt = key_type(ktype);
    if spec.host_key_check == HostKeyCheck::Off {
        return Ok(Some(format!(
            "{shown}: host key checking is off: accepted {kt} key {fp} unchecked"
        )));
    }
    let path = spec
        .known_hosts
        .as_deref()
        .map_or_else(|| home().join(".ssh/known_hosts"), expand);
    let mut kh = sess
        .known_hosts()
        .map_err(|e| format!("{shown}: {}", e.message()))?;
    if path.exists() {
        kh.read_file(&path, KnownHostFileKind::OpenSSH)
            .map_err(|e| format!("{shown}: cannot read {}: {}", path.display(), e.message()))?;
    }
    let name = if host.port == 22 {
        host.address.clone()
    } else {
        format!("[{}]:{}", host.address, host.port)
    };
    match kh.check_port(&host.address, host.port, key) {
        CheckResult::Match => Ok(None),
        CheckResult::Mismatch => Err(format!(
            "{shown}: REMOTE HOST KEY HAS CHANGED: it now offers {kt} key {fp}, which does not match {} for {name}; refused (someone may be intercepting, or the host was rebuilt: check, then fix known_hosts)",
            path.display()
        )),
        CheckResult::NotFound if spec.host_key_check == HostKeyCheck::AcceptNew => {
            kh.add(&name, key, "added by tend", ktype.into())
                .and_then(|()| {
                    if let Some(dir) = path.parent() {
                        let _ = std::fs::create_dir_all(dir);
                    }
                    kh.write_file(&path, KnownHostFileKind::OpenSSH)
                })
                .map_err(|e| {
                    format!(
                        "{shown}: cannot record its key in {}: {}",
                        path.display(),
                        e.message()
                    )
                })?;
            Ok(Some(format!(
                "{shown}: new host, {kt} key {fp} recorded in {}",
                path.display()
            )))
        }
        CheckResult::NotFound => Err(format!(
            "{shown}: unknown host key: {kt} key fingerprint is {fp}, not in {}; refused (host_key_check: strict). If it is right, add it (ssh-keyscan -p {} {} >> {}) or set host_key_check: accept_new",
            path.display(),
            host.port,
            host.address,
            path.display()
        )),
        CheckResult::Failure => Err(format!(
            "{shown}: cannot check the host key against {}",
            path.display()
        )),
    }
}

fn authenticate(
    sess: &Session,
    user: &str,
    host: &Host,
    spec: &SshSpec,
    shown: &str,
) -> Result<(), String> {
    let mut tried = vec![];
    if std::env::var_os("SSH_AUTH_SOCK").is_some() {
        tried.push("ssh-agent".to_string());
        if sess.userauth_agent(user).is_ok() && sess.authenticated() {
            return Ok(());
        }
    }
    let keys: Vec<PathBuf> = match host
        .identity
        .clone()
        .or_else(|| spec.identity.as_deref().map(expand))
    {
        Some(k) => vec![k],
        None => ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .map(|k| home().join(".ssh").join(k))
            .filter(|p| p.exists())
            .collect(),
    };
    let mut last = String::new();
    for k in &keys {
        tried.push(format!("key {}", k.display()));
        match sess.userauth_pubkey_file(user, None, k, None) {
            Ok(()) if sess.authenticated() => return Ok(()),
            Ok(()) => {}
            Err(e) => last = e.message().to_string(),
        }
    }
    Err(format!(
        "{shown}: authentication failed for user {user} (tried {}){}",
        if tried.is_empty() {
            "no key: none given and none in ~/.ssh".to_string()
        } else {
            tried.join(", ")
        },
        if last.is_empty() {
            String::new()
        } else {
            format!(": {last}")
        }
    ))
}

impl Target for Ssh {
    fn run(
        &self,
        cmd: &str,
        timeout: Duration,
        on_line: &mut dyn FnMut(&str),
    ) -> io::Result<Outcome> {
        let mut guard = self.shell.lock().unwrap_or_else(|e| e.into_inner());
        let (ch, seq) = &mut *guard;
        *seq += 1;
        let marker = format!("__tend_{}_{seq}", self.nonce);
        let secs = timeout.as_secs().max(1);
        // A subshell per step, stdin from /dev/null, bounded remotely by coreutils `timeout`
        // (status 124 when it fired); the marker line carries the exit status.
        let script = format!(
            "timeout -k 5 {secs} sh -c {} </dev/null 2>&1; printf '\\n{marker} %s\\n' \"$?\"\n",
            crate::action::quote(cmd)
        );
        ch.write_all(script.as_bytes())?;
        ch.flush()?;
        // A host that stops answering is this step's failure, never a hang.
        self.session
            .set_timeout((timeout + Duration::from_secs(15)).as_millis() as u32);
        let deadline = Instant::now() + timeout + Duration::from_secs(15);
        let mut pending = String::new();
        let mut held: Option<String> = None;
        let mut buf = [0u8; 8192];
        loop {
            let n = ch.read(&mut buf).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{}: no answer: {e}", self.shown),
                )
            })?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    format!("{}: the remote shell ended", self.shown),
                ));
            }
            pending.push_str(&String::from_utf8_lossy(&buf[..n]));
            while let Some(i) = pending.find('\n') {
                let line: String = pending.drain(..=i).collect();
                let line = line.trim_end_matches(['\n', '\r']);
                if let Some(code) = line.strip_prefix(&format!("{marker} ")) {
                    // The blank line the marker's own newline made is not the command's.
                    if let Some(h) = held.take().filter(|h| !h.is_empty()) {
                        on_line(&h);
                    }
                    let code: i32 = code.trim().parse().unwrap_or(-1);
                    let timed_out = code == 124 || code == 137;
                    return Ok(Outcome {
                        code: (!timed_out).then_some(code),
                        timed_out,
                        interrupted: false,
                    });
                }
                if let Some(h) = held.replace(line.to_string()) {
                    on_line(&h);
                }
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{}: the step did not finish", self.shown),
                ));
            }
        }
    }

    fn read_file(&self, _: &Path) -> io::Result<Option<(Vec<u8>, u32)>> {
        Err(unsupported())
    }
    fn write_file(&self, _: &Path, _: &[u8], _: u32) -> io::Result<()> {
        Err(unsupported())
    }
    fn remove_file(&self, _: &Path) -> io::Result<()> {
        Err(unsupported())
    }
    fn create_dirs(&self, _: &Path, _: Option<u32>) -> io::Result<()> {
        Err(unsupported())
    }
    fn is_dir(&self, _: &Path) -> bool {
        false
    }
    fn exists(&self, _: &Path) -> bool {
        false
    }
    fn read_link(&self, _: &Path) -> Option<PathBuf> {
        None
    }
    fn replace_symlink(&self, _: &Path, _: &Path) -> io::Result<()> {
        Err(unsupported())
    }
    fn rename(&self, _: &Path, _: &Path) -> io::Result<()> {
        Err(unsupported())
    }
    fn remove_tree(&self, _: &Path) -> io::Result<()> {
        Err(unsupported())
    }
    fn list_dir(&self, _: &Path) -> io::Result<Vec<String>> {
        Err(unsupported())
    }
    fn unpack(&self, _: &mut (dyn Read + Send), _: &Path, _: usize) -> Result<u64, UnpackError> {
        Err(UnpackError::Other(
            "unpacking over SSH is not supported by this version of tend yet".into(),
        ))
    }
    fn sync_all(&self, _: &Path) -> io::Result<()> {
        Err(unsupported())
    }
}

/// Files over SSH (SFTP) come with the fleet deploy; commands work now.
fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "file operations over SSH are not supported by this version of tend yet",
    )
}
