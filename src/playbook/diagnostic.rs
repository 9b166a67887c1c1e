//! Compiler-style errors that point at the playbook line.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::locate;

/// A playbook's text and the name it is shown under.
#[derive(Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    pub fn new(path: &Path, text: String) -> Arc<Self> {
        Arc::new(Source {
            path: path.to_path_buf(),
            text,
        })
    }

    /// 1-based line and column of a byte offset.
    fn line_col(&self, index: usize) -> (usize, usize) {
        let index = index.min(self.text.len());
        let before = &self.text[..index];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub line: usize,
    pub col: usize,
    pub len: usize,
}

/// An error in a playbook (or in how it was invoked): exit 64, or UNKNOWN for `tend check`.
#[derive(Debug)]
pub struct Diagnostic {
    pub message: String,
    pub source: Option<Arc<Source>>,
    pub span: Option<Span>,
    pub hints: Vec<String>,
    /// The variables a template needed and nobody defined: `tend validate` supplies stand-ins
    /// for them and goes on, for a playbook whose values are given at run time.
    pub missing: Vec<String>,
}

impl std::error::Error for Diagnostic {}

impl Diagnostic {
    /// A message, its hint split off when it carries one (`with_hint`).
    pub fn new(message: impl Into<String>) -> Self {
        split_hints(Diagnostic {
            message: message.into(),
            source: None,
            span: None,
            hints: vec![],
            missing: vec![],
        })
    }

    pub fn in_file(source: &Arc<Source>, message: impl Into<String>) -> Self {
        Diagnostic {
            source: Some(source.clone()),
            ..Diagnostic::new(message)
        }
    }

    /// An error about the value at `path` (e.g. `checks[2].disk.warn`), located in the source.
    pub fn at_path(source: &Arc<Source>, path: &str, message: impl Into<String>) -> Self {
        Self::at_index(source, locate::path(&source.text, path), message)
    }

    /// `at_path`, or where the nearest enclosing value is when the key itself is not written
    /// (`run:` of an action given as a bare string).
    pub fn near_path(source: &Arc<Source>, path: &str, message: impl Into<String>) -> Self {
        let mut at = path;
        let mut found = locate::path(&source.text, at);
        while found.is_none()
            && let Some(cut) = at.rfind(['.', '['])
        {
            at = &at[..cut];
            found = locate::path(&source.text, at);
        }
        Self::at_index(source, found, message)
    }

    /// An error about the whole document, shown where it starts: its first line that is not
    /// blank or a comment (line 1 when there is none), so every error has a line and column.
    pub fn at_start(source: &Arc<Source>, message: impl Into<String>) -> Self {
        let line = source
            .text
            .lines()
            .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map_or(1, |i| i + 1);
        let col = source.text.lines().nth(line - 1).map_or(1, |l| {
            l.chars().take_while(|c| c.is_whitespace()).count() + 1
        });
        Self::at_line_col(source, line, col, message)
    }

    /// An error at a byte offset of the source.
    pub fn at_offset(source: &Arc<Source>, index: usize, message: impl Into<String>) -> Self {
        Self::at_index(source, Some(index), message)
    }

    fn at_index(source: &Arc<Source>, found: Option<usize>, message: impl Into<String>) -> Self {
        let span = found.map(|index| {
            let (line, col) = source.line_col(index);
            Span {
                line,
                col,
                len: token_len(source, line, col),
            }
        });
        Diagnostic {
            span,
            ..Diagnostic::in_file(source, message)
        }
    }

    pub fn at_line_col(
        source: &Arc<Source>,
        line: usize,
        col: usize,
        message: impl Into<String>,
    ) -> Self {
        // The parser places "unexpected end" past the last line: show it after the last
        // character, where the text would have to go on.
        let lines = source.text.lines().count();
        let (line, col) = match source.text.lines().last() {
            Some(last) if line > lines => (lines, last.chars().count() + 1),
            _ => (line.max(1), col.max(1)),
        };
        let len = token_len(source, line, col);
        Diagnostic {
            span: Some(Span { line, col, len }),
            ..Diagnostic::in_file(source, message)
        }
    }

