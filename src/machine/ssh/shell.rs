//! The one remote shell a host gets for the whole run: opening it, and each request's I/O over
//! it (the script and the framing are in `frame.rs`).

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use ssh2::Session;

pub(super) use super::frame::{Kind, Sudo};
use super::frame::{OP, Reply, Said, script};

pub(super) struct Shell {
    ch: ssh2::Channel,
    /// The session's socket, to ask for quick ACKs (see [`quick_ack`]).
    tcp: std::net::TcpStream,
    /// Upload chunks and replies pass through here, allocated once: a fresh zeroed buffer per
    /// request cost more page faults than the request's own work.
    buf: Vec<u8>,
    seq: u64,
    nonce: String,
    shown: String,
    /// Set when a request broke the framing (the host stopped answering, the connection
    /// dropped): every later request fails at once with this.
    broken: Option<String>,
    /// The last step was stopped because tend was asked to stop (SIGINT, SIGTERM).
    pub(super) interrupted: bool,
    /// When set, no request waits past it (a phase's limit, named for the error).
    pub(super) deadline: Option<(Instant, String)>,
}

/// Where a request's output goes.
pub(super) enum Out<'a> {
    /// Each line as it arrives (a step's output, streamed).
    Lines(&'a mut dyn FnMut(&str)),
    /// Every byte, exactly (a file being read).
    Bytes(&'a mut Vec<u8>),
}

fn nonce() -> String {
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // Not secret, just unlikely to appear in output by chance.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes[..16].copy_from_slice(&(t ^ u128::from(std::process::id())).to_le_bytes());
    }
    data_encoding::HEXLOWER.encode(&bytes)
}

impl Shell {
    pub(super) fn open(
        sess: &Session,
        tcp: std::net::TcpStream,
        timeout: Duration,
        sudo: Sudo,
        shown: &str,
    ) -> Result<Shell, super::Unreachable> {
        let nonce = nonce();
        let mut ch = open_channel(sess, &tcp, timeout)
            .map_err(|e| format!("{shown}: cannot open a channel: {e}"))?;
        let cmd = format!(
            "exec sh -c {}",
            crate::quote::word(&format!("{OP}{}", script(&nonce, sudo)))
        );
        ch.exec(&cmd)
            .map_err(|e| format!("{shown}: cannot start a shell: {}", e.message()))?;
        if let Some(pw) = sudo.password {
            ch.write_all(format!("{pw}\n").as_bytes())
                .map_err(|e| format!("{shown}: cannot start a shell: {e}"))?;
        }
        Ok(Shell {
            ch,
            tcp,
            buf: vec![],
            seq: 0,
            nonce,
            shown: shown.to_string(),
            broken: None,
            interrupted: false,
            deadline: None,
        })
    }

    /// Try `ssh.become_password` once, before anything on the host changes: a wrong one would
    /// otherwise cost three prompts at every step before the first fails.
    pub(super) fn check_sudo_password(
        &mut self,
        sess: &Session,
        user: &str,
    ) -> Result<(), super::Unreachable> {
        let mut last = String::new();
        let code = self
            .request(
                sess,
                Kind::RootStep,
                "true",
                None,
                Duration::from_secs(30),
                Out::Lines(&mut |l: &str| {
                    if !l.trim().is_empty() {
                        last = l.trim().to_string();
                    }
                }),
            )
            .map_err(|e| e.to_string())?;
        match code {
            0 => Ok(()),
            _ => Err(format!(
                "{}: sudo did not accept ssh.become_password for {user}: {last}",
                self.shown
            )
            .into()),
        }
    }

    pub(super) fn idle(&mut self) {
        self.buf = Vec::new();
    }

