//! Onboarding helpers shared by the `onboard_*` modules: the fixture projects of
//! `tests/fixtures/onboard/` (listed, copied into a test's own dir so running them writes nothing into
//! the repository), a daemon with an `[onboard]` table pointing its roots into the test's temp dir, the
//! preview and job calls, plain HTTP to an onboarded service, and the normalisation the goldens use
//! (root, data dir and offered ports replaced by placeholders).

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::{Daemon, DaemonBuilder, send, wait_for};

/// How long an onboarding job may take: setup steps, starts, and each service's confirmation (the
/// daemon's `confirm_timeout_s` defaults to 30 s) on a loaded machine.
pub const JOB_TIMEOUT: Duration = Duration::from_secs(120);

/// `tests/fixtures/onboard`, absolute and canonical.
pub fn fixtures_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/onboard");
    dir.canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// Every fixture project (the directories of `tests/fixtures/onboard`), sorted.
pub fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("read tests/fixtures/onboard")
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Copies fixture `name` to `<parent>/<name>` (same directory name: it is the project's name) and
/// answers the copy's canonical path.
pub fn copy_fixture(name: &str, parent: &Path) -> PathBuf {
    let dest = parent.join(name);
    copy_dir(&fixtures_dir().join(name), &dest);
    dest.canonicalize().expect("canonical copy")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    for e in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let e = e.expect("dir entry");
        let t = e.file_type().expect("file type");
        let dest = to.join(e.file_name());
        if t.is_dir() {
            copy_dir(&e.path(), &dest);
        } else if t.is_file() {
            std::fs::copy(e.path(), &dest)
                .unwrap_or_else(|err| panic!("copy {}: {err}", e.path().display()));
        }
    }
}

/// A daemon whose `[onboard]` roots are under the test's own dir: projects under `<tmp>/projects`,
/// data dirs under `<tmp>/home` (so `<tmp>/home/.<name>`). `extra` is appended to the config.
pub struct OnboardDaemon {
    pub d: Daemon,
    pub projects: PathBuf,
    pub data_root: PathBuf,
    _tmp: tempfile::TempDir,
}

impl OnboardDaemon {
    pub fn start(extra: &str) -> OnboardDaemon {
        OnboardDaemon::start_with(extra, |b| b)
    }

    /// Like [`OnboardDaemon::start`], letting the caller add to the builder (env, ...).
    pub fn start_with(
        extra: &str,
        build: impl FnOnce(DaemonBuilder) -> DaemonBuilder,
    ) -> OnboardDaemon {
        let tmp = tempfile::Builder::new()
            .prefix("tend-onboard-")
            .tempdir()
            .expect("temp dir");
        let base = tmp.path().canonicalize().expect("canonical temp dir");
        let projects = base.join("projects");
        let data_root = base.join("home");
        std::fs::create_dir_all(&projects).expect("projects dir");
        std::fs::create_dir_all(&data_root).expect("data root");
        let config = format!(
            "[onboard]\nprojects_root = {:?}\ndata_root = {:?}\n{extra}\n",
            projects.to_str().expect("utf-8 path"),
            data_root.to_str().expect("utf-8 path"),
        );
        let d = build(Daemon::builder().config_toml(&config)).start();
        OnboardDaemon {
            d,
            projects,
            data_root,
            _tmp: tmp,
        }
    }

    /// Copies fixture `name` into the projects root; answers its path.
    pub fn project(&self, name: &str) -> PathBuf {
        copy_fixture(name, &self.projects)
    }

    /// Where the data dir of project `name` goes.
    pub fn data_dir_of(&self, name: &str) -> PathBuf {
        self.data_root.join(format!(".{name}"))
    }
}

impl std::ops::Deref for OnboardDaemon {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.d
    }
}

/// `GET /api/onboard/preview` with `project` and the extra query pairs.
pub fn preview(d: &Daemon, project: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut query: Vec<(&str, &str)> = vec![("project", project)];
    query.extend_from_slice(extra);
    send(d.request(Method::GET, "/api/onboard/preview").query(&query))
}

/// A preview that must answer 200: the plan.
pub fn plan_of(d: &Daemon, root: &Path) -> Value {
    let (status, plan) = preview(d, root.to_str().expect("utf-8 path"), &[]);
    assert_eq!(status, 200, "preview of {}: {plan}", root.display());
    plan
}

/// `POST /api/onboard` asserting 202 and a queued (or already running) job; answers the job.
pub fn start_job(d: &Daemon, body: &Value) -> Value {
    let (status, job) = d.post("/api/onboard", body);
    assert_eq!(status, 202, "POST /api/onboard {body}: {job}");
    assert!(
        job["id"].as_str().is_some_and(|s| !s.is_empty()),
        "a job has an id: {job}"
    );
    job
}

