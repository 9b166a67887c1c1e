//! One host of a fleet: its connection, its deploy and its journal, kept for the whole run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use super::super::on_machine;
use super::super::releases::Releases;
use super::super::resolve::Deploy;
use crate::error::{Error, Exit};
use crate::inventory::Host;
use crate::machine::ssh::{Ssh, SshSpec};
use crate::report::{Level, Reporter, Status};

/// Where a host stands.
#[derive(Clone, Debug)]
pub enum HostState {
    /// Its batch never started.
    Untouched,
    /// Verified on the new release.
    Deployed,
    /// Its deploy failed: `code` 1 when it changed nothing or rolled itself back verified, 2 when
    /// its rollback was not verified.
    /// `touched`: it got as far as stopping the app (and rolled back), so it was changed.
    Failed {
        code: Exit,
        message: String,
        touched: bool,
    },
    /// It was on the new release and the fleet rollback took it back (`code` 0 verified).
    RolledBack { code: Exit, message: String },
}

/// One host's part of the run: its connection, its deploy and its journal, kept from its batch
/// to the fleet rollback.
pub struct HostRun<'a> {
    pub host: &'a Host,
    pub reporter: Reporter,
    pub ssh: Option<Arc<Ssh>>,
    pub d: Option<Deploy<'a>>,
    pub journal: Releases,
    /// Its last verified release before this run: where a fleet rollback takes it.
    pub previous: Option<String>,
    pub state: HostState,
}

impl<'a> HostRun<'a> {
    pub fn new(host: &'a Host, reporter: &Reporter) -> HostRun<'a> {
        HostRun {
            host,
            reporter: reporter.for_host(&host.name),
            ssh: None,
            d: None,
            journal: Releases::default(),
            previous: None,
            state: HostState::Untouched,
        }
    }

    /// It could not be reached or prepared (`open` said why): reported, and nothing changed.
    pub fn unreached(&mut self, e: Error) {
        let message = e.to_string();
        self.reporter.notice(Level::Error, message.clone());
        self.state = HostState::Failed {
            code: Exit::FAILED,
            message: format!("{message}; nothing changed"),
            touched: false,
        };
    }

    /// Clear its lock's holder at the end (the lock itself goes with the connection).
    pub fn release(&self) {
        if let (Some(ssh), Some(d)) = (&self.ssh, &self.d) {
            ssh.unlock(&d.layout.lock());
        }
    }
}

pub struct Ctx<'a, 'd> {
    pub d: &'d Deploy<'a>,
    pub ssh: SshSpec,
    pub reporter: &'d Reporter,
    pub forks: usize,
    /// `name: [pid ...] on host` for the remote lock file.
    pub holder: String,
    pub early: Early,
}

/// A connection and how long it took.
type Connected = (
    Result<Ssh, crate::machine::ssh::Unreachable>,
    std::time::Duration,
);

/// Connections opened while the controller still reads the artifact (the first hosts a deploy
/// will reach): connecting changes nothing on a host, and it takes longer than the read.
#[derive(Default)]
pub struct Early(Mutex<HashMap<String, mpsc::Receiver<Connected>>>);

impl Early {
    pub fn start(hosts: &[&Host], spec: &SshSpec) -> Early {
        let mut waiting = HashMap::new();
        for host in hosts {
            let (tx, rx) = mpsc::channel();
            waiting.insert(host.name.clone(), rx);
            let (host, spec) = ((*host).clone(), spec.clone());
            // Not joined: a host that takes its connect timeout holds up only its own deploy.
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

/// The hosts' runs once every host is done, each host's lock holder cleared.
pub fn finished(runs: Vec<Mutex<HostRun>>) -> Vec<HostRun> {
    let runs: Vec<HostRun> = runs
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect();
    for run in &runs {
        run.release();
    }
    runs
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

/// Connect to the host, take its lock (when `lock`), create the layout (when `prepare`) and read
/// its journal: what every fleet command does first on a host. The error says why not.
pub fn open<'a>(
    ctx: &Ctx<'a, '_>,
    run: &mut HostRun<'a>,
    lock: bool,
    prepare: bool,
) -> Result<(Deploy<'a>, Arc<Ssh>), Error> {
    let step = crate::engine::Step::begin(&run.reporter, "connect");
    // Connected early (while the artifact was read): the step took what the connection took.
    let (connected, took) = match ctx.early.take(&run.host.name) {
        Some((c, took)) => (c, Some(took)),
        None => (Ssh::connect(run.host, &ctx.ssh), None),
    };
    let message = match &connected {
        Ok(s) => s.shown.clone(),
        Err(e) => e.to_string(),
    };
    let status = if connected.is_ok() {
        Status::Ok
    } else {
        Status::Failed
    };
    match took {
        Some(took) => step.end_after(took, status, message),
        None => step.end(status, message),
    }
    let ssh = Arc::new(connected.map_err(|e| Error::Failed(format!("unreachable: {e}")))?);
    if let Some(n) = &ssh.notice {
        run.reporter.notice(Level::Warn, n.clone());
    }
    run.ssh = Some(ssh.clone());
    let d = ctx
        .d
        .on_host(run.host, ssh.clone())
        .map_err(|diag| Error::Failed(diag.message))?;
    d.layout.check_real().map_err(on_machine::refused)?;
    on_machine::usable(&d)?;
    if lock {
        match ssh.lock(&d.layout.lock(), &ctx.holder) {
            Ok(None) => {}
            Ok(Some(previous)) => run.reporter.notice(
                Level::Warn,
                format!("took over the lock of a run that died without releasing it: {previous}"),
            ),
            Err(holder) => {
                return Err(Error::Failed(format!(
                    "another run holds the lock of {}: {}",
                    d.layout.root.display(),
                    holder.unwrap_or_else(|| "holder unknown".into())
                )));
            }
        }
    }
    on_machine::check(&d, prepare)?;
    run.journal = on_machine::journal(&d)?;
    Ok((d, ssh))
}

/// One line per host for the summary.
pub fn describe(run: &HostRun, release: &str) -> (Level, String) {
    match &run.state {
        HostState::Untouched => (Level::Info, "untouched: its batch never started".into()),
        HostState::Deployed => (Level::Info, format!("on {release}, verified")),
        HostState::Failed { code, message, .. } if *code == Exit::NOT_VERIFIED => {
            (Level::Error, format!("NOT VERIFIED: {message}"))
        }
        HostState::Failed { message, .. } => (Level::Warn, format!("failed: {message}")),
        HostState::RolledBack { code, .. } if *code == Exit::OK => (
            Level::Warn,
            format!(
                "rolled back to {}, verified",
                run.previous.as_deref().unwrap_or("?")
            ),
        ),
        HostState::RolledBack { code, message } if *code != Exit::NOT_VERIFIED => {
            (Level::Warn, format!("not rolled back: {message}"))
        }
        HostState::RolledBack { message, .. } => {
            (Level::Error, format!("ROLLBACK NOT VERIFIED: {message}"))
        }
    }
}
