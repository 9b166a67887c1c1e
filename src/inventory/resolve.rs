//! From the tree to hosts: each host's vars merged as Ansible merges them (inventory-file group
//! vars by depth, priority and name < `group_vars/all` < `group_vars/GROUP` < the host's own <
//! `host_vars/HOST`, the inventory's directory before the playbook's at each step), and how it
//! is reached. Lazily: `--limit web` reads the `group_vars` and `host_vars` of web's hosts, not
//! of the other 4,975.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use super::files::VarsDir;
use super::tree::Tree;
use super::vars::{self, HostVars};
use super::{Host, port_of, valid_user};
use crate::playbook::{Invalid, Vars};

/// A host's vars as merged: each name's winning value, borrowed from where it was written.
type Merged<'a> = BTreeMap<&'a str, &'a serde_yaml::Value>;

/// Inventories read, their hosts resolved on demand.
pub struct Inventory {
    tree: Tree,
    group_dirs: Vec<VarsDir>,
    host_dirs: Vec<VarsDir>,
    /// By host index: its groups (indices into the tree's), in the order their vars apply.
    order: Vec<Arc<[usize]>>,
    /// Host indices in Ansible's order for `all`: what a run goes through.
    ordered: Vec<usize>,
    /// By group index: its `group_vars` files, one set a directory (`group_dirs`' order), read
    /// the first time a host needs them.
    group_files: Vec<OnceLock<Vec<Vars>>>,
}

impl Inventory {
    pub fn new(tree: Tree, dirs: &[PathBuf]) -> Result<Inventory, Invalid> {
        let open = |kind: &str| {
            dirs.iter()
                .map(|d| VarsDir::open(d, kind))
                .collect::<Result<Vec<_>, _>>()
        };
        let mut ordered = tree.hosts_in_order("all");
        if ordered.len() < tree.hosts.len() {
            let placed: std::collections::HashSet<usize> = ordered.iter().copied().collect();
            ordered.extend((0..tree.hosts.len()).filter(|i| !placed.contains(i)));
        }
        Ok(Inventory {
            ordered,
            order: tree.apply_order()?,
            group_files: (0..tree.groups.len()).map(|_| OnceLock::new()).collect(),
            group_dirs: open("group_vars")?,
            host_dirs: open("host_vars")?,
            tree,
        })
    }

    /// Every host's index, in the order a run goes through them.
    pub fn in_order(&self) -> &[usize] {
        &self.ordered
    }

    pub fn name(&self, host: usize) -> &str {
        self.tree
            .hosts
            .get_index(host)
            .map_or("", |(n, _)| n.as_str())
    }

