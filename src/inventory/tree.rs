//! An inventory as Ansible holds it once read, whatever its format: groups (with `all` and
//! `ungrouped`), their hosts, children and vars, each host's own vars; and each host's vars
//! merged as Ansible merges them: `all`, then parents before children (by depth), groups of one
//! depth by `ansible_group_priority` then name, the host's own last.
//!
//! Indexed both ways (a group's members, a host's groups), so reading and resolving stay linear
//! in the inventory's size: a 5,000-host inventory must not cost 25 million comparisons.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::{IndexMap, IndexSet};

use crate::playbook::{Invalid, Vars};

#[derive(Debug, Default)]
pub struct Group {
    /// Direct members, in the order the inventory names them.
    pub hosts: IndexSet<String>,
    pub children: IndexSet<String>,
    pub vars: Vars,
}

#[derive(Debug, Default)]
pub struct Tree {
    /// In the order first named, as Ansible keeps them.
    pub groups: IndexMap<String, Group>,
    /// Every host, in the order first named, with its own vars (shared with its resolved
    /// `host.vars`, not copied into them).
    pub hosts: IndexMap<String, Arc<Vars>>,
    /// The groups the inventory itself puts under `all` (`all: { children: ... }`,
    /// `[all:children]`), in that order: they stay there, before the groups that are under
    /// `all` only for want of another parent (Ansible's `reconcile_inventory`).
    under_all: IndexSet<String>,
}

impl Tree {
    pub fn new() -> Tree {
        let mut t = Tree::default();
        t.group("all");
        t.group("ungrouped");
        t.groups["all"].children.insert("ungrouped".into());
        t.under_all.insert("ungrouped".into());
        t
    }

    /// The group, made (a child of `all`) the first time it is named.
    pub fn group(&mut self, name: &str) -> &mut Group {
        if !self.groups.contains_key(name) {
            self.groups.insert(name.to_string(), Group::default());
            if name != "all" && name != "ungrouped" {
                self.groups["all"].children.insert(name.to_string());
            }
        }
        &mut self.groups[name]
    }

    /// `host` in `group`, its vars added to those it has. A `port` (`web1:2222`) counts only
    /// where the host is first named, and below the line's own `ansible_port=` (Ansible's
    /// `Host(name, port)` then `set_variable`).
    pub fn add_host(&mut self, group: &str, host: &str, port: Option<u16>, vars: Vars) {
        match self.hosts.entry(host.to_string()) {
            indexmap::map::Entry::Occupied(mut e) => Arc::make_mut(e.get_mut()).extend(vars),
            indexmap::map::Entry::Vacant(e) => {
                let mut own = vars;
                if let Some(p) = port {
                    own.entry("ansible_port".into()).or_insert(p.into());
                }
                e.insert(Arc::new(own));
            }
        }
        match self.groups.get_mut(group) {
            Some(g) => g.hosts.insert(host.to_string()),
            None => self.group(group).hosts.insert(host.to_string()),
        };
    }

    pub fn add_child(&mut self, parent: &str, child: &str) -> Result<(), Invalid> {
        if parent == child {
            return Err(format!("group '{parent}' cannot be its own child").into());
        }
        self.group(child);
        self.group(parent).children.insert(child.to_string());
        if parent == "all" {
            self.under_all.insert(child.to_string());
        }
        Ok(())
    }

    /// A host in no group but `all` is in `ungrouped`; a group that is some other's child is
    /// not also a child of `all` (as Ansible shows it); the groups make no circle.
    pub fn settle(&mut self) -> Result<(), Invalid> {
        let mut grouped: IndexSet<&str> = IndexSet::new();
        for (name, g) in &self.groups {
            if name != "all" && name != "ungrouped" {
                grouped.extend(g.hosts.iter().map(String::as_str));
            }
        }
        let ungrouped: IndexSet<String> = self
            .hosts
            .keys()
            .filter(|h| !grouped.contains(h.as_str()))
            .cloned()
            .collect();
        let u = self.group("ungrouped");
        u.hosts.retain(|h| ungrouped.contains(h));
        u.hosts.extend(ungrouped);
        let children: IndexSet<String> = self
            .groups
            .iter()
            .filter(|(name, _)| *name != "all")
            .flat_map(|(_, g)| g.children.iter().cloned())
            .collect();
        let mut under_all = self.under_all.clone();
        let all = self.group("all");
        all.hosts.clear();
        under_all.extend(
            all.children
                .iter()
                .filter(|c| !children.contains(*c))
                .cloned(),
        );
        all.children = under_all;
        self.depths().map(|_| ())
    }

