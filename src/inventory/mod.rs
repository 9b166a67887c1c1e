//! Which hosts a playbook acts on: `hosts:` entries (`user@host:port` or objects) and Ansible
//! YAML inventories (`all.hosts`, `children` groups, `ansible_host`, `ansible_port`,
//! `ansible_user`, `ansible_ssh_private_key_file`), narrowed by `--limit`, cut into batches.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

mod files;
mod ini;
mod literal;
mod pattern;
mod ranges;
mod tree;
mod yaml;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::playbook::diagnostic::with_hint;
use crate::playbook::{Invalid, Vars};

#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// `{{ host.name }}`; the address when not given.
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: Option<String>,
    pub identity: Option<PathBuf>,
    pub vars: Vars,
    /// Inventory groups it belongs to, for `--limit`.
    pub groups: Vec<String>,
}

impl Host {
    /// `deploy@web1:2222`, as a person writes it.
    pub fn shown(&self) -> String {
        let user = self
            .user
            .as_ref()
            .map_or(String::new(), |u| format!("{u}@"));
        let port = if self.port == 22 {
            String::new()
        } else {
            format!(":{}", self.port)
        };
        let addr = if self.address.contains(':') {
            format!("[{}]", self.address)
        } else {
            self.address.clone()
        };
        if self.name == self.address {
            format!("{user}{addr}{port}")
        } else {
            format!("{} ({user}{addr}{port})", self.name)
        }
    }
}

/// `user@host:port`, `host`, `[::1]:2222`.
pub fn parse_host(s: &str) -> Result<Host, crate::playbook::Invalid> {
    let s = s.trim();
    let (user, rest) = match s.rsplit_once('@') {
        Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
        Some(_) => return Err(format!("'{s}' has an empty user before '@'").into()),
        None => (None, s),
    };
    let (address, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("'{s}': an IPv6 address in brackets needs its closing ']'"))?;
        match after.strip_prefix(':') {
            Some(p) => (addr.to_string(), port_of(p, s)?),
            None if after.is_empty() => (addr.to_string(), 22),
            None => return Err(format!("'{s}' has text after the ']'").into()),
        }
    } else if rest.parse::<std::net::Ipv6Addr>().is_ok() {
        // `::1` is an address, not host `:` and port `:1`; a port needs the brackets.
        (rest.to_string(), 22)
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h.to_string(), port_of(p, s)?),
            None => (rest.to_string(), 22),
        }
    };
    if address.is_empty() || address.contains(char::is_whitespace) {
        return Err(
            format!("'{s}' is not a host; expected user@host:port, host:port or host").into(),
        );
    }
    Ok(Host {
        name: address.clone(),
        address,
        port,
        user,
        identity: None,
        vars: Vars::new(),
        groups: vec![],
    })
}

fn port_of(p: &str, whole: &str) -> Result<u16, crate::playbook::Invalid> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("'{whole}': port '{p}' is not a number from 1 to 65535").into()),
    }
}

/// A `hosts:` entry: a string or `{ name, address, port, user, identity, vars }`.
#[derive(Debug, Clone)]
pub struct HostSpec(pub Host);

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Host")]
struct RawHost {
    /// How the host is shown and matched by `--limit` (default: its address).
    #[schemars(example = &"web1")]
    name: Option<String>,
    /// `host`, `user@host` or `user@host:port`.
    #[schemars(example = &"deploy@10.0.0.11:22")]
    address: String,
    /// The SSH port (default 22, or the address's).
    #[schemars(example = 2222)]
    port: Option<u16>,
    /// The login user (default: the address's, else `ssh.user`).
    #[schemars(example = &"deploy")]
    user: Option<String>,
    /// The private key for this host (default: `ssh.identity`).
    #[schemars(example = &"~/.ssh/web1_ed25519")]
    identity: Option<PathBuf>,
    /// This host's values, as `{{ host.vars.NAME }}`.
    #[serde(default)]
    #[schemars(with = "std::collections::BTreeMap<String, serde_json::Value>")]
    #[schemars(example = crate::playbook::schema::example_vars())]
    vars: Vars,
}

crate::playbook::schema::schema_string_or!(
    HostSpec,
    "HostSpec",
    RawHost,
    crate::playbook::schema::text_only(
        "`host`, `user@host` or `user@host:port`",
        serde_json::json!(["deploy@web1.example.com:22"]),
        1
    ),
    "`user@host:port`, or `{ name, address, port, user, identity, vars }`",
    ["web1.example.com", { "name": "web2", "address": "10.0.0.12" }]
);

