//! The step processes tend has running on this machine. Each step runs in a process group of
//! its own, so a timeout or a stop signal reaches its whole pipeline. Those groups must not
//! outlive tend, however it ends:
//! - a signal that ends tend ends them first (`crate::interrupt`);
//! - `kill -9` cannot be caught, so a watchdog does it: a bare process forked once, at the first
//!   step, which is told each running group over a pipe and, when the pipe's other end closes
//!   (tend is gone, whatever killed it), kills every group still on its list. Steps that ended
//!   are taken off it, so what they left running on purpose (an app started in the
//!   background) stays;
//! - each group is recorded in the run's lock file, so a run that takes over the lock of a dead
//!   one stops whatever still runs before it starts anything (a machine where the watchdog
//!   could not be forked, a step that left its group).
//!
//! One watchdog per run, not per step: a fork of tend costs about a millisecond, which a deploy
//! of four steps measured.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use serde::{Deserialize, Serialize};

/// A step's process group as the lock records it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub pgid: i32,
    /// The leader's start time (clock ticks since boot, /proc/PID/stat field 22): a group id
    /// reused by an unrelated process after ours ended is told apart by it.
    pub started: u64,
    /// The boot it ran in: after a reboot nothing recorded is running.
    pub boot: String,
    /// What it runs, for the message of the run that stops it.
    pub what: String,
}

/// Group ids for the signal handler, which may not take a lock.
static SLOTS: [AtomicI32; 64] = [const { AtomicI32::new(0) }; 64];
static RUNNING: Mutex<Vec<Recorded>> = Mutex::new(Vec::new());
/// The lock file of this run and who holds it, rewritten with the running groups.
static LOCK: Mutex<Option<(File, serde_json::Value)>> = Mutex::new(None);

/// A running step's group; dropping it forgets the group (the step has ended).
pub struct Running {
    pgid: i32,
}

impl Drop for Running {
    fn drop(&mut self) {
        tell_watchdog(self.pgid, false);
        for s in &SLOTS {
            if s.compare_exchange(self.pgid, 0, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                break;
            }
        }
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|r| r.pgid != self.pgid);
        write_lock(&running);
    }
}

/// Note a step just started as process group `pgid` (its leader's pid); `what` is its command,
/// masked by the caller (this file is on disk).
pub fn started(pgid: u32, what: &str) -> Running {
    let pgid = pgid as i32;
    for s in &SLOTS {
        if s.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            break;
        }
    }
    let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    running.push(Recorded {
        pgid,
        started: start_time(pgid).unwrap_or(0),
        boot: boot_id(),
        what: what.chars().take(120).collect(),
    });
    write_lock(&running);
    drop(running);
    tell_watchdog(pgid, true);
    if STOPPING.load(Ordering::SeqCst) {
        // Started by a thread that had not seen the stop yet (a probe's next attempt).
        if let Some(p) = Pid::from_raw(pgid) {
            let _ = rustix::process::kill_process_group(p, Signal::KILL);
        }
    }
    Running { pgid }
}

/// Set once the run gives up on what still runs: every group is killed, now and as it starts.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Kill every running step's group, and each one started from now on. Not for a signal
/// handler (it takes the list's lock): the list, unlike the handler's slots, has no limit.
pub fn stop_all() {
    STOPPING.store(true, Ordering::SeqCst);
    signal_all(Signal::KILL);
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    for r in running.iter() {
        if let Some(p) = Pid::from_raw(r.pgid) {
            let _ = rustix::process::kill_process_group(p, Signal::KILL);
        }
    }
}

/// The write end of the watchdog's pipe (close-on-exec: no step holds it), once forked.
static WATCHDOG: std::sync::OnceLock<Option<File>> = std::sync::OnceLock::new();

