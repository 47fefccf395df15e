//! Caddy's admin API, as tend uses it: replace the one route group tend owns (`@id: tend-routes`),
//! or insert it into the server listening on the configured port, or create tend's own server; the same
//! for the TLS policy (`@id: tend-tls`), which goes first among the automation policies. Nothing else
//! in Caddy's configuration is written: other routes, servers and apps are only read, to find where
//! the group and the policy go.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const GROUP_ID: &str = "tend-routes";
pub const TLS_ID: &str = "tend-tls";
/// Longest one admin request may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What the generator produced, checked and tagged.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub route: Value,
    pub server: Option<Value>,
    pub tls_policy: Option<Value>,
}

impl Plan {
    /// Checks the generator's JSON: an object with an object `route`, optional objects `server` and
    /// `tls_policy`; tags `route` and `tls_policy` with tend's ids.
    pub fn from_generated(json: &str) -> Result<(Plan, Value), String> {
        let mut doc: Value = serde_json::from_str(json)
            .map_err(|e| format!("the generator's config is not JSON: {e}"))?;
        let Some(obj) = doc.as_object_mut() else {
            return Err("the generator's config is not a JSON object".into());
        };
        let object = |v: Option<&mut Value>, key: &str| -> Result<Option<Value>, String> {
            match v {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(_)) => Ok(v.cloned()),
                Some(_) => Err(format!("the generator's `{key}` is not a JSON object")),
            }
        };
        let Some(Value::Object(route)) = obj.get_mut("route") else {
            return Err("the generator's config has no `route` object".into());
        };
        route.insert("@id".into(), GROUP_ID.into());
        if let Some(Value::Object(tls)) = obj.get_mut("tls_policy") {
            tls.insert("@id".into(), TLS_ID.into());
        }
        let plan = Plan {
            route: obj["route"].clone(),
            server: object(obj.get_mut("server"), "server")?,
            tls_policy: object(obj.get_mut("tls_policy"), "tls_policy")?,
        };
        Ok((plan, doc))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("Caddy's admin API at {url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("Caddy rejected {what}: {message}")]
    Rejected { what: String, message: String },
    #[error("{0}")]
    Other(String),
}

#[derive(Clone)]
pub struct Admin {
    base: String,
    client: reqwest::Client,
}

impl Admin {
    pub fn new(base: &str) -> anyhow::Result<Admin> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .no_proxy()
            .build()?;
        Ok(Admin {
            base: base.to_string(),
            client,
        })
    }

    /// Puts `plan` in force; answers what it did. The TLS policy is widened before the routes change
    /// and narrowed (or removed) after: Caddy must never route one of tend's hosts without the policy,
    /// or it would turn to the public ACME issuers for that host.
    pub async fn apply(&self, plan: &Plan, port: u16) -> Result<String, AdminError> {
        let tls_now = self.get(&format!("/id/{TLS_ID}")).await?;
        let bridge = plan
            .tls_policy
            .as_ref()
            .map(|new| widened(new, tls_now.as_ref()));
        if let Some(b) = &bridge
            && tls_now.as_ref() != Some(b)
        {
            self.write_tls(b, tls_now.is_some()).await?;
        }
        let routes = if self.get(&format!("/id/{GROUP_ID}")).await?.is_some() {
            self.send(Method::PATCH, &format!("/id/{GROUP_ID}"), &plan.route)
                .await?;
            format!("replaced route group {GROUP_ID}")
        } else {
            self.insert_group(plan, port).await?
        };
        let tls = match (&plan.tls_policy, &bridge, &tls_now) {
            (Some(new), Some(b), _) if b != new => {
                self.write_tls(new, true).await?;
                Some("replaced")
            }
            (Some(_), _, None) => Some("added"),
            (Some(_), Some(b), Some(now)) if b != now => Some("replaced"),
            (None, _, Some(_)) => {
                self.request(Method::DELETE, &format!("/id/{TLS_ID}"), None)
                    .await?;
                Some("removed")
            }
            _ => None,
        };
        Ok(match tls {
            Some(t) => format!("{routes}; {t} TLS policy {TLS_ID}"),
            None => routes,
        })
    }

