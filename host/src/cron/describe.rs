//! A plain-English description of a schedule ("At 09:00, on Monday through Friday"), built from its
//! fields as written. Pure text work; it never decides when a job fires (that is `schedule`).

use super::schedule::Fields;

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub fn describe(f: &Fields) -> String {
    if let Some(text) = f.macro_name.and_then(macro_text) {
        return text.to_string();
    }
    let mut parts = time_parts(f);
    let days = day_parts(f);
    if days.is_empty() && fixed_time(f).is_some() {
        parts.push("every day".into());
    }
    parts.extend(days);
    let text = parts.join(", ");
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

fn macro_text(name: &str) -> Option<&'static str> {
    Some(match name {
        "@yearly" | "@annually" => "Once a year, at 00:00 on January 1",
        "@monthly" => "Once a month, at 00:00 on day 1",
        "@weekly" => "Once a week, at 00:00 on Sunday",
        "@daily" | "@midnight" => "Every day at 00:00",
        "@hourly" => "Every hour, at minute 0",
        _ => return None,
    })
}

fn number(s: &str) -> Option<u32> {
    s.parse().ok()
}

/// `(hour, minute, second)` when all three are single numbers.
fn fixed_time(f: &Fields) -> Option<(u32, u32, u32)> {
    Some((number(&f.hour)?, number(&f.minute)?, number(&f.second)?))
}

fn time_parts(f: &Fields) -> Vec<String> {
    if let Some((h, m, s)) = fixed_time(f) {
        return vec![if s == 0 {
            format!("at {h:02}:{m:02}")
        } else {
            format!("at {h:02}:{m:02}:{s:02}")
        }];
    }
    let mut parts = Vec::new();
    let star = |v: &str| v == "*" || v == "?" || v == "*/1";
    match f.second.as_str() {
        "0" => {}
        v if star(v) => parts.push("every second".to_string()),
        v => parts.push(unit_phrase(v, "second")),
    }
    let every_second = star(&f.second);
    match f.minute.as_str() {
        v if star(v) && f.second == "0" => parts.push("every minute".into()),
        v if star(v) && !every_second && number(&f.second).is_some() => {
            if let Some(last) = parts.last_mut() {
                last.push_str(" of every minute");
            }
        }
        v if star(v) => {}
        v if f.second == "0" && star(&f.hour) && number(v).is_some() => {
            parts.push(format!("at minute {v} of every hour"));
            return parts;
        }
        v => parts.push(unit_phrase(v, "minute")),
    }
    if !star(&f.hour) {
        parts.push(unit_phrase(&f.hour, "hour"));
    }
    parts
}

/// "every 5 minutes", "minutes 10 through 20", "at minutes 0,30", "at minute 7".
fn unit_phrase(value: &str, unit: &str) -> String {
    if let Some((base, step)) = value.split_once('/') {
        let every = if step == "1" {
            format!("every {unit}")
        } else {
            format!("every {step} {unit}s")
        };
        return match base {
            "*" | "?" => every,
            b if b.contains('-') => format!("{every} from {}", b.replace('-', " through ")),
            b => format!("{every} starting at {unit} {b}"),
        };
    }
    if value.contains(',') {
        format!("at {unit}s {}", list(&value.split(',').collect::<Vec<_>>()))
    } else if let Some((a, b)) = value.split_once('-') {
        format!("{unit}s {a} through {b}")
    } else {
        format!("at {unit} {value}")
    }
}

fn list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn day_parts(f: &Fields) -> Vec<String> {
    let restricted = |v: &str| !(v.starts_with('*') || v.starts_with('?'));
    let mut out = Vec::new();
    let dom = restricted(&f.day_of_month).then(|| day_of_month(&f.day_of_month));
    let dow = (f.weekdays.len() < 7).then(|| weekdays(f));
    match (dom, dow) {
        (Some(d), Some(w)) => out.push(format!("{d} or {w}")),
        (Some(d), None) => out.push(d),
        (None, Some(w)) => out.push(w),
        (None, None) => {}
    }
    if restricted(&f.month) {
        out.push(format!("in {}", months(&f.month)));
    }
    if let Some(y) = f.year.as_deref().filter(|y| restricted(y)) {
        out.push(format!("in {y}"));
    }
    out
}

