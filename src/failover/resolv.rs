//! resolv.conf: which nameserver is first, rewriting the order atomically (every other line
//! kept), and the settings that make a failover pointless.

use std::io;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The `nameserver` addresses, in order.
pub fn nameservers(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next().map(str::to_string))
                .flatten()
        })
        .collect()
}

/// The file with `first` as the first nameserver and the others after it in their old order.
/// Every other line stays where it was.
pub fn promote(text: &str, first: IpAddr) -> String {
    let old = nameservers(text);
    let first_s = first.to_string();
    let mut order = vec![first_s.clone()];
    order.extend(
        old.iter()
            .filter(|n| n.parse::<IpAddr>().ok() != Some(first))
            .cloned(),
    );
    let mut next = order.into_iter();
    let mut out = String::new();
    let mut seen = false;
    for line in text.lines() {
        if line.split_whitespace().next() == Some("nameserver") {
            if let Some(n) = next.next() {
                out.push_str(&format!("nameserver {n}\n"));
            }
            seen = true;
            // The list is one longer when `first` was missing: it goes after the last line.
            continue;
        }
        if seen {
            for n in next.by_ref() {
                out.push_str(&format!("nameserver {n}\n"));
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    for n in next {
        out.push_str(&format!("nameserver {n}\n"));
    }
    out
}

/// Rewrite `path` atomically with `first` first, keeping its mode.
pub fn rewrite(path: &Path, first: IpAddr) -> io::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)?;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    let new = promote(&text, first);
    crate::fsutil::atomic_write(path, new.as_bytes(), mode)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(nameservers(&new))
}

/// What makes the order of this file not matter, or every lookup slow while the first server
/// is silent.
pub fn warnings(path: &Path, text: &str) -> Vec<String> {
    let mut w = vec![];
    if nameservers(text).iter().any(|n| n == "127.0.0.53") {
        w.push(format!(
            "{} points at 127.0.0.53 (systemd-resolved), which ignores this file's nameserver order: configure the servers in resolved.conf or point the file at them directly",
            path.display()
        ));
    }
    let timeout = text
        .lines()
        .filter(|l| l.split_whitespace().next() == Some("options"))
        .flat_map(|l| l.split_whitespace().skip(1))
        .filter_map(|o| o.strip_prefix("timeout:"))
        .filter_map(|t| t.parse::<u32>().ok())
        .last();
    if timeout.is_none_or(|t| t >= 5) {
        w.push(format!(
            "{} has the default 5 s `options timeout`: while the first nameserver is silent, every lookup stalls that long before trying the next; `options timeout:1 attempts:2` is the usual fix",
            path.display()
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_reorders_nameservers_and_keeps_every_other_line() {
        let text = "# managed by tend\nsearch plant.internal\nnameserver 10.0.0.53\nnameserver 10.0.0.54\noptions timeout:1 attempts:2\n";
        let out = promote(text, "10.0.0.54".parse().unwrap());
        assert_eq!(
            out,
            "# managed by tend\nsearch plant.internal\nnameserver 10.0.0.54\nnameserver 10.0.0.53\noptions timeout:1 attempts:2\n"
        );
        assert_eq!(nameservers(&out), ["10.0.0.54", "10.0.0.53"]);
        // A server that was not listed goes first, the others follow.
        let out = promote(text, "10.0.0.55".parse().unwrap());
        assert_eq!(nameservers(&out), ["10.0.0.55", "10.0.0.53", "10.0.0.54"]);
        assert!(out.ends_with("options timeout:1 attempts:2\n"), "{out}");
        assert_eq!(
            nameservers(&promote("", "10.0.0.1".parse().unwrap())),
            ["10.0.0.1"]
        );
    }

    #[test]
    fn resolved_stub_and_slow_timeouts_are_warned_about() {
        let p = Path::new("/etc/resolv.conf");
        assert_eq!(
            warnings(p, "nameserver 127.0.0.53\noptions timeout:1\n").len(),
            1
        );
        assert_eq!(warnings(p, "nameserver 10.0.0.53\n").len(), 1);
        assert!(warnings(p, "nameserver 10.0.0.53\noptions timeout:2 rotate\n").is_empty());
    }
}
