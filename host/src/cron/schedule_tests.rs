//! Schedule parsing and fire times with a fixed clock: field forms, day-of-week numbering, macros, the
//! day OR rule, errors naming the field, and both daylight-saving transitions in two zones.

use chrono::{DateTime, Datelike, Utc, Weekday};
use chrono_tz::Tz;

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

fn sched(expr: &str) -> Schedule {
    Schedule::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn next(expr: &str, tz: Tz, after: &str) -> DateTime<Utc> {
    sched(expr)
        .next_after(tz, utc(after))
        .unwrap_or_else(|| panic!("{expr} never fires after {after}"))
}

fn upcoming(expr: &str, tz: Tz, after: &str, n: usize) -> Vec<String> {
    sched(expr)
        .upcoming(tz, utc(after), n)
        .into_iter()
        .map(|t| t.to_rfc3339())
        .collect()
}

fn error(expr: &str) -> String {
    match Schedule::parse(expr) {
        Ok(_) => panic!("{expr:?} was accepted"),
        Err(e) => e.0,
    }
}

const UTC: Tz = chrono_tz::UTC;
const NEW_YORK: Tz = chrono_tz::America::New_York;
const LONDON: Tz = chrono_tz::Europe::London;

#[test]
fn five_fields_fire_at_second_zero() {
    let s = sched("*/15 * * * *");
    assert_eq!(s.normalized(), "0 */15 * * * *");
    assert_eq!(
        next("*/15 * * * *", UTC, "2024-06-03T12:07:30Z"),
        utc("2024-06-03T12:15:00Z")
    );
    // Strictly after: a fire time equal to `after` is not returned again.
    assert_eq!(
        next("*/15 * * * *", UTC, "2024-06-03T12:15:00Z"),
        utc("2024-06-03T12:30:00Z")
    );
}

#[test]
fn six_and_seven_fields_have_seconds_and_a_year() {
    assert_eq!(
        upcoming("*/1 * * * * *", UTC, "2024-06-03T12:00:00.400Z", 3),
        [
            "2024-06-03T12:00:01+00:00",
            "2024-06-03T12:00:02+00:00",
            "2024-06-03T12:00:03+00:00"
        ]
    );
    assert_eq!(
        next("30 0 12 1 1 * 2030", UTC, "2024-06-03T00:00:00Z"),
        utc("2030-01-01T12:00:30Z")
    );
    assert_eq!(
        sched("30 0 12 1 1 * 2030").next_after(UTC, utc("2030-01-01T12:00:30Z")),
        None
    );
}

#[test]
fn day_of_week_uses_standard_numbering() {
    // 2024-06-02 is a Sunday.
    let monday = next("0 9 * * 1", UTC, "2024-06-02T10:00:00Z");
    assert_eq!(monday, utc("2024-06-03T09:00:00Z"));
    assert_eq!(monday.weekday(), Weekday::Mon);
    for sunday in ["0 9 * * 0", "0 9 * * 7", "0 9 * * SUN", "0 9 * * sunday"] {
        let t = next(sunday, UTC, "2024-06-03T10:00:00Z");
        assert_eq!(t, utc("2024-06-09T09:00:00Z"), "{sunday}");
    }
    assert_eq!(
        next("0 9 * * 6", UTC, "2024-06-03T10:00:00Z").weekday(),
        Weekday::Sat
    );
    // Seconds forms use the same numbering.
    assert_eq!(
        next("0 0 9 * * 1", UTC, "2024-06-02T10:00:00Z"),
        utc("2024-06-03T09:00:00Z")
    );
    let days = |e: &str| {
        sched(e)
            .fields()
            .weekdays
            .iter()
            .copied()
            .collect::<Vec<_>>()
    };
    assert_eq!(days("0 9 * * MON-FRI"), [1, 2, 3, 4, 5]);
    assert_eq!(days("0 9 * * 5-7"), [0, 5, 6]);
    assert_eq!(days("0 9 * * */2"), [0, 2, 4, 6]);
    assert_eq!(days("0 9 * * 1-5/2"), [1, 3, 5]);
    assert_eq!(days("0 9 * * 1,sat"), [1, 6]);
    let weekdays: Vec<Weekday> = sched("0 9 * * 5-7")
        .upcoming(UTC, utc("2024-06-03T00:00:00Z"), 3)
        .iter()
        .map(|t| t.weekday())
        .collect();
    assert_eq!(weekdays, [Weekday::Fri, Weekday::Sat, Weekday::Sun]);
}

#[test]
fn restricted_day_of_month_or_day_of_week() {
    // The 13th, or any Friday (standard cron), from Saturday 2024-06-01.
    assert_eq!(
        upcoming("0 0 13 * 5", UTC, "2024-06-01T00:00:00Z", 3),
        [
            "2024-06-07T00:00:00+00:00",
            "2024-06-13T00:00:00+00:00",
            "2024-06-14T00:00:00+00:00"
        ]
    );
    // A `*` day-of-week leaves the day-of-month alone.
    assert_eq!(
        upcoming("0 0 13 * *", UTC, "2024-06-01T00:00:00Z", 2),
        ["2024-06-13T00:00:00+00:00", "2024-07-13T00:00:00+00:00"]
    );
}

#[test]
fn macros() {
    let after = "2024-06-05T10:20:30Z";
    let cases = [
        ("@yearly", "2025-01-01T00:00:00Z"),
        ("@annually", "2025-01-01T00:00:00Z"),
        ("@monthly", "2024-07-01T00:00:00Z"),
        ("@weekly", "2024-06-09T00:00:00Z"),
        ("@daily", "2024-06-06T00:00:00Z"),
        ("@midnight", "2024-06-06T00:00:00Z"),
        ("@hourly", "2024-06-05T11:00:00Z"),
        ("@HOURLY", "2024-06-05T11:00:00Z"),
    ];
    for (m, want) in cases {
        assert_eq!(next(m, UTC, after), utc(want), "{m}");
    }
    assert_eq!(sched("@weekly").fields().macro_name, Some("@weekly"));
    assert!(error("@reboot").contains("unknown macro"));
}

#[test]
fn errors_name_the_field() {
    let cases = [
        ("61 * * * *", "minute field \"61\""),
        ("* 25 * * *", "hour field \"25\""),
        ("* * 32 * *", "day-of-month field \"32\""),
        ("* * * 13 *", "month field \"13\""),
        ("* * * * 8", "day-of-week field \"8\""),
        ("* * * * MO", "day-of-week field \"MO\""),
        ("* * * * 5-1", "runs backwards"),
        ("61 * * * * *", "second field \"61\""),
        ("0 0 0 * * * 1960", "year field \"1960\""),
        ("x * * * *", "minute field \"x\""),
        ("* * *", "expected 5 fields"),
        ("* * * * * * * *", "got 8"),
        ("", "empty"),
    ];
    for (expr, want) in cases {
        let e = error(expr);
        assert!(
            e.contains(want),
            "{expr:?}: {e:?} does not contain {want:?}"
        );
    }
}

#[test]
fn new_york_spring_forward_skips_the_missing_hour() {
    // 2024-03-10 02:00 EST -> 03:00 EDT: 02:30 does not exist that day.
    assert_eq!(
        upcoming("30 2 * * *", NEW_YORK, "2024-03-09T12:00:00Z", 2),
        ["2024-03-11T06:30:00+00:00", "2024-03-12T06:30:00+00:00"]
    );
    // Hourly keeps real-time spacing: 01:00 EST is followed by 03:00 EDT, one hour later.
    assert_eq!(
        upcoming("0 * * * *", NEW_YORK, "2024-03-10T05:30:00Z", 3),
        [
            "2024-03-10T06:00:00+00:00",
            "2024-03-10T07:00:00+00:00",
            "2024-03-10T08:00:00+00:00"
        ]
    );
    // Local 01:00 EST and 03:00 EDT.
    let t = next("0 * * * *", NEW_YORK, "2024-03-10T06:30:00Z").with_timezone(&NEW_YORK);
    assert_eq!(t.to_rfc3339(), "2024-03-10T03:00:00-04:00");
}

#[test]
fn new_york_fall_back_fires_fixed_times_once() {
    // 2024-11-03 02:00 EDT -> 01:00 EST: 01:30 happens at 05:30Z and again at 06:30Z.
    assert_eq!(
        upcoming("30 1 * * *", NEW_YORK, "2024-11-02T12:00:00Z", 3),
        [
            "2024-11-03T05:30:00+00:00",
            "2024-11-04T06:30:00+00:00",
            "2024-11-05T06:30:00+00:00"
        ]
    );
    // From inside the second pass, the already-fired 01:30 is not fired again.
    assert_eq!(
        next("30 1 * * *", NEW_YORK, "2024-11-03T06:10:00Z"),
        utc("2024-11-04T06:30:00Z")
    );
    // Hourly follows real time through both passes of 01:00.
    assert_eq!(
        upcoming("0 * * * *", NEW_YORK, "2024-11-03T04:30:00Z", 3),
        [
            "2024-11-03T05:00:00+00:00",
            "2024-11-03T06:00:00+00:00",
            "2024-11-03T07:00:00+00:00"
        ]
    );
}

#[test]
fn every_second_is_continuous_across_both_transitions() {
    for (zone, around) in [
        (NEW_YORK, "2024-11-03T05:59:50Z"),
        (NEW_YORK, "2024-03-10T06:59:50Z"),
        (LONDON, "2024-10-27T00:59:50Z"),
        (LONDON, "2024-03-31T00:59:50Z"),
    ] {
        let times = sched("* * * * * *").upcoming(zone, utc(around), 20);
        for pair in times.windows(2) {
            assert_eq!(
                (pair[1] - pair[0]).num_seconds(),
                1,
                "{zone} {around}: {times:?}"
            );
        }
    }
}

#[test]
fn london_transitions() {
    // 2024-03-31 01:00 GMT -> 02:00 BST: 01:30 is skipped that day.
    assert_eq!(
        upcoming("30 1 * * *", LONDON, "2024-03-30T12:00:00Z", 2),
        ["2024-04-01T00:30:00+00:00", "2024-04-02T00:30:00+00:00"]
    );
    // 2024-10-27 02:00 BST -> 01:00 GMT: 01:30 once, at its BST occurrence.
    assert_eq!(
        upcoming("30 1 * * *", LONDON, "2024-10-26T12:00:00Z", 2),
        ["2024-10-27T00:30:00+00:00", "2024-10-28T01:30:00+00:00"]
    );
    // Every 30 minutes follows real time: 01:00 BST, 01:30 BST, 01:00 GMT, 01:30 GMT, 02:00 GMT.
    assert_eq!(
        upcoming("*/30 * * * *", LONDON, "2024-10-26T23:45:00Z", 5),
        [
            "2024-10-27T00:00:00+00:00",
            "2024-10-27T00:30:00+00:00",
            "2024-10-27T01:00:00+00:00",
            "2024-10-27T01:30:00+00:00",
            "2024-10-27T02:00:00+00:00"
        ]
    );
}

#[test]
fn latest_between_finds_the_last_missed_fire() {
    let s = sched("* * * * *");
    assert_eq!(
        s.latest_between(
            UTC,
            utc("2024-06-03T10:00:30Z"),
            utc("2024-06-03T10:05:10Z")
        ),
        Some(utc("2024-06-03T10:05:00Z"))
    );
    // The bound itself counts; the start does not.
    assert_eq!(
        s.latest_between(
            UTC,
            utc("2024-06-03T10:05:00Z"),
            utc("2024-06-03T10:05:00Z")
        ),
        None
    );
    assert_eq!(
        s.latest_between(
            UTC,
            utc("2024-06-03T10:04:00Z"),
            utc("2024-06-03T10:05:00Z")
        ),
        Some(utc("2024-06-03T10:05:00Z"))
    );
    assert_eq!(
        s.latest_between(
            UTC,
            utc("2024-06-03T10:05:00Z"),
            utc("2024-06-03T10:05:59Z")
        ),
        None
    );
    // Years of downtime for an every-second job cost a bisection, not a walk.
    let every = sched("* * * * * *");
    let started = std::time::Instant::now();
    assert_eq!(
        every.latest_between(
            UTC,
            utc("2001-01-01T00:00:00Z"),
            utc("2024-06-03T10:05:10.5Z")
        ),
        Some(utc("2024-06-03T10:05:10Z"))
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(
        sched("@yearly").latest_between(
            NEW_YORK,
            utc("2020-06-01T00:00:00Z"),
            utc("2024-06-01T00:00:00Z")
        ),
        Some(utc("2024-01-01T05:00:00Z"))
    );
}

#[test]
fn impossible_dates_never_fire() {
    assert_eq!(
        sched("0 0 30 2 *").next_after(UTC, utc("2024-01-01T00:00:00Z")),
        None
    );
}
