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
pub mod promql;
pub mod url;

pub use context::Context;

/// Characters that need no quoting anywhere in a word (`=` and `~` do: `a=b` as a first word
/// is an assignment and a leading `~` expands).
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_@%+:,./-".contains(c)
}

/// A value as one word where no quotes are open: as it is when that is safe, else in single
/// quotes (a `'` inside written as `'\''`).
/// Words the shell reads as its own where a command or a `case` pattern starts.
const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for",
    "in", "function", "select", "time",
];

pub fn word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(plain) && !RESERVED.contains(&s) {
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

/// The marker that starts at `at` in `text`: where it ends (just past its close) and its
/// value, or why it is not one.
fn marked<'v>(
    text: &str,
    at: usize,
    values: &'v [String],
) -> Result<(usize, usize, &'v str), Refused> {
    let refused = |index, why: &str| Refused {
        index,
        why: why.into(),
        hint: String::new(),
    };
    let close = text[at..]
        .find(CLOSE)
        .map(|c| at + c)
        .ok_or_else(|| refused(None, "an unclosed value marker"))?;
    let index: usize = text[at + OPEN.len_utf8()..close]
        .parse()
        .map_err(|_| refused(None, "a value marker with no index"))?;
    let value = values
        .get(index)
        .ok_or_else(|| refused(Some(index), "a value marker with no value"))?;
    Ok((close + CLOSE.len_utf8(), index, value))
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
    let scanned = context::scan(script)?;
    let mut out =
        String::with_capacity(script.len() + values.iter().map(String::len).sum::<usize>());
    let mut last = 0;
    // Where each marker ended in the script, and how far the output has moved from it: to find
    // a here-document's body in the output.
    let mut shifts: Vec<(usize, isize)> = vec![];
    for m in &scanned.found {
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
        shifts.push((m.end, out.len() as isize - m.end as isize));
    }
    out.push_str(&script[last..]);
    let moved = |at: usize| {
        let shift = shifts
            .iter()
            .take_while(|(end, _)| *end <= at)
            .last()
            .map_or(0, |(_, s)| *s);
        (at as isize + shift) as usize
    };
    // Values side by side, or beside text, can make a line that ends the document early (and
    // run what follows): no line of a body that holds values may be its delimiter.
    for b in &scanned.bodies {
        let body = &out[moved(b.start)..moved(b.end)];
        let hit = body.split('\n').any(|l| {
            (if b.strip_tabs {
                l.trim_start_matches('\t')
            } else {
                l
            }) == b.delim
        });
        if hit {
            return Err(Refused {
                index: scanned.found.get(b.index).map(|m| m.index),
                why: format!(
                    "with its values in, the here-document has a line `{}`, which would end it early and run what follows",
                    b.delim
                ),
                hint: "choose a delimiter no value can make, like <<'TEND_EOF'".into(),
            });
        }
    }
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
            if *strip_tabs && value.split('\n').any(|l| l.starts_with('\t')) {
                return Err((
                    "a line of the value starts with a tab, which <<- strips".into(),
                    "use <<EOF (without the -) to keep the value as it is".into(),
                ));
            }
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
    fn values_that_together_end_a_here_document_are_refused() {
        let (a, b) = (marker(0), marker(1));
        for (script, values) in [
            (format!("cat <<'EOF'\n{a}{b}\nEOF"), ["x\nEO", "F\nid"]),
            (format!("cat <<EOF\nEO{a}\nEOF"), ["F\nid", ""]),
            (format!("cat <<'EOF'\nEOF{a}\nEOF"), ["\nid", ""]),
        ] {
            let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            let e = splice(&script, &values).expect_err(&script);
            assert!(e.why.contains("has a line `EOF`"), "{script}: {e:?}");
        }
        let ok = splice(
            &format!("cat <<'EOF'\n{a}{b}\nEOF"),
            &["x".into(), "y".into()],
        );
        assert_eq!(ok.unwrap(), "cat <<'EOF'\nxy\nEOF");
        let e = splice(&format!("cat <<-EOF\n{a}\nEOF"), &["a\n\tb".into()]).unwrap_err();
        assert!(e.why.contains("tab"), "{e:?}");
    }

    #[test]
    fn a_value_read_again_by_a_second_shell_is_refused() {
        let m = marker(0);
        for script in [
            format!("sh -c 'echo {m}'"),
            format!("sudo bash -ec \"echo {m}\""),
            format!("find . -exec sh -c 'echo {m}' \\;"),
            format!("eval \"echo {m}\""),
            format!("ssh -p 22 host echo {m}"),
            format!("printf '%s' {m} | sh"),
            format!("sh <<EOF\necho {m}\nEOF"),
            format!("su - app -c \"echo {m}\""),
            format!("x=\"$(sh -c 'echo {m}')\""),
        ] {
            assert!(splice(&script, &["v".into()]).is_err(), "{script}");
        }
        // As an argument after the script, a value stays data.
        for script in [
            format!("sh -c 'echo \"$1\"' sh {m}"),
            format!("ssh -i {m} host true"),
            format!("printf '%s' {m} | cat"),
        ] {
            let out = splice(&script, &["v".into()]);
            assert!(out.is_ok(), "{script}: {out:?}");
        }
        assert_eq!(
            sh(&splice(
                &format!("sh -c 'printf %s \"$1\"' sh {m}"),
                &["$(id)".into()]
            )
            .unwrap()),
            "$(id)"
        );
    }

    #[test]
    fn expansions_next_to_a_value() {
        let m = marker(0);
        let e = splice(&format!("printf %s $HOME{m}"), &["x".into()]).unwrap_err();
        assert!(e.why.contains("$NAME"), "{e:?}");
        assert!(splice(&format!("printf %s \"$HOME{m}\""), &["x".into()]).is_err());
        assert_eq!(
            sh(&splice(&format!("printf %s ${{HOME}}{m}"), &["/x".into()]).unwrap()),
            format!("{}/x", std::env::var("HOME").unwrap())
        );
        let pid = splice(&format!("printf %s $${m}"), &["x".into()]).unwrap();
        assert!(sh(&pid).ends_with('x'), "{pid}");
        let e = splice("echo $'it\\'s' M".replace('M', &m).as_str(), &["v".into()]).unwrap_err();
        assert!(e.why.contains("$'"), "{e:?}");
        // A reserved word is quoted like any other word.
        let case = format!("case esac in {m}) printf ok;; esac");
        assert_eq!(sh(&splice(&case, &["esac".into()]).unwrap()), "ok");
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
