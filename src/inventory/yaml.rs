//! Ansible's YAML inventory: `all: { hosts: { web1: { ansible_host: ... } }, vars: {...},
//! children: { web: {...} } }`, host names with ranges (`web[01:20]`) as in INI.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ranges;
use super::tree::Tree;
use crate::playbook::{Invalid, Vars};

#[derive(Deserialize, Default)]
struct Group {
    #[serde(default)]
    hosts: Option<BTreeMap<String, Option<Vars>>>,
    #[serde(default)]
    vars: Option<Vars>,
    #[serde(default)]
    children: Option<BTreeMap<String, Option<Group>>>,
}

/// The inventory a YAML mapping holds (None: not a YAML inventory, so perhaps an INI one).
pub fn read(text: &str, file: &str) -> Option<Result<Tree, Invalid>> {
    let value: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    // An INI file can read as YAML (a bare host name is a string): only a mapping is one.
    if !value.is_mapping() {
        return None;
    }
    let top: BTreeMap<String, Option<Group>> = match serde_yaml::from_value(value) {
        Ok(t) => t,
        Err(e) => {
            return Some(Err(format!(
                "{file} is not an Ansible YAML inventory: {e} (expected all: {{ hosts: {{ web1: {{ ansible_host: 10.0.0.11 }} }}, children: {{ ... }} }})"
            )
            .into()));
        }
    };
    let mut tree = Tree::new();
    let walked = top
        .into_iter()
        .try_for_each(|(name, g)| walk(&mut tree, &name, g.unwrap_or_default()));
    Some(walked.and_then(|()| tree.settle()).map(|()| tree))
}

fn walk(tree: &mut Tree, name: &str, g: Group) -> Result<(), Invalid> {
    tree.group(name).vars.extend(g.vars.unwrap_or_default());
    for (pattern, vars) in g.hosts.unwrap_or_default() {
        let vars = vars.unwrap_or_default();
        for host in ranges::expand(&pattern)? {
            tree.add_host(name, &host, vars.clone());
        }
    }
    for (child, group) in g.children.unwrap_or_default() {
        tree.add_child(name, &child)?;
        walk(tree, &child, group.unwrap_or_default())?;
    }
    Ok(())
}
