//! `tend export nomad` against a live daemon loaded with the realistic export fixture
//! (`tests/fixtures/export/tend.toml`): the documents it writes with `--out DIR` equal the goldens in
//! `tests/fixtures/export/nomad/` (`TEND_UPDATE_GOLDENS=1` rewrites them), each parses as a Nomad
//! job in the JSON API format, the warnings are on stderr, and every object and key of the jobs is
//! one Nomad documents. There is no Nomad binary here: the structural check lists, per object, the
//! keys of Nomad's JSON job specification (api-docs/json-jobs, drivers/raw_exec, the check /
//! check_restart / periodic / lifecycle blocks) and the rules its validation applies that an export
//! could break (restart interval vs attempts x delay, port labels, periodic only on batch jobs).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use tend_tests::output::{ok, stderr};
use tend_tests::{Daemon, Value};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/export")
}

fn golden_dir() -> PathBuf {
    fixture_dir().join("nomad")
}

/// The daemon with the fixture loaded. It refuses working dirs and env files that do not exist, so
/// the fixture's `/srv/...` paths are made under a temporary dir (as `export.rs` does); `unsrv`
/// writes them back as `/srv/` so that the goldens show the fixture's own paths.
struct Fixture {
    daemon: Daemon,
    srv: tempfile::TempDir,
}

impl Fixture {
    fn start() -> Fixture {
        let text = std::fs::read_to_string(fixture_dir().join("tend.toml")).expect("the fixture");
        let srv = tempfile::tempdir().expect("temp dir");
        for dir in ["app", "docs"] {
            std::fs::create_dir_all(srv.path().join(dir)).unwrap();
        }
        std::fs::write(srv.path().join("app/.env"), "SECRET_KEY=x\n").unwrap();
        let text = text.replace("\"/srv/", &format!("\"{}/", srv.path().display()));
        // The worker's custom probe only has to exist: an export never runs it, so the small
        // `trivial` probe stands in for the 18 MB Python `json-status` (which takes long to compile).
        let daemon = Daemon::builder()
            .plugin("trivial", "json-status")
            .config_toml(&text)
            .start();
        Fixture { daemon, srv }
    }

    fn unsrv(&self, text: &str) -> String {
        text.replace(&format!("{}/", self.srv.path().display()), "/srv/")
    }
}

/// The files under `dir`, by relative path.
fn files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read the directory") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        out.insert(name, std::fs::read_to_string(&path).expect("read the file"));
    }
    out
}

