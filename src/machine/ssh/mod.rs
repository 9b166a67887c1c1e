//! A host over SSH (ssh2/libssh2): one TCP connection, one authenticated session and one
//! long-lived remote shell per host, for commands and files alike. Opening a channel costs
//! about 100 ms at OpenSSH's sshd, so nothing opens a second one (no SFTP, no exec per step).
//! Host keys are checked against known_hosts (strict by default).

mod auth;
mod files;
mod frame;
mod shell;

pub use files::LockRefused;

use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use ssh2::{HashType, Session};

use crate::inventory::Host;

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone, Copy, Default, PartialEq, Eq)]
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

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Become {
    /// `sudo -n`: never prompts, so a missing sudoers rule fails the step at once.
    Sudo,
}

/// `ssh:` in a playbook.
#[derive(Deserialize, schemars::JsonSchema, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct SshSpec {
    /// The login user where a host names none (default: yours).
    #[schemars(example = &"deploy")]
    pub user: Option<String>,
    /// The private key (default: ~/.ssh/id_ed25519, id_ecdsa, id_rsa, or the agent).
    #[schemars(example = &"~/.ssh/deploy_ed25519")]
    pub identity: Option<String>,
    /// The identity's passphrase, usually a secret: `"{{ key_passphrase }}"`.
    #[schemars(example = &"{{ key_passphrase }}")]
    pub passphrase: Option<String>,
    /// Where hosts' keys are checked (default: ~/.ssh/known_hosts).
    #[schemars(example = &"/etc/tend/known_hosts")]
    pub known_hosts: Option<String>,
    /// What an unknown or changed host key gets (default `strict`: refused).
    #[serde(default)]
    pub host_key_check: HostKeyCheck,
    /// How long connecting to one host may take (default 10s).
    pub connect_timeout: Option<crate::playbook::units::Duration>,
    /// How long a host may take, once connected, to be ready to change: its lock taken, its
    /// layout checked, its journal read (default 60s). A host past it fails alone, unchanged.
    pub preflight_timeout: Option<crate::playbook::units::Duration>,
    /// An installed tend to run on the hosts (`tend check` and `tend cleanup` across hosts),
    /// of the same version as this one; without it tend brings its own, cached on each host
    /// in `~/.cache/tend/`.
    #[schemars(example = &"/usr/bin/tend")]
    pub remote_tend: Option<String>,
    /// `sudo`: every command on the hosts runs through sudo.
    #[serde(rename = "become")]
    pub become_: Option<Become>,
    /// The login user's password for sudo, usually a secret: `"{{ sudo_password }}"`: without
    /// it sudo runs with `-n` and needs a NOPASSWD rule.
    #[schemars(example = &"{{ sudo_password }}")]
    pub become_password: Option<String>,
}

impl SshSpec {
    /// Templates rendered: `passphrase: "{{ key_passphrase }}"` becomes the passphrase.
    /// Refused at load: a zero timeout, which no host could meet.
    pub fn check(&self, scope: &crate::playbook::Scope) -> Result<(), crate::playbook::Diagnostic> {
        for (key, t) in [
            ("connect_timeout", self.connect_timeout),
            ("preflight_timeout", self.preflight_timeout),
        ] {
            if t.is_some_and(|t| t.0.is_zero()) {
                return Err(scope
                    .error(key, "a timeout of 0 fails every host before it is tried")
                    .hint("give it time to answer: 10s, 1m"));
            }
        }
        Ok(())
    }

    pub fn render(
        &self,
        scope: &crate::playbook::Scope,
    ) -> Result<SshSpec, crate::playbook::Diagnostic> {
        let mut spec = self.clone();
        let text = |key: &str, v: &Option<String>| {
            v.as_ref()
                .map(|v| scope.render(key, v, crate::playbook::Mode::Text))
                .transpose()
        };
        spec.passphrase = text("passphrase", &self.passphrase)?;
        spec.become_password = text("become_password", &self.become_password)?;
        spec.identity = text("identity", &self.identity)?;
        spec.known_hosts = text("known_hosts", &self.known_hosts)?;
        spec.remote_tend = text("remote_tend", &self.remote_tend)?;
        Ok(spec)
    }
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
    shell: Mutex<shell::Shell>,
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
    /// `spec` as rendered (`passphrase` holds the secret itself by now).
    pub fn connect(host: &Host, spec: &SshSpec) -> Result<Ssh, Unreachable> {
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
            .map_err(|e| format!("{shown}: cannot connect: {}", crate::sys::describe_io(&e)))?;
        // Steps are small writes answered by small reads: Nagle would add 40 ms to each.
        let _ = tcp.set_nodelay(true);
        let sock = tcp
            .try_clone()
            .map_err(|e| format!("{shown}: {}", crate::sys::describe_io(&e)))?;
        let mut sess = Session::new().map_err(|e| format!("{shown}: {e}"))?;
        sess.set_tcp_stream(tcp);
        sess.set_timeout(timeout.as_millis() as u32);
        sess.handshake()
            .map_err(|e| format!("{shown}: SSH handshake failed: {}", e.message()))?;
        let notice = auth::check_host_key(&sess, host, spec, &shown)?;
        auth::authenticate(&sess, &user, host, spec, spec.passphrase.as_deref(), &shown)?;
        sess.set_keepalive(true, 15);
        // The inventory's `ansible_become*` for this host over the playbook's `ssh:`.
        let password = host
            .become_password
            .as_deref()
            .or(spec.become_password.as_deref());
        if password.is_some_and(|p| p.contains(['\n', '\r'])) {
            return Err(format!(
                "{shown}: the become password holds a line break; sudo reads one line"
            )
            .into());
        }
        let sudo = shell::Sudo {
            all: host.sudo_user(spec.become_ == Some(Become::Sudo)).is_some(),
            password,
            user: host.become_user.as_deref(),
        };
        let mut shell = shell::Shell::open(&sess, sock, timeout, sudo, &shown)?;
        if password.is_some() {
            shell.check_sudo_password(&sess, &user)?;
        }
        Ok(Ssh {
            shown,
            session: sess,
            shell: Mutex::new(shell),
            notice,
        })
    }
}

impl Ssh {
    /// Every request from now on ends by `at` (`why` names the limit in the error), or, with
    /// None, by its own timeout again.
    pub fn set_deadline(&self, deadline: Option<(std::time::Instant, String)>) {
        self.shell
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .deadline = deadline;
    }

    /// Between phases, while the host waits: its request buffer (256 KiB, for uploads) handed
    /// back, since a fleet keeps every host connected to the end and the next request makes it
    /// again.
    pub fn idle(&self) {
        self.shell.lock().unwrap_or_else(|e| e.into_inner()).idle();
    }
}

impl Drop for Ssh {
    fn drop(&mut self) {
        self.shell
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .close(&self.session);
    }
}

crate::reason::reason! {
    /// Why a host cannot be reached or logged in to, with what to do about it.
    pub struct Unreachable;
}
