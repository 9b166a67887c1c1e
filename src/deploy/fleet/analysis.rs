//! `rollout.analysis`: once a batch is deployed and verified, its analyses measure it, and the
//! next batch starts only when they pass. Each host renders its own query (`{{ host.name }}`
//! picks its series); hosts whose query is the same are measured once, so the analysis adds one
//! query an interval a metric, not one a host.

use std::sync::Mutex;

use super::{HostRun, HostState};
use crate::analysis::Analysis;
use crate::deploy::resolve::{Fleet, Gates};
use crate::deploy::runner::{Gate, analyzed};
use crate::report::Reporter;

/// How a batch's analyses came out.
pub enum Judgement {
    Passed,
    /// A failure, an error, or an inconclusive analysis that rolls back: why.
    Failed(String),
    /// Inconclusive, and its playbook says `on_inconclusive: halt`: why.
    Halted(String),
}

/// One distinct analysis of the batch and the hosts it judges.
struct Measured<'r> {
    analysis: Analysis,
    hosts: Vec<String>,
    /// The host's own, when it judges one host.
    reporter: &'r Reporter,
}

pub fn batch(
    reporter: &Reporter,
    fleet: &Fleet,
    runs: &[Mutex<HostRun<'_>>],
    b: usize,
) -> Judgement {
    if fleet.analyses == 0 {
        return Judgement::Passed;
    }
    let guards: Vec<_> = fleet.batches[b]
        .iter()
        .map(|i| runs[*i].lock().unwrap_or_else(|e| e.into_inner()))
        .collect();
    let mut distinct: Vec<Measured> = vec![];
    for run in guards
        .iter()
        .filter(|r| matches!(r.state, HostState::Deployed))
    {
        let Some(d) = &run.d else { continue };
        let previous = run.previous.clone().unwrap_or_default();
        let list = match d.analyses(&d.release, &previous, Gates::Rollout) {
            Ok(list) => list,
            Err(e) => {
                return Judgement::Failed(format!("{} (on host {})", e.message, run.host.name));
            }
        };
        for a in list {
            let same = distinct.iter_mut().find(|m| {
                m.analysis.name == a.name && m.analysis.url == a.url && m.analysis.query == a.query
            });
            match same {
                Some(m) => m.hosts.push(run.host.name.clone()),
                None => distinct.push(Measured {
                    analysis: a,
                    hosts: vec![run.host.name.clone()],
                    reporter: &run.reporter,
                }),
            }
        }
    }
    let batches = fleet.batches.len();
    let results: Vec<Result<(), Gate>> = std::thread::scope(|s| {
        let running: Vec<_> = distinct
            .iter()
            .map(|m| {
                s.spawn(move || {
                    let (r, name) = if m.hosts.len() == 1 {
                        (
                            m.reporter,
                            format!("analysis {} (batch {}/{batches})", m.analysis.name, b + 1),
                        )
                    } else {
                        (
                            reporter,
                            format!(
                                "analysis {} (batch {}/{batches}: {})",
                                m.analysis.name,
                                b + 1,
                                m.hosts.join(", ")
                            ),
                        )
                    };
                    let step = crate::engine::Step::begin(r, &name);
                    analyzed(r, step, &name, &m.analysis).map_err(|g| match g {
                        Gate::Failed(why) => Gate::Failed(format!("{name}: {why}")),
                        Gate::Halted(why) => Gate::Halted(format!("{name}: {why}")),
                    })
                })
            })
            .collect();
        running
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(Gate::Failed("an analysis thread panicked".into())))
            })
            .collect()
    });
    // One that rolls back decides, before one that halts.
    let first = |rolls_back: bool| {
        results.iter().find_map(|r| match r {
            Err(Gate::Failed(why)) if rolls_back => Some(why.clone()),
            Err(Gate::Halted(why)) if !rolls_back => Some(why.clone()),
            _ => None,
        })
    };
    match (first(true), first(false)) {
        (Some(why), _) => Judgement::Failed(why),
        (None, Some(why)) => Judgement::Halted(why),
        (None, None) => Judgement::Passed,
    }
}
