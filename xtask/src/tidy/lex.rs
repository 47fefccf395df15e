//! Just enough of Rust's lexical structure for grep-like checks: a source file with the contents of
//! string and char literals and all comments blanked (byte offsets and line breaks kept, so a match
//! maps back to its line), the comment text of each line (for `tidy:` markers), identifier tokens,
//! paths (`a::b::c`), and the `#[cfg(test)]` parts of a file. It is not a parser: macros, raw
//! identifiers and non-ASCII identifiers are seen as plain text.

/// A source file as the checks see it.
pub struct Source {
    /// The text with literal contents and comments replaced by spaces (delimiters and newlines kept).
    pub code: String,
    /// The comment text of each line (0-based), empty when the line has none.
    pub comments: Vec<String>,
    line_starts: Vec<usize>,
}

#[derive(Clone, Copy)]
enum State {
    Code,
    LineComment,
    BlockComment(u32),
    Str,
    RawStr(usize),
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Source {
    pub fn new(text: &str) -> Source {
        let src = text.as_bytes();
        let mut code = src.to_vec();
        let mut comments = vec![String::new()];
        let mut comment_bytes: Vec<u8> = Vec::new();
        let mut line_starts = vec![0];
        let mut state = State::Code;
        let mut i = 0;
        // Blanks `code[from..to]` except newlines.
        let blank = |code: &mut Vec<u8>, from: usize, to: usize| {
            for b in &mut code[from..to.min(src.len())] {
                if *b != b'\n' {
                    *b = b' ';
                }
            }
        };
        while i < src.len() {
            let b = src[i];
            if b == b'\n' {
                comments
                    .last_mut()
                    .expect("one entry per line")
                    .push_str(&String::from_utf8_lossy(&comment_bytes));
                comment_bytes.clear();
                comments.push(String::new());
                line_starts.push(i + 1);
                if matches!(state, State::LineComment) {
                    state = State::Code;
                }
                i += 1;
                continue;
            }
            let next = src.get(i + 1).copied();
            match state {
                State::Code => match b {
                    b'/' if next == Some(b'/') => {
                        state = State::LineComment;
                        blank(&mut code, i, i + 2);
                        i += 2;
                        continue;
                    }
                    b'/' if next == Some(b'*') => {
                        state = State::BlockComment(1);
                        blank(&mut code, i, i + 2);
                        i += 2;
                        continue;
                    }
                    b'"' => state = State::Str,
                    b'r' if i == 0 || !is_ident(src[i - 1]) || raw_prefix(src, i) => {
                        let hashes = src[i + 1..].iter().take_while(|&&c| c == b'#').count();
                        if src.get(i + 1 + hashes) == Some(&b'"') {
                            state = State::RawStr(hashes);
                            i += 2 + hashes;
                            continue;
                        }
                    }
                    b'\'' => {
                        if let Some(end) = char_literal_end(src, i) {
                            blank(&mut code, i + 1, end);
                            i = end + 1;
                            continue;
                        }
                    }
                    _ => {}
                },
                State::LineComment => {
                    comment_bytes.push(b);
                    code[i] = b' ';
                }
                State::BlockComment(depth) => {
                    comment_bytes.push(b);
                    code[i] = b' ';
                    if b == b'*' && next == Some(b'/') {
                        code[i + 1] = b' ';
                        state = if depth == 1 {
                            State::Code
                        } else {
                            State::BlockComment(depth - 1)
                        };
                        i += 2;
                        continue;
                    }
                    if b == b'/' && next == Some(b'*') {
                        code[i + 1] = b' ';
                        state = State::BlockComment(depth + 1);
                        i += 2;
                        continue;
                    }
                }
                State::Str => match b {
                    // An escaped newline (string continuation) is still a line break.
                    b'\\' if next == Some(b'\n') => code[i] = b' ',
                    b'\\' => {
                        blank(&mut code, i, i + 2);
                        i += 2;
                        continue;
                    }
                    b'"' => state = State::Code,
                    _ => code[i] = b' ',
                },
                State::RawStr(hashes) => {
                    let closes = b == b'"'
                        && src.len() >= i + 1 + hashes
                        && src[i + 1..i + 1 + hashes].iter().all(|&c| c == b'#');
                    if closes {
                        state = State::Code;
                        i += 1 + hashes;
                        continue;
                    }
                    code[i] = b' ';
                }
            }
            i += 1;
        }
        comments
            .last_mut()
            .expect("one entry per line")
            .push_str(&String::from_utf8_lossy(&comment_bytes));
        Source {
            // Only whole UTF-8 sequences inside literals or comments were blanked, byte by byte.
            code: String::from_utf8(code)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            comments,
            line_starts,
        }
    }

    /// The 1-based line of a byte offset.
    pub fn line(&self, pos: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= pos)
    }