    /// tend's route group as Caddy runs it now (`None`: not there).
    pub async fn current_group(&self) -> Result<Option<Value>, AdminError> {
        self.get(&format!("/id/{GROUP_ID}")).await
    }

    /// The group is not in Caddy yet: first in the routes of the server listening on `port` (its own
    /// matchers keep it from shadowing other routes), else in a server of tend's own.
    async fn insert_group(&self, plan: &Plan, port: u16) -> Result<String, AdminError> {
        // The whole config: GET on a path below a missing key is an error, not `null`.
        let config = self.get("/config/").await?.unwrap_or(Value::Null);
        let servers = config["apps"]["http"]["servers"].as_object();
        if let Some((name, server)) = servers.and_then(|all| {
            all.iter()
                .find(|(_, s)| listens_on(s, port))
                .map(|(n, s)| (n.clone(), s))
        }) {
            let base = format!("/config/apps/http/servers/{name}/routes");
            if server["routes"].as_array().is_some() {
                self.send(Method::PUT, &format!("{base}/0"), &plan.route)
                    .await?;
            } else {
                self.send(Method::PUT, &base, &Value::Array(vec![plan.route.clone()]))
                    .await?;
            }
            return Ok(format!(
                "inserted route group {GROUP_ID} into server {name}"
            ));
        }
        let Some(mut server) = plan.server.clone() else {
            return Err(AdminError::Other(format!(
                "no server of Caddy listens on port {port} and the generator gave none to create"
            )));
        };
        server["routes"] = Value::Array(vec![plan.route.clone()]);
        let taken = |n: &str| servers.is_some_and(|all| all.contains_key(n));
        let name = if taken("tend") {
            format!("tend-{port}")
        } else {
            "tend".to_string()
        };
        self.send(
            Method::PUT,
            &format!("/config/apps/http/servers/{name}"),
            &server,
        )
        .await?;
        Ok(format!("created server {name} with route group {GROUP_ID}"))
    }

    /// Replaces tend's TLS policy (`exists`) or inserts it first among the automation policies, so no
    /// catch-all policy before it takes tend's hosts. A POST would not do: Caddy refuses it below a
    /// missing `apps/tls`, and it sets rather than appends when there is no policy list yet.
    async fn write_tls(&self, policy: &Value, exists: bool) -> Result<(), AdminError> {
        if exists {
            return self
                .send(Method::PATCH, &format!("/id/{TLS_ID}"), policy)
                .await;
        }
        let config = self.get("/config/").await?.unwrap_or(Value::Null);
        let path = "/config/apps/tls/automation/policies";
        if config["apps"]["tls"]["automation"]["policies"].is_array() {
            self.send(Method::PUT, &format!("{path}/0"), policy).await
        } else {
            // PUT creates the missing keys on the way.
            self.send(Method::PUT, path, &Value::Array(vec![policy.clone()]))
                .await
        }
    }

    /// GET: `None` when the path or id does not exist (404, or `null`).
    async fn get(&self, path: &str) -> Result<Option<Value>, AdminError> {
        let resp = self.raw(Method::GET, path, None).await?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let text = resp.text().await.map_err(|e| self.unreachable(e))?;
        if !status.is_success() {
            return Err(AdminError::Other(format!(
                "GET {path} answered {status}: {}",
                error_message(&text)
            )));
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Null) => Ok(None),
            Ok(v) => Ok(Some(v)),
            Err(e) => Err(AdminError::Other(format!(
                "GET {path} answered something that is not JSON: {e}"
            ))),
        }
    }

    async fn send(&self, method: Method, path: &str, body: &Value) -> Result<(), AdminError> {
        self.request(method, path, Some(body)).await
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(), AdminError> {
        let what = format!("{method} {path}");
        let resp = self.raw(method, path, body).await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let text = resp.text().await.unwrap_or_default();
        Err(AdminError::Rejected {
            what,
            message: format!("{status}: {}", error_message(&text)),
        })
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<reqwest::Response, AdminError> {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.map_err(|e| self.unreachable(e))
    }

    fn unreachable(&self, e: reqwest::Error) -> AdminError {
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason = format!("{reason}: {s}");
            source = s.source();
        }
        AdminError::Unreachable {
            url: self.base.clone(),
            reason,
        }
    }
}

