//! Word expansion as the shell does it, as far as it can be known before running anything:
//! parameters (from the request's variables and assignments seen earlier), `~`, field splitting of
//! unquoted expansions, brace lists. What cannot be known (command output, unset variables,
//! arithmetic) makes the field *unknown*, with a note saying why, and whether it carries
//! downloaded content.

use crate::lex::{Part, VarOp, Word};

/// Why a value cannot be known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Why {
    /// How the user wrote it: `$X`, `$(curl ..)`.
    pub what: String,
    /// The value comes from a download (`$(curl ..)`, `<(wget ..)`): names the downloader.
    pub download: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    Known(String),
    Unknown(Why),
}

/// What expansion needs from the analyser.
pub trait Scope {
    /// A variable's single value (the analyser picks one alternative at a time).
    fn lookup(&mut self, name: &str) -> Lookup;
    /// Runs the analysis of a command or process substitution and says what its value is.
    fn substitute(&mut self, src: &str, process: bool) -> Lookup;
    /// `$HOME` for `~`.
    fn home(&mut self) -> Lookup {
        self.lookup("HOME")
    }
}

/// One expanded argument.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Field {
    /// The value; for an unknown field, a rendering of what it was written as.
    pub text: String,
    pub unknown: Option<Why>,
    /// Unquoted `*`, `?` or `[`: a pattern the shell expands to existing names.
    pub glob: bool,
}

impl Field {
    pub fn known(text: impl Into<String>) -> Field {
        Field {
            text: text.into(),
            ..Field::default()
        }
    }

    pub fn value(&self) -> Option<&str> {
        if self.unknown.is_none() {
            Some(&self.text)
        } else {
            None
        }
    }

    pub fn download(&self) -> Option<&str> {
        self.unknown.as_ref().and_then(|w| w.download.as_deref())
    }
}

#[derive(Default)]
struct Builder {
    fields: Vec<Field>,
    cur: Option<Field>,
    /// Unquoted `{` in the current field (a brace list candidate).
    brace: bool,
}

impl Builder {
    fn cur(&mut self) -> &mut Field {
        self.cur.get_or_insert_with(Field::default)
    }

    fn text(&mut self, s: &str, unquoted: bool) {
        if unquoted {
            if s.contains(['*', '?', '[']) {
                self.cur().glob = true;
            }
            if s.contains('{') {
                self.brace = true;
            }
        }
        self.cur().text.push_str(s);
    }

    fn unknown(&mut self, why: Why) {
        let f = self.cur();
        f.text.push_str(&why.what);
        match &mut f.unknown {
            None => f.unknown = Some(why),
            Some(old) => {
                if old.download.is_none() {
                    old.download = why.download;
                }
                old.what = f.text.clone();
            }
        }
    }

    /// An unquoted expansion's value: split on blanks into fields.
    fn split(&mut self, v: &str) {
        if v.is_empty() {
            return;
        }
        let starts_blank = v.starts_with(char::is_whitespace);
        let ends_blank = v.ends_with(char::is_whitespace);
        if starts_blank {
            self.end();
        }
        let pieces: Vec<&str> = v.split_whitespace().collect();
        for (i, p) in pieces.iter().enumerate() {
            if i > 0 {
                self.end();
            }
            self.text(p, true);
        }
        if ends_blank {
            self.end();
        }
    }

    fn end(&mut self) {
        if let Some(f) = self.cur.take() {
            if self.brace && f.unknown.is_none() {
                for text in brace_expand(&f.text) {
                    self.fields.push(Field { text, ..f.clone() });
                }
            } else {
                self.fields.push(f);
            }
        }
        self.brace = false;
    }
}

pub fn expand_words(words: &[Word], scope: &mut dyn Scope) -> Vec<Field> {
    let mut b = Builder::default();
    for w in words {
        expand_into(w, scope, &mut b, true);
        b.end();
    }
    b.fields
}

