//! Command-line options the way getopt reads them, enough to tell flags, option values and operands
//! apart (`rm -rf x`, `rm -r -f x`, `rm --recursive -- x`, `sed -i.bak -e s/a/b/ f`).

use crate::expand::Field;

#[derive(Default)]
pub struct Opts<'a> {
    /// Flags as `-r` (each letter of a bundle on its own) or `--recursive`.
    pub flags: Vec<String>,
    /// Options with their values: (`-o`, value), (`--output`, value).
    pub values: Vec<(String, &'a Field)>,
    pub operands: Vec<&'a Field>,
    /// An argument that cannot be resolved came before `--`: it may be any option.
    pub unknown: bool,
}

impl<'a> Opts<'a> {
    pub fn has(&self, names: &[&str]) -> bool {
        self.flags.iter().any(|f| names.contains(&f.as_str()))
            || self.values.iter().any(|(f, _)| names.contains(&f.as_str()))
    }

    pub fn value(&self, names: &[&str]) -> Option<&'a Field> {
        self.values
            .iter()
            .rev()
            .find(|(f, _)| names.contains(&f.as_str()))
            .map(|(_, v)| *v)
    }

    pub fn all_values(&self, names: &[&str]) -> Vec<&'a Field> {
        self.values
            .iter()
            .filter(|(f, _)| names.contains(&f.as_str()))
            .map(|(_, v)| *v)
            .collect()
    }
}

/// How a command reads its options.
pub struct Spec<'s> {
    /// Short options that take a value (`o` for `-o FILE` / `-oFILE`).
    pub short_args: &'s str,
    /// Long options that take a value as the next argument (`--output FILE`; `--output=FILE` always works).
    pub long_args: &'s [&'s str],
    /// Options end at the first operand (wrappers: what follows is another command's).
    pub stop_at_operand: bool,
}

pub const NONE: Spec<'static> = Spec {
    short_args: "",
    long_args: &[],
    stop_at_operand: false,
};

pub fn parse<'a>(args: &'a [Field], spec: &Spec<'_>) -> Opts<'a> {
    let mut o = Opts::default();
    let mut i = 0;
    let mut only_operands = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_operands {
            o.operands.push(a);
            continue;
        }
        let Some(text) = a.value() else {
            // Names read by xargs are operands; anything else unresolved may be an option too.
            if a.text != super::XARGS_INPUT {
                o.unknown = true;
            }
            o.operands.push(a);
            if spec.stop_at_operand {
                only_operands = true;
            }
            continue;
        };
        if text == "--" {
            only_operands = true;
            continue;
        }
        if let Some(long) = text.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            // getopt_long takes any unambiguous prefix (`--rec` is `--recursive`): an abbreviation
            // counts as every option it abbreviates, the program's own and the dangerous ones.
            let own = resolve_long(name, spec.long_args);
            let mut names: Vec<String> = vec![format!("--{}", own.unwrap_or(name))];
            if !name.is_empty() {
                for d in super::allow::DANGEROUS_LONG {
                    if d.starts_with(name) && *d != name {
                        names.push(format!("--{d}"));
                    }
                }
            }
            if value {
                for n in names {
                    o.values.push((n, a));
                }
            } else if own.is_some() {
                match args.get(i) {
                    Some(v) => {
                        for n in names {
                            o.values.push((n, v));
                        }
                        i += 1;
                    }
                    None => o.flags.extend(names),
                }
            } else {
                o.flags.extend(names);
            }
            continue;
        }
        if text.len() > 1 && text.starts_with('-') {
            let letters: Vec<char> = text[1..].chars().collect();
            for (k, c) in letters.iter().enumerate() {
                let name = format!("-{c}");
                if spec.short_args.contains(*c) {
                    if k + 1 < letters.len() {
                        // `-oFILE`: the rest of the bundle is the value; `a` keeps the whole text.
                        o.values.push((name, a));
                    } else if let Some(v) = args.get(i) {
                        o.values.push((name, v));
                        i += 1;
                    } else {
                        o.flags.push(name);
                    }
                    break;
                }
                o.flags.push(name);
            }
            continue;
        }
        o.operands.push(a);
        if spec.stop_at_operand {
            only_operands = true;
        }
    }
    o
}

/// The value-taking long option `name` is, exactly or as the unique prefix of one (getopt).
fn resolve_long<'s>(name: &str, longs: &[&'s str]) -> Option<&'s str> {
    if let Some(l) = longs.iter().find(|l| **l == name) {
        return Some(l);
    }
    let mut hits = longs
        .iter()
        .filter(|l| !name.is_empty() && l.starts_with(name));
    match (hits.next(), hits.next()) {
        (Some(l), None) => Some(l),
        _ => None,
    }
}

/// The value of an option given as `--name=value` or `-oVALUE` (the field holds the whole argument),
/// or as the next argument (the field is the value).
pub fn value_text(name: &str, f: &Field) -> Field {
    let Some(text) = f.value() else {
        return f.clone();
    };
    // `--name=value`, `--abbrev=value`: the value is after the first `=`.
    if name.starts_with("--")
        && text.starts_with("--")
        && let Some((_, v)) = text.split_once('=')
    {
        return Field::known(v);
    }
    if let Some(long) = name.strip_prefix("--")
        && let Some(v) = text
            .strip_prefix("--")
            .and_then(|t| t.strip_prefix(long))
            .and_then(|t| t.strip_prefix('='))
    {
        return Field::known(v);
    }
    if let Some(short) = name.strip_prefix('-')
        && !name.starts_with("--")
        && text.starts_with('-')
        && text.len() > 2
        && let Some(pos) = text[1..].find(short)
    {
        let rest = &text[1 + pos + short.len()..];
        if !rest.is_empty() {
            return Field::known(rest);
        }
    }
    f.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(a: &[&str]) -> Vec<Field> {
        a.iter().map(|s| Field::known(*s)).collect()
    }

    #[test]
    fn bundles_values_and_operands() {
        let args = fields(&["-rf", "--output=x", "-oFILE", "a", "--", "-b"]);
        let o = parse(
            &args,
            &Spec {
                short_args: "o",
                long_args: &[],
                stop_at_operand: false,
            },
        );
        assert_eq!(o.flags, ["-r", "-f"]);
        let out = o.value(&["--output"]).unwrap();
        assert_eq!(value_text("--output", out).text, "x");
        assert_eq!(value_text("-o", o.value(&["-o"]).unwrap()).text, "FILE");
        let ops: Vec<&str> = o.operands.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(ops, ["a", "-b"]);
    }
}