/// Caddy answers errors as `{"error": "..."}`.
fn error_message(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.trim().chars().take(500).collect())
}

/// `new` with the `subjects` of `now` added (sorted, deduplicated): the policy that covers the hosts
/// routed before and after a change.
fn widened(new: &Value, now: Option<&Value>) -> Value {
    let subjects = |p: Option<&Value>| -> Vec<String> {
        p.and_then(|p| p["subjects"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut all = subjects(Some(new));
    all.extend(subjects(now));
    all.sort();
    all.dedup();
    let mut out = new.clone();
    if let Some(obj) = out.as_object_mut() {
        obj.insert("subjects".into(), all.into());
    }
    out
}

/// Whether a server's `listen` addresses include `port` (`:443`, `127.0.0.1:8080`, `tcp/[::1]:80`,
/// ranges `:8000-8010`).
pub fn listens_on(server: &Value, port: u16) -> bool {
    let Some(listen) = server["listen"].as_array() else {
        return false;
    };
    listen.iter().filter_map(Value::as_str).any(|addr| {
        let Some((_, ports)) = addr.rsplit_once(':') else {
            return false;
        };
        match ports.split_once('-') {
            Some((a, b)) => match (a.parse::<u16>(), b.parse::<u16>()) {
                (Ok(a), Ok(b)) => (a..=b).contains(&port),
                _ => false,
            },
            None => ports.parse::<u16>() == Ok(port),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn listen_addresses_match_by_port() {
        let s = |l: Value| json!({ "listen": l });
        assert!(listens_on(&s(json!([":443"])), 443));
        assert!(listens_on(
            &s(json!(["127.0.0.1:80", "tcp/[::1]:8080"])),
            8080
        ));
        assert!(listens_on(&s(json!([":8000-8010"])), 8005));
        assert!(!listens_on(&s(json!([":8000-8010"])), 8011));
        assert!(!listens_on(&s(json!(["unix//run/x.sock"])), 443));
        assert!(!listens_on(&json!({}), 443));
    }

    #[test]
    fn the_bridging_policy_covers_the_hosts_before_and_after() {
        let new = json!({"@id": TLS_ID, "subjects": ["b.test", "c.test"], "issuers": []});
        let now = json!({"@id": TLS_ID, "subjects": ["a.test", "b.test"], "issuers": []});
        assert_eq!(
            widened(&new, Some(&now)),
            json!({"@id": TLS_ID, "subjects": ["a.test", "b.test", "c.test"], "issuers": []})
        );
        assert_eq!(widened(&new, None), new);
    }

    #[test]
    fn generated_config_is_checked_and_tagged() {
        let (plan, doc) = Plan::from_generated(
            r#"{"route":{"@id":"theirs","handle":[]},"tls_policy":{"subjects":["a.test"]}}"#,
        )
        .unwrap();
        assert_eq!(plan.route["@id"], GROUP_ID);
        assert_eq!(doc["route"]["@id"], GROUP_ID);
        assert_eq!(plan.tls_policy.unwrap()["@id"], TLS_ID);
        assert_eq!(plan.server, None);
        for (bad, needle) in [
            ("[]", "not a JSON object"),
            ("{}", "no `route` object"),
            (r#"{"route":{},"server":3}"#, "`server` is not"),
            ("nope", "not JSON"),
        ] {
            let e = Plan::from_generated(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }
}
