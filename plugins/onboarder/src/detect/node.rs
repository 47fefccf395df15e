//! Node: `package.json` in the directory. The package manager comes from the lockfile (`pm`),
//! dependencies are installed only when some are declared (by the workspace root for a package of
//! a workspace), and the command is chosen in this order: Next (`next build` then `next start`), a
//! `start` script, Vite (`vite build` then `vite preview`: the `dev` server is not a production
//! server), `main` when it shows a server. A workspace root's packages are only listed in a note:
//! the monorepo walk of `plan` visits them.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Detected, Dir, Found, PORT};
use crate::model::{CommandType, Evidence, Setup};

mod pm;

use pm::{package_manager, workspace_root, workspaces};

/// Dependencies whose presence says the package serves HTTP.
const WEB_DEPS: &[&str] = &[
    "express",
    "fastify",
    "koa",
    "@hapi/hapi",
    "hapi",
    "@nestjs/core",
    "restify",
    "polka",
    "h3",
    "hono",
    "@remix-run/serve",
    "nuxt",
    "@sveltejs/kit",
    "astro",
    "socket.io",
];

/// Development servers a `start` script may run (they reload, and are not meant to be exposed).
const DEV_SERVERS: &[&str] = &[
    "react-scripts start",
    "vue-cli-service serve",
    "ng serve",
    "webpack serve",
    "webpack-dev-server",
    "nodemon",
];

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

fn step(dir: &Dir, command: String, reason: String, prod: bool, timeout_s: u32) -> Setup {
    Setup {
        command_type: CommandType::Exec,
        command,
        is_safe: true,
        allowed_in_production: prod,
        timeout_s: Some(timeout_s),
        reason,
        working_dir: dir.path.clone(),
    }
}

