//! Reading a command the way `sh` reads it, far enough to know the quoting context of each value
//! marker: which quotes are open, whether it sits in a command substitution, a here-document,
//! a comment or an arithmetic expansion. The markers stand in for the values, so no value can
//! steer this reading; only the playbook's own text does.

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

#[derive(Debug)]
enum Frame {
    /// Shell code: the command itself (`subst: false`) or the inside of `$(...)`, `<(...)`.
    Code {
        subst: bool,
        parens: usize,
        /// `case` statements open here: their `pat)` does not close a `$(`.
        cases: usize,
    },
    Double,
    Single,
    AnsiC,
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
    },
}

const QUOTE_HINT: &str = "tend quotes values itself: put the placeholder where it is a plain word or inside \"...\" or '...', or use `| raw` if the value is shell code you trust";

fn refused(why: &str, hint: &str) -> Context {
    Context::Refused {
        why: why.to_string(),
        hint: hint.to_string(),
    }
}

struct Scanner<'a> {
    text: &'a str,
    chars: Vec<(usize, char)>,
    i: usize,
    stack: Vec<Frame>,
    found: Vec<Found>,
    /// The marker that follows was escaped by a `\`, or follows a `$`.
    after_backslash: bool,
    after_dollar: bool,
    word_start: bool,
    word: String,
    pending: Vec<(String, bool, bool)>,
}

pub fn scan(text: &str) -> Result<Vec<Found>, Refused> {
    let mut s = Scanner {
        text,
        chars: text.char_indices().collect(),
        i: 0,
        stack: vec![Frame::Code {
            subst: false,
            parens: 0,
            cases: 0,
        }],
        found: vec![],
        after_backslash: false,
        after_dollar: false,
        word_start: true,
        word: String::new(),
        pending: vec![],
    };
    s.run()?;
    Ok(s.found)
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
                Some(Frame::AnsiC) => match c {
                    '\\' => self.i += 2,
                    '\'' => {
                        self.stack.pop();
                        self.i += 1;
                    }
                    _ => self.i += 1,
                },
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
        self.end_word();
        // A here-document may run to the end of the command, as in sh; anything else left
        // open means the command cannot be read as sh would.
        while let Some(f) = self.stack.pop() {
            let open = match f {
                Frame::Code { subst: false, .. } | Frame::Heredoc { .. } | Frame::Comment => {
                    continue;
                }
                Frame::Code { .. } => "a `$(` is never closed",
                Frame::Double => "a `\"` is never closed",
                Frame::Single => "a `'` is never closed",
                Frame::AnsiC => "a `$'` is never closed",
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
        self.found.push(Found {
            index,
            start: self.offset(start),
            end: self.offset(j),
            context,
        });
        self.after_backslash = false;
        self.after_dollar = false;
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
                Frame::AnsiC => {
                    return refused(
                        "the placeholder is inside $'...', where backslashes are escapes",
                        QUOTE_HINT,
                    );
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
    /// Returns false when `c` is none of them.
    fn expansion(&mut self, c: char) -> bool {
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
                    self.stack.push(Frame::Code {
                        subst: true,
                        parens: 0,
                        cases: 0,
                    });
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
                _ => self.i += 1,
            },
            _ => return false,
        }
        true
    }

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
                self.stack.push(Frame::AnsiC);
                self.i += 2;
                self.in_word();
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
                self.stack.push(Frame::Code {
                    subst: true,
                    parens: 0,
                    cases: 0,
                });
                self.i += 2;
                self.end_word();
            }
            '#' if self.word_start => {
                self.stack.push(Frame::Comment);
                self.i += 1;
            }
            '(' => {
                self.end_word();
                if let Some(Frame::Code { parens, .. }) = self.stack.last_mut() {
                    *parens += 1;
                }
                self.i += 1;
            }
            ')' => {
                self.end_word();
                self.i += 1;
                let close = match self.stack.last_mut() {
                    Some(Frame::Code {
                        subst,
                        parens,
                        cases,
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
                self.i += 1;
                // Here-documents start on the line after their `<<`, first one first.
                for (delim, quoted, strip_tabs) in self.pending.drain(..).rev() {
                    self.stack.push(Frame::Heredoc {
                        delim,
                        quoted,
                        strip_tabs,
                        line_start: true,
                    });
                }
            }
            ' ' | '\t' | ';' | '&' | '|' | '<' | '>' => {
                self.end_word();
                self.i += 1;
            }
            _ => {
                if c.is_ascii_alphanumeric() || c == '_' {
                    self.word.push(c);
                } else {
                    self.word.push('\u{0}');
                }
                self.word_start = false;
                self.i += 1;
            }
        }
    }

    fn in_word(&mut self) {
        self.word_start = false;
        self.word.push('\u{0}');
    }

    /// A word ends: keep count of `case` ... `esac` in this frame.
    fn end_word(&mut self) {
        let w = std::mem::take(&mut self.word);
        if let Some(Frame::Code { cases, .. }) = self.stack.last_mut() {
            if w == "case" {
                *cases += 1;
            } else if w == "esac" {
                *cases = cases.saturating_sub(1);
            }
        }
        self.word_start = true;
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
        self.pending.push((delim, quoted, strip_tabs));
    }

    fn double(&mut self, c: char) {
        match c {
            '"' => {
                self.stack.pop();
                self.i += 1;
            }
            '\\' | '$' | '`' => {
                self.expansion(c);
            }
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
            '\\' | '$' | '`' => {
                self.expansion(c);
            }
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
            '\\' | '$' | '`' => {
                self.expansion(c);
            }
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
                self.stack.pop();
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
            '\\' | '$' | '`' if !quoted => {
                self.expansion(c);
            }
            _ => self.i += 1,
        }
    }
}
