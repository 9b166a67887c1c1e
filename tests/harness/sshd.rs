//! A real OpenSSH sshd on a free loopback port, with a generated host key and a generated
//! client key in its authorized_keys.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, wait_for};

pub struct Sshd {
    pub port: u16,
    /// The client key sshd accepts.
    pub key: PathBuf,
    /// `[127.0.0.1]:PORT ssh-ed25519 AAAA...`, for a known_hosts file.
    pub known_hosts_line: String,
    /// `SHA256:...` of the host key, as `ssh` shows it.
    pub fingerprint: String,
    child: Child,
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ssh-keygen failed (apt-get install openssh-client)");
}

impl Sshd {
    pub fn start(dir: &Path) -> Sshd {
        Sshd::start_with(dir, "")
    }

    /// `start`, with `extra` lines in its sshd_config (a `ForceCommand` making it slow, say).
    pub fn start_with(dir: &Path, extra: &str) -> Sshd {
        let sshd = Path::new("/usr/sbin/sshd");
        assert!(
            sshd.exists(),
            "the SSH tests need a real sshd: apt-get install openssh-server (scripts/test installs it)"
        );
        let dir = dir.join(format!("sshd-{}", free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let host_key = dir.join("host_ed25519");
        let key = dir.join("client_ed25519");
        keygen(&host_key);
        keygen(&key);
        let authorized = dir.join("authorized_keys");
        std::fs::copy(key.with_extension("pub"), &authorized).unwrap();
        // Privilege separation needs this directory to exist.
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = free_port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin yes\nPidFile {}\nLogLevel ERROR\nMaxSessions 100\nMaxStartups 100\n{extra}",
                host_key.display(),
                authorized.display(),
                dir.join("sshd.pid").display()
            ),
        )
        .unwrap();
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sshd");
        wait_for(
            &format!("sshd on 127.0.0.1:{port}"),
            Duration::from_secs(10),
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
        let public = std::fs::read_to_string(host_key.with_extension("pub")).unwrap();
        let mut words = public.split_whitespace();
        let known_hosts_line = format!(
            "[127.0.0.1]:{port} {} {}\n",
            words.next().unwrap(),
            words.next().unwrap()
        );
        let out = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(host_key.with_extension("pub"))
            .output()
            .unwrap();
        let fingerprint = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string();
        Sshd {
            port,
            key,
            known_hosts_line,
            fingerprint,
            child,
        }
    }
}

impl Sshd {
    /// The host dies as far as SSH goes: sshd and the process serving each connection, at
    /// once. (The commands those sessions started keep running, as on a host whose network
    /// went away.)
    pub fn kill_all(&mut self) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-P", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The login user [`sudo_user`] creates.
const SUDO_USER: &str = "tendsudo";

/// The uid of [`sudo_user`]'s login user.
pub fn sudo_uid() -> u32 {
    let out = Command::new("id")
        .args(["-u", SUDO_USER])
        .output()
        .expect("id");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("tendsudo's uid")
}

/// A login user whose sudo asks for a password (`tendsudo`, every time: no cached timestamp),
/// with `password` set; created on first use. Needs root, as the SSH tests' sshd does. One
/// test at a time has the user (held while the guard lives), so what it leaves in /tmp is its
/// own.
pub fn sudo_user(password: &str) -> std::sync::MutexGuard<'static, bool> {
    static READY: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
    if !*ready {
        assert!(
            rustix::process::geteuid().is_root(),
            "the sudo password test creates the login user {SUDO_USER}: run it as root"
        );
        let exists = Command::new("id")
            .arg(SUDO_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !exists {
            let ok = Command::new("useradd")
                .args(["-m", "-s", "/bin/sh", SUDO_USER])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "useradd {SUDO_USER}");
        }
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd");
        use std::io::Write;
        writeln!(chpasswd.stdin.take().unwrap(), "{SUDO_USER}:{password}").unwrap();
        assert!(chpasswd.wait().unwrap().success(), "chpasswd");
        std::fs::write(
            "/etc/sudoers.d/tend-test",
            format!("Defaults:{SUDO_USER} timestamp_timeout=0\n{SUDO_USER} ALL=(ALL) ALL\n"),
        )
        .unwrap();
        *ready = true;
    }
    ready
}
