//! `tend plan` on a check playbook: each check as the run takes it (the step name its run
//! reports) and how it is judged, the run's deadline and where alerts go. Nothing is measured.

use std::fmt::Write;

use serde::Serialize;

use super::evaluate::Resolved;
use super::spec::CheckSpec;
use super::threshold::Levels;
use crate::notify::Notifier;

#[derive(Serialize)]
pub struct Doc {
    kind: &'static str,
    name: String,
    /// Seconds: every check must answer within it.
    deadline: f64,
    steps: Vec<Planned>,
    alerts: Vec<String>,
    /// Where the checks run, across hosts (none: this machine).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hosts: Vec<String>,
}

#[derive(Serialize)]
struct Planned {
    step: String,
    judged: String,
    /// What runs when the check goes bad, when, and how often at most.
    #[serde(skip_serializing_if = "Option::is_none")]
    remedy: Option<String>,
}

pub fn build(
    name: String,
    checks: &[Resolved],
    deadline: std::time::Duration,
    n: &Notifier,
    hosts: Vec<String>,
) -> Doc {
    Doc {
        hosts,
        kind: "check",
        name,
        deadline: deadline.as_secs_f64(),
        steps: checks
            .iter()
            .map(|c| Planned {
                step: c.label(),
                judged: judged(c),
                remedy: c.remedy.as_ref().map(|r| {
                    format!(
                        "when {}: {}, then the check again; at most once per {} on a host (not with --no-remedy)",
                        r.when(),
                        r.shown(),
                        humantime::format_duration(r.max_per)
                    )
                }),
            })
            .collect(),
        alerts: n.routes(),
    }
}

pub fn text(doc: &Doc, deadline: std::time::Duration) -> String {
    let mut s = format!(
        "check {}: {} checks; the run gives up on any still running after {}\n\nsteps:\n",
        doc.name,
        doc.steps.len(),
        humantime::format_duration(deadline)
    );
    if !doc.hosts.is_empty() {
        let names: Vec<&str> = doc.hosts.iter().map(String::as_str).collect();
        s = format!(
            "{}\non {}: {} (tend runs the checks on each, over SSH)\n{}",
            s.trim_end_matches("\n\nsteps:\n"),
            crate::fleet::hosts(names.len()),
            crate::inventory::few(&names),
            "\nsteps:\n"
        );
    }
    for (i, p) in doc.steps.iter().enumerate() {
        let _ = writeln!(s, "  {:>2}. {}: {}", i + 1, p.step, p.judged);
        if let Some(r) = &p.remedy {
            let _ = writeln!(s, "      remedy {r}");
        }
    }
    s += "\nalerts: ";
    s += &if doc.alerts.is_empty() {
        "none (no `notify:`)".to_string()
    } else {
        doc.alerts.join("; ")
    };
    s += "\n";
    s
}

/// When a check is critical or warning, in words.
fn judged(c: &Resolved) -> String {
    match (&c.spec, &c.probe) {
        (CheckSpec::Cpu(cpu), _) => format!(
            "{}, over a {} sample",
            cpu.levels.describe(),
            humantime::format_duration(cpu.sample.0)
        ),
        (CheckSpec::Memory(u) | CheckSpec::Swap(u), _) => u.levels.describe(),
        (CheckSpec::Disk(d) | CheckSpec::Inodes(d), _) => {
            let mut parts: Vec<String> = d.levels.iter().map(Levels::describe).collect();
            parts.extend(d.free.iter().map(|f| format!("free: {}", f.describe())));
            parts.join("; ")
        }
        (CheckSpec::Load(l), _) => {
            let each: Vec<String> = ["1 min", "5 min", "15 min"]
                .iter()
                .zip(&l.levels)
                .filter(|(_, lv)| !lv.describe().is_empty())
                .map(|(m, lv)| format!("{m}: {}", lv.describe()))
                .collect();
            let per = if l.per_cpu { " (per CPU)" } else { "" };
            format!("{}{per}", each.join("; "))
        }
        (CheckSpec::Process(p), _) => format!("count {}", p.levels.describe()),
        (CheckSpec::FileAge(f), _) => format!("age {}", f.levels.describe()),
        (CheckSpec::Probe(_), Some(p)) => format!(
            "critical when it fails ({} attempts of up to {} each, {} apart)",
            p.attempts(),
            humantime::format_duration(p.timeout),
            humantime::format_duration(p.interval)
        ),
        (CheckSpec::Probe(_), None) => "critical when it fails".into(),
        (CheckSpec::Prometheus(q), _) => format!(
            "{}; UNKNOWN when the query fails or selects no series",
            q.levels.describe()
        ),
    }
}