#[test]
fn the_fixture_exports_as_the_goldens_with_warnings_on_stderr() {
    let f = Fixture::start();
    let out = f.daemon.scratch().join("nomad-out");
    let o = ok(f
        .daemon
        .cli(&["export", "nomad", "--out", out.to_str().unwrap()]));
    let written: BTreeMap<String, String> = files(&out)
        .into_iter()
        .map(|(name, body)| (name, f.unsrv(&body)))
        .collect();
    if std::env::var_os("TEND_UPDATE_GOLDENS").is_some_and(|v| v == "1") {
        let _ = std::fs::remove_dir_all(golden_dir());
        std::fs::create_dir_all(golden_dir()).unwrap();
        for (name, body) in &written {
            std::fs::write(golden_dir().join(name), body).unwrap();
        }
    }
    let golden = files(&golden_dir());
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        golden.keys().collect::<Vec<_>>(),
        "TEND_UPDATE_GOLDENS=1 rewrites {}",
        golden_dir().display()
    );
    for (name, body) in &written {
        assert_eq!(
            body,
            &golden[name],
            "{name} differs; TEND_UPDATE_GOLDENS=1 rewrites {}",
            golden_dir().display()
        );
    }
    // One job per service and per cron job.
    let expected: BTreeSet<&str> = [
        "db.nomad.json",
        "docs.nomad.json",
        "migrate.nomad.json",
        "web.nomad.json",
        "worker.nomad.json",
        "cron-backup.nomad.json",
        "cron-cleanup.nomad.json",
        "cron-report.nomad.json",
    ]
    .into();
    assert_eq!(
        written.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected
    );

    // Every lost field is on stderr, with its object, and named in that job's Meta.
    let err = f.unsrv(&stderr(&o));
    for (object, field, file) in [
        ("service/web", "backoff.jitter", "web.nomad.json"),
        ("service/web", "watch_dirs", "web.nomad.json"),
        ("service/web", "expose_caddy", "web.nomad.json"),
        ("service/web", "env_file", "web.nomad.json"),
        (
            "service/web",
            "depends_on.migrate.condition",
            "web.nomad.json",
        ),
        ("service/worker", "health.probe", "worker.nomad.json"),
        ("cron/cleanup", "jitter_s", "cron-cleanup.nomad.json"),
        ("cron/cleanup", "overlap", "cron-cleanup.nomad.json"),
        ("cron/report", "catch_up", "cron-report.nomad.json"),
        ("cron/report", "timeout", "cron-report.nomad.json"),
    ] {
        let prefix = format!("warning: {object}: {field}: ");
        assert!(
            err.lines().any(|l| l.starts_with(&prefix)),
            "no `{prefix}...` line on stderr:\n{err}"
        );
        let job: Value = serde_json::from_str(&written[file]).unwrap();
        let unmapped = job["Job"]["Meta"]["tend.dev/unmapped"]
            .as_str()
            .unwrap_or("");
        assert!(
            unmapped.split(',').any(|f| f == field),
            "{file} Meta does not name {field}: {unmapped}"
        );
    }

    // The API answers the same documents and exactly the warnings the CLI printed.
    let (code, answer) = f.daemon.get("/api/export/nomad");
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["plugin"], "nomad");
    let warnings = answer["warnings"].as_array().expect("warnings");
    let lines = err.lines().filter(|l| l.starts_with("warning: ")).count();
    assert_eq!(warnings.len(), lines, "{err}");
    for doc in answer["documents"].as_array().expect("documents") {
        let path = doc["path"].as_str().unwrap();
        assert_eq!(doc["media_type"], "application/json");
        assert_eq!(
            f.unsrv(doc["body"].as_str().unwrap()),
            written[path],
            "{path}"
        );
    }

    for (name, body) in &written {
        let job: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{name}: {e}"));
        let problems = nomad_check(&job);
        assert!(problems.is_empty(), "{name}: {problems:#?}");
    }

    // The mappings that matter, read back from the parsed jobs.
    let job = |file: &str| -> Value {
        serde_json::from_str::<Value>(&written[file]).unwrap()["Job"].clone()
    };
    let web = job("web.nomad.json");
    assert_eq!(web["Type"], "service");
    let task = web["TaskGroups"][0]["Tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["Name"] == "web")
        .unwrap()
        .clone();
    assert_eq!(task["KillSignal"], "SIGQUIT");
    assert_eq!(task["KillTimeout"], 20_000_000_000u64);
    assert_eq!(task["Config"]["work_dir"], "/srv/app");
    let report = job("cron-report.nomad.json");
    assert_eq!(report["Periodic"]["Specs"][0], "30 0 7 * * Mon-Fri *");
    assert_eq!(report["Periodic"]["TimeZone"], "Europe/Berlin");
    assert_eq!(report["Periodic"]["ProhibitOverlap"], true);
    assert_eq!(job("docs.nomad.json")["TaskGroups"][0]["Count"], 0);
    assert_eq!(job("cron-cleanup.nomad.json")["Periodic"]["Enabled"], false);
}

