//! docker-compose hints: a compose service built from the project (`build`) with a `command` is a
//! service run in its build directory (confidence 0.5: compose runs it in a container, tend runs
//! it here), its published container port becomes the `{port}` placeholder wherever the command
//! names it (and `0.0.0.0` becomes `127.0.0.1`), an HTTP `healthcheck` gives the health path, the
//! `environment` names go into a note (never the values), an `env_file` the project has is kept
//! as the service's env file. Services from a database or broker image
//! become notes: tend does not run them.

use super::{Detected, Dir, Found, PORT, text, yaml};
use crate::model::Evidence;

const FILES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// Image names (without registry and tag) that are databases, caches or brokers.
const DATA_IMAGES: &[&str] = &[
    "postgres",
    "postgis",
    "mysql",
    "mariadb",
    "mongo",
    "redis",
    "valkey",
    "memcached",
    "rabbitmq",
    "elasticsearch",
    "opensearch",
    "kafka",
    "zookeeper",
    "minio",
    "clickhouse",
    "cassandra",
    "nats",
];

pub fn detect(dir: &Dir) -> Detected {
    let Some(file) = FILES.iter().find(|f| dir.has(f)) else {
        return Detected::default();
    };
    let Some(content) = dir.read(file) else {
        return Detected::default();
    };
    let path = dir.join(file);
    let doc = yaml::parse(&content);
    let mut d = Detected {
        source: "compose",
        ..Detected::default()
    };
    for (name, svc) in doc.get("services").map(|s| s.entries()).unwrap_or_default() {
        let image = svc.get("image").and_then(|v| v.as_str()).unwrap_or("");
        let env_names = environment_names(svc);
        if is_data_image(image) {
            d.notes.push(format!(
                "{path}: compose service `{name}` is {image}, not part of the project: tend does \
                 not run it; point the services at your own{}",
                if env_names.is_empty() {
                    String::new()
                } else {
                    format!(" (compose sets {})", env_names.join(", "))
                }
            ));
            continue;
        }
        let context = match svc.get("build") {
            Some(b) => b
                .as_str()
                .or_else(|| b.get("context").and_then(|c| c.as_str()))
                .unwrap_or("."),
            None => {
                d.notes.push(format!(
                    "{path}: compose service `{name}` runs the image {image}, not code of the \
                     project: not planned"
                ));
                continue;
            }
        };
        let Some(working_dir) = join(&dir.path, context) else {
            d.notes.push(format!(
                "{path}: compose service `{name}` builds from {context}, outside the project: not \
                 planned"
            ));
            continue;
        };
        let command = svc.get("command").map(command_argv).unwrap_or_default();
        if command.is_empty() {
            d.notes.push(format!(
                "{path}: compose service `{name}` runs its Dockerfile's command, which is not \
                 read: not planned from compose"
            ));
            continue;
        }
        let ports: Vec<String> = svc
            .get("ports")
            .map(|p| p.strings())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| container_port(p))
            .chain(svc.get("expose").map(|p| p.strings()).unwrap_or_default())
            .collect();
        let mut evidence = vec![Evidence::new(
            &path,
            format!("compose service `{name}`: command {}", command.join(" ")),
        )];
        let argv = match ports.first() {
            Some(p) => {
                d.notes.push(format!(
                    "{path}: compose publishes container port {p} of `{name}`; tend gives it a \
                     free port instead (PORT, and in its command where {p} appeared)"
                ));
                with_placeholder(&command, p)
            }
            None => command,
        };
        let health_path = svc
            .get("healthcheck")
            .and_then(|h| h.get("test"))
            .and_then(|t| http_path(&t.strings().join(" ")));
        if let Some(h) = &health_path {
            evidence.push(Evidence::new(
                &path,
                format!("healthcheck of `{name}` requests {h}"),
            ));
        }
        if !env_names.is_empty() {
            d.notes.push(format!(
                "{path}: compose sets {} for `{name}`; tend does not copy compose values: set \
                 them in an env file",
                env_names.join(", ")
            ));
        }
        // The service's own `env_file` (relative to the compose file), when the project has it.
        let env_file = svc
            .get("env_file")
            .map(|v| v.strings())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|f| join(&dir.path, &f))
            .find(|f| text::relative_to(f, &dir.path).is_some_and(|rel| dir.has(rel)));
        if let Some(f) = &env_file {
            evidence.push(Evidence::new(
                &path,
                format!("`{name}` reads the env file {f}"),
            ));
        }
        d.services.push(Found {
            process: name.clone(),
            argv,
            working_dir,
            listens: !ports.is_empty(),
            env_file,
            health_path,
            confidence: 0.5,
            evidence,
            ..Found::default()
        });
    }
    if d == (Detected {
        source: "compose",
        ..Detected::default()
    }) {
        return Detected::default();
    }
    d
}

