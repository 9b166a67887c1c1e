//! `tend plan` (and `deploy --dry-run`): the steps as they will run, the rollback that would
//! follow a failure, and what would make that rollback impossible. `tend releases`' table.

use std::fmt::Write;

use super::configure::Previous;
use super::releases::{Releases, State};
use super::resolve::{Deploy, Fleet, Phases};
use super::spec::OnFailure;
use super::steps::{self, Rollback, Step, Undo};
use crate::playbook::Diagnostic;
use crate::probe::Probe;

fn probe_detail(p: &Probe) -> String {
    let mut s = String::new();
    if p.retries > 0 {
        let _ = write!(
            s,
            "{} retries every {}",
            p.retries,
            humantime::format_duration(p.interval)
        );
    }
    if p.successes > 1 {
        if !s.is_empty() {
            s.push_str(", ");
        }
        let _ = write!(s, "{} successes in a row", p.successes);
    }
    if s.is_empty() {
        String::new()
    } else {
        format!(" ({s})")
    }
}

fn detail(d: &Deploy, p: &Phases, step: Step, first: bool) -> String {
    match step {
        Step::Stop(_) if first => {
            format!("{} (skipped: no current release yet)", steps::name(step, p))
        }
        Step::Fetch => {
            let sum = d.artifact.sha256.as_deref().map_or(
                "no sha256 given: the build is not checked".to_string(),
                |s| format!("sha256 {}", super::execute::short(s)),
            );
            format!(
                "fetch {}: {} ({sum}) → releases/{}, checked before anything is stopped",
                p.release,
                d.artifact.shown(),
                p.release
            )
        }
        Step::Migrate(i) => {
            let m = &p.migrate[i];
            let down = match (&m.down, m.backward_compatible) {
                (Some(down), _) => format!("down: {}", down.label),
                (None, true) => "no down; backward compatible".into(),
                (None, false) => "NO DOWN: irreversible".into(),
            };
            format!("{} ({down})", steps::name(step, p))
        }
        Step::Configure(i) => {
            let c = &p.configure[i];
            format!(
                "configure {} from {} (mode {:04o}, previous file kept)",
                c.dest.display(),
                c.template,
                c.mode
            )
        }
        Step::Verify(i) => format!("{}{}", steps::name(step, p), probe_detail(&p.verify[i])),
        Step::Prune => format!("prune old releases (keep_releases: {})", d.keep),
        _ => steps::name(step, p),
    }
}

pub fn warnings(d: &Deploy, p: &Phases) -> Vec<String> {
    let mut w = vec![];
    for m in &p.migrate {
        if m.down.is_none() && !m.backward_compatible {
            w.push(format!(
                "migration '{}' has no `down` and is not backward_compatible: if a later step fails, the rollback halts there (exit 2) and the app stays stopped",
                m.label
            ));
        }
    }
    if p.verify.is_empty() {
        w.push("no `verify` probes: a deploy (and a rollback) counts as verified as soon as `start` exits 0".into());
    }
    if d.artifact.sha256.is_none() {
        w.push("fetch has no `sha256`: nothing checks that the right build is deployed".into());
    }
    w
}

