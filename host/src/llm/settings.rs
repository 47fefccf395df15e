//! `LlmSettings`: the `[llm]` table of `tend.toml` (a default model, a global daily token budget and
//! the named models under `[llm.models.<name>]`), with the documented defaults and `resolve`, which
//! refuses nonsense with a message naming the key. `ApiKey` is where a key lives once read: in memory
//! only, its `Debug` redacted. Pure apart from `KeySource::read` (an env var or a file).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The `[llm]` table as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmFile {
    default: Option<String>,
    daily_token_budget: Option<u64>,
    #[serde(default)]
    models: BTreeMap<String, ModelFile>,
}

/// One `[llm.models.<name>]` table as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    provider: Option<String>,
    base_url: Option<String>,
    model: Option<String>,
    api_key_env: Option<String>,
    api_key_file: Option<PathBuf>,
    timeout_s: Option<u64>,
    max_tokens: Option<u32>,
    max_tokens_field: Option<String>,
    daily_token_budget: Option<u64>,
    tools: Option<bool>,
    retries: Option<u32>,
    stream: Option<bool>,
    anthropic_version: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// OpenAI-compatible `/chat/completions` (OpenAI, llama.cpp's `llama-server`, Ollama, vLLM, ...).
    OpenAi,
    /// Anthropic's `/v1/messages`.
    Anthropic,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
        }
    }
}

/// Where a model's key comes from; read at each call, so a rotated key needs no restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    Env(String),
    File(PathBuf),
}

impl KeySource {
    /// How the key is shown to a person (`GET /api/llm`): where it comes from, never the key.
    pub fn describe(&self) -> String {
        match self {
            KeySource::Env(name) => format!("env:{name}"),
            KeySource::File(path) => format!("file:{}", path.display()),
        }
    }

    /// The key, trimmed; an error message (without the key) when it is missing or empty.
    pub fn read(&self) -> Result<ApiKey, String> {
        let raw = match self {
            KeySource::Env(name) => std::env::var(name).map_err(|_| {
                format!("the environment variable {name} holding the key is not set")
            })?,
            KeySource::File(path) => std::fs::read_to_string(path).map_err(|e| {
                format!("cannot read the key file {}: {}", path.display(), e.kind())
            })?,
        };
        let key = raw.trim();
        if key.is_empty() {
            return Err(format!("the key in {} is empty", self.describe()));
        }
        Ok(ApiKey(key.to_string()))
    }
}

/// A provider key, held in memory only for the call that needs it. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn expose(&self) -> &str {
        &self.0
    }

    #[cfg(test)]
    pub fn for_tests(key: &str) -> ApiKey {
        ApiKey(key.into())
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// One configured model, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSettings {
    /// The `[llm.models]` key.
    pub name: String,
    pub provider: Provider,
    /// Without a trailing `/`. OpenAI: the prefix of `/chat/completions` (including `/v1`);
    /// Anthropic: the prefix of `/v1/messages`.
    pub base_url: String,
    /// The provider's model name.
    pub model: String,
    pub key: Option<KeySource>,
    /// The whole call, retries and streaming included.
    pub timeout_s: u64,
    /// Per-call output cap.
    pub max_tokens: u32,
    /// `max_tokens` or `max_completion_tokens` (OpenAI).
    pub max_tokens_field: String,
    pub daily_token_budget: Option<u64>,
    /// Native tool calls; `false`: the JSON fallback.
    pub tools: bool,
    /// Retries after 429/503 or a failed connection.
    pub retries: u32,
    pub stream: bool,
    pub anthropic_version: String,
}

/// The `[llm]` table, resolved. Empty `models`: no LLM configured (every call is `not_configured`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LlmSettings {
    pub default: Option<String>,
    pub daily_token_budget: Option<u64>,
    pub models: BTreeMap<String, ModelSettings>,
}

pub const DEFAULT_TIMEOUT_S: u64 = 120;
pub const DEFAULT_MAX_TOKENS: u32 = 1024;
pub const DEFAULT_RETRIES: u32 = 3;
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";
const MAX_TIMEOUT_S: u64 = 3600;
const MAX_MAX_TOKENS: u32 = 1_000_000;
const MAX_RETRIES: u32 = 10;

