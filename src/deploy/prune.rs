//! `keep_releases`: old release directories go, but never the current one, the last verified
//! one or the rollback target; failed releases do not take a place (the newest is kept to look
//! at).

use std::collections::HashSet;

use super::releases::{Releases, State};
use super::resolve::Deploy;

/// Marks what it removed as pruned in `journal`; saving it is the caller's (a deploy saves it
/// once, with the release's verified state).
pub fn prune(
    d: &Deploy,
    journal: &mut Releases,
    current: &str,
    keep_also: Option<&str>,
) -> Result<String, super::runner::StepFailed> {
    let layout = &d.layout;
    let mut keep: HashSet<String> = HashSet::new();
    keep.insert(current.to_string());
    keep.extend(journal.last_verified(None).map(|r| r.release.clone()));
    keep.extend(keep_also.map(String::from));
    let (mut counted, mut newest_failed) = (0, false);
    for rec in journal.releases.iter().rev().filter(|r| !r.pruned) {
        match rec.state {
            State::Verified | State::RolledBack if counted < d.keep => {
                counted += 1;
                keep.insert(rec.release.clone());
            }
            State::Failed if !newest_failed => {
                newest_failed = true;
                keep.insert(rec.release.clone());
            }
            State::Deploying => {
                keep.insert(rec.release.clone());
            }
            _ => {}
        }
    }
    let kept_shas: HashSet<String> = journal
        .releases
        .iter()
        .filter(|r| keep.contains(&r.release))
        .filter_map(|r| r.sha256.clone())
        .collect();
    let mut removed = vec![];
    let mut problems = vec![];
    for rec in journal.releases.iter_mut().filter(|r| !r.pruned) {
        if keep.contains(&rec.release) {
            continue;
        }
        match layout.remove_release(&rec.release) {
            Ok(()) => {
                rec.pruned = true;
                removed.push(rec.release.clone());
                let _ = layout.target.remove_file(&layout.backup(&rec.release));
                if let Some(sha) = &rec.sha256
                    && !kept_shas.contains(sha)
                {
                    let _ = std::fs::remove_file(layout.cache().join(format!("{sha}.artifact")));
                }
            }
            Err(e) => problems.push(format!("{}: {}", rec.release, crate::sys::describe_io(&e))),
        }
    }
    if !problems.is_empty() {
        return Err(format!("cannot remove {}", problems.join("; ")).into());
    }
    Ok(if removed.is_empty() {
        format!("nothing to remove (keep_releases: {})", d.keep)
    } else {
        format!(
            "removed {} (keep_releases: {}; the files go while the next deploy unpacks)",
            removed.join(", "),
            d.keep
        )
    })
}
