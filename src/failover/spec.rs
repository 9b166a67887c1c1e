//! The `kind: failover` playbook.

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::action::{ActionItem, ActionSpec, string_or_map};
use crate::playbook::diagnostic::{at_key, with_hint};
use crate::playbook::units::Duration;

/// `active` reads exactly one of them.
fn one_source(s: &mut schemars::Schema) {
    crate::playbook::schema::exactly_one_of(s, &["command", "resolv_conf", "state_file"]);
}

/// `ssh:` as a failover takes it: no `preflight_timeout` (a failover has no preflight) and no
/// `remote_tend` (it runs no tend on a host), which the loader refuses too.
fn ssh_without_preflight(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut ssh = <crate::machine::ssh::SshSpec as schemars::JsonSchema>::json_schema(g);
    if let Some(keys) = ssh.get_mut("properties").and_then(|p| p.as_object_mut()) {
        keys.remove("preflight_timeout");
        keys.remove("remote_tend");
    }
    schemars::json_schema!({ "anyOf": [ssh, { "type": "null" }] })
}

crate::playbook!(
    Failover,
    /// `tend failover`: probe the DNS servers, fence the failed active, promote the standby,
    /// verify it answers.
    pub struct FailoverPlaybook {
        /// The DNS servers, at least two; the first healthy one not active is the standby.
        #[schemars(length(min = 2))]
        pub servers: Vec<ServerSpec>,
        /// The question every server must answer, and how often it is asked.
        pub probe: DnsProbe,
        /// How tend learns which server is active now.
        pub active: ActiveSpec,
        /// How long the active must stay down before a failover (default 0s).
        pub grace: Option<Duration>,
        /// What takes the failed active out of service (`{{ active.name }}` is it).
        pub fence: Option<ActionItem>,
        /// What makes the standby the active (`{{ standby.name }}` is it).
        pub promote: Promote,
        /// The promote to run when the fence failed (`--force`).
        pub promote_forced: Option<ActionItem>,
        /// No second failover within this long of the last (default 10m).
        pub hold_down: Option<Duration>,
        /// How `host:` entries are reached: user, identity, known_hosts, host_key_check.
        #[serde(default)]
        #[schemars(schema_with = "ssh_without_preflight")]
        pub ssh: Option<crate::machine::ssh::SshSpec>,
        /// What `tend drill` may do with it.
        pub drill: Option<crate::drill::DrillSpec>,
    }
);

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// The server's name, as `{{ active.name }}` and in the state file.
    #[schemars(example = &"dns1")]
    pub name: String,
    /// `10.0.0.53` or `10.0.0.53:53`.
    #[schemars(example = &"10.0.0.53")]
    pub address: String,
    /// `user@host:port` where its fence (or, for the standby, promote) commands run over SSH.
    #[schemars(example = &"root@dns1.example.com")]
    pub host: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct DnsProbe {
    /// The name asked.
    #[schemars(example = &"shop.example.com")]
    pub name: String,
    /// The record type (default A).
    #[serde(rename = "type", default = "a_record")]
    #[schemars(example = &"A")]
    pub rtype: String,
    /// Answers a healthy server gives (default: any answer).
    #[serde(default)]
    #[schemars(example = ["10.1.0.10"])]
    pub expect: Vec<String>,
    /// How long one query may take (default 1s).
    pub timeout: Option<Duration>,
    /// Queries in one round before a server counts as down for it (default 3).
    #[schemars(range(min = 1), example = 3)]
    pub attempts: Option<u32>,
    /// Between rounds (default 1s).
    pub interval: Option<Duration>,
    /// Failed rounds in a row before the active counts as down (default 3).
    #[schemars(range(min = 1), example = 3)]
    pub fall: Option<u32>,
    /// Passed rounds in a row before a server counts as up again (default 3).
    #[schemars(range(min = 1), example = 3)]
    pub rise: Option<u32>,
}

fn a_record() -> String {
    "A".into()
}

/// Exactly one of `command`, `resolv_conf` or `state_file`.
#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
#[schemars(transform = one_source)]
pub struct ActiveSpec {
    /// Prints the active server's name (or address).
    #[schemars(example = &"dnsTool -a show-active")]
    pub command: Option<String>,
    /// The first `nameserver` of a resolv.conf-format file is the active one.
    #[schemars(example = &"/etc/resolv.conf")]
    pub resolv_conf: Option<String>,
    /// A file holding the active server's name; tend rewrites it on failover.
    #[schemars(example = &"/var/lib/tend/dns-active")]
    pub state_file: Option<String>,
}

/// `promote: "cmd"`, `promote: { run: ..., timeout: ... }` or `promote: { resolv_conf: PATH }`.
#[derive(Debug, Clone)]
pub enum Promote {
    Action(ActionSpec),
    ResolvConf(String),
}

/// A command (`run`, as any action) or the built-in `resolv_conf`, not both.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Promote")]
struct RawPromote {
    /// Built in: this resolv.conf-format file gets the standby as its first `nameserver`.
    #[schemars(example = &"/etc/resolv.conf")]
    resolv_conf: Option<String>,
    /// How the step is shown (default: the command's first line).
    #[schemars(example = &"promote the standby")]
    name: Option<String>,
    /// The command that promotes `{{ standby.name }}`.
    #[schemars(example = &"dnsTool -a failover -s {{ standby.name }}")]
    run: Option<String>,
    /// How long one attempt may take (default 5m).
    timeout: Option<Duration>,
    /// Attempts after the first that failed (default 0).
    #[serde(default)]
    #[schemars(example = 2)]
    retries: u32,
    /// Waited between attempts (default 1s).
    delay: Option<Duration>,
    /// Where it runs: the standby's `host` (default), or `local`.
    #[serde(default)]
    on: crate::action::On,
}

impl schemars::JsonSchema for Promote {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PromoteItem".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut raw = RawPromote::json_schema(g);
        crate::playbook::schema::exactly_one_of(&mut raw, &["run", "resolv_conf"]);
        let mut s = schemars::json_schema!({ "anyOf": [crate::action::command(), raw] });
        s.insert(
            "description".into(),
            "What makes the standby the active: a command, `{ run: ..., timeout: ... }`, or `{ resolv_conf: PATH }`".into(),
        );
        s.insert(
            "examples".into(),
            serde_json::json!(["dnsTool -a failover -s {{ standby.name }}", { "resolv_conf": "/etc/resolv.conf" }]),
        );
        s
    }
}

impl<'de> Deserialize<'de> for Promote {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: RawPromote = string_or_map(d, |run| RawPromote {
            resolv_conf: None,
            name: None,
            run: Some(run),
            timeout: None,
            retries: 0,
            delay: None,
            on: crate::action::On::Hosts,
        })?;
        match (raw.run, raw.resolv_conf) {
            (Some(run), None) => Ok(Promote::Action(ActionSpec {
                name: raw.name,
                run,
                timeout: raw.timeout,
                retries: raw.retries,
                delay: raw.delay,
                on: raw.on,
                ignore_errors: false,
                become_: None,
            })),
            (None, Some(path)) => Ok(Promote::ResolvConf(path)),
            (Some(_), Some(_)) => Err(de::Error::custom(at_key(
                "resolv_conf",
                "`promote` is either a command (`run`) or the built-in `resolv_conf`, not both",
            ))),
            (None, None) => Err(de::Error::custom(with_hint(
                "`promote` needs a command or `resolv_conf`",
                "promote: { resolv_conf: /etc/resolv.conf } rewrites the nameserver order; or promote: \"dnsTool -a failover -s {{ standby.name }}\"",
            ))),
        }
    }
}