pub fn detect(dir: &Dir) -> Detected {
    let mut out = Detected {
        source: "node",
        ..Detected::default()
    };
    let manifest = dir.join("package.json");
    let Some(text) = dir.read("package.json") else {
        return Detected::default();
    };
    let pkg = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(pkg)) => pkg,
        Ok(_) => {
            out.notes
                .push(format!("{manifest} is not a JSON object: Node left out"));
            return out;
        }
        Err(e) => {
            out.notes
                .push(format!("{manifest} is not valid JSON ({e}): Node left out"));
            return out;
        }
    };
    let scripts = object(&pkg, "scripts");
    let script = |name: &str| scripts.get(name).and_then(Value::as_str);
    let deps: Vec<String> = ["dependencies", "devDependencies"]
        .iter()
        .flat_map(|k| object(&pkg, k).keys().cloned().collect::<Vec<_>>())
        .collect();
    let has_dep = |name: &str| deps.iter().any(|d| d == name);

    // A package of a workspace is installed, and its package manager chosen, at the workspace root.
    let ws_root = workspace_root(dir);
    let (pm, lockfile) = match &ws_root {
        Some(root) => {
            let root_dir = Dir {
                project: dir.project,
                path: root.clone(),
                entries: super::entries(dir.project, root),
            };
            let root_pkg = root_dir
                .read("package.json")
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default();
            // The root's own detection says the same about its lockfiles: only its evidence is kept.
            let mut seen = Detected::default();
            let (pm, lock) = package_manager(&root_dir, &root_pkg, &mut seen);
            out.evidence.extend(seen.evidence);
            out.notes.push(format!(
                "{} is a package of the workspace at {}: its dependencies are installed there",
                dir.path,
                if root.is_empty() {
                    "the project root"
                } else {
                    root
                }
            ));
            (pm, lock.map(|l| root_dir.join(&l)))
        }
        None => package_manager(dir, &pkg, &mut out),
    };
    let hoisted = ws_root.as_ref().map(|root| {
        let depth = dir.path.split('/').count() - root.split('/').filter(|c| !c.is_empty()).count();
        vec![".."; depth].join("/")
    });
    let hoisted = hoisted.as_deref();
    runtime_notes(dir, &pkg, &mut out);
    let declares_workspaces = workspaces(dir, &pkg, &mut out);

    // A workspace root installs for all its packages, whatever it declares itself.
    if ws_root.is_none() && (!deps.is_empty() || declares_workspaces) {
        let command = pm.install(lockfile.is_some()).to_string();
        let reason = match &lockfile {
            Some(l) => format!(
                "install the {} dependencies {manifest} declares, as {l} pins them",
                deps.len()
            ),
            None => format!(
                "install the {} dependencies {manifest} declares",
                deps.len()
            ),
        };
        // Fetches from the registry: not something to do unasked on a production host.
        out.setup.push(step(dir, command, reason, false, 600));
    }

    let mut env = BTreeMap::new();
    env.insert("PORT".to_string(), PORT.to_string());
    let mut evidence = vec![];
    if let Some(l) = &lockfile {
        let at = if ws_root.is_some() {
            l.clone()
        } else {
            dir.join(l)
        };
        evidence.push(Evidence::new(at, format!("{l}: {}", pm.name())));
    }
    let web = |confidence: f32, argv: Vec<String>, evidence: Vec<Evidence>| Found {
        argv,
        working_dir: dir.path.clone(),
        listens: true,
        env: env.clone(),
        health_path: Some("/".into()),
        confidence,
        evidence,
        ..Found::default()
    };

    let start = script("start");
    if has_dep("next") {
        evidence.push(Evidence::new(&manifest, "depends on `next`: a Next.js app"));
        let (build, why) = match script("build") {
            Some(b) => (pm.run("build").join(" "), format!("`build` script `{b}`")),
            None => (
                pm.exec("next", hoisted).join(" ") + " build",
                "`next build`".into(),
            ),
        };
        out.setup.push(step(
            dir,
            build,
            format!("build the Next.js app for `next start` ({why})"),
            true,
            900,
        ));
        let mut argv = pm.exec("next", hoisted);
        argv.extend(strings(&["start", "-p", PORT, "-H", "127.0.0.1"]));
        out.services.push(web(0.9, argv, evidence));
        return out;
    }
    let vite_start = start.is_some_and(|s| s.split_whitespace().any(|w| w == "vite"));
    if let Some(start) = start.filter(|_| !vite_start) {
        evidence.push(Evidence::new(
            &manifest,
            format!("scripts.start = `{start}`"),
        ));
        if pkg.contains_key("main") {
            out.notes.push(format!(
                "{manifest} has both `scripts.start` and `main`: the `start` script was chosen"
            ));
        }
        // `node [flags] <entry>`: the file that shows whether it serves HTTP.
        let entry = start
            .split_whitespace()
            .skip_while(|w| *w != "node" && *w != "nodemon")
            .skip(1)
            .find(|w| !w.starts_with('-'))
            .map(|w| w.trim_start_matches("./").to_string());
        // `node dist/index.js` with `dist/` not in the project: the build makes it.
        if let (Some(e), Some(b)) = (&entry, script("build"))
            && dir.project.read_file(&dir.join(e), 1).is_err()
        {
            out.setup.push(step(
                dir,
                pm.run("build").join(" "),
                format!("`start` runs {e}, which the `build` script (`{b}`) makes"),
                true,
                600,
            ));
        }
        let (serves, why) = serves_http(dir, entry.as_deref(), &deps);
        evidence.extend(why);
        let argv = pm.run("start");
        if let Some(dev) = DEV_SERVERS.iter().find(|d| start.contains(*d)) {
            // Still what the project says to run; a person should know it is not a production server.
            out.notes.push(format!(
                "{manifest}: `scripts.start` runs `{dev}`, a development server; planned as the project says, at low confidence"
            ));
            out.services.push(web(0.5, argv, evidence));
        } else if serves {
            out.services.push(web(0.85, argv, evidence));
        } else {
            out.notes.push(format!(
                "nothing in {manifest} or its entry file shows an HTTP server: the `start` script is assumed to listen on PORT"
            ));
            out.services.push(web(0.6, argv, evidence));
        }
        return out;
    }
    if has_dep("vite") {
        evidence.push(Evidence::new(&manifest, "depends on `vite`"));
        let (build, why) = match script("build") {
            Some(b) if b.contains("vite") => {
                (pm.run("build").join(" "), format!("`build` script `{b}`"))
            }
            _ => (
                pm.exec("vite", hoisted).join(" ") + " build",
                "`vite build`".into(),
            ),
        };
        out.setup.push(step(
            dir,
            build,
            format!("build the Vite app into dist/ for `vite preview` ({why})"),
            true,
            600,
        ));
        out.notes.push(match script("dev") {
            Some(dev) => format!(
                "{manifest}: `scripts.dev` (`{dev}`) is a development server and was not chosen; the service serves the production build with `vite preview`"
            ),
            None => format!(
                "{manifest}: Vite's dev server is not a production server; the service serves the production build with `vite preview`"
            ),
        });
        let mut argv = pm.exec("vite", hoisted);
        argv.extend(strings(&[
            "preview",
            "--port",
            PORT,
            "--host",
            "127.0.0.1",
            "--strictPort",
        ]));
        out.services.push(web(0.8, argv, evidence));
        return out;
    }
    if let Some(main) = pkg.get("main").and_then(Value::as_str) {
        evidence.push(Evidence::new(&manifest, format!("main = `{main}`")));
        let (serves, why) = serves_http(dir, Some(main), &deps);
        evidence.extend(why);
        let argv = vec!["node".to_string(), main.to_string()];
        if serves {
            out.services.push(web(0.75, argv, evidence));
        } else {
            // A package with only `main` and no sign of a server is most likely a library.
            out.notes.push(format!(
                "{manifest}: `main` ({main}) shows no HTTP server and there is no `start` script: not planned as a service"
            ));
        }
        return out;
    }
    if let Some(dev) = script("dev") {
        out.notes.push(format!(
            "{manifest} only has a `dev` script (`{dev}`), a development server: not planned as a service"
        ));
    }
    out
}

