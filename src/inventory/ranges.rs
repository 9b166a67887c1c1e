//! Host ranges as Ansible expands them (`expand_hostname_range`): `web[01:20]` keeps the
//! leading zeros, `db-[a:f]` runs through ASCII letters (a–z, then A–Z, Ansible's order),
//! `n[1:10:2]` steps, and a name may hold several ranges.

use crate::playbook::Invalid;

/// The most names one entry may expand to: a typo like `[1:9999999]` must not eat memory.
const MOST: usize = 1_000_000;

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A host entry of an inventory (`web[01:03].example.com:2222`, `[::1]:2200`, `::1`): the names
/// it stands for and the port it gives, as Ansible's `_expand_hostpattern` reads it.
pub fn entry(text: &str) -> Result<(Vec<String>, Option<u16>), Invalid> {
    let (pattern, port) = port_of(text);
    let port = port.map(|p| super::port_of(p, text)).transpose()?;
    if pattern.ends_with(':') {
        return Err(format!(
            "host '{text}' ends in ':', which is kept for a port (web1:2222); a YAML inventory's group needs a mapping under it"
        )
        .into());
    }
    if pattern.is_empty() || pattern.contains(char::is_whitespace) {
        return Err(format!("'{text}' is not a host name").into());
    }
    Ok((expand(pattern)?, port))
}

/// `host:2222` -> (`host`, 2222); an IPv6 address keeps its colons (`[::1]:2222` its port).
fn port_of(pattern: &str) -> (&str, Option<&str>) {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    if let Some(rest) = pattern.strip_prefix('[')
        && let Some((addr, port)) = rest.split_once(']')
        && addr.contains(':')
    {
        match port.strip_prefix(':') {
            Some(p) if digits(p) => return (&pattern[1..1 + addr.len()], Some(p)),
            None if port.is_empty() => return (&pattern[1..1 + addr.len()], None),
            _ => {}
        }
    }
    // The colons of ranges (`web[01:20]`) do not count.
    let mut depth = 0;
    let outside: Vec<usize> = pattern
        .char_indices()
        .filter_map(|(i, c)| {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                ':' if depth == 0 => return Some(i),
                _ => {}
            }
            None
        })
        .collect();
    match outside.as_slice() {
        // One colon outside the ranges: a port. More: an IPv6 address.
        [i] if digits(&pattern[i + 1..]) => (&pattern[..*i], Some(&pattern[i + 1..])),
        _ => (pattern, None),
    }
}

/// Every name `pattern` stands for, in order; a name without `[` is itself.
pub fn expand(pattern: &str) -> Result<Vec<String>, Invalid> {
    let mut out = vec![];
    expand_into(pattern, &mut out)?;
    Ok(out)
}

