//! Ansible's INI inventory (`hosts`, `inventory.ini`): `[group]` sections of host lines with
//! `key=value` vars, `[group:vars]`, `[group:children]`, hosts before any section in
//! `ungrouped`, `host:port`, ranges, `#` and `;` comments; read as Ansible's ini plugin reads
//! it (a host line split like `shlex.split(..., comments=True)`, values as Python literals, a
//! group named in `:vars` or `:children` but defined nowhere an error).

use std::borrow::Cow;
use std::sync::LazyLock;

use indexmap::IndexMap;
use regex::Regex;

use super::tree::Tree;
use super::{literal, ranges};
use crate::playbook::{Invalid, Vars};

#[derive(Clone, Copy, PartialEq)]
enum State {
    Hosts,
    Vars,
    Children,
}

/// A group a `:vars` or `:children` section named before any section defined it.
struct Pending {
    line: usize,
    state: State,
    /// For a child: the groups waiting to take it.
    parents: Vec<String>,
}

/// Ansible's own patterns: a header is `[name]` or `[name:kind]`, only a `#` comment after it.
static SECTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$").expect("valid"));
static GROUP_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([^:\]\s]+)\s*(?:#.*)?$").expect("valid"));

/// The inventory `text` (from `file`, for errors) holds, added to `tree` (a directory's files
/// all go into one, as into Ansible's one inventory).
pub fn read(text: &str, file: &str, tree: &mut Tree) -> Result<(), Invalid> {
    let (mut group, mut state) = ("ungrouped".to_string(), State::Hosts);
    let mut pending: IndexMap<String, Pending> = IndexMap::new();
    for (n, raw) in lines(text).enumerate() {
        let at = |msg: String| Invalid::from(format!("{file}:{}: {msg}", n + 1));
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(m) = line
            .starts_with('[')
            .then(|| SECTION.captures(line))
            .flatten()
        {
            let name = &m[1];
            state = match m.get(2).map(|k| k.as_str()) {
                None | Some("hosts") => State::Hosts,
                Some("vars") => State::Vars,
                Some("children") => State::Children,
                Some(other) => {
                    return Err(at(format!(
                        "section [{name}:{other}]: ':{other}' is not hosts, vars or children"
                    )));
                }
            };
            // `[g]` or `[g:children]` defines a group; `[g:vars]` only gives vars to one
            // defined somewhere in the file.
            if !tree.groups.contains_key(name) {
                if state == State::Vars && !pending.contains_key(name) {
                    pending.insert(
                        name.to_string(),
                        Pending {
                            line: n + 1,
                            state,
                            parents: vec![],
                        },
                    );
                }
                tree.group(name);
            }
            if state != State::Vars
                && let Some(p) = pending.shift_remove(name)
            {
                for parent in p.parents {
                    tree.add_child(&parent, name).map_err(|e| at(e.0))?;
                }
            }
            group = name.to_string();
            continue;
        }
        let semicolon_after = line
            .split_once(']')
            .is_some_and(|(_, after)| after.trim_start().starts_with(';'));
        if line.starts_with('[') && (line.ends_with(']') || semicolon_after) {
            return Err(at(format!(
                "'{line}' is not a section header: [web], [web:vars] or [web:children], no spaces, only a # comment after it"
            )));
        }
        match state {
            State::Hosts => {
                let tokens = split(line).map_err(|e| at(e.0))?;
                let Some((pattern, rest)) = tokens.split_first() else {
                    continue;
                };
                let mut vars = Vars::new();
                for t in rest {
                    let (k, v) = t
                        .split_once('=')
                        .filter(|(k, _)| !k.is_empty())
                        .ok_or_else(|| {
                            at(format!("expected key=value after the host, got '{t}'"))
                        })?;
                    vars.insert(k.to_string(), literal::value(v));
                }
                let (hosts, port) = ranges::entry(pattern).map_err(|e| at(e.0))?;
                if hosts.iter().any(|h| h == "---") {
                    return Err(at("'---' is not a host: is this a YAML file?".into()));
                }
                // A range's hosts share the line's vars: each but the last gets a copy.
                let mut vars = Some(vars);
                let last = hosts.len().saturating_sub(1);
                for (i, host) in hosts.iter().enumerate() {
                    let v = if i == last {
                        vars.take().unwrap_or_default()
                    } else {
                        vars.clone().unwrap_or_default()
                    };
                    tree.add_host(&group, host, port, v);
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
                let child = GROUP_NAME
                    .captures(line)
                    .ok_or_else(|| at(format!("expected a group name, got '{line}'")))?[1]
                    .to_string();
                if tree.groups.contains_key(&child) {
                    tree.add_child(&group, &child).map_err(|e| at(e.0))?;
                } else {
                    pending
                        .entry(child)
                        .or_insert(Pending {
                            line: n + 1,
                            state,
                            parents: vec![],
                        })
                        .parents
                        .push(group.clone());
                }
            }
        }
    }
    if let Some((name, p)) = pending.first() {
        return Err(match p.state {
            State::Children => format!(
                "{file}:{}: [{}:children] names group '{name}', which this inventory does not define",
                p.line,
                p.parents.last().map_or("", String::as_str)
            ),
            _ => format!(
                "{file}:{}: [{name}:vars] is for a group this inventory does not define",
                p.line
            ),
        }
        .into());
    }
    Ok(())
}

/// Lines as Python's `str.splitlines` cuts them (Ansible's reader): `\r\n`, `\n` or a lone
/// `\r`, so a file saved with old Mac line endings is not one long line.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let s = rest?;
        match s.find(['\n', '\r']) {
            Some(i) => {
                let skip = if s[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&s[i + skip..]).filter(|r| !r.is_empty());
                Some(&s[..i])
            }
            None => {
                rest = None;
                Some(s)
            }
        }
    })
}

