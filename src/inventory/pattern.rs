//! `--limit` in Ansible's pattern language: `web1,db` or `web1:db` (either), a group or a host,
//! `web*` (a glob), `~web[0-9]+` (a regex, matched from the name's start), `!excluded`,
//! `&also_in`, `all` or `*`, and `@file` (a host a line, as Ansible's retry files). Terms
//! apply as Ansible applies them: the plain ones first (their union), then each `&`, then each
//! `!`. A term that picks no host is an error naming the groups there are: a typo in `!web3x`
//! must not deploy to web3.

use std::collections::BTreeSet;

use indexmap::IndexSet;

use crate::playbook::Invalid;

/// A host as a pattern sees it: its name and groups (its address only when a term matches no
/// name or group: `Candidate::address` is asked then).
pub struct Candidate<'a> {
    pub name: &'a str,
    pub groups: Vec<&'a str>,
}

/// The order a subscript (`web[0]`) counts in, as Ansible's `_enumerate_matches` lists hosts:
/// each matching group's hosts in its own order (`Group.get_hosts`), the groups in the order
/// the inventory first named them, then the hosts matching by name in the order they were
/// first named.
pub struct Order<'a> {
    /// The inventory's groups, in the order first named.
    pub groups: Vec<&'a str>,
    /// A group's hosts (candidate indices) in its own order.
    pub members: &'a dyn Fn(&str) -> Vec<usize>,
    /// Every candidate, in the order first named.
    pub named: Vec<usize>,
}

/// The candidates `spec` picks (indices, in the candidates' order); `address(i)` is candidate
/// i's address, for a term that names one whole.
pub fn select(
    hosts: &[Candidate],
    spec: &str,
    address: &dyn Fn(usize) -> Option<String>,
    order: &Order,
) -> Result<Vec<usize>, Invalid> {
    let mut terms = vec![];
    for term in split(spec) {
        match term.strip_prefix('@') {
            Some(file) => {
                let text = super::files::text_of(std::path::Path::new(file), "--limit @")?;
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
    // An empty `$HOSTS` in a script must not mean every host, as it does to Ansible.
    if terms.is_empty() {
        return Err(crate::playbook::diagnostic::with_hint(
            format!("--limit '{spec}' names no host or group"),
            "give the hosts or groups to act on (--limit web1,db), or leave --limit out for every host",
        ));
    }
    let (mut plain, mut rest): (Vec<String>, Vec<String>) =
        terms.into_iter().partition(|t| !t.starts_with(['&', '!']));
    rest.sort_by_key(|t| t.starts_with('!'));
    if plain.is_empty() {
        plain.push("all".into());
    }
    let mut picked: IndexSet<usize> = IndexSet::new();
    for term in plain.iter().chain(&rest) {
        let (op, expr) = match term.chars().next() {
            Some(c @ ('&' | '!')) => (Some(c), &term[1..]),
            _ => (None, term.as_str()),
        };
        let (expr, subscript) = subscript(expr)?;
        let found = matches(hosts, expr, address)?;
        let these = match subscript {
            None => found.into_iter().collect(),
            Some(slice) => pick(in_order(hosts, expr, &found, order)?, slice, term)?,
        };
        if these.is_empty() {
            let groups: BTreeSet<&str> = hosts
                .iter()
                .flat_map(|h| h.groups.iter().copied())
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
            Some(op) => {
                let these: BTreeSet<usize> = these.into_iter().collect();
                picked.retain(|i| these.contains(i) == (op == '&'));
            }
            None => picked.extend(these),
        }
    }
    let mut picked: Vec<usize> = picked.into_iter().collect();
    picked.sort_unstable();
    Ok(picked)
}

/// `[i]` as (i, None), `[a:b]` as (a, Some(b)), `[a:]` as (a, Some(-1)).
type Slice = (i64, Option<i64>);

/// `web[0]`, `web[-1]`, `web[1:]`, `web[0:2]` (both ends kept): a slice of what `web` picks,
/// in the inventory's order (Ansible's `_split_subscript`); a regex has none.
fn subscript(expr: &str) -> Result<(&str, Option<Slice>), Invalid> {
    static SUBSCRIPT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$").expect("valid")
    });
    if expr.starts_with('~') {
        return Ok((expr, None));
    }
    let Some(m) = SUBSCRIPT.captures(expr) else {
        return Ok((expr, None));
    };
    let number = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| Invalid::from(format!("--limit: '{expr}': {s} is too large an index")))
    };
    let base = m.get(1).map_or("", |b| b.as_str());
    let base = &expr[..base.len()];
    Ok(match (m.get(2), m.get(3), m.get(5)) {
        (Some(i), _, _) => (base, Some((number(i.as_str())?, None))),
        (None, Some(start), end) => {
            let end = match end.map(|e| e.as_str()) {
                None | Some("") => -1,
                Some(e) => number(e)?,
            };
            (base, Some((number(start.as_str())?, Some(end))))
        }
        _ => (expr, None),
    })
}

