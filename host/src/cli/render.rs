//! Output for people: tables, human durations, one-line renderings of events and log lines. Every
//! function returns a `String` (no printing here) so rendering is testable without a daemon.

use chrono::{DateTime, Utc};

use crate::wire::{Event, ExitInfo, LogLine, ServiceState, ServiceView, StatusResponse};

/// `3m12s`-style duration: the two largest units, whole seconds.
pub fn duration(secs: f64) -> String {
    let s = if secs.is_finite() && secs > 0.0 {
        secs as u64
    } else {
        0
    };
    let (d, h, m, s) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// "3m12s ago" / "in 2s" for an RFC 3339 time, or the time as given when it does not parse.
pub fn relative(time: &str, now: DateTime<Utc>) -> String {
    match DateTime::parse_from_rfc3339(time) {
        Ok(t) => {
            let secs = (now - t.with_timezone(&Utc)).num_milliseconds() as f64 / 1000.0;
            if secs >= 0.0 {
                format!("{} ago", duration(secs))
            } else {
                format!("in {}", duration(-secs))
            }
        }
        Err(_) => time.to_string(),
    }
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn uptime(state: &ServiceState) -> String {
    or_dash(state.uptime_s.map(duration))
}

fn health(state: &ServiceState) -> String {
    or_dash(state.health.map(|h| h.as_str()))
}

/// "12.3 MiB / 4.0%" from the last metrics sample.
fn usage(state: &ServiceState) -> String {
    match (state.memory_mb, state.cpu_percent) {
        (Some(m), Some(c)) => format!("{m:.1} MiB / {c:.1}%"),
        (Some(m), None) => format!("{m:.1} MiB"),
        _ => "-".to_string(),
    }
}

/// "code 1, 3m ago", "SIGKILL, 10s ago".
pub fn last_exit(exit: &ExitInfo, now: DateTime<Utc>) -> String {
    let how = match (&exit.code, &exit.signal) {
        (_, Some(sig)) => sig.clone(),
        (Some(code), None) => format!("code {code}"),
        (None, None) => "exited".to_string(),
    };
    format!("{how}, {}", relative(&exit.at, now))
}

/// `tend ls`.
pub fn services_table(services: &[ServiceView]) -> String {
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|v| {
            vec![
                v.spec.name.clone(),
                v.state.status.as_str().to_string(),
                or_dash(v.state.pid),
                uptime(&v.state),
                v.state.restart_count.to_string(),
                v.spec.command.display(),
            ]
        })
        .collect();
    table(
        &["NAME", "STATUS", "PID", "UPTIME", "RESTARTS", "COMMAND"],
        &rows,
    )
}

/// `tend status`: one line about the supervisor, then every service with its last exit.
pub fn status(status: &StatusResponse, services: &[ServiceView], now: DateTime<Utc>) -> String {
    let sup = &status.supervisor;
    let counts: Vec<String> = sup
        .counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let mut out = format!(
        "tend {} {}, pid {}, up {}, {} service{}{}, data dir {}\n",
        sup.version,
        sup.status,
        sup.pid,
        duration(sup.uptime_s),
        sup.managed_services,
        if sup.managed_services == 1 { "" } else { "s" },
        if counts.is_empty() {
            String::new()
        } else {
            format!(" ({})", counts.join(", "))
        },
        sup.data_dir.display(),
    );
    if let Some(c) = &sup.containment {
        match &c.root {
            Some(root) => out.push_str(&format!("containment: {} ({})\n", c.kind, root.display())),
            None => out.push_str(&format!("containment: {}\n", c.kind)),
        }
    }
    // The status answer is authoritative for states; the list adds commands.
    let command = |name: &str| {
        services
            .iter()
            .find(|v| v.spec.name == name)
            .map(|v| v.spec.command.display())
            .unwrap_or_default()
    };
    let rows: Vec<Vec<String>> = status
        .services
        .iter()
        .map(|(name, st)| {
            vec![
                name.clone(),
                st.status.as_str().to_string(),
                or_dash(st.pid),
                uptime(st),
                health(st),
                usage(st),
                st.restart_count.to_string(),
                or_dash(st.last_exit.as_ref().map(|e| last_exit(e, now))),
                command(name),
            ]
        })
        .collect();
    if rows.is_empty() {
        out.push_str("no services\n");
    } else {
        out.push('\n');
        out.push_str(&table(
            &[
                "NAME",
                "STATUS",
                "PID",
                "UPTIME",
                "HEALTH",
                "MEM / CPU",
                "RESTARTS",
                "LAST EXIT",
                "COMMAND",
            ],
            &rows,
        ));
    }
    out
}

/// `tend status NAME`: the spec and state of one service, then its recent transitions.
pub fn service_details(v: &ServiceView, events: &[Event], now: DateTime<Utc>) -> String {
    let (spec, st) = (&v.spec, &v.state);
    let mut fields: Vec<(&str, String)> = Vec::new();
    let mut status = st.status.as_str().to_string();
    if let Some(pid) = st.pid {
        status.push_str(&format!(", pid {pid}"));
    }
    if let Some(up) = st.uptime_s {
        status.push_str(&format!(", up {}", duration(up)));
    }
    fields.push(("name", spec.name.clone()));
    fields.push(("status", status));
    if let Some(at) = &st.next_start_at {
        fields.push(("next start", format!("{} ({at})", relative(at, now))));
    }
    for w in &st.waiting_for {
        let blocked = if w.blocked { ", blocked" } else { "" };
        fields.push((
            "waiting for",
            format!(
                "{} ({}{blocked}): {}",
                w.service,
                w.condition.as_str(),
                w.reason
            ),
        ));
    }
    if let Some(h) = st.health {
        fields.push(("health", h.as_str().to_string()));
    }
    if st.memory_mb.is_some() {
        fields.push(("memory / cpu", usage(st)));
    }
    fields.push(("restarts", st.restart_count.to_string()));
    if let Some(e) = &st.last_exit {
        fields.push(("last exit", format!("{} ({})", last_exit(e, now), e.at)));
    }
    fields.push(("command", format!("{:?}", spec.command.argv())));
    fields.push(("source", format!("{:?}", v.source).to_lowercase()));
    fields.push(("enabled", spec.enabled.to_string()));
    if let Some(dir) = &spec.working_dir {
        fields.push(("working dir", dir.display().to_string()));
    }
    if let Some(port) = spec.port {
        fields.push(("port", port.to_string()));
    }
    let policy = serde_json::to_value(spec.restart)
        .ok()
        .and_then(|v| v.as_str().map(String::from));
    fields.push((
        "restart",
        format!(
            "{} (max {} restarts)",
            policy.unwrap_or_default(),
            spec.max_restarts
        ),
    ));
    fields.push((
        "stop",
        format!(
            "{}, then SIGKILL after {}s",
            spec.stop_signal, spec.stop_timeout_s
        ),
    ));
    if let Some(f) = &spec.env_file {
        fields.push(("env file", f.display().to_string()));
    }
    for (k, val) in &spec.env {
        fields.push(("env", format!("{k}={val}")));
    }
    if !spec.depends_on.is_empty() {
        let deps: Vec<String> = spec
            .depends_on
            .iter()
            .map(|(name, d)| format!("{name} ({})", d.condition.as_str()))
            .collect();
        fields.push(("depends on", deps.join(", ")));
    }
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (k, val) in fields {
        out.push_str(&format!("{:<width$} {val}\n", format!("{k}:")));
    }
    if !events.is_empty() {
        out.push_str("\nrecent events:\n");
        for e in events {
            out.push_str("  ");
            out.push_str(&event_line(e));
            out.push('\n');
        }
    }
    out
}

/// `<time> <service> <from> -> <to> pid=.. code=.. <reason>`.
pub fn event_line(e: &Event) -> String {
    let mut s = format!(
        "{} {} {} -> {}",
        e.time,
        e.service,
        e.from.as_str(),
        e.to.as_str()
    );
    if let Some(pid) = e.pid {
        s.push_str(&format!(" pid={pid}"));
    }
    if let Some(code) = e.exit_code {
        s.push_str(&format!(" code={code}"));
    }
    if let Some(sig) = &e.signal {
        s.push_str(&format!(" signal={sig}"));
    }
    if !e.reason.is_empty() {
        s.push(' ');
        s.push_str(&e.reason);
    }
    s
}

/// `<time> <stream> <line>` (like the log file, `+` after the stream marks a piece of a long line);
/// `raw` gives the text alone, with pieces of a long line joined back together.
pub fn log_line(l: &LogLine, raw: bool) -> String {
    match (raw, l.partial) {
        (true, true) => l.line.clone(),
        (true, false) => format!("{}\n", l.line),
        (false, partial) => {
            format!(
                "{} {}{} {}\n",
                l.time,
                l.stream.as_str(),
                if partial { "+" } else { "" },
                l.line
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Status, Stream};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-01-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn durations_use_the_two_largest_units() {
        assert_eq!(duration(0.0), "0s");
        assert_eq!(duration(0.9), "0s");
        assert_eq!(duration(59.99), "59s");
        assert_eq!(duration(192.0), "3m12s");
        assert_eq!(duration(3600.0), "1h0m");
        assert_eq!(duration(3725.0), "1h2m");
        assert_eq!(duration(90_061.0), "1d1h");
        assert_eq!(duration(-5.0), "0s");
        assert_eq!(duration(f64::NAN), "0s");
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative("2025-01-01T11:56:48Z", now()), "3m12s ago");
        assert_eq!(relative("2025-01-01T12:00:02.500+00:00", now()), "in 2s");
        assert_eq!(relative("yesterday", now()), "yesterday");
    }

    #[test]
    fn tables_align_columns() {
        let t = table(
            &["NAME", "PID", "COMMAND"],
            &[
                vec!["web".into(), "12345".into(), "sleep 1".into()],
                vec!["database".into(), "-".into(), "x".into()],
            ],
        );
        assert_eq!(
            t,
            "NAME      PID    COMMAND\nweb       12345  sleep 1\ndatabase  -      x\n"
        );
    }

    fn view(json: serde_json::Value) -> ServiceView {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn ls_table() {
        let services = [
            view(
                serde_json::json!({"name": "web", "command": ["python", "-m", "http.server"],
                "source": "api", "status": "running", "pid": 42, "uptime_s": 192.4, "restart_count": 1}),
            ),
            view(
                serde_json::json!({"name": "job", "command": "echo hi | cat",
                "source": "config", "status": "exited", "restart_count": 0,
                "last_exit": {"code": 0, "at": "2025-01-01T11:59:00Z"}}),
            ),
        ];
        assert_eq!(
            services_table(&services),
            "NAME  STATUS   PID  UPTIME  RESTARTS  COMMAND\n\
             web   running  42   3m12s   1         python -m http.server\n\
             job   exited   -    -       0         echo hi | cat\n"
        );
    }

    #[test]
    fn event_and_log_lines() {
        let e = Event {
            id: 3,
            kind: Default::default(),
            health: None,
            service: "web".into(),
            time: "2025-01-01T12:00:00.000Z".into(),
            from: Status::Running,
            to: Status::Backoff,
            pid: Some(42),
            exit_code: Some(1),
            signal: None,
            reason: "restarting in 1.0s".into(),
        };
        assert_eq!(
            event_line(&e),
            "2025-01-01T12:00:00.000Z web running -> backoff pid=42 code=1 restarting in 1.0s"
        );
        let mut l = LogLine {
            id: 1,
            service: "web".into(),
            stream: Stream::Stderr,
            time: "T".into(),
            line: "boom".into(),
            partial: false,
        };
        assert_eq!(log_line(&l, false), "T stderr boom\n");
        assert_eq!(log_line(&l, true), "boom\n");
        l.partial = true;
        assert_eq!(log_line(&l, false), "T stderr+ boom\n");
        assert_eq!(log_line(&l, true), "boom");
    }

    #[test]
    fn last_exit_prefers_the_signal() {
        let e = ExitInfo {
            code: None,
            signal: Some("SIGKILL".into()),
            at: "2025-01-01T11:59:50Z".into(),
        };
        assert_eq!(last_exit(&e, now()), "SIGKILL, 10s ago");
        let e = ExitInfo {
            code: Some(2),
            signal: None,
            at: "2025-01-01T11:59:50Z".into(),
        };
        assert_eq!(last_exit(&e, now()), "code 2, 10s ago");
    }
}
