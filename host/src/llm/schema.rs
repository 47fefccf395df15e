//! The part of JSON Schema the gateway checks answers with: `type`, `enum`, `const`, `properties`,
//! `required`, `additionalProperties`, `items`, `minItems`/`maxItems`, `minLength`/`maxLength`,
//! `pattern`, `minimum`/`maximum` (and the exclusive forms), `anyOf`/`oneOf`/`allOf`/`not`, and
//! local `$ref`s (`#/...`). Other keywords are annotations here and pass. Written here rather than
//! taken from a crate: this subset is what tool and answer schemas use, and the full validators
//! bring dozens of dependencies for formats nobody asks a model for. Pure.

use serde_json::Value;

/// Deepest nesting followed (a `$ref` cycle or a hostile schema stops here).
const MAX_DEPTH: usize = 64;

/// Whether `schema` is something `validate` can use: an object (or `true`/`false`) whose keywords
/// have the right shapes and whose `pattern`s compile.
pub fn check(schema: &Value) -> Result<(), String> {
    check_at(schema, "", 0)
}

fn check_at(s: &Value, at: &str, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH} at {at:?}"));
    }
    let obj = match s {
        Value::Bool(_) => return Ok(()),
        Value::Object(o) => o,
        _ => return Err(format!("{}: a schema is an object", here(at))),
    };
    if let Some(t) = obj.get("type") {
        let ok = match t {
            Value::String(n) => TYPES.contains(&n.as_str()),
            Value::Array(a) => a
                .iter()
                .all(|n| n.as_str().is_some_and(|n| TYPES.contains(&n))),
            _ => false,
        };
        if !ok {
            return Err(format!("{}: unknown `type`", here(at)));
        }
    }
    if let Some(p) = obj.get("pattern") {
        let p = p
            .as_str()
            .ok_or_else(|| format!("{}: `pattern` is a string", here(at)))?;
        regex::Regex::new(p).map_err(|e| format!("{}: bad `pattern`: {e}", here(at)))?;
    }
    if let Some(props) = obj.get("properties") {
        let props = props
            .as_object()
            .ok_or_else(|| format!("{}: `properties` is an object", here(at)))?;
        for (k, v) in props {
            check_at(v, &format!("{at}/properties/{k}"), depth + 1)?;
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(v) = obj.get(key) {
            check_at(v, &format!("{at}/{key}"), depth + 1)?;
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(v) = obj.get(key) {
            let list = v
                .as_array()
                .ok_or_else(|| format!("{}: `{key}` is an array", here(at)))?;
            for (i, v) in list.iter().enumerate() {
                check_at(v, &format!("{at}/{key}/{i}"), depth + 1)?;
            }
        }
    }
    if let Some(r) = obj.get("required")
        && !r.as_array().is_some_and(|a| a.iter().all(Value::is_string))
    {
        return Err(format!("{}: `required` is an array of names", here(at)));
    }
    if let Some(r) = obj.get("$ref")
        && !r.as_str().is_some_and(|r| r.starts_with('#'))
    {
        return Err(format!(
            "{}: only local `$ref`s (#/...) are supported",
            here(at)
        ));
    }
    Ok(())
}

const TYPES: [&str; 7] = [
    "null", "boolean", "object", "array", "number", "integer", "string",
];

fn here(at: &str) -> &str {
    if at.is_empty() { "the schema" } else { at }
}

/// Whether `value` matches `schema`; the first mismatch with its place in the value.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    Validator { root: schema }.at(schema, value, "", 0)
}

struct Validator<'a> {
    root: &'a Value,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "integer" => v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        other => type_name(v) == other,
    }
}

fn place(at: &str) -> String {
    if at.is_empty() {
        "the answer".into()
    } else {
        at.to_string()
    }
}