fn expand_into(pattern: &str, out: &mut Vec<String>) -> Result<(), Invalid> {
    // Each range is one level of recursion: no name needs more than a few.
    if pattern.matches('[').count() > 16 {
        let start: String = pattern.chars().take(40).collect();
        return Err(format!("'{start}…' has more than 16 host ranges").into());
    }
    let Some(open) = pattern.find('[') else {
        out.push(pattern.to_string());
        return Ok(());
    };
    let close = pattern[open..]
        .find(']')
        .map(|i| open + i)
        .ok_or_else(|| format!("host range in '{pattern}' has no closing ']'"))?;
    let (head, range, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let bad = |why: &str| Invalid::from(format!("host range '[{range}]' in '{pattern}': {why}"));
    let bounds: Vec<&str> = range.split(':').collect();
    let (begin, end, step) = match bounds.as_slice() {
        [b, e] => (*b, *e, "1"),
        [b, e, s] => (*b, *e, *s),
        _ => return Err(bad("a range is begin:end or begin:end:step")),
    };
    let begin = if begin.is_empty() { "0" } else { begin };
    if end.is_empty() {
        return Err(bad("a range needs its end"));
    }
    let step: usize = step
        .parse()
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| bad("the step is a whole number above 0"))?;
    let width = if begin.len() > 1 && begin.starts_with('0') {
        if begin.len() != end.len() {
            return Err(bad(
                "a range with leading zeros needs begin and end of one length",
            ));
        }
        begin.len()
    } else {
        0
    };
    let items: Vec<String> = match (LETTERS.find(begin), LETTERS.find(end)) {
        (Some(b), Some(e)) if begin.len() == 1 && end.len() == 1 => {
            if b > e {
                return Err(bad("begin comes after end"));
            }
            LETTERS[b..=e]
                .chars()
                .step_by(step)
                .map(String::from)
                .collect()
        }
        _ => {
            let number = |s: &str| -> Result<u64, Invalid> {
                s.parse()
                    .map_err(|_| bad("a range is of numbers or of single letters"))
            };
            let (b, e) = (number(begin)?, number(end)?);
            if (e.saturating_sub(b) / step as u64) as usize >= MOST {
                return Err(bad(&format!("it stands for more than {MOST} hosts")));
            }
            (b..=e)
                .step_by(step)
                .map(|n| format!("{n:0width$}"))
                .collect()
        }
    };
    for item in items {
        expand_into(&format!("{head}{item}{tail}"), out)?;
        if out.len() > MOST {
            return Err(bad(&format!("it stands for more than {MOST} hosts")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{entry, expand, port_of};

    #[test]
    fn ports_are_told_from_ipv6() {
        assert_eq!(port_of("web1:2222"), ("web1", Some("2222")));
        assert_eq!(port_of("web[01:03]:2222"), ("web[01:03]", Some("2222")));
        assert_eq!(port_of("web[01:03]"), ("web[01:03]", None));
        assert_eq!(port_of("::1"), ("::1", None));
        assert_eq!(port_of("[::1]:2222"), ("::1", Some("2222")));
        assert_eq!(port_of("[::1]"), ("::1", None));
        assert_eq!(
            entry("[::2]:2222").unwrap(),
            (vec!["::2".to_string()], Some(2222))
        );
        assert!(entry("web1:").unwrap_err().0.contains("ends in ':'"));
        assert!(entry("web1:70000").unwrap_err().0.contains("65535"));
    }

    fn names(p: &str) -> Vec<String> {
        expand(p).unwrap()
    }

    #[test]
    fn numbers_keep_their_leading_zeros() {
        assert_eq!(
            names("web[01:03].example.com"),
            [
                "web01.example.com",
                "web02.example.com",
                "web03.example.com"
            ]
        );
        assert_eq!(names("n[8:10]"), ["n8", "n9", "n10"]);
        assert_eq!(names("n[:2]"), ["n0", "n1", "n2"]);
        assert_eq!(names("n[1:10:4]"), ["n1", "n5", "n9"]);
    }

    #[test]
    fn letters_and_several_ranges() {
        assert_eq!(names("db-[a:c]"), ["db-a", "db-b", "db-c"]);
        assert_eq!(names("x[y:B]"), ["xy", "xz", "xA", "xB"]);
        assert_eq!(names("r[1:2]c[a:b]"), ["r1ca", "r1cb", "r2ca", "r2cb"]);
        assert_eq!(names("plain"), ["plain"]);
    }

    #[test]
    fn bad_ranges_say_why() {
        for (p, why) in [
            ("w[1:2", "no closing"),
            ("w[1]", "begin:end"),
            ("w[1:]", "needs its end"),
            ("w[01:100]", "one length"),
            ("w[1:5:0]", "step"),
            ("w[c:a]", "after end"),
            ("w[1:x]", "numbers or of single letters"),
            ("w[0:99999999]", "more than"),
            (&"w[1:1]".repeat(20_000), "more than 16 host ranges"),
        ] {
            let e = expand(p).unwrap_err().0;
            assert!(e.contains(why), "{p}: {e}");
        }
    }
}
