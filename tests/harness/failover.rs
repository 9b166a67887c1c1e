//! Two real dnsmasq servers on loopback and a failover playbook between them: the active one is
//! the first nameserver of a resolv.conf-format file in the temp dir; fences really kill the
//! server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::Env;
use super::dns::{Dnsmasq, query};

pub const GOOD: &str = "10.1.0.10";

pub struct Pair {
    pub env: Env,
    pub dns1: Dnsmasq,
    pub dns2: Dnsmasq,
}

/// `extra` replaces the default fence/promote/grace lines when given.
pub fn pair_with(dns1_answer: Option<&str>, extra: &str) -> Pair {
    let env = Env::new();
    let dns1 = Dnsmasq::start(env.dir.path(), "dns1", dns1_answer);
    let dns2 = Dnsmasq::start(env.dir.path(), "dns2", Some(GOOD));
    env.write(
        "resolv.conf",
        &format!(
            "# for the failover tests\nsearch plant\nnameserver {}\nnameserver {}\noptions timeout:1 attempts:2\n",
            dns1.ip, dns2.ip
        ),
    );
    let resolv = env.path("resolv.conf");
    let body = if extra.is_empty() {
        format!(
            "grace: 0s\nfence: \"kill -9 $(cat {{{{ active.name }}}}.pid) 2>/dev/null; echo fenced {{{{ active.name }}}} >> fence.log\"\npromote: {{ resolv_conf: {} }}\n",
            resolv.display()
        )
    } else {
        extra.replace("RESOLV", &resolv.display().to_string())
    };
    env.write(
        "dns.yaml",
        &format!(
            "kind: failover
name: dns
servers:
  - {{ name: dns1, address: \"{}\" }}
  - {{ name: dns2, address: \"{}\" }}
probe: {{ name: exoticplant.plant, type: A, expect: [{GOOD}], timeout: 500ms, attempts: 2, interval: 100ms, fall: 3, rise: 2 }}
active: {{ resolv_conf: {} }}
hold_down: 10m
{body}",
            dns1.address(),
            dns2.address(),
            resolv.display()
        ),
    );
    Pair { env, dns1, dns2 }
}

/// A pair whose fence pauses the active's process (SIGSTOP), and the drill's restore resumes it.
pub fn drilled_pair() -> Pair {
    pair_with(
        Some(GOOD),
        "grace: 0s\n\
         fence: \"kill -STOP $(cat {{ active.name }}.pid); echo fenced {{ active.name }} >> fence.log\"\n\
         promote: { resolv_conf: RESOLV }\n\
         notify: { webhook: { url: \"http://127.0.0.1:9/never\", on: [failover, failure, down] } }\n\
         drill: { allowed: true, restore: \"kill -CONT $(cat {{ active.name }}.pid)\" }\n",
    )
}

pub fn pair() -> Pair {
    pair_with(Some(GOOD), "")
}

impl Pair {
    pub fn failover(&self, args: &[&str]) -> std::process::Output {
        self.env
            .tend()
            .arg("failover")
            .args(args)
            .arg("dns.yaml")
            .output()
            .unwrap()
    }

    /// Rewrite the playbook (a test's variation).
    pub fn edit(&self, change: impl FnOnce(String) -> String) {
        let path = self.env.path("dns.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, change(text)).unwrap();
    }

    pub fn first_nameserver(&self) -> String {
        let text = std::fs::read_to_string(self.env.path("resolv.conf")).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("nameserver "))
            .unwrap()
            .to_string()
    }

    /// Resolve through the resolv file, as a client would: its first nameserver.
    pub fn resolve(&self) -> Option<Vec<String>> {
        let ip = self.first_nameserver();
        let port = if ip == self.dns1.ip {
            self.dns1.port
        } else {
            self.dns2.port
        };
        query(&format!("{ip}:{port}"))
    }

    pub fn fence_log(&self) -> String {
        std::fs::read_to_string(self.env.path("fence.log")).unwrap_or_default()
    }

    pub fn spawn(&self, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("tend"))
            .arg("failover")
            .args(args)
            .arg("dns.yaml")
            .env("TEND_STATE_DIR", self.env.state())
            .env("NO_COLOR", "1")
            .current_dir(self.env.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        (child, rx)
    }
}

/// The next line containing `needle`, within 20 s; every line seen is kept in `seen`.
pub fn wait_line(rx: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => {
                let hit = l.contains(needle);
                seen.push(l);
                if hit {
                    return;
                }
            }
            Err(_) => panic!("no line with {needle:?} in:\n{}", seen.join("\n")),
        }
    }
}
