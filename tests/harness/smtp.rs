//! A real SMTP server: aiosmtpd (Debian package python3-aiosmtpd) delivering into a Maildir.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, wait_for};

pub struct SmtpServer {
    pub port: u16,
    maildir: PathBuf,
    child: Child,
}

/// Debian's own interpreter: a python3 built elsewhere may come first on PATH and not see
/// Debian's python3-aiosmtpd.
const PYTHON: &str = "/usr/bin/python3";

impl SmtpServer {
    pub fn start(dir: &Path) -> SmtpServer {
        let ok = Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "the email tests need a real SMTP server: apt-get install python3-aiosmtpd (scripts/test installs it)"
        );
        let port = free_port();
        let maildir = dir.join("maildir");
        let child = Command::new(PYTHON)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        wait_for("aiosmtpd to listen", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        SmtpServer {
            port,
            maildir,
            child,
        }
    }

    /// Messages delivered so far, as raw RFC 5322 text, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.maildir.join("new"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect()
    }

    pub fn wait_for_messages(&self, n: usize) -> Vec<String> {
        wait_for(&format!("{n} email(s)"), Duration::from_secs(10), || {
            self.messages().len() >= n
        });
        self.messages()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
