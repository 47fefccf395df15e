//! Secrets out of `.env`-like files (`.env`, `.env.*`, `*.env`) before a plugin sees them: every
//! `NAME=value` becomes `NAME=<redacted>` (an `export ` prefix, comments, blank lines and names
//! stay, so that a fixer can tell which variables are set), a multi-line quoted value is redacted
//! line by line to its closing quote, and a line that is none of these is redacted whole.
//! Templates meant to be committed (`.env.example`, `.env.sample`, `.env.template`, `.env.dist`)
//! are not secrets: they are how a fixer learns what a missing variable should be.

/// `.env.<suffix>` files that are templates, not secrets.
const TEMPLATES: [&str; 4] = ["example", "sample", "template", "dist"];

/// What replaces a value.
pub const REDACTED: &str = "<redacted>";

/// True for a file name whose values are redacted.
pub fn is_env_file(name: &str) -> bool {
    if name == ".env" {
        return true;
    }
    if let Some(suffix) = name.strip_prefix(".env.") {
        return !TEMPLATES.contains(&suffix);
    }
    name.ends_with(".env")
}

/// `text` with its values replaced, and whether anything was.
pub fn redact(text: &str) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut redacted = false;
    // Inside a quoted value that spans lines: the quote that ends it.
    let mut open: Option<char> = None;
    for line in text.split_inclusive('\n') {
        let (body, end) = split_ending(line);
        if let Some(q) = open {
            if body.contains(q) {
                open = None;
            }
            out.push_str(REDACTED);
            out.push_str(end);
            redacted = true;
            continue;
        }
        let trimmed = body.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            out.push_str(line);
            continue;
        }
        let unexported = trimmed.strip_prefix("export ").unwrap_or(trimmed);
        match unexported.split_once('=') {
            Some((name, value)) if is_name(name.trim()) => {
                let value = value.trim();
                if value.is_empty() {
                    out.push_str(line);
                    continue;
                }
                // Up to `=` and the spaces after it; the value and what trails it go.
                let keep = body.trim_end().len() - value.len();
                out.push_str(&body[..keep]);
                out.push_str(REDACTED);
                out.push_str(end);
                redacted = true;
                if let Some(q) = value.chars().next().filter(|c| *c == '"' || *c == '\'')
                    && !value[1..].contains(q)
                {
                    open = Some(q);
                }
            }
            _ => {
                out.push_str(REDACTED);
                out.push_str(end);
                redacted = true;
            }
        }
    }
    (out, redacted)
}

/// A line without its ending, and the ending (`\n`, `\r\n` or nothing).
fn split_ending(line: &str) -> (&str, &str) {
    if let Some(body) = line.strip_suffix("\r\n") {
        (body, "\r\n")
    } else if let Some(body) = line.strip_suffix('\n') {
        (body, "\n")
    } else {
        (line, "")
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}
