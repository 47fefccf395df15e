//! Auto-fix limits and gates the other `fix_*` files leave out, through the real daemon with the
//! `fixer-script` fixture: mode `off` (a service's own `autofix = "off"` refuses a manual fix and
//! starts no automatic one; `[autofix] rules = "off"` records a `skipped` fix), `[autofix] timeout_s`
//! ending a fix that verifies too long (failed, its writes restored byte-exact), `max_attempts` per
//! window (a manual fix refused with 409, an automatic trigger recorded `skipped`), a retry after a
//! failed verification that proposes something else and is verified, retries ending at the limit,
//! and `tend fix approve|reject|restore ID` run as processes.

use std::path::Path;

use tend_tests::{Daemon, Value, json, wait_for};

use crate::fix_apply::{
    FIX_TIMEOUT, fix, fix_daemon, fixes, project, proposal, replace, script, scripted_service,
    settled, start_fix, wait_script_line,
};

fn message(e: &Value) -> String {
    e["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A service that runs `sh run.sh` (which exits 1) and is restarted once, so it goes `fatal`; the
/// scripted proposal makes `run.sh` sleep instead.
fn fatal_service(d: &Daemon, name: &str, root: &Path, patch: Value) {
    std::fs::write(root.join("run.sh"), "#!/bin/sh\nexit 1\n").unwrap();
    script(
        d,
        name,
        &proposal(
            vec![replace(root, "run.sh", "exit 1", "exec sleep 600")],
            vec![],
        ),
    );
    scripted_service(
        d,
        name,
        root,
        "exec sh run.sh",
        tend_tests::merge(
            json!({"restart": "always", "max_restarts": 1, "backoff": {"initial_delay_ms": 10}}),
            patch,
        ),
    );
}

#[test]
fn a_services_own_off_refuses_a_manual_fix_and_starts_no_automatic_one() {
    let d = fix_daemon("");
    let root = project(&d, "o");
    fatal_service(&d, "o", &root, json!({"autofix": "off"}));
    d.wait_status("o", "fatal", FIX_TIMEOUT);
    // The automatic trigger of the `fatal` was refused (and only logged).
    wait_for(FIX_TIMEOUT, || {
        let log = d.stderr();
        if log.contains("automatic fix not started") && log.contains("its `autofix` setting") {
            Ok(())
        } else {
            Err("no refusal logged yet".to_string())
        }
    })
    .unwrap();
    let (status, e) = d.post_empty("/api/services/o/fix");
    assert_eq!(status, 409, "{e}");
    assert!(message(&e).contains("auto-fix is off for service"), "{e}");
    assert!(fixes(&d, "o").is_empty());
    assert_eq!(
        std::fs::read(root.join("run.sh")).unwrap(),
        b"#!/bin/sh\nexit 1\n"
    );
    assert!(!d.data_dir().join("backups/o").exists());
}

#[test]
fn rules_off_records_a_skipped_fix_and_writes_nothing() {
    let d = fix_daemon("rules = \"off\"\n");
    // An automatic trigger: recorded `skipped`, nothing written.
    let root = project(&d, "r");
    fatal_service(&d, "r", &root, json!({}));
    let f = wait_for(FIX_TIMEOUT, || {
        let all = fixes(&d, "r");
        match all.first() {
            Some(f) if f["status"] == "skipped" => Ok(f.clone()),
            _ => Err(format!("{all:?}")),
        }
    })
    .unwrap();
    assert_eq!(f["trigger"], "crash-loop", "{f}");
    assert_eq!(f["mode"], "off", "{f}");
    assert!(
        f["reason"].as_str().unwrap().contains("auto-fix is off"),
        "{f}"
    );
    // The proposal and its diff are still shown.
    assert!(
        f["diffs"][0]["diff"]
            .as_str()
            .unwrap()
            .contains("+exec sleep 600"),
        "{f}"
    );
    assert!(f.get("backup").is_none(), "{f}");
    assert_eq!(
        std::fs::read(root.join("run.sh")).unwrap(),
        b"#!/bin/sh\nexit 1\n"
    );
    // A manual fix is accepted (202) and ends the same way.
    let id = start_fix(&d, "r");
    let f = settled(&d, &id);
    assert_eq!(f["status"], "skipped", "{f}");
    assert_eq!(f["trigger"], "manual", "{f}");
    assert_eq!(
        std::fs::read(root.join("run.sh")).unwrap(),
        b"#!/bin/sh\nexit 1\n"
    );
    assert!(!d.data_dir().join("backups/r").exists());
    // Only the rules are off: a model-written proposal still waits for approval.
    let root = project(&d, "m");
    std::fs::write(root.join("conf.txt"), "x = 1\n").unwrap();
    let mut p = proposal(vec![replace(&root, "conf.txt", "x = 1", "x = 2")], vec![]);
    p["author"] = json!("model");
    script(&d, "m", &p);
    scripted_service(&d, "m", &root, "exit 1", json!({}));
    wait_script_line(&d, "m");
    let f = settled(&d, &start_fix(&d, "m"));
    assert_eq!(f["status"], "awaiting-approval", "{f}");
    assert_eq!(std::fs::read(root.join("conf.txt")).unwrap(), b"x = 1\n");
}

#[test]
fn a_fix_over_the_timeout_ends_failed_and_its_writes_are_restored() {
    // The stability window (300 s) is longer than the fix may take (10 s).
    let d = fix_daemon("timeout_s = 10\nverify_window_s = 300\n");
    let root = project(&d, "slow");
    let crlf = b"first = 1\r\nsecond = \xff\r\n".to_vec();
    std::fs::write(root.join("conf.txt"), &crlf).unwrap();
    let edits = vec![
        json!({"op": "replace", "path": "conf.txt", "base_sha256": crate::fix_apply::sha(&crlf),
                "old": "first = 1", "new": "first = 2"}),
        json!({"op": "create", "path": "made/new.txt", "content": "new\n", "executable": false}),
    ];
    script(&d, "slow", &proposal(edits, vec![]));
    scripted_service(&d, "slow", &root, "exec sleep 600", json!({}));
    wait_script_line(&d, "slow");
    let id = start_fix(&d, "slow");
    let f = settled(&d, &id);
    assert_eq!(f["status"], "failed", "{f}");
    let reason = f["reason"].as_str().unwrap();
    assert!(
        reason.contains("timed out after 10 s") && reason.contains("restored from the backup"),
        "{f}"
    );
    // It had written (a backup exists), and what it wrote is undone.
    assert!(f["backup"].is_string(), "{f}");
    assert_eq!(std::fs::read(root.join("conf.txt")).unwrap(), crlf);
    assert!(!root.join("made").exists());
    // The target is free again: a new fix may start.
    let (status, again) = d.post_empty("/api/services/slow/fix");
    assert_eq!(status, 202, "{again}");
}

#[test]
fn too_many_attempts_refuse_a_manual_fix_and_skip_an_automatic_one() {
    let d = fix_daemon("max_attempts = 1\n");
    let root = project(&d, "t");
    fatal_service(&d, "t", &root, json!({}));
    // Attempt 1: automatic, verified.
    let first = wait_for(FIX_TIMEOUT, || {
        let all = fixes(&d, "t");
        match all.iter().find(|f| f["status"] == "verified") {
            Some(f) => Ok(f.clone()),
            None => Err(format!("{all:?}")),
        }
    })
    .unwrap();
    assert_eq!(first["trigger"], "crash-loop", "{first}");
    // A person asking is told why.
    let (status, e) = d.post_empty("/api/services/t/fix");
    assert_eq!(status, 409, "{e}");
    let m = message(&e);
    assert!(
        m.contains("too many attempts") && m.contains("autofix.max_attempts = 1"),
        "{e}"
    );
    // Broken again and gone `fatal`: the automatic trigger leaves a `skipped` record.
    std::fs::write(root.join("run.sh"), "#!/bin/sh\nexit 1\n").unwrap();
    let (status, body) = d.post_empty("/api/services/t/restart");
    assert_eq!(status, 200, "{body}");
    let skipped = wait_for(FIX_TIMEOUT, || {
        let all = fixes(&d, "t");
        match all.iter().find(|f| f["status"] == "skipped") {
            Some(f) => Ok(f.clone()),
            None => Err(format!("{all:?}")),
        }
    })
    .unwrap();
    assert!(
        skipped["reason"]
            .as_str()
            .unwrap()
            .contains("too many attempts"),
        "{skipped}"
    );
    assert_eq!(fixes(&d, "t").len(), 2);
    assert_eq!(
        std::fs::read(root.join("run.sh")).unwrap(),
        b"#!/bin/sh\nexit 1\n"
    );
}

/// A service whose project has `data.txt` (`value = 1`). It prints proposal `first` until it has
/// run once on `value = 9` (attempt 1's edit), then `second`; on `value = 5` it stays up.
fn two_proposal_service(d: &Daemon, name: &str, second: &str) -> std::path::PathBuf {
    let root = project(d, name);
    std::fs::write(root.join("data.txt"), "value = 1\n").unwrap();
    let files = d.scratch().join(format!("{name}-files"));
    std::fs::create_dir_all(&files).unwrap();
    for (file, new) in [("first", "value = 9"), ("second", second)] {
        let p = proposal(vec![replace(&root, "data.txt", "value = 1", new)], vec![]);
        std::fs::write(files.join(file), p.to_string()).unwrap();
    }
    let f = files.display();
    let line = format!(
        "if grep -q 'value = 5' data.txt; then exec sleep 600; fi; \
         if grep -q 'value = 9' data.txt; then touch '{f}/seen'; fi; \
         if [ -e '{f}/seen' ]; then p='{f}/second'; else p='{f}/first'; fi; \
         printf 'TEND-FIX-SCRIPT: %s\\n' \"$(cat \"$p\")\"; exit 3"
    );
    let spec = d.service_with(
        name,
        json!(["/bin/sh", "-c", line]),
        json!({"working_dir": root, "restart": "never"}),
    );
    d.create(&spec);
    wait_script_line(d, name);
    root
}

/// Waits until `name` has `n` fixes, all ended (none diagnosing, applying or verifying); them,
/// oldest first.
fn ended_fixes(d: &Daemon, name: &str, n: usize) -> Vec<Value> {
    wait_for(FIX_TIMEOUT, || {
        let mut all = fixes(d, name);
        all.sort_by_key(|f| f["attempt"].as_u64());
        let moving = all.iter().any(|f| {
            matches!(
                f["status"].as_str(),
                Some("diagnosing" | "applying" | "verifying")
            )
        });
        if all.len() >= n && !moving {
            Ok(all)
        } else {
            Err(format!("{all:#?}"))
        }
    })
    .unwrap()
}

/// Waits until the background job `job` is over; the job then.
fn job_over(d: &Daemon, job: &Value) -> Value {
    let job = job.as_str().unwrap().to_string();
    wait_for(FIX_TIMEOUT, || {
        let (_, j) = d.get(&format!("/api/jobs/{job}"));
        if j["finished_at"].is_string() {
            Ok(j)
        } else {
            Err(j.to_string())
        }
    })
    .unwrap()
}

#[test]
fn a_retry_with_another_proposal_is_verified_and_retries_stop_at_the_limit() {
    let d = fix_daemon("max_attempts = 2\n");
    // Attempt 1's edit fails verification and is restored; attempt 2's differs and works.
    let root = two_proposal_service(&d, "good", "value = 5");
    start_fix(&d, "good");
    let all = ended_fixes(&d, "good", 2);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[0]["status"], "restored", "{all:#?}");
    assert_eq!(all[1]["status"], "verified", "{all:#?}");
    assert_eq!(all[1]["attempt"], 2, "{all:#?}");
    assert_eq!(all[1]["job_id"], all[0]["job_id"], "{all:#?}");
    assert_eq!(
        all[1]["incident"]["previous"][0]["outcome"], "verify-failed",
        "{all:#?}"
    );
    assert!(
        all[1]["diffs"][0]["diff"]
            .as_str()
            .unwrap()
            .contains("+value = 5"),
        "{all:#?}"
    );
    assert_eq!(
        std::fs::read(root.join("data.txt")).unwrap(),
        b"value = 5\n"
    );
    assert_eq!(d.view("good")["status"], "running");
    // The job is the fix's, retries included: it succeeded with the last attempt.
    let job = job_over(&d, &all[1]["job_id"]);
    assert_eq!(job["status"], "succeeded", "{job}");

    // Both attempts fail verification: two records, both restored, no third.
    let root = two_proposal_service(&d, "bad", "value = 7");
    start_fix(&d, "bad");
    let all = ended_fixes(&d, "bad", 2);
    let job = job_over(&d, &all[0]["job_id"]);
    assert_eq!(job["status"], "failed", "{job}");
    let all = fixes(&d, "bad");
    let statuses: Vec<&str> = all.iter().map(|f| f["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["restored", "restored"], "{all:#?}");
    let last = &all[0];
    assert_eq!(last["attempt"], 2, "{all:#?}");
    assert!(
        job["error"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("fix {} restored", last["id"].as_str().unwrap())),
        "the job ends with the last attempt: {job}"
    );
    assert!(
        last["diffs"][0]["diff"]
            .as_str()
            .unwrap()
            .contains("+value = 7"),
        "{all:#?}"
    );
    assert_eq!(
        std::fs::read(root.join("data.txt")).unwrap(),
        b"value = 1\n"
    );
    // And the limit now refuses a person too.
    let (status, e) = d.post_empty("/api/services/bad/fix");
    assert_eq!(status, 409, "{e}");
    assert!(message(&e).contains("too many attempts"), "{e}");
}

#[test]
fn the_cli_approves_rejects_and_restores_by_id() {
    let d = fix_daemon("rules = \"approve\"\n");
    let root = project(&d, "c");
    std::fs::write(root.join("conf.txt"), "mode = broken\n").unwrap();
    script(
        &d,
        "c",
        &proposal(vec![replace(&root, "conf.txt", "broken", "fixed")], vec![]),
    );
    scripted_service(&d, "c", &root, "exec sleep 600", json!({}));
    wait_script_line(&d, "c");
    let stdout = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();

    // Reject: nothing changes.
    let id = start_fix(&d, "c");
    assert_eq!(settled(&d, &id)["status"], "awaiting-approval");
    let out = d.cli(&["fix", "reject", &id]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains(&format!("fix {id} of c: rejected")),
        "{out:?}"
    );
    assert_eq!(fix(&d, &id)["status"], "rejected");
    assert_eq!(
        std::fs::read(root.join("conf.txt")).unwrap(),
        b"mode = broken\n"
    );
    // Approving a rejected fix fails, naming why.
    let out = d.cli(&["fix", "approve", &id]);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not awaiting-approval"),
        "{out:?}"
    );

    // Approve: applied and verified.
    let id = start_fix(&d, "c");
    assert_eq!(settled(&d, &id)["status"], "awaiting-approval");
    let out = d.cli(&["fix", "approve", &id]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains(&format!("fix {id} of c: applying")),
        "{out:?}"
    );
    assert_eq!(settled(&d, &id)["status"], "verified");
    assert_eq!(
        std::fs::read(root.join("conf.txt")).unwrap(),
        b"mode = fixed\n"
    );

    // Restore: the file comes back, the fix names its restore.
    let out = d.cli(&["fix", "restore", &id]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read(root.join("conf.txt")).unwrap(),
        b"mode = broken\n"
    );
    let by = fix(&d, &id)["restored_by"].as_str().unwrap().to_string();
    assert!(
        stdout(&out).contains(&format!("restore {by} of c: verified")),
        "{out:?}"
    );

    // An unknown id: a non-zero exit naming it, for each verb.
    for verb in ["approve", "reject", "restore"] {
        let out = d.cli(&["fix", verb, "999"]);
        assert!(!out.status.success(), "{verb}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("999"),
            "{verb}: {out:?}"
        );
    }
}
