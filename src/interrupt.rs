//! SIGINT and SIGTERM during a deploy start the rollback instead of killing tend: a deploy cut
//! off between `stop` and `start` would leave the app down with nobody told.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();
/// Set while the rollback runs: its steps must finish, whatever arrives.
static SHIELDED: AtomicBool = AtomicBool::new(false);

/// Catch SIGINT and SIGTERM from now on. Only jobs that can undo their work call this.
pub fn install() {
    let flag = REQUESTED.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(flag)) {
            eprintln!("tend: warning: cannot catch signal {sig}: {e}");
        }
    }
}

/// A signal arrived since `install`.
pub fn requested() -> bool {
    REQUESTED.get().is_some_and(|f| f.load(Ordering::SeqCst))
}

/// Whether a running step should be stopped now: a signal arrived and no rollback is running.
pub fn armed() -> bool {
    requested() && !SHIELDED.load(Ordering::SeqCst)
}

/// From here on, steps run to completion even if a signal arrives.
pub fn shield() {
    SHIELDED.store(true, Ordering::SeqCst);
}