fn is_data_image(image: &str) -> bool {
    // `docker.io/library/postgres:16-alpine` -> `postgres`.
    let last = text::base_name(image);
    let base = last.split([':', '@']).next().unwrap_or(last);
    DATA_IMAGES.contains(&base)
}

/// `context` joined to `dir`, normalised; `None` when it leaves the project.
fn join(dir: &str, context: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for c in context.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    if context.starts_with('/') {
        return None;
    }
    Some(parts.join("/"))
}

fn command_argv(v: &yaml::Value) -> Vec<String> {
    match v {
        yaml::Value::Str(s) => text::argv_of(s),
        yaml::Value::List(_) => v.strings(),
        _ => Vec::new(),
    }
}

/// The container side of a `ports` item (`"8000:8000"`, `127.0.0.1:80:8000/tcp`, `8000`).
fn container_port(item: &str) -> Option<String> {
    let last = item.rsplit(':').next()?;
    let port = last.split('/').next()?;
    port.chars()
        .all(|c| c.is_ascii_digit())
        .then(|| port.to_string())
}

/// `argv` with the container port replaced by the placeholder where it is a port (`8000`,
/// `:8000`, `--port=8000`), and `0.0.0.0` binds made local.
fn with_placeholder(argv: &[String], port: &str) -> Vec<String> {
    argv.iter()
        .map(|a| {
            let a = a.replace("0.0.0.0", "127.0.0.1");
            if a == port {
                PORT.to_string()
            } else if let Some(head) = a.strip_suffix(&format!(":{port}")) {
                format!("{head}:{PORT}")
            } else if let Some(head) = a.strip_suffix(&format!("={port}")) {
                format!("{head}={PORT}")
            } else {
                a
            }
        })
        .collect()
}

/// The path of an `http://host:port/path` URL in a healthcheck test.
fn http_path(test: &str) -> Option<String> {
    let at = test.find("http://").or_else(|| test.find("https://"))?;
    let url = &test[at..];
    let url = url.split_whitespace().next()?;
    let after_scheme = url.split_once("://")?.1;
    let path = after_scheme
        .find('/')
        .map(|i| &after_scheme[i..])
        .unwrap_or("/");
    let path = path.trim_end_matches(['"', '\'', ')', ']', ',']);
    Some(if path.is_empty() {
        "/".into()
    } else {
        path.to_string()
    })
}

/// The variable names of a compose service's `environment` (a list of `NAME=value` or a map).
fn environment_names(svc: &yaml::Value) -> Vec<String> {
    let Some(env) = svc.get("environment") else {
        return Vec::new();
    };
    let mut names: Vec<String> = match env {
        yaml::Value::Map(m) => m.iter().map(|(k, _)| k.clone()).collect(),
        yaml::Value::List(_) => env
            .strings()
            .iter()
            .map(|s| s.split('=').next().unwrap_or(s).trim().to_string())
            .collect(),
        _ => Vec::new(),
    };
    names.retain(|n| text::is_env_name(n));
    names
}
