//! Real DNS servers: dnsmasq instances on their own loopback addresses, answering the probed
//! name from a hosts file, with pid files the playbooks' fence commands use.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::wait_for;

pub const NAME: &str = "exoticplant.plant";

pub struct Dnsmasq {
    pub name: String,
    pub ip: String,
    pub port: u16,
    pub pid_file: PathBuf,
    hosts: PathBuf,
    child: Option<Child>,
}

static NEXT: AtomicU32 = AtomicU32::new(1);

/// A loopback address no other test uses: 127.<pid-derived>.<n>.1, each test its own /24.
pub fn fresh_ip() -> String {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let p = std::process::id() % 200 + 20;
    format!("127.{p}.{n}.1")
}

/// Debian puts it in /usr/sbin, which a user's PATH may not have.
fn dnsmasq() -> &'static str {
    if Path::new("/usr/sbin/dnsmasq").exists() {
        "/usr/sbin/dnsmasq"
    } else {
        "dnsmasq"
    }
}

fn require_dnsmasq() {
    let ok = Command::new(dnsmasq())
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "the failover tests need real DNS servers: apt-get install dnsmasq-base (scripts/test installs it)"
    );
}

impl Dnsmasq {
    /// Serve `NAME` as `address` (None: NXDOMAIN) on a fresh loopback address.
    pub fn start(dir: &Path, name: &str, address: Option<&str>) -> Dnsmasq {
        require_dnsmasq();
        let ip = fresh_ip();
        // Any free port works on a fresh address; take one the kernel hands out there.
        let port = UdpSocket::bind((ip.as_str(), 0))
            .expect("bind a loopback address")
            .local_addr()
            .unwrap()
            .port();
        let mut d = Dnsmasq {
            name: name.to_string(),
            ip,
            port,
            pid_file: dir.join(format!("{name}.pid")),
            hosts: dir.join(format!("{name}.hosts")),
            child: None,
        };
        d.set_answer(address);
        d.launch();
        d
    }

    pub fn address(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    pub fn set_answer(&self, address: Option<&str>) {
        let text = address.map_or(String::new(), |a| format!("{a} {NAME}\n"));
        std::fs::write(&self.hosts, text).unwrap();
    }

    pub fn launch(&mut self) {
        let child = Command::new(dnsmasq())
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--user=root",
                "--cache-size=0",
                "--local=/plant/",
            ])
            .arg(format!("--addn-hosts={}", self.hosts.display()))
            .arg(format!("--listen-address={}", self.ip))
            .arg(format!("--port={}", self.port))
            .arg(format!("--pid-file={}", self.pid_file.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        self.child = Some(child);
        let addr = self.address();
        wait_for(
            &format!("dnsmasq {} to answer on {addr}", self.name),
            Duration::from_secs(10),
            || query(&addr).is_some(),
        );
    }

    /// Re-read the hosts file (SIGHUP), as after `set_answer`.
    pub fn reload(&self) {
        self.signal("HUP");
        std::thread::sleep(Duration::from_millis(100));
    }

    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            Command::new("kill")
                .args([&format!("-{sig}"), &c.id().to_string()])
                .status()
                .unwrap();
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.signal("CONT");
        self.kill();
    }
}

/// The A records `addr` answers for NAME, or None when it does not answer within 500 ms.
pub fn query(addr: &str) -> Option<Vec<String>> {
    let sock = UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in NAME.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    sock.send_to(&q, addr).ok()?;
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).ok()?;
    let answers = u16::from_be_bytes([buf[6], buf[7]]) as usize;
    // Answers follow the question; each A record ends with its 4 address bytes.
    let mut out = vec![];
    let mut i = q.len();
    for _ in 0..answers {
        if i + 16 > n {
            break;
        }
        let rdlen = u16::from_be_bytes([buf[i + 10], buf[i + 11]]) as usize;
        if rdlen == 4 {
            out.push(format!(
                "{}.{}.{}.{}",
                buf[i + 12],
                buf[i + 13],
                buf[i + 14],
                buf[i + 15]
            ));
        }
        i += 12 + rdlen;
    }
    Some(out)
}
