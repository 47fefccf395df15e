//! The replaced dashboard's calls (`/dashboard/api/system/status`, `.../restart`, `.../custom-restart`;
//! README "Coming from ..."): the same operations as tend's own routes, answered in the seed's shapes
//! (`wire/compat.rs`). `[compat] default_service` names the service a custom restart without `service`
//! applies to (the seed supervised one main service and its body had no name).

use serde::Deserialize;
use serde_json::Value;

use super::{Error, Ops, Result, typed};
use crate::wire::{
    Action, CustomRestartRequest, JobView, Origin, ServiceState, Status, SystemActionResponse,
    SystemRestartRequest, SystemService, SystemStatus, SystemSupervisor,
};

/// The `[compat]` table of `tend.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompatSettings {
    /// The service `POST /dashboard/api/system/custom-restart` restarts when its body names none.
    #[serde(default)]
    pub default_service: Option<String>,
}

impl CompatSettings {
    pub fn validate(&self) -> std::result::Result<(), String> {
        match &self.default_service {
            Some(name) => crate::spec::validate_name(name)
                .map_err(|e| format!("compat.default_service: {}", e.message)),
            None => Ok(()),
        }
    }
}

/// tend's status in the seed's names. The seed knew no dependencies (a `waiting` service is on its
/// way up: `starting`), no backoff state of its own (`restarting`), and called giving up `failed`; a
/// run that ended for good without failing (`exited`) is `stopped`.
pub fn seed_status(status: Status) -> &'static str {
    match status {
        Status::Running => "running",
        Status::Starting | Status::Waiting => "starting",
        Status::Stopping => "stopping",
        Status::Stopped | Status::Exited => "stopped",
        Status::Backoff => "restarting",
        Status::Fatal => "failed",
    }
}

fn seed_service(s: &ServiceState) -> SystemService {
    SystemService {
        status: seed_status(s.status).into(),
        pid: s.pid,
        uptime: s.uptime_s.map_or(0, |u| u.max(0.0) as u64),
        memory_mb: s.memory_mb.unwrap_or(0.0),
        cpu_percent: s.cpu_percent.unwrap_or(0.0),
        restart_count: s.restart_count,
    }
}

impl Ops {
    /// `GET /dashboard/api/system/status`.
    pub fn system_status(&self) -> SystemStatus {
        let status = self.sup.status();
        SystemStatus {
            supervisor: SystemSupervisor {
                status: status.supervisor.status,
                uptime: status.supervisor.uptime_s.max(0.0) as u64,
                managed_services: status.supervisor.managed_services,
            },
            services: status
                .services
                .iter()
                .map(|(name, s)| (name.clone(), seed_service(s)))
                .collect(),
        }
    }

    /// `POST /dashboard/api/system/restart` `{"service": NAME}`: the restart of
    /// `POST /api/services/{name}/restart`.
    pub async fn system_restart(&self, body: Value) -> Result<SystemActionResponse> {
        let request: SystemRestartRequest = typed(body)?;
        check_name(&request.service)?;
        let done = self.act(&request.service, Action::Restart).await?;
        Ok(SystemActionResponse {
            success: true,
            message: format!("{} restarted", done.name),
            service: done.name,
            action: done.action,
            status: seed_status(done.state.status).into(),
            pid: done.state.pid,
        })
    }

    /// `POST /dashboard/api/system/custom-restart`: the seed's body (`pre_commands`, `post_commands`,
    /// `args`) plus `service`, else `[compat] default_service`; the job of
    /// `POST /api/services/{name}/custom-restart`.
    pub async fn system_custom_restart(&self, mut body: Value, origin: Origin) -> Result<JobView> {
        let Some(obj) = body.as_object_mut() else {
            return Err(Error::invalid("body", "expected a JSON object"));
        };
        let service = match obj.remove("service") {
            Some(Value::String(name)) => name,
            Some(_) => return Err(Error::invalid("service", "expected a service name")),
            None => self.compat.default_service.clone().ok_or_else(|| {
                Error::invalid(
                    "service",
                    "name the service to restart (or set [compat] default_service in tend.toml)",
                )
            })?,
        };
        check_name(&service)?;
        let request: CustomRestartRequest = typed(body)?;
        self.custom_restart(&service, request, origin).await
    }
}

fn check_name(name: &str) -> Result<()> {
    crate::spec::validate_name(name).map_err(|e| Error::invalid("service", e.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_seed_name() {
        let all = [
            Status::Stopped,
            Status::Waiting,
            Status::Starting,
            Status::Running,
            Status::Backoff,
            Status::Stopping,
            Status::Exited,
            Status::Fatal,
        ];
        let names: Vec<_> = all.into_iter().map(seed_status).collect();
        assert_eq!(
            names,
            [
                "stopped",
                "starting",
                "starting",
                "running",
                "restarting",
                "stopping",
                "stopped",
                "failed"
            ]
        );
    }

    #[test]
    fn default_service_must_be_a_service_name() {
        assert!(CompatSettings::default().validate().is_ok());
        let bad = CompatSettings {
            default_service: Some("Bad Name".into()),
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .starts_with("compat.default_service")
        );
    }
}
