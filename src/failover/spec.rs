//! The `kind: failover` playbook.

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::action::{ActionItem, ActionSpec, string_or_map};
use crate::playbook::diagnostic::{at_key, with_hint};
use crate::playbook::units::Duration;

crate::playbook!(
    Failover,
    pub struct FailoverPlaybook {
        pub servers: Vec<ServerSpec>,
        pub probe: DnsProbe,
        pub active: ActiveSpec,
        pub grace: Option<Duration>,
        pub fence: Option<ActionItem>,
        pub promote: Promote,
        pub promote_forced: Option<ActionItem>,
        pub hold_down: Option<Duration>,
        /// How `host:` entries are reached: user, identity, known_hosts, host_key_check.
        pub ssh: Option<crate::machine::ssh::SshSpec>,
        /// What `tend drill` may do with it.
        pub drill: Option<crate::drill::DrillSpec>,
    }
);

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    pub name: String,
    /// `10.0.0.53` or `10.0.0.53:53`.
    pub address: String,
    /// `user@host:port` where its fence (or, for the standby, promote) commands run over SSH.
    pub host: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct DnsProbe {
    pub name: String,
    #[serde(rename = "type", default = "a_record")]
    pub rtype: String,
    #[serde(default)]
    pub expect: Vec<String>,
    pub timeout: Option<Duration>,
    pub attempts: Option<u32>,
    pub interval: Option<Duration>,
    pub fall: Option<u32>,
    pub rise: Option<u32>,
}

fn a_record() -> String {
    "A".into()
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ActiveSpec {
    /// Prints the active server's name (or address).
    pub command: Option<String>,
    /// The first `nameserver` of a resolv.conf-format file is the active one.
    pub resolv_conf: Option<String>,
    /// A file holding the active server's name; tend rewrites it on failover.
    pub state_file: Option<String>,
}

/// `promote: "cmd"`, `promote: { run: ..., timeout: ... }` or `promote: { resolv_conf: PATH }`.
#[derive(Debug, Clone)]
pub enum Promote {
    Action(ActionSpec),
    ResolvConf(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPromote {
    resolv_conf: Option<String>,
    name: Option<String>,
    run: Option<String>,
    timeout: Option<Duration>,
    #[serde(default)]
    retries: u32,
    delay: Option<Duration>,
    #[serde(default)]
    on: crate::action::On,
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