    /// The comment on the 1-based line `line`, and on the line before when that line is nothing but a
    /// comment (where rustfmt leaves a marker it would not fit after the code).
    pub fn comments_at(&self, line: usize) -> String {
        let mut text = self.comments.get(line - 1).cloned().unwrap_or_default();
        if line >= 2 {
            let start = self.line_starts[line - 2];
            let end = self.line_starts[line - 1];
            if self.code[start..end].trim().is_empty() {
                text.push(' ');
                text.push_str(&self.comments[line - 2]);
            }
        }
        text
    }

    /// Identifier tokens (keywords included) with their byte offsets.
    pub fn idents(&self) -> Vec<(usize, &str)> {
        let b = self.code.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if is_ident(b[i]) && (i == 0 || !is_ident(b[i - 1])) {
                let start = i;
                while i < b.len() && is_ident(b[i]) {
                    i += 1;
                }
                if !b[start].is_ascii_digit() {
                    out.push((start, &self.code[start..i]));
                }
            } else {
                i += 1;
            }
        }
        out
    }

    /// The code before `pos`, without trailing whitespace.
    fn before(&self, pos: usize) -> &str {
        self.code[..pos].trim_end()
    }

    /// The first non-blank character after the token ending at `end`.
    pub fn next_char(&self, end: usize) -> Option<char> {
        self.code[end..].trim_start().chars().next()
    }

    /// Whether the token at `pos` follows `.` (a field or method) or `::` (a path segment).
    pub fn after_dot(&self, pos: usize) -> bool {
        let before = self.before(pos);
        before.ends_with('.') && !before.ends_with("..")
    }

    /// The first segment of the path whose last segment starts at `pos` (`a` for `a::b::c` at `c`),
    /// or `None` when the token is not a path segment after `::`. A leading `::` is ignored.
    pub fn path_root(&self, pos: usize) -> Option<&str> {
        let mut at = pos;
        let mut root = None;
        loop {
            let before = self.before(at);
            let Some(rest) = before.strip_suffix("::") else {
                return root;
            };
            let rest = rest.trim_end();
            let seg_start = rest
                .bytes()
                .rposition(|c| !is_ident(c))
                .map_or(0, |p| p + 1);
            if seg_start == rest.len() {
                // `::x` or `<T>::x`: nothing nameable before.
                return root;
            }
            root = Some(&self.code[seg_start..rest.len()]);
            at = seg_start;
        }
    }

    /// The previous token's text when it is an identifier (e.g. `fn` before a function's name).
    pub fn prev_ident(&self, pos: usize) -> Option<&str> {
        let before = self.before(pos);
        let start = before
            .bytes()
            .rposition(|c| !is_ident(c))
            .map_or(0, |p| p + 1);
        (start < before.len()).then(|| &self.code[start..before.len()])
    }

    /// The byte ranges of `#[cfg(test)]` items: a `mod tests { ... }`, a test-only function, `use`, ...
    /// The attribute starts the range; the item's closing brace or semicolon ends it.
    pub fn cfg_test_ranges(&self) -> Vec<(usize, usize)> {
        self.cfg_test_items()
            .into_iter()
            .map(|(start, end, _)| (start, end))
            .collect()
    }

    /// `#[cfg(test)]` items as (start, end, name of a `mod NAME;` declaration).
    pub fn cfg_test_items(&self) -> Vec<(usize, usize, Option<String>)> {
        let b = self.code.as_bytes();
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(found) = find_cfg_test(&self.code[from..]) {
            let start = from + found.0;
            let mut i = from + found.1;
            // Skip further attributes between `#[cfg(test)]` and the item.
            loop {
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if b.get(i) == Some(&b'#') {
                    i = match_close(b, i + 1, b'[', b']').unwrap_or(b.len());
                } else {
                    break;
                }
            }
            let item_start = i;
            let mut end = b.len();
            while i < b.len() {
                match b[i] {
                    b';' => {
                        end = i + 1;
                        break;
                    }
                    b'{' => {
                        end = match_close(b, i, b'{', b'}').unwrap_or(b.len());
                        break;
                    }
                    _ => i += 1,
                }
            }
            let head: Vec<&str> = self.code[item_start..end.min(b.len())]
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .take(3)
                .collect();
            let declared = match head.as_slice() {
                ["mod", name, ..] | ["pub", "mod", name] if self.code[..end].ends_with(';') => {
                    Some(name.to_string())
                }
                _ => None,
            };
            out.push((start, end, declared));
            from = end.max(start + 1);
        }
        out
    }
}

/// `r` at `i` preceded by `b` (a raw byte string `br"..."`), itself not part of an identifier.
fn raw_prefix(src: &[u8], i: usize) -> bool {
    i >= 1 && src[i - 1] == b'b' && (i == 1 || !is_ident(src[i - 2]))
}

