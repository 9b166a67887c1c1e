//! Reading a command the way `sh` reads it, far enough to know the quoting context of each value
//! marker: which quotes are open, whether it sits in a command substitution, a here-document,
//! a comment or an arithmetic expansion, and whether the word it is in is read again as shell
//! code by a second shell (`sh -c '...'`, `eval`, `ssh host '...'`, a here-document or a pipe
//! into `sh`). The markers stand in for the values, so no value can steer this reading; only the
//! playbook's own text does.

use super::{CLOSE, OPEN, Refused};

/// The quoting context of one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// Where no quotes are open (at the top, or inside `$(...)`).
    Word,
    Double,
    Single,
    Heredoc {
        delim: String,
        /// `<<'EOF'`: the body is literal.
        quoted: bool,
        /// `<<-EOF`: leading tabs are stripped from each line.
        strip_tabs: bool,
    },
    Comment,
    Arithmetic,
    /// No escaping is safe here.
    Refused {
        why: String,
        hint: String,
    },
}

/// A value marker: which value, where the marker is in the text, and its context.
pub struct Found {
    pub index: usize,
    pub start: usize,
    pub end: usize,
    pub context: Context,
}

/// A here-document's body that holds values: once they are in, no line of it but the last may
/// be its delimiter (values next to each other, or next to text, can make one).
pub struct Body {
    /// Byte offsets in the marked text: the body's first byte, and the start of the line that
    /// ends it (or the end of the text).
    pub start: usize,
    pub end: usize,
    pub delim: String,
    pub strip_tabs: bool,
    /// A marker inside it, to name in the refusal.
    pub index: usize,
}

pub struct Scanned {
    pub found: Vec<Found>,
    pub bodies: Vec<Body>,
}

#[derive(Debug)]
enum Frame {
    /// Shell code: the command itself (`subst: false`) or the inside of `$(...)`, `<(...)`.
    Code {
        subst: bool,
        parens: usize,
        /// `case` statements open here: their `pat)` does not close a `$(`.
        cases: usize,
        /// The words of the simple command being read, and its markers (by index into found).
        words: Vec<String>,
        markers: Vec<usize>,
        /// Markers of the command before a `|`: the next command may be a shell reading them.
        piped: Vec<usize>,
        /// The command being read follows a `|`: a here-document before it feeds it.
        after_pipe: bool,
    },
    Double,
    Single,
    Backtick,
    Param {
        braces: usize,
    },
    Arith {
        parens: usize,
    },
    Comment,
    Heredoc {
        delim: String,
        quoted: bool,
        strip_tabs: bool,
        line_start: bool,
        /// Fed to a shell (`sh <<EOF`): its body is code.
        code: bool,
        start: usize,
        /// The first marker in it.
        marker: Option<usize>,
    },
}

fn code_frame(subst: bool) -> Frame {
    Frame::Code {
        subst,
        parens: 0,
        cases: 0,
        words: vec![],
        markers: vec![],
        piped: vec![],
        after_pipe: false,
    }
}

fn refused(why: &str, hint: &str) -> Context {
    Context::Refused {
        why: why.to_string(),
        hint: hint.to_string(),
    }
}

/// Programs that read an argument, or their input, as shell code.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish"];
/// Programs whose `-c` argument is a command line for a shell.
const DASH_C: &[&str] = &["su", "runuser", "flock", "script"];
/// Programs that join their arguments into a command line for a shell (`watch`, `sg group
/// cmd`, GNU `parallel`, tmux's shell-command) or keep one to run later (`trap`).
const JOINS: &[&str] = &["watch", "sg", "parallel", "tmux", "screen", "trap"];
/// Programs that read their input as shell code, besides the shells themselves.
const READ_STDIN: &[&str] = &["ssh", "at", "batch"];
/// Words that start a command without being it.
const KEYWORDS: &[&str] = &[
    "then", "do", "else", "elif", "if", "while", "until", "!", "{", "time",
];

