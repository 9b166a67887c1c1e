//! Facts about the machine a playbook runs on (a log directory that must exist, a mount): an
//! error when it runs, but only a warning from `tend validate`, which CI runs on a machine the
//! playbook is not meant for (`--strict-host` makes them errors there too).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Diagnostic;

static LENIENT: AtomicBool = AtomicBool::new(false);
static NOTED: Mutex<Vec<String>> = Mutex::new(vec![]);
static STAND_INS: Mutex<Vec<(String, String)>> = Mutex::new(vec![]);

/// From now on, facts about this machine are noted instead of refused.
pub fn lenient() {
    LENIENT.store(true, Ordering::SeqCst);
}

/// `d` is about this machine, not the playbook: an error, unless noted as a warning.
pub fn host_fact(d: Diagnostic) -> Result<(), Diagnostic> {
    if !LENIENT.load(Ordering::SeqCst) {
        return Err(d);
    }
    let at = d.location().map_or_else(String::new, |l| format!("{l}: "));
    NOTED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(format!(
            "{at}{} (on this machine; checked again when it runs, --strict-host makes it an error)",
            d.message
        ));
    Ok(())
}

/// The facts noted since the last call.
pub fn take() -> Vec<String> {
    std::mem::take(&mut *NOTED.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The variables `tend validate` gives a stand-in, each with its value (`env.X` for an
/// environment variable unset here): no one defined them, so no other undefined name is a
/// typo of one of them, and the machine the playbook is for sets the environment ones.
pub fn stand_ins(vars: Vec<(String, String)>) {
    *STAND_INS.lock().unwrap_or_else(|e| e.into_inner()) = vars;
}

pub fn is_stand_in(name: &str) -> bool {
    STAND_INS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|(n, _)| n == name)
}

/// The stand-in of environment variable `name`, if it has one.
pub fn env_stand_in(name: &str) -> Option<String> {
    STAND_INS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(n, _)| n.strip_prefix("env.") == Some(name))
        .map(|(_, v)| v.clone())
}