#[test]
fn the_structural_check_catches_a_key_nomad_does_not_know() {
    // The check must be able to fail: a misspelt key, a duration in seconds that breaks the restart
    // window, and a port label no network declares.
    let job = serde_json::json!({"Job": {
        "ID": "x", "Name": "x", "Type": "service", "Datacenters": ["*"],
        "TaskGroups": [{
            "Name": "x", "Count": 1,
            "RestartPolicy": {"Attempts": 3, "Interval": 60, "Delay": 15_000_000_000u64, "Mode": "fail"},
            "Tasks": [{
                "Name": "x", "Driver": "raw_exec", "Kill_Timeout": 5,
                "Config": {"command": "/bin/true", "args": []},
                "Services": [{"Name": "x", "PortLabel": "http", "Provider": "nomad"}]
            }]
        }]
    }});
    let problems = nomad_check(&job);
    let text = problems.join("\n");
    assert!(text.contains("Kill_Timeout"), "{text}");
    assert!(text.contains("Interval"), "{text}");
    assert!(text.contains("http"), "{text}");
}

/// The keys Nomad's JSON job specification documents for each object the export can write.
fn allowed(object: &str) -> &'static [&'static str] {
    match object {
        "Root" => &["Job"],
        "Job" => &[
            "Region",
            "Namespace",
            "ID",
            "Name",
            "Type",
            "Priority",
            "AllAtOnce",
            "Datacenters",
            "NodePool",
            "Constraints",
            "Affinities",
            "Spreads",
            "TaskGroups",
            "Update",
            "Multiregion",
            "Periodic",
            "ParameterizedJob",
            "Reschedule",
            "Migrate",
            "Meta",
            "ConsulToken",
            "VaultToken",
        ],
        "Periodic" => &[
            "Enabled",
            "Spec",
            "Specs",
            "SpecType",
            "ProhibitOverlap",
            "TimeZone",
        ],
        "TaskGroup" => &[
            "Name",
            "Count",
            "Constraints",
            "Affinities",
            "Spreads",
            "Tasks",
            "Volumes",
            "RestartPolicy",
            "ReschedulePolicy",
            "EphemeralDisk",
            "Update",
            "Migrate",
            "Networks",
            "Meta",
            "Services",
            "ShutdownDelay",
            "StopAfterClientDisconnect",
            "MaxClientDisconnect",
            "Scaling",
            "Consul",
        ],
        "RestartPolicy" => &["Attempts", "Interval", "Delay", "Mode", "RenderTemplates"],
        "ReschedulePolicy" => &[
            "Attempts",
            "Interval",
            "Delay",
            "DelayFunction",
            "MaxDelay",
            "Unlimited",
        ],
        "Network" => &[
            "Mode",
            "Device",
            "CIDR",
            "IP",
            "DNS",
            "ReservedPorts",
            "DynamicPorts",
            "Hostname",
            "MBits",
        ],
        "Port" => &["Label", "Value", "To", "HostNetwork"],
        "Task" => &[
            "Name",
            "Driver",
            "User",
            "Lifecycle",
            "Config",
            "Constraints",
            "Affinities",
            "Env",
            "Services",
            "Resources",
            "RestartPolicy",
            "Meta",
            "KillTimeout",
            "LogConfig",
            "Artifacts",
            "Vault",
            "Templates",
            "DispatchPayload",
            "VolumeMounts",
            "Leader",
            "ShutdownDelay",
            "KillSignal",
            "Kind",
            "ScalingPolicies",
        ],
        "Lifecycle" => &["Hook", "Sidecar"],
        "RawExecConfig" => &[
            "command",
            "args",
            "work_dir",
            "cgroup_v1_override",
            "cgroup_v2_override",
            "oom_score_adj",
        ],
        "Resources" => &[
            "CPU",
            "Cores",
            "MemoryMB",
            "MemoryMaxMB",
            "DiskMB",
            "Networks",
            "Devices",
            "IOPS",
        ],
        "Service" => &[
            "Id",
            "Name",
            "Tags",
            "CanaryTags",
            "EnableTagOverride",
            "PortLabel",
            "AddressMode",
            "Address",
            "Checks",
            "CheckRestart",
            "Connect",
            "Meta",
            "CanaryMeta",
            "TaskName",
            "OnUpdate",
            "Provider",
        ],
        "Check" => &[
            "Type",
            "Name",
            "AddressMode",
            "PortLabel",
            "Header",
            "Interval",
            "Timeout",
            "Method",
            "Body",
            "Path",
            "Protocol",
            "Command",
            "Args",
            "TLSSkipVerify",
            "CheckRestart",
            "TaskName",
            "InitialStatus",
            "OnUpdate",
        ],
        "CheckRestart" => &["Limit", "Grace", "IgnoreWarnings"],
        "Template" => &[
            "ChangeMode",
            "ChangeSignal",
            "ChangeScriptConfig",
            "DestPath",
            "EmbeddedTmpl",
            "Envvars",
            "LeftDelim",
            "Perms",
            "Uid",
            "Gid",
            "RightDelim",
            "SourcePath",
            "Splay",
            "VaultGrace",
        ],
        _ => &[],
    }
}

