//! Real SMTP servers: aiosmtpd (Debian package python3-aiosmtpd) delivering into a Maildir.

use std::ffi::OsString;
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
    /// A plain SMTP server, as a relay on the local network would be.
    pub fn start(dir: &Path) -> SmtpServer {
        require_aiosmtpd();
        let port = free_port();
        let maildir = dir.join("maildir");
        let mut cmd = Command::new(PYTHON);
        cmd.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir);
        SmtpServer::spawn(cmd, port, maildir)
    }

    /// A server that requires STARTTLS and then AUTH with `user`/`password`. Returns the server
    /// and the CA certificate (PEM file) that signed its key.
    pub fn start_tls(dir: &Path, user: &str, password: &str) -> (SmtpServer, PathBuf) {
        require_aiosmtpd();
        let (ca, cert, key) = make_certs(dir);
        let port = free_port();
        let maildir = dir.join("maildir");
        let mut cmd = Command::new(PYTHON);
        cmd.arg(super::repo_root().join("tests/harness/smtpd.py"))
            .arg(port.to_string())
            .arg(&maildir)
            .arg(&cert)
            .arg(&key)
            .args([user, password]);
        (SmtpServer::spawn(cmd, port, maildir), ca)
    }

    fn spawn(mut cmd: Command, port: u16, maildir: PathBuf) -> SmtpServer {
        let child = cmd
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

    /// A playbook's `notify:` mailing oncall@example.com through this server.
    pub fn notify(&self) -> String {
        format!(
            "notify:\n  email:\n    to: [oncall@example.com]\n    from: tend@example.com\n    smtp: {{ host: 127.0.0.1, port: {}, tls: none }}\n",
            self.port
        )
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

fn require_aiosmtpd() {
    let ok = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "the email tests need a real SMTP server: apt-get install python3-aiosmtpd (scripts/test installs it)"
    );
}

fn openssl(args: Vec<OsString>) {
    let ok = Command::new("openssl")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        ok.is_ok_and(|s| s.success()),
        "openssl failed (apt-get install openssl): {args:?}"
    );
}

/// A throwaway CA and a server certificate for 127.0.0.1 signed by it.
pub fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let d = dir.join("tls");
    std::fs::create_dir_all(&d).unwrap();
    let f = |name: &str| d.join(name);
    std::fs::write(
        f("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let args = |list: &[&dyn AsRef<std::ffi::OsStr>]| -> Vec<OsString> {
        list.iter().map(|a| a.as_ref().to_os_string()).collect()
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = args(&[
        &"req",
        &"-x509",
        &"-days",
        &"2",
        &"-subj",
        &"/CN=tend test CA",
    ]);
    ca.extend(args(&[&ec[0], &ec[1], &ec[2], &ec[3], &ec[4]]));
    ca.extend(args(&[&"-keyout", &f("ca.key"), &"-out", &f("ca.pem")]));
    openssl(ca);
    let mut req = args(&[&"req", &"-subj", &"/CN=127.0.0.1"]);
    req.extend(args(&[&ec[0], &ec[1], &ec[2], &ec[3], &ec[4]]));
    req.extend(args(&[&"-keyout", &f("srv.key"), &"-out", &f("srv.csr")]));
    openssl(req);
    openssl(args(&[
        &"x509",
        &"-req",
        &"-days",
        &"2",
        &"-CAcreateserial",
        &"-in",
        &f("srv.csr"),
        &"-CA",
        &f("ca.pem"),
        &"-CAkey",
        &f("ca.key"),
        &"-out",
        &f("srv.pem"),
        &"-extfile",
        &f("ext"),
    ]));
    (f("ca.pem"), f("srv.pem"), f("srv.key"))
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Undo SMTP transfer encoding enough to read the text: header folding and quoted-printable.
pub fn readable(msg: &str) -> String {
    msg.replace("\r\n", "\n")
        .replace("=\n", "")
        .replace("\n ", " ")
        .replace("=3D", "=")
        .replace("=20", " ")
}
