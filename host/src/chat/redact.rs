//! What of tend's data may reach a model: a service's definition with its environment (and Caddy
//! header) values replaced by their names, and the `Redactor`, which scrubs every configured env
//! value (services' `env`, cron jobs' `env_vars`, both's `env_file`, Caddy headers) and every LLM key
//! out of any text before it is sent (a service may print its own secret to its log). Pure apart
//! from reading the current definitions and env files once per exchange.

use std::path::Path;

use serde_json::Value;

use crate::ops::Ops;
use crate::spec;
use crate::wire::ServiceView;

/// Values shorter than this are not scrubbed from free text: `PORT=8080` or `DEBUG=1` would mangle
/// every log line and hide nothing (they still never appear as values in a definition).
const MIN_SECRET: usize = 4;

/// Replaces the object at `field` with the list of its keys.
pub fn names_only(v: &mut Value, field: &str) {
    if let Some(obj) = v.get_mut(field).and_then(Value::as_object_mut) {
        let names: Vec<Value> = obj.keys().cloned().map(Value::String).collect();
        v[field] = Value::Array(names);
    }
}

/// A service's view as the model may see it: env and Caddy header values left out (names only).
pub fn service_view(view: &ServiceView) -> Value {
    let mut v = serde_json::to_value(view).unwrap_or(Value::Null);
    names_only(&mut v, "env");
    names_only(&mut v, "caddy_headers");
    v
}

/// Scrubs known secret values out of text.
pub struct Redactor {
    /// Longest first, so a value containing another is replaced whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(ops: &Ops) -> Redactor {
        let mut secrets: Vec<String> = ops.llm.keys();
        // A process gets its `env_file`'s values too; a file that cannot be read gives none.
        let file_values = |dir: Option<&Path>, file: Option<&Path>| -> Vec<String> {
            file.and_then(|f| spec::read_env_file(&spec::env_file_path(dir, f)).ok())
                .map(|pairs| pairs.into_iter().map(|(_, v)| v).collect())
                .unwrap_or_default()
        };
        for s in ops.services() {
            let s = s.spec;
            secrets.extend(file_values(s.working_dir.as_deref(), s.env_file.as_deref()));
            secrets.extend(s.env.into_values());
            secrets.extend(s.caddy_headers.into_values());
        }
        for j in ops.cron_jobs() {
            let j = j.spec;
            secrets.extend(file_values(j.working_dir.as_deref(), j.env_file.as_deref()));
            secrets.extend(j.env_vars.into_values());
        }
        Redactor::from_values(secrets)
    }

    pub fn from_values(mut secrets: Vec<String>) -> Redactor {
        secrets.retain(|s| s.trim().len() >= MIN_SECRET);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "<redacted>");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed_longest_first_and_short_values_left() {
        let r = Redactor::from_values(vec!["abcd".into(), "abcdef-secret".into(), "1".into()]);
        assert_eq!(
            r.scrub("k=abcdef-secret a=abcd n=1"),
            "k=<redacted> a=<redacted> n=1"
        );
    }

    #[test]
    fn env_values_become_names() {
        let mut v =
            serde_json::json!({"env": {"DB_PASSWORD": "hunter22", "PORT": "80"}, "name": "w"});
        names_only(&mut v, "env");
        assert_eq!(v["env"], serde_json::json!(["DB_PASSWORD", "PORT"]));
    }
}
