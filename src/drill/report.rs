//! The game-day report: what a drill did and how long each part took, as Markdown for the
//! post-game-day review (`--report`), as a JSON document (`--output json`), and as the few lines
//! an operator reads on stdout.

use std::fmt::Write;

use serde::Serialize;

use super::{Leg, took};
use crate::report::{Status, format_ms, printable};

#[derive(Serialize)]
pub struct Document {
    /// The playbook's kind: deploy, failover or check.
    pub kind: String,
    pub name: String,
    pub playbook: String,
    pub run: String,
    pub started: String,
    pub by: String,
    pub verdict: String,
    pub exit_code: i32,
    pub message: String,
    pub budget_ms: Option<u64>,
    pub took_ms: u64,
    pub legs: Vec<Leg>,
    pub milestones: Vec<Milestone>,
    pub findings: Vec<String>,
    pub notes: Vec<String>,
    pub timeline: Vec<Moment>,
    /// The command that runs this drill again.
    pub again: String,
}

#[derive(Serialize)]
pub struct Milestone {
    pub host: String,
    pub what: String,
    pub at_ms: u64,
}

#[derive(Serialize)]
pub struct Moment {
    pub at_ms: u64,
    pub host: String,
    pub step: String,
    pub status: Status,
    pub took_ms: u64,
    pub message: String,
}

/// A value as a code span: one line, and nothing a Markdown renderer makes of it (a heading, a
/// row, a tag, a link, an autolinked URL, emphasis, an entity) can come from a release name, a
/// command's output or a server's answer.
fn code(s: &str) -> String {
    let text = printable(s);
    if text.is_empty() {
        return String::new();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// `code`, in a table cell: a `|` there would end the cell (GFM reads `\|` as one even in a
/// code span).
fn cell(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// The host a leg or step ran on: a name, as a value, or this machine.
fn on(h: &str) -> String {
    if h.is_empty() {
        "this machine".into()
    } else {
        cell(h)
    }
}

fn at(ms: u64) -> String {
    format!("+{}.{:03}s", ms / 1000, ms % 1000)
}

/// `on`, outside a table.
fn named(h: &str) -> String {
    if h.is_empty() {
        "this machine".into()
    } else {
        code(h)
    }
}

fn budget(l: &Leg) -> String {
    l.budget_ms.map_or("-".into(), super::budget)
}

fn state(l: &Leg) -> &'static str {
    match (l.verified, l.within_budget()) {
        (true, true) => "yes",
        (true, false) => "yes, OVER BUDGET",
        (false, _) => "NO",
    }
}

impl Document {
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(
            md,
            "# Game day: {} drill of {}: {}\n",
            self.kind,
            code(&self.name),
            self.verdict.to_uppercase()
        );
        let _ = writeln!(md, "- Playbook: {}", code(&self.playbook));
        let _ = writeln!(md, "- Started: {} by {}", self.started, code(&self.by));
        let _ = writeln!(md, "- Took: {}", format_ms(self.took_ms));
        if let Some(b) = self.budget_ms {
            let _ = writeln!(md, "- Budget: {} per leg", super::budget(b));
        }
        let _ = writeln!(
            md,
            "- Verdict: {} (exit {}): {}",
            self.verdict,
            self.exit_code,
            code(&self.message)
        );
        let _ = writeln!(md, "- Run: `{}`", self.run);
        md.push_str("\n## Legs\n\n");
        if self.legs.is_empty() {
            md.push_str("No leg ran.\n");
        } else {
            md.push_str("| host | leg | from → to | took | of which steps | budget | verified |\n|---|---|---|---|---|---|---|\n");
            for l in &self.legs {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} → {} | {} | {} | {} | {} |",
                    on(&l.host),
                    l.leg,
                    cell(&l.from),
                    cell(&l.to),
                    took(l.took_ms),
                    took(l.steps_ms),
                    budget(l),
                    state(l)
                );
            }
        }
        if !self.milestones.is_empty() {
            md.push_str("\n## Milestones\n\n| at | host | what |\n|---|---|---|\n");
            for m in &self.milestones {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} |",
                    at(m.at_ms),
                    on(&m.host),
                    cell(&m.what)
                );
            }
        }
        if !self.notes.is_empty() {
            md.push_str("\n## Notes\n\n");
            for n in &self.notes {
                let _ = writeln!(md, "- {}", code(n));
            }
        }
        md.push_str("\n## What failed\n\n");
        let failed: Vec<String> = self
            .legs
            .iter()
            .filter(|l| !l.passed())
            .map(|l| {
                let what = if l.verified {
                    format!(
                        "over its budget of {} (took {})",
                        budget(l),
                        took(l.took_ms)
                    )
                } else {
                    l.message.clone()
                };
                format!(
                    "{} on {}: {} → {}: {}",
                    l.leg,
                    named(&l.host),
                    code(&l.from),
                    code(&l.to),
                    code(&what)
                )
            })
            .chain(self.findings.iter().map(|f| code(f)))
            .collect();
        if failed.is_empty() {
            md.push_str("Nothing.\n");
        }
        for f in failed {
            let _ = writeln!(md, "- {f}");
        }
        md.push_str("\n## Timeline\n\n| at | host | step | status | took | detail |\n|---|---|---|---|---|---|\n");
        for m in &self.timeline {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                at(m.at_ms),
                on(&m.host),
                cell(&m.step),
                m.status.label(),
                if m.step.is_empty() {
                    String::new()
                } else {
                    format_ms(m.took_ms)
                },
                cell(&m.message)
            );
        }
        let _ = writeln!(
            md,
            "\n## Reproduce\n\n```sh\n{}\ntend history show {}\n```",
            // One line, whatever a --var held: nothing can close the block early.
            printable(&self.again),
            self.run
        );
        md
    }

    /// What stdout shows: one line per leg, then the verdict.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let hosts = self.legs.iter().any(|l| !l.host.is_empty());
        for l in &self.legs {
            let on = if hosts {
                format!("{}  ", printable(&l.host))
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "{on}{:<9} {} → {}  {} of {}  {}",
                l.leg,
                printable(&l.from),
                printable(&l.to),
                took(l.took_ms),
                budget(l),
                if l.within_budget() {
                    l.state().to_string()
                } else {
                    format!("{}, OVER BUDGET", l.state())
                }
            );
        }
        for m in &self.milestones {
            let _ = writeln!(out, "  {} {}", at(m.at_ms), printable(&m.what));
        }
        for n in &self.notes {
            let _ = writeln!(out, "{}", printable(n));
        }
        let _ = writeln!(out, "drill {}: {}", self.verdict, printable(&self.message));
        out
    }
}
