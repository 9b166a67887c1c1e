//! What can be seen of a PromQL query without Prometheus: brackets and quotes that do not
//! close, and whether it names the host or release it judges. (Prometheus parses the rest; its
//! own error text is shown when it refuses a query.)

use crate::playbook::Invalid;

/// The query as written, its `{{ }}` and `{% %}` taken out (their braces are the template's).
fn without_templates(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(at) = rest.find(['{']) {
        let (open, close) = match rest[at..].get(..2) {
            Some("{{") => ("{{", "}}"),
            Some("{%") => ("{%", "%}"),
            _ => {
                out.push_str(&rest[..=at]);
                rest = &rest[at + 1..];
                continue;
            }
        };
        out.push_str(&rest[..at]);
        match rest[at + open.len()..].find(close) {
            Some(end) => {
                // A value stands where the placeholder was.
                let width = open.len() + end + close.len();
                out.push_str(&"x".repeat(width));
                rest = &rest[at + width..];
            }
            None => {
                out.push_str(&rest[at..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every `(`, `[` and `{` closed by its own kind, in order, and every string closed.
pub fn balanced(query: &str) -> Result<(), Invalid> {
    let text = without_templates(query);
    let mut open: Vec<(char, usize)> = vec![];
    let mut chars = text.chars().enumerate();
    while let Some((col, c)) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                let mut escaped = false;
                let closed = chars.by_ref().any(|(_, s)| {
                    let end = !escaped && s == c;
                    escaped = !escaped && s == '\\' && c != '`';
                    end
                });
                if !closed {
                    return Err(format!(
                        "the string opened with {c} at column {} is never closed",
                        col + 1
                    )
                    .into());
                }
            }
            '#' => {
                // A comment, to the end of its line.
                for (_, s) in chars.by_ref() {
                    if s == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => open.push((c, col)),
            ')' | ']' | '}' => {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match open.pop() {
                    Some((o, _)) if o == want => {}
                    Some((o, at)) => {
                        return Err(format!(
                            "`{c}` at column {} closes the `{o}` opened at column {}",
                            col + 1,
                            at + 1
                        )
                        .into());
                    }
                    None => {
                        return Err(format!("`{c}` at column {} closes nothing", col + 1).into());
                    }
                }
            }
            _ => {}
        }
    }
    match open.last() {
        Some((o, at)) => Err(format!("`{o}` at column {} is never closed", at + 1).into()),
        None => Ok(()),
    }
}

/// Whether a `{{ }}` of `template` uses one of `names`.
pub fn names_a_placeholder(template: &str, names: &[&str]) -> bool {
    let mut rest = template;
    while let Some(at) = rest.find("{{") {
        let inner = &rest[at + 2..];
        let end = inner.find("}}").unwrap_or(inner.len());
        let words = inner[..end].split(|c: char| !(c.is_alphanumeric() || c == '_'));
        if words.into_iter().any(|w| names.contains(&w)) {
            return true;
        }
        rest = &inner[end..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbalanced_queries_are_found_with_their_column() {
        assert!(balanced(r#"sum(rate(x{host="{{ host.name }}"}[5m])) / 2"#).is_ok());
        assert!(balanced(r#"x{a="(", b='['}"#).is_ok());
        assert_eq!(
            balanced("sum(rate(x[5m])").unwrap_err().0,
            "`(` at column 4 is never closed"
        );
        assert_eq!(
            balanced("x[5m)").unwrap_err().0,
            "`)` at column 5 closes the `[` opened at column 2"
        );
        assert_eq!(
            balanced("x)").unwrap_err().0,
            "`)` at column 2 closes nothing"
        );
        assert!(
            balanced(r#"x{a="b}"#)
                .unwrap_err()
                .0
                .contains("never closed")
        );
        assert!(balanced("x # (\n").is_ok());
    }

    #[test]
    fn a_query_names_the_canary_through_its_placeholders() {
        let names = ["host", "release"];
        assert!(names_a_placeholder(r#"x{h="{{ host.name }}"}"#, &names));
        assert!(names_a_placeholder(r#"x{v="{{release}}"}"#, &names));
        assert!(!names_a_placeholder(r#"x{h="web1"}"#, &names));
        assert!(!names_a_placeholder(r#"x{h="{{ hostname }}"}"#, &names));
    }
}
