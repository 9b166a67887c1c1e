//! `tend check` across hosts: tend runs the checks on each host itself (`fleet::remote`), up to
//! `--forks` hosts at once, and brings each verdict back with its host on it. A host that cannot
//! be reached or cannot run tend is one UNKNOWN verdict saying why; the others report as usual.

use std::sync::Mutex;
use std::time::Duration;

use super::CheckPlaybook;
use super::remedy::{self, Place, Remedies};
use super::verdict::{HOST, Verdict};
use crate::action::Action;
use crate::fleet::envelope::Envelope;
use crate::fleet::{self, Early, Targets, remote};
use crate::inventory::Host;
use crate::machine::ssh::SshSpec;
use crate::playbook::Loaded;
use crate::report::Reporter;

pub struct Ctx<'a> {
    pub loaded: &'a Loaded<CheckPlaybook>,
    pub secrets: &'a std::collections::BTreeMap<String, String>,
    pub ssh: SshSpec,
    pub reporter: &'a Reporter,
    pub forks: usize,
    /// The checks' deadline on each host.
    pub deadline: Duration,
    /// Run where a host's check sets one off (not with `--no-remedy`).
    pub remedies: Option<&'a Remedies<'a>>,
}

/// Every host's verdicts, host by host in the inventory's order.
pub fn check(ctx: &Ctx, targets: &Targets) -> Vec<Verdict> {
    // A host's connection closes when its checks are done: `--forks` of them are open at once.
    fleet::room_for(ctx.reporter, targets.hosts.len().min(ctx.forks));
    let found: Vec<Mutex<Vec<Verdict>>> =
        targets.hosts.iter().map(|_| Mutex::new(vec![])).collect();
    let all: Vec<usize> = (0..targets.hosts.len()).collect();
    fleet::each(ctx.reporter, ctx.forks, &all, "check", |i| {
        let verdicts = on_host(ctx, &targets.hosts[i]);
        *found[i].lock().unwrap_or_else(|e| e.into_inner()) = verdicts;
    });
    found
        .into_iter()
        .flat_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

/// The host's verdicts, each with its name on it, or one UNKNOWN saying why there are none.
fn on_host(ctx: &Ctx, host: &Host) -> Vec<Verdict> {
    let reporter = ctx.reporter.for_host(&host.name);
    let mut verdicts = match checked_on(ctx, host, &reporter) {
        Ok(v) => v,
        Err(why) => vec![Verdict::unknown("tend".into(), HOST, why)],
    };
    for v in &mut verdicts {
        v.host.clone_from(&host.name);
    }
    verdicts
}

fn checked_on(ctx: &Ctx, host: &Host, reporter: &Reporter) -> Result<Vec<Verdict>, String> {
    let ssh =
        fleet::connect(reporter, host, &ctx.ssh, &Early::default()).map_err(|e| e.to_string())?;
    let tend =
        remote::ensure(reporter, &ssh, &ctx.ssh, Some(ctx.deadline)).map_err(|e| e.to_string())?;
    let envelope = Envelope {
        timeout_ms: Some(ctx.deadline.as_millis() as u64),
        ..Envelope::of(
            &ctx.loaded.source,
            &ctx.loaded.vars,
            host.as_json(),
            ctx.secrets,
        )
    };
    let place = OnHost {
        ctx,
        host,
        ssh: &ssh,
        tend: &tend,
        envelope,
    };
    let verdicts = place.check(reporter)?;
    Ok(match ctx.remedies {
        Some(r) => r.apply(&place, reporter, &host.name, verdicts),
        None => verdicts,
    })
}

/// A host, for its checks and their remedies: the connection, and the tend found there.
struct OnHost<'a> {
    ctx: &'a Ctx<'a>,
    host: &'a Host,
    ssh: &'a crate::machine::ssh::Ssh,
    tend: &'a str,
    envelope: Envelope,
}

impl OnHost<'_> {
    /// The host's verdicts, measured by the tend there.
    fn check(&self, reporter: &Reporter) -> Result<Vec<Verdict>, String> {
        // The checks' own deadline, and time to start tend and bring the answer back.
        let limit = self.ctx.deadline + Duration::from_secs(30);
        let ran = remote::run(
            reporter,
            self.ssh,
            self.tend,
            "check",
            &self.envelope,
            limit,
        )
        .map_err(|e| e.to_string())?;
        let checks = ran
            .result
            .as_ref()
            .and_then(|r| r.get("checks"))
            .and_then(|c| serde_json::from_value::<Vec<Verdict>>(c.clone()).ok());
        match checks {
            Some(v) => Ok(accounted(v, self.ctx.loaded.body.checks.len())),
            None => Err(ran.why(self.tend)),
        }
    }
}

/// A host's verdicts as this run takes them: its words made printable (they reach the table,
/// the Nagios line and the alert's body, where a line break would forge a line) and masked;
/// one for each of the `checks` entries at least, a missing one UNKNOWN (a host's tend that
/// leaves a check out must not pass for OK), none for an entry the playbook has not.
fn accounted(mut verdicts: Vec<Verdict>, checks: usize) -> Vec<Verdict> {
    verdicts.retain(|v| v.item < checks);
    for v in &mut verdicts {
        let fix = |s: &mut String| *s = crate::report::printable(s).into_owned();
        fix(&mut v.name);
        fix(&mut v.summary);
        fix(&mut v.detail);
        fix(&mut v.thresholds);
        v.perf.iter_mut().for_each(|p| fix(&mut p.label));
        v.redact();
    }
    for item in 0..checks {
        if !verdicts.iter().any(|v| v.item == item) {
            let mut v = Verdict::unknown(
                format!("check {}", item + 1),
                "tend",
                "the host's tend gave no verdict for it",
            );
            v.item = item;
            verdicts.push(v);
        }
    }
    verdicts.sort_by_key(|v| v.item);
    verdicts
}

impl Place for OnHost<'_> {
    fn run(&self, action: &Action, reporter: &Reporter, step: &str) -> Result<String, String> {
        remedy::done(action.execute(self.ssh, reporter, step, None))
    }

    fn cleanup(&self, reporter: &Reporter, envelope: &Envelope) -> Result<String, String> {
        let ran = remote::run(
            reporter,
            self.ssh,
            self.tend,
            "cleanup",
            envelope,
            remedy::CLEANUP_LIMIT,
        )
        .map_err(|e| e.to_string())?;
        crate::cleanup::Outcome::of(&ran, self.tend).map(|o| o.told())
    }

    fn recheck(&self, reporter: &Reporter, items: &[usize]) -> Vec<Verdict> {
        match self.check(reporter) {
            Ok(all) => all
                .into_iter()
                .filter(|v| items.contains(&v.item))
                .collect(),
            Err(why) => items
                .iter()
                .map(|&i| {
                    let mut v = Verdict::unknown(
                        "tend".into(),
                        HOST,
                        format!("not measured again after the remedy: {why}"),
                    );
                    v.item = i;
                    v
                })
                .collect(),
        }
    }

    fn host(&self) -> serde_json::Value {
        self.host.as_json()
    }
}
