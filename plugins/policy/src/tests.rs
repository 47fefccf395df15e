//! The analyser on its own, for quick iteration: the shared table (`tests/fixtures/policy/table.txt`,
//! which `tests/tests/policy_table.rs` also runs through a real daemon and, for its allowed rows,
//! for real), the budget, the operator's `[policy]` lists, and a property test that any text
//! holding a construct outside the accepted grammar is denied.

use super::*;
use proptest::prelude::*;

const CWD: &str = "/srv/app";
const DATA: &str = "/var/lib/tend";
const PID: u32 = 4242;
const TABLE: &str = include_str!("../../../tests/fixtures/policy/table.txt");

fn ctx() -> Ctx {
    Ctx {
        protected: vec![DATA.into()],
        daemon_pid: PID,
        daemon_names: vec![
            "/usr/bin/tend".into(),
            "/usr/bin/tend daemon --config /etc/tend/tend.toml".into(),
        ],
        daemon_cwd: Some("/srv/daemon".into()),
        ..Ctx::default()
    }
}

fn request(command_type: &str, cwd: &str, cmd: &str) -> Request {
    Request {
        shell: (command_type == "shell").then(|| cmd.to_string()),
        argv: match command_type {
            "shell" => vec!["sh".into(), "-c".into(), cmd.into()],
            "make" => std::iter::once("make".to_string())
                .chain(split(cmd))
                .collect(),
            _ => split(cmd),
        },
        command_type: command_type.into(),
        cwd: cwd.into(),
        is_safe: true,
        vars: vec![
            ("HOME".into(), "/home/tester".into()),
            ("BUILD".into(), "build".into()),
            ("SUB".into(), "build/cache".into()),
            ("TARGET".into(), "/".into()),
            ("FLAGS".into(), "-rf /".into()),
        ],
        ctx: ctx(),
        ..Request::default()
    }
}

fn shell(cmd: &str) -> Option<String> {
    decide(&request("shell", CWD, cmd))
}

/// `exec`/`make` text split the way the daemon splits it (words, single and double quotes).
fn split(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, ' ') => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// One row of the table.
pub struct Row {
    pub allow: bool,
    pub command_type: String,
    pub cwd: String,
    pub command: String,
    pub reason: String,
}

pub fn rows(root: &str, data: &str, pid: u32) -> Vec<Row> {
    let fill = |s: &str| {
        s.replace("{ROOT}", root)
            .replace("{DATA}", data)
            .replace("{PID}", &pid.to_string())
            .replace('⏎', "\n")
    };
    TABLE
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() >= 4, "bad table row {l:?}");
            Row {
                allow: f[0] == "allow",
                command_type: f[1].into(),
                cwd: if f[2] == "-" { root.into() } else { fill(f[2]) },
                command: fill(f[3]),
                reason: f.get(4).map(|r| fill(r)).unwrap_or_default(),
            }
        })
        .collect()
}

