//! Deleting expired files. No fsync: an unlink that a crash undoes loses nothing (the file is
//! simply still there for the next run), and syncing every directory made deleting 100,000
//! small files 10x slower than `find -delete`.

use std::path::PathBuf;

use super::select::Candidate;

/// Unlink each file; returns (bytes freed, problems).
pub fn delete(
    files: &[Candidate],
    on_done: &mut dyn FnMut(&Candidate),
) -> (u64, Vec<(PathBuf, String)>) {
    let mut freed = 0;
    let mut problems = vec![];
    for c in files {
        match std::fs::remove_file(&c.path) {
            Ok(()) => {
                freed += c.allocated;
                on_done(c);
            }
            // Gone already (another cleaner, a rotation): nothing to do.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => problems.push((c.path.clone(), crate::sys::describe_io(&e))),
        }
    }
    (freed, problems)
}
