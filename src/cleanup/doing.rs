//! The real run's hand: compress, archive and delete, each change durable before the original
//! goes.

use std::path::Path;

use super::archive::{self, Finished, Leftover, Unarchived};
use super::beneath::Dir;
use super::compress::{self, Compressed};
use super::delete;
use super::hand::{Destination, Hand, Out, Shared, Tally};
use super::select::{self, Candidate};
use super::spec::Action;
use crate::playbook::units::Size;
use crate::report::Level;

pub(super) struct Doing;

impl Hand for Doing {
    fn lists(&self) -> bool {
        false
    }

    fn wanted(&self, _: &Path) -> bool {
        true
    }

    fn stale(&self, out: &Out, _: &str, path: &Path, tally: &mut Tally) {
        match std::fs::remove_file(path) {
            Ok(()) => out.reporter.notice(
                Level::Info,
                format!("removed {} left by an interrupted run", path.display()),
            ),
            Err(e) => tally.failed.push((
                path.to_path_buf(),
                format!("stale partial file: {}", crate::sys::describe_io(&e)),
            )),
        }
    }

    fn compress(&self, out: &Out, step: &str, c: Candidate, level: u32, work: &Shared) {
        let progress = |n: u64| work.progress(out, step, n);
        let leftover = |p: &Path| {
            out.reporter.notice(
                Level::Info,
                format!("removed {} left by an interrupted run", p.display()),
            )
        };
        let result = compress::compress(&c, level, &progress, &leftover);
        let mut t = work.tally();
        match result {
            Compressed::Done { before, after } => {
                t.files += 1;
                t.before += before;
                t.after += after;
                drop(t);
                out.line(
                    step,
                    format!(
                        "compressed {} ({} → {})",
                        c.path.display(),
                        Size(before),
                        Size(after)
                    ),
                );
            }
            Compressed::Skipped(why) => t.skipped.push((c.path, why)),
            Compressed::Failed(why) => t.failed.push((c.path, why)),
        }
    }

    fn extra_link(&self, out: &Out, step: &str, c: Candidate, first: &Path, tally: &mut Tally) {
        let mut gz = first.as_os_str().to_os_string();
        gz.push(".gz");
        if !Path::new(&gz).exists() || first.exists() {
            let why = format!(
                "a hard link to {}, which was not compressed",
                first.display()
            );
            return tally.skipped.push((c.path, why));
        }
        match Dir::of(&c).and_then(|dir| delete::unlink(&dir, &c)) {
            Ok(true) => out.line(
                step,
                format!(
                    "removed {}: a hard link to {}, compressed once",
                    c.path.display(),
                    first.display()
                ),
            ),
            Ok(false) => tally
                .skipped
                .push((c.path, "changed since it was selected: left alone".into())),
            Err(e) => tally.failed.push((c.path, crate::sys::describe_io(&e))),
        }
    }

    fn delete(&self, out: &Out, step: &str, files: &[Candidate], tally: &mut Tally) {
        let done = delete::delete(files, &mut |c| {
            if out.verbose {
                out.line(step, format!("deleted {}", c.path.display()));
            }
        });
        tally.files = done.count;
        tally.before = done.freed;
        tally.failed.extend(done.problems);
        tally.skipped.extend(done.kept);
    }

    fn finish(&self, l: Leftover) -> Result<Finished, Unarchived> {
        archive::finish(l)
    }

    fn removes(&self) -> &'static str {
        "removed"
    }

    fn clear_partials(&self, out: &Out, step: &str, dest: &Path, tally: &mut Tally) {
        let Ok(entries) = std::fs::read_dir(dest) else {
            return;
        };
        for e in entries.flatten() {
            if select::is_partial(&e.file_name().to_string_lossy()) {
                self.stale(out, step, &e.path(), tally);
            }
        }
    }

    fn archive(
        &self,
        out: &Out,
        step: &str,
        group: &[Candidate],
        into: Destination,
        work: &Shared,
    ) {
        let progress = |n: u64| work.progress(out, step, n);
        let made = archive::archive(group, into.dest, into.name, into.level, &progress);
        let mut tally = work.tally();
        match made {
            Ok(a) => {
                out.line(
                    step,
                    format!(
                        "archived {} files into {} ({} → {})",
                        a.files,
                        a.path.display(),
                        Size(a.before),
                        Size(a.after)
                    ),
                );
                tally.files += (a.files - a.kept.len()) as u64;
                tally.before += a.before;
                tally.after += a.after;
                tally.skipped.extend(a.kept);
                if let Some(why) = a.leftover {
                    out.reporter.notice(Level::Warn, why);
                }
            }
            Err(e) => tally.failed.push((into.dest.join(into.name), e.0)),
        }
    }

    fn usage(&self, used: u64, avail: u64) -> (u64, u64) {
        (used, avail)
    }

    fn free(&self, out: &Out, c: &Candidate) -> Option<u64> {
        let removed = Dir::of(c).and_then(|dir| delete::unlink(&dir, c));
        let why = match removed {
            Ok(true) => {
                out.line(
                    "free space",
                    format!("deleted {} ({})", c.path.display(), Size(c.allocated)),
                );
                // Counted, not re-read: ext4 returns freed blocks to statfs only when its
                // journal commits, which would make this delete more than needed.
                return Some(if c.nlink <= 1 { c.allocated } else { 0 });
            }
            Ok(false) => "changed since it was selected: left alone".to_string(),
            Err(e) => crate::sys::describe_io(&e),
        };
        out.reporter.notice(
            Level::Warn,
            format!("cannot delete {}: {why}", c.path.display()),
        );
        None
    }

    fn deletes(&self) -> &'static str {
        "deleted"
    }

    fn summary(&self, action: Action, t: &Tally) -> String {
        let n = t.files;
        match action {
            Action::Compress => format!(
                "compressed {n} files, {} → {}",
                Size(t.before),
                Size(t.after)
            ),
            Action::Archive => {
                format!("archived {n} files, {} → {}", Size(t.before), Size(t.after))
            }
            Action::Delete => format!("deleted {n} files, reclaimed {}", Size(t.before)),
        }
    }
}
