//! A deploy to hosts over SSH, batch by batch. Each host runs the same step list as a deploy on
//! this machine (and rolls itself back when one of its steps fails); a batch must be deployed
//! *and verified* before the next starts, and when a batch fails, `on_failure` decides what
//! happens to the hosts already on the new release: by default each goes back to its own last
//! verified release, in parallel, and is verified there.

mod analysis;
pub(super) mod command;
pub(super) mod drill;
mod host;
mod manual;

use std::sync::Mutex;

use super::on_machine;
use super::resolve::Fleet;
use super::runner::Ending;
use super::runner::Runner;
use super::spec::OnFailure;
use crate::error::Exit;
use crate::fleet::parallel;
pub use crate::fleet::{Early, hosts};
use crate::report::Level;
pub use host::{Ctx, HostRun, HostState, describe};
use host::{DEPLOYING, each, preflight, those};
pub use manual::{HostReleases, releases, rollback};

/// The names of `hosts` (indices), in order.
pub(super) fn names<'f>(fleet: &'f Fleet, hosts: &[usize]) -> Vec<&'f str> {
    hosts
        .iter()
        .map(|i| fleet.hosts[*i].name.as_str())
        .collect()
}

pub fn deploy<'a>(ctx: &Ctx<'a, '_>, fleet: &'a Fleet) -> (Ending, Vec<HostRun<'a>>) {
    let runs: Vec<Mutex<HostRun<'a>>> = fleet
        .hosts
        .iter()
        .map(|h| Mutex::new(HostRun::new(h, ctx.reporter)))
        .collect();
    let batches = fleet.batches.len();
    let mut stopped: Option<(usize, String)> = None;
    // An inconclusive analysis with `on_inconclusive: halt`: nothing is taken back.
    let mut halted = false;
    for (b, batch) in fleet.batches.iter().enumerate() {
        ctx.reporter.notice(
            Level::Info,
            format!(
                "batch {}/{batches}: {}",
                b + 1,
                names(fleet, batch).join(", ")
            ),
        );
        // Every host of the batch ready (locked, checked, its steps rendered) before any of
        // them is changed.
        preflight(ctx, &runs, batch, DEPLOYING);
        if crate::interrupt::requested() {
            stopped = Some((b, format!("interrupted by a signal during batch {}", b + 1)));
            break;
        }
        let ready = those(&runs, batch, |r| r.ready());
        let unready = names(fleet, &those(&runs, batch, |r| !r.ready()));
        if unready.len() > fleet.max_failures {
            stopped = Some((
                b,
                format!(
                    "batch {}/{batches}: {} of {} hosts could not be reached or prepared ({}; max_failures {}), so none of the batch was changed",
                    b + 1,
                    unready.len(),
                    batch.len(),
                    unready.join(", "),
                    fleet.max_failures
                ),
            ));
            break;
        }
        if !unready.is_empty() {
            ctx.reporter.notice(
                Level::Warn,
                format!(
                    "batch {}/{batches}: {} could not be reached or prepared, within max_failures {}; going on with {}",
                    b + 1,
                    unready.join(", "),
                    fleet.max_failures,
                    hosts(batch.len() - unready.len())
                ),
            );
        }
        each(ctx, &ready, &format!("batch {}/{batches}:", b + 1), |i| {
            let mut run = runs[i].lock().unwrap_or_else(|e| e.into_inner());
            deploy_host(&mut run);
        });
        let failed = names(
            fleet,
            &those(&runs, batch, |r| {
                matches!(r.state, HostState::Failed { .. })
            }),
        );
        if crate::interrupt::requested() {
            stopped = Some((b, format!("interrupted by a signal during batch {}", b + 1)));
            break;
        }
        if failed.len() > fleet.max_failures {
            stopped = Some((
                b,
                format!(
                    "batch {}/{batches} failed on {} of {} hosts ({}; max_failures {})",
                    b + 1,
                    failed.len(),
                    batch.len(),
                    failed.join(", "),
                    fleet.max_failures
                ),
            ));
            break;
        }
        if !failed.is_empty() {
            ctx.reporter.notice(
                Level::Warn,
                format!(
                    "batch {}/{batches}: {} failed, within max_failures {}; going on",
                    b + 1,
                    failed.join(", "),
                    fleet.max_failures
                ),
            );
        }
        match analysis::batch(ctx.reporter, fleet, &runs, b) {
            analysis::Judgement::Passed => {}
            analysis::Judgement::Failed(why) => {
                stopped = Some((b, why));
                break;
            }
            analysis::Judgement::Halted(why) => {
                stopped = Some((b, why));
                halted = true;
                break;
            }
        }
        if b + 1 < batches && !fleet.pause.is_zero() {
            ctx.reporter.notice(
                Level::Info,
                format!(
                    "batch {}/{batches} passed; pause {} before batch {}",
                    b + 1,
                    humantime::format_duration(fleet.pause),
                    b + 2
                ),
            );
            if !crate::analysis::sleep_until(std::time::Instant::now() + fleet.pause) {
                stopped = Some((
                    b,
                    format!("interrupted by a signal in the pause after batch {}", b + 1),
                ));
                break;
            }
        }
    }
    match &stopped {
        Some((_, why)) if halted => ctx.reporter.notice(
            Level::Error,
            format!(
                "{why}; on_inconclusive: halt, so the hosts already deployed stay on {} for a human to judge",
                ctx.d.release
            ),
        ),
        Some((last, why)) => take_back(ctx, fleet, &runs, *last, why),
        None => {}
    }
    let runs = host::finished(ctx, runs);
    let outcome = verdict(ctx, &runs, stopped.map(|(_, why)| why));
    (outcome, runs)
}

