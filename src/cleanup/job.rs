//! The work of a cleanup: each rule's compress, delete or archive over its files (in parallel
//! where it pays), and freeing a mount below its target; for real or as a dry run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};

use super::compress::{self, Compressed};
use super::resolve::{Plan, Resolved, render_name};
use super::select::{self, Candidate, Found};
use super::spec::{Action, FreeSpace};
use super::{archive, delete};
use crate::playbook::units::Size;
use crate::report::{Event, Level, Reporter, Status};

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

pub(super) struct Job<'a> {
    reporter: &'a Reporter,
    dry_run: bool,
    jobs: usize,
    verbose: bool,
    /// A dry run's files that an earlier rule would already have taken: a later rule, and
    /// the free-space step, do not count them again (the real run would not find them).
    claimed: Mutex<std::collections::HashSet<PathBuf>>,
    /// What the dry run's rules would have freed: the free-space step starts from there.
    would_free: AtomicU64,
}

impl<'a> Job<'a> {
    pub(super) fn new(reporter: &'a Reporter, dry_run: bool, jobs: usize, verbose: bool) -> Self {
        Job {
            reporter,
            dry_run,
            jobs,
            verbose,
            claimed: Mutex::default(),
            would_free: AtomicU64::new(0),
        }
    }

    pub(super) fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Not taken by an earlier rule of this dry run.
    fn unclaimed(&self, path: &Path) -> bool {
        !self.dry_run
            || !self
                .claimed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(path)
    }

    /// A dry run's rule would take this file.
    fn claim(&self, path: &Path, frees: u64) {
        if self.dry_run {
            self.claimed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(path.to_path_buf());
            self.would_free.fetch_add(frees, Ordering::Relaxed);
        }
    }

    fn line(&self, step: &str, line: String) {
        if self.verbose || self.dry_run {
            self.reporter.emit(Event::Output {
                step: step.to_string(),
                target: String::new(),
                line,
            });
        }
    }

    fn remove_stale(&self, step: &str, path: &Path, tally: &mut Tally) {
        if self.dry_run {
            self.line(step, format!("would remove stale {}", path.display()));
            return;
        }
        match std::fs::remove_file(path) {
            Ok(()) => self.reporter.notice(
                Level::Info,
                format!("removed {} left by an interrupted run", path.display()),
            ),
            Err(e) => tally.failed.push((
                path.to_path_buf(),
                format!("stale partial file: {}", crate::sys::describe_io(&e)),
            )),
        }
    }

    /// A rule's files, oldest first; unreadable entries and stale partial files are dealt
    /// with and recorded on the way.
    fn collect(&self, r: &Resolved, skip: Option<&Path>, tally: &mut Tally) -> Vec<Candidate> {
        let mut files = select::collect(&r.rule, &r.root, false, skip, &mut |f| match f {
            Found::Problem(p, why) => tally.failed.push((p, why)),
            Found::Stale(p) => self.remove_stale(&r.label, &p, tally),
            Found::File(_) => {}
        });
        files.retain(|c| self.unclaimed(&c.path));
        files
    }

