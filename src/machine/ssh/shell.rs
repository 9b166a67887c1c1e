//! The one remote shell a host gets for the whole run, and the framing on it.
//!
//! The channel runs a small `sh` loop rather than a bare `sh`, because a shell reading its script
//! from a pipe reads ahead (dash does, in 8 KiB blocks) and would swallow the bytes of a file sent
//! after a command. The loop reads one header line with the `read` builtin (which never reads past
//! the newline), then exactly the command's bytes and exactly the data's bytes with `head -c`, so
//! commands and file contents share the channel without ever being mixed up:
//!
//! ```text
//! <kind> <seq> <command bytes> <data bytes> <timeout s>\n<command><data>
//! <kind> <seq> 0 <data bytes> <timeout s> <command>\n<data>      (a one-line command)
//! ```
//!
//! The second form saves a `head` process per request: most requests are tend's own one-liners.
//!
//! Kind `r` is a step: its own `sh -c`, stdin from /dev/null (or the data), bounded by a remote
//! coreutils `timeout`, whose pid the loop reports first: on SIGINT tend stops the step with a
//! `kill` sent over a second, short-lived channel (the loop itself is busy waiting for it). Kind
//! `o` is one of tend's own file operations, run in the loop shell itself (through sudo under
//! `ssh.become`) without a `timeout` (the controller's read deadline still bounds it). Kind `b`
//! starts a command as a background job of the loop and reports its pid; kind `w` waits for that
//! job and reports its status. Kind `l` takes an flock that the
//! loop itself holds until the connection ends, however it ends (fd 9, closed for every command,
//! so an app a step starts in the background cannot keep it), and writes the data (who holds
//! it) into the locked file. After each request the loop
//! prints a marker line carrying a per-run random nonce and the exit status; the nonce is
//! unguessable, so no command output can end a step early.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use ssh2::Session;

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
}

