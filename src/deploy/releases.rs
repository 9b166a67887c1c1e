//! The host journal, `<root>/.tend/releases.json`: every release deployed here, its state, who
//! deployed it and how to undo its migrations. The rollback target is read from it.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::machine::Machine;
use crate::playbook::Vars;

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Written before anything is stopped; still there after a run means it was killed.
    Deploying,
    Verified,
    Failed,
    RolledBack,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Deploying => "deploying",
            State::Verified => "verified",
            State::Failed => "failed",
            State::RolledBack => "rolled-back",
        }
    }
}

/// A migration as the playbook had it when the release was deployed: templates, rendered again
/// with the recorded vars for a manual rollback (so no secret is ever written here).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    pub name: Option<String>,
    pub run: String,
    pub down: Option<String>,
    pub backward_compatible: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Record {
    pub release: String,
    pub state: State,
    pub sha256: Option<String>,
    pub deployed_at: String,
    pub finished_at: Option<String>,
    /// The last time this release was verified healthy (deploy or rollback).
    pub verified_at: Option<String>,
    /// user@host
    pub by: String,
    pub run: String,
    pub playbook: String,
    pub playbook_sha256: String,
    #[serde(default)]
    pub message: String,
    /// Migrations whose `run` succeeded, in order.
    #[serde(default)]
    pub migrations: Vec<Migration>,
    #[serde(default)]
    pub vars: Vars,
    /// The release directory was removed by `keep_releases`.
    #[serde(default)]
    pub pruned: bool,
    /// Where a failed deploy of it went back to, and whether that was verified: what an
    /// incident review reads first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_to: Option<RolledBackTo>,
    /// While it deploys: how far it got, so the next run can take back a killed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RolledBackTo {
    pub release: String,
    pub verified: bool,
    pub at: String,
}

impl RolledBackTo {
    /// "rolled back to v1, verified at T" or "rollback to v1 NOT verified (T)".
    pub fn describe(&self) -> String {
        if self.verified {
            format!("rolled back to {}, verified at {}", self.release, self.at)
        } else {
            format!("rollback to {} NOT verified ({})", self.release, self.at)
        }
    }
}

/// A line of `<root>/.tend/progress`: how far the deploy of `release` by `run` had got when it
/// was written.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Line {
    pub run: String,
    pub release: String,
    pub applied: Vec<Migration>,
    pub migrating: Option<Migration>,
}

/// The last line `run` wrote, if any (a line a kill cut short is not one).
pub fn last_line(t: &dyn Machine, path: &Path, run: &str) -> Option<Line> {
    let (bytes, _) = t.read_file(path).ok()??;
    String::from_utf8_lossy(&bytes)
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .find(|l| l.run == run)
}

/// A deploy's progress as it runs, written at each point a kill would leave something to undo.
/// `Record::migrations` holds the migrations applied so far.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Progress {
    /// The release `current` pointed at when the deploy began.
    pub from: Option<String>,
    /// The release a rollback goes back to.
    pub target: Option<String>,
    /// A migration (or, during the rollback, a `down`) that was running: it may or may not
    /// have taken effect.
    pub migrating: Option<Migration>,
    /// The rollback had begun.
    #[serde(default)]
    pub rolling_back: bool,
    /// A redeploy of the live release: the migrations its verified deploy had applied. They
    /// are not this run's, and a takeback of it never runs their `down`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<Migration>,
}

#[derive(Serialize, Deserialize, Default, Debug, Clone)]
pub struct Releases {
    #[serde(default)]
    pub releases: Vec<Record>,
    /// A drill under way: where it started and where its rollback goes. A drill killed midway
    /// leaves it, and the next drill finishes that rollback and returns first; a verified
    /// deploy or a `tend rollback` decides otherwise and clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillNote>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DrillNote {
    /// The release that was live, verified, when the drill began: where it returns.
    pub from: String,
    /// The release its rollback leg goes to.
    pub to: String,
}

