//! `CaddySettings`: the `[caddy]` table of `tend.toml` and the `CADDY_*` environment variables (env
//! beats the file), with the documented defaults (README, "Caddy reverse proxy"). Pure: the
//! environment comes in as a function, so the merge is unit-tested without touching the process env.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The `[caddy]` table as written; every key optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaddyFile {
    pub enabled: Option<bool>,
    pub admin_url: Option<String>,
    pub base_domain: Option<String>,
    pub domain: Option<String>,
    pub port: Option<u16>,
    pub bind: Option<String>,
    pub tls: Option<String>,
    pub supervisor_file: Option<PathBuf>,
    pub plugin: Option<String>,
    pub maintenance: Option<String>,
    pub retry_initial_ms: Option<u64>,
    pub retry_max_ms: Option<u64>,
}

/// How Caddy serves TLS for tend's hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    Automatic,
    Internal,
    Off,
}

impl TlsMode {
    pub fn parse(s: &str) -> Option<TlsMode> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "automatic" | "auto" => TlsMode::Automatic,
            "internal" => TlsMode::Internal,
            "off" => TlsMode::Off,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Automatic => "automatic",
            TlsMode::Internal => "internal",
            TlsMode::Off => "off",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaddySettings {
    /// `None`: active once a service is exposed; `Some(true)`: always; `Some(false)`: never.
    pub enabled: Option<bool>,
    /// Caddy's admin API, without a trailing `/`.
    pub admin_url: String,
    pub base_domain: String,
    /// The host of path-based routes (`caddy_path`); `None`: any host.
    pub domain: Option<String>,
    pub port: u16,
    /// The address tend's own server listens on (when it has to create one); `None`: every interface.
    pub bind: Option<String>,
    pub tls: TlsMode,
    pub supervisor_file: PathBuf,
    pub plugin: String,
    /// Body of the 503 answer for unhealthy exposed services; `None`: they stay proxied.
    pub maintenance: Option<String>,
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

impl CaddySettings {
    /// Merges `env` (`CADDY_*`; empty values count as unset) over the file's table over the defaults,
    /// and validates the result. Errors name the setting.
    pub fn resolve(
        file: CaddyFile,
        env: impl Fn(&str) -> Option<String>,
        data_dir: &Path,
    ) -> Result<CaddySettings, String> {
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let enabled = match env("CADDY_ENABLED") {
            Some(v) => Some(
                parse_bool(&v)
                    .ok_or_else(|| format!("CADDY_ENABLED must be true or false, got {v:?}"))?,
            ),
            None => file.enabled,
        };
        let port = match env("CADDY_PORT") {
            Some(v) => v
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("CADDY_PORT must be a port number (1-65535), got {v:?}"))?,
            None => file.port.unwrap_or(443),
        };
        if port == 0 {
            return Err("caddy.port must be between 1 and 65535".into());
        }
        let tls_text = env("CADDY_TLS").or(file.tls);
        let tls = match tls_text {
            Some(t) => TlsMode::parse(&t).ok_or_else(|| {
                format!("caddy.tls (CADDY_TLS) must be automatic, internal or off, got {t:?}")
            })?,
            None => TlsMode::Automatic,
        };
        let admin_url = env("CADDY_ADMIN_URL")
            .or(file.admin_url)
            .unwrap_or_else(|| "http://localhost:2019".into());
        let admin_url = admin_url.trim().trim_end_matches('/').to_string();
        match reqwest::Url::parse(&admin_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => {
                return Err(format!(
                    "caddy.admin_url (CADDY_ADMIN_URL) must be an http:// or https:// URL, got {admin_url:?}"
                ));
            }
        }
        let base_domain = env("CADDY_BASE_DOMAIN")
            .or(file.base_domain)
            .unwrap_or_else(|| "localhost".into())
            .trim()
            .trim_matches('.')
            .to_ascii_lowercase();
        if !is_hostname(&base_domain) {
            return Err(format!(
                "caddy.base_domain (CADDY_BASE_DOMAIN) must be a domain name, got {base_domain:?}"
            ));
        }
        let domain = env("CADDY_DOMAIN")
            .or(file.domain)
            .map(|d| d.trim().to_ascii_lowercase());
        if let Some(d) = &domain {
            let host = match d.rsplit_once(':') {
                Some((h, p)) if p.parse::<u16>().is_ok() => h,
                _ => d.as_str(),
            };
            if !is_hostname(host) {
                return Err(format!(
                    "caddy.domain (CADDY_DOMAIN) must be a domain name (optionally with :port), got {d:?}"
                ));
            }
        }
        let bind = env("CADDY_BIND")
            .or(file.bind)
            .map(|b| b.trim().to_string());
        if let Some(b) = &bind
            && b.parse::<std::net::IpAddr>().is_err()
            && !is_hostname(b)
        {
            return Err(format!(
                "caddy.bind (CADDY_BIND) must be an IP address or host name, got {b:?}"
            ));
        }
        let supervisor_file = env("CADDY_SUPERVISOR_FILE")
            .map(PathBuf::from)
            .or(file.supervisor_file)
            .map(|p| if p.is_relative() { data_dir.join(p) } else { p })
            .unwrap_or_else(|| data_dir.join("caddy").join("supervisor.caddy"));
        if supervisor_file.file_name().is_none() {
            return Err(format!(
                "caddy.supervisor_file (CADDY_SUPERVISOR_FILE) must name a file, got {}",
                supervisor_file.display()
            ));
        }
        let plugin = env("CADDY_PLUGIN")
            .or(file.plugin)
            .unwrap_or_else(|| "caddy".into());
        crate::spec::validate_name(&plugin)
            .map_err(|e| format!("caddy.plugin (CADDY_PLUGIN): {}", e.message))?;
        let maintenance = env("CADDY_MAINTENANCE").or(file.maintenance);
        if maintenance.as_ref().is_some_and(|m| m.len() > 64 * 1024) {
            return Err("caddy.maintenance must be at most 64 KiB".into());
        }
        let retry_initial = Duration::from_millis(file.retry_initial_ms.unwrap_or(1000));
        let retry_max = Duration::from_millis(file.retry_max_ms.unwrap_or(60_000));
        if retry_initial < Duration::from_millis(100) || retry_initial > retry_max {
            return Err(
                "caddy.retry_initial_ms must be at least 100 and at most caddy.retry_max_ms".into(),
            );
        }
        if retry_max > Duration::from_secs(3600) {
            return Err("caddy.retry_max_ms must be at most one hour".into());
        }
        Ok(CaddySettings {
            enabled,
            admin_url,
            base_domain,
            domain,
            port,
            bind,
            tls,
            supervisor_file,
            plugin,
            maintenance,
            retry_initial,
            retry_max,
        })
    }

    /// The settings document of the `proxy-config` world.
    pub fn generator_json(&self) -> serde_json::Value {
        serde_json::json!({
            "base_domain": self.base_domain,
            "domain": self.domain,
            "port": self.port,
            "bind": self.bind,
            "tls": self.tls.as_str(),
            "maintenance": self.maintenance,
        })
    }

    /// The wait before retry number `failures` (1 = after the first failure): doubling, capped.
    pub fn retry_delay(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
        self.retry_initial
            .saturating_mul(factor)
            .min(self.retry_max)
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Dot-separated DNS labels (letters, digits, `-`, not at either end of a label).
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(file: &str, env: &[(&str, &str)]) -> Result<CaddySettings, String> {
        let file: CaddyFile = toml::from_str(file).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CaddySettings::resolve(
            file,
            |k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            Path::new("/data"),
        )
    }

    #[test]
    fn defaults_keep_the_rendering_inside_the_data_dir() {
        let s = resolve("", &[]).unwrap();
        assert_eq!(s.enabled, None);
        assert_eq!(s.admin_url, "http://localhost:2019");
        assert_eq!(s.base_domain, "localhost");
        assert_eq!((s.port, s.tls), (443, TlsMode::Automatic));
        assert_eq!(
            s.supervisor_file,
            PathBuf::from("/data/caddy/supervisor.caddy")
        );
        assert_eq!(s.plugin, "caddy");
        assert_eq!(s.maintenance, None);
    }

    #[test]
    fn env_beats_the_file_and_empty_env_is_unset() {
        let s = resolve(
            "base_domain = \"file.test\"\nport = 8443\ntls = \"internal\"\nadmin_url = \"http://127.0.0.1:2999/\"\n",
            &[
                ("CADDY_BASE_DOMAIN", "Env.Test"),
                ("CADDY_TLS", "off"),
                ("CADDY_PORT", ""),
                ("CADDY_SUPERVISOR_FILE", "rel/x.caddy"),
            ],
        )
        .unwrap();
        assert_eq!(s.base_domain, "env.test");
        assert_eq!(s.tls, TlsMode::Off);
        assert_eq!(s.port, 8443);
        assert_eq!(s.admin_url, "http://127.0.0.1:2999");
        assert_eq!(s.supervisor_file, PathBuf::from("/data/rel/x.caddy"));
    }

    #[test]
    fn nonsense_is_refused_with_the_setting_named() {
        for (file, env, needle) in [
            ("tls = \"sometimes\"", vec![], "caddy.tls"),
            ("", vec![("CADDY_PORT", "0")], "CADDY_PORT"),
            ("", vec![("CADDY_PORT", "http")], "CADDY_PORT"),
            ("admin_url = \"unix:/run/caddy\"", vec![], "admin_url"),
            ("base_domain = \"bad_domain\"", vec![], "base_domain"),
            ("domain = \"a b\"", vec![], "caddy.domain"),
            ("plugin = \"../x\"", vec![], "caddy.plugin"),
            ("", vec![("CADDY_ENABLED", "maybe")], "CADDY_ENABLED"),
            ("retry_initial_ms = 10", vec![], "retry_initial_ms"),
        ] {
            let e = resolve(file, &env).unwrap_err();
            assert!(e.contains(needle), "{file} {env:?}: {e}");
        }
        assert!(toml::from_str::<CaddyFile>("colour = \"red\"").is_err());
    }

    #[test]
    fn domain_may_carry_a_port_and_retries_double_up_to_the_cap() {
        let s = resolve(
            "domain = \"h.example.test:60443\"\nretry_initial_ms = 500\nretry_max_ms = 3000\n",
            &[],
        )
        .unwrap();
        assert_eq!(s.domain.as_deref(), Some("h.example.test:60443"));
        let delays: Vec<u64> = (1..=5)
            .map(|n| s.retry_delay(n).as_millis() as u64)
            .collect();
        assert_eq!(delays, vec![500, 1000, 2000, 3000, 3000]);
    }
}