/// Where a request's output goes.
pub(super) enum Out<'a> {
    /// Each line as it arrives (a step's output, streamed).
    Lines(&'a mut dyn FnMut(&str)),
    /// Every byte, exactly (a file being read).
    Bytes(&'a mut Vec<u8>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Step,
    /// A step through sudo (an action's `become: sudo`).
    RootStep,
    Op,
    Lock,
    /// Started on the host without waiting, owned by the loop shell; its pid comes back.
    Background,
    /// Wait for a [`Kind::Background`] job (the command is its pid); its exit status.
    Wait,
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

/// How the remote loop reaches root: `sudo -n` (a NOPASSWD rule), or `sudo -A` answered by a
/// small askpass script when the playbook gives `ssh.become_password`.
#[derive(Clone, Copy)]
pub(super) struct Sudo<'a> {
    /// `ssh.become`: every step and file operation goes through sudo.
    pub all: bool,
    pub password: Option<&'a str>,
}

fn script(nonce: &str, sudo: Sudo) -> String {
    // The password arrives as the loop's first line, never in an argument (which `ps` shows)
    // or a file: the askpass script only prints the variable sudo's own environment hands it,
    // and sudo's env_reset keeps it from the command.
    let (prologue, su) = match sudo.password {
        Some(_) => (
            r#"IFS= read -r pw || exit 1
ap=$(mktemp "${TMPDIR:-/tmp}/tend-askpass.XXXXXX") || exit 1
trap 'rm -f "$ap"' EXIT
trap 'exit 1' HUP INT TERM PIPE
printf '#!/bin/sh\nprintf "%%s\\n" "$TEND_SUDO_PASSWORD"\n' >"$ap" && chmod 700 "$ap" || exit 1
TEND_SUDO_PASSWORD=$pw SUDO_ASKPASS=$ap
"#,
            "sudo -A",
        ),
        None => ("", "sudo -n"),
    };
    let all = if sudo.all { su } else { "" };
    // `$x` unquoted on purpose: empty, or the sudo words.
    // What a command left of its data is drained so the next request starts on a line of its
    // own; the builtin `read` finds nothing left in the common case, and no `cat` runs.
    const DRAIN: &str = "IFS= read -r _ && cat >/dev/null";
    // A step's watcher: the channel's input ending while a step runs means tend is gone (killed,
    // even with -9: the kernel closes its connection and sshd the channel), so the step is
    // stopped, as on this machine, rather than left running under nobody. The watcher reads
    // fd 3 (the channel, saved: a background job's stdin is /dev/null), where nothing arrives
    // while a step runs; it is killed when the step ends, with KILL (the loop traps TERM when it
    // holds a sudo password, and a subshell killed before it resets its traps would ignore it).
    format!(
        r#"n={nonce}
{prologue}su="{su}" sa="{all}"
exec 3<&0
while IFS=' ' read -r k s cl dl t c; do
e=
if [ "$cl" -gt 0 ]; then c=$(head -c "$cl"); fi
case $k in
r|R) if [ "$k" = R ]; then x=$su; else x=$sa; fi
if [ "$dl" -gt 0 ]; then head -c "$dl" | {{ [ -z "$x" ] || export TEND_SUDO_PASSWORD SUDO_ASKPASS; timeout -k 5 "$t" $x sh -c "$c" 2>&1 3<&- 9>&-; e=$?; {DRAIN}; exit $e; }}; else ( [ -z "$x" ] || export TEND_SUDO_PASSWORD SUDO_ASKPASS; exec timeout -k 5 "$t" $x sh -c "$c" </dev/null 2>&1 3<&- 9>&- ) & p=$!; printf '__tend_%s_%s_pid %s\n' "$n" "$s" "$p"; ( IFS= read -r _ || {{ kill -TERM "$p"; sleep 5; kill -KILL "-$p"; }} ) <&3 >/dev/null 2>&1 9>&- & w=$!; wait "$p"; e=$?; kill -9 "$w" 2>/dev/null; wait "$w"; fi;;
o) if [ "$dl" -gt 0 ]; then head -c "$dl" | {{ op 2>&1 3<&- 9>&-; e=$?; {DRAIN}; exit $e; }}; else op </dev/null 2>&1 3<&- 9>&-; fi;;
b) if [ -n "$sa" ]; then ( export TEND_SUDO_PASSWORD SUDO_ASKPASS; exec $sa sh -c "$c" ) </dev/null >/dev/null 2>&1 3<&- 9>&- & else ( eval "exec $c" ) </dev/null >/dev/null 2>&1 3<&- 9>&- & fi; printf '%s\n' "$!";;
w) wait "$c";;
l) IFS= read -r h; if [ -n "$sa" ] && ! [ -w "$c" ]; then ( export TEND_SUDO_PASSWORD SUDO_ASKPASS; exec $sa sh -c 'mkdir -p "${{1%/*}}" && : >>"$1" && chown "$2" "$1"' sh "$c" "$(id -u)" ); elif ! [ -d "${{c%/*}}" ]; then mkdir -p "${{c%/*}}"; fi && command exec 9>>"$c" && {{ flock -n 9 || {{ cat "$c"; false; }}; }} && {{ o=; IFS= read -r o <"$c"; printf '%s\n' "$o"; printf '%s\n' "$h" >"$c"; }};;
*) printf 'tend: unknown request %s\n' "$k"; false;;
esac
printf '\n__tend_%s_%s %s\n' "$n" "$s" "${{e:-$?}}"
done
"#
    )
}

/// The loop's file operations: through sudo under `ssh.become`, else in the loop shell itself
/// (a subshell each cost a fork, about a millisecond on a busy host). So they are written to
/// leave the loop standing: `return`, never `exit`; `true >f`, never `: >f` (a redirection
/// that fails on a special builtin ends a non-interactive shell); no `cd`, no loop variables.
const OP: &str = r#"op() { if [ -n "$sa" ]; then ( export TEND_SUDO_PASSWORD SUDO_ASKPASS; exec $sa sh -c "$c" ); else eval "$c"; fi; }
"#;

