//! The part of YAML a docker-compose file uses: block maps and sequences by indentation, plain and
//! quoted scalars, flow sequences (`["CMD", "curl"]`), flow maps kept as text, block scalars
//! (`|`, `>`), comments. Anchors, tags and multi-document streams are read as plain text, never
//! followed: the detector only wants hints, and a wrong hint is worse than none.

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
    Null,
}

impl Value {
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(String, Value)] {
        match self {
            Value::Map(m) => m,
            _ => &[],
        }
    }

    /// A string as one item, a list as its string items.
    pub fn strings(&self) -> Vec<String> {
        match self {
            Value::Str(s) => vec![s.clone()],
            Value::List(l) => l
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        }
    }
}

struct Line<'a> {
    indent: usize,
    text: &'a str,
}

/// The document's value; text it cannot read becomes strings, never an error.
pub fn parse(src: &str) -> Value {
    let lines: Vec<Line> = src
        .lines()
        .filter_map(|l| {
            let text = strip_comment(l).trim_end();
            let trimmed = text.trim_start();
            if trimmed.is_empty() || trimmed == "---" || trimmed == "..." {
                return None;
            }
            Some(Line {
                indent: text.len() - trimmed.len(),
                text: trimmed,
            })
        })
        .collect();
    let mut i = 0;
    block(&lines, &mut i, 0)
}

/// The value of the block starting at `lines[*i]` (indented at least `min`).
fn block(lines: &[Line], i: &mut usize, min: usize) -> Value {
    let Some(first) = lines.get(*i) else {
        return Value::Null;
    };
    if first.indent < min {
        return Value::Null;
    }
    let indent = first.indent;
    if first.text.starts_with("- ") || first.text == "-" {
        let mut items = Vec::new();
        while let Some(l) = lines.get(*i) {
            if l.indent != indent || !(l.text.starts_with("- ") || l.text == "-") {
                break;
            }
            let rest = l.text[1..].trim_start();
            *i += 1;
            if rest.is_empty() {
                items.push(block(lines, i, indent + 1));
            } else if key_value(rest).is_some() {
                // `- key: value` starts a map whose other keys sit under `key`.
                let inner = indent + (l.text.len() - rest.len());
                let mut map = Vec::new();
                entry(lines, i, rest, inner, &mut map);
                while let Some(n) = lines.get(*i) {
                    if n.indent != inner || n.text.starts_with("- ") {
                        break;
                    }
                    *i += 1;
                    entry(lines, i, n.text, inner, &mut map);
                }
                items.push(Value::Map(map));
            } else {
                items.push(scalar(rest));
            }
        }
        return Value::List(items);
    }
    if key_value(first.text).is_some() {
        let mut map = Vec::new();
        while let Some(l) = lines.get(*i) {
            if l.indent != indent || key_value(l.text).is_none() {
                break;
            }
            *i += 1;
            entry(lines, i, l.text, indent, &mut map);
        }
        return Value::Map(map);
    }
    *i += 1;
    scalar(first.text)
}

/// One `key: value` line (the value may be the block under it) into `map`.
fn entry(lines: &[Line], i: &mut usize, text: &str, indent: usize, map: &mut Vec<(String, Value)>) {
    let Some((key, rest)) = key_value(text) else {
        return;
    };
    let value = if rest.is_empty() {
        // A sequence may sit at the key's own indentation.
        match lines.get(*i) {
            Some(n) if n.indent > indent => block(lines, i, indent + 1),
            Some(n) if n.indent == indent && n.text.starts_with('-') => block(lines, i, indent),
            _ => Value::Null,
        }
    } else if rest.starts_with('|') || rest.starts_with('>') {
        let mut text = Vec::new();
        while let Some(n) = lines.get(*i) {
            if n.indent <= indent {
                break;
            }
            text.push(n.text);
            *i += 1;
        }
        let sep = if rest.starts_with('|') { "\n" } else { " " };
        Value::Str(text.join(sep))
    } else {
        scalar(rest)
    };
    map.push((key, value));
}

