//! `tend cleanup`: compress, archive and expire files by rule, and free a mount below a target,
//! without ever losing a byte.

mod archive;
mod compress;
mod delete;
mod gzip;
mod select;
mod spec;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use crate::cli::{CleanupArgs, VarArgs};
use crate::config::Config;
use crate::engine::{Locking, Run, Spec, Step};
use crate::error::{Error, Exit};
use crate::playbook::units::Size;
use crate::playbook::{self, Diagnostic, Loaded, Mode, Source, Templater};
use crate::report::{Event, Level, Reporter, Status};
use compress::Compressed;
use select::{Candidate, Found};
pub use spec::CleanupPlaybook;
use spec::{Action, FreeSpace, Rule};

struct Resolved {
    rule: Rule,
    label: String,
    root: PathBuf,
    /// For archive rules: the destination directory and the name template.
    dest: Option<PathBuf>,
}

struct Plan {
    rules: Vec<Resolved>,
    notifier: crate::notify::Notifier,
    free_space: Option<(FreeSpace, PathBuf)>,
    /// Renders archive names per period.
    templater: Templater,
}

const ALERT_REASONS: &[&str] = &["failure", "success"];

fn resolve(
    loaded: &Loaded<CleanupPlaybook>,
    templater: Templater,
    real_secrets: bool,
) -> Result<Plan, Diagnostic> {
    let top = loaded.scope(&templater);
    if loaded.body.rules.is_empty() {
        return Err(top.error("rules", "`rules` is empty").hint("add a rule, e.g. `- { path: /var/log/app, match: [\"*.log\"], older_than: 1d, action: compress }`"));
    }
    let mut rules = vec![];
    for (i, rule) in loaded.body.rules.iter().enumerate() {
        let scope = top.at(&format!("rules[{i}]"));
        let path = scope.render("path", &rule.path, Mode::Text)?;
        let root = match spec::rule_root(&path) {
            Ok(root) => root,
            // Absent here (not a link, not a file): the machine it is meant for may have it.
            Err(why) if path.starts_with('/') && std::fs::symlink_metadata(&path).is_err() => {
                playbook::facts::host_fact(scope.error("path", why))?;
                PathBuf::from(&path)
            }
            Err(why) => return Err(scope.error("path", why)),
        };
        let dest = match &rule.archive {
            Some(a) => {
                let d = scope.at("archive").render("dest", &a.dest, Mode::Text)?;
                if !d.starts_with('/') {
                    return Err(scope.at("archive").error(
                        "dest",
                        format!("archive dest '{d}' must be an absolute path"),
                    ));
                }
                let real = crate::fsutil::real_path(Path::new(&d));
                if real.starts_with(&root) {
                    return Err(scope
                        .at("archive")
                        .error(
                            "dest",
                            format!(
                                "archive dest '{d}' is inside the rule's own path {}",
                                root.display()
                            ),
                        )
                        .hint("keep archives beside what they archive, not in it: e.g. a sibling directory like /var/log/app-archive"));
                }
                // Check the name renders now, with a sample period, so errors show before work.
                render_name(&templater, &a.name, "2026-01-01")
                    .map_err(|e| scope.at("archive").error("name", e))?;
                Some(PathBuf::from(d))
            }
            None => None,
        };
        let mut rule = rule.clone();
        rule.path = path;
        rules.push(Resolved {
            label: rule.label(i),
            rule,
            root,
            dest,
        });
    }
    let free_space = match &loaded.body.free_space {
        Some(fs) => {
            let scope = top.at("free_space");
            let mount = scope.render("mount", &fs.mount, Mode::Text)?;
            if !(0.0..=100.0).contains(&fs.max_used_percent.0) {
                return Err(scope.error(
                    "max_used_percent",
                    "max_used_percent is a percentage, 0 to 100",
                ));
            }
            if !Path::new(&mount).is_dir() {
                playbook::facts::host_fact(
                    scope.error("mount", format!("mount '{mount}' does not exist")),
                )?;
            }
            if !loaded.body.rules.iter().any(|r| r.expendable) {
                return Err(scope.error("mount", "free_space needs at least one rule marked `expendable: true`").hint("free_space deletes the oldest files of expendable rules until the mount is below its target"));
            }
            Some((
                FreeSpace {
                    mount: mount.clone(),
                    max_used_percent: fs.max_used_percent,
                },
                PathBuf::from(mount),
            ))
        }
        None => None,
    };
    let notifier = loaded
        .body
        .notify
        .resolve(&top, ALERT_REASONS, real_secrets)?;
    Ok(Plan {
        rules,
        notifier,
        free_space,
        templater,
    })
}

/// An archive file name for a period: a plain name, never a path.
fn render_name(t: &Templater, template: &str, date: &str) -> Result<String, String> {
    let name = t.render_with(template, Mode::Text, &[("date", date)])?;
    if name.is_empty() || name.contains('/') || name == "." || name == ".." || name.contains('\0') {
        return Err(format!(
            "archive name '{name}' must be a plain file name (no '/', not '..')"
        ));
    }
    Ok(name)
}

pub fn validate(source: std::sync::Arc<Source>, args: &VarArgs) -> Result<String, Diagnostic> {
    let loaded: Loaded<CleanupPlaybook> = playbook::load_source(source, args)?;
    loaded.print_secret_warnings();
    let plan = resolve(&loaded, loaded.templater(false)?, false)?;
    Ok(format!("cleanup, {} rules", plan.rules.len()))
}

#[derive(Default)]
struct Tally {
    files: u64,
    before: u64,
    after: u64,
    skipped: Vec<(PathBuf, String)>,
    failed: Vec<(PathBuf, String)>,
}