    /// Move the caret from the start of a templated value to its `n`th `{{ ... }}` (counted in
    /// `template`, the value as written), when it can be found on the lines that follow.
    pub fn point_at_placeholder(&mut self, template: &str, n: usize) {
        let placeholders: Vec<&str> = template
            .match_indices("{{")
            .filter_map(|(i, _)| {
                let end = template[i..].find("}}")?;
                Some(&template[i..i + end + 2])
            })
            .collect();
        let (Some(want), Some(source), Some(span)) =
            (placeholders.get(n), self.source.as_ref(), self.span)
        else {
            return;
        };
        // The same text may come earlier in the value: find the same occurrence in the file.
        let nth_same = placeholders[..n].iter().filter(|p| *p == want).count();
        let start: usize = source
            .text
            .split_inclusive('\n')
            .take(span.line - 1)
            .map(str::len)
            .sum::<usize>()
            + source.text.lines().nth(span.line - 1).map_or(0, |l| {
                l.chars().take(span.col - 1).map(char::len_utf8).sum()
            });
        if let Some((at, _)) = source.text[start.min(source.text.len())..]
            .match_indices(want)
            .nth(nth_same)
        {
            let (line, col) = source.line_col(start + at);
            self.span = Some(Span {
                line,
                col,
                len: want.chars().count(),
            });
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn location(&self) -> Option<String> {
        let source = self.source.as_ref()?;
        Some(match self.span {
            Some(s) => format!("{}:{}:{}", source.path.display(), s.line, s.col),
            None => source.path.display().to_string(),
        })
    }

    /// The full rendering: message, location, the source line with a caret, hints.
    pub fn render(&self, color: bool) -> String {
        let (red, blue, bold, reset) = if color {
            ("\x1b[1;31m", "\x1b[1;34m", "\x1b[1m", "\x1b[0m")
        } else {
            ("", "", "", "")
        };
        let mut out = format!(
            "{red}error{reset}{bold}: {}{reset}\n",
            crate::report::printable(&crate::redact::redact(&self.message))
        );
        let gutter = self.span.map_or(1, |s| s.line.to_string().len());
        let pad = " ".repeat(gutter);
        if let Some(location) = self.location() {
            let location = crate::report::printable(&location);
            out += &format!("{pad}{blue}-->{reset} {location}\n");
        }
        if let (Some(source), Some(span)) = (&self.source, self.span)
            && let Some(text) = source.text.lines().nth(span.line - 1)
        {
            let (text, col, len) = excerpt(text, span.col, span.len);
            let lead: String = text
                .chars()
                .take(col - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out += &format!("{pad} {blue}|{reset}\n");
            out += &format!("{blue}{}{reset} {blue}|{reset} {text}\n", span.line);
            out += &format!(
                "{pad} {blue}|{reset} {lead}{red}{}{reset}\n",
                "^".repeat(len.max(1))
            );
        }
        for hint in &self.hints {
            let hint = crate::redact::redact(hint);
            let hint = crate::report::printable(&hint);
            out += &format!("{pad} {blue}={reset} {bold}hint{reset}: {hint}\n");
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    /// One line, for journals and JSON output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = self.location() {
            write!(f, "{location}: ")?;
        }
        write!(f, "{}", crate::redact::redact(&self.message))?;
        for hint in &self.hints {
            write!(f, " (hint: {})", crate::redact::redact(hint))?;
        }
        Ok(())
    }
}

/// At most `WIDTH` characters of a long line, around the column shown (a generated playbook can
/// hold its whole content on one line), with the column and length moved to match.
fn excerpt(text: &str, col: usize, len: usize) -> (String, usize, usize) {
    const WIDTH: usize = 100;
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= WIDTH {
        return (text.to_string(), col, len);
    }
    let start = col.saturating_sub(1 + WIDTH / 3).min(chars.len() - WIDTH);
    let end = start + WIDTH;
    let mut shown: String = chars[start..end].iter().collect();
    let mut col = col - start;
    if start > 0 {
        shown.insert(0, '…');
        col += 1;
    }
    if end < chars.len() {
        shown.push('…');
    }
    let len = len.min((WIDTH + 2).saturating_sub(col)).max(1);
    (shown, col, len)
}

/// Length of the YAML token starting at line:col, so the caret underlines all of it.
fn token_len(source: &Source, line: usize, col: usize) -> usize {
    let Some(text) = source.text.lines().nth(line.saturating_sub(1)) else {
        return 1;
    };
    let rest: String = text.chars().skip(col.saturating_sub(1)).collect();
    let rest = rest.trim_end();
    let len = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => rest[1..].find(q).map_or(rest.len(), |end| end + 2),
        Some('{' | '[') => 1,
        _ => rest.find([':', ',', '}', ']', '#']).unwrap_or(rest.len()),
    };
    rest[..len].trim_end().chars().count().max(1)
}

/// Turn a serde_yaml error into a diagnostic with a human message and a hint.
pub fn from_yaml(source: &Arc<Source>, err: &serde_yaml::Error) -> Diagnostic {
    let text = err.to_string();
    // serde_yaml renders "PATH: MESSAGE at line L column C"; it is frozen (deprecated), so this
    // shape is stable, and it is the only way to get at the path.
    let text = match text.rfind(" at line ") {
        Some(i) if err.location().is_some() => &text[..i],
        _ => &text[..],
    };
    let (path, message) = split_path(text);
    let mut diag = match err.location() {
        // By its byte index: YAML's line count also breaks at a lone CR (and NEL, U+2028),
        // which would put the caret lines away from the text it is about.
        Some(loc) => {
            let mut index = loc.index().min(source.text.len());
            while !source.text.is_char_boundary(index) {
                index -= 1;
            }
            let (line, col) = source.line_col(index);
            Diagnostic::at_line_col(source, line, col, "")
        }
        None => Diagnostic::at_start(source, ""),
    };

    // Our own validation errors carry a relative path to the offending key: "\u{1}warn\u{1}msg".
    if let Some(rest) = message.strip_prefix('\u{1}')
        && let Some((rel, msg)) = rest.split_once('\u{1}')
    {
        return at_own_key(source, path, rel, msg, diag.span);
    }
    diag.message = message.to_string();
    let within = if path.is_empty() {
        String::new()
    } else {
        format!(" in {path}")
    };

    let duplicate = message
        .strip_prefix("duplicate field `")
        .and_then(|r| r.strip_suffix('`'))
        .or_else(|| {
            message
                .strip_prefix("duplicate entry with key \"")
                .and_then(|r| r.strip_suffix('"'))
        });
    if let Some(key) = duplicate {
        let mut d = match locate::again(&source.text, path, key) {
            Some(at) => Diagnostic::at_offset(source, at, ""),
            None => diag,
        };
        d.message = format!("key '{key}' is written twice{within}");
        return d
            .hint("keep one of them: YAML does not say which would win, so tend refuses to guess");
    }
    if message.starts_with("repetition limit exceeded") {
        let mut d = match super::depth::first_alias(&source.text) {
            Some(at) => Diagnostic::at_offset(source, at, ""),
            None => diag,
        };
        d.message = "these aliases expand to too many values".into();
        return d.hint("each `*name` copies its anchor's whole value; write the values out, or nest fewer aliases");
    }
    if let Some((name, expected)) = parse_unknown(message, "unknown field `") {
        diag.message = format!("unknown key '{name}'{within}");
        return suggest(diag, &name, &expected, "allowed keys");
    }
    if let Some((name, expected)) = parse_unknown(message, "unknown variant `") {
        diag.message = format!("unknown kind '{name}'{within}");
        return suggest(diag, &name, &expected, "expected one of");
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        diag.message = format!("missing key '{field}'{within}");
        return diag.hint(format!("add `{field}:` here"));
    }
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        let found = found.split(" as ").next().unwrap_or(found);
        diag.message = format!("expected {}{within}, found {found}", plain_type(expected));
        if expected.contains("struct") && path.is_empty() {
            diag.message = format!("expected a mapping at the top of the playbook, found {found}");
            diag = diag.hint("a playbook is a mapping that starts with `kind: ...`");
        }
        return diag;
    }
    if let Some(rest) = message.strip_prefix("invalid value: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        diag.message = format!(
            "{found} is out of range{within}: expected {}",
            plain_type(expected)
        );
        return diag;
    }
    let mut diag = split_hints(diag);
    if !within.is_empty() {
        diag.message = format!("{} (in {path})", diag.message);
    }
    diag
}

