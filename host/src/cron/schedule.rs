//! Cron expressions and their fire times. Owns the accepted syntax (5 fields, 6 with seconds first, 7 with
//! a year last, `@` macros), the standard day-of-week numbering (0 or 7 = Sunday, 1 = Monday, in every
//! form), the classic day-of-month OR day-of-week rule, and the daylight-saving rules:
//!
//! - a local time that does not exist (the hour skipped when clocks go forward) does not fire;
//! - a local time that happens twice (clocks go back) fires once, at its first occurrence, when the
//!   schedule names its hours; a schedule whose hour field is `*` fires every hour or more often and
//!   follows real time, so it fires in both passes of the repeated hour.
//!
//! Pure: the current time is always a parameter, so the rules are unit-tested with a fixed clock.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{DateTime, Duration, FixedOffset, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// A bad expression; the message names the field at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(pub String);

fn bad(message: impl Into<String>) -> ScheduleError {
    ScheduleError(message.into())
}

/// The fields of an expression after macro expansion, as written (day-of-week still in standard
/// numbering). `describe` reads these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields {
    pub second: String,
    pub minute: String,
    pub hour: String,
    pub day_of_month: String,
    pub month: String,
    pub day_of_week: String,
    pub year: Option<String>,
    /// The days the day-of-week field allows, 0 = Sunday.
    pub weekdays: BTreeSet<u8>,
    /// The macro the expression came from, if any.
    pub macro_name: Option<&'static str>,
}

/// A parsed schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    fields: Fields,
    /// One `cron::Schedule` per alternative: two when both day fields are restricted (either matches).
    parts: Vec<cron::Schedule>,
}

const MACROS: &[(&str, &str)] = &[
    ("@yearly", "0 0 0 1 1 *"),
    ("@annually", "0 0 0 1 1 *"),
    ("@monthly", "0 0 0 1 * *"),
    ("@weekly", "0 0 0 * * 0"),
    ("@daily", "0 0 0 * * *"),
    ("@midnight", "0 0 0 * * *"),
    ("@hourly", "0 0 * * * *"),
];

const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const DAY_LONG: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

/// Search steps before giving up on finding a fire time (guards against pathological zones).
const MAX_STEPS: usize = 10_000;
/// Offset changes are looked for at least this often between two instants.
const PROBE_STEP: i64 = 12 * 3600;

impl Schedule {
    pub fn parse(expression: &str) -> Result<Schedule, ScheduleError> {
        let text = expression.trim();
        if text.is_empty() {
            return Err(bad("the schedule is empty"));
        }
        let (expanded, macro_name) = if text.starts_with('@') {
            let lower = text.to_ascii_lowercase();
            let Some((name, fields)) = MACROS.iter().find(|(m, _)| *m == lower) else {
                return Err(bad(format!(
                    "unknown macro {text:?}: use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
                )));
            };
            (fields.to_string(), Some(*name))
        } else {
            (text.to_string(), None)
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        let parts: Vec<&str> = match parts.len() {
            5 => std::iter::once("0").chain(parts).collect(),
            6 | 7 => parts,
            n => {
                return Err(bad(format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or 7 with a year last; got {n}"
                )));
            }
        };
        let weekdays = parse_weekdays(parts[5])?;
        let fields = Fields {
            second: parts[0].into(),
            minute: parts[1].into(),
            hour: parts[2].into(),
            day_of_month: parts[3].into(),
            month: parts[4].into(),
            day_of_week: parts[5].into(),
            year: parts.get(6).map(|y| y.to_string()),
            weekdays,
            macro_name,
        };
        check_fields(&fields)?;
        let dow = if is_star(&fields.day_of_week) && fields.weekdays.len() == 7 {
            "*".to_string()
        } else {
            crate_weekdays(&fields.weekdays)
        };
        let year = fields.year.clone().unwrap_or_else(|| "*".into());
        let expr = |dom: &str, dow: &str| {
            format!(
                "{} {} {} {dom} {} {dow} {year}",
                fields.second, fields.minute, fields.hour, fields.month
            )
        };
        // Standard cron: when both day fields are restricted, a day matching either one fires.
        let alternatives =
            if is_restricted(&fields.day_of_month) && is_restricted(&fields.day_of_week) {
                vec![expr(&fields.day_of_month, "*"), expr("*", &dow)]
            } else {
                vec![expr(&fields.day_of_month, &dow)]
            };
        let parts = alternatives
            .iter()
            .map(|e| cron::Schedule::from_str(e).map_err(|err| bad(crate_message(&err))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Schedule { fields, parts })
    }

    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// The expression in its 6- or 7-field form (seconds first).
    pub fn normalized(&self) -> String {
        let f = &self.fields;
        let mut s = format!(
            "{} {} {} {} {} {}",
            f.second, f.minute, f.hour, f.day_of_month, f.month, f.day_of_week
        );
        if let Some(y) = &f.year {
            s.push(' ');
            s.push_str(y);
        }
        s
    }

    /// The first fire time strictly after `after`, in `tz` (see the module docs for DST rules).
    pub fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // `lo` is an exclusive lower bound; `off` the offset in force just after it.
        let mut lo = after;
        let mut off = offset_at(tz, after);
        for _ in 0..MAX_STEPS {
            let local = lo.naive_utc() + off;
            let naive = self.next_naive(local)?;
            let t = (naive - off).and_utc();
            match first_change(tz, lo, t, off) {
                Some(change) => {
                    lo = change - Duration::nanoseconds(1);
                    off = offset_at(tz, change);
                }
                None if self.second_pass_blocked(tz, naive, t) => lo = t,
                None => return Some(t),
            }
        }
        tracing::warn!(schedule = %self.normalized(), %tz, "no fire time found within the search bound");
        None
    }

