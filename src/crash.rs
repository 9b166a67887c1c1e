//! A test hook for the crash matrices: `TEND_TEST_CRASH_AT=POINT[#N]` makes tend kill itself
//! with SIGKILL, exactly as `kill -9` would, the Nth time (the first by default) it passes a
//! point whose name starts with POINT. Points sit where a crash leaves something for the next
//! run to finish: between writing a compressed copy and removing the original, after a fence,
//! during a step. Tests stop a run at an exact place this way, with no sleeps; unset, a point
//! costs one comparison.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static SPEC: OnceLock<Option<(String, u64)>> = OnceLock::new();
static SEEN: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The step this thread is running, for `during`.
    static STEP: RefCell<String> = const { RefCell::new(String::new()) };
}

fn spec() -> Option<&'static (String, u64)> {
    SPEC.get_or_init(|| {
        let v = std::env::var("TEND_TEST_CRASH_AT").ok()?;
        Some(match v.rsplit_once('#') {
            Some((p, n)) => (p.to_string(), n.parse().unwrap_or(1)),
            None => (v, 1),
        })
    })
    .as_ref()
}

/// Whether any point is set: callers skip building a point's name otherwise.
pub fn armed() -> bool {
    spec().is_some()
}

pub fn point(name: &str) {
    let Some((prefix, n)) = spec() else { return };
    if name.starts_with(prefix.as_str()) && SEEN.fetch_add(1, Ordering::SeqCst) + 1 == *n {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
        // The signal is delivered before kill(2) returns to us; never go on past a crash point.
        std::process::abort();
    }
}

/// The step this thread runs from now on (its commands' `during:STEP` point).
pub fn set_step(step: &str) {
    if armed() {
        STEP.with(|s| step.clone_into(&mut s.borrow_mut()));
    }
}

/// A step's command has started: `during:STEP`.
pub fn during() {
    if armed() {
        let name = STEP.with(|s| format!("during:{}", s.borrow()));
        point(&name);
    }
}