    /// Every group, in the order the inventory first named them.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.tree.groups.keys().map(String::as_str)
    }

    /// A group's hosts (indices) in Ansible's order for it (`Group.get_hosts`).
    pub fn members(&self, group: &str) -> Vec<usize> {
        self.tree.hosts_in_order(group)
    }

    /// How many hosts: each is an index below it, in the order first named.
    pub fn host_count(&self) -> usize {
        self.tree.hosts.len()
    }

    /// The groups `host` is in, `all` included.
    pub fn groups(&self, host: usize) -> impl Iterator<Item = &str> {
        self.order[host].iter().map(|g| self.group_name(*g))
    }

    fn group_name(&self, g: usize) -> &str {
        self.tree
            .groups
            .get_index(g)
            .map_or("", |(n, _)| n.as_str())
    }

    /// A group's `group_vars` files, a set for each directory: the inventories', then the
    /// playbook's.
    fn files_of(&self, g: usize) -> Result<&[Vars], Invalid> {
        let cell = &self.group_files[g];
        if cell.get().is_none() {
            let sets = self
                .group_dirs
                .iter()
                .map(|d| d.vars_of(self.group_name(g)))
                .collect::<Result<Vec<_>, _>>()?;
            let _ = cell.set(sets);
        }
        Ok(cell.get().expect("just set"))
    }

    /// The hosts at `indices`, each as `host` gives it, in order.
    pub fn hosts(&self, indices: &[usize]) -> Result<Vec<(Host, Vec<Note>)>, Invalid> {
        let mut shared = HashMap::new();
        indices
            .iter()
            .map(|i| self.resolve(*i, &mut shared))
            .collect()
    }

    /// Host `host`, its vars merged, and the names of the settings it has that tend does not
    /// use.
    pub fn host(&self, host: usize) -> Result<(Host, Vec<Note>), Invalid> {
        self.resolve(host, &mut HashMap::new())
    }

    /// `host`, with what hosts in the same groups share merged once for all of them in
    /// `shared` (by group list): thousands of hosts in a few hundred groups.
    fn resolve<'a>(
        &'a self,
        host: usize,
        shared: &mut HashMap<&'a [usize], Shared<'a>>,
    ) -> Result<(Host, Vec<Note>), Invalid> {
        let (name, own) = self
            .tree
            .hosts
            .get_index(host)
            .expect("a host of the inventory");
        let groups = &self.order[host];
        let common = match shared.entry(groups) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(self.shared(groups)?),
        };
        // The host's own layers, over its groups': the inventory's line, then `host_vars` (the
        // inventory's directory's, then the playbook's).
        let mut files = Vars::new();
        for d in &self.host_dirs {
            files.extend(d.vars_of(name)?);
        }
        let files = vars::layer(files);
        let mine = |k: &str| files.get(k).or_else(|| own.get(k));
        // The `ansible_*` settings, which say how the host is reached: its own few, over its
        // groups' few, looked through rather than each looked up in every map.
        let settings: Vec<(&str, &serde_yaml::Value)> = own
            .iter()
            .chain(files.iter())
            .filter(|(k, _)| k.starts_with("ansible_"))
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        let get = |k: &str| {
            settings
                .iter()
                .rev()
                .chain(&common.settings)
                .find(|(name, _)| *name == k)
                .map(|(_, v)| *v)
        };
        let names = || own.keys().chain(files.keys());
        let mut notes: Vec<Note> = common
            .unused
            .iter()
            .copied()
            .chain(names().filter_map(|k| UNUSED.iter().copied().find(|u| u == k)))
            .map(Note::Unused)
            .collect();
        notes.extend(
            common
                .templates
                .iter()
                .copied()
                .filter(|k| mine(k).is_none())
                .chain(
                    names()
                        .map(String::as_str)
                        .filter(|k| !k.starts_with("ansible_"))
                        .filter(|k| mine(k).is_some_and(holds_template)),
                )
                .map(|k| Note::Template(k.to_string())),
        );
        notes.sort();
        notes.dedup();
        let vars = HostVars::inventory([common.vars.clone(), own.clone(), files.clone()]);
        let host = host_of(name, &get, vars, common.groups.clone())?;
        Ok((host, notes))
    }

    /// What the groups in `groups` give a host, in Ansible's `VARIABLE_PRECEDENCE`: their
    /// inventory-file vars by depth; then `group_vars/all`, the inventories' before the
    /// playbook's; then the other groups' `group_vars`, every group's in the inventories'
    /// directories before any in the playbook's (a playbook's `group_vars/web.yml` wins over an
    /// inventory's `group_vars/web_child.yml`).
    fn shared(&self, groups: &[usize]) -> Result<Shared<'_>, Invalid> {
        let all = self.tree.groups.get_index_of("all").expect("always there");
        let mut layers: Vec<&Vars> = groups.iter().map(|g| &self.tree.groups[*g].vars).collect();
        layers.extend(self.files_of(all)?);
        let others: Vec<&[Vars]> = groups
            .iter()
            .filter(|g| **g != all)
            .map(|g| self.files_of(*g))
            .collect::<Result<_, _>>()?;
        for d in 0..self.group_dirs.len() {
            layers.extend(others.iter().map(|sets| &sets[d]));
        }
        let mut merged: Merged = BTreeMap::new();
        for layer in layers {
            for (k, v) in layer {
                merged.insert(k, v);
            }
        }
        let ours = || merged.iter().filter(|(k, _)| !k.starts_with("ansible_"));
        let vars = ours().map(|(k, v)| (k.to_string(), (*v).clone())).collect();
        let templates = ours()
            .filter(|(_, v)| holds_template(v))
            .map(|(k, _)| *k)
            .collect();
        Ok(Shared {
            settings: merged
                .iter()
                .filter(|(k, _)| k.starts_with("ansible_"))
                .map(|(k, v)| (*k, *v))
                .collect(),
            groups: groups
                .iter()
                .map(|g| self.group_name(*g).to_string())
                .collect(),
            vars: Arc::new(vars),
            templates,
            unused: UNUSED
                .iter()
                .copied()
                .filter(|k| merged.contains_key(k))
                .collect(),
        })
    }
}

