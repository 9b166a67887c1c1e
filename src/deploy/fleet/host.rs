//! One host of a fleet: its connection, its deploy and its journal, kept for the whole run.

use std::sync::{Arc, Mutex};

use super::super::on_machine;
use super::super::releases::Releases;
use super::super::resolve::{Deploy, Phases};
use crate::error::{Error, Exit};
use crate::inventory::Host;
use crate::machine::ssh::{LockRefused, Ssh, SshSpec};
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
    /// Its steps, rendered in its preflight (a deploy).
    pub phases: Option<Phases>,
    /// Its lock is this run's: cleared at the end.
    pub locked: bool,
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
            phases: None,
            locked: false,
            journal: Releases::default(),
            previous: None,
            state: HostState::Untouched,
        }
    }

    /// It could not be reached or prepared (`open` said why): reported, and nothing changed.
    pub fn unreached(&mut self, e: Error) {
        // Its failed step said why already.
        let message = e.to_string();
        self.state = HostState::Failed {
            code: Exit::FAILED,
            message: format!("{message}; nothing changed"),
            touched: false,
        };
    }

    /// Ready to be changed: its preflight passed.
    pub fn ready(&self) -> bool {
        self.d.is_some() && matches!(self.state, HostState::Untouched)
    }

    /// The end of its part, as a `close` step: its lock's holder cleared (the lock itself goes
    /// with the connection) and the connection closed.
    fn close(&mut self) {
        let Some(ssh) = self.ssh.take() else {
            return;
        };
        let step = crate::engine::Step::begin(&self.reporter, "close");
        let unlocked = match (&self.d, self.locked) {
            (Some(d), true) => Some(ssh.unlock(&d.layout.lock())),
            _ => None,
        };
        // Its deploy holds the connection too: the last reference ends the remote shell.
        self.d = None;
        self.phases = None;
        drop(ssh);
        let (status, message) = match unlocked {
            None => (Status::Ok, "disconnected".to_string()),
            Some(Ok(())) => (Status::Ok, "lock released, disconnected".to_string()),
            Some(Err(e)) => (
                Status::Warning,
                format!(
                    "disconnected; the lock went with the connection, its holder line stays: {e}"
                ),
            ),
        };
        step.end(status, message);
    }
}

/// What a fleet command has a host do in its preflight, before anything on it changes.
#[derive(Clone, Copy)]
pub struct Preflight {
    /// Take the run's lock there.
    pub lock: bool,
    /// A deploy, which creates the layout with its first change; else the layout must hold a
    /// journal.
    pub prepare: bool,
    /// Render the deploy's steps for it.
    pub render: bool,
}

pub const DEPLOYING: Preflight = Preflight {
    lock: true,
    prepare: true,
    render: true,
};
pub const CHANGING: Preflight = Preflight {
    lock: true,
    prepare: false,
    render: false,
};
pub const READING: Preflight = Preflight {
    lock: false,
    prepare: false,
    render: false,
};

pub struct Ctx<'a, 'd> {
    pub d: &'d Deploy<'a>,
    pub ssh: SshSpec,
    pub reporter: &'d Reporter,
    pub forks: usize,
    /// `name: [pid ...] on host` for the remote lock file.
    pub holder: String,
    pub early: crate::fleet::Early,
}

/// The hosts' runs once every host is done: each closed (`close`), as many at once as the steps
/// ran.
pub fn finished<'a>(ctx: &Ctx, runs: Vec<Mutex<HostRun<'a>>>) -> Vec<HostRun<'a>> {
    let open: Vec<usize> = (0..runs.len())
        .filter(|i| {
            runs[*i]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .ssh
                .is_some()
        })
        .collect();
    each(ctx, &open, "close", |i| {
        runs[i].lock().unwrap_or_else(|e| e.into_inner()).close();
    });
    runs.into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

/// Pre-flight each host of `hosts` (`open`), as many at once as `--forks`; a host that cannot
/// be opened is failed, unchanged. Every host is through it when this returns: the barrier
/// before any of them is changed waits for the slowest, not for the sum.
pub fn preflight<'a>(
    ctx: &Ctx<'a, '_>,
    runs: &[Mutex<HostRun<'a>>],
    hosts: &[usize],
    how: Preflight,
) {
    each(ctx, hosts, "preflight", |i| {
        let mut run = runs[i].lock().unwrap_or_else(|e| e.into_inner());
        if crate::interrupt::requested() {
            return;
        }
        if let Err(e) = open(ctx, &mut run, how) {
            run.unreached(e);
        }
    });
}

