//! `--limit` in Ansible's pattern language: `web1,db` or `web1:db` (either), a group or a host,
//! `web*` (a glob), `~web[0-9]+` (a regex, matched from the name's start), `!excluded`,
//! `&also_in`, `all` or `*`, and `@file` (a host a line, as Ansible's retry files). Terms
//! apply as Ansible applies them: the plain ones first (their union), then each `&`, then each
//! `!`. A term that picks no host is an error naming the groups there are: a typo in `!web3x`
//! must not deploy to web3.

use std::collections::BTreeSet;

use super::Host;
use crate::playbook::Invalid;

/// The hosts `spec` picks, in the inventory's order.
pub fn select(hosts: Vec<Host>, spec: &str) -> Result<Vec<Host>, Invalid> {
    let mut terms = vec![];
    for term in split(spec) {
        match term.strip_prefix('@') {
            Some(file) => {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| format!("--limit @{file}: {}", crate::sys::describe_io(&e)))?;
                terms.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(String::from),
                );
            }
            None => terms.push(term.to_string()),
        }
    }
    let (mut plain, mut rest): (Vec<String>, Vec<String>) =
        terms.into_iter().partition(|t| !t.starts_with(['&', '!']));
    rest.sort_by_key(|t| t.starts_with('!'));
    if plain.is_empty() {
        plain.push("all".into());
    }
    let mut picked: Vec<usize> = vec![];
    for term in plain.iter().chain(&rest) {
        let (op, expr) = match term.chars().next() {
            Some(c @ ('&' | '!')) => (Some(c), &term[1..]),
            _ => (None, term.as_str()),
        };
        let these = matches(&hosts, expr)?;
        if these.is_empty() {
            let groups: BTreeSet<&str> = hosts
                .iter()
                .flat_map(|h| h.groups.iter().map(String::as_str))
                .collect();
            return Err(crate::playbook::diagnostic::with_hint(
                format!("--limit: no host or group '{expr}'"),
                format!(
                    "groups: {}",
                    if groups.is_empty() {
                        "none (the hosts are given by name)".to_string()
                    } else {
                        groups.into_iter().collect::<Vec<_>>().join(", ")
                    }
                ),
            ));
        }
        match op {
            Some('&') => picked.retain(|i| these.contains(i)),
            Some(_) => picked.retain(|i| !these.contains(i)),
            None => picked.extend(
                these
                    .iter()
                    .filter(|i| !picked.contains(i))
                    .collect::<Vec<_>>(),
            ),
        }
    }
    let keep: BTreeSet<usize> = picked.into_iter().collect();
    Ok(hosts
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, h)| h)
        .collect())
}

/// `a,b` by commas when there are any, else by colons outside brackets (`web[1:3]` is one).
fn split(spec: &str) -> Vec<&str> {
    let parts: Vec<&str> = if spec.contains(',') {
        spec.split(',').collect()
    } else {
        let mut out = vec![];
        let (mut depth, mut start) = (0i32, 0);
        for (i, c) in spec.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                ':' if depth == 0 => {
                    out.push(&spec[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(&spec[start..]);
        out
    };
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// The hosts one expression picks, as Ansible's `_enumerate_matches`: the hosts of every group
/// it matches; and the hosts it matches by name when no group matched or it is a glob or a
/// regex.
fn matches(hosts: &[Host], expr: &str) -> Result<BTreeSet<usize>, Invalid> {
    if expr == "all" || expr == "*" {
        return Ok((0..hosts.len()).collect());
    }
    if let Some(i) = hosts.iter().position(|h| h.name == expr) {
        return Ok([i].into());
    }
    let matcher = Matcher::new(expr)?;
    let mut found: BTreeSet<usize> = BTreeSet::new();
    let mut any_group = false;
    for (i, h) in hosts.iter().enumerate() {
        if h.groups.iter().any(|g| matcher.is_match(g)) {
            any_group = true;
            found.insert(i);
        }
    }
    let special = expr.starts_with('~') || expr.contains(['.', '?', '*', '[']);
    if !any_group || special {
        for (i, h) in hosts.iter().enumerate() {
            if matcher.is_match(&h.name) || matcher.is_match(&h.address) {
                found.insert(i);
            }
        }
    }
    Ok(found)
}

enum Matcher {
    Glob(globset::GlobMatcher),
    Regex(regex::Regex),
}

impl Matcher {
    fn new(expr: &str) -> Result<Matcher, Invalid> {
        let bad = |e: String| Invalid::from(format!("--limit: '{expr}' is not a pattern: {e}"));
        match expr.strip_prefix('~') {
            // Python's re.match: from the name's start, not to its end.
            Some(re) => regex::Regex::new(&format!("^(?:{re})"))
                .map(Matcher::Regex)
                // Its last line says what is wrong, without the anchor added above.
                .map_err(|e| bad(e.to_string().lines().last().unwrap_or_default().to_string())),
            None => globset::GlobBuilder::new(expr)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map(|g| Matcher::Glob(g.compile_matcher()))
                .map_err(|e| bad(e.kind().to_string())),
        }
    }

    fn is_match(&self, name: &str) -> bool {
        match self {
            Matcher::Glob(g) => g.is_match(name),
            Matcher::Regex(r) => r.is_match(name),
        }
    }
}
