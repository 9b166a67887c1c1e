//! From playbook to servers, probe and actions with their templates rendered.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use minijinja::Value;

use super::spec::{FailoverPlaybook, Promote};
use crate::action::Action;
use crate::notify::Notifier;
use crate::playbook::{Diagnostic, Loaded, Mode, Scope, Templater};
use crate::probe::dns::{self, Question};

pub const ALERT_REASONS: &[&str] = &["down", "failover", "failure", "drift"];

#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
    pub addr: SocketAddr,
    /// Where its commands run, over SSH; this machine when absent.
    pub host: Option<crate::inventory::Host>,
}

pub enum ActiveSource {
    Command(String),
    ResolvConf(PathBuf),
    StateFile(PathBuf),
}

pub enum PromoteBy {
    Action(Action),
    ResolvConf(PathBuf),
}

pub struct Plan<'a> {
    pub loaded: &'a Loaded<FailoverPlaybook>,
    pub templater: Templater,
    pub servers: Vec<Server>,
    pub question: Question,
    pub timeout: Duration,
    pub attempts: u32,
    pub interval: Duration,
    pub fall: u32,
    pub rise: u32,
    pub active: ActiveSource,
    pub grace: Duration,
    pub hold_down: Duration,
    pub notifier: Notifier,
    pub ssh: crate::machine::ssh::SshSpec,
}

/// The fence and promotion commands for one failover, from `active` to `standby`.
pub struct Actions {
    pub fence: Option<Action>,
    pub promote: PromoteBy,
    pub promote_forced: Option<Action>,
}

fn server_value(s: &Server) -> Value {
    minijinja::context! { name => s.name.clone(), address => s.addr.to_string(), ip => s.addr.ip().to_string() }
}

impl<'a> Plan<'a> {
    pub fn resolve(
        loaded: &'a Loaded<FailoverPlaybook>,
        real_secrets: bool,
    ) -> Result<Plan<'a>, Diagnostic> {
        let templater = loaded.templater(real_secrets)?;
        let top = loaded.scope(&templater);
        let b = &loaded.body;
        if b.servers.len() < 2 {
            return Err(top
                .error("servers", format!("a failover needs at least two servers; this playbook has {}", b.servers.len()))
                .hint("servers: [ { name: dns1, address: 10.0.0.53 }, { name: dns2, address: 10.0.0.54 } ]"));
        }
        let servers = servers(&top, b)?;
        let p = &b.probe;
        let scope = top.at("probe");
        let rtype = dns::record_type(&p.rtype).map_err(|e| scope.error("type", e))?;
        let expect = expected(&scope, p, rtype)?;
        for (key, v) in [("attempts", p.attempts), ("fall", p.fall), ("rise", p.rise)] {
            if v == Some(0) {
                return Err(scope.error(key, format!("`{key}` must be at least 1")));
            }
        }
        let timeout = p.timeout.map_or(Duration::from_secs(1), |d| d.0);
        if timeout.is_zero() {
            return Err(scope.error("timeout", "`timeout` must be more than 0"));
        }
        let active = active_source(&top, &b.active)?;
        let notifier = b
            .notify
            .resolve(&top, ALERT_REASONS, real_secrets)?
            .named(loaded.name());
        let name = top.at("probe").render("name", &p.name, Mode::Text)?;
        let ssh = match &b.ssh {
            Some(s) if s.preflight_timeout.is_some() => {
                return Err(top
                    .at("ssh")
                    .error(
                        "preflight_timeout",
                        "a failover has no preflight: it connects to a host for each action",
                    )
                    .hint("connect_timeout bounds connecting; an action's own timeout, the rest"));
            }
            Some(s) if s.remote_tend.is_some() => {
                return Err(top
                    .at("ssh")
                    .error("remote_tend", "a failover runs no tend on a host")
                    .hint("remote_tend is for check and cleanup playbooks across hosts"));
            }
            Some(s) => {
                s.check(&top.at("ssh"))?;
                s.render(&top.at("ssh"))?
            }
            None => Default::default(),
        };
        let plan = Plan {
            loaded,
            templater,
            servers,
            question: Question {
                name,
                rtype: p.rtype.clone(),
                expect,
            },
            timeout,
            attempts: p.attempts.unwrap_or(3),
            interval: p.interval.map_or(Duration::from_secs(1), |d| d.0),
            fall: p.fall.unwrap_or(3),
            rise: p.rise.unwrap_or(3),
            active,
            grace: b.grace.map_or(Duration::ZERO, |d| d.0),
            hold_down: b.hold_down.map_or(Duration::from_secs(600), |d| d.0),
            notifier,
            ssh,
        };
        // The commands must render for any pair; check with the first two now.
        plan.actions(&plan.servers[0], &plan.servers[1])?;
        Ok(plan)
    }

    fn scope(&self, active: &Server, standby: &Server) -> Scope<'_> {
        self.loaded.scope(&self.templater).with_values(vec![
            ("active".into(), server_value(active)),
            ("standby".into(), server_value(standby)),
        ])
    }

    pub fn actions(&self, active: &Server, standby: &Server) -> Result<Actions, Diagnostic> {
        let scope = self.scope(active, standby);
        let b = &self.loaded.body;
        let fence = match &b.fence {
            Some(f) => Some(f.0.resolve(&scope.at("fence"))?),
            None => None,
        };
        let promote = match &b.promote {
            Promote::Action(a) => PromoteBy::Action(a.resolve(&scope.at("promote"))?),
            Promote::ResolvConf(p) => PromoteBy::ResolvConf(PathBuf::from(
                scope.at("promote").render("resolv_conf", p, Mode::Text)?,
            )),
        };
        let promote_forced = match &b.promote_forced {
            Some(f) => Some(f.0.resolve(&scope.at("promote_forced"))?),
            None => None,
        };
        Ok(Actions {
            fence,
            promote,
            promote_forced,
        })
    }

    /// A drill's command for `server` (`{{ active }}`; `{{ standby }}` is `other`), at
    /// `drill.KEY`.
    pub fn drill_action(
        &self,
        key: &str,
        item: &crate::action::ActionItem,
        server: &Server,
        other: &Server,
    ) -> Result<Action, Diagnostic> {
        item.0
            .resolve(&self.scope(server, other).at("drill").at(key))
    }

    /// The resolv file the built-in promotion rewrites, if that is how this playbook promotes.
    pub fn promoted_resolv_file(&self) -> Option<PathBuf> {
        match self.actions(&self.servers[0], &self.servers[1]) {
            Ok(Actions {
                promote: PromoteBy::ResolvConf(p),
                ..
            }) => Some(p),
            _ => None,
        }
    }

    pub fn server(&self, name: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// The resolv files this playbook reads or writes.
    pub fn resolv_files(&self) -> Vec<PathBuf> {
        let mut v = vec![];
        if let ActiveSource::ResolvConf(p) = &self.active {
            v.push(p.clone());
        }
        if let Ok(Actions {
            promote: PromoteBy::ResolvConf(p),
            ..
        }) = self.actions(&self.servers[0], &self.servers[1])
            && !v.contains(&p)
        {
            v.push(p);
        }
        v
    }
}

