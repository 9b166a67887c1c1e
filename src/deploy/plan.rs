//! `tend plan` (and `deploy --dry-run`): the steps as they will run, the rollback that would
//! follow a failure, and what would make that rollback impossible. `tend releases`' table.

use std::fmt::Write;

use serde::Serialize;

use super::configure::Previous;
use super::fleet::HostReleases;
use super::releases::{Releases, State};
use super::resolve::{Deploy, Fleet, Phases};
use super::spec::OnFailure;
use super::steps::{self, Rollback, Step, Undo};
use crate::playbook::Diagnostic;
use crate::probe::Probe;
use crate::report::printable;

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
        Step::Analyze(i) => format!("{}: {}", steps::name(step, p), p.analyses[i].describe()),
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
    let rollout_analysis = d
        .loaded
        .body
        .deploy
        .rollout
        .as_ref()
        .is_some_and(|r| !r.analysis.is_empty());
    if p.verify.is_empty() && p.analyses.is_empty() && !rollout_analysis {
        w.push("no `verify` probes: a deploy (and a rollback) counts as verified as soon as `start` exits 0".into());
    } else if p.verify.is_empty() {
        w.push("no `verify` probes: a rollback counts as verified as soon as `start` exits 0 (an analysis gates the deploy, not the rollback)".into());
    }
    if d.artifact.sha256.is_none() {
        w.push("fetch has no `sha256`: nothing checks that the right build is deployed".into());
    }
    let spec = &d.loaded.body.deploy;
    let analyses = spec
        .verify
        .iter()
        .filter_map(|v| v.analysis.as_deref())
        .chain(
            spec.rollout
                .iter()
                .flat_map(|r| r.analysis.iter().map(|a| &a.prometheus)),
        );
    for a in analyses.filter(|a| !a.selects_the_canary()) {
        w.push(format!(
            "analysis '{}': the query names neither {{{{ host.name }}}} nor {{{{ release }}}}, so it measures every host and release alike and cannot tell the canary from the rest",
            a.name.as_deref().unwrap_or("prometheus")
        ));
    }
    w
}

/// A plan as a reviewer reads it, and as `--output json` gives it: per host, the steps with
/// the whole of every command they run, and the rollback that follows a failure.
#[derive(Serialize)]
pub struct Doc {
    pub kind: &'static str,
    pub release: String,
    pub hosts: Vec<HostPlan>,
    /// A fleet's rollout; absent on this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    pub warnings: Vec<String>,
}

#[derive(Serialize)]
pub struct HostPlan {
    /// Absent on this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// A fleet's host as the inventory resolves it.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    pub root: String,
    /// The release live now, as this machine's journal has it (a fleet's hosts are read at
    /// deploy time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    pub steps: Vec<Line>,
    pub rollback: RollbackPlan,
}

/// How a fleet's host is reached and what it brings: `ansible_host`, `ansible_port`,
/// `ansible_user`, `ansible_become*` resolved, its groups and its other vars (what a template
/// sees as `host.vars`).
#[derive(Serialize)]
pub struct Target {
    pub name: String,
    pub address: String,
    pub port: u16,
    /// Absent: the user tend runs as.
    pub user: Option<String>,
    /// Commands run through sudo, as this user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub become_user: Option<String>,
    pub groups: Vec<String>,
    pub vars: crate::inventory::HostVars,
}

impl Target {
    fn of(h: &crate::inventory::Host, become_all: bool) -> Target {
        Target {
            name: h.name.clone(),
            address: h.address.clone(),
            port: h.port,
            user: h.user.clone(),
            become_user: h.sudo_user(become_all).map(String::from),
            groups: h.groups.to_vec(),
            vars: h.vars.clone(),
        }
    }
}

#[derive(Serialize)]
pub struct RollbackPlan {
    /// When it runs.
    pub when: String,
    /// The release it goes back to; absent when there is none yet, or (a fleet) when each
    /// host's own journal names it at deploy time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub steps: Vec<Line>,
}

