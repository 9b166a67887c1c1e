//! Secrets are registered once resolved, and every string that leaves tend goes through here:
//! events (so output and the run journal), the host journal's messages, state files' notes,
//! alerts, prom files and error messages.
//!
//! A secret can reach text in other shapes than its own: a step prints a multi-line key one line
//! at a time, and a command carries it quoted for the shell (`'it'\''s'`, `"a\"b"`), a JSON
//! document escaped. Each of those forms is masked too. What a command makes of a secret
//! (base64 of it, a hash, a substring) cannot be known, and is not masked.

use std::sync::RwLock;

use aho_corasick::{AhoCorasick, MatchKind};

pub const MASK: &str = "***";

/// A line of a multi-line secret shorter than this is not masked on its own: `}` or `--` would
/// mask every brace and dash in the output, and tells nothing about the secret.
const MIN_LINE: usize = 4;

struct Masks {
    secrets: Vec<String>,
    /// Every form of every secret, longest first.
    patterns: Vec<String>,
    matcher: Option<AhoCorasick>,
}

static MASKS: RwLock<Masks> = RwLock::new(Masks {
    secrets: Vec::new(),
    patterns: Vec::new(),
    matcher: None,
});

/// The forms `value` can take in what tend writes.
fn forms(value: &str) -> Vec<String> {
    let mut parts = vec![value.to_string()];
    if value.contains(['\n', '\r']) {
        for line in value.split(['\n', '\r']) {
            for l in [line, line.trim()] {
                if l.chars().count() >= MIN_LINE {
                    parts.push(l.to_string());
                }
            }
        }
    }
    // `echo` in dash (/bin/sh on Debian) reads backslash escapes: `echo {{ secret }}` prints
    // `\1` as a control character. The most natural step there is, so its form is masked too.
    let echoed: Vec<String> = parts
        .iter()
        .map(|p| dash_echo(p))
        .filter(|e| e.chars().count() >= MIN_LINE)
        .collect();
    parts.extend(echoed);
    let mut all = vec![];
    for p in parts {
        all.extend(crate::quote::forms(&p));
        // Inside a JSON string, and as Rust's debug formatting shows it.
        if let Ok(json) = serde_json::to_string(&p) {
            all.push(json[1..json.len() - 1].to_string());
        }
        all.push(p.escape_debug().to_string());
        // Percent-encoded, as a URL's user information carries it; escaped in a PromQL string
        // or regex.
        all.push(crate::quote::url::encode(&p));
        all.extend(crate::quote::promql::forms(&p));
        all.push(p.escape_default().to_string());
    }
    all.retain(|f| !f.is_empty());
    all
}

/// What dash's `echo` prints for `s` (without its newline).
fn dash_echo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('c') => return out,
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('v') => out.push('\u{b}'),
            Some('\\') => out.push('\\'),
            Some(d) if d.is_digit(8) => {
                if d == '0' {
                    chars.next();
                }
                let mut n = 0u32;
                for _ in 0..3 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(v) => {
                            n = n * 8 + v;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(n & 0xff).unwrap_or('?'));
                continue;
            }
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

/// Mask `value` (and its forms) from now on. An empty value masks nothing.
pub fn register(value: &str) {
    if value.is_empty() {
        return;
    }
    let mut m = MASKS.write().unwrap_or_else(|e| e.into_inner());
    if m.secrets.iter().any(|s| s == value) {
        return;
    }
    m.secrets.push(value.to_string());
    let mut patterns = std::mem::take(&mut m.patterns);
    patterns.extend(forms(value));
    patterns.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    patterns.dedup();
    m.matcher = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&patterns)
        .ok();
    m.patterns = patterns;
}

pub fn redact(text: &str) -> String {
    let m = MASKS.read().unwrap_or_else(|e| e.into_inner());
    match &m.matcher {
        Some(ac) if ac.is_match(text) => ac.replace_all(text, &vec![MASK; m.patterns.len()]),
        _ => text.to_string(),
    }
}

/// A command's first line, shortened, for step names. Masked before it is cut: a secret cut in
/// half would no longer be recognised.
pub fn first_line(cmd: &str) -> String {
    let cmd = redact(cmd);
    let line = cmd.trim().lines().next().unwrap_or_default();
    let mut s: String = line.chars().take(60).collect();
    if s.len() < line.len() || cmd.trim().lines().nth(1).is_some() {
        s.push('…');
    }
    s
}

/// A URL with the password of its `user:password@` masked: a probe's URL names the step, and
/// the step's name is in every output and record.
pub fn userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    match authority.rsplit_once('@') {
        Some((user, _)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:{MASK}@{}", &rest[user.len() + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_urls_password_is_masked_and_nothing_else() {
        for (url, shown) in [
            ("http://ops:pw@h:1/x?y=1", "http://ops:***@h:1/x?y=1"),
            ("https://ops@h/x", "https://ops@h/x"),
            ("http://h/a@b", "http://h/a@b"),
            ("tcp 127.0.0.1:80", "tcp 127.0.0.1:80"),
        ] {
            assert_eq!(super::userinfo(url), shown);
        }
    }

    use super::*;

    #[test]
    fn every_line_and_quoted_form_of_a_secret_is_masked() {
        let pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\nhkiG9w0BAQEFAASC\n-----END KEY-----";
        register(pem);
        let quoted = "dq\"bs\\-it's S3cret";
        register(quoted);
        register("Sl-p@ss'w\"d\\1%x/y");
        assert_eq!(
            redact("Sl-p@ss'w\"d\u{1}%x/y"),
            MASK,
            "as dash's echo prints it"
        );
        for text in [
            "MIIEvQIBADANBgkq",
            "  | step: hkiG9w0BAQEFAASC",
            "echo 'dq\"bs\\-it'\\''s S3cret'",
            "echo \"dq\\\"bs\\\\-it's S3cret\"",
            r#"{"line":"dq\"bs\\-it's S3cret"}"#,
        ] {
            let out = redact(text);
            assert!(out.contains(MASK), "{text} -> {out}");
            for part in ["MIIEv", "hkiG9", "S3cret"] {
                assert!(!out.contains(part), "{text} -> {out}");
            }
        }
    }
}
