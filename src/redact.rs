//! Secrets are registered once resolved, and every string that leaves tend goes through here:
//! events (so output and the run journal), host journals, state files, alerts, prom files and
//! error messages.
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
    let mut all = vec![];
    for p in parts {
        all.extend(crate::quote::forms(&p));
        // Inside a JSON string, and as Rust's debug formatting shows it.
        if let Ok(json) = serde_json::to_string(&p) {
            all.push(json[1..json.len() - 1].to_string());
        }
        all.push(p.escape_debug().to_string());
        all.push(p.escape_default().to_string());
    }
    all.retain(|f| !f.is_empty());
    all
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

/// Whether any secret is registered (a run with none skips the work of masking documents).
pub fn any() -> bool {
    !MASKS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .secrets
        .is_empty()
}

/// A document as JSON with every string in it (keys too) masked: what is persisted.
pub fn json<T: serde::Serialize>(doc: &T) -> serde_json::Result<serde_json::Value> {
    let mut v = serde_json::to_value(doc)?;
    if any() {
        mask_value(&mut v);
    }
    Ok(v)
}

fn mask_value(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => *s = redact(s),
        Value::Array(a) => a.iter_mut().for_each(mask_value),
        Value::Object(o) => {
            let old = std::mem::take(o);
            for (k, mut val) in old {
                mask_value(&mut val);
                o.insert(redact(&k), val);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_and_quoted_form_of_a_secret_is_masked() {
        let pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\nhkiG9w0BAQEFAASC\n-----END KEY-----";
        register(pem);
        let quoted = "dq\"bs\\-it's S3cret";
        register(quoted);
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
        let doc = serde_json::json!({ "message": "failed: MIIEvQIBADANBgkq" });
        assert_eq!(json(&doc).unwrap()["message"], "failed: ***");
    }
}