impl<'de> Deserialize<'de> for HostSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = HostSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"user@host:port\" or { name, address, port, user, identity, vars }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<HostSpec, E> {
                parse_host(s).map(HostSpec).map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<HostSpec, A::Error> {
                let r = RawHost::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let mut h = parse_host(&r.address).map_err(de::Error::custom)?;
                if let Some(p) = r.port {
                    h.port = p;
                }
                h.user = r.user.or(h.user);
                h.name = r.name.unwrap_or(h.name);
                h.identity = r.identity;
                h.vars = r.vars;
                Ok(HostSpec(h))
            }
        }
        d.deserialize_any(V)
    }
}

/// Read the inventories at `paths` (files, or directories of them) with the `group_vars/` and
/// `host_vars/` beside each and beside the playbook (`playbook_dir`), and resolve every host's
/// vars as Ansible does: inventory-file group vars (by depth, priority, name) <
/// `group_vars/all` < `group_vars/GROUP` < the host's inventory vars < `host_vars/HOST`, the
/// inventory's before the playbook's at each step.
pub fn load(paths: &[PathBuf], playbook_dir: Option<&Path>) -> Result<Vec<Host>, Invalid> {
    let mut tree = tree::Tree::new();
    let mut dirs = vec![];
    for path in paths {
        let sources = sources(path)?;
        dirs.push(if path.is_dir() {
            path.clone()
        } else {
            path.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        });
        for source in sources {
            tree.merge(read(&source)?);
        }
    }
    tree.settle()?;
    let mut levels: Vec<PathBuf> = dirs;
    if let Some(d) = playbook_dir
        && !levels.iter().any(|l| l == d)
    {
        levels.push(d.to_path_buf());
    }
    resolve(&tree, &levels)
}

/// The files an inventory path stands for: itself, or a directory's files (not its
/// `group_vars`/`host_vars`, hidden files or the extensions Ansible skips), by name.
fn sources(path: &Path) -> Result<Vec<PathBuf>, Invalid> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let skipped = [
        "pyc", "pyo", "swp", "bak", "rpm", "md", "txt", "rst", "orig", "cfg", "retry",
    ];
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| {
            format!(
                "cannot read inventory {}: {}",
                path.display(),
                crate::sys::describe_io(&e)
            )
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            p.is_file()
                && !name.starts_with('.')
                && !name.ends_with('~')
                && !p
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| skipped.contains(&e))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// One inventory file: YAML when it reads as a YAML mapping, else INI (as Ansible tries its
/// yaml plugin before its ini one).
fn read(path: &Path) -> Result<tree::Tree, Invalid> {
    let text = files::text_of(path, "inventory ")?;
    let shown = path.display().to_string();
    match yaml::read(&text, &shown) {
        Some(tree) => tree,
        None => ini::read(&text, &shown),
    }
}

fn resolve(tree: &tree::Tree, dirs: &[PathBuf]) -> Result<Vec<Host>, Invalid> {
    let depth = tree.depths()?;
    // Each group's files read once, the inventory's before the playbook's.
    let mut group_files: BTreeMap<&str, Vars> = BTreeMap::new();
    for g in tree.groups.keys() {
        let mut v = Vars::new();
        for d in dirs {
            v.extend(files::vars_of(d, "group_vars", g)?);
        }
        group_files.insert(g, v);
    }
    let mut out = vec![];
    for (name, own) in &tree.hosts {
        let groups = tree.in_order(tree.groups_of(name), &depth);
        let mut v = Vars::new();
        for g in &groups {
            v.extend(tree.groups[*g].vars.clone());
        }
        v.extend(group_files["all"].clone());
        for g in groups.iter().filter(|g| **g != "all") {
            v.extend(group_files[*g].clone());
        }
        v.extend(own.clone());
        for d in dirs {
            v.extend(files::vars_of(d, "host_vars", name)?);
        }
        out.push(host_of(
            name,
            v,
            groups.iter().map(|g| g.to_string()).collect(),
        )?);
    }
    Ok(out)
}

