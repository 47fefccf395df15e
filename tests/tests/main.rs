//! The black-box suite as one test binary: each module below is one area of the contract users see
//! (REST, the CLI, the control port, processes, plugins, ...), driving the real `tend` binary through the
//! harness in `tests/src`. One binary instead of one per file, so the suite links once (like pueue's
//! `tests/`); `autotests = false` in `tests/Cargo.toml` means a new file here is compiled only once it
//! has a `mod` line below, and `cargo xtask tidy` fails until it does.
//!
//! Run one area with `cargo test -p tend-tests -- cron::` (test names are `<module>::<test>`).

mod agent;
mod aot;
mod api;
mod bounds;
mod caddy;
mod caddy_tls;
mod chat;
mod chat_edges;
mod cli;
mod compat;
mod compat_env;
mod compat_routes;
mod config;
mod containment;
mod control;
mod cron;
mod custom_restart;
mod dashboard_api;
mod dashboard_assets;
mod dashboard_auth;
mod datadir;
mod deps;
mod deps_errors;
mod diskfull;
mod durability;
mod errors;
mod events;
mod export;
mod export_k8s;
mod export_nomad;
mod fix_agent;
mod fix_apply;
mod fix_limits;
mod fix_llama;
mod fix_model;
mod fix_modes;
mod fix_restore;
mod fix_rules;
mod health;
mod import;
mod lifecycle;
mod llm_gateway;
mod llm_gateway_anthropic;
mod llm_gateway_errors;
mod llm_gateway_usage;
mod llm_llama;
mod logs;
mod metrics;
mod onboard_apply;
mod onboard_errors;
mod onboard_goldens;
mod onboard_llm;
mod onboard_secret;
mod onboard_smoke;
mod openapi;
mod openapi_fuzz;
mod persistence;
mod plugin_python;
mod plugin_reach;
mod plugins;
mod policy;
mod policy_table;
mod promtool;
mod races;
mod sd_notify;
mod starvation;
mod stop;
mod wit_versions;