fn servers(top: &Scope, b: &FailoverPlaybook) -> Result<Vec<Server>, Diagnostic> {
    let mut servers: Vec<Server> = vec![];
    for (i, s) in b.servers.iter().enumerate() {
        let scope = top.at(&format!("servers[{i}]"));
        let host = match &s.host {
            Some(h) => Some(
                crate::inventory::parse_host(&scope.render("host", h, Mode::Text)?)
                    .map_err(|e| scope.error("host", e))?,
            ),
            None => None,
        };
        let address = scope.render("address", &s.address, Mode::Text)?;
        let addr = dns::server_address(&address).map_err(|e| scope.error("address", e))?;
        if let Some(other) = servers.iter().find(|o| o.name == s.name || o.addr == addr) {
            return Err(scope.error(
                "name",
                format!(
                    "server '{}' ({addr}) repeats '{}' ({})",
                    s.name, other.name, other.addr
                ),
            ));
        }
        servers.push(Server {
            name: s.name.clone(),
            addr,
            host,
        });
    }
    Ok(servers)
}

/// The probe's expected answers, each one its record type can hold.
fn expected(
    scope: &Scope,
    p: &super::spec::DnsProbe,
    rtype: hickory_proto::rr::RecordType,
) -> Result<Vec<String>, Diagnostic> {
    let mut expect = vec![];
    for (i, e) in p.expect.iter().enumerate() {
        let e = scope.render(&format!("expect[{i}]"), e, Mode::Text)?;
        let bad = match rtype {
            hickory_proto::rr::RecordType::A => e.parse::<std::net::Ipv4Addr>().is_err(),
            hickory_proto::rr::RecordType::AAAA => e.parse::<std::net::Ipv6Addr>().is_err(),
            _ => false,
        };
        if bad {
            return Err(scope.error(
                &format!("expect[{i}]"),
                format!(
                    "'{e}' is not an address a {} record can hold",
                    p.rtype.to_uppercase()
                ),
            ));
        }
        expect.push(e);
    }
    Ok(expect)
}

/// Where the playbook learns which server is active: exactly one source.
fn active_source(top: &Scope, a: &super::spec::ActiveSpec) -> Result<ActiveSource, Diagnostic> {
    let scope = top.at("active");
    Ok(match (&a.command, &a.resolv_conf, &a.state_file) {
        (Some(c), None, None) => ActiveSource::Command(scope.render("command", c, Mode::Shell)?),
        (None, Some(r), None) => {
            ActiveSource::ResolvConf(PathBuf::from(scope.render("resolv_conf", r, Mode::Text)?))
        }
        (None, None, Some(f)) => {
            ActiveSource::StateFile(PathBuf::from(scope.render("state_file", f, Mode::Text)?))
        }
        _ => {
            return Err(top
                .error(
                    "active",
                    "`active` needs exactly one of `command`, `resolv_conf` or `state_file`",
                )
                .hint("active: { resolv_conf: /etc/resolv.conf }"));
        }
    })
}