    /// The next `n` fire times after `after`.
    pub fn upcoming(&self, tz: Tz, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut t = after;
        while out.len() < n {
            match self.next_after(tz, t) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }

    /// The latest fire time in `(since, until]`, if any. Bisects on time (fire times are whole seconds
    /// and `next_after` is monotonic), so a long gap costs a few dozen searches, not one per missed fire.
    pub fn latest_between(
        &self,
        tz: Tz,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        // `a` is a fire time <= until; no fire time lies in (b, until].
        let mut a = self.next_after(tz, since).filter(|t| *t <= until)?;
        let mut b = until;
        while b - a > Duration::seconds(1) {
            let mid = a + (b - a) / 2;
            match self.next_after(tz, mid) {
                Some(n) if n <= until => a = n,
                _ => b = mid,
            }
        }
        Some(self.next_after(tz, a).filter(|n| *n <= until).unwrap_or(a))
    }

    /// The smallest matching wall-clock time strictly after `local`, ignoring time zones.
    fn next_naive(&self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        let from = Utc.from_utc_datetime(&local);
        self.parts
            .iter()
            .filter_map(|p| p.after(&from).next())
            .min()
            .map(|t| t.naive_utc())
    }

    /// Fixed-hour schedules fire once for a local time that happens twice: the second pass is skipped.
    fn second_pass_blocked(&self, tz: Tz, naive: NaiveDateTime, t: DateTime<Utc>) -> bool {
        if is_star(&self.fields.hour) {
            return false;
        }
        matches!(tz.from_local_datetime(&naive), LocalResult::Ambiguous(first, second)
            if second.with_timezone(&Utc) == t && first.with_timezone(&Utc) != t)
    }
}

fn offset_at(tz: Tz, t: DateTime<Utc>) -> FixedOffset {
    tz.offset_from_utc_datetime(&t.naive_utc()).fix()
}

/// The first instant in `(lo, hi]` whose UTC offset is not `off`, to the second (zones change at whole
/// seconds). Probes every 12 hours, so two changes closer than that could be missed; no zone has them.
fn first_change(
    tz: Tz,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
    off: FixedOffset,
) -> Option<DateTime<Utc>> {
    let mut prev = lo;
    loop {
        let probe = (prev + Duration::seconds(PROBE_STEP)).min(hi);
        if offset_at(tz, probe) != off {
            // The change is in (prev, probe]: bisect on whole seconds.
            let (mut a, mut b) = (prev, probe);
            while (b - a) > Duration::seconds(1) {
                let mid = a + (b - a) / 2;
                if offset_at(tz, mid) != off {
                    b = mid;
                } else {
                    a = mid;
                }
            }
            let whole = DateTime::from_timestamp(b.timestamp(), 0).unwrap_or(b);
            let at = if whole > a && offset_at(tz, whole) != off {
                whole
            } else {
                b
            };
            return Some(at);
        }
        if probe >= hi {
            return None;
        }
        prev = probe;
    }
}

fn is_star(field: &str) -> bool {
    field == "*" || field == "?"
}

/// Vixie cron's rule: a day field counts as restricted unless it starts with `*` (or `?`).
fn is_restricted(field: &str) -> bool {
    !(field.starts_with('*') || field.starts_with('?'))
}

/// The day-of-week field in standard numbering (0-7, 0 and 7 = Sunday) or names, as a set of 0-6.
fn parse_weekdays(field: &str) -> Result<BTreeSet<u8>, ScheduleError> {
    let err = |why: String| bad(format!("day-of-week field {field:?}: {why}"));
    let mut days = BTreeSet::new();
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => {
                let step: u8 = s
                    .parse()
                    .map_err(|_| err(format!("step {s:?} is not a number")))?;
                if step == 0 {
                    return Err(err("a step cannot be zero".into()));
                }
                (b, Some(step))
            }
            None => (item, None),
        };
        let (lo, hi) = if base == "*" || base == "?" {
            (0, 7)
        } else if let Some((a, b)) = base.split_once('-') {
            let (a, b) = (weekday(a).map_err(&err)?, weekday(b).map_err(&err)?);
            if a > b {
                return Err(err(format!("range {base:?} runs backwards")));
            }
            (a, b)
        } else {
            let d = weekday(base).map_err(&err)?;
            (d, if step.is_some() { 7 } else { d })
        };
        let mut d = lo;
        while d <= hi {
            days.insert(d % 7);
            d += step.unwrap_or(1);
        }
    }
    Ok(days)
}

