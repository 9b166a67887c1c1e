//! How check results are printed on stdout: Nagios plugin format, JSON, a table, plain lines.

use serde::Serialize;

use super::verdict::{Perf, Verdict, nagios_code, nagios_word, severity};
use crate::report::Status;

/// Perfdata numbers: plain decimal, no exponent, no trailing zeros.
fn perf_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn perf_item(p: &Perf) -> String {
    // Labels may hold anything but '=' and a single quote (which would end the quoting).
    let label: String = p
        .label
        .chars()
        .map(|c| {
            if matches!(c, '=' | '\'' | '|') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let opt = |v: Option<f64>| v.map(perf_num).unwrap_or_default();
    // Across hosts these come from each host's tend: nothing in them may end the item.
    let word = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_control() && !matches!(c, ' ' | '\'' | '|' | ';' | '='))
            .collect()
    };
    let s = format!(
        "'{label}'={}{};{};{};{};{}",
        perf_num(p.value),
        word(&p.uom),
        word(&p.warn),
        word(&p.crit),
        opt(p.min),
        opt(p.max)
    );
    s.trim_end_matches(';').to_string()
}

/// Text must not contain '|' (it starts perfdata) or newlines (they start long output).
fn clean(s: &str) -> String {
    s.replace('|', "/")
        .replace(['\n', '\r'], " ")
        .chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect()
}

/// `TEND CRITICAL - disk / 93% used | 'disk_/'=93%;80;90;0;100 ...`
pub fn nagios(outcomes: &[Verdict], status: Status) -> String {
    let mut problems: Vec<&Verdict> = outcomes.iter().filter(|o| o.status.is_problem()).collect();
    problems.sort_by_key(|o| std::cmp::Reverse(severity(o.status)));
    let shown: Vec<&Verdict> = if problems.is_empty() {
        outcomes.iter().collect()
    } else {
        problems
    };
    let text = shown
        .iter()
        .map(|o| clean(&format!("{} {}{}", o.name, o.summary, remedy_word(o))))
        .collect::<Vec<_>>()
        .join(", ");
    let perf = outcomes
        .iter()
        .flat_map(|o| &o.perf)
        .map(perf_item)
        .collect::<Vec<_>>()
        .join(" ");
    let text = if text.is_empty() {
        "no checks".to_string()
    } else {
        text
    };
    if perf.is_empty() {
        format!("TEND {} - {text}\n", nagios_word(status))
    } else {
        format!("TEND {} - {text} | {perf}\n", nagios_word(status))
    }
}

/// A remedy in a status line, in two words: " (remedied)", " (remedy failed to help)".
fn remedy_word(o: &Verdict) -> &'static str {
    match &o.remedy {
        None => "",
        Some(r) if !r.ran => " (remedy held back)",
        Some(_) if o.status.is_problem() => " (remedy did not help)",
        Some(_) => " (remedied)",
    }
}

/// Each remedy's story, a line each, for a person: "  remedy disk /: was CRITICAL ...".
fn stories(outcomes: &[Verdict]) -> String {
    let mut out = String::new();
    for o in outcomes {
        if let Some(r) = &o.remedy {
            let host = if o.host.is_empty() {
                String::new()
            } else {
                format!("{} ", o.host)
            };
            out += &format!(
                "remedy {host}{}: {}\n",
                crate::report::printable(&o.name),
                crate::report::printable(&r.story)
            );
        }
    }
    out
}

/// "93% used (46.5 GiB of 50 GiB used, 3.5 GiB free)", or one of them when they say the same.
fn both(o: &Verdict) -> String {
    if o.detail == o.summary || o.detail.contains(&o.summary) {
        o.detail.clone()
    } else {
        format!("{} ({})", o.summary, o.detail)
    }
}

