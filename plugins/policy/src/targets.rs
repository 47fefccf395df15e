//! What the analyser judges about paths and names, apart from walking the command: the
//! containment root (`root_of`: none when the working dir is `/`, the daemon's own, a home or
//! system dir, or holds tend's data), write and recursive-delete targets, scripts and programs of
//! the project, symlinks resolved by the host (`real_path`), tend's protected data, and variables
//! that may not be assigned or exported. It records deny reasons on the `Analyser`; it parses
//! nothing.

use crate::analyse::{Analyser, Ctx, Frame};
use crate::expand::Field;
use crate::paths;

impl Analyser {
    /// Arguments (and exported values) handed to code of the project the policy cannot read (a
    /// script, a Makefile's variables, a Rakefile's tasks): a path outside the working dir or a
    /// value that cannot be resolved could steer it anywhere (`./clean.sh /`), so they are refused.
    pub fn opaque_args(
        &mut self,
        frame: &Frame,
        how: &str,
        args: &[Field],
        env: &[(String, crate::expand::Lookup)],
    ) {
        let values = args
            .iter()
            .map(|f| {
                (
                    f.value()
                        .map(|v| v.rsplit_once('=').map_or(v, |(_, r)| r).to_string()),
                    f.text.clone(),
                )
            })
            .chain(env.iter().map(|(k, v)| match v {
                crate::expand::Lookup::Known(v) => (Some(v.clone()), format!("{k}={v}")),
                crate::expand::Lookup::Unknown(_) => (None, format!("{k}=..")),
            }));
        for (value, shown) in values.collect::<Vec<_>>() {
            let Some(v) = value else {
                self.deny(format!(
                    "{how} gets `{shown}`, which cannot be resolved; the code it runs cannot be seen"
                ));
                continue;
            };
            let path_like =
                v.starts_with('/') || v.starts_with('~') || v.split('/').any(|c| c == "..");
            if !path_like || paths::is_harmless_device(&v) {
                continue;
            }
            let v = if let Some(rest) = v.strip_prefix('~') {
                match self.home(frame) {
                    Some(h) => format!("{h}{rest}"),
                    None => "/".to_string(),
                }
            } else {
                v
            };
            let inside = frame
                .resolve(&v)
                .map(|p| self.real_path(&p))
                .is_some_and(|p| {
                    self.cwd
                        .as_deref()
                        .is_some_and(|root| paths::within(&p, root))
                });
            if !inside {
                self.deny(format!(
                    "{how} gets the path `{shown}` outside the working dir; the code it runs cannot be seen"
                ));
            }
        }
    }

    /// Assigning a variable that changes how later commands are read is refused.
    pub fn assigning(&mut self, name: &str) {
        if crate::gate::forbidden_var(name) {
            self.deny(format!(
                "assigning `{name}`, which changes how later commands or programs are found or read"
            ));
        }
    }

    /// `p` (absolute, normalised) with the symlinks that exist resolved: the host's answer in the
    /// second question; in the first, `p` itself, remembered to be asked about. For a pattern, the
    /// part before the first glob is resolved and the rest kept.
    pub fn real_path(&mut self, p: &str) -> String {
        let comps: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
        let cut = comps
            .iter()
            .position(|c| paths::has_glob(c))
            .unwrap_or(comps.len());
        let prefix = format!("/{}", comps[..cut].join("/"));
        let rest = comps[cut..].join("/");
        let real = match &self.resolved {
            Some(map) => match map.get(&prefix) {
                Some(r) if r.starts_with('/') => paths::normalise(r),
                _ => {
                    self.deny(format!(
                        "the host did not resolve {prefix}; its symlinks cannot be checked"
                    ));
                    prefix
                }
            },
            None => {
                self.asked.insert(prefix.clone());
                prefix
            }
        };
        if rest.is_empty() {
            real
        } else {
            format!("{}/{rest}", real.trim_end_matches('/'))
        }
    }

    /// Exporting a variable the allowed programs read as configuration is refused.
    pub fn exporting(&mut self, name: &str) {
        if crate::gate::forbidden_var(name) {
            self.assigning(name);
        } else if crate::gate::tool_config_var(name) {
            self.deny(format!(
                "exporting `{name}`, which changes what the programs run, load or write; refused"
            ));
        }
    }