fn base(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// A `-c` option, alone or with others (`-ec`, `-lc`).
fn dash_c(word: &str) -> bool {
    word.starts_with('-')
        && !word.starts_with("--")
        && word.len() > 1
        && word[1..].chars().all(|c| c.is_ascii_alphabetic())
        && word.contains('c')
}

/// Why the word at `k` of a command (`words` before it) is read again as shell code, if it is.
fn reread(words: &[String], k: usize) -> Option<(&'static str, &'static str)> {
    const ARG: &str = "pass the value as an argument instead, where it stays data: sh -c '... \"$1\" ...' sh {{ value }}; or use `| raw` if it is shell code you trust";
    if words.iter().any(|w| w == "eval") {
        return Some((
            "the placeholder is in what `eval` runs: the shell reads the value again, as code",
            ARG,
        ));
    }
    for (i, w) in words.iter().enumerate() {
        let b = base(w);
        if JOINS.contains(&b) && k > i {
            return Some((
                "the placeholder is in a command line this program hands to a shell (or, for `trap`, keeps for the shell to run later): the value would be read again, as code",
                "put the code in a script and pass the value as its argument, or use `| raw` if it is shell code you trust",
            ));
        }
        // `$SHELL -c '...'`, `"sh" -c '...'`: a command name tend cannot read may be a shell.
        let unknown = w.contains('\u{0}') && i == 0;
        if (SHELLS.contains(&b) || DASH_C.contains(&b) || unknown)
            && let Some(j) = (i + 1..words.len()).find(|&j| dash_c(&words[j]))
            && k == j + 1
        {
            return Some((
                "the placeholder is in the script of a `-c` option: that shell reads the value again, as code",
                ARG,
            ));
        }
        if b == "ssh" {
            // Options that take a value, then the destination; what follows is a command line
            // for the remote shell.
            let mut j = i + 1;
            while let Some(o) = words.get(j).filter(|o| o.starts_with('-')) {
                let takes = o.len() == 2 && "BbcDEeFIiJLlmOoPpQRSWw".contains(&o[1..]);
                j += if takes { 2 } else { 1 };
            }
            if k > j {
                return Some((
                    "the placeholder is in the command ssh sends to the remote host, whose shell reads the value again, as code",
                    "put a script on the host and pass the value as its argument, or use `| raw` if it is shell code you trust",
                ));
            }
        }
    }
    None
}

/// The command reads its input as shell code (`sh`, `bash -s`, `ssh host`).
fn reads_code(words: &[String]) -> bool {
    words.iter().enumerate().any(|(i, w)| {
        let b = base(w);
        (SHELLS.contains(&b) && !words[i + 1..].iter().any(|o| dash_c(o)))
            || READ_STDIN.contains(&b)
    })
}

struct Scanner<'a> {
    text: &'a str,
    chars: Vec<(usize, char)>,
    i: usize,
    stack: Vec<Frame>,
    found: Vec<Found>,
    bodies: Vec<Body>,
    /// The marker that follows was escaped by a `\`, follows a `$`, or follows `$NAME`.
    after_backslash: bool,
    after_dollar: bool,
    after_name: bool,
    word_start: bool,
    /// The word being read in the innermost code frame: its literal characters, `\0` for any
    /// quoted or expanded part.
    word: String,
    pending: Vec<(String, bool, bool, bool)>,
    error: Option<Refused>,
}

pub fn scan(text: &str) -> Result<Scanned, Refused> {
    let mut s = Scanner {
        text,
        chars: text.char_indices().collect(),
        i: 0,
        stack: vec![code_frame(false)],
        found: vec![],
        bodies: vec![],
        after_backslash: false,
        after_dollar: false,
        after_name: false,
        word_start: true,
        word: String::new(),
        pending: vec![],
        error: None,
    };
    s.run()?;
    Ok(Scanned {
        found: s.found,
        bodies: s.bodies,
    })
}