#[derive(Serialize)]
pub struct Rollout {
    pub batches: Vec<Vec<String>>,
    pub on_failure: String,
    pub max_failures: usize,
    /// `rollout.analysis`, as the first host renders it: run over each batch once deployed.
    pub analysis: Vec<String>,
    /// Waited between a batch's passed analysis and the next batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause: Option<String>,
}

/// A step of a plan, with the whole command it runs: a reviewer approves what will run, not
/// its first line.
#[derive(Serialize)]
pub struct Line {
    pub step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// "local": the step runs on the machine tend runs on, not on the host (`on: local`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on: Option<&'static str>,
}

impl Line {
    fn of(step: String) -> Line {
        Line {
            step,
            command: None,
            on: None,
        }
    }

    fn running(step: String, run: &str) -> Line {
        Line {
            step,
            command: Some(crate::redact::redact(run)),
            on: None,
        }
    }

    /// An action's step, marked when it runs on the machine tend runs on.
    fn action(step: String, a: &crate::action::Action) -> Line {
        match a.on {
            crate::action::On::Local => Line {
                on: Some("local"),
                ..Line::running(format!("{step} [local]"), &a.run)
            },
            crate::action::On::Hosts => Line::running(step, &a.run),
        }
    }

    fn probing(step: String, p: &Probe) -> Line {
        match &p.kind {
            crate::probe::Kind::Command { run, .. } => Line::running(step, run),
            _ => Line::of(step),
        }
    }

    fn write(&self, out: &mut String, n: usize) {
        let _ = writeln!(out, "  {n:>2}. {}", printable(&self.step));
        // The command's every line, unless the step's line already shows all of it.
        if let Some(cmd) = &self.command
            && !self.step.contains(cmd.trim())
        {
            for l in cmd.trim_end().lines() {
                let _ = writeln!(out, "        | {}", printable(l));
            }
        }
    }
}

fn forward(d: &Deploy, p: &Phases, first: bool) -> Vec<Line> {
    steps::forward(p)
        .into_iter()
        .map(|step| {
            let text = detail(d, p, step, first);
            match step {
                Step::Stop(i) => Line::action(text, &p.stop[i]),
                Step::Migrate(i) => Line::action(text, &p.migrate[i].up),
                Step::Start(i) => Line::action(text, &p.start[i]),
                Step::Verify(i) => Line::probing(text, &p.verify[i]),
                _ => Line::of(text),
            }
        })
        .collect()
}

/// A plan as text. `hosts` are a fleet's journals as read from the hosts (none: offline).
pub fn render(
    d: &Deploy,
    fleet: Option<&Fleet>,
    hosts: &[HostReleases],
) -> Result<String, Diagnostic> {
    let doc = build(d, fleet, hosts)?;
    Ok(match fleet {
        Some(f) => text_fleet(&doc, f),
        None => text_local(&doc),
    })
}

pub fn build(d: &Deploy, fleet: Option<&Fleet>, hosts: &[HostReleases]) -> Result<Doc, Diagnostic> {
    if let Some(f) = fleet {
        return build_fleet(d, f, hosts);
    }
    let p = d.phases(&d.release, None)?;
    let journal = Releases::load(&*d.layout.target, &d.layout.journal()).unwrap_or_default();
    let current = d.layout.current_release();
    let rollback = rollback_plan(
        d,
        &p,
        &journal,
        current.as_deref(),
        "if a step from stop on fails, or tend gets SIGINT/SIGTERM",
    )?;
    Ok(Doc {
        kind: "deploy",
        release: d.release.clone(),
        hosts: vec![HostPlan {
            host: None,
            target: None,
            root: d.layout.root.display().to_string(),
            current: shown_current(&journal, current.as_deref()),
            steps: forward(d, &p, current.is_none()),
            rollback,
        }],
        rollout: None,
        warnings: warnings(d, &p),
    })
}

/// "v1 (verified)": the release live now and what its journal says of it.
fn shown_current(journal: &Releases, current: Option<&str>) -> Option<String> {
    current.map(|c| {
        let state = journal
            .get(c)
            .map_or("not recorded by tend", |r| r.state.label());
        format!("{c} ({state})")
    })
}

