//! A temp dir per test, a playbook writer, and a `tend` command that keeps its state inside.

#![allow(dead_code)]

pub mod deploy;
pub mod dns;
pub mod failover;
pub mod fleet;
pub mod hangfs;
pub mod hosts;
pub mod http;
pub mod prometheus;
pub mod run;
pub mod smtp;
pub mod sshd;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn state(&self) -> PathBuf {
        self.path("state")
    }

    /// Write a file (a playbook, usually) and return its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Write `playbook` and run `tend check --output nagios` on it: (exit code, stdout).
    pub fn check_nagios(&self, playbook: &str) -> (i32, String) {
        let p = self.write("check.yaml", playbook);
        let out = self
            .tend()
            .args(["check", "--output", "nagios"])
            .arg(&p)
            .output()
            .unwrap();
        (out.status.code().unwrap(), stdout(&out))
    }

    /// `tend` with its state dir in this temp dir, no colour, and the cwd here.
    pub fn tend(&self) -> Command {
        let mut c = Command::cargo_bin("tend").expect("tend binary");
        c.env("TEND_STATE_DIR", self.state())
            .env("NO_COLOR", "1")
            .env_remove("TEND_OUTPUT")
            .current_dir(self.dir.path());
        c
    }
}

impl Env {
    /// As `tend()`, as a std Command to spawn and wait for later (stdout and stderr piped).
    pub fn tend_spawnable(&self) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("tend"));
        c.env("TEND_STATE_DIR", self.state())
            .env("NO_COLOR", "1")
            .env_remove("TEND_OUTPUT")
            .current_dir(self.dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        // Started from a shell that ignores SIGINT (a background job without job control), the
        // suite would pass that on, and tend does not catch a SIGINT it was told to ignore: the
        // interrupt tests send one and need it caught.
        use std::os::unix::process::CommandExt;
        // SAFETY: signal(2) is async-signal-safe, all a pre_exec hook may call.
        unsafe {
            c.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        c
    }
}

/// Set `path`'s mtime `secs` seconds in the past.
pub fn aged(path: &Path, secs: u64) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(secs))
        .unwrap();
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Poll until `f` is true, or fail after `timeout` naming what we waited for.
pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A loopback port free for TCP and UDP, never handed out twice in this run. Taken below the
/// kernel's ephemeral range: a port from `bind(0)` is free only until it is used, and another
/// test's `bind(0)` or outgoing connection could take it in between (a test's app stopped for a
/// restart once found another test's app answering on its port).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    let (first, span) = if low > 12_000 {
        (low - 10_000, 10_000)
    } else {
        (61_000, 4_000)
    };
    let start = std::process::id() % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (first + (start + n) % span) as u16;
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port));
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {first}..{}", first + span)
}

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
