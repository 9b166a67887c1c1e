//! Ansible's YAML inventory: `all: { hosts: { web1: { ansible_host: ... } }, vars: {...},
//! children: { web: {...} } }`, host names with ranges and ports (`web[01:20]:2222`) as in
//! INI, groups and hosts in the order written. A key Ansible would skip with a warning (`host:`
//! for `hosts:`, a list of hosts) is refused here: it would leave hosts out without a word.

use serde_yaml::{Mapping, Value};

use super::ranges;
use super::tree::Tree;
use super::yaml11::{kind, scalar, vars};
use crate::playbook::Invalid;

/// The inventory a YAML mapping holds, added to `tree`.
pub fn read(top: Mapping, file: &str, tree: &mut Tree) -> Result<(), Invalid> {
    if let Some(plugin) = top.get("plugin") {
        return Err(crate::playbook::diagnostic::with_hint(
            format!(
                "{file} configures Ansible's inventory plugin {}, which tend does not run",
                scalar(plugin).unwrap_or_default()
            ),
            format!(
                "write out what it finds: ansible-inventory -i {file} --list -y > inventory.yml"
            ),
        ));
    }
    for (name, body) in top {
        let name = group_name(&name, file, "a top-level key")?;
        walk(tree, &name, body, file)?;
    }
    Ok(())
}

fn walk(tree: &mut Tree, name: &str, body: Value, file: &str) -> Result<(), Invalid> {
    tree.group(name);
    let body = match body {
        Value::Null => return Ok(()),
        Value::Mapping(m) => m,
        other => {
            return Err(format!(
                "{file}: group '{name}' is {}, not a mapping of hosts, vars and children",
                kind(&other)
            )
            .into());
        }
    };
    for (key, value) in body {
        let key = scalar(&key).unwrap_or_default();
        match key.as_str() {
            "vars" => tree
                .group(name)
                .vars
                .extend(vars(value, file, &format!("{name}.vars"))?),
            "hosts" => {
                for (pattern, v) in mapping(value, file, name, "hosts")? {
                    let pattern = scalar(&pattern)
                        .ok_or_else(|| format!("{file}: a host of group '{name}' has no name"))?;
                    let v = vars(v, file, &pattern)?;
                    let (hosts, port) =
                        ranges::entry(&pattern).map_err(|e| format!("{file}: {}", e.0))?;
                    for host in hosts {
                        tree.add_host(name, &host, port, v.clone());
                    }
                }
            }
            "children" => {
                for (child, v) in mapping(value, file, name, "children")? {
                    let child = group_name(&child, file, "a child group")?;
                    tree.add_child(name, &child)?;
                    walk(tree, &child, v, file)?;
                }
            }
            other => {
                return Err(crate::playbook::diagnostic::with_hint(
                    format!(
                        "{file}: group '{name}' has key '{other}'; a group has only hosts, vars and children"
                    ),
                    format!(
                        "{name}: {{ hosts: {{ web1: {{ ansible_host: 10.0.0.11 }} }}, vars: {{...}}, children: {{...}} }}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn mapping(value: Value, file: &str, group: &str, key: &str) -> Result<Mapping, Invalid> {
    match value {
        Value::Null => Ok(Mapping::new()),
        Value::Mapping(m) => Ok(m),
        other => Err(crate::playbook::diagnostic::with_hint(
            format!("{file}: {group}.{key} is {}, not a mapping", kind(&other)),
            format!("{key}: {{ web1: , web2: }} (each name a key, its vars or nothing after it)"),
        )),
    }
}

fn group_name(key: &Value, file: &str, what: &str) -> Result<String, Invalid> {
    match scalar(key) {
        Some(s) if !s.is_empty() && !s.contains(char::is_whitespace) => Ok(s),
        _ => Err(format!("{file}: {what} is not a group name").into()),
    }
}
