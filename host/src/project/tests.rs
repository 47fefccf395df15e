//! The jail, the caps and the redaction, on real temporary directories with real symlinks.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::*;

struct Tree {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

impl Tree {
    fn new() -> Tree {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("project");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.txt"), "outside\n").unwrap();
        Tree {
            _tmp: tmp,
            root,
            outside,
        }
    }

    fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> &Tree {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
        self
    }

    fn link(&self, target: impl AsRef<Path>, rel: &str) -> &Tree {
        symlink(target, self.root.join(rel)).unwrap();
        self
    }

    fn project(&self) -> Project {
        Project::new(&self.root)
    }
}

fn denied<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Err(Error::Denied(m)) => m,
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[test]
fn lexical_rules_refuse_dotdot_absolute_and_nul() {
    let t = Tree::new();
    t.write("app.py", "x");
    let p = t.project();
    for path in [
        "..",
        "../outside/secret.txt",
        "src/../app.py",
        "a/b/../../..",
    ] {
        assert!(denied(p.read_file(path, 0)).contains("`..`"), "{path}");
    }
    assert!(denied(p.read_file("/etc/passwd", 0)).contains("is absolute"));
    assert!(denied(p.list_dir("/", 1)).contains("is absolute"));
    assert!(denied(p.grep("x", "/tmp", 0)).contains("is absolute"));
    assert!(denied(p.read_file("app.py\0", 0)).contains("NUL"));
    // Harmless spellings of a path inside the root.
    assert_eq!(p.read_file("./app.py", 0).unwrap().path, "app.py");
    assert!(p.read_file("src/.//../app.py", 0).is_err());
    assert_eq!(p.read_file(".//app.py", 0).unwrap().path, "app.py");
}

#[test]
fn symlinks_may_not_lead_outside_but_may_stay_inside() {
    let t = Tree::new();
    t.write("app.py", "inside\n")
        .link(&t.outside, "out-dir")
        .link(t.outside.join("secret.txt"), "out-file")
        .link("../outside/secret.txt", "out-relative")
        .link("app.py", "in-file")
        .link("src", "in-dir")
        .link(t.outside.join("missing"), "out-dangling")
        .link("nowhere", "in-dangling");
    t.write("src/lib.py", "lib\n");
    let p = t.project();
    for path in ["out-dir/secret.txt", "out-file", "out-relative", "out-dir"] {
        assert!(
            denied(p.read_file(path, 0)).contains("outside the project root through a symlink"),
            "{path}"
        );
    }
    assert!(denied(p.list_dir("out-dir", 1)).contains("symlink"));
    assert!(denied(p.grep("o", "out-dir", 0)).contains("symlink"));
    assert!(
        denied(p.read_file("out-dir/not-there", 0)).contains("symlink"),
        "a missing file behind an escape is still an escape, not a not-found"
    );
    assert_eq!(p.read_file("in-file", 0).unwrap().content, "inside\n");
    assert_eq!(p.read_file("in-dir/lib.py", 0).unwrap().content, "lib\n");
    assert_eq!(p.list_dir("in-dir", 1).unwrap()[0].path, "in-dir/lib.py");
    assert!(matches!(
        p.read_file("in-dangling", 0),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        p.read_file("out-dangling", 0),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        p.read_file("src/nope", 0),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn a_root_that_is_a_symlink_is_resolved_first() {
    let t = Tree::new();
    t.write("app.py", "x");
    let alias = t.root.parent().unwrap().join("alias");
    symlink(&t.root, &alias).unwrap();
    let p = Project::new(&alias);
    assert_eq!(p.read_file("app.py", 0).unwrap().content, "x");
    assert!(matches!(
        Project::new(&t.root.join("gone")).list_dir("", 1),
        Err(Error::NotFound(m)) if m.contains("does not exist")
    ));
    assert!(matches!(
        Project::new(&t.root.join("app.py")).list_dir("", 1),
        Err(Error::NotFound(m)) if m.contains("not a directory")
    ));
}

#[test]
fn read_file_hashes_everything_and_caps_the_content() {
    let t = Tree::new();
    let big: Vec<u8> = (0..300 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    t.write("big.txt", &big)
        .write("bin.dat", [0xff, 0xfe, 0x00, 0x41])
        .write("utf8.txt", "héllo");
    std::fs::set_permissions(
        t.root.join("bin.dat"),
        std::fs::Permissions::from_mode(0o744),
    )
    .unwrap();
    let p = t.project();
    let f = p.read_file("big.txt", 0).unwrap();
    assert_eq!(f.sha256, format!("{:x}", Sha256::digest(&big)));
    assert_eq!(
        (f.size, f.content.len(), f.truncated),
        (big.len() as u64, 256 * 1024, true)
    );
    let f = p.read_file("big.txt", u32::MAX).unwrap();
    assert_eq!(
        f.content.len(),
        MAX_READ_BYTES as usize,
        "capped by the host"
    );
    let f = p.read_file("big.txt", 10).unwrap();
    assert_eq!((f.content.as_str(), f.truncated), ("abcdefghij", true));

    let f = p.read_file("bin.dat", 0).unwrap();
    assert!(f.binary && f.executable && !f.truncated);
    assert_eq!(f.content, "\u{fffd}\u{fffd}\u{0}A");
    // A cut through a character is not binary data: the partial character is dropped.
    let f = p.read_file("utf8.txt", 2).unwrap();
    assert_eq!(
        (f.content.as_str(), f.binary, f.truncated),
        ("h", false, true)
    );
    assert_eq!(p.read_file("utf8.txt", 0).unwrap().content, "héllo");

    assert!(matches!(p.read_file("src", 0), Err(Error::Invalid(m)) if m.contains("directory")));
}

#[test]
fn env_files_are_redacted_and_templates_are_not() {
    let env = "# comment\n\nexport API_KEY=abc123\nDEBUG = true  \nEMPTY=\nMULTI=\"line1\nline2 = x\nend\"\nAFTER=1\ngarbage line\r\nCRLF=v\r\n";
    let t = Tree::new();
    t.write(".env", env)
        .write("config/.env.production", "DB=secret\n")
        .write("prod.env", "DB=secret\n")
        .write(".env.example", "DB=postgres://localhost/dev\n")
        .write("notenv.txt", "DB=visible\n")
        .link(".env", "settings");
    let p = t.project();
    let f = p.read_file(".env", 0).unwrap();
    assert_eq!(
        f.content,
        "# comment\n\nexport API_KEY=<redacted>\nDEBUG = <redacted>\nEMPTY=\nMULTI=<redacted>\n<redacted>\n<redacted>\nAFTER=<redacted>\n<redacted>\r\nCRLF=<redacted>\r\n"
    );
    assert!(f.redacted);
    assert_eq!(f.sha256, format!("{:x}", Sha256::digest(env.as_bytes())));
    for path in ["config/.env.production", "prod.env"] {
        assert_eq!(
            p.read_file(path, 0).unwrap().content,
            "DB=<redacted>\n",
            "{path}"
        );
    }
    assert_eq!(
        p.read_file("settings", 0).unwrap().content.lines().nth(2),
        Some("export API_KEY=<redacted>"),
        "a link to a .env file is redacted too"
    );
    let example = p.read_file(".env.example", 0).unwrap();
    assert_eq!(
        (example.content.as_str(), example.redacted),
        ("DB=postgres://localhost/dev\n", false)
    );
    assert!(!p.read_file("notenv.txt", 0).unwrap().redacted);
    // grep matches the redacted text: a pattern cannot probe a value.
    assert_eq!(p.grep("abc123", "", 0).unwrap(), []);
    assert_eq!(p.grep("secret", "", 0).unwrap(), []);
    assert_eq!(
        p.grep("API_KEY", ".env", 0).unwrap(),
        [GrepMatch {
            path: ".env".into(),
            line: 3,
            text: "export API_KEY=<redacted>".into()
        }]
    );
}

#[test]
fn list_dir_sorts_bounds_and_skips_dependency_dirs() {
    let t = Tree::new();
    t.write("b.py", "")
        .write("a/z.py", "")
        .write("a/deep/x.py", "")
        .write(".git/HEAD", "")
        .write("node_modules/m/index.js", "")
        .write("target/debug/x", "")
        .write("__pycache__/m.pyc", "")
        .write("env/pyvenv.cfg", "")
        .write("env/lib/site.py", "")
        .write(".venv/lib/site.py", "");
    let p = t.project();
    let paths = |depth| -> Vec<String> {
        p.list_dir(".", depth)
            .unwrap()
            .into_iter()
            .map(|e| e.path)
            .collect()
    };
    assert_eq!(
        paths(1),
        [
            ".git",
            ".venv",
            "__pycache__",
            "a",
            "b.py",
            "env",
            "node_modules",
            "src",
            "target"
        ]
    );
    assert_eq!(paths(0), paths(1), "depth 0 counts as 1");
    assert_eq!(
        paths(5),
        [
            ".git",
            ".venv",
            "__pycache__",
            "a",
            "a/deep",
            "a/deep/x.py",
            "a/z.py",
            "b.py",
            "env",
            "node_modules",
            "src",
            "target"
        ]
    );
    assert_eq!(
        p.list_dir("a", 1)
            .unwrap()
            .iter()
            .map(|e| e.path.as_str())
            .collect::<Vec<_>>(),
        ["a/deep", "a/z.py"]
    );
    assert!(matches!(p.list_dir("b.py", 1), Err(Error::Invalid(_))));

    for i in 0..=MAX_ENTRIES {
        t.write(&format!("many/f{i:04}"), "");
    }
    assert!(matches!(p.list_dir("many", 1), Err(Error::TooLarge(m)) if m.contains("2000")));
    assert!(matches!(
        p.list_dir("many/f0001", 1),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn grep_caps_matches_and_lines_and_skips_binary_files() {
    let t = Tree::new();
    let long = format!("needle {}\n", "x".repeat(1000));
    t.write("long.txt", &long)
        .write("bin.dat", b"needle\xff\xfe\n")
        .write("node_modules/dep/needle.js", "needle\n")
        .write("many.txt", "needle\n".repeat(600));
    let p = t.project();
    let long_hit = p.grep("needle", "long.txt", 0).unwrap();
    assert_eq!(long_hit[0].text.chars().count(), MAX_LINE_CHARS);
    let all = p.grep("needle", "", 0).unwrap();
    assert_eq!(all.len(), MAX_MATCHES as usize, "capped");
    assert!(
        all.iter()
            .all(|m| m.path != "bin.dat" && !m.path.starts_with("node_modules"))
    );
    assert_eq!(all[0].path, "long.txt");
    assert_eq!((all[1].path.as_str(), all[1].line), ("many.txt", 1));
    assert_eq!(p.grep("needle", "many.txt", 3).unwrap().len(), 3);
    assert!(matches!(p.grep("(", "", 0), Err(Error::Invalid(m)) if m.contains("pattern")));
    assert!(matches!(p.grep("x", "nope", 0), Err(Error::NotFound(_))));
}

#[test]
fn opening_checks_again_where_the_file_really_is() {
    // As if `app.py` had been swapped for a link after `resolve` checked it.
    let t = Tree::new();
    t.write("app.py", "x")
        .link(t.outside.join("secret.txt"), "swapped");
    let root = t.root.canonicalize().unwrap();
    assert!(super::jail::open(&root, &root.join("app.py"), "app.py").is_ok());
    assert!(denied(super::jail::open(&root, &root.join("swapped"), "swapped")).contains("symlink"));
}