/// `[a-zA-Z0-9_.-]{1,64}`: a model's name appears in metrics labels, URLs' query strings and tables.
pub fn valid_model_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl LlmFile {
    /// Validates and fills in the defaults. Every error names the key (`llm.models.<name>.<key>`).
    pub fn resolve(self) -> Result<LlmSettings, String> {
        if let Some(0) = self.daily_token_budget {
            return Err("llm.daily_token_budget must be at least 1 (omit it for no budget)".into());
        }
        let mut models = BTreeMap::new();
        for (name, m) in self.models {
            if !valid_model_name(&name) {
                return Err(format!(
                    "llm.models.{name}: the name must be 1 to 64 letters, digits, `_`, `-` or `.`"
                ));
            }
            let resolved = resolve_model(&name, m)?;
            models.insert(name, resolved);
        }
        let default = match self.default {
            Some(d) if !models.contains_key(&d) => {
                return Err(format!(
                    "llm.default: no model {d:?} in [llm.models] (configured: {})",
                    names(&models)
                ));
            }
            Some(d) => Some(d),
            None if models.len() == 1 => models.keys().next().cloned(),
            None if models.is_empty() => None,
            None => {
                return Err(format!(
                    "llm.default: required when several models are configured (one of: {})",
                    names(&models)
                ));
            }
        };
        Ok(LlmSettings {
            default,
            daily_token_budget: self.daily_token_budget,
            models,
        })
    }
}

fn names(models: &BTreeMap<String, ModelSettings>) -> String {
    models.keys().cloned().collect::<Vec<_>>().join(", ")
}

