//! Which hosts a playbook acts on: `hosts:` entries (`user@host:port` or objects) and Ansible
//! YAML inventories (`all.hosts`, `children` groups, `ansible_host`, `ansible_port`,
//! `ansible_user`, `ansible_ssh_private_key_file`), narrowed by `--limit`, cut into batches.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

mod files;
mod ini;
mod literal;
mod pattern;
mod ranges;
mod tree;
mod yaml;
mod yaml11;

use serde::Deserialize;
use serde::de::{self, Deserializer};

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
        ..Host::default()
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

/// Hosts read from inventories, and what the reader noticed but did not stop for.
#[derive(Debug, Default)]
pub struct Inventory {
    pub hosts: Vec<Host>,
    pub warnings: Vec<String>,
}

/// Read the inventories at `paths` (files, or directories of them) with the `group_vars/` and
/// `host_vars/` beside each and beside the playbook (`playbook_dir`), and resolve every host's
/// vars as Ansible does: inventory-file group vars (by depth, priority, name) <
/// `group_vars/all` < `group_vars/GROUP` < the host's inventory vars < `host_vars/HOST`, the
/// inventory's before the playbook's at each step.
pub fn load(paths: &[PathBuf], playbook_dir: Option<&Path>) -> Result<Inventory, Invalid> {
    let mut tree = tree::Tree::new();
    let mut dirs = vec![];
    for path in paths {
        let mut found = vec![];
        sources(path, &mut found, 0)?;
        dirs.push(if path.is_dir() {
            path.clone()
        } else {
            path.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        });
        for source in found {
            read(&source, &mut tree)?;
        }
    }
    tree.settle()?;
    let mut levels: Vec<PathBuf> = vec![];
    for d in dirs.into_iter().chain(playbook_dir.map(Path::to_path_buf)) {
        if !levels.contains(&d) {
            levels.push(d);
        }
    }
    resolve(&tree, &levels)
}

/// The files an inventory path stands for: itself, or a directory's files and subdirectories'
/// by name, without `group_vars`/`host_vars`, hidden entries or the extensions Ansible skips
/// (`INVENTORY_IGNORE_EXTS`).
fn sources(path: &Path, found: &mut Vec<PathBuf>, depth: usize) -> Result<(), Invalid> {
    if !path.is_dir() {
        found.push(path.to_path_buf());
        return Ok(());
    }
    if depth > 32 {
        return Err(format!("inventory {}: nested more than 32 deep", path.display()).into());
    }
    const SKIPPED: [&str; 11] = [
        "pyc", "pyo", "swp", "bak", "rpm", "md", "txt", "rst", "orig", "cfg", "retry",
    ];
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .and_then(|l| l.map(|e| e.map(|e| e.path())).collect())
        .map_err(|e| {
            format!(
                "cannot read inventory {}: {}",
                path.display(),
                crate::sys::describe_io(&e)
            )
        })?;
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let skipped = name.starts_with('.')
            || name.ends_with('~')
            || ["group_vars", "host_vars", "vars_plugins"].contains(&name.as_str())
            || p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| SKIPPED.contains(&e));
        if !skipped {
            sources(&p, found, depth + 1)?;
        }
    }
    Ok(())
}

/// One inventory file, into `tree`: YAML when it reads as a YAML mapping, else INI (as Ansible
/// tries its yaml plugin before its ini one); when neither reads it, both say why.
fn read(path: &Path, tree: &mut tree::Tree) -> Result<(), Invalid> {
    let shown = path.display().to_string();
    if executable_script(path) {
        return Err(crate::playbook::diagnostic::with_hint(
            format!("{shown} is a program (a dynamic inventory script), which tend does not run"),
            format!(
                "write out what it prints: ansible-inventory -i {shown} --list -y > inventory.yml"
            ),
        ));
    }
    let text = files::text_of(path, "inventory ")?;
    match yaml11::parse(&text) {
        Ok(serde_yaml::Value::Mapping(top)) => yaml::read(top, &shown, tree),
        // A bare host name reads as YAML text: only a mapping is a YAML inventory.
        Ok(_) => ini::read(&text, &shown, tree),
        Err(yaml_error) => ini::read(&text, &shown, tree).map_err(|ini_error| {
            let yaml_like = text.lines().any(|l| {
                let l = l.trim_end();
                l.ends_with(':') && !l.trim_start().starts_with(['#', ';', '['])
            });
            if yaml_like {
                format!("{shown} is not a YAML inventory: {yaml_error}").into()
            } else {
                ini_error
            }
        }),
    }
}