impl Releases {
    pub fn load(t: &dyn Machine, path: &Path) -> io::Result<Releases> {
        let Some((bytes, _)) = t.read_file(path)? else {
            return Ok(Releases::default());
        };
        // Only the object tend writes: `[]` would read as an empty journal, and the next save
        // would lose every release recorded there.
        let bad = |why: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "not a release journal tend wrote ({why}); restore it from a backup, or move it aside to start a new one"
                ),
            )
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if !value.is_object() {
            return Err(bad("not a JSON object".into()));
        }
        serde_json::from_value(value).map_err(|e| bad(e.to_string()))
    }

    /// Messages are written masked: a step's output in a record's message may carry a secret,
    /// and this file sits on every host. Nothing else is: the vars and migrations are what a
    /// rollback renders its commands from, and a var that merely contains a secret's text must
    /// not come back as `***`.
    pub fn save(&self, t: &dyn Machine, path: &Path) -> io::Result<()> {
        t.write_file(path, &self.encoded()?, 0o644)
    }

    fn encoded(&self) -> io::Result<Vec<u8>> {
        let mut doc = self.clone();
        for r in &mut doc.releases {
            r.message = crate::redact::redact(&r.message);
        }
        let mut json = serde_json::to_vec_pretty(&doc).map_err(io::Error::other)?;
        json.push(b'\n');
        Ok(json)
    }

    pub fn get(&self, release: &str) -> Option<&Record> {
        self.releases.iter().find(|r| r.release == release)
    }

    pub fn get_mut(&mut self, release: &str) -> Option<&mut Record> {
        self.releases.iter_mut().find(|r| r.release == release)
    }

    /// Save, reporting rather than failing: for a record of progress, which a deploy does not
    /// stop for (only what a kill would leave depends on it).
    pub fn save_or_warn(&self, t: &dyn Machine, path: &Path, reporter: &crate::report::Reporter) {
        if let Err(e) = self.save(t, path) {
            reporter.notice(
                crate::report::Level::Error,
                format!(
                    "cannot update {}: {}",
                    path.display(),
                    crate::sys::describe_io(&e)
                ),
            );
        }
    }

    /// A new deploy of `record.release` replaces any earlier record of the same name and goes
    /// last, so the list reads in deploy order.
    pub fn begin(&mut self, record: Record) {
        self.releases.retain(|r| r.release != record.release);
        self.releases.push(record);
    }

    /// Drop the records of pruned releases older than every release still on disk, but the
    /// newest `history` of them: the journal is read and written on every deploy, and nothing
    /// can roll back to them (a rollback target's later releases, whose migrations matter,
    /// are all after it).
    pub fn forget_old(&mut self, history: usize) {
        let old = self
            .releases
            .iter()
            .position(|r| !r.pruned)
            .unwrap_or(self.releases.len());
        self.releases.drain(..old.saturating_sub(history));
    }

    /// The release most recently verified healthy, except `but`.
    pub fn last_verified(&self, but: Option<&str>) -> Option<&Record> {
        self.releases
            .iter()
            .filter(|r| r.state == State::Verified && !r.pruned && Some(r.release.as_str()) != but)
            .max_by(|a, b| a.verified_at.cmp(&b.verified_at))
    }

    /// Releases deployed after `target` (in deploy order) that are still applied: their
    /// migrations stand between `target` and now.
    pub fn applied_after(&self, target: &str) -> Vec<&Record> {
        let pos = self.releases.iter().position(|r| r.release == target);
        self.releases
            .iter()
            .skip(pos.map_or(0, |p| p + 1))
            .filter(|r| r.state == State::Verified)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(release: &str, state: State, verified_at: Option<&str>) -> Record {
        Record {
            release: release.into(),
            state,
            sha256: None,
            deployed_at: String::new(),
            finished_at: None,
            verified_at: verified_at.map(String::from),
            by: String::new(),
            run: String::new(),
            playbook: String::new(),
            playbook_sha256: String::new(),
            message: String::new(),
            migrations: vec![],
            vars: Vars::new(),
            pruned: false,
            rolled_back_to: None,
            progress: None,
        }
    }

    #[test]
    fn the_rollback_target_is_the_release_verified_last_not_the_one_deployed_last() {
        let mut r = Releases::default();
        r.begin(rec("v1", State::Verified, Some("2026-11-01T00:00:00.000Z")));
        r.begin(rec("v2", State::Verified, Some("2026-11-02T00:00:00.000Z")));
        r.begin(rec("v3", State::Failed, None));
        assert_eq!(r.last_verified(None).unwrap().release, "v2");
        // A manual rollback to v1 verified it again, later than v2.
        r.get_mut("v1").unwrap().verified_at = Some("2026-11-03T00:00:00.000Z".into());
        assert_eq!(r.last_verified(None).unwrap().release, "v1");
        assert_eq!(r.last_verified(Some("v1")).unwrap().release, "v2");
        let after: Vec<_> = r.applied_after("v1").iter().map(|r| &r.release).collect();
        assert_eq!(after, ["v2"]);
    }

    #[test]
    fn old_pruned_records_go_but_a_few_and_none_after_a_release_still_on_disk() {
        let mut r = Releases::default();
        for i in 1..=6 {
            r.begin(rec(&format!("v{i}"), State::Verified, None));
        }
        for v in ["v1", "v2", "v3", "v5"] {
            r.get_mut(v).unwrap().pruned = true;
        }
        r.forget_old(2);
        let left: Vec<_> = r.releases.iter().map(|r| r.release.as_str()).collect();
        // v5 stays: v4 is still on disk, and v5's migrations stand between it and v6.
        assert_eq!(left, ["v2", "v3", "v4", "v5", "v6"]);
        r.forget_old(0);
        assert_eq!(r.releases[0].release, "v4");
    }
}
