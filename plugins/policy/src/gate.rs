//! The grammar gate: shell text is accepted only when every construct in it belongs to the subset
//! the analyser models completely (README, "The shell the policy understands"); anything else is
//! refused here, with a reason naming the construct, before `lex`/`parse`/`analyse` see it. This is
//! what makes the policy sound by construction: the analyser never has to guess what a construct
//! outside the subset means (or which shell reads it: bash and dash agree on the whole subset).
//! It also bounds the work: length, nesting depth and words are counted against `Budget`.
//! It only reads characters; it knows nothing of programs or paths (that is `rules`).

/// Limits on what is analysed; past them the command is denied with the limit named.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Longest text (bytes).
    pub max_len: usize,
    /// Deepest nesting of `$(..)` and `(..)`.
    pub max_depth: usize,
    /// Most words in the whole text.
    pub max_words: usize,
}

pub const BUDGET: Budget = Budget {
    max_len: 16 * 1024,
    max_depth: 8,
    max_words: 2000,
};

/// Variables whose assignment changes how the shell (or every program) reads everything after it.
pub fn forbidden_var(name: &str) -> bool {
    matches!(
        name,
        "IFS"
            | "CDPATH"
            | "PATH"
            | "ENV"
            | "BASH_ENV"
            | "SHELLOPTS"
            | "BASHOPTS"
            | "GLOBIGNORE"
            | "PS4"
            | "PROMPT_COMMAND"
            | "HOME"
            | "OLDPWD"
            | "PWD"
            | "FPATH"
            | "PYTHONPATH"
            | "PYTHONSTARTUP"
            | "PYTHONHOME"
            | "NODE_OPTIONS"
            | "PERL5OPT"
            | "PERL5LIB"
            | "RUBYOPT"
            | "RUBYLIB"
            | "GIT_SSH"
            | "GIT_SSH_COMMAND"
            | "GIT_EXEC_PATH"
            | "GIT_CONFIG_GLOBAL"
            | "GIT_CONFIG_SYSTEM"
            | "GIT_CONFIG_COUNT"
            | "MAKEFLAGS"
            | "MFLAGS"
            | "SHELL"
            | "TMPDIR"
    ) || name.starts_with("LD_")
        || name.starts_with("DYLD_")
        || name.starts_with("BASH_FUNC_")
        || name.starts_with("GIT_CONFIG_")
}

/// Variables exported to a program (`X=v cmd`, `env X=v`, `export X=v`, `sudo X=v`) that the
/// allowed programs read as configuration: where they write, which compiler, linker, wrapper,
/// pager or options they use (`CARGO_TARGET_DIR=/etc`, `RUSTC_WRAPPER=sh`, `GOFLAGS=-toolexec=..`,
/// `TAR_OPTIONS`, `JAVA_TOOL_OPTIONS`, `npm_config_script_shell`). The program list is closed, so
/// these families are knowable; `forbidden_var` names are refused too.
pub fn tool_config_var(name: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "CARGO",
        "RUST",
        "GO",
        "CGO_",
        "NPM_",
        "npm_",
        "YARN",
        "PNPM",
        "NODE_",
        "PIP_",
        "PYTHON",
        "VIRTUAL_ENV",
        "BUNDLE",
        "GEM_",
        "RUBY",
        "MAVEN",
        "M2_",
        "GRADLE",
        "JAVA",
        "_JAVA",
        "JDK_",
        "DOTNET",
        "GIT",
        "MAKE",
        "CURL",
        "WGET",
        "SSL_",
        "TAR_",
        "GZIP",
        "BZIP",
        "XZ_",
        "ZIP",
        "UNZIP",
        "LESS",
        "PAGER",
        "EDITOR",
        "VISUAL",
        "SSH",
        "SUDO",
        "PERL",
        "XDG_",
        "COMPOSER",
        "PHP",
        "SYSTEMD",
        "DBUS",
    ];
    const EXACT: &[&str] = &[
        "CC",
        "CXX",
        "CPP",
        "AR",
        "AS",
        "LD",
        "NM",
        "RANLIB",
        "CFLAGS",
        "CXXFLAGS",
        "CPPFLAGS",
        "LDFLAGS",
        "LIBS",
        "TMP",
        "TEMP",
        "BROWSER",
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
    ];
    if forbidden_var(name) {
        return true;
    }
    // `NODE_ENV`, `RAILS_ENV`, `GO_ENV`: the environment's name, read as data.
    if name.ends_with("_ENV") {
        return false;
    }
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Reserved words outside the subset (bare, anywhere: the gate does not track command position,
/// so `echo case` is refused too; quoting the word makes it an ordinary argument).
const REFUSED_WORDS: &[(&str, &str)] = &[
    ("case", "`case` statements"),
    ("esac", "`case` statements"),
    ("function", "function definitions"),
    ("coproc", "`coproc`"),
    ("select", "`select` loops"),
    ("[[", "`[[ .. ]]` (bash-only tests; use `[ .. ]`)"),
    ("]]", "`[[ .. ]]` (bash-only tests; use `[ .. ]`)"),
];

struct Scan<'a> {
    s: &'a [u8],
    i: usize,
    budget: Budget,
    words: usize,
}