impl Scanner<'_> {
    fn at(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).map(|&(_, c)| c)
    }

    fn offset(&self, i: usize) -> usize {
        self.chars.get(i).map_or(self.text.len(), |&(o, _)| o)
    }

    fn run(&mut self) -> Result<(), Refused> {
        while self.i < self.chars.len() {
            if let Some(e) = self.error.take() {
                return Err(e);
            }
            let c = self.chars[self.i].1;
            if c == OPEN {
                self.marker();
                continue;
            }
            match self.stack.last() {
                Some(Frame::Code { .. }) => self.code(c),
                Some(Frame::Double) => self.double(c),
                Some(Frame::Single) => {
                    if c == '\'' {
                        self.stack.pop();
                    }
                    self.i += 1;
                }
                Some(Frame::Backtick) => match c {
                    '\\' => self.i += 2,
                    '`' => {
                        self.stack.pop();
                        self.i += 1;
                    }
                    _ => self.i += 1,
                },
                Some(Frame::Param { .. }) => self.param(c),
                Some(Frame::Arith { .. }) => self.arith(c),
                Some(Frame::Comment) => {
                    if c == '\n' {
                        self.stack.pop();
                    } else {
                        self.i += 1;
                    }
                }
                Some(Frame::Heredoc { .. }) => self.heredoc(c),
                None => self.i += 1,
            }
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.end_word();
        self.end_command(false);
        // A here-document may run to the end of the command, as in sh; anything else left
        // open means the command cannot be read as sh would.
        while let Some(f) = self.stack.pop() {
            let open = match f {
                Frame::Heredoc {
                    delim,
                    strip_tabs,
                    start,
                    marker: Some(index),
                    ..
                } => {
                    self.bodies.push(Body {
                        start,
                        end: self.text.len(),
                        delim,
                        strip_tabs,
                        index,
                    });
                    continue;
                }
                Frame::Code { subst: false, .. } | Frame::Heredoc { .. } | Frame::Comment => {
                    continue;
                }
                Frame::Code { .. } => "a `$(` is never closed",
                Frame::Double => "a `\"` is never closed",
                Frame::Single => "a `'` is never closed",
                Frame::Backtick => "a backtick is never closed",
                Frame::Param { .. } => "a `${` is never closed",
                Frame::Arith { .. } => "a `$((` is never closed",
            };
            return Err(Refused {
                index: None,
                why: format!("the command's quoting is unbalanced: {open}"),
                hint: "tend reads the command as sh does to quote each value for where it sits; close the quote".into(),
            });
        }
        Ok(())
    }

    /// A marker: its value's index, and the context it is in.
    fn marker(&mut self) {
        let start = self.i;
        let mut j = self.i + 1;
        let mut index = 0usize;
        while let Some(&(_, c)) = self.chars.get(j) {
            j += 1;
            match c.to_digit(10) {
                Some(d) => index = index.saturating_mul(10).saturating_add(d as usize),
                None => break,
            }
        }
        let context = self.context();
        let n = self.found.len();
        self.found.push(Found {
            index,
            start: self.offset(start),
            end: self.offset(j),
            context,
        });
        for f in &mut self.stack {
            match f {
                Frame::Code { markers, .. } => markers.push(n),
                Frame::Heredoc { marker, .. } => {
                    marker.get_or_insert(n);
                }
                _ => {}
            }
        }
        self.after_backslash = false;
        self.after_dollar = false;
        self.after_name = false;
        self.word_start = false;
        // A line that starts with a value is never the here-document's delimiter.
        if let Some(Frame::Heredoc { line_start, .. }) = self.stack.last_mut() {
            *line_start = false;
        }
        self.word.push('\u{0}');
        self.i = j;
        debug_assert!(self.chars.get(j - 1).is_some_and(|&(_, c)| c == CLOSE));
    }

    fn context(&self) -> Context {
        for f in &self.stack {
            match f {
                Frame::Backtick => {
                    return refused(
                        "the placeholder is inside backticks, where no quoting of a value is safe",
                        "use $(...) instead of backticks: tend quotes values inside it",
                    );
                }
                Frame::Param { .. } => {
                    return refused(
                        "the placeholder is inside ${...}, where quoting works differently in each shell",
                        "set a variable first: v={{ value }}; then use \"${x:-$v}\"",
                    );
                }
                Frame::Heredoc { code: true, .. } => {
                    return refused(
                        "the placeholder is in a here-document fed to a shell, which reads the value as code",
                        "pass the value as an argument (sh -s -- {{ value }} <<'EOF' ... \"$1\" ...), or use `| raw` if it is shell code you trust",
                    );
                }
                Frame::Code { words, .. } => {
                    if let Some((why, hint)) = reread(words, words.len()) {
                        return refused(why, hint);
                    }
                }
                _ => {}
            }
        }
        if self.after_backslash {
            return refused(
                "the placeholder follows a backslash, which would escape the first character of the quoted value",
                "remove the backslash: tend quotes the value itself",
            );
        }
        if self.after_dollar {
            return refused(
                "the placeholder follows a `$`, which would make the value an expansion",
                "remove the `$`: tend quotes the value itself",
            );
        }
        if self.after_name {
            return refused(
                "the placeholder follows $NAME, and the value would become part of the variable's name",
                "write ${NAME}{{ value }}",
            );
        }
        match self.stack.last() {
            Some(Frame::Double) => Context::Double,
            Some(Frame::Single) => Context::Single,
            Some(Frame::Comment) => Context::Comment,
            Some(Frame::Arith { .. }) => Context::Arithmetic,
            Some(Frame::Heredoc {
                delim,
                quoted,
                strip_tabs,
                ..
            }) => Context::Heredoc {
                delim: delim.clone(),
                quoted: *quoted,
                strip_tabs: *strip_tabs,
            },
            _ => Context::Word,
        }
    }

    /// `\`, `$` and `` ` ``, as they work in code, inside "..." and in a here-document body.
    fn expansion(&mut self, c: char) {
        match c {
            '\\' => {
                if self.at(1) == Some(OPEN) {
                    self.after_backslash = true;
                    self.i += 1;
                } else {
                    self.i += 2;
                }
            }
            '`' => {
                self.stack.push(Frame::Backtick);
                self.i += 1;
            }
            '$' => match (self.at(1), self.at(2)) {
                (Some('('), Some('(')) => {
                    self.stack.push(Frame::Arith { parens: 0 });
                    self.i += 3;
                }
                (Some('('), _) => {
                    self.stack.push(code_frame(true));
                    self.word_start = true;
                    self.word.clear();
                    self.i += 2;
                }
                (Some('{'), _) => {
                    self.stack.push(Frame::Param { braces: 0 });
                    self.i += 2;
                }
                (Some(OPEN), _) => {
                    self.after_dollar = true;
                    self.i += 1;
                }
                // A special parameter: `$$`, `$?`, `$1`...
                (Some(s), _) if "$?!#@*-0123456789".contains(s) => self.i += 2,
                // `$NAME`: a value right after it would extend the name.
                (Some(s), _) if s.is_ascii_alphabetic() || s == '_' => {
                    self.i += 1;
                    while self
                        .at(0)
                        .is_some_and(|n| n.is_ascii_alphanumeric() || n == '_')
                    {
                        self.i += 1;
                    }
                    self.after_name = self.at(0) == Some(OPEN);
                }
                _ => self.i += 1,
            },
            _ => {}
        }
    }

    /// One character of shell code (outside any quote). Long on purpose: a match over the
    /// characters that open a quoting context, one arm each, as the shell grammar lists them.
    fn code(&mut self, c: char) {
        match c {
            '\'' => {
                self.stack.push(Frame::Single);
                self.i += 1;
                self.in_word();
            }
            '"' => {
                self.stack.push(Frame::Double);
                self.i += 1;
                self.in_word();
            }
            '$' if self.at(1) == Some('\'') => {
                // bash reads `$'it\'s'` as one string; dash (Debian's /bin/sh) as `$` and two
                // quoted strings: where the quotes end depends on the shell.
                self.error = Some(Refused {
                    index: None,
                    why: "the command uses $'...', which bash and dash (/bin/sh on Debian) read differently: tend cannot tell where its quotes end".into(),
                    hint: "write the text with '...' or \"...\" (printf '\\n' for escapes)".into(),
                });
                self.i += 2;
            }
            '$' if self.at(1) == Some('"') => {
                self.stack.push(Frame::Double);
                self.i += 2;
                self.in_word();
            }
            '\\' | '$' | '`' => {
                self.expansion(c);
                self.in_word();
            }
            '<' if self.at(1) == Some('<') => {
                if self.at(2) == Some('<') {
                    // A here-string: the word after it is an ordinary word.
                    self.i += 3;
                } else {
                    self.i += 2;
                    self.here_document();
                }
                self.end_word();
            }
            '<' | '>' if self.at(1) == Some('(') => {
                self.end_word();
                self.stack.push(code_frame(true));
                self.i += 2;
            }
            '#' if self.word_start => {
                self.stack.push(Frame::Comment);
                self.i += 1;
            }
            '(' => {
                self.end_word();
                self.end_command(false);
                if let Some(Frame::Code { parens, .. }) = self.stack.last_mut() {
                    *parens += 1;
                }
                self.i += 1;
            }
            ')' => {
                self.end_word();
                self.end_command(false);
                self.i += 1;
                let close = match self.stack.last_mut() {
                    Some(Frame::Code {
                        subst,
                        parens,
                        cases,
                        ..
                    }) => {
                        if *cases > 0 && *parens == 0 {
                            false
                        } else if *parens > 0 {
                            *parens -= 1;
                            false
                        } else {
                            *subst
                        }
                    }
                    _ => false,
                };
                if close {
                    self.stack.pop();
                    self.word_start = false;
                }
            }
            '\n' => {
                self.end_word();
                self.end_command(false);
                self.i += 1;
                // Here-documents start on the line after their `<<`, first one first.
                let start = self.offset(self.i);
                for (delim, quoted, strip_tabs, code) in self.pending.drain(..).rev() {
                    self.stack.push(Frame::Heredoc {
                        delim,
                        quoted,
                        strip_tabs,
                        line_start: true,
                        code,
                        start,
                        marker: None,
                    });
                }
            }
            '|' => {
                self.end_word();
                // `||` is a separator like `;`; a lone `|` pipes into the next command.
                let pipe = self.at(1) != Some('|');
                self.end_command(pipe);
                self.i += if pipe { 1 } else { 2 };
            }
            ';' | '&' => {
                self.end_word();
                self.end_command(false);
                self.i += 1;
            }
            ' ' | '\t' | '<' | '>' => {
                self.end_word();
                self.i += 1;
            }
            _ => {
                self.word.push(c);
                self.word_start = false;
                self.i += 1;
            }
        }
    }

    fn in_word(&mut self) {
        self.word_start = false;
        self.word.push('\u{0}');
    }

    /// A word ends: it joins its command's words; `case` ... `esac` are counted in this frame.
    fn end_word(&mut self) {
        let w = std::mem::take(&mut self.word);
        if let Some(Frame::Code { cases, words, .. }) = self.stack.last_mut() {
            if w == "case" {
                *cases += 1;
            } else if w == "esac" {
                *cases = cases.saturating_sub(1);
            }
            if !w.is_empty() {
                if words.is_empty() && KEYWORDS.contains(&w.as_str()) {
                    // `then cmd`: the command is what follows.
                } else {
                    words.push(w);
                }
            }
        }
        self.word_start = true;
    }

    /// A simple command ends. A command that reads its input as code (`sh`, `ssh host`) gets
    /// no value piped into it from the command before it.
    fn end_command(&mut self, pipe: bool) {
        let Some(Frame::Code {
            words,
            markers,
            piped,
            after_pipe,
            ..
        }) = self.stack.last_mut()
        else {
            return;
        };
        if *after_pipe && reads_code(words) {
            // `cat <<EOF | sh`: the here-documents not yet read feed a shell.
            for p in &mut self.pending {
                p.3 = true;
            }
        }
        *after_pipe = pipe;
        if !piped.is_empty() && reads_code(words) {
            for &n in piped.iter() {
                if let Some(f) = self.found.get_mut(n) {
                    f.context = refused(
                        "the placeholder is in the output of a command piped into a shell, which reads the value as code",
                        "pass the value as an argument (sh -s -- {{ value }}), or use `| raw` if it is shell code you trust",
                    );
                }
            }
        }
        *piped = if pipe {
            std::mem::take(markers)
        } else {
            vec![]
        };
        markers.clear();
        words.clear();
    }

    /// After `<<`: an optional `-`, blanks, then the delimiter word; its quoting decides whether
    /// the body expands.
    fn here_document(&mut self) {
        let strip_tabs = self.at(0) == Some('-');
        if strip_tabs {
            self.i += 1;
        }
        while matches!(self.at(0), Some(' ' | '\t')) {
            self.i += 1;
        }
        let mut delim = String::new();
        let mut quoted = false;
        while let Some(c) = self.at(0) {
            match c {
                OPEN => {
                    let before = self.stack.len();
                    self.stack.push(Frame::Comment);
                    let start = self.i;
                    self.marker();
                    self.stack.truncate(before);
                    let at = self.offset(start);
                    if let Some(f) = self.found.last_mut()
                        && f.start == at
                    {
                        f.context = refused(
                            "the placeholder is in a here-document's delimiter, where a value could end the document early",
                            "write the delimiter out, like <<'EOF'",
                        );
                    }
                }
                '\'' | '"' => {
                    quoted = true;
                    self.i += 1;
                    while let Some(d) = self.at(0) {
                        self.i += 1;
                        if d == c {
                            break;
                        }
                        if d == '\\' && c == '"' {
                            if let Some(e) = self.at(0) {
                                delim.push(e);
                                self.i += 1;
                            }
                            continue;
                        }
                        delim.push(d);
                    }
                }
                '\\' => {
                    quoted = true;
                    if let Some(e) = self.at(1) {
                        delim.push(e);
                    }
                    self.i += 2;
                }
                c if c.is_whitespace() || ";&|()<>".contains(c) => break,
                c => {
                    delim.push(c);
                    self.i += 1;
                }
            }
        }
        let code = match self.stack.last() {
            Some(Frame::Code { words, .. }) => reads_code(words),
            _ => false,
        };
        self.pending.push((delim, quoted, strip_tabs, code));
    }

    fn double(&mut self, c: char) {
        match c {
            '"' => {
                self.stack.pop();
                self.i += 1;
            }
            '\\' | '$' | '`' => self.expansion(c),
            _ => self.i += 1,
        }
    }

    fn param(&mut self, c: char) {
        match c {
            '{' => {
                if let Some(Frame::Param { braces }) = self.stack.last_mut() {
                    *braces += 1;
                }
                self.i += 1;
            }
            '}' => {
                self.i += 1;
                match self.stack.last_mut() {
                    Some(Frame::Param { braces }) if *braces > 0 => *braces -= 1,
                    _ => {
                        self.stack.pop();
                    }
                }
            }
            '\'' => {
                self.stack.push(Frame::Single);
                self.i += 1;
            }
            '"' => {
                self.stack.push(Frame::Double);
                self.i += 1;
            }
            '\\' | '$' | '`' => self.expansion(c),
            _ => self.i += 1,
        }
    }

    fn arith(&mut self, c: char) {
        match c {
            '(' => {
                if let Some(Frame::Arith { parens }) = self.stack.last_mut() {
                    *parens += 1;
                }
                self.i += 1;
            }
            ')' => {
                let close = matches!(self.stack.last(), Some(Frame::Arith { parens: 0 }))
                    && self.at(1) == Some(')');
                if close {
                    self.stack.pop();
                    self.i += 2;
                } else {
                    if let Some(Frame::Arith { parens }) = self.stack.last_mut() {
                        *parens = parens.saturating_sub(1);
                    }
                    self.i += 1;
                }
            }
            '\\' | '$' | '`' => self.expansion(c),
            _ => self.i += 1,
        }
    }

    fn heredoc(&mut self, c: char) {
        let from = self.offset(self.i);
        let Some(Frame::Heredoc {
            delim,
            quoted,
            strip_tabs,
            line_start,
            ..
        }) = self.stack.last_mut()
        else {
            return;
        };
        if *line_start {
            *line_start = false;
            let line = self.text[from..].split('\n').next().unwrap_or_default();
            let line = if *strip_tabs {
                line.trim_start_matches('\t')
            } else {
                line
            };
            if line == delim {
                if let Some(Frame::Heredoc {
                    delim,
                    strip_tabs,
                    start,
                    marker: Some(index),
                    ..
                }) = self.stack.pop()
                {
                    self.bodies.push(Body {
                        start,
                        end: from,
                        delim,
                        strip_tabs,
                        index,
                    });
                }
                let len = self.text[from..]
                    .split('\n')
                    .next()
                    .map_or(0, |l| l.chars().count());
                self.i += len + 1;
                if let Some(Frame::Heredoc { line_start, .. }) = self.stack.last_mut() {
                    *line_start = true;
                }
                return;
            }
        }
        let quoted = *quoted;
        match c {
            '\n' => {
                if let Some(Frame::Heredoc { line_start, .. }) = self.stack.last_mut() {
                    *line_start = true;
                }
                self.i += 1;
            }
            '\\' | '$' | '`' if !quoted => self.expansion(c),
            _ => self.i += 1,
        }
    }
}