/// What every host in the same groups has in common.
struct Shared<'a> {
    /// Its names that are not `ansible_` settings, as `host.vars` shows them.
    vars: Arc<Vars>,
    /// The names among them whose value holds `{{ }}`.
    templates: Vec<&'a str>,
    /// The settings tend does not use among them.
    unused: Vec<&'static str>,
    /// The groups' names, as `Host::groups`.
    groups: Arc<[String]>,
    /// Its `ansible_*` settings.
    settings: Vec<(&'a str, &'a serde_yaml::Value)>,
}

/// What resolving a host noticed, for a warning.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Note {
    /// A setting tend does not use (`ansible_ssh_common_args`).
    Unused(&'static str),
    /// A var whose value holds `{{ }}`, which Ansible would render and tend takes as text.
    Template(String),
}

/// The warnings for `found` notes, each once with the hosts it is about.
pub fn warnings<'a>(found: impl IntoIterator<Item = (&'a str, Note)>) -> Vec<String> {
    let mut by: BTreeMap<Note, Vec<&str>> = BTreeMap::new();
    for (host, note) in found {
        by.entry(note).or_default().push(host);
    }
    by.into_iter()
        .map(|(note, hosts)| match note {
            Note::Unused(k) => format!(
                "{k} (on {}) is not used: tend reaches hosts over SSH with its own settings (ssh: in the playbook)",
                few(&hosts)
            ),
            Note::Template(k) => format!(
                "inventory var '{k}' (on {}) holds {{{{ }}}}, which tend takes as text where Ansible renders it: build the value in the playbook's template ({{{{ host.name }}}}, {{{{ host.vars.NAME }}}})",
                few(&hosts)
            ),
        })
        .collect()
}