    pub(super) fn compress(&self, r: &Resolved) -> Tally {
        let tally = Mutex::new(Tally::default());
        let done = AtomicU64::new(0);
        let step = r.label.as_str();
        let seen = Mutex::new(HashMap::<(u64, u64), PathBuf>::new());
        let extra_links: Mutex<Vec<(Candidate, PathBuf)>> = Mutex::default();
        let mut stale: Vec<PathBuf> = vec![];
        let (tx, rx) = mpsc::sync_channel::<Candidate>(512);
        let rx = Mutex::new(rx);
        let work = |c: Candidate| {
            if self.dry_run {
                let estimate = compress::estimate(&c, r.rule.level);
                let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
                match estimate {
                    Ok(after) => {
                        t.files += 1;
                        t.before += c.allocated;
                        t.after += after.min(c.allocated);
                        drop(t);
                        self.claim(&c.path, c.allocated.saturating_sub(after));
                        self.line(
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
                    Err(e) => t.failed.push((
                        c.path.clone(),
                        format!("cannot be read: {}", crate::sys::describe_io(&e)),
                    )),
                }
                return;
            }
            let progress = |n: u64| {
                let total = done.fetch_add(n, Ordering::Relaxed) + n;
                self.reporter.progress(step, total);
            };
            let leftover = |p: &Path| {
                self.reporter.notice(
                    Level::Info,
                    format!("removed {} left by an interrupted run", p.display()),
                )
            };
            let result = compress::compress(&c, r.rule.level, &progress, &leftover);
            let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Compressed::Done { before, after } => {
                    t.files += 1;
                    t.before += before;
                    t.after += after;
                    drop(t);
                    self.line(
                        step,
                        format!(
                            "compressed {} ({} → {})",
                            c.path.display(),
                            Size(before),
                            Size(after)
                        ),
                    );
                }
                Compressed::Skipped(why) => t.skipped.push((c.path.clone(), why)),
                Compressed::Failed(why) => t.failed.push((c.path.clone(), why)),
            }
        };
        std::thread::scope(|s| {
            for _ in 0..self.jobs {
                s.spawn(|| {
                    loop {
                        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match next {
                            Ok(c) => work(c),
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
                    if self.unclaimed(&c.path) {
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
            let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
            t.failed.extend(local.failed);
        });
        let mut tally = tally.into_inner().unwrap_or_else(|e| e.into_inner());
        for p in stale {
            if std::fs::symlink_metadata(&p).is_ok() {
                self.remove_stale(step, &p, &mut tally);
            }
        }
        // The data of an extra hard link now lives in the first name's .gz.
        for (c, first) in extra_links.into_inner().unwrap_or_default() {
            let mut gz = first.as_os_str().to_os_string();
            gz.push(".gz");
            if self.dry_run {
                self.line(
                    step,
                    format!(
                        "would remove {} (a hard link to {})",
                        c.path.display(),
                        first.display()
                    ),
                );
            } else if Path::new(&gz).exists() && !first.exists() {
                match std::fs::remove_file(&c.path) {
                    Ok(()) => self.line(
                        step,
                        format!(
                            "removed {}: a hard link to {}, compressed once",
                            c.path.display(),
                            first.display()
                        ),
                    ),
                    Err(e) => tally.failed.push((c.path, crate::sys::describe_io(&e))),
                }
            } else {
                tally.skipped.push((
                    c.path,
                    format!(
                        "a hard link to {}, which was not compressed",
                        first.display()
                    ),
                ));
            }
        }
        tally
    }

    pub(super) fn delete(&self, r: &Resolved) -> Tally {
        let mut tally = Tally::default();
        let step = r.label.as_str();
        let files = self.collect(r, None, &mut tally);
        if self.dry_run {
            for c in &files {
                self.line(
                    step,
                    format!("would delete {} ({})", c.path.display(), Size(c.allocated)),
                );
                self.claim(&c.path, c.allocated);
            }
            tally.files = files.len() as u64;
            tally.before = files.iter().map(|c| c.allocated).sum();
            return tally;
        }
        let verbose = self.verbose;
        let (freed, problems) = delete::delete(&files, &mut |c| {
            if verbose {
                self.line(step, format!("deleted {}", c.path.display()));
            }
        });
        tally.files = (files.len() - problems.len()) as u64;
        tally.before = freed;
        tally.failed.extend(problems);
        tally
    }

    pub(super) fn archive(&self, r: &Resolved, plan: &Plan) -> Tally {
        let mut tally = Tally::default();
        let step = r.label.as_str();
        let spec = r
            .rule
            .archive
            .as_ref()
            .expect("archive rules have archive:");
        let dest = r.dest.as_ref().expect("resolved with the rule");
        // Archives written inside the rule's own path must never be picked up by it again.
        let skip = dest.starts_with(&r.root).then_some(dest.as_path());
        // First what a killed run left half done, so its sources are not archived twice.
        let mut finished: Vec<PathBuf> = vec![];
        for f in archive::finish_interrupted(dest, self.dry_run) {
            match f {
                Ok(f) if f.abandoned => {}
                Ok(f) => {
                    let bytes: u64 = f.removed.iter().map(|(_, b)| b).sum();
                    self.reporter.notice(
                        Level::Info,
                        format!(
                            "{} {} sources already in {}, which an interrupted run wrote but did not finish",
                            if self.dry_run { "would remove" } else { "removed" },
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
                Err(e) => tally.failed.push((dest.clone(), e.0)),
            }
        }
        let mut files = self.collect(r, skip, &mut tally);
        files.retain(|c| !finished.contains(&c.path));
        if !self.dry_run
            && let Ok(entries) = std::fs::read_dir(dest)
        {
            for e in entries.flatten() {
                if select::is_partial(&e.file_name().to_string_lossy()) {
                    self.remove_stale(step, &e.path(), &mut tally);
                }
            }
        }
        let done = AtomicU64::new(0);
        for (period, group) in archive::group(files, spec.group_by) {
            let name = match render_name(&plan.templater, &spec.name, &period) {
                Ok(n) => n,
                Err(e) => {
                    tally.failed.push((dest.clone(), e.to_string()));
                    continue;
                }
            };
            let bytes: u64 = group.iter().map(|c| c.allocated).sum();
            if self.dry_run {
                let level = spec.level.unwrap_or(r.rule.level);
                let (mut readable, mut after) = (0, 0);
                for c in &group {
                    match compress::estimate(c, level) {
                        Ok(a) => {
                            readable += 1;
                            after += a;
                            // Archived, the file goes: all of it is freed here.
                            self.claim(&c.path, c.allocated);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => tally.failed.push((
                            c.path.clone(),
                            format!("cannot be read: {}", crate::sys::describe_io(&e)),
                        )),
                    }
                }
                self.line(
                    step,
                    format!(
                        "would archive {} files ({} → about {}) into {}",
                        group.len(),
                        Size(bytes),
                        Size(after),
                        archive::free_name(dest, &name).display()
                    ),
                );
                tally.files += readable;
                tally.before += bytes;
                tally.after += after.min(bytes);
                continue;
            }
            let progress = |n: u64| {
                let total = done.fetch_add(n, Ordering::Relaxed) + n;
                self.reporter.progress(step, total);
            };
            match archive::archive(
                &group,
                dest,
                &name,
                spec.level.unwrap_or(r.rule.level),
                &progress,
            ) {
                Ok(a) => {
                    self.line(
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
                        self.reporter.notice(Level::Warn, why);
                    }
                }
                Err(e) => tally.failed.push((dest.join(&name), e.0)),
            }
        }
        tally
    }

    /// Delete the oldest expendable files until the mount is below its target.
    pub(super) fn free_space(
        &self,
        fs: &FreeSpace,
        mount: &Path,
        rules: &[Resolved],
    ) -> (Status, String) {
        let usage = |p: &Path| -> Option<(u64, u64)> {
            let s = rustix::fs::statvfs(p).ok()?;
            let used = s.f_blocks.saturating_sub(s.f_bfree) * s.f_frsize;
            Some((used, s.f_bavail * s.f_frsize))
        };
        let pct = |used: u64, avail: u64| {
            if used + avail == 0 {
                0.0
            } else {
                used as f64 * 100.0 / (used + avail) as f64
            }
        };
        let Some((mut used, mut avail)) = usage(mount) else {
            return (
                Status::Failed,
                format!("cannot read usage of {}", mount.display()),
            );
        };
        if self.dry_run {
            // As the real run would find the mount: after the rules before this step.
            let freed = self.would_free.load(Ordering::Relaxed).min(used);
            used -= freed;
            avail += freed;
        }
        let start = pct(used, avail);
        let target = fs.max_used_percent.0;
        if start <= target {
            return (
                Status::Ok,
                format!("{} at {:.1}% used, below {target}%", mount.display(), start),
            );
        }
        let dev = std::fs::metadata(mount)
            .map(|m| std::os::unix::fs::MetadataExt::dev(&m))
            .unwrap_or(0);
        let mut pool: Vec<Candidate> = vec![];
        for r in rules.iter().filter(|r| r.rule.expendable) {
            pool.extend(
                select::collect(&r.rule, &r.root, true, r.dest.as_deref(), &mut |_| {})
                    .into_iter()
                    .filter(|c| c.dev == dev && self.unclaimed(&c.path)),
            );
        }
        pool.sort_by_key(|c| c.mtime);
        let (mut n, mut freed) = (0, 0u64);
        let total = used + avail;
        for c in &pool {
            if pct(used, total - used) <= target {
                break;
            }
            if self.dry_run {
                self.line(
                    "free space",
                    format!("would delete {} ({})", c.path.display(), Size(c.allocated)),
                );
                used = used.saturating_sub(c.allocated);
            } else {
                match std::fs::remove_file(&c.path) {
                    Ok(()) => {
                        self.line(
                            "free space",
                            format!("deleted {} ({})", c.path.display(), Size(c.allocated)),
                        );
                        // Counted, not re-read: ext4 returns freed blocks to statfs only when its
                        // journal commits, which would make this delete more than needed.
                        if c.nlink <= 1 {
                            used = used.saturating_sub(c.allocated);
                        }
                    }
                    Err(e) => {
                        self.reporter.notice(
                            Level::Warn,
                            format!(
                                "cannot delete {}: {}",
                                c.path.display(),
                                crate::sys::describe_io(&e)
                            ),
                        );
                        continue;
                    }
                }
            }
            n += 1;
            freed += c.allocated;
        }
        let now = pct(used, total - used);
        let verb = if self.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        let msg = format!(
            "{} was {start:.1}% used (target {target}%): {verb} {n} expendable files ({}), now {now:.1}%",
            mount.display(),
            Size(freed)
        );
        if now > target {
            (
                Status::Failed,
                format!(
                    "{msg}; the target cannot be reached with the expendable files ({} in all)",
                    pool.len()
                ),
            )
        } else {
            (Status::Ok, msg)
        }
    }
}

pub(super) fn summary(action: Action, t: &Tally, dry_run: bool) -> String {
    let n = t.files;
    let mut s = match (action, dry_run) {
        (Action::Compress, true) => format!(
            "would compress {n} files, {} → about {}",
            Size(t.before),
            Size(t.after)
        ),
        (Action::Compress, false) => format!(
            "compressed {n} files, {} → {}",
            Size(t.before),
            Size(t.after)
        ),
        (Action::Archive, true) => format!(
            "would archive {n} files, {} → about {}",
            Size(t.before),
            Size(t.after)
        ),
        (Action::Archive, false) => {
            format!("archived {n} files, {} → {}", Size(t.before), Size(t.after))
        }
        (Action::Delete, true) => format!("would delete {n} files, reclaiming {}", Size(t.before)),
        (Action::Delete, false) => format!("deleted {n} files, reclaimed {}", Size(t.before)),
    };
    if !t.skipped.is_empty() {
        s += &format!("; {} left alone", t.skipped.len());
    }
    if !t.failed.is_empty() {
        s += &format!("; {} failed", t.failed.len());
    }
    s
}
