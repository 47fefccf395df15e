//! The Rust, Go, Ruby and static-site detectors over in-memory projects.

use super::*;
use crate::detect::{go, ruby, rust, static_site};

const RUST_SERVER: &str =
    "fn main() { let l = std::net::TcpListener::bind(std::env::var(\"PORT\").unwrap()); }\n";

#[test]
fn rust_one_binary_without_a_port_is_a_process_at_low_confidence() {
    let p = Mem::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"tool\" # the name\nversion = \"0.1.0\"\n",
        ),
        ("src/main.rs", "fn main() { println!(\"hi\"); }\n"),
    ]);
    let d = run(rust::detect, &p, "");
    assert_eq!(d.source, "rust");
    assert_eq!(commands(&d), ["cargo build --release"]);
    assert_eq!(d.services.len(), 1);
    let s = &d.services[0];
    assert_eq!(s.process, "");
    assert_eq!(s.argv, argv(&["target/release/tool"]));
    assert!(!s.listens && s.env.is_empty());
    assert_eq!(s.confidence, 0.5);
    assert_eq!(paths(&d, 0), ["src/main.rs"]);
    assert!(
        noted(&d, "binary `tool` (src/main.rs) mentions no port"),
        "{:?}",
        d.notes
    );
}

#[test]
fn rust_bins_default_run_first_and_each_listens_only_when_its_source_says() {
    let p = Mem::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"shop\"\ndefault-run = \"web\"\n\n[[bin]]\nname = \"web\"\npath = \"src/main.rs\"\n\n[dependencies]\nserde = { version = \"1\" }\n",
        ),
        ("src/main.rs", RUST_SERVER),
        ("src/bin/admin.rs", "fn main() {}\n"),
        ("src/bin/sync/main.rs", "fn main() {}\n"),
        ("src/lib.rs", "pub const PORT: u16 = 1;\n"),
    ]);
    let d = run(rust::detect, &p, "");
    let names: Vec<&str> = d.services.iter().map(|s| s.process.as_str()).collect();
    assert_eq!(names, ["web", "admin", "sync"]);
    let web = &d.services[0];
    assert_eq!(web.argv, argv(&["target/release/web"]));
    assert!(web.listens);
    assert_eq!(web.env.get("PORT").map(String::as_str), Some("{port}"));
    assert_eq!(web.confidence, 0.8);
    assert_eq!(paths(&d, 0), ["Cargo.toml", "Cargo.toml", "src/main.rs"]);
    assert_eq!(web.evidence[1].reason, "default-run = `web`");
    // The others' own sources mention no port (the library's `PORT` is not theirs).
    assert!(!d.services[1].listens && !d.services[2].listens);
    assert_eq!(d.services[1].confidence, 0.4);
    assert_eq!(paths(&d, 2), ["src/bin/sync/main.rs"]);
}

