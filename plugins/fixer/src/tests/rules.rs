//! Every rule on in-memory projects: what it fixes, what it leaves alone (near misses, paths
//! outside the root, strangers), the repeat guard, and that its commands pass the built-in policy.

use super::fakes::*;
use crate::model::*;
use crate::propose;

fn answer(incident: &Incident, project: &FakeProject) -> Answer {
    propose(incident, project, &mut NoLlm, &Lines::default()).unwrap()
}

/// The rule's fix; the model must not be asked for it.
fn fix(incident: &Incident, project: &FakeProject) -> Proposal {
    match propose(incident, project, &mut Unreachable, &Lines::default()).unwrap() {
        Answer::Fix(p) => {
            assert_eq!(p.author, Author::Rule);
            assert!(p.diagnosis.starts_with(&format!("{}: ", p.source)));
            assert!(p.restart);
            for c in &p.commands {
                assert_eq!(allowed_by_policy(c), None, "{c:?}");
            }
            p
        }
        other => panic!("expected a fix, got {other:?}"),
    }
}

fn no_fix(incident: &Incident, project: &FakeProject) -> String {
    match answer(incident, project) {
        Answer::NoSafeFix(reason) => reason,
        other => panic!("expected no safe fix, got {other:?}"),
    }
}

const NO_RULE: &str =
    "no built-in rule recognises this failure, and no model is configured for the agent";

/// The built-in command policy's verdict on a rule's command (`None`: allowed).
fn allowed_by_policy(c: &FixCommand) -> Option<String> {
    assert_eq!(c.command_type, CommandType::Exec);
    policy::decide(&policy::Request {
        argv: c.command.split_whitespace().map(String::from).collect(),
        command_type: "exec".into(),
        cwd: ROOT.into(),
        // A command declared fit for production is judged as in production.
        production: c.allowed_in_production,
        is_safe: c.is_safe,
        allowed_in_production: c.allowed_in_production,
        ..policy::Request::default()
    })
}

// ---- port-in-use ----

fn port_incident(line: &str, holder: Option<(u32, bool)>) -> Incident {
    Incident {
        port_holder: holder.map(|(pid, leftover)| PortHolder {
            pid,
            command: "python3 app.py".into(),
            leftover,
        }),
        ..incident(&["Traceback (most recent call last):", line])
    }
}

#[test]
fn port_held_by_a_leftover_is_stopped_and_the_service_restarted() {
    for line in [
        "OSError: [Errno 98] Address already in use",
        "Error: listen EADDRINUSE: address already in use :::8000",
        "listen tcp 127.0.0.1:8000: bind: address already in use",
        "ERROR:    [Errno 98] error while attempting to bind on address ('127.0.0.1', 8000): address already in use",
    ] {
        let p = fix(
            &port_incident(line, Some((4321, true))),
            &FakeProject::new(),
        );
        assert_eq!(p.source, "port-in-use");
        assert!(p.edits.is_empty());
        assert_eq!(p.commands.len(), 1);
        assert_eq!(p.commands[0].command, "kill 4321");
        assert!(p.commands[0].is_safe);
        assert!(p.diagnosis.contains("port 8000"), "{}", p.diagnosis);
    }
}

#[test]
fn port_held_by_a_stranger_is_never_touched_and_the_model_not_asked() {
    let i = port_incident(
        "OSError: [Errno 98] Address already in use",
        Some((777, false)),
    );
    let reason = match propose(&i, &FakeProject::new(), &mut Unreachable, &Lines::default()) {
        Ok(Answer::NoSafeFix(r)) => r,
        other => panic!("{other:?}"),
    };
    assert!(reason.contains("pid 777"), "{reason}");
    assert!(reason.contains("python3 app.py"), "{reason}");
    assert!(reason.contains("never stops a stranger"), "{reason}");
}

#[test]
fn port_in_use_without_a_holder_is_a_note_not_a_kill() {
    let i = port_incident("OSError: [Errno 98] Address already in use", None);
    let reason = no_fix(&i, &FakeProject::new());
    assert!(reason.starts_with("port-in-use: "), "{reason}");
    assert!(reason.contains("no process holding it"), "{reason}");
}

#[test]
fn a_leftover_holder_without_the_log_saying_so_is_not_this_rule() {
    let i = port_incident("ValueError: bad config", Some((4321, true)));
    assert_eq!(no_fix(&i, &FakeProject::new()), NO_RULE);
}

// ---- repeat guard ----

