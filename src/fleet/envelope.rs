//! What the controller hands tend on a host, on its stdin: the playbook as written, with the
//! vars, the host and the secrets already resolved on the controller. The secrets are never
//! in a file or an argument there; the tend on the host masks them like its own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::playbook::{Diagnostic, Given, Loaded, Playbook, Source, Vars};

#[derive(Serialize, Deserialize)]
pub struct Envelope {
    /// The playbook's path on the controller: its name, and what the lock on the host is keyed
    /// by.
    pub path: String,
    pub text: String,
    /// The playbook's vars with `--var` and `--vars-file` over them.
    pub vars: Vars,
    /// `{{ host }}`: the host as the controller names it, with its inventory vars.
    pub host: serde_json::Value,
    pub secrets: BTreeMap<String, String>,
    /// Give up on checks still running after this long (a check).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Files compressed or archived at once (a cleanup).
    #[serde(default)]
    pub jobs: Option<u16>,
    /// Only list what a cleanup would do.
    #[serde(default)]
    pub dry_run: bool,
}

/// The largest envelope read: a playbook is at most 16 MiB, its vars a fraction of that.
const MAX: u64 = 64 * 1024 * 1024;

impl Envelope {
    /// The envelope on stdin (`tend check --from-controller`).
    pub fn read() -> Result<Envelope, Diagnostic> {
        use std::io::Read;
        gone_with_the_controller();
        let mut bytes = vec![];
        std::io::stdin()
            .take(MAX)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                crate::playbook::Diagnostic::new(format!(
                    "cannot read the controller's request: {e}"
                ))
            })?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Diagnostic::new(format!(
                "the controller's request is not one this tend reads ({e}): run the same tend version on both"
            ))
        })
    }
}

impl Envelope {
    /// `source` for a host (`{{ host }}`, as data), with the run's vars and secrets; no
    /// deadline, the host's own jobs, for real.
    pub fn of(
        source: &Source,
        vars: &Vars,
        host: serde_json::Value,
        secrets: &BTreeMap<String, String>,
    ) -> Envelope {
        Envelope {
            path: source.path.display().to_string(),
            text: source.text.clone(),
            vars: vars.clone(),
            host,
            secrets: secrets.clone(),
            timeout_ms: None,
            jobs: None,
            dry_run: false,
        }
    }

    /// The playbook it holds, with the vars, host and secrets the controller resolved.
    pub fn load<T: Playbook>(self) -> Result<Loaded<T>, Diagnostic> {
        let source = Source::new(std::path::Path::new(&self.path), self.text);
        let mut loaded: Loaded<T> =
            crate::playbook::load_source(source, &crate::cli::VarArgs::default())?;
        loaded.vars = self.vars;
        loaded.given = Some(Given {
            secrets: self.secrets,
            host: minijinja::Value::from(minijinja::value::Serde(&self.host)),
        });
        Ok(loaded)
    }
}

/// A tend the controller started must not work on for nobody: its output goes to the
/// controller over SSH, and when the controller is gone (killed, interrupted, its host lost)
/// sshd closes that pipe. A thread waits for that (poll(2) reports an error on a pipe whose
/// reader is gone) and ends this tend as a SIGTERM would, its own steps first.
fn gone_with_the_controller() {
    use std::os::fd::AsFd;
    std::thread::spawn(|| {
        let out = std::io::stdout();
        let fd = out.as_fd();
        let mut fds = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::empty(),
        )];
        loop {
            match rustix::event::poll(&mut fds, None) {
                Ok(_) if !fds[0].revents().is_empty() => break,
                Err(rustix::io::Errno::INTR) | Ok(_) => continue,
                // Not a pipe it can watch (a terminal, a file): nothing to wait for.
                Err(_) => return,
            }
        }
        crate::procs::signal_all(rustix::process::Signal::TERM);
        // The exit status goes to no one: the controller is gone.
        std::process::exit(1);
    });
}