/// What `expr` picked (`found`), listed as Ansible lists it before a subscript: the hosts of
/// each group it matches in that group's order, then those it matches by name (a host twice
/// when it is both, or in two such groups, as in Ansible).
fn in_order(
    hosts: &[Candidate],
    expr: &str,
    found: &BTreeSet<usize>,
    order: &Order,
) -> Result<Vec<usize>, Invalid> {
    if expr == "all" || expr == "*" || hosts.iter().any(|h| h.name == expr) {
        return Ok(found.iter().copied().collect());
    }
    let matcher = Matcher::new(expr)?;
    let groups: Vec<&str> = order
        .groups
        .iter()
        .copied()
        .filter(|g| matcher.is_match(g))
        .collect();
    let mut listed: Vec<usize> = groups
        .iter()
        .flat_map(|g| (order.members)(g))
        .filter(|i| found.contains(i))
        .collect();
    let special = expr.starts_with('~') || expr.contains(['.', '?', '*', '[']);
    if groups.is_empty() || special {
        listed.extend(
            order
                .named
                .iter()
                .copied()
                .filter(|i| found.contains(i) && matcher.is_match(hosts[*i].name)),
        );
    }
    // Picked by address: in the order named.
    if listed.is_empty() {
        listed.extend(order.named.iter().copied().filter(|i| found.contains(i)));
    }
    Ok(listed)
}

/// The hosts a term picks once its subscript applies: Python's `hosts[i]` and `hosts[a:b+1]`.
fn pick(found: Vec<usize>, subscript: Slice, term: &str) -> Result<Vec<usize>, Invalid> {
    let n = found.len() as i64;
    Ok(match subscript {
        (i, None) => {
            let at = if i < 0 { n + i } else { i };
            if at < 0 || at >= n {
                return Err(format!(
                    "--limit: '{term}': index {i} is outside the {n} host(s) it picks from"
                )
                .into());
            }
            vec![found[at as usize]]
        }
        // As Ansible's: an end of 0 takes the start alone.
        (start, Some(0)) => found.get(start as usize).into_iter().copied().collect(),
        (start, Some(end)) => {
            let end = if end == -1 { n - 1 } else { end };
            let (from, to) = (start.clamp(0, n), (end + 1).clamp(0, n));
            found[from as usize..to.max(from) as usize].to_vec()
        }
    })
}

/// `a,b` by commas when there are any, else by colons outside brackets (`web[1:3]` is one); an
/// IPv6 address (`::1`) is one term.
fn split(spec: &str) -> Vec<&str> {
    let parts: Vec<&str> = if spec.contains(',') {
        spec.split(',').collect()
    } else if spec.trim().parse::<std::net::Ipv6Addr>().is_ok() {
        vec![spec]
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
fn matches(
    hosts: &[Candidate],
    expr: &str,
    address: &dyn Fn(usize) -> Option<String>,
) -> Result<BTreeSet<usize>, Invalid> {
    if expr == "all" || expr == "*" {
        return Ok((0..hosts.len()).collect());
    }
    // A name, or an address given whole (`--limit 10.0.0.11` for a host named web1).
    if let Some(i) = hosts.iter().position(|h| h.name == expr) {
        return Ok([i].into());
    }
    let a_group = hosts.iter().any(|h| h.groups.contains(&expr));
    if !a_group && !expr.starts_with('~') && !expr.contains(['*', '?', '[']) {
        let by_address: BTreeSet<usize> = (0..hosts.len())
            .filter(|i| address(*i).as_deref() == Some(expr))
            .collect();
        if !by_address.is_empty() {
            return Ok(by_address);
        }
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
            if matcher.is_match(h.name) {
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