/// A host line's words as `shlex.split(line, comments=True)` makes them: quotes grouped and
/// removed, backslash escapes, and a `#` that is not inside quotes ends the line.
fn split(line: &str) -> Result<Vec<Cow<'_, str>>, Invalid> {
    // Most lines quote nothing: their words are the text between blanks.
    if !line.contains(['\'', '"', '\\', '#']) {
        return Ok(line.split_whitespace().map(Cow::Borrowed).collect());
    }
    let mut words = vec![];
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(Cow::Owned(std::mem::take(&mut word)));
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
                        // shlex (POSIX mode) escapes only `\` and `"` inside double quotes.
                        Some('\\') => match chars.next() {
                            Some(e @ ('\\' | '"')) => word.push(e),
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
        words.push(Cow::Owned(word));
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::{Tree, lines, read, split};

    #[test]
    fn host_lines_split_as_shlex_does() {
        assert_eq!(
            split(r#"web1 a=1 q='a b' d="x \"y\"" e="\$x" # note"#).unwrap(),
            ["web1", "a=1", "q=a b", r#"d=x "y""#, r"e=\$x"]
        );
        assert_eq!(split("h x=a#b").unwrap(), ["h", "x=a"]);
        assert!(split("h x='open").is_err());
    }

    #[test]
    fn lines_end_as_python_ends_them() {
        assert_eq!(lines("a\r\nb\rc\n").collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(lines("a\n\nb").collect::<Vec<_>>(), ["a", "", "b"]);
    }

    fn refused(text: &str) -> String {
        read(text, "hosts", &mut Tree::new()).unwrap_err().0
    }

    #[test]
    fn what_ansible_refuses_is_refused() {
        assert!(refused("[web]\nw1\n[prod:children]\nweb\ndb\n").contains("'db'"));
        assert!(refused("[web]\nw1\n[prod:children]\nweb extra\n").contains("group name"));
        assert!(refused("[web] ; c\nw1\n").contains("not a section header"));
        assert!(refused("[nope:vars]\nx=1\n").contains("[nope:vars]"));
        assert!(refused("all:\n  hosts:\n").contains("ends in ':'"));
        assert!(refused("---\nall:\n").contains("YAML"));
    }

    #[test]
    fn a_child_may_be_defined_after_the_parent_names_it() {
        let mut t = Tree::new();
        read(
            "[prod:children]\nweb\n[web]\nw1\n[web:vars]\nx=1\n",
            "h",
            &mut t,
        )
        .unwrap();
        t.settle().unwrap();
        assert!(t.groups["prod"].children.contains("web"));
        assert_eq!(
            read("[::2]:2222\n", "h", &mut t).map(|()| t.hosts["::2"]["ansible_port"].clone()),
            Ok(2222.into())
        );
    }
}
