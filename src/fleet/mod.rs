//! What every command that reaches hosts over SSH shares: the hosts a playbook names (`hosts:`,
//! `inventory:`, `--limit`), enough open files for them, each host on up to `--forks` threads
//! with a live tally, and its `connect` step. A deploy adds batches and its preflight on top; a
//! check and a cleanup run tend itself on each host (`remote.rs`).

pub mod envelope;
pub mod remote;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use crate::error::Error;
use crate::inventory::{Host, HostSpec, Paths};
use crate::machine::ssh::{Ssh, SshSpec, Unreachable};
use crate::playbook::{Diagnostic, Mode, Scope};
use crate::report::{Level, Reporter, Status};

/// The keys of a playbook that reach hosts (`playbook!(Kind, fleet, ...)` declares them).
pub struct Reach<'a> {
    pub hosts: Option<&'a [HostSpec]>,
    pub inventory: Option<&'a Paths>,
    pub ssh: Option<&'a SshSpec>,
}

pub trait Reached {
    fn reach(&self) -> Reach<'_>;
}

/// The hosts a playbook reaches, `--limit` applied.
pub struct Targets {
    pub hosts: Vec<Host>,
    /// What reading the inventory noticed (settings tend does not use).
    pub warnings: Vec<String>,
}

/// The hosts of `hosts:` and `inventory:` (relative to `dir`), narrowed by `limit`, each with
/// `ssh:`'s user and key where it names none; `None` when the playbook names no host (a run on
/// this machine).
pub fn targets(
    top: &Scope,
    dir: Option<&Path>,
    reach: Reach,
    limit: Option<&str>,
) -> Result<Option<Targets>, Diagnostic> {
    if reach.hosts.is_none() && reach.inventory.is_none() {
        if limit.is_some() {
            return Err(Diagnostic::new(
                "--limit picks hosts, and this playbook has no `hosts:` or `inventory:`",
            ));
        }
        return Ok(None);
    }
    if let Some(ssh) = reach.ssh {
        ssh.check(&top.at("ssh"))?;
    }
    let entries: Vec<Host> = reach
        .hosts
        .into_iter()
        .flatten()
        .map(|h| h.0.clone())
        .collect();
    let mut inventory = None;
    if let Some(inv) = reach.inventory {
        let mut paths = vec![];
        for (i, p) in inv.0.iter().enumerate() {
            let key = if inv.0.len() == 1 {
                "inventory".to_string()
            } else {
                format!("inventory[{i}]")
            };
            let p = top.render(&key, p, Mode::Text)?;
            paths.push(dir.map_or_else(|| PathBuf::from(&p), |d| d.join(&p)));
        }
        inventory =
            Some(crate::inventory::load(&paths, dir).map_err(|e| top.error("inventory", e))?);
    }
    let (mut hosts, warnings) = crate::inventory::pick(entries, inventory.as_ref(), limit)
        .map_err(|e| match inventory {
            Some(_) => top.error("inventory", e),
            None => Diagnostic::new(e),
        })?;
    // An inventory's become password: a template over the playbook's vars and secrets. A
    // render error would quote the literal it came from, so it says only where.
    for h in &mut hosts {
        if let Some(pw) = &h.become_password {
            let refused = || {
                top.error(
                    "inventory",
                    format!("host {}: ansible_become_password does not render", h.name),
                )
                .hint("take it from secrets: ansible_become_password=\"{{ sudo_password }}\"; a literal password with {%, {# or an unknown {{ name }} in it cannot be read")
            };
            if pw.contains("{%") || pw.contains("{#") {
                return Err(refused());
            }
            let shown = format!("inventory: {}: ansible_become_password", h.name);
            h.become_password = Some(top.render(&shown, pw, Mode::Text).map_err(|_| refused())?);
        }
    }
    if hosts.is_empty() {
        return Err(top.error("hosts", "no hosts: `hosts:` and `inventory:` list none"));
    }
    // A host's name keys its results, its lines and its alert state: one per host, printable.
    let mut seen = std::collections::HashSet::new();
    for h in &hosts {
        if matches!(
            crate::report::printable(&h.name),
            std::borrow::Cow::Owned(_)
        ) {
            return Err(top
                .error(
                    "hosts",
                    format!("host name {:?} holds a control character", h.name),
                )
                .hint("a name is what output, alerts and --limit show: letters, digits, . - _"));
        }
        if !seen.insert(h.name.as_str()) {
            return Err(top
                .error("hosts", format!("host {} is listed twice", h.name))
                .hint("give each its own `name:` (the address and port may repeat)"));
        }
    }
    // `ssh:` gives every host without its own a user and a key.
    if let Some(ssh) = reach.ssh {
        for h in &mut hosts {
            h.user = h.user.take().or_else(|| ssh.user.clone());
            h.identity = h
                .identity
                .take()
                .or_else(|| ssh.identity.clone().map(PathBuf::from));
        }
    }
    Ok(Some(Targets { hosts, warnings }))
}

