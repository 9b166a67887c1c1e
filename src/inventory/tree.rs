//! An inventory as Ansible holds it once read, whatever its format: groups (with `all` and
//! `ungrouped`), their hosts, children and vars, each host's own vars; and each host's vars
//! merged as Ansible merges them: `all`, then parents before children (by depth), groups of one
//! depth by `ansible_group_priority` then name, the host's own last.

use std::collections::{BTreeMap, BTreeSet};

use crate::playbook::{Invalid, Vars};

#[derive(Debug, Default)]
pub struct Group {
    /// Direct members, in the order the inventory names them.
    pub hosts: Vec<String>,
    pub children: Vec<String>,
    pub vars: Vars,
}

#[derive(Debug, Default)]
pub struct Tree {
    pub groups: BTreeMap<String, Group>,
    /// Every host, in the order first named, with its own vars.
    pub hosts: Vec<(String, Vars)>,
}

impl Tree {
    pub fn new() -> Tree {
        let mut t = Tree::default();
        t.group("all");
        t.group("ungrouped");
        t.groups
            .get_mut("all")
            .unwrap()
            .children
            .push("ungrouped".into());
        t
    }

    /// The group, made (a child of `all`) the first time it is named.
    pub fn group(&mut self, name: &str) -> &mut Group {
        if !self.groups.contains_key(name) {
            self.groups.insert(name.to_string(), Group::default());
            if name != "all" && name != "ungrouped" {
                let all = self.groups.get_mut("all").expect("made first");
                all.children.push(name.to_string());
            }
        }
        self.groups.get_mut(name).expect("just made")
    }

    /// `host` in `group`, its vars added to those it has.
    pub fn add_host(&mut self, group: &str, host: &str, vars: Vars) {
        match self.hosts.iter_mut().find(|(h, _)| h == host) {
            Some((_, own)) => own.extend(vars),
            None => self.hosts.push((host.to_string(), vars)),
        }
        let g = self.group(group);
        if !g.hosts.iter().any(|h| h == host) {
            g.hosts.push(host.to_string());
        }
    }

    pub fn add_child(&mut self, parent: &str, child: &str) -> Result<(), Invalid> {
        if parent == child {
            return Err(format!("group '{parent}' cannot be its own child").into());
        }
        self.group(child);
        let p = self.group(parent);
        if !p.children.iter().any(|c| c == child) {
            p.children.push(child.to_string());
        }
        Ok(())
    }

    /// Another inventory's groups and hosts added to these (a list or a directory of them).
    pub fn merge(&mut self, other: Tree) {
        for (host, vars) in other.hosts {
            match self.hosts.iter_mut().find(|(h, _)| *h == host) {
                Some((_, own)) => own.extend(vars),
                None => self.hosts.push((host, vars)),
            }
        }
        for (name, g) in other.groups {
            let mine = self.group(&name);
            mine.vars.extend(g.vars);
            for h in g.hosts {
                if !mine.hosts.contains(&h) {
                    mine.hosts.push(h);
                }
            }
            for c in g.children {
                if !mine.children.contains(&c) {
                    mine.children.push(c);
                }
            }
        }
    }

    /// A host in no group but `all` is in `ungrouped`; a group that is some other's child is
    /// not also a child of `all` (as Ansible shows it).
    pub fn settle(&mut self) -> Result<(), Invalid> {
        let grouped: BTreeSet<String> = self
            .groups
            .iter()
            .filter(|(name, _)| *name != "all" && *name != "ungrouped")
            .flat_map(|(_, g)| g.hosts.iter().cloned())
            .collect();
        let ungrouped: Vec<String> = self
            .hosts
            .iter()
            .map(|(h, _)| h.clone())
            .filter(|h| !grouped.contains(h))
            .collect();
        let u = self.group("ungrouped");
        u.hosts.retain(|h| ungrouped.contains(h));
        for h in ungrouped {
            if !u.hosts.contains(&h) {
                u.hosts.push(h);
            }
        }
        let children: BTreeSet<String> = self
            .groups
            .iter()
            .filter(|(name, _)| *name != "all")
            .flat_map(|(_, g)| g.children.iter().cloned())
            .collect();
        let all = self.group("all");
        all.hosts.clear();
        all.children.retain(|c| !children.contains(c));
        self.depths().map(|_| ())
    }

    /// Each group's depth: `all` 0, a group one more than its deepest parent; a cycle is an
    /// error, as it is to Ansible.
    pub fn depths(&self) -> Result<BTreeMap<&str, usize>, Invalid> {
        let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
        depth.insert("all", 0);
        // Longest paths in a graph that must be acyclic: relax as many times as there are groups.
        for _ in 0..=self.groups.len() {
            let mut changed = false;
            for (name, g) in &self.groups {
                let Some(&d) = depth.get(name.as_str()) else {
                    continue;
                };
                for c in &g.children {
                    let e = depth.entry(c.as_str()).or_insert(0);
                    if *e < d + 1 {
                        *e = d + 1;
                        changed = true;
                    }
                }
            }
            if !changed {
                return Ok(depth);
            }
        }
        Err("the inventory's groups are children of each other in a circle".into())
    }

    /// Every group `host` is in, directly or through a child group, `all` included.
    pub fn groups_of(&self, host: &str) -> BTreeSet<&str> {
        let mut found: BTreeSet<&str> = self
            .groups
            .iter()
            .filter(|(_, g)| g.hosts.iter().any(|h| h == host))
            .map(|(n, _)| n.as_str())
            .collect();
        found.insert("all");
        loop {
            let parents: Vec<&str> = self
                .groups
                .iter()
                .filter(|(n, g)| {
                    !found.contains(n.as_str())
                        && g.children.iter().any(|c| found.contains(c.as_str()))
                })
                .map(|(n, _)| n.as_str())
                .collect();
            if parents.is_empty() {
                return found;
            }
            found.extend(parents);
        }
    }

    /// `groups` in the order their vars apply: by depth, then `ansible_group_priority`, then
    /// name.
    pub fn in_order<'a>(
        &'a self,
        groups: impl IntoIterator<Item = &'a str>,
        depth: &BTreeMap<&str, usize>,
    ) -> Vec<&'a str> {
        let priority = |g: &str| {
            self.groups
                .get(g)
                .and_then(|g| g.vars.get("ansible_group_priority"))
                .and_then(serde_yaml::Value::as_i64)
                .unwrap_or(1)
        };
        let mut v: Vec<&str> = groups.into_iter().collect();
        v.sort_by_key(|g| (depth.get(g).copied().unwrap_or(0), priority(g), *g));
        v
    }
}
