//! The Node detector over in-memory projects: the command chosen, the package manager, the setup
//! steps and the notes.

use super::*;
use crate::detect::node::detect;

const SERVER: &str =
    "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT);\n";

#[test]
fn a_start_script_without_dependencies_runs_with_npm_start_and_installs_nothing() {
    let p = Mem::new(&[
        (
            "package.json",
            r#"{"scripts": {"start": "node server.js"}}"#,
        ),
        ("server.js", SERVER),
    ]);
    let d = run(detect, &p, "");
    assert_eq!(d.source, "node");
    assert_eq!(d.services.len(), 1);
    let s = &d.services[0];
    assert_eq!(s.argv, argv(&["npm", "start"]));
    assert_eq!(s.working_dir, "");
    assert!(s.listens);
    assert_eq!(s.env.get("PORT").map(String::as_str), Some("{port}"));
    assert_eq!(s.health_path.as_deref(), Some("/"));
    assert_eq!(s.confidence, 0.85);
    assert_eq!(paths(&d, 0), ["package.json", "server.js"]);
    assert!(
        d.setup.is_empty(),
        "no dependencies, no install: {:?}",
        d.setup
    );
    assert!(noted(&d, "no lockfile: npm assumed"), "{:?}", d.notes);
}

#[test]
fn main_runs_with_node_and_dependencies_are_installed_without_a_lockfile() {
    let p = Mem::new(&[
        (
            "package.json",
            r#"{"main": "index.js", "dependencies": {"express": "^4"}}"#,
        ),
        ("index.js", "const app = require('express')();\n"),
    ]);
    let d = run(detect, &p, "");
    assert_eq!(d.services[0].argv, argv(&["node", "index.js"]));
    assert_eq!(d.services[0].confidence, 0.75);
    assert!(d.services[0].evidence[1].reason.contains("express"));
    assert_eq!(commands(&d), ["npm install"]);
    assert!(d.setup[0].is_safe && !d.setup[0].allowed_in_production);
}