/// A host from its merged vars: `ansible_host`, `ansible_port`, `ansible_user` and
/// `ansible_ssh_private_key_file` say how it is reached; the rest are its vars.
fn host_of(name: &str, v: Vars, groups: Vec<String>) -> Result<Host, Invalid> {
    let text = |k: &str| {
        v.get(k).and_then(|x| match x {
            serde_yaml::Value::String(s) => Some(s.clone()),
            serde_yaml::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let port = match text("ansible_port") {
        Some(p) => port_of(&p, &format!("{name} ansible_port"))?,
        None => 22,
    };
    Ok(Host {
        name: name.to_string(),
        address: text("ansible_host").unwrap_or_else(|| name.to_string()),
        port,
        user: text("ansible_user"),
        identity: text("ansible_ssh_private_key_file").map(PathBuf::from),
        vars: v
            .iter()
            .filter(|(k, _)| !k.starts_with("ansible_"))
            .map(|(k, x)| (k.clone(), x.clone()))
            .collect(),
        groups,
    })
}

/// `--limit PATTERN`, in Ansible's pattern language (`pattern.rs`).
pub fn limit(hosts: Vec<Host>, spec: &str) -> Result<Vec<Host>, Invalid> {
    pattern::select(hosts, spec)
}

/// A batch size: a count or a percentage of all hosts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Batch {
    Count(usize),
    Percent(f64),
}

crate::playbook::schema::schema_written!(Batch, "Batch", {
    "description": "A batch's size: a host count, or a percentage of all hosts (rounded down, at least 1).",
    "anyOf": [
        { "type": "integer", "minimum": 1 },
        { "type": "string", "pattern": r"^\s*[0-9.eE+-]+%\s*$" },
    ],
    "examples": [1, "25%", "100%"],
});

impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_yaml::Value::deserialize(d)?;
        let bad = |what: &str| {
            de::Error::custom(with_hint(
                format!("batch size {what} is neither a host count nor a percentage"),
                "batches: [1, \"50%\", \"100%\"]",
            ))
        };
        match &v {
            serde_yaml::Value::Number(n) => match n.as_u64() {
                Some(c) if c > 0 => Ok(Batch::Count(c as usize)),
                _ => Err(bad(&n.to_string())),
            },
            serde_yaml::Value::String(s) => match s.trim().strip_suffix('%').map(str::parse::<f64>)
            {
                Some(Ok(p)) if p > 0.0 && p <= 100.0 => Ok(Batch::Percent(p)),
                _ => Err(bad(&format!("'{s}'"))),
            },
            _ => Err(bad("here")),
        }
    }
}

