//! A dry run's (and a plan's) hand: each action said as "would ...", with what it would free
//! estimated by compressing samples. Nothing is written, removed or locked.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::archive::{self, Finished, Leftover, Unarchived};
use super::compress;
use super::hand::{Destination, Hand, Out, Shared, Tally};
use super::select::Candidate;
use super::spec::Action;
use crate::playbook::units::Size;

#[derive(Default)]
pub(super) struct Preview {
    /// Files an earlier rule would already have taken: a later rule, and the free-space step,
    /// do not count them again (the real run would not find them).
    claimed: Mutex<HashSet<PathBuf>>,
    /// What the rules would have freed: the free-space step starts from there.
    would_free: AtomicU64,
}

impl Preview {
    fn claim(&self, path: &Path, frees: u64) {
        self.claimed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_path_buf());
        self.would_free.fetch_add(frees, Ordering::Relaxed);
    }
}

/// Why a file the real run could not read either fails the dry run too.
fn unreadable(e: &std::io::Error) -> String {
    format!("cannot be read: {}", crate::sys::describe_io(e))
}

impl Hand for Preview {
    fn lists(&self) -> bool {
        true
    }

    fn wanted(&self, path: &Path) -> bool {
        !self
            .claimed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(path)
    }

    fn stale(&self, out: &Out, step: &str, path: &Path, _: &mut Tally) {
        out.line(step, format!("would remove stale {}", path.display()));
    }

    fn compress(&self, out: &Out, step: &str, c: Candidate, level: u32, work: &Shared) {
        let estimate = compress::estimate(&c, level);
        let mut t = work.tally();
        match estimate {
            Ok(after) => {
                t.files += 1;
                t.before += c.allocated;
                t.after += after.min(c.allocated);
                drop(t);
                self.claim(&c.path, c.allocated.saturating_sub(after));
                out.line(
                    step,
                    format!(
                        "would compress {} ({} → about {})",
                        c.path.display(),
                        Size(c.allocated),
                        Size(after)
                    ),
                );
            }
            // Gone since it was listed (another run took it): nothing to do.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => t.failed.push((c.path, unreadable(&e))),
        }
    }

    fn extra_link(&self, out: &Out, step: &str, c: Candidate, first: &Path, _: &mut Tally) {
        out.line(
            step,
            format!(
                "would remove {} (a hard link to {})",
                c.path.display(),
                first.display()
            ),
        );
    }

    fn delete(&self, out: &Out, step: &str, files: &[Candidate], tally: &mut Tally) {
        for c in files {
            out.line(
                step,
                format!("would delete {} ({})", c.path.display(), Size(c.allocated)),
            );
            self.claim(&c.path, c.allocated);
        }
        tally.files = files.len() as u64;
        tally.before = files.iter().map(|c| c.allocated).sum();
    }

    fn finish(&self, l: Leftover) -> Result<Finished, Unarchived> {
        Ok(l.found)
    }

    fn removes(&self) -> &'static str {
        "would remove"
    }

    fn clear_partials(&self, _: &Out, _: &str, _: &Path, _: &mut Tally) {}

    fn archive(
        &self,
        out: &Out,
        step: &str,
        group: &[Candidate],
        into: Destination,
        work: &Shared,
    ) {
        let bytes: u64 = group.iter().map(|c| c.allocated).sum();
        let (mut readable, mut after) = (0, 0);
        for c in group {
            match compress::estimate(c, into.level) {
                Ok(a) => {
                    readable += 1;
                    after += a;
                    // Archived, the file goes: all of it is freed here.
                    self.claim(&c.path, c.allocated);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => work.tally().failed.push((c.path.clone(), unreadable(&e))),
            }
        }
        out.line(
            step,
            format!(
                "would archive {} files ({} → about {}) into {}",
                group.len(),
                Size(bytes),
                Size(after),
                archive::free_name(into.dest, into.name).display()
            ),
        );
        let mut tally = work.tally();
        tally.files += readable;
        tally.before += bytes;
        tally.after += after.min(bytes);
    }

    fn usage(&self, used: u64, avail: u64) -> (u64, u64) {
        // As the real run would find the mount: after the rules before this step.
        let freed = self.would_free.load(Ordering::Relaxed).min(used);
        (used - freed, avail + freed)
    }

    fn free(&self, out: &Out, c: &Candidate) -> Option<u64> {
        out.line(
            "free space",
            format!("would delete {} ({})", c.path.display(), Size(c.allocated)),
        );
        Some(c.allocated)
    }

    fn deletes(&self) -> &'static str {
        "would delete"
    }

    fn summary(&self, action: Action, t: &Tally) -> String {
        let n = t.files;
        match action {
            Action::Compress => format!(
                "would compress {n} files, {} → about {}",
                Size(t.before),
                Size(t.after)
            ),
            Action::Archive => format!(
                "would archive {n} files, {} → about {}",
                Size(t.before),
                Size(t.after)
            ),
            Action::Delete => format!("would delete {n} files, reclaiming {}", Size(t.before)),
        }
    }
}
