/*!
Shell quoting: a value placed into a command is escaped for the quoting context it lands in,
so it always arrives as data, byte for byte.

A template such as `echo "deployed {{ v }}" >'{{ log }}'` puts `v` inside double quotes and
`log` inside single quotes; quoting both as a bare word (`'...'`) would let a `"` or a `'` in
the value end the surrounding quotes. So commands are rendered with a marker where each value
goes ([`marker`]), the rendered text is read the way `sh` reads it ([`context`]), and each value
is escaped for the context found at its marker ([`splice`]). Contexts where no escaping can make
a value safe (inside backticks, `${...}`, `$'...'`, right after a `\` or a `$`) are refused with
the reason, so the playbook is fixed before anything runs.

This module imports nothing of tend's: the quoting rules stand alone and are tested alone.
*/

mod context;

pub use context::Context;

/// Characters that need no quoting anywhere in a word (`=` and `~` do: `a=b` as a first word
/// is an assignment and a leading `~` expands).
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_@%+:,./-".contains(c)
}

/// A value as one word where no quotes are open: as it is when that is safe, else in single
/// quotes (a `'` inside written as `'\''`).
pub fn word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(plain) {
        return s.to_string();
    }
    format!("'{}'", inside_single(s))
}

/// A value inside `'...'`: nothing is special there but the closing quote, so each `'` closes
/// the quotes, adds an escaped quote and reopens them.
pub fn inside_single(s: &str) -> String {
    s.replace('\'', r"'\''")
}

