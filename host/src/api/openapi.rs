//! `GET /api/openapi.json`: the OpenAPI 3.1 document of the REST API, served without a token. The
//! operations come from the router itself (`utoipa_axum::routes!` in `mod.rs` registers a handler and
//! its `#[utoipa::path]` together, so a route cannot be served undocumented); the schemas from the
//! `wire` types' `ToSchema` derives. This module adds what is the same for every route, from the
//! rules the router enforces: the security schemes, the error answers each kind of input can cause
//! (`error.rs`, `extract.rs`, `auth.rs`), operation ids and tags. It must not describe a route by
//! hand.

use std::sync::Arc;

use axum::Extension;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::wire::SESSION_COOKIE;

/// The document, rendered once when the router is built.
#[derive(Clone)]
pub struct Document(pub Arc<str>);

/// The OpenAPI 3.1 document of this API: every operation, its parameters, bodies, answers and errors.
#[utoipa::path(get, path = "/openapi.json", security(()), responses(
    (status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object),
))]
pub async fn json(Extension(doc): Extension<Document>) -> Response {
    ([(CONTENT_TYPE, "application/json")], doc.0.to_string()).into_response()
}

/// The whole document: `root` (routes outside `/api`) plus `api` nested under `/api`, with the
/// common parts filled in.
pub fn document(root: utoipa::openapi::OpenApi, api: utoipa::openapi::OpenApi) -> Value {
    let mut doc = utoipa::openapi::OpenApiBuilder::new()
        .info(
            utoipa::openapi::InfoBuilder::new()
                .title("tend")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The REST API of the tend service supervisor. Every `/api` route but \
                     `POST /api/login` and `GET /api/openapi.json` needs the bearer token (the \
                     `token` file in the data dir) or the dashboard's session cookie. Errors answer \
                     `{\"error\": {\"code\", \"message\", \"field\"?}}` with the code's status.",
                )),
        )
        .build();
    doc.merge(root);
    let doc = doc.nest("/api", api);
    let mut value = serde_json::to_value(&doc).unwrap_or_default();
    complete(&mut value);
    value
}

/// Where an error answer may come from, in the order a request meets them.
const HOST: (&str, &str) = (
    "403",
    "A `Host` the daemon does not serve (`[api] allowed_hosts`), or a change made with the session \
     cookie without the dashboard's own `Origin`",
);
const UNAUTHORIZED: (&str, &str) = (
    "401",
    "No credentials, a wrong bearer token, or an expired session",
);
const NOT_FOUND: (&str, &str) = ("404", "No such object");
const INVALID: (&str, &str) = (
    "422",
    "A path segment, query parameter or body field fails validation; `field` names it",
);
const BODY: [(&str, &str); 3] = [
    (
        "408",
        "The body did not arrive within `[api] body_timeout_s`",
    ),
    ("413", "The body is larger than 1 MiB"),
    ("415", "The body is not `Content-Type: application/json`"),
];
const INTERNAL: (&str, &str) = (
    "500",
    "A bug or an I/O failure; the details are in the daemon log",
);
const CHANGES: [(&str, &str); 2] = [
    ("503", "The daemon is shutting down and takes no new work"),
    (
        "507",
        "The disk holding the database is full; nothing was stored",
    ),
];

/// Fills in what the router enforces for every route of a kind; an answer a handler documents
/// itself is kept.
fn complete(doc: &mut Value) {
    doc["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "The daemon's token: the `token` file in its data dir",
        },
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": SESSION_COOKIE,
            "description": "The dashboard's sign-in (`POST /api/login`). A request that changes \
                something must also carry the dashboard's own `Origin` (CSRF), else 403",
        },
    });
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        open_flattened_parts(schemas);
    }
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            complete_operation(path, method, op);
        }
    }
}

fn complete_operation(path: &str, method: &str, op: &mut Value) {
    // The replaced dashboard's calls are authenticated and answered like `/api` routes.
    let under_api = path.starts_with("/api/") || path.starts_with("/dashboard/api/");
    op["operationId"] = Value::String(operation_id(method, path));
    let tag = path
        .trim_start_matches("/api")
        .split('/')
        .find(|s| !s.is_empty())
        .unwrap_or("daemon")
        .trim_end_matches(".json");
    op["tags"] = json!([tag]);
    // A handler that says who may call it (`security(())`: anyone) keeps that.
    let open = op.get("security").is_some();
    if !open {
        op["security"] = json!([{ "bearer": [] }, { "session": [] }]);
    }
    let params: Vec<Value> = op["parameters"].as_array().cloned().unwrap_or_default();
    let in_path = params.iter().any(|p| p["in"] == "path");
    let in_query = params.iter().any(|p| p["in"] == "query");
    let has_body = op.get("requestBody").is_some();
    let changes = !matches!(method, "get" | "head" | "options");

    let mut errors = vec![HOST];
    if under_api && !open {
        errors.push(UNAUTHORIZED);
    }
    if in_path {
        errors.push(NOT_FOUND);
    }
    if in_path || in_query || has_body {
        errors.push(INVALID);
    }
    if has_body {
        errors.extend(BODY);
    }
    if under_api {
        errors.push(INTERNAL);
        if changes {
            errors.extend(CHANGES);
        }
    }
    let Some(responses) = op["responses"].as_object_mut() else {
        return;
    };
    for (status, description) in errors {
        responses
            .entry(status)
            .or_insert_with(|| error_response(description));
    }
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } },
    })
}

/// `get /api/services/{name}/logs` -> `get_services_name_logs`: unique, since a path and a method
/// name one operation.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_string();
    for segment in path.trim_start_matches("/api").split('/') {
        let word: String = segment
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let word = word.trim_matches('_');
        if !word.is_empty() {
            id.push('_');
            id.push_str(word);
        }
    }
    id
}

/// A `#[serde(flatten)]`ed struct is an `allOf` part of the answer that flattens it; a part that
/// forbids other properties (`deny_unknown_fields`, there for request bodies) would forbid its
/// siblings' fields, so such parts allow them. Bodies are still refused by the daemon for unknown
/// fields (422 naming the field).
fn open_flattened_parts(schemas: &mut Map<String, Value>) {
    let mut parts = Vec::new();
    for schema in schemas.values() {
        collect_all_of_refs(schema, &mut parts);
    }
    for name in parts {
        if let Some(Value::Object(schema)) = schemas.get_mut(&name)
            && schema.get("additionalProperties") == Some(&Value::Bool(false))
        {
            schema.remove("additionalProperties");
        }
    }
}

fn collect_all_of_refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(items)) = map.get("allOf") {
                for item in items {
                    if let Some(r) = item["$ref"].as_str() {
                        out.push(r.trim_start_matches("#/components/schemas/").to_string());
                    }
                }
            }
            for v in map.values() {
                collect_all_of_refs(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_all_of_refs(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_follow_the_path() {
        assert_eq!(
            operation_id("get", "/api/services/{name}/logs"),
            "get_services_name_logs"
        );
        assert_eq!(operation_id("get", "/api/openapi.json"), "get_openapi_json");
        assert_eq!(operation_id("get", "/healthz"), "get_healthz");
    }
}