/// A batch failed (or a signal came) during batch `last`: the hosts `on_failure` takes back,
/// those on the new release in that batch or before, each to its own previous release.
fn take_back<'a>(
    ctx: &Ctx<'a, '_>,
    fleet: &'a Fleet,
    runs: &[Mutex<HostRun<'a>>],
    last: usize,
    why: &str,
) {
    // The hosts this policy takes back: on the new release, in the failed batch or before.
    let deployed = |r: &HostRun| matches!(r.state, HostState::Deployed);
    let back = match fleet.on_failure {
        OnFailure::Halt => vec![],
        OnFailure::RollbackBatch => those(runs, &fleet.batches[last], deployed),
        OnFailure::RollbackAll => those(runs, &fleet.batches[..=last].concat(), deployed),
    };
    let policy = match fleet.on_failure {
        OnFailure::Halt => "on_failure: halt, so the hosts already deployed stay on it",
        OnFailure::RollbackBatch => "on_failure: rollback_batch",
        OnFailure::RollbackAll => "on_failure: rollback_all",
    };
    let any_deployed = runs
        .iter()
        .any(|r| deployed(&r.lock().unwrap_or_else(|e| e.into_inner())));
    ctx.reporter.notice(
        Level::Error,
        if !any_deployed {
            // Nothing on the new release: the policy has nothing to act on.
            why.to_string()
        } else if back.is_empty() {
            format!("{why}; {policy}")
        } else {
            format!(
                "{why}; {policy}: rolling back {} host(s) on {}",
                back.len(),
                ctx.d.release
            )
        },
    );
    parallel(ctx.forks, &back, |i| {
        let mut run = runs[i].lock().unwrap_or_else(|e| e.into_inner());
        roll_back_host(ctx, &mut run);
    });
}

/// A preflighted host through the step list, rolled back on itself when a step fails.
fn deploy_host(run: &mut HostRun) {
    if crate::interrupt::requested() {
        return;
    }
    let (Some(d), Some(phases), Some(ssh)) = (run.d.take(), run.phases.take(), run.ssh.clone())
    else {
        return;
    };
    if let Err(e) = on_machine::check(&d, true) {
        run.reporter.notice(Level::Error, e.to_string());
        run.d = Some(d);
        return run.unreached(e);
    }
    let mut journal = std::mem::take(&mut run.journal);
    run.previous = journal
        .last_verified(None)
        .map(|r| r.release.clone())
        .or_else(|| {
            d.layout
                .current_release()
                .filter(|c| super::execute::untried(&journal, c))
        })
        .filter(|p| *p != d.release);
    // Releases pruned by the last deploy are deleted while this one runs.
    d.layout.empty_trash_later();
    let runner = Runner {
        d: &d,
        reporter: &run.reporter,
        target: &*ssh,
    };
    let outcome = match on_machine::deploy(&runner, &phases, &mut journal) {
        on_machine::Deployed::Stranded(o) | on_machine::Deployed::Ran(o) => o,
    };
    run.journal = journal;
    run.d = Some(d);
    ssh.idle();
    run.state = match outcome.code {
        Exit::OK => HostState::Deployed,
        code => HostState::Failed {
            code,
            touched: outcome.reason == "rollback",
            message: outcome.message,
        },
    };
}

