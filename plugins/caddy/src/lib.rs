//! tend's built-in `caddy` plugin (world `proxy-config`): turns the exposed services into the routes
//! tend owns in Caddy, as Caddy JSON (one route group the host tags `@id: tend-routes`, the server
//! to create when none listens on the port, a TLS policy for `internal`), plus a Caddyfile rendering
//! of the same routes for people to read. Pure: no host imports beyond `log`, equal inputs give
//! byte-equal outputs.
//!
//! `plan` decides the routes (and rejects conflicts), `json` and `caddyfile` render them.

// Generated code: the canonical ABI passes flattened records as many arguments.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({
    world: "proxy-config",
    path: "../../wit",
});

mod caddyfile;
mod json;
mod plan;

use tend::plugin::log::log;
use tend::plugin::types::Level;

struct Caddy;

impl Guest for Caddy {
    fn generate(services: Vec<ExposedService>, settings: Settings) -> Result<Generated, String> {
        let settings = plan::Config::parse(&settings.json)?;
        let routes = plan::plan(&services, &settings)?;
        let config = json::render(&routes, &settings);
        log(
            Level::Debug,
            &format!("{} routes for {} services", routes.len(), services.len()),
        );
        Ok(Generated {
            config_json: config.to_string(),
            rendered: caddyfile::render(&routes, &settings),
        })
    }
}

export!(Caddy);
