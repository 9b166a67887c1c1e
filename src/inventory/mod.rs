//! Which hosts a playbook acts on: `hosts:` entries (`user@host:port` or objects) and Ansible
//! YAML inventories (`all.hosts`, `children` groups, `ansible_host`, `ansible_port`,
//! `ansible_user`, `ansible_ssh_private_key_file`), narrowed by `--limit`, cut into batches.

use std::fmt;
use std::path::PathBuf;

mod files;
mod ini;
mod literal;
mod load;
mod pattern;
mod ranges;
mod resolve;
mod tree;
mod vars;
mod yaml;
mod yaml11;

use indexmap::IndexSet;
use serde::Deserialize;

pub use load::load;
pub use resolve::{Inventory, few};
use serde::de::{self, Deserializer};
pub use vars::HostVars;

use crate::playbook::diagnostic::with_hint;
use crate::playbook::{Invalid, Vars};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Host {
    /// `{{ host.name }}`; the address when not given.
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: Option<String>,
    pub identity: Option<PathBuf>,
    /// `ansible_become`: every command through sudo (default: `ssh.become`).
    pub become_: Option<bool>,
    /// `ansible_become_user`: whom sudo runs them as (default root).
    pub become_user: Option<String>,
    /// `ansible_become_password`, a template until the deploy renders it (secrets allowed).
    pub become_password: Option<String>,
    pub vars: HostVars,
    /// Inventory groups it belongs to, for `--limit` (shared by the hosts in the same ones).
    pub groups: std::sync::Arc<[String]>,
}

impl Host {
    /// Whom this host's commands run as through sudo (root unless `ansible_become_user`), or
    /// None: its own `ansible_become`, else the playbook's `ssh.become` (`ssh_become`).
    pub fn sudo_user(&self, ssh_become: bool) -> Option<&str> {
        self.become_
            .unwrap_or(ssh_become)
            .then(|| self.become_user.as_deref().unwrap_or("root"))
    }

    /// `{{ host }}` in a template: its name, address, port, user and inventory vars.
    pub fn template_value(&self) -> minijinja::Value {
        minijinja::context! {
            name => self.name.clone(),
            address => self.address.clone(),
            port => self.port,
            user => self.user.clone(),
            vars => minijinja::Value::from_object(self.vars.clone()),
        }
    }

    /// `template_value` as data, for a tend that renders it on the host.
    pub fn as_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "user": self.user,
            "vars": self.vars,
        })
    }

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
        ..Host::default()
    })
}

pub(super) fn port_of(p: &str, whole: &str) -> Result<u16, crate::playbook::Invalid> {
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
                h.vars = r.vars.into();
                Ok(HostSpec(h))
            }
        }
        d.deserialize_any(V)
    }
}

/// `inventory:`: one inventory (a file or a directory of them), or a list, read in order.
#[derive(Debug, Clone)]
pub struct Paths(pub Vec<String>);

crate::playbook::schema::schema_written!(Paths, "Inventory", {
    "description": "An Ansible inventory (INI or YAML file, or a directory of them), relative to the playbook, or a list of them.",
    "anyOf": [
        { "type": "string", "minLength": 1 },
        { "type": "array", "items": { "type": "string", "minLength": 1 }, "minItems": 1 },
    ],
    "examples": ["inventory/hosts", ["inventory/production", "inventory/extra.yml"]],
});