fn roll_back_host(ctx: &Ctx, run: &mut HostRun) {
    let (Some(d), Some(ssh)) = (&run.d, &run.ssh) else {
        return;
    };
    let Some(previous) = run.previous.clone() else {
        let message = format!(
            "no earlier release here to go back to: left on {}",
            ctx.d.release
        );
        run.reporter.notice(Level::Error, message.clone());
        run.state = HostState::RolledBack {
            code: Exit::NOT_VERIFIED,
            message,
        };
        return;
    };
    let runner = Runner {
        d,
        reporter: &run.reporter,
        target: &**ssh,
    };
    let outcome = match super::rollback::manual(&runner, &mut run.journal, Some(&previous)) {
        Ok(o) => o,
        Err(super::rollback::Refusal(_, why)) => Ending {
            code: Exit::NOT_VERIFIED,
            message: format!("cannot roll back to {previous}: {why}"),
            reason: "rollback",
        },
    };
    run.state = HostState::RolledBack {
        code: if outcome.code == Exit::OK {
            Exit::OK
        } else {
            Exit::NOT_VERIFIED
        },
        message: outcome.message,
    };
}

fn verdict(ctx: &Ctx, runs: &[HostRun], stopped: Option<String>) -> Ending {
    let release = &ctx.d.release;
    let n = runs.len();
    let count = |f: &dyn Fn(&HostState) -> bool| runs.iter().filter(|r| f(&r.state)).count();
    let deployed = count(&|s| matches!(s, HostState::Deployed));
    let unverified: Vec<&str> = runs
        .iter()
        .filter(|r| {
            matches!(r.state, HostState::Failed { code, .. } | HostState::RolledBack { code, .. } if code == Exit::NOT_VERIFIED)
        })
        .map(|r| r.host.name.as_str())
        .collect();
    if deployed == n
        && let Some(why) = &stopped
    {
        return Ending {
            code: Exit::FAILED,
            message: format!(
                "deploy of {release} FAILED ({why}); every host is on {release}, verified by its probes, not by the analysis"
            ),
            reason: "failure",
        };
    }
    if deployed == n {
        return Ending {
            code: Exit::OK,
            message: format!("deployed {release} to {}: live and verified", hosts(n)),
            reason: "success",
        };
    }
    if !unverified.is_empty() {
        return Ending {
            code: Exit::NOT_VERIFIED,
            message: format!(
                "deploy of {release} FAILED and {} of {n} hosts are NOT VERIFIED: {}",
                unverified.len(),
                unverified.join(", ")
            ),
            reason: "rollback",
        };
    }
    let why = stopped.unwrap_or_else(|| "hosts failed".into());
    let rolled = count(&|s| matches!(s, HostState::RolledBack { .. }));
    let touched_failed = count(&|s| matches!(s, HostState::Failed { touched: true, .. }));
    let message = if rolled + touched_failed == 0 && deployed == 0 {
        format!("deploy of {release} FAILED ({why}); no host was changed")
    } else if deployed > 0 {
        let back = rolled + touched_failed;
        let mut parts = vec![format!(
            "{deployed} of {n} hosts stay on {release} (verified)"
        )];
        if back > 0 {
            parts.push(format!("{back} back on their previous release (verified)"));
        }
        if n - deployed - back > 0 {
            parts.push(format!("{} not changed", n - deployed - back));
        }
        format!("deploy of {release} FAILED ({why}); {}", parts.join(", "))
    } else {
        format!(
            "deploy of {release} FAILED ({why}); every host touched is back on its previous release, verified"
        )
    };
    Ending {
        code: Exit::FAILED,
        message,
        reason: if rolled + touched_failed > 0 {
            "rollback"
        } else {
            "failure"
        },
    }
}