fn weekday(s: &str) -> Result<u8, String> {
    if let Ok(n) = s.parse::<u8>() {
        return if n <= 7 {
            Ok(n)
        } else {
            Err(format!("{n} is not a day (0-7, 0 and 7 are Sunday)"))
        };
    }
    let lower = s.to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|d| *d == lower)
        .or_else(|| DAY_LONG.iter().position(|d| *d == lower))
        .map(|i| i as u8)
        .ok_or_else(|| {
            if s.is_empty() {
                "empty item".to_string()
            } else {
                format!("{s:?} is not a day (use 0-7 or SUN-SAT; L and # are not supported)")
            }
        })
}

/// The `cron` crate numbers days 1-7 from Sunday.
fn crate_weekdays(days: &BTreeSet<u8>) -> String {
    days.iter()
        .map(|d| (d + 1).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Checks each field on its own so the error names the one at fault.
fn check_fields(f: &Fields) -> Result<(), ScheduleError> {
    let checks = [
        ("second", &f.second, format!("{} * * * * *", f.second)),
        ("minute", &f.minute, format!("0 {} * * * *", f.minute)),
        ("hour", &f.hour, format!("0 0 {} * * *", f.hour)),
        (
            "day-of-month",
            &f.day_of_month,
            format!("0 0 0 {} * *", f.day_of_month),
        ),
        ("month", &f.month, format!("0 0 0 * {} *", f.month)),
    ];
    for (name, value, expr) in checks {
        if let Err(e) = cron::Schedule::from_str(&expr) {
            return Err(bad(format!(
                "{name} field {value:?}: {}",
                crate_message(&e)
            )));
        }
    }
    if let Some(year) = &f.year
        && let Err(e) = cron::Schedule::from_str(&format!("0 0 0 * * * {year}"))
    {
        return Err(bad(format!(
            "year field {year:?}: {} (years are 1970-2100)",
            crate_message(&e)
        )));
    }
    Ok(())
}

/// The `cron` crate's messages are a copy of the input, a caret line, then the reason (sometimes empty).
fn crate_message(e: &cron::error::Error) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let reason = if lines.len() >= 2 && lines[1].trim() == "^" {
        lines[2..].join(" ")
    } else {
        text.clone()
    };
    let reason = reason.trim();
    if reason.is_empty() {
        "not a valid value".into()
    } else {
        reason.to_string()
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