pub fn render(d: &Deploy, fleet: Option<&Fleet>) -> Result<String, Diagnostic> {
    if let Some(f) = fleet {
        return render_fleet(d, f);
    }
    let p = d.phases(&d.release, None)?;
    let journal = Releases::load(&*d.layout.target, &d.layout.journal()).unwrap_or_default();
    let current = d.layout.current_release();
    let target_rec = journal.last_verified(None);
    let target_name = target_rec
        .map(|r| r.release.clone())
        .or_else(|| current.clone());
    let target = match &target_name {
        Some(t) => Some(d.phases(t, target_rec.map(|r| &r.vars))?),
        None => None,
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "deploy {} to {} on this machine",
        d.release,
        d.layout.root.display()
    );
    let _ = writeln!(
        out,
        "current: {}",
        current
            .as_deref()
            .map_or("(none: first deploy)".to_string(), |c| {
                let state = journal
                    .get(c)
                    .map_or("not recorded by tend", |r| r.state.label());
                format!("{c} ({state})")
            })
    );
    let _ = writeln!(out, "\nsteps:");
    for (n, step) in steps::forward(&p).into_iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:>2}. {}",
            n + 1,
            detail(d, &p, step, current.is_none())
        );
    }
    let rb = Rollback {
        stop: &p.stop,
        stop_dir: d.layout.release(&d.release),
        downs: p
            .migrate
            .iter()
            .rev()
            .map(|m| (m, d.layout.release(&d.release)))
            .collect(),
        restore: p
            .configure
            .iter()
            .map(|c| Previous {
                dest: c.dest.clone(),
                content: None,
                mode: c.mode,
            })
            .collect(),
        target: target.as_ref(),
    };
    match &target_name {
        Some(t) => {
            let _ = writeln!(
                out,
                "\nif a step from stop on fails, or tend gets SIGINT/SIGTERM, roll back to {t}:"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "\nif a step from stop on fails, undo what ran (there is no verified release to go back to: exit 2):"
            );
        }
    }
    for (n, step) in rb.steps().into_iter().enumerate() {
        let name = rb.name(step);
        let line = match step {
            Undo::Down(i) if rb.downs[i].0.down.is_none() => {
                let m = rb.downs[i].0;
                if m.backward_compatible {
                    format!("{name}: kept (backward compatible)")
                } else {
                    format!("{name}: IMPOSSIBLE, no `down`: the rollback halts here (exit 2)")
                }
            }
            Undo::Restore => "rollback: restore the config files configure replaced".into(),
            Undo::Verify(i) => format!(
                "{name}{}",
                probe_detail(&rb.target.expect("verify has a target").verify[i])
            ),
            _ => name,
        };
        let _ = writeln!(out, "  {:>2}. {line}", n + 1);
    }
    let warnings = warnings(d, &p);
    if !warnings.is_empty() {
        out.push('\n');
    }
    for w in warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    Ok(out)
}

pub fn table(d: &Deploy, journal: &Releases, current: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: current → {}",
        d.layout.root.display(),
        current.unwrap_or("(none)")
    );
    if journal.releases.is_empty() {
        let _ = writeln!(out, "no releases deployed by tend yet");
        return out;
    }
    let last = journal.last_verified(current).map(|r| r.release.as_str());
    let rows: Vec<[String; 5]> = journal
        .releases
        .iter()
        .map(|r| {
            let mut notes = vec![];
            if Some(r.release.as_str()) == current {
                notes.push("current".to_string());
            }
            if Some(r.release.as_str()) == last {
                notes.push("rollback target".into());
            }
            if r.pruned {
                notes.push("pruned".into());
            }
            if !r.message.is_empty() && r.state != State::Verified {
                notes.push(r.message.clone());
            }
            let when = r
                .deployed_at
                .get(..19)
                .unwrap_or(&r.deployed_at)
                .replace('T', " ");
            [
                r.release.clone(),
                r.state.label().to_string(),
                when,
                r.by.clone(),
                notes.join("; "),
            ]
            .map(|cell| crate::report::printable(&cell).into_owned())
        })
        .collect();
    let head = ["RELEASE", "STATE", "DEPLOYED (UTC)", "BY", "NOTE"];
    let mut width = head.map(str::len);
    for row in &rows {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i == 4 {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<w$}  ", w = width[i]);
            }
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(head));
    for r in &rows {
        let _ = writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    out
}

