//! Ansible's INI inventory (`hosts`, `inventory.ini`): `[group]` sections of host lines with
//! `key=value` vars, `[group:vars]`, `[group:children]`, hosts before any section in
//! `ungrouped`, `host:port`, ranges, `#` and `;` comments; read as Ansible's ini plugin reads
//! it (a host line split like `shlex.split(..., comments=True)`, values as Python literals).

use super::tree::Tree;
use super::{literal, ranges};
use crate::playbook::{Invalid, Vars};

enum State {
    Hosts,
    Vars,
    Children,
}

/// The inventory `text` (from `file`, for errors) holds.
pub fn read(text: &str, file: &str) -> Result<Tree, Invalid> {
    let mut tree = Tree::new();
    let (mut group, mut state) = ("ungrouped".to_string(), State::Hosts);
    // `[g:vars]` of a group nothing else names is an error once the whole file is read.
    let mut pending: Vec<(String, usize)> = vec![];
    // `all` and `ungrouped` are always there: `[all:vars]` is the commonest section of all.
    let mut declared: std::collections::BTreeSet<String> =
        ["all".to_string(), "ungrouped".to_string()].into();
    for (n, raw) in text.lines().enumerate() {
        let at = |msg: String| Invalid::from(format!("{file}:{}: {msg}", n + 1));
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let (name, kind) = section(header).ok_or_else(|| {
                at(format!(
                    "'{line}' is not a section header like [web] or [web:vars]"
                ))
            })?;
            state = match kind {
                None | Some("hosts") => State::Hosts,
                Some("vars") => State::Vars,
                Some("children") => State::Children,
                Some(other) => {
                    return Err(at(format!(
                        "section suffix ':{other}' is not hosts, vars or children"
                    )));
                }
            };
            match state {
                State::Vars => pending.push((name.to_string(), n + 1)),
                _ => {
                    declared.insert(name.to_string());
                }
            }
            tree.group(name);
            group = name.to_string();
            continue;
        }
        match state {
            State::Hosts => {
                let tokens = split(line).map_err(|e| at(e.0))?;
                let Some((pattern, rest)) = tokens.split_first() else {
                    continue;
                };
                let mut vars = Vars::new();
                for t in rest {
                    let (k, v) = t.split_once('=').ok_or_else(|| {
                        at(format!("expected key=value after the host, got '{t}'"))
                    })?;
                    vars.insert(k.to_string(), literal::value(v));
                }
                let (pattern, port) = port_of(pattern);
                if let Some(p) = port {
                    vars.insert("ansible_port".into(), literal::value(p));
                }
                for host in ranges::expand(pattern).map_err(|e| at(e.0))? {
                    tree.add_host(&group, &host, vars.clone());
                }
            }
            State::Vars => {
                let (k, v) = line
                    .split_once('=')
                    .ok_or_else(|| at(format!("expected key=value, got '{line}'")))?;
                let value = literal::value(v.trim());
                tree.group(&group).vars.insert(k.trim().to_string(), value);
            }
            State::Children => {
                let child = line.split_whitespace().next().unwrap_or(line);
                tree.add_child(&group, child).map_err(|e| at(e.0))?;
                declared.insert(child.to_string());
            }
        }
    }
    if let Some((name, line)) = pending.iter().find(|(g, _)| !declared.contains(g)) {
        return Err(format!(
            "{file}:{line}: [{name}:vars] is for a group this inventory does not define"
        )
        .into());
    }
    tree.settle()?;
    Ok(tree)
}

/// `web]`, `web:vars]` (after the `[`), with a comment allowed after it.
fn section(header: &str) -> Option<(&str, Option<&str>)> {
    let (inside, after) = header.split_once(']')?;
    let after = after.trim();
    if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
        return None;
    }
    let (name, kind) = match inside.split_once(':') {
        Some((n, k)) => (n, Some(k)),
        None => (inside, None),
    };
    (!name.is_empty() && !name.contains(char::is_whitespace)).then_some((name, kind))
}

/// `host:2222` → (`host`, 2222); an IPv6 address keeps its colons (`[::1]:2222` its port).
fn port_of(pattern: &str) -> (&str, Option<&str>) {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    if let Some(rest) = pattern.strip_prefix('[')
        && let Some((addr, port)) = rest.split_once("]:")
        && digits(port)
        && addr.contains(':')
    {
        return (&pattern[1..1 + addr.len()], Some(port));
    }
    // The colons of ranges (`web[01:20]`) do not count.
    let mut depth = 0;
    let outside: Vec<usize> = pattern
        .char_indices()
        .filter_map(|(i, c)| {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                ':' if depth == 0 => return Some(i),
                _ => {}
            }
            None
        })
        .collect();
    match outside.as_slice() {
        // One colon outside the ranges: a port. More: an IPv6 address.
        [i] if digits(&pattern[i + 1..]) => (&pattern[..*i], Some(&pattern[i + 1..])),
        _ => (pattern, None),
    }
}

/// A host line's words as `shlex.split(line, comments=True)` makes them: quotes grouped and
/// removed, backslash escapes, and a `#` that is not inside quotes ends the line.
fn split(line: &str) -> Result<Vec<String>, Invalid> {
    let mut words = vec![];
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("no closing quote in: {line}").into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('\\' | '"' | '$' | '`')) => word.push(e),
                            Some(e) => {
                                word.push('\\');
                                word.push(e);
                            }
                            None => return Err(format!("no closing quote in: {line}").into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("no closing quote in: {line}").into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    word.push(e);
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::{port_of, split};

    #[test]
    fn host_lines_split_as_shlex_does() {
        assert_eq!(
            split(r#"web1 a=1 q='a b' d="x \"y\"" # note"#).unwrap(),
            ["web1", "a=1", "q=a b", r#"d=x "y""#]
        );
        assert_eq!(split("h x=a#b").unwrap(), ["h", "x=a"]);
        assert!(split("h x='open").is_err());
    }

    #[test]
    fn ports_are_told_from_ipv6() {
        assert_eq!(port_of("web1:2222"), ("web1", Some("2222")));
        assert_eq!(port_of("web[01:03]:2222"), ("web[01:03]", Some("2222")));
        assert_eq!(port_of("web[01:03]"), ("web[01:03]", None));
        assert_eq!(port_of("::1"), ("::1", None));
        assert_eq!(port_of("[::1]:2222"), ("::1", Some("2222")));
    }
}