/// A value inside `"..."`: `\`, `$`, `` ` `` and `"` are escaped; everything else (newlines
/// too) is literal there.
pub fn inside_double(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(c, '\\' | '$' | '`' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A value in the body of a here-document whose delimiter is unquoted (`<<EOF`): as in double
/// quotes, but a `"` is literal there.
pub fn inside_heredoc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(c, '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Every form [`splice`] can give `s` in a command: what redaction must also mask.
pub fn forms(s: &str) -> Vec<String> {
    let mut all = vec![
        s.to_string(),
        inside_single(s),
        inside_double(s),
        inside_heredoc(s),
    ];
    all.sort();
    all.dedup();
    all
}

/// Where a value goes in a rendered command: private-use characters around its index, which no
/// shell treats specially and no playbook writes.
pub const OPEN: char = '\u{E000}';
pub const CLOSE: char = '\u{E001}';

pub fn marker(index: usize) -> String {
    format!("{OPEN}{index}{CLOSE}")
}

/// Why a value cannot go where the command puts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Which value (the index in its marker); `None` when the command as a whole cannot be read.
    pub index: Option<usize>,
    pub why: String,
    pub hint: String,
}

/// Replace every marker in `script` with its value, escaped for the context it sits in.
pub fn splice(script: &str, values: &[String]) -> Result<String, Refused> {
    let found = context::scan(script)?;
    let mut out =
        String::with_capacity(script.len() + values.iter().map(String::len).sum::<usize>());
    let mut last = 0;
    for m in found {
        out.push_str(&script[last..m.start]);
        last = m.end;
        let value = values.get(m.index).ok_or_else(|| Refused {
            index: Some(m.index),
            why: "a value marker with no value".into(),
            hint: String::new(),
        })?;
        out.push_str(&escape(value, &m.context).map_err(|(why, hint)| Refused {
            index: Some(m.index),
            why,
            hint,
        })?);
    }
    out.push_str(&script[last..]);
    Ok(out)
}

const RAW_HINT: &str = "use `| raw` if the value is shell code you trust";

fn escape(value: &str, ctx: &Context) -> Result<String, (String, String)> {
    if value.contains('\0') {
        return Err((
            "a value with a NUL byte cannot be passed to a shell command".into(),
            "a shell argument ends at NUL; remove it from the value".into(),
        ));
    }
    let delimiter_line = |delim: &str, strip_tabs: bool| {
        value.split('\n').any(|l| {
            (if strip_tabs {
                l.trim_start_matches('\t')
            } else {
                l
            }) == delim
        })
    };
    Ok(match ctx {
        Context::Word => word(value),
        Context::Double => inside_double(value),
        Context::Single => inside_single(value),
        Context::Heredoc {
            delim,
            quoted,
            strip_tabs,
        } => {
            if delimiter_line(delim, *strip_tabs) {
                return Err((
                    format!(
                        "the value has a line `{delim}`, which would end the here-document and run what follows"
                    ),
                    "choose a delimiter the value cannot contain, like <<'TEND_EOF'".into(),
                ));
            }
            if *quoted {
                value.to_string()
            } else {
                inside_heredoc(value)
            }
        }
        Context::Comment => {
            if value.contains(['\n', '\r']) {
                return Err((
                    "the value has a line break, which would end the comment and run the rest"
                        .into(),
                    "move the placeholder out of the comment".into(),
                ));
            }
            value.to_string()
        }
        Context::Arithmetic => {
            let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err((
                    // Not shown: a value may be a secret, and a cut one is not masked.
                    "inside $((...)) a value must be a whole number, and this one is not".into(),
                    format!(
                        "check the value, or compute outside: n={{{{ value }}}}; echo $((n + 1)); or {RAW_HINT}"
                    ),
                ));
            }
            value.to_string()
        }
        Context::Refused { why, hint } => return Err((why.clone(), hint.clone())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run `script` with `sh -c` and return what it printed.
    fn sh(script: &str) -> String {
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    const HOSTILE: &[&str] = &[
        "plain",
        "",
        "two words",
        "it's",
        "say \"hi\"",
        "$(echo INJECTED)",
        "`echo INJECTED`",
        "a; echo INJECTED",
        "back\\slash\\",
        "'; echo INJECTED; '",
        "\"; echo INJECTED; \"",
        "line\nbreak\n",
        "$HOME ${HOME} $((1+1))",
        "* ? [a]",
        "-n",
        "~root",
        "a=b",
        "\\'\\\"",
        "tab\there",
        "ünïcødé ✓",
    ];

    #[test]
    fn a_value_arrives_byte_exact_in_every_context() {
        type Expect = fn(&str) -> String;
        let contexts: &[(&str, Expect)] = &[
            ("printf %s M", |v| v.to_string()),
            ("printf %s \"M\"", |v| v.to_string()),
            ("printf %s 'M'", |v| v.to_string()),
            ("printf %s pre\"M\"'M'post", |v| format!("pre{v}{v}post")),
            ("r=$(printf %s M; printf x); printf %s \"${r%x}\"", |v| {
                v.to_string()
            }),
            (
                "r=\"$(printf %s \"M\"; printf x)\"; printf %s \"${r%x}\"",
                |v| v.to_string(),
            ),
            ("cat <<EOF\nM\nEOF", |v| format!("{v}\n")),
            ("cat <<'EOF'\nM\nEOF", |v| format!("{v}\n")),
            ("cat <<-\"EOF\"\n\tM\n\tEOF", |v| format!("{v}\n")),
            ("cat <<EOF\n$(printf %s M)\nEOF", |v| {
                format!("{}\n", v.trim_end_matches('\n'))
            }),
            ("printf %s \"'M'\"", |v| format!("'{v}'")),
            ("# M\nprintf ok", |_| "ok".to_string()),
        ];
        for v in HOSTILE {
            for (template, expect) in contexts {
                let with_markers = template.replace('M', &marker(0));
                let result = splice(&with_markers, &[v.to_string()]);
                if template.starts_with('#') && v.contains('\n') {
                    assert!(result.is_err(), "{template} with {v:?}");
                    continue;
                }
                let script = result.unwrap_or_else(|e| panic!("{template} with {v:?}: {e:?}"));
                assert_eq!(sh(&script), expect(v), "{template} with {v:?}: {script}");
            }
        }
    }

    #[test]
    fn contexts_with_no_safe_escape_are_refused() {
        for (template, why) in [
            ("echo `echo M`", "backticks"),
            ("echo \"`echo M`\"", "backticks"),
            ("echo ${X:-M}", "${"),
            ("echo \"${X:-M}\"", "${"),
            ("echo $'M'", "$'"),
            ("echo \\M", "backslash"),
            ("echo \"\\M\"", "backslash"),
            ("echo $M", "`$`"),
            ("echo \"$M\"", "`$`"),
            ("cat <<M\nx\nM", "delimiter"),
            ("echo 'unclosed M", "never closed"),
            ("echo \"unclosed M", "never closed"),
            ("echo $(echo M", "never closed"),
        ] {
            let err =
                splice(&template.replace('M', &marker(0)), &["v".into()]).expect_err(template);
            assert!(err.why.contains(why), "{template}: {err:?}");
        }
    }

    #[test]
    fn value_checks_in_narrow_contexts() {
        let m = marker(0);
        assert_eq!(
            splice(&format!("echo $(({m} + 1))"), &["41".into()]).unwrap(),
            "echo $((41 + 1))"
        );
        assert!(splice(&format!("echo $(({m} + 1))"), &["a[$(id)]".into()]).is_err());
        let e = splice(&format!("cat <<EOF\n{m}\nEOF"), &["x\nEOF\nid".into()]).unwrap_err();
        assert!(e.why.contains("`EOF`"), "{e:?}");
        assert!(splice(&format!("echo {m}"), &["a\0b".into()]).is_err());
    }

    #[test]
    fn case_inside_command_substitution_keeps_its_parentheses() {
        let m = marker(0);
        let script =
            format!("r=\"$(case x in x) printf %s {m};; esac)\"; printf %s \"$r\" \"{m}\"");
        let out = splice(&script, &["a'b\"c".into()]).unwrap();
        assert_eq!(sh(&out), "a'b\"ca'b\"c");
    }

    #[test]
    fn quoting_forms_cover_what_splice_writes() {
        let v = "dq\"bs\\-it's";
        let f = forms(v);
        for ctx in [Context::Word, Context::Double, Context::Single] {
            let written = escape(v, &ctx).unwrap();
            assert!(
                f.iter().any(|form| written.contains(form.as_str())),
                "{written} {f:?}"
            );
        }
    }
}