/// The offset of the closing quote of a char literal starting at `i`, or `None` for a lifetime.
fn char_literal_end(src: &[u8], i: usize) -> Option<usize> {
    if src.get(i + 1) == Some(&b'\\') {
        let close = src[i + 2..].iter().position(|&c| c == b'\'')?;
        return Some(i + 2 + close + usize::from(close == 0));
    }
    // One (possibly multi-byte) character, then the closing quote.
    let first = *src.get(i + 1)?;
    let width = match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    };
    (src.get(i + 1 + width) == Some(&b'\'')).then_some(i + 1 + width)
}

/// The offset just past the bracket matching the `open` at (or after) `i`.
fn match_close(b: &[u8], i: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    for (j, &c) in b.iter().enumerate().skip(i) {
        if c == open {
            depth += 1;
        } else if c == close {
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(j + 1);
            }
        }
    }
    None
}

/// The next `#[cfg(test)]` (any spacing) as (start, end) offsets within `code`.
fn find_cfg_test(code: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(p) = code[from..].find('#') {
        let start = from + p;
        let squashed: String = code[start..]
            .chars()
            .take(40)
            .filter(|c| !c.is_whitespace())
            .collect();
        if squashed.starts_with("#[cfg(test)]") {
            let mut seen = 0;
            for (j, c) in code[start..].char_indices() {
                if !c.is_whitespace() {
                    seen += 1;
                }
                if seen == "#[cfg(test)]".len() {
                    return Some((start, start + j + 1));
                }
            }
        }
        from = start + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_comments_are_blanked_with_lines_kept() {
        let text = "let a = \"sqlx::x \\\" sleep(\"; // sqlx here\n\
             let r = r#\"a \"quoted\" sleep(1)\"#; /* outer /* inner */ still */ let c = '\"';\n\
             fn f<'a>(x: &'a str) -> char { 'x' }\n";
        let s = Source::new(text);
        assert_eq!(s.code.len(), text.len());
        assert!(!s.code.contains("sqlx"), "{}", s.code);
        assert!(!s.code.contains("sleep"), "{}", s.code);
        assert!(!s.code.contains("inner") && !s.code.contains("still"));
        assert!(
            s.code.contains("let c ="),
            "the char literal '\"' opens no string"
        );
        assert!(
            s.code.contains("fn f<'a>(x: &'a str)"),
            "lifetimes stay code"
        );
        assert_eq!(s.code.lines().count(), 3);
        assert_eq!(s.comments[0].trim(), "sqlx here");
        assert!(s.comments[1].contains("inner"));
    }

    #[test]
    fn lines_of_offsets_and_markers_on_the_line_before() {
        let s = Source::new("a\n// why: because\nb // here\n");
        assert_eq!(s.line(0), 1);
        assert_eq!(s.line(s.code.find('b').unwrap()), 3);
        let at_b = s.comments_at(3);
        assert!(
            at_b.contains("here") && at_b.contains("why: because"),
            "{at_b}"
        );
        assert!(!s.comments_at(1).contains("why"));
    }

    #[test]
    fn paths_and_neighbours_of_tokens() {
        let s = Source::new(
            "x = ::nix::sys::signal::kill(p); y.kill(); use a::{b}; Self::go(); fn sleep() {}",
        );
        let at = |name: &str, nth: usize| {
            s.idents()
                .into_iter()
                .filter(|(_, t)| *t == name)
                .nth(nth)
                .unwrap()
                .0
        };
        assert_eq!(s.path_root(at("kill", 0)), Some("nix"));
        assert_eq!(s.path_root(at("kill", 1)), None);
        assert!(s.after_dot(at("kill", 1)));
        assert_eq!(s.path_root(at("go", 0)), Some("Self"));
        assert_eq!(s.prev_ident(at("sleep", 0)), Some("fn"));
        assert_eq!(s.next_char(at("go", 0) + 2), Some('('));
    }

    #[test]
    fn cfg_test_items_and_declared_test_modules() {
        let text = "fn real() {}\n#[cfg(test)]\nmod tests;\n#[cfg( test )]\n#[allow(x)]\nmod inline {\n fn t() { {} }\n}\nfn after() {}\n#[cfg(test)]\nfn helper() {}\n";
        let s = Source::new(text);
        let items = s.cfg_test_items();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].2.as_deref(), Some("tests"));
        assert!(s.code[items[1].0..items[1].1].contains("fn t()"));
        assert!(s.code[items[1].0..items[1].1].ends_with('}'));
        assert!(!s.code[items[1].0..items[1].1].contains("after"));
        assert_eq!(items[1].2, None);
        assert!(s.code[items[2].0..items[2].1].contains("helper"));
    }
}