fn object<'a>(pkg: &'a Map<String, Value>, key: &str) -> &'a Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    pkg.get(key)
        .and_then(Value::as_object)
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// `engines.node` and `.nvmrc`: tend runs the `node` on its PATH, say which one the project wants.
fn runtime_notes(dir: &Dir, pkg: &Map<String, Value>, out: &mut Detected) {
    if let Some(v) = object(pkg, "engines").get("node").and_then(Value::as_str) {
        out.notes.push(format!(
            "{} asks for node `{v}` (engines.node): the service runs the `node` on tend's PATH",
            dir.join("package.json")
        ));
    }
    for f in [".nvmrc", ".node-version"] {
        if let Some(v) = dir.read(f) {
            let v = v.trim();
            if !v.is_empty() {
                out.notes.push(format!(
                    "{} asks for node `{v}`: the service runs the `node` on tend's PATH",
                    dir.join(f)
                ));
            }
        }
    }
}

/// Whether the package serves HTTP: a web framework among its dependencies, or its entry file
/// creating a server or reading `PORT`.
fn serves_http(dir: &Dir, entry: Option<&str>, deps: &[String]) -> (bool, Vec<Evidence>) {
    if let Some(d) = deps.iter().find(|d| WEB_DEPS.contains(&d.as_str())) {
        return (
            true,
            vec![Evidence::new(
                dir.join("package.json"),
                format!("depends on `{d}`, a web framework"),
            )],
        );
    }
    let Some(entry) = entry else {
        return (false, vec![]);
    };
    let entry = entry.trim_start_matches("./");
    let Some(src) = dir.read(entry) else {
        return (false, vec![]);
    };
    for needle in ["createServer", ".listen(", "process.env.PORT"] {
        if let Some(line) = src.lines().find(|l| l.contains(needle)) {
            return (
                true,
                vec![Evidence::new(
                    dir.join(entry),
                    format!("serves HTTP: `{}`", clip(line.trim())),
                )],
            );
        }
    }
    (false, vec![])
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}
