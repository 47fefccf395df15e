//! `OnboardSettings`: the `[onboard]` table of `tend.toml`. Plain data with the documented
//! defaults; `validate` rejects nonsense naming the key; `~/` is expanded when the daemon starts.

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnboardSettings {
    /// Where a bare project name is looked up: `<projects_root>/<name>`.
    pub projects_root: PathBuf,
    /// A project's data directory is `<data_root>/.<name>/`.
    pub data_root: PathBuf,
    /// The `onboarder` plugin asked for plans.
    pub plugin: String,
    /// How long each started service has to listen on its port (or answer its health path).
    pub confirm_timeout_s: u64,
}

impl Default for OnboardSettings {
    fn default() -> Self {
        OnboardSettings {
            projects_root: PathBuf::from("~/Code"),
            data_root: PathBuf::from("~"),
            plugin: "onboarder".into(),
            confirm_timeout_s: 30,
        }
    }
}

/// `~` and `~/...` under `home`; anything else as is.
pub fn expand_home(p: &Path, home: Option<&Path>) -> Result<PathBuf, String> {
    let s = p.to_string_lossy();
    let rest = if s == "~" {
        ""
    } else if let Some(rest) = s.strip_prefix("~/") {
        rest
    } else {
        return Ok(p.to_path_buf());
    };
    match home {
        Some(h) => Ok(h.join(rest)),
        None => Err(format!(
            "{} starts with `~` but the home directory is unknown (no HOME)",
            p.display()
        )),
    }
}

impl OnboardSettings {
    /// Checks the table and expands `~/` in its paths (with `home`); bad values name the key.
    pub fn resolve(mut self, home: Option<&Path>) -> Result<Self, String> {
        if self.plugin.trim().is_empty() {
            return Err(
                "onboard.plugin must name an onboarder plugin (default \"onboarder\")".into(),
            );
        }
        if !(1..=3600).contains(&self.confirm_timeout_s) {
            return Err(format!(
                "onboard.confirm_timeout_s must be between 1 and 3600, got {}",
                self.confirm_timeout_s
            ));
        }
        for (key, path) in [
            ("onboard.projects_root", &mut self.projects_root),
            ("onboard.data_root", &mut self.data_root),
        ] {
            let expanded = expand_home(path, home).map_err(|e| format!("{key}: {e}"))?;
            if !expanded.is_absolute() {
                return Err(format!(
                    "{key} must be an absolute path (or start with ~/), got {:?}",
                    path.display().to_string()
                ));
            }
            *path = expanded;
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_expand_under_home_and_bad_values_name_the_key() {
        let home = Path::new("/home/u");
        let s = OnboardSettings::default().resolve(Some(home)).unwrap();
        assert_eq!(s.projects_root, Path::new("/home/u/Code"));
        assert_eq!(s.data_root, Path::new("/home/u"));
        assert_eq!((s.plugin.as_str(), s.confirm_timeout_s), ("onboarder", 30));
        let bad = |f: fn(&mut OnboardSettings)| {
            let mut s = OnboardSettings::default();
            f(&mut s);
            s.resolve(Some(home)).unwrap_err()
        };
        assert!(bad(|s| s.confirm_timeout_s = 0).contains("onboard.confirm_timeout_s"));
        assert!(bad(|s| s.plugin = " ".into()).contains("onboard.plugin"));
        assert!(bad(|s| s.projects_root = "code".into()).contains("onboard.projects_root"));
        let e = OnboardSettings::default().resolve(None).unwrap_err();
        assert!(e.contains("onboard.projects_root"), "{e}");
    }
}
