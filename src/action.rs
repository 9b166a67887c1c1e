//! The action building block: `"cmd"` or `{ run, timeout, retries, delay, on, ignore_errors }`,
//! run with `sh -c` on a `Machine`, its output streamed as events.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::engine::Step;
use crate::machine::{Exited, Machine};
use crate::playbook::units::Duration;
use crate::playbook::{Diagnostic, Mode, Scope};
use crate::report::{Reporter, Status};

/// Long enough for a service that drains connections on stop; a hung command still ends.
pub const DEFAULT_TIMEOUT: Duration = Duration::secs(300);

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum On {
    /// The playbook's hosts (this machine when there are none).
    #[default]
    Hosts,
    /// The machine tend runs on.
    Local,
}

/// A command run with `sh -c`, and how: `{ run, timeout, retries, delay, on, ignore_errors }`.
#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Action")]
pub struct ActionSpec {
    /// How the step is shown (default: the command's first line).
    #[schemars(example = &"stop the app")]
    pub name: Option<String>,
    /// The command, run with `sh -c`; `{{ values }}` in it are shell-quoted where they sit.
    #[schemars(example = &"systemctl stop app")]
    pub run: String,
    /// How long one attempt may take (default 5m).
    pub timeout: Option<Duration>,
    /// Attempts after the first that failed (default 0).
    #[serde(default)]
    #[schemars(example = 2)]
    pub retries: u32,
    /// Waited between attempts (default 1s).
    pub delay: Option<Duration>,
    /// Where it runs: the playbook's `hosts` (default), or `local`, the machine tend runs on.
    #[serde(default)]
    pub on: On,
    /// A failure is a warning and the run goes on.
    #[serde(default)]
    pub ignore_errors: bool,
    /// `sudo`: this command alone runs through `sudo -n` (`ssh.become` does it for all).
    #[serde(rename = "become")]
    pub become_: Option<crate::machine::ssh::Become>,
}

impl ActionSpec {
    pub fn from_run(run: String) -> Self {
        ActionSpec {
            name: None,
            run,
            timeout: None,
            retries: 0,
            delay: None,
            on: On::Hosts,
            ignore_errors: false,
            become_: None,
        }
    }
}

/// A bare string or a mapping, keeping serde_yaml's error locations for either.
pub fn string_or_map<'de, T, D>(d: D, from_str: fn(String) -> T) -> Result<T, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    struct V<T>(fn(String) -> T);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a command string or a mapping with `run:`")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
            Ok((self.0)(s.to_string()))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(V(from_str))
}

/// `- "systemctl stop app"` or `- { run: ..., timeout: 1m }`.
#[derive(Debug, Clone)]
pub struct ActionItem(pub ActionSpec);

crate::playbook::schema::schema_string_or!(
    ActionItem,
    "ActionItem",
    ActionSpec,
    command(),
    "A command (`systemctl stop app`), or `{ run: ..., timeout: 1m, retries: 2 }`",
    ["systemctl stop app", { "run": "systemctl start app", "timeout": "1m" }]
);

/// A command string, as the schema shows it.
pub fn command() -> serde_json::Value {
    crate::playbook::schema::text_only(
        "Run with `sh -c`; `{{ values }}` in it are shell-quoted where they sit",
        serde_json::json!(["systemctl restart app"]),
        1,
    )
}

impl<'de> Deserialize<'de> for ActionItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        string_or_map(d, ActionSpec::from_run).map(ActionItem)
    }
}

/// An action with its command rendered (values shell-quoted).
#[derive(Debug, Clone)]
pub struct Action {
    pub label: String,
    pub run: String,
    pub timeout: std::time::Duration,
    pub retries: u32,
    pub delay: std::time::Duration,
    pub ignore_errors: bool,
    pub on: On,
    pub become_: Option<crate::machine::ssh::Become>,
}

impl ActionSpec {
    pub fn resolve(&self, scope: &Scope) -> Result<Action, Diagnostic> {
        let run = scope.render("run", &self.run, Mode::Shell)?;
        if run.trim().is_empty() {
            return Err(scope.error("run", "the command is empty"));
        }
        let label = match &self.name {
            Some(n) => scope.render("name", n, Mode::Text)?,
            None => crate::redact::first_line(&run),
        };
        Ok(Action {
            label,
            run,
            timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT).0,
            retries: self.retries,
            delay: self.delay.unwrap_or(Duration::secs(1)).0,
            ignore_errors: self.ignore_errors,
            on: self.on,
            become_: self.become_,
        })
    }
}

/// How a run of an action ended.
pub struct Ran {
    pub ok: bool,
    pub interrupted: bool,
    /// It was cut short (interrupted, timed out) or its end was never seen (the connection
    /// dropped): it may have done part of its work.
    pub in_doubt: bool,
    /// "exit status 3: <last output line>".
    pub detail: String,
}

impl Action {
    /// Run it (retrying as asked) in `dir` on the target, as step `step`: StepStarted, output
    /// lines, StepFinished. An ignored failure is reported as a warning and counts as done.
    pub fn execute(
        &self,
        target: &dyn Machine,
        reporter: &Reporter,
        step: &str,
        dir: Option<&str>,
    ) -> Ran {
        let announced = Step::begin(reporter, step);
        let cmd = match dir {
            // A failed cd must not run the command somewhere else.
            Some(d) => format!("cd {} || exit 125\n{}", crate::quote::word(d), self.run),
            None => self.run.clone(),
        };
        let mut attempt = 0;
        let ran = loop {
            attempt += 1;
            let mut last = String::new();
            let mut on_line = |line: &str| {
                if !line.trim().is_empty() {
                    last = line.trim().to_string();
                }
                announced.output(line.to_string());
            };
            crate::crash::set_step(step);
            let result = match self.become_ {
                Some(crate::machine::ssh::Become::Sudo) => {
                    target.run_as_root(&cmd, self.timeout, &mut on_line)
                }
                None => target.run(&cmd, self.timeout, &mut on_line),
            };
            let ran = match result {
                Ok(o) => describe(&o, self.timeout, &last),
                Err(e) => Ran {
                    ok: false,
                    interrupted: false,
                    in_doubt: true,
                    detail: e.to_string(),
                },
            };
            if ran.ok || ran.interrupted || attempt > self.retries || crate::interrupt::armed() {
                break ran;
            }
            announced.output(format!(
                "attempt {attempt} of {} failed ({}); retrying in {}",
                self.retries + 1,
                ran.detail,
                humantime::format_duration(self.delay)
            ));
            std::thread::sleep(self.delay);
        };
        let tries = if attempt > 1 {
            format!(" after {attempt} attempts")
        } else {
            String::new()
        };
        let (status, ok, message) = match (ran.ok, self.ignore_errors && !ran.interrupted) {
            (true, _) => (Status::Ok, true, format!("done{tries}")),
            (false, true) => (
                Status::Warning,
                true,
                format!("{}{tries} (ignored: ignore_errors)", ran.detail),
            ),
            (false, false) => (Status::Failed, false, format!("{}{tries}", ran.detail)),
        };
        announced.end(status, message.clone());
        Ran {
            ok,
            interrupted: ran.interrupted,
            in_doubt: !ok && ran.in_doubt,
            detail: message,
        }
    }
}

fn describe(o: &Exited, timeout: std::time::Duration, last: &str) -> Ran {
    let mut detail = o.describe(timeout);
    if !o.success() && !last.is_empty() {
        detail = format!("{detail}: {last}");
    }
    Ran {
        ok: o.success(),
        interrupted: o.interrupted,
        in_doubt: o.interrupted || o.timed_out,
        detail,
    }
}
