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
    let s = format!(
        "'{label}'={}{};{};{};{};{}",
        perf_num(p.value),
        p.uom,
        p.warn,
        p.crit,
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
        .map(|o| clean(&format!("{} {}", o.name, o.summary)))
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
        let line = format!("{:<8} {}: {}{th}", nagios_word(o.status), o.name, both(o));
        out += &format!("{}\n", crate::report::printable(&line));
    }
    out
}

pub fn human(outcomes: &[Verdict], status: Status, color: bool) -> String {
    let paint = |s: Status, text: &str| {
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
    };
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
    let counts = [
        Status::Critical,
        Status::Warning,
        Status::Unknown,
        Status::Ok,
    ]
    .iter()
    .map(|s| {
        (
            nagios_word(*s),
            outcomes
                .iter()
                .filter(|o| nagios_word(o.status) == nagios_word(*s))
                .count(),
        )
    })
    .filter(|(_, n)| *n > 0)
    .map(|(w, n)| format!("{n} {}", w.to_lowercase()))
    .collect::<Vec<_>>()
    .join(", ");
    out += &format!("\n{} ({counts})\n", paint(status, nagios_word(status)));
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
    for o in outcomes {
        out += &format!(
            "tend_check_status{{check=\"{}\",kind=\"{}\"}} {}\n",
            esc(&o.name),
            o.kind,
            nagios_code(o.status).code()
        );
    }
    out += "# HELP tend_check_value The measured value, as in the perfdata.\n# TYPE tend_check_value gauge\n";
    for o in outcomes {
        for p in &o.perf {
            out += &format!(
                "tend_check_value{{check=\"{}\",metric=\"{}\",unit=\"{}\"}} {}\n",
                esc(&o.name),
                esc(&p.label),
                p.uom,
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