    /// A path that touches tend's own files.
    pub fn protected(&self, p: &str) -> Option<&str> {
        self.ctx
            .protected
            .iter()
            .find(|d| paths::within(p, d) || paths::within(d, p))
            .map(String::as_str)
    }

    /// A script or program of the project (`./deploy.sh`, `python manage.py`): only inside the
    /// containment root, never a kernel path (`/dev/stdin`, `/proc/..`), never a file written
    /// earlier in the same command (`> f && sh f`).
    pub fn run_project_file(&mut self, p: &str, how: &str) {
        if paths::is_kernel(p) {
            self.deny(format!(
                "{how} {p}: /proc, /sys, /dev/stdin and /dev/fd paths are refused as programs or scripts"
            ));
            return;
        }
        let real = self.real_path(p);
        let p = real.as_str();
        if paths::is_kernel(p) {
            self.deny(format!(
                "{how} {p}: /proc, /sys, /dev/stdin and /dev/fd paths are refused as programs or scripts"
            ));
        } else if let Some(w) = self.written.iter().find(|w| paths::within(p, w)) {
            self.deny(format!(
                "{how} {p}, written earlier in the same command ({w}): writing a file then running it is refused"
            ));
        } else if let Some(root) = self.cwd.clone() {
            if !paths::within(p, &root) {
                self.deny(format!(
                    "{how} {p}: only programs of the system bin dirs and scripts inside the working dir {root} may run"
                ));
            }
        } else {
            let why = self.no_root.clone();
            self.deny(format!("{how} the script {p}, but {why}"));
        }
    }

    /// A file that will be written (created, truncated, appended to, moved onto, modified): only
    /// inside the containment root (or onto the harmless devices), never tend's own files.
    pub fn write_target(&mut self, target: &Field, frame: &Frame, via: &str) {
        let Some(text) = target.value() else {
            self.deny(format!(
                "writes to `{}` ({via}), which cannot be resolved; it could be /etc or a device",
                target.text
            ));
            return;
        };
        let Some(p) = frame.resolve(text) else {
            self.deny(format!(
                "writes to {text} ({via}) in a directory that cannot be known (after `cd`, or `..` out of a dir that may be a symlink)"
            ));
            return;
        };
        if paths::is_harmless_device(&p) {
            return;
        }
        if target.glob && paths::may_match_dotdot(paths::basename(&p)) {
            self.deny(format!(
                "writes to {p} ({via}): the pattern may match `..`, the parent dir"
            ));
            return;
        }
        let p = if paths::is_kernel(&p) {
            p
        } else {
            self.real_path(&p)
        };
        if let Some(d) = self.ctx.protected.iter().find(|d| paths::within(&p, d)) {
            self.deny(format!(
                "writes to {p} ({via}): tend's own data ({d}) is protected"
            ));
        } else if paths::is_etc(&p) {
            self.deny(format!("write into /etc: {p} ({via})"));
        } else if paths::is_device(&p) {
            self.deny(format!("write onto the device {p} ({via})"));
        } else if paths::is_kernel(&p) {
            self.deny(format!(
                "writes to {p} ({via}): /proc, /sys and /dev/fd paths are refused"
            ));
        } else if let Some(root) = self.cwd.clone() {
            if !paths::within(&p, &root) {
                self.deny(format!(
                    "writes to {p} ({via}): outside the working dir {root}"
                ));
            } else {
                self.written.push(p);
            }
        } else {
            let why = self.no_root.clone();
            self.deny(format!("writes to {p} ({via}), but {why}"));
        }
    }

