//! Which hosts a playbook acts on: `hosts:` entries (`user@host:port` or objects) and Ansible
//! YAML inventories (`all.hosts`, `children` groups, `ansible_host`, `ansible_port`,
//! `ansible_user`, `ansible_ssh_private_key_file`), narrowed by `--limit`, cut into batches.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::playbook::Vars;
use crate::playbook::diagnostic::with_hint;

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

/// An Ansible YAML inventory: `all: { hosts: {...}, vars: {...}, children: { group: {...} } }`.
#[derive(Deserialize, Default)]
struct Group {
    #[serde(default)]
    hosts: Option<BTreeMap<String, Option<Vars>>>,
    #[serde(default)]
    vars: Option<Vars>,
    #[serde(default)]
    children: Option<BTreeMap<String, Option<Group>>>,
}

/// Read an Ansible YAML inventory. Group vars apply to the group's hosts; a host's own vars win.
pub fn load_ansible(path: &Path) -> Result<Vec<Host>, crate::playbook::Invalid> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read inventory {}: {}",
            path.display(),
            crate::sys::describe_io(&e)
        )
    })?;
    let top: BTreeMap<String, Option<Group>> = serde_yaml::from_str(&text).map_err(|e| {
        with_hint(
            format!(
                "inventory {} is not an Ansible YAML inventory: {e}",
                path.display()
            ),
            "expected all: { hosts: { web1: { ansible_host: 10.0.0.11 } }, children: { ... } }",
        )
    })?;
    let mut hosts: Vec<Host> = vec![];
    for (name, group) in top {
        walk(
            &name,
            group.unwrap_or_default(),
            &Vars::new(),
            &mut vec![],
            &mut hosts,
        )?;
    }
    Ok(hosts)
}

fn walk(
    name: &str,
    g: Group,
    inherited: &Vars,
    path: &mut Vec<String>,
    out: &mut Vec<Host>,
) -> Result<(), crate::playbook::Invalid> {
    let mut vars = inherited.clone();
    vars.extend(g.vars.unwrap_or_default());
    path.push(name.to_string());
    for (host, own) in g.hosts.unwrap_or_default() {
        let mut v = vars.clone();
        v.extend(own.unwrap_or_default());
        let str_of = |k: &str| {
            v.get(k).and_then(|x| match x {
                serde_yaml::Value::String(s) => Some(s.clone()),
                serde_yaml::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        };
        let address = str_of("ansible_host").unwrap_or_else(|| host.clone());
        let port = match str_of("ansible_port") {
            Some(p) => port_of(&p, &format!("{host} ansible_port"))?,
            None => 22,
        };
        let entry = Host {
            name: host.clone(),
            address,
            port,
            user: str_of("ansible_user"),
            identity: str_of("ansible_ssh_private_key_file").map(PathBuf::from),
            vars: v
                .iter()
                .filter(|(k, _)| !k.starts_with("ansible_"))
                .map(|(k, x)| (k.clone(), x.clone()))
                .collect(),
            groups: path.clone(),
        };
        // A host listed in several groups is one host, in all of them.
        match out.iter_mut().find(|h| h.name == host) {
            Some(h) => {
                for g in &entry.groups {
                    if !h.groups.contains(g) {
                        h.groups.push(g.clone());
                    }
                }
            }
            None => out.push(entry),
        }
    }
    for (child, group) in g.children.unwrap_or_default() {
        walk(&child, group.unwrap_or_default(), &vars, path, out)?;
    }
    path.pop();
    Ok(())
}

/// `--limit web1,canary`: hosts by name or group; an unknown name is an error, not a no-op.
pub fn limit(hosts: Vec<Host>, spec: &str) -> Result<Vec<Host>, crate::playbook::Invalid> {
    let wanted: Vec<&str> = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    for w in &wanted {
        if !hosts
            .iter()
            .any(|h| h.name == *w || h.address == *w || h.groups.iter().any(|g| g == w))
        {
            let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            return Err(format!(
                "--limit: no host or group '{w}' (hosts: {})",
                names.join(", ")
            )
            .into());
        }
    }
    Ok(hosts
        .into_iter()
        .filter(|h| {
            wanted
                .iter()
                .any(|w| h.name == *w || h.address == *w || h.groups.iter().any(|g| g == w))
        })
        .collect())
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