/// `tend validate`'s word on a playbook's hosts: " on 3 hosts" (its inventory's warnings on
/// stderr), or "" for a playbook run on this machine.
pub fn noted(targets: Option<&Targets>) -> String {
    match targets {
        Some(t) => {
            t.warnings.iter().for_each(|w| eprintln!("warning: {w}"));
            format!(" on {}", hosts(t.hosts.len()))
        }
        None => String::new(),
    }
}

/// `ssh:` rendered (its passphrase and become password are secrets by now), or the defaults.
pub fn ssh_spec(top: &Scope, reach: &Reach) -> Result<SshSpec, Diagnostic> {
    match reach.ssh {
        Some(s) => s.render(&top.at("ssh")),
        None => Ok(SshSpec::default()),
    }
}

/// "1 host", "20 hosts".
pub fn hosts(n: usize) -> String {
    if n == 1 {
        "1 host".into()
    } else {
        format!("{n} hosts")
    }
}

/// Enough open files for every host's connection (two descriptors each, held to the end of
/// the run), or a warning that hosts past the limit will fail to connect.
pub fn room_for(reporter: &Reporter, hosts: usize) {
    // Measured: 56 in use with 24 hosts connected.
    let wanted = 2 * hosts as u64 + 32;
    if let Err(most) = crate::sys::allow_open_files(wanted) {
        reporter.notice(
            Level::Warn,
            format!(
                "{} connected at once need about {wanted} open files and this process may have {most} (ulimit -Hn): hosts past that fail to connect; raise the hard limit (LimitNOFILE= in a unit) or take fewer hosts at a time (--limit)",
                self::hosts(hosts)
            ),
        );
    }
}

/// `f` for each of `hosts` on up to `forks` threads, with a live tally of how many are done
/// (`what 37/100`) on a terminal.
pub fn each(
    reporter: &Reporter,
    forks: usize,
    hosts: &[usize],
    what: &str,
    f: impl Fn(usize) + Sync,
) {
    let done = AtomicUsize::new(0);
    let total = hosts.len();
    reporter.tally(what, 0, total);
    parallel(forks, hosts, |i| {
        f(i);
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        reporter.tally(what, n, total);
    });
}

/// Run `f` for each of `items` on up to `forks` threads.
pub fn parallel(forks: usize, items: &[usize], f: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..forks.min(items.len()) {
            s.spawn(|| {
                while let Some(i) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
                    f(*i);
                }
            });
        }
    });
}

/// A connection and how long it took.
pub type Connected = (Result<Ssh, Unreachable>, std::time::Duration);

/// Connections opened while the controller still does its own first work (a deploy reading its
/// artifact): connecting changes nothing on a host, and it takes longer than the read.
#[derive(Default)]
pub struct Early(Mutex<HashMap<String, mpsc::Receiver<Connected>>>);

impl Early {
    pub fn start(hosts: &[&Host], spec: &SshSpec) -> Early {
        let mut waiting = HashMap::new();
        for host in hosts {
            let (tx, rx) = mpsc::channel();
            waiting.insert(host.name.clone(), rx);
            let (host, spec) = ((*host).clone(), spec.clone());
            // Not joined: a host that takes its connect timeout holds up only its own run.
            std::thread::spawn(move || {
                let started = std::time::Instant::now();
                let connected = Ssh::connect(&host, &spec);
                let _ = tx.send((connected, started.elapsed()));
            });
        }
        Early(Mutex::new(waiting))
    }

    /// The connection opened early for `host`, once it is open or has failed.
    fn take(&self, host: &str) -> Option<Connected> {
        let rx = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(host)?;
        rx.recv().ok()
    }
}

/// The host's `connect` step: its connection (opened early, or now), or why not.
pub fn connect(
    reporter: &Reporter,
    host: &Host,
    spec: &SshSpec,
    early: &Early,
) -> Result<Arc<Ssh>, Error> {
    let step = crate::engine::Step::begin(reporter, "connect");
    // Connected early: the step took what the connection took.
    let (connected, took) = match early.take(&host.name) {
        Some((c, took)) => (c, Some(took)),
        None => (Ssh::connect(host, spec), None),
    };
    let (status, message) = match &connected {
        Ok(s) => (Status::Ok, s.shown.clone()),
        Err(e) => (Status::Failed, e.to_string()),
    };
    match took {
        Some(took) => step.end_after(took, status, message),
        None => step.end(status, message),
    }
    let ssh = connected.map_err(|e| Error::Failed(format!("unreachable: {e}")))?;
    if let Some(n) = &ssh.notice {
        reporter.notice(Level::Warn, n.clone());
    }
    Ok(Arc::new(ssh))
}
