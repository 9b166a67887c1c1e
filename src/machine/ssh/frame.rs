//! The remote shell's text and the framing on it, apart from any I/O: what tend sends, and how
//! it finds each reply's lines and its end.
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

#[derive(Clone, Copy, PartialEq, Eq)]
pub(in crate::machine::ssh) enum Kind {
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

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Step => 'r',
            Kind::RootStep => 'R',
            Kind::Op => 'o',
            Kind::Lock => 'l',
            Kind::Background => 'b',
            Kind::Wait => 'w',
        }
    }
}

/// A request's header, with a one-line command inline: header and command go in one write
/// (one packet, one wake-up of the remote loop).
pub(super) fn request(kind: Kind, seq: u64, cmd: &str, data_len: u64, timeout_secs: u64) -> String {
    let k = kind.letter();
    let inline = !cmd.is_empty() && !cmd.contains('\n') && cmd.trim() == cmd;
    if inline {
        format!("{k} {seq} 0 {data_len} {timeout_secs} {cmd}\n")
    } else {
        format!("{k} {seq} {} {data_len} {timeout_secs}\n{cmd}", cmd.len())
    }
}

/// How the remote loop reaches root: `sudo -n` (a NOPASSWD rule), or `sudo -A` answered by a
/// small askpass script when the playbook gives `ssh.become_password`.
#[derive(Clone, Copy)]
pub(in crate::machine::ssh) struct Sudo<'a> {
    /// `ssh.become`: every step and file operation goes through sudo.
    pub all: bool,
    pub password: Option<&'a str>,
    /// `ansible_become_user`: sudo's `-u` (default root); a name `valid_user` passed.
    pub user: Option<&'a str>,
}

pub(super) fn script(nonce: &str, sudo: Sudo) -> String {
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
    // A user name of letters, digits, `_`, `-` and `.` only (`inventory::valid_user`): one
    // word, so it may stand in the unquoted `$su`.
    let su = match sudo.user {
        Some(u) if crate::inventory::valid_user(u) => format!("{su} -u {u}"),
        _ => su.to_string(),
    };
    let all = if sudo.all { su.as_str() } else { "" };
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
pub(super) const OP: &str = r#"op() { if [ -n "$sa" ]; then ( export TEND_SUDO_PASSWORD SUDO_ASKPASS; exec $sa sh -c "$c" ); else eval "$c"; fi; }
"#;

/// What a step's reply said, as its bytes arrive.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Said {
    /// The pid of the step's `timeout` on the host: what to stop on SIGINT.
    Pid(String),
    /// The request ended with this exit status.
    Done(i32),
}

/// Reads one request's reply: its lines (or bytes) up to the marker with the run's nonce and
/// the request's number, which no output can forge.
pub(super) struct Reply {
    marker: String,
    pid_prefix: String,
    acc: Vec<u8>,
    scanned: usize,
    /// Lines mode: the line before the marker is held back, since the marker's own leading
    /// newline may have ended it (an empty line that is not the command's).
    held: Option<String>,
}

impl Reply {
    pub(super) fn new(nonce: &str, seq: u64) -> Reply {
        Reply {
            marker: format!("__tend_{nonce}_{seq} "),
            pid_prefix: format!("__tend_{nonce}_{seq}_pid "),
            acc: vec![],
            scanned: 0,
            held: None,
        }
    }