/// Those of `hosts` whose run `is`, in order.
pub fn those(
    runs: &[Mutex<HostRun>],
    hosts: &[usize],
    is: impl Fn(&HostRun) -> bool,
) -> Vec<usize> {
    hosts
        .iter()
        .copied()
        .filter(|i| is(&runs[*i].lock().unwrap_or_else(|e| e.into_inner())))
        .collect()
}

/// `f` for each of `hosts` on up to `--forks` threads, with a live tally (`what 37/100`).
pub fn each(ctx: &Ctx, hosts: &[usize], what: &str, f: impl Fn(usize) + Sync) {
    crate::fleet::each(ctx.reporter, ctx.forks, hosts, what, f);
}

/// Connect to the host, then its preflight as a step of its own, bounded by
/// `ssh.preflight_timeout`: its lock taken, its layout checked (created for a deploy), its
/// journal read and its steps rendered, as `how` asks. What every fleet command does first on a
/// host; on success `run` holds the connection, the deploy as it is there and the journal. The
/// error says why not.
pub fn open<'a>(ctx: &Ctx<'a, '_>, run: &mut HostRun<'a>, how: Preflight) -> Result<(), Error> {
    let ssh = crate::fleet::connect(&run.reporter, run.host, &ctx.ssh, &ctx.early)?;
    run.ssh = Some(ssh.clone());
    let reporter = run.reporter.clone();
    let step = crate::engine::Step::begin(&reporter, "preflight");
    let limit = ctx.ssh.preflight_timeout.map_or(PREFLIGHT_TIMEOUT, |d| d.0);
    ssh.set_deadline(Some((
        std::time::Instant::now() + limit,
        format!(
            "the preflight's {} (ssh.preflight_timeout)",
            humantime::format_duration(limit)
        ),
    )));
    let ready = make_ready(ctx, run, &ssh, how);
    ssh.set_deadline(None);
    ssh.idle();
    match &ready {
        Ok(told) => step.end(Status::Ok, told.clone()),
        Err(e) => step.end(Status::Failed, e.to_string()),
    }
    ready.map(drop)
}

/// How long a host's preflight may take unless `ssh.preflight_timeout` says: its few requests
/// take milliseconds, seconds on a host that is busy.
const PREFLIGHT_TIMEOUT: std::time::Duration = crate::fleet::remote::PREFLIGHT_TIMEOUT;

/// The preflight itself, on a connected host: what it found, for the step's line.
fn make_ready<'a>(
    ctx: &Ctx<'a, '_>,
    run: &mut HostRun<'a>,
    ssh: &Arc<Ssh>,
    how: Preflight,
) -> Result<String, Error> {
    let d = ctx
        .d
        .on_host(run.host, ssh.clone())
        .map_err(|diag| Error::Failed(diag.message))?;
    d.layout.check_real().map_err(on_machine::refused)?;
    on_machine::usable(&d)?;
    let mut told = vec![];
    if how.lock {
        match ssh.lock(&d.layout.lock(), &ctx.holder) {
            Ok(None) => {}
            Ok(Some(previous)) => run.reporter.notice(
                Level::Warn,
                format!("took over the lock of a run that died without releasing it: {previous}"),
            ),
            Err(LockRefused::Held(holder)) => {
                return Err(Error::Failed(format!(
                    "another run holds the lock of {}: {}",
                    d.layout.root.display(),
                    holder.unwrap_or_else(|| "holder unknown".into())
                )));
            }
            Err(LockRefused::Unanswered(e)) => {
                return Err(Error::Failed(format!(
                    "cannot take the lock of {}: {}",
                    d.layout.root.display(),
                    crate::sys::describe_io(&e)
                )));
            }
        }
        run.locked = true;
        told.push("locked".to_string());
    }
    // Held from here: the end of the run clears the lock's holder line even if this fails.
    let d: &Deploy<'a> = run.d.insert(d);
    // A deploy creates its layout with its first change, not here: a batch stopped after its
    // preflight leaves no new directory behind.
    if !how.prepare {
        on_machine::check(d, false)?;
    }
    run.journal = on_machine::journal(d)?;
    told.push(match run.journal.releases.len() {
        1 => "1 release in its journal".to_string(),
        n => format!("{n} releases in its journal"),
    });
    if how.render {
        let phases = d
            .phases(&d.release, None)
            .map_err(|diag| Error::Failed(diag.message))?;
        run.phases = Some(phases);
    }
    Ok(told.join(", "))
}

/// One line per host for the summary.
pub fn describe(run: &HostRun, release: &str) -> (Level, String) {
    match &run.state {
        HostState::Untouched if run.locked => (
            Level::Info,
            "untouched: its batch stopped after the preflight, before any change".into(),
        ),
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
