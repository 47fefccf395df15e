//! Ruby: Rails (`config/application.rb` or `bin/rails`) runs `rails server` bound to 127.0.0.1 on
//! the given port; any other Rack app (`config.ru`) runs under puma when the Gemfile declares it,
//! else `rackup`. `bundle install` is a setup step when there is a Gemfile, and Rails'
//! `db:migrate` one (not safe: it changes the database) when `db/migrate` exists. A `sidekiq` gem
//! adds a worker.

use std::collections::BTreeMap;

use super::{Detected, Dir, Found, PORT};
use crate::model::{CommandType, Evidence, Setup};

fn step(dir: &Dir, command: &str, reason: String, safe: bool, timeout_s: u32) -> Setup {
    Setup {
        command_type: CommandType::Exec,
        command: command.into(),
        is_safe: safe,
        // Installing fetches gems, migrating changes the database: both asked about in production.
        allowed_in_production: false,
        timeout_s: Some(timeout_s),
        reason,
        working_dir: dir.path.clone(),
    }
}

/// Whether the Gemfile declares `gem "<name>"`.
fn declares(gemfile: &str, name: &str) -> bool {
    gemfile.lines().any(|l| {
        let l = l.trim();
        l.strip_prefix("gem ")
            .map(|rest| rest.trim_start().trim_start_matches(['"', '\'']))
            .is_some_and(|rest| {
                rest.strip_prefix(name)
                    .is_some_and(|after| after.starts_with(['"', '\'']))
            })
    })
}

pub fn detect(dir: &Dir) -> Detected {
    let mut out = Detected {
        source: "ruby",
        ..Detected::default()
    };
    // The directory's listing first: a read costs a host call in every directory walked.
    let rails_marker = [("config", "config/application.rb"), ("bin", "bin/rails")]
        .into_iter()
        .find(|(d, f)| dir.has_dir(d) && dir.project.read_file(&dir.join(f), 1).is_ok())
        .map(|(_, f)| f);
    let rack = dir.has("config.ru");
    if rails_marker.is_none() && !rack {
        return Detected::default();
    }
    let gemfile = dir.read("Gemfile");
    let gems = gemfile.as_deref().unwrap_or("");
    let mut env = BTreeMap::new();
    env.insert("PORT".to_string(), PORT.to_string());

    if gemfile.is_some() {
        out.evidence.push(Evidence::new(
            dir.join("Gemfile"),
            "a Ruby project (Bundler)",
        ));
        let lock = if dir.has("Gemfile.lock") {
            ", as Gemfile.lock pins them"
        } else {
            ""
        };
        out.setup.push(step(
            dir,
            "bundle install",
            format!("install the gems {} declares{lock}", dir.join("Gemfile")),
            true,
            900,
        ));
    } else {
        out.notes.push(format!(
            "{} has no Gemfile: the gems it needs must already be installed",
            if dir.path.is_empty() {
                "the project"
            } else {
                &dir.path
            }
        ));
    }

    if let Some(marker) = rails_marker {
        let mut evidence = vec![Evidence::new(dir.join(marker), "a Rails app")];
        if dir.has_dir("db") && dir.project.list_dir(&dir.join("db/migrate"), 1).is_ok() {
            out.setup.push(step(
                dir,
                "bundle exec rails db:migrate",
                format!("apply the migrations of {}", dir.join("db/migrate")),
                false,
                600,
            ));
            out.evidence.push(Evidence::new(
                dir.join("db/migrate"),
                "migrations: `rails db:migrate` before starting",
            ));
        }
        // Rails 7.1 generates `get "up" => "rails/health#show"`: answers 200 when the app booted.
        let health = dir
            .read("config/routes.rb")
            .and_then(|r| {
                r.lines()
                    .find(|l| l.contains("rails/health#show"))
                    .map(str::to_string)
            })
            .and_then(|l| {
                let path = l
                    .split(['"', '\''])
                    .nth(1)?
                    .trim_start_matches('/')
                    .to_string();
                Some(format!("/{path}"))
            });
        if let Some(h) = &health {
            evidence.push(Evidence::new(
                dir.join("config/routes.rb"),
                format!("health check route `{h}`"),
            ));
        }
        out.notes.push(
            "Rails runs in its default environment (development) unless RAILS_ENV is set; production also needs SECRET_KEY_BASE and precompiled assets".into(),
        );
        out.services.push(Found {
            argv: [
                "bundle",
                "exec",
                "rails",
                "server",
                "-b",
                "127.0.0.1",
                "-p",
                PORT,
            ]
            .map(String::from)
            .to_vec(),
            working_dir: dir.path.clone(),
            listens: true,
            env: env.clone(),
            health_path: health,
            confidence: 0.9,
            evidence,
            ..Found::default()
        });
    } else {
        let mut evidence = vec![Evidence::new(dir.join("config.ru"), "a Rack app")];
        let argv = if declares(gems, "puma") {
            evidence.push(Evidence::new(dir.join("Gemfile"), "declares `puma`"));
            vec![
                "bundle".to_string(),
                "exec".into(),
                "puma".into(),
                "-b".into(),
                format!("tcp://127.0.0.1:{PORT}"),
                "config.ru".into(),
            ]
        } else {
            if gemfile.is_some() && !declares(gems, "rackup") {
                out.notes.push(format!(
                    "{} declares neither puma nor rackup: `rackup` comes from the rackup gem since Rack 3; add one of them if the command is not found",
                    dir.join("Gemfile")
                ));
            }
            [
                "bundle",
                "exec",
                "rackup",
                "-o",
                "127.0.0.1",
                "-p",
                PORT,
                "config.ru",
            ]
            .map(String::from)
            .to_vec()
        };
        out.services.push(Found {
            argv,
            working_dir: dir.path.clone(),
            listens: true,
            env: env.clone(),
            confidence: 0.8,
            evidence,
            ..Found::default()
        });
    }

    if declares(gems, "sidekiq") {
        out.services.push(Found {
            process: "worker".into(),
            argv: ["bundle", "exec", "sidekiq"].map(String::from).to_vec(),
            working_dir: dir.path.clone(),
            listens: false,
            confidence: 0.7,
            evidence: vec![Evidence::new(
                dir.join("Gemfile"),
                "declares `sidekiq`: a background worker",
            )],
            ..Found::default()
        });
        // The web process then needs a name of its own too.
        out.services[0].process = "web".into();
    }
    out
}