/// Put group `pgid` on the watchdog's list (`add`), or take it off.
fn tell_watchdog(pgid: i32, add: bool) {
    if let Some(mut pipe) = WATCHDOG.get_or_init(watchdog).as_ref() {
        let mut msg = [0u8; 8];
        msg[..4].copy_from_slice(&pgid.to_ne_bytes());
        msg[4..].copy_from_slice(&i32::from(add).to_ne_bytes());
        // 8 bytes, under PIPE_BUF: written whole or not at all.
        if let Err(e) = pipe.write_all(&msg) {
            // The watchdog is gone: a step may now outlive a `kill -9` of tend. Said once.
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                eprintln!(
                    "tend: warning: the watchdog that stops steps if tend is killed is gone ({e}): a step may outlive a kill -9"
                );
            }
        }
    }
}

/// Fork the watchdog. It holds only the pipe's read end (a copy of the lock's descriptor would
/// keep the lock held after tend died) and runs only system calls: tend may have other threads
/// by now, and a forked child of a threaded process may do nothing that takes a lock.
fn watchdog() -> Option<File> {
    let mut fds = [0i32; 2];
    // SAFETY: a two-slot array for pipe2.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return None;
    }
    let (read, write) = (fds[0], fds[1]);
    // Found before the fork (it allocates): the child closes every other descriptor up to it.
    let highest = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .max()
                .unwrap_or(1024)
        })
        .unwrap_or(1024)
        .max(write);
    // SAFETY: between fork and _exit the child makes only async-signal-safe calls (close,
    // sigprocmask, read, kill, _exit) on its own stack array.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        // Blocked across the fork, so the child never runs a handler of tend's; it stays
        // blocked there (a Ctrl-C to the terminal's group must not end the watchdog early).
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let pid = libc::fork();
        if pid == 0 {
            // A group of its own: `kill -9 -PGID` on tend's group (a shell's job control, a
            // service manager) must not take the watchdog down with tend, or the steps outlive
            // both.
            libc::setpgid(0, 0);
            // close_range leaves nothing an other thread opened after `highest` was read; the
            // loop is for kernels before 5.9.
            let below = read == 0
                || libc::syscall(libc::SYS_close_range, 0u32, (read - 1) as u32, 0u32) == 0;
            let above = libc::syscall(libc::SYS_close_range, (read + 1) as u32, u32::MAX, 0u32);
            if !below || above != 0 {
                for fd in 0..=highest {
                    if fd != read {
                        libc::close(fd);
                    }
                }
            }
            let mut groups = [0i32; 256];
            let mut msg = [0u8; 8];
            loop {
                let mut got = 0usize;
                while got < msg.len() {
                    let n = libc::read(read, msg.as_mut_ptr().add(got).cast(), msg.len() - got);
                    if n <= 0 {
                        break;
                    }
                    got += n as usize;
                }
                if got < msg.len() {
                    // The write end closed: tend is gone. What it still ran goes with it.
                    for &g in &groups {
                        if g > 0 {
                            libc::kill(-g, libc::SIGKILL);
                        }
                    }
                    libc::_exit(0);
                }
                let pgid = i32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]);
                let add = msg[4..].iter().any(|b| *b != 0);
                let (from, to) = if add { (0, pgid) } else { (pgid, 0) };
                if let Some(slot) = groups.iter_mut().find(|g| **g == from) {
                    *slot = to;
                }
            }
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        libc::close(read);
        if pid < 0 {
            libc::close(write);
            return None;
        }
        use std::os::fd::FromRawFd;
        Some(File::from_raw_fd(write))
    }
}

/// Signal every running step's group. Async-signal-safe: only atomics and kill(2).
pub fn signal_all(sig: Signal) {
    for s in &SLOTS {
        let g = s.load(Ordering::SeqCst);
        if let Some(p) = Pid::from_raw(g) {
            let _ = rustix::process::kill_process_group(p, sig);
        }
    }
}

/// Record the running groups in `file` (the run's lock, held), beside `holder`, from now on.
pub fn record_in(file: File, holder: serde_json::Value) {
    *LOCK.lock().unwrap_or_else(|e| e.into_inner()) = Some((file, holder));
    write_lock(&RUNNING.lock().unwrap_or_else(|e| e.into_inner()));
}

