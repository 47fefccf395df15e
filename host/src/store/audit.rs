//! The policy audit trail (`policy_audit`): one row per decision, listed newest first with filters.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Result, Store, StoreError, now_rfc3339};
use crate::wire::{AuditEntry, CommandType, Decision, Origin};

/// A decision to record (the id and time are the store's).
#[derive(Clone, Debug)]
pub struct NewAudit<'a> {
    pub origin: &'a str,
    pub service: Option<&'a str>,
    pub command_type: CommandType,
    pub command: &'a str,
    pub argv: &'a [String],
    pub cwd: &'a str,
    pub environment: &'a str,
    pub is_safe: bool,
    pub allowed_in_production: bool,
    pub decision: Decision,
    pub reason: &'a str,
    pub plugin: &'a str,
    pub plugin_version: Option<&'a str>,
}

/// Filters of `list_audit`; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub service: Option<String>,
    pub decision: Option<Decision>,
    pub origin: Option<String>,
    /// Only entries whose command, argv, reason or service contains this (ASCII case-insensitive).
    pub text: Option<String>,
    /// Only entries with a smaller id (the next page).
    pub before_id: Option<i64>,
    pub limit: u32,
}

const COLUMNS: &str = "id, time, origin, service, command_type, command, argv, cwd, environment, \
                       is_safe, allowed_in_production, decision, reason, plugin, plugin_version";

fn decision_str(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "allow",
        Decision::Deny => "deny",
    }
}

impl Store {
    /// Records a decision; returns its id.
    pub async fn insert_audit(&self, a: &NewAudit<'_>) -> Result<i64> {
        let argv = serde_json::to_string(a.argv)
            .map_err(|e| StoreError::Corrupt(format!("argv is not serializable: {e}")))?;
        let done = sqlx::query(
            "INSERT INTO policy_audit (time, origin, service, command_type, command, argv, cwd,
                 environment, is_safe, allowed_in_production, decision, reason, plugin, plugin_version)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(now_rfc3339())
        .bind(a.origin)
        .bind(a.service)
        .bind(a.command_type.as_str())
        .bind(a.command)
        .bind(argv)
        .bind(a.cwd)
        .bind(a.environment)
        .bind(a.is_safe)
        .bind(a.allowed_in_production)
        .bind(decision_str(a.decision))
        .bind(a.reason)
        .bind(a.plugin)
        .bind(a.plugin_version)
        .execute(&self.pool)
        .await?;
        Ok(done.last_insert_rowid())
    }

    pub async fn get_audit(&self, id: i64) -> Result<Option<AuditEntry>> {
        let sql = format!("SELECT {COLUMNS} FROM policy_audit WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(audit_row).transpose()
    }

    /// Newest first, at most `q.limit`.
    pub async fn list_audit(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM policy_audit
             WHERE id < ?1
               AND (?2 IS NULL OR service = ?2)
               AND (?3 IS NULL OR decision = ?3)
               AND (?4 IS NULL OR origin = ?4)
               AND (?6 IS NULL OR instr(lower(command || char(10) || argv || char(10) || reason
                                              || char(10) || coalesce(service, '')), lower(?6)) > 0)
             ORDER BY id DESC LIMIT ?5"
        );
        let rows = sqlx::query(&sql)
            .bind(q.before_id.unwrap_or(i64::MAX))
            .bind(q.service.as_deref())
            .bind(q.decision.map(decision_str))
            .bind(q.origin.as_deref())
            .bind(i64::from(q.limit))
            .bind(q.text.as_deref())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_row).collect()
    }
}

fn audit_row(r: &SqliteRow) -> Result<AuditEntry> {
    let corrupt = |what: &str, v: &str| StoreError::Corrupt(format!("policy_audit {what} {v:?}"));
    let command_type: String = r.get("command_type");
    let command_type = match command_type.as_str() {
        "shell" => CommandType::Shell,
        "make" => CommandType::Make,
        "exec" => CommandType::Exec,
        other => return Err(corrupt("command_type", other)),
    };
    let decision: String = r.get("decision");
    let decision = match decision.as_str() {
        "allow" => Decision::Allow,
        "deny" => Decision::Deny,
        other => return Err(corrupt("decision", other)),
    };
    let origin: String = r.get("origin");
    let origin = Origin::parse(&origin).ok_or_else(|| corrupt("origin", &origin))?;
    let argv: String = r.get("argv");
    let argv: Vec<String> = serde_json::from_str(&argv).map_err(|_| corrupt("argv", &argv))?;
    Ok(AuditEntry {
        id: r.get("id"),
        time: r.get("time"),
        origin,
        service: r.get("service"),
        command_type,
        command: r.get("command"),
        argv,
        cwd: r.get("cwd"),
        environment: r.get("environment"),
        is_safe: r.get("is_safe"),
        allowed_in_production: r.get("allowed_in_production"),
        decision,
        reason: r.get("reason"),
        plugin: r.get("plugin"),
        plugin_version: r.get("plugin_version"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(service: Option<&'a str>, decision: Decision, origin: &'a str) -> NewAudit<'a> {
        NewAudit {
            origin,
            service,
            command_type: CommandType::Shell,
            command: "rm -rf /",
            argv: &[],
            cwd: "/srv",
            environment: "development",
            is_safe: true,
            allowed_in_production: false,
            decision,
            reason: if decision == Decision::Deny { "no" } else { "" },
            plugin: "policy",
            plugin_version: Some("0.1.0"),
        }
    }

    #[tokio::test]
    async fn insert_list_filter_and_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let a = store
            .insert_audit(&entry(Some("web"), Decision::Deny, "rest"))
            .await
            .unwrap();
        let b = store
            .insert_audit(&entry(Some("web"), Decision::Allow, "tcp"))
            .await
            .unwrap();
        let c = store
            .insert_audit(&entry(None, Decision::Allow, "rest"))
            .await
            .unwrap();
        let all = |q: AuditQuery| {
            let store = store.clone();
            async move {
                store
                    .list_audit(&AuditQuery { limit: 10, ..q })
                    .await
                    .unwrap()
                    .iter()
                    .map(|e| e.id)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(all(AuditQuery::default()).await, [c, b, a]);
        let web = AuditQuery {
            service: Some("web".into()),
            ..AuditQuery::default()
        };
        assert_eq!(all(web).await, [b, a]);
        let denied = AuditQuery {
            decision: Some(Decision::Deny),
            ..AuditQuery::default()
        };
        assert_eq!(all(denied).await, [a]);
        let tcp = AuditQuery {
            origin: Some("tcp".into()),
            ..AuditQuery::default()
        };
        assert_eq!(all(tcp).await, [b]);
        let page = AuditQuery {
            before_id: Some(c),
            ..AuditQuery::default()
        };
        assert_eq!(all(page).await, [b, a]);
        let text = AuditQuery {
            text: Some("NO".into()), // the reason of `a`, whatever the case
            ..AuditQuery::default()
        };
        assert_eq!(all(text).await, [a]);
        let text = AuditQuery {
            text: Some("WEB".into()), // the service
            ..AuditQuery::default()
        };
        assert_eq!(all(text).await, [b, a]);
        let got = store.get_audit(a).await.unwrap().unwrap();
        assert_eq!(got.reason, "no");
        assert_eq!(got.decision, Decision::Deny);
        assert_eq!(got.plugin_version.as_deref(), Some("0.1.0"));
        assert!(store.get_audit(9999).await.unwrap().is_none());
    }
}