#[test]
fn rust_workspace_root_plans_its_members_binaries_and_members_plan_nothing() {
    let p = Mem::new(&[
        (
            "Cargo.toml",
            "[workspace]\nresolver = \"2\"\nmembers = [\n  \"crates/*\",\n  \"tools/cli\", # the CLI\n]\nexclude = [\"crates/old\"]\n",
        ),
        ("crates/api/Cargo.toml", "[package]\nname = \"api\"\n"),
        ("crates/api/src/main.rs", RUST_SERVER),
        ("crates/core/Cargo.toml", "[package]\nname = \"core\"\n"),
        ("crates/core/src/lib.rs", "\n"),
        ("crates/old/Cargo.toml", "[package]\nname = \"old\"\n"),
        ("crates/old/src/main.rs", "fn main() {}\n"),
        ("tools/cli/Cargo.toml", "[package]\nname = \"cli\"\n"),
        ("tools/cli/src/main.rs", "fn main() {}\n"),
    ]);
    let d = run(rust::detect, &p, "");
    assert_eq!(commands(&d), ["cargo build --release --workspace"]);
    assert_eq!(d.setup[0].working_dir, "");
    let got: Vec<(&str, &Vec<String>, &str, bool)> = d
        .services
        .iter()
        .map(|s| {
            (
                s.process.as_str(),
                &s.argv,
                s.working_dir.as_str(),
                s.listens,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("api", &argv(&["target/release/api"]), "", true),
            ("cli", &argv(&["target/release/cli"]), "", false),
        ]
    );
    assert_eq!(d.evidence[0].reason, "a Cargo workspace of 3 members");
    let member = run(rust::detect, &p, "crates/api");
    assert!(member.services.is_empty() && member.setup.is_empty());
    assert!(
        noted(&member, "member of the workspace Cargo.toml"),
        "{:?}",
        member.notes
    );
    // Excluded from the workspace: a project of its own.
    assert_eq!(run(rust::detect, &p, "crates/old").services.len(), 1);
}

#[test]
fn rust_library_plans_nothing() {
    let p = Mem::new(&[
        ("Cargo.toml", "[package]\nname = \"lib\"\n"),
        ("src/lib.rs", "\n"),
    ]);
    let d = run(rust::detect, &p, "");
    assert!(d.services.is_empty() && d.setup.is_empty());
    assert!(noted(&d, "no binary target"), "{:?}", d.notes);
}

#[test]
fn go_one_service_per_cmd_built_into_bin() {
    let p = Mem::new(&[
        ("go.mod", "module github.com/acme/shop\n\ngo 1.22\n"),
        (
            "cmd/api/main.go",
            "package main\nfunc main() { http.ListenAndServe(\":\"+os.Getenv(\"PORT\"), nil) }\n",
        ),
        ("cmd/worker/main.go", "package main\nfunc main() {}\n"),
        ("cmd/README.md", "not a program"),
        ("cmd/lib/util.go", "package lib\n"),
    ]);
    let d = run(go::detect, &p, "");
    assert_eq!(d.source, "go");
    assert_eq!(
        commands(&d),
        [
            "go build -o bin/api ./cmd/api",
            "go build -o bin/worker ./cmd/worker"
        ]
    );
    let api = &d.services[0];
    assert_eq!(
        (api.process.as_str(), &api.argv),
        ("api", &argv(&["bin/api"]))
    );
    assert!(api.listens);
    assert_eq!(api.env.get("PORT").map(String::as_str), Some("{port}"));
    assert_eq!(paths(&d, 0), ["cmd/api/main.go", "cmd/api/main.go"]);
    let worker = &d.services[1];
    assert_eq!(worker.process, "worker");
    assert!(!worker.listens && worker.env.is_empty());
    assert_eq!(d.evidence[0].reason, "Go module `github.com/acme/shop`");
}

#[test]
fn go_main_at_the_top_is_named_after_the_module() {
    let p = Mem::new(&[
        ("svc/go.mod", "module github.com/acme/ledger/v2\n"),
        (
            "svc/main.go",
            "package main\nfunc main() { r.Run(\":8080\") }\n",
        ),
    ]);
    let d = run(go::detect, &p, "svc");
    assert_eq!(commands(&d), ["go build -o bin/ledger ."]);
    assert_eq!(d.setup[0].working_dir, "svc");
    assert_eq!(d.services[0].argv, argv(&["bin/ledger"]));
    assert_eq!(d.services[0].working_dir, "svc");
    assert_eq!(d.services[0].process, "");
    assert!(d.services[0].listens);
    let d = run(
        go::detect,
        &Mem::new(&[("go.mod", "module x\n"), ("x.go", "package x\n")]),
        "",
    );
    assert!(d.services.is_empty());
    assert!(noted(&d, "nothing to run"), "{:?}", d.notes);
}

#[test]
fn rails_serves_on_loopback_after_install_and_an_unsafe_migrate() {
    let p = Mem::new(&[
        (
            "Gemfile",
            "source \"https://rubygems.org\"\ngem \"rails\", \"~> 7.1\"\n",
        ),
        ("Gemfile.lock", "GEM\n"),
        ("config/application.rb", "module App; end\n"),
        (
            "config/routes.rb",
            "  get \"up\" => \"rails/health#show\", as: :rails_health_check\n",
        ),
        ("config.ru", "run Rails.application\n"),
        ("db/migrate/1_create.rb", "\n"),
    ]);
    let d = run(ruby::detect, &p, "");
    assert_eq!(d.source, "ruby");
    assert_eq!(
        commands(&d),
        ["bundle install", "bundle exec rails db:migrate"]
    );
    assert!(d.setup[0].is_safe);
    assert!(!d.setup[1].is_safe && !d.setup[1].allowed_in_production);
    assert_eq!(d.services.len(), 1);
    let s = &d.services[0];
    assert_eq!(
        s.argv,
        argv(&[
            "bundle",
            "exec",
            "rails",
            "server",
            "-b",
            "127.0.0.1",
            "-p",
            "{port}"
        ])
    );
    assert_eq!(s.health_path.as_deref(), Some("/up"));
    assert_eq!(paths(&d, 0), ["config/application.rb", "config/routes.rb"]);
    // No migrations, no migrate step; `bin/rails` alone says Rails too.
    let p = Mem::new(&[
        ("Gemfile", "gem 'rails'\n"),
        ("bin/rails", "#!/usr/bin/env ruby\n"),
    ]);
    let d = run(ruby::detect, &p, "");
    assert_eq!(commands(&d), ["bundle install"]);
    assert_eq!(d.services[0].health_path, None);
}

#[test]
fn rack_runs_under_puma_when_declared_else_rackup() {
    let p = Mem::new(&[
        ("Gemfile", "gem 'rack'\ngem 'puma', '~> 6'\n"),
        ("config.ru", "run App\n"),
    ]);
    let d = run(ruby::detect, &p, "");
    assert_eq!(
        d.services[0].argv,
        argv(&[
            "bundle",
            "exec",
            "puma",
            "-b",
            "tcp://127.0.0.1:{port}",
            "config.ru"
        ])
    );
    assert_eq!(paths(&d, 0), ["config.ru", "Gemfile"]);
    // `puma-status` is not puma.
    let p = Mem::new(&[
        ("Gemfile", "gem 'puma-status'\n"),
        ("config.ru", "run App\n"),
    ]);
    let d = run(ruby::detect, &p, "");
    assert_eq!(
        d.services[0].argv,
        argv(&[
            "bundle",
            "exec",
            "rackup",
            "-o",
            "127.0.0.1",
            "-p",
            "{port}",
            "config.ru"
        ])
    );
    assert!(
        noted(&d, "declares neither puma nor rackup"),
        "{:?}",
        d.notes
    );
}

#[test]
fn sidekiq_adds_a_worker_and_a_gemfile_alone_plans_nothing() {
    let p = Mem::new(&[
        ("Gemfile", "gem \"sinatra\"\ngem \"sidekiq\"\n"),
        ("config.ru", "run App\n"),
    ]);
    let d = run(ruby::detect, &p, "");
    let names: Vec<(&str, bool)> = d
        .services
        .iter()
        .map(|s| (s.process.as_str(), s.listens))
        .collect();
    assert_eq!(names, [("web", true), ("worker", false)]);
    assert_eq!(d.services[1].argv, argv(&["bundle", "exec", "sidekiq"]));
    let d = run(ruby::detect, &Mem::new(&[("Gemfile", "gem 'rake'\n")]), "");
    assert_eq!(d, Detected::default());
}

#[test]
fn static_site_at_the_top_or_in_a_site_directory() {
    let p = Mem::new(&[("index.html", "<h1>hi</h1>"), ("about.html", "")]);
    let d = run(static_site::detect, &p, "");
    assert_eq!(d.source, "static_site");
    let s = &d.services[0];
    assert_eq!(
        s.argv,
        argv(&[
            "python3",
            "-m",
            "http.server",
            "{port}",
            "--bind",
            "127.0.0.1",
            "--directory",
            "."
        ])
    );
    assert!(s.listens);
    assert_eq!(s.health_path.as_deref(), Some("/"));
    assert_eq!(paths(&d, 0), ["index.html"]);
    assert!(s.evidence[0].reason.contains("no server-side manifest"));
    let p = Mem::new(&[
        ("README.md", ""),
        ("build/index.html", ""),
        ("dist/index.html", ""),
    ]);
    let d = run(static_site::detect, &p, "");
    assert_eq!(d.services[0].argv.last().map(String::as_str), Some("dist"));
    assert_eq!(paths(&d, 0), ["dist/index.html"]);
    assert_eq!(d.services[0].confidence, 0.7);
}

#[test]
fn static_site_leaves_a_directory_with_a_manifest_alone() {
    let p = Mem::new(&[("index.html", ""), ("package.json", "{}")]);
    assert_eq!(run(static_site::detect, &p, ""), Detected::default());
    let p = Mem::new(&[("manage.py", ""), ("public/index.html", "")]);
    assert_eq!(run(static_site::detect, &p, ""), Detected::default());
}

#[test]
fn a_directory_without_their_manifests_gives_nothing_at_all() {
    // `plan` skips a detector whose answer is the default: no source, no note.
    let p = Mem::new(&[
        ("README.md", "# hi"),
        ("main.py", "print(1)\n"),
        ("src/main.rs", "fn main() {}\n"),
        ("cmd/api/main.go", "package main\n"),
        ("config/routes.rb", "\n"),
    ]);
    for detector in [rust::detect, go::detect, ruby::detect, static_site::detect] {
        assert_eq!(run(detector, &p, ""), Detected::default());
    }
}

#[test]
fn rust_a_bin_table_naming_the_package_is_src_main_rs_not_a_second_binary() {
    let p = Mem::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"tool\"\nautobins = true\n\n[[bin]]\nname = \"tool\"\n",
        ),
        ("src/main.rs", RUST_SERVER),
        ("src/bin/other.rs", "fn main() {}\n"),
    ]);
    let d = run(rust::detect, &p, "");
    let names: Vec<&str> = d.services.iter().map(|s| s.process.as_str()).collect();
    assert_eq!(names, ["other", "tool"]);
    assert!(d.services[1].listens, "src/main.rs is its source");
    assert_eq!(paths(&d, 1), ["Cargo.toml", "src/main.rs"]);
    // `autobins = false`: only the declared targets.
    let p = Mem::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"tool\"\nautobins = false\n",
        ),
        ("src/main.rs", RUST_SERVER),
    ]);
    assert!(run(rust::detect, &p, "").services.is_empty());
}