/// One of tend's own validation errors, at the key `rel` below `path` (or where serde_yaml
/// stopped, `near`, when the key is not found).
fn at_own_key(
    source: &Arc<Source>,
    path: &str,
    rel: &str,
    msg: &str,
    near: Option<Span>,
) -> Diagnostic {
    let full = if path.is_empty() {
        rel.to_string()
    } else {
        format!("{path}.{rel}")
    };
    let mut d = Diagnostic::at_path(source, &full, msg);
    if d.span.is_none() {
        // serde_yaml's path stops at the list item when a custom visitor reads its keys.
        d.span = locate::key_below(&source.text, path, rel.rsplit('.').next().unwrap_or(rel))
            .map(|index| {
                let (line, col) = source.line_col(index);
                Span {
                    line,
                    col,
                    len: token_len(source, line, col),
                }
            })
            .or(near);
    }
    split_hints(d)
}

/// Custom messages may carry a hint after "\u{2}".
fn split_hints(mut d: Diagnostic) -> Diagnostic {
    if let Some((msg, hint)) = d.message.split_once('\u{2}') {
        let (msg, hint) = (msg.to_string(), hint.to_string());
        d.message = msg;
        d.hints.push(hint);
    }
    d
}

/// Build a validation error that `from_yaml` relocates to `key` inside the current mapping.
pub fn at_key(key: &str, message: impl fmt::Display) -> Invalid {
    Invalid(format!("\u{1}{key}\u{1}{message}"))
}