/// The rollback that follows a failure of `p`'s deploy: back to the last verified release in
/// `journal` (else the current one), each of its steps rendered as that release has them.
fn rollback_plan(
    d: &Deploy,
    p: &Phases,
    journal: &Releases,
    current: Option<&str>,
    when: &str,
) -> Result<RollbackPlan, Diagnostic> {
    let target_rec = journal.last_verified(None);
    let target_name = target_rec
        .map(|r| r.release.clone())
        .or_else(|| current.map(str::to_string));
    let target = match &target_name {
        Some(t) => Some(d.phases(t, target_rec.map(|r| &r.vars))?),
        None => None,
    };
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
    let when = match &target_name {
        Some(t) => format!("{when}, roll back to {t}"),
        None => {
            format!("{when}, undo what ran (there is no verified release to go back to: exit 2)")
        }
    };
    let steps = rb
        .steps()
        .into_iter()
        .map(|step| {
            let name = rb.name(step);
            match step {
                Undo::Down(i) => {
                    let m = rb.downs[i].0;
                    match &m.down {
                        Some(down) => Line::action(name, down),
                        None if m.backward_compatible => {
                            Line::of(format!("{name}: kept (backward compatible)"))
                        }
                        None => Line::of(format!(
                            "{name}: IMPOSSIBLE, no `down`: the rollback halts here (exit 2)"
                        )),
                    }
                }
                Undo::Restore => {
                    Line::of("rollback: restore the config files configure replaced".into())
                }
                Undo::Stop(i) => Line::action(name, &rb.stop[i]),
                Undo::Start(i) => match rb.target {
                    Some(t) => Line::action(name, &t.start[i]),
                    None => Line::of(name),
                },
                Undo::Verify(i) => {
                    let v = &rb.target.expect("verify has a target").verify[i];
                    Line::probing(format!("{name}{}", probe_detail(v)), v)
                }
                Undo::Switch => Line::of(name),
            }
        })
        .collect();
    Ok(RollbackPlan {
        when,
        to: target_name,
        steps,
    })
}

fn text_local(doc: &Doc) -> String {
    let h = &doc.hosts[0];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "deploy {} to {} on this machine",
        printable(&doc.release),
        printable(&h.root)
    );
    let _ = writeln!(
        out,
        "current: {}",
        printable(h.current.as_deref().unwrap_or("(none: first deploy)"))
    );
    let _ = writeln!(out, "\nsteps:");
    for (n, l) in h.steps.iter().enumerate() {
        l.write(&mut out, n + 1);
    }
    let _ = writeln!(out, "\n{}:", h.rollback.when);
    for (n, l) in h.rollback.steps.iter().enumerate() {
        l.write(&mut out, n + 1);
    }
    text_warnings(&mut out, &doc.warnings);
    out
}

