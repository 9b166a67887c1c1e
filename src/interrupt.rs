//! SIGINT, SIGTERM and SIGHUP. By default they end tend as they would any program, but first
//! its running steps (`crate::procs`), which sit in process groups of their own and so would
//! not get a terminal's Ctrl-C. A job that can undo its work (a deploy, a failover) calls
//! `install`, and a signal then starts the rollback instead: a deploy cut off between `stop`
//! and `start` would leave the app down with nobody told.

use std::sync::atomic::{AtomicBool, Ordering};

use rustix::process::Signal;

static REQUESTED: AtomicBool = AtomicBool::new(false);
/// The job undoes its work on a signal rather than dying.
static UNDOES: AtomicBool = AtomicBool::new(false);
/// Set while the rollback runs: its steps must finish, whatever arrives.
static SHIELDED: AtomicBool = AtomicBool::new(false);
/// Set while a drill returns to where it started: a signal is noted, and asks nothing.
static HELD: AtomicBool = AtomicBool::new(false);
static LATE: AtomicBool = AtomicBool::new(false);

/// Catch SIGINT, SIGTERM and SIGHUP for the whole run; called once, first thing.
pub fn setup() {
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        if ignored(sig) {
            // `nohup tend ...`: a hang-up stays ignored, as the operator asked.
            continue;
        }
        // SAFETY: the handler only touches atomics and calls kill(2) and raise(2), which are
        // async-signal-safe.
        let registered = unsafe {
            signal_hook::low_level::register(sig, move || {
                if HELD.load(Ordering::SeqCst) {
                    LATE.store(true, Ordering::SeqCst);
                    return;
                }
                if UNDOES.load(Ordering::SeqCst) {
                    REQUESTED.store(true, Ordering::SeqCst);
                    return;
                }
                crate::procs::signal_all(Signal::TERM);
                let _ = signal_hook::low_level::emulate_default_handler(sig);
            })
        };
        if let Err(e) = registered {
            eprintln!("tend: warning: cannot catch signal {sig}: {e}");
        }
    }
}

/// Whether `sig` was ignored when tend started (nohup does that to SIGHUP).
fn ignored(sig: i32) -> bool {
    // SAFETY: a null new action only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// From now on a signal asks the job to stop and undo its work instead of ending tend.
pub fn install() {
    UNDOES.store(true, Ordering::SeqCst);
}

/// A signal arrived since `install`.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Whether a running step should be stopped now: a signal arrived and no rollback is running.
pub fn armed() -> bool {
    requested() && !SHIELDED.load(Ordering::SeqCst)
}

/// From here on, steps run to completion even if a signal arrives.
pub fn shield() {
    SHIELDED.store(true, Ordering::SeqCst);
}

/// A rollback that ran before the job proper (an interrupted deploy taken back) is over: a
/// signal stops the job's steps again.
pub fn unshield() {
    if !requested() {
        SHIELDED.store(false, Ordering::SeqCst);
    }
}

/// From here on a signal is only noted (`late`): the job is on its way back to where it
/// started (a drill's return leg, which a deploy's own takeback would undo). Whether a signal
/// had asked to stop before.
pub fn hold() -> bool {
    // No shield needed: with the request cleared and held from now on, nothing is armed.
    HELD.store(true, Ordering::SeqCst);
    REQUESTED.swap(false, Ordering::SeqCst)
}

/// A signal arrived while `hold` was in force.
pub fn late() -> bool {
    LATE.load(Ordering::SeqCst)
}
