//! Alert on state changes (OK -> WARNING -> CRITICAL, and recovery), and again every
//! `alert.repeat` while bad. The state file remembers what each check was and what was last
//! sent, so a cron job every minute does not flood the inbox, and an alert that could not be
//! delivered is tried again on the next run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::verdict::{Verdict, nagios_word, severity};
use crate::notify::{Alert, Delivery, Notifier};
use crate::report::Status;

#[derive(Serialize, Deserialize, Clone, Debug)]
struct Entry {
    status: Status,
    /// Unix seconds since the check has been in `status`.
    since: u64,
    /// The state the last delivered alert told people about.
    notified: Status,
    notified_at: Option<u64>,
}

#[derive(Serialize, Deserialize, Default, Debug)]
struct State {
    checks: BTreeMap<String, Entry>,
    /// When the run that wrote this began measuring (Unix milliseconds): a slower run that
    /// began earlier and ends later must not put its older view back, nor page about it.
    #[serde(default)]
    measured: u64,
}

pub struct Context<'a> {
    pub state_file: PathBuf,
    /// When this run began measuring, Unix milliseconds.
    pub measured: u64,
    pub notifier: &'a Notifier,
    pub repeat: Option<Duration>,
    pub playbook: String,
    /// The playbook's `name:` (its file's name without one).
    pub name: String,
    pub run: &'a str,
    pub runbook: Option<String>,
    pub first_steps: Vec<String>,
}

/// Now, in Unix milliseconds: when a run begins measuring.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

fn ago(secs: u64, now: u64) -> String {
    humantime::format_duration(Duration::from_secs(now.saturating_sub(secs))).to_string()
}

/// A check as the state file keys it (`host/name` across hosts): masked, since the file is
/// written to disk and a check may be named after a URL with a token in it.
fn key(o: &Verdict) -> String {
    if o.host.is_empty() {
        crate::redact::redact(&o.name)
    } else {
        crate::redact::redact(&format!("{}/{}", o.host, o.name))
    }
}

/// Where a verdict was checked: its host, or this machine.
fn host_of<'a>(o: &'a Verdict, here: &'a str) -> &'a str {
    if o.host.is_empty() { here } else { &o.host }
}

/// What happened: each channel's delivery, for the report.
pub fn process(ctx: &Context, outcomes: &[Verdict]) -> Result<Vec<Delivery>, crate::error::Error> {
    let now = now();
    let mut state: State = match std::fs::read(&ctx.state_file) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
        Err(e) => {
            return Err(crate::error::Error::io(
                "read the alert state",
                &ctx.state_file,
                e,
            ));
        }
    };
    if state.measured > ctx.measured {
        return Ok(vec![]);
    }
    // Stamped, but written only with a change: a write (and its fsync) on every run would
    // cost a cron check more than the check.
    let mut dirty = false;
    state.measured = ctx.measured;
    let mut changed: Vec<usize> = vec![];
    for (i, o) in outcomes.iter().enumerate() {
        let e = state.checks.entry(key(o)).or_insert_with(|| {
            dirty = true;
            Entry {
                status: o.status,
                since: now,
                notified: Status::Ok,
                notified_at: None,
            }
        });
        if e.status != o.status {
            e.status = o.status;
            e.since = now;
            dirty = true;
        }
        if e.notified != o.status {
            changed.push(i);
        }
    }
    let before = state.checks.len();
    state
        .checks
        .retain(|name, _| outcomes.iter().any(|o| &key(o) == name));
    dirty |= state.checks.len() != before;

    let bad: Vec<usize> = (0..outcomes.len())
        .filter(|&i| outcomes[i].status.is_problem())
        .collect();
    let reminder = changed.is_empty()
        && !bad.is_empty()
        && ctx.repeat.is_some_and(|r| {
            bad.iter().all(|&i| {
                state.checks[&key(&outcomes[i])]
                    .notified_at
                    .is_none_or(|t| now >= t + r.as_secs())
            })
        });
    // A remedy that made a check OK is told even where nothing changed state: people learn
    // what ran on their hosts, in the same alert as any change.
    let fixed: Vec<usize> = (0..outcomes.len())
        .filter(|&i| outcomes[i].remedied() && !changed.contains(&i))
        .collect();
    let mut deliveries = vec![];
    if !changed.is_empty() || reminder || !fixed.is_empty() {
        let about: Vec<usize> = match (reminder, changed.is_empty()) {
            (true, _) => bad.clone(),
            (false, _) => changed.iter().chain(&fixed).copied().collect(),
        };
        let about: &[usize] = &about;
        let reason = if !reminder && changed.is_empty() {
            "remedy"
        } else {
            reason_for(outcomes, about)
        };
        let mut delivered = true;
        if !ctx.notifier.is_empty() && ctx.notifier.wants(reason) {
            let alert = compose(ctx, outcomes, about, reason, reminder, &state, now);
            deliveries = ctx.notifier.send(&alert);
            delivered = deliveries.iter().all(Delivery::sent);
        }
        if delivered {
            for &i in about {
                let e = state
                    .checks
                    .get_mut(&key(&outcomes[i]))
                    .expect("entry added above");
                e.notified = outcomes[i].status;
                e.notified_at = Some(now);
            }
            dirty = true;
        }
    }
    // Alertmanager forgets an alert not posted again: what is still bad is, every run (and the
    // alert is composed only for a channel that takes it).
    let reason = reason_for(outcomes, &bad);
    if deliveries.is_empty() && !bad.is_empty() && ctx.notifier.refreshes(reason) {
        let alert = compose(ctx, outcomes, &bad, reason, true, &state, now);
        deliveries = ctx.notifier.refresh(&alert);
    }
    if dirty {
        let json = serde_json::to_vec_pretty(&state).unwrap_or_default();
        if let Some(dir) = ctx.state_file.parent() {
            crate::fsutil::ensure_dir(dir)
                .map_err(|e| crate::error::Error::io("create", dir, e))?;
        }
        crate::fsutil::atomic_write(&ctx.state_file, &json, 0o600)
            .map_err(|e| crate::error::Error::io("save the alert state", &ctx.state_file, e))?;
    }
    Ok(deliveries)
}