pub fn plain(outcomes: &[Verdict]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let th = if o.thresholds.is_empty() || !o.status.is_problem() {
            String::new()
        } else {
            format!(" ({})", o.thresholds)
        };
        let host = if o.host.is_empty() {
            String::new()
        } else {
            format!("{} ", o.host)
        };
        let told = o
            .remedy
            .as_ref()
            .map_or(String::new(), |r| format!(" [remedy: {}]", r.story));
        let line = format!(
            "{:<8} {host}{}: {}{th}{told}",
            nagios_word(o.status),
            o.name,
            both(o)
        );
        out += &format!("{}\n", crate::report::printable(&line));
    }
    out
}

/// `text` in the colour of `s` on a terminal that takes colour.
fn paint(color: bool, s: Status, text: &str) -> String {
    if !color {
        return text.to_string();
    }
    let code = match s {
        Status::Ok | Status::Skipped => "32",
        Status::Warning => "33",
        Status::Unknown => "35",
        Status::Critical | Status::Failed => "1;31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// "1 critical, 2 ok": how many of `statuses` are in each state, worst first.
fn counts(statuses: &[Status]) -> String {
    [
        Status::Critical,
        Status::Warning,
        Status::Unknown,
        Status::Ok,
    ]
    .iter()
    .map(|s| {
        (
            nagios_word(*s),
            statuses
                .iter()
                .filter(|o| nagios_word(**o) == nagios_word(*s))
                .count(),
        )
    })
    .filter(|(_, n)| *n > 0)
    .map(|(w, n)| format!("{n} {}", w.to_lowercase()))
    .collect::<Vec<_>>()
    .join(", ")
}

pub fn human(outcomes: &[Verdict], status: Status, color: bool) -> String {
    let paint = |s: Status, text: &str| paint(color, s, text);
    let w = outcomes
        .iter()
        .map(|o| o.name.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = String::new();
    for o in outcomes {
        let word = format!("{:<8}", nagios_word(o.status));
        let th = if o.thresholds.is_empty() {
            String::new()
        } else {
            format!("  [{}]", o.thresholds)
        };
        let th = if color {
            format!("\x1b[2m{th}\x1b[0m")
        } else {
            th
        };
        out += &format!(
            "{} {:<w$}  {}{th}\n",
            paint(o.status, &word),
            crate::report::printable(&o.name),
            crate::report::printable(&both(o))
        );
    }
    let statuses: Vec<Status> = outcomes.iter().map(|o| o.status).collect();
    let told = stories(outcomes);
    if !told.is_empty() {
        out += &format!("\n{told}");
    }
    out += &format!(
        "\n{} ({})\n",
        paint(status, nagios_word(status)),
        counts(&statuses)
    );
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    status: &'static str,
    exit_code: crate::error::Exit,
    host: String,
    run: &'a str,
    checked_at: String,
    checks: &'a [Verdict],
}

pub fn json(outcomes: &[Verdict], status: Status, run: &str) -> String {
    let report = JsonReport {
        status: status.label(),
        exit_code: nagios_code(status),
        host: crate::sys::hostname(),
        run,
        checked_at: crate::report::now_rfc3339(),
        checks: outcomes,
    };
    serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
}

/// The fleet's one status line: how many hosts are in the worst state, each problem with its
/// host, and every host's perfdata with the host's name in front of the label:
/// `TEND CRITICAL - 2 of 20 hosts CRITICAL: web3 disk / 93% used, ... | 'web3_disk_/'=93%;...`
pub fn fleet_nagios(outcomes: &[Verdict], status: Status) -> String {
    let hosts = super::verdict::by_host(outcomes);
    let word = nagios_word(status);
    let at_worst = hosts
        .iter()
        .filter(|(_, vs)| nagios_word(super::verdict::worst_status(vs)) == word)
        .count();
    let mut problems: Vec<&Verdict> = outcomes.iter().filter(|o| o.status.is_problem()).collect();
    problems.sort_by_key(|o| std::cmp::Reverse(severity(o.status)));
    let text = if problems.is_empty() {
        format!("{} OK", crate::fleet::hosts(hosts.len()))
    } else {
        format!(
            "{at_worst} of {} {word}: {}",
            crate::fleet::hosts(hosts.len()),
            problems
                .iter()
                .map(|o| clean(&format!(
                    "{} {} {}{}",
                    o.host,
                    o.name,
                    o.summary,
                    remedy_word(o)
                )))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let perf = outcomes
        .iter()
        .flat_map(|o| {
            o.perf.iter().map(|p| {
                perf_item(&Perf {
                    label: format!("{}_{}", o.host, p.label),
                    ..p.clone()
                })
            })
        })
        .collect::<Vec<_>>()
        .join(" ");
    if perf.is_empty() {
        format!("TEND {word} - {text}\n")
    } else {
        format!("TEND {word} - {text} | {perf}\n")
    }
}

/// A line per host for passive checks, as send_nsca reads them: `HOST<tab>SERVICE<tab>CODE<tab>`
/// then the host's own plugin line.
pub fn per_host(outcomes: &[Verdict], service: &str) -> String {
    let mut out = String::new();
    let service = clean(service).replace('\t', " ");
    for (host, vs) in super::verdict::by_host(outcomes) {
        let own: Vec<Verdict> = vs.into_iter().cloned().collect();
        let status = super::verdict::overall(&own);
        let line = nagios(&own, status);
        out += &format!(
            "{}\t{service}\t{}\t{}\n",
            clean(host).replace('\t', " "),
            nagios_code(status).code(),
            line.trim_end()
        );
    }
    out
}

/// A host × check table, the worst hosts first: each check's summary under its name, its state
/// word in front where it is not OK. A host that gave no verdicts says why across the row.
pub fn fleet_human(outcomes: &[Verdict], status: Status, color: bool) -> String {
    let hosts = super::verdict::by_host(outcomes);
    // A column per check and, for a check of several things (every mount), per thing: keyed by
    // the entry of `checks:` and the place among its verdicts, so a name rendered per host
    // (`file_age {{ host.vars.dir }}`) stays one column. Headed by the first host's name.
    let key = |vs: &[&Verdict], o: &Verdict| -> (usize, usize) {
        let nth = vs
            .iter()
            .filter(|v| v.item == o.item)
            .position(|v| std::ptr::eq(*v, o))
            .unwrap_or(0);
        (o.item, nth)
    };
    let mut keys: Vec<(usize, usize)> = vec![];
    let mut columns: Vec<&str> = vec![];
    for (_, vs) in &hosts {
        for o in vs.iter().filter(|o| o.kind != super::verdict::HOST) {
            let k = key(vs, o);
            if !keys.contains(&k) {
                keys.push(k);
                columns.push(&o.name);
            }
        }
    }
    let cell = |o: &Verdict| {
        let text = crate::report::printable(&o.summary).into_owned();
        if o.status.is_problem() {
            format!("{} {text}", nagios_word(o.status))
        } else {
            text
        }
    };
    // Widths from the plain text; colour codes are added after padding.
    let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    for (_, vs) in &hosts {
        for o in vs.iter().filter(|o| o.kind != super::verdict::HOST) {
            if let Some(c) = keys.iter().position(|k| *k == key(vs, o)) {
                widths[c] = widths[c].max(cell(o).chars().count());
            }
        }
    }
    let host_w = hosts
        .iter()
        .map(|(h, _)| h.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut out = format!("{}  {}", pad("HOST", host_w), pad("STATE", 8));
    for (c, w) in columns.iter().zip(&widths) {
        out += &format!("  {}", pad(&crate::report::printable(c), *w));
    }
    out = out.trim_end().to_string() + "\n";
    for (host, vs) in &hosts {
        let state = super::verdict::worst_status(vs);
        let mut line = format!(
            "{}  {}",
            pad(&crate::report::printable(host), host_w),
            paint(color, state, &pad(nagios_word(state), 8))
        );
        if let Some(gave_none) = vs.iter().find(|v| v.kind == super::verdict::HOST) {
            line += &format!("  {}", crate::report::printable(&gave_none.summary));
        } else {
            for (k, w) in keys.iter().zip(&widths) {
                let text = match vs.iter().find(|v| key(vs, v) == *k) {
                    Some(v) => paint(color, v.status, &pad(&cell(v), *w)),
                    None => pad("-", *w),
                };
                line += &format!("  {text}");
            }
        }
        out += line.trim_end();
        out += "\n";
    }
    let told = stories(outcomes);
    if !told.is_empty() {
        out += &format!("\n{told}");
    }
    let states: Vec<Status> = hosts
        .iter()
        .map(|(_, vs)| super::verdict::worst_status(vs))
        .collect();
    out += &format!(
        "\n{} ({} of {})\n",
        paint(color, status, nagios_word(status)),
        counts(&states),
        crate::fleet::hosts(hosts.len())
    );
    out
}

#[derive(Serialize)]
struct FleetHost<'a> {
    host: &'a str,
    status: &'static str,
    exit_code: crate::error::Exit,
    checks: Vec<&'a Verdict>,
}

#[derive(Serialize)]
struct FleetReport<'a> {
    status: &'static str,
    exit_code: crate::error::Exit,
    run: &'a str,
    checked_at: String,
    hosts: Vec<FleetHost<'a>>,
}

/// One document for the fleet: an entry per host (in the inventory's order) with its checks.
pub fn fleet_json(outcomes: &[Verdict], status: Status, run: &str) -> String {
    let mut hosts: Vec<FleetHost> = vec![];
    for o in outcomes {
        match hosts.iter_mut().find(|h| h.host == o.host) {
            Some(h) => h.checks.push(o),
            None => hosts.push(FleetHost {
                host: &o.host,
                status: "",
                exit_code: crate::error::Exit::OK,
                checks: vec![o],
            }),
        }
    }
    for h in &mut hosts {
        let s = super::verdict::worst_status(&h.checks);
        h.status = s.label();
        h.exit_code = nagios_code(s);
    }
    let report = FleetReport {
        status: status.label(),
        exit_code: nagios_code(status),
        run,
        checked_at: crate::report::now_rfc3339(),
        hosts,
    };
    serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
}

/// node_exporter textfile collector format.
pub fn prometheus(outcomes: &[Verdict]) -> String {
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let mut out = String::from(
        "# HELP tend_check_status Check state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n# TYPE tend_check_status gauge\n",
    );
    // Across hosts, every sample names its host first.
    let host = |o: &Verdict| {
        if o.host.is_empty() {
            String::new()
        } else {
            format!("host=\"{}\",", esc(&o.host))
        }
    };
    for o in outcomes {
        out += &format!(
            "tend_check_status{{{}check=\"{}\",kind=\"{}\"}} {}\n",
            host(o),
            esc(&o.name),
            // A host's own words across hosts, so escaped like the rest.
            esc(&o.kind),
            nagios_code(o.status).code()
        );
    }
    out += "# HELP tend_check_value The measured value, as in the perfdata.\n# TYPE tend_check_value gauge\n";
    for o in outcomes {
        for p in &o.perf {
            out += &format!(
                "tend_check_value{{{}check=\"{}\",metric=\"{}\",unit=\"{}\"}} {}\n",
                host(o),
                esc(&o.name),
                esc(&p.label),
                esc(&p.uom),
                perf_num(p.value)
            );
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    out += "# HELP tend_check_last_run_timestamp_seconds When tend check last ran.\n# TYPE tend_check_last_run_timestamp_seconds gauge\n";
    out += &format!("tend_check_last_run_timestamp_seconds {}\n", now.as_secs());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfdata_is_the_plugin_format() {
        let p = Perf {
            label: "disk_/".into(),
            value: 93.0,
            uom: "%".into(),
            warn: "80".into(),
            crit: "90".into(),
            min: Some(0.0),
            max: Some(100.0),
        };
        assert_eq!(perf_item(&p), "'disk_/'=93%;80;90;0;100");
        let p = Perf {
            label: "load1".into(),
            value: 0.5,
            uom: String::new(),
            warn: "5".into(),
            crit: "10".into(),
            min: Some(0.0),
            max: None,
        };
        assert_eq!(perf_item(&p), "'load1'=0.5;5;10;0");
    }
}