/// `key: rest` (rest may be empty), the key unquoted.
fn key_value(text: &str) -> Option<(String, &str)> {
    let (key, rest) = if let Some(q) = text.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = text[1..].find(q)? + 1;
        let after = text[end + 1..].strip_prefix(':')?;
        (text[1..end].to_string(), after)
    } else {
        let at = text
            .find(": ")
            .or_else(|| text.ends_with(':').then(|| text.len() - 1))?;
        let key = &text[..at];
        if key.is_empty() || key.contains(['[', '{', '"', '\'']) {
            return None;
        }
        (key.to_string(), &text[at + 1..])
    };
    if !rest.is_empty() && !rest.starts_with(' ') {
        return None;
    }
    Some((key.trim().to_string(), rest.trim()))
}

fn scalar(text: &str) -> Value {
    let t = text.trim();
    if let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return Value::List(split_flow(inner).into_iter().map(|s| unquote(&s)).collect());
    }
    if t == "~" || t == "null" {
        return Value::Null;
    }
    unquote(t)
}

fn unquote(s: &str) -> Value {
    let s = s.trim();
    let inner = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')));
    match inner {
        Some(i) => Value::Str(i.replace("\\\"", "\"").replace("''", "'")),
        None => Value::Str(s.to_string()),
    }
}

/// The items of a flow sequence's inside, split on commas outside quotes.
fn split_flow(inner: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in inner.chars() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), _) if c == q => {
                quote = None;
                cur.push(c);
            }
            (None, ',') => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// `line` without a `#` comment (one outside quotes, at the start or after a space).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (at, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') if prev == ' ' || prev == '[' || prev == ',' || prev == ':' => {
                quote = Some(c)
            }
            (Some(q), _) if c == q => quote = None,
            (None, '#') if prev.is_whitespace() => return &line[..at],
            _ => {}
        }
        prev = c;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_compose_file() {
        let doc = parse(
            "version: '3.8'\n\
             services:\n\
             \x20 web:\n\
             \x20   build: .\n\
             \x20   command: uvicorn app.main:app --host 0.0.0.0 --port 8000  # dev\n\
             \x20   ports:\n\
             \x20     - \"8000:8000\"\n\
             \x20   environment:\n\
             \x20     - DATABASE_URL=postgres://db/app\n\
             \x20     - DEBUG=1\n\
             \x20   healthcheck:\n\
             \x20     test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:8000/health\"]\n\
             \x20 db:\n\
             \x20   image: postgres:16\n\
             \x20   environment:\n\
             \x20     POSTGRES_PASSWORD: x\n",
        );
        let web = doc.get("services").unwrap().get("web").unwrap();
        assert_eq!(web.get("build").unwrap().as_str(), Some("."));
        assert_eq!(
            web.get("command").unwrap().as_str(),
            Some("uvicorn app.main:app --host 0.0.0.0 --port 8000")
        );
        assert_eq!(web.get("ports").unwrap().strings(), ["8000:8000"]);
        assert_eq!(web.get("environment").unwrap().strings().len(), 2);
        assert_eq!(
            web.get("healthcheck")
                .unwrap()
                .get("test")
                .unwrap()
                .strings(),
            ["CMD", "curl", "-f", "http://localhost:8000/health"]
        );
        let db = doc.get("services").unwrap().get("db").unwrap();
        assert_eq!(db.get("image").unwrap().as_str(), Some("postgres:16"));
        assert_eq!(
            db.get("environment").unwrap().entries()[0].0,
            "POSTGRES_PASSWORD"
        );
    }

    #[test]
    fn list_items_that_are_maps_and_sequences_at_key_indent() {
        let doc = parse("a:\n- x: 1\n  y: 2\n- plain\nb: |\n  one\n  two\n");
        let a = doc.get("a").unwrap();
        match a {
            Value::List(items) => {
                assert_eq!(items[0].get("y").unwrap().as_str(), Some("2"));
                assert_eq!(items[1].as_str(), Some("plain"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(doc.get("b").unwrap().as_str(), Some("one\ntwo"));
    }
}
