//! `tend rollback`: back to the previous (or a given) verified release, undoing the migrations
//! and config changes of every release in between, newest first, then verified.

use super::configure;
use super::releases::{Releases, State};
use super::resolve::Migration;
use super::runner::Ending;
use super::runner::Runner;
use super::steps::Rollback;
use super::undo::{self, Reverting};
use crate::error::Exit;
use crate::report::now_rfc3339;

pub fn manual(r: &Runner, journal: &mut Releases, to: Option<&str>) -> Result<Ending, Refusal> {
    let d = r.d;
    let layout = &d.layout;
    let Some(current) = layout.current_release() else {
        return Err(Refusal(
            Exit::FAILED,
            format!(
                "{} has no current release: nothing to roll back",
                layout.root.display()
            ),
        ));
    };
    let target = target(journal, &current, to, &layout.root)?;
    // Every release applied after the target, newest first: its migrations and configs go.
    let mut between: Vec<_> = journal
        .applied_after(&target)
        .into_iter()
        .cloned()
        .collect();
    if !between.iter().any(|x| x.release == current)
        && let Some(rec) = journal.get(&current)
    {
        between.push(rec.clone());
    }
    between.reverse();
    let render = |e: crate::playbook::Diagnostic| Refusal(Exit::USAGE, e.message);
    let cur_vars = journal.get(&current).map(|x| x.vars.clone());
    let leaving = d.phases(&current, cur_vars.as_ref()).map_err(render)?;
    let target_vars = journal.get(&target).map(|x| x.vars.clone());
    let target_phases = d.phases(&target, target_vars.as_ref()).map_err(render)?;
    let mut migrations: Vec<(Vec<Migration>, std::path::PathBuf)> = vec![];
    let mut restore = vec![];
    for rec in &between {
        migrations.push((
            d.recorded_migrations(rec).map_err(render)?,
            layout.release(&rec.release),
        ));
        let mut prev = configure::load(&*layout.target, &layout.backup(&rec.release))
            .map(|b| b.files)
            .map_err(|e| {
                Refusal(
                    Exit::FAILED,
                    format!(
                        "cannot read the config backups of {}: {}",
                        rec.release,
                        crate::sys::describe_io(&e)
                    ),
                )
            })?;
        prev.reverse();
        restore.extend(prev);
    }
    let rb = Rollback {
        stop: &leaving.stop,
        stop_dir: layout.release(&current),
        downs: migrations
            .iter()
            .flat_map(|(ms, dir)| ms.iter().rev().map(move |m| (m, dir.clone())))
            .collect(),
        restore,
        target: Some(&target_phases),
    };
    let undoing = if between.len() > 1 {
        let names: Vec<&str> = between.iter().map(|x| x.release.as_str()).collect();
        format!(", undoing {}", names.join(", "))
    } else {
        String::new()
    };
    r.reporter.notice(
        crate::report::Level::Info,
        format!("rolling back from {current} to {target}{undoing}"),
    );
    // Each `down` that ran leaves its release's record at once: a rollback killed midway is
    // finished by the next without running a `down` twice.
    let names: Vec<String> = between.iter().map(|x| x.release.clone()).collect();
    let undone = r.roll_back(&rb, &current, &mut |step| {
        if let Reverting::Reverted(m) = step {
            for name in &names {
                if let Some(x) = journal.get_mut(name)
                    && let Some(i) = x.migrations.iter().rposition(|y| *y == m.recorded)
                {
                    x.migrations.remove(i);
                    break;
                }
            }
            journal.save_or_warn(&*layout.target, &layout.journal(), r.reporter);
        }
    });
    record(journal, &between, &current, &target, &undone);
    journal.save_or_warn(&*layout.target, &layout.journal(), r.reporter);
    let what = format!("rollback from {current} to {target}");
    let mut o = undo::rolled_back(r, undone, &what, Some(&target));
    if o.code == Exit::FAILED {
        // For `tend rollback`, reaching a verified target is the job done.
        o.code = Exit::OK;
        o.message = format!("rolled back from {current} to {target}: running and verified");
    }
    Ok(o)
}

/// The release to go back to: `to`, if it is a verified release before the current one, else
/// the newest such. Why not, with the ones there are.
pub fn target(
    journal: &Releases,
    current: &str,
    to: Option<&str>,
    root: &std::path::Path,
) -> Result<String, Refusal> {
    let cur_pos = journal.releases.iter().position(|x| x.release == current);
    let candidates: Vec<&str> = journal
        .releases
        .iter()
        .enumerate()
        .filter(|(i, x)| {
            x.verified_at.is_some()
                && x.state != State::Failed
                && !x.pruned
                && x.release != current
                && cur_pos.is_none_or(|c| *i < c)
        })
        .map(|(_, x)| x.release.as_str())
        .collect();
    let Some(t) = to else {
        // The newest verified release before the current one.
        return journal
            .releases
            .iter()
            .filter(|x| candidates.contains(&x.release.as_str()))
            .max_by(|a, b| a.verified_at.cmp(&b.verified_at))
            .map(|x| x.release.clone())
            .ok_or_else(|| {
                Refusal(
                    Exit::FAILED,
                    format!("there is no verified release before {current} to go back to"),
                )
            });
    };
    let Some(rec) = journal.get(t) else {
        return Err(Refusal(
            Exit::USAGE,
            format!(
                "there is no release '{t}' under {}; verified releases to go back to: {}",
                root.display(),
                list(&candidates)
            ),
        ));
    };
    if t == current {
        return Err(Refusal(
            Exit::USAGE,
            format!("{t} is already the current release"),
        ));
    }
    if !candidates.contains(&t) {
        let why = if rec.pruned {
            "its directory was pruned".to_string()
        } else if rec.verified_at.is_none() || rec.state == State::Failed {
            "it was never verified".to_string()
        } else {
            format!("it was deployed after {current}: going forward is a deploy, not a rollback")
        };
        return Err(Refusal(
            Exit::USAGE,
            format!(
                "cannot roll back to {t}: {why}; verified releases to go back to: {}",
                list(&candidates)
            ),
        ));
    }
    Ok(t.to_string())
}

/// What the rollback did, in the journal: the releases undone and the target verified again, or
/// the current release marked with a rollback that is not verified.
fn record(
    journal: &mut Releases,
    between: &[super::releases::Record],
    current: &str,
    target: &str,
    undone: &undo::Undone,
) {
    let now = now_rfc3339();
    let to = |verified: bool| super::releases::RolledBackTo {
        release: target.to_string(),
        verified,
        at: now.clone(),
    };
    if undone.verified {
        for rec in between {
            if let Some(x) = journal.get_mut(&rec.release) {
                x.state = State::RolledBack;
                x.message = format!(
                    "rolled back to {target} by {} at {now}, verified",
                    crate::sys::username()
                );
                x.finished_at = Some(now.clone());
                x.rolled_back_to = Some(to(true));
            }
        }
        if let Some(t) = journal.get_mut(target) {
            t.verified_at = Some(now.clone());
            t.state = State::Verified;
        }
    } else if let Some(x) = journal.get_mut(current) {
        x.message = format!(
            "a rollback to {target} at {now} is NOT verified: {}",
            undone.halted.clone().unwrap_or_default()
        );
        x.rolled_back_to = Some(to(false));
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Why a rollback was not started (nothing changed), and the exit code that says it.
pub struct Refusal(pub Exit, pub String);
