//! What a failover remembers between runs: since when the active has been down, the steps of a
//! sequence already done (a run killed midway resumes, never fencing or promoting twice), the
//! last failover (hold-down), what tend wrote to the resolv file (drift), recent transitions.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

const TRANSITIONS_KEPT: usize = 50;

#[derive(Serialize, Deserialize, Default, Debug, Clone)]
pub struct State {
    /// The active server (by name) has failed `fall` rounds in a row since then.
    pub down_since: Option<Down>,
    pub sequence: Option<Sequence>,
    pub last_failover: Option<Failover>,
    /// Nameservers tend wrote, to notice another manager rewriting the file.
    pub resolv_written: Option<Written>,
    /// The drifted nameserver list last alerted about, so cron does not alert every minute.
    pub drift_alerted: Option<Vec<String>>,
    /// The last alert's reason and subject: the same condition is alerted once.
    pub last_alert: Option<String>,
    #[serde(default)]
    pub transitions: Vec<Transition>,
    /// A drill under way: a drill killed midway leaves it, and the next drill returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillNote>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct DrillNote {
    /// The server that was active when the drill began: where it returns.
    pub from: String,
    pub started: String,
    /// The last real failover before the drill: hold-down counts from it, not from the drill's.
    pub last_failover: Option<Failover>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Down {
    pub server: String,
    pub at: String,
    /// Milliseconds since the epoch, for the grace arithmetic.
    pub epoch_ms: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Sequence {
    pub from: String,
    pub to: String,
    pub started: String,
    /// The fence command was started: a run killed during it never runs it again.
    #[serde(default)]
    pub fence_started: bool,
    pub fenced: bool,
    pub fence_ok: Option<bool>,
    pub forced: bool,
    /// The promotion was started: a run killed during it checks whether it took effect
    /// before promoting again.
    #[serde(default)]
    pub promote_started: bool,
    pub promoted: bool,
    /// A drill's: its failover holds no real one down.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drill: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Failover {
    pub from: String,
    pub to: String,
    pub at: String,
    pub epoch_ms: u64,
    pub forced: bool,
    /// A drill's: it holds no real failover down.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drill: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Written {
    pub path: String,
    pub nameservers: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Transition {
    pub at: String,
    pub what: String,
}

impl State {
    pub fn load(path: &Path) -> io::Result<State> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is not a failover state file: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e),
        }
    }

    pub fn save(&self, path: &Path) -> io::Result<()> {
        crate::fsutil::ensure_dir(&crate::fsutil::parent(path))?;
        // The notes are masked; names and addresses are what the next run matches on.
        let mut doc = self.clone();
        for t in &mut doc.transitions {
            t.what = crate::redact::redact(&t.what);
        }
        doc.last_alert = doc.last_alert.map(|a| crate::redact::redact(&a));
        let json = serde_json::to_vec_pretty(&doc).map_err(io::Error::other)?;
        crate::fsutil::atomic_write(path, &json, 0o600)
    }

    pub fn note(&mut self, what: impl Into<String>) {
        self.transitions.push(Transition {
            at: crate::report::now_rfc3339(),
            what: what.into(),
        });
        let extra = self.transitions.len().saturating_sub(TRANSITIONS_KEPT);
        self.transitions.drain(..extra);
    }
}

pub fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