    /// Each group's depth: `all` 0, a group one more than its deepest parent. A circle of
    /// children anywhere is an error, as it is to Ansible, reachable from `all` or not.
    pub fn depths(&self) -> Result<HashMap<&str, usize>, Invalid> {
        let parents = self.parents();
        let mut depth: HashMap<&str, usize> = HashMap::with_capacity(self.groups.len());
        // Iterative, so a long chain of groups cannot overflow the stack: (group, parents
        // pushed yet).
        for start in self.groups.keys() {
            let mut stack: Vec<(&str, bool)> = vec![(start.as_str(), false)];
            let mut on_path: IndexSet<&str> = IndexSet::new();
            while let Some((g, expanded)) = stack.pop() {
                if depth.contains_key(g) {
                    continue;
                }
                let ps = parents.get(g).map_or(&[][..], Vec::as_slice);
                if expanded {
                    on_path.swap_remove(g);
                    let d = ps.iter().map(|p| depth[p] + 1).max().unwrap_or(0);
                    depth.insert(g, if g == "all" { 0 } else { d.max(1) });
                    continue;
                }
                // Entered now, left when its depth is known (the path's last, so the removal
                // above keeps the path's order): a parent met on the path closes a circle.
                on_path.insert(g);
                stack.push((g, true));
                for p in ps {
                    if !depth.contains_key(p) {
                        if on_path.contains(p) {
                            on_path.insert(g);
                            return Err(format!(
                                "the inventory's groups are children of each other in a circle: {}",
                                circle(&on_path, p)
                            )
                            .into());
                        }
                        stack.push((p, false));
                    }
                }
            }
        }
        Ok(depth)
    }

    /// Each group's parents.
    fn parents(&self) -> HashMap<&str, Vec<&str>> {
        let mut parents: HashMap<&str, Vec<&str>> = HashMap::with_capacity(self.groups.len());
        for (name, g) in &self.groups {
            for c in &g.children {
                parents.entry(c.as_str()).or_default().push(name.as_str());
            }
        }
        parents
    }

    /// Every host's groups (indices into `groups`, by host index), directly or through a child
    /// group, `all` included, in the order their vars apply: by depth, then
    /// `ansible_group_priority`, then name. One walk for the whole inventory, and one list for
    /// all the hosts in the same groups.
    pub fn apply_order(&self) -> Result<Vec<Arc<[usize]>>, Invalid> {
        let depth = self.depths()?;
        let mut ranked: Vec<(usize, &str)> = self
            .groups
            .keys()
            .enumerate()
            .map(|(i, g)| (i, g.as_str()))
            .collect();
        ranked.sort_by_key(|(_, g)| (depth.get(g).copied().unwrap_or(0), self.priority(g), *g));
        let mut rank = vec![0; self.groups.len()];
        for (r, (i, _)) in ranked.iter().enumerate() {
            rank[*i] = r;
        }
        let parents = self.parents();
        let index = |g: &str| self.groups.get_index_of(g).expect("a group of the tree");
        let all = index("all");
        // Each group with its ancestors, itself and `all` included, worked out once.
        let up: Vec<Vec<usize>> = self
            .groups
            .keys()
            .map(|g| {
                let mut seen: IndexSet<usize> = IndexSet::new();
                let mut todo = vec![g.as_str()];
                while let Some(x) = todo.pop() {
                    if seen.insert(index(x)) {
                        todo.extend(parents.get(x).into_iter().flatten());
                    }
                }
                seen.insert(all);
                seen.into_iter().collect()
            })
            .collect();
        let mut direct: Vec<Vec<usize>> = vec![vec![]; self.hosts.len()];
        for (gi, g) in self.groups.values().enumerate() {
            for h in &g.hosts {
                let hi = self
                    .hosts
                    .get_index_of(h.as_str())
                    .expect("a host of the tree");
                direct[hi].push(gi);
            }
        }
        let mut made: HashMap<Vec<usize>, Arc<[usize]>> = HashMap::new();
        Ok(direct
            .into_iter()
            .map(|mut gs| {
                gs.sort_unstable();
                gs.dedup();
                made.entry(gs)
                    .or_insert_with_key(|gs| {
                        let mut v: Vec<usize> =
                            gs.iter().flat_map(|g| up[*g].iter().copied()).collect();
                        v.push(all);
                        v.sort_unstable_by_key(|g| rank[*g]);
                        v.dedup();
                        v.into()
                    })
                    .clone()
            })
            .collect())
    }

