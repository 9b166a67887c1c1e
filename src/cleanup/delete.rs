//! Deleting expired files. No fsync: an unlink that a crash undoes loses nothing (the file is
//! simply still there for the next run), and syncing every directory made deleting 100,000
//! small files 10x slower than `find -delete`. Each file is removed from the directory the
//! walk found it in, and only while it is still the file selected (`beneath.rs`).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use super::beneath::{Dir, file_name};
use super::select::Candidate;

/// What deleting came to.
#[derive(Default)]
pub struct Deleted {
    pub freed: u64,
    pub count: u64,
    pub problems: Vec<(PathBuf, String)>,
    /// Written again (or replaced) since the walk selected it.
    pub kept: Vec<(PathBuf, String)>,
}

/// Directories stay open across files: most of a rule's files share a few.
const OPEN_DIRS: usize = 256;

/// Unlink each file that is still as selected.
pub fn delete(files: &[Candidate], on_done: &mut dyn FnMut(&Candidate)) -> Deleted {
    let mut out = Deleted::default();
    let mut dirs: HashMap<PathBuf, Dir> = HashMap::new();
    for c in files {
        let parent = c.path.parent().unwrap_or(Path::new("/")).to_path_buf();
        if !dirs.contains_key(&parent) {
            if dirs.len() >= OPEN_DIRS {
                dirs.clear();
            }
            match Dir::of(c) {
                Ok(d) => {
                    dirs.insert(parent.clone(), d);
                }
                // Gone already (another cleaner, a rotation): nothing to do.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    out.problems
                        .push((c.path.clone(), crate::sys::describe_io(&e)));
                    continue;
                }
            }
        }
        let dir = &dirs[&parent];
        match unlink(dir, c) {
            Ok(true) => {
                out.freed += c.allocated;
                out.count += 1;
                on_done(c);
            }
            Ok(false) => out.kept.push((
                c.path.clone(),
                "changed since it was selected: left alone".into(),
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => out
                .problems
                .push((c.path.clone(), crate::sys::describe_io(&e))),
        }
    }
    out
}

/// Remove `c` from `dir` if it is still the file selected; whether it was.
pub fn unlink(dir: &Dir, c: &Candidate) -> io::Result<bool> {
    if !dir.holds(file_name(c), c)? {
        return Ok(false);
    }
    dir.remove(file_name(c))?;
    Ok(true)
}