fn resolve_model(name: &str, m: ModelFile) -> Result<ModelSettings, String> {
    let key = |k: &str| format!("llm.models.{name}.{k}");
    let provider = match m.provider.as_deref() {
        Some("openai") => Provider::OpenAi,
        Some("anthropic") => Provider::Anthropic,
        Some(other) => {
            return Err(format!(
                "{}: {other:?} is not a provider (\"openai\" or \"anthropic\")",
                key("provider")
            ));
        }
        None => {
            return Err(format!(
                "{}: required (\"openai\" or \"anthropic\")",
                key("provider")
            ));
        }
    };
    let model = m.model.unwrap_or_default();
    if model.trim().is_empty() || model.len() > 256 {
        return Err(format!(
            "{}: required, the provider's model name (at most 256 characters)",
            key("model")
        ));
    }
    let base_url = m.base_url.unwrap_or_else(|| {
        match provider {
            Provider::OpenAi => "https://api.openai.com/v1",
            Provider::Anthropic => "https://api.anthropic.com",
        }
        .to_string()
    });
    match reqwest::Url::parse(&base_url) {
        Ok(url) if !matches!(url.scheme(), "http" | "https") => {
            return Err(format!(
                "{}: must be an http:// or https:// URL",
                key("base_url")
            ));
        }
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            return Err(format!(
                "{}: must not carry credentials; name the key with api_key_env or api_key_file",
                key("base_url")
            ));
        }
        Ok(url) if url.query().is_some() || url.fragment().is_some() => {
            return Err(format!(
                "{}: must not have a query or fragment",
                key("base_url")
            ));
        }
        Ok(_) => {}
        Err(e) => return Err(format!("{}: not a URL: {e}", key("base_url"))),
    }
    let base_url = base_url.trim_end_matches('/').to_string();
    let key_source = match (m.api_key_env, m.api_key_file) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "{}: name the key with api_key_env or api_key_file, not both",
                key("api_key_env")
            ));
        }
        (Some(env), None) => {
            if env.is_empty() || env.contains('=') || env.contains('\0') {
                return Err(format!(
                    "{}: not an environment variable name",
                    key("api_key_env")
                ));
            }
            Some(KeySource::Env(env))
        }
        (None, Some(file)) => {
            if !file.is_absolute() {
                return Err(format!("{}: must be an absolute path", key("api_key_file")));
            }
            Some(KeySource::File(file))
        }
        (None, None) => None,
    };
    let timeout_s = m.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
    if !(1..=MAX_TIMEOUT_S).contains(&timeout_s) {
        return Err(format!(
            "{}: must be between 1 and {MAX_TIMEOUT_S}, got {timeout_s}",
            key("timeout_s")
        ));
    }
    let max_tokens = m.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    if !(1..=MAX_MAX_TOKENS).contains(&max_tokens) {
        return Err(format!(
            "{}: must be between 1 and {MAX_MAX_TOKENS}, got {max_tokens}",
            key("max_tokens")
        ));
    }
    let max_tokens_field = match (provider, m.max_tokens_field) {
        (_, None) => "max_tokens".to_string(),
        (Provider::OpenAi, Some(f)) if f == "max_tokens" || f == "max_completion_tokens" => f,
        (Provider::OpenAi, Some(f)) => {
            return Err(format!(
                "{}: {f:?} is neither \"max_tokens\" nor \"max_completion_tokens\"",
                key("max_tokens_field")
            ));
        }
        (Provider::Anthropic, Some(_)) => {
            return Err(format!(
                "{}: only for provider \"openai\"",
                key("max_tokens_field")
            ));
        }
    };
    if let Some(0) = m.daily_token_budget {
        return Err(format!(
            "{}: must be at least 1 (omit it for no budget)",
            key("daily_token_budget")
        ));
    }
    let retries = m.retries.unwrap_or(DEFAULT_RETRIES);
    if retries > MAX_RETRIES {
        return Err(format!(
            "{}: at most {MAX_RETRIES}, got {retries}",
            key("retries")
        ));
    }
    let anthropic_version = match (provider, m.anthropic_version) {
        (Provider::OpenAi, Some(_)) => {
            return Err(format!(
                "{}: only for provider \"anthropic\"",
                key("anthropic_version")
            ));
        }
        (_, Some(v)) if v.trim().is_empty() || !v.is_ascii() || v.len() > 64 => {
            return Err(format!(
                "{}: not a version string",
                key("anthropic_version")
            ));
        }
        (_, Some(v)) => v,
        (_, None) => DEFAULT_ANTHROPIC_VERSION.to_string(),
    };
    Ok(ModelSettings {
        name: name.to_string(),
        provider,
        base_url,
        model,
        key: key_source,
        timeout_s,
        max_tokens,
        max_tokens_field,
        daily_token_budget: m.daily_token_budget,
        tools: m.tools.unwrap_or(true),
        retries,
        stream: m.stream.unwrap_or(true),
        anthropic_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LlmSettings, String> {
        let file: LlmFile = toml::from_str(text).map_err(|e| e.to_string())?;
        file.resolve()
    }

    #[test]
    fn one_model_is_the_default_with_the_documented_defaults() {
        let s = parse(
            "[models.local]\nprovider = \"openai\"\nbase_url = \"http://127.0.0.1:8080/v1/\"\nmodel = \"smollm2\"\n",
        )
        .unwrap();
        assert_eq!(s.default.as_deref(), Some("local"));
        let m = &s.models["local"];
        assert_eq!(m.base_url, "http://127.0.0.1:8080/v1");
        assert_eq!(m.timeout_s, DEFAULT_TIMEOUT_S);
        assert_eq!(m.max_tokens, DEFAULT_MAX_TOKENS);
        assert_eq!(m.max_tokens_field, "max_tokens");
        assert!(m.tools && m.stream);
        assert_eq!(m.retries, DEFAULT_RETRIES);
        assert_eq!(m.key, None);
    }

    #[test]
    fn errors_name_the_key() {
        for (text, needle) in [
            ("default = \"x\"\n", "llm.default"),
            (
                "[models.a]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url=\"http://h\"\n[models.b]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url=\"http://h\"\n",
                "llm.default: required",
            ),
            (
                "[models.a]\nprovider = \"gpt\"\nmodel = \"m\"\n",
                "llm.models.a.provider",
            ),
            ("[models.a]\nprovider = \"openai\"\n", "llm.models.a.model"),
            (
                "[models.a]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"ftp://x\"\n",
                "llm.models.a.base_url",
            ),
            (
                "[models.a]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://u:p@x\"\n",
                "llm.models.a.base_url",
            ),
            (
                "[models.a]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url=\"http://h\"\napi_key_env = \"K\"\napi_key_file = \"/k\"\n",
                "llm.models.a.api_key_env",
            ),
            (
                "[models.a]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url=\"http://h\"\napi_key_file = \"k\"\n",
                "llm.models.a.api_key_file",
            ),
            (
                "[models.a]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url=\"http://h\"\ntimeout_s = 0\n",
                "llm.models.a.timeout_s",
            ),
            (
                "[models.a]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url=\"http://h\"\nmax_tokens_field = \"n\"\n",
                "llm.models.a.max_tokens_field",
            ),
            (
                "[models.a]\nprovider = \"anthropic\"\nmodel = \"m\"\nbase_url=\"http://h\"\nmax_tokens_field = \"max_tokens\"\n",
                "llm.models.a.max_tokens_field",
            ),
            (
                "[models.a]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url=\"http://h\"\nretries = 99\n",
                "llm.models.a.retries",
            ),
            (
                "[models.a]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url=\"http://h\"\ndaily_token_budget = 0\n",
                "llm.models.a.daily_token_budget",
            ),
            (
                "[models.\"a b\"]\nprovider = \"openai\"\nmodel = \"m\"\n",
                "llm.models.a b",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn the_key_is_never_in_debug_output() {
        let key = ApiKey("sk-very-secret".into());
        assert!(!format!("{key:?}").contains("secret"));
    }
}
