//! Paths as text: resolving against a directory, normalising `.` and `..` (without the file system:
//! the policy cannot see it, so symlinks are not followed), and what a path is (the root, a home,
//! a device, under `/etc`).

/// `p` made absolute against `dir` and normalised. `None` when `p` is relative and `dir` unknown.
pub fn resolve(dir: Option<&str>, p: &str) -> Option<String> {
    let joined = if p.starts_with('/') {
        p.to_string()
    } else {
        format!("{}/{p}", dir?)
    };
    Some(normalise(&joined))
}

/// `/a/./b/../c//` -> `/a/c`; `..` at the root stays at the root. Component by component, as the
/// kernel walks it: `/proc/self/root` (and `/proc/thread-self/root`) is an alias of `/`, so
/// `/proc/self/root/etc` is `/etc` and `/proc/self/root/..` is `/`. Other `/proc` paths stay
/// under `/proc` (another process's root may be another mount namespace), which `is_kernel` refuses.
pub fn normalise(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => {
                parts.push(c);
                if let ["proc", "self" | "thread-self", "root"] = parts.as_slice() {
                    parts.clear();
                }
            }
        }
    }
    format!("/{}", parts.join("/"))
}

/// A `..` after a name in `p` (`a/..`, `/x/../y`): if the name is a symlink, the kernel climbs out
/// of its target, not back to where the text says.
pub fn climbs_out_of_a_name(p: &str) -> bool {
    let mut named = false;
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." if named => return true,
            ".." => {}
            _ => named = true,
        }
    }
    false
}

/// A pattern (one path component) that may match `..` (or `.`): one starting with `.` or with a
/// bracket (`.?`, `.*`, `[.][.]`); `*` and `?` never match a leading dot.
pub fn may_match_dotdot(pat: &str) -> bool {
    has_glob(pat) && (pat.starts_with('.') || pat.starts_with('['))
}

/// A glob in a directory part of `p` (`l*/x`, `*/cache`, `l*/`): it may match a symlink.
pub fn glob_in_dir_part(p: &str) -> bool {
    let comps: Vec<&str> = p.split('/').collect();
    comps
        .iter()
        .position(|c| has_glob(c))
        .is_some_and(|i| i + 1 < comps.len())
}

/// `/proc`, `/sys` and `/dev/fd` (`/dev/stdin` ..): kernel views whose meaning the text does not
/// give (`/proc/self/cwd`, another process's files); never a program, script or destructive target.
pub fn is_kernel(p: &str) -> bool {
    within(p, "/proc")
        || within(p, "/sys")
        || within(p, "/dev/fd")
        || matches!(p, "/dev/stdin" | "/dev/stdout" | "/dev/stderr")
}

/// The system's program dirs: a program found there is judged by its name (`/bin/rm` is `rm`).
pub fn is_bin_dir(d: &str) -> bool {
    matches!(
        d,
        "/bin" | "/usr/bin" | "/usr/local/bin" | "/sbin" | "/usr/sbin" | "/usr/local/sbin"
    )
}

/// Writing these harms nothing.
pub fn is_harmless_device(p: &str) -> bool {
    matches!(p, "/dev/null" | "/dev/stdout" | "/dev/stderr")
}

/// `p` is `dir` or below it (both normalised).
pub fn within(p: &str, dir: &str) -> bool {
    p == dir
        || dir == "/"
        || p.strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

pub fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// For a pattern, the directory whose entries it matches (the parent of the first component with a
/// glob character) and that component; for a plain path, the path itself and `None`.
pub fn pattern_scope(p: &str) -> (String, Option<String>) {
    let comps: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
    match comps.iter().position(|c| has_glob(c)) {
        None => (p.to_string(), None),
        Some(i) => (
            format!("/{}", comps[..i].join("/")),
            Some(comps[i].to_string()),
        ),
    }
}

/// Home directories: `$HOME`, `/root`, `/home`, `/home/<user>`, `/Users/<user>`.
pub fn is_home(p: &str, home: Option<&str>) -> bool {
    if home.is_some_and(|h| normalise(h) == p) {
        return true;
    }
    let comps: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
    matches!(
        comps.as_slice(),
        ["root"] | ["home"] | ["home", _] | ["Users"] | ["Users", _]
    )
}

/// Device files whose writing harms nothing (`/dev/null`, the standard streams).
const HARMLESS_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/stdin",
    "/dev/tty",
    "/dev/random",
    "/dev/urandom",
];

/// A device node (a disk, memory, a partition) — anything under `/dev` but the harmless streams.
pub fn is_device(p: &str) -> bool {
    within(p, "/dev")
        && p != "/dev"
        && !HARMLESS_DEVICES.contains(&p)
        && !p.starts_with("/dev/fd/")
        && !p.starts_with("/dev/pts/")
        && !p.starts_with("/dev/shm/")
}

pub fn is_etc(p: &str) -> bool {
    within(p, "/etc")
}

/// The last path component (`/usr/bin/rm` -> `rm`).
pub fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_and_resolving() {
        assert_eq!(normalise("/a/./b/../c//"), "/a/c");
        assert_eq!(normalise("/../.."), "/");
        assert_eq!(
            resolve(Some("/srv/app"), "build/../../x").as_deref(),
            Some("/srv/x")
        );
        assert_eq!(resolve(None, "x"), None);
        assert_eq!(resolve(None, "/tmp/../etc").as_deref(), Some("/etc"));
        assert!(within("/srv/app/b", "/srv/app") && !within("/srv/application", "/srv/app"));
        assert_eq!(
            pattern_scope("/srv/app/*.o"),
            ("/srv/app".to_string(), Some("*.o".to_string()))
        );
        assert_eq!(
            pattern_scope("/*"),
            ("/".to_string(), Some("*".to_string()))
        );
    }

    #[test]
    fn kinds() {
        assert!(is_home("/home/alice", None) && is_home("/root", None));
        assert!(!is_home("/home/alice/app", None));
        assert!(is_home("/srv/me", Some("/srv/me/")));
        assert!(is_device("/dev/sda") && is_device("/dev/disk/by-id/x"));
        assert!(!is_device("/dev/null") && !is_device("/dev/fd/3"));
        assert!(is_etc("/etc") && is_etc("/etc/hosts") && !is_etc("/etcetera"));
    }
}