/// `tend releases` for a fleet: a row per host, a column per release (in deploy order), each
/// cell the release's state there; `*` marks the current one.
pub fn fleet_table(hosts: &[super::fleet::HostReleases]) -> String {
    let mut names: Vec<&str> = vec![];
    for (_, r) in hosts {
        if let Ok((journal, _)) = r {
            for rec in &journal.releases {
                if !names.contains(&rec.release.as_str()) {
                    names.push(&rec.release);
                }
            }
        }
    }
    let mut rows: Vec<Vec<String>> = vec![];
    let mut head = vec!["HOST".to_string()];
    head.extend(names.iter().map(|n| n.to_string()));
    rows.push(head);
    let mut errors = vec![];
    for (host, r) in hosts {
        match r {
            Ok((journal, current)) => {
                let mut row = vec![host.clone()];
                for n in &names {
                    row.push(match journal.get(n) {
                        Some(rec) => format!(
                            "{}{}{}",
                            rec.state.label(),
                            if rec.pruned { " (pruned)" } else { "" },
                            if current.as_deref() == Some(*n) {
                                "*"
                            } else {
                                ""
                            }
                        ),
                        None => "-".into(),
                    });
                }
                rows.push(row);
            }
            Err(e) => errors.push(format!("{host}: {e}")),
        }
    }
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let _ = write!(line, "{cell:<w$}  ", w = width[c]);
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if rows.len() > 1 {
        let _ = writeln!(out, "(* current)");
    }
    for e in errors {
        let _ = writeln!(out, "cannot read {e}");
    }
    out
}

/// A fleet's plan: the batches, each host's root, the steps every host runs, and what a failure
/// does. (Which release each host goes back to is read from its own journal at deploy time.)
fn render_fleet(d: &Deploy, f: &Fleet) -> Result<String, Diagnostic> {
    let first = d.check_hosts(f)?;
    let p = first.phases(&d.release, None)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "deploy {} to {} hosts in {} batches (a batch is deployed and verified before the next starts)",
        d.release,
        f.hosts.len(),
        f.batches.len()
    );
    for (n, batch) in f.batches.iter().enumerate() {
        let _ = writeln!(out, "  batch {}:", n + 1);
        for i in batch {
            let h = &f.hosts[*i];
            let _ = writeln!(out, "    {}  root {}", h.shown(), d.root_on(h)?);
        }
    }
    let _ = writeln!(out, "\nsteps on each host (as on {}):", f.hosts[0].name);
    for (n, step) in steps::forward(&p).into_iter().enumerate() {
        let _ = writeln!(out, "  {:>2}. {}", n + 1, detail(&first, &p, step, false));
    }
    let what = match f.on_failure {
        OnFailure::RollbackAll => {
            "every host switched in this run goes back to its own last verified release, and is verified"
        }
        OnFailure::RollbackBatch => {
            "the failing batch's hosts go back to their last verified release; earlier batches stay on the new one"
        }
        OnFailure::Halt => "the rollout stops; hosts already done stay on the new release",
    };
    let _ = writeln!(
        out,
        "\nif more than {} host(s) of a batch fail: {what}:",
        f.max_failures
    );
    let mut n = 0;
    let mut line = |text: String| {
        n += 1;
        let _ = writeln!(out, "  {n:>2}. rollback: {text}");
    };
    for a in &p.stop {
        line(format!("stop: {}", a.label));
    }
    for m in p.migrate.iter().rev() {
        line(match (&m.down, m.backward_compatible) {
            (Some(down), _) => format!("down: {}", down.label),
            (None, true) => format!("undo migration {}: kept (backward compatible)", m.label),
            (None, false) => format!(
                "undo migration {}: IMPOSSIBLE, no `down`: the rollback halts here (exit 2)",
                m.label
            ),
        });
    }
    if !p.configure.is_empty() {
        line("restore the config files configure replaced".into());
    }
    line("switch current → the host's last verified release".into());
    for a in &p.start {
        line(format!("start: {}", a.label));
    }
    for v in &p.verify {
        line(format!("verify {}{}", v.label(), probe_detail(v)));
    }
    let warnings = warnings(d, &p);
    if !warnings.is_empty() {
        out.push('\n');
    }
    for w in warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    Ok(out)
}
