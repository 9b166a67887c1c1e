//! Filesystems from /proc/self/mountinfo, read with statvfs in a helper thread so a hung mount
//! (stale NFS) makes that filesystem UNKNOWN instead of hanging the whole check.

use std::sync::mpsc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Mount {
    pub path: String,
    pub fstype: String,
    pub dev_id: String,
}

#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub total: u64,
    pub used: u64,
    pub avail: u64,
    pub files: u64,
    pub files_free: u64,
}

impl Usage {
    /// Used percent as df shows it: used / (used + available to unprivileged users).
    pub fn used_percent(&self) -> f64 {
        let denom = self.used + self.avail;
        if denom == 0 {
            0.0
        } else {
            self.used as f64 * 100.0 / denom as f64
        }
    }
}

/// Filesystems that hold no user data, or are always full by design.
const PSEUDO: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "tmpfs",
    "cgroup",
    "cgroup2",
    "securityfs",
    "pstore",
    "debugfs",
    "tracefs",
    "mqueue",
    "hugetlbfs",
    "fusectl",
    "configfs",
    "binfmt_misc",
    "autofs",
    "bpf",
    "nsfs",
    "rpc_pipefs",
    "squashfs",
    "efivarfs",
    "ramfs",
    "selinuxfs",
    "overlay_none",
    "fuse.lxcfs",
    "nfsd",
    "iso9660",
];

fn unescape(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            out.push(u8::try_from(v).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn mounts() -> Result<Vec<Mount>, super::Unmeasured> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read the mount table: {e}"))?;
    Ok(text.lines().filter_map(parse_line).collect())
}

fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let l: Vec<&str> = left.split(' ').collect();
    let r: Vec<&str> = right.split(' ').collect();
    Some(Mount {
        dev_id: l.get(2)?.to_string(),
        path: unescape(l.get(4)?),
        fstype: r.first()?.to_string(),
    })
}

/// Every real filesystem once: no pseudo filesystems, and a device mounted several times (bind
/// mounts, container volumes) only at its first mount point.
pub fn real_mounts() -> Result<Vec<Mount>, super::Unmeasured> {
    let mut seen = std::collections::HashSet::new();
    Ok(mounts()?
        .into_iter()
        .filter(|m| {
            !PSEUDO.contains(&m.fstype.as_str())
                && !m.path.starts_with("/proc")
                && !m.path.starts_with("/sys")
        })
        .filter(|m| seen.insert(m.dev_id.clone()))
        .collect())
}

/// Filesystems whose statfs waits on another machine or a user-space daemon, and can hang.
pub fn is_remote(fstype: &str) -> bool {
    const REMOTE: &[&str] = &[
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ceph",
        "glusterfs",
        "9p",
        "lustre",
        "gpfs",
        "afs",
        "davfs",
        "ncpfs",
        "virtiofs",
        "fuse",
        "fuseblk",
    ];
    REMOTE.contains(&fstype) || fstype.starts_with("fuse.")
}

/// statvfs with a deadline. A statfs stuck on a dead server cannot be interrupted, not even by
/// SIGKILL, and a process cannot exit while one of its threads is stuck. So for remote and FUSE
/// filesystems the call is made by a child process (`tend statvfs PATH`), which is abandoned
/// on timeout; local filesystems use a cheaper thread.
pub fn statvfs(path: &str, fstype: &str, timeout: Duration) -> Result<Usage, super::Unmeasured> {
    let (tx, rx) = mpsc::channel();
    let p = path.to_string();
    if is_remote(fstype) {
        let exe =
            std::env::current_exe().map_err(|e| format!("cannot find tend's own binary: {e}"))?;
        let child = std::process::Command::new(exe)
            .arg("statvfs")
            .arg(path)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start a helper for {path}: {e}"))?;
        std::thread::spawn(move || {
            let out = child
                .wait_with_output()
                .map_err(|e| super::Unmeasured(e.to_string()))
                .and_then(|o| {
                    String::from_utf8(o.stdout)
                        .map_err(|e| super::Unmeasured(e.to_string()))?
                        .parse::<Usage>()
                });
            let _ = tx.send(out);
        });
    } else {
        // Detached on purpose: a thread stuck in the kernel cannot be joined.
        std::thread::spawn(move || {
            let _ = tx.send(read(&p));
        });
    }
    match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(_) => Err(super::Unmeasured(format!(
            "{path} did not answer within {} (hung mount?)",
            humantime::format_duration(timeout)
        ))),
    }
}

/// The statvfs call itself, in this process.
pub fn read(path: &str) -> Result<Usage, super::Unmeasured> {
    let s = rustix::fs::statvfs(path)
        .map_err(|e| format!("cannot stat {path}: {}", crate::sys::describe_io(&e.into())))?;
    let frsize = if s.f_frsize > 0 {
        s.f_frsize
    } else {
        s.f_bsize
    };
    Ok(Usage {
        total: s.f_blocks * frsize,
        used: s.f_blocks.saturating_sub(s.f_bfree) * frsize,
        avail: s.f_bavail * frsize,
        files: s.f_files,
        files_free: s.f_ffree,
    })
}

impl std::fmt::Display for Usage {
    /// The helper's wire format: five numbers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {} {}",
            self.total, self.used, self.avail, self.files, self.files_free
        )
    }
}

impl std::str::FromStr for Usage {
    type Err = super::Unmeasured;
    fn from_str(s: &str) -> Result<Usage, super::Unmeasured> {
        if let Some(err) = s.strip_prefix("error: ") {
            return Err(err.trim().into());
        }
        let n: Vec<u64> = s
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        match n[..] {
            [total, used, avail, files, files_free] => Ok(Usage {
                total,
                used,
                avail,
                files,
                files_free,
            }),
            _ => Err(super::Unmeasured(format!(
                "unexpected answer from the statvfs helper: {s:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_mountinfo_with_escapes() {
        let m = super::parse_line(
            "36 35 98:0 / /mnt/my\\040disk rw,noatime master:1 - ext4 /dev/sda1 rw",
        )
        .unwrap();
        assert_eq!(m.path, "/mnt/my disk");
        assert_eq!(m.fstype, "ext4");
        assert_eq!(m.dev_id, "98:0");
    }
}