/// Attach a hint to a validation error message.
pub fn with_hint(message: impl fmt::Display, hint: impl fmt::Display) -> Invalid {
    Invalid(format!("{message}\u{2}{hint}"))
}

fn split_path(text: &str) -> (&str, &str) {
    if let Some((path, rest)) = text.split_once(": ")
        && !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_alphanumeric() || "_-[].".contains(c))
    {
        return (path, rest);
    }
    ("", text)
}

fn parse_unknown(message: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix(prefix)?;
    let (name, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((name.to_string(), expected))
}

fn suggest(diag: Diagnostic, name: &str, expected: &[String], label: &str) -> Diagnostic {
    match did_you_mean(name, expected.iter().map(String::as_str)) {
        Some(best) => diag.hint(format!("did you mean '{best}'?")),
        None if expected.is_empty() => diag.hint("no keys are allowed here"),
        None => diag.hint(format!("{label}: {}", expected.join(", "))),
    }
}

pub fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn plain_type(expected: &str) -> String {
    let t = expected.trim();
    match t {
        "u8" | "u16" | "u32" | "u64" | "usize" => format!("a whole number from 0 to {}", max_of(t)),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" | "a string" | "a sequence" | "a map" => {
            t.replace("sequence", "list").replace("map", "mapping")
        }
        _ if t.starts_with("struct ") || t.starts_with("a map") => "a mapping".into(),
        _ => t.to_string(),
    }
}

fn max_of(t: &str) -> u64 {
    match t {
        "u8" => u8::MAX.into(),
        "u16" => u16::MAX.into(),
        "u32" => u32::MAX.into(),
        _ => u64::MAX,
    }
}

crate::reason::reason! {
    /// Why a value is not one its key takes; a diagnostic pointing at the value says it.
    pub struct Invalid;
}