impl Tally {
    fn status(&self) -> Status {
        if !self.failed.is_empty() {
            Status::Failed
        } else if !self.skipped.is_empty() {
            Status::Warning
        } else {
            Status::Ok
        }
    }
}

struct Job<'a> {
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

impl Job<'_> {
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

    fn compress(&self, r: &Resolved) -> Tally {
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

    fn delete(&self, r: &Resolved) -> Tally {
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

    fn archive(&self, r: &Resolved, plan: &Plan) -> Tally {
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
                Err(e) => tally.failed.push((dest.clone(), e)),
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
                    tally.failed.push((dest.clone(), e));
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
                Err(e) => tally.failed.push((dest.join(&name), e)),
            }
        }
        tally
    }

    /// Delete the oldest expendable files until the mount is below its target.
    fn free_space(&self, fs: &FreeSpace, mount: &Path, rules: &[Resolved]) -> (Status, String) {
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

pub fn run(cfg: &Config, args: &CleanupArgs) -> Result<Exit, Error> {
    let loaded: Loaded<CleanupPlaybook> = playbook::load(&args.playbook, &args.vars)?;
    let how = if args.dry_run {
        // A dry run only reads: it waits for no run and is not recorded as one.
        How::DryRun
    } else {
        How::Run {
            wait: args.lock.wait_lock,
        }
    };
    execute(cfg, &loaded, &args.playbook, how, args.jobs)
}

/// `tend plan` on a cleanup playbook: its dry run, listed on stdout as a plan.
pub fn plan(cfg: &Config, source: Arc<Source>, vars: &VarArgs) -> Result<Exit, Error> {
    let path = source.path.clone();
    let loaded: Loaded<CleanupPlaybook> = playbook::load_source(source, vars)?;
    execute(cfg, &loaded, &path, How::Plan, None)
}

/// How a cleanup runs: for real (under the playbook's lock, recorded), as a dry run (its
/// actions shown as it goes), or as a plan (the dry run listed on stdout at the end).
#[derive(Clone, Copy, PartialEq, Eq)]
enum How {
    Run { wait: Option<std::time::Duration> },
    DryRun,
    Plan,
}

fn execute(
    cfg: &Config,
    loaded: &Loaded<CleanupPlaybook>,
    playbook: &Path,
    how: How,
    jobs: Option<u16>,
) -> Result<Exit, Error> {
    let plan = resolve(loaded, loaded.templater(true)?, true)?;
    let dry_run = matches!(how, How::DryRun | How::Plan);
    let opts = crate::report::Options {
        // A dry run's listing of every action is its whole point; a plan's is on stdout.
        verbose: cfg.report.verbose || how == How::DryRun,
        quiet: cfg.report.quiet || how == How::Plan,
        ..cfg.report
    };
    let (locking, wait) = match how {
        How::Run { wait } => (Locking::Playbook, wait),
        How::DryRun | How::Plan => (Locking::None, None),
    };
    let run = Run::start(
        cfg,
        Spec {
            kind: "cleanup",
            playbook: Some(playbook),
            name: loaded.name(),
            locking,
            wait,
            opts,
            undoes: false,
            record: matches!(how, How::Run { .. }),
            listed: how == How::Plan,
        },
    )?;
    let reporter = run.reporter();
    let jobs = jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let job = Job {
        reporter,
        dry_run,
        jobs,
        // A plan lists every action too.
        verbose: opts.verbose || how == How::Plan,
        claimed: Mutex::default(),
        would_free: AtomicU64::new(0),
    };
    let mut worst = Status::Ok;
    let (mut total_files, mut total_freed) = (0u64, 0u64);
    // What failed, for the run's last line and the alert's first.
    let mut failures: Vec<String> = vec![];
    for r in &plan.rules {
        let step = Step::begin(reporter, &r.label);
        let tally = match r.rule.action {
            Action::Compress => job.compress(r),
            Action::Delete => job.delete(r),
            Action::Archive => job.archive(r, &plan),
        };
        reporter.clear_progress(&r.label);
        for (p, why) in &tally.skipped {
            reporter.notice(Level::Warn, format!("{}: left alone: {why}", p.display()));
        }
        for (p, why) in &tally.failed {
            reporter.notice(Level::Error, format!("{}: {why}", p.display()));
        }
        total_files += tally.files;
        total_freed += tally.before.saturating_sub(tally.after);
        let status = tally.status();
        worst = worst.max(status);
        let message = summary(r.rule.action, &tally, dry_run);
        if status == Status::Failed {
            failures.push(format!("{}: {message}", r.label));
        }
        step.end(status, message);
    }
    if let Some((fs, mount)) = &plan.free_space {
        let step = Step::begin(reporter, "free space");
        let (status, message) = job.free_space(fs, mount, &plan.rules);
        worst = worst.max(status);
        if status == Status::Failed {
            failures.push(format!("free space: {message}"));
        }
        step.end(status, message);
    }
    let failed = worst == Status::Failed;
    let done = if dry_run {
        format!(
            "cleanup would act on {total_files} files, about {} reclaimed",
            Size(total_freed)
        )
    } else {
        format!(
            "cleanup acted on {total_files} files, {} reclaimed",
            Size(total_freed)
        )
    };
    let message = if failures.is_empty() {
        done
    } else {
        format!("FAILED: {}; {done}", failures.join("; "))
    };
    if !dry_run {
        let (reason, subject) = if failed {
            ("failure", "FAILED")
        } else {
            ("success", "done")
        };
        run.alert(
            &plan.notifier,
            reason,
            subject,
            &format!(
                "{message}. Nothing was lost: originals stay until their compressed copy or archive is durable."
            ),
        );
    }
    let exit = if failed { Exit::FAILED } else { Exit::OK };
    Ok(run.finish(exit, message))
}

fn summary(action: Action, t: &Tally, dry_run: bool) -> String {
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