#[test]
fn a_rule_that_failed_verification_before_is_not_proposed_again() {
    let mut i = port_incident(
        "OSError: [Errno 98] Address already in use",
        Some((4321, true)),
    );
    let first = fix(&i, &FakeProject::new());
    i.previous.push(Attempt {
        diagnosis: first.diagnosis.clone(),
        outcome: "verify-failed".into(),
        detail: "still crashing".into(),
    });
    let reason = no_fix(&i, &FakeProject::new());
    assert!(reason.contains("tried before"), "{reason}");
    assert!(reason.contains("verify-failed"), "{reason}");
    // With a model, the loop is asked instead, told what the rule found.
    let mut llm = ScriptedLlm::new(vec![calls(&[("give_up", r#"{"reason":"stuck"}"#)])]);
    let a = propose(&i, &FakeProject::new(), &mut llm, &Lines::default()).unwrap();
    assert_eq!(
        a,
        Answer::NoSafeFix("the model found no safe fix: stuck".into())
    );
    assert!(llm.requests[0].messages[1].content.contains("tried before"));
}

#[test]
fn a_rule_that_worked_before_may_fix_the_same_failure_again() {
    let mut i = port_incident(
        "OSError: [Errno 98] Address already in use",
        Some((4321, true)),
    );
    let first = fix(&i, &FakeProject::new());
    i.previous.push(Attempt {
        diagnosis: first.diagnosis,
        outcome: "verified".into(),
        detail: String::new(),
    });
    assert_eq!(fix(&i, &FakeProject::new()).source, "port-in-use");
}

// ---- missing-directory ----

#[test]
fn a_missing_directory_inside_the_project_is_created() {
    let project = FakeProject::new().file("app.py", "print(1)\n").dir("data");
    for (line, dir) in [
        (
            "FileNotFoundError: [Errno 2] No such file or directory: 'logs/app.log'",
            "logs",
        ),
        (
            "Error: ENOENT: no such file or directory, open '/srv/app/var/cache/x.json'",
            "var/cache",
        ),
        (
            "sh: 1: cannot create run/pid/app.pid: Directory nonexistent",
            "run/pid",
        ),
        (
            "open data/sessions/a.db: no such file or directory",
            "data/sessions",
        ),
        (
            "./start.sh: line 3: tmp/out.txt: No such file or directory",
            "tmp",
        ),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: 'uploads' (in os.listdir)",
            "uploads",
        ),
    ] {
        let p = fix(&incident(&[line]), &project);
        assert_eq!(p.source, "missing-directory", "{line}");
        assert_eq!(p.edits, vec![Edit::CreateDir(dir.into())], "{line}");
        assert!(p.commands.is_empty());
    }
}

#[test]
fn paths_outside_the_project_are_ignored() {
    let project = FakeProject::new().file("app.py", "");
    for line in [
        "FileNotFoundError: [Errno 2] No such file or directory: '/var/log/app/x.log'",
        "FileNotFoundError: [Errno 2] No such file or directory: '../shared/logs/x.log'",
        "Error: ENOENT: no such file or directory, open '/srv/application/logs/x.log'",
    ] {
        assert_eq!(no_fix(&incident(&[line]), &project), NO_RULE, "{line}");
    }
}

#[test]
fn a_missing_program_is_not_fixed_with_an_empty_directory() {
    let mut i = incident(&[
        "python3: can't open file '/srv/app/src/main.py': [Errno 2] No such file or directory",
    ]);
    i.command = "python3 src/main.py".into();
    i.argv = vec!["python3".into(), "src/main.py".into()];
    assert_eq!(no_fix(&i, &FakeProject::new().file("app.py", "")), NO_RULE);
}

#[test]
fn a_missing_file_in_an_existing_directory_is_not_a_missing_directory() {
    let project = FakeProject::new().file("config/other.toml", "");
    let line = "FileNotFoundError: [Errno 2] No such file or directory: 'config/app.toml'";
    assert_eq!(no_fix(&incident(&[line]), &project), NO_RULE);
    // Nor is a path whose way runs through a file.
    let project = FakeProject::new().file("logs", "not a dir");
    let line = "FileNotFoundError: [Errno 2] No such file or directory: 'logs/a/x.log'";
    assert_eq!(no_fix(&incident(&[line]), &project), NO_RULE);
}

// ---- not-executable ----

#[test]
fn a_script_without_its_exec_bit_gets_it() {
    let project =
        FakeProject::new().script("bin/start.sh", "#!/bin/sh\nexec python3 app.py\n", false);
    let mut i = incident(&["sh: 1: ./bin/start.sh: Permission denied"]);
    i.command = "./bin/start.sh".into();
    i.argv = vec!["sh".into(), "-c".into(), "./bin/start.sh".into()];
    i.exit_code = Some(126);
    let p = fix(&i, &project);
    assert_eq!(p.source, "not-executable");
    assert_eq!(
        p.edits,
        vec![Edit::SetExecutable {
            path: "bin/start.sh".into(),
            base_sha256: FakeProject::sha("#!/bin/sh\nexec python3 app.py\n"),
            executable: true,
        }]
    );
    // Executed directly by tend (absolute argv[0]), the log naming no path.
    let mut i = incident(&["spawn failed: Permission denied (os error 13)"]);
    i.argv = vec!["/srv/app/bin/start.sh".into()];
    i.command = "/srv/app/bin/start.sh".into();
    assert_eq!(fix(&i, &project).source, "not-executable");
}

#[test]
fn the_exec_bit_rule_leaves_executables_data_and_outside_files_alone() {
    let line = "sh: 1: ./run.sh: Permission denied";
    let mut i = incident(&[line]);
    i.exit_code = Some(126);
    // Already executable.
    let project = FakeProject::new().script("run.sh", "#!/bin/sh\n", true);
    assert_eq!(no_fix(&i, &project), NO_RULE);
    // Not a script.
    let project = FakeProject::new().script("run.sh", "just text\n", false);
    assert_eq!(no_fix(&i, &project), NO_RULE);
    // Outside the root.
    let mut i = incident(&["bash: /opt/tool/run.sh: Permission denied"]);
    i.exit_code = Some(126);
    let project = FakeProject::new().script("opt/tool/run.sh", "#!/bin/sh\n", false);
    assert_eq!(no_fix(&i, &project), NO_RULE);
}

// ---- python-module-missing ----

/// A service run by `<venv>/bin/python app.py` failing to import `module`.
fn module_incident(module: &str, venv: &str) -> Incident {
    Incident {
        command: format!("{venv}/bin/python app.py"),
        argv: vec![format!("{venv}/bin/python"), "app.py".into()],
        ..incident(&[
            "Traceback (most recent call last):",
            "  File \"/srv/app/app.py\", line 1, in <module>",
            &format!("ModuleNotFoundError: No module named '{module}'"),
        ])
    }
}

#[test]
fn a_declared_module_is_installed_from_the_local_wheels_with_the_venvs_pip() {
    let project = FakeProject::new()
        .file("requirements.txt", "flask==3.0\nPyYAML>=6 # config\n")
        .script(".venv/bin/pip", "#!/bin/sh\n", true)
        .file("wheels/PyYAML-6.0-py3-none-any.whl", "");
    let p = fix(&module_incident("yaml", ".venv"), &project);
    assert_eq!(p.source, "python-module-missing");
    assert_eq!(
        p.commands[0].command,
        ".venv/bin/pip install --no-index --find-links wheels -r requirements.txt"
    );
    assert!(p.commands[0].allowed_in_production);
    // A `--find-links` line names the local directory.
    let project = FakeProject::new()
        .file("requirements.txt", "--find-links ./pkgs\nmy_lib\n")
        .script("venv/bin/pip", "#!/bin/sh\n", true)
        .dir("pkgs");
    let p = fix(&module_incident("my_lib.sub", "/srv/app/venv"), &project);
    assert_eq!(
        p.commands[0].command,
        "venv/bin/pip install --no-index --find-links pkgs -r requirements.txt"
    );
}

#[test]
fn without_a_local_index_the_venvs_pip_installs_the_requirements() {
    let project = FakeProject::new()
        .file("requirements.txt", "python-dateutil\n")
        .script(".venv/bin/pip", "#!/bin/sh\n", true);
    let p = fix(&module_incident("dateutil", ".venv"), &project);
    assert_eq!(
        p.commands[0].command,
        ".venv/bin/pip install -r requirements.txt"
    );
    assert!(!p.commands[0].allowed_in_production);
    // Declared in pyproject.toml only: that requirement alone.
    let project = FakeProject::new()
        .file(
            "pyproject.toml",
            "[project]\nname = \"x\"\ndependencies = [\n  \"Requests>=2.31\",\n  \"click\",\n]\n",
        )
        .script(".venv/bin/pip", "#!/bin/sh\n", true);
    let p = fix(&module_incident("requests", ".venv"), &project);
    assert_eq!(
        p.commands[0].command,
        ".venv/bin/pip install 'Requests>=2.31'"
    );
}

#[test]
fn an_undeclared_module_or_a_project_without_venv_gets_no_install() {
    let project = FakeProject::new()
        .file("requirements.txt", "flask\n")
        .script(".venv/bin/pip", "#!/bin/sh\n", true);
    assert_eq!(
        no_fix(&module_incident("numpy", ".venv"), &project),
        NO_RULE
    );
    let project = FakeProject::new().file("requirements.txt", "numpy\n");
    let reason = no_fix(&module_incident("numpy", ".venv"), &project);
    assert!(reason.contains("no virtualenv"), "{reason}");
    // A venv the service does not run with: installing there would change nothing.
    let project = project.script(".venv/bin/pip", "#!/bin/sh\n", true);
    let mut i = module_incident("numpy", ".venv");
    i.command = "python3 app.py".into();
    i.argv = vec!["python3".into(), "app.py".into()];
    let reason = no_fix(&i, &project);
    assert!(
        reason.contains("does not run with that virtualenv"),
        "{reason}"
    );
    // ... unless its environment says it does.
    i.env_names.push("VIRTUAL_ENV".into());
    assert_eq!(fix(&i, &project).source, "python-module-missing");
}

// ---- missing-env-var ----

fn env_incident(line: &str, env_file: Option<&str>) -> Incident {
    Incident {
        env_file: env_file.map(String::from),
        ..incident(&["Traceback (most recent call last):", line])
    }
}

#[test]
fn a_missing_variable_from_the_example_is_added_to_the_env_file() {
    let example = ".env.example";
    let project = FakeProject::new()
        .file(
            example,
            "# settings\nDATABASE_URL=sqlite:///app.db\nDEBUG=0\n",
        )
        .file(".env", "SECRET_KEY=hunter2\nDEBUG=1\n");
    for line in [
        "KeyError: 'DATABASE_URL'",
        "RuntimeError: environment variable DATABASE_URL is not set",
        "Error: DATABASE_URL must be set",
    ] {
        let p = fix(&env_incident(line, Some(".env")), &project);
        assert_eq!(p.source, "missing-env-var", "{line}");
        // The env file is redacted: the edit anchors on a name, never on a value.
        assert_eq!(
            p.edits,
            vec![Edit::Replace {
                path: ".env".into(),
                base_sha256: FakeProject::sha("SECRET_KEY=hunter2\nDEBUG=1\n"),
                old: "\nDEBUG=".into(),
                new: "\nDATABASE_URL=sqlite:///app.db\nDEBUG=".into(),
            }],
            "{line}"
        );
    }
    // An unredacted env file (no values yet) is appended to.
    let project = FakeProject::new()
        .file(example, "PORT=8000\n")
        .file("config/app.vars", "# nothing yet\n");
    let p = fix(
        &env_incident("KeyError: 'PORT'", Some("/srv/app/config/app.vars")),
        &project,
    );
    assert_eq!(
        p.edits,
        vec![Edit::Replace {
            path: "config/app.vars".into(),
            base_sha256: FakeProject::sha("# nothing yet\n"),
            old: "# nothing yet\n".into(),
            new: "# nothing yet\nPORT=8000\n".into(),
        }]
    );
    // An env file that does not exist yet is created.
    let project = FakeProject::new().file(".env.sample", "export API_URL=http://127.0.0.1:9000\n");
    let p = fix(&env_incident("KeyError: 'API_URL'", Some(".env")), &project);
    assert_eq!(
        p.edits,
        vec![Edit::Create {
            path: ".env".into(),
            content: "API_URL=http://127.0.0.1:9000\n".into(),
            executable: false,
        }]
    );
}

#[test]
fn a_missing_variable_without_an_env_file_or_example_gets_no_edit() {
    let project = FakeProject::new().file(".env.example", "DATABASE_URL=sqlite:///app.db\n");
    // No env_file.
    let reason = no_fix(&env_incident("KeyError: 'DATABASE_URL'", None), &project);
    assert!(
        reason.contains("no env_file inside the project"),
        "{reason}"
    );
    // An env_file outside the project.
    let reason = no_fix(
        &env_incident("KeyError: 'DATABASE_URL'", Some("/etc/app.env")),
        &project,
    );
    assert!(
        reason.contains("no env_file inside the project"),
        "{reason}"
    );
    // The variable is not in the example.
    assert_eq!(
        no_fix(&env_incident("KeyError: 'OTHER'", Some(".env")), &project),
        NO_RULE
    );
    // The service has it already: something else is wrong.
    let mut i = env_incident("KeyError: 'DATABASE_URL'", Some(".env"));
    i.env_names.push("DATABASE_URL".into());
    assert_eq!(no_fix(&i, &project), NO_RULE);
    // A redacted example value is never copied.
    let project = FakeProject::new().file(".env.example", "DATABASE_URL=<redacted>\n");
    let reason = no_fix(
        &env_incident("KeyError: 'DATABASE_URL'", Some(".env")),
        &project,
    );
    assert!(reason.contains("no usable value"), "{reason}");
}