fn text_warnings(out: &mut String, warnings: &[String]) {
    if !warnings.is_empty() {
        out.push('\n');
    }
    for w in warnings {
        let _ = writeln!(out, "warning: {}", printable(w));
    }
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
pub fn fleet_table(hosts: &[HostReleases]) -> String {
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

/// A fleet's plan: the batches, each host's root and steps, and what a failure does: each
/// host's rollback as its own journal has it, when the hosts were read.
fn build_fleet(d: &Deploy, f: &Fleet, read: &[HostReleases]) -> Result<Doc, Diagnostic> {
    let mut hosts = vec![];
    let mut first = None;
    let mut unread = vec![];
    let when = format!("if more than {} host(s) of a batch fail", f.max_failures);
    let become_all = d
        .loaded
        .body
        .ssh
        .as_ref()
        .is_some_and(|s| s.become_ == Some(crate::machine::ssh::Become::Sudo));
    for h in &f.hosts {
        let (on, p) = d.rendered_on(h)?;
        let journal = read
            .iter()
            .find(|(name, _)| *name == h.name)
            .map(|(_, r)| r);
        let (current, rollback) = match journal {
            Some(Ok((journal, current))) => (
                shown_current(journal, current.as_deref()),
                rollback_plan(&on, &p, journal, current.as_deref(), &when)?,
            ),
            other => {
                if let Some(Err(why)) = other {
                    unread.push(format!(
                        "{}: its journal cannot be read ({why}): its rollback target is read at deploy time",
                        h.name
                    ));
                }
                (
                    None,
                    RollbackPlan {
                        when: format!("{when}, roll back to its last verified release"),
                        to: None,
                        steps: fleet_rollback(&p),
                    },
                )
            }
        };
        hosts.push(HostPlan {
            host: Some(h.shown()),
            target: Some(Target::of(h, become_all)),
            root: on.layout.root.display().to_string(),
            current,
            steps: forward(&on, &p, false),
            rollback,
        });
        first.get_or_insert(p);
    }
    let Some(p) = first else {
        return Err(Diagnostic::new("no hosts"));
    };
    let on_failure = match f.on_failure {
        OnFailure::RollbackAll => {
            "every host switched in this run goes back to its own last verified release, and is verified"
        }
        OnFailure::RollbackBatch => {
            "the failing batch's hosts go back to their last verified release; earlier batches stay on the new one"
        }
        OnFailure::Halt => "the rollout stops; hosts already done stay on the new release",
    };
    let mut noted = f.warnings.clone();
    noted.extend(warnings(d, &p));
    noted.extend(unread);
    Ok(Doc {
        kind: "deploy",
        release: d.release.clone(),
        rollout: Some(Rollout {
            batches: f
                .batches
                .iter()
                .map(|b| b.iter().map(|i| f.hosts[*i].shown()).collect())
                .collect(),
            on_failure: on_failure.to_string(),
            max_failures: f.max_failures,
            analysis: d
                .check_hosts(f)?
                .analyses(&d.release, "", super::resolve::Gates::Rollout)?
                .iter()
                .map(|a| format!("analysis {}: {}", a.name, a.describe()))
                .collect(),
            pause: (!f.pause.is_zero()).then(|| humantime::format_duration(f.pause).to_string()),
        }),
        hosts,
        warnings: noted,
    })
}

/// The rollback every host of a fleet runs: the one it goes back to is its own.
fn fleet_rollback(p: &Phases) -> Vec<Line> {
    let mut lines = vec![];
    for a in &p.stop {
        lines.push(Line::action(format!("rollback: stop: {}", a.label), a));
    }
    for m in p.migrate.iter().rev() {
        lines.push(match (&m.down, m.backward_compatible) {
            (Some(down), _) => Line::action(format!("rollback: down: {}", down.label), down),
            (None, true) => Line::of(format!(
                "rollback: undo migration {}: kept (backward compatible)",
                m.label
            )),
            (None, false) => Line::of(format!(
                "rollback: undo migration {}: IMPOSSIBLE, no `down`: the rollback halts here (exit 2)",
                m.label
            )),
        });
    }
    if !p.configure.is_empty() {
        lines.push(Line::of(
            "rollback: restore the config files configure replaced".into(),
        ));
    }
    lines.push(Line::of(
        "rollback: switch current → the host's last verified release".into(),
    ));
    for a in &p.start {
        lines.push(Line::action(format!("rollback: start: {}", a.label), a));
    }
    for v in &p.verify {
        lines.push(Line::probing(
            format!("rollback: verify {}{}", v.label(), probe_detail(v)),
            v,
        ));
    }
    lines
}

fn text_fleet(doc: &Doc, f: &Fleet) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "deploy {} to {} in {} (a batch is deployed and verified before the next starts)",
        printable(&doc.release),
        super::fleet::hosts(f.hosts.len()),
        match f.batches.len() {
            1 => "1 batch".to_string(),
            n => format!("{n} batches"),
        }
    );
    for (n, batch) in f.batches.iter().enumerate() {
        let _ = writeln!(out, "  batch {}:", n + 1);
        for i in batch {
            let h = &doc.hosts[*i];
            let sudo = h
                .target
                .as_ref()
                .and_then(|t| t.become_user.as_deref())
                .map_or(String::new(), |u| format!("  (sudo as {u})"));
            let _ = writeln!(
                out,
                "    {}  root {}{}",
                printable(h.host.as_deref().unwrap_or("")),
                printable(&h.root),
                printable(&sudo)
            );
        }
    }
    // Hosts whose steps render alike are listed together: a host whose vars make its commands
    // differ shows its own, so a reviewer sees every command that will run.
    let mut alike: Vec<(Vec<&str>, &[Line])> = vec![];
    for (h, plan) in f.hosts.iter().zip(&doc.hosts) {
        match alike
            .iter_mut()
            .find(|(_, steps)| same_lines(steps, &plan.steps))
        {
            Some((names, _)) => names.push(&h.name),
            None => alike.push((vec![&h.name], &plan.steps)),
        }
    }
    let shown = alike.len().min(MOST_LISTS);
    for (names, steps) in &alike[..shown] {
        if alike.len() == 1 {
            let _ = writeln!(out, "\nsteps on each host (as on {}):", printable(names[0]));
        } else {
            let _ = writeln!(out, "\nsteps on {}:", printable(&names.join(", ")));
        }
        for (n, l) in steps.iter().enumerate() {
            l.write(&mut out, n + 1);
        }
    }
    more_lists(&mut out, &alike[shown..], "steps");
    if let Some(r) = doc.rollout.as_ref().filter(|r| !r.analysis.is_empty()) {
        let _ = writeln!(
            out,
            "\nafter each batch, before the next starts{}:",
            r.pause
                .as_ref()
                .map_or(String::new(), |p| format!(" (then a pause of {p})"))
        );
        for a in &r.analysis {
            let _ = writeln!(out, "  {}", printable(a));
        }
    }
    let on_failure = doc.rollout.as_ref().map_or("", |r| r.on_failure.as_str());
    let analysed = doc.rollout.as_ref().is_some_and(|r| !r.analysis.is_empty());
    let _ = writeln!(
        out,
        "\nif more than {} host(s) of a batch fail{}: {on_failure}",
        doc.rollout.as_ref().map_or(0, |r| r.max_failures),
        if analysed {
            ", or its analysis does not pass"
        } else {
            ""
        }
    );
    // Hosts whose rollbacks are the same are listed together: one list of steps for each.
    let mut groups: Vec<(Vec<&str>, &RollbackPlan)> = vec![];
    for h in &doc.hosts {
        let name = h.host.as_deref().unwrap_or("");
        match groups
            .iter_mut()
            .find(|(_, rb)| rb.to == h.rollback.to && same_steps(rb, &h.rollback))
        {
            Some((names, _)) => names.push(name),
            None => groups.push((vec![name], &h.rollback)),
        }
    }
    let shown = groups.len().min(MOST_LISTS);
    more_lists(&mut out, &groups[shown..], "rollback");
    for (names, rb) in groups.into_iter().take(shown) {
        let back = rb.to.as_deref().map_or_else(
            || "its last verified release, read at deploy time".to_string(),
            |t| printable(t).into_owned(),
        );
        let _ = writeln!(
            out,
            "\nrollback on {}, back to {back}:",
            printable(&names.join(", "))
        );
        for (n, l) in rb.steps.iter().enumerate() {
            l.write(&mut out, n + 1);
        }
    }
    text_warnings(&mut out, &doc.warnings);
    out
}

/// The step lists a text plan shows; a fleet whose hosts each render their own (a command with
/// `{{ host.name }}`) would print thousands: the JSON plan has every host's.
const MOST_LISTS: usize = 10;

fn more_lists<T>(out: &mut String, rest: &[(Vec<&str>, T)], what: &str) {
    let hosts: usize = rest.iter().map(|(names, _)| names.len()).sum();
    if hosts > 0 {
        let _ = writeln!(
            out,
            "\n... and {hosts} more host(s) whose {what} differ from those above: --output json lists each host's"
        );
    }
}

fn same_steps(a: &RollbackPlan, b: &RollbackPlan) -> bool {
    same_lines(&a.steps, &b.steps)
}

fn same_lines(a: &[Line], b: &[Line]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.step == y.step && x.command == y.command && x.on == y.on)
}