/// Why an alert about `about` goes out: its worst state's reason (recovery when all are OK).
fn reason_for(outcomes: &[Verdict], about: &[usize]) -> &'static str {
    let worst = about
        .iter()
        .map(|&i| outcomes[i].status)
        .max_by_key(|s| severity(*s))
        .unwrap_or(Status::Ok);
    match worst {
        Status::Ok | Status::Skipped => "recovery",
        Status::Warning => "warning",
        Status::Unknown => "unknown",
        Status::Critical | Status::Failed => "critical",
    }
}

fn compose(
    ctx: &Context,
    outcomes: &[Verdict],
    about: &[usize],
    reason: &str,
    reminder: bool,
    state: &State,
    now: u64,
) -> Alert {
    let here = crate::sys::hostname();
    let fleet = outcomes.iter().any(|o| !o.host.is_empty());
    let mut about: Vec<usize> = about.to_vec();
    about.sort_by_key(|&i| std::cmp::Reverse(severity(outcomes[i].status)));
    let first = &outcomes[about[0]];
    let word = |o: &Verdict| {
        if o.status.is_problem() {
            nagios_word(o.status)
        } else if o.remedied() {
            "REMEDIED"
        } else {
            "RECOVERED"
        }
    };
    let more = if about.len() > 1 {
        format!(" (+{} more)", about.len() - 1)
    } else {
        String::new()
    };
    let still = if reminder { "still " } else { "" };
    let mut named: Vec<&str> = vec![];
    for &i in &about {
        if !named.contains(&host_of(&outcomes[i], &here)) {
            named.push(host_of(&outcomes[i], &here));
        }
    }
    // One alert a run, however many hosts changed: the subject says how many.
    let subject = match named.len() {
        1 => format!(
            "[tend] {}: {still}{} {} {}{more}",
            named[0],
            word(first),
            first.name,
            first.summary
        ),
        n => format!(
            "[tend] {n} hosts: {still}{} {} {} {}{more}",
            word(first),
            first.host,
            first.name,
            first.summary
        ),
    };

    let mut body = String::new();
    for &i in &about {
        let o = &outcomes[i];
        let e = &state.checks[&key(o)];
        body += &format!(
            "{}{} on {}: {} {}\n",
            still.to_uppercase(),
            word(o),
            host_of(o, &here),
            o.name,
            o.summary
        );
        body += &format!("  value:      {}\n", o.detail);
        if !o.thresholds.is_empty() {
            body += &format!("  threshold:  {}\n", o.thresholds);
        }
        body += &format!(
            "  since:      {} ({} ago)\n",
            rfc3339(e.since),
            ago(e.since, now)
        );
        if !reminder && e.notified != o.status {
            body += &format!("  was:        {}\n", nagios_word(e.notified));
        }
        if let Some(r) = &o.remedy {
            body += &format!("  remedy:     {}\n", r.story);
        }
        if let Some(r) = &o.runbook {
            body += &format!("  runbook:    {r}\n");
        }
        for (n, step) in o.first_steps.iter().enumerate() {
            body += &format!("  step {}:     {step}\n", n + 1);
        }
        body += "\n";
    }
    if fleet {
        body += &everywhere(ctx, outcomes);
    } else {
        body += &format!("All checks on {here} ({}):\n", ctx.playbook);
        let w = outcomes.iter().map(|o| o.name.len()).max().unwrap_or(0);
        for o in outcomes {
            body += &format!(
                "  {:<8}  {:<w$}  {}\n",
                nagios_word(o.status),
                o.name,
                o.summary
            );
        }
    }
    if let Some(r) = &ctx.runbook {
        body += &format!("\nRunbook: {r}\n");
    }
    if !ctx.first_steps.is_empty() {
        body += "First steps:\n";
        for (n, step) in ctx.first_steps.iter().enumerate() {
            body += &format!("  {}. {step}\n", n + 1);
        }
    }
    let cadence = match ctx.repeat {
        Some(r) => format!(
            "repeated every {} while a check stays bad",
            humantime::format_duration(r)
        ),
        None => "sent when a check changes state".to_string(),
    };
    body += &format!(
        "\n-- \ntend check {} (run {}), {}; alerts are {cadence}.\n",
        ctx.playbook,
        ctx.run,
        rfc3339(now)
    );
    let mut incidents = vec![];
    for &i in &about {
        let (o, e) = (&outcomes[i], &state.checks[&key(&outcomes[i])]);
        let now_bad = incident(ctx, o, e, host_of(o, &here));
        // WARNING → CRITICAL is another alert where severity is a label: the one told before
        // is resolved, not left to expire.
        if o.status.is_problem() && e.notified.is_problem() && e.notified != o.status {
            let mut before = now_bad.clone();
            before.severity = nagios_word(e.notified).to_ascii_lowercase();
            before.resolved = true;
            incidents.push(before);
        }
        incidents.push(now_bad);
    }
    Alert {
        subject,
        body,
        reason: reason.to_string(),
        kind: "check".into(),
        playbook: ctx.name.clone(),
        incidents,
    }
}