/// Problems of one `{"Job": ...}` document, empty when it is a job Nomad would take.
fn nomad_check(doc: &Value) -> Vec<String> {
    let mut p = Vec::new();
    keys(doc, "Root", "", &mut p);
    let job = &doc["Job"];
    keys(job, "Job", "Job", &mut p);
    for required in ["ID", "Name", "Type", "Datacenters", "TaskGroups"] {
        if job.get(required).is_none() {
            p.push(format!("Job.{required} is missing"));
        }
    }
    let ty = job["Type"].as_str().unwrap_or("");
    if !["service", "batch"].contains(&ty) {
        p.push(format!("Job.Type {ty:?}"));
    }
    if let Some(periodic) = job.get("Periodic") {
        keys(periodic, "Periodic", "Job.Periodic", &mut p);
        if ty != "batch" {
            p.push("Periodic needs Type batch".into());
        }
        if periodic["SpecType"] != "cron" || !periodic["Specs"].is_array() {
            p.push("Periodic needs SpecType cron and Specs".into());
        }
    }
    string_map(&job["Meta"], "Job.Meta", &mut p);
    for (gi, group) in list(&job["TaskGroups"]).iter().enumerate() {
        let at = format!("TaskGroups[{gi}]");
        keys(group, "TaskGroup", &at, &mut p);
        if !group["Count"].is_u64() {
            p.push(format!("{at}.Count is not a non-negative integer"));
        }
        let mut labels = BTreeSet::new();
        for (ni, net) in list(&group["Networks"]).iter().enumerate() {
            keys(net, "Network", &format!("{at}.Networks[{ni}]"), &mut p);
            for port in list(&net["ReservedPorts"]) {
                keys(
                    port,
                    "Port",
                    &format!("{at}.Networks[{ni}].ReservedPorts"),
                    &mut p,
                );
                labels.insert(port["Label"].as_str().unwrap_or("").to_string());
                if !port["Value"]
                    .as_u64()
                    .is_some_and(|v| (1..=65535).contains(&v))
                {
                    p.push(format!("{at}: static port {}", port["Value"]));
                }
            }
        }
        if let Some(r) = group.get("RestartPolicy") {
            keys(r, "RestartPolicy", &format!("{at}.RestartPolicy"), &mut p);
            let attempts = r["Attempts"].as_u64().unwrap_or(0);
            let delay = r["Delay"].as_u64().unwrap_or(0);
            let interval = r["Interval"].as_u64().unwrap_or(0);
            // nomad/structs RestartPolicy.Validate.
            if interval < 5_000_000_000 || attempts * delay > interval {
                p.push(format!(
                    "{at}.RestartPolicy Interval {interval} ns too short"
                ));
            }
            if !["fail", "delay"].contains(&r["Mode"].as_str().unwrap_or("")) {
                p.push(format!("{at}.RestartPolicy.Mode {}", r["Mode"]));
            }
        }
        if let Some(r) = group.get("ReschedulePolicy") {
            keys(
                r,
                "ReschedulePolicy",
                &format!("{at}.ReschedulePolicy"),
                &mut p,
            );
        }
        let tasks = list(&group["Tasks"]);
        if tasks.is_empty() {
            p.push(format!("{at} has no task"));
        }
        for (ti, task) in tasks.iter().enumerate() {
            let at = format!("{at}.Tasks[{ti}]");
            keys(task, "Task", &at, &mut p);
            if task["Driver"] != "raw_exec" {
                p.push(format!("{at}.Driver {}", task["Driver"]));
            }
            keys(
                &task["Config"],
                "RawExecConfig",
                &format!("{at}.Config"),
                &mut p,
            );
            let command = task["Config"]["command"].as_str().unwrap_or("");
            if !command.starts_with('/') {
                p.push(format!(
                    "{at}: raw_exec command {command:?} is not absolute"
                ));
            }
            string_map(&task["Env"], &format!("{at}.Env"), &mut p);
            if let Some(l) = task.get("Lifecycle") {
                keys(l, "Lifecycle", &format!("{at}.Lifecycle"), &mut p);
                if !["prestart", "poststart", "poststop"]
                    .contains(&l["Hook"].as_str().unwrap_or(""))
                {
                    p.push(format!("{at}.Lifecycle.Hook {}", l["Hook"]));
                }
            }
            if let Some(r) = task.get("Resources") {
                keys(r, "Resources", &format!("{at}.Resources"), &mut p);
            }
            if let Some(k) = task.get("KillTimeout")
                && k.as_u64().is_none_or(|ns| ns < 1_000_000_000)
            {
                p.push(format!("{at}.KillTimeout {k} is not nanoseconds"));
            }
            for t in list(&task["Templates"]) {
                keys(t, "Template", &format!("{at}.Templates"), &mut p);
            }
            for s in list(&task["Services"]) {
                keys(s, "Service", &format!("{at}.Services"), &mut p);
                let label = s["PortLabel"].as_str().unwrap_or("");
                if !labels.contains(label) {
                    p.push(format!(
                        "{at}: service port label {label:?} is not declared"
                    ));
                }
                for c in list(&s["Checks"]) {
                    keys(c, "Check", &format!("{at}.Checks"), &mut p);
                    if !["http", "tcp"].contains(&c["Type"].as_str().unwrap_or("")) {
                        p.push(format!("{at}: check type {}", c["Type"]));
                    }
                    let label = c["PortLabel"].as_str().unwrap_or(label);
                    if !labels.contains(label) {
                        p.push(format!("{at}: check port label {label:?} is not declared"));
                    }
                    for d in ["Interval", "Timeout"] {
                        if c[d].as_u64().is_none_or(|ns| ns < 1_000_000_000) {
                            p.push(format!("{at}: check {d} {} is not nanoseconds", c[d]));
                        }
                    }
                    if let Some(r) = c.get("CheckRestart") {
                        keys(r, "CheckRestart", &format!("{at}.CheckRestart"), &mut p);
                    }
                }
            }
        }
    }
    p
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn keys(v: &Value, object: &str, at: &str, problems: &mut Vec<String>) {
    let Some(map) = v.as_object() else {
        problems.push(format!("{at} is not an object"));
        return;
    };
    for k in map.keys() {
        if !allowed(object).contains(&k.as_str()) {
            problems.push(format!("{at}: {object} has no key {k:?}"));
        }
    }
}

fn string_map(v: &Value, at: &str, problems: &mut Vec<String>) {
    if v.is_null() {
        return;
    }
    match v.as_object() {
        Some(m) if m.values().all(Value::is_string) => {}
        _ => problems.push(format!("{at} is not a map of strings")),
    }
}