impl Validator<'_> {
    fn at(&self, s: &Value, v: &Value, at: &str, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("{}: the schema nests too deep", place(at)));
        }
        let obj = match s {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => return Err(format!("{}: nothing is allowed here", place(at))),
            Value::Object(o) => o,
            _ => return Ok(()),
        };
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            let target = r
                .strip_prefix('#')
                .and_then(|p| self.root.pointer(p))
                .ok_or_else(|| format!("{}: `$ref` {r:?} points nowhere", place(at)))?;
            self.at(target, v, at, depth + 1)?;
        }
        match obj.get("type") {
            Some(Value::String(t)) if !is_type(v, t) => {
                return Err(format!("{}: expected {t}, got {}", place(at), type_name(v)));
            }
            Some(Value::Array(ts))
                if !ts.iter().any(|t| t.as_str().is_some_and(|t| is_type(v, t))) =>
            {
                return Err(format!(
                    "{}: {} is not an allowed type",
                    place(at),
                    type_name(v)
                ));
            }
            _ => {}
        }
        if let Some(c) = obj.get("const")
            && c != v
        {
            return Err(format!("{}: expected {c}", place(at)));
        }
        if let Some(Value::Array(e)) = obj.get("enum")
            && !e.contains(v)
        {
            return Err(format!("{}: not one of the allowed values", place(at)));
        }
        match v {
            Value::Object(o) => {
                let props = obj.get("properties").and_then(Value::as_object);
                if let Some(Value::Array(req)) = obj.get("required") {
                    for k in req.iter().filter_map(Value::as_str) {
                        if !o.contains_key(k) {
                            return Err(format!("{}: `{k}` is missing", place(at)));
                        }
                    }
                }
                for (k, item) in o {
                    let sub = format!("{at}/{k}");
                    match props.and_then(|p| p.get(k)) {
                        Some(ps) => self.at(ps, item, &sub, depth + 1)?,
                        None => {
                            if let Some(extra) = obj.get("additionalProperties") {
                                if extra == &Value::Bool(false) {
                                    return Err(format!("{}: `{k}` is not allowed", place(at)));
                                }
                                self.at(extra, item, &sub, depth + 1)?;
                            }
                        }
                    }
                }
            }
            Value::Array(a) => {
                if let Some(min) = obj.get("minItems").and_then(Value::as_u64)
                    && (a.len() as u64) < min
                {
                    return Err(format!("{}: fewer than {min} items", place(at)));
                }
                if let Some(max) = obj.get("maxItems").and_then(Value::as_u64)
                    && (a.len() as u64) > max
                {
                    return Err(format!("{}: more than {max} items", place(at)));
                }
                if let Some(items) = obj.get("items") {
                    for (i, item) in a.iter().enumerate() {
                        self.at(items, item, &format!("{at}/{i}"), depth + 1)?;
                    }
                }
            }
            Value::String(t) => {
                let n = t.chars().count() as u64;
                if let Some(min) = obj.get("minLength").and_then(Value::as_u64)
                    && n < min
                {
                    return Err(format!("{}: shorter than {min} characters", place(at)));
                }
                if let Some(max) = obj.get("maxLength").and_then(Value::as_u64)
                    && n > max
                {
                    return Err(format!("{}: longer than {max} characters", place(at)));
                }
                if let Some(p) = obj.get("pattern").and_then(Value::as_str)
                    && let Ok(re) = regex::Regex::new(p)
                    && !re.is_match(t)
                {
                    return Err(format!("{}: does not match the pattern", place(at)));
                }
            }
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                let bound = |k: &str| obj.get(k).and_then(Value::as_f64);
                if bound("minimum").is_some_and(|m| x < m)
                    || bound("exclusiveMinimum").is_some_and(|m| x <= m)
                    || bound("maximum").is_some_and(|m| x > m)
                    || bound("exclusiveMaximum").is_some_and(|m| x >= m)
                {
                    return Err(format!("{}: {x} is out of range", place(at)));
                }
            }
            _ => {}
        }
        if let Some(Value::Array(all)) = obj.get("allOf") {
            for s in all {
                self.at(s, v, at, depth + 1)?;
            }
        }
        if let Some(Value::Array(any)) = obj.get("anyOf") {
            let mut first = None;
            for s in any {
                match self.at(s, v, at, depth + 1) {
                    Ok(()) => {
                        first = None;
                        break;
                    }
                    Err(e) => {
                        first.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first {
                return Err(format!(
                    "{}: matches none of the alternatives ({e})",
                    place(at)
                ));
            }
        }
        if let Some(Value::Array(one)) = obj.get("oneOf") {
            let n = one
                .iter()
                .filter(|s| self.at(s, v, at, depth + 1).is_ok())
                .count();
            if n != 1 {
                return Err(format!(
                    "{}: matches {n} of the alternatives, not exactly one",
                    place(at)
                ));
            }
        }
        if let Some(not) = obj.get("not")
            && self.at(not, v, at, depth + 1).is_ok()
        {
            return Err(format!("{}: matches a forbidden schema", place(at)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_types_and_alternatives() {
        let s = json!({
            "type": "object",
            "properties": {
                "diagnosis": {"type": "string", "minLength": 1},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "edits": {"type": "array", "items": {"$ref": "#/$defs/edit"}},
                "kind": {"enum": ["a", "b"]}
            },
            "required": ["diagnosis"],
            "additionalProperties": false,
            "$defs": {"edit": {"type": "object", "required": ["path"], "properties": {"path": {"type": "string"}}}}
        });
        check(&s).unwrap();
        validate(
            &s,
            &json!({"diagnosis": "x", "confidence": 0.5, "edits": [{"path": "a"}], "kind": "a"}),
        )
        .unwrap();
        for (bad, needle) in [
            (json!({"confidence": 0.5}), "`diagnosis` is missing"),
            (json!({"diagnosis": ""}), "/diagnosis: shorter"),
            (json!({"diagnosis": "x", "confidence": 2}), "/confidence"),
            (
                json!({"diagnosis": "x", "edits": [{}]}),
                "/edits/0: `path` is missing",
            ),
            (
                json!({"diagnosis": "x", "other": 1}),
                "`other` is not allowed",
            ),
            (json!({"diagnosis": "x", "kind": "c"}), "/kind"),
            (json!([1]), "expected object"),
        ] {
            let e = validate(&s, &bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
        let any = json!({"anyOf": [{"const": 1}, {"type": "string"}]});
        validate(&any, &json!(1)).unwrap();
        validate(&any, &json!("s")).unwrap();
        assert!(validate(&any, &json!(2)).is_err());
        let int = json!({"type": "integer"});
        validate(&int, &json!(3)).unwrap();
        assert!(validate(&int, &json!(3.5)).is_err());
    }

    #[test]
    fn malformed_schemas_are_refused() {
        assert!(check(&json!({"type": "strin"})).is_err());
        assert!(check(&json!({"pattern": "("})).is_err());
        assert!(check(&json!({"properties": {"a": 3}})).is_err());
        assert!(check(&json!({"$ref": "http://x"})).is_err());
    }
}