    /// Bytes of a streamed reply: each complete output line goes to `on_line`; the pid and
    /// the end are returned as they are seen (the pid first, then more bytes to feed).
    pub(super) fn lines(&mut self, bytes: &[u8], on_line: &mut dyn FnMut(&str)) -> Option<Said> {
        self.acc.extend_from_slice(bytes);
        while let Some(i) = self.acc.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.acc.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(p) = line.strip_prefix(&self.pid_prefix) {
                return Some(Said::Pid(p.trim().to_string()));
            }
            if let Some(code) = line.strip_prefix(&self.marker) {
                if let Some(h) = self.held.take().filter(|h| !h.is_empty()) {
                    on_line(&h);
                }
                return Some(Said::Done(code.trim().parse().unwrap_or(-1)));
            }
            if let Some(h) = self.held.replace(line.to_string()) {
                on_line(&h);
            }
        }
        None
    }

    /// Bytes of a reply kept whole (a file read): every byte before the marker, and the exit
    /// status, once the marker's line is complete.
    pub(super) fn bytes(&mut self, bytes: &[u8]) -> Option<(Vec<u8>, i32)> {
        self.acc.extend_from_slice(bytes);
        let needle = format!("\n{}", self.marker);
        let from = self.scanned.saturating_sub(needle.len());
        if let Some(pos) = find(&self.acc[from..], needle.as_bytes()).map(|p| p + from) {
            let rest = &self.acc[pos + needle.len()..];
            if let Some(end) = rest.iter().position(|&b| b == b'\n') {
                let code = String::from_utf8_lossy(&rest[..end]).trim().parse();
                self.acc.truncate(pos);
                return Some((std::mem::take(&mut self.acc), code.unwrap_or(-1)));
            }
            // The marker is here but its line is not complete: look from it again next time
            // (scanning on from the end would step over it).
            self.scanned = pos + needle.len();
            return None;
        }
        self.scanned = self.acc.len();
        None
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_line_command_rides_in_the_header_and_a_script_follows_it() {
        assert_eq!(request(Kind::Step, 7, "true", 0, 30), "r 7 0 0 30 true\n");
        assert_eq!(request(Kind::Op, 8, "a\nb", 5, 1), "o 8 3 5 1\na\nb");
        // Leading or trailing blanks would be lost by `read`: sent as a body.
        assert_eq!(request(Kind::Wait, 9, " x", 0, 1), "w 9 2 0 1\n x");
        assert_eq!(request(Kind::Lock, 1, "", 3, 1), "l 1 0 3 1\n");
    }

    #[test]
    fn lines_come_out_whole_and_the_marker_ends_the_reply() {
        let mut r = Reply::new("ab", 3);
        let mut seen = vec![];
        let mut on = |l: &str| seen.push(l.to_string());
        assert_eq!(r.lines(b"one\ntw", &mut on), None);
        assert_eq!(
            r.lines(b"o\n__tend_ab_3_pid 42\n", &mut on),
            Some(Said::Pid("42".into()))
        );
        // A marker of another request, or one a command printed without the nonce, is output.
        assert_eq!(r.lines(b"__tend_ab_2 0\n__tend_3 0\n", &mut on), None);
        assert_eq!(
            r.lines(b"last\n\n__tend_ab_3 5\n", &mut on),
            Some(Said::Done(5))
        );
        assert_eq!(seen, ["one", "two", "__tend_ab_2 0", "__tend_3 0", "last"]);
    }

    #[test]
    fn an_empty_last_line_is_the_markers_not_the_commands() {
        let mut r = Reply::new("ab", 1);
        let mut seen = vec![];
        let got = r.lines(b"x\n\n\n__tend_ab_1 0\n", &mut |l: &str| {
            seen.push(l.to_string())
        });
        assert_eq!(got, Some(Said::Done(0)));
        assert_eq!(seen, ["x", ""]);
    }

    #[test]
    fn bytes_are_kept_exactly_even_when_the_marker_is_split_across_reads() {
        let mut r = Reply::new("ab", 4);
        let data = b"bin\x00ary\nno newline at the end";
        assert_eq!(r.bytes(data), None);
        assert_eq!(r.bytes(b"\n__tend_a"), None);
        assert_eq!(
            r.bytes(b"b_4 0"),
            None,
            "the marker's line is not complete yet"
        );
        assert_eq!(r.bytes(b"\n"), Some((data.to_vec(), 0)));
    }

    #[test]
    fn a_status_that_is_not_a_number_is_a_failure() {
        let mut r = Reply::new("ab", 1);
        assert_eq!(
            r.lines(b"__tend_ab_1 x\n", &mut |_| {}),
            Some(Said::Done(-1))
        );
    }

    #[test]
    fn the_loop_reads_the_password_first_only_when_one_is_given() {
        let plain = script(
            "n0",
            Sudo {
                all: false,
                password: None,
                user: None,
            },
        );
        assert!(
            plain.starts_with("n=n0\nsu=\"sudo -n\" sa=\"\"\n"),
            "{plain}"
        );
        let pw = script(
            "n0",
            Sudo {
                all: true,
                password: Some("pw"),
                user: None,
            },
        );
        let app = script(
            "n0",
            Sudo {
                all: true,
                password: None,
                user: Some("app"),
            },
        );
        assert!(app.contains("su=\"sudo -n -u app\" sa=\"sudo -n -u app\""));
        let hostile = script(
            "n0",
            Sudo {
                all: true,
                password: None,
                user: Some("x;reboot"),
            },
        );
        assert!(
            !hostile.contains("reboot"),
            "a name that is not one is left out"
        );
        assert!(pw.contains("IFS= read -r pw || exit 1"));
        assert!(pw.contains("su=\"sudo -A\" sa=\"sudo -A\""));
        assert!(
            !pw.contains("pw\n"),
            "the password itself is never in the script"
        );
    }
}
