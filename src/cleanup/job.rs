//! The walk of a cleanup: each rule's files selected (in parallel with the work where it pays),
//! grouped and counted, and the mount below its target freed; what is done with each file is
//! the hand's (`Doing`, or a dry run's `Preview`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};

use super::archive;
use super::hand::{Destination, Hand, Out, Shared, Tally};
use super::resolve::{Plan, Resolved, render_name};
use super::select::{self, Candidate, Found};
use super::spec::{Action, FreeSpace};
use crate::report::{Reporter, Status};

pub(super) struct Job<'a> {
    out: Out<'a>,
    reporter: &'a Reporter,
    hand: &'a dyn Hand,
    jobs: usize,
}

impl<'a> Job<'a> {
    pub(super) fn new(
        reporter: &'a Reporter,
        hand: &'a dyn Hand,
        jobs: usize,
        verbose: bool,
    ) -> Self {
        Job {
            out: Out {
                reporter,
                verbose,
                listing: verbose || hand.lists(),
            },
            reporter,
            hand,
            jobs,
        }
    }

    /// A rule's files, oldest first; unreadable entries and stale partial files are dealt
    /// with and recorded on the way.
    fn collect(&self, r: &Resolved, skip: Option<&Path>, tally: &mut Tally) -> Vec<Candidate> {
        let mut stale = vec![];
        let mut files = select::collect(&r.rule, &r.root, false, skip, &mut |f| match f {
            Found::Problem(p, why) => tally.failed.push((p, why)),
            Found::Stale(p) => stale.push(p),
            Found::File(_) => {}
        });
        for p in stale {
            self.hand.stale(&self.out, &r.label, &p, tally);
        }
        files.retain(|c| self.hand.wanted(&c.path));
        files
    }

    pub(super) fn compress(&self, r: &Resolved) -> Tally {
        let work = Shared::default();
        let step = r.label.as_str();
        let seen = Mutex::new(HashMap::<(u64, u64), PathBuf>::new());
        let extra_links: Mutex<Vec<(Candidate, PathBuf)>> = Mutex::default();
        let mut stale: Vec<PathBuf> = vec![];
        let (tx, rx) = mpsc::sync_channel::<Candidate>(512);
        let rx = Mutex::new(rx);
        std::thread::scope(|s| {
            for _ in 0..self.jobs {
                s.spawn(|| {
                    loop {
                        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match next {
                            Ok(c) => self.hand.compress(&self.out, step, c, r.rule.level, &work),
                            Err(_) => break,
                        }
                    }
                });
            }
            // Walking feeds the workers as it goes: compression starts with the first file.
            let mut send = |found: Found, tally_local: &mut Tally| match found {
                Found::File(c) => {
                    if c.nlink > 1 {
                        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(first) = seen.get(&(c.dev, c.ino)) {
                            // Another name for data already being compressed: compress it once.
                            extra_links
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push((c, first.clone()));
                            return;
                        }
                        seen.insert((c.dev, c.ino), c.path.clone());
                    }
                    if self.hand.wanted(&c.path) {
                        let _ = tx.send(c);
                    }
                }
                Found::Problem(p, why) => tally_local.failed.push((p, why)),
                // Not removed now: a worker may be writing this very name for its file already.
                // Each worker clears its own leftover; the others go once the workers are done.
                Found::Stale(p) => stale.push(p),
            };
            let mut local = Tally::default();
            if r.rule.keep_newest > 0 {
                let files =
                    select::collect(&r.rule, &r.root, false, None, &mut |f| send(f, &mut local));
                for c in files {
                    send(Found::File(c), &mut local);
                }
            } else {
                select::walk(&r.rule, &r.root, false, None, &mut |f| send(f, &mut local));
            }
            drop(tx);
            work.tally().failed.extend(local.failed);
        });
        let mut tally = work.tally.into_inner().unwrap_or_else(|e| e.into_inner());
        for p in stale {
            if std::fs::symlink_metadata(&p).is_ok() {
                self.hand.stale(&self.out, step, &p, &mut tally);
            }
        }
        // The data of an extra hard link now lives in the first name's .gz.
        for (c, first) in extra_links.into_inner().unwrap_or_default() {
            self.hand.extra_link(&self.out, step, c, &first, &mut tally);
        }
        tally
    }

    pub(super) fn delete(&self, r: &Resolved) -> Tally {
        let mut tally = Tally::default();
        let files = self.collect(r, None, &mut tally);
        self.hand.delete(&self.out, &r.label, &files, &mut tally);
        tally
    }