/// One word to exactly one field (assignment values, redirection targets: no splitting, no globs).
pub fn expand_one(word: &Word, scope: &mut dyn Scope) -> Field {
    let mut b = Builder::default();
    expand_into(word, scope, &mut b, false);
    let mut f = b.cur.take().unwrap_or_default();
    f.glob = false;
    f
}

fn expand_into(word: &Word, scope: &mut dyn Scope, b: &mut Builder, split: bool) {
    for (i, part) in word.0.iter().enumerate() {
        match part {
            Part::Lit(s) => {
                if i == 0
                    && let Some(rest) = s.strip_prefix('~')
                {
                    let (user, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                    if user.is_empty() {
                        match scope.home() {
                            Lookup::Known(h) => b.text(&h, false),
                            Lookup::Unknown(_) => b.unknown(Why {
                                what: "~".into(),
                                download: None,
                            }),
                        }
                    } else if user == "root" {
                        b.text("/root", false);
                    } else {
                        b.text(&format!("/home/{user}"), false);
                    }
                    b.text(tail, true);
                } else {
                    b.text(s, true);
                }
            }
            Part::Quoted(s) => {
                b.cur();
                b.text(s, false);
            }
            Part::Var { name, op, quoted } => {
                let value = parameter(name, op, scope);
                b.cur();
                match value {
                    Lookup::Known(v) if split && !quoted => b.split(&v),
                    Lookup::Known(v) => b.text(&v, false),
                    Lookup::Unknown(why) => b.unknown(why),
                }
            }
            Part::Subst { src, quoted } => {
                b.cur();
                match scope.substitute(src, false) {
                    Lookup::Known(v) if split && !quoted => b.split(&v),
                    Lookup::Known(v) => b.text(&v, false),
                    Lookup::Unknown(why) => b.unknown(why),
                }
            }
            Part::ProcSubst(src) => match scope.substitute(src, true) {
                Lookup::Known(v) => b.text(&v, false),
                Lookup::Unknown(why) => b.unknown(why),
            },
            Part::Arith(src) => b.unknown(Why {
                what: format!("$(({src}))"),
                download: None,
            }),
        }
    }
}

fn parameter(name: &str, op: &VarOp, scope: &mut dyn Scope) -> Lookup {
    let value = scope.lookup(name);
    match op {
        VarOp::Plain => value,
        VarOp::Default(word, colon) => match value {
            Lookup::Known(v) if !(*colon && v.is_empty()) => Lookup::Known(v),
            // Unset or empty: the default applies, but only when the variable is surely unset.
            Lookup::Known(_) => lookup_of(expand_one(word, scope)),
            Lookup::Unknown(why) => Lookup::Unknown(Why {
                what: format!("${{{name}:-{word}}}"),
                ..why
            }),
        },
        VarOp::Alternative(word) => match value {
            Lookup::Known(v) if v.is_empty() => Lookup::Known(String::new()),
            Lookup::Known(_) => lookup_of(expand_one(word, scope)),
            Lookup::Unknown(why) => Lookup::Unknown(why),
        },
        VarOp::Opaque => Lookup::Unknown(Why {
            what: format!("${{{name}...}}"),
            download: match value {
                Lookup::Unknown(w) => w.download,
                Lookup::Known(_) => None,
            },
        }),
    }
}

fn lookup_of(f: Field) -> Lookup {
    match f.unknown {
        None => Lookup::Known(f.text),
        Some(why) => Lookup::Unknown(why),
    }
}

/// `a{b,c}d` -> `abd acd`, nested and repeated; `{1..3}` -> `1 2 3`. At most 64 results.
pub fn brace_expand(s: &str) -> Vec<String> {
    const MAX: usize = 64;
    // Each group is one level of recursion: past a few dozen, leave the text as it is.
    if s.matches('{').count() > 32 {
        return vec![s.to_string()];
    }
    let chars: Vec<char> = s.chars().collect();
    let Some(open) = chars.iter().position(|&c| c == '{') else {
        return vec![s.to_string()];
    };
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut close = None;
    for (i, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            ',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![s.to_string()];
    };
    let prefix: String = chars[..open].iter().collect();
    let suffix: String = chars[close + 1..].iter().collect();
    let inner: String = chars[open + 1..close].iter().collect();
    let alternatives: Vec<String> = if commas.is_empty() {
        match inner.split_once("..") {
            Some((a, b)) if a.parse::<i64>().is_ok() && b.parse::<i64>().is_ok() => {
                let (a, b) = (a.parse::<i64>().unwrap_or(0), b.parse::<i64>().unwrap_or(0));
                let range: Vec<i64> = if a <= b {
                    (a..=b).take(MAX).collect()
                } else {
                    (b..=a).rev().take(MAX).collect()
                };
                range.into_iter().map(|n| n.to_string()).collect()
            }
            _ => {
                // Not a list: literal braces, but what follows may still hold one.
                return brace_expand(&suffix)
                    .into_iter()
                    .map(|rest| format!("{prefix}{{{inner}}}{rest}"))
                    .collect();
            }
        }
    } else {
        let mut parts = Vec::new();
        let mut start = open + 1;
        for &c in commas.iter().chain(std::iter::once(&close)) {
            parts.push(chars[start..c].iter().collect());
            start = c + 1;
        }
        parts
    };
    let mut out = Vec::new();
    for alt in alternatives {
        for e in brace_expand(&format!("{prefix}{alt}{suffix}")) {
            if out.len() >= MAX {
                return out;
            }
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lex::{Tok, lex};
    use std::collections::BTreeMap;

    struct Vars(BTreeMap<&'static str, &'static str>);

    impl Scope for Vars {
        fn lookup(&mut self, name: &str) -> Lookup {
            match self.0.get(name) {
                Some(v) => Lookup::Known(v.to_string()),
                None => Lookup::Unknown(Why {
                    what: format!("${name}"),
                    download: None,
                }),
            }
        }
        fn substitute(&mut self, src: &str, _: bool) -> Lookup {
            Lookup::Unknown(Why {
                what: format!("$({src})"),
                download: src.starts_with("curl").then(|| "curl".to_string()),
            })
        }
    }

    fn fields(src: &str) -> Vec<String> {
        let words: Vec<Word> = lex(src)
            .unwrap()
            .into_iter()
            .filter_map(|t| match t {
                Tok::Word(w) => Some(w),
                _ => None,
            })
            .collect();
        let mut vars = Vars(BTreeMap::from([
            ("F", "-rf /"),
            ("D", "build"),
            ("HOME", "/home/a"),
        ]));
        expand_words(&words, &mut vars)
            .into_iter()
            .map(|f| match f.unknown {
                None => f.text,
                Some(w) => format!("?{}{}", w.what, if w.download.is_some() { "!" } else { "" }),
            })
            .collect()
    }

    #[test]
    fn splitting_quoting_and_unknowns() {
        assert_eq!(fields("rm $F"), ["rm", "-rf", "/"]);
        assert_eq!(fields("rm \"$F\""), ["rm", "-rf /"]);
        assert_eq!(fields("x${D}y ~/z"), ["xbuildy", "/home/a/z"]);
        assert_eq!(fields("$NOPE \"$(curl x)\""), ["?$NOPE", "?$(curl x)!"]);
        assert_eq!(fields("${NOPE:-/}"), ["?${NOPE:-/}"]);
        assert_eq!(fields("${D:-/}"), ["build"]);
        assert_eq!(fields("'' x"), ["", "x"]);
        assert_eq!(fields("/{etc,usr}/x"), ["/etc/x", "/usr/x"]);
    }

    #[test]
    fn braces() {
        assert_eq!(brace_expand("a{b,c{d,e}}f"), ["abf", "acdf", "acef"]);
        assert_eq!(brace_expand("{1..3}"), ["1", "2", "3"]);
        assert_eq!(brace_expand("x{y}z"), ["x{y}z"]);
    }
}