    /// A path that will be deleted with everything below it.
    pub fn delete_target(&mut self, target: &Field, frame: &Frame, via: &str) {
        let Some(text) = target.value() else {
            let what = &target.text;
            if what.contains("HOME") || what.starts_with('~') {
                self.deny(format!(
                    "recursive delete of {what} ({via}): the home dir (or a place that cannot be resolved)"
                ));
            } else {
                self.deny(format!(
                    "recursive delete of `{what}` ({via}), which cannot be resolved (unresolved variable or command output)"
                ));
            }
            return;
        };
        let Some(p) = frame.resolve(text) else {
            self.deny(format!(
                "recursive delete of {text} ({via}) in a directory that cannot be known (after `cd`, or `..` out of a dir that may be a symlink)"
            ));
            return;
        };
        if paths::is_kernel(&p) {
            self.deny(format!(
                "recursive delete of {p} ({via}): /proc, /sys and /dev/fd paths are refused"
            ));
            return;
        }
        let p = self.real_path(&p);
        if paths::is_kernel(&p) {
            self.deny(format!(
                "recursive delete of {p} ({via}): /proc, /sys and /dev/fd paths are refused"
            ));
            return;
        }
        let home = self.home(frame);
        let (scope, pattern) = if target.glob {
            paths::pattern_scope(&p)
        } else {
            (p.clone(), None)
        };
        if let Some(pat) = &pattern
            && paths::may_match_dotdot(pat)
        {
            self.deny(format!(
                "recursive delete of {p} ({via}): the pattern may match `..`, the parent dir"
            ));
            return;
        }
        let everything = if pattern.is_some() {
            "everything in "
        } else {
            ""
        };
        if scope == "/" {
            self.deny(format!(
                "recursive delete of {everything}/ ({via}): the whole file system"
            ));
        } else if paths::is_home(&scope, home.as_deref()) {
            self.deny(format!(
                "recursive delete of {everything}the home dir {scope} ({via})"
            ));
        } else if is_system_dir(&scope) {
            self.deny(format!(
                "recursive delete of {everything}the system dir {scope} ({via})"
            ));
        } else if let Some(d) = self.protected(&scope) {
            self.deny(format!(
                "recursive delete of {p} ({via}): tend's own data ({d}) is protected"
            ));
        } else if let Some(cwd) = self.cwd.clone() {
            if pattern.is_none() && p == cwd {
                self.deny(format!(
                    "recursive delete of the whole working dir {cwd} ({via})"
                ));
            } else if !paths::within(&scope, &cwd) {
                self.deny(format!(
                    "recursive delete of {p} ({via}): outside the working dir {cwd}"
                ));
            }
        } else {
            let why = self.no_root.clone();
            self.deny(format!("recursive delete of {p} ({via}), but {why}"));
        }
    }
}

/// The containment root for a working dir, or why there is none: `/`, the daemon's own working
/// dir, a home or system dir, a relative path, a place holding tend's data dir, or `/proc`.
pub fn root_of(cwd: &str, ctx: &Ctx) -> (Option<String>, String) {
    if !cwd.starts_with('/') {
        return (
            None,
            format!(
                "the working dir `{cwd}` is not an absolute path, so nothing contains the command"
            ),
        );
    }
    let c = paths::normalise(cwd);
    let why = if c == "/" {
        Some("the working dir is `/`".to_string())
    } else if ctx
        .daemon_cwd
        .as_deref()
        .is_some_and(|d| paths::normalise(d) == c)
    {
        Some(format!(
            "the working dir {c} is the daemon's own working dir"
        ))
    } else if paths::is_home(&c, None) || is_system_dir(&c) {
        Some(format!("the working dir {c} is a home or system dir"))
    } else if paths::within(&c, "/proc") || paths::within(&c, "/dev") || paths::within(&c, "/sys") {
        Some(format!("the working dir {c} is under /proc, /dev or /sys"))
    } else {
        ctx.protected
            .iter()
            .find(|d| paths::within(d, &c) || paths::within(&c, d))
            .map(|d| format!("the working dir {c} holds or is inside tend's data ({d})"))
    };
    match why {
        None => (Some(c), String::new()),
        Some(w) => (
            None,
            format!("{w}: there is no meaningful root to contain destructive commands"),
        ),
    }
}

/// `/bin`, `/usr`, `/var`, ...: never deleted whole, whatever the working dir.
pub fn is_system_dir(p: &str) -> bool {
    const TOP: &[&str] = &[
        "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/opt", "/proc", "/sbin",
        "/srv", "/sys", "/usr", "/var", "/mnt", "/media", "/run", "/snap", "/tmp",
    ];
    TOP.contains(&p) || p == "/usr/local" || p == "/usr/bin" || p == "/usr/lib" || p == "/var/lib"
}
