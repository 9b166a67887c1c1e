//! PromQL quoting: a value placed into a query stays a value. Inside a string literal
//! (`{host="{{ host.name }}"}`) it is escaped as Go escapes a string, so a `"` in a host name
//! cannot close the matcher and add `or vector(0)`; in a regex matcher's string (`=~`, `!~`)
//! its regex characters are escaped too, so `web1|web2` matches that text and not two hosts;
//! outside a string it must be a plain token (a number, a duration, a metric or label name, not
//! an operator such as `or` or `unless`), since nothing can quote it there.

use super::{OPEN, Refused};

/// Replace every marker in `query` with its value, escaped for where it sits.
pub fn splice(query: &str, values: &[String]) -> Result<String, Refused> {
    let mut out =
        String::with_capacity(query.len() + values.iter().map(String::len).sum::<usize>());
    // The quote that opened the string the scan is in: `"`, `'` or a backtick (raw).
    let mut open: Option<char> = None;
    // The string open is a regex matcher's (after `=~` or `!~`).
    let mut regex = false;
    let mut escaped = false;
    let mut comment = false;
    let mut chars = query.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c == OPEN {
            let (end, index, value) = super::marked(query, at, values)?;
            while chars.peek().is_some_and(|(i, _)| *i < end) {
                chars.next();
            }
            let refuse = |why: String, hint: &str| Refused {
                index: Some(index),
                why,
                hint: hint.into(),
            };
            match open {
                _ if comment => {
                    if value.contains(['\n', '\r']) {
                        return Err(refuse(
                            "the value has a line break, which would end the comment".into(),
                            "move the placeholder out of the comment",
                        ));
                    }
                    out.push_str(value);
                }
                Some('`') => {
                    if value.contains('`') {
                        return Err(refuse(
                            "the value has a backtick, which would end the raw string".into(),
                            "use a \"...\" string: a value is escaped there",
                        ));
                    }
                    if regex {
                        out.push_str(&regex_literal(value));
                    } else {
                        out.push_str(value);
                    }
                }
                Some(q) if regex => out.push_str(&inside_string(&regex_literal(value), q)),
                Some(q) => out.push_str(&inside_string(value, q)),
                None => {
                    if !token(value) {
                        return Err(refuse(
                            "outside a quoted string, a value in a query must be a number, a duration or a name, and this one is not".into(),
                            "put it in a label matcher's quotes, like {host=\"{{ host.name }}\"}: it is escaped there",
                        ));
                    }
                    out.push_str(value);
                }
            }
            continue;
        }
        out.push(c);
        if comment {
            comment = c != '\n';
        } else if let Some(q) = open {
            if escaped {
                escaped = false;
            } else if c == '\\' && q != '`' {
                escaped = true;
            } else if c == q {
                open = None;
            }
        } else if matches!(c, '"' | '\'' | '`') {
            let before = out[..out.len() - c.len_utf8()].trim_end();
            regex = before.ends_with("=~") || before.ends_with("!~");
            open = Some(c);
        } else if c == '#' {
            comment = true;
        }
    }
    Ok(out)
}

/// PromQL's words that are operators or modifiers, not names.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "atan2",
    "bool",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "start",
    "end",
];

/// A number, a duration, a metric or label name: nothing PromQL reads as syntax.
fn token(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.'))
        && !KEYWORDS.contains(&value.to_ascii_lowercase().as_str())
}

/// Every form a value takes in a query: what redaction must also mask.
pub fn forms(value: &str) -> Vec<String> {
    let regex = regex_literal(value);
    vec![
        inside_string(value, '"'),
        inside_string(value, '\''),
        regex.clone(),
        inside_string(&regex, '"'),
        inside_string(&regex, '\''),
    ]
}

/// `value` as a regex (RE2) that matches exactly it.
fn regex_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A value inside a string opened by `quote`, as Go's `strconv.Unquote` reads it back.
fn inside_string(value: &str, quote: char) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quote::marker;

    fn spliced(query: &str, value: &str) -> Result<String, Refused> {
        splice(&query.replace("V", &marker(0)), &[value.to_string()])
    }

    #[test]
    fn a_value_in_a_string_stays_in_it() {
        assert_eq!(
            spliced(r#"up{host="V"}"#, r#"web1"} or vector(1) or {x=""#).unwrap(),
            r#"up{host="web1\"} or vector(1) or {x=\""}"#
        );
        assert_eq!(
            spliced(r"up{host='V'}", r"it's\").unwrap(),
            r"up{host='it\'s\\'}"
        );
        assert_eq!(spliced(r#"up{h="V"}"#, "a\nb").unwrap(), r#"up{h="a\nb"}"#);
        assert_eq!(
            spliced(r#"up{a="\"", h="V"}"#, "x").unwrap(),
            r#"up{a="\"", h="x"}"#
        );
        assert!(spliced("up{h=`V`}", "a`b").is_err());
        assert_eq!(spliced("up{h=`V`}", "a\"b").unwrap(), "up{h=`a\"b`}");
    }

    #[test]
    fn a_value_in_a_regex_matcher_matches_itself() {
        assert_eq!(
            spliced(r#"up{h=~"V"}"#, "web1|web2").unwrap(),
            r#"up{h=~"web1\\|web2"}"#
        );
        assert_eq!(
            spliced(r#"up{h!~ 'V'}"#, "a.b").unwrap(),
            r#"up{h!~ 'a\\.b'}"#
        );
        assert_eq!(spliced(r#"up{h="V"}"#, "a.b").unwrap(), r#"up{h="a.b"}"#);
        assert_eq!(spliced("up{h=~`V`}", "a.b").unwrap(), r"up{h=~`a\.b`}");
    }

    #[test]
    fn outside_a_string_only_tokens_go() {
        assert_eq!(spliced("rate(x[V])", "5m").unwrap(), "rate(x[5m])");
        assert_eq!(spliced("x > V", "0.05").unwrap(), "x > 0.05");
        let e = spliced("x > V", "0) or vector(1").unwrap_err();
        assert_eq!(e.index, Some(0));
        assert!(e.hint.contains("label matcher"), "{e:?}");
        assert!(spliced("x > V", "").is_err());
        for keyword in ["or", "unless", "atan2", "AND", "offset"] {
            assert!(spliced("x V y", keyword).is_err(), "{keyword}");
        }
        assert!(spliced("x # V\n", "a\nvector(1)").is_err());
    }
}
