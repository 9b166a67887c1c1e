//! How deep a YAML text nests, measured before the parser sees it.
//!
//! The YAML parser takes time that grows with the square of the nesting (`[[[[...` 20,000 deep
//! took 9 s), and no playbook is more than a dozen levels deep. So the text is scanned once,
//! cheaply, and refused at the first place it goes deeper than `MAX`: quoted strings, comments
//! and block scalars (`run: |`) are skipped, so brackets in a script never count.

/// Deeper than any playbook needs, far below where parsing gets slow.
pub const MAX: usize = 64;

/// The byte offset where the text first nests deeper than `MAX`, if it does.
pub fn too_deep(text: &str) -> Option<usize> {
    let mut s = Scan::default();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some(at) = s.line(line, offset) {
            return Some(offset + at);
        }
        offset += line.len();
    }
    None
}

/// The byte offset of the first alias (`*name`) outside quotes and comments: where an alias
/// bomb starts.
pub fn first_alias(text: &str) -> Option<usize> {
    let mut s = Scan::default();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        s.line(line, offset);
        if s.alias.is_some() {
            return s.alias;
        }
        offset += line.len();
    }
    None
}

#[derive(Default)]
struct Scan {
    /// Indentations of the block collections open around the current line.
    indents: Vec<usize>,
    flow: usize,
    /// Inside a quoted scalar that goes on to the next line.
    quote: Option<u8>,
    /// Inside a block scalar whose content is indented more than this.
    block: Option<usize>,
    /// The offset of the first alias seen.
    alias: Option<usize>,
}

impl Scan {
    /// One line of the scan. Long on purpose: one pass over the line's bytes with the states
    /// (block scalar, open quote, flow depth, indentation) side by side, as YAML's own lexers
    /// are written; split up, each part would need all of them anyway.
    fn line(&mut self, line: &str, offset: usize) -> Option<usize> {
        let b = line.as_bytes();
        let indent = b.iter().take_while(|&&c| c == b' ').count();
        let blank = b[indent..]
            .first()
            .is_none_or(|c| matches!(c, b'\n' | b'\r' | b'#'));
        if let Some(parent) = self.block {
            if blank || indent > parent {
                return None;
            }
            self.block = None;
        }
        let mut i = 0;
        if self.quote.is_none() && self.flow == 0 {
            if blank {
                return None;
            }
            while self.indents.last().is_some_and(|&top| top > indent) {
                self.indents.pop();
            }
            if self.indents.last() != Some(&indent) {
                self.indents.push(indent);
                if self.depth(0) > MAX {
                    return Some(indent);
                }
            }
            i = indent;
        }
        let mut token_start = true;
        let mut token_col = i;
        let mut last_key = None;
        let mut last_dash = None;
        let mut dashes = 0;
        while i < b.len() {
            let c = b[i];
            if let Some(q) = self.quote {
                if c == b'\\' && q == b'"' {
                    i += 2;
                    continue;
                }
                if c == q {
                    if q == b'\'' && b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    self.quote = None;
                    token_start = false;
                }
                i += 1;
                continue;
            }
            let next_blank = b.get(i + 1).is_none_or(|c| c.is_ascii_whitespace());
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => {
                    i += 1;
                    continue;
                }
                b'#' if i == 0 || b[i - 1].is_ascii_whitespace() => return None,
                // An anchor or a tag: the node itself follows it.
                b'&' | b'!' if token_start => {
                    // Their names end at a blank or a flow indicator.
                    while i < b.len()
                        && !b[i].is_ascii_whitespace()
                        && !matches!(b[i], b'[' | b']' | b'{' | b'}' | b',')
                    {
                        i += 1;
                    }
                    continue;
                }
                b'*' if token_start
                    && b.get(i + 1)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') =>
                {
                    self.alias.get_or_insert(offset + i);
                }
                b'\'' | b'"' if token_start => {
                    self.quote = Some(c);
                    token_col = i;
                }
                b'[' | b'{' if token_start || self.flow > 0 => {
                    self.flow += 1;
                    if self.depth(dashes) > MAX {
                        return Some(i);
                    }
                    token_start = true;
                    i += 1;
                    continue;
                }
                b']' | b'}' if self.flow > 0 => {
                    self.flow -= 1;
                    token_start = false;
                }
                b',' if self.flow > 0 => {
                    token_start = true;
                    i += 1;
                    continue;
                }
                b'-' if token_start && self.flow == 0 && next_blank => {
                    dashes += 1;
                    last_dash = Some(i);
                    if self.depth(dashes) > MAX {
                        return Some(i);
                    }
                    i += 1;
                    continue;
                }
                b':' if next_blank
                    || (self.flow > 0 && matches!(b.get(i + 1), Some(b',' | b']' | b'}'))) =>
                {
                    last_key = Some(token_col);
                    token_start = true;
                    i += 1;
                    continue;
                }
                b'|' | b'>' if token_start && self.flow == 0 => {
                    let rest = &line[i + 1..];
                    let header = rest.trim_start_matches([
                        '+', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
                    ]);
                    let header = header.trim_start_matches([' ', '\t']);
                    if header.is_empty() || header.starts_with(['\n', '\r', '#']) {
                        self.block = Some(last_key.or(last_dash).unwrap_or(indent));
                        return None;
                    }
                }
                _ => {}
            }
            if token_start {
                token_col = i;
            }
            token_start = false;
            i += 1;
        }
        None
    }

    fn depth(&self, dashes: usize) -> usize {
        self.indents.len() + dashes + self.flow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_nesting_is_refused_where_it_passes_the_limit() {
        let text = format!(
            "kind: check\nchecks: {}{}\n",
            "[".repeat(100),
            "]".repeat(100)
        );
        let at = too_deep(&text).unwrap();
        assert_eq!(text[..at].matches('[').count() + 1, MAX);
        assert!(too_deep(&format!("a: {}", "{a: ".repeat(100))).is_some());
        assert!(too_deep(&"- ".repeat(100)).is_some());
        assert!(too_deep(&format!("a: &x !!seq {}", "[".repeat(100))).is_some());
        assert!(too_deep(&format!("a: {}", "[&x".repeat(100))).is_some());
        let stairs: String = (0..100).map(|i| format!("{}a:\n", " ".repeat(i))).collect();
        assert!(too_deep(&stairs).is_some());
    }

    #[test]
    fn the_first_alias_is_found_outside_quotes_and_comments() {
        let text = "a: &x [1]\n# *not\nb: '*not'\nc: [\"*.log\", *x]\n";
        assert_eq!(first_alias(text), text.find("*x]"));
        assert_eq!(first_alias("a: b*c\n"), None);
    }

    #[test]
    fn brackets_in_strings_comments_and_scripts_do_not_count() {
        let deep = "[".repeat(100);
        let text = format!(
            "kind: deploy\n# {deep}\nname: '{deep}'\nd: \"{deep}\\\" {deep}\"\nplain: a{deep}\nsteps:\n  - run: |\n      echo {deep}\n\n      {deep}\n  - run: >-\n     {deep}\n    x: 1\n"
        );
        assert_eq!(too_deep(&text), None);
        let real = "kind: check\nchecks:\n  - disk: { mount: [/, /var], warn: 80 }\n  - load: { warn: [1, 2, 3] }\n";
        assert_eq!(too_deep(real), None);
    }
}