    /// The hosts of `group` (indices into `hosts`) in Ansible's order (`Group.get_hosts`): its
    /// own, then its children's, level by level, each once. Where Ansible walks a level as a
    /// set, in no fixed order, the children are taken in the order written.
    pub fn hosts_in_order(&self, group: &str) -> Vec<usize> {
        let mut groups: IndexSet<&str> = IndexSet::new();
        groups.insert(group);
        let mut level: Vec<&str> = vec![group];
        while !level.is_empty() {
            let mut next = vec![];
            for g in level {
                for c in self.groups.get(g).into_iter().flat_map(|g| &g.children) {
                    if groups.insert(c.as_str()) {
                        next.push(c.as_str());
                    }
                }
            }
            level = next;
        }
        let mut hosts: IndexSet<usize> = IndexSet::new();
        for g in groups {
            for h in self.groups.get(g).into_iter().flat_map(|g| &g.hosts) {
                if let Some(i) = self.hosts.get_index_of(h.as_str()) {
                    hosts.insert(i);
                }
            }
        }
        hosts.into_iter().collect()
    }

    /// `ansible_group_priority`, a number or a number's text (INI values can be either), 1 when
    /// not given.
    fn priority(&self, group: &str) -> i64 {
        match self
            .groups
            .get(group)
            .and_then(|g| g.vars.get("ansible_group_priority"))
        {
            Some(serde_yaml::Value::Number(n)) => n.as_i64().unwrap_or(1),
            Some(serde_yaml::Value::String(s)) => s.trim().parse().unwrap_or(1),
            _ => 1,
        }
    }
}

/// `a -> b -> a`, from where the circle starts on the walk's path.
fn circle(path: &IndexSet<&str>, again: &str) -> String {
    let from = path.get_index_of(again).unwrap_or(0);
    let mut names: Vec<&str> = path.iter().skip(from).copied().collect();
    // The walk goes from child to parent; a reader thinks parent to child.
    names.reverse();
    names.insert(0, again);
    names.join(" -> ")
}

#[cfg(test)]
mod tests {
    use super::Tree;

    #[test]
    fn a_circle_of_groups_is_refused_even_out_of_reach_of_all() {
        let mut t = Tree::new();
        t.add_child("a", "b").unwrap();
        t.add_child("b", "c").unwrap();
        t.add_child("c", "a").unwrap();
        let e = t.settle().unwrap_err().0;
        let shown = e.rsplit(": ").next().unwrap();
        assert!(
            ["a -> b -> c -> a", "b -> c -> a -> b", "c -> a -> b -> c"].contains(&shown),
            "{e}"
        );
    }

    /// As `ansible PATTERN --list-hosts` lists them (ansible-core 2.19): a group's own hosts
    /// before its children's, `all`'s level by level.
    #[test]
    fn hosts_come_in_ansibles_order() {
        let mut t = Tree::new();
        crate::inventory::ini::read(
            "[lb:children]\nweb\n[web]\nw1\nw2\n[lb]\nlb1\n[db]\nd1\n",
            "hosts",
            &mut t,
        )
        .unwrap();
        t.settle().unwrap();
        let names = |g: &str| -> Vec<&str> {
            t.hosts_in_order(g)
                .into_iter()
                .map(|i| t.hosts.get_index(i).unwrap().0.as_str())
                .collect()
        };
        assert_eq!(names("all"), ["lb1", "d1", "w1", "w2"]);
        assert_eq!(names("lb"), ["lb1", "w1", "w2"]);
    }

    #[test]
    fn depth_is_the_longest_way_down_from_all() {
        let mut t = Tree::new();
        t.add_child("prod", "web").unwrap();
        t.add_child("web", "canary").unwrap();
        t.add_child("prod", "canary").unwrap();
        t.settle().unwrap();
        let d = t.depths().unwrap();
        assert_eq!((d["all"], d["prod"], d["web"], d["canary"]), (0, 1, 2, 3));
    }

    #[test]
    fn a_long_chain_of_groups_is_no_stack_overflow() {
        let mut t = Tree::new();
        for i in 0..100_000 {
            t.add_child(&format!("g{i}"), &format!("g{}", i + 1))
                .unwrap();
        }
        t.settle().unwrap();
        assert_eq!(t.depths().unwrap()["g100000"], 100_001);
    }
}
