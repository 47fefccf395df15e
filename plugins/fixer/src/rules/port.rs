//! `port-in-use`: the service could not bind its port. A leftover of the service's own earlier run
//! holding it is stopped (`kill <pid>`, judged by the command policy like any command) and the
//! service restarted; a stranger is never touched: no safe fix, naming it.

use super::{Finding, lines, proposal};
use crate::model::{CommandType, FixCommand, Incident, Project};

pub const NAME: &str = "port-in-use";

/// Python (`[Errno 98] Address already in use`), Go (`bind: address already in use`), uvicorn
/// (`error while attempting to bind on address ...: address already in use`), Node (`EADDRINUSE`),
/// Ruby (`Errno::EADDRINUSE`), Java (`BindException: Address already in use`).
fn in_use(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    l.contains("address already in use")
        || l.contains("eaddrinuse")
        || l.contains("address in use")
        || l.contains("port is already in use")
        || l.contains("port is already allocated")
}

pub fn check(incident: &Incident, _project: &dyn Project) -> Option<Finding> {
    if !lines(incident).any(in_use) {
        return None;
    }
    let port = incident
        .port
        .map_or_else(|| "its port".to_string(), |p| format!("port {p}"));
    let Some(holder) = &incident.port_holder else {
        return Some(Finding::Note(format!(
            "{NAME}: the log says {port} is already in use, but no process holding it was found (it may have exited since)"
        )));
    };
    if !holder.leftover {
        return Some(Finding::Final(format!(
            "{port} is held by pid {} (`{}`), a process that is not part of service `{}`; tend never stops a stranger: stop it yourself or give the service another port",
            holder.pid, holder.command, incident.name
        )));
    }
    if holder.pid <= 1 {
        return Some(Finding::Final(format!(
            "{port} is held by pid {}, which cannot be stopped",
            holder.pid
        )));
    }
    Some(proposal(
        NAME,
        format!(
            "{port} is held by pid {} (`{}`), a leftover of an earlier run of `{}`; stop it and restart",
            holder.pid, holder.command, incident.name
        ),
        0.9,
        Vec::new(),
        vec![FixCommand {
            command_type: CommandType::Exec,
            command: format!("kill {}", holder.pid),
            is_safe: true,
            // The process is the service's own, and the service is down until it is gone.
            allowed_in_production: true,
            timeout_s: Some(10),
            reason: format!(
                "pid {} is a leftover of this service still listening on {port}",
                holder.pid
            ),
        }],
    ))
}