/// Polls `GET /api/onboard/jobs/{id}` until the job is `succeeded` or `failed`.
pub fn settled_job(d: &Daemon, id: &str) -> Value {
    wait_for(JOB_TIMEOUT, || {
        let (status, job) = d.get(&format!("/api/onboard/jobs/{id}"));
        if status != 200 {
            return Err(format!("{status} {job}"));
        }
        match job["status"].as_str() {
            Some("succeeded" | "failed") => Ok(job),
            _ => Err(job.to_string()),
        }
    })
    .unwrap_or_else(|e| panic!("onboarding job {id} never ended: {e}"))
}

/// Starts a job for `body` and waits for its end.
pub fn run_job(d: &Daemon, body: &Value) -> Value {
    let job = start_job(d, body);
    settled_job(d, job["id"].as_str().expect("id"))
}

/// The job's steps as `kind target: status (message)` lines, for failure messages.
pub fn describe_steps(job: &Value) -> String {
    job["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|s| {
                    format!(
                        "{} {}: {} ({})",
                        s["kind"].as_str().unwrap_or("?"),
                        s["target"].as_str().unwrap_or("?"),
                        s["status"].as_str().unwrap_or("?"),
                        s["message"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_else(|| format!("(no steps) {job}"))
}

/// The names of the services `GET /api/services` lists.
pub fn service_names(d: &Daemon) -> Vec<String> {
    let list = d.list();
    let items = list
        .as_array()
        .or_else(|| list["services"].as_array())
        .unwrap_or_else(|| panic!("GET /api/services: {list}"));
    let mut names: Vec<String> = items
        .iter()
        .map(|s| {
            s["name"]
                .as_str()
                .expect("a service has a name")
                .to_string()
        })
        .collect();
    names.sort();
    names
}

/// `GET http://127.0.0.1:<port><path>` without any token: status and body text.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let resp = client
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().unwrap_or_default()))
}

/// The services of a plan (or of a job's plan).
pub fn planned_services(plan: &Value) -> Vec<Value> {
    plan["services"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("a plan has services: {plan}"))
}

/// Replaces in `text` every whole occurrence of the decimal number `n` (not part of a longer run
/// of digits) with `with`.
fn replace_number(text: &str, n: u16, with: &str) -> String {
    let needle = n.to_string();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with(&needle) {
            let before = i > 0 && bytes[i - 1].is_ascii_digit();
            let end = i + needle.len();
            let after = end < text.len() && bytes[end].is_ascii_digit();
            if !before && !after {
                out.push_str(with);
                i = end;
                continue;
            }
        }
        let c = text[i..].chars().next().expect("char");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The body of a preview as the goldens hold it: `root` -> `<root>`, `data` -> `<data>`, each port
/// of the plan's services (in order) -> `<port:N>`, everywhere in the JSON: inside every string, and
/// a number equal to a port becomes the string `"<port:N>"`.
pub fn normalise(body: &Value, root: &Path, data: &Path) -> Value {
    let ports: Vec<u16> = body["services"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter_map(|v| v["port"].as_u64())
                .map(|p| u16::try_from(p).expect("a port fits u16"))
                .collect()
        })
        .unwrap_or_default();
    // The longer path first, in case one contains the other.
    let mut paths = [
        (root.to_string_lossy().into_owned(), "<root>"),
        (data.to_string_lossy().into_owned(), "<data>"),
    ];
    paths.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    let text = |s: &str| {
        let mut s = s.to_string();
        for (p, with) in &paths {
            s = s.replace(p.as_str(), with);
        }
        for (i, port) in ports.iter().enumerate() {
            s = replace_number(&s, *port, &format!("<port:{i}>"));
        }
        s
    };
    walk(body, &|v| match v {
        Value::String(s) => Some(Value::String(text(s))),
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| ports.iter().position(|p| u64::from(*p) == n))
            .map(|i| Value::String(format!("<port:{i}>"))),
        _ => None,
    })
}

/// Rebuilds `v` bottom-up, replacing each leaf (and each object key, when a string) `f` maps.
fn walk(v: &Value, f: &dyn Fn(&Value) -> Option<Value>) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, f)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let key = match f(&Value::String(k.clone())) {
                        Some(Value::String(s)) => s,
                        _ => k.clone(),
                    };
                    (key, walk(x, f))
                })
                .collect(),
        ),
        leaf => f(leaf).unwrap_or_else(|| leaf.clone()),
    }
}

/// A shell setup step in `dir`, for edited plans.
pub fn shell_step(command: &str, dir: &Path) -> Value {
    json!({
        "command": {"command_type": "shell", "command": command, "is_safe": true,
                    "allowed_in_production": true, "reason": "added by the test"},
        "working_dir": dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_replaced_only_whole() {
        assert_eq!(
            replace_number(
                "\"port\":20001,\"x\":120001,\"a\":\"127.0.0.1:20001\"",
                20001,
                "<p>"
            ),
            "\"port\":<p>,\"x\":120001,\"a\":\"127.0.0.1:<p>\""
        );
    }
}
