//! The shell's lexical layer: text to words (with their quoting, expansions and substitutions kept
//! apart), control operators and redirections, here-documents attached to their redirection.
//! Follows POSIX sh (and the bash additions people type: `$'..'`, `<(..)`, `&>`, `<<<`, `|&`).
//! Nothing is expanded here; `expand` does that with the variables the analyser knows.

use std::fmt;

/// One piece of a word.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    /// Unquoted text: subject to tilde, brace and glob interpretation.
    Lit(String),
    /// Quoted or escaped text: taken as is.
    Quoted(String),
    /// `$NAME`, `${NAME}`, `${NAME:-word}` ... ; `quoted` inside double quotes (no field splitting).
    Var {
        name: String,
        op: VarOp,
        quoted: bool,
    },
    /// `$(..)` or backticks: the inner source, run by the shell before the word is used.
    Subst { src: String, quoted: bool },
    /// `<(..)` / `>(..)`: the inner source runs; the word becomes a `/dev/fd/N` path.
    ProcSubst(String),
    /// `$((..))`.
    Arith(String),
}

/// What `${NAME<op>word}` does when NAME is unset or empty.
#[derive(Clone, Debug, PartialEq)]
pub enum VarOp {
    Plain,
    /// `:-` / `-` / `:=` / `=`: use the word when unset (or empty, with `:`).
    Default(Word, bool),
    /// `:+` / `+`: the word when set.
    Alternative(Word),
    /// `${#NAME}` and every other operator: a value this analyser does not compute.
    Opaque,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Word(pub Vec<Part>);

impl Word {
    /// The word's text when it is one plain literal (reserved words, `{`, `}`, operators of `find`).
    pub fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Part::Lit(s) | Part::Quoted(s) => out.push_str(s),
                _ => return None,
            }
        }
        Some(out)
    }

    /// An unquoted plain literal (reserved words must not be quoted).
    pub fn bare(&self) -> Option<&str> {
        match self.0.as_slice() {
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            match p {
                Part::Lit(s) | Part::Quoted(s) => f.write_str(s)?,
                Part::Var { name, .. } => write!(f, "${name}")?,
                Part::Subst { src, .. } => write!(f, "$({})", src.trim())?,
                Part::ProcSubst(src) => write!(f, "<({})", src.trim())?,
                Part::Arith(src) => write!(f, "$(({src}))")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `;`, `;;`, newline.
    Semi,
    And,
    Or,
    Pipe,
    Background,
    Open,
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirKind {
    /// `>`, `>|`, `&>` (file written, truncated).
    Write,
    /// `>>`, `&>>`.
    Append,
    /// `<`.
    Read,
    /// `<>`.
    ReadWrite,
    /// `>&N`, `<&N`, `>&-`: descriptors, no file.
    Dup,
    /// `<<`, `<<-`: the body is the here-document.
    HereDoc,
    /// `<<<`.
    HereString,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Redir {
    pub fd: Option<u32>,
    pub kind: RedirKind,
    /// The file (or here-string); for a here-document, its delimiter.
    pub target: Word,
    /// A here-document's text.
    pub body: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Word(Word),
    Op(Op),
    Redir(Redir),
}

/// Why text is not a shell command this analyser can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError(pub String);

pub fn lex(src: &str) -> Result<Vec<Tok>, LexError> {
    Lexer {
        s: src.chars().collect(),
        i: 0,
        toks: Vec::new(),
        pending_heredocs: Vec::new(),
        in_test: false,
        at_start: true,
        depth: 0,
    }
    .run()
}

struct Lexer {
    s: Vec<char>,
    i: usize,
    toks: Vec<Tok>,
    /// Token indices of here-documents whose bodies start after the next newline.
    pending_heredocs: Vec<(usize, bool)>,
    /// Inside `[[ .. ]]`, where `<` and `>` compare strings.
    in_test: bool,
    at_start: bool,
    /// How many `${..}` this lexer is inside.
    depth: usize,
}

/// `${..}` nested deeper than this is refused rather than recursed into.
const MAX_NESTING: usize = 32;

impl Lexer {
    fn peek(&self, k: usize) -> Option<char> {
        self.s.get(self.i + k).copied()
    }

    fn run(mut self) -> Result<Vec<Tok>, LexError> {
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\r' => self.i += 1,
                '\\' if self.peek(1) == Some('\n') => self.i += 2,
                '\n' => {
                    self.i += 1;
                    self.op(Op::Semi);
                    self.read_heredoc_bodies()?;
                }
                '#' => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.i += 1;
                    }
                }
                ';' => {
                    self.i += if self.peek(1) == Some(';') { 2 } else { 1 };
                    self.op(Op::Semi);
                }
                '&' if self.peek(1) == Some('&') => {
                    self.i += 2;
                    self.op(Op::And);
                }
                '&' if self.peek(1) == Some('>') => {
                    self.i += 2;
                    let kind = if self.peek(0) == Some('>') {
                        self.i += 1;
                        RedirKind::Append
                    } else {
                        RedirKind::Write
                    };
                    self.redirect(None, kind)?;
                }
                '&' => {
                    self.i += 1;
                    self.op(Op::Background);
                }
                '|' if self.peek(1) == Some('|') => {
                    self.i += 2;
                    self.op(Op::Or);
                }
                '|' => {
                    self.i += if self.peek(1) == Some('&') { 2 } else { 1 };
                    self.op(Op::Pipe);
                }
                '(' => {
                    self.i += 1;
                    self.op(Op::Open);
                }
                ')' => {
                    self.i += 1;
                    self.op(Op::Close);
                }
                '<' | '>' if self.peek(1) == Some('(') => self.word()?,
                '<' | '>' if !self.in_test => self.redirection(None)?,
                _ => self.word()?,
            }
        }
        if !self.pending_heredocs.is_empty() {
            // A here-document on the last line without a body: bash reads an empty one.
            self.pending_heredocs.clear();
        }
        Ok(self.toks)
    }

    fn op(&mut self, op: Op) {
        self.toks.push(Tok::Op(op));
        self.at_start = true;
    }

    /// At `<` or `>` (after an optional descriptor number).
    fn redirection(&mut self, fd: Option<u32>) -> Result<(), LexError> {
        let c = self.peek(0);
        let n = self.peek(1);
        let (len, kind) = match (c, n) {
            (Some('<'), Some('<')) if self.peek(2) == Some('<') => (3, RedirKind::HereString),
            (Some('<'), Some('<')) => (2, RedirKind::HereDoc),
            (Some('<'), Some('>')) => (2, RedirKind::ReadWrite),
            (Some('<'), Some('&')) => (2, RedirKind::Dup),
            (Some('<'), _) => (1, RedirKind::Read),
            (Some('>'), Some('>')) => (2, RedirKind::Append),
            (Some('>'), Some('|')) => (2, RedirKind::Write),
            (Some('>'), Some('&')) => (2, RedirKind::Dup),
            _ => (1, RedirKind::Write),
        };
        self.i += len;
        if kind == RedirKind::HereDoc {
            let strip_tabs = self.peek(0) == Some('-');
            if strip_tabs {
                self.i += 1;
            }
            self.skip_blanks();
            let delim = self.read_word()?;
            self.toks.push(Tok::Redir(Redir {
                fd,
                kind,
                target: delim,
                body: String::new(),
            }));
            self.pending_heredocs
                .push((self.toks.len() - 1, strip_tabs));
            return Ok(());
        }
        self.redirect(fd, kind)
    }

    fn redirect(&mut self, fd: Option<u32>, mut kind: RedirKind) -> Result<(), LexError> {
        self.skip_blanks();
        let target = self.read_word()?;
        if target.0.is_empty() {
            return Err(LexError("a redirection without its target".into()));
        }
        if kind == RedirKind::Dup {
            let t = target.literal().unwrap_or_default();
            let is_fd = t == "-"
                || (!t.is_empty() && t.trim_end_matches('-').chars().all(|c| c.is_ascii_digit()));
            if !is_fd {
                // `>&file` is bash for `&>file`.
                kind = RedirKind::Write;
            }
        }
        self.toks.push(Tok::Redir(Redir {
            fd,
            kind,
            target,
            body: String::new(),
        }));
        Ok(())
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(0), Some(' ' | '\t')) {
            self.i += 1;
        }
    }

    fn read_heredoc_bodies(&mut self) -> Result<(), LexError> {
        for (idx, strip_tabs) in std::mem::take(&mut self.pending_heredocs) {
            let Tok::Redir(r) = &self.toks[idx] else {
                continue;
            };
            let delim = r.target.literal().unwrap_or_default();
            let mut body = String::new();
            let mut found = false;
            while self.i < self.s.len() {
                let start = self.i;
                while self.peek(0).is_some_and(|c| c != '\n') {
                    self.i += 1;
                }
                let line: String = self.s[start..self.i].iter().collect();
                if self.peek(0) == Some('\n') {
                    self.i += 1;
                }
                let line = if strip_tabs {
                    line.trim_start_matches('\t').to_string()
                } else {
                    line
                };
                if line == delim {
                    found = true;
                    break;
                }
                body.push_str(&line);
                body.push('\n');
            }
            if !found && self.i < self.s.len() {
                return Err(LexError(format!("here-document without its end `{delim}`")));
            }
            if let Tok::Redir(r) = &mut self.toks[idx] {
                r.body = body;
            }
        }
        Ok(())
    }

    fn word(&mut self) -> Result<(), LexError> {
        let start = self.i;
        let w = self.read_word()?;
        // `2>file`: a descriptor number right before a redirection operator.
        if matches!(self.peek(0), Some('<' | '>'))
            && self.peek(1) != Some('(')
            && !self.in_test
            && let Some(n) = w.bare().and_then(|s| s.parse::<u32>().ok())
            && self.i > start
        {
            return self.redirection(Some(n));
        }
        if w.0.is_empty() {
            // A character no rule consumed; never loop on it.
            self.i = self.i.max(start + 1);
            return Ok(());
        }
        match w.bare() {
            Some("[[") if self.at_start => self.in_test = true,
            Some("]]") => self.in_test = false,
            _ => {}
        }
        self.at_start = false;
        self.toks.push(Tok::Word(w));
        Ok(())
    }

    /// Reads one word (possibly empty) up to an unquoted blank or operator.
    fn read_word(&mut self) -> Result<Word, LexError> {
        let mut parts: Vec<Part> = Vec::new();
        let mut lit = String::new();
        let flush = |lit: &mut String, parts: &mut Vec<Part>| {
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(lit)));
            }
        };
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | ')' => break,
                '(' => {
                    // `f()` (a function definition) or `=(`: the word ends here.
                    break;
                }
                '<' | '>' if self.peek(1) == Some('(') => {
                    flush(&mut lit, &mut parts);
                    self.i += 1;
                    let inner = self.balanced('(', ')')?;
                    parts.push(Part::ProcSubst(inner));
                }
                '<' | '>' if !self.in_test => break,
                '\\' => {
                    self.i += 1;
                    match self.peek(0) {
                        Some('\n') => self.i += 1,
                        Some(e) => {
                            flush(&mut lit, &mut parts);
                            parts.push(Part::Quoted(e.to_string()));
                            self.i += 1;
                        }
                        None => {}
                    }
                }
                '\'' => {
                    flush(&mut lit, &mut parts);
                    self.i += 1;
                    let start = self.i;
                    while self.peek(0).is_some_and(|c| c != '\'') {
                        self.i += 1;
                    }
                    if self.peek(0).is_none() {
                        return Err(LexError("unterminated single quote".into()));
                    }
                    parts.push(Part::Quoted(self.s[start..self.i].iter().collect()));
                    self.i += 1;
                }
                '"' => {
                    flush(&mut lit, &mut parts);
                    self.i += 1;
                    self.double_quoted(&mut parts, false)?;
                }
                '`' => {
                    flush(&mut lit, &mut parts);
                    let src = self.backticks()?;
                    parts.push(Part::Subst { src, quoted: false });
                }
                '$' => {
                    if self.peek(1) == Some('\'') {
                        flush(&mut lit, &mut parts);
                        self.i += 2;
                        parts.push(Part::Quoted(self.ansi_c()?));
                    } else if let Some(p) = self.dollar(false)? {
                        flush(&mut lit, &mut parts);
                        parts.push(p);
                    } else {
                        lit.push('$');
                        self.i += 1;
                    }
                }
                _ => {
                    lit.push(c);
                    self.i += 1;
                }
            }
        }
        flush(&mut lit, &mut parts);
        Ok(Word(parts))
    }

    /// Inside `"..."` (or a here-document's body, which ends with the input and where `"` is text).
    fn double_quoted(&mut self, parts: &mut Vec<Part>, heredoc: bool) -> Result<(), LexError> {
        let mut text = String::new();
        loop {
            let Some(c) = self.peek(0) else {
                if heredoc {
                    break;
                }
                return Err(LexError("unterminated double quote".into()));
            };
            match c {
                '"' if !heredoc => {
                    self.i += 1;
                    break;
                }
                '\\' => {
                    match self.peek(1) {
                        Some('\n') => {}
                        Some(e @ ('$' | '`' | '"' | '\\')) => text.push(e),
                        Some(e) => {
                            text.push('\\');
                            text.push(e);
                        }
                        None => return Err(LexError("unterminated double quote".into())),
                    }
                    self.i += 2;
                }
                '`' => {
                    parts.push(Part::Quoted(std::mem::take(&mut text)));
                    let src = self.backticks()?;
                    parts.push(Part::Subst { src, quoted: true });
                }
                '$' => match self.dollar(true)? {
                    Some(p) => {
                        parts.push(Part::Quoted(std::mem::take(&mut text)));
                        parts.push(p);
                    }
                    None => {
                        text.push('$');
                        self.i += 1;
                    }
                },
                _ => {
                    text.push(c);
                    self.i += 1;
                }
            }
        }
        // Kept even when empty: `""` is an (empty) argument.
        parts.push(Part::Quoted(text));
        Ok(())
    }

    /// At `$`: an expansion, or `None` for a literal dollar sign (the `$` is then not consumed).
    fn dollar(&mut self, quoted: bool) -> Result<Option<Part>, LexError> {
        match self.peek(1) {
            Some('(') if self.peek(2) == Some('(') => {
                self.i += 2;
                let inner = self.balanced('(', ')')?;
                // `$((x))`: the outer pair's inner text is `(x)`.
                let inner = inner
                    .strip_prefix('(')
                    .and_then(|s| s.strip_suffix(')'))
                    .unwrap_or(&inner)
                    .to_string();
                Ok(Some(Part::Arith(inner)))
            }
            Some('(') => {
                self.i += 1;
                let src = self.balanced('(', ')')?;
                Ok(Some(Part::Subst { src, quoted }))
            }
            Some('{') => {
                self.i += 1;
                let inner = self.balanced('{', '}')?;
                Ok(Some(braced_var(&inner, quoted, self.depth + 1)?))
            }
            Some(c) if c == '_' || c.is_ascii_alphabetic() => {
                self.i += 1;
                let start = self.i;
                while self
                    .peek(0)
                    .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
                {
                    self.i += 1;
                }
                let name: String = self.s[start..self.i].iter().collect();
                Ok(Some(Part::Var {
                    name,
                    op: VarOp::Plain,
                    quoted,
                }))
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                self.i += 2;
                Ok(Some(Part::Var {
                    name: c.to_string(),
                    op: VarOp::Plain,
                    quoted,
                }))
            }
            // Not an expansion: the caller takes the `$` as text.
            _ => Ok(None),
        }
    }

    /// At the opening character: returns the text up to the matching close (both excluded),
    /// skipping quoted text and nested pairs.
    fn balanced(&mut self, open: char, close: char) -> Result<String, LexError> {
        debug_assert_eq!(self.peek(0), Some(open));
        self.i += 1;
        let start = self.i;
        let mut depth = 1usize;
        while let Some(c) = self.peek(0) {
            match c {
                '\\' => self.i += 1,
                '\'' => {
                    self.i += 1;
                    while self.peek(0).is_some_and(|c| c != '\'') {
                        self.i += 1;
                    }
                }
                '"' => {
                    self.i += 1;
                    while let Some(d) = self.peek(0) {
                        if d == '\\' {
                            self.i += 1;
                        } else if d == '"' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                c if c == open => depth += 1,
                c if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        let inner: String = self.s[start..self.i].iter().collect();
                        self.i += 1;
                        return Ok(inner);
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        Err(LexError(format!("unterminated `{open}`")))
    }

    fn backticks(&mut self) -> Result<String, LexError> {
        self.i += 1;
        let mut src = String::new();
        loop {
            match self.peek(0) {
                None => return Err(LexError("unterminated backquote".into())),
                Some('`') => {
                    self.i += 1;
                    return Ok(src);
                }
                Some('\\') if matches!(self.peek(1), Some('`' | '\\' | '$')) => {
                    src.push(self.peek(1).unwrap_or('\\'));
                    self.i += 2;
                }
                Some(c) => {
                    src.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// After `$'`: bash's ANSI-C quoting, the escapes that matter for reading commands.
    fn ansi_c(&mut self) -> Result<String, LexError> {
        let mut out = String::new();
        loop {
            match self.peek(0) {
                None => return Err(LexError("unterminated $'...' quote".into())),
                Some('\'') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    let e = self.peek(1);
                    self.i += 2;
                    match e {
                        Some('n') => out.push('\n'),
                        Some('t') => out.push('\t'),
                        Some('r') => out.push('\r'),
                        Some('x') => {
                            let mut v = 0u32;
                            let mut n = 0;
                            while n < 2
                                && let Some(d) = self.peek(0).and_then(|c| c.to_digit(16))
                            {
                                v = v * 16 + d;
                                self.i += 1;
                                n += 1;
                            }
                            out.extend(char::from_u32(v));
                        }
                        Some(d @ '0'..='7') => {
                            let mut v = d.to_digit(8).unwrap_or(0);
                            let mut n = 0;
                            while n < 2
                                && let Some(d) = self.peek(0).and_then(|c| c.to_digit(8))
                            {
                                v = v * 8 + d;
                                self.i += 1;
                                n += 1;
                            }
                            out.extend(char::from_u32(v));
                        }
                        Some(c) => out.push(c),
                        None => {}
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

/// A here-document's body with an unquoted delimiter: expansions happen, quotes are text.
pub fn heredoc_word(body: &str) -> Result<Word, LexError> {
    let mut l = Lexer {
        s: body.chars().collect(),
        i: 0,
        toks: Vec::new(),
        pending_heredocs: Vec::new(),
        in_test: false,
        at_start: false,
        depth: 0,
    };
    let mut parts = Vec::new();
    l.double_quoted(&mut parts, true)?;
    Ok(Word(parts))
}

/// The inside of `${...}`.
fn braced_var(inner: &str, quoted: bool, depth: usize) -> Result<Part, LexError> {
    if depth > MAX_NESTING {
        return Err(LexError(format!(
            "parameter expansions nested deeper than {MAX_NESTING}"
        )));
    }
    if let Some(rest) = inner.strip_prefix('#')
        && !rest.is_empty()
    {
        return Ok(Part::Var {
            name: rest.to_string(),
            op: VarOp::Opaque,
            quoted,
        });
    }
    let name_len = inner
        .char_indices()
        .find(|(i, c)| {
            !(c.is_ascii_alphanumeric() || *c == '_' || (*i == 0 && "@*#?$!-".contains(*c)))
        })
        .map_or(inner.len(), |(i, _)| i);
    let (name, rest) = inner.split_at(name_len);
    if name.is_empty() {
        return Err(LexError(format!("bad substitution ${{{inner}}}")));
    }
    let word = |w: &str| -> Result<Word, LexError> {
        let mut l = Lexer {
            s: w.chars().collect(),
            i: 0,
            toks: Vec::new(),
            pending_heredocs: Vec::new(),
            in_test: true,
            at_start: false,
            depth,
        };
        // The operand is one word, blanks included.
        let mut parts = Vec::new();
        while l.i < l.s.len() {
            let before = l.i;
            let Word(mut p) = l.read_word()?;
            parts.append(&mut p);
            if l.i == before {
                parts.push(Part::Lit(l.s[l.i].to_string()));
                l.i += 1;
            }
        }
        Ok(Word(parts))
    };
    let op = if rest.is_empty() {
        VarOp::Plain
    } else if let Some(w) = rest.strip_prefix(":-").or_else(|| rest.strip_prefix(":=")) {
        VarOp::Default(word(w)?, true)
    } else if let Some(w) = rest.strip_prefix('-').or_else(|| rest.strip_prefix('=')) {
        VarOp::Default(word(w)?, false)
    } else if let Some(w) = rest.strip_prefix(":+").or_else(|| rest.strip_prefix('+')) {
        VarOp::Alternative(word(w)?)
    } else {
        VarOp::Opaque
    };
    Ok(Part::Var {
        name: name.to_string(),
        op,
        quoted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(src: &str) -> Vec<String> {
        lex(src)
            .unwrap()
            .into_iter()
            .map(|t| match t {
                Tok::Word(w) => w.to_string(),
                Tok::Op(o) => format!("{o:?}"),
                Tok::Redir(r) => format!("{:?}{}", r.kind, r.target),
            })
            .collect()
    }

    #[test]
    fn quoting_and_operators() {
        assert_eq!(words("r\\m -rf '/'"), ["rm", "-rf", "/"]);
        assert_eq!(
            words("a&&b||c|d;e&"),
            [
                "a",
                "And",
                "b",
                "Or",
                "c",
                "Pipe",
                "d",
                "Semi",
                "e",
                "Background"
            ]
        );
        assert_eq!(words("echo \"a $X b\""), ["echo", "a $X b"]);
        assert_eq!(
            words("echo $(rm -rf /) `x`"),
            ["echo", "$(rm -rf /)", "$(x)"]
        );
        assert_eq!(
            words("cat x 2>/dev/null >&2 > out"),
            ["cat", "x", "Write/dev/null", "Dup2", "Writeout"]
        );
        assert_eq!(
            words(":(){ :|:& };:"),
            [
                ":",
                "Open",
                "Close",
                "{",
                ":",
                "Pipe",
                ":",
                "Background",
                "}",
                "Semi",
                ":"
            ]
        );
        assert_eq!(words("sh <(curl x)"), ["sh", "<(curl x)"]);
        assert!(lex("echo 'unterminated").is_err());
        let deep = format!("echo {}x{}", "${X:-".repeat(5000), "}".repeat(5000));
        assert!(lex(&deep).is_err());
    }

    #[test]
    fn heredoc_bodies_are_attached() {
        let toks = lex("sh <<EOF\nrm -rf /\nEOF\necho done").unwrap();
        let Tok::Redir(r) = &toks[1] else {
            panic!("{toks:?}")
        };
        assert_eq!(r.body, "rm -rf /\n");
        assert_eq!(
            toks.last(),
            Some(&Tok::Word(Word(vec![Part::Lit("done".into())])))
        );
    }
}