/// A string holding a Jinja expression or statement, anywhere in the value.
fn holds_template(v: &serde_yaml::Value) -> bool {
    match v {
        serde_yaml::Value::String(s) => s.contains("{{") || s.contains("{%"),
        serde_yaml::Value::Sequence(items) => items.iter().any(holds_template),
        serde_yaml::Value::Mapping(m) => m.values().any(holds_template),
        serde_yaml::Value::Tagged(t) => holds_template(&t.value),
        _ => false,
    }
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

/// `a, b, c and 12 more`: hosts named in a warning.
pub fn few(names: &[&str]) -> String {
    match names.len() {
        0..=3 => names.join(", "),
        n => format!("{} and {} more", names[..3].join(", "), n - 3),
    }
}

/// A host from its merged vars: `ansible_host`, `ansible_port`, `ansible_user`,
/// `ansible_ssh_private_key_file` and `ansible_become*` say how it is reached (the older
/// `ansible_ssh_host`, `_port`, `_user` and `ansible_private_key_file` too, and where both are
/// set the `ssh` one wins, as in Ansible's ssh plugin); the rest are its vars.
fn host_of<'v>(
    name: &str,
    get: &dyn Fn(&str) -> Option<&'v serde_yaml::Value>,
    vars: HostVars,
    groups: Arc<[String]>,
) -> Result<Host, Invalid> {
    let last = |keys: &[&'static str]| keys.iter().rev().find_map(|k| get(k).map(|x| (*k, x)));
    let text = |keys: &[&'static str]| -> Result<Option<String>, Invalid> {
        match last(keys) {
            None | Some((_, serde_yaml::Value::Null)) => Ok(None),
            Some((_, serde_yaml::Value::String(s))) => Ok(Some(s.clone())),
            Some((_, serde_yaml::Value::Number(n))) => Ok(Some(n.to_string())),
            Some((k, other)) => {
                Err(format!("host {name}: {k} is {}, not text", shown(other)).into())
            }
        }
    };
    let port = match last(&["ansible_port", "ansible_ssh_port"]) {
        None => 22,
        Some((_, serde_yaml::Value::Number(n)))
            if let Some(p) = n.as_u64().and_then(|p| u16::try_from(p).ok())
                && p > 0 =>
        {
            p
        }
        Some((k, serde_yaml::Value::Number(n))) => port_of(&n.to_string(), &format!("{name} {k}"))?,
        Some((k, serde_yaml::Value::String(s))) => port_of(s.trim(), &format!("{name} {k}"))?,
        Some((k, other)) => {
            return Err(format!("host {name}: {k} is {}, not a port", shown(other)).into());
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
    // How a host is reached is checked now, not by a DNS lookup of junk at deploy time; a
    // template there is Ansible's to render, and tend does not.
    let setting = |keys: &[&'static str], ok: fn(&str) -> bool, what: &str| {
        let value = text(keys)?;
        // The name the inventory used, for the message.
        let key = last(keys).map_or(keys[0], |(k, _)| k);
        match &value {
            Some(x) if x.contains("{{") || x.contains("{%") => Err(Invalid::from(format!(
                "host {name}: {key} is a template ('{x}'), which tend does not render: give the value itself"
            ))),
            Some(x) if !ok(x) => Err(Invalid::from(format!(
                "host {name}: {key} '{x}' is not {what}"
            ))),
            _ => Ok(value),
        }
    };
    let address = setting(
        &["ansible_host", "ansible_ssh_host"],
        valid_address,
        "a host name or an IP address",
    )?
    .unwrap_or_else(|| name.to_string());
    if !valid_address(&address) {
        return Err(format!(
            "host {name}: the name is not a host name or an IP address, and no ansible_host gives one"
        )
        .into());
    }
    Ok(Host {
        name: name.to_string(),
        address,
        port,
        user: setting(
            &["ansible_user", "ansible_ssh_user"],
            valid_login,
            "a user name",
        )?,
        identity: setting(
            &["ansible_private_key_file", "ansible_ssh_private_key_file"],
            |p| !p.trim().is_empty(),
            "a path",
        )?
        .map(PathBuf::from),
        become_,
        become_user,
        become_password: text(&["ansible_become_password", "ansible_become_pass"])?,
        vars,
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

/// A value as one line (`[22]`, `{a: 1}`), for an error.
fn shown(v: &serde_yaml::Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "a value".into())
}

/// A host name or an IP address (`web1.example.com`, `10.0.0.11`, `fe80::1%eth0`): nothing a
/// resolver would be asked in vain, nothing that starts like an option.
fn valid_address(a: &str) -> bool {
    // A colon only in an IPv6 address (`10.0.0.1:2222` would be a host on port 22 named so).
    if a.contains([':', '%']) {
        let (ip, zone) = a.split_once('%').unwrap_or((a, "x"));
        return ip.parse::<std::net::Ipv6Addr>().is_ok()
            && !zone.is_empty()
            && zone
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'));
    }
    !a.is_empty()
        && !a.starts_with('-')
        && a.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

/// A login name: one word, printable, not an option.
fn valid_login(u: &str) -> bool {
    !u.is_empty()
        && !u.starts_with('-')
        && u.chars()
            .all(|c| c.is_alphanumeric() || "._-@$\\".contains(c))
}
