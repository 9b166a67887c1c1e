//! What a cleanup does with the files its rules select. The rules walk, select, group and
//! count the same way whether the run is real or a dry run (or a plan); only the hand that
//! acts on each file differs: `Doing` compresses, archives and deletes, `Preview` says what
//! it would do and estimates what that would free.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use super::archive::{Finished, Leftover, Unarchived};
use super::select::Candidate;
use super::spec::Action;
use crate::report::{Event, Reporter, Status};

pub(super) trait Hand: Sync {
    /// Every action is listed as it goes, `--verbose` or not: a dry run's listing is its point.
    fn lists(&self) -> bool;

    /// Not taken by an earlier rule of this run.
    fn wanted(&self, path: &Path) -> bool;

    /// A partial file an interrupted run left behind.
    fn stale(&self, out: &Out, step: &str, path: &Path, tally: &mut Tally);

    /// One file of a compress rule (called from the rule's workers).
    fn compress(&self, out: &Out, step: &str, c: Candidate, level: u32, work: &Shared);

    /// A second name for data a compress rule compressed under its `first` name.
    fn extra_link(&self, out: &Out, step: &str, c: Candidate, first: &Path, tally: &mut Tally);

    fn delete(&self, out: &Out, step: &str, files: &[Candidate], tally: &mut Tally);

    /// A source list a killed run left beside its archive: finished, or only read.
    fn finish(&self, l: Leftover) -> Result<Finished, Unarchived>;

    /// "removed" or "would remove".
    fn removes(&self) -> &'static str;

    /// Partial archives a killed run left in `dest`.
    fn clear_partials(&self, out: &Out, step: &str, dest: &Path, tally: &mut Tally);

    /// One period's files into the archive `name` in `dest`.
    fn archive(&self, out: &Out, step: &str, group: &[Candidate], into: Destination, work: &Shared);

    /// The mount's (used, available) bytes as the free-space step finds it.
    fn usage(&self, used: u64, avail: u64) -> (u64, u64);

    /// One expendable file of the free-space step: by how much it lowers the mount's use, or
    /// `None` when it could not be deleted.
    fn free(&self, out: &Out, c: &Candidate) -> Option<u64>;

    /// "deleted" or "would delete".
    fn deletes(&self) -> &'static str;

    /// A rule's step line, before what was left alone and what failed.
    fn summary(&self, action: Action, t: &Tally) -> String;
}

/// Where a period's archive goes.
pub(super) struct Destination<'a> {
    pub dest: &'a Path,
    pub name: &'a str,
    pub level: u32,
}

/// What a rule's workers share: the tally, and the bytes done for its progress line.
#[derive(Default)]
pub(super) struct Shared {
    pub tally: Mutex<Tally>,
    pub done: AtomicU64,
}

impl Shared {
    pub fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes done so far, shown as the step's progress.
    pub fn progress(&self, out: &Out, step: &str, n: u64) {
        let total = self.done.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
        out.reporter.progress(step, total);
    }
}

/// Where a hand says what it does: a line per file when the run lists them.
pub(super) struct Out<'a> {
    pub reporter: &'a Reporter,
    pub verbose: bool,
    /// `--verbose`, or a hand that always lists.
    pub listing: bool,
}

impl Out<'_> {
    pub fn line(&self, step: &str, line: String) {
        if self.listing {
            self.reporter.emit(Event::Output {
                step: step.to_string(),
                target: String::new(),
                line,
            });
        }
    }
}

#[derive(Default)]
pub(super) struct Tally {
    pub(super) files: u64,
    pub(super) before: u64,
    pub(super) after: u64,
    pub(super) skipped: Vec<(PathBuf, String)>,
    pub(super) failed: Vec<(PathBuf, String)>,
}

impl Tally {
    pub(super) fn status(&self) -> Status {
        if !self.failed.is_empty() {
            Status::Failed
        } else if !self.skipped.is_empty() {
            Status::Warning
        } else {
            Status::Ok
        }
    }
}