fn day_of_month(v: &str) -> String {
    if number(v).is_some() {
        format!("on day {v} of the month")
    } else {
        let phrase = unit_phrase(v, "day");
        let phrase = phrase.strip_prefix("at ").unwrap_or(&phrase);
        if phrase.starts_with("days") {
            format!("on {phrase} of the month")
        } else {
            format!("{phrase} of the month")
        }
    }
}

fn weekdays(f: &Fields) -> String {
    let days: Vec<u8> = f.weekdays.iter().copied().collect();
    let contiguous = days.windows(2).all(|w| w[1] == w[0] + 1);
    match days.as_slice() {
        [1, 2, 3, 4, 5] => "on weekdays (Monday through Friday)".into(),
        [0, 6] => "on weekends".into(),
        [first, .., last] if contiguous && days.len() >= 3 => {
            format!(
                "on {} through {}",
                DAYS[*first as usize], DAYS[*last as usize]
            )
        }
        _ => {
            let names: Vec<&str> = days.iter().map(|d| DAYS[*d as usize]).collect();
            format!("on {}", list(&names))
        }
    }
}

fn month_name(s: &str) -> String {
    if let Some(n) = number(s).filter(|n| (1..=12).contains(n)) {
        return MONTHS[n as usize - 1].into();
    }
    MONTHS
        .iter()
        .find(|m| m[..3].eq_ignore_ascii_case(s) || m.eq_ignore_ascii_case(s))
        .map_or_else(|| s.to_string(), |m| m.to_string())
}

fn months(v: &str) -> String {
    let items: Vec<String> = v
        .split(',')
        .map(|item| match item.split_once('-') {
            Some((a, b)) if !item.contains('/') => {
                format!("{} through {}", month_name(a), month_name(b))
            }
            _ if item.contains('/') => format!("months {item}"),
            _ => month_name(item),
        })
        .collect();
    list(&items.iter().map(String::as_str).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::super::schedule::Schedule;
    use super::*;

    fn text(expr: &str) -> String {
        describe(Schedule::parse(expr).unwrap().fields())
    }

    #[test]
    fn reads_like_english() {
        let cases = [
            ("*/15 * * * *", "Every 15 minutes"),
            ("* * * * *", "Every minute"),
            ("*/1 * * * * *", "Every second"),
            ("*/10 * * * * *", "Every 10 seconds"),
            ("5 * * * * *", "At second 5 of every minute"),
            ("0 9 * * 1", "At 09:00, on Monday"),
            (
                "30 8 * * 1-5",
                "At 08:30, on weekdays (Monday through Friday)",
            ),
            ("0 9 * * 0,6", "At 09:00, on weekends"),
            ("0 9 * * 1,3,5", "At 09:00, on Monday, Wednesday and Friday"),
            (
                "0 0 13 * 5",
                "At 00:00, on day 13 of the month or on Friday",
            ),
            ("0 2 * * *", "At 02:00, every day"),
            ("30 15 10 * * *", "At 10:15:30, every day"),
            ("5 * * * *", "At minute 5 of every hour"),
            (
                "0 */5 9-17 * * MON-FRI",
                "Every 5 minutes, hours 9 through 17, on weekdays (Monday through Friday)",
            ),
            (
                "0 12 1 1,7 *",
                "At 12:00, on day 1 of the month, in January and July",
            ),
            ("0 0 1-7 * *", "At 00:00, on days 1 through 7 of the month"),
            (
                "0 0 0 1 JAN * 2030",
                "At 00:00, on day 1 of the month, in January, in 2030",
            ),
            ("@weekly", "Once a week, at 00:00 on Sunday"),
            ("@midnight", "Every day at 00:00"),
        ];
        for (expr, want) in cases {
            assert_eq!(text(expr), want, "{expr}");
        }
    }
}