/// Across hosts, what every host's checks say: each host not OK with its problems, the OK ones
/// counted (a fleet of hundreds is not listed check by check).
fn everywhere(ctx: &Context, outcomes: &[Verdict]) -> String {
    let hosts = super::verdict::by_host(outcomes);
    let mut body = format!("Every host ({}):\n", ctx.playbook);
    let mut ok = 0;
    for (host, vs) in &hosts {
        let state = super::verdict::worst_status(vs);
        if !state.is_problem() {
            ok += 1;
            continue;
        }
        let problems: Vec<String> = vs
            .iter()
            .filter(|v| v.status.is_problem())
            .map(|v| format!("{} {} {}", nagios_word(v.status), v.name, v.summary))
            .collect();
        body += &format!(
            "  {:<8}  {host}: {}\n",
            nagios_word(state),
            problems.join("; ")
        );
    }
    if ok > 0 {
        body += &format!("  OK        {} more\n", crate::fleet::hosts(ok));
    }
    body
}

/// A check as Alertmanager keeps it: resolved once it is OK again.
fn incident(ctx: &Context, o: &Verdict, e: &Entry, host: &str) -> crate::notify::Incident {
    crate::notify::Incident {
        name: o.name.clone(),
        // A recovery carries the labels of the alert it resolves: the state last told.
        severity: nagios_word(if o.status.is_problem() {
            o.status
        } else {
            e.notified
        })
        .to_ascii_lowercase(),
        host: host.to_string(),
        resolved: !o.status.is_problem(),
        summary: format!("{} {}: {}", nagios_word(o.status), o.name, o.summary),
        description: [o.detail.clone(), o.thresholds.clone()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        since: Some(rfc3339(e.since)),
        runbook: o.runbook.clone().or_else(|| ctx.runbook.clone()),
        first_steps: if o.first_steps.is_empty() {
            ctx.first_steps.clone()
        } else {
            o.first_steps.clone()
        },
        link: None,
    }
}

/// The alert a drill trips: `outcomes[tripped]` as if it had just gone bad (the others as they
/// are), marked `[DRILL]` where a person reads it and in the name channels key it by, so that
/// neither a person nor Alertmanager takes it for (or resolves) the real one. No state is read
/// or written: the next real run alerts as if the drill never happened.
pub fn drilled(ctx: &Context, outcomes: &[Verdict], tripped: usize) -> Alert {
    let now = now();
    let state = State {
        checks: outcomes
            .iter()
            .map(|o| {
                let e = Entry {
                    status: o.status,
                    since: now,
                    notified: Status::Ok,
                    notified_at: None,
                };
                (key(o), e)
            })
            .collect(),
        measured: ctx.measured,
    };
    let reason = reason_for(outcomes, &[tripped]);
    let mut alert = compose(ctx, outcomes, &[tripped], reason, false, &state, now);
    alert.subject = format!("[DRILL] {}", alert.subject);
    alert.body = format!(
        "[DRILL] This alert was tripped on purpose by `tend drill --trip` (its threshold overridden): no action is needed. It shows what the real one looks like and that it reaches you.\n\n{}",
        alert.body
    );
    for i in &mut alert.incidents {
        i.name = format!("[DRILL] {}", i.name);
        i.summary = format!("[DRILL] {}", i.summary);
    }
    alert
}
