//! Deleting files: unlink, then fsync each directory touched once.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::select::Candidate;

/// Unlink each file; returns (bytes freed, problems). Directories are synced once at the end.
pub fn delete(
    files: &[Candidate],
    on_done: &mut dyn FnMut(&Candidate),
) -> (u64, Vec<(PathBuf, String)>) {
    let mut freed = 0;
    let mut problems = vec![];
    let mut dirs = BTreeSet::new();
    for c in files {
        match std::fs::remove_file(&c.path) {
            Ok(()) => {
                freed += c.allocated;
                dirs.insert(crate::fsutil::parent(&c.path));
                on_done(c);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => problems.push((c.path.clone(), crate::describe_io(&e))),
        }
    }
    for d in dirs {
        let _ = crate::fsutil::sync_dir(&d);
    }
    (freed, problems)
}
