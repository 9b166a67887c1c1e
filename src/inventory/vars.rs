//! A host's vars (`{{ host.vars.NAME }}`): what its groups give, held once for every host in
//! the same groups, under the inventory's line for it, under its `host_vars` files. 5,000 hosts
//! in 200 groups keep 200 copies of the group vars, not 5,000, and no copy of their own.

use std::sync::{Arc, LazyLock};

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::playbook::Vars;

#[derive(Debug, Clone, Default)]
pub struct HostVars {
    /// Lowest first: a name in a later layer hides it in an earlier one.
    layers: [Arc<Vars>; 3],
    /// From an inventory, where `ansible_*` names are settings (how the host is reached), not
    /// vars: they are held as read, and not shown.
    settings_hidden: bool,
}

static EMPTY: LazyLock<Arc<Vars>> = LazyLock::new(Arc::default);

/// `v` as a layer, an empty one shared.
pub fn layer(v: Vars) -> Arc<Vars> {
    if v.is_empty() {
        EMPTY.clone()
    } else {
        Arc::new(v)
    }
}

impl HostVars {
    /// An inventory host's: its groups', its line's, its files', without the `ansible_*`
    /// settings.
    pub fn inventory(layers: [Arc<Vars>; 3]) -> HostVars {
        HostVars {
            layers,
            settings_hidden: true,
        }
    }

    pub fn get(&self, name: &str) -> Option<&serde_yaml::Value> {
        if self.hidden(name) {
            return None;
        }
        self.layers.iter().rev().find_map(|l| l.get(name))
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Every name once, by name, with the value that wins.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &serde_yaml::Value)> {
        let mut heads = self.layers.each_ref().map(|l| l.iter().peekable());
        std::iter::from_fn(move || {
            let least = heads
                .iter_mut()
                .filter_map(|h| h.peek().map(|(k, _)| *k))
                .min()?;
            // Every layer holding the name steps past it; the last (highest) one's value wins.
            heads
                .iter_mut()
                .filter_map(|h| h.next_if(|(k, _)| *k == least))
                .last()
        })
        .filter(|(k, _)| !self.hidden(k))
    }

    fn hidden(&self, name: &str) -> bool {
        self.settings_hidden && name.starts_with("ansible_")
    }
}

/// `host.vars` in a template: each value converted when a template reads it, not every value
/// of 5,000 hosts before any is read.
impl minijinja::value::Object for HostVars {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let v = self.get(key.as_str()?)?;
        Some(minijinja::Value::from(minijinja::value::Serde(v)))
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Values(
            self.iter()
                .map(|(k, _)| minijinja::Value::from(k.as_str()))
                .collect(),
        )
    }
}

impl PartialEq for HostVars {
    fn eq(&self, other: &HostVars) -> bool {
        self.iter().eq(other.iter())
    }
}

impl From<Vars> for HostVars {
    fn from(own: Vars) -> HostVars {
        HostVars {
            layers: [EMPTY.clone(), layer(own), EMPTY.clone()],
            settings_hidden: false,
        }
    }
}

impl Serialize for HostVars {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, i64)]) -> Vars {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_yaml::Value::from(*v)))
            .collect()
    }

    #[test]
    fn the_hosts_own_value_wins_every_name_comes_once_in_order_and_settings_stay_hidden() {
        let v = HostVars::inventory([
            layer(vars(&[
                ("a", 1),
                ("ansible_port", 22),
                ("c", 3),
                ("d", 4),
                ("f", 6),
            ])),
            layer(vars(&[
                ("ansible_host", 1),
                ("b", 20),
                ("c", 30),
                ("e", 50),
            ])),
            layer(vars(&[("c", 300), ("d", 400)])),
        ]);
        let seen: Vec<(String, i64)> = v
            .iter()
            .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
            .collect();
        let want = [
            ("a", 1),
            ("b", 20),
            ("c", 300),
            ("d", 400),
            ("e", 50),
            ("f", 6),
        ];
        assert_eq!(
            seen,
            want.map(|(k, v)| (k.to_string(), v)).to_vec(),
            "merged"
        );
        assert_eq!(v.get("c").and_then(|x| x.as_i64()), Some(300));
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"a":1,"b":20,"c":300,"d":400,"e":50,"f":6}"#
        );
        assert!(v.get("ansible_host").is_none(), "a setting is not a var");
        assert!(HostVars::default().is_empty());
        // As a template reads them: by name, nested, in a loop, whole; no setting shown.
        let mut nested = Vars::new();
        nested.insert("limits".into(), serde_yaml::from_str("{cpu: 2}").unwrap());
        let t = HostVars::inventory([layer(nested), v.layers[1].clone(), EMPTY.clone()]);
        let env = minijinja::Environment::new();
        let ctx = minijinja::context! { vars => minijinja::Value::from_object(t.clone()) };
        let shown = env
            .render_str(
                "{{ vars.limits.cpu }} {{ vars.c }} {% for k in vars %}{{ k }},{% endfor %} {{ vars }}",
                ctx,
            )
            .unwrap();
        let plain =
            minijinja::context! { vars => minijinja::Value::from(minijinja::value::Serde(&t)) };
        let whole = env.render_str("{{ vars }}", plain).unwrap();
        assert_eq!(shown, format!("2 30 b,c,e,limits, {whole}"));
        let mine = HostVars::from(vars(&[("ansible_x", 1)]));
        assert!(
            mine.contains_key("ansible_x"),
            "a playbook host's vars are all vars"
        );
    }
}
