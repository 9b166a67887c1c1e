//! Which files a rule acts on: a walk of its path that never follows a symlink and never
//! crosses into another filesystem, filtered by name, age and size.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use globset::{Glob, GlobSet, GlobSetBuilder};
use walkdir::WalkDir;

use super::spec::{Action, Rule};

#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: PathBuf,
    /// Path below the rule's root: the name inside an archive.
    pub rel: PathBuf,
    pub size: u64,
    /// Bytes allocated on disk: what deleting it gives back (sparse files, tail blocks).
    pub allocated: u64,
    pub mtime: SystemTime,
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
}

impl Candidate {
    pub fn from_meta(path: PathBuf, rel: PathBuf, m: &std::fs::Metadata) -> Candidate {
        Candidate {
            path,
            rel,
            size: m.len(),
            allocated: m.blocks() * 512,
            mtime: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            dev: m.dev(),
            ino: m.ino(),
            nlink: m.nlink(),
        }
    }
}

pub enum Found {
    File(Candidate),
    /// Could not be looked at (permission denied...): reported, the rest go on.
    Problem(PathBuf, String),
    /// A `.partial` left by a run that was killed: never complete, always safe to remove.
    Stale(PathBuf),
}

pub struct Matcher {
    names: GlobSet,
    paths: GlobSet,
    ex_names: GlobSet,
    ex_paths: GlobSet,
}

fn sets(patterns: &[String]) -> (GlobSet, GlobSet) {
    let (mut names, mut paths) = (GlobSetBuilder::new(), GlobSetBuilder::new());
    for p in patterns {
        // Validated when the playbook was read.
        if let Ok(g) = Glob::new(p) {
            if p.contains('/') {
                paths.add(g)
            } else {
                names.add(g)
            };
        }
    }
    (
        names.build().unwrap_or_else(|_| GlobSet::empty()),
        paths.build().unwrap_or_else(|_| GlobSet::empty()),
    )
}

impl Matcher {
    pub fn new(rule: &Rule) -> Matcher {
        let (names, paths) = sets(&rule.matches);
        let (ex_names, ex_paths) = sets(&rule.exclude);
        Matcher {
            names,
            paths,
            ex_names,
            ex_paths,
        }
    }

    /// A pattern without `/` matches the file name; one with `/` the path below the root.
    pub fn matches(&self, name: &str, rel: &Path) -> bool {
        (self.names.is_match(name) || self.paths.is_match(rel))
            && !(self.ex_names.is_match(name) || self.ex_paths.is_match(rel))
    }
}

pub fn is_partial(name: &str) -> bool {
    name.ends_with(".gz.partial")
}

/// Walk `root` and report every file the rule matches (ignoring age when `any_age`), in walk
/// order. `skip_dir` is a directory never to enter (the rule's own archive destination).
pub fn walk(
    rule: &Rule,
    root: &Path,
    any_age: bool,
    skip_dir: Option<&Path>,
    out: &mut dyn FnMut(Found),
) {
    let matcher = Matcher::new(rule);
    let cutoff = rule
        .older_than
        .filter(|_| !any_age)
        .map(|d| SystemTime::now() - d.0);
    let walker = WalkDir::new(root)
        .follow_links(false)
        .follow_root_links(false)
        .same_file_system(true)
        .into_iter();
    let it = walker.filter_entry(|e| skip_dir.is_none_or(|s| e.path() != s));
    for entry in it {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map_or_else(|| root.to_path_buf(), Path::to_path_buf);
                let why = e
                    .io_error()
                    .map_or_else(|| e.to_string(), crate::sys::describe_io);
                out(Found::Problem(path, why));
                continue;
            }
        };
        // Symlinks are never followed nor acted on: a link to /etc inside a log dir stays a link.
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if is_partial(&name) {
            out(Found::Stale(entry.path().to_path_buf()));
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .to_path_buf();
        if !matcher.matches(&name, &rel) {
            continue;
        }
        if rule.action == Action::Compress && name.ends_with(".gz") {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                let why = e
                    .io_error()
                    .map_or_else(|| e.to_string(), crate::sys::describe_io);
                out(Found::Problem(entry.path().to_path_buf(), why));
                continue;
            }
        };
        let c = Candidate::from_meta(entry.path().to_path_buf(), rel, &meta);
        if cutoff.is_some_and(|cut| c.mtime > cut)
            || rule.min_size.is_some_and(|min| c.size < min.0)
        {
            continue;
        }
        out(Found::File(c));
    }
}

/// Every matching file, oldest first, without the `keep_newest` newest.
pub fn collect(
    rule: &Rule,
    root: &Path,
    any_age: bool,
    skip_dir: Option<&Path>,
    out: &mut dyn FnMut(Found),
) -> Vec<Candidate> {
    let mut files = vec![];
    walk(rule, root, any_age, skip_dir, &mut |f| match f {
        Found::File(c) => files.push(c),
        other => out(other),
    });
    files.sort_by(|a, b| a.mtime.cmp(&b.mtime).then_with(|| a.path.cmp(&b.path)));
    let keep = rule.keep_newest.min(files.len());
    files.truncate(files.len() - keep);
    files
}
