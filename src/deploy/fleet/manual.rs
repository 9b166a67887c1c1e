//! `tend rollback` and `tend releases` across a fleet: every host at once (up to `--forks`),
//! each with its own journal.

use std::sync::Mutex;

use super::host::{self, CHANGING, Ctx, HostRun, HostState, READING, each, open};
use crate::deploy::on_machine;
use crate::deploy::releases::Releases;
use crate::deploy::resolve::Fleet;
use crate::deploy::runner::Runner;
use crate::error::Exit;
use crate::fleet::parallel;
use crate::report::Level;

/// Each host back to `to` (or its own previous verified release), verified. The exit code:
/// 0 every host verified, 2 any host not verified, else the first refusal's (1 or 64).
pub fn rollback<'a>(
    ctx: &Ctx<'a, '_>,
    fleet: &'a Fleet,
    to: Option<&str>,
) -> (Exit, Vec<HostRun<'a>>) {
    let runs: Vec<Mutex<HostRun>> = fleet
        .hosts
        .iter()
        .map(|h| Mutex::new(HostRun::new(h, ctx.reporter)))
        .collect();
    let all: Vec<usize> = (0..runs.len()).collect();
    // No barrier: a rollback is what is done in a hurry, and each host's own journal says
    // where it goes back to; a host that cannot be reached holds up no other.
    each(ctx, &all, "rollback", |i| {
        let mut run = runs[i].lock().unwrap_or_else(|e| e.into_inner());
        if crate::interrupt::requested() {
            return;
        }
        if let Err(e) = open(ctx, &mut run, CHANGING) {
            return run.unreached(e);
        }
        let (Some(d), Some(ssh)) = (run.d.take(), run.ssh.clone()) else {
            return;
        };
        let mut journal = std::mem::take(&mut run.journal);
        let runner = Runner {
            d: &d,
            reporter: &run.reporter,
            target: &*ssh,
        };
        let outcome = match on_machine::roll_back(&runner, &mut journal, to) {
            on_machine::Back::Refused(o) => {
                runner.reporter.notice(Level::Error, o.message.clone());
                o
            }
            back => back.outcome(),
        };
        run.previous = d.layout.current_release();
        run.journal = journal;
        run.d = Some(d);
        run.state = HostState::RolledBack {
            code: outcome.code,
            message: outcome.message,
        };
    });
    let runs = host::finished(ctx, runs);
    let codes: Vec<Exit> = runs
        .iter()
        .map(|r| match &r.state {
            HostState::RolledBack { code, .. } | HostState::Failed { code, .. } => *code,
            _ => Exit::OK,
        })
        .collect();
    let code = if codes.contains(&Exit::NOT_VERIFIED) {
        Exit::NOT_VERIFIED
    } else {
        codes
            .into_iter()
            .find(|c| *c != Exit::OK)
            .unwrap_or(Exit::OK)
    };
    (code, runs)
}

/// Each host's journal and current release, or why it could not be read.
pub type HostReleases = (
    String,
    Result<(Releases, Option<String>), crate::error::Error>,
);

pub fn releases(ctx: &Ctx, fleet: &Fleet) -> Vec<HostReleases> {
    let out: Vec<Mutex<Option<HostReleases>>> =
        fleet.hosts.iter().map(|_| Mutex::new(None)).collect();
    let all: Vec<usize> = (0..fleet.hosts.len()).collect();
    parallel(ctx.forks, &all, |i| {
        let mut run = HostRun::new(&fleet.hosts[i], ctx.reporter);
        let got = open(ctx, &mut run, READING).map(|()| {
            (
                std::mem::take(&mut run.journal),
                run.d.as_ref().and_then(|d| d.layout.current_release()),
            )
        });
        *out[i].lock().unwrap_or_else(|e| e.into_inner()) =
            Some((fleet.hosts[i].name.clone(), got));
    });
    out.into_iter()
        .filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}