    pub(super) fn archive(&self, r: &Resolved, plan: &Plan) -> Tally {
        let step = r.label.as_str();
        let spec = r
            .rule
            .archive
            .as_ref()
            .expect("archive rules have archive:");
        let dest = r.dest.as_ref().expect("resolved with the rule");
        // Archives written inside the rule's own path must never be picked up by it again.
        let skip = dest.starts_with(&r.root).then_some(dest.as_path());
        let mut tally = Tally::default();
        // First what a killed run left half done, so its sources are not archived twice.
        let finished = self.finish_interrupted(dest, &r.root, &mut tally);
        let mut files = self.collect(r, skip, &mut tally);
        files.retain(|c| !finished.contains(&c.path));
        self.hand.clear_partials(&self.out, step, dest, &mut tally);
        let work = Shared {
            tally: Mutex::new(tally),
            ..Shared::default()
        };
        for (period, group) in archive::group(files, spec.group_by) {
            let name = match render_name(&plan.templater, &spec.name, &period) {
                Ok(n) => n,
                Err(e) => {
                    work.tally().failed.push((dest.clone(), e.to_string()));
                    continue;
                }
            };
            let into = Destination {
                dest,
                name: &name,
                level: spec.level.unwrap_or(r.rule.level),
            };
            self.hand.archive(&self.out, step, &group, into, &work);
        }
        work.tally.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// The archives a killed run left half done in `dest`: their sources still as archived
    /// go (or would); the paths of those sources.
    fn finish_interrupted(&self, dest: &Path, root: &Path, tally: &mut Tally) -> Vec<PathBuf> {
        let mut finished: Vec<PathBuf> = vec![];
        for f in archive::interrupted(dest, root) {
            match f.and_then(|l| self.hand.finish(l)) {
                Ok(f) if f.abandoned => {}
                Ok(f) => {
                    let bytes: u64 = f.removed.iter().map(|(_, b)| b).sum();
                    self.reporter.notice(
                        crate::report::Level::Info,
                        format!(
                            "{} {} sources already in {}, which an interrupted run wrote but did not finish",
                            self.hand.removes(),
                            f.removed.len(),
                            f.archive.display()
                        ),
                    );
                    tally.files += f.removed.len() as u64;
                    tally.before += bytes;
                    finished.extend(f.removed.into_iter().map(|(p, _)| p));
                    for p in f.kept {
                        tally
                            .skipped
                            .push((p, "changed after it was archived: kept".into()));
                    }
                }
                Err(e) => tally.failed.push((dest.to_path_buf(), e.0)),
            }
        }
        finished
    }

    /// Delete the oldest expendable files until the mount is below its target.
    pub(super) fn free_space(&self, fs: &FreeSpace, mount: &Path, rules: &[Resolved]) -> Freed {
        let Some((used, avail)) = usage(mount) else {
            return Freed::said(
                Status::Failed,
                format!("cannot read usage of {}", mount.display()),
            );
        };
        let (mut used, avail) = self.hand.usage(used, avail);
        let start = percent(used, avail);
        let target = fs.max_used_percent.0;
        if start <= target {
            return Freed::said(
                Status::Ok,
                format!("{} at {:.1}% used, below {target}%", mount.display(), start),
            );
        }
        let pool = self.expendable(mount, rules);
        let (mut n, mut freed) = (0, 0u64);
        let total = used + avail;
        for c in &pool {
            if percent(used, total - used) <= target {
                break;
            }
            let Some(lowered) = self.hand.free(&self.out, c) else {
                continue;
            };
            used = used.saturating_sub(lowered);
            n += 1;
            freed += c.allocated;
        }
        let now = percent(used, total - used);
        let msg = format!(
            "{} was {start:.1}% used (target {target}%): {} {n} expendable files ({}), now {now:.1}%",
            mount.display(),
            self.hand.deletes(),
            crate::playbook::units::Size(freed)
        );
        let (status, message) = if now > target {
            (
                Status::Failed,
                format!(
                    "{msg}; the target cannot be reached with the expendable files ({} in all)",
                    pool.len()
                ),
            )
        } else {
            (Status::Ok, msg)
        };
        Freed {
            status,
            message,
            files: n,
            bytes: freed,
        }
    }

    /// The expendable rules' files on the mount's device, oldest first.
    fn expendable(&self, mount: &Path, rules: &[Resolved]) -> Vec<Candidate> {
        let dev = std::fs::metadata(mount)
            .map(|m| std::os::unix::fs::MetadataExt::dev(&m))
            .unwrap_or(0);
        let mut pool: Vec<Candidate> = vec![];
        for r in rules.iter().filter(|r| r.rule.expendable) {
            pool.extend(
                select::collect(&r.rule, &r.root, true, r.dest.as_deref(), &mut |_| {})
                    .into_iter()
                    .filter(|c| c.dev == dev && self.hand.wanted(&c.path)),
            );
        }
        pool.sort_by_key(|c| c.mtime);
        pool
    }

    /// A rule's step line: what it did (or would do), what it left alone, what failed.
    pub(super) fn summary(&self, action: Action, t: &Tally) -> String {
        let mut s = self.hand.summary(action, t);
        if !t.skipped.is_empty() {
            s += &format!("; {} left alone", t.skipped.len());
        }
        if !t.failed.is_empty() {
            s += &format!("; {} failed", t.failed.len());
        }
        s
    }
}

/// The mount's (used, available) bytes.
fn usage(p: &Path) -> Option<(u64, u64)> {
    let s = rustix::fs::statvfs(p).ok()?;
    let used = s.f_blocks.saturating_sub(s.f_bfree) * s.f_frsize;
    Some((used, s.f_bavail * s.f_frsize))
}

fn percent(used: u64, avail: u64) -> f64 {
    if used + avail == 0 {
        0.0
    } else {
        used as f64 * 100.0 / (used + avail) as f64
    }
}

/// What the free-space step did: its status and line, and the files and bytes it freed (they
/// count in the run's total with the rules').
pub(super) struct Freed {
    pub status: Status,
    pub message: String,
    pub files: u64,
    pub bytes: u64,
}

impl Freed {
    fn said(status: Status, message: String) -> Freed {
        Freed {
            status,
            message,
            files: 0,
            bytes: 0,
        }
    }
}
