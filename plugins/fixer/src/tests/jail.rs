//! Property: whatever the log says, every path a rule's edit names is relative, inside the project
//! (no `..`, not absolute) and not empty, and the model is never asked when a rule decides.

use proptest::prelude::*;

use super::fakes::*;
use crate::model::*;
use crate::rules::{self, Outcome};

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("..".to_string()),
        Just(".".to_string()),
        Just(String::new()),
        Just("srv".to_string()),
        Just("app".to_string()),
        Just("etc".to_string()),
        Just("logs".to_string()),
        Just("run.sh".to_string()),
        Just("x.log".to_string()),
        "[a-z]{1,4}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    (any::<bool>(), prop::collection::vec(segment(), 1..6)).prop_map(|(absolute, parts)| {
        format!("{}{}", if absolute { "/" } else { "" }, parts.join("/"))
    })
}

fn line() -> impl Strategy<Value = String> {
    (0..8usize, path()).prop_map(|(shape, p)| match shape {
        0 => format!("FileNotFoundError: [Errno 2] No such file or directory: '{p}'"),
        1 => format!("Error: ENOENT: no such file or directory, open '{p}'"),
        2 => format!("sh: 1: cannot create {p}: Directory nonexistent"),
        3 => format!("bash: {p}: Permission denied"),
        4 => format!("open {p}: no such file or directory"),
        5 => format!("PermissionError: [Errno 13] Permission denied: '{p}'"),
        6 => format!("{p}: line 1: {p}: No such file or directory"),
        _ => format!("KeyError: 'DATABASE_URL' {p}"),
    })
}

fn edit_path(e: &Edit) -> &str {
    match e {
        Edit::Replace { path, .. }
        | Edit::Create { path, .. }
        | Edit::SetExecutable { path, .. }
        | Edit::CreateDir(path) => path,
    }
}

proptest! {
    #[test]
    fn rule_edits_stay_inside_the_project(
        lines in prop::collection::vec(line(), 1..4),
        argv0 in path(),
        env_file in prop::option::of(path()),
    ) {
        let project = FakeProject::new()
            .script("run.sh", "#!/bin/sh\n", false)
            .script("srv/app/run.sh", "#!/bin/sh\n", false)
            .file(".env.example", "DATABASE_URL=sqlite:///x.db\n")
            .file("app/x.log", "")
            .dir("etc");
        let mut i = incident(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        i.argv = vec![argv0.clone()];
        i.command = argv0;
        i.exit_code = Some(126);
        i.env_file = env_file;
        if let Outcome::Decided(Answer::Fix(p)) = rules::run(&i, &project, &Lines::default()) {
            for e in &p.edits {
                let path = edit_path(e);
                prop_assert!(!path.is_empty(), "{e:?}");
                prop_assert!(!path.starts_with('/'), "{e:?}");
                prop_assert!(path.split('/').all(|c| !c.is_empty() && c != "." && c != ".."), "{e:?}");
            }
        }
    }
}
