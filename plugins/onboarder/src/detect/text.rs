//! Small text helpers the detectors share: a command line as an argv (a shell only when the line
//! needs one), file names, `NAME=value` lines read for their names only.

/// Characters that make a command line need a shell (expansion, pipes, lists, redirections, quotes).
const SHELL: &[char] = &[
    '$', '&', '|', ';', '<', '>', '`', '*', '?', '(', ')', '"', '\'', '\\', '~', '{', '}', '#',
];

/// `line` as an argv: split on whitespace when that is all it takes, else `sh -c <line>` so that
/// `$PORT`, `&&` and quotes mean what they did where the line came from.
pub fn argv_of(line: &str) -> Vec<String> {
    let line = line.trim();
    let words: Vec<&str> = line.split_whitespace().collect();
    let assigns = words.first().is_some_and(|w| is_assignment(w));
    if line.contains(SHELL) || assigns {
        vec!["sh".into(), "-c".into(), line.into()]
    } else {
        words.into_iter().map(String::from).collect()
    }
}

/// `NAME=value` as a shell reads a leading assignment.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(n, _)| is_env_name(n))
}

/// A variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variable names an env-like text sets (`NAME=...`, `export NAME=...`), in order, each once.
/// Only names: the values are never looked at.
pub fn env_names(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        if let Some((name, _)) = line.split_once('=') {
            let name = name.trim();
            if is_env_name(name) && !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// The last component of a `/`-separated path.
pub fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `path` relative to `dir` (both root-relative), when it is inside it.
pub fn relative_to<'a>(path: &'a str, dir: &str) -> Option<&'a str> {
    if dir.is_empty() {
        Some(path)
    } else {
        path.strip_prefix(dir)?.strip_prefix('/')
    }
}

/// A word of a command line that names what it runs (`python3 cleanup.py --all` -> `cleanup`): the
/// first argument that looks like a file, else the program, without directories and extension.
pub fn short_name(argv: &[String]) -> String {
    let words: Vec<&str> = if argv.len() == 3 && argv[0] == "sh" && argv[1] == "-c" {
        argv[2].split_whitespace().collect()
    } else {
        argv.iter().map(String::as_str).collect()
    };
    let words: Vec<&str> = words
        .into_iter()
        .filter(|w| !w.starts_with('-') && !is_assignment(w) && *w != "cd" && *w != "&&")
        .collect();
    let pick = words
        .iter()
        .find(|w| w.contains('.') && !w.starts_with('/') && base_name(w).contains('.'))
        .or(words.iter().find(|w| w.contains('.')))
        .or(words.last())
        .copied()
        .unwrap_or("job");
    let base = base_name(pick);
    let stem = base.split('.').next().unwrap_or(base);
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let clean = clean.trim_matches('-');
    if clean.is_empty() {
        "job".into()
    } else {
        clean.into()
    }
}

/// The first quoted string (`"..."` or `'...'`) in `s`.
pub fn first_quoted(s: &str) -> Option<&str> {
    let start = s.find(['"', '\''])?;
    let q = s[start..].chars().next()?;
    let rest = &s[start + 1..];
    let end = rest.find(q)?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_split_and_shell_lines_keep_their_shell() {
        assert_eq!(argv_of("python3  web.py"), ["python3", "web.py"]);
        assert_eq!(
            argv_of("gunicorn app:app -b 0.0.0.0:$PORT"),
            ["sh", "-c", "gunicorn app:app -b 0.0.0.0:$PORT"]
        );
        assert_eq!(argv_of("FOO=1 python3 x.py")[0], "sh");
    }

    #[test]
    fn names_only_from_env_text() {
        let names = env_names("# c\nexport A=1\nB = 2\nnot a line\nA=3\n9X=1\n");
        assert_eq!(names, ["A", "B"]);
    }

    #[test]
    fn short_names_come_from_the_script() {
        let s = |l: &str| short_name(&argv_of(l));
        assert_eq!(s("python3 jobs/cleanup.py --all"), "cleanup");
        assert_eq!(s("cd /srv && ./bin/report.sh > /dev/null"), "report");
        assert_eq!(s("backup"), "backup");
    }
}
