//! Turning JSON a front end received into typed requests, with errors that name the field: malformed
//! JSON and a body of the wrong kind are `invalid` with field `body`; a wrong type, an unknown or a
//! missing field names its path; no string or key may be longer than `MAX_FIELD_BYTES`. Also the one rule for `PUT`-style replacements (`replace_body`).

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Error, Result};

/// Longest string (or object key) accepted anywhere in a request: whatever a request carries may end up
/// stored (specs, job requests, audit rows), and one field must not make a row of megabytes.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// Parses a JSON document; a string or key longer than [`MAX_FIELD_BYTES`] is `invalid` naming it.
pub fn json(bytes: &[u8]) -> Result<Value> {
    let value = serde_json::from_slice(bytes)
        .map_err(|e| Error::invalid("body", format!("malformed JSON: {e}")))?;
    check_field_sizes(&value, &mut String::new())?;
    Ok(value)
}

/// Walks `value`; `path` is the field path so far (`pre_commands[0].command`, `env.KEY`).
fn check_field_sizes(value: &Value, path: &mut String) -> Result<()> {
    let too_long = |path: &str, len: usize| {
        let field = if path.is_empty() { "body" } else { path };
        Error::invalid(
            field,
            format!("at most {MAX_FIELD_BYTES} bytes (got {len})"),
        )
    };
    match value {
        Value::String(s) if s.len() > MAX_FIELD_BYTES => Err(too_long(path, s.len())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_field_sizes(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                if key.len() > MAX_FIELD_BYTES {
                    path.push_str(&key[..key.floor_char_boundary(64)]);
                    return Err(too_long(path, key.len()));
                }
                path.push_str(key);
                check_field_sizes(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Deserializes a request body (always a JSON object) into `T`; a shape error (wrong type, unknown or
/// missing field) names the field, or `body` when the value is not an object.
pub fn typed<T: DeserializeOwned>(value: Value) -> Result<T> {
    // Checked here because serde would also build a struct from an array of its fields in order.
    if !value.is_object() {
        return Err(Error::invalid("body", "expected a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.inner().to_string();
        let mut path = e.path().to_string();
        if let Some(unknown) = backticked_after(&inner, "unknown field ") {
            // The path already ends at the unknown field, except at the top level.
            if path == "." {
                path = unknown;
            }
        } else if let Some(missing) = backticked_after(&inner, "missing field ") {
            path = if path == "." {
                missing
            } else {
                format!("{path}.{missing}")
            };
        }
        let message = if inner.contains("untagged enum CommandLine") {
            "expected a string (run through /bin/sh -c) or an array of strings (argv)".to_string()
        } else {
            inner
        };
        Error::invalid(if path == "." { "body".into() } else { path }, message)
    })
}

pub(crate) fn backticked_after(text: &str, prefix: &str) -> Option<String> {
    let rest = text.strip_prefix(prefix)?.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_string())
}

/// The body of a replacement (`PUT /api/services/{name}`, `PUT /api/cron/{name}`) as a spec: the
/// view's read-only fields (`view_only`) are accepted and dropped, so GET, edit, PUT works; `name`
/// may be left out, and if given must be the one in the path (`what` cannot be renamed).
pub fn replace_body<T: DeserializeOwned>(
    name: &str,
    mut body: Value,
    view_only: &[&str],
    what: &str,
) -> Result<T> {
    let Some(obj) = body.as_object_mut() else {
        return Err(Error::invalid("body", "expected a JSON object"));
    };
    for field in view_only {
        obj.remove(*field);
    }
    match obj.get("name") {
        None => {
            obj.insert("name".into(), name.into());
        }
        Some(Value::String(n)) if n == name => {}
        Some(_) => {
            return Err(Error::invalid(
                "name",
                format!("must be {name:?}, as in the path ({what} cannot be renamed)"),
            ));
        }
    }
    typed(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Code, ServiceSpec};
    use serde_json::json;

    #[test]
    fn shape_errors_name_the_field_without_repeating_it() {
        let e = typed::<ServiceSpec>(json!({"name": "a", "command": 5})).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (Code::Invalid, Some("command"))
        );
        assert!(!e.message.starts_with("command"), "{}", e.message);
        let e = typed::<ServiceSpec>(json!({"command": "x"})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("name"));
        let e = typed::<ServiceSpec>(json!({"name": "a", "command": "x", "bogus": 1})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("bogus"));
        let e = typed::<ServiceSpec>(json!([1])).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"));
        let e = json(b"{not json").unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), (Code::Invalid, Some("body")));
    }

    #[test]
    fn replacements_drop_view_fields_and_keep_the_name() {
        let spec: ServiceSpec = replace_body(
            "web",
            json!({"command": "x", "status": "running"}),
            &["status"],
            "s",
        )
        .unwrap();
        assert_eq!(spec.name, "web");
        let e =
            replace_body::<ServiceSpec>("web", json!({"name": "api", "command": "x"}), &[], "s")
                .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("name"));
        assert!(e.message.starts_with("must be \"web\""), "{}", e.message);
        let e = replace_body::<ServiceSpec>("web", json!("x"), &[], "s").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"));
    }
}