impl<'de> Deserialize<'de> for Paths {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Paths;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an inventory's path, or a list of them")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Paths, E> {
                if s.trim().is_empty() {
                    return Err(E::custom("an empty inventory path"));
                }
                Ok(Paths(vec![s.to_string()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Paths, A::Error> {
                let v: Vec<String> =
                    Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                if v.is_empty() || v.iter().any(|p| p.trim().is_empty()) {
                    return Err(de::Error::custom(
                        "an inventory list needs at least one path, none of them empty",
                    ));
                }
                Ok(Paths(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// The hosts a playbook acts on: its `hosts:` entries, then the inventory's hosts they do not
/// name, narrowed by `--limit` (Ansible's pattern language, `pattern.rs`). Only the hosts picked
/// are resolved (their vars files read); the warnings are about those.
pub fn pick(
    entries: Vec<Host>,
    inventory: Option<&Inventory>,
    limit: Option<&str>,
) -> Result<(Vec<Host>, Vec<String>), Invalid> {
    let named: std::collections::HashSet<&str> = entries.iter().map(|h| h.name.as_str()).collect();
    // In Ansible's order for `all`, which `--limit` only filters (as `ansible-playbook --limit`).
    let from_inventory: Vec<usize> = inventory.map_or_else(Vec::new, |inv| {
        inv.in_order()
            .iter()
            .copied()
            .filter(|i| !named.contains(inv.name(*i)))
            .collect()
    });
    let n = entries.len();
    let picked: Vec<usize> = match limit {
        None => (0..n + from_inventory.len()).collect(),
        Some(spec) => {
            let mut candidates: Vec<pattern::Candidate> = entries
                .iter()
                .map(|h| pattern::Candidate {
                    name: &h.name,
                    groups: h.groups.iter().map(String::as_str).collect(),
                })
                .collect();
            if let Some(inv) = inventory {
                candidates.extend(from_inventory.iter().map(|i| pattern::Candidate {
                    name: inv.name(*i),
                    groups: inv.groups(*i).collect(),
                }));
            }
            let address = |c: usize| match (c.checked_sub(n), inventory) {
                (None, _) => Some(entries[c].address.clone()),
                (Some(i), Some(inv)) => inv.host(from_inventory[i]).ok().map(|(h, _)| h.address),
                (Some(_), None) => None,
            };
            // Inventory host -> candidate, for the order a subscript counts in.
            let candidate: std::collections::HashMap<usize, usize> = from_inventory
                .iter()
                .enumerate()
                .map(|(c, i)| (*i, n + c))
                .collect();
            // Without an inventory, the groups hosts already resolved say they are in.
            let members = |g: &str| -> Vec<usize> {
                match inventory {
                    Some(inv) => inv
                        .members(g)
                        .iter()
                        .filter_map(|i| candidate.get(i).copied())
                        .collect(),
                    None => (0..n)
                        .filter(|c| entries[*c].groups.iter().any(|x| x == g))
                        .collect(),
                }
            };
            let groups: IndexSet<&str> = match inventory {
                Some(inv) => inv.group_names().collect(),
                None => entries
                    .iter()
                    .flat_map(|h| h.groups.iter().map(String::as_str))
                    .collect(),
            };
            let order = pattern::Order {
                groups: groups.into_iter().collect(),
                members: &members,
                named: (0..n)
                    .chain(
                        (0..inventory.map_or(0, Inventory::host_count))
                            .filter_map(|i| candidate.get(&i).copied()),
                    )
                    .collect(),
            };
            let picked = pattern::select(&candidates, spec, &address, &order)?;
            if picked.is_empty() {
                return Err(with_hint(
                    format!(
                        "--limit '{spec}' leaves none of the {} hosts",
                        candidates.len()
                    ),
                    "each of its terms matches hosts, but `&` and `!` take them all away",
                ));
            }
            picked
        }
    };
    let wanted: Vec<usize> = picked
        .iter()
        .filter_map(|c| c.checked_sub(n).map(|i| from_inventory[i]))
        .collect();
    let mut resolved = match inventory {
        Some(inv) => inv.hosts(&wanted)?,
        None => vec![],
    }
    .into_iter();
    let mut hosts = Vec::with_capacity(picked.len());
    let mut unused = vec![];
    for c in picked {
        if c < n {
            hosts.push(entries[c].clone());
        } else if let Some((h, settings)) = resolved.next() {
            unused.extend(settings.into_iter().map(|k| (hosts.len(), k)));
            hosts.push(h);
        }
    }
    let warnings = resolve::warnings(unused.into_iter().map(|(i, k)| (hosts[i].name.as_str(), k)));
    Ok((hosts, warnings))
}

/// `--limit PATTERN` over hosts already resolved.
#[cfg(test)]
pub fn limit(hosts: Vec<Host>, spec: &str) -> Result<Vec<Host>, Invalid> {
    pick(hosts, None, Some(spec)).map(|(h, _)| h)
}

/// A user name sudo's `-u` can take, and nothing a shell would read as more than one word.
pub fn valid_user(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 32
        && !u.starts_with('-')
        && u.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
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
    use std::collections::BTreeMap;
    use std::path::Path;

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
            let hosts = all_hosts(&[case.join("hosts")]);
            let wanted = expected["_meta"]["hostvars"].as_object().unwrap();
            let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            let mut expected_names: Vec<&str> = wanted.keys().map(String::as_str).collect();
            let mut sorted = names.clone();
            sorted.sort();
            expected_names.sort();
            assert_eq!(sorted, expected_names, "{}", case.display());
            // How Ansible's ssh plugin would connect, from its own log.
            let connections: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(case.join("expected/connections.json")).unwrap(),
            )
            .unwrap();
            for h in &hosts {
                let want = &wanted[&h.name];
                let reach = &connections[&h.name];
                assert_eq!(h.address, reach["address"], "{}", h.name);
                assert_eq!(h.port, reach["port"], "{}", h.name);
                assert_eq!(h.user.as_deref(), reach["user"].as_str(), "{}", h.name);
                assert_eq!(
                    h.identity
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .as_deref(),
                    reach["identity"].as_str(),
                    "{}",
                    h.name
                );
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
                let mut mine = h.groups.to_vec();
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
            let inv = load(&[case.join("hosts")], None).unwrap();
            for line in lines.lines() {
                let (pattern, note) = line.split_once('#').unwrap_or((line, ""));
                let pattern = pattern.trim();
                if pattern.is_empty() {
                    continue;
                }
                // As a playbook's inventory, and as hosts already resolved.
                let picked = pick(vec![], Some(&inv), Some(pattern)).map(|(h, _)| h);
                let resolved = limit(pick(vec![], Some(&inv), None).unwrap().0, pattern);
                assert_eq!(
                    picked.as_ref().ok().map(|h| h.len()),
                    resolved.as_ref().ok().map(|h| h.len()),
                    "{pattern}"
                );
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

    /// Every host of the inventories at `paths`, resolved.
    fn all_hosts(paths: &[PathBuf]) -> Vec<Host> {
        let inv = load(paths, None).unwrap();
        pick(vec![], Some(&inv), None).unwrap().0
    }

    /// One inventory file `text` (named `name`) in a temp dir, read and resolved: the error.
    fn refusal(name: &str, text: &str, mode: u32) -> String {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        load(&[path], None)
            .and_then(|inv| pick(vec![], Some(&inv), None))
            .unwrap_err()
            .0
    }

    #[test]
    fn what_ansible_would_skip_or_cannot_read_is_refused() {
        for (text, why) in [
            ("all:\n  hosts:\n    a:\n    a:\n", "duplicate"),
            ("all:\n  hosts:\n    a:\n  bad: [\n", "is not YAML"),
            (
                format!("all:\n  vars:\n    x: {}\n", "[".repeat(80_000)).as_str(),
                "nested more than 64",
            ),
            ("all:\n  host:\n    a:\n", "has key 'host'"),
            ("all:\n  hosts: [a, b]\n", "all.hosts is a list"),
            ("all:\n  vars: { pw: !vault abc }\n", "!vault"),
            (
                "plugin: aws_ec2\nregions: [eu-west-1]\n",
                "inventory plugin aws_ec2",
            ),
            ("$ANSIBLE_VAULT;1.1;AES256\n6162\n", "Ansible Vault"),
            ("[web]\nweb1 ansible_port=True\n", "not a port"),
            ("[web]\nweb1 ansible_host=\"[1, 2]\"\n", "not text"),
            ("[web]\nweb1 ansible_become_method=su\n", "sudo only"),
            ("[web]\nw1 ansible_host=\"{{ ip }}\"\n", "is a template"),
            (
                "[web]\nw1 ansible_host=\"127.0.0.1; touch x\"\n",
                "not a host name or an IP address",
            ),
            (
                "[web]\nw1 ansible_host=-oProxyCommand=id\n",
                "not a host name",
            ),
            (
                "[web]\nw1 ansible_host=127.0.0.1:2222\n",
                "not a host name or an IP address",
            ),
            ("[web]\nw1 ansible_host=fe80::1%\n", "not a host name"),
            ("[web]\nw1 ansible_user=\"a b\"\n", "not a user name"),
            ("[web]\nweb1 ansible_become_user='a b'\n", "not a user name"),
            ("[a:children]\nb\n[b:children]\na\n", "circle"),
        ] {
            let e = refusal("hosts", text, 0o644);
            assert!(e.contains(why), "{text}: {e}");
        }
        let e = refusal("inv.py", "#!/usr/bin/env python3\nprint('{}')\n", 0o755);
        assert!(e.contains("dynamic inventory script"), "{e}");
        let e = refusal("hosts.toml", "[web.hosts.w1]\n", 0o644);
        assert!(e.contains("TOML inventory"), "{e}");
    }

    /// A device would never end and a FIFO never answer: only regular files are read.
    #[test]
    fn an_inventory_or_vars_file_that_is_not_a_regular_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = dir.path().join("hosts");
        std::fs::write(&hosts, "[web]\nw1\n").unwrap();
        std::fs::create_dir(dir.path().join("group_vars")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("group_vars/all.yml")).unwrap();
        let inv = load(std::slice::from_ref(&hosts), None).unwrap();
        let e = pick(vec![], Some(&inv), None).unwrap_err().0;
        assert!(e.contains("all.yml: not a regular file"), "{e}");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = load(&[fifo], None).err().unwrap().0;
        assert!(e.contains("not a regular file"), "{e}");
        let e = pick(vec![], Some(&inv), Some("@/dev/zero")).unwrap_err().0;
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_host_named_like_a_path_finds_no_vars_outside_host_vars() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("host_vars")).unwrap();
        std::fs::write(dir.path().join("secret.yml"), "leaked: yes\n").unwrap();
        let hosts = dir.path().join("hosts");
        std::fs::write(
            &hosts,
            format!(
                "{}/secret ansible_host=127.0.0.1\n../secret ansible_host=127.0.0.2\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let found = all_hosts(&[hosts]);
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|h| h.vars.is_empty()), "{found:?}");
    }

    /// Ansible's `VARIABLE_PRECEDENCE` with `group_vars/` and `host_vars/` beside both the
    /// inventory and the playbook: every `group_vars/all` below every other group's, and the
    /// playbook's over the inventory's at each step (checked with `ansible-playbook`).
    #[test]
    fn vars_beside_the_playbook_come_over_the_inventorys_at_each_step() {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write(
            "inv/hosts",
            "[parent:children]\nchild\n[child]\nh1 line=host_line\n",
        );
        write(
            "inv/group_vars/all.yml",
            "a: inv_all\nb: inv_all\nc: inv_all\n",
        );
        write(
            "inv/group_vars/child.yml",
            "b: inv_child\nc: inv_child\nline: inv_child\n",
        );
        write("pb/group_vars/all.yml", "a: pb_all\nb: pb_all\n");
        write("pb/group_vars/parent.yml", "c: pb_parent\n");
        write("inv/host_vars/h1.yml", "d: inv_host\n");
        write("pb/host_vars/h1.yml", "d: pb_host\n");
        let inv = load(
            &[dir.path().join("inv/hosts")],
            Some(&dir.path().join("pb")),
        )
        .unwrap();
        let h1 = &pick(vec![], Some(&inv), None).unwrap().0[0];
        let got: Vec<(&str, &str)> = h1
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("a", "pb_all"),
                ("b", "inv_child"),
                ("c", "pb_parent"),
                ("d", "pb_host"),
                ("line", "host_line"),
            ]
        );
    }

    #[test]
    fn an_empty_limit_is_refused_not_read_as_every_host() {
        let hosts: Vec<Host> = ["w1", "w2"]
            .iter()
            .map(|h| parse_host(h).unwrap())
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("retry");
        std::fs::write(&empty, "\n  \n").unwrap();
        for spec in ["", " ", ",,", ":", &format!("@{}", empty.display())] {
            let e = limit(hosts.clone(), spec).unwrap_err().0;
            assert!(e.contains("names no host or group"), "{spec:?}: {e}");
        }
        assert_eq!(
            limit(hosts, "!w1").unwrap().len(),
            1,
            "exclusions alone act on the rest"
        );
    }

    #[test]
    fn settings_tend_does_not_use_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = dir.path().join("hosts");
        std::fs::write(
            &hosts,
            "[web]\nw[1:5] ansible_connection=local ansible_ssh_common_args='-o X=1' url=\"http://{{ inventory_hostname }}/\"\n",
        )
        .unwrap();
        let inv = load(&[hosts], None).unwrap();
        assert_eq!(
            pick(vec![], Some(&inv), None).unwrap().1,
            [
                "ansible_connection (on w1, w2, w3 and 2 more) is not used: tend reaches hosts over SSH with its own settings (ssh: in the playbook)",
                "ansible_ssh_common_args (on w1, w2, w3 and 2 more) is not used: tend reaches hosts over SSH with its own settings (ssh: in the playbook)",
                "inventory var 'url' (on w1, w2, w3 and 2 more) holds {{ }}, which tend takes as text where Ansible renders it: build the value in the playbook's template ({{ host.name }}, {{ host.vars.NAME }})",
            ]
        );
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