/// Host indices per batch: each entry is a batch size, the last one repeating until every host
/// is in one. A percentage is of all hosts, rounded down, at least 1 (as Ansible's `serial`).
pub fn batches(n: usize, sizes: &[Batch]) -> Vec<Vec<usize>> {
    let mut out = vec![];
    let mut next = 0;
    let mut i = 0;
    while next < n {
        let size = match sizes.get(i).or(sizes.last()) {
            None => n,
            Some(Batch::Count(c)) => *c,
            Some(Batch::Percent(p)) => ((n as f64 * p / 100.0).floor() as usize).max(1),
        };
        let end = next.saturating_add(size).min(n);
        out.push((next..end).collect());
        next = end;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every inventory under `tests/inventories/` read as `ansible-inventory --list` read it
    /// (its output committed as `expected/list.json` by `scripts/generate`): each host's
    /// address, port, user, key and vars, and the groups it is in.
    #[test]
    fn inventories_read_as_ansible_reads_them() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inventories");
        let mut cases = 0;
        for case in std::fs::read_dir(&root).unwrap() {
            let case = case.unwrap().path();
            let expected: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(case.join("expected/list.json")).unwrap(),
            )
            .unwrap();
            let hosts = load(&[case.join("hosts")], None).unwrap();
            let wanted = expected["_meta"]["hostvars"].as_object().unwrap();
            let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            let mut expected_names: Vec<&str> = wanted.keys().map(String::as_str).collect();
            let mut sorted = names.clone();
            sorted.sort();
            expected_names.sort();
            assert_eq!(sorted, expected_names, "{}", case.display());
            for h in &hosts {
                let want = &wanted[&h.name];
                let text = |k: &str| {
                    want.get(k)
                        .map(|v| v.as_str().map_or(v.to_string(), String::from))
                };
                assert_eq!(
                    Some(h.address.clone()),
                    text("ansible_host").or(Some(h.name.clone())),
                    "{}",
                    h.name
                );
                assert_eq!(
                    h.port.to_string(),
                    text("ansible_port").unwrap_or("22".into()),
                    "{}",
                    h.name
                );
                assert_eq!(h.user, text("ansible_user"), "{}", h.name);
                let mut mine = serde_json::to_value(&h.vars).unwrap();
                let mut theirs = want.clone();
                for v in [&mut mine, &mut theirs] {
                    v.as_object_mut()
                        .unwrap()
                        .retain(|k, _| !k.starts_with("ansible_"));
                }
                assert_eq!(mine, theirs, "{} in {}", h.name, case.display());
                // The groups it is in, through children too, as the listing says.
                let mut groups: Vec<String> = vec!["all".into()];
                loop {
                    let before = groups.len();
                    for (g, body) in expected.as_object().unwrap() {
                        let direct = body["hosts"]
                            .as_array()
                            .is_some_and(|hs| hs.iter().any(|x| x == h.name.as_str()));
                        let parent = body["children"].as_array().is_some_and(|cs| {
                            cs.iter().any(|c| {
                                c.as_str()
                                    .is_some_and(|c| groups.iter().any(|x| x == c) && c != "all")
                            })
                        });
                        if (direct || parent) && !groups.contains(g) {
                            groups.push(g.clone());
                        }
                    }
                    if groups.len() == before {
                        break;
                    }
                }
                let mut mine = h.groups.clone();
                mine.sort();
                groups.sort();
                assert_eq!(mine, groups, "{}", h.name);
            }
            cases += 1;
        }
        assert!(cases > 0);
    }

    /// Every `--limit` pattern of each inventory's `patterns` file picks the hosts
    /// `ansible PATTERN --list-hosts` listed (`expected/patterns.json`), or, where the line says
    /// `# refused`, is refused: tend does not ignore a term that matches nothing.
    #[test]
    fn limit_patterns_pick_what_ansible_picks() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inventories");
        let mut checked = 0;
        for case in std::fs::read_dir(&root).unwrap() {
            let case = case.unwrap().path();
            let Ok(lines) = std::fs::read_to_string(case.join("patterns")) else {
                continue;
            };
            let expected: BTreeMap<String, Vec<String>> = serde_json::from_str(
                &std::fs::read_to_string(case.join("expected/patterns.json")).unwrap(),
            )
            .unwrap();
            let hosts = load(&[case.join("hosts")], None).unwrap();
            for line in lines.lines() {
                let (pattern, note) = line.split_once('#').unwrap_or((line, ""));
                let pattern = pattern.trim();
                if pattern.is_empty() {
                    continue;
                }
                let picked = limit(hosts.clone(), pattern);
                if note.trim_start().starts_with("refused") {
                    assert!(picked.is_err(), "{pattern}: {picked:?}");
                } else {
                    let mut names: Vec<String> =
                        picked.unwrap().into_iter().map(|h| h.name).collect();
                    names.sort();
                    assert_eq!(names, expected[pattern], "{pattern} in {}", case.display());
                }
                checked += 1;
            }
        }
        assert!(checked > 10, "{checked}");
    }

    #[test]
    fn a_huge_batch_takes_every_host_left() {
        assert_eq!(
            batches(3, &[Batch::Count(1), Batch::Count(usize::MAX)]),
            vec![vec![0], vec![1, 2]]
        );
    }

    #[test]
    fn host_strings() {
        let h = parse_host("deploy@web1.internal:2222").unwrap();
        assert_eq!(
            (h.user.as_deref(), h.address.as_str(), h.port),
            (Some("deploy"), "web1.internal", 2222)
        );
        assert_eq!(parse_host("10.0.0.11").unwrap().port, 22);
        let bare = parse_host("::1").unwrap();
        assert_eq!((bare.address.as_str(), bare.port), ("::1", 22));
        let v6 = parse_host("root@[::1]:2200").unwrap();
        assert_eq!((v6.address.as_str(), v6.port), ("::1", 2200));
        assert!(parse_host("web1:0").is_err());
        assert!(parse_host("web1:http").is_err());
        assert!(parse_host("@web1").is_err());
        assert!(parse_host("").is_err());
    }

    #[test]
    fn batches_follow_ansible_serial() {
        let sizes = [Batch::Count(1), Batch::Percent(50.0), Batch::Percent(100.0)];
        assert_eq!(batches(5, &sizes), vec![vec![0], vec![1, 2], vec![3, 4]]);
        assert_eq!(batches(1, &sizes), vec![vec![0]]);
        assert_eq!(
            batches(3, &[Batch::Count(1)]),
            vec![vec![0], vec![1], vec![2]]
        );
        assert_eq!(batches(3, &[]), vec![vec![0, 1, 2]]);
        assert_eq!(
            batches(4, &[Batch::Percent(10.0)]).len(),
            4,
            "at least one host"
        );
    }
}
