//! Rounds of probes and the failover sequence: check the standby, fence, probe the fenced
//! server, promote (forced when the fence failed or the old active still answers), verify.
//! Every completed step is saved before the next, so a killed run resumes where it stopped.

use std::path::Path;

use super::resolv;
use super::resolve::{Actions, ActiveSource, Plan, PromoteBy, Server};
use super::state::{self, Failover, Sequence, State};
use crate::engine::{Run, Step};
use crate::error::Exit;
use crate::machine::ssh::Ssh;
use crate::machine::{Local, Machine};
use crate::probe::dns::{self, Answer};
use crate::report::{Level, Reporter, Status, now_rfc3339};

pub struct Ctx<'a> {
    pub plan: &'a Plan<'a>,
    pub run: &'a Run,
    pub reporter: &'a Reporter,
    pub state: State,
    pub state_path: &'a Path,
    /// `--now`: no grace, no hold-down, rounds back to back.
    pub now: bool,
    /// A drill runs the sequence: what it records is marked so.
    pub drilling: bool,
}

/// How a failover run (or one round of `--watch`) ended: its exit code and last line.
pub struct Ended {
    pub code: Exit,
    pub message: String,
}

impl Ctx<'_> {
    pub fn save(&self) {
        if let Err(e) = self.state.save(self.state_path) {
            self.reporter.notice(
                Level::Error,
                format!(
                    "cannot save {}: {}",
                    self.state_path.display(),
                    crate::sys::describe_io(&e)
                ),
            );
        }
    }

    fn step<T>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> (Status, String, T)) -> T {
        let step = Step::begin(self.reporter, name);
        let (status, message, value) = f(self);
        step.end(status, message);
        value
    }

    /// One round for each server, in parallel.
    pub fn round(&self) -> Vec<Answer> {
        let p = self.plan;
        std::thread::scope(|s| {
            let handles: Vec<_> = p
                .servers
                .iter()
                .map(|srv| s.spawn(|| dns::round(srv.addr, &p.question, p.attempts, p.timeout)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or(Answer::Error("probe thread died".into()))
                })
                .collect()
        })
    }

    pub fn probe_one(&self, srv: &Server) -> Answer {
        dns::round(
            srv.addr,
            &self.plan.question,
            self.plan.attempts,
            self.plan.timeout,
        )
    }

    /// Which server is active now, by the playbook's `active` source.
    pub fn active(&self) -> Result<usize, Unclear> {
        active_of(self.plan)
    }
}

/// Which server `p`'s `active` source names now.
pub fn active_of(p: &Plan) -> Result<usize, Unclear> {
    {
        let (said, from) = match &p.active {
            ActiveSource::Command(cmd) => {
                let mut lines = vec![];
                let o = Local
                    .run(
                        cmd,
                        p.timeout.max(std::time::Duration::from_secs(10)),
                        &mut |l| lines.push(l.trim().to_string()),
                    )
                    .map_err(|e| format!("`{}`: {e}", crate::redact::first_line(cmd)))?;
                if !o.success() {
                    return Err(format!(
                        "`{}` failed: {}",
                        crate::redact::first_line(cmd),
                        o.describe(p.timeout)
                    )
                    .into());
                }
                let first = lines
                    .into_iter()
                    .find(|l| !l.is_empty())
                    .unwrap_or_default();
                (first, format!("`{}`", crate::redact::first_line(cmd)))
            }
            ActiveSource::ResolvConf(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {}", path.display(), crate::sys::describe_io(&e)))?;
                let first = resolv::nameservers(&text)
                    .into_iter()
                    .next()
                    .ok_or_else(|| format!("{} has no nameserver line", path.display()))?;
                (first, path.display().to_string())
            }
            ActiveSource::StateFile(path) => match std::fs::read_to_string(path) {
                Ok(t) => (t.trim().to_string(), path.display().to_string()),
                // No file yet: the first server is active until tend writes otherwise.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => {
                    return Err(
                        format!("{}: {}", path.display(), crate::sys::describe_io(&e)).into(),
                    );
                }
            },
        };
        p.servers
            .iter()
            .position(|s| {
                s.name == said
                    || s.addr.to_string() == said
                    || said.parse::<std::net::IpAddr>().ok() == Some(s.addr.ip())
            })
            .ok_or_else(|| {
                let names: Vec<&str> = p.servers.iter().map(|s| s.name.as_str()).collect();
                Unclear(format!(
                    "the active server '{said}' (from {from}) is not one of the playbook's servers: {}",
                    names.join(", ")
                ))
            })
    }
}

