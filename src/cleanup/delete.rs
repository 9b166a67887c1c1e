//! Deleting expired files. No fsync: an unlink that a crash undoes loses nothing (the file is
//! simply still there for the next run), and syncing every directory made deleting 100,000
//! small files 10x slower than `find -delete`. Each file is removed from the directory the
//! walk found it in, and only while it is still the file selected (`beneath.rs`).

use std::io;
use std::path::PathBuf;

use super::beneath::{Dir, Dirs, file_name};
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

/// Unlink each file that is still as selected.
pub fn delete(files: &[Candidate], on_done: &mut dyn FnMut(&Candidate)) -> Deleted {
    let mut out = Deleted::default();
    let mut dirs = Dirs::default();
    for c in files {
        match dirs.of(c).and_then(|dir| unlink(dir, c)) {
            Ok(true) => {
                out.freed += c.allocated;
                out.count += 1;
                on_done(c);
            }
            Ok(false) => out.kept.push((
                c.path.clone(),
                "changed since it was selected: left alone".into(),
            )),
            // Gone already (another cleaner, a rotation): nothing to do.
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
