//! `sh -c` children of this machine: each in a process group of its own, recorded while it
//! runs (`crate::procs`). The machine's commands and a secret's `command` both start here.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};

/// `sh -c cmd` in a process group of its own, recorded while it runs (`crate::procs`), whose
/// watchdog kills the group if tend dies first (its commands must never outlive it: a
/// migration left running would race the next run's). No `pre_exec`: it would turn the
/// spawn into a fork of all of tend, where posix_spawn costs a fraction.
pub fn spawn(cmd: &str, dir: Option<&Path>) -> io::Result<(Child, crate::procs::Running)> {
    // By path: a PATH search costs an exec attempt per directory before it.
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let child = c
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start sh: {e}")))?;
    // Named for the command, not the `cd DIR || exit 125` an action puts first.
    let what = cmd
        .lines()
        .find(|l| !l.ends_with("|| exit 125"))
        .unwrap_or_default();
    let running = crate::procs::started(child.id(), &crate::redact::redact(what));
    Ok((child, running))
}

pub fn kill_group(pid: u32, sig: Signal) {
    if let Some(p) = Pid::from_raw(pid as i32) {
        let _ = kill_process_group(p, sig);
    }
}

/// What a command printed, stdout and stderr apart.
pub struct Captured {
    pub success: bool,
    pub status: String,
    pub stdout: String,
    pub stderr: String,
}

/// Run a command for its output (secret commands): stdout and stderr kept apart.
pub fn capture(cmd: &str, timeout: Duration, dir: &Path) -> io::Result<Captured> {
    let (mut child, _running) = spawn(cmd, Some(dir))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let status = match wait_timeout::ChildExt::wait_timeout(&mut child, timeout)? {
        Some(s) => s,
        None => {
            kill_group(child.id(), Signal::KILL);
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("timed out after {timeout:?}"),
            ));
        }
    };
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned();
    Ok(Captured {
        success: status.success(),
        status: status.to_string(),
        stdout,
        stderr,
    })
}
