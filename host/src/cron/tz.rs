//! Time zones: parsing IANA names and finding the daemon's own zone (`TZ`, else `/etc/localtime`, else
//! `/etc/timezone`, else UTC). Reads the environment and those two files; nothing else.

use std::path::Path;

use chrono_tz::Tz;

/// Parses an IANA zone name (`Europe/London`, `UTC`); the error is ready to show.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| {
        format!("{name:?} is not an IANA time zone name (like \"Europe/London\" or \"UTC\")")
    })
}

/// The zone jobs without `timezone` use.
pub fn local_zone() -> Tz {
    std::env::var("TZ")
        .ok()
        .and_then(|v| from_tz_var(&v))
        .or_else(|| zone_of_link(Path::new("/etc/localtime")))
        .or_else(|| {
            std::fs::read_to_string("/etc/timezone")
                .ok()
                .and_then(|s| parse_zone(s.trim()).ok())
        })
        .unwrap_or(chrono_tz::UTC)
}

/// `TZ` is a zone name, optionally with a leading `:`, or a path to a zoneinfo file.
fn from_tz_var(value: &str) -> Option<Tz> {
    let v = value.trim().trim_start_matches(':');
    if v.is_empty() {
        return None;
    }
    if v.starts_with('/') {
        return zone_of_link(Path::new(v)).or_else(|| zone_from_path(Path::new(v)));
    }
    parse_zone(v).ok()
}

/// `/etc/localtime` is normally a symlink into a zoneinfo tree: the zone is the path after `zoneinfo/`.
fn zone_of_link(path: &Path) -> Option<Tz> {
    let target = std::fs::read_link(path).ok()?;
    zone_from_path(&target)
}

fn zone_from_path(path: &Path) -> Option<Tz> {
    let text = path.to_str()?;
    let (_, name) = text.rsplit_once("zoneinfo/")?;
    let name = name
        .trim_start_matches("posix/")
        .trim_start_matches("right/");
    parse_zone(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(parse_zone("Europe/London"), Ok(chrono_tz::Europe::London));
        assert!(
            parse_zone("Mars/Olympus")
                .unwrap_err()
                .contains("Mars/Olympus")
        );
        assert_eq!(
            from_tz_var(":America/New_York"),
            Some(chrono_tz::America::New_York)
        );
        assert_eq!(from_tz_var(""), None);
        assert_eq!(
            zone_from_path(Path::new("/usr/share/zoneinfo/Asia/Tokyo")),
            Some(chrono_tz::Asia::Tokyo)
        );
        assert_eq!(
            zone_from_path(Path::new("../usr/share/zoneinfo/posix/Etc/UTC")),
            Some(chrono_tz::Etc::UTC)
        );
        assert_eq!(zone_from_path(Path::new("/etc/localtime")), None);
    }
}