/// An executable file that starts with `#!`: what Ansible's script plugin would run.
fn executable_script(path: &Path) -> bool {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    let mut start = [0u8; 2];
    executable
        && std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut start))
            .is_ok()
        && &start == b"#!"
}

fn resolve(tree: &tree::Tree, dirs: &[PathBuf]) -> Result<Inventory, Invalid> {
    let depth = tree.depths()?;
    let group_dirs = dirs
        .iter()
        .map(|d| files::VarsDir::open(d, "group_vars"))
        .collect::<Result<Vec<_>, _>>()?;
    let host_dirs = dirs
        .iter()
        .map(|d| files::VarsDir::open(d, "host_vars"))
        .collect::<Result<Vec<_>, _>>()?;
    // Each group's files read once, the inventory's before the playbook's.
    let mut group_files: HashMap<&str, Vars> = HashMap::with_capacity(tree.groups.len());
    for g in tree.groups.keys() {
        let mut v = Vars::new();
        for d in &group_dirs {
            v.extend(d.vars_of(g)?);
        }
        group_files.insert(g, v);
    }
    let memberships = tree.memberships();
    let mut out = Inventory::default();
    let mut unused: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, own) in &tree.hosts {
        let groups = tree.in_order(memberships[name.as_str()].iter().copied(), &depth);
        let mut v = Vars::new();
        for g in &groups {
            v.extend(tree.groups[*g].vars.clone());
        }
        v.extend(group_files["all"].clone());
        for g in groups.iter().filter(|g| **g != "all") {
            v.extend(group_files[*g].clone());
        }
        v.extend(own.clone());
        for d in &host_dirs {
            v.extend(d.vars_of(name)?);
        }
        for k in v.keys() {
            if let Some(k) = UNUSED.iter().find(|u| **u == k) {
                unused.entry(k).or_default().push(name);
            }
        }
        out.hosts.push(host_of(
            name,
            v,
            groups.iter().map(|g| g.to_string()).collect(),
        )?);
    }
    for (k, hosts) in unused {
        out.warnings.push(format!(
            "{k} (on {}) is not used: tend reaches hosts over SSH with its own settings (ssh: in the playbook)",
            few(&hosts)
        ));
    }
    Ok(out)
}

/// Ansible's connection settings tend has no use for: named once, so no one counts on them.
const UNUSED: [&str; 7] = [
    "ansible_ssh_common_args",
    "ansible_ssh_extra_args",
    "ansible_connection",
    "ansible_password",
    "ansible_ssh_pass",
    "ansible_ssh_executable",
    "ansible_ssh_args",
];

/// `a, b, c and 12 more`.
fn few(names: &[&str]) -> String {
    match names.len() {
        0..=3 => names.join(", "),
        n => format!("{} and {} more", names[..3].join(", "), n - 3),
    }
}