impl Shell {
    pub(super) fn open(
        sess: &Session,
        tcp: std::net::TcpStream,
        timeout: Duration,
        sudo: Sudo,
        shown: &str,
    ) -> Result<Shell, String> {
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
        })
    }

    /// Try `ssh.become_password` once, before anything on the host changes: a wrong one would
    /// otherwise cost three prompts at every step before the first fails.
    pub(super) fn check_sudo_password(&mut self, sess: &Session, user: &str) -> Result<(), String> {
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
            )),
        }
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
        let k = match kind {
            Kind::Step => 'r',
            Kind::RootStep => 'R',
            Kind::Op => 'o',
            Kind::Lock => 'l',
            Kind::Background => 'b',
            Kind::Wait => 'w',
        };
        let len = data.as_ref().map_or(0, |d| d.1);
        let secs = timeout.as_secs().max(1);
        // A host that stops answering is this request's failure, never a hang.
        let wait = timeout + Duration::from_secs(15);
        sess.set_timeout(wait.as_millis().min(u128::from(u32::MAX)) as u32);
        let lost = |e: io::Error, shown: &str| {
            io::Error::new(e.kind(), format!("{shown}: connection lost: {e}"))
        };
        let inline = !cmd.is_empty() && !cmd.contains('\n') && cmd.trim() == cmd;
        // Header and command in one write: one packet, one wake-up of the remote loop.
        let request = if inline {
            format!("{k} {} 0 {len} {secs} {cmd}\n", self.seq)
        } else {
            format!("{k} {} {} {len} {secs}\n{cmd}", self.seq, cmd.len())
        };
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
        let pid_prefix = format!("__tend_{}_{}_pid ", self.nonce, self.seq);
        let mut pid: Option<String> = None;
        let marker = format!("__tend_{}_{} ", self.nonce, self.seq);
        let deadline = Instant::now() + wait;
        let mut acc: Vec<u8> = vec![];
        let mut scanned: usize = 0;
        // Lines mode: the line before the marker is held back, since the marker's own leading
        // newline may have ended it (an empty line that is not the command's).
        let mut held: Option<String> = None;
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
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!(
                                "{}: no answer for {}",
                                self.shown,
                                humantime::format_duration(wait)
                            ),
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
            acc.extend_from_slice(&buf[..n]);
            match &mut out {
                Out::Lines(on_line) => {
                    while let Some(i) = acc.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = acc.drain(..=i).collect();
                        let line = String::from_utf8_lossy(&line);
                        let line = line.trim_end_matches(['\n', '\r']);
                        if let Some(p) = line.strip_prefix(&pid_prefix) {
                            pid = Some(p.trim().to_string());
                            crate::crash::during();
                            continue;
                        }
                        if let Some(code) = line.strip_prefix(&marker) {
                            if let Some(h) = held.take().filter(|h| !h.is_empty()) {
                                on_line(&h);
                            }
                            return Ok(code.trim().parse().unwrap_or(-1));
                        }
                        if let Some(h) = held.replace(line.to_string()) {
                            on_line(&h);
                        }
                    }
                }
                Out::Bytes(bytes) => {
                    let needle = format!("\n{marker}");
                    let from = scanned.saturating_sub(needle.len());
                    if let Some(pos) = find(&acc[from..], needle.as_bytes()).map(|p| p + from) {
                        let rest = &acc[pos + needle.len()..];
                        if let Some(end) = rest.iter().position(|&b| b == b'\n') {
                            let code = String::from_utf8_lossy(&rest[..end]).trim().parse();
                            acc.truncate(pos);
                            **bytes = std::mem::take(&mut acc);
                            return Ok(code.unwrap_or(-1));
                        }
                    }
                    scanned = acc.len();
                }
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{}: no end to the request", self.shown),
                ));
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
        }
        sess.set_blocking(false);
        let _ = sess.disconnect(None, "tend is done", None);
    }
}

/// The session channel, opened without blocking so that each packet sshd sends while we wait
/// is ACKed at once: after authenticating, sshd sends its host keys and then holds the channel
/// confirmation until that packet is ACKed (see [`quick_ack`]), which cost 42 ms per connect.
fn open_channel(
    sess: &Session,
    tcp: &std::net::TcpStream,
    timeout: Duration,
) -> Result<ssh2::Channel, String> {
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
    opened
}

/// sshd leaves Nagle on for sessions without a pty, so a reply in two packets (a step's pid
/// line, then its marker) holds the second until the first is ACKed; after a request goes out,
/// Linux delays that ACK up to 40 ms, hoping to ride on our next write. Asked before each wait,
/// the ACK goes out as soon as we read (measured: 42 ms of each connect was this wait for
/// sshd's channel confirmation).
fn quick_ack(tcp: &std::net::TcpStream) {
    let _ = rustix::net::sockopt::set_tcp_quickack(tcp, true);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