    /// Send one request and wait for its marker; the exit status it reports.
    pub(super) fn request(
        &mut self,
        sess: &Session,
        kind: Kind,
        cmd: &str,
        data: Option<(&mut dyn Read, u64)>,
        timeout: Duration,
        out: Out,
    ) -> io::Result<i32> {
        if let Some(why) = &self.broken {
            return Err(io::Error::new(io::ErrorKind::NotConnected, why.clone()));
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(256 * 1024, 0);
        let result = self.exchange(sess, kind, cmd, data, timeout, out, &mut buf);
        self.buf = buf;
        if let Err(e) = &result {
            self.broken = Some(format!("{}: connection lost earlier: {e}", self.shown));
        }
        result
    }

    // The buffer comes apart from `self`: the loop borrows it while calling `self.stop`.
    // Long on purpose: one loop over the channel's frames, where the deadline, a signal, the
    // data sent and the lines read all act on the same state; the framing itself is in
    // `frame.rs`, unit-tested.
    #[allow(clippy::too_many_arguments)]
    fn exchange(
        &mut self,
        sess: &Session,
        kind: Kind,
        cmd: &str,
        data: Option<(&mut dyn Read, u64)>,
        timeout: Duration,
        mut out: Out,
        buf: &mut [u8],
    ) -> io::Result<i32> {
        self.seq += 1;
        let len = data.as_ref().map_or(0, |d| d.1);
        let secs = timeout.as_secs().max(1);
        // A host that stops answering is this request's failure, never a hang.
        let mut wait = timeout + Duration::from_secs(15);
        // Under a phase's deadline (a preflight), however far off it is.
        let in_phase = self.deadline.is_some();
        let mut limit = None;
        if let Some((at, why)) = &self.deadline {
            let left = at.saturating_duration_since(Instant::now());
            if left < wait {
                wait = left.max(Duration::from_millis(1));
                limit = Some(why.clone());
            }
        }
        let no_answer = |shown: &str| {
            let text = match &limit {
                Some(why) => format!("{shown}: no answer within {why}"),
                None => format!(
                    "{shown}: no answer for {}",
                    humantime::format_duration(wait)
                ),
            };
            io::Error::new(io::ErrorKind::TimedOut, text)
        };
        sess.set_timeout(wait.as_millis().clamp(1, u128::from(u32::MAX)) as u32);
        let lost = |e: io::Error, shown: &str| {
            io::Error::new(e.kind(), format!("{shown}: connection lost: {e}"))
        };
        let request = super::frame::request(kind, self.seq, cmd, len, secs);
        self.ch
            .write_all(request.as_bytes())
            .map_err(|e| lost(e, &self.shown))?;
        if let Some((reader, len)) = data {
            // Big writes: libssh2 cuts them into full 32 KiB packets (8 KiB writes, io::copy's,
            // take about twice as long for an artifact).
            let mut sent = 0u64;
            let mut reader = reader.take(len);
            loop {
                let n = match reader.read(buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                self.ch
                    .write_all(&buf[..n])
                    .map_err(|e| lost(e, &self.shown))?;
                sent += n as u64;
            }
            if sent != len {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{}: the data ended after {sent} of {len} bytes", self.shown),
                ));
            }
        }
        quick_ack(&self.tcp);
        // No `flush()`: a blocking libssh2 write has gone out already, and the channel's flush
        // (libssh2_channel_flush) would throw away output that arrived during the upload.
        // Reads wake up every 200 ms (libssh2 also wakes to send keepalives, and reports that
        // as a timeout): the deadline below is what ends a wait, not libssh2.
        sess.set_timeout(200);
        self.interrupted = false;
        let mut reply = Reply::new(&self.nonce, self.seq);
        let mut pid: Option<String> = None;
        let deadline = Instant::now() + wait;
        loop {
            let n = match self.ch.read(buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ) =>
                {
                    if !self.interrupted
                        && crate::interrupt::armed()
                        && let Some(p) = &pid
                    {
                        self.interrupted = true;
                        self.stop(sess, p);
                        sess.set_timeout(200);
                    }
                    if Instant::now() > deadline {
                        return Err(no_answer(&self.shown));
                    }
                    // Under a phase's deadline (a preflight) a signal ends even one of tend's own
                    // requests: nothing has changed yet, and nothing waits on the host's answer.
                    if in_phase && pid.is_none() && crate::interrupt::armed() {
                        return Err(io::Error::new(
                            io::ErrorKind::Interrupted,
                            format!("{}: interrupted by a signal", self.shown),
                        ));
                    }
                    continue;
                }
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        format!("{}: connection lost: {e}", self.shown),
                    ));
                }
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    format!("{}: the remote shell ended", self.shown),
                ));
            }
            let mut chunk = &buf[..n];
            match &mut out {
                Out::Lines(on_line) => loop {
                    match reply.lines(chunk, *on_line) {
                        Some(Said::Pid(p)) => {
                            pid = Some(p);
                            crate::crash::during();
                        }
                        Some(Said::Done(code)) => return Ok(code),
                        None => break,
                    }
                    // The rest of this chunk is already in the reply.
                    chunk = &[];
                },
                Out::Bytes(bytes) => {
                    if let Some((got, code)) = reply.bytes(chunk) {
                        **bytes = got;
                        return Ok(code);
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(match &limit {
                    Some(_) => no_answer(&self.shown),
                    None => io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{}: no end to the request", self.shown),
                    ),
                });
            }
        }
    }
}