/// The lock is being released: stop recording into it.
pub fn stop_recording() {
    *LOCK.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

fn write_lock(running: &[Recorded]) {
    let mut lock = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Some((file, holder)) = lock.as_mut() else {
        return;
    };
    if let serde_json::Value::Object(o) = holder {
        o.insert(
            "steps".into(),
            serde_json::to_value(running).unwrap_or_default(),
        );
    }
    let Ok(json) = serde_json::to_vec(holder) else {
        return;
    };
    // Not fsynced: the record matters only while this machine stays up (a reboot ends the
    // steps anyway). Written over, then cut, so a reader never sees an empty file.
    let _ = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.write_all(&json))
        .and_then(|()| file.set_len(json.len() as u64));
}

/// Stop the groups a dead run recorded that are still running: TERM, then KILL after `grace`.
/// Returns what was stopped, for the message.
pub fn stop_left_behind(recorded: &[Recorded], grace: Duration) -> Vec<String> {
    let boot = boot_id();
    let alive: Vec<&Recorded> = recorded
        .iter()
        .filter(|r| r.boot == boot && still_ours(r))
        .collect();
    for r in &alive {
        if let Some(p) = Pid::from_raw(r.pgid) {
            let _ = rustix::process::kill_process_group(p, Signal::TERM);
        }
    }
    end_groups(&alive.iter().map(|r| r.pgid).collect::<Vec<_>>(), grace);
    alive
        .iter()
        .map(|r| format!("process group {} ({})", r.pgid, r.what))
        .collect()
}

/// Groups already told to stop (TERM): wait up to `grace` for their last process to end, then
/// kill what is left and wait as long again for it to be gone, so nothing that follows (a
/// migration's `down`, the next run) overlaps them.
pub fn end_groups(pgids: &[i32], grace: Duration) {
    let alive = || pgids.iter().any(|g| group_alive(*g));
    let deadline = Instant::now() + grace;
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for g in pgids {
        if let Some(p) = Pid::from_raw(*g) {
            let _ = rustix::process::kill_process_group(p, Signal::KILL);
        }
    }
    let deadline = Instant::now() + grace;
    while alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The group is the one recorded: its leader is alive with the recorded start time, or the
/// leader is gone and members remain (the kernel does not reuse a group's id while it has
/// members).
fn still_ours(r: &Recorded) -> bool {
    match start_time(r.pgid) {
        Some(t) => t == r.started && group_alive(r.pgid),
        None => group_alive(r.pgid),
    }
}

/// Any process left in group `pgid` that is not a zombie.
fn group_alive(pgid: i32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            return false;
        };
        stat(pid).is_some_and(|(state, pgrp, _)| pgrp == pgid && state != 'Z')
    })
}

/// State, process group and start time of `pid`, from /proc/PID/stat.
fn stat(pid: i32) -> Option<(char, i32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    let pgrp = fields.get(2)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, pgrp, start))
}

fn start_time(pid: i32) -> Option<u64> {
    stat(pid).map(|(_, _, t)| t)
}

fn boot_id() -> String {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn a_recorded_group_left_running_is_stopped_and_a_reused_id_is_not() {
        // A pipeline whose shell is gone: its other process keeps the group.
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 30 & exit 0"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        let started = start_time(pgid).unwrap();
        child.wait().unwrap();
        assert!(group_alive(pgid), "the sleep keeps the group");
        let stale = Recorded {
            pgid,
            started,
            boot: boot_id(),
            what: "sleep 30".into(),
        };
        let reused = Recorded {
            pgid: std::process::id() as i32,
            started: 1,
            boot: boot_id(),
            what: "not ours".into(),
        };
        let stopped = stop_left_behind(&[stale, reused], Duration::from_secs(5));
        assert_eq!(stopped.len(), 1, "{stopped:?}");
        assert!(!group_alive(pgid));
    }
}
