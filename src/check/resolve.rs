//! A check playbook resolved: every template rendered, every check's longest run held
//! against the run's deadline, the alert channels ready.

use super::evaluate::Resolved;
use super::{ALERT_REASONS, CheckPlaybook, spec};
use crate::notify::Notifier;
use crate::playbook::{self, Diagnostic, Loaded, Mode, Templater};

/// How long `tend check` waits for its checks when neither `--timeout` nor `timeout:` says.
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

pub struct Plan {
    pub checks: Vec<Resolved>,
    /// The playbook's deadline: every probe fits in it, `--timeout` may cut it shorter.
    pub deadline: std::time::Duration,
    /// An SMTP password that cannot be read must not stop the checks: they run, and the alert
    /// waits (state untouched) until it can be sent.
    pub notifier: Result<Notifier, Diagnostic>,
    pub runbook: Option<String>,
    pub first_steps: Vec<String>,
}

/// `resolve` where the checks run: on this machine, or across `hosts`, for each host with its
/// `{{ host }}` (an error names the host, before any host is reached), the first host's plan
/// standing for all. What this machine has (a path, a mount) says nothing of the hosts.
pub fn resolve_on(
    loaded: &Loaded<CheckPlaybook>,
    t: &Templater,
    real_secrets: bool,
    hosts: Option<&[crate::inventory::Host]>,
) -> Result<Plan, Diagnostic> {
    let Some(hosts) = hosts else {
        return resolve(loaded, t, real_secrets);
    };
    playbook::facts::lenient();
    let mut first = None;
    for h in hosts {
        let mut on = t.clone();
        on.set_host(h.template_value());
        let p = resolve(loaded, &on, real_secrets).map_err(|mut d| {
            d.message = format!("{} (on host {})", d.message, h.name);
            d
        })?;
        first.get_or_insert(p);
    }
    playbook::facts::take();
    first.ok_or_else(|| Diagnostic::new("no hosts"))
}

pub fn resolve(
    loaded: &Loaded<CheckPlaybook>,
    t: &Templater,
    real_secrets: bool,
) -> Result<Plan, Diagnostic> {
    let top = loaded.scope(t);
    let body = &loaded.body;
    if body.checks.is_empty() {
        return Err(top
            .error("checks", "`checks` is empty")
            .hint("add at least one check, e.g. `- disk: { mount: /, warn: 80, crit: 90 }`"));
    }
    let steps = |scope: &playbook::Scope, list: &[String]| -> Result<Vec<String>, Diagnostic> {
        list.iter()
            .enumerate()
            .map(|(i, s)| scope.render(&format!("first_steps[{i}]"), s, Mode::Text))
            .collect()
    };
    let deadline = match body.timeout {
        Some(t) if t.0.is_zero() => {
            return Err(top
                .error(
                    "timeout",
                    "a deadline of 0s would give every check up at once",
                )
                .hint("leave `timeout` out for the default, 60s"));
        }
        Some(t) => t.0,
        None => DEADLINE,
    };
    let mut checks = vec![];
    for (i, item) in body.checks.iter().enumerate() {
        let scope = top.at(&format!("checks[{i}]"));
        let kind_scope = scope.at(item.spec.kind());
        let probe = match &item.spec {
            spec::CheckSpec::Probe(p) => Some(p.resolve(&kind_scope)?),
            _ => None,
        };
        within_deadline(&scope, &item.spec, probe.as_ref(), deadline)?;
        let path = match &item.spec {
            spec::CheckSpec::FileAge(f) => Some(kind_scope.render("path", &f.path, Mode::Text)?),
            _ => None,
        };
        let query = match &item.spec {
            spec::CheckSpec::Prometheus(q) => {
                let url =
                    kind_scope.render_url("url", &q.url, "http://prometheus.internal:9090")?;
                Some((url, kind_scope.render("query", &q.query, Mode::Query)?))
            }
            _ => None,
        };
        let remedy = item
            .remedy
            .as_ref()
            .map(|r| r.resolve(&scope.at("remedy"), loaded.source.path.parent()))
            .transpose()?;
        checks.push(Resolved {
            spec: item.spec.clone(),
            remedy,
            name: item
                .name
                .as_ref()
                .map(|n| scope.render("name", n, Mode::Text))
                .transpose()?,
            probe,
            path,
            query,
            runbook: item
                .runbook
                .as_ref()
                .map(|r| scope.render("runbook", r, Mode::Text))
                .transpose()?,
            first_steps: steps(&scope, &item.first_steps)?,
        });
    }
    Ok(Plan {
        checks,
        deadline,
        notifier: body.notify.resolve(&top, ALERT_REASONS, real_secrets),
        runbook: body
            .runbook
            .as_ref()
            .map(|r| top.render("runbook", r, Mode::Text))
            .transpose()?,
        first_steps: steps(&top, &body.first_steps)?,
    })
}

/// A check that can run longer than the run's deadline is refused at load: the run would give
/// it up every time.
fn within_deadline(
    scope: &playbook::Scope,
    spec: &spec::CheckSpec,
    probe: Option<&crate::probe::Probe>,
    deadline: std::time::Duration,
) -> Result<(), Diagnostic> {
    let longest = match (spec, probe) {
        (_, Some(p)) => Some((
            p.longest(),
            format!(
                "{} attempts of up to {} each, {} apart",
                p.attempts(),
                humantime::format_duration(p.timeout),
                humantime::format_duration(p.interval)
            ),
        )),
        (spec::CheckSpec::Cpu(c), _) => Some((c.sample.0, "its sample".to_string())),
        (spec::CheckSpec::Disk(d) | spec::CheckSpec::Inodes(d), _) => {
            Some((d.timeout.0, "its timeout".to_string()))
        }
        (spec::CheckSpec::Prometheus(q), _) => Some((q.timeout.0, "its timeout".to_string())),
        _ => None,
    };
    // Equal is too long as well: it would answer just as the run gives it up.
    if let Some((longest, how)) = longest
        && longest >= deadline
    {
        let shown = if longest == std::time::Duration::MAX {
            "for ever".to_string()
        } else {
            format!("for {}", humantime::format_duration(longest))
        };
        return Err(scope
            .error(
                spec.kind(),
                format!(
                    "this check can run {shown} ({how}), past the run's deadline of {}",
                    humantime::format_duration(deadline)
                ),
            )
            .hint(
                "lower its `retries`, `interval`, `timeout` or `sample`, or raise the \
                 playbook's `timeout:` (how long `tend check` waits, default 60s)",
            ));
    }
    Ok(())
}