#[test]
fn the_table() {
    let rows = rows(CWD, DATA, PID);
    assert!(rows.len() >= 150, "{} rows", rows.len());
    let mut failures = Vec::new();
    for r in &rows {
        let got = decide(&request(&r.command_type, &r.cwd, &r.command));
        let ok = match (&got, r.allow) {
            (None, true) => true,
            (Some(reason), false) => reason.contains(&r.reason),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{} {:?} (cwd {}): expected {}, got {got:?}",
                r.command_type,
                r.command,
                r.cwd,
                if r.allow {
                    "allow".to_string()
                } else {
                    format!("deny with {:?}", r.reason)
                }
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The two rates over the table's corpora (printed; `cargo test -p policy rates -- --nocapture`).
#[test]
fn rates() {
    let rows = rows(CWD, DATA, PID);
    let (ops, attacks): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|r| r.allow);
    let allowed = ops
        .iter()
        .filter(|r| decide(&request(&r.command_type, &r.cwd, &r.command)).is_none())
        .count();
    let denied = attacks
        .iter()
        .filter(|r| decide(&request(&r.command_type, &r.cwd, &r.command)).is_some())
        .count();
    println!(
        "operator corpus allowed: {allowed}/{} ({:.1}%); attack corpus denied: {denied}/{} ({:.1}%)",
        ops.len(),
        100.0 * allowed as f64 / ops.len() as f64,
        attacks.len(),
        100.0 * denied as f64 / attacks.len() as f64
    );
    assert_eq!(denied, attacks.len());
}

#[test]
fn budget_denials_name_the_limit() {
    let nested = format!("{}true{}", "( ".repeat(5000), " )".repeat(5000));
    let r = shell(&nested).unwrap();
    assert!(
        r.contains("nested more than") || r.contains("too long"),
        "{r}"
    );
    let subst = format!("echo {}x{}", "$(echo ".repeat(20), ")".repeat(20));
    assert!(shell(&subst).unwrap().contains("nested more than"));
    let huge = format!("echo {}", "a".repeat(100 * 1024));
    assert!(shell(&huge).unwrap().contains("too long"));
    let words = format!("echo {}", "a ".repeat(3000));
    assert!(shell(&words).unwrap().contains("words"));
    let loops = format!(
        "for a in {l}; do for b in {l}; do for c in {l}; do echo $a$b$c; done; done; done",
        l = "1 2 3 4 5 6 7 8 9"
    );
    assert!(
        shell(&loops).unwrap().contains("budget"),
        "{:?}",
        shell(&loops)
    );
}

#[test]
fn operator_lists_widen_the_allow_list() {
    let mut r = request("shell", CWD, "python3 -c 'print(1)'");
    assert!(decide(&r).unwrap().contains("inline code"));
    r.ctx.interpreters = vec!["python3".into()];
    assert_eq!(decide(&r), None);
    let mut r = request("shell", CWD, "docker compose up -d");
    assert!(decide(&r).unwrap().contains("allow-list"));
    r.ctx.programs = vec!["docker".into()];
    assert_eq!(decide(&r), None);
    // An added program is still checked for destructive targets.
    r.shell = Some("docker compose up -d > /etc/x".into());
    assert!(decide(&r).unwrap().contains("write into /etc"));
}

#[test]
fn the_environment_cannot_change_the_grammar() {
    let mut r = request("shell", CWD, "cd build");
    r.vars.push(("CDPATH".into(), "/".into()));
    assert!(decide(&r).unwrap().contains("CDPATH"));
    let mut r = request("shell", CWD, "make");
    r.vars.push(("PATH".into(), ".:/usr/bin".into()));
    assert!(decide(&r).unwrap().contains("PATH"));
}

/// Constructs outside the accepted grammar, each as it would appear inside a command.
const OUTSIDE: &[&str] = &[
    "`id`",
    "$'x'",
    "$\"x\"",
    "$((1))",
    "((x))",
    "${X:-$(id)}",
    "${X#y}",
    "${#X}",
    "${!X}",
    "<(id)",
    ">(id)",
    "<<EOF\nx\nEOF",
    "<<<x",
    "&>x",
    "|& cat",
    "{a,b}",
    "{ id; }",
    "f() { id; }",
    "function f",
    "case",
    "coproc",
    "select",
    "[[",
    "IFS=x",
    "CDPATH=x",
    "PATH=x",
    "LD_PRELOAD=x",
    "BASH_ENV=x",
    "X+=y",
    "~root",
    "$@",
    ";; ",
    ">|x",
    "$(echo # c\n)",
    "\u{1}",
    "$[1]",
    "${X:-a b}",
    "<>x",
    ">&x",
    "X+=1",
    "$\'\\x41\'",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    /// Any accepted prefix and suffix around a construct outside the grammar: denied.
    #[test]
    fn constructs_outside_the_grammar_are_denied(
        pre in prop::sample::select(vec!["", "echo ", "true && echo ", "make; echo a ", "ls | grep ", "cd build && echo "]),
        bad in prop::sample::select(OUTSIDE.to_vec()),
        post in prop::sample::select(vec!["", " x", "; make", " && ls"]),
        wrap in 0usize..4,
    ) {
        let inner = format!("{pre}{bad}{post}");
        let cmd = match wrap {
            0 => inner,
            1 => format!("echo $({inner})"),
            2 => format!("( {inner} )"),
            _ if !inner.contains('\'') => format!("sh -c '{inner}'"),
            _ => inner,
        };
        prop_assert!(shell(&cmd).is_some(), "allowed: {cmd:?}");
    }

    /// Random printable text is never allowed when it holds a construct outside the grammar,
    /// and the analyser always answers (no panic) within its budget.
    #[test]
    fn random_text_never_panics(s in "[ -~\n]{0,200}") {
        let _ = shell(&s);
    }
}

#[test]
fn declarations() {
    let base = Request {
        argv: vec!["make".into(), "clean".into()],
        command_type: "make".into(),
        cwd: CWD.into(),
        is_safe: true,
        ..Request::default()
    };
    assert_eq!(decide(&base), None);
    let prod = Request {
        production: true,
        ..base.clone()
    };
    assert!(decide(&prod).unwrap().contains("allowed_in_production"));
    let prod_ok = Request {
        allowed_in_production: true,
        ..prod
    };
    assert_eq!(decide(&prod_ok), None);
    let unsafe_ = Request {
        is_safe: false,
        ..base.clone()
    };
    assert!(decide(&unsafe_).unwrap().contains("is_safe: false"));
    let allowed = Request {
        allow_unsafe: true,
        ..unsafe_
    };
    assert_eq!(decide(&allowed), None);
    let exec = Request {
        argv: vec!["rm".into(), "-rf".into(), "/".into()],
        command_type: "exec".into(),
        ..base.clone()
    };
    assert!(decide(&exec).unwrap().contains("recursive delete of /"));
    // exec: no shell, so `;` is an argument.
    let literal = Request {
        argv: vec![
            "echo".into(),
            "hi;".into(),
            "rm".into(),
            "-rf".into(),
            "/".into(),
        ],
        command_type: "exec".into(),
        ..base.clone()
    };
    assert_eq!(decide(&literal), None);
    let bad = Request {
        command_type: "perl".into(),
        ..base
    };
    assert!(decide(&bad).unwrap().contains("unknown command type"));
}

#[test]
fn symlinks_that_exist_are_resolved_by_the_host_before_containment() {
    // `shared` is a symlink to /srv/shared, `data` one to tend's data dir.
    let host = |p: &str| {
        for (link, target) in [("/srv/app/shared", "/srv/shared"), ("/srv/app/data", DATA)] {
            if let Some(rest) = p.strip_prefix(link) {
                return format!("{target}{rest}");
            }
        }
        p.to_string()
    };
    let r = request("shell", CWD, "rm -rf shared/cache");
    match judge(&r) {
        Verdict::Resolve(paths) => assert_eq!(paths, ["/srv/app/shared/cache"]),
        other => panic!("{other:?}"),
    }
    for (cmd, reason) in [
        ("rm -rf shared/cache", "outside the working dir"),
        ("rm -rf shared/*", "outside the working dir"),
        ("echo x > shared/x", "outside the working dir"),
        ("./shared/run.sh", "only programs of the system bin dirs"),
        ("cat data/token", "tend's own data"),
        ("cd shared && rm -rf build", "outside the working dir"),
    ] {
        let got = decide_with(&request("shell", CWD, cmd), host);
        assert!(
            got.as_deref().is_some_and(|g| g.contains(reason)),
            "{cmd}: {got:?}"
        );
    }
    assert_eq!(
        decide_with(&request("shell", CWD, "rm -rf build"), host),
        None
    );
    // A second `resolve` is not answered again.
    let mut again = request("shell", CWD, "rm -rf build");
    again.resolved = Some(Vec::new());
    assert!(decide(&again).unwrap().contains("did not resolve"));
}

/// The two rates over corpora written without tuning them to the policy (printed with
/// `cargo test -p policy corpora -- --nocapture`; the figures are in the notes).
#[test]
fn corpora_rates() {
    let lines = |text: &'static str| -> Vec<&'static str> {
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect()
    };
    let ops = lines(include_str!(
        "../../../tests/fixtures/policy/operator_corpus.txt"
    ));
    let attacks = lines(include_str!(
        "../../../tests/fixtures/policy/attack_corpus.txt"
    ));
    let allowed: Vec<&str> = ops.iter().copied().filter(|c| shell(c).is_none()).collect();
    let passed: Vec<&str> = attacks
        .iter()
        .copied()
        .filter(|c| shell(c).is_none())
        .collect();
    println!(
        "operator corpus allowed: {}/{} ({:.0}%)\nattack corpus denied: {}/{} ({:.0}%); allowed attacks: {passed:?}",
        allowed.len(),
        ops.len(),
        100.0 * allowed.len() as f64 / ops.len() as f64,
        attacks.len() - passed.len(),
        attacks.len(),
        100.0 * (attacks.len() - passed.len()) as f64 / attacks.len() as f64,
    );
    for c in &ops {
        if let Some(r) = shell(c) {
            println!("  denied operator step {c:?}: {r}");
        }
    }
    assert!(
        allowed.len() * 10 >= ops.len() * 8,
        "fewer than 80% of operator steps allowed"
    );
    // `bash < payload.sh` runs a script of the project, as `bash payload.sh` may (by design).
    assert_eq!(passed, ["bash < payload.sh"], "attacks allowed");
}

#[test]
fn doubling_variables_hit_the_budget_not_the_memory() {
    let mut cmd = String::from("X=aaaaaaaaaaaaaaaa");
    for _ in 0..40 {
        cmd.push_str("; X=$X$X");
    }
    cmd.push_str("; echo $X");
    let started = std::time::Instant::now();
    let reason = shell(&cmd).expect("denied");
    assert!(reason.contains("budget"), "{reason}");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // Unknown values double their description, not the memory.
    let mut cmd = String::from("X=$(id)");
    for _ in 0..40 {
        cmd.push_str("; X=$X$X");
    }
    cmd.push_str("; rm -rf $X");
    let started = std::time::Instant::now();
    assert!(shell(&cmd).expect("denied").contains("cannot be resolved"));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}