#[test]
fn a_library_with_only_main_is_not_a_service() {
    let p = Mem::new(&[
        ("package.json", r#"{"name": "lib", "main": "lib/index.js"}"#),
        ("lib/index.js", "module.exports = (a, b) => a + b;\n"),
    ]);
    let d = run(detect, &p, "");
    assert!(d.services.is_empty());
    assert!(
        noted(&d, "`main` (lib/index.js) shows no HTTP server"),
        "{:?}",
        d.notes
    );
}

#[test]
fn with_both_start_and_main_the_start_script_wins_and_a_note_says_so() {
    let p = Mem::new(&[
        (
            "package.json",
            r#"{"main": "lib.js", "scripts": {"start": "node ./bin/www"}}"#,
        ),
        ("bin/www", SERVER),
    ]);
    let d = run(detect, &p, "");
    assert_eq!(d.services.len(), 1);
    assert_eq!(d.services[0].argv, argv(&["npm", "start"]));
    assert_eq!(paths(&d, 0), ["package.json", "bin/www"]);
    assert!(
        noted(&d, "both `scripts.start` and `main`"),
        "{:?}",
        d.notes
    );
}

#[test]
fn a_start_script_showing_no_server_is_planned_at_low_confidence() {
    let p = Mem::new(&[(
        "package.json",
        r#"{"scripts": {"start": "tsx src/app.ts"}}"#,
    )]);
    let d = run(detect, &p, "");
    assert_eq!(d.services[0].confidence, 0.6);
    assert!(noted(&d, "assumed to listen on PORT"), "{:?}", d.notes);
}

#[test]
fn the_lockfile_picks_the_package_manager_for_install_and_start() {
    let cases = [
        (
            "yarn.lock",
            "yarn install --frozen-lockfile",
            ["yarn", "run", "start"],
        ),
        (
            "pnpm-lock.yaml",
            "pnpm install --frozen-lockfile",
            ["pnpm", "run", "start"],
        ),
        (
            "bun.lockb",
            "bun install --frozen-lockfile",
            ["bun", "run", "start"],
        ),
        (
            "bun.lock",
            "bun install --frozen-lockfile",
            ["bun", "run", "start"],
        ),
    ];
    for (lock, install, start) in cases {
        let p = Mem::new(&[
            (
                "package.json",
                r#"{"scripts": {"start": "node s.js"}, "dependencies": {"koa": "2"}}"#,
            ),
            (lock, ""),
        ]);
        let d = run(detect, &p, "");
        assert_eq!(commands(&d), [install], "{lock}");
        assert_eq!(d.services[0].argv, argv(&start), "{lock}");
        assert_eq!(d.evidence[0].path, lock);
        assert!(d.notes.is_empty(), "{lock}: {:?}", d.notes);
    }
}

#[test]
fn several_lockfiles_give_a_note_and_package_manager_decides() {
    let pkg = r#"{"scripts": {"start": "node s.js"}, "dependencies": {"koa": "2"}}"#;
    let p = Mem::new(&[
        ("package.json", pkg),
        ("package-lock.json", "{}"),
        ("yarn.lock", ""),
    ]);
    let d = run(detect, &p, "");
    assert_eq!(commands(&d), ["npm ci"]);
    assert!(
        noted(
            &d,
            "several lockfiles (package-lock.json, yarn.lock): npm was chosen"
        ),
        "{:?}",
        d.notes
    );
    let declared = pkg.replace('{', r#"{"packageManager": "yarn@1.22.22", "#);
    let p = Mem::new(&[
        ("package.json", declared.as_str()),
        ("package-lock.json", "{}"),
        ("yarn.lock", ""),
    ]);
    let d = run(detect, &p, "");
    assert_eq!(commands(&d), ["yarn install --frozen-lockfile"]);
    assert!(noted(&d, "yarn was chosen from yarn.lock"), "{:?}", d.notes);
}

#[test]
fn next_builds_first_then_starts_on_the_port_bound_to_loopback() {
    let p = Mem::new(&[
        (
            "package.json",
            r#"{"scripts": {"dev": "next dev", "build": "next build", "start": "next start"},
                "dependencies": {"next": "14", "react": "18"}}"#,
        ),
        ("package-lock.json", "{}"),
    ]);
    let d = run(detect, &p, "");
    assert_eq!(commands(&d), ["npm ci", "npm run build"]);
    assert!(d.setup[1].allowed_in_production);
    let s = &d.services[0];
    assert_eq!(
        s.argv,
        argv(&[
            "node_modules/.bin/next",
            "start",
            "-p",
            "{port}",
            "-H",
            "127.0.0.1"
        ])
    );
    assert_eq!(s.env.get("PORT").map(String::as_str), Some("{port}"));
    assert_eq!(s.confidence, 0.9);
    assert_eq!(paths(&d, 0), ["package-lock.json", "package.json"]);
}

#[test]
fn vite_builds_and_previews_instead_of_the_dev_server() {
    let p = Mem::new(&[
        (
            "package.json",
            r#"{"scripts": {"dev": "vite", "build": "tsc && vite build"},
                "devDependencies": {"vite": "5"}}"#,
        ),
        ("pnpm-lock.yaml", "lockfileVersion: '9.0'\n"),
    ]);
    let d = run(detect, &p, "");
    assert_eq!(
        commands(&d),
        ["pnpm install --frozen-lockfile", "pnpm run build"]
    );
    let s = &d.services[0];
    assert_eq!(
        s.argv,
        argv(&[
            "node_modules/.bin/vite",
            "preview",
            "--port",
            "{port}",
            "--host",
            "127.0.0.1",
            "--strictPort"
        ])
    );
    assert!(noted(
        &d,
        "`scripts.dev` (`vite`) is a development server and was not chosen"
    ));
    // Without a build script mentioning vite, `vite build` itself.
    let p = Mem::new(&[("package.json", r#"{"devDependencies": {"vite": "5"}}"#)]);
    let d = run(detect, &p, "");
    assert_eq!(
        commands(&d),
        ["npm install", "node_modules/.bin/vite build"]
    );
}

#[test]
fn only_a_dev_script_plans_nothing_and_says_why() {
    let p = Mem::new(&[("package.json", r#"{"scripts": {"dev": "nodemon app.js"}}"#)]);
    let d = run(detect, &p, "");
    assert!(d.services.is_empty());
    assert!(noted(&d, "only has a `dev` script"), "{:?}", d.notes);
}

#[test]
fn workspaces_are_listed_in_a_note() {
    let p = Mem::new(&[
        (
            "package.json",
            r#"{"private": true, "workspaces": ["apps/*", "tools/cli"]}"#,
        ),
        ("apps/web/package.json", "{}"),
        ("apps/api/package.json", "{}"),
        ("apps/notes/README.md", "not a package"),
        ("tools/cli/package.json", "{}"),
    ]);
    let d = run(detect, &p, "");
    assert!(d.services.is_empty());
    assert!(
        noted(
            &d,
            "declares workspaces (apps/*, tools/cli): packages apps/api, apps/web, tools/cli"
        ),
        "{:?}",
        d.notes
    );
    let p = Mem::new(&[
        ("package.json", r#"{"private": true}"#),
        (
            "pnpm-workspace.yaml",
            "packages:\n  - 'packages/*'\n\nonlyBuiltDependencies:\n  - esbuild\n",
        ),
        ("pnpm-lock.yaml", ""),
        ("packages/ui/package.json", "{}"),
    ]);
    let d = run(detect, &p, "");
    assert!(
        noted(
            &d,
            "pnpm-workspace.yaml declares workspaces (packages/*): packages packages/ui"
        ),
        "{:?}",
        d.notes
    );
}

#[test]
fn engines_and_nvmrc_are_noted() {
    let p = Mem::new(&[
        (
            "package.json",
            r#"{"engines": {"node": ">=20"}, "scripts": {"start": "node s.js"}}"#,
        ),
        (".nvmrc", "20.11\n"),
    ]);
    let d = run(detect, &p, "");
    assert!(noted(&d, "node `>=20` (engines.node)"), "{:?}", d.notes);
    assert!(noted(&d, ".nvmrc asks for node `20.11`"), "{:?}", d.notes);
}

#[test]
fn a_package_in_a_subdirectory_runs_and_installs_there() {
    let p = Mem::new(&[
        (
            "web/package.json",
            r#"{"scripts": {"start": "node server.js"}, "dependencies": {"fastify": "4"}}"#,
        ),
        ("web/package-lock.json", "{}"),
    ]);
    let d = run(detect, &p, "web");
    assert_eq!(d.services[0].working_dir, "web");
    assert_eq!(d.setup[0].working_dir, "web");
    assert_eq!(commands(&d), ["npm ci"]);
    assert_eq!(
        paths(&d, 0),
        [
            "web/package-lock.json",
            "web/package.json",
            "web/package.json"
        ]
    );
}

#[test]
fn invalid_json_or_no_manifest_plans_nothing() {
    let d = run(detect, &Mem::new(&[("package.json", "{ not json")]), "");
    assert!(d.services.is_empty() && d.setup.is_empty());
    assert!(noted(&d, "package.json is not valid JSON"), "{:?}", d.notes);
    let d = run(detect, &Mem::new(&[("index.js", SERVER)]), "");
    assert_eq!(d, Detected::default());
}

#[test]
fn a_start_script_running_build_output_builds_first() {
    let p = Mem::new(&[
        (
            "package.json",
            r#"{"scripts": {"build": "tsc", "start": "node --enable-source-maps ./dist/main.js"},
                "devDependencies": {"typescript": "5"}}"#,
        ),
        ("yarn.lock", ""),
        ("src/main.ts", "createServer().listen(PORT)\n"),
    ]);
    let d = run(detect, &p, "");
    assert_eq!(
        commands(&d),
        ["yarn install --frozen-lockfile", "yarn run build"]
    );
    assert!(
        d.setup[1].reason.contains("runs dist/main.js"),
        "{:?}",
        d.setup[1]
    );
    assert_eq!(d.services[0].argv, argv(&["yarn", "run", "start"]));
    // With the entry present, nothing is built.
    let p = Mem::new(&[
        (
            "package.json",
            r#"{"scripts": {"build": "tsc", "start": "node --enable-source-maps ./dist/main.js"}}"#,
        ),
        ("dist/main.js", SERVER),
    ]);
    let d = run(detect, &p, "");
    assert!(d.setup.is_empty(), "{:?}", d.setup);
    assert_eq!(paths(&d, 0), ["package.json", "dist/main.js"]);
}

#[test]
fn yarn_runs_installed_binaries_through_yarn() {
    let p = Mem::new(&[
        ("package.json", r#"{"devDependencies": {"vite": "5"}}"#),
        ("yarn.lock", ""),
    ]);
    let d = run(detect, &p, "");
    assert_eq!(
        commands(&d),
        ["yarn install --frozen-lockfile", "yarn vite build"]
    );
    assert_eq!(
        d.services[0].argv,
        argv(&[
            "yarn",
            "vite",
            "preview",
            "--port",
            "{port}",
            "--host",
            "127.0.0.1",
            "--strictPort"
        ])
    );
}

#[test]
fn a_workspace_package_is_installed_from_the_root_and_uses_its_hoisted_binaries() {
    let p = Mem::new(&[
        (
            "package.json",
            r#"{"private": true, "workspaces": ["apps/*"]}"#,
        ),
        ("package-lock.json", "{}"),
        (
            "apps/web/package.json",
            r#"{"scripts": {"build": "next build"}, "dependencies": {"next": "14"}}"#,
        ),
    ]);
    let root = run(detect, &p, "");
    assert_eq!(
        commands(&root),
        ["npm ci"],
        "the root installs for its packages"
    );
    assert!(root.services.is_empty());
    let d = run(detect, &p, "apps/web");
    assert_eq!(commands(&d), ["npm run build"]);
    assert_eq!(d.setup[0].working_dir, "apps/web");
    assert_eq!(
        d.services[0].argv,
        argv(&[
            "../../node_modules/.bin/next",
            "start",
            "-p",
            "{port}",
            "-H",
            "127.0.0.1"
        ])
    );
    assert_eq!(paths(&d, 0), ["package-lock.json", "apps/web/package.json"]);
    assert!(
        noted(
            &d,
            "apps/web is a package of the workspace at the project root"
        ),
        "{:?}",
        d.notes
    );
    // pnpm links the binaries into each package.
    let p = Mem::new(&[
        ("pnpm-workspace.yaml", "packages:\n  - apps/*\n"),
        ("pnpm-lock.yaml", ""),
        (
            "apps/ui/package.json",
            r#"{"devDependencies": {"vite": "5"}}"#,
        ),
    ]);
    let d = run(detect, &p, "apps/ui");
    assert_eq!(commands(&d), ["node_modules/.bin/vite build"]);
    assert_eq!(d.services[0].argv[0], "node_modules/.bin/vite");
}

#[test]
fn a_start_script_running_a_dev_server_is_kept_at_low_confidence_with_a_note() {
    let p = Mem::new(&[(
        "package.json",
        r#"{"scripts": {"start": "react-scripts start"}, "dependencies": {"react-scripts": "5"}}"#,
    )]);
    let d = run(detect, &p, "");
    assert_eq!(d.services[0].argv, argv(&["npm", "start"]));
    assert_eq!(d.services[0].confidence, 0.5);
    assert!(
        noted(&d, "runs `react-scripts start`, a development server"),
        "{:?}",
        d.notes
    );
}