type R<T> = Result<T, String>;

/// Checks `src` against the subset; `Err` is the deny reason.
pub fn check(src: &str, budget: Budget) -> R<()> {
    if src.len() > budget.max_len {
        return Err(format!(
            "command text longer than {} bytes; too long to analyse (policy budget)",
            budget.max_len
        ));
    }
    let mut sc = Scan {
        s: src.as_bytes(),
        i: 0,
        budget,
        words: 0,
    };
    sc.list(0, false)?;
    Ok(())
}

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn is_name(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// Characters that end an unquoted word.
fn is_break(c: u8) -> bool {
    matches!(
        c,
        b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')'
    )
}

impl Scan<'_> {
    fn peek(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }

    /// A sequence of words and operators, up to the end (or, with `sub`, the `)` closing a `$(`).
    /// `depth` counts the `$(..)`/`(..)` around it.
    fn list(&mut self, depth: usize, sub: bool) -> R<()> {
        if depth > self.budget.max_depth {
            return Err(format!(
                "commands nested more than {} deep ($(..) / (..)); too deep to analyse (policy budget)",
                self.budget.max_depth
            ));
        }
        let mut prev_bare: Option<String> = None;
        while let Some(c) = self.peek(0) {
            match c {
                b' ' | b'\t' => {
                    self.i += 1;
                    continue;
                }
                b'\n' => self.i += 1,
                b'#' => {
                    if sub {
                        return Err(
                            "a `#` comment inside `$(..)` (comments are only accepted outside substitutions)"
                                .into(),
                        );
                    }
                    while let Some(c) = self.peek(0) {
                        if c == b'\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                b';' => {
                    if matches!(self.peek(1), Some(b';' | b'&')) {
                        return Err("`;;`/`;&` (`case` statements)".into());
                    }
                    self.i += 1;
                }
                b'&' => match self.peek(1) {
                    Some(b'>') => {
                        return Err("`&>` redirection (bash-only; dash reads it as `&` then `>`; write `>f 2>&1`)".into());
                    }
                    Some(b'&') => self.i += 2,
                    _ => self.i += 1,
                },
                b'|' => match self.peek(1) {
                    Some(b'&') => return Err("`|&` (bash-only; write `2>&1 |`)".into()),
                    Some(b'|') => self.i += 2,
                    _ => self.i += 1,
                },
                b'<' => self.redir_in()?,
                b'>' => self.redir_out()?,
                b'(' => {
                    if self.peek(1) == Some(b'(') {
                        return Err("arithmetic `((..))`".into());
                    }
                    self.i += 1;
                    self.list(depth + 1, true)?;
                    // `list` stopped at the matching `)`.
                    if self.peek(0) != Some(b')') {
                        return Err("cannot parse the command: a `(` is not closed".into());
                    }
                    self.i += 1;
                }
                b')' => {
                    if sub {
                        return Ok(());
                    }
                    return Err("cannot parse the command: a `)` without its `(`".into());
                }
                _ => {
                    let w = self.word(depth)?;
                    self.words += 1;
                    if self.words > self.budget.max_words {
                        return Err(format!(
                            "more than {} words; too long to analyse (policy budget)",
                            self.budget.max_words
                        ));
                    }
                    if let Some(bare) = &w {
                        if let Some((_, what)) = REFUSED_WORDS.iter().find(|(k, _)| k == bare) {
                            return Err(format!(
                                "{what} are outside the shell subset the policy understands"
                            ));
                        }
                        if prev_bare.as_deref() == Some("for") && forbidden_var(bare) {
                            return Err(format!(
                                "a loop assigning `{bare}`, which changes how every later command is read"
                            ));
                        }
                    }
                    prev_bare = w;
                    continue;
                }
            }
            prev_bare = None;
        }
        if sub {
            return Err("cannot parse the command: a `$(` or `(` is not closed".into());
        }
        Ok(())
    }

    fn redir_in(&mut self) -> R<()> {
        match self.peek(1) {
            Some(b'(') => Err("process substitution `<(..)`".into()),
            Some(b'<') => Err(if self.peek(2) == Some(b'<') {
                "here-strings `<<<` (bash-only)".into()
            } else {
                "here-documents `<<` (write the file in the project instead)".into()
            }),
            Some(b'>') => Err("`<>` redirection".into()),
            Some(b'&') => {
                self.i += 2;
                self.dup_target()
            }
            _ => {
                self.i += 1;
                Ok(())
            }
        }
    }

    fn redir_out(&mut self) -> R<()> {
        match self.peek(1) {
            Some(b'(') => Err("process substitution `>(..)`".into()),
            Some(b'|') => Err("`>|` redirection".into()),
            Some(b'&') => {
                self.i += 2;
                self.dup_target()
            }
            Some(b'>') => {
                if self.peek(2) == Some(b'&') {
                    return Err("`>>&` redirection".into());
                }
                self.i += 2;
                Ok(())
            }
            _ => {
                self.i += 1;
                Ok(())
            }
        }
    }

    /// After `>&`/`<&`: a file descriptor number or `-` (bash's `>&file` is refused).
    fn dup_target(&mut self) -> R<()> {
        while matches!(self.peek(0), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        let start = self.i;
        while matches!(self.peek(0), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        if self.i == start && self.peek(0) == Some(b'-') {
            self.i += 1;
        }
        if self.i == start || self.peek(0).is_some_and(|c| !is_break(c)) {
            return Err(
                "`>&`/`<&` followed by something other than a file descriptor number (`>&file` is bash-only)"
                    .into(),
            );
        }
        Ok(())
    }

    /// One word; returns its text when it is bare (no quoting, no expansion) for reserved-word checks.
    fn word(&mut self, depth: usize) -> R<Option<String>> {
        let start = self.i;
        let mut bare = true;
        // `{}` alone is a literal word (`find -exec .. {} ;`), the same in every shell.
        if self.s[self.i..].starts_with(b"{}") && self.peek(2).is_none_or(is_break) {
            self.i += 2;
            return Ok(Some("{}".into()));
        }
        if self.peek(0) == Some(b'~') {
            let next = self.peek(1);
            if !(next.is_none_or(is_break) || next == Some(b'/')) {
                return Err("`~user` home-directory expansion".into());
            }
        }
        while let Some(c) = self.peek(0) {
            if is_break(c) {
                if c == b'(' && self.i > start {
                    return Err(format!(
                        "`{}(` (function definitions and bash extended globs are outside the subset)",
                        String::from_utf8_lossy(&self.s[start..self.i])
                    ));
                }
                break;
            }
            match c {
                b'\'' => {
                    bare = false;
                    self.i += 1;
                    loop {
                        match self.peek(0) {
                            None => {
                                return Err(
                                    "cannot parse the command: an unterminated `'` quote".into()
                                );
                            }
                            Some(b'\'') => break,
                            Some(c) => {
                                control(c)?;
                                self.i += 1;
                            }
                        }
                    }
                    self.i += 1;
                }
                b'"' => {
                    bare = false;
                    self.i += 1;
                    self.double(depth)?;
                }
                b'\\' => {
                    bare = false;
                    match self.peek(1) {
                        None => return Err("cannot parse the command: a `\\` at the end".into()),
                        Some(c) => control(c)?,
                    }
                    self.i += 2;
                }
                b'$' => {
                    bare = false;
                    self.dollar(depth)?;
                }
                b'`' => {
                    return Err("backtick command substitution (bash and dash read backslashes in it differently; use `$(..)`)".into());
                }
                // `{}` is never a brace expansion (`xargs -I{}`, `find -exec .. {} ;`).
                b'{' if self.peek(1) == Some(b'}') => self.i += 2,
                b'{' | b'}' => {
                    return Err("an unquoted `{` or `}` (brace groups and brace expansion are outside the subset; quote it)".into());
                }
                b'#' => self.i += 1,
                b'~' if self.peek(1).is_some_and(is_name) => {
                    return Err("`~user` home-directory expansion".into());
                }
                c => {
                    control(c)?;
                    self.i += 1;
                }
            }
        }
        let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        // `NAME=..` / `NAME+=..`: assignments (or `export NAME=..`, `env NAME=..` arguments).
        let name_len = text.bytes().take_while(|c| is_name(*c)).count();
        if name_len > 0 && is_name_start(text.as_bytes()[0]) {
            let (name, rest) = text.split_at(name_len);
            if rest.starts_with("+=") {
                return Err(format!("`{name}+=` (bash-only append assignment)"));
            }
            if rest.starts_with('=') && forbidden_var(name) {
                return Err(format!(
                    "assigning `{name}`, which changes how later commands or programs are found or read"
                ));
            }
        }
        Ok(bare.then_some(text))
    }

    /// Inside `"..."`, after the opening quote; stops after the closing one.
    fn double(&mut self, depth: usize) -> R<()> {
        loop {
            match self.peek(0) {
                None => return Err("cannot parse the command: an unterminated `\"` quote".into()),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    if self.peek(1).is_none() {
                        return Err("cannot parse the command: a `\\` at the end".into());
                    }
                    self.i += 2;
                }
                Some(b'$') => self.dollar(depth)?,
                Some(b'`') => {
                    return Err("backtick command substitution (bash and dash read backslashes in it differently; use `$(..)`)".into());
                }
                Some(c) => {
                    control(c)?;
                    self.i += 1;
                }
            }
        }
    }

    /// At a `$`.
    fn dollar(&mut self, depth: usize) -> R<()> {
        match self.peek(1) {
            Some(b'\'') => Err("`$'..'` quoting (bash-only; dash reads it differently)".into()),
            Some(b'"') => Err("`$\"..\"` quoting (bash-only locale strings)".into()),
            Some(b'(') => {
                if self.peek(2) == Some(b'(') {
                    return Err("arithmetic expansion `$((..))`".into());
                }
                self.i += 2;
                self.list(depth + 1, true)?;
                if self.peek(0) != Some(b')') {
                    return Err("cannot parse the command: a `$(` is not closed".into());
                }
                self.i += 1;
                Ok(())
            }
            Some(b'{') => {
                self.i += 2;
                let start = self.i;
                if self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                } else {
                    while self.peek(0).is_some_and(is_name) {
                        self.i += 1;
                    }
                }
                if self.i == start
                    || !self.s[start].is_ascii_alphanumeric() && self.s[start] != b'_'
                {
                    return Err("a parameter expansion `${..}` other than `${NAME}` (`${#..}`, `${!..}`, special parameters)".into());
                }
                match self.peek(0) {
                    Some(b'}') => {
                        self.i += 1;
                        Ok(())
                    }
                    Some(b':' | b'-') => {
                        // `${NAME:-literal}` / `${NAME-literal}` with a plain literal only.
                        if self.peek(0) == Some(b':') {
                            self.i += 1;
                        }
                        if self.peek(0) != Some(b'-') {
                            return Err(param_op());
                        }
                        self.i += 1;
                        while let Some(c) = self.peek(0) {
                            if c == b'}' {
                                self.i += 1;
                                return Ok(());
                            }
                            if !(c.is_ascii_alphanumeric() || b"_./:@%+,=-".contains(&c)) {
                                return Err(format!(
                                    "{} (the default of `${{NAME:-..}}` must be plain letters, digits and `_./:@%+,=-`)",
                                    param_op()
                                ));
                            }
                            self.i += 1;
                        }
                        Err("cannot parse the command: a `${` is not closed".into())
                    }
                    _ => Err(param_op()),
                }
            }
            Some(c) if is_name_start(c) => {
                self.i += 1;
                while self.peek(0).is_some_and(is_name) {
                    self.i += 1;
                }
                Ok(())
            }
            Some(b'0'..=b'9' | b'?' | b'$' | b'!' | b'#') => {
                self.i += 2;
                Ok(())
            }
            Some(b'[') => Err("`$[..]` arithmetic (bash-only)".into()),
            Some(b'@' | b'*' | b'-') => Err(
                "`$@`, `$*` or `$-` (the positional parameters / shell options are not modelled)"
                    .into(),
            ),
            // A lone `$` is a literal dollar sign.
            _ => {
                self.i += 1;
                Ok(())
            }
        }
    }
}

fn param_op() -> String {
    "a parameter expansion operator (`${X:=..}`, `${X#..}`, `${X/..}`, ...) outside the subset; only `${NAME}` and `${NAME:-literal}` are accepted".into()
}

/// Control characters (but tab and newline) are refused: shells and terminals disagree on them.
fn control(c: u8) -> R<()> {
    if (c < 0x20 && c != b'\t' && c != b'\n') || c == 0x7f {
        return Err(format!(
            "a control character (0x{c:02x}) in the command text"
        ));
    }
    Ok(())
}