impl Ctx<'_> {
    /// Compare the resolv file with what tend wrote last; alert once per rewrite by another.
    pub fn check_drift(&mut self) {
        let Some(w) = self.state.resolv_written.clone() else {
            return;
        };
        let now = std::fs::read_to_string(&w.path)
            .map(|t| resolv::nameservers(&t))
            .unwrap_or_default();
        if now == w.nameservers {
            self.state.drift_alerted = None;
            return;
        }
        let msg = format!(
            "{} no longer says what tend wrote: nameservers {} (tend wrote {}); another manager (DHCP, NetworkManager, resolvconf, a person) rewrote it",
            w.path,
            now.join(", "),
            w.nameservers.join(", ")
        );
        self.reporter.notice(Level::Warn, msg.clone());
        if self.state.drift_alerted.as_ref() != Some(&now) {
            self.state.drift_alerted = Some(now);
            self.state.note(format!("drift: {msg}"));
            self.alert("drift", "resolv file rewritten behind tend's back", &msg);
            self.save();
        }
    }

    pub fn alert(&mut self, reason: &str, subject: &str, body: &str) {
        if self.plan.notifier.wants(reason) {
            self.state.last_alert = Some(format!("{reason}: {subject}"));
            self.run.alert(&self.plan.notifier, reason, subject, body);
        }
    }

    /// Alert unless the same condition was the last thing alerted (cron runs every minute).
    pub fn alert_once(&mut self, reason: &str, subject: &str, body: &str) {
        // Compared as saved: masked.
        let said = crate::redact::redact(&format!("{reason}: {subject}"));
        if self.state.last_alert.as_deref() != Some(said.as_str()) {
            self.alert(reason, subject, body);
            self.save();
        }
    }

    /// Fail over from `from`: resumes a sequence the state file says was under way. Each step
    /// is saved before the next: check the standby, fence, probe the fenced server, promote,
    /// verify.
    pub fn fail_over(&mut self, from: usize) -> Ended {
        self.fail_over_to(from, None)
    }

    /// `fail_over`, to `to` when given (a drill's failback to the server it started from)
    /// rather than to the first healthy other server.
    pub fn fail_over_to(&mut self, from: usize, to: Option<usize>) -> Ended {
        // Once started, the sequence runs to its end: a SIGTERM stops `--watch` after it, not
        // between a fence and a promotion.
        crate::interrupt::shield();
        let p = self.plan;
        let old = p.servers[from].clone();
        // A resumed sequence keeps its target; a new one takes the first healthy other server.
        let resumed = self
            .state
            .sequence
            .clone()
            .filter(|s| s.from == old.name && p.server(&s.to).is_some());
        if let Some(s) = &resumed {
            self.reporter.notice(
                Level::Warn,
                format!(
                    "resuming the failover from {} to {} started {} (fenced: {}, promoted: {})",
                    s.from, s.to, s.started, s.fenced, s.promoted
                ),
            );
        }
        let fenced_already = resumed.as_ref().is_some_and(|s| s.fenced);
        let only = to.map(|t| p.servers[t].clone());
        let Some(standby) = self.check_standby(&old, resumed.as_ref(), only) else {
            return self.no_standby(&old, fenced_already);
        };
        let actions = match p.actions(&old, &standby) {
            Ok(a) => a,
            Err(d) => {
                return Ended {
                    code: Exit::FAILED,
                    message: format!("cannot render the failover commands: {}", d.message),
                };
            }
        };
        let mut seq = resumed.unwrap_or(Sequence {
            from: old.name.clone(),
            to: standby.name.clone(),
            started: now_rfc3339(),
            fence_started: false,
            fenced: false,
            fence_ok: None,
            forced: false,
            promote_started: false,
            promoted: false,
            drill: self.drilling,
        });
        // A fence that a killed run had started is never run again: what it did is unknown,
        // and the probe after it decides whether the promotion must be forced.
        let fence_in_doubt = seq.fence_started && !seq.fenced;
        seq.fence_started = true;
        self.state.sequence = Some(seq.clone());
        self.save();
        if !seq.fenced {
            self.fence(&mut seq, &old, &actions, fence_in_doubt);
        }
        if !seq.promoted
            && let Err(o) = self.promote(&mut seq, &old, &standby, &actions)
        {
            return o;
        }
        crate::crash::point("failover:before-verify");
        let verified = self.verify(&standby);
        self.record(&seq, &old, &standby, verified)
    }

    /// The first healthy server other than `old` (a resumed sequence's own target only).
    fn check_standby(
        &mut self,
        old: &Server,
        resumed: Option<&Sequence>,
        only: Option<Server>,
    ) -> Option<Server> {
        let p = self.plan;
        let candidates: Vec<Server> = match (resumed, only) {
            (Some(s), _) => p.server(&s.to).into_iter().cloned().collect(),
            (None, Some(only)) => vec![only],
            (None, None) => p
                .servers
                .iter()
                .filter(|s| s.name != old.name)
                .cloned()
                .collect(),
        };
        self.step(CHECK_STANDBY, |c| {
            let mut seen = vec![];
            for s in &candidates {
                let a = c.probe_one(s);
                if a.healthy() {
                    return (
                        Status::Ok,
                        format!("{} ({}) {}", s.name, s.addr, a.describe()),
                        Some(s.clone()),
                    );
                }
                seen.push(format!("{} ({}) {}", s.name, s.addr, a.describe()));
            }
            (
                Status::Failed,
                format!("no healthy standby: {}", seen.join("; ")),
                None,
            )
        })
    }

    fn no_standby(&mut self, old: &Server, fenced_already: bool) -> Ended {
        let body = format!(
            "{} is down and so is every standby: tend changed nothing{}.",
            old.name,
            if fenced_already {
                " more (the old active was already fenced by an earlier run)"
            } else {
                ""
            }
        );
        self.alert_once(
            "failure",
            &format!("{} down, no healthy standby", old.name),
            &body,
        );
        Ended {
            code: if fenced_already {
                Exit::NOT_VERIFIED
            } else {
                Exit::FAILED
            },
            message: body,
        }
    }

    fn fence(&mut self, seq: &mut Sequence, old: &Server, actions: &Actions, in_doubt: bool) {
        let name = fence_step(old);
        seq.fence_ok = if in_doubt {
            self.reporter.notice(
                Level::Warn,
                format!(
                    "the fence of {} was under way when a run was killed: it is not run again; the probe after it decides",
                    old.name
                ),
            );
            None
        } else {
            actions.fence.as_ref().map(|a| self.run(&name, a, old))
        };
        crate::crash::point("failover:fenced");
        seq.fenced = true;
        self.state.sequence = Some(seq.clone());
        self.state.note(format!(
            "fenced {} ({})",
            old.name,
            match seq.fence_ok {
                Some(true) => "ok",
                Some(false) => "the fence command FAILED",
                None => "no fence command",
            }
        ));
        self.save();
    }

    /// Probe the fenced server, then promote the standby, forced when the fence failed or the
    /// old active still answers. A failed promotion ends the sequence: no server serves.
    fn promote(
        &mut self,
        seq: &mut Sequence,
        old: &Server,
        standby: &Server,
        actions: &Actions,
    ) -> Result<(), Ended> {
        let p = self.plan;
        let answer = self.step(&probe_step(old), |c| {
            let a = c.probe_one(old);
            let st = if responded(&a) {
                Status::Warning
            } else {
                Status::Ok
            };
            (st, a.describe(), a)
        });
        seq.forced = seq.fence_ok == Some(false) || responded(&answer);
        if seq.forced {
            self.reporter.notice(
                Level::Warn,
                format!(
                    "{} may still be serving ({}): promoting {} with promote_forced",
                    old.name,
                    if seq.fence_ok == Some(false) {
                        "the fence failed".to_string()
                    } else {
                        format!("it still answers: {}", answer.describe())
                    },
                    standby.name
                ),
            );
        }
        let name = promote_step(standby, seq.forced);
        if seq.promote_started {
            // A run killed during the promotion: had it taken effect, the active would be the
            // standby now and the sequence recorded as done before it got here.
            self.reporter.notice(
                Level::Warn,
                format!(
                    "the promotion of {} was under way when a run was killed and has not taken effect: promoting again",
                    standby.name
                ),
            );
        }
        seq.promote_started = true;
        self.state.sequence = Some(seq.clone());
        self.save();
        let promoted = match (&actions.promote, seq.forced, &actions.promote_forced) {
            (_, true, Some(forced)) => self.run(&name, forced, standby),
            (PromoteBy::Action(a), _, _) => self.run(&name, a, standby),
            (PromoteBy::ResolvConf(path), _, _) => self.rewrite_resolv(&name, path, standby),
        };
        if !promoted {
            let body = format!(
                "{} is {} and promoting {} FAILED: no server is serving. A human is needed now.",
                old.name,
                if seq.fence_ok == Some(true) {
                    "fenced"
                } else {
                    "down"
                },
                standby.name
            );
            self.reporter.notice(Level::Error, body.clone());
            self.state
                .note(format!("promotion of {} FAILED", standby.name));
            self.save();
            self.alert(
                "failure",
                &format!("promotion of {} FAILED", standby.name),
                &body,
            );
            self.save();
            return Err(Ended {
                code: Exit::NOT_VERIFIED,
                message: body,
            });
        }
        crate::crash::point("failover:promoted");
        if let ActiveSource::StateFile(f) = &p.active
            && let Err(e) =
                crate::fsutil::atomic_write(f, format!("{}\n", standby.name).as_bytes(), 0o644)
        {
            self.reporter.notice(
                Level::Error,
                format!(
                    "cannot record the new active in {}: {}",
                    f.display(),
                    crate::sys::describe_io(&e)
                ),
            );
        }
        seq.promoted = true;
        self.state.sequence = Some(seq.clone());
        self.state.note(format!(
            "promoted {}{}",
            standby.name,
            if seq.forced { " (forced)" } else { "" }
        ));
        self.save();
        Ok(())
    }

    /// Promotion by rewriting the resolv file: what tend wrote is what drift is measured
    /// against from now on.
    fn rewrite_resolv(&mut self, name: &str, path: &Path, standby: &Server) -> bool {
        self.step(name, |c| match resolv::rewrite(path, standby.addr.ip()) {
            Ok(list) => {
                c.state.resolv_written = Some(state::Written {
                    path: path.display().to_string(),
                    nameservers: list.clone(),
                });
                c.state.drift_alerted = None;
                (
                    Status::Ok,
                    format!("{}: nameservers {}", path.display(), list.join(", ")),
                    true,
                )
            }
            Err(e) => (
                Status::Failed,
                format!("{}: {}", path.display(), crate::sys::describe_io(&e)),
                false,
            ),
        })
    }

    /// The standby answers, `rise` rounds (at least 3) given to it.
    fn verify(&mut self, standby: &Server) -> bool {
        self.step(&verify_step(standby), |c| {
            let tries = c.plan.rise.max(3);
            let mut last = Answer::Timeout;
            for i in 0..tries {
                last = c.probe_one(standby);
                if last.healthy() {
                    return (
                        Status::Ok,
                        format!("{} ({} rounds)", last.describe(), i + 1),
                        true,
                    );
                }
                if i + 1 < tries {
                    std::thread::sleep(c.plan.interval.min(std::time::Duration::from_millis(500)));
                }
            }
            (
                Status::Failed,
                format!("{} after {tries} rounds", last.describe()),
                false,
            )
        })
    }

    /// The sequence is over: recorded as the last failover, and alerted.
    fn record(&mut self, seq: &Sequence, old: &Server, standby: &Server, verified: bool) -> Ended {
        self.state.sequence = None;
        self.state.down_since = None;
        self.state.last_failover = Some(Failover {
            from: old.name.clone(),
            to: standby.name.clone(),
            at: now_rfc3339(),
            epoch_ms: state::epoch_ms(),
            forced: seq.forced,
            drill: seq.drill,
        });
        let forced_note = if seq.forced {
            format!(
                " The promotion was FORCED: {} may still be serving.",
                old.name
            )
        } else {
            String::new()
        };
        let (code, msg, reason, subject) = if verified {
            (
                Exit::OK,
                format!(
                    "failed over from {} to {}, verified.{forced_note}",
                    old.name, standby.name
                ),
                "failover",
                format!(
                    "failed over from {} to {}{}",
                    old.name,
                    standby.name,
                    if seq.forced { " (FORCED)" } else { "" }
                ),
            )
        } else {
            (
                Exit::NOT_VERIFIED,
                format!(
                    "promoted {} but it does not answer the probe: NOT verified. A human is needed now.{forced_note}",
                    standby.name
                ),
                "failure",
                format!("failover to {} NOT verified", standby.name),
            )
        };
        self.state.note(&msg);
        self.save();
        self.alert(reason, &subject, &msg);
        self.save();
        Ended { code, message: msg }
    }

    /// Run an action for `server`: on its `host:` over SSH (unless the action says
    /// `on: local`), else here. A host that cannot be reached is the step's failure.
    pub fn run(&mut self, name: &str, a: &crate::action::Action, server: &Server) -> bool {
        let remote = match (&server.host, a.on) {
            (Some(h), crate::action::On::Hosts) => Some(h),
            _ => None,
        };
        let ran = match remote {
            None => a.execute(&Local, self.reporter, name, None),
            Some(h) => match Ssh::connect(h, &self.plan.ssh) {
                Ok(ssh) => {
                    if let Some(n) = &ssh.notice {
                        self.reporter.notice(Level::Warn, n.clone());
                    }
                    a.execute(&ssh, self.reporter, name, None)
                }
                Err(e) => {
                    return self.step(name, |_| (Status::Failed, e.0, false));
                }
            },
        };
        ran.ok
    }
}

// The sequence's step names, shared with the dry run that lists them.
pub const CHECK_STANDBY: &str = "check the standby";

pub fn fence_step(old: &Server) -> String {
    format!("fence {}", old.name)
}

pub fn probe_step(old: &Server) -> String {
    format!("probe {} after the fence", old.name)
}

pub fn promote_step(standby: &Server, forced: bool) -> String {
    format!(
        "promote {}{}",
        standby.name,
        if forced { " (forced)" } else { "" }
    )
}

pub fn verify_step(standby: &Server) -> String {
    format!("verify {}", standby.name)
}

/// The process answered at all (any DNS reply): it is not fenced, even if its answers are bad.
fn responded(a: &Answer) -> bool {
    matches!(
        a,
        Answer::Healthy(_)
            | Answer::ServFail
            | Answer::Refused
            | Answer::NxDomain
            | Answer::Wrong(_)
    )
}

crate::reason::reason! {
    /// Why the active server could not be told.
    pub struct Unclear;
}