impl Shell {
    /// Stop a running step: TERM to its `timeout`, which passes it on to the command. Sent over
    /// a channel of its own, not waited for: the step's own end comes back on the shell.
    fn stop(&self, sess: &Session, pid: &str) {
        let Ok(pid) = pid.parse::<u32>() else { return };
        // No sudo: `timeout` runs as the login user and passes the TERM on to sudo, which
        // relays it to the command.
        sess.set_timeout(5000);
        if let Ok(mut ch) = sess.channel_session() {
            let _ = ch.exec(&format!("kill -TERM {pid}"));
            let _ = ch.send_eof();
            let _ = ch.wait_close();
        }
    }

    /// End the remote loop and the session without waiting on a host that stopped answering,
    /// or on a process a step left holding the channel open.
    pub(super) fn close(&mut self, sess: &Session) {
        if self.broken.is_none() {
            sess.set_timeout(1000);
            let _ = self.ch.send_eof();
            let _ = self.ch.wait_close();
        } else {
            self.end_loop(sess);
        }
        sess.set_blocking(false);
        let _ = sess.disconnect(None, "tend is done", None);
    }

    /// A request given up on (its deadline, a signal) leaves the loop shell waiting on it, and
    /// the loop holds the run's lock: sshd does not end a session's command when the
    /// connection goes. Ended over a channel of its own, found by the nonce in its command
    /// line (`exec`: the shell that runs pkill carries the nonce too, pkill never matches
    /// itself). A connection that is gone opens no channel: nothing is tried.
    fn end_loop(&self, sess: &Session) {
        sess.set_timeout(2000);
        if let Ok(mut ch) = sess.channel_session() {
            let _ = ch.exec(&format!("exec pkill -KILL -f 'n={}'", self.nonce));
            let _ = ch.send_eof();
            let _ = ch.wait_close();
        }
    }
}

/// The session channel, opened without blocking so that each packet sshd sends while we wait
/// is ACKed at once: after authenticating, sshd sends its host keys and then holds the channel
/// confirmation until that packet is ACKed (see [`quick_ack`]), which cost 42 ms per connect.
fn open_channel(
    sess: &Session,
    tcp: &std::net::TcpStream,
    timeout: Duration,
) -> Result<ssh2::Channel, super::Unreachable> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    const EAGAIN: i32 = -37; // LIBSSH2_ERROR_EAGAIN
    let deadline = Instant::now() + timeout;
    sess.set_blocking(false);
    let opened = loop {
        match sess.channel_session() {
            Err(e) if e.code() == ssh2::ErrorCode::Session(EAGAIN) => {}
            done => break done.map_err(|e| e.message().to_string()),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Err(format!(
                "no answer for {}",
                humantime::format_duration(timeout)
            ));
        }
        let mut flags = PollFlags::empty();
        let dirs = sess.block_directions();
        if matches!(
            dirs,
            ssh2::BlockDirections::Inbound | ssh2::BlockDirections::Both
        ) {
            flags |= PollFlags::IN;
        }
        if matches!(
            dirs,
            ssh2::BlockDirections::Outbound | ssh2::BlockDirections::Both
        ) {
            flags |= PollFlags::OUT;
        }
        let mut fds = [PollFd::new(tcp, flags)];
        let wait = Timespec::try_from(left.min(Duration::from_millis(200))).ok();
        if let Err(e) = rustix::event::poll(&mut fds, wait.as_ref())
            && e != rustix::io::Errno::INTR
        {
            break Err(e.to_string());
        }
        quick_ack(tcp);
    };
    sess.set_blocking(true);
    Ok(opened?)
}

/// sshd leaves Nagle on for sessions without a pty, so a reply in two packets (a step's pid
/// line, then its marker) holds the second until the first is ACKed; after a request goes out,
/// Linux delays that ACK up to 40 ms, hoping to ride on our next write. Asked before each wait,
/// the ACK goes out as soon as we read (measured: 42 ms of each connect was this wait for
/// sshd's channel confirmation).
fn quick_ack(tcp: &std::net::TcpStream) {
    let _ = rustix::net::sockopt::set_tcp_quickack(tcp, true);
}