/// A host from its merged vars: `ansible_host`, `ansible_port`, `ansible_user`,
/// `ansible_ssh_private_key_file` and `ansible_become*` say how it is reached (the older
/// `ansible_ssh_host`, `_port`, `_user` and `ansible_private_key_file` too, and where both are
/// set the `ssh` one wins, as in Ansible's ssh plugin); the rest are its vars.
fn host_of(name: &str, v: Vars, groups: Vec<String>) -> Result<Host, Invalid> {
    let last = |keys: &[&'static str]| keys.iter().rev().find_map(|k| v.get(*k).map(|x| (*k, x)));
    let text = |keys: &[&'static str]| -> Result<Option<String>, Invalid> {
        match last(keys) {
            None | Some((_, serde_yaml::Value::Null)) => Ok(None),
            Some((_, serde_yaml::Value::String(s))) => Ok(Some(s.clone())),
            Some((_, serde_yaml::Value::Number(n))) => Ok(Some(n.to_string())),
            Some((k, other)) => Err(format!(
                "host {name}: {k} is {}, not text",
                serde_yaml::to_string(other).unwrap_or_default().trim()
            )
            .into()),
        }
    };
    let port = match last(&["ansible_port", "ansible_ssh_port"]) {
        None => 22,
        Some((k, serde_yaml::Value::Number(n))) => port_of(&n.to_string(), &format!("{name} {k}"))?,
        Some((k, serde_yaml::Value::String(s))) => port_of(s.trim(), &format!("{name} {k}"))?,
        Some((k, other)) => {
            return Err(format!(
                "host {name}: {k} is {}, not a port",
                serde_yaml::to_string(other).unwrap_or_default().trim()
            )
            .into());
        }
    };
    let become_ = match last(&["ansible_become"]) {
        None => None,
        Some((_, x)) => Some(
            truth(x)
                .ok_or_else(|| format!("host {name}: ansible_become is neither true nor false"))?,
        ),
    };
    if let Some(method) = text(&["ansible_become_method"])?
        && method != "sudo"
    {
        return Err(format!(
            "host {name}: ansible_become_method {method}: tend becomes another user with sudo only"
        )
        .into());
    }
    let become_user = text(&["ansible_become_user"])?;
    if let Some(u) = &become_user
        && !valid_user(u)
    {
        return Err(format!("host {name}: ansible_become_user '{u}' is not a user name").into());
    }
    Ok(Host {
        name: name.to_string(),
        address: text(&["ansible_host", "ansible_ssh_host"])?.unwrap_or_else(|| name.to_string()),
        port,
        user: text(&["ansible_user", "ansible_ssh_user"])?,
        identity: text(&["ansible_private_key_file", "ansible_ssh_private_key_file"])?
            .map(PathBuf::from),
        become_,
        become_user,
        become_password: text(&["ansible_become_password", "ansible_become_pass"])?,
        vars: v
            .iter()
            .filter(|(k, _)| !k.starts_with("ansible_"))
            .map(|(k, x)| (k.clone(), x.clone()))
            .collect(),
        groups,
    })
}

/// A boolean as Ansible's `boolean()` reads one: YAML's, and `yes`/`no`, `on`/`off`, `1`/`0`
/// and `true`/`false` as text in any case (an INI file has only text).
fn truth(v: &serde_yaml::Value) -> Option<bool> {
    match v {
        serde_yaml::Value::Bool(b) => Some(*b),
        serde_yaml::Value::Number(n) => n.as_i64().and_then(|n| match n {
            1 => Some(true),
            0 => Some(false),
            _ => None,
        }),
        serde_yaml::Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
            "n" | "no" | "off" | "0" | "false" | "f" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A user name sudo's `-u` can take, and nothing a shell would read as more than one word.
pub fn valid_user(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 32
        && !u.starts_with('-')
        && u.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
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
            let hosts = load(&[case.join("hosts")], None).unwrap().hosts;
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
            let hosts = load(&[case.join("hosts")], None).unwrap().hosts;
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

    /// One inventory file `text` (named `name`) in a temp dir, read: the error's text.
    fn refusal(name: &str, text: &str, mode: u32) -> String {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        load(&[path], None).unwrap_err().0
    }

    #[test]
    fn what_ansible_would_skip_or_cannot_read_is_refused() {
        for (text, why) in [
            ("all:\n  hosts:\n    a:\n    a:\n", "duplicate"),
            ("all:\n  hosts:\n    a:\n  bad: [\n", "not a YAML inventory"),
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
            ("[web]\nweb1 ansible_become_user='a b'\n", "not a user name"),
            ("[a:children]\nb\n[b:children]\na\n", "circle"),
        ] {
            let e = refusal("hosts", text, 0o644);
            assert!(e.contains(why), "{text}: {e}");
        }
        let e = refusal("inv.py", "#!/usr/bin/env python3\nprint('{}')\n", 0o755);
        assert!(e.contains("dynamic inventory script"), "{e}");
    }

    #[test]
    fn a_host_named_like_a_path_finds_no_vars_outside_host_vars() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("host_vars")).unwrap();
        std::fs::write(dir.path().join("secret.yml"), "leaked: yes\n").unwrap();
        let hosts = dir.path().join("hosts");
        std::fs::write(
            &hosts,
            format!("{}/secret\n../secret\n", dir.path().display()),
        )
        .unwrap();
        let found = load(&[hosts], None).unwrap().hosts;
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|h| h.vars.is_empty()), "{found:?}");
    }

    #[test]
    fn settings_tend_does_not_use_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = dir.path().join("hosts");
        std::fs::write(
            &hosts,
            "[web]\nw[1:5] ansible_connection=local ansible_ssh_common_args='-o X=1'\n",
        )
        .unwrap();
        let inv = load(&[hosts], None).unwrap();
        assert_eq!(
            inv.warnings,
            [
                "ansible_connection (on w1, w2, w3 and 2 more) is not used: tend reaches hosts over SSH with its own settings (ssh: in the playbook)",
                "ansible_ssh_common_args (on w1, w2, w3 and 2 more) is not used: tend reaches hosts over SSH with its own settings (ssh: in the playbook)",
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
